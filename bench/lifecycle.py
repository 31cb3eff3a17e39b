"""Straight-through processing end to end: self-service applications of boligstøtte
(processed automatically) from CreateCase through the CPR, rent and income registers
(the simulators, over real sockets), the calculated draft and its automatic approval,
to the ledger posting, the letter and the archive package written. Prints lifecycles
per second through approval and with every delivery done, and where the CPU went.

    make bench                               # (with the others)
    python -m bench.lifecycle                # HUB_BENCH_LIFECYCLES (2000), HUB_BENCH_CALLERS (64)
    HUB_BENCH_DISPATCHERS=1 python -m bench.lifecycle   # and a `hub dispatch` process beside the server's own

The hub runs as `hub serve` does (a writer process on SQLite, the dispatcher embedded,
the adapters from its settings), in a child process; the three register simulators in
another (each citizen staged in them: a tenant alone, 25.000 kr a month, rent 4.000 kr,
60 m²: 560 kr a month, Udbetaling Danmark's calculator's case); the load generator here.
Every application is expected to be decided automatically: one that falls out fails the
run, and so does a wrong amount."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import multiprocessing as mp
import os
import sys
import time
import uuid
from pathlib import Path

import grpc

from bench.create_case import _cpu_seconds
from bench.database import fresh_database

N = int(os.environ.get("HUB_BENCH_LIFECYCLES", "2000"))
CALLERS = int(os.environ.get("HUB_BENCH_CALLERS", "64"))
DISPATCHERS = int(os.environ.get("HUB_BENCH_DISPATCHERS", "0"))  # `hub dispatch` processes beside the server's own
TOKEN = "bench-token"
TARGET_APPROVED, TARGET_DONE = 300, 200   # lifecycles per second (issue 26)


def _cprs(n: int) -> list[str]:
    """n valid CPR numbers (born 1 January 1970 to 1979, serials under 9990)."""
    return [f"0101{70 + i // 9000:02d}{i % 9000:04d}" for i in range(n)]


def _simulators(q, cprs: list[str]) -> None:
    from adapters.cpr_register.simulator import Simulator as Cpr
    from adapters.income_register.simulator import Simulator as Income
    from adapters.rent_register.simulator import Simulator as Rent
    from hub.domain import months
    cpr_sim, rent_sim, income_sim = Cpr(), Rent(), Income()
    net = 2_500_000
    for n, cpr in enumerate(cprs):
        address = f"bench-{n}"
        cpr_sim.put_person(cpr, dict(status="alive", civil_status="unmarried", municipality_code="101",
                                     address_id=address, spouse_cpr=None),
                           dict(address_id=address, members=[dict(cpr=cpr, birth_date="1970-01-01", relation="self")]))
        rent_sim.put_dwelling(address, dict(tenure="rental", rent_oere_per_year=4_800_000, area_m2=60, rooms=2,
                                            heating_included=False, hot_water_included=False,
                                            electricity_included=False, heating_separate=True, maintenance_duty=False,
                                            water_separate=False))
        for month in _window():
            y, m = map(int, month.split("-"))
            start = dt.date(y, m, 1)
            with_am = net * 100 // 92
            income_sim.put_income(cpr, month, [dict(
                payer_cvr="12345678", payer_se="12345678", income_period_start=start.isoformat(),
                income_period_end=months.last_day(start).isoformat(), income_type_code="00",
                a_income_with_am_oere=with_am, a_income_without_am_oere=0, a_tax_oere=net * 37 // 100,
                am_contribution_oere=with_am - net,
                fields={"13": with_am, "14": 0, "15": net * 37 // 100, "16": with_am - net}, hours=16_000)])
    for s in (cpr_sim, rent_sim, income_sim):
        s.start_in_thread()
    q.put(dict(cpr=cpr_sim.url, rent=rent_sim.url, income=income_sim.url))
    while True:
        time.sleep(3600)


def _window() -> list[str]:
    """The 12 whole months before this month (what the hub asks the income register for)."""
    from hub.domain.rules.facts import INCOME_MONTHS, income_window
    return list(income_window(dt.datetime.now(dt.timezone.utc), INCOME_MONTHS))


def _hub(q, url: str, var_dir: str, urls: dict) -> None:
    from hub import bootstrap, logs
    from hub.api.auth import ClientRegistry
    from hub.service.clock import SystemClock
    from hub.settings import Settings
    logs.configure(open(os.devnull, "w"), json=True, level="WARNING")
    registry = ClientRegistry.from_entries([dict(id="bench", token=TOKEN, role="back_office", municipalities=["*"])])
    settings = Settings.from_env().replace(database_url=url, var_dir=var_dir, income_register_url=urls["income"],
                                           cpr_register_url=urls["cpr"], rent_register_url=urls["rent"])
    store = bootstrap.store(settings)
    dispatcher = bootstrap.dispatcher(store, SystemClock(), bootstrap.adapters(settings), settings.dispatcher)

    async def main():
        hub = await bootstrap.start(store, registry, "127.0.0.1:0", settings=settings, dispatcher=dispatcher,
                                    writer_process=bootstrap.writer_wanted(settings), writer_linger=bootstrap.linger_of(settings))
        bootstrap.settle_heap()
        q.put(hub.port)
        await hub.server.wait_for_termination()
    asyncio.run(main())


def _dispatcher(q, url: str, var_dir: str, urls: dict) -> None:
    """A dispatcher process of its own, as `hub dispatch` runs it."""
    from hub import bootstrap, logs
    from hub.service.clock import SystemClock
    from hub.settings import Settings
    logs.configure(open(os.devnull, "w"), json=True, level="WARNING")
    settings = Settings.from_env().replace(database_url=url, var_dir=var_dir, income_register_url=urls["income"],
                                           cpr_register_url=urls["cpr"], rent_register_url=urls["rent"])
    store = bootstrap.store(settings)
    dispatcher = bootstrap.dispatcher(store, SystemClock(), bootstrap.adapters(settings), settings.dispatcher)
    q.put(os.getpid())
    dispatcher.run_forever()


def _spawn(target, *args):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(q, *args), daemon=True)
    p.start()
    return p, q.get(timeout=300)


async def _apply(port: int, cprs: list[str]) -> None:
    from google.protobuf import struct_pb2
    from hub.v1 import cases_pb2, cases_pb2_grpc, common_pb2
    md = (("authorization", f"Bearer {TOKEN}"),)
    statement = struct_pb2.Struct()
    statement.update({"receives_folkepension": False, "wealth_oere": 0})
    todo = list(cprs)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = cases_pb2_grpc.CaseServiceStub(ch)

        async def caller():
            while todo:
                cpr = todo.pop()
                await stub.CreateCase(cases_pb2.CreateCaseRequest(
                    request_id=str(uuid.uuid4()), municipality_code="101", cpr=cpr, benefit_code="BOLIGSTOETTE",
                    channel=common_pb2.CHANNEL_SELF_SERVICE, applicant_statement=statement), metadata=md, timeout=60)
        await asyncio.gather(*(caller() for _ in range(CALLERS)))


def _counts(engine) -> tuple[int, int, int]:
    """(decided automatically, fallen out, outbox messages not yet delivered)."""
    import sqlalchemy as sa
    from hub.store import tables as t
    with engine.connect() as c:
        by = dict(c.execute(sa.select(t.cases.c.automation, sa.func.count()).group_by(t.cases.c.automation)).all())
        pending = c.execute(sa.select(sa.func.count()).select_from(t.outbox)
                            .where(t.outbox.c.status != "DELIVERED")).scalar_one()
    return by.get("DECIDED", 0), by.get("FELL_OUT", 0), pending


def main() -> int:
    from hub.store.db import create_engine
    url = fresh_database("bench-lifecycle")
    var_dir = os.path.join("var", "bench-lifecycle", "drops")
    cprs = _cprs(N)
    t0 = time.perf_counter()
    sims, urls = _spawn(_simulators, cprs)
    hub, port = _spawn(_hub, url, var_dir, urls)
    extra = [_spawn(_dispatcher, url, var_dir, urls)[0] for _ in range(DISPATCHERS)]
    print(f"lifecycle: {N:,} self-service boligstøtte applications, {CALLERS} callers; database {url.split(':')[0]}; "
          f"set up in {time.perf_counter() - t0:.1f} s")
    engine = create_engine(url, read_only=url.startswith("sqlite"))
    cpu0 = dict(hub=_cpu_seconds(hub.pid) + sum(_cpu_seconds(p.pid) for p in extra), sims=_cpu_seconds(sims.pid),
                load=_cpu_seconds(os.getpid(), children=False))
    start = time.perf_counter()
    decided_at = None
    created = asyncio.run(_apply_and_time(port, cprs))
    while True:
        decided, fell, pending = _counts(engine)
        now = time.perf_counter()
        if decided + fell >= N and decided_at is None:
            decided_at = now
        if decided_at is not None and pending == 0:
            break
        if now - start > 600:
            print(f"  gave up after 600 s: {decided:,} decided, {fell:,} fell out, {pending:,} messages pending")
            return 1
        time.sleep(0.05)
    done_at = time.perf_counter()
    cpu = dict(hub=_cpu_seconds(hub.pid) + sum(_cpu_seconds(p.pid) for p in extra) - cpu0["hub"], sims=_cpu_seconds(sims.pid) - cpu0["sims"],
               load=_cpu_seconds(os.getpid(), children=False) - cpu0["load"])
    decided, fell, _ = _counts(engine)
    drops = Path(var_dir)
    postings = [json.loads(x) for f in (drops / "economy").rglob("*.jsonl") for x in f.read_text().splitlines()]
    letters = len(list((drops / "digital_post").glob("*.xml")))
    bags = len([p for p in (drops / "archive").glob("*/*") if p.is_dir()])
    wrong = sum(1 for p in postings if p.get("amount_oere") != 56_000)
    approved_rate, done_rate = N / (decided_at - start), N / (done_at - start)
    print(f"  CreateCase calls done in {created - start:.1f} s ({N / (created - start):,.0f}/s)")
    print(f"  through approval: {approved_rate:,.0f} lifecycles/s (target {TARGET_APPROVED}); with every delivery "
          f"done: {done_rate:,.0f} lifecycles/s (target {TARGET_DONE})")
    print(f"  decided automatically {decided:,}, fell out {fell:,}; postings {len(postings):,} ({wrong} wrong), "
          f"letters {letters:,}, archive packages {bags:,}")
    print("  CPU per lifecycle: " + ", ".join(f"{k} {v / N * 1000:.2f} ms" for k, v in cpu.items())
          + "  (hub: the server, its writer process and the dispatcher thread)")
    for p in (hub, sims, *extra):
        p.terminate()
    ok = decided == N and fell == 0 and len(postings) == N and wrong == 0 and letters == N and bags == N
    return 0 if ok else 1


async def _apply_and_time(port: int, cprs: list[str]) -> float:
    await _apply(port, cprs)
    return time.perf_counter()


if __name__ == "__main__":
    sys.exit(main())
