"""Økonomisk fripladstilskud (dagtilbudsloven § 43, stk. 1, nr. 2; bekendtgørelse om dagtilbud § 27;
the scale in the yearly bekendtgørelse om indtægtsgrænser for økonomisk fripladstilskud):

    lower, upper = the scale's limits, both raised by 7.000 kr per child under 18 in the home beyond
                   the first (§ 27, stk. 3) and by the single-provider amount (§ 27, stk. 1)
    income <  lower:  the parents pay nothing (full friplads)
    income >= upper:  the parents pay the full fee (no friplads)
    otherwise         the parents pay 5 %, 6 %, ... 99 %: 95 equal steps between the limits,
                      pay = 5 % + floor(95 × (income − lower) / (upper − lower)) %-points
    friplads          = fee × (100 % − pay), a month, rounded half up to whole øre

The published scale is a table of the steps in whole kroner; the hub computes the step from the two
limits exactly (Esbjerg's 2021 table, 185.701-189.817 kr for the first 5 %-step, is what this gives:
tests/test_rules_formulas.py). A table row that differs by the rounding of its kroner boundary would
decide a case on the boundary differently: the table, when read, is the authority. Søskendetilskud
and the socialpædagogiske friplads are not part of this formula."""
from __future__ import annotations

from hub.domain.model import PeriodKind
from hub.domain.rules import Facts, Period, Result, RuleSet, Unit, kr, percent, share
from hub.domain.rules.worksheet import Worksheet

BENEFIT_CODE = "OEKONOMISK_FRIPLADS"
PER = PeriodKind.MONTH

PARAMETERS: dict[str, Unit] = {
    "income_lower": Unit.OERE_PER_YEAR,              # below: full friplads
    "income_upper": Unit.OERE_PER_YEAR,              # at or above: no friplads
    "first_paying_share_bp": Unit.BASIS_POINTS,      # 5 %: the first step the parents pay
    "per_child_increase": Unit.OERE_PER_YEAR,        # § 27, stk. 3: 7.000 kr per further child
    "single_provider_increase": Unit.OERE_PER_YEAR,  # § 27, stk. 1
}

FACTS: dict[str, Unit] = {
    "household.income_per_year": Unit.OERE_PER_YEAR, "household.children": Unit.COUNT,
    "household.single_provider": Unit.FLAG, "daycare.fee_per_month": Unit.OERE_PER_MONTH,
}


def calculate(facts: Facts, rules: RuleSet, period: Period) -> Result:
    w = Worksheet(facts, rules, FACTS)
    w.need(*FACTS)
    income = w.step("Husstandens indkomst om året", w.fact("household.income_per_year"),
                    basis="bekendtgørelse om dagtilbud § 27, stk. 1-2")
    children, single = w.fact("household.children"), w.fact("household.single_provider")
    lower, upper = w.value("income_lower"), w.value("income_upper")
    raised = []
    if children > 1:
        per_child = w.value("per_child_increase")
        shift = w.step("Forhøjelse af indkomstgrænserne for børn", per_child * (children - 1),
                       basis=w.section("per_child_increase"),
                       working=f"{children - 1} × {kr(per_child)} (hvert barn under 18 år ud over det første)")
        raised.append(shift)
    if single:
        raised.append(w.step("Forhøjelse af indkomstgrænserne for enlig forsørger",
                             w.value("single_provider_increase"), basis=w.section("single_provider_increase")))
    lower_text = f"{kr(lower)}" + "".join(f" + {kr(r)}" for r in raised)
    upper_text = f"{kr(upper)}" + "".join(f" + {kr(r)}" for r in raised)
    lower = w.step("Indkomstgrænse for hel friplads (indkomst under)", lower + sum(raised),
                   basis=w.section("income_lower"), working=lower_text if raised else "")
    upper = w.step("Indkomstgrænse for ingen friplads (indkomst på eller over)", upper + sum(raised),
                   basis=w.section("income_upper"), working=upper_text if raised else "")
    if upper <= lower:
        raise ValueError("the rule set's upper income limit must be above the lower one")
    if income < lower:
        pay_bp, working = 0, f"indkomsten {kr(income)} er under {kr(lower)}: hel friplads"
    elif income >= upper:
        pay_bp, working = 10000, f"indkomsten {kr(income)} er på eller over {kr(upper)}: ingen friplads"
    else:
        first = w.value("first_paying_share_bp")
        steps = (10000 - first) // 100
        step = (income - lower) * steps // (upper - lower)
        pay_bp = first + 100 * step
        working = (f"{percent(first)} + {step} trin: ({kr(income)} − {kr(lower)}) × {steps} / "
                   f"({kr(upper)} − {kr(lower)}), rundet ned til helt trin")
    w.step("Forældrene betaler af forældrebetalingen", pay_bp, Unit.BASIS_POINTS,
           basis=w.section("income_lower"), working=working)
    fee = w.step("Forældrebetaling for pladsen om måneden", w.fact("daycare.fee_per_month"), Unit.OERE_PER_MONTH,
                 basis="dagtilbudsloven § 43, stk. 1, nr. 2")
    subsidy = w.step("Økonomisk fripladstilskud om måneden", share(fee, 10000 - pay_bp), Unit.OERE_PER_MONTH,
                     basis="dagtilbudsloven § 43, stk. 1, nr. 2",
                     working=f"{percent(10000 - pay_bp)} × {kr(fee)}")
    return w.result(subsidy, PER)
