"""proto <-> domain. Field mapping only, no rules here; but a value its proto type can carry
and no Python or JSON value can (a Timestamp past year 9999, a NaN in a Struct) is
refused here, where it enters: the caller's mistake, named by its field."""
from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.type import date_pb2

from hub.domain import commands as cmd
from hub.domain import model as m
from hub.domain.errors import FieldViolation, InvalidArgument, Violations
from hub.domain import payments as pay
from hub.domain import complaints as cp
from hub.domain.automation import Automation, Fallout
from hub.v1 import (audit_pb2, benefits_pb2, calculation_pb2, cases_pb2, common_pb2, complaints_pb2, decisions_pb2,
                    events_pb2, operations_pb2, payments_pb2)

UTC = dt.timezone.utc


# ---- enums: domain value "X" <-> proto "PREFIX_X" --------------------------------------

_ENUM_NUMBERS: dict[tuple[Any, str, Any], int] = {}


def enum_out(wrapper, prefix: str, value: Any) -> int:
    if value is None:
        return 0
    key = (wrapper, prefix, value)
    number = _ENUM_NUMBERS.get(key)
    if number is None:  # looked up by name once per value, then remembered
        number = _ENUM_NUMBERS[key] = wrapper.Value(f"{prefix}_{value.value}")
    return number


def _refuse(v: Violations | None, field: str, description: str) -> None:
    """A field that cannot even be converted: noted in `v` (the converter of a request
    reports all such fields at once), or refused at once without one."""
    if v is None:
        raise InvalidArgument([FieldViolation(field, description)])
    v.add(field, description)


def enum_in(wrapper, prefix: str, number: int, domain_cls, field: str, v: Violations | None = None):
    if number == 0:
        return None
    try:
        name = wrapper.Name(number)
    except ValueError:
        _refuse(v, field, "is not a known value")
        return None
    return domain_cls(name[len(prefix) + 1:])


# ---- scalars -------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def ts_out(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    """The time as a new Timestamp (see ts_into)."""
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    ts_into(out, value)
    return out


def ts_into(field: timestamp_pb2.Timestamp, value: dt.datetime | None) -> None:
    """Set a message's Timestamp field in place (None leaves it unset): cheaper than
    ts_out, whose new message the parent then copies. The hub keeps every time in
    UTC; a naive one is read as UTC. (Arithmetic on the timedelta:
    Timestamp.FromDatetime is several times slower.)"""
    if value is None:
        return
    d = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)) - _EPOCH
    field.seconds = d.days * 86400 + d.seconds
    field.nanos = d.microseconds * 1000


# What a Timestamp may hold (google/protobuf/timestamp.proto): 0001-01-01T00:00:00Z to
# 9999-12-31T23:59:59.999999999Z, nanos 0 to 999,999,999; beyond it no datetime exists.
TS_MIN_SECONDS, TS_MAX_SECONDS = -62135596800, 253402300799


def ts_in(msg, field: str, v: Violations | None = None) -> dt.datetime | None:
    """The Timestamp field `field` of `msg` as a UTC datetime (None: not set). One out of
    the type's range is the caller's mistake."""
    if not msg.HasField(field):
        return None
    ts = getattr(msg, field)
    if not (TS_MIN_SECONDS <= ts.seconds <= TS_MAX_SECONDS and 0 <= ts.nanos <= 999_999_999):
        _refuse(v, field, "is not a valid time: seconds must lie in 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z "
                          "and nanos in 0..999999999")
        return None
    return ts.ToDatetime(tzinfo=UTC)


_JSON_TYPES = frozenset({"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"})


def nul_violations(msg, prefix: str = "") -> list[FieldViolation]:
    """Every text of the request (nested ones, and those inside a Struct or Value) that
    holds a NUL character: PostgreSQL keeps no NUL in a text or a JSON value, and no
    field of the contract has a use for one, so it is refused on every store."""
    out = []
    for f, value in msg.ListFields():
        name = prefix + f.name
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            entry = f.message_type.fields_by_name
            if any(_nuls(entry["key"], k, name) or _nuls(entry["value"], x, name) for k, x in value.items()):
                out.append(FieldViolation(name, _NUL))
        elif f.is_repeated:
            for i, x in enumerate(value):
                out.extend(_nuls(f, x, f"{name}[{i}]"))
        else:
            out.extend(_nuls(f, value, name))
    return out


_NUL = "must not contain a NUL character"


def _nuls(f, x, at: str) -> list[FieldViolation]:
    """The violations in one value `x` of field `f`, which is named `at`."""
    if f.message_type is None:
        return [FieldViolation(at, _NUL)] if isinstance(x, str) and "\x00" in x else []
    if f.message_type.full_name in _JSON_TYPES:
        return [FieldViolation(at, _NUL)] if _json_has_nul(x) else []
    return nul_violations(x, at + ".")


def _json_has_nul(x) -> bool:
    """Whether a Struct, Value or ListValue holds a NUL in a text or a key, at any depth."""
    if isinstance(x, struct_pb2.Struct):
        return any("\x00" in k or _json_has_nul(v) for k, v in x.fields.items())
    if isinstance(x, struct_pb2.ListValue):
        return any(_json_has_nul(v) for v in x.values)
    kind = x.WhichOneof("kind")
    if kind == "string_value":
        return "\x00" in x.string_value
    return _json_has_nul(getattr(x, kind)) if kind in ("struct_value", "list_value") else False


INT64_MAX = 2**63 - 1


def int64_in(value: int, field: str, v: Violations | None = None) -> int:
    """A uint64 field the store keeps in a BIGINT (a sequence number): above int64 it
    names nothing the hub has."""
    if value > INT64_MAX:
        _refuse(v, field, f"must be at most {INT64_MAX}")
        return INT64_MAX
    return value


def date_out(d: dt.date) -> date_pb2.Date:
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def date_parts(msg, field: str) -> cmd.DateParts | None:
    if not msg.HasField(field):
        return None
    d = getattr(msg, field)
    return (d.year, d.month, d.day)


def json_in(msg, field: str, v: Violations | None = None) -> Any:
    """A Struct or Value field as the JSON it stands for. JSON has no NaN or Infinity:
    a number_value holding one, anywhere inside, is the caller's mistake."""
    try:
        return json_format.MessageToDict(getattr(msg, field))
    except ValueError:  # json_format's only refusal of a Struct or Value: a non-finite number
        _refuse(v, field, "must not hold NaN or Infinity (JSON has no such numbers)")
        return None


def struct_out(d: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


def value_out(v: Any) -> struct_pb2.Value:
    return json_format.ParseDict(v, struct_pb2.Value())


# ---- authority & catalogue -------------------------------------------------------------

def authority_out(a: m.Authority) -> common_pb2.Authority:
    out = common_pb2.Authority()
    _authority_into(out, a)
    return out


def _authority_into(out: common_pb2.Authority, a: m.Authority) -> None:
    out.kind = enum_out(common_pb2.AuthorityKind, "AUTHORITY_KIND", a.kind)
    out.municipality_code, out.central_authority_code, out.name = (a.municipality_code, a.central_authority_code,
                                                                   a.name)


def benefit_out(b: m.Benefit) -> benefits_pb2.Benefit:
    authority = m.Authority(b.authority_kind, central_authority_code=b.central_authority_code,
                            name=b.central_authority_name)
    return benefits_pb2.Benefit(
        code=b.code, name_da=b.name_da, name_en=b.name_en, kle_number=b.kle_number,
        processing_deadline_days=b.processing_deadline_days, discretion_possible=b.discretion_possible,
        recurrence=enum_out(benefits_pb2.Recurrence, "RECURRENCE", b.recurrence), retention_years=b.retention_years,
        ledger_account=b.ledger_account, deciding_authority=authority_out(authority),
        hearing_deadline_days=b.hearing_deadline_days, appeals_authority_name=b.appeals_authority_name,
        amount_limits=[benefits_pb2.AmountLimit(per=enum_out(benefits_pb2.PeriodKind, "PERIOD_KIND", x.per),
                                                max_oere=x.max_oere, basis=x.basis) for x in b.amount_limits],
        automatic_processing=b.automatic_processing)


# ---- cases -------------------------------------------------------------------------------

def status_out(s: m.CaseStatus | None) -> int:
    return enum_out(common_pb2.CaseStatus, "CASE_STATUS", s)


def case_out(c: m.Case) -> cases_pb2.Case:
    # Nested fields are set in place (not built and copied in): a CreateCase answer
    # costs 14 us instead of 24, and the writer encodes one per call.
    out = cases_pb2.Case(
        case_id=c.case_id, municipality_code=c.municipality_code, cpr=c.cpr, benefit_code=c.benefit_code,
        channel=enum_out(common_pb2.Channel, "CHANNEL", c.channel),
        origin=enum_out(common_pb2.Origin, "ORIGIN", c.origin), status=status_out(c.status),
        external_reference=c.external_reference, created_by_client=c.created_by,
        archive_reference=c.archive_reference or "",
        sensitivity=enum_out(common_pb2.CaseSensitivity, "CASE_SENSITIVITY", c.sensitivity))
    ts_into(out.received_time, c.received_at)
    ts_into(out.created_time, c.created_at)
    ts_into(out.processing_deadline, c.processing_deadline)
    ts_into(out.updated_time, c.updated_at)
    out.applicant_statement.update(c.applicant_statement)
    out.applicant_statement.SetInParent()  # present, even when empty
    _authority_into(out.authority, m.authority_from_key(c.authority_key))
    if c.automation:
        out.automation = enum_out(cases_pb2.Automation, "AUTOMATION", Automation(c.automation))
        if c.fallout_reason:
            out.fallout_reason = enum_out(cases_pb2.FalloutReason, "FALLOUT_REASON", Fallout(c.fallout_reason))
            out.fallout_detail = c.fallout_detail
    return out


def information_out(i: m.InformationItem) -> cases_pb2.InformationItem:
    return cases_pb2.InformationItem(
        item_id=i.item_id, source=enum_out(cases_pb2.InformationSource, "INFORMATION_SOURCE", i.source),
        source_reference=i.source_reference, kind=i.kind, value=value_out(i.value), discretionary=i.discretionary,
        supplied_by_client=i.supplied_by, added_time=ts_out(i.added_at))


def history_out(h: m.StatusChange) -> cases_pb2.StatusChange:
    out = cases_pb2.StatusChange()
    _history_into(out, h)
    return out


def _history_into(out: cases_pb2.StatusChange, h: m.StatusChange) -> None:
    out.from_status, out.to_status = status_out(h.from_status), status_out(h.to_status)
    out.by_client, out.reason = h.by_client, h.reason
    ts_into(out.time, h.at)


def case_view_out(v: m.CaseView) -> cases_pb2.Case:
    out = case_out(v.case)
    if v.information:
        out.information.extend(information_out(i) for i in v.information)
    if v.decisions:
        out.decisions.extend(decision_out(d) for d in v.decisions)
    for h in v.history:
        _history_into(out.status_history.add(), h)
    if v.payments is not None:
        out.payments.CopyFrom(payment_history_out(v.payments))
    if v.hearings:
        out.hearings.extend(hearing_out(h) for h in v.hearings)
    if v.complaints:
        out.complaints.extend(complaint_out(c, v.case) for c in v.complaints)
    return out


# ---- payments ------------------------------------------------------------------------------

def order_out(o: pay.PaymentOrder) -> payments_pb2.PaymentOrder:
    out = payments_pb2.PaymentOrder(
        end_to_end_id=o.end_to_end_id, case_id=o.case_id, decision_id=o.decision_id,
        municipality_code=o.municipality_code, benefit_code=o.benefit_code, period=o.period_key,
        period_start=date_out(o.period_start), period_end=date_out(o.period_end),
        kind=enum_out(payments_pb2.PaymentKind, "PAYMENT_KIND", o.kind),
        status=enum_out(payments_pb2.PaymentStatus, "PAYMENT_STATUS", o.status), amount_oere=o.amount_oere,
        offset_oere=o.offset_oere, net_amount_oere=o.net_oere, created_time=ts_out(o.created_at),
        batch_id=o.batch_id or "", reissued_as=o.reissued_as or "", cancel_reason=o.cancel_reason or "")
    s = o.settlement
    if s is not None:
        out.settlement.CopyFrom(payments_pb2.Settlement(
            end_to_end_id=o.end_to_end_id, result=enum_out(payments_pb2.SettlementResult, "SETTLEMENT_RESULT", s.result),
            amount_oere=s.amount_oere, bank_reference=s.bank_reference,
            settlement_date=date_out(s.settlement_date) if s.settlement_date else None, reason=s.reason,
            reported_by_client=s.reported_by, reported_time=ts_out(s.reported_at)))
    return out


def claim_out(c: pay.Claim) -> payments_pb2.Claim:
    return payments_pb2.Claim(
        claim_id=c.claim_id, case_id=c.case_id, municipality_code=c.municipality_code, benefit_code=c.benefit_code,
        origin=enum_out(payments_pb2.ClaimOrigin, "CLAIM_ORIGIN", c.origin),
        status=enum_out(payments_pb2.ClaimStatus, "CLAIM_STATUS", c.status), period=c.period_key,
        decision_id=c.decision_id or "", amount_oere=c.amount_oere, collected_oere=c.collected_oere,
        cancelled_oere=c.cancelled_oere, written_off_oere=c.written_off_oere, outstanding_oere=c.outstanding_oere,
        offset_allowed=c.offset_allowed, reason=c.reason, created_time=ts_out(c.created_at),
        collections=[payments_pb2.ClaimCollection(source=x.source, amount_oere=x.amount_oere, reference=x.reference,
                                                  time=ts_out(x.at), reversed=x.reversed) for x in c.collections])


def payment_history_out(h: pay.PaymentHistory) -> payments_pb2.PaymentHistory:
    return payments_pb2.PaymentHistory(
        orders=[order_out(o) for o in h.orders], claims=[claim_out(c) for c in h.claims], flagged=h.flagged,
        held=[payments_pb2.HeldPayment(decision_id=x.decision_id, period=x.period_key, amount_oere=x.amount_oere,
                                       reason=x.reason) for x in h.held])


def batch_out(b: pay.Batch) -> payments_pb2.PaymentBatch:
    return payments_pb2.PaymentBatch(
        batch_id=b.batch_id, status=payments_pb2.BatchStatus.Value(f"BATCH_STATUS_{b.status}") if b.status else 0,
        provider_id=b.provider_id, created_time=ts_out(b.created_at), lease_expires_time=ts_out(b.lease_expires_at),
        number_of_transactions=len(b.instructions), control_sum_oere=b.control_sum_oere,
        instructions=[payments_pb2.PaymentInstruction(order=order_out(i.order), cpr=i.cpr,
                                                      municipality_code=i.order.municipality_code,
                                                      remittance_text=pay.remittance(i.order))
                      for i in b.instructions])


def settlements_in(r: payments_pb2.ReportSettlementRequest) -> cmd.ReportSettlement:
    return cmd.ReportSettlement(r.request_id, tuple(cmd.SettlementReport(
        s.end_to_end_id, enum_in(payments_pb2.SettlementResult, "SETTLEMENT_RESULT", s.result, pay.SettlementResult,
                                 f"settlements[{i}].result"),
        s.amount_oere, s.bank_reference, date_parts(s, "settlement_date"), s.reason)
        for i, s in enumerate(r.settlements)))


def payment_filter_in(r: payments_pb2.ListPaymentsRequest) -> cmd.PaymentFilter:
    status = enum_in(payments_pb2.PaymentStatus, "PAYMENT_STATUS", r.status, pay.OrderStatus, "status")
    return cmd.PaymentFilter(r.municipality_code, r.benefit_code, status.value if status else "", r.due_month,
                             r.case_id)


def create_case_in(r: cases_pb2.CreateCaseRequest) -> cmd.CreateCase:
    v = Violations()
    c = cmd.CreateCase(r.request_id, r.municipality_code, r.cpr, r.benefit_code,
                       enum_in(common_pb2.Channel, "CHANNEL", r.channel, m.Channel, "channel", v),
                       ts_in(r, "received_time", v), json_in(r, "applicant_statement", v), r.external_reference,
                       enum_in(common_pb2.CaseSensitivity, "CASE_SENSITIVITY", r.sensitivity, m.Sensitivity,
                               "sensitivity", v))
    v.raise_if_any()
    return c


def add_information_in(r: cases_pb2.AddInformationRequest) -> cmd.AddInformation:
    v = Violations()
    has_value = r.HasField("value") and r.value.WhichOneof("kind") is not None
    c = cmd.AddInformation(
        r.request_id, r.case_id,
        enum_in(cases_pb2.InformationSource, "INFORMATION_SOURCE", r.source, m.InformationSource, "source", v),
        r.source_reference, r.kind, json_in(r, "value", v) if has_value else None, has_value, r.discretionary,
        enum_in(common_pb2.CaseSensitivity, "CASE_SENSITIVITY", r.sensitivity, m.Sensitivity, "sensitivity", v))
    v.raise_if_any()
    return c


def withdraw_in(r: cases_pb2.WithdrawCaseRequest) -> cmd.WithdrawCase:
    return cmd.WithdrawCase(r.request_id, r.case_id, r.reason)


def case_filter_in(r: cases_pb2.ListCasesRequest) -> cmd.CaseFilter:
    v = Violations()
    status = enum_in(common_pb2.CaseStatus, "CASE_STATUS", r.status, m.CaseStatus, "status", v)
    automation = enum_in(cases_pb2.Automation, "AUTOMATION", r.automation, Automation, "automation", v)
    fallout = enum_in(cases_pb2.FalloutReason, "FALLOUT_REASON", r.fallout_reason, Fallout, "fallout_reason", v)
    f = cmd.CaseFilter(r.municipality_code, r.benefit_code, status.value if status else "", r.cpr,
                       ts_in(r, "received_after", v), ts_in(r, "received_before", v),
                       automation.value if automation else "", fallout.value if fallout else "")
    v.raise_if_any()
    return f


# ---- decisions ---------------------------------------------------------------------------

def amounts_out(items) -> list[common_pb2.PeriodAmount]:
    return [common_pb2.PeriodAmount(amount_oere=a.amount_oere, period_start=date_out(a.period_start),
                                    period_end=date_out(a.period_end)) for a in items]


def points_out(items) -> list[decisions_pb2.DiscretionaryPoint]:
    return [decisions_pb2.DiscretionaryPoint(topic=p.topic, assessment=p.assessment) for p in items]


def decision_out(d: m.Decision) -> decisions_pb2.Decision:
    out = decisions_pb2.Decision(
        decision_id=d.decision_id, case_id=d.case_id,
        status=enum_out(decisions_pb2.DecisionStatus, "DECISION_STATUS", d.status),
        outcome=enum_out(decisions_pb2.Outcome, "OUTCOME", d.outcome), amounts=amounts_out(d.amounts),
        reasoning=d.reasoning, legal_basis=d.legal_basis, discretionary_points=points_out(d.discretionary_points),
        submitted_by_client=d.submitted_by, submitted_time=ts_out(d.submitted_at))
    if d.approval:
        a = d.approval
        out.approval.CopyFrom(decisions_pb2.Approval(
            mode=enum_out(decisions_pb2.ApprovalMode, "APPROVAL_MODE", a.mode), by_client=a.by_client,
            authority=authority_out(m.authority_from_key(a.authority_key)), time=ts_out(a.at), note=a.note,
            amended=a.amended, original_amounts=amounts_out(a.original_amounts),
            original_discretionary_points=points_out(a.original_points)))
    if d.returned:
        out.returned.CopyFrom(decisions_pb2.Return(by_client=d.returned.by_client, time=ts_out(d.returned.at),
                                                   reason=d.returned.reason))
    if d.sent_at:
        out.sent_time.CopyFrom(ts_out(d.sent_at))
        out.letter_reference = d.letter_reference or ""
    if d.effective_from:
        out.effective_from.CopyFrom(date_out(d.effective_from))
    if d.effective_to:
        out.effective_to.CopyFrom(date_out(d.effective_to))
    out.superseded_by_decision_id = d.superseded_by or ""
    out.decisive_fact_ids.extend(d.decisive_fact_ids)
    out.hearing_exception = enum_out(decisions_pb2.HearingException, "HEARING_EXCEPTION", d.hearing_exception)
    out.hearing_exception_note = d.hearing_exception_note
    out.complaint_guidance = d.complaint_guidance
    out.source = enum_out(decisions_pb2.DecisionSource, "DECISION_SOURCE", d.source)
    if d.calculation:
        calculation_into(out.calculation, d.calculation)
    if d.repayment:
        r = d.repayment
        out.repayment.CopyFrom(decisions_pb2.Repayment(amount_oere=r.amount_oere, period_start=date_out(r.period_start),
                                                       period_end=date_out(r.period_end),
                                                       offset_allowed=r.offset_allowed))
    out.offset_repayment = d.offset_repayment
    out.settlement_year = d.settlement_year or 0
    return out


def amounts_in(items) -> list[cmd.PeriodAmountInput]:
    return [cmd.PeriodAmountInput(a.amount_oere, date_parts(a, "period_start"), date_parts(a, "period_end"))
            for a in items]


def points_in(items) -> list[m.DiscretionaryPoint]:
    return [m.DiscretionaryPoint(p.topic, p.assessment) for p in items]


def submit_draft_in(r: decisions_pb2.SubmitDraftDecisionRequest) -> cmd.SubmitDraft:
    return cmd.SubmitDraft(r.request_id, r.case_id,
                           enum_in(decisions_pb2.Outcome, "OUTCOME", r.outcome, m.Outcome, "outcome"),
                           amounts_in(r.amounts), r.reasoning, r.legal_basis, points_in(r.discretionary_points),
                           date_parts(r, "effective_from"), tuple(r.decisive_fact_ids),
                           enum_in(decisions_pb2.HearingException, "HEARING_EXCEPTION", r.hearing_exception,
                                   m.HearingException, "hearing_exception"), r.hearing_exception_note,
                           r.use_calculation, r.departure_reason,
                           cmd.RepaymentInput(r.repayment.amount_oere, date_parts(r.repayment, "period_start"),
                                              date_parts(r.repayment, "period_end"), r.repayment.offset_allowed)
                           if r.HasField("repayment") else None, r.offset_repayment, date_parts(r, "effective_to"))


def approve_in(r: decisions_pb2.ApproveDecisionRequest) -> cmd.ApproveDecision:
    amendment = None
    if r.HasField("amendment"):
        a = r.amendment
        amendment = cmd.Amendment(amounts_in(a.amounts), points_in(a.discretionary_points),
                                  a.replace_discretionary_points)
    return cmd.ApproveDecision(r.request_id, r.decision_id, amendment, r.note)


def return_in(r: decisions_pb2.ReturnDraftRequest) -> cmd.ReturnDraft:
    return cmd.ReturnDraft(r.request_id, r.decision_id, r.reason)


def register_request_in(r: cases_pb2.RequestRegisterDataRequest) -> cmd.RequestRegisterData:
    register = None
    if r.register:
        try:
            register = cases_pb2.Register.Name(r.register)[len("REGISTER_"):]
        except ValueError:
            register = "?"
    return cmd.RequestRegisterData(r.request_id, r.case_id, register, r.from_month, r.to_month)


_OUTBOX_STATUS = {"PENDING": operations_pb2.OUTBOX_STATUS_PENDING, "DELIVERED": operations_pb2.OUTBOX_STATUS_DELIVERED,
                  "DEAD": operations_pb2.OUTBOX_STATUS_DEAD}


def outbox_status_in(number: int) -> str:
    for name, n in _OUTBOX_STATUS.items():
        if n == number:
            return name
    if number:
        raise InvalidArgument([FieldViolation("status", "is not a known value")])
    return ""


def outbox_message_out(r) -> operations_pb2.OutboxMessage:
    return operations_pb2.OutboxMessage(
        message_id=r.message_id, destination=r.destination, case_id=r.case_id or "",
        status=_OUTBOX_STATUS[r.status], attempts=r.attempts, last_error=r.last_error or "",
        created_time=ts_out(r.created_at), next_attempt_time=ts_out(r.next_attempt_at),
        delivered_time=ts_out(r.delivered_at), dead_time=ts_out(r.dead_at), claimed_by=r.claimed_by or "")


def destination_summary_out(e: dict) -> operations_pb2.DestinationSummary:
    return operations_pb2.DestinationSummary(destination=e["destination"], pending=e["pending"], dead=e["dead"],
                                             oldest_pending_created_time=ts_out(e["oldest_pending"]),
                                             paused=e["paused"])


def event_filter_in(f: events_pb2.EventFilter) -> cmd.EventFilter:
    return cmd.EventFilter(tuple(f.event_types), tuple(f.municipality_codes), tuple(f.benefit_codes))


def event_filter_out(f: dict) -> events_pb2.EventFilter:
    return events_pb2.EventFilter(event_types=f.get("event_types", []),
                                  municipality_codes=f.get("municipality_codes", []),
                                  benefit_codes=f.get("benefit_codes", []))


# Event type -> the `details` field that carries it typed (named after the type).
_TYPED_EVENTS = {f.name.replace("_", ".", 1): f.name
                 for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["details"].fields}


def event_out(e: dict) -> events_pb2.Event:
    payload = e["payload"] or {}
    out = events_pb2.Event(sequence=e["seq"], event_id=e["event_id"], type=e["type"],
                           occurred_time=ts_out(e["occurred_at"]), case_id=e["case_id"] or "",
                           municipality_code=e["municipality_code"] or "", benefit_code=e["benefit_code"] or "",
                           client_id=e["client_id"], payload=struct_out(payload))
    field = _TYPED_EVENTS.get(e["type"])
    if field:
        details = getattr(out, field)
        json_format.ParseDict(payload, details, ignore_unknown_fields=True)
        details.SetInParent()   # (set even when it has no fields)
    return out


def subscription_out(s: dict) -> events_pb2.Subscription:
    return events_pb2.Subscription(name=s["name"], filter=event_filter_out(s["filter"]), acked_sequence=s["acked_seq"],
                                   created_time=ts_out(s["created_at"]), updated_time=ts_out(s["updated_at"]))


def audit_entry_out(r: dict) -> audit_pb2.AuditEntry:
    """Without the CPR: the entry says which case; the citizen is the caller's question."""
    return audit_pb2.AuditEntry(sequence=r["seq"], time=ts_out(r["at"]), client_id=r["client_id"], role=r["role"],
                                rpc=r["rpc"], case_id=r["case_id"] or "", outcome=r["outcome"],
                                request_id=r["request_id"] or "", purpose=r["purpose"] or "")


# ---- hearings and complaints ---------------------------------------------------------------

def hearing_out(h: cp.Hearing) -> decisions_pb2.Hearing:
    return decisions_pb2.Hearing(
        hearing_id=h.hearing_id, case_id=h.case_id, decision_id=h.decision_id,
        status=enum_out(decisions_pb2.HearingStatus, "HEARING_STATUS", h.status), fact_item_ids=h.fact_item_ids,
        intended_outcome=enum_out(decisions_pb2.Outcome, "OUTCOME", h.intended_outcome),
        started_by_client=h.started_by, started_time=ts_out(h.started_at), deadline=ts_out(h.deadline),
        response_item_id=h.response_item_id or "", answered_time=ts_out(h.answered_at),
        expired_time=ts_out(h.expired_at), note=h.note)


def complaint_out(c: cp.Complaint, case: m.Case) -> complaints_pb2.Complaint:
    out = complaints_pb2.Complaint(
        complaint_id=c.complaint_id, case_id=c.case_id, decision_id=c.decision_id,
        municipality_code=case.municipality_code, benefit_code=case.benefit_code,
        status=enum_out(complaints_pb2.ComplaintStatus, "COMPLAINT_STATUS", c.status),
        channel=enum_out(common_pb2.Channel, "CHANNEL", c.channel), received_time=ts_out(c.received_at),
        grounds=c.grounds, external_reference=c.external_reference, filed_by_client=c.filed_by,
        filed_time=ts_out(c.filed_at), late=c.late, reconsider_by=ts_out(c.reconsider_by),
        forwarded_time=ts_out(c.forwarded_at), forwarded_reference=c.forwarded_reference or "",
        authority=authority_out(m.authority_from_key(case.authority_key)))
    if c.late_ruling:
        r = c.late_ruling
        out.late_decision.CopyFrom(complaints_pb2.LateDecision(
            decision=enum_out(complaints_pb2.LateComplaintDecision, "LATE_COMPLAINT_DECISION", r.decision),
            reason=r.reason, by_client=r.by_client, time=ts_out(r.at)))
    if c.statement:
        out.statement.CopyFrom(complaints_pb2.Statement(text=c.statement.text, by_client=c.statement.by_client,
                                                        time=ts_out(c.statement.at)))
    if c.reconsideration:
        r = c.reconsideration
        out.reconsideration.CopyFrom(complaints_pb2.Reconsideration(
            outcome=enum_out(complaints_pb2.ReconsiderationOutcome, "RECONSIDERATION_OUTCOME", r.outcome),
            note=r.note, by_client=r.by_client, time=ts_out(r.at), new_decision_id=r.new_decision_id,
            overdue=r.overdue))
    if c.appeal:
        a = c.appeal
        out.appeal.CopyFrom(complaints_pb2.AppealDecision(
            outcome=enum_out(complaints_pb2.AppealOutcome, "APPEAL_OUTCOME", a.outcome),
            appeal_reference=a.appeal_reference, decided_on=date_out(a.decided_on) if a.decided_on else None,
            note=a.note, recorded_by_client=a.recorded_by, recorded_time=ts_out(a.recorded_at),
            new_decision_id=a.new_decision_id))
    return out


def start_hearing_in(r: decisions_pb2.StartHearingRequest) -> cmd.StartHearing:
    return cmd.StartHearing(r.request_id, r.decision_id, r.note)


def hearing_response_in(r: decisions_pb2.RecordHearingResponseRequest) -> cmd.RecordHearingResponse:
    v = Violations()
    c = cmd.RecordHearingResponse(r.request_id, r.hearing_id, r.comments,
                                  enum_in(common_pb2.Channel, "CHANNEL", r.channel, m.Channel, "channel", v),
                                  ts_in(r, "received_time", v))
    v.raise_if_any()
    return c


def file_complaint_in(r: complaints_pb2.FileComplaintRequest) -> cmd.FileComplaint:
    v = Violations()
    c = cmd.FileComplaint(r.request_id, r.decision_id,
                          enum_in(common_pb2.Channel, "CHANNEL", r.channel, m.Channel, "channel", v),
                          ts_in(r, "received_time", v), r.grounds, r.external_reference)
    v.raise_if_any()
    return c


def decide_late_in(r: complaints_pb2.DecideLateComplaintRequest) -> cmd.DecideLateComplaint:
    decision = enum_in(complaints_pb2.LateComplaintDecision, "LATE_COMPLAINT_DECISION", r.decision, cp.LateDecision,
                       "decision")
    return cmd.DecideLateComplaint(r.request_id, r.complaint_id,
                                   None if decision is None else decision is cp.LateDecision.ACCEPTED, r.reason)


def statement_in(r: complaints_pb2.SubmitStatementRequest) -> cmd.SubmitStatement:
    return cmd.SubmitStatement(r.request_id, r.complaint_id, r.text)


def reconsider_in(r: complaints_pb2.ReconsiderRequest) -> cmd.Reconsider:
    outcome = enum_in(complaints_pb2.ReconsiderationOutcome, "RECONSIDERATION_OUTCOME", r.outcome,
                      cp.ReconsiderationOutcome, "outcome")
    return cmd.Reconsider(r.request_id, r.complaint_id,
                          None if outcome is None else outcome is cp.ReconsiderationOutcome.CHANGED,
                          r.decision_id, r.note)


def appeal_outcome_in(r: complaints_pb2.RecordAppealOutcomeRequest) -> cmd.RecordAppealOutcome:
    outcome = enum_in(complaints_pb2.AppealOutcome, "APPEAL_OUTCOME", r.outcome, cp.AppealOutcome, "outcome")
    content = None
    if r.HasField("new_decision"):
        n = r.new_decision
        content = cmd.AppealDecisionContent(
            enum_in(decisions_pb2.Outcome, "OUTCOME", n.outcome, m.Outcome, "new_decision.outcome"),
            amounts_in(n.amounts), n.reasoning, n.legal_basis, date_parts(n, "effective_from"))
    return cmd.RecordAppealOutcome(r.request_id, r.complaint_id, outcome.value if outcome else None,
                                   r.appeal_reference, date_parts(r, "decided_on"), r.note, content)


def complaint_filter_in(r: complaints_pb2.ListComplaintsRequest) -> cmd.ComplaintFilter:
    status = enum_in(complaints_pb2.ComplaintStatus, "COMPLAINT_STATUS", r.status, cp.ComplaintStatus, "status")
    return cmd.ComplaintFilter(r.municipality_code, status.value if status else "", r.awaiting_reconsideration)


def overdue_kind_in(number: int) -> cp.OverdueKind | None:
    return enum_in(cases_pb2.OverdueKind, "OVERDUE_KIND", number, cp.OverdueKind, "kind")


def overdue_out(i: cp.OverdueItem) -> cases_pb2.OverdueItem:
    return cases_pb2.OverdueItem(
        kind=enum_out(cases_pb2.OverdueKind, "OVERDUE_KIND", i.kind), case_id=i.case_id,
        municipality_code=i.municipality_code, benefit_code=i.benefit_code, subject_id=i.subject_id,
        due_time=ts_out(i.due_at), authority=authority_out(m.authority_from_key(i.authority_key)))


# ---- calculations by the rules (as a decision keeps them) ----------------------------------

def calculation_into(out: calculation_pb2.Calculation, c: dict[str, Any]) -> None:
    """A stored calculation (hub.domain.rules.calculation_to_dict) into its message."""
    for p in c.get("periods", ()):
        period = out.periods.add(
            per=benefits_pb2.PeriodKind.Value(f"PERIOD_KIND_{p['per']}"), amount_oere=p["amount_oere"],
            rule_set_version=p["rule_set_version"], scheme=p.get("scheme", ""),
            assessment_points=p.get("assessment", ()))
        period.period_start.CopyFrom(date_out(dt.date.fromisoformat(p["period_start"])))
        period.period_end.CopyFrom(date_out(dt.date.fromisoformat(p["period_end"])))
        for st in p.get("steps", ()):
            period.steps.add(text=st["text"], value=st["value"], unit=calculation_pb2.RuleUnit.Value(
                f"RULE_UNIT_{st['unit']}"), basis=st.get("basis", ""), working=st.get("working", ""))
    for f in c.get("facts", ()):
        out.facts.add(name=f["name"], text=f.get("text", ""), shown=f.get("shown", ""),
                      unit=calculation_pb2.RuleUnit.Value(f"RULE_UNIT_{f['unit']}"), source=f.get("source", ""),
                      information_ids=f.get("information_ids", ()))
    out.departure_reason = c.get("departure_reason", "")
