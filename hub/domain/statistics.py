"""Management information from the event log: what each event adds to the running
totals per municipality, benefit and day, and the month figures read back from them.

The fold is one pure function (`deltas`): the background task that keeps the totals,
a rebuild from the log, and an answer that adds the events not folded yet all use it,
so that a figure is the same whichever way it was reached. A figure counts on the day
(Copenhagen) its event happened in the hub."""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from hub.domain import months
from hub.domain.errors import Violations

# The totals' own keys for "every municipality" and "every benefit": each delta is also
# added to them, so that a national or an all-benefits figure is one row, not 98.
ALL = "*"
MAX_MONTHS = 120
# Processing times are counted per whole day up to this many days; longer ones in the last.
MAX_DAYS = 730
OPEN_PHASES = ("CREATED", "INFORMING", "DRAFT_PENDING_APPROVAL")

# Metric names in the totals.
RECEIVED, DECIDED, WITHDRAWN = "received", "decided", "withdrawn"
OUTCOMES = {"GRANTED": "granted", "PARTLY_GRANTED": "partly_granted", "REFUSED": "refused"}
WITHIN_DEADLINE, AUTOMATIC = "within_deadline", "automatic"
COMPLAINTS, RECONSIDERED, RECONSIDERED_CHANGED = "complaints", "reconsidered", "reconsidered_changed"
APPEALS = "appeals"
APPEAL_OUTCOMES = {"UPHELD": "appeals_upheld", "CHANGED": "appeals_changed", "REMITTED": "appeals_remitted"}
HEARINGS, PAID_ORE, CLAIMS_ORE = "hearings", "paid_ore", "claims_ore"
BACKLOG = "backlog:"   # + phase: the change in the number of open cases in that phase
DAYS = "days:"         # + whole days from receipt to the first decision: how many such decisions


def day_of(at: dt.datetime) -> dt.date:
    return at.astimezone(months.COPENHAGEN).date()


def _at(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    return None


def deltas(type_: str, occurred_at: dt.datetime, payload: Mapping[str, Any]) -> list[tuple[str, int]]:
    """What one event adds to its municipality's and benefit's totals on its day: pairs
    of (metric, amount)."""
    p = payload or {}
    if type_ == "case.created":
        return [(RECEIVED, 1), (BACKLOG + "CREATED", 1)]
    if type_ == "case.status_changed":
        out = []
        if p.get("from_status") in OPEN_PHASES:
            out.append((BACKLOG + p["from_status"], -1))
        if p.get("to_status") in OPEN_PHASES:
            out.append((BACKLOG + p["to_status"], 1))
        return out
    if type_ == "case.withdrawn":
        return [(WITHDRAWN, 1)]
    if type_ == "decision.approved":
        # Only an application's first decision is "decided" (a change, a recalculation,
        # a settlement or a reconsideration is a later decision on a decided case).
        if not p.get("first_decision"):
            return []
        out = [(DECIDED, 1)]
        if p.get("outcome") in OUTCOMES:
            out.append((OUTCOMES[p["outcome"]], 1))
        deadline, received = _at(p.get("processing_deadline")), _at(p.get("received_at"))
        if deadline is not None and occurred_at <= deadline:
            out.append((WITHIN_DEADLINE, 1))
        if p.get("straight_through"):
            out.append((AUTOMATIC, 1))
        if received is not None:
            days = max(0, min(MAX_DAYS, (day_of(occurred_at) - day_of(received)).days))
            out.append((f"{DAYS}{days}", 1))
        return out
    if type_ == "complaint.filed":
        return [(COMPLAINTS, 1)]
    if type_ == "complaint.reconsidered":
        return [(RECONSIDERED, 1)] + ([(RECONSIDERED_CHANGED, 1)] if p.get("outcome") == "CHANGED" else [])
    if type_ == "complaint.appeal_decided":
        outcome = APPEAL_OUTCOMES.get(p.get("outcome", ""))
        return [(APPEALS, 1)] + ([(outcome, 1)] if outcome else [])
    if type_ == "hearing.started":
        return [(HEARINGS, 1)]
    if type_ == "payment.paid":
        return [(PAID_ORE, int(p.get("amount_oere") or 0))]
    if type_ == "claim.created":
        return [(CLAIMS_ORE, int(p.get("amount_oere") or 0))]
    return []


# The event types the fold reads (a reader may skip the others).
FOLDED_TYPES = ("case.created", "case.status_changed", "case.withdrawn", "decision.approved", "complaint.filed",
                "complaint.reconsidered", "complaint.appeal_decided", "hearing.started", "payment.paid",
                "claim.created")


def fold(events: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, dt.date, str], int]:
    """The totals' changes for events (rows with type, occurred_at, municipality_code,
    benefit_code, payload), per (municipality, benefit, day, metric), each also under
    the municipality's all-benefits key, the benefit's national key and the national
    all-benefits key."""
    own: dict[tuple[str, str, dt.date, str], int] = {}
    days: dict[dt.datetime, dt.date] = {}
    for e in events:
        municipality, benefit = e.get("municipality_code"), e.get("benefit_code")
        if not municipality or not benefit:
            continue
        changes = deltas(e["type"], e["occurred_at"], e.get("payload") or {})
        if not changes:
            continue
        at = e["occurred_at"]
        day = days.get(at)
        if day is None:
            day = days[at] = day_of(at)
        for metric, amount in changes:
            key = (municipality, benefit, day, metric)
            own[key] = own.get(key, 0) + amount
    # The rolled-up keys from the summed ones (fewer than the events).
    out = dict(own)
    for (m, b, day, metric), amount in own.items():
        for key in ((m, ALL, day, metric), (ALL, b, day, metric), (ALL, ALL, day, metric)):
            out[key] = out.get(key, 0) + amount
    return {k: v for k, v in out.items() if v}


# ---- the question and the answer ---------------------------------------------------------------

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class StatisticsQuery:
    municipality_code: str
    benefit_code: str
    from_month: str
    to_month: str
    as_of_date: str = ""

    def validated(self, today: dt.date) -> tuple[str, str, dt.date]:
        """The months and the day the figures stand at, or INVALID_ARGUMENT naming each
        bad field."""
        v = Violations()
        for name, value in (("from_month", self.from_month), ("to_month", self.to_month)):
            if months.parse(value) is None:
                v.add(name, "a month as YYYY-MM is required")
        as_of = today
        if self.as_of_date:
            try:
                as_of = dt.date.fromisoformat(self.as_of_date) if _DAY.match(self.as_of_date) else None
            except ValueError:
                as_of = None
            if as_of is None:
                v.add("as_of_date", "a day as YYYY-MM-DD is required")
                as_of = today
            elif as_of > today:
                v.add("as_of_date", f"the figures cannot stand at a day after today ({today.isoformat()})")
        if not v.items and self.to_month < self.from_month:
            v.add("to_month", "must not be before from_month")
        if not v.items and len(months.between(self.from_month, self.to_month)) > MAX_MONTHS:
            v.add("to_month", f"at most {MAX_MONTHS} months at a time")
        if self.municipality_code and not re.fullmatch(r"\d{3}", self.municipality_code):
            v.add("municipality_code", "a municipality's three-digit code, or empty for the national figures")
        v.raise_if_any()
        return self.from_month, min(self.to_month, months.of_date(as_of)), as_of


@dataclass
class MonthFigures:
    month: str
    counts: dict[str, int] = field(default_factory=dict)
    days: dict[int, int] = field(default_factory=dict)   # processing days -> decisions
    backlog: dict[str, int] = field(default_factory=dict)  # open phase -> cases at the month's end

    def get(self, metric: str) -> int:
        return self.counts.get(metric, 0)

    @property
    def backlog_total(self) -> int:
        return sum(self.backlog.values())

    def days_at(self, share: float) -> int:
        """The nearest-rank percentile of the month's processing days (0 if none)."""
        n = sum(self.days.values())
        if not n:
            return 0
        rank, seen = max(1, math.ceil(share * n)), 0
        for d in sorted(self.days):
            seen += self.days[d]
            if seen >= rank:
                return d
        return max(self.days)

    def share(self, metric: str) -> float:
        decided = self.get(DECIDED)
        return self.get(metric) / decided if decided else 0.0


def figures(rows: Iterable[tuple[str, str, int]], first: str, last: str) -> tuple[list[MonthFigures], MonthFigures]:
    """Month figures from summed totals: rows of (month, metric, amount), where the month
    "" holds what happened before `first` (it only sets where the backlog starts). The
    range's total: counts and processing days over the months, the backlog at its end."""
    by_month = {m: MonthFigures(m) for m in months.between(first, last)}
    total = MonthFigures("")
    backlog = {p: 0 for p in OPEN_PHASES}
    changes: dict[str, dict[str, int]] = {}
    for month, metric, amount in rows:
        if metric.startswith(BACKLOG):
            changes.setdefault(month, {}).setdefault(metric[len(BACKLOG):], 0)
            changes[month][metric[len(BACKLOG):]] += amount
            continue
        target = by_month.get(month)
        if target is None:
            continue
        if metric.startswith(DAYS):
            d = int(metric[len(DAYS):])
            target.days[d] = target.days.get(d, 0) + amount
            total.days[d] = total.days.get(d, 0) + amount
        else:
            target.counts[metric] = target.counts.get(metric, 0) + amount
            total.counts[metric] = total.counts.get(metric, 0) + amount
    for phase, amount in changes.get("", {}).items():
        backlog[phase] = backlog.get(phase, 0) + amount
    for m, f in by_month.items():
        for phase, amount in changes.get(m, {}).items():
            backlog[phase] = backlog.get(phase, 0) + amount
        f.backlog = dict(backlog)
    total.backlog = dict(backlog)
    return list(by_month.values()), total
