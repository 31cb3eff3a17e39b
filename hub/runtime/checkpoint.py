"""Checkpoints off the writer's path (SQLite in WAL mode).

A commit appends the pages it changed to the write-ahead log; a checkpoint copies them
into the database file and syncs it. By default SQLite checkpoints inside the commit
that takes the log past 1,000 pages, so the writer, and every call queued behind it,
waits for it. On a database of some size that wait is long: a case's random keys
(its request id, the citizen's CPR in the case and audit indexes) land on pages all
over the file, and syncing a few hundred scattered pages took 8-20 ms on the bench
host, against 0.5 ms for a commit. Run from a thread of its own, as SQLite's
documentation suggests, a checkpoint takes no lock that the writer needs (PASSIVE),
and the writer's own automatic checkpoint, when it comes, finds little left to copy.
Each copies no more than a few hundred pages if it can (see Pace): the writer's next
commit waits on the disk behind the checkpoint's sync of those scattered pages.

Durability is unchanged: the log is synced at every commit (synchronous=FULL), and a
checkpoint syncs the database file before the log can be reused."""
from __future__ import annotations

import threading
import time

import sqlalchemy as sa
import structlog

log = structlog.get_logger("hub.checkpoint")


class Pace:
    """How long the checkpointer waits after a commit: long enough that the log has
    grown by at least `low` pages (a checkpoint after every commit would rewrite a
    table's last page in the database file, and sync the file, at every commit),
    short enough that it has grown by at most `high` (the writer's next commit waits
    on the disk behind a checkpoint's sync of that many scattered pages). From
    `shortest` (at a steady 1,800 CreateCase calls a second the log grows about 150
    pages in it; twice that wait took the bench's p99 up by a few ms) up to `longest`:
    doubled when the log grew by fewer than `low`, cut to fit when by more than `high`."""

    def __init__(self, shortest: float = 0.01, longest: float = 1.0, low: int = 64, high: int = 256):
        self.shortest, self.longest, self.low, self.high = shortest, longest, low, high
        self.wait = shortest
        self._log = 0  # the log's length at the last checkpoint

    def checkpointed(self, log_pages: int) -> None:
        """The log's length in pages, as `PRAGMA wal_checkpoint` answered (-1: not in
        WAL mode). Told only after commits, a log that did not grow began again from
        its start (once a checkpoint had copied all of it)."""
        if log_pages < 0:
            return
        grown = log_pages - self._log if log_pages > self._log else log_pages
        self._log = log_pages
        if grown < self.low:
            self.wait = min(self.wait * 2, self.longest)
        elif grown > self.high:
            # In one step: a burst after a quiet hour must not wait for seven halvings.
            self.wait = max(self.wait * self.high / grown, self.shortest)


class Checkpointer:
    """After a commit (`committed`), waits for more to gather (see Pace), then copies
    the log into the database file as far as no reader needs it (a PASSIVE
    checkpoint), on a thread and connection of its own; idle while nothing commits."""

    def __init__(self, engine: sa.Engine, pace: Pace | None = None):
        self._engine, self.pace = engine, pace or Pace()
        self._due = threading.Event()
        self._stopping = False
        self.checkpoints = 0  # for operators and tests
        self._thread = threading.Thread(target=self._run, name="hub-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """A transaction wrote to the log."""
        self._due.set()

    def stop(self) -> None:
        self._stopping = True
        self._due.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        conn = None
        try:
            while True:
                self._due.wait()
                if self._stopping:
                    return
                time.sleep(self.pace.wait)
                self._due.clear()  # a commit from now on asks for the next one
                if self._stopping:  # (`stop` sets the flag before the event this may have cleared)
                    return
                try:
                    if conn is None:
                        conn = self._engine.raw_connection()
                    cursor = conn.cursor()
                    try:
                        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        _, log_pages, _ = cursor.fetchone()
                    finally:
                        cursor.close()
                    self.checkpoints += 1
                    self.pace.checkpointed(log_pages)
                except Exception:
                    # The writer's own automatic checkpoints still keep the log bounded.
                    log.exception("background checkpoint failed; trying again after the next commit")
                    if conn is not None:
                        conn.invalidate()
                        conn.close()
                        conn = None
                    time.sleep(1.0)
        finally:
            if conn is not None:
                conn.close()
