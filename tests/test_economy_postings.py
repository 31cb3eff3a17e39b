"""What the municipality's economy system receives: every kind of economy message the
hub writes, delivered through the real file drop and the real webhook, is written
there (at least one ledger line per message, none receipted unwritten), and a message
an adapter cannot render becomes a dead letter an operator sees."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest
import sqlalchemy as sa
from google.type import date_pb2

from adapters.economy.file_drop import EconomyFileDrop
from hub.ports import messages as msg
from hub.ports import CONTROL_UNIT, ECONOMY
from hub.store import tables
from hub.domain.model import OutboxMessage
from hub.v1 import cases_pb2, decisions_pb2, operations_pb2, payments_pb2 as P
from tests.dispatch_support import Webhook, control_finding, dispatcher, file_adapters, letter
from tests.helpers import create_req, draft_req, info_req, period, repay, rid
from tests.test_payments import granted, orders, pay_all, run

ECONOMY_KINDS = {k.KIND for k in msg.ECONOMY_KINDS}


def _month(clock, year: int, month: int) -> None:
    """Move the clock to the 2nd of a month (payment runs reach one month ahead)."""
    target = dt.datetime(year, month, 2, 9, 0, tzinfo=dt.timezone.utc)
    if clock.now() < target:
        clock.advance(seconds=(target - clock.now()).total_seconds())


def _every_kind_of_posting(hub, backoffice, caseworker, provider, clock) -> dict[str, str]:
    """Cause every kind of economy message through the public API. Returns case ids."""
    case, _ = granted(backoffice, 125_000)                             # decision_posting (a grant)
    _month(clock, 2026, 4)
    run(backoffice, "2026-05")                                         # payment_order (April, May)
    pay_all(provider)                                                  # payment_settlement (paid)
    _, claim = repay(backoffice, case.case_id, 30_000)                 # a repayment decision: claim_changed (created)
    backoffice.SetClaimOffset(P.SetClaimOffsetRequest(request_id=rid(), claim_id=claim.claim_id,
                                                      offset_allowed=True))  # claim_changed (offset_set)
    _month(clock, 2026, 5)
    run(backoffice, "2026-06")                                         # June's order, offset, not yet sent
    june = [o for o in orders(backoffice, case.case_id) if o.period == "2026-06"][0]
    assert june.offset_oere == 30_000
    # The citizen reports a higher income: the adverse decisions below rest on it alone (no hearing).
    told = backoffice.AddInformation(info_req(case.case_id, value=420_000.0,
                                              source=cases_pb2.INFORMATION_SOURCE_CITIZEN)).item.item_id
    # A lower grant from June (payment_cancelled for June's unsent order, a new one) ...
    lower = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(100_000, (2026, 6, 1))],
                                                     decisive_fact_ids=[told],
                                                     reasoning="Higher income from June.",
                                                     legal_basis="Lov om individuel boligstøtte § 8"))
    if not lower.approved_automatically:
        caseworker.ApproveDecision(decisions_pb2.ApproveDecisionRequest(request_id=rid(),
                                                                        decision_id=lower.decision.decision_id))
    # ... and then the grant stops from September: a decision that moves no money.
    stop = backoffice.SubmitDraftDecision(draft_req(
        case.case_id, outcome=decisions_pb2.OUTCOME_REFUSED, amounts=[],
        effective_from=date_pb2.Date(year=2026, month=9, day=1), reasoning="Moved out of the dwelling.",
        decisive_fact_ids=[told],
        legal_basis="Lov om individuel boligstøtte § 47"))
    if not stop.approved_automatically:
        caseworker.ApproveDecision(decisions_pb2.ApproveDecisionRequest(request_id=rid(),
                                                                        decision_id=stop.decision.decision_id))
    _, small = repay(backoffice, case.case_id, 4_000, (2026, 5, 1), (2026, 5, 31))
    backoffice.WriteOffClaim(P.WriteOffClaimRequest(request_id=rid(), claim_id=small.claim_id,
                                                    reason="below the collection limit"))  # claim_changed
    # A refusal on another case: the municipality is its sender, so its ledger hears of it.
    refused = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(refused.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN))      # from the citizen: no hearing needed
    r = backoffice.SubmitDraftDecision(draft_req(refused.case_id, outcome=decisions_pb2.OUTCOME_REFUSED, amounts=[],
                                                 reasoning="Income above the limit.",
                                                 legal_basis="Lov om individuel boligstøtte § 14"))
    if not r.approved_automatically:
        caseworker.ApproveDecision(decisions_pb2.ApproveDecisionRequest(request_id=rid(),
                                                                        decision_id=r.decision.decision_id))
    # A final settlement's result on the granted case (its service path, from the final
    # assessment register through the decision, is tests/test_settlement.py's): here the
    # posting as the settlement writes it, for the adapters to render.
    cpr = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).cpr
    with hub.store.unit() as uow:
        uow.outbox.add(msg.FinalSettlementPosting(
            municipality_code="101", benefit_code="BOLIGSTOETTE", ledger_account="5.57.76", case_id=case.case_id,
            cpr=cpr, income_year=2026,
            result="NOTHING", granted_oere=1_125_000, final_oere=1_110_000, difference_oere=-15_000,
            below_minimum=True, months=(msg.SettledMonth(month="2026-04", granted_oere=125_000, final_oere=123_000),),
        ).outbox(f"settlement/{case.case_id}/2026/economy", case.case_id), clock.now())
        # The back office's quarterly invoice (BillingService, tests/test_billing.py), as a run writes it.
        uow.outbox.add(msg.BillingInvoice(
            municipality_code="101", ledger_account="6.45.53", invoice_id="2026-Q1/101", run_id="run-1",
            quarter="2026-Q1", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 3, 31), model="PER_CASE",
            price_model_version=1, total_oere=2_590_000,
            lines=(msg.InvoiceLine(line_kind="BASE_FEE", benefit_code="", cases=0, unit_price_oere=2_500_000,
                                   amount_oere=2_500_000),
                   msg.InvoiceLine(line_kind="DECIDED_CASES", benefit_code="BOLIGSTOETTE", cases=2,
                                   unit_price_oere=45_000, amount_oere=90_000)),
        ).outbox("billing/2026-Q1/101/invoice", None), clock.now())
        uow.commit()
    return dict(granted=case.case_id, refused=refused.case_id)


def _economy_rows(engine) -> list:
    with engine.connect() as c:
        return c.execute(sa.select(tables.outbox).where(tables.outbox.c.destination == ECONOMY)
                         .order_by(tables.outbox.c.id)).all()


@pytest.fixture
def provider(hub):
    return hub.as_("t-provider-a")


@pytest.mark.parametrize("route", ["file", "webhook"])
def test_every_economy_message_kind_reaches_the_economy_system(route, hub, backoffice, caseworker, provider, clock,
                                                               tmp_path):
    cases = _every_kind_of_posting(hub, backoffice, caseworker, provider, clock)
    adapters = file_adapters(tmp_path)
    hook = Webhook() if route == "webhook" else None
    try:
        if hook is not None:
            adapters[ECONOMY] = hook.adapter()
        dispatcher(hub.engine, clock, adapters).drain()
        rows = _economy_rows(hub.engine)
        assert rows and all(r.status == "DELIVERED" for r in rows)
        if hook is None:
            lines = [json.loads(x) for f in sorted((tmp_path / "economy").rglob("*.jsonl"))
                     for x in f.read_text().splitlines()]
        else:
            bodies = [hook.accepted[key] for key in hook.order]
            assert all(b["kind"] == b["postings"][0]["kind"] and b["postings"] for b in bodies)
            lines = [p for b in bodies for p in b["postings"]]
    finally:
        if hook is not None:
            hook.stop()
    # Every message delivered is written: at least one line each, all its lines.
    by_message: dict[str, list[dict]] = {}
    for line in lines:
        by_message.setdefault(line["message_id"], []).append(line)
    assert set(by_message) == {r.message_id for r in rows}
    assert all(len(ls) == ls[0]["lines"] and [x["line"] for x in ls] == list(range(1, len(ls) + 1))
               for ls in by_message.values())
    assert {line["kind"] for line in lines} == ECONOMY_KINDS
    assert all(line["ledger_account"] == "5.57.76" and line["municipality_code"] == "101" and len(line["cpr"]) == 10
               for line in lines if line["kind"] != "billing_invoice")

    def of(kind, **where):
        return [x for x in lines if x["kind"] == kind and all(x.get(k) == v for k, v in where.items())]

    grant = of("decision_posting", case_id=cases["granted"], outcome="GRANTED")
    assert [(x["amount_oere"], x["period_start"], x["period_end"]) for x in grant] == [
        (125_000, "2026-04-01", "2026-12-31"), (100_000, "2026-06-01", "2026-12-31")]
    assert [x["replaces_grant"] for x in grant] == [False, True]
    stop = of("decision_posting", case_id=cases["granted"], outcome="REFUSED")
    assert [(x["amount_oere"], x["period_start"], x["replaces_grant"]) for x in stop] == [(0, "2026-09-01", True)]
    refusal = of("decision_posting", case_id=cases["refused"])
    assert [(x["outcome"], x["amount_oere"], x["replaces_grant"]) for x in refusal] == [("REFUSED", 0, False)]
    ordered: dict[str, dict] = {}
    for x in of("payment_order"):
        ordered.setdefault(x["period"], x)           # the first order of each period
    assert sorted(ordered) == ["2026-04", "2026-05", "2026-06"]
    assert [x["amount_oere"] for x in of("payment_order", period="2026-06")] == [125_000, 100_000]
    assert all(x["end_to_end_id"].startswith("HUB") and x["net_amount_oere"] == x["amount_oere"] - x["offset_oere"]
               for x in ordered.values())
    assert (ordered["2026-06"]["offset_oere"], ordered["2026-06"]["offsets"][0]["amount_oere"]) == (30_000, 30_000)
    cancelled = of("payment_cancelled")
    assert [(x["end_to_end_id"], x["amount_oere"], x["offset_oere"]) for x in cancelled] == [
        (ordered["2026-06"]["end_to_end_id"], 125_000, 30_000)]
    settled = of("payment_settlement")
    assert {(x["period"], x["result"], x["amount_oere"]) for x in settled} == {("2026-04", "PAID", 125_000),
                                                                               ("2026-05", "PAID", 125_000)}
    changes = [x["change"] for x in of("claim_changed")]
    assert {"created", "offset_set", "written_off"} <= set(changes)
    created = of("claim_changed", change="created")
    assert created[0]["amount_oere"] == created[0]["claim_amount_oere"] == 30_000
    invoice = of("billing_invoice")
    assert [(x["line_kind"], x["benefit_code"], x["cases"], x["amount_oere"], x["ledger_account"], x["case_id"],
             x["cpr"], x["invoice_total_oere"]) for x in invoice] == [
        ("BASE_FEE", None, 0, 2_500_000, "6.45.53", None, None, 2_590_000),
        ("DECIDED_CASES", "BOLIGSTOETTE", 2, 90_000, "6.45.53", None, None, 2_590_000)]


def test_a_message_the_destination_cannot_take_is_a_dead_letter_the_operator_sees(hub, clock, tmp_path):
    """A letter in the economy system's queue, and a kind no hub version wrote: neither
    is receipted unwritten; both are dead letters with the reason, and nothing is written."""
    with hub.store.unit() as uow:
        uow.outbox.add(replace(letter("case-x").outbox("odd/1", "case-x"), destination=ECONOMY), clock.now())
        uow.outbox.add(OutboxMessage("odd/2", ECONOMY, "case-y", dict(kind="mystery", municipality_code="101")),
                       clock.now())
        uow.commit()
    dispatcher(hub.engine, clock, {ECONOMY: EconomyFileDrop(tmp_path)}).drain()
    assert not list(tmp_path.rglob("*.jsonl"))
    dead = hub.as_("t-operator").ListOutboxMessages(operations_pb2.ListOutboxMessagesRequest(
        status=operations_pb2.OUTBOX_STATUS_DEAD)).messages
    errors = {m.message_id: m.last_error for m in dead}
    assert set(errors) == {"odd/1", "odd/2"}
    assert "a letter message does not go to economy" in errors["odd/1"]
    assert "unknown message kind 'mystery'" in errors["odd/2"]


def test_messages_read_back_as_they_were_written():
    """Every kind survives the outbox's JSON: what the adapter gets is what the service built."""
    m = msg.PaymentOrderPosting(municipality_code="101", benefit_code="BOLIGSTOETTE", ledger_account="5.57.76",
                                case_id="c", cpr="0101701234", end_to_end_id="HUB1-202604", decision_id="d",
                                period="2026-04", order_kind="REGULAR", amount_oere=100, offset_oere=40,
                                net_amount_oere=60, offsets=(msg.Offset("k", 40),),
                                period_start=dt.date(2026, 4, 1), period_end=dt.date(2026, 4, 30))
    payload = json.loads(json.dumps(m.to_payload()))
    assert msg.decode(ECONOMY, payload) == m
    closed = msg.ControlFindingClosed(finding_id="f-1", case_id="c", municipality_code="101",
                                      benefit_code="BOLIGSTOETTE", closed_at=dt.datetime(2026, 4, 1, 8, 0,
                                                                                         tzinfo=dt.timezone.utc),
                                      outcome="DISMISSED", reason="Indkomsten er engangsindtægt.")
    for other in (control_finding(), control_finding(period_end=None, amount_at_stake_oere_per_month=None), closed):
        assert msg.decode(CONTROL_UNIT, json.loads(json.dumps(other.to_payload()))) == other
    with pytest.raises(msg.UnreadableMessage, match="amount_oere must be a whole number"):
        msg.decode(ECONOMY, dict(payload, amount_oere=1.5))
    with pytest.raises(msg.UnreadableMessage, match="end_to_end_id is missing"):
        msg.decode(ECONOMY, {k: v for k, v in payload.items() if k != "end_to_end_id"})
