"""Barselsdagpenge to an employee (barselsloven, LBK nr. 206 af 22. januar 2026), a WEEK's amount:

    hourly    = the average hourly earnings after AM-bidrag in the last 3 completed calendar months
                (§ 33, stk. 1), at most the weekly maximum / the normal agreed weekly hours (§ 35, stk. 1)
    weekly    = min(hours a week during the absence × hourly, weekly maximum)     (§ 35, stk. 1)

The weekly maximum is the published figure (regulated the first Monday of January, rounded to a
multiple of 5 kr, § 38); the hourly cap is derived from it without rounding, so that a full week at
the cap is the weekly maximum itself (5.085 kr in 2026, where 37 × the published 137,43 kr would
give 5.084,91 kr). Rounded half up to whole øre. Paid per 5-day week in equal daily shares (§ 35,
stk. 2): the day's amount is a step, not the result. Self-employed (§ 37), unemployed (§ 36), the
employment requirement (§ 27) and the number of weeks are outside this formula."""
from __future__ import annotations

from hub.domain.model import PeriodKind
from hub.domain.rules import Facts, Period, Result, RuleSet, Unit, divide, kr
from hub.domain.rules.worksheet import Worksheet, hours

BENEFIT_CODE = "BARSELSDAGPENGE"
PER = PeriodKind.WEEK

PARAMETERS: dict[str, Unit] = {
    "weekly_max": Unit.OERE_PER_WEEK,   # § 35, stk. 1, regulated by § 38
    "days_per_week": Unit.COUNT,        # § 35, stk. 2
}

FACTS: dict[str, Unit] = {
    "employment.hourly_earnings": Unit.OERE_PER_HOUR,   # after AM-bidrag
    "employment.hours_per_week": Unit.HOURS,            # hundredths of an hour: 37 h = 3700
    "employment.agreed_weekly_hours": Unit.HOURS,       # hundredths of an hour
}


def calculate(facts: Facts, rules: RuleSet, period: Period) -> Result:
    w = Worksheet(facts, rules, FACTS)
    w.need(*FACTS)
    earnings = w.step("Gennemsnitlig timeløn efter AM-bidrag", w.fact("employment.hourly_earnings"),
                      Unit.OERE_PER_HOUR, basis="§ 33, stk. 1")
    worked, agreed = w.fact("employment.hours_per_week"), w.fact("employment.agreed_weekly_hours")
    if agreed <= 0:
        raise ValueError("fact employment.agreed_weekly_hours must be more than 0 hours")
    w.step("Timer om ugen under fraværet", worked, Unit.HOURS, basis="§ 33, stk. 1", working=f"{hours(worked)} timer")
    weekly_max = w.value("weekly_max")
    cap = w.step("Højeste timesats", divide(weekly_max * 100, agreed), Unit.OERE_PER_HOUR,
                 basis=w.section("weekly_max"),
                 working=f"{kr(weekly_max)} / {hours(agreed)} timer (den normale, aftalte ugentlige arbejdstid)")
    if earnings * agreed >= weekly_max * 100:     # the hourly earnings reach the cap
        weekly = divide(weekly_max * worked, agreed)
        working = f"{hours(worked)} timer × {kr(weekly_max)} / {hours(agreed)} timer (højeste timesats {kr(cap)})"
    else:
        weekly = divide(earnings * worked, 100)
        working = f"{hours(worked)} timer × {kr(earnings)}"
    if weekly > weekly_max:
        working += f", højst {kr(weekly_max)}"
        weekly = weekly_max
    weekly = w.step("Barselsdagpenge om ugen", weekly, Unit.OERE_PER_WEEK, basis="§ 35, stk. 1", working=working)
    days = w.value("days_per_week")
    w.step("Barselsdagpenge om dagen", divide(weekly, days), Unit.OERE, basis=w.section("days_per_week"),
           working=f"{kr(weekly)} / {days} dage")
    return w.result(weekly, PER)
