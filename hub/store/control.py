"""The IT control in SQL: the control rules' versions, the runs, the work of a month's
control (claimed by the runs that share it) and the findings (hub.domain.control has the
rules)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from hub.domain import control as ctl
from hub.domain import payments as pay
from hub.domain.identity import Scope
from hub.domain.ids import new_id
from hub.store import tables as t
from hub.store.db import dialect_insert
from hub.store.prepared import insert_many
from hub.store.repositories import Repository
from hub.store.scoping import scoped

RU, RN, CK, F = t.control_rules.c, t.control_runs.c, t.control_checks.c, t.control_findings.c
L, O = t.payment_lines.c, t.payment_orders.c
PENDING, CHECKED, FAILED = "PENDING", "CHECKED", "FAILED"
SUPERSEDED = "SUPERSEDED"
LIVE_ORDERS = [s.value for s in pay.LIVE_ORDER_STATUSES]
_CHUNK = 500   # ids per IN list


def _rule(r) -> ctl.ControlRule:
    d = dict(rule_code=r.rule_code, version=r.version, effective_from=r.effective_from.isoformat(), title=r.title,
             legal_basis=r.legal_basis, source=r.source, note=r.note, parameters=r.parameters)
    rule = ctl.control_rule_from_dict(d)
    return ctl.ControlRule(rule.code, rule.version, rule.effective_from, rule.title, rule.legal_basis, rule.source,
                           rule.parameters, rule.note, r.published_by, r.published_at)


def _run(r) -> ctl.Run:
    return ctl.Run(r.run_id, r.period, r.municipality_code, r.benefit_code, r.rules, dict(r.counts or {}),
                   r.finished_at)


def finding_from_row(r) -> ctl.Finding:
    return ctl.Finding(
        r.finding_id, r.case_id, r.municipality_code, r.benefit_code, getattr(r, "cpr", ""), ctl.RuleCode(r.rule_code),
        r.rule_key, r.title, r.match_key, r.period, r.period_start, r.period_end,
        ctl.observations_from_json(r.observations or ()), r.amount_at_stake_oere, dict(r.register_data or {}),
        ctl.Status(r.status), r.run_id, r.found_at, r.checked_decision_id,
        ctl.Outcome(r.outcome) if r.outcome else None, r.note, r.closed_by, r.closed_at,
        ctl.FollowUp(r.follow_up) if r.follow_up else None, r.follow_up_reason, r.decision_id or "")


def _chunks(items: Sequence[Any]) -> Iterable[list[Any]]:
    items = list(items)
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


@dataclass(frozen=True)
class Claimed:
    """A grant a run holds to check: its work row, its case and the decision in force."""
    check_id: int
    case_id: str
    decision_id: str
    municipality_code: str
    benefit_code: str
    amount_oere: int
    cpr: str
    case_status: str
    facts: Sequence[Mapping[str, Any]] | None    # the facts of the decision's stored calculation (None: none)


class Control(Repository):
    # ---- rule data -----------------------------------------------------------------------------

    def rules(self) -> list[ctl.ControlRule]:
        """Every version of every control rule."""
        return [_rule(r) for r in self._uow.conn.execute(sa.select(t.control_rules)
                                                          .order_by(RU.rule_code, RU.version))]

    # ---- runs ----------------------------------------------------------------------------------

    def run(self, client_id: str, request_id: str) -> ctl.Run | None:
        r = self._c.execute(sa.select(t.control_runs).where(RN.client_id == client_id,
                                                            RN.request_id == request_id)).first()
        return _run(r) if r else None

    def start_run(self, client_id: str, request_id: str, period: str, municipality_code: str, benefit_code: str,
                  rules: str, now: dt.datetime) -> str:
        run_id = new_id()
        self._c.execute(t.control_runs.insert().values(
            run_id=run_id, client_id=client_id, request_id=request_id, period=period,
            municipality_code=municipality_code, benefit_code=benefit_code, rules=rules, started_at=now,
            counts={k: 0 for k in ctl.COUNTS}))
        return run_id

    def add_to_run(self, run_id: str, deltas: Mapping[str, int]) -> None:
        """Add a chunk's counts to the run's (only this run writes its row)."""
        c = self._c
        counts = dict(c.execute(sa.select(RN.counts).where(RN.run_id == run_id)).scalar_one() or {})
        for k, n in deltas.items():
            counts[k] = counts.get(k, 0) + n
        c.execute(sa.update(t.control_runs).where(RN.run_id == run_id).values(counts=counts))

    def finish_run(self, run_id: str, now: dt.datetime) -> ctl.Run:
        c = self._c
        c.execute(sa.update(t.control_runs).where(RN.run_id == run_id, RN.finished_at.is_(None))
                  .values(finished_at=now))
        return _run(c.execute(sa.select(t.control_runs).where(RN.run_id == run_id)).one())

    # ---- the work: found from the payment lines, claimed by runs --------------------------------

    def line_ids(self) -> tuple[int, int]:
        """The lowest and highest payment line id (0, 0: none)."""
        low, high = self._c.execute(sa.select(sa.func.min(L.id), sa.func.max(L.id))).one()
        return int(low or 0), int(high or 0)

    def enqueue(self, period: str, rules: str, municipalities: Sequence[str], benefits: Sequence[str], *,
                first_line: int, last_line: int) -> None:
        """A PENDING check for every case with a grant in force in `period` (a line due
        then, not superseded) among the payment lines with ids first_line..last_line,
        unless it has one for these rules (one statement: INSERT ... SELECT)."""
        q = (sa.select(L.case_id, sa.literal(period).label("period"), sa.literal(rules).label("rules"),
                       L.municipality_code, L.benefit_code, L.decision_id, L.amount_oere,
                       sa.literal(PENDING).label("status"))
             .where(L.id >= first_line, L.id <= last_line, L.due_month == period, L.state != SUPERSEDED))
        if municipalities:
            q = q.where(L.municipality_code.in_(list(municipalities)))
        if benefits:
            q = q.where(L.benefit_code.in_(list(benefits)))
        c = self._c
        c.execute(dialect_insert(c, t.control_checks)
                  .from_select(["case_id", "period", "rules", "municipality_code", "benefit_code", "decision_id",
                                "amount_oere", "status"], q)
                  .on_conflict_do_nothing(index_elements=["case_id", "period", "rules"]))

    @staticmethod
    def _open(period: str, rules: str, municipalities: Sequence[str], benefits: Sequence[str]) -> list[Any]:
        where = [CK.period == period, CK.rules == rules, CK.status == PENDING]
        if municipalities:
            where.append(CK.municipality_code.in_(list(municipalities)))
        if benefits:
            where.append(CK.benefit_code.in_(list(benefits)))
        return where

    def count_open(self, period: str, rules: str, municipalities: Sequence[str], benefits: Sequence[str]) -> int:
        q = sa.select(sa.func.count()).select_from(t.control_checks).where(
            *self._open(period, rules, municipalities, benefits))
        return self._c.execute(q).scalar_one()

    def claim(self, run_id: str, period: str, rules: str, municipalities: Sequence[str], benefits: Sequence[str], *,
              limit: int, now: dt.datetime, lease: dt.timedelta) -> list[int]:
        """Up to `limit` pending checks no other run holds, held by this run for `lease`
        (two runs on PostgreSQL skip each other's rows; a run cut off takes its own back),
        in one statement. Their ids."""
        q = (sa.select(CK.id).where(*self._open(period, rules, municipalities, benefits),
                                    sa.or_(CK.claimed_until.is_(None), CK.claimed_until < now, CK.claimed_by == run_id))
             .order_by(CK.id).limit(limit))
        if self._locks:
            q = q.with_for_update(skip_locked=True)
        return sorted(self._c.execute(sa.update(t.control_checks).where(CK.id.in_(q.scalar_subquery()))
                                      .values(claimed_by=run_id, claimed_until=now + lease).returning(CK.id))
                      .scalars())

    def claimed(self, ids: Sequence[int]) -> list[Claimed]:
        """The checks `ids` with their cases and the decisions they check (the
        calculation's facts only: its periods' steps are most of it, and not needed)."""
        C, D = t.cases.c, t.decisions.c
        q = (sa.select(CK.id, CK.case_id, CK.decision_id, CK.municipality_code, CK.benefit_code, CK.amount_oere,
                       C.cpr, C.status, D.calculation["facts"])
             .select_from(t.control_checks.join(t.cases, C.case_id == CK.case_id)
                          .join(t.decisions, D.decision_id == CK.decision_id))
             .where(self._among(CK.id, ids)).order_by(CK.id))
        return [Claimed(*r) for r in self._c.execute(q)]

    def take(self, run_id: str, ids: Sequence[int]) -> set[int]:
        """Mark those of `ids` this run still holds pending CHECKED, and return them: they
        are this transaction's to check (locked until it ends, and PENDING again if it
        does not commit). A check another run took over after this run's lease ran out
        is not among them."""
        q = sa.update(t.control_checks).where(self._among(CK.id, ids), CK.claimed_by == run_id, CK.status == PENDING)
        return set(self._c.execute(q.values(status=CHECKED, last_run=run_id, claimed_by=None, claimed_until=None)
                                   .returning(CK.id)).scalars())

    def _among(self, column: sa.ColumnElement, ids: Sequence[int]) -> sa.ColumnElement:
        """`column` is one of `ids`: on PostgreSQL one array parameter (`= ANY(...)`), not a
        statement of a thousand placeholders that the driver parses each time."""
        if self._uow.store.engine.dialect.name == "postgresql":
            return column == sa.any_(sa.literal(list(ids), postgresql.ARRAY(sa.BigInteger)))
        return column.in_(list(ids))

    def done(self, run_id: str, ids: Sequence[int], *, status: str = CHECKED, reason: str = "") -> None:
        for part in _chunks(ids):
            self._c.execute(sa.update(t.control_checks).where(CK.id.in_(part), CK.claimed_by == run_id)
                            .values(status=status, reason=reason, last_run=run_id, claimed_by=None,
                                    claimed_until=None))

    # ---- what the payment rules read ----------------------------------------------------------------

    def paid_months(self, case_ids: Sequence[str], up_to: str) -> dict[str, list[ctl.PaidMonth]]:
        """Per case, the months (up to `up_to`) an order was made for and not cancelled,
        rejected or returned, or that a grant in force still governs, with the amount."""
        out: dict[str, dict[str, int]] = {c: {} for c in case_ids}
        last = ctl.month_end(up_to)
        for part in _chunks(case_ids):
            orders = sa.select(O.case_id, O.period_start, O.amount_oere).where(
                O.case_id.in_(part), O.status.in_(LIVE_ORDERS), O.period_start <= last)
            lines = sa.select(L.case_id, L.period_start, L.amount_oere).where(
                L.case_id.in_(part), L.state != SUPERSEDED, L.period_start <= last)
            for r in self._c.execute(sa.union_all(orders, lines)):
                month = ctl.month_of(r.period_start)
                months = out[r.case_id]
                months[month] = max(months.get(month, 0), int(r.amount_oere))
        return {c: [ctl.PaidMonth(m, a) for m, a in sorted(ms.items())] for c, ms in out.items()}

    # ---- findings ---------------------------------------------------------------------------------------

    def known(self, case_ids: Sequence[str]) -> tuple[set[tuple[str, str, str]], set[tuple[str, str]]]:
        """Of the cases' findings: every (case, rule, match key), and the (case, rule) of
        those still open."""
        keys, open_ = set(), set()
        for part in _chunks(case_ids):
            for r in self._c.execute(sa.select(F.case_id, F.rule_code, F.match_key, F.status)
                                     .where(F.case_id.in_(part))):
                keys.add((r.case_id, r.rule_code, r.match_key))
                if r.status == ctl.Status.OPEN.value:
                    open_.add((r.case_id, r.rule_code))
        return keys, open_

    def add(self, findings: Sequence[ctl.Finding]) -> None:
        insert_many(self._c, t.control_findings, [dict(
            finding_id=f.finding_id, case_id=f.case_id, municipality_code=f.municipality_code,
            benefit_code=f.benefit_code, rule_code=f.rule.value, rule_key=f.rule_key, title=f.title,
            match_key=f.match_key, period=f.period, period_start=f.period_start, period_end=f.period_end,
            observations=ctl.observations_to_json(f.observations), amount_at_stake_oere=f.amount_at_stake_oere_per_month,
            register_data=dict(f.register_data), status=f.status.value, run_id=f.run_id,
            checked_decision_id=f.decision_id_checked, found_at=f.found_at) for f in findings])

    def _select(self):
        return (sa.select(t.control_findings, t.cases.c.cpr)
                .select_from(t.control_findings.join(t.cases, t.cases.c.case_id == F.case_id)))

    def get(self, finding_id: str, *, for_update: bool = False) -> ctl.Finding | None:
        q = self._select().where(F.finding_id == finding_id)
        if for_update and self._locks:
            q = q.with_for_update(of=t.control_findings)
        r = self._c.execute(q).first()
        return finding_from_row(r) if r else None

    def close(self, f: ctl.Finding) -> None:
        self._c.execute(sa.update(t.control_findings).where(F.finding_id == f.finding_id).values(
            status=f.status.value, outcome=f.outcome.value if f.outcome else None, note=f.note,
            closed_by=f.closed_by, closed_at=f.closed_at, follow_up=f.follow_up.value if f.follow_up else None,
            follow_up_reason=f.follow_up_reason, decision_id=f.decision_id or None))

    def list(self, scope: Scope, f: Mapping[str, Any], *, after_id: int, limit: int) -> list[tuple[int, ctl.Finding]]:
        """Findings on the cases `scope` sees (by municipality, benefit and sensitivity),
        by the filters of `f` that are set."""
        q = scoped(self._select().where(F.id > after_id), scope, by_authority=False)
        for column, key in ((F.municipality_code, "municipality_code"), (F.benefit_code, "benefit_code"),
                            (F.rule_code, "rule"), (F.status, "status"), (F.case_id, "case_id"),
                            (F.period, "period"), (F.follow_up, "follow_up")):
            if f.get(key):
                q = q.where(column == f[key])
        return [(r.id, finding_from_row(r)) for r in self._c.execute(q.order_by(F.id).limit(limit))]
