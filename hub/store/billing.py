"""Subscription billing in SQL: the price model's versions, what counts (the cases decided
in a quarter), the quarters billed and their lines (hub.domain.billing has the rules)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import sqlalchemy as sa

from hub.domain import billing as bl
from hub.store import tables as t
from hub.store.repositories import Repository

P, R, L = t.billing_price_models.c, t.billing_runs.c, t.billing_lines.c


def _model(r) -> bl.PriceModel:
    m = bl.price_model_from_dict(dict(r.data, version=r.version))
    return bl.PriceModel(m.version, m.effective_from, m.kind, m.title, m.source, m.note, m.ledger_account,
                         m.ledger_account_source, m.base_fee, m.benefits, r.published_by, r.published_at)


def _run(r) -> bl.BillingRun:
    return bl.BillingRun(r.run_id, bl.Quarter.parse(r.quarter), r.client_id, r.request_id, r.price_model_version,
                         bl.ModelKind(r.model), r.ledger_account, r.run_at, dict(r.unallocated or {}))


def _line(r) -> bl.Line:
    return bl.Line(bl.LineKind(r.kind), r.benefit_code, r.cases, r.unit_price_oere, r.amount_oere, r.national_cases,
                   r.cost_pool_oere)


class Billing(Repository):
    # ---- the price model ------------------------------------------------------------------------

    def price_models(self) -> list[bl.PriceModel]:
        return [_model(r) for r in self._uow.conn.execute(sa.select(t.billing_price_models).order_by(P.version))]

    def add_price_model(self, d: Mapping[str, Any], published_by: str, at: dt.datetime) -> bl.PriceModel:
        """A new version (the next number; a concurrent one fails on the key and is run again)."""
        c = self._c
        version = (c.execute(sa.select(sa.func.max(P.version))).scalar() or 0) + 1
        m = bl.price_model_from_dict(d, version=version)
        c.execute(t.billing_price_models.insert().values(version=version, effective_from=m.effective_from,
                                                         model=m.kind.value, data=bl.price_model_to_dict(m),
                                                         published_by=published_by, published_at=at))
        return bl.PriceModel(m.version, m.effective_from, m.kind, m.title, m.source, m.note, m.ledger_account,
                             m.ledger_account_source, m.base_fee, m.benefits, published_by, at)

    # ---- quarters billed --------------------------------------------------------------------------

    def run(self, quarter: bl.Quarter) -> bl.BillingRun | None:
        r = self._c.execute(sa.select(t.billing_runs).where(R.quarter == str(quarter))).first()
        return _run(r) if r else None

    def record(self, run: bl.BillingRun, billing: bl.Billing) -> None:
        """The quarter billed and every line (the quarter's key refuses a second run)."""
        c = self._c
        c.execute(t.billing_runs.insert().values(
            quarter=str(run.quarter), run_id=run.run_id, client_id=run.client_id, request_id=run.request_id,
            price_model_version=run.price_model_version, model=run.kind.value, ledger_account=run.ledger_account,
            run_at=run.run_at, unallocated=dict(run.unallocated)))
        rows = [dict(quarter=str(run.quarter), municipality_code=s.municipality_code, line_no=i, kind=x.kind.value,
                     benefit_code=x.benefit_code, cases=x.cases, unit_price_oere=x.unit_price_oere,
                     amount_oere=x.amount_oere, national_cases=x.national_cases, cost_pool_oere=x.cost_pool_oere)
                for s in billing.statements for i, x in enumerate(s.lines, start=1)]
        if rows:
            c.execute(t.billing_lines.insert(), rows)

    def statement(self, quarter: bl.Quarter, municipality_code: str) -> bl.Statement:
        """A billed quarter's lines of one municipality (none: nothing billed to it)."""
        rows = self._c.execute(sa.select(t.billing_lines).where(L.quarter == str(quarter),
                                                                L.municipality_code == municipality_code)
                               .order_by(L.line_no))
        return bl.Statement(municipality_code, tuple(_line(r) for r in rows))
