"""Errors the domain and service raise; the API maps each to one gRPC status code.

Messages never contain a CPR number: they name fields, not values."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class HubError(Exception):
    """Base class. `reason` is a stable UPPER_SNAKE code for google.rpc.ErrorInfo."""

    reason = "HUB_ERROR"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.metadata = dict(metadata or {})


class InvalidArgument(HubError):
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation], message: str | None = None):
        self.violations = list(violations)
        fields = ", ".join(v.field for v in self.violations)
        super().__init__(message or f"invalid request: {fields}")


class FailedPrecondition(HubError):
    reason = "FAILED_PRECONDITION"


class NotFound(HubError):
    reason = "NOT_FOUND"


class PermissionDenied(HubError):
    reason = "PERMISSION_DENIED"


class Unauthenticated(HubError):
    reason = "UNAUTHENTICATED"


class AlreadyExists(HubError):
    reason = "ALREADY_EXISTS"


class NotRun(HubError):
    """A call refused before its work started (the hub is overloaded, or the caller's
    deadline passed while it waited): nothing was written and no response stored, so a
    retry with the same request_id runs it. Not audited: it looked at nothing."""


class DeadlineExceeded(NotRun):
    reason = "DEADLINE_EXCEEDED"


class Unavailable(NotRun):
    """Something the call needs outside the hub does not answer (a register): what was
    done is kept, and a retry with the same request_id goes on from there."""
    reason = "UNAVAILABLE"


class ResourceExhausted(NotRun):
    """`retry_after`: seconds the caller had better wait before it tries again."""
    reason = "OVERLOADED"

    def __init__(self, message: str, *, retry_after: float, metadata: dict[str, str] | None = None):
        super().__init__(message, metadata=metadata)
        self.retry_after = retry_after


@dataclass
class Violations:
    """Collects field violations so that a request reports all its problems at once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_name: str, description: str) -> None:
        self.items.append(FieldViolation(field_name, description))

    def require(self, condition: bool, field_name: str, description: str) -> bool:
        if not condition:
            self.add(field_name, description)
        return condition

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)
