"""Server reflection answers under both names clients ask for: grpc.reflection.v1
(current grpcurl, Postman) and v1alpha (older tools)."""
from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

HUB_SERVICES = {"hub.v1.CaseService", "hub.v1.DecisionService", "hub.v1.BenefitCatalogueService",
                "hub.v1.PaymentService", "hub.v1.ComplaintService", "grpc.health.v1.Health"}


def _ask(channel, version: str, **request) -> reflection_pb2.ServerReflectionResponse:
    """One request on the version's own path. v1 and v1alpha are one protocol under two
    package names (the same messages, field for field), so v1alpha's classes encode it."""
    call = channel.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                                 request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                 response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    [response] = list(call(iter([reflection_pb2.ServerReflectionRequest(**request)]), timeout=10))
    return response


def _files(response) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    files = [descriptor_pb2.FileDescriptorProto.FromString(b)
             for b in response.file_descriptor_response.file_descriptor_proto]
    return {f.name: f for f in files}


def test_reflection_v1_and_v1alpha_list_and_describe_the_hub(hub):
    for version in ("v1", "v1alpha"):
        names = {s.name for s in _ask(hub.channel, version, list_services="").list_services_response.service}
        assert HUB_SERVICES | {"grpc.reflection.v1.ServerReflection",
                               "grpc.reflection.v1alpha.ServerReflection"} <= names, version
        files = _files(_ask(hub.channel, version, file_containing_symbol="hub.v1.CaseService"))
        [cases] = [f for f in files.values() if any(s.name == "CaseService" for s in f.service)]
        assert cases.package == "hub.v1" and "CreateCase" in {m.name for m in cases.service[0].method}
        # Every listed service can be described, the reflection services themselves included.
        for name in names:
            assert _files(_ask(hub.channel, version, file_containing_symbol=name)), (version, name)


def test_the_v1_service_is_described_as_v1(hub):
    [f] = [f for f in _files(_ask(hub.channel, "v1", file_containing_symbol="grpc.reflection.v1.ServerReflection"))
           .values() if f.package == "grpc.reflection.v1"]
    [method] = f.service[0].method
    assert f.name == "grpc/reflection/v1/reflection.proto" and f.service[0].name == "ServerReflection"
    assert (method.input_type, method.output_type, method.client_streaming, method.server_streaming) == (
        ".grpc.reflection.v1.ServerReflectionRequest", ".grpc.reflection.v1.ServerReflectionResponse", True, True)
    assert all(".v1alpha." not in fd.type_name for m in f.message_type for fd in m.field)


def test_an_unknown_symbol_is_an_error_answer_not_a_broken_stream(hub):
    response = _ask(hub.channel, "v1", file_containing_symbol="hub.v1.NoSuchService")
    assert response.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
