"""The catalogue, cases (with their status history and information) and decisions."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

import sqlalchemy as sa

from hub.domain import commands as cmd
from hub.domain.identity import Scope
from hub.domain.model import (OPEN_STATUSES, Benefit, Case, CaseStatus, Decision, DecisionStatus, InformationItem,
                              InformationSource, StatusChange)
from hub.store import tables as t
from hub.store.prepared import Query
from hub.store.repositories import Repository
from hub.store.rows import (benefit_from_row, case_from_mapping, case_from_row, case_row, decision_from_mapping,
                            decision_from_row, decision_row)
from hub.store.scoping import limits, scoped

_BENEFIT = Query(sa.select(t.benefits).where(t.benefits.c.code == sa.bindparam("code")))
_CASE = sa.select(t.cases).where(t.cases.c.case_id == sa.bindparam("case_id"))


class Catalogue(Repository):
    """The benefit catalogue. Read on the transaction's connection as it is (no
    savepoint needed: it is never written by a use case), and within a group-commit
    batch once per benefit."""

    def get(self, code: str) -> Benefit | None:
        uow = self._uow
        cache = uow.batch.benefits if uow.batch is not None else None
        if cache is not None and code in cache:
            return cache[code]
        row = _BENEFIT.first(uow.conn, code=code)
        b = benefit_from_row(row) if row else None
        if cache is not None:
            cache[code] = b
        return b

    def all(self) -> list[Benefit]:
        return [benefit_from_row(r) for r in self._uow.conn.execute(sa.select(t.benefits).order_by(t.benefits.c.code))]


class Cases(Repository):
    def get(self, case_id: str, *, for_update: bool = False) -> Case | None:
        q = _CASE.with_for_update() if for_update and self._locks else _CASE
        row = self._c.execute(q, {"case_id": case_id}).first()
        return case_from_row(row) if row else None

    def add(self, case: Case) -> None:
        """Written at commit (a new case is read by no one before)."""
        self._uow.pending.cases.append(case_row(case))

    def save_status(self, case: Case) -> None:
        self._c.execute(sa.update(t.cases).where(t.cases.c.case_id == case.case_id)
                        .values(status=case.status.value, updated_at=case.updated_at))

    def save_sensitivity(self, case: Case) -> None:
        self._c.execute(sa.update(t.cases).where(t.cases.c.case_id == case.case_id)
                        .values(sensitivity=case.sensitivity.value, updated_at=case.updated_at))

    def save_automation(self, case: Case) -> None:
        self._c.execute(sa.update(t.cases).where(t.cases.c.case_id == case.case_id).values(
            automation=case.automation, fallout_reason=case.fallout_reason, fallout_detail=case.fallout_detail,
            updated_at=case.updated_at))

    def set_archive_reference(self, case_id: str, reference: str) -> None:
        self._c.execute(sa.update(t.cases).where(t.cases.c.case_id == case_id).values(archive_reference=reference))

    def add_status_change(self, case_id: str, ch: StatusChange) -> None:
        self._uow.pending.status.append(dict(
            case_id=case_id, from_status=ch.from_status.value if ch.from_status else None,
            to_status=ch.to_status.value, at=ch.at, by_client=ch.by_client, reason=ch.reason))

    def history(self, case_id: str) -> list[StatusChange]:
        rows = self._c.execute(sa.select(t.status_history).where(t.status_history.c.case_id == case_id)
                               .order_by(t.status_history.c.id))
        return [StatusChange(CaseStatus(r.from_status) if r.from_status else None, CaseStatus(r.to_status),
                             r.at, r.by_client, r.reason) for r in rows]

    def where(self, case_id: str) -> tuple[str, str] | None:
        """(municipality code, benefit code) of a case known only by id."""
        row = self._c.execute(sa.select(t.cases.c.municipality_code, t.cases.c.benefit_code)
                              .where(t.cases.c.case_id == case_id)).first()
        return (row.municipality_code, row.benefit_code) if row else None

    def other_open(self, cpr: str, municipality_code: str, except_case_id: str) -> int:
        return _OTHER_OPEN.first(self._c, cpr=cpr, municipality_code=municipality_code,
                                 except_case_id=except_case_id).n

    def list(self, scope: Scope, f: cmd.CaseFilter, *, after_id: int, limit: int) -> list[tuple[int, Case]]:
        c = t.cases.c
        q = scoped(sa.select(t.cases).where(c.id > after_id), scope)
        for column, value in ((c.municipality_code, f.municipality_code), (c.benefit_code, f.benefit_code),
                              (c.status, f.status), (c.cpr, f.cpr), (c.automation, f.automation),
                              (c.fallout_reason, f.fallout_reason)):
            if value:
                q = q.where(column == value)
        if f.received_after:
            q = q.where(c.received_at >= f.received_after)
        if f.received_before:
            q = q.where(c.received_at < f.received_before)
        return [(r.id, case_from_row(r)) for r in self._c.execute(q.order_by(c.id).limit(limit))]


    def automation_figures(self, scope: Scope, *, municipality_code: str, benefit_code: str,
                           received_from: dt.datetime | None, received_to: dt.datetime | None
                           ) -> list[tuple[str, str, str | None, str | None, int]]:
        """(municipality, benefit, automation, fallout reason, cases) over the cases
        `scope` sees, received in [received_from, received_to)."""
        c = t.cases.c
        q = scoped(sa.select(c.municipality_code, c.benefit_code, c.automation, c.fallout_reason,
                             sa.func.count()).select_from(t.cases), scope)
        if municipality_code:
            q = q.where(c.municipality_code == municipality_code)
        if benefit_code:
            q = q.where(c.benefit_code == benefit_code)
        if received_from:
            q = q.where(c.received_at >= received_from)
        if received_to:
            q = q.where(c.received_at < received_to)
        q = q.group_by(c.municipality_code, c.benefit_code, c.automation, c.fallout_reason)
        return [tuple(r) for r in self._uow.conn.execute(q)]


class Information(Repository):
    def add(self, item: InformationItem) -> None:
        self._c.execute(t.information_items.insert(), dict(
            item_id=item.item_id, case_id=item.case_id, source=item.source.value,
            source_reference=item.source_reference, kind=item.kind, value=item.value,
            discretionary=item.discretionary, supplied_by=item.supplied_by, added_at=item.added_at))

    def for_case(self, case_id: str) -> list[InformationItem]:
        return [InformationItem(r.item_id, r.case_id, InformationSource(r.source), r.source_reference, r.kind,
                                r.value, r.discretionary, r.supplied_by, r.added_at)
                for r in _CASE_INFORMATION.all(self._c, case_id=case_id)]


class RegisterFetches(Repository):
    """Which months of a register a case has asked for (each once)."""

    def months(self, case_id: str, register: str) -> set[str]:
        return {r.month for r in _FETCHED_MONTHS.all(self._c, case_id=case_id, register=register)}

    def add(self, case_id: str, register: str, months: Iterable[str], message_id: str, at: dt.datetime) -> None:
        self._c.execute(t.register_fetches.insert(), [dict(case_id=case_id, register=register, month=m,
                                                           message_id=message_id, requested_at=at) for m in months])


class Decisions(Repository):
    def get(self, decision_id: str, *, for_update: bool = False) -> Decision | None:
        q = sa.select(t.decisions).where(t.decisions.c.decision_id == decision_id)
        if for_update and self._locks:
            q = q.with_for_update()
        row = self._c.execute(q).first()
        return decision_from_row(row) if row else None

    def for_case(self, case_id: str) -> list[Decision]:
        d = t.decisions.c
        return [decision_from_row(r) for r in self._c.execute(sa.select(t.decisions).where(d.case_id == case_id)
                                                               .order_by(d.id))]

    def has_approved(self, case_id: str, *, other_than: str) -> bool:
        """Whether the case has an approved decision besides `other_than`."""
        d = t.decisions.c
        return self._c.execute(sa.select(d.id).where(d.case_id == case_id, d.decision_id != other_than,
                                                     d.status == "APPROVED").limit(1)).first() is not None

    def add(self, d: Decision, authority_key: str) -> None:
        self._c.execute(t.decisions.insert(), dict(authority_key=authority_key, **decision_row(d)))

    def save(self, d: Decision) -> None:
        row = decision_row(d)
        self._c.execute(sa.update(t.decisions).where(t.decisions.c.decision_id == d.decision_id)
                        .values(status=row["status"], amounts=row["amounts"],
                                discretionary_points=row["discretionary_points"],
                                approval=row["approval"], returned=row["returned"], repayment=row["repayment"]))

    def number(self, decision_id: str) -> int:
        """The decision's number (end-to-end ids are made from it)."""
        return self._c.execute(sa.select(t.decisions.c.id).where(t.decisions.c.decision_id == decision_id)
                               ).scalar_one()

    def mark_sent(self, decision_id: str, sent_at: dt.datetime, reference: str) -> bool:
        """The time its letter reached Digital Post, the first time only."""
        d = t.decisions.c
        return bool(self._c.execute(sa.update(t.decisions).where(d.decision_id == decision_id, d.sent_at.is_(None))
                                    .values(sent_at=sent_at, letter_reference=reference)).rowcount)

    def mark_superseded(self, decision_ids: Iterable[str], by_decision: str) -> None:
        ids = sorted(decision_ids)
        if ids:
            self._c.execute(sa.update(t.decisions).where(t.decisions.c.decision_id.in_(ids))
                            .values(superseded_by=by_decision))

    def pending(self, scope: Scope, *, municipality_code: str, benefit_code: str, after_id: int,
                limit: int) -> list[tuple[int, Decision, Case]]:
        """Drafts waiting for an authority `scope` is (by the decision's authority, not
        the case's municipality: the authority approves), within its other limits."""
        d, c = t.decisions.c, t.cases.c
        q = (sa.select(d.id.label("decision_row_id"), t.decisions, t.cases)
             .join(t.cases, c.case_id == d.case_id)
             .where(d.status == DecisionStatus.PENDING_APPROVAL.value, d.authority_key.in_(list(scope.authority_keys)),
                    d.id > after_id, *limits(scope, benefit_code=c.benefit_code, sensitivity=c.sensitivity)))
        if municipality_code:
            q = q.where(c.municipality_code == municipality_code)
        if benefit_code:
            q = q.where(c.benefit_code == benefit_code)
        return [(r["decision_row_id"], decision_from_mapping(r, t.decisions), case_from_mapping(r, t.cases))
                for r in self._c.execute(q.order_by(d.id).limit(limit)).mappings()]


# The automatic path's hot reads, prepared (hub.store.prepared): each runs several times
# for every application processed straight through.
_i, _f, _k = t.information_items.c, t.register_fetches.c, t.cases.c
_CASE_INFORMATION = Query(sa.select(t.information_items).where(_i.case_id == sa.bindparam("case_id")).order_by(_i.id))
_FETCHED_MONTHS = Query(sa.select(_f.month).where(_f.case_id == sa.bindparam("case_id"),
                                                  _f.register == sa.bindparam("register")))
_OTHER_OPEN = Query(sa.select(sa.func.count().label("n")).select_from(t.cases).where(
    _k.cpr == sa.bindparam("cpr"), _k.municipality_code == sa.bindparam("municipality_code"),
    _k.case_id != sa.bindparam("except_case_id"),
    # (the open statuses written into the SQL: a prepared statement takes no IN list)
    _k.status.in_([sa.literal_column(f"'{s.value}'") for s in OPEN_STATUSES])))
