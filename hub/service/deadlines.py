"""The deadline watcher's use case, which the runtime runs on a schedule (the
dispatcher's loop, each minute on its clock): raise, once each,

- a processing deadline passed without a decision (`case.processing_deadline_passed`),
- a hearing deadline reached without an answer (`hearing.deadline_reached`; the
  hearing becomes EXPIRED and its draft can proceed),
- a complaint not reconsidered within 4 weeks (`complaint.reconsideration_overdue`).

Several dispatchers may watch one database: an expiry is a conditional update and an
alert a row with a primary key, so each event is raised once."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import structlog

from hub.domain import complaints as cp
from hub.service.steps import record_case_event
from hub.store.uow import UnitOfWork

log = structlog.get_logger("hub.deadlines")
WATCHER_CLIENT = "hub-deadline-watcher"
_EVENT = {cp.OverdueKind.PROCESSING_DEADLINE: "case.processing_deadline_passed",
          cp.OverdueKind.RECONSIDERATION: "complaint.reconsideration_overdue"}


@dataclass
class ScanResult:
    hearings_expired: int = 0
    processing_deadlines: int = 0
    reconsiderations_overdue: int = 0

    @property
    def total(self) -> int:
        return self.hearings_expired + self.processing_deadlines + self.reconsiderations_overdue


def scan(units: Callable[[], UnitOfWork], now: dt.datetime, batch: int = 500) -> ScanResult:
    """Everything due at `now`, in batches of `batch` per transaction."""
    total = ScanResult()
    while True:
        r = _scan_once(units, now, batch)
        total.hearings_expired += r.hearings_expired
        total.processing_deadlines += r.processing_deadlines
        total.reconsiderations_overdue += r.reconsiderations_overdue
        if r.total == 0:
            break
    if total.total:
        log.info("deadlines", hearings_expired=total.hearings_expired,
                 processing_deadlines=total.processing_deadlines,
                 reconsiderations_overdue=total.reconsiderations_overdue)
    return total


def _scan_once(units: Callable[[], UnitOfWork], now: dt.datetime, batch: int) -> ScanResult:
    result = ScanResult()
    with units() as uow:
        for h in uow.hearings.expire(now, batch):
            record_case_event(uow, h.case_id, "hearing.deadline_reached", now, WATCHER_CLIENT,
                              hearing_id=h.hearing_id, decision_id=h.decision_id, deadline=h.deadline.isoformat())
            result.hearings_expired += 1
        for kind, subject, case_id, due in uow.deadlines.due_alerts(now, batch):
            if uow.deadlines.raise_alert(kind, subject, case_id, due, now):
                payload = {"due": due.isoformat()}
                if kind is cp.OverdueKind.RECONSIDERATION:
                    payload["complaint_id"] = subject
                record_case_event(uow, case_id, _EVENT[kind], now, WATCHER_CLIENT, **payload)
                if kind is cp.OverdueKind.PROCESSING_DEADLINE:
                    result.processing_deadlines += 1
                else:
                    result.reconsiderations_overdue += 1
        uow.commit()
    return result
