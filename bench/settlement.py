"""The final settlement run: HUB_BENCH_SETTLEMENT_GRANTS (default 20,000; the issue's
national figure is 500,000) boligstøtte grants of 2026, each decided on a calculation
from its registers' facts (a tenant alone: income 300.000 kr, rent 4.000 kr a month,
60 m²: 560 kr a month from April), every month paid. The final assessment register (its
simulator in a process of its own, on a real socket; the real client) answers a final
income per citizen: a fifth unchanged, a fifth a little higher (a difference below the
act's 250 kr), a fifth higher by 60.000 kr (a repayment: a decision heard first), a fifth
lower by 60.000 kr (a back payment: decided automatically, letter, posting, archive,
correction orders), a fifth not assessed yet (waiting). Prints cases settled per second,
the whole run's time, the results, and the peak RSS of this process (which runs the
settlement through the service layer the RunFinalSettlement RPC streams from).

The grants are loaded straight into the tables, with the information items, the
decision and its calculation as the straight-through path writes them.

    make bench
    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python -m bench.settlement"""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import resource
import sys
import time
import uuid

from bench.database import fresh_database

GRANTS = int(os.environ.get("HUB_BENCH_SETTLEMENT_GRANTS", "20000"))
YEAR = 2026
MONTHS = range(4, 13)
INCOME = 30_000_000        # øre a year: the income the grants assumed
SHIFTS = (0, 120_000, 6_000_000, -6_000_000, None)   # per fifth: None not assessed yet


def cpr_of(i: int) -> str:
    """A CPR-shaped number per grant (born 1 January 1960-1989), unique."""
    return f"0101{60 + i % 30:02d}{i // 30:04d}"


def shift_of(cpr: str) -> int | None:
    return SHIFTS[(int(cpr[4:6]) + int(cpr[6:])) % len(SHIFTS)]


def _serve_register(port_queue) -> None:
    """The final assessment register's simulator, answering each citizen's final income
    by the rule above (every other field 0)."""
    from adapters.final_assessment.simulator import Simulator

    class Register(Simulator):
        def answer(self, cpr: str, year: int):
            shift = shift_of(cpr)
            if shift is None:
                return "not_assessed", None
            return "assessed", dict(reference=f"AO-{cpr[-4:]}", assessed_on="2027-05-01",
                                    personal_income_oere=INCOME + shift, personal_work_income_oere=INCOME + shift,
                                    capital_income_oere=0, share_income_oere=0, share_dividends_oere=0,
                                    deductions_oere=0, taxable_income_oere=INCOME + shift)

    sim = Register(today=lambda: dt.date(2027, 6, 1)).start_in_thread()
    port_queue.put(sim.url)
    while True:
        time.sleep(3600)


def _template(now: dt.datetime):
    """The calculation a straight-through grant of these facts stores (made once by the
    real formula), and the register answers it rests on."""
    from hub.domain import rules as r
    from hub.domain.model import InformationItem, InformationSource
    from hub.domain.rules import facts as facts_rules
    from hub.domain.rules import formulas  # noqa: F401 (fills FORMULAS)
    from hub.store.seeds import rule_set_files

    received = dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc)
    person = dict(person=dict(birth_date="1970-01-01", status="alive", civil_status="unmarried",
                              municipality_code="101"),
                  household=dict(members=[dict(cpr="CPR", birth_date="1970-01-01", relation="self")]))
    dwelling = dict(dwelling=dict(tenure="rental", rent_oere_per_year=4_800_000, area_m2=60, rooms=2,
                                  heating_included=False, hot_water_included=False, electricity_included=False,
                                  heating_separate=True, maintenance_duty=False, water_separate=False))
    window = facts_rules.income_window(received, facts_rules.INCOME_MONTHS)
    income = dict(cpr="CPR", months=list(window), records=[
        dict(payer_cvr="12345678", income_period_start=f"{m}-01", income_type_code="00",
             a_income_with_am_oere=2_500_000, am_contribution_oere=0, a_income_without_am_oere=0, hours=16_000)
        for m in window])
    values = {"cpr.person": person, "rent.dwelling": dwelling, "income.register_records": income}
    items = [InformationItem(k, "c", InformationSource.REGISTER, k, k,
                             _with_cpr(v, "0101701234"), False, "bench", received) for k, v in values.items()]
    statement = {"receives_folkepension": False, "wealth_oere": 0}
    fake = _FakeCase("0101701234", received, statement)
    start = dt.date(YEAR, 4, 1)
    facts = facts_rules.facts_of(fake, items, start)
    rule_set = r.in_force([r.rule_set_from_dict(d, version=i + 1) for i, d in enumerate(rule_set_files())
                           if d["benefit_code"] == "BOLIGSTOETTE"], start)
    result = r.FORMULAS["BOLIGSTOETTE"].calculate(facts, rule_set, r.Period(start, dt.date(YEAR, 12, 31)))
    calc = r.Calculation("c", "BOLIGSTOETTE", (r.PeriodResult(r.Period(start, dt.date(YEAR, 12, 31)), rule_set,
                                                             result),),
                         tuple(facts[n] for n in result.facts_used if n in facts))
    return values, statement, received, result.amount_oere, r.calculation_to_dict(calc)


class _May2027:
    """The system clock, moved to May 2027 (the year settled, 2026, has ended then; the
    hearing deadlines and letters follow it)."""
    def __init__(self, clock):
        self._clock, self._offset = clock, dt.datetime(2027, 5, 15, tzinfo=dt.timezone.utc) - clock.now()

    def now(self) -> dt.datetime:
        return self._clock.now() + self._offset


class _FakeCase:
    def __init__(self, cpr, received_at, statement):
        self.cpr, self.received_at, self.applicant_statement = cpr, received_at, statement


def _with_cpr(value, cpr: str):
    import json
    return json.loads(json.dumps(value).replace('"CPR"', f'"{cpr}"'))


def _fill(engine, n: int, now: dt.datetime) -> int:
    from hub.store import tables as t
    values, statement, received, amount, calculation = _template(now)
    rows: dict[str, list] = {k: [] for k in ("cases", "information_items", "decisions", "payment_lines",
                                             "payment_orders")}

    def flush():
        with engine.begin() as c:
            for name in ("cases", "information_items", "decisions", "payment_lines", "payment_orders"):
                if rows[name]:
                    c.execute(getattr(t, name).insert(), rows[name])
                rows[name].clear()

    for i in range(n):
        cpr = cpr_of(i)
        case_id, decision_id = str(uuid.uuid4()), str(uuid.uuid4())
        rows["cases"].append(dict(
            case_id=case_id, municipality_code="101", cpr=cpr, benefit_code="BOLIGSTOETTE", channel="SELF_SERVICE",
            origin="BACK_OFFICE", status="DECIDED", received_at=received, created_at=received,
            processing_deadline=received + dt.timedelta(days=90), applicant_statement=statement,
            external_reference="", authority_key="municipality:101", created_by="bench", updated_at=received,
            sensitivity="NOT_CONFIDENTIAL"))
        for kind, value in values.items():
            rows["information_items"].append(dict(
                item_id=str(uuid.uuid4()), case_id=case_id, source="REGISTER", source_reference=kind, kind=kind,
                value=_with_cpr(value, cpr), discretionary=False, supplied_by="hub-automation", added_at=received))
        submitted = received + dt.timedelta(minutes=1)
        rows["decisions"].append(dict(
            decision_id=decision_id, case_id=case_id, status="APPROVED", outcome="GRANTED",
            amounts=[dict(amount_oere=amount, period_start=f"{YEAR}-04-01", period_end=f"{YEAR}-12-31")],
            reasoning="calculated", legal_basis="Lov om individuel boligstøtte", discretionary_points=[],
            submitted_by="hub-automation", submitted_at=submitted, authority_key="municipality:101",
            effective_from=dt.date(YEAR, 4, 1), calculation=calculation, complaint_guidance="Klagevejledning",
            approval=dict(mode="AUTOMATIC", by_client="hub", authority_key="municipality:101",
                          at=submitted.isoformat())))
        for month in MONTHS:
            start = dt.date(YEAR, month, 1)
            end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            e2e = f"HUB{i + 1}-{YEAR}{month:02d}"
            common = dict(decision_id=decision_id, case_id=case_id, municipality_code="101",
                          benefit_code="BOLIGSTOETTE", period_key=f"{YEAR}-{month:02d}", period_start=start,
                          period_end=end, due_month=f"{YEAR}-{month:02d}", amount_oere=amount, end_to_end_id=e2e)
            line_id = i * 12 + month
            rows["payment_lines"].append(dict(common, id=line_id, state="DONE"))
            rows["payment_orders"].append(dict(common, line_id=line_id, kind="REGULAR", status="PAID", offset_oere=0,
                                               created_at=submitted, updated_at=submitted))
        if len(rows["cases"]) >= 2_000:
            flush()
    flush()
    return amount


def main() -> int:
    from hub import bootstrap, logs
    from hub.domain.commands import RunFinalSettlement
    from hub.domain.identity import Identity, Role
    from hub.domain.municipalities import all_municipalities
    from hub.service import settlement
    from hub.service.clock import SystemClock
    from hub.settings import Settings
    from hub.store.db import create_engine
    from adapters.final_assessment.client import FinalAssessmentClient

    logs.configure(open(os.devnull, "w"), json=True, level="WARNING")
    url = fresh_database("bench-settlement")
    engine = create_engine(url)
    settings = Settings.from_env()
    store, clock = bootstrap.store(settings, engine), _May2027(SystemClock())
    t0 = time.perf_counter()
    amount = _fill(engine, GRANTS, clock.now())
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:   # (the lines were given their ids)
            c.exec_driver_sql("SELECT setval(pg_get_serial_sequence('payment_lines', 'id'), "
                              "(SELECT max(id) FROM payment_lines))")
            c.exec_driver_sql("ANALYZE")
    print(f"settlement: {GRANTS:,} grants of {amount // 100} kr a month loaded in {time.perf_counter() - t0:.1f} s; "
          f"database {url.split(':')[0]}")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    register = ctx.Process(target=_serve_register, args=(q,), daemon=True)
    register.start()
    try:
        lookup = FinalAssessmentClient(q.get(timeout=30))
        back_office = Identity("bench", Role.BACK_OFFICE, frozenset(all_municipalities()))
        t0 = time.perf_counter()
        last = None
        for last in settlement.run_final_settlement(store.unit, back_office,
                                                    RunFinalSettlement(str(uuid.uuid4()), YEAR, "BOLIGSTOETTE"),
                                                    clock, lookup):
            pass
        seconds = time.perf_counter() - t0
    finally:
        register.terminate()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  final settlement {YEAR}: {last['examined']:,} cases in {seconds:.1f} s: "
          f"{last['examined'] / seconds:,.0f} cases/s (target 1,700/s); peak RSS {rss:,.0f} MB")
    print(f"    nothing {last['nothing']:,}, back payments {last['back_payments']:,} "
          f"({last['back_payment_oere'] // 100:,} kr, {last['decided_automatically']:,} decided automatically), "
          f"repayments {last['repayments']:,} ({last['repayment_oere'] // 100:,} kr), waiting {last['waiting']:,}, "
          f"to a person {last['needs_person']:,}")
    return 0 if last["examined"] == GRANTS and last["needs_person"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
