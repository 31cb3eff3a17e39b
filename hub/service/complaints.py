"""Complaints (retssikkerhedsloven § 66): filed on a sent decision, a late one accepted
or dismissed by the authority, the back office's statement, the authority's
reconsideration (changed, or upheld and forwarded to the appeals authority), and the
appeals authority's outcome. Every step is archived with the case and raises an event;
and what is overdue, for the authority and the back office."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Callable

from hub.domain import commands as cmd
from hub.domain import complaints as cp
from hub.domain import documents, paging
from hub.domain.audit import AuditEntry
from hub.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Violations
from hub.domain.citizen import received_now, self_service
from hub.domain.identity import Identity, Role
from hub.domain.ids import new_id
from hub.domain.model import (Approval, ApprovalMode, Case, CaseStatus, CaseView, Decision, DecisionSource,
                              DecisionStatus)
from hub.ports import messages as msg
from hub.service import decisions, payments
from hub.service.access import authority_of, case_in_scope, event, require_authority
from hub.service.steps import archive_step, move_case, send_letter
from hub.store.uow import UnitOfWork

Step = Callable[[UnitOfWork, Case, cp.Complaint, dt.datetime], cp.Complaint]


def _in_scope(uow: UnitOfWork, identity: Identity, complaint_id: str, *,
              authority: bool = False) -> tuple[cp.Complaint, Case]:
    complaint = uow.complaints.get(complaint_id, lock=True) if complaint_id else None
    case = case_in_scope(uow, identity, complaint.case_id, for_update=True) if complaint else None
    if complaint is None or case is None:
        raise NotFound("complaint not found", reason="COMPLAINT_NOT_FOUND", metadata={"complaint_id": complaint_id})
    if authority:
        require_authority(identity, case, "decides on its complaints")
    return complaint, case


def _step(uow: UnitOfWork, identity: Identity, complaint_id: str, now: dt.datetime, step: Step, *,
          authority: bool = False) -> tuple[tuple[cp.Complaint, Case], Case]:
    """Load the complaint in scope, let `step` change it (and write what it causes), keep it."""
    complaint, case = _in_scope(uow, identity, complaint_id, authority=authority)
    changed = step(uow, case, complaint, now)
    uow.complaints.save(changed)
    return (changed, case), case


def file_complaint(uow: UnitOfWork, identity: Identity, c: cmd.FileComplaint,
                   now: dt.datetime) -> tuple[tuple[cp.Complaint, Case], Case]:
    if identity.role is Role.CITIZEN_PORTAL:  # the logged-in citizen, through the portal
        c = replace(c, channel=self_service(c.channel), received_at=received_now(c.received_at))
    received = c.validated(now)
    decision = uow.decisions.get(c.decision_id)
    case = case_in_scope(uow, identity, decision.case_id, for_update=True) if decision else None
    if decision is None or case is None:
        raise NotFound("decision not found", reason="DECISION_NOT_FOUND", metadata={"decision_id": c.decision_id})
    if decision.status is not DecisionStatus.APPROVED or decision.sent_at is None:
        raise FailedPrecondition("a complaint is filed on a decision that was sent to the citizen; this one has not "
                                 "been sent", reason="DECISION_NOT_SENT",
                                 metadata={"decision_status": decision.status.value})
    if received < decision.sent_at - cmd.CLOCK_SKEW:
        raise InvalidArgument([FieldViolation(
            "received_time", f"must not be before the decision was sent ({decision.sent_at.isoformat()}): a "
                             f"complaint is about a decision the citizen has received")])
    other = uow.complaints.open_on(decision.decision_id)
    if other:
        raise FailedPrecondition("a complaint on this decision is open already", reason="COMPLAINT_ALREADY_OPEN",
                                 metadata={"complaint_id": other})
    complaint = cp.Complaint(new_id(), case.case_id, decision.decision_id, cp.ComplaintStatus.RECEIVED, c.channel,
                             received, c.grounds, c.external_reference, identity.client_id, now,
                             cp.is_late(decision.sent_at, received), cp.reconsider_by(received))
    uow.complaints.add(complaint)
    archive_step(uow, case, now, f"complaint-{complaint.complaint_id}", "complaint", "Klage", complaint)
    uow.events.record(event(case, "complaint.filed", now, identity.client_id, complaint_id=complaint.complaint_id,
                            decision_id=decision.decision_id, late=complaint.late,
                            reconsider_by=complaint.reconsider_by.isoformat()))
    return (complaint, case), case


def decide_late_complaint(uow: UnitOfWork, identity: Identity, c: cmd.DecideLateComplaint,
                          now: dt.datetime) -> tuple[tuple[cp.Complaint, Case], Case]:
    c.validate()
    ruling_kind = cp.LateDecision.ACCEPTED if c.accept else cp.LateDecision.DISMISSED

    def step(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime) -> cp.Complaint:
        changed = complaint.rule_on_lateness(cp.LateRuling(ruling_kind, c.reason, identity.client_id, now))
        if ruling_kind is cp.LateDecision.DISMISSED:
            letter = documents.simple_letter(
                case, authority_of(uow, case), "Din klage er afvist",
                f"Vi har modtaget din klage for sent (mere end 4 uger efter, at du fik afgørelsen), og vi behandler "
                f"den ikke. Begrundelse: {c.reason}",
                document_id=complaint.complaint_id, file_prefix="klage-afvist", decision_id=complaint.decision_id)
            send_letter(uow, case, now, f"complaint/{complaint.complaint_id}/dismissed", "complaint_dismissed_letter",
                        letter, complaint_id=complaint.complaint_id)
        archive_step(uow, case, now, f"complaint-{complaint.complaint_id}-late", "late_complaint_ruling",
                     "Afgørelse om klage modtaget for sent", changed.late_ruling)
        uow.events.record(event(case, "complaint.late_decided", now, identity.client_id,
                                complaint_id=complaint.complaint_id, decision=ruling_kind.value))
        return changed

    return _step(uow, identity, c.complaint_id, now, step, authority=True)


def submit_statement(uow: UnitOfWork, identity: Identity, c: cmd.SubmitStatement,
                     now: dt.datetime) -> tuple[tuple[cp.Complaint, Case], Case]:
    c.validate()

    def step(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime) -> cp.Complaint:
        changed = complaint.with_statement(cp.Statement(c.text, identity.client_id, now))
        archive_step(uow, case, now, f"complaint-{complaint.complaint_id}-statement", "statement", "Redegørelse",
                     changed.statement)
        uow.events.record(event(case, "complaint.statement_submitted", now, identity.client_id,
                                complaint_id=complaint.complaint_id))
        return changed

    return _step(uow, identity, c.complaint_id, now, step)


def reconsider(uow: UnitOfWork, identity: Identity, c: cmd.Reconsider,
               now: dt.datetime) -> tuple[tuple[cp.Complaint, Case], Case]:
    c.validate()

    def step(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime) -> cp.Complaint:
        new_decision_id = ""
        if c.changed:
            new_decision_id = _changed_decision(uow, identity, case, complaint, c.decision_id, c.note, now)
        outcome = cp.ReconsiderationOutcome.CHANGED if c.changed else cp.ReconsiderationOutcome.UPHELD
        changed = complaint.reconsider(cp.Reconsideration(outcome, c.note, identity.client_id, now, new_decision_id))
        if outcome is cp.ReconsiderationOutcome.UPHELD:
            _forward(uow, case, changed, now)
        archive_step(uow, case, now, f"complaint-{complaint.complaint_id}-reconsideration", "reconsideration",
                     "Genvurdering", changed.reconsideration)
        uow.events.record(event(case, "complaint.reconsidered", now, identity.client_id,
                                complaint_id=complaint.complaint_id, outcome=outcome.value,
                                new_decision_id=new_decision_id, overdue=changed.reconsideration.overdue))
        return changed

    return _step(uow, identity, c.complaint_id, now, step, authority=True)


def _changed_decision(uow: UnitOfWork, identity: Identity, case: Case, complaint: cp.Complaint, decision_id: str,
                      note: str, now: dt.datetime) -> str:
    """The new decision a reconsideration changes to: a draft on the case, approved now
    through the decision path, or a decision approved since the complaint came."""
    d = uow.decisions.get(decision_id, for_update=True)
    if d is None or d.case_id != case.case_id:
        raise InvalidArgument([FieldViolation("decision_id", "is not a decision on the complaint's case")])
    if d.status is DecisionStatus.PENDING_APPROVAL:
        approval = Approval(ApprovalMode.MANUAL, identity.client_id, case.authority_key, now,
                            note or f"changed on reconsideration of complaint {complaint.complaint_id}")
        decisions.approve(uow, identity, case, d, approval, None, None, now)
    elif not (d.status is DecisionStatus.APPROVED and d.decision_id != complaint.decision_id and d.approval
              and d.approval.at >= complaint.filed_at):
        raise FailedPrecondition("the new decision must be a draft, or a decision approved after the complaint was "
                                 "filed", reason="NOT_A_NEW_DECISION", metadata={"decision_status": d.status.value})
    return d.decision_id


def _forward(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime) -> None:
    """The complaint, the statement, the reconsideration and the case file to the
    appeals authority, through the outbox."""
    all_decisions = tuple(uow.decisions.for_case(case.case_id))
    decision = next(d for d in all_decisions if d.decision_id == complaint.decision_id)
    benefit = uow.catalogue.get(case.benefit_code)
    authority = authority_of(uow, case)
    shown = CaseView(case, tuple(uow.information.for_case(case.case_id)), all_decisions,
                     tuple(uow.cases.history(case.case_id)), hearings=tuple(uow.hearings.for_case(case.case_id)),
                     complaints=tuple(x if x.complaint_id != complaint.complaint_id else complaint
                                      for x in uow.complaints.for_case(case.case_id)))
    uow.outbox.add(msg.Appeal(
        complaint_id=complaint.complaint_id, case_id=case.case_id, municipality_code=case.municipality_code,
        benefit_code=case.benefit_code, appeals_authority=benefit.appeals_authority_name,
        authority_name=authority.name, complaint=documents.jsonable(complaint),
        statement=documents.jsonable(complaint.statement),
        reconsideration=documents.jsonable(complaint.reconsideration), decision=documents.jsonable(decision),
        letter=documents.decision_letter(case, decision, benefit, authority), case_file=documents.case_file(shown),
    ).outbox(f"complaint/{complaint.complaint_id}/appeal", case.case_id), now)


def record_appeal_outcome(uow: UnitOfWork, identity: Identity, c: cmd.RecordAppealOutcome,
                          now: dt.datetime) -> tuple[tuple[cp.Complaint, Case], Case]:
    decided_on, amounts, effective_from = c.validated()
    outcome = cp.AppealOutcome(c.outcome)

    def step(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime) -> cp.Complaint:
        complaint.require_status(cp.ComplaintStatus.FORWARDED, "RecordAppealOutcome")
        new_decision_id = ""
        if outcome in (cp.AppealOutcome.CHANGED, cp.AppealOutcome.REMITTED) and case.status is not CaseStatus.DECIDED:
            raise FailedPrecondition(f"the case is {case.status.value}: a new draft waits on it; return it before "
                                     f"recording this outcome", reason="CASE_NOT_DECIDED",
                                     metadata={"current_status": case.status.value})
        if outcome is cp.AppealOutcome.CHANGED:
            new_decision_id = _record_appeals_decision(uow, identity, case, c, amounts, effective_from, now)
        elif outcome is cp.AppealOutcome.REMITTED:
            move_case(uow, case, CaseStatus.INFORMING, action="RecordAppealOutcome", now=now, by=identity.client_id,
                      client_id=identity.client_id, reason=f"remitted by the appeals authority ({c.appeal_reference})")
        changed = complaint.record_appeal(cp.AppealDecision(outcome, c.appeal_reference, decided_on, c.note,
                                                            identity.client_id, now, new_decision_id))
        archive_step(uow, case, now, f"complaint-{complaint.complaint_id}-appeal", "appeal_decision",
                     "Ankestyrelsens afgørelse", changed.appeal)
        uow.events.record(event(case, "complaint.appeal_decided", now, identity.client_id,
                                complaint_id=complaint.complaint_id, outcome=outcome.value,
                                appeal_reference=c.appeal_reference, new_decision_id=new_decision_id))
        return changed

    return _step(uow, identity, c.complaint_id, now, step)


def _record_appeals_decision(uow: UnitOfWork, identity: Identity, case: Case, c: cmd.RecordAppealOutcome, amounts,
                             effective_from, now: dt.datetime) -> str:
    """The appeals authority's decision, recorded as the case's new decision: it governs
    payments like any other, and its letter comes from the appeals authority, not the hub."""
    n = c.new_decision
    effective = payments.check_grant(uow, case, n.outcome, amounts, effective_from, name="new_decision.amounts")
    move_case(uow, case, CaseStatus.DRAFT_PENDING_APPROVAL, action="RecordAppealOutcome", now=now,
              by=identity.client_id, client_id=identity.client_id,
              reason=f"decision of the appeals authority ({c.appeal_reference}) recorded")
    decision = Decision(new_id(), case.case_id, DecisionStatus.PENDING_APPROVAL, n.outcome, amounts, n.reasoning,
                        n.legal_basis, (), identity.client_id, now, effective_from=effective,
                        source=DecisionSource.APPEALS_AUTHORITY)
    uow.decisions.add(decision, case.authority_key)
    approval = Approval(ApprovalMode.RECORDED, identity.client_id, case.authority_key, now,
                        note=f"decision of the appeals authority, {c.appeal_reference}")
    decisions.approve(uow, identity, case, decision, approval, None, None, now)
    return decision.decision_id


# ---- reading ----------------------------------------------------------------------------------

def get_complaint(uow: UnitOfWork, identity: Identity, complaint_id: str, now: dt.datetime) -> tuple[cp.Complaint, Case]:
    complaint = uow.complaints.get(complaint_id) if complaint_id else None
    case = uow.cases.get(complaint.case_id) if complaint else None
    if complaint is None or case is None or not identity.scope.sees(case):
        raise NotFound("complaint not found", reason="COMPLAINT_NOT_FOUND", metadata={"complaint_id": complaint_id})
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "GetComplaint", case.case_id, case.cpr,
                             "OK"))
    return complaint, case


def list_complaints(uow: UnitOfWork, identity: Identity, f: cmd.ComplaintFilter, page_size: int, page_token: str,
                    now: dt.datetime) -> tuple[list[tuple[cp.Complaint, Any]], str]:
    v = Violations()
    cmd.check_municipality(v, "municipality_code", f.municipality_code, required=False)
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, "complaints", f.municipality_code, f.status,
                              f.awaiting_reconsideration)
    after = paging.decode(page_token, qhash)
    rows = uow.complaints.list(identity.scope, municipality_code=f.municipality_code, status=f.status,
                               awaiting_reconsideration=f.awaiting_reconsideration, after_id=after, limit=size + 1)
    page = rows[:size]
    return [(c, r) for _, c, r in page], paging.encode(page[-1][0], qhash) if len(rows) > size else ""


def list_overdue(uow: UnitOfWork, identity: Identity, municipality_code: str, kind: cp.OverdueKind | None,
                 page_size: int, page_token: str, now: dt.datetime) -> tuple[list[cp.OverdueItem], str]:
    v = Violations()
    cmd.check_municipality(v, "municipality_code", municipality_code, required=False)
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, "overdue", municipality_code, kind.value if kind else "")
    after = paging.decode_key(page_token, qhash, (paging.key_time, str, str))
    items = uow.deadlines.overdue(identity.scope, now=now, municipality_code=municipality_code, kind=kind,
                                  after=tuple(after) if after else None, limit=size + 1)
    page = items[:size]
    token = ""
    if len(items) > size:
        last = page[-1]
        token = paging.encode_key([last.due_at.isoformat(), last.kind.value, last.subject_id], qhash)
    return page, token
