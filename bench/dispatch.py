"""One dispatcher draining a backlog into the file-drop adapters (economy postings as
JSON Lines, decision letters as MeMo XML files): messages delivered per second, and
the time to drain a backlog of HUB_BENCH_MESSAGES (default 100,000) messages, half
postings and half letters. Every file write is fsynced.

    make bench
    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python -m bench.dispatch"""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
import uuid

from bench.database import fresh_database
from hub.ports import messages as msg
from hub.domain.documents import Letter, Sender

MESSAGES = int(os.environ.get("HUB_BENCH_MESSAGES", "100000"))
BATCH = int(os.environ.get("HUB_DISPATCH_BATCH", "100"))


def _posting(case_id: str, cpr: str, municipality: str) -> dict:
    return msg.DecisionPosting(
        municipality_code=municipality, benefit_code="BOLIGSTOETTE", ledger_account="5.57.76", case_id=case_id,
        cpr=cpr, decision_id=f"d-{case_id}", outcome="GRANTED",
        amounts=(msg.PostedAmount(125_000, dt.date(2026, 4, 1), dt.date(2026, 12, 31)),)).to_payload()


def _letter(case_id: str, cpr: str) -> dict:
    letter = Letter(title="Afgørelse om boligstøtte", sender=Sender("municipality:101", "Københavns Kommune"),
                    recipient_cpr=cpr, case_id=case_id, document_id=f"d-{case_id}", file_prefix="afgoerelse",
                    text="Afgørelse om boligstøtte\n\nDu får boligstøtte.\n" * 20)
    return msg.DigitalPostLetter(letter_kind="decision_letter", case_id=case_id, municipality_code="101",
                                 letter=letter, decision_id=f"d-{case_id}").to_payload()


def _fill(engine, n: int, now: dt.datetime) -> None:
    from hub.store import tables as t
    rows = []
    for i in range(n // 2):
        case_id = str(uuid.uuid4())
        cpr = f"010170{i % 10000:04d}"
        base = dict(case_id=case_id, created_at=now, next_attempt_at=now, status="PENDING", attempts=0)
        rows.append(dict(base, message_id=f"bench/{case_id}/economy", destination="economy",
                         payload=_posting(case_id, cpr, f"{101 + (i % 3) * 46}")))
        rows.append(dict(base, message_id=f"bench/{case_id}/letter", destination="digital_post",
                         payload=_letter(case_id, cpr)))
        if len(rows) >= 10_000:
            with engine.begin() as c:
                c.execute(t.outbox.insert(), rows)
            rows = []
    if rows:
        with engine.begin() as c:
            c.execute(t.outbox.insert(), rows)


def main() -> int:
    from adapters.digital_post.memo import MeMoFileDrop
    from adapters.economy.file_drop import EconomyFileDrop
    from hub import bootstrap, logs
    from hub.dispatch.dispatcher import DispatchSettings
    from hub.service.clock import SystemClock
    from hub.settings import Settings
    from hub.store.db import create_engine

    logs.configure(open(os.devnull, "w"), json=True, level="WARNING")
    url = fresh_database("bench-dispatch")
    engine = create_engine(url)
    clock = SystemClock()
    t0 = time.perf_counter()
    _fill(engine, MESSAGES, clock.now())
    if engine.dialect.name == "postgresql":
        # What autovacuum does a minute after a bulk load: without statistics the
        # planner takes the pending backlog for a handful of rows and sorts all of it
        # on every claim (0.5 s a claim) instead of walking the pending index.
        with engine.begin() as c:
            c.exec_driver_sql("ANALYZE outbox")
    print(f"dispatch: {MESSAGES:,} messages queued in {time.perf_counter() - t0:.1f} s; "
          f"database {url.split(':')[0]}; batch {BATCH}")
    root = "var/bench-dispatch"
    adapters = {"economy": EconomyFileDrop(f"{root}/economy"), "digital_post": MeMoFileDrop(f"{root}/digital_post")}
    d = bootstrap.dispatcher(bootstrap.store(Settings(), engine), clock, adapters, DispatchSettings(batch_size=BATCH),
                             watch_deadlines=False)
    t0 = time.perf_counter()
    first = None
    done = 0
    while True:
        n = d.run_once()
        if n == 0:
            break
        done += n
        if first is None and done >= 10_000:
            first = (done, time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    d.stop()
    print(f"one dispatcher, file drops: {done / seconds:,.0f} messages/s; backlog of {done:,} drained in "
          f"{seconds:.1f} s" + (f" (first {first[0]:,} at {first[0] / first[1]:,.0f}/s)" if first else ""))
    return 0 if done == MESSAGES else 1


if __name__ == "__main__":
    sys.exit(main())
