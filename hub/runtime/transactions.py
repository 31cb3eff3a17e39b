"""How a call runs its use case: `Tx` is one call's way to the database on the lane it
was given (a group-commit batch's shared transaction, or a transaction of its own on
the lane's connection), handed to the call explicitly rather than found in the air.

`Tx.mutate` makes a change idempotent on the caller's request id: it authorizes the
call, replays the first answer to a retry (the same content) or refuses the id's reuse
(other content), runs the use case, encodes its answer, stores the answer beside the
change, audits it, and commits, in one transaction. `Tx.read` authorizes and runs a
reading use case (which may audit what it showed) and commits. The use cases
(hub.service) know none of this: they get a unit of work, an identity and the time."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Callable, TypeVar

from sqlalchemy.exc import IntegrityError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from hub.domain.audit import AuditEntry
from hub.domain.errors import AlreadyExists
from hub.domain.identity import Identity
from hub.domain.model import Case
from hub.service.access import authorize
from hub.service.clock import Clock
from hub.store.transaction import Batch, ConnectionSource
from hub.store.uow import Store, UnitOfWork

T = TypeVar("T")


class Tx:
    __slots__ = ("store", "clock", "batch", "lane")

    def __init__(self, store: Store, clock: Clock, batch: Batch | None = None, lane: ConnectionSource | None = None):
        self.store, self.clock, self.batch, self.lane = store, clock, batch, lane

    def unit(self) -> UnitOfWork:
        return self.store.unit(self.batch, self.lane)

    def units(self) -> UnitOfWork:
        """A unit of work of its own (for use cases of several transactions, such as a
        payment run), never the lane's batch."""
        return self.store.unit()

    def mutate(self, identity: Identity, action: str, request_id: str, fingerprint: str,
               encode: Callable[[T], bytes], use_case: Callable[..., tuple[T, Case | None]], *args: Any) -> bytes:
        """Run `use_case(uow, identity, *args, now)` once per (client, request_id) and
        return its answer encoded: the stored one on a retry with the same content."""
        authorize(identity, action)
        if identity.citizen is not None:
            # A portal's request ids are its own, whichever citizen it acts for: the same
            # request for another citizen is another request (and never gets this one's answer).
            fingerprint = hashlib.sha256(f"{fingerprint} {identity.citizen}".encode()).hexdigest()

        def attempt() -> bytes:
            with self.unit() as uow:
                stored = uow.idempotency.stored(identity.client_id, request_id) if request_id else None
                if stored is not None:
                    if stored.rpc != action or stored.fingerprint != fingerprint:
                        raise AlreadyExists("request_id was already used by this client for a different request",
                                            reason="REQUEST_ID_REUSED",
                                            metadata={"request_id": request_id, "first_rpc": stored.rpc})
                    return stored.response
                now = self.clock.now()
                result, case = use_case(uow, identity, *args, now)
                encoded = encode(result)
                uow.idempotency.remember(identity.client_id, request_id, action, fingerprint, encoded, now)
                uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, action,
                                         case.case_id if case else None, case.cpr if case else None, "OK",
                                         request_id))
                uow.commit()
                return encoded

        try:
            return attempt()
        except IntegrityError:
            # A concurrent twin (another process, or a batch that failed to commit) took
            # the request id or a unique key first: try again; a retry with the same
            # request id then finds the stored response, in the database (what the batch
            # looked up in advance is out of date). (Tenacity only here: setting it up
            # costs 30 us, a tenth of a whole CreateCase.)
            if self.batch is not None and request_id:
                self.batch.responses.pop((identity.client_id, request_id), None)
            return Retrying(retry=retry_if_exception_type(IntegrityError), stop=stop_after_attempt(2),
                            reraise=True)(attempt)

    def read(self, identity: Identity | None, action: str | None, use_case: Callable[..., T], *args: Any,
             **kw: Any) -> T:
        """Run `use_case(uow, identity, *args, now)` and commit (what it audited).
        `action` None: no authorization (the hub's own calls, such as auditing a refusal)."""
        if action is not None:
            authorize(identity, action)
        with self.unit() as uow:
            result = use_case(uow, identity, *args, self.clock.now(), **kw)
            uow.commit()
        return result

    def now(self) -> dt.datetime:
        return self.clock.now()
