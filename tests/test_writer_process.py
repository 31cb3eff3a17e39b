"""The writer process (`hub serve` on SQLite): what only it can get wrong. The whole
suite also runs through it (HUB_TEST_WRITER=process, as `make test` does on SQLite);
these tests use it whatever that says."""
from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

from hub.runtime.writer import BusyShare, Linger
from hub.v1 import events_pb2
from tests.conftest import RunningHub
from tests.helpers import MixedCalls, create_req, details, rpc_error, table_counts


@pytest.fixture
def split(clean_db, clock):
    h = RunningHub(clean_db, clock, writer_process=True)
    yield h
    h.stop()


def _writer(hub):
    return hub.running.writer


def _until_ok(call, request, deadline: float):
    """Call until it succeeds, retrying UNAVAILABLE with the same request; returns
    (response, how many UNAVAILABLE it met)."""
    unavailable = 0
    while True:
        try:
            return call(request), unavailable
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            unavailable += 1
            time.sleep(0.05)


def test_calls_held_by_a_writer_that_dies_end_unavailable_and_a_retry_loses_and_doubles_nothing(split):
    backoffice = split.as_("t-backoffice")
    backoffice.CreateCase(create_req())  # the writer is up and has written
    writer = _writer(split)
    first_pid = writer.pid
    requests = [create_req() for _ in range(30)]
    os.kill(first_pid, signal.SIGSTOP)  # the calls queue up in its socket, unanswered
    with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(_until_ok, backoffice.CreateCase, r, time.monotonic() + 30) for r in requests]
        time.sleep(0.5)
        os.kill(first_pid, signal.SIGKILL)
        results = [f.result(60) for f in futures]
    assert sum(unavailable for _, unavailable in results) >= 1, "the calls it held were refused, not left hanging"
    cases = [case for case, _ in results]
    assert len({c.case_id for c in cases}) == len(requests)
    assert table_counts(split.engine)["cases"] == len(requests) + 1
    assert writer.restarts == 1 and writer.pid != first_pid
    # A retry of an answered request still gets its first answer from the new writer.
    assert backoffice.CreateCase(requests[0]) == cases[0]


def test_calls_that_arrive_together_share_a_batch_and_each_gets_its_own_answer(split):
    backoffice = split.as_("t-backoffice")
    mixed = MixedCalls(backoffice, split.engine)
    calls = mixed.calls + [lambda: rpc_error(backoffice.CreateCase, create_req(municipality="999"))]
    pid = _writer(split).pid
    os.kill(pid, signal.SIGSTOP)  # all of them wait in the socket, then go in one read
    try:
        with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
            futures = [pool.submit(c) for c in calls]
            time.sleep(0.5)
            os.kill(pid, signal.SIGCONT)
            results = [f.result(30) for f in futures]
    finally:
        os.kill(pid, signal.SIGCONT)
    mixed.check(results[:-1])
    assert results[-1].code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "municipality_code" in details(results[-1])[0]


def test_bytes_that_are_no_request_are_invalid_argument(split):
    call = split.channel.unary_unary("/hub.v1.CaseService/CreateCase")  # no serializers: raw bytes
    with pytest.raises(grpc.RpcError) as err:
        call(b"\x0a\xff\xff\xff", metadata=[("authorization", "Bearer t-backoffice")], timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields, info = details(err.value)
    assert "request" in fields and info.reason == "INVALID_ARGUMENT"
    assert table_counts(split.engine)["cases"] == 0
    assert _writer(split).restarts == 0


def test_a_stream_in_the_server_sees_what_the_writer_commits(split):
    backoffice = split.as_("t-backoffice")
    seen: list[str] = []
    arrived = threading.Event()
    stream = backoffice.Subscribe(events_pb2.SubscribeRequest(after_sequence=0, heartbeat_seconds=30))

    def read():
        try:
            for item in stream:
                if item.HasField("event"):
                    seen.append(item.event.case_id)
                    arrived.set()
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.CANCELLED  # (by the test, below)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    case = backoffice.CreateCase(create_req())
    assert arrived.wait(10)
    stream.cancel()
    reader.join(5)
    assert case.case_id in seen


def test_stopping_the_hub_stops_its_writer(clean_db, clock):
    hub = RunningHub(clean_db, clock, writer_process=True)
    process = _writer(hub).process
    hub.as_("t-backoffice").CreateCase(create_req())
    hub.stop()
    assert process.poll() is not None


class _ClockThatCannotTravel:
    """Pickles, but cannot be unpickled: the writer dies before it is ready."""

    def __init__(self):
        self.state = "here"  # (an object without state is unpickled without __setstate__)

    def now(self):
        raise AssertionError("never called")

    def __setstate__(self, state):
        raise RuntimeError("this clock stays where it is")


def test_a_writer_that_cannot_start_fails_the_start_with_a_clear_error(clean_db):
    import asyncio

    from hub.api.auth import ClientRegistry
    from hub.bootstrap import start
    from tests.conftest import CLIENTS
    with pytest.raises(RuntimeError, match="writer process did not start"):
        asyncio.run(start(clean_db, ClientRegistry.from_entries(CLIENTS), "127.0.0.1:0",
                          clock=_ClockThatCannotTravel(), writer_process=True))


def test_a_writer_whose_code_numbers_the_methods_differently_is_refused(clean_db, monkeypatch):
    """As when the hub on disk was upgraded while the server ran, and the writer then
    restarted from the new code: this server's idea of the method table differs."""
    import asyncio

    from hub.runtime import writer
    from hub.api.auth import ClientRegistry
    from hub.bootstrap import start
    from tests.conftest import CLIENTS
    monkeypatch.setattr(writer, "method_table_digest", lambda names: b"\0" * 32)
    with pytest.raises(RuntimeError, match="numbers the methods differently"):
        asyncio.run(start(clean_db, ClientRegistry.from_entries(CLIENTS), "127.0.0.1:0", writer_process=True))


def _health(hub) -> int:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    return health_pb2_grpc.HealthStub(hub.channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status


def _until(predicate, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_while_no_writer_can_start_the_hub_is_not_serving_and_a_call_waits_for_the_next(split, monkeypatch):
    from grpc_health.v1 import health_pb2

    from hub.runtime import writer
    backoffice = split.as_("t-backoffice")
    assert _health(split) == health_pb2.HealthCheckResponse.SERVING
    real = writer.method_table_digest
    monkeypatch.setattr(writer, "method_table_digest", lambda names: b"\0" * 32)  # every new writer is refused
    os.kill(_writer(split).pid, signal.SIGKILL)
    assert _until(lambda: _health(split) == health_pb2.HealthCheckResponse.NOT_SERVING)
    request = create_req()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(backoffice.CreateCase, request)
        time.sleep(0.5)
        assert not waiting.done()
        monkeypatch.setattr(writer, "method_table_digest", real)  # the next attempt succeeds
        case = waiting.result(30)
    assert _until(lambda: _health(split) == health_pb2.HealthCheckResponse.SERVING)
    assert _writer(split).restarts == 1
    assert backoffice.CreateCase(request) == case


def test_a_writer_that_hangs_is_replaced_and_the_calls_it_held_end_unavailable(split):
    from grpc_health.v1 import health_pb2

    backoffice = split.as_("t-backoffice")
    backoffice.CreateCase(create_req())
    writer = _writer(split)
    hung = writer.pid
    writer.hang_after = 1.0  # (300 s by default)
    os.kill(hung, signal.SIGSTOP)  # alive, and answering nothing
    request = create_req()
    started = time.monotonic()
    err = rpc_error(backoffice.CreateCase, request)
    assert err.code() == grpc.StatusCode.UNAVAILABLE and "retry it with the same request_id" in err.details()
    assert 1.0 <= time.monotonic() - started < 15
    assert _until(lambda: _health(split) == health_pb2.HealthCheckResponse.SERVING and writer.pid != hung)
    assert writer.restarts == 1
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)  # killed, and reaped
    case = backoffice.CreateCase(request)  # the retry: the hung writer had written nothing of it
    assert backoffice.CreateCase(request) == case
    assert table_counts(split.engine)["cases"] == 2


def _hub_with_linger(clean_db, clock, **linger) -> RunningHub:
    # Long waits, so that whether the writer lingered is plain whatever the machine's speed.
    return RunningHub(clean_db, clock, writer_process=True,
                      writer_linger=Linger(**{"max_wait": 5.0, "min_calls": 3, "gap": 2.0, **linger}))


def test_a_busy_writer_waits_for_more_calls_and_commits_them_in_one_transaction(clean_db, clock):
    hub = _hub_with_linger(clean_db, clock, busy=0.0)  # taken for busy from the start
    try:
        backoffice, writer = hub.as_("t-backoffice"), _writer(hub)
        requests = [create_req(external_reference=f"ref-{i}") for i in range(3)]
        before = writer.batches
        with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
            futures = []
            for r in requests:  # one at a time, each well within the gap after the last
                futures.append(pool.submit(backoffice.CreateCase, r))
                time.sleep(0.3)
            cases = [f.result(30) for f in futures]
        assert len({c.case_id for c in cases}) == 3
        assert [c.external_reference for c in cases] == [r.external_reference for r in requests]
        assert writer.batches - before == 1
        assert table_counts(hub.engine)["cases"] == 3
    finally:
        hub.stop()


def test_an_idle_writer_runs_a_call_at_once(clean_db, clock):
    hub = _hub_with_linger(clean_db, clock)  # busy: the default share
    try:
        backoffice, writer = hub.as_("t-backoffice"), _writer(hub)
        before = writer.batches
        for _ in range(3):
            started = time.monotonic()
            backoffice.CreateCase(create_req())
            assert time.monotonic() - started < 1.5, "answered without waiting out the 2 s gap"
        assert writer.batches - before == 3
    finally:
        hub.stop()


def test_the_busy_share_follows_the_writers_recent_time():
    share = BusyShare(window=0.05)
    for _ in range(20):  # back to back: 10 ms batches, no wait between them
        share.record(waited=0.0001, worked=0.01)
    assert share.share > 0.9
    share.record(waited=0.2, worked=0.001)  # then a pause longer than the window
    assert share.share < 0.01


def test_serve_refuses_a_linger_out_of_range():
    done = subprocess.run([sys.executable, "-m", "hub.cli", "serve", "--writer-linger-ms", "500"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--writer-linger-ms: must be 0 to 100 milliseconds, not '500'" in done.stderr
