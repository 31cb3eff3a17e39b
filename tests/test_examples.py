"""The example programs in clients/examples run against a real hub and do what their
docstrings say: what they print, and what the hub then holds."""
from __future__ import annotations

import io
import threading

from clients.examples import borgerservice, vendor_system
from clients.sdk import connect
from hub.v1 import cases_pb2, common_pb2
from tests.conftest import new_cpr
from tests.helpers import create_req, draft_req, info_req, period, rid
from tests.test_straight_through import disp, drops, sims  # noqa: F401 (fixtures: the register simulators)


def test_borgerservice_prints_the_receipt_the_hub_gives_and_adds_what_the_citizen_brought(hub):
    sdk = connect(hub.address, "t-bs-101")
    out = io.StringIO()
    case = borgerservice.apply_in_person(sdk, municipality="101", cpr=new_cpr(), benefit="BOLIGSTOETTE",
                                         statement={"receives_folkepension": False}, rent_per_month_oere=400_000,
                                         out=out)
    shown = sdk.cases.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    lines = out.getvalue().splitlines()
    assert lines[:4] == borgerservice.receipt(shown)
    assert lines[1] == f"Sag: {case.case_id}" and "Du får en afgørelse senest: " in lines[3]
    assert shown.channel == common_pb2.CHANNEL_IN_PERSON
    [item] = [i for i in shown.information if i.kind == "rent.monthly"]
    assert item.value.number_value == 4000.0 and item.source == cases_pb2.INFORMATION_SOURCE_CITIZEN
    assert "husleje 4000.00 kr." in lines[4]


def test_the_vendor_system_registers_cases_and_follows_them_until_decided_or_withdrawn(hub, backoffice):
    sdk = connect(hub.address, "t-vendor")
    vendor_system.subscribe(sdk, "vendor-test", ["101"])
    out = io.StringIO()
    applications = [("101", new_cpr(), "BOLIGSTOETTE", "SAG-1"), ("101", new_cpr(), "BOLIGSTOETTE", "SAG-2")]
    cases = vendor_system.register(sdk, applications, out=out)
    assert vendor_system.register(sdk, applications[:1], out=io.StringIO()) == dict(list(cases.items())[:1]), \
        "registering again with the same reference makes no second case"
    ended = {}
    follower = threading.Thread(target=lambda: ended.update(vendor_system.follow_until_done(sdk, "vendor-test", cases,
                                                                                            out=out)))
    follower.start()
    first, second = list(cases)
    backoffice.AddInformation(info_req(first))
    backoffice.SubmitDraftDecision(draft_req(first, amounts=[period(125_000)]))
    backoffice.WithdrawCase(cases_pb2.WithdrawCaseRequest(request_id=rid(), case_id=second, reason="trukket"))
    follower.join(30)
    assert not follower.is_alive()
    assert ended == {first: "decision.approved", second: "case.withdrawn"}
    text = out.getvalue()
    assert "SAG-1: registered as case" in text and "SAG-1: decided: GRANTED" in text
    assert "SAG-2: case.withdrawn" in text


def test_the_payment_provider_pays_a_batch_in_a_valid_pain001_file_and_reports_one_returned(hub, backoffice, tmp_path):
    from clients.examples import payment_provider
    from hub.v1 import payments_pb2
    from tests.xsd import assert_valid_pain001
    granted = []
    for amount in (125_000, 80_000):
        case = backoffice.CreateCase(create_req())
        backoffice.AddInformation(info_req(case.case_id))
        backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(amount)]))
        granted.append(case.case_id)
    list(backoffice.RunPayments(payments_pb2.RunPaymentsRequest(request_id=rid(), period="2026-04")))
    sdk = connect(hub.address, "t-provider-a")
    out = io.StringIO()
    path = payment_provider.day(sdk, tmp_path, return_one=True, out=out)
    assert_valid_pain001(path)
    text = path.read_text(encoding="utf-8")
    assert "<CtrlSum>2050.00</CtrlSum>" in text and text.count("<CdtTrfTxInf>") == 2
    statuses = sorted(o.status for c in granted
                      for o in backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=c)).payments.orders)
    assert statuses == sorted([payments_pb2.PAYMENT_STATUS_PAID, payments_pb2.PAYMENT_STATUS_RETURNED])
    assert "PAYMENT_STATUS_RETURNED" in out.getvalue()
    assert payment_provider.day(sdk, tmp_path, out=io.StringIO()) is None   # nothing left to pay


def test_the_citizen_portal_shows_the_citizens_case_answers_the_hearing_and_complains(hub, backoffice, caseworker,
                                                                                     clock, tmp_path):
    import grpc
    import pytest

    from clients.examples import citizen_portal
    from hub.v1 import decisions_pb2 as D
    from tests.conftest import mint_assertion
    from tests.dispatch_support import dispatcher, file_adapters
    disp = dispatcher(hub.engine, clock, file_adapters(tmp_path / "drops"))
    cpr = new_cpr()
    portal = connect(hub.address, "t-portal", assertion=lambda: mint_assertion(cpr, clock.now()))
    case = hub.as_citizen(cpr).CreateCase(create_req(cpr="", benefit="FOLKEPENSION"))
    fact = backoffice.AddInformation(info_req(case.case_id, kind="income.annual", value=420000.0)).item
    draft = backoffice.SubmitDraftDecision(draft_req(case.case_id, outcome=D.OUTCOME_PARTLY_GRANTED,
                                                     amounts=[period(1_200_000)], decisive_fact_ids=[fact.item_id]))
    hearing = backoffice.StartHearing(D.StartHearingRequest(request_id=rid(), decision_id=draft.decision.decision_id))
    disp.drain()
    out = io.StringIO()
    [listed] = citizen_portal.overview(portal, out=out)
    assert listed.case_id == case.case_id and "draft_pending_approval" in out.getvalue()
    seen = citizen_portal.show(portal, case.case_id, out=out)
    assert f"Partshøring {hearing.hearing_id}" in out.getvalue() and seen.letters
    answered = citizen_portal.answer(portal, hearing.hearing_id, "Min indkomst er faldet.", out=out)
    assert answered.status == D.HEARING_STATUS_ANSWERED
    caseworker.ApproveDecision(D.ApproveDecisionRequest(request_id=rid(), decision_id=draft.decision.decision_id))
    disp.drain()   # the decision letter is sent: a complaint may be filed
    complaint = citizen_portal.complain(portal, draft.decision.decision_id, "Min indkomst er lavere.", out=out)
    assert complaint.decision_id == draft.decision.decision_id and "Din klage er modtaget" in out.getvalue()
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert shown.status == common_pb2.CASE_STATUS_DECIDED
    # Another citizen's case is not there for this citizen.
    other = backoffice.CreateCase(create_req())
    with pytest.raises(grpc.RpcError) as err:
        citizen_portal.show(portal, other.case_id, out=io.StringIO())
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_back_office_tool_drafts_what_the_rules_can_and_leaves_the_rest_with_the_reason(
        hub, backoffice, clock, sims, disp):  # noqa: F811
    from clients.examples import back_office
    from tests.test_straight_through import STATEMENT, apply, stage
    # The application gives another rent than the register: it falls out, but the rules can calculate it.
    calculable = apply(backoffice, stage(sims), dict(STATEMENT, rent_oere_per_month=900_000))
    unknown = new_cpr()
    sims.cpr.put_person(unknown, None)    # the CPR register does not know this person
    missing = apply(backoffice, unknown)
    disp.drain()
    out = io.StringIO()
    done = back_office.work(connect(hub.address, "t-backoffice"), "101", out=out)
    assert done == {"drafted": [calculable.case_id], "left": [missing.case_id]}
    text = out.getvalue()
    assert f"{calculable.case_id}: drafted by the rules (STATEMENT_CONTRADICTS_REGISTER): 560.00 kr; approved" in text
    assert f"{missing.case_id}: left for a person (MISSING_REGISTER_DATA)" in text
    decided = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=calculable.case_id))
    assert decided.status == common_pb2.CASE_STATUS_DECIDED and decided.decisions[0].amounts[0].amount_oere == 56_000
    # Past its processing deadline the case left for a person is on the late list.
    clock.advance(days=43)
    out = io.StringIO()
    assert back_office.work(connect(hub.address, "t-backoffice"), "101", out=out)["left"] == [missing.case_id]
    assert f"late: {missing.case_id} processing_deadline" in out.getvalue()


def test_the_economy_system_reconciles_the_months_orders_with_the_decisions_it_was_told(hub, backoffice):
    from clients.examples.economy_consumer import consume, ensure_subscription, reconcile
    from hub.v1 import payments_pb2
    sdk = connect(hub.address, "t-economy-101")
    ensure_subscription(sdk, "ledger-101", "101")
    cases = []
    for amount in (125_000, 80_000):
        case = backoffice.CreateCase(create_req())
        backoffice.AddInformation(info_req(case.case_id))
        backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(amount)]))
        cases.append(case.case_id)
    ledger: dict = {}
    consume(sdk, "ledger-101", io.StringIO(), idle_exit=1.5, ledger=ledger)
    # A third grant the economy system has not been told of yet.
    late = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(late.case_id))
    backoffice.SubmitDraftDecision(draft_req(late.case_id, amounts=[period(90_000)]))
    list(backoffice.RunPayments(payments_pb2.RunPaymentsRequest(request_id=rid(), period="2026-04")))
    out = io.StringIO()
    [difference] = reconcile(sdk, "101", "2026-04", ledger, out=out)
    assert late.case_id in difference and "no posted decision" in difference
    consume(sdk, "ledger-101", io.StringIO(), idle_exit=1.5, ledger=ledger)   # told now
    out = io.StringIO()
    assert reconcile(sdk, "101", "2026-04", ledger, out=out) == []
    assert "agree" in out.getvalue() and set(cases) <= set(ledger)
