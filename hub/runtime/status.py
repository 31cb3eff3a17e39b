"""HubError -> gRPC status with google.rpc details (BadRequest, ErrorInfo)."""
from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from hub.domain import errors as e

DOMAIN = "sagshub.hub.v1"

_CODES: list[tuple[type[e.HubError], int]] = [
    (e.InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (e.FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (e.NotFound, code_pb2.NOT_FOUND),
    (e.PermissionDenied, code_pb2.PERMISSION_DENIED),
    (e.Unauthenticated, code_pb2.UNAUTHENTICATED),
    (e.AlreadyExists, code_pb2.ALREADY_EXISTS),
    (e.DeadlineExceeded, code_pb2.DEADLINE_EXCEEDED),
    (e.ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED),
    (e.Unavailable, code_pb2.UNAVAILABLE),
]


def _pack(message) -> any_pb2.Any:
    a = any_pb2.Any()
    a.Pack(message)
    return a


def to_status(err: e.HubError) -> grpc.Status:
    code = next((c for cls, c in _CODES if isinstance(err, cls)), code_pb2.INTERNAL)
    details = []
    if isinstance(err, e.InvalidArgument):
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in err.violations])))
    if isinstance(err, e.ResourceExhausted):
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(
            seconds=int(err.retry_after), nanos=int(err.retry_after % 1 * 1e9)))))
    details.append(_pack(error_details_pb2.ErrorInfo(reason=err.reason, domain=DOMAIN,
                                                     metadata={k: str(v) for k, v in err.metadata.items()})))
    return rpc_status.to_status(status_pb2.Status(code=code, message=err.message, details=details))
INTERNAL_ERROR = "internal error; the hub has logged it"
