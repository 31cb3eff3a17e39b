"""Engine set-up: SQLite (WAL, full sync, immediate write transactions) or PostgreSQL."""
from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from hub.store.prepared import driver_execute

DEFAULT_URL = "sqlite:///var/hub.db"


def database_url() -> str:
    return os.environ.get("HUB_DATABASE_URL", DEFAULT_URL)


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_sqlite_file(engine: sa.Engine) -> bool:
    """A SQLite database in a file (not in memory): one with a write-ahead log, that
    another process can open."""
    return is_sqlite(engine) and engine.url.database not in (None, "", ":memory:")


def dialect_insert(conn: sa.Connection, table: sa.Table):
    """INSERT with the dialect's ON CONFLICT support (PostgreSQL and SQLite alike)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def create_engine(url: str | None = None, *, pool_size: int = 10, read_only: bool = False) -> sa.Engine:
    """`read_only`: for long-running readers (event streams). On SQLite they begin a
    deferred transaction, a snapshot that never takes the write lock."""
    url = url or database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            # Absolute: a connection opened while another thread has changed the working
            # directory (bagit.make_bag does, building an archive bag) must not open, and
            # create, a database file of its own there.
            parsed = parsed.set(database=str(Path(parsed.database).absolute()))
            url = parsed.render_as_string(hide_password=False)
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # Let SQLAlchemy own transactions, so that we can BEGIN IMMEDIATE below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed transaction survives power loss, not only a crash.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the write lock up front: no lock upgrade deadlocks between
            # processes. Readers read a WAL snapshot and never block the writer.
            # (On the driver's cursor, as the prepared statements run: through
            # SQLAlchemy's execute it costs 40 us more, on every transaction.)
            driver_execute(conn, "BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
