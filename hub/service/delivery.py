"""The dispatcher's use cases (hub.ports.Deliveries): claim due messages, and record
what happened to them together with what a delivery changes on the case (the archive
reference, the time the letter was sent, register data arriving as information), in
one transaction. Should the automatic processing a register's answer moves on fail (a
bug, an unforeseen fact), the answers are recorded without it and the case goes to the
back office, rather than the batch being delivered again and again."""
from __future__ import annotations

import datetime as dt
from typing import Callable

import structlog

from hub.domain.ids import new_id
from hub.domain.model import CaseStatus, InformationItem, InformationSource
from hub.ports import DeliveryOutcome, Receipt
from hub.ports import messages as msg
from hub.ports.messages import decode
from hub.domain.rules import facts as facts_rules
from hub.ports import CPR_REGISTER, INCOME_REGISTER, RENT_REGISTER
from hub.domain.automation import Automation, Fallout
from hub.service import automation
from hub.service.intake import fall_out
from hub.service.steps import attach_information, record_case_event
from hub.store.outbox import OutboxRow
from hub.store.uow import UnitOfWork

log = structlog.get_logger("hub.delivery")
DISPATCHER_CLIENT = "hub-dispatcher"
REGISTERS = frozenset({CPR_REGISTER, RENT_REGISTER, INCOME_REGISTER})


class DeliveryLog:
    def __init__(self, units: Callable[[], UnitOfWork], clock):
        self.units = units
        self.clock = clock

    def claim(self, dispatcher_id: str, *, lease: dt.timedelta, limit: int, destinations) -> list[OutboxRow]:
        now = self.clock.now()
        with self.units() as uow:
            rows = uow.outbox.claim(dispatcher_id=dispatcher_id, now=now, lease_until=now + lease, limit=limit,
                                    destinations=destinations)
            uow.commit()
        return rows

    def claim_probes(self, dispatcher_id: str, *, lease: dt.timedelta, destinations) -> list[OutboxRow]:
        """At most one message of each of `destinations` (not paused) whose messages back
        off, claimed to probe it with (see hub.store.outbox.Outbox.claim_probe)."""
        now = self.clock.now()
        with self.units() as uow:
            wanted = set(destinations) - uow.outbox.paused_destinations()
            rows = [uow.outbox.claim_probe(dispatcher_id=dispatcher_id, now=now, lease_until=now + lease, destination=d)
                    for d in (uow.outbox.backing_off_destinations(now, wanted) if wanted else ())]
            uow.commit()
        return [r for r in rows if r is not None]

    def release(self, dispatcher_id: str, rows: list[OutboxRow]) -> None:
        with self.units() as uow:
            uow.outbox.release([r.id for r in rows], dispatcher_id)
            uow.commit()

    def record(self, dispatcher_id: str, outcomes: list[DeliveryOutcome]) -> dict[str, int]:
        """One transaction for a batch of outcomes. A message whose lease was lost (a slow
        dispatcher overtaken after its lease expired) is left to its new owner. A probe
        that got through makes the rest of its destination's backlog due now; returns how
        many, by destination. One that did not changes nothing but its message's last
        error (a probe every few seconds through a long outage must not use up the
        message's attempts and make it a dead letter)."""
        try:
            return self._record(dispatcher_id, outcomes, advance=True)[0]
        except Exception:
            log.exception("recording deliveries with their automatic processing failed; recording them without it")
        made_due, advanced = self._record(dispatcher_id, outcomes, advance=False)
        for case_id in advanced:
            self._advance_alone(case_id)
        return made_due

    def _advance_alone(self, case_id: str) -> None:
        """A case's automatic step in a transaction of its own; if it fails, the case
        falls out to the back office with the error's kind (the log has the rest)."""
        now = self.clock.now()
        try:
            with self.units() as uow:
                case = uow.cases.get(case_id, for_update=True)
                if case is not None:
                    automation.advance(uow, case, now)
                uow.commit()
            return
        except Exception as exc:
            log.exception("automatic processing of a case failed; it goes to the back office", case_id=case_id)
            error = type(exc).__name__
        with self.units() as uow:
            case = uow.cases.get(case_id, for_update=True)
            if case is not None and case.automation == Automation.IN_PROGRESS.value:
                fall_out(uow, case, Fallout.NOT_CALCULABLE,
                                    f"automatic processing failed ({error}); see the hub's log", now)
            uow.commit()

    def _record(self, dispatcher_id: str, outcomes: list[DeliveryOutcome], *,
                advance: bool) -> tuple[dict[str, int], list[str]]:
        now = self.clock.now()
        made_due: dict[str, int] = {}
        advanced: list[str] = []
        with self.units() as uow:
            delivered = [o for o in outcomes if o.receipt is not None]
            marked = uow.outbox.mark_delivered([o.row.id for o in delivered], dispatcher_id, now)
            for o in delivered:
                if o.row.id in marked:
                    if _apply(uow, o.row, o.receipt, now, advance=advance):
                        advanced.append(o.row.case_id)
                    if o.probe:
                        made_due[o.row.destination] = uow.outbox.make_due(o.row.destination, now)
            for o in outcomes:
                if o.receipt is None and o.probe and not o.dead:
                    uow.outbox.probe_failed(o.row.id, dispatcher_id, o.error)
                elif o.receipt is None:
                    uow.outbox.mark_failed(o.row.id, dispatcher_id, now, o.error, dead=o.dead,
                                           next_attempt_at=o.next_attempt_at or now)
                    if o.dead and o.row.case_id:
                        record_case_event(uow, o.row.case_id, "delivery.dead_lettered", now, DISPATCHER_CLIENT,
                                          message_id=o.row.message_id, destination=o.row.destination)
                        if o.row.destination in REGISTERS:
                            case = uow.cases.get(o.row.case_id, for_update=True)
                            if case is not None:
                                automation.register_failed(uow, case, o.row.destination, o.error, now)
            uow.commit()
        return made_due, list(dict.fromkeys(advanced))


def _apply(uow: UnitOfWork, row: OutboxRow, receipt: Receipt, now: dt.datetime, *, advance: bool = True) -> bool:
    """What a delivery changes on its case; True when register data arrived and
    `advance` was False (the case's automatic step is still to be taken)."""
    m = decode(row.destination, row.payload)
    if isinstance(m, msg.Appeal):
        if uow.complaints.set_forwarded_reference(m.complaint_id, receipt.reference):
            record_case_event(uow, row.case_id, "complaint.forwarded", now, DISPATCHER_CLIENT,
                              complaint_id=m.complaint_id, reference=receipt.reference)
    elif isinstance(m, msg.ArchiveCase):
        uow.cases.set_archive_reference(row.case_id, receipt.reference)
        record_case_event(uow, row.case_id, "case.archived", now, DISPATCHER_CLIENT,
                          archive_reference=receipt.reference)
    elif isinstance(m, msg.DigitalPostLetter) and m.decision_id and m.letter_kind == "decision_letter":
        sent_at = dt.datetime.fromisoformat(receipt.data["sent_at"]) if "sent_at" in receipt.data else now
        if uow.decisions.mark_sent(m.decision_id, sent_at, receipt.reference):
            record_case_event(uow, row.case_id, "decision.sent", now, DISPATCHER_CLIENT, decision_id=m.decision_id,
                              sent_at=sent_at.isoformat(), letter_reference=receipt.reference)
    elif isinstance(m, msg.REGISTER_KINDS):
        return _register_data(uow, row, m, receipt, now, advance=advance)
    # (An archived step keeps the case's own archive reference; other kinds change nothing here.)
    return False


def _register_data(uow: UnitOfWork, row: OutboxRow, m, receipt: Receipt, now: dt.datetime, *,
                   advance: bool = True) -> bool:
    """A register's answer, kept on the case as information with its provenance; on a
    case under automatic processing, the next step."""
    case = uow.cases.get(row.case_id, for_update=True)
    if case is None:
        return False
    months = list(getattr(m, "months", ()))
    if case.status is CaseStatus.WITHDRAWN:
        # The case was withdrawn while the register answered: keep the fact that data
        # came, not the data. (A decided case keeps it, for a recalculation.)
        record_case_event(uow, case.case_id, "case.register_data_discarded", now, DISPATCHER_CLIENT,
                          register=m.register, months=months, reason=f"case is {case.status.value}")
        return False
    fetched_at = receipt.data.get("fetched_at", now.isoformat())
    if isinstance(m, msg.PersonRequest):
        kind, name = facts_rules.CPR_KIND, "CPR"
        value = dict(register=name, fetched_at=fetched_at, reference=receipt.reference,
                     person=receipt.data.get("person"), household=receipt.data.get("household"))
    elif isinstance(m, msg.DwellingRequest):
        kind, name = facts_rules.RENT_KIND, "Huslejeregisteret"
        value = dict(register=name, fetched_at=fetched_at, reference=receipt.reference,
                     dwelling=receipt.data.get("dwelling"))
    else:
        kind, name = facts_rules.INCOME_KIND, "eIndkomst"
        value = dict(register=name, months=months, fetched_at=fetched_at, reference=receipt.reference,
                     records=receipt.data.get("records", []))
        if m.cpr != case.cpr:   # another adult of the household's income
            value["cpr"] = m.cpr
    item = InformationItem(new_id(), case.case_id, InformationSource.REGISTER, f"{name} {receipt.reference}",
                           kind, value, False, m.requested_by or DISPATCHER_CLIENT, now)
    attach_information(uow, case, item, action="RegisterData", now=now, client_id=DISPATCHER_CLIENT,
                       reason="register data arrived")
    if not advance:
        return True
    automation.advance(uow, case, now)
    return False
