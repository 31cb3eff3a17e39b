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
