"""hub.v1.StatisticsService: management information month by month."""
from __future__ import annotations

from hub.api.servicers import _Base, rpc
from hub.domain import statistics as stats
from hub.service import statistics
from hub.v1 import common_pb2, statistics_pb2, statistics_pb2_grpc


def month_out(f: stats.MonthFigures) -> statistics_pb2.MonthStatistics:
    g = f.get
    return statistics_pb2.MonthStatistics(
        month=f.month, applications_received=g(stats.RECEIVED), decided=g(stats.DECIDED),
        granted=g(stats.OUTCOMES["GRANTED"]), partly_granted=g(stats.OUTCOMES["PARTLY_GRANTED"]),
        refused=g(stats.OUTCOMES["REFUSED"]), withdrawn=g(stats.WITHDRAWN),
        processing_days_median=f.days_at(0.5), processing_days_p90=f.days_at(0.9),
        decided_within_deadline=g(stats.WITHIN_DEADLINE), share_within_deadline=f.share(stats.WITHIN_DEADLINE),
        decided_automatically=g(stats.AUTOMATIC), share_automatic=f.share(stats.AUTOMATIC),
        complaints_received=g(stats.COMPLAINTS), complaints_reconsidered=g(stats.RECONSIDERED),
        complaints_changed_at_reconsideration=g(stats.RECONSIDERED_CHANGED),
        appeals_decided=g(stats.APPEALS), appeals_upheld=g(stats.APPEAL_OUTCOMES["UPHELD"]),
        appeals_changed=g(stats.APPEAL_OUTCOMES["CHANGED"]), appeals_remitted=g(stats.APPEAL_OUTCOMES["REMITTED"]),
        hearings_held=g(stats.HEARINGS), paid_ore=g(stats.PAID_ORE), claims_raised_ore=g(stats.CLAIMS_ORE),
        backlog=[statistics_pb2.PhaseCount(status=common_pb2.CaseStatus.Value(f"CASE_STATUS_{p}"),
                                           cases=f.backlog.get(p, 0)) for p in stats.OPEN_PHASES],
        backlog_total=f.backlog_total)


def statistics_out(a: statistics.StatisticsAnswer) -> statistics_pb2.GetStatisticsResponse:
    return statistics_pb2.GetStatisticsResponse(
        municipality_code=a.municipality_code, benefit_code=a.benefit_code, as_of_date=a.as_of.isoformat(),
        months=[month_out(m) for m in a.months], total=month_out(a.total))


class StatisticsServicer(_Base, statistics_pb2_grpc.StatisticsServiceServicer):
    @rpc("GetStatistics")
    def GetStatistics(self, tx, request, identity, purpose):
        q = stats.StatisticsQuery(request.municipality_code, request.benefit_code, request.from_month,
                                  request.to_month, request.as_of_date)
        return statistics_out(tx.read(identity, "GetStatistics", statistics.get_statistics, q))
