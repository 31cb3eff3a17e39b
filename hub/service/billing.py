"""Subscription billing: a quarter's invoice lines for every municipality, billed once and
posted to each municipality's economy system through the outbox, and a municipality's
statement (the lines billed, or before the run a preview of the quarter so far)."""
from __future__ import annotations

import datetime as dt

from hub.domain import billing as bl
from hub.domain import commands as cmd
from hub.domain import municipalities
from hub.domain.errors import FailedPrecondition, PermissionDenied
from hub.domain.identity import Identity
from hub.domain.ids import new_id
from hub.ports import messages as msg
from hub.service import statistics
from hub.store.uow import UnitOfWork


def _model(uow: UnitOfWork, quarter: bl.Quarter) -> bl.PriceModel:
    model = bl.in_force(uow.billing.price_models(), quarter)
    if model is None:
        raise FailedPrecondition(f"no price model is in force for {quarter}", reason="PRICE_MODEL_MISSING",
                                 metadata={"quarter": str(quarter)})
    return model


def _billing(uow: UnitOfWork, quarter: bl.Quarter, model: bl.PriceModel) -> bl.Billing:
    """(Of a quarter not ended yet: the cases decided so far.)"""
    counts = statistics.decided_by_place(uow, quarter.first_day, quarter.last_day)
    return bl.bill(model, counts, municipalities.all_municipalities())


def run_billing(uow: UnitOfWork, identity: Identity, c: cmd.RunBilling,
                now: dt.datetime) -> tuple[tuple[bl.BillingRun, bl.Billing], None]:
    """Bill a quarter that has ended, once: every municipality's lines (the base fee to
    each, the decided cases by the price model in force on the quarter's first day),
    recorded with the quarter as their key and posted to each municipality's economy
    system in the same transaction. A quarter billed already is FAILED_PRECONDITION
    (QUARTER_ALREADY_BILLED, naming the run): a repeat of the same request_id is answered
    before this, with the first answer (hub.runtime.transactions.Tx.mutate)."""
    quarter = c.validated()
    everyone = set(municipalities.all_municipalities())
    if not everyone <= identity.scope.municipalities:
        raise PermissionDenied("billing covers every municipality: this client does not act for all of them",
                               reason="MUNICIPALITY_OUT_OF_SCOPE", metadata={"quarter": str(quarter)})
    if not quarter.ended(now):
        raise FailedPrecondition(f"{quarter} has not ended: it is billed from {quarter.ends_at.date().isoformat()}",
                                 reason="QUARTER_NOT_ENDED", metadata={"quarter": str(quarter)})
    done = uow.billing.run(quarter)
    if done is not None:
        raise FailedPrecondition(f"{quarter} is billed already (run {done.run_id}); see GetBillingStatement",
                                 reason="QUARTER_ALREADY_BILLED",
                                 metadata={"quarter": str(quarter), "run_id": done.run_id})
    model = _model(uow, quarter)
    billing = _billing(uow, quarter, model)
    run = bl.BillingRun(new_id(), quarter, identity.client_id, c.request_id, model.version, model.kind,
                        model.ledger_account, now, dict(billing.unallocated))
    uow.billing.record(run, billing)
    for s in billing.statements:
        uow.outbox.add(invoice(run, s), now)
    return (run, billing), None


def invoice(run: bl.BillingRun, s: bl.Statement):
    """A statement as the municipality's economy system gets it."""
    q = run.quarter
    return msg.BillingInvoice(
        municipality_code=s.municipality_code, ledger_account=run.ledger_account,
        invoice_id=f"{q}/{s.municipality_code}", run_id=run.run_id, quarter=str(q), period_start=q.first_day,
        period_end=q.last_day, model=run.kind.value, price_model_version=run.price_model_version,
        lines=tuple(msg.InvoiceLine(line_kind=x.kind.value, benefit_code=x.benefit_code, cases=x.cases,
                                    unit_price_oere=x.unit_price_oere, amount_oere=x.amount_oere,
                                    national_cases=x.national_cases, cost_pool_oere=x.cost_pool_oere)
                    for x in s.lines),
        total_oere=s.total_oere,
    ).outbox(f"billing/{q}/{s.municipality_code}/invoice", None)


def get_statement(uow: UnitOfWork, identity: Identity, c: cmd.GetBillingStatement,
                  now: dt.datetime) -> bl.StatementView:
    """A municipality's statement of a quarter, for a caller that acts for it: the lines
    billed, or, before the quarter is billed, a preview of what it comes to so far
    (not billed; the decided cases up to now)."""
    quarter = c.validated()
    if c.municipality_code not in identity.scope.municipalities:
        raise PermissionDenied("this client does not act for that municipality", reason="MUNICIPALITY_OUT_OF_SCOPE",
                               metadata={"municipality_code": c.municipality_code})
    run = uow.billing.run(quarter)
    if run is not None:
        return bl.StatementView(quarter, uow.billing.statement(quarter, c.municipality_code), run.price_model_version,
                                run.kind, run.ledger_account, run, run.run_at)
    if not quarter.started(now):
        raise FailedPrecondition(f"{quarter} has not begun", reason="QUARTER_NOT_STARTED",
                                 metadata={"quarter": str(quarter)})
    model = _model(uow, quarter)
    if model.kind is bl.ModelKind.PER_CASE:   # (a municipality's lines need its own cases only)
        counts = statistics.decided_by_place(uow, quarter.first_day, quarter.last_day, c.municipality_code)
        billing = bl.bill(model, counts, (c.municipality_code,))
    else:                                       # (its share needs every municipality's)
        billing = _billing(uow, quarter, model)
    mine = next((s for s in billing.statements if s.municipality_code == c.municipality_code),
                bl.Statement(c.municipality_code, ()))
    return bl.StatementView(quarter, mine, model.version, model.kind, model.ledger_account, None,
                            min(quarter.ends_at, now))
