"""What the register simulators share: a small JSON-over-HTTP server on a real socket,
deterministic randomness from a key, fixtures that win over the generated data, and
outages on request. The registers themselves (income, CPR, rent) say what they serve.

Every simulator answers

    GET    /health              -> {"status": "ok"}
    GET    /v1/stats            -> {"requests": n}   (look-ups answered, 200 or 404)
    PUT    /v1/fixtures/<name>  -> 204               (the register's fixtures: person, dwelling, income)
    POST   /v1/<look-up>/batch  -> 200               (many keys at once, up to 1,000: `batch`; the
                                 register's docstring says its form)
    PUT    /v1/fixtures/outage  {"down": true, "seconds": 30}  -> 204  (503 to every look-up
                                 until {"down": false} or the seconds have passed; no seconds: until then)
    DELETE /v1/fixtures         -> 204               (every fixture gone, and up again)

and 404 {"error": "no such path"} to any other path, so that a client pointed at the
wrong place never reads it as "not in the register" (404 {"error": "not found"}).
Nothing is logged: requests carry CPR numbers. The fixture endpoints are for the
simulators only (staging a case by hand after `make run`); the real registers have none."""
from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

MAX_BODY = 1 << 20


def rng(*parts: str) -> random.Random:
    """A random stream fixed by its key: the same parts always draw the same numbers."""
    return random.Random(int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big"))


class BadRequest(ValueError):
    """The request is not one the register reads: 400 with this text (never a CPR number)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client's connection serves many look-ups
    # An answer goes out at once: with Nagle's algorithm on, a small answer written after
    # its headers waited for the client's delayed ACK, 40 ms a look-up.
    disable_nagle_algorithm = True
    server: "RegisterSimulator"

    def log_message(self, *args) -> None:  # no access log: requests carry CPR numbers
        pass

    def _json(self, status: int, body: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True  # its bytes (if any) are left unread
            raise BadRequest("a JSON body is required")
        try:
            return json.loads(self.rfile.read(length))
        except ValueError:
            raise BadRequest("the body is not JSON") from None

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(200, dict(status="ok"))
        elif self.path == "/v1/stats":
            self._json(200, dict(requests=self.server.requests))
        else:
            self._json(404, dict(error="no such path"))

    def do_POST(self) -> None:
        lookup = self.server.lookups().get(self.path)
        if lookup is None:
            return self._json(404, dict(error="no such path"))
        try:
            body = self._body()
        except BadRequest as exc:
            return self._json(400, dict(error=f"bad request: {exc}"))
        if self.server.is_down():
            return self._json(503, dict(error="unavailable"))
        try:
            status, answer = lookup(body)
        except BadRequest as exc:
            return self._json(400, dict(error=f"bad request: {exc}"))
        with self.server.lock:
            self.server.requests += 1
        self._json(status, answer)

    def do_PUT(self) -> None:
        name = self.path.removeprefix("/v1/fixtures/")
        handler = self.server.fixture_handlers().get(name) if name != self.path else None
        if handler is None:
            return self._json(404, dict(error="no such path"))
        try:
            handler(self._body())
        except BadRequest as exc:
            return self._json(400, dict(error=f"bad request: {exc}"))
        self._json(204)

    def do_DELETE(self) -> None:
        if self.path != "/v1/fixtures":
            return self._json(404, dict(error="no such path"))
        self.server.clear_fixtures()
        self._json(204)


class RegisterSimulator(ThreadingHTTPServer):
    """A register on a real socket (port 0: any free one). Subclasses name their look-ups
    (`lookups`: path -> function of the JSON body giving (status, answer)) and their
    fixtures (`fixture_handlers`: name -> function of the JSON body)."""
    daemon_threads = True
    name = "register"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), _Handler)
        self.requests = 0
        self.lock = threading.Lock()
        self._down_until: float | None = None  # time.monotonic() until which look-ups get 503

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def start_in_thread(self):
        threading.Thread(target=self.serve_forever, daemon=True, name=f"{self.name}-sim").start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    # ---- outages -------------------------------------------------------------------------

    def down(self, seconds: float | None = None) -> None:
        """Every look-up answers 503 from now on: until up(), or for `seconds`."""
        with self.lock:
            self._down_until = math.inf if seconds is None else time.monotonic() + seconds

    def up(self) -> None:
        with self.lock:
            self._down_until = None

    def is_down(self) -> bool:
        with self.lock:
            return self._down_until is not None and time.monotonic() < self._down_until

    def _outage(self, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("down"), bool):
            raise BadRequest('outage must be {"down": true|false, "seconds": optional number}')
        seconds = body.get("seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
            raise BadRequest("seconds must be a positive number")
        self.down(seconds) if body["down"] else self.up()

    # ---- what a register adds ----------------------------------------------------------------

    def lookups(self) -> dict[str, Callable[[Any], tuple[int, dict]]]:
        return {}

    def fixture_handlers(self) -> dict[str, Callable[[Any], None]]:
        return {"outage": self._outage}

    def clear_fixtures(self) -> None:
        self.up()


def serve(simulator: RegisterSimulator) -> int:
    """Run one simulator in the foreground until interrupted (each register's `main`)."""
    print(f"{simulator.name} simulator on {simulator.url}", flush=True)
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def required(body: Any, *names: str) -> list[Any]:
    """The named fields of a JSON object body, or BadRequest naming the first missing one."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    missing = [n for n in names if n not in body]
    if missing:
        raise BadRequest(f"{missing[0]} is required")
    return [body[n] for n in names]


MAX_BATCH = 1000  # keys per batch look-up


def batch(body: Any, name: str, check: Callable[[Any], Any]) -> list[Any]:
    """The list `name` of a batch look-up's body: 1 to MAX_BATCH keys, each once, each
    read by `check` (BadRequest naming the key's place, never the key)."""
    (keys,) = required(body, name)
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_BATCH:
        raise BadRequest(f"{name} must be a list of 1 to {MAX_BATCH} keys")
    out = []
    for n, key in enumerate(keys):
        try:
            out.append(check(key))
        except BadRequest:
            raise BadRequest(f"{name}[{n}] is not one") from None
    if len(set(out)) != len(out):
        raise BadRequest(f"{name} holds a key more than once")
    return out


def cpr_shaped(value: Any) -> str:
    if not (isinstance(value, str) and len(value) == 10 and value.isascii() and value.isdigit()):
        raise BadRequest("cpr must be 10 digits")
    return value
