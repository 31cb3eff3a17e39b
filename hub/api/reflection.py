"""Server reflection under both names that clients ask for: `grpc.reflection.v1`
(current grpcurl, Postman, grpcui) and `grpc.reflection.v1alpha` (older tools).

grpcio-reflection (1.85) implements only v1alpha (grpc/grpc#38576 asks for v1). v1 is
the same protocol under a new package name: the same messages, field for field, so the
library's servicer answers both, and requests and responses have the same bytes on the
wire. So that a v1 client can also describe the v1 service itself, its file descriptor,
v1alpha's with the package renamed, goes into the default descriptor pool."""
from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_FILE = "grpc/reflection/v1/reflection.proto"  # the name grpc-proto gives it
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME


def _v1_file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = f".{proto.package}.", f".{V1_PACKAGE}."
    proto.name, proto.package = V1_FILE, V1_PACKAGE
    proto.options.Clear()  # v1alpha's are deprecated=true and its own go/java packages
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    proto.options.java_package, proto.options.java_outer_classname = "io.grpc.reflection.v1", "ServerReflectionProto"
    proto.options.java_multiple_files = True
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old):]
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old):]
            method.output_type = new + method.output_type[len(old):]
    return proto


def register_v1_descriptor(pool: descriptor_pool.DescriptorPool | None = None) -> None:
    """Put the v1 file into `pool` (the default pool), unless something has already."""
    pool = pool or descriptor_pool.Default()
    try:
        pool.FindFileByName(V1_FILE)
    except KeyError:
        pool.AddSerializedFile(_v1_file_descriptor().SerializeToString())


def handlers(service_names: list[str]) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
    """The reflection services (full name -> method name -> handler) for a server that
    serves `service_names`; both versions list both reflection services."""
    register_v1_descriptor()
    servicer = reflection.aio.ReflectionServicer(list(service_names) + [V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME])
    info = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo, request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    return {V1_SERVICE_NAME: {"ServerReflectionInfo": info}, V1ALPHA_SERVICE_NAME: {"ServerReflectionInfo": info}}
