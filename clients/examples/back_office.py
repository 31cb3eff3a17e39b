"""The shared back office's work list: the cases that fell out of automatic processing
(ListCases, automation FELL_OUT, no draft yet), and what is late
(ListOverdue). For each fallen-out case it asks the rules for a draft (CalculateDraft);
when the facts suffice it submits the calculated draft (SubmitDraftDecision,
use_calculation: the authority approves it, or the hub does on its behalf for an
objective case); when they do not, it leaves the case for a person and says why.

    export HUBCTL_TOKEN=demo-backoffice
    python -m clients.examples.back_office [--municipality 101]

Uses only the hub.v1 contract (through the SDK)."""
from __future__ import annotations

import sys
import uuid

import grpc

from clients.examples import run_example
from clients.sdk import pages
from hub.v1 import cases_pb2, common_pb2, decisions_pb2, rules_pb2


def work(hub, municipality: str = "", out=sys.stdout) -> dict[str, list[str]]:
    """One pass over the work list; {"drafted": case ids, "left": case ids}."""
    done: dict[str, list[str]] = {"drafted": [], "left": []}
    fallen = pages(hub.cases.ListCases, cases_pb2.ListCasesRequest(
        municipality_code=municipality, automation=cases_pb2.AUTOMATION_FELL_OUT), "cases")
    for case in fallen:
        if case.status not in (common_pb2.CASE_STATUS_CREATED, common_pb2.CASE_STATUS_INFORMING):
            continue  # drafted already, decided or withdrawn
        why = cases_pb2.FalloutReason.Name(case.fallout_reason).removeprefix("FALLOUT_REASON_")
        try:
            calc = hub.rules.CalculateDraft(rules_pb2.CalculateDraftRequest(case_id=case.case_id))
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            print(f"{case.case_id}: left for a person ({why}): {err.details()}", file=out)
            done["left"].append(case.case_id)
            continue
        r = hub.decisions.SubmitDraftDecision(decisions_pb2.SubmitDraftDecisionRequest(
            request_id=f"back-office/{case.case_id}/draft/{uuid.uuid4()}", case_id=case.case_id,
            use_calculation=True))
        amounts = ", ".join(f"{a.amount_oere / 100:.2f} kr" for a in calc.amounts) or "none"
        state = "approved" if r.approved_automatically else "waiting for the authority"
        print(f"{case.case_id}: drafted by the rules ({why}): {amounts}; {state}", file=out)
        done["drafted"].append(case.case_id)
    for item in pages(hub.cases.ListOverdue, cases_pb2.ListOverdueRequest(municipality_code=municipality), "items"):
        kind = cases_pb2.OverdueKind.Name(item.kind).removeprefix("OVERDUE_KIND_").lower()
        print(f"late: {item.case_id} {kind}, due {item.due_time.ToDatetime():%Y-%m-%d}", file=out)
    return done


def main(argv: list[str] | None = None) -> int:
    return run_example(__doc__, argv, lambda ap: ap.add_argument(
        "--municipality", default="", help="one municipality (default: all yours)"),
        lambda hub, args: work(hub, args.municipality))

if __name__ == "__main__":
    sys.exit(main())
