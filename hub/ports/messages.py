"""Every message the hub sends to another system, one typed shape per kind.

The service builds a message, the outbox stores it as JSON (`to_payload`, which carries
its `kind`), and the dispatcher reads it back (`decode`) before it hands it to the
destination's adapter, which renders it in that system's format. A stored message
that cannot be read back as its kind, or a kind an adapter cannot render, is a
permanent failure: a dead letter an operator sees, never a receipt for nothing
(`UnreadableMessage`, `cannot_render`).

Field names are the wire names (the JSON in the outbox); dates are ISO 8601 there.
A field with a default may be absent from a message written by an older hub."""
from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hub.ports import (AMQP, APPEALS, ARCHIVE, CONTROL_UNIT, CPR_REGISTER, DIGITAL_POST, ECONOMY, FINAL_ASSESSMENT,
                       INCOME_REGISTER, PAYMENT_PROVIDER, RENT_REGISTER, DeliveryFailed)
from hub.domain.documents import Letter
from hub.domain.model import OutboxMessage


class UnreadableMessage(DeliveryFailed):
    """A stored message that is not a well-formed message of a known kind: retrying
    cannot help."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


KINDS: dict[str, type["Message"]] = {}


@dataclass(frozen=True, kw_only=True)
class Message:
    KIND: ClassVar[str] = ""
    DESTINATION: ClassVar[str] = ""

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if cls.__dict__.get("KIND"):
            if cls.KIND in KINDS:
                raise TypeError(f"message kind {cls.KIND!r} is declared twice")
            KINDS[cls.KIND] = cls

    def to_payload(self) -> dict[str, Any]:
        return dict(_encode(self), kind=self.KIND)

    def outbox(self, message_id: str, case_id: str | None) -> OutboxMessage:
        """This message as an outbox row's content, for its destination."""
        return OutboxMessage(message_id, self.DESTINATION, case_id, self.to_payload())


def decode(destination: str, payload: dict[str, Any]) -> Message:
    """The typed message stored for `destination`. Raises UnreadableMessage."""
    if not isinstance(payload, dict):
        raise UnreadableMessage("the stored message is not a JSON object")
    kind = payload.get("kind") or _LEGACY_DEFAULT_KIND.get(destination, "")
    cls = KINDS.get(kind) or _legacy(kind)
    if cls is None:
        raise UnreadableMessage(f"unknown message kind {kind!r}")
    if cls.DESTINATION != destination:
        raise UnreadableMessage(f"a {kind} message does not go to {destination}")
    if kind in _LEGACY_CLAIM_KINDS:
        payload = _legacy_claim(kind, payload)
    elif kind in _LEGACY_LETTER_KINDS:
        payload = dict(payload, letter_kind=kind)
    try:
        return _decode(cls, payload, kind)
    except (TypeError, ValueError, KeyError) as exc:
        raise UnreadableMessage(f"the stored {kind} message is malformed: {exc}") from None


def cannot_render(adapter: str, message: Message) -> DeliveryFailed:
    """What an adapter raises for a kind it has no rendering for."""
    return DeliveryFailed(f"{adapter} cannot render a {message.KIND} message", permanent=True)


# ---- the economy system (the municipality's ledger) -------------------------------------

@dataclass(frozen=True, kw_only=True)
class EconomyMessage(Message):
    """A posting to the economy system of the municipality that pays: on the benefit's
    ledger account, for the citizen (CPR) of the case."""
    DESTINATION: ClassVar[str] = ECONOMY
    municipality_code: str
    benefit_code: str
    ledger_account: str
    case_id: str
    cpr: str


@dataclass(frozen=True)
class PostedAmount:
    amount_oere: int
    period_start: dt.date
    period_end: dt.date


@dataclass(frozen=True, kw_only=True)
class DecisionPosting(EconomyMessage):
    """An approved decision, whatever it decides: a grant with its amounts, a refusal,
    or a decision that stops (or lowers) a grant in force from `effective_from`. The
    municipality knows every decision it is the sender of."""
    KIND: ClassVar[str] = "decision_posting"
    decision_id: str
    outcome: str                      # GRANTED, PARTLY_GRANTED, REFUSED, REPAYMENT
    amounts: tuple[PostedAmount, ...] = ()
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None   # a decision for a bounded time: the last day it governs
    decided_on: dt.date | None = None
    replaces_grant: bool = False      # it supersedes a grant in force from effective_from
    source: str = "AUTHORITY"         # or APPEALS_AUTHORITY: a decision the hub records
    # What the citizen must pay back under it (its claims follow as claim postings),
    # and whether that may be offset against later payments.
    repayment_oere: int = 0
    repayment_offset_allowed: bool = False
    settlement_year: int = 0          # a final settlement's decision: the income year it settles


@dataclass(frozen=True)
class Offset:
    claim_id: str
    amount_oere: int


@dataclass(frozen=True, kw_only=True)
class PaymentOrderPosting(EconomyMessage):
    """A payment ordered for one period: gross amount, what was withheld against the
    citizen's claims, and the net amount paid out."""
    KIND: ClassVar[str] = "payment_order"
    end_to_end_id: str
    decision_id: str
    period: str
    order_kind: str                   # REGULAR, CORRECTION, REISSUE
    amount_oere: int
    offset_oere: int
    net_amount_oere: int
    offsets: tuple[Offset, ...] = ()
    period_start: dt.date | None = None
    period_end: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentCancelledPosting(EconomyMessage):
    """An order not yet handed to the provider, cancelled (a new decision)."""
    KIND: ClassVar[str] = "payment_cancelled"
    end_to_end_id: str
    period: str
    amount_oere: int = 0
    offset_oere: int = 0
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class PaymentSettlementPosting(EconomyMessage):
    """What the provider reported for an order: paid, rejected or returned."""
    KIND: ClassVar[str] = "payment_settlement"
    end_to_end_id: str
    period: str
    result: str
    amount_oere: int
    bank_reference: str = ""
    settlement_date: dt.date | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ClaimPosting(EconomyMessage):
    """A claim on the citizen changed (created, collected, released, written off,
    offset allowed or not, an offset reversed); the claim's position after it, and the
    change itself."""
    KIND: ClassVar[str] = "claim_changed"
    claim_id: str
    change: str                       # created, collected, released, written_off, offset_set, offset_reversed
    status: str
    amount_oere: int
    collected_oere: int
    cancelled_oere: int
    written_off_oere: int
    change_amount_oere: int = 0       # what this change moved (0 when it moved no money)
    period: str = ""
    origin: str = ""
    reason: str = ""
    end_to_end_id: str = ""
    offset_allowed: bool | None = None
    decision_id: str = ""             # the decision the claim comes from


@dataclass(frozen=True, kw_only=True)
class SettledMonth:
    month: str                        # YYYY-MM
    granted_oere: int
    final_oere: int


@dataclass(frozen=True, kw_only=True)
class FinalSettlementPosting(EconomyMessage):
    """A case's final settlement of an income year against the final income, whatever it
    found: nothing (also a difference below the act's minimum, `below_minimum`), a back
    payment or a repayment (whose decision, orders and claims follow as their own
    postings)."""
    KIND: ClassVar[str] = "final_settlement"
    income_year: int
    result: str                       # NOTHING, BACK_PAYMENT, REPAYMENT
    granted_oere: int
    final_oere: int
    difference_oere: int              # final less granted
    below_minimum: bool = False
    decision_id: str = ""
    months: tuple[SettledMonth, ...] = ()


ECONOMY_KINDS = (DecisionPosting, PaymentOrderPosting, PaymentCancelledPosting, PaymentSettlementPosting, ClaimPosting,
                 FinalSettlementPosting)


# ---- subscription billing (issue 28): the shared back office's invoice of a quarter --------------

@dataclass(frozen=True, kw_only=True)
class InvoiceLine:
    line_kind: str                    # BASE_FEE, DECIDED_CASES, COST_SHARE
    benefit_code: str                 # "" for the base fee
    cases: int                        # the municipality's cases of the benefit decided in the quarter
    unit_price_oere: int              # DECIDED_CASES: the price per case; BASE_FEE: the fee; COST_SHARE: 0
    amount_oere: int
    national_cases: int = 0           # COST_SHARE: every municipality's decided cases of the benefit
    cost_pool_oere: int = 0           # COST_SHARE: the benefit's cost of the quarter, shared


@dataclass(frozen=True, kw_only=True)
class BillingInvoice(Message):
    """The back office's invoice to a municipality for a quarter of the subscription: its
    lines (a base fee, and per benefit the decided cases and their amount), booked on
    `ledger_account` in the municipality's economy system. No case and no citizen."""
    KIND: ClassVar[str] = "billing_invoice"
    DESTINATION: ClassVar[str] = ECONOMY
    municipality_code: str
    ledger_account: str
    invoice_id: str                   # <quarter>/<municipality>: one invoice per municipality and quarter
    run_id: str
    quarter: str                      # YYYY-Qn
    period_start: dt.date
    period_end: dt.date
    model: str                        # PER_CASE, COST_SHARE
    price_model_version: int
    lines: tuple[InvoiceLine, ...]
    total_oere: int


ECONOMY_KINDS = ECONOMY_KINDS + (BillingInvoice,)


# ---- Digital Post --------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DigitalPostLetter(Message):
    KIND: ClassVar[str] = "letter"
    DESTINATION: ClassVar[str] = DIGITAL_POST
    letter_kind: str                  # decision_letter, hearing_letter, complaint_dismissed_letter
    case_id: str
    municipality_code: str
    letter: Letter
    decision_id: str = ""             # a decision letter: its sending time is recorded on the decision
    hearing_id: str = ""
    complaint_id: str = ""


# ---- the shared archive --------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ArchiveCase(Message):
    """The decided case, per decision: the case file and the decision letter."""
    KIND: ClassVar[str] = "archive_case"
    DESTINATION: ClassVar[str] = ARCHIVE
    case_id: str
    decision_id: str
    municipality_code: str
    benefit_code: str
    kle_number: str
    retention_years: int
    decided_on: dt.date
    archive_action_date: dt.date
    case_file: dict[str, Any]
    letter: Letter | None = None


@dataclass(frozen=True, kw_only=True)
class ArchiveDocument(Message):
    """A later step on a case (a hearing letter, a complaint step), archived with it."""
    KIND: ClassVar[str] = "archive_document"
    DESTINATION: ClassVar[str] = ARCHIVE
    case_id: str
    municipality_code: str
    benefit_code: str
    document_id: str
    document_kind: str
    title: str
    document: dict[str, Any]


# ---- registers, providers, the appeals authority, the broker ------------------------------

@dataclass(frozen=True, kw_only=True)
class RegisterRequest(Message):
    """Ask the income register for a citizen's income in some months; the answer comes
    back as the delivery's receipt and is put on the case."""
    KIND: ClassVar[str] = "register_request"
    DESTINATION: ClassVar[str] = INCOME_REGISTER
    register: str
    case_id: str
    municipality_code: str
    cpr: str
    months: tuple[str, ...]
    requested_by: str = ""


@dataclass(frozen=True, kw_only=True)
class PersonRequest(Message):
    """Ask the CPR register for a citizen: the person (alive, residence, civil status)
    and the household at the address; the answer comes back as the receipt."""
    KIND: ClassVar[str] = "person_request"
    DESTINATION: ClassVar[str] = CPR_REGISTER
    case_id: str
    municipality_code: str
    cpr: str
    register: str = CPR_REGISTER
    requested_by: str = ""


@dataclass(frozen=True, kw_only=True)
class DwellingRequest(Message):
    """Ask the shared municipal rent register for the dwelling at an address (an address
    id as the CPR register gives it): tenure, rent, area, rooms, what the rent includes."""
    KIND: ClassVar[str] = "dwelling_request"
    DESTINATION: ClassVar[str] = RENT_REGISTER
    case_id: str
    municipality_code: str
    address_id: str
    register: str = RENT_REGISTER
    requested_by: str = ""


REGISTER_KINDS = (RegisterRequest, PersonRequest, DwellingRequest)


@dataclass(frozen=True, kw_only=True)
class FinalIncomeRequest(Message):
    """Ask the tax authority (Skattestyrelsen) for one citizen's final assessment
    ("slutligning", the årsopgørelse) of one income year: whether it is made yet and the
    income components the benefit acts settle against (adapters/final_assessment/). The
    answer comes back as the receipt; a year not yet assessed is an answer too
    (`status` "not_assessed"), not a failure. Not one of REGISTER_KINDS: its answer is
    not put on the case as register data (the settlement decides what it does)."""
    KIND: ClassVar[str] = "final_income_request"
    DESTINATION: ClassVar[str] = FINAL_ASSESSMENT
    case_id: str
    municipality_code: str
    cpr: str
    income_year: int
    register: str = FINAL_ASSESSMENT
    requested_by: str = ""


@dataclass(frozen=True)
class Payer:
    municipality_code: str
    name: str


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    amount_oere: int
    cpr: str                          # NemKonto: the account is found by CPR
    remittance: str


@dataclass(frozen=True, kw_only=True)
class CreditTransfer(Message):
    """A provider's pending orders of one payer municipality, as one credit transfer
    initiation (pain.001)."""
    KIND: ClassVar[str] = "credit_transfer"
    DESTINATION: ClassVar[str] = PAYMENT_PROVIDER
    provider_id: str
    batch_id: str
    message_identification: str
    created_at: dt.datetime
    payer: Payer
    requested_execution_date: dt.date
    transactions: tuple[Transfer, ...]


@dataclass(frozen=True, kw_only=True)
class Appeal(Message):
    """An upheld complaint forwarded to the appeals authority with the whole case."""
    KIND: ClassVar[str] = "appeal"
    DESTINATION: ClassVar[str] = APPEALS
    complaint_id: str
    case_id: str
    municipality_code: str
    benefit_code: str
    appeals_authority: str
    authority_name: str
    complaint: dict[str, Any]
    statement: dict[str, Any] | None
    reconsideration: dict[str, Any] | None
    decision: dict[str, Any]
    letter: Letter
    case_file: dict[str, Any]


# ---- the municipality's local control unit ("kommunens lokale kontrolenhed") ------------------

# What a register says, or what a grant assumed: a whole number (øre, persons, m²), a text
# (a status such as "dead"), true/false, or null (nothing there).
FactValue = int | str | bool | None


@dataclass(frozen=True, kw_only=True)
class Observation:
    """One fact of a control finding: what the register says against what the grant
    assumed, in one unit. Keyword-only, so the two values cannot change places."""
    name: str                         # the fact, as the case names it (e.g. income.annual, household.adults)
    register_value: FactValue
    assumed_value: FactValue
    unit: str = ""                    # e.g. "øre/år", "øre/måned", "personer"; "" for a status
    source: str = ""                  # the register: income_register, cpr_register, rent_register
    source_reference: str = ""        # the register's reference for the look-up (EI-…, CPR-…, HLR-…)
    label: str = ""                   # the fact in Danish, for the unit's staff


@dataclass(frozen=True, kw_only=True)
class ControlFinding(Message):
    """A hit of the IT control's cross-matching on a case, for the municipality's local
    control unit, which does the physical control. Only what the unit needs (data
    minimisation): the case, the citizen's CPR number (the unit must identify the
    person), the rule that hit, the register's facts against the grant's, the period
    and the money at stake; nothing else from the case file."""
    KIND: ClassVar[str] = "control_finding"
    DESTINATION: ClassVar[str] = CONTROL_UNIT
    finding_id: str
    case_id: str
    municipality_code: str
    benefit_code: str
    cpr: str
    rule_code: str                    # e.g. INCOME_DEVIATION
    rule_title: str                   # Danish, e.g. "Indkomst afviger fra bevillingens forudsætning"
    found_at: dt.datetime             # UTC
    period_start: dt.date             # the months the finding concerns, both ends inclusive
    period_end: dt.date | None = None  # None: still so when found
    observations: tuple[Observation, ...]
    amount_at_stake_oere_per_month: int | None = None  # what the grant may pay too much a month, if known


@dataclass(frozen=True, kw_only=True)
class ControlFindingClosed(Message):
    """A finding the hub has closed, with its outcome, so that the unit stops (or
    files) its control of it. No CPR number: the unit has the finding."""
    KIND: ClassVar[str] = "control_finding_closed"
    DESTINATION: ClassVar[str] = CONTROL_UNIT
    finding_id: str
    case_id: str
    municipality_code: str
    benefit_code: str
    closed_at: dt.datetime            # UTC
    outcome: str                      # as the hub records it (e.g. CONFIRMED, DISMISSED)
    reason: str = ""                  # Danish, short


CONTROL_KINDS = (ControlFinding, ControlFindingClosed)


@dataclass(frozen=True, kw_only=True)
class EventNotice(Message):
    """An event of the event log, relayed to the message broker."""
    KIND: ClassVar[str] = "event"
    DESTINATION: ClassVar[str] = AMQP
    sequence: int
    event_id: str
    type: str
    case_id: str | None
    municipality_code: str | None
    benefit_code: str | None
    occurred_at: dt.datetime
    client_id: str
    payload: dict[str, Any] = field(default_factory=dict)


# ---- JSON <-> message -------------------------------------------------------------------------

_SCALARS = (str, int, float, bool, type(None))


def _encode(v: Any) -> Any:
    # (Most of a payload is plain JSON already, e.g. a case file's register records:
    # those are passed on first.)
    if isinstance(v, _SCALARS):
        return v
    if isinstance(v, dict):
        return {k: _encode(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _encode(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return v


_HINTS: dict[type, dict[str, Any]] = {}


def _decode(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"{where} must be an object")
    if cls is Letter and "document_id" not in data:
        data = _legacy_letter(data)
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise KeyError(f"{where}.{f.name} is missing")
    return cls(**values)


def _value(tp: Any, v: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if v is None:
            return None
        if len(args) == 1:
            return _value(args[0], v, where)
        for arg in args:  # a choice of scalars (FactValue): the first that reads it
            try:
                return _value(arg, v, where)
            except (TypeError, ValueError):
                pass
        raise TypeError(f"{where} must be one of: {', '.join(getattr(a, '__name__', str(a)) for a in args)}")
    if origin is tuple:
        if not isinstance(v, list):
            raise TypeError(f"{where} must be a list")
        item = typing.get_args(tp)[0]
        return tuple(_value(item, x, f"{where}[{i}]") for i, x in enumerate(v))
    if origin is dict or tp is Any:
        if origin is dict and not isinstance(v, dict):
            raise TypeError(f"{where} must be an object")
        return v
    if dataclasses.is_dataclass(tp):
        return _decode(tp, v, where)
    if tp is dt.datetime:
        return dt.datetime.fromisoformat(v)
    if tp is dt.date:
        return dt.date.fromisoformat(v)
    if tp is bool:
        if not isinstance(v, bool):
            raise TypeError(f"{where} must be true or false")
        return v
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{where} must be a whole number")
        return v
    if tp is str:
        if not isinstance(v, str):
            raise TypeError(f"{where} must be text")
        return v
    raise TypeError(f"{where}: no reading for {tp}")


# ---- what an older hub wrote -------------------------------------------------------------------

# Events were relayed without a kind.
_LEGACY_DEFAULT_KIND = {AMQP: EventNotice.KIND}
# Claim postings had a kind per change ("claim_created", ...) and their details in "change".
_LEGACY_CLAIM_KINDS = {"claim_created", "claim_released", "claim_collected", "claim_written_off", "claim_offset_set",
                       "claim_offset_reversed"}
# Letters had a kind per letter.
_LEGACY_LETTER_KINDS = {"decision_letter", "hearing_letter", "complaint_dismissed_letter"}


def _legacy(kind: str) -> type[Message] | None:
    if kind in _LEGACY_CLAIM_KINDS:
        return ClaimPosting
    if kind in _LEGACY_LETTER_KINDS:
        return DigitalPostLetter
    return None


def _legacy_letter(d: dict[str, Any]) -> dict[str, Any]:
    """A letter as an older hub wrote it: its structured parts beside the text."""
    core = ("title", "sender", "recipient_cpr", "case_id", "text", "file_prefix", "document_id")
    return dict({k: d[k] for k in core if k in d}, document_id=d.get("document_id") or d.get("decision_id", ""),
                file_prefix=d.get("file_prefix") or "afgoerelse",
                details={k: v for k, v in d.items() if k not in core and k != "kind"})


def _legacy_claim(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    details = payload.get("change") if isinstance(payload.get("change"), dict) else {}
    out = {k: v for k, v in payload.items() if k not in ("change", "kind")}
    out.update(change=kind.removeprefix("claim_"), change_amount_oere=details.get("amount_oere", 0),
               period=details.get("period", ""), origin=details.get("origin", ""), reason=details.get("reason", ""),
               end_to_end_id=details.get("end_to_end_id", ""), offset_allowed=details.get("offset_allowed"))
    return out
