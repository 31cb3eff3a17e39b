"""EventService: the resumable event stream and durable subscriptions."""
from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import structlog

from hub.api import convert
from hub.api.errors import to_status
from hub.api.servicers import _Base, fingerprint, rpc
from hub.domain.errors import FieldViolation, HubError, InvalidArgument
from hub.v1 import events_pb2, events_pb2_grpc

log = structlog.get_logger("hub.events")
PAGE = 500
# New events committed by another process are seen within this time; this process's
# own commits wake the streams at once.
POLL_SECONDS = 0.25


class Wakeup:
    """Wakes every waiting stream when this process commits (events may have been
    written). Call `notify_threadsafe` from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def notify_threadsafe(self) -> None:
        self._loop.call_soon_threadsafe(self.notify)

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except asyncio.TimeoutError:
            pass


def _heartbeat_seconds(requested: int) -> int:
    if requested == 0:
        return 15
    if not 1 <= requested <= 300:
        raise InvalidArgument([FieldViolation("heartbeat_seconds", "must be between 1 and 300 (0: 15)")])
    return requested


class EventServicer(_Base, events_pb2_grpc.EventServiceServicer):
    def __init__(self, service, registry, runner, wakeup: Wakeup):
        super().__init__(service, registry, runner)
        self.wakeup = wakeup

    async def Subscribe(self, request, context: grpc.aio.ServicerContext):
        try:
            identity = self.registry.identify(context.invocation_metadata())
            heartbeat = _heartbeat_seconds(request.heartbeat_seconds)
            after, f = await asyncio.to_thread(self.service.open_stream, identity, request.subscription,
                                               request.after_sequence, convert.event_filter_in(request.filter))
        except HubError as err:
            log.info("rpc", rpc="Subscribe", code=to_status(err).code.name, reason=err.reason)
            await context.abort_with_status(to_status(err))
            return
        log.info("stream opened", rpc="Subscribe", client_id=identity.client_id, after=after,
                 subscription=request.subscription or None)
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        sent = 0
        try:
            while True:
                events, read_up_to = await asyncio.to_thread(self.service.read_events, identity, after, f, PAGE)
                for e in events:
                    yield events_pb2.SubscribeResponse(event=convert.event_out(e))
                    sent += 1
                if events:
                    quiet_since = loop.time()
                if read_up_to > after:
                    after = read_up_to
                    continue  # there may be more right behind
                idle = loop.time() - quiet_since
                if idle >= heartbeat:
                    yield events_pb2.SubscribeResponse(heartbeat=events_pb2.Heartbeat(
                        time=convert.ts_out(dt.datetime.now(dt.timezone.utc)), read_up_to_sequence=after))
                    quiet_since = loop.time()
                    idle = 0
                await self.wakeup.wait(min(POLL_SECONDS, heartbeat - idle))
        finally:
            log.info("stream closed", rpc="Subscribe", client_id=identity.client_id, events_sent=sent,
                     read_up_to=after)

    @rpc("CreateSubscription")
    def CreateSubscription(self, request, identity, purpose):
        raw = self.service.create_subscription(
            identity, request.request_id, request.name, convert.event_filter_in(request.filter),
            request.after_sequence, fingerprint(request), lambda s: convert.subscription_out(s).SerializeToString())
        return events_pb2.Subscription.FromString(raw)

    @rpc("GetSubscription")
    def GetSubscription(self, request, identity, purpose):
        return convert.subscription_out(self.service.get_subscription(identity, request.name))

    @rpc("AckEvents")
    def AckEvents(self, request, identity, purpose):
        return convert.subscription_out(self.service.ack_events(identity, request.name, request.sequence))
