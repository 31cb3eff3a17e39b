"""Bulk inserts for the rows a group commit writes at its end (cases, status history,
idempotency records, outbox messages, audit entries, events).

`conn.execute(table.insert(), rows)` spends most of its time per row in SQLAlchemy's
generic parameter handling. Here the statement is compiled once per dialect and
column set, each column's own bind processor (the dialect's, plus our type
decorators') is applied in one pass, and the driver's executemany runs on the
connection's current transaction. The SQL and the stored values are exactly what
SQLAlchemy would have produced; a driver error is wrapped the way SQLAlchemy wraps it
(an `IntegrityError` stays an `sqlalchemy.exc.IntegrityError`), so callers see no
difference."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import sqlalchemy as sa


class _PreparedInsert:
    __slots__ = ("sql", "names", "processors", "positional")

    def __init__(self, table: sa.Table, keys: Sequence[str], dialect: sa.Dialect):
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        self.positional = compiled.positional
        names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        # (bind name, row key, processor or None), in the statement's parameter order.
        self.names: list[tuple[str, str]] = [(n, compiled.binds[n].key) for n in names]
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
    params = prepared.parameters(rows)
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(prepared.sql, params)
    except dbapi.Error as err:
        raise sa.exc.DBAPIError.instance(prepared.sql, params, err, dbapi.Error) from err
    finally:
        cursor.close()
