"""Payments: a grant becomes lines, a run turns due lines into orders (each posted to
the economy system), providers fetch, acknowledge and settle them (or get them as
files), a new decision brings every period it touches back in balance.

The balance rule, the offset plan, what is due and what may never be paid are the
domain's (hub.domain.payments); the store keeps what these use cases decide."""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import structlog

from hub.domain import commands as cmd
from hub.domain import municipalities, paging
from hub.domain import payments as pay
from hub.domain.audit import AuditEntry
from hub.domain.errors import AlreadyExists, FailedPrecondition, NotFound, Violations
from hub.domain.identity import Identity
from hub.domain.model import Case, CaseStatus, Decision, DecisionStatus, Outcome, Repayment
from hub.ports import messages as msg
from hub.service import claims
from hub.service.access import case_in_scope, event
from hub.store.uow import UnitOfWork

log = structlog.get_logger("hub.payments")


@dataclass(frozen=True)
class PaymentSettings:
    run_chunk: int = 2000                                    # due lines per transaction of a run
    batch_lease: dt.timedelta = dt.timedelta(seconds=600)    # a fetched batch's lease


# ---- from grant to lines (when a decision is approved) ----------------------------------------

def check_grant(uow: UnitOfWork, case: Case, outcome: Outcome, amounts, effective_from, *, name: str = "amounts",
                effective_to: dt.date | None = None):
    """A decision's amounts as payments need them: periods that fit the benefit's
    recurrence (within `effective_to`, for a decision for a bounded time) and, for a
    grant, amounts within the catalogue's plausible maximum. Returns the date it takes
    effect."""
    benefit = uow.catalogue.get(case.benefit_code)
    v = Violations()
    effective = pay.check_grant_periods(v, benefit.recurrence, amounts, effective_from,
                                        replaces_grant=uow.payments.has_grant(case.case_id), name=name)
    pay.check_effective_to(v, benefit.recurrence, amounts, effective, effective_to, name=name)
    if outcome in (Outcome.GRANTED, Outcome.PARTLY_GRANTED):
        pay.check_grant_amounts(v, benefit, amounts, name=name)
    v.raise_if_any()
    return effective


def grant_approved(uow: UnitOfWork, identity: Identity, case: Case, decision: Decision, now: dt.datetime) -> None:
    """The decision governs payments from its effective date: earlier grants' lines from
    then on are superseded, its own lines added, and every period touched is brought
    back in balance (unsent orders cancelled, overpayments claimed, claims released).
    Periods already run are ordered again at once."""
    effective, until = decision.governs
    if effective is None:
        return
    benefit = uow.catalogue.get(case.benefit_code)
    lines = pay.schedule(benefit.recurrence, decision.amounts)
    keys, replaced = uow.payments.supersede(case.case_id, effective, decision.decision_id, until)
    uow.decisions.mark_superseded(replaced, decision.decision_id)
    number = uow.decisions.number(decision.decision_id)
    uow.payments.add_lines(decision.decision_id, case.case_id, case.municipality_code, case.benefit_code,
                           [(x, pay.end_to_end_id(number, x)) for x in lines])
    if replaced:
        uow.events.record(event(case, "payment.grant_superseded", now, identity.client_id,
                                decision_id=decision.decision_id, superseded=sorted(replaced),
                                effective_from=effective.isoformat()))
    # A period with neither orders nor claims is in balance whatever its line (a first
    # grant has none): only the others are looked at.
    touched = keys | ({x.period_key for x in lines} & uow.payments.periods_with_money(case.case_id))
    for key in sorted(touched):
        rebalance(uow, identity, case, key, now, cancel_unsent=True, decision_id=decision.decision_id,
                  offset_allowed=decision.offset_repayment,
                  origin=pay.ClaimOrigin.RECALCULATION if decision.settlement_year else
                  pay.ClaimOrigin.SUPERSEDING_DECISION)
    last_run = uow.payments.latest_run_period()
    if last_run:
        order_due(uow, identity, last_run, now, decision_id=decision.decision_id)


def overpayment(uow: UnitOfWork, case: Case, decision: Decision) -> Repayment | None:
    """What approving `decision` (a grant, or one that lowers or ends it) would claim back
    for months already paid, as `grant_approved` will: the periods it touches, each
    brought back in balance (pay.reconcile) against what it grants them. Reads only, so
    that the decision's letter can state the repayment before the claims are made."""
    effective, until = decision.governs
    with_money = uow.payments.periods_with_money(case.case_id) if effective is not None else set()
    if not with_money:  # (a first grant: nothing paid, nothing to claim back)
        return None
    benefit = uow.catalogue.get(case.benefit_code)
    granted = {x.period_key: x for x in pay.schedule(benefit.recurrence, decision.amounts)}
    ended = uow.payments.in_force(case.case_id, effective, decision.decision_id, until)
    touched = (set(ended) | set(granted)) & with_money
    total, spans = 0, []
    for key in sorted(touched):
        line = granted.get(key)
        orders, positions = uow.payments.positions(case.case_id, key)
        claim = pay.reconcile(line.amount_oere if line else 0, orders, positions, cancel_unsent=True).new_claim_oere
        if claim:
            old = line or uow.payments.line(case.case_id, key)
            total += claim
            spans.append((old.period_start, old.period_end))
    if not total:
        return None
    return Repayment(total, min(s for s, _ in spans), max(e for _, e in spans), decision.offset_repayment)


def repayment_approved(uow: UnitOfWork, identity: Identity, case: Case, decision: Decision,
                       now: dt.datetime) -> str:
    """An approved repayment decision becomes a claim on the citizen (offset against later
    payments if it allows it). Returns the claim's id."""
    r = decision.repayment
    claim_id = uow.claims.add(case_id=case.case_id, municipality_code=case.municipality_code,
                              benefit_code=case.benefit_code, origin=pay.ClaimOrigin.REPAYMENT_DECISION,
                              amount=r.amount_oere, period_key="", decision_id=decision.decision_id,
                              reason=f"repayment decision for {r.period_start.isoformat()} to "
                                     f"{r.period_end.isoformat()}",
                              offset_allowed=r.offset_allowed, created_by=identity.client_id, now=now)
    claims.changed(uow, identity, case, claim_id, "claim.created", now, amount_oere=r.amount_oere,
                   origin=pay.ClaimOrigin.REPAYMENT_DECISION.value, offset_allowed=r.offset_allowed)
    return claim_id


def repayable(uow: UnitOfWork, case: Case, r: Repayment) -> int:
    """The most a repayment decision may claim for its months: what was sent or paid for
    them, less what the case's claims ask back already."""
    return max(0, uow.payments.paid_out(case.case_id, r.period_start, r.period_end) - uow.claims.claimed(case.case_id))


def rebalance(uow: UnitOfWork, identity: Identity, case: Case, period_key: str, now: dt.datetime, *,
              cancel_unsent: bool, decision_id: str | None, offset_allowed: bool = False,
              origin: pay.ClaimOrigin = pay.ClaimOrigin.SUPERSEDING_DECISION) -> None:
    """Bring a period back in balance (hub.domain.payments.reconcile) and post what that
    changes: cancelled orders, a claim for what was paid too much (offset against later
    payments if the decision allowed it), claims released."""
    line = uow.payments.line(case.case_id, period_key)
    orders, positions = uow.payments.positions(case.case_id, period_key)
    adj = pay.reconcile(line.amount_oere if line else 0, orders, positions, cancel_unsent=cancel_unsent)
    if adj.cancel:
        reason = "superseded by a new decision"
        cancelled = uow.payments.orders(adj.cancel)
        uow.payments.cancel(adj.cancel, reason, now)
        claims.refresh(uow, uow.claims.reverse_offsets(adj.cancel, now))
        for e2e in adj.cancel:
            o = cancelled[e2e]
            post(uow, case, now, f"payment/{e2e}/cancelled", msg.PaymentCancelledPosting, end_to_end_id=e2e,
                 period=period_key, amount_oere=o.amount_oere, offset_oere=o.offset_oere, reason=reason)
        uow.events.record(event(case, "payment.cancelled", now, identity.client_id, end_to_end_ids=adj.cancel,
                                period=period_key))
    if adj.new_claim_oere:
        claim_id = uow.claims.add(case_id=case.case_id, municipality_code=case.municipality_code,
                                  benefit_code=case.benefit_code, origin=origin,
                                  amount=adj.new_claim_oere, period_key=period_key, decision_id=decision_id,
                                  reason=f"paid more than granted for {period_key}", offset_allowed=offset_allowed,
                                  created_by=identity.client_id, now=now)
        claims.changed(uow, identity, case, claim_id, "claim.created", now, amount_oere=adj.new_claim_oere,
                       period=period_key, offset_allowed=offset_allowed, origin=origin.value)
    if adj.release:
        uow.claims.release(adj.release, now)
        claims.refresh(uow, [c for c, _ in adj.release])
        for claim_id, amount in adj.release:
            claims.changed(uow, identity, case, claim_id, "claim.released", now, amount_oere=amount,
                           period=period_key)


def post(uow: UnitOfWork, case: Case, now: dt.datetime, message_id: str, kind: type[msg.EconomyMessage],
         **fields: Any) -> None:
    """A posting of `kind` to the municipality's economy system, through the outbox."""
    uow.outbox.add(kind(municipality_code=case.municipality_code, benefit_code=case.benefit_code,
                        ledger_account=uow.catalogue.get(case.benefit_code).ledger_account, case_id=case.case_id,
                        cpr=case.cpr, **fields).outbox(message_id, case.case_id), now)


# ---- creating orders ----------------------------------------------------------------------------

def order_due(uow: UnitOfWork, identity: Identity, up_to: str, now: dt.datetime, *, decision_id: str | None = None,
              after_id: int = 0, limit: int = 2000, run_id: str | None = None,
              lines: list[pay.DueLine] | None = None) -> tuple[list[pay.DueLine], list[dict[str, Any]], int]:
    """One chunk of due lines (or the `lines` given) into orders, each posted to the
    economy system. A line no payment can be (pay.line_problem) is held for the back
    office, flagged by an event, and the others are ordered. Returns the lines looked
    at, the orders made and how many were held."""
    if lines is None:
        lines = uow.payments.due_lines(up_to, after_id=after_id, limit=limit, decision_id=decision_id)
    benefits = {code: uow.catalogue.get(code) for code in {x.benefit_code for x in lines}}
    held = [(x, problem) for x in lines if x.due > 0 and (problem := pay.line_problem(benefits[x.benefit_code], x))]
    if held:
        hold(uow, identity, held, now)
        skip = {id(x) for x, _ in held}
        lines_to_order = [x for x in lines if id(x) not in skip]
    else:
        lines_to_order = lines
    made, offsets = create_orders(uow, lines_to_order, run_id=run_id, now=now)
    uow.payments.close(lines_to_order)
    post_orders(uow, lines_to_order, made, offsets, now)
    return lines, made, len(held)


def create_orders(uow: UnitOfWork, lines: list[pay.DueLine], *, run_id: str | None, now: dt.datetime,
                  kind_of: Callable[[pay.DueLine], pay.OrderKind] | None = None
                  ) -> tuple[list[dict[str, Any]], dict[str, list[tuple[str, int]]]]:
    """Orders for due lines (`due` > 0), each once (one a concurrent run made is left
    out), withholding what the citizen's open claims may take (pay.offsets). Returns
    the orders made and, per order, the claims it offset."""
    candidates = [x for x in lines if x.due > 0]
    if not candidates:
        return [], {}
    groups = uow.claims.offsettable({(x.cpr, x.municipality_code, x.benefit_code) for x in candidates})
    plan: dict[str, list[tuple[str, int]]] = {}
    for key, open_claims in groups.items():
        orders = [x for x in candidates if (x.cpr, x.municipality_code, x.benefit_code) == key]
        for x, takes in zip(orders, pay.offsets([x.due for x in orders], [c.outstanding_oere for c in open_claims])):
            plan[x.end_to_end_id] = [(c.claim_id, n) for c, n in zip(open_claims, takes) if n]
    values = [dict(
        end_to_end_id=x.end_to_end_id, line_id=x.id, decision_id=x.decision_id, case_id=x.case_id,
        municipality_code=x.municipality_code, benefit_code=x.benefit_code, period_key=x.period_key,
        period_start=x.period_start, period_end=x.period_end, due_month=x.due_month,
        kind=(kind_of(x) if kind_of else (pay.OrderKind.REGULAR if x.due == x.amount_oere
                                          else pay.OrderKind.CORRECTION)).value,
        status="PENDING", amount_oere=x.due, offset_oere=sum(n for _, n in plan.get(x.end_to_end_id, ())),
        run_id=run_id, created_at=now, updated_at=now) for x in candidates]
    created = uow.payments.add_orders(values)
    made = [v for v in values if v["end_to_end_id"] in created]
    offsets = {e: plan[e] for e in created if plan.get(e)}
    if offsets:
        uow.claims.add_offsets([(e, c, n) for e, takes in offsets.items() for c, n in takes], now)
        claims.refresh(uow, {c for takes in offsets.values() for c, _ in takes})
    return made, offsets


def hold(uow: UnitOfWork, identity: Identity, held: list[tuple[pay.GrantLine, str]], now: dt.datetime) -> None:
    uow.payments.hold(held)
    for line, reason in held:
        case = uow.cases.get(line.case_id)
        log.warning("payment held", case_id=line.case_id, period=line.period_key, reason=reason)
        uow.events.record(event(case, "payment.held", now, identity.client_id, decision_id=line.decision_id,
                                period=line.period_key, amount_oere=line.amount_oere, reason=reason))


def post_orders(uow: UnitOfWork, lines: list[pay.DueLine], made: list[dict[str, Any]],
                offsets: Mapping[str, list[tuple[str, int]]], now: dt.datetime) -> None:
    cprs = {x.end_to_end_id: x.cpr for x in lines}
    accounts = {code: uow.catalogue.get(code).ledger_account for code in {o["benefit_code"] for o in made}}
    for o in made:
        e2e = o["end_to_end_id"]
        uow.outbox.add(msg.PaymentOrderPosting(
            municipality_code=o["municipality_code"], benefit_code=o["benefit_code"],
            ledger_account=accounts[o["benefit_code"]], case_id=o["case_id"], cpr=cprs.get(e2e, ""),
            end_to_end_id=e2e, decision_id=o["decision_id"], period=o["period_key"], order_kind=o["kind"],
            amount_oere=o["amount_oere"], offset_oere=o["offset_oere"],
            net_amount_oere=o["amount_oere"] - o["offset_oere"],
            offsets=tuple(msg.Offset(c, n) for c, n in offsets.get(e2e, ())),
            period_start=o["period_start"], period_end=o["period_end"],
        ).outbox(f"payment/{e2e}/order", o["case_id"]), now)


def run_payments(units: Callable[[], UnitOfWork], identity: Identity, c: cmd.RunPayments,
                 clock, settings: PaymentSettings = PaymentSettings()) -> Iterator[dict[str, Any]]:
    """Create every order due up to `period`, in chunks of one transaction each (orders,
    their postings and offsets together), yielding progress. A repeat of the request
    resumes a run that was cut off, or replays a finished one's summary."""
    c.validate(clock.now())
    request_id, period = c.request_id, c.period
    with units() as uow:
        run = uow.payments.run(identity.client_id, request_id)
        if run is not None and run.period != period:
            raise AlreadyExists("request_id was already used by this client for a run of another period",
                                reason="REQUEST_ID_REUSED", metadata={"request_id": request_id})
        run_id = run.run_id if run else uow.payments.start_run(identity.client_id, request_id, period, clock.now())
        total = uow.payments.count_due(period)
        uow.commit()
    progress = dict(run_id=run_id, period=period, examined=0, total=total, orders_created=0, amount_oere=0, held=0,
                    done=False)
    if run is not None and run.finished_at is not None:
        yield dict(progress, examined=run.examined, total=run.examined, orders_created=run.orders_created,
                   amount_oere=run.amount_oere, held=run.held, done=True)
        return
    yield progress
    after = 0
    while True:
        try:
            with units() as uow:
                lines, made, held = order_due(uow, identity, period, clock.now(), after_id=after, run_id=run_id,
                                              limit=settings.run_chunk)
                if not lines:
                    break
                amount = sum(o["amount_oere"] for o in made)
                uow.payments.add_to_run(run_id, len(lines), len(made), amount, held)
                uow.commit()
        except Exception:
            # Something in this chunk cannot be ordered: one citizen's case must not stop
            # everyone else's payments. Each line on its own; one that fails is held for
            # the back office, and the run goes on.
            log.exception("a payment chunk failed; ordering its lines one by one", after_id=after)
            lines, made, held = _order_one_by_one(units, identity, period, run_id, after, clock, settings)
            if not lines:
                break
            amount = sum(o["amount_oere"] for o in made)
        after = lines[-1].id
        progress.update(examined=progress["examined"] + len(lines),
                        orders_created=progress["orders_created"] + len(made),
                        amount_oere=progress["amount_oere"] + amount, held=progress["held"] + held)
        progress["total"] = max(progress["total"], progress["examined"])
        yield dict(progress)
    with units() as uow:
        now = clock.now()
        uow.payments.finish_run(run_id, now)
        run = uow.payments.run(identity.client_id, request_id)
        uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "RunPayments", None, None, "OK",
                                 request_id, f"payment run {period}: {run.orders_created} orders"))
        uow.commit()
    yield dict(progress, examined=run.examined, total=max(progress["total"], run.examined),
               orders_created=run.orders_created, amount_oere=run.amount_oere, held=run.held, done=True)


def _order_one_by_one(units: Callable[[], UnitOfWork], identity: Identity, period: str, run_id: str, after: int,
                      clock, settings: PaymentSettings) -> tuple[list[pay.DueLine], list[dict[str, Any]], int]:
    """The next chunk's lines, each ordered in a transaction of its own; a line whose
    ordering fails is held (in a transaction of its own) with the error's kind as the
    reason. Returns the lines looked at, the orders made, how many were held."""
    with units() as uow:
        lines = uow.payments.due_lines(period, after_id=after, limit=settings.run_chunk)
        uow.commit()
    made_all: list[dict[str, Any]] = []
    held_all = 0
    for line in lines:
        try:
            with units() as uow:
                again = uow.payments.due_lines(period, after_id=line.id - 1, limit=1)
                if not again or again[0].id != line.id:
                    continue  # ordered meanwhile by another run, or superseded
                _, made, held = order_due(uow, identity, period, clock.now(), run_id=run_id, lines=again)
                uow.payments.add_to_run(run_id, 1, len(made), sum(o["amount_oere"] for o in made), held)
                uow.commit()
            made_all += made
            held_all += held
        except Exception as exc:
            log.exception("a payment line could not be ordered; holding it", case_id=line.case_id,
                          period=line.period_key)
            with units() as uow:
                hold(uow, identity, [(line, f"could not be ordered ({type(exc).__name__}); see the hub's log")],
                     clock.now())
                uow.payments.add_to_run(run_id, 1, 0, 0, 1)
                uow.commit()
            held_all += 1
    return lines, made_all, held_all


def schedule_payments(uow: UnitOfWork, identity: Identity, c: cmd.SchedulePayments,
                      now: dt.datetime) -> tuple[list[pay.PaymentOrder], Case]:
    """What one grant in force has due up to `period`, ordered now."""
    c.validate(now)
    decision_id, period = c.decision_id, c.period
    decision = uow.decisions.get(decision_id, for_update=True)
    case = case_in_scope(uow, identity, decision.case_id if decision else "", for_update=True)
    if case.status is CaseStatus.WITHDRAWN:
        raise FailedPrecondition("the case is withdrawn", reason="CASE_WITHDRAWN")
    if decision.status is not DecisionStatus.APPROVED:
        raise FailedPrecondition(f"only an approved decision is paid: it is {decision.status.value}",
                                 reason="DECISION_NOT_APPROVED", metadata={"decision_status": decision.status.value})
    if not uow.payments.decision_in_force(decision_id):
        reason = ("it grants nothing" if not any(a.amount_oere for a in decision.amounts)
                  else f"it was superseded by decision {decision.superseded_by}")
        raise FailedPrecondition(f"the decision is not a grant in force: {reason}", reason="DECISION_NOT_IN_FORCE")
    _, made, _ = order_due(uow, identity, period, now, decision_id=decision_id, limit=100_000)
    found = uow.payments.orders([o["end_to_end_id"] for o in made])
    return [found[o["end_to_end_id"]] for o in made], case


# ---- reading ----------------------------------------------------------------------------------

def history(uow: UnitOfWork, case_id: str) -> pay.PaymentHistory:
    return pay.PaymentHistory(tuple(uow.payments.for_case(case_id)), tuple(uow.claims.for_case(case_id)),
                              tuple(uow.payments.held(case_id)))


def list_payments(uow: UnitOfWork, identity: Identity, f: cmd.PaymentFilter, page_size: int, page_token: str,
                  now: dt.datetime) -> tuple[list[pay.PaymentOrder], str]:
    f.validate()
    v = Violations()
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, "payments", *sorted(dataclasses.asdict(f).items()))
    after = paging.decode(page_token, qhash)
    rows = uow.payments.list(identity.scope, f, after_id=after, limit=size + 1)
    page = rows[:size]
    return [o for _, o in page], paging.encode(page[-1][0], qhash) if len(rows) > size else ""


# ---- providers --------------------------------------------------------------------------------

def _audit_batch(uow: UnitOfWork, identity: Identity, action: str, batch: pay.Batch, now: dt.datetime) -> None:
    """A batch shows the provider its citizens' CPR numbers: one audit entry per case."""
    seen = set()
    for i in batch.instructions:
        if i.order.case_id not in seen:
            seen.add(i.order.case_id)
            uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, action, i.order.case_id, i.cpr,
                                     "OK", None, f"payment batch {batch.batch_id}"))


def _new_batch(uow: UnitOfWork, *, provider_id: str, municipalities_: frozenset[str] | list[str], limit: int,
               mode: str, status: str, now: dt.datetime, lease_expires_at: dt.datetime | None) -> str | None:
    """Up to `limit` pending orders of the municipalities into a new batch, as many as
    keep its control sum within what the contract carries (pay.within_control_sum)."""
    candidates = uow.payments.batchable(municipalities_, limit)
    take = candidates[:pay.within_control_sum([net for _, net in candidates])]
    if not take:
        return None
    return uow.payments.add_batch([i for i, _ in take], provider_id=provider_id, mode=mode, status=status,
                                  control_sum=sum(net for _, net in take), now=now, lease_expires_at=lease_expires_at)


def fetch_payment_batch(uow: UnitOfWork, identity: Identity, max_orders: int, now: dt.datetime,
                        settings: PaymentSettings = PaymentSettings()) -> pay.Batch:
    """Naturally idempotent: the open lease is returned until it is acknowledged."""
    cmd.check_batch_size(max_orders)
    uow.payments.expire_leases(now)
    batch_id = uow.payments.open_lease(identity.client_id) or _new_batch(
        uow, provider_id=identity.client_id, municipalities_=identity.municipalities, limit=max_orders or 500,
        mode="FETCH", status="LEASED", now=now, lease_expires_at=now + settings.batch_lease)
    batch = uow.payments.batch(batch_id) if batch_id else pay.Batch("", "", identity.client_id, None, None)
    _audit_batch(uow, identity, "FetchPaymentBatch", batch, now)
    return batch


def _provider_batch(uow: UnitOfWork, identity: Identity, batch_id: str) -> pay.Batch:
    b = uow.payments.batch(batch_id, lock=True) if batch_id else None
    if b is None or b.provider_id != identity.client_id:
        raise NotFound("batch not found", reason="BATCH_NOT_FOUND", metadata={"batch_id": batch_id})
    return b


def acknowledge_payment_batch(uow: UnitOfWork, identity: Identity, batch_id: str, now: dt.datetime) -> pay.Batch:
    """Naturally idempotent: acknowledging twice is acknowledging once."""
    uow.payments.expire_leases(now)
    b = _provider_batch(uow, identity, batch_id)
    if b.status == "EXPIRED":
        raise FailedPrecondition("the batch's lease ran out before it was acknowledged; its orders will come in a new "
                                 "batch: fetch again", reason="BATCH_LEASE_EXPIRED")
    if b.status == "LEASED":
        uow.payments.acknowledge(batch_id, now)
    batch = uow.payments.batch(batch_id)
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "AcknowledgePaymentBatch", None, None,
                             "OK", None, f"payment batch {batch_id}"))
    return batch


def report_settlement(uow: UnitOfWork, identity: Identity, c: cmd.ReportSettlement,
                      now: dt.datetime) -> tuple[list[pay.PaymentOrder], None]:
    """The provider's results (paid, rejected, returned): all or nothing."""
    reports = c.validated()
    orders = uow.payments.orders([r.end_to_end_id for r, _ in reports], lock=True)
    bad = Violations()
    for i, (r, _) in enumerate(reports):
        o = orders.get(r.end_to_end_id)
        if o is None or o.provider_id != identity.client_id:
            raise NotFound("no payment order with that end-to-end id among this provider's",
                           reason="ORDER_NOT_FOUND", metadata={"end_to_end_id": r.end_to_end_id})
        bad.require(r.amount_oere == o.net_oere, f"settlements[{i}].amount_oere",
                    "differs from the order's net amount")
    bad.raise_if_any()
    for r, _ in reports:
        o = orders[r.end_to_end_id]
        if pay.settled_status(o.status, r.result) is None:
            raise FailedPrecondition(f"{r.result.value} cannot be reported for an order that is {o.status.value}",
                                     reason="SETTLEMENT_DOES_NOT_FIT",
                                     metadata={"end_to_end_id": o.end_to_end_id, "status": o.status.value})
    out = []
    for r, date in reports:
        o = orders[r.end_to_end_id]
        if o.status.value != r.result.value:
            _settle(uow, identity, o, r, date, now)
        out.append(uow.payments.order(o.end_to_end_id))
    return out, None


def _settle(uow: UnitOfWork, identity: Identity, o: pay.PaymentOrder, r: cmd.SettlementReport,
            date: dt.date | None, now: dt.datetime) -> None:
    result = r.result
    uow.payments.settle(o.end_to_end_id, result.value, dict(
        result=result.value, amount_oere=r.amount_oere, bank_reference=r.bank_reference,
        settlement_date=date.isoformat() if date else None, reason=r.reason, reported_by=identity.client_id,
        reported_at=now.isoformat()), now)
    case = uow.cases.get(o.case_id)
    if result is not pay.SettlementResult.PAID:
        reversed_ = uow.claims.reverse_offsets([o.end_to_end_id], now)
        claims.refresh(uow, reversed_)
        for claim_id in reversed_:
            claims.changed(uow, identity, case, claim_id, "claim.offset_reversed", now, end_to_end_id=o.end_to_end_id)
    uow.events.record(event(case, f"payment.{result.value.lower()}", now, identity.client_id,
                            end_to_end_id=o.end_to_end_id, period=o.period_key, amount_oere=r.amount_oere,
                            flagged=result is not pay.SettlementResult.PAID))
    post(uow, case, now, f"payment/{o.end_to_end_id}/settlement/{result.value.lower()}", msg.PaymentSettlementPosting,
         end_to_end_id=o.end_to_end_id, result=result.value, amount_oere=r.amount_oere,
         bank_reference=r.bank_reference, settlement_date=date, period=o.period_key, reason=r.reason)
    rebalance(uow, identity, case, o.period_key, now, cancel_unsent=False, decision_id=None)


def push_payment_batch(uow: UnitOfWork, identity: Identity, c: cmd.PushPaymentBatch,
                       providers: Mapping[str, Identity], now: dt.datetime) -> tuple[pay.Batch, None]:
    """Hand a provider's pending orders over as pain.001 files, one per payer
    municipality, through the outbox (same transaction as the batch)."""
    provider_id = c.provider_id
    provider = providers.get(provider_id)
    c.validate(is_provider=provider is not None)
    scope = [m for m in provider.municipalities if identity.covers_municipality(m)]
    batch_id = _new_batch(uow, provider_id=provider_id, municipalities_=scope, limit=cmd.MAX_BATCH * 10, mode="FILE",
                          status="PUSHED", now=now, lease_expires_at=None)
    if batch_id is None:
        return pay.Batch("", "", provider_id, None, None), None
    batch = uow.payments.batch(batch_id)
    by_payer: dict[str, list[pay.Instruction]] = {}
    for i in batch.instructions:
        by_payer.setdefault(i.order.municipality_code, []).append(i)
    for code, items in sorted(by_payer.items()):
        m = municipalities.get(code)
        uow.outbox.add(msg.CreditTransfer(
            provider_id=provider_id, batch_id=batch_id, message_identification=f"HUB-B{batch.number}-{code}",
            created_at=now, payer=msg.Payer(code, m.authority_name if m else code),
            requested_execution_date=now.date(),
            transactions=tuple(msg.Transfer(i.order.end_to_end_id, i.order.net_oere, i.cpr, pay.remittance(i.order))
                               for i in items),
        ).outbox(f"batch/{batch_id}/{code}", None), now)
    _audit_batch(uow, identity, "PushPaymentBatch", batch, now)
    return batch, None


# ---- the back office: a payment again -------------------------------------------------------

def reissue_payment(uow: UnitOfWork, identity: Identity, c: cmd.ReissuePayment,
                    now: dt.datetime) -> tuple[pay.PaymentOrder, Case]:
    c.validate()
    end_to_end_id = c.end_to_end_id
    o = uow.payments.order(end_to_end_id, lock=True)
    case = case_in_scope(uow, identity, o.case_id if o else "", for_update=True)
    if o.status not in pay.FLAGGED_STATUSES or o.reissued_as:
        raise FailedPrecondition(f"only a rejected or returned payment not yet reissued can be reissued: it is "
                                 f"{o.status.value}" + (f", reissued as {o.reissued_as}" if o.reissued_as else ""),
                                 reason="NOT_REISSUABLE", metadata={"status": o.status.value})
    line = uow.payments.line(case.case_id, o.period_key)
    orders, positions = uow.payments.positions(case.case_id, o.period_key)
    due = pay.due_amount(line.amount_oere if line else 0, orders, positions)
    if due <= 0:
        raise FailedPrecondition("nothing is due for the period under the grant in force", reason="NOTHING_DUE",
                                 metadata={"period": o.period_key})
    # With no grant in force for the period any more, what is due is what the citizen
    # paid back on a claim for this payment, which never reached them: the reissue pays
    # that back, under the returned payment's own grant.
    source = line if line is not None else o
    new_e2e = pay.reissue_id(end_to_end_id, uow.payments.reissues(end_to_end_id) + 1)
    again = pay.DueLine(line.id if line is not None else o.line_id, source.decision_id, source.case_id,
                        source.municipality_code, source.benefit_code, source.period_key, source.period_start,
                        source.period_end, source.due_month, source.amount_oere, new_e2e, cpr=case.cpr, due=due)
    made, offsets = create_orders(uow, [again], run_id=None, now=now, kind_of=lambda _: pay.OrderKind.REISSUE)
    uow.payments.mark_reissued(end_to_end_id, new_e2e, now)
    post_orders(uow, [again], made, offsets, now)
    uow.events.record(event(case, "payment.reissued", now, identity.client_id, end_to_end_id=end_to_end_id,
                            reissued_as=new_e2e, amount_oere=due))
    return uow.payments.order(new_e2e), case
