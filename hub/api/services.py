"""The hub's gRPC services and the servicer class of each, in one table: the server
registers them from it, and a writer process numbers their unary methods from it (the
same numbers in both processes, since both read the same descriptors)."""
from __future__ import annotations

from typing import Callable, NamedTuple

from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from hub.api.servicers import (AuditServicer, BenefitCatalogueServicer, CaseServicer, ComplaintServicer,
                               DecisionServicer, OperationsServicer, PaymentServicer)
from hub.api.streams import EventServicer
from hub.v1 import (audit_pb2, audit_pb2_grpc, benefits_pb2, benefits_pb2_grpc, cases_pb2, cases_pb2_grpc,
                    complaints_pb2, complaints_pb2_grpc, decisions_pb2, decisions_pb2_grpc, events_pb2,
                    events_pb2_grpc, operations_pb2, operations_pb2_grpc, payments_pb2, payments_pb2_grpc)

class Service(NamedTuple):
    descriptor: ServiceDescriptor
    servicer: type
    add_to_server: Callable  # the generated add_<Service>Servicer_to_server


SERVICES: list[Service] = [
    Service(benefits_pb2.DESCRIPTOR.services_by_name["BenefitCatalogueService"], BenefitCatalogueServicer,
            benefits_pb2_grpc.add_BenefitCatalogueServiceServicer_to_server),
    Service(cases_pb2.DESCRIPTOR.services_by_name["CaseService"], CaseServicer,
            cases_pb2_grpc.add_CaseServiceServicer_to_server),
    Service(decisions_pb2.DESCRIPTOR.services_by_name["DecisionService"], DecisionServicer,
            decisions_pb2_grpc.add_DecisionServiceServicer_to_server),
    Service(operations_pb2.DESCRIPTOR.services_by_name["OperationsService"], OperationsServicer,
            operations_pb2_grpc.add_OperationsServiceServicer_to_server),
    Service(events_pb2.DESCRIPTOR.services_by_name["EventService"], EventServicer,
            events_pb2_grpc.add_EventServiceServicer_to_server),
    Service(audit_pb2.DESCRIPTOR.services_by_name["AuditService"], AuditServicer,
            audit_pb2_grpc.add_AuditServiceServicer_to_server),
    Service(payments_pb2.DESCRIPTOR.services_by_name["PaymentService"], PaymentServicer,
            payments_pb2_grpc.add_PaymentServiceServicer_to_server),
    Service(complaints_pb2.DESCRIPTOR.services_by_name["ComplaintService"], ComplaintServicer,
            complaints_pb2_grpc.add_ComplaintServiceServicer_to_server),
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
