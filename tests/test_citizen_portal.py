"""The citizen's own case (issue 28), over gRPC: the citizen portal logs a citizen in
(a signed assertion, minted as a login broker would), shows them their case (phase,
deadlines, letters, decisions, payments and claims), answers a hearing and files a
complaint for them; it is refused a forged, expired, wrong-audience or missing
assertion, and never sees or acts on another citizen's case. Every read is audited
and the citizen sees it in ListCitizenAccess."""
from __future__ import annotations

import datetime as dt

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

from hub.api.auth import ClientRegistry
from hub.v1 import audit_pb2, cases_pb2, citizen_pb2, common_pb2 as S, complaints_pb2 as K, decisions_pb2 as D
from hub.v1 import payments_pb2 as P
from tests.conftest import CLIENTS, PORTAL_KEY, Client, RunningHub, mint_assertion, new_cpr
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import create_req, details, draft_req, info_req, period, repay, rid, rpc_error, table_counts
from tests.test_payments import report

ASSERTION = "x-citizen-assertion"


@pytest.fixture
def disp(hub, clock, tmp_path):
    return dispatcher(hub.engine, clock, file_adapters(tmp_path / "drops"))


def refused(err) -> tuple:
    """(status code, ErrorInfo reason) of a refused call."""
    _, info = details(err)
    return err.code(), info.reason if info else None


def apply(portal, **kw) -> cases_pb2.Case:
    """The logged-in citizen applies for folkepension in Copenhagen (no CPR given)."""
    return portal.CreateCase(create_req(cpr="", benefit="FOLKEPENSION", channel=S.CHANNEL_UNSPECIFIED, **kw))


def show(portal, case_id) -> citizen_pb2.CitizenCase:
    return portal.GetCitizenCase(citizen_pb2.GetCitizenCaseRequest(case_id=case_id))


def heard_case(portal, backoffice):
    """The citizen's application, partly granted on register income: a hearing is open."""
    case = apply(portal)
    fact = backoffice.AddInformation(info_req(case.case_id, kind="income.annual", value=420000.0)).item
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, outcome=D.OUTCOME_PARTLY_GRANTED,
                                                 amounts=[period(1_200_000)], decisive_fact_ids=[fact.item_id]))
    assert r.hearing_required
    hearing = backoffice.StartHearing(D.StartHearingRequest(request_id=rid(), decision_id=r.decision.decision_id))
    return case, r.decision, hearing


# ---- the Done-when flow --------------------------------------------------------------------------

def test_the_citizen_logs_in_sees_the_case_answers_the_hearing_and_complains(hub, backoffice, caseworker, disp,
                                                                              clock):
    cpr = new_cpr()
    portal = hub.as_citizen(cpr)  # logged in: every call carries a fresh signed assertion of this citizen

    # Apply: the CPR is the assertion's, the channel self-service; a retry is the same case.
    req = create_req(cpr="", benefit="FOLKEPENSION", channel=S.CHANNEL_UNSPECIFIED)
    case = portal.CreateCase(req)
    assert (case.cpr, case.channel, case.created_by_client) == (cpr, S.CHANNEL_SELF_SERVICE, "borger.dk")
    assert portal.CreateCase(req).case_id == case.case_id
    [listed] = portal.ListCitizenCases(cases_pb2.ListCitizenCasesRequest()).cases
    assert (listed.case_id, listed.status) == (case.case_id, S.CASE_STATUS_CREATED)
    [step] = listed.next_steps
    assert (step.kind, step.due_time, step.subject_id) == (cases_pb2.NEXT_STEP_KIND_DECISION,
                                                           case.processing_deadline, case.case_id)

    # The back office informs and drafts a partial grant on register income: the citizen is heard.
    fact = backoffice.AddInformation(info_req(case.case_id, kind="income.annual", value=420000.0)).item
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, outcome=D.OUTCOME_PARTLY_GRANTED,
                                                 amounts=[period(1_200_000)], decisive_fact_ids=[fact.item_id]))
    hearing = backoffice.StartHearing(D.StartHearingRequest(request_id=rid(), decision_id=r.decision.decision_id))
    disp.drain()
    seen = show(portal, case.case_id)
    assert seen.status == S.CASE_STATUS_DRAFT_PENDING_APPROVAL and not seen.decisions  # a draft is no decision
    assert [(s.kind, s.due_time, s.subject_id) for s in seen.next_steps] == [
        (cases_pb2.NEXT_STEP_KIND_ANSWER_HEARING, hearing.deadline, hearing.hearing_id),
        (cases_pb2.NEXT_STEP_KIND_DECISION, case.processing_deadline, case.case_id)]
    [letter] = seen.letters
    assert (letter.kind, letter.hearing_id) == ("hearing_letter", hearing.hearing_id)
    assert letter.title and letter.HasField("sent_time")
    [h] = seen.hearings
    assert h.status == D.HEARING_STATUS_OPEN

    # The portal answers the hearing (idempotent), and the authority decides.
    clock.advance(days=2)
    answer = D.RecordHearingResponseRequest(request_id=rid(), hearing_id=hearing.hearing_id,
                                            comments="Min indkomst er faldet.")
    answered = portal.RecordHearingResponse(answer)
    assert answered.status == D.HEARING_STATUS_ANSWERED
    assert portal.RecordHearingResponse(answer) == answered
    caseworker.ApproveDecision(D.ApproveDecisionRequest(request_id=rid(), decision_id=r.decision.decision_id))
    disp.drain()  # the decision letter reaches Digital Post

    # Paid for April, then part of it claimed back by a repayment decision.
    list(backoffice.RunPayments(P.RunPaymentsRequest(request_id=rid(), period="2026-04")))
    provider = hub.as_("t-provider-a")
    batch = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    provider.ReportSettlement(P.ReportSettlementRequest(request_id=rid(), settlements=[
        report(i.order) for i in batch.instructions if i.order.case_id == case.case_id]))
    repayment, claim = repay(backoffice, case.case_id, 10_000, approver=caseworker)
    disp.drain()

    seen = show(portal, case.case_id)
    assert seen.status == S.CASE_STATUS_DECIDED
    decided = {d.decision_id: d for d in seen.decisions}
    first = decided[r.decision.decision_id]
    assert first.outcome == D.OUTCOME_PARTLY_GRANTED and [a.amount_oere for a in first.amounts] == [1_200_000]
    assert first.HasField("sent_time") and first.letter_reference
    assert first.complaint_deadline.ToDatetime() - first.sent_time.ToDatetime() == dt.timedelta(weeks=4)
    assert (first.effective_from.year, first.effective_from.month) == (2026, 4)
    assert decided[repayment.decision_id].repayment.amount_oere == 10_000
    assert [x.kind for x in seen.letters] == ["hearing_letter", "decision_letter", "decision_letter"]
    assert {x.decision_id for x in seen.letters[1:]} == set(decided)
    assert all(x.HasField("sent_time") for x in seen.letters)
    [paid] = [o for o in seen.payments if o.period == "2026-04"]
    assert (paid.status, paid.amount_oere) == (P.PAYMENT_STATUS_PAID, 1_200_000)
    [owed] = seen.claims
    assert (owed.claim_id, owed.amount_oere, owed.outstanding_oere) == (claim.claim_id, 10_000, 10_000)
    assert {(s.kind, s.subject_id) for s in seen.next_steps} == {
        (cases_pb2.NEXT_STEP_KIND_COMPLAINT_POSSIBLE, d) for d in decided}
    assert (seen.authority.municipality_code, seen.authority.name) == ("101", "Københavns Kommune")

    # A complaint of the first decision: the authority reconsiders it within 4 weeks.
    complaint = portal.FileComplaint(K.FileComplaintRequest(request_id=rid(), decision_id=r.decision.decision_id,
                                                            grounds="Min indkomst er lavere."))
    assert (complaint.channel, complaint.filed_by_client) == (S.CHANNEL_SELF_SERVICE, "borger.dk")
    seen = show(portal, case.case_id)
    [reconsider] = [s for s in seen.next_steps if s.kind == cases_pb2.NEXT_STEP_KIND_RECONSIDERATION]
    assert (reconsider.due_time, reconsider.subject_id) == (complaint.reconsider_by, complaint.complaint_id)
    assert r.decision.decision_id not in {s.subject_id for s in seen.next_steps
                                          if s.kind == cases_pb2.NEXT_STEP_KIND_COMPLAINT_POSSIBLE}
    assert [c.complaint_id for c in seen.complaints] == [complaint.complaint_id]

    # Every read is audited with the case; the citizen sees their own looks, marked, and others'.
    access = portal.ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(page_size=500)).entries
    own = [(e.rpc, e.case_id) for e in access if e.by_citizen]
    assert own.count(("GetCitizenCase", case.case_id)) == 3 and ("ListCitizenCases", case.case_id) in own
    assert {("CreateCase", case.case_id), ("RecordHearingResponse", case.case_id),
            ("FileComplaint", case.case_id)} <= set(own)
    assert all(e.client_id == "borger.dk" for e in access if e.by_citizen)
    others = portal.ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(page_size=500, others_only=True)).entries
    assert others and not any(e.by_citizen for e in others)
    assert {e.client_id for e in others} >= {"backoffice", "cw-101"}
    assert {e.sequence for e in others} == {e.sequence for e in access if not e.by_citizen}


def test_the_cpr_field_is_the_citizens_or_left_out(hub):
    cpr = new_cpr()
    portal = hub.as_citizen(cpr)
    case = apply(portal)
    dashed = f"{cpr[:6]}-{cpr[6:]}"
    assert [c.case_id for c in portal.ListCitizenCases(cases_pb2.ListCitizenCasesRequest(cpr=dashed)).cases] == \
        [case.case_id]
    assert apply(portal, request_id=rid()).cpr == cpr
    other = new_cpr()
    for call, request in [(portal.ListCitizenCases, cases_pb2.ListCitizenCasesRequest(cpr=other)),
                          (portal.ListCitizenAccess, audit_pb2.ListCitizenAccessRequest(cpr=other)),
                          (portal.CreateCase, create_req(cpr=other))]:
        err = rpc_error(call, request)
        assert refused(err) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_THE_CITIZEN")
        assert other not in err.details() and cpr not in err.details()
    # The portal applies by self-service only, received when the hub receives it (no date
    # put back into a deadline or a grant's start).
    err = rpc_error(portal.CreateCase, create_req(cpr="", channel=S.CHANNEL_IN_PERSON))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "channel" in details(err)[0]
    backdated = create_req(cpr="", benefit="FOLKEPENSION")
    backdated.received_time.FromDatetime(hub.clock.now() - dt.timedelta(days=30))
    err = rpc_error(portal.CreateCase, backdated)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "received_time" in details(err)[0]


# ---- refused assertions ----------------------------------------------------------------------------

def _other_ed25519():
    return Ed25519PrivateKey.generate()


REFUSALS = {
    "forged (another key)": (dict(key=_other_ed25519()), "CITIZEN_ASSERTION_SIGNATURE"),
    "expired": (dict(issued_ago=dt.timedelta(minutes=7)), "CITIZEN_ASSERTION_EXPIRED"),
    "wrong audience": (dict(audience="another-hub"), "CITIZEN_ASSERTION_AUDIENCE"),
    "another issuer": (dict(issuer="evil-portal"), "CITIZEN_ASSERTION_ISSUER"),
    "longer than 10 minutes": (dict(lifetime=dt.timedelta(minutes=11)), "CITIZEN_ASSERTION_LIFETIME"),
    "issued in the future": (dict(issued_ago=-dt.timedelta(minutes=5)), "CITIZEN_ASSERTION_NOT_YET_VALID"),
    "not before later": (dict(nbf_in=dt.timedelta(minutes=3)), "CITIZEN_ASSERTION_NOT_YET_VALID"),
    "alg none": (dict(algorithm="none", key=None), "CITIZEN_ASSERTION_ALGORITHM"),
    "HS256 with the public key": (dict(algorithm="HS256", key="public"), "CITIZEN_ASSERTION_ALGORITHM"),
    "not a CPR number": (dict(sub="3213"), "CITIZEN_ASSERTION_CPR"),
    "no expiry": (dict(exp=None), "CITIZEN_ASSERTION_CLAIMS"),
    "garbage": (dict(raw="not-a-jwt"), "CITIZEN_ASSERTION_MALFORMED"),
    "missing": (dict(raw=None), "CITIZEN_ASSERTION_MISSING"),
}


def _assertion(cpr, now, *, issued_ago=dt.timedelta(0), nbf_in=None, sub=None, key="default", algorithm="EdDSA",
               **kw):
    """An assertion wrong in one way (see REFUSALS)."""
    if key == "public":  # the HS-with-a-public-key confusion: the public PEM as an HMAC secret
        return _hs256_with(PORTAL_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo),
                           cpr, now)
    if algorithm == "none":
        return jwt.encode(dict(iss="borger.dk", aud="sagshub", sub=cpr, iat=int(now.timestamp()),
                               exp=int(now.timestamp()) + 300), None, algorithm="none")
    claims = dict(kw)
    if nbf_in is not None:
        claims["nbf"] = int((now + nbf_in).timestamp())
    return mint_assertion(sub or cpr, now, key=None if key == "default" else key, algorithm=algorithm,
                          issued=now - issued_ago, **claims)


def _hs256_with(secret: bytes, cpr, now) -> str:
    """A token signed HS256 with the portal's public PEM as the secret (the classic
    algorithm confusion), made by hand: PyJWT itself refuses to sign so."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(dict(iss="borger.dk", aud="sagshub", sub=cpr, iat=int(now.timestamp()),
                               exp=int(now.timestamp()) + 300)).encode())
    sig = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


@pytest.mark.parametrize("what", list(REFUSALS))
def test_a_bad_or_missing_assertion_is_refused_and_changes_nothing(hub, backoffice, what):
    options, reason = REFUSALS[what]
    cpr = new_cpr()
    case = apply(hub.as_citizen(cpr))
    now = hub.clock.now()
    options = dict(options)
    raw = options.pop("raw") if "raw" in options else "mint"
    value = _assertion(cpr, now, **options) if raw == "mint" else raw
    metadata = [("authorization", "Bearer t-portal")] + ([(ASSERTION, value)] if value is not None else [])
    bare = Client(hub.channel, None)
    before = table_counts(hub.engine)
    calls = [(bare.GetCitizenCase, citizen_pb2.GetCitizenCaseRequest(case_id=case.case_id)),
             (bare.ListCitizenCases, cases_pb2.ListCitizenCasesRequest()),
             (bare.ListCitizenAccess, audit_pb2.ListCitizenAccessRequest()),
             (bare.CreateCase, create_req(cpr="", benefit="FOLKEPENSION"))]
    for call, request in calls:
        err = rpc_error(lambda r: call(r, metadata=metadata), request)
        assert refused(err) == (grpc.StatusCode.UNAUTHENTICATED, reason), (what, err.details())
        assert cpr not in err.details() and cpr[:6] not in err.details()
    assert table_counts(hub.engine) == before


def test_only_a_citizen_portal_presents_an_assertion_and_an_ec_key_works_too(clean_db, clock):
    ec_key = generate_private_key(SECP256R1())
    pem = ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    clients = [dict(c) for c in CLIENTS] + [dict(id="portal-es256", token="t-portal-es", role="citizen_portal",
                                                 municipalities=["*"], assertion_public_key=pem)]
    hub = RunningHub(clean_db, clock, registry=ClientRegistry.from_entries(clients))
    try:
        cpr = new_cpr()
        es = hub.as_citizen(cpr, token="t-portal-es", issuer="portal-es256", key=ec_key, algorithm="ES256")
        case = apply(es)
        assert case.cpr == cpr
        # An EdDSA assertion for the ES256 portal: the algorithm follows the portal's key.
        err = rpc_error(hub.as_citizen(cpr, token="t-portal-es", issuer="portal-es256").GetCitizenCase,
                        citizen_pb2.GetCitizenCaseRequest(case_id=case.case_id))
        assert refused(err) == (grpc.StatusCode.UNAUTHENTICATED, "CITIZEN_ASSERTION_ALGORITHM")
        # Another role with an assertion: refused, not ignored.
        bs = hub.as_("t-bs-101")
        err = rpc_error(lambda r: bs.GetCase(r, metadata=[(ASSERTION, mint_assertion(cpr, clock.now()))]),
                        cases_pb2.GetCaseRequest(case_id=case.case_id))
        assert refused(err) == (grpc.StatusCode.PERMISSION_DENIED, "CITIZEN_ASSERTION_NOT_ALLOWED")
        # Only a citizen portal's entry in the clients file may name an assertion key.
        with pytest.raises(ValueError):
            ClientRegistry.from_entries([dict(id="x", token="t", role="back_office", assertion_public_key=pem)])
    finally:
        hub.stop()


# ---- another citizen's case ------------------------------------------------------------------------

def test_another_citizens_case_is_not_visible_and_cannot_be_acted_on(hub, backoffice, caseworker, disp):
    mine, theirs = new_cpr(), new_cpr()
    me, them = hub.as_citizen(mine), hub.as_citizen(theirs)
    case, decision, hearing = heard_case(them, backoffice)
    assert {c.case_id for c in me.ListCitizenCases(cases_pb2.ListCitizenCasesRequest()).cases} == set()
    before = table_counts(hub.engine)
    for call, request, code, reason in [
        (me.GetCitizenCase, citizen_pb2.GetCitizenCaseRequest(case_id=case.case_id), grpc.StatusCode.NOT_FOUND,
         "CASE_NOT_FOUND"),
        (me.RecordHearingResponse, D.RecordHearingResponseRequest(request_id=rid(), hearing_id=hearing.hearing_id,
                                                                  comments="Ikke min sag."),
         grpc.StatusCode.NOT_FOUND, "CASE_NOT_FOUND"),
        (me.CreateCase, create_req(cpr=theirs), grpc.StatusCode.PERMISSION_DENIED, "NOT_THE_CITIZEN"),
        (me.ListCitizenAccess, audit_pb2.ListCitizenAccessRequest(cpr=theirs), grpc.StatusCode.PERMISSION_DENIED,
         "NOT_THE_CITIZEN"),
    ]:
        err = rpc_error(call, request)
        assert refused(err) == (code, reason)
        assert theirs not in err.details() and mine not in err.details()
    assert table_counts(hub.engine) == before
    # The same request id and content for another citizen is not the first citizen's answer.
    first = create_req(cpr="", benefit="FOLKEPENSION")
    their_case = them.CreateCase(first)
    err = rpc_error(me.CreateCase, first)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and theirs not in err.details()
    assert their_case.cpr == theirs

    # Their decision, once sent, is theirs to complain of; not mine.
    them.RecordHearingResponse(D.RecordHearingResponseRequest(request_id=rid(), hearing_id=hearing.hearing_id,
                                                              comments="Jeg er uenig."))
    caseworker.ApproveDecision(D.ApproveDecisionRequest(request_id=rid(), decision_id=decision.decision_id))
    disp.drain()
    before = table_counts(hub.engine)
    err = rpc_error(me.FileComplaint, K.FileComplaintRequest(request_id=rid(), decision_id=decision.decision_id,
                                                            grounds="Ikke min afgørelse."))
    assert refused(err) == (grpc.StatusCode.NOT_FOUND, "CASE_NOT_FOUND")
    assert table_counts(hub.engine) == before
    # The tries are in the audit log, on their case; they are not the citizen's own looks.
    tried = [e for e in them.ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(page_size=500)).entries
             if e.outcome != "OK"]
    assert {(e.rpc, e.outcome, e.by_citizen) for e in tried} >= {
        ("GetCitizenCase", "NOT_FOUND", False), ("RecordHearingResponse", "NOT_FOUND", False),
        ("FileComplaint", "NOT_FOUND", False)}
    assert all(e.case_id == case.case_id for e in tried)
    assert them.FileComplaint(K.FileComplaintRequest(request_id=rid(), decision_id=decision.decision_id,
                                                     grounds="Min indkomst er lavere.")).case_id == case.case_id


# ---- hubctl and the demo portal key ------------------------------------------------------------------

def test_the_demo_portal_key_signs_what_the_demo_clients_file_verifies(capsys):
    from pathlib import Path

    from clients.cli.hubctl import main
    root = Path(__file__).resolve().parent.parent
    cpr = new_cpr()
    assert main(["citizen", "assert", "--cpr", f"{cpr[:6]}-{cpr[6:]}", "--key",
                 str(root / "etc" / "dev-portal-key.pem")]) == 0
    token = capsys.readouterr().out.strip()
    registry = ClientRegistry.from_file(root / "etc" / "clients.demo.toml")
    assert registry.assertions.verify("borger.dk", token, dt.datetime.now(dt.timezone.utc)) == cpr
    assert main(["citizen", "cases", "--cpr", cpr]) == 2  # no key: a usage mistake, said in one line
    assert "--key" in capsys.readouterr().err


def test_hubctl_acts_for_the_citizen(clean_db, tmp_path, capsys):
    import json

    from clients.cli.hubctl import main
    from tests.conftest import FakeClock
    key = tmp_path / "portal-key.pem"
    key.write_bytes(PORTAL_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    hub = RunningHub(clean_db, FakeClock(dt.datetime.now(dt.timezone.utc)))  # hubctl signs at the real time
    try:
        cpr = new_cpr()

        def hubctl(*args):
            code = main(["--address", hub.address, "--token", "t-portal", "citizen", *args, "--cpr", cpr,
                         "--key", str(key)])
            out = capsys.readouterr()
            return code, (json.loads(out.out) if code == 0 else out.err)

        code, case = hubctl("apply", "--municipality", "101", "--benefit", "FOLKEPENSION")
        assert code == 0 and case["cpr"] == cpr and case["channel"] == "CHANNEL_SELF_SERVICE"
        code, listed = hubctl("cases")
        assert [c["case_id"] for c in listed["cases"]] == [case["case_id"]]
        assert listed["cases"][0]["next_steps"][0]["kind"] == "NEXT_STEP_KIND_DECISION"
        code, shown = hubctl("show", case["case_id"])
        assert code == 0 and shown["status"] == "CASE_STATUS_CREATED"
        code, access = hubctl("access")
        assert {(e["rpc"], e.get("by_citizen", False)) for e in access["entries"]} >= {
            ("CreateCase", True), ("ListCitizenCases", True), ("GetCitizenCase", True)}
        code, err = hubctl("show", "no-such-case")
        assert code == 1 and "NOT_FOUND" in err and cpr not in err
    finally:
        hub.stop()
