"""Run the Alembic migrations (`hub migrate`)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from hub.store.db import database_url


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "hub.store:migrations")
    cfg.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def recreate_postgres_schema(url: str) -> None:
    """Drop and recreate the public schema (tests and benchmarks only)."""
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
