"""/metrics on the hub's HTTP port, scraped as Prometheus scrapes it, after real gRPC
calls: what an operator's Prometheus sees (the series and their values). Run with
HUB_TEST_WRITER=process too: then the unary calls run in the writer process, and
their counts and batch sizes must reach the front's /metrics all the same."""
from __future__ import annotations

import time

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.ports import DeliveryFailed, ECONOMY
from hub.v1 import cases_pb2, payments_pb2 as P
from tests.conftest import RunningHub
from tests.dispatch_support import dispatcher
from tests.helpers import create_req, draft_req, info_req, period, rid, rpc_error


@pytest.fixture
def web_hub(clean_db, clock, monkeypatch):
    from hub import bootstrap
    monkeypatch.setattr(bootstrap, "OUTBOX_METRICS_TTL", 0.0)  # (5 s in a hub: each scrape here reads the outbox)
    h = RunningHub(clean_db, clock, http_listen="127.0.0.1:0")
    yield h
    h.stop()


def scrape(hub) -> dict[tuple[str, frozenset], float]:
    """Every sample /metrics shows, by name and labels."""
    r = httpx.get(f"{hub.http_url}/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def eventually(check, timeout: float = 5.0):
    """`check()`'s result once it is true (the writer reports a batch just after its answers)."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > end:
            return result
        time.sleep(0.05)


CREATE = dict(grpc_type="unary", grpc_service="hub.v1.CaseService", grpc_method="CreateCase")


def test_rpcs_are_counted_by_method_and_status_code_with_latency(web_hub):
    bo = web_hub.as_("t-backoffice")
    for _ in range(3):
        bo.CreateCase(create_req())
    err = rpc_error(bo.CreateCase, create_req(cpr="3213701234"))  # no 32nd day
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error(web_hub.as_("t-nobody").CreateCase, create_req()).code() == grpc.StatusCode.UNAUTHENTICATED

    m = scrape(web_hub)
    assert value(m, "grpc_server_started_total", **CREATE) == 5
    assert value(m, "grpc_server_handled_total", **CREATE, grpc_code="OK") == 3
    assert value(m, "grpc_server_handled_total", **CREATE, grpc_code="INVALID_ARGUMENT") == 1
    assert value(m, "grpc_server_handled_total", **CREATE, grpc_code="UNAUTHENTICATED") == 1
    assert value(m, "grpc_server_handled_total", **CREATE, grpc_code="INTERNAL") is None
    # The latency histogram: every call in it, in cumulative buckets up to +Inf.
    assert value(m, "grpc_server_handling_seconds_count", **CREATE) == 5
    assert 0 < value(m, "grpc_server_handling_seconds_sum", **CREATE) < 10
    assert value(m, "grpc_server_handling_seconds_bucket", **CREATE, le="+Inf") == 5
    assert value(m, "grpc_server_handling_seconds_bucket", **CREATE, le="60.0") == 5
    # A method not called is there from the start, at 0 (so rate() and alerts see it);
    # the process's own metrics are there too.
    get_case = dict(CREATE, grpc_method="GetCase")
    assert value(m, "grpc_server_started_total", **get_case) == 0
    assert value(m, "grpc_server_handling_seconds_count", **get_case) == 0
    assert value(m, "process_cpu_seconds_total") is not None


def test_a_stream_and_health_are_counted_too(web_hub):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    health_pb2_grpc.HealthStub(web_hub.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    bo = web_hub.as_("t-backoffice")
    list(bo.RunPayments(P.RunPaymentsRequest(request_id=rid(), period="2026-04")))
    m = scrape(web_hub)
    assert value(m, "grpc_server_handled_total", grpc_type="unary", grpc_service="grpc.health.v1.Health",
                 grpc_method="Check", grpc_code="OK") == 1
    assert value(m, "grpc_server_handled_total", grpc_type="server_stream", grpc_service="hub.v1.PaymentService",
                 grpc_method="RunPayments", grpc_code="OK") == 1


def test_group_commit_batch_sizes_reach_metrics(web_hub):
    """Every call run on a lane (or in the writer process) is in one batch's count."""
    bo = web_hub.as_("t-backoffice")
    cases = [bo.CreateCase(create_req()) for _ in range(4)]
    for c in cases:
        bo.GetCase(cases_pb2.GetCaseRequest(case_id=c.case_id))
    m = eventually(lambda: (lambda s: s if value(s, "hub_commit_batch_calls_sum") == 8 else None)(scrape(web_hub)))
    assert m is not None, "the 8 calls' batches did not reach /metrics"
    assert 1 <= value(m, "hub_commit_batch_calls_count") <= 8
    assert value(m, "hub_commit_batch_calls_bucket", le="+Inf") == value(m, "hub_commit_batch_calls_count")
    assert value(m, "hub_commit_batch_calls_bucket", le="64.0") == value(m, "hub_commit_batch_calls_count")


def granted(bo, amount=125_000):
    """A housing benefit case with an automatically approved grant: its letter, posting
    and archive package wait in the outbox (no dispatcher runs here)."""
    case = bo.CreateCase(create_req())
    bo.AddInformation(info_req(case.case_id))
    d = bo.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(amount, (2026, 4, 1), (2026, 12, 31))]))
    assert d.approved_automatically
    return case


class Refusing:
    def deliver(self, delivery):
        raise DeliveryFailed("HTTP 400: account unknown", permanent=True)


def test_outbox_backlog_age_and_dead_letters_per_destination(web_hub, clock):
    m = scrape(web_hub)
    assert value(m, "hub_outbox_metrics_up") == 1
    for dest in ("economy", "digital_post", "archive", "payment_provider"):  # every destination, at 0
        assert value(m, "hub_outbox_pending", destination=dest) == 0
        assert value(m, "hub_outbox_dead_letters", destination=dest) == 0
        assert value(m, "hub_outbox_oldest_pending_age_seconds", destination=dest) == 0

    granted(web_hub.as_("t-backoffice"))
    clock.advance(seconds=90)
    m = scrape(web_hub)
    assert value(m, "hub_outbox_pending", destination="economy") >= 1
    assert value(m, "hub_outbox_pending", destination="digital_post") == 1
    assert 90 <= value(m, "hub_outbox_oldest_pending_age_seconds", destination="digital_post") < 100

    # The economy system refuses the posting for good: a dead letter.
    d = dispatcher(web_hub.engine, clock, {ECONOMY: Refusing()})
    d.run_once()
    m = scrape(web_hub)
    assert value(m, "hub_outbox_dead_letters", destination="economy") >= 1
    assert value(m, "hub_outbox_dead_letters", destination="digital_post") == 0


def test_payment_run_progress(web_hub, clock):
    bo = web_hub.as_("t-backoffice")
    for _ in range(3):
        granted(bo)
    clock.advance(days=31)  # in April: May's run may run
    request_id = rid()
    steps = list(bo.RunPayments(P.RunPaymentsRequest(request_id=request_id, period="2026-05")))
    assert steps[-1].done and steps[-1].orders_created == 6  # April and May for each
    m = scrape(web_hub)
    assert value(m, "hub_runs_finished_total", run="payments", outcome="done") == 1
    assert value(m, "hub_runs_in_progress", run="payments") == 0
    assert value(m, "hub_run_examined_total", run="payments") == steps[-1].examined
    assert value(m, "hub_run_results_total", run="payments", result="orders_created") == 6
    assert value(m, "hub_run_amount_oere_total", run="payments", kind="ordered") == steps[-1].amount_oere
    assert value(m, "hub_run_left", run="payments") == 0
    # Replaying the finished run (its request id again) adds nothing.
    again = list(bo.RunPayments(P.RunPaymentsRequest(request_id=request_id, period="2026-05")))
    assert again[-1].orders_created == 6
    m = scrape(web_hub)
    assert value(m, "hub_run_results_total", run="payments", result="orders_created") == 6
    assert value(m, "hub_runs_finished_total", run="payments", outcome="done") == 2


def test_a_refused_run_is_not_in_progress(web_hub):
    cw = web_hub.as_("t-cw-101")
    assert rpc_error(lambda r: list(cw.RunPayments(r)),
                     P.RunPaymentsRequest(request_id=rid(), period="2026-04")).code() == grpc.StatusCode.PERMISSION_DENIED
    m = scrape(web_hub)
    assert value(m, "hub_runs_in_progress", run="payments") == 0
    assert value(m, "grpc_server_handled_total", grpc_type="server_stream", grpc_service="hub.v1.PaymentService",
                 grpc_method="RunPayments", grpc_code="PERMISSION_DENIED") == 1


def test_no_http_port_unless_asked(hub):
    assert hub.http_url is None and hub.running.metrics is not None
