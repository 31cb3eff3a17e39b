"""hub.v1.ControlService: the IT control's runs, its findings, and the outcome of the
municipality's physical control."""
from __future__ import annotations

import grpc

from hub.api import convert
from hub.api.servicers import _Base, _encoder, fingerprint, rpc, run_stream
from hub.domain import commands as cmd
from hub.domain import control as ctl
from hub.domain.errors import Violations
from hub.service import control
from hub.v1 import control_pb2, control_pb2_grpc

def _fact(out: control_pb2.FactValue, v) -> None:
    if isinstance(v, bool):
        out.flag = v
    elif isinstance(v, int):
        out.whole = v
    elif isinstance(v, str):
        out.text = v


def finding_out(f: ctl.Finding) -> control_pb2.ControlFinding:
    out = control_pb2.ControlFinding(
        finding_id=f.finding_id, case_id=f.case_id, municipality_code=f.municipality_code,
        benefit_code=f.benefit_code, cpr=f.cpr, rule=convert.enum_out(control_pb2.ControlRule, "CONTROL_RULE", f.rule),
        rule_title=f.title, rule_version=f.rule_key, period=f.period, period_start=convert.date_out(f.period_start),
        status=convert.enum_out(control_pb2.ControlFindingStatus, "CONTROL_FINDING_STATUS", f.status),
        run_id=f.run_id, found_time=convert.ts_out(f.found_at), checked_decision_id=f.decision_id_checked,
        outcome=convert.enum_out(control_pb2.ControlOutcome, "CONTROL_OUTCOME", f.outcome), note=f.note,
        closed_by_client=f.closed_by, close_time=convert.ts_out(f.closed_at),
        follow_up=convert.enum_out(control_pb2.ControlFollowUp, "CONTROL_FOLLOW_UP", f.follow_up),
        follow_up_reason=f.follow_up_reason, decision_id=f.decision_id)
    if f.period_end is not None:
        out.period_end.CopyFrom(convert.date_out(f.period_end))
    if f.amount_at_stake_oere_per_month is not None:
        out.amount_at_stake_oere_per_month = f.amount_at_stake_oere_per_month
    for o in f.observations:
        item = out.observations.add(name=o.name, label=o.label, unit=o.unit, source=o.source,
                                    source_reference=o.source_reference)
        _fact(item.register_value, o.register_value)
        _fact(item.assumed_value, o.assumed_value)
    return out


def run_in(q: control_pb2.RunControlRequest) -> cmd.RunControl:
    v = Violations()
    rules = tuple(convert.enum_in(control_pb2.ControlRule, "CONTROL_RULE", n, ctl.RuleCode, f"rules[{i}]", v)
                  for i, n in enumerate(q.rules))
    for i, x in enumerate(rules):
        if x is None and q.rules[i] == 0:
            v.add(f"rules[{i}]", "is not a control rule (CONTROL_RULE_UNSPECIFIED)")
    v.raise_if_any()
    return cmd.RunControl(q.request_id, q.period, q.municipality_code, q.benefit_code,
                          tuple(x.value for x in rules if x is not None))


def filter_in(q: control_pb2.ListControlFindingsRequest) -> cmd.ControlFindingFilter:
    v = Violations()
    rule = convert.enum_in(control_pb2.ControlRule, "CONTROL_RULE", q.rule, ctl.RuleCode, "rule", v)
    status = convert.enum_in(control_pb2.ControlFindingStatus, "CONTROL_FINDING_STATUS", q.status, ctl.Status,
                             "status", v)
    follow_up = convert.enum_in(control_pb2.ControlFollowUp, "CONTROL_FOLLOW_UP", q.follow_up, ctl.FollowUp,
                                "follow_up", v)
    v.raise_if_any()
    return cmd.ControlFindingFilter(q.municipality_code, q.benefit_code, rule.value if rule else "",
                                    status.value if status else "", q.case_id, q.period,
                                    follow_up.value if follow_up else "")


def outcome_in(q: control_pb2.RecordControlOutcomeRequest) -> cmd.RecordControlOutcome:
    v = Violations()
    outcome = convert.enum_in(control_pb2.ControlOutcome, "CONTROL_OUTCOME", q.outcome, ctl.Outcome, "outcome", v)
    v.raise_if_any()
    return cmd.RecordControlOutcome(q.request_id, q.finding_id, outcome.value if outcome else None, q.note)


class ControlServicer(_Base, control_pb2_grpc.ControlServiceServicer):
    async def RunControl(self, request, context: grpc.aio.ServicerContext):
        """Server-streaming: one progress message per chunk of grants (its own transaction),
        run in a thread."""
        async for step in run_stream(self, "RunControl", request, context, control_pb2.RunControlProgress,
                                     lambda identity: control.run_control(
                                         self.context.store.unit, identity, run_in(request), self.context.clock,
                                         self.context.register_lookups, self.context.control)):
            yield step

    @rpc("ListControlFindings")
    def ListControlFindings(self, tx, request, identity, purpose):
        found, token = tx.read(identity, "ListControlFindings", control.list_findings, filter_in(request),
                               request.page_size, request.page_token, purpose)
        return control_pb2.ListControlFindingsResponse(findings=[finding_out(f) for f in found],
                                                       next_page_token=token)

    @rpc("RecordControlOutcome")
    def RecordControlOutcome(self, tx, request, identity, purpose):
        return tx.mutate(identity, "RecordControlOutcome", request.request_id, fingerprint(request),
                         _encoder(finding_out), control.record_outcome, outcome_in(request))
