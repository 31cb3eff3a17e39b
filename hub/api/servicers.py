"""Thin servicers: authenticate, convert, call the use case on a database lane (group
commit), map errors. One decorator does the common part for every RPC.

A handler is `fn(servicer, tx, request, identity, purpose)`: it maps the request to a
command, hands the use case (hub.service) to `tx` (hub.runtime.transactions.Tx: the
call's transaction on its lane, idempotent for a change) and maps the answer back. A
change's answer is encoded inside its transaction, to be stored for a retry; it goes
out as those bytes (see hub.runtime.router.response_encoder)."""
from __future__ import annotations

import asyncio
import functools
import hashlib
import time

import grpc
import structlog

from hub.api import convert
from hub.api.auth import ClientRegistry
from hub.api.citizen_view import access_entry_out, case_status_out
from hub.domain import commands as cmd
from hub.domain.audit import PURPOSE_LENGTH
from hub.domain.errors import FieldViolation, HubError, InvalidArgument, NotRun
from hub.domain.identity import Identity
from hub.runtime.group_commit import GroupCommit
from hub.runtime.metrics import RunTracker
from hub.runtime.status import INTERNAL_ERROR, to_status
from hub.runtime.transactions import Tx
from hub.service import audit, cases, catalogue, claims, complaints, decisions, hearings, operations, payments
from hub.service.access import authorize
from hub.service.clock import Clock
from hub.ports import FinalIncomeLookup, RegisterLookups
from hub.service.control import ControlSettings
from hub.service.payments import PaymentSettings
from hub.service.settlement import SettlementSettings
from hub.store.uow import Store
from hub.v1 import (audit_pb2, audit_pb2_grpc, benefits_pb2, benefits_pb2_grpc, cases_pb2, cases_pb2_grpc,
                    complaints_pb2, complaints_pb2_grpc, decisions_pb2, decisions_pb2_grpc, operations_pb2,
                    operations_pb2_grpc, payments_pb2, payments_pb2_grpc)

log = structlog.get_logger("hub.api")
PURPOSE_HEADER = "x-purpose"


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
                          "message_id", "finding_id"})


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
    """Wrap a synchronous handler `fn(self, tx, request, identity, purpose) -> response`,
    run on a database lane. The response is a message, or its encoded bytes: a mutating
    call's answer is the stored response (for a retry to get the same bytes), sent on as
    it is rather than parsed here and encoded again. The caller's deadline goes with the
    call to the lane: a call that cannot start before it is not run."""
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
                # The citizen portal: the logged-in citizen its signed assertion names.
                citizen = self.registry.citizen_of(identity, metadata, self.context.clock.now)
                if citizen is not None:
                    identity = identity.acting_for(citizen)
                purpose = purpose_of(metadata)
                left = context.time_remaining()  # seconds, None without a deadline
                response = await self.runner.run(invoke, fn, self, request, identity, purpose,
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


def invoke(tx: Tx, fn, servicer, *args):
    """A handler as a lane's job runs it (hub.runtime.group_commit.Job: fn(tx, *args))."""
    return fn(servicer, tx, *args)


class Context:
    """What the servicers serve from: the database and the clock (for the streams and
    the payment runs, which run beyond one call's transaction), the payment settings,
    the payment providers (client id -> identity) for batches pushed as files, the final
    assessment register's batch look-up for the settlement runs, and the registers'
    batch look-ups and settings of the IT control's runs."""

    def __init__(self, store: Store, clock: Clock, payments: PaymentSettings = PaymentSettings(),
                 providers: dict[str, Identity] | None = None, final_income: FinalIncomeLookup | None = None,
                 settlement: SettlementSettings = SettlementSettings(), *,
                 register_lookups: RegisterLookups | None = None, control: ControlSettings = ControlSettings()):
        self.store, self.clock, self.payments, self.providers = store, clock, payments, providers or {}
        self.final_income, self.settlement = final_income, settlement
        self.register_lookups, self.control = register_lookups, control
        # metrics: the runs' progress for /metrics (hub.runtime.metrics.RunTracker), set by hub.bootstrap
        self.runs: RunTracker | None = None


async def run_stream(servicer: "_Base", action: str, request, context: grpc.aio.ServicerContext, progress: type,
                     steps_for):
    """A long run as a server stream: `steps_for(identity)` yields progress dicts, each
    after a transaction of its own, run in a thread and sent as `progress` messages."""
    identity = None
    tracked = None  # metrics: this run's progress (hub.runtime.metrics.Run)
    outcome = "CANCELLED"
    with structlog.contextvars.bound_contextvars(rpc=action, request_id=request.request_id or None):
        try:
            identity = servicer.registry.identify(context.invocation_metadata(), context.auth_context())
            authorize(identity, action)
            steps = steps_for(identity)
            runs = servicer.context.runs
            tracked = runs.start(action) if runs is not None else None
            while True:
                step = await asyncio.to_thread(next, steps, None)
                if step is None:
                    break
                if tracked is not None:
                    tracked.step(step)
                yield progress(**step)
            log.info("rpc", code="OK", client_id=identity.client_id)
            outcome = "done"
            return
        except HubError as err:
            status = to_status(err)
            outcome = status.code.name
            log.info("rpc", code=status.code.name, reason=err.reason, error=err.message)
        except Exception:
            log.exception("rpc", code="INTERNAL")
            status = None
            outcome = "INTERNAL"
        finally:
            if tracked is not None:
                tracked.end(outcome)
    if status is None:
        await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_ERROR)
    await context.abort_with_status(status)


class _Base:
    def __init__(self, context: Context, registry: ClientRegistry, runner: GroupCommit | None):
        self.context = context
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
                await self.runner.run(record_refusal, *args)
            else:  # the front of a writer process (its own refusals: UNAUTHENTICATED)
                await asyncio.to_thread(record_refusal, Tx(self.context.store, self.context.clock), *args)
        except Exception:
            log.exception("could not audit a failed call")


def record_refusal(tx: Tx, identity, action: str, named, code: str, purpose, request_id) -> None:
    tx.read(identity, None, audit.record_refusal, action, named, code, purpose, request_id)


def _encoder(out):
    """A use case's answer encoded as the response `out(answer)` makes."""
    return lambda answer: out(answer).SerializeToString()


class BenefitCatalogueServicer(_Base, benefits_pb2_grpc.BenefitCatalogueServiceServicer):
    @rpc("ListBenefits")
    def ListBenefits(self, tx, request, identity, purpose):
        return benefits_pb2.ListBenefitsResponse(
            benefits=[convert.benefit_out(b) for b in tx.read(identity, "ListBenefits", catalogue.list_benefits)])

    @rpc("GetBenefit")
    def GetBenefit(self, tx, request, identity, purpose):
        return convert.benefit_out(tx.read(identity, "GetBenefit", catalogue.get_benefit, request.code))


_case_view = _encoder(convert.case_view_out)


class CaseServicer(_Base, cases_pb2_grpc.CaseServiceServicer):
    @rpc("CreateCase")
    def CreateCase(self, tx, request, identity, purpose):
        return tx.mutate(identity, "CreateCase", request.request_id, fingerprint(request), _case_view,
                         cases.create_case, convert.create_case_in(request))

    @rpc("GetCase")
    def GetCase(self, tx, request, identity, purpose):
        return convert.case_view_out(tx.read(identity, "GetCase", cases.get_case, request.case_id, purpose))

    @rpc("ListCases")
    def ListCases(self, tx, request, identity, purpose):
        found, token = tx.read(identity, "ListCases", cases.list_cases, convert.case_filter_in(request),
                               request.page_size, request.page_token, purpose)
        return cases_pb2.ListCasesResponse(cases=[convert.case_out(c) for c in found], next_page_token=token)

    @rpc("AddInformation")
    def AddInformation(self, tx, request, identity, purpose):
        return tx.mutate(identity, "AddInformation", request.request_id, fingerprint(request),
                         lambda r: cases_pb2.AddInformationResponse(
                             item=convert.information_out(r[0]), case_status=convert.status_out(r[1])
                         ).SerializeToString(),
                         cases.add_information, convert.add_information_in(request))

    @rpc("WithdrawCase")
    def WithdrawCase(self, tx, request, identity, purpose):
        return tx.mutate(identity, "WithdrawCase", request.request_id, fingerprint(request), _case_view,
                         cases.withdraw_case, convert.withdraw_in(request))

    @rpc("RequestRegisterData")
    def RequestRegisterData(self, tx, request, identity, purpose):
        return tx.mutate(identity, "RequestRegisterData", request.request_id, fingerprint(request),
                         lambda r: cases_pb2.RequestRegisterDataResponse(requested_months=r[0],
                                                                         reused_months=r[1]).SerializeToString(),
                         cases.request_register_data, convert.register_request_in(request))

    @rpc("ListCitizenCases")
    def ListCitizenCases(self, tx, request, identity, purpose):
        found, token = tx.read(identity, "ListCitizenCases", cases.list_citizen_cases, request.cpr, request.page_size,
                               request.page_token)
        return cases_pb2.ListCitizenCasesResponse(cases=[case_status_out(c, steps) for c, steps in found],
                                                  next_page_token=token)

    @rpc("ListOverdue")
    def ListOverdue(self, tx, request, identity, purpose):
        items, token = tx.read(identity, "ListOverdue", complaints.list_overdue, request.municipality_code,
                               convert.overdue_kind_in(request.kind), request.page_size, request.page_token)
        return cases_pb2.ListOverdueResponse(items=[convert.overdue_out(i) for i in items], next_page_token=token)


_decision = _encoder(convert.decision_out)
_hearing = _encoder(convert.hearing_out)


class DecisionServicer(_Base, decisions_pb2_grpc.DecisionServiceServicer):
    @rpc("SubmitDraftDecision")
    def SubmitDraftDecision(self, tx, request, identity, purpose):
        return tx.mutate(identity, "SubmitDraftDecision", request.request_id, fingerprint(request),
                         lambda r: decisions_pb2.SubmitDraftDecisionResponse(
                             decision=convert.decision_out(r[0]), case_status=convert.status_out(r[1]),
                             approved_automatically=r[2], hearing_required=r[3]).SerializeToString(),
                         decisions.submit_draft, convert.submit_draft_in(request))

    @rpc("StartHearing")
    def StartHearing(self, tx, request, identity, purpose):
        return tx.mutate(identity, "StartHearing", request.request_id, fingerprint(request), _hearing,
                         hearings.start_hearing, convert.start_hearing_in(request))

    @rpc("RecordHearingResponse")
    def RecordHearingResponse(self, tx, request, identity, purpose):
        return tx.mutate(identity, "RecordHearingResponse", request.request_id, fingerprint(request), _hearing,
                         hearings.record_hearing_response, convert.hearing_response_in(request))

    @rpc("ApproveDecision")
    def ApproveDecision(self, tx, request, identity, purpose):
        return tx.mutate(identity, "ApproveDecision", request.request_id, fingerprint(request), _decision,
                         decisions.approve_decision, convert.approve_in(request))

    @rpc("ReturnDraft")
    def ReturnDraft(self, tx, request, identity, purpose):
        return tx.mutate(identity, "ReturnDraft", request.request_id, fingerprint(request), _decision,
                         decisions.return_draft, convert.return_in(request))

    @rpc("ListPendingApprovals")
    def ListPendingApprovals(self, tx, request, identity, purpose):
        rows, token = tx.read(identity, "ListPendingApprovals", decisions.list_pending_approvals,
                              request.municipality_code, request.benefit_code, request.page_size, request.page_token)
        return decisions_pb2.ListPendingApprovalsResponse(items=[
            decisions_pb2.PendingApproval(decision=convert.decision_out(d), case_id=c.case_id,
                                          municipality_code=c.municipality_code, benefit_code=c.benefit_code,
                                          processing_deadline=convert.ts_out(c.processing_deadline))
            for d, c in rows], next_page_token=token)


class OperationsServicer(_Base, operations_pb2_grpc.OperationsServiceServicer):
    @rpc("GetOutboxSummary")
    def GetOutboxSummary(self, tx, request, identity, purpose):
        return operations_pb2.GetOutboxSummaryResponse(destinations=[
            convert.destination_summary_out(e) for e in tx.read(identity, "GetOutboxSummary",
                                                                operations.outbox_summary)])

    @rpc("ListOutboxMessages")
    def ListOutboxMessages(self, tx, request, identity, purpose):
        rows, token = tx.read(identity, "ListOutboxMessages", operations.list_outbox,
                              convert.outbox_status_in(request.status), request.destination, request.page_size,
                              request.page_token)
        return operations_pb2.ListOutboxMessagesResponse(messages=[convert.outbox_message_out(r) for r in rows],
                                                         next_page_token=token)

    @rpc("ReplayDeadLetters")
    def ReplayDeadLetters(self, tx, request, identity, purpose):
        return tx.mutate(identity, "ReplayDeadLetters", request.request_id, fingerprint(request),
                         lambda n: operations_pb2.ReplayDeadLettersResponse(replayed=n).SerializeToString(),
                         operations.replay_dead_letters, request.request_id, request.message_id, request.all,
                         request.destination)

    def _set_paused(self, tx, request, identity, paused: bool):
        return tx.mutate(identity, "PauseDestination" if paused else "ResumeDestination", request.request_id,
                         fingerprint(request),
                         lambda p: operations_pb2.DestinationState(destination=request.destination,
                                                                   paused=p).SerializeToString(),
                         operations.set_destination_paused, request.request_id, request.destination, paused)

    @rpc("PauseDestination")
    def PauseDestination(self, tx, request, identity, purpose):
        return self._set_paused(tx, request, identity, True)

    @rpc("ResumeDestination")
    def ResumeDestination(self, tx, request, identity, purpose):
        return self._set_paused(tx, request, identity, False)

    @rpc("RetryNow")
    def RetryNow(self, tx, request, identity, purpose):
        return tx.mutate(identity, "RetryNow", request.request_id, fingerprint(request),
                         lambda n: operations_pb2.RetryNowResponse(made_due=n).SerializeToString(),
                         operations.retry_now, request.request_id, request.destination)


class AuditServicer(_Base, audit_pb2_grpc.AuditServiceServicer):
    @rpc("ListAuditEntries")
    def ListAuditEntries(self, tx, request, identity, purpose):
        rows, token = tx.read(identity, "ListAuditEntries", audit.list_audit_entries, request.case_id,
                              request.client_id, convert.ts_in(request, "from_time"), convert.ts_in(request, "to_time"),
                              request.page_size, request.page_token)
        return audit_pb2.ListAuditEntriesResponse(entries=[convert.audit_entry_out(r) for r in rows],
                                                  next_page_token=token)

    @rpc("ListCitizenAccess")
    def ListCitizenAccess(self, tx, request, identity, purpose):
        rows, token = tx.read(identity, "ListCitizenAccess", audit.list_citizen_access, request.cpr,
                              request.page_size, request.page_token, others_only=request.others_only)
        return audit_pb2.ListAuditEntriesResponse(entries=[access_entry_out(r) for r in rows],
                                                  next_page_token=token)


_claim = _encoder(convert.claim_out)


class PaymentServicer(_Base, payments_pb2_grpc.PaymentServiceServicer):
    async def RunPayments(self, request, context: grpc.aio.ServicerContext):
        """Server-streaming: one progress message per chunk (its own transaction)."""
        async for step in run_stream(self, "RunPayments", request, context, payments_pb2.RunPaymentsProgress,
                                     lambda identity: payments.run_payments(
                                         self.context.store.unit, identity,
                                         cmd.RunPayments(request.request_id, request.period), self.context.clock,
                                         self.context.payments)):
            yield step

    @rpc("SchedulePayments")
    def SchedulePayments(self, tx, request, identity, purpose):
        return tx.mutate(identity, "SchedulePayments", request.request_id, fingerprint(request),
                         lambda orders: payments_pb2.SchedulePaymentsResponse(
                             orders=[convert.order_out(o) for o in orders]).SerializeToString(),
                         payments.schedule_payments,
                         cmd.SchedulePayments(request.request_id, request.decision_id, request.period))

    @rpc("ListPayments")
    def ListPayments(self, tx, request, identity, purpose):
        orders, token = tx.read(identity, "ListPayments", payments.list_payments, convert.payment_filter_in(request),
                                request.page_size, request.page_token)
        return payments_pb2.ListPaymentsResponse(orders=[convert.order_out(o) for o in orders], next_page_token=token)

    @rpc("FetchPaymentBatch")
    def FetchPaymentBatch(self, tx, request, identity, purpose):
        return convert.batch_out(tx.read(identity, "FetchPaymentBatch", payments.fetch_payment_batch,
                                         request.max_orders, settings=self.context.payments))

    @rpc("AcknowledgePaymentBatch")
    def AcknowledgePaymentBatch(self, tx, request, identity, purpose):
        return convert.batch_out(tx.read(identity, "AcknowledgePaymentBatch", payments.acknowledge_payment_batch,
                                         request.batch_id))

    @rpc("ReportSettlement")
    def ReportSettlement(self, tx, request, identity, purpose):
        return tx.mutate(identity, "ReportSettlement", request.request_id, fingerprint(request),
                         lambda orders: payments_pb2.ReportSettlementResponse(
                             orders=[convert.order_out(o) for o in orders]).SerializeToString(),
                         payments.report_settlement, convert.settlements_in(request))

    @rpc("ReportCollection")
    def ReportCollection(self, tx, request, identity, purpose):
        return tx.mutate(identity, "ReportCollection", request.request_id, fingerprint(request), _claim,
                         claims.report_collection, cmd.ClaimChange(request.request_id, request.claim_id,
                                                                   amount_oere=request.amount_oere,
                                                                   reference=request.reference))

    @rpc("PushPaymentBatch")
    def PushPaymentBatch(self, tx, request, identity, purpose):
        return tx.mutate(identity, "PushPaymentBatch", request.request_id, fingerprint(request),
                         _encoder(convert.batch_out), payments.push_payment_batch,
                         cmd.PushPaymentBatch(request.request_id, request.provider_id), self.context.providers)

    @rpc("ReissuePayment")
    def ReissuePayment(self, tx, request, identity, purpose):
        return tx.mutate(identity, "ReissuePayment", request.request_id, fingerprint(request),
                         _encoder(convert.order_out), payments.reissue_payment,
                         cmd.ReissuePayment(request.request_id, request.end_to_end_id))

    @rpc("SetClaimOffset")
    def SetClaimOffset(self, tx, request, identity, purpose):
        return tx.mutate(identity, "SetClaimOffset", request.request_id, fingerprint(request), _claim,
                         claims.set_claim_offset,
                         cmd.ClaimChange(request.request_id, request.claim_id, offset_allowed=request.offset_allowed))

    @rpc("WriteOffClaim")
    def WriteOffClaim(self, tx, request, identity, purpose):
        return tx.mutate(identity, "WriteOffClaim", request.request_id, fingerprint(request), _claim,
                         claims.write_off_claim,
                         cmd.ClaimChange(request.request_id, request.claim_id, reason=request.reason))


_complaint = _encoder(lambda result: convert.complaint_out(*result))


class ComplaintServicer(_Base, complaints_pb2_grpc.ComplaintServiceServicer):
    @rpc("FileComplaint")
    def FileComplaint(self, tx, request, identity, purpose):
        return tx.mutate(identity, "FileComplaint", request.request_id, fingerprint(request), _complaint,
                         complaints.file_complaint, convert.file_complaint_in(request))

    @rpc("DecideLateComplaint")
    def DecideLateComplaint(self, tx, request, identity, purpose):
        return tx.mutate(identity, "DecideLateComplaint", request.request_id, fingerprint(request), _complaint,
                         complaints.decide_late_complaint, convert.decide_late_in(request))

    @rpc("SubmitStatement")
    def SubmitStatement(self, tx, request, identity, purpose):
        return tx.mutate(identity, "SubmitStatement", request.request_id, fingerprint(request), _complaint,
                         complaints.submit_statement, convert.statement_in(request))

    @rpc("Reconsider")
    def Reconsider(self, tx, request, identity, purpose):
        return tx.mutate(identity, "Reconsider", request.request_id, fingerprint(request), _complaint,
                         complaints.reconsider, convert.reconsider_in(request))

    @rpc("RecordAppealOutcome")
    def RecordAppealOutcome(self, tx, request, identity, purpose):
        return tx.mutate(identity, "RecordAppealOutcome", request.request_id, fingerprint(request), _complaint,
                         complaints.record_appeal_outcome, convert.appeal_outcome_in(request))

    @rpc("GetComplaint")
    def GetComplaint(self, tx, request, identity, purpose):
        return convert.complaint_out(*tx.read(identity, "GetComplaint", complaints.get_complaint, request.complaint_id))

    @rpc("ListComplaints")
    def ListComplaints(self, tx, request, identity, purpose):
        rows, token = tx.read(identity, "ListComplaints", complaints.list_complaints,
                              convert.complaint_filter_in(request), request.page_size, request.page_token)
        return complaints_pb2.ListComplaintsResponse(complaints=[convert.complaint_out(c, r) for c, r in rows],
                                                     next_page_token=token)
