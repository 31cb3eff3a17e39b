"""EventService: the resumable event stream and durable subscriptions."""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import itertools

import grpc
import structlog

from hub.api import convert
from hub.api.servicers import _Base, _encoder, fingerprint, rpc
from hub.domain.errors import FieldViolation, HubError, InvalidArgument
from hub.domain.model import Sensitivity
from hub.runtime.status import to_status
from hub.service import events
from hub.service.access import authorize
from hub.v1 import events_pb2, events_pb2_grpc

log = structlog.get_logger("hub.events")
PAGE = 500
# New events committed by another process are seen within this time; this process's
# own commits wake the streams at once.
POLL_SECONDS = 0.25


class Broadcast:
    """Wakes every task waiting on it (at most `timeout` seconds each)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except asyncio.TimeoutError:
            pass


class Wakeup(Broadcast):
    """Told when this process commits (events may have been written); from any
    thread with `notify_threadsafe`."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self._loop = loop

    def notify_threadsafe(self) -> None:
        self._loop.call_soon_threadsafe(self.notify)


class EventFeed:
    """Reads the event log once for all streams of this process and keeps the newest
    events in memory (converted once), so that 20 subscribers cost one read, not 20.
    A stream that is behind the buffer (a resume from long ago, a slow consumer)
    catches up from the database page by page, then joins the feed."""

    def __init__(self, store, wakeup: Wakeup, keep: int = 20_000):
        self.store = store
        self.wakeup = wakeup
        self.keep = keep
        self.buffer: collections.deque[tuple[int, dict, events_pb2.SubscribeResponse]] = collections.deque()
        self.head: int | None = None  # last sequence read from the log
        self.changed = Broadcast()  # the feed read further
        # Cases whose sensitivity was raised after some of their events were buffered:
        # the buffered rows carry the old one, so a stream checks this too.
        self.raised: dict[str, Sensitivity] = {}
        self._task: asyncio.Task | None = None
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        async with self._starting:  # the first stream starts the one tail; the others wait
            if self._task is None:
                self.head = await asyncio.to_thread(self._last_sequence)
                self._task = asyncio.get_running_loop().create_task(self._tail())

    async def _tail(self) -> None:
        while True:
            try:
                rows, read_up_to = await asyncio.to_thread(self._read_log, self.head)
            except Exception:
                log.exception("reading the event log failed")
                rows, read_up_to = [], self.head
                await asyncio.sleep(1)
            for row in rows:
                if row["type"] == "case.sensitivity_raised" and row["case_id"]:
                    self.raised[row["case_id"]] = Sensitivity(row["payload"]["to_sensitivity"])
                self.buffer.append((row["seq"], row, events_pb2.SubscribeResponse(event=convert.event_out(row))))
            while len(self.buffer) > self.keep:
                self.buffer.popleft()
            if read_up_to > self.head:
                self.head = read_up_to
                self.changed.notify()
                continue
            await self.wakeup.wait(POLL_SECONDS)

    async def caught_up(self, timeout: float = 10.0) -> None:
        """Wait until the feed has read the log as far as it goes now, so that every
        sensitivity raise committed before a stream opened is known to it."""
        target = await asyncio.to_thread(self._last_sequence)
        deadline = asyncio.get_running_loop().time() + timeout
        while self.head < target:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise RuntimeError("the event feed is behind the log")
            self.wakeup.notify()
            await self.changed.wait(remaining)

    def _last_sequence(self) -> int:
        with self.store.reading() as uow:
            return events.last_sequence(uow)

    def _read_log(self, after: int):
        with self.store.reading() as uow:
            return events.read_log(uow, after, PAGE)

    def oldest(self) -> int | None:
        return self.buffer[0][0] if self.buffer else None

    def after(self, seq: int):
        """Buffered events after `seq` (the caller checked that they are all here)."""
        if not self.buffer or seq >= self.buffer[-1][0]:
            return []
        start = max(0, seq - self.buffer[0][0] + 1)  # sequences are gap-free
        return list(itertools.islice(self.buffer, start, None))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def _matches(row: dict, identity, f, raised: Sensitivity | None = None) -> bool:
    sensitivity = Sensitivity(row["sensitivity"])
    if raised is not None and raised.rank > sensitivity.rank:
        sensitivity = raised
    # (an event's case is in a municipality's scope: the stream's limits are by municipality)
    return (identity.scope.sees_row(row["municipality_code"] or "", None, row["benefit_code"] or "", sensitivity)
            and (not f.event_types or row["type"] in f.event_types)
            and (not f.municipality_codes or row["municipality_code"] in f.municipality_codes)
            and (not f.benefit_codes or row["benefit_code"] in f.benefit_codes))


def _heartbeat_seconds(requested: int) -> int:
    if requested == 0:
        return 15
    if not 1 <= requested <= 300:
        raise InvalidArgument([FieldViolation("heartbeat_seconds", "must be between 1 and 300 (0: 15)")])
    return requested


class EventServicer(_Base, events_pb2_grpc.EventServiceServicer):
    def __init__(self, context, registry, runner, wakeup: Wakeup | None = None):
        super().__init__(context, registry, runner)
        self.feed = EventFeed(context.store, wakeup)  # (no wakeup: a writer process, which serves no stream)

    async def Subscribe(self, request, context: grpc.aio.ServicerContext):
        try:
            identity = self.registry.identify(context.invocation_metadata(), context.auth_context())
            heartbeat = _heartbeat_seconds(request.heartbeat_seconds)
            authorize(identity, "Subscribe")
            after, f = await asyncio.to_thread(self._open, identity, request.subscription,
                                               convert.int64_in(request.after_sequence, "after_sequence"),
                                               convert.event_filter_in(request.filter))
        except HubError as err:
            log.info("rpc", rpc="Subscribe", code=to_status(err).code.name, reason=err.reason)
            await context.abort_with_status(to_status(err))
            return
        log.info("stream opened", rpc="Subscribe", client_id=identity.client_id, after=after,
                 subscription=request.subscription or None)
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        sent = 0
        feed = self.feed
        await feed.start()
        await feed.caught_up()
        try:
            while True:
                oldest = feed.oldest()
                if after < feed.head and (oldest is None or after + 1 < oldest):
                    # Behind the feed's memory: catch up from the database.
                    page, read_up_to = await asyncio.to_thread(self._read, identity, after, f)
                    for e in page:
                        yield events_pb2.SubscribeResponse(event=convert.event_out(e))
                        sent += 1
                    after = max(after, read_up_to)
                    if page:
                        quiet_since = loop.time()
                    continue
                if after < feed.head:
                    for seq, row, item in feed.after(after):
                        if _matches(row, identity, f, feed.raised.get(row["case_id"] or "")):
                            yield item
                            sent += 1
                            quiet_since = loop.time()
                        after = seq
                    continue
                idle = loop.time() - quiet_since
                if idle >= heartbeat:
                    yield events_pb2.SubscribeResponse(heartbeat=events_pb2.Heartbeat(
                        time=convert.ts_out(dt.datetime.now(dt.timezone.utc)), read_up_to_sequence=after))
                    quiet_since = loop.time()
                    idle = 0
                await feed.changed.wait(heartbeat - idle)
        finally:
            log.info("stream closed", rpc="Subscribe", client_id=identity.client_id, events_sent=sent,
                     read_up_to=after)

    def _open(self, identity, name: str, after: int, f):
        with self.context.store.reading() as uow:
            return events.open_stream(uow, identity, name, after, f)

    def _read(self, identity, after: int, f):
        with self.context.store.reading() as uow:
            return events.read_events(uow, identity, after, f, PAGE)

    @rpc("CreateSubscription")
    def CreateSubscription(self, tx, request, identity, purpose):
        return tx.mutate(identity, "CreateSubscription", request.request_id, fingerprint(request),
                         _encoder(convert.subscription_out), events.create_subscription, request.request_id,
                         request.name, convert.event_filter_in(request.filter),
                         convert.int64_in(request.after_sequence, "after_sequence"))

    @rpc("GetSubscription")
    def GetSubscription(self, tx, request, identity, purpose):
        return convert.subscription_out(tx.read(identity, "GetSubscription", events.get_subscription, request.name))

    @rpc("AckEvents")
    def AckEvents(self, tx, request, identity, purpose):
        return convert.subscription_out(tx.read(identity, "AckEvents", events.ack_events, request.name,
                                                request.sequence))
