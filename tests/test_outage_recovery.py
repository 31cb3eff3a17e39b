"""After an outage, a destination's backlog flows soon after it answers again: while
its messages back off, the dispatcher probes it with one of them every
HUB_DISPATCH_PROBE_SECONDS, and when the probe gets through the rest are due at once,
in order per case and each delivered once. Operators can do the same by hand
(RetryNow, `hubctl ops retry-now`)."""
from __future__ import annotations

import collections
import datetime as dt
import json
import threading
import time

import grpc
import pytest
import sqlalchemy as sa

from hub.dispatch.dispatcher import DispatchSettings
from hub.ports import ECONOMY, DeliveryFailed, Receipt
from hub.store import tables
from hub.v1 import operations_pb2, operations_pb2_grpc
from tests.dispatch_support import Webhook, dispatcher, enqueue_postings, statuses
from tests.helpers import details, rid, rpc_error

PROBE = 10  # seconds: the default probe interval, as the README documents it
OPERATOR = [("authorization", "Bearer t-operator")]


@pytest.fixture
def webhook():
    w = Webhook()
    yield w
    if w._thread is not None:
        w.stop()


def _outbox(engine) -> dict[str, dict]:
    c = tables.outbox.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c.message_id, c.status, c.attempts, c.next_attempt_at, c.last_error)
                            .order_by(c.id)).mappings().all()
    return {r["message_id"]: dict(r) for r in rows}


def _in_case_order(received: list[str], ids: list[str]) -> bool:
    by_case = collections.defaultdict(list)
    for mid in ids:
        by_case[mid.split("/")[1]].append(mid)
    return all([m for m in received if m.split("/")[1] == case] == expected for case, expected in by_case.items())


def _outage_then_recovery(engine, clock, webhook, **settings):
    """Postings for four cases, then 300 s of outage (150 s of HTTP 503, 150 s of
    connection refused, a fifth case arriving after two minutes), the dispatcher at
    work every 5 s; then the receiver answers again and the clock moves one probe
    interval on, and the dispatcher makes a few rounds. Returns the message ids and the
    receiver's request count when it came back."""
    d = dispatcher(engine, clock, {ECONOMY: webhook.adapter(timeout=0.5)}, timeouts={ECONOMY: 1.0}, **settings)
    ids = enqueue_postings(engine, clock, cases=4, per_case=3)
    webhook.mode = "503"
    for step in range(60):
        if step == 30:
            webhook.stop()
        if step == 24:
            ids += enqueue_postings(engine, clock, cases=1, per_case=3)
        d.run_once()
        clock.advance(seconds=5)
    box = _outbox(engine)
    assert {m["status"] for m in box.values()} == {"PENDING"} and not webhook.accepted
    backing_off = [m for m in box.values() if m["attempts"] > 0]
    assert len(backing_off) == 5 and min(m["attempts"] for m in backing_off) >= 6  # the heads of the five cases
    # Their own backoff would keep every one of them waiting for over a minute more.
    assert min(m["next_attempt_at"] for m in backing_off) > clock.now() + dt.timedelta(seconds=60)

    webhook.start()
    webhook.mode = "ok"
    came_back = webhook.requests
    clock.advance(seconds=PROBE)
    for _ in range(4):  # three messages a case: three rounds, and one to spare
        d.run_once()
    return ids, came_back


def test_the_backlog_flows_within_a_probe_interval_after_the_destination_answers_again(clean_db, clock, webhook):
    ids, came_back = _outage_then_recovery(clean_db, clock, webhook)
    assert set(statuses(clean_db).values()) == {"DELIVERED"}
    # Each message reached the receiver once, in order per case.
    assert sorted(webhook.order) == sorted(ids) and webhook.requests - came_back == len(ids)
    assert _in_case_order(webhook.order, ids)


def test_without_probes_the_backlog_waits_out_its_backoff(clean_db, clock, webhook):
    """The same outage with probes off: what the probe is for."""
    ids, came_back = _outage_then_recovery(clean_db, clock, webhook, probe_interval=0)
    assert set(statuses(clean_db).values()) == {"PENDING"} and webhook.requests == came_back


def test_a_failed_probe_changes_nothing_but_its_messages_last_error(clean_db, clock, webhook):
    ids = enqueue_postings(clean_db, clock, cases=2, per_case=2)
    d = dispatcher(clean_db, clock, {ECONOMY: webhook.adapter()}, backoff_initial=60.0, max_attempts=2)
    webhook.mode = "503"
    assert d.run_once() == 2  # both heads fail once: next attempt in 60-120 s
    before = _outbox(clean_db)
    requests = webhook.requests
    clock.advance(seconds=PROBE)
    assert d.run_once() == 1  # the probe: one of them, before its time
    after = _outbox(clean_db)
    assert webhook.requests == requests + 1
    [probed] = [m for m in ids if after[m]["last_error"] != before[m]["last_error"]]
    assert after[probed]["last_error"].startswith("probe: ") and "503" in after[probed]["last_error"]
    # Its attempts and its own backoff are as they were (a probe every 10 s through a long
    # outage must not use up its attempts: here one more would have made a dead letter).
    assert {k: v for k, v in after[probed].items() if k != "last_error"} == \
        {k: v for k, v in before[probed].items() if k != "last_error"}
    assert {m: after[m] for m in ids if m != probed} == {m: before[m] for m in ids if m != probed}
    clock.advance(seconds=PROBE / 2)
    assert d.run_once() == 0 and webhook.requests == requests + 1  # not again within the interval


def test_probing_through_a_long_outage_makes_no_dead_letter(clean_db, clock, webhook):
    """Had each probe counted as an attempt, a lone message probed every 10 s would use
    up its 40 attempts in under seven minutes."""
    [mid] = enqueue_postings(clean_db, clock, cases=1, per_case=1)
    d = dispatcher(clean_db, clock, {ECONOMY: webhook.adapter(timeout=0.5)})
    webhook.mode = "503"
    for _ in range(90):  # 15 minutes
        d.run_once()
        clock.advance(seconds=PROBE)
    message = _outbox(clean_db)[mid]
    assert message["status"] == "PENDING" and message["attempts"] < 12 < webhook.requests
    webhook.mode = "ok"
    clock.advance(seconds=PROBE)
    d.run_once()
    assert webhook.order == [mid]


def test_a_probe_that_gets_through_lets_the_rest_go_in_order_with_two_dispatchers(clean_db, clock):
    """Two dispatchers at work on one backlog as it recovers: each message is delivered
    once, never twice at the same time, and in order per case."""
    ids = enqueue_postings(clean_db, clock, cases=10, per_case=3)
    lock = threading.Lock()
    up, in_flight, overlaps, calls, order = [False], set(), [], collections.Counter(), []

    class Receiver:
        def deliver(self, delivery):
            with lock:
                if not up[0]:
                    raise DeliveryFailed("HTTP 503")
                if delivery.message_id in in_flight:
                    overlaps.append(delivery.message_id)
                in_flight.add(delivery.message_id)
                calls[delivery.message_id] += 1
            time.sleep(0.001)
            with lock:
                in_flight.discard(delivery.message_id)
                order.append(delivery.message_id)
            return Receipt()

    first = dispatcher(clean_db, clock, {ECONOMY: Receiver()})
    for _ in range(40):  # 200 s of outage: the heads fail and back off
        first.run_once()
        clock.advance(seconds=5)
    box = _outbox(clean_db)
    assert min(m["next_attempt_at"] for m in box.values() if m["attempts"]) > clock.now() + dt.timedelta(seconds=30)
    up[0] = True
    clock.advance(seconds=PROBE)
    dispatchers = [dispatcher(clean_db, clock, {ECONOMY: Receiver()}, batch_size=4) for _ in range(2)]
    errors = []

    def run(d):
        try:
            for _ in range(200):
                d.run_once()
                if len(order) == len(ids):
                    return
                time.sleep(0.002)
        except Exception as exc:  # pragma: no cover (reported below)
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors and not overlaps
    assert set(statuses(clean_db).values()) == {"DELIVERED"}
    assert set(calls) == set(ids) and set(calls.values()) == {1}
    assert _in_case_order(order, ids)


def _back_off(engine, clock, webhook, cases: int) -> list[str]:
    """Postings for `cases` cases whose heads have failed and back off."""
    ids = enqueue_postings(engine, clock, cases=cases, per_case=2)
    d = dispatcher(engine, clock, {ECONOMY: webhook.adapter()}, probe_interval=0)
    webhook.mode = "503"
    d.run_once()
    webhook.mode = "ok"
    assert d.run_once() == 0, "nothing is due: the failed ones back off"
    return ids


def test_retry_now_makes_a_destinations_backlog_due(hub, clock, webhook):
    ops = operations_pb2_grpc.OperationsServiceStub(hub.channel)
    ids = _back_off(hub.engine, clock, webhook, cases=3)
    req = operations_pb2.RetryNowRequest(request_id=rid(), destination="economy")
    assert ops.RetryNow(req, metadata=OPERATOR).made_due == 3
    d = dispatcher(hub.engine, clock, {ECONOMY: webhook.adapter()}, probe_interval=0)
    assert d.drain() == 6  # at once, without the clock moving
    assert sorted(webhook.order) == sorted(ids) and _in_case_order(webhook.order, ids)

    # A retry of the request: the first answer, and no new effect.
    more = _back_off(hub.engine, clock, webhook, cases=1)
    assert ops.RetryNow(req, metadata=OPERATOR).made_due == 3
    assert _outbox(hub.engine)[more[0]]["next_attempt_at"] > clock.now()
    assert ops.RetryNow(operations_pb2.RetryNowRequest(request_id=rid(), destination="economy"),
                        metadata=OPERATOR).made_due == 1

    err = rpc_error(lambda r: ops.RetryNow(r, metadata=OPERATOR),
                    operations_pb2.RetryNowRequest(request_id=rid(), destination="fax"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "destination" in details(err)[0]
    err = rpc_error(lambda r: ops.RetryNow(r, metadata=[("authorization", "Bearer t-backoffice")]),
                    operations_pb2.RetryNowRequest(request_id=rid(), destination="economy"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_hubctl_ops_retry_now(hub, clock, webhook, capsys):
    from clients.cli.hubctl import main
    ids = _back_off(hub.engine, clock, webhook, cases=2)
    assert main(["--address", hub.address, "--token", "t-operator", "ops", "retry-now", "economy"]) == 0
    assert json.loads(capsys.readouterr().out)["made_due"] in ("2", 2)
    box = _outbox(hub.engine)
    assert all(box[m]["next_attempt_at"] <= clock.now() for m in ids)


def test_the_probe_interval_from_the_environment():
    assert DispatchSettings().probe_interval == PROBE
    from hub.settings import Settings
    assert Settings.from_env({"HUB_DISPATCH_PROBE_SECONDS": "3"}).dispatcher.probe_interval == 3.0
    assert Settings.from_env({"HUB_DISPATCH_PROBE_SECONDS": "0"}).dispatcher.probe_interval == 0
