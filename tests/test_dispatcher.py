"""The dispatcher's guarantees: whatever fails and for however long, every message is
delivered exactly once in effect, in order per case and destination; permanent
failures go to dead letters and come back on replay; operators can pause a
destination; two dispatchers never deliver the same message at the same time."""
from __future__ import annotations

import collections
import datetime as dt
import random
import threading
import time

import grpc
import pytest

from hub.ports import ECONOMY, Receipt
from hub.v1 import operations_pb2, operations_pb2_grpc
from tests.dispatch_support import Webhook, dispatcher, enqueue_postings, statuses
from tests.helpers import rid, rpc_error


@pytest.fixture
def webhook():
    w = Webhook()
    yield w
    if w._thread is not None:
        w.stop()


def _by_case(ids):
    out = collections.defaultdict(list)
    for mid in ids:
        out[mid.split("/")[1]].append(mid)
    return out


def test_a_long_outage_loses_nothing_duplicates_nothing_and_keeps_order(clean_db, clock, webhook):
    ids = enqueue_postings(clean_db, clock, cases=5, per_case=4)
    d = dispatcher(clean_db, clock, {ECONOMY: webhook.adapter(timeout=0.3)}, timeouts={ECONOMY: 0.5})

    def outage(mode, hours):
        end = clock.now() + dt.timedelta(hours=hours)
        while clock.now() < end:
            d.run_once()
            clock.advance(minutes=7)
        assert set(statuses(clean_db).values()) == {"PENDING"}, f"nothing is lost or given up during {mode}"

    webhook.mode = "503"
    outage("HTTP 503", 6)
    webhook.stop()
    outage("connection refused", 6)
    webhook.start()
    webhook.mode, webhook.slow_seconds = "slow", 0.6
    outage("timeouts", 1)
    webhook.mode = "ok"
    for _ in range(40):  # the backoff may have reached its cap of an hour
        d.drain()
        clock.advance(minutes=10)
    assert set(statuses(clean_db).values()) == {"DELIVERED"}
    # Exactly once in effect: the receiver has each message once (its idempotency key
    # absorbed the retries of messages it had accepted while the caller timed out).
    assert sorted(webhook.accepted) == sorted(ids)
    assert webhook.requests > len(ids)
    for case, expected in _by_case(ids).items():
        assert [m for m in webhook.order if m.split("/")[1] == case] == expected


def test_backoff_grows_with_jitter_up_to_the_cap(clean_db, clock):
    d = dispatcher(clean_db, clock, {}, backoff_initial=2.0, backoff_max=3600.0)
    waits = [d.backoff(n).total_seconds() for n in range(1, 16)]
    assert 2 <= waits[0] <= 4 and 16 <= waits[3] <= 18
    assert all(w <= 3600 for w in waits) and waits[-1] == 3600


def test_a_permanent_failure_is_dead_lettered_and_replay_delivers_it(hub, clock, webhook):
    ops = operations_pb2_grpc.OperationsServiceStub(hub.channel)
    md = [("authorization", "Bearer t-operator")]
    ids = enqueue_postings(hub.engine, clock, cases=1, per_case=2)
    d = dispatcher(hub.engine, clock, {ECONOMY: webhook.adapter()})
    webhook.mode = "400"
    assert d.run_once() == 1
    assert statuses(hub.engine) == {ids[0]: "DEAD", ids[1]: "PENDING"}
    clock.advance(days=1)
    assert d.drain() == 0, "the later message for the case waits behind the dead letter"

    dead = ops.ListOutboxMessages(operations_pb2.ListOutboxMessagesRequest(
        status=operations_pb2.OUTBOX_STATUS_DEAD), metadata=md).messages
    assert [(m.message_id, m.attempts) for m in dead] == [(ids[0], 1)]
    assert "HTTP 400" in dead[0].last_error and dead[0].dead_time.seconds
    summary = {s.destination: s for s in ops.GetOutboxSummary(operations_pb2.GetOutboxSummaryRequest(),
                                                               metadata=md).destinations}
    assert (summary["economy"].pending, summary["economy"].dead) == (1, 1)

    webhook.mode = "ok"
    req = operations_pb2.ReplayDeadLettersRequest(request_id=rid(), message_id=ids[0])
    assert ops.ReplayDeadLetters(req, metadata=md).replayed == 1
    assert ops.ReplayDeadLetters(req, metadata=md).replayed == 1  # a retry: the same answer, no new effect
    assert d.drain() == 2
    assert webhook.order == ids
    err = rpc_error(lambda r: ops.ReplayDeadLetters(r, metadata=md),
                    operations_pb2.ReplayDeadLettersRequest(request_id=rid(), message_id=ids[0]))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = rpc_error(lambda r: ops.ReplayDeadLetters(r, metadata=[("authorization", "Bearer t-backoffice")]),
                    operations_pb2.ReplayDeadLettersRequest(request_id=rid(), all=True))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_too_many_attempts_dead_letters_and_replay_all(hub, clock, webhook):
    ops = operations_pb2_grpc.OperationsServiceStub(hub.channel)
    md = [("authorization", "Bearer t-operator")]
    ids = enqueue_postings(hub.engine, clock, cases=3, per_case=1)
    d = dispatcher(hub.engine, clock, {ECONOMY: webhook.adapter()}, max_attempts=3)
    webhook.mode = "503"
    for _ in range(3):
        d.drain()
        clock.advance(hours=2)
    assert set(statuses(hub.engine).values()) == {"DEAD"}
    webhook.mode = "ok"
    assert ops.ReplayDeadLetters(operations_pb2.ReplayDeadLettersRequest(request_id=rid(), all=True),
                                 metadata=md).replayed == 3
    d.drain()
    assert sorted(webhook.accepted) == sorted(ids)


def test_a_paused_destination_waits_and_others_go_on(hub, clock, webhook):
    ops = operations_pb2_grpc.OperationsServiceStub(hub.channel)
    md = [("authorization", "Bearer t-operator")]
    economy = enqueue_postings(hub.engine, clock, cases=2, per_case=1)
    other = enqueue_postings(hub.engine, clock, cases=2, per_case=1, destination="digital_post")
    delivered = []

    class Recorder:
        def deliver(self, delivery):
            delivered.append(delivery.message_id)
            return Receipt()
    d = dispatcher(hub.engine, clock, {ECONOMY: webhook.adapter(), "digital_post": Recorder()})
    state = ops.PauseDestination(operations_pb2.PauseDestinationRequest(request_id=rid(), destination="economy"),
                                 metadata=md)
    assert state.paused
    d.drain()
    assert sorted(delivered) == sorted(other) and not webhook.accepted
    summary = {s.destination: s for s in ops.GetOutboxSummary(operations_pb2.GetOutboxSummaryRequest(),
                                                               metadata=md).destinations}
    assert summary["economy"].paused and summary["economy"].pending == 2
    err = rpc_error(lambda r: ops.PauseDestination(r, metadata=md),
                    operations_pb2.PauseDestinationRequest(request_id=rid(), destination="fax"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    ops.ResumeDestination(operations_pb2.ResumeDestinationRequest(request_id=rid(), destination="economy"),
                          metadata=md)
    d.drain()
    assert sorted(webhook.accepted) == sorted(economy)


def test_two_dispatchers_never_deliver_the_same_message_at_once(clean_db, clock):
    ids = enqueue_postings(clean_db, clock, cases=40, per_case=5)
    lock = threading.Lock()
    in_flight: set[str] = set()
    overlaps, calls = [], collections.Counter()
    # Each dispatcher's first delivery waits (up to 10 s) until the other has one in
    # hand too: the two are then at work at once for certain. Left to the scheduler,
    # one of them once claimed all 200 while the other's busy handler was backing off
    # from SQLite's write lock.
    both_started = threading.Barrier(2, timeout=10)

    class Slowish:
        def __init__(self):
            self.started = False

        def deliver(self, delivery):
            with lock:
                if delivery.message_id in in_flight:
                    overlaps.append(delivery.message_id)
                in_flight.add(delivery.message_id)
                calls[delivery.message_id] += 1
                first, self.started = not self.started, True
            if first:
                both_started.wait()
            time.sleep(random.uniform(0, 0.002))
            with lock:
                in_flight.discard(delivery.message_id)
            return Receipt()

    dispatchers = [dispatcher(clean_db, clock, {ECONOMY: Slowish()}, batch_size=7) for _ in range(2)]
    counts = [0, 0]

    def run(i):
        while True:
            n = dispatchers[i].drain()
            counts[i] += n
            if all(s == "DELIVERED" for s in statuses(clean_db).values()):
                return
            time.sleep(0.005)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not overlaps
    assert set(calls) == set(ids) and set(calls.values()) == {1}
    assert all(counts), f"both dispatchers took part: {counts}"


def test_settings_from_the_environment():
    from hub.settings import SettingError, Settings
    s = Settings.from_env({"HUB_DISPATCH_TIMEOUT_ECONOMY_SECONDS": "5", "HUB_DISPATCH_LEASE_SECONDS": "20",
                           "HUB_DISPATCH_MAX_ATTEMPTS": "7"}).dispatcher
    assert (s.timeout("economy"), s.timeout("archive"), s.max_attempts) == (5.0, 30.0, 7)
    with pytest.raises(ValueError, match="lease"):
        s.check()  # 20 s lease, 30 s default timeout: nothing could ever be delivered
    with pytest.raises(SettingError, match="HUB_DISPATCH_MAX_ATTEMPTS must be a whole number, not 'many'"):
        Settings.from_env({"HUB_DISPATCH_MAX_ATTEMPTS": "many"})
