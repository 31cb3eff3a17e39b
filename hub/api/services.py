"""The hub's gRPC services and the servicer class of each, in one table: the server
registers them from it, and a writer process numbers their unary methods from it (the
same numbers in both processes, since both read the same descriptors)."""
from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError

from hub.api.convert import nul_violations
from hub.api.errors import to_status
from hub.domain.errors import FieldViolation, InvalidArgument
from hub.api.servicers import (AuditServicer, BenefitCatalogueServicer, CaseServicer, ComplaintServicer,
                               DecisionServicer, OperationsServicer, PaymentServicer)
from hub.api.streams import EventServicer
from hub.v1 import (audit_pb2, benefits_pb2, cases_pb2, complaints_pb2, decisions_pb2, events_pb2, operations_pb2,
                    payments_pb2)


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
]
SERVICE_NAMES = [s.descriptor.full_name for s in SERVICES]


def is_unary(m: MethodDescriptor) -> bool:
    return not (m.client_streaming or m.server_streaming)


def unary_methods() -> list[tuple[ServiceDescriptor, type, MethodDescriptor]]:
    """Every unary method, numbered by its place in this list."""
    return [(s.descriptor, s.servicer, m) for s in SERVICES for m in s.descriptor.methods if is_unary(m)]


def request_class(m: MethodDescriptor) -> type:
    return message_factory.GetMessageClass(m.input_type)


def response_class(m: MethodDescriptor) -> type:
    return message_factory.GetMessageClass(m.output_type)


_KINDS = {(False, False): grpc.unary_unary_rpc_method_handler, (False, True): grpc.unary_stream_rpc_method_handler,
          (True, False): grpc.stream_unary_rpc_method_handler, (True, True): grpc.stream_stream_rpc_method_handler}


def method_handler(m: MethodDescriptor, behavior: Callable, *, raw: bool = False) -> grpc.RpcMethodHandler:
    """The handler of method `m`, served by `behavior`; `raw`: it takes the request's
    bytes and returns the response's bytes (a forwarder). Otherwise `behavior` returns
    the response message or its encoded bytes."""
    if raw:
        return _KINDS[(m.client_streaming, m.server_streaming)](behavior)
    if m.client_streaming:  # (none of the hub's own: reflection)
        return _KINDS[(True, m.server_streaming)](behavior, request_deserializer=request_class(m).FromString,
                                                  response_serializer=response_encoder(m))
    return _KINDS[(False, m.server_streaming)](
        _answering_refused(m, behavior), request_deserializer=_decoder(request_class(m)),
        response_serializer=response_encoder(m))


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


class Refused:
    """A request parse_request refused, in place of the request: grpc answers a
    deserializer's exception UNKNOWN, so the handler answers for it."""
    __slots__ = ("error",)

    def __init__(self, error: InvalidArgument):
        self.error = error


def _decoder(cls: type) -> Callable[[bytes], object]:
    def decode(raw: bytes):
        try:
            return parse_request(cls, raw)
        except InvalidArgument as err:
            return Refused(err)
    return decode


def _answering_refused(m: MethodDescriptor, behavior: Callable) -> Callable:
    if m.server_streaming:
        async def stream(request, context):
            if request.__class__ is Refused:
                await context.abort_with_status(to_status(request.error))
            async for item in behavior(request, context):
                yield item
        return stream

    async def unary(request, context):
        if request.__class__ is Refused:
            await context.abort_with_status(to_status(request.error))
        return await behavior(request, context)
    return unary


def response_encoder(m: MethodDescriptor) -> Callable[[object], bytes]:
    """Encodes method `m`'s response; bytes are a response already encoded (a mutating
    call's stored response: see servicers.rpc) and go out as they are."""
    encode = response_class(m).SerializeToString

    def encoded(response) -> bytes:
        return response if response.__class__ is bytes else encode(response)
    return encoded


def handlers_for(descriptor: ServiceDescriptor, servicer: object) -> dict[str, grpc.RpcMethodHandler]:
    """A handler for every method of the service, by name: the servicer's method of that name."""
    return {m.name: method_handler(m, getattr(servicer, m.name)) for m in descriptor.methods}


class _Router(grpc.GenericRpcHandler):
    def __init__(self, by_path: dict[str, grpc.RpcMethodHandler]):
        self._by_path = by_path

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return self._by_path.get(handler_call_details.method)


def serve_on(server: grpc.aio.Server, services: Mapping[str, Mapping[str, grpc.RpcMethodHandler]]) -> None:
    """Register the services (full name -> method name -> handler) on `server`, as one
    generic handler that finds a method by its path.

    Not as registered methods (`add_registered_method_handlers`, which the generated
    add_*_to_server functions also call): grpcio's asyncio server (1.85) waits on one
    task per registered method for every call it accepts (`asyncio.wait`), so with
    the hub's 50 methods every call cost about 0.07 ms more of the server's one core
    (-10 % req/s in `make bench`); grpc/grpc#43461 is the upstream fix."""
    server.add_generic_rpc_handlers((_Router({f"/{name}/{method}": handler for name, handlers in services.items()
                                              for method, handler in handlers.items()}),))
