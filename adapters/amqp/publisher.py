"""The AMQP bridge: every event, taken from the outbox (so nothing is lost while the
broker is down), published to a RabbitMQ topic exchange with routing key
<municipality>.<benefit>.<event type>, as a persistent message with publisher
confirms. The body is an XML envelope in the style of KOMBIT's Beskedfordeler event
message (Haendelsesbesked): sender authority, allowed recipient, object reference and
creation time around the event. The AMQP message id is the event id: a consumer drops
a repeat (after a crash between confirm and record, the message is published again).

The exchange (topic, durable) is declared when the hub starts (`declare_exchange`,
from `hub serve` and `hub dispatch`), so a subscriber can bind its own queue before the
first event; the publisher declares it again on every new connection, so an exchange
deleted or missing at start (the broker was down) is there from the first delivery on."""
from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET

import pika
from pika.exceptions import AMQPError, NackError, UnroutableError

from hub.ports import messages as m
from hub.ports import Delivery, DeliveryFailed, Receipt

EXCHANGE = "sagshub.events"
ENVELOPE_NS = "urn:oio:besked:kuvert:1.0"
HUB_NS = "urn:sagshub:hub:v1:event"


def routing_key(event: dict) -> str:
    def part(v: str | None) -> str:
        return (v or "none").replace(".", "_")
    return f"{part(event.get('municipality_code'))}.{part(event.get('benefit_code'))}.{event['type']}"


def envelope(event: dict) -> bytes:
    ET.register_namespace("", ENVELOPE_NS)
    ET.register_namespace("hub", HUB_NS)

    def el(parent, tag, text=None, ns=ENVELOPE_NS):
        e = ET.SubElement(parent, f"{{{ns}}}{tag}")
        if text is not None:
            e.text = str(text)
        return e

    municipality = event.get("municipality_code") or ""
    root = ET.Element(f"{{{ENVELOPE_NS}}}Haendelsesbesked", {"version": "1.0"})
    el(el(root, "BeskedId"), "UUIDIdentifikator", event["event_id"])
    el(root, "BeskedVersion", "1.0")
    kuvert = el(root, "Beskedkuvert")
    filt = el(kuvert, "Filtreringsdata")
    el(filt, "BeskedType", event["type"])
    el(filt, "BeskedAnsvarligAktoer", f"municipality:{municipality}" if municipality else "sagshub")
    el(filt, "TilladtModtager", f"municipality:{municipality}" if municipality else "")
    obj = el(filt, "ObjektRegistrering")
    el(obj, "ObjektId", event.get("case_id") or "")
    el(obj, "ObjektType", "sag")
    el(obj, "ObjektHandling", event["type"])
    el(filt, "Ydelse", event.get("benefit_code") or "")
    levering = el(kuvert, "Leveranceinformation")
    el(levering, "DannelsesTidspunkt", event["occurred_at"])
    el(levering, "Sekvensnummer", event["sequence"])
    data = el(root, "Beskeddata")
    body = el(data, "Event", ns=HUB_NS)
    for key in ("sequence", "event_id", "type", "occurred_at", "case_id", "municipality_code", "benefit_code",
                "client_id"):
        el(body, key, event.get(key) or "", ns=HUB_NS)
    el(body, "payload", json.dumps(event.get("payload") or {}, ensure_ascii=False, sort_keys=True), ns=HUB_NS)
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


def _parameters(url: str, timeout: float) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.socket_timeout = timeout
    params.blocked_connection_timeout = timeout
    params.connection_attempts = 1
    return params


def declare_exchange(url: str, exchange: str = EXCHANGE, *, timeout: float = 5.0) -> None:
    """Declare the events exchange (topic, durable; a no-op when it exists) on a
    connection of its own. Raises pika's AMQPError or OSError when the broker cannot be
    reached or refuses."""
    conn = pika.BlockingConnection(_parameters(url, timeout))
    try:
        conn.channel().exchange_declare(exchange, exchange_type="topic", durable=True)
    finally:
        if conn.is_open:
            conn.close()


class AmqpEventPublisher:
    def __init__(self, url: str, *, exchange: str = EXCHANGE, timeout: float = 5.0):
        self.params = _parameters(url, timeout)
        self.exchange = exchange
        self._lock = threading.Lock()  # a pika connection belongs to one thread at a time
        self._conn: pika.BlockingConnection | None = None
        self._channel = None

    def _open(self):
        if self._conn is None or self._conn.is_closed or self._channel is None or self._channel.is_closed:
            self.close()
            self._conn = pika.BlockingConnection(self.params)
            self._channel = self._conn.channel()
            self._channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            self._channel.confirm_delivery()
        return self._channel

    def deliver(self, d: Delivery) -> Receipt:
        if not isinstance(d.message, m.EventNotice):
            raise m.cannot_render("the AMQP bridge", d.message)
        event = d.message.to_payload()
        props = pika.BasicProperties(message_id=event["event_id"], delivery_mode=pika.DeliveryMode.Persistent,
                                     content_type="application/xml", type=event["type"],
                                     timestamp=None, headers={"sequence": event["sequence"]})
        with self._lock:
            try:
                self._open().basic_publish(self.exchange, routing_key(event), envelope(event), props)
            except (NackError, UnroutableError) as exc:
                self.close()
                raise DeliveryFailed(f"broker refused the message ({type(exc).__name__})") from exc
            except (AMQPError, OSError) as exc:
                self.close()
                raise DeliveryFailed(f"broker unreachable ({type(exc).__name__})") from exc
        return Receipt(reference=f"{self.exchange}/{routing_key(event)}")

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
