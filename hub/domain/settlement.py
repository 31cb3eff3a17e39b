"""Final settlement against the year's final income ("efterregulering"), as pure rules.

When the tax authority's final assessment of a year is known, every month of that year
that an income-dependent grant paid for is calculated again with the rule set in force
for the month, on the facts the grant rested on, with the household's final income in
place of the income the grant assumed (boligstøtte: lov om individuel boligstøtte
§ 47, stk. 1; only the income is settled, stk. 2: rent, wealth and household stay as
granted). The year's difference is nothing, a back payment or a repayment; a difference
below the act's minimum is neither paid nor claimed (§ 47, stk. 4). A back payment or a
repayment is a decision for the months of the year (a decision for a bounded time, with
this calculation as its reasons); the balance rule of hub.domain.payments then pays
what the new amounts make due and claims what was paid too much.

The final income of a household member (§ 8, stk. 1): personal income, plus positive
capital income, plus share income less dividends up to a disregarded amount (rule data),
never below zero. The year's income is used for each of its months (the final
assessment is a year's figure; § 8 c, stk. 2 spreads income not in the income register
evenly over the months, which is what this does for all of it)."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from hub.domain.rules import Fact, RuleSet, Unit, kr


class SettlementStatus(str, enum.Enum):
    PENDING = "PENDING"            # found by a run, not yet examined
    WAITING = "WAITING"            # a member's final income is not assessed yet: a later run asks again
    NEEDS_PERSON = "NEEDS_PERSON"  # the rules cannot settle it (`reason`): a person does
    SETTLED = "SETTLED"            # examined: its result stands (its decision, if any, follows the usual path)


class SettlementOutcome(str, enum.Enum):
    NOTHING = "NOTHING"            # no difference, or one below the act's minimum
    BACK_PAYMENT = "BACK_PAYMENT"
    REPAYMENT = "REPAYMENT"


OPEN_STATUSES = (SettlementStatus.PENDING, SettlementStatus.WAITING)

# The final assessment register's answer per person (adapters/final_assessment/client.py).
ASSESSED, NOT_ASSESSED, NOT_FOUND = "assessed", "not_assessed", "not_found"
INFORMATION_KIND = "final_assessment.income"
SOURCE = "Skattestyrelsen (årsopgørelsen)"


@dataclass(frozen=True)
class Thresholds:
    """A settlement's figures from the rule data (boligstoette.SETTLEMENT_PARAMETERS)."""
    claim_minimum: int
    back_payment_minimum: int
    dividend_disregard: int
    automatic_limit: int
    offset_allowed: bool
    rule_set: str                  # the rule set they were read from ("BOLIGSTOETTE/4")


def thresholds(r: RuleSet) -> Thresholds:
    """The settlement figures of `r` (MissingRuleData when the rule set has none: the
    benefit is calculated but not settled by the hub)."""
    return Thresholds(r.value("settlement.claim_minimum"), r.value("settlement.back_payment_minimum"),
                      r.value("settlement.dividend_disregard"), r.value("settlement.automatic_limit"),
                      bool(r.value("settlement.offset_allowed")), r.key)


def member_income(assessment: Mapping[str, Any], dividend_disregard: int) -> int:
    """One member's final income by § 8, stk. 1, from the final assessment (øre a year)."""
    shares = int(assessment["share_income_oere"]) - min(int(assessment["share_dividends_oere"]), dividend_disregard)
    return max(0, int(assessment["personal_income_oere"]) + max(0, int(assessment["capital_income_oere"]))
               + max(0, shares))


def household_income(assessments: Sequence[Mapping[str, Any]], dividend_disregard: int) -> int:
    return sum(member_income(a, dividend_disregard) for a in assessments)


def final_income_fact(name: str, income: int, year: int, item_id: str) -> Fact:
    return Fact(name, income, Unit.OERE_PER_YEAR, SOURCE, (item_id,), f"husstandens endelige indkomst {year}")


@dataclass(frozen=True)
class Month:
    """One month of the year: what the grant in force gave, and what the rules give on
    the final income."""
    month: str                     # "YYYY-MM"
    granted_oere: int
    final_oere: int
    decision_id: str               # the grant that governed it

    @property
    def start(self) -> dt.date:
        return dt.date.fromisoformat(self.month + "-01")


@dataclass(frozen=True)
class Verdict:
    outcome: SettlementOutcome
    granted_oere: int
    final_oere: int
    difference_oere: int           # final less granted: > 0 back payment, < 0 repayment
    below_minimum: bool            # a difference the act leaves alone
    automatic: bool                # within the rule data's limit for deciding without a person

    @property
    def decided(self) -> bool:
        """A decision follows (a back payment or a repayment)."""
        return self.outcome is not SettlementOutcome.NOTHING


def verdict(months: Sequence[Month], th: Thresholds) -> Verdict:
    """The year's result: the difference, below the minimum for its direction or not
    (§ 47, stk. 4), and whether it is small enough to be decided without a person
    (a repayment never is: the citizen is heard first, forvaltningsloven § 19)."""
    granted = sum(m.granted_oere for m in months)
    final = sum(m.final_oere for m in months)
    diff = final - granted
    if diff > 0:
        below = diff < th.back_payment_minimum
        outcome = SettlementOutcome.NOTHING if below else SettlementOutcome.BACK_PAYMENT
        return Verdict(outcome, granted, final, diff, below, not below and diff <= th.automatic_limit)
    if diff < 0:
        below = -diff < th.claim_minimum
        outcome = SettlementOutcome.NOTHING if below else SettlementOutcome.REPAYMENT
        return Verdict(outcome, granted, final, diff, below, False)
    return Verdict(SettlementOutcome.NOTHING, granted, final, 0, False, False)


def summary(benefit_name: str, year: int, income: int, months: Sequence[Month], v: Verdict) -> str:
    """The settlement's part of the letter's reasons (Danish): the final income, month
    by month what was granted and what the final income gives, and the difference."""
    lines = [f"{benefit_name} for {year} er gjort op efter husstandens endelige indkomst for året ifølge "
             f"årsopgørelsen fra Skattestyrelsen.",
             f"- Husstandens endelige indkomst {year}: {kr(income)}",
             "", "Måned for måned (bevilget / efter den endelige indkomst):"]
    lines += [f"- {m.month}: {kr(m.granted_oere)} / {kr(m.final_oere)}" for m in months]
    lines += ["", f"I alt bevilget: {kr(v.granted_oere)}. Efter den endelige indkomst: {kr(v.final_oere)}."]
    if v.difference_oere > 0:
        lines.append(f"Du har fået {kr(v.difference_oere)} for lidt, som efterbetales.")
    elif v.difference_oere < 0:
        lines.append(f"Du har fået {kr(-v.difference_oere)} for meget, som du skal betale tilbage.")
    return "\n".join(lines)


def months_of(year: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]


def months_to_json(months: Sequence[Month]) -> list[dict[str, Any]]:
    return [dict(month=m.month, granted_oere=m.granted_oere, final_oere=m.final_oere, decision_id=m.decision_id)
            for m in months]


def months_from_json(rows: Sequence[Mapping[str, Any]]) -> tuple[Month, ...]:
    return tuple(Month(r["month"], int(r["granted_oere"]), int(r["final_oere"]), r.get("decision_id", ""))
                 for r in rows or ())


@dataclass(frozen=True)
class Settlement:
    """A case's settlement of an income year, as kept."""
    case_id: str
    income_year: int
    municipality_code: str
    benefit_code: str
    status: SettlementStatus
    outcome: SettlementOutcome | None
    granted_oere: int
    final_oere: int
    difference_oere: int
    final_income_oere: int | None
    months: tuple[Month, ...]
    reason: str
    decision_id: str | None
    information_id: str | None
    rule_set: str
    created_at: dt.datetime
    settled_at: dt.datetime | None
    last_run: str | None = None


@dataclass(frozen=True)
class SettlementRun:
    run_id: str
    income_year: int
    benefit_code: str
    municipality_code: str
    counts: Mapping[str, int]
    finished_at: dt.datetime | None


COUNTS = ("examined", "nothing", "back_payments", "repayments", "needs_person", "waiting", "back_payment_oere",
          "repayment_oere", "decided_automatically")
