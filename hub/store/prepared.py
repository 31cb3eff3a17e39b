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

from collections import namedtuple
from typing import Any, Callable, Sequence

import sqlalchemy as sa


def _bound_parameters(compiled) -> list[tuple[str, sa.BindParameter]]:
    """(name as rendered in the SQL, parameter), in the order the driver takes them."""
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    names = compiled.positiontup if compiled.positional else list(by_name)
    return [(name, by_name[name]) for name in names]


class _PreparedInsert:
    __slots__ = ("sql", "names", "processors", "positional")

    def __init__(self, table: sa.Table, keys: Sequence[str], dialect: sa.Dialect):
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        self.positional = compiled.positional
        # (bind name, row key, processor or None), in the statement's parameter order.
        self.names: list[tuple[str, str]] = [(n, b.key) for n, b in _bound_parameters(compiled)]
        self.processors: list[Callable[[Any], Any] | None] = [
            table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for _, key in self.names]

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list:
        cols = [(key, proc) for (_, key), proc in zip(self.names, self.processors)]
        values = [[row[key] if proc is None else proc(row[key]) for key, proc in cols] for row in rows]
        if self.positional:
            return [tuple(v) for v in values]
        bind_names = [name for name, _ in self.names]
        return [dict(zip(bind_names, v)) for v in values]


_PREPARED: dict[tuple[str, str, tuple[str, ...]], _PreparedInsert | None] = {}


def _prepared(dialect: sa.Dialect, table: sa.Table, keys: tuple[str, ...]) -> _PreparedInsert | None:
    cache_key = (dialect.name, table.name, keys)
    if cache_key not in _PREPARED:
        # A column left out that has a Python-side default needs SQLAlchemy to fill it in.
        needs_default = any(c.default is not None for c in table.c if c.key not in keys)
        _PREPARED[cache_key] = None if needs_default else _PreparedInsert(table, keys, dialect)
    return _PREPARED[cache_key]


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row (all with the same keys) in the connection's transaction."""
    if not rows:
        return
    prepared = _prepared(conn.dialect, table, tuple(rows[0]))
    if prepared is None:
        conn.execute(table.insert(), list(rows))
        return
    _run(conn, prepared.sql, prepared.parameters(rows), many=True)


def _run(conn: sa.Connection, sql: str, params, *, many: bool = False) -> list[tuple]:
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


class _CompiledQuery:
    __slots__ = ("sql", "positional", "binds", "required", "row", "result_processors")

    def __init__(self, statement, dialect: sa.Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = compiled.positional
        # (name, value written into the statement or None, processor), in parameter order
        self.binds = [(n, b.value, b.type.dialect_impl(dialect).bind_processor(dialect))
                      for n, b in _bound_parameters(compiled)]
        self.required = frozenset(n for n, b in _bound_parameters(compiled) if b.required)
        columns = list(statement.exported_columns)
        self.row = namedtuple("Row", [c.key for c in columns]) if columns else None
        self.result_processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

    def parameters(self, values: dict[str, Any]):
        missing = self.required.difference(values)
        if missing:
            raise sa.exc.ArgumentError(f"a value is required for {', '.join(sorted(missing))}")
        given = [(n, values[n] if n in values else fixed, proc) for n, fixed, proc in self.binds]
        processed = [(n, v if proc is None else proc(v)) for n, v, proc in given]
        return tuple(v for _, v in processed) if self.positional else dict(processed)

    def rows(self, raw: list[tuple]) -> list:
        procs = self.result_processors
        return [self.row(*(v if p is None else p(v) for v, p in zip(r, procs))) for r in raw]


class Query:
    """One statement, built once at import, run often. Its bound parameters are named
    (`sa.bindparam`); expanding ones (IN lists) are not supported. Rows are named
    tuples of the selected (or returned) columns."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[str, _CompiledQuery] = {}

    def all(self, conn: sa.Connection, **values: Any) -> list:
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = _CompiledQuery(self.statement, conn.dialect)
        raw = _run(conn, compiled.sql, compiled.parameters(values))
        return compiled.rows(raw) if compiled.row is not None else []

    def first(self, conn: sa.Connection, **values: Any):
        rows = self.all(conn, **values)
        return rows[0] if rows else None
