"""Payments over gRPC, as the back office, an economy system and a payment provider use
them: runs, batches, settlements, supersession, claims, offsets, reissue, pain.001."""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import grpc
import pytest
import sqlalchemy as sa
from google.type import date_pb2

from hub.ports.messages import decode
from hub.ports import Delivery
from hub.store import tables
from hub.v1 import cases_pb2, common_pb2 as S, decisions_pb2, payments_pb2 as P
from tests.dispatch_support import dispatcher, file_adapters
from tests.xsd import assert_valid_pain001
from tests.helpers import create_req, details, draft_req, info_req, period, repay, rid, rpc_error, table_counts

PAID, REJECTED, RETURNED = P.SETTLEMENT_RESULT_PAID, P.SETTLEMENT_RESULT_REJECTED, P.SETTLEMENT_RESULT_RETURNED


@pytest.fixture
def provider(hub):
    return hub.as_("t-provider-a")


@pytest.fixture
def provider_b(hub):
    return hub.as_("t-provider-b")


def granted(backoffice, amount=125_000, start=(2026, 4, 1), end=(2026, 12, 31), **kw):
    """A case with an automatically approved monthly grant (housing benefit)."""
    case = backoffice.CreateCase(create_req(**kw))
    backoffice.AddInformation(info_req(case.case_id))
    d = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(amount, start, end)]))
    assert d.approved_automatically
    return case, d.decision


def change(backoffice, case, amount, start, end=(2026, 12, 31), outcome=decisions_pb2.OUTCOME_GRANTED, **kw):
    """A new decision on a decided case (automatically approved). A lower amount rests
    on what the citizen told us (no hearing is needed for it)."""
    amounts = [period(amount, start, end)] if amount else []
    if "decisive_fact_ids" not in kw:
        told = backoffice.AddInformation(info_req(case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN)).item
        kw["decisive_fact_ids"] = [told.item_id]
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, outcome=outcome, amounts=amounts, **kw))
    assert r.approved_automatically, r
    return r.decision


_clock = None


@pytest.fixture(autouse=True)
def _payments_clock(clock):
    """The tests' clock, for `run` to move to the month a run is for."""
    global _clock
    _clock = clock
    yield
    _clock = None


def reach(clock, month: str) -> None:
    """Move the clock to the month before `month` if it is earlier (a run is for this
    month or the next at most)."""
    y, m = map(int, month.split("-"))
    y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    target = dt.datetime(y, m, 2, 9, 0, tzinfo=dt.timezone.utc)
    if clock.now() < target:
        clock.advance(seconds=(target - clock.now()).total_seconds())


def run(client, month, request_id=None) -> list[P.RunPaymentsProgress]:
    if _clock is not None:
        reach(_clock, month)
    return list(client.RunPayments(P.RunPaymentsRequest(request_id=request_id or rid(), period=month)))


def orders(client, case_id) -> list[P.PaymentOrder]:
    return list(client.GetCase(cases_pb2.GetCaseRequest(case_id=case_id)).payments.orders)


def claims(client, case_id) -> list[P.Claim]:
    return list(client.GetCase(cases_pb2.GetCaseRequest(case_id=case_id)).payments.claims)


def report(order, result=PAID, amount=None, reason="", bank_reference=None):
    return P.SettlementReport(end_to_end_id=order.end_to_end_id, result=result,
                              amount_oere=order.net_amount_oere if amount is None else amount,
                              bank_reference=bank_reference or f"BANK-{order.end_to_end_id}",
                              settlement_date=date_pb2.Date(year=2026, month=5, day=1), reason=reason)


def settle(provider, batch, result=PAID, only=None, reason=""):
    reports = [report(i.order, result, reason=reason)
               for i in batch.instructions if only is None or i.order.end_to_end_id in only]
    return provider.ReportSettlement(P.ReportSettlementRequest(request_id=rid(), settlements=reports))


def pay_all(provider):
    """The provider's day: fetch, acknowledge, pay everything."""
    batch = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    if batch.batch_id:
        provider.AcknowledgePaymentBatch(P.AcknowledgePaymentBatchRequest(batch_id=batch.batch_id))
        settle(provider, batch)
    return batch


def by_period(items):
    return {o.period: o for o in items if o.status != P.PAYMENT_STATUS_CANCELLED}


def test_a_grant_becomes_monthly_orders_once_each(hub, backoffice):
    case, decision = granted(backoffice)
    progress = run(backoffice, "2026-04")
    assert progress[-1].done and progress[-1].orders_created == 1 and progress[-1].amount_oere == 125_000
    assert progress[-1].examined == progress[-1].total == 1
    assert run(backoffice, "2026-04")[-1].orders_created == 0       # rerun: nothing twice
    assert run(backoffice, "2026-06")[-1].orders_created == 2       # May and June
    got = orders(backoffice, case.case_id)
    assert [(o.period, o.amount_oere, o.status) for o in got] == [
        ("2026-04", 125_000, P.PAYMENT_STATUS_PENDING), ("2026-05", 125_000, P.PAYMENT_STATUS_PENDING),
        ("2026-06", 125_000, P.PAYMENT_STATUS_PENDING)]
    assert all(o.decision_id == decision.decision_id and len(o.end_to_end_id) <= 35 for o in got)
    assert len({o.end_to_end_id for o in got}) == 3
    # A repeat of a finished run's request replays its summary and does nothing.
    rid_ = rid()
    first = run(backoffice, "2026-07", rid_)[-1]
    again = run(backoffice, "2026-07", rid_)
    assert len(again) == 1 and again[0].done and again[0].orders_created == first.orders_created == 1
    err = rpc_error(lambda r: list(backoffice.RunPayments(r)), P.RunPaymentsRequest(request_id=rid_, period="2026-06"))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    # Each order is posted to the economy system through the outbox.
    with hub.engine.connect() as c:
        posted = c.execute(sa.select(tables.outbox.c.payload).where(
            tables.outbox.c.message_id.like("payment/%/order"))).scalars().all()
    assert sorted(p["period"] for p in posted) == ["2026-04", "2026-05", "2026-06", "2026-07"]
    assert {p["ledger_account"] for p in posted} and all(p["net_amount_oere"] == 125_000 for p in posted)


def test_economy_systems_list_their_municipalitys_payments(hub, backoffice):
    mine, _ = granted(backoffice)
    other, _ = granted(backoffice, municipality="751")
    run(backoffice, "2026-05")
    economy = hub.as_("t-economy-101")
    listed = economy.ListPayments(P.ListPaymentsRequest(page_size=1))
    assert len(listed.orders) == 1 and listed.next_page_token
    rest = economy.ListPayments(P.ListPaymentsRequest(page_size=10, page_token=listed.next_page_token))
    seen = {o.case_id for o in list(listed.orders) + list(rest.orders)}
    assert seen == {mine.case_id} and len(listed.orders) + len(rest.orders) == 2
    may = economy.ListPayments(P.ListPaymentsRequest(due_month="2026-05")).orders
    assert [o.period for o in may] == ["2026-05"]
    err = rpc_error(economy.ListPayments, P.ListPaymentsRequest(due_month="May"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "due_month" in details(err)[0]
    assert rpc_error(hub.as_("t-cw-101").ListPayments, P.ListPaymentsRequest()).code() == \
        grpc.StatusCode.PERMISSION_DENIED


def test_provider_fetches_a_leased_batch_acknowledges_and_settles(hub, backoffice, provider, provider_b):
    case, _ = granted(backoffice)
    granted(backoffice, municipality="751")
    run(backoffice, "2026-05")
    batch = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest(max_orders=10))
    assert batch.status == P.BATCH_STATUS_LEASED and batch.number_of_transactions == 2
    assert {i.municipality_code for i in batch.instructions} == {"101"}  # only its municipalities
    assert batch.control_sum_oere == sum(i.order.net_amount_oere for i in batch.instructions)
    assert all(len(i.cpr) == 10 for i in batch.instructions)
    # Fetching again before acknowledgement returns the same batch.
    assert provider.FetchPaymentBatch(P.FetchPaymentBatchRequest()).batch_id == batch.batch_id
    # Another provider neither sees it nor can acknowledge it.
    other = provider_b.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    assert {i.municipality_code for i in other.instructions} == {"751"}
    err = rpc_error(provider_b.AcknowledgePaymentBatch, P.AcknowledgePaymentBatchRequest(batch_id=batch.batch_id))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    acked = provider.AcknowledgePaymentBatch(P.AcknowledgePaymentBatchRequest(batch_id=batch.batch_id))
    assert acked.status == P.BATCH_STATUS_ACKNOWLEDGED
    assert {o.status for o in orders(backoffice, case.case_id)} == {P.PAYMENT_STATUS_SENT}
    # A settlement that does not fit changes nothing: wrong amount, unknown order, another's.
    before = table_counts(hub.engine)
    first = batch.instructions[0].order
    bad = P.ReportSettlementRequest(request_id=rid(), settlements=[
        report(first, amount=first.net_amount_oere + 1)])
    err = rpc_error(provider.ReportSettlement, bad)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "settlements[0].amount_oere" in details(err)[0]
    unknown = P.PaymentOrder(end_to_end_id="HUB999999-202604", net_amount_oere=first.net_amount_oere)
    for order, client in ((unknown, provider), (first, provider_b)):
        err = rpc_error(client.ReportSettlement, P.ReportSettlementRequest(request_id=rid(), settlements=[
            report(order)]))
        assert err.code() == grpc.StatusCode.NOT_FOUND
    assert table_counts(hub.engine) == before
    # Settled, idempotently, and visible on the case.
    req = P.ReportSettlementRequest(request_id=rid(), settlements=[
        report(i.order, bank_reference="B-1") for i in batch.instructions])
    done = provider.ReportSettlement(req)
    assert provider.ReportSettlement(req) == done
    shown = orders(backoffice, case.case_id)
    assert {o.status for o in shown} == {P.PAYMENT_STATUS_PAID}
    assert shown[0].settlement.bank_reference == "B-1" and shown[0].settlement.reported_by_client == "provider-a"
    # Reported PAID again under a new request id: no change; REJECTED after PAID: refused.
    again = P.ReportSettlementRequest(request_id=rid(), settlements=list(req.settlements))
    assert [o.status for o in provider.ReportSettlement(again).orders] == [P.PAYMENT_STATUS_PAID] * 2
    rejected = P.ReportSettlementRequest(request_id=rid(), settlements=[report(first, REJECTED, reason="x")])
    assert rpc_error(provider.ReportSettlement, rejected).code() == grpc.StatusCode.FAILED_PRECONDITION
    # Settlements are posted to the economy system.
    with hub.engine.connect() as c:
        n = c.execute(sa.select(sa.func.count()).select_from(tables.outbox).where(
            tables.outbox.c.message_id.like("payment/%/settlement/paid"))).scalar_one()
    assert n == 2


def test_an_unacknowledged_lease_runs_out_and_the_orders_come_again(hub, backoffice, provider, clock):
    granted(backoffice)
    run(backoffice, "2026-04")
    first = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    clock.advance(minutes=11)
    second = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    assert second.batch_id != first.batch_id
    assert [i.order.end_to_end_id for i in second.instructions] == [i.order.end_to_end_id for i in first.instructions]
    err = rpc_error(provider.AcknowledgePaymentBatch, P.AcknowledgePaymentBatchRequest(batch_id=first.batch_id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_new_decision_supersedes_claims_overpaid_months_and_corrects_underpaid(hub, backoffice, provider):
    case, d1 = granted(backoffice, 125_000)
    run(backoffice, "2026-06")
    pay_all(provider)                                   # April-June paid at 125,000
    d2 = change(backoffice, case, 100_000, (2026, 5, 1))
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert shown.status == S.CASE_STATUS_DECIDED
    assert {d.decision_id: d.superseded_by_decision_id for d in shown.decisions}[d1.decision_id] == d2.decision_id
    got = claims(backoffice, case.case_id)
    assert sorted((c.period, c.amount_oere, c.status) for c in got) == [
        ("2026-05", 25_000, P.CLAIM_STATUS_OPEN), ("2026-06", 25_000, P.CLAIM_STATUS_OPEN)]
    assert all(c.origin == P.CLAIM_ORIGIN_SUPERSEDING_DECISION and c.decision_id == d2.decision_id for c in got)
    # July is ordered under the new grant; then the grant is raised from June.
    run(backoffice, "2026-07")
    july = by_period(orders(backoffice, case.case_id))["2026-07"]
    assert (july.amount_oere, july.decision_id, july.status) == (100_000, d2.decision_id, P.PAYMENT_STATUS_PENDING)
    d3 = change(backoffice, case, 150_000, (2026, 6, 1))
    now = orders(backoffice, case.case_id)
    cancelled = [o for o in now if o.status == P.PAYMENT_STATUS_CANCELLED]
    assert [o.end_to_end_id for o in cancelled] == [july.end_to_end_id]   # unsent: cancelled, regenerated
    live = by_period(now)
    assert (live["2026-07"].amount_oere, live["2026-07"].decision_id) == (150_000, d3.decision_id)
    # June: the open claim is released and the rest paid as a correction.
    june_claim = [c for c in claims(backoffice, case.case_id) if c.period == "2026-06"][0]
    assert june_claim.status == P.CLAIM_STATUS_CANCELLED and june_claim.cancelled_oere == 25_000
    corrections = [o for o in now if o.kind == P.PAYMENT_KIND_CORRECTION]
    assert [(o.period, o.amount_oere) for o in corrections] == [("2026-06", 25_000)]
    # A refusal ends the grant from August: nothing more is ordered after July.
    change(backoffice, case, 0, (2026, 8, 1), outcome=decisions_pb2.OUTCOME_REFUSED,
           effective_from=date_pb2.Date(year=2026, month=8, day=1))
    run(backoffice, "2026-12")
    assert max(by_period(orders(backoffice, case.case_id))) == "2026-07"


def test_rejected_payment_is_flagged_and_reissued(hub, backoffice, provider):
    case, _ = granted(backoffice)
    run(backoffice, "2026-04")
    batch = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    provider.AcknowledgePaymentBatch(P.AcknowledgePaymentBatchRequest(batch_id=batch.batch_id))
    settle(provider, batch, REJECTED, reason="no NemKonto")
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert shown.payments.flagged == 1 and shown.payments.orders[0].settlement.reason == "no NemKonto"
    # The run does not pay the period again on its own.
    assert run(backoffice, "2026-04")[-1].orders_created == 0
    original = shown.payments.orders[0].end_to_end_id
    again = backoffice.ReissuePayment(P.ReissuePaymentRequest(request_id=rid(), end_to_end_id=original))
    assert again.end_to_end_id == f"{original}-R1" and again.kind == P.PAYMENT_KIND_REISSUE
    assert again.amount_oere == 125_000
    assert backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).payments.flagged == 0
    err = rpc_error(backoffice.ReissuePayment, P.ReissuePaymentRequest(request_id=rid(), end_to_end_id=original))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    pay_all(provider)
    assert [o.status for o in orders(backoffice, case.case_id)] == [P.PAYMENT_STATUS_REJECTED, P.PAYMENT_STATUS_PAID]


def test_what_was_collected_back_for_a_payment_the_bank_returned_is_paid_back(hub, backoffice, provider):
    """April is paid, a refusal from April turns it into a claim, the citizen pays half
    of it back, and then the bank returns April's payment (account closed). The citizen
    had nothing for April and paid 500 kr. back: reissuing the returned payment pays
    that back, although no grant is in force for April any more."""
    case, _ = granted(backoffice, 100_000, end=(2026, 4, 30))
    run(backoffice, "2026-04")
    pay_all(provider)
    change(backoffice, case, 0, (2026, 4, 1), outcome=decisions_pb2.OUTCOME_REFUSED,
           effective_from=date_pb2.Date(year=2026, month=4, day=1))
    [claim] = claims(backoffice, case.case_id)
    assert claim.amount_oere == 100_000
    provider.ReportCollection(P.ReportCollectionRequest(request_id=rid(), claim_id=claim.claim_id,
                                                        amount_oere=50_000, reference="paid in"))
    [april] = orders(backoffice, case.case_id)
    settle(provider, P.PaymentBatch(instructions=[P.PaymentInstruction(order=april)]), RETURNED,
           reason="account closed")
    [claim] = claims(backoffice, case.case_id)
    assert (claim.collected_oere, claim.cancelled_oere) == (50_000, 50_000)  # the rest is released
    again = backoffice.ReissuePayment(P.ReissuePaymentRequest(request_id=rid(), end_to_end_id=april.end_to_end_id))
    assert (again.kind, again.amount_oere, again.period) == (P.PAYMENT_KIND_REISSUE, 50_000, "2026-04")
    pay_all(provider)
    paid = sum(o.amount_oere for o in orders(backoffice, case.case_id) if o.status == P.PAYMENT_STATUS_PAID)
    assert paid - claim.collected_oere == 0  # what the refusal grants for April
    # Nothing more is due: a second reissue is refused.
    err = rpc_error(backoffice.ReissuePayment, P.ReissuePaymentRequest(request_id=rid(),
                                                                       end_to_end_id=april.end_to_end_id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_no_order_without_an_approved_grant_in_force(hub, backoffice, borgerservice, clock):
    reach(clock, "2026-12")
    case = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    backoffice.AddInformation(info_req(case.case_id))
    pending = backoffice.SubmitDraftDecision(draft_req(case.case_id, points=[("health", "assessed")])).decision
    schedule = lambda d: backoffice.SchedulePayments(  # noqa: E731
        P.SchedulePaymentsRequest(request_id=rid(), decision_id=d.decision_id, period="2026-12"))
    err = rpc_error(schedule, pending)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and details(err)[1].reason == "DECISION_NOT_APPROVED"
    backoffice.WithdrawCase(cases_pb2.WithdrawCaseRequest(request_id=rid(), case_id=case.case_id))
    assert rpc_error(schedule, pending).code() == grpc.StatusCode.FAILED_PRECONDITION
    # Superseded: wholly replaced by a later decision from the same start.
    case2, d1 = granted(backoffice)
    change(backoffice, case2, 90_000, (2026, 4, 1))
    err = rpc_error(schedule, d1)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and details(err)[1].reason == "DECISION_NOT_IN_FORCE"
    assert table_counts(hub.engine)["payment_orders"] == 0
    # The grant in force can be scheduled at once.
    d2 = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case2.case_id)).decisions[-1]
    made = schedule(d2).orders
    assert [o.period for o in made] == [f"2026-{m:02d}" for m in range(4, 13)]
    assert {o.amount_oere for o in made} == {90_000}


def test_monthly_grants_cover_whole_months_and_refusals_name_when_they_stop(hub, backoffice):
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id, amounts=[period(1, (2026, 4, 2))]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "amounts[0].period_start" in details(err)[0]
    err = rpc_error(backoffice.SubmitDraftDecision,
                    draft_req(case.case_id, amounts=[period(1, (2026, 4, 1), (2026, 5, 30))]))
    assert "amounts[0].period_end" in details(err)[0]
    case, _ = granted(backoffice)
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id, outcome=decisions_pb2.OUTCOME_REFUSED,
                                                              amounts=[]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "effective_from" in details(err)[0]
    # Still DECIDED: nothing was written.
    assert backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).status == S.CASE_STATUS_DECIDED


def test_a_repayment_decision_offset_against_later_payments_and_collected(hub, backoffice, provider):
    case, _ = granted(backoffice, 100_000)
    run(backoffice, "2026-05")
    pay_all(provider)                                                   # April and May paid: 200,000
    decision, claim = repay(backoffice, case.case_id, 150_000, (2026, 4, 1), (2026, 5, 31))
    assert decision.outcome == decisions_pb2.OUTCOME_REPAYMENT and decision.repayment.amount_oere == 150_000
    assert (claim.origin, claim.status, claim.amount_oere, claim.offset_allowed) == \
        (P.CLAIM_ORIGIN_REPAYMENT_DECISION, P.CLAIM_STATUS_OPEN, 150_000, False)
    run(backoffice, "2026-06")
    assert by_period(orders(backoffice, case.case_id))["2026-06"].offset_oere == 0   # not allowed yet
    backoffice.SetClaimOffset(P.SetClaimOffsetRequest(request_id=rid(), claim_id=claim.claim_id, offset_allowed=True))
    run(backoffice, "2026-07")
    july = by_period(orders(backoffice, case.case_id))["2026-07"]
    assert (july.amount_oere, july.offset_oere, july.net_amount_oere) == (100_000, 100_000, 0)
    now = claims(backoffice, case.case_id)[0]
    assert (now.collected_oere, now.status) == (100_000, P.CLAIM_STATUS_PARTLY_PAID)
    # The provider collects part of the rest; more than is outstanding is refused.
    err = rpc_error(provider.ReportCollection, P.ReportCollectionRequest(
        request_id=rid(), claim_id=claim.claim_id, amount_oere=50_001))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    provider.ReportCollection(P.ReportCollectionRequest(request_id=rid(), claim_id=claim.claim_id,
                                                        amount_oere=20_000, reference="GIRO-1"))
    # A rejected payment's offset no longer counts.
    batch = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    settle(provider, batch, REJECTED, only={july.end_to_end_id}, reason="closed account")
    now = claims(backoffice, case.case_id)[0]
    assert now.collected_oere == 20_000 and [c.reversed for c in now.collections] == [True, False]
    written = backoffice.WriteOffClaim(P.WriteOffClaimRequest(request_id=rid(), claim_id=claim.claim_id,
                                                              reason="below the collection limit"))
    assert (written.status, written.written_off_oere, written.outstanding_oere) == \
        (P.CLAIM_STATUS_WRITTEN_OFF, 130_000, 0)
    err = rpc_error(provider.ReportCollection, P.ReportCollectionRequest(
        request_id=rid(), claim_id=claim.claim_id, amount_oere=1))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Another provider does not see the claim.
    err = rpc_error(hub.as_("t-provider-b").ReportCollection, P.ReportCollectionRequest(
        request_id=rid(), claim_id=claim.claim_id, amount_oere=1))
    assert err.code() == grpc.StatusCode.NOT_FOUND


PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}"


def test_push_writes_a_pain001_file_per_payer_municipality(hub, backoffice, tmp_path):
    for m in ("101", "101", "147"):
        granted(backoffice, municipality=m)
    granted(backoffice, municipality="751")   # provider-b's
    run(backoffice, "2026-05")
    operator = hub.as_("t-operator")
    batch = operator.PushPaymentBatch(P.PushPaymentBatchRequest(request_id=rid(), provider_id="provider-a"))
    assert batch.status == P.BATCH_STATUS_PUSHED and batch.number_of_transactions == 6
    err = rpc_error(operator.PushPaymentBatch, P.PushPaymentBatchRequest(request_id=rid(), provider_id="cw-101"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    d = dispatcher(hub.engine, hub.clock, file_adapters(tmp_path))
    d.drain()
    files = sorted((tmp_path / "payment_provider" / "provider-a").glob("*.xml"))
    assert len(files) == 2
    seen = set()
    for f in files:
        assert_valid_pain001(f)
        root = ET.parse(f).getroot()
        header = root.find(f"{PAIN}CstmrCdtTrfInitn/{PAIN}GrpHdr")
        txs = root.findall(f".//{PAIN}CdtTrfTxInf")
        amounts = [round(float(x.find(f"{PAIN}Amt/{PAIN}InstdAmt").text) * 100) for x in txs]
        assert int(header.find(f"{PAIN}NbOfTxs").text) == len(txs)
        assert round(float(header.find(f"{PAIN}CtrlSum").text) * 100) == sum(amounts)
        assert all(x.find(f"{PAIN}Amt/{PAIN}InstdAmt").get("Ccy") == "DKK" for x in txs)
        seen |= {x.find(f"{PAIN}PmtId/{PAIN}EndToEndId").text for x in txs}
        ids = [x.find(f"{PAIN}Cdtr/{PAIN}Id/{PAIN}PrvtId/{PAIN}Othr/{PAIN}Id").text for x in txs]
        assert all(len(i) == 10 for i in ids)
    assert seen == {i.order.end_to_end_id for i in batch.instructions}
    # Delivered again (a crash before the outbox recorded it): the same file, nothing new.
    with hub.engine.connect() as c:
        row = c.execute(sa.select(tables.outbox).where(tables.outbox.c.destination == "payment_provider")).first()
    before = files[0].read_bytes(), len(files)
    adapter = file_adapters(tmp_path)["payment_provider"]
    again = adapter.deliver(Delivery(row.message_id, row.destination, None, decode(row.destination, row.payload), 2,
                                     hub.clock.now(), row.created_at))
    assert again.reference.startswith("provider-a/")
    assert (files[0].read_bytes(), len(list((tmp_path / "payment_provider" / "provider-a").glob("*.xml")))) == before


def test_two_runs_of_the_same_period_at_once_create_each_order_once(hub, backoffice, monkeypatch):
    """On PostgreSQL the two runs really overlap (small chunks, two lanes); on SQLite
    they take turns. Either way: every order once, and the runs' counts add up."""
    import concurrent.futures

    from hub.service.payments import PaymentSettings
    monkeypatch.setattr(hub.running.context, "payments", PaymentSettings(run_chunk=5))
    cases = [granted(backoffice, start=(2026, 1, 1))[0] for _ in range(30)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run(backoffice, "2026-03")[-1], range(2)))
    assert sum(r.orders_created for r in results) == 90
    with hub.engine.connect() as c:
        rows = c.execute(sa.select(tables.payment_orders.c.case_id, tables.payment_orders.c.period_key)).all()
    assert len(rows) == len(set(rows)) == 90 and {r.case_id for r in rows} == {c.case_id for c in cases}
