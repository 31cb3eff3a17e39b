"""What other systems receive, in their real formats: pain.001.001.09 files that a
bank's schema check accepts (validated against the ISO 20022 XSD), and MeMo letters
that name their sender by CVR number and read as Danish letters."""
from __future__ import annotations

import base64
import datetime as dt
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.digital_post.memo import MEMO_NS, MeMoFileDrop
from adapters.income_register.simulator import income_records
from adapters.payment_provider.pain001 import DebtorAccount, Pain001FileDrop, load_debtor_accounts, pain001_xml
from hub.ports import messages as msg
from hub.ports import Delivery, DeliveryFailed
from hub.domain import municipalities
from hub.domain.documents import Letter, Sender
from hub.domain.facts import MONTHS_DA, fact_line, kroner_oere as kroner
from hub.domain.model import InformationItem, InformationSource
from hub.v1 import cases_pb2, decisions_pb2, payments_pb2 as P
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import create_req, draft_req, info_req, period, rid
from tests.test_payments import REJECTED, change, granted, orders, reach, run, settle
from tests.xsd import assert_valid_pain001

PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}"
NOW = dt.datetime(2026, 5, 20, 8, 30, 15, 123456, tzinfo=dt.timezone.utc)


def _amounts(root) -> list[Decimal]:
    return [Decimal(x.text) for x in root.iter(f"{PAIN}InstdAmt")]


def _transfer(amounts, payer="101") -> msg.CreditTransfer:
    m = municipalities.get(payer)
    return msg.CreditTransfer(
        provider_id="provider-a", batch_id="b-1", message_identification=f"HUB-B1-{payer}", created_at=NOW,
        payer=msg.Payer(payer, m.authority_name), requested_execution_date=NOW.date(),
        transactions=tuple(msg.Transfer(f"E2E-{n}", a, f"01017{n % 10}{n:04d}"[:10], f"BOLIGSTOETTE 2026-{n % 12 + 1:02d}")
                           for n, a in enumerate(amounts)))


def _deliver(adapter, message) -> str:
    return adapter.deliver(Delivery("batch/b-1/101", "payment_provider", None, message, 1, NOW, NOW)).reference


# ---- pain.001 --------------------------------------------------------------------------------

def test_pain001_files_of_several_payers_with_a_correction_and_a_reissue_validate(hub, backoffice, tmp_path):
    reach(hub.clock, "2026-06")
    provider = hub.as_("t-provider-a")
    cases = [granted(backoffice, municipality=m)[0] for m in ("101", "101", "147")]
    run(backoffice, "2026-05")
    batch = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    provider.AcknowledgePaymentBatch(P.AcknowledgePaymentBatchRequest(batch_id=batch.batch_id))
    rejected = orders(backoffice, cases[0].case_id)[0]
    settle(provider, batch, only={rejected.end_to_end_id}, result=REJECTED, reason="no NemKonto")
    settle(provider, batch, only={i.order.end_to_end_id for i in batch.instructions} - {rejected.end_to_end_id})
    reissue = backoffice.ReissuePayment(P.ReissuePaymentRequest(request_id=rid(), end_to_end_id=rejected.end_to_end_id))
    change(backoffice, cases[2], 150_000, (2026, 5, 1))          # raised from May: a correction for May
    run(backoffice, "2026-06")
    pushed = hub.as_("t-operator").PushPaymentBatch(P.PushPaymentBatchRequest(request_id=rid(),
                                                                              provider_id="provider-a"))
    kinds = {i.order.kind for i in pushed.instructions}
    assert kinds == {P.PAYMENT_KIND_REGULAR, P.PAYMENT_KIND_CORRECTION, P.PAYMENT_KIND_REISSUE}
    dispatcher(hub.engine, hub.clock, file_adapters(tmp_path)).drain()
    files = sorted((tmp_path / "payment_provider" / "provider-a").glob("*.xml"))
    assert [f.name.rsplit("-", 1)[1] for f in files] == ["101.xml", "147.xml"]   # a file per payer
    seen = {}
    for f, code in zip(files, ("101", "147")):
        assert_valid_pain001(f)
        root = ET.parse(f).getroot()
        info = root.find(f"{PAIN}CstmrCdtTrfInitn/{PAIN}PmtInf")
        cvr = municipalities.get(code).cvr
        assert info.findtext(f"{PAIN}Dbtr/{PAIN}Id/{PAIN}OrgId/{PAIN}Othr/{PAIN}Id") == cvr
        assert info.findtext(f"{PAIN}DbtrAcct/{PAIN}Id/{PAIN}Othr/{PAIN}Id") == cvr
        assert info.findtext(f"{PAIN}DbtrAgt/{PAIN}FinInstnId/{PAIN}Othr/{PAIN}Id") == "NOTPROVIDED"
        header = root.find(f"{PAIN}CstmrCdtTrfInitn/{PAIN}GrpHdr")
        assert Decimal(header.findtext(f"{PAIN}CtrlSum")) == Decimal(info.findtext(f"{PAIN}CtrlSum")) \
            == sum(_amounts(root))
        for tx in info.iter(f"{PAIN}CdtTrfTxInf"):
            seen[tx.findtext(f"{PAIN}PmtId/{PAIN}EndToEndId")] = Decimal(tx.findtext(f"{PAIN}Amt/{PAIN}InstdAmt"))
    assert seen == {i.order.end_to_end_id: Decimal(i.order.net_amount_oere) / 100 for i in pushed.instructions}
    assert seen[reissue.end_to_end_id] == Decimal("1250.00")


def test_a_configured_debtor_account_and_bank_are_named_by_iban_and_bic(tmp_path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("municipality_code,iban,bic\n101,DK50 0040 0440 1162 43,dabadkkk\n", encoding="utf-8")
    adapter = Pain001FileDrop(tmp_path / "drop", load_debtor_accounts(accounts))
    path = tmp_path / "drop" / _deliver(adapter, _transfer([125_000, 99]))
    assert_valid_pain001(path)
    info = ET.parse(path).getroot().find(f"{PAIN}CstmrCdtTrfInitn/{PAIN}PmtInf")
    assert info.findtext(f"{PAIN}DbtrAcct/{PAIN}Id/{PAIN}IBAN") == "DK5000400440116243"
    assert info.findtext(f"{PAIN}DbtrAgt/{PAIN}FinInstnId/{PAIN}BICFI") == "DABADKKK"


@pytest.mark.parametrize("row, problem", [
    ("101,DK5000400440116244,DABADKKK", "line 2: not a valid IBAN"),
    ("101,DK5000400440116243,DABA", "line 2: not a valid BIC"),
    ("999,DK5000400440116243,DABADKKK", "line 2: '999' is not a municipality code"),
])
def test_a_bad_debtor_account_file_is_refused_naming_its_line(tmp_path, row, problem):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(f"municipality_code,iban,bic\n{row}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=problem):
        load_debtor_accounts(accounts)


def test_a_negative_amount_is_refused_not_written(tmp_path):
    adapter = Pain001FileDrop(tmp_path)
    with pytest.raises(DeliveryFailed) as err:
        _deliver(adapter, _transfer([100, -1]))
    assert err.value.permanent and not list(tmp_path.rglob("*.xml"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**13), min_size=1, max_size=40),
       st.sampled_from(sorted(municipalities.all_municipalities())), st.booleans())
def test_every_pain001_file_validates_and_its_control_sum_is_the_sum_of_its_transactions(amounts, payer, configured):
    account = DebtorAccount("DK5000400440116243", "DABADKKK") if configured else None
    data = pain001_xml(_transfer(amounts, payer), account)
    assert_valid_pain001(data)
    root = ET.fromstring(data)
    total = Decimal(sum(amounts)) / 100
    assert _amounts(root) == [Decimal(a) / 100 for a in amounts]
    assert Decimal(root.findtext(f"{PAIN}CstmrCdtTrfInitn/{PAIN}GrpHdr/{PAIN}CtrlSum")) == total
    assert Decimal(root.findtext(f"{PAIN}CstmrCdtTrfInitn/{PAIN}PmtInf/{PAIN}CtrlSum")) == total
    assert root.findtext(f"{PAIN}CstmrCdtTrfInitn/{PAIN}GrpHdr/{PAIN}NbOfTxs") == str(len(amounts))


# ---- MeMo (Digital Post) ---------------------------------------------------------------------

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
UUID4 = re.compile(r"[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-4[a-fA-F0-9]{3}-[aAbB89][a-fA-F0-9]{3}-[a-fA-F0-9]{12}")
NS = {"memo": MEMO_NS}
DANISH = dict(reasoning="Husstandens indkomst er under grænsen.", legal_basis="Lov om individuel boligstøtte § 1")


def _letters(drops) -> list[tuple[ET.Element, str]]:
    out = []
    for p in sorted((drops / "digital_post").glob("*.xml")):
        root = ET.parse(p).getroot()
        text = base64.b64decode(root.findtext("memo:MessageBody/memo:MainDocument/memo:File/memo:content",
                                              namespaces=NS)).decode("utf-8")
        out.append((root, text))
    return out


def test_a_decision_letter_names_its_sender_by_cvr_and_says_per_month_in_danish(hub, backoffice, tmp_path):
    case = backoffice.CreateCase(create_req(municipality="751", benefit="BOLIGSTOETTE"))
    backoffice.AddInformation(info_req(case.case_id))
    backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(125_000, (2026, 4, 1), (2026, 12, 31))],
                                             **DANISH))
    dispatcher(hub.engine, hub.clock, file_adapters(tmp_path)).drain()
    [(root, text)] = _letters(tmp_path)
    header = root.find("memo:MessageHeader", NS)
    assert [c.tag.split("}")[1] for c in header][:7] == ["messageType", "messageUUID", "label", "mandatory",
                                                         "legalNotification", "Sender", "Recipient"]
    assert UUID4.fullmatch(header.findtext("memo:messageUUID", namespaces=NS))
    assert (header.findtext("memo:Sender/memo:senderID", namespaces=NS),
            header.findtext("memo:Sender/memo:idType", namespaces=NS),
            header.findtext("memo:Sender/memo:label", namespaces=NS)) == ("55133018", "CVR", "Aarhus Kommune")
    assert root.findtext("memo:MessageBody/memo:createdDateTime", namespaces=NS).endswith("Z")
    assert "1. april 2026 til 31. december 2026: 1.250,00 kr. pr. måned" in text
    assert not ISO_DATE.search(text), text


def test_a_benefit_paid_per_period_says_for_the_period_not_per_month(hub, backoffice, tmp_path):
    case = backoffice.CreateCase(create_req(benefit="BARSELSDAGPENGE"))
    backoffice.AddInformation(info_req(case.case_id))
    backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(469_500, (2026, 4, 6), (2026, 4, 12))],
                                             **DANISH))
    dispatcher(hub.engine, hub.clock, file_adapters(tmp_path)).drain()
    [(root, text)] = _letters(tmp_path)
    assert root.findtext("memo:MessageHeader/memo:Sender/memo:senderID", namespaces=NS) == "64942212"
    assert "6. april 2026 til 12. april 2026: 4.695,00 kr. for perioden" in text and "pr. måned" not in text


def test_a_hearing_letter_shows_facts_with_a_danish_label_and_unit(hub, backoffice, tmp_path):
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id, kind="income.annual", value=420000.0))
    backoffice.AddInformation(info_req(case.case_id, kind="rent.monthly", value=7250.5,
                                       source=cases_pb2.INFORMATION_SOURCE_THIRD_PARTY))
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, outcome=decisions_pb2.OUTCOME_REFUSED, amounts=[],
                                                 **DANISH))
    hearing = backoffice.StartHearing(decisions_pb2.StartHearingRequest(request_id=rid(),
                                                                        decision_id=r.decision.decision_id))
    dispatcher(hub.engine, hub.clock, file_adapters(tmp_path)).drain()
    [(root, text)] = _letters(tmp_path)
    assert root.findtext("memo:MessageHeader/memo:Sender/memo:senderID", namespaces=NS) == "64942212"
    assert "  Årsindkomst: 420.000 kr. (kilde: register)" in text
    assert "  Månedlig husleje: 7.250,5 kr. (kilde: en anden part)" in text
    deadline = hearing.deadline.ToDatetime(tzinfo=dt.timezone.utc).astimezone(ZoneInfo("Europe/Copenhagen")).date()
    assert f"senest {deadline.day}. {MONTHS_DA[deadline.month - 1]} {deadline.year}." in text
    assert "income.annual" not in text and "rent.monthly" not in text and "register_records" not in text
    assert not ISO_DATE.search(text), text


def test_register_records_are_summarised_and_an_unknown_kind_is_shown_readably():
    records = income_records("0101701234", ["2026-01", "2026-02", "2026-03"])
    now = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)
    item = InformationItem("i-1", "c-1", InformationSource.REGISTER, "eIndkomst EI-1", "income.register_records",
                           dict(register="eIndkomst", months=["2026-01", "2026-02", "2026-03"], records=records),
                           False, "backoffice", now)
    line = fact_line(item)
    total = sum(r["a_income_with_am_oere"] + r["a_income_without_am_oere"] for r in records)
    assert line.startswith("  Indkomst fra indkomstregistret (eIndkomst): A-indkomst i alt ")
    assert f"{kroner(total)} for januar 2026 til marts 2026" in line and "(kilde: eIndkomst EI-1)" in line
    odd = InformationItem("i-2", "c-1", InformationSource.AUTHORITY, "", "pension.foreign_years", 12.0, False,
                          "backoffice", now)
    assert fact_line(odd) == "  Oplysning om pension foreign years: 12 (kilde: en anden myndighed)"


def test_a_letter_whose_sender_has_no_cvr_number_is_refused_not_sent(tmp_path):
    letter = Letter(title="Afgørelse om folkepension", sender=Sender("central:UDBETALING_DANMARK", "Udbetaling Danmark"),
                    recipient_cpr="0101701234", case_id="c-1", document_id="d-1", file_prefix="afgoerelse",
                    text="Du får folkepension.\n")
    message = msg.DigitalPostLetter(letter_kind="decision_letter", case_id="c-1", municipality_code="101",
                                    letter=letter, decision_id="d-1")
    with pytest.raises(DeliveryFailed) as err:
        MeMoFileDrop(tmp_path).deliver(Delivery("decision/d-1/letter", "digital_post", "c-1", message, 1, NOW, NOW))
    assert err.value.permanent and "Udbetaling Danmark" in str(err.value) and "CVR" in str(err.value)
    assert "0101701234" not in str(err.value) and not list(tmp_path.rglob("*.xml"))
