"""The append-only records a use case leaves: events (and durable subscriptions to
them), the audit log, stored responses for idempotency."""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import sqlalchemy as sa

from hub.domain.audit import AuditEntry
from hub.domain.identity import Scope
from hub.domain.model import Event
from hub.store import audit as audit_store
from hub.store import tables as t
from hub.store.repositories import Repository
from hub.store.scoping import limits
from hub.store.transaction import STORED_RESPONSE, StoredResponse, stored


class Events(Repository):
    def record(self, event: Event) -> None:
        """Sequenced and written at commit, last (sequence order is commit order)."""
        self._uow.pending.events.append(event)

    def for_case(self, case_id: str) -> list[dict[str, Any]]:
        e = t.events.c
        return [dict(r._mapping) for r in self._c.execute(sa.select(t.events).where(e.case_id == case_id)
                                                          .order_by(e.seq))]

    def last_sequence(self) -> int:
        return self._uow.conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.seq), 0))).scalar_one()

    def read(self, scope: Scope | None, *, after: int, event_types: Sequence[str] = (),
             municipality_codes: Sequence[str] = (), benefit_codes: Sequence[str] = (),
             limit: int = 500) -> tuple[list[dict[str, Any]], int]:
        """Matching events after `after`, in sequence order, each with its case's
        sensitivity, and how far the log was read (the last sequence looked at,
        matching or not). `scope` None: the whole log (the caller applies the limits)."""
        conn = self._uow.conn
        e = t.events.c
        window = list(conn.execute(sa.select(e.seq).where(e.seq > after).order_by(e.seq).limit(limit)).scalars())
        if not window:
            return [], after
        last = window[-1]
        sensitivity = sa.func.coalesce(t.cases.c.sensitivity, "NOT_CONFIDENTIAL")
        q = (sa.select(t.events, sensitivity.label("sensitivity"))
             .select_from(t.events.outerjoin(t.cases, t.cases.c.case_id == e.case_id))
             .where(e.seq > after, e.seq <= last))
        if scope is not None:  # an event's municipality and benefit are its case's
            q = q.where(e.municipality_code.in_(sorted(scope.municipalities)),
                        *limits(scope, benefit_code=e.benefit_code, sensitivity=sensitivity))
        for column, values in ((e.type, event_types), (e.municipality_code, municipality_codes),
                               (e.benefit_code, benefit_codes)):
            if values:
                q = q.where(column.in_(list(values)))
        return [dict(r._mapping) for r in conn.execute(q.order_by(e.seq))], last


class Subscriptions(Repository):
    """Durable subscriptions: a client's named filter and how far it has acknowledged."""

    def get(self, client_id: str, name: str) -> dict[str, Any] | None:
        s = t.subscriptions.c
        r = self._uow.conn.execute(sa.select(t.subscriptions).where(s.client_id == client_id, s.name == name)).first()
        return dict(r._mapping) if r else None

    def add(self, client_id: str, name: str, filter_: dict[str, list[str]], after: int, now: dt.datetime) -> None:
        self._c.execute(t.subscriptions.insert().values(client_id=client_id, name=name, filter=filter_,
                                                        acked_seq=after, created_at=now, updated_at=now))

    def ack(self, client_id: str, name: str, sequence: int, now: dt.datetime) -> None:
        """The cursor only moves forward."""
        s = t.subscriptions.c
        self._c.execute(sa.update(t.subscriptions)
                        .where(s.client_id == client_id, s.name == name, s.acked_seq < sequence)
                        .values(acked_seq=sequence, updated_at=now))


class Audit(Repository):
    def add(self, entry: AuditEntry) -> None:
        """Chained and written at commit."""
        self._uow.pending.audit.append(entry.__dict__)

    def entries(self, *, case_id: str = "", client_id: str = "", cpr: str = "", since: dt.datetime | None = None,
                until: dt.datetime | None = None, after_seq: int = 0, limit: int = 50,
                others_only: bool = False) -> list[dict[str, Any]]:
        return audit_store.entries(self._c, case_id=case_id, client_id=client_id, cpr=cpr, since=since, until=until,
                                   after_seq=after_seq, limit=limit, others_only=others_only)

    def cases_named(self, named: Sequence[tuple[str, str]]) -> dict[str, str]:
        return audit_store.cases_named(self._c, named)


class Idempotency(Repository):
    """The first response to each (client, request id), replayed to a retry."""

    def stored(self, client_id: str, request_id: str) -> StoredResponse | None:
        batch = self._uow.batch
        if batch is not None and (client_id, request_id) in batch.responses:
            return batch.responses[(client_id, request_id)]
        row = STORED_RESPONSE.first(self._uow.conn, client_id=client_id, request_id=request_id)
        return stored(row) if row else None

    def remember(self, client_id: str, request_id: str, rpc: str, fingerprint: str, response: bytes,
                 at: dt.datetime) -> None:
        self._uow.pending.idempotency.append(dict(client_id=client_id, request_id=request_id, rpc=rpc,
                                                  fingerprint=fingerprint, response=response, created_at=at))
