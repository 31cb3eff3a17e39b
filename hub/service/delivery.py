"""The dispatcher's use cases: claim due messages (and probes of destinations whose
messages back off), and record what happened to them together with what a delivery
changes on the case (the archive reference, the time the letter was sent, register
data arriving as information), in one transaction."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from hub.ports import messages as msg
from hub.ports.messages import decode
from hub.ports import Receipt
from hub.domain.model import CaseStatus, InformationItem, InformationSource
from hub.service.clock import Clock
from hub.service.steps import attach_information, record_case_event
from hub.store import complaints as complaint_store
from hub.store import outbox as ob
from hub.store import tables as t
from hub.store.outbox import OutboxRow
from hub.domain.ids import new_id
from hub.store.uow import UnitOfWork

DISPATCHER_CLIENT = "hub-dispatcher"


@dataclass(frozen=True)
class DeliveryOutcome:
    row: OutboxRow
    receipt: Receipt | None = None   # delivered
    error: str = ""                  # failed
    dead: bool = False
    next_attempt_at: dt.datetime | None = None
    probe: bool = False              # tried before its time, to see if the destination answers again


class DeliveryService:
    def __init__(self, engine: sa.Engine, clock: Clock):
        self.engine = engine
        self.clock = clock

    def claim(self, dispatcher_id: str, *, lease: dt.timedelta, limit: int, destinations) -> list[OutboxRow]:
        now = self.clock.now()
        with self.engine.begin() as conn:
            return ob.claim(conn, dispatcher_id=dispatcher_id, now=now, lease_until=now + lease, limit=limit,
                            destinations=destinations)

    def claim_probes(self, dispatcher_id: str, *, lease: dt.timedelta, destinations) -> list[OutboxRow]:
        """At most one message of each of `destinations` (not paused) whose messages back
        off, claimed to probe it with (see hub.store.outbox.claim_probe)."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            wanted = set(destinations) - ob.paused_destinations(conn)
            if not wanted:
                return []
            rows = (ob.claim_probe(conn, dispatcher_id=dispatcher_id, now=now, lease_until=now + lease, destination=d)
                    for d in ob.backing_off_destinations(conn, now, wanted))
            return [r for r in rows if r is not None]

    def release(self, dispatcher_id: str, rows: list[OutboxRow]) -> None:
        with self.engine.begin() as conn:
            ob.release(conn, [r.id for r in rows], dispatcher_id)

    def record(self, dispatcher_id: str, outcomes: list[DeliveryOutcome]) -> dict[str, int]:
        """One transaction for a batch of outcomes. A message whose lease was lost (a
        slow dispatcher overtaken after its lease expired) is left to its new owner.
        A probe that got through makes the rest of its destination's backlog due now;
        returns how many, by destination. One that did not changes nothing but its
        message's last error (a probe every few seconds through a long outage must not
        use up the message's attempts and make it a dead letter)."""
        now = self.clock.now()
        made_due: dict[str, int] = {}
        with UnitOfWork(self.engine) as uow:
            delivered = [o for o in outcomes if o.receipt is not None]
            marked = ob.mark_delivered(uow.conn, [o.row.id for o in delivered], dispatcher_id, now)
            for o in delivered:
                if o.row.id in marked:
                    self._apply(uow, o.row, o.receipt, now)
                    if o.probe:
                        made_due[o.row.destination] = ob.make_due(uow.conn, o.row.destination, now)
            for o in outcomes:
                if o.receipt is None and o.probe and not o.dead:
                    ob.probe_failed(uow.conn, o.row.id, dispatcher_id, o.error)
                elif o.receipt is None:
                    ob.mark_failed(uow.conn, o.row.id, dispatcher_id, now, o.error, dead=o.dead,
                                   next_attempt_at=o.next_attempt_at or now)
                    if o.dead and o.row.case_id:
                        self._event(uow, o.row.case_id, "delivery.dead_lettered", now,
                                    message_id=o.row.message_id, destination=o.row.destination)
            uow.commit()
        return made_due

    # ---- what a delivery changes on the case ---------------------------------------

    def _apply(self, uow: UnitOfWork, row: OutboxRow, receipt: Receipt, now: dt.datetime) -> None:
        m = decode(row.destination, row.payload)
        if isinstance(m, msg.Appeal):
            if complaint_store.set_forwarded_reference(uow.conn, m.complaint_id, receipt.reference):
                self._event(uow, row.case_id, "complaint.forwarded", now, complaint_id=m.complaint_id,
                            reference=receipt.reference)
        elif isinstance(m, msg.ArchiveCase):
            uow.conn.execute(sa.update(t.cases).where(t.cases.c.case_id == row.case_id)
                             .values(archive_reference=receipt.reference))
            self._event(uow, row.case_id, "case.archived", now, archive_reference=receipt.reference)
        elif isinstance(m, msg.DigitalPostLetter) and m.decision_id and m.letter_kind == "decision_letter":
            d = t.decisions.c
            sent_at = dt.datetime.fromisoformat(receipt.data["sent_at"]) if "sent_at" in receipt.data else now
            changed = uow.conn.execute(
                sa.update(t.decisions).where(d.decision_id == m.decision_id, d.sent_at.is_(None))
                .values(sent_at=sent_at, letter_reference=receipt.reference)).rowcount
            if changed:
                self._event(uow, row.case_id, "decision.sent", now, decision_id=m.decision_id,
                            sent_at=sent_at.isoformat(), letter_reference=receipt.reference)
        elif isinstance(m, msg.RegisterRequest):
            self._register_data(uow, row, m, receipt, now)
        # (An archived step keeps the case's own archive reference; other kinds change nothing here.)

    def _register_data(self, uow: UnitOfWork, row: OutboxRow, m: msg.RegisterRequest, receipt: Receipt,
                       now: dt.datetime) -> None:
        case = uow.case(row.case_id)
        if case is None:
            return
        months = list(m.months)
        if case.status is CaseStatus.WITHDRAWN:
            # The case was withdrawn while the register answered: keep the fact that
            # data came, not the data. (A decided case keeps it, for a recalculation.)
            self._event(uow, case.case_id, "case.register_data_discarded", now, register="income_register",
                        months=months, reason=f"case is {case.status.value}")
            return
        value = dict(register="eIndkomst", months=months, fetched_at=receipt.data.get("fetched_at", now.isoformat()),
                     reference=receipt.reference, records=receipt.data.get("records", []))
        item = InformationItem(new_id(), case.case_id, InformationSource.REGISTER,
                               f"eIndkomst {receipt.reference}", "income.register_records", value, False,
                               m.requested_by or DISPATCHER_CLIENT, now)
        attach_information(uow, case, item, action="RegisterData", now=now, client_id=DISPATCHER_CLIENT,
                           reason="register data arrived")

    @staticmethod
    def _event(uow: UnitOfWork, case_id: str, type_: str, now: dt.datetime, **payload) -> None:
        record_case_event(uow, case_id, type_, now, DISPATCHER_CLIENT, **payload)
