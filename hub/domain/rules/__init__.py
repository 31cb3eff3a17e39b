"""Benefit rules as data ("e-administrable"): the structure of each benefit's formula is
code (one pure function per benefit, in this package), every rate, threshold, ceiling
and percentage is data: a rule set per benefit, in force from a date, each figure with
the section of the act it belongs to and the published table it was taken from. A new
year's rates are a new rule set, published, never a code change; a decision keeps the
rule set it was calculated with.

Units are whole numbers: money in øre, shares in basis points (1/100 of a per cent:
60 % is 6000, 30,9 % is 3090), areas in whole m². A figure that could not be found is
kept as None with a note of what was searched: a calculation that needs it stops with
MissingRuleData (the case goes to a person), it never guesses.

A formula module has:
    BENEFIT_CODE: str
    PARAMETERS: dict[str, Unit]       every parameter a rule set of the benefit must name
    calculate(facts: Facts, rules: RuleSet, period: Period) -> Result
and raises MissingFacts or MissingRuleData when it cannot calculate."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

from hub.domain.model import PeriodKind


class Unit(str, enum.Enum):
    OERE = "OERE"                                   # a sum of money
    OERE_PER_YEAR = "OERE_PER_YEAR"
    OERE_PER_MONTH = "OERE_PER_MONTH"
    OERE_PER_WEEK = "OERE_PER_WEEK"
    OERE_PER_HOUR = "OERE_PER_HOUR"
    OERE_PER_M2_PER_YEAR = "OERE_PER_M2_PER_YEAR"
    BASIS_POINTS = "BASIS_POINTS"                   # 1/100 of a per cent
    M2 = "M2"
    COUNT = "COUNT"
    HOURS = "HOURS"                                 # hours per week (hundredths where a fraction matters: see name)
    YEARS = "YEARS"
    FLAG = "FLAG"                                   # a fact that is true or false
    TEXT = "TEXT"                                   # a fact that is a word (civil status)
    DATE = "DATE"


@dataclass(frozen=True)
class Parameter:
    """One figure of a rule set."""
    name: str
    value: int | None            # None: not found (`note` says what was searched)
    unit: Unit
    section: str                 # where in the act it belongs: "§ 22, stk. 1"
    source: str                  # where the figure was published: the table, the page
    note: str = ""


class MissingRuleData(Exception):
    """The rule set lacks a figure this calculation needs (not found when it was
    published): a person calculates the case."""

    def __init__(self, benefit_code: str, name: str, note: str = ""):
        super().__init__(f"the rule set of {benefit_code} has no figure for {name}" + (f" ({note})" if note else ""))
        self.benefit_code, self.name, self.note = benefit_code, name, note


class MissingFacts(Exception):
    """The case lacks facts the calculation needs (register data not there, the
    application does not say): named, so that the case can say what it waits for."""

    def __init__(self, names: list[str] | tuple[str, ...]):
        super().__init__("facts missing: " + ", ".join(names))
        self.names = tuple(names)


@dataclass(frozen=True)
class RuleSet:
    benefit_code: str
    version: int                 # 1, 2, ... per benefit, given at publication
    effective_from: dt.date      # in force from this date until a later rule set's
    legal_basis: str             # the act(s) and sections, for the letter
    source: str                  # the published rate table(s) the figures are from
    parameters: Mapping[str, Parameter]
    published_by: str = ""
    published_at: dt.datetime | None = None
    note: str = ""               # why this version (a new year, a correction of ...)

    @property
    def key(self) -> str:
        return f"{self.benefit_code}/{self.version}"

    def value(self, name: str) -> int:
        p = self.parameters.get(name)
        if p is None or p.value is None:
            raise MissingRuleData(self.benefit_code, name, p.note if p else "not in the rule set")
        return p.value

    def parameter(self, name: str) -> Parameter:
        self.value(name)
        return self.parameters[name]


@dataclass(frozen=True)
class Fact:
    """A fact a calculation rests on, with where it came from: the information items of
    the case (the decisive facts of the decision, forvaltningsloven § 24)."""
    name: str                    # "household.income_per_year", "dwelling.area_m2", ...
    value: Any                   # int (øre, m², a count), bool, str, dt.date
    unit: Unit
    source: str                  # "CPR", "eIndkomst", "Huslejeregisteret", "ansøgningen"
    information_ids: tuple[str, ...] = ()
    text: str = ""               # how the letter names it: "husstandens indkomst"


Facts = Mapping[str, Fact]


def fact(facts: Facts, name: str) -> Any:
    """The value of a fact (MissingFacts if the case does not have it)."""
    f = facts.get(name)
    if f is None:
        raise MissingFacts([name])
    return f.value


def require(facts: Facts, *names: str) -> None:
    """All of `names`, or MissingFacts naming every one that is missing."""
    missing = [n for n in names if n not in facts]
    if missing:
        raise MissingFacts(missing)


@dataclass(frozen=True)
class Period:
    """What is calculated: the amount per `per` (a month, a week) for the period from
    `start` to `end` (inclusive)."""
    start: dt.date
    end: dt.date
    per: PeriodKind = PeriodKind.MONTH


@dataclass(frozen=True)
class Step:
    """One step of a calculation, as the letter shows it."""
    text: str                    # Danish: "Boligudgift (husleje og varmetillæg)"
    value: int
    unit: Unit
    basis: str = ""              # the section it applies: "§ 22, stk. 1"
    working: str = ""            # the arithmetic with the figures: "0,60 × 50.100 kr − 0,18 × 129.700 kr"


@dataclass(frozen=True)
class Result:
    """What a formula gives for a period: the amount per period unit (0: nothing to
    pay), the steps, the facts and figures used, and any point a person must judge
    (the formula's answer then stands only if a person agrees)."""
    amount_oere: int
    per: PeriodKind
    steps: tuple[Step, ...]
    facts_used: tuple[str, ...]
    parameters_used: tuple[str, ...]
    assessment: tuple[str, ...] = ()
    scheme: str = ""             # a variant of the benefit the facts chose (boligydelse / boligsikring)


def kr(oere: int) -> str:
    """Øre as Danish kroner for a letter: 123456 -> '1.234,56 kr', 50000 -> '500 kr'."""
    sign = "−" if oere < 0 else ""
    whole, part = divmod(abs(oere), 100)
    text = f"{whole:,}".replace(",", ".")
    return f"{sign}{text},{part:02d} kr" if part else f"{sign}{text} kr"


def percent(bp: int) -> str:
    """Basis points as a Danish percentage: 3090 -> '30,9 %', 6000 -> '60 %'."""
    whole, part = divmod(bp, 100)
    return f"{whole},{part:02d}".rstrip("0").rstrip(",") + " %"


def share(amount: int, bp: int) -> int:
    """`bp` basis points of `amount`, rounded half up (amounts are never negative here)."""
    return (amount * bp + 5000) // 10000


def divide(amount: int, n: int) -> int:
    """`amount` / `n`, rounded half up."""
    return (2 * amount + n) // (2 * n)


FORMULAS: dict[str, Any] = {}   # benefit code -> formula module (filled by hub.domain.rules.formulas)


@dataclass(frozen=True)
class PeriodResult:
    period: Period
    rule_set: RuleSet
    result: Result


@dataclass(frozen=True)
class Calculation:
    """A calculated draft: per period, the amount the rules in force then give, with the
    steps and the facts it rests on."""
    case_id: str
    benefit_code: str
    results: tuple[PeriodResult, ...]
    facts: tuple[Fact, ...] = field(default=())

    @property
    def information_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i for f in self.facts for i in f.information_ids))


# ---- a rule set as data (the seed files, PublishRuleSet) ---------------------------------------

def rule_set_from_dict(d: Mapping[str, Any], *, version: int = 0) -> RuleSet:
    """A rule set from its JSON form:

        {"benefit_code": "BOLIGSTOETTE", "effective_from": "2026-01-01",
         "legal_basis": "...", "source": "...", "note": "...",
         "parameters": {"sikring.income_limit": {"value": 17030000, "unit": "OERE_PER_YEAR",
                                                 "section": "§ 22, stk. 1", "source": "...", "note": ""}, ...}}

    (ValueError naming what is wrong.)"""
    params = parameters_from_dict(d.get("parameters") or {})
    return RuleSet(str(d["benefit_code"]), int(d.get("version", version)), dt.date.fromisoformat(d["effective_from"]),
                   str(d.get("legal_basis", "")), str(d.get("source", "")), params, note=str(d.get("note", "")))


def parameters_from_dict(d: Mapping[str, Any]) -> dict[str, Parameter]:
    """The figures of a rule set (or of any rule data: hub.domain.control) from their JSON
    form, {name: {"value", "unit", "section", "source", "note"}} (ValueError naming what
    is wrong)."""
    params = {}
    for name, p in dict(d).items():
        value = p.get("value")
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"parameter {name}: value must be a whole number (øre, basis points, m²) or null")
        if value is None and not str(p.get("note", "")).strip():
            raise ValueError(f"parameter {name}: a figure that is not there needs a note of what was searched")
        params[name] = Parameter(name, value, Unit(p["unit"]), str(p.get("section", "")), str(p.get("source", "")),
                                 str(p.get("note", "")))
    return params


def parameters_to_dict(params: Mapping[str, Parameter]) -> dict[str, Any]:
    return {n: dict(value=p.value, unit=p.unit.value, section=p.section, source=p.source, note=p.note)
            for n, p in params.items()}


def rule_set_to_dict(r: RuleSet) -> dict[str, Any]:
    return dict(benefit_code=r.benefit_code, version=r.version, effective_from=r.effective_from.isoformat(),
                legal_basis=r.legal_basis, source=r.source, note=r.note, parameters=parameters_to_dict(r.parameters))


# ---- which rule set governs when --------------------------------------------------------------

def in_force(rule_sets: list[RuleSet] | tuple[RuleSet, ...], on: dt.date) -> RuleSet | None:
    """The rule set that governs `on`: the latest effective date on or before it, and of
    two for the same date the later version (a correction)."""
    found = [r for r in rule_sets if r.effective_from <= on]
    return max(found, key=lambda r: (r.effective_from, r.version)) if found else None


def segments(rule_sets: list[RuleSet] | tuple[RuleSet, ...], start: dt.date,
             end: dt.date) -> list[tuple[dt.date, dt.date, RuleSet | None]]:
    """[start, end] cut where another rule set takes over, each part with its rule set
    (None for a part before any)."""
    cuts = sorted({r.effective_from for r in rule_sets if start < r.effective_from <= end})
    out, at = [], start
    for cut in cuts + [end + dt.timedelta(days=1)]:
        out.append((at, cut - dt.timedelta(days=1), in_force(rule_sets, at)))
        at = cut
    return out


# ---- a calculation as a decision keeps it and a letter shows it ------------------------------

def shown(f: Fact) -> str:
    """A fact's value as the letter shows it."""
    v = f.value
    if isinstance(v, bool):
        return "ja" if v else "nej"
    if f.unit in (Unit.OERE, Unit.OERE_PER_YEAR, Unit.OERE_PER_MONTH, Unit.OERE_PER_WEEK, Unit.OERE_PER_HOUR):
        per = {Unit.OERE_PER_YEAR: " om året", Unit.OERE_PER_MONTH: " om måneden", Unit.OERE_PER_WEEK: " om ugen",
               Unit.OERE_PER_HOUR: " i timen"}.get(f.unit, "")
        return kr(int(v)) + per
    if f.unit is Unit.M2:
        return f"{v} m²"
    if f.unit is Unit.HOURS:
        return f"{int(v) / 100:g}".replace(".", ",") + " timer"
    if f.unit is Unit.YEARS:
        return f"{v} år"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def calculation_to_dict(c: Calculation, departure_reason: str = "") -> dict[str, Any]:
    """The stored form (a decision's `calculation`): JSON, and complete enough to show
    the letter's reasons without the rule sets."""
    return dict(
        benefit_code=c.benefit_code, departure_reason=departure_reason,
        periods=[dict(period_start=p.period.start.isoformat(), period_end=p.period.end.isoformat(),
                      per=p.period.per.value, amount_oere=p.result.amount_oere, rule_set=p.rule_set.key,
                      rule_set_version=p.rule_set.version, legal_basis=p.rule_set.legal_basis,
                      scheme=p.result.scheme, assessment=list(p.result.assessment),
                      parameters_used=list(p.result.parameters_used),
                      steps=[dict(text=s.text, value=s.value, unit=s.unit.value, basis=s.basis, working=s.working)
                             for s in p.result.steps]) for p in c.results],
        facts=[dict(name=f.name, text=f.text or f.name, shown=shown(f), unit=f.unit.value, source=f.source,
                    information_ids=list(f.information_ids), value=stored_value(f.value)) for f in c.facts])


def stored_value(v: Any) -> Any:
    """A fact's value as the stored calculation keeps it (JSON: a whole number, a text,
    true/false; a date as ISO text), so that what a grant assumed can be read back
    (hub.domain.control compares it with the registers)."""
    return v.isoformat() if isinstance(v, dt.date) else v


def facts_from_dict(c: Mapping[str, Any]) -> dict[str, Fact] | None:
    """The facts a stored calculation rests on, with their values; None when it was
    stored without them (by an older hub): then read them from the case's information."""
    out = {}
    for f in c.get("facts", ()):
        if "value" not in f:
            return None
        out[f["name"]] = Fact(f["name"], f["value"], Unit(f["unit"]), f.get("source", ""),
                              tuple(f.get("information_ids", ())), f.get("text", ""))
    return out


def reasoning(c: Calculation) -> str:
    """The reasons a calculated draft gives (forvaltningsloven § 22, § 24): the facts it
    rests on, then each period's calculation step by step."""
    lines = ["Afgørelsen er beregnet efter reglerne ud fra disse oplysninger:"]
    lines += [f"- {f.text or f.name}: {shown(f)} (kilde: {f.source})" for f in c.facts]
    for p in c.results:
        lines.append("")
        lines.append(f"Perioden {p.period.start.isoformat()} til {p.period.end.isoformat()} "
                     f"(satser version {p.rule_set.version}, gældende fra {p.rule_set.effective_from.isoformat()}):")
        for s in p.result.steps:
            basis = f" ({s.basis})" if s.basis else ""
            working = f": {s.working}" if s.working else ""
            lines.append(f"- {s.text}{basis}{working}")
        per = {PeriodKind.MONTH: "om måneden", PeriodKind.WEEK: "om ugen"}.get(p.period.per, "")
        lines.append(f"Beløb: {kr(p.result.amount_oere)} {per}".rstrip())
    return "\n".join(lines)
