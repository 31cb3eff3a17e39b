"""Folkepension (lov om social pension): the grundbeløb, no longer income-tested (§ 27 was repealed by
lov nr. 726 af 13. juni 2023), plus the pensionstillæg, reduced by a rate of the income above the
fradragsbeløb (§ 31, stk. 2):

    grundlag  single: own income; married or cohabiting: own + partner's income, of which 54 % is
              disregarded when the partner does not receive social pension (§ 49, stk. 1, nr. 5)
    reduction = rate × max(0, grundlag − fradragsbeløb)   30,9 % single, 32 % with a partner who is
              not a pensioner, 16 % for each when both are (§ 31, stk. 2); rounded to whole kroner
    tillæg    = max(0, 12 × the full monthly tillæg − reduction) a year
    paid      = grundbeløb a month + tillæg / 12 rounded half up to whole kroner

The income is "other income": the facts carry the income the formula counts, i.e. without income
subject to AM-bidrag (the pensioner's and the partner's work income are disregarded since 2023) and
without the social pension itself (§ 29). Udbetaling Danmark's own rounding of the monthly tillæg was
not found; whole kroner is what the official worked example (Ældre Sagen 2024) shows.

Residence: full pension needs 40 years' residence between 15 and the pension age, and for those who
reach the pension age from 1 July 2025 9/10 of that period (§ 5). Without the date the applicant
reached the pension age, residence short under either rule is a point a person judges (brøkpension
is not calculated here); the amount is then the full one, and stands only if a person agrees. Out of
scope: opsat pension (venteprocent), the pension age itself, ældrecheck, varme- and helbredstillæg."""
from __future__ import annotations

from hub.domain.model import PeriodKind
from hub.domain.rules import Facts, Period, Result, RuleSet, Unit, divide, kr, percent, share
from hub.domain.rules.worksheet import Worksheet, whole_kroner

BENEFIT_CODE = "FOLKEPENSION"
PER = PeriodKind.MONTH
STATUSES = ("single", "married", "cohabiting")

PARAMETERS: dict[str, Unit] = {
    "basic_amount_per_month": Unit.OERE_PER_MONTH,          # grundbeløb, § 49, stk. 1, nr. 1
    "supplement_single_per_month": Unit.OERE_PER_MONTH,     # pensionstillæg, § 49, stk. 1, nr. 3
    "supplement_couple_per_month": Unit.OERE_PER_MONTH,
    "deduction_single": Unit.OERE_PER_YEAR,                 # fradragsbeløb, § 49, stk. 1, nr. 6 + § 49 c
    "deduction_couple": Unit.OERE_PER_YEAR,
    "reduction_single_bp": Unit.BASIS_POINTS,               # § 31, stk. 2, nr. 1-3
    "reduction_partner_not_pensioner_bp": Unit.BASIS_POINTS,
    "reduction_both_pensioners_bp": Unit.BASIS_POINTS,
    "partner_income_disregarded_bp": Unit.BASIS_POINTS,     # § 49, stk. 1, nr. 5
    "full_residence_years": Unit.YEARS,                     # 40 years (before 1.7.2025)
    "full_residence_share_bp": Unit.BASIS_POINTS,           # § 5, stk. 1: 9/10 of the period
    "residence_from_age": Unit.YEARS,                       # § 5, stk. 1: from the 15th year
}

FACTS: dict[str, Unit] = {
    "applicant.civil_status": Unit.TEXT, "applicant.age": Unit.YEARS, "applicant.residence_years": Unit.YEARS,
    "applicant.other_income_per_year": Unit.OERE_PER_YEAR,
    "partner.receives_social_pension": Unit.FLAG, "partner.other_income_per_year": Unit.OERE_PER_YEAR,
}
_PARTNER = ("partner.receives_social_pension", "partner.other_income_per_year")


def _needed(facts: Facts) -> list[str]:
    names = [n for n in FACTS if n not in _PARTNER]
    status = facts.get("applicant.civil_status")
    if status is not None and status.value in ("married", "cohabiting"):
        names += _PARTNER
    return names


def calculate(facts: Facts, rules: RuleSet, period: Period) -> Result:
    w = Worksheet(facts, rules, FACTS)
    w.need(*_needed(facts))
    status = w.choice("applicant.civil_status", STATUSES)
    basic = w.step("Grundbeløb om måneden", w.value("basic_amount_per_month"), Unit.OERE_PER_MONTH,
                   basis=w.section("basic_amount_per_month"))

    years, age = w.fact("applicant.residence_years"), w.fact("applicant.age")
    full_years = w.value("full_residence_years")
    needed_bp, from_age = w.value("full_residence_share_bp"), w.value("residence_from_age")
    if years < full_years:
        w.assess(f"Bopælstid {years} år er under {full_years} år: pensionen beregnes som brøkpension "
                 "(pensionsloven § 5) af en sagsbehandler")
    elif years * 10000 < needed_bp * max(0, age - from_age):
        w.assess(f"Bopælstid {years} år er under {percent(needed_bp)} af årene fra det fyldte {from_age}. år "
                 f"({age - from_age} år): er folkepensionsalderen nået fra 1. juli 2025, beregnes pensionen som "
                 "brøkpension (pensionsloven § 5) af en sagsbehandler")

    own = w.step("Din indkomst om året (ud over folkepension og arbejdsindkomst)",
                 w.fact("applicant.other_income_per_year"), basis="§ 29")
    if status == "single":
        grundlag, deduction_name, rate_name, full_name = own, "deduction_single", "reduction_single_bp", \
            "supplement_single_per_month"
    else:
        partner = w.step("Ægtefælles eller samlevers indkomst om året (ud over social pension og arbejdsindkomst)",
                         w.fact("partner.other_income_per_year"), basis="§ 29")
        deduction_name, full_name = "deduction_couple", "supplement_couple_per_month"
        if w.fact("partner.receives_social_pension"):
            rate_name = "reduction_both_pensioners_bp"
        else:
            rate_name = "reduction_partner_not_pensioner_bp"
            disregarded_bp = w.value("partner_income_disregarded_bp")
            disregarded = w.step("Der ses bort fra en del af ægtefælles eller samlevers indkomst",
                                 -share(partner, disregarded_bp), basis=w.section("partner_income_disregarded_bp"),
                                 working=f"{percent(disregarded_bp)} af {kr(partner)}")
            partner += disregarded
        grundlag = own + partner
    grundlag = w.step("Indkomstgrundlag for pensionstillæg", grundlag, basis="§ 29")
    deduction = w.step("Fradragsbeløb", w.value(deduction_name), basis=w.section(deduction_name))
    excess = w.step("Indkomst over fradragsbeløbet", max(0, grundlag - deduction), basis="§ 31, stk. 2",
                    working=f"{kr(grundlag)} − {kr(deduction)}" if grundlag > deduction
                    else "indkomsten er under fradragsbeløbet")
    full = w.step("Fuldt pensionstillæg om året", 12 * w.value(full_name), basis=w.section(full_name),
                  working=f"12 × {kr(w.value(full_name))}")
    reduction = 0
    if excess:
        rate = w.value(rate_name)
        reduction = w.step("Nedsættelse af pensionstillægget", whole_kroner(share(excess, rate)),
                           basis=w.section(rate_name),
                           working=f"{percent(rate)} × {kr(excess)}, afrundet til hele kroner")
    supplement = w.step("Pensionstillæg om året", max(0, full - reduction), basis="§ 31, stk. 2",
                        working=f"{kr(full)} − {kr(reduction)}")
    monthly = w.step("Pensionstillæg om måneden", divide(supplement, 1200) * 100, Unit.OERE_PER_MONTH,
                     basis="§ 31, stk. 2", working=f"{kr(supplement)} / 12, afrundet til hele kroner")
    total = w.step("Folkepension om måneden", basic + monthly, Unit.OERE_PER_MONTH, basis="§ 12, stk. 1",
                   working=f"grundbeløb {kr(basic)} + pensionstillæg {kr(monthly)}")
    return w.result(total, PER)
