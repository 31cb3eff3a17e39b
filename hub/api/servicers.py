"""Thin servicers: authenticate, convert, call the service on a database lane (group
commit), map errors. One decorator does the common part for every RPC."""
from __future__ import annotations

import asyncio
import functools
import hashlib
import time

import grpc
import structlog

from hub.api import convert
from hub.api.auth import ClientRegistry
from hub.api.errors import to_status
from hub.domain.audit import PURPOSE_LENGTH
from hub.domain.errors import FieldViolation, HubError, InvalidArgument, NotRun
from hub.service.batching import GroupCommit
from hub.service.hub import HubService
from hub.domain import payments as pay
from hub.v1 import (audit_pb2, audit_pb2_grpc, benefits_pb2, benefits_pb2_grpc, cases_pb2, cases_pb2_grpc,
                    complaints_pb2, complaints_pb2_grpc, decisions_pb2, decisions_pb2_grpc, operations_pb2,
                    operations_pb2_grpc, payments_pb2, payments_pb2_grpc)

log = structlog.get_logger("hub.api")
PURPOSE_HEADER = "x-purpose"
INTERNAL_ERROR = "internal error; the hub has logged it"


def purpose_of(metadata) -> str | None:
    """The purpose a caller gives for reading (metadata `x-purpose`); one longer than
    the audit log keeps is refused (InvalidArgument), not cut short (a longer one failed
    the call on PostgreSQL, unaudited)."""
    purpose = next((v for k, v in metadata if k == PURPOSE_HEADER and isinstance(v, str)), None)
    if purpose is not None and len(purpose) > PURPOSE_LENGTH:
        raise InvalidArgument([FieldViolation(PURPOSE_HEADER, f"must be at most {PURPOSE_LENGTH} characters")])
    return purpose


# The fields by which a request names something that belongs to a case. A refused call
# that names one is audited with that case and its citizen (HubService.audit_failure),
# wherever in the request it is (ReportSettlement names orders in its settlements).
# tests/test_audit.py checks every request message's *_id fields against this.
CASE_OBJECTS = frozenset({"case_id", "decision_id", "complaint_id", "hearing_id", "claim_id", "end_to_end_id",
                          "message_id"})


def audited_failure(request) -> tuple[tuple[str, str], ...]:
    """What a refused call named of cases, as (field, id) pairs, in the request's order:
    such a refusal is audited too (who tried what on which case). Empty: nothing."""
    found: dict[tuple[str, str], None] = {}
    _named(request, found)
    return tuple(found)


def _named(message, found: dict) -> None:
    for field, value in message.ListFields():
        values = value if field.is_repeated else (value,)
        if field.type == field.TYPE_MESSAGE:
            # The hub's own messages only (not a google.protobuf.Value a caller filled).
            if field.message_type.file.package == "hub.v1" and not field.message_type.GetOptions().map_entry:
                for m in values:
                    _named(m, found)
        elif field.name in CASE_OBJECTS and field.type == field.TYPE_STRING:
            found.update(((field.name, v), None) for v in values if v)


def fingerprint(request) -> str:
    """What makes two requests 'the same' for idempotency: every field but request_id."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


def rpc(action: str):
    """Wrap a synchronous handler `fn(self, request, identity, purpose) -> response`.
    The response is a message, or its encoded bytes: a mutating call's answer is the
    stored response (for a retry to get the same bytes), sent on as it is rather than
    parsed here and encoded again (see services.method_handler). The caller's deadline
    goes with the call to the lane: a call that cannot start before it is not run."""
    def deco(fn):
        @functools.wraps(fn)
        async def handler(self, request, context: grpc.aio.ServicerContext):
            metadata = context.invocation_metadata() or ()
            request_id = getattr(request, "request_id", "") or None
            identity = purpose = None
            # Bound for every log line of this call (plain bind and reset: the
            # context-manager form costs four times as much, on every call).
            bound = dict(structlog.contextvars.bind_contextvars(rpc=action, request_id=request_id))
            try:
                identity = self.registry.identify(metadata, context.auth_context())
                bound.update(structlog.contextvars.bind_contextvars(client_id=identity.client_id))
                purpose = purpose_of(metadata)
                left = context.time_remaining()  # seconds, None without a deadline
                response = await self.runner.run(fn, self, request, identity, purpose,
                                                 key=(identity.client_id, request_id) if request_id else None,
                                                 deadline=None if left is None else time.monotonic() + left)
                log.info("rpc", code="OK")
                return response
            except HubError as err:
                status = to_status(err)
                log.info("rpc", code=status.code.name, reason=err.reason, error=err.message)
                # (identity None: UNAUTHENTICATED, audited as an attempt without identity; a call
                # not run for its deadline or the hub's load looked at nothing)
                if not isinstance(err, NotRun):
                    await self._audit_failure(identity, action, request, status.code.name, purpose, request_id)
            except Exception:
                log.exception("rpc", code="INTERNAL")
                status = grpc.StatusCode.INTERNAL
            finally:
                structlog.contextvars.reset_contextvars(**bound)
            if isinstance(status, grpc.StatusCode):
                await context.abort(status, INTERNAL_ERROR)
            await context.abort_with_status(status)
        handler.action = action  # the undecorated `fn` is handler.__wrapped__ (a writer process runs it)
        return handler
    return deco


class _Base:
    def __init__(self, service: HubService, registry: ClientRegistry, runner: GroupCommit | None):
        self.service = service
        self.registry = registry
        self.runner = runner

    async def _audit_failure(self, identity, action: str, request, code: str, purpose, request_id) -> None:
        """Audit a refused call that named something of a case; `identity` None: the
        caller was not authenticated. Committed before the refusal is answered."""
        named = audited_failure(request)
        if not named:
            return
        args = (identity, action, named, code, purpose, request_id)
        try:
            if self.runner is not None:
                await self.runner.run(self.service.audit_failure, *args)
            else:  # the front of a writer process (its own refusals: UNAUTHENTICATED)
                await asyncio.to_thread(self.service.audit_failure, *args)
        except Exception:
            log.exception("could not audit a failed call")


class BenefitCatalogueServicer(_Base, benefits_pb2_grpc.BenefitCatalogueServiceServicer):
    @rpc("ListBenefits")
    def ListBenefits(self, request, identity, purpose):
        return benefits_pb2.ListBenefitsResponse(
            benefits=[convert.benefit_out(b) for b in self.service.list_benefits(identity)])

    @rpc("GetBenefit")
    def GetBenefit(self, request, identity, purpose):
        return convert.benefit_out(self.service.get_benefit(identity, request.code))


def _serialize_case_view(view) -> bytes:
    return convert.case_view_out(view).SerializeToString()


class CaseServicer(_Base, cases_pb2_grpc.CaseServiceServicer):
    @rpc("CreateCase")
    def CreateCase(self, request, identity, purpose):
        raw = self.service.create_case(identity, convert.create_case_in(request), fingerprint(request),
                                       _serialize_case_view)
        return raw  # cases_pb2.Case, encoded

    @rpc("GetCase")
    def GetCase(self, request, identity, purpose):
        return convert.case_view_out(self.service.get_case(identity, request.case_id, purpose))

    @rpc("ListCases")
    def ListCases(self, request, identity, purpose):
        cases, token = self.service.list_cases(identity, convert.case_filter_in(request), request.page_size,
                                               request.page_token, purpose)
        return cases_pb2.ListCasesResponse(cases=[convert.case_out(c) for c in cases], next_page_token=token)

    @rpc("AddInformation")
    def AddInformation(self, request, identity, purpose):
        raw = self.service.add_information(
            identity, convert.add_information_in(request), fingerprint(request),
            lambda r: cases_pb2.AddInformationResponse(item=convert.information_out(r[0]),
                                                       case_status=convert.status_out(r[1])).SerializeToString())
        return raw  # cases_pb2.AddInformationResponse, encoded

    @rpc("WithdrawCase")
    def WithdrawCase(self, request, identity, purpose):
        raw = self.service.withdraw_case(identity, convert.withdraw_in(request), fingerprint(request),
                                         _serialize_case_view)
        return raw  # cases_pb2.Case, encoded


    @rpc("RequestRegisterData")
    def RequestRegisterData(self, request, identity, purpose):
        raw = self.service.request_register_data(
            identity, convert.register_request_in(request), fingerprint(request),
            lambda r: cases_pb2.RequestRegisterDataResponse(requested_months=r[0],
                                                            reused_months=r[1]).SerializeToString())
        return raw  # cases_pb2.RequestRegisterDataResponse, encoded


    @rpc("ListCitizenCases")
    def ListCitizenCases(self, request, identity, purpose):
        cases, token = self.service.list_citizen_cases(identity, request.cpr, request.page_size, request.page_token)
        return cases_pb2.ListCitizenCasesResponse(cases=[cases_pb2.CitizenCaseStatus(
            case_id=c.case_id, municipality_code=c.municipality_code, benefit_code=c.benefit_code,
            status=convert.status_out(c.status), received_time=convert.ts_out(c.received_at),
            processing_deadline=convert.ts_out(c.processing_deadline), updated_time=convert.ts_out(c.updated_at))
            for c in cases], next_page_token=token)

    @rpc("ListOverdue")
    def ListOverdue(self, request, identity, purpose):
        items, token = self.service.list_overdue(identity, request.municipality_code,
                                                 convert.overdue_kind_in(request.kind), request.page_size,
                                                 request.page_token)
        return cases_pb2.ListOverdueResponse(items=[convert.overdue_out(i) for i in items], next_page_token=token)


def _serialize_decision(d) -> bytes:
    return convert.decision_out(d).SerializeToString()


def _serialize_hearing(h) -> bytes:
    return convert.hearing_out(h).SerializeToString()


class DecisionServicer(_Base, decisions_pb2_grpc.DecisionServiceServicer):
    @rpc("SubmitDraftDecision")
    def SubmitDraftDecision(self, request, identity, purpose):
        raw = self.service.submit_draft(
            identity, convert.submit_draft_in(request), fingerprint(request),
            lambda r: decisions_pb2.SubmitDraftDecisionResponse(
                decision=convert.decision_out(r[0]), case_status=convert.status_out(r[1]),
                approved_automatically=r[2], hearing_required=r[3]).SerializeToString())
        return raw  # decisions_pb2.SubmitDraftDecisionResponse, encoded

    @rpc("StartHearing")
    def StartHearing(self, request, identity, purpose):
        raw = self.service.start_hearing(identity, convert.start_hearing_in(request), fingerprint(request),
                                         _serialize_hearing)
        return raw  # decisions_pb2.Hearing, encoded

    @rpc("RecordHearingResponse")
    def RecordHearingResponse(self, request, identity, purpose):
        raw = self.service.record_hearing_response(identity, convert.hearing_response_in(request),
                                                   fingerprint(request), _serialize_hearing)
        return raw  # decisions_pb2.Hearing, encoded

    @rpc("ApproveDecision")
    def ApproveDecision(self, request, identity, purpose):
        raw = self.service.approve_decision(identity, convert.approve_in(request), fingerprint(request),
                                            _serialize_decision)
        return raw  # decisions_pb2.Decision, encoded

    @rpc("ReturnDraft")
    def ReturnDraft(self, request, identity, purpose):
        raw = self.service.return_draft(identity, convert.return_in(request), fingerprint(request),
                                        _serialize_decision)
        return raw  # decisions_pb2.Decision, encoded

    @rpc("ListPendingApprovals")
    def ListPendingApprovals(self, request, identity, purpose):
        rows, token = self.service.list_pending_approvals(identity, request.municipality_code, request.benefit_code,
                                                          request.page_size, request.page_token)
        return decisions_pb2.ListPendingApprovalsResponse(items=[
            decisions_pb2.PendingApproval(decision=convert.decision_out(d), case_id=c.case_id,
                                          municipality_code=c.municipality_code, benefit_code=c.benefit_code,
                                          processing_deadline=convert.ts_out(c.processing_deadline))
            for d, c in rows], next_page_token=token)


class OperationsServicer(_Base, operations_pb2_grpc.OperationsServiceServicer):
    @rpc("GetOutboxSummary")
    def GetOutboxSummary(self, request, identity, purpose):
        return operations_pb2.GetOutboxSummaryResponse(destinations=[
            convert.destination_summary_out(e) for e in self.service.outbox_summary(identity)])

    @rpc("ListOutboxMessages")
    def ListOutboxMessages(self, request, identity, purpose):
        rows, token = self.service.list_outbox(identity, convert.outbox_status_in(request.status),
                                               request.destination, request.page_size, request.page_token)
        return operations_pb2.ListOutboxMessagesResponse(messages=[convert.outbox_message_out(r) for r in rows],
                                                         next_page_token=token)

    @rpc("ReplayDeadLetters")
    def ReplayDeadLetters(self, request, identity, purpose):
        raw = self.service.replay_dead_letters(
            identity, request.request_id, request.message_id, request.all, request.destination, fingerprint(request),
            lambda n: operations_pb2.ReplayDeadLettersResponse(replayed=n).SerializeToString())
        return raw  # operations_pb2.ReplayDeadLettersResponse, encoded

    def _set_paused(self, request, identity, paused: bool):
        raw = self.service.set_destination_paused(
            identity, request.request_id, request.destination, paused, fingerprint(request),
            lambda p: operations_pb2.DestinationState(destination=request.destination, paused=p).SerializeToString())
        return raw  # operations_pb2.DestinationState, encoded

    @rpc("PauseDestination")
    def PauseDestination(self, request, identity, purpose):
        return self._set_paused(request, identity, True)

    @rpc("ResumeDestination")
    def ResumeDestination(self, request, identity, purpose):
        return self._set_paused(request, identity, False)

    @rpc("RetryNow")
    def RetryNow(self, request, identity, purpose):
        raw = self.service.retry_now(
            identity, request.request_id, request.destination, fingerprint(request),
            lambda n: operations_pb2.RetryNowResponse(made_due=n).SerializeToString())
        return raw  # operations_pb2.RetryNowResponse, encoded


class AuditServicer(_Base, audit_pb2_grpc.AuditServiceServicer):
    @rpc("ListAuditEntries")
    def ListAuditEntries(self, request, identity, purpose):
        rows, token = self.service.list_audit_entries(
            identity, request.case_id, request.client_id, convert.ts_in(request, "from_time"),
            convert.ts_in(request, "to_time"), request.page_size, request.page_token)
        return audit_pb2.ListAuditEntriesResponse(entries=[convert.audit_entry_out(r) for r in rows],
                                                  next_page_token=token)

    @rpc("ListCitizenAccess")
    def ListCitizenAccess(self, request, identity, purpose):
        rows, token = self.service.list_citizen_access(identity, request.cpr, request.page_size, request.page_token)
        return audit_pb2.ListAuditEntriesResponse(entries=[convert.audit_entry_out(r) for r in rows],
                                                  next_page_token=token)


def _orders(orders) -> bytes:
    return payments_pb2.SchedulePaymentsResponse(orders=[convert.order_out(o) for o in orders]).SerializeToString()


def _claim(c) -> bytes:
    return convert.claim_out(c).SerializeToString()


class PaymentServicer(_Base, payments_pb2_grpc.PaymentServiceServicer):
    async def RunPayments(self, request, context: grpc.aio.ServicerContext):
        """Server-streaming: one progress message per chunk (its own transaction)."""
        identity = None
        with structlog.contextvars.bound_contextvars(rpc="RunPayments", request_id=request.request_id or None):
            try:
                identity = self.registry.identify(context.invocation_metadata(), context.auth_context())
                steps = self.service.run_payments(identity, request.request_id, request.period)
                while True:
                    step = await asyncio.to_thread(next, steps, None)
                    if step is None:
                        break
                    yield payments_pb2.RunPaymentsProgress(**step)
                log.info("rpc", code="OK", client_id=identity.client_id)
                return
            except HubError as err:
                status = to_status(err)
                log.info("rpc", code=status.code.name, reason=err.reason, error=err.message)
            except Exception:
                log.exception("rpc", code="INTERNAL")
                status = None
        if status is None:
            await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_ERROR)
        await context.abort_with_status(status)

    @rpc("SchedulePayments")
    def SchedulePayments(self, request, identity, purpose):
        raw = self.service.schedule_payments(identity, request.request_id, request.decision_id, request.period,
                                             fingerprint(request), _orders)
        return raw  # payments_pb2.SchedulePaymentsResponse, encoded

    @rpc("ListPayments")
    def ListPayments(self, request, identity, purpose):
        orders, token = self.service.list_payments(identity, convert.payment_filter_in(request), request.page_size,
                                                   request.page_token)
        return payments_pb2.ListPaymentsResponse(orders=[convert.order_out(o) for o in orders], next_page_token=token)

    @rpc("FetchPaymentBatch")
    def FetchPaymentBatch(self, request, identity, purpose):
        return convert.batch_out(self.service.fetch_payment_batch(identity, request.max_orders))

    @rpc("AcknowledgePaymentBatch")
    def AcknowledgePaymentBatch(self, request, identity, purpose):
        return convert.batch_out(self.service.acknowledge_payment_batch(identity, request.batch_id))

    @rpc("ReportSettlement")
    def ReportSettlement(self, request, identity, purpose):
        raw = self.service.report_settlement(
            identity, request.request_id, convert.settlements_in(request), fingerprint(request),
            lambda orders: payments_pb2.ReportSettlementResponse(
                orders=[convert.order_out(o) for o in orders]).SerializeToString())
        return raw  # payments_pb2.ReportSettlementResponse, encoded

    @rpc("ReportCollection")
    def ReportCollection(self, request, identity, purpose):
        raw = self.service.report_collection(identity, request.request_id, request.claim_id, request.amount_oere,
                                             request.reference, fingerprint(request), _claim)
        return raw  # payments_pb2.Claim, encoded

    @rpc("PushPaymentBatch")
    def PushPaymentBatch(self, request, identity, purpose):
        raw = self.service.push_payment_batch(identity, request.request_id, request.provider_id, fingerprint(request),
                                              lambda b: convert.batch_out(b).SerializeToString())
        return raw  # payments_pb2.PaymentBatch, encoded

    @rpc("ReissuePayment")
    def ReissuePayment(self, request, identity, purpose):
        raw = self.service.reissue_payment(identity, request.request_id, request.end_to_end_id, fingerprint(request),
                                           lambda o: convert.order_out(o).SerializeToString())
        return raw  # payments_pb2.PaymentOrder, encoded

    @rpc("CreateClaim")
    def CreateClaim(self, request, identity, purpose):
        origin = convert.enum_in(payments_pb2.ClaimOrigin, "CLAIM_ORIGIN", request.origin, pay.ClaimOrigin, "origin")
        raw = self.service.create_claim(identity, request.request_id, request.case_id, origin, request.amount_oere,
                                        request.reason, request.offset_allowed, fingerprint(request), _claim)
        return raw  # payments_pb2.Claim, encoded

    @rpc("SetClaimOffset")
    def SetClaimOffset(self, request, identity, purpose):
        raw = self.service.set_claim_offset(identity, request.request_id, request.claim_id, request.offset_allowed,
                                            fingerprint(request), _claim)
        return raw  # payments_pb2.Claim, encoded

    @rpc("WriteOffClaim")
    def WriteOffClaim(self, request, identity, purpose):
        raw = self.service.write_off_claim(identity, request.request_id, request.claim_id, request.reason,
                                           fingerprint(request), _claim)
        return raw  # payments_pb2.Claim, encoded


def _serialize_complaint(result) -> bytes:
    return convert.complaint_out(*result).SerializeToString()


class ComplaintServicer(_Base, complaints_pb2_grpc.ComplaintServiceServicer):
    def _step(self, method, request, identity, command):
        raw = method(identity, command, fingerprint(request), _serialize_complaint)
        return raw  # complaints_pb2.Complaint, encoded

    @rpc("FileComplaint")
    def FileComplaint(self, request, identity, purpose):
        return self._step(self.service.file_complaint, request, identity, convert.file_complaint_in(request))

    @rpc("DecideLateComplaint")
    def DecideLateComplaint(self, request, identity, purpose):
        return self._step(self.service.decide_late_complaint, request, identity, convert.decide_late_in(request))

    @rpc("SubmitStatement")
    def SubmitStatement(self, request, identity, purpose):
        return self._step(self.service.submit_statement, request, identity, convert.statement_in(request))

    @rpc("Reconsider")
    def Reconsider(self, request, identity, purpose):
        return self._step(self.service.reconsider, request, identity, convert.reconsider_in(request))

    @rpc("RecordAppealOutcome")
    def RecordAppealOutcome(self, request, identity, purpose):
        return self._step(self.service.record_appeal_outcome, request, identity, convert.appeal_outcome_in(request))

    @rpc("GetComplaint")
    def GetComplaint(self, request, identity, purpose):
        return convert.complaint_out(*self.service.get_complaint(identity, request.complaint_id))

    @rpc("ListComplaints")
    def ListComplaints(self, request, identity, purpose):
        rows, token = self.service.list_complaints(identity, convert.complaint_filter_in(request), request.page_size,
                                                   request.page_token)
        return complaints_pb2.ListComplaintsResponse(complaints=[convert.complaint_out(c, r) for c, r in rows],
                                                     next_page_token=token)
