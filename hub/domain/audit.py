"""The audit log's hash chain: each entry's hash covers its content and the previous
entry's hash, so changing or deleting any entry breaks every link after it. Pure: the
store appends and verifies with these functions."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS = "0" * 64
FIELDS = ("seq", "at", "client_id", "role", "rpc", "case_id", "cpr", "outcome", "request_id", "purpose")


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    return value


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    body = json.dumps({k: _canonical(entry.get(k)) for k in FIELDS}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()
