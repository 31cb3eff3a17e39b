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
    from hub.store.outbox import OutboxRow


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
    system refuses): the message goes to dead letters at once. `not_found` (permanent
    too): a register answered that it holds no such record (the person, the dwelling),
    an answer about the citizen rather than a fault of the hub or the register."""

    def __init__(self, message: str, *, permanent: bool = False, not_found: bool = False):
        super().__init__(message)
        self.permanent = permanent or not_found
        self.not_found = not_found


class Adapter(Protocol):
    def deliver(self, delivery: Delivery) -> Receipt: ...


class FinalIncomeLookup(Protocol):
    """The tax authority's final assessments of a year, for many citizens at once (a
    final settlement run asks for a chunk of households in one call): {cpr: Receipt}
    with `data` {"status": "assessed" | "not_assessed" | "not_found", "assessment": {...}}
    as adapters/final_assessment/client.py describes. DeliveryFailed when the register
    cannot answer (asking again is harmless)."""
    def lookup_many(self, income_year: int, cprs: list[str]) -> dict[str, Receipt]: ...


class RegisterLookups(Protocol):
    """The CPR, rent and income registers asked for many citizens at once (an IT control
    run asks for a chunk of grants in a few calls, not one call per case), with the same
    strict reading of the answers as the registers' own adapters. Each returns one
    Receipt per key asked for, in the order asked, its `data`:

        persons(cprs)            {"status": "found" | "not_found", "fetched_at",
                                  "person": {...} | None, "household": {...} | None}
        dwellings(address_ids)   {"status": "found" | "not_found", "fetched_at", "dwelling": {...} | None}
        incomes(cprs, months)    {"fetched_at", "records": [...]}  (the months' records, perhaps none)

    (the formats of adapters/cpr_register, rent_register and income_register). Raises
    DeliveryFailed when a register cannot answer (asking again is harmless)."""
    def persons(self, cprs: list[str]) -> dict[str, Receipt]: ...

    def dwellings(self, address_ids: list[str]) -> dict[str, Receipt]: ...

    def incomes(self, cprs: list[str], months: list[str]) -> dict[str, Receipt]: ...


# The destinations the hub writes messages for.
ECONOMY = "economy"
DIGITAL_POST = "digital_post"
ARCHIVE = "archive"
INCOME_REGISTER = "income_register"
CPR_REGISTER = "cpr_register"    # the person and the household at the address
RENT_REGISTER = "rent_register"  # the shared municipal rent register: the dwelling
AMQP = "amqp"  # every event, to the message broker (when configured)
PAYMENT_PROVIDER = "payment_provider"  # pain.001 credit transfer files
APPEALS = "appeals"  # upheld complaints, to the appeals authority
CONTROL_UNIT = "control_unit"  # the IT control's findings, to the municipality's local control unit
FINAL_ASSESSMENT = "final_assessment"  # the tax authority's final assessment of a year's income (slutligning)
DESTINATIONS = (ECONOMY, DIGITAL_POST, ARCHIVE, INCOME_REGISTER, CPR_REGISTER, RENT_REGISTER, AMQP, PAYMENT_PROVIDER,
                APPEALS, CONTROL_UNIT, FINAL_ASSESSMENT)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What became of one delivery attempt, for the record."""
    row: "OutboxRow"
    receipt: Receipt | None = None   # delivered
    error: str = ""                  # failed
    dead: bool = False
    next_attempt_at: dt.datetime | None = None
    probe: bool = False              # tried before its time, to see if the destination answers again


class Deliveries(Protocol):
    """The dispatcher's side of the outbox (hub.service.delivery implements it): claim
    due messages under a lease, give back untried ones, and record outcomes together
    with what a delivery changes on its case."""

    def claim(self, dispatcher_id: str, *, lease: dt.timedelta, limit: int, destinations) -> list["OutboxRow"]: ...

    def claim_probes(self, dispatcher_id: str, *, lease: dt.timedelta, destinations) -> list["OutboxRow"]: ...

    def release(self, dispatcher_id: str, rows: list["OutboxRow"]) -> None: ...

    def record(self, dispatcher_id: str, outcomes: list[DeliveryOutcome]) -> dict[str, int]: ...
