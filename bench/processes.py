"""One `hub serve` process against two on one PostgreSQL database, CreateCase under the
same closed-loop load: does the second process add capacity, and does a call cost more
with two? The servers are real `hub serve` processes (as `hub cluster` runs them: one
port shared with SO_REUSEPORT, each with its writer process), the load generator is this
process with HUB_BENCH_CONNECTIONS connections (the kernel spreads connections over the
servers, not calls), and the two set-ups alternate HUB_BENCH_ROUNDS times. Prints per
round and as the median: calls per second, the CPU a call cost the hub processes and
PostgreSQL (from /proc), the transactions committed and the WAL syncs (fsyncs) per
call (pg_stat_database, pg_stat_wal), and the ratio two/one. A group commit's
transaction costs four round trips on PostgreSQL (the batch's request ids looked up;
the rows, audit head and event counter in one pipeline; the audit entries and events;
the COMMIT), so round trips per call are four times the commits per call.

PostgreSQL only (several processes on SQLite share one writer's lock: nothing to gain):

    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python -m bench.processes"""
from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import grpc

from bench.create_case import TOKEN, _collector_held_off, _cpu_seconds, _request
from bench.database import fresh_database

SECONDS = float(os.environ.get("HUB_BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("HUB_BENCH_ROUNDS", "3"))
CALLERS = int(os.environ.get("HUB_BENCH_CALLERS", "256"))
CONNECTIONS = int(os.environ.get("HUB_BENCH_CONNECTIONS", "16"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _servers(url: str, n: int, port: int, clients: str) -> list[subprocess.Popen]:
    env = dict(os.environ, HUB_REUSE_PORT="1", HUB_HTTP_LISTEN="off", HUB_LOG_LEVEL="WARNING",
               HUB_LOG_FILE=os.devnull)
    return [subprocess.Popen([sys.executable, "-m", "hub.cli", "--database", url, "serve", "--listen",
                              f"127.0.0.1:{port}", "--clients", clients, "--dispatch", "off"], env=env)
            for _ in range(n)]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on the host (its backends do the work)."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if open(f"/proc/{pid}/comm").read().strip() in ("postgres", "postmaster"):
                total += _cpu_seconds(int(pid), children=False)
        except OSError:
            continue
    return total


async def _load(port: int, seconds: float) -> int:
    """CALLERS callers over CONNECTIONS connections of their own; the calls answered in
    time."""
    from hub.v1 import cases_pb2_grpc
    md = (("authorization", f"Bearer {TOKEN}"),)
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(CONNECTIONS)]
    stubs = [cases_pb2_grpc.CaseServiceStub(ch) for ch in channels]
    for stub in stubs:
        await stub.CreateCase(_request(), metadata=md, timeout=60)
    done = 0
    with _collector_held_off():
        end = time.perf_counter() + seconds

        async def worker(stub):
            nonlocal done
            while time.perf_counter() < end:
                await stub.CreateCase(_request(), metadata=md, timeout=60)
                if time.perf_counter() <= end:
                    done += 1
        await asyncio.gather(*(worker(stubs[i % CONNECTIONS]) for i in range(CALLERS)))
    for ch in channels:
        await ch.close()
    return done


def _ready(port: int) -> None:
    from hub.v1 import benefits_pb2, benefits_pb2_grpc
    end = time.monotonic() + 60
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        while True:
            try:
                benefits_pb2_grpc.BenefitCatalogueServiceStub(ch).ListBenefits(
                    benefits_pb2.ListBenefitsRequest(), metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=2)
                return
            except grpc.RpcError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)


def _pg_counters(url: str) -> tuple[int, int]:
    """(transactions committed in the database, WAL syncs of the server) so far."""
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            commits = c.execute(sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                                        )).scalar_one()
            syncs = c.execute(sa.text("SELECT wal_sync FROM pg_stat_wal")).scalar_one()
    finally:
        engine.dispose()
    return int(commits), int(syncs)


def _round(url: str, n: int, clients: str) -> tuple[float, float, float, float, float]:
    """(calls/s, hub CPU ms per call, PostgreSQL CPU ms per call, commits per call,
    WAL syncs per call) with n servers."""
    port = _free_port()
    procs = _servers(url, n, port, clients)
    try:
        _ready(port)
        time.sleep(2)  # every server up (the first to answer is not the last to start)
        asyncio.run(_load(port, 2))  # warm
        hub0, pg0, (commits0, syncs0) = sum(_cpu_seconds(p.pid) for p in procs), _postgres_cpu(), _pg_counters(url)
        calls = asyncio.run(_load(port, SECONDS))
        hub1, pg1, (commits1, syncs1) = sum(_cpu_seconds(p.pid) for p in procs), _postgres_cpu(), _pg_counters(url)
    finally:
        _stop(procs)
    per = max(calls, 1)
    return (calls / SECONDS, (hub1 - hub0) * 1000 / per, (pg1 - pg0) * 1000 / per, (commits1 - commits0) / per,
            (syncs1 - syncs0) / per)


def main() -> int:
    url = os.environ.get("HUB_BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        print("processes: one hub serve against two needs PostgreSQL (HUB_BENCH_DATABASE_URL); skipped")
        return 0
    url = fresh_database("bench-processes")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(f'[[client]]\nid = "bench"\ntoken = "{TOKEN}"\nrole = "back_office"\nmunicipalities = ["*"]\n')
        clients = f.name
    print(f"processes: CreateCase, {CALLERS} callers over {CONNECTIONS} connections, {SECONDS:g} s a round, "
          f"{ROUNDS} rounds alternating; one port (SO_REUSEPORT), each server with its writer process")
    results: dict[int, list[tuple[float, ...]]] = {1: [], 2: []}
    try:
        for r in range(ROUNDS):
            for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                rate, hub_ms, pg_ms, commits, syncs = got = _round(url, n, clients)
                results[n].append(got)
                print(f"  round {r + 1}, {n} server{'s' if n > 1 else ' '}: {rate:7.0f} calls/s   CPU per call: "
                      f"hub {hub_ms:.2f} ms, PostgreSQL {pg_ms:.2f} ms;  per call: {commits:.3f} commits "
                      f"(calls per group commit {1 / max(commits, 1e-9):.0f}), {syncs:.3f} WAL syncs")
    finally:
        os.unlink(clients)
    med = {n: tuple(statistics.median(x[i] for x in results[n]) for i in range(5)) for n in results}
    print(f"  median: one server {med[1][0]:.0f} calls/s (hub {med[1][1]:.2f} ms, PostgreSQL {med[1][2]:.2f} ms a "
          f"call); two {med[2][0]:.0f} calls/s (hub {med[2][1]:.2f} ms, PostgreSQL {med[2][2]:.2f} ms); "
          f"two/one = {med[2][0] / med[1][0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
