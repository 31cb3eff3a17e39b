"""Straight-through processing (hub.domain.automation): the hub's own steps on an
application of a benefit the catalogue marks for automatic processing. Each step runs
in the transaction of what caused it (the case's creation, a register's answer), under
the hub's own identity, and is audited as such; a case that cannot go on falls out to
the back office with its reason, as an event and on the case."""
from __future__ import annotations

import datetime as dt

from hub.domain import commands as cmd
from hub.domain.audit import AuditEntry
from hub.domain import months as month_rules
from hub.domain.automation import (SYSTEM_CLIENT, Automation, AutomationFigures, Fallout, is_statement_fact, report,
                                   system_identity)
from hub.domain.errors import FailedPrecondition, HubError, Violations
from hub.domain.identity import Identity
from hub.domain.model import Case
from hub.domain.rules import facts as facts_rules
from hub.ports import INCOME_REGISTER, RENT_REGISTER
from hub.ports import messages as msg
from hub.service import decisions, hearings, intake, payments, rules
from hub.service.intake import fall_out
from hub.store.uow import UnitOfWork

def _audit(uow: UnitOfWork, case: Case, action: str, now: dt.datetime, note: str) -> None:
    uow.audit.add(AuditEntry(now, SYSTEM_CLIENT, "system", action, case.case_id, case.cpr, "OK", None, note))


def advance(uow: UnitOfWork, case: Case, now: dt.datetime) -> None:
    """A register answered on a case under automatic processing: ask the next registers,
    or, with everything there, calculate and decide."""
    if case.automation != Automation.IN_PROGRESS.value:
        return
    reg = facts_rules.registers(uow.information.for_case(case.case_id), case.cpr)
    if reg.person is None:
        return
    status = reg.person.get("status")
    if status != "alive":
        return fall_out(uow, case, Fallout.PERSON_STATUS, f"the CPR register gives the status {status}", now)
    waiting = False
    if case.benefit_code in intake.RENT_BENEFITS:
        if reg.dwelling is None:
            waiting = True
            intake.ask(uow, case, RENT_REGISTER, lambda _: msg.DwellingRequest(
                case_id=case.case_id, municipality_code=case.municipality_code,
                address_id=str(reg.person.get("address_id") or ""), requested_by=SYSTEM_CLIENT), now)
    n_months = intake.INCOME_BENEFITS.get(case.benefit_code)
    if n_months:
        months = facts_rules.income_window(case.received_at, n_months)
        for n, adult in enumerate(_adults_first(reg, case, months[0])):
            if facts_rules.income_of(reg, adult, months) is None:
                waiting = True
                register = INCOME_REGISTER if n == 0 else f"{INCOME_REGISTER}/{n + 1}"
                intake.ask(uow, case, register, lambda wanted, cpr=adult: msg.RegisterRequest(
                    register=INCOME_REGISTER, case_id=case.case_id, municipality_code=case.municipality_code,
                    cpr=cpr, months=wanted, requested_by=SYSTEM_CLIENT), now, months=months)
    if not waiting:
        decide(uow, case, now)


def _adults_first(reg: facts_rules.Registers, case: Case, month: str) -> list[str]:
    """The CPR numbers of the household's adults, the applicant first (their income
    look-ups are numbered in this order)."""
    y, m = map(int, month.split("-"))
    others = [p.cpr for p in reg.adults(dt.date(y, m, 1)) if p.cpr != case.cpr]
    return [case.cpr] + others


def register_failed(uow: UnitOfWork, case: Case, register: str, error: str, now: dt.datetime) -> None:
    """A register look-up became a dead letter (the register does not know the person or
    the dwelling, or answered nothing usable): a person takes the case over."""
    if case.automation == Automation.IN_PROGRESS.value:
        fall_out(uow, case, Fallout.MISSING_REGISTER_DATA, f"{register}: {error}", now)


def decide(uow: UnitOfWork, case: Case, now: dt.datetime) -> None:
    """Everything the rules need is there: a calculated draft, approved automatically
    where the rules allow it; else the reason a person must take over."""
    benefit = uow.catalogue.get(case.benefit_code)
    if benefit.discretion_possible:
        return fall_out(uow, case, Fallout.DISCRETION_NEEDED, "the benefit allows discretion", now)
    items = uow.information.for_case(case.case_id)
    found = facts_rules.contradictions(case, facts_rules.facts_of(case, items, now.date()))
    if found:
        return fall_out(uow, case, Fallout.STATEMENT_CONTRADICTS_REGISTER, "; ".join(found), now)
    if uow.cases.other_open(case.cpr, case.municipality_code, case.case_id):
        return fall_out(uow, case, Fallout.OTHER_OPEN_CASE, "the citizen has another open case at the municipality",
                        now)
    try:
        calculated = rules.draft_of(rules.calculate(uow, case))
    except FailedPrecondition as exc:
        if exc.reason == "FACTS_MISSING":
            names = exc.metadata.get("missing_facts", "").split(",")
            reason = (Fallout.APPLICATION_INCOMPLETE if all(is_statement_fact(n) for n in names)
                      else Fallout.MISSING_REGISTER_DATA)
        else:
            reason = Fallout.RULE_DATA_MISSING if exc.reason == "RULE_DATA_MISSING" else Fallout.NOT_CALCULABLE
        return fall_out(uow, case, reason, exc.message, now)
    if calculated.assessment:
        return fall_out(uow, case, Fallout.DISCRETION_NEEDED, "; ".join(calculated.assessment), now)
    try:  # (checked before the draft changes anything: a grant the catalogue's ceiling refuses)
        payments.check_grant(uow, case, calculated.outcome, calculated.amounts, None)
    except HubError as exc:
        return fall_out(uow, case, Fallout.NOT_CALCULABLE, exc.message, now)
    identity = system_identity(case)
    (decision, _, automatic, hearing), _ = decisions.submit_draft(uow, identity, cmd.SubmitDraft(
        f"automatic/{case.case_id}", case.case_id, None, [], "", "", [], use_calculation=True), now,
        calculated=calculated)
    _audit(uow, case, "SubmitDraftDecision", now, "automatic processing: calculated draft")
    if automatic:
        case.automation = Automation.DECIDED.value
        uow.cases.save_automation(case)
        _audit(uow, case, "ApproveDecision", now, "automatic processing: approved on the authority's behalf")
        return
    if hearing:
        hearings.start_hearing(uow, identity, cmd.StartHearing(f"automatic-hearing/{case.case_id}",
                                                               decision.decision_id), now)
        _audit(uow, case, "StartHearing", now, "automatic processing: adverse draft on register data")
        return fall_out(uow, case, Fallout.HEARING_NEEDED,
                        "the draft is adverse and rests on register data: the hub started a hearing", now)
    return fall_out(uow, case, Fallout.DISCRETION_NEEDED, "the draft cannot be approved automatically", now)



def automation_report(uow: UnitOfWork, identity: Identity, municipality_code: str, benefit_code: str,
                      received_from: dt.date | None, received_to: dt.date | None, now: dt.datetime
                      ) -> tuple[list[AutomationFigures], AutomationFigures]:
    """Per municipality and benefit within the caller's data limits: applications, how
    many the hub processed on its own and decided without a person, and the fallout."""
    v = Violations()
    cmd.check_municipality(v, "municipality_code", municipality_code, required=False)
    cmd.check_benefit_code(v, "benefit_code", benefit_code, required=False)
    if received_from and received_to:
        v.require(received_from <= received_to, "received_to", "must not be before received_from")
    v.raise_if_any()

    def start_of(d: dt.date) -> dt.datetime:   # a Danish date's first moment
        return dt.datetime.combine(d, dt.time(), month_rules.COPENHAGEN)
    rows = uow.cases.automation_figures(
        identity.scope, municipality_code=municipality_code, benefit_code=benefit_code,
        received_from=start_of(received_from) if received_from else None,
        received_to=start_of(received_to + dt.timedelta(days=1)) if received_to else None)
    return report(rows)
