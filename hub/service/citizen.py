"""The citizen's own case (issue 28): what the citizen portal shows the logged-in
citizen of their cases. Every case shown is audited (who looked at which citizen's
case), so that ListCitizenAccess lists the citizen's own looks too.

The portal's other calls (CreateCase, RecordHearingResponse, FileComplaint,
ListCitizenCases, ListCitizenAccess) are the ordinary use cases: the citizen they are
about comes from the identity (Identity.citizen, the verified assertion's), and
hub.service.access keeps the portal to that citizen's cases."""
from __future__ import annotations

import datetime as dt

from hub.domain import citizen as ctz
from hub.domain.audit import AuditEntry
from hub.domain.identity import Identity
from hub.domain.model import Case
from hub.ports import DIGITAL_POST
from hub.ports import messages as msg
from hub.service import payments
from hub.service.access import authority_of, case_in_scope
from hub.store.uow import UnitOfWork


def get_citizen_case(uow: UnitOfWork, identity: Identity, case_id: str, purpose: str | None,
                     now: dt.datetime) -> ctz.CitizenCase:
    """One of the logged-in citizen's cases (another's is NOT_FOUND, as an absent one)."""
    case = case_in_scope(uow, identity, case_id)
    shown = citizen_case(uow, case, now)
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "GetCitizenCase", case.case_id, case.cpr,
                             "OK", None, purpose))
    return shown


def citizen_case(uow: UnitOfWork, case: Case, now: dt.datetime) -> ctz.CitizenCase:
    decisions = tuple(uow.decisions.for_case(case.case_id))
    hearings = tuple(uow.hearings.for_case(case.case_id))
    complaints = tuple(uow.complaints.for_case(case.case_id))
    return ctz.CitizenCase(case, authority_of(uow, case), ctz.next_steps(case, decisions, hearings, complaints, now),
                           letters(uow, case, decisions), ctz.decisions_shown(decisions), hearings, complaints,
                           payments.history(uow, case.case_id))


def steps_of(uow: UnitOfWork, case: Case, now: dt.datetime) -> tuple[ctz.NextStep, ...]:
    """What happens next on a case (for the list of the citizen's cases)."""
    return ctz.next_steps(case, uow.decisions.for_case(case.case_id), uow.hearings.for_case(case.case_id),
                          uow.complaints.for_case(case.case_id), now)


def letters(uow: UnitOfWork, case: Case, decisions) -> tuple[ctz.SentLetter, ...]:
    """The letters the hub wrote to the citizen on the case, as Digital Post got them."""
    by_id = {d.decision_id: d for d in decisions}
    out = []
    for row in uow.outbox.for_case(case.case_id, DIGITAL_POST):
        try:
            m = msg.decode(row.destination, row.payload)
        except msg.UnreadableMessage:
            continue  # (a dead letter the operators see; nothing the citizen got)
        if not isinstance(m, msg.DigitalPostLetter):
            continue
        decision = by_id.get(m.decision_id) if m.letter_kind == "decision_letter" else None
        sent_at = decision.sent_at if decision is not None and decision.sent_at else row.delivered_at
        out.append(ctz.SentLetter(m.letter_kind, m.letter.title, m.letter.document_id, row.created_at, sent_at,
                                  (decision.letter_reference or "") if decision is not None else "",
                                  m.decision_id, m.hearing_id, m.complaint_id))
    return tuple(out)
