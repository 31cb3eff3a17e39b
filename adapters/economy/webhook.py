"""Economy system, HTTP webhook: each message is POSTed as JSON with an Idempotency-Key
header (the message id), so the receiver can drop a repeat. The body is
{"message_id", "kind", "caused_at", "postings": [...]}, the postings being the lines
of adapters.economy.postings (at least one). 2xx is delivered; 4xx is permanent (the
receiver refuses the message; 408 and 429 are retried); 5xx, connection errors and
timeouts are retried by the dispatcher."""
from __future__ import annotations

import httpx

from adapters.economy.postings import posting_lines
from hub.ports import Delivery, DeliveryFailed, Receipt

RETRYABLE_4XX = {408, 425, 429}


class EconomyWebhook:
    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None):
        self.url = url
        self._client = httpx.Client(timeout=timeout, headers=headers or {})

    def deliver(self, d: Delivery) -> Receipt:
        body = dict(message_id=d.message_id, kind=d.message.KIND, caused_at=d.created_at.isoformat(),
                    postings=posting_lines(d, "the economy webhook"))
        try:
            r = self._client.post(self.url, json=body, headers={"Idempotency-Key": d.message_id})
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(f"economy webhook timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"economy webhook unreachable ({type(exc).__name__}: {exc})") from exc
        if 200 <= r.status_code < 300:
            return Receipt(reference=r.headers.get("Location", d.message_id))
        permanent = 400 <= r.status_code < 500 and r.status_code not in RETRYABLE_4XX
        raise DeliveryFailed(f"economy webhook answered HTTP {r.status_code}: {r.text[:200]}", permanent=permanent)

    def close(self) -> None:
        self._client.close()
