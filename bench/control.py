"""The IT control run: HUB_BENCH_CONTROL_GRANTS (default 500,000: the issue's national
figure) boligstøtte grants in force in last month, each decided on a calculation from its
registers' facts (a tenant alone: income 300.000 kr, rent 4.000 kr a month, 60 m²: 560 kr
a month). The CPR, rent and income registers (their simulators in a process of their
own, on real sockets; the real clients, their batch endpoints) answer what each grant
assumed, but for one grant in forty: a planted deviation, one of the five rules' each
(more income, a new adult at the address, a lower rent, a death, an emigration). Prints
grants controlled per second, the whole run's time, the findings by rule (which must be
the planted ones and no others), a second run of the same month (nothing to check), and
the peak RSS of this process (which runs the control through the service layer the
RunControl RPC streams from).

The grants are loaded straight into the tables, with the decision and its calculation as
the straight-through path writes them.

    make bench
    HUB_BENCH_CONTROL_GRANTS=20000 python -m bench.control
    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python -m bench.control"""
from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing as mp
import os
import resource
import sys
import time
import uuid
import zlib

from bench.database import fresh_database

GRANTS = int(os.environ.get("HUB_BENCH_CONTROL_GRANTS", "500000"))
NET = 2_500_000            # øre a month after AM-bidrag: 300.000 kr a year, as the grants assumed
RENT = 4_800_000           # øre a year
KINDS = ("INCOME_DEVIATION", "HOUSEHOLD_CHANGE", "RENT_CHANGE", "PAYMENT_AFTER_DEATH", "PAYMENT_AFTER_EMIGRATION")
ONE_IN = 40                # one grant in forty has a planted deviation (kinds in turn)
MUNICIPALITIES = ("101", "147", "751", "461", "851")


def cpr_of(i: int) -> str:
    """A CPR-shaped number per grant (born 1960-1989, a real date), unique for 500,000."""
    day, month, yy, serial = 1 + i % 28, 1 + (i // 28) % 12, 60 + (i // 336) % 30, i // 10_080
    return f"{day:02d}{month:02d}{yy:02d}{serial:04d}"


def kind_of(cpr: str) -> str | None:
    """The deviation planted for this citizen, if any."""
    h = zlib.crc32(cpr.encode())
    return KINDS[(h // ONE_IN) % len(KINDS)] if h % ONE_IN == 0 else None


def address_of(cpr: str) -> str:
    return "adr-" + hashlib.sha256(cpr.encode()).hexdigest()[:16] + ("-r" if kind_of(cpr) == "RENT_CHANGE" else "")


def partner_of(cpr: str) -> str:
    return cpr[:6] + "9" + cpr[7:]   # (serial 9xxx: no grant's)


def periods(today: dt.date) -> tuple[str, str, str]:
    """The month controlled (last month), the month before it, and the window's first."""
    from hub.domain import months
    this = f"{today.year:04d}-{today.month:02d}"
    period = months.previous(this)
    before = months.previous(period)
    return period, before, months.previous(before)


def _serve_registers(port_queue, today: dt.date) -> None:
    """The three registers' simulators, answering each citizen as the grant assumed (or
    with the deviation planted for them)."""
    from adapters.cpr_register.simulator import Simulator as Cpr
    from adapters.income_register.simulator import Simulator as Income
    from adapters.rent_register.simulator import Simulator as Rent
    from hub.domain import cpr as cprs
    _, before, _ = periods(today)
    event_date = f"{before}-10"

    class CprRegister(Cpr):
        def person(self, cpr):
            kind = kind_of(cpr)
            born = cprs.birth_date(cpr).isoformat()
            person = dict(cpr=cpr, birth_date=born, status="alive", status_date=None, municipality_code="101",
                          address_id=address_of(cpr), civil_status="unmarried", spouse_cpr=None)
            members = [dict(cpr=cpr, birth_date=born, relation="self")]
            if kind == "PAYMENT_AFTER_DEATH":
                return dict(person=dict(person, status="dead", status_date=event_date), household=None)
            if kind == "PAYMENT_AFTER_EMIGRATION":
                return dict(person=dict(person, status="emigrated", status_date=event_date), household=None)
            if kind == "HOUSEHOLD_CHANGE":
                other = partner_of(cpr)
                members.append(dict(cpr=other, birth_date=cprs.birth_date(other).isoformat(), relation="cohabitant"))
            return dict(person=person, household=dict(address_id=person["address_id"], members=members))

    class RentRegister(Rent):
        def dwelling(self, address_id):
            return dict(address_id=address_id, tenure="rental",
                        rent_oere_per_year=4_200_000 if address_id.endswith("-r") else RENT, area_m2=60, rooms=2,
                        heating_included=False, hot_water_included=False, electricity_included=False,
                        heating_separate=True, maintenance_duty=False, water_separate=False)

    class IncomeRegister(Income):
        def records(self, cpr, months_):
            if cpr[6] == "9":
                return []          # a new adult without income
            net = 3_500_000 if kind_of(cpr) == "INCOME_DEVIATION" else NET
            with_am = net * 100 // 92
            return [dict(payer_cvr="12345678", payer_se="12345678", income_period_start=f"{m}-01",
                         income_period_end=f"{m}-28", income_type_code="00", a_income_with_am_oere=with_am,
                         a_income_without_am_oere=0, a_tax_oere=0, am_contribution_oere=with_am - net, hours=16_000,
                         fields={"13": with_am, "14": 0, "15": 0, "16": with_am - net}) for m in months_]

    sims = [CprRegister(today=lambda: today), RentRegister(), IncomeRegister()]
    for s in sims:
        s.start_in_thread()
    port_queue.put([s.url for s in sims])
    while True:
        time.sleep(3600)


def _template(start: dt.date):
    """The calculation a straight-through grant of these facts stores (made once by the
    real formula, with the facts' values, as hub.domain.rules.calculation_to_dict keeps them)."""
    from hub.domain import rules as r
    from hub.domain.rules import boligstoette
    from hub.domain.rules import formulas  # noqa: F401 (fills FORMULAS)
    from hub.store.seeds import rule_set_files

    values = {"applicant.receives_folkepension": False, "household.adults": 1, "household.children": 0,
              "household.income_per_year": 12 * NET, "household.wealth": 0, "dwelling.rent_per_year": RENT,
              "dwelling.area_m2": 60, "dwelling.tenure": "rental", "dwelling.heating_included": False,
              "dwelling.hot_water_included": False, "dwelling.electricity_included": False,
              "dwelling.heating_separate": True, "dwelling.water_separate": False, "dwelling.maintenance_duty": False}
    facts = {n: r.Fact(n, v, boligstoette.FACTS[n], "bench", ("item",), n) for n, v in values.items()}
    rule_set = r.in_force([r.rule_set_from_dict(d, version=i + 1) for i, d in enumerate(rule_set_files())
                           if d["benefit_code"] == "BOLIGSTOETTE"], start)
    end = dt.date(start.year, 12, 31)
    result = r.FORMULAS["BOLIGSTOETTE"].calculate(facts, rule_set, r.Period(start, end))
    calc = r.Calculation("c", "BOLIGSTOETTE", (r.PeriodResult(r.Period(start, end), rule_set, result),),
                         tuple(facts[n] for n in result.facts_used if n in facts))
    return result.amount_oere, r.calculation_to_dict(calc)


def _fill(engine, n: int, now: dt.datetime, period: str) -> int:
    from hub.domain import months
    from hub.store import tables as t
    start = dt.date.fromisoformat(period + "-01")
    amount, calculation = _template(start)
    rows: dict[str, list] = {k: [] for k in ("cases", "decisions", "payment_lines")}

    def flush():
        with engine.begin() as c:
            for name in ("cases", "decisions", "payment_lines"):
                if rows[name]:
                    c.execute(getattr(t, name).insert(), rows[name])
                rows[name].clear()

    for i in range(n):
        cpr, municipality = cpr_of(i), MUNICIPALITIES[i % len(MUNICIPALITIES)]
        case_id, decision_id = str(uuid.uuid4()), str(uuid.uuid4())
        rows["cases"].append(dict(
            case_id=case_id, municipality_code=municipality, cpr=cpr, benefit_code="BOLIGSTOETTE",
            channel="SELF_SERVICE", origin="BACK_OFFICE", status="DECIDED", received_at=now, created_at=now,
            processing_deadline=now, applicant_statement={}, external_reference="",
            authority_key=f"municipality:{municipality}", created_by="bench", updated_at=now,
            sensitivity="NOT_CONFIDENTIAL"))
        rows["decisions"].append(dict(
            decision_id=decision_id, case_id=case_id, status="APPROVED", outcome="GRANTED",
            amounts=[dict(amount_oere=amount, period_start=start.isoformat(), period_end=f"{start.year}-12-31")],
            reasoning="calculated", legal_basis="Lov om individuel boligstøtte", discretionary_points=[],
            submitted_by="hub-automation", submitted_at=now, authority_key=f"municipality:{municipality}",
            effective_from=start, calculation=calculation, complaint_guidance="Klagevejledning",
            approval=dict(mode="AUTOMATIC", by_client="hub", authority_key=f"municipality:{municipality}",
                          at=now.isoformat())))
        rows["payment_lines"].append(dict(
            decision_id=decision_id, case_id=case_id, municipality_code=municipality, benefit_code="BOLIGSTOETTE",
            period_key=period, period_start=start, period_end=months.last_day(start), due_month=period,
            amount_oere=amount, end_to_end_id=f"HUB{i + 1}-{period.replace('-', '')}", state="OPEN"))
        if len(rows["cases"]) >= 5_000:
            flush()
    flush()
    return amount


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of another process so far (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main() -> int:
    from collections import Counter

    from adapters.register_lookups import RegisterBatches
    from hub import bootstrap, logs
    from hub.domain.commands import RunControl
    from hub.domain.identity import Identity, Role
    from hub.domain.municipalities import all_municipalities
    from hub.service import control
    from hub.service.clock import SystemClock
    from hub.settings import Settings
    from hub.store.db import create_engine

    logs.configure(open(os.devnull, "w"), json=True, level="WARNING")
    url = fresh_database("bench-control")
    engine = create_engine(url)
    settings = Settings.from_env()
    store, clock = bootstrap.store(settings, engine), SystemClock()
    today = clock.now().date()
    period, _, _ = periods(today)
    t0 = time.perf_counter()
    amount = _fill(engine, GRANTS, clock.now(), period)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.exec_driver_sql("ANALYZE")
    planted = Counter(k for i in range(GRANTS) if (k := kind_of(cpr_of(i))))
    print(f"control: {GRANTS:,} grants of {amount // 100} kr a month in force in {period} loaded in "
          f"{time.perf_counter() - t0:.1f} s, {sum(planted.values()):,} with a planted deviation; "
          f"database {url.split(':')[0]}")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    registers = ctx.Process(target=_serve_registers, args=(q, today), daemon=True)
    registers.start()
    try:
        cpr_url, rent_url, income_url = q.get(timeout=60)
        lookups = RegisterBatches(cpr_url, rent_url, income_url)
        back_office = Identity("bench", Role.BACK_OFFICE, frozenset(all_municipalities()))
        results = []
        for attempt in ("first run", "second run"):
            t0, cpu0, sim0 = time.perf_counter(), time.process_time(), _cpu_seconds(registers.pid)
            last = None
            for last in control.run_control(store.unit, back_office, RunControl(str(uuid.uuid4()), period), clock,
                                            lookups, settings.control):
                pass
            seconds, cpu, sim = (time.perf_counter() - t0, time.process_time() - cpu0,
                                 _cpu_seconds(registers.pid) - sim0)
            results.append(last)
            n = last["examined"]
            rate = (f"{n / seconds:,.0f} grants/s (target 1,700/s); CPU a grant: the run {cpu / n * 1e6:,.0f} us, "
                    f"the registers {sim / n * 1e6:,.0f} us") if n else "nothing to check"
            print(f"  {attempt} of {period}: {n:,} grants in {seconds:.1f} s: {rate}; {last['findings']:,} findings "
                  f"{dict(sorted(last['findings_by_rule'].items()))}")
    finally:
        registers.terminate()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {rss:,.0f} MB (this process: the run; the registers' simulators in another)")
    first, second = results
    ok = (first["examined"] == GRANTS and first["findings_by_rule"] == dict(planted) and first["failed"] == 0
          and second["examined"] == 0)
    if not ok:
        print(f"  expected the planted findings {dict(sorted(planted.items()))} and nothing else", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
