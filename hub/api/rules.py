"""hub.v1.RulesService: the rule sets, publishing one, the calculation of a case, and
the figures of straight-through processing."""
from __future__ import annotations

import datetime as dt

from hub.api import convert
from hub.api.servicers import _Base, _encoder, fingerprint, rpc
from hub.domain import commands as cmd
from hub.domain import rules as r
from hub.domain.automation import AutomationFigures
from hub.domain.errors import Violations
from hub.service import automation, rules
from hub.v1 import calculation_pb2, rules_pb2, rules_pb2_grpc


def unit_out(u: r.Unit) -> int:
    return calculation_pb2.RuleUnit.Value(f"RULE_UNIT_{u.value}")


def rule_set_out(s: r.RuleSet) -> rules_pb2.RuleSet:
    out = rules_pb2.RuleSet(benefit_code=s.benefit_code, version=s.version,
                            effective_from=convert.date_out(s.effective_from), legal_basis=s.legal_basis,
                            source=s.source, note=s.note, published_by=s.published_by,
                            publish_time=convert.ts_out(s.published_at))
    for p in s.parameters.values():
        item = out.parameters.add(name=p.name, unit=unit_out(p.unit), section=p.section, source=p.source, note=p.note)
        if p.value is not None:
            item.value = p.value
    return out


def _date(v: Violations, msg, field: str) -> dt.date | None:
    parts = convert.date_parts(msg, field)
    return cmd.to_date(v, field, parts) if parts else None


def publish_in(q: rules_pb2.PublishRuleSetRequest) -> cmd.PublishRuleSet:
    v = Violations()
    params = tuple(cmd.RuleParameterInput(
        p.name, p.value if p.HasField("value") else None,
        convert.enum_in(calculation_pb2.RuleUnit, "RULE_UNIT", p.unit, r.Unit, f"parameters[{i}].unit", v),
        p.section, p.source, p.note) for i, p in enumerate(q.parameters))
    v.raise_if_any()
    return cmd.PublishRuleSet(q.request_id, q.benefit_code, convert.date_parts(q, "effective_from"), q.legal_basis,
                              q.source, q.note, params)


def calculated_out(d: rules.CalculatedDraft) -> rules_pb2.CalculateDraftResponse:
    out = rules_pb2.CalculateDraftResponse(
        outcome=convert.enum_out(convert.decisions_pb2.Outcome, "OUTCOME", d.outcome),
        amounts=convert.amounts_out(d.amounts), reasoning=d.reasoning, legal_basis=d.legal_basis,
        decisive_fact_ids=d.decisive_fact_ids)
    convert.calculation_into(out.calculation, r.calculation_to_dict(d.calculation))
    return out


def _figures_into(out: rules_pb2.AutomationFigures, f: AutomationFigures) -> None:
    out.municipality_code, out.benefit_code = f.municipality_code, f.benefit_code
    out.applications, out.processed_automatically = f.applications, f.processed_automatically
    out.decided_automatically, out.in_progress, out.fell_out = f.decided_automatically, f.in_progress, f.fell_out
    out.fell_out_by_reason.update(f.fell_out_by_reason)
    out.decided_without_a_person_basis_points = f.decided_without_a_person_basis_points


class RulesServicer(_Base, rules_pb2_grpc.RulesServiceServicer):
    @rpc("ListRuleSets")
    def ListRuleSets(self, tx, request, identity, purpose):
        found = tx.read(identity, "ListRuleSets", rules.list_rule_sets, request.benefit_code)
        return rules_pb2.ListRuleSetsResponse(rule_sets=[rule_set_out(s) for s in found])

    @rpc("GetRuleSet")
    def GetRuleSet(self, tx, request, identity, purpose):
        v = Violations()
        on = _date(v, request, "in_force_on")
        v.raise_if_any()
        return rule_set_out(tx.read(identity, "GetRuleSet", rules.get_rule_set, request.benefit_code,
                                    request.version, on))

    @rpc("PublishRuleSet")
    def PublishRuleSet(self, tx, request, identity, purpose):
        return tx.mutate(identity, "PublishRuleSet", request.request_id, fingerprint(request),
                         _encoder(rule_set_out), rules.publish_rule_set, publish_in(request))

    @rpc("CalculateDraft")
    def CalculateDraft(self, tx, request, identity, purpose):
        c = cmd.CalculateDraft(request.case_id, convert.date_parts(request, "period_start"),
                               convert.date_parts(request, "period_end"))
        return calculated_out(tx.read(identity, "CalculateDraft", rules.calculate_draft, c, purpose))

    @rpc("GetAutomationReport")
    def GetAutomationReport(self, tx, request, identity, purpose):
        v = Violations()
        start, end = _date(v, request, "received_from"), _date(v, request, "received_to")
        v.raise_if_any()
        rows, total = tx.read(identity, "GetAutomationReport", automation.automation_report,
                              request.municipality_code, request.benefit_code, start, end)
        out = rules_pb2.AutomationReport()
        for f in rows:
            _figures_into(out.figures.add(), f)
        _figures_into(out.total, total)
        return out
