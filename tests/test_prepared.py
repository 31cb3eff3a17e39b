"""The group commit's prepared statements bypass SQLAlchemy's per-statement and per-row
handling; what they store, read and raise must be what SQLAlchemy itself gives."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import sqlalchemy as sa

from hub.store import tables as t
from hub.store.prepared import COPY_FROM, Query, insert_many, insert_new_returning

UTC = dt.timezone.utc


def _event(seq: int, at: dt.datetime) -> dict:
    return dict(seq=seq, event_id=f"e-{seq}", type="case.created", case_id=None, municipality_code="101",
                benefit_code="BOLIGSTOETTE", occurred_at=at, client_id="c",
                payload={"n": seq, "text": "æøå", "nested": {"list": [1, None, True]}})


def test_bulk_rows_read_back_like_rows_sqlalchemy_inserted(clean_db):
    at = dt.datetime(2026, 11, 23, 12, 0, 0, 0, tzinfo=UTC)  # no microseconds: stored with .000000
    other_zone = dt.datetime(2026, 11, 23, 14, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with clean_db.begin() as conn:
        conn.execute(t.events.insert(), [_event(1, at), _event(2, other_zone)])
        insert_many(conn, t.events, [_event(3, at), _event(4, other_zone)])
    with clean_db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(t.events).order_by(t.events.c.seq))]
        # Same text on disk, so that comparisons and ordering in SQL agree between the two.
        raw = conn.execute(sa.select(sa.cast(t.events.c.occurred_at, sa.String)).order_by(t.events.c.seq)).scalars()
        raw = list(raw)
    strip = [{k: v for k, v in r.items() if k not in ("seq", "event_id", "payload")} for r in rows]
    assert strip[0] == strip[2] and strip[1] == strip[3]
    assert rows[2]["occurred_at"] == at and rows[3]["occurred_at"] == other_zone
    assert [r["payload"] for r in rows] == [_event(n, at)["payload"] for n in (1, 2, 3, 4)]
    assert raw[0] == raw[2] and raw[1] == raw[3]
    with clean_db.connect() as conn:
        assert conn.execute(sa.select(t.events.c.seq).where(t.events.c.occurred_at == at)).scalars().all() == [1, 3]


def test_a_duplicate_key_is_sqlalchemys_integrity_error_and_rolls_back(clean_db):
    at = dt.datetime.now(UTC)
    with pytest.raises(sa.exc.IntegrityError) as err:
        with clean_db.begin() as conn:
            insert_many(conn, t.events, [_event(1, at)])
            insert_many(conn, t.events, [_event(2, at), _event(1, at)])
    assert "INSERT INTO events" in err.value.statement
    with clean_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one() == 0


# Text that COPY's text format escapes (tab, newline, backslash, its NULL marker \\N),
# quotes and letters outside ASCII.
_AWKWARD = ["tab\there", "two\nlines", "back\\slash", "\\N", "\"quoted\" 'too'", "æøå ÆØÅ", ""]


def test_many_rows_at_once_read_back_like_rows_sqlalchemy_inserted(clean_db):
    """From COPY_FROM rows on, PostgreSQL takes them as one COPY: the same rows as an
    INSERT of each (on SQLite, which inserts them one by one either way, the same too)."""
    at = dt.datetime(2026, 11, 23, 12, 0, 0, 7, tzinfo=UTC)
    other_zone = dt.datetime(2026, 11, 23, 14, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    n = COPY_FROM + 5

    def rows(first: int) -> list[dict]:
        out = []
        for i in range(n):
            text = _AWKWARD[i % len(_AWKWARD)]
            out.append(dict(_event(first + i, at if i % 2 else other_zone), event_id=f"e-{first + i}-{text}",
                            case_id=None if i % 3 else text, payload={"text": text, "n": i, "list": [None, True]}))
        return out
    with clean_db.begin() as conn:
        conn.execute(t.events.insert(), rows(1))
        insert_many(conn, t.events, rows(1 + n))
    with clean_db.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(sa.select(t.events).order_by(t.events.c.seq))]
        raw = list(conn.execute(sa.select(sa.cast(t.events.c.occurred_at, sa.String)).order_by(t.events.c.seq))
                   .scalars())
    assert len(stored) == 2 * n
    for i in range(n):
        theirs, ours = stored[i], stored[n + i]
        assert {k: v for k, v in ours.items() if k not in ("seq", "event_id")} == {
            k: v for k, v in theirs.items() if k not in ("seq", "event_id")}
        assert ours["event_id"] == f"e-{n + 1 + i}-{_AWKWARD[i % len(_AWKWARD)]}"
        assert raw[i] == raw[n + i]
    assert [r["seq"] for r in stored] == list(range(1, 2 * n + 1))  # in the order given


def test_a_duplicate_key_among_many_rows_is_an_integrity_error_and_rolls_back(clean_db):
    at = dt.datetime.now(UTC)
    with pytest.raises(sa.exc.IntegrityError):
        with clean_db.begin() as conn:
            insert_many(conn, t.events, [_event(1, at)])
            insert_many(conn, t.events, [_event(n, at) for n in range(2, COPY_FROM + 2)] + [_event(1, at)])
    with clean_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one() == 0


def test_new_rows_are_inserted_once_and_read_back_as_given(engine):
    """insert_new_returning (PostgreSQL: one statement of per-column arrays, sent in
    binary): every type the payment orders use, a column of nothing but NULLs, rows
    that clash with one stored (left out, and not returned)."""
    meta = sa.MetaData()
    table = sa.Table("bulk_new_probe", meta, sa.Column("id", t.BigId, primary_key=True, autoincrement=True),
                     sa.Column("key", sa.String(35), nullable=False, unique=True),
                     sa.Column("amount", sa.BigInteger, nullable=False), sa.Column("day", sa.Date, nullable=True),
                     sa.Column("at", t.UTCDateTime, nullable=False), sa.Column("absent", sa.String(36)),
                     sa.Column("flag", sa.Boolean, nullable=False), sa.Column("doc", t.Json, nullable=True))
    meta.create_all(engine)
    at = dt.datetime(2026, 11, 23, 14, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    def row(i: int) -> dict:
        return dict(key=f"k{i}-{_AWKWARD[i % len(_AWKWARD)]}", amount=2 ** 40 + i if i % 2 else i,
                    day=dt.date(2026, 5, 1 + i % 28) if i % 3 else None, at=at, absent=None, flag=bool(i % 2),
                    doc={"text": _AWKWARD[i % len(_AWKWARD)], "n": [i, None]} if i % 4 else None)
    try:
        with engine.begin() as conn:
            assert insert_new_returning(conn, table, [row(0)], "key", "key") == [row(0)["key"]]
            rows = [row(i) for i in range(30)]
            made = insert_new_returning(conn, table, rows, "key", "key")
            assert sorted(made) == sorted(r["key"] for r in rows[1:])
        with engine.connect() as conn:
            stored = [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]
        assert [{k: v for k, v in r.items() if k != "id"} for r in stored] == [row(i) for i in range(30)]
    finally:
        meta.drop_all(engine)


def test_a_column_with_a_python_default_is_left_to_sqlalchemy(engine):
    meta = sa.MetaData()
    table = sa.Table("bulk_default_probe", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("kind", sa.String(10), default="plain"))
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            insert_many(conn, table, [dict(id=1), dict(id=2)])
            insert_many(conn, table, [dict(id=3, kind="given")])
        with engine.connect() as conn:
            assert conn.execute(sa.select(table.c.kind).order_by(table.c.id)).scalars().all() == [
                "plain", "plain", "given"]
    finally:
        meta.drop_all(engine)


def test_rows_of_one_column_and_rows_with_no_time_are_written_as_given(engine):
    meta = sa.MetaData()
    ids = sa.Table("bulk_one_column_probe", meta, sa.Column("id", sa.Integer, primary_key=True))
    times = sa.Table("bulk_null_time_probe", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("at", t.UTCDateTime, nullable=True))
    meta.create_all(engine)
    at = dt.datetime(2026, 11, 23, 12, 0, 0, 7, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            insert_many(conn, ids, [dict(id=1), dict(id=2)])
            insert_many(conn, times, [dict(id=1, at=None), dict(id=2, at=at)])
        with engine.connect() as conn:
            assert conn.execute(sa.select(ids.c.id).order_by(ids.c.id)).scalars().all() == [1, 2]
            assert conn.execute(sa.select(times.c.at).order_by(times.c.id)).scalars().all() == [None, at]
    finally:
        meta.drop_all(engine)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1, 1, 1, 14), max_value=dt.datetime(9999, 12, 31, 10),
                    timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=2)),
                                               dt.timezone(dt.timedelta(hours=-9, minutes=-30))])))
def test_sqlite_stores_times_in_sqlalchemys_own_datetime_text(value):
    """The store's faster UTC formatting for SQLite writes exactly the text SQLAlchemy's
    DATETIME would, so rows written before and after compare and sort alike."""
    from sqlalchemy.dialects import sqlite
    dialect = sqlite.dialect()
    ours = t.events.c.occurred_at.type.dialect_impl(dialect).bind_processor(dialect)
    theirs = sqlite.DATETIME().bind_processor(dialect)
    expected = theirs(value.astimezone(UTC).replace(tzinfo=None))
    assert ours(value) == expected
    assert ours(value) == expected  # bound again: the kept text
    elsewhere = value.astimezone(dt.timezone(dt.timedelta(hours=5)))  # the same instant in another zone
    assert ours(elsewhere) == expected
    other = value + dt.timedelta(microseconds=1) if value.year < 9999 else value - dt.timedelta(microseconds=1)
    assert ours(other) != expected and ours(value) == expected  # texts kept side by side
    with pytest.raises(ValueError):
        ours(value.replace(tzinfo=None))  # naive: refused, even when its wall time was kept


def test_the_kept_datetime_texts_stay_bounded():
    from sqlalchemy.dialects import sqlite
    dialect = sqlite.dialect()
    bind = t.events.c.occurred_at.type.dialect_impl(dialect).bind_processor(dialect)
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(3 * t._SQLITE_TEXTS_MAX):
        assert bind(start + dt.timedelta(seconds=i)) == f"2026-01-01 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000000"
    assert len(t._SQLITE_TEXTS) <= t._SQLITE_TEXTS_MAX


def test_a_prepared_query_reads_and_writes_what_sqlalchemy_does(clean_db):
    benefit = sa.select(t.benefits).where(t.benefits.c.code == sa.bindparam("code"))
    bump = (sa.update(t.sequences).where(t.sequences.c.name == "events")  # a value written into the SQL
            .values(value=t.sequences.c.value + sa.bindparam("n")).returning(t.sequences.c.value))
    with clean_db.begin() as conn:
        expected = conn.execute(benefit, {"code": "BOLIGSTOETTE"}).one()
        got = Query(benefit).first(conn, code="BOLIGSTOETTE")
        assert got._asdict() == dict(expected._mapping)
        assert isinstance(got.discretion_possible, bool)  # the result processors ran (SQLite keeps 0/1)
        assert Query(benefit).first(conn, code="NO_SUCH") is None
        assert Query(bump).first(conn, n=5).value == 5
        assert conn.execute(bump, {"n": 2}).scalar_one() == 7
        assert Query(bump).all(conn, n=1)[0] == (8,)
        with pytest.raises(sa.exc.ArgumentError, match="code"):
            Query(benefit).first(conn)  # a parameter left out is an error, not NULL
    with pytest.raises(sa.exc.IntegrityError):
        with clean_db.begin() as conn:
            Query(sa.update(t.benefits).values(code=None)).all(conn)
