"""Hearings, reasons, complaints and their deadlines: the steps the law sets around an
adverse decision, as pure rules over the model.

- Hearing (forvaltningsloven § 19): a draft that refuses, partly grants or lowers a
  grant in force, and rests on register data or information from others that the
  citizen has not had the chance to comment on, needs a hearing unless it names an
  exception. A fact has been put to the citizen once a hearing that covered it was
  answered or its deadline passed.
- Reasons and guidance (§§ 22, 25): a decision that does not fully grant carries its
  legal basis and the decisive facts (the reasoning); every decision carries
  complaint guidance.
- Complaints (retssikkerhedsloven § 66): late when received more than 4 weeks after
  the decision was sent; the authority reconsiders within 4 weeks of receipt."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from hub.domain.errors import FailedPrecondition
from hub.domain.model import (Channel, Decision, DecisionSource, InformationItem, InformationSource, Outcome)

COMPLAINT_PERIOD = dt.timedelta(weeks=4)
RECONSIDERATION_PERIOD = dt.timedelta(weeks=4)
# Facts a citizen must be heard on: they did not supply them and may not know them.
HEARING_SOURCES = frozenset({InformationSource.REGISTER, InformationSource.THIRD_PARTY})
ADVERSE_OUTCOMES = frozenset({Outcome.REFUSED, Outcome.PARTLY_GRANTED, Outcome.REPAYMENT})


# ---- hearings --------------------------------------------------------------------------------

class HearingStatus(str, enum.Enum):
    OPEN = "OPEN"
    ANSWERED = "ANSWERED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class Hearing:
    hearing_id: str
    case_id: str
    decision_id: str
    status: HearingStatus
    fact_item_ids: tuple[str, ...]
    intended_outcome: Outcome
    note: str
    started_by: str
    started_at: dt.datetime
    deadline: dt.datetime
    response_item_id: str | None = None
    answered_at: dt.datetime | None = None
    expired_at: dt.datetime | None = None

    def completed(self, now: dt.datetime) -> bool:
        """The citizen has had their say: answered, or the deadline has passed (also
        before the watcher has marked it)."""
        return self.status is not HearingStatus.OPEN or self.deadline <= now

    def waiting(self, now: dt.datetime) -> bool:
        return not self.completed(now)

    def answer(self, item_id: str, at: dt.datetime) -> "Hearing":
        if self.status is HearingStatus.ANSWERED:
            raise FailedPrecondition("the hearing was answered already", reason="HEARING_ALREADY_ANSWERED",
                                     metadata={"hearing_id": self.hearing_id})
        return replace(self, status=HearingStatus.ANSWERED, response_item_id=item_id, answered_at=at)


def hearing_deadline(started_at: dt.datetime, days: int) -> dt.datetime:
    return started_at + dt.timedelta(days=days)


def is_reduction(in_force: Mapping[str, int], granted: Mapping[str, int]) -> bool:
    """A new decision lowers the grant in force when some period in force from its
    effective date gets less than it has now (or nothing)."""
    return any(granted.get(key, 0) < amount for key, amount in in_force.items())


def is_adverse(outcome: Outcome, in_force: Mapping[str, int], granted: Mapping[str, int]) -> bool:
    return outcome in ADVERSE_OUTCOMES or is_reduction(in_force, granted)


def facts_relied_on(decision: Decision, items: Sequence[InformationItem]) -> list[InformationItem]:
    """The decisive facts the draft names, or, if it names none, all the case's information."""
    if decision.decisive_fact_ids:
        wanted = set(decision.decisive_fact_ids)
        return [i for i in items if i.item_id in wanted]
    return list(items)


@dataclass(frozen=True)
class HearingNeed:
    """What stands between a draft and its approval, as far as hearing goes, and
    whether the draft is adverse to the citizen at all."""
    unheard: tuple[str, ...] = ()            # facts never put to the citizen
    waiting_for: Hearing | None = None       # a hearing still open for some of them
    adverse: bool = False

    @property
    def blocks(self) -> bool:
        return bool(self.unheard) or self.waiting_for is not None


def unheard_facts(decision: Decision, items: Sequence[InformationItem], hearings: Iterable[Hearing],
                  now: dt.datetime) -> list[InformationItem]:
    """The register data and information from others the draft rests on that no
    completed hearing has put to the citizen."""
    heard = {f for h in hearings if h.completed(now) for f in h.fact_item_ids}
    return [i for i in facts_relied_on(decision, items) if i.source in HEARING_SOURCES and i.item_id not in heard]


def hearing_need(decision: Decision, adverse: bool, items: Sequence[InformationItem],
                 hearings: Iterable[Hearing], now: dt.datetime) -> HearingNeed:
    if not adverse or decision.hearing_exception is not None or decision.source is not DecisionSource.AUTHORITY:
        return HearingNeed(adverse=adverse)
    hearings = list(hearings)
    pending = [i.item_id for i in unheard_facts(decision, items, hearings, now)]
    waiting = next((h for h in hearings if h.waiting(now) and set(h.fact_item_ids) & set(pending)), None)
    if waiting is not None:
        in_hearing = {f for h in hearings if h.waiting(now) for f in h.fact_item_ids}
        return HearingNeed(tuple(f for f in pending if f not in in_hearing), waiting, adverse=True)
    return HearingNeed(tuple(pending), adverse=True)


def require_hearing_held(need: HearingNeed) -> None:
    if need.waiting_for is not None:
        h = need.waiting_for
        raise FailedPrecondition(
            f"the draft waits for the citizen's answer to a hearing, or its deadline "
            f"({h.deadline.isoformat()})", reason="HEARING_IN_PROGRESS",
            metadata={"hearing_id": h.hearing_id, "deadline": h.deadline.isoformat()})
    if need.unheard:
        raise FailedPrecondition(
            "the draft is adverse and rests on facts the citizen has not commented on (register data or "
            "information from others): hold a hearing (StartHearing) or name an exception (forvaltningsloven § 19)",
            reason="HEARING_REQUIRED", metadata={"unheard_fact_ids": ",".join(need.unheard)})


# ---- reasons and guidance ---------------------------------------------------------------------

ADVERSE_NEEDS_REASONS = ("reasoning", "legal_basis")


def adverse_without_reasons(decision: Decision, adverse: bool) -> list[str]:
    """The parts an adverse decision (a refusal, a partial grant, or a grant lower than
    the one in force) lacks of its reasons: the decisive facts and the assessment
    (reasoning) and the legal basis (forvaltningsloven §§ 22, 24)."""
    if not (adverse or decision.outcome is not Outcome.GRANTED):
        return []
    return [name for name in ADVERSE_NEEDS_REASONS if not getattr(decision, name).strip()]


def missing_reasons(decision: Decision, adverse: bool = False) -> list[str]:
    """The parts a decision letter lacks: an adverse decision gives its legal basis and
    its reasons; every decision complaint guidance."""
    missing = sorted(adverse_without_reasons(decision, adverse))
    if not decision.complaint_guidance.strip():
        missing.append("complaint_guidance")
    return missing


def require_reasons(decision: Decision, adverse: bool = False) -> None:
    missing = missing_reasons(decision, adverse)
    if missing:
        named = {"legal_basis": "the legal basis", "reasoning": "the reasons (the decisive facts)",
                 "complaint_guidance": "complaint guidance (the catalogue names no appeals authority)"}
        raise FailedPrecondition(
            "the decision cannot be approved without " + " and ".join(named[m] for m in missing),
            reason="DECISION_LACKS_REASONS", metadata={"missing": ",".join(missing)})


# ---- complaints -------------------------------------------------------------------------------

class ComplaintStatus(str, enum.Enum):
    RECEIVED = "RECEIVED"
    DISMISSED_AS_LATE = "DISMISSED_AS_LATE"
    RESOLVED_BY_RECONSIDERATION = "RESOLVED_BY_RECONSIDERATION"
    FORWARDED = "FORWARDED"
    APPEAL_DECIDED = "APPEAL_DECIDED"


class LateDecision(str, enum.Enum):
    ACCEPTED = "ACCEPTED"
    DISMISSED = "DISMISSED"


class ReconsiderationOutcome(str, enum.Enum):
    CHANGED = "CHANGED"
    UPHELD = "UPHELD"


class AppealOutcome(str, enum.Enum):
    UPHELD = "UPHELD"
    CHANGED = "CHANGED"
    REMITTED = "REMITTED"
    DISMISSED = "DISMISSED"


@dataclass(frozen=True)
class LateRuling:
    decision: LateDecision
    reason: str
    by_client: str
    at: dt.datetime


@dataclass(frozen=True)
class Statement:
    text: str
    by_client: str
    at: dt.datetime


@dataclass(frozen=True)
class Reconsideration:
    outcome: ReconsiderationOutcome
    note: str
    by_client: str
    at: dt.datetime
    new_decision_id: str = ""
    overdue: bool = False


@dataclass(frozen=True)
class AppealDecision:
    outcome: AppealOutcome
    appeal_reference: str
    decided_on: dt.date | None
    note: str
    recorded_by: str
    recorded_at: dt.datetime
    new_decision_id: str = ""


@dataclass(frozen=True)
class Complaint:
    complaint_id: str
    case_id: str
    decision_id: str
    status: ComplaintStatus
    channel: Channel
    received_at: dt.datetime
    grounds: str
    external_reference: str
    filed_by: str
    filed_at: dt.datetime
    late: bool
    reconsider_by: dt.datetime
    late_ruling: LateRuling | None = None
    statement: Statement | None = None
    reconsideration: Reconsideration | None = None
    forwarded_at: dt.datetime | None = None
    forwarded_reference: str | None = None
    appeal: AppealDecision | None = None

    # -- the steps ----------------------------------------------------------------------

    def require_status(self, status: ComplaintStatus, action: str) -> None:
        if self.status is not status:
            raise FailedPrecondition(f"{action} is not possible: the complaint is {self.status.value}",
                                     reason="ILLEGAL_COMPLAINT_STEP",
                                     metadata={"complaint_status": self.status.value, "action": action})

    def rule_on_lateness(self, ruling: LateRuling) -> "Complaint":
        self.require_status(ComplaintStatus.RECEIVED, "DecideLateComplaint")
        if not self.late:
            raise FailedPrecondition("the complaint was filed in time", reason="COMPLAINT_NOT_LATE")
        if self.late_ruling is not None:
            raise FailedPrecondition("the authority has decided on the late complaint already",
                                     reason="LATE_COMPLAINT_ALREADY_DECIDED",
                                     metadata={"decision": self.late_ruling.decision.value})
        status = ComplaintStatus.DISMISSED_AS_LATE if ruling.decision is LateDecision.DISMISSED else self.status
        return replace(self, late_ruling=ruling, status=status)

    def with_statement(self, statement: Statement) -> "Complaint":
        self.require_status(ComplaintStatus.RECEIVED, "SubmitStatement")
        if self.statement is not None:
            raise FailedPrecondition("the statement was submitted already", reason="STATEMENT_ALREADY_SUBMITTED")
        return replace(self, statement=statement)

    def reconsider(self, r: Reconsideration) -> "Complaint":
        self.require_status(ComplaintStatus.RECEIVED, "Reconsider")
        if self.late and self.late_ruling is None:
            raise FailedPrecondition("the complaint is late: accept or dismiss it first (DecideLateComplaint)",
                                     reason="LATE_COMPLAINT_UNDECIDED")
        if r.outcome is ReconsiderationOutcome.UPHELD and self.statement is None:
            raise FailedPrecondition("an upheld complaint goes on with the back office's statement: none yet "
                                     "(SubmitStatement)", reason="STATEMENT_MISSING")
        r = replace(r, overdue=r.at > self.reconsider_by)
        status = (ComplaintStatus.RESOLVED_BY_RECONSIDERATION if r.outcome is ReconsiderationOutcome.CHANGED
                  else ComplaintStatus.FORWARDED)
        return replace(self, reconsideration=r, status=status, forwarded_at=r.at if status is
                       ComplaintStatus.FORWARDED else None)

    def record_appeal(self, a: AppealDecision) -> "Complaint":
        self.require_status(ComplaintStatus.FORWARDED, "RecordAppealOutcome")
        return replace(self, appeal=a, status=ComplaintStatus.APPEAL_DECIDED)

    @property
    def awaiting_reconsideration(self) -> bool:
        return (self.status is ComplaintStatus.RECEIVED and self.statement is not None
                and not (self.late and self.late_ruling is None))


def is_late(sent_at: dt.datetime, received_at: dt.datetime) -> bool:
    return received_at > sent_at + COMPLAINT_PERIOD


def reconsider_by(received_at: dt.datetime) -> dt.datetime:
    return received_at + RECONSIDERATION_PERIOD


class OverdueKind(str, enum.Enum):
    PROCESSING_DEADLINE = "PROCESSING_DEADLINE"
    HEARING_DEADLINE = "HEARING_DEADLINE"
    RECONSIDERATION = "RECONSIDERATION"


@dataclass(frozen=True)
class OverdueItem:
    kind: OverdueKind
    case_id: str
    municipality_code: str
    benefit_code: str
    subject_id: str
    due_at: dt.datetime
    authority_key: str
