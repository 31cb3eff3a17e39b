"""Payment provider, the file route: an ISO 20022 pain.001.001.09 customer credit
transfer initiation per payer municipality, written to the provider's drop folder as
<root>/<provider id>/<message identification>.xml.

Group header: message id, creation time, number of transactions, control sum. One
payment information block (the payer municipality as debtor), one credit transfer per
order: its end-to-end id, the amount in DKK, and the recipient identified by CPR
(NemKonto resolves the account). The file name comes from the message id, so a
redelivery writes nothing new."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from adapters.files import atomic_write, drop_root
from hub.dispatch import messages as m
from hub.dispatch.ports import Delivery, DeliveryFailed, Receipt
from hub.domain.payments import kroner

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"


def pain001_xml(p: m.CreditTransfer) -> bytes:
    ET.register_namespace("", NS)

    def el(parent, tag, text=None, **attrs):
        e = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
        if text is not None:
            e.text = str(text)
        return e

    txs = p.transactions
    total = kroner(sum(t.amount_oere for t in txs))
    root = ET.Element(f"{{{NS}}}Document")
    init = el(root, "CstmrCdtTrfInitn")
    header = el(init, "GrpHdr")
    el(header, "MsgId", p.message_identification)
    el(header, "CreDtTm", p.created_at.isoformat())
    el(header, "NbOfTxs", len(txs))
    el(header, "CtrlSum", total)
    el(el(header, "InitgPty"), "Nm", p.payer.name)
    info = el(init, "PmtInf")
    el(info, "PmtInfId", p.message_identification)
    el(info, "PmtMtd", "TRF")
    el(info, "NbOfTxs", len(txs))
    el(info, "CtrlSum", total)
    el(el(info, "ReqdExctnDt"), "Dt", p.requested_execution_date.isoformat())
    debtor = el(info, "Dbtr")
    el(debtor, "Nm", p.payer.name)
    other = el(el(el(debtor, "Id"), "OrgId"), "Othr")
    el(other, "Id", p.payer.municipality_code)
    el(el(other, "SchmeNm"), "Prtry", "KOMMUNEKODE")
    for t in txs:
        tx = el(info, "CdtTrfTxInf")
        el(el(tx, "PmtId"), "EndToEndId", t.end_to_end_id)
        el(el(tx, "Amt"), "InstdAmt", kroner(t.amount_oere), Ccy="DKK")
        creditor = el(el(el(el(tx, "Cdtr"), "Id"), "PrvtId"), "Othr")
        el(creditor, "Id", t.cpr)
        el(el(creditor, "SchmeNm"), "Prtry", "CPR")  # NemKonto: the account is looked up by CPR
        el(el(tx, "RmtInf"), "Ustrd", t.remittance)
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


class Pain001FileDrop:
    def __init__(self, root: str | Path):
        self.root = drop_root(root)

    def deliver(self, d: Delivery) -> Receipt:
        p = d.message
        if not isinstance(p, m.CreditTransfer):
            raise m.cannot_render("the pain.001 file drop", p)
        if not p.transactions:
            raise DeliveryFailed("a credit transfer without transactions", permanent=True)
        if any(len(t.cpr) != 10 for t in p.transactions):
            raise DeliveryFailed("a transaction without a recipient CPR", permanent=True)
        folder = re.sub(r"[^A-Za-z0-9._-]", "_", p.provider_id)
        path = self.root / folder / f"{p.message_identification}.xml"
        if not path.exists():
            atomic_write(path, pain001_xml(p))
        return Receipt(reference=str(path.relative_to(self.root)))
