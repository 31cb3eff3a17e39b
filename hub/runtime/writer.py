"""A writer process: the hub's unary calls run in a process of their own.

One Python process uses one core (the GIL), and in one process the gRPC server and the
use cases take turns on it. With a writer process the gRPC server (the front)
authenticates each unary call and forwards its raw request bytes over a Unix socket
pair to one writer process, which runs the calls in group-commit batches on a core of
its own and answers with the response bytes or the status. This suits SQLite, which
has one writer at a time anyway; `hub serve` uses it there.

Under load the writer commits in larger batches than the calls' arrival alone would
make (see Linger): a transaction's fixed cost (its fsync, and a WAL frame for each
b-tree it touches) is most of a small one's, and at a steady 1,700 calls/s the writer
was committing one or two calls at a time and spent the host's last spare CPU on it.

The front stays a complete hub: streams (Subscribe, RunPayments), health and
reflection run there, and it reads and writes the same database. That is safe because
no correctness rests on in-process state (several hub processes may share a
database); the writer's commits wake the front's event streams at once, through the
socket.

If the writer dies, the calls it held end UNAVAILABLE (a retry with the same
request_id returns the first result if there was one), health says NOT_SERVING until
the front has started a new writer, and calls that arrive meanwhile wait for it. A
writer that hangs (calls wait and it has answered nothing for `hang_after` seconds,
300 by default: far longer than any call takes) is killed and replaced the same way. The
writer gets a copy of the front's configuration when it starts (a `WriterConfig`: the
settings, registry, clock, log settings, linger), from which hub.bootstrap builds it
the same hub; what is set in the front later does not reach it.

Deadlines: the front forwards each call with its caller's deadline, and the writer
does not run a call whose deadline has passed when its turn comes (DEADLINE_EXCEEDED;
nothing is written). A call that arrives behind more calls than its remaining time
allows is refused by the front at once (RESOURCE_EXHAUSTED), from the number of calls
the writer holds and the time per call it last reported (hub.runtime.group_commit.admit).

Frames (little-endian):
  front -> writer: <IIHHHBd body length, call id, method number, identity number,
                   purpose length, citizen length, deadline (time.monotonic() seconds:
                   CLOCK_MONOTONIC, one clock for every process of the host; 0: none);
                   body: purpose (UTF-8), citizen (the CPR of the citizen a citizen
                   portal acts for, from the assertion the front verified; ASCII),
                   request bytes.
  writer -> front: <IIB body length, call id, status code; body: the response bytes
                   (OK), else <I message length, message (UTF-8), google.rpc.Status
                   bytes (if any). Call id 0 is the writer speaking for itself:
                   code 0 a batch committed (body: <II the writer's recent time per call
                   in microseconds, group_commit.ServiceTime, and the batch's calls, for
                   the front's metrics), code 1 ready (body:
                   method_table_digest, which covers these layouts too).
"""
from __future__ import annotations

import asyncio
import hashlib
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

import grpc
import structlog

from hub.domain.errors import HubError, InvalidArgument, NotRun
from hub.runtime.group_commit import Job, ServiceTime, admit, refuse_late, run_batch
from hub.runtime.lanes import Lane
from hub.runtime.status import INTERNAL_ERROR, to_status
from hub.service.clock import Clock
from hub.store.uow import Store

log = structlog.get_logger("hub.writer")

TO_WRITER = struct.Struct("<IIHHHBd")
TO_FRONT = struct.Struct("<IIB")
_LEN = struct.Struct("<I")
_COMMITTED = struct.Struct("<II")  # the writer's time per call (microseconds), the batch's calls
COMMITTED, READY = 0, 1
_STATUS_DETAILS = "grpc-status-details-bin"
_CODES = {c.value[0]: c for c in grpc.StatusCode}
RESTART_WAIT = 30.0  # seconds a call waits for a restarting writer before UNAVAILABLE
START_TIMEOUT = 60.0
HANG_AFTER = 300.0  # seconds without an answer while calls wait: the writer is hung


class WriterGone(Exception):
    """The writer process stopped while it held the call."""


def method_table_digest(names: Sequence[str]) -> bytes:
    """What the method numbers mean (`names`, in number order), as this process's code
    has them. A writer started after the hub was upgraded on disk would number them
    differently: the front compares this at the handshake."""
    # The frames' layouts too: a writer that reads them otherwise must be refused as well.
    return hashlib.sha256(f"{TO_WRITER.format} {TO_FRONT.format} {_LEN.format} {_COMMITTED.format}\n"
                          f"{chr(10).join(names)}".encode()).digest()


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    """Up to `n` bytes: fewer if the other end closes or the socket times out."""
    data = b""
    try:
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def _frame(call_id: int, code: int, body: bytes) -> bytes:
    return TO_FRONT.pack(len(body), call_id, code) + body


def _error_frame(call_id: int, status: grpc.Status | tuple[grpc.StatusCode, str]) -> bytes:
    if isinstance(status, grpc.Status):  # (grpc_status's Status is a tuple too)
        code, message = status.code, status.details
        details = next((v for k, v in status.trailing_metadata or () if k == _STATUS_DETAILS), b"")
    else:
        code, message, details = status[0], status[1], b""
    text = message.encode()
    return _frame(call_id, code.value[0], _LEN.pack(len(text)) + text + details)


# --- the writer process -------------------------------------------------------------

@dataclass(frozen=True)
class WriterMethod:
    """What the writer runs for one method number."""
    action: str
    run: Callable          # run(tx, request, identity, purpose) -> the response (a message or its bytes)
    parse: Callable[[bytes], Any]      # the request from its bytes; InvalidArgument if it is not one
    encode: Callable[[object], bytes]  # the response, as the in-process server encodes it


@dataclass(frozen=True)
class WriterConfig:
    """What the front hands a writer process it starts (pickled): hub.bootstrap builds
    the writer's hub from it as it built the front's."""
    settings: Any          # hub.settings.Settings
    registry: Any          # hub.api.auth.ClientRegistry
    clock: Any
    log_settings: dict
    max_batch: int
    linger: "Linger"
    relay: tuple[str, ...] = ()  # the destinations every event also goes to (the store's)


# A refused call's audit (who tried what on which case), as a lane job, or None.
Refused = Callable[["_Call", str], Job | None]


def _bound(tx, action: str, request_id: str | None, client_id: str, fn: Callable, *args):
    """Run `fn(tx, *args)` with the call's log bindings (as the in-process handler binds them)."""
    bound = structlog.contextvars.bind_contextvars(rpc=action, request_id=request_id, client_id=client_id)
    try:
        return fn(tx, *args)
    finally:
        structlog.contextvars.reset_contextvars(**bound)


@dataclass(frozen=True)
class Linger:
    """When the writer has been busy (at least `busy` of its recent time spent running
    calls rather than waiting for them) and a read brings fewer than `min_calls`, it
    waits up to `max_wait` seconds for more, for as long as more keep coming (each
    within `gap`), so that they share one transaction and one fsync; as PostgreSQL's
    commit_delay does, only when other transactions are active (commit_siblings). An
    idle writer runs a call at once. `max_wait` 0: never wait.

    Measured on the 2-core bench host, fresh database, three runs each (medians),
    without -> with: at 1,744 CreateCase calls/s (half of the hub's peak) server CPU
    per call 0.69 -> 0.63 ms and p99 29 -> 15 ms; at 1,100/s p50 3.0 -> 5.0 ms and p99
    7.6 -> 9.2 ms (the writer is busy there too, mostly waiting for its fsyncs); at
    600/s and for one or four callers in turn no change; at peak (512 callers) 2 % more
    req/s. Bigger waits (8 calls, 2 ms) saved more CPU but cost twice as much at
    1,100/s."""
    max_wait: float = 0.001
    min_calls: int = 4
    gap: float = 0.0005
    busy: float = 0.85


class BusyShare:
    """The share of the writer's recent time spent running calls rather than waiting
    for them: an average over about `window` seconds, each batch weighted by its time."""

    def __init__(self, window: float = 0.05):
        self.window, self.share = window, 0.0

    def record(self, waited: float, worked: float) -> None:
        total = waited + worked
        if total > 0:
            self.share += min(1.0, total / self.window) * (worked / total - self.share)


class _Call(Job):
    __slots__ = ("call_id", "method", "identity", "request", "purpose", "request_id")


class Writer:
    """The writer process's loop: read calls from the front, run them in group-commit
    batches on one lane, answer. `methods` by number, `identities` by number (the
    registry's), `refused` the audit job of a refused call."""

    def __init__(self, sock: socket.socket, store: Store, clock: Clock, methods: Sequence[WriterMethod],
                 identities: Sequence[Any], refused: Refused, max_batch: int, linger: Linger = Linger()):
        self.sock, self.store, self.clock, self.max_batch = sock, store, clock, max_batch
        self.linger, self.busy = linger, BusyShare()
        self.service_time = ServiceTime()  # reported to the front with every commit
        self.lane = Lane(store.engine)  # the writer's connection, kept from one batch to the next
        self.methods, self.identities, self.refused = list(methods), list(identities), refused

    def serve(self) -> None:
        buf = bytearray()
        linger = self.linger
        idle_from = time.perf_counter()
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                return  # the front closed its end: stop
            arrived = time.perf_counter()
            buf += data
            calls, answers, used = self._parse(buf)
            del buf[:used]
            closed = False
            if linger.max_wait > 0 and len(calls) < linger.min_calls and self.busy.share >= linger.busy:
                closed = self._gather(buf, calls, answers, arrived + linger.max_wait)
            started = time.perf_counter()
            for i in range(0, len(calls), self.max_batch):
                answers += self._run(calls[i:i + self.max_batch])
            if answers:
                try:
                    self.sock.sendall(answers)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the front is gone; what committed stays committed
            if closed:
                return
            ended = time.perf_counter()
            self.busy.record(waited=arrived - idle_from, worked=ended - started)
            idle_from = ended

    def _gather(self, buf: bytearray, calls: list["_Call"], answers: bytearray, deadline: float) -> bool:
        """Linger: read more calls into `calls` (refusals into `answers`) until there are
        enough, none comes within the gap, or the deadline. True: the front closed."""
        linger = self.linger
        while len(calls) < linger.min_calls:
            left = deadline - time.perf_counter()
            if left <= 0 or not select.select([self.sock], [], [], min(left, linger.gap))[0]:
                return False
            data = self.sock.recv(1 << 20)
            if not data:
                return True
            buf += data
            more, refused, used = self._parse(buf)
            del buf[:used]
            calls += more
            answers += refused
        return False

    def _parse(self, buf: bytearray) -> tuple[list[_Call], bytearray, int]:
        calls, refused, pos, n = [], bytearray(), 0, len(buf)
        while n - pos >= TO_WRITER.size:
            length, call_id, method_no, identity_no, purpose_len, citizen_len, deadline = TO_WRITER.unpack_from(buf,
                                                                                                            pos)
            start, end = pos + TO_WRITER.size, pos + TO_WRITER.size + length
            if end > n:
                break
            pos = end
            method, identity = self.methods[method_no], self.identities[identity_no]
            purpose = bytes(buf[start:start + purpose_len]).decode() if purpose_len else None
            if citizen_len:
                identity = identity.acting_for(bytes(buf[start + purpose_len:start + purpose_len + citizen_len]).decode())
            try:
                request = method.parse(bytes(buf[start + purpose_len + citizen_len:end]))
            except InvalidArgument as err:  # unparsable, or a text with a NUL
                log.info("rpc", rpc=method.action, client_id=identity.client_id, code="INVALID_ARGUMENT",
                         error=err.message)
                refused += _error_frame(call_id, to_status(err))
                continue
            request_id = getattr(request, "request_id", "") or None
            call = _Call(_bound, (method.action, request_id, identity.client_id, method.run, request, identity, purpose),
                         (identity.client_id, request_id) if request_id else None)
            call.call_id, call.method, call.identity, call.request = call_id, method, identity, request
            call.purpose, call.request_id, call.deadline = purpose, request_id, deadline or None
            calls.append(call)
        return calls, refused, pos

    def _run(self, calls: list[_Call]) -> bytearray:
        live = refuse_late(calls)  # (answered below like any other refusal)
        if live:
            started = time.perf_counter()
            run_batch(self.store, self.clock, live, self.lane)
            self.service_time.record(len(live), time.perf_counter() - started)
        out, audits = bytearray(), []
        logger = log.bind()  # the configured logger, once a batch rather than once a line
        for call in calls:
            action, client_id = call.method.action, call.identity.client_id
            if call.ok:
                try:
                    body = call.method.encode(call.value)
                except Exception as exc:
                    call.ok, call.value = False, exc
            if call.ok:
                out += _frame(call.call_id, 0, body)
                logger.info("rpc", rpc=action, request_id=call.request_id, client_id=client_id, code="OK")
            elif isinstance(call.value, HubError):
                err, status = call.value, to_status(call.value)
                out += _error_frame(call.call_id, status)
                logger.info("rpc", rpc=action, request_id=call.request_id, client_id=client_id, code=status.code.name,
                            reason=err.reason, error=err.message)
                audit = None if isinstance(err, NotRun) else self.refused(call, status.code.name)
                if audit is not None:
                    audits.append(audit)
            else:
                out += _error_frame(call.call_id, (grpc.StatusCode.INTERNAL, INTERNAL_ERROR))
                logger.error("rpc", rpc=action, request_id=call.request_id, client_id=client_id, code="INTERNAL",
                             exc_info=call.value)
        if audits:  # committed before the refusals are answered, as in the in-process handler
            run_batch(self.store, self.clock, audits, self.lane)
            for audit in audits:
                if not audit.ok:
                    logger.error("could not audit a failed call", exc_info=audit.value)
        if live:  # (calls refused for their deadline opened no transaction)
            out += _frame(0, COMMITTED, _COMMITTED.pack(min(int(self.service_time.per_call * 1e6), 0xFFFFFFFF),
                                                        len(live)))
        return out



def serve_writer(sock: socket.socket, writer: Writer, names: Sequence[str]) -> None:
    """The writer process, once built (hub.bootstrap.writer_child): say it is ready, serve
    until the front closes its end."""
    # The front decides when the writer stops (it closes the socket): a Ctrl-C or a
    # SIGTERM sent to the whole process group must not end a batch half-way through.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock.sendall(_frame(0, READY, method_table_digest(names)))
    try:
        writer.serve()
    finally:
        writer.lane.close()


# --- the front ----------------------------------------------------------------------

class _Protocol(asyncio.Protocol):
    def __init__(self, owner: "WriterProcess"):
        self.owner = owner
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        self.owner._progress = time.monotonic()
        buf = self.buf
        buf += data
        pos, n = 0, len(buf)
        while n - pos >= TO_FRONT.size:
            length, call_id, code = TO_FRONT.unpack_from(buf, pos)
            end = pos + TO_FRONT.size + length
            if end > n:
                break
            self.owner._answer(call_id, code, bytes(buf[pos + TO_FRONT.size:end]))
            pos = end
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(self)


class WriterProcess:
    """The front's side: starts the writer process, forwards calls, restarts it."""

    def __init__(self, config: WriterConfig, names: Sequence[str], on_commit: Callable[[], None],
                 on_health: Callable[[bool], Awaitable[None]] | None = None, hang_after: float = HANG_AFTER,
                 on_batch: Callable[[int], None] | None = None):
        """`config`: what the writer is built from; `names`: what the method numbers mean
        (for the handshake). `on_commit`: a batch committed. `on_health(False)` when the
        writer is lost, `on_health(True)` when a new one is up (the server's health
        status). `hang_after`: seconds the writer may leave waiting calls without any
        answer before it is taken for hung, killed and replaced."""
        self.config, self.names, self.on_commit = config, list(names), on_commit
        registry = config.registry
        self.on_health = on_health
        self.on_batch = on_batch  # metrics: the calls of each batch the writer committed
        self.hang_after = hang_after
        self.batches = 0  # transactions the writer reported committed
        self.per_call = 0.0  # the writer's recent time per call (seconds), as it last reported
        self._progress = time.monotonic()  # the writer's last answer, or the first call to an idle writer
        self._watchdog: asyncio.Task | None = None
        self.identity_numbers = {id(i): n for n, i in enumerate(registry.identities())}
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._next_id = 0
        self._ready = asyncio.Event()
        self._stopping = False
        self._restarting: asyncio.Task | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self) -> None:
        sock, self.process = await asyncio.to_thread(self._spawn)
        self._transport, self._protocol = await asyncio.get_running_loop().create_unix_connection(
            lambda: _Protocol(self), sock=sock)
        self._progress = time.monotonic()
        self._ready.set()
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    def _spawn(self) -> tuple[socket.socket, subprocess.Popen]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "from hub.bootstrap import writer_child; writer_child()", str(theirs.fileno())],
                stdin=subprocess.PIPE, pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        try:
            with process.stdin:
                # What this process was configured with: the writer's copy must match.
                pickle.dump(self.config, process.stdin)
        except BrokenPipeError:
            pass  # it died at once; the handshake below says so
        ours.settimeout(START_TIMEOUT)
        expected = _frame(0, READY, method_table_digest(self.names))
        ready = _recv_exactly(ours, len(expected))
        if ready != expected:
            ours.close()
            process.kill()
            process.wait(5)
            if len(ready) == len(expected) and ready[:TO_FRONT.size] == expected[:TO_FRONT.size]:
                raise RuntimeError("the writer process numbers the methods differently: the hub installed on disk "
                                   "is not the one this server runs (upgraded while running?); restart the hub")
            raise RuntimeError("the writer process did not start (its log says why)")
        ours.setblocking(False)
        log.info("writer process started", pid=process.pid)
        return ours, process

    async def call(self, method_no: int, identity, purpose: str | None, payload: bytes,
                   deadline: float | None = None, *, citizen: str | None = None) -> tuple[int, bytes]:
        """Forward one call; returns (status code, body). Raises WriterGone, or
        DeadlineExceeded / ResourceExhausted when a call with a `deadline`
        (time.monotonic()) could not start in time behind the calls the writer holds."""
        if deadline is not None:
            admit(deadline, len(self._pending), self.per_call)
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), RESTART_WAIT)
            except asyncio.TimeoutError:
                raise WriterGone() from None
        self._next_id = self._next_id % 0xFFFFFFFF + 1  # never 0: that is the writer's own
        call_id = self._next_id
        if not self._pending:
            self._progress = time.monotonic()  # an idle writer: the wait starts now
        future = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        p = purpose.encode() if purpose else b""
        c = citizen.encode() if citizen else b""
        self._transport.write(TO_WRITER.pack(len(p) + len(c) + len(payload), call_id, method_no,
                                             self.identity_numbers[id(identity)], len(p), len(c), deadline or 0.0)
                              + p + c + payload)
        try:
            return await future
        finally:
            self._pending.pop(call_id, None)

    def _answer(self, call_id: int, code: int, body: bytes) -> None:
        if call_id == 0:
            if code == COMMITTED:
                self.batches += 1
                if body:
                    per_call, calls = _COMMITTED.unpack(body)
                    self.per_call = per_call / 1e6
                    if self.on_batch is not None:
                        self.on_batch(calls)
                self.on_commit()
            return
        future = self._pending.get(call_id)
        if future is not None and not future.done():
            future.set_result((code, body))

    def _lost(self, protocol: _Protocol) -> None:
        if protocol is not self._protocol:
            return
        self._transport = self._protocol = None
        self._ready.clear()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(WriterGone())
        if not self._stopping:
            log.error("the writer process stopped; starting a new one", pid=self.pid, calls_lost=len(pending),
                      exitcode=self.process.poll() if self.process else None)
            self._restarting = asyncio.get_running_loop().create_task(self._restart())

    async def _watch(self) -> None:
        """Kill a writer that leaves calls waiting and answers nothing for `hang_after`
        seconds (an endless loop, a disk that does not return): losing its
        connection then ends those calls UNAVAILABLE and starts a new writer."""
        while not self._stopping:
            await asyncio.sleep(min(self.hang_after / 4, 5.0))
            silent = time.monotonic() - self._progress
            if self._pending and self._transport is not None and silent > self.hang_after:
                log.error("the writer process answered nothing while calls waited; killing it to start a new one",
                          pid=self.pid, silent_seconds=round(silent, 1), calls_waiting=len(self._pending))
                self._progress = time.monotonic()  # once: the restart takes it from here
                try:
                    self.process.kill()
                except OSError:
                    pass  # it ended meanwhile: its end starts the new one all the same

    async def _restart(self) -> None:
        if self.on_health is not None:
            await self.on_health(False)
        delay = 0.5
        old = self.process
        if old is not None:
            await asyncio.to_thread(_reap, old)
        while not self._stopping:
            try:
                await self.start()
                self.restarts += 1
                if self.on_health is not None:
                    await self.on_health(True)
                return
            except Exception:
                log.exception("could not start a writer process; trying again", in_seconds=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def stop(self) -> None:
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._restarting is not None:
            self._restarting.cancel()
        if self._transport is not None:
            self._transport.close()  # the writer sees the end of its input, finishes, exits
        if self.process is not None:
            await asyncio.to_thread(_reap, self.process, 30)


def _reap(process: subprocess.Popen, grace: float = 5) -> None:
    """Wait for the process to end; kill it after `grace` seconds."""
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def answer_status(code: int, body: bytes) -> tuple[grpc.StatusCode, str, bytes]:
    """A refused call's answer from the writer: its status code, message, and its
    google.rpc.Status details (b"" if none)."""
    (size,) = _LEN.unpack_from(body)
    return _CODES[code], body[_LEN.size:_LEN.size + size].decode(), body[_LEN.size + size:]


STATUS_DETAILS = _STATUS_DETAILS
