"""Work the runtime runs on a schedule, on a clock (the dispatcher's loop runs each due
one every round): the deadline watcher, each minute."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import structlog

from hub.service.clock import Clock

log = structlog.get_logger("hub.schedule")


class Periodic:
    """`fn()` at most once every `seconds` on `clock`; a failure is logged and tried again
    at the next turn."""

    def __init__(self, clock: Clock, seconds: float, fn: Callable[[], Any], name: str):
        self.clock, self.interval, self.fn, self.name = clock, dt.timedelta(seconds=seconds), fn, name
        self._last: dt.datetime | None = None

    def __call__(self) -> Any:
        now = self.clock.now()
        if self._last is not None and now - self._last < self.interval:
            return None
        self._last = now
        try:
            return self.fn()
        except Exception:
            log.exception(f"{self.name} failed")
            return None
