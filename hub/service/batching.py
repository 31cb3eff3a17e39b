"""Group commit: use cases run on dedicated database threads ("lanes"), and the calls
that queue up while one transaction commits share the next one. On SQLite one lane
(one writer at a time anyway) turns one fsync per call into one fsync per batch.

A caller's future is resolved only after its batch has committed. When the batch's
commit fails (a concurrent process won a unique key, a deadlock on PostgreSQL), every
call in it runs again on its own, so no call is answered from a transaction that did
not commit and none is lost."""
from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from contextvars import ContextVar
from typing import Any, Callable

import sqlalchemy as sa
import structlog

from hub.store.uow import Batch, Lane

log = structlog.get_logger("hub.batching")
_current: ContextVar[Batch | None] = ContextVar("hub_batch", default=None)
_current_lane: ContextVar[Lane | None] = ContextVar("hub_lane", default=None)
_STOP = object()


def current_batch() -> Batch | None:
    return _current.get()


def current_lane() -> Lane | None:
    """The lane a use case runs on (its connection), when it runs alone on one."""
    return _current_lane.get()


class Job:
    """One call for a batch: `fn(*args)`, run in `ctx` (the caller's log bindings) if
    given; `key` (client id, request id) lets the batch prefetch its stored response.
    After `run`, `ok` and `value` hold the result or the exception."""
    __slots__ = ("fn", "args", "key", "ctx", "ok", "value")

    def __init__(self, fn: Callable, args: tuple, key: tuple[str, str] | None = None,
                 ctx: contextvars.Context | None = None):
        self.fn, self.args, self.key, self.ctx = fn, args, key, ctx
        self.ok, self.value = False, None

    def run(self, batch: Batch | None, lane: Lane | None = None) -> None:
        try:
            self.value = (_call_in_batch(batch, lane, self.fn, self.args) if self.ctx is None
                          else self.ctx.run(_call_in_batch, batch, lane, self.fn, self.args))
            self.ok = True
        except BaseException as exc:  # handed to the caller, who maps it to a status
            self.value, self.ok = exc, False


class _Job(Job):
    """A job whose caller awaits it on an event loop."""
    __slots__ = ("future", "loop")

    def __init__(self, ctx, fn, args, future, loop, key):
        super().__init__(fn, args, key, ctx)
        self.future, self.loop = future, loop


def _call_in_batch(batch: Batch | None, lane: Lane | None, fn: Callable, args: tuple) -> Any:
    token, lane_token = _current.set(batch), _current_lane.set(lane)
    try:
        return fn(*args)
    finally:
        _current_lane.reset(lane_token)
        _current.reset(token)


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
    def __init__(self, engine: sa.Engine, *, lanes: int = 1, max_batch: int = 64,
                 on_commit: Callable[[], None] | None = None):
        self._engine = engine
        self._on_commit = on_commit  # told after every transaction (event streams wake up)
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        # Counters for operators (and tests): transactions, calls, batches that failed.
        self.transactions = self.calls = self.fallbacks = 0
        self._threads = [threading.Thread(target=self._lane, name=f"hub-db-{i}", daemon=True) for i in range(lanes)]
        for th in self._threads:
            th.start()

    async def run(self, fn: Callable[..., Any], *args: Any, key: tuple[str, str] | None = None) -> Any:
        """Run `fn(*args)` on a database lane, in the caller's context (log bindings),
        and return its result once its transaction has committed. `key` (client id,
        request id) lets a batch look up all its stored responses in one query."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(contextvars.copy_context(), fn, args, future, loop, key))
        return await future

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
        lane = Lane(self._engine)
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
        self.transactions += 1
        self.calls += len(jobs)
        if not run_batch(self._engine, jobs, lane):
            self.fallbacks += 1
        # One wake-up of each caller's event loop for the whole batch, not one a call.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, resolved in by_loop.items():
            loop.call_soon_threadsafe(_resolve_all, resolved)
        if self._on_commit is not None:
            self._on_commit()


def run_batch(engine: sa.Engine, jobs: list[Job], lane: Lane | None = None) -> bool:
    """Run `jobs` in one transaction (on the `lane`'s connection, if given); each job
    keeps its own result or exception. When the batch's commit fails, every job runs
    again on its own and this returns False."""
    if len(jobs) == 1:
        jobs[0].run(None, lane)
        return True
    try:
        batch = Batch(engine, lane)
        try:
            batch.prefetch_responses([job.key for job in jobs if job.key])
            for job in jobs:
                job.run(batch)
            batch.commit()
        finally:
            batch.close()
        return True
    except Exception as exc:
        log.warning("batch failed; running its calls one by one", size=len(jobs), error=type(exc).__name__)
        for job in jobs:
            job.run(None, lane)
        return False
