"""The audit log's hash chain: each entry's hash covers its content and the previous
entry's hash, so changing or deleting any entry breaks every link after it. Pure: the
store appends and verifies with these functions.

Someone who can write the database can also rewrite the whole tail, computing every
hash again from the entry they changed: the chain alone cannot show that. A head kept
outside the database can: the line `SEQ:HASH TIME` (head_line) an operator keeps, and
against which `hub audit verify --against` checks that the log still has that hash at
that entry."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which case (and so to which citizen), and how it ended."""
    at: dt.datetime
    client_id: str
    role: str
    rpc: str
    case_id: str | None
    cpr: str | None
    outcome: str
    request_id: str | None = None
    purpose: str | None = None


GENESIS = "0" * 64
# Who an entry names for a caller without identity (no token, an unknown one, a revoked
# certificate); a clients file cannot give a client this id (hub.api.auth).
UNAUTHENTICATED = "unauthenticated"
REQUEST_ID_LENGTH, PURPOSE_LENGTH = 128, 200  # the columns' (a refusal's request id may be longer)
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FIELDS = ("seq", "at", "client_id", "role", "rpc", "case_id", "cpr", "outcome", "request_id", "purpose")


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    return value


def canonical_body(entry: dict[str, Any]) -> str:
    """The entry as the hash covers it: its FIELDS as JSON, keys sorted, compact, not
    ASCII-escaped. Byte for byte what `json.dumps(..., sort_keys=True,
    ensure_ascii=False, separators=(",", ":"))` writes (the hashes already stored rest
    on it), put together here field by field: every audited call hashes one, and this
    costs a third of building the dict and dumping it."""
    return "{" + ",".join([f'"{k}":{_json(_canonical(entry.get(k)))}' for k in _SORTED]) + "}"


_SORTED = tuple(sorted(FIELDS))
_json_str = json.encoder.encode_basestring  # the string encoder json.dumps uses with ensure_ascii=False
_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))  # what json.dumps builds for those arguments, built once


def _json(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _json_str(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    return _JSON.encode(value)


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_body(entry)}".encode()).hexdigest()


def head_line(seq: int, hash_: str, at: dt.datetime | None) -> str:
    """The head as a line to keep: `SEQ:HASH TIME`, TIME the head entry's (UTC)."""
    return f"{seq}:{hash_} {_canonical(at) if at is not None else '-'}"


_KEPT = re.compile(r"(\d{1,18}):([0-9a-f]{64})(?:\s.*)?")


def parse_kept(text: str) -> tuple[int, str]:
    """(seq, hash) from a kept head, `SEQ:HASH` and whatever follows a space (the time
    head_line writes). ValueError if it is not one."""
    m = _KEPT.fullmatch(text.strip())
    if m is None:
        raise ValueError("a kept head is SEQ:HASH (an entry number, a colon and 64 hex digits)")
    return int(m.group(1)), m.group(2)


def is_id(text: str) -> bool:
    """Shaped as the ids the hub gives its records (a UUID, lower case)."""
    return _ID.fullmatch(text) is not None


def clip(text: str | None, length: int) -> str | None:
    """What fits the column: a refused call's request id or purpose may be too long."""
    return text[:length] if text else text
