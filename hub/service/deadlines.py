"""The deadline watcher: part of the dispatcher's loop, driven by its clock. Each scan
raises, once each, the events for

- a processing deadline passed without a decision (`case.processing_deadline_passed`),
- a hearing deadline reached without an answer (`hearing.deadline_reached`; the
  hearing becomes EXPIRED and its draft can proceed),
- a complaint not reconsidered within 4 weeks (`complaint.reconsideration_overdue`).

Several dispatchers may watch one database: an expiry is a conditional update and an
alert a row with a primary key, so each event is raised once."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from hub.domain import complaints as cp
from hub.service.clock import Clock
from hub.service.steps import record_case_event
from hub.store import complaints as store
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


class DeadlineWatcher:
    def __init__(self, engine: sa.Engine, clock: Clock, *, interval: dt.timedelta = dt.timedelta(seconds=60),
                 batch: int = 500):
        self.engine = engine
        self.clock = clock
        self.interval = interval
        self.batch = batch
        self._last: dt.datetime | None = None

    def tick(self) -> ScanResult | None:
        """Scan if `interval` has passed on the clock since the last scan."""
        now = self.clock.now()
        if self._last is not None and now - self._last < self.interval:
            return None
        self._last = now
        return self.scan()

    def scan(self) -> ScanResult:
        """Everything due now, in batches of `batch` per transaction."""
        total = ScanResult()
        while True:
            r = self._scan_once()
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

    def _scan_once(self) -> ScanResult:
        now = self.clock.now()
        result = ScanResult()
        with UnitOfWork(self.engine) as uow:
            conn = uow.conn
            for h in store.expire_hearings(conn, now, self.batch):
                self._event(uow, h.case_id, "hearing.deadline_reached", now, hearing_id=h.hearing_id,
                            decision_id=h.decision_id, deadline=h.deadline.isoformat())
                result.hearings_expired += 1
            for kind, subject, case_id, due in store.due_alerts(conn, now, self.batch):
                if store.raise_alert(conn, kind, subject, case_id, due, now):
                    payload = {"due": due.isoformat()}
                    if kind is cp.OverdueKind.RECONSIDERATION:
                        payload["complaint_id"] = subject
                    self._event(uow, case_id, _EVENT[kind], now, **payload)
                    if kind is cp.OverdueKind.PROCESSING_DEADLINE:
                        result.processing_deadlines += 1
                    else:
                        result.reconsiderations_overdue += 1
            uow.commit()
        return result

    @staticmethod
    def _event(uow: UnitOfWork, case_id: str, type_: str, now: dt.datetime, **payload) -> None:
        record_case_event(uow, case_id, type_, now, WATCHER_CLIENT, **payload)
