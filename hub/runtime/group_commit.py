"""Group commit: use cases run on dedicated database threads ("lanes"), and the calls
that queue up while one transaction commits share the next one. On SQLite one lane
(one writer at a time anyway) turns one fsync per call into one fsync per batch.

A caller's future is resolved only after its batch has committed. When the batch's
commit fails (a concurrent process won a unique key, a deadlock on PostgreSQL), every
call in it runs again on its own, so no call is answered from a transaction that did
not commit and none is lost.

Deadlines: a call may carry its caller's deadline (time.monotonic() seconds). A call
whose deadline has passed when its turn comes is not run (DEADLINE_EXCEEDED: nothing
written, so a retry with the same request_id runs it), and one that arrives behind a
queue it clearly cannot wait out is refused at once (RESOURCE_EXHAUSTED, see `admit`).
Under overload, callers give up while their calls wait; before, the lane ran them
all the same, spending its time on answers no one would read."""
from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from typing import Any, Callable

import structlog

from hub.domain.errors import DeadlineExceeded, ResourceExhausted
from hub.runtime.lanes import Lane
from hub.runtime.transactions import Tx
from hub.service.clock import Clock
from hub.store.uow import Store

log = structlog.get_logger("hub.batching")
_STOP = object()


# Refuse a call at once only when even at twice the measured pace it could not start
# before its deadline: the estimate is rough, and a call let in that then cannot start
# in time costs the lane next to nothing (it is not run, see Job.run).
HOPELESS = 2.0


class ServiceTime:
    """A recent time a call takes on a lane when calls queue up: an average of a batch's
    time per call, over about `window` calls, each batch weighted by its size. Only
    batches of at least `min_calls` count: a lone call's time is mostly its commit (an
    fsync), which queued calls share, so it would overstate a queued call's wait several
    times over. 0 until measured (and nothing is refused before)."""
    __slots__ = ("per_call", "window", "min_calls")

    def __init__(self, window: int = 256, min_calls: int = 4):
        self.per_call, self.window, self.min_calls = 0.0, window, min_calls

    def record(self, calls: int, seconds: float) -> None:
        if calls >= self.min_calls:
            x = seconds / calls
            self.per_call = x if self.per_call == 0.0 else self.per_call + min(1.0, calls / self.window) * (
                x - self.per_call)


def admit(deadline: float, queued: int, per_call: float, parallel: int = 1) -> None:
    """Let a call with `deadline` (time.monotonic()) join a queue of `queued` calls served
    `parallel` at a time, each in about `per_call` seconds, or refuse it: DEADLINE_EXCEEDED
    if its deadline has passed, RESOURCE_EXHAUSTED if the wait is clearly hopeless."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the call's deadline passed before it could start; nothing was done")
    wait = queued * per_call / parallel
    if wait > HOPELESS * left:
        raise ResourceExhausted(
            f"the hub is overloaded: {queued} calls queued, about {wait * 1000:.0f} ms to wait, {left * 1000:.0f} ms "
            f"left; retry later with the same request_id", retry_after=wait,
            metadata={"queued": queued, "wait_ms": round(wait * 1000), "left_ms": round(left * 1000)})


class Job:
    """One call for a batch: `fn(tx, *args)`, where `tx` (hub.runtime.transactions.Tx) is
    its way to the database on the batch or lane it runs on, run in `ctx` (the caller's
    log bindings) if given; `key` (client id, request id) lets the batch prefetch its
    stored response;
    `deadline` (time.monotonic(), or None): past it, the call is not run. After `run`,
    `ok` and `value` hold the result or the exception."""
    __slots__ = ("fn", "args", "key", "ctx", "ok", "value", "deadline")

    def __init__(self, fn: Callable, args: tuple, key: tuple[str, str] | None = None,
                 ctx: contextvars.Context | None = None, deadline: float | None = None):
        self.fn, self.args, self.key, self.ctx, self.deadline = fn, args, key, ctx, deadline
        self.ok, self.value = False, None

    def run(self, tx: Tx | None) -> None:
        if self.deadline is not None and self.deadline <= time.monotonic():
            # Its caller has given up (or is about to): do nothing, and say so.
            self.value, self.ok = DeadlineExceeded("the call's deadline passed while it waited its turn; nothing "
                                                   "was done"), False
            return
        try:
            self.value = (self.fn(tx, *self.args) if self.ctx is None else self.ctx.run(self.fn, tx, *self.args))
            self.ok = True
        except BaseException as exc:  # handed to the caller, who maps it to a status
            self.value, self.ok = exc, False


class _Job(Job):
    """A job whose caller awaits it on an event loop."""
    __slots__ = ("future", "loop")

    def __init__(self, ctx, fn, args, future, loop, key, deadline):
        super().__init__(fn, args, key, ctx, deadline)
        self.future, self.loop = future, loop


def _resolve_all(jobs: list[_Job]) -> None:
    for job in jobs:
        _set_result(job.future, job.ok, job.value)


def _set_result(future: asyncio.Future, ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class GroupCommit:
    def __init__(self, store: Store, clock: Clock, *, lanes: int = 1, max_batch: int = 64,
                 on_commit: Callable[[], None] | None = None, on_batch: Callable[[int], None] | None = None):
        self._store, self._clock = store, clock
        self._on_commit = on_commit  # told after every transaction (event streams wake up)
        self._on_batch = on_batch  # metrics: the calls of every batch run (hub.runtime.metrics)
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        # Counters for operators (and tests): transactions, calls, batches that failed.
        self.transactions = self.calls = self.fallbacks = 0
        self.expired = 0  # calls not run: their deadline had passed when their turn came
        self.waiting = 0  # calls handed to run() and not yet answered (queued or running)
        self.service_time = ServiceTime()
        self._threads = [threading.Thread(target=self._lane, name=f"hub-db-{i}", daemon=True) for i in range(lanes)]
        for th in self._threads:
            th.start()

    async def run(self, fn: Callable[..., Any], *args: Any, key: tuple[str, str] | None = None,
                  deadline: float | None = None) -> Any:
        """Run `fn(tx, *args)` on a database lane, in the caller's context (log
        bindings), and return its result once its transaction has committed. `key` (client id,
        request id) lets a batch look up all its stored responses in one query.
        `deadline` (time.monotonic()): the call is refused rather than run late (see
        `admit` and Job.run)."""
        if deadline is not None:
            admit(deadline, self.waiting, self.service_time.per_call, len(self._threads))
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(contextvars.copy_context(), fn, args, future, loop, key, deadline))
        self.waiting += 1
        try:
            return await future
        finally:
            self.waiting -= 1

    @property
    def lanes(self) -> int:
        return len(self._threads)

    def queued(self) -> int:
        return self._queue.qsize()

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for th in self._threads:
            th.join(timeout=30)

    def _lane(self) -> None:
        lane = Lane(self._store.engine)
        try:
            self._serve(lane)
        finally:
            lane.close()

    def _serve(self, lane: Lane) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            jobs = [job]
            while len(jobs) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._queue.put(_STOP)  # let this lane finish the batch first
                    break
                jobs.append(nxt)
            self._run(jobs, lane)

    def _run(self, jobs: list[_Job], lane: Lane) -> None:
        live = refuse_late(jobs)
        self.expired += len(jobs) - len(live)
        if live:
            self.transactions += 1
            self.calls += len(live)
            started = time.perf_counter()
            if not run_batch(self._store, self._clock, live, lane):
                self.fallbacks += 1
            self.service_time.record(len(live), time.perf_counter() - started)
            if self._on_batch is not None:
                self._on_batch(len(live))
        # One wake-up of each caller's event loop for the whole batch, not one a call.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, resolved in by_loop.items():
            loop.call_soon_threadsafe(_resolve_all, resolved)
        if self._on_commit is not None and live:
            self._on_commit()


def refuse_late(jobs: list[Job]) -> list[Job]:
    """The jobs whose deadline has not passed; the others are refused (DEADLINE_EXCEEDED)
    now, before a batch opens a transaction for the rest. (Job.run checks again, as each
    job's turn comes within its batch.)"""
    now = time.monotonic()
    live = [job for job in jobs if job.deadline is None or job.deadline > now]
    if len(live) < len(jobs):
        for job in jobs:
            if job.deadline is not None and job.deadline <= now:
                job.run(None)  # refuses it (never reaching the database)
    return live


def run_batch(store: Store, clock: Clock, jobs: list[Job], lane: Lane | None = None) -> bool:
    """Run `jobs` in one transaction (on the `lane`'s connection, if given); each job
    keeps its own result or exception. When the batch's commit fails, every job runs
    again on its own and this returns False."""
    if len(jobs) == 1:
        jobs[0].run(Tx(store, clock, None, lane))
        return True
    try:
        batch = store.batch(lane)
        try:
            batch.prefetch_responses([job.key for job in jobs if job.key])
            tx = Tx(store, clock, batch)
            for job in jobs:
                job.run(tx)
            batch.commit()
        finally:
            batch.close()
        return True
    except Exception as exc:
        log.warning("batch failed; running its calls one by one", size=len(jobs), error=type(exc).__name__)
        for job in jobs:
            job.run(Tx(store, clock, None, lane))
        return False
