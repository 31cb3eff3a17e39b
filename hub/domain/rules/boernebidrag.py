"""Forskudsvis udbetalt børnebidrag (lov om børnetilskud og forskudsvis udbetaling af børnebidrag):
a bidrag fixed by Familieretshuset or a court and not paid when due is advanced by Udbetaling Danmark
(§ 11), at most the normalbidrag, grundbeløb + tillæg (§ 14); what is fixed above it (a forhøjet
bidrag) is only collected from the payer, not advanced.

    forskud = children × min(the fixed bidrag per child, grundbeløb + tillæg)   a month, in øre

The conditions of § 11 (a bidrag fixed by an authority, not by private agreement; the child lives
with the applicant; the months due and unpaid) are facts of the case, not of this formula."""
from __future__ import annotations

from hub.domain.model import PeriodKind
from hub.domain.rules import Facts, Period, Result, RuleSet, Unit, kr
from hub.domain.rules.worksheet import Worksheet

BENEFIT_CODE = "BOERNEBIDRAG"
PER = PeriodKind.MONTH

PARAMETERS: dict[str, Unit] = {
    "normal_basic_per_month": Unit.OERE_PER_MONTH,       # normalbidrag, grundbeløb: § 14, 2. og 3. pkt.
    "normal_supplement_per_month": Unit.OERE_PER_MONTH,  # normalbidrag, tillæg: § 14, 2. og 4. pkt.
}

FACTS: dict[str, Unit] = {
    "child_support.fixed_per_month": Unit.OERE_PER_MONTH, "child_support.children": Unit.COUNT,
}


def calculate(facts: Facts, rules: RuleSet, period: Period) -> Result:
    w = Worksheet(facts, rules, FACTS)
    w.need(*FACTS)
    children = w.fact("child_support.children")
    fixed = w.step("Fastsat børnebidrag pr. barn om måneden", w.fact("child_support.fixed_per_month"),
                   Unit.OERE_PER_MONTH, basis="lov om børns forsørgelse")
    if not children:
        w.step("Ingen børn med et fastsat bidrag", 0, Unit.OERE_PER_MONTH, basis="§ 11")
        return w.result(0, PER)
    basic, supplement = w.value("normal_basic_per_month"), w.value("normal_supplement_per_month")
    normal = w.step("Normalbidrag pr. barn om måneden", basic + supplement, Unit.OERE_PER_MONTH,
                    basis=w.section("normal_basic_per_month"),
                    working=f"grundbeløb {kr(basic)} + tillæg {kr(supplement)}")
    per_child = w.step("Forskud pr. barn om måneden", min(fixed, normal), Unit.OERE_PER_MONTH, basis="§ 11",
                       working="det fastsatte bidrag, højst normalbidraget"
                               + (f": {kr(fixed - normal)} over normalbidraget opkræves kun hos bidragsbetaleren"
                                  if fixed > normal else ""))
    total = w.step("Forskud om måneden", children * per_child, Unit.OERE_PER_MONTH, basis="§ 11",
                   working=f"{children} × {kr(per_child)}")
    return w.result(total, PER)
