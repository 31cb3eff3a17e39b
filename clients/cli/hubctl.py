"""hubctl: walk a case through the hub from a terminal. Prints JSON.

    export HUBCTL_TOKEN=demo-backoffice          # from etc/clients.demo.toml
    hubctl case create --municipality 101 --cpr 010170-1234 --benefit BOLIGSTOETTE --channel self-service
    hubctl case add-info CASE_ID --source register --kind income.annual --value 250000
    hubctl decision submit CASE_ID --outcome granted --amount 125000:2026-04-01:2026-12-31 \\
        --reasoning "..." --legal-basis "..."
    HUBCTL_TOKEN=demo-caseworker-101 hubctl inbox
    HUBCTL_TOKEN=demo-caseworker-101 hubctl decision approve DECISION_ID
    hubctl case show CASE_ID
    hubctl case register-data CASE_ID --from 2025-10 --to 2026-03   # the income register

    export HUBCTL_TOKEN=demo-operator
    hubctl ops backlog              # per destination: pending, dead, oldest, paused
    hubctl ops list --status dead   # dead letters with their last error
    hubctl ops replay MESSAGE_ID    # or: hubctl ops replay --all [--destination economy]
    hubctl ops pause economy        # and: hubctl ops resume economy

    export HUBCTL_TOKEN=demo-backoffice
    hubctl payments run --period 2026-05      # orders due up to May, with a progress bar
    hubctl payments list --due-month 2026-05
    hubctl payments push --provider nets-udbetaling   # pain.001 files to its drop folder
    hubctl payments reissue END_TO_END_ID     # a rejected or returned payment
    hubctl claims create CASE_ID --amount 150000 --reason "..." [--origin recalculation] [--offset]
    hubctl claims offset CLAIM_ID [--off]     # allow (or stop) offsetting against payments
    hubctl claims write-off CLAIM_ID --reason "..."

    hubctl decision submit CASE_ID --outcome refused --reasoning "..." --legal-basis "..." \
        [--fact ITEM_ID] [--hearing-exception statutory --hearing-exception-note "..."]
    hubctl hearing start DECISION_ID [--note "..."]       # letter to the citizen, deadline from the catalogue
    hubctl hearing respond HEARING_ID --comments "..." --channel letter
    hubctl complaint file DECISION_ID --channel letter --grounds "..." [--received 2026-05-01T10:00:00Z]
    hubctl complaint statement COMPLAINT_ID --text "..."
    HUBCTL_TOKEN=demo-caseworker-101 hubctl complaint list --awaiting   # the authority's inbox
    HUBCTL_TOKEN=demo-caseworker-101 hubctl complaint reconsider COMPLAINT_ID --upheld
    HUBCTL_TOKEN=demo-caseworker-101 hubctl complaint reconsider COMPLAINT_ID --changed --decision NEW_DRAFT_ID
    HUBCTL_TOKEN=demo-caseworker-101 hubctl complaint late COMPLAINT_ID --accept|--dismiss --reason "..."
    hubctl complaint appeal COMPLAINT_ID --outcome remitted --reference 25-12345
    hubctl complaint show COMPLAINT_ID
    hubctl overdue [--kind reconsideration]                  # what is late now
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import uuid

import grpc
from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.type import date_pb2

from clients.sdk import connect, describe_error
from hub.v1 import benefits_pb2, cases_pb2, common_pb2, complaints_pb2, decisions_pb2, operations_pb2, payments_pb2


def _enum(wrapper, prefix: str, text: str) -> int:
    return wrapper.Value(f"{prefix}_{text.upper().replace('-', '_')}")


def _date(text: str) -> date_pb2.Date:
    d = dt.date.fromisoformat(text)
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def _amount(text: str) -> common_pb2.PeriodAmount:
    """OERE:START:END, e.g. 125000:2026-04-01:2026-12-31"""
    oere, start, end = text.split(":")
    return common_pb2.PeriodAmount(amount_oere=int(oere), period_start=_date(start), period_end=_date(end))


def _time(text: str | None):
    """An RFC 3339 time, or None (the hub's now)."""
    if not text:
        return None
    t = timestamp_pb2.Timestamp()
    t.FromJsonString(text)
    return t


def _point(text: str) -> decisions_pb2.DiscretionaryPoint:
    topic, _, assessment = text.partition("=")
    return decisions_pb2.DiscretionaryPoint(topic=topic, assessment=assessment)


def _value(text: str) -> struct_pb2.Value:
    try:
        return json_format.ParseDict(json.loads(text), struct_pb2.Value())
    except json.JSONDecodeError:
        return struct_pb2.Value(string_value=text)


def _print(message) -> None:
    print(json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2))


def run(args, hub) -> None:
    rid = args.request_id or str(uuid.uuid4())
    c, d, b = hub.cases, hub.decisions, hub.benefits
    match args.cmd:
        case "benefits":
            _print(b.ListBenefits(benefits_pb2.ListBenefitsRequest()))
        case "case-create":
            statement = struct_pb2.Struct()
            statement.update(dict(kv.split("=", 1) for kv in args.statement))
            _print(c.CreateCase(cases_pb2.CreateCaseRequest(
                request_id=rid, municipality_code=args.municipality, cpr=args.cpr, benefit_code=args.benefit,
                channel=_enum(common_pb2.Channel, "CHANNEL", args.channel), applicant_statement=statement,
                external_reference=args.ref)))
        case "case-show":
            _print(c.GetCase(cases_pb2.GetCaseRequest(case_id=args.case_id)))
        case "case-list":
            _print(c.ListCases(cases_pb2.ListCasesRequest(
                municipality_code=args.municipality, benefit_code=args.benefit, cpr=args.cpr,
                status=_enum(common_pb2.CaseStatus, "CASE_STATUS", args.status) if args.status else 0,
                page_size=args.page_size, page_token=args.page_token)))
        case "case-add-info":
            _print(c.AddInformation(cases_pb2.AddInformationRequest(
                request_id=rid, case_id=args.case_id,
                source=_enum(cases_pb2.InformationSource, "INFORMATION_SOURCE", args.source),
                source_reference=args.source_reference, kind=args.kind, value=_value(args.value),
                discretionary=args.discretionary)))
        case "case-withdraw":
            _print(c.WithdrawCase(cases_pb2.WithdrawCaseRequest(request_id=rid, case_id=args.case_id,
                                                                reason=args.reason)))
        case "decision-submit":
            _print(d.SubmitDraftDecision(decisions_pb2.SubmitDraftDecisionRequest(
                request_id=rid, case_id=args.case_id, outcome=_enum(decisions_pb2.Outcome, "OUTCOME", args.outcome),
                amounts=[_amount(a) for a in args.amount], reasoning=args.reasoning, legal_basis=args.legal_basis,
                discretionary_points=[_point(p) for p in args.point], decisive_fact_ids=args.fact,
                hearing_exception=_enum(decisions_pb2.HearingException, "HEARING_EXCEPTION", args.hearing_exception)
                if args.hearing_exception else 0, hearing_exception_note=args.hearing_exception_note)))
        case "decision-approve":
            req = decisions_pb2.ApproveDecisionRequest(request_id=rid, decision_id=args.decision_id, note=args.note)
            if args.amount or args.point:
                req.amendment.CopyFrom(decisions_pb2.Amendment(
                    amounts=[_amount(a) for a in args.amount], discretionary_points=[_point(p) for p in args.point],
                    replace_discretionary_points=bool(args.point)))
            _print(d.ApproveDecision(req))
        case "decision-return":
            _print(d.ReturnDraft(decisions_pb2.ReturnDraftRequest(request_id=rid, decision_id=args.decision_id,
                                                                  reason=args.reason)))
        case "case-register-data":
            _print(c.RequestRegisterData(cases_pb2.RequestRegisterDataRequest(
                request_id=rid, case_id=args.case_id, register=_enum(cases_pb2.Register, "REGISTER", args.register),
                from_month=args.from_month, to_month=args.to_month)))
        case "ops-backlog":
            _print(hub.operations.GetOutboxSummary(operations_pb2.GetOutboxSummaryRequest()))
        case "ops-list":
            _print(hub.operations.ListOutboxMessages(operations_pb2.ListOutboxMessagesRequest(
                status=_enum(operations_pb2.OutboxStatus, "OUTBOX_STATUS", args.status) if args.status else 0,
                destination=args.destination, page_size=args.page_size, page_token=args.page_token)))
        case "ops-replay":
            if bool(args.message_id) == args.all:
                raise ValueError("give a MESSAGE_ID or --all")
            _print(hub.operations.ReplayDeadLetters(operations_pb2.ReplayDeadLettersRequest(
                request_id=rid, message_id=args.message_id or "", all=args.all, destination=args.destination)))
        case "ops-pause":
            _print(hub.operations.PauseDestination(operations_pb2.PauseDestinationRequest(
                request_id=rid, destination=args.destination)))
        case "ops-resume":
            _print(hub.operations.ResumeDestination(operations_pb2.ResumeDestinationRequest(
                request_id=rid, destination=args.destination)))
        case "ops-retry-now":
            _print(hub.operations.RetryNow(operations_pb2.RetryNowRequest(request_id=rid,
                                                                          destination=args.destination)))
        case "payments-run":
            run_payments(hub, rid, args.period, quiet=args.quiet)
        case "payments-list":
            _print(hub.payments.ListPayments(payments_pb2.ListPaymentsRequest(
                municipality_code=args.municipality, due_month=args.due_month, case_id=args.case_id,
                status=_enum(payments_pb2.PaymentStatus, "PAYMENT_STATUS", args.status) if args.status else 0,
                page_size=args.page_size, page_token=args.page_token)))
        case "payments-push":
            _print(hub.payments.PushPaymentBatch(payments_pb2.PushPaymentBatchRequest(request_id=rid,
                                                                                   provider_id=args.provider)))
        case "payments-reissue":
            _print(hub.payments.ReissuePayment(payments_pb2.ReissuePaymentRequest(request_id=rid,
                                                                               end_to_end_id=args.end_to_end_id)))
        case "claims-create":
            _print(hub.payments.CreateClaim(payments_pb2.CreateClaimRequest(
                request_id=rid, case_id=args.case_id, amount_oere=args.amount, reason=args.reason,
                origin=_enum(payments_pb2.ClaimOrigin, "CLAIM_ORIGIN", args.origin), offset_allowed=args.offset)))
        case "claims-offset":
            _print(hub.payments.SetClaimOffset(payments_pb2.SetClaimOffsetRequest(
                request_id=rid, claim_id=args.claim_id, offset_allowed=not args.off)))
        case "claims-write-off":
            _print(hub.payments.WriteOffClaim(payments_pb2.WriteOffClaimRequest(
                request_id=rid, claim_id=args.claim_id, reason=args.reason)))
        case "hearing-start":
            _print(d.StartHearing(decisions_pb2.StartHearingRequest(request_id=rid, decision_id=args.decision_id,
                                                                    note=args.note)))
        case "hearing-respond":
            _print(d.RecordHearingResponse(decisions_pb2.RecordHearingResponseRequest(
                request_id=rid, hearing_id=args.hearing_id, comments=args.comments,
                channel=_enum(common_pb2.Channel, "CHANNEL", args.channel), received_time=_time(args.received))))
        case "complaint-file":
            _print(hub.complaints.FileComplaint(complaints_pb2.FileComplaintRequest(
                request_id=rid, decision_id=args.decision_id, channel=_enum(common_pb2.Channel, "CHANNEL", args.channel),
                grounds=args.grounds, received_time=_time(args.received), external_reference=args.ref)))
        case "complaint-statement":
            _print(hub.complaints.SubmitStatement(complaints_pb2.SubmitStatementRequest(
                request_id=rid, complaint_id=args.complaint_id, text=args.text)))
        case "complaint-late":
            _print(hub.complaints.DecideLateComplaint(complaints_pb2.DecideLateComplaintRequest(
                request_id=rid, complaint_id=args.complaint_id, reason=args.reason,
                decision=complaints_pb2.LATE_COMPLAINT_DECISION_ACCEPTED if args.accept
                else complaints_pb2.LATE_COMPLAINT_DECISION_DISMISSED)))
        case "complaint-reconsider":
            _print(hub.complaints.Reconsider(complaints_pb2.ReconsiderRequest(
                request_id=rid, complaint_id=args.complaint_id, decision_id=args.decision, note=args.note,
                outcome=complaints_pb2.RECONSIDERATION_OUTCOME_CHANGED if args.changed
                else complaints_pb2.RECONSIDERATION_OUTCOME_UPHELD)))
        case "complaint-appeal":
            req = complaints_pb2.RecordAppealOutcomeRequest(
                request_id=rid, complaint_id=args.complaint_id, appeal_reference=args.reference, note=args.note,
                outcome=_enum(complaints_pb2.AppealOutcome, "APPEAL_OUTCOME", args.outcome))
            if args.decided_on:
                req.decided_on.CopyFrom(_date(args.decided_on))
            if args.outcome == "changed":
                req.new_decision.CopyFrom(complaints_pb2.AppealDecisionContent(
                    outcome=_enum(decisions_pb2.Outcome, "OUTCOME", args.new_outcome),
                    amounts=[_amount(a) for a in args.amount], reasoning=args.reasoning,
                    legal_basis=args.legal_basis))
            _print(hub.complaints.RecordAppealOutcome(req))
        case "complaint-show":
            _print(hub.complaints.GetComplaint(complaints_pb2.GetComplaintRequest(complaint_id=args.complaint_id)))
        case "complaint-list":
            _print(hub.complaints.ListComplaints(complaints_pb2.ListComplaintsRequest(
                municipality_code=args.municipality, awaiting_reconsideration=args.awaiting,
                status=_enum(complaints_pb2.ComplaintStatus, "COMPLAINT_STATUS", args.status) if args.status else 0,
                page_size=args.page_size, page_token=args.page_token)))
        case "overdue":
            _print(c.ListOverdue(cases_pb2.ListOverdueRequest(
                municipality_code=args.municipality,
                kind=_enum(cases_pb2.OverdueKind, "OVERDUE_KIND", args.kind) if args.kind else 0,
                page_size=args.page_size, page_token=args.page_token)))
        case "inbox":
            _print(d.ListPendingApprovals(decisions_pb2.ListPendingApprovalsRequest(
                page_size=args.page_size, page_token=args.page_token)))


def run_payments(hub, request_id: str, period: str, *, quiet: bool = False) -> None:
    """The payment run, with a progress bar on stderr and its summary as JSON. Run it
    again with the same --request-id to resume a run that was cut off."""
    from tqdm import tqdm

    last = None
    with tqdm(total=None, unit="period", desc=f"payments {period}", disable=quiet, file=sys.stderr) as bar:
        for step in hub.payments.RunPayments(payments_pb2.RunPaymentsRequest(request_id=request_id, period=period)):
            bar.total = step.total
            bar.update(step.examined - bar.n)
            bar.set_postfix(orders=step.orders_created, kr=step.amount_oere // 100)
            last = step
    _print(last)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hubctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--address", default=os.environ.get("HUBCTL_ADDRESS", "127.0.0.1:50051"))
    p.add_argument("--token", default=os.environ.get("HUBCTL_TOKEN", ""), help="bearer token (or $HUBCTL_TOKEN)")
    p.add_argument("--request-id", default="", help="idempotency key (default: a new UUID)")
    p.add_argument("--ca", default=os.environ.get("HUBCTL_CA"), help="mTLS: the hub's CA (PEM)")
    p.add_argument("--cert", default=os.environ.get("HUBCTL_CERT"), help="mTLS: this client's certificate (PEM)")
    p.add_argument("--key", default=os.environ.get("HUBCTL_KEY"), help="mTLS: this client's key (PEM)")
    top = p.add_subparsers(dest="group", required=True)
    s = top.add_parser("dev-certs", help="a local CA, a server and client certificates, to try mTLS")
    s.set_defaults(cmd="dev-certs")
    s.add_argument("--out", default="var/certs")
    s.add_argument("--client", action="append", default=[], metavar="NAME",
                   help="a client certificate with this common name (map it with certificate = NAME)")
    top.add_parser("benefits", help="list the benefit catalogue").set_defaults(cmd="benefits")
    inbox = top.add_parser("inbox", help="the authority's drafts waiting for approval")
    inbox.set_defaults(cmd="inbox")
    overdue = top.add_parser("overdue", help="what is late now: processing deadlines, hearings, reconsiderations")
    overdue.set_defaults(cmd="overdue")
    overdue.add_argument("--municipality", default="")
    overdue.add_argument("--kind", default="", choices=["", "processing-deadline", "hearing-deadline",
                                                        "reconsideration"])
    for sp in (inbox, overdue):
        sp.add_argument("--page-size", type=int, default=0)
        sp.add_argument("--page-token", default="")

    hearing = top.add_parser("hearing", help="hear the citizen before an adverse decision").add_subparsers(
        dest="sub", required=True)
    s = hearing.add_parser("start", help="send the hearing letter for a draft")
    s.set_defaults(cmd="hearing-start")
    s.add_argument("decision_id")
    s.add_argument("--note", default="", help="words to the citizen in the letter")
    s = hearing.add_parser("respond", help="record the citizen's comments")
    s.set_defaults(cmd="hearing-respond")
    s.add_argument("hearing_id")
    s.add_argument("--comments", required=True)
    s.add_argument("--channel", required=True, choices=["self-service", "letter", "email", "phone", "in-person"])
    s.add_argument("--received", default="", metavar="RFC3339", help="when received (default: now)")

    complaint = top.add_parser("complaint", help="complaints, reconsideration and appeals").add_subparsers(
        dest="sub", required=True)
    s = complaint.add_parser("file", help="a complaint about a sent decision")
    s.set_defaults(cmd="complaint-file")
    s.add_argument("decision_id")
    s.add_argument("--channel", required=True, choices=["self-service", "letter", "email", "phone", "in-person"])
    s.add_argument("--grounds", required=True)
    s.add_argument("--received", default="", metavar="RFC3339", help="when received (default: now)")
    s.add_argument("--ref", default="", help="external reference")
    s = complaint.add_parser("statement", help="the back office's statement")
    s.set_defaults(cmd="complaint-statement")
    s.add_argument("complaint_id")
    s.add_argument("--text", required=True)
    s = complaint.add_parser("late", help="the authority accepts or dismisses a late complaint")
    s.set_defaults(cmd="complaint-late")
    s.add_argument("complaint_id")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--accept", action="store_true")
    g.add_argument("--dismiss", action="store_true")
    s.add_argument("--reason", required=True)
    s = complaint.add_parser("reconsider", help="the authority changes (with the new decision) or upholds")
    s.set_defaults(cmd="complaint-reconsider")
    s.add_argument("complaint_id")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--changed", action="store_true")
    g.add_argument("--upheld", action="store_true")
    s.add_argument("--decision", default="", help="with --changed: the new draft (or decision approved since)")
    s.add_argument("--note", default="")
    s = complaint.add_parser("appeal", help="record the appeals authority's outcome")
    s.set_defaults(cmd="complaint-appeal")
    s.add_argument("complaint_id")
    s.add_argument("--outcome", required=True, choices=["upheld", "changed", "remitted", "dismissed"])
    s.add_argument("--reference", required=True, help="the appeals authority's journal number")
    s.add_argument("--decided-on", default="", metavar="YYYY-MM-DD")
    s.add_argument("--note", default="")
    s.add_argument("--new-outcome", default="granted", choices=["granted", "partly-granted", "refused"],
                   help="with --outcome changed")
    s.add_argument("--amount", action="append", default=[], metavar="OERE:START:END", help="with --outcome changed")
    s.add_argument("--reasoning", default="")
    s.add_argument("--legal-basis", default="")
    s = complaint.add_parser("show")
    s.set_defaults(cmd="complaint-show")
    s.add_argument("complaint_id")
    s = complaint.add_parser("list", help="complaints in your scope (--awaiting: the authority's inbox)")
    s.set_defaults(cmd="complaint-list")
    s.add_argument("--municipality", default="")
    s.add_argument("--status", default="", choices=["", "received", "dismissed-as-late",
                                                    "resolved-by-reconsideration", "forwarded", "appeal-decided"])
    s.add_argument("--awaiting", action="store_true")
    s.add_argument("--page-size", type=int, default=0)
    s.add_argument("--page-token", default="")

    case = top.add_parser("case").add_subparsers(dest="sub", required=True)
    s = case.add_parser("create")
    s.set_defaults(cmd="case-create")
    s.add_argument("--municipality", required=True)
    s.add_argument("--cpr", required=True)
    s.add_argument("--benefit", required=True)
    s.add_argument("--channel", required=True, choices=["self-service", "letter", "email", "phone", "in-person"])
    s.add_argument("--statement", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--ref", default="", help="external reference")
    s = case.add_parser("show")
    s.set_defaults(cmd="case-show")
    s.add_argument("case_id")
    s = case.add_parser("list")
    s.set_defaults(cmd="case-list")
    for f in ("municipality", "benefit", "cpr", "status", "page-token"):
        s.add_argument(f"--{f}", default="")
    s.add_argument("--page-size", type=int, default=0)
    s = case.add_parser("add-info")
    s.set_defaults(cmd="case-add-info")
    s.add_argument("case_id")
    s.add_argument("--source", required=True, choices=["citizen", "register", "authority", "third-party", "back-office"])
    s.add_argument("--source-reference", default="")
    s.add_argument("--kind", required=True)
    s.add_argument("--value", required=True, help="JSON (or plain text)")
    s.add_argument("--discretionary", action="store_true")
    s = case.add_parser("withdraw")
    s.set_defaults(cmd="case-withdraw")
    s.add_argument("case_id")
    s.add_argument("--reason", default="")

    s = case.add_parser("register-data", help="ask a register for the citizen's data (arrives as information)")
    s.set_defaults(cmd="case-register-data")
    s.add_argument("case_id")
    s.add_argument("--register", default="income", choices=["income"])
    s.add_argument("--from", dest="from_month", required=True, metavar="YYYY-MM")
    s.add_argument("--to", dest="to_month", required=True, metavar="YYYY-MM")

    ops = top.add_parser("ops", help="operators: outbox backlog, dead letters, destinations").add_subparsers(
        dest="sub", required=True)
    ops.add_parser("backlog", help="per destination: pending, dead, oldest pending, paused").set_defaults(
        cmd="ops-backlog")
    s = ops.add_parser("list", help="outbox messages (backlog or dead letters)")
    s.set_defaults(cmd="ops-list")
    s.add_argument("--status", default="", choices=["", "pending", "delivered", "dead"])
    s.add_argument("--destination", default="")
    s.add_argument("--page-size", type=int, default=0)
    s.add_argument("--page-token", default="")
    s = ops.add_parser("replay", help="dead letters back to the queue")
    s.set_defaults(cmd="ops-replay")
    s.add_argument("message_id", nargs="?")
    s.add_argument("--all", action="store_true")
    s.add_argument("--destination", default="")
    for name in ("pause", "resume"):
        s = ops.add_parser(name, help=f"{name} delivery to a destination")
        s.set_defaults(cmd=f"ops-{name}")
        s.add_argument("destination", choices=["economy", "digital_post", "archive", "income_register",
                                               "payment_provider", "appeals"])
    s = ops.add_parser("retry-now", help="a destination's backing-off messages due now (it answers again)")
    s.set_defaults(cmd="ops-retry-now")
    s.add_argument("destination", choices=["economy", "digital_post", "archive", "income_register",
                                           "payment_provider", "appeals", "amqp"])

    payments = top.add_parser("payments", help="payment runs, orders, provider files").add_subparsers(
        dest="sub", required=True)
    s = payments.add_parser("run", help="create the orders due up to a month, for every grant in force")
    s.set_defaults(cmd="payments-run")
    s.add_argument("--period", required=True, metavar="YYYY-MM")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s = payments.add_parser("list", help="payment orders in your municipalities")
    s.set_defaults(cmd="payments-list")
    s.add_argument("--municipality", default="")
    s.add_argument("--due-month", default="", metavar="YYYY-MM")
    s.add_argument("--case-id", default="")
    s.add_argument("--status", default="", choices=["", "pending", "sent", "paid", "rejected", "returned", "cancelled"])
    s.add_argument("--page-size", type=int, default=0)
    s.add_argument("--page-token", default="")
    s = payments.add_parser("push", help="hand a provider's pending orders over as pain.001 files")
    s.set_defaults(cmd="payments-push")
    s.add_argument("--provider", required=True, help="the provider's client id")
    s = payments.add_parser("reissue", help="pay a rejected or returned payment again")
    s.set_defaults(cmd="payments-reissue")
    s.add_argument("end_to_end_id")
    claims = top.add_parser("claims", help="collection: claims by hand, offsetting, write-off").add_subparsers(
        dest="sub", required=True)
    s = claims.add_parser("create")
    s.set_defaults(cmd="claims-create")
    s.add_argument("case_id")
    s.add_argument("--amount", type=int, required=True, metavar="OERE")
    s.add_argument("--reason", required=True)
    s.add_argument("--origin", default="manual", choices=["manual", "recalculation"])
    s.add_argument("--offset", action="store_true", help="may be offset against the next payments")
    s = claims.add_parser("offset", help="allow offsetting against the next payments of the benefit")
    s.set_defaults(cmd="claims-offset")
    s.add_argument("claim_id")
    s.add_argument("--off", action="store_true", help="stop offsetting")
    s = claims.add_parser("write-off")
    s.set_defaults(cmd="claims-write-off")
    s.add_argument("claim_id")
    s.add_argument("--reason", required=True)

    dec = top.add_parser("decision").add_subparsers(dest="sub", required=True)
    s = dec.add_parser("submit")
    s.set_defaults(cmd="decision-submit")
    s.add_argument("case_id")
    s.add_argument("--outcome", required=True, choices=["granted", "partly-granted", "refused"])
    s.add_argument("--amount", action="append", default=[], metavar="OERE:START:END")
    s.add_argument("--reasoning", default="")
    s.add_argument("--legal-basis", default="")
    s.add_argument("--point", action="append", default=[], metavar="TOPIC=ASSESSMENT")
    s.add_argument("--fact", action="append", default=[], metavar="ITEM_ID", help="a decisive fact (information item)")
    s.add_argument("--hearing-exception", default="", choices=["", "facts-known-to-citizen", "not-essential",
                                                               "cannot-wait", "statutory", "other"])
    s.add_argument("--hearing-exception-note", default="")
    s = dec.add_parser("approve")
    s.set_defaults(cmd="decision-approve")
    s.add_argument("decision_id")
    s.add_argument("--note", default="")
    s.add_argument("--amount", action="append", default=[], metavar="OERE:START:END", help="amend the amounts")
    s.add_argument("--point", action="append", default=[], metavar="TOPIC=ASSESSMENT",
                   help="replace the discretionary points")
    s = dec.add_parser("return")
    s.set_defaults(cmd="decision-return")
    s.add_argument("decision_id")
    s.add_argument("--reason", required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.cmd == "dev-certs":
        from clients.cli import devcerts
        paths = devcerts.make(args.out, args.client)
        print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))
        return 0
    if not args.token and not args.cert:
        print("hubctl: give --token (or HUBCTL_TOKEN; see etc/clients.demo.toml) or --ca/--cert/--key",
              file=sys.stderr)
        return 2
    hub = connect(args.address, args.token, ca=args.ca, cert=args.cert, key=args.key)
    try:
        run(args, hub)
    except grpc.RpcError as err:
        print(describe_error(err), file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"hubctl: {err}", file=sys.stderr)
        return 2
    finally:
        hub.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
