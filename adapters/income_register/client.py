"""The income register client: asks for a citizen's income for a range of months and
hands the records back as the delivery's receipt (the hub attaches them to the case as
an information item with provenance). A short in-call retry (tenacity) smooths over a
dropped connection; longer outages are the dispatcher's retries with backoff.

Money in the register's records is an integer number of øre: every `*_oere` field and
every amount in `fields` (13-16). An answer with any other money value (a decimal such
as 927555.0, a string) is refused whole, a permanent failure naming the field: the hub
never guesses at an amount."""
from __future__ import annotations

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from hub.ports import messages as m
from hub.ports import Delivery, DeliveryFailed, Receipt


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def money_problem(records) -> str:
    """What is wrong with the money in the records ("" when nothing): each must be an
    object whose `*_oere` fields and `fields` amounts are integers (øre)."""
    if not isinstance(records, list):
        return "its records are not a list"
    for n, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("income_period_start"), str):
            return f"record {n} is not an income record"
        amounts = [(k, v) for k, v in rec.items() if k.endswith("_oere")]
        fields = rec.get("fields", {})
        if not isinstance(fields, dict):
            return f"record {n}: fields is not an object"
        amounts += [(f"fields.{k}", v) for k, v in fields.items()]
        for name, v in amounts:
            if not _whole(v):
                return f"record {n}: {name} is not a whole number of øre (a {type(v).__name__})"
    return ""


class IncomeRegisterClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    @retry(retry=retry_if_exception_type(httpx.TransportError), stop=stop_after_attempt(3),
           wait=wait_exponential_jitter(initial=0.1, max=1.0), reraise=True)
    def _post(self, body: dict) -> httpx.Response:
        return self._client.post(f"{self.base_url}/v1/income", json=body)

    def deliver(self, d: Delivery) -> Receipt:
        if not isinstance(d.message, m.RegisterRequest) or not d.message.months:
            raise m.cannot_render("the income register client", d.message)
        months = d.message.months
        body = dict(cpr=d.message.cpr, from_month=months[0], to_month=months[-1])
        try:
            r = self._post(body)
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(f"income register timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"income register unreachable ({type(exc).__name__})") from exc
        if r.status_code != 200:
            permanent = 400 <= r.status_code < 500 and r.status_code not in (408, 429)
            raise DeliveryFailed(f"income register answered HTTP {r.status_code}", permanent=permanent)
        try:
            data = r.json()
        except ValueError as exc:
            raise DeliveryFailed("income register answered with something that is not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("reference"), str):
            raise DeliveryFailed("income register answered without a reference", permanent=True)
        problem = money_problem(data.get("records", []))
        if problem:
            raise DeliveryFailed(f"income register answer {data['reference']} refused: {problem}", permanent=True)
        wanted = set(months)
        records = [rec for rec in data.get("records", []) if rec["income_period_start"][:7] in wanted]
        return Receipt(reference=data["reference"], data=dict(fetched_at=data["fetched_at"], records=records))

    def close(self) -> None:
        self._client.close()
