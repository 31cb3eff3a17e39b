"""Final settlement against the year's final income (issue 27): granted boligstøtte cases,
decided straight through from the registers (simulators on real sockets, the real
clients), paid, then settled against the final assessment register's answers (its
simulator on a real socket, the real client) over a real gRPC channel; what the citizen,
the economy system and the payment provider receive."""
from __future__ import annotations

import datetime as dt
import json
import types

import grpc
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as sts

from adapters.cpr_register.client import CprRegisterClient
from adapters.cpr_register.simulator import Simulator as CprSimulator
from adapters.final_assessment.simulator import Simulator as FinalSimulator
from adapters.income_register.simulator import Simulator as IncomeSimulator
from adapters.rent_register.client import RentRegisterClient
from adapters.rent_register.simulator import Simulator as RentSimulator
from hub.domain.rules import boligstoette
from hub.ports import CPR_REGISTER, RENT_REGISTER
from hub.settings import Settings
from hub.store import tables
from hub.v1 import cases_pb2, common_pb2, decisions_pb2 as D, payments_pb2 as P, settlement_pb2 as S
from tests.conftest import RunningHub
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import details, rid, rpc_error
from tests.test_payments import pay_all
from tests.test_rules_formulas import KR, SEEDS, facts
from tests.test_straight_through import apply, letters, stage

YEAR = 2026
MONTHS = [f"{YEAR}-{m:02d}" for m in range(4, 13)]     # the grant: April to December, 560 kr a month
GRANTED = 56_000


@pytest.fixture
def sims():
    s = types.SimpleNamespace(cpr=CprSimulator(today=lambda: dt.date(2026, 3, 2)).start_in_thread(),
                              rent=RentSimulator().start_in_thread(), income=IncomeSimulator().start_in_thread(),
                              final=FinalSimulator(today=lambda: dt.date(2027, 6, 1)).start_in_thread())
    yield s
    for sim in (s.cpr, s.rent, s.income, s.final):
        sim.stop()


@pytest.fixture
def shub(clean_db, clock, sims):
    h = RunningHub(clean_db, clock, settings=Settings(final_assessment_url=sims.final.url))
    yield h
    h.stop()


@pytest.fixture
def bo(shub):
    return shub.as_("t-backoffice")


@pytest.fixture
def drops(tmp_path):
    return tmp_path / "drops"


@pytest.fixture
def disp(shub, clock, drops, sims):
    adapters = file_adapters(drops, sims.income.url)
    adapters[CPR_REGISTER] = CprRegisterClient(sims.cpr.url, timeout=5)
    adapters[RENT_REGISTER] = RentRegisterClient(sims.rent.url, timeout=5)
    return dispatcher(shub.engine, clock, adapters)


def granted_case(bo, disp, sims) -> tuple[str, str]:
    """A citizen alone, 25.000 kr a month, rent 4.000 kr, 60 m²: boligsikring 560 kr a month
    from April 2026 (Udbetaling Danmark's calculator, case B1), decided straight through."""
    cpr = stage(sims)
    case = apply(bo, cpr)
    disp.drain()
    full = bo.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert full.status == common_pb2.CASE_STATUS_DECIDED, full
    assert [(a.amount_oere, a.period_start.month) for a in full.decisions[0].amounts] == [(GRANTED, 4)]
    return case.case_id, cpr


def paid_year(shub, bo, clock):
    """Every month of the year ordered and paid."""
    if clock.now() < dt.datetime(2027, 1, 5, tzinfo=dt.timezone.utc):
        clock.advance(seconds=(dt.datetime(2027, 1, 5, tzinfo=dt.timezone.utc) - clock.now()).total_seconds())
    list(bo.RunPayments(P.RunPaymentsRequest(request_id=rid(), period=f"{YEAR}-12")))
    while pay_all(shub.as_("t-provider-a")).batch_id:
        pass


def final(sims, cpr, income_kr_year: int, **more):
    sims.final.put_final_income(cpr, YEAR, dict(dict(personal_income_oere=income_kr_year * 100, capital_income_oere=0,
                                                     share_income_oere=0, share_dividends_oere=0), **more))


def settle(bo, **kw) -> list[S.RunFinalSettlementProgress]:
    return list(bo.RunFinalSettlement(S.RunFinalSettlementRequest(
        request_id=kw.pop("request_id", rid()), income_year=kw.pop("income_year", YEAR),
        benefit_code=kw.pop("benefit_code", "BOLIGSTOETTE"), **kw)))


def settlement_of(client, case_id) -> S.FinalSettlement:
    return client.GetSettlement(S.GetSettlementRequest(case_id=case_id, income_year=YEAR))


def rules_give(income_oere_year: int) -> int:
    """What the 2026 rules give a month on this income, for the staged household (the
    formula the official calculator's cases check, tests/test_rules_formulas.py)."""
    f = facts(boligstoette, applicant__receives_folkepension=False, household__adults=1, household__children=0,
              household__income_per_year=income_oere_year, household__wealth=0, dwelling__rent_per_year=48_000 * KR,
              dwelling__area_m2=60, dwelling__tenure="rental", dwelling__heating_included=False,
              dwelling__hot_water_included=False, dwelling__electricity_included=False,
              dwelling__heating_separate=True, dwelling__water_separate=False, dwelling__maintenance_duty=False,
              applicant__age=56)
    from tests.test_rules_formulas import JAN_2026
    return boligstoette.calculate(f, SEEDS[("BOLIGSTOETTE", 2026)], JAN_2026).amount_oere


def net_per_month(bo, case_id) -> dict[str, int]:
    """What the citizen ends up with per month: paid orders less what claims take back."""
    full = bo.GetCase(cases_pb2.GetCaseRequest(case_id=case_id))
    out = {m: 0 for m in MONTHS}
    for o in full.payments.orders:
        if o.status in (P.PAYMENT_STATUS_PAID, P.PAYMENT_STATUS_SENT, P.PAYMENT_STATUS_PENDING):
            out[o.period] = out.get(o.period, 0) + o.amount_oere
    for c in full.payments.claims:
        if c.period:
            out[c.period] = out.get(c.period, 0) - (c.amount_oere - c.cancelled_oere)
    return out


def economy(drops) -> list[dict]:
    return [json.loads(x) for f in sorted((drops / "economy").rglob("*.jsonl")) for x in f.read_text().splitlines()]


# ---- the three results --------------------------------------------------------------------------

def test_a_lower_final_income_is_a_back_payment_decided_paid_and_posted(shub, bo, disp, sims, clock, drops):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    final(sims, cpr, 144_000)     # 12.000 kr a month: the calculator gives 626 kr a month
    assert rules_give(14_400_000) == 62_600
    progress = settle(bo)
    assert progress[-1].done and progress[-1].examined == 1 and progress[-1].back_payments == 1, \
        settlement_of(bo, case_id).reason
    assert progress[-1].back_payment_oere == 9 * 6_600 and progress[-1].decided_automatically == 1

    s = settlement_of(bo, case_id)
    assert (s.status, s.result) == (S.FINAL_SETTLEMENT_STATUS_SETTLED, S.FINAL_SETTLEMENT_RESULT_BACK_PAYMENT)
    assert (s.granted_oere, s.final_oere, s.difference_oere, s.final_income_oere) == \
        (9 * GRANTED, 9 * 62_600, 9 * 6_600, 14_400_000)
    assert [(m.month, m.granted_oere, m.final_oere) for m in s.months] == [(m, GRANTED, 62_600) for m in MONTHS]
    full = bo.GetCase(cases_pb2.GetCaseRequest(case_id=case_id))
    d = next(x for x in full.decisions if x.decision_id == s.decision_id)
    assert d.settlement_year == YEAR and d.approval.mode == D.APPROVAL_MODE_AUTOMATIC
    assert (d.effective_from.month, d.effective_to.month, d.effective_to.day) == (4, 12, 31)
    assert [(a.amount_oere, a.period_start.month, a.period_end.month) for a in d.amounts] == [(62_600, 4, 12)]
    # The back payment is ordered at once (the year's runs are done): a correction a month.
    corrections = [o for o in full.payments.orders if o.kind == P.PAYMENT_KIND_CORRECTION]
    assert sorted((o.period, o.amount_oere) for o in corrections) == [(m, 6_600) for m in MONTHS]
    assert net_per_month(bo, case_id) == {m: 62_600 for m in MONTHS}

    dispatcher(shub.engine, clock, file_adapters(drops)).drain()
    [letter] = [t for t in letters(drops) if "endelige indkomst" in t]
    assert "Husstandens endelige indkomst 2026: 144.000 kr" in letter and "efterbetales" in letter
    assert "Skattestyrelsen" in letter and "Klagevejledning" in letter
    mine = [p for p in economy(drops) if p["case_id"] == case_id]
    [posted] = [p for p in mine if p["kind"] == "final_settlement"]
    assert (posted["result"], posted["amount_oere"], posted["income_year"], posted["decision_id"]) == \
        ("BACK_PAYMENT", 9 * 6_600, YEAR, s.decision_id)
    assert [p["settlement_year"] for p in mine if p["kind"] == "decision_posting" and
            p["decision_id"] == s.decision_id][0] == YEAR
    assert sum(p["amount_oere"] for p in mine if p["kind"] == "payment_order" and p["order_kind"] == "CORRECTION") \
        == 9 * 6_600
    # The run read the citizen's final income and changed the case: in the audit log, on the case.
    with shub.engine.connect() as c:
        audited = c.execute(sa.select(tables.audit_log.c.client_id, tables.audit_log.c.cpr).where(
            tables.audit_log.c.case_id == case_id, tables.audit_log.c.rpc == "RunFinalSettlement")).all()
    assert [tuple(a) for a in audited] == [("backoffice", cpr)]


def test_a_higher_final_income_is_a_repayment_heard_then_approved_and_claimed_with_offset(
        shub, bo, disp, sims, clock, drops):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    final(sims, cpr, 384_000)     # 32.000 kr a month: the calculator gives nothing
    progress = settle(bo)
    assert progress[-1].repayments == 1 and progress[-1].repayment_oere == 9 * GRANTED
    assert progress[-1].decided_automatically == 0
    s = settlement_of(bo, case_id)
    assert s.result == S.FINAL_SETTLEMENT_RESULT_REPAYMENT and s.difference_oere == -9 * GRANTED
    full = bo.GetCase(cases_pb2.GetCaseRequest(case_id=case_id))
    d = next(x for x in full.decisions if x.decision_id == s.decision_id)
    assert d.status == D.DECISION_STATUS_PENDING_APPROVAL and d.outcome == D.OUTCOME_REFUSED
    assert list(d.decisive_fact_ids) == [s.information_id]
    [hearing] = full.hearings
    assert hearing.decision_id == d.decision_id and list(hearing.fact_item_ids) == [s.information_id]
    assert not full.payments.claims, "nothing is claimed before the authority decides"

    caseworker = shub.as_("t-cw-101")
    clock.advance(days=15)        # the hearing's deadline passes unanswered
    approved = caseworker.ApproveDecision(D.ApproveDecisionRequest(request_id=rid(), decision_id=d.decision_id))
    assert approved.repayment.amount_oere == 9 * GRANTED and approved.repayment.offset_allowed
    claims = bo.GetCase(cases_pb2.GetCaseRequest(case_id=case_id)).payments.claims
    assert sorted((c.period, c.amount_oere, c.origin, c.offset_allowed) for c in claims) == \
        [(m, GRANTED, P.CLAIM_ORIGIN_RECALCULATION, True) for m in MONTHS]
    assert net_per_month(bo, case_id) == {m: 0 for m in MONTHS}

    dispatcher(shub.engine, clock, file_adapters(drops)).drain()
    texts = letters(drops)
    [heard] = [t for t in texts if t.startswith("Partshøring")]
    assert "endelige indkomst" in heard or "slutligning" in heard.lower()
    [decided] = [t for t in texts if t.startswith("Afgørelse") and "for meget" in t]
    assert "Du har fået 5.040 kr for meget" in decided and "modregnet" in decided
    mine = [p for p in economy(drops) if p["case_id"] == case_id]
    assert [p["result"] for p in mine if p["kind"] == "final_settlement"] == ["REPAYMENT"]
    created = [p for p in mine if p["kind"] == "claim_changed" and p["change"] == "created"]
    assert len(created) == 9 and {p["origin"] for p in created} == {"RECALCULATION"}


def test_a_difference_below_the_acts_minimum_is_neither_paid_nor_claimed(shub, bo, disp, sims, clock, drops):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    # 1.200 kr more a year: 0,18 × 1.200 = 216 kr a year less boligsikring, 18 kr a month, 162 kr for
    # the nine months: below the 250 kr of § 47, stk. 4.
    final(sims, cpr, 301_200)
    month = rules_give(30_120_000)
    assert 0 < 9 * (GRANTED - month) < 25_000
    progress = settle(bo)
    assert (progress[-1].nothing, progress[-1].repayments) == (1, 0)
    s = settlement_of(bo, case_id)
    assert s.result == S.FINAL_SETTLEMENT_RESULT_NOTHING and s.difference_oere == 9 * (month - GRANTED)
    assert "below the act's minimum" in s.reason and not s.decision_id
    assert net_per_month(bo, case_id) == {m: GRANTED for m in MONTHS}
    dispatcher(shub.engine, clock, file_adapters(drops)).drain()
    [posted] = [p for p in economy(drops) if p["kind"] == "final_settlement"]
    assert (posted["result"], posted["below_minimum"], posted["decision_id"]) == ("NOTHING", True, "")


def test_dividends_up_to_the_disregarded_amount_do_not_count(shub, bo, disp, sims, clock):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    final(sims, cpr, 300_000, share_income_oere=500_000, share_dividends_oere=500_000)
    settle(bo)
    s = settlement_of(bo, case_id)
    assert (s.result, s.difference_oere, s.final_income_oere) == (S.FINAL_SETTLEMENT_RESULT_NOTHING, 0, 30_000_000)


# ---- waiting, a person, and the run itself --------------------------------------------------------

def test_a_household_not_yet_assessed_waits_and_a_later_run_settles_it(shub, bo, disp, sims, clock):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    sims.final.put_final_income(cpr, YEAR, status="not_assessed")
    first = settle(bo)
    assert (first[-1].waiting, first[-1].examined) == (1, 1)
    assert settlement_of(bo, case_id).status == S.FINAL_SETTLEMENT_STATUS_WAITING
    final(sims, cpr, 144_000)
    again = settle(bo)
    assert (again[-1].examined, again[-1].back_payments) == (1, 1)
    assert settlement_of(bo, case_id).result == S.FINAL_SETTLEMENT_RESULT_BACK_PAYMENT


def test_a_case_the_rules_cannot_settle_goes_to_a_person_with_the_reason(shub, bo, disp, sims, clock):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    sims.final.put_final_income(cpr, YEAR, status="not_found")
    progress = settle(bo)
    assert progress[-1].needs_person == 1
    s = settlement_of(bo, case_id)
    assert s.status == S.FINAL_SETTLEMENT_STATUS_NEEDS_PERSON and "no final assessment" in s.reason
    assert cpr not in s.reason
    listed = bo.ListSettlements(S.ListSettlementsRequest(status=S.FINAL_SETTLEMENT_STATUS_NEEDS_PERSON))
    assert [x.case_id for x in listed.settlements] == [case_id]


def test_a_run_is_idempotent_on_its_request_id_and_a_rerun_settles_nothing_twice(shub, bo, disp, sims, clock, drops):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    final(sims, cpr, 144_000)
    request_id = rid()
    first = settle(bo, request_id=request_id)
    replay = settle(bo, request_id=request_id)
    assert len(replay) == 1 and replay[0].done and replay[0].run_id == first[-1].run_id
    assert (replay[0].examined, replay[0].back_payments) == (1, 1)
    assert settle(bo)[-1].examined == 0          # another run: nothing left to settle
    err = rpc_error(lambda r: list(bo.RunFinalSettlement(r)), S.RunFinalSettlementRequest(
        request_id=request_id, income_year=YEAR - 1, benefit_code="BOLIGSTOETTE"))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    full = bo.GetCase(cases_pb2.GetCaseRequest(case_id=case_id))
    assert len([d for d in full.decisions if d.settlement_year == YEAR]) == 1
    dispatcher(shub.engine, clock, file_adapters(drops)).drain()
    assert len([p for p in economy(drops) if p["kind"] == "final_settlement"]) == 1


@pytest.mark.parametrize("request_kw, code, field", [
    (dict(income_year=2026 + 5), grpc.StatusCode.INVALID_ARGUMENT, "income_year"),
    (dict(income_year=0), grpc.StatusCode.INVALID_ARGUMENT, "income_year"),
    (dict(benefit_code=""), grpc.StatusCode.INVALID_ARGUMENT, "benefit_code"),
    (dict(request_id=""), grpc.StatusCode.INVALID_ARGUMENT, "request_id"),
    (dict(benefit_code="BOERNEBIDRAG"), grpc.StatusCode.FAILED_PRECONDITION, None),
])
def test_a_bad_run_request_is_refused_with_the_reason(shub, bo, clock, request_kw, code, field):
    clock.advance(days=320)
    err = rpc_error(lambda: settle(bo, **request_kw))
    assert err.code() == code
    fields, info = details(err)
    if field:
        assert field in fields
    else:
        assert info.reason == "BENEFIT_NOT_SETTLED"


def test_a_year_that_has_not_ended_cannot_be_settled(shub, bo):
    err = rpc_error(lambda: settle(bo, income_year=2026))    # the test clock is in 2026
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "income_year" in details(err)[0]


def test_only_the_back_office_runs_it_and_a_caseworker_sees_only_its_municipality(shub, bo, disp, sims, clock):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    final(sims, cpr, 144_000)
    err = rpc_error(lambda: settle(shub.as_("t-cw-101")))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    settle(bo)
    assert settlement_of(shub.as_("t-cw-101"), case_id).result == S.FINAL_SETTLEMENT_RESULT_BACK_PAYMENT
    other = shub.as_("t-cw-751")
    assert rpc_error(settlement_of, other, case_id).code() == grpc.StatusCode.NOT_FOUND
    assert not other.ListSettlements(S.ListSettlementsRequest()).settlements


def test_the_register_not_answering_stops_the_run_as_unavailable_and_the_same_request_goes_on(
        shub, bo, disp, sims, clock):
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    final(sims, cpr, 144_000)
    sims.final.stop()
    request_id = rid()
    err = rpc_error(lambda: settle(bo, request_id=request_id))
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert settlement_of(bo, case_id).status == S.FINAL_SETTLEMENT_STATUS_PENDING
    sims.final = FinalSimulator(port=int(sims.final.url.rsplit(":", 1)[1]),
                                today=lambda: dt.date(2027, 6, 1)).start_in_thread()
    final(sims, cpr, 144_000)
    done = settle(bo, request_id=request_id)
    assert done[-1].done and done[-1].back_payments == 1


# ---- the property: after settlement, the rules on the final income, to the øre ---------------------

@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(incomes=sts.lists(sts.integers(min_value=100_000, max_value=420_000), min_size=1, max_size=3),
       paid=sts.booleans())
def test_after_settlement_each_month_pays_what_the_rules_give_on_the_final_income(
        shub, bo, disp, sims, clock, incomes, paid):
    clock._set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc))   # (each example applies in March 2026)
    cases = []
    for income in incomes:
        case_id, cpr = granted_case(bo, disp, sims)
        final(sims, cpr, income)
        cases.append((case_id, income))
    clock.advance(seconds=(dt.datetime(2027, 1, 5, tzinfo=dt.timezone.utc) - clock.now()).total_seconds())
    list(bo.RunPayments(P.RunPaymentsRequest(request_id=rid(), period=f"{YEAR}-12")))
    while paid and pay_all(shub.as_("t-provider-a")).batch_id:
        pass
    settle(bo)
    caseworker = shub.as_("t-cw-101")
    clock.advance(days=15)
    for case_id, _ in cases:
        s = settlement_of(bo, case_id)
        pending = [x for x in bo.GetCase(cases_pb2.GetCaseRequest(case_id=case_id)).decisions
                   if x.decision_id == s.decision_id and x.status == D.DECISION_STATUS_PENDING_APPROVAL]
        for d in pending:
            caseworker.ApproveDecision(D.ApproveDecisionRequest(request_id=rid(), decision_id=d.decision_id))
    list(bo.RunPayments(P.RunPaymentsRequest(request_id=rid(), period=f"{YEAR}-12")))
    for case_id, income in cases:
        month = rules_give(income * 100)
        s = settlement_of(bo, case_id)
        if s.status == S.FINAL_SETTLEMENT_STATUS_NEEDS_PERSON:   # rent above half the income: § 15
            assert "§ 15" in s.reason and net_per_month(bo, case_id) == {m: GRANTED for m in MONTHS}
            continue
        below = 0 < abs(9 * (month - GRANTED)) < 25_000
        expected = GRANTED if below else month
        assert net_per_month(bo, case_id) == {m: expected for m in MONTHS}, (income, s)
        assert s.final_oere == 9 * month and s.granted_oere == 9 * GRANTED


def test_hubctl_runs_shows_and_lists_settlements(shub, bo, disp, sims, clock, capsys):
    from clients.cli.hubctl import main
    case_id, cpr = granted_case(bo, disp, sims)
    paid_year(shub, bo, clock)
    sims.final.put_final_income(cpr, YEAR, status="not_found")
    capsys.readouterr()
    base = ["--address", shub.address, "--token", "t-backoffice", "settlement"]
    assert main(base + ["run", "--year", str(YEAR)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["needs_person"] == "1" and "settlement BOLIGSTOETTE 2026" in err   # the progress bar
    assert main(base + ["show", case_id, "--year", str(YEAR)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "FINAL_SETTLEMENT_STATUS_NEEDS_PERSON" and "no final assessment" in shown["reason"]
    assert main(base + ["list", "--year", str(YEAR), "--status", "needs-person"]) == 0
    assert [s["case_id"] for s in json.loads(capsys.readouterr().out)["settlements"]] == [case_id]
    assert main(base + ["list", "--result", "repayment"]) == 0
    assert "0 settlements" in capsys.readouterr().out


def test_two_runs_at_once_share_the_work_and_settle_each_case_once(shub, bo, disp, sims, clock, drops):
    """Two runs side by side (the service the RPC streams from, a case per chunk so that
    they interleave): every case is settled by one of them, once."""
    import threading

    from adapters.final_assessment.client import FinalAssessmentClient
    from hub.domain.commands import RunFinalSettlement
    from hub.domain.identity import Identity, Role
    from hub.service import settlement
    cases = []
    for i in range(6):
        case_id, cpr = granted_case(bo, disp, sims)
        final(sims, cpr, 144_000 if i % 2 else 300_000)
        cases.append(case_id)
    paid_year(shub, bo, clock)
    who = Identity("backoffice", Role.BACK_OFFICE, frozenset({"101"}))
    lookup = FinalAssessmentClient(sims.final.url)
    results, errors = {}, []

    def run(name):
        try:
            steps = settlement.run_final_settlement(shub.store.unit, who, RunFinalSettlement(rid(), YEAR, "BOLIGSTOETTE"),
                                                    clock, lookup, settlement.SettlementSettings(chunk=1))
            results[name] = list(steps)[-1]
        except Exception as exc:   # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert results["a"]["examined"] + results["b"]["examined"] == 6
    assert results["a"]["back_payments"] + results["b"]["back_payments"] == 3
    for case_id in cases:
        full = bo.GetCase(cases_pb2.GetCaseRequest(case_id=case_id))
        assert len([d for d in full.decisions if d.settlement_year == YEAR]) <= 1
        assert settlement_of(bo, case_id).status == S.FINAL_SETTLEMENT_STATUS_SETTLED
    dispatcher(shub.engine, clock, file_adapters(drops)).drain()
    posted = [p["case_id"] for p in economy(drops) if p["kind"] == "final_settlement"]
    assert sorted(posted) == sorted(cases)
