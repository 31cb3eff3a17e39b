"""A dispatcher process killed (kill -9) in the middle of a batch: nothing is lost, and
the messages it had delivered but not yet recorded are delivered again and absorbed by
the file drop's idempotency."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from hub.store import tables
from tests.conftest import LOG_FILE
from tests.dispatch_support import enqueue_postings, statuses


def _delivered(engine) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(tables.outbox)
                         .where(tables.outbox.c.status == "DELIVERED")).scalar_one()


def _lines(root) -> collections.Counter:
    seen = collections.Counter()
    for path in (root / "economy").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                seen[json.loads(line)["message_id"]] += 1
            except ValueError:  # a line being written as we read
                pass
    return seen


def _dispatch(database_url, var, *extra):
    env = dict(os.environ, HUB_DATABASE_URL=database_url, HUB_VAR_DIR=str(var), HUB_DISPATCH_BATCH="200",
               HUB_DISPATCH_LEASE_SECONDS="3", HUB_DISPATCH_TIMEOUT_SECONDS="1", HUB_DISPATCH_IDLE_SECONDS="0.05", HUB_LOG_FILE=str(LOG_FILE))
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "dispatch", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_kill_9_mid_batch_loses_nothing_and_duplicates_nothing(clean_db, database_url, clock, tmp_path):
    # Real time here: the processes use the system clock, so the messages are due now.
    from hub.service.clock import SystemClock
    ids = enqueue_postings(clean_db, SystemClock(), cases=600, per_case=5)
    proc = _dispatch(database_url, tmp_path)
    deadline = time.monotonic() + 60
    # Kill it mid-batch: after a first batch is recorded, while the next one is being
    # written to the files but not yet recorded.
    while _delivered(clean_db) < 200 or len(_lines(tmp_path)) < _delivered(clean_db) + 20:
        assert proc.poll() is None, proc.stdout.read().decode()
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the dispatcher delivered too little: " + proc.stdout.read().decode()[-3000:])
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    in_files, recorded = set(_lines(tmp_path)), {m for m, s in statuses(clean_db).items() if s == "DELIVERED"}
    assert len(recorded) < len(ids)
    # The crash came between delivering and recording: files hold messages the
    # database does not know are delivered.
    assert in_files - recorded

    time.sleep(3.2)  # the dead dispatcher's lease runs out
    again = _dispatch(database_url, tmp_path, "--drain")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0, out.decode()
    assert set(statuses(clean_db).values()) == {"DELIVERED"}
    lines = _lines(tmp_path)
    assert set(lines) == set(ids)
    assert set(lines.values()) == {1}, "a message was written twice"
