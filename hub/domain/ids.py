"""Identifiers the hub gives its records (cases, decisions, events, ...): UUID version 7
(RFC 9562), time-ordered. A new id sorts after the ones made before it, so the unique
indexes on them grow at one end: a commit touches a few index pages instead of one
random page per row (on SQLite each is a WAL frame and an fsync'd write; on
PostgreSQL, WAL and page splits). 74 random bits keep them unguessable."""
from __future__ import annotations

import uuid_utils


def new_id() -> str:
    return str(uuid_utils.uuid7())
