"""Borgerservice: a citizen applies at the citizen service desk. The desk registers the
application in person (CreateCase, channel IN_PERSON, with what the citizen says),
prints the receipt ("kvittering": when it was received and by when it will be
decided), and adds what the citizen brought along (AddInformation, source CITIZEN).
A retry with the same request id (the SDK's, on a dropped connection) makes one case.

    export HUBCTL_TOKEN=demo-borgerservice-101
    python -m clients.examples.borgerservice --cpr 0101701234 --benefit BOLIGSTOETTE \\
        --rent-per-month 4000 --statement '{"receives_folkepension": false}'

Uses only the hub.v1 contract (through the SDK)."""
from __future__ import annotations

import json
import sys
import uuid

from google.protobuf import struct_pb2

from clients.examples import run_example
from hub.v1 import cases_pb2, common_pb2

COPENHAGEN = "Europe/Copenhagen"


def receipt(case: cases_pb2.Case) -> list[str]:
    """The receipt's lines, in Copenhagen time, as the desk prints it for the citizen."""
    from zoneinfo import ZoneInfo
    zone = ZoneInfo(COPENHAGEN)
    received = case.received_time.ToDatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    deadline = case.processing_deadline.ToDatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    return [f"Kvittering for din ansøgning ({case.benefit_code})",
            f"Sag: {case.case_id}",
            f"Modtaget: {received:%d.%m.%Y kl. %H:%M}",
            f"Du får en afgørelse senest: {deadline:%d.%m.%Y}"]


def apply_in_person(hub, *, municipality: str, cpr: str, benefit: str, statement: dict,
                    rent_per_month_oere: int | None = None, out=sys.stdout) -> cases_pb2.Case:
    """Register the application and what the citizen brought; print the receipt."""
    req = cases_pb2.CreateCaseRequest(request_id=str(uuid.uuid4()), municipality_code=municipality, cpr=cpr,
                                      benefit_code=benefit, channel=common_pb2.CHANNEL_IN_PERSON)
    req.applicant_statement.update(statement)
    case = hub.cases.CreateCase(req)
    for line in receipt(case):
        print(line, file=out)
    if rent_per_month_oere is not None:
        item = hub.cases.AddInformation(cases_pb2.AddInformationRequest(
            request_id=str(uuid.uuid4()), case_id=case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN,
            kind="rent.monthly", value=struct_pb2.Value(number_value=rent_per_month_oere / 100)))
        print(f"Modtaget fra dig: husleje {rent_per_month_oere / 100:.2f} kr. om måneden "
              f"(oplysning {item.item.item_id})", file=out)
    return case


def main(argv: list[str] | None = None) -> int:
    def arguments(ap):
        ap.add_argument("--municipality", default="101")
        ap.add_argument("--cpr", required=True)
        ap.add_argument("--benefit", default="BOLIGSTOETTE")
        ap.add_argument("--statement", default="{}", help="what the citizen says, as JSON")
        ap.add_argument("--rent-per-month", type=float, default=None, help="kroner, if the citizen brought the lease")
    return run_example(__doc__, argv, arguments, lambda hub, args: apply_in_person(
        hub, municipality=args.municipality, cpr=args.cpr, benefit=args.benefit, statement=json.loads(args.statement),
        rent_per_month_oere=None if args.rent_per_month is None else round(args.rent_per_month * 100)))

if __name__ == "__main__":
    sys.exit(main())
