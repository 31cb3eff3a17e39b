"""The one composition root: from the settings (hub.settings), the store, the adapters,
the dispatcher with its scheduled deadline watcher, the servicers, the group-commit
lanes or the writer process, and the grpc.aio server with health checking and
reflection. `hub serve`, `hub dispatch`, a writer process, the benchmarks and the tests
all build the hub here, so that each runs the same hub."""
from __future__ import annotations

import asyncio
import gc
import pickle
import socket
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

import grpc
import sqlalchemy as sa
import structlog
from grpc_health.v1 import health, health_pb2

from hub import logs
from hub.api import reflection
from hub.api.auth import ClientRegistry
from hub.api.servicers import Context
from hub.api.services import SERVICE_NAMES, SERVICES, forwarded_services, method_names, served, writer_methods, \
    writer_refusals
from hub.api.streams import EventFeed, EventServicer, Wakeup
from hub.dispatch.dispatcher import Dispatcher, DispatchSettings
from hub.domain.identity import Role
from hub.ports import (AMQP, APPEALS, ARCHIVE, CONTROL_UNIT, CPR_REGISTER, DIGITAL_POST, ECONOMY, FINAL_ASSESSMENT,
                       INCOME_REGISTER, PAYMENT_PROVIDER, RENT_REGISTER, Adapter, RegisterLookups)
from hub.ports import DESTINATIONS
from hub.runtime.group_commit import GroupCommit
from hub.api.web import LocalCalls, WebHub, WebServer
from hub.runtime.metrics import Metrics, instrument
from hub.runtime.router import handlers_for, serve_on
from hub.runtime.schedule import Periodic
from hub.runtime.writer import HANG_AFTER, Linger, Writer, WriterConfig, WriterProcess, serve_writer
from hub.service import deadlines, statistics
from hub.service.clock import Clock, SystemClock
from hub.service.delivery import DeliveryLog
from hub.settings import Settings
from hub.store.db import create_engine, is_sqlite, is_sqlite_file
from hub.store.uow import Store

log = structlog.get_logger("hub.server")


def configure_logs(settings: Settings, stream=None, **kw) -> None:
    logs.configure(stream, json=None if not settings.log_format else settings.log_format == "json",
                   level=settings.log_level, path=settings.log_file, **kw)


def store(settings: Settings, engine: sa.Engine | None = None) -> Store:
    """The database: `engine` (or one for the settings' URL) and, on SQLite, a read-only
    engine for long readers, whose snapshots never wait for the writer."""
    engine = engine or create_engine(settings.database_url)
    reader = (create_engine(engine.url.render_as_string(hide_password=False), read_only=True)
              if is_sqlite(engine) else engine)
    return Store(engine, reader, settings.relay)


def close(s: Store) -> None:
    if s.reader is not s.engine:
        s.reader.dispose()
    s.engine.dispose()


def linger_of(settings: Settings) -> Linger:
    """When a busy writer process waits for more calls (HUB_WRITER_LINGER_MS)."""
    return Linger() if settings.writer_linger_ms is None else Linger(max_wait=settings.writer_linger_ms / 1000)


def writer_wanted(settings: Settings) -> bool:
    """Whether `hub serve` runs its unary calls in a writer process (HUB_WRITER): auto
    does on SQLite (the writer is the database's one writer, on a core of its own) and on
    PostgreSQL (the database work leaves the server's event loop: CreateCase's p99 at
    half of peak 38-43 ms against 120-129 ms inline, in the same session, alternating)."""
    return settings.writer == "process" or settings.writer == "auto"


def lanes(engine: sa.Engine) -> int:
    # SQLite has one writer at a time: one lane avoids lock contention entirely.
    return 1 if is_sqlite(engine) else 4


# ---- the adapters ------------------------------------------------------------------------------

def adapters(settings: Settings) -> dict[str, Adapter]:
    """Which adapter serves which destination. The defaults work on a fresh machine: every
    destination delivers to files under the var folder, and the registers (income, CPR,
    rent, final assessment) to the simulators `make run` starts."""
    from adapters.amqp.publisher import AmqpEventPublisher
    from adapters.appeals.file_drop import AppealsFileDrop
    from adapters.archive.bagit_archive import BagItArchive
    from adapters.control_unit.file_drop import ControlUnitFileDrop
    from adapters.control_unit.webhook import ControlUnitWebhook
    from adapters.digital_post.memo import MeMoFileDrop
    from adapters.economy.file_drop import EconomyFileDrop
    from adapters.economy.webhook import EconomyWebhook
    from adapters.cpr_register.client import CprRegisterClient
    from adapters.final_assessment.client import FinalAssessmentClient
    from adapters.income_register.client import IncomeRegisterClient
    from adapters.rent_register.client import RentRegisterClient
    from adapters.payment_provider.pain001 import Pain001FileDrop, load_debtor_accounts
    var = Path(settings.var_dir)
    if settings.economy_adapter == "webhook":
        if not settings.economy_webhook_url:
            raise ValueError("HUB_ECONOMY_ADAPTER=webhook needs HUB_ECONOMY_WEBHOOK_URL")
        economy: Adapter = EconomyWebhook(settings.economy_webhook_url)
    else:
        economy = EconomyFileDrop(var / "economy")
    if settings.control_adapter == "webhook":
        if not settings.control_webhook_url:
            raise ValueError("HUB_CONTROL_ADAPTER=webhook needs HUB_CONTROL_WEBHOOK_URL")
        control: Adapter = ControlUnitWebhook(settings.control_webhook_url)
    else:
        control = ControlUnitFileDrop(var / "control")  # <municipality>/ folders
    debtor_accounts = load_debtor_accounts(settings.payment_debtor_accounts) if settings.payment_debtor_accounts else {}
    out: dict[str, Adapter] = {
        ECONOMY: economy,
        DIGITAL_POST: MeMoFileDrop(var / "digital_post"),
        ARCHIVE: BagItArchive(var / "archive"),
        INCOME_REGISTER: IncomeRegisterClient(settings.income_register_url),
        CPR_REGISTER: CprRegisterClient(settings.cpr_register_url),
        RENT_REGISTER: RentRegisterClient(settings.rent_register_url),
        FINAL_ASSESSMENT: FinalAssessmentClient(settings.final_assessment_url),
        PAYMENT_PROVIDER: Pain001FileDrop(var / "payment_provider", debtor_accounts),  # <provider id>/ folders
        APPEALS: AppealsFileDrop(var / "appeals"),
        CONTROL_UNIT: control,
    }
    if settings.amqp_url:
        out[AMQP] = AmqpEventPublisher(settings.amqp_url, exchange=settings.amqp_exchange)
    return out


def declare_event_exchange(settings: Settings) -> bool:
    """At start, with HUB_AMQP_URL: declare the events exchange, so that a subscriber can
    bind its queue before the first event. A broker that cannot be reached does not stop
    the hub (it is logged; the publisher declares the exchange on its first delivery, and
    events wait in the outbox until then). True when declared."""
    if not settings.amqp_url:
        return False
    from adapters.amqp.publisher import declare_exchange
    from pika.exceptions import AMQPError
    try:
        declare_exchange(settings.amqp_url, settings.amqp_exchange)
    except (AMQPError, OSError) as exc:  # the URL (with its password) stays out of the log
        structlog.get_logger("hub.amqp").warning(
            "amqp.exchange_not_declared", exchange=settings.amqp_exchange, error=type(exc).__name__,
            detail="the broker could not be reached at start; the publisher declares it on its first delivery")
        return False
    structlog.get_logger("hub.amqp").info("amqp.exchange_declared", exchange=settings.amqp_exchange)
    return True


# ---- the dispatcher ----------------------------------------------------------------------------

def dispatcher(s: Store, clock: Clock, adapters_: Mapping[str, Adapter], settings: DispatchSettings | None = None,
               *, watch_deadlines: bool = True, dispatcher_id: str | None = None) -> Dispatcher:
    """A dispatcher delivering to `adapters_`; its loop also runs the deadline watcher each
    minute on its clock (`watch_deadlines`)."""
    periodic = [deadline_watcher(s, clock), statistics_folder(s, clock)] if watch_deadlines else []
    return Dispatcher(DeliveryLog(s.unit, clock), adapters_, clock, settings, dispatcher_id=dispatcher_id,
                      periodic=periodic)


def deadline_watcher(s: Store, clock: Clock) -> Periodic:
    return Periodic(clock, 60.0, lambda: deadlines.scan(s.unit, clock.now()), "deadline scan")


def rebuild_statistics(s: Store, clock: Clock) -> int:
    return statistics.rebuild(s.unit, clock)


def statistics_folder(s: Store, clock: Clock) -> Periodic:
    """Keeps the statistics' totals a few seconds behind the event log (an answer adds
    what they lack itself, so this only keeps that part short). Chunks of 5,000 events:
    on SQLite each holds the write lock, so a long catch-up (the first fold of a big
    log) lets the calls in between its chunks."""
    return Periodic(clock, 5.0, lambda: statistics.fold_all(s.unit, clock, limit=5000), "statistics fold")


# ---- the server --------------------------------------------------------------------------------

def settle_heap() -> None:
    """Once the server is up: what is alive now (modules, descriptors, the schema,
    compiled statements) lives as long as the process, so move it out of the cyclic
    garbage collector's reach. A full collection then walks only what requests made;
    without this one took 28 ms under load, the whole of a p99 budget."""
    gc.collect()
    gc.freeze()


@dataclass
class RunningHub:
    server: grpc.aio.Server
    port: int
    store: Store
    runner: GroupCommit | None  # None with a writer process: the writer is the lane
    dispatcher: Dispatcher | None = None
    dispatcher_thread: threading.Thread | None = None
    feed: EventFeed | None = None
    writer: WriterProcess | None = None
    owns_reader: bool = False
    context: Context | None = None
    metrics: Metrics | None = None    # /metrics (hub.runtime.metrics)
    web: WebServer | None = None      # the HTTP port, if asked for (hub.api.web)

    @property
    def http_port(self) -> int | None:
        return self.web.port if self.web is not None else None

    async def stop(self, grace: float | None = 5) -> None:
        if self.web is not None:
            await asyncio.to_thread(self.web.stop)
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
        if self.owns_reader and self.store.reader is not self.store.engine:
            self.store.reader.dispose()


@dataclass(frozen=True)
class TlsFiles:
    """mTLS: the server's certificate and key, and the CA whose client certificates are
    accepted (every client must present one)."""
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


def servicers(context: Context, registry: ClientRegistry, runner: GroupCommit | None,
              wakeup: Wakeup | None = None) -> dict[type, object]:
    return {s.servicer: (s.servicer(context, registry, runner, wakeup) if s.servicer is EventServicer
                         else s.servicer(context, registry, runner)) for s in SERVICES}


def context(s: Store, clock: Clock, settings: Settings, registry: ClientRegistry) -> Context:
    from adapters.final_assessment.client import FinalAssessmentClient
    final_income = FinalAssessmentClient(settings.final_assessment_url) if settings.final_assessment_url else None
    return Context(s, clock, settings.payments, registry.with_role(Role.PAYMENT_PROVIDER), final_income,
                   register_lookups=register_lookups(settings), control=settings.control)


def register_lookups(settings: Settings) -> RegisterLookups:
    """The registers' batch look-ups an IT control run asks (the CPR, rent and income
    registers' URLs, as the dispatcher's adapters use them)."""
    from adapters.register_lookups import RegisterBatches
    return RegisterBatches(settings.cpr_register_url, settings.rent_register_url, settings.income_register_url)


async def start(engine: sa.Engine | Store, registry: ClientRegistry, listen: str, *, settings: Settings | None = None,
                clock: Clock | None = None, dispatcher: Dispatcher | None = None, tls: TlsFiles | None = None,
                allow_insecure: bool = False, writer_process: bool = False, writer_hang_after: float = HANG_AFTER,
                writer_linger: Linger | None = None, http_listen: str | None = None) -> RunningHub:
    """Start serving (listen may end in :0; the bound port is on the result), and run
    `dispatcher`, if given, in a thread of its own. Without `tls`, only on loopback unless
    `allow_insecure`. `writer_process`: unary calls run in a writer process
    (hub.runtime.writer), which gets a pickled copy of `clock` and is replaced if it
    leaves calls unanswered for `writer_hang_after` seconds; `writer_linger` says when the
    busy writer waits for more calls to share a transaction. `http_listen` (host:port,
    may end in :0): serve /metrics and the statistics page there (hub.api.web); None: no
    HTTP port (the metrics are counted all the same, on the result's `metrics`)."""
    settings = settings or Settings()
    owns_reader = not isinstance(engine, Store)
    s = store(settings, engine) if owns_reader else engine
    engine = s.engine
    clock = clock or SystemClock()
    linger = writer_linger or linger_of(settings)
    check_listen(listen, tls, allow_insecure)
    if http_listen:  # (plain HTTP, bearer tokens in it: on loopback unless allowed)
        check_listen(http_listen, None, allow_insecure)
    if writer_process and is_sqlite(engine) and not is_sqlite_file(engine):
        raise ValueError("a writer process needs a database file, not an in-memory SQLite")
    wakeup = Wakeup(asyncio.get_running_loop())
    # With a writer process every unary call runs there; the streams served here need no lane.
    metrics = Metrics()
    runner = None if writer_process else GroupCommit(s, clock, lanes=lanes(engine), on_commit=wakeup.notify_threadsafe,
                                                     on_batch=metrics.observe_batch)
    ctx = context(s, clock, settings, registry)
    ctx.runs = metrics.runs
    watch_outbox(metrics, s, clock)
    served_by = servicers(ctx, registry, runner, wakeup)
    # A port is this server's alone (a second hub on it would silently take half the
    # calls), unless the settings make it a cluster's (`hub cluster`: SO_REUSEPORT, the
    # kernel spreads the connections over the servers).
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1 if settings and settings.reuse_port else 0)])
    health_servicer = health.aio.HealthServicer()

    async def serving(yes: bool) -> None:
        for name in SERVICE_NAMES + [""]:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING if yes
                                      else health_pb2.HealthCheckResponse.NOT_SERVING)
    writer = None
    if writer_process:
        config = WriterConfig(replace(settings, database_url=engine.url.render_as_string(hide_password=False)),
                              registry, clock, logs.settings(), 64, linger, s.relay)
        writer = WriterProcess(config, method_names(), wakeup.notify, on_health=serving, hang_after=writer_hang_after,
                               on_batch=metrics.observe_batch)
        handlers = forwarded_services(writer, registry, served_by)
    else:
        handlers = served(served_by)
    handlers[health.SERVICE_NAME] = handlers_for(health_pb2.DESCRIPTOR.services_by_name["Health"], health_servicer)
    handlers.update(reflection.handlers(SERVICE_NAMES + [health.SERVICE_NAME]))  # v1 and v1alpha
    serve_on(server, instrument(metrics, handlers))  # every call counted, forwarded ones too
    web = None
    try:
        port = server.add_secure_port(listen, tls.credentials()) if tls else server.add_insecure_port(listen)
        if port == 0:
            raise RuntimeError(f"could not bind {listen}")
        if http_listen:  # bound first: a port in use stops the start before the writer is started
            try:
                web = WebServer(WebHub(metrics, registry, LocalCalls(served_by, runner, writer),
                                       asyncio.get_running_loop()), http_listen)
            except OSError as err:
                raise RuntimeError(f"could not bind {http_listen} for /metrics and the statistics page "
                                   f"(HUB_HTTP_LISTEN; off: none): {err.strerror or err}") from None
        if writer is not None:
            await writer.start()
        await server.start()
        if web is not None:
            web.start()
    except BaseException:
        if web is not None:
            web.httpd.server_close()
        if writer is not None:
            await writer.stop()
        if runner is not None:
            runner.stop()
        if owns_reader and s.reader is not engine:
            s.reader.dispose()
        raise
    await serving(True)
    log.info("serving", listen=listen, port=port, database=engine.dialect.name,
             writer_process=writer.pid if writer else None, http_port=web.port if web else None)
    thread = None
    if dispatcher is not None:
        thread = threading.Thread(target=dispatcher.run_forever, name="hub-dispatcher", daemon=True)
        thread.start()
    return RunningHub(server, port, s, runner, dispatcher, thread, served_by[EventServicer].feed, writer, owns_reader,
                      ctx, metrics, web)


# ---- metrics ------------------------------------------------------------------------------------

OUTBOX_METRICS_TTL = 5.0  # seconds a scrape may reuse the outbox figures read before


def watch_outbox(metrics: Metrics, s: Store, clock: Clock) -> None:
    """The outbox's figures for /metrics, read from the database when scraped (the
    outbox summary OperationsService gives), at most every OUTBOX_METRICS_TTL seconds."""
    from hub.runtime.transactions import Tx
    from hub.service import operations
    metrics.watch_outbox(lambda: Tx(s, clock).read(None, None, operations.outbox_summary), clock.now, DESTINATIONS,
                         OUTBOX_METRICS_TTL)


# ---- a writer process --------------------------------------------------------------------------

def writer_child() -> None:
    """A writer process: `python -c "from hub.bootstrap import writer_child; writer_child()" FD`,
    its WriterConfig pickled on standard input (hub.runtime.writer.WriterProcess)."""
    config: WriterConfig = pickle.load(sys.stdin.buffer)
    sock = socket.socket(fileno=int(sys.argv[1]))
    logs.configure(**config.log_settings)
    s = replace(store(config.settings), relay=config.relay)
    registry = config.registry
    # This loop is the lane: the servicers run their handlers with no runner of their own.
    served_by = servicers(context(s, config.clock, config.settings, registry), registry, None)
    writer = Writer(sock, s, config.clock, writer_methods(served_by), registry.identities(), writer_refusals,
                    config.max_batch, config.linger)
    settle_heap()
    try:
        serve_writer(sock, writer, method_names())
    finally:
        close(s)
