"""One bad amount must not stop everyone: a granted amount no benefit has is refused at
the door (the catalogue's plausible maximum, data), a payment run orders months ahead
at most one month, and a damaged grant line is held for the back office while every
other citizen is paid."""
from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa

from hub.store import tables
from hub.v1 import benefits_pb2, cases_pb2, decisions_pb2 as D, payments_pb2 as P
from tests.helpers import create_req, details, draft_req, info_req, period, rid, rpc_error, table_counts
from tests.test_payments import granted, orders, reach, run


@pytest.fixture
def provider(hub):
    return hub.as_("t-provider-a")


@pytest.mark.parametrize("amount", [2 ** 62, 99_999_999_999_999_999, 2_000_001, 0])
def test_a_granted_amount_above_the_plausible_maximum_or_of_nothing_is_bad_input(hub, backoffice, amount):
    case = backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE"))
    backoffice.AddInformation(info_req(case.case_id))
    before = table_counts(hub.engine)
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id, amounts=[period(amount)]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "amounts[0].amount_oere" in details(err)[0]
    assert table_counts(hub.engine) == before
    # The ceiling is one month's: 20.000 kr. a month is the most housing benefit given.
    assert backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(2_000_000)])).approved_automatically


def test_the_catalogue_shows_each_benefits_ceiling_and_the_authority_cannot_amend_above_it(hub, backoffice):
    limits = {b.code: list(b.amount_limits) for b in backoffice.ListBenefits(benefits_pb2.ListBenefitsRequest()).benefits}
    assert set(limits) == {"FOLKEPENSION", "BOLIGSTOETTE", "BOERNEBIDRAG", "BARSELSDAGPENGE", "OEKONOMISK_FRIPLADS"}
    assert all(len(x) == 1 and x[0].max_oere > 0 and x[0].basis for x in limits.values())
    assert limits["BARSELSDAGPENGE"][0].per == benefits_pb2.PERIOD_KIND_WEEK
    assert limits["FOLKEPENSION"][0].per == benefits_pb2.PERIOD_KIND_MONTH
    case = backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    backoffice.AddInformation(info_req(case.case_id))
    draft = backoffice.SubmitDraftDecision(draft_req(case.case_id, points=[("helbred", "vurderet")])).decision
    err = rpc_error(hub.as_("t-cw-101").ApproveDecision, D.ApproveDecisionRequest(
        request_id=rid(), decision_id=draft.decision_id, note="forhøjet",
        amendment=D.Amendment(amounts=[period(limits["FOLKEPENSION"][0].max_oere + 1)])))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "amendment.amounts[0].amount_oere" in details(err)[0]
    # Per period: the weekly ceiling for each week begun (a 2-week period may pay two weeks).
    week = limits["BARSELSDAGPENGE"][0].max_oere
    case = backoffice.CreateCase(create_req(benefit="BARSELSDAGPENGE"))
    backoffice.AddInformation(info_req(case.case_id))
    fortnight = ((2026, 4, 1), (2026, 4, 14))
    err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id, amounts=[period(2 * week + 1, *fortnight)]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(2 * week, *fortnight)])).decision


def test_a_payment_run_orders_this_month_and_the_next_at_most(hub, backoffice, clock):
    case, _ = granted(backoffice)               # April to December; the clock is in March
    for month in ("2036-12", "2026-05"):
        err = rpc_error(lambda: list(backoffice.RunPayments(P.RunPaymentsRequest(request_id=rid(), period=month))))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "must not be after 2026-04" in details(err)[0]["period"]
    err = rpc_error(backoffice.SchedulePayments, P.SchedulePaymentsRequest(
        request_id=rid(), decision_id=backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
        .decisions[0].decision_id, period="2036-12"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "period" in details(err)[0]
    assert table_counts(hub.engine)["payment_orders"] == 0
    assert list(backoffice.RunPayments(P.RunPaymentsRequest(request_id=rid(), period="2026-04")))[-1].orders_created == 1


def _damage(engine, case_id: str, amount: int) -> None:
    """What a grant written before the catalogue knew its ceiling (or by hand) looks like."""
    with engine.begin() as c:
        c.execute(sa.update(tables.payment_lines).where(tables.payment_lines.c.case_id == case_id)
                  .values(amount_oere=amount))


def test_a_damaged_grant_is_held_and_everyone_else_is_paid(hub, backoffice, provider):
    bad, _ = granted(backoffice)
    odd, _ = granted(backoffice)
    good = [granted(backoffice)[0] for _ in range(3)]
    _damage(hub.engine, bad.case_id, 2 ** 62)
    _damage(hub.engine, odd.case_id, 5_000_000)           # 50.000 kr. of housing benefit in a month
    last = run(backoffice, "2026-04")[-1]
    assert (last.done, last.orders_created, last.held, last.amount_oere) == (True, 3, 2, 3 * 125_000)
    assert not orders(backoffice, bad.case_id) and all(len(orders(backoffice, c.case_id)) == 1 for c in good)
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=bad.case_id)).payments
    assert [(h.period, h.amount_oere) for h in shown.held] == [("2026-04", 2 ** 62)]
    assert "outside what any payment can be" in shown.held[0].reason
    [held] = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=odd.case_id)).payments.held
    assert "plausible maximum" in held.reason and "20000.00 DKK per month" in held.reason
    with hub.engine.connect() as c:
        held = c.execute(sa.select(tables.events.c.case_id).where(tables.events.c.type == "payment.held")).scalars()
        assert sorted(held) == sorted([bad.case_id, odd.case_id])
    # The provider's batch holds everyone else's orders and a control sum that fits.
    batch = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    assert {i.order.case_id for i in batch.instructions} == {c.case_id for c in good}
    # A rerun does not order it either; a new decision on the case replaces the held line.
    assert run(backoffice, "2026-04")[-1].orders_created == 0


def test_a_chunk_that_fails_is_ordered_line_by_line_and_the_failing_line_held(inline_hub, monkeypatch):
    from hub.store.payments import Payments
    backoffice = inline_hub.as_("t-backoffice")
    cases = [granted(backoffice)[0] for _ in range(4)]
    broken = cases[1].case_id
    real = Payments.add_orders

    def add_orders(self, orders):
        if any(o["case_id"] == broken for o in orders):
            raise RuntimeError("the database refused a value")
        return real(self, orders)
    monkeypatch.setattr(Payments, "add_orders", add_orders)
    reach(inline_hub.clock, "2026-04")
    last = list(backoffice.RunPayments(P.RunPaymentsRequest(request_id=rid(), period="2026-04")))[-1]
    assert (last.done, last.orders_created, last.held) == (True, 3, 1)
    assert not orders(backoffice, broken)
    held = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=broken)).payments.held
    assert [h.period for h in held] == ["2026-04"] and "RuntimeError" in held[0].reason
