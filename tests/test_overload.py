"""Overload: a call whose deadline passes while it waits for the lane (or the writer
process) is not run, and one that arrives behind a queue it clearly cannot wait out is
refused at once; in both cases nothing is written, and a retry with the same
request_id runs it once. Both ways of running unary calls: in the server's process on
a group-commit lane, and forwarded to a writer process.

What holds the lane is a clock (the hub's use cases read it) that the test can close
like a gate, or slow down; the clock travels to a writer process like any other, so
it holds that one just the same."""
from __future__ import annotations

import concurrent.futures
import mmap
import os
import struct
import tempfile
import time
import weakref

import grpc
import pytest
import sqlalchemy as sa
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from hub.store import tables
from hub.v1 import cases_pb2_grpc
from tests.conftest import FakeClock, RunningHub
from tests.helpers import create_req, rpc_error

BACKOFFICE = [("authorization", "Bearer t-backoffice")]
_GATE = struct.Struct("<iii")  # closed, delay (microseconds), callers held at the gate


class GateClock(FakeClock):
    """A FakeClock whose now() waits while the gate is closed and takes `delay` seconds
    when set, in whichever process reads it (the state lives in a small shared file)."""

    def __init__(self):
        fd, self._gate_path = tempfile.mkstemp(prefix="sagshub-gate-")
        os.write(fd, b"\0" * _GATE.size)
        os.close(fd)
        weakref.finalize(self, os.unlink, self._gate_path)
        super().__init__()
        self._open_gate()

    def _open_gate(self) -> None:
        with open(self._gate_path, "r+b") as f:
            self._gate = mmap.mmap(f.fileno(), _GATE.size)

    def __getstate__(self):
        return {**super().__getstate__(), "gate": self._gate_path}

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        self._gate_path = state["gate"]
        self._open_gate()

    def _state(self) -> tuple[int, int, int]:
        return _GATE.unpack(self._gate[:_GATE.size])

    def _put(self, closed: int | None = None, delay: int | None = None, held: int = 0) -> None:
        c, d, h = self._state()
        self._gate[:_GATE.size] = _GATE.pack(c if closed is None else closed, d if delay is None else delay, h + held)

    def close(self) -> None:
        self._put(closed=1)

    def open(self) -> None:
        self._put(closed=0)

    def slow(self, seconds: float) -> None:
        self._put(delay=int(seconds * 1e6))

    def held(self) -> int:
        return self._state()[2]

    def now(self):
        closed, delay, _ = self._state()
        if closed:
            self._put(held=1)
            while self._state()[0]:
                time.sleep(0.005)
            self._put(held=-1)
        if delay:
            time.sleep(delay / 1e6)
        return super().now()


@pytest.fixture(params=["inline", "process"])
def gated(request, clean_db, monkeypatch):
    """A hub on a GateClock, in the server's process (one lane, so that the queue's
    order is plain on PostgreSQL too) or with a writer process."""
    from hub import bootstrap
    if request.param == "inline":
        monkeypatch.setattr(bootstrap, "lanes", lambda engine: 1)
    clock = GateClock()
    hub = RunningHub(clean_db, clock, writer_process=request.param == "process")
    yield hub, clock
    clock.open()
    hub.stop()


def _queued(hub) -> int:
    """Calls waiting behind the one that holds the lane (or the writer process): in the
    lane's queue, or forwarded to the writer and not answered (whose callers wait)."""
    running = hub.running
    return running.runner.queued() if running.runner is not None else len(running.writer._pending) - 1


def _until(predicate, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.01)


def _stored(engine, request_id: str) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(tables.idempotency)
                         .where(tables.idempotency.c.request_id == request_id)).scalar_one()


def _cases_with(engine, reference: str) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(tables.cases)
                         .where(tables.cases.c.external_reference == reference)).scalar_one()


def test_a_call_whose_deadline_passes_while_it_waits_is_not_run(gated):
    hub, clock = gated
    cases = cases_pb2_grpc.CaseServiceStub(hub.channel)

    def create(request, timeout=30.0):
        return cases.CreateCase(request, metadata=BACKOFFICE, timeout=timeout)
    late = create_req(external_reference="late")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        clock.close()
        holding = pool.submit(create, create_req())
        _until(lambda: clock.held() == 1, "a call to hold the lane")
        err = rpc_error(create, late, 1.0)  # queued behind it, and given up by its caller
        assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        time.sleep(1.0)  # the server's own deadline for it (from when it arrived) has passed too
        behind = pool.submit(create, create_req())  # after it in the queue: its answer says the queue got past it
        # (The lane's queue still holds the late call; the writer's front no longer waits for it.)
        _until(lambda: _queued(hub) >= (2 if hub.running.runner is not None else 1), "the calls to queue")
        clock.open()
        holding.result(30), behind.result(30)
    assert _cases_with(hub.engine, "late") == 0, "a call whose caller had left was run"
    assert _stored(hub.engine, late.request_id) == 0
    # The caller retries with the same request_id: now it runs, once.
    case = create(late)
    assert create(late) == case
    assert _cases_with(hub.engine, "late") == 1 and _stored(hub.engine, late.request_id) == 1


def test_a_call_behind_a_queue_it_cannot_wait_out_is_refused_at_once(gated):
    hub, clock = gated
    cases = cases_pb2_grpc.CaseServiceStub(hub.channel)

    def create(request, timeout=60.0):
        return cases.CreateCase(request, metadata=BACKOFFICE, timeout=timeout)

    def hold_and_queue(pool, n: int) -> list[concurrent.futures.Future]:
        clock.close()
        futures = [pool.submit(create, create_req())]
        _until(lambda: clock.held() == 1, "a call to hold the lane")
        futures += [pool.submit(create, create_req()) for _ in range(n)]
        _until(lambda: _queued(hub) >= n, f"{n} calls to queue")
        return futures
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        # The hub learns what a call takes when calls queue up: here at least 0.2 s (a
        # CreateCase reads the clock at least twice), in a batch of four.
        clock.slow(0.1)
        measured = hold_and_queue(pool, 4)
        clock.open()
        assert len({f.result(60).case_id for f in measured}) == 5
        clock.slow(0)
        queued = hold_and_queue(pool, 10)  # eleven calls ahead: over 2 s of work
        hopeless = create_req(external_reference="hopeless")
        err = rpc_error(create, hopeless, 0.5)
        patient = pool.submit(create, create_req(external_reference="patient"), 60.0)  # time enough: let in
        _until(lambda: _queued(hub) >= 11, "the patient call to queue")
        clock.open()
        assert len({f.result(60).case_id for f in queued + [patient]}) == 12
    # Answered before its deadline (else it would say DEADLINE_EXCEEDED), and why.
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "overloaded: 11 calls queued" in err.details() and "retry later with the same request_id" in err.details()
    retry = [d for d in rpc_status.from_call(err).details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert len(retry) == 1
    assert _cases_with(hub.engine, "hopeless") == 0 and _stored(hub.engine, hopeless.request_id) == 0
    assert _cases_with(hub.engine, "patient") == 1
    case = create(hopeless)
    assert create(hopeless) == case and _cases_with(hub.engine, "hopeless") == 1
