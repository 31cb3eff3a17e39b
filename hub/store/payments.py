"""Payments and collection in SQL: grant lines, orders, batches, claims. Functions take
the unit of work's connection; the caller commits."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from hub.domain import payments as pay
from hub.store import tables as t
from hub.domain.ids import new_id
from hub.store.db import dialect_insert

LIVE = [s.value for s in pay.LIVE_ORDER_STATUSES]
FLAGGED = [s.value for s in pay.FLAGGED_STATUSES]
OPEN_CLAIMS = [s.value for s in pay.OPEN_CLAIM_STATUSES]
OPEN, DONE, SUPERSEDED, HELD = "OPEN", "DONE", "SUPERSEDED", "HELD"
L, O, K, B = t.payment_lines.c, t.payment_orders.c, t.claims.c, t.payment_batches.c


def _pg(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"




# ---- grant lines ---------------------------------------------------------------------------

def decision_number(conn: sa.Connection, decision_id: str) -> int:
    return conn.execute(sa.select(t.decisions.c.id).where(t.decisions.c.decision_id == decision_id)).scalar_one()


def insert_lines(conn: sa.Connection, *, decision_id: str, number: int, case_id: str, municipality_code: str,
                 benefit_code: str, lines: Sequence[pay.Line]) -> None:
    if lines:
        conn.execute(t.payment_lines.insert(), [dict(
            decision_id=decision_id, case_id=case_id, municipality_code=municipality_code, benefit_code=benefit_code,
            period_key=x.period_key, period_start=x.period_start, period_end=x.period_end, due_month=x.due_month,
            amount_oere=x.amount_oere, end_to_end_id=pay.end_to_end_id(number, x), state=OPEN) for x in lines])


def supersede_lines(conn: sa.Connection, case_id: str, from_date: dt.date, by_decision: str) -> tuple[set[str], set[str]]:
    """Lines of earlier grants from `from_date` on stop counting. Returns their period
    keys and decision ids."""
    rows = conn.execute(sa.update(t.payment_lines)
                        .where(L.case_id == case_id, L.state != SUPERSEDED, L.period_start >= from_date,
                               L.decision_id != by_decision)
                        .values(state=SUPERSEDED, superseded_by=by_decision)
                        .returning(L.period_key, L.decision_id)).all()
    decisions = {r.decision_id for r in rows}
    if decisions:
        conn.execute(sa.update(t.decisions).where(t.decisions.c.decision_id.in_(decisions))
                     .values(superseded_by=by_decision))
    return {r.period_key for r in rows}, decisions


def amounts_in_force(conn: sa.Connection, case_id: str, from_date: dt.date, except_decision: str) -> dict[str, int]:
    """What the grants in force give per period from `from_date` on (for telling
    whether a new decision lowers them)."""
    rows = conn.execute(sa.select(L.period_key, L.amount_oere).where(
        L.case_id == case_id, L.state != SUPERSEDED, L.period_start >= from_date, L.decision_id != except_decision))
    return {r.period_key: int(r.amount_oere) for r in rows}


def active_line(conn: sa.Connection, case_id: str, period_key: str):
    return conn.execute(sa.select(t.payment_lines).where(L.case_id == case_id, L.period_key == period_key,
                                                         L.state != SUPERSEDED)).first()


def decision_in_force(conn: sa.Connection, decision_id: str) -> bool:
    """Some line of the decision still counts (it is not wholly superseded)."""
    return conn.execute(sa.select(sa.func.count()).select_from(t.payment_lines)
                        .where(L.decision_id == decision_id, L.state != SUPERSEDED)).scalar_one() > 0


# ---- a period's balance ----------------------------------------------------------------------

def _order_positions(conn: sa.Connection, case_id: str, period_key: str, *, lock: bool) -> list[pay.OrderPosition]:
    q = sa.select(O.end_to_end_id, O.status, O.amount_oere, O.batch_id).where(
        O.case_id == case_id, O.period_key == period_key)
    if lock and _pg(conn):
        q = q.with_for_update()
    return [pay.OrderPosition(r.end_to_end_id, pay.OrderStatus(r.status), r.amount_oere,
                              r.batch_id is not None or r.status != pay.OrderStatus.PENDING.value)
            for r in conn.execute(q)]


def _claim_positions(conn: sa.Connection, case_id: str, period_key: str) -> list[pay.ClaimPosition]:
    q = sa.select(K.claim_id, K.amount_oere, K.collected_oere, K.cancelled_oere, K.written_off_oere).where(
        K.case_id == case_id, K.period_key == period_key).order_by(K.id)
    if _pg(conn):
        q = q.with_for_update()
    return [pay.ClaimPosition(r.claim_id, r.amount_oere, r.collected_oere, r.cancelled_oere, r.written_off_oere)
            for r in conn.execute(q)]


def balance(conn: sa.Connection, case_id: str, period_key: str, *, cancel_unsent: bool) -> tuple[Any, pay.Adjustment]:
    line = active_line(conn, case_id, period_key)
    entitled = line.amount_oere if line is not None else 0
    orders = _order_positions(conn, case_id, period_key, lock=True)
    claims = _claim_positions(conn, case_id, period_key)
    return line, pay.reconcile(entitled, orders, claims, cancel_unsent=cancel_unsent)


def cancel_orders(conn: sa.Connection, ids: Sequence[str], reason: str, now: dt.datetime) -> list[str]:
    """Cancel orders not yet handed over; offsets they carried are reversed. Returns the
    ids of the claims whose collections changed."""
    if not ids:
        return []
    conn.execute(sa.update(t.payment_orders).where(O.end_to_end_id.in_(ids), O.status == "PENDING",
                                                   O.batch_id.is_(None))
                 .values(status="CANCELLED", cancel_reason=reason, updated_at=now))
    return reverse_offsets(conn, ids, now)


def reverse_offsets(conn: sa.Connection, order_ids: Sequence[str], now: dt.datetime) -> list[str]:
    c = t.claim_collections.c
    rows = conn.execute(sa.update(t.claim_collections)
                        .where(c.reference.in_(list(order_ids)), c.source == "OFFSET", c.reversed == sa.false())
                        .values(reversed=True).returning(c.claim_id, c.amount_oere)).all()
    for r in rows:
        conn.execute(sa.update(t.claims).where(K.claim_id == r.claim_id)
                     .values(collected_oere=K.collected_oere - r.amount_oere, updated_at=now))
    touched = sorted({r.claim_id for r in rows})
    refresh_claim_status(conn, touched)
    return touched


def refresh_claim_status(conn: sa.Connection, claim_ids: Iterable[str]) -> None:
    for r in conn.execute(sa.select(K.claim_id, K.amount_oere, K.collected_oere, K.cancelled_oere,
                                    K.written_off_oere, K.status).where(K.claim_id.in_(list(claim_ids)))).all():
        status = pay.claim_status(r.amount_oere, r.collected_oere, r.cancelled_oere, r.written_off_oere).value
        if status != r.status:
            conn.execute(sa.update(t.claims).where(K.claim_id == r.claim_id).values(status=status))


def release_claims(conn: sa.Connection, releases: Sequence[tuple[str, int]], now: dt.datetime) -> None:
    for claim_id, amount in releases:
        conn.execute(sa.update(t.claims).where(K.claim_id == claim_id)
                     .values(cancelled_oere=K.cancelled_oere + amount, updated_at=now))
    refresh_claim_status(conn, [c for c, _ in releases])


def insert_claim(conn: sa.Connection, *, case_id: str, municipality_code: str, benefit_code: str, origin: pay.ClaimOrigin,
                 amount: int, period_key: str, decision_id: str | None, reason: str, offset_allowed: bool,
                 created_by: str, now: dt.datetime) -> str:
    claim_id = new_id()
    conn.execute(t.claims.insert(), dict(
        claim_id=claim_id, case_id=case_id, municipality_code=municipality_code, benefit_code=benefit_code,
        origin=origin.value, status=pay.ClaimStatus.OPEN.value, period_key=period_key, decision_id=decision_id,
        amount_oere=amount, collected_oere=0, cancelled_oere=0, written_off_oere=0, offset_allowed=offset_allowed,
        reason=reason, created_by=created_by, created_at=now, updated_at=now))
    return claim_id


# ---- creating orders -------------------------------------------------------------------------

def _due_query(up_to: str):
    """`pay.due_amount` as SQL, for the set-based run: the line's amount less what live
    orders pay for the period, plus what claims take back."""
    live = (sa.select(sa.func.coalesce(sa.func.sum(O.amount_oere), 0))
            .where(O.case_id == L.case_id, O.period_key == L.period_key, O.status.in_(LIVE)).scalar_subquery())
    claimed = (sa.select(sa.func.coalesce(sa.func.sum(K.amount_oere - K.cancelled_oere), 0))
               .where(K.case_id == L.case_id, K.period_key == L.period_key).scalar_subquery())
    flagged = (sa.exists().where(O.case_id == L.case_id, O.period_key == L.period_key, O.status.in_(FLAGGED),
                                 O.reissued_as.is_(None)))
    return (sa.select(L.id, L.decision_id, L.case_id, L.municipality_code, L.benefit_code, L.period_key,
                      L.period_start, L.period_end, L.due_month, L.amount_oere, L.end_to_end_id, t.cases.c.cpr,
                      # SUM is numeric on PostgreSQL: back to integer øre.
                      sa.cast(L.amount_oere - live + claimed, sa.BigInteger).label("due"), flagged.label("flagged"))
            .join(t.cases, t.cases.c.case_id == L.case_id)
            .where(L.state == OPEN, L.due_month <= up_to))


def count_due(conn: sa.Connection, up_to: str) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(t.payment_lines)
                        .where(L.state == OPEN, L.due_month <= up_to)).scalar_one()


def due_lines(conn: sa.Connection, up_to: str, *, after_id: int = 0, limit: int = 2000,
              decision_id: str | None = None) -> list[Any]:
    q = _due_query(up_to).where(L.id > after_id)
    if decision_id:
        q = q.where(L.decision_id == decision_id)
    q = q.order_by(L.id).limit(limit)
    if _pg(conn):
        # Lines another run is ordering, or a decision being approved is superseding,
        # are locked: skip them (that run orders them; a superseded line is not due).
        # Two runs then share the work instead of waiting for, or deadlocking on, it.
        q = q.with_for_update(skip_locked=True, of=t.payment_lines)
    return conn.execute(q).all()


def offset_claims(conn: sa.Connection, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[Any]]:
    """Open claims that may be offset, by (cpr, municipality, benefit), oldest first."""
    if not keys:
        return {}
    cprs = sorted({k[0] for k in keys})
    q = (sa.select(K.claim_id, K.amount_oere, K.collected_oere, K.cancelled_oere, K.written_off_oere,
                   K.municipality_code, K.benefit_code, t.cases.c.cpr)
         .join(t.cases, t.cases.c.case_id == K.case_id)
         .where(K.offset_allowed == sa.true(), K.status.in_(OPEN_CLAIMS), t.cases.c.cpr.in_(cprs))
         .order_by(K.id))
    if _pg(conn):
        q = q.with_for_update(of=t.claims)
    out: dict[tuple[str, str, str], list[Any]] = {}
    for r in conn.execute(q):
        key = (r.cpr, r.municipality_code, r.benefit_code)
        if key in keys:
            out.setdefault(key, []).append(r)
    return out


def create_orders(conn: sa.Connection, rows: Sequence[Any], *, run_id: str | None, now: dt.datetime,
                  kind_of=None) -> tuple[list[dict[str, Any]], dict[str, list[tuple[str, int]]]]:
    """Orders for due lines (`due` > 0), each once: an order whose end-to-end id exists
    already (a concurrent run) is skipped. Offsets against the citizen's open claims
    are withheld. Returns the orders created and, per order, the claims it offset."""
    candidates = [r for r in rows if r.due > 0]
    if not candidates:
        return [], {}
    groups = offset_claims(conn, {(r.cpr, r.municipality_code, r.benefit_code) for r in candidates})
    plan: dict[str, list[tuple[str, int]]] = {}
    for key, claims in groups.items():
        orders = [r for r in candidates if (r.cpr, r.municipality_code, r.benefit_code) == key]
        owed = [c.amount_oere - c.collected_oere - c.cancelled_oere - c.written_off_oere for c in claims]
        for r, takes in zip(orders, pay.offsets([r.due for r in orders], owed)):
            plan[r.end_to_end_id] = [(c.claim_id, n) for c, n in zip(claims, takes) if n]
    values = [dict(
        end_to_end_id=r.end_to_end_id, line_id=r.id, decision_id=r.decision_id, case_id=r.case_id,
        municipality_code=r.municipality_code, benefit_code=r.benefit_code, period_key=r.period_key,
        period_start=r.period_start, period_end=r.period_end, due_month=r.due_month,
        kind=(kind_of(r) if kind_of else (pay.OrderKind.REGULAR if r.due == r.amount_oere
                                          else pay.OrderKind.CORRECTION)).value,
        status="PENDING", amount_oere=r.due, offset_oere=sum(n for _, n in plan.get(r.end_to_end_id, ())),
        run_id=run_id, created_at=now, updated_at=now) for r in candidates]
    created = set(conn.execute(
        dialect_insert(conn, t.payment_orders).on_conflict_do_nothing(index_elements=["end_to_end_id"])
        .returning(O.end_to_end_id), values).scalars())
    made = [v for v in values if v["end_to_end_id"] in created]
    offsets = {e: plan[e] for e in created if plan.get(e)}
    if offsets:
        conn.execute(t.claim_collections.insert(), [
            dict(claim_id=c, source="OFFSET", amount_oere=n, reference=e, at=now, reversed=False)
            for e, takes in offsets.items() for c, n in takes])
        totals: dict[str, int] = {}
        for takes in offsets.values():
            for c, n in takes:
                totals[c] = totals.get(c, 0) + n
        for c, n in totals.items():
            conn.execute(sa.update(t.claims).where(K.claim_id == c)
                         .values(collected_oere=K.collected_oere + n, updated_at=now))
        refresh_claim_status(conn, totals)
    return made, offsets


def hold_lines(conn: sa.Connection, held: Sequence[tuple[Any, str]]) -> None:
    """Due lines that must not be ordered leave the run's work list, each with why; a
    new decision on the case supersedes them like any other line."""
    for row, reason in held:
        conn.execute(sa.update(t.payment_lines).where(L.id == row.id, L.state == OPEN)
                     .values(state=HELD, held_reason=reason))


def close_lines(conn: sa.Connection, rows: Sequence[Any]) -> None:
    """Lines considered (ordered, or nothing due) leave the run's work list; lines of a
    period with a rejected payment wait for the back office."""
    ids = [r.id for r in rows if not r.flagged]
    if ids:
        conn.execute(sa.update(t.payment_lines).where(L.id.in_(ids), L.state == OPEN).values(state=DONE))


# ---- runs ------------------------------------------------------------------------------------

def run_by_request(conn: sa.Connection, client_id: str, request_id: str):
    r = t.payment_runs.c
    return conn.execute(sa.select(t.payment_runs).where(r.client_id == client_id, r.request_id == request_id)).first()


def start_run(conn: sa.Connection, client_id: str, request_id: str, period: str, now: dt.datetime) -> str:
    run_id = new_id()
    conn.execute(dialect_insert(conn, t.payment_runs).on_conflict_do_nothing(), dict(
        run_id=run_id, client_id=client_id, request_id=request_id, period=period, started_at=now, examined=0,
        orders_created=0, amount_oere=0))
    return run_by_request(conn, client_id, request_id).run_id


def add_to_run(conn: sa.Connection, run_id: str, examined: int, created: int, amount: int, held: int = 0) -> None:
    r = t.payment_runs.c
    conn.execute(sa.update(t.payment_runs).where(r.run_id == run_id).values(
        examined=r.examined + examined, orders_created=r.orders_created + created, amount_oere=r.amount_oere + amount,
        held=r.held + held))


def finish_run(conn: sa.Connection, run_id: str, now: dt.datetime) -> None:
    conn.execute(sa.update(t.payment_runs).where(t.payment_runs.c.run_id == run_id).values(finished_at=now))


def latest_run_period(conn: sa.Connection) -> str | None:
    r = t.payment_runs.c
    return conn.execute(sa.select(sa.func.max(r.period)).where(r.finished_at.is_not(None))).scalar_one()


# ---- reading ---------------------------------------------------------------------------------

def order(conn: sa.Connection, end_to_end_id: str, *, lock: bool = False):
    q = sa.select(t.payment_orders).where(O.end_to_end_id == end_to_end_id)
    if lock and _pg(conn):
        q = q.with_for_update()
    return conn.execute(q).first()


def orders_by_ids(conn: sa.Connection, ids: Sequence[str], *, lock: bool = False) -> dict[str, Any]:
    q = sa.select(t.payment_orders, B.provider_id).outerjoin(t.payment_batches, B.batch_id == O.batch_id).where(
        O.end_to_end_id.in_(list(ids)))
    if lock and _pg(conn):
        q = q.with_for_update(of=t.payment_orders)
    return {r.end_to_end_id: r for r in conn.execute(q)}


def case_orders(conn: sa.Connection, case_id: str) -> list[Any]:
    return conn.execute(sa.select(t.payment_orders).where(O.case_id == case_id).order_by(O.id)).all()


def claim(conn: sa.Connection, claim_id: str, *, lock: bool = False):
    q = sa.select(t.claims).where(K.claim_id == claim_id)
    if lock and _pg(conn):
        q = q.with_for_update()
    return conn.execute(q).first()


def case_claims(conn: sa.Connection, case_id: str) -> list[Any]:
    return conn.execute(sa.select(t.claims).where(K.case_id == case_id).order_by(K.id)).all()


def collections(conn: sa.Connection, claim_ids: Sequence[str]) -> dict[str, list[Any]]:
    c = t.claim_collections.c
    out: dict[str, list[Any]] = {}
    for r in conn.execute(sa.select(t.claim_collections).where(c.claim_id.in_(list(claim_ids))).order_by(c.id)):
        out.setdefault(r.claim_id, []).append(r)
    return out


def list_orders(conn: sa.Connection, *, municipalities: Iterable[str], municipality_code: str, benefit_code: str,
                status: str, due_month: str, case_id: str, after_id: int, limit: int,
                benefits: Iterable[str] | None, sensitivities: Iterable[str]) -> list[Any]:
    q = (sa.select(t.payment_orders).join(t.cases, t.cases.c.case_id == O.case_id)
         .where(O.municipality_code.in_(list(municipalities)), O.id > after_id,
                t.cases.c.sensitivity.in_(list(sensitivities))))
    if benefits is not None:
        q = q.where(O.benefit_code.in_(list(benefits)))
    for column, value in ((O.municipality_code, municipality_code), (O.benefit_code, benefit_code),
                          (O.status, status), (O.due_month, due_month), (O.case_id, case_id)):
        if value:
            q = q.where(column == value)
    return conn.execute(q.order_by(O.id).limit(limit)).all()


# ---- batches ---------------------------------------------------------------------------------

def expire_leases(conn: sa.Connection, now: dt.datetime) -> None:
    stale = conn.execute(sa.select(B.batch_id).where(B.status == "LEASED", B.lease_expires_at <= now)).scalars().all()
    if stale:
        conn.execute(sa.update(t.payment_orders).where(O.batch_id.in_(stale), O.status == "PENDING")
                     .values(batch_id=None))
        conn.execute(sa.update(t.payment_batches).where(B.batch_id.in_(stale)).values(status="EXPIRED"))


def batch(conn: sa.Connection, batch_id: str, *, lock: bool = False):
    q = sa.select(t.payment_batches).where(B.batch_id == batch_id)
    if lock and _pg(conn):
        q = q.with_for_update()
    return conn.execute(q).first()


def open_lease(conn: sa.Connection, provider_id: str):
    return conn.execute(sa.select(t.payment_batches).where(B.provider_id == provider_id, B.status == "LEASED")
                        .order_by(B.id).limit(1)).first()


def batch_instructions(conn: sa.Connection, batch_id: str) -> list[Any]:
    return conn.execute(sa.select(t.payment_orders, t.cases.c.cpr).join(t.cases, t.cases.c.case_id == O.case_id)
                        .where(O.batch_id == batch_id).order_by(O.id)).all()


def _within_int64(rows: Sequence[Any]) -> list[Any]:
    """The first orders whose net sum still fits the int64 control sum a provider gets
    (the contract's and the database's): the rest wait for the next batch. Amounts are
    capped far below this (pay.MAX_AMOUNT_OERE), so only damaged data ever meets it."""
    out, total = [], 0
    for r in rows:
        total += r.amount_oere - r.offset_oere
        if total > pay.INT64_MAX:
            break
        out.append(r)
    return out


def new_batch(conn: sa.Connection, *, provider_id: str, municipalities: Iterable[str], limit: int, mode: str,
              status: str, now: dt.datetime, lease_expires_at: dt.datetime | None) -> str | None:
    """Take up to `limit` pending orders of the municipalities into a new batch."""
    q = (sa.select(O.id, O.amount_oere, O.offset_oere)
         .where(O.status == "PENDING", O.batch_id.is_(None), O.municipality_code.in_(list(municipalities)))
         .order_by(O.id).limit(limit))
    if _pg(conn):
        q = q.with_for_update(skip_locked=True)
    rows = _within_int64(conn.execute(q).all())
    if not rows:
        return None
    batch_id = new_id()
    conn.execute(t.payment_batches.insert(), dict(
        batch_id=batch_id, provider_id=provider_id, mode=mode, status=status, created_at=now,
        lease_expires_at=lease_expires_at, acknowledged_at=now if status != "LEASED" else None,
        order_count=len(rows), control_sum_oere=sum(r.amount_oere - r.offset_oere for r in rows)))
    values = dict(batch_id=batch_id, updated_at=now)
    if status != "LEASED":
        values["status"] = "SENT"
    conn.execute(sa.update(t.payment_orders).where(O.id.in_([r.id for r in rows])).values(**values))
    return batch_id


def acknowledge(conn: sa.Connection, batch_id: str, now: dt.datetime) -> None:
    conn.execute(sa.update(t.payment_batches).where(B.batch_id == batch_id)
                 .values(status="ACKNOWLEDGED", acknowledged_at=now))
    conn.execute(sa.update(t.payment_orders).where(O.batch_id == batch_id, O.status == "PENDING")
                 .values(status="SENT", updated_at=now))


# ---- rows -> model ---------------------------------------------------------------------------

def to_order(r) -> pay.PaymentOrder:
    s = r.settlement
    settlement = None if not s else pay.Settlement(
        pay.SettlementResult(s["result"]), int(s["amount_oere"]), s.get("bank_reference", ""),
        dt.date.fromisoformat(s["settlement_date"]) if s.get("settlement_date") else None, s.get("reason", ""),
        s["reported_by"], dt.datetime.fromisoformat(s["reported_at"]))
    return pay.PaymentOrder(r.end_to_end_id, r.case_id, r.decision_id, r.municipality_code, r.benefit_code,
                            r.period_key, r.period_start, r.period_end, pay.OrderKind(r.kind),
                            pay.OrderStatus(r.status), r.amount_oere, r.offset_oere, r.created_at, r.batch_id,
                            settlement, r.reissued_as, r.cancel_reason)


def to_claim(r, collected: Sequence[Any] = ()) -> pay.Claim:
    return pay.Claim(r.claim_id, r.case_id, r.municipality_code, r.benefit_code, pay.ClaimOrigin(r.origin),
                     pay.ClaimStatus(r.status), r.period_key, r.decision_id, r.amount_oere, r.collected_oere,
                     r.cancelled_oere, r.written_off_oere, bool(r.offset_allowed), r.reason, r.created_at,
                     tuple(pay.Collection(c.source, c.amount_oere, c.reference, c.at, bool(c.reversed))
                           for c in collected))


def history(conn: sa.Connection, case_id: str) -> pay.PaymentHistory:
    claim_rows = case_claims(conn, case_id)
    found = collections(conn, [c.claim_id for c in claim_rows]) if claim_rows else {}
    held = conn.execute(sa.select(L.decision_id, L.period_key, L.amount_oere, L.held_reason)
                        .where(L.case_id == case_id, L.state == HELD).order_by(L.id)).all()
    return pay.PaymentHistory(tuple(to_order(r) for r in case_orders(conn, case_id)),
                              tuple(to_claim(c, found.get(c.claim_id, ())) for c in claim_rows),
                              tuple(pay.HeldPayment(r.decision_id, r.period_key, r.amount_oere, r.held_reason or "")
                                    for r in held))


def claim_model(conn: sa.Connection, claim_id: str) -> pay.Claim:
    return to_claim(claim(conn, claim_id), collections(conn, [claim_id]).get(claim_id, ()))


def to_batch(conn: sa.Connection, b) -> pay.Batch:
    return pay.Batch(b.batch_id, b.status, b.provider_id, b.created_at, b.lease_expires_at,
                     tuple(pay.Instruction(to_order(r), r.cpr) for r in batch_instructions(conn, b.batch_id)))


# ---- changes -------------------------------------------------------------------------------

def case_has_grant(conn: sa.Connection, case_id: str) -> bool:
    return conn.execute(sa.select(sa.func.count()).select_from(t.payment_lines)
                        .where(L.case_id == case_id, L.state != SUPERSEDED)).scalar_one() > 0


def due_for(conn: sa.Connection, case_id: str, period_key: str, entitled: int) -> int:
    return pay.due_amount(entitled, _order_positions(conn, case_id, period_key, lock=True),
                          _claim_positions(conn, case_id, period_key))


def set_settlement(conn: sa.Connection, end_to_end_id: str, status: str, settlement: dict[str, Any],
                   now: dt.datetime) -> None:
    conn.execute(sa.update(t.payment_orders).where(O.end_to_end_id == end_to_end_id)
                 .values(status=status, settlement=settlement, updated_at=now))


def reissues(conn: sa.Connection, end_to_end_id: str) -> int:
    base = end_to_end_id.split("-R")[0]
    return conn.execute(sa.select(sa.func.count()).select_from(t.payment_orders)
                        .where(O.end_to_end_id.like(f"{base}-R%"))).scalar_one()


def mark_reissued(conn: sa.Connection, end_to_end_id: str, new_id: str, now: dt.datetime) -> None:
    conn.execute(sa.update(t.payment_orders).where(O.end_to_end_id == end_to_end_id)
                 .values(reissued_as=new_id, updated_at=now))


def update_claim(conn: sa.Connection, claim_id: str, now: dt.datetime, **values: Any) -> None:
    conn.execute(sa.update(t.claims).where(K.claim_id == claim_id).values(updated_at=now, **values))
    refresh_claim_status(conn, [claim_id])


def add_collection(conn: sa.Connection, claim_id: str, source: str, amount: int, reference: str,
                   now: dt.datetime) -> None:
    conn.execute(t.claim_collections.insert(), dict(claim_id=claim_id, source=source, amount_oere=amount,
                                                    reference=reference, at=now, reversed=False))
    update_claim(conn, claim_id, now, collected_oere=K.collected_oere + amount)
