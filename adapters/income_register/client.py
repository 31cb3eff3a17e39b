"""The income register client: asks for a citizen's income for a range of months and
hands the records back as the delivery's receipt (the hub attaches them to the case as
an information item with provenance). A short in-call retry (tenacity) smooths over a
dropped connection; longer outages are the dispatcher's retries with backoff."""
from __future__ import annotations

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from hub.dispatch import messages as m
from hub.dispatch.ports import Delivery, DeliveryFailed, Receipt


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
        data = r.json()
        wanted = set(months)
        records = [rec for rec in data.get("records", []) if rec["income_period_start"][:7] in wanted]
        return Receipt(reference=data["reference"], data=dict(fetched_at=data["fetched_at"], records=records))

    def close(self) -> None:
        self._client.close()
