"""The byte-passthrough router: the hub's methods registered on the grpc.aio server as
one generic handler that finds a method by its path, each method's handler built
from its descriptor. A response may be a message or its bytes already encoded (a
mutating call's stored response), which go out as they are; a request that cannot be
parsed is answered INVALID_ARGUMENT by the handler (grpc would answer UNKNOWN)."""
from __future__ import annotations

from typing import Callable, Mapping

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from hub.domain.errors import InvalidArgument
from hub.runtime.status import to_status


def is_unary(m: MethodDescriptor) -> bool:
    return not (m.client_streaming or m.server_streaming)


def request_class(m: MethodDescriptor) -> type:
    return message_factory.GetMessageClass(m.input_type)


def response_class(m: MethodDescriptor) -> type:
    return message_factory.GetMessageClass(m.output_type)


_KINDS = {(False, False): grpc.unary_unary_rpc_method_handler, (False, True): grpc.unary_stream_rpc_method_handler,
          (True, False): grpc.stream_unary_rpc_method_handler, (True, True): grpc.stream_stream_rpc_method_handler}
Parse = Callable[[type, bytes], object]


def method_handler(m: MethodDescriptor, behavior: Callable, *, raw: bool = False,
                   parse: Parse | None = None) -> grpc.RpcMethodHandler:
    """The handler of method `m`, served by `behavior`; `raw`: it takes the request's
    bytes and returns the response's bytes (a forwarder). Otherwise `behavior` returns
    the response message or its encoded bytes, and `parse(cls, raw)` (default: the
    class's own parser) reads the request or raises InvalidArgument."""
    if raw:
        return _KINDS[(m.client_streaming, m.server_streaming)](behavior)
    if m.client_streaming:  # (none of the hub's own: reflection)
        return _KINDS[(True, m.server_streaming)](behavior, request_deserializer=request_class(m).FromString,
                                                  response_serializer=response_encoder(m))
    return _KINDS[(False, m.server_streaming)](
        _answering_refused(m, behavior), request_deserializer=_decoder(request_class(m), parse),
        response_serializer=response_encoder(m))

class Refused:
    """A request parse_request refused, in place of the request: grpc answers a
    deserializer's exception UNKNOWN, so the handler answers for it."""
    __slots__ = ("error",)

    def __init__(self, error: InvalidArgument):
        self.error = error


def _decoder(cls: type, parse: Parse | None) -> Callable[[bytes], object]:
    if parse is None:
        return cls.FromString

    def decode(raw: bytes):
        try:
            return parse(cls, raw)
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


def handlers_for(descriptor: ServiceDescriptor, servicer: object,
                 parse: Parse | None = None) -> dict[str, grpc.RpcMethodHandler]:
    """A handler for every method of the service, by name: the servicer's method of that name."""
    return {m.name: method_handler(m, getattr(servicer, m.name), parse=parse) for m in descriptor.methods}


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
