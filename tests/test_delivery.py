"""Delivery to the external systems: a decision reaches the economy system, Digital
Post and the shared archive; register data comes back from the income register."""
from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import bagit
import grpc
import pytest

from adapters.digital_post.memo import MEMO_NS
from adapters.income_register.simulator import employers
from tests.conftest import new_cpr
from hub.v1 import cases_pb2, common_pb2
from tests.dispatch_support import dispatcher, file_adapters, simulator
from tests.helpers import create_req, details, draft_req, info_req, period, rid, rpc_error

S = common_pb2


@pytest.fixture
def register():
    sim = simulator()
    yield sim
    sim.shutdown()
    sim.server_close()


@pytest.fixture
def drops(tmp_path):
    return tmp_path / "drops"


@pytest.fixture
def disp(hub, clock, drops, register):
    return dispatcher(hub.engine, clock, file_adapters(drops, register.url))


def _register_req(case_id, first="2025-10", last="2026-01", **kw):
    return cases_pb2.RequestRegisterDataRequest(request_id=kw.pop("request_id", rid()), case_id=case_id,
                                                register=cases_pb2.REGISTER_INCOME, from_month=first, to_month=last)


def test_register_data_arrives_as_information_with_provenance_and_is_not_fetched_twice(hub, backoffice, disp,
                                                                                       register):
    cpr = next(c for c in iter(new_cpr, None) if employers(c))  # a citizen with an employer
    case = backoffice.CreateCase(create_req(cpr=cpr))
    r = backoffice.RequestRegisterData(_register_req(case.case_id))
    assert list(r.requested_months) == ["2025-10", "2025-11", "2025-12", "2026-01"] and not r.reused_months
    assert disp.drain() == 1
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert shown.status == S.CASE_STATUS_INFORMING
    [item] = shown.information
    assert item.source == cases_pb2.INFORMATION_SOURCE_REGISTER and item.source_reference.startswith("eIndkomst EI-")
    value = item.value.struct_value
    assert value["register"] == "eIndkomst" and list(value["months"]) == list(r.requested_months)
    records = value["records"]
    assert records, "the simulated citizen has income"
    rec = records[0]
    for f in ("payer_cvr", "payer_se", "income_period_start", "income_type_code"):
        assert rec[f]
    assert rec["fields"]["16"] == rec["am_contribution_oere"]
    assert register.requests == 1

    again = backoffice.RequestRegisterData(_register_req(case.case_id, "2025-12", "2026-02"))
    assert list(again.requested_months) == ["2026-02"] and list(again.reused_months) == ["2025-12", "2026-01"]
    disp.drain()
    assert register.requests == 2
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert [list(i.value.struct_value["months"]) for i in shown.information] == [
        ["2025-10", "2025-11", "2025-12", "2026-01"], ["2026-02"]]
    # Nothing new to ask for: nothing sent.
    assert not backoffice.RequestRegisterData(_register_req(case.case_id, "2025-11", "2025-12")).requested_months
    assert disp.drain() == 0 and register.requests == 2


def test_register_request_validation(backoffice):
    case = backoffice.CreateCase(create_req())
    bad = cases_pb2.RequestRegisterDataRequest(request_id=rid(), case_id=case.case_id, from_month="2026-13",
                                               to_month="2099-01")
    err = rpc_error(backoffice.RequestRegisterData, bad)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details(err)[0]) == {"register", "from_month", "to_month"}
    err = rpc_error(backoffice.RequestRegisterData, _register_req(case.case_id, "2020-01", "2025-12"))
    assert "at most 36 months" in details(err)[0]["to_month"]


def test_an_approved_decision_is_posted_sent_and_archived(hub, backoffice, disp, drops, clock):
    case = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    backoffice.AddInformation(info_req(case.case_id))
    d = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[
        period(125_000, (2026, 4, 1), (2026, 6, 30)), period(130_000, (2026, 7, 1), (2026, 12, 31))])).decision
    assert not backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).archive_reference
    assert disp.drain() == 3

    # Economy: one posting per period, on the benefit's ledger account.
    [posting_file] = list((drops / "economy" / "101").glob("*.jsonl"))
    lines = [json.loads(x) for x in posting_file.read_text().splitlines()]
    assert [(x["amount_oere"], x["period_start"]) for x in lines] == [(125_000, "2026-04-01"), (130_000, "2026-07-01")]
    assert {x["decision_id"] for x in lines} == {d.decision_id} and all(x["ledger_account"] for x in lines)
    assert all(x["cpr"] == case.cpr for x in lines)

    # Digital Post: a MeMo message from the authority to the citizen.
    [letter] = list((drops / "digital_post").glob("*.xml"))
    root = ET.parse(letter).getroot()
    ns = {"memo": MEMO_NS}
    assert root.tag == f"{{{MEMO_NS}}}Message"
    assert root.findtext("memo:MessageHeader/memo:Sender/memo:label", namespaces=ns) == "Københavns Kommune"
    assert root.findtext("memo:MessageHeader/memo:Sender/memo:senderID", namespaces=ns) == "64942212"   # its CVR
    assert root.findtext("memo:MessageHeader/memo:Sender/memo:idType", namespaces=ns) == "CVR"
    assert root.findtext("memo:MessageHeader/memo:Recipient/memo:recipientID", namespaces=ns) == case.cpr
    text = base64.b64decode(root.findtext("memo:MessageBody/memo:MainDocument/memo:File/memo:content",
                                          namespaces=ns)).decode()
    assert "Du får boligstøtte" in text and "1.250,00 kr." in text and "Klagevejledning" in text
    assert "4 uger" in text and "Lov om individuel boligstøtte § 1" in text

    # Archive: a valid BagIt package with the case file and the letter.
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert shown.archive_reference == f"101/{d.decision_id}"
    bag = bagit.Bag(str(drops / "archive" / shown.archive_reference))
    bag.validate()
    assert "sha256" in bag.algorithms
    assert bag.info["Municipality-Code"] == "101" and bag.info["Benefit-Code"] == "BOLIGSTOETTE"
    assert bag.info["KLE-Number"] and bag.info["Archive-Action-Date"] > bag.info["Decision-Date"]
    files = {p.split("/", 1)[1] for p in bag.payload_files()}
    assert files == {"case.json", "information.json", "status_history.json", "decisions.json", "hearings.json",
                     "complaints.json", "letter.json", "letter.txt"}

    # The decision is marked sent with the time the letter was delivered.
    [decision] = shown.decisions
    assert decision.sent_time.ToDatetime(tzinfo=clock.now().tzinfo) == clock.now()
    assert decision.letter_reference == letter.stem


def test_the_same_message_twice_gives_one_posting_one_letter_one_bag(hub, backoffice, disp, drops):
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    backoffice.SubmitDraftDecision(draft_req(case.case_id))
    rows = disp.service.claim("test", lease=disp.settings.lease, limit=10, destinations=disp.adapters)
    for row in rows:  # delivered, then the dispatcher "crashes" before recording it
        disp._deliver(row)
    disp.service.release("test", rows)
    assert disp.drain() == 3
    assert sum(len(p.read_text().splitlines()) for p in (drops / "economy").rglob("*.jsonl")) == 1
    assert len(list((drops / "digital_post").glob("*.xml"))) == 1
    assert len([p for p in (drops / "archive" / "101").iterdir()]) == 1
