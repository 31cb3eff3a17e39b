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


def create_postgres_database(url: str) -> bool:
    """Create the URL's database if the server has none of that name (connecting to the
    server's `postgres` database to do so); whether it was created."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), dict(n=target.database)).first():
                return False
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
            return True
    finally:
        admin.dispose()
