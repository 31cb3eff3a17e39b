"""Claims on citizens: every one made by a decision (a repayment decision, or one that
lowers a grant for months already paid), offset against later payments when the
decision allowed it, collected by the provider, released or written off. Every change
is an event and a posting to the economy system."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable

from hub.domain import commands as cmd
from hub.domain import payments as pay
from hub.domain.errors import FailedPrecondition, NotFound
from hub.domain.identity import Identity, Role
from hub.domain.ids import new_id
from hub.domain.model import Case
from hub.ports import messages as msg
from hub.service.access import event
from hub.store.uow import UnitOfWork


def changed(uow: UnitOfWork, identity: Identity, case: Case, claim_id: str, type_: str, now: dt.datetime,
            **details: Any) -> None:
    """`type_` is the event (claim.created, ...); `details` its payload: amount_oere (what
    the change moved), period, origin, reason, end_to_end_id, offset_allowed."""
    c = uow.claims.get(claim_id)
    uow.events.record(event(case, type_, now, identity.client_id, claim_id=claim_id, status=c.status.value, **details))
    uow.outbox.add(msg.ClaimPosting(
        municipality_code=case.municipality_code, benefit_code=case.benefit_code,
        ledger_account=uow.catalogue.get(case.benefit_code).ledger_account, case_id=case.case_id, cpr=case.cpr,
        claim_id=claim_id, change=type_.removeprefix("claim."), status=c.status.value, amount_oere=c.amount_oere,
        collected_oere=c.collected_oere, cancelled_oere=c.cancelled_oere, written_off_oere=c.written_off_oere,
        change_amount_oere=details.get("amount_oere", 0), period=details.get("period", ""),
        origin=details.get("origin", ""), reason=details.get("reason", ""),
        end_to_end_id=details.get("end_to_end_id", ""), offset_allowed=details.get("offset_allowed"),
        decision_id=c.decision_id or "",
    ).outbox(f"claim/{claim_id}/{type_}/{new_id()}", case.case_id), now)


def refresh(uow: UnitOfWork, claim_ids: Iterable[str]) -> None:
    """Claims whose money moved take the status it gives them (pay.claim_status)."""
    ids = set(claim_ids)
    if not ids:
        return
    for c in uow.claims.many(ids):
        status = pay.claim_status(c.amount_oere, c.collected_oere, c.cancelled_oere, c.written_off_oere)
        if status is not c.status:
            uow.claims.set_status(c.claim_id, status)


def claim_in_scope(uow: UnitOfWork, identity: Identity, claim_id: str) -> tuple[pay.Claim, Case]:
    """The claim and its case, if the caller sees the case (a payment provider: if the
    case is of a municipality it acts for)."""
    c = uow.claims.get(claim_id, lock=True) if claim_id else None
    case = uow.cases.get(c.case_id, for_update=True) if c else None
    if case is None or not (identity.scope.sees(case) or (
            identity.role is Role.PAYMENT_PROVIDER and identity.covers_municipality(case.municipality_code))):
        raise NotFound("claim not found", reason="CLAIM_NOT_FOUND", metadata={"claim_id": claim_id})
    return c, case


def _update(uow: UnitOfWork, identity: Identity, c: cmd.ClaimChange, change: Callable[[pay.Claim], None],
            event_type: str, now: dt.datetime, **details: Any) -> tuple[pay.Claim, Case]:
    c.validate()
    claim, case = claim_in_scope(uow, identity, c.claim_id)
    change(claim)
    refresh(uow, [c.claim_id])
    changed(uow, identity, case, c.claim_id, event_type, now, **details)
    return uow.claims.get(c.claim_id), case


def _require_open(c: pay.Claim) -> None:
    if c.status not in pay.OPEN_CLAIM_STATUSES:
        raise FailedPrecondition(f"the claim is {c.status.value}", reason="CLAIM_NOT_OPEN",
                                 metadata={"status": c.status.value})


def set_claim_offset(uow: UnitOfWork, identity: Identity, c: cmd.ClaimChange,
                     now: dt.datetime) -> tuple[pay.Claim, Case]:
    def change(claim: pay.Claim) -> None:
        _require_open(claim)
        uow.claims.update(claim.claim_id, now, offset_allowed=c.offset_allowed)
    return _update(uow, identity, c, change, "claim.offset_set", now, offset_allowed=c.offset_allowed)


def write_off_claim(uow: UnitOfWork, identity: Identity, c: cmd.ClaimChange,
                    now: dt.datetime) -> tuple[pay.Claim, Case]:
    def change(claim: pay.Claim) -> None:
        _require_open(claim)
        note = f"written off: {c.reason}"
        uow.claims.update(claim.claim_id, now, written_off_oere=claim.written_off_oere + claim.outstanding_oere,
                          reason=f"{claim.reason}; {note}" if claim.reason else note)
    return _update(uow, identity, c, change, "claim.written_off", now, reason=c.reason)


def report_collection(uow: UnitOfWork, identity: Identity, c: cmd.ClaimChange,
                      now: dt.datetime) -> tuple[pay.Claim, Case]:
    def change(claim: pay.Claim) -> None:
        _require_open(claim)
        if c.amount_oere > claim.outstanding_oere:
            raise FailedPrecondition(
                f"the amount exceeds what is outstanding on the claim ({claim.outstanding_oere} øre)",
                reason="MORE_THAN_OUTSTANDING", metadata={"outstanding_oere": str(claim.outstanding_oere)})
        uow.claims.add_collection(claim.claim_id, "PROVIDER", c.amount_oere, c.reference or c.request_id, now)
    return _update(uow, identity, c, change, "claim.collected", now, amount_oere=c.amount_oere)
