"""A group-commit lane's connection, kept from one transaction to the next."""
from __future__ import annotations

import sqlalchemy as sa

from hub.runtime.checkpoint import Checkpointer
from hub.store.db import is_sqlite_file


class Lane:
    """The connection of one group-commit lane (the writer process is one), kept open
    from one transaction to the next: taking it from the pool and giving it back cost
    a SQLite writer 0.1 ms a transaction. Only on SQLite, whose database cannot go away
    under an open connection; elsewhere each transaction takes one from the pool (whose
    pre-ping notices a server that restarted). A connection whose transaction failed
    is closed, and the next transaction opens a new one. On a SQLite file a thread
    beside the lane checkpoints what it commits (hub.runtime.checkpoint), so that its
    commits seldom have to."""

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        self._keep = engine.dialect.name == "sqlite"
        self._conn: sa.Connection | None = None
        self.checkpointer = Checkpointer(engine) if is_sqlite_file(engine) else None
        self._changes = -1

    def acquire(self) -> sa.Connection:
        conn, self._conn = self._conn, None
        return conn if conn is not None else self._engine.connect()

    def release(self, conn: sa.Connection, *, ok: bool) -> None:
        if self.checkpointer is not None and ok:
            # SQLite's count of rows changed on this connection: a read-only
            # transaction wrote nothing to the log and asks for no checkpoint.
            changes = conn.connection.driver_connection.total_changes
            if changes != self._changes:
                self._changes = changes
                self.checkpointer.committed()
        if ok and self._keep and not conn.invalidated and self._conn is None:
            self._conn = conn
        else:
            conn.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if self.checkpointer is not None:
            self.checkpointer.stop()
