"""Payments and collection, as pure rules.

A grant (an approved decision that grants an amount) becomes *lines*: what it grants
for each period. Monthly benefits have a line per calendar month at the decision's
monthly rate; one-off and per-period benefits a line per period amount. A later
decision on the case supersedes the lines of earlier ones from its effective date.

Money for a (case, period) is kept in balance by one rule: what the citizen ends up
with (orders paid or on their way, less claims) must equal what the latest decision
grants. `reconcile` says what to cancel, claim or release when that changes; the
payment run creates what is still due (`due_amount`)."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from hub.domain import months
from hub.domain.errors import Violations
from hub.domain.model import Benefit, PeriodAmount, PeriodKind, Recurrence

# No single period amount is ever larger, whatever the catalogue says: 10 billion kroner.
# Sums of up to 900,000 of them fit in the int64 øre of the contract and the database.
MAX_AMOUNT_OERE = 10 ** 12
INT64_MAX = 2 ** 63 - 1


class OrderStatus(str, enum.Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    PAID = "PAID"
    REJECTED = "REJECTED"
    RETURNED = "RETURNED"
    CANCELLED = "CANCELLED"


# Orders whose money the citizen has or will get unless the provider says otherwise.
LIVE_ORDER_STATUSES = (OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.PAID)
# Orders the back office must look at (until reissued).
FLAGGED_STATUSES = (OrderStatus.REJECTED, OrderStatus.RETURNED)


class OrderKind(str, enum.Enum):
    REGULAR = "REGULAR"
    CORRECTION = "CORRECTION"
    REISSUE = "REISSUE"


class SettlementResult(str, enum.Enum):
    PAID = "PAID"
    REJECTED = "REJECTED"
    RETURNED = "RETURNED"


class ClaimStatus(str, enum.Enum):
    OPEN = "OPEN"
    PARTLY_PAID = "PARTLY_PAID"
    PAID = "PAID"
    WRITTEN_OFF = "WRITTEN_OFF"
    CANCELLED = "CANCELLED"


OPEN_CLAIM_STATUSES = (ClaimStatus.OPEN, ClaimStatus.PARTLY_PAID)


class ClaimOrigin(str, enum.Enum):
    SUPERSEDING_DECISION = "SUPERSEDING_DECISION"
    RECALCULATION = "RECALCULATION"
    MANUAL = "MANUAL"                              # (by hand, before every claim came from a decision)
    REPAYMENT_DECISION = "REPAYMENT_DECISION"      # a repayment decision (Outcome.REPAYMENT)


@dataclass(frozen=True)
class Line:
    """What one grant grants for one period."""
    period_key: str
    period_start: dt.date
    period_end: dt.date
    due_month: str  # "YYYY-MM": the run for this month (or a later one) pays it
    amount_oere: int


@dataclass(frozen=True)
class GrantLine:
    """A grant's line as kept: what it grants for a period, and the end-to-end id an
    order for the period gets."""
    id: int
    decision_id: str
    case_id: str
    municipality_code: str
    benefit_code: str
    period_key: str
    period_start: dt.date
    period_end: dt.date
    due_month: str
    amount_oere: int
    end_to_end_id: str


@dataclass(frozen=True)
class DueLine(GrantLine):
    """A line a payment run looks at: `due` is what an order for its period must pay
    now (due_amount), `flagged` a rejected or returned payment of the period not yet
    reissued (the line then waits for the back office), `cpr` the citizen's."""
    cpr: str = ""
    due: int = 0
    flagged: bool = False


@dataclass(frozen=True)
class PaymentRun:
    run_id: str
    period: str
    examined: int
    orders_created: int
    amount_oere: int
    held: int
    finished_at: dt.datetime | None


def month_key(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def schedule(recurrence: Recurrence, amounts: Iterable[PeriodAmount]) -> list[Line]:
    """The lines of a grant. Monthly amounts are per calendar month over whole months
    (checked when the draft is submitted); other amounts are one payment each, due in
    the month their period starts. Zero amounts pay nothing and make no line."""
    lines: list[Line] = []
    for a in amounts:
        if a.amount_oere <= 0:
            continue
        if recurrence is Recurrence.MONTHLY:
            first = a.period_start.replace(day=1)
            for key in months.between(month_key(first), month_key(a.period_end)):
                start = dt.date.fromisoformat(key + "-01")
                lines.append(Line(key, start, months.last_day(start), key, a.amount_oere))
        else:
            lines.append(Line(f"{a.period_start.isoformat()}/{a.period_end.isoformat()}", a.period_start,
                              a.period_end, month_key(a.period_start), a.amount_oere))
    return sorted(lines, key=lambda line: line.period_start)


def end_to_end_id(decision_number: int, line: Line) -> str:
    """Stable and unique per grant and period, within ISO 20022's 35 characters:
    HUB<decision number>-<YYYYMM or YYYYMMDD of the period start>."""
    stamp = line.period_key.replace("-", "") if len(line.period_key) == 7 else line.period_start.strftime("%Y%m%d")
    return f"HUB{decision_number}-{stamp}"


def reissue_id(original: str, attempt: int) -> str:
    return f"{original.split('-R')[0]}-R{attempt}"


def check_grant_periods(v: Violations, recurrence: Recurrence, amounts: Sequence[PeriodAmount],
                        effective_from: dt.date | None, *, replaces_grant: bool, name: str = "amounts") -> dt.date | None:
    """A draft's periods as payments need them. Returns the effective date (None for a
    first decision that grants nothing)."""
    if recurrence is Recurrence.MONTHLY:
        for i, a in enumerate(amounts):
            if a.period_start.day != 1:
                v.add(f"{name}[{i}].period_start", "a monthly benefit is granted from the first day of a month")
            if a.period_end != months.last_day(a.period_end):
                v.add(f"{name}[{i}].period_end", "a monthly benefit is granted to the last day of a month")
        if effective_from is not None and effective_from.day != 1:
            v.add("effective_from", "for a monthly benefit: the first day of a month")
    first = min((a.period_start for a in amounts), default=None)
    if effective_from is None:
        if replaces_grant and first is None:
            v.add("effective_from", "is required for a decision that grants nothing on a case with a grant in "
                                    "force: from when does the grant stop?")
        return first
    if first is not None and first < effective_from:
        v.add("effective_from", "must not be after the first period granted")
    return effective_from


def check_effective_to(v: Violations, recurrence: Recurrence, amounts: Sequence[PeriodAmount],
                       effective: dt.date | None, effective_to: dt.date | None, *, name: str = "amounts") -> None:
    """A decision for a bounded time: it ends on the last day of a month (monthly
    benefits), not before it begins, and every period it grants ends by then."""
    if effective_to is None:
        return
    if recurrence is Recurrence.MONTHLY and effective_to != months.last_day(effective_to):
        v.add("effective_to", "for a monthly benefit: the last day of a month")
    if effective is None:
        v.add("effective_from", "is required with effective_to: from when does the decision govern payments?")
    elif effective_to < effective:
        v.add("effective_to", "must not be before the decision takes effect")
    for i, a in enumerate(amounts):
        if a.period_end > effective_to:
            v.add(f"{name}[{i}].period_end", "must not be after effective_to")


_PERIOD_KIND = {Recurrence.MONTHLY: PeriodKind.MONTH, Recurrence.PER_PERIOD: PeriodKind.WEEK,
                Recurrence.ONE_OFF: PeriodKind.PAYMENT}
_PER = {PeriodKind.MONTH: "per month", PeriodKind.WEEK: "per week", PeriodKind.PAYMENT: "per payment"}


def amount_ceiling(benefit: Benefit, start: dt.date, end: dt.date) -> tuple[int, str] | None:
    """The catalogue's plausible maximum for one period amount of `benefit` from
    `start` to `end` (a monthly amount is per month; a per-period amount may be the
    weekly maximum for each week begun), and how it reads; None: the catalogue sets
    none for this benefit."""
    per = _PERIOD_KIND[benefit.recurrence]
    limit = benefit.amount_limit(per)
    if limit is None:
        return None
    if per is PeriodKind.WEEK:
        weeks = -(-((end - start).days + 1) // 7)
        return limit.max_oere * weeks, f"{kroner(limit.max_oere)} DKK per week for {weeks} week(s)"
    return limit.max_oere, f"{kroner(limit.max_oere)} DKK {_PER[per]}"


def check_grant_amounts(v: Violations, benefit: Benefit, amounts: Sequence[PeriodAmount], *,
                        name: str = "amounts") -> None:
    """Each amount a grant gives is more than nothing and no more than the catalogue's
    plausible maximum for the benefit."""
    for i, a in enumerate(amounts):
        field = f"{name}[{i}].amount_oere"
        if a.amount_oere <= 0:
            v.add(field, "a grant gives more than 0 øre in every period it names (a period without money is "
                         "left out, or decided by a refusal)")
            continue
        ceiling = amount_ceiling(benefit, a.period_start, a.period_end)
        if ceiling is not None and a.amount_oere > ceiling[0]:
            v.add(field, f"is more than the plausible maximum for {benefit.code} ({ceiling[1]}); the amount is "
                         f"in øre")


def line_problem(benefit: Benefit | None, line) -> str | None:
    """Why a due line (`amount_oere`, `due`, its period) must not be ordered, if it
    must not: a grant's amount that no legitimate grant has (written before the
    catalogue knew its limit, or by hand), which would pay a fortune or overflow the
    provider's sums. The line is held for the back office instead."""
    if benefit is None:
        return "the benefit is not in the catalogue"
    if not 0 < line.due <= MAX_AMOUNT_OERE or line.amount_oere > MAX_AMOUNT_OERE:
        return f"the amount due ({line.due} øre) is outside what any payment can be"
    ceiling = amount_ceiling(benefit, line.period_start, line.period_end)
    if ceiling is not None and line.amount_oere > ceiling[0]:
        return f"the granted amount ({line.amount_oere} øre) is above the plausible maximum ({ceiling[1]})"
    return None


@dataclass(frozen=True)
class OrderPosition:
    end_to_end_id: str
    status: OrderStatus
    amount_oere: int          # gross: what the period's payment is worth
    handed_over: bool         # in a leased or acknowledged batch, or sent: cannot be cancelled


@dataclass(frozen=True)
class ClaimPosition:
    claim_id: str
    amount_oere: int
    collected_oere: int
    cancelled_oere: int
    written_off_oere: int

    @property
    def counted(self) -> int:
        """What the claim takes back from the period (written off or not)."""
        return self.amount_oere - self.cancelled_oere

    @property
    def releasable(self) -> int:
        """What can still be cancelled: neither collected nor written off."""
        return self.amount_oere - self.cancelled_oere - self.collected_oere - self.written_off_oere


@dataclass
class Adjustment:
    cancel: list[str] = field(default_factory=list)             # end-to-end ids
    new_claim_oere: int = 0
    release: list[tuple[str, int]] = field(default_factory=list)  # (claim id, amount to cancel)


def position(orders: Iterable[OrderPosition], claims: Iterable[ClaimPosition]) -> int:
    """What the citizen ends up with for a period if every live order is paid and every
    claim collected."""
    return (sum(o.amount_oere for o in orders if o.status in LIVE_ORDER_STATUSES)
            - sum(c.counted for c in claims))


def due_amount(entitled: int, orders: Iterable[OrderPosition], claims: Iterable[ClaimPosition]) -> int:
    """What a new order for the period must pay (0 when nothing is due)."""
    return max(0, entitled - position(orders, claims))


def reconcile(entitled: int, orders: Sequence[OrderPosition], claims: Sequence[ClaimPosition], *,
              cancel_unsent: bool) -> Adjustment:
    """Bring a period back in balance after its entitlement or its money changed.

    - `cancel_unsent` (a new decision): pending orders not yet handed over are
      cancelled; the payment run creates what the new grant makes due.
    - Paid more than granted: the excess already paid becomes a claim. Money still on
      its way is left alone; its settlement reconciles again.
    - Granted more than the citizen ends up with: claims not yet collected are released
      (newest first); the run pays the rest."""
    adj = Adjustment()
    live = list(orders)
    if cancel_unsent:
        adj.cancel = [o.end_to_end_id for o in live if o.status is OrderStatus.PENDING and not o.handed_over]
        live = [o for o in live if o.end_to_end_id not in adj.cancel]
    pos = position(live, claims)
    if pos > entitled:
        settled = sum(o.amount_oere for o in live if o.status is OrderStatus.PAID) - sum(c.counted for c in claims)
        adj.new_claim_oere = max(0, min(pos - entitled, settled - entitled))
    elif pos < entitled:
        short = entitled - pos
        for c in sorted(claims, key=lambda c: c.claim_id, reverse=True):
            take = min(short, c.releasable)
            if take > 0:
                adj.release.append((c.claim_id, take))
                short -= take
            if short == 0:
                break
    return adj


def claim_status(amount: int, collected: int, cancelled: int, written_off: int) -> ClaimStatus:
    if written_off > 0 and collected + cancelled + written_off >= amount:
        return ClaimStatus.WRITTEN_OFF
    if cancelled >= amount:
        return ClaimStatus.CANCELLED
    if collected + cancelled >= amount:
        return ClaimStatus.PAID
    if collected > 0:
        return ClaimStatus.PARTLY_PAID
    return ClaimStatus.OPEN


def settled_status(current: OrderStatus, result: SettlementResult) -> OrderStatus | None:
    """The order's new status for a reported result; None when the report does not fit
    the order's state (a repeat of the same result is no change, and allowed)."""
    target = OrderStatus(result.value)
    if current is target:
        return target
    if result is SettlementResult.RETURNED:
        return target if current is OrderStatus.PAID else None
    return target if current in (OrderStatus.PENDING, OrderStatus.SENT) else None


def within_control_sum(nets: Sequence[int]) -> int:
    """How many of the orders (net amounts, in order) a batch takes so that its control
    sum fits the int64 øre of the contract and the database; the rest wait for the next
    batch. Amounts are capped far below this (MAX_AMOUNT_OERE): only damaged data meets it."""
    total = 0
    for n, net in enumerate(nets):
        total += net
        if total > INT64_MAX:
            return n
    return len(nets)


def offsets(net_amounts: Sequence[int], outstanding: Sequence[int]) -> list[list[int]]:
    """Offset claims against payments, in order: result[i][j] is what payment i
    withholds for claim j. A payment is never taken below zero."""
    left = list(outstanding)
    out = []
    for amount in net_amounts:
        row = []
        for j, owed in enumerate(left):
            take = min(amount, owed)
            row.append(take)
            amount -= take
            left[j] -= take
        out.append(row)
    return out


def kroner(oere: int) -> str:
    """ISO 20022 amounts: decimal kroner with two decimals, from integer øre."""
    return f"{oere // 100}.{oere % 100:02d}"


@dataclass(frozen=True)
class Settlement:
    result: SettlementResult
    amount_oere: int
    bank_reference: str
    settlement_date: dt.date | None
    reason: str
    reported_by: str
    reported_at: dt.datetime


@dataclass(frozen=True)
class PaymentOrder:
    end_to_end_id: str
    case_id: str
    decision_id: str
    municipality_code: str
    benefit_code: str
    period_key: str
    period_start: dt.date
    period_end: dt.date
    kind: OrderKind
    status: OrderStatus
    amount_oere: int
    offset_oere: int
    created_at: dt.datetime
    batch_id: str | None = None
    settlement: Settlement | None = None
    reissued_as: str | None = None
    cancel_reason: str | None = None
    due_month: str = ""
    line_id: int | None = None
    provider_id: str | None = None  # the provider whose batch holds it

    @property
    def net_oere(self) -> int:
        return self.amount_oere - self.offset_oere


def remittance(o: PaymentOrder) -> str:
    """The text on the citizen's bank statement."""
    return f"{o.benefit_code} {o.period_key}"[:140]


@dataclass(frozen=True)
class Collection:
    source: str
    amount_oere: int
    reference: str
    at: dt.datetime
    reversed: bool


@dataclass(frozen=True)
class Claim:
    claim_id: str
    case_id: str
    municipality_code: str
    benefit_code: str
    origin: ClaimOrigin
    status: ClaimStatus
    period_key: str
    decision_id: str | None
    amount_oere: int
    collected_oere: int
    cancelled_oere: int
    written_off_oere: int
    offset_allowed: bool
    reason: str
    created_at: dt.datetime
    collections: tuple[Collection, ...] = ()

    @property
    def outstanding_oere(self) -> int:
        return self.amount_oere - self.collected_oere - self.cancelled_oere - self.written_off_oere


@dataclass(frozen=True)
class PaymentHistory:
    orders: tuple[PaymentOrder, ...] = ()
    claims: tuple[Claim, ...] = ()
    held: tuple["HeldPayment", ...] = ()

    @property
    def flagged(self) -> int:
        return sum(1 for o in self.orders if o.status in FLAGGED_STATUSES and not o.reissued_as)


@dataclass(frozen=True)
class HeldPayment:
    """A grant's period a payment run held back instead of ordering, and why."""
    decision_id: str
    period_key: str
    amount_oere: int
    reason: str


@dataclass(frozen=True)
class Instruction:
    order: PaymentOrder
    cpr: str


@dataclass(frozen=True)
class Batch:
    batch_id: str
    status: str
    provider_id: str
    created_at: dt.datetime | None
    lease_expires_at: dt.datetime | None
    instructions: tuple[Instruction, ...] = ()
    number: int = 0  # the batch's number, for its files' message identification

    @property
    def control_sum_oere(self) -> int:
        return sum(i.order.net_oere for i in self.instructions)
