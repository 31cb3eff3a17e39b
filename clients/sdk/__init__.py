"""A small SDK over the hub.v1 contract: a channel with the caller's token on every
call, and readable errors. Uses nothing but the generated stubs."""
from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from hub.v1 import (benefits_pb2_grpc, cases_pb2_grpc, complaints_pb2_grpc, control_pb2_grpc, decisions_pb2_grpc,
                    events_pb2_grpc, operations_pb2_grpc, payments_pb2_grpc, rules_pb2_grpc, settlement_pb2_grpc,
                    statistics_pb2_grpc)


def _token_interceptor(token: str):
    class _Add(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
        def _with(self, details):
            md = list(details.metadata or ()) + [("authorization", f"Bearer {token}")]
            return details._replace(metadata=md)

        def intercept_unary_unary(self, continuation, details, request):
            return continuation(self._with(details), request)

        def intercept_unary_stream(self, continuation, details, request):
            return continuation(self._with(details), request)
    return _Add()


@dataclass
class Hub:
    channel: grpc.Channel

    @property
    def cases(self) -> cases_pb2_grpc.CaseServiceStub:
        return cases_pb2_grpc.CaseServiceStub(self.channel)

    @property
    def decisions(self) -> decisions_pb2_grpc.DecisionServiceStub:
        return decisions_pb2_grpc.DecisionServiceStub(self.channel)

    @property
    def benefits(self) -> benefits_pb2_grpc.BenefitCatalogueServiceStub:
        return benefits_pb2_grpc.BenefitCatalogueServiceStub(self.channel)

    @property
    def events(self) -> events_pb2_grpc.EventServiceStub:
        return events_pb2_grpc.EventServiceStub(self.channel)

    @property
    def operations(self) -> operations_pb2_grpc.OperationsServiceStub:
        return operations_pb2_grpc.OperationsServiceStub(self.channel)

    @property
    def payments(self) -> payments_pb2_grpc.PaymentServiceStub:
        return payments_pb2_grpc.PaymentServiceStub(self.channel)

    @property
    def complaints(self) -> complaints_pb2_grpc.ComplaintServiceStub:
        return complaints_pb2_grpc.ComplaintServiceStub(self.channel)

    @property
    def rules(self) -> rules_pb2_grpc.RulesServiceStub:
        return rules_pb2_grpc.RulesServiceStub(self.channel)

    @property
    def settlement(self) -> settlement_pb2_grpc.SettlementServiceStub:
        return settlement_pb2_grpc.SettlementServiceStub(self.channel)

    @property
    def control(self) -> control_pb2_grpc.ControlServiceStub:
        return control_pb2_grpc.ControlServiceStub(self.channel)

    @property
    def statistics(self) -> statistics_pb2_grpc.StatisticsServiceStub:
        return statistics_pb2_grpc.StatisticsServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()


def connect(address: str, token: str = "", *, ca: str | None = None, cert: str | None = None,
            key: str | None = None) -> Hub:
    """With `ca`, `cert` and `key` (PEM files): mTLS, and the certificate is the
    identity. Otherwise plaintext with a bearer token, for loopback use."""
    if ca:
        from pathlib import Path
        creds = grpc.ssl_channel_credentials(Path(ca).read_bytes(), Path(key).read_bytes() if key else None,
                                             Path(cert).read_bytes() if cert else None)
        channel = grpc.secure_channel(address, creds)
    else:
        channel = grpc.insecure_channel(address)
    if token:
        channel = grpc.intercept_channel(channel, _token_interceptor(token))
    return Hub(channel)


def describe_error(err: grpc.RpcError) -> str:
    """One readable text: code and message on the first line, then each field violation
    and the ErrorInfo's reason with its metadata (the current status, what is missing)."""
    lines = [f"{err.code().name}: {err.details()}"]
    status = rpc_status.from_call(err)
    for d in status.details if status else ():
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            d.Unpack(br)
            lines += [f"  {v.field}: {v.description}" for v in br.field_violations]
        elif d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
            facts = ", ".join(f"{k}={v}" for k, v in sorted(info.metadata.items()))
            lines.append(f"  reason: {info.reason}" + (f" ({facts})" if facts else ""))
    return "\n".join(lines)
