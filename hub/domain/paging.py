"""Opaque page tokens for keyset pagination. A token is bound to the query it came
from: reusing it with other filters is the caller's mistake.

A token is the caller's to keep and so to change: its cursor is checked for what this
hub writes into one (an id or sequence the store can hold; a key of the right parts),
and anything else is `page_token` "is not a token this hub issued", not a query that
fails in the store."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Callable

from hub.domain.errors import InvalidArgument, FieldViolation

# Ids and sequences are the store's BIGINT (int64): a cursor beyond it was never issued.
MAX_CURSOR = 2**63 - 1


def query_hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def encode(after_id: int, qhash: str) -> str:
    raw = json.dumps({"a": after_id, "q": qhash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_key(after: list[str], qhash: str) -> str:
    """A token for a list ordered by a composite key (its last row's key)."""
    raw = json.dumps({"k": after, "q": qhash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read(token: str, qhash: str, field: str, convert):
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, q = convert(data[field]), str(data["q"])
    except (ValueError, KeyError, TypeError, OverflowError):
        raise InvalidArgument([FieldViolation("page_token", "is not a token this hub issued")])
    if q != qhash:
        raise InvalidArgument([FieldViolation("page_token", "belongs to a query with other filters")])
    return after


def _cursor(a: object) -> int:
    if type(a) is not int or not 0 <= a <= MAX_CURSOR:  # (not a bool, a float or a text either)
        raise ValueError("not a cursor this hub issues")
    return a


def decode(token: str, qhash: str) -> int:
    return _read(token, qhash, "a", _cursor) if token else 0


def key_time(text: str) -> dt.datetime:
    """A time in a key, as encode_key's callers write it (isoformat, with its offset)."""
    t = dt.datetime.fromisoformat(text)
    if t.utcoffset() is None:
        raise ValueError("a time without an offset")
    return t.astimezone(dt.timezone.utc)  # (OverflowError past year 1 or 9999 in UTC)


def decode_key(token: str, qhash: str, parts: tuple[Callable[[str], object], ...]) -> list[str] | None:
    """The key of the previous page's last row: one text per part, each of which its
    parser (e.g. `str`, `key_time`) takes."""
    def convert(key: object) -> list[str]:
        if not isinstance(key, list) or len(key) != len(parts) or not all(isinstance(k, str) for k in key):
            raise ValueError("not a key this hub issues")
        for parse, k in zip(parts, key):
            parse(k)
        return key
    return _read(token, qhash, "k", convert) if token else None
