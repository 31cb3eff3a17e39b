"""Reading and verifying the hash-chained audit log, and keeping its head outside the database."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa

from hub.domain.audit import FIELDS, GENESIS, entry_hash, head_line, parse_kept
from hub.domain.identity import Role
from hub.store import tables as t


@dataclass(frozen=True)
class Verification:
    entries: int
    problem: str | None = None   # the first broken link, in words
    seq: int | None = None       # where it is

    @property
    def ok(self) -> bool:
        return self.problem is None


# What reading a row can raise when a value in it is not one the hub writes (SQLite
# keeps any text in a column; PostgreSQL keeps 'infinity' in a timestamp, which the
# driver cannot load). Anything else (the database went away) is not the log's fault.
_UNREADABLE = (ValueError, TypeError, OverflowError, sa.exc.DataError)


def verify(conn: sa.Connection, *, chunk: int = 5000, kept: Mapping[int, str] | None = None) -> Verification:
    """Walk the chain from the first entry: each entry in its place, readable, linked to
    the one before, with the hash of its content; and the head at the last entry. The
    first break is reported, naming the entry; this never raises for what is in the log.

    `kept`: heads kept outside the database (seq -> hash, see hub.domain.audit): the
    log must still have each, so that a tail rewritten with every hash computed again
    is found too."""
    a = t.audit_log.c
    kept = dict(kept or {})
    expected, prev, count, last_kept = 1, GENESIS, 0, 0
    while True:
        rows = _read(conn, sa.select(t.audit_log).where(a.seq >= expected).order_by(a.seq).limit(chunk))
        seqs = [r["seq"] for r in rows] if rows is not None else list(
            conn.execute(sa.select(a.seq).where(a.seq >= expected).order_by(a.seq).limit(chunk)).scalars())
        for i, seq in enumerate(seqs):
            if seq != expected:
                return Verification(count, f"entry {expected} is missing (deleted?)", expected)
            row = rows[i] if rows is not None else _read_one(conn, seq)
            if isinstance(row, str):
                return Verification(count, f"entry {expected} cannot be read: {row}", expected)
            if row["prev_hash"] != prev:
                return Verification(count, f"entry {expected} is not linked to entry {expected - 1}", expected)
            try:
                digest = entry_hash(prev, row)
            except _UNREADABLE:
                return Verification(count, f"entry {expected} cannot be read: {_unhashable(row)}", expected)
            if digest != row["hash"]:
                return Verification(count, f"entry {expected} does not match its hash (changed?)", expected)
            if expected in kept:
                if kept[expected] != digest:
                    since = f" (after entry {last_kept}, the last kept head it still has)" if last_kept else ""
                    return Verification(count, f"entry {expected} is not the one kept as the head then: the log was "
                                               f"rewritten at or before it{since}", expected)
                last_kept = expected
            prev, expected, count = row["hash"], expected + 1, count + 1
        if len(seqs) < chunk:
            break
    head = conn.execute(sa.select(t.audit_chain.c.seq, t.audit_chain.c.hash).where(t.audit_chain.c.id == 1)).first()
    if head is None:
        return Verification(count, "the log's head (audit_chain) is missing (deleted?)", count + 1)
    head_seq, head_hash = head
    if head_seq != count:
        return Verification(count, f"the log ends at entry {count} but its head is at entry {head_seq} "
                                   f"(entries deleted at the end?)", count + 1)
    if head_hash != prev:
        return Verification(count, "the head does not match the last entry", count)
    beyond = [seq for seq in kept if seq > count]
    if beyond:
        return Verification(count, f"the log ends at entry {count}, before the head kept at entry {min(beyond)} "
                                   f"(entries deleted at the end, and the head moved back?)", count + 1)
    return Verification(count)


def head(conn: sa.Connection) -> tuple[int, str, dt.datetime | None]:
    """The chain's head: (seq, hash, time of that entry; None before the first)."""
    seq, hash_ = conn.execute(sa.select(t.audit_chain.c.seq, t.audit_chain.c.hash)
                              .where(t.audit_chain.c.id == 1)).one()
    at = conn.execute(sa.select(t.audit_log.c.at).where(t.audit_log.c.seq == seq)).scalar() if seq else None
    return seq, hash_, at


def publish_head(engine: sa.Engine, path: str, last: str | None = None) -> str | None:
    """Append the head's line (hub.domain.audit.head_line) to the file at `path` unless
    it is `last` (the head has not moved) or the log is empty; flushed to the disk.
    Returns the head's line."""
    with engine.connect() as conn:
        seq, hash_, at = head(conn)
    if seq == 0:
        return last
    line = head_line(seq, hash_, at)
    if line != last:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
    return line


def read_kept(lines: Iterable[str]) -> dict[int, str]:
    """Kept heads from a file's lines (blank lines and # comments skipped). ValueError
    naming the line for one that is not a kept head, or two that disagree."""
    kept: dict[int, str] = {}
    for number, text in enumerate(lines, 1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            seq, hash_ = parse_kept(text)
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from None
        if kept.setdefault(seq, hash_) != hash_:
            raise ValueError(f"line {number}: another line keeps another hash for entry {seq}")
    return kept


def _read(conn: sa.Connection, query) -> list[dict[str, Any]] | None:
    """The rows, or None when a value in them cannot be read."""
    result = conn.execute(query)
    try:
        return [dict(r) for r in result.mappings()]
    except _UNREADABLE:
        result.close()  # (SQLite: a statement left open would hold its read snapshot)
        return None


def _read_one(conn: sa.Connection, seq: int) -> dict[str, Any] | str:
    """The entry at `seq`, or which of its fields cannot be read, in words (never the
    values: one may be a CPR number)."""
    a = t.audit_log.c
    rows = _read(conn, sa.select(t.audit_log).where(a.seq == seq))
    if rows:
        return rows[0]
    bad = [column.name for column in t.audit_log.c if _read(conn, sa.select(column).where(a.seq == seq)) is None]
    return f"{', '.join(bad) or 'a field'} is not a value the hub writes (changed outside the hub?)"


def _unhashable(row: dict[str, Any]) -> str:
    bad = []
    for name in FIELDS:
        try:
            entry_hash(GENESIS, {name: row.get(name)})
        except _UNREADABLE:
            bad.append(name)
    return f"{', '.join(bad) or 'a field'} is not a value the hub writes (changed outside the hub?)"


# Where each kind of thing a request names (hub.api.servicers.CASE_OBJECTS) keeps its case.
_OWNERS = {"decision_id": t.decisions.c.decision_id, "complaint_id": t.complaints.c.complaint_id,
           "hearing_id": t.hearings.c.hearing_id, "claim_id": t.claims.c.claim_id,
           "end_to_end_id": t.payment_orders.c.end_to_end_id, "message_id": t.outbox.c.message_id,
           "finding_id": t.control_findings.c.finding_id}
# At most this many things named are looked up for one refusal (the longest list a
# valid request holds: ReportSettlement's 1,000): a refused request is not checked
# for its size, and one entry is written for each case it names.
MAX_NAMED = 1000
_CHUNK = 500


def cases_named(conn: sa.Connection, named: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The cases that what a request named ((field, id) pairs) belongs to, with their
    citizens' CPR numbers (case id -> CPR), in the order named; what does not exist is
    left out. Whether the caller may see them is not asked: this is for the audit log."""
    named = list(named)[:MAX_NAMED]
    owner: dict[tuple[str, str], str] = {}
    for kind in {k for k, _ in named if k in _OWNERS}:
        column = _OWNERS[kind]
        ids = list(dict.fromkeys(v for k, v in named if k == kind))
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(sa.select(column, column.table.c.case_id).where(column.in_(ids[start:start + _CHUNK])))
            owner.update(((kind, value), case_id) for value, case_id in rows if case_id)
    case_ids = list(dict.fromkeys(v if k == "case_id" else owner.get((k, v)) for k, v in named))
    case_ids = [c for c in case_ids if c]
    cprs: dict[str, str] = {}
    for start in range(0, len(case_ids), _CHUNK):
        rows = conn.execute(sa.select(t.cases.c.case_id, t.cases.c.cpr)
                            .where(t.cases.c.case_id.in_(case_ids[start:start + _CHUNK])))
        cprs.update((case_id, cpr) for case_id, cpr in rows)
    return {c: cprs[c] for c in case_ids if c in cprs}


CITIZEN_PORTAL = Role.CITIZEN_PORTAL.value


def entries(conn: sa.Connection, *, case_id: str = "", client_id: str = "", cpr: str = "",
            since: dt.datetime | None = None, until: dt.datetime | None = None, after_seq: int = 0,
            limit: int = 50, others_only: bool = False) -> list[dict[str, Any]]:
    """`others_only`: without the citizen's own looks through the portal (by_citizen)."""
    a = t.audit_log.c
    q = sa.select(t.audit_log).where(a.seq > after_seq)
    if others_only:
        q = q.where(sa.not_(sa.and_(a.role == CITIZEN_PORTAL, a.outcome == "OK")))
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
