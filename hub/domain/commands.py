"""What callers ask for, and the checks on each field. Field names are the request's
(proto) field names, so that a violation points the caller at the right field."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from hub.domain import cpr as cpr_rules
from hub.domain.billing import QUARTER_YEARS, Quarter
from hub.domain import months as month_rules
from hub.domain import municipalities
from hub.domain.errors import Violations
from hub.domain.payments import MAX_AMOUNT_OERE, SettlementResult
from hub.domain.model import (Channel, DiscretionaryPoint, HearingException, InformationSource, Outcome, PeriodAmount,
                              Repayment, Sensitivity)

MAX_REQUEST_ID = 128
MAX_TEXT = 20_000
MAX_SHORT = 200
MAX_JSON_BYTES = 64 * 1024
# Accepted clock skew for a received time "now" stated by a caller.
CLOCK_SKEW = dt.timedelta(minutes=5)
_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_BENEFIT_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")

DateParts = tuple[int, int, int]


def check_request_id(v: Violations, request_id: str) -> None:
    if v.require(bool(request_id), "request_id", "is required (an idempotency key, e.g. a UUID)"):
        v.require(len(request_id) <= MAX_REQUEST_ID, "request_id", f"must be at most {MAX_REQUEST_ID} characters")


MAX_ID = 36  # the ids the hub issues (UUIDs), and the columns that keep them


def check_id_filter(v: Violations, name: str, value: str) -> None:
    """An id to look for (optional): longer than any id the hub issues, it is a mistake."""
    v.require(len(value) <= MAX_ID, name, f"is not an id this hub issues (at most {MAX_ID} characters)")


def check_text(v: Violations, name: str, value: str, *, required: bool = False, limit: int = MAX_TEXT) -> None:
    if required and not value.strip():
        v.add(name, "is required")
    elif len(value) > limit:
        v.add(name, f"must be at most {limit} characters")


# json.dumps builds a new encoder for every call with a non-default argument.
_JSON = json.JSONEncoder(ensure_ascii=False)


def check_json_size(v: Violations, name: str, value: Any) -> None:
    if len(_JSON.encode(value).encode()) > MAX_JSON_BYTES:
        v.add(name, f"must be at most {MAX_JSON_BYTES} bytes as JSON")


def check_municipality(v: Violations, name: str, code: str, *, required: bool = True) -> None:
    if not code:
        if required:
            v.add(name, "is required")
    elif municipalities.get(code) is None:
        v.add(name, "is not an official municipality code")


def check_benefit_code(v: Violations, name: str, code: str, *, required: bool = True) -> None:
    if not code:
        if required:
            v.add(name, "is required")
    elif not _BENEFIT_CODE.match(code):
        v.add(name, "is not a benefit code")


def to_date(v: Violations, name: str, parts: DateParts | None) -> dt.date | None:
    if parts is None or parts == (0, 0, 0):
        v.add(name, "is required")
        return None
    try:
        return dt.date(*parts)
    except ValueError:
        v.add(name, "is not a real calendar date")
        return None


@dataclass(frozen=True)
class PeriodAmountInput:
    amount_oere: int
    period_start: DateParts | None
    period_end: DateParts | None


def check_amounts(v: Violations, name: str, items: list[PeriodAmountInput]) -> tuple[PeriodAmount, ...]:
    out: list[PeriodAmount] = []
    for i, item in enumerate(items):
        f = f"{name}[{i}]"
        ok = v.require(0 <= item.amount_oere <= MAX_AMOUNT_OERE, f"{f}.amount_oere",
                       f"must be from 0 to {MAX_AMOUNT_OERE} øre" if item.amount_oere > 0 else "must not be negative (øre)")
        start = to_date(v, f"{f}.period_start", item.period_start)
        end = to_date(v, f"{f}.period_end", item.period_end)
        if start and end:
            ok = v.require(start <= end, f"{f}.period_end", "must not be before period_start") and ok
            if ok:
                out.append(PeriodAmount(item.amount_oere, start, end))
    ordered = sorted(out, key=lambda p: p.period_start)
    for a, b in zip(ordered, ordered[1:]):
        if b.period_start <= a.period_end:
            v.add(name, "periods must not overlap")
            break
    return tuple(out)


def check_points(v: Violations, name: str, points: list[DiscretionaryPoint]) -> tuple[DiscretionaryPoint, ...]:
    for i, p in enumerate(points):
        check_text(v, f"{name}[{i}].topic", p.topic, required=True, limit=MAX_SHORT)
        check_text(v, f"{name}[{i}].assessment", p.assessment, required=True)
    return tuple(points)


@dataclass(frozen=True)
class CreateCase:
    request_id: str
    municipality_code: str
    cpr: str
    benefit_code: str
    channel: Channel | None
    received_at: dt.datetime | None
    applicant_statement: dict[str, Any] = field(default_factory=dict)
    external_reference: str = ""
    sensitivity: Sensitivity | None = None  # None: not confidential

    def validated(self, now: dt.datetime) -> "CreateCase":
        v = Violations()
        check_request_id(v, self.request_id)
        check_municipality(v, "municipality_code", self.municipality_code)
        problem = cpr_rules.problem(self.cpr, now.date())
        if problem:
            v.add("cpr", problem)
        check_benefit_code(v, "benefit_code", self.benefit_code)
        v.require(self.channel is not None, "channel", "is required")
        if self.received_at is not None:
            v.require(self.received_at <= now + CLOCK_SKEW, "received_time", "must not be in the future")
        check_json_size(v, "applicant_statement", self.applicant_statement)
        check_text(v, "external_reference", self.external_reference, limit=MAX_SHORT)
        v.raise_if_any()
        return CreateCase(self.request_id, self.municipality_code, cpr_rules.normalise(self.cpr) or "",
                          self.benefit_code, self.channel, self.received_at or now,
                          self.applicant_statement, self.external_reference,
                          self.sensitivity or Sensitivity.NOT_CONFIDENTIAL)


@dataclass(frozen=True)
class AddInformation:
    request_id: str
    case_id: str
    source: InformationSource | None
    source_reference: str
    kind: str
    value: Any
    has_value: bool
    discretionary: bool
    sensitivity: Sensitivity | None = None  # raise the case's sensitivity to this

    def validate(self) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.case_id), "case_id", "is required")
        v.require(self.source is not None, "source", "is required")
        check_text(v, "source_reference", self.source_reference, limit=MAX_SHORT)
        if v.require(bool(self.kind), "kind", "is required"):
            v.require(len(self.kind) <= MAX_SHORT and bool(_KIND.match(self.kind)), "kind",
                      "must be lower-case words separated by dots, e.g. income.monthly")
        if v.require(self.has_value, "value", "is required"):
            check_json_size(v, "value", self.value)
        v.raise_if_any()


@dataclass(frozen=True)
class WithdrawCase:
    request_id: str
    case_id: str
    reason: str = ""

    def validate(self) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.case_id), "case_id", "is required")
        check_text(v, "reason", self.reason)
        v.raise_if_any()


_EVENT_TYPE = re.compile(r"^[a-z][a-z_]*(\.[a-z_]+)+$")
_SUBSCRIPTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class EventFilter:
    event_types: tuple[str, ...] = ()
    municipality_codes: tuple[str, ...] = ()
    benefit_codes: tuple[str, ...] = ()

    def check(self, v: Violations, prefix: str = "filter") -> None:
        for i, e in enumerate(self.event_types):
            v.require(bool(_EVENT_TYPE.match(e)), f"{prefix}.event_types[{i}]", "is not an event type (e.g. case.created)")
        for i, m in enumerate(self.municipality_codes):
            check_municipality(v, f"{prefix}.municipality_codes[{i}]", m)
        for i, b in enumerate(self.benefit_codes):
            check_benefit_code(v, f"{prefix}.benefit_codes[{i}]", b)

    def as_dict(self) -> dict[str, list[str]]:
        return dict(event_types=list(self.event_types), municipality_codes=list(self.municipality_codes),
                    benefit_codes=list(self.benefit_codes))

    @classmethod
    def from_dict(cls, d: dict[str, list[str]]) -> "EventFilter":
        return cls(tuple(d.get("event_types", ())), tuple(d.get("municipality_codes", ())),
                   tuple(d.get("benefit_codes", ())))


def check_subscription_name(v: Violations, name: str) -> None:
    v.require(bool(_SUBSCRIPTION_NAME.match(name)), "name",
              "is required: letters, digits, '.', '-' and '_', at most 100")


REGISTERS = ("INCOME",)
MAX_REGISTER_MONTHS = 36


@dataclass(frozen=True)
class RequestRegisterData:
    request_id: str
    case_id: str
    register: str | None
    from_month: str
    to_month: str

    def validated(self, today: dt.date) -> list[str]:
        """The months asked for."""
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.case_id), "case_id", "is required")
        v.require(self.register in REGISTERS, "register", "is required (REGISTER_INCOME)")
        first, last = month_rules.parse(self.from_month), month_rules.parse(self.to_month)
        v.require(first is not None, "from_month", "must be a month as YYYY-MM")
        v.require(last is not None, "to_month", "must be a month as YYYY-MM")
        months: list[str] = []
        if first and last:
            months = month_rules.between(self.from_month, self.to_month)
            if v.require(bool(months), "to_month", "must not be before from_month"):
                v.require(len(months) <= MAX_REGISTER_MONTHS, "to_month",
                          f"at most {MAX_REGISTER_MONTHS} months at a time")
        if last:
            v.require(last <= (today.year, today.month), "to_month", "must not be in the future")
        v.raise_if_any()
        return months


@dataclass(frozen=True)
class SubmitDraft:
    request_id: str
    case_id: str
    outcome: Outcome | None
    amounts: list[PeriodAmountInput]
    reasoning: str
    legal_basis: str
    discretionary_points: list[DiscretionaryPoint]
    effective_from: DateParts | None = None
    decisive_fact_ids: tuple[str, ...] = ()
    hearing_exception: HearingException | None = None
    hearing_exception_note: str = ""
    use_calculation: bool = False    # the outcome, amounts and reasons come from the rules' calculation
    departure_reason: str = ""       # the draft's own amounts depart from the calculation, for this reason
    repayment: RepaymentInput | None = None   # a repayment decision (Outcome.REPAYMENT)
    offset_repayment: bool = False   # an overpayment the draft causes may be offset in later payments
    effective_to: DateParts | None = None     # the last day it governs payments (None: open-ended)

    @property
    def outcome_given(self) -> Outcome | None:
        """The outcome, REPAYMENT where a repayment implies it."""
        return Outcome.REPAYMENT if self.outcome is None and self.repayment is not None else self.outcome

    def validated(self) -> tuple[tuple[PeriodAmount, ...], tuple[DiscretionaryPoint, ...], dt.date | None,
                                 Repayment | None, dt.date | None]:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.case_id), "case_id", "is required")
        outcome = self.outcome_given
        amounts, effective = check_decision_content(v, outcome, self.amounts, self.reasoning, self.legal_basis,
                                                    self.effective_from, outcome_required=not self.use_calculation,
                                                    repayment_allowed=True)
        repayment = None
        if outcome is Outcome.REPAYMENT:
            repayment = check_repayment(v, "repayment", self.repayment)
            v.require(not self.amounts, "amounts", "a repayment decision grants no amount: its repayment says what "
                                                   "is to be paid back")
            v.require(not self.use_calculation, "use_calculation", "not with a repayment decision")
            v.require(not self.departure_reason, "departure_reason", "not with a repayment decision")
            v.require(self.effective_from is None, "effective_from", "not with a repayment decision (it changes no "
                                                                     "grant)")
            v.require(not self.offset_repayment, "offset_repayment", "not with a repayment decision: its "
                                                                     "repayment.offset_allowed says it")
            v.require(self.effective_to is None, "effective_to", "not with a repayment decision (it changes no "
                                                                 "grant)")
        elif self.repayment is not None:
            v.add("repayment", "only with outcome OUTCOME_REPAYMENT")
        if self.use_calculation:
            v.require(not self.departure_reason, "departure_reason",
                      "not with use_calculation: a draft accepts the calculation or departs from it")
        else:
            check_text(v, "departure_reason", self.departure_reason)
        points = check_points(v, "discretionary_points", self.discretionary_points)
        for i, f in enumerate(self.decisive_fact_ids):
            v.require(bool(f) and len(f) <= 36, f"decisive_fact_ids[{i}]", "must be an information item id")
        v.require(len(set(self.decisive_fact_ids)) == len(self.decisive_fact_ids), "decisive_fact_ids",
                  "must not name an item twice")
        if self.hearing_exception is not None:
            check_text(v, "hearing_exception_note", self.hearing_exception_note, required=True)
        else:
            v.require(not self.hearing_exception_note, "hearing_exception_note", "only with a hearing_exception")
        effective_to = to_date(v, "effective_to", self.effective_to) if self.effective_to else None
        v.raise_if_any()
        return amounts, points, effective, repayment, effective_to


@dataclass(frozen=True)
class RepaymentInput:
    amount_oere: int
    period_start: DateParts | None
    period_end: DateParts | None
    offset_allowed: bool


def check_repayment(v: Violations, name: str, r: RepaymentInput | None) -> Repayment | None:
    if r is None:
        v.add(name, "is required with outcome OUTCOME_REPAYMENT: what the citizen must pay back")
        return None
    ok = v.require(0 < r.amount_oere <= MAX_AMOUNT_OERE, f"{name}.amount_oere",
                   f"must be from 1 to {MAX_AMOUNT_OERE} øre")
    start = to_date(v, f"{name}.period_start", r.period_start)
    end = to_date(v, f"{name}.period_end", r.period_end)
    if not (ok and start and end):
        return None
    if not v.require(start <= end, f"{name}.period_end", "must not be before period_start"):
        return None
    return Repayment(r.amount_oere, start, end, r.offset_allowed)


def check_decision_content(v: Violations, outcome: Outcome | None, items: list[PeriodAmountInput], reasoning: str,
                           legal_basis: str, effective_from: DateParts | None, prefix: str = "", *,
                           outcome_required: bool = True,
                           repayment_allowed: bool = False) -> tuple[tuple[PeriodAmount, ...], dt.date | None]:
    """A decision's outcome, amounts and texts, from a draft or from the appeals authority."""
    v.require(outcome is not None or not outcome_required, f"{prefix}outcome", "is required")
    v.require(outcome is not Outcome.REPAYMENT or repayment_allowed, f"{prefix}outcome",
              "OUTCOME_REPAYMENT is the authority's own decision (a draft with a repayment)")
    amounts = check_amounts(v, f"{prefix}amounts", items)
    if outcome in (Outcome.GRANTED, Outcome.PARTLY_GRANTED):
        v.require(bool(items), f"{prefix}amounts", "a grant needs at least one period amount")
    elif outcome is Outcome.REFUSED:
        v.require(all(a.amount_oere == 0 for a in items), f"{prefix}amounts", "a refusal grants no amount")
    check_text(v, f"{prefix}reasoning", reasoning)
    check_text(v, f"{prefix}legal_basis", legal_basis, limit=MAX_SHORT * 5)
    effective = to_date(v, f"{prefix}effective_from", effective_from) if effective_from else None
    return amounts, effective


@dataclass(frozen=True)
class Amendment:
    amounts: list[PeriodAmountInput]
    discretionary_points: list[DiscretionaryPoint]
    replace_discretionary_points: bool


@dataclass(frozen=True)
class ApproveDecision:
    request_id: str
    decision_id: str
    amendment: Amendment | None
    note: str

    def validated(self) -> tuple[tuple[PeriodAmount, ...] | None, tuple[DiscretionaryPoint, ...] | None]:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.decision_id), "decision_id", "is required")
        check_text(v, "note", self.note)
        amounts = points = None
        if self.amendment is not None:
            a = self.amendment
            v.require(bool(a.amounts) or a.replace_discretionary_points, "amendment",
                      "names nothing to change: give amounts or replace_discretionary_points")
            v.require(bool(self.note.strip()), "note", "is required when the decision is amended")
            if a.amounts:
                amounts = check_amounts(v, "amendment.amounts", a.amounts)
            if a.replace_discretionary_points:
                points = check_points(v, "amendment.discretionary_points", a.discretionary_points)
        v.raise_if_any()
        return amounts, points


@dataclass(frozen=True)
class ReturnDraft:
    request_id: str
    decision_id: str
    reason: str

    def validate(self) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.decision_id), "decision_id", "is required")
        check_text(v, "reason", self.reason, required=True)
        v.raise_if_any()


@dataclass(frozen=True)
class CaseFilter:
    municipality_code: str = ""
    benefit_code: str = ""
    status: str = ""
    cpr: str = ""
    received_after: dt.datetime | None = None
    received_before: dt.datetime | None = None
    automation: str = ""        # hub.domain.automation.Automation
    fallout_reason: str = ""    # hub.domain.automation.Fallout (implies automation FELL_OUT)

    def validated(self, today: dt.date) -> "CaseFilter":
        v = Violations()
        check_municipality(v, "municipality_code", self.municipality_code, required=False)
        check_benefit_code(v, "benefit_code", self.benefit_code, required=False)
        cpr = ""
        if self.cpr:
            problem = cpr_rules.problem(self.cpr, today)
            if problem:
                v.add("cpr", problem)
            else:
                cpr = cpr_rules.normalise(self.cpr) or ""
        if self.received_after and self.received_before:
            v.require(self.received_after < self.received_before, "received_before", "must be after received_after")
        if self.fallout_reason:
            v.require(self.automation in ("", "FELL_OUT"), "fallout_reason", "only with automation FELL_OUT (or none)")
        v.raise_if_any()
        return CaseFilter(self.municipality_code, self.benefit_code, self.status, cpr,
                          self.received_after, self.received_before,
                          "FELL_OUT" if self.fallout_reason else self.automation, self.fallout_reason)


MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


def page_size(v: Violations, requested: int) -> int:
    if requested < 0:
        v.add("page_size", "must not be negative")
        return DEFAULT_PAGE_SIZE
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


# ---- hearings and complaints -------------------------------------------------------------

def check_received(v: Violations, received_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if received_at is not None:
        v.require(received_at <= now + CLOCK_SKEW, "received_time", "must not be in the future")
    return received_at or now


@dataclass(frozen=True)
class StartHearing:
    request_id: str
    decision_id: str
    note: str = ""

    def validate(self) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.decision_id), "decision_id", "is required")
        check_text(v, "note", self.note)
        v.raise_if_any()


@dataclass(frozen=True)
class RecordHearingResponse:
    request_id: str
    hearing_id: str
    comments: str
    channel: Channel | None
    received_at: dt.datetime | None

    def validated(self, now: dt.datetime) -> dt.datetime:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.hearing_id), "hearing_id", "is required")
        check_text(v, "comments", self.comments, required=True)
        v.require(self.channel is not None, "channel", "is required")
        received = check_received(v, self.received_at, now)
        v.raise_if_any()
        return received


@dataclass(frozen=True)
class FileComplaint:
    request_id: str
    decision_id: str
    channel: Channel | None
    received_at: dt.datetime | None
    grounds: str
    external_reference: str = ""

    def validated(self, now: dt.datetime) -> dt.datetime:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.decision_id), "decision_id", "is required")
        v.require(self.channel is not None, "channel", "is required")
        check_text(v, "grounds", self.grounds, required=True)
        check_text(v, "external_reference", self.external_reference, limit=MAX_SHORT)
        received = check_received(v, self.received_at, now)
        v.raise_if_any()
        return received


def check_complaint_step(v: Violations, request_id: str, complaint_id: str) -> None:
    check_request_id(v, request_id)
    v.require(bool(complaint_id), "complaint_id", "is required")


@dataclass(frozen=True)
class DecideLateComplaint:
    request_id: str
    complaint_id: str
    accept: bool | None
    reason: str

    def validate(self) -> None:
        v = Violations()
        check_complaint_step(v, self.request_id, self.complaint_id)
        v.require(self.accept is not None, "decision", "is required (ACCEPTED or DISMISSED)")
        check_text(v, "reason", self.reason, required=True)
        v.raise_if_any()


@dataclass(frozen=True)
class SubmitStatement:
    request_id: str
    complaint_id: str
    text: str

    def validate(self) -> None:
        v = Violations()
        check_complaint_step(v, self.request_id, self.complaint_id)
        check_text(v, "text", self.text, required=True)
        v.raise_if_any()


@dataclass(frozen=True)
class Reconsider:
    request_id: str
    complaint_id: str
    changed: bool | None  # None: no outcome given
    decision_id: str
    note: str

    def validate(self) -> None:
        v = Violations()
        check_complaint_step(v, self.request_id, self.complaint_id)
        if v.require(self.changed is not None, "outcome", "is required (CHANGED or UPHELD)"):
            if self.changed:
                v.require(bool(self.decision_id), "decision_id", "is required when the decision is changed: the "
                                                                 "new decision (a draft, or one approved since)")
            else:
                v.require(not self.decision_id, "decision_id", "only when the decision is changed")
        check_text(v, "note", self.note)
        v.raise_if_any()


@dataclass(frozen=True)
class AppealDecisionContent:
    outcome: Outcome | None
    amounts: list[PeriodAmountInput]
    reasoning: str
    legal_basis: str
    effective_from: DateParts | None


@dataclass(frozen=True)
class RecordAppealOutcome:
    request_id: str
    complaint_id: str
    outcome: str | None  # hub.domain.complaints.AppealOutcome value
    appeal_reference: str
    decided_on: DateParts | None
    note: str
    new_decision: AppealDecisionContent | None

    def validated(self) -> tuple[dt.date | None, tuple[PeriodAmount, ...], dt.date | None]:
        """(decided on, the new decision's amounts and effective date)."""
        v = Violations()
        check_complaint_step(v, self.request_id, self.complaint_id)
        v.require(self.outcome is not None, "outcome", "is required")
        check_text(v, "appeal_reference", self.appeal_reference, required=True, limit=MAX_SHORT)
        check_text(v, "note", self.note)
        decided = to_date(v, "decided_on", self.decided_on) if self.decided_on else None
        amounts: tuple[PeriodAmount, ...] = ()
        effective = None
        n = self.new_decision
        if self.outcome == "CHANGED":
            if v.require(n is not None, "new_decision", "is required when the appeals authority changed the decision"):
                amounts, effective = check_decision_content(v, n.outcome, n.amounts, n.reasoning, n.legal_basis,
                                                            n.effective_from, prefix="new_decision.")
                check_text(v, "new_decision.legal_basis", n.legal_basis, required=True)
        elif self.outcome is not None:
            v.require(n is None, "new_decision", "only when the appeals authority changed the decision")
        v.raise_if_any()
        return decided, amounts, effective


@dataclass(frozen=True)
class ComplaintFilter:
    municipality_code: str = ""
    status: str = ""
    awaiting_reconsideration: bool = False


# ---- payments and claims -------------------------------------------------------------------

MAX_BATCH = 5000
MAX_SETTLEMENTS = 1000


def check_month(v: Violations, name: str, value: str) -> None:
    v.require(month_rules.parse(value) is not None, name, "must be a month, YYYY-MM")


def check_run_period(v: Violations, period: str, now: dt.datetime) -> None:
    """Orders are made for this month and the next at most: a run for a later month
    would pay months of benefit ahead at once."""
    if month_rules.parse(period) is None:
        v.add("period", "must be a month, YYYY-MM")
        return
    latest = month_rules.following(month_rules.of(now))
    v.require(period <= latest, "period", f"must not be after {latest}: payments are ordered at most one month ahead")


@dataclass(frozen=True)
class RunPayments:
    request_id: str
    period: str

    def validate(self, now: dt.datetime) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        check_run_period(v, self.period, now)
        v.raise_if_any()


@dataclass(frozen=True)
class SchedulePayments:
    request_id: str
    decision_id: str
    period: str

    def validate(self, now: dt.datetime) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.decision_id), "decision_id", "is required")
        check_run_period(v, self.period, now)
        v.raise_if_any()


@dataclass(frozen=True)
class PaymentFilter:
    municipality_code: str = ""
    benefit_code: str = ""
    status: str = ""
    due_month: str = ""
    case_id: str = ""

    def validate(self) -> None:
        v = Violations()
        check_municipality(v, "municipality_code", self.municipality_code, required=False)
        check_benefit_code(v, "benefit_code", self.benefit_code, required=False)
        if self.due_month:
            check_month(v, "due_month", self.due_month)
        v.raise_if_any()


def check_batch_size(max_orders: int) -> None:
    v = Violations()
    v.require(0 <= max_orders <= MAX_BATCH, "max_orders", f"must be between 1 and {MAX_BATCH} (0: 500)")
    v.raise_if_any()


@dataclass(frozen=True)
class SettlementReport:
    end_to_end_id: str
    result: SettlementResult | None
    amount_oere: int
    bank_reference: str
    settlement_date: DateParts | None
    reason: str


@dataclass(frozen=True)
class ReportSettlement:
    request_id: str
    reports: tuple[SettlementReport, ...]

    def validated(self) -> list[tuple[SettlementReport, dt.date | None]]:
        """Each report with its settlement date."""
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(0 < len(self.reports) <= MAX_SETTLEMENTS, "settlements", f"give 1 to {MAX_SETTLEMENTS} results")
        seen: set[str] = set()
        out = []
        for i, r in enumerate(self.reports):
            f = f"settlements[{i}]"
            v.require(bool(r.end_to_end_id), f"{f}.end_to_end_id", "is required")
            v.require(r.end_to_end_id not in seen, f"{f}.end_to_end_id", "is reported twice in this request")
            seen.add(r.end_to_end_id)
            v.require(r.result is not None, f"{f}.result", "is required")
            v.require(r.amount_oere >= 0, f"{f}.amount_oere", "must not be negative (øre)")
            date = to_date(v, f"{f}.settlement_date", r.settlement_date)
            if r.result in (SettlementResult.REJECTED, SettlementResult.RETURNED):
                v.require(bool(r.reason.strip()), f"{f}.reason", "is required for a rejected or returned payment")
            out.append((r, date))
        v.raise_if_any()
        return out


@dataclass(frozen=True)
class ReissuePayment:
    request_id: str
    end_to_end_id: str

    def validate(self) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.end_to_end_id), "end_to_end_id", "is required")
        v.raise_if_any()


@dataclass(frozen=True)
class PushPaymentBatch:
    request_id: str
    provider_id: str

    def validate(self, is_provider: bool) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(is_provider, "provider_id", "is not a client with the payment_provider role")
        v.raise_if_any()


@dataclass(frozen=True)
class ClaimChange:
    """SetClaimOffset, WriteOffClaim, ReportCollection: what changes on one claim."""
    request_id: str
    claim_id: str
    offset_allowed: bool | None = None   # SetClaimOffset
    reason: str | None = None            # WriteOffClaim
    amount_oere: int | None = None       # ReportCollection
    reference: str = ""

    def validate(self) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        v.require(bool(self.claim_id), "claim_id", "is required")
        if self.reason is not None:
            check_text(v, "reason", self.reason, required=True)
        if self.amount_oere is not None:
            v.require(self.amount_oere > 0, "amount_oere", "must be positive (øre)")
            check_text(v, "reference", self.reference, limit=MAX_SHORT)
        v.raise_if_any()


# ---- rules ---------------------------------------------------------------------------------

_PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
MAX_PARAMETERS = 200
MAX_CALCULATION_DAYS = 3 * 366


@dataclass(frozen=True)
class RuleParameterInput:
    name: str
    value: int | None
    unit: Any                        # hub.domain.rules.Unit, or None
    section: str
    source: str
    note: str


@dataclass(frozen=True)
class PublishRuleSet:
    request_id: str
    benefit_code: str
    effective_from: DateParts | None
    legal_basis: str
    source: str
    note: str
    parameters: tuple[RuleParameterInput, ...]

    def validated(self) -> dt.date:
        v = Violations()
        check_request_id(v, self.request_id)
        check_benefit_code(v, "benefit_code", self.benefit_code)
        v.require(self.effective_from is not None, "effective_from", "is required")
        effective = to_date(v, "effective_from", self.effective_from)
        check_text(v, "legal_basis", self.legal_basis, required=True, limit=MAX_SHORT * 5)
        check_text(v, "source", self.source, required=True, limit=MAX_SHORT * 5)
        check_text(v, "note", self.note)
        v.require(0 < len(self.parameters) <= MAX_PARAMETERS, "parameters", f"give 1 to {MAX_PARAMETERS} figures")
        seen: set[str] = set()
        for i, p in enumerate(self.parameters):
            f = f"parameters[{i}]"
            if v.require(bool(_PARAMETER_NAME.match(p.name)) and len(p.name) <= 100, f"{f}.name",
                         "must be a dotted lower-case name, e.g. sikring.income_limit"):
                v.require(p.name not in seen, f"{f}.name", "is given twice")
            seen.add(p.name)
            v.require(p.unit is not None, f"{f}.unit", "is required")
            if p.value is None:
                check_text(v, f"{f}.note", p.note, required=True)  # what was searched for a figure not found
            else:
                v.require(0 <= p.value <= MAX_AMOUNT_OERE, f"{f}.value", "must be a whole number from 0 (øre, "
                          "basis points, m²)")
                check_text(v, f"{f}.note", p.note)
            check_text(v, f"{f}.section", p.section, required=True, limit=MAX_SHORT)
            check_text(v, f"{f}.source", p.source, required=True, limit=MAX_SHORT * 5)
        v.raise_if_any()
        return effective


CALCULABLE_YEARS = (1900, 2999)


@dataclass(frozen=True)
class CalculateDraft:
    case_id: str
    period_start: DateParts | None = None
    period_end: DateParts | None = None

    def validated(self) -> tuple[dt.date | None, dt.date | None]:
        v = Violations()
        v.require(bool(self.case_id), "case_id", "is required")
        check_id_filter(v, "case_id", self.case_id)
        start = to_date(v, "period_start", self.period_start) if self.period_start else None
        end = to_date(v, "period_end", self.period_end) if self.period_end else None
        # (A calculation reaches past its period's end, to the next month and year: the
        # last year a date can have is no year to calculate for.)
        for name, d in (("period_start", start), ("period_end", end)):
            if d is not None:
                v.require(CALCULABLE_YEARS[0] <= d.year <= CALCULABLE_YEARS[1], name,
                          f"must be in the years {CALCULABLE_YEARS[0]} to {CALCULABLE_YEARS[1]}")
        if start and end:
            v.require(start <= end, "period_end", "must not be before period_start")
            v.require((end - start).days <= MAX_CALCULATION_DAYS, "period_end", "at most three years after the start")
        v.raise_if_any()
        return start, end


# ---- final settlement -------------------------------------------------------------------------

SETTLEMENT_STATUSES = ("PENDING", "WAITING", "NEEDS_PERSON", "SETTLED")
SETTLEMENT_RESULTS = ("NOTHING", "BACK_PAYMENT", "REPAYMENT")


@dataclass(frozen=True)
class RunFinalSettlement:
    request_id: str
    income_year: int
    benefit_code: str
    municipality_code: str = ""

    def validate(self, now: dt.datetime) -> None:
        """A year that has ended (its final income can be known), a benefit, the request id."""
        v = Violations()
        check_request_id(v, self.request_id)
        check_benefit_code(v, "benefit_code", self.benefit_code)
        check_municipality(v, "municipality_code", self.municipality_code, required=False)
        if v.require(CALCULABLE_YEARS[0] <= self.income_year <= CALCULABLE_YEARS[1], "income_year",
                     f"must be a year from {CALCULABLE_YEARS[0]} to {CALCULABLE_YEARS[1]}"):
            this_year = now.astimezone(month_rules.COPENHAGEN).year
            v.require(self.income_year < this_year, "income_year",
                      f"must be a year that has ended (before {this_year}): its final income is assessed after it")
        v.raise_if_any()


@dataclass(frozen=True)
class SettlementFilter:
    income_year: int = 0
    benefit_code: str = ""
    municipality_code: str = ""
    status: str = ""
    result: str = ""

    def validate(self) -> None:
        v = Violations()
        v.require(self.income_year == 0 or CALCULABLE_YEARS[0] <= self.income_year <= CALCULABLE_YEARS[1],
                  "income_year", f"must be a year from {CALCULABLE_YEARS[0]} to {CALCULABLE_YEARS[1]} (0: any)")
        check_benefit_code(v, "benefit_code", self.benefit_code, required=False)
        check_municipality(v, "municipality_code", self.municipality_code, required=False)
        v.require(not self.status or self.status in SETTLEMENT_STATUSES, "status", "is not a settlement status")
        v.require(not self.result or self.result in SETTLEMENT_RESULTS, "result", "is not a settlement result")
        v.raise_if_any()


# ---- IT control -------------------------------------------------------------------------------

CONTROL_RULES = ("INCOME_DEVIATION", "HOUSEHOLD_CHANGE", "RENT_CHANGE", "PAYMENT_AFTER_DEATH",
                 "PAYMENT_AFTER_EMIGRATION")   # hub.domain.control.RuleCode
CONTROL_STATUSES = ("OPEN", "CLOSED")
CONTROL_FOLLOW_UPS = ("NONE", "DRAFT_DECISION", "BACK_OFFICE")
CONTROL_OUTCOMES = ("NO_CHANGE", "ENTITLEMENT_CHANGED", "FRAUD_SUSPECTED")
EARLIEST_CONTROL_PERIOD = "2000-01"


def check_control_period(v: Violations, name: str, period: str, now: dt.datetime) -> None:
    """A month that has begun: the registers know nothing of a later one."""
    if month_rules.parse(period) is None:
        v.add(name, "must be a month, YYYY-MM")
        return
    this = month_rules.of(now)
    v.require(EARLIEST_CONTROL_PERIOD <= period <= this, name,
              f"must be a month from {EARLIEST_CONTROL_PERIOD} to this month ({this})")


@dataclass(frozen=True)
class RunControl:
    request_id: str
    period: str                       # YYYY-MM: the month controlled
    municipality_code: str = ""
    benefit_code: str = ""
    rules: tuple[str, ...] = ()       # () : every rule

    def validate(self, now: dt.datetime) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        check_control_period(v, "period", self.period, now)
        check_municipality(v, "municipality_code", self.municipality_code, required=False)
        check_benefit_code(v, "benefit_code", self.benefit_code, required=False)
        for i, r in enumerate(self.rules):
            v.require(r in CONTROL_RULES, f"rules[{i}]", "is not a control rule")
        v.raise_if_any()


@dataclass(frozen=True)
class ControlFindingFilter:
    municipality_code: str = ""
    benefit_code: str = ""
    rule: str = ""
    status: str = ""
    case_id: str = ""
    period: str = ""
    follow_up: str = ""

    def validate(self) -> None:
        v = Violations()
        check_municipality(v, "municipality_code", self.municipality_code, required=False)
        check_benefit_code(v, "benefit_code", self.benefit_code, required=False)
        check_id_filter(v, "case_id", self.case_id)
        if self.period:
            check_month(v, "period", self.period)
        v.require(not self.rule or self.rule in CONTROL_RULES, "rule", "is not a control rule")
        v.require(not self.status or self.status in CONTROL_STATUSES, "status", "is not a finding status")
        v.require(not self.follow_up or self.follow_up in CONTROL_FOLLOW_UPS, "follow_up", "is not a follow-up")
        v.raise_if_any()


@dataclass(frozen=True)
class RecordControlOutcome:
    request_id: str
    finding_id: str
    outcome: str | None               # CONTROL_OUTCOMES
    note: str = ""

    def validate(self) -> None:
        v = Violations()
        check_request_id(v, self.request_id)
        if v.require(bool(self.finding_id), "finding_id", "is required"):
            check_id_filter(v, "finding_id", self.finding_id)
        v.require(self.outcome in CONTROL_OUTCOMES, "outcome", "is required: NO_CHANGE, ENTITLEMENT_CHANGED or "
                                                               "FRAUD_SUSPECTED")
        check_text(v, "note", self.note)
        v.raise_if_any()


# ---- subscription billing (issue 28) ----------------------------------------------------------

def check_quarter(v: Violations, name: str, text: str):
    """A quarter, "YYYY-Qn" (hub.domain.billing.Quarter), or None with the violation."""
    if not text:
        v.add(name, "is required (a quarter, YYYY-Qn, e.g. 2026-Q1)")
        return None
    q = Quarter.parse(text)
    if q is None:
        v.add(name, f"must be a quarter, YYYY-Qn (n 1-4, the year {QUARTER_YEARS[0]}-{QUARTER_YEARS[1]}), "
                    f"e.g. 2026-Q1")
    return q


@dataclass(frozen=True)
class RunBilling:
    request_id: str
    quarter: str

    def validated(self):
        v = Violations()
        check_request_id(v, self.request_id)
        q = check_quarter(v, "quarter", self.quarter)
        v.raise_if_any()
        return q


@dataclass(frozen=True)
class GetBillingStatement:
    quarter: str
    municipality_code: str

    def validated(self):
        v = Violations()
        q = check_quarter(v, "quarter", self.quarter)
        check_municipality(v, "municipality_code", self.municipality_code)
        v.raise_if_any()
        return q
