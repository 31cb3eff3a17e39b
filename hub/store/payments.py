"""Payments and collection in SQL: grant lines, orders, runs and provider batches
(Payments), claims on citizens and what is collected on them (Claims). They keep
what the use cases decide; the rules that decide (hub.domain.payments) are applied by
the use cases."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from hub.domain import payments as pay
from hub.domain.commands import PaymentFilter
from hub.domain.identity import Scope
from hub.domain.ids import new_id
from hub.store import tables as t
from hub.store.db import dialect_insert
from hub.store.prepared import Query, insert_new_returning
from hub.store.repositories import Repository
from hub.store.scoping import scoped

LIVE = [s.value for s in pay.LIVE_ORDER_STATUSES]
FLAGGED = [s.value for s in pay.FLAGGED_STATUSES]
OPEN_CLAIMS = [s.value for s in pay.OPEN_CLAIM_STATUSES]
OPEN, DONE, SUPERSEDED, HELD = "OPEN", "DONE", "SUPERSEDED", "HELD"
L, O, K, B = t.payment_lines.c, t.payment_orders.c, t.claims.c, t.payment_batches.c
_LINE_FIELDS = ("id", "decision_id", "case_id", "municipality_code", "benefit_code", "period_key", "period_start",
                "period_end", "due_month", "amount_oere", "end_to_end_id")


def _among(conn: sa.Connection, column: sa.ColumnElement, values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column = ANY(array)`: one parameter however
    many the values (a run's chunk has thousands), so one statement that SQLAlchemy and
    psycopg prepare once, not a new one of thousands of placeholders each time."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))


def _line(r) -> pay.GrantLine:
    return pay.GrantLine(*(getattr(r, f) for f in _LINE_FIELDS))


def _due_query(up_to: str):
    """What each open line up to a month is due, in SQL, for the set-based run: the
    line's amount less what live orders pay for its period, plus what claims take back
    (hub.domain.payments.due_amount, which a period outside a run uses, says the same).
    Computed by the database because a run looks at every grant in force at once."""
    live = (sa.select(sa.func.coalesce(sa.func.sum(O.amount_oere), 0))
            .where(O.case_id == L.case_id, O.period_key == L.period_key, O.status.in_(LIVE)).scalar_subquery())
    claimed = (sa.select(sa.func.coalesce(sa.func.sum(K.amount_oere - K.cancelled_oere), 0))
               .where(K.case_id == L.case_id, K.period_key == L.period_key).scalar_subquery())
    flagged = (sa.exists().where(O.case_id == L.case_id, O.period_key == L.period_key, O.status.in_(FLAGGED),
                                 O.reissued_as.is_(None)))
    return (sa.select(*(getattr(L, f) for f in _LINE_FIELDS), t.cases.c.cpr,
                      # SUM is numeric on PostgreSQL: back to integer øre.
                      sa.cast(L.amount_oere - live + claimed, sa.BigInteger).label("due"), flagged.label("flagged"))
            .join(t.cases, t.cases.c.case_id == L.case_id)
            .where(L.state == OPEN, L.due_month <= up_to))


def _order(r, provider_id: str | None = None) -> pay.PaymentOrder:
    s = r.settlement
    settlement = None if not s else pay.Settlement(
        pay.SettlementResult(s["result"]), int(s["amount_oere"]), s.get("bank_reference", ""),
        dt.date.fromisoformat(s["settlement_date"]) if s.get("settlement_date") else None, s.get("reason", ""),
        s["reported_by"], dt.datetime.fromisoformat(s["reported_at"]))
    return pay.PaymentOrder(r.end_to_end_id, r.case_id, r.decision_id, r.municipality_code, r.benefit_code,
                            r.period_key, r.period_start, r.period_end, pay.OrderKind(r.kind),
                            pay.OrderStatus(r.status), r.amount_oere, r.offset_oere, r.created_at, r.batch_id,
                            settlement, r.reissued_as, r.cancel_reason, r.due_month, r.line_id, provider_id)


class Payments(Repository):
    # ---- grant lines -------------------------------------------------------------------

    def add_lines(self, decision_id: str, case_id: str, municipality_code: str, benefit_code: str,
                  lines: Sequence[tuple[pay.Line, str]]) -> None:
        """A grant's lines, each with its end-to-end id."""
        if lines:
            self._c.execute(t.payment_lines.insert(), [dict(
                decision_id=decision_id, case_id=case_id, municipality_code=municipality_code,
                benefit_code=benefit_code, period_key=x.period_key, period_start=x.period_start,
                period_end=x.period_end, due_month=x.due_month, amount_oere=x.amount_oere, end_to_end_id=e2e,
                state=OPEN) for x, e2e in lines])

    def supersede(self, case_id: str, from_date: dt.date, by_decision: str,
                  to_date: dt.date | None = None) -> tuple[set[str], set[str]]:
        """Lines of earlier grants from `from_date` on (to `to_date`, if given) stop
        counting. Returns their period keys and their decisions."""
        q = sa.update(t.payment_lines).where(L.case_id == case_id, L.state != SUPERSEDED, L.period_start >= from_date,
                                             L.decision_id != by_decision)
        if to_date is not None:
            q = q.where(L.period_end <= to_date)
        rows = self._c.execute(q.values(state=SUPERSEDED, superseded_by=by_decision)
                               .returning(L.period_key, L.decision_id)).all()
        return {r.period_key for r in rows}, {r.decision_id for r in rows}

    def in_force(self, case_id: str, from_date: dt.date, except_decision: str,
                 to_date: dt.date | None = None) -> dict[str, int]:
        """What the grants in force give per period from `from_date` on (to `to_date`)."""
        return {r.period_key: int(r.amount_oere) for r in _IN_FORCE.all(
            self._c, case_id=case_id, from_date=from_date, except_decision=except_decision,
            to_date=to_date or _OPEN_END)}

    def periods_with_money(self, case_id: str) -> set[str]:
        """The periods of a case that have orders or claims (the others need no balancing)."""
        orders = sa.select(O.period_key).where(O.case_id == case_id)
        claims = sa.select(K.period_key).where(K.case_id == case_id, K.period_key != "")
        return set(self._c.execute(sa.union(orders, claims)).scalars())

    def line(self, case_id: str, period_key: str) -> pay.GrantLine | None:
        """The line in force for a period (none: no grant for it)."""
        r = self._c.execute(sa.select(t.payment_lines).where(L.case_id == case_id, L.period_key == period_key,
                                                             L.state != SUPERSEDED)).first()
        return _line(r) if r else None

    def decision_in_force(self, decision_id: str) -> bool:
        """Some line of the decision still counts (it is not wholly superseded)."""
        return self._c.execute(sa.select(sa.func.count()).select_from(t.payment_lines)
                               .where(L.decision_id == decision_id, L.state != SUPERSEDED)).scalar_one() > 0

    def has_grant(self, case_id: str) -> bool:
        return _HAS_GRANT.first(self._c, case_id=case_id) is not None

    def paid_out(self, case_id: str, start: dt.date, end: dt.date) -> int:
        """What the case's orders sent or paid for periods within `start`..`end` came to (øre)."""
        return self._c.execute(sa.select(sa.func.coalesce(sa.func.sum(O.amount_oere), 0))
                               .where(O.case_id == case_id, O.period_start >= start, O.period_end <= end,
                                      O.status.in_([pay.OrderStatus.SENT.value, pay.OrderStatus.PAID.value]))
                               ).scalar_one()

    def held(self, case_id: str) -> list[pay.HeldPayment]:
        rows = self._c.execute(sa.select(L.decision_id, L.period_key, L.amount_oere, L.held_reason)
                               .where(L.case_id == case_id, L.state == HELD).order_by(L.id))
        return [pay.HeldPayment(r.decision_id, r.period_key, r.amount_oere, r.held_reason or "") for r in rows]

    # ---- a period's money ---------------------------------------------------------------

    def positions(self, case_id: str, period_key: str) -> tuple[list[pay.OrderPosition], list[pay.ClaimPosition]]:
        """A period's orders and claims, locked (on PostgreSQL) while the caller brings
        them back in balance."""
        q = sa.select(O.end_to_end_id, O.status, O.amount_oere, O.batch_id).where(
            O.case_id == case_id, O.period_key == period_key)
        k = sa.select(K.claim_id, K.amount_oere, K.collected_oere, K.cancelled_oere, K.written_off_oere).where(
            K.case_id == case_id, K.period_key == period_key).order_by(K.id)
        if self._locks:
            q, k = q.with_for_update(), k.with_for_update()
        orders = [pay.OrderPosition(r.end_to_end_id, pay.OrderStatus(r.status), r.amount_oere,
                                    r.batch_id is not None or r.status != pay.OrderStatus.PENDING.value)
                  for r in self._c.execute(q)]
        claims = [pay.ClaimPosition(r.claim_id, r.amount_oere, r.collected_oere, r.cancelled_oere,
                                    r.written_off_oere) for r in self._c.execute(k)]
        return orders, claims

    def cancel(self, ids: Sequence[str], reason: str, now: dt.datetime) -> None:
        """Cancel orders not yet handed over (their offsets: Claims.reverse_offsets)."""
        if ids:
            self._c.execute(sa.update(t.payment_orders).where(O.end_to_end_id.in_(list(ids)), O.status == "PENDING",
                                                              O.batch_id.is_(None))
                            .values(status="CANCELLED", cancel_reason=reason, updated_at=now))

    # ---- what a run orders --------------------------------------------------------------

    def count_due(self, up_to: str) -> int:
        return self._c.execute(sa.select(sa.func.count()).select_from(t.payment_lines)
                               .where(L.state == OPEN, L.due_month <= up_to)).scalar_one()

    def due_lines(self, up_to: str, *, after_id: int = 0, limit: int = 2000,
                  decision_id: str | None = None) -> list[pay.DueLine]:
        q = _due_query(up_to).where(L.id > after_id)
        if decision_id:
            q = q.where(L.decision_id == decision_id)
        q = q.order_by(L.id).limit(limit)
        if self._locks:
            # Lines another run is ordering, or a decision being approved is superseding,
            # are locked: skip them (that run orders them; a superseded line is not due).
            # Two runs then share the work instead of waiting for, or deadlocking on, it.
            q = q.with_for_update(skip_locked=True, of=t.payment_lines)
        return [pay.DueLine(*r[:len(_LINE_FIELDS)], cpr=r.cpr, due=r.due, flagged=bool(r.flagged))
                for r in self._c.execute(q)]

    def add_orders(self, orders: Sequence[dict[str, Any]]) -> set[str]:
        """New orders, each once: one whose end-to-end id exists already (a concurrent
        run made it) is left out. Returns the end-to-end ids made."""
        return set(insert_new_returning(self._c, t.payment_orders, orders, "end_to_end_id", "end_to_end_id"))

    def hold(self, held: Sequence[tuple[pay.GrantLine, str]]) -> None:
        """Lines that must not be ordered leave the run's work list, each with why; a
        new decision on the case supersedes them like any other line."""
        for line, reason in held:
            self._c.execute(sa.update(t.payment_lines).where(L.id == line.id, L.state == OPEN)
                            .values(state=HELD, held_reason=reason))

    def close(self, lines: Sequence[pay.DueLine]) -> None:
        """Lines considered (ordered, or nothing due) leave the run's work list; lines of a
        period with a rejected payment wait for the back office."""
        ids = [x.id for x in lines if not x.flagged]
        if ids:
            conn = self._c
            conn.execute(sa.update(t.payment_lines).where(_among(conn, L.id, ids), L.state == OPEN)
                         .values(state=DONE))

    # ---- runs ----------------------------------------------------------------------------

    def run(self, client_id: str, request_id: str) -> pay.PaymentRun | None:
        r = t.payment_runs.c
        row = self._c.execute(sa.select(t.payment_runs).where(r.client_id == client_id,
                                                              r.request_id == request_id)).first()
        return None if row is None else pay.PaymentRun(row.run_id, row.period, row.examined, row.orders_created,
                                                        row.amount_oere, row.held, row.finished_at)

    def start_run(self, client_id: str, request_id: str, period: str, now: dt.datetime) -> str:
        """The run of this request (a concurrent twin's, if it started first)."""
        self._c.execute(dialect_insert(self._c, t.payment_runs).on_conflict_do_nothing(), dict(
            run_id=new_id(), client_id=client_id, request_id=request_id, period=period, started_at=now, examined=0,
            orders_created=0, amount_oere=0))
        return self.run(client_id, request_id).run_id

    def add_to_run(self, run_id: str, examined: int, created: int, amount: int, held: int = 0) -> None:
        r = t.payment_runs.c
        self._c.execute(sa.update(t.payment_runs).where(r.run_id == run_id).values(
            examined=r.examined + examined, orders_created=r.orders_created + created,
            amount_oere=r.amount_oere + amount, held=r.held + held))

    def finish_run(self, run_id: str, now: dt.datetime) -> None:
        self._c.execute(sa.update(t.payment_runs).where(t.payment_runs.c.run_id == run_id).values(finished_at=now))

    def latest_run_period(self) -> str | None:
        r = t.payment_runs.c
        return self._c.execute(sa.select(sa.func.max(r.period)).where(r.finished_at.is_not(None))).scalar_one()

    # ---- orders --------------------------------------------------------------------------

    def order(self, end_to_end_id: str, *, lock: bool = False) -> pay.PaymentOrder | None:
        return self.orders([end_to_end_id], lock=lock).get(end_to_end_id)

    def orders(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, pay.PaymentOrder]:
        q = sa.select(t.payment_orders, B.provider_id).outerjoin(t.payment_batches, B.batch_id == O.batch_id).where(
            O.end_to_end_id.in_(list(ids)))
        if lock and self._locks:
            q = q.with_for_update(of=t.payment_orders)
        return {r.end_to_end_id: _order(r, r.provider_id) for r in self._c.execute(q)}

    def for_case(self, case_id: str) -> list[pay.PaymentOrder]:
        return [_order(r) for r in self._c.execute(sa.select(t.payment_orders).where(O.case_id == case_id)
                                                   .order_by(O.id))]

    def list(self, scope: Scope, f: PaymentFilter, *, after_id: int, limit: int) -> list[tuple[int, pay.PaymentOrder]]:
        """Orders of the municipalities `scope` covers (its benefits and sensitivities),
        by the filters of `f` that are set."""
        q = scoped(sa.select(t.payment_orders).join(t.cases, t.cases.c.case_id == O.case_id)
                   .where(O.id > after_id), scope, by_authority=False)
        for column, key in ((O.municipality_code, "municipality_code"), (O.benefit_code, "benefit_code"),
                            (O.status, "status"), (O.due_month, "due_month"), (O.case_id, "case_id")):
            if getattr(f, key):
                q = q.where(column == getattr(f, key))
        return [(r.id, _order(r)) for r in self._c.execute(q.order_by(O.id).limit(limit))]

    def settle(self, end_to_end_id: str, status: str, settlement: dict[str, Any], now: dt.datetime) -> None:
        self._c.execute(sa.update(t.payment_orders).where(O.end_to_end_id == end_to_end_id)
                        .values(status=status, settlement=settlement, updated_at=now))

    def reissues(self, end_to_end_id: str) -> int:
        base = end_to_end_id.split("-R")[0]
        return self._c.execute(sa.select(sa.func.count()).select_from(t.payment_orders)
                               .where(O.end_to_end_id.like(f"{base}-R%"))).scalar_one()

    def mark_reissued(self, end_to_end_id: str, reissued_as: str, now: dt.datetime) -> None:
        self._c.execute(sa.update(t.payment_orders).where(O.end_to_end_id == end_to_end_id)
                        .values(reissued_as=reissued_as, updated_at=now))

    # ---- provider batches ----------------------------------------------------------------

    def expire_leases(self, now: dt.datetime) -> None:
        conn = self._c
        stale = conn.execute(sa.select(B.batch_id).where(B.status == "LEASED", B.lease_expires_at <= now)
                             ).scalars().all()
        if stale:
            conn.execute(sa.update(t.payment_orders).where(O.batch_id.in_(stale), O.status == "PENDING")
                         .values(batch_id=None))
            conn.execute(sa.update(t.payment_batches).where(B.batch_id.in_(stale)).values(status="EXPIRED"))

    def batch(self, batch_id: str, *, lock: bool = False) -> pay.Batch | None:
        """The batch with its orders and their citizens."""
        q = sa.select(t.payment_batches).where(B.batch_id == batch_id)
        if lock and self._locks:
            q = q.with_for_update()
        b = self._c.execute(q).first()
        if b is None:
            return None
        rows = self._c.execute(sa.select(t.payment_orders, t.cases.c.cpr)
                               .join(t.cases, t.cases.c.case_id == O.case_id)
                               .where(O.batch_id == batch_id).order_by(O.id))
        return pay.Batch(b.batch_id, b.status, b.provider_id, b.created_at, b.lease_expires_at,
                         tuple(pay.Instruction(_order(r, b.provider_id), r.cpr) for r in rows), b.id)

    def open_lease(self, provider_id: str) -> str | None:
        return self._c.execute(sa.select(B.batch_id).where(B.provider_id == provider_id, B.status == "LEASED")
                               .order_by(B.id).limit(1)).scalar()

    def batchable(self, municipalities: Iterable[str], limit: int) -> list[tuple[int, int]]:
        """Up to `limit` pending orders of the municipalities not in a batch: (row id,
        net amount), oldest first; locked, and skipped if another batch takes them."""
        q = (sa.select(O.id, O.amount_oere - O.offset_oere)
             .where(O.status == "PENDING", O.batch_id.is_(None), O.municipality_code.in_(sorted(municipalities)))
             .order_by(O.id).limit(limit))
        if self._locks:
            q = q.with_for_update(skip_locked=True)
        return [(r[0], int(r[1])) for r in self._c.execute(q)]

    def add_batch(self, order_ids: Sequence[int], *, provider_id: str, mode: str, status: str, control_sum: int,
                  now: dt.datetime, lease_expires_at: dt.datetime | None) -> str:
        batch_id = new_id()
        self._c.execute(t.payment_batches.insert(), dict(
            batch_id=batch_id, provider_id=provider_id, mode=mode, status=status, created_at=now,
            lease_expires_at=lease_expires_at, acknowledged_at=now if status != "LEASED" else None,
            order_count=len(order_ids), control_sum_oere=control_sum))
        values = dict(batch_id=batch_id, updated_at=now)
        if status != "LEASED":
            values["status"] = "SENT"
        self._c.execute(sa.update(t.payment_orders).where(O.id.in_(list(order_ids))).values(**values))
        return batch_id

    def acknowledge(self, batch_id: str, now: dt.datetime) -> None:
        self._c.execute(sa.update(t.payment_batches).where(B.batch_id == batch_id)
                        .values(status="ACKNOWLEDGED", acknowledged_at=now))
        self._c.execute(sa.update(t.payment_orders).where(O.batch_id == batch_id, O.status == "PENDING")
                        .values(status="SENT", updated_at=now))


def _claim(r, collected: Sequence[Any] = ()) -> pay.Claim:
    return pay.Claim(r.claim_id, r.case_id, r.municipality_code, r.benefit_code, pay.ClaimOrigin(r.origin),
                     pay.ClaimStatus(r.status), r.period_key, r.decision_id, r.amount_oere, r.collected_oere,
                     r.cancelled_oere, r.written_off_oere, bool(r.offset_allowed), r.reason, r.created_at,
                     tuple(pay.Collection(c.source, c.amount_oere, c.reference, c.at, bool(c.reversed))
                           for c in collected))


class Claims(Repository):
    def add(self, *, case_id: str, municipality_code: str, benefit_code: str, origin: pay.ClaimOrigin, amount: int,
            period_key: str, decision_id: str | None, reason: str, offset_allowed: bool, created_by: str,
            now: dt.datetime) -> str:
        claim_id = new_id()
        self._c.execute(t.claims.insert(), dict(
            claim_id=claim_id, case_id=case_id, municipality_code=municipality_code, benefit_code=benefit_code,
            origin=origin.value, status=pay.ClaimStatus.OPEN.value, period_key=period_key, decision_id=decision_id,
            amount_oere=amount, collected_oere=0, cancelled_oere=0, written_off_oere=0, offset_allowed=offset_allowed,
            reason=reason, created_by=created_by, created_at=now, updated_at=now))
        return claim_id

    def get(self, claim_id: str, *, lock: bool = False) -> pay.Claim | None:
        q = sa.select(t.claims).where(K.claim_id == claim_id)
        if lock and self._locks:
            q = q.with_for_update()
        r = self._c.execute(q).first()
        return None if r is None else _claim(r, self._collections([claim_id]).get(claim_id, ()))

    def many(self, claim_ids: Iterable[str]) -> list[pay.Claim]:
        rows = self._c.execute(sa.select(t.claims).where(K.claim_id.in_(sorted(claim_ids))).order_by(K.id)).all()
        return [_claim(r) for r in rows]

    def claimed(self, case_id: str) -> int:
        """What the case's claims ask back, less what was released (øre)."""
        return self._c.execute(sa.select(sa.func.coalesce(sa.func.sum(K.amount_oere - K.cancelled_oere), 0))
                               .where(K.case_id == case_id)).scalar_one()

    def for_case(self, case_id: str) -> list[pay.Claim]:
        rows = self._c.execute(sa.select(t.claims).where(K.case_id == case_id).order_by(K.id)).all()
        found = self._collections([r.claim_id for r in rows]) if rows else {}
        return [_claim(r, found.get(r.claim_id, ())) for r in rows]

    def _collections(self, claim_ids: Sequence[str]) -> dict[str, list[Any]]:
        c = t.claim_collections.c
        out: dict[str, list[Any]] = {}
        for r in self._c.execute(sa.select(t.claim_collections).where(c.claim_id.in_(list(claim_ids)))
                                 .order_by(c.id)):
            out.setdefault(r.claim_id, []).append(r)
        return out

    def offsettable(self, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[pay.Claim]]:
        """Open claims that may be offset, by (cpr, municipality, benefit), oldest first;
        locked (on PostgreSQL) while orders offset them."""
        if not keys:
            return {}
        conn = self._c
        q = (sa.select(t.claims, t.cases.c.cpr)
             .join(t.cases, t.cases.c.case_id == K.case_id)
             .where(K.offset_allowed == sa.true(), K.status.in_(OPEN_CLAIMS),
                    _among(conn, t.cases.c.cpr, sorted({k[0] for k in keys})))
             .order_by(K.id))
        if self._locks:
            q = q.with_for_update(of=t.claims)
        out: dict[tuple[str, str, str], list[pay.Claim]] = {}
        for r in conn.execute(q):
            key = (r.cpr, r.municipality_code, r.benefit_code)
            if key in keys:
                out.setdefault(key, []).append(_claim(r))
        return out

    def add_offsets(self, offsets: Sequence[tuple[str, str, int]], now: dt.datetime) -> None:
        """What orders withhold for claims: (end-to-end id, claim id, amount), each a
        collection on the claim."""
        if not offsets:
            return
        self._c.execute(t.claim_collections.insert(), [
            dict(claim_id=c, source="OFFSET", amount_oere=n, reference=e, at=now, reversed=False)
            for e, c, n in offsets])
        totals: dict[str, int] = {}
        for _, c, n in offsets:
            totals[c] = totals.get(c, 0) + n
        for c, n in totals.items():
            self._c.execute(sa.update(t.claims).where(K.claim_id == c)
                            .values(collected_oere=K.collected_oere + n, updated_at=now))

    def reverse_offsets(self, order_ids: Sequence[str], now: dt.datetime) -> list[str]:
        """The offsets of orders that will not be paid no longer count. Returns the
        claims whose collections changed."""
        if not order_ids:
            return []
        c = t.claim_collections.c
        rows = self._c.execute(sa.update(t.claim_collections)
                               .where(c.reference.in_(list(order_ids)), c.source == "OFFSET",
                                      c.reversed == sa.false())
                               .values(reversed=True).returning(c.claim_id, c.amount_oere)).all()
        for r in rows:
            self._c.execute(sa.update(t.claims).where(K.claim_id == r.claim_id)
                            .values(collected_oere=K.collected_oere - r.amount_oere, updated_at=now))
        return sorted({r.claim_id for r in rows})

    def release(self, releases: Sequence[tuple[str, int]], now: dt.datetime) -> None:
        for claim_id, amount in releases:
            self._c.execute(sa.update(t.claims).where(K.claim_id == claim_id)
                            .values(cancelled_oere=K.cancelled_oere + amount, updated_at=now))

    def update(self, claim_id: str, now: dt.datetime, **values: Any) -> None:
        self._c.execute(sa.update(t.claims).where(K.claim_id == claim_id).values(updated_at=now, **values))

    def add_collection(self, claim_id: str, source: str, amount: int, reference: str, now: dt.datetime) -> None:
        self._c.execute(t.claim_collections.insert(), dict(claim_id=claim_id, source=source, amount_oere=amount,
                                                           reference=reference, at=now, reversed=False))
        self.update(claim_id, now, collected_oere=K.collected_oere + amount)

    def set_status(self, claim_id: str, status: pay.ClaimStatus) -> None:
        self._c.execute(sa.update(t.claims).where(K.claim_id == claim_id).values(status=status.value))


# Read for every decision, also on the automatic path: prepared (hub.store.prepared).
_IN_FORCE = Query(sa.select(L.period_key, L.amount_oere).where(
    L.case_id == sa.bindparam("case_id"), L.state != SUPERSEDED, L.period_start >= sa.bindparam("from_date"),
    L.period_end <= sa.bindparam("to_date"), L.decision_id != sa.bindparam("except_decision")))
_OPEN_END = dt.date(9999, 12, 31)
_HAS_GRANT = Query(sa.select(L.id).where(L.case_id == sa.bindparam("case_id"), L.state != SUPERSEDED).limit(1))
