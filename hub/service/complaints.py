"""Use cases for hearings, complaints and what is overdue (a mixin of HubService).

Every step writes its change, its event, the letters it causes and the archive copy of
the step in one transaction, like every other use case."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Callable, TypeVar

from hub.domain import commands as cmd
from hub.domain import complaints as cp
from hub.domain import documents, paging
from hub.domain import payments as pay
from hub.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied, Violations
from hub.domain.identity import Identity
from hub.domain.model import (
    Approval, ApprovalMode, AuthorityKind, Case, CaseStatus, CaseView, Decision, DecisionSource, DecisionStatus,
    InformationItem, InformationSource, authority_from_key,
)
from hub.ports import messages as msg
from hub.service.steps import attach_information
from hub.store import complaints as cs
from hub.store import payments as ps
from hub.domain.ids import new_id
from hub.store.uow import UnitOfWork

T = TypeVar("T")
Encode = Callable[[T], bytes]


class Complaints:
    # ---- shared steps ------------------------------------------------------------------------

    def _authority(self, uow: UnitOfWork, case: Case):
        authority = authority_from_key(case.authority_key)
        benefit = uow.benefit(case.benefit_code)
        if authority.kind is AuthorityKind.CENTRAL and benefit.central_authority_name:
            authority = replace(authority, name=benefit.central_authority_name)
        return authority

    def _adverse(self, uow: UnitOfWork, case: Case, decision: Decision) -> bool:
        """The draft refuses, partly grants, or grants less than the grant in force."""
        benefit = uow.benefit(case.benefit_code)
        granted = {line.period_key: line.amount_oere for line in pay.schedule(benefit.recurrence, decision.amounts)}
        effective = decision.effective_from or min((a.period_start for a in decision.amounts), default=None)
        in_force = ps.amounts_in_force(uow.writer(), case.case_id, effective, decision.decision_id) if effective else {}
        return cp.is_adverse(decision.outcome, in_force, granted)

    def _hearing_need(self, uow: UnitOfWork, case: Case, decision: Decision, now: dt.datetime) -> cp.HearingNeed:
        """What the hearing rule asks of this draft now."""
        return cp.hearing_need(decision, self._adverse(uow, case, decision), uow.information(case.case_id),
                               cs.hearings(uow.writer(), case.case_id), now)

    def _check_decisive_facts(self, uow: UnitOfWork, case: Case, fact_ids: tuple[str, ...]) -> None:
        known = {i.item_id for i in uow.information(case.case_id)}
        v = Violations()
        for i, f in enumerate(fact_ids):
            v.require(f in known, f"decisive_fact_ids[{i}]", "is not an information item on this case")
        v.raise_if_any()

    @staticmethod
    def _archive_step(uow: UnitOfWork, case: Case, now: dt.datetime, document_id: str, kind: str, title: str,
                      document: dict[str, Any]) -> None:
        """A step on the case, kept in the shared archive with the case."""
        uow.add_outbox(msg.ArchiveDocument(case_id=case.case_id, municipality_code=case.municipality_code,
                                           benefit_code=case.benefit_code, document_id=document_id, document_kind=kind,
                                           title=title, document=documents.jsonable(document))
                       .outbox(f"archive/{case.case_id}/{document_id}", case.case_id), now)

    def _send_letter(self, uow: UnitOfWork, case: Case, now: dt.datetime, message_id: str, letter_kind: str,
                     letter: documents.Letter, **refs: str) -> None:
        uow.add_outbox(msg.DigitalPostLetter(letter_kind=letter_kind, case_id=case.case_id,
                                             municipality_code=case.municipality_code, letter=letter, **refs)
                       .outbox(message_id, case.case_id), now)

    # ---- hearings ----------------------------------------------------------------------------

    def start_hearing(self, identity: Identity, c: cmd.StartHearing, fingerprint: str,
                      encode: Encode[cp.Hearing]) -> bytes:
        self._authorize(identity, "StartHearing")
        c.validate()

        def work(uow: UnitOfWork, now: dt.datetime):
            decision = uow.decision(c.decision_id, for_update=True)
            case = self._case_in_scope(uow, identity, decision.case_id, for_update=True) if decision else None
            if decision is None or case is None:
                raise NotFound("decision not found", reason="DECISION_NOT_FOUND",
                               metadata={"decision_id": c.decision_id})
            if decision.status is not DecisionStatus.PENDING_APPROVAL:
                raise FailedPrecondition(f"a hearing is held on a draft pending approval; this decision is "
                                         f"{decision.status.value}", reason="DECISION_NOT_PENDING",
                                         metadata={"decision_status": decision.status.value})
            conn = uow.writer()
            existing = cs.hearings(conn, case.case_id)
            open_ = next((h for h in existing if h.decision_id == decision.decision_id and h.waiting(now)), None)
            if open_ is not None:
                raise FailedPrecondition("a hearing on this draft is open until its deadline",
                                         reason="HEARING_IN_PROGRESS",
                                         metadata={"hearing_id": open_.hearing_id, "deadline": open_.deadline.isoformat()})
            facts = cp.unheard_facts(decision, uow.information(case.case_id), existing, now)
            if not facts:
                raise FailedPrecondition("the draft rests on no register data or information from others that the "
                                         "citizen has not had the chance to comment on", reason="NOTHING_TO_HEAR")
            benefit = uow.benefit(case.benefit_code)
            hearing = cp.Hearing(new_id(), case.case_id, decision.decision_id, cp.HearingStatus.OPEN,
                                 tuple(f.item_id for f in facts), decision.outcome, c.note, identity.client_id, now,
                                 cp.hearing_deadline(now, benefit.hearing_deadline_days))
            cs.insert_hearing(conn, hearing)
            authority = self._authority(uow, case)
            letter = documents.hearing_letter(case, decision, facts, hearing.deadline, benefit, authority, c.note,
                                              hearing_id=hearing.hearing_id)
            self._send_letter(uow, case, now, f"hearing/{hearing.hearing_id}/letter", "hearing_letter", letter,
                              hearing_id=hearing.hearing_id)
            self._archive_step(uow, case, now, f"hearing-{hearing.hearing_id}", "hearing_letter", letter.title,
                               letter)
            uow.record_event(self._event(case, "hearing.started", now, identity, hearing_id=hearing.hearing_id,
                                         decision_id=decision.decision_id, deadline=hearing.deadline.isoformat(),
                                         facts=len(facts)))
            return hearing, case

        return self._mutate(identity, "StartHearing", c.request_id, fingerprint, encode, work)

    def record_hearing_response(self, identity: Identity, c: cmd.RecordHearingResponse, fingerprint: str,
                                encode: Encode[cp.Hearing]) -> bytes:
        self._authorize(identity, "RecordHearingResponse")
        received = c.validated(self.clock.now())

        def work(uow: UnitOfWork, now: dt.datetime):
            conn = uow.writer()
            hearing = cs.hearing(conn, c.hearing_id)
            case = self._case_in_scope(uow, identity, hearing.case_id, for_update=True) if hearing else None
            if hearing is None or case is None:
                raise NotFound("hearing not found", reason="HEARING_NOT_FOUND", metadata={"hearing_id": c.hearing_id})
            case.require_open("RecordHearingResponse")
            item = InformationItem(new_id(), case.case_id, InformationSource.CITIZEN,
                                   f"hearing {hearing.hearing_id}", "hearing.response",
                                   dict(hearing_id=hearing.hearing_id, comments=c.comments,
                                        channel=c.channel.value, received_at=received.isoformat()),
                                   False, identity.client_id, now)
            answered = hearing.answer(item.item_id, received)
            attach_information(uow, case, item, action="RecordHearingResponse", now=now,
                               client_id=identity.client_id, reason="the citizen answered a hearing")
            cs.update_hearing(conn, answered)
            self._archive_step(uow, case, now, f"hearing-{hearing.hearing_id}-response", "hearing_response",
                               "Bemærkninger til partshøring", item.value)
            uow.record_event(self._event(case, "hearing.answered", now, identity, hearing_id=hearing.hearing_id,
                                         decision_id=hearing.decision_id, item_id=item.item_id,
                                         after_deadline=received > hearing.deadline))
            return answered, case

        return self._mutate(identity, "RecordHearingResponse", c.request_id, fingerprint, encode, work)

    # ---- complaints --------------------------------------------------------------------------

    def _complaint_in_scope(self, uow: UnitOfWork, identity: Identity, complaint_id: str, *,
                            authority: bool = False) -> tuple[cp.Complaint, Case]:
        complaint = cs.complaint(uow.writer(), complaint_id, lock=True) if complaint_id else None
        case = self._case_in_scope(uow, identity, complaint.case_id, for_update=True) if complaint else None
        if complaint is None or case is None:
            raise NotFound("complaint not found", reason="COMPLAINT_NOT_FOUND", metadata={"complaint_id": complaint_id})
        if authority and not identity.covers_authority(case.authority_key):
            raise PermissionDenied("only the case's authority decides on its complaints", reason="NOT_THE_AUTHORITY")
        return complaint, case

    def _complaint_step(self, identity: Identity, action: str, request_id: str, complaint_id: str, fingerprint: str,
                        encode: Encode[tuple[cp.Complaint, Case]], step, *, authority: bool = False) -> bytes:
        """Load the complaint in scope, let `step` change it (and write what it causes),
        store it."""
        def work(uow: UnitOfWork, now: dt.datetime):
            complaint, case = self._complaint_in_scope(uow, identity, complaint_id, authority=authority)
            changed = step(uow, case, complaint, now)
            cs.update_complaint(uow.writer(), changed)
            return (changed, case), case

        return self._mutate(identity, action, request_id, fingerprint, encode, work)

    def file_complaint(self, identity: Identity, c: cmd.FileComplaint, fingerprint: str,
                       encode: Encode[tuple[cp.Complaint, Case]]) -> bytes:
        self._authorize(identity, "FileComplaint")
        received = c.validated(self.clock.now())

        def work(uow: UnitOfWork, now: dt.datetime):
            decision = uow.decision(c.decision_id)
            case = self._case_in_scope(uow, identity, decision.case_id, for_update=True) if decision else None
            if decision is None or case is None:
                raise NotFound("decision not found", reason="DECISION_NOT_FOUND", metadata={"decision_id": c.decision_id})
            if decision.status is not DecisionStatus.APPROVED or decision.sent_at is None:
                raise FailedPrecondition("a complaint is filed on a decision that was sent to the citizen; this one "
                                         "has not been sent", reason="DECISION_NOT_SENT",
                                         metadata={"decision_status": decision.status.value})
            if received < decision.sent_at - cmd.CLOCK_SKEW:
                raise InvalidArgument([FieldViolation(
                    "received_time", f"must not be before the decision was sent ({decision.sent_at.isoformat()}): a "
                                     f"complaint is about a decision the citizen has received")])
            conn = uow.writer()
            other = cs.open_complaint_on(conn, decision.decision_id)
            if other:
                raise FailedPrecondition("a complaint on this decision is open already", reason="COMPLAINT_ALREADY_OPEN",
                                         metadata={"complaint_id": other})
            complaint = cp.Complaint(new_id(), case.case_id, decision.decision_id, cp.ComplaintStatus.RECEIVED,
                                     c.channel, received, c.grounds, c.external_reference, identity.client_id, now,
                                     cp.is_late(decision.sent_at, received), cp.reconsider_by(received))
            cs.insert_complaint(conn, complaint)
            self._archive_step(uow, case, now, f"complaint-{complaint.complaint_id}", "complaint", "Klage", complaint)
            uow.record_event(self._event(case, "complaint.filed", now, identity, complaint_id=complaint.complaint_id,
                                         decision_id=decision.decision_id, late=complaint.late,
                                         reconsider_by=complaint.reconsider_by.isoformat()))
            return (complaint, case), case

        return self._mutate(identity, "FileComplaint", c.request_id, fingerprint, encode, work)

    def decide_late_complaint(self, identity: Identity, c: cmd.DecideLateComplaint, fingerprint: str,
                              encode: Encode[tuple[cp.Complaint, Case]]) -> bytes:
        self._authorize(identity, "DecideLateComplaint")
        c.validate()
        ruling_kind = cp.LateDecision.ACCEPTED if c.accept else cp.LateDecision.DISMISSED

        def step(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime):
            changed = complaint.rule_on_lateness(cp.LateRuling(ruling_kind, c.reason, identity.client_id, now))
            if ruling_kind is cp.LateDecision.DISMISSED:
                authority = self._authority(uow, case)
                letter = documents.simple_letter(
                    case, authority, "Din klage er afvist",
                    f"Vi har modtaget din klage for sent (mere end 4 uger efter, at du fik afgørelsen), og vi "
                    f"behandler den ikke. Begrundelse: {c.reason}",
                    document_id=complaint.complaint_id, file_prefix="klage-afvist",
                    decision_id=complaint.decision_id)
                self._send_letter(uow, case, now, f"complaint/{complaint.complaint_id}/dismissed",
                                  "complaint_dismissed_letter", letter, complaint_id=complaint.complaint_id)
            self._archive_step(uow, case, now, f"complaint-{complaint.complaint_id}-late", "late_complaint_ruling",
                               "Afgørelse om klage modtaget for sent", changed.late_ruling)
            uow.record_event(self._event(case, "complaint.late_decided", now, identity,
                                         complaint_id=complaint.complaint_id, decision=ruling_kind.value))
            return changed

        return self._complaint_step(identity, "DecideLateComplaint", c.request_id, c.complaint_id, fingerprint, encode,
                                    step, authority=True)

    def submit_statement(self, identity: Identity, c: cmd.SubmitStatement, fingerprint: str,
                         encode: Encode[tuple[cp.Complaint, Case]]) -> bytes:
        self._authorize(identity, "SubmitStatement")
        c.validate()

        def step(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime):
            changed = complaint.with_statement(cp.Statement(c.text, identity.client_id, now))
            self._archive_step(uow, case, now, f"complaint-{complaint.complaint_id}-statement", "statement",
                               "Redegørelse", changed.statement)
            uow.record_event(self._event(case, "complaint.statement_submitted", now, identity,
                                         complaint_id=complaint.complaint_id))
            return changed

        return self._complaint_step(identity, "SubmitStatement", c.request_id, c.complaint_id, fingerprint, encode,
                                    step)

    def reconsider(self, identity: Identity, c: cmd.Reconsider, fingerprint: str,
                   encode: Encode[tuple[cp.Complaint, Case]]) -> bytes:
        self._authorize(identity, "Reconsider")
        c.validate()

        def step(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime):
            new_decision_id = ""
            if c.changed:
                new_decision_id = self._changed_decision(uow, identity, case, complaint, c.decision_id, c.note, now)
            outcome = cp.ReconsiderationOutcome.CHANGED if c.changed else cp.ReconsiderationOutcome.UPHELD
            changed = complaint.reconsider(cp.Reconsideration(outcome, c.note, identity.client_id, now,
                                                              new_decision_id))
            if outcome is cp.ReconsiderationOutcome.UPHELD:
                self._forward(uow, case, changed, now)
            self._archive_step(uow, case, now, f"complaint-{complaint.complaint_id}-reconsideration",
                               "reconsideration", "Genvurdering", changed.reconsideration)
            uow.record_event(self._event(case, "complaint.reconsidered", now, identity,
                                         complaint_id=complaint.complaint_id, outcome=outcome.value,
                                         new_decision_id=new_decision_id, overdue=changed.reconsideration.overdue))
            return changed

        return self._complaint_step(identity, "Reconsider", c.request_id, c.complaint_id, fingerprint, encode, step,
                                    authority=True)

    def _changed_decision(self, uow: UnitOfWork, identity: Identity, case: Case, complaint: cp.Complaint,
                          decision_id: str, note: str, now: dt.datetime) -> str:
        """The new decision a reconsideration changes to: a draft on the case, approved
        now through the decision path, or a decision approved since the complaint came."""
        d = uow.decision(decision_id, for_update=True)
        if d is None or d.case_id != case.case_id:
            raise InvalidArgument([FieldViolation("decision_id", "is not a decision on the complaint's case")])
        if d.status is DecisionStatus.PENDING_APPROVAL:
            approval = Approval(ApprovalMode.MANUAL, identity.client_id, case.authority_key, now,
                                note or f"changed on reconsideration of complaint {complaint.complaint_id}")
            self._approve(uow, case, d, approval, None, None, now, identity)
        elif not (d.status is DecisionStatus.APPROVED and d.decision_id != complaint.decision_id and d.approval
                  and d.approval.at >= complaint.filed_at):
            raise FailedPrecondition("the new decision must be a draft, or a decision approved after the complaint "
                                     "was filed", reason="NOT_A_NEW_DECISION",
                                     metadata={"decision_status": d.status.value})
        return d.decision_id

    def _forward(self, uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime) -> None:
        """The complaint, the statement, the reconsideration and the case file to the
        appeals authority, through the outbox."""
        decisions = tuple(uow.decisions(case.case_id))
        decision = next(d for d in decisions if d.decision_id == complaint.decision_id)
        benefit = uow.benefit(case.benefit_code)
        authority = self._authority(uow, case)
        conn = uow.writer()
        view = CaseView(case, tuple(uow.information(case.case_id)), decisions, tuple(uow.status_history(case.case_id)),
                        hearings=tuple(cs.hearings(conn, case.case_id)),
                        complaints=tuple(x if x.complaint_id != complaint.complaint_id else complaint
                                         for x in cs.complaints_for_case(conn, case.case_id)))
        uow.add_outbox(msg.Appeal(
            complaint_id=complaint.complaint_id, case_id=case.case_id, municipality_code=case.municipality_code,
            benefit_code=case.benefit_code, appeals_authority=benefit.appeals_authority_name,
            authority_name=authority.name, complaint=documents.jsonable(complaint),
            statement=documents.jsonable(complaint.statement),
            reconsideration=documents.jsonable(complaint.reconsideration), decision=documents.jsonable(decision),
            letter=documents.decision_letter(case, decision, benefit, authority), case_file=documents.case_file(view),
        ).outbox(f"complaint/{complaint.complaint_id}/appeal", case.case_id), now)

    def record_appeal_outcome(self, identity: Identity, c: cmd.RecordAppealOutcome, fingerprint: str,
                              encode: Encode[tuple[cp.Complaint, Case]]) -> bytes:
        self._authorize(identity, "RecordAppealOutcome")
        decided_on, amounts, effective_from = c.validated()
        outcome = cp.AppealOutcome(c.outcome)

        def step(uow: UnitOfWork, case: Case, complaint: cp.Complaint, now: dt.datetime):
            complaint.require_status(cp.ComplaintStatus.FORWARDED, "RecordAppealOutcome")
            new_decision_id = ""
            if outcome in (cp.AppealOutcome.CHANGED, cp.AppealOutcome.REMITTED) and case.status is not CaseStatus.DECIDED:
                raise FailedPrecondition(f"the case is {case.status.value}: a new draft waits on it; return it "
                                         f"before recording this outcome", reason="CASE_NOT_DECIDED",
                                         metadata={"current_status": case.status.value})
            if outcome is cp.AppealOutcome.CHANGED:
                new_decision_id = self._record_appeals_decision(uow, identity, case, c, amounts, effective_from, now)
            elif outcome is cp.AppealOutcome.REMITTED:
                self._move(uow, case, CaseStatus.INFORMING, action="RecordAppealOutcome", now=now,
                           by=identity.client_id, identity=identity,
                           reason=f"remitted by the appeals authority ({c.appeal_reference})")
            changed = complaint.record_appeal(cp.AppealDecision(outcome, c.appeal_reference, decided_on, c.note,
                                                                identity.client_id, now, new_decision_id))
            self._archive_step(uow, case, now, f"complaint-{complaint.complaint_id}-appeal", "appeal_decision",
                               "Ankestyrelsens afgørelse", changed.appeal)
            uow.record_event(self._event(case, "complaint.appeal_decided", now, identity,
                                         complaint_id=complaint.complaint_id, outcome=outcome.value,
                                         appeal_reference=c.appeal_reference, new_decision_id=new_decision_id))
            return changed

        return self._complaint_step(identity, "RecordAppealOutcome", c.request_id, c.complaint_id, fingerprint, encode,
                                    step)

    def _record_appeals_decision(self, uow: UnitOfWork, identity: Identity, case: Case, c: cmd.RecordAppealOutcome,
                                 amounts, effective_from, now: dt.datetime) -> str:
        """The appeals authority's decision, recorded as the case's new decision: it
        governs payments like any other, and its letter comes from the appeals
        authority, not from the hub."""
        n = c.new_decision
        effective = self._check_grant(uow, case, n.outcome, amounts, effective_from, name="new_decision.amounts")
        self._move(uow, case, CaseStatus.DRAFT_PENDING_APPROVAL, action="RecordAppealOutcome", now=now,
                   by=identity.client_id, identity=identity,
                   reason=f"decision of the appeals authority ({c.appeal_reference}) recorded")
        decision = Decision(new_id(), case.case_id, DecisionStatus.PENDING_APPROVAL, n.outcome, amounts,
                            n.reasoning, n.legal_basis, (), identity.client_id, now, effective_from=effective,
                            source=DecisionSource.APPEALS_AUTHORITY)
        uow.insert_decision(decision, case.authority_key)
        approval = Approval(ApprovalMode.RECORDED, identity.client_id, case.authority_key, now,
                            note=f"decision of the appeals authority, {c.appeal_reference}")
        self._approve(uow, case, decision, approval, None, None, now, identity)
        return decision.decision_id

    # ---- reading ---------------------------------------------------------------------------

    def get_complaint(self, identity: Identity, complaint_id: str) -> tuple[cp.Complaint, Case]:
        self._authorize(identity, "GetComplaint")
        with self._uow() as uow:
            complaint = cs.complaint(uow.writer(), complaint_id) if complaint_id else None
            case = uow.case(complaint.case_id) if complaint else None
            if complaint is None or case is None or not self._visible(identity, case):
                raise NotFound("complaint not found", reason="COMPLAINT_NOT_FOUND",
                               metadata={"complaint_id": complaint_id})
            self._audit_read(uow, identity, "GetComplaint", case)
            uow.commit()
        return complaint, case

    def _scope(self, identity: Identity) -> dict:
        keys = [f"municipality:{m}" for m in sorted(identity.municipalities)]
        keys += [f"central:{c}" for c in sorted(identity.central_authorities)]
        return dict(municipalities=identity.municipalities, authority_keys=keys, benefits=identity.benefits,
                    sensitivities=identity.max_sensitivity.at_most())

    def list_complaints(self, identity: Identity, f: cmd.ComplaintFilter, page_size: int,
                        page_token: str) -> tuple[list[tuple[cp.Complaint, Any]], str]:
        self._authorize(identity, "ListComplaints")
        v = Violations()
        cmd.check_municipality(v, "municipality_code", f.municipality_code, required=False)
        size = cmd.page_size(v, page_size)
        v.raise_if_any()
        qhash = paging.query_hash(identity.client_id, "complaints", f.municipality_code, f.status,
                                  f.awaiting_reconsideration)
        after = paging.decode(page_token, qhash)
        with self._uow() as uow:
            rows = cs.list_complaints(uow.writer(), scope=self._scope(identity), municipality_code=f.municipality_code,
                                      status=f.status, awaiting_reconsideration=f.awaiting_reconsideration,
                                      after_id=after, limit=size + 1)
        page = rows[:size]
        token = paging.encode(page[-1][0], qhash) if len(rows) > size else ""
        return [(c, r) for _, c, r in page], token

    def list_overdue(self, identity: Identity, municipality_code: str, kind: cp.OverdueKind | None, page_size: int,
                     page_token: str) -> tuple[list[cp.OverdueItem], str]:
        self._authorize(identity, "ListOverdue")
        v = Violations()
        cmd.check_municipality(v, "municipality_code", municipality_code, required=False)
        size = cmd.page_size(v, page_size)
        v.raise_if_any()
        qhash = paging.query_hash(identity.client_id, "overdue", municipality_code, kind.value if kind else "")
        after = paging.decode_key(page_token, qhash, (paging.key_time, str, str))
        now = self.clock.now()
        with self._uow() as uow:
            items = cs.list_overdue(uow.writer(), now=now, scope=self._scope(identity),
                                    municipality_code=municipality_code, kind=kind,
                                    after=tuple(after) if after else None, limit=size + 1)
        page = items[:size]
        token = ""
        if len(items) > size:
            last = page[-1]
            token = paging.encode_key([last.due_at.isoformat(), last.kind.value, last.subject_id], qhash)
        return page, token
