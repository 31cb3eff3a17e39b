"""Operators' use cases: the outbox's backlog and dead letters, and each destination's
delivery (paused, resumed, retried now)."""
from __future__ import annotations

import datetime as dt

from hub.domain import commands as cmd
from hub.domain import paging
from hub.domain.errors import FailedPrecondition, NotFound, Violations
from hub.domain.identity import Identity
from hub.ports import DESTINATIONS
from hub.store.outbox import DEAD, OutboxRow
from hub.store.uow import UnitOfWork


def check_destination(v: Violations, destination: str, *, required: bool) -> None:
    if destination or required:
        v.require(destination in DESTINATIONS, "destination", f"must be one of {', '.join(DESTINATIONS)}")


def outbox_summary(uow: UnitOfWork, identity: Identity, now: dt.datetime) -> list[dict]:
    return uow.outbox.summary()


def list_outbox(uow: UnitOfWork, identity: Identity, status: str, destination: str, page_size: int, page_token: str,
                now: dt.datetime) -> tuple[list[OutboxRow], str]:
    v = Violations()
    check_destination(v, destination, required=False)
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, "outbox", status, destination)
    after = paging.decode(page_token, qhash)
    rows = uow.outbox.list_messages(status=status, destination=destination, after_id=after, limit=size + 1)
    page = rows[:size]
    return page, paging.encode(page[-1].id, qhash) if len(rows) > size else ""


def replay_dead_letters(uow: UnitOfWork, identity: Identity, request_id: str, message_id: str, all_: bool,
                        destination: str, now: dt.datetime) -> tuple[int, None]:
    v = Violations()
    cmd.check_request_id(v, request_id)
    v.require(bool(message_id) != all_, "message_id", "give one message_id, or all = true (not both)")
    check_destination(v, destination, required=False)
    v.raise_if_any()
    if message_id:
        found = uow.outbox.list_messages_by_id(message_id)
        if found is None:
            raise NotFound("no outbox message with that id", reason="MESSAGE_NOT_FOUND",
                           metadata={"message_id": message_id})
        if found.status != DEAD:
            raise FailedPrecondition(f"the message is {found.status}, not a dead letter", reason="NOT_A_DEAD_LETTER",
                                     metadata={"status": found.status})
    return uow.outbox.replay(now=now, message_id=message_id, destination=destination), None


def set_destination_paused(uow: UnitOfWork, identity: Identity, request_id: str, destination: str, paused: bool,
                           now: dt.datetime) -> tuple[bool, None]:
    v = Violations()
    cmd.check_request_id(v, request_id)
    check_destination(v, destination, required=True)
    v.raise_if_any()
    uow.outbox.set_paused(destination, paused, now, identity.client_id)
    return paused, None


def retry_now(uow: UnitOfWork, identity: Identity, request_id: str, destination: str,
              now: dt.datetime) -> tuple[int, None]:
    """The destination's backing-off messages due now (the dispatcher's probe does the
    same when one gets through). Returns how many."""
    v = Violations()
    cmd.check_request_id(v, request_id)
    check_destination(v, destination, required=True)
    v.raise_if_any()
    return uow.outbox.make_due(destination, now), None
