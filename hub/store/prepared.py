"""Prepared statements for the group commit's hot path: the rows a batch writes at its
end (cases, status history, idempotency records, outbox messages, audit entries,
events) and the few statements every commit runs (the audit chain's head, the event
counter, the benefit look-up).

SQLAlchemy's `conn.execute` costs 60-100 us of Python per statement on top of the
driver's 5 us, and for an executemany it handles every row's parameters generically.
Here a statement is compiled once per dialect (and column set), each parameter goes
through its type's own bind processor (the dialect's and our type decorators'), each
result column through its result processor, and the driver runs it on the
connection's current transaction. The SQL, the stored values and the values read are
what SQLAlchemy would have produced; a driver error is wrapped the way SQLAlchemy
wraps it (an `IntegrityError` stays an `sqlalchemy.exc.IntegrityError`), so callers
see no difference."""
from __future__ import annotations

import contextlib
import operator
from collections import namedtuple
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite


class _Compiled:
    """A statement compiled for one dialect: its SQL, its parameters in the order the
    driver takes them (with each one's bind processor, and the value written into the
    statement, if any), and the named-tuple row of its selected or returned columns."""
    __slots__ = ("sql", "positional", "binds", "required", "row", "result_processors", "_getter", "_processed")

    def __init__(self, statement, dialect: sa.Dialect, column_keys: Sequence[str] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        self.positional = compiled.positional
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        names = compiled.positiontup if compiled.positional else list(by_name)
        # (name as rendered in the SQL, key in the caller's values, value written into
        # the statement or None, processor or None)
        self.binds: list[tuple[str, str, Any, Callable[[Any], Any] | None]] = [
            (n, by_name[n].key if column_keys is not None else n, by_name[n].value,
             by_name[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names]
        self.required = frozenset(key for n, key, _, _ in self.binds if by_name[n].required)
        columns = list(statement.exported_columns) if column_keys is None else []
        self.row = namedtuple("Row", [c.key for c in columns]) if columns else None
        self.result_processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        # For parameters_many: every value out of a row in one C call (an itemgetter of
        # one key returns the value itself, not a 1-tuple), and which of them to process.
        keys = [key for _, key, _, _ in self.binds]
        self._getter = operator.itemgetter(*keys) if len(keys) > 1 else lambda row: tuple(row[k] for k in keys)
        self._processed = tuple((i, proc) for i, (_, _, _, proc) in enumerate(self.binds) if proc is not None)

    def parameters(self, values: dict[str, Any]):
        missing = self.required.difference(values)
        if missing:
            raise sa.exc.ArgumentError(f"a value is required for {', '.join(sorted(missing))}")
        processed = [(n, v if proc is None else proc(v))
                     for n, v, proc in ((n, values.get(key, fixed), proc) for n, key, fixed, proc in self.binds)]
        return tuple(v for _, v in processed) if self.positional else dict(processed)

    def parameters_many(self, rows: Sequence[dict[str, Any]]) -> list:
        """For an INSERT compiled for the rows' own keys: every parameter is a key of
        every row (one without it is a KeyError), so nothing is checked per row. The
        values are taken out of each row in one C call (itemgetter); only the columns
        whose type has a bind processor (times, JSON) are then run through it."""
        getter, processed = self._getter, self._processed
        if processed:
            values = []
            for row in rows:
                v = list(getter(row))
                for i, proc in processed:
                    v[i] = proc(v[i])
                values.append(v)
        else:
            values = [getter(row) for row in rows]
        if self.positional:
            return values  # the drivers take a list or a tuple alike
        names = [n for n, _, _, _ in self.binds]
        return [dict(zip(names, v)) for v in values]

    def rows(self, raw: list[tuple]) -> list:
        procs = self.result_processors
        return [self.row(*(v if p is None else p(v) for v, p in zip(r, procs))) for r in raw]


_INSERTS: dict[tuple[str, str, tuple[str, ...]], _Compiled | None] = {}


def _insert(dialect: sa.Dialect, table: sa.Table, keys: tuple[str, ...]) -> _Compiled | None:
    cache_key = (dialect.name, table.name, keys)
    if cache_key not in _INSERTS:
        # A column left out that has a Python-side default needs SQLAlchemy to fill it in.
        needs_default = any(c.default is not None for c in table.c if c.key not in keys)
        _INSERTS[cache_key] = None if needs_default else _Compiled(table.insert(), dialect, column_keys=keys)
    return _INSERTS[cache_key]


# From this many rows on, PostgreSQL takes them as one COPY: an executemany is a
# statement per row, each bound and run on its own (a payment run's 2,000 postings per
# chunk took 50-60 ms so, 30 ms as a COPY).
COPY_FROM = 100


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]], *,
                copy_from: int | None = None) -> None:
    """INSERT every row (all with the same keys) in the connection's transaction; on
    PostgreSQL as one COPY from `copy_from` rows on (default COPY_FROM; a pipeline
    takes no COPY: PIPELINE_COPY_FROM)."""
    if not rows:
        return
    compiled = _insert(conn.dialect, table, tuple(rows[0]))
    if compiled is None:
        conn.execute(table.insert(), list(rows))
        return
    if conn.dialect.name == "postgresql" and len(rows) >= (copy_from or COPY_FROM):
        _copy(conn, table, rows)
        return
    if conn.dialect.name == "postgresql" and len(rows) > 1:
        _insert_arrays(conn, table, rows)
        return
    driver_execute(conn, compiled.sql, compiled.parameters_many(rows), many=True)


_ARRAYS: dict[tuple[str, tuple[str, ...]], tuple[str, list]] = {}


def _insert_arrays(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Rows as one statement on PostgreSQL: `INSERT ... SELECT * FROM unnest(arrays)`,
    one binary array per column. An executemany sends a statement per row (in a
    pipeline each still costs psycopg a turn of its protocol loop: a group commit's
    four tables of 60 rows took most of its time so)."""
    keys = tuple(rows[0])
    cache_key = (table.name, keys)
    if cache_key not in _ARRAYS:
        dialect = conn.dialect
        columns = [table.c[k] for k in keys]
        arrays = ", ".join(f"%({k})b::{c.type.compile(dialect=dialect)}[]" for k, c in zip(keys, columns))
        _ARRAYS[cache_key] = (f"INSERT INTO {table.name} ({', '.join(keys)}) SELECT * FROM unnest({arrays})",
                              [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns])
    sql, processors = _ARRAYS[cache_key]
    params = {}
    for k, proc in zip(keys, processors):
        values = [row[k] for row in rows]
        params[k] = values if proc is None else [proc(v) for v in values]
    driver_execute(conn, sql, params)


_COPY: dict[tuple[str, tuple[str, ...]], tuple[str, list]] = {}


def _copy(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """The rows as `COPY table (keys) FROM STDIN`, each value bound as an INSERT binds
    it (its type's bind processor: JSON as its text, times in UTC), then written by the
    driver in COPY's text format. Columns left out take their defaults, as in an INSERT."""
    keys = tuple(rows[0])
    cache_key = (table.name, keys)
    if cache_key not in _COPY:
        dialect = conn.dialect
        processors = [table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys]
        _COPY[cache_key] = (f"COPY {table.name} ({', '.join(keys)}) FROM STDIN", processors)
    sql, processors = _COPY[cache_key]
    getter = operator.itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    processed = [(i, proc) for i, proc in enumerate(processors) if proc is not None]
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.cursor()
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                values = getter(row)
                if processed:
                    values = list(values)
                    for i, proc in processed:
                        values[i] = proc(values[i])
                copy.write_row(values)
    except dbapi.Error as err:
        raise sa.exc.DBAPIError.instance(sql, [], err, dbapi.Error) from err
    finally:
        cursor.close()


_UNNEST: dict[tuple[str, tuple[str, ...], str, str], tuple[str, list]] = {}


def insert_new_returning(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]], unique: str,
                         returning: str) -> list[Any]:
    """INSERT every row (all with the same keys) that does not clash on the `unique`
    column, returning the `returning` column of the rows made. On PostgreSQL one
    statement whatever the number of rows: the values go as one array per column
    (`INSERT ... SELECT FROM unnest(...)`). SQLAlchemy's multi-row VALUES made a
    statement of thousands of placeholders per thousand rows, which psycopg parsed
    anew each time (it caches only short statements): a third of a payment run's time.
    The arrays go in binary (%b): psycopg writes a text array element by element in
    Python, quoting each, 40 ms for a chunk's 2,000 orders; binary 15 ms."""
    if not rows:
        return []
    keys = tuple(rows[0])
    if conn.dialect.name != "postgresql":  # SQLite: its own INSERT ... ON CONFLICT, rows as they are
        return list(conn.execute(sqlite.insert(table).on_conflict_do_nothing(index_elements=[unique])
                                 .returning(table.c[returning]), list(rows)).scalars())
    cache_key = (table.name, keys, unique, returning)
    if cache_key not in _UNNEST:
        dialect = conn.dialect
        columns = [table.c[k] for k in keys]
        arrays = ", ".join(f"%({k})b::{c.type.compile(dialect=dialect)}[]" for k, c in zip(keys, columns))
        sql = (f"INSERT INTO {table.name} ({', '.join(keys)}) SELECT * FROM unnest({arrays}) "
               f"ON CONFLICT ({unique}) DO NOTHING RETURNING {returning}")
        _UNNEST[cache_key] = (sql, [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns])
    sql, processors = _UNNEST[cache_key]
    params = {}
    for k, proc in zip(keys, processors):
        values = [row[k] for row in rows]
        params[k] = values if proc is None else [proc(v) for v in values]
    return [r[0] for r in driver_execute(conn, sql, params)]


def driver_execute(conn: sa.Connection, sql: str, params=(), *, many: bool = False) -> list[tuple]:
    """Run `sql` on the driver's cursor, in the connection's current transaction;
    returns the rows, if any. A driver error is wrapped as SQLAlchemy wraps it."""
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
            return []
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []
    except dbapi.Error as err:
        raise sa.exc.DBAPIError.instance(sql, params, err, dbapi.Error) from err
    finally:
        cursor.close()


# In a pipeline (see `pipeline`) the rows go as an executemany up to this many (a COPY
# cannot run in one; the commit then writes outside it).
PIPELINE_COPY_FROM = 1000


@contextlib.contextmanager
def pipeline(conn: sa.Connection):
    """PostgreSQL's pipeline mode on the connection's driver for the block: statements
    are sent without waiting for each one's answer, and a read (fetch) or the block's end
    waits for all sent so far, in one round trip. A driver error (raised where the
    answers are read) is wrapped as SQLAlchemy wraps it. Elsewhere: nothing."""
    if conn.dialect.name != "postgresql":
        yield
        return
    dbapi = conn.dialect.loaded_dbapi
    try:
        with conn.connection.driver_connection.pipeline():
            yield
    except sa.exc.DBAPIError:
        raise
    except dbapi.Error as err:
        raise sa.exc.DBAPIError.instance(None, None, err, dbapi.Error) from err


class Query:
    """One statement, built once at import, run often. Its bound parameters are named
    (`sa.bindparam`); expanding ones (IN lists) are not supported. Rows are named
    tuples of the selected (or returned) columns."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def all(self, conn: sa.Connection, **values: Any) -> list:
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = _Compiled(self.statement, conn.dialect)
        raw = driver_execute(conn, compiled.sql, compiled.parameters(values))
        return compiled.rows(raw) if compiled.row is not None else []

    def first(self, conn: sa.Connection, **values: Any):
        rows = self.all(conn, **values)
        return rows[0] if rows else None

    def send(self, conn: sa.Connection, **values: Any):
        """Run the statement without reading its answer (in a pipeline: not waiting for
        it); `receive` reads it. Several sent before the first `receive` cost one round
        trip together."""
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = _Compiled(self.statement, conn.dialect)
        cursor = conn.connection.cursor()
        params = compiled.parameters(values)
        try:
            cursor.execute(compiled.sql, params)
        except conn.dialect.loaded_dbapi.Error as err:
            cursor.close()
            raise sa.exc.DBAPIError.instance(compiled.sql, params, err, conn.dialect.loaded_dbapi.Error) from err
        return compiled, cursor

    @staticmethod
    def receive(conn: sa.Connection, sent) -> list:
        compiled, cursor = sent
        dbapi = conn.dialect.loaded_dbapi
        try:
            # (In a pipeline a cursor's description is known only once its answer was
            # read: a statement that returns rows is fetched, whatever it says now.)
            raw = cursor.fetchall() if compiled.row is not None else []
        except dbapi.Error as err:
            raise sa.exc.DBAPIError.instance(compiled.sql, None, err, dbapi.Error) from err
        finally:
            cursor.close()
        return compiled.rows(raw) if compiled.row is not None else []
