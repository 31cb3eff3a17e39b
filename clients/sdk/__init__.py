"""A small SDK over the hub.v1 contract: a stub for every service (`Hub`), the caller's
token (or mTLS certificate) on every call, a deadline on every unary call and its retry
with the same request_id on UNAVAILABLE and DEADLINE_EXCEEDED (`connect`), every item of
a listing (`pages`), a run's progress resumed after an interruption (`resumable`), a
durable subscription followed across reconnects (`follow`), and readable errors
(`describe_error`). Uses nothing but the generated stubs.

A citizen portal (role citizen_portal) also sends, on every call, its signed assertion
of the logged-in citizen: `connect(..., assertion=CitizenAssertion(key_pem, portal_id,
cpr))` (see the README, "For citizen portals")."""
from __future__ import annotations

import time
import uuid
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


# ---- deadlines and retries ----------------------------------------------------------------

# What a call may be retried on: the hub or the network did not answer (a server that
# stopped, a connection reset, an overloaded hub that shed the call) or not in time.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def _retrying(attempts: int):
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential
    return Retrying(retry=retry_if_exception(lambda e: isinstance(e, grpc.RpcError) and e.code() in RETRYABLE),
                    stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=0.1, max=2.0), reraise=True)


def with_request_id(request):
    """The request itself, or, when it has an empty `request_id` (a mutating call), a
    copy with a new one: every attempt of the call then carries the same id, and the hub
    does the work once however often it is asked."""
    field_ = request.DESCRIPTOR.fields_by_name.get("request_id")
    if field_ is None or request.request_id:
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    copy.request_id = str(uuid.uuid4())
    return copy


class _Resilient(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Every unary call: a deadline (`timeout` seconds, unless the caller gives one) and,
    on UNAVAILABLE or DEADLINE_EXCEEDED, up to `attempts` tries with the same request_id
    (made here if the caller left it empty), backing off 0.1 s, 0.2 s, ... up to 2 s.
    Reads are safe to repeat; a mutating call is idempotent on its request_id. Streams
    get the request_id (a run resumes on it: see `resumable`), no deadline (a
    subscription runs for days), and no retry here."""

    def __init__(self, timeout: float | None, attempts: int):
        self.timeout, self.attempts = timeout, attempts

    def intercept_unary_unary(self, continuation, details, request):
        request = with_request_id(request)
        if details.timeout is None and self.timeout is not None:
            details = details._replace(timeout=self.timeout)
        outcome = None
        for attempt in _retrying(self.attempts):
            with attempt:
                outcome = continuation(details, request)
                outcome.result()  # (raises the call's RpcError)
        return outcome

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(details, with_request_id(request))


def pages(method, request, items: str):
    """Every item of a listing, page after page: `method` a stub's list RPC, `request`
    its request (page_token set as it goes), `items` the repeated field's name.

        for case in pages(hub.cases.ListCases, cases_pb2.ListCasesRequest(), "cases"): ..."""
    asked = type(request)()
    asked.CopyFrom(request)
    while True:
        page = method(asked)
        yield from getattr(page, items)
        if not page.next_page_token:
            return
        asked.page_token = page.next_page_token


def resumable(method, request, *, attempts: int = 8):
    """A run's progress stream (RunPayments, RunFinalSettlement, RunControl), resumed
    after UNAVAILABLE (a server that stopped, a register down): the same request again,
    with the same request_id, which the hub takes as "go on" (or, once the run is done,
    "tell me its summary"). Yields each progress message."""
    request = with_request_id(request)
    for attempt in _retrying(attempts):
        with attempt:
            yield from method(request)
            return


def follow(hub, subscription: str, *, heartbeat_seconds: int = 15, attempts: int = 0):
    """The events of a durable subscription, for ever: reconnects after UNAVAILABLE (a
    server restarted, a connection lost) where the subscription's acknowledged cursor
    stands; yields each event. Acknowledge what you processed with
    `hub.events.AckEvents` (at most the unacknowledged ones come again). `attempts` 0:
    retry without end."""
    from hub.v1 import events_pb2
    failures = 0
    while True:
        try:
            for message in hub.events.Subscribe(events_pb2.SubscribeRequest(
                    subscription=subscription, heartbeat_seconds=heartbeat_seconds)):
                failures = 0
                if message.HasField("event"):
                    yield message.event
            return
        except grpc.RpcError as err:
            failures += 1
            if err.code() not in RETRYABLE or (attempts and failures >= attempts):
                raise
            time.sleep(min(2.0, 0.1 * 2 ** failures))


def connect(address: str, token: str = "", *, ca: str | None = None, cert: str | None = None,
            key: str | None = None, assertion: Callable[[], str] | None = None, timeout: float | None = 30.0,
            attempts: int = 5) -> Hub:
    """With `ca`, `cert` and `key` (PEM files): mTLS, and the certificate is the
    identity. Otherwise plaintext with a bearer token, for loopback use. `assertion`
    (a citizen portal): gives the signed assertion of the logged-in citizen each call
    carries (metadata x-citizen-assertion), e.g. a CitizenAssertion. Every unary call
    gets a deadline (`timeout` seconds unless the call gives one; None: none) and is
    tried up to `attempts` times on UNAVAILABLE or DEADLINE_EXCEEDED with the same
    request_id (a mutating request without one gets one)."""
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
    channel = grpc.intercept_channel(channel, _Resilient(timeout, attempts))
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
