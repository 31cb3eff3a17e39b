"""A small SDK over the hub.v1 contract: a channel with the caller's token on every
call, and readable errors. Uses nothing but the generated stubs.

A citizen portal (role citizen_portal) also sends, on every call, its signed assertion
of the logged-in citizen: `connect(..., assertion=CitizenAssertion(key_pem, portal_id,
cpr))` (see the README, "For citizen portals")."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from hub.v1 import (audit_pb2_grpc, benefits_pb2_grpc, billing_pb2_grpc, cases_pb2_grpc, citizen_pb2_grpc,
                    complaints_pb2_grpc, control_pb2_grpc, decisions_pb2_grpc, events_pb2_grpc, operations_pb2_grpc,
                    payments_pb2_grpc, rules_pb2_grpc, settlement_pb2_grpc, statistics_pb2_grpc)


def _token_interceptor(token: str):
    return _metadata_interceptor(lambda: [("authorization", f"Bearer {token}")])


def _metadata_interceptor(extra: Callable[[], list[tuple[str, str]]]):
    """Adds `extra()` to every call's metadata (evaluated per call)."""
    class _Add(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
        def _with(self, details):
            md = list(details.metadata or ()) + extra()
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

    @property
    def billing(self) -> billing_pb2_grpc.BillingServiceStub:
        """Subscription billing: RunBilling (a quarter, once), GetBillingStatement."""
        return billing_pb2_grpc.BillingServiceStub(self.channel)

    @property
    def audit(self) -> audit_pb2_grpc.AuditServiceStub:
        return audit_pb2_grpc.AuditServiceStub(self.channel)

    @property
    def citizen(self) -> citizen_pb2_grpc.CitizenServiceStub:
        """The citizen's own case (a citizen portal, with an assertion: see connect)."""
        return citizen_pb2_grpc.CitizenServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()


def connect(address: str, token: str = "", *, ca: str | None = None, cert: str | None = None,
            key: str | None = None, assertion: Callable[[], str] | None = None) -> Hub:
    """With `ca`, `cert` and `key` (PEM files): mTLS, and the certificate is the
    identity. Otherwise plaintext with a bearer token, for loopback use. `assertion`
    (a citizen portal): gives the signed assertion of the logged-in citizen each call
    carries (metadata x-citizen-assertion), e.g. a CitizenAssertion."""
    if ca:
        from pathlib import Path
        creds = grpc.ssl_channel_credentials(Path(ca).read_bytes(), Path(key).read_bytes() if key else None,
                                             Path(cert).read_bytes() if cert else None)
        channel = grpc.secure_channel(address, creds)
    else:
        channel = grpc.insecure_channel(address)
    if token:
        channel = grpc.intercept_channel(channel, _token_interceptor(token))
    if assertion is not None:
        channel = grpc.intercept_channel(channel, _metadata_interceptor(
            lambda: [(CITIZEN_ASSERTION_HEADER, assertion())]))
    return Hub(channel)


# ---- the citizen portal's signed assertion (issue 28) --------------------------------------

CITIZEN_ASSERTION_HEADER = "x-citizen-assertion"


def mint_citizen_assertion(private_key_pem: bytes, portal: str, cpr: str, *, audience: str = "sagshub",
                           lifetime: int = 300, now: float | None = None) -> str:
    """A signed assertion of the logged-in citizen, as the hub verifies it: a JWT signed
    with the portal's private key (Ed25519: EdDSA, EC P-256: ES256), `iss` the portal's
    client id, `aud` the hub, `sub` the citizen's CPR number, `iat` now and `exp` at
    most 600 s later (`lifetime` seconds). In production the login broker's session
    (MitID / NemLog-in) is what the portal vouches for; keep the key in the portal."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    key = load_pem_private_key(private_key_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        algorithm = "ES256"
    else:
        raise ValueError("the portal's key must be an Ed25519 or EC P-256 private key (PEM)")
    issued = int(time.time() if now is None else now)
    return jwt.encode(dict(iss=portal, aud=audience, sub=cpr, iat=issued, exp=issued + lifetime), key,
                      algorithm=algorithm)


@dataclass
class CitizenAssertion:
    """The logged-in citizen's assertion for every call of a portal's channel, minted
    afresh when the last one is within a minute of expiring."""
    private_key_pem: bytes
    portal: str
    cpr: str = field(repr=False)  # (never in a repr, so never in a log)
    audience: str = "sagshub"
    lifetime: int = 300
    _token: str = field(default="", repr=False)
    _until: float = field(default=0.0, repr=False)

    def __call__(self) -> str:
        now = time.time()
        if now > self._until - 60:
            self._token = mint_citizen_assertion(self.private_key_pem, self.portal, self.cpr,
                                                 audience=self.audience, lifetime=self.lifetime, now=now)
            self._until = now + self.lifetime
        return self._token


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
