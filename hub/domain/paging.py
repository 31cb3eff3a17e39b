"""Opaque page tokens for keyset pagination. A token is bound to the query it came
from: reusing it with other filters is the caller's mistake."""
from __future__ import annotations

import base64
import hashlib
import json

from hub.domain.errors import InvalidArgument, FieldViolation


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
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument([FieldViolation("page_token", "is not a token this hub issued")])
    if q != qhash:
        raise InvalidArgument([FieldViolation("page_token", "belongs to a query with other filters")])
    return after


def decode(token: str, qhash: str) -> int:
    return _read(token, qhash, "a", int) if token else 0


def decode_key(token: str, qhash: str) -> list[str] | None:
    return _read(token, qhash, "k", lambda k: [str(x) for x in k]) if token else None
