"""Every kind of bad input: the right code, field violations naming the field, and
nothing written to any table."""
from __future__ import annotations

import base64
import datetime as dt
import json
import math
import struct

import grpc
import pytest
from google.protobuf import struct_pb2, timestamp_pb2

from hub.v1 import audit_pb2, cases_pb2, common_pb2, complaints_pb2, decisions_pb2, events_pb2, payments_pb2
from tests.helpers import create_req, details, draft_req, info_req, period, rid, rpc_error, table_counts


def _future(clock) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(clock.now() + dt.timedelta(days=1))
    return ts


CREATE_CASES = [
    ("cpr", dict(cpr="12345")),
    ("cpr", dict(cpr="3102701234")),          # 31 February
    ("cpr", dict(cpr="0101305000")),          # 7th digit 5, yy 30 -> 2030: in the future
    ("cpr", dict(cpr="010170123X")),
    ("cpr", dict(cpr="")),
    ("municipality_code", dict(municipality="999")),
    ("municipality_code", dict(municipality="")),
    ("benefit_code", dict(benefit="SU")),
    ("benefit_code", dict(benefit="not a code")),
    ("channel", dict(channel=common_pb2.CHANNEL_UNSPECIFIED)),
    ("channel", dict(channel=42)),
    ("request_id", dict(request_id="")),
    ("request_id", dict(request_id="x" * 129)),
    ("external_reference", dict(external_reference="x" * 201)),
    # 33,000 characters, 66,000 bytes of UTF-8 as JSON: over the 64 KiB limit, which counts bytes
    ("applicant_statement", dict(applicant_statement=struct_pb2.Struct(fields={
        "note": struct_pb2.Value(string_value="æ" * 33_000)}))),
]


def test_an_applicant_statement_just_under_the_json_limit_is_taken(backoffice):
    statement = struct_pb2.Struct(fields={"note": struct_pb2.Value(string_value="æ" * 32_000)})
    case = backoffice.CreateCase(create_req(applicant_statement=statement))
    assert case.applicant_statement == statement


@pytest.mark.parametrize("field,kw", CREATE_CASES, ids=[c[0] + str(i) for i, c in enumerate(CREATE_CASES)])
def test_create_case_rejects_bad_fields_and_writes_nothing(hub, backoffice, field, kw):
    before = table_counts(hub.engine)
    err = rpc_error(backoffice.CreateCase, create_req(**kw))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields, info = details(err)
    assert field in fields, fields
    assert info is not None and info.domain == "sagshub.hub.v1"
    assert table_counts(hub.engine) == before


def test_received_time_in_the_future_is_rejected(hub, backoffice, clock):
    before = table_counts(hub.engine)
    err = rpc_error(backoffice.CreateCase, create_req(received_time=_future(clock)))
    assert "received_time" in details(err)[0]
    assert table_counts(hub.engine) == before


def test_all_violations_are_reported_at_once(backoffice):
    err = rpc_error(backoffice.CreateCase, cases_pb2.CreateCaseRequest())
    assert set(details(err)[0]) >= {"request_id", "municipality_code", "cpr", "benefit_code", "channel"}


def test_error_texts_never_echo_the_cpr(backoffice):
    bad = "3102709999"
    err = rpc_error(backoffice.CreateCase, create_req(cpr=bad))
    fields, _ = details(err)
    assert bad not in err.details() and bad not in str(fields)


def _case_with_info(backoffice):
    case = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    backoffice.AddInformation(info_req(case.case_id))
    return case


DRAFTS = [
    ("amounts[0].amount_oere", dict(amounts=[period(-1)])),
    ("amounts[0].period_end", dict(amounts=[period(100, start=(2026, 5, 1), end=(2026, 4, 1))])),
    ("amounts[0].period_start", dict(amounts=[period(100, start=(2026, 2, 30))])),
    ("amounts", dict(amounts=[period(100, (2026, 1, 1), (2026, 6, 30)), period(100, (2026, 6, 1), (2026, 12, 31))])),
    ("amounts", dict(amounts=[])),
    ("amounts", dict(outcome=decisions_pb2.OUTCOME_REFUSED, amounts=[period(100)])),
    ("outcome", dict(outcome=decisions_pb2.OUTCOME_UNSPECIFIED)),
    ("discretionary_points[0].assessment", dict(points=[("household", "")])),
]


@pytest.mark.parametrize("field,kw", DRAFTS, ids=[d[0] + str(i) for i, d in enumerate(DRAFTS)])
def test_submit_draft_rejects_bad_fields_and_writes_nothing(hub, backoffice, field, kw):
    case = _case_with_info(backoffice)
    before = table_counts(hub.engine)
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id, **kw))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in details(err)[0], details(err)[0]
    assert table_counts(hub.engine) == before


def test_add_information_rejects_bad_fields(hub, backoffice):
    case = backoffice.CreateCase(create_req())
    before = table_counts(hub.engine)
    for field, req in [
        ("kind", info_req(case.case_id, kind="Not Dotted")),
        ("source", info_req(case.case_id, source=cases_pb2.INFORMATION_SOURCE_UNSPECIFIED)),
        ("value", cases_pb2.AddInformationRequest(request_id=rid(), case_id=case.case_id, kind="rent.monthly",
                                                  source=cases_pb2.INFORMATION_SOURCE_CITIZEN)),
        ("value", cases_pb2.AddInformationRequest(
            request_id=rid(), case_id=case.case_id, kind="rent.monthly", source=cases_pb2.INFORMATION_SOURCE_CITIZEN,
            value=struct_pb2.Value(string_value="x" * 70_000))),
    ]:
        err = rpc_error(backoffice.AddInformation, req)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in details(err)[0], field
    assert table_counts(hub.engine) == before


def test_amendment_must_not_turn_a_refusal_into_a_grant(hub, backoffice, caseworker):
    case = _case_with_info(backoffice)
    d = backoffice.SubmitDraftDecision(draft_req(case.case_id, outcome=decisions_pb2.OUTCOME_REFUSED,
                                                 amounts=[])).decision
    before = table_counts(hub.engine)
    err = rpc_error(caseworker.ApproveDecision, decisions_pb2.ApproveDecisionRequest(
        request_id=rid(), decision_id=d.decision_id, note="n",
        amendment=decisions_pb2.Amendment(amounts=[period(100)])))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert table_counts(hub.engine) == before


def test_bad_page_token_and_page_size(backoffice):
    for req, field in [(cases_pb2.ListCasesRequest(page_token="garbage!"), "page_token"),
                       (cases_pb2.ListCasesRequest(page_size=-1), "page_size"),
                       (cases_pb2.ListCasesRequest(cpr="99999"), "cpr"),
                       (cases_pb2.ListCasesRequest(municipality_code="000"), "municipality_code")]:
        err = rpc_error(backoffice.ListCases, req)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in details(err)[0]


def test_no_token_or_unknown_token_is_unauthenticated(hub):
    for client in (hub.as_(None), hub.as_("not-a-token")):
        before = table_counts(hub.engine)
        err = rpc_error(client.CreateCase, create_req())
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert table_counts(hub.engine) == before


def test_role_without_permission_is_denied(hub):
    economy = hub.as_("t-economy-101")
    err = rpc_error(economy.CreateCase, create_req())
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert details(err)[1].reason == "ROLE_NOT_PERMITTED"


# ---- values a field's proto type carries and the hub cannot -------------------------------------
# Each was INTERNAL (or UNKNOWN), found by a fuzzer (issue 24); each is the caller's
# mistake: INVALID_ARGUMENT naming the field, and nothing written.

def _ts(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


YEAR_10000, BEFORE_YEAR_1 = 253402300800, -62135596801  # one second past either end of a Timestamp
BAD_TIMESTAMPS = [_ts(YEAR_10000), _ts(BEFORE_YEAR_1), _ts(2**63 - 1), _ts(1_700_000_000, -1),
                  _ts(1_700_000_000, 1_000_000_000)]
TIMESTAMP_FIELDS = [
    ("t-backoffice", "CreateCase", lambda ts: create_req(received_time=ts), "received_time"),
    ("t-bs-101", "FileComplaint", lambda ts: complaints_pb2.FileComplaintRequest(
        request_id=rid(), decision_id="d", channel=common_pb2.CHANNEL_LETTER, grounds="g", received_time=ts),
     "received_time"),
    ("t-bs-101", "RecordHearingResponse", lambda ts: decisions_pb2.RecordHearingResponseRequest(
        request_id=rid(), hearing_id="h", comments="c", channel=common_pb2.CHANNEL_LETTER, received_time=ts),
     "received_time"),
    ("t-backoffice", "ListCases", lambda ts: cases_pb2.ListCasesRequest(received_after=ts), "received_after"),
    ("t-backoffice", "ListCases", lambda ts: cases_pb2.ListCasesRequest(received_before=ts), "received_before"),
    ("t-operator", "ListAuditEntries", lambda ts: audit_pb2.ListAuditEntriesRequest(from_time=ts), "from_time"),
    ("t-operator", "ListAuditEntries", lambda ts: audit_pb2.ListAuditEntriesRequest(to_time=ts), "to_time"),
]


def refused(hub, token, rpc, request, field, metadata=()):
    """Assert the call is INVALID_ARGUMENT with a violation of `field`, and writes nothing."""
    before = table_counts(hub.engine)
    err = rpc_error(getattr(hub.as_(token), rpc), request, metadata)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (err.code(), err.details())
    fields, info = details(err)
    assert field in fields, fields
    assert info is not None and info.domain == "sagshub.hub.v1"
    assert table_counts(hub.engine) == before


@pytest.mark.parametrize("token,rpc,build,field", TIMESTAMP_FIELDS,
                         ids=[f"{t[1]}.{t[3]}" for t in TIMESTAMP_FIELDS])
def test_a_timestamp_beyond_what_the_type_holds_is_invalid_argument(hub, token, rpc, build, field):
    for ts in BAD_TIMESTAMPS:
        refused(hub, token, rpc, build(ts), field)


def test_the_ends_of_the_timestamp_range_are_taken(hub, backoffice):
    backoffice.ListCases(cases_pb2.ListCasesRequest(received_after=_ts(-62135596800),
                                                    received_before=_ts(253402300799, 999_999_999)))


def test_conversion_problems_are_reported_together(backoffice):
    err = rpc_error(backoffice.CreateCase, create_req(channel=42, received_time=_ts(YEAR_10000), applicant_statement=(
        struct_pb2.Struct(fields={"n": struct_pb2.Value(number_value=math.nan)}))))
    assert {"channel", "received_time", "applicant_statement"} <= set(details(err)[0])


def _nested(x: float) -> struct_pb2.Value:
    """{"a": [1, {"b": x}]}: the number deep inside."""
    inner = struct_pb2.Struct(fields={"b": struct_pb2.Value(number_value=x)})
    items = struct_pb2.ListValue(values=[struct_pb2.Value(number_value=1), struct_pb2.Value(struct_value=inner)])
    return struct_pb2.Value(struct_value=struct_pb2.Struct(fields={"a": struct_pb2.Value(list_value=items)}))


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_nan_or_infinity_in_a_struct_or_value_is_invalid_argument(hub, backoffice, x):
    refused(hub, "t-backoffice", "CreateCase", create_req(applicant_statement=struct_pb2.Struct(
        fields={"n": struct_pb2.Value(number_value=x)})), "applicant_statement")
    refused(hub, "t-backoffice", "CreateCase", create_req(applicant_statement=_nested(x).struct_value),
            "applicant_statement")
    case = backoffice.CreateCase(create_req())
    refused(hub, "t-backoffice", "AddInformation", info_req(case.case_id, value=x), "value")
    refused(hub, "t-backoffice", "AddInformation", cases_pb2.AddInformationRequest(
        request_id=rid(), case_id=case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN, kind="rent.monthly",
        value=_nested(x)), "value")


def test_a_sequence_beyond_int64_is_invalid_argument(hub):
    for after in (2**63, 2**64 - 1):
        refused(hub, "t-backoffice", "CreateSubscription", events_pb2.CreateSubscriptionRequest(
            request_id=rid(), name="s", after_sequence=after), "after_sequence")
        err = rpc_error(lambda r: list(hub.as_("t-backoffice").Subscribe(r)),
                        events_pb2.SubscribeRequest(after_sequence=after))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "after_sequence" in details(err)[0]
    hub.as_("t-backoffice").CreateSubscription(events_pb2.CreateSubscriptionRequest(
        request_id=rid(), name="s", after_sequence=2**63 - 1))  # the largest the store holds is taken


def _edited(token: str, cursor) -> str:
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if "a" in data:
        data["a"] = cursor
    else:
        data["k"] = cursor
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture
def listed(hub, backoffice, caseworker, clock):
    """For each list: (token, the first page's request), with a second page to come."""
    for _ in range(2):  # two granted (paid monthly), two waiting for the caseworker
        case = backoffice.CreateCase(create_req())
        backoffice.AddInformation(info_req(case.case_id))
        assert backoffice.SubmitDraftDecision(draft_req(case.case_id)).approved_automatically
        case = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
        backoffice.AddInformation(info_req(case.case_id))
        backoffice.SubmitDraftDecision(draft_req(case.case_id))
    list(backoffice.RunPayments(payments_pb2.RunPaymentsRequest(request_id=rid(), period="2026-04")))
    clock.advance(days=200)  # the drafts' processing deadlines have passed
    return {"ListCases": ("t-backoffice", cases_pb2.ListCasesRequest(page_size=1)),
            "ListPendingApprovals": ("t-cw-101", decisions_pb2.ListPendingApprovalsRequest(page_size=1)),
            "ListPayments": ("t-backoffice", payments_pb2.ListPaymentsRequest(page_size=1)),
            "ListAuditEntries": ("t-operator", audit_pb2.ListAuditEntriesRequest(page_size=1)),
            "ListOverdue": ("t-backoffice", cases_pb2.ListOverdueRequest(page_size=1))}


CURSORS = [2**63, 10**30, -1, -2**63 - 1, 1.5, "7", True, None]
KEYS = [["2026-03-02T09:00:00+00:00", "PROCESSING"], ["not a time", "PROCESSING", "x"],
        ["2026-03-02T09:00:00", "PROCESSING", "x"], ["0001-01-01T00:00:00+14:00", "PROCESSING", "x"],
        [1, 2, 3], "2026-03-02"]


@pytest.mark.parametrize("rpc", ["ListCases", "ListPendingApprovals", "ListPayments", "ListAuditEntries",
                                 "ListOverdue"])
def test_a_page_token_with_its_cursor_edited_is_invalid_argument(hub, listed, rpc):
    token, first = listed[rpc]
    client = getattr(hub.as_(token), rpc)
    issued = client(first).next_page_token
    assert issued
    client(_with_page_token(first, issued))  # the token as issued is good
    for cursor in (KEYS if rpc == "ListOverdue" else CURSORS):
        refused(hub, token, rpc, _with_page_token(first, _edited(issued, cursor)), "page_token")


def _with_page_token(request, token: str):
    out = type(request)()
    out.CopyFrom(request)
    out.page_token = token
    return out


def _nested_bytes(depth: int) -> bytes:
    """CreateCase's applicant_statement {"k": [[[ ... 1.0 ... ]]]}, `depth` lists deep, as
    bytes: deeper than protobuf's parsers go (100 levels), as a client may encode it."""
    def field(number: int, payload: bytes) -> bytes:
        length, n = bytearray(), len(payload)
        while True:
            length.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                break
        return bytes([number << 3 | 2]) + bytes(length) + payload
    v = b"\x11" + struct.pack("<d", 1.0)
    for _ in range(depth):
        v = field(6, field(1, v))
    return create_req().SerializeToString() + field(7, field(1, field(1, b"k") + field(2, v)))


def test_a_request_nested_deeper_than_protobuf_parses_is_invalid_argument(hub):
    before = table_counts(hub.engine)
    call = hub.channel.unary_unary("/hub.v1.CaseService/CreateCase")  # bytes in, bytes out
    as_backoffice = [("authorization", "Bearer t-backoffice")]
    err = rpc_error(lambda raw: call(raw, metadata=as_backoffice, timeout=10), _nested_bytes(120))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "request" in details(err)[0]
    assert table_counts(hub.engine) == before
    cases_pb2.Case.FromString(call(_nested_bytes(20), metadata=as_backoffice, timeout=10))


def test_a_text_with_a_nul_character_is_invalid_argument(hub, backoffice):
    # PostgreSQL keeps no NUL in a text or JSON; refused on every store alike.
    refused(hub, "t-backoffice", "CreateCase", create_req(external_reference="a\x00b"), "external_reference")
    refused(hub, "t-backoffice", "CreateCase", create_req(applicant_statement=struct_pb2.Struct(
        fields={"note": struct_pb2.Value(list_value=struct_pb2.ListValue(values=[
            struct_pb2.Value(string_value="a\x00")]))})), "applicant_statement")
    refused(hub, "t-backoffice", "GetCase", cases_pb2.GetCaseRequest(case_id="\x00"), "case_id")
    refused(hub, "t-backoffice", "SubmitDraftDecision",
            draft_req("c", points=[("household", "ok"), ("rent", "a\x00")]), "discretionary_points[1].assessment")
    err = rpc_error(lambda r: list(hub.as_("t-backoffice").Subscribe(r)),
                    events_pb2.SubscribeRequest(filter=events_pb2.EventFilter(event_types=["case.created\x00"])))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "filter.event_types[0]" in details(err)[0]


def test_a_purpose_longer_than_the_audit_log_keeps_is_invalid_argument(hub, backoffice):
    case = backoffice.CreateCase(create_req())
    request = cases_pb2.GetCaseRequest(case_id=case.case_id)
    backoffice.GetCase(request, [("x-purpose", "p" * 200)])
    refused(hub, "t-backoffice", "GetCase", request, "x-purpose", [("x-purpose", "p" * 201)])
    refused(hub, "t-backoffice", "ListCases", cases_pb2.ListCasesRequest(), "x-purpose", [("x-purpose", "p" * 201)])


def test_an_audit_search_for_a_case_id_longer_than_any_is_invalid_argument(hub):
    hub.as_("t-operator").ListAuditEntries(audit_pb2.ListAuditEntriesRequest(case_id="c" * 36))
    refused(hub, "t-operator", "ListAuditEntries", audit_pb2.ListAuditEntriesRequest(case_id="c" * 37), "case_id")


def test_a_collection_reference_longer_than_kept_is_invalid_argument(hub, backoffice):
    from tests.helpers import repay
    from tests.test_payments import granted, pay_all, run
    case, _ = granted(backoffice)
    run(backoffice, "2026-04")
    pay_all(hub.as_("t-provider-a"))
    _, claim = repay(backoffice, case.case_id, 10_000)
    refused(hub, "t-provider-a", "ReportCollection", payments_pb2.ReportCollectionRequest(
        request_id=rid(), claim_id=claim.claim_id, amount_oere=100, reference="r" * 201), "reference")
    hub.as_("t-provider-a").ReportCollection(payments_pb2.ReportCollectionRequest(
        request_id=rid(), claim_id=claim.claim_id, amount_oere=100, reference="r" * 200))
