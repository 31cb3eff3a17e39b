"""The rule sets (hub.domain.rules): every published version per benefit, never updated."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from hub.domain.rules import RuleSet, rule_set_from_dict, rule_set_to_dict
from hub.store import tables as t
from hub.store.repositories import Repository

R = t.rule_sets.c


def _rule_set(r) -> RuleSet:
    d = dict(benefit_code=r.benefit_code, version=r.version, effective_from=r.effective_from.isoformat(),
             legal_basis=r.legal_basis, source=r.source, note=r.note, parameters=r.parameters)
    rs = rule_set_from_dict(d)
    return RuleSet(rs.benefit_code, rs.version, rs.effective_from, rs.legal_basis, rs.source, rs.parameters,
                   r.published_by, r.published_at, rs.note)


class RuleSets(Repository):
    def versions(self, benefit_code: str = "") -> list[RuleSet]:
        """Every version (of one benefit), newest first."""
        q = sa.select(t.rule_sets)
        if benefit_code:
            q = q.where(R.benefit_code == benefit_code)
        return [_rule_set(r) for r in self._uow.conn.execute(q.order_by(R.benefit_code, R.version.desc()))]

    def of(self, benefit_code: str) -> list[RuleSet]:
        """A benefit's versions (for hub.domain.rules.in_force / segments); within a
        group-commit batch read once."""
        uow = self._uow
        cache = uow.batch.rule_sets if uow.batch is not None else None
        if cache is not None and benefit_code in cache:
            return cache[benefit_code]
        found = self.versions(benefit_code)
        if cache is not None:
            cache[benefit_code] = found
        return found

    def get(self, benefit_code: str, version: int) -> RuleSet | None:
        r = self._uow.conn.execute(sa.select(t.rule_sets).where(R.benefit_code == benefit_code,
                                                                R.version == version)).first()
        return _rule_set(r) if r else None

    def add(self, rule_set: RuleSet, published_by: str, at: dt.datetime) -> RuleSet:
        """Publish: the next version number of the benefit (a concurrent publication of
        the same number fails on the unique key, and the call is run again)."""
        c = self._c
        last = c.execute(sa.select(sa.func.max(R.version)).where(R.benefit_code == rule_set.benefit_code)).scalar()
        version = (last or 0) + 1
        d = rule_set_to_dict(rule_set)
        c.execute(t.rule_sets.insert().values(
            benefit_code=rule_set.benefit_code, version=version, effective_from=rule_set.effective_from,
            legal_basis=rule_set.legal_basis, source=rule_set.source, note=rule_set.note,
            parameters=d["parameters"], published_by=published_by, published_at=at))
        if self._uow.batch is not None:
            self._uow.batch.rule_sets.pop(rule_set.benefit_code, None)
        return RuleSet(rule_set.benefit_code, version, rule_set.effective_from, rule_set.legal_basis,
                       rule_set.source, rule_set.parameters, published_by, at, rule_set.note)
