"""IT control: a run cross-matches the registers against every grant in force in a month
(hub.domain.control has the rules), in chunks of one transaction each, resumable and
idempotent on its request id; two runs at once share the work (each holds the grants it
claimed for a while, and skips those another run holds). The registers are asked a
chunk at a time (hub.ports.RegisterLookups), outside any transaction. Each hit is a
finding on the case, sent to the municipality's local control unit (ControlFinding)
in the same transaction; the municipality records the outcome of its physical control
(ControlFindingClosed), and an outcome that changes the entitlement leads to a new
draft decision through the usual path (hub.service.decisions.submit_draft), or, when
the rules cannot calculate one, to the back office with the reason."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import structlog

from hub.domain import commands as cmd
from hub.domain import control as ctl
from hub.domain import months as month_rules
from hub.domain import paging
from hub.domain import rules as r
from hub.domain.audit import AuditEntry
from hub.domain.automation import SYSTEM_CLIENT, system_identity
from hub.domain.errors import (AlreadyExists, FailedPrecondition, FieldViolation, HubError, InvalidArgument,
                               NotFound, PermissionDenied, Unavailable, Violations)
from hub.domain.identity import Identity
from hub.domain.ids import new_id
from hub.domain.model import Case, CaseStatus, Event, InformationItem, InformationSource, Outcome
from hub.domain.rules import facts as facts_rules
from hub.domain.rules import formulas  # noqa: F401 (fills r.FORMULAS)
from hub.ports import DeliveryFailed, RegisterLookups
from hub.ports import messages as msg
from hub.service import decisions, hearings, payments, rules
from hub.service.access import case_in_scope, event, run_municipalities
from hub.service.steps import attach_information
from hub.store.control import Claimed
from hub.store.uow import UnitOfWork

log = structlog.get_logger("hub.control")


@dataclass(frozen=True)
class ControlSettings:
    chunk: int = 1000                                  # grants per transaction (and per register batch)
    enqueue_lines: int = 50_000                        # payment lines looked at per transaction, finding the work
    lease: dt.timedelta = dt.timedelta(minutes=10)     # how long a run holds the grants it claimed


def _benefits(identity: Identity, code: str) -> tuple[str, ...]:
    """The benefits a run controls: the one asked for (within the caller's limits), else
    those the caller acts for (() meaning every one)."""
    mine = identity.scope.benefits
    if code:
        if not identity.scope.covers_benefit(code):
            raise PermissionDenied("this client does not act for that benefit", reason="BENEFIT_OUT_OF_SCOPE",
                                   metadata={"benefit_code": code})
        return (code,)
    return () if mine is None else tuple(sorted(mine))


def _progress(run_id: str, period: str, counts: Mapping[str, int] | None = None, **kw) -> dict[str, Any]:
    counts = counts or {}
    return dict(run_id=run_id, period=period, total=kw.get("total", 0), done=kw.get("done", False),
                **{k: counts.get(k, 0) for k in ctl.COUNTS},
                findings_by_rule={k.removeprefix("rule:"): n for k, n in counts.items() if k.startswith("rule:") and n})


def _add(progress: dict[str, Any], deltas: Mapping[str, int]) -> None:
    for k, n in deltas.items():
        if k.startswith("rule:"):
            rule = k.removeprefix("rule:")
            progress["findings_by_rule"][rule] = progress["findings_by_rule"].get(rule, 0) + n
        else:
            progress[k] = progress.get(k, 0) + n


def run_control(units: Callable[[], UnitOfWork], identity: Identity, c: cmd.RunControl, clock,
                lookups: RegisterLookups | None,
                settings: ControlSettings = ControlSettings()) -> Iterator[dict[str, Any]]:
    """Control every grant in force in `c.period` (of the caller's municipalities, or
    one; of one benefit, or all the caller acts for) by `c.rules` (all when none),
    yielding progress after each chunk. A repeat of the request resumes a run that was
    cut off, or replays a finished one's summary; a grant checked by these rules for the
    month already is not checked again (another request id finds nothing more to do)."""
    now = clock.now()
    c.validate(now)
    codes = tuple(ctl.RuleCode(x) for x in c.rules) or ctl.ALL_RULES
    key = ctl.rules_key(codes)
    munis = run_municipalities(identity, c.municipality_code)
    benefits = _benefits(identity, c.benefit_code)
    with units() as uow:
        if c.benefit_code and uow.catalogue.get(c.benefit_code) is None:
            raise InvalidArgument([FieldViolation("benefit_code", "is not in the benefit catalogue")])
        rules_ = _rules(uow, codes, c.period)
        run = uow.control.run(identity.client_id, c.request_id)
        if run is not None and (run.period, run.municipality_code, run.benefit_code, run.rules) != (
                c.period, c.municipality_code, c.benefit_code, key):
            raise AlreadyExists("request_id was already used by this client for another control run",
                                reason="REQUEST_ID_REUSED", metadata={"request_id": c.request_id})
        if run is None and lookups is None:
            raise FailedPrecondition("no registers are configured for the control (HUB_CPR_REGISTER_URL, ...)",
                                     reason="REGISTERS_NOT_CONFIGURED")
        run_id = run.run_id if run else uow.control.start_run(identity.client_id, c.request_id, c.period,
                                                              c.municipality_code, c.benefit_code, key, now)
        uow.commit()
    if run is not None and run.finished_at is not None:
        yield _progress(run_id, c.period, run.counts, total=run.counts.get("examined", 0), done=True)
        return
    progress = _progress(run_id, c.period, run.counts if run else None)
    # Find the work: the grants in force in the month, a range of payment lines per transaction.
    with units() as uow:
        low, high = uow.control.line_ids()
        uow.commit()
    for first in range(low, high + 1, settings.enqueue_lines) if high else ():
        with units() as uow:
            uow.control.enqueue(c.period, key, munis, benefits, first_line=first,
                                last_line=first + settings.enqueue_lines - 1)
            uow.commit()
    with units() as uow:
        progress["total"] = progress["examined"] + uow.control.count_open(c.period, key, munis, benefits)
        uow.commit()
    yield dict(progress)
    while True:
        with units() as uow:
            ids = uow.control.claim(run_id, c.period, key, munis, benefits, limit=settings.chunk,
                                    now=clock.now(), lease=settings.lease)
            grants = _grants(uow, uow.control.claimed(ids)) if ids else []
            uow.commit()
        if not ids:
            break
        lost = set(ids) - {g.check_id for g in grants}
        if lost:   # (a check whose case or decision is gone: nothing to compare)
            with units() as uow:
                uow.control.done(run_id, sorted(lost), status="FAILED", reason="the case or its decision is not there")
                uow.control.add_to_run(run_id, {"examined": len(lost), "failed": len(lost)})
                uow.commit()
            _add(progress, {"examined": len(lost), "failed": len(lost)})
        if grants:
            registers = _look_up(lookups, grants, rules_, c.period, run_id)
            _add(progress, _record_chunk(units, identity, run_id, c, rules_, grants, registers, clock))
        progress["total"] = max(progress["total"], progress["examined"])
        yield dict(progress)
    with units() as uow:
        now = clock.now()
        run = uow.control.finish_run(run_id, now)
        uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "RunControl", None, None, "OK",
                                 c.request_id, f"IT control {c.period}: {run.counts.get('examined', 0)} examined, "
                                               f"{run.counts.get('findings', 0)} findings"))
        uow.commit()
    yield _progress(run_id, c.period, run.counts, total=max(progress["total"], run.counts.get("examined", 0)),
                    done=True)


def _rules(uow: UnitOfWork, codes: Sequence[ctl.RuleCode], period: str) -> dict[ctl.RuleCode, ctl.ControlRule]:
    """The rule data in force for the month, or FAILED_PRECONDITION naming what is missing."""
    found = ctl.rules_in_force(uow.control.rules(), codes, ctl.month_end(period))
    problems = ctl.require_data(found)
    if problems:
        raise FailedPrecondition("the control rules' data is not complete for the month: " + "; ".join(problems),
                                 reason="RULE_DATA_MISSING", metadata={"problems": "; ".join(problems)[:500]})
    return found   # (every value set: require_data)


# ---- a chunk ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Grant:
    check_id: int
    grant: ctl.Grant
    stored: Sequence[Mapping[str, Any]] | Mapping[str, r.Fact]   # its calculation's facts, as stored or read

    def facts(self) -> Mapping[str, r.Fact]:
        """What its calculation rests on, as facts (for the money at stake of a hit)."""
        return self.stored if isinstance(self.stored, Mapping) else r.facts_from_dict(dict(facts=self.stored)) or {}


def _grants(uow: UnitOfWork, claimed: Sequence[Claimed]) -> list[_Grant]:
    """What each claimed grant assumed: the values of the facts its stored calculation
    rests on (or, for a calculation stored by an older hub without them, the facts read
    again from the case's information as it was when the draft was made)."""
    out = []
    for x in claimed:
        stored: Any = x.facts or ()
        if stored and any("value" not in f for f in stored):
            stored = _facts_then(uow, x)
            assumed = {n: f.value for n, f in stored.items()}
        else:
            assumed = {f["name"]: f["value"] for f in stored}
        grant = ctl.Grant(x.case_id, x.decision_id, x.municipality_code, x.benefit_code, x.cpr, int(x.amount_oere),
                          assumed)
        out.append(_Grant(x.check_id, grant, stored))
    return out


def _facts_then(uow: UnitOfWork, x: Claimed) -> dict[str, r.Fact]:
    case, decision = uow.cases.get(x.case_id), uow.decisions.get(x.decision_id)
    if case is None or decision is None:
        return {}
    then = [i for i in uow.information.for_case(x.case_id) if i.added_at <= decision.submitted_at]
    on = decision.governs[0] or decision.submitted_at.date()
    named = {f["name"] for f in x.facts or ()}
    return {n: f for n, f in facts_rules.facts_of(case, then, on).items() if n in named}


def _look_up(lookups: RegisterLookups, grants: Sequence[_Grant], rules_: Mapping[ctl.RuleCode, ctl.ControlRule],
             period: str, run_id: str) -> dict[str, ctl.Registers | None]:
    """What the registers say about each grant's citizen (None: not in the CPR register),
    asked a chunk at a time: the persons, then the income of the adults and the
    dwellings at the addresses of the grants whose rules need them."""
    try:
        persons = lookups.persons(sorted({g.grant.cpr for g in grants}))
        income_months: list[str] = []
        want_income: dict[str, tuple[str, ...]] = {}
        want_rent: dict[str, str] = {}
        counted: dict[str, tuple[tuple[str, ...], int]] = {}
        on = ctl.month_end(period)
        for g in grants:
            answer = persons[g.grant.cpr].data
            if answer["status"] != "found" or answer["person"]["status"] != "alive":
                continue
            counted[g.grant.case_id] = ctl.counts(answer["household"], on)
            income, rent = ctl.needs(rules_, g.grant)
            if income:
                want_income[g.grant.case_id] = counted[g.grant.case_id][0]
            if rent and answer["person"].get("address_id"):
                want_rent[g.grant.case_id] = answer["person"]["address_id"]
        incomes: dict[str, Any] = {}
        if want_income:
            income_months = list(ctl.window(period, rules_[ctl.RuleCode.INCOME_DEVIATION].value("window_months")))
            incomes = lookups.incomes(sorted({c for adults in want_income.values() for c in adults}), income_months)
        dwellings = lookups.dwellings(sorted(set(want_rent.values()))) if want_rent else {}
    except DeliveryFailed as exc:
        log.warning("a register did not answer the control run", error=str(exc))
        raise Unavailable(f"a register did not answer ({exc}); what the run examined is kept: run again with the "
                          f"same request_id to go on", metadata={"run_id": run_id}) from None
    out: dict[str, ctl.Registers | None] = {}
    for g in grants:
        receipt = persons[g.grant.cpr]
        if receipt.data["status"] != "found":
            out[g.grant.case_id] = None
            continue
        adults = want_income.get(g.grant.case_id)
        dwelling = dwellings.get(want_rent.get(g.grant.case_id, ""))
        household = counted.get(g.grant.case_id, (None, None))
        out[g.grant.case_id] = ctl.Registers(
            adults=household[0], children=household[1],
            person=receipt.data["person"], household=receipt.data["household"], cpr_reference=receipt.reference,
            income=None if adults is None else {c: incomes[c].data["records"] for c in adults},
            income_reference=incomes[adults[0]].reference if adults else "",
            dwelling=dwelling.data["dwelling"] if dwelling is not None else None,
            rent_reference=dwelling.reference if dwelling is not None else "")
    return out


def _record_chunk(units: Callable[[], UnitOfWork], identity: Identity, run_id: str, c: cmd.RunControl,
                  rules_: Mapping[ctl.RuleCode, ctl.ControlRule], grants: Sequence[_Grant],
                  registers: Mapping[str, ctl.Registers | None], clock) -> Counter:
    """The chunk's findings in one transaction; if that fails, each grant in its own,
    and a grant that still fails is marked FAILED with its error's kind (one citizen's
    case must not stop everyone else's control)."""
    try:
        with units() as uow:
            deltas = _record(uow, identity, run_id, c, rules_, grants, registers, clock.now())
            uow.commit()
            return deltas
    except Exception:
        log.exception("a control chunk failed; checking its grants one by one")
    deltas = Counter()
    for g in grants:
        try:
            with units() as uow:
                one = _record(uow, identity, run_id, c, rules_, [g], registers, clock.now())
                uow.commit()
            deltas += one
        except Exception as exc:
            log.exception("a grant could not be checked", case_id=g.grant.case_id)
            with units() as uow:
                uow.control.done(run_id, [g.check_id], status="FAILED",
                                 reason=f"could not be checked ({type(exc).__name__}); see the hub's log")
                uow.control.add_to_run(run_id, {"examined": 1, "failed": 1})
                uow.commit()
            deltas += Counter(examined=1, failed=1)
    return deltas


def _record(uow: UnitOfWork, identity: Identity, run_id: str, c: cmd.RunControl,
            rules_: Mapping[ctl.RuleCode, ctl.ControlRule], grants: Sequence[_Grant],
            registers: Mapping[str, ctl.Registers | None], now: dt.datetime) -> Counter:
    """The grants' checks this run still holds, checked, and their findings."""
    held = uow.control.take(run_id, [g.check_id for g in grants])
    grants = [g for g in grants if g.check_id in held]
    deltas: Counter = Counter()
    if not grants:
        return deltas
    payment_rules = {ctl.RuleCode.PAYMENT_AFTER_DEATH, ctl.RuleCode.PAYMENT_AFTER_EMIGRATION} & set(rules_)
    ended = [g.grant.case_id for g in grants if payment_rules and (reg := registers.get(g.grant.case_id)) is not None
             and reg.person.get("status") in ("dead", "emigrated")]
    paid = uow.control.paid_months(ended, c.period) if ended else {}
    hits: list[tuple[_Grant, ctl.Hit]] = []
    for g in grants:
        reg = registers.get(g.grant.case_id)
        deltas["examined"] += 1
        if reg is None:
            deltas["not_in_register"] += 1
            continue
        if g.grant.case_id in paid:
            reg = dataclasses.replace(reg, paid=tuple(paid[g.grant.case_id]))
        hits += [(g, h) for h in ctl.check(rules_, g.grant, reg, c.period)]
    findings = []
    if hits:
        keys, open_ = uow.control.known(sorted({g.grant.case_id for g, _ in hits}))
        for g, h in hits:
            if (g.grant.case_id, h.rule.value, h.match_key) in keys or (g.grant.case_id, h.rule.value) in open_:
                deltas["already_found"] += 1   # found before, or the unit is controlling the case for it now
                continue
            keys.add((g.grant.case_id, h.rule.value, h.match_key))
            open_.add((g.grant.case_id, h.rule.value))
            findings.append(_finding(uow, run_id, g, _with_stake(uow, g, h, c.period), c.period, now))
    if findings:
        uow.control.add(findings)
        for f in findings:
            _announce(uow, identity, f, c.request_id, now)
            deltas["findings"] += 1
            deltas[f"rule:{f.rule.value}"] += 1
    uow.control.add_to_run(run_id, deltas)
    return deltas


def _with_stake(uow: UnitOfWork, g: _Grant, h: ctl.Hit, period: str) -> ctl.Hit:
    """The money at stake a month: what the grant pays more than the rules give with the
    register's facts (a change of income or rent; a household's change needs more facts
    than the register gave, e.g. the new adult's income: not known)."""
    if h.amount_at_stake_oere_per_month is not None or not h.changed_facts or h.rule is ctl.RuleCode.HOUSEHOLD_CHANGE:
        return h
    formula = r.FORMULAS.get(g.grant.benefit_code)
    rule_set = r.in_force(uow.rules.of(g.grant.benefit_code), ctl.month_start(period)) if formula else None
    if rule_set is None:
        return h
    new = ctl.recalculated(formula, g.facts(), h.changed_facts, rule_set, period)
    return ctl.with_stake(h, None if new is None else max(0, g.grant.amount_oere - new))


def _finding(uow: UnitOfWork, run_id: str, g: _Grant, h: ctl.Hit, period: str, now: dt.datetime) -> ctl.Finding:
    return ctl.Finding(new_id(), g.grant.case_id, g.grant.municipality_code, g.grant.benefit_code, g.grant.cpr, h.rule,
                       h.rule_key, h.title, h.match_key, period, h.period_start, h.period_end, h.observations,
                       h.amount_at_stake_oere_per_month, dict(h.register_data), ctl.Status.OPEN, run_id, now,
                       g.grant.decision_id)


def _announce(uow: UnitOfWork, identity: Identity, f: ctl.Finding, request_id: str, now: dt.datetime) -> None:
    """A finding made: its event, the message to the control unit (only what the unit
    needs), and the audit entry (a change on the citizen's case)."""
    uow.events.record(Event("control.finding_made", f.case_id, f.municipality_code, f.benefit_code, now,
                            identity.client_id, dict(finding_id=f.finding_id, rule_code=f.rule.value,
                                                     rule=f.rule_key, period=f.period, run_id=f.run_id)))
    uow.outbox.add(msg.ControlFinding(
        finding_id=f.finding_id, case_id=f.case_id, municipality_code=f.municipality_code,
        benefit_code=f.benefit_code, cpr=f.cpr, rule_code=f.rule.value, rule_title=f.title, found_at=now,
        period_start=f.period_start, period_end=f.period_end,
        observations=tuple(msg.Observation(name=o.name, label=o.label, register_value=o.register_value,
                                           assumed_value=o.assumed_value, unit=o.unit, source=o.source,
                                           source_reference=o.source_reference) for o in f.observations),
        amount_at_stake_oere_per_month=f.amount_at_stake_oere_per_month,
    ).outbox(f"control/{f.finding_id}/finding", f.case_id), now)
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "RunControl", f.case_id, f.cpr, "OK",
                             request_id, f"control finding {f.rule.value}"))


# ---- the outcome of the physical control ------------------------------------------------------------

def record_outcome(uow: UnitOfWork, identity: Identity, c: cmd.RecordControlOutcome,
                   now: dt.datetime) -> tuple[ctl.Finding, Case]:
    """The municipality's outcome of its control of a finding; the finding is closed and
    the control unit told. An outcome that changes the entitlement leads to a new draft
    decision (or to the back office, with the reason the hub could not make one)."""
    c.validate()
    f = uow.control.get(c.finding_id, for_update=True)
    case = case_in_scope(uow, identity, f.case_id, for_update=True) if f else None
    if f is None or case is None:
        raise NotFound("control finding not found", reason="FINDING_NOT_FOUND", metadata={"finding_id": c.finding_id})
    f.require_open()
    outcome = ctl.Outcome(c.outcome)
    follow_up, reason, decision_id = ctl.FollowUp.NONE, "", ""
    if outcome.changes_entitlement:
        follow_up, reason, decision_id = _redecide(uow, case, f, now)
    f = dataclasses.replace(f, status=ctl.Status.CLOSED, outcome=outcome, note=c.note, closed_by=identity.client_id,
                            closed_at=now, follow_up=follow_up, follow_up_reason=reason, decision_id=decision_id)
    uow.control.close(f)
    uow.events.record(event(case, "control.finding_closed", now, identity.client_id, finding_id=f.finding_id,
                            rule_code=f.rule.value, outcome=outcome.value, follow_up=follow_up.value,
                            decision_id=decision_id, reason=reason))
    uow.outbox.add(msg.ControlFindingClosed(
        finding_id=f.finding_id, case_id=f.case_id, municipality_code=f.municipality_code,
        benefit_code=f.benefit_code, closed_at=now, outcome=outcome.value,
        reason=ctl.closing_reason(outcome, follow_up)).outbox(f"control/{f.finding_id}/closed", f.case_id), now)
    return f, case


# What a finding must keep of the register's answer for a new draft.
_REGISTER_DATA = {ctl.RuleCode.INCOME_DEVIATION: ("months", "income_per_year_oere"),
                  ctl.RuleCode.RENT_CHANGE: ("dwelling",), ctl.RuleCode.HOUSEHOLD_CHANGE: ("cpr",),
                  ctl.RuleCode.PAYMENT_AFTER_DEATH: ("cpr", "event_date", "stop_from"),
                  ctl.RuleCode.PAYMENT_AFTER_EMIGRATION: ("cpr", "event_date", "stop_from")}
_KIND = {ctl.RuleCode.INCOME_DEVIATION: "income.control", ctl.RuleCode.RENT_CHANGE: facts_rules.RENT_KIND}


def _register_item(f: ctl.Finding, case: Case, now: dt.datetime) -> InformationItem:
    """What the register said, as information on the case (the new draft's decisive fact)."""
    d = f.register_data
    if f.rule is ctl.RuleCode.INCOME_DEVIATION:
        value = dict(finding_id=f.finding_id, months=list(d["months"]), income_per_year_oere=d["income_per_year_oere"],
                     persons=list(d.get("persons", ())))
    elif f.rule is ctl.RuleCode.RENT_CHANGE:
        value = dict(dwelling=dict(d["dwelling"]), finding_id=f.finding_id)
    else:
        value = dict(d["cpr"], finding_id=f.finding_id)
    return InformationItem(new_id(), case.case_id, InformationSource.REGISTER, str(d.get("reference", ""))[:200],
                           _KIND.get(f.rule, facts_rules.CPR_KIND), value, False, SYSTEM_CLIENT, now)


def _redecide(uow: UnitOfWork, case: Case, f: ctl.Finding, now: dt.datetime) -> tuple[ctl.FollowUp, str, str]:
    """A new draft decision on the register's facts, or why the back office must make one."""
    back = ctl.FollowUp.BACK_OFFICE
    if case.status is not CaseStatus.DECIDED:
        return back, f"the case is {case.status.value}: the hub makes no new draft on it now", ""
    if any(k not in f.register_data for k in _REGISTER_DATA[f.rule]):
        return back, "the finding keeps none of the register's data to make a new draft from", ""
    start = ctl.draft_start(f)
    item = _register_item(f, case, now)
    rule = next((x for x in uow.control.rules() if x.key == f.rule_key), None)
    note = (f"Afgørelsen bygger på kommunens kontrol af oplysninger fra registrene ({f.title.lower()}, "
            f"kontrol af {f.period}).")
    try:
        if f.rule in (ctl.RuleCode.PAYMENT_AFTER_DEATH, ctl.RuleCode.PAYMENT_AFTER_EMIGRATION):
            drafted = None
            c = _stop_draft(f, case, item, start, rule.legal_basis if rule else "", note)
            payments.check_grant(uow, case, Outcome.REFUSED, (), start)
        else:
            if r.FORMULAS.get(case.benefit_code) is None:
                return back, f"{case.benefit_code} has no rules in this hub: a person makes the new decision", ""
            overrides = {}
            if f.rule is ctl.RuleCode.INCOME_DEVIATION:
                overrides[ctl.INCOME] = r.Fact(ctl.INCOME, int(f.register_data["income_per_year_oere"]),
                                               r.Unit.OERE_PER_YEAR, facts_rules.INCOME_SOURCE, (item.item_id,),
                                               f"husstandens indkomst efter indkomstregisteret "
                                               f"({f.register_data['months'][0]} til {f.register_data['months'][-1]})")
            items = uow.information.for_case(case.case_id) + [item]
            drafted = rules.draft_of(rules.calculate(uow, case, start, None, items=items, overrides=overrides))
            if drafted.assessment:
                return back, ("the calculation has a point for a person's judgement: "
                              + "; ".join(drafted.assessment)), ""
            if _same_as_in_force(uow, case, drafted, start):
                return ctl.FollowUp.NONE, "the rules give what the grant in force gives: no new decision", ""
            payments.check_grant(uow, case, drafted.outcome, drafted.amounts, start)
            c = cmd.SubmitDraft(request_id=f"control-{f.finding_id}", case_id=case.case_id, outcome=None, amounts=[],
                                reasoning=note, legal_basis="", discretionary_points=[], use_calculation=True,
                                effective_from=(start.year, start.month, start.day))
    except HubError as exc:   # nothing is written before this point
        return back, f"no new draft could be made: {exc.message}", ""
    identity = system_identity(case)
    attach_information(uow, case, item, action="RecordControlOutcome", now=now, client_id=SYSTEM_CLIENT,
                       reason="a control finding's register data")
    (decision, _, automatic, hearing), _ = decisions.submit_draft(uow, identity, c, now, calculated=drafted)
    if automatic:
        return ctl.FollowUp.DRAFT_DECISION, "the new decision was approved automatically", decision.decision_id
    if hearing and drafted is not None:
        hearings.start_hearing(uow, identity, cmd.StartHearing(
            f"control-hearing-{f.finding_id}", decision.decision_id,
            note="Kommunens kontrol har vist, at oplysningerne i din sag har ændret sig."), now)
        return (ctl.FollowUp.DRAFT_DECISION, "the draft waits for the citizen's hearing (started) and the authority",
                decision.decision_id)
    return ctl.FollowUp.DRAFT_DECISION, "the draft waits for the authority", decision.decision_id


def _stop_draft(f: ctl.Finding, case: Case, item: InformationItem, start: dt.date, legal_basis: str,
                note: str) -> cmd.SubmitDraft:
    """After a death or an emigration: the grant stops from the month after it."""
    event = "død" if f.rule is ctl.RuleCode.PAYMENT_AFTER_DEATH else "udrejst"
    when = f.register_data["event_date"]
    text = (f"Ifølge CPR-registeret er borgeren {event} den {when}. Retten til ydelsen ophører, og der udbetales "
            f"ikke for månederne fra {start.isoformat()}. Beløb udbetalt for disse måneder kræves tilbagebetalt. "
            + note)
    return cmd.SubmitDraft(request_id=f"control-{f.finding_id}", case_id=case.case_id, outcome=Outcome.REFUSED,
                           amounts=[], reasoning=text, legal_basis=legal_basis or f.title, discretionary_points=[],
                           effective_from=(start.year, start.month, start.day), decisive_fact_ids=(item.item_id,),
                           departure_reason=f"the CPR register records the citizen as {event} on {when}")


def _same_as_in_force(uow: UnitOfWork, case: Case, drafted: rules.CalculatedDraft, start: dt.date) -> bool:
    """The calculated draft gives, month by month, what the grant in force gives."""
    new = {}
    for a in drafted.amounts:
        for m in month_rules.between(ctl.month_of(a.period_start), ctl.month_of(a.period_end)):
            new[m] = a.amount_oere
    end = max((a.period_end for a in drafted.amounts), default=start)
    old = {k: v for k, v in uow.payments.in_force(case.case_id, start, "", end).items() if v}
    return bool(new) and new == old


# ---- reading ------------------------------------------------------------------------------------------

def list_findings(uow: UnitOfWork, identity: Identity, f: cmd.ControlFindingFilter, page_size: int, page_token: str,
                  purpose: str | None, now: dt.datetime) -> tuple[list[ctl.Finding], str]:
    """Findings on the caller's cases (a read of the citizens' data: audited, an entry
    per case shown)."""
    f.validate()
    v = Violations()
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, "control-findings", *sorted(dataclasses.asdict(f).items()))
    after = paging.decode(page_token, qhash)
    rows = uow.control.list(identity.scope, dataclasses.asdict(f), after_id=after, limit=size + 1)
    page = rows[:size]
    for case_id, cpr in dict.fromkeys((x.case_id, x.cpr) for _, x in page):
        uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "ListControlFindings", case_id, cpr,
                                 "OK", None, purpose))
    return [x for _, x in page], paging.encode(page[-1][0], qhash) if len(rows) > size else ""
