"""Final settlements in SQL: a row per case and income year, the runs that make them,
and the claims by which two runs share the work (hub.domain.settlement has the rules)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from hub.domain import payments as pay
from hub.domain import settlement as st
from hub.domain.rules.facts import CPR_KIND
from hub.domain.identity import Scope
from hub.domain.ids import new_id
from hub.store import tables as t
from hub.store.db import dialect_insert
from hub.store.repositories import Repository
from hub.store.scoping import scoped

S, R, L = t.settlements.c, t.settlement_runs.c, t.payment_lines.c
SUPERSEDED = "SUPERSEDED"
OPEN = [s.value for s in st.OPEN_STATUSES]


def _settlement(r) -> st.Settlement:
    return st.Settlement(r.case_id, r.income_year, r.municipality_code, r.benefit_code,
                         st.SettlementStatus(r.status), st.SettlementOutcome(r.result) if r.result else None,
                         r.granted_oere, r.final_oere, r.difference_oere, r.final_income_oere,
                         st.months_from_json(r.months), r.reason, r.decision_id, r.information_id, r.rule_set,
                         r.created_at, r.settled_at, r.last_run)


def _run(r) -> st.SettlementRun:
    return st.SettlementRun(r.run_id, r.income_year, r.benefit_code, r.municipality_code, dict(r.counts or {}),
                            r.finished_at)


def _year(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


class Settlements(Repository):
    # ---- runs ------------------------------------------------------------------------------

    def run(self, client_id: str, request_id: str) -> st.SettlementRun | None:
        r = self._c.execute(sa.select(t.settlement_runs).where(R.client_id == client_id,
                                                               R.request_id == request_id)).first()
        return _run(r) if r else None

    def start_run(self, client_id: str, request_id: str, year: int, benefit_code: str, municipality_code: str,
                  now: dt.datetime) -> str:
        run_id = new_id()
        self._c.execute(t.settlement_runs.insert().values(
            run_id=run_id, client_id=client_id, request_id=request_id, income_year=year, benefit_code=benefit_code,
            municipality_code=municipality_code, started_at=now, counts={k: 0 for k in st.COUNTS}))
        return run_id

    def add_to_run(self, run_id: str, deltas: Mapping[str, int]) -> dict[str, int]:
        """Add a chunk's counts to the run's (only this run writes its row)."""
        c = self._c
        counts = dict(c.execute(sa.select(R.counts).where(R.run_id == run_id)).scalar_one() or {})
        for k, n in deltas.items():
            counts[k] = counts.get(k, 0) + n
        c.execute(sa.update(t.settlement_runs).where(R.run_id == run_id).values(counts=counts))
        return counts

    def finish_run(self, run_id: str, now: dt.datetime) -> st.SettlementRun:
        c = self._c
        c.execute(sa.update(t.settlement_runs).where(R.run_id == run_id, R.finished_at.is_(None))
                  .values(finished_at=now))
        return _run(c.execute(sa.select(t.settlement_runs).where(R.run_id == run_id)).one())

    # ---- finding and claiming the work -----------------------------------------------------

    def enqueue(self, year: int, benefit_code: str, municipalities: Sequence[str], *, after_case: str, limit: int,
                now: dt.datetime) -> str | None:
        """The next `limit` cases after `after_case` with a grant in force for a month of
        `year`, each given a PENDING settlement unless it has one. Returns the last case
        looked at (None: no more)."""
        first, last = _year(year)
        q = (sa.select(L.case_id, sa.func.min(L.municipality_code).label("municipality_code"))
             .where(L.benefit_code == benefit_code, L.state != SUPERSEDED, L.period_start >= first,
                    L.period_end <= last, L.case_id > after_case)
             .group_by(L.case_id).order_by(L.case_id).limit(limit))
        if municipalities:
            q = q.where(L.municipality_code.in_(list(municipalities)))
        c = self._c
        rows = c.execute(q).all()
        if not rows:
            return None
        c.execute(dialect_insert(c, t.settlements).on_conflict_do_nothing(
            index_elements=["case_id", "income_year"]), [
            dict(case_id=r.case_id, income_year=year, municipality_code=r.municipality_code,
                 benefit_code=benefit_code, status=st.SettlementStatus.PENDING.value, created_at=now)
            for r in rows])
        return rows[-1].case_id

    def count_open(self, year: int, benefit_code: str, municipalities: Sequence[str], run_id: str) -> int:
        """Open settlements the run has yet to examine."""
        q = sa.select(sa.func.count()).select_from(t.settlements).where(
            *self._open(year, benefit_code, municipalities, run_id))
        return self._c.execute(q).scalar_one()

    @staticmethod
    def _open(year: int, benefit_code: str, municipalities: Sequence[str], run_id: str) -> list[Any]:
        where = [S.income_year == year, S.benefit_code == benefit_code, S.status.in_(OPEN),
                 sa.or_(S.last_run.is_(None), S.last_run != run_id)]
        if municipalities:
            where.append(S.municipality_code.in_(list(municipalities)))
        return where

    def claim(self, run_id: str, year: int, benefit_code: str, municipalities: Sequence[str], *, limit: int,
              now: dt.datetime, lease: dt.timedelta) -> list[str]:
        """Up to `limit` open settlements this run has not examined and no other run holds,
        held by this run for `lease` (two runs on PostgreSQL skip each other's rows).
        Returns their case ids."""
        c = self._c
        q = (sa.select(S.id).where(*self._open(year, benefit_code, municipalities, run_id),
                                   sa.or_(S.claimed_until.is_(None), S.claimed_until < now, S.claimed_by == run_id))
             .order_by(S.id).limit(limit))
        if self._locks:
            q = q.with_for_update(skip_locked=True)
        ids = list(c.execute(q).scalars())
        if not ids:
            return []
        rows = c.execute(sa.update(t.settlements).where(S.id.in_(ids))
                         .values(claimed_by=run_id, claimed_until=now + lease).returning(S.case_id)).scalars()
        return sorted(rows)

    def held(self, run_id: str, year: int, case_ids: Sequence[str]) -> list[str]:
        """Of `case_ids`, those this run still holds open (locked until the transaction ends)."""
        q = sa.select(S.case_id).where(S.case_id.in_(list(case_ids)), S.income_year == year,
                                       S.claimed_by == run_id, S.status.in_(OPEN))
        if self._locks:
            q = q.with_for_update()
        return sorted(self._c.execute(q).scalars())

    def record(self, run_id: str, case_id: str, year: int, *, status: st.SettlementStatus,
               outcome: st.SettlementOutcome | None = None, months: Sequence[st.Month] = (), granted: int = 0,
               final: int = 0, income: int | None = None, reason: str = "", decision_id: str | None = None,
               information_id: str | None = None, rule_set: str = "", now: dt.datetime) -> None:
        self._c.execute(sa.update(t.settlements).where(S.case_id == case_id, S.income_year == year).values(
            status=status.value, result=outcome.value if outcome else None, months=st.months_to_json(months),
            granted_oere=granted, final_oere=final, difference_oere=final - granted, final_income_oere=income,
            reason=reason, decision_id=decision_id, information_id=information_id, rule_set=rule_set,
            last_run=run_id, claimed_by=None, claimed_until=None,
            settled_at=now if status is not st.SettlementStatus.WAITING else None))

    # ---- what a settlement reads --------------------------------------------------------------

    def lines_in_year(self, case_ids: Sequence[str], year: int) -> dict[str, list[pay.GrantLine]]:
        """The monthly lines in force for `year` of each case."""
        first, last = _year(year)
        out: dict[str, list[pay.GrantLine]] = {c: [] for c in case_ids}
        q = (sa.select(L.id, L.decision_id, L.case_id, L.municipality_code, L.benefit_code, L.period_key,
                       L.period_start, L.period_end, L.due_month, L.amount_oere, L.end_to_end_id)
             .where(L.case_id.in_(list(case_ids)), L.state != SUPERSEDED, L.period_start >= first,
                    L.period_end <= last).order_by(L.case_id, L.period_start))
        for r in self._c.execute(q):
            out[r.case_id].append(pay.GrantLine(*r))
        return out

    # ---- reading --------------------------------------------------------------------------------

    def get(self, case_id: str, year: int) -> st.Settlement | None:
        r = self._c.execute(sa.select(t.settlements).where(S.case_id == case_id, S.income_year == year)).first()
        return _settlement(r) if r else None

    def for_case(self, case_id: str) -> list[st.Settlement]:
        return [_settlement(r) for r in self._c.execute(
            sa.select(t.settlements).where(S.case_id == case_id).order_by(S.income_year))]

    def list(self, scope: Scope, f: Mapping[str, Any], *, after_id: int, limit: int) -> list[tuple[int, st.Settlement]]:
        """Settlements of the cases `scope` sees, by the filters of `f` that are set."""
        q = scoped(sa.select(t.settlements).join(t.cases, t.cases.c.case_id == S.case_id).where(S.id > after_id),
                   scope, by_authority=False)
        for column, key in ((S.income_year, "income_year"), (S.benefit_code, "benefit_code"),
                            (S.municipality_code, "municipality_code"), (S.status, "status"), (S.result, "result")):
            if f.get(key):
                q = q.where(column == f[key])
        return [(r.id, _settlement(r)) for r in self._c.execute(q.order_by(S.id).limit(limit))]

    def households(self, case_ids: Sequence[str]) -> list[tuple[str, str, list[Any]]]:
        """(case id, the citizen's CPR number, the CPR register's answers) of each case."""
        I, C = t.information_items.c, t.cases.c
        answers: dict[str, list[Any]] = {c: [] for c in case_ids}
        for r in self._c.execute(sa.select(I.case_id, I.value).where(I.case_id.in_(list(case_ids)),
                                                                      I.kind == CPR_KIND)):
            answers[r.case_id].append(r.value)
        rows = self._c.execute(sa.select(C.case_id, C.cpr).where(C.case_id.in_(list(case_ids))))
        return [(r.case_id, r.cpr, answers[r.case_id]) for r in rows]
