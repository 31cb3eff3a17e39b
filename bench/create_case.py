"""CreateCase against a bare echo server of the same grpcio version, with the same
load generator in the same run. Prints req/s, p50, p99 and the ratio, then the hub's
latency at half of its peak rate.

    make bench                      # SQLite (a fresh file under var/bench)
    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make bench

Servers run in a child process each, the load generator in this process: a grpc.aio
client with N concurrent callers (a closed loop). Each run also prints the CPU time the
server and the load generator spent per request (from /proc) and the share of the
host's cores left idle: on a small machine the echo run keeps every core busy, so
req/s alone does not say whose cost is whose.

The ratio compares peaks, and a closed loop only finds a server's peak if it keeps
enough calls in flight: by Little's law it can do no more than callers / latency. An
echo server answers in microseconds and saturates the host with a few dozen callers;
the hub answers when its batch is durable (an fsync of the write-ahead log), so with
the same few dozen callers it leaves cores idle and measures that latency, not its
capacity. So first a short sweep runs both at each of HUB_BENCH_SWEEP's caller counts
(echo and hub alternating), up and down, and takes for each the count where it did
best on average; then the verdict: HUB_BENCH_ROUNDS rounds, echo and hub alternating
(each first in every other round), each at its own peak count, the median round the
ratio. The sweep's lines also give the ratio at equal caller counts, for whoever wants
that figure. The p99 target is measured in an open loop (requests at a fixed rate,
half of the hub's peak), where the caller count plays no part; the echo server runs at
the same rate in alternate rounds, and its p99 is the floor the host and the load
generator set."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid

import grpc

from bench.database import fresh_database

DURATION = float(os.environ.get("HUB_BENCH_SECONDS", "8"))
SWEEP = [int(c) for c in os.environ.get("HUB_BENCH_SWEEP", "32,64,128,256,512").split(",")]
SWEEP_SECONDS = float(os.environ.get("HUB_BENCH_SWEEP_SECONDS", "3"))
ROUNDS = int(os.environ.get("HUB_BENCH_ROUNDS", "5"))
TOKEN = "bench-token"


async def bare_create_case_server(answer) -> tuple[grpc.aio.Server, int]:
    """A started grpc.aio server whose hub.v1.CaseService/CreateCase is `answer`
    (async (request, context) -> Case) and nothing else; and its port."""
    from hub.v1 import cases_pb2
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("hub.v1.CaseService", {
        "CreateCase": grpc.unary_unary_rpc_method_handler(
            answer, request_deserializer=cases_pb2.CreateCaseRequest.FromString,
            response_serializer=cases_pb2.Case.SerializeToString)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


def _echo_server(port_q) -> None:
    from hub.v1 import cases_pb2

    async def echo(request, context):
        return cases_pb2.Case(case_id=request.request_id, cpr=request.cpr)

    async def main():
        server, port = await bare_create_case_server(echo)
        port_q.put(port)
        await server.wait_for_termination()
    asyncio.run(main())


def _hub_server(port_q, url) -> None:
    from hub import bootstrap, logs
    from hub.api.auth import ClientRegistry
    from hub.settings import Settings
    logs.configure(open(os.devnull, "w"), json=True, level="WARNING")
    registry = ClientRegistry.from_entries([dict(id="bench", token=TOKEN, role="back_office", municipalities=["*"])])
    settings = Settings.from_env().replace(database_url=url)
    store = bootstrap.store(settings)

    async def main():
        # As `hub serve` runs: on SQLite with a writer process.
        hub = await bootstrap.start(store, registry, "127.0.0.1:0", settings=settings,
                                    writer_process=bootstrap.writer_wanted(settings), writer_linger=bootstrap.linger_of(settings))
        bootstrap.settle_heap()  # as `hub serve` does
        port_q.put(hub.port)
        await hub.server.wait_for_termination()
    asyncio.run(main())


_serial = 0


def _request():
    from hub.v1 import cases_pb2, common_pb2
    global _serial
    _serial = (_serial + 1) % 4000
    # By phone: a case a person processes. (A self-service boligstøtte application is
    # processed automatically, which also asks the CPR register: bench.lifecycle measures
    # that whole path. This keeps the figure comparable with the earlier ones.)
    return cases_pb2.CreateCaseRequest(request_id=str(uuid.uuid4()), municipality_code="101",
                                       cpr=f"010170{_serial:04d}", benefit_code="BOLIGSTOETTE",
                                       channel=common_pb2.CHANNEL_PHONE)


async def _load(port: int, seconds: float, concurrency: int, rate: float | None = None) -> tuple[int, list[float]]:
    """Closed loop (`concurrency` callers, each as fast as it can) or, with `rate`, an
    open loop at that rate. Returns the number of calls counted and their latencies.

    The closed loop counts only the calls answered within `seconds`: the calls still in
    flight then (as many as there are callers) finish later, and counting them would
    add callers / seconds to the rate, more for the side with more callers. The open
    loop counts every call it started, however late its answer: leaving out the late
    ones would flatter the p99.

    The load generator's own pauses must not count as the server's latency. Its cyclic
    garbage collector is held off while it measures: a full collection stopped its event
    loop for 22-31 ms every few seconds (it walks every object the calls left behind),
    and with it the calls in flight then, for either server; on a quiet host those pauses
    alone put the echo server's and the hub's p99 over 25 ms. The open loop likewise
    keeps only the calls in flight, not every task it started: gathering 13,000 finished
    tasks at the end stalled the loop for the last calls."""
    from hub.v1 import cases_pb2_grpc
    md = (("authorization", f"Bearer {TOKEN}"),)
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = cases_pb2_grpc.CaseServiceStub(ch)
        await stub.CreateCase(_request(), metadata=md)  # warm up the connection
        with _collector_held_off():
            end = time.perf_counter() + seconds

            async def one(closed: bool):
                t = time.perf_counter()
                await stub.CreateCase(_request(), metadata=md)
                done = time.perf_counter()
                if not closed or done <= end:
                    latencies.append(done - t)

            if rate is None:
                async def worker():
                    while time.perf_counter() < end:
                        await one(closed=True)
                await asyncio.gather(*(worker() for _ in range(concurrency)))
            else:
                in_flight: set[asyncio.Task] = set()
                interval, nxt = 1.0 / rate, time.perf_counter()
                while nxt < end:
                    task = asyncio.create_task(one(closed=False))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    nxt += interval
                    await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
                await asyncio.gather(*in_flight)
    return len(latencies), latencies


@contextlib.contextmanager
def _collector_held_off():
    """No cyclic garbage collection in this process meanwhile; a full one before (so the
    window starts with a clean heap) and after (what the window left behind)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def _spawn(target, *args) -> tuple[mp.Process, int]:
    q = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=target, args=(q, *args), daemon=True)
    p.start()
    return p, q.get(timeout=30)


def _cpu_seconds(pid: int, children: bool = True) -> float:
    """User + system CPU time of a process, all its threads and (`children`) its child
    processes (a writer process), from Linux /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    if not children:
        return own
    kids = [int(c) for task in os.listdir(f"/proc/{pid}/task")  # each thread lists the children it started
            for c in open(f"/proc/{pid}/task/{task}/children").read().split()]
    return own + sum(_cpu_seconds(c) for c in kids)


def _core_stalls(seconds: float = 3.0) -> str:
    """How often this host takes a core away: a fixed task of about a millisecond of
    CPU, run again and again for `seconds` with short sleeps between, timed by the
    thread's own CPU clock. On a shared virtual machine the time a core is taken away
    can be charged to whatever ran on it, with no steal counted in /proc/stat; a task
    that takes several times its median then shows it. Every process of a run, the
    load generator's included, pays those stalls, and a p99 is made of a few of them."""
    def task() -> int:
        total = 0
        for i in range(15000):
            total += i * i
        return total

    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.thread_time()
        task()
        times.append(time.thread_time() - start)
        time.sleep(0.001)
    times.sort()
    median = times[len(times) // 2]
    slow = sum(t > 3 * median for t in times) / len(times)
    return (f"a {median * 1000:.1f} ms CPU task took over 3x that in {slow:.1%} of {len(times)} runs, "
            f"the longest {times[-1] * 1000:.1f} ms")


def _host_times() -> list[int]:
    """The host's CPU time counters (all cores), from Linux /proc/stat."""
    return [int(x) for x in open("/proc/stat").readline().split()[1:]]


def _measured(server_pid: int, load) -> tuple[int, list[float], float, float, float]:
    """Run `load` (a coroutine); also return the CPU time the server and this
    process (the load generator) spent per request, and the share of the host's
    cores left idle meanwhile (idle or waiting for I/O)."""
    server0, client0, host0 = _cpu_seconds(server_pid), _cpu_seconds(os.getpid(), children=False), _host_times()
    n, lat = asyncio.run(load)
    server1, client1, host1 = _cpu_seconds(server_pid), _cpu_seconds(os.getpid(), children=False), _host_times()
    host = [b - a for a, b in zip(host0, host1)]
    idle = (host[3] + host[4]) / max(sum(host), 1)
    return n, lat, (server1 - server0) / max(n, 1), (client1 - client0) / max(n, 1), idle


def _summary(name: str, n: int, lat: list[float], server_cpu: float, client_cpu: float, idle: float,
             seconds: float) -> dict:
    lat = sorted(lat)
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    r = dict(name=name, rps=n / seconds, p50=q[49] * 1000, p99=q[98] * 1000, cpu=server_cpu * 1000)
    print(f"{name:<38} {r['rps']:>7.0f} req/s   p50 {r['p50']:7.2f} ms   p99 {r['p99']:7.2f} ms   "
          f"CPU/request: server {server_cpu * 1000:.3f} ms, load generator {client_cpu * 1000:.3f} ms;  "
          f"cores idle {idle:.0%}")
    return r


def _alternating(sides, rnd: int, seconds: float, callers: dict[str, int] | None = None, suffix: str = "",
                 rate: float | None = None) -> dict:
    """Run each side once, in turn: a closed loop with its caller count from `callers`,
    or an open loop at `rate`. Each goes first in every other round, so that neither
    gains from its place in the pair (an A/A test of two equal hubs put the second
    about 1 % ahead), and a machine whose speed drifts (a shared host) moves both alike."""
    order = sides if rnd % 2 else sides[::-1]
    got = {}
    for name, pid, port in order:
        concurrency, load = (0, f"{rate:.0f}/s") if rate else (callers[name], f"{callers[name]} callers")
        got[name] = _summary(f"{name} @ {load}{suffix}",
                             *_measured(pid, _load(port, seconds, concurrency, rate=rate)), seconds)
    return got


def _rounds(values: list[float], fmt: str) -> str:
    """The median of `values` and, in brackets, every round, each formatted with `fmt`."""
    return f"{statistics.median(values):{fmt}} (rounds: {', '.join(f'{x:{fmt}}' for x in values)})"


def main() -> int:
    url = fresh_database("bench")
    print(f"grpcio {grpc.__version__}; database {url.split(':')[0]}; {os.cpu_count()} cores; sweep of "
          f"{', '.join(map(str, SWEEP))} concurrent callers, {SWEEP_SECONDS:.0f} s each, up and down; "
          f"then {ROUNDS} rounds of {DURATION:.0f} s")
    print(f"core stalls on the idle host: {_core_stalls()}")
    echo, echo_port = _spawn(_echo_server)
    hub, hub_port = _spawn(_hub_server, url)
    for port in (echo_port, hub_port):
        asyncio.run(_load(port, 1, SWEEP[0]))  # warm up
    sides = [("echo server", echo.pid, echo_port), ("hub CreateCase", hub.pid, hub_port)]
    # The sweep runs twice, the second time from the most callers down, and each side's
    # peak is the count with the best mean of its two runs: the echo server's req/s is
    # flat across these counts within the host's noise (4,400-5,700 in one run), and one
    # 3 s figure each picked its count by chance, once 32 callers, where it is about 10 %
    # slower than at 512 (its load generator batches less), which flattered the hub.
    sweep: dict[str, dict[int, list[float]]] = {name: {c: [] for c in SWEEP} for name, _, _ in sides}
    for i, c in enumerate(SWEEP + SWEEP[::-1]):
        got = _alternating(sides, i, SWEEP_SECONDS, {name: c for name, _, _ in sides})
        print(f"{'':<38} ratio at {c} callers each: {got['hub CreateCase']['rps'] / got['echo server']['rps']:.0%}")
        for name, r in got.items():
            sweep[name][c].append(r["rps"])
    callers = {name: max(SWEEP, key=lambda c: statistics.mean(by_count[c])) for name, by_count in sweep.items()}
    # Five rounds by default: on the 2-core test host the echo server's req/s swings by
    # 6 % from one run to the next, the hub's by less, and a median of three moved with it.
    ratios, peaks, cpus = [], [], []
    for r in range(1, ROUNDS + 1):
        got = _alternating(sides, r, DURATION, callers, f", round {r}")
        e, h = got["echo server"], got["hub CreateCase"]
        ratios.append(h["rps"] / e["rps"])
        peaks.append(h["rps"])
        cpus.append(h["cpu"] / e["cpu"])
    # The p99 target, in an open loop at half of the hub's peak; the echo server at the
    # same rate, alternating, gives the floor this host and load generator set for any
    # server: on a shared virtual machine a core is now and then taken away for 10-20 ms
    # (not counted as steal), and the few calls in flight then make the p99.
    half = statistics.median(peaks) / 2
    p99s: dict[str, list[float]] = {name: [] for name, _, _ in sides}
    for r in range(1, ROUNDS + 1):
        for name, got in _alternating(sides, r, DURATION, suffix=f", round {r}", rate=half).items():
            p99s[name].append(got["p99"])
    echo.kill()
    hub.kill()
    hub_p99, echo_p99 = p99s["hub CreateCase"], p99s["echo server"]
    print(f"ratio hub/echo at peak (echo at {callers['echo server']} callers, hub at {callers['hub CreateCase']}; "
          f"target >= 60%): {_rounds(ratios, '.0%')};  "
          f"p99 at half of peak ({half:.0f}/s; target < 25 ms), ms: {_rounds(hub_p99, '.1f')}, "
          f"echo server at that rate {_rounds(echo_p99, '.1f')};  "
          f"server CPU per request hub/echo: {statistics.median(cpus):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
