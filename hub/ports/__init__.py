"""The ports the dispatcher delivers through. Implementations live in `adapters/` and
are chosen by configuration; the hub knows only these Protocols.

An adapter must be idempotent on `Delivery.message_id`: after a crash the same message
may be handed over again, and delivering it twice must have the effect of once. It
renders the kinds of message it knows (hub.ports.messages) and fails any other kind
permanently (`messages.cannot_render`), so that nothing is receipted unwritten."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hub.ports.messages import Message


@dataclass(frozen=True)
class Delivery:
    message_id: str
    destination: str
    case_id: str | None
    message: "Message"  # typed (hub.ports.messages); the adapter renders it
    attempt: int  # 1 for the first try
    now: dt.datetime
    created_at: dt.datetime  # when the cause was committed; stable across retries


@dataclass(frozen=True)
class Receipt:
    """What the external system answered. `reference` is where the message now lives
    there (file, bag, letter id); `data` carries results such as register records."""
    reference: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class DeliveryFailed(Exception):
    """Raised by an adapter. `permanent` means retrying cannot help (a 4xx, a message the
    system refuses): the message goes to dead letters at once."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Adapter(Protocol):
    def deliver(self, delivery: Delivery) -> Receipt: ...


# The destinations the hub writes messages for.
ECONOMY = "economy"
DIGITAL_POST = "digital_post"
ARCHIVE = "archive"
INCOME_REGISTER = "income_register"
AMQP = "amqp"  # every event, to the message broker (when configured)
PAYMENT_PROVIDER = "payment_provider"  # pain.001 credit transfer files
APPEALS = "appeals"  # upheld complaints, to the appeals authority
DESTINATIONS = (ECONOMY, DIGITAL_POST, ARCHIVE, INCOME_REGISTER, AMQP, PAYMENT_PROVIDER, APPEALS)
