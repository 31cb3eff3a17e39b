"""Management information on a database of HUB_BENCH_CASES (default 1,000,000) cases:
how long GetStatistics takes over gRPC for one municipality's year, the national year
and a municipality's year of one benefit (issue 28: under 100 ms for a
municipality-year), and how fast the fold turns the event log into the totals.

The cases' events are written straight into the event log by the database, in time order, spread over the 98
municipalities, the five benefits and 2025-2026 (received, informed, drafted, decided
after 0-59 days, one in three refused, half automatic, one in ten with a complaint
reconsidered, one in four paid): what is measured is the fold and the answer. The fold
runs as the dispatcher's loop runs it (chunks of 20,000 events, one transaction each).
Then the hub serves in a child process (as `hub serve` does: a writer process on
SQLite), and each question is asked 20 times; the median and the slowest are printed,
with one answer's figures checked against what was generated.

    make bench
    HUB_BENCH_CASES=100000 python -m bench.statistics
    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python -m bench.statistics"""
from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing as mp
import os
import statistics as pystats
import sys
import time

import grpc

from bench.database import fresh_database
from bench.payments import TOKEN, _hub  # (the same hub child process, an operator's token)

CASES = int(os.environ.get("HUB_BENCH_CASES", "1000000"))
TARGET_MS = 100
BENEFITS = ("BOLIGSTOETTE", "FOLKEPENSION", "BOERNEBIDRAG", "BARSELSDAGPENGE", "FRIPLADS")
START = dt.datetime(2025, 1, 1, 8, tzinfo=dt.timezone.utc)
SPAN_DAYS = 700  # receipts from 1 January 2025 to about 1 December 2026
CHUNK = 50_000


# What each case leaves in the event log: (type, when, only for cases where, payload).
# `when` is seconds after the case's receipt: R (received) or D (decided, 0-59 days and
# an hour later) plus a number of days. The payloads are JSON text with {R} and {D} the
# times (RFC 3339) and {OUTCOME}, {AUTO} the case's.
_KINDS = [
    ("case.created", "R", 0, "1=1", '{"channel": "SELF_SERVICE"}'),
    ("case.status_changed", "R", 0, "1=1", '{"from_status": "CREATED", "to_status": "INFORMING"}'),
    ("case.status_changed", "D", 0, "1=1", '{"from_status": "INFORMING", "to_status": "DRAFT_PENDING_APPROVAL"}'),
    ("decision.approved", "D", 0, "1=1",
     '{"first_decision": true, "outcome": "{OUTCOME}", "received_at": "{R}", "processing_deadline": "{R42}", '
     '"straight_through": {AUTO}, "mode": "AUTOMATIC"}'),
    ("case.status_changed", "D", 0, "1=1", '{"from_status": "DRAFT_PENDING_APPROVAL", "to_status": "DECIDED"}'),
    ("complaint.filed", "D", 5, "i % 10 = 0", "{}"),
    ("complaint.reconsidered", "D", 20, "i % 10 = 0", '{"outcome": "{CHANGED}"}'),
    ("payment.paid", "D", 30, "i % 4 = 1", '{"amount_oere": 125000}'),
]
_START_SQL = "2025-01-01 08:00:00"


def _fill(engine, n: int) -> int:
    """Cases 0 .. n-1's events, written by the database itself (INSERT ... SELECT over a
    series of numbers), numbered in the order they happened (as a live hub's log has
    them). Case i is received at START + i * SPAN / n, in municipality i % 98 and
    benefit (i // 98) % 5, decided i % 60 days and an hour later; one in three refused,
    every other one automatic, one in ten complained of (one in twenty changed), one in
    four paid."""
    import sqlalchemy as sa
    from hub.domain import municipalities
    from hub.store import tables as t
    pg = engine.dialect.name == "postgresql"
    codes = sorted(municipalities.all_municipalities())
    span = SPAN_DAYS * 86400

    def at(seconds: str, fmt: str) -> str:
        """A time `seconds` (SQL) after the start, formatted for storage or as RFC 3339."""
        if pg:
            ts = f"(TIMESTAMPTZ '{_START_SQL}+00' + ({seconds}) * INTERVAL '1 second')"
            return ts if fmt == "stored" else f"to_char({ts} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"
        pattern = "%Y-%m-%d %H:%M:%S.000000" if fmt == "stored" else "%Y-%m-%dT%H:%M:%S+00:00"
        return f"strftime('{pattern}', '{_START_SQL}', '+' || ({seconds}) || ' seconds')"

    def text(template: str) -> str:
        out = "'" + template.replace("'", "''") + "'"
        for key, sql in (("{OUTCOME}", "CASE WHEN i % 3 = 0 THEN 'REFUSED' ELSE 'GRANTED' END"),
                         ("{AUTO}", "CASE WHEN i % 2 = 0 THEN 'true' ELSE 'false' END"),
                         ("{CHANGED}", "CASE WHEN i % 20 = 0 THEN 'CHANGED' ELSE 'UPHELD' END"),
                         ("{R42}", at("r + 42 * 86400", "text")), ("{R}", at("r", "text"))):
            out = out.replace(key, f"' || {sql} || '")
        return out

    numbers = (f"SELECT i::bigint AS i FROM generate_series(0, {n - 1}) AS s(i)" if pg else
               f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}) SELECT i FROM s")
    cases = (f"SELECT i, (i * {span}) / {n} AS r, (i * {span}) / {n} + (i % 60) * 86400 + 3600 AS d, "
             f"i % 98 AS m, (i / 98) % 5 AS b FROM ({numbers}) AS numbers")
    kinds = " UNION ALL ".join(
        f"SELECT {k} AS k, '{type_}' AS type, CASE WHEN '{base}' = 'R' THEN c.r ELSE c.d END + {days} * 86400 AS w, "
        f"{text(payload)} AS payload, c.i AS i, c.m AS m, c.b AS b FROM ({cases}) AS c WHERE {where.replace('i ', 'c.i ')}"
        for k, (type_, base, days, where, payload) in enumerate(_KINDS))
    places = " UNION ALL ".join(f"SELECT {k} AS m, '{code}' AS code" for k, code in enumerate(codes))
    benefits = " UNION ALL ".join(f"SELECT {k} AS b, '{code}' AS code" for k, code in enumerate(BENEFITS))
    seq = "row_number() OVER (ORDER BY e.w, e.i, e.k)"
    hexed = f"lpad(to_hex({seq}), 12, '0')" if pg else f"printf('%012x', {seq})"
    case_id = "'bench-' || lpad(e.i::text, 8, '0')" if pg else "'bench-' || printf('%08d', e.i)"
    payload = "e.payload::jsonb" if pg else "e.payload"
    sql = (f"INSERT INTO events (seq, event_id, type, case_id, municipality_code, benefit_code, occurred_at, "
           f"client_id, payload) SELECT {seq}, '00000000-0000-7000-8000-' || {hexed}, e.type, {case_id}, p.code, "
           f"f.code, {at('e.w', 'stored')}, 'bench', {payload} FROM ({kinds}) AS e "
           f"JOIN ({places}) AS p ON p.m = e.m JOIN ({benefits}) AS f ON f.b = e.b")
    with engine.begin() as conn:
        conn.exec_driver_sql(sql.replace("%", "%%") if pg else sql)  # (psycopg: % is a placeholder's)
        total = conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one()
        conn.execute(sa.update(t.sequences).where(t.sequences.c.name == "events").values(value=total))
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return total


async def _ask(port: int, questions: dict[str, dict], times: int) -> dict[str, tuple[list[float], object]]:
    from hub.v1 import statistics_pb2, statistics_pb2_grpc
    md = (("authorization", f"Bearer {TOKEN}"),)
    out = {}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = statistics_pb2_grpc.StatisticsServiceStub(ch)
        for name, q in questions.items():
            took, answer = [], None
            for _ in range(times):
                t0 = time.perf_counter()
                answer = await stub.GetStatistics(statistics_pb2.GetStatisticsRequest(**q), metadata=md, timeout=60)
                took.append((time.perf_counter() - t0) * 1000)
            out[name] = (took, answer)
    return out


def _expected_2025(n: int, municipality: str | None) -> tuple[int, int]:
    """(received, decided) in 2025 for one municipality's cases (None: all), as generated."""
    from hub.domain import municipalities
    from hub.domain.statistics import day_of
    codes = sorted(municipalities.all_municipalities())
    received = decided = 0
    for i in range(n):
        if municipality is not None and codes[i % len(codes)] != municipality:
            continue
        at = START + dt.timedelta(seconds=i * SPAN_DAYS * 86400 // n)
        received += day_of(at).year == 2025
        decided += day_of(at + dt.timedelta(days=i % 60, hours=1)).year == 2025
    return received, decided


def main() -> int:
    from hub.service import statistics as service
    from hub.service.clock import SystemClock
    from hub.store.db import create_engine
    from hub.store.uow import Store
    url = fresh_database("bench-statistics")
    engine = create_engine(url)
    t0 = time.perf_counter()
    events = _fill(engine, CASES)
    print(f"statistics: {CASES:,} cases, {events:,} events written in {time.perf_counter() - t0:.1f} s; "
          f"database {url.split(':')[0]}")
    store = Store(engine, engine)
    t0 = time.perf_counter()
    folded = service.fold_all(store.unit, SystemClock())
    seconds = time.perf_counter() - t0
    print(f"  fold: {folded:,} events into the totals in {seconds:.1f} s: {folded / seconds:,.0f} events/s")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    hub = ctx.Process(target=_hub, args=(q, url, os.path.join("var", "bench-statistics", "drops")), daemon=True)
    hub.start()
    port = q.get(timeout=300)
    questions = {
        "a municipality's year (101, every benefit, 2025)": dict(municipality_code="101", from_month="2025-01",
                                                                  to_month="2025-12"),
        "a municipality's year of one benefit (751, BOLIGSTOETTE)": dict(
            municipality_code="751", benefit_code="BOLIGSTOETTE", from_month="2025-01", to_month="2025-12"),
        "the national year (every benefit, 2025)": dict(from_month="2025-01", to_month="2025-12"),
        "a municipality's two years as of 30 June 2026": dict(municipality_code="101", from_month="2025-01",
                                                              to_month="2026-12", as_of_date="2026-06-30"),
    }
    failed = []
    try:
        answers = asyncio.run(_ask(port, questions, 20))
    finally:
        hub.terminate()
        hub.join(10)
    for name, (took, answer) in answers.items():
        median = pystats.median(took)
        print(f"  GetStatistics, {name}: median {median:.1f} ms, slowest {max(took):.1f} ms "
              f"(target {TARGET_MS} ms); {answer.total.decided:,} decided")
    for name, municipality in (("a municipality's year (101, every benefit, 2025)", "101"),
                               ("the national year (every benefit, 2025)", None)):
        total = answers[name][1].total
        want = _expected_2025(CASES, municipality)
        if (total.applications_received, total.decided) != want:
            failed.append(f"{name}: received/decided {total.applications_received}/{total.decided}, expected "
                          f"{want[0]}/{want[1]}")
    for line in failed:
        print(f"  WRONG: {line}")
    engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
