"""The hub's gRPC services and the servicer class of each, in one table: the server
registers them from it, and a writer process numbers their unary methods from it (the
same numbers in both processes, since both read the same descriptors)."""
from __future__ import annotations

from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from hub.api.servicers import (AuditServicer, BenefitCatalogueServicer, CaseServicer, ComplaintServicer,
                               DecisionServicer, OperationsServicer, PaymentServicer)
from hub.api.streams import EventServicer
from hub.v1 import (audit_pb2, benefits_pb2, cases_pb2, complaints_pb2, decisions_pb2, events_pb2, operations_pb2,
                    payments_pb2)

SERVICES: list[tuple[ServiceDescriptor, type]] = [
    (benefits_pb2.DESCRIPTOR.services_by_name["BenefitCatalogueService"], BenefitCatalogueServicer),
    (cases_pb2.DESCRIPTOR.services_by_name["CaseService"], CaseServicer),
    (decisions_pb2.DESCRIPTOR.services_by_name["DecisionService"], DecisionServicer),
    (operations_pb2.DESCRIPTOR.services_by_name["OperationsService"], OperationsServicer),
    (events_pb2.DESCRIPTOR.services_by_name["EventService"], EventServicer),
    (audit_pb2.DESCRIPTOR.services_by_name["AuditService"], AuditServicer),
    (payments_pb2.DESCRIPTOR.services_by_name["PaymentService"], PaymentServicer),
    (complaints_pb2.DESCRIPTOR.services_by_name["ComplaintService"], ComplaintServicer),
]
SERVICE_NAMES = [d.full_name for d, _ in SERVICES]


def is_unary(m: MethodDescriptor) -> bool:
    return not (m.client_streaming or m.server_streaming)


def unary_methods() -> list[tuple[ServiceDescriptor, type, MethodDescriptor]]:
    """Every unary method, numbered by its place in this list."""
    return [(d, cls, m) for d, cls in SERVICES for m in d.methods if is_unary(m)]


def request_class(m: MethodDescriptor) -> type:
    return message_factory.GetMessageClass(m.input_type)


def response_class(m: MethodDescriptor) -> type:
    return message_factory.GetMessageClass(m.output_type)
