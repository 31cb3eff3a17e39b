"""What the register clients share (income, CPR, rent): one JSON look-up over HTTP with a
short in-call retry (tenacity) for a dropped connection, its answer classified for the
dispatcher, and strict reading of the answer's fields.

- 200 with a JSON object: the answer, which the client reads field by field (`Fields`);
  a field of the wrong type or value refuses the whole answer for good, naming the
  field and never its value (a value may be a CPR number). The hub never guesses.
- 404 {"error": "not found"}: the register holds no such record, a permanent failure
  marked `not_found` (DeliveryFailed). Any other 404 (a wrong URL) is permanent too,
  but not marked: nothing was said about the citizen.
- 408, 429, 5xx, a timeout, no connection, a body that is not JSON: retried later by
  the dispatcher; any other 4xx: permanent (the register refuses the request).

Within the call only a connection that failed or dropped (a keep-alive connection the
register closed) is tried again, at once: a register that does not answer in time is
left to the dispatcher, whose own timeout for the delivery (30 s by default) three
waits of the client's timeout would outlast."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from hub.domain.cpr import redact
from hub.ports import DeliveryFailed

_SAFE_REFERENCE = re.compile(r"^[A-Za-z0-9._:/-]{1,80}$")


class Refused(ValueError):
    """A field of an answer that is not what the register's format says (its text names
    the field, never the value)."""


def safe_reference(value: Any) -> str:
    """A register's reference fit for an error text: short, plain, and no CPR number in it."""
    return redact(value) if isinstance(value, str) and _SAFE_REFERENCE.match(value) else "(unreadable reference)"


class RegisterClient:
    """An HTTP client of one register: `NAME` for error texts, `PATH` of its look-up."""
    NAME = "register"
    PATH = "/"

    def __init__(self, base_url: str, *, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    @retry(retry=retry_if_exception_type((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError,
                                          httpx.WriteError)),
           stop=stop_after_attempt(3), wait=wait_exponential_jitter(initial=0.1, max=1.0), reraise=True)
    def _post(self, body: dict) -> httpx.Response:
        return self._client.post(f"{self.base_url}{self.PATH}", json=body)

    def ask(self, body: dict) -> dict[str, Any]:
        """The register's answer to `body` (a JSON object with a text reference), or
        DeliveryFailed as the module's docstring says."""
        try:
            r = self._post(body)
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(f"{self.NAME} timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{self.NAME} unreachable ({type(exc).__name__})") from exc
        if r.status_code == 404 and _says_not_found(r):
            raise DeliveryFailed(f"{self.NAME}: not in the register", not_found=True)
        if r.status_code != 200:
            permanent = 400 <= r.status_code < 500 and r.status_code not in (408, 429)
            raise DeliveryFailed(f"{self.NAME} answered HTTP {r.status_code}", permanent=permanent)
        try:
            data = r.json()
        except ValueError as exc:
            raise DeliveryFailed(f"{self.NAME} answered with something that is not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("reference"), str) or not data["reference"]:
            raise DeliveryFailed(f"{self.NAME} answered without a reference", permanent=True)
        return data

    def refused(self, data: dict, problem: Refused | str) -> DeliveryFailed:
        return DeliveryFailed(f"{self.NAME} answer {safe_reference(data.get('reference'))} refused: {problem}",
                              permanent=True)

    def close(self) -> None:
        self._client.close()


def _a(v: Any) -> str:
    """The JSON type of a value, for an error text: "a float", "an int" (never the value)."""
    name = type(v).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _says_not_found(r: httpx.Response) -> bool:
    try:
        body = r.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "not found"


class Fields:
    """Strict reading of one JSON object of an answer, at `where` ("person",
    "household.members[2]"): each getter returns the value or raises Refused."""

    def __init__(self, value: Any, where: str):
        if not isinstance(value, dict):
            raise Refused(f"{where} is not an object")
        self.d, self.where = value, where

    def get(self, name: str, nullable: bool = False) -> Any:
        """The field as it is: present, and not null unless `nullable`."""
        if name not in self.d:
            raise Refused(f"{self.where}.{name} is missing")
        v = self.d[name]
        if v is None and not nullable:
            raise Refused(f"{self.where}.{name} is null")
        return v

    def _bad(self, name: str, what: str) -> Refused:
        return Refused(f"{self.where}.{name} is not {what}")

    def items(self, name: str) -> list[Any]:
        v = self.get(name)
        if not isinstance(v, list):
            raise self._bad(name, "a list")
        return v

    def text(self, name: str, *, nullable: bool = False) -> str | None:
        v = self.get(name, nullable)
        if v is not None and (not isinstance(v, str) or not v):
            raise self._bad(name, "text")
        return v

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        v = self.get(name, False)
        if v not in choices:
            raise self._bad(name, "one of " + ", ".join(choices))
        return v

    def whole(self, name: str, *, low: int = 0, nullable: bool = False, unit: str = "") -> int | None:
        v = self.get(name, nullable)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self._bad(name, f"a whole number{' of ' + unit if unit else ''} ({_a(v)})")
        if v < low:
            raise self._bad(name, f"at least {low}")
        return v

    def flag(self, name: str) -> bool:
        v = self.get(name, False)
        if not isinstance(v, bool):
            raise self._bad(name, f"true or false ({_a(v)})")
        return v

    def date(self, name: str, *, nullable: bool = False) -> str | None:
        v = self.get(name, nullable)
        if v is None:
            return None
        try:
            if not isinstance(v, str) or len(v) != 10:
                raise ValueError
            dt.date.fromisoformat(v)
        except ValueError:
            raise self._bad(name, "an ISO date (YYYY-MM-DD)") from None
        return v

    def time(self, name: str) -> str:
        v = self.get(name, False)
        try:
            if not isinstance(v, str) or dt.datetime.fromisoformat(v).tzinfo is None:
                raise ValueError
        except ValueError:
            raise self._bad(name, "an ISO time with its offset") from None
        return v

    def cpr(self, name: str, *, nullable: bool = False) -> str | None:
        v = self.get(name, nullable)
        if v is not None and not (isinstance(v, str) and len(v) == 10 and v.isascii() and v.isdigit()):
            raise self._bad(name, "a CPR number (10 digits)")
        return v
