"""The IT control's rules as pure functions (hub.domain.control): each with planted
deviations that it finds, and clean cases where it finds nothing; and the rule data the
hub starts with (hub/store/seeds/control_rules): every rule has its figures, each with
its section and source."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from hub.domain import control as ctl
from hub.domain.control import RuleCode as R
from hub.domain.rules import MissingRuleData, Unit
from hub.store.seeds import control_rule_files

PERIOD = "2026-05"
ME, PARTNER, KID, OTHER = "0101701234", "0202712345", "0303103456", "0404754567"


def seed_rules() -> dict[R, ctl.ControlRule]:
    return {r.code: r for r in (ctl.control_rule_from_dict(d, version=1) for d in control_rule_files())}


RULES = seed_rules()


def grant(**assumed) -> ctl.Grant:
    return ctl.Grant("case-1", "dec-1", "101", "BOLIGSTOETTE", ME, 56_000, assumed)


def member(cpr: str, born: str, relation: str) -> dict:
    return dict(cpr=cpr, birth_date=born, relation=relation)


def household(*members) -> dict:
    return dict(address_id="adr-1", members=[member(ME, "1970-01-01", "self"), *members])


def person(status: str = "alive", status_date: str | None = None) -> dict:
    return dict(cpr=ME, birth_date="1970-01-01", status=status, status_date=status_date, municipality_code="101",
                address_id="adr-1", civil_status="unmarried", spouse_cpr=None)


def records(month: str, net_oere: int) -> list[dict]:
    """One employer's pay for a month: `net_oere` after AM-bidrag (as the income register has it)."""
    with_am = net_oere * 100 // 92
    return [dict(payer_cvr="12345678", income_period_start=f"{month}-01", income_type_code="00",
                 a_income_with_am_oere=with_am, am_contribution_oere=with_am - net_oere, a_income_without_am_oere=0)]


def income(per_month: dict[str, int], months=("2026-03", "2026-04", "2026-05")) -> dict[str, list[dict]]:
    return {cpr: [r for m in months for r in records(m, net)] for cpr, net in per_month.items()}


def registers(**kw) -> ctl.Registers:
    base = dict(person=person(), household=household(), cpr_reference="CPR-1", income_reference="EI-1",
                rent_reference="HLR-1")
    return ctl.Registers(**{**base, **kw})


# ---- the rule data ------------------------------------------------------------------------------

def test_every_rule_has_seed_data_with_its_figures_each_with_a_source():
    assert set(RULES) == set(R) and len(control_rule_files()) == len(R)
    assert ctl.require_data(RULES) == []
    for rule in RULES.values():
        assert rule.title and rule.legal_basis and rule.source and rule.effective_from == dt.date(2025, 1, 1)
        for p in rule.parameters.values():
            assert p.value is not None and p.source and p.note, (rule.key, p.name)
    # The act's figure is the act's: 800 kr a month (BSL § 8 d, stk. 1, nr. 1).
    p = RULES[R.INCOME_DEVIATION].parameters["deviation_minimum_per_month"]
    assert (p.value, p.unit, p.section) == (80_000, Unit.OERE_PER_MONTH, "lov om individuel boligstøtte § 8 d, stk. 1, nr. 1")


def test_rule_data_that_lacks_or_mistypes_a_figure_is_refused():
    rule = RULES[R.RENT_CHANGE]
    without = dataclasses.replace(rule, parameters={})
    assert ctl.check_rule(without) == ["RENT_CHANGE must name deviation_share"]
    wrong = dataclasses.replace(rule, parameters={"deviation_share": dataclasses.replace(
        rule.parameters["deviation_share"], unit=Unit.OERE)})
    assert ctl.check_rule(wrong) == ["RENT_CHANGE: deviation_share is in BASIS_POINTS, not OERE"]
    missing = dataclasses.replace(rule, parameters={"deviation_share": dataclasses.replace(
        rule.parameters["deviation_share"], value=None)})
    assert ctl.require_data({R.RENT_CHANGE: missing}) and ctl.require_data({R.RENT_CHANGE: None})
    with pytest.raises(MissingRuleData):
        missing.value("deviation_share")
    assert ctl.control_rule_from_dict(ctl.control_rule_to_dict(rule)) == rule
    with pytest.raises(ValueError):
        ctl.control_rule_from_dict(dict(ctl.control_rule_to_dict(rule), rule_code="NO_SUCH_RULE"))


def test_the_rule_in_force_is_the_latest_version_effective_then():
    old = RULES[R.RENT_CHANGE]
    new = dataclasses.replace(old, version=2, effective_from=dt.date(2026, 7, 1))
    assert ctl.rules_in_force([old, new], [R.RENT_CHANGE], dt.date(2026, 6, 30))[R.RENT_CHANGE] is old
    assert ctl.rules_in_force([old, new], [R.RENT_CHANGE], dt.date(2026, 7, 1))[R.RENT_CHANGE] is new
    assert ctl.rules_in_force([old], [R.RENT_CHANGE], dt.date(2024, 12, 31))[R.RENT_CHANGE] is None


# ---- income ---------------------------------------------------------------------------------------

ASSUMED_INCOME = 30_000_000   # 300.000 kr a year: 25.000 kr a month


def income_hit(per_month: dict[str, int], **assumed):
    g = grant(**{ctl.INCOME: ASSUMED_INCOME, **assumed})
    return ctl.income_deviation(RULES[R.INCOME_DEVIATION], g, registers(income=income(per_month)), PERIOD)


def test_income_as_assumed_or_within_the_thresholds_is_no_finding():
    assert income_hit({ME: 2_500_000}) is None
    assert income_hit({ME: 2_700_000}) is None          # 8 % more: within 10 %
    assert income_hit({ME: 2_300_000}) is None          # 8 % less
    # More than 10 % of a small income, but no more than 800 kr a month: no finding.
    small = grant(**{ctl.INCOME: 6_000_000})             # 5.000 kr a month
    assert ctl.income_deviation(RULES[R.INCOME_DEVIATION], small, registers(income=income({ME: 570_000})),
                                PERIOD) is None        # 5.700 kr: 14 %, 700 kr a month


def test_income_above_or_below_the_thresholds_is_a_finding_with_what_the_register_says():
    hit = income_hit({ME: 3_000_000})                    # 30.000 kr a month: 20 % more, 5.000 kr a month
    assert hit is not None and hit.rule is R.INCOME_DEVIATION and hit.match_key == PERIOD
    assert (hit.period_start, hit.period_end) == (dt.date(2026, 3, 1), dt.date(2026, 5, 31))
    [o] = hit.observations
    assert (o.name, o.register_value, o.assumed_value, o.source, o.source_reference) == (
        ctl.INCOME, 36_000_000, ASSUMED_INCOME, "income_register", "EI-1")
    assert hit.changed_facts == {ctl.INCOME: 36_000_000}
    assert hit.register_data["persons"] == [dict(cpr=ME, income_oere=36_000_000)]
    down = income_hit({ME: 1_500_000})
    assert down is not None and down.observations[0].register_value == 18_000_000


def test_income_counts_every_adult_at_the_address_as_the_grant_did():
    both = household(member(PARTNER, "1971-02-02", "cohabitant"))
    g = grant(**{ctl.INCOME: ASSUMED_INCOME})
    found = ctl.income_deviation(RULES[R.INCOME_DEVIATION], g, registers(
        household=both, income=income({ME: 1_250_000, PARTNER: 1_250_000})), PERIOD)
    assert found is None                                 # 12.500 + 12.500 kr a month: as assumed
    found = ctl.income_deviation(RULES[R.INCOME_DEVIATION], g, registers(
        household=both, income=income({ME: 1_250_000, PARTNER: 2_500_000})), PERIOD)
    assert found is not None and found.observations[0].register_value == 45_000_000
    # A child's income does not count (hub.domain.rules.facts: children are under 18).
    kid = household(member(KID, "2010-03-03", "child"))
    assert ctl.income_deviation(RULES[R.INCOME_DEVIATION], g, registers(
        household=kid, income=income({ME: 2_500_000, KID: 900_000})), PERIOD) is None


def test_no_income_finding_without_an_assumed_income_or_an_answer_for_every_adult():
    assert ctl.income_deviation(RULES[R.INCOME_DEVIATION], grant(), registers(income=income({ME: 9_000_000})),
                                PERIOD) is None
    both = household(member(PARTNER, "1971-02-02", "spouse"))
    assert ctl.income_deviation(RULES[R.INCOME_DEVIATION], grant(**{ctl.INCOME: ASSUMED_INCOME}), registers(
        household=both, income=income({ME: 9_000_000})), PERIOD) is None   # the partner's not asked
    assert ctl.income_deviation(RULES[R.INCOME_DEVIATION], grant(**{ctl.INCOME: ASSUMED_INCOME}),
                                registers(income=None), PERIOD) is None


# ---- household ------------------------------------------------------------------------------------

def test_the_household_as_assumed_is_no_finding():
    g = grant(**{ctl.ADULTS: 1, ctl.CHILDREN: 1})
    reg = registers(household=household(member(KID, "2010-03-03", "child")))
    assert ctl.household_change(RULES[R.HOUSEHOLD_CHANGE], g, reg, PERIOD) is None
    # One adult fewer, a child more: the grant paid too little if anything; not a control finding.
    g2 = grant(**{ctl.ADULTS: 2, ctl.CHILDREN: 0})
    assert ctl.household_change(RULES[R.HOUSEHOLD_CHANGE], g2, reg, PERIOD) is None


def test_a_new_adult_at_the_address_is_a_finding():
    g = grant(**{ctl.ADULTS: 1, ctl.CHILDREN: 0})
    reg = registers(household=household(member(OTHER, "1975-04-04", "cohabitant")))
    hit = ctl.household_change(RULES[R.HOUSEHOLD_CHANGE], g, reg, PERIOD)
    assert hit is not None and hit.match_key == "adults=2;children=0" and hit.period_start == dt.date(2026, 5, 1)
    assert [(o.name, o.register_value, o.assumed_value) for o in hit.observations] == [
        (ctl.ADULTS, 2, 1), (ctl.CHILDREN, 0, 0)]
    assert hit.register_data["cpr"]["household"]["members"][1]["cpr"] == OTHER and hit.period_end is None


def test_a_child_who_moved_out_or_came_of_age_is_a_finding():
    g = grant(**{ctl.ADULTS: 1, ctl.CHILDREN: 2})
    moved = registers(household=household(member(KID, "2010-03-03", "child")))
    hit = ctl.household_change(RULES[R.HOUSEHOLD_CHANGE], g, moved, PERIOD)
    assert hit is not None and [(o.register_value, o.assumed_value) for o in hit.observations] == [(1, 1), (1, 2)]



def test_no_household_finding_for_a_grant_that_rests_on_no_household():
    reg = registers(household=household(member(OTHER, "1975-04-04", "cohabitant")))
    assert ctl.household_change(RULES[R.HOUSEHOLD_CHANGE], grant(), reg, PERIOD) is None
    assert ctl.household_change(RULES[R.HOUSEHOLD_CHANGE], grant(**{ctl.ADULTS: 1}), registers(household=None),
                                PERIOD) is None


# ---- rent -------------------------------------------------------------------------------------------

def dwelling(rent: int | None) -> dict:
    return dict(address_id="adr-1", tenure="rental" if rent is not None else "owner", rent_oere_per_year=rent,
                area_m2=60, rooms=2)


def test_rent_as_assumed_or_within_the_share_is_no_finding():
    g = grant(**{ctl.RENT: 4_800_000})
    for rent in (4_800_000, 4_900_000, 4_600_000):      # up to 5 % off: the yearly regulation
        assert ctl.rent_change(RULES[R.RENT_CHANGE], g, registers(dwelling=dwelling(rent)), PERIOD) is None


def test_a_rent_changed_by_more_than_the_share_or_gone_is_a_finding():
    g = grant(**{ctl.RENT: 4_800_000})
    hit = ctl.rent_change(RULES[R.RENT_CHANGE], g, registers(dwelling=dwelling(3_600_000)), PERIOD)
    assert hit is not None and hit.match_key == "rent=3600000"
    [o] = hit.observations
    assert (o.register_value, o.assumed_value, o.source, o.source_reference) == (3_600_000, 4_800_000,
                                                                                  "rent_register", "HLR-1")
    gone = ctl.rent_change(RULES[R.RENT_CHANGE], g, registers(dwelling=dwelling(None)), PERIOD)
    assert gone is not None and gone.observations[0].register_value is None
    assert ctl.rent_change(RULES[R.RENT_CHANGE], grant(), registers(dwelling=dwelling(1)), PERIOD) is None


# ---- payments after a death or an emigration ------------------------------------------------------------

PAID = tuple(ctl.PaidMonth(m, 56_000) for m in ("2026-03", "2026-04", "2026-05"))


@pytest.mark.parametrize("code,status", [(R.PAYMENT_AFTER_DEATH, "dead"), (R.PAYMENT_AFTER_EMIGRATION, "emigrated")])
def test_payments_for_months_after_the_event_are_a_finding(code, status):
    reg = registers(person=person(status, "2026-03-14"), household=None, paid=PAID)
    hit = ctl.payment_after(RULES[code], grant(), reg, PERIOD)
    assert hit is not None and hit.rule is code and hit.match_key == "2026-03-14"
    assert (hit.period_start, hit.period_end) == (dt.date(2026, 4, 1), dt.date(2026, 5, 31))
    assert {o.name: o.register_value for o in hit.observations} == {
        "person.status": status, "person.status_date": "2026-03-14", "payments.months_after": 2,
        "payments.amount_after": 112_000}
    assert hit.amount_at_stake_oere_per_month == 56_000 and hit.register_data["stop_from"] == "2026-04"


@pytest.mark.parametrize("code,status", [(R.PAYMENT_AFTER_DEATH, "dead"), (R.PAYMENT_AFTER_EMIGRATION, "emigrated")])
def test_no_finding_when_nothing_is_paid_after_the_event_or_the_person_is_alive(code, status):
    rule = RULES[code]
    # The month of the event is paid; nothing after it.
    assert ctl.payment_after(rule, grant(), registers(person=person(status, "2026-05-20"), paid=PAID), PERIOD) is None
    assert ctl.payment_after(rule, grant(), registers(paid=PAID), PERIOD) is None
    other = "emigrated" if status == "dead" else "dead"
    assert ctl.payment_after(rule, grant(), registers(person=person(other, "2026-01-01"), paid=PAID), PERIOD) is None
    # Months after the one controlled are not this run's (they are not paid yet).
    later = (ctl.PaidMonth("2026-06", 56_000),)
    assert ctl.payment_after(rule, grant(), registers(person=person(status, "2026-05-02"), paid=later),
                             PERIOD) is None


def test_months_the_rule_allows_after_the_event_are_no_finding():
    rule = RULES[R.PAYMENT_AFTER_DEATH]
    lenient = dataclasses.replace(rule, parameters={**rule.parameters, "months_allowed_after": dataclasses.replace(
        rule.parameters["months_allowed_after"], value=1)})
    reg = registers(person=person("dead", "2026-03-14"), paid=PAID)
    hit = ctl.payment_after(lenient, grant(), reg, PERIOD)
    assert hit is not None and hit.period_start == dt.date(2026, 5, 1) and hit.register_data["stop_from"] == "2026-05"
    assert ctl.payment_after(lenient, grant(), registers(person=person("dead", "2026-04-01"), paid=PAID),
                             PERIOD) is None


# ---- all rules at once -----------------------------------------------------------------------------------

FULL = {ctl.INCOME: ASSUMED_INCOME, ctl.ADULTS: 1, ctl.CHILDREN: 0, ctl.RENT: 4_800_000}


def test_a_clean_grant_hits_no_rule_and_each_planted_deviation_hits_its_own():
    clean = registers(income=income({ME: 2_500_000}), dwelling=dwelling(4_800_000), paid=PAID)
    assert ctl.check(RULES, grant(**FULL), clean, PERIOD) == []
    planted = {
        R.INCOME_DEVIATION: dict(income=income({ME: 4_000_000})),
        R.HOUSEHOLD_CHANGE: dict(household=household(member(KID, "2012-06-06", "child"),
                                                     member(OTHER, "1980-01-01", "other")),
                                 income=income({ME: 2_500_000, OTHER: 0})),
        R.RENT_CHANGE: dict(dwelling=dwelling(6_000_000)),
        R.PAYMENT_AFTER_DEATH: dict(person=person("dead", "2026-02-01"), household=None),
        R.PAYMENT_AFTER_EMIGRATION: dict(person=person("emigrated", "2026-02-01"), household=None),
    }
    for code, change in planted.items():
        hits = ctl.check(RULES, grant(**FULL), dataclasses.replace(clean, **change), PERIOD)
        assert [h.rule for h in hits] == [code], code


def test_what_a_check_needs_of_the_registers_follows_the_grant_and_the_rules():
    assert ctl.needs(R, grant(**FULL)) == (True, True)
    assert ctl.needs([R.HOUSEHOLD_CHANGE], grant(**FULL)) == (False, False)
    assert ctl.needs(R, grant()) == (False, False)
    assert ctl.window("2026-02", 3) == ("2025-12", "2026-01", "2026-02")
