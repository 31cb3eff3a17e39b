"""Reading the append-only event log, and the durable subscriptions' cursors."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import sqlalchemy as sa

from hub.store import tables as t


def read(conn: sa.Connection, *, after: int, municipalities: Iterable[str] | None, event_types: Iterable[str] = (),
         municipality_codes: Iterable[str] = (), benefit_codes: Iterable[str] = (),
         benefits: Iterable[str] | None = None, sensitivities: Iterable[str] | None = None,
         limit: int = 500) -> tuple[list[dict[str, Any]], int]:
    """Matching events after `after`, in sequence order, each with its case's
    sensitivity, and how far the log was read (the last sequence looked at, matching or
    not). `municipalities`, `benefits` and `sensitivities` are the caller's data limits
    (None: no limit)."""
    e = t.events.c
    window = list(conn.execute(sa.select(e.seq).where(e.seq > after).order_by(e.seq).limit(limit)).scalars())
    if not window:
        return [], after
    last = window[-1]
    sensitivity = sa.func.coalesce(t.cases.c.sensitivity, "NOT_CONFIDENTIAL")
    q = (sa.select(t.events, sensitivity.label("sensitivity"))
         .select_from(t.events.outerjoin(t.cases, t.cases.c.case_id == e.case_id))
         .where(e.seq > after, e.seq <= last))
    if municipalities is not None:  # None: the whole log (the caller filters)
        q = q.where(e.municipality_code.in_(list(municipalities)))
    if benefits is not None:
        q = q.where(e.benefit_code.in_(list(benefits)))
    if sensitivities is not None:
        q = q.where(sensitivity.in_(list(sensitivities)))
    if event_types:
        q = q.where(e.type.in_(list(event_types)))
    if municipality_codes:
        q = q.where(e.municipality_code.in_(list(municipality_codes)))
    if benefit_codes:
        q = q.where(e.benefit_code.in_(list(benefit_codes)))
    return [dict(r._mapping) for r in conn.execute(q.order_by(e.seq))], last


def last_sequence(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.seq), 0))).scalar_one()


def subscription(conn: sa.Connection, client_id: str, name: str) -> dict[str, Any] | None:
    s = t.subscriptions.c
    r = conn.execute(sa.select(t.subscriptions).where(s.client_id == client_id, s.name == name)).first()
    return dict(r._mapping) if r else None


def create_subscription(conn: sa.Connection, client_id: str, name: str, filter_: dict[str, list[str]],
                        after: int, now: dt.datetime) -> None:
    conn.execute(t.subscriptions.insert().values(client_id=client_id, name=name, filter=filter_, acked_seq=after,
                                                 created_at=now, updated_at=now))


def ack(conn: sa.Connection, client_id: str, name: str, sequence: int, now: dt.datetime) -> None:
    """The cursor only moves forward."""
    s = t.subscriptions.c
    conn.execute(sa.update(t.subscriptions)
                 .where(s.client_id == client_id, s.name == name, s.acked_seq < sequence)
                 .values(acked_seq=sequence, updated_at=now))
