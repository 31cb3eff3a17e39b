"""`hub`: the server's own command (serve, dispatch, migrate)."""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from hub import logs


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def writer_linger(text: str):
    """HUB_WRITER_LINGER_MS (--writer-linger-ms): milliseconds from 0 to 100, as the
    writer's Linger; empty (unset): Linger's own default."""
    from hub.api.writer import Linger
    if text == "":
        return Linger()
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 0 to 100 milliseconds, not {text!r}")
    return Linger(max_wait=value / 1000)


def _serve(args) -> int:
    from hub.api.auth import ClientRegistry
    from hub.api.server import settle_heap, start
    from hub.store.db import create_engine

    clients_file = args.clients or os.environ.get("HUB_CLIENTS_FILE")
    if not clients_file:
        print("hub serve: set HUB_CLIENTS_FILE or --clients (see etc/clients.demo.toml)", file=sys.stderr)
        return 2
    registry = ClientRegistry.from_file(clients_file)
    from adapters.wiring import configure_event_relay, declare_event_exchange
    configure_event_relay()
    declare_event_exchange()  # subscribers can bind before the first event; a broker down is logged, not fatal
    engine = create_engine(args.database)
    dispatcher = _dispatcher(engine) if args.dispatch == "embedded" else None

    tls = None
    if args.tls_cert or args.tls_key or args.client_ca:
        from pathlib import Path

        from hub.api.server import TlsFiles
        if not (args.tls_cert and args.tls_key and args.client_ca):
            print("hub serve: mTLS needs --tls-cert, --tls-key and --client-ca", file=sys.stderr)
            return 2
        tls = TlsFiles(Path(args.tls_cert), Path(args.tls_key), Path(args.client_ca))
    from hub.api.server import check_listen
    try:
        check_listen(args.listen, tls, args.insecure)
    except ValueError as err:
        print(f"hub serve: {err}", file=sys.stderr)
        return 2

    from hub.store.db import is_sqlite
    writer_process = args.writer == "process" or (args.writer == "auto" and is_sqlite(engine))

    async def main() -> None:
        hub = await start(engine, registry, args.listen, dispatcher=dispatcher, tls=tls, allow_insecure=args.insecure,
                          writer_process=writer_process, writer_hang_after=args.writer_hang_seconds,
                          writer_linger=args.writer_linger_ms)
        settle_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await hub.stop(grace=5)

    asyncio.run(main())
    engine.dispose()
    return 0


def _dispatcher(engine):
    from adapters.wiring import build_adapters
    from hub.dispatch.dispatcher import Dispatcher, DispatchSettings
    from hub.service.clock import SystemClock
    from hub.service.delivery import DeliveryService
    from hub.service.deadlines import DeadlineWatcher
    clock = SystemClock()
    return Dispatcher(DeliveryService(engine, clock), build_adapters(), clock, DispatchSettings.from_env(),
                      watcher=DeadlineWatcher(engine, clock))


def _dispatch(args) -> int:
    """A dispatcher as its own process (several may run against one PostgreSQL)."""
    from adapters.wiring import declare_event_exchange
    from hub.store.db import create_engine
    declare_event_exchange()  # it relays events: as in `hub serve`
    engine = create_engine(args.database)
    dispatcher = _dispatcher(engine)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: dispatcher.stop())
    if args.drain:
        print(f"delivered {dispatcher.drain()} messages")
    else:
        dispatcher.run_forever()
    engine.dispose()
    return 0


def _audit_verify(args) -> int:
    from hub.store.audit import verify
    from hub.store.db import create_engine
    engine = create_engine(args.database, read_only=True)
    with engine.connect() as conn:
        result = verify(conn)
    engine.dispose()
    if result.ok:
        print(f"audit log intact: {result.entries} entries, every link and the head verified")
        return 0
    print(f"audit log BROKEN at entry {result.seq}: {result.problem} "
          f"({result.entries} entries verified before it)", file=sys.stderr)
    return 1


def _migrate(args) -> int:
    from hub.store.migrate import upgrade
    upgrade(args.database)
    print("database is at the newest schema")
    return 0


def main(argv: list[str] | None = None) -> int:
    logs.configure()
    p = argparse.ArgumentParser(prog="hub", description="sagshub server")
    p.add_argument("--database", default=None, help="SQLAlchemy URL (default: $HUB_DATABASE_URL or sqlite:///var/hub.db)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the gRPC API")
    s.add_argument("--listen", default=os.environ.get("HUB_LISTEN", "127.0.0.1:50051"))
    s.add_argument("--clients", default=None, help="clients file (TOML)")
    s.add_argument("--tls-cert", default=os.environ.get("HUB_TLS_CERT"), help="server certificate (PEM), for mTLS")
    s.add_argument("--tls-key", default=os.environ.get("HUB_TLS_KEY"), help="server key (PEM)")
    s.add_argument("--client-ca", default=os.environ.get("HUB_TLS_CLIENT_CA"),
                   help="CA of the accepted client certificates (PEM)")
    s.add_argument("--insecure", action="store_true", default=os.environ.get("HUB_INSECURE") == "1",
                   help="allow plaintext on a non-loopback address (a network you trust)")
    s.add_argument("--dispatch", choices=["embedded", "off"], default=os.environ.get("HUB_DISPATCH", "embedded"),
                   help="run the outbox dispatcher inside the server (default), or not (run `hub dispatch`)")
    s.add_argument("--writer", choices=["auto", "process", "inline"], default=os.environ.get("HUB_WRITER", "auto"),
                   help="where unary calls run: in a writer process of their own, beside the gRPC server "
                        "(a second core; auto: on SQLite), or inline in the server's process")
    s.add_argument("--writer-hang-seconds", type=_positive_seconds,
                   default=os.environ.get("HUB_WRITER_HANG_SECONDS", "300"),
                   help="a writer process that answers nothing for this long while calls wait is taken for hung: "
                        "killed and replaced (its calls end UNAVAILABLE)")
    s.add_argument("--writer-linger-ms", type=writer_linger, default=os.environ.get("HUB_WRITER_LINGER_MS", ""),
                   help="a writer process that is busy waits up to this long for more calls to commit with the "
                        "ones it has (one fsync for more of them); default 1; 0: never")
    s.set_defaults(fn=_serve)
    d = sub.add_parser("dispatch", help="deliver outbox messages (a dispatcher process of its own)")
    d.add_argument("--drain", action="store_true", help="deliver what is due now, then exit")
    d.set_defaults(fn=_dispatch)
    a = sub.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command", required=True)
    a.add_parser("verify", help="walk the hash chain; report the first broken link (exit 1)").set_defaults(
        fn=_audit_verify)
    m = sub.add_parser("migrate", help="bring the database schema up to date")
    m.set_defaults(fn=_migrate)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
