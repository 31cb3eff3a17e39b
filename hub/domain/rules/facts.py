"""The facts a calculation rests on, read from a case's information: the CPR register's
person and household, the rent register's dwelling, the income register's records,
and what the application says. Each fact names the information items it came from,
so that a calculated draft names its decisive facts (forvaltningsloven § 24).

The application's statement (CreateCase.applicant_statement) is read by these keys
(the README lists them): receives_folkepension, partner_receives_social_pension,
residence_years, wealth_oere, daycare_fee_oere_per_month,
child_support_fixed_oere_per_month, child_support_children, hours_per_week,
agreed_weekly_hours; and, to be checked against the registers, rent_oere_per_month,
household_adults and household_children."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from hub.domain import months as month_rules
from hub.domain.model import Case, InformationItem
from hub.domain.rules import Fact, Unit

# Information kinds the registers' answers are kept as.
CPR_KIND = "cpr.person"
RENT_KIND = "rent.dwelling"
INCOME_KIND = "income.register_records"
CPR_SOURCE, RENT_SOURCE, INCOME_SOURCE, STATEMENT_SOURCE = "CPR", "Huslejeregisteret", "eIndkomst", "ansøgningen"

INCOME_MONTHS = 12          # household income: the 12 whole months before the application's month
EARNINGS_MONTHS = 3         # hourly earnings (barselsdagpenge): the 3 whole months before it
ADULT_AGE = 18

# statement key -> (fact, unit, text); hours are given in hours and kept in hundredths.
STATEMENT_FACTS: dict[str, tuple[str, Unit, str]] = {
    "receives_folkepension": ("applicant.receives_folkepension", Unit.FLAG, "du modtager folkepension"),
    "partner_receives_social_pension": ("partner.receives_social_pension", Unit.FLAG,
                                        "din ægtefælle eller samlever modtager social pension"),
    "residence_years": ("applicant.residence_years", Unit.YEARS, "år med bopæl i Danmark"),
    "wealth_oere": ("household.wealth", Unit.OERE, "husstandens formue"),
    "daycare_fee_oere_per_month": ("daycare.fee_per_month", Unit.OERE_PER_MONTH, "forældrebetaling for pladsen"),
    "child_support_fixed_oere_per_month": ("child_support.fixed_per_month", Unit.OERE_PER_MONTH,
                                           "fastsat børnebidrag pr. barn"),
    "child_support_children": ("child_support.children", Unit.COUNT, "antal børn med fastsat bidrag"),
    "hours_per_week": ("employment.hours_per_week", Unit.HOURS, "timer om ugen under orloven"),
    "agreed_weekly_hours": ("employment.agreed_weekly_hours", Unit.HOURS, "overenskomstmæssig ugentlig arbejdstid"),
}
CHECKED_KEYS = ("rent_oere_per_month", "household_adults", "household_children")


@dataclass(frozen=True)
class Person:
    cpr: str
    birth_date: dt.date
    relation: str


@dataclass(frozen=True)
class Registers:
    """What the registers said about a case, as the information items hold it."""
    person: dict[str, Any] | None
    household: tuple[Person, ...]
    person_item: str | None
    dwelling: dict[str, Any] | None
    dwelling_item: str | None
    income: dict[str, list[tuple[str, frozenset[str], list[dict[str, Any]]]]]  # cpr -> [(item id, months, records)]

    def adults(self, on: dt.date) -> tuple[Person, ...]:
        return tuple(p for p in self.household if p.relation != "child" and age(p.birth_date, on) >= ADULT_AGE)

    def children(self, on: dt.date) -> tuple[Person, ...]:
        return tuple(p for p in self.household if p.relation == "child" and age(p.birth_date, on) < ADULT_AGE)

    def partner(self) -> Person | None:
        return next((p for p in self.household if p.relation in ("spouse", "cohabitant")), None)


def age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def registers(items: Iterable[InformationItem], applicant_cpr: str) -> Registers:
    """The latest answer of each register (a register asked again answers anew). Income
    answers name whose income they are (`cpr`), the applicant's when they do not."""
    person = dwelling = None
    person_item = dwelling_item = None
    household: tuple[Person, ...] = ()
    income: dict[str, list[tuple[str, frozenset[str], list[dict[str, Any]]]]] = {}
    for item in items:
        v = item.value if isinstance(item.value, dict) else {}
        if item.kind == CPR_KIND and isinstance(v.get("person"), dict):
            person, person_item = v["person"], item.item_id
            household = tuple(Person(m["cpr"], dt.date.fromisoformat(m["birth_date"]), m["relation"])
                              for m in (v.get("household") or {}).get("members", ()))
        elif item.kind == RENT_KIND and isinstance(v.get("dwelling"), dict):
            dwelling, dwelling_item = v["dwelling"], item.item_id
        elif item.kind == INCOME_KIND:
            income.setdefault(v.get("cpr") or applicant_cpr, []).append(
                (item.item_id, frozenset(v.get("months", ())), list(v.get("records", ()))))
    return Registers(person, household, person_item, dwelling, dwelling_item, income)


def income_window(received: dt.datetime, n: int) -> tuple[str, ...]:
    """The `n` whole months before the month the application was received."""
    first = month_rules.of(received)
    out = []
    m = first
    for _ in range(n):
        m = month_rules.previous(m)
        out.append(m)
    return tuple(reversed(out))


def _whole(v: Any) -> int | None:
    """A statement's number as a whole number (JSON numbers arrive as floats)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0:
        return None
    return int(v) if float(v).is_integer() else None


def statement_facts(case: Case) -> dict[str, Fact]:
    out = {}
    s = case.applicant_statement or {}
    for key, (name, unit, text) in STATEMENT_FACTS.items():
        if key not in s:
            continue
        v = s[key]
        if unit is Unit.FLAG:
            if isinstance(v, bool):
                out[name] = Fact(name, v, unit, STATEMENT_SOURCE, (), text)
        elif unit is Unit.HOURS:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 168:
                out[name] = Fact(name, round(v * 100), unit, STATEMENT_SOURCE, (), text)
        else:
            n = _whole(v)
            if n is not None:
                out[name] = Fact(name, n, unit, STATEMENT_SOURCE, (), text)
    return out


def income_of(reg: Registers, cpr: str, months: tuple[str, ...]) -> tuple[int, int, int, tuple[str, ...]] | None:
    """(§ 8 income, income not subject to AM-bidrag, hours in hundredths) of `cpr` over
    `months`, and the items they came from; None unless every month was answered."""
    answers = [(i, m, records) for i, m, records in reg.income.get(cpr, ()) if m & set(months)]
    if not set(months) <= set().union(*(m for _, m, _ in answers)):
        return None
    total = other = hours = 0
    seen: set[tuple] = set()   # a month answered twice counts once
    for _, _, records in answers:
        for r in records:
            key = (r.get("payer_cvr"), r.get("income_period_start"), r.get("income_type_code"))
            if r.get("income_period_start", "")[:7] not in months or key in seen:
                continue
            seen.add(key)
            with_am, am, without_am = (int(r.get(k) or 0) for k in
                                       ("a_income_with_am_oere", "am_contribution_oere", "a_income_without_am_oere"))
            total += with_am - am + without_am
            other += without_am
            hours += int(r.get("hours") or 0)
    return total, other, hours, tuple(i for i, _, _ in answers)


def facts_of(case: Case, items: Iterable[InformationItem], on: dt.date) -> dict[str, Fact]:
    """Every fact the case's information gives, as of `on` (ages, children under 18)."""
    reg = registers(items, case.cpr)
    out = statement_facts(case)
    if reg.person is not None:
        src, ids = CPR_SOURCE, (reg.person_item,)
        p = reg.person
        born = dt.date.fromisoformat(p["birth_date"])
        out["applicant.age"] = Fact("applicant.age", age(born, on), Unit.YEARS, src, ids, "din alder")
        adults, children = reg.adults(on), reg.children(on)
        partner = reg.partner()
        married = p.get("civil_status") in ("married", "registered_partnership") and partner is not None \
            and partner.relation == "spouse"
        status = "married" if married else "cohabiting" if partner is not None else "single"
        out["applicant.civil_status"] = Fact("applicant.civil_status", status, Unit.TEXT, src, ids,
                                             "civilstand og samliv")
        out["household.adults"] = Fact("household.adults", len(adults), Unit.COUNT, src, ids,
                                       "antal voksne i husstanden")
        out["household.children"] = Fact("household.children", len(children), Unit.COUNT, src, ids,
                                         "antal børn under 18 år i husstanden")
        out["household.single_provider"] = Fact("household.single_provider", len(adults) == 1 and bool(children),
                                                 Unit.FLAG, src, ids, "enlig forsørger")
        window = income_window(case.received_at, INCOME_MONTHS)
        per_adult = [income_of(reg, a.cpr, window) for a in adults]
        if adults and all(x is not None for x in per_adult):
            ids = tuple(dict.fromkeys(i for x in per_adult for i in x[3]))
            out["household.income_per_year"] = Fact(
                "household.income_per_year", sum(x[0] for x in per_adult), Unit.OERE_PER_YEAR, INCOME_SOURCE, ids,
                f"husstandens indkomst de seneste {INCOME_MONTHS} måneder")
        own = income_of(reg, case.cpr, window)
        if own is not None:
            out["applicant.other_income_per_year"] = Fact(
                "applicant.other_income_per_year", own[1], Unit.OERE_PER_YEAR, INCOME_SOURCE, own[3],
                "din indkomst, der ikke er arbejdsindkomst")
        if partner is not None:
            out["partner.age"] = Fact("partner.age", age(partner.birth_date, on), Unit.YEARS, src, ids,
                                      "din ægtefælles eller samlevers alder")
            theirs = income_of(reg, partner.cpr, window)
            if theirs is not None:
                out["partner.other_income_per_year"] = Fact(
                    "partner.other_income_per_year", theirs[1], Unit.OERE_PER_YEAR, INCOME_SOURCE, theirs[3],
                    "din ægtefælles eller samlevers indkomst, der ikke er arbejdsindkomst")
        earnings = income_of(reg, case.cpr, income_window(case.received_at, EARNINGS_MONTHS))
        if earnings is not None and earnings[2] > 0:
            work = earnings[0] - earnings[1]   # A-income after AM-bidrag
            out["employment.hourly_earnings"] = Fact(
                "employment.hourly_earnings", (work * 100 + earnings[2] // 2) // earnings[2], Unit.OERE_PER_HOUR,
                INCOME_SOURCE, earnings[3], f"din gennemsnitlige timeløn de seneste {EARNINGS_MONTHS} måneder")
    if reg.dwelling is not None:
        d, ids = reg.dwelling, (reg.dwelling_item,)
        for key, name, unit, text in (
                ("rent_oere_per_year", "dwelling.rent_per_year", Unit.OERE_PER_YEAR, "årlig husleje uden forbrug"),
                ("area_m2", "dwelling.area_m2", Unit.M2, "boligens areal"),
                ("heating_included", "dwelling.heating_included", Unit.FLAG, "varme er med i huslejen"),
                ("hot_water_included", "dwelling.hot_water_included", Unit.FLAG, "varmt vand er med i huslejen"),
                ("electricity_included", "dwelling.electricity_included", Unit.FLAG, "el er med i huslejen"),
                ("heating_separate", "dwelling.heating_separate", Unit.FLAG, "varme betales særskilt"),
                ("maintenance_duty", "dwelling.maintenance_duty", Unit.FLAG, "du har vedligeholdelsespligt"),
                ("water_separate", "dwelling.water_separate", Unit.FLAG, "vand og vandafledning betales særskilt"),
                ("tenure", "dwelling.tenure", Unit.TEXT, "boligform")):
            if d.get(key) is not None:   # (an owner pays no rent: none is given)
                out[name] = Fact(name, d[key], unit, RENT_SOURCE, ids, text)
    return out


def contradictions(case: Case, facts: dict[str, Fact]) -> list[str]:
    """Where the application says otherwise than the registers: the rent (more than 10 %
    off), the number of adults or of children. Texts name no person."""
    s = case.applicant_statement or {}
    out = []
    rent = _whole(s.get("rent_oere_per_month"))
    if rent is not None and "dwelling.rent_per_year" in facts:
        registered = facts["dwelling.rent_per_year"].value
        if abs(rent * 12 - registered) * 10 > registered:
            out.append("the rent in the application differs by more than 10 % from the rent register's")
    for key, name, what in (("household_adults", "household.adults", "adults"),
                            ("household_children", "household.children", "children")):
        n = _whole(s.get(key))
        if n is not None and name in facts and n != facts[name].value:
            out.append(f"the application gives {n} {what} in the household, the CPR register {facts[name].value}")
    return out
