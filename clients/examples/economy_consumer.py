"""An economy system following one municipality's decisions through the hub's event
stream: it prints a posting line for every approved decision that grants money, and
resumes where it stopped after a restart (a durable subscription; the cursor is
acknowledged after each printed event, so at most the last one is seen twice).

    export HUBCTL_TOKEN=demo-economy-101
    python -m clients.examples.economy_consumer --municipality 101

Uses only the hub.v1 contract (through the SDK)."""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import grpc

from clients.sdk import connect, describe_error, pages
from hub.v1 import events_pb2, payments_pb2

WANTED = ["decision.approved", "decision.sent", "case.archived"]
# (`reconcile` checks a month's payment orders against the decisions posted.)


def ensure_subscription(hub, name: str, municipality: str) -> None:
    try:
        hub.events.CreateSubscription(events_pb2.CreateSubscriptionRequest(
            request_id=str(uuid.uuid4()), name=name,
            filter=events_pb2.EventFilter(event_types=WANTED, municipality_codes=[municipality])))
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.ALREADY_EXISTS:  # created on an earlier run
            raise


def posting_lines(event: events_pb2.Event) -> list[str]:
    p = event.payload
    if event.type == "decision.approved":
        return [f"{event.sequence:>8} {event.municipality_code} {event.benefit_code:<20} "
                f"{int(a['amount_oere']):>12} øre  {a['period_start']}..{a['period_end']}  "
                f"decision {p['decision_id']}" for a in p["amounts"]]
    return [f"{event.sequence:>8} {event.municipality_code} {event.type}  case {event.case_id}"]


def consume(hub, name: str, out=sys.stdout, max_events: int | None = None, idle_exit: float | None = None,
            ledger: dict[str, list[tuple[str, str, int]]] | None = None) -> int:
    """Follow the subscription; returns after max_events, or after idle_exit seconds
    without events (both for tests and demos); otherwise runs until interrupted.
    `ledger`: kept up to date with each case's granted periods (a later decision on a
    case replaces the earlier), for `reconcile`."""
    seen = 0
    quiet = time.monotonic()
    call = hub.events.Subscribe(events_pb2.SubscribeRequest(subscription=name, heartbeat_seconds=1))
    try:
        for item in call:
            if item.HasField("heartbeat"):
                if idle_exit is not None and time.monotonic() - quiet >= idle_exit:
                    break
                continue
            for line in posting_lines(item.event):
                print(line, file=out, flush=True)
            if ledger is not None and item.event.type == "decision.approved":
                ledger[item.event.case_id] = [(a["period_start"], a["period_end"], int(a["amount_oere"]))
                                              for a in item.event.payload["amounts"]]
            hub.events.AckEvents(events_pb2.AckEventsRequest(name=name, sequence=item.event.sequence))
            seen += 1
            quiet = time.monotonic()
            if max_events is not None and seen >= max_events:
                break
    finally:
        call.cancel()
    return seen


def reconcile(hub, municipality: str, month: str, ledger: dict[str, list[tuple[str, str, int]]],
              out=sys.stdout) -> list[str]:
    """The month's payment orders in the hub (ListPayments, every page) against what the
    ledger was told: an order for a case whose decision was not posted, or of another
    amount than the granted one for its period (a correction order is a difference to
    look at, too). Prints and returns the differences."""
    differences = []
    for order in pages(hub.payments.ListPayments, payments_pb2.ListPaymentsRequest(
            municipality_code=municipality, due_month=month), "orders"):
        if order.status == payments_pb2.PAYMENT_STATUS_CANCELLED:
            continue
        start = f"{order.period}-01"
        granted = [amount for first, last, amount in ledger.get(order.case_id, []) if first <= start <= last]
        if not granted:
            differences.append(f"{order.end_to_end_id}: case {order.case_id} has no posted decision for {order.period}")
        elif order.amount_oere != granted[0]:
            differences.append(f"{order.end_to_end_id}: ordered {order.amount_oere} øre, granted {granted[0]} øre")
    for line in differences or [f"{municipality} {month}: the orders agree with the posted decisions"]:
        print(line, file=out)
    return differences


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", default=os.environ.get("HUBCTL_ADDRESS", "127.0.0.1:50051"))
    ap.add_argument("--token", default=os.environ.get("HUBCTL_TOKEN", ""))
    ap.add_argument("--municipality", required=True)
    ap.add_argument("--name", default="", help="subscription name (default economy-<municipality>)")
    args = ap.parse_args(argv)
    hub = connect(args.address, args.token)
    name = args.name or f"economy-{args.municipality}"
    try:
        ensure_subscription(hub, name, args.municipality)
        while True:
            try:
                consume(hub, name)
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                print("hub unavailable; resuming in 2 s", file=sys.stderr)
                time.sleep(2)
    except grpc.RpcError as err:
        print(describe_error(err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        hub.close()


if __name__ == "__main__":
    sys.exit(main())
