"""Rows <-> domain objects for the case tables (cases, decisions, the catalogue)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from hub.domain.model import (
    AmountLimit, Approval, ApprovalMode, AuthorityKind, Benefit, Case, CaseStatus, Channel, Decision, DecisionSource,
    DecisionStatus, DiscretionaryPoint, HearingException, Origin, Outcome, PeriodAmount, PeriodKind, Recurrence,
    Repayment, Return, Sensitivity,
)


def benefit_from_row(r) -> Benefit:
    return Benefit(r.code, r.name_da, r.name_en, r.kle_number, r.processing_deadline_days,
                   bool(r.discretion_possible), Recurrence(r.recurrence), r.retention_years, r.ledger_account,
                   AuthorityKind(r.authority_kind), r.central_authority_code, r.central_authority_name,
                   r.hearing_deadline_days, r.appeals_authority_name,
                   tuple(AmountLimit(PeriodKind(x["per"]), int(x["max_oere"]), x.get("basis", ""))
                         for x in r.amount_limits or ()), bool(r.automatic_processing))


def case_from_row(r) -> Case:
    return Case(r.case_id, r.municipality_code, r.cpr, r.benefit_code, Channel(r.channel), Origin(r.origin),
                CaseStatus(r.status), r.received_at, r.created_at, r.processing_deadline, r.applicant_statement,
                r.external_reference, r.authority_key, r.created_by, r.updated_at, r.archive_reference,
                Sensitivity(r.sensitivity), r.automation, r.fallout_reason, r.fallout_detail or "")


def case_from_mapping(m, table: sa.Table) -> Case:
    return case_from_row(SimpleNamespace(**{col.name: m[col] for col in table.c}))


def case_row(c: Case) -> dict[str, Any]:
    return dict(case_id=c.case_id, municipality_code=c.municipality_code, cpr=c.cpr, benefit_code=c.benefit_code,
                channel=c.channel.value, origin=c.origin.value, status=c.status.value, received_at=c.received_at,
                created_at=c.created_at, processing_deadline=c.processing_deadline,
                applicant_statement=c.applicant_statement, external_reference=c.external_reference,
                authority_key=c.authority_key, created_by=c.created_by, updated_at=c.updated_at,
                sensitivity=c.sensitivity.value, automation=c.automation, fallout_reason=c.fallout_reason,
                fallout_detail=c.fallout_detail)


def _amounts_json(items) -> list[dict[str, Any]]:
    return [dict(amount_oere=a.amount_oere, period_start=a.period_start.isoformat(),
                 period_end=a.period_end.isoformat()) for a in items]


def _amounts(items) -> tuple[PeriodAmount, ...]:
    return tuple(PeriodAmount(int(a["amount_oere"]), dt.date.fromisoformat(a["period_start"]),
                              dt.date.fromisoformat(a["period_end"])) for a in items or ())


def _points_json(items) -> list[dict[str, str]]:
    return [dict(topic=p.topic, assessment=p.assessment) for p in items]


def _points(items) -> tuple[DiscretionaryPoint, ...]:
    return tuple(DiscretionaryPoint(p["topic"], p["assessment"]) for p in items or ())


def decision_row(d: Decision) -> dict[str, Any]:
    a = d.approval
    approval = None if a is None else dict(
        mode=a.mode.value, by_client=a.by_client, authority_key=a.authority_key, at=a.at.isoformat(),
        note=a.note, amended=a.amended, original_amounts=_amounts_json(a.original_amounts),
        original_points=_points_json(a.original_points))
    returned = None if d.returned is None else dict(
        by_client=d.returned.by_client, at=d.returned.at.isoformat(), reason=d.returned.reason)
    return dict(decision_id=d.decision_id, case_id=d.case_id, status=d.status.value, outcome=d.outcome.value,
                amounts=_amounts_json(d.amounts), reasoning=d.reasoning, legal_basis=d.legal_basis,
                discretionary_points=_points_json(d.discretionary_points), submitted_by=d.submitted_by,
                submitted_at=d.submitted_at, approval=approval, returned=returned, effective_from=d.effective_from,
                decisive_fact_ids=list(d.decisive_fact_ids),
                hearing_exception=d.hearing_exception.value if d.hearing_exception else None,
                hearing_exception_note=d.hearing_exception_note, complaint_guidance=d.complaint_guidance,
                source=d.source.value, calculation=d.calculation, repayment=_repayment_json(d.repayment),
                offset_repayment=d.offset_repayment, effective_to=d.effective_to,
                settlement_year=d.settlement_year)


def _repayment_json(r: Repayment | None) -> dict[str, Any] | None:
    return None if r is None else dict(amount_oere=r.amount_oere, period_start=r.period_start.isoformat(),
                                       period_end=r.period_end.isoformat(), offset_allowed=r.offset_allowed)


def _repayment(j: dict[str, Any] | None) -> Repayment | None:
    return None if not j else Repayment(int(j["amount_oere"]), dt.date.fromisoformat(j["period_start"]),
                                        dt.date.fromisoformat(j["period_end"]), bool(j["offset_allowed"]))


def decision_from_row(r) -> Decision:
    return decision_from_values(r._mapping)


def decision_from_mapping(m, table: sa.Table) -> Decision:
    return decision_from_values({col.name: m[col] for col in table.c})


def decision_from_values(v) -> Decision:
    a, ret = v["approval"], v["returned"]
    approval = None if not a else Approval(
        ApprovalMode(a["mode"]), a["by_client"], a["authority_key"], dt.datetime.fromisoformat(a["at"]),
        a.get("note", ""), bool(a.get("amended")), _amounts(a.get("original_amounts")),
        _points(a.get("original_points")))
    returned = None if not ret else Return(ret["by_client"], dt.datetime.fromisoformat(ret["at"]), ret["reason"])
    return Decision(v["decision_id"], v["case_id"], DecisionStatus(v["status"]), Outcome(v["outcome"]),
                    _amounts(v["amounts"]), v["reasoning"], v["legal_basis"], _points(v["discretionary_points"]),
                    v["submitted_by"], v["submitted_at"], approval, returned, v.get("sent_at"),
                    v.get("letter_reference"), v.get("effective_from"), v.get("superseded_by"),
                    tuple(v.get("decisive_fact_ids") or ()),
                    HearingException(v["hearing_exception"]) if v.get("hearing_exception") else None,
                    v.get("hearing_exception_note") or "", v.get("complaint_guidance") or "",
                    DecisionSource(v.get("source") or "AUTHORITY"), v.get("calculation"), _repayment(v.get("repayment")),
                    bool(v.get("offset_repayment")), v.get("effective_to"), v.get("settlement_year"))
