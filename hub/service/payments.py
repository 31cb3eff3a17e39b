"""Payment use cases: grants into orders, provider batches and settlements, claims.
A mixin of HubService (it shares the unit of work, idempotency and scope checks)."""
from __future__ import annotations

import datetime as dt
import os
from types import SimpleNamespace
from typing import Any, Iterator

import structlog

from hub.domain import commands as cmd
from hub.domain import months as month_rules
from hub.domain import paging
from hub.domain import payments as pay
from hub.domain.errors import AlreadyExists, FailedPrecondition, NotFound, Violations
from hub.domain.identity import Identity, Role
from hub.domain.model import Case, CaseStatus, Decision, DecisionStatus, Outcome
from hub.ports import messages as msg
from hub.domain import municipalities
from hub.store import payments as ps
from hub.domain.ids import new_id
from hub.store.uow import AuditEntry, UnitOfWork

log = structlog.get_logger("hub.payments")
RUN_CHUNK = int(os.environ.get("HUB_PAYMENT_RUN_CHUNK", "2000"))
LEASE = dt.timedelta(seconds=int(os.environ.get("HUB_PAYMENT_BATCH_LEASE_SECONDS", "600")))
MAX_BATCH = 5000
MAX_SETTLEMENTS = 1000


def _check_month(v: Violations, name: str, value: str) -> None:
    v.require(month_rules.parse(value) is not None, name, "must be a month, YYYY-MM")


def _check_run_period(v: Violations, period: str, now: dt.datetime) -> None:
    """Orders are made for this month and the next at most: a run for a later month
    would pay months of benefit ahead at once."""
    if month_rules.parse(period) is None:
        v.add("period", "must be a month, YYYY-MM")
        return
    latest = month_rules.following(month_rules.of(now))
    v.require(period <= latest, "period", f"must not be after {latest}: payments are ordered at most one month ahead")


class Payments:
    """Expects HubService's plumbing: _uow, _mutate, _authorize, _case_in_scope,
    _visible, _event, _limits, clock, and `providers` (client id -> identity)."""

    providers: dict[str, Identity]

    # ---- from grant to lines (called when a decision is approved) ----------------------

    def _check_grant(self, uow: UnitOfWork, case: Case, outcome: Outcome, amounts, effective_from, *,
                     name: str = "amounts"):
        """A decision's amounts as payments need them: periods that fit the benefit's
        recurrence and, for a grant, amounts within the catalogue's plausible maximum."""
        benefit = uow.benefit(case.benefit_code)
        v = Violations()
        effective = pay.check_grant_periods(v, benefit.recurrence, amounts, effective_from,
                                            replaces_grant=ps.case_has_grant(uow.writer(), case.case_id), name=name)
        if outcome in (Outcome.GRANTED, Outcome.PARTLY_GRANTED):
            pay.check_grant_amounts(v, benefit, amounts, name=name)
        v.raise_if_any()
        return effective

    def _grant_approved(self, uow: UnitOfWork, case: Case, decision: Decision, now: dt.datetime,
                        identity: Identity) -> None:
        """The decision governs payments from its effective date: earlier grants' lines
        from then on are superseded, its own lines added, and every period touched is
        brought back in balance (unsent orders cancelled, overpayments claimed, claims
        released). Periods already run are ordered again at once."""
        effective = decision.effective_from or min((a.period_start for a in decision.amounts), default=None)
        if effective is None:
            return
        conn = uow.writer()
        benefit = uow.benefit(case.benefit_code)
        lines = pay.schedule(benefit.recurrence, decision.amounts)
        keys, replaced = ps.supersede_lines(conn, case.case_id, effective, decision.decision_id)
        ps.insert_lines(conn, decision_id=decision.decision_id, number=ps.decision_number(conn, decision.decision_id),
                        case_id=case.case_id, municipality_code=case.municipality_code,
                        benefit_code=case.benefit_code, lines=lines)
        if replaced:
            uow.record_event(self._event(case, "payment.grant_superseded", now, identity,
                                         decision_id=decision.decision_id, superseded=sorted(replaced),
                                         effective_from=effective.isoformat()))
        for key in sorted(keys | {x.period_key for x in lines}):
            self._rebalance(uow, case, key, now, identity, cancel_unsent=True, decision_id=decision.decision_id)
        last_run = ps.latest_run_period(conn)
        if last_run:
            self._order_due(uow, last_run, now, identity, decision_id=decision.decision_id)

    def _rebalance(self, uow: UnitOfWork, case: Case, period_key: str, now: dt.datetime, identity: Identity, *,
                   cancel_unsent: bool, decision_id: str | None) -> None:
        conn = uow.writer()
        _, adj = ps.balance(conn, case.case_id, period_key, cancel_unsent=cancel_unsent)
        if adj.cancel:
            reason = "superseded by a new decision"
            cancelled = ps.orders_by_ids(conn, adj.cancel)
            ps.cancel_orders(conn, adj.cancel, reason, now)
            for e2e in adj.cancel:
                o = cancelled[e2e]
                self._post(uow, case, now, f"payment/{e2e}/cancelled", msg.PaymentCancelledPosting, end_to_end_id=e2e,
                           period=period_key, amount_oere=o.amount_oere, offset_oere=o.offset_oere, reason=reason)
            uow.record_event(self._event(case, "payment.cancelled", now, identity, end_to_end_ids=adj.cancel,
                                         period=period_key))
        if adj.new_claim_oere:
            claim_id = ps.insert_claim(conn, case_id=case.case_id, municipality_code=case.municipality_code,
                                       benefit_code=case.benefit_code, origin=pay.ClaimOrigin.SUPERSEDING_DECISION,
                                       amount=adj.new_claim_oere, period_key=period_key, decision_id=decision_id,
                                       reason=f"paid more than granted for {period_key}", offset_allowed=False,
                                       created_by=identity.client_id, now=now)
            self._claim_changed(uow, case, claim_id, "claim.created", now, identity, amount_oere=adj.new_claim_oere,
                                period=period_key)
        if adj.release:
            ps.release_claims(conn, adj.release, now)
            for claim_id, amount in adj.release:
                self._claim_changed(uow, case, claim_id, "claim.released", now, identity, amount_oere=amount,
                                    period=period_key)

    def _post(self, uow: UnitOfWork, case: Case, now: dt.datetime, message_id: str, kind: type[msg.EconomyMessage],
              **fields: Any) -> None:
        """A posting of `kind` to the municipality's economy system, through the outbox."""
        uow.add_outbox(kind(municipality_code=case.municipality_code, benefit_code=case.benefit_code,
                            ledger_account=uow.benefit(case.benefit_code).ledger_account, case_id=case.case_id,
                            cpr=case.cpr, **fields).outbox(message_id, case.case_id), now)

    def _claim_changed(self, uow: UnitOfWork, case: Case, claim_id: str, type_: str, now: dt.datetime,
                       identity: Identity, **details: Any) -> None:
        """`type_` is the event (claim.created, ...); `details` its payload: amount_oere
        (what the change moved), period, origin, reason, end_to_end_id, offset_allowed."""
        c = ps.claim(uow.writer(), claim_id)
        uow.record_event(self._event(case, type_, now, identity, claim_id=claim_id, status=c.status, **details))
        self._post(uow, case, now, f"claim/{claim_id}/{type_}/{new_id()}", msg.ClaimPosting, claim_id=claim_id,
                   change=type_.removeprefix("claim."), status=c.status, amount_oere=c.amount_oere,
                   collected_oere=c.collected_oere, cancelled_oere=c.cancelled_oere,
                   written_off_oere=c.written_off_oere, change_amount_oere=details.get("amount_oere", 0),
                   period=details.get("period", ""), origin=details.get("origin", ""),
                   reason=details.get("reason", ""), end_to_end_id=details.get("end_to_end_id", ""),
                   offset_allowed=details.get("offset_allowed"))

    # ---- creating orders ----------------------------------------------------------------------

    def _order_due(self, uow: UnitOfWork, up_to: str, now: dt.datetime, identity: Identity, *,
                   decision_id: str | None = None, after_id: int = 0, limit: int | None = None,
                   run_id: str | None = None, rows=None) -> tuple[list[Any], list[dict[str, Any]], int]:
        """One chunk of due lines (or the `rows` given) into orders, each posted to the
        economy system. A line no payment can be (see pay.line_problem) is held for the
        back office, flagged by an event, and the others are ordered. Returns the lines
        examined, the orders made and how many were held."""
        conn = uow.writer()
        if rows is None:
            rows = ps.due_lines(conn, up_to, after_id=after_id, limit=limit or RUN_CHUNK, decision_id=decision_id)
        benefits = {code: uow.benefit(code) for code in {r.benefit_code for r in rows}}
        held = [(r, problem) for r in rows if r.due > 0 and (problem := pay.line_problem(benefits[r.benefit_code], r))]
        if held:
            self._hold(uow, held, now, identity)
            skip = {id(r) for r, _ in held}
            rows_to_order = [r for r in rows if id(r) not in skip]
        else:
            rows_to_order = rows
        made, offsets = ps.create_orders(conn, rows_to_order, run_id=run_id, now=now)
        ps.close_lines(conn, rows_to_order)
        self._post_orders(uow, rows_to_order, made, offsets, now)
        return rows, made, len(held)

    def _hold(self, uow: UnitOfWork, held: list[tuple[Any, str]], now: dt.datetime, identity: Identity) -> None:
        ps.hold_lines(uow.writer(), held)
        for r, reason in held:
            case = uow.case(r.case_id)
            log.warning("payment held", case_id=r.case_id, period=r.period_key, reason=reason)
            uow.record_event(self._event(case, "payment.held", now, identity, decision_id=r.decision_id,
                                         period=r.period_key, amount_oere=r.amount_oere, reason=reason))

    def _post_orders(self, uow: UnitOfWork, rows, made, offsets, now: dt.datetime) -> None:
        cprs = {r.end_to_end_id: r.cpr for r in rows}
        accounts = {code: uow.benefit(code).ledger_account for code in {o["benefit_code"] for o in made}}
        for o in made:
            e2e = o["end_to_end_id"]
            uow.add_outbox(msg.PaymentOrderPosting(
                municipality_code=o["municipality_code"], benefit_code=o["benefit_code"],
                ledger_account=accounts[o["benefit_code"]], case_id=o["case_id"],
                cpr=cprs.get(e2e, ""), end_to_end_id=e2e, decision_id=o["decision_id"], period=o["period_key"],
                order_kind=o["kind"], amount_oere=o["amount_oere"], offset_oere=o["offset_oere"],
                net_amount_oere=o["amount_oere"] - o["offset_oere"],
                offsets=tuple(msg.Offset(c, n) for c, n in offsets.get(e2e, ())),
                period_start=o["period_start"], period_end=o["period_end"],
            ).outbox(f"payment/{e2e}/order", o["case_id"]), now)

    def run_payments(self, identity: Identity, request_id: str, period: str) -> Iterator[dict[str, Any]]:
        """Create every order due up to `period`, in chunks of one transaction each
        (orders, their postings and offsets together). Yields progress."""
        self._authorize(identity, "RunPayments")
        v = Violations()
        cmd.check_request_id(v, request_id)
        _check_run_period(v, period, self.clock.now())
        v.raise_if_any()
        with self._uow() as uow:
            conn = uow.writer()
            run = ps.run_by_request(conn, identity.client_id, request_id)
            if run is not None and run.period != period:
                raise AlreadyExists("request_id was already used by this client for a run of another period",
                                    reason="REQUEST_ID_REUSED", metadata={"request_id": request_id})
            run_id = run.run_id if run else ps.start_run(conn, identity.client_id, request_id, period,
                                                         self.clock.now())
            total = ps.count_due(conn, period)
            uow.commit()
        progress = dict(run_id=run_id, period=period, examined=0, total=total, orders_created=0, amount_oere=0,
                        held=0, done=False)
        if run is not None and run.finished_at is not None:
            yield dict(progress, examined=run.examined, total=run.examined, orders_created=run.orders_created,
                       amount_oere=run.amount_oere, held=run.held, done=True)
            return
        yield progress
        after = 0
        while True:
            try:
                with self._uow() as uow:
                    rows, made, held = self._order_due(uow, period, self.clock.now(), identity, after_id=after,
                                                       run_id=run_id)
                    if not rows:
                        break
                    amount = sum(o["amount_oere"] for o in made)
                    ps.add_to_run(uow.writer(), run_id, len(rows), len(made), amount, held)
                    uow.commit()
            except Exception:
                # Something in this chunk cannot be ordered: one citizen's case must not
                # stop everyone else's payments. Each line on its own; one that fails
                # is held for the back office, and the run goes on.
                log.exception("a payment chunk failed; ordering its lines one by one", after_id=after)
                rows, made, held = self._order_one_by_one(identity, period, run_id, after)
                if not rows:
                    break
                amount = sum(o["amount_oere"] for o in made)
            after = rows[-1].id
            progress.update(examined=progress["examined"] + len(rows),
                            orders_created=progress["orders_created"] + len(made),
                            amount_oere=progress["amount_oere"] + amount, held=progress["held"] + held)
            progress["total"] = max(progress["total"], progress["examined"])
            yield dict(progress)
        with self._uow() as uow:
            conn = uow.writer()
            ps.finish_run(conn, run_id, self.clock.now())
            run = ps.run_by_request(conn, identity.client_id, request_id)
            uow.audit(AuditEntry(self.clock.now(), identity.client_id, identity.role.value, "RunPayments", None, None,
                                 "OK", request_id, f"payment run {period}: {run.orders_created} orders"))
            uow.commit()
        yield dict(progress, examined=run.examined, total=max(progress["total"], run.examined),
                   orders_created=run.orders_created, amount_oere=run.amount_oere, held=run.held, done=True)

    def _order_one_by_one(self, identity: Identity, period: str, run_id: str,
                          after: int) -> tuple[list[Any], list[dict[str, Any]], int]:
        """The next chunk's lines, each ordered in a transaction of its own; a line
        whose ordering fails is held (in a transaction of its own) with the error's
        kind as the reason. Returns the lines examined, the orders made, how many held."""
        with self._uow() as uow:
            rows = ps.due_lines(uow.writer(), period, after_id=after, limit=RUN_CHUNK)
            uow.commit()
        made_all: list[dict[str, Any]] = []
        held_all = 0
        for row in rows:
            try:
                with self._uow() as uow:
                    again = ps.due_lines(uow.writer(), period, after_id=row.id - 1, limit=1)
                    if not again or again[0].id != row.id:
                        continue  # ordered meanwhile by another run, or superseded
                    _, made, held = self._order_due(uow, period, self.clock.now(), identity, run_id=run_id,
                                                    rows=again)
                    ps.add_to_run(uow.writer(), run_id, 1, len(made), sum(o["amount_oere"] for o in made), held)
                    uow.commit()
                made_all += made
                held_all += held
            except Exception as exc:
                log.exception("a payment line could not be ordered; holding it", case_id=row.case_id,
                              period=row.period_key)
                with self._uow() as uow:
                    self._hold(uow, [(row, f"could not be ordered ({type(exc).__name__}); see the hub's log")],
                               self.clock.now(), identity)
                    ps.add_to_run(uow.writer(), run_id, 1, 0, 0, 1)
                    uow.commit()
                held_all += 1
        return rows, made_all, held_all

    def schedule_payments(self, identity: Identity, request_id: str, decision_id: str, period: str,
                          fingerprint: str, encode) -> bytes:
        self._authorize(identity, "SchedulePayments")
        v = Violations()
        cmd.check_request_id(v, request_id)
        v.require(bool(decision_id), "decision_id", "is required")
        _check_run_period(v, period, self.clock.now())
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            decision = uow.decision(decision_id, for_update=True)
            case = self._case_in_scope(uow, identity, decision.case_id if decision else "", for_update=True)
            if case.status is CaseStatus.WITHDRAWN:
                raise FailedPrecondition("the case is withdrawn", reason="CASE_WITHDRAWN")
            if decision.status is not DecisionStatus.APPROVED:
                raise FailedPrecondition(f"only an approved decision is paid: it is {decision.status.value}",
                                         reason="DECISION_NOT_APPROVED",
                                         metadata={"decision_status": decision.status.value})
            conn = uow.writer()
            if not ps.decision_in_force(conn, decision_id):
                reason = ("it grants nothing" if not any(a.amount_oere for a in decision.amounts)
                          else f"it was superseded by decision {decision.superseded_by}")
                raise FailedPrecondition(f"the decision is not a grant in force: {reason}",
                                         reason="DECISION_NOT_IN_FORCE")
            _, made, _ = self._order_due(uow, period, now, identity, decision_id=decision_id, limit=100_000)
            return [ps.to_order(ps.order(conn, o["end_to_end_id"])) for o in made], case

        return self._mutate(identity, "SchedulePayments", request_id, fingerprint, encode, work)

    # ---- reading ------------------------------------------------------------------------------

    def payment_history(self, uow: UnitOfWork, case_id: str) -> pay.PaymentHistory:
        return ps.history(uow.writer(), case_id)

    def list_payments(self, identity: Identity, f: dict[str, str], page_size: int,
                      page_token: str) -> tuple[list[pay.PaymentOrder], str]:
        self._authorize(identity, "ListPayments")
        v = Violations()
        cmd.check_municipality(v, "municipality_code", f["municipality_code"], required=False)
        cmd.check_benefit_code(v, "benefit_code", f["benefit_code"], required=False)
        if f["due_month"]:
            _check_month(v, "due_month", f["due_month"])
        size = cmd.page_size(v, page_size)
        v.raise_if_any()
        qhash = paging.query_hash(identity.client_id, "payments", *sorted(f.items()))
        after = paging.decode(page_token, qhash)
        limits = self._limits(identity)
        with self._uow() as uow:
            rows = ps.list_orders(uow.writer(), municipalities=identity.municipalities, after_id=after,
                                  limit=size + 1, benefits=limits["benefits"],
                                  sensitivities=[s.value for s in limits["sensitivities"]], **f)
        page = rows[:size]
        return [ps.to_order(r) for r in page], paging.encode(page[-1].id, qhash) if len(rows) > size else ""

    # ---- providers ----------------------------------------------------------------------------

    def _audit_batch(self, uow: UnitOfWork, identity: Identity, action: str, batch: pay.Batch,
                     now: dt.datetime) -> None:
        """A batch shows the provider its citizens' CPR numbers: one audit entry per case."""
        seen = set()
        for i in batch.instructions:
            if i.order.case_id not in seen:
                seen.add(i.order.case_id)
                uow.audit(AuditEntry(now, identity.client_id, identity.role.value, action, i.order.case_id, i.cpr,
                                     "OK", None, f"payment batch {batch.batch_id}"))

    def fetch_payment_batch(self, identity: Identity, max_orders: int) -> pay.Batch:
        """Naturally idempotent: the open lease is returned until it is acknowledged."""
        self._authorize(identity, "FetchPaymentBatch")
        v = Violations()
        v.require(0 <= max_orders <= MAX_BATCH, "max_orders", f"must be between 1 and {MAX_BATCH} (0: 500)")
        v.raise_if_any()
        with self._uow() as uow:
            conn, now = uow.writer(), self.clock.now()
            ps.expire_leases(conn, now)
            b = ps.open_lease(conn, identity.client_id)
            if b is None:
                batch_id = ps.new_batch(conn, provider_id=identity.client_id, municipalities=identity.municipalities,
                                        limit=max_orders or 500, mode="FETCH", status="LEASED", now=now,
                                        lease_expires_at=now + LEASE)
                b = ps.batch(conn, batch_id) if batch_id else None
            batch = ps.to_batch(conn, b) if b else pay.Batch("", "", identity.client_id, None, None)
            self._audit_batch(uow, identity, "FetchPaymentBatch", batch, now)
            uow.commit()
            return batch

    def _provider_batch(self, uow: UnitOfWork, identity: Identity, batch_id: str):
        b = ps.batch(uow.writer(), batch_id, lock=True) if batch_id else None
        if b is None or b.provider_id != identity.client_id:
            raise NotFound("batch not found", reason="BATCH_NOT_FOUND", metadata={"batch_id": batch_id})
        return b

    def acknowledge_payment_batch(self, identity: Identity, batch_id: str) -> pay.Batch:
        """Naturally idempotent: acknowledging twice is acknowledging once."""
        self._authorize(identity, "AcknowledgePaymentBatch")
        with self._uow() as uow:
            conn, now = uow.writer(), self.clock.now()
            ps.expire_leases(conn, now)
            b = self._provider_batch(uow, identity, batch_id)
            if b.status == "EXPIRED":
                raise FailedPrecondition("the batch's lease ran out before it was acknowledged; its orders will "
                                         "come in a new batch: fetch again", reason="BATCH_LEASE_EXPIRED")
            if b.status == "LEASED":
                ps.acknowledge(conn, batch_id, now)
            batch = ps.to_batch(conn, ps.batch(conn, batch_id))
            uow.audit(AuditEntry(now, identity.client_id, identity.role.value, "AcknowledgePaymentBatch", None, None,
                                 "OK", None, f"payment batch {batch_id}"))
            uow.commit()
            return batch

    def report_settlement(self, identity: Identity, request_id: str, reports: list[dict[str, Any]],
                          fingerprint: str, encode) -> bytes:
        self._authorize(identity, "ReportSettlement")
        v = Violations()
        cmd.check_request_id(v, request_id)
        v.require(0 < len(reports) <= MAX_SETTLEMENTS, "settlements", f"give 1 to {MAX_SETTLEMENTS} results")
        seen: set[str] = set()
        for i, r in enumerate(reports):
            f = f"settlements[{i}]"
            v.require(bool(r["end_to_end_id"]), f"{f}.end_to_end_id", "is required")
            v.require(r["end_to_end_id"] not in seen, f"{f}.end_to_end_id", "is reported twice in this request")
            seen.add(r["end_to_end_id"])
            v.require(r["result"] is not None, f"{f}.result", "is required")
            v.require(r["amount_oere"] >= 0, f"{f}.amount_oere", "must not be negative (øre)")
            r["settlement_date"] = cmd.to_date(v, f"{f}.settlement_date", r["settlement_date"])
            if r["result"] in (pay.SettlementResult.REJECTED, pay.SettlementResult.RETURNED):
                v.require(bool(r["reason"].strip()), f"{f}.reason", "is required for a rejected or returned payment")
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            conn = uow.writer()
            orders = ps.orders_by_ids(conn, [r["end_to_end_id"] for r in reports], lock=True)
            bad = Violations()
            for i, r in enumerate(reports):
                o = orders.get(r["end_to_end_id"])
                if o is None or o.provider_id != identity.client_id:
                    raise NotFound("no payment order with that end-to-end id among this provider's",
                                   reason="ORDER_NOT_FOUND", metadata={"end_to_end_id": r["end_to_end_id"]})
                bad.require(r["amount_oere"] == o.amount_oere - o.offset_oere, f"settlements[{i}].amount_oere",
                            "differs from the order's net amount")
            bad.raise_if_any()
            for r in reports:
                o = orders[r["end_to_end_id"]]
                if pay.settled_status(pay.OrderStatus(o.status), r["result"]) is None:
                    raise FailedPrecondition(f"{r['result'].value} cannot be reported for an order that is {o.status}",
                                             reason="SETTLEMENT_DOES_NOT_FIT",
                                             metadata={"end_to_end_id": o.end_to_end_id, "status": o.status})
            out = []
            for r in reports:
                o = orders[r["end_to_end_id"]]
                if o.status != r["result"].value:
                    self._settle(uow, o, r, now, identity)
                out.append(ps.to_order(ps.order(conn, o.end_to_end_id)))
            return out, None

        return self._mutate(identity, "ReportSettlement", request_id, fingerprint, encode, work)

    def _settle(self, uow: UnitOfWork, o, r: dict[str, Any], now: dt.datetime, identity: Identity) -> None:
        conn = uow.writer()
        result: pay.SettlementResult = r["result"]
        date = r["settlement_date"]
        ps.set_settlement(conn, o.end_to_end_id, result.value, dict(
            result=result.value, amount_oere=r["amount_oere"], bank_reference=r["bank_reference"],
            settlement_date=date.isoformat() if date else None, reason=r["reason"], reported_by=identity.client_id,
            reported_at=now.isoformat()), now)
        case = uow.case(o.case_id)
        if result is not pay.SettlementResult.PAID:
            for claim_id in ps.reverse_offsets(conn, [o.end_to_end_id], now):
                self._claim_changed(uow, case, claim_id, "claim.offset_reversed", now, identity,
                                    end_to_end_id=o.end_to_end_id)
        uow.record_event(self._event(case, f"payment.{result.value.lower()}", now, identity,
                                     end_to_end_id=o.end_to_end_id, period=o.period_key, amount_oere=r["amount_oere"],
                                     flagged=result is not pay.SettlementResult.PAID))
        self._post(uow, case, now, f"payment/{o.end_to_end_id}/settlement/{result.value.lower()}",
                   msg.PaymentSettlementPosting, end_to_end_id=o.end_to_end_id, result=result.value,
                   amount_oere=r["amount_oere"], bank_reference=r["bank_reference"], settlement_date=date,
                   period=o.period_key, reason=r["reason"])
        self._rebalance(uow, case, o.period_key, now, identity, cancel_unsent=False, decision_id=None)

    def push_payment_batch(self, identity: Identity, request_id: str, provider_id: str, fingerprint: str,
                           encode) -> bytes:
        """Hand a provider's pending orders over as pain.001 files, one per payer
        municipality, through the outbox (same transaction as the batch)."""
        self._authorize(identity, "PushPaymentBatch")
        v = Violations()
        cmd.check_request_id(v, request_id)
        provider = self.providers.get(provider_id)
        v.require(provider is not None, "provider_id", "is not a client with the payment_provider role")
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            conn = uow.writer()
            scope = [m for m in provider.municipalities if identity.covers_municipality(m)]
            batch_id = ps.new_batch(conn, provider_id=provider_id, municipalities=scope, limit=MAX_BATCH * 10,
                                    mode="FILE", status="PUSHED", now=now, lease_expires_at=None)
            if batch_id is None:
                return pay.Batch("", "", provider_id, None, None), None
            batch = ps.to_batch(conn, ps.batch(conn, batch_id))
            number = ps.batch(conn, batch_id).id
            by_payer: dict[str, list[pay.Instruction]] = {}
            for i in batch.instructions:
                by_payer.setdefault(i.order.municipality_code, []).append(i)
            for code, items in sorted(by_payer.items()):
                m = municipalities.get(code)
                uow.add_outbox(msg.CreditTransfer(
                    provider_id=provider_id, batch_id=batch_id, message_identification=f"HUB-B{number}-{code}",
                    created_at=now, payer=msg.Payer(code, m.authority_name if m else code),
                    requested_execution_date=now.date(),
                    transactions=tuple(msg.Transfer(i.order.end_to_end_id, i.order.net_oere, i.cpr,
                                                    pay.remittance(i.order)) for i in items),
                ).outbox(f"batch/{batch_id}/{code}", None), now)
            self._audit_batch(uow, identity, "PushPaymentBatch", batch, now)
            return batch, None

        return self._mutate(identity, "PushPaymentBatch", request_id, fingerprint, encode, work)

    # ---- the back office: reissue and claims -----------------------------------------------

    def reissue_payment(self, identity: Identity, request_id: str, end_to_end_id: str, fingerprint: str,
                        encode) -> bytes:
        self._authorize(identity, "ReissuePayment")
        v = Violations()
        cmd.check_request_id(v, request_id)
        v.require(bool(end_to_end_id), "end_to_end_id", "is required")
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            conn = uow.writer()
            o = ps.order(conn, end_to_end_id, lock=True)
            case = self._case_in_scope(uow, identity, o.case_id if o else "", for_update=True)
            if o.status not in [s.value for s in pay.FLAGGED_STATUSES] or o.reissued_as:
                raise FailedPrecondition(f"only a rejected or returned payment not yet reissued can be reissued: it "
                                         f"is {o.status}" + (f", reissued as {o.reissued_as}" if o.reissued_as else ""),
                                         reason="NOT_REISSUABLE", metadata={"status": o.status})
            line = ps.active_line(conn, case.case_id, o.period_key)
            due = ps.due_for(conn, case.case_id, o.period_key, line.amount_oere if line else 0)
            if due <= 0:
                raise FailedPrecondition("nothing is due for the period under the grant in force",
                                         reason="NOTHING_DUE", metadata={"period": o.period_key})
            # With no grant in force for the period any more, what is due is what the
            # citizen paid back on a claim for this payment, which never reached them:
            # the reissue pays that back, under the returned payment's own grant.
            source = line if line is not None else o
            new_id = pay.reissue_id(end_to_end_id, ps.reissues(conn, end_to_end_id) + 1)
            row = SimpleNamespace(**{k: getattr(source, k) for k in (
                "decision_id", "case_id", "municipality_code", "benefit_code", "period_key", "period_start",
                "period_end", "due_month", "amount_oere")}, id=line.id if line is not None else o.line_id,
                end_to_end_id=new_id, cpr=case.cpr, due=due)
            made, offsets = ps.create_orders(conn, [row], run_id=None, now=now, kind_of=lambda _: pay.OrderKind.REISSUE)
            ps.mark_reissued(conn, end_to_end_id, new_id, now)
            self._post_orders(uow, [row], made, offsets, now)
            uow.record_event(self._event(case, "payment.reissued", now, identity, end_to_end_id=end_to_end_id,
                                         reissued_as=new_id, amount_oere=due))
            return ps.to_order(ps.order(conn, new_id)), case

        return self._mutate(identity, "ReissuePayment", request_id, fingerprint, encode, work)

    def create_claim(self, identity: Identity, request_id: str, case_id: str, origin: pay.ClaimOrigin | None,
                     amount: int, reason: str, offset_allowed: bool, fingerprint: str, encode) -> bytes:
        self._authorize(identity, "CreateClaim")
        v = Violations()
        cmd.check_request_id(v, request_id)
        v.require(bool(case_id), "case_id", "is required")
        v.require(origin in (pay.ClaimOrigin.RECALCULATION, pay.ClaimOrigin.MANUAL), "origin",
                  "must be RECALCULATION or MANUAL (claims from superseding decisions are made by the hub)")
        v.require(amount > 0, "amount_oere", "must be positive (øre)")
        cmd.check_text(v, "reason", reason, required=True)
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            case = self._case_in_scope(uow, identity, case_id, for_update=True)
            claim_id = ps.insert_claim(uow.writer(), case_id=case.case_id, municipality_code=case.municipality_code,
                                       benefit_code=case.benefit_code, origin=origin, amount=amount, period_key="",
                                       decision_id=None, reason=reason, offset_allowed=offset_allowed,
                                       created_by=identity.client_id, now=now)
            self._claim_changed(uow, case, claim_id, "claim.created", now, identity, amount_oere=amount,
                                origin=origin.value)
            return ps.claim_model(uow.writer(), claim_id), case

        return self._mutate(identity, "CreateClaim", request_id, fingerprint, encode, work)

    def _claim_in_scope(self, uow: UnitOfWork, identity: Identity, claim_id: str):
        c = ps.claim(uow.writer(), claim_id, lock=True) if claim_id else None
        case = uow.case(c.case_id, for_update=True) if c else None
        if case is None or not (self._visible(identity, case) or (
                identity.role is Role.PAYMENT_PROVIDER and identity.covers_municipality(case.municipality_code))):
            raise NotFound("claim not found", reason="CLAIM_NOT_FOUND", metadata={"claim_id": claim_id})
        return c, case

    def _claim_update(self, identity: Identity, action: str, request_id: str, claim_id: str, check, change,
                      event: str, fingerprint: str, encode, **details: Any) -> bytes:
        self._authorize(identity, action)
        v = Violations()
        cmd.check_request_id(v, request_id)
        v.require(bool(claim_id), "claim_id", "is required")
        check(v)
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            c, case = self._claim_in_scope(uow, identity, claim_id)
            change(uow.writer(), c, now)
            self._claim_changed(uow, case, claim_id, event, now, identity, **details)
            return ps.claim_model(uow.writer(), claim_id), case

        return self._mutate(identity, action, request_id, fingerprint, encode, work)

    @staticmethod
    def _require_open_claim(c) -> None:
        if c.status not in [s.value for s in pay.OPEN_CLAIM_STATUSES]:
            raise FailedPrecondition(f"the claim is {c.status}", reason="CLAIM_NOT_OPEN", metadata={"status": c.status})

    def set_claim_offset(self, identity: Identity, request_id: str, claim_id: str, allowed: bool, fingerprint: str,
                         encode) -> bytes:
        def change(conn, c, now):
            self._require_open_claim(c)
            ps.update_claim(conn, claim_id, now, offset_allowed=allowed)
        return self._claim_update(identity, "SetClaimOffset", request_id, claim_id, lambda v: None, change,
                                  "claim.offset_set", fingerprint, encode, offset_allowed=allowed)

    def write_off_claim(self, identity: Identity, request_id: str, claim_id: str, reason: str, fingerprint: str,
                        encode) -> bytes:
        def change(conn, c, now):
            self._require_open_claim(c)
            outstanding = c.amount_oere - c.collected_oere - c.cancelled_oere - c.written_off_oere
            ps.update_claim(conn, claim_id, now, written_off_oere=c.written_off_oere + outstanding,
                            reason=f"{c.reason}; written off: {reason}" if c.reason else f"written off: {reason}")
        return self._claim_update(identity, "WriteOffClaim", request_id, claim_id,
                                  lambda v: cmd.check_text(v, "reason", reason, required=True), change,
                                  "claim.written_off", fingerprint, encode, reason=reason)

    def report_collection(self, identity: Identity, request_id: str, claim_id: str, amount: int, reference: str,
                          fingerprint: str, encode) -> bytes:
        def change(conn, c, now):
            self._require_open_claim(c)
            outstanding = c.amount_oere - c.collected_oere - c.cancelled_oere - c.written_off_oere
            if amount > outstanding:
                raise FailedPrecondition(f"the amount exceeds what is outstanding on the claim ({outstanding} øre)",
                                         reason="MORE_THAN_OUTSTANDING", metadata={"outstanding_oere": str(outstanding)})
            ps.add_collection(conn, claim_id, "PROVIDER", amount, reference or request_id, now)
        return self._claim_update(identity, "ReportCollection", request_id, claim_id,
                                  lambda v: (v.require(amount > 0, "amount_oere", "must be positive (øre)"),
                                             cmd.check_text(v, "reference", reference, limit=cmd.MAX_SHORT)), change,
                                  "claim.collected", fingerprint, encode, amount_oere=amount)

