"""Prometheus metrics for operators (the prometheus_client library), served at /metrics
by hub.api.web beside the gRPC server.

One `Metrics` per running hub, each with a registry of its own (several hubs in one
process, as in the tests, each count their own calls):

- every gRPC call, counted where the server hands it to its handler (`instrument`
  wraps each method's handler once, when the server is built), so that the calls a
  writer process runs are counted as the ones run in this process: started, handled by
  status code, and a latency histogram (the grpc-ecosystem names: grpc_server_*);
- the group-commit batches (`batch`): calls per transaction, from the lanes of this
  process or reported by the writer process with each commit (hub.runtime.writer);
- the payment, final settlement and IT control runs (`RunTracker`): runs in
  progress, items examined and left, results;
- the outbox read from the database when scraped, at most every `outbox_ttl` seconds
  (`OutboxCollector`): pending messages and the oldest one's age, dead letters and
  paused destinations, per destination."""
from __future__ import annotations

import datetime as dt
import inspect
import threading
import time
from typing import Any, Callable, Iterable, Mapping

import grpc
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger("hub.metrics")

# gRPC latency buckets (seconds): a CreateCase takes about a millisecond, a payment run minutes.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 300.0, 1800.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
RUNS = {"RunPayments": "payments", "RunFinalSettlement": "settlement", "RunControl": "control"}
# What each run's progress counts, beyond examined/total: result -> the progress field.
RUN_RESULTS = {
    "payments": ("orders_created", "held"),
    "settlement": ("nothing", "back_payments", "repayments", "needs_person", "waiting", "decided_automatically"),
    "control": ("findings", "already_found", "not_in_register", "failed"),
}
RUN_AMOUNTS = {"payments": {"ordered": "amount_oere"},
               "settlement": {"back_payment": "back_payment_oere", "repayment": "repayment_oere"}}
_TYPES = {(False, False): "unary", (False, True): "server_stream", (True, False): "client_stream",
          (True, True): "bidi_stream"}


class Metrics:
    def __init__(self, *, process: bool = True):
        self.registry = CollectorRegistry()
        r = self.registry
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        labels = ("grpc_type", "grpc_service", "grpc_method")
        self.started = Counter("grpc_server_started", "gRPC calls started on the server.", labels, registry=r)
        self.handled = Counter("grpc_server_handled", "gRPC calls completed on the server, by status code.",
                               labels + ("grpc_code",), registry=r)
        self.seconds = Histogram("grpc_server_handling_seconds",
                                 "Time from a call's start to its answer (or the end of its stream), seconds.",
                                 labels, buckets=LATENCY_BUCKETS, registry=r)
        self.batch = Histogram("hub_commit_batch_calls", "Calls committed together in one group-commit transaction "
                               "(by the lanes, or by the writer process on SQLite).", buckets=BATCH_BUCKETS,
                               registry=r)
        self.runs = RunTracker(r)

    def observe_batch(self, calls: int) -> None:
        self.batch.observe(calls)

    def watch_outbox(self, read: Callable[[], list[dict]], now: Callable[[], dt.datetime], destinations: Iterable[str],
                     ttl: float = 5.0) -> "OutboxCollector":
        collector = OutboxCollector(read, now, destinations, ttl)
        self.registry.register(collector)
        return collector


# ---- gRPC calls ------------------------------------------------------------------------------

def instrument(metrics: Metrics, services: Mapping[str, Mapping[str, grpc.RpcMethodHandler]]
               ) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
    """`services` (full service name -> method -> handler, for hub.runtime.router.serve_on)
    with each handler counted and timed. Wrapped once here, not per call."""
    return {service: {method: _instrumented(metrics, service, method, h) for method, h in handlers.items()}
            for service, handlers in services.items()}


def _instrumented(metrics: Metrics, service: str, method: str, h: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    kind = _TYPES[(bool(h.request_streaming), bool(h.response_streaming))]
    labels = (kind, service, method)
    started, seconds = metrics.started.labels(*labels), metrics.seconds.labels(*labels)
    by_code: dict[grpc.StatusCode, Any] = {}

    def done(context, began: float, failed: bool) -> None:
        code = _code(context, failed)
        child = by_code.get(code)
        if child is None:
            child = by_code[code] = metrics.handled.labels(*labels, code.name)
        child.inc()
        seconds.observe(time.perf_counter() - began)

    field = {"unary": "unary_unary", "server_stream": "unary_stream", "client_stream": "stream_unary",
             "bidi_stream": "stream_stream"}[kind]
    behavior = getattr(h, field)
    if inspect.isasyncgenfunction(behavior):
        async def wrapped(request, context):
            started.inc()
            began, failed = time.perf_counter(), True
            try:
                async for item in behavior(request, context):
                    yield item
                failed = False
            finally:
                done(context, began, failed)
    else:
        async def wrapped(request, context):
            started.inc()
            began, failed = time.perf_counter(), True
            try:
                result = await behavior(request, context)
                failed = False
                return result
            finally:
                done(context, began, failed)
    return h._replace(**{field: wrapped})


def _code(context, failed: bool) -> grpc.StatusCode:
    try:
        code = context.code()
    except Exception:
        code = None
    if isinstance(code, int) and not isinstance(code, grpc.StatusCode):  # (a raw number in some versions)
        code = next((c for c in grpc.StatusCode if c.value[0] == code), None)
    if code is None:
        return grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
    return code


# ---- long runs (payments, final settlement, IT control) -----------------------------------------

class RunTracker:
    """The runs' progress as their streams report it (hub.api.servicers.run_stream): one
    `Run` per stream, fed each progress message."""

    def __init__(self, registry: CollectorRegistry):
        self.in_progress = Gauge("hub_runs_in_progress", "Payment, final settlement and IT control runs in "
                                 "progress in this process.", ("run",), registry=registry)
        self.finished = Counter("hub_runs_finished", "Runs ended, by outcome (done, or the gRPC status code "
                                "that ended the stream).", ("run", "outcome"), registry=registry)
        self.examined = Counter("hub_run_examined", "Items the runs examined: grant periods (payments), cases "
                                "(settlement), grants (control).", ("run",), registry=registry)
        self.left = Gauge("hub_run_left", "Items the runs in progress have still to examine.", ("run",),
                          registry=registry)
        self.results = Counter("hub_run_results", "What the runs made of the items they examined.",
                               ("run", "result"), registry=registry)
        self.amounts = Counter("hub_run_amount_oere", "Money the runs ordered or decided, in øre.",
                               ("run", "kind"), registry=registry)
        for run, results in RUN_RESULTS.items():  # every series present from the start (at 0)
            self.in_progress.labels(run)
            self.examined.labels(run)
            self.left.labels(run)
            for result in results:
                self.results.labels(run, result)
            for kind in RUN_AMOUNTS.get(run, {}):
                self.amounts.labels(run, kind)

    def start(self, action: str) -> "Run | None":
        run = RUNS.get(action)
        return None if run is None else Run(self, run)


class Run:
    def __init__(self, tracker: RunTracker, run: str):
        self.tracker, self.run = tracker, run
        self.last: dict[str, Any] | None = None  # the stream's first message is its baseline
        self.left = 0
        tracker.in_progress.labels(run).inc()

    def step(self, progress: Mapping[str, Any]) -> None:
        t, run = self.tracker, self.run
        if self.last is not None:
            grew = progress.get("examined", 0) - self.last.get("examined", 0)
            if grew > 0:
                t.examined.labels(run).inc(grew)
            for result in RUN_RESULTS[run]:
                grew = progress.get(result, 0) - self.last.get(result, 0)
                if grew > 0:
                    t.results.labels(run, result).inc(grew)
            for kind, name in RUN_AMOUNTS.get(run, {}).items():
                grew = progress.get(name, 0) - self.last.get(name, 0)
                if grew > 0:
                    t.amounts.labels(run, kind).inc(grew)
        self.last = dict(progress)
        left = 0 if progress.get("done") else max(0, progress.get("total", 0) - progress.get("examined", 0))
        t.left.labels(run).inc(left - self.left)
        self.left = left

    def end(self, outcome: str) -> None:
        t = self.tracker
        t.left.labels(self.run).dec(self.left)
        self.left = 0
        t.in_progress.labels(self.run).dec()
        t.finished.labels(self.run, outcome).inc()


# ---- the outbox, read when scraped ---------------------------------------------------------------

class OutboxCollector(Collector):
    """Per destination: pending messages, the oldest pending one's age, dead letters,
    paused; read with `read()` (the outbox summary) at most every `ttl` seconds, so
    that scrapes from several Prometheus servers cost one query."""

    def __init__(self, read: Callable[[], list[dict]], now: Callable[[], dt.datetime], destinations: Iterable[str],
                 ttl: float = 5.0):
        self.read, self.now, self.destinations, self.ttl = read, now, tuple(destinations), ttl
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._rows: list[dict] | None = None
        self._ok = False

    def _summary(self) -> tuple[list[dict], bool]:
        with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                try:
                    self._rows, self._ok = self.read(), True
                except Exception:
                    log.exception("could not read the outbox for the metrics")
                    self._ok = False
                self._at = time.monotonic()
            return self._rows or [], self._ok

    def collect(self):
        rows, ok = self._summary()
        up = GaugeMetricFamily("hub_outbox_metrics_up", "1 if the outbox figures were read from the database at "
                               "the last try (0: they are the last ones read, or none).")
        up.add_metric([], 1 if ok else 0)
        yield up
        by_dest = {d: dict(destination=d, pending=0, dead=0, oldest_pending=None, paused=False)
                   for d in self.destinations}
        for row in rows:
            by_dest[row["destination"]] = row
        now = self.now()
        pending = GaugeMetricFamily("hub_outbox_pending", "Outbox messages waiting for delivery.",
                                    labels=["destination"])
        age = GaugeMetricFamily("hub_outbox_oldest_pending_age_seconds", "Age of the oldest message waiting for "
                                "delivery (0 when none waits).", labels=["destination"])
        dead = GaugeMetricFamily("hub_outbox_dead_letters", "Dead letters (delivery given up; replay them with "
                                 "hubctl ops).", labels=["destination"])
        paused = GaugeMetricFamily("hub_outbox_destination_paused", "1 if deliveries to the destination are paused.",
                                   labels=["destination"])
        for dest in sorted(by_dest):
            row = by_dest[dest]
            pending.add_metric([dest], row["pending"])
            dead.add_metric([dest], row["dead"])
            paused.add_metric([dest], 1 if row.get("paused") else 0)
            oldest = row.get("oldest_pending")
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.timezone.utc)
            age.add_metric([dest], max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        yield pending
        yield age
        yield dead
        yield paused
