"""Property tests over random sequences of decisions, supersessions, runs, settlements,
returns, reissues, offsets and collections on one case: once the provider has paid what
is due and collected what is owed, for every period paid - collected equals what the
latest decision grants; nothing is paid without an approved decision, no period of
a grant is paid twice, and the repayment a decision states is what its claims come to. Through the service layer, on the test database.

The examples share the database (a run made in one orders the next one's grants at
approval), which is how it found a returned payment whose claim had been half
collected. HUB_TEST_PAYMENT_EXAMPLES=400 hunts longer than the suite's 60."""
from __future__ import annotations

import datetime as dt
import os
import pickle
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.domain import commands as cmd
from hub.domain import payments as pay
from hub.domain.errors import FailedPrecondition
from hub.domain.identity import Identity, Role
from hub.domain.model import Channel, InformationSource, Outcome
from hub.runtime.transactions import Tx
from hub.service import cases, claims, decisions, payments
from hub.store.uow import Store
from hub.store import tables as t
from tests.conftest import FakeClock, new_cpr

MONTHS = [f"2026-{m:02d}" for m in range(1, 7)]
BACK = Identity("backoffice", Role.BACK_OFFICE, frozenset({"101"}))
PROVIDER = Identity("provider-a", Role.PAYMENT_PROVIDER, frozenset({"101"}))


def _ok(raw: bytes):
    return pickle.loads(raw)


def _id() -> str:
    return str(uuid.uuid4())


def _amount(amount: int, first: int) -> list[cmd.PeriodAmountInput]:
    return [cmd.PeriodAmountInput(amount, (2026, first + 1, 1), (2026, 6, 30))] if amount else []


class World:
    """One case through the use cases as the hub runs them (hub.runtime.transactions.Tx)."""

    def __init__(self, tx: Tx):
        self.tx = tx
        view = self.change(BACK, "CreateCase", cases.create_case, cmd.CreateCase(
            _id(), "101", new_cpr(), "BOLIGSTOETTE", Channel.LETTER, tx.now(), {}, ""))
        self.case_id = view.case.case_id
        # What the citizen said: a decision lowering the grant on it needs no hearing and
        # is approved automatically (the hearing rule has tests of its own).
        self.change(BACK, "AddInformation", cases.add_information, cmd.AddInformation(
            _id(), self.case_id, InformationSource.CITIZEN, "", "x", 1, True, False))

    def change(self, identity, action, use_case, *args):
        return _ok(self.tx.mutate(identity, action, _id(), _id(), pickle.dumps, use_case, *args))

    def decide(self, amount: int, first: int) -> None:
        outcome = Outcome.GRANTED if amount else Outcome.REFUSED
        effective = None if amount else (2026, first + 1, 1)
        self.change(BACK, "SubmitDraftDecision", decisions.submit_draft, cmd.SubmitDraft(
            _id(), self.case_id, outcome, _amount(amount, first), "r", "b", [], effective))

    def run(self, month: int) -> None:
        list(payments.run_payments(self.tx.units, BACK, cmd.RunPayments(_id(), MONTHS[month]), self.tx.clock))

    def provider_day(self, results: list[bool]) -> None:
        batch = self.tx.read(PROVIDER, "FetchPaymentBatch", payments.fetch_payment_batch, 0)
        if not batch.batch_id:
            return
        self.tx.read(PROVIDER, "AcknowledgePaymentBatch", payments.acknowledge_payment_batch, batch.batch_id)
        reports = tuple(cmd.SettlementReport(
            i.order.end_to_end_id,
            pay.SettlementResult.PAID if (results[n % len(results)] if results else True)
            else pay.SettlementResult.REJECTED, i.order.net_oere, "b", (2026, 6, 1), "r")
            for n, i in enumerate(batch.instructions))
        self.change(PROVIDER, "ReportSettlement", payments.report_settlement, cmd.ReportSettlement(_id(), reports))

    def history(self) -> pay.PaymentHistory:
        with self.tx.unit() as uow:
            return payments.history(uow, self.case_id)

    def return_one(self) -> None:
        paid = [o for o in self.history().orders if o.status is pay.OrderStatus.PAID]
        if paid:
            o = paid[0]
            self.change(PROVIDER, "ReportSettlement", payments.report_settlement, cmd.ReportSettlement(_id(), (
                cmd.SettlementReport(o.end_to_end_id, pay.SettlementResult.RETURNED, o.net_oere, "b", (2026, 6, 2),
                                     "account closed"),)))

    def reissue_all(self) -> None:
        for o in self.history().orders:
            if o.status in pay.FLAGGED_STATUSES and not o.reissued_as:
                try:
                    self.change(BACK, "ReissuePayment", payments.reissue_payment,
                                cmd.ReissuePayment(_id(), o.end_to_end_id))
                except FailedPrecondition:  # nothing due for the period any more
                    pass

    def allow_offsets(self) -> None:
        for c in self.history().claims:
            if c.status in pay.OPEN_CLAIM_STATUSES and not c.offset_allowed:
                self.change(BACK, "SetClaimOffset", claims.set_claim_offset,
                            cmd.ClaimChange(_id(), c.claim_id, offset_allowed=True))

    def collect(self, all_: bool = False) -> None:
        for c in self.history().claims:
            if c.status in pay.OPEN_CLAIM_STATUSES and c.outstanding_oere:
                amount = c.outstanding_oere if all_ else max(1, c.outstanding_oere // 2)
                self.change(PROVIDER, "ReportCollection", claims.report_collection,
                            cmd.ClaimChange(_id(), c.claim_id, amount_oere=amount))

    def settle_everything(self) -> None:
        """Run to the last month, then pay, reissue and collect until nothing moves."""
        self.run(len(MONTHS) - 1)
        for _ in range(6):
            self.reissue_all()
            self.provider_day([True])
            self.collect(all_=True)
            h = self.history()
            if not any(o.status in (pay.OrderStatus.PENDING, pay.OrderStatus.SENT) for o in h.orders) and not any(
                    c.status in pay.OPEN_CLAIM_STATUSES for c in h.claims):
                return
        raise AssertionError("payments did not settle")


step = st.one_of(
    st.tuples(st.just("decide"), st.sampled_from([0, 50_000, 100_000, 125_000]), st.integers(0, 5)),
    st.tuples(st.just("run"), st.integers(0, 5)),
    st.tuples(st.just("provider_day"), st.lists(st.booleans(), min_size=1, max_size=4)),
    st.tuples(st.just("return_one")),
    st.tuples(st.just("reissue_all")),
    st.tuples(st.just("allow_offsets")),
    st.tuples(st.just("collect")),
)


@pytest.fixture
def service(clean_db):
    # June: runs reach every month of MONTHS (a run is for this month or the next at most).
    return Tx(Store(clean_db, clean_db), FakeClock(dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.timezone.utc)))


@settings(max_examples=int(os.environ.get("HUB_TEST_PAYMENT_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.tuples(st.sampled_from([50_000, 100_000, 125_000]), st.integers(0, 5)),
       steps=st.lists(step, max_size=10))
def test_paid_minus_collected_is_what_the_latest_decision_grants(service, first, steps):
    w = World(service)
    w.decide(*first)
    for name, *args in steps:
        getattr(w, name)(*args)
    w.settle_everything()

    h = w.history()
    with service.store.engine.connect() as c:
        lines = c.execute(sa.select(t.payment_lines).where(t.payment_lines.c.case_id == w.case_id,
                                                           t.payment_lines.c.state != "SUPERSEDED")).all()
        statuses = dict(c.execute(sa.select(t.decisions.c.decision_id, t.decisions.c.status)
                                  .where(t.decisions.c.case_id == w.case_id)).all())
        stated = {d: (r or {}).get("amount_oere", 0) for d, r in c.execute(
            sa.select(t.decisions.c.decision_id, t.decisions.c.repayment).where(t.decisions.c.case_id == w.case_id))}
    entitled = {line.period_key: line.amount_oere for line in lines}
    assert len(entitled) == len(lines)  # one grant in force per period
    paid: dict[str, int] = {}
    for o in h.orders:
        if o.status is pay.OrderStatus.PAID:
            paid[o.period_key] = paid.get(o.period_key, 0) + o.amount_oere
            assert statuses[o.decision_id] == "APPROVED"
    collected: dict[str, int] = {}
    for claim in h.claims:
        got = sum(x.amount_oere for x in claim.collections if not x.reversed)
        assert got == claim.collected_oere
        collected[claim.period_key] = collected.get(claim.period_key, 0) + got
    for month in MONTHS:
        assert paid.get(month, 0) - collected.get(month, 0) == entitled.get(month, 0), month
    # What each decision's letter says is to be paid back is what its claims came to.
    claimed: dict[str, int] = {}
    for claim in h.claims:
        claimed[claim.decision_id] = claimed.get(claim.decision_id, 0) + claim.amount_oere
    assert {d: n for d, n in claimed.items() if n} == {d: n for d, n in stated.items() if n}
    # No end-to-end id paid twice, and no period of a grant ordered twice but as its
    # correction or reissue.
    ids = [o.end_to_end_id for o in h.orders]
    assert len(ids) == len(set(ids))
    regular = [(o.decision_id, o.period_key) for o in h.orders if o.kind is not pay.OrderKind.REISSUE]
    assert len(regular) == len(set(regular))
