"""hub.v1.BillingService: subscription billing per quarter, and a municipality's statement."""
from __future__ import annotations

from hub.api import convert
from hub.api.servicers import _Base, _encoder, fingerprint, rpc
from hub.domain import billing as bl
from hub.domain import commands as cmd
from hub.service import billing
from hub.v1 import billing_pb2, billing_pb2_grpc


def _line_out(x: bl.Line) -> billing_pb2.BillingLine:
    return billing_pb2.BillingLine(
        kind=convert.enum_out(billing_pb2.BillingLineKind, "BILLING_LINE_KIND", x.kind), benefit_code=x.benefit_code,
        cases=x.cases, unit_price_oere=x.unit_price_oere, amount_oere=x.amount_oere, national_cases=x.national_cases,
        cost_pool_oere=x.cost_pool_oere)


def run_out(answer: tuple[bl.BillingRun, bl.Billing]) -> billing_pb2.BillingRun:
    run, b = answer
    return billing_pb2.BillingRun(
        run_id=run.run_id, quarter=str(run.quarter), price_model_version=run.price_model_version,
        model=convert.enum_out(billing_pb2.BillingModel, "BILLING_MODEL", run.kind), run_time=convert.ts_out(run.run_at),
        municipalities=len(b.statements), cases=sum(s.cases for s in b.statements), total_oere=b.total_oere,
        totals=[billing_pb2.MunicipalityTotal(municipality_code=s.municipality_code, cases=s.cases,
                                              amount_oere=s.total_oere) for s in b.statements],
        unallocated=[billing_pb2.UnallocatedCost(benefit_code=k, amount_oere=v)
                     for k, v in sorted(run.unallocated.items())],
        ledger_account=run.ledger_account)


def statement_out(v: bl.StatementView) -> billing_pb2.BillingStatement:
    s = v.statement
    out = billing_pb2.BillingStatement(
        quarter=str(v.quarter), municipality_code=s.municipality_code,
        period_start=convert.date_out(v.quarter.first_day), period_end=convert.date_out(v.quarter.last_day),
        billed=v.run is not None, as_of_time=convert.ts_out(v.as_of), price_model_version=v.price_model_version,
        model=convert.enum_out(billing_pb2.BillingModel, "BILLING_MODEL", v.kind), ledger_account=v.ledger_account, lines=[_line_out(x) for x in s.lines], total_oere=s.total_oere,
        cases=s.cases)
    if v.run is not None:
        out.run_id = v.run.run_id
        out.billed_time.CopyFrom(convert.ts_out(v.run.run_at))
    return out


class BillingServicer(_Base, billing_pb2_grpc.BillingServiceServicer):
    @rpc("RunBilling")
    def RunBilling(self, tx, request, identity, purpose):
        return tx.mutate(identity, "RunBilling", request.request_id, fingerprint(request), _encoder(run_out),
                         billing.run_billing, cmd.RunBilling(request.request_id, request.quarter))

    @rpc("GetBillingStatement")
    def GetBillingStatement(self, tx, request, identity, purpose):
        return statement_out(tx.read(identity, "GetBillingStatement", billing.get_statement,
                                     cmd.GetBillingStatement(request.quarter, request.municipality_code)))
