"""The statistics' totals: folding the event log into them, and reading them back.

Events are sequenced in commit order without gaps (hub.store.transaction), so "every
event up to sequence N" is a fixed set once N is committed: the fold reads the events
after its checkpoint in order, adds them to the totals and moves the checkpoint, in one
transaction that holds the checkpoint row (two folders never fold the same event). A
reader gets the totals and the checkpoint in one statement (one snapshot, also on
PostgreSQL's read committed) and adds the events after the checkpoint itself."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from hub.domain import statistics as stats
from hub.store import tables as t
from hub.store.db import dialect_insert
from hub.store.prepared import Query, driver_execute
from hub.store.repositories import Repository

CHECKPOINT = "events"
_BEFORE = ""  # the bucket of what happened before the range (the backlog's start)

_e = t.events.c
_events_read = (sa.select(_e.seq, _e.type, _e.municipality_code, _e.benefit_code, _e.occurred_at, _e.payload)
                .where(_e.type.in_([sa.literal_column(f"'{x}'") for x in stats.FOLDED_TYPES])).order_by(_e.seq))
# The fold's read, compiled once (it reads 20,000 events at a time).
_FOLD_READ = Query(_events_read.where(_e.seq > sa.bindparam("after")).limit(sa.bindparam("limit")))
_UPSERT = ("INSERT INTO statistics_daily (municipality_code, benefit_code, day, metric, month, value) {values} "
           "ON CONFLICT (municipality_code, benefit_code, day, metric) "
           "DO UPDATE SET value = statistics_daily.value + excluded.value")


class Statistics(Repository):
    def checkpoint(self, *, lock_at: dt.datetime | None = None) -> int:
        """How far the log has been folded; `lock_at`: held for a fold (made if missing)."""
        c = self._c
        k = t.statistics_checkpoint.c
        lock = lock_at is not None
        if lock:
            c.execute(dialect_insert(c, t.statistics_checkpoint).on_conflict_do_nothing(),
                      dict(name=CHECKPOINT, seq=0, updated_at=lock_at))
        q = sa.select(k.seq).where(k.name == CHECKPOINT)
        if lock and self._locks:
            q = q.with_for_update()
        return c.execute(q).scalar_one_or_none() or 0

    def events_after(self, after: int, limit: int | None, *, municipality_code: str = "",
                     benefit_codes: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The events after sequence `after` that the fold reads, in order (at most
        `limit`), of one municipality and some benefits if given."""
        if limit is not None and not municipality_code and benefit_codes is None:
            return [r._asdict() for r in _FOLD_READ.all(self._c, after=after, limit=limit)]
        e = t.events.c
        q = _events_read.where(e.seq > after)
        if municipality_code:
            q = q.where(e.municipality_code == municipality_code)
        if benefit_codes is not None:
            q = q.where(e.benefit_code.in_(list(benefit_codes)))
        if limit is not None:
            q = q.limit(limit)
        return [dict(r._mapping) for r in self._c.execute(q)]

    def last_sequence(self) -> int:
        return self._c.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.seq), 0))).scalar_one()

    def add(self, changes: dict[tuple[str, str, dt.date, str], int], through: int, now: dt.datetime) -> None:
        """Add folded changes to the totals and move the checkpoint to `through`."""
        c = self._c
        rows = [(m, b, d, metric, f"{d.year:04d}-{d.month:02d}", v) for (m, b, d, metric), v in changes.items()]
        if rows and c.dialect.name == "postgresql":
            # One statement of arrays, not a statement per row.
            driver_execute(c, _UPSERT.format(values="SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::date[], "
                                                     "%s::varchar[], %s::varchar[], %s::bigint[])"),
                           tuple(list(column) for column in zip(*rows)))
        elif rows:
            driver_execute(c, _UPSERT.format(values="VALUES (?, ?, ?, ?, ?, ?)"),
                           [(m, b, d.isoformat(), metric, month, v) for m, b, d, metric, month, v in rows], many=True)
        k = t.statistics_checkpoint.c
        c.execute(sa.update(t.statistics_checkpoint).where(k.name == CHECKPOINT).values(seq=through, updated_at=now))

    def reset(self) -> None:
        c = self._c
        c.execute(sa.delete(t.statistics_daily))
        c.execute(sa.delete(t.statistics_checkpoint))

    def totals(self, municipality_code: str, benefit_codes: Sequence[str], first_day: dt.date, last_day: dt.date
               ) -> tuple[list[tuple[str, str, int]], int]:
        """Summed totals of one municipality key ("*": national) over some benefit keys:
        (month, metric, amount) for the days from `first_day` to `last_day`, and
        ("", backlog metric, amount) for everything before; and the checkpoint they
        stand at. One statement: one snapshot."""
        d = t.statistics_daily.c
        base = (d.municipality_code == municipality_code, d.benefit_code.in_(list(benefit_codes)))
        inside = (sa.select(d.month.label("bucket"), d.metric, sa.func.sum(d.value).label("amount"))
                  .where(*base, d.day >= first_day, d.day <= last_day).group_by(d.month, d.metric))
        before = (sa.select(sa.literal(_BEFORE).label("bucket"), d.metric, sa.func.sum(d.value).label("amount"))
                  .where(*base, d.metric.in_([stats.BACKLOG + p for p in stats.OPEN_PHASES]), d.day < first_day,
                         d.day <= last_day)
                  .group_by(d.metric))
        k = t.statistics_checkpoint.c
        mark = sa.select(sa.literal("#").label("bucket"), sa.literal("checkpoint").label("metric"),
                         k.seq.label("amount")).where(k.name == CHECKPOINT)
        rows, through = [], 0
        for bucket, metric, amount in self._c.execute(sa.union_all(inside, before, mark)):
            if bucket == "#":
                through = int(amount)
            else:
                rows.append((bucket, metric, int(amount)))
        return rows, through


def rows_of(changes: dict[tuple[str, str, dt.date, str], int], municipality_code: str,
            benefit_codes: Iterable[str], first_day: dt.date, last_day: dt.date) -> list[tuple[str, str, int]]:
    """Folded changes not in the totals yet, as `Statistics.totals` gives its rows."""
    wanted = set(benefit_codes)
    out = []
    for (m, b, day, metric), amount in changes.items():
        if m != municipality_code or b not in wanted or day > last_day:
            continue
        if day >= first_day:
            out.append((f"{day.year:04d}-{day.month:02d}", metric, amount))
        elif metric.startswith(stats.BACKLOG):
            out.append((_BEFORE, metric, amount))
    return out
