"""Payment provider, the file route: an ISO 20022 pain.001.001.09 customer credit
transfer initiation per payer municipality, written to the provider's drop folder as
<root>/<provider id>/<message identification>.xml. The file name comes from the
message id, so a redelivery writes nothing new. The tests validate every file against
the ISO 20022 XSD (the copy the `sepaxml` package ships).

Group header: message id, creation time, number of transactions, control sum, and the
municipality as initiating party. One payment information block, the municipality as
debtor: its name and CVR number (and its kommunekode), its account (DbtrAcct) and its
bank (DbtrAgt), which pain.001.001.09 requires. One credit transfer per order: its
end-to-end id, the amount in DKK, the creditor identified by CPR number
(Cdtr/Id/PrvtId/Othr, scheme CPR; no creditor account: NemKonto finds the citizen's
account by CPR, and public payers send only the CPR number), and the remittance text.

The debtor's account and bank are the payer's own, which the hub cannot know from
public data: they are provider configuration, a CSV file named by
HUB_PAYMENT_DEBTOR_ACCOUNTS with the columns `municipality_code,iban,bic` (IBAN and BIC
are checked when the file is read). For a municipality without a row there, the file
names the account by the municipality's CVR number in the NemKonto scheme
(DbtrAcct/Id/Othr: Id = CVR, SchmeNm/Prtry = NKS: "the NemKonto of this CVR number",
the same form Danish guidelines use for a NemKonto creditor) and the bank as not
provided (DbtrAgt/FinInstnId/Othr/Id = NOTPROVIDED, the ISO 20022 and EPC convention
when no BIC is given). Both are schema-valid; a bank that wants the IBAN and BIC gets
them from the configuration file."""
from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from adapters.files import atomic_write, drop_root
from hub.ports import messages as m
from hub.ports import Delivery, DeliveryFailed, Receipt
from hub.domain import municipalities
from hub.domain.payments import kroner

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
NOT_PROVIDED = "NOTPROVIDED"
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")


@dataclass(frozen=True)
class DebtorAccount:
    """A payer municipality's own account and bank."""
    iban: str
    bic: str


def valid_iban(iban: str) -> bool:
    """ISO 13616: the pattern, Denmark's length (18), and the modulus-97 check."""
    if not _IBAN.fullmatch(iban) or (iban.startswith("DK") and len(iban) != 18):
        return False
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def load_debtor_accounts(path: str | Path) -> dict[str, DebtorAccount]:
    """The CSV file of HUB_PAYMENT_DEBTOR_ACCOUNTS (municipality_code,iban,bic).
    Raises ValueError naming the line of a bad row."""
    out: dict[str, DebtorAccount] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            code = (row.get("municipality_code") or "").strip()
            iban = (row.get("iban") or "").replace(" ", "").upper()
            bic = (row.get("bic") or "").strip().upper()
            if municipalities.get(code) is None:
                raise ValueError(f"{path}, line {n}: {code!r} is not a municipality code")
            if not valid_iban(iban):
                raise ValueError(f"{path}, line {n}: not a valid IBAN")
            if not _BIC.fullmatch(bic):
                raise ValueError(f"{path}, line {n}: not a valid BIC")
            if code in out:
                raise ValueError(f"{path}, line {n}: municipality {code} appears twice")
            out[code] = DebtorAccount(iban, bic)
    return out


def pain001_xml(p: m.CreditTransfer, account: DebtorAccount | None = None) -> bytes:
    """The file for one payer. `account`: the payer's configured account and bank, if
    any (see the module's doc for the form used without one)."""
    ET.register_namespace("", NS)

    def el(parent, tag, text=None, **attrs):
        e = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
        if text is not None:
            e.text = str(text)
        return e

    def other_id(parent, value, scheme, tag="Othr"):
        o = el(parent, tag)
        el(o, "Id", value)
        el(el(o, "SchmeNm"), "Prtry", scheme)
        return o

    payer = municipalities.get(p.payer.municipality_code)
    cvr = payer.cvr if payer else ""
    name = p.payer.name[:140]
    txs = p.transactions
    total = kroner(sum(t.amount_oere for t in txs))
    root = ET.Element(f"{{{NS}}}Document")
    init = el(root, "CstmrCdtTrfInitn")
    header = el(init, "GrpHdr")
    el(header, "MsgId", p.message_identification)
    el(header, "CreDtTm", p.created_at.replace(microsecond=0).isoformat())
    el(header, "NbOfTxs", len(txs))
    el(header, "CtrlSum", total)
    initiator = el(header, "InitgPty")
    el(initiator, "Nm", name)
    other_id(el(el(initiator, "Id"), "OrgId"), cvr, "CVR")
    info = el(init, "PmtInf")
    el(info, "PmtInfId", p.message_identification)
    el(info, "PmtMtd", "TRF")
    el(info, "NbOfTxs", len(txs))
    el(info, "CtrlSum", total)
    el(el(info, "ReqdExctnDt"), "Dt", p.requested_execution_date.isoformat())
    debtor = el(info, "Dbtr")
    el(debtor, "Nm", name)
    org = el(el(debtor, "Id"), "OrgId")
    other_id(org, cvr, "CVR")
    other_id(org, p.payer.municipality_code, "KOMMUNEKODE")
    debtor_account = el(el(info, "DbtrAcct"), "Id")
    agent = el(el(info, "DbtrAgt"), "FinInstnId")
    if account is not None:
        el(debtor_account, "IBAN", account.iban)
        el(agent, "BICFI", account.bic)
    else:
        other_id(debtor_account, cvr, "NKS")        # the payer's NemKonto, by its CVR number
        el(el(agent, "Othr"), "Id", NOT_PROVIDED)
    for t in txs:
        tx = el(info, "CdtTrfTxInf")
        el(el(tx, "PmtId"), "EndToEndId", t.end_to_end_id)
        el(el(tx, "Amt"), "InstdAmt", kroner(t.amount_oere), Ccy="DKK")
        other_id(el(el(el(tx, "Cdtr"), "Id"), "PrvtId"), t.cpr, "CPR")  # NemKonto: the account is found by CPR
        el(el(tx, "RmtInf"), "Ustrd", t.remittance[:140])
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


class Pain001FileDrop:
    def __init__(self, root: str | Path, debtor_accounts: Mapping[str, DebtorAccount] | None = None):
        self.root = drop_root(root)
        self.debtor_accounts = dict(debtor_accounts or {})

    def deliver(self, d: Delivery) -> Receipt:
        p = d.message
        if not isinstance(p, m.CreditTransfer):
            raise m.cannot_render("the pain.001 file drop", p)
        if not p.transactions:
            raise DeliveryFailed("a credit transfer without transactions", permanent=True)
        if any(len(t.cpr) != 10 or not t.cpr.isdigit() for t in p.transactions):
            raise DeliveryFailed("a transaction without a recipient CPR", permanent=True)
        if any(t.amount_oere < 0 for t in p.transactions):
            raise DeliveryFailed("a transaction with a negative amount", permanent=True)
        payer = municipalities.get(p.payer.municipality_code)
        if payer is None or not payer.cvr:
            raise DeliveryFailed(f"the payer {p.payer.municipality_code!r} has no CVR number in the reference data",
                                 permanent=True)
        folder = re.sub(r"[^A-Za-z0-9._-]", "_", p.provider_id)
        path = self.root / folder / f"{p.message_identification}.xml"
        if not path.exists():
            atomic_write(path, pain001_xml(p, self.debtor_accounts.get(p.payer.municipality_code)))
        return Receipt(reference=str(path.relative_to(self.root)))
