"""Steps on a case that several use cases take (the caller's, and the dispatcher's when
a register answers): each writes the change, its history and its event in the unit of
work it is given."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from hub.domain.model import Case, CaseStatus, Event, InformationItem, StatusChange
from hub.store import tables as t
from hub.store.uow import UnitOfWork


def case_event(case: Case, type_: str, now: dt.datetime, client_id: str, **payload: Any) -> Event:
    return Event(type_, case.case_id, case.municipality_code, case.benefit_code, now, client_id, payload)


def record_case_event(uow: UnitOfWork, case_id: str, type_: str, now: dt.datetime, client_id: str,
                      **payload: Any) -> None:
    """An event on a case known only by id (the dispatcher's and the deadline watcher's)."""
    row = uow.conn.execute(sa.select(t.cases.c.municipality_code, t.cases.c.benefit_code)
                           .where(t.cases.c.case_id == case_id)).first()
    uow.record_event(Event(type_, case_id, row.municipality_code if row else None,
                           row.benefit_code if row else None, now, client_id, payload))


def move_case(uow: UnitOfWork, case: Case, target: CaseStatus, *, action: str, now: dt.datetime, by: str,
              client_id: str, reason: str = "") -> StatusChange:
    """`by` goes into the status history (e.g. the automatic approver); `client_id` is
    the caller the event names."""
    change = case.move(target, action=action, at=now, by=by, reason=reason)
    uow.update_case_status(case)
    uow.add_status_change(case.case_id, change)
    uow.record_event(case_event(case, "case.status_changed", now, client_id, from_status=change.from_status.value,
                                to_status=change.to_status.value, reason=reason))
    return change


def attach_information(uow: UnitOfWork, case: Case, item: InformationItem, *, action: str, now: dt.datetime,
                       client_id: str, reason: str) -> None:
    """An information item on the case; the first one moves a new case to INFORMING."""
    uow.add_information(item)
    uow.record_event(case_event(case, "case.information_added", now, client_id, item_id=item.item_id, kind=item.kind,
                                source=item.source.value, discretionary=item.discretionary))
    if case.status is CaseStatus.CREATED:
        move_case(uow, case, CaseStatus.INFORMING, action=action, now=now, by=client_id, client_id=client_id,
                  reason=reason)
