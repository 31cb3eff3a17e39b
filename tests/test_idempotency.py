"""Every mutating RPC is idempotent on (client, request_id)."""
from __future__ import annotations

import concurrent.futures

import grpc

from hub.v1 import cases_pb2, decisions_pb2
from tests.helpers import create_req, details, draft_req, info_req, rid, rpc_error, table_counts


def test_retries_return_the_first_response_and_write_nothing(hub, backoffice, caseworker):
    req = create_req(benefit="FOLKEPENSION")
    first = backoffice.CreateCase(req)
    counts = table_counts(hub.engine)
    assert backoffice.CreateCase(req) == first
    assert table_counts(hub.engine) == counts

    info = info_req(first.case_id)
    added = backoffice.AddInformation(info)
    draft = draft_req(first.case_id)
    submitted = backoffice.SubmitDraftDecision(draft)
    approve = decisions_pb2.ApproveDecisionRequest(request_id=rid(), decision_id=submitted.decision.decision_id)
    approved = caseworker.ApproveDecision(approve)
    counts = table_counts(hub.engine)
    # Each retried after the case has moved on: still the original answers.
    assert backoffice.AddInformation(info) == added
    assert backoffice.SubmitDraftDecision(draft) == submitted
    assert caseworker.ApproveDecision(approve) == approved
    assert table_counts(hub.engine) == counts


def test_same_request_id_with_other_content_is_rejected(hub, backoffice):
    req = create_req()
    backoffice.CreateCase(req)
    counts = table_counts(hub.engine)
    other = cases_pb2.CreateCaseRequest()
    other.CopyFrom(req)
    other.external_reference = "changed"
    err = rpc_error(backoffice.CreateCase, other)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert details(err)[1].reason == "REQUEST_ID_REUSED"
    # The same id on another RPC is also another request.
    err = rpc_error(backoffice.AddInformation, info_req("whatever", request_id=req.request_id))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert table_counts(hub.engine) == counts


def test_request_ids_are_per_client(hub, backoffice, borgerservice):
    a = backoffice.CreateCase(create_req(request_id="shared-id"))
    b = borgerservice.CreateCase(create_req(request_id="shared-id"))
    assert a.case_id != b.case_id


def test_concurrent_duplicates_create_one_case(hub, backoffice):
    req = create_req()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: backoffice.CreateCase(req), range(16)))
    # Every caller gets the answer of the one transaction that committed (on
    # PostgreSQL the twins run in batches on four lanes at once: an answer from a
    # savepoint that lost the request id to another lane was once replayed).
    assert table_counts(hub.engine)["cases"] == 1
    assert len({r.case_id for r in results}) == 1
    assert backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=results[0].case_id)).case_id == results[0].case_id


def test_failed_call_can_be_retried_with_the_same_id(hub, backoffice):
    case = backoffice.CreateCase(create_req())
    req = draft_req(case.case_id)  # too early: the case is CREATED
    assert rpc_error(backoffice.SubmitDraftDecision, req).code() == grpc.StatusCode.FAILED_PRECONDITION
    backoffice.AddInformation(info_req(case.case_id))
    assert backoffice.SubmitDraftDecision(req).decision.case_id == case.case_id


def test_a_twin_that_commits_first_is_answered_from_its_stored_response(inline_hub, monkeypatch):
    """Another process may store the same request id between this call's look-up and its
    commit: the commit then fails on the key, and the retry replays the twin's response."""
    from hub.store.repositories.log import Idempotency
    hub, backoffice = inline_hub, inline_hub.as_("t-backoffice")
    req = create_req()
    first = backoffice.CreateCase(req)
    real = Idempotency.stored
    missed = []

    def looks_too_early(self, client_id, request_id):
        if not missed:  # the first look-up does not yet see the twin's row
            missed.append(request_id)
            return None
        return real(self, client_id, request_id)
    monkeypatch.setattr(Idempotency, "stored", looks_too_early)
    again = backoffice.CreateCase(req)
    assert missed == [req.request_id]
    assert again == first
    assert table_counts(hub.engine)["cases"] == 1
