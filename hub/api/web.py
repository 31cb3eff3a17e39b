"""The hub's HTTP port (HUB_HTTP_LISTEN, default 127.0.0.1:8080), beside the gRPC server:

- `/metrics`: the Prometheus metrics (hub.runtime.metrics), for operators;
- `/` (or `/statistics`): a read-only page for a municipality's managers, with its
  script and style under `/static/`;
- `/api/viewer` and `/api/statistics`: the JSON the page reads. The viewer gives their
  bearer token (`Authorization: Bearer ...`), identified by the same ClientRegistry as
  a gRPC call; the figures come from `hub.v1.StatisticsService.GetStatistics` run the
  way the gRPC server runs it (`LocalCalls`: on a lane of this process, or forwarded
  to the writer process), so the permission table, the data limits and the audit are
  the gRPC call's. The answer is the proto turned into JSON (json_format).

The server is the standard library's, in threads of its own: a scrape or a page never
waits on the gRPC server's event loop, and a call the page makes is handed to that
loop (`asyncio.run_coroutine_threadsafe`) as a gRPC call would be."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import grpc
import structlog
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from prometheus_client.exposition import choose_encoder

from hub.api.auth import ClientRegistry
from hub.api.servicers import invoke
from hub.api.services import unary_methods
from hub.domain import municipalities
from hub.domain.errors import HubError, Unauthenticated
from hub.domain.identity import Identity
from hub.runtime.metrics import Metrics
from hub.runtime.router import response_class
from hub.runtime.status import to_status
from hub.runtime.writer import STATUS_DETAILS, WriterGone, answer_status

log = structlog.get_logger("hub.web")

STATISTICS = "hub.v1.StatisticsService"
CATALOGUE = "hub.v1.BenefitCatalogueService"
CALL_TIMEOUT = 30.0  # seconds a page's call may take, as a gRPC caller's deadline
_HTTP = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 400,
         grpc.StatusCode.OUT_OF_RANGE: 400, grpc.StatusCode.UNAUTHENTICATED: 401,
         grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.ALREADY_EXISTS: 409,
         grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.UNIMPLEMENTED: 501,
         grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 504}
_STATIC = {"statistics.js": "text/javascript; charset=utf-8", "charts.js": "text/javascript; charset=utf-8",
           "statistics.css": "text/css; charset=utf-8"}


class CallFailed(Exception):
    """A call the hub refused: its gRPC status, message and field violations."""

    def __init__(self, code: grpc.StatusCode, message: str, violations: list[dict] | None = None):
        super().__init__(message)
        self.code, self.message, self.violations = code, message, violations or []


def _violations(details: bytes) -> list[dict]:
    if not details:
        return []
    status = status_pb2.Status.FromString(details)
    out = []
    for any_ in status.details:
        if any_.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            any_.Unpack(bad)
            out += [dict(field=v.field, description=v.description) for v in bad.field_violations]
    return out


class LocalCalls:
    """The hub's own unary methods, called for an identity the way the gRPC server runs
    them: on a lane of this process (`runner`), or forwarded to the writer process
    (`writer`), with the servicer's own handler in either case."""

    def __init__(self, servicers: dict[type, object], runner=None, writer=None):
        self.servicers, self.runner, self.writer = servicers, runner, writer
        self.methods = {(d.full_name, m.name): (n, cls, m) for n, (d, cls, m) in enumerate(unary_methods())}

    def has(self, service: str, method: str) -> bool:
        return (service, method) in self.methods

    async def call(self, service: str, method: str, request, identity: Identity, timeout: float = CALL_TIMEOUT):
        number, cls, m = self.methods[(service, method)]
        deadline = time.monotonic() + timeout
        if self.writer is not None:
            try:
                code, body = await self.writer.call(number, identity, None, request.SerializeToString(), deadline)
            except HubError as err:  # not run: its deadline, or the writer's load
                raise _failed(err) from None
            except WriterGone:
                raise CallFailed(grpc.StatusCode.UNAVAILABLE, "the hub's writer process restarted; try again") from None
            if code == 0:
                return response_class(m).FromString(body)
            status_code, message, details = answer_status(code, body)
            raise CallFailed(status_code, message, _violations(details))
        try:
            response = await self.runner.run(invoke, getattr(cls, m.name).__wrapped__, self.servicers[cls], request,
                                             identity, None, deadline=deadline)
        except HubError as err:
            raise _failed(err) from None
        return response_class(m).FromString(response) if isinstance(response, bytes) else response


def _failed(err: HubError) -> CallFailed:
    status = to_status(err)
    details = next((v for k, v in status.trailing_metadata or () if k == STATUS_DETAILS), b"")
    return CallFailed(status.code, status.details, _violations(details))


@dataclass
class WebHub:
    """What the HTTP port serves from."""
    metrics: Metrics
    registry: ClientRegistry
    calls: LocalCalls
    loop: asyncio.AbstractEventLoop

    def identify(self, header: str | None) -> Identity:
        return self.registry.identify([("authorization", header)] if header else [])

    def run(self, service: str, method: str, request, identity: Identity):
        if not self.calls.has(service, method):
            raise CallFailed(grpc.StatusCode.UNIMPLEMENTED, f"{service}/{method} is not served by this hub")
        future = asyncio.run_coroutine_threadsafe(self.calls.call(service, method, request, identity), self.loop)
        return future.result(CALL_TIMEOUT + 5)

    def viewer(self, identity: Identity) -> dict[str, Any]:
        """Who the viewer is, and what the page may offer them: the municipalities whose
        figures they may see (theirs; every one for a client of all 98) and the national
        totals, and the benefits within their data limits."""
        from hub.v1 import benefits_pb2
        listed = self.run(CATALOGUE, "ListBenefits", benefits_pb2.ListBenefitsRequest(), identity)
        benefits = [dict(code=b.code, name=b.name_da or b.code) for b in listed.benefits
                    if identity.benefits is None or b.code in identity.benefits]
        known = municipalities.all_municipalities()
        return dict(client_id=identity.client_id, role=identity.role.value,
                    municipalities=[dict(code=c, name=known[c].name if c in known else c)
                                    for c in sorted(identity.municipalities)],
                    benefits=benefits)

    def statistics(self, query: dict[str, str], identity: Identity) -> dict[str, Any]:
        from hub.v1 import statistics_pb2
        fields = statistics_pb2.GetStatisticsRequest.DESCRIPTOR.fields_by_name
        unknown = sorted(k for k in query if k not in fields)
        if unknown:
            raise CallFailed(grpc.StatusCode.INVALID_ARGUMENT, "unknown parameters",
                             [dict(field=k, description="is not a GetStatisticsRequest field") for k in unknown])
        request = statistics_pb2.GetStatisticsRequest(**query)
        response = self.run(STATISTICS, "GetStatistics", request, identity)
        return json_format.MessageToDict(response, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)


class _Handler(BaseHTTPRequestHandler):
    server_version = "sagshub"
    timeout = 30  # seconds a connection may sit idle (each holds a thread)
    hub: WebHub  # (set on the class made per server)

    def log_message(self, fmt, *args) -> None:  # (no stderr lines; requests are not logged, tokens never)
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        try:
            if path == "/metrics":
                self._metrics()
            elif path in ("/", "/statistics", "/statistics/"):
                self._static("statistics.html", "text/html; charset=utf-8")
            elif path.startswith("/static/") and path[len("/static/"):] in _STATIC:
                name = path[len("/static/"):]
                self._static(name, _STATIC[name])
            elif path == "/api/viewer":
                self._api(lambda identity: self.hub.viewer(identity))
            elif path == "/api/statistics":
                query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                self._api(lambda identity: self.hub.statistics(query, identity))
            elif path == "/favicon.ico":
                self._send(HTTPStatus.NO_CONTENT, b"", "text/plain")
            else:
                self._json(HTTPStatus.NOT_FOUND, dict(code="NOT_FOUND", message="no such page"))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _metrics(self) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept"))
        self._send(HTTPStatus.OK, encoder(self.hub.metrics.registry), content_type)

    def _static(self, name: str, content_type: str) -> None:
        body = resources.files("hub.api").joinpath("static", name).read_bytes()
        self._send(HTTPStatus.OK, body, content_type, cache="no-cache")

    def _api(self, answer: Callable[[Identity], Any]) -> None:
        try:
            identity = self.hub.identify(self.headers.get("Authorization"))
            self._json(HTTPStatus.OK, answer(identity))
        except Unauthenticated as err:
            self._json(HTTPStatus.UNAUTHORIZED, dict(code="UNAUTHENTICATED", message=err.message),
                       extra=(("WWW-Authenticate", "Bearer"),))
        except CallFailed as err:
            self._json(_HTTP.get(err.code, 500), dict(code=err.code.name, message=err.message,
                                                      field_violations=err.violations))
        except TimeoutError:
            self._json(HTTPStatus.GATEWAY_TIMEOUT, dict(code="DEADLINE_EXCEEDED", message="the hub did not answer"))
        except Exception:
            log.exception("web", path=urlsplit(self.path).path, code="INTERNAL")
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, dict(code="INTERNAL", message="internal error; the hub has "
                                                                                       "logged it"))

    def _json(self, status: int, body: Any, extra=()) -> None:
        self._send(status, json.dumps(body, ensure_ascii=False).encode(), "application/json; charset=utf-8",
                   extra=extra)

    def _send(self, status: int, body: bytes, content_type: str, *, cache: str = "no-store", extra=()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                                    "frame-ancestors 'none'")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class WebServer:
    """The HTTP port, served from threads of its own until `stop`."""

    def __init__(self, hub: WebHub, listen: str):
        host, _, port = listen.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        handler = type("Handler", (_Handler,), {"hub": hub})
        server = type("Server", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6 if ":" in host
                                                         else socket.AF_INET})
        self.httpd = server((host, int(port)), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs=dict(poll_interval=0.2),
                                        name="hub-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
