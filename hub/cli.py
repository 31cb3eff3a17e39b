"""`hub`: the server's own command (serve, dispatch, cluster, audit, statistics, migrate)."""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import structlog

from hub import logs

log = structlog.get_logger("hub.cli")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _linger_ms(text: str) -> float:
    """--writer-linger-ms: milliseconds from 0 to 100."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 0 to 100 milliseconds, not {text!r}")
    return value


def _settings(args, command: str):
    """The settings (hub.settings: the environment) with the command's options on top;
    None, and a line that says why, when one is not valid."""
    from hub.settings import SettingError, Settings
    try:
        settings = Settings.from_env()
    except SettingError as err:
        print(f"hub {command}: {err}", file=sys.stderr)
        return None
    options = dict(database_url=args.database)
    if command == "serve":
        options.update(clients_file=args.clients, listen=args.listen, tls_cert=args.tls_cert, tls_key=args.tls_key,
                       client_ca=args.client_ca, insecure=args.insecure or None, dispatch=args.dispatch,
                       writer=args.writer, writer_hang_seconds=args.writer_hang_seconds,
                       writer_linger_ms=args.writer_linger_ms, audit_head_file=args.audit_head_file,
                       audit_head_seconds=args.audit_head_seconds)
    return settings.replace(**options)


def _serve(args) -> int:
    from hub import bootstrap
    from hub.api.auth import ClientRegistry
    from hub.store.db import create_engine

    settings = _settings(args, "serve")
    if settings is None:
        return 2
    if not settings.clients_file:
        print("hub serve: set HUB_CLIENTS_FILE or --clients (see etc/clients.demo.toml)", file=sys.stderr)
        return 2
    registry = ClientRegistry.from_file(settings.clients_file)
    tls = None
    if settings.tls_cert or settings.tls_key or settings.client_ca:
        from pathlib import Path
        if not (settings.tls_cert and settings.tls_key and settings.client_ca):
            print("hub serve: mTLS needs --tls-cert, --tls-key and --client-ca", file=sys.stderr)
            return 2
        tls = bootstrap.TlsFiles(Path(settings.tls_cert), Path(settings.tls_key), Path(settings.client_ca))
    try:
        bootstrap.check_listen(settings.listen, tls, settings.insecure)
        if settings.http_listen:  # /metrics and the statistics page: plain HTTP
            bootstrap.check_listen(settings.http_listen, None, settings.insecure)
    except ValueError as err:
        print(f"hub serve: {err}", file=sys.stderr)
        return 2
    bootstrap.declare_event_exchange(settings)  # subscribers bind before the first event; a broker down is logged
    store = bootstrap.store(settings)
    dispatcher = (bootstrap.dispatcher(store, _clock(), bootstrap.adapters(settings), settings.dispatcher)
                  if settings.dispatch == "embedded" else None)
    writer_process = bootstrap.writer_wanted(settings)
    # The audit log's head, kept in a file outside the database (read with an engine
    # of its own: on SQLite a read-only one, which never takes the write lock).
    heads = create_engine(settings.database_url, read_only=True) if settings.audit_head_file else None

    async def main() -> int:
        try:
            hub = await bootstrap.start(store, registry, settings.listen, settings=settings, dispatcher=dispatcher,
                                        tls=tls, allow_insecure=settings.insecure, writer_process=writer_process,
                                        writer_hang_after=settings.writer_hang_seconds,
                                        writer_linger=bootstrap.linger_of(settings), http_listen=settings.http_listen)
        except RuntimeError as err:  # a port that cannot be bound (the HTTP port's, the gRPC one's)
            print(f"hub serve: {err}", file=sys.stderr)
            return 2
        bootstrap.settle_heap()
        stop, stopped = asyncio.Event(), asyncio.Event()
        publisher = None if heads is None else asyncio.create_task(
            publish_heads(heads, settings.audit_head_file, settings.audit_head_seconds, stopped))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await hub.stop(grace=5)
        stopped.set()  # the last head, with what the last calls appended
        if publisher is not None:
            await publisher

    code = asyncio.run(main())
    if heads is not None:
        heads.dispose()
    bootstrap.close(store)
    return code or 0


def _clock():
    from hub.service.clock import SystemClock
    return SystemClock()


def _dispatch(args) -> int:
    """A dispatcher as its own process (several may run against one PostgreSQL)."""
    from hub import bootstrap
    settings = _settings(args, "dispatch")
    if settings is None:
        return 2
    bootstrap.declare_event_exchange(settings)  # it relays events: as in `hub serve`
    store = bootstrap.store(settings)
    dispatcher = bootstrap.dispatcher(store, _clock(), bootstrap.adapters(settings), settings.dispatcher)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: dispatcher.stop())
    if args.drain:
        print(f"delivered {dispatcher.drain()} messages")
    else:
        dispatcher.run_forever()
    bootstrap.close(store)
    return 0


def _kept_heads(args) -> dict[int, str]:
    """The heads given to `hub audit verify` (--against, --against-file). ValueError
    or OSError naming the one that is wrong."""
    from hub.store.audit import read_kept
    sources = [("--against", [text]) for text in args.against]
    for path in args.against_file:
        with open(path, encoding="utf-8") as f:
            sources.append((path, f.read().splitlines()))
    kept: dict[int, str] = {}
    for name, lines in sources:
        try:
            found = read_kept(lines)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        for seq, hash_ in found.items():
            if kept.setdefault(seq, hash_) != hash_:
                raise ValueError(f"{name}: keeps another hash for entry {seq} than a head given before it")
    return kept


def _read_audit(args, read):
    """`read(conn)` on a read-only connection; None, and a line that says why (no
    traceback), if the database cannot be read."""
    import sqlalchemy as sa

    from hub.settings import Settings
    from hub.store.db import create_engine
    engine = create_engine(args.database or Settings.from_env().database_url, read_only=True)
    try:
        with engine.connect() as conn:
            return read(conn)
    except sa.exc.SQLAlchemyError as err:
        print(f"hub audit: could not read the audit log: {str(err).splitlines()[0]}", file=sys.stderr)
        return None
    finally:
        engine.dispose()


def _audit_verify(args) -> int:
    from hub.store.audit import verify
    try:
        kept = _kept_heads(args)
    except (ValueError, OSError) as err:
        print(f"hub audit verify: {err}", file=sys.stderr)
        return 2
    result = _read_audit(args, lambda conn: verify(conn, kept=kept))
    if result is None:
        return 2
    if result.ok:
        against = f", and the {len(kept)} kept heads" if kept else ""
        print(f"audit log intact: {result.entries} entries, every link and the head verified{against}")
        return 0
    print(f"audit log BROKEN at entry {result.seq}: {result.problem} "
          f"({result.entries} entries verified before it)", file=sys.stderr)
    return 1


def _audit_head(args) -> int:
    from hub.domain.audit import head_line
    from hub.store.audit import head
    found = _read_audit(args, head)
    if found is None:
        return 2
    print(head_line(*found))
    return 0


async def publish_heads(engine, path: str, every: float, done: asyncio.Event) -> None:
    """`hub serve` with HUB_AUDIT_HEAD_FILE: append the audit log's head to the file at
    `path` now, every `every` seconds if it moved, and once more when `done` is set
    (hub.store.audit.publish_head). A failure is logged and tried again next time."""
    from hub.store.audit import publish_head
    last = None
    while True:
        final = done.is_set()
        try:
            last = await asyncio.to_thread(publish_head, engine, path, last)
        except Exception:
            log.exception("could not append the audit log's head to its file", path=path)
        if final:
            return
        try:
            await asyncio.wait_for(done.wait(), every)
        except asyncio.TimeoutError:
            pass


def _cluster(args) -> int:
    """Several `hub serve` on one port (SO_REUSEPORT: the kernel spreads the clients'
    connections over them) and several `hub dispatch`, on one PostgreSQL database; a
    process that dies is started again. SIGTERM or SIGINT stops them all."""
    import os
    import subprocess
    import time
    from sqlalchemy.engine import make_url
    settings = _settings(args, "cluster")
    if settings is None:
        return 2
    url = settings.database_url
    if make_url(url).get_backend_name() == "sqlite":
        print("hub cluster: several processes share one PostgreSQL database; set HUB_DATABASE_URL or --database "
              "to a postgresql+psycopg:// URL", file=sys.stderr)
        return 2
    clients = args.clients or settings.clients_file
    listen = args.listen or settings.listen
    if not clients:
        print("hub cluster: set HUB_CLIENTS_FILE or --clients (see etc/clients.demo.toml)", file=sys.stderr)
        return 2
    if listen.rsplit(":", 1)[-1] in ("", "0"):
        print("hub cluster: the servers share one port; give it (--listen HOST:PORT)", file=sys.stderr)
        return 2
    hub = [sys.executable, "-m", "hub.cli", "--database", url]
    env = dict(os.environ, HUB_REUSE_PORT="1")
    plan = {f"server-{i}": hub + ["serve", "--listen", listen, "--clients", clients, "--dispatch", "off"]
            for i in range(1, args.servers + 1)}
    plan.update({f"dispatcher-{i}": hub + ["dispatch"] for i in range(1, args.dispatchers + 1)})
    # metrics: each server its own HTTP port (HUB_HTTP_LISTEN's port, the next, ...), so
    # that Prometheus scrapes each process's /metrics; port 0: each any free one.
    http = {}
    if settings.http_listen:
        host, _, port = settings.http_listen.rpartition(":")
        http = {f"server-{i}": f"{host}:{int(port) + i - 1 if int(port) else 0}" for i in range(1, args.servers + 1)}
    running: dict[str, subprocess.Popen] = {}
    stopping = False

    def start(name: str) -> None:
        running[name] = subprocess.Popen(plan[name], env=dict(env, HUB_HTTP_LISTEN=http[name]) if name in http
                                         else dict(env, HUB_HTTP_LISTEN="off"))
        print(f"hub cluster: {name} pid {running[name].pid}" + (f" on {listen}" if name.startswith("server")
                                                                   else "")
              + (f", /metrics on {http[name]}" if name in http else ""), flush=True)

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    for name in plan:
        start(name)
    while not stopping:
        time.sleep(0.2)
        for name, proc in list(running.items()):
            code = proc.poll()
            if code is not None and not stopping:
                print(f"hub cluster: {name} exited ({code}); starting it again", file=sys.stderr, flush=True)
                time.sleep(1)
                start(name)
    for proc in running.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 30
    for proc in running.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


def _statistics_rebuild(args) -> int:
    """Derive the statistics' totals again from the whole event log."""
    from hub import bootstrap
    settings = _settings(args, "statistics rebuild")
    if settings is None:
        return 2
    store = bootstrap.store(settings)
    n = bootstrap.rebuild_statistics(store, _clock())
    bootstrap.close(store)
    print(f"statistics rebuilt from the event log: {n} events folded")
    return 0


def _migrate(args) -> int:
    from hub.settings import Settings
    from hub.store.migrate import upgrade
    upgrade(args.database or Settings.from_env().database_url)
    print("database is at the newest schema")
    return 0


def main(argv: list[str] | None = None) -> int:
    from hub.bootstrap import configure_logs
    from hub.settings import SettingError, Settings
    try:
        configure_logs(Settings.from_env())
    except SettingError:
        logs.configure()  # (the command itself says what is wrong)
    p = argparse.ArgumentParser(prog="hub", description="sagshub server")
    p.add_argument("--database", default=None, help="SQLAlchemy URL (default: $HUB_DATABASE_URL or sqlite:///var/hub.db)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the gRPC API")
    s.add_argument("--listen", default=None, help="address to serve on (default: $HUB_LISTEN or 127.0.0.1:50051)")
    s.add_argument("--clients", default=None, help="clients file (TOML)")
    s.add_argument("--tls-cert", default=None, help="server certificate (PEM), for mTLS ($HUB_TLS_CERT)")
    s.add_argument("--tls-key", default=None, help="server key (PEM) ($HUB_TLS_KEY)")
    s.add_argument("--client-ca", default=None,
                   help="CA of the accepted client certificates (PEM)")
    s.add_argument("--insecure", action="store_true", default=False,
                   help="allow plaintext on a non-loopback address (a network you trust)")
    s.add_argument("--dispatch", choices=["embedded", "off"], default=None,
                   help="run the outbox dispatcher inside the server (default), or not (run `hub dispatch`)")
    s.add_argument("--writer", choices=["auto", "process", "inline"], default=None,
                   help="where unary calls run: in a writer process of their own, beside the gRPC server "
                        "(a second core; auto: yes), or inline in the server's process")
    s.add_argument("--writer-hang-seconds", type=_positive_seconds,
                   default=None,
                   help="a writer process that answers nothing for this long while calls wait is taken for hung: "
                        "killed and replaced (its calls end UNAVAILABLE)")
    s.add_argument("--writer-linger-ms", type=_linger_ms, default=None,
                   help="a writer process that is busy waits up to this long for more calls to commit with the "
                        "ones it has (one fsync for more of them); default 1; 0: never")
    s.add_argument("--audit-head-file", default=None, metavar="PATH",
                   help="append the audit log's head (SEQ:HASH TIME) to this file as it moves, to keep outside the "
                        "database for `hub audit verify --against-file`")
    s.add_argument("--audit-head-seconds", type=_positive_seconds,
                   default=None,
                   help="how often the audit log's head is appended to its file (if it moved)")
    s.set_defaults(fn=_serve)
    d = sub.add_parser("dispatch", help="deliver outbox messages (a dispatcher process of its own)")
    d.add_argument("--drain", action="store_true", help="deliver what is due now, then exit")
    d.set_defaults(fn=_dispatch)
    a = sub.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command", required=True)
    v = a.add_parser("verify", help="walk the hash chain; report the first broken link (exit 1)")
    v.add_argument("--against", action="append", default=[], metavar="SEQ:HASH",
                   help="a head kept outside the database (`hub audit head`): the log must still have it")
    v.add_argument("--against-file", action="append", default=[], metavar="PATH",
                   help="a file of kept heads, one a line (HUB_AUDIT_HEAD_FILE)")
    v.set_defaults(fn=_audit_verify)
    a.add_parser("head", help="print the chain's head (SEQ:HASH TIME), a line to keep outside the "
                              "database").set_defaults(fn=_audit_head)
    c = sub.add_parser("cluster", help="several servers on one port and several dispatchers, on one PostgreSQL")
    c.add_argument("--servers", type=int, default=3, help="how many `hub serve` (default 3)")
    c.add_argument("--dispatchers", type=int, default=2, help="how many `hub dispatch` (default 2)")
    c.add_argument("--listen", default=None, help="the port they share (default: $HUB_LISTEN or 127.0.0.1:50051)")
    c.add_argument("--clients", default=None, help="clients file (TOML)")
    c.set_defaults(fn=_cluster)
    st = sub.add_parser("statistics", help="the statistics' totals").add_subparsers(dest="statistics_command",
                                                                                   required=True)
    st.add_parser("rebuild", help="derive the totals again from the whole event log (answers stay right "
                                  "meanwhile)").set_defaults(fn=_statistics_rebuild)
    m = sub.add_parser("migrate", help="bring the database schema up to date")
    m.set_defaults(fn=_migrate)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
