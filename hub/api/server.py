"""The grpc.aio server: hub services, standard health checking and reflection."""
from __future__ import annotations

import asyncio
import gc
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc
import sqlalchemy as sa
import structlog
from grpc_health.v1 import health, health_pb2

from hub.api import reflection
from hub.api.auth import ClientRegistry
from hub.api.services import SERVICE_NAMES, SERVICES, handlers_for, serve_on
from hub.api.streams import EventFeed, EventServicer, Wakeup
from hub.api.writer import HANG_AFTER, Linger, WriterProcess, forwarded_services
from hub.dispatch.dispatcher import Dispatcher
from hub.domain.identity import Role
from hub.service.batching import GroupCommit
from hub.service.clock import Clock
from hub.service.hub import HubService
from hub.store.db import create_engine, is_sqlite, is_sqlite_file

log = structlog.get_logger("hub.server")


def settle_heap() -> None:
    """Once the server is up: what is alive now (modules, descriptors, the schema,
    compiled statements) lives as long as the process, so move it out of the cyclic
    garbage collector's reach. A full collection then walks only what requests made;
    without this one took 28 ms under load, the whole of a p99 budget."""
    gc.collect()
    gc.freeze()


def build_service(engine: sa.Engine, clock: Clock | None, registry: ClientRegistry) -> tuple[HubService, sa.Engine]:
    """The use cases, and the engine they read with (on SQLite a read-only one, whose
    snapshots never wait for the writer)."""
    reader = (create_engine(engine.url.render_as_string(hide_password=False), read_only=True)
              if is_sqlite(engine) else engine)
    return HubService(engine, clock, reader, registry.with_role(Role.PAYMENT_PROVIDER)), reader


def lanes(engine: sa.Engine) -> int:
    # SQLite has one writer at a time: one lane avoids lock contention entirely.
    return 1 if is_sqlite(engine) else 4


@dataclass
class RunningHub:
    server: grpc.aio.Server
    port: int
    runner: GroupCommit | None  # None with a writer process: the writer is the lane
    dispatcher: Dispatcher | None = None
    dispatcher_thread: threading.Thread | None = None
    reader: sa.Engine | None = None
    feed: EventFeed | None = None
    writer: WriterProcess | None = None

    async def stop(self, grace: float | None = 5) -> None:
        await self.server.stop(grace)
        if self.writer is not None:
            await self.writer.stop()
        if self.feed is not None:
            await self.feed.stop()
        if self.runner is not None:
            await asyncio.to_thread(self.runner.stop)
        if self.dispatcher is not None:
            self.dispatcher.stop()
            await asyncio.to_thread(self.dispatcher_thread.join, 30)
        if self.reader is not None:
            self.reader.dispose()


@dataclass(frozen=True)
class TlsFiles:
    """mTLS: the server's certificate and key, and the CA whose client certificates
    are accepted (every client must present one)."""
    cert: Path
    key: Path
    client_ca: Path

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key.read_bytes(), self.cert.read_bytes())],
                                           root_certificates=self.client_ca.read_bytes(), require_client_auth=True)


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def check_listen(listen: str, tls: TlsFiles | None, allow_insecure: bool) -> None:
    host = listen.rsplit(":", 1)[0]
    if tls is None and not allow_insecure and host not in LOOPBACK:
        raise ValueError(f"refusing to serve {listen} without TLS: give the TLS files, or allow it explicitly "
                         f"(--insecure) for a network you trust")


async def start(engine: sa.Engine, registry: ClientRegistry, listen: str, *,
                clock: Clock | None = None, dispatcher: Dispatcher | None = None, tls: TlsFiles | None = None,
                allow_insecure: bool = False, writer_process: bool = False,
                writer_hang_after: float = HANG_AFTER, writer_linger: Linger = Linger()) -> RunningHub:
    """Start serving (listen may end in :0; the bound port is on the result), and run
    `dispatcher`, if given, in a thread of its own. Without `tls`, only on loopback
    unless `allow_insecure`. `writer_process`: unary calls run in a writer process
    (hub.api.writer), which gets a pickled copy of `clock`, and is replaced if it
    leaves calls unanswered for `writer_hang_after` seconds; `writer_linger` says when
    the busy writer waits for more calls to share a transaction."""
    check_listen(listen, tls, allow_insecure)
    if writer_process and is_sqlite(engine) and not is_sqlite_file(engine):
        raise ValueError("a writer process needs a database file, not an in-memory SQLite")
    wakeup = Wakeup(asyncio.get_running_loop())
    # With a writer process every unary call runs there; the streams served here need no lane.
    runner = None if writer_process else GroupCommit(engine, lanes=lanes(engine),
                                                     on_commit=wakeup.notify_threadsafe)
    service, reader = build_service(engine, clock, registry)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    servicers = {s.servicer: (s.servicer(service, registry, runner, wakeup) if s.servicer is EventServicer
                              else s.servicer(service, registry, runner)) for s in SERVICES}
    health_servicer = health.aio.HealthServicer()

    async def serving(yes: bool) -> None:
        for name in SERVICE_NAMES + [""]:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING if yes
                                      else health_pb2.HealthCheckResponse.NOT_SERVING)
    writer = None
    if writer_process:
        writer = WriterProcess(engine.url.render_as_string(hide_password=False), registry, wakeup.notify, clock,
                               on_health=serving, hang_after=writer_hang_after, linger=writer_linger)
        handlers = forwarded_services(writer, registry, servicers)
    else:
        handlers = {d.full_name: handlers_for(d, servicers[cls]) for d, cls in SERVICES}
    handlers[health.SERVICE_NAME] = handlers_for(health_pb2.DESCRIPTOR.services_by_name["Health"], health_servicer)
    handlers.update(reflection.handlers(SERVICE_NAMES + [health.SERVICE_NAME]))  # v1 and v1alpha
    serve_on(server, handlers)
    try:
        port = server.add_secure_port(listen, tls.credentials()) if tls else server.add_insecure_port(listen)
        if port == 0:
            raise RuntimeError(f"could not bind {listen}")
        if writer is not None:
            await writer.start()
        await server.start()
    except BaseException:
        if writer is not None:
            await writer.stop()
        if runner is not None:
            runner.stop()
        if reader is not engine:
            reader.dispose()
        raise
    await serving(True)
    log.info("serving", listen=listen, port=port, database=engine.dialect.name,
             writer_process=writer.pid if writer else None)
    thread = None
    if dispatcher is not None:
        thread = threading.Thread(target=dispatcher.run_forever, name="hub-dispatcher", daemon=True)
        thread.start()
    return RunningHub(server, port, runner, dispatcher, thread, reader if reader is not engine else None,
                      servicers[EventServicer].feed, writer)
