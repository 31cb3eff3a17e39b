"""The case model: benefits, cases, information, decisions, and the state machine."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, replace
from typing import Any

from hub.domain import municipalities
from hub.domain.errors import FailedPrecondition


class Channel(str, enum.Enum):
    SELF_SERVICE = "SELF_SERVICE"
    LETTER = "LETTER"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    IN_PERSON = "IN_PERSON"


class Origin(str, enum.Enum):
    BORGERSERVICE = "BORGERSERVICE"
    BACK_OFFICE = "BACK_OFFICE"


def origin_of(channel: Channel) -> Origin:
    """In person is the municipality's citizen service; every other channel the back office."""
    return Origin.BORGERSERVICE if channel is Channel.IN_PERSON else Origin.BACK_OFFICE


class CaseStatus(str, enum.Enum):
    CREATED = "CREATED"
    INFORMING = "INFORMING"
    DRAFT_PENDING_APPROVAL = "DRAFT_PENDING_APPROVAL"
    DECIDED = "DECIDED"
    WITHDRAWN = "WITHDRAWN"


OPEN_STATUSES = frozenset({CaseStatus.CREATED, CaseStatus.INFORMING, CaseStatus.DRAFT_PENDING_APPROVAL})

# The legal moves of a case, after the phases of the municipal model.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.CREATED: frozenset({CaseStatus.INFORMING, CaseStatus.WITHDRAWN}),
    CaseStatus.INFORMING: frozenset({CaseStatus.DRAFT_PENDING_APPROVAL, CaseStatus.WITHDRAWN}),
    CaseStatus.DRAFT_PENDING_APPROVAL: frozenset({CaseStatus.DECIDED, CaseStatus.INFORMING, CaseStatus.WITHDRAWN}),
    # A decided case takes a new decision (a change or recalculation): a new draft; or
    # the appeals authority remits it ("hjemvisning"): back to informing.
    CaseStatus.DECIDED: frozenset({CaseStatus.DRAFT_PENDING_APPROVAL, CaseStatus.INFORMING}),
    CaseStatus.WITHDRAWN: frozenset(),
}


def check_transition(current: CaseStatus, target: CaseStatus, action: str) -> None:
    if target not in TRANSITIONS[current]:
        raise FailedPrecondition(
            f"{action} is not possible: the case is {current.value}",
            reason="ILLEGAL_CASE_TRANSITION",
            metadata={"current_status": current.value, "requested_status": target.value},
        )


class Sensitivity(str, enum.Enum):
    """How carefully a case must be kept, lowest first. A client sees a case only up to
    its own highest sensitivity (its data limit); protected persons (name and address
    protection) only with that limit."""
    NOT_CONFIDENTIAL = "NOT_CONFIDENTIAL"
    CONFIDENTIAL = "CONFIDENTIAL"
    SENSITIVE_PERSONAL_DATA = "SENSITIVE_PERSONAL_DATA"
    PROTECTED_PERSON = "PROTECTED_PERSON"

    @property
    def rank(self) -> int:
        return _SENSITIVITY_RANKS[self]

    def at_most(self) -> list["Sensitivity"]:
        return [s for s in Sensitivity if s.rank <= self.rank]


_SENSITIVITY_RANKS = {s: n for n, s in enumerate(Sensitivity)}  # (listing an enum costs more than the check)


class Recurrence(str, enum.Enum):
    MONTHLY = "MONTHLY"
    ONE_OFF = "ONE_OFF"
    PER_PERIOD = "PER_PERIOD"


class PeriodKind(str, enum.Enum):
    """What a granted amount is per: a calendar month (monthly benefits), a week of a
    period (per-period benefits, pro rata), or one payment (one-off benefits)."""
    MONTH = "MONTH"
    WEEK = "WEEK"
    PAYMENT = "PAYMENT"


@dataclass(frozen=True)
class AmountLimit:
    """The catalogue's plausible maximum of one granted amount per period kind: no
    legitimate grant exceeds it (a sanity ceiling, not the legal maximum), with the
    basis it was set on."""
    per: PeriodKind
    max_oere: int
    basis: str = ""


class AuthorityKind(str, enum.Enum):
    HOME_MUNICIPALITY = "HOME_MUNICIPALITY"
    CENTRAL = "CENTRAL"


@dataclass(frozen=True)
class Authority:
    kind: AuthorityKind
    municipality_code: str = ""
    central_authority_code: str = ""
    name: str = ""

    @property
    def key(self) -> str:
        if self.kind is AuthorityKind.HOME_MUNICIPALITY:
            return f"municipality:{self.municipality_code}"
        return f"central:{self.central_authority_code}"


@dataclass(frozen=True)
class Benefit:
    code: str
    name_da: str
    name_en: str
    kle_number: str
    processing_deadline_days: int
    discretion_possible: bool
    recurrence: Recurrence
    retention_years: int
    ledger_account: str
    authority_kind: AuthorityKind
    central_authority_code: str = ""
    central_authority_name: str = ""
    # The citizen's days to comment in a hearing, and who decides upheld complaints.
    hearing_deadline_days: int = 14
    appeals_authority_name: str = "Ankestyrelsen"
    amount_limits: tuple[AmountLimit, ...] = ()
    # Applications the hub processes on its own (registers, calculated draft, automatic
    # approval where the rules allow it); the rest wait for the back office.
    automatic_processing: bool = False

    def amount_limit(self, per: PeriodKind) -> AmountLimit | None:
        return next((x for x in self.amount_limits if x.per is per), None)

    def authority_for(self, municipality_code: str) -> Authority:
        if self.authority_kind is AuthorityKind.HOME_MUNICIPALITY:
            m = municipalities.get(municipality_code)
            return Authority(AuthorityKind.HOME_MUNICIPALITY, municipality_code=municipality_code,
                             name=m.authority_name if m else municipality_code)
        return Authority(AuthorityKind.CENTRAL, central_authority_code=self.central_authority_code,
                         name=self.central_authority_name)


def authority_from_key(key: str) -> Authority:
    kind, _, code = key.partition(":")
    if kind == "municipality":
        m = municipalities.get(code)
        return Authority(AuthorityKind.HOME_MUNICIPALITY, municipality_code=code,
                         name=m.authority_name if m else code)
    return Authority(AuthorityKind.CENTRAL, central_authority_code=code, name=code)


@dataclass(frozen=True)
class StatusChange:
    from_status: CaseStatus | None
    to_status: CaseStatus
    at: dt.datetime
    by_client: str
    reason: str = ""


@dataclass
class Case:
    case_id: str
    municipality_code: str
    cpr: str
    benefit_code: str
    channel: Channel
    origin: Origin
    status: CaseStatus
    received_at: dt.datetime
    created_at: dt.datetime
    processing_deadline: dt.datetime
    applicant_statement: dict[str, Any]
    external_reference: str
    authority_key: str
    created_by: str
    updated_at: dt.datetime
    archive_reference: str | None = None
    sensitivity: Sensitivity = Sensitivity.NOT_CONFIDENTIAL
    # Automatic processing (hub.domain.automation.Automation): None when a person
    # processes the case; FELL_OUT with the reason when it left the automatic path.
    automation: str | None = None
    fallout_reason: str | None = None
    fallout_detail: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def require_open(self, action: str) -> None:
        """Information may be added while the case is open, and to a decided case (for a
        later change or recalculation); not to a withdrawn one."""
        if self.status is CaseStatus.WITHDRAWN:
            raise FailedPrecondition(f"{action} is not possible: the case is {self.status.value}",
                                     reason="ILLEGAL_CASE_TRANSITION", metadata={"current_status": self.status.value})

    def move(self, target: CaseStatus, *, action: str, at: dt.datetime, by: str, reason: str = "") -> StatusChange:
        check_transition(self.status, target, action)
        change = StatusChange(self.status, target, at, by, reason)
        self.status = target
        self.updated_at = at
        return change


class InformationSource(str, enum.Enum):
    CITIZEN = "CITIZEN"
    REGISTER = "REGISTER"
    AUTHORITY = "AUTHORITY"
    THIRD_PARTY = "THIRD_PARTY"
    BACK_OFFICE = "BACK_OFFICE"


@dataclass(frozen=True)
class InformationItem:
    item_id: str
    case_id: str
    source: InformationSource
    source_reference: str
    kind: str
    value: Any
    discretionary: bool
    supplied_by: str
    added_at: dt.datetime


class Outcome(str, enum.Enum):
    GRANTED = "GRANTED"
    PARTLY_GRANTED = "PARTLY_GRANTED"
    REFUSED = "REFUSED"
    REPAYMENT = "REPAYMENT"   # the citizen must pay back an amount paid out (a claim on approval)


class DecisionStatus(str, enum.Enum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    RETURNED = "RETURNED"
    CANCELLED = "CANCELLED"  # the case was withdrawn while the draft waited


class ApprovalMode(str, enum.Enum):
    MANUAL = "MANUAL"
    AUTOMATIC = "AUTOMATIC"
    RECORDED = "RECORDED"  # made elsewhere (the appeals authority), recorded by the hub


class DecisionSource(str, enum.Enum):
    AUTHORITY = "AUTHORITY"
    APPEALS_AUTHORITY = "APPEALS_AUTHORITY"


class HearingException(str, enum.Enum):
    """Why an adverse decision may be made without hearing the citizen (forvaltningsloven § 19)."""
    FACTS_KNOWN_TO_CITIZEN = "FACTS_KNOWN_TO_CITIZEN"
    NOT_ESSENTIAL = "NOT_ESSENTIAL"
    CANNOT_WAIT = "CANNOT_WAIT"
    STATUTORY = "STATUTORY"
    OTHER = "OTHER"


@dataclass(frozen=True)
class PeriodAmount:
    amount_oere: int
    period_start: dt.date
    period_end: dt.date


@dataclass(frozen=True)
class Repayment:
    """What a decision makes the citizen pay back: `amount_oere` for the months from
    `period_start` to `period_end`, offset against later payments if `offset_allowed`."""
    amount_oere: int
    period_start: dt.date
    period_end: dt.date
    offset_allowed: bool


@dataclass(frozen=True)
class DiscretionaryPoint:
    topic: str
    assessment: str


@dataclass(frozen=True)
class Approval:
    mode: ApprovalMode
    by_client: str
    authority_key: str
    at: dt.datetime
    note: str = ""
    amended: bool = False
    original_amounts: tuple[PeriodAmount, ...] = ()
    original_points: tuple[DiscretionaryPoint, ...] = ()


@dataclass(frozen=True)
class Return:
    by_client: str
    at: dt.datetime
    reason: str


AUTOMATIC_APPROVER = "hub"


@dataclass(frozen=True)
class Decision:
    decision_id: str
    case_id: str
    status: DecisionStatus
    outcome: Outcome
    amounts: tuple[PeriodAmount, ...]
    reasoning: str
    legal_basis: str
    discretionary_points: tuple[DiscretionaryPoint, ...]
    submitted_by: str
    submitted_at: dt.datetime
    approval: Approval | None = None
    returned: Return | None = None
    # When the letter reached Digital Post; the complaint deadline counts from it.
    sent_at: dt.datetime | None = None
    letter_reference: str | None = None
    # From when it governs payments (an earlier grant stays in force before it), and
    # the later decision that replaced it.
    effective_from: dt.date | None = None
    superseded_by: str | None = None
    # The information items it rests on (none named: all the case's information).
    decisive_fact_ids: tuple[str, ...] = ()
    hearing_exception: HearingException | None = None
    hearing_exception_note: str = ""
    # The complaint guidance its letter carries (to whom, how, within 4 weeks).
    complaint_guidance: str = ""
    source: DecisionSource = DecisionSource.AUTHORITY
    # The calculation by the benefit rules the draft accepted or departed from, in its
    # stored form (hub.domain.rules.calculation_to_dict), with a departure's reason.
    calculation: dict[str, Any] | None = None
    # What the citizen must pay back: a repayment decision's own; for a decision that
    # lowers a grant for months already paid, what that overpaid (set on approval).
    repayment: Repayment | None = None
    # The draft let an overpayment it causes be offset against later payments.
    offset_repayment: bool = False
    # The last day it governs payments (None: until a later decision).
    effective_to: dt.date | None = None
    # A final settlement's decision: the income year it settles against the final income.
    settlement_year: int | None = None

    @property
    def governs(self) -> tuple[dt.date | None, dt.date | None]:
        """From when (its effective date, else its first period) to when (None: open)
        the decision governs payments; (None, None) for one that governs none."""
        start = self.effective_from or min((a.period_start for a in self.amounts), default=None)
        return start, self.effective_to

    @property
    def departs_from_calculation(self) -> bool:
        return bool(self.calculation and self.calculation.get("departure_reason"))

    def approve(self, approval: Approval, amounts: tuple[PeriodAmount, ...] | None = None,
                points: tuple[DiscretionaryPoint, ...] | None = None) -> "Decision":
        self.require_pending("approved")
        return replace(self, status=DecisionStatus.APPROVED, approval=approval,
                       amounts=self.amounts if amounts is None else amounts,
                       discretionary_points=self.discretionary_points if points is None else points)

    def return_to_back_office(self, ret: Return) -> "Decision":
        self.require_pending("returned")
        return replace(self, status=DecisionStatus.RETURNED, returned=ret)

    def cancel(self) -> "Decision":
        self.require_pending("cancelled")
        return replace(self, status=DecisionStatus.CANCELLED)

    def require_pending(self, verb: str) -> None:
        if self.status is not DecisionStatus.PENDING_APPROVAL:
            raise FailedPrecondition(
                f"the decision cannot be {verb}: it is {self.status.value}",
                reason="DECISION_NOT_PENDING", metadata={"decision_status": self.status.value})


def may_approve_automatically(benefit: Benefit, points: tuple[DiscretionaryPoint, ...],
                              other_open_cases_at_municipality: int, *, departs_from_calculation: bool = False) -> bool:
    """Pure objective cases are approved on the authority's behalf: the benefit allows
    no discretion, the draft has no discretionary points and does not depart from the
    rules' calculation, and the citizen has no other open case at the same municipality."""
    return ((not benefit.discretion_possible) and not points and other_open_cases_at_municipality == 0
            and not departs_from_calculation)


@dataclass(frozen=True)
class Event:
    """One entry for the append-only event log; `seq` is assigned at commit."""
    type: str
    case_id: str
    municipality_code: str
    benefit_code: str
    occurred_at: dt.datetime
    client_id: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboxMessage:
    """A message to an external system, written in the same transaction as its cause.
    `message_id` is stable: the receiving adapter is idempotent on it."""
    message_id: str
    destination: str
    case_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CaseView:
    """A case with everything GetCase shows."""
    case: Case
    information: tuple[InformationItem, ...] = ()
    decisions: tuple[Decision, ...] = ()
    history: tuple[StatusChange, ...] = ()
    payments: Any = None  # hub.domain.payments.PaymentHistory, on GetCase
    hearings: tuple[Any, ...] = ()    # hub.domain.complaints.Hearing
    complaints: tuple[Any, ...] = ()  # hub.domain.complaints.Complaint
