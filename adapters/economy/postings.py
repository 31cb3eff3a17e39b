"""The economy system's view of the hub's economy messages: ledger posting lines.

Every economy message becomes at least one line, so that nothing sent to the economy
system is receipted unwritten. Each line carries the posting's identity (`posting_id`
= message id # line, `line` of `lines`), where it is booked (municipality, benefit,
ledger account), whom it concerns (case, CPR), when it was caused, and `amount_oere`:
the money this line moves (0 for a line that moves none, such as a refusal). The rest
is the kind's own: see docs/messages.md. A kind this module has no rendering for is a
permanent failure (a dead letter), never an empty file."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from hub.ports import messages as m
from hub.ports import Delivery


def _decision(p: m.DecisionPosting) -> list[dict[str, Any]]:
    common = dict(decision_id=p.decision_id, outcome=p.outcome, source=p.source, replaces_grant=p.replaces_grant,
                  effective_from=_iso(p.effective_from), effective_to=_iso(p.effective_to),
                  decided_on=_iso(p.decided_on),
                  repayment_oere=p.repayment_oere, repayment_offset_allowed=p.repayment_offset_allowed,
                  settlement_year=p.settlement_year or None)
    if not p.amounts:  # a refusal, or a decision that stops a grant: booked as a line that moves nothing
        return [dict(common, amount_oere=0, period_start=_iso(p.effective_from), period_end=None)]
    return [dict(common, amount_oere=a.amount_oere, period_start=a.period_start.isoformat(),
                 period_end=a.period_end.isoformat()) for a in p.amounts]


def _order(p: m.PaymentOrderPosting) -> list[dict[str, Any]]:
    return [dict(end_to_end_id=p.end_to_end_id, decision_id=p.decision_id, period=p.period,
                 period_start=_iso(p.period_start), period_end=_iso(p.period_end), order_kind=p.order_kind,
                 amount_oere=p.amount_oere, offset_oere=p.offset_oere, net_amount_oere=p.net_amount_oere,
                 offsets=[dict(claim_id=o.claim_id, amount_oere=o.amount_oere) for o in p.offsets])]


def _cancelled(p: m.PaymentCancelledPosting) -> list[dict[str, Any]]:
    return [dict(end_to_end_id=p.end_to_end_id, period=p.period, amount_oere=p.amount_oere,
                 offset_oere=p.offset_oere, reason=p.reason)]


def _settlement(p: m.PaymentSettlementPosting) -> list[dict[str, Any]]:
    return [dict(end_to_end_id=p.end_to_end_id, period=p.period, result=p.result, amount_oere=p.amount_oere,
                 bank_reference=p.bank_reference, settlement_date=_iso(p.settlement_date), reason=p.reason)]


def _claim(p: m.ClaimPosting) -> list[dict[str, Any]]:
    return [dict(claim_id=p.claim_id, change=p.change, status=p.status, amount_oere=p.change_amount_oere,
                 claim_amount_oere=p.amount_oere, collected_oere=p.collected_oere, cancelled_oere=p.cancelled_oere,
                 written_off_oere=p.written_off_oere, period=p.period, origin=p.origin, reason=p.reason,
                 end_to_end_id=p.end_to_end_id, offset_allowed=p.offset_allowed, decision_id=p.decision_id)]


def _final_settlement(p: m.FinalSettlementPosting) -> list[dict[str, Any]]:
    """One line: the year's difference is what the settlement moves (its decision's orders
    and claims move the money itself, on their own postings)."""
    return [dict(income_year=p.income_year, result=p.result, amount_oere=p.difference_oere,
                 granted_oere=p.granted_oere, final_oere=p.final_oere, below_minimum=p.below_minimum,
                 decision_id=p.decision_id,
                 months=[dict(month=x.month, granted_oere=x.granted_oere, final_oere=x.final_oere) for x in p.months])]


def _invoice(p: m.BillingInvoice) -> list[dict[str, Any]]:
    """One line per invoice line: the base fee, each benefit's decided cases. A line has no
    case and no citizen (`case_id`, `cpr` null); its `benefit_code` is the line's (null for
    the base fee); `amount_oere` what the municipality owes for it."""
    common = dict(invoice_id=p.invoice_id, run_id=p.run_id, quarter=p.quarter, period_start=_iso(p.period_start),
                  period_end=_iso(p.period_end), model=p.model, price_model_version=p.price_model_version,
                  invoice_total_oere=p.total_oere, case_id=None, cpr=None)
    return [dict(common, line_kind=x.line_kind, benefit_code=x.benefit_code or None, cases=x.cases,
                 unit_price_oere=x.unit_price_oere, amount_oere=x.amount_oere, national_cases=x.national_cases,
                 cost_pool_oere=x.cost_pool_oere) for x in p.lines]


RENDER: dict[type, Callable[[Any], list[dict[str, Any]]]] = {
    m.DecisionPosting: _decision,
    m.PaymentOrderPosting: _order,
    m.PaymentCancelledPosting: _cancelled,
    m.PaymentSettlementPosting: _settlement,
    m.ClaimPosting: _claim,
    m.FinalSettlementPosting: _final_settlement,
    m.BillingInvoice: _invoice,
}


def posting_lines(d: Delivery, adapter: str = "the economy adapter") -> list[dict[str, Any]]:
    """The ledger lines of one message (at least one). Raises a permanent
    DeliveryFailed for a message that is not an economy posting it knows."""
    p = d.message
    render = RENDER.get(type(p))
    if render is None:
        raise m.cannot_render(adapter, p)
    common = dict(message_id=d.message_id, kind=p.KIND, municipality_code=p.municipality_code,
                  benefit_code=getattr(p, "benefit_code", None), ledger_account=p.ledger_account,
                  case_id=getattr(p, "case_id", None), cpr=getattr(p, "cpr", None),
                  caused_at=d.created_at.isoformat())
    own = render(p)
    if not own:
        raise m.cannot_render(adapter, p)   # (an invoice without lines: the hub never sends one)
    return [dict(common, **line, posting_id=f"{d.message_id}#{i + 1}", line=i + 1, lines=len(own))
            for i, line in enumerate(own)]


def _iso(v: dt.date | None) -> str | None:
    return v.isoformat() if v is not None else None
