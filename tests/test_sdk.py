"""The SDK (clients/sdk) as an integrator uses it, against a real hub: a stub for every
service of the contract; a deadline on every call; a call retried on UNAVAILABLE with
the same request_id (one the SDK makes when the caller gave none), so that the hub does
the work once; every item of a listing; a run's progress; a durable subscription."""
from __future__ import annotations

import threading
import time

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import descriptor_pool

from clients.sdk import Hub, connect, follow, pages, resumable, with_request_id
from hub.store import tables
from hub.v1 import cases_pb2, events_pb2, payments_pb2
from tests.helpers import create_req, draft_req, info_req, period, rid
from tests.tcp_proxy import TcpProxy


def test_the_sdk_has_a_stub_for_every_service_of_the_contract(hub):
    from hub.api.services import SERVICE_NAMES
    sdk = connect(hub.address, "t-backoffice")
    stubs = {type(getattr(sdk, name)).__name__ for name, value in vars(Hub).items() if isinstance(value, property)}
    for name in SERVICE_NAMES:
        service = descriptor_pool.Default().FindServiceByName(name)
        assert f"{service.name}Stub" in stubs, f"no SDK stub for {name}"
    sdk.close()


def test_a_mutating_call_gets_a_request_id_and_is_retried_until_the_hub_answers(hub, clean_db):
    proxy = TcpProxy(("127.0.0.1", hub.port))
    proxy.cut()                                          # the hub cannot be reached ...
    threading.Timer(0.5, proxy.restore).start()          # ... for half a second
    sdk = connect(f"127.0.0.1:{proxy.port}", "t-backoffice", timeout=5, attempts=8)
    req = create_req()
    req.request_id = ""                                   # the caller gave none
    started = time.monotonic()
    case = sdk.cases.CreateCase(req)
    assert case.case_id and time.monotonic() - started >= 0.4
    with clean_db.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(tables.cases)).scalar_one() == 1
        [stored] = c.execute(sa.select(tables.idempotency.c.request_id)).scalars().all()
    assert stored  # the SDK's own request id, the same on every attempt
    sdk.close()
    proxy.close()


def test_a_request_id_the_caller_gave_is_kept_and_a_read_gets_none():
    given = create_req(request_id="mine-1")
    assert with_request_id(given) is given
    made = with_request_id(create_req(request_id=""))
    assert made.request_id and made.request_id != with_request_id(create_req(request_id="")).request_id
    read = cases_pb2.GetCaseRequest(case_id="x")
    assert with_request_id(read) is read


def test_a_call_that_cannot_be_answered_ends_with_its_code_after_the_attempts(hub):
    proxy = TcpProxy(("127.0.0.1", hub.port))
    proxy.cut()
    sdk = connect(f"127.0.0.1:{proxy.port}", "t-backoffice", timeout=1, attempts=3)
    with pytest.raises(grpc.RpcError) as err:
        sdk.cases.GetCase(cases_pb2.GetCaseRequest(case_id="x"))
    assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    # A mistake of the caller's is not retried: its code at once.
    direct = connect(hub.address, "t-backoffice")
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        direct.cases.GetCase(cases_pb2.GetCaseRequest(case_id="no-such-case"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and time.monotonic() - started < 1
    proxy.close()


def test_pages_runs_through_every_page_of_a_listing(hub, backoffice):
    made = {backoffice.CreateCase(create_req()).case_id for _ in range(5)}
    sdk = connect(hub.address, "t-backoffice")
    seen = [c.case_id for c in pages(sdk.cases.ListCases, cases_pb2.ListCasesRequest(page_size=2), "cases")]
    assert set(seen) == made and len(seen) == 5


def test_a_run_and_a_subscription_through_the_sdk(hub, backoffice, clock):
    sdk = connect(hub.address, "t-backoffice")
    sdk.events.CreateSubscription(events_pb2.CreateSubscriptionRequest(
        request_id=rid(), name="sdk", filter=events_pb2.EventFilter(event_types=["decision.approved"])))
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(125_000)]))
    steps = list(resumable(sdk.payments.RunPayments, payments_pb2.RunPaymentsRequest(period="2026-04")))
    assert steps[-1].done and steps[-1].orders_created == 1
    first = next(follow(sdk, "sdk", heartbeat_seconds=1))
    assert first.type == "decision.approved" and first.case_id == case.case_id


def test_hubctl_for_the_payment_provider_the_event_stream_and_the_audit_log(hub, backoffice, capsys):
    """A provider fetches, acknowledges and settles a payment; an economy system tails a
    durable subscription (and goes on after the last line it printed); an operator
    lists a case's audit entries."""
    import json

    from clients.cli.hubctl import main

    def hubctl(token, *args):
        code = main(["--address", hub.address, "--token", token, *args])
        out = capsys.readouterr()
        assert code == 0, out.err
        return out.out
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(125_000)]))
    list(backoffice.RunPayments(payments_pb2.RunPaymentsRequest(request_id=rid(), period="2026-04")))
    batch = json.loads(hubctl("t-provider-a", "provider", "fetch"))
    [instruction] = batch["instructions"]
    e2e = instruction["order"]["end_to_end_id"]
    hubctl("t-provider-a", "provider", "ack", batch["batch_id"])
    settled = json.loads(hubctl("t-provider-a", "provider", "settle", e2e, "--amount", "125000",
                                "--date", "2026-04-01"))
    assert [o["status"] for o in settled["orders"]] == ["PAYMENT_STATUS_PAID"]

    tail = ["events", "tail", "--subscription", "ledger", "--create", "--type", "decision.approved",
            "--type", "payment.paid", "--heartbeat", "1", "--count", "1"]
    first = json.loads(hubctl("t-economy-101", *tail))
    again = json.loads(hubctl("t-economy-101", *tail))      # acknowledged: the next one
    assert (first["type"], again["type"]) == ("decision.approved", "payment.paid")
    assert int(again["sequence"]) > int(first["sequence"])

    entries = json.loads(hubctl("t-operator", "audit", "list", "--case-id", case.case_id))["entries"]
    assert {"CreateCase", "SubmitDraftDecision"} <= {e["rpc"] for e in entries}
