"""The payment run: HUB_BENCH_GRANTS (default 100,000) monthly grants in force, each with
three months (May-July 2026) still to pay; `payments run` for 2026-05 creates one order
per grant, with its economy posting in the outbox, in transactions of one chunk each.
Prints orders created per second and the time for the whole run, then a second run of
the same period (nothing to do).

The grants are loaded straight into the tables (cases, approved decisions, grant
lines): what is measured is the run, through the service layer the RunPayments RPC
streams from.

    make bench
    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python -m bench.payments"""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
import uuid

from bench.database import fresh_database

GRANTS = int(os.environ.get("HUB_BENCH_GRANTS", "100000"))


def _fill(engine, n: int, now: dt.datetime) -> None:
    from hub.store import tables as t
    cases, decisions, lines = [], [], []

    def flush():
        with engine.begin() as c:
            c.execute(t.cases.insert(), cases)
            c.execute(t.decisions.insert(), decisions)
            c.execute(t.payment_lines.insert(), lines)
        for rows in (cases, decisions, lines):
            rows.clear()

    for i in range(n):
        case_id, decision_id = str(uuid.uuid4()), str(uuid.uuid4())
        municipality = ("101", "147", "751")[i % 3]
        cases.append(dict(case_id=case_id, municipality_code=municipality, cpr=f"0101{70 + i % 30:02d}{i % 10000:04d}",
                          benefit_code="BOLIGSTOETTE", channel="SELF_SERVICE", origin="BACK_OFFICE", status="DECIDED",
                          received_at=now, created_at=now, processing_deadline=now, applicant_statement={},
                          external_reference="", authority_key=f"municipality:{municipality}", created_by="bench",
                          updated_at=now, sensitivity="NOT_CONFIDENTIAL"))
        decisions.append(dict(decision_id=decision_id, case_id=case_id, status="APPROVED", outcome="GRANTED",
                              amounts=[dict(amount_oere=125_000, period_start="2026-05-01", period_end="2026-07-31")],
                              reasoning="r", legal_basis="b", discretionary_points=[], submitted_by="bench",
                              submitted_at=now, authority_key=f"municipality:{municipality}",
                              effective_from=dt.date(2026, 5, 1),
                              approval=dict(mode="AUTOMATIC", by_client="hub", authority_key="x", at=now.isoformat())))
        for month in (5, 6, 7):
            start = dt.date(2026, month, 1)
            end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            lines.append(dict(decision_id=decision_id, case_id=case_id, municipality_code=municipality,
                              benefit_code="BOLIGSTOETTE", period_key=f"2026-{month:02d}", period_start=start,
                              period_end=end, due_month=f"2026-{month:02d}", amount_oere=125_000,
                              end_to_end_id=f"HUB{i + 1}-2026{month:02d}", state="OPEN"))
        if len(cases) >= 5_000:
            flush()
    if cases:
        flush()


def main() -> int:
    from hub import bootstrap, logs
    from hub.domain.commands import RunPayments
    from hub.domain.identity import Identity, Role
    from hub.service import payments
    from hub.service.clock import SystemClock
    from hub.settings import Settings
    from hub.store.db import create_engine

    logs.configure(open(os.devnull, "w"), json=True, level="WARNING")
    url = fresh_database("bench-payments")
    engine = create_engine(url)
    settings = Settings.from_env()
    store, clock = bootstrap.store(settings, engine), SystemClock()
    t0 = time.perf_counter()
    _fill(engine, GRANTS, clock.now())
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.exec_driver_sql("ANALYZE")
    print(f"payments: {GRANTS:,} grants loaded in {time.perf_counter() - t0:.1f} s; database {url.split(':')[0]}")
    operator = Identity("bench", Role.OPERATOR, frozenset())
    results = []
    for attempt in ("first run", "second run"):
        t0 = time.perf_counter()
        last = None
        for last in payments.run_payments(store.unit, operator, RunPayments(str(uuid.uuid4()), "2026-05"), clock,
                                          settings.payments):
            pass
        seconds = time.perf_counter() - t0
        results.append(last)
        print(f"  {attempt} of 2026-05: {last['orders_created']:,} orders ({last['amount_oere'] // 100:,} kr) "
              f"in {seconds:.1f} s: {last['orders_created'] / seconds:,.0f} orders/s")
    return 0 if results[0]["orders_created"] == GRANTS and results[1]["orders_created"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
