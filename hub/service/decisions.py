"""Decisions: the back office's draft, the authority's approval (or its automatic
approval on the authority's behalf for a pure objective case), and what an approved
decision causes: the posting to the economy system, the letter, the archive package,
and the payments it governs."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hub.domain import commands as cmd
from hub.domain import complaints as cp
from hub.domain import documents, paging
from hub.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Violations
from hub.domain.identity import Identity
from hub.domain.ids import new_id
from hub.domain.model import (AUTOMATIC_APPROVER, Approval, ApprovalMode, Case, CaseStatus, Decision, DecisionSource,
                              DecisionStatus, OutboxMessage, Outcome, PeriodAmount, Repayment, Return,
                              may_approve_automatically)
from hub.ports import messages as msg
from hub.domain import rules as r
from hub.domain.automation import SYSTEM_CLIENT, Automation, Fallout
from hub.service import cases, hearings, intake, payments, rules
from hub.service.access import authority_of, case_in_scope, event, require_authority
from hub.service.steps import move_case
from hub.store.uow import UnitOfWork


def _calculated(uow: UnitOfWork, case: Case, c: cmd.SubmitDraft, amounts: tuple[PeriodAmount, ...],
                effective_from: dt.date | None, done: rules.CalculatedDraft | None,
                effective_to: dt.date | None = None) -> tuple[rules.CalculatedDraft | None, str]:
    """The rules' calculation the draft accepts (use_calculation; `done`: made already, in
    this transaction) or is held against (a typed draft of a benefit with rules, when
    the case's facts allow a calculation), and the departure's reason; (None, reason)
    for a typed draft nothing calculates."""
    if c.use_calculation:
        return done or rules.draft_of(rules.calculate(uow, case, effective_from, effective_to)), ""
    if r.FORMULAS.get(case.benefit_code) is None:
        return None, c.departure_reason
    start = min((a.period_start for a in amounts), default=effective_from)
    end = max((a.period_end for a in amounts), default=effective_to)
    try:
        calculated = rules.draft_of(rules.calculate(uow, case, start, end))
    except FailedPrecondition:
        return None, c.departure_reason   # not calculable (facts or figures missing): a typed draft
    differs = rules.differences(calculated, amounts) or (
        f"the rules give the outcome {calculated.outcome.value}" if calculated.outcome is not c.outcome else "")
    if differs and not c.departure_reason:
        raise InvalidArgument([FieldViolation("departure_reason", f"is required: the draft departs from the "
                                                                  f"calculation by the benefit's rules ({differs})")])
    return calculated, c.departure_reason if differs else ""


def _accept(c: cmd.SubmitDraft, calculated: rules.CalculatedDraft, amounts: tuple[PeriodAmount, ...]) -> None:
    """What a draft that accepts the calculation gives itself must agree with it."""
    wrong = []
    if c.outcome is not None and c.outcome is not calculated.outcome:
        wrong.append(FieldViolation("outcome", f"differs from the calculation ({calculated.outcome.value}): "
                                               f"state a departure_reason instead of use_calculation"))
    diff = rules.differences(calculated, amounts) if amounts else ""
    if diff:
        wrong.append(FieldViolation("amounts", f"differ from the calculation ({diff}): state a departure_reason "
                                               f"instead of use_calculation"))
    if wrong:
        raise InvalidArgument(wrong)


def submit_draft(uow: UnitOfWork, identity: Identity, c: cmd.SubmitDraft, now: dt.datetime, *,
                 calculated: rules.CalculatedDraft | None = None, settlement_year: int | None = None,
                 automatic_allowed: bool = True) -> tuple[tuple[Decision, CaseStatus, bool, bool], Case]:
    """A draft decision (`calculated`: a calculation made already, which the draft
    accepts; a final settlement's, with the income year it settles, and whether the
    rule data let it be decided without a person)."""
    amounts, points, effective_from, repayment, effective_to = c.validated()
    case = case_in_scope(uow, identity, c.case_id, for_update=True)
    if repayment is not None:
        _check_repayment(uow, case, repayment)
        calculated, departure = None, ""
    else:
        calculated, departure = _calculated(uow, case, c, amounts, effective_from, calculated, effective_to)
    outcome, reasoning, legal_basis, decisive = c.outcome_given, c.reasoning, c.legal_basis, c.decisive_fact_ids
    if c.use_calculation:
        _accept(c, calculated, amounts)
        outcome, amounts = calculated.outcome, calculated.amounts
        reasoning = calculated.reasoning + (f"\n\n{c.reasoning}" if c.reasoning else "")
        legal_basis = c.legal_basis or calculated.legal_basis
        decisive = c.decisive_fact_ids or calculated.decisive_fact_ids
        effective_from = effective_from or (calculated.effective_from if case.status is CaseStatus.DECIDED else None)
    if case.automation == Automation.IN_PROGRESS.value and identity.client_id != SYSTEM_CLIENT:
        intake.fall_out(uow, case, Fallout.TAKEN_OVER, f"{identity.client_id} submitted a draft", now)
    recalculation = case.status is CaseStatus.DECIDED
    move_case(uow, case, CaseStatus.DRAFT_PENDING_APPROVAL, action="SubmitDraftDecision", now=now,
              by=identity.client_id, client_id=identity.client_id,
              reason="new draft decision submitted" if recalculation else "draft decision submitted")
    effective = None if repayment else payments.check_grant(uow, case, outcome, amounts, effective_from,
                                                            effective_to=effective_to)
    hearings.check_decisive_facts(uow, case, decisive)
    benefit = uow.catalogue.get(case.benefit_code)
    guidance = documents.complaint_guidance(authority_of(uow, case), benefit.appeals_authority_name)
    calculation = (r.calculation_to_dict(calculated.calculation, departure) if calculated is not None
                   else dict(departure_reason=departure, periods=[], facts=[]) if departure else None)
    decision = Decision(new_id(), case.case_id, DecisionStatus.PENDING_APPROVAL, outcome, amounts, reasoning,
                        legal_basis, points, identity.client_id, now, effective_from=effective,
                        decisive_fact_ids=decisive, hearing_exception=c.hearing_exception,
                        hearing_exception_note=c.hearing_exception_note, complaint_guidance=guidance,
                        calculation=calculation, repayment=repayment, offset_repayment=c.offset_repayment,
                        effective_to=effective_to, settlement_year=settlement_year)
    need = hearings.hearing_need(uow, case, decision, now)
    missing = cp.adverse_without_reasons(decision, need.adverse)
    if missing:
        raise InvalidArgument([FieldViolation(name, "is required: the draft refuses, partly grants or lowers the "
                                                    "grant in force (forvaltningsloven §§ 22, 24)")
                               for name in missing])
    uow.decisions.add(decision, case.authority_key)
    hearing = need.blocks
    uow.events.record(event(case, "decision.draft_submitted", now, identity.client_id,
                            decision_id=decision.decision_id, outcome=decision.outcome.value, hearing_required=hearing,
                            hearing_exception=c.hearing_exception.value if c.hearing_exception else ""))
    others = uow.cases.other_open(case.cpr, case.municipality_code, case.case_id)
    # A draft that needs a hearing waits for it, and then for the authority; one that
    # claims an exception from hearing asks for the authority's judgement.
    # A calculation with points for a person's judgement stands only if a person agrees.
    judged = bool(calculated and calculated.assessment)
    automatic = (automatic_allowed
                 and may_approve_automatically(benefit, points, others, departs_from_calculation=bool(departure))
                 and not hearing and c.hearing_exception is None and not judged)
    if automatic:
        approval = Approval(ApprovalMode.AUTOMATIC, AUTOMATIC_APPROVER, case.authority_key, now,
                            note="approved automatically on the authority's behalf: objective case")
        decision = approve(uow, identity, case, decision, approval, None, None, now, need=need)
    return (decision, case.status, automatic, hearing), case


def _check_repayment(uow: UnitOfWork, case: Case, r: Repayment) -> None:
    """A repayment decision is made on a decided case, for no more than was paid out
    for its months and not yet claimed back."""
    if case.status is not CaseStatus.DECIDED:
        raise FailedPrecondition(f"a repayment decision is made on a decided case; the case is {case.status.value}",
                                 reason="REPAYMENT_NEEDS_DECIDED_CASE", metadata={"case_status": case.status.value})
    _require_repayable(uow, case, r)


def _require_repayable(uow: UnitOfWork, case: Case, r: Repayment, *, then: str = "") -> None:
    """No more than was paid out for the repayment's months and not yet claimed back
    (at approval again: payments may have moved since the draft; `then` says so)."""
    most = payments.repayable(uow, case, r)
    if r.amount_oere > most:
        raise FailedPrecondition(
            f"the repayment is {then}more than was paid out for {r.period_start.isoformat()} to "
            f"{r.period_end.isoformat()} and not yet claimed back ({most} øre)", reason="REPAYMENT_MORE_THAN_PAID",
            metadata={"repayable_oere": str(most)})


def decision_for_authority(uow: UnitOfWork, identity: Identity, decision_id: str) -> tuple[Decision, Case]:
    decision = uow.decisions.get(decision_id, for_update=True) if decision_id else None
    case = case_in_scope(uow, identity, decision.case_id, for_update=True) if decision else None
    if decision is None or case is None:
        raise NotFound("decision not found", reason="DECISION_NOT_FOUND", metadata={"decision_id": decision_id})
    require_authority(identity, case, "approves or returns its drafts")
    return decision, case


def approve(uow: UnitOfWork, identity: Identity, case: Case, decision: Decision, approval: Approval, amounts, points,
            now: dt.datetime, *, need: cp.HearingNeed | None = None) -> Decision:
    """Approve a draft (as amended), with everything approval causes. `need`: the
    hearing check already made on this unamended draft, if any."""
    decision = decision.approve(approval, amounts, points)
    if approval.mode is not ApprovalMode.RECORDED:
        # The letter must give reasons and guidance, and the citizen must have been heard.
        need = need if need is not None and amounts is None else hearings.hearing_need(uow, case, decision, now)
        cp.require_reasons(decision, need.adverse)
        cp.require_hearing_held(need)
    if decision.outcome is Outcome.REPAYMENT:
        _require_repayable(uow, case, decision.repayment, then="now ")
    else:
        # What lowering a grant for months already paid claims back, stated in its letter.
        decision = replace(decision, repayment=payments.overpayment(uow, case, decision))
    uow.decisions.save(decision)
    # What the statistics read from the event alone (hub.domain.statistics): whether it
    # decides the application (the case's first decision), by when it had to, and
    # whether no person took part (the automatic path from application to approval).
    first = not uow.decisions.has_approved(case.case_id, other_than=decision.decision_id)
    straight_through = approval.mode is ApprovalMode.AUTOMATIC and case.automation == Automation.IN_PROGRESS.value
    move_case(uow, case, CaseStatus.DECIDED, action="ApproveDecision", now=now, by=approval.by_client,
              client_id=identity.client_id, reason=f"decision approved ({approval.mode.value.lower()})")
    uow.events.record(event(case, "decision.approved", now, identity.client_id, decision_id=decision.decision_id,
                            mode=approval.mode.value, amended=approval.amended, outcome=decision.outcome.value,
                            amounts=documents.jsonable(decision.amounts),
                            repayment=documents.jsonable(decision.repayment), first_decision=first,
                            received_at=case.received_at.isoformat(),
                            processing_deadline=case.processing_deadline.isoformat(),
                            straight_through=straight_through))
    for message in messages_for_decision(uow, case, decision):
        uow.outbox.add(message, now)
    if decision.outcome is Outcome.REPAYMENT:
        payments.repayment_approved(uow, identity, case, decision, now)
    else:
        payments.grant_approved(uow, identity, case, decision, now)
    return decision


def messages_for_decision(uow: UnitOfWork, case: Case, decision: Decision) -> list[OutboxMessage]:
    """What an approved decision causes elsewhere: a posting to the municipality's
    economy system (every decision, also a refusal or one that stops a grant: the
    municipality knows each decision it is the sender of), the letter to the citizen
    with the authority as sender, and the archive package of the case."""
    benefit = uow.catalogue.get(case.benefit_code)
    authority = authority_of(uow, case)
    letter = documents.decision_letter(case, decision, benefit, authority)
    decided = decision.approval.at.date() if decision.approval else decision.submitted_at.date()
    effective, until = decision.governs
    replaces = bool(effective and uow.payments.in_force(case.case_id, effective, decision.decision_id, until))
    out = [msg.DecisionPosting(
        municipality_code=case.municipality_code, benefit_code=case.benefit_code,
        ledger_account=benefit.ledger_account, case_id=case.case_id, cpr=case.cpr, decision_id=decision.decision_id,
        outcome=decision.outcome.value,
        amounts=tuple(msg.PostedAmount(a.amount_oere, a.period_start, a.period_end) for a in decision.amounts),
        effective_from=effective, effective_to=until, decided_on=decided, replaces_grant=replaces,
        source=decision.source.value,
        repayment_oere=decision.repayment.amount_oere if decision.repayment else 0,
        repayment_offset_allowed=bool(decision.repayment and decision.repayment.offset_allowed),
        settlement_year=decision.settlement_year or 0,
    ).outbox(f"decision/{decision.decision_id}/economy", case.case_id)]
    if decision.source is DecisionSource.AUTHORITY:
        # The appeals authority sends its own decisions; the hub records and pays them.
        out.append(msg.DigitalPostLetter(letter_kind="decision_letter", case_id=case.case_id,
                                         municipality_code=case.municipality_code, letter=letter,
                                         decision_id=decision.decision_id)
                   .outbox(f"decision/{decision.decision_id}/letter", case.case_id))
    shown = cases.view(uow, case)
    shown = replace(shown, decisions=tuple(d for d in shown.decisions if d.decision_id != decision.decision_id)
                    + (decision,))
    out.append(msg.ArchiveCase(
        case_id=case.case_id, decision_id=decision.decision_id, municipality_code=case.municipality_code,
        benefit_code=case.benefit_code, kle_number=benefit.kle_number, retention_years=benefit.retention_years,
        decided_on=decided, archive_action_date=documents.archive_action_date(decided, benefit.retention_years),
        case_file=documents.case_file(shown), letter=letter,
    ).outbox(f"decision/{decision.decision_id}/archive", case.case_id))
    return out


def approve_decision(uow: UnitOfWork, identity: Identity, c: cmd.ApproveDecision,
                     now: dt.datetime) -> tuple[Decision, Case]:
    amounts, points = c.validated()
    decision, case = decision_for_authority(uow, identity, c.decision_id)
    decision.require_pending("approved")
    if amounts is not None and decision.outcome is Outcome.REPAYMENT:
        raise FailedPrecondition("a repayment decision grants no amounts; its repayment is changed by a new draft",
                                 reason="AMENDMENT_CONTRADICTS_OUTCOME")
    if amounts is not None and decision.outcome is Outcome.REFUSED and any(a.amount_oere for a in amounts):
        raise FailedPrecondition("a refusal cannot be amended to grant an amount",
                                 reason="AMENDMENT_CONTRADICTS_OUTCOME")
    if amounts is not None:
        payments.check_grant(uow, case, decision.outcome, amounts, decision.effective_from, name="amendment.amounts",
                             effective_to=decision.effective_to)
    amended = amounts is not None or points is not None
    approval = Approval(ApprovalMode.MANUAL, identity.client_id, case.authority_key, now, c.note, amended,
                        decision.amounts if amended else (), decision.discretionary_points if amended else ())
    return approve(uow, identity, case, decision, approval, amounts, points, now), case


def return_draft(uow: UnitOfWork, identity: Identity, c: cmd.ReturnDraft, now: dt.datetime) -> tuple[Decision, Case]:
    c.validate()
    decision, case = decision_for_authority(uow, identity, c.decision_id)
    decision = decision.return_to_back_office(Return(identity.client_id, now, c.reason))
    uow.decisions.save(decision)
    move_case(uow, case, CaseStatus.INFORMING, action="ReturnDraft", now=now, by=identity.client_id,
              client_id=identity.client_id, reason=c.reason)
    uow.events.record(event(case, "decision.returned", now, identity.client_id, decision_id=decision.decision_id,
                            reason=c.reason))
    return decision, case


def list_pending_approvals(uow: UnitOfWork, identity: Identity, municipality_code: str, benefit_code: str,
                           page_size: int, page_token: str, now: dt.datetime) -> tuple[list[tuple[Decision, Case]], str]:
    v = Violations()
    cmd.check_municipality(v, "municipality_code", municipality_code, required=False)
    cmd.check_benefit_code(v, "benefit_code", benefit_code, required=False)
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, municipality_code, benefit_code)
    after = paging.decode(page_token, qhash)
    rows = uow.decisions.pending(identity.scope, municipality_code=municipality_code, benefit_code=benefit_code,
                                 after_id=after, limit=size + 1)
    page = rows[:size]
    return [(d, c) for _, d, c in page], paging.encode(page[-1][0], qhash) if len(rows) > size else ""
