"""The CreateCase benchmark's load generator: which calls count toward req/s and p99.

A server that answers each call after DELAY seconds makes the windows plain: a closed
loop of N callers over a run shorter than two calls counts N calls (the second call of
each caller ends after the run); an open loop counts every call it started, however
late its answer."""
from __future__ import annotations

import asyncio
import gc

from bench import create_case
from hub.v1 import cases_pb2

DELAY = 0.4


async def _with_slow_server(load, collector: list[bool] | None = None):
    async def answer(request, context):
        if collector is not None:
            collector.append(gc.isenabled())
        await asyncio.sleep(DELAY)
        return cases_pb2.Case(case_id=request.request_id)

    server, port = await create_case.bare_create_case_server(answer)
    try:
        return await load(port)
    finally:
        await server.stop(None)


def test_closed_loop_counts_only_the_calls_answered_within_the_run():
    # Each caller's first call ends at 0.4 s, its second at 0.8 s: after the 0.6 s run.
    # Counting that second one would add callers / seconds to the rate (here double it).
    n, latencies = asyncio.run(_with_slow_server(lambda port: create_case._load(port, 0.6, 4)))
    assert n == 4
    assert len(latencies) == 4 and all(lat >= DELAY for lat in latencies)


def test_open_loop_counts_every_call_it_started_even_when_answered_after_the_run():
    # Calls start at 0, 0.25 and 0.5 s of the 0.6 s run; the last is answered at 0.9 s.
    # Leaving it out would drop the slowest answers and flatter the p99.
    n, latencies = asyncio.run(_with_slow_server(lambda port: create_case._load(port, 0.6, 0, rate=4)))
    assert n == 3
    assert all(lat >= DELAY for lat in latencies)


def test_the_load_generator_collects_no_cyclic_garbage_while_it_measures():
    # Its full collections paused every call in flight for 22-31 ms, which a p99 counted
    # as the server's. (The server here runs in the load generator's own process.)
    seen: list[bool] = []
    n, _ = asyncio.run(_with_slow_server(lambda port: create_case._load(port, 0.6, 2), seen))
    assert seen[0] is True  # the warm-up call, before measuring
    assert seen[1:] == [False] * 4  # two callers, two calls each (the second ends after the run)
    assert gc.isenabled()


def test_the_lifecycle_benchmark_takes_every_application_through_to_its_deliveries(tmp_path):
    """bench.lifecycle fails its run unless every application was decided automatically,
    at the right amount, with its posting, letter and archive package written."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, HUB_BENCH_LIFECYCLES="20", HUB_BENCH_CALLERS="4")
    env.pop("HUB_BENCH_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "bench.lifecycle"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "decided automatically 20, fell out 0; postings 20 (0 wrong), letters 20, archive packages 20" in done.stdout


def test_the_control_benchmark_finds_the_planted_deviations_and_nothing_else():
    """bench.control fails its run unless the first run finds exactly the deviations it
    planted (its registers' simulators on real sockets) and a second finds nothing to do."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, HUB_BENCH_CONTROL_GRANTS="400")
    env.pop("HUB_BENCH_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "bench.control"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first run" in done.stdout and "second run" in done.stdout and "nothing to check" in done.stdout


def test_the_payment_run_benchmark_orders_every_grant_once_with_its_posting_and_offset():
    """bench.payments fails its run unless every grant got one order, every order its
    posting and every claim its offset (here in chunks of 25, so that a run is several)."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, HUB_BENCH_GRANTS="120", HUB_PAYMENT_RUN_CHUNK="25")
    env.pop("HUB_BENCH_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "bench.payments"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first run of 2026-05 over gRPC: 120 orders (150,000 kr)" in done.stdout
    assert "second run of 2026-05 over gRPC: 0 orders" in done.stdout
    assert "WRONG" not in done.stdout


def test_the_settlement_benchmark_settles_every_grant_with_each_kind_of_result():
    """bench.settlement fails its run unless every grant was examined and none went to a
    person; each fifth of its population gives its own result."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, HUB_BENCH_SETTLEMENT_GRANTS="60")
    env.pop("HUB_BENCH_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "bench.settlement"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "final settlement 2026: 60 cases" in done.stdout
    for kind in ("back payments", "repayments", "waiting", "nothing"):
        assert f"{kind} 0 " not in done.stdout and f"{kind} 0," not in done.stdout, done.stdout


def test_the_statistics_benchmark_answers_with_the_figures_it_generated():
    """bench.statistics fails its run unless the answers hold the cases it generated."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, HUB_BENCH_CASES="3000")
    env.pop("HUB_BENCH_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "bench.statistics"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "statistics: 3,000 cases" in done.stdout and "WRONG" not in done.stdout
    assert done.stdout.count("GetStatistics, ") == 4
