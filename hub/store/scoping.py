"""A client's data limits (hub.domain.identity.Scope) as SQL: the same rule `Scope.sees`
applies in memory, as the WHERE clause of every list and stream."""
from __future__ import annotations

import sqlalchemy as sa

from hub.domain.identity import Scope
from hub.store import tables as t


def scoped(q, scope: Scope, *, by_authority: bool = True, cases: sa.Table = t.cases):
    """`q` (selecting from or joined to the cases table) limited to the cases `scope`
    sees: of its municipalities (or, `by_authority`, whose authority it is), its
    benefits and its sensitivities."""
    c = cases.c
    where = [c.municipality_code.in_(sorted(scope.municipalities))]
    if by_authority and scope.central_keys:
        where.append(c.authority_key.in_(list(scope.central_keys)))
    q = q.where(sa.or_(*where) if len(where) > 1 else where[0],
                c.sensitivity.in_([s.value for s in scope.sensitivities]))
    if scope.benefits is not None:
        q = q.where(c.benefit_code.in_(sorted(scope.benefits)))
    return q
