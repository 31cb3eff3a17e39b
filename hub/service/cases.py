"""Cases: applications received, information gathered (from the caller and from the
registers), withdrawn; read and listed within the caller's data limits.

Each use case here is one transaction: it gets its unit of work, the caller's identity
and the time, and returns what the call answers (a change also the case it touched,
for the audit log). The runtime (hub.runtime.transactions) authorizes the call, makes
a mutation idempotent on its request id, audits and commits."""
from __future__ import annotations

import datetime as dt

from hub.domain import commands as cmd
from hub.domain import citizen as citizen_rules
from hub.domain import paging
from hub.domain.audit import AuditEntry
from hub.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied, Violations
from hub.domain.identity import DISCRETION_ROLES, Identity, Role
from hub.domain.model import (Case, CaseStatus, CaseView, DecisionStatus, InformationItem, StatusChange, origin_of)
from hub.domain.ids import new_id
from hub.ports import INCOME_REGISTER
from hub.ports import messages as msg
from hub.service import citizen, intake, payments
from hub.service.access import case_in_scope, check_limits, event
from hub.service.steps import attach_information, move_case
from hub.store.uow import UnitOfWork


def view(uow: UnitOfWork, case: Case, *, with_payments: bool = False) -> CaseView:
    """The case with everything it holds (its payment history only when asked)."""
    return CaseView(case, tuple(uow.information.for_case(case.case_id)), tuple(uow.decisions.for_case(case.case_id)),
                    tuple(uow.cases.history(case.case_id)),
                    payments.history(uow, case.case_id) if with_payments else None,
                    tuple(uow.hearings.for_case(case.case_id)), tuple(uow.complaints.for_case(case.case_id)))


def create_case(uow: UnitOfWork, identity: Identity, c: cmd.CreateCase, now: dt.datetime) -> tuple[CaseView, Case]:
    if identity.role is Role.CITIZEN_PORTAL:  # the logged-in citizen applies, by self-service
        c = citizen_rules.application(identity, c, now.date())
    c = c.validated(now)
    if not identity.covers_municipality(c.municipality_code):
        raise PermissionDenied("this client does not act for that municipality", reason="MUNICIPALITY_OUT_OF_SCOPE",
                               metadata={"municipality_code": c.municipality_code})
    check_limits(identity, c.benefit_code, c.sensitivity)
    benefit = uow.catalogue.get(c.benefit_code)
    if benefit is None:
        raise InvalidArgument([FieldViolation("benefit_code", "is not in the benefit catalogue")])
    authority = benefit.authority_for(c.municipality_code)
    case = Case(new_id(), c.municipality_code, c.cpr, c.benefit_code, c.channel, origin_of(c.channel),
                CaseStatus.CREATED, c.received_at, now, c.received_at + dt.timedelta(days=benefit.processing_deadline_days),
                c.applicant_statement, c.external_reference, authority.key, identity.client_id, now,
                sensitivity=c.sensitivity)
    intake.begin(benefit, case)
    uow.cases.add(case)
    first = StatusChange(None, CaseStatus.CREATED, now, identity.client_id, "application received")
    uow.cases.add_status_change(case.case_id, first)
    uow.events.record(event(case, "case.created", now, identity.client_id, channel=case.channel.value,
                            origin=case.origin.value, authority=authority.key))
    # The receipt ("kvittering"): when it was received and by when it will be decided.
    uow.events.record(event(case, "case.receipt", now, identity.client_id, received_at=case.received_at.isoformat(),
                            processing_deadline=case.processing_deadline.isoformat()))
    intake.start(uow, case, now)
    return CaseView(case, history=(first,)), case


def get_case(uow: UnitOfWork, identity: Identity, case_id: str, purpose: str | None, now: dt.datetime) -> CaseView:
    case = case_in_scope(uow, identity, case_id)
    shown = view(uow, case, with_payments=True)
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, "GetCase", case.case_id, case.cpr, "OK",
                             None, purpose))
    return shown


def list_cases(uow: UnitOfWork, identity: Identity, f: cmd.CaseFilter, size: int, page_token: str,
               purpose: str | None, now: dt.datetime, *, action: str = "ListCases") -> tuple[list[Case], str]:
    f = f.validated(now.date())
    v = Violations()
    size = cmd.page_size(v, size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, f.municipality_code, f.benefit_code, f.status, f.cpr,
                              f.received_after, f.received_before, f.automation, f.fallout_reason)
    after = paging.decode(page_token, qhash)
    rows = uow.cases.list(identity.scope, f, after_id=after, limit=size + 1)
    page = rows[:size]
    for _, case in page:
        uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, action, case.case_id, case.cpr, "OK",
                                 None, purpose))
    return [c for _, c in page], paging.encode(page[-1][0], qhash) if len(rows) > size else ""


def citizen_request(identity: Identity, cpr: str, page_size: int, now: dt.datetime) -> tuple[str, int]:
    """The citizen portal's requests: the logged-in citizen (the assertion's CPR; a
    deprecated `cpr` in the request must be the same), a page size."""
    cpr = citizen_rules.the_citizen(identity, cpr, now.date())
    v = Violations()
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    return cpr, size


def list_citizen_cases(uow: UnitOfWork, identity: Identity, cpr: str, size: int, page_token: str,
                       now: dt.datetime) -> tuple[list[tuple[Case, tuple]], str]:
    """The citizen portal: the logged-in citizen's own cases, each with what happens next."""
    cpr, size = citizen_request(identity, cpr, size, now)
    found, token = list_cases(uow, identity, cmd.CaseFilter(cpr=cpr), size, page_token, "citizen portal", now,
                              action="ListCitizenCases")
    return [(c, citizen.steps_of(uow, c, now)) for c in found], token


def add_information(uow: UnitOfWork, identity: Identity, c: cmd.AddInformation,
                    now: dt.datetime) -> tuple[tuple[InformationItem, CaseStatus], Case]:
    c.validate()
    if c.discretionary and identity.role not in DISCRETION_ROLES:
        raise PermissionDenied("only the authority adds discretionary assessments",
                               reason="DISCRETION_RESERVED_TO_AUTHORITY")
    case = case_in_scope(uow, identity, c.case_id, for_update=True)
    case.require_open("AddInformation")
    if c.sensitivity is not None and c.sensitivity.rank > case.sensitivity.rank:
        check_limits(identity, case.benefit_code, c.sensitivity)
        before, case.sensitivity, case.updated_at = case.sensitivity, c.sensitivity, now
        uow.cases.save_sensitivity(case)
        uow.events.record(event(case, "case.sensitivity_raised", now, identity.client_id,
                                from_sensitivity=before.value, to_sensitivity=case.sensitivity.value))
    item = InformationItem(new_id(), case.case_id, c.source, c.source_reference, c.kind, c.value, c.discretionary,
                           identity.client_id, now)
    attach_information(uow, case, item, action="AddInformation", now=now, client_id=identity.client_id,
                       reason="information added")
    return (item, case.status), case


def withdraw_case(uow: UnitOfWork, identity: Identity, c: cmd.WithdrawCase, now: dt.datetime) -> tuple[CaseView, Case]:
    c.validate()
    case = case_in_scope(uow, identity, c.case_id, for_update=True)
    decisions = uow.decisions.for_case(case.case_id)
    if any(d.status is DecisionStatus.APPROVED for d in decisions):
        raise FailedPrecondition(f"WithdrawCase is not possible: the case is {case.status.value} with an approved "
                                 f"decision (a grant ends by a new decision)", reason="CASE_HAS_DECISION",
                                 metadata={"current_status": case.status.value})
    move_case(uow, case, CaseStatus.WITHDRAWN, action="WithdrawCase", now=now, by=identity.client_id,
              client_id=identity.client_id, reason=c.reason or "withdrawn by the citizen")
    for d in decisions:
        if d.status is DecisionStatus.PENDING_APPROVAL:
            uow.decisions.save(d.cancel())
    uow.events.record(event(case, "case.withdrawn", now, identity.client_id, reason=c.reason))
    return view(uow, case), case


def request_register_data(uow: UnitOfWork, identity: Identity, c: cmd.RequestRegisterData,
                          now: dt.datetime) -> tuple[tuple[list[str], list[str]], Case]:
    """Ask the income register for months of the citizen's income (each month once per
    case); the answer arrives as information on the case."""
    months = c.validated(now.date())
    case = case_in_scope(uow, identity, c.case_id, for_update=True)
    case.require_open("RequestRegisterData")
    done = uow.register_fetches.months(case.case_id, INCOME_REGISTER)
    reused = [m for m in months if m in done]
    new = intake.ask(uow, case, INCOME_REGISTER, lambda wanted: msg.RegisterRequest(
        register=INCOME_REGISTER, case_id=case.case_id, municipality_code=case.municipality_code, cpr=case.cpr,
        months=wanted, requested_by=identity.client_id), now, months=tuple(months), by=identity.client_id)
    return (new, reused), case
