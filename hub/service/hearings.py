"""Hearings (forvaltningsloven § 19): before an adverse decision rests on facts the
citizen has not seen, the citizen is heard; the draft waits until they answer or the
deadline passes, unless the draft names an exception."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hub.domain import commands as cmd
from hub.domain import complaints as cp
from hub.domain import documents
from hub.domain import payments as pay
from hub.domain.errors import FailedPrecondition, NotFound, Violations
from hub.domain.citizen import received_now, self_service
from hub.domain.identity import Identity, Role
from hub.domain.ids import new_id
from hub.domain.model import Case, Decision, DecisionStatus, InformationItem, InformationSource
from hub.service.access import authority_of, case_in_scope, event
from hub.service.steps import archive_step, attach_information, send_letter
from hub.store.uow import UnitOfWork


def adverse(uow: UnitOfWork, case: Case, decision: Decision) -> bool:
    """The draft refuses, partly grants, or grants less than the grant in force."""
    benefit = uow.catalogue.get(case.benefit_code)
    granted = {line.period_key: line.amount_oere for line in pay.schedule(benefit.recurrence, decision.amounts)}
    effective, until = decision.governs
    in_force = uow.payments.in_force(case.case_id, effective, decision.decision_id, until) if effective else {}
    return cp.is_adverse(decision.outcome, in_force, granted)


def hearing_need(uow: UnitOfWork, case: Case, decision: Decision, now: dt.datetime) -> cp.HearingNeed:
    """What the hearing rule asks of this draft now."""
    return cp.hearing_need(decision, adverse(uow, case, decision), uow.information.for_case(case.case_id),
                           uow.hearings.for_case(case.case_id), now)


def check_decisive_facts(uow: UnitOfWork, case: Case, fact_ids: tuple[str, ...]) -> None:
    known = {i.item_id for i in uow.information.for_case(case.case_id)}
    v = Violations()
    for i, f in enumerate(fact_ids):
        v.require(f in known, f"decisive_fact_ids[{i}]", "is not an information item on this case")
    v.raise_if_any()


def start_hearing(uow: UnitOfWork, identity: Identity, c: cmd.StartHearing,
                  now: dt.datetime) -> tuple[cp.Hearing, Case]:
    c.validate()
    decision = uow.decisions.get(c.decision_id, for_update=True)
    case = case_in_scope(uow, identity, decision.case_id, for_update=True) if decision else None
    if decision is None or case is None:
        raise NotFound("decision not found", reason="DECISION_NOT_FOUND", metadata={"decision_id": c.decision_id})
    if decision.status is not DecisionStatus.PENDING_APPROVAL:
        raise FailedPrecondition(f"a hearing is held on a draft pending approval; this decision is "
                                 f"{decision.status.value}", reason="DECISION_NOT_PENDING",
                                 metadata={"decision_status": decision.status.value})
    existing = uow.hearings.for_case(case.case_id)
    open_ = next((h for h in existing if h.decision_id == decision.decision_id and h.waiting(now)), None)
    if open_ is not None:
        raise FailedPrecondition("a hearing on this draft is open until its deadline", reason="HEARING_IN_PROGRESS",
                                 metadata={"hearing_id": open_.hearing_id, "deadline": open_.deadline.isoformat()})
    facts = cp.unheard_facts(decision, uow.information.for_case(case.case_id), existing, now)
    if not facts:
        raise FailedPrecondition("the draft rests on no register data or information from others that the citizen "
                                 "has not had the chance to comment on", reason="NOTHING_TO_HEAR")
    benefit = uow.catalogue.get(case.benefit_code)
    hearing = cp.Hearing(new_id(), case.case_id, decision.decision_id, cp.HearingStatus.OPEN,
                         tuple(f.item_id for f in facts), decision.outcome, c.note, identity.client_id, now,
                         cp.hearing_deadline(now, benefit.hearing_deadline_days))
    uow.hearings.add(hearing)
    letter = documents.hearing_letter(case, decision, facts, hearing.deadline, benefit, authority_of(uow, case),
                                      c.note, hearing_id=hearing.hearing_id)
    send_letter(uow, case, now, f"hearing/{hearing.hearing_id}/letter", "hearing_letter", letter,
                hearing_id=hearing.hearing_id)
    archive_step(uow, case, now, f"hearing-{hearing.hearing_id}", "hearing_letter", letter.title, letter)
    uow.events.record(event(case, "hearing.started", now, identity.client_id, hearing_id=hearing.hearing_id,
                            decision_id=decision.decision_id, deadline=hearing.deadline.isoformat(), facts=len(facts)))
    return hearing, case


def record_hearing_response(uow: UnitOfWork, identity: Identity, c: cmd.RecordHearingResponse,
                            now: dt.datetime) -> tuple[cp.Hearing, Case]:
    if identity.role is Role.CITIZEN_PORTAL:  # the logged-in citizen, through the portal
        c = replace(c, channel=self_service(c.channel), received_at=received_now(c.received_at))
    received = c.validated(now)
    hearing = uow.hearings.get(c.hearing_id)
    case = case_in_scope(uow, identity, hearing.case_id, for_update=True) if hearing else None
    if hearing is None or case is None:
        raise NotFound("hearing not found", reason="HEARING_NOT_FOUND", metadata={"hearing_id": c.hearing_id})
    case.require_open("RecordHearingResponse")
    item = InformationItem(new_id(), case.case_id, InformationSource.CITIZEN, f"hearing {hearing.hearing_id}",
                           "hearing.response", dict(hearing_id=hearing.hearing_id, comments=c.comments,
                                                    channel=c.channel.value, received_at=received.isoformat()),
                           False, identity.client_id, now)
    answered = hearing.answer(item.item_id, received)
    attach_information(uow, case, item, action="RecordHearingResponse", now=now, client_id=identity.client_id,
                       reason="the citizen answered a hearing")
    uow.hearings.save(answered)
    archive_step(uow, case, now, f"hearing-{hearing.hearing_id}-response", "hearing_response",
                 "Bemærkninger til partshøring", item.value)
    uow.events.record(event(case, "hearing.answered", now, identity.client_id, hearing_id=hearing.hearing_id,
                            decision_id=hearing.decision_id, item_id=item.item_id,
                            after_deadline=received > hearing.deadline))
    return answered, case
