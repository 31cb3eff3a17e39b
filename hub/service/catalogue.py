"""The benefit catalogue: which benefits the hub handles and how (data, not code)."""
from __future__ import annotations

import datetime as dt

from hub.domain import commands as cmd
from hub.domain.errors import NotFound, Violations
from hub.domain.identity import Identity
from hub.domain.model import Benefit
from hub.store.uow import UnitOfWork


def list_benefits(uow: UnitOfWork, identity: Identity, now: dt.datetime) -> list[Benefit]:
    return uow.catalogue.all()


def get_benefit(uow: UnitOfWork, identity: Identity, code: str, now: dt.datetime) -> Benefit:
    v = Violations()
    cmd.check_benefit_code(v, "code", code)
    v.raise_if_any()
    b = uow.catalogue.get(code)
    if b is None:
        raise NotFound("no benefit with that code", reason="BENEFIT_NOT_FOUND", metadata={"code": code})
    return b
