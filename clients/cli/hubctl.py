"""hubctl: walk a case through the hub from a terminal. Prints JSON (with --json
always; without it, an empty list says so in words: "0 cases"). An enum can be given
as hubctl prints it (CASE_STATUS_DECIDED) or short (decided). Exit 0 done, 1 the hub
refused (its status, message and field violations on stderr), 2 a usage mistake.

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
    hubctl claims offset CLAIM_ID [--off]     # allow (or stop) offsetting against payments
    hubctl claims write-off CLAIM_ID --reason "..."

    hubctl decision submit CASE_ID --outcome refused --reasoning "..." --legal-basis "..." \
        [--fact ITEM_ID] [--hearing-exception statutory --hearing-exception-note "..."]
    hubctl decision submit CASE_ID --repayment 150000:2026-01-01:2026-03-31 [--offset] \
        --reasoning "..." --legal-basis "..."   # the citizen must pay back: a claim once approved
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

    hubctl settlement run --year 2026 --benefit BOLIGSTOETTE  # against the final income, with a progress bar
    hubctl settlement show CASE_ID --year 2026                # the months, the difference, the decision
    hubctl settlement list --year 2026 --status needs-person  # what a person must settle, and why
    hubctl control run --period 2026-05 [--municipality 101] [--rule income-deviation]   # IT control
    hubctl control findings --status open [--rule rent-change] [--follow-up back-office]
    HUBCTL_TOKEN=demo-caseworker-101 hubctl control outcome FINDING_ID --outcome no-change --note "..."

    HUBCTL_TOKEN=demo-manager-101 hubctl stats --municipality 101 --from 2026-01 --to 2026-12 [--benefit X] [--table]
    hubctl stats --from 2026-01 --to 2026-06 --as-of 2026-06-30   # the national figures as they stood that day
    HUBCTL_TOKEN=demo-provider hubctl provider fetch           # the payment provider: the next batch of orders
    hubctl provider ack BATCH_ID ; hubctl provider settle E2E_ID --amount 125000 [--result returned]
    hubctl provider collect CLAIM_ID --amount 30000
    HUBCTL_TOKEN=demo-economy-101 hubctl events tail --subscription ledger --create --type decision.approved
    HUBCTL_TOKEN=demo-operator hubctl audit list --case-id CASE_ID
    hubctl billing run --quarter 2026-Q1                    # bill a quarter that has ended, once
    HUBCTL_TOKEN=demo-manager-101 hubctl billing show --quarter 2026-Q1 --municipality 101
    # The citizen portal, for the logged-in citizen (a signed assertion per call, made
    # with the portal's key; etc/dev-portal-key.pem is the DEMO portal's, NOT for production)
    hubctl citizen assert --cpr 010170-1234 --key etc/dev-portal-key.pem   # print one (a JWT, 5 minutes)
    export HUBCTL_TOKEN=demo-citizen-portal HUBCTL_CITIZEN=010170-1234 HUBCTL_PORTAL_KEY=etc/dev-portal-key.pem
    hubctl citizen apply --municipality 101 --benefit FOLKEPENSION   # by self-service, for that citizen
    hubctl citizen cases                     # the citizen's cases: phase, what happens next and by when
    hubctl citizen show CASE_ID              # letters, decisions, hearings, complaints, payments, claims
    hubctl citizen answer HEARING_ID --comments "..."
    hubctl citizen complain DECISION_ID --grounds "..."
    hubctl citizen access [--others-only]    # who looked at the citizen's cases
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import sys
import uuid

import grpc
from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.type import date_pb2

from clients.sdk import CitizenAssertion, connect, describe_error, follow
from hub.v1 import (audit_pb2, benefits_pb2, calculation_pb2, cases_pb2, citizen_pb2, common_pb2, complaints_pb2,
                    control_pb2, decisions_pb2, events_pb2, operations_pb2, payments_pb2, rules_pb2, settlement_pb2,
                    statistics_pb2)
from hub.v1 import billing_pb2


class UsageError(Exception):
    """A mistake on the command line: one line on stderr, exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line naming the command and where its help is,
    not the usage block (every subcommand's parser is one of these too)."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


class Enum:
    """An argparse type for a proto enum: the short form (decided, partly-granted, in any
    case, - or _) or the name hubctl prints (CASE_STATUS_DECIDED), so that what one
    command prints can be passed to the next. `only`: the values the option takes, if
    not all (names without the prefix, e.g. ["MANUAL", "RECALCULATION"])."""

    def __init__(self, enum, only: list[str] | None = None):
        unspecified = next(n for n in enum.keys() if n.endswith("_UNSPECIFIED"))
        self.prefix = unspecified[:-len("UNSPECIFIED")]  # e.g. CASE_STATUS_
        self.values = {n[len(self.prefix):].lower().replace("_", "-"): enum.Value(n) for n in enum.keys()
                       if n != unspecified and (only is None or n[len(self.prefix):] in only)}

    def __call__(self, text: str) -> int:
        key = text.strip().lower().replace("_", "-")
        full = self.prefix.lower().replace("_", "-")
        value = self.values.get(key[len(full):] if key.startswith(full) else key)
        if value is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(self.values)} "
                                             f"(or as printed: {self.prefix}{next(iter(self.values)).upper()}, ...)")
        return value

    def help(self, text: str) -> str:
        return f"{text}: {', '.join(self.values)} (or as hubctl prints them, {self.prefix}...)"


def enum_arg(p: argparse.ArgumentParser, flag: str, enum, help: str, only: list[str] | None = None, **kw):
    """An option that takes one value of a proto enum (0, unspecified, when not given)."""
    t = Enum(enum, only)
    p.add_argument(flag, type=t, metavar=kw.pop("metavar", flag.lstrip("-").upper().replace("-", "_")),
                   default=kw.pop("default", 0), help=t.help(help), **kw)


def _bad(what: str, text: str, example: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{text!r} is not {what}, e.g. {example}")


def _date(text: str) -> date_pb2.Date:
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        raise _bad("a date (YYYY-MM-DD)", text, "2026-04-01") from None
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def _oere(text: str) -> int:
    if not re.fullmatch(r"-?\d+", text.strip()):
        raise _bad("a whole number of øre", text, "150000 for 1,500.00 kr")
    return int(text)


def _amount(text: str) -> common_pb2.PeriodAmount:
    """OERE:START:END, e.g. 125000:2026-04-01:2026-12-31"""
    parts = text.split(":")
    if len(parts) != 3:
        raise _bad("OERE:START:END", text, "125000:2026-04-01:2026-12-31 (øre, first and last day)")
    oere, start, end = parts
    return common_pb2.PeriodAmount(amount_oere=_oere(oere), period_start=_date(start), period_end=_date(end))


def _month(text: str) -> str:
    if text and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise _bad("a month (YYYY-MM)", text, "2026-05")
    return text


def _quarter(text: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-Q[1-4]", text):
        raise _bad("a quarter (YYYY-Qn)", text, "2026-Q1")
    return text


def _time(text: str) -> timestamp_pb2.Timestamp:
    """An RFC 3339 time (None, when not given: the hub's now)."""
    t = timestamp_pb2.Timestamp()
    try:
        t.FromJsonString(text)
    except ValueError:
        raise _bad("an RFC 3339 time", text, "2026-05-01T10:00:00Z") from None
    return t


def _pair(form: str, example: str):
    """A type for KEY=VALUE arguments (`form` names them in a mistake's message)."""
    def pair(text: str) -> tuple[str, str]:
        key, eq, value = text.partition("=")
        if not eq or not key:
            raise _bad(form, text, example)
        return key, value
    return pair


def _point(text: str) -> decisions_pb2.DiscretionaryPoint:
    topic, assessment = _pair("TOPIC=ASSESSMENT", "rent='the rent is reasonable for the area'")(text)
    return decisions_pb2.DiscretionaryPoint(topic=topic, assessment=assessment)


def _json_or_text(text: str):
    """A statement's value: a number, true/false or JSON as such, anything else as text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _value(text: str) -> struct_pb2.Value:
    try:
        return json_format.ParseDict(json.loads(text), struct_pb2.Value())
    except json.JSONDecodeError:
        return struct_pb2.Value(string_value=text)


# What an empty list answer says, by response type; otherwise its list field's name.
_NOUNS = {"ListPendingApprovalsResponse": "drafts waiting for approval", "ListOverdueResponse": "overdue items",
          "ListControlFindingsResponse": "control findings",
          "ListPaymentsResponse": "payment orders", "GetOutboxSummaryResponse": "destinations with messages",
          "ListAuditEntriesResponse": "audit entries"}
_ALWAYS_JSON = False  # --json


def _empty_list(message) -> str | None:
    """'0 cases' if `message` is a list answer (one repeated field, and perhaps a
    next_page_token) with nothing in it; else None."""
    fields = [f for f in message.DESCRIPTOR.fields if f.name != "next_page_token"]
    if len(fields) != 1 or not fields[0].is_repeated or getattr(message, "next_page_token", ""):
        return None
    if len(getattr(message, fields[0].name)):
        return None
    return f"0 {_NOUNS.get(message.DESCRIPTOR.name, fields[0].name.replace('_', ' '))}"


def _print(message) -> None:
    """JSON, with Danish letters as themselves. An empty list answer says so in words
    (unless --json); an answer whose fields all have their defaults prints them
    ({"replayed": "0"}, not {})."""
    words = None if _ALWAYS_JSON else _empty_list(message)
    if words is not None:
        print(words)
        return
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    if not data:
        data = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)
    print(json.dumps(_whole(data), indent=2, ensure_ascii=False))


def _whole(value):
    """Numbers in information values (google.protobuf.Value) travel as doubles: a whole
    one prints as a whole number (register money in øre: 927555, not 927555.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def publish_request(request_id: str, path: str) -> rules_pb2.PublishRuleSetRequest:
    """A PublishRuleSetRequest from a rule set's JSON file (the seed files' form)."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        y, m, day = map(int, str(d["effective_from"]).split("-"))
        req = rules_pb2.PublishRuleSetRequest(
            request_id=request_id, benefit_code=d["benefit_code"], effective_from=date_pb2.Date(year=y, month=m, day=day),
            legal_basis=d.get("legal_basis", ""), source=d.get("source", ""), note=d.get("note", ""))
        for name, p in d["parameters"].items():
            item = req.parameters.add(name=name, unit=calculation_pb2.RuleUnit.Value(f"RULE_UNIT_{p['unit']}"),
                                      section=p.get("section", ""), source=p.get("source", ""), note=p.get("note", ""))
            if p.get("value") is not None:
                item.value = p["value"]
    except OSError as err:
        raise UsageError(f"hubctl rules publish: cannot read {path}: {err.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UsageError(f"hubctl rules publish: {path} is not a rule set in the seed form ({err})") from None
    return req


def run(args, hub) -> None:
    rid = args.request_id or str(uuid.uuid4())
    if args.cmd.startswith("citizen-"):
        return run_citizen(args, hub, rid)
    c, d, b = hub.cases, hub.decisions, hub.benefits
    match args.cmd:
        case "benefits":
            _print(b.ListBenefits(benefits_pb2.ListBenefitsRequest()))
        case "case-create":
            statement = struct_pb2.Struct()
            statement.update({k: _json_or_text(v) for k, v in args.statement})
            _print(c.CreateCase(cases_pb2.CreateCaseRequest(
                request_id=rid, municipality_code=args.municipality, cpr=args.cpr, benefit_code=args.benefit,
                channel=args.channel, applicant_statement=statement, external_reference=args.ref)))
        case "case-show":
            _print(c.GetCase(cases_pb2.GetCaseRequest(case_id=args.case_id)))
        case "case-list":
            _print(c.ListCases(cases_pb2.ListCasesRequest(
                municipality_code=args.municipality, benefit_code=args.benefit, cpr=args.cpr, status=args.status,
                automation=args.automation, fallout_reason=args.fallout, page_size=args.page_size,
                page_token=args.page_token)))
        case "case-add-info":
            _print(c.AddInformation(cases_pb2.AddInformationRequest(
                request_id=rid, case_id=args.case_id, source=args.source,
                source_reference=args.source_reference, kind=args.kind, value=_value(args.value),
                discretionary=args.discretionary)))
        case "case-withdraw":
            _print(c.WithdrawCase(cases_pb2.WithdrawCaseRequest(request_id=rid, case_id=args.case_id,
                                                                reason=args.reason)))
        case "decision-submit":
            _print(d.SubmitDraftDecision(decisions_pb2.SubmitDraftDecisionRequest(
                request_id=rid, case_id=args.case_id, outcome=args.outcome,
                amounts=args.amount, reasoning=args.reasoning, legal_basis=args.legal_basis,
                discretionary_points=args.point, decisive_fact_ids=args.fact,
                hearing_exception=args.hearing_exception, hearing_exception_note=args.hearing_exception_note,
                use_calculation=args.use_calculation, departure_reason=args.departure_reason,
                repayment=decisions_pb2.Repayment(amount_oere=args.repayment.amount_oere,
                                                  period_start=args.repayment.period_start,
                                                  period_end=args.repayment.period_end, offset_allowed=args.offset)
                if args.repayment else None,
                offset_repayment=args.offset and not args.repayment,
                effective_from=args.effective_from, effective_to=args.effective_to)))
        case "decision-approve":
            req = decisions_pb2.ApproveDecisionRequest(request_id=rid, decision_id=args.decision_id, note=args.note)
            if args.amount or args.point:
                req.amendment.CopyFrom(decisions_pb2.Amendment(amounts=args.amount, discretionary_points=args.point,
                                                               replace_discretionary_points=bool(args.point)))
            _print(d.ApproveDecision(req))
        case "decision-return":
            _print(d.ReturnDraft(decisions_pb2.ReturnDraftRequest(request_id=rid, decision_id=args.decision_id,
                                                                  reason=args.reason)))
        case "case-register-data":
            _print(c.RequestRegisterData(cases_pb2.RequestRegisterDataRequest(
                request_id=rid, case_id=args.case_id, register=args.register,
                from_month=args.from_month, to_month=args.to_month)))
        case "ops-backlog":
            _print(hub.operations.GetOutboxSummary(operations_pb2.GetOutboxSummaryRequest()))
        case "ops-list":
            _print(hub.operations.ListOutboxMessages(operations_pb2.ListOutboxMessagesRequest(
                status=args.status, destination=args.destination, page_size=args.page_size,
                page_token=args.page_token)))
        case "ops-replay":
            if bool(args.message_id) == args.all:
                raise UsageError("hubctl ops replay: give a MESSAGE_ID or --all")
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
        case "rules-list":
            _print(hub.rules.ListRuleSets(rules_pb2.ListRuleSetsRequest(benefit_code=args.benefit)))
        case "rules-show":
            req = rules_pb2.GetRuleSetRequest(benefit_code=args.benefit, version=args.version)
            if args.on:
                req.in_force_on.CopyFrom(args.on)
            _print(hub.rules.GetRuleSet(req))
        case "rules-publish":
            _print(hub.rules.PublishRuleSet(publish_request(rid, args.file)))
        case "rules-calculate":
            req = rules_pb2.CalculateDraftRequest(case_id=args.case_id)
            for field, value in (("period_start", args.start), ("period_end", args.end)):
                if value:
                    getattr(req, field).CopyFrom(value)
            _print(hub.rules.CalculateDraft(req))
        case "rules-report":
            req = rules_pb2.GetAutomationReportRequest(municipality_code=args.municipality, benefit_code=args.benefit)
            for field, value in (("received_from", args.start), ("received_to", args.end)):
                if value:
                    getattr(req, field).CopyFrom(value)
            _print(hub.rules.GetAutomationReport(req))
        case "payments-run":
            run_payments(hub, rid, args.period, quiet=args.quiet)
        case "settlement-run":
            run_settlement(hub, rid, args.year, args.benefit, args.municipality, quiet=args.quiet)
        case "settlement-show":
            _print(hub.settlement.GetSettlement(settlement_pb2.GetSettlementRequest(case_id=args.case_id,
                                                                                    income_year=args.year)))
        case "settlement-list":
            _print(hub.settlement.ListSettlements(settlement_pb2.ListSettlementsRequest(
                income_year=args.year, benefit_code=args.benefit, municipality_code=args.municipality,
                status=args.status, result=args.result, page_size=args.page_size, page_token=args.page_token)))
        case "payments-list":
            _print(hub.payments.ListPayments(payments_pb2.ListPaymentsRequest(
                municipality_code=args.municipality, due_month=args.due_month, case_id=args.case_id,
                status=args.status, page_size=args.page_size, page_token=args.page_token)))
        case "payments-push":
            _print(hub.payments.PushPaymentBatch(payments_pb2.PushPaymentBatchRequest(request_id=rid,
                                                                                   provider_id=args.provider)))
        case "payments-reissue":
            _print(hub.payments.ReissuePayment(payments_pb2.ReissuePaymentRequest(request_id=rid,
                                                                               end_to_end_id=args.end_to_end_id)))
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
                channel=args.channel, received_time=args.received)))
        case "complaint-file":
            _print(hub.complaints.FileComplaint(complaints_pb2.FileComplaintRequest(
                request_id=rid, decision_id=args.decision_id, channel=args.channel,
                grounds=args.grounds, received_time=args.received, external_reference=args.ref)))
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
                outcome=args.outcome)
            if args.decided_on:
                req.decided_on.CopyFrom(args.decided_on)
            if args.outcome == complaints_pb2.APPEAL_OUTCOME_CHANGED:
                req.new_decision.CopyFrom(complaints_pb2.AppealDecisionContent(
                    outcome=args.new_outcome, amounts=args.amount, reasoning=args.reasoning,
                    legal_basis=args.legal_basis))
            _print(hub.complaints.RecordAppealOutcome(req))
        case "complaint-show":
            _print(hub.complaints.GetComplaint(complaints_pb2.GetComplaintRequest(complaint_id=args.complaint_id)))
        case "complaint-list":
            _print(hub.complaints.ListComplaints(complaints_pb2.ListComplaintsRequest(
                municipality_code=args.municipality, awaiting_reconsideration=args.awaiting,
                status=args.status, page_size=args.page_size, page_token=args.page_token)))
        case "overdue":
            _print(c.ListOverdue(cases_pb2.ListOverdueRequest(
                municipality_code=args.municipality, kind=args.kind, page_size=args.page_size,
                page_token=args.page_token)))
        case "stats":
            answer = hub.statistics.GetStatistics(statistics_pb2.GetStatisticsRequest(
                municipality_code=args.municipality, benefit_code=args.benefit, from_month=args.first,
                to_month=args.last, as_of_date=args.as_of))
            print_statistics(answer) if args.table else _print(answer)
        case "control-run":
            run_control(hub, control_pb2.RunControlRequest(
                request_id=rid, period=args.period, municipality_code=args.municipality, benefit_code=args.benefit,
                rules=args.rule), quiet=args.quiet)
        case "control-findings":
            _print(hub.control.ListControlFindings(control_pb2.ListControlFindingsRequest(
                municipality_code=args.municipality, benefit_code=args.benefit, rule=args.rule, status=args.status,
                case_id=args.case_id, period=args.period, follow_up=args.follow_up, page_size=args.page_size,
                page_token=args.page_token)))
        case "control-outcome":
            _print(hub.control.RecordControlOutcome(control_pb2.RecordControlOutcomeRequest(
                request_id=rid, finding_id=args.finding_id, outcome=args.outcome, note=args.note)))
        case "provider-fetch":
            _print(hub.payments.FetchPaymentBatch(payments_pb2.FetchPaymentBatchRequest(max_orders=args.max)))
        case "provider-ack":
            _print(hub.payments.AcknowledgePaymentBatch(payments_pb2.AcknowledgePaymentBatchRequest(
                batch_id=args.batch_id)))
        case "provider-settle":
            result = args.result or payments_pb2.SETTLEMENT_RESULT_PAID
            _print(hub.payments.ReportSettlement(payments_pb2.ReportSettlementRequest(request_id=rid, settlements=[
                payments_pb2.SettlementReport(end_to_end_id=e2e, result=result, amount_oere=args.amount,
                                              bank_reference=args.bank_reference or f"{e2e}-BANK",
                                              settlement_date=args.date or _date(dt.date.today().isoformat()),
                                              reason=args.reason)
                for e2e in args.end_to_end_id])))
        case "provider-collect":
            _print(hub.payments.ReportCollection(payments_pb2.ReportCollectionRequest(
                request_id=rid, claim_id=args.claim_id, amount_oere=args.amount, reference=args.reference)))
        case "events-tail":
            return tail_events(hub, args)
        case "audit-list":
            req = audit_pb2.ListAuditEntriesRequest(case_id=args.case_id, client_id=args.client_id,
                                                    page_size=args.page_size, page_token=args.page_token)
            for field, value in (("from_time", args.start), ("to_time", args.end)):
                if value:
                    getattr(req, field).CopyFrom(value)
            _print(hub.audit.ListAuditEntries(req))
        case "billing-run":
            _print(hub.billing.RunBilling(billing_pb2.RunBillingRequest(request_id=rid, quarter=args.quarter)))
        case "billing-show":
            shown = hub.billing.GetBillingStatement(billing_pb2.GetBillingStatementRequest(
                quarter=args.quarter, municipality_code=args.municipality))
            data = json_format.MessageToDict(shown, preserving_proto_field_name=True)
            data["billed"] = shown.billed   # (a preview says so: "billed": false)
            print(json.dumps(data, indent=2, ensure_ascii=False))
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


_STAT_COLUMNS = (("received", "applications_received"), ("decided", "decided"), ("granted", "granted"),
                 ("refused", "refused"), ("withdrawn", "withdrawn"), ("median d", "processing_days_median"),
                 ("p90 d", "processing_days_p90"), ("in time", "share_within_deadline"),
                 ("automatic", "share_automatic"), ("complaints", "complaints_received"),
                 ("changed", "complaints_changed_at_reconsideration"), ("hearings", "hearings_held"),
                 ("paid kr", "paid_ore"), ("claims kr", "claims_raised_ore"), ("backlog", "backlog_total"))


def print_statistics(answer) -> None:
    """The month figures as a table (shares in per cent, money in kroner)."""
    def cell(month, field: str) -> str:
        value = getattr(month, field)
        if (field.startswith("share_") or field.startswith("processing_days")) and not month.decided:
            return "-"  # (nothing decided: no share, no processing time)
        if field.startswith("share_"):
            return f"{value * 100:.0f} %"
        if field.endswith("_ore"):
            return f"{value // 100:,}".replace(",", ".")
        return str(value)
    where = answer.municipality_code or "national"
    print(f"{where}, {answer.benefit_code or 'every benefit'}, as of {answer.as_of_date}")
    rows = [["month", *(name for name, _ in _STAT_COLUMNS)]]
    rows += [[m.month, *(cell(m, f) for _, f in _STAT_COLUMNS)] for m in answer.months]
    rows.append(["total", *(cell(answer.total, f) for _, f in _STAT_COLUMNS)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def tail_events(hub, args) -> int:
    """`hubctl events tail`: the events of a durable subscription (made first with
    --create, from the filters given), one JSON line each, acknowledged after it is
    printed (so a restart goes on after the last line printed); reconnects after the
    hub was away. --count stops after that many events."""
    if args.create:
        try:
            hub.events.CreateSubscription(events_pb2.CreateSubscriptionRequest(
                request_id=str(uuid.uuid4()), name=args.subscription, filter=events_pb2.EventFilter(
                    event_types=args.type, municipality_codes=args.municipality, benefit_codes=args.benefit)))
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
    seen = 0
    for event in follow(hub, args.subscription, heartbeat_seconds=args.heartbeat):
        print(json.dumps(json_format.MessageToDict(event, preserving_proto_field_name=True), ensure_ascii=False),
              flush=True)
        hub.events.AckEvents(events_pb2.AckEventsRequest(name=args.subscription,
                                                         sequence=event.sequence))
        seen += 1
        if args.count and seen >= args.count:
            break
    return 0


def run_settlement(hub, request_id: str, year: int, benefit: str, municipality: str, *, quiet: bool = False) -> None:
    """The final settlement run, with a progress bar on stderr and its summary as JSON.
    Run it again with the same --request-id to resume a run that was cut off."""
    from tqdm import tqdm

    last = None
    req = settlement_pb2.RunFinalSettlementRequest(request_id=request_id, income_year=year, benefit_code=benefit,
                                                   municipality_code=municipality)
    with tqdm(total=None, unit="case", desc=f"settlement {benefit} {year}", disable=quiet, file=sys.stderr) as bar:
        for step in hub.settlement.RunFinalSettlement(req):
            bar.total = step.total
            bar.update(step.examined - bar.n)
            bar.set_postfix(back=step.back_payments, repay=step.repayments, person=step.needs_person,
                            waiting=step.waiting)
            last = step
    _print(last)


def run_control(hub, request, *, quiet: bool = False) -> None:
    """The IT control run, with a progress bar on stderr and its summary as JSON. Run it
    again with the same --request-id to go on with a run that was cut off."""
    from tqdm import tqdm

    last = None
    with tqdm(total=None, unit="grant", desc=f"control {request.period}", disable=quiet, file=sys.stderr) as bar:
        for step in hub.control.RunControl(request):
            bar.total = step.total
            bar.update(step.examined - bar.n)
            bar.set_postfix(findings=step.findings)
            last = step
    _print(last)


def _paging(p: argparse.ArgumentParser) -> None:
    p.add_argument("--page-size", type=int, default=0, help="answers per page (default 50, at most 500)")
    p.add_argument("--page-token", default="", help="the next_page_token of the page before")


def _group(top, name: str, help: str):
    """A command with subcommands (hubctl case ...): its own group of subcommands."""
    return top.add_parser(name, help=help, description=help).add_subparsers(
        dest="sub", required=True, metavar="SUBCOMMAND", parser_class=Parser)


def _command(group, name: str, cmd: str, help: str) -> argparse.ArgumentParser:
    """A (sub)command: its help line in the group's list, and its description in its own --help."""
    s = group.add_parser(name, help=help, description=help)
    s.set_defaults(cmd=cmd)
    return s


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="hubctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--address", default=os.environ.get("HUBCTL_ADDRESS", "127.0.0.1:50051"),
                   help="the hub, HOST:PORT (or $HUBCTL_ADDRESS; default 127.0.0.1:50051)")
    p.add_argument("--token", default=os.environ.get("HUBCTL_TOKEN", ""), help="bearer token (or $HUBCTL_TOKEN)")
    p.add_argument("--request-id", default="", help="idempotency key (default: a new UUID)")
    p.add_argument("--ca", default=os.environ.get("HUBCTL_CA"), help="mTLS: the hub's CA (PEM)")
    p.add_argument("--cert", default=os.environ.get("HUBCTL_CERT"), help="mTLS: this client's certificate (PEM)")
    p.add_argument("--key", default=os.environ.get("HUBCTL_KEY"), help="mTLS: this client's key (PEM)")
    p.add_argument("--json", action="store_true",
                   help="always print JSON, also for an empty answer (default: '0 cases' and the like)")
    top = p.add_subparsers(dest="group", required=True, metavar="COMMAND", parser_class=Parser)

    s = _command(top, "dev-certs", "dev-certs", "a local CA, a server and client certificates, to try mTLS "
                 "(again: adds clients under the same CA)")
    s.add_argument("--out", default="var/certs", help="the folder (default var/certs)")
    s.add_argument("--client", action="append", default=[], metavar="NAME",
                   help="a client certificate with this common name (map it with certificate = NAME)")
    _command(top, "benefits", "benefits", "list the benefit catalogue")
    _paging(_command(top, "inbox", "inbox", "the authority's drafts waiting for approval"))
    s = _command(top, "overdue", "overdue", "what is late now: processing deadlines, hearings, reconsiderations")
    s.add_argument("--municipality", default="", help="one municipality code (default: all in your scope)")
    enum_arg(s, "--kind", cases_pb2.OverdueKind, "only this kind")
    _paging(s)

    hearing = _group(top, "hearing", "hear the citizen before an adverse decision")
    s = _command(hearing, "start", "hearing-start", "send the hearing letter for a draft")
    s.add_argument("decision_id", help="the draft decision")
    s.add_argument("--note", default="", help="words to the citizen in the letter")
    s = _command(hearing, "respond", "hearing-respond", "record the citizen's comments")
    s.add_argument("hearing_id", help="the hearing (from hearing start or case show)")
    s.add_argument("--comments", required=True, help="what the citizen said")
    enum_arg(s, "--channel", common_pb2.Channel, "how they came", required=True)
    s.add_argument("--received", type=_time, metavar="RFC3339", help="when received (default: now)")

    complaint = _group(top, "complaint", "complaints, reconsideration and appeals")
    s = _command(complaint, "file", "complaint-file", "a complaint about a sent decision")
    s.add_argument("decision_id", help="the decision complained about")
    enum_arg(s, "--channel", common_pb2.Channel, "how it came", required=True)
    s.add_argument("--grounds", required=True, help="the citizen's grounds")
    s.add_argument("--received", type=_time, metavar="RFC3339", help="when received (default: now)")
    s.add_argument("--ref", default="", help="external reference")
    s = _command(complaint, "statement", "complaint-statement", "the back office's statement to the authority")
    s.add_argument("complaint_id", help="the complaint")
    s.add_argument("--text", required=True, help="the statement (redegørelse)")
    s = _command(complaint, "late", "complaint-late", "the authority accepts or dismisses a late complaint")
    s.add_argument("complaint_id", help="the complaint")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--accept", action="store_true", help="treat it as if in time")
    g.add_argument("--dismiss", action="store_true", help="dismiss it as late")
    s.add_argument("--reason", required=True, help="why")
    s = _command(complaint, "reconsider", "complaint-reconsider",
                 "the authority changes the decision (with the new one) or upholds it")
    s.add_argument("complaint_id", help="the complaint")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--changed", action="store_true", help="the decision is changed: approves --decision")
    g.add_argument("--upheld", action="store_true", help="upheld: the complaint goes to the appeals authority")
    s.add_argument("--decision", default="", help="with --changed: the new draft (or decision approved since)")
    s.add_argument("--note", default="", help="the authority's note")
    s = _command(complaint, "appeal", "complaint-appeal", "record the appeals authority's outcome")
    s.add_argument("complaint_id", help="the complaint")
    enum_arg(s, "--outcome", complaints_pb2.AppealOutcome, "the appeals authority's outcome", required=True)
    s.add_argument("--reference", required=True, help="the appeals authority's journal number")
    s.add_argument("--decided-on", type=_date, metavar="YYYY-MM-DD", help="when it decided (default: today)")
    s.add_argument("--note", default="", help="a note on the outcome")
    enum_arg(s, "--new-outcome", decisions_pb2.Outcome, "with --outcome changed: the new decision's outcome",
             default=decisions_pb2.OUTCOME_GRANTED)
    s.add_argument("--amount", action="append", default=[], type=_amount, metavar="OERE:START:END",
                   help="with --outcome changed: an amount in øre for a period (repeat for more)")
    s.add_argument("--reasoning", default="", help="with --outcome changed: the reasons")
    s.add_argument("--legal-basis", default="", help="with --outcome changed: the legal basis")
    s = _command(complaint, "show", "complaint-show", "one complaint, with its steps")
    s.add_argument("complaint_id", help="the complaint")
    s = _command(complaint, "list", "complaint-list", "complaints in your scope (--awaiting: the authority's inbox)")
    s.add_argument("--municipality", default="", help="one municipality code (default: all in your scope)")
    enum_arg(s, "--status", complaints_pb2.ComplaintStatus, "only complaints in this state")
    s.add_argument("--awaiting", action="store_true", help="only those awaiting the authority's reconsideration")
    _paging(s)

    case = _group(top, "case", "cases: create, inform, show, list, withdraw")
    s = _command(case, "create", "case-create", "a new case: one citizen's application for one benefit")
    s.add_argument("--municipality", required=True, help="the home municipality's code, e.g. 101")
    s.add_argument("--cpr", required=True, help="the citizen's CPR number (DDMMYY-SSSS or 10 digits)")
    s.add_argument("--benefit", required=True, help="a benefit code from 'hubctl benefits', e.g. BOLIGSTOETTE")
    enum_arg(s, "--channel", common_pb2.Channel, "how the application came", required=True)
    s.add_argument("--statement", action="append", default=[], type=_pair("KEY=VALUE", "civil_status=single"),
                   metavar="KEY=VALUE",
                   help="the applicant's statement, one KEY=VALUE each (repeat for more); a number, true or "
                        "false is one (README: the keys the rules read)")
    s.add_argument("--ref", default="", help="external reference")
    s = _command(case, "show", "case-show", "one case: information, decisions, history, payments")
    s.add_argument("case_id", help="the case")
    s = _command(case, "list", "case-list", "cases in your scope")
    s.add_argument("--municipality", default="", help="one municipality code")
    s.add_argument("--benefit", default="", help="one benefit code")
    s.add_argument("--cpr", default="", help="one citizen's cases")
    enum_arg(s, "--status", common_pb2.CaseStatus, "only cases in this state")
    enum_arg(s, "--automation", cases_pb2.Automation, "only cases in this state of automatic processing")
    enum_arg(s, "--fallout", cases_pb2.FalloutReason, "only cases that fell out to a person for this reason")
    _paging(s)
    s = _command(case, "add-info", "case-add-info", "add a piece of information to a case")
    s.add_argument("case_id", help="the case")
    enum_arg(s, "--source", cases_pb2.InformationSource, "where it comes from", required=True)
    s.add_argument("--source-reference", default="", help="the source's own reference")
    s.add_argument("--kind", required=True, help="what it is, e.g. income.annual")
    s.add_argument("--value", required=True, help="JSON (or plain text)")
    s.add_argument("--discretionary", action="store_true", help="a discretionary assessment (the authority only)")
    s = _command(case, "withdraw", "case-withdraw", "the citizen withdraws the application")
    s.add_argument("case_id", help="the case")
    s.add_argument("--reason", default="", help="why")
    s = _command(case, "register-data", "case-register-data",
                 "ask a register for the citizen's data (arrives as information)")
    s.add_argument("case_id", help="the case")
    enum_arg(s, "--register", cases_pb2.Register, "the register", default=cases_pb2.REGISTER_INCOME)
    s.add_argument("--from", dest="from_month", required=True, type=_month, metavar="YYYY-MM", help="first month")
    s.add_argument("--to", dest="to_month", required=True, type=_month, metavar="YYYY-MM", help="last month")

    ops = _group(top, "ops", "operators: outbox backlog, dead letters, destinations")
    _command(ops, "backlog", "ops-backlog", "per destination: pending, dead, oldest pending, paused")
    s = _command(ops, "list", "ops-list", "outbox messages (backlog or dead letters)")
    enum_arg(s, "--status", operations_pb2.OutboxStatus, "only messages in this state")
    s.add_argument("--destination", default="", help="only messages to this destination")
    _paging(s)
    s = _command(ops, "replay", "ops-replay", "dead letters back to the queue")
    s.add_argument("message_id", nargs="?", help="one dead letter (or --all)")
    s.add_argument("--all", action="store_true", help="every dead letter (of --destination)")
    s.add_argument("--destination", default="", help="with --all: only this destination's")
    destinations = ["economy", "digital_post", "archive", "income_register", "cpr_register", "rent_register",
                    "payment_provider", "appeals", "amqp", "control_unit", "final_assessment"]
    for name in ("pause", "resume"):
        s = _command(ops, name, f"ops-{name}", f"{name} delivery to a destination")
        s.add_argument("destination", choices=destinations, help="the destination")
    s = _command(ops, "retry-now", "ops-retry-now",
                 "a destination's backing-off messages due now (when it answers again)")
    s.add_argument("destination", choices=destinations, help="the destination")

    rules = _group(top, "rules", "the benefits' rules: the rates as data, calculations, automatic processing")
    s = _command(rules, "list", "rules-list", "every published rule set (version), newest first")
    s.add_argument("--benefit", default="", help="one benefit code")
    s = _command(rules, "show", "rules-show", "one rule set with every figure, its section and source")
    s.add_argument("benefit", help="the benefit code")
    s.add_argument("--version", type=int, default=0, help="a version (default: the one in force --on)")
    s.add_argument("--on", type=_date, metavar="YYYY-MM-DD", help="the one in force on this day (default: today)")
    s = _command(rules, "publish", "rules-publish",
                 "publish a new version from a JSON file in the seed form (hub/store/seeds/rule_sets)")
    s.add_argument("file", help="the rule set as JSON: benefit_code, effective_from, legal_basis, source, note, "
                                "parameters {name: {value, unit, section, source, note}}")
    s = _command(rules, "calculate", "rules-calculate", "what the rules give for a case, step by step")
    s.add_argument("case_id", help="the case")
    s.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD", help="the period's first day")
    s.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD", help="the period's last day")
    s = _command(rules, "report", "rules-report", "applications decided without a person, and why others fell out")
    s.add_argument("--municipality", default="", help="one municipality code")
    s.add_argument("--benefit", default="", help="one benefit code")
    s.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD", help="received from this day")
    s.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD", help="received up to this day")

    payments = _group(top, "payments", "payment runs, orders, provider files")
    s = _command(payments, "run", "payments-run", "create the orders due up to a month, for every grant in force")
    s.add_argument("--period", required=True, type=_month, metavar="YYYY-MM", help="the last month to pay")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s = _command(payments, "list", "payments-list", "payment orders in your municipalities")
    s.add_argument("--municipality", default="", help="one municipality code")
    s.add_argument("--due-month", default="", type=_month, metavar="YYYY-MM", help="only orders due this month")
    s.add_argument("--case-id", default="", help="one case's orders")
    enum_arg(s, "--status", payments_pb2.PaymentStatus, "only orders in this state")
    _paging(s)
    s = _command(payments, "push", "payments-push", "hand a provider's pending orders over as pain.001 files")
    s.add_argument("--provider", required=True, help="the provider's client id")
    s = _command(payments, "reissue", "payments-reissue", "pay a rejected or returned payment again")
    s.add_argument("end_to_end_id", help="the payment's end-to-end id")

    settle = _group(top, "settlement", "final settlement of income-dependent grants against the year's final income")
    s = _command(settle, "run", "settlement-run", "settle every grant of a benefit in force in a year that has ended")
    s.add_argument("--year", required=True, type=int, help="the income year")
    s.add_argument("--benefit", default="BOLIGSTOETTE", help="the benefit code (default BOLIGSTOETTE)")
    s.add_argument("--municipality", default="", help="only this one of your municipalities")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s = _command(settle, "show", "settlement-show", "a case's settlement of a year")
    s.add_argument("case_id", help="the case")
    s.add_argument("--year", required=True, type=int, help="the income year")
    s = _command(settle, "list", "settlement-list", "settlements of your cases")
    s.add_argument("--year", type=int, default=0, help="the income year")
    s.add_argument("--benefit", default="", help="one benefit code")
    s.add_argument("--municipality", default="", help="one municipality code")
    enum_arg(s, "--status", settlement_pb2.FinalSettlementStatus, "only settlements in this state")
    enum_arg(s, "--result", settlement_pb2.FinalSettlementResult, "only settlements with this result")
    _paging(s)
    s = _command(top, "stats", "stats", "management information month by month (yours, or the national figures)")
    s.add_argument("--municipality", default="", help="one of your municipalities (default: the national figures)")
    s.add_argument("--benefit", default="", help="one benefit code (default: every benefit you may see)")
    s.add_argument("--from", dest="first", required=True, type=_month, metavar="YYYY-MM", help="the first month")
    s.add_argument("--to", dest="last", required=True, type=_month, metavar="YYYY-MM", help="the last month")
    s.add_argument("--as-of", dest="as_of", default="", metavar="YYYY-MM-DD",
                   help="the figures as they stood at the end of this day")
    s.add_argument("--table", action="store_true", help="a table instead of JSON")
    control = _group(top, "control", "IT control: register cross-matching, findings for the control unit")
    s = _command(control, "run", "control-run", "cross-match the registers against every grant in force in a month")
    s.add_argument("--period", required=True, type=_month, metavar="YYYY-MM", help="the month controlled")
    s.add_argument("--municipality", default="", help="one municipality code (default: all in your scope)")
    s.add_argument("--benefit", default="", help="one benefit code (default: all)")
    t = Enum(control_pb2.ControlRule)
    s.add_argument("--rule", action="append", default=[], type=t, metavar="RULE",
                   help=t.help("only this rule (repeat for more; default: all)"))
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s = _command(control, "findings", "control-findings", "control findings on the cases in your scope")
    s.add_argument("--municipality", default="", help="one municipality code")
    s.add_argument("--benefit", default="", help="one benefit code")
    enum_arg(s, "--rule", control_pb2.ControlRule, "only findings of this rule")
    enum_arg(s, "--status", control_pb2.ControlFindingStatus, "only findings in this state")
    enum_arg(s, "--follow-up", control_pb2.ControlFollowUp, "only findings followed up so (back-office: the "
             "back office's work list)")
    s.add_argument("--case-id", default="", help="one case's findings")
    s.add_argument("--period", default="", type=_month, metavar="YYYY-MM", help="the month controlled")
    _paging(s)
    s = _command(control, "outcome", "control-outcome",
                 "the municipality records the outcome of its physical control of a finding")
    s.add_argument("finding_id", help="the finding")
    enum_arg(s, "--outcome", control_pb2.ControlOutcome, "what the control found", required=True)
    s.add_argument("--note", default="", help="the municipality's note")

    provider = _group(top, "provider", "payment providers: fetch a batch, acknowledge it, report what the bank did")
    s = _command(provider, "fetch", "provider-fetch", "the next batch of orders to pay (the same one until acknowledged)")
    s.add_argument("--max", type=int, default=0, help="orders at most (default 500)")
    s = _command(provider, "ack", "provider-ack", "acknowledge a batch: its orders are being paid")
    s.add_argument("batch_id", help="the batch")
    s = _command(provider, "settle", "provider-settle", "report payments as paid, rejected or returned")
    s.add_argument("end_to_end_id", nargs="+", help="the payments' end-to-end ids")
    enum_arg(s, "--result", payments_pb2.SettlementResult, "what the bank did (default paid)")
    s.add_argument("--amount", type=int, required=True, help="the amount, in øre (each payment's)")
    s.add_argument("--date", type=_date, default=None, metavar="YYYY-MM-DD", help="settlement date (default today)")
    s.add_argument("--bank-reference", default="", help="the bank's reference")
    s.add_argument("--reason", default="", help="why it was rejected or returned")
    s = _command(provider, "collect", "provider-collect", "report money collected on a claim")
    s.add_argument("claim_id", help="the claim")
    s.add_argument("--amount", type=int, required=True, help="collected, in øre")
    s.add_argument("--reference", default="", help="the collection's reference")
    events = _group(top, "events", "the event stream")
    s = _command(events, "tail", "events-tail", "follow a durable subscription, one JSON line an event, "
                                                "acknowledging each after printing it")
    s.add_argument("--subscription", required=True, help="the subscription's name")
    s.add_argument("--create", action="store_true", help="make it first (if it is not there) with these filters")
    s.add_argument("--type", action="append", default=[], help="an event type to follow (repeatable)")
    s.add_argument("--municipality", action="append", default=[], help="a municipality code (repeatable)")
    s.add_argument("--benefit", action="append", default=[], help="a benefit code (repeatable)")
    s.add_argument("--heartbeat", type=int, default=15, help="seconds between heartbeats")
    s.add_argument("--count", type=int, default=0, help="stop after this many events (default: never)")
    audit = _group(top, "audit", "the audit log (operators)")
    s = _command(audit, "list", "audit-list", "who did what to which case, newest last")
    s.add_argument("--case-id", default="", help="one case's entries")
    s.add_argument("--client-id", default="", help="one client's entries")
    s.add_argument("--from", dest="start", type=_time, default=None, metavar="RFC3339", help="from this time")
    s.add_argument("--to", dest="end", type=_time, default=None, metavar="RFC3339", help="before this time")
    _paging(s)
    bill = _group(top, "billing", "subscription billing: each municipality's share of the objective cases, per quarter")
    s = _command(bill, "run", "billing-run", "bill a quarter that has ended (once): every municipality's invoice "
                                             "to its economy system")
    s.add_argument("--quarter", required=True, type=_quarter, metavar="YYYY-Qn", help="the quarter, e.g. 2026-Q1")
    s = _command(bill, "show", "billing-show", "a municipality's statement of a quarter (before the run: a preview "
                                               "of the quarter so far, billed false)")
    s.add_argument("--quarter", required=True, type=_quarter, metavar="YYYY-Qn", help="the quarter, e.g. 2026-Q1")
    s.add_argument("--municipality", required=True, help="the municipality code (one you act for)")

    claims = _group(top, "claims", "collection: offsetting, write-off (a claim comes from a decision: "
                                   "hubctl decision submit --repayment)")
    s = _command(claims, "offset", "claims-offset", "allow offsetting against the next payments of the benefit")
    s.add_argument("claim_id", help="the claim")
    s.add_argument("--off", action="store_true", help="stop offsetting")
    s = _command(claims, "write-off", "claims-write-off", "write a claim off")
    s.add_argument("claim_id", help="the claim")
    s.add_argument("--reason", required=True, help="why, e.g. below the collection limit")

    dec = _group(top, "decision", "draft decisions: submit, approve, return")
    s = _command(dec, "submit", "decision-submit", "a reasoned draft decision for the authority")
    s.add_argument("case_id", help="the case")
    enum_arg(s, "--outcome", decisions_pb2.Outcome, "the outcome (not with --use-calculation)")
    s.add_argument("--amount", action="append", default=[], type=_amount, metavar="OERE:START:END",
                   help="an amount in øre for a period, both ends inclusive (repeat for more)")
    s.add_argument("--use-calculation", action="store_true",
                   help="the outcome, amounts and reasons the benefit's rules give (see: hubctl rules calculate)")
    s.add_argument("--departure-reason", default="",
                   help="why the amounts depart from the rules' calculation (such a draft is never approved "
                        "automatically)")
    s.add_argument("--reasoning", default="", help="the reasons")
    s.add_argument("--legal-basis", default="", help="the legal basis")
    s.add_argument("--point", action="append", default=[], type=_point, metavar="TOPIC=ASSESSMENT",
                   help="a discretionary point (repeat for more)")
    s.add_argument("--fact", action="append", default=[], metavar="ITEM_ID", help="a decisive fact (information item)")
    enum_arg(s, "--hearing-exception", decisions_pb2.HearingException, "why no hearing is needed")
    s.add_argument("--hearing-exception-note", default="", help="with --hearing-exception: the note it needs")
    s.add_argument("--effective-from", type=_date, metavar="YYYY-MM-DD",
                   help="a new decision on a decided case replaces the grant in force from this day")
    s.add_argument("--effective-to", type=_date, metavar="YYYY-MM-DD",
                   help="a decision for a bounded time: the last day it governs payments (the grant before it "
                        "applies again after)")
    s.add_argument("--repayment", type=_amount, metavar="OERE:START:END",
                   help="a repayment decision: what the citizen must pay back for those months (a claim once "
                        "approved)")
    s.add_argument("--offset", action="store_true",
                   help="the repayment (or the overpayment a lower grant causes) may be offset against later "
                        "payments")
    s = _command(dec, "approve", "decision-approve", "the authority approves a draft (perhaps amended)")
    s.add_argument("decision_id", help="the draft")
    s.add_argument("--note", default="", help="the authority's note")
    s.add_argument("--amount", action="append", default=[], type=_amount, metavar="OERE:START:END",
                   help="amend the amounts (repeat for more)")
    s.add_argument("--point", action="append", default=[], type=_point, metavar="TOPIC=ASSESSMENT",
                   help="replace the discretionary points (repeat for more)")
    s = _command(dec, "return", "decision-return", "the authority returns a draft to the back office")
    s.add_argument("decision_id", help="the draft")
    s.add_argument("--reason", required=True, help="why")
    citizen_commands(top)
    return p


# ---- the citizen portal (issue 28) ------------------------------------------------------------

def citizen_commands(top) -> None:
    group = _group(top, "citizen", "the citizen portal, for the logged-in citizen (a signed assertion per call)")
    s = _command(group, "assert", "citizen-assert", "print a signed assertion of a citizen (a JWT), made with a "
                 "portal's key, to send as metadata x-citizen-assertion")
    _citizen_args(s)
    s = _command(group, "apply", "citizen-apply", "the citizen applies, by self-service")
    _citizen_args(s)
    s.add_argument("--municipality", required=True, help="the municipality code")
    s.add_argument("--benefit", required=True, help="the benefit code")
    s.add_argument("--statement", action="append", default=[], type=_pair("KEY=VALUE", "rent=6500"),
                   metavar="KEY=VALUE", help="the application's statement (repeat for more)")
    s = _command(group, "cases", "citizen-cases", "the citizen's cases: phase, what happens next and by when")
    _citizen_args(s)
    _paging(s)
    s = _command(group, "show", "citizen-show", "one of the citizen's cases: next steps, letters, decisions, "
                 "hearings, complaints, payments, claims")
    _citizen_args(s)
    s.add_argument("case_id", help="the case")
    s = _command(group, "answer", "citizen-answer", "the citizen answers a hearing on their case")
    _citizen_args(s)
    s.add_argument("hearing_id", help="the hearing")
    s.add_argument("--comments", required=True, help="the citizen's comments")
    s = _command(group, "complain", "citizen-complain", "the citizen complains of a decision sent to them")
    _citizen_args(s)
    s.add_argument("decision_id", help="the decision")
    s.add_argument("--grounds", required=True, help="why")
    s = _command(group, "access", "citizen-access", "who has looked at the citizen's cases (the citizen's own "
                 "looks through the portal marked by_citizen)")
    _citizen_args(s)
    s.add_argument("--others-only", action="store_true", help="leave out the citizen's own looks")
    _paging(s)


def _citizen_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--cpr", default=os.environ.get("HUBCTL_CITIZEN", ""),
                   help="the logged-in citizen's CPR number (or $HUBCTL_CITIZEN)")
    s.add_argument("--key", "--portal-key", dest="portal_key", default=os.environ.get("HUBCTL_PORTAL_KEY", ""),
                   help="the portal's private key, PEM (or $HUBCTL_PORTAL_KEY; the demo's: etc/dev-portal-key.pem)")
    s.add_argument("--portal", default=os.environ.get("HUBCTL_PORTAL", "borger.dk"),
                   help="the portal's client id, the assertion's issuer (or $HUBCTL_PORTAL; default borger.dk)")
    s.add_argument("--audience", default="sagshub", help="the hub's name in the assertion (default sagshub)")
    s.add_argument("--lifetime", type=int, default=300, help="seconds the assertion is valid (at most 600)")


def citizen_assertion(args) -> CitizenAssertion:
    """The citizen's assertion from the command line; UsageError if it cannot be made."""
    if not args.cpr or not args.portal_key:
        raise UsageError("hubctl citizen: give --cpr (or HUBCTL_CITIZEN) and --key (or HUBCTL_PORTAL_KEY)")
    try:
        pem = open(args.portal_key, "rb").read()
    except OSError as err:
        raise UsageError(f"hubctl citizen: cannot read {args.portal_key}: {err.strerror}") from None
    made = CitizenAssertion(pem, args.portal, args.cpr, audience=args.audience, lifetime=args.lifetime)
    try:
        made()
    except ValueError as err:
        raise UsageError(f"hubctl citizen: {args.portal_key}: {err}") from None
    return made


def run_citizen(args, hub, rid: str) -> None:
    match args.cmd:
        case "citizen-apply":
            statement = struct_pb2.Struct()
            statement.update({k: _json_or_text(v) for k, v in args.statement})
            _print(hub.cases.CreateCase(cases_pb2.CreateCaseRequest(
                request_id=rid, municipality_code=args.municipality, benefit_code=args.benefit,
                channel=common_pb2.CHANNEL_SELF_SERVICE, applicant_statement=statement)))
        case "citizen-cases":
            _print(hub.cases.ListCitizenCases(cases_pb2.ListCitizenCasesRequest(page_size=args.page_size,
                                                                                page_token=args.page_token)))
        case "citizen-show":
            _print(hub.citizen.GetCitizenCase(citizen_pb2.GetCitizenCaseRequest(case_id=args.case_id)))
        case "citizen-answer":
            _print(hub.decisions.RecordHearingResponse(decisions_pb2.RecordHearingResponseRequest(
                request_id=rid, hearing_id=args.hearing_id, comments=args.comments,
                channel=common_pb2.CHANNEL_SELF_SERVICE)))
        case "citizen-complain":
            _print(hub.complaints.FileComplaint(complaints_pb2.FileComplaintRequest(
                request_id=rid, decision_id=args.decision_id, grounds=args.grounds,
                channel=common_pb2.CHANNEL_SELF_SERVICE)))
        case "citizen-access":
            _print(hub.audit.ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(
                others_only=args.others_only, page_size=args.page_size, page_token=args.page_token)))


def main(argv: list[str] | None = None) -> int:
    """Exit 0 done, 1 the hub refused or failed (its status on stderr), 2 a usage
    mistake, 141 the reader of stdout went away (as if killed by SIGPIPE), 130 ^C."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that went away shows here, not in Python's flush at exit
        return code
    except BrokenPipeError:
        # `hubctl ... | head -1`: stop quietly, like a tool that SIGPIPE ends. stdout goes to
        # /dev/null so that the flush at exit does not meet the closed pipe again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        return 130


def _main(argv: list[str] | None) -> int:
    global _ALWAYS_JSON
    try:
        args = parser().parse_args(argv)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return done.code or 0
    _ALWAYS_JSON = args.json
    if args.cmd == "dev-certs":
        from clients.cli import devcerts
        try:
            paths = devcerts.make(args.out, args.client)
        except (ValueError, OSError) as err:
            print(f"hubctl dev-certs: {err}", file=sys.stderr)
            return 1
        print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2, ensure_ascii=False))
        return 0
    assertion = None
    if args.cmd.startswith("citizen-"):
        try:
            assertion = citizen_assertion(args)
        except UsageError as err:
            print(err, file=sys.stderr)
            return 2
        if args.cmd == "citizen-assert":
            print(assertion())
            return 0
    if not args.token and not args.cert:
        print("hubctl: give --token (or HUBCTL_TOKEN; see etc/clients.demo.toml) or --ca/--cert/--key",
              file=sys.stderr)
        return 2
    try:
        hub = connect(args.address, args.token, ca=args.ca, cert=args.cert, key=args.key, assertion=assertion)
    except OSError as err:
        print(f"hubctl: cannot read {err.filename}: {err.strerror}", file=sys.stderr)
        return 2
    try:
        run(args, hub)
    except grpc.RpcError as err:
        print(f"hubctl: {describe_error(err)}", file=sys.stderr)
        return 1
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    finally:
        hub.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
