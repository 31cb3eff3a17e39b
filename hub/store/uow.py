"""The unit of work: one transaction, and the repositories a use case reads and writes
through (`uow.cases`, `uow.decisions`, `uow.payments`, ...), each taking and returning
domain objects. What a use case produces that nothing reads back at once (new cases,
their history, events, outbox messages, audit entries, stored responses) is buffered
and written at commit, in the same transaction as the change it belongs to.

`Store` is the database as the hub uses it: where units of work come from, with the
settings they need (the destinations every event is relayed to). It holds no state of
its own beyond that, so several processes may share one database."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from hub.domain.errors import HubError
from hub.store.complaints import Complaints, Deadlines, Hearings
from hub.store.control import Control
from hub.store.outbox import Outbox
from hub.store.payments import Claims, Payments
from hub.store.repositories.cases import Cases, Catalogue, Decisions, Information, RegisterFetches
from hub.store.repositories.log import Audit, Events, Idempotency, Subscriptions
from hub.store.rules import RuleSets
from hub.store.settlements import Settlements
from hub.store.statistics import Statistics
from hub.store.transaction import Batch, ConnectionSource, StoredResponse, _Pending, end_transaction, open_transaction


@dataclass(frozen=True)
class Store:
    """The database: `engine` for the units of work, `reader` for long readers (on
    SQLite a read-only engine whose snapshots never wait for the writer), `relay` the
    destinations every event also goes to through the outbox (e.g. "amqp")."""
    engine: sa.Engine
    reader: sa.Engine
    relay: tuple[str, ...] = ()

    def unit(self, batch: Batch | None = None, lane: ConnectionSource | None = None) -> "UnitOfWork":
        return UnitOfWork(self, batch, lane)

    def reading(self) -> "UnitOfWork":
        """A unit of work on the reader (reads only: it is never committed)."""
        return UnitOfWork(Store(self.reader, self.reader, self.relay))

    def batch(self, lane: ConnectionSource | None = None) -> Batch:
        return Batch(self.engine, lane, self.relay)


class UnitOfWork:
    def __init__(self, store: Store, batch: Batch | None = None, lane: ConnectionSource | None = None):
        """In a `batch`, the use case shares the batch's transaction (in a savepoint of
        its own, opened at its first statement); otherwise it has one of its own, on the
        `lane`'s connection if given."""
        self.store = store
        self.batch = batch
        self._lane = lane
        self.pending = _Pending()
        self._savepoint: sa.NestedTransaction | None = None
        self._committed = False
        self.conn: sa.Connection | None = None
        self.locks = store.engine.dialect.name != "sqlite"  # SQLite locks the whole database instead
        self.catalogue = Catalogue(self)
        self.rules = RuleSets(self)
        self.cases = Cases(self)
        self.information = Information(self)
        self.register_fetches = RegisterFetches(self)
        self.decisions = Decisions(self)
        self.hearings = Hearings(self)
        self.complaints = Complaints(self)
        self.deadlines = Deadlines(self)
        self.payments = Payments(self)
        self.settlements = Settlements(self)
        self.claims = Claims(self)
        self.control = Control(self)
        self.statistics = Statistics(self)
        self.outbox = Outbox(self)
        self.events = Events(self)
        self.subscriptions = Subscriptions(self)
        self.audit = Audit(self)
        self.idempotency = Idempotency(self)

    def __enter__(self) -> "UnitOfWork":
        self.conn = self.batch.conn if self.batch is not None else open_transaction(self.store.engine, self._lane)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.batch is not None:
            if not self._committed and self._savepoint is not None and self._savepoint.is_active:
                self._savepoint.rollback()
            return
        # A use case's own refusal (a HubError, raised before anything was written or
        # after its statements ran) leaves the connection fine for the next one.
        end_transaction(self.conn, self._lane, ok=exc is None or isinstance(exc, HubError))

    def writer(self) -> sa.Connection:
        """The connection, ready for statements of the use case's own: its buffered rows
        written first (so that they are seen), and in a batch its savepoint open, after
        the earlier use cases' rows (so that its rollback cannot undo them)."""
        if self.batch is not None and self._savepoint is None:
            self.batch.pending.write_rows(self.conn)
            self._savepoint = self.conn.begin_nested()
        self.pending.write_rows(self.conn)
        return self.conn

    def commit(self) -> None:
        if self.batch is None:
            self.pending.write_all(self.conn, self.store.relay)
            self.conn.commit()
        else:
            # The batch's later use cases find this one's answers, once they are sure to
            # be part of the batch: taken before its rows are written (which empties the
            # buffer), handed on only after its savepoint held (a twin in another
            # transaction may take the request id first, and an answer from a rolled-back
            # savepoint must never be replayed).
            answers = [((r["client_id"], r["request_id"]), StoredResponse(r["rpc"], r["fingerprint"], r["response"]))
                       for r in self.pending.idempotency]
            if self._savepoint is not None:
                self.pending.write_rows(self.conn)
                self._savepoint.commit()
            self.batch.responses.update(answers)
            self.batch.pending.absorb(self.pending)
        self._committed = True
