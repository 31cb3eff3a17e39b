"""One transaction per use case. Reads go through the repository methods; the event,
outbox, audit and idempotency records a use case produces are buffered and written at
commit, in the same transaction as the state change they belong to."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from hub.ports.messages import EventNotice
from hub.domain import audit as audit_chain
from hub.domain.model import (
    AmountLimit, Approval, ApprovalMode, AuthorityKind, Benefit, PeriodKind, Case, CaseStatus, Channel, Decision,
    DecisionSource, DecisionStatus, DiscretionaryPoint, HearingException, Event, InformationItem, InformationSource, Origin,
    OutboxMessage, Outcome, PeriodAmount, Recurrence, Return, Sensitivity, StatusChange,
)
from hub.domain.errors import HubError
from hub.domain.ids import new_id
from hub.store import tables as t
from hub.store.checkpoint import Checkpointer
from hub.store.db import is_sqlite_file
from hub.store.prepared import Query, insert_many


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    client_id: str
    role: str
    rpc: str
    case_id: str | None
    cpr: str | None
    outcome: str
    request_id: str | None = None
    purpose: str | None = None


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

    def write_all(self, conn: sa.Connection) -> None:
        self.write_rows(conn)
        if self.audit:
            # Chained at commit, under the head row's lock (taken late, held briefly).
            seq, prev = _AUDIT_HEAD.first(conn)
            rows = []
            for entry in self.audit:
                seq += 1
                row = dict(entry, seq=seq, prev_hash=prev)
                row["hash"] = prev = audit_chain.entry_hash(row["prev_hash"], row)
                rows.append(row)
            insert_many(conn, t.audit_log, rows)
            _AUDIT_HEAD_MOVE.all(conn, new_seq=seq, new_hash=prev)
            self.audit.clear()
        if self.events:
            # Last statement before COMMIT: the counter row stays locked only briefly,
            # and sequence order equals commit order.
            n = len(self.events)
            (top,) = _BUMP_EVENTS.first(conn, n=n)
            rows = [dict(seq=s, event_id=new_id(), type=e.type, case_id=e.case_id,
                         municipality_code=e.municipality_code, benefit_code=e.benefit_code,
                         occurred_at=e.occurred_at, client_id=e.client_id, payload=e.payload)
                    for s, e in zip(range(top - n + 1, top + 1), self.events)]
            insert_many(conn, t.events, rows)
            if EVENT_RELAY:
                # Each event also goes out through the outbox (the AMQP bridge), in the
                # same transaction, so a broker that is down loses nothing.
                insert_many(conn, t.outbox, [dict(
                    message_id=f"event/{r['seq']}/{dest}", destination=dest, case_id=r["case_id"],
                    payload=_event_message(r), created_at=r["occurred_at"], next_attempt_at=r["occurred_at"],
                    status="PENDING", attempts=0)
                    for dest in EVENT_RELAY for r in rows])
            self.events.clear()


# Destinations every event is also sent to through the outbox (e.g. "amqp"); set at
# start-up from configuration (see adapters.wiring).
EVENT_RELAY: tuple[str, ...] = ()


def _event_message(row: dict[str, Any]) -> dict[str, Any]:
    return EventNotice(sequence=row["seq"], event_id=row["event_id"], type=row["type"], case_id=row["case_id"],
                       municipality_code=row["municipality_code"], benefit_code=row["benefit_code"],
                       occurred_at=row["occurred_at"], client_id=row["client_id"], payload=row["payload"]).to_payload()


def relay_events_to(*destinations: str) -> None:
    global EVENT_RELAY
    EVENT_RELAY = tuple(destinations)


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


_BENEFIT = Query(sa.select(t.benefits).where(t.benefits.c.code == sa.bindparam("code")))
_CASE = sa.select(t.cases).where(t.cases.c.case_id == sa.bindparam("case_id"))


def _stored(row) -> StoredResponse:
    return StoredResponse(row.rpc, row.fingerprint, bytes(row.response))


def _stored_response(conn: sa.Connection, client_id: str, request_id: str) -> StoredResponse | None:
    row = STORED_RESPONSE.first(conn, client_id=client_id, request_id=request_id)
    return _stored(row) if row else None


class Batch:
    """Group commit: several use cases share one transaction and one fsync. Each runs
    in a unit of work of its own (a savepoint, opened at its first statement), and its
    buffered rows join the batch when it commits. Nothing is visible to any caller
    before `commit` returns."""

    def __init__(self, engine: sa.Engine, lane: "Lane | None" = None):
        self._lane = lane
        self.conn = _open(engine, lane)
        self._committed = False
        self.pending = _Pending()
        # Idempotency keys known to this batch: looked up in advance (None: not used
        # before) or answered by an earlier use case in the batch.
        self.responses: dict[tuple[str, str], StoredResponse | None] = {}
        self.benefits: dict[str, Benefit | None] = {}

    def prefetch_responses(self, keys: list[tuple[str, str]]) -> None:
        by_client: dict[str, dict[str, None]] = {}  # (ordered sets)
        for client_id, request_id in keys:
            if (client_id, request_id) not in self.responses:
                by_client.setdefault(client_id, {})[request_id] = None
        for client_id, request_ids in by_client.items():
            ids = list(request_ids)
            for start in range(0, len(ids), PREFETCH_CHUNK):
                chunk = ids[start:start + PREFETCH_CHUNK]
                found = {row.request_id: _stored(row) for row in stored_responses_query(len(chunk)).all(
                             self.conn, client_id=client_id, **{f"r{i}": r for i, r in enumerate(chunk)})}
                for request_id in chunk:
                    self.responses[(client_id, request_id)] = found.get(request_id)

    def commit(self) -> None:
        self.pending.write_all(self.conn)
        self.conn.commit()
        self._committed = True

    def close(self) -> None:
        _end(self.conn, self._lane, ok=self._committed)


def _open(engine: sa.Engine, lane: "Lane | None") -> sa.Connection:
    """A connection (the lane's, or one from the pool) with a transaction begun."""
    conn = lane.acquire() if lane is not None else engine.connect()
    try:
        conn.begin()
    except Exception:  # (SQLite: the write lock not had within the busy timeout)
        _end(conn, lane, ok=False)
        raise
    return conn


def _end(conn: sa.Connection, lane: "Lane | None", *, ok: bool) -> None:
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


class Lane:
    """The connection of one group-commit lane (the writer process is one), kept open
    from one transaction to the next: taking it from the pool and giving it back cost
    a SQLite writer 0.1 ms a transaction. Only on SQLite, whose database cannot go away
    under an open connection; elsewhere each transaction takes one from the pool (whose
    pre-ping notices a server that restarted). A connection whose transaction failed
    is closed, and the next transaction opens a new one. On a SQLite file a thread
    beside the lane checkpoints what it commits (hub.store.checkpoint), so that its
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


class UnitOfWork:
    def __init__(self, engine: sa.Engine, batch: Batch | None = None, lane: Lane | None = None):
        """In a `batch`, the use case shares the batch's transaction; otherwise it has
        one of its own, on the `lane`'s connection if given."""
        self._engine = engine
        self._batch = batch
        self._lane = lane
        self._pending = _Pending()
        self._savepoint: sa.NestedTransaction | None = None
        self._committed = False
        self.conn: sa.Connection | None = None

    def __enter__(self) -> "UnitOfWork":
        if self._batch is not None:
            self.conn = self._batch.conn
        else:
            self.conn = _open(self._engine, self._lane)
        self._for_update = self._engine.dialect.name != "sqlite"  # SQLite locks the database
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._batch is not None:
            if not self._committed and self._savepoint is not None and self._savepoint.is_active:
                self._savepoint.rollback()
            return
        # A use case's own refusal (a HubError, raised before anything was written or
        # after its statements ran) leaves the connection fine for the next one.
        _end(self.conn, self._lane, ok=exc is None or isinstance(exc, HubError))

    def _exec(self, statement, params=None):
        """Execute a statement on the case tables. Pending rows are written first so
        that the statement sees them; in a batch, earlier use cases' rows are written
        before this one's savepoint opens, so that its rollback cannot undo them."""
        return self.writer().execute(statement, params)

    def writer(self) -> sa.Connection:
        """The connection, ready for statements of the caller's own (pending rows
        written, the savepoint open in a batch)."""
        if self._batch is not None and self._savepoint is None:
            self._batch.pending.write_rows(self.conn)
            self._savepoint = self.conn.begin_nested()
        self._pending.write_rows(self.conn)
        return self.conn

    # ---- register look-ups -----------------------------------------------------------

    def fetched_months(self, case_id: str, register: str) -> set[str]:
        f = t.register_fetches.c
        return set(self._exec(sa.select(f.month).where(f.case_id == case_id, f.register == register)).scalars())

    def add_register_fetches(self, case_id: str, register: str, months: list[str], message_id: str,
                             at: dt.datetime) -> None:
        self._exec(t.register_fetches.insert(), [dict(case_id=case_id, register=register, month=m,
                                                      message_id=message_id, requested_at=at) for m in months])

    # ---- buffered writes -------------------------------------------------------------

    def record_event(self, event: Event) -> None:
        self._pending.events.append(event)

    def add_outbox(self, m: OutboxMessage, at: dt.datetime) -> None:
        self._pending.outbox.append(dict(
            message_id=m.message_id, destination=m.destination, case_id=m.case_id,
            payload=m.payload, created_at=at, next_attempt_at=at, status="PENDING", attempts=0))

    def audit(self, entry: AuditEntry) -> None:
        self._pending.audit.append(entry.__dict__)

    def remember_response(self, client_id: str, request_id: str, rpc: str, fingerprint: str,
                          response: bytes, at: dt.datetime) -> None:
        self._pending.idempotency.append(dict(client_id=client_id, request_id=request_id, rpc=rpc,
                                              fingerprint=fingerprint, response=response, created_at=at))

    def commit(self) -> None:
        if self._batch is None:
            self._pending.write_all(self.conn)
            self.conn.commit()
        else:
            if self._savepoint is not None:
                self._pending.write_rows(self.conn)
                self._savepoint.commit()
            for r in self._pending.idempotency:
                self._batch.responses[(r["client_id"], r["request_id"])] = StoredResponse(
                    r["rpc"], r["fingerprint"], r["response"])
            self._batch.pending.absorb(self._pending)
        self._committed = True

    # ---- idempotency -----------------------------------------------------------------

    def stored_response(self, client_id: str, request_id: str) -> StoredResponse | None:
        if self._batch is not None and (client_id, request_id) in self._batch.responses:
            return self._batch.responses[(client_id, request_id)]
        return _stored_response(self.conn, client_id, request_id)

    # ---- benefits --------------------------------------------------------------------

    def benefit(self, code: str) -> Benefit | None:
        cache = self._batch.benefits if self._batch is not None else None
        if cache is not None and code in cache:
            return cache[code]
        row = _BENEFIT.first(self.conn, code=code)
        b = _benefit(row) if row else None
        if cache is not None:
            cache[code] = b
        return b

    def benefits(self) -> list[Benefit]:
        return [_benefit(r) for r in self.conn.execute(sa.select(t.benefits).order_by(t.benefits.c.code))]

    # ---- cases -----------------------------------------------------------------------

    def case(self, case_id: str, *, for_update: bool = False) -> Case | None:
        q = _CASE.with_for_update() if for_update and self._for_update else _CASE
        row = self._exec(q, {"case_id": case_id}).first()
        return _case(row) if row else None

    def insert_case(self, case: Case) -> None:
        self._pending.cases.append(_case_row(case))

    def update_case_sensitivity(self, case: Case) -> None:
        self._exec(sa.update(t.cases).where(t.cases.c.case_id == case.case_id)
                   .values(sensitivity=case.sensitivity.value, updated_at=case.updated_at))

    def update_case_status(self, case: Case) -> None:
        self._exec(sa.update(t.cases).where(t.cases.c.case_id == case.case_id)
                          .values(status=case.status.value, updated_at=case.updated_at))

    def add_status_change(self, case_id: str, ch: StatusChange) -> None:
        self._pending.status.append(dict(
            case_id=case_id, from_status=ch.from_status.value if ch.from_status else None,
            to_status=ch.to_status.value, at=ch.at, by_client=ch.by_client, reason=ch.reason))

    def status_history(self, case_id: str) -> list[StatusChange]:
        rows = self._exec(sa.select(t.status_history).where(t.status_history.c.case_id == case_id)
                                 .order_by(t.status_history.c.id))
        return [StatusChange(CaseStatus(r.from_status) if r.from_status else None, CaseStatus(r.to_status),
                             r.at, r.by_client, r.reason) for r in rows]

    def other_open_cases(self, cpr: str, municipality_code: str, except_case_id: str) -> int:
        return self._exec(
            sa.select(sa.func.count()).select_from(t.cases).where(
                t.cases.c.cpr == cpr, t.cases.c.municipality_code == municipality_code,
                t.cases.c.case_id != except_case_id,
                t.cases.c.status.in_([s.value for s in (CaseStatus.CREATED, CaseStatus.INFORMING,
                                                        CaseStatus.DRAFT_PENDING_APPROVAL)]))
        ).scalar_one()

    def list_cases(self, *, municipalities: Iterable[str], central_authority_keys: Iterable[str],
                   municipality_code: str, benefit_code: str, status: str, cpr: str,
                   received_after: dt.datetime | None, received_before: dt.datetime | None,
                   after_id: int, limit: int, benefits: Iterable[str] | None = None,
                   sensitivities: Iterable[Sensitivity] | None = None) -> list[tuple[int, Case]]:
        c = t.cases.c
        scope = [c.municipality_code.in_(list(municipalities))]
        keys = list(central_authority_keys)
        if keys:
            scope.append(c.authority_key.in_(keys))
        q = sa.select(t.cases).where(sa.or_(*scope), c.id > after_id)
        q = _within_limits(q, benefits, sensitivities)
        if municipality_code:
            q = q.where(c.municipality_code == municipality_code)
        if benefit_code:
            q = q.where(c.benefit_code == benefit_code)
        if status:
            q = q.where(c.status == status)
        if cpr:
            q = q.where(c.cpr == cpr)
        if received_after:
            q = q.where(c.received_at >= received_after)
        if received_before:
            q = q.where(c.received_at < received_before)
        rows = self._exec(q.order_by(c.id).limit(limit))
        return [(r.id, _case(r)) for r in rows]

    # ---- information -----------------------------------------------------------------

    def add_information(self, item: InformationItem) -> None:
        self._exec(t.information_items.insert(), dict(
            item_id=item.item_id, case_id=item.case_id, source=item.source.value,
            source_reference=item.source_reference, kind=item.kind, value=item.value,
            discretionary=item.discretionary, supplied_by=item.supplied_by, added_at=item.added_at))

    def information(self, case_id: str) -> list[InformationItem]:
        rows = self._exec(sa.select(t.information_items)
                                 .where(t.information_items.c.case_id == case_id)
                                 .order_by(t.information_items.c.id))
        return [InformationItem(r.item_id, r.case_id, InformationSource(r.source), r.source_reference, r.kind,
                                r.value, r.discretionary, r.supplied_by, r.added_at) for r in rows]

    # ---- decisions -------------------------------------------------------------------

    def decision(self, decision_id: str, *, for_update: bool = False) -> Decision | None:
        q = sa.select(t.decisions).where(t.decisions.c.decision_id == decision_id)
        if for_update and self._for_update:
            q = q.with_for_update()
        row = self._exec(q).first()
        return _decision(row) if row else None

    def decisions(self, case_id: str) -> list[Decision]:
        rows = self._exec(sa.select(t.decisions).where(t.decisions.c.case_id == case_id)
                                 .order_by(t.decisions.c.id))
        return [_decision(r) for r in rows]

    def insert_decision(self, d: Decision, authority_key: str) -> None:
        self._exec(t.decisions.insert(), dict(authority_key=authority_key, **_decision_row(d)))

    def update_decision(self, d: Decision) -> None:
        row = _decision_row(d)
        self._exec(sa.update(t.decisions).where(t.decisions.c.decision_id == d.decision_id)
                          .values(status=row["status"], amounts=row["amounts"],
                                  discretionary_points=row["discretionary_points"],
                                  approval=row["approval"], returned=row["returned"]))

    def pending_approvals(self, *, authority_keys: Sequence[str], municipality_code: str, benefit_code: str,
                          after_id: int, limit: int, benefits: Iterable[str] | None = None,
                          sensitivities: Iterable[Sensitivity] | None = None) -> list[tuple[int, Decision, Case]]:
        d, c = t.decisions.c, t.cases.c
        q = (sa.select(t.decisions.c.id.label("decision_row_id"), t.decisions, t.cases)
             .join(t.cases, c.case_id == d.case_id)
             .where(d.status == DecisionStatus.PENDING_APPROVAL.value, d.authority_key.in_(list(authority_keys)),
                    d.id > after_id))
        q = _within_limits(q, benefits, sensitivities)
        if municipality_code:
            q = q.where(c.municipality_code == municipality_code)
        if benefit_code:
            q = q.where(c.benefit_code == benefit_code)
        rows = self._exec(q.order_by(d.id).limit(limit)).mappings()
        out = []
        for r in rows:
            dec = _decision_from_mapping(r, t.decisions)
            case = _case_from_mapping(r, t.cases)
            out.append((r["decision_row_id"], dec, case))
        return out

    # ---- events (read side, for tests and later subscribers) ----------------------------

    def events_for_case(self, case_id: str) -> list[dict[str, Any]]:
        rows = self._exec(sa.select(t.events).where(t.events.c.case_id == case_id).order_by(t.events.c.seq))
        return [dict(r._mapping) for r in rows]


def _within_limits(q, benefits: Iterable[str] | None, sensitivities: Iterable[Sensitivity] | None):
    """A client's data limits beyond its municipalities, as SQL on the cases table."""
    if benefits is not None:
        q = q.where(t.cases.c.benefit_code.in_(list(benefits)))
    if sensitivities is not None:
        q = q.where(t.cases.c.sensitivity.in_([s.value for s in sensitivities]))
    return q


# ---- row <-> model ------------------------------------------------------------------------

def _benefit(r) -> Benefit:
    return Benefit(r.code, r.name_da, r.name_en, r.kle_number, r.processing_deadline_days,
                   bool(r.discretion_possible), Recurrence(r.recurrence), r.retention_years, r.ledger_account,
                   AuthorityKind(r.authority_kind), r.central_authority_code, r.central_authority_name,
                   r.hearing_deadline_days, r.appeals_authority_name,
                   tuple(AmountLimit(PeriodKind(x["per"]), int(x["max_oere"]), x.get("basis", ""))
                         for x in r.amount_limits or ()))


def _case(r) -> Case:
    return Case(r.case_id, r.municipality_code, r.cpr, r.benefit_code, Channel(r.channel), Origin(r.origin),
                CaseStatus(r.status), r.received_at, r.created_at, r.processing_deadline, r.applicant_statement,
                r.external_reference, r.authority_key, r.created_by, r.updated_at, r.archive_reference,
                Sensitivity(r.sensitivity))


def _case_from_mapping(m, table: sa.Table) -> Case:
    return _case(SimpleNamespace(**{col.name: m[col] for col in table.c}))


def _case_row(c: Case) -> dict[str, Any]:
    return dict(case_id=c.case_id, municipality_code=c.municipality_code, cpr=c.cpr, benefit_code=c.benefit_code,
                channel=c.channel.value, origin=c.origin.value, status=c.status.value, received_at=c.received_at,
                created_at=c.created_at, processing_deadline=c.processing_deadline,
                applicant_statement=c.applicant_statement, external_reference=c.external_reference,
                authority_key=c.authority_key, created_by=c.created_by, updated_at=c.updated_at,
                sensitivity=c.sensitivity.value)


def _amounts_json(items) -> list[dict[str, Any]]:
    return [dict(amount_oere=a.amount_oere, period_start=a.period_start.isoformat(),
                 period_end=a.period_end.isoformat()) for a in items]


def _amounts(items) -> tuple[PeriodAmount, ...]:
    return tuple(PeriodAmount(int(a["amount_oere"]), dt.date.fromisoformat(a["period_start"]),
                              dt.date.fromisoformat(a["period_end"])) for a in items or ())


def _points_json(items) -> list[dict[str, str]]:
    return [dict(topic=p.topic, assessment=p.assessment) for p in items]


def _points(items) -> tuple[DiscretionaryPoint, ...]:
    return tuple(DiscretionaryPoint(p["topic"], p["assessment"]) for p in items or ())


def _decision_row(d: Decision) -> dict[str, Any]:
    a = d.approval
    approval = None if a is None else dict(
        mode=a.mode.value, by_client=a.by_client, authority_key=a.authority_key, at=a.at.isoformat(),
        note=a.note, amended=a.amended, original_amounts=_amounts_json(a.original_amounts),
        original_points=_points_json(a.original_points))
    returned = None if d.returned is None else dict(
        by_client=d.returned.by_client, at=d.returned.at.isoformat(), reason=d.returned.reason)
    return dict(decision_id=d.decision_id, case_id=d.case_id, status=d.status.value, outcome=d.outcome.value,
                amounts=_amounts_json(d.amounts), reasoning=d.reasoning, legal_basis=d.legal_basis,
                discretionary_points=_points_json(d.discretionary_points), submitted_by=d.submitted_by,
                submitted_at=d.submitted_at, approval=approval, returned=returned, effective_from=d.effective_from,
                decisive_fact_ids=list(d.decisive_fact_ids),
                hearing_exception=d.hearing_exception.value if d.hearing_exception else None,
                hearing_exception_note=d.hearing_exception_note, complaint_guidance=d.complaint_guidance,
                source=d.source.value)


def _decision(r) -> Decision:
    return _decision_from_values(r._mapping)


def _decision_from_mapping(m, table: sa.Table) -> Decision:
    return _decision_from_values({col.name: m[col] for col in table.c})


def _decision_from_values(v) -> Decision:
    a, ret = v["approval"], v["returned"]
    approval = None if not a else Approval(
        ApprovalMode(a["mode"]), a["by_client"], a["authority_key"], dt.datetime.fromisoformat(a["at"]),
        a.get("note", ""), bool(a.get("amended")), _amounts(a.get("original_amounts")),
        _points(a.get("original_points")))
    returned = None if not ret else Return(ret["by_client"], dt.datetime.fromisoformat(ret["at"]), ret["reason"])
    return Decision(v["decision_id"], v["case_id"], DecisionStatus(v["status"]), Outcome(v["outcome"]),
                    _amounts(v["amounts"]), v["reasoning"], v["legal_basis"], _points(v["discretionary_points"]),
                    v["submitted_by"], v["submitted_at"], approval, returned, v.get("sent_at"),
                    v.get("letter_reference"), v.get("effective_from"), v.get("superseded_by"),
                    tuple(v.get("decisive_fact_ids") or ()),
                    HearingException(v["hearing_exception"]) if v.get("hearing_exception") else None,
                    v.get("hearing_exception_note") or "", v.get("complaint_guidance") or "",
                    DecisionSource(v.get("source") or "AUTHORITY"))
