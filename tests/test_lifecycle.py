"""The case walk over gRPC: create, inform, draft, approve (automatically or by the
authority), return and resubmit, withdraw; and what each step writes."""
from __future__ import annotations

import datetime as dt

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from hub.store import tables
from hub.v1 import benefits_pb2, cases_pb2, common_pb2, decisions_pb2
from tests.helpers import create_req, details, draft_req, info_req, period, rid, rpc_error

S = common_pb2


def test_catalogue_lists_the_five_benefits_with_their_authority(backoffice):
    benefits = {b.code: b for b in backoffice.ListBenefits(benefits_pb2.ListBenefitsRequest()).benefits}
    assert set(benefits) == {"FOLKEPENSION", "BOLIGSTOETTE", "BOERNEBIDRAG", "BARSELSDAGPENGE", "OEKONOMISK_FRIPLADS"}
    b = backoffice.GetBenefit(benefits_pb2.GetBenefitRequest(code="BARSELSDAGPENGE"))
    assert b.kle_number == "32.30" and b.recurrence == benefits_pb2.RECURRENCE_PER_PERIOD
    assert b.deciding_authority.kind == S.AUTHORITY_KIND_HOME_MUNICIPALITY
    assert b.processing_deadline_days > 0 and b.retention_years > 0 and b.ledger_account
    err = rpc_error(backoffice.GetBenefit, benefits_pb2.GetBenefitRequest(code="SU"))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_objective_case_is_approved_automatically_on_the_authoritys_behalf(hub, backoffice, clock):
    received = clock.now() - dt.timedelta(days=1)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(received)
    case = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE", received_time=ts,
                                            external_reference="ext-1"))
    assert case.status == S.CASE_STATUS_CREATED
    assert case.origin == S.ORIGIN_BACK_OFFICE
    assert case.authority.municipality_code == "101" and case.authority.name == "Københavns Kommune"
    assert case.processing_deadline.ToDatetime(tzinfo=dt.timezone.utc) == received + dt.timedelta(days=42)

    added = backoffice.AddInformation(info_req(case.case_id))
    assert added.case_status == S.CASE_STATUS_INFORMING

    submitted = backoffice.SubmitDraftDecision(draft_req(case.case_id))
    assert submitted.approved_automatically
    assert submitted.case_status == S.CASE_STATUS_DECIDED
    d = submitted.decision
    assert d.status == decisions_pb2.DECISION_STATUS_APPROVED
    assert d.approval.mode == decisions_pb2.APPROVAL_MODE_AUTOMATIC
    assert d.approval.authority.municipality_code == "101"

    full = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert [(h.from_status, h.to_status) for h in full.status_history] == [
        (S.CASE_STATUS_UNSPECIFIED, S.CASE_STATUS_CREATED),
        (S.CASE_STATUS_CREATED, S.CASE_STATUS_INFORMING),
        (S.CASE_STATUS_INFORMING, S.CASE_STATUS_DRAFT_PENDING_APPROVAL),
        (S.CASE_STATUS_DRAFT_PENDING_APPROVAL, S.CASE_STATUS_DECIDED),
    ]
    assert full.information[0].kind == "income.annual" and full.information[0].value.number_value == 300000
    assert full.information[0].supplied_by_client == "backoffice"

    with hub.engine.connect() as c:
        events = [r.type for r in c.execute(sa.select(tables.events.c.type, tables.events.c.seq)
                                            .where(tables.events.c.case_id == case.case_id)
                                            .order_by(tables.events.c.seq))]
        outbox = {r.destination: r.message_id for r in c.execute(sa.select(tables.outbox))}
        seqs = [r.seq for r in c.execute(sa.select(tables.events.c.seq).order_by(tables.events.c.seq))]
    assert events[:2] == ["case.created", "case.receipt"]
    assert "decision.approved" in events
    assert seqs == list(range(1, len(seqs) + 1)), "the event log has no gaps"
    # A self-service application of boligstøtte is processed automatically: the hub asked
    # the CPR register first, and the back office's draft took the case over from it.
    assert set(outbox) == {"cpr_register", "economy", "digital_post", "archive"}
    assert outbox["economy"] == f"decision/{d.decision_id}/economy"
    assert full.automation == cases_pb2.AUTOMATION_FELL_OUT
    assert full.fallout_reason == cases_pb2.FALLOUT_REASON_TAKEN_OVER and "backoffice" in full.fallout_detail
    assert events[2] == "case.automatic_processing_started" and "case.fell_out" in events


def test_discretionary_benefit_waits_for_the_authority(hub, backoffice, caseworker):
    case = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    backoffice.AddInformation(info_req(case.case_id))
    submitted = backoffice.SubmitDraftDecision(draft_req(case.case_id))
    assert not submitted.approved_automatically
    assert submitted.case_status == S.CASE_STATUS_DRAFT_PENDING_APPROVAL
    inbox = caseworker.ListPendingApprovals(decisions_pb2.ListPendingApprovalsRequest())
    assert [i.case_id for i in inbox.items] == [case.case_id]
    assert inbox.items[0].benefit_code == "FOLKEPENSION"

    # The authority amends the amount, with a note.
    amendment = decisions_pb2.Amendment(amounts=[period(99_000)])
    err = rpc_error(caseworker.ApproveDecision, decisions_pb2.ApproveDecisionRequest(
        request_id=rid(), decision_id=submitted.decision.decision_id, amendment=amendment))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "note" in details(err)[0]
    approved = caseworker.ApproveDecision(decisions_pb2.ApproveDecisionRequest(
        request_id=rid(), decision_id=submitted.decision.decision_id, amendment=amendment, note="Rent is lower."))
    assert approved.status == decisions_pb2.DECISION_STATUS_APPROVED
    assert approved.approval.mode == decisions_pb2.APPROVAL_MODE_MANUAL and approved.approval.by_client == "cw-101"
    assert approved.approval.amended and approved.amounts[0].amount_oere == 99_000
    assert approved.approval.original_amounts[0].amount_oere == 125_000
    assert caseworker.ListPendingApprovals(decisions_pb2.ListPendingApprovalsRequest()).items == []
    assert caseworker.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).status == S.CASE_STATUS_DECIDED

    # Approving twice is a wrong state, not a second decision.
    err = rpc_error(caseworker.ApproveDecision, decisions_pb2.ApproveDecisionRequest(
        request_id=rid(), decision_id=submitted.decision.decision_id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "APPROVED" in err.details()


def test_discretionary_points_or_another_open_case_prevent_automatic_approval(backoffice):
    with_points = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    backoffice.AddInformation(info_req(with_points.case_id))
    r = backoffice.SubmitDraftDecision(draft_req(with_points.case_id, points=[("household", "two adults")]))
    assert not r.approved_automatically

    from tests.conftest import new_cpr
    cpr = new_cpr()
    backoffice.CreateCase(create_req(benefit="BOERNEBIDRAG", cpr=cpr))  # stays open
    second = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE", cpr=cpr))
    backoffice.AddInformation(info_req(second.case_id))
    r = backoffice.SubmitDraftDecision(draft_req(second.case_id))
    assert not r.approved_automatically, "the citizen has another open case at the municipality"

    elsewhere = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE", cpr=cpr, municipality="751"))
    backoffice.AddInformation(info_req(elsewhere.case_id))
    assert backoffice.SubmitDraftDecision(draft_req(elsewhere.case_id)).approved_automatically


def test_return_and_resubmit(backoffice, caseworker):
    case = backoffice.CreateCase(create_req(benefit="OEKONOMISK_FRIPLADS"))
    backoffice.AddInformation(info_req(case.case_id))
    first = backoffice.SubmitDraftDecision(draft_req(case.case_id)).decision
    err = rpc_error(caseworker.ReturnDraft, decisions_pb2.ReturnDraftRequest(
        request_id=rid(), decision_id=first.decision_id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in details(err)[0]
    returned = caseworker.ReturnDraft(decisions_pb2.ReturnDraftRequest(
        request_id=rid(), decision_id=first.decision_id, reason="Household income is missing."))
    assert returned.status == decisions_pb2.DECISION_STATUS_RETURNED
    assert returned.returned.reason == "Household income is missing." and returned.returned.by_client == "cw-101"
    assert backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).status == S.CASE_STATUS_INFORMING

    backoffice.AddInformation(info_req(case.case_id, kind="income.household", value=410000))
    second = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(80_000)])).decision
    caseworker.ApproveDecision(decisions_pb2.ApproveDecisionRequest(request_id=rid(), decision_id=second.decision_id))
    full = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert [d.status for d in full.decisions] == [decisions_pb2.DECISION_STATUS_RETURNED,
                                                  decisions_pb2.DECISION_STATUS_APPROVED]
    assert full.status == S.CASE_STATUS_DECIDED


def test_only_the_cases_authority_approves(hub, backoffice, caseworker):
    case = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    backoffice.AddInformation(info_req(case.case_id))
    decision = backoffice.SubmitDraftDecision(draft_req(case.case_id)).decision
    aarhus = hub.as_("t-cw-751")
    assert aarhus.ListPendingApprovals(decisions_pb2.ListPendingApprovalsRequest()).items == []
    for call, req in [(aarhus.ApproveDecision, decisions_pb2.ApproveDecisionRequest(
            request_id=rid(), decision_id=decision.decision_id)),
            (aarhus.ReturnDraft, decisions_pb2.ReturnDraftRequest(request_id=rid(), decision_id=decision.decision_id,
                                                                  reason="no"))]:
        err = rpc_error(call, req)
        assert err.code() == grpc.StatusCode.NOT_FOUND, "another municipality does not learn the case exists"
    # The back office prepares drafts but is not the authority.
    err = rpc_error(backoffice.ApproveDecision, decisions_pb2.ApproveDecisionRequest(
        request_id=rid(), decision_id=decision.decision_id))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caseworker.ListPendingApprovals(decisions_pb2.ListPendingApprovalsRequest()).items[0].case_id == case.case_id


def test_case_of_another_municipality_is_not_found(hub, backoffice, borgerservice):
    other = backoffice.CreateCase(create_req(municipality="751"))
    for call, req in [(borgerservice.GetCase, cases_pb2.GetCaseRequest(case_id=other.case_id)),
                      (borgerservice.AddInformation, info_req(other.case_id)),
                      (borgerservice.WithdrawCase, cases_pb2.WithdrawCaseRequest(request_id=rid(),
                                                                                 case_id=other.case_id))]:
        err = rpc_error(call, req)
        assert err.code() == grpc.StatusCode.NOT_FOUND
    missing = rpc_error(borgerservice.GetCase, cases_pb2.GetCaseRequest(case_id="no-such-case"))
    assert missing.details() == rpc_error(borgerservice.GetCase,
                                          cases_pb2.GetCaseRequest(case_id=other.case_id)).details()
    err = rpc_error(borgerservice.CreateCase, create_req(municipality="751"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_in_person_is_borgerservice_and_withdrawal_cancels_the_pending_draft(backoffice, borgerservice, caseworker):
    case = borgerservice.CreateCase(create_req(benefit="FOLKEPENSION", channel=S.CHANNEL_IN_PERSON))
    assert case.origin == S.ORIGIN_BORGERSERVICE and case.created_by_client == "bs-101"
    borgerservice.AddInformation(info_req(case.case_id, kind="assessment.health", discretionary=True,
                                          source=cases_pb2.INFORMATION_SOURCE_AUTHORITY))
    backoffice.SubmitDraftDecision(draft_req(case.case_id))
    withdrawn = borgerservice.WithdrawCase(cases_pb2.WithdrawCaseRequest(request_id=rid(), case_id=case.case_id,
                                                                         reason="Citizen called."))
    assert withdrawn.status == S.CASE_STATUS_WITHDRAWN
    assert withdrawn.decisions[0].status == decisions_pb2.DECISION_STATUS_CANCELLED
    assert caseworker.ListPendingApprovals(decisions_pb2.ListPendingApprovalsRequest()).items == []
    err = rpc_error(backoffice.AddInformation, info_req(case.case_id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "WITHDRAWN" in err.details()


def test_illegal_transitions_name_the_current_state(backoffice):
    case = backoffice.CreateCase(create_req())
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "CREATED" in err.details() and details(err)[1].metadata["current_status"] == "CREATED"
    backoffice.AddInformation(info_req(case.case_id))
    backoffice.SubmitDraftDecision(draft_req(case.case_id))  # automatic approval
    err = rpc_error(backoffice.WithdrawCase, cases_pb2.WithdrawCaseRequest(request_id=rid(), case_id=case.case_id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "DECIDED" in err.details()


def test_only_the_authority_adds_discretionary_assessments(backoffice):
    case = backoffice.CreateCase(create_req())
    err = rpc_error(backoffice.AddInformation, info_req(case.case_id, discretionary=True))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_health_and_reflection(hub):
    health = health_pb2_grpc.HealthStub(hub.channel)
    for name in ["", "hub.v1.CaseService", "hub.v1.DecisionService", "hub.v1.BenefitCatalogueService"]:
        assert health.Check(health_pb2.HealthCheckRequest(service=name)).status == \
            health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(hub.channel)
    responses = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"hub.v1.CaseService", "hub.v1.DecisionService", "hub.v1.BenefitCatalogueService",
            "grpc.health.v1.Health"} <= names
    files = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="hub.v1.CaseService")])))
    assert files[0].file_descriptor_response.file_descriptor_proto


def test_a_method_the_hub_does_not_have_is_unimplemented(hub):
    for path in ["/hub.v1.CaseService/NoSuchMethod", "/hub.v1.NoSuchService/CreateCase", "/grpc.health.v1.Health/X"]:
        call = hub.channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as err:
            call(b"", metadata=(("authorization", "Bearer t-backoffice"),))
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED, path
