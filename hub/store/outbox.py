"""Outbox queries for the dispatcher and the operators.

Claiming is a lease: a message is taken by setting claimed_by and claim_expires_at in a
short transaction; on PostgreSQL the candidate rows are locked FOR UPDATE SKIP LOCKED so
that concurrent dispatchers take different messages, on SQLite the transaction holds
the database's write lock (BEGIN IMMEDIATE). A message whose lease has expired (its
dispatcher died) can be claimed again. A later message for the same case and
destination is not claimable while an earlier one is undelivered (pending or dead).

A probe is a claim too: one message of a destination whose messages back off (failed
at least once, next attempt in the future), taken before its time to find out whether
the destination answers again; if it does, `make_due` lets the rest go now."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

import sqlalchemy as sa

from hub.domain.model import OutboxMessage
from hub.store import tables as t
from hub.store.repositories import Repository

PENDING, DELIVERED, DEAD = "PENDING", "DELIVERED", "DEAD"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    message_id: str
    destination: str
    case_id: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    last_error: str | None
    claimed_by: str | None
    claim_expires_at: dt.datetime | None
    delivered_at: dt.datetime | None
    dead_at: dt.datetime | None


def _row(r) -> OutboxRow:
    return OutboxRow(r.id, r.message_id, r.destination, r.case_id, r.payload, r.status, r.attempts, r.created_at,
                     r.next_attempt_at, r.last_error, r.claimed_by, r.claim_expires_at, r.delivered_at, r.dead_at)


def _earlier_undelivered(o) -> sa.Exists:
    """An earlier message for the same case and destination is not delivered yet."""
    p = t.outbox.alias("p")
    return sa.exists(sa.select(sa.literal(1)).select_from(p)
                     .where(p.c.case_id == o.c.case_id, p.c.destination == o.c.destination,
                            p.c.id < o.c.id, p.c.status != DELIVERED))


def _backing_off(c, now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(c.status == PENDING, c.next_attempt_at > now, c.attempts > 0)


class Outbox(Repository):
    """Messages to other systems: written with their cause, claimed and recorded by the
    dispatchers, looked at and replayed by operators."""

    def add(self, m: OutboxMessage, at: dt.datetime) -> None:
        """Written at commit, with the change that caused it."""
        self._uow.pending.outbox.append(dict(
            message_id=m.message_id, destination=m.destination, case_id=m.case_id,
            payload=m.payload, created_at=at, next_attempt_at=at, status="PENDING", attempts=0))

    def paused_destinations(self) -> set[str]:
        conn = self._c
        d = t.destinations.c
        return set(conn.execute(sa.select(d.name).where(d.paused.is_(True))).scalars())

    def _take(self, ids: list[int], dispatcher_id: str, lease_until: dt.datetime) -> list[OutboxRow]:
        conn = self._c
        c = t.outbox.c
        conn.execute(sa.update(t.outbox).where(c.id.in_(ids))
                     .values(claimed_by=dispatcher_id, claim_expires_at=lease_until))
        return [_row(r) for r in conn.execute(sa.select(t.outbox).where(c.id.in_(ids)).order_by(c.id))]

    def claim(self, *, dispatcher_id: str, now: dt.datetime, lease_until: dt.datetime, limit: int,
              destinations: Iterable[str]) -> list[OutboxRow]:
        conn = self._c
        o = t.outbox.alias("o")
        wanted = sorted(set(destinations) - self.paused_destinations())
        if not wanted:
            return []
        q = (sa.select(o.c.id)
             .where(o.c.status == PENDING, o.c.next_attempt_at <= now, o.c.destination.in_(wanted),
                    sa.or_(o.c.claim_expires_at.is_(None), o.c.claim_expires_at <= now),
                    ~_earlier_undelivered(o))
             .order_by(o.c.id).limit(limit))
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(of=o, skip_locked=True)
        ids = list(conn.execute(q).scalars())
        return self._take(ids, dispatcher_id, lease_until) if ids else []

    def backing_off_destinations(self, now: dt.datetime, destinations: Iterable[str]) -> list[str]:
        """Which of `destinations` have messages backing off (a range of the due index)."""
        conn = self._c
        c = t.outbox.c
        return sorted(conn.execute(sa.select(c.destination).distinct()
                                   .where(_backing_off(c, now), c.destination.in_(sorted(destinations)))).scalars())

    def claim_probe(self, *, dispatcher_id: str, now: dt.datetime, lease_until: dt.datetime,
                    destination: str) -> OutboxRow | None:
        """Claim one backing-off message of `destination` to probe it with: of those the
        per-case order lets go (no earlier one of its case undelivered), the one due first.
        None while a failed message of the destination is out under a live lease (another
        dispatcher's probe, or a retry on its schedule: that finds out as well). Concurrent
        claims (PostgreSQL) may still take two different messages; never the same one."""
        conn = self._c
        o, q = t.outbox.alias("o"), t.outbox.alias("q")
        in_flight = sa.exists(sa.select(sa.literal(1)).select_from(q)
                              .where(q.c.destination == destination, q.c.status == PENDING, q.c.attempts > 0,
                                     q.c.claim_expires_at > now))
        query = (sa.select(o.c.id)
                 .where(o.c.destination == destination, _backing_off(o.c, now),
                        sa.or_(o.c.claim_expires_at.is_(None), o.c.claim_expires_at <= now),
                        ~_earlier_undelivered(o), ~in_flight)
                 .order_by(o.c.next_attempt_at, o.c.id).limit(1))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=o, skip_locked=True)
        ids = list(conn.execute(query).scalars())
        return self._take(ids, dispatcher_id, lease_until)[0] if ids else None

    def make_due(self, destination: str, now: dt.datetime) -> int:
        """The destination's backing-off messages due now (their attempts stay counted).
        Returns how many."""
        conn = self._c
        c = t.outbox.c
        if conn.dialect.name != "postgresql":  # (SQLite: the transaction holds the database's write lock)
            return conn.execute(sa.update(t.outbox).where(c.destination == destination, _backing_off(c, now))
                                .values(next_attempt_at=now)).rowcount
        # Locked in id order, skipping rows another transaction holds (a dispatcher
        # recording their outcome, or making them due itself): two dispatchers recovering
        # one destination at once would otherwise lock each other's rows in two orders.
        ids = list(conn.execute(sa.select(c.id).where(c.destination == destination, _backing_off(c, now))
                                .order_by(c.id).with_for_update(skip_locked=True)).scalars())
        if not ids:
            return 0
        return conn.execute(sa.update(t.outbox).where(c.id.in_(ids)).values(next_attempt_at=now)).rowcount

    def mark_delivered(self, row_ids: list[int], dispatcher_id: str, now: dt.datetime) -> set[int]:
        """Returns the ids marked; one missing had its lease lost meanwhile (another
        dispatcher owns that message now)."""
        conn = self._c
        if not row_ids:
            return set()
        c = t.outbox.c
        res = conn.execute(sa.update(t.outbox)
                           .where(c.id.in_(row_ids), c.claimed_by == dispatcher_id, c.status == PENDING)
                           .values(status=DELIVERED, delivered_at=now, attempts=c.attempts + 1, last_error=None,
                                   claimed_by=None, claim_expires_at=None)
                           .returning(c.id))
        return set(res.scalars())

    def mark_failed(self, row_id: int, dispatcher_id: str, now: dt.datetime, error: str, *,
                    dead: bool, next_attempt_at: dt.datetime) -> bool:
        conn = self._c
        c = t.outbox.c
        values: dict[str, Any] = dict(attempts=c.attempts + 1, last_error=error[:2000], claimed_by=None,
                                      claim_expires_at=None, next_attempt_at=next_attempt_at)
        if dead:
            values.update(status=DEAD, dead_at=now)
        res = conn.execute(sa.update(t.outbox)
                           .where(c.id == row_id, c.claimed_by == dispatcher_id, c.status == PENDING).values(**values))
        return res.rowcount == 1

    def probe_failed(self, row_id: int, dispatcher_id: str, error: str) -> bool:
        """A probe that did not get through: its message keeps its attempts and its place in
        its own backoff; only the error is recorded."""
        conn = self._c
        c = t.outbox.c
        res = conn.execute(sa.update(t.outbox).where(c.id == row_id, c.claimed_by == dispatcher_id, c.status == PENDING)
                           .values(last_error=f"probe: {error}"[:2000], claimed_by=None, claim_expires_at=None))
        return res.rowcount == 1

    def release(self, row_ids: list[int], dispatcher_id: str) -> None:
        """Give back claimed messages that were not tried."""
        conn = self._c
        if row_ids:
            c = t.outbox.c
            conn.execute(sa.update(t.outbox).where(c.id.in_(row_ids), c.claimed_by == dispatcher_id)
                         .values(claimed_by=None, claim_expires_at=None))

    def replay(self, *, now: dt.datetime, message_id: str = "", destination: str = "") -> int:
        """Dead letters back to pending, due now, with a fresh attempt count. The attempts
        and errors so far stay in last_error's history only as the last one."""
        conn = self._c
        c = t.outbox.c
        q = sa.update(t.outbox).where(c.status == DEAD)
        if message_id:
            q = q.where(c.message_id == message_id)
        if destination:
            q = q.where(c.destination == destination)
        return conn.execute(q.values(status=PENDING, attempts=0, next_attempt_at=now, dead_at=None,
                                     claimed_by=None, claim_expires_at=None)).rowcount

    def set_paused(self, destination: str, paused: bool, now: dt.datetime, by: str) -> None:
        conn = self._c
        d = t.destinations.c
        if conn.execute(sa.select(d.name).where(d.name == destination)).first():
            conn.execute(sa.update(t.destinations).where(d.name == destination)
                         .values(paused=paused, changed_at=now, changed_by=by))
        else:
            conn.execute(t.destinations.insert().values(name=destination, paused=paused, changed_at=now, changed_by=by))

    def list_messages(self, *, status: str = "", destination: str = "", after_id: int = 0,
                      limit: int = 50) -> list[OutboxRow]:
        conn = self._c
        c = t.outbox.c
        q = sa.select(t.outbox).where(c.id > after_id)
        if status:
            q = q.where(c.status == status)
        if destination:
            q = q.where(c.destination == destination)
        return [_row(r) for r in conn.execute(q.order_by(c.id).limit(limit))]

    def for_case(self, case_id: str, destination: str) -> list[OutboxRow]:
        """A case's messages to one destination, oldest first (the citizen's letters)."""
        c = t.outbox.c
        return [_row(r) for r in self._c.execute(sa.select(t.outbox).where(c.case_id == case_id,
                                                                           c.destination == destination)
                                                 .order_by(c.id))]

    def list_messages_by_id(self, message_id: str) -> OutboxRow | None:
        conn = self._c
        r = conn.execute(sa.select(t.outbox).where(t.outbox.c.message_id == message_id)).first()
        return _row(r) if r else None

    def summary(self) -> list[dict[str, Any]]:
        """Per destination: pending and dead counts, the oldest pending message's age."""
        conn = self._c
        c = t.outbox.c
        rows = conn.execute(sa.select(c.destination, c.status, sa.func.count(), sa.func.min(c.created_at))
                            .where(c.status != DELIVERED).group_by(c.destination, c.status))
        out: dict[str, dict[str, Any]] = {}
        for dest, status, n, oldest in rows:
            e = out.setdefault(dest, dict(destination=dest, pending=0, dead=0, oldest_pending=None))
            if status == PENDING:
                e.update(pending=n, oldest_pending=oldest)
            else:
                e["dead"] = n
        paused = self.paused_destinations()
        for dest in paused:
            out.setdefault(dest, dict(destination=dest, pending=0, dead=0, oldest_pending=None))
        for e in out.values():
            e["paused"] = e["destination"] in paused
        return sorted(out.values(), key=lambda e: e["destination"])
