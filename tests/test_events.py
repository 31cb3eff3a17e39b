"""EventService over a real channel: durable subscriptions resume where they stopped
(after a disconnect and after a hub restart) with nothing missing and order kept;
filters and data limits hold; an idle stream gets heartbeats."""
from __future__ import annotations

import threading

import grpc
import pytest
import sqlalchemy as sa

from hub.store import tables
from hub.v1 import common_pb2, events_pb2, events_pb2_grpc
from tests.conftest import RunningHub
from tests.helpers import create_req, info_req, rid, rpc_error

ECONOMY = [("authorization", "Bearer t-economy-101")]


def _stub(hub) -> events_pb2_grpc.EventServiceStub:
    return events_pb2_grpc.EventServiceStub(hub.channel)


def _take(hub, request, n, metadata=ECONOMY, timeout=10) -> list[events_pb2.SubscribeResponse]:
    """Read n items from a stream, then hang up (as a consumer that stops)."""
    call = _stub(hub).Subscribe(request, metadata=metadata, timeout=timeout)
    out = []
    for item in call:
        out.append(item)
        if len(out) == n:
            call.cancel()
            break
    return out


def _events_in_db(engine, municipality=None) -> list[tuple[int, str]]:
    e = tables.events.c
    q = sa.select(e.seq, e.type).order_by(e.seq)
    if municipality:
        q = q.where(e.municipality_code == municipality)
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(q)]


def _walk(client, municipality="101", n=1):
    for _ in range(n):
        # (by phone: processed by a person, so that the hub adds no steps of its own)
        case = client.CreateCase(create_req(municipality=municipality, channel=common_pb2.CHANNEL_PHONE))
        client.AddInformation(info_req(case.case_id))


def test_a_durable_subscription_resumes_after_disconnect_and_restart(hub, backoffice, clock):
    stub = _stub(hub)
    sub = stub.CreateSubscription(events_pb2.CreateSubscriptionRequest(
        request_id=rid(), name="ledger", filter=events_pb2.EventFilter(municipality_codes=["101"])), metadata=ECONOMY)
    assert sub.acked_sequence == 0
    _walk(backoffice, n=3)
    _walk(backoffice, municipality="751")  # not this subscriber's
    expected = _events_in_db(hub.engine, "101")

    first = _take(hub, events_pb2.SubscribeRequest(subscription="ledger"), 5)
    got = [(i.event.sequence, i.event.type) for i in first]
    assert got == expected[:5]
    # Processed the first four, then the consumer died before acknowledging the fifth.
    stub.AckEvents(events_pb2.AckEventsRequest(name="ledger", sequence=got[3][0]), metadata=ECONOMY)
    _walk(backoffice, n=2)

    # The hub restarts; the consumer reconnects.
    engine = hub.engine
    hub.stop()
    again = RunningHub(engine, clock)
    try:
        expected = _events_in_db(engine, "101")
        rest = _take(again, events_pb2.SubscribeRequest(subscription="ledger"), len(expected) - 4)
        assert [(i.event.sequence, i.event.type) for i in rest] == expected[4:]  # the fifth again, then on
        shown = _stub(again).GetSubscription(events_pb2.GetSubscriptionRequest(name="ledger"), metadata=ECONOMY)
        assert shown.acked_sequence == got[3][0]
        # The cursor never moves back.
        back = _stub(again).AckEvents(events_pb2.AckEventsRequest(name="ledger", sequence=1), metadata=ECONOMY)
        assert back.acked_sequence == got[3][0]
        err = rpc_error(lambda r: _stub(again).AckEvents(r, metadata=ECONOMY),
                        events_pb2.AckEventsRequest(name="ledger", sequence=10**9))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        again.stop()


def test_events_are_never_outside_the_callers_municipalities(hub, backoffice):
    _walk(backoffice, municipality="751", n=2)
    _walk(backoffice, municipality="101", n=1)
    mine = _events_in_db(hub.engine, "101")
    items = _take(hub, events_pb2.SubscribeRequest(heartbeat_seconds=1), len(mine) + 1)
    events = [i.event for i in items if i.HasField("event")]
    assert events and {e.municipality_code for e in events} == {"101"}
    assert [(e.sequence, e.type) for e in events] == mine
    # Then the idle stream's heartbeat: the log was read to its end.
    assert items[-1].HasField("heartbeat")
    assert items[-1].heartbeat.read_up_to_sequence == _events_in_db(hub.engine)[-1][0]
    assert all(not e.payload.fields.get("cpr") for e in events)

    err = rpc_error(lambda r: list(_stub(hub).Subscribe(r, metadata=ECONOMY, timeout=5)),
                    events_pb2.SubscribeRequest(filter=events_pb2.EventFilter(municipality_codes=["751"])))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_filters_by_type_and_benefit(hub, backoffice):
    backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    case = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    backoffice.AddInformation(info_req(case.case_id))
    req = events_pb2.SubscribeRequest(filter=events_pb2.EventFilter(event_types=["case.created"],
                                                                    benefit_codes=["BOLIGSTOETTE"]))
    [item] = _take(hub, req, 1)
    assert item.event.type == "case.created" and item.event.case_id == case.case_id
    assert item.event.payload["channel"] == "SELF_SERVICE"
    assert item.event.case_created.channel == "SELF_SERVICE" and item.event.case_created.authority == "municipality:101"


def test_known_event_types_carry_typed_details(hub, backoffice):
    from tests.helpers import draft_req, period
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(125_000)]))
    n = len(_events_in_db(hub.engine))
    events = [i.event for i in _take(hub, events_pb2.SubscribeRequest(), n)]
    assert {e.type for e in events} >= {"case.created", "case.receipt", "case.information_added",
                                        "case.status_changed", "decision.draft_submitted", "decision.approved"}
    for e in events:
        assert e.WhichOneof("details") == e.type.replace(".", "_", 1)
    [approved] = [e.decision_approved for e in events if e.type == "decision.approved"]
    assert approved.mode == "AUTOMATIC" and [a.amount_oere for a in approved.amounts] == [125_000]
    [receipt] = [e.case_receipt for e in events if e.type == "case.receipt"]
    assert receipt.processing_deadline > receipt.received_at


def test_new_events_arrive_on_an_open_stream(hub, backoffice):
    received, ready = [], threading.Event()

    def consume():
        call = _stub(hub).Subscribe(events_pb2.SubscribeRequest(heartbeat_seconds=1), metadata=ECONOMY, timeout=10)
        for item in call:
            if item.HasField("heartbeat"):
                ready.set()
                continue
            received.append(item.event.type)
            if len(received) == 3:
                call.cancel()
                return
    t = threading.Thread(target=consume)
    t.start()
    assert ready.wait(5)
    _walk(backoffice)
    t.join(10)
    assert received[:3] == ["case.created", "case.receipt", "case.information_added"]


@pytest.mark.parametrize("request_,code", [
    (events_pb2.SubscribeRequest(heartbeat_seconds=1000), grpc.StatusCode.INVALID_ARGUMENT),
    (events_pb2.SubscribeRequest(subscription="nope"), grpc.StatusCode.NOT_FOUND),
    (events_pb2.SubscribeRequest(filter=events_pb2.EventFilter(event_types=["NOT A TYPE"])),
     grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_subscribe_requests(hub, request_, code):
    err = rpc_error(lambda r: list(_stub(hub).Subscribe(r, metadata=ECONOMY, timeout=5)), request_)
    assert err.code() == code


def test_subscription_names_are_unique_per_client_and_creation_is_idempotent(hub):
    stub = _stub(hub)
    req = events_pb2.CreateSubscriptionRequest(request_id=rid(), name="x")
    first = stub.CreateSubscription(req, metadata=ECONOMY)
    assert stub.CreateSubscription(req, metadata=ECONOMY) == first
    err = rpc_error(lambda r: stub.CreateSubscription(r, metadata=ECONOMY),
                    events_pb2.CreateSubscriptionRequest(request_id=rid(), name="x"))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    # Another client's subscription of the same name is its own, and invisible here.
    other = [("authorization", "Bearer t-backoffice")]
    stub.CreateSubscription(events_pb2.CreateSubscriptionRequest(request_id=rid(), name="x"), metadata=other)
    err = rpc_error(lambda r: stub.GetSubscription(r, metadata=[("authorization", "Bearer t-vendor")]),
                    events_pb2.GetSubscriptionRequest(name="x"))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_the_economy_consumer_example_resumes_where_it_stopped(hub, backoffice, caseworker):
    import io

    from clients.examples.economy_consumer import consume, ensure_subscription
    from clients.sdk import connect
    from tests.helpers import draft_req, period
    sdk = connect(hub.address, "t-economy-101")
    try:
        ensure_subscription(sdk, "economy-101", "101")
        ensure_subscription(sdk, "economy-101", "101")  # a second start finds it
        for amount in (125_000, 130_000):
            case = backoffice.CreateCase(create_req())
            backoffice.AddInformation(info_req(case.case_id))
            backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(amount)]))
        out = io.StringIO()
        assert consume(sdk, "economy-101", out, max_events=1) == 1
        assert "125000 øre" in out.getvalue()
        # Restarted: it goes on with the second decision, not the first again.
        out = io.StringIO()
        assert consume(sdk, "economy-101", out, idle_exit=1.5) == 1
        assert "130000 øre" in out.getvalue() and "125000" not in out.getvalue()
    finally:
        sdk.close()


def test_many_streams_opened_at_once_each_get_every_event_in_order(hub, backoffice):
    """The streams share one reader of the log (started by whichever comes first)."""
    results: dict[int, list[int]] = {}
    start = threading.Barrier(8)

    def consume(i):
        start.wait()
        items = _take(hub, events_pb2.SubscribeRequest(), 12)
        results[i] = [x.event.sequence for x in items]
    threads = [threading.Thread(target=consume, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    _walk(backoffice, n=3)
    for t in threads:
        t.join(15)
    expected = [s for s, _ in _events_in_db(hub.engine, "101")][:12]
    assert results == {i: expected for i in range(8)}


def test_a_consumer_that_stops_reading_stalls_neither_the_hub_nor_other_streams(hub, backoffice):
    stalled = _stub(hub).Subscribe(events_pb2.SubscribeRequest(), metadata=ECONOMY, timeout=60)  # never read
    try:
        _walk(backoffice, n=120)  # ~480 events, well past the stalled stream's flow-control window
        expected = _events_in_db(hub.engine, "101")
        got = _take(hub, events_pb2.SubscribeRequest(), len(expected), timeout=20)
        assert [(i.event.sequence, i.event.type) for i in got] == expected
    finally:
        stalled.cancel()
