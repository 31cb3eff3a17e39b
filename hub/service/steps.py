"""Steps on a case that several use cases take (the caller's, and the dispatcher's when
a register answers): each writes the change, its history and its event in the unit of
work it is given."""
from __future__ import annotations

import datetime as dt
from typing import Any

from hub.domain import documents
from hub.domain.model import Case, CaseStatus, Event, InformationItem, StatusChange
from hub.ports import messages as msg
from hub.service.access import event
from hub.store.uow import UnitOfWork


def record_case_event(uow: UnitOfWork, case_id: str, type_: str, now: dt.datetime, client_id: str,
                      **payload: Any) -> None:
    """An event on a case known only by id (the dispatcher's and the deadline watcher's)."""
    where = uow.cases.where(case_id)
    uow.events.record(Event(type_, case_id, where[0] if where else None, where[1] if where else None, now,
                            client_id, payload))


def move_case(uow: UnitOfWork, case: Case, target: CaseStatus, *, action: str, now: dt.datetime, by: str,
              client_id: str, reason: str = "") -> StatusChange:
    """`by` goes into the status history (e.g. the automatic approver); `client_id` is
    the caller the event names."""
    change = case.move(target, action=action, at=now, by=by, reason=reason)
    uow.cases.save_status(case)
    uow.cases.add_status_change(case.case_id, change)
    uow.events.record(event(case, "case.status_changed", now, client_id, from_status=change.from_status.value,
                            to_status=change.to_status.value, reason=reason))
    return change


def attach_information(uow: UnitOfWork, case: Case, item: InformationItem, *, action: str, now: dt.datetime,
                       client_id: str, reason: str) -> None:
    """An information item on the case; the first one moves a new case to INFORMING."""
    uow.information.add(item)
    uow.events.record(event(case, "case.information_added", now, client_id, item_id=item.item_id, kind=item.kind,
                            source=item.source.value, discretionary=item.discretionary))
    if case.status is CaseStatus.CREATED:
        move_case(uow, case, CaseStatus.INFORMING, action=action, now=now, by=client_id, client_id=client_id,
                  reason=reason)


def archive_step(uow: UnitOfWork, case: Case, now: dt.datetime, document_id: str, kind: str, title: str,
                 document: Any) -> None:
    """A step on the case (a hearing letter, a complaint step), kept in the shared
    archive with the case."""
    uow.outbox.add(msg.ArchiveDocument(case_id=case.case_id, municipality_code=case.municipality_code,
                                       benefit_code=case.benefit_code, document_id=document_id, document_kind=kind,
                                       title=title, document=documents.jsonable(document))
                   .outbox(f"archive/{case.case_id}/{document_id}", case.case_id), now)


def send_letter(uow: UnitOfWork, case: Case, now: dt.datetime, message_id: str, letter_kind: str,
                letter: documents.Letter, **refs: str) -> None:
    uow.outbox.add(msg.DigitalPostLetter(letter_kind=letter_kind, case_id=case.case_id,
                                         municipality_code=case.municipality_code, letter=letter, **refs)
                   .outbox(message_id, case.case_id), now)
