"""The Alembic migrations build exactly the schema the code declares (hub/store/tables.py)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.store import tables


def test_migrations_match_the_declared_tables(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert diff == []
