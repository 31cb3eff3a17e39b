"""Reading and verifying the hash-chained audit log."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hub.domain.audit import GENESIS, entry_hash
from hub.store import tables as t


@dataclass(frozen=True)
class Verification:
    entries: int
    problem: str | None = None   # the first broken link, in words
    seq: int | None = None       # where it is

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(conn: sa.Connection, *, chunk: int = 5000) -> Verification:
    """Walk the chain from the first entry: each entry in its place, linked to the one
    before, with the hash of its content; and the head at the last entry."""
    a = t.audit_log.c
    expected, prev, count = 1, GENESIS, 0
    while True:
        rows = conn.execute(sa.select(t.audit_log).where(a.seq >= expected).order_by(a.seq).limit(chunk)).mappings()
        rows = list(rows)
        for r in rows:
            if r["seq"] != expected:
                return Verification(count, f"entry {expected} is missing (deleted?)", expected)
            if r["prev_hash"] != prev:
                return Verification(count, f"entry {expected} is not linked to entry {expected - 1}", expected)
            if entry_hash(prev, dict(r)) != r["hash"]:
                return Verification(count, f"entry {expected} does not match its hash (changed?)", expected)
            prev, expected, count = r["hash"], expected + 1, count + 1
        if len(rows) < chunk:
            break
    head_seq, head_hash = conn.execute(sa.select(t.audit_chain.c.seq, t.audit_chain.c.hash)
                                       .where(t.audit_chain.c.id == 1)).one()
    if head_seq != count:
        return Verification(count, f"the log ends at entry {count} but its head is at entry {head_seq} "
                                   f"(entries deleted at the end?)", count + 1)
    if head_hash != prev:
        return Verification(count, "the head does not match the last entry", count)
    return Verification(count)


def entries(conn: sa.Connection, *, case_id: str = "", client_id: str = "", cpr: str = "",
            since: dt.datetime | None = None, until: dt.datetime | None = None, after_seq: int = 0,
            limit: int = 50) -> list[dict[str, Any]]:
    a = t.audit_log.c
    q = sa.select(t.audit_log).where(a.seq > after_seq)
    if case_id:
        q = q.where(a.case_id == case_id)
    if client_id:
        q = q.where(a.client_id == client_id)
    if cpr:
        q = q.where(a.cpr == cpr)
    if since:
        q = q.where(a.at >= since)
    if until:
        q = q.where(a.at < until)
    return [dict(r) for r in conn.execute(q.order_by(a.seq).limit(limit)).mappings()]
