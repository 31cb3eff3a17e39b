"""An outsourced payment provider's day: fetch the next batch of payment orders for the
municipalities it pays for (FetchPaymentBatch: the same batch until acknowledged),
write it as an ISO 20022 pain.001.001.09 credit transfer file for the bank (one payment
block per paying municipality, the citizen's NemKonto found by CPR), acknowledge the
batch, and report back what the bank did: every payment paid, and, with
--return-one, the last one returned by the bank (an account closed), which the hub
flags for the back office to pay again.

    export HUBCTL_TOKEN=demo-provider
    python -m clients.examples.payment_provider --out var/provider [--return-one]

Uses only the hub.v1 contract (through the SDK); the pain.001 file is written here with
the standard library."""
from __future__ import annotations

import datetime as dt
import sys
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from google.type import date_pb2

from clients.examples import run_example
from hub.v1 import payments_pb2

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"


def _kroner(oere: int) -> str:
    return f"{oere // 100}.{oere % 100:02d}"


def pain001(batch: payments_pb2.PaymentBatch, provider_name: str, today: dt.date) -> bytes:
    """The batch as one pain.001.001.09 document: a PmtInf per paying municipality."""
    ET.register_namespace("", NS)

    def el(parent, tag, text=None, **attrs):
        e = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
        if text is not None:
            e.text = str(text)
        return e

    def other(parent, value, scheme):
        o = el(parent, "Othr")
        el(o, "Id", value)
        el(el(o, "SchmeNm"), "Prtry", scheme)

    by_payer = defaultdict(list)
    for i in batch.instructions:
        by_payer[i.municipality_code].append(i)
    net = [i.order.net_amount_oere for i in batch.instructions]
    root = ET.Element(f"{{{NS}}}Document")
    init = el(root, "CstmrCdtTrfInitn")
    header = el(init, "GrpHdr")
    el(header, "MsgId", batch.batch_id[:35])
    el(header, "CreDtTm", dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat())
    el(header, "NbOfTxs", len(net))
    el(header, "CtrlSum", _kroner(sum(net)))
    el(el(header, "InitgPty"), "Nm", provider_name[:140])
    for payer, instructions in sorted(by_payer.items()):
        info = el(init, "PmtInf")
        el(info, "PmtInfId", f"{batch.batch_id[:30]}-{payer}")
        el(info, "PmtMtd", "TRF")
        el(info, "NbOfTxs", len(instructions))
        el(info, "CtrlSum", _kroner(sum(i.order.net_amount_oere for i in instructions)))
        el(el(info, "ReqdExctnDt"), "Dt", today.isoformat())
        debtor = el(info, "Dbtr")
        el(debtor, "Nm", f"Kommune {payer}")
        other(el(el(debtor, "Id"), "OrgId"), payer, "KOMMUNEKODE")
        other(el(el(info, "DbtrAcct"), "Id"), payer, "KOMMUNEKODE")   # the municipality's account, by its code
        el(el(el(el(info, "DbtrAgt"), "FinInstnId"), "Othr"), "Id", "NOTPROVIDED")
        for i in instructions:
            tx = el(info, "CdtTrfTxInf")
            el(el(tx, "PmtId"), "EndToEndId", i.order.end_to_end_id)
            el(el(tx, "Amt"), "InstdAmt", _kroner(i.order.net_amount_oere), Ccy="DKK")
            other(el(el(el(tx, "Cdtr"), "Id"), "PrvtId"), i.cpr, "CPR")   # NemKonto: the account found by CPR
            el(el(tx, "RmtInf"), "Ustrd", i.remittance_text[:140])
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


def day(hub, out_dir: Path, *, return_one: bool = False, today: dt.date | None = None, out=sys.stdout) -> Path | None:
    """One batch through: the file written, the batch acknowledged, the results
    reported. Returns the file (None: nothing to pay)."""
    today = today or dt.date.today()
    batch = hub.payments.FetchPaymentBatch(payments_pb2.FetchPaymentBatchRequest())
    if not batch.batch_id:
        print("nothing to pay", file=out)
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{batch.batch_id}.xml"
    path.write_bytes(pain001(batch, batch.provider_id, today))
    print(f"batch {batch.batch_id}: {batch.number_of_transactions} payments, "
          f"{_kroner(batch.control_sum_oere)} kr, written to {path}", file=out)
    hub.payments.AcknowledgePaymentBatch(payments_pb2.AcknowledgePaymentBatchRequest(batch_id=batch.batch_id))
    date = date_pb2.Date(year=today.year, month=today.month, day=today.day)

    def report(reports):
        for start in range(0, len(reports), 1000):
            answer = hub.payments.ReportSettlement(payments_pb2.ReportSettlementRequest(
                request_id=str(uuid.uuid4()), settlements=reports[start:start + 1000]))
            for order in answer.orders:
                print(f"  {order.end_to_end_id}: {payments_pb2.PaymentStatus.Name(order.status)}", file=out)
    report([payments_pb2.SettlementReport(
        end_to_end_id=i.order.end_to_end_id, amount_oere=i.order.net_amount_oere, settlement_date=date,
        result=payments_pb2.SETTLEMENT_RESULT_PAID, bank_reference=f"BANK-{i.order.end_to_end_id}")
        for i in batch.instructions])
    if return_one:  # days later the bank sends one back
        last = batch.instructions[-1].order
        report([payments_pb2.SettlementReport(
            end_to_end_id=last.end_to_end_id, amount_oere=last.net_amount_oere, settlement_date=date,
            result=payments_pb2.SETTLEMENT_RESULT_RETURNED, bank_reference=f"BANK-{last.end_to_end_id}-R",
            reason="the account is closed")])
    return path


def main(argv: list[str] | None = None) -> int:
    def arguments(ap):
        ap.add_argument("--out", default="var/provider", help="where the pain.001 files go")
        ap.add_argument("--return-one", action="store_true", help="report the batch's last payment as returned")
    return run_example(__doc__, argv, arguments, lambda hub, args: day(hub, Path(args.out),
                                                                         return_one=args.return_one))

if __name__ == "__main__":
    sys.exit(main())
