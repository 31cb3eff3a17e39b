"""Event fan-out: N subscribers (default 20) on one hub while a producer creates cases
until E events (default 10,000) have been written; prints the lag from an event's
time (taken in its transaction, just before commit) to its arrival at each
subscriber, p50 and p99, and checks that every subscriber got every event in order.

    python -m bench.events            (part of `make bench`)"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import time

import grpc

from bench.create_case import TOKEN, _request, _spawn, _hub_server

SUBSCRIBERS = int(os.environ.get("HUB_BENCH_SUBSCRIBERS", "20"))
EVENTS = int(os.environ.get("HUB_BENCH_EVENTS", "10000"))
RATE = float(os.environ.get("HUB_BENCH_EVENT_RATE", "150"))  # CreateCase calls/s (2 events each)


def _subscribers(port: int, results) -> None:
    """In a process of its own, as subscribers would be: one Python process running 20
    busy streams and the producer's calls at once falls behind, and gRPC then fails
    some of its own calls with CANCELLED."""
    from hub.v1 import events_pb2, events_pb2_grpc
    md = (("authorization", f"Bearer {TOKEN}"),)
    lags: list[float] = []
    counts = [0] * SUBSCRIBERS

    async def run() -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            events = events_pb2_grpc.EventServiceStub(ch)

            async def subscriber(i: int) -> None:
                last = 0
                call = events.Subscribe(events_pb2.SubscribeRequest(heartbeat_seconds=5), metadata=md)
                async for item in call:
                    if item.HasField("heartbeat"):
                        continue
                    e = item.event
                    assert e.sequence > last, f"out of order: {e.sequence} after {last} (subscriber {i})"
                    last = e.sequence
                    lags.append(time.time() - e.occurred_time.ToNanoseconds() / 1e9)
                    counts[i] += 1
                    if counts[i] >= EVENTS:
                        call.cancel()
                        return
            try:
                await asyncio.wait_for(asyncio.gather(*(subscriber(i) for i in range(SUBSCRIBERS))), 300)
            except asyncio.TimeoutError:
                pass
    asyncio.run(run())
    results.put((lags, counts))


async def _produce(port: int) -> int:
    """Create the cases; return how many calls had to be retried. A call that ends
    CANCELLED is retried with the same request id, as a client should (the hub
    answers a repeat from the first result, so no case is made twice)."""
    from hub.v1 import cases_pb2_grpc
    md = (("authorization", f"Bearer {TOKEN}"),)
    retried = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        cases = cases_pb2_grpc.CaseServiceStub(ch)

        async def create() -> None:
            nonlocal retried
            request = _request()
            for attempt in range(5):
                try:
                    await cases.CreateCase(request, metadata=md)
                    return
                except grpc.aio.AioRpcError as err:
                    if err.code() != grpc.StatusCode.CANCELLED or attempt == 4:
                        raise
                    retried += 1

        interval, nxt = 1.0 / RATE, time.perf_counter()
        pending = []
        for _ in range(EVENTS // 2):  # each CreateCase writes two events
            pending.append(asyncio.ensure_future(create()))
            nxt += interval
            await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
        await asyncio.gather(*pending)
    return retried


def main() -> int:
    shutil.rmtree("var/bench-events", ignore_errors=True)
    os.makedirs("var/bench-events")
    url = "sqlite:///var/bench-events/hub.db"
    from hub.store.migrate import upgrade
    upgrade(url)
    hub, port = _spawn(_hub_server, url)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    subscribers = ctx.Process(target=_subscribers, args=(port, results), daemon=True)
    try:
        subscribers.start()
        time.sleep(2)  # let every stream open
        retried = asyncio.run(_produce(port))
        lags, counts = results.get(timeout=360)
    finally:
        subscribers.kill()
        hub.kill()
    q = statistics.quantiles(sorted(lags), n=100)
    print(f"event fan-out: {SUBSCRIBERS} subscribers x {EVENTS:,} events ({RATE * 2:.0f} events/s produced): "
          f"lag p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms; every subscriber got every event in order: "
          f"{all(c == EVENTS for c in counts)}; CreateCase calls retried after CANCELLED: {retried}")
    return 0 if all(c == EVENTS for c in counts) else 1


if __name__ == "__main__":
    sys.exit(main())
