"""The municipality's local control unit, HTTP webhook: each message is POSTed as the
JSON document of adapters.control_unit.findings, with the header Idempotency-Key (the
message id) so that the receiver can drop a repeat, as the economy webhook does.
2xx is delivered (a Location header becomes the reference); 4xx is refused for good
(408, 425 and 429 are retried); 5xx, timeouts and connection errors are retried by the
dispatcher. What the receiver answers goes into the error text without the citizen's
CPR number, however it was echoed back."""
from __future__ import annotations

import httpx

from adapters.control_unit.findings import document, scrub
from hub.ports import Delivery, DeliveryFailed, Receipt

ADAPTER = "the control unit's webhook"
RETRYABLE_4XX = {408, 425, 429}


class ControlUnitWebhook:
    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None):
        self.url = url
        self._client = httpx.Client(timeout=timeout, headers=headers or {})

    def deliver(self, d: Delivery) -> Receipt:
        body = document(d, ADAPTER)
        try:
            r = self._client.post(self.url, json=body, headers={"Idempotency-Key": d.message_id})
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(f"control unit webhook timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"control unit webhook unreachable ({type(exc).__name__}: "
                                 f"{scrub(d, str(exc))})") from exc
        if 200 <= r.status_code < 300:
            return Receipt(reference=scrub(d, r.headers.get("Location", d.message_id)))
        permanent = 400 <= r.status_code < 500 and r.status_code not in RETRYABLE_4XX
        raise DeliveryFailed(f"control unit webhook answered HTTP {r.status_code}: {scrub(d, r.text)[:200]}",
                             permanent=permanent)

    def close(self) -> None:
        self._client.close()
