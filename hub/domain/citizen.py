"""The citizen's own case, as the citizen portal shows it to the logged-in citizen and
acts for them (issue 28): whose case a portal call is about (always the citizen its
signed assertion names, never a CPR it merely passes), how the portal applies and
answers, and what happens next on a case and by when."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace
from typing import Any, Sequence

from hub.domain import cpr as cpr_rules
from hub.domain.commands import CreateCase
from hub.domain.complaints import COMPLAINT_PERIOD, Complaint, ComplaintStatus, Hearing, HearingStatus
from hub.domain.errors import FieldViolation, InvalidArgument, PermissionDenied
from hub.domain.identity import Identity, Role
from hub.domain.model import OPEN_STATUSES, Authority, Case, Channel, Decision, DecisionStatus


def the_citizen(identity: Identity, requested: str, today: dt.date) -> str:
    """The CPR a citizen-portal call is about: the assertion's. A `cpr` the request
    still carries (deprecated) must be that same citizen's; it is never trusted."""
    if not requested:
        return identity.citizen or ""
    problem = cpr_rules.problem(requested, today)
    if problem:
        raise InvalidArgument([FieldViolation("cpr", problem)])
    if cpr_rules.normalise(requested) != identity.citizen:
        raise PermissionDenied("the citizen portal acts only for the logged-in citizen: leave cpr out (it is taken "
                               "from the signed assertion) or give theirs", reason="NOT_THE_CITIZEN")
    return identity.citizen or ""


def application(identity: Identity, c: CreateCase, today: dt.date) -> CreateCase:
    """The portal's application: the logged-in citizen's own, by self-service, received now."""
    cpr = the_citizen(identity, c.cpr, today)
    return replace(c, cpr=cpr, channel=self_service(c.channel), received_at=received_now(c.received_at))


def received_now(received_at: dt.datetime | None) -> None:
    """What the portal sends is received when the hub receives it: a portal may not date
    an application, an answer or a complaint back (into a deadline, or a grant's start)."""
    if received_at is not None:
        raise InvalidArgument([FieldViolation("received_time", "is set by the hub for the citizen portal (leave it "
                                                               "unset)")])
    return None


def self_service(channel: Channel | None) -> Channel:
    """What reaches the hub through the citizen portal comes by self-service."""
    if channel not in (None, Channel.SELF_SERVICE):
        raise InvalidArgument([FieldViolation("channel", "the citizen portal acts by CHANNEL_SELF_SERVICE (or leave "
                                                         "it unspecified)")])
    return Channel.SELF_SERVICE


class NextStepKind(str, enum.Enum):
    DECISION = "DECISION"                  # the authority decides, by the processing deadline
    ANSWER_HEARING = "ANSWER_HEARING"      # the citizen may comment, by the hearing's deadline
    RECONSIDERATION = "RECONSIDERATION"    # the authority reconsiders a complaint, by then
    APPEAL = "APPEAL"                      # the appeals authority decides a forwarded complaint
    COMPLAINT_POSSIBLE = "COMPLAINT_POSSIBLE"  # the citizen may complain of a decision, until then


@dataclass(frozen=True)
class NextStep:
    kind: NextStepKind
    text: str                          # what happens next, in Danish, as the portal may show it
    due: dt.datetime | None            # by when (None: no deadline the hub knows)
    subject_id: str                    # the case, hearing, complaint or decision it is about
    overdue: bool = False              # the date has passed and it has not happened


@dataclass(frozen=True)
class SentLetter:
    """A letter to the citizen on the case (Digital Post), as the portal lists it."""
    letter_kind: str                   # decision_letter, hearing_letter, complaint_dismissed_letter
    title: str
    document_id: str                   # the letter's own reference (the decision's, the hearing's id)
    created_at: dt.datetime            # when the hub wrote it
    sent_at: dt.datetime | None        # when Digital Post had it (None: on its way)
    reference: str                     # Digital Post's reference for a decision letter, else ""
    decision_id: str = ""
    hearing_id: str = ""
    complaint_id: str = ""


@dataclass(frozen=True)
class CitizenCase:
    """Everything the portal shows a citizen of one of their cases."""
    case: Case
    authority: Authority
    next_steps: tuple[NextStep, ...]
    letters: tuple[SentLetter, ...]
    decisions: tuple[Decision, ...]        # approved decisions only (a draft is not a decision yet)
    hearings: tuple[Hearing, ...]
    complaints: tuple[Complaint, ...]
    payments: Any                          # hub.domain.payments.PaymentHistory


def complaint_deadline(decision: Decision) -> dt.datetime | None:
    """A sent decision may be complained of for 4 weeks from its sending."""
    return decision.sent_at + COMPLAINT_PERIOD if decision.sent_at is not None else None


def decisions_shown(decisions: Sequence[Decision]) -> tuple[Decision, ...]:
    return tuple(d for d in decisions if d.status is DecisionStatus.APPROVED)


def next_steps(case: Case, decisions: Sequence[Decision], hearings: Sequence[Hearing],
               complaints: Sequence[Complaint], now: dt.datetime) -> tuple[NextStep, ...]:
    """What happens next on the case and by when, soonest first."""
    steps: list[NextStep] = []
    for h in hearings:
        if h.status is HearingStatus.OPEN and h.deadline > now:
            steps.append(NextStep(NextStepKind.ANSWER_HEARING, "Du kan komme med bemærkninger til partshøringen",
                                  h.deadline, h.hearing_id))
    if case.status in OPEN_STATUSES:
        steps.append(NextStep(NextStepKind.DECISION, "Myndigheden træffer afgørelse i sagen", case.processing_deadline,
                              case.case_id, overdue=case.processing_deadline <= now))
    complained = set()
    for c in complaints:
        complained.add(c.decision_id)
        if c.status is ComplaintStatus.RECEIVED:
            steps.append(NextStep(NextStepKind.RECONSIDERATION, "Myndigheden genvurderer afgørelsen efter din klage",
                                  c.reconsider_by, c.complaint_id, overdue=c.reconsider_by <= now))
        elif c.status is ComplaintStatus.FORWARDED:
            steps.append(NextStep(NextStepKind.APPEAL, "Ankestyrelsen behandler din klage", None, c.complaint_id))
    for d in decisions_shown(decisions):
        until = complaint_deadline(d)
        if until is not None and until > now and d.decision_id not in complained:
            steps.append(NextStep(NextStepKind.COMPLAINT_POSSIBLE, "Du kan klage over afgørelsen", until,
                                  d.decision_id))
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    return tuple(sorted(steps, key=lambda s: s.due or far))


def by_citizen(role: str, outcome: str) -> bool:
    """An audit entry that is the citizen's own look or act through the portal: a call
    the portal made for the citizen it acts for (no other) and the hub let through. A
    refused portal call on the citizen's case may be another citizen's try: not marked.
    (hub.store.audit.entries applies the same rule as SQL for `others_only`.)"""
    return role == Role.CITIZEN_PORTAL.value and outcome == "OK"
