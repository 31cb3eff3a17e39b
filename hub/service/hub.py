"""Use cases. Each public method is one transaction (unit of work) and receives the
caller's identity as an argument. Mutations are idempotent on (client, request_id):
the first response is stored in the same transaction as the change and replayed."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Callable, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from hub.domain import audit as audit_rules
from hub.domain import commands as cmd
from hub.domain import cpr as cpr_rules
from hub.domain import documents, paging
from hub.domain.errors import (AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound,
                               PermissionDenied, Violations)
from hub.domain.identity import DISCRETION_ROLES, Identity
from hub.domain.model import (
    AUTOMATIC_APPROVER, Approval, ApprovalMode, Benefit, Case, CaseStatus, CaseView, Decision,
    DecisionSource, DecisionStatus, Event, InformationItem, OutboxMessage, Outcome, Return, Sensitivity, StatusChange,
    may_approve_automatically, origin_of,
)
from hub.ports import messages as msg
from hub.ports import DESTINATIONS, INCOME_REGISTER
from hub.service.batching import current_batch, current_lane
from hub.service.clock import Clock, SystemClock
from hub.domain import complaints as cp
from hub.service.complaints import Complaints
from hub.service.payments import Payments
from hub.store import complaints as complaint_store
from hub.store import payments as ps
from hub.service.steps import attach_information, case_event, move_case
from hub.store import audit as audit_store
from hub.store import events as ev
from hub.store import outbox as ob
from hub.domain.ids import new_id
from hub.store.uow import AuditEntry, UnitOfWork

T = TypeVar("T")
Encode = Callable[[T], bytes]


class HubService(Payments, Complaints):
    def __init__(self, engine: sa.Engine, clock: Clock | None = None, reader: sa.Engine | None = None,
                 providers: dict[str, Identity] | None = None):
        self.engine = engine
        self.clock = clock or SystemClock()
        # For long readers (event streams): never takes SQLite's write lock.
        self.reader = reader or engine
        # The payment providers (client id -> identity), for batches pushed as files.
        self.providers = providers or {}

    # ---- plumbing ----------------------------------------------------------------------

    def _uow(self) -> UnitOfWork:
        # Inside a group-commit lane the use case joins the lane's shared transaction,
        # or (alone) has one of its own on the lane's connection.
        return UnitOfWork(self.engine, current_batch(), current_lane())

    @staticmethod
    def _authorize(identity: Identity, action: str) -> None:
        if not identity.may(action):
            raise PermissionDenied(f"role {identity.role.value} may not call {action}",
                                   reason="ROLE_NOT_PERMITTED", metadata={"action": action})

    @staticmethod
    def _visible(identity: Identity, case: Case) -> bool:
        return ((identity.covers_municipality(case.municipality_code) or identity.covers_authority(case.authority_key))
                and identity.within_limits(case.benefit_code, case.sensitivity))

    @staticmethod
    def _limits(identity: Identity) -> dict:
        """The data limits beyond municipalities, for the store's list queries."""
        return dict(benefits=identity.benefits, sensitivities=identity.max_sensitivity.at_most())

    @staticmethod
    def _check_limits(identity: Identity, benefit_code: str, sensitivity: Sensitivity | None) -> None:
        if identity.benefits is not None and benefit_code not in identity.benefits:
            raise PermissionDenied("this client does not act for that benefit", reason="BENEFIT_OUT_OF_SCOPE",
                                   metadata={"benefit_code": benefit_code})
        if sensitivity is not None and sensitivity.rank > identity.max_sensitivity.rank:
            raise PermissionDenied("the sensitivity is above this client's limit", reason="SENSITIVITY_ABOVE_LIMIT",
                                   metadata={"sensitivity": sensitivity.value,
                                             "limit": identity.max_sensitivity.value})

    def _case_in_scope(self, uow: UnitOfWork, identity: Identity, case_id: str, *, for_update: bool = False) -> Case:
        case = uow.case(case_id, for_update=for_update) if case_id else None
        if case is None or not self._visible(identity, case):
            # Out of scope looks exactly like absent: existence is not revealed.
            raise NotFound("case not found", reason="CASE_NOT_FOUND", metadata={"case_id": case_id})
        return case

    def _mutate(self, identity: Identity, action: str, request_id: str, fingerprint: str,
                encode: Encode, work: Callable[[UnitOfWork, dt.datetime], tuple[T, Case | None]]) -> bytes:
        """Run `work` once per (client, request_id). Returns the encoded response: the
        stored one on a retry with the same content."""
        self._authorize(identity, action)

        def attempt() -> bytes:
            with self._uow() as uow:
                stored = uow.stored_response(identity.client_id, request_id)
                if stored is not None:
                    if stored.rpc != action or stored.fingerprint != fingerprint:
                        raise AlreadyExists(
                            "request_id was already used by this client for a different request",
                            reason="REQUEST_ID_REUSED", metadata={"request_id": request_id, "first_rpc": stored.rpc})
                    return stored.response
                now = self.clock.now()
                result, case = work(uow, now)
                encoded = encode(result)
                uow.remember_response(identity.client_id, request_id, action, fingerprint, encoded, now)
                uow.audit(AuditEntry(now, identity.client_id, identity.role.value, action,
                                     case.case_id if case else None, case.cpr if case else None, "OK", request_id))
                uow.commit()
                return encoded

        try:
            return attempt()
        except IntegrityError:
            # A concurrent twin (another process, or a batch that failed to commit) took
            # the request id or a unique key first: try again; a retry with the same
            # request id then finds the stored response. (Tenacity only here: setting
            # it up costs 30 us, a tenth of a whole CreateCase.)
            return Retrying(retry=retry_if_exception_type(IntegrityError), stop=stop_after_attempt(2),
                            reraise=True)(attempt)

    def _audit_read(self, uow: UnitOfWork, identity: Identity, action: str, case: Case,
                    purpose: str | None = None) -> None:
        uow.audit(AuditEntry(self.clock.now(), identity.client_id, identity.role.value, action, case.case_id,
                             case.cpr, "OK", None, purpose))

    def _view(self, uow: UnitOfWork, case: Case, *, payments: bool = False) -> CaseView:
        """The case with everything it holds (the payment history only when asked)."""
        conn = uow.writer()
        return CaseView(case, tuple(uow.information(case.case_id)), tuple(uow.decisions(case.case_id)),
                        tuple(uow.status_history(case.case_id)),
                        self.payment_history(uow, case.case_id) if payments else None,
                        tuple(complaint_store.hearings(conn, case.case_id)),
                        tuple(complaint_store.complaints_for_case(conn, case.case_id)))

    @staticmethod
    def _event(case: Case, type_: str, now: dt.datetime, identity: Identity, **payload: Any) -> Event:
        return case_event(case, type_, now, identity.client_id, **payload)

    @staticmethod
    def _move(uow: UnitOfWork, case: Case, target: CaseStatus, *, action: str, now: dt.datetime,
              by: str, identity: Identity, reason: str = "") -> StatusChange:
        return move_case(uow, case, target, action=action, now=now, by=by, client_id=identity.client_id,
                         reason=reason)

    # ---- catalogue ---------------------------------------------------------------------

    def list_benefits(self, identity: Identity) -> list[Benefit]:
        self._authorize(identity, "ListBenefits")
        with self._uow() as uow:
            return uow.benefits()

    def get_benefit(self, identity: Identity, code: str) -> Benefit:
        self._authorize(identity, "GetBenefit")
        v = Violations()
        cmd.check_benefit_code(v, "code", code)
        v.raise_if_any()
        with self._uow() as uow:
            b = uow.benefit(code)
        if b is None:
            raise NotFound("no benefit with that code", reason="BENEFIT_NOT_FOUND", metadata={"code": code})
        return b

    # ---- cases -------------------------------------------------------------------------

    def create_case(self, identity: Identity, c: cmd.CreateCase, fingerprint: str, encode: Encode[CaseView]) -> bytes:
        self._authorize(identity, "CreateCase")
        c = c.validated(self.clock.now())
        if not identity.covers_municipality(c.municipality_code):
            raise PermissionDenied("this client does not act for that municipality",
                                   reason="MUNICIPALITY_OUT_OF_SCOPE",
                                   metadata={"municipality_code": c.municipality_code})
        self._check_limits(identity, c.benefit_code, c.sensitivity)

        def work(uow: UnitOfWork, now: dt.datetime):
            benefit = uow.benefit(c.benefit_code)
            if benefit is None:
                raise InvalidArgument([FieldViolation("benefit_code", "is not in the benefit catalogue")])
            authority = benefit.authority_for(c.municipality_code)
            case = Case(new_id(), c.municipality_code, c.cpr, c.benefit_code, c.channel, origin_of(c.channel),
                        CaseStatus.CREATED, c.received_at, now,
                        c.received_at + dt.timedelta(days=benefit.processing_deadline_days),
                        c.applicant_statement, c.external_reference, authority.key, identity.client_id, now,
                        sensitivity=c.sensitivity)
            uow.insert_case(case)
            first = StatusChange(None, CaseStatus.CREATED, now, identity.client_id, "application received")
            uow.add_status_change(case.case_id, first)
            uow.record_event(self._event(case, "case.created", now, identity, channel=case.channel.value,
                                         origin=case.origin.value, authority=authority.key))
            # The receipt ("kvittering"): when it was received and by when it will be decided.
            uow.record_event(self._event(case, "case.receipt", now, identity,
                                         received_at=case.received_at.isoformat(),
                                         processing_deadline=case.processing_deadline.isoformat()))
            return CaseView(case, history=(first,)), case

        return self._mutate(identity, "CreateCase", c.request_id, fingerprint, encode, work)

    def get_case(self, identity: Identity, case_id: str, purpose: str | None = None) -> CaseView:
        self._authorize(identity, "GetCase")
        with self._uow() as uow:
            case = self._case_in_scope(uow, identity, case_id)
            view = self._view(uow, case, payments=True)
            self._audit_read(uow, identity, "GetCase", case, purpose)
            uow.commit()
            return view

    def list_cases(self, identity: Identity, f: cmd.CaseFilter, page_size: int, page_token: str,
                   purpose: str | None = None, *, action: str = "ListCases") -> tuple[list[Case], str]:
        self._authorize(identity, action)
        f = f.validated(self.clock.now().date())
        v = Violations()
        size = cmd.page_size(v, page_size)
        v.raise_if_any()
        qhash = paging.query_hash(identity.client_id, f.municipality_code, f.benefit_code, f.status, f.cpr,
                                  f.received_after, f.received_before)
        after = paging.decode(page_token, qhash)
        with self._uow() as uow:
            rows = uow.list_cases(
                municipalities=identity.municipalities,
                central_authority_keys=[f"central:{c}" for c in identity.central_authorities],
                municipality_code=f.municipality_code, benefit_code=f.benefit_code, status=f.status, cpr=f.cpr,
                received_after=f.received_after, received_before=f.received_before, after_id=after, limit=size + 1,
                **self._limits(identity))
            page = rows[:size]
            now = self.clock.now()
            for _, case in page:
                uow.audit(AuditEntry(now, identity.client_id, identity.role.value, action, case.case_id,
                                     case.cpr, "OK", None, purpose))
            uow.commit()
        token = paging.encode(page[-1][0], qhash) if len(rows) > size else ""
        return [c for _, c in page], token

    def _citizen_request(self, identity: Identity, action: str, cpr: str, page_size: int) -> tuple[str, int]:
        """The citizen portal's requests: authorized, a valid CPR (normalised), a page size."""
        self._authorize(identity, action)
        v = Violations()
        problem = cpr_rules.problem(cpr, self.clock.now().date())
        if problem:
            v.add("cpr", problem)
        size = cmd.page_size(v, page_size)
        v.raise_if_any()
        return cpr_rules.normalise(cpr) or "", size

    def list_citizen_cases(self, identity: Identity, cpr: str, page_size: int,
                           page_token: str) -> tuple[list[Case], str]:
        """The citizen portal: one citizen's own cases (status only, in the servicer)."""
        cpr, size = self._citizen_request(identity, "ListCitizenCases", cpr, page_size)
        return self.list_cases(identity, cmd.CaseFilter(cpr=cpr), size, page_token, "citizen portal",
                               action="ListCitizenCases")

    def add_information(self, identity: Identity, c: cmd.AddInformation, fingerprint: str,
                        encode: Encode[tuple[InformationItem, CaseStatus]]) -> bytes:
        self._authorize(identity, "AddInformation")
        c.validate()
        if c.discretionary and identity.role not in DISCRETION_ROLES:
            raise PermissionDenied("only the authority adds discretionary assessments",
                                   reason="DISCRETION_RESERVED_TO_AUTHORITY")

        def work(uow: UnitOfWork, now: dt.datetime):
            case = self._case_in_scope(uow, identity, c.case_id, for_update=True)
            case.require_open("AddInformation")
            if c.sensitivity is not None and c.sensitivity.rank > case.sensitivity.rank:
                self._check_limits(identity, case.benefit_code, c.sensitivity)
                before, case.sensitivity, case.updated_at = case.sensitivity, c.sensitivity, now
                uow.update_case_sensitivity(case)
                uow.record_event(self._event(case, "case.sensitivity_raised", now, identity,
                                             from_sensitivity=before.value, to_sensitivity=case.sensitivity.value))
            item = InformationItem(new_id(), case.case_id, c.source, c.source_reference, c.kind, c.value,
                                   c.discretionary, identity.client_id, now)
            attach_information(uow, case, item, action="AddInformation", now=now, client_id=identity.client_id,
                               reason="information added")
            return (item, case.status), case

        return self._mutate(identity, "AddInformation", c.request_id, fingerprint, encode, work)

    def withdraw_case(self, identity: Identity, c: cmd.WithdrawCase, fingerprint: str,
                      encode: Encode[CaseView]) -> bytes:
        self._authorize(identity, "WithdrawCase")
        c.validate()

        def work(uow: UnitOfWork, now: dt.datetime):
            case = self._case_in_scope(uow, identity, c.case_id, for_update=True)
            if any(d.status is DecisionStatus.APPROVED for d in uow.decisions(case.case_id)):
                raise FailedPrecondition(f"WithdrawCase is not possible: the case is {case.status.value} with an "
                                         f"approved decision (a grant ends by a new decision)",
                                         reason="CASE_HAS_DECISION",
                                         metadata={"current_status": case.status.value})
            self._move(uow, case, CaseStatus.WITHDRAWN, action="WithdrawCase", now=now, by=identity.client_id,
                       identity=identity, reason=c.reason or "withdrawn by the citizen")
            for d in uow.decisions(case.case_id):
                if d.status is DecisionStatus.PENDING_APPROVAL:
                    uow.update_decision(d.cancel())
            uow.record_event(self._event(case, "case.withdrawn", now, identity, reason=c.reason))
            return self._view(uow, case), case

        return self._mutate(identity, "WithdrawCase", c.request_id, fingerprint, encode, work)

    def request_register_data(self, identity: Identity, c: cmd.RequestRegisterData, fingerprint: str,
                              encode: Encode[tuple[list[str], list[str]]]) -> bytes:
        self._authorize(identity, "RequestRegisterData")
        months = c.validated(self.clock.now().date())

        def work(uow: UnitOfWork, now: dt.datetime):
            case = self._case_in_scope(uow, identity, c.case_id, for_update=True)
            case.require_open("RequestRegisterData")
            register = INCOME_REGISTER
            done = uow.fetched_months(case.case_id, register)
            new = [m for m in months if m not in done]
            reused = [m for m in months if m in done]
            if new:
                # Months are fetched once per case, so the first new month names the message.
                message_id = f"register/{case.case_id}/{register}/{new[0]}..{new[-1]}"
                uow.add_register_fetches(case.case_id, register, new, message_id, now)
                uow.add_outbox(msg.RegisterRequest(register=register, case_id=case.case_id,
                                                   municipality_code=case.municipality_code, cpr=case.cpr,
                                                   months=tuple(new), requested_by=identity.client_id)
                               .outbox(message_id, case.case_id), now)
                uow.record_event(self._event(case, "case.register_data_requested", now, identity,
                                             register=register, months=new))
            return (new, reused), case

        return self._mutate(identity, "RequestRegisterData", c.request_id, fingerprint, encode, work)

    # ---- operations: the outbox ----------------------------------------------------------

    def outbox_summary(self, identity: Identity) -> list[dict]:
        self._authorize(identity, "GetOutboxSummary")
        with self._uow() as uow:
            return ob.summary(uow.writer())

    def list_outbox(self, identity: Identity, status: str, destination: str, page_size: int,
                    page_token: str) -> tuple[list[ob.OutboxRow], str]:
        self._authorize(identity, "ListOutboxMessages")
        v = Violations()
        self._check_destination(v, destination, required=False)
        size = cmd.page_size(v, page_size)
        v.raise_if_any()
        qhash = paging.query_hash(identity.client_id, "outbox", status, destination)
        after = paging.decode(page_token, qhash)
        with self._uow() as uow:
            rows = ob.list_messages(uow.writer(), status=status, destination=destination, after_id=after,
                                    limit=size + 1)
        page = rows[:size]
        return page, paging.encode(page[-1].id, qhash) if len(rows) > size else ""

    @staticmethod
    def _check_destination(v: Violations, destination: str, *, required: bool) -> None:
        if destination or required:
            v.require(destination in DESTINATIONS, "destination", f"must be one of {', '.join(DESTINATIONS)}")

    def replay_dead_letters(self, identity: Identity, request_id: str, message_id: str, all_: bool,
                            destination: str, fingerprint: str, encode: Encode[int]) -> bytes:
        self._authorize(identity, "ReplayDeadLetters")
        v = Violations()
        cmd.check_request_id(v, request_id)
        v.require(bool(message_id) != all_, "message_id", "give one message_id, or all = true (not both)")
        self._check_destination(v, destination, required=False)
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            conn = uow.writer()
            if message_id:
                found = ob.list_messages_by_id(conn, message_id)
                if found is None:
                    raise NotFound("no outbox message with that id", reason="MESSAGE_NOT_FOUND",
                                   metadata={"message_id": message_id})
                if found.status != ob.DEAD:
                    raise FailedPrecondition(f"the message is {found.status}, not a dead letter",
                                             reason="NOT_A_DEAD_LETTER", metadata={"status": found.status})
            return ob.replay(conn, now=now, message_id=message_id, destination=destination), None

        return self._mutate(identity, "ReplayDeadLetters", request_id, fingerprint, encode, work)

    def set_destination_paused(self, identity: Identity, request_id: str, destination: str, paused: bool,
                               fingerprint: str, encode: Encode[bool]) -> bytes:
        action = "PauseDestination" if paused else "ResumeDestination"
        self._authorize(identity, action)
        v = Violations()
        cmd.check_request_id(v, request_id)
        self._check_destination(v, destination, required=True)
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            ob.set_paused(uow.writer(), destination, paused, now, identity.client_id)
            return paused, None

        return self._mutate(identity, action, request_id, fingerprint, encode, work)

    def retry_now(self, identity: Identity, request_id: str, destination: str, fingerprint: str,
                  encode: Encode[int]) -> bytes:
        """The destination's backing-off messages due now (the dispatcher's probe does the
        same when one gets through). Returns how many, encoded."""
        self._authorize(identity, "RetryNow")
        v = Violations()
        cmd.check_request_id(v, request_id)
        self._check_destination(v, destination, required=True)
        v.raise_if_any()

        def work(uow: UnitOfWork, now: dt.datetime):
            return ob.make_due(uow.writer(), destination, now), None

        return self._mutate(identity, "RetryNow", request_id, fingerprint, encode, work)

    def audit_failure(self, identity: Identity | None, action: str, named: Sequence[tuple[str, str]], outcome: str,
                      purpose: str | None, request_id: str | None) -> None:
        """Record a refused call that named something of a case (`named`: (field, id)
        pairs, hub.api.servicers.audited_failure): an entry for each case it named, with
        the citizen concerned (also when the caller may not see the case), or one
        without a case when nothing it named exists. `identity` None: a caller without
        identity (UNAUTHENTICATED), recorded as client `unauthenticated` with no role;
        nothing is looked up for it, so nothing it could time is done: its entry holds
        the case id it named (if shaped as one, unverified), never a citizen."""
        with self._uow() as uow:
            if identity is None:
                client_id, role = audit_rules.UNAUTHENTICATED, ""
                cases = dict.fromkeys(v for k, v in named if k == "case_id" and audit_rules.is_id(v))
            else:
                client_id, role = identity.client_id, identity.role.value
                cases = audit_store.cases_named(uow.writer(), named)
            now = self.clock.now()
            for case_id, cpr in cases.items() or [(None, None)]:
                uow.audit(AuditEntry(now, client_id, role, action, case_id, cpr, outcome,
                                     audit_rules.clip(request_id, audit_rules.REQUEST_ID_LENGTH), purpose))
            uow.commit()

    # ---- the audit log -------------------------------------------------------------------

    def list_audit_entries(self, identity: Identity, case_id: str, client_id: str, since: dt.datetime | None,
                           until: dt.datetime | None, page_size: int, page_token: str) -> tuple[list[dict], str]:
        self._authorize(identity, "ListAuditEntries")
        v = Violations()
        cmd.check_id_filter(v, "case_id", case_id)  # (kept in the audit entry of this search)
        if since and until:
            v.require(since < until, "to_time", "must be after from_time")
        size = cmd.page_size(v, page_size)
        v.raise_if_any()
        qhash = paging.query_hash(identity.client_id, "audit", case_id, client_id, since, until)
        return self._audit_page(identity, "ListAuditEntries", qhash, page_token, size, None,
                                dict(case_id=case_id, client_id=client_id, since=since, until=until))

    def list_citizen_access(self, identity: Identity, cpr: str, page_size: int,
                            page_token: str) -> tuple[list[dict], str]:
        cpr, size = self._citizen_request(identity, "ListCitizenAccess", cpr, page_size)
        qhash = paging.query_hash(identity.client_id, "citizen-access", cpr)
        return self._audit_page(identity, "ListCitizenAccess", qhash, page_token, size, cpr, dict(cpr=cpr))

    def _audit_page(self, identity: Identity, action: str, qhash: str, page_token: str, size: int,
                    cpr: str | None, filters: dict) -> tuple[list[dict], str]:
        after = paging.decode(page_token, qhash)
        with self._uow() as uow:
            rows = audit_store.entries(uow.writer(), after_seq=after, limit=size + 1, **filters)
            # Reading the audit log is itself recorded (it tells who looked at whom).
            uow.audit(AuditEntry(self.clock.now(), identity.client_id, identity.role.value, action,
                                 filters.get("case_id") or None, cpr, "OK"))
            uow.commit()
        page = rows[:size]
        return page, paging.encode(page[-1]["seq"], qhash) if len(rows) > size else ""

    # ---- events -------------------------------------------------------------------------

    def _check_filter_scope(self, identity: Identity, f: cmd.EventFilter) -> None:
        v = Violations()
        f.check(v)
        v.raise_if_any()
        outside = sorted(m for m in f.municipality_codes if not identity.covers_municipality(m))
        if outside:
            raise PermissionDenied("this client does not act for those municipalities",
                                   reason="MUNICIPALITY_OUT_OF_SCOPE", metadata={"municipality_codes": ",".join(outside)})

    def create_subscription(self, identity: Identity, request_id: str, name: str, f: cmd.EventFilter, after: int,
                            fingerprint: str, encode: Encode[dict]) -> bytes:
        self._authorize(identity, "CreateSubscription")
        v = Violations()
        cmd.check_request_id(v, request_id)
        cmd.check_subscription_name(v, name)
        v.raise_if_any()
        self._check_filter_scope(identity, f)

        def work(uow: UnitOfWork, now: dt.datetime):
            conn = uow.writer()
            if ev.subscription(conn, identity.client_id, name) is not None:
                raise AlreadyExists("a subscription with that name exists", reason="SUBSCRIPTION_EXISTS",
                                    metadata={"name": name})
            ev.create_subscription(conn, identity.client_id, name, f.as_dict(), after, now)
            return ev.subscription(conn, identity.client_id, name), None

        return self._mutate(identity, "CreateSubscription", request_id, fingerprint, encode, work)

    def get_subscription(self, identity: Identity, name: str, *, action: str = "GetSubscription") -> dict:
        self._authorize(identity, action)
        with self.reader.connect() as conn:
            sub = ev.subscription(conn, identity.client_id, name) if name else None
        if sub is None:
            raise NotFound("no subscription with that name", reason="SUBSCRIPTION_NOT_FOUND", metadata={"name": name})
        return sub

    def ack_events(self, identity: Identity, name: str, sequence: int) -> dict:
        """Naturally idempotent (the cursor only moves forward), so no request_id."""
        self._authorize(identity, "AckEvents")
        with self._uow() as uow:
            conn = uow.writer()
            if ev.subscription(conn, identity.client_id, name) is None:
                raise NotFound("no subscription with that name", reason="SUBSCRIPTION_NOT_FOUND",
                               metadata={"name": name})
            last = ev.last_sequence(conn)
            if sequence > last:
                raise FailedPrecondition(f"sequence {sequence} is beyond the end of the log ({last})",
                                         reason="SEQUENCE_NOT_YET_WRITTEN", metadata={"last_sequence": last})
            ev.ack(conn, identity.client_id, name, sequence, self.clock.now())
            sub = ev.subscription(conn, identity.client_id, name)
            uow.commit()
        return sub

    def open_stream(self, identity: Identity, name: str, after: int, f: cmd.EventFilter) -> tuple[int, cmd.EventFilter]:
        """Where a Subscribe stream starts, and with which filter."""
        self._authorize(identity, "Subscribe")
        if name:
            if after or f != cmd.EventFilter():
                raise InvalidArgument([FieldViolation("subscription", "a durable subscription carries its own "
                                                                      "filter and cursor: give one or the other")])
            sub = self.get_subscription(identity, name, action="Subscribe")
            return sub["acked_seq"], cmd.EventFilter.from_dict(sub["filter"])
        self._check_filter_scope(identity, f)
        return after, f

    def last_event_sequence(self) -> int:
        with self.reader.connect() as conn:
            return ev.last_sequence(conn)

    def read_all_events(self, after: int, limit: int = 500) -> tuple[list[dict], int]:
        """The log itself, for the in-process feed that serves the streams (each stream
        applies its caller's data limits)."""
        with self.reader.connect() as conn:
            return ev.read(conn, after=after, municipalities=None, limit=limit)

    def read_events(self, identity: Identity, after: int, f: cmd.EventFilter,
                    limit: int = 500) -> tuple[list[dict], int]:
        """One page of the stream, within the caller's data limits."""
        with self.reader.connect() as conn:
            return ev.read(conn, after=after, municipalities=identity.municipalities, event_types=f.event_types,
                           municipality_codes=f.municipality_codes, benefit_codes=f.benefit_codes,
                           benefits=identity.benefits,
                           sensitivities=[s.value for s in identity.max_sensitivity.at_most()], limit=limit)

    # ---- decisions ---------------------------------------------------------------------

    def submit_draft(self, identity: Identity, c: cmd.SubmitDraft, fingerprint: str,
                     encode: Encode[tuple[Decision, CaseStatus, bool, bool]]) -> bytes:
        self._authorize(identity, "SubmitDraftDecision")
        amounts, points, effective_from = c.validated()

        def work(uow: UnitOfWork, now: dt.datetime):
            case = self._case_in_scope(uow, identity, c.case_id, for_update=True)
            recalculation = case.status is CaseStatus.DECIDED
            self._move(uow, case, CaseStatus.DRAFT_PENDING_APPROVAL, action="SubmitDraftDecision", now=now,
                       by=identity.client_id, identity=identity,
                       reason="new draft decision submitted" if recalculation else "draft decision submitted")
            effective = self._check_grant(uow, case, c.outcome, amounts, effective_from)
            self._check_decisive_facts(uow, case, c.decisive_fact_ids)
            benefit = uow.benefit(case.benefit_code)
            guidance = documents.complaint_guidance(self._authority(uow, case), benefit.appeals_authority_name)
            decision = Decision(new_id(), case.case_id, DecisionStatus.PENDING_APPROVAL, c.outcome, amounts,
                                c.reasoning, c.legal_basis, points, identity.client_id, now,
                                effective_from=effective, decisive_fact_ids=c.decisive_fact_ids,
                                hearing_exception=c.hearing_exception,
                                hearing_exception_note=c.hearing_exception_note, complaint_guidance=guidance)
            need = self._hearing_need(uow, case, decision, now)
            missing = cp.adverse_without_reasons(decision, need.adverse)
            if missing:
                raise InvalidArgument([FieldViolation(name, "is required: the draft refuses, partly grants or lowers "
                                                            "the grant in force (forvaltningsloven §§ 22, 24)")
                                       for name in missing])
            uow.insert_decision(decision, case.authority_key)
            hearing = need.blocks
            uow.record_event(self._event(case, "decision.draft_submitted", now, identity,
                                         decision_id=decision.decision_id, outcome=decision.outcome.value,
                                         hearing_required=hearing,
                                         hearing_exception=c.hearing_exception.value if c.hearing_exception else ""))
            others = uow.other_open_cases(case.cpr, case.municipality_code, case.case_id)
            # A draft that needs a hearing waits for it, and then for the authority; one
            # that claims an exception from hearing asks for the authority's judgement.
            automatic = (may_approve_automatically(benefit, points, others) and not hearing
                         and c.hearing_exception is None)
            if automatic:
                approval = Approval(ApprovalMode.AUTOMATIC, AUTOMATIC_APPROVER, case.authority_key, now,
                                    note="approved automatically on the authority's behalf: objective case")
                decision = self._approve(uow, case, decision, approval, None, None, now, identity, need=need)
            return (decision, case.status, automatic, hearing), case

        return self._mutate(identity, "SubmitDraftDecision", c.request_id, fingerprint, encode, work)

    def _decision_for_authority(self, uow: UnitOfWork, identity: Identity, decision_id: str) -> tuple[Decision, Case]:
        decision = uow.decision(decision_id, for_update=True) if decision_id else None
        case = self._case_in_scope(uow, identity, decision.case_id, for_update=True) if decision else None
        if decision is None or case is None:
            raise NotFound("decision not found", reason="DECISION_NOT_FOUND", metadata={"decision_id": decision_id})
        if not identity.covers_authority(case.authority_key):
            raise PermissionDenied("only the case's authority approves or returns its drafts",
                                   reason="NOT_THE_AUTHORITY")
        return decision, case

    def _approve(self, uow: UnitOfWork, case: Case, decision: Decision, approval: Approval, amounts, points,
                 now: dt.datetime, identity: Identity, *, need: cp.HearingNeed | None = None) -> Decision:
        """`need`: the hearing check already made on this unamended draft, if any."""
        decision = decision.approve(approval, amounts, points)
        if approval.mode is not ApprovalMode.RECORDED:
            # The letter must give reasons and guidance, and the citizen must have been heard.
            need = need if need is not None and amounts is None else self._hearing_need(uow, case, decision, now)
            cp.require_reasons(decision, need.adverse)
            cp.require_hearing_held(need)
        uow.update_decision(decision)
        self._move(uow, case, CaseStatus.DECIDED, action="ApproveDecision", now=now, by=approval.by_client,
                   identity=identity, reason=f"decision approved ({approval.mode.value.lower()})")
        uow.record_event(self._event(case, "decision.approved", now, identity, decision_id=decision.decision_id,
                                     mode=approval.mode.value, amended=approval.amended,
                                     outcome=decision.outcome.value,
                                     amounts=documents.jsonable(decision.amounts)))
        for message in self._messages_for_decision(uow, case, decision):
            uow.add_outbox(message, now)
        self._grant_approved(uow, case, decision, now, identity)
        return decision

    def _messages_for_decision(self, uow: UnitOfWork, case: Case, decision: Decision) -> list[OutboxMessage]:
        """What an approved decision causes elsewhere: a posting to the municipality's
        economy system (every decision, also a refusal or one that stops a grant: the
        municipality knows each decision it is the sender of), the letter to the
        citizen with the authority as sender, and the archive package of the case."""
        benefit = uow.benefit(case.benefit_code)
        authority = self._authority(uow, case)
        letter = documents.decision_letter(case, decision, benefit, authority)
        decided = decision.approval.at.date() if decision.approval else decision.submitted_at.date()
        effective = decision.effective_from or min((a.period_start for a in decision.amounts), default=None)
        replaces = bool(effective and ps.amounts_in_force(uow.writer(), case.case_id, effective, decision.decision_id))
        out = [msg.DecisionPosting(
            municipality_code=case.municipality_code, benefit_code=case.benefit_code,
            ledger_account=benefit.ledger_account, case_id=case.case_id, cpr=case.cpr,
            decision_id=decision.decision_id, outcome=decision.outcome.value,
            amounts=tuple(msg.PostedAmount(a.amount_oere, a.period_start, a.period_end) for a in decision.amounts),
            effective_from=effective, decided_on=decided, replaces_grant=replaces, source=decision.source.value,
        ).outbox(f"decision/{decision.decision_id}/economy", case.case_id)]
        if decision.source is DecisionSource.AUTHORITY:
            # The appeals authority sends its own decisions; the hub records and pays them.
            out.append(msg.DigitalPostLetter(letter_kind="decision_letter", case_id=case.case_id,
                                             municipality_code=case.municipality_code, letter=letter,
                                             decision_id=decision.decision_id)
                       .outbox(f"decision/{decision.decision_id}/letter", case.case_id))
        view = self._view(uow, case)
        view = replace(view, decisions=tuple(d for d in view.decisions if d.decision_id != decision.decision_id)
                       + (decision,))
        out.append(msg.ArchiveCase(
            case_id=case.case_id, decision_id=decision.decision_id, municipality_code=case.municipality_code,
            benefit_code=case.benefit_code, kle_number=benefit.kle_number, retention_years=benefit.retention_years,
            decided_on=decided, archive_action_date=documents.archive_action_date(decided, benefit.retention_years),
            case_file=documents.case_file(view), letter=letter,
        ).outbox(f"decision/{decision.decision_id}/archive", case.case_id))
        return out

    def approve_decision(self, identity: Identity, c: cmd.ApproveDecision, fingerprint: str,
                         encode: Encode[Decision]) -> bytes:
        self._authorize(identity, "ApproveDecision")
        amounts, points = c.validated()

        def work(uow: UnitOfWork, now: dt.datetime):
            decision, case = self._decision_for_authority(uow, identity, c.decision_id)
            decision.require_pending("approved")
            if amounts is not None and decision.outcome is Outcome.REFUSED and any(a.amount_oere for a in amounts):
                raise FailedPrecondition("a refusal cannot be amended to grant an amount",
                                         reason="AMENDMENT_CONTRADICTS_OUTCOME")
            if amounts is not None:
                self._check_grant(uow, case, decision.outcome, amounts, decision.effective_from,
                                  name="amendment.amounts")
            amended = amounts is not None or points is not None
            approval = Approval(ApprovalMode.MANUAL, identity.client_id, case.authority_key, now, c.note, amended,
                                decision.amounts if amended else (), decision.discretionary_points if amended else ())
            decision = self._approve(uow, case, decision, approval, amounts, points, now, identity)
            return decision, case

        return self._mutate(identity, "ApproveDecision", c.request_id, fingerprint, encode, work)

    def return_draft(self, identity: Identity, c: cmd.ReturnDraft, fingerprint: str,
                     encode: Encode[Decision]) -> bytes:
        self._authorize(identity, "ReturnDraft")
        c.validate()

        def work(uow: UnitOfWork, now: dt.datetime):
            decision, case = self._decision_for_authority(uow, identity, c.decision_id)
            decision = decision.return_to_back_office(Return(identity.client_id, now, c.reason))
            uow.update_decision(decision)
            self._move(uow, case, CaseStatus.INFORMING, action="ReturnDraft", now=now, by=identity.client_id,
                       identity=identity, reason=c.reason)
            uow.record_event(self._event(case, "decision.returned", now, identity, decision_id=decision.decision_id,
                                         reason=c.reason))
            return decision, case

        return self._mutate(identity, "ReturnDraft", c.request_id, fingerprint, encode, work)

    def list_pending_approvals(self, identity: Identity, municipality_code: str, benefit_code: str,
                               page_size: int, page_token: str) -> tuple[list[tuple[Decision, Case]], str]:
        self._authorize(identity, "ListPendingApprovals")
        v = Violations()
        cmd.check_municipality(v, "municipality_code", municipality_code, required=False)
        cmd.check_benefit_code(v, "benefit_code", benefit_code, required=False)
        size = cmd.page_size(v, page_size)
        v.raise_if_any()
        qhash = paging.query_hash(identity.client_id, municipality_code, benefit_code)
        after = paging.decode(page_token, qhash)
        keys = [f"municipality:{m}" for m in sorted(identity.municipalities)]
        keys += [f"central:{c}" for c in sorted(identity.central_authorities)]
        with self._uow() as uow:
            rows = uow.pending_approvals(authority_keys=keys, municipality_code=municipality_code,
                                         benefit_code=benefit_code, after_id=after, limit=size + 1,
                                         **self._limits(identity))
        page = rows[:size]
        token = paging.encode(page[-1][0], qhash) if len(rows) > size else ""
        return [(d, c) for _, d, c in page], token
