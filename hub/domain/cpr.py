"""CPR numbers: DDMMYY-SSSS. The date must be real and not in the future; the century
follows from the 7th digit. Modulus 11 is not checked (numbers issued since 2007 may
fail it). Functions here never echo the number in a message."""
from __future__ import annotations

import datetime as dt
import re

_FORMAT = re.compile(r"^(\d{6})-?(\d{4})$")
# A CPR number as people write it, for redaction in logs: DDMMYY-SSSS or DDMMYYSSSS
# whose first four digits read as a day (01-31) and a month (01-12), standing alone.
# Not a run inside a longer word of letters and digits, so that identifiers keep their
# digits: a UUID request id (fd123456-7890-449c-...: its groups are 8-4-4-4-12 hex
# characters, never a lone 6+4 or 10), a hex id, a longer number. Anything else around
# it is a boundary: quotes, `=`, `:`, brackets, spaces, `-`, `_`, `/`, the ends, and a
# JSON escape (a traceback's line break is `\n` in a JSON log line: a letter before it).
CPR_PATTERN = re.compile(r"(?:(?<=\\[nrtbf])|(?<![^\W_]))(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d\d-?\d{4}(?![^\W_])")


def century(seventh_digit: int, yy: int) -> int:
    """The century of the birth year, by the CPR office's rule on the 7th digit."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if yy <= 36 else 1900
    # 5, 6, 7, 8
    return 2000 if yy <= 57 else 1800


def birth_date(cpr: str) -> dt.date:
    """Birth date of a normalised (10-digit) CPR number; ValueError if impossible."""
    day, month, yy = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6])
    return dt.date(century(int(cpr[6]), yy) + yy, month, day)


def normalise(raw: str) -> str | None:
    """10 digits, or None when the text is not CPR-shaped."""
    m = _FORMAT.match(raw.strip())
    return m.group(1) + m.group(2) if m else None


def problem(raw: str, today: dt.date) -> str | None:
    """Why `raw` is not a valid CPR number, or None when it is."""
    if not raw:
        return "is required"
    cpr = normalise(raw)
    if cpr is None:
        return "must be 10 digits (DDMMYY-SSSS)"
    try:
        born = birth_date(cpr)
    except ValueError:
        return "does not hold a real date of birth"
    if born > today:
        return "has a date of birth in the future"
    return None


def is_valid(raw: str, today: dt.date) -> bool:
    return problem(raw, today) is None


def redact(text: str) -> str:
    return CPR_PATTERN.sub("[CPR]", text)
