"""The dispatcher: claims due outbox messages, hands each to its destination's adapter,
and records the outcome.

- At least once, effect exactly once: a message is marked delivered only after its
  adapter returned; a crash in between makes it due again when its lease expires, and
  the adapter's idempotency on the message id absorbs the second delivery.
- Retries back off exponentially with jitter (tenacity's wait strategy); a permanent
  error, or `max_attempts` failures, moves the message to dead letters.
- Probes: while a destination's messages back off, every `probe_interval` seconds the
  dispatcher tries one of them before its time. When it gets through, the rest are due
  at once: after an outage the backlog flows within about one interval, instead of
  each message waiting out its own backoff (up to an hour). A probe that fails changes
  nothing but its message's last error.
- Per destination timeout: an adapter that does not answer in time counts as a
  transient failure. The lease always outlasts the deliveries made under it: a message
  whose delivery could end after the lease is given back untried.
- Order per case and destination is kept by the claim query (see hub.store.outbox)."""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import structlog
from tenacity import RetryCallState, wait_exponential_jitter

from hub.domain.cpr import redact
from hub.ports import Adapter, Deliveries, Delivery, DeliveryFailed, DeliveryOutcome, Receipt
from hub.ports.messages import decode
from hub.store.outbox import OutboxRow

log = structlog.get_logger("hub.dispatch")


@dataclass
class DispatchSettings:
    batch_size: int = 100
    parallel: int = 8                   # deliveries in flight at once
    lease: dt.timedelta = dt.timedelta(seconds=60)
    max_attempts: int = 40             # with the 1 h cap: about a day and a half of retrying
    backoff_initial: float = 2.0        # seconds
    backoff_max: float = 3600.0         # seconds
    idle_sleep: float = 0.5             # seconds between polls when nothing is due
    probe_interval: float = 10.0        # seconds between probes of a destination whose messages back off; 0: none
    timeouts: dict[str, float] = field(default_factory=dict)  # per destination, seconds
    default_timeout: float = 30.0

    def timeout(self, destination: str) -> float:
        return self.timeouts.get(destination, self.default_timeout)

    def check(self) -> None:
        """A lease must outlast one delivery (a message is only tried if its delivery
        ends before the lease does), or nothing would ever be delivered."""
        longest = max([self.default_timeout, *self.timeouts.values()])
        if self.lease.total_seconds() < longest + 2:
            raise ValueError(f"the dispatch lease ({self.lease.total_seconds():g} s) must be at least 2 s longer "
                             f"than the longest delivery timeout ({longest:g} s)")


class Dispatcher:
    def __init__(self, service: Deliveries, adapters: Mapping[str, Adapter], clock,
                 settings: DispatchSettings | None = None, *, dispatcher_id: str | None = None,
                 periodic: Sequence[Callable[[], object]] = ()):
        """`service`: the outbox's use cases (hub.service.delivery.DeliveryLog);
        `periodic`: work run in the same loop, on the same clock, each round (it keeps its
        own schedule: hub.runtime.schedule.Periodic; the deadline watcher)."""
        self.service = service
        self.periodic = list(periodic)
        self.adapters = dict(adapters)
        self.clock = clock
        self.settings = settings or DispatchSettings()
        self.settings.check()
        self.id = dispatcher_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wait = wait_exponential_jitter(initial=self.settings.backoff_initial, max=self.settings.backoff_max,
                                             jitter=self.settings.backoff_initial)
        # Room for deliveries that timed out but are still running in their thread.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=2 * self.settings.parallel,
                                                           thread_name_prefix="hub-deliver")
        self._stop = threading.Event()
        self._probe_at: dict[str, dt.datetime] = {}  # destination -> when this dispatcher may probe it next

    def backoff(self, attempt: int) -> dt.timedelta:
        state = RetryCallState(None, None, (), {})
        state.attempt_number = attempt
        return dt.timedelta(seconds=self._wait(state))

    def run_once(self) -> int:
        """Claim one batch, deliver it, record the outcomes. Returns how many messages
        were tried. A batch holds at most one message per case and destination, so its
        messages are delivered `parallel` at a time."""
        s = self.settings
        for job in self.periodic:
            job()
        probed = self._probe() if s.probe_interval > 0 else 0
        rows = self.service.claim(self.id, lease=s.lease, limit=s.batch_size, destinations=self.adapters)
        if not rows:
            return probed
        lease_until = self.clock.now() + s.lease
        outcomes: list[DeliveryOutcome] = []
        untried: list[OutboxRow] = []
        for i in range(0, len(rows), s.parallel):
            wave = rows[i:i + s.parallel]
            longest = max(s.timeout(r.destination) for r in wave)
            if self._stop.is_set() or self.clock.now() + dt.timedelta(seconds=longest + 1) >= lease_until:
                untried = rows[i:]
                break
            started = [(row, self._start(row)) for row in wave]
            outcomes += [self._finish(row, future) for row, future in started]
        if untried:
            self.service.release(self.id, untried)
        self.service.record(self.id, outcomes)
        return probed + len(outcomes)

    def _probe(self) -> int:
        """Probe each destination whose messages back off, at most once per
        `probe_interval` (several dispatchers may each probe; the claim never gives two
        of them the same message). Returns how many messages were tried."""
        now = self.clock.now()
        due = [d for d in self.adapters if self._probe_at.get(d, now) <= now]
        if not due or self._stop.is_set():
            return 0
        for d in due:
            self._probe_at[d] = now + dt.timedelta(seconds=self.settings.probe_interval)
        rows = self.service.claim_probes(self.id, lease=self.settings.lease, destinations=due)
        if not rows:
            return 0
        started = [(row, self._start(row)) for row in rows]  # one per destination, all at once
        outcomes = [self._finish(row, future, probe=True) for row, future in started]
        for destination, n in self.service.record(self.id, outcomes).items():
            log.info("destination answers again: its backlog is due now", destination=destination, made_due=n)
        return len(outcomes)

    def _start(self, row: OutboxRow) -> concurrent.futures.Future:
        return self._pool.submit(self._hand_over, row)

    def _hand_over(self, row: OutboxRow) -> Receipt:
        """The stored message, read back as its kind (one that cannot be read is a
        permanent failure), to its destination's adapter."""
        delivery = Delivery(row.message_id, row.destination, row.case_id, decode(row.destination, row.payload),
                            row.attempts + 1, self.clock.now(), row.created_at)
        return self.adapters[row.destination].deliver(delivery)

    def _deliver(self, row: OutboxRow) -> DeliveryOutcome:
        return self._finish(row, self._start(row))

    def _finish(self, row: OutboxRow, future: concurrent.futures.Future, probe: bool = False) -> DeliveryOutcome:
        s = self.settings
        attempt = row.attempts + 1
        try:
            receipt = future.result(timeout=s.timeout(row.destination))
            log.debug("delivered", message_id=row.message_id, destination=row.destination, attempt=attempt,
                      probe=probe)
            return DeliveryOutcome(row, receipt=receipt, probe=probe)
        except concurrent.futures.TimeoutError:
            error, permanent = f"timed out after {s.timeout(row.destination):g} s", False
        except DeliveryFailed as exc:
            error, permanent = str(exc), exc.permanent
        except Exception as exc:  # an adapter bug: retried, and visible in last_error
            error, permanent = f"{type(exc).__name__}: {exc}", False
        error = redact(error)  # an external system may echo a CPR number back
        # A failed probe counts no attempt (see DeliveryService.record); a refusal is final all the same.
        dead = permanent or (attempt >= s.max_attempts and not probe)
        log.warning("delivery failed", message_id=row.message_id, destination=row.destination, attempt=attempt,
                    permanent=permanent, dead_letter=dead, error=error, probe=probe)
        return DeliveryOutcome(row, error=error, dead=dead, next_attempt_at=self.clock.now() + self.backoff(attempt),
                               probe=probe)

    def drain(self, max_rounds: int = 1_000_000) -> int:
        """Deliver until nothing is due now (for tests, tools and benchmarks)."""
        total = 0
        for _ in range(max_rounds):
            n = self.run_once()
            if n == 0:
                break
            total += n
        return total

    def run_forever(self) -> None:
        log.info("dispatcher started", dispatcher_id=self.id, destinations=sorted(self.adapters))
        while not self._stop.is_set():
            try:
                n = self.run_once()
            except Exception:
                log.exception("dispatch round failed")
                n = 0
            if n == 0:
                self._stop.wait(self.settings.idle_sleep)
        self._pool.shutdown(wait=False)
        log.info("dispatcher stopped", dispatcher_id=self.id)

    def stop(self) -> None:
        """Finish the deliveries in flight, record them, and stop; messages claimed
        but not tried are given back."""
        self._stop.set()
