"""Management information on a database of HUB_BENCH_CASES (default 1,000,000) cases:
how long GetStatistics takes over gRPC for one municipality's year, the national year
and a municipality's year of one benefit (issue 28: under 100 ms for a
municipality-year), and how fast the fold turns the event log into the totals.

The cases' events are written straight into the event log in time order, spread over the 98
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
import uuid

import grpc

from bench.database import fresh_database

CASES = int(os.environ.get("HUB_BENCH_CASES", "1000000"))
TARGET_MS = 100
TOKEN = "bench-operator"
BENEFITS = ("BOLIGSTOETTE", "FOLKEPENSION", "BOERNEBIDRAG", "BARSELSDAGPENGE", "FRIPLADS")
START = dt.datetime(2025, 1, 1, 8, tzinfo=dt.timezone.utc)
SPAN_DAYS = 700  # receipts from 1 January 2025 to about 1 December 2026
CHUNK = 50_000


def _events(n: int):
    """The events of cases 0 .. n-1 in the order they happened (as a live hub's log
    has them), in chunks of rows. Cases are received in time order and a case's events
    fall within 90 days of its receipt, so an event is written once the receipts have
    passed it (a heap holds those still to come)."""
    import heapq
    from hub.domain import municipalities
    codes = sorted(municipalities.all_municipalities())
    waiting: list[tuple] = []
    chunk: list[dict] = []
    seq = 0

    def flush_until(until: dt.datetime | None):
        nonlocal seq
        while waiting and (until is None or waiting[0][0] <= until):
            at, _, i, type_, municipality, benefit, payload = heapq.heappop(waiting)
            seq += 1
            chunk.append(dict(seq=seq, event_id=f"00000000-0000-7000-8000-{seq:012x}", type=type_,
                              case_id=f"bench-{i:08d}", municipality_code=municipality, benefit_code=benefit,
                              occurred_at=at, client_id="bench", payload=payload))

    order = 0
    for i in range(n):
        received = START + dt.timedelta(seconds=i * SPAN_DAYS * 86400 // n)
        municipality, benefit = codes[i % len(codes)], BENEFITS[(i // len(codes)) % len(BENEFITS)]
        decided = received + dt.timedelta(days=i % 60, hours=1)
        events = [(received, "case.created", dict(channel="SELF_SERVICE")),
                  (received, "case.status_changed", dict(from_status="CREATED", to_status="INFORMING")),
                  (decided, "case.status_changed", dict(from_status="INFORMING", to_status="DRAFT_PENDING_APPROVAL")),
                  (decided, "decision.approved", dict(
                      first_decision=True, outcome="REFUSED" if i % 3 == 0 else "GRANTED",
                      received_at=received.isoformat(), processing_deadline=(received + dt.timedelta(days=42))
                      .isoformat(), straight_through=i % 2 == 0, mode="AUTOMATIC")),
                  (decided, "case.status_changed", dict(from_status="DRAFT_PENDING_APPROVAL", to_status="DECIDED"))]
        if i % 10 == 0:
            events += [(decided + dt.timedelta(days=5), "complaint.filed", {}),
                       (decided + dt.timedelta(days=20), "complaint.reconsidered",
                        dict(outcome="CHANGED" if i % 20 == 0 else "UPHELD"))]
        if i % 4 == 1:
            events.append((decided + dt.timedelta(days=30), "payment.paid", dict(amount_oere=125_000)))
        flush_until(received)
        for at, type_, payload in events:
            order += 1
            heapq.heappush(waiting, (at, order, i, type_, municipality, benefit, payload))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    flush_until(None)
    if chunk:
        yield chunk


def _fill(engine, n: int) -> int:
    import sqlalchemy as sa
    from hub.store import tables as t
    from hub.store.prepared import insert_many
    total = 0
    for chunk in _events(n):
        with engine.begin() as conn:
            insert_many(conn, t.events, chunk)
        total += len(chunk)
    with engine.begin() as conn:
        conn.execute(sa.update(t.sequences).where(t.sequences.c.name == "events").values(value=total))
        conn.exec_driver_sql("ANALYZE")
    return total


def _hub(q, url: str, var_dir: str) -> None:
    from hub import bootstrap, logs
    from hub.api.auth import ClientRegistry
    from hub.settings import Settings
    from hub.store.db import is_sqlite
    logs.configure(open(os.devnull, "w"), json=True, level="WARNING")
    registry = ClientRegistry.from_entries([dict(id="bench", token=TOKEN, role="operator", municipalities=["*"])])
    settings = Settings.from_env().replace(database_url=url, var_dir=var_dir)
    store = bootstrap.store(settings)

    async def main():
        hub = await bootstrap.start(store, registry, "127.0.0.1:0", settings=settings,
                                    writer_process=is_sqlite(store.engine), writer_linger=bootstrap.linger_of(settings))
        bootstrap.settle_heap()
        q.put(hub.port)
        await hub.server.wait_for_termination()
    asyncio.run(main())


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
