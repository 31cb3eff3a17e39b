"""The hub's gRPC services and the servicer class of each, in one table: the server
registers them from it, and a writer process numbers their unary methods from it (the
same numbers in both processes, since both read the same descriptors)."""
from __future__ import annotations

import time
from typing import NamedTuple

import grpc
import structlog
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError

from hub.api.auth import ClientRegistry
from hub.api.convert import nul_violations
from hub.api.servicers import audited_failure, purpose_of
from hub.domain.errors import FieldViolation, HubError, InvalidArgument, NotRun
from hub.runtime.group_commit import Job
from hub.runtime.router import is_unary, method_handler, request_class, response_encoder
from hub.runtime.status import to_status
from hub.runtime.writer import STATUS_DETAILS, WriterGone, WriterMethod, WriterProcess, answer_status
from hub.api.servicers import (record_refusal, AuditServicer, BenefitCatalogueServicer, CaseServicer, ComplaintServicer,
                               DecisionServicer, OperationsServicer, PaymentServicer)
from hub.api.citizen import CitizenServicer
from hub.api.control import ControlServicer
from hub.api.rules import RulesServicer
from hub.api.settlement import SettlementServicer
from hub.api.statistics import StatisticsServicer
from hub.api.streams import EventServicer
from hub.api.billing import BillingServicer
from hub.v1 import (audit_pb2, benefits_pb2, cases_pb2, citizen_pb2, complaints_pb2, control_pb2, decisions_pb2,
                    events_pb2, operations_pb2, payments_pb2, rules_pb2, settlement_pb2, statistics_pb2)
from hub.v1 import billing_pb2


class Service(NamedTuple):
    descriptor: ServiceDescriptor
    servicer: type


SERVICES: list[Service] = [
    Service(benefits_pb2.DESCRIPTOR.services_by_name["BenefitCatalogueService"], BenefitCatalogueServicer),
    Service(cases_pb2.DESCRIPTOR.services_by_name["CaseService"], CaseServicer),
    Service(decisions_pb2.DESCRIPTOR.services_by_name["DecisionService"], DecisionServicer),
    Service(operations_pb2.DESCRIPTOR.services_by_name["OperationsService"], OperationsServicer),
    Service(events_pb2.DESCRIPTOR.services_by_name["EventService"], EventServicer),
    Service(audit_pb2.DESCRIPTOR.services_by_name["AuditService"], AuditServicer),
    Service(payments_pb2.DESCRIPTOR.services_by_name["PaymentService"], PaymentServicer),
    Service(complaints_pb2.DESCRIPTOR.services_by_name["ComplaintService"], ComplaintServicer),
    Service(rules_pb2.DESCRIPTOR.services_by_name["RulesService"], RulesServicer),
    Service(settlement_pb2.DESCRIPTOR.services_by_name["SettlementService"], SettlementServicer),
    Service(control_pb2.DESCRIPTOR.services_by_name["ControlService"], ControlServicer),
    Service(statistics_pb2.DESCRIPTOR.services_by_name["StatisticsService"], StatisticsServicer),
    # Subscription billing (issue 28).
    Service(billing_pb2.DESCRIPTOR.services_by_name["BillingService"], BillingServicer),
]
# The citizen's own case (issue 28): the citizen portal, for the logged-in citizen.
SERVICES.append(Service(citizen_pb2.DESCRIPTOR.services_by_name["CitizenService"], CitizenServicer))
SERVICE_NAMES = [s.descriptor.full_name for s in SERVICES]




def unary_methods() -> list[tuple[ServiceDescriptor, type, MethodDescriptor]]:
    """Every unary method, numbered by its place in this list (a writer process numbers
    them the same way: both read the same descriptors)."""
    return [(s.descriptor, s.servicer, m) for s in SERVICES for m in s.descriptor.methods if is_unary(m)]


def method_names() -> list[str]:
    """What the method numbers mean, as names (for the writer's handshake)."""
    return [f"{d.full_name}/{m.name}:{m.input_type.full_name}" for d, _, m in unary_methods()]


def parse_request(cls: type, raw: bytes):
    """The request message in `raw`, or InvalidArgument: bytes that do not parse (e.g. a
    Struct nested deeper than protobuf's parser goes, 100 levels, which a client's
    encoder does write), or a text holding a NUL character (convert.nul_violations).
    NUL is looked for only in requests whose bytes hold a zero byte."""
    try:
        request = cls.FromString(raw)
    except DecodeError:
        raise InvalidArgument([FieldViolation("request", f"is not a valid {cls.DESCRIPTOR.full_name}")])
    if b"\x00" in raw:
        violations = nul_violations(request)
        if violations:
            raise InvalidArgument(violations)
    return request


# ---- with a writer process -----------------------------------------------------------------

log = structlog.get_logger("hub.api")


def writer_methods(servicers: dict[type, object]) -> list[WriterMethod]:
    """What a writer process runs for each method number: the undecorated handler of
    the servicer (a writer's own, with no lane of its own: the writer's loop is the lane)."""
    out = []
    for _, cls, m in unary_methods():
        handler, servicer, cls_ = getattr(cls, m.name), servicers[cls], request_class(m)
        out.append(WriterMethod(handler.action, _bind(handler.__wrapped__, servicer),
                                lambda raw, c=cls_: parse_request(c, raw), response_encoder(m)))
    return out


def _bind(fn, servicer):
    return lambda tx, request, identity, purpose: fn(servicer, tx, request, identity, purpose)


def writer_refusals(call, code: str) -> Job | None:
    """A call the writer refused, audited (in the writer's next batch) when it named
    something of a case."""
    named = audited_failure(call.request)
    if not named:
        return None
    return Job(record_refusal, (call.identity, call.method.action, named, code, call.purpose, call.request_id))


def _forwarder(writer: WriterProcess, registry: ClientRegistry, method_no: int, action: str, servicer, request: type):
    """`servicer` (the front's) audits a call refused here, `request` its message type."""
    async def handler(payload: bytes, context: grpc.aio.ServicerContext) -> bytes:
        metadata = context.invocation_metadata() or ()
        identity = citizen = None
        try:
            identity = registry.identify(metadata, context.auth_context())
            purpose = purpose_of(metadata)
            # The citizen portal's verified citizen goes to the writer with the call.
            citizen = registry.citizen_of(identity, metadata, servicer.context.clock.now)
        except HubError as err:
            # No identity (audited as an attempt without one), or an x-purpose too long.
            status = to_status(err)
            log.info("rpc", rpc=action, code=status.code.name, reason=err.reason, error=err.message)
            try:
                message = request.FromString(payload)
            except DecodeError:
                message = None  # nothing to audit in it
            if message is not None:
                await servicer._audit_failure(identity, action, message, status.code.name, None,
                                              getattr(message, "request_id", "") or None)
            await context.abort_with_status(status)
        left = context.time_remaining()  # seconds, None without a deadline
        try:
            code, body = await writer.call(method_no, identity, purpose, payload,
                                           None if left is None else time.monotonic() + left, citizen=citizen)
        except NotRun as err:
            status = to_status(err)
            log.info("rpc", rpc=action, client_id=identity.client_id, code=status.code.name, reason=err.reason,
                     error=err.message)
            await context.abort_with_status(status)
        except WriterGone:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub's writer process restarted while it held "
                                "this call; retry it with the same request_id")
        if code == 0:
            return body
        status_code, message, details = answer_status(code, body)
        await context.abort(status_code, message, trailing_metadata=((STATUS_DETAILS, details),) if details else ())
    return handler


def forwarded_services(writer: WriterProcess, registry: ClientRegistry,
                       servicers: dict[type, object]) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
    """The hub's services for `serve_on`: unary methods forwarded to `writer`,
    streaming ones served by the local `servicers` (by class)."""
    numbers = {(d.full_name, m.name): n for n, (d, _, m) in enumerate(unary_methods())}
    return {d.full_name: {m.name: method_handler(m, _forwarder(writer, registry, numbers[(d.full_name, m.name)],
                                                               getattr(cls, m.name).action, servicers[cls],
                                                               request_class(m)), raw=True)
                          if is_unary(m) else method_handler(m, getattr(servicers[cls], m.name), parse=parse_request)
                          for m in d.methods}
            for d, cls in SERVICES}


def served(servicers: dict[type, object]) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
    """The hub's services for `serve_on`, every method served in this process."""
    return {d.full_name: {m.name: method_handler(m, getattr(servicers[cls], m.name), parse=parse_request)
                          for m in d.methods} for d, cls in SERVICES}
