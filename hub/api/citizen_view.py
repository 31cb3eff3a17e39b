"""The citizen's own case (issue 28) as the citizen portal's calls show it:
CitizenService.GetCitizenCase, ListCitizenCases' next steps, ListCitizenAccess' marks."""
from __future__ import annotations

from hub.api import convert
from hub.domain import citizen as ctz
from hub.domain.model import Decision
from hub.v1 import audit_pb2, cases_pb2, citizen_pb2, common_pb2, decisions_pb2


def next_step_out(s: ctz.NextStep) -> cases_pb2.NextStep:
    return cases_pb2.NextStep(kind=convert.enum_out(cases_pb2.NextStepKind, "NEXT_STEP_KIND", s.kind), text=s.text,
                              due_time=convert.ts_out(s.due), subject_id=s.subject_id, overdue=s.overdue)


def letter_out(letter: ctz.SentLetter) -> citizen_pb2.CitizenLetter:
    return citizen_pb2.CitizenLetter(kind=letter.letter_kind, title=letter.title, document_id=letter.document_id,
                                     created_time=convert.ts_out(letter.created_at),
                                     sent_time=convert.ts_out(letter.sent_at), reference=letter.reference,
                                     decision_id=letter.decision_id, hearing_id=letter.hearing_id,
                                     complaint_id=letter.complaint_id)


def decision_out(d: Decision) -> citizen_pb2.CitizenDecision:
    out = citizen_pb2.CitizenDecision(
        decision_id=d.decision_id, outcome=convert.enum_out(decisions_pb2.Outcome, "OUTCOME", d.outcome),
        amounts=convert.amounts_out(d.amounts), approved_time=convert.ts_out(d.approval.at if d.approval else None),
        sent_time=convert.ts_out(d.sent_at), letter_reference=d.letter_reference or "",
        complaint_deadline=convert.ts_out(ctz.complaint_deadline(d)), reasoning=d.reasoning,
        legal_basis=d.legal_basis, complaint_guidance=d.complaint_guidance,
        superseded_by_decision_id=d.superseded_by or "")
    if d.effective_from:
        out.effective_from.CopyFrom(convert.date_out(d.effective_from))
    if d.effective_to:
        out.effective_to.CopyFrom(convert.date_out(d.effective_to))
    if d.repayment:
        r = d.repayment
        out.repayment.CopyFrom(decisions_pb2.Repayment(amount_oere=r.amount_oere,
                                                       period_start=convert.date_out(r.period_start),
                                                       period_end=convert.date_out(r.period_end),
                                                       offset_allowed=r.offset_allowed))
    return out


def citizen_case_out(v: ctz.CitizenCase) -> citizen_pb2.CitizenCase:
    c = v.case
    return citizen_pb2.CitizenCase(
        case_id=c.case_id, municipality_code=c.municipality_code, benefit_code=c.benefit_code,
        status=convert.status_out(c.status), channel=convert.enum_out(common_pb2.Channel, "CHANNEL", c.channel),
        received_time=convert.ts_out(c.received_at), processing_deadline=convert.ts_out(c.processing_deadline),
        updated_time=convert.ts_out(c.updated_at), authority=convert.authority_out(v.authority),
        next_steps=[next_step_out(s) for s in v.next_steps], letters=[letter_out(x) for x in v.letters],
        decisions=[decision_out(d) for d in v.decisions], hearings=[convert.hearing_out(h) for h in v.hearings],
        complaints=[convert.complaint_out(x, c) for x in v.complaints],
        payments=[convert.order_out(o) for o in v.payments.orders],
        claims=[convert.claim_out(x) for x in v.payments.claims])


def case_status_out(c, steps) -> cases_pb2.CitizenCaseStatus:
    """A case in ListCitizenCases: its phase and what happens next."""
    return cases_pb2.CitizenCaseStatus(
        case_id=c.case_id, municipality_code=c.municipality_code, benefit_code=c.benefit_code,
        status=convert.status_out(c.status), received_time=convert.ts_out(c.received_at),
        processing_deadline=convert.ts_out(c.processing_deadline), updated_time=convert.ts_out(c.updated_at),
        next_steps=[next_step_out(s) for s in steps])


def access_entry_out(r: dict) -> audit_pb2.AuditEntry:
    """An entry of ListCitizenAccess, marked when it is the citizen's own look."""
    out = convert.audit_entry_out(r)
    out.by_citizen = ctz.by_citizen(r["role"], r["outcome"])
    return out
