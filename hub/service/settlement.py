"""Final settlement against the year's final income ("efterregulering"): a run over every
grant of a benefit in force in a year, in chunks of one transaction each, resumable and
idempotent on its request id; two runs at once share the work (each holds the rows it
claimed for a while, and skips rows another run holds). The rules are
hub.domain.settlement's; a back payment or a repayment becomes a decision through the
same path as any draft (hub.service.decisions.submit_draft): letter, posting, archive,
hearing, approval, and the payments and claims the balance rule then makes."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import structlog

from hub.domain import commands as cmd
from hub.domain import paging
from hub.domain import rules as r
from hub.domain import settlement as st
from hub.domain.audit import AuditEntry
from hub.domain.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable, Violations
from hub.domain.identity import Identity
from hub.domain.ids import new_id
from hub.domain.model import (Case, CaseStatus, Decision, DecisionStatus, InformationItem, InformationSource,
                              PeriodKind, Recurrence)
from hub.domain.rules import facts as facts_rules
from hub.domain.rules import formulas
from hub.ports import DeliveryFailed, FinalIncomeLookup
from hub.ports import messages as msg
from hub.service import decisions, hearings, rules
from hub.service.access import case_in_scope, event, run_municipalities
from hub.service.steps import attach_information
from hub.store.uow import UnitOfWork

log = structlog.get_logger("hub.settlement")
INCOME_FACT = "household.income_per_year"


@dataclass(frozen=True)
class SettlementSettings:
    chunk: int = 200                                   # cases per transaction
    enqueue_chunk: int = 5000                          # cases found per transaction
    lease: dt.timedelta = dt.timedelta(minutes=10)     # how long a run holds the rows it claimed


def settled_benefit(uow: UnitOfWork, code: str) -> None:
    """The benefit is settled against final income by this hub (its formula names the
    settlement figures and the income it replaces), else FAILED_PRECONDITION."""
    m = r.FORMULAS.get(code)
    if uow.catalogue.get(code) is None or m is None or not formulas.settlement_parameters(code):
        raise FailedPrecondition(f"{code} is not settled against final income by this hub",
                                 reason="BENEFIT_NOT_SETTLED", metadata={"benefit_code": code})


def run_final_settlement(units: Callable[[], UnitOfWork], identity: Identity, c: cmd.RunFinalSettlement, clock,
                         lookup: FinalIncomeLookup | None,
                         settings: SettlementSettings = SettlementSettings()) -> Iterator[dict[str, Any]]:
    """Settle every case of `c.benefit_code` with a grant in force in `c.income_year`,
    yielding progress after each chunk. A repeat of the request resumes a run that was
    cut off, or replays a finished one's summary; another request id settles what is
    still open (WAITING cases are asked for again)."""
    now = clock.now()
    c.validate(now)
    munis = run_municipalities(identity, c.municipality_code)
    with units() as uow:
        settled_benefit(uow, c.benefit_code)
        run = uow.settlements.run(identity.client_id, c.request_id)
        if run is not None and (run.income_year, run.benefit_code, run.municipality_code) != (
                c.income_year, c.benefit_code, c.municipality_code):
            raise AlreadyExists("request_id was already used by this client for another settlement run",
                                reason="REQUEST_ID_REUSED", metadata={"request_id": c.request_id})
        if run is None and lookup is None:
            raise FailedPrecondition("no final assessment register is configured (HUB_FINAL_ASSESSMENT_URL)",
                                     reason="FINAL_ASSESSMENT_NOT_CONFIGURED")
        run_id = run.run_id if run else uow.settlements.start_run(identity.client_id, c.request_id, c.income_year,
                                                                    c.benefit_code, c.municipality_code, now)
        uow.commit()
    progress = dict(run_id=run_id, income_year=c.income_year, benefit_code=c.benefit_code, total=0,
                    **{k: 0 for k in st.COUNTS}, done=False)
    if run is not None and run.finished_at is not None:
        yield dict(progress, **run.counts, total=run.counts.get("examined", 0), done=True)
        return
    if run is not None:
        progress.update(run.counts)
    # Find the work, a chunk of cases per transaction.
    after = ""
    while True:
        with units() as uow:
            last = uow.settlements.enqueue(c.income_year, c.benefit_code, munis, after_case=after,
                                           limit=settings.enqueue_chunk, now=clock.now())
            uow.commit()
        if last is None:
            break
        after = last
    with units() as uow:
        progress["total"] = progress["examined"] + uow.settlements.count_open(c.income_year, c.benefit_code, munis,
                                                                              run_id)
        uow.commit()
    yield dict(progress)
    while True:
        with units() as uow:
            claimed = uow.settlements.claim(run_id, c.income_year, c.benefit_code, munis, limit=settings.chunk,
                                            now=clock.now(), lease=settings.lease)
            households = _households(uow, claimed) if claimed else {}
            uow.commit()
        if not claimed:
            break
        answers = _final_incomes(lookup, c.income_year, households, progress)
        deltas = _settle_chunk(units, identity, run_id, c.income_year, claimed, answers, clock)
        for k, n in deltas.items():
            progress[k] = progress.get(k, 0) + n
        progress["total"] = max(progress["total"], progress["examined"])
        yield dict(progress)
    with units() as uow:
        now = clock.now()
        run = uow.settlements.finish_run(run_id, now)
        uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "RunFinalSettlement", None, None, "OK",
                                 c.request_id, f"final settlement {c.benefit_code} {c.income_year}: "
                                               f"{run.counts.get('examined', 0)} examined"))
        uow.commit()
    yield dict(progress, **run.counts, total=max(progress["total"], run.counts.get("examined", 0)), done=True)


def _households(uow: UnitOfWork, case_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Whose final income each case may need: the citizen and every adult member of the
    household the CPR register gave it (each grant's own adults are chosen later; to ask
    for one more is harmless, to miss one would hold the case)."""
    out = {}
    for case_id, cpr, answers in uow.settlements.households(case_ids):
        members = [cpr]
        for v in answers:
            for m in ((v or {}).get("household") or {}).get("members", ()):
                if m.get("relation") != "child" and m.get("cpr"):
                    members.append(m["cpr"])
        out[case_id] = tuple(dict.fromkeys(members))
    return out


def _final_incomes(lookup: FinalIncomeLookup | None, year: int, households: dict[str, tuple[str, ...]],
                   progress: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The final assessment register's answer per CPR number of the chunk's households,
    asked in one call (outside any transaction); UNAVAILABLE when it does not answer
    (what the run did so far is kept; the same request id goes on)."""
    cprs = sorted({p for members in households.values() for p in members})
    if not cprs:
        return {}
    if lookup is None:
        raise FailedPrecondition("no final assessment register is configured (HUB_FINAL_ASSESSMENT_URL)",
                                 reason="FINAL_ASSESSMENT_NOT_CONFIGURED")
    try:
        found = lookup.lookup_many(year, cprs)
    except DeliveryFailed as exc:
        log.warning("the final assessment register did not answer", error=str(exc))
        raise Unavailable(f"the final assessment register did not answer; {progress['examined']} cases were "
                          f"examined and kept: run again with the same request_id to go on",
                          metadata={"run_id": progress["run_id"], "examined": str(progress["examined"])}) from None
    return {p: receipt.data for p, receipt in found.items()}


def _settle_chunk(units: Callable[[], UnitOfWork], identity: Identity, run_id: str, year: int,
                  claimed: Sequence[str], answers: dict[str, dict[str, Any]], clock) -> Counter:
    """The chunk in one transaction; if that fails, each case in its own, and a case
    that still fails goes to a person with its error's kind (one citizen's case must not
    stop everyone else's settlement)."""
    try:
        cache: dict[str, list[r.RuleSet]] = {}   # the rule sets, read once a chunk
        with units() as uow:
            deltas: Counter = Counter()
            for case_id in uow.settlements.held(run_id, year, claimed):
                deltas += settle_case(uow, identity, run_id, case_id, year, answers, clock.now(), cache)
            uow.settlements.add_to_run(run_id, deltas)
            uow.commit()
            return deltas
    except Unavailable:
        raise
    except Exception:
        log.exception("a settlement chunk failed; settling its cases one by one")
    deltas = Counter()
    for case_id in claimed:
        try:
            with units() as uow:
                if not uow.settlements.held(run_id, year, [case_id]):
                    continue
                one = settle_case(uow, identity, run_id, case_id, year, answers, clock.now())
                uow.settlements.add_to_run(run_id, one)
                uow.commit()
            deltas += one
        except Exception as exc:
            log.exception("a case could not be settled; it goes to a person", case_id=case_id)
            with units() as uow:
                uow.settlements.record(run_id, case_id, year, status=st.SettlementStatus.NEEDS_PERSON,
                                       reason=f"could not be settled ({type(exc).__name__}); see the hub's log",
                                       now=clock.now())
                one = Counter(examined=1, needs_person=1)
                uow.settlements.add_to_run(run_id, one)
                uow.commit()
            deltas += one
    return deltas


class _ToPerson(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Waiting(Exception):
    pass


@dataclass
class _Grant:
    """What one grant of the year rested on: its facts (as of the day it took effect,
    from the information the case had when it was drafted) and the household's adults."""
    decision: Decision
    facts: dict[str, r.Fact]
    adults: tuple[str, ...]


def settle_case(uow: UnitOfWork, identity: Identity, run_id: str, case_id: str, year: int,
                answers: dict[str, dict[str, Any]], now: dt.datetime,
                rule_sets: dict[str, list[r.RuleSet]] | None = None) -> Counter:
    """Settle one case's year (the case is held by this run). Returns the counts it adds.
    Audited on the case, as a read of the citizen's final income and a change of the case."""
    case = uow.cases.get(case_id, for_update=True)
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "RunFinalSettlement", case.case_id,
                             case.cpr, "OK", None, f"final settlement {year} (run {run_id})"))
    try:
        return _settle(uow, identity, run_id, case, year, answers, now, {} if rule_sets is None else rule_sets)
    except _Waiting:
        uow.settlements.record(run_id, case_id, year, status=st.SettlementStatus.WAITING,
                               reason="the final income of a member of the household is not assessed yet", now=now)
        return Counter(examined=1, waiting=1)
    except _ToPerson as p:
        uow.settlements.record(run_id, case_id, year, status=st.SettlementStatus.NEEDS_PERSON, reason=p.reason,
                               now=now)
        uow.events.record(event(case, "settlement.needs_person", now, identity.client_id, income_year=year,
                                reason=p.reason))
        return Counter(examined=1, needs_person=1)


def _settle(uow: UnitOfWork, identity: Identity, run_id: str, case: Case, year: int,
            answers: dict[str, dict[str, Any]], now: dt.datetime, cache: dict[str, list[r.RuleSet]]) -> Counter:
    if case.status is CaseStatus.DRAFT_PENDING_APPROVAL:
        raise _Waiting()   # a decision is under way: a later run settles what it leaves
    if case.status is not CaseStatus.DECIDED:
        raise _ToPerson(f"the case is {case.status.value}")
    benefit = uow.catalogue.get(case.benefit_code)
    if benefit.recurrence is not Recurrence.MONTHLY:
        raise _ToPerson("only monthly grants are settled month by month")
    formula = r.FORMULAS[case.benefit_code]
    lines = uow.settlements.lines_in_year([case.case_id], year)[case.case_id]
    rule_sets = cache.get(case.benefit_code)
    if rule_sets is None:
        rule_sets = cache[case.benefit_code] = uow.rules.of(case.benefit_code)
    closing = r.in_force(rule_sets, dt.date(year, 12, 31))
    try:
        th = st.thresholds(closing) if closing else None
    except r.MissingRuleData as exc:
        raise _ToPerson(f"the rule set {closing.key} has no settlement figures ({exc.name})") from None
    if th is None:
        raise _ToPerson(f"no rule set of {case.benefit_code} is in force in {year}")
    if not lines:
        uow.settlements.record(run_id, case.case_id, year, status=st.SettlementStatus.SETTLED,
                               outcome=st.SettlementOutcome.NOTHING, reason="no grant in force for the year",
                               rule_set=th.rule_set, now=now)
        return Counter(examined=1, nothing=1)
    items = uow.information.for_case(case.case_id)
    grants = {d: _grant(uow, case, d, items) for d in dict.fromkeys(x.decision_id for x in lines)}
    adults = tuple(dict.fromkeys(p for g in grants.values() for p in g.adults))
    persons = []
    for p in adults:
        a = answers.get(p) or {}
        status = a.get("status")
        if status == st.NOT_ASSESSED or status is None:
            raise _Waiting()
        if status != st.ASSESSED:
            raise _ToPerson("a member of the household has no final assessment for the year")
        persons.append(dict(cpr=p, status=status, assessment=a["assessment"]))
    income = st.household_income([x["assessment"] for x in persons], th.dividend_disregard)
    item = InformationItem(new_id(), case.case_id, InformationSource.REGISTER, f"slutligning {year}",
                           st.INFORMATION_KIND, dict(income_year=year, household_income_oere=income, persons=persons),
                           False, identity.client_id, now)
    months, results = [], []
    memo: dict[tuple[str, str], tuple[r.Result, r.Result]] = {}
    for line in lines:
        g = grants[line.decision_id]
        rule_set = r.in_force(rule_sets, line.period_start)
        key = (line.decision_id, rule_set.key)
        if key not in memo:
            memo[key] = _calculate(formula, g, rule_set, line, income, year, item.item_id)
        was, final, final_facts = memo[key]
        if was.amount_oere != line.amount_oere:
            raise _ToPerson(f"the grant for {line.period_key} ({r.kr(line.amount_oere)}) is not what the rules give "
                            f"on the facts it rested on ({r.kr(was.amount_oere)}): typed, departed from or amended")
        months.append(st.Month(line.period_key, line.amount_oere, final.amount_oere, line.decision_id))
        results.append((line, rule_set, final, final_facts))
    v = st.verdict(months, th)
    attach_information(uow, case, item, action="RunFinalSettlement", now=now, client_id=identity.client_id,
                       reason="the final income of the year")
    decision_id, reason, automatic = None, "", False
    if v.decided:
        decision, automatic = _decide(uow, identity, case, year, results, items, item, v, th, income, months, now)
        decision_id = decision.decision_id
        reason = ("decided automatically" if automatic else
                  "waits for the citizen's hearing and the authority's approval" if v.difference_oere < 0 else
                  "waits for the authority's approval")
    elif v.below_minimum:
        reason = "the difference is below the act's minimum: neither paid nor claimed"
    uow.settlements.record(run_id, case.case_id, year, status=st.SettlementStatus.SETTLED, outcome=v.outcome,
                           months=months, granted=v.granted_oere, final=v.final_oere, income=income, reason=reason,
                           decision_id=decision_id, information_id=item.item_id, rule_set=th.rule_set, now=now)
    uow.events.record(event(case, "settlement.settled", now, identity.client_id, income_year=year,
                            result=v.outcome.value, difference_oere=v.difference_oere, decision_id=decision_id or "",
                            below_minimum=v.below_minimum))
    uow.outbox.add(msg.FinalSettlementPosting(
        municipality_code=case.municipality_code, benefit_code=case.benefit_code,
        ledger_account=benefit.ledger_account, case_id=case.case_id, cpr=case.cpr, income_year=year,
        result=v.outcome.value, granted_oere=v.granted_oere, final_oere=v.final_oere,
        difference_oere=v.difference_oere, below_minimum=v.below_minimum, decision_id=decision_id or "",
        months=tuple(msg.SettledMonth(month=m.month, granted_oere=m.granted_oere, final_oere=m.final_oere)
                     for m in months),
    ).outbox(f"settlement/{case.case_id}/{year}/economy", case.case_id), now)
    out = Counter(examined=1)
    if v.outcome is st.SettlementOutcome.NOTHING:
        out["nothing"] += 1
    elif v.outcome is st.SettlementOutcome.BACK_PAYMENT:
        out.update(back_payments=1, back_payment_oere=v.difference_oere)
    else:
        out.update(repayments=1, repayment_oere=-v.difference_oere)
    out["decided_automatically"] += int(automatic)
    return out


def _grant(uow: UnitOfWork, case: Case, decision_id: str, items: Sequence[InformationItem]) -> _Grant:
    d = uow.decisions.get(decision_id)
    if d is None or d.status is not DecisionStatus.APPROVED:
        raise _ToPerson(f"the grant {decision_id} is not an approved decision")
    if d.calculation is None or d.departs_from_calculation:
        raise _ToPerson(f"the grant {decision_id} was not calculated by the rules (typed, or departing from them)")
    on = d.governs[0]
    then = [i for i in items if i.added_at <= d.submitted_at]
    facts = facts_rules.facts_of(case, then, on)
    if INCOME_FACT not in facts:
        raise _ToPerson(f"the grant {decision_id} rested on no household income from the income register")
    reg = facts_rules.registers(then, case.cpr)
    return _Grant(d, facts, tuple(a.cpr for a in reg.adults(on)))


def _calculate(formula, g: _Grant, rule_set: r.RuleSet, line, income: int, year: int,
               item_id: str) -> tuple[r.Result, r.Result, dict[str, r.Fact]]:
    """The month on the grant's facts (which must give what was granted) and on the
    final income."""
    period = r.Period(line.period_start, line.period_end, PeriodKind.MONTH)
    final_facts = dict(g.facts, **{INCOME_FACT: st.final_income_fact(INCOME_FACT, income, year, item_id)})
    try:
        was = formula.calculate(g.facts, rule_set, period)
        final = formula.calculate(final_facts, rule_set, period)
    except r.MissingFacts as exc:
        raise _ToPerson("the case lacks facts the calculation needs: " + ", ".join(exc.names)) from None
    except r.MissingRuleData as exc:
        raise _ToPerson(str(exc)) from None
    except ValueError as exc:
        raise _ToPerson(f"a fact of the case cannot be used: {exc}") from None
    if final.assessment:
        raise _ToPerson("on the final income the calculation has a point for a person's judgement: "
                        + "; ".join(final.assessment))
    return was, final, final_facts


def _decide(uow: UnitOfWork, identity: Identity, case: Case, year: int, results, items, item: InformationItem,
            v: st.Verdict, th: st.Thresholds, income: int, months: Sequence[st.Month],
            now: dt.datetime) -> tuple[Decision, bool]:
    """The settlement as a decision for the months of the year, with the calculation as its
    reasons; approved at once when the rule data allow it, else it goes to the authority
    (a repayment after the citizen is heard on the final income: the hearing starts now)."""
    periods: list[r.PeriodResult] = []
    for line, rule_set, final, _ in results:   # consecutive months alike make one period
        last = periods[-1] if periods else None
        if (last is not None and last.rule_set.key == rule_set.key and last.result.amount_oere == final.amount_oere
                and last.period.end + dt.timedelta(days=1) == line.period_start):
            periods[-1] = r.PeriodResult(r.Period(last.period.start, line.period_end, PeriodKind.MONTH), rule_set,
                                         final)
        else:
            periods.append(r.PeriodResult(r.Period(line.period_start, line.period_end, PeriodKind.MONTH), rule_set,
                                          final))
    facts = _facts_for_letter(results)
    calculation = r.Calculation(case.case_id, case.benefit_code, tuple(periods), facts)
    drafted = rules.draft_of(calculation)
    benefit = uow.catalogue.get(case.benefit_code)
    reasoning = st.summary(benefit.name_da, year, income, months, v) + "\n\n" + drafted.reasoning
    drafted = dataclasses.replace(drafted, reasoning=reasoning, decisive_fact_ids=(item.item_id,),
                                  legal_basis=periods[-1].rule_set.legal_basis)
    start, end = results[0][0].period_start, results[-1][0].period_end
    c = cmd.SubmitDraft(request_id=f"settlement-{year}-{case.case_id}", case_id=case.case_id, outcome=None, amounts=[],
                        reasoning="", legal_basis="", discretionary_points=[], use_calculation=True,
                        effective_from=(start.year, start.month, start.day), effective_to=(end.year, end.month, end.day),
                        decisive_fact_ids=(item.item_id,), offset_repayment=th.offset_allowed)
    (decision, _, automatic, hearing), _ = decisions.submit_draft(
        uow, identity, c, now, calculated=drafted, settlement_year=year, automatic_allowed=v.automatic)
    if hearing:
        hearings.start_hearing(uow, identity, cmd.StartHearing(
            f"settlement-hearing-{year}-{case.case_id}", decision.decision_id,
            note=f"Opgørelse af {benefit.name_da.lower()} for {year} efter den endelige indkomst"), now)
    return decision, automatic


def _facts_for_letter(results) -> tuple[r.Fact, ...]:
    """The facts the final calculation used, as the letter names them (the final income
    in place of the one the grant assumed), each once (a fact that changed between two
    grants of the year with both its values)."""
    out: dict[tuple[str, Any], r.Fact] = {}
    for _, _, final, facts in results:
        for name in final.facts_used:
            f = facts.get(name)
            if f is not None:
                out.setdefault((name, f.value), f)
    return tuple(out.values())


# ---- reading ----------------------------------------------------------------------------------

def get_settlement(uow: UnitOfWork, identity: Identity, case_id: str, income_year: int, purpose: str | None,
                   now: dt.datetime) -> st.Settlement:
    """A case's settlement of a year (a read of the citizen's income: audited)."""
    v = Violations()
    v.require(bool(case_id), "case_id", "is required")
    v.require(cmd.CALCULABLE_YEARS[0] <= income_year <= cmd.CALCULABLE_YEARS[1], "income_year",
              f"must be a year from {cmd.CALCULABLE_YEARS[0]} to {cmd.CALCULABLE_YEARS[1]}")
    v.raise_if_any()
    case = case_in_scope(uow, identity, case_id)
    found = uow.settlements.get(case_id, income_year)
    if found is None:
        raise NotFound("the case has no settlement of that year", reason="SETTLEMENT_NOT_FOUND",
                       metadata={"case_id": case_id, "income_year": str(income_year)})
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "GetSettlement", case.case_id, case.cpr,
                             "OK", None, purpose))
    return found


def list_settlements(uow: UnitOfWork, identity: Identity, f: cmd.SettlementFilter, page_size: int, page_token: str,
                     now: dt.datetime) -> tuple[list[st.Settlement], str]:
    f.validate()
    v = Violations()
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, "settlements", *sorted(dataclasses.asdict(f).items()))
    after = paging.decode(page_token, qhash)
    rows = uow.settlements.list(identity.scope, dataclasses.asdict(f), after_id=after, limit=size + 1)
    page = rows[:size]
    return [s for _, s in page], paging.encode(page[-1][0], qhash) if len(rows) > size else ""
