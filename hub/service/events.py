"""The event log as subscribers follow it: streams from a sequence number (or from a
durable subscription's cursor), within the caller's data limits."""
from __future__ import annotations

import datetime as dt
from typing import Any

from hub.domain import commands as cmd
from hub.domain.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, \
    PermissionDenied, Violations
from hub.domain.identity import Identity
from hub.store.uow import UnitOfWork


def check_filter_scope(identity: Identity, f: cmd.EventFilter) -> None:
    v = Violations()
    f.check(v)
    v.raise_if_any()
    outside = sorted(m for m in f.municipality_codes if not identity.covers_municipality(m))
    if outside:
        raise PermissionDenied("this client does not act for those municipalities", reason="MUNICIPALITY_OUT_OF_SCOPE",
                               metadata={"municipality_codes": ",".join(outside)})


def create_subscription(uow: UnitOfWork, identity: Identity, request_id: str, name: str, f: cmd.EventFilter,
                        after: int, now: dt.datetime) -> tuple[dict[str, Any], None]:
    v = Violations()
    cmd.check_request_id(v, request_id)
    cmd.check_subscription_name(v, name)
    v.raise_if_any()
    check_filter_scope(identity, f)
    if uow.subscriptions.get(identity.client_id, name) is not None:
        raise AlreadyExists("a subscription with that name exists", reason="SUBSCRIPTION_EXISTS",
                            metadata={"name": name})
    uow.subscriptions.add(identity.client_id, name, f.as_dict(), after, now)
    return uow.subscriptions.get(identity.client_id, name), None


def get_subscription(uow: UnitOfWork, identity: Identity, name: str, now: dt.datetime | None = None) -> dict[str, Any]:
    sub = uow.subscriptions.get(identity.client_id, name) if name else None
    if sub is None:
        raise NotFound("no subscription with that name", reason="SUBSCRIPTION_NOT_FOUND", metadata={"name": name})
    return sub


def ack_events(uow: UnitOfWork, identity: Identity, name: str, sequence: int, now: dt.datetime) -> dict[str, Any]:
    """Naturally idempotent (the cursor only moves forward), so no request_id."""
    get_subscription(uow, identity, name)
    last = uow.events.last_sequence()
    if sequence > last:
        raise FailedPrecondition(f"sequence {sequence} is beyond the end of the log ({last})",
                                 reason="SEQUENCE_NOT_YET_WRITTEN", metadata={"last_sequence": last})
    uow.subscriptions.ack(identity.client_id, name, sequence, now)
    return uow.subscriptions.get(identity.client_id, name)


def open_stream(uow: UnitOfWork, identity: Identity, name: str, after: int,
                f: cmd.EventFilter) -> tuple[int, cmd.EventFilter]:
    """Where a Subscribe stream starts, and with which filter."""
    if name:
        if after or f != cmd.EventFilter():
            raise InvalidArgument([FieldViolation("subscription", "a durable subscription carries its own filter and "
                                                                  "cursor: give one or the other")])
        sub = get_subscription(uow, identity, name)
        return sub["acked_seq"], cmd.EventFilter.from_dict(sub["filter"])
    check_filter_scope(identity, f)
    return after, f


def read_events(uow: UnitOfWork, identity: Identity, after: int, f: cmd.EventFilter,
                limit: int = 500) -> tuple[list[dict[str, Any]], int]:
    """One page of the stream, within the caller's data limits."""
    return uow.events.read(identity.scope, after=after, event_types=f.event_types,
                           municipality_codes=f.municipality_codes, benefit_codes=f.benefit_codes, limit=limit)


def read_log(uow: UnitOfWork, after: int, limit: int = 500) -> tuple[list[dict[str, Any]], int]:
    """The log itself, for the feed that serves a process's streams (each stream applies
    its caller's data limits: Scope.sees_row)."""
    return uow.events.read(None, after=after, limit=limit)


def last_sequence(uow: UnitOfWork) -> int:
    return uow.events.last_sequence()
