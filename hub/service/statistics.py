"""Management information: the figures of a municipality (or the nation) month by month,
read from the event log's running totals plus the events not folded into them yet; and
the fold that keeps the totals (the dispatcher's loop runs it every few seconds;
`hub statistics rebuild` runs it over the whole log)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import structlog

from hub.domain import months
from hub.domain import statistics as stats
from hub.domain.errors import NotFound, PermissionDenied
from hub.domain.identity import Identity
from hub.store.statistics import rows_of
from hub.store.uow import UnitOfWork

log = structlog.get_logger("hub.statistics")
FOLD_CHUNK = 20_000  # events per fold transaction


@dataclass(frozen=True)
class StatisticsAnswer:
    municipality_code: str
    benefit_code: str
    as_of: dt.date
    months: list[stats.MonthFigures]
    total: stats.MonthFigures


def get_statistics(uow: UnitOfWork, identity: Identity, q: stats.StatisticsQuery,
                   now: dt.datetime) -> StatisticsAnswer:
    """A municipality's figures (one the caller acts for) or the national ones, for the
    caller's benefits, as they stood at the end of `q.as_of_date` (default: now)."""
    first, last, as_of = q.validated(stats.day_of(now))
    if q.municipality_code and q.municipality_code not in identity.scope.municipalities:
        raise PermissionDenied("this client does not act for that municipality; it sees its own municipalities' "
                               "figures and the national ones", reason="MUNICIPALITY_OUT_OF_SCOPE",
                               metadata={"municipality_code": q.municipality_code})
    if q.benefit_code:
        if uow.catalogue.get(q.benefit_code) is None:
            raise NotFound("no such benefit", reason="BENEFIT_NOT_FOUND", metadata={"benefit_code": q.benefit_code})
        if not identity.scope.covers_benefit(q.benefit_code):
            raise PermissionDenied("this client does not act for that benefit", reason="BENEFIT_OUT_OF_SCOPE",
                                   metadata={"benefit_code": q.benefit_code})
        keys = [q.benefit_code]
    else:
        keys = [stats.ALL] if identity.benefits is None else sorted(identity.benefits)
    place = q.municipality_code or stats.ALL
    first_day = dt.date.fromisoformat(f"{first}-01")
    last_day = min(months.last_day(dt.date.fromisoformat(f"{max(first, last)}-01")), as_of)
    rows, through = uow.statistics.totals(place, keys, first_day, last_day)
    # The events committed since the last fold, folded here alike (not stored).
    tail = uow.statistics.events_after(through, None, municipality_code=q.municipality_code,
                                       benefit_codes=None if keys == [stats.ALL] else keys)
    rows += rows_of(stats.fold(tail), place, keys, first_day, last_day)
    found, total = stats.figures(rows, first, last)
    return StatisticsAnswer(q.municipality_code, q.benefit_code, as_of, found, total)


def fold_some(units: Callable[[], UnitOfWork], now: dt.datetime, limit: int = FOLD_CHUNK) -> int:
    """Fold up to `limit` events after the checkpoint into the totals, in one
    transaction; how many were folded."""
    with units() as uow:
        through = uow.statistics.checkpoint(lock_at=now)
        events = uow.statistics.events_after(through, limit)
        if events:
            uow.statistics.add(stats.fold(events), events[-1]["seq"], now)
        uow.commit()
    return len(events)


def fold_all(units: Callable[[], UnitOfWork], clock, limit: int = FOLD_CHUNK) -> int:
    """Fold until the totals have every event committed so far."""
    n = 0
    while True:
        done = fold_some(units, clock.now(), limit)
        n += done
        if done < limit:
            return n


def rebuild(units: Callable[[], UnitOfWork], clock, limit: int = FOLD_CHUNK) -> int:
    """Derive the totals again from the whole event log. Answers stay right meanwhile:
    they fold themselves what the totals do not have yet."""
    with units() as uow:
        uow.statistics.reset()
        uow.commit()
    n = fold_all(units, clock, limit)
    log.info("statistics.rebuilt", events=n)
    return n
