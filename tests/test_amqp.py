"""The AMQP bridge against the machine's RabbitMQ, reached through a TCP proxy that
the test cuts and restores: events produced while the broker is unreachable arrive
once it is back, every one, in order per case, as XML envelopes with routing keys
<municipality>.<benefit>.<event type>."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import grpc
import pika
import pytest
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from adapters.amqp.publisher import ENVELOPE_NS, HUB_NS, AmqpEventPublisher
from hub.ports import AMQP
from hub.store import tables
from hub.v1 import cases_pb2_grpc, common_pb2
from tests.conftest import LOG_FILE, RunningHub
from tests.dispatch_support import dispatcher
from tests.helpers import create_req, info_req
from tests.tcp_proxy import TcpProxy

BROKER = ("127.0.0.1", 5672)


@pytest.fixture
def hub(clean_db, clock):
    """A hub that relays every event to the broker too, as `hub serve` does with
    HUB_AMQP_URL (a writer process takes the setting with it when it starts)."""
    h = RunningHub(clean_db, clock, relay=(AMQP,))
    yield h
    h.stop()


@pytest.fixture
def broker():
    """A private exchange and a queue bound to all of it, on the real broker."""
    exchange = f"sagshub.test.{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.ConnectionParameters(*BROKER))
    ch = conn.channel()
    ch.exchange_declare(exchange, exchange_type="topic", durable=True)
    queue = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(queue, exchange, routing_key="#")
    yield exchange, ch, queue
    ch.exchange_delete(exchange)
    conn.close()


def _drain_queue(ch, queue) -> list[tuple[pika.spec.Basic.Deliver, pika.BasicProperties, bytes]]:
    out = []
    while True:
        method, props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append((method, props, body))


def test_events_reach_rabbitmq_once_in_effect_across_a_broker_outage(hub, backoffice, clock, broker):
    exchange, ch, queue = broker
    proxy = TcpProxy(BROKER)
    publisher = AmqpEventPublisher(f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F", exchange=exchange, timeout=2)
    d = dispatcher(hub.engine, clock, {AMQP: publisher}, timeouts={AMQP: 3})
    try:
        def walk():
            case = backoffice.CreateCase(create_req(channel=common_pb2.CHANNEL_PHONE))  # (processed by a person)
            backoffice.AddInformation(info_req(case.case_id))
        walk()
        assert d.drain() == 4

        proxy.cut()
        for _ in range(3):
            walk()
        d.drain()
        clock.advance(minutes=5)
        d.drain()
        with hub.engine.connect() as c:
            waiting = c.execute(sa.select(sa.func.count()).select_from(tables.outbox).where(
                tables.outbox.c.destination == AMQP, tables.outbox.c.status == "PENDING")).scalar_one()
        from tests.dispatch_support import statuses
        assert waiting == 12, statuses(hub.engine)

        proxy.restore()
        for _ in range(20):
            clock.advance(minutes=10)
            d.drain()
        with hub.engine.connect() as c:
            events = [dict(r._mapping) for r in c.execute(sa.select(tables.events).order_by(tables.events.c.seq))]
        got = _drain_queue(ch, queue)
        ids = [p.message_id for _, p, _ in got]
        assert set(ids) == {e["event_id"] for e in events}  # every event, ...
        first = {}
        for method, props, body in got:  # ... and a repeat is the same message (dropped by id)
            first.setdefault(props.message_id, (method.routing_key, body))
        by_case: dict[str, list[int]] = {}
        for e in events:
            key, body = first[e["event_id"]]
            assert key == f"101.BOLIGSTOETTE.{e['type']}"
            root = ET.fromstring(body)
            ns = {"k": ENVELOPE_NS, "h": HUB_NS}
            assert root.findtext("k:Beskedkuvert/k:Filtreringsdata/k:BeskedAnsvarligAktoer", namespaces=ns) \
                == "municipality:101"
            assert root.findtext("k:Beskedkuvert/k:Filtreringsdata/k:ObjektRegistrering/k:ObjektId",
                                 namespaces=ns) == e["case_id"]
            assert root.findtext("k:Beskeddata/h:Event/h:sequence", namespaces=ns) == str(e["seq"])
        for method, props, body in got:
            seq = int(ET.fromstring(body).findtext(f"{{{ENVELOPE_NS}}}Beskeddata/{{{HUB_NS}}}Event/{{{HUB_NS}}}sequence"))
            case = ET.fromstring(body).findtext(f".//{{{HUB_NS}}}case_id")
            by_case.setdefault(case, []).append(seq)
        for seqs in by_case.values():
            assert seqs == sorted(seqs), "in order per case"
        assert all(p.delivery_mode == 2 for _, p, _ in got)
    finally:
        publisher.close()
        proxy.close()


# ---- the exchange is there before the first event ------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _hub_serve(database_url, var, amqp_url, exchange, log_file):
    """`hub serve` as a user starts it, with HUB_AMQP_URL; yields a channel to it once
    it listens."""
    port = _free_port()
    env = dict(os.environ, HUB_DATABASE_URL=database_url, HUB_VAR_DIR=str(var), HUB_AMQP_URL=amqp_url,
               HUB_AMQP_EXCHANGE=exchange, HUB_CLIENTS_FILE=str(ROOT / "etc" / "clients.demo.toml"),
               HUB_LISTEN=f"127.0.0.1:{port}", HUB_DISPATCH_IDLE_SECONDS="0.05", HUB_LOG_FILE=str(log_file))
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        try:
            grpc.channel_ready_future(channel).result(timeout=60)
        except grpc.FutureTimeoutError:
            proc.kill()
            raise AssertionError("hub serve did not listen: " + proc.communicate()[0].decode()[-3000:])
        yield channel
    finally:
        channel.close()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_subscriber_binds_its_own_queue_before_the_first_event_and_receives_the_next(clean_db, database_url,
                                                                                        tmp_path):
    exchange = f"sagshub.test.{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.ConnectionParameters(*BROKER))
    ch = conn.channel()
    ch.exchange_delete(exchange)
    queue = f"sagshub.test.subscriber.{uuid.uuid4().hex[:8]}"
    try:
        with _hub_serve(database_url, tmp_path / "var", "amqp://guest:guest@127.0.0.1:5672/%2F", exchange,
                        LOG_FILE) as channel:
            # No event yet: the subscriber declares a durable queue of its own and binds it, as the README shows.
            ch.queue_declare(queue, durable=True)
            ch.queue_bind(queue, exchange, routing_key="101.BOLIGSTOETTE.#")
            cases = cases_pb2_grpc.CaseServiceStub(channel)
            case = cases.CreateCase(create_req(), metadata=[("authorization", "Bearer demo-backoffice")])
            got = None
            for _ in range(600):  # until the dispatcher has published (bounded: the hub relays within a second)
                got = ch.basic_get(queue, auto_ack=True)
                if got[0] is not None:
                    break
                conn.sleep(0.1)
            method, props, body = got
            assert method is not None, "the event did not reach the subscriber's queue"
            assert method.routing_key == "101.BOLIGSTOETTE.case.created"
            assert ET.fromstring(body).findtext(f".//{{{HUB_NS}}}case_id") == case.case_id
    finally:
        ch.queue_delete(queue)
        ch.exchange_delete(exchange)
        conn.close()


def test_a_broker_down_at_start_is_logged_and_the_hub_serves_all_the_same(clean_db, database_url, tmp_path):
    log_file = tmp_path / "hub.log"
    with _hub_serve(database_url, tmp_path / "var", f"amqp://guest:guest@127.0.0.1:{_free_port()}/%2F",
                    "sagshub.test.down", log_file) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    lines = [json.loads(x) for x in log_file.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
    [warning] = [x for x in lines if x.get("event") == "amqp.exchange_not_declared"]
    assert warning["exchange"] == "sagshub.test.down" and "guest" not in json.dumps(warning)
