"""IT control ("IT-kontrol"): the registers cross-matched against what a grant assumed.
Each rule's structure is code here (a pure function: no I/O); its thresholds are data, a
control rule per rule code, versioned and in force from a date like a benefit's rule
set (hub.domain.rules: the same Parameter, Unit and `in_force`), each figure with the
section of the act it belongs to where an act gives one (hub/store/seeds/control_rules).

    INCOME_DEVIATION          the household's income in the income register deviates from the
                              income the grant was calculated on by more than a share
    HOUSEHOLD_CHANGE          the CPR register's household at the address: a new adult, a child gone
    RENT_CHANGE               the rent register's rent differs from the grant's
    PAYMENT_AFTER_DEATH       payments (or a grant in force) for months after a death in CPR
    PAYMENT_AFTER_EMIGRATION  ... after an emigration in CPR

A hit is a finding on the case for the municipality's local control unit, which does the
physical control and records its outcome (`Outcome`). What a rule compares is what the
grant's stored calculation rests on (its facts with their values), so a grant typed
without a calculation is checked by the payment rules only."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from hub.domain import months as month_rules
from hub.domain.errors import FailedPrecondition
from hub.domain.rules import (MissingFacts, MissingRuleData, Parameter, Period, Unit, in_force, parameters_from_dict,
                              parameters_to_dict)
from hub.domain.rules import facts as facts_rules


class RuleCode(str, enum.Enum):
    INCOME_DEVIATION = "INCOME_DEVIATION"
    HOUSEHOLD_CHANGE = "HOUSEHOLD_CHANGE"
    RENT_CHANGE = "RENT_CHANGE"
    PAYMENT_AFTER_DEATH = "PAYMENT_AFTER_DEATH"
    PAYMENT_AFTER_EMIGRATION = "PAYMENT_AFTER_EMIGRATION"


ALL_RULES: tuple[RuleCode, ...] = tuple(RuleCode)

# The figures each rule's data must name, and their units.
PARAMETERS: dict[RuleCode, dict[str, Unit]] = {
    RuleCode.INCOME_DEVIATION: {"window_months": Unit.COUNT, "deviation_share": Unit.BASIS_POINTS,
                                "deviation_minimum_per_month": Unit.OERE_PER_MONTH},
    RuleCode.HOUSEHOLD_CHANGE: {"new_adults_minimum": Unit.COUNT, "children_moved_out_minimum": Unit.COUNT},
    RuleCode.RENT_CHANGE: {"deviation_share": Unit.BASIS_POINTS},
    RuleCode.PAYMENT_AFTER_DEATH: {"months_allowed_after": Unit.COUNT, "months_minimum": Unit.COUNT},
    RuleCode.PAYMENT_AFTER_EMIGRATION: {"months_allowed_after": Unit.COUNT, "months_minimum": Unit.COUNT},
}
MAX_WINDOW_MONTHS = 24   # the most months of income one check asks the register for

# The facts of a grant's calculation the rules compare (hub.domain.rules.facts names them).
INCOME = "household.income_per_year"
ADULTS = "household.adults"
CHILDREN = "household.children"
RENT = "dwelling.rent_per_year"

# Where an observation comes from (hub.ports destinations, and the hub's own payments).
CPR_SOURCE, RENT_SOURCE, INCOME_SOURCE, PAYMENTS_SOURCE = "cpr_register", "rent_register", "income_register", "hub"


class Status(str, enum.Enum):
    OPEN = "OPEN"        # sent to the control unit; its control's outcome not recorded yet
    CLOSED = "CLOSED"    # the outcome is recorded


class Outcome(str, enum.Enum):
    """What the municipality's physical control found."""
    NO_CHANGE = "NO_CHANGE"                      # the grant stands (the deviation is explained)
    ENTITLEMENT_CHANGED = "ENTITLEMENT_CHANGED"  # the register is right: a new decision
    FRAUD_SUSPECTED = "FRAUD_SUSPECTED"          # as ENTITLEMENT_CHANGED, and the municipality suspects fraud

    @property
    def changes_entitlement(self) -> bool:
        return self is not Outcome.NO_CHANGE


class FollowUp(str, enum.Enum):
    """What the hub did after the outcome."""
    NONE = "NONE"                      # nothing to do (no change)
    DRAFT_DECISION = "DRAFT_DECISION"  # a new draft decision, through the usual path (its id on the finding)
    BACK_OFFICE = "BACK_OFFICE"        # no draft could be made: the back office takes it (the reason says why)


# ---- the rule data ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ControlRule:
    """One version of a control rule's data: its thresholds, in force from a date."""
    code: RuleCode
    version: int
    effective_from: dt.date
    title: str                   # Danish, for the control unit
    legal_basis: str
    source: str
    parameters: Mapping[str, Parameter]
    note: str = ""
    published_by: str = ""
    published_at: dt.datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.code.value}/{self.version}"

    def value(self, name: str) -> int:
        p = self.parameters.get(name)
        if p is None or p.value is None:
            raise MissingRuleData(self.code.value, name, p.note if p else "not in the control rule")
        return p.value


def control_rule_from_dict(d: Mapping[str, Any], *, version: int = 0) -> ControlRule:
    """A control rule's data from its JSON form (the seed files'):

        {"rule_code": "INCOME_DEVIATION", "effective_from": "2025-01-01", "title": "...",
         "legal_basis": "...", "source": "...", "note": "...",
         "parameters": {"deviation_share": {"value": 1000, "unit": "BASIS_POINTS", "section": "",
                                            "source": "...", "note": "..."}, ...}}

    (ValueError naming what is wrong.)"""
    try:
        code = RuleCode(d["rule_code"])
    except (KeyError, ValueError):
        raise ValueError("rule_code is not a control rule") from None
    return ControlRule(code, int(d.get("version", version)), dt.date.fromisoformat(d["effective_from"]),
                       str(d.get("title", "")), str(d.get("legal_basis", "")), str(d.get("source", "")),
                       parameters_from_dict(d.get("parameters") or {}), note=str(d.get("note", "")))


def control_rule_to_dict(r: ControlRule) -> dict[str, Any]:
    return dict(rule_code=r.code.value, version=r.version, effective_from=r.effective_from.isoformat(), title=r.title,
                legal_basis=r.legal_basis, source=r.source, note=r.note,
                parameters=parameters_to_dict(r.parameters))


def check_rule(r: ControlRule) -> list[str]:
    """What is wrong with a rule's data: a figure it must name that is missing or in
    another unit, a figure it does not use, a window the register cannot answer."""
    problems = []
    wanted = PARAMETERS[r.code]
    for name, unit in wanted.items():
        p = r.parameters.get(name)
        if p is None:
            problems.append(f"{r.code.value} must name {name}")
        elif p.unit is not unit:
            problems.append(f"{r.code.value}: {name} is in {unit.value}, not {p.unit.value}")
        elif p.value is not None and p.value < 0:
            problems.append(f"{r.code.value}: {name} must not be negative")
    problems += [f"{r.code.value} does not use {name}" for name in r.parameters if name not in wanted]
    window = r.parameters.get("window_months")
    if window is not None and window.value is not None and not 1 <= window.value <= MAX_WINDOW_MONTHS:
        problems.append(f"{r.code.value}: window_months must be from 1 to {MAX_WINDOW_MONTHS}")
    return problems


def rules_in_force(versions: Iterable[ControlRule], codes: Iterable[RuleCode],
                   on: dt.date) -> dict[RuleCode, ControlRule | None]:
    """Each of `codes`' rule data in force on `on` (None: none)."""
    by: dict[RuleCode, list[ControlRule]] = {}
    for r in versions:
        by.setdefault(r.code, []).append(r)
    return {c: in_force(by.get(c, []), on) for c in codes}


# ---- what a check compares ---------------------------------------------------------------------

@dataclass(frozen=True)
class Grant:
    """A grant in force in the month controlled, and what it assumed: the facts its
    calculation rests on, by name, with their values ({} for a grant typed without a
    calculation)."""
    case_id: str
    decision_id: str
    municipality_code: str
    benefit_code: str
    cpr: str
    amount_oere: int                  # what it grants for the month controlled
    assumed: Mapping[str, Any] = field(default_factory=dict)

    def assumes(self, name: str) -> bool:
        return self.assumed.get(name) is not None


@dataclass(frozen=True)
class PaidMonth:
    """A month of the grant's case that the hub paid (an order made, not cancelled or
    returned) or that a grant in force still governs."""
    month: str                        # YYYY-MM
    amount_oere: int


@dataclass(frozen=True)
class Registers:
    """What the registers answered for one grant (None: not asked, or not known there)."""
    person: Mapping[str, Any] | None = None          # the CPR register's person
    household: Mapping[str, Any] | None = None       # ... and the household at the address
    cpr_reference: str = ""
    income: Mapping[str, Sequence[Mapping[str, Any]]] | None = None   # cpr -> records of the window's months
    income_reference: str = ""
    dwelling: Mapping[str, Any] | None = None        # the rent register's dwelling at the address
    rent_reference: str = ""
    paid: Sequence[PaidMonth] = ()                   # the case's months paid or in force (payment rules)
    # The household's adults (their CPR numbers) and number of children at the end of the
    # month controlled (`counts`), when counted already.
    adults: tuple[str, ...] | None = None
    children: int | None = None

    def counted(self, period: str) -> tuple[tuple[str, ...], int]:
        if self.adults is not None and self.children is not None:
            return self.adults, self.children
        return counts(self.household, month_end(period))


@dataclass(frozen=True)
class Observation:
    """One fact of a finding: what the register says against what the grant assumed."""
    name: str
    label: str
    register_value: int | str | bool | None
    assumed_value: int | str | bool | None
    unit: str = ""
    source: str = ""
    source_reference: str = ""


@dataclass(frozen=True)
class Hit:
    """A rule that hit one grant. `match_key` is what the finding is about (the month
    controlled for an income, the register's values for a household or a rent, the date
    of a death or an emigration): the same case, rule and key is one finding, however
    often the control runs. `register_data` is what a new draft decision needs of the
    register's answer, if the entitlement changed; it does not go to the control unit."""
    rule: RuleCode
    rule_key: str
    title: str
    match_key: str
    period_start: dt.date
    period_end: dt.date | None
    observations: tuple[Observation, ...]
    register_data: Mapping[str, Any]
    amount_at_stake_oere_per_month: int | None = None
    # The facts the grant's calculation would rest on instead (for the money at stake).
    changed_facts: Mapping[str, Any] = field(default_factory=dict)


def month_start(period: str) -> dt.date:
    return dt.date.fromisoformat(period + "-01")


def month_end(period: str) -> dt.date:
    return month_rules.last_day(month_start(period))


def month_of(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def window(period: str, n: int) -> tuple[str, ...]:
    """The `n` months up to and including `period`."""
    out = [period]
    for _ in range(n - 1):
        out.append(month_rules.previous(out[-1]))
    return tuple(reversed(out))


def household_members(household: Mapping[str, Any] | None) -> tuple[facts_rules.Person, ...]:
    return tuple(facts_rules.Person(m["cpr"], dt.date.fromisoformat(m["birth_date"]), m["relation"])
                 for m in (household or {}).get("members", ()))


def counts(household: Mapping[str, Any] | None, on: dt.date) -> tuple[tuple[str, ...], int]:
    """The adults at the address (their CPR numbers) and the number of children, as the
    grant's facts count them (hub.domain.rules.facts: 18 and over, children under 18)."""
    reg = facts_rules.Registers(None, household_members(household), None, None, None, {})
    return tuple(p.cpr for p in reg.adults(on)), len(reg.children(on))


def income_per_year(records: Mapping[str, Sequence[Mapping[str, Any]]], adults: Sequence[str],
                    months: Sequence[str]) -> int | None:
    """The adults' income over `months` (as the grant's household income is counted:
    hub.domain.rules.facts.income_of), as a yearly rate; None when an adult's months
    were not answered."""
    if not adults:
        return None
    reg = facts_rules.Registers(None, (), None, None, None,
                                {c: [("", frozenset(months), list(records.get(c, ())))] for c in adults
                                 if c in records})
    total = 0
    for c in adults:
        got = facts_rules.income_of(reg, c, tuple(months))
        if got is None:
            return None
        total += got[0]
    return total * 12 // len(months)


def _share_exceeded(deviation: int, base: int, bp: int) -> bool:
    """|deviation| more than `bp` basis points of `base` (a base of 0: any deviation)."""
    return abs(deviation) * 10000 > bp * abs(base)


# ---- the rules ----------------------------------------------------------------------------------

def income_deviation(rule: ControlRule, grant: Grant, reg: Registers, period: str) -> Hit | None:
    if not grant.assumes(INCOME) or reg.income is None or reg.household is None:
        return None
    months = window(period, rule.value("window_months"))
    adults, _ = reg.counted(period)
    found = income_per_year(reg.income, adults, months)
    if found is None:
        return None
    assumed = int(grant.assumed[INCOME])
    deviation = found - assumed
    if not (_share_exceeded(deviation, assumed, rule.value("deviation_share"))
            and abs(deviation) > 12 * rule.value("deviation_minimum_per_month")):
        return None
    persons = [dict(cpr=c, income_oere=income_per_year(reg.income, (c,), months)) for c in adults]
    return Hit(rule.code, rule.key, rule.title, period, month_start(months[0]), month_end(period), (
        Observation(INCOME, "Husstandens indkomst om året", found, assumed, "øre/år", INCOME_SOURCE,
                    reg.income_reference),), dict(months=list(months), income_per_year_oere=found, persons=persons,
                                                  reference=reg.income_reference), changed_facts={INCOME: found})


def household_change(rule: ControlRule, grant: Grant, reg: Registers, period: str) -> Hit | None:
    if not (grant.assumes(ADULTS) or grant.assumes(CHILDREN)) or reg.household is None:
        return None
    adults, children = reg.counted(period)
    observations, changed = [], {}
    new_adults = len(adults) - int(grant.assumed[ADULTS]) if grant.assumes(ADULTS) else 0
    gone = int(grant.assumed[CHILDREN]) - children if grant.assumes(CHILDREN) else 0
    hit = (new_adults >= max(1, rule.value("new_adults_minimum"))
           or gone >= max(1, rule.value("children_moved_out_minimum")))
    if not hit:
        return None
    if grant.assumes(ADULTS):
        observations.append(Observation(ADULTS, "Voksne i husstanden", len(adults), int(grant.assumed[ADULTS]),
                                        "personer", CPR_SOURCE, reg.cpr_reference))
        changed[ADULTS] = len(adults)
    if grant.assumes(CHILDREN):
        observations.append(Observation(CHILDREN, "Børn under 18 år i husstanden", children,
                                        int(grant.assumed[CHILDREN]), "personer", CPR_SOURCE, reg.cpr_reference))
        changed[CHILDREN] = children
    return Hit(rule.code, rule.key, rule.title, f"adults={len(adults)};children={children}", month_start(period),
               None, tuple(observations), dict(cpr=dict(person=dict(reg.person or {}),
                                                        household=dict(reg.household)),
                                               reference=reg.cpr_reference), changed_facts=changed)


def rent_change(rule: ControlRule, grant: Grant, reg: Registers, period: str) -> Hit | None:
    if not grant.assumes(RENT) or reg.dwelling is None:
        return None
    found = reg.dwelling.get("rent_oere_per_year")
    assumed = int(grant.assumed[RENT])
    if found is not None and not _share_exceeded(found - assumed, assumed, rule.value("deviation_share")):
        return None
    return Hit(rule.code, rule.key, rule.title, f"rent={found}", month_start(period), None, (
        Observation(RENT, "Årlig husleje uden forbrug", found, assumed, "øre/år", RENT_SOURCE,
                    reg.rent_reference),), dict(dwelling=dict(reg.dwelling), reference=reg.rent_reference),
        changed_facts={RENT: found} if found is not None else {})


_EVENTS = {RuleCode.PAYMENT_AFTER_DEATH: ("dead", "Dødsdato"), RuleCode.PAYMENT_AFTER_EMIGRATION:
           ("emigrated", "Udrejsedato")}


def payment_after(rule: ControlRule, grant: Grant, reg: Registers, period: str) -> Hit | None:
    """Months paid (or in force) after the month of a death or emigration the CPR
    register records, plus the months the rule allows."""
    status, label = _EVENTS[rule.code]
    if reg.person is None or reg.person.get("status") != status or not reg.person.get("status_date"):
        return None
    when = dt.date.fromisoformat(reg.person["status_date"])
    last_allowed = month_of(when)
    for _ in range(rule.value("months_allowed_after")):
        last_allowed = month_rules.following(last_allowed)
    after = sorted({p.month: p for p in reg.paid if p.month > last_allowed and p.month <= period}.values(),
                   key=lambda p: p.month)
    if len(after) < max(1, rule.value("months_minimum")):
        return None
    return Hit(rule.code, rule.key, rule.title, when.isoformat(), month_start(after[0].month),
               month_end(after[-1].month), (
                   Observation("person.status", "Status i CPR", status, "alive", "", CPR_SOURCE, reg.cpr_reference),
                   Observation("person.status_date", label, when.isoformat(), None, "", CPR_SOURCE,
                               reg.cpr_reference),
                   Observation("payments.months_after", "Måneder udbetalt efter hændelsen", len(after), 0, "måneder",
                               PAYMENTS_SOURCE, ""),
                   Observation("payments.amount_after", "Beløb udbetalt efter hændelsen",
                               sum(p.amount_oere for p in after), 0, "øre", PAYMENTS_SOURCE, "")),
               dict(cpr=dict(person=dict(reg.person), household=None), reference=reg.cpr_reference,
                    event=status, event_date=when.isoformat(), months=[p.month for p in after],
                    stop_from=month_rules.following(last_allowed)),
               amount_at_stake_oere_per_month=max(p.amount_oere for p in after))


MATCHERS = {RuleCode.INCOME_DEVIATION: income_deviation, RuleCode.HOUSEHOLD_CHANGE: household_change,
            RuleCode.RENT_CHANGE: rent_change, RuleCode.PAYMENT_AFTER_DEATH: payment_after,
            RuleCode.PAYMENT_AFTER_EMIGRATION: payment_after}


def check(rules: Mapping[RuleCode, ControlRule], grant: Grant, reg: Registers, period: str) -> list[Hit]:
    """Every rule of `rules` that hits `grant` in the month `period`, given what the
    registers answered. A rule whose data lacks a figure hits nothing (MissingRuleData
    is raised before a run starts: `require_data`)."""
    return [h for code, rule in rules.items() if (h := MATCHERS[code](rule, grant, reg, period)) is not None]


def needs(rules: Iterable[RuleCode], grant: Grant) -> tuple[bool, bool]:
    """Whether checking `grant` by `rules` needs the income register (its household's
    income) and the rent register (the dwelling at the address)."""
    rules = set(rules)
    return (RuleCode.INCOME_DEVIATION in rules and grant.assumes(INCOME),
            RuleCode.RENT_CHANGE in rules and grant.assumes(RENT))


def require_data(rules: Mapping[RuleCode, ControlRule | None]) -> list[str]:
    """What keeps `rules` from running: a rule without data in force, a figure missing."""
    problems = []
    for code, rule in rules.items():
        if rule is None:
            problems.append(f"{code.value}: no control rule data in force")
            continue
        problems += check_rule(rule)
        problems += [f"{rule.key}: {name} is not there ({rule.parameters[name].note})"
                     for name in PARAMETERS[code] if name in rule.parameters and rule.parameters[name].value is None]
    return problems


def with_stake(hit: Hit, stake: int | None) -> Hit:
    return hit if hit.amount_at_stake_oere_per_month is not None else replace(hit,
                                                                             amount_at_stake_oere_per_month=stake)


def recalculated(formula: Any, facts: Mapping[str, Any], changed: Mapping[str, Any], rule_set: Any,
                 period: str) -> int | None:
    """What the benefit's formula gives for the month `period` on the grant's facts with
    `changed` in place of what it assumed (hub.domain.rules.Fact by name); None when it
    cannot calculate so (a fact the change makes necessary is not there)."""
    new = dict(facts)
    for name, value in changed.items():
        if name in new:
            new[name] = replace(new[name], value=value)
    try:
        return formula.calculate(new, rule_set, Period(month_start(period), month_end(period))).amount_oere
    except (MissingFacts, MissingRuleData, ValueError, TypeError, KeyError):
        return None


# ---- a finding ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    finding_id: str
    case_id: str
    municipality_code: str
    benefit_code: str
    cpr: str
    rule: RuleCode
    rule_key: str
    title: str
    match_key: str
    period: str                       # the month controlled
    period_start: dt.date
    period_end: dt.date | None
    observations: tuple[Observation, ...]
    amount_at_stake_oere_per_month: int | None
    register_data: Mapping[str, Any]
    status: Status
    run_id: str
    found_at: dt.datetime
    decision_id_checked: str = ""     # the grant that was checked
    outcome: Outcome | None = None
    note: str = ""
    closed_by: str = ""
    closed_at: dt.datetime | None = None
    follow_up: FollowUp | None = None
    follow_up_reason: str = ""
    decision_id: str = ""             # the new draft decision, when the follow-up made one

    def require_open(self) -> None:
        if self.status is not Status.OPEN:
            raise FailedPrecondition(f"the finding is {self.status.value}: its outcome ({self.outcome.value}) is "
                                     f"recorded already", reason="FINDING_CLOSED",
                                     metadata={"finding_status": self.status.value,
                                               "outcome": self.outcome.value if self.outcome else ""})


def observations_to_json(obs: Sequence[Observation]) -> list[dict[str, Any]]:
    return [dict(name=o.name, label=o.label, register_value=o.register_value, assumed_value=o.assumed_value,
                 unit=o.unit, source=o.source, source_reference=o.source_reference) for o in obs]


def observations_from_json(rows: Sequence[Mapping[str, Any]]) -> tuple[Observation, ...]:
    return tuple(Observation(r["name"], r.get("label", ""), r.get("register_value"), r.get("assumed_value"),
                             r.get("unit", ""), r.get("source", ""), r.get("source_reference", "")) for r in rows)


OUTCOME_TEXT = {Outcome.NO_CHANGE: "Kontrollen gav ingen ændring",
                Outcome.ENTITLEMENT_CHANGED: "Kontrollen ændrede retten til ydelsen",
                Outcome.FRAUD_SUSPECTED: "Kontrollen ændrede retten til ydelsen; mistanke om svig"}
FOLLOW_UP_TEXT = {FollowUp.NONE: "", FollowUp.DRAFT_DECISION: "Et nyt udkast til afgørelse er lavet",
                  FollowUp.BACK_OFFICE: "Sagen er sendt til back office"}


def closing_reason(outcome: Outcome, follow_up: FollowUp) -> str:
    """The Danish line the control unit gets with the closing (no note, no CPR number)."""
    return ". ".join(t for t in (OUTCOME_TEXT[outcome], FOLLOW_UP_TEXT[follow_up]) if t) + "."


# ---- what the new draft decision takes effect from ------------------------------------------------

def draft_start(f: Finding) -> dt.date:
    """A new decision after a finding governs from the month after the one controlled
    (the change is known from then; months before it are for the yearly settlement), or,
    after a death or an emigration, from the month after it (and the months the rule
    allows after it)."""
    if f.rule in _EVENTS:
        return month_start(f.register_data["stop_from"])
    return month_start(month_rules.following(f.period))


# ---- a run --------------------------------------------------------------------------------------

COUNTS = ("examined", "findings", "already_found", "not_in_register", "failed")


@dataclass(frozen=True)
class Run:
    run_id: str
    period: str
    municipality_code: str
    benefit_code: str
    rules: str                        # rules_key
    counts: Mapping[str, int]
    finished_at: dt.datetime | None


def rules_key(codes: Iterable[RuleCode]) -> str:
    """A set of rules as the work of a month's control is keyed: sorted, comma-separated."""
    return ",".join(sorted({c.value for c in codes}))


def rules_of(key: str) -> tuple[RuleCode, ...]:
    return tuple(RuleCode(c) for c in key.split(",") if c)
