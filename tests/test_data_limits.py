"""Data limits beyond municipalities: the benefits a client works with and the highest
case sensitivity it may see. Out of limits looks like absent (NOT_FOUND), lists and
streams never show it, and a client cannot create or raise a case above its limit."""
from __future__ import annotations

import grpc

from hub.v1 import cases_pb2, common_pb2, decisions_pb2, events_pb2, events_pb2_grpc
from tests.helpers import cases_until_heartbeat, create_req, details, draft_req, info_req, rpc_error

S = common_pb2


def _ids(client, **filters):
    return {c.case_id for c in client.ListCases(cases_pb2.ListCasesRequest(**filters)).cases}


def test_protected_persons_are_seen_only_with_that_limit(hub, backoffice):
    protected_bs = hub.as_("t-bs-101-protected")
    err = rpc_error(backoffice.CreateCase, create_req(sensitivity=S.CASE_SENSITIVITY_PROTECTED_PERSON))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and details(err)[1].reason == "SENSITIVITY_ABOVE_LIMIT"

    case = protected_bs.CreateCase(create_req(channel=S.CHANNEL_IN_PERSON,
                                              sensitivity=S.CASE_SENSITIVITY_PROTECTED_PERSON))
    assert case.sensitivity == S.CASE_SENSITIVITY_PROTECTED_PERSON
    ordinary = backoffice.CreateCase(create_req())
    assert ordinary.sensitivity == S.CASE_SENSITIVITY_NOT_CONFIDENTIAL
    for client in (backoffice, hub.as_("t-bs-101"), hub.as_("t-cw-101")):
        err = rpc_error(client.GetCase, cases_pb2.GetCaseRequest(case_id=case.case_id))
        assert err.code() == grpc.StatusCode.NOT_FOUND
        assert case.case_id not in _ids(client) and case.case_id not in _ids(client, cpr=case.cpr)
    assert _ids(protected_bs) == {case.case_id, ordinary.case_id}


def test_information_raises_the_sensitivity_and_the_limits_follow(hub, backoffice):
    limited = hub.as_("t-cw-101-bolig")
    case = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    assert limited.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).case_id == case.case_id
    backoffice.AddInformation(info_req(case.case_id, kind="health.statement",
                                       sensitivity=S.CASE_SENSITIVITY_SENSITIVE_PERSONAL_DATA))
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert shown.sensitivity == S.CASE_SENSITIVITY_SENSITIVE_PERSONAL_DATA
    # Never lowered.
    backoffice.AddInformation(info_req(case.case_id, sensitivity=S.CASE_SENSITIVITY_CONFIDENTIAL))
    assert backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).sensitivity == \
        S.CASE_SENSITIVITY_SENSITIVE_PERSONAL_DATA
    # The confidential-at-most caseworker no longer sees it, nor its draft in the inbox.
    backoffice.SubmitDraftDecision(draft_req(case.case_id, points=[("rent", "reasonable")]))
    assert rpc_error(limited.GetCase, cases_pb2.GetCaseRequest(case_id=case.case_id)).code() == \
        grpc.StatusCode.NOT_FOUND
    assert case.case_id not in _ids(limited)
    inbox = limited.ListPendingApprovals(decisions_pb2.ListPendingApprovalsRequest()).items
    assert case.case_id not in {i.case_id for i in inbox}
    assert case.case_id in {i.case_id for i in hub.as_("t-cw-101").ListPendingApprovals(
        decisions_pb2.ListPendingApprovalsRequest()).items}
    # Nor may it raise a case above its own limit.
    other = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    err = rpc_error(limited.AddInformation, info_req(other.case_id,
                                                     sensitivity=S.CASE_SENSITIVITY_SENSITIVE_PERSONAL_DATA))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_benefit_limit(hub, backoffice):
    limited = hub.as_("t-cw-101-bolig")
    pension = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    housing = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    assert rpc_error(limited.GetCase, cases_pb2.GetCaseRequest(case_id=pension.case_id)).code() == \
        grpc.StatusCode.NOT_FOUND
    assert _ids(limited) == {housing.case_id}
    assert _ids(limited, benefit_code="FOLKEPENSION") == set()


def test_streams_respect_the_limits(hub, backoffice):
    protected_bs = hub.as_("t-bs-101-protected")
    protected = protected_bs.CreateCase(create_req(channel=S.CHANNEL_IN_PERSON,
                                                   sensitivity=S.CASE_SENSITIVITY_PROTECTED_PERSON))
    pension = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    housing = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    stub = events_pb2_grpc.EventServiceStub(hub.channel)

    def cases_seen(token):
        return cases_until_heartbeat(stub.Subscribe(events_pb2.SubscribeRequest(heartbeat_seconds=1),
                                                    metadata=[("authorization", f"Bearer {token}")], timeout=10))
    assert cases_seen("t-cw-101-bolig") == {housing.case_id}
    assert cases_seen("t-cw-101") == {pension.case_id, housing.case_id}
    assert protected.case_id in cases_seen("t-bs-101-protected")


def test_live_streams_respect_the_limits(hub, backoffice):
    """Events that arrive while the stream is open come from the shared in-memory feed."""
    stub = events_pb2_grpc.EventServiceStub(hub.channel)
    calls = {token: stub.Subscribe(events_pb2.SubscribeRequest(heartbeat_seconds=1),
                                   metadata=[("authorization", f"Bearer {token}")], timeout=15)
             for token in ("t-cw-101-bolig", "t-bs-101-protected")}
    for call in calls.values():  # both open and idle
        assert next(call).HasField("heartbeat")
    protected = hub.as_("t-bs-101-protected").CreateCase(
        create_req(channel=S.CHANNEL_IN_PERSON, sensitivity=S.CASE_SENSITIVITY_PROTECTED_PERSON))
    pension = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    housing = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    seen = {}
    for token, call in calls.items():
        cases = set()
        for item in call:
            if item.HasField("heartbeat") and cases:
                break
            if item.HasField("event"):
                cases.add(item.event.case_id)
        call.cancel()
        seen[token] = cases
    assert seen["t-cw-101-bolig"] == {housing.case_id}
    assert seen["t-bs-101-protected"] == {protected.case_id, pension.case_id, housing.case_id}


def test_the_citizen_portal_sees_the_status_of_the_citizens_own_cases_only(hub, backoffice):
    from tests.conftest import new_cpr
    cpr = new_cpr()
    portal = hub.as_citizen(cpr)
    mine = [backoffice.CreateCase(create_req(cpr=cpr)), backoffice.CreateCase(create_req(municipality="751", cpr=cpr,
                                                                                         benefit="FOLKEPENSION"))]
    backoffice.AddInformation(info_req(mine[0].case_id))
    backoffice.CreateCase(create_req())  # somebody else's
    listed = portal.ListCitizenCases(cases_pb2.ListCitizenCasesRequest(cpr=f"{cpr[:6]}-{cpr[6:]}")).cases
    assert {(c.case_id, c.status) for c in listed} == {(mine[0].case_id, S.CASE_STATUS_INFORMING),
                                                       (mine[1].case_id, S.CASE_STATUS_CREATED)}
    assert all(c.processing_deadline.seconds > c.received_time.seconds for c in listed)
    # Status only: the case itself, lists of others' cases and writes are not the portal's.
    assert rpc_error(portal.GetCase, cases_pb2.GetCaseRequest(case_id=mine[0].case_id)).code() == \
        grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(portal.ListCases, cases_pb2.ListCasesRequest()).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(portal.CreateCase, create_req()).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(portal.ListCitizenCases, cases_pb2.ListCitizenCasesRequest(cpr="3213")).code() == \
        grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error(backoffice.ListCitizenCases, cases_pb2.ListCitizenCasesRequest(cpr=cpr)).code() == \
        grpc.StatusCode.PERMISSION_DENIED


def test_a_raise_hides_the_cases_earlier_events_from_streams_without_the_limit(hub, backoffice):
    stub = events_pb2_grpc.EventServiceStub(hub.channel)
    opener = stub.Subscribe(events_pb2.SubscribeRequest(heartbeat_seconds=1),
                            metadata=[("authorization", "Bearer t-cw-101")], timeout=15)
    assert next(opener).HasField("heartbeat")  # the shared feed is running from here on
    case = backoffice.CreateCase(create_req())
    other = backoffice.CreateCase(create_req())
    for item in opener:  # the feed has buffered both cases' events
        if item.HasField("heartbeat"):
            break
    opener.cancel()
    hub.as_("t-bs-101-protected").AddInformation(info_req(case.case_id,
                                                          sensitivity=S.CASE_SENSITIVITY_PROTECTED_PERSON))
    late = stub.Subscribe(events_pb2.SubscribeRequest(heartbeat_seconds=1),
                          metadata=[("authorization", "Bearer t-cw-101")], timeout=15)
    assert cases_until_heartbeat(late) == {other.case_id}
