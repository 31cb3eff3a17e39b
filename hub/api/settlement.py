"""hub.v1.SettlementService: the final settlement against the year's final income."""
from __future__ import annotations

import grpc

from hub.api import convert
from hub.api.servicers import _Base, rpc, run_stream
from hub.domain import commands as cmd
from hub.domain import settlement as st
from hub.domain.errors import Violations
from hub.service import settlement
from hub.v1 import settlement_pb2, settlement_pb2_grpc


def settlement_out(s: st.Settlement) -> settlement_pb2.FinalSettlement:
    out = settlement_pb2.FinalSettlement(
        case_id=s.case_id, income_year=s.income_year, municipality_code=s.municipality_code,
        benefit_code=s.benefit_code,
        status=convert.enum_out(settlement_pb2.FinalSettlementStatus, "FINAL_SETTLEMENT_STATUS", s.status),
        result=convert.enum_out(settlement_pb2.FinalSettlementResult, "FINAL_SETTLEMENT_RESULT", s.outcome),
        granted_oere=s.granted_oere, final_oere=s.final_oere, difference_oere=s.difference_oere,
        months=[settlement_pb2.SettledMonth(month=m.month, granted_oere=m.granted_oere, final_oere=m.final_oere,
                                            decision_id=m.decision_id) for m in s.months],
        reason=s.reason, decision_id=s.decision_id or "", information_id=s.information_id or "",
        rule_set=s.rule_set, settle_time=convert.ts_out(s.settled_at))
    if s.final_income_oere is not None:
        out.final_income_oere = s.final_income_oere
    return out


def filter_in(q: settlement_pb2.ListSettlementsRequest) -> cmd.SettlementFilter:
    v = Violations()
    status = convert.enum_in(settlement_pb2.FinalSettlementStatus, "FINAL_SETTLEMENT_STATUS", q.status,
                             st.SettlementStatus, "status", v)
    result = convert.enum_in(settlement_pb2.FinalSettlementResult, "FINAL_SETTLEMENT_RESULT", q.result,
                             st.SettlementOutcome, "result", v)
    v.raise_if_any()
    return cmd.SettlementFilter(q.income_year, q.benefit_code, q.municipality_code,
                                status.value if status else "", result.value if result else "")


class SettlementServicer(_Base, settlement_pb2_grpc.SettlementServiceServicer):
    async def RunFinalSettlement(self, request, context: grpc.aio.ServicerContext):
        """Server-streaming: one progress message per chunk of cases (its own transaction)."""
        c = cmd.RunFinalSettlement(request.request_id, request.income_year, request.benefit_code,
                                   request.municipality_code)
        async for step in run_stream(self, "RunFinalSettlement", request, context,
                                     settlement_pb2.RunFinalSettlementProgress,
                                     lambda identity: settlement.run_final_settlement(
                                         self.context.store.unit, identity, c, self.context.clock,
                                         self.context.final_income, self.context.settlement)):
            yield step

    @rpc("GetSettlement")
    def GetSettlement(self, tx, request, identity, purpose):
        return settlement_out(tx.read(identity, "GetSettlement", settlement.get_settlement, request.case_id,
                                      request.income_year, purpose))

    @rpc("ListSettlements")
    def ListSettlements(self, tx, request, identity, purpose):
        found, token = tx.read(identity, "ListSettlements", settlement.list_settlements, filter_in(request),
                               request.page_size, request.page_token)
        return settlement_pb2.ListSettlementsResponse(settlements=[settlement_out(s) for s in found],
                                                      next_page_token=token)
