"""Calendar months as "YYYY-MM" strings."""
from __future__ import annotations

import calendar
import datetime as dt
import re
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# Benefit periods are calendar dates in Denmark.
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def of(now: dt.datetime) -> str:
    """The month `now` falls in, in Denmark."""
    d = now.astimezone(COPENHAGEN)
    return f"{d.year:04d}-{d.month:02d}"


def of_date(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def following(month: str) -> str:
    y, m = map(int, month.split("-"))
    return f"{y + 1:04d}-01" if m == 12 else f"{y:04d}-{m + 1:02d}"


def previous(month: str) -> str:
    y, m = map(int, month.split("-"))
    return f"{y - 1:04d}-12" if m == 1 else f"{y:04d}-{m - 1:02d}"


def parse(month: str) -> tuple[int, int] | None:
    m = _MONTH.match(month)
    return (int(m.group(1)), int(m.group(2))) if m else None


def between(first: str, last: str) -> list[str]:
    """Every month from first to last, inclusive (empty if last is before first)."""
    y, m = map(int, first.split("-"))
    ly, lm = map(int, last.split("-"))
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def last_day(d: dt.date) -> dt.date:
    """The last day of d's month."""
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])
