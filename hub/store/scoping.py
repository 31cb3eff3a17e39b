"""A client's data limits (hub.domain.identity.Scope) as SQL: the same rule `Scope.sees`
applies in memory, as the WHERE clause of every list and stream."""
from __future__ import annotations

import sqlalchemy as sa

from hub.domain.identity import Scope
from hub.store import tables as t


def limits(scope: Scope, *, benefit_code: sa.ColumnElement, sensitivity: sa.ColumnElement) -> list[sa.ColumnElement]:
    """The conditions of `scope`'s benefits and sensitivities on these columns."""
    where = [sensitivity.in_([s.value for s in scope.sensitivities])]
    if scope.benefits is not None:
        where.append(benefit_code.in_(sorted(scope.benefits)))
    return where


def scoped(q, scope: Scope, *, by_authority: bool = True, cases: sa.Table = t.cases):
    """`q` (selecting from or joined to the cases table) limited to the cases `scope`
    sees: of its municipalities (or, `by_authority`, whose authority it is), its
    benefits and its sensitivities."""
    c = cases.c
    where = [c.municipality_code.in_(sorted(scope.municipalities))]
    if by_authority and scope.central_keys:
        where.append(c.authority_key.in_(list(scope.central_keys)))
    return q.where(sa.or_(*where) if len(where) > 1 else where[0],
                   *limits(scope, benefit_code=c.benefit_code, sensitivity=c.sensitivity))
