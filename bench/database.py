"""A fresh, migrated database for a benchmark: $HUB_BENCH_DATABASE_URL (PostgreSQL's
schema is dropped and recreated first), or a new SQLite file under var/<folder>/.
The folder is emptied either way (benchmarks write their drop folders there)."""
from __future__ import annotations

import os
import shutil


def fresh_database(folder: str) -> str:
    from hub.store.migrate import recreate_postgres_schema, upgrade

    root = os.path.join("var", folder)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    url = os.environ.get("HUB_BENCH_DATABASE_URL") or f"sqlite:///{root}/hub.db"
    if url.startswith("postgresql"):
        recreate_postgres_schema(url)
    upgrade(url)
    return url
