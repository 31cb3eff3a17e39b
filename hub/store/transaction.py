"""The transaction under a unit of work: the rows a use case produces are buffered and
written at commit (or before the next statement that could read them), in the same
transaction as the change they belong to; several use cases may share one transaction
(a group-commit batch), each in a savepoint of its own.

The commit's own statements (the audit chain's head, the event counter, the stored
responses a batch looks up) are prepared (hub.store.prepared): every call runs them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

from hub.domain import audit as audit_chain
from hub.domain.ids import new_id
from hub.domain.model import Benefit, Event
from hub.ports.messages import EventNotice
from hub.store import tables as t
from hub.store.prepared import PIPELINE_COPY_FROM, Query, insert_many, pipeline


@dataclass(frozen=True)
class StoredResponse:
    rpc: str
    fingerprint: str
    response: bytes


@dataclass
class _Pending:
    """Rows a use case produced that are written at commit (or before the next
    statement that could read them)."""
    cases: list[dict[str, Any]] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)
    idempotency: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def absorb(self, other: "_Pending") -> None:
        for name in _ROW_BUFFERS + ("audit", "events"):
            getattr(self, name).extend(getattr(other, name))

    def write_rows(self, conn: sa.Connection) -> None:
        """Everything but the events, parents before children. A concurrent twin with
        the same request id fails on the idempotency primary key; the service retries
        and then replays the stored response."""
        for name, table in zip(_ROW_BUFFERS, _ROW_TABLES):
            rows = getattr(self, name)
            if rows:
                insert_many(conn, table, rows)
                rows.clear()

    def write_all(self, conn: sa.Connection, relay: tuple[str, ...] = ()) -> None:
        """`relay`: the destinations every event also goes to through the outbox.

        On PostgreSQL the commit's statements go in a pipeline, in two round trips: the
        rows, the audit chain's head (locked) and the event counter (bumped) first; the
        audit entries, the head moved and the events second. The two rows every commit
        locks are so held for two round trips and the COMMIT, not for eight. (A COPY
        cannot run in a pipeline: a commit of 1,000 rows or more to one table writes
        them one statement after another, each its own round trip, as on SQLite.)"""
        if conn.dialect.name == "postgresql" and self._fits_a_pipeline(relay):
            with pipeline(conn):
                self._write_all(conn, relay, copy_from=PIPELINE_COPY_FROM)
        else:
            self._write_all(conn, relay)

    def _fits_a_pipeline(self, relay: tuple[str, ...]) -> bool:
        return max(max(len(getattr(self, name)) for name in _ROW_BUFFERS), len(self.audit),
                   len(self.events) * (1 + len(relay))) < PIPELINE_COPY_FROM

    def _write_all(self, conn: sa.Connection, relay: tuple[str, ...], *, copy_from: int | None = None) -> None:
        for name, table in zip(_ROW_BUFFERS, _ROW_TABLES):
            rows = getattr(self, name)
            if rows:
                insert_many(conn, table, rows, copy_from=copy_from)
                rows.clear()
        # Chained at commit under the head row's lock, and sequenced under the counter
        # row's (sequence order is commit order): both taken late, held briefly. Both
        # asked before either answer is read.
        head = _AUDIT_HEAD.send(conn) if self.audit else None
        bump = _BUMP_EVENTS.send(conn, n=len(self.events)) if self.events else None
        if head is not None:
            ((seq, prev),) = Query.receive(conn, head)
            rows = []
            for entry in self.audit:
                seq += 1
                row = dict(entry, seq=seq, prev_hash=prev)
                row["hash"] = prev = audit_chain.entry_hash(row["prev_hash"], row)
                rows.append(row)
            insert_many(conn, t.audit_log, rows, copy_from=copy_from)
            _AUDIT_HEAD_MOVE.all(conn, new_seq=seq, new_hash=prev)
            self.audit.clear()
        if bump is not None:
            n = len(self.events)
            ((top,),) = Query.receive(conn, bump)
            rows = [dict(seq=s, event_id=new_id(), type=e.type, case_id=e.case_id,
                         municipality_code=e.municipality_code, benefit_code=e.benefit_code,
                         occurred_at=e.occurred_at, client_id=e.client_id, payload=e.payload)
                    for s, e in zip(range(top - n + 1, top + 1), self.events)]
            insert_many(conn, t.events, rows, copy_from=copy_from)
            if relay:
                # Each event also goes out through the outbox (the AMQP bridge), in the
                # same transaction, so a broker that is down loses nothing.
                insert_many(conn, t.outbox, [dict(
                    message_id=f"event/{r['seq']}/{dest}", destination=dest, case_id=r["case_id"],
                    payload=_event_message(r), created_at=r["occurred_at"], next_attempt_at=r["occurred_at"],
                    status="PENDING", attempts=0)
                    for dest in relay for r in rows], copy_from=copy_from)
            self.events.clear()


def _event_message(row: dict[str, Any]) -> dict[str, Any]:
    return EventNotice(sequence=row["seq"], event_id=row["event_id"], type=row["type"], case_id=row["case_id"],
                       municipality_code=row["municipality_code"], benefit_code=row["benefit_code"],
                       occurred_at=row["occurred_at"], client_id=row["client_id"], payload=row["payload"]).to_payload()


_ROW_BUFFERS = ("cases", "status", "idempotency", "outbox")
_ROW_TABLES = (t.cases, t.status_history, t.idempotency, t.outbox)
# The statements every commit runs, prepared (see hub.store.prepared).
_AUDIT_HEAD = Query(sa.select(t.audit_chain.c.seq, t.audit_chain.c.hash).where(t.audit_chain.c.id == 1)
                    .with_for_update())
_AUDIT_HEAD_MOVE = Query(sa.update(t.audit_chain).where(t.audit_chain.c.id == 1)
                         .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash")))
_BUMP_EVENTS = Query(sa.update(t.sequences).where(t.sequences.c.name == "events")
                     .values(value=t.sequences.c.value + sa.bindparam("n")).returning(t.sequences.c.value))
STORED_RESPONSE = Query(sa.select(t.idempotency.c.rpc, t.idempotency.c.fingerprint, t.idempotency.c.response)
                        .where(t.idempotency.c.client_id == sa.bindparam("client_id"),
                               t.idempotency.c.request_id == sa.bindparam("request_id")))
# A batch looks up its request ids one client at a time, `client_id = ? AND request_id
# IN (?, ...)`: primary-key searches (a row-value IN, `(client_id, request_id) IN
# (...)`, would make SQLite scan the whole table). Prepared for each list length up to
# PREFETCH_CHUNK: SQLAlchemy's own expanding IN costs more Python than the query.
PREFETCH_CHUNK = 64
_STORED_RESPONSES: dict[int, Query] = {}


def stored_responses_query(n: int) -> Query:
    query = _STORED_RESPONSES.get(n)
    if query is None:
        c = t.idempotency.c
        query = _STORED_RESPONSES[n] = Query(
            sa.select(c.request_id, c.rpc, c.fingerprint, c.response)
            .where(c.client_id == sa.bindparam("client_id"),
                   c.request_id.in_([sa.bindparam(f"r{i}", type_=c.request_id.type) for i in range(n)])))
    return query


def stored(row) -> StoredResponse:
    return StoredResponse(row.rpc, row.fingerprint, bytes(row.response))


class ConnectionSource(Protocol):
    """Where a transaction gets its connection and gives it back (a group-commit lane,
    hub.runtime.lanes.Lane, keeps one across transactions); without one, the pool."""

    def acquire(self) -> sa.Connection: ...

    def release(self, conn: sa.Connection, *, ok: bool) -> None: ...


class Batch:
    """Group commit: several use cases share one transaction and one fsync. Each runs
    in a unit of work of its own (a savepoint, opened at its first statement), and its
    buffered rows join the batch when it commits. Nothing is visible to any caller
    before `commit` returns."""

    def __init__(self, engine: sa.Engine, lane: "ConnectionSource | None" = None, relay: tuple[str, ...] = ()):
        self._lane = lane
        self.relay = relay
        self.conn = open_transaction(engine, lane)
        self._committed = False
        self.pending = _Pending()
        # Idempotency keys known to this batch: looked up in advance (None: not used
        # before) or answered by an earlier use case in the batch.
        self.responses: dict[tuple[str, str], StoredResponse | None] = {}
        self.benefits: dict[str, Benefit | None] = {}
        self.rule_sets: dict[str, list] = {}    # benefit code -> its rule sets (hub.store.rules)

    def prefetch_responses(self, keys: list[tuple[str, str]]) -> None:
        by_client: dict[str, dict[str, None]] = {}  # (ordered sets)
        for client_id, request_id in keys:
            if (client_id, request_id) not in self.responses:
                by_client.setdefault(client_id, {})[request_id] = None
        for client_id, request_ids in by_client.items():
            ids = list(request_ids)
            for start in range(0, len(ids), PREFETCH_CHUNK):
                chunk = ids[start:start + PREFETCH_CHUNK]
                found = {row.request_id: stored(row) for row in stored_responses_query(len(chunk)).all(
                             self.conn, client_id=client_id, **{f"r{i}": r for i, r in enumerate(chunk)})}
                for request_id in chunk:
                    self.responses[(client_id, request_id)] = found.get(request_id)

    def commit(self) -> None:
        self.pending.write_all(self.conn, self.relay)
        self.conn.commit()
        self._committed = True

    def close(self) -> None:
        end_transaction(self.conn, self._lane, ok=self._committed)


def open_transaction(engine: sa.Engine, lane: "ConnectionSource | None") -> sa.Connection:
    """A connection (the lane's, or one from the pool) with a transaction begun."""
    conn = lane.acquire() if lane is not None else engine.connect()
    try:
        conn.begin()
    except Exception:  # (SQLite: the write lock not had within the busy timeout)
        end_transaction(conn, lane, ok=False)
        raise
    return conn


def end_transaction(conn: sa.Connection, lane: "ConnectionSource | None", *, ok: bool) -> None:
    """Roll back what did not commit; give the connection back to its lane (kept for
    the next transaction only if all went well) or close it."""
    try:
        if conn.in_transaction():
            conn.rollback()
    except Exception:
        ok = False
        raise
    finally:
        if lane is not None:
            lane.release(conn, ok=ok)
        else:
            conn.close()
