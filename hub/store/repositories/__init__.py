"""The repositories the unit of work hands out, one per aggregate: each takes and
returns domain objects, and turns them into SQL and back. None of them decides
anything: the rules are the domain's, applied by the use cases."""
from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from hub.store.uow import UnitOfWork


class Repository:
    __slots__ = ("_uow",)

    def __init__(self, uow: "UnitOfWork"):
        self._uow = uow

    @property
    def _c(self) -> sa.Connection:
        """The connection, ready for this use case's statements (its buffered rows
        written first, its savepoint open in a batch)."""
        return self._uow.writer()

    @property
    def _locks(self) -> bool:
        """Row locks (SELECT ... FOR UPDATE) are taken: not on SQLite, where the
        transaction holds the database's write lock."""
        return self._uow.locks
