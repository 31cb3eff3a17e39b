"""The whole permission matrix over gRPC: every RPC x every role x a target in scope and
out of scope by municipality, by benefit and by sensitivity, each with the code the
permission table and the data limits give. Lists and streams must hold only the
in-scope target. The number of cells is printed.

The citizen portal acts for one citizen (its signed assertion's): for it, a case of
another citizen is out of scope too ("other citizen"), and without an assertion its
citizen calls are UNAUTHENTICATED."""
from __future__ import annotations

import grpc
import pytest

from hub.api.auth import ClientRegistry
from hub.domain.identity import CITIZEN_ACTIONS, PERMISSIONS, Role
from hub.v1 import (audit_pb2, benefits_pb2, cases_pb2, citizen_pb2, common_pb2, complaints_pb2 as K, control_pb2,
                    decisions_pb2, events_pb2, operations_pb2, payments_pb2 as P, rules_pb2, settlement_pb2, statistics_pb2)
from hub.v1 import billing_pb2
from tests.conftest import CLIENTS, PortalClient, RunningHub, new_cpr
from tests.helpers import cases_until_heartbeat, create_req, details, draft_req, finding_on, info_req, publish_req, rid

S = common_pb2
OK = grpc.StatusCode.OK
SCOPES = ("in", "other municipality", "other benefit", "protected person", "other citizen")
# One client per role, limited alike: municipality 101, housing benefit, up to sensitive data.
ROLE_CLIENTS = [dict(id=f"m-{r.value}", token=f"t-m-{r.value}", role=r.value, municipalities=["101"],
                     benefits=["BOLIGSTOETTE"], max_sensitivity="sensitive_personal_data") for r in Role]
# Billing covers every municipality at once: one client per role acting for all of them.
ALL_CLIENTS = [dict(id=f"a-{r.value}", token=f"t-a-{r.value}", role=r.value, municipalities=["*"]) for r in Role]
_PORTAL_PEM = next(c for c in CLIENTS if c["id"] == "borger.dk")["assertion_public_key"]
for _c in ROLE_CLIENTS:
    if _c["role"] == Role.CITIZEN_PORTAL.value:
        _c["assertion_public_key"] = _PORTAL_PEM  # (signed with tests.conftest.PORTAL_KEY)
SETUP = [dict(id="setup-admin", token="t-setup-admin", role="back_office", municipalities=["*"],
              max_sensitivity="protected_person"),
         dict(id="setup-authority", token="t-setup-authority", role="caseworker", municipalities=["*"],
              max_sensitivity="protected_person")]


@pytest.fixture
def matrix_hub(clean_db, clock):
    h = RunningHub(clean_db, clock, registry=ClientRegistry.from_entries(CLIENTS + ROLE_CLIENTS + SETUP
                                                                                 + ALL_CLIENTS))
    yield h
    h.stop()


def _target(admin, cpr, scope, *, state="CREATED"):
    """A case for `scope`, brought to `state` (CREATED, INFORMING, PENDING)."""
    kw = dict(cpr=cpr, municipality="101", benefit="BOLIGSTOETTE")
    if scope == "other municipality":
        kw["municipality"] = "751"
    elif scope == "other citizen":
        kw["cpr"] = new_cpr()
    elif scope == "other benefit":
        kw["benefit"] = "FOLKEPENSION"
    elif scope == "protected person":
        kw["sensitivity"] = S.CASE_SENSITIVITY_PROTECTED_PERSON
    case = admin.CreateCase(create_req(**kw))
    decision = None
    if state in ("INFORMING", "PENDING"):
        admin.AddInformation(info_req(case.case_id))
    if state == "PENDING":  # a discretionary point keeps the draft in the inbox
        decision = admin.SubmitDraftDecision(draft_req(case.case_id, points=[("rent", "reasonable")])).decision
    return case, decision


def _code(fn):
    try:
        fn()
        return OK
    except grpc.RpcError as err:
        return err.code()


def out_of_scope(role: Role, scope: str) -> bool:
    """Another citizen's case is out of scope for the portal only."""
    return scope != "in" and (scope != "other citizen" or role is Role.CITIZEN_PORTAL)


def test_every_rpc_for_every_role_in_and_out_of_scope(matrix_hub, capsys):
    hub = matrix_hub
    admin = hub.as_("t-setup-admin")
    cpr = new_cpr()

    def client_of(role: Role):
        """The role's client; the portal acting for the citizen `cpr`, the targets' one."""
        if role is Role.CITIZEN_PORTAL:
            return hub.as_citizen(cpr, token=f"t-m-{role.value}", issuer=f"m-{role.value}")
        return hub.as_(f"t-m-{role.value}")

    listed_targets = {scope: _target(admin, cpr, scope, state="PENDING")[0].case_id for scope in SCOPES}
    cells = 0
    wrong: list[str] = []

    def case_rpc(action, state, call, in_scope=OK):
        """A call on a fresh target: role first, then data limits; `in_scope`: what a
        permitted role gets on the target in its scope."""
        nonlocal cells
        for role in Role:
            client = client_of(role)
            for scope in SCOPES:
                case, decision = _target(admin, cpr, scope, state=state)
                got = _code(lambda: call(client, case, decision))
                permitted = role in PERMISSIONS[action]
                authority = action in ("ApproveDecision", "ReturnDraft")
                if not permitted:
                    want = grpc.StatusCode.PERMISSION_DENIED
                elif not out_of_scope(role, scope):
                    want = in_scope
                elif action == "CreateCase":
                    want = grpc.StatusCode.PERMISSION_DENIED  # it names what it may not act for
                else:
                    want = grpc.StatusCode.NOT_FOUND
                if authority and permitted and not out_of_scope(role, scope) and role is not Role.CASEWORKER:
                    want = grpc.StatusCode.PERMISSION_DENIED
                cells += 1
                if got != want:
                    wrong.append(f"{action} as {role.value}, {scope}: {got.name}, expected {want.name}")

    def create(client, case, _):  # the target only gives the scope's parameters
        req = create_req(municipality=case.municipality_code, benefit=case.benefit_code,
                         channel=S.CHANNEL_IN_PERSON, sensitivity=case.sensitivity)
        if isinstance(client, PortalClient):  # the portal applies for its citizen (the target's), by self-service
            req.cpr, req.channel = case.cpr, S.CHANNEL_SELF_SERVICE
        client.CreateCase(req)

    case_rpc("CreateCase", "CREATED", create)
    case_rpc("GetCase", "CREATED", lambda c, case, _: c.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)))
    case_rpc("GetCitizenCase", "PENDING", lambda c, case, _: c.GetCitizenCase(
        citizen_pb2.GetCitizenCaseRequest(case_id=case.case_id)))
    case_rpc("AddInformation", "CREATED", lambda c, case, _: c.AddInformation(info_req(case.case_id)))
    case_rpc("WithdrawCase", "CREATED", lambda c, case, _: c.WithdrawCase(
        cases_pb2.WithdrawCaseRequest(request_id=rid(), case_id=case.case_id)))
    case_rpc("RequestRegisterData", "CREATED", lambda c, case, _: c.RequestRegisterData(
        cases_pb2.RequestRegisterDataRequest(request_id=rid(), case_id=case.case_id, register=cases_pb2.REGISTER_INCOME,
                                             from_month="2026-01", to_month="2026-02")))
    case_rpc("SubmitDraftDecision", "INFORMING", lambda c, case, _: c.SubmitDraftDecision(draft_req(case.case_id)))
    case_rpc("ApproveDecision", "PENDING", lambda c, case, d: c.ApproveDecision(
        decisions_pb2.ApproveDecisionRequest(request_id=rid(), decision_id=d.decision_id)))
    case_rpc("ReturnDraft", "PENDING", lambda c, case, d: c.ReturnDraft(
        decisions_pb2.ReturnDraftRequest(request_id=rid(), decision_id=d.decision_id, reason="more")))
    case_rpc("StartHearing", "PENDING", lambda c, case, d: c.StartHearing(
        decisions_pb2.StartHearingRequest(request_id=rid(), decision_id=d.decision_id)))
    # (The target has no facts to calculate from: a permitted role in scope is told so.)
    case_rpc("CalculateDraft", "INFORMING", lambda c, case, _: c.CalculateDraft(
        rules_pb2.CalculateDraftRequest(case_id=case.case_id)), in_scope=grpc.StatusCode.FAILED_PRECONDITION)
    # (Nor a settlement: a permitted role in scope is told there is none.)
    case_rpc("GetSettlement", "CREATED", lambda c, case, _: c.GetSettlement(
        settlement_pb2.GetSettlementRequest(case_id=case.case_id, income_year=2025)),
        in_scope=grpc.StatusCode.NOT_FOUND)
    case_rpc("RecordControlOutcome", "CREATED", lambda c, case, _: c.RecordControlOutcome(
        control_pb2.RecordControlOutcomeRequest(request_id=rid(), finding_id=finding_on(hub, case.case_id),
                                                outcome=control_pb2.CONTROL_OUTCOME_NO_CHANGE)))

    # Lists and streams: permitted roles see the in-scope target and none of the others.
    def listing(action, call):
        nonlocal cells
        for role in Role:
            client = client_of(role)
            cells += len(SCOPES)
            try:
                seen = call(client)
            except grpc.RpcError as err:
                if role in PERMISSIONS[action] or err.code() != grpc.StatusCode.PERMISSION_DENIED:
                    wrong.append(f"{action} as {role.value}: {err.code().name}")
                continue
            if role not in PERMISSIONS[action]:
                wrong.append(f"{action} as {role.value}: allowed, expected PERMISSION_DENIED")
            leaked = seen & {listed_targets[s] for s in SCOPES if out_of_scope(role, s)}
            if leaked or listed_targets["in"] not in seen:
                wrong.append(f"{action} as {role.value}: in scope seen {listed_targets['in'] in seen}, "
                             f"{len(leaked)} out of scope leaked")

    def stream(client):
        return cases_until_heartbeat(client.Subscribe(events_pb2.SubscribeRequest(heartbeat_seconds=1)))

    listing("ListCases", lambda c: {x.case_id for x in c.ListCases(cases_pb2.ListCasesRequest(page_size=500)).cases})
    listing("ListPendingApprovals", lambda c: {x.case_id for x in c.ListPendingApprovals(
        decisions_pb2.ListPendingApprovalsRequest(page_size=500)).items})
    listing("ListCitizenCases", lambda c: {x.case_id for x in c.ListCitizenCases(
        cases_pb2.ListCitizenCasesRequest(cpr=cpr, page_size=500)).cases})
    listing("Subscribe", stream)
    for case_id in listed_targets.values():
        finding_on(hub, case_id)
    listing("ListControlFindings", lambda c: {x.case_id for x in c.ListControlFindings(
        control_pb2.ListControlFindingsRequest(page_size=500)).findings})

    # RPCs without a case: the role alone decides.
    others = {
        "ListBenefits": lambda c: c.ListBenefits(benefits_pb2.ListBenefitsRequest()),
        "GetBenefit": lambda c: c.GetBenefit(benefits_pb2.GetBenefitRequest(code="BOLIGSTOETTE")),
        "GetOutboxSummary": lambda c: c.GetOutboxSummary(operations_pb2.GetOutboxSummaryRequest()),
        "ListOutboxMessages": lambda c: c.ListOutboxMessages(operations_pb2.ListOutboxMessagesRequest()),
        "ReplayDeadLetters": lambda c: c.ReplayDeadLetters(operations_pb2.ReplayDeadLettersRequest(
            request_id=rid(), all=True)),
        "PauseDestination": lambda c: c.PauseDestination(operations_pb2.PauseDestinationRequest(
            request_id=rid(), destination="archive")),
        "ResumeDestination": lambda c: c.ResumeDestination(operations_pb2.ResumeDestinationRequest(
            request_id=rid(), destination="archive")),
        "RetryNow": lambda c: c.RetryNow(operations_pb2.RetryNowRequest(request_id=rid(), destination="archive")),
        "CreateSubscription": lambda c: c.CreateSubscription(events_pb2.CreateSubscriptionRequest(
            request_id=rid(), name=f"s-{rid()[:8]}")),
        "GetSubscription": lambda c: c.GetSubscription(events_pb2.GetSubscriptionRequest(name="mine")),
        "AckEvents": lambda c: c.AckEvents(events_pb2.AckEventsRequest(name="mine", sequence=1)),
        "ListAuditEntries": lambda c: c.ListAuditEntries(audit_pb2.ListAuditEntriesRequest()),
        "ListCitizenAccess": lambda c: c.ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(cpr=cpr)),
        "RunPayments": lambda c: list(c.RunPayments(P.RunPaymentsRequest(request_id=rid(), period="2026-01"))),
        "ListPayments": lambda c: c.ListPayments(P.ListPaymentsRequest()),
        "FetchPaymentBatch": lambda c: c.FetchPaymentBatch(P.FetchPaymentBatchRequest()),
        "PushPaymentBatch": lambda c: c.PushPaymentBatch(P.PushPaymentBatchRequest(
            request_id=rid(), provider_id="m-payment_provider")),
        "ListComplaints": lambda c: c.ListComplaints(K.ListComplaintsRequest()),
        "ListOverdue": lambda c: c.ListOverdue(cases_pb2.ListOverdueRequest()),
        "ListRuleSets": lambda c: c.ListRuleSets(rules_pb2.ListRuleSetsRequest()),
        "GetRuleSet": lambda c: c.GetRuleSet(rules_pb2.GetRuleSetRequest(benefit_code="BOLIGSTOETTE")),
        "PublishRuleSet": lambda c: c.PublishRuleSet(publish_req()),
        "GetAutomationReport": lambda c: c.GetAutomationReport(rules_pb2.GetAutomationReportRequest()),
        "RunFinalSettlement": lambda c: list(c.RunFinalSettlement(settlement_pb2.RunFinalSettlementRequest(
            request_id=rid(), income_year=2025, benefit_code="BOLIGSTOETTE", municipality_code="101"))),
        "ListSettlements": lambda c: c.ListSettlements(settlement_pb2.ListSettlementsRequest()),
        "RunControl": lambda c: list(c.RunControl(control_pb2.RunControlRequest(request_id=rid(), period="2026-02"))),
        "GetStatistics": lambda c: c.GetStatistics(statistics_pb2.GetStatisticsRequest(
            municipality_code="101", benefit_code="BOLIGSTOETTE", from_month="2026-01", to_month="2026-03")),
    }
    # Role-only RPCs on something that does not exist: a permitted role is told so
    # (NOT_FOUND), any other is refused first.
    missing = {
        "AcknowledgePaymentBatch": lambda c: c.AcknowledgePaymentBatch(P.AcknowledgePaymentBatchRequest(
            batch_id="no-such-batch")),
        "ReportSettlement": lambda c: c.ReportSettlement(P.ReportSettlementRequest(request_id=rid(), settlements=[
            P.SettlementReport(end_to_end_id="HUB0-202601", result=P.SETTLEMENT_RESULT_PAID, amount_oere=1,
                               settlement_date={"year": 2026, "month": 1, "day": 1})])),
        "ReportCollection": lambda c: c.ReportCollection(P.ReportCollectionRequest(
            request_id=rid(), claim_id="no-such-claim", amount_oere=1)),
        "SchedulePayments": lambda c: c.SchedulePayments(P.SchedulePaymentsRequest(
            request_id=rid(), decision_id="no-such-decision", period="2026-01")),
        "ReissuePayment": lambda c: c.ReissuePayment(P.ReissuePaymentRequest(request_id=rid(),
                                                                            end_to_end_id="HUB0-202601")),
        "SetClaimOffset": lambda c: c.SetClaimOffset(P.SetClaimOffsetRequest(request_id=rid(),
                                                                            claim_id="no-such-claim")),
        "WriteOffClaim": lambda c: c.WriteOffClaim(P.WriteOffClaimRequest(request_id=rid(), claim_id="no-such-claim",
                                                                         reason="gone")),
        "RecordHearingResponse": lambda c: c.RecordHearingResponse(decisions_pb2.RecordHearingResponseRequest(
            request_id=rid(), hearing_id="no-such-hearing", comments="I disagree", channel=S.CHANNEL_SELF_SERVICE)),
        "FileComplaint": lambda c: c.FileComplaint(K.FileComplaintRequest(
            request_id=rid(), decision_id="no-such-decision", channel=S.CHANNEL_SELF_SERVICE, grounds="wrong income")),
        "DecideLateComplaint": lambda c: c.DecideLateComplaint(K.DecideLateComplaintRequest(
            request_id=rid(), complaint_id="no-such-complaint", decision=K.LATE_COMPLAINT_DECISION_ACCEPTED,
            reason="ill")),
        "SubmitStatement": lambda c: c.SubmitStatement(K.SubmitStatementRequest(
            request_id=rid(), complaint_id="no-such-complaint", text="the facts")),
        "Reconsider": lambda c: c.Reconsider(K.ReconsiderRequest(
            request_id=rid(), complaint_id="no-such-complaint", outcome=K.RECONSIDERATION_OUTCOME_UPHELD)),
        "RecordAppealOutcome": lambda c: c.RecordAppealOutcome(K.RecordAppealOutcomeRequest(
            request_id=rid(), complaint_id="no-such-complaint", outcome=K.APPEAL_OUTCOME_UPHELD,
            appeal_reference="25-1")),
        "GetComplaint": lambda c: c.GetComplaint(K.GetComplaintRequest(complaint_id="no-such-complaint")),
    }
    for role in Role:
        client = client_of(role)
        if role in PERMISSIONS["CreateSubscription"]:
            client.CreateSubscription(events_pb2.CreateSubscriptionRequest(request_id=rid(), name="mine"))
        for action, call in others.items():
            want = OK if role in PERMISSIONS[action] else grpc.StatusCode.PERMISSION_DENIED
            got = _code(lambda: call(client))
            cells += 1
            if got != want:
                wrong.append(f"{action} as {role.value}: {got.name}, expected {want.name}")
        for action, call in missing.items():
            want = grpc.StatusCode.NOT_FOUND if role in PERMISSIONS[action] else grpc.StatusCode.PERMISSION_DENIED
            got = _code(lambda: call(client))
            cells += 1
            if got != want:
                wrong.append(f"{action} as {role.value}: {got.name}, expected {want.name}")

    # Statistics out of scope: another municipality's, or another benefit's, for every role.
    for role in Role:
        client = hub.as_(f"t-m-{role.value}")
        for muni, benefit in (("751", "BOLIGSTOETTE"), ("101", "FOLKEPENSION")):
            got = _code(lambda: client.GetStatistics(statistics_pb2.GetStatisticsRequest(
                municipality_code=muni, benefit_code=benefit, from_month="2026-01", to_month="2026-03")))
            cells += 1
            if got != grpc.StatusCode.PERMISSION_DENIED:
                wrong.append(f"GetStatistics {muni}/{benefit} as {role.value}: {got.name}, expected PERMISSION_DENIED")
    # Billing: a municipality's statement in scope (a preview of the quarter so far) and out
    # of it; a run covers every municipality, so a client for 101 alone may not run one
    # whatever its role, and each permitted role acting for all bills a quarter of its own.
    def refusal(fn):
        try:
            fn()
            return OK, ""
        except grpc.RpcError as err:
            info = details(err)[1]
            return err.code(), info.reason if info else ""

    denied = grpc.StatusCode.PERMISSION_DENIED
    quarters = iter(f"2025-Q{n}" for n in range(1, 5))
    for role in Role:
        permitted = role in PERMISSIONS["GetBillingStatement"]
        for code, scope in (("101", "in"), ("751", "other municipality")):
            got = refusal(lambda: hub.as_(f"t-m-{role.value}").GetBillingStatement(
                billing_pb2.GetBillingStatementRequest(quarter="2026-Q1", municipality_code=code)))
            want = ((OK, "") if scope == "in" else (denied, "MUNICIPALITY_OUT_OF_SCOPE")) if permitted \
                else (denied, "ROLE_NOT_PERMITTED")
            cells += 1
            if got != want:
                wrong.append(f"GetBillingStatement as {role.value}, {scope}: {got}, expected {want}")
        permitted = role in PERMISSIONS["RunBilling"]
        for prefix, scope in (("m", "101 only"), ("a", "all")):
            quarter = next(quarters) if permitted and scope == "all" else "2025-Q4"
            got = refusal(lambda: hub.as_(f"t-{prefix}-{role.value}").RunBilling(
                billing_pb2.RunBillingRequest(request_id=rid(), quarter=quarter)))
            want = ((OK, "") if scope == "all" else (denied, "MUNICIPALITY_OUT_OF_SCOPE")) if permitted \
                else (denied, "ROLE_NOT_PERMITTED")
            cells += 1
            if got != want:
                wrong.append(f"RunBilling as {role.value}, {scope}: {got}, expected {want}")

    # The portal without an assertion of the logged-in citizen: its citizen calls are
    # UNAUTHENTICATED (its other calls, the catalogue, are not the citizen's).
    bare = hub.as_(f"t-m-{Role.CITIZEN_PORTAL.value}")
    target, _ = _target(admin, cpr, "in")
    without = {
        "CreateCase": lambda c: c.CreateCase(create_req(cpr=cpr, channel=S.CHANNEL_SELF_SERVICE)),
        "GetCitizenCase": lambda c: c.GetCitizenCase(citizen_pb2.GetCitizenCaseRequest(case_id=target.case_id)),
        "ListCitizenCases": lambda c: c.ListCitizenCases(cases_pb2.ListCitizenCasesRequest(cpr=cpr)),
        "ListCitizenAccess": lambda c: c.ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(cpr=cpr)),
        "RecordHearingResponse": missing["RecordHearingResponse"], "FileComplaint": missing["FileComplaint"]}
    assert set(without) == CITIZEN_ACTIONS
    for action, call in without.items():
        got = _code(lambda: call(bare))
        cells += 1
        if got != grpc.StatusCode.UNAUTHENTICATED:
            wrong.append(f"{action} as citizen_portal without an assertion: {got.name}, expected UNAUTHENTICATED")

    # Every RPC of the contract is in the matrix, and every one of them is in the table.
    tested = {"RunBilling", "GetBillingStatement", "CreateCase", "GetCase", "GetCitizenCase", "AddInformation", "WithdrawCase", "RequestRegisterData",
              "SubmitDraftDecision", "ApproveDecision", "ReturnDraft", "ListCases", "ListPendingApprovals",
              "ListCitizenCases", "Subscribe", "StartHearing", "CalculateDraft", "GetSettlement",
              "RecordControlOutcome", "ListControlFindings", *others, *missing}
    from hub.api.services import SERVICE_NAMES
    from google.protobuf import descriptor_pool
    contract = {m.name for name in SERVICE_NAMES
                for m in descriptor_pool.Default().FindServiceByName(name).methods}
    assert contract == tested == set(PERMISSIONS)
    with capsys.disabled():
        print(f"\npermission matrix: {cells} cells, {len(Role)} roles x {len(tested)} RPCs")
    assert not wrong, "\n".join(wrong)
