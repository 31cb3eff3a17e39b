"""Boligstøtte (lov om individuel boligstøtte, LBK nr. 995 af 1. juli 2025): boligydelse when the
applicant receives folkepension (§ 21), boligsikring otherwise (§ 22). Calculated on yearly amounts,
paid monthly. The order is the one Udbetaling Danmark's own calculator (boligstoette.dk) reproduces
for every recorded case (tests/test_rules_formulas.py):

1. boligudgift (§ 10): the yearly rent without consumption, less the standard amounts per m² for
   heating, hot water and electricity included in the rent (stk. 2), plus those for water paid
   separately (stk. 3), the tenant's duty of inside maintenance (stk. 4) and heating paid separately
   (stk. 5);
2. the area rule: 65 m² for the first member of the household, 20 m² for each further one; a larger
   dwelling counts with boligudgift × allowed / actual m²;
3. the ceiling on the boligudgift (§ 14, stk. 1), raised 5 % per child up to four and rounded to the
   nearest 100 kr;
4. the household income (§ 8) plus the formuetillæg (§ 8 a): 10 % of the net wealth between the low
   and the high limit, 20 % above the high one;
5. boligydelse: 75 % of (boligudgift + tillæg) less 22,5 % of the income above the income limit
   (§ 21, stk. 1), at most the boligudgift less an own payment of 11 % of the income, at least a
   fixed amount (stk. 2); boligsikring: 60 % of the boligudgift less 18 % of the income above the
   limit (§ 22, stk. 1), at most the boligudgift less a fixed own payment (stk. 2) and, without
   children, 15 % of the boligudgift (stk. 3). The limit rises per child beyond the first up to
   four children (stk. 1, 2. pkt.); for boligsikring to two adults both under 30, per child up to
   three (§ 22, stk. 1, 3. pkt., read as replacing 2. pkt. for them: both give at most three rises);
6. at most the yearly maximum (§ 23, stk. 1), 25 % more with four or more children;
7. rounded half up to whole kroner a year; below the minimum amount nothing is paid (§§ 33-34);
   paid monthly as the yearly amount / 12, rounded half up to whole kroner (as the calculator).

Points a person judges (`Result.assessment`), never a number: a boligudgift above half the household
income (§ 15), an owner or andelshaver (boligydelse is then a loan, § 31, on the boligudgift of § 17;
boligsikring is for tenants, § 1), heating both included and paid separately. Not modelled, for want
of facts: the raises for a severely mobility-impaired member or døgnhjælp (§ 14, stk. 2-3, § 23,
stk. 1, 3.-4. pkt.), the exceptions to the 15 % cap (§ 22, stk. 3, nr. 1-4: førtidspension or
seniorpension in the household among them), care dwellings without ceilings (§ 14, stk. 4-5, § 23,
stk. 2-3), a partial maintenance duty, a luxurious rent (§ 11), the bagatelgrænse applied only the
first time (boligydelse)."""
from __future__ import annotations

from hub.domain.model import PeriodKind
from hub.domain.rules import Facts, Period, Result, RuleSet, Unit, divide, kr, percent, share
from hub.domain.rules.worksheet import Worksheet, whole_kroner

BENEFIT_CODE = "BOLIGSTOETTE"
PER = PeriodKind.MONTH
YDELSE, SIKRING = "boligydelse", "boligsikring"

Y = Unit.OERE_PER_YEAR
M2 = Unit.OERE_PER_M2_PER_YEAR
BP = Unit.BASIS_POINTS
_EACH_SCHEME = {
    "share_bp": BP, "taper_bp": BP, "income_limit": Y, "income_limit_per_child": Y, "own_payment_min": Y,
    "max_per_year": Y, "rent_ceiling": Y, "wealth_low": Unit.OERE, "wealth_high": Unit.OERE, "minimum_payable": Y,
    "deduction_heating_per_m2": M2, "deduction_hot_water_per_m2": M2, "deduction_electricity_per_m2": M2,
    "water_tax_per_m2": M2, "water_drainage_per_m2": M2, "maintenance_per_m2": M2, "heating_supplement_per_m2": M2,
}
PARAMETERS: dict[str, Unit] = {
    **{f"{s}.{n}": u for s in ("ydelse", "sikring") for n, u in _EACH_SCHEME.items()},
    "ydelse.supplement": Y,                     # § 21, stk. 1: added to the boligudgift before the 75 %
    "ydelse.own_payment_bp": BP,                # § 21, stk. 2: 11 % of the income
    "sikring.cap_without_children_bp": BP,      # § 22, stk. 3: 15 %
    "max_raise_four_children_bp": BP,           # § 23, stk. 1, 2. pkt.: 25 %
    "rent_ceiling_raise_per_child_bp": BP,      # § 14, stk. 1: 5 % per child, up to four
    "wealth_low_rate_bp": BP, "wealth_high_rate_bp": BP,   # § 8 a: 10 % and 20 %
    "area.first_person_m2": Unit.M2, "area.per_extra_person_m2": Unit.M2,
    "rent_share_of_income_for_assessment_bp": BP,          # § 15: half the income
}

# The final settlement against the year's final income (hub.domain.settlement; optional in a
# rule set: without them the benefit is calculated but not settled).
SETTLEMENT_PARAMETERS: dict[str, Unit] = {
    "settlement.claim_minimum": Unit.OERE,          # § 47, stk. 4, 1. pkt.: no claim below 250 kr a year
    "settlement.back_payment_minimum": Unit.OERE,   # § 47, stk. 4, 2. pkt.: no back payment below 250 kr
    "settlement.dividend_disregard": Unit.OERE,     # § 8, stk. 1: dividends up to 5.000 kr do not count
    "settlement.automatic_limit": Unit.OERE,        # the authority's: larger results go to a person
    "settlement.offset_allowed": Unit.FLAG,         # § 49, stk. 1: a claim may be offset in later boligstøtte
}
FACTS: dict[str, Unit] = {
    "applicant.receives_folkepension": Unit.FLAG, "household.adults": Unit.COUNT, "household.children": Unit.COUNT,
    "household.income_per_year": Unit.OERE_PER_YEAR, "household.wealth": Unit.OERE,
    "dwelling.rent_per_year": Unit.OERE_PER_YEAR, "dwelling.area_m2": Unit.M2, "dwelling.tenure": Unit.TEXT,
    "dwelling.heating_included": Unit.FLAG, "dwelling.hot_water_included": Unit.FLAG,
    "dwelling.electricity_included": Unit.FLAG, "dwelling.heating_separate": Unit.FLAG,
    "dwelling.water_separate": Unit.FLAG, "dwelling.maintenance_duty": Unit.FLAG,
    # only for boligsikring to two adults with children (§ 22, stk. 1, 3. pkt.)
    "applicant.age": Unit.YEARS, "partner.age": Unit.YEARS,
}
_ALWAYS = tuple(n for n in FACTS if n not in ("applicant.age", "partner.age"))
TENURES = ("rental", "owner", "cooperative")

# (flag, figure, sign, text) for § 10, stk. 2-5
_ADJUSTMENTS = (
    ("dwelling.heating_included", "deduction_heating_per_m2", -1, "Fradrag for varme, der er med i huslejen"),
    ("dwelling.hot_water_included", "deduction_hot_water_per_m2", -1, "Fradrag for varmt vand, der er med i huslejen"),
    ("dwelling.electricity_included", "deduction_electricity_per_m2", -1, "Fradrag for el, der er med i huslejen"),
    ("dwelling.water_separate", "water_tax_per_m2", 1, "Tillæg for vandafgift"),
    ("dwelling.water_separate", "water_drainage_per_m2", 1, "Tillæg for vandafledningsafgift"),
    ("dwelling.maintenance_duty", "maintenance_per_m2", 1, "Tillæg for indvendig vedligeholdelse"),
    ("dwelling.heating_separate", "heating_supplement_per_m2", 1, "Varmetillæg (varmen betales særskilt)"),
)


def _needed(facts: Facts) -> list[str]:
    """The facts this case needs: the ages only where the under-30 rule can apply."""
    names = list(_ALWAYS)
    if "dwelling.tenure" in facts and facts["dwelling.tenure"].value == "owner":
        names.remove("dwelling.rent_per_year")   # an owner pays no rent: the register gives none
    val = {n: facts[n].value for n in ("applicant.receives_folkepension", "household.adults", "household.children",
                                       "applicant.age") if n in facts}
    if (val.get("applicant.receives_folkepension") is False and val.get("household.adults") == 2
            and (val.get("household.children") or 0) >= 1):
        names.append("applicant.age")
        if isinstance(val.get("applicant.age"), int) and val["applicant.age"] < 30:
            names.append("partner.age")
    return names


def calculate(facts: Facts, rules: RuleSet, period: Period) -> Result:
    w = Worksheet(facts, rules, FACTS)
    w.need(*_needed(facts))
    pensioner = w.fact("applicant.receives_folkepension")
    s, scheme = ("ydelse", YDELSE) if pensioner else ("sikring", SIKRING)
    stk = "§ 21" if pensioner else "§ 22"
    adults, children = w.fact("household.adults"), w.fact("household.children")
    tenure = w.choice("dwelling.tenure", TENURES)
    if tenure != "rental" and not pensioner:
        w.step("Ejere og andelshavere kan ikke få boligsikring", 0, basis="§ 1")
        w.assess("Ejer eller andelshaver uden folkepension: boligsikring gives kun til lejere (§ 1); ret til "
                 "boligydelse efter § 2 a (førtidspension, stærkt bevægelseshæmmet) vurderes af en sagsbehandler")
        return w.result(0, PER, scheme)
    if tenure != "rental":
        w.assess("Ejer eller andelshaver: boligydelsen udbetales som lån (§ 31), og boligudgiften opgøres efter § 17, "
                 "ikke som husleje; beregningen skal efterprøves af en sagsbehandler")
        if "dwelling.rent_per_year" not in facts:   # an owner's boligudgift (§ 17) is for a person to make
            w.step("Boligudgiften for en ejerbolig opgøres efter § 17", 0, basis="§ 17")
            return w.result(0, PER, scheme)

    # 1. boligudgift (§ 10)
    rent, area = w.fact("dwelling.rent_per_year"), w.fact("dwelling.area_m2")
    cost = w.step("Husleje om året uden forbrug", rent, basis="§ 10, stk. 1")
    for flag, figure, sign, text in _ADJUSTMENTS:
        if w.fact(flag):
            per_m2 = w.value(f"{s}.{figure}")
            amount = per_m2 * area
            cost += w.step(text, sign * amount, basis=w.section(f"{s}.{figure}"),
                           working=f"{kr(per_m2)} pr. m² × {area} m²")
    if w.fact("dwelling.heating_included") and w.fact("dwelling.heating_separate"):
        w.assess("Varmen er oplyst både som en del af huslejen og som betalt særskilt")
    cost = w.step("Boligudgift om året", max(0, cost), basis="§ 10")
    computed_cost = cost

    # 2. the area rule
    members = max(1, adults + children)
    first, extra = w.value("area.first_person_m2"), w.value("area.per_extra_person_m2")
    allowed = first + extra * (members - 1)
    if area > allowed:
        cost = w.step(f"Boligudgift for de {allowed} m², der kan regnes med", divide(cost * allowed, area),
                      basis=w.section("area.first_person_m2"),
                      working=f"{kr(cost)} × {allowed} m² / {area} m² ({first} m² for første person + {extra} m² for "
                              + ("den anden)" if members == 2 else f"hver af de {members - 1} andre)"))

    # 3. the ceiling (§ 14, stk. 1)
    ceiling = base_ceiling = w.value(f"{s}.rent_ceiling")
    working = f"højst {kr(ceiling)} om året"
    if children:
        raise_bp = w.value("rent_ceiling_raise_per_child_bp") * min(children, 4)
        ceiling = divide(ceiling + share(ceiling, raise_bp), 10000) * 10000
        working = (f"{kr(base_ceiling)} + {percent(raise_bp)} for {children} "
                   f"{'barn' if children == 1 else 'børn'}, afrundet til hele 100 kr = {kr(ceiling)}")
    if cost > ceiling:
        cost = w.step("Boligudgift begrænset til den højeste boligudgift", ceiling,
                      basis=w.section(f"{s}.rent_ceiling"), working=working)

    # 4. income with the formuetillæg (§ 8, § 8 a)
    income = w.step("Husstandens indkomst om året", w.fact("household.income_per_year"), basis="§ 8")
    wealth = w.fact("household.wealth")
    low, high = w.value(f"{s}.wealth_low"), w.value(f"{s}.wealth_high")
    if wealth > low:
        r1, r2 = w.value("wealth_low_rate_bp"), w.value("wealth_high_rate_bp")
        addition = share(min(wealth, high) - low, r1) + (share(wealth - high, r2) if wealth > high else 0)
        w.step("Formuetillæg", addition, basis=w.section(f"{s}.wealth_low"),
               working=f"{percent(r1)} af formuen {kr(wealth)} over {kr(low)}"
                       + (f" op til {kr(high)} + {percent(r2)} af formuen over {kr(high)}" if wealth > high else ""))
        income = w.step("Husstandens indkomst med formuetillæg", income + addition, basis="§ 8 a")
    if computed_cost * 10000 > income * w.value("rent_share_of_income_for_assessment_bp"):
        w.assess(f"Boligudgiften ({kr(computed_cost)}) er over halvdelen af husstandens indkomst ({kr(income)}): "
                 "boligstøtte ydes kun efter en samlet vurdering (§ 15)")

    # 5. the scheme's formula, the income limit raised per child
    limit = base_limit = w.value(f"{s}.income_limit")
    young = (not pensioner and adults == 2 and children >= 1 and w.fact("applicant.age") < 30
             and w.fact("partner.age") < 30)
    rises = min(children, 3) if young else min(max(children - 1, 0), 3)
    if rises:
        per_child = w.value(f"{s}.income_limit_per_child")
        limit += rises * per_child
        w.step("Indkomstgrænse", limit, basis=f"{stk}, stk. 1, {'3' if young else '2'}. pkt.",
               working=f"{kr(base_limit)} + {rises} × {kr(per_child)} "
                       + ("(hvert barn op til tre, begge voksne under 30 år)" if young else
                          "(hvert barn ud over det første, op til fire børn)"))
    else:
        w.step("Indkomstgrænse", limit, basis=w.section(f"{s}.income_limit"))
    excess = w.step("Indkomst over indkomstgrænsen", max(0, income - limit), basis=f"{stk}, stk. 1",
                    working=f"{kr(income)} − {kr(limit)}" if income > limit else "indkomsten er under grænsen")
    share_bp = w.value(f"{s}.share_bp")
    if pensioner:
        supplement = w.value("ydelse.supplement")
        gross = w.step(f"{percent(share_bp)} af boligudgiften med tillæg", share(cost + supplement, share_bp),
                       basis="§ 21, stk. 1", working=f"{percent(share_bp)} × ({kr(cost)} + {kr(supplement)})")
    else:
        gross = w.step(f"{percent(share_bp)} af boligudgiften", share(cost, share_bp), basis="§ 22, stk. 1",
                       working=f"{percent(share_bp)} × {kr(cost)}")
    cut = 0
    if excess:
        taper = w.value(f"{s}.taper_bp")
        cut = w.step(f"{percent(taper)} af indkomsten over grænsen", share(excess, taper), basis=f"{stk}, stk. 1",
                     working=f"{percent(taper)} × {kr(excess)}")
    computed = w.step(f"Beregnet {scheme}", gross - cut, basis=f"{stk}, stk. 1",
                      working=f"{kr(gross)} − {kr(cut)}" if cut else "")
    limits = [(computed, "beregnet")]

    own_min = w.value(f"{s}.own_payment_min")
    if pensioner:
        own_bp = w.value("ydelse.own_payment_bp")
        own = w.step("Egenbetaling", max(share(income, own_bp), own_min), basis="§ 21, stk. 2",
                     working=f"{percent(own_bp)} af {kr(income)}, mindst {kr(own_min)}")
    else:
        own = w.step("Egenbetaling", own_min, basis="§ 22, stk. 2", working="et fast mindstebeløb")
    limits.append((w.step("Boligudgift minus egenbetaling", cost - own, basis=f"{stk}, stk. 2",
                          working=f"{kr(cost)} − {kr(own)}"), "boligudgift minus egenbetaling"))
    if not pensioner and not children:
        cap_bp = w.value("sikring.cap_without_children_bp")
        limits.append((w.step(f"Højst {percent(cap_bp)} af boligudgiften (ingen børn)", share(cost, cap_bp),
                              basis="§ 22, stk. 3", working=f"{percent(cap_bp)} × {kr(cost)}"), "uden børn"))

    # 6. the maximum (§ 23)
    maximum = w.value(f"{s}.max_per_year")
    working = ""
    if children >= 4:
        raise_bp = w.value("max_raise_four_children_bp")
        working = f"{kr(maximum)} + {percent(raise_bp)} (4 eller flere børn)"
        maximum += share(maximum, raise_bp)
    limits.append((w.step(f"Højeste {scheme} om året", maximum, basis="§ 23, stk. 1", working=working),
                   "højeste beløb"))

    # 7. the yearly amount, the minimum, the monthly payment
    yearly = whole_kroner(max(0, min(v for v, _ in limits)))
    w.step(f"{scheme.capitalize()} om året", yearly, basis=f"{stk}, § 23",
           working="det mindste af " + ", ".join(f"{kr(v)} ({why})" for v, why in limits)
                   + ", afrundet til hele kroner")
    if yearly:
        minimum = w.value(f"{s}.minimum_payable")
        if yearly < minimum:
            yearly = w.step("Under mindstebeløbet: udbetales ikke", 0, basis=w.section(f"{s}.minimum_payable"),
                            working=f"{kr(yearly)} er under {kr(minimum)}")
    monthly = w.step(f"{scheme.capitalize()} om måneden", divide(yearly, 1200) * 100, Unit.OERE_PER_MONTH,
                     basis="§ 23", working=f"{kr(yearly)} / 12, afrundet til hele kroner")
    return w.result(monthly, PER, scheme)
