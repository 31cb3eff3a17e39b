"""Group commit: calls that queue up share one transaction, and that must be invisible
to the callers. Each call still succeeds or fails on its own, a retry inside the same
batch is answered from the first, and a batch that cannot commit runs its calls again
one by one."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time

from hub.runtime.group_commit import GroupCommit
from hub.service.clock import SystemClock
from hub.store.uow import Store
from hub.store import tables
from tests.helpers import MixedCalls, table_counts


def _hold_lanes(hub) -> threading.Event:
    """Block all the hub's database lanes until the returned event is set, so that the
    calls made meanwhile queue up and run in batches."""
    runner = hub.running.runner
    gate, entered = threading.Event(), threading.Semaphore(0)

    def blocker(tx):
        entered.release()
        gate.wait(30)
    for _ in range(runner.lanes):  # one at a time, or a lane would take two at once
        asyncio.run_coroutine_threadsafe(runner.run(blocker), hub._loop)
        assert entered.acquire(timeout=10)
    return gate


def _wait_queued(runner, n):
    deadline = time.monotonic() + 10
    while runner.queued() < n:
        assert time.monotonic() < deadline, f"only {runner.queued()} calls queued"
        time.sleep(0.01)


def test_a_batch_of_mixed_calls_behaves_like_the_calls_one_by_one(inline_hub):
    hub = inline_hub
    runner = hub.running.runner
    mixed = MixedCalls(hub.as_("t-backoffice"), hub.engine)
    transactions = runner.transactions
    gate = _hold_lanes(hub)
    with concurrent.futures.ThreadPoolExecutor(len(mixed.calls)) as pool:
        futures = [pool.submit(c) for c in mixed.calls]
        _wait_queued(runner, len(mixed.calls))
        gate.set()
        results = [f.result(30) for f in futures]
    # The blockers, then all the calls in a few shared transactions.
    assert runner.transactions - transactions - runner.lanes < len(mixed.calls)
    mixed.check(results)


def test_a_batch_that_cannot_commit_runs_its_calls_one_by_one(clean_db):
    engine = clean_db
    runner = GroupCommit(Store(engine, engine), SystemClock(), lanes=1)
    seen: list[tuple[str, bool]] = []

    def call(tx, name: str, poison: bool):
        batch = tx.batch
        seen.append((name, batch is not None))
        if batch is not None and poison:
            # Something only the commit can find out: here a duplicate primary key,
            # as when another process took the same idempotency key meanwhile.
            row = dict(client_id="c", request_id="taken", rpc="X", fingerprint="f", response=b"",
                       created_at=__import__("datetime").datetime.now(__import__("datetime").timezone.utc))
            batch.pending.idempotency.extend([row, dict(row)])
        return name

    async def main():
        gate = threading.Event()
        blocked = asyncio.ensure_future(runner.run(lambda tx: gate.wait(10)))
        while runner.calls == 0:
            await asyncio.sleep(0.01)
        tasks = [asyncio.ensure_future(runner.run(call, f"c{i}", i == 1)) for i in range(4)]
        while runner.queued() < 4:
            await asyncio.sleep(0.01)
        gate.set()
        await blocked
        return await asyncio.gather(*tasks)

    try:
        assert asyncio.run(main()) == ["c0", "c1", "c2", "c3"]
    finally:
        runner.stop()
    assert runner.fallbacks == 1
    # Each call ran once in the failed batch and once more on its own.
    assert [s for s in seen if s[1]] == [(f"c{i}", True) for i in range(4)]
    assert [s for s in seen if not s[1]] == [(f"c{i}", False) for i in range(4)]
    assert table_counts(engine)["idempotency"] == 0


def test_a_batch_finds_stored_responses_of_several_clients_through_the_primary_key(clean_db):
    """The batch's look-up of earlier responses must not cost more as the table grows
    (on SQLite, a row-value IN over (client, request id) scans the whole table)."""
    import datetime as dt
    from hub.store.transaction import PREFETCH_CHUNK, STORED_RESPONSE, Batch, stored_responses_query
    engine = clean_db
    now = dt.datetime.now(dt.timezone.utc)
    many = [str(n) for n in range(100, 100 + PREFETCH_CHUNK + 6)]  # more than one look-up's worth
    with engine.begin() as conn:
        conn.execute(tables.idempotency.insert(), [
            dict(client_id=c, request_id=r, rpc="CreateCase", fingerprint=f"{c}{r}", response=b"x", created_at=now)
            for c in ("a", "b") for r in ("1", "2", *many[::3])])
    keys = [("a", "1"), ("b", "2"), ("b", "9"), ("c", "1"), ("a", "1"), *(("a", r) for r in many)]
    batch = Batch(engine)
    try:
        batch.prefetch_responses(keys)
        assert {k: v and v.fingerprint for k, v in batch.responses.items()} == {
            ("a", "1"): "a1", ("b", "2"): "b2", ("b", "9"): None, ("c", "1"): None,
            **{("a", r): f"a{r}" if i % 3 == 0 else None for i, r in enumerate(many)}}
        assert batch.responses[("a", "1")].response == b"x"
    finally:
        batch.close()
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            for statement, values in ((STORED_RESPONSE.statement, dict(client_id="a", request_id="1")),
                                      (stored_responses_query(3).statement, dict(client_id="a", r0="1", r1="2", r2="3"))):
                compiled = statement.params(**values).compile(engine, compile_kwargs={"literal_binds": True})
                plan = " ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
                assert "SEARCH idempotency USING INDEX" in plan, plan


def test_a_lane_keeps_its_connection_only_while_its_transactions_succeed(clean_db):
    """A lane reuses its connection (on SQLite) from one transaction to the next, but
    a connection whose transaction failed in the database is never used again, and a
    kept one sees what others committed in between."""
    import datetime as dt

    import pytest
    import sqlalchemy as sa
    from hub.domain.errors import NotFound
    from hub.runtime.lanes import Lane
    engine = clean_db
    lane = Lane(engine)
    keeps = engine.dialect.name == "sqlite"

    def run(work=lambda uow: None):
        with Store(engine, engine).unit(lane=lane) as uow:
            work(uow)
            uow.commit()
            return uow.conn

    def count(uow):
        uow.counted = uow.conn.execute(sa.select(sa.func.count()).select_from(tables.idempotency)).scalar_one()

    try:
        first = run()
        assert (run() is first) == keeps

        def refused(uow):
            raise NotFound("no such case")  # the use case's own refusal: the connection is fine
        with pytest.raises(NotFound):
            run(refused)
        assert (run() is first) == keeps

        def broken(uow):  # the database refuses the statement
            uow.conn.execute(sa.insert(tables.sequences).values(name="events", value=0))
        with pytest.raises(sa.exc.IntegrityError):
            run(broken)
        assert first.closed
        after = run()
        assert after is not first and after.closed != keeps

        # Between transactions a kept connection holds no snapshot.
        seen = []
        with Store(engine, engine).unit(lane=lane) as uow:
            count(uow)
            seen.append(uow.counted)
            uow.commit()
        with engine.begin() as other:
            other.execute(tables.idempotency.insert(), [dict(
                client_id="c", request_id="r", rpc="CreateCase", fingerprint="f", response=b"x",
                created_at=dt.datetime.now(dt.timezone.utc))])
        with Store(engine, engine).unit(lane=lane) as uow:
            count(uow)
            seen.append(uow.counted)
            uow.commit()
        assert seen == [0, 1]
    finally:
        lane.close()


@contextlib.contextmanager
def _lane_on_a_new_file(tmp_path):
    """A migrated SQLite file of its own (no other connection checkpoints it), its
    engine and a lane; the lane closed (its checkpointer stopped) afterwards."""
    from hub.store.db import create_engine
    from hub.store.migrate import upgrade
    from hub.runtime.lanes import Lane
    path = tmp_path / "hub.db"
    upgrade(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    lane = Lane(engine)
    try:
        yield path, engine, lane
    finally:
        lane.close()
        engine.dispose()


def _remember(engine, lane, request_id: str) -> None:
    """One small transaction on the lane: a few pages in the log."""
    import datetime as dt

    with Store(engine, engine).unit(lane=lane) as uow:
        uow.idempotency.remember("client", request_id, "CreateCase", "f" * 64, b"answer",
                                 dt.datetime.now(dt.timezone.utc))
        uow.commit()


def test_a_lanes_commits_reach_the_database_file_through_a_background_checkpoint(tmp_path):
    """On a SQLite file, what a lane commits is copied from the write-ahead log into the
    database file by a thread of its own, soon after the commit, rather than by one of
    the lane's commits (each would wait for it: 8-20 ms on a grown database); the thread
    is idle while nothing is written and ends with the lane."""
    import sqlite3


    def wait_for(condition) -> bool:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        return condition()

    with _lane_on_a_new_file(tmp_path) as (path, engine, lane):
        def in_file() -> int:
            """Idempotency rows in the database file itself, the log left aside."""
            file = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
            try:
                return file.execute("SELECT count(*) FROM idempotency").fetchone()[0]
            finally:
                file.close()

        for n in range(3):  # a few pages: far below SQLite's own checkpoint in the commit (1,000)
            _remember(engine, lane, f"request-{n}")
        assert wait_for(lambda: in_file() == 3 and lane.checkpointer.checkpoints >= 1)
        time.sleep(0.5)  # (a checkpoint the later commits asked for ends meanwhile)
        done = lane.checkpointer.checkpoints
        with Store(engine, engine).unit(lane=lane) as uow:  # a read-only transaction writes nothing to the log
            assert uow.idempotency.stored("client", "request-0") is not None
            uow.commit()
        time.sleep(0.5)
        assert lane.checkpointer.checkpoints == done  # nothing written: nothing to do
    assert not lane.checkpointer._thread.is_alive()


def test_the_checkpointer_waits_longer_when_the_log_grew_little_and_shorter_when_it_grew_much():
    import pytest
    from hub.runtime.checkpoint import Pace
    pace = Pace(shortest=0.01, longest=1.0, low=100, high=400)
    waits = []
    for log_pages in [20, 40,  # a trickle: 20 pages each time
                      240, 640,  # more: 200, 400
                      1440,  # a flood: 800 pages, cut to fit 400 in one step
                      30,  # the log began again from its start: 30 pages, not -1410
                      30,  # again, to the same length
                      -1]:  # not told (not in WAL mode): no change
        pace.checkpointed(log_pages)
        waits.append(pace.wait)
    assert waits == pytest.approx([0.02, 0.04, 0.04, 0.04, 0.02, 0.04, 0.08, 0.08])
    for n in range(1, 20):
        pace.checkpointed(n)
    assert pace.wait == 1.0  # at most `longest`
    pace.checkpointed(100_000)
    assert pace.wait == 0.01  # at least `shortest`


def test_a_trickle_of_commits_is_checkpointed_less_often_than_once_a_commit(tmp_path):
    """One checkpoint a commit would write a table's last page into the database file,
    and sync it, at every commit; a few commits' pages go in one."""
    with _lane_on_a_new_file(tmp_path) as (_, engine, lane):
        for n in range(20):
            _remember(engine, lane, f"request-{n}")
            time.sleep(0.03)  # three times the shortest wait: each commit would have a checkpoint of its own
        assert 1 <= lane.checkpointer.checkpoints <= 10


def test_only_a_sqlite_file_has_a_log_to_checkpoint(engine):
    from hub.store.db import create_engine, is_sqlite_file
    assert is_sqlite_file(engine) == (engine.dialect.name == "sqlite")
    memory = create_engine("sqlite://")
    try:
        assert not is_sqlite_file(memory)
    finally:
        memory.dispose()
