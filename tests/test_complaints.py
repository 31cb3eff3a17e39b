"""Hearings, reasons and guidance, complaints, appeals and deadlines, over gRPC with a
controlled clock: the steps the law sets cannot be skipped, and lateness shows."""
from __future__ import annotations

import base64
import datetime as dt
import json
import xml.etree.ElementTree as ET

import bagit
import grpc
import pytest
import sqlalchemy as sa

from adapters.digital_post.memo import MEMO_NS
from hub.domain import documents
from hub.store import tables
from hub.v1 import benefits_pb2, cases_pb2, common_pb2, complaints_pb2 as K, decisions_pb2 as D, events_pb2 as E
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import create_req, details, draft_req, info_req, period, rid, rpc_error, table_counts, ts

S = common_pb2
REFUSAL = dict(outcome=D.OUTCOME_REFUSED, amounts=[], reasoning="Husstandens indkomst er over grænsen.",
               legal_basis="Lov om individuel boligstøtte § 8")


@pytest.fixture
def drops(tmp_path):
    return tmp_path / "drops"


@pytest.fixture
def disp(hub, clock, drops):
    return dispatcher(hub.engine, clock, file_adapters(drops), watch_deadlines=True)


@pytest.fixture
def cw751(hub):
    return hub.as_("t-cw-751")


def events(engine, case_id, type_=None) -> list[dict]:
    with engine.connect() as c:
        rows = c.execute(sa.select(tables.events).where(tables.events.c.case_id == case_id)
                         .order_by(tables.events.c.seq)).mappings().all()
    return [dict(r) for r in rows if type_ is None or r["type"] == type_]


def get(client, case_id) -> cases_pb2.Case:
    return client.GetCase(cases_pb2.GetCaseRequest(case_id=case_id))


def code_and_reason(err):
    _, info = details(err)
    return err.code(), info.reason if info else None


def refusal_pending(backoffice, **kw):
    """A case with register income and a refusal draft resting on it."""
    case = backoffice.CreateCase(create_req())
    fact = backoffice.AddInformation(info_req(case.case_id, kind="income.annual", value=420000.0)).item
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, **{**REFUSAL, **kw}))
    return case, fact, r


def approve(client, decision_id, **kw):
    return client.ApproveDecision(D.ApproveDecisionRequest(request_id=rid(), decision_id=decision_id, **kw))


# ---- hearing ---------------------------------------------------------------------------------

def test_a_refusal_on_register_data_needs_a_hearing_and_proceeds_when_answered(hub, backoffice, caseworker,
                                                                               borgerservice, disp, drops, clock):
    case, fact, r = refusal_pending(backoffice)
    # Housing benefit is objective, but a draft that needs a hearing waits for it.
    assert r.hearing_required and not r.approved_automatically
    assert r.case_status == S.CASE_STATUS_DRAFT_PENDING_APPROVAL
    before = table_counts(hub.engine)
    err = rpc_error(approve, caseworker, r.decision.decision_id)
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "HEARING_REQUIRED")
    assert table_counts(hub.engine) == before

    hearing = backoffice.StartHearing(D.StartHearingRequest(request_id=rid(), decision_id=r.decision.decision_id,
                                                            note="Send gerne lønsedler."))
    assert hearing.status == D.HEARING_STATUS_OPEN and list(hearing.fact_item_ids) == [fact.item_id]
    assert hearing.intended_outcome == D.OUTCOME_REFUSED
    assert hearing.deadline.ToDatetime() - hearing.started_time.ToDatetime() == dt.timedelta(days=14)
    err = rpc_error(approve, caseworker, r.decision.decision_id)
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "HEARING_IN_PROGRESS")
    # One hearing at a time on a draft.
    err = rpc_error(backoffice.StartHearing, D.StartHearingRequest(request_id=rid(),
                                                                  decision_id=r.decision.decision_id))
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "HEARING_IN_PROGRESS")

    # The hearing letter goes through Digital Post with the facts, the outcome and the deadline.
    disp.drain()
    letters = [ET.parse(p).getroot() for p in (drops / "digital_post").glob("*.xml")]
    [letter] = letters
    ns = {"memo": MEMO_NS}
    text = base64.b64decode(letter.findtext("memo:MessageBody/memo:MainDocument/memo:File/memo:content",
                                            namespaces=ns)).decode()
    assert "Partshøring" in text and "Årsindkomst: 420.000 kr." in text and "Du får ikke boligstøtte" in text
    assert "income.annual" not in text and "Send gerne lønsedler." in text
    assert documents.danish_date(documents.local_date(hearing.deadline.ToDatetime())) in text
    # The decision is not marked sent by the hearing letter.
    assert not get(backoffice, case.case_id).decisions[0].HasField("sent_time")

    clock.advance(days=3)
    answered = borgerservice.RecordHearingResponse(D.RecordHearingResponseRequest(
        request_id=rid(), hearing_id=hearing.hearing_id, comments="Min indkomst er faldet.",
        channel=S.CHANNEL_IN_PERSON))
    assert answered.status == D.HEARING_STATUS_ANSWERED and answered.response_item_id
    shown = get(backoffice, case.case_id)
    comment = next(i for i in shown.information if i.item_id == answered.response_item_id)
    assert comment.source == cases_pb2.INFORMATION_SOURCE_CITIZEN and comment.kind == "hearing.response"
    assert comment.value.struct_value["comments"] == "Min indkomst er faldet."
    err = rpc_error(borgerservice.RecordHearingResponse, D.RecordHearingResponseRequest(
        request_id=rid(), hearing_id=hearing.hearing_id, comments="igen", channel=S.CHANNEL_LETTER))
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "HEARING_ALREADY_ANSWERED")

    d = approve(caseworker, r.decision.decision_id)
    assert d.status == D.DECISION_STATUS_APPROVED
    assert [e["type"] for e in events(hub.engine, case.case_id) if e["type"].startswith("hearing.")] == [
        "hearing.started", "hearing.answered"]


def test_an_expired_hearing_lets_the_draft_proceed_and_is_reported(hub, backoffice, caseworker, disp, clock):
    case, _, r = refusal_pending(backoffice)
    hearing = backoffice.StartHearing(D.StartHearingRequest(request_id=rid(), decision_id=r.decision.decision_id))
    disp.run_once()
    overdue = caseworker.ListOverdue(cases_pb2.ListOverdueRequest(kind=cases_pb2.OVERDUE_KIND_HEARING_DEADLINE))
    assert not overdue.items

    clock.advance(days=14, minutes=1)
    disp.run_once()
    [reached] = events(hub.engine, case.case_id, "hearing.deadline_reached")
    assert reached["payload"]["hearing_id"] == hearing.hearing_id
    [shown] = get(backoffice, case.case_id).hearings
    assert shown.status == D.HEARING_STATUS_EXPIRED and shown.HasField("expired_time")
    disp.run_once()
    clock.advance(minutes=5)
    disp.run_once()
    assert len(events(hub.engine, case.case_id, "hearing.deadline_reached")) == 1
    [item] = caseworker.ListOverdue(cases_pb2.ListOverdueRequest(kind=cases_pb2.OVERDUE_KIND_HEARING_DEADLINE)).items
    assert item.subject_id == hearing.hearing_id and item.case_id == case.case_id

    assert approve(caseworker, r.decision.decision_id).status == D.DECISION_STATUS_APPROVED
    assert not caseworker.ListOverdue(cases_pb2.ListOverdueRequest()).items


def test_a_hearing_exception_a_grant_and_citizen_facts_need_no_hearing(hub, backoffice, caseworker):
    # An exception, with a note saying why: no hearing, but the exception is the
    # authority's judgement: never approved automatically, and shown when approving.
    _, _, r = refusal_pending(backoffice, hearing_exception=D.HEARING_EXCEPTION_CANNOT_WAIT,
                              hearing_exception_note="udsættelse vil skade borgeren")
    assert not r.hearing_required and not r.approved_automatically
    assert r.decision.hearing_exception == D.HEARING_EXCEPTION_CANNOT_WAIT
    [pending] = [p for p in caseworker.ListPendingApprovals(D.ListPendingApprovalsRequest()).items
                 if p.decision.decision_id == r.decision.decision_id]
    assert (pending.decision.hearing_exception, pending.decision.hearing_exception_note) == (
        D.HEARING_EXCEPTION_CANNOT_WAIT, "udsættelse vil skade borgeren")
    assert approve(caseworker, r.decision.decision_id).status == D.DECISION_STATUS_APPROVED
    # An exception without a note is bad input.
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id, **REFUSAL,
                                                              hearing_exception=D.HEARING_EXCEPTION_OTHER))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "hearing_exception_note" in details(err)[0]
    # A refusal resting only on what the citizen said.
    own = backoffice.AddInformation(info_req(case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN)).item
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, **REFUSAL, decisive_fact_ids=[own.item_id]))
    assert not r.hearing_required and r.approved_automatically
    # Decisive facts must be on the case.
    other = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(other.case_id))
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(other.case_id, decisive_fact_ids=[own.item_id]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "decisive_fact_ids[0]" in details(err)[0]
    # A full grant on register data: no hearing.
    granted = backoffice.SubmitDraftDecision(draft_req(other.case_id))
    assert granted.approved_automatically and not granted.hearing_required


def test_a_lower_amount_than_the_grant_in_force_is_adverse(hub, backoffice, caseworker):
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    assert backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(125_000)])).approved_automatically
    lower = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(90_000, (2026, 7, 1))]))
    assert lower.hearing_required and not lower.approved_automatically
    err = rpc_error(approve, caseworker, lower.decision.decision_id)
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "HEARING_REQUIRED")
    # The authority amending a draft down is adverse too.
    caseworker.ReturnDraft(D.ReturnDraftRequest(request_id=rid(), decision_id=lower.decision.decision_id,
                                                reason="hør borgeren"))
    higher = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(150_000, (2026, 7, 1))],
                                                      points=[("husleje", "rimelig")]))
    assert not higher.hearing_required
    err = rpc_error(lambda: approve(caseworker, higher.decision.decision_id, note="lavere",
                                    amendment=D.Amendment(amounts=[period(100_000, (2026, 7, 1))])))
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "HEARING_REQUIRED")


# ---- reasons and guidance --------------------------------------------------------------------

BENEFITS = ["FOLKEPENSION", "BOLIGSTOETTE", "BOERNEBIDRAG", "BARSELSDAGPENGE", "OEKONOMISK_FRIPLADS"]


@pytest.mark.parametrize("benefit", BENEFITS)
def test_an_adverse_draft_without_reasons_is_bad_input_for_every_benefit(hub, backoffice, benefit):
    """A refusal, a partial grant, or a grant lower than the one in force states its
    reasons and legal basis (forvaltningsloven §§ 22, 24): without them the draft is
    INVALID_ARGUMENT at submission, whatever the benefit, and nothing is written."""
    amount = [period(125_000, (2026, 4, 1), (2026, 4, 30))]
    case = backoffice.CreateCase(create_req(benefit=benefit))
    backoffice.AddInformation(info_req(case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN))
    before = table_counts(hub.engine)
    for draft, missing in [
        (dict(REFUSAL, legal_basis="", reasoning=""), {"legal_basis", "reasoning"}),
        (dict(REFUSAL, legal_basis="  "), {"legal_basis"}),
        (dict(outcome=D.OUTCOME_PARTLY_GRANTED, amounts=amount, reasoning="", legal_basis="§ 1"), {"reasoning"}),
    ]:
        err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id, **draft))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
        assert set(details(err)[0]) == missing and "forvaltningsloven" in details(err)[0].popitem()[1]
    assert table_counts(hub.engine) == before
    # A grant lower than the one in force is adverse too, though its outcome says GRANTED.
    backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=amount, reasoning="", legal_basis=""))
    with_grant = get(backoffice, case.case_id)
    if with_grant.status != S.CASE_STATUS_DECIDED:  # a benefit with discretion: the authority approves
        approve(hub.as_("t-cw-101"), with_grant.decisions[-1].decision_id)
    before = table_counts(hub.engine)
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(
        case.case_id, amounts=[period(100_000, (2026, 4, 1), (2026, 4, 30))], reasoning="", legal_basis=""))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and set(details(err)[0]) == {"legal_basis", "reasoning"}
    assert table_counts(hub.engine) == before


def test_an_amendment_that_makes_a_grant_adverse_needs_its_reasons(hub, backoffice, caseworker):
    """The authority amends a full grant (no reasons needed) down below the grant in
    force: the letter would lack its reasons, so it cannot be approved like that."""
    case = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    backoffice.AddInformation(info_req(case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN))
    first = backoffice.SubmitDraftDecision(draft_req(case.case_id, reasoning="", legal_basis="")).decision
    approve(caseworker, first.decision_id)
    again = backoffice.SubmitDraftDecision(draft_req(case.case_id, reasoning="", legal_basis="")).decision
    before = table_counts(hub.engine)
    err = rpc_error(caseworker.ApproveDecision, D.ApproveDecisionRequest(
        request_id=rid(), decision_id=again.decision_id, note="lavere",
        amendment=D.Amendment(amounts=[period(100_000)])))
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "DECISION_LACKS_REASONS")
    assert details(err)[1].metadata["missing"] == "legal_basis,reasoning"
    assert table_counts(hub.engine) == before


def test_a_decision_without_guidance_cannot_be_approved(hub, backoffice, caseworker, engine):
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN))
    # Complaint guidance names the appeals authority from the catalogue; without one, no approval.
    granted = backoffice.SubmitDraftDecision(draft_req(case.case_id))
    assert "Ankestyrelsen" in granted.decision.complaint_guidance and "4 uger" in granted.decision.complaint_guidance
    with engine.begin() as c:
        c.execute(sa.update(tables.benefits).where(tables.benefits.c.code == "BOLIGSTOETTE")
                  .values(appeals_authority_name=""))
    try:
        case = backoffice.CreateCase(create_req())
        backoffice.AddInformation(info_req(case.case_id))
        err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id))
        assert details(err)[1].metadata["missing"] == "complaint_guidance"
    finally:
        with engine.begin() as c:
            c.execute(sa.update(tables.benefits).where(tables.benefits.c.code == "BOLIGSTOETTE")
                      .values(appeals_authority_name="Ankestyrelsen"))


# ---- complaints ------------------------------------------------------------------------------

def sent_decision(backoffice, disp, amount=125_000):
    """A case with an approved grant whose letter has been sent."""
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    d = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(amount)])).decision
    disp.drain()
    d = get(backoffice, case.case_id).decisions[0]
    assert d.HasField("sent_time")
    return case, d


def file(client, decision_id, **kw):
    return client.FileComplaint(K.FileComplaintRequest(request_id=kw.pop("request_id", rid()), decision_id=decision_id,
                                                       channel=kw.pop("channel", S.CHANNEL_LETTER),
                                                       grounds=kw.pop("grounds", "Min husleje er højere."), **kw))


def statement(backoffice, complaint_id):
    return backoffice.SubmitStatement(K.SubmitStatementRequest(request_id=rid(), complaint_id=complaint_id,
                                                               text="Afgørelsen bygger på årsopgørelsen 2025."))


def reconsider(caseworker, complaint_id, outcome, **kw):
    return caseworker.Reconsider(K.ReconsiderRequest(request_id=rid(), complaint_id=complaint_id, outcome=outcome,
                                                     **kw))


def test_a_complaint_needs_a_sent_decision_and_one_open_complaint_per_decision(hub, backoffice, borgerservice, disp):
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    d = backoffice.SubmitDraftDecision(draft_req(case.case_id)).decision
    err = rpc_error(file, borgerservice, d.decision_id)
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "DECISION_NOT_SENT")
    disp.drain()
    err = rpc_error(borgerservice.FileComplaint, K.FileComplaintRequest(request_id=rid(), decision_id=d.decision_id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and {"channel", "grounds"} <= set(details(err)[0])
    req = K.FileComplaintRequest(request_id=rid(), decision_id=d.decision_id, channel=S.CHANNEL_IN_PERSON,
                                 grounds="uenig")
    first = borgerservice.FileComplaint(req)
    assert borgerservice.FileComplaint(req) == first  # a retry gives the first answer
    assert not first.late and first.status == K.COMPLAINT_STATUS_RECEIVED
    assert first.reconsider_by.ToDatetime() - first.received_time.ToDatetime() == dt.timedelta(
        weeks=4)
    err = rpc_error(file, backoffice, d.decision_id)
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "COMPLAINT_ALREADY_OPEN")
    # Another municipality's caseworker does not see it.
    err = rpc_error(hub.as_("t-cw-751").GetComplaint, K.GetComplaintRequest(complaint_id=first.complaint_id))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_a_complaint_received_before_the_decision_was_sent_is_bad_input(hub, backoffice, borgerservice, disp, clock):
    """Today it would be accepted and overdue for reconsideration at once."""
    clock.advance(days=10)
    case, d = sent_decision(backoffice, disp)
    before = table_counts(hub.engine)
    err = rpc_error(lambda: file(borgerservice, d.decision_id, received_time=ts(clock.now() - dt.timedelta(days=3))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "received_time" in details(err)[0]
    assert "before the decision was sent" in details(err)[0]["received_time"]
    assert table_counts(hub.engine) == before
    # Received the moment it was sent, or later: a complaint, not overdue.
    ok = file(borgerservice, d.decision_id, received_time=d.sent_time)
    assert ok.status == K.COMPLAINT_STATUS_RECEIVED
    assert not hub.as_("t-cw-101").ListOverdue(cases_pb2.ListOverdueRequest(
        kind=cases_pb2.OVERDUE_KIND_RECONSIDERATION)).items


def test_a_complaint_reconsidered_and_changed_ends_with_the_new_decision(hub, backoffice, borgerservice, caseworker,
                                                                         disp, drops, clock):
    case, d = sent_decision(backoffice, disp)
    clock.advance(days=10)
    complaint = file(borgerservice, d.decision_id, channel=S.CHANNEL_IN_PERSON)
    assert not complaint.late
    # The statement puts it in the authority's inbox.
    inbox = K.ListComplaintsRequest(awaiting_reconsideration=True)
    assert not caseworker.ListComplaints(inbox).complaints
    statement(backoffice, complaint.complaint_id)
    [waiting] = caseworker.ListComplaints(inbox).complaints
    assert waiting.complaint_id == complaint.complaint_id and waiting.statement.text
    assert not hub.as_("t-cw-751").ListComplaints(inbox).complaints
    # Only the authority reconsiders.
    err = rpc_error(reconsider, hub.as_("t-cw-751"), complaint.complaint_id, K.RECONSIDERATION_OUTCOME_UPHELD)
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = rpc_error(reconsider, caseworker, complaint.complaint_id, K.RECONSIDERATION_OUTCOME_CHANGED)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "decision_id" in details(err)[0]

    # The back office drafts the new decision; the reconsideration approves it.
    new = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(140_000)],
                                                   points=[("husleje", "dokumenteret")])).decision
    done = reconsider(caseworker, complaint.complaint_id, K.RECONSIDERATION_OUTCOME_CHANGED,
                      decision_id=new.decision_id, note="Huslejen var højere end lagt til grund.")
    assert done.status == K.COMPLAINT_STATUS_RESOLVED_BY_RECONSIDERATION
    assert done.reconsideration.new_decision_id == new.decision_id and not done.reconsideration.overdue
    shown = get(backoffice, case.case_id)
    assert shown.status == S.CASE_STATUS_DECIDED
    assert [x.status for x in shown.decisions] == [D.DECISION_STATUS_APPROVED, D.DECISION_STATUS_APPROVED]
    assert shown.decisions[0].superseded_by_decision_id == new.decision_id
    [c] = shown.complaints
    assert c.status == K.COMPLAINT_STATUS_RESOLVED_BY_RECONSIDERATION
    assert [e["type"] for e in events(hub.engine, case.case_id) if e["type"].startswith("complaint.")] == [
        "complaint.filed", "complaint.statement_submitted", "complaint.reconsidered"]
    # Every step is archived with the case.
    disp.drain()
    steps = sorted(p.name for p in (drops / "archive" / "101" / case.case_id).iterdir())
    assert steps == sorted(f"complaint-{complaint.complaint_id}{s}" for s in ("", "-statement", "-reconsideration"))
    for p in (drops / "archive" / "101" / case.case_id).iterdir():
        bagit.Bag(str(p)).validate()


def test_an_upheld_complaint_is_forwarded_with_the_statement_and_the_case_file(hub, backoffice, borgerservice,
                                                                              caseworker, disp, drops):
    case, d = sent_decision(backoffice, disp)
    complaint = file(backoffice, d.decision_id, grounds="Indkomsten er forkert.")
    err = rpc_error(reconsider, caseworker, complaint.complaint_id, K.RECONSIDERATION_OUTCOME_UPHELD)
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "STATEMENT_MISSING")
    statement(backoffice, complaint.complaint_id)
    upheld = reconsider(caseworker, complaint.complaint_id, K.RECONSIDERATION_OUTCOME_UPHELD, note="fastholdt")
    assert upheld.status == K.COMPLAINT_STATUS_FORWARDED and upheld.HasField("forwarded_time")
    assert not upheld.forwarded_reference
    # A second reconsideration is a wrong step.
    err = rpc_error(reconsider, caseworker, complaint.complaint_id, K.RECONSIDERATION_OUTCOME_UPHELD)
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "ILLEGAL_COMPLAINT_STEP")

    disp.drain()
    shown = caseworker.GetComplaint(K.GetComplaintRequest(complaint_id=complaint.complaint_id))
    assert shown.forwarded_reference == f"101/{complaint.complaint_id}"
    bag = bagit.Bag(str(drops / "appeals" / shown.forwarded_reference))
    bag.validate()
    data = drops / "appeals" / shown.forwarded_reference / "data"
    assert (data / "statement.txt").read_text(encoding="utf-8") == "Afgørelsen bygger på årsopgørelsen 2025."
    assert json.loads((data / "complaint.json").read_text())["grounds"] == "Indkomsten er forkert."
    assert json.loads((data / "case.json").read_text())["case_id"] == case.case_id
    assert [x["decision_id"] for x in json.loads((data / "decisions.json").read_text())] == [d.decision_id]
    assert json.loads((data / "reconsideration.json").read_text())["outcome"] == "UPHELD"
    assert "Klagevejledning" in (data / "letter.txt").read_text(encoding="utf-8")
    assert len(events(hub.engine, case.case_id, "complaint.forwarded")) == 1


@pytest.mark.parametrize("outcome", [K.APPEAL_OUTCOME_UPHELD, K.APPEAL_OUTCOME_DISMISSED])
def test_an_appeal_upheld_or_dismissed_closes_the_complaint_and_leaves_the_decision(hub, backoffice, caseworker, disp,
                                                                                    outcome):
    case, d, complaint = forwarded(backoffice, caseworker, disp)
    req = K.RecordAppealOutcomeRequest(request_id=rid(), complaint_id=complaint.complaint_id, outcome=outcome,
                                       appeal_reference="25-77", note="Ankestyrelsen er enig.")
    done = caseworker.RecordAppealOutcome(req)
    assert caseworker.RecordAppealOutcome(req) == done  # a retry gives the first answer
    assert done.status == K.COMPLAINT_STATUS_APPEAL_DECIDED and done.appeal.outcome == outcome
    assert not done.appeal.new_decision_id
    shown = get(backoffice, case.case_id)
    assert shown.status == S.CASE_STATUS_DECIDED and [x.decision_id for x in shown.decisions] == [d.decision_id]
    # The new decision belongs to CHANGED only.
    again = rpc_error(caseworker.RecordAppealOutcome, K.RecordAppealOutcomeRequest(
        request_id=rid(), complaint_id=complaint.complaint_id, outcome=outcome, appeal_reference="25-77",
        new_decision=K.AppealDecisionContent(outcome=D.OUTCOME_GRANTED, amounts=[period(1)])))
    assert again.code() == grpc.StatusCode.INVALID_ARGUMENT and "new_decision" in details(again)[0]
    assert [e["payload"]["outcome"] for e in events(hub.engine, case.case_id, "complaint.appeal_decided")] == [
        K.AppealOutcome.Name(outcome).removeprefix("APPEAL_OUTCOME_")]


def forwarded(backoffice, caseworker, disp, **kw):
    case, d = sent_decision(backoffice, disp, **kw)
    complaint = file(backoffice, d.decision_id)
    statement(backoffice, complaint.complaint_id)
    reconsider(caseworker, complaint.complaint_id, K.RECONSIDERATION_OUTCOME_UPHELD)
    return case, d, complaint


def test_a_late_complaint_waits_for_the_authority_to_accept_or_dismiss_it(hub, backoffice, borgerservice,
                                                                         caseworker, disp, drops, clock):
    case, d = sent_decision(backoffice, disp)
    clock.advance(weeks=5)
    late = file(borgerservice, d.decision_id)
    assert late.late
    statement(backoffice, late.complaint_id)
    assert not caseworker.ListComplaints(K.ListComplaintsRequest(awaiting_reconsideration=True)).complaints
    err = rpc_error(reconsider, caseworker, late.complaint_id, K.RECONSIDERATION_OUTCOME_UPHELD)
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "LATE_COMPLAINT_UNDECIDED")
    dismissed = caseworker.DecideLateComplaint(K.DecideLateComplaintRequest(
        request_id=rid(), complaint_id=late.complaint_id, decision=K.LATE_COMPLAINT_DECISION_DISMISSED,
        reason="Ingen særlige grunde til at se bort fra fristen."))
    assert dismissed.status == K.COMPLAINT_STATUS_DISMISSED_AS_LATE
    assert dismissed.late_decision.decision == K.LATE_COMPLAINT_DECISION_DISMISSED
    disp.drain()
    texts = [base64.b64decode(ET.parse(p).getroot().findtext(
        "memo:MessageBody/memo:MainDocument/memo:File/memo:content", namespaces={"memo": MEMO_NS})).decode()
        for p in (drops / "digital_post").glob("*.xml")]
    assert any("Din klage er afvist" in t for t in texts)

    # A late complaint that is accepted goes on as any other (received in time: not late).
    again = file(borgerservice, d.decision_id, received_time=dismissed.received_time)
    assert again.late
    err = rpc_error(caseworker.DecideLateComplaint, K.DecideLateComplaintRequest(
        request_id=rid(), complaint_id=again.complaint_id, reason="syg"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "decision" in details(err)[0]
    accepted = caseworker.DecideLateComplaint(K.DecideLateComplaintRequest(
        request_id=rid(), complaint_id=again.complaint_id, decision=K.LATE_COMPLAINT_DECISION_ACCEPTED,
        reason="Borgeren var indlagt."))
    assert accepted.status == K.COMPLAINT_STATUS_RECEIVED
    statement(backoffice, again.complaint_id)
    assert reconsider(caseworker, again.complaint_id,
                      K.RECONSIDERATION_OUTCOME_UPHELD).status == K.COMPLAINT_STATUS_FORWARDED


def test_an_appeal_remitted_sends_the_case_back_and_it_is_decided_again(hub, backoffice, caseworker, disp):
    case, d, complaint = forwarded(backoffice, caseworker, disp)
    outcome = backoffice.RecordAppealOutcome(K.RecordAppealOutcomeRequest(
        request_id=rid(), complaint_id=complaint.complaint_id, outcome=K.APPEAL_OUTCOME_REMITTED,
        appeal_reference="25-123456", decided_on={"year": 2026, "month": 4, "day": 1}))
    assert outcome.status == K.COMPLAINT_STATUS_APPEAL_DECIDED
    assert outcome.appeal.outcome == K.APPEAL_OUTCOME_REMITTED and outcome.appeal.appeal_reference == "25-123456"
    shown = get(backoffice, case.case_id)
    assert shown.status == S.CASE_STATUS_INFORMING
    assert "remitted" in shown.status_history[-1].reason
    # Informed again and decided again.
    backoffice.AddInformation(info_req(case.case_id, kind="rent.monthly", value=7000.0,
                                       source=cases_pb2.INFORMATION_SOURCE_CITIZEN))
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(130_000)]))
    assert r.approved_automatically and r.case_status == S.CASE_STATUS_DECIDED
    err = rpc_error(backoffice.RecordAppealOutcome, K.RecordAppealOutcomeRequest(
        request_id=rid(), complaint_id=complaint.complaint_id, outcome=K.APPEAL_OUTCOME_UPHELD,
        appeal_reference="25-123456"))
    assert code_and_reason(err) == (grpc.StatusCode.FAILED_PRECONDITION, "ILLEGAL_COMPLAINT_STEP")


def test_an_appeal_that_changes_the_decision_records_it_with_the_appeals_authority_as_source(
        hub, backoffice, caseworker, disp):
    case, d, complaint = forwarded(backoffice, caseworker, disp)
    err = rpc_error(backoffice.RecordAppealOutcome, K.RecordAppealOutcomeRequest(
        request_id=rid(), complaint_id=complaint.complaint_id, outcome=K.APPEAL_OUTCOME_CHANGED,
        appeal_reference="25-9"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "new_decision" in details(err)[0]
    outcome = backoffice.RecordAppealOutcome(K.RecordAppealOutcomeRequest(
        request_id=rid(), complaint_id=complaint.complaint_id, outcome=K.APPEAL_OUTCOME_CHANGED,
        appeal_reference="25-9", new_decision=K.AppealDecisionContent(
            outcome=D.OUTCOME_GRANTED, amounts=[period(160_000)], reasoning="Huslejen skal medregnes fuldt.",
            legal_basis="Lov om individuel boligstøtte § 9")))
    new_id = outcome.appeal.new_decision_id
    shown = get(backoffice, case.case_id)
    assert shown.status == S.CASE_STATUS_DECIDED
    new = next(x for x in shown.decisions if x.decision_id == new_id)
    assert new.source == D.DECISION_SOURCE_APPEALS_AUTHORITY and new.approval.mode == D.APPROVAL_MODE_RECORDED
    assert new.status == D.DECISION_STATUS_APPROVED and "25-9" in new.approval.note
    assert shown.decisions[0].superseded_by_decision_id == new_id
    # The hub sends no letter for it: the appeals authority sent its own.
    with hub.engine.connect() as c:
        ids = set(c.execute(sa.select(tables.outbox.c.message_id)).scalars())
    assert f"decision/{new_id}/letter" not in ids and f"decision/{new_id}/economy" in ids


# ---- deadlines -------------------------------------------------------------------------------

def test_overdue_reconsideration_and_processing_deadlines_are_raised_once_and_listed(
        hub, backoffice, caseworker, cw751, disp, clock):
    case, d = sent_decision(backoffice, disp)
    complaint = file(backoffice, d.decision_id)
    waiting = backoffice.CreateCase(create_req())  # housing benefit: decided within its deadline, or late
    other = backoffice.CreateCase(create_req(municipality="751"))
    benefit = backoffice.GetBenefit(benefits_pb2.GetBenefitRequest(code="BOLIGSTOETTE"))
    disp.run_once()
    assert not caseworker.ListOverdue(cases_pb2.ListOverdueRequest()).items

    clock.advance(weeks=4, minutes=1)
    disp.run_once()
    [raised] = events(hub.engine, case.case_id, "complaint.reconsideration_overdue")
    assert raised["payload"]["complaint_id"] == complaint.complaint_id
    [item] = caseworker.ListOverdue(cases_pb2.ListOverdueRequest()).items
    assert item.kind == cases_pb2.OVERDUE_KIND_RECONSIDERATION and item.subject_id == complaint.complaint_id
    assert not cw751.ListOverdue(cases_pb2.ListOverdueRequest()).items

    clock.advance(days=benefit.processing_deadline_days)
    disp.run_once()
    disp.run_once()
    assert len(events(hub.engine, case.case_id, "complaint.reconsideration_overdue")) == 1
    assert len(events(hub.engine, waiting.case_id, "case.processing_deadline_passed")) == 1
    assert not events(hub.engine, case.case_id, "case.processing_deadline_passed")  # it was decided
    mine = caseworker.ListOverdue(cases_pb2.ListOverdueRequest()).items
    assert [(i.kind, i.subject_id) for i in mine] == [
        (cases_pb2.OVERDUE_KIND_RECONSIDERATION, complaint.complaint_id),
        (cases_pb2.OVERDUE_KIND_PROCESSING_DEADLINE, waiting.case_id)]
    assert [i.case_id for i in cw751.ListOverdue(cases_pb2.ListOverdueRequest()).items] == [other.case_id]
    # The back office sees all, page by page.
    first = backoffice.ListOverdue(cases_pb2.ListOverdueRequest(page_size=2))
    rest = backoffice.ListOverdue(cases_pb2.ListOverdueRequest(page_size=2, page_token=first.next_page_token))
    # Oldest first; the two cases received at the same time by subject id.
    assert [i.subject_id for i in first.items] + [i.subject_id for i in rest.items] == [
        complaint.complaint_id, *sorted([waiting.case_id, other.case_id])] and not rest.next_page_token

    # Subscribers get the deadline events typed.
    seen = {}
    call = caseworker.Subscribe(E.SubscribeRequest(heartbeat_seconds=1, filter=E.EventFilter(event_types=[
        "complaint.reconsideration_overdue", "case.processing_deadline_passed"])))
    for item in call:
        if item.HasField("heartbeat"):
            break
        seen[item.event.type] = item.event
    call.cancel()
    assert seen["complaint.reconsideration_overdue"].complaint_reconsideration_overdue.complaint_id == \
        complaint.complaint_id
    assert seen["case.processing_deadline_passed"].case_id == waiting.case_id
    assert seen["case.processing_deadline_passed"].case_processing_deadline_passed.due

    statement(backoffice, complaint.complaint_id)
    done = reconsider(caseworker, complaint.complaint_id, K.RECONSIDERATION_OUTCOME_UPHELD)
    assert done.reconsideration.overdue
    assert [i.subject_id for i in caseworker.ListOverdue(cases_pb2.ListOverdueRequest()).items] == [waiting.case_id]
