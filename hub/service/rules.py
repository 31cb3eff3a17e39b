"""Benefit rules as data: the published rule sets, publishing a new version, and the
calculation of a case from its facts (hub.domain.rules: each benefit's formula, the
figures as data, the facts from the case's information)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Sequence

from hub.domain import commands as cmd
from hub.domain import months as month_rules
from hub.domain import rules as r
from hub.domain.audit import AuditEntry
from hub.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Violations
from hub.domain.identity import Identity
from hub.domain.model import Case, InformationItem, Outcome, PeriodAmount, PeriodKind, Recurrence
from hub.domain.rules import facts as facts_rules
from hub.domain.rules import formulas
from hub.service.access import case_in_scope
from hub.store.uow import UnitOfWork


def _benefit_with_rules(uow: UnitOfWork, code: str, name: str = "benefit_code"):
    benefit = uow.catalogue.get(code)
    if benefit is None:
        raise InvalidArgument([FieldViolation(name, "is not in the benefit catalogue")])
    if r.FORMULAS.get(code) is None:
        raise InvalidArgument([FieldViolation(name, "has no rules in this hub: its drafts are typed")])
    return benefit


def list_rule_sets(uow: UnitOfWork, identity: Identity, benefit_code: str, now: dt.datetime) -> list[r.RuleSet]:
    if benefit_code:
        v = Violations()
        cmd.check_benefit_code(v, "benefit_code", benefit_code)
        v.raise_if_any()
    return uow.rules.versions(benefit_code)


def get_rule_set(uow: UnitOfWork, identity: Identity, benefit_code: str, version: int, in_force_on: dt.date | None,
                 now: dt.datetime) -> r.RuleSet:
    v = Violations()
    cmd.check_benefit_code(v, "benefit_code", benefit_code)
    v.require(version >= 0, "version", "must not be negative")
    v.require(not (version and in_force_on), "in_force_on", "give a version or a date, not both")
    v.raise_if_any()
    if version:
        found = uow.rules.get(benefit_code, version)
    else:
        found = r.in_force(uow.rules.of(benefit_code), in_force_on or now.astimezone(month_rules.COPENHAGEN).date())
    if found is None:
        raise NotFound("no such rule set", reason="RULE_SET_NOT_FOUND",
                       metadata={"benefit_code": benefit_code, "version": str(version)})
    return found


def publish_rule_set(uow: UnitOfWork, identity: Identity, c: cmd.PublishRuleSet,
                     now: dt.datetime) -> tuple[r.RuleSet, None]:
    effective = c.validated()
    _benefit_with_rules(uow, c.benefit_code)
    draft = r.RuleSet(c.benefit_code, 0, effective, c.legal_basis, c.source,
                      {p.name: r.Parameter(p.name, p.value, p.unit, p.section, p.source, p.note) for p in c.parameters},
                      note=c.note)
    problems = formulas.check_rule_set(draft)
    if problems:
        raise InvalidArgument([FieldViolation("parameters", p) for p in problems])
    return uow.rules.add(draft, identity.client_id, now), None


# ---- calculating a case ---------------------------------------------------------------------

def default_period(case: Case) -> tuple[dt.date, dt.date]:
    """From the first day of the month after the application was received to the end of
    that year (a new year's rates are a recalculation)."""
    received = case.received_at.astimezone(month_rules.COPENHAGEN).date()
    start = (received.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return start, dt.date(start.year, 12, 31)


def calculate(uow: UnitOfWork, case: Case, start: dt.date | None = None, end: dt.date | None = None, *,
              items: Sequence[InformationItem] | None = None,
              overrides: Mapping[str, r.Fact] | None = None) -> r.Calculation:
    """The calculation of `case` for [start, end] (default_period when not given):
    FailedPrecondition when the benefit has no rules, no rule set covers the period,
    the case lacks facts (FACTS_MISSING, naming them) or a needed figure is missing
    from the rule set (RULE_DATA_MISSING). `items`: the information to read the facts
    from (default: the case's); `overrides`: facts in place of those it gives (a
    register's newer answer, which a control finding found). Writes nothing."""
    formula = r.FORMULAS.get(case.benefit_code)
    benefit = uow.catalogue.get(case.benefit_code)
    if formula is None:
        raise FailedPrecondition("this benefit has no rules in this hub: its drafts are typed",
                                 reason="NO_RULES", metadata={"benefit_code": case.benefit_code})
    if start is None:
        start, default_end = default_period(case)
    else:
        default_end = dt.date(start.year, 12, 31)
    end = end or default_end
    if end < start:
        raise InvalidArgument([FieldViolation("period_end", "must not be before the period's start")])
    rule_sets = uow.rules.of(case.benefit_code)
    facts = facts_rules.facts_of(case, uow.information.for_case(case.case_id) if items is None else items, start)
    facts.update(overrides or {})
    per = PeriodKind.WEEK if benefit.recurrence is Recurrence.PER_PERIOD else PeriodKind.MONTH
    results, used = [], {}
    for s, e, rule_set in r.segments(rule_sets, start, end):
        if rule_set is None:
            raise FailedPrecondition(f"no rule set of {case.benefit_code} is in force on {s.isoformat()}",
                                     reason="NO_RULE_SET", metadata={"benefit_code": case.benefit_code,
                                                                     "date": s.isoformat()})
        period = r.Period(s, e, per)
        try:
            result = formula.calculate(facts, rule_set, period)
        except r.MissingFacts as exc:
            raise FailedPrecondition("the case lacks facts the calculation needs: " + ", ".join(exc.names),
                                     reason="FACTS_MISSING", metadata={"missing_facts": ",".join(exc.names)}) from None
        except r.MissingRuleData as exc:
            raise FailedPrecondition(str(exc), reason="RULE_DATA_MISSING",
                                     metadata={"missing_parameters": exc.name,
                                               "rule_set": rule_set.key}) from None
        except ValueError as exc:   # a fact of the wrong kind (a word the formula does not know, ...)
            raise FailedPrecondition(f"a fact of the case cannot be used: {exc}", reason="FACTS_INVALID") from None
        results.append(r.PeriodResult(period, rule_set, result))
        used.update({n: None for n in result.facts_used})
    return r.Calculation(case.case_id, case.benefit_code, tuple(results),
                         tuple(facts[n] for n in used if n in facts))


@dataclass(frozen=True)
class CalculatedDraft:
    """What a draft that accepts a calculation carries."""
    calculation: r.Calculation
    outcome: Outcome
    amounts: tuple[PeriodAmount, ...]
    reasoning: str
    legal_basis: str
    decisive_fact_ids: tuple[str, ...]
    effective_from: dt.date

    @property
    def assessment(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for p in self.calculation.results for a in p.result.assessment))


def draft_of(c: r.Calculation) -> CalculatedDraft:
    amounts = tuple(PeriodAmount(p.result.amount_oere, p.period.start, p.period.end)
                    for p in c.results if p.result.amount_oere > 0)
    paid = sum(1 for p in c.results if p.result.amount_oere > 0)
    outcome = (Outcome.REFUSED if not paid else Outcome.GRANTED if paid == len(c.results)
               else Outcome.PARTLY_GRANTED)
    basis = "; ".join(dict.fromkeys(p.rule_set.legal_basis for p in c.results if p.rule_set.legal_basis))
    return CalculatedDraft(c, outcome, amounts, r.reasoning(c), basis, c.information_ids,
                           c.results[0].period.start)


def calculate_draft(uow: UnitOfWork, identity: Identity, c: cmd.CalculateDraft, purpose: str | None,
                    now: dt.datetime) -> CalculatedDraft:
    """A read of the case's facts (audited as one)."""
    start, end = c.validated()
    case = case_in_scope(uow, identity, c.case_id)
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "CalculateDraft", case.case_id, case.cpr,
                             "OK", None, purpose))
    return draft_of(calculate(uow, case, start, end))


def _by_month(amounts: tuple[PeriodAmount, ...]) -> dict[str, int]:
    out = {}
    for a in amounts:
        if a.amount_oere:
            for m in month_rules.between(a.period_start.isoformat()[:7], a.period_end.isoformat()[:7]):
                out[m] = a.amount_oere
    return out


def differences(calculated: CalculatedDraft, amounts: tuple[PeriodAmount, ...]) -> str:
    """How typed amounts differ from the calculation, month by month for a monthly
    benefit, period by period for others ("" when they agree)."""
    if all(p.period.per is PeriodKind.MONTH for p in calculated.calculation.results):
        same = _by_month(calculated.amounts) == _by_month(amounts)
    else:
        same = ({(a.period_start, a.period_end, a.amount_oere) for a in calculated.amounts}
                == {(a.period_start, a.period_end, a.amount_oere) for a in amounts if a.amount_oere})
    if same:
        return ""
    per = {PeriodKind.MONTH: " a month", PeriodKind.WEEK: " a week"}.get(
        calculated.calculation.results[0].period.per, "") if calculated.calculation.results else ""
    return "the rules give " + (", ".join(f"{r.kr(a.amount_oere)}{per} from {a.period_start.isoformat()} to "
                                           f"{a.period_end.isoformat()}" for a in calculated.amounts) or "nothing")
