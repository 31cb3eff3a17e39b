"""A KOMBIT vendor system: it registers applications it received in its own system
(CreateCase with its own reference; the SDK retries a dropped call with the same
request id, so a case is made once), then follows them through the hub's event stream
(a durable subscription of its municipalities' case and decision events) until each is
decided or withdrawn, printing each step. Stopped and started again, it goes on where
it acknowledged.

    export HUBCTL_TOKEN=demo-vendor   # a vendor_system client of your clients file
    python -m clients.examples.vendor_system --municipality 101 --cpr 0101701234 --reference SAG-1

Uses only the hub.v1 contract (through the SDK)."""
from __future__ import annotations

import sys
import uuid

import grpc

from clients.examples import run_example
from clients.sdk import follow
from hub.v1 import cases_pb2, common_pb2, events_pb2

FOLLOWED = ["case.status_changed", "decision.approved", "decision.sent", "case.withdrawn"]
DONE = {"decision.approved", "case.withdrawn"}


def subscribe(hub, name: str, municipalities: list[str]) -> None:
    try:
        hub.events.CreateSubscription(events_pb2.CreateSubscriptionRequest(
            request_id=str(uuid.uuid4()), name=name,
            filter=events_pb2.EventFilter(event_types=FOLLOWED, municipality_codes=municipalities)))
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.ALREADY_EXISTS:  # made on an earlier run
            raise


def register(hub, applications: list[tuple[str, str, str, str]], out=sys.stdout) -> dict[str, str]:
    """(municipality, cpr, benefit, own reference) each -> the hub's case; case id ->
    own reference."""
    made = {}
    for municipality, cpr, benefit, reference in applications:
        case = hub.cases.CreateCase(cases_pb2.CreateCaseRequest(
            request_id=f"{reference}/create", municipality_code=municipality, cpr=cpr, benefit_code=benefit,
            channel=common_pb2.CHANNEL_SELF_SERVICE, external_reference=reference))
        made[case.case_id] = reference
        print(f"{reference}: registered as case {case.case_id}, decision due by "
              f"{case.processing_deadline.ToDatetime():%Y-%m-%d}", file=out)
    return made


def follow_until_done(hub, name: str, cases: dict[str, str], out=sys.stdout) -> dict[str, str]:
    """Print each followed event of `cases` (others are acknowledged and passed over)
    until every case is decided or withdrawn; returns case id -> how it ended."""
    ended: dict[str, str] = {}
    for event in follow(hub, name, heartbeat_seconds=1):
        if event.case_id in cases:
            reference = cases[event.case_id]
            if event.type == "case.status_changed":
                what = f"{event.case_status_changed.from_status} -> {event.case_status_changed.to_status}"
            elif event.type == "decision.approved":
                what = f"decided: {event.decision_approved.outcome}"
            else:
                what = event.type
            print(f"{reference}: {what}", file=out)
            if event.type in DONE:
                ended[event.case_id] = event.type
        hub.events.AckEvents(events_pb2.AckEventsRequest(name=name, sequence=event.sequence))
        if set(ended) >= set(cases):
            return ended
    return ended


def main(argv: list[str] | None = None) -> int:
    def arguments(ap):
        ap.add_argument("--municipality", required=True)
        ap.add_argument("--cpr", required=True)
        ap.add_argument("--benefit", default="BOLIGSTOETTE")
        ap.add_argument("--reference", required=True, help="the case's reference in the vendor's own system")
        ap.add_argument("--subscription", default="", help="default vendor-<municipality>")

    def act(hub, args):
        name = args.subscription or f"vendor-{args.municipality}"
        subscribe(hub, name, [args.municipality])
        follow_until_done(hub, name, register(hub, [(args.municipality, args.cpr, args.benefit, args.reference)]))
    return run_example(__doc__, argv, arguments, act)

if __name__ == "__main__":
    sys.exit(main())
