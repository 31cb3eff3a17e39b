"""A decision for a bounded time (effective_to): a temporary change, or a settled year,
governs payments for its months only; the grant in force before it applies again after.
Over gRPC: what the payments, the claims, the economy system and the letter show."""
from __future__ import annotations

import grpc
from google.type import date_pb2

from hub.v1 import cases_pb2, decisions_pb2 as D
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import details, draft_req, info_req, period, rpc_error, table_counts
from tests.test_payments import _payments_clock, by_period, claims, granted, orders, pay_all, run  # noqa: F401
from tests.test_repayment import economy_lines
from tests.test_straight_through import letters


def _date(y, m, d):
    return date_pb2.Date(year=y, month=m, day=d)


def _told(backoffice, case_id) -> list[str]:
    """What the citizen told us (a lower grant resting on it needs no hearing)."""
    return [backoffice.AddInformation(info_req(case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN)).item.item_id]


def test_a_temporary_lower_grant_governs_its_months_and_the_grant_before_returns(hub, backoffice, clock, tmp_path):
    case, first = granted(backoffice, 100_000)                       # April to December
    r = backoffice.SubmitDraftDecision(draft_req(
        case.case_id, amounts=[period(60_000, (2026, 6, 1), (2026, 7, 31))], effective_to=_date(2026, 7, 31),
        decisive_fact_ids=_told(backoffice, case.case_id), reasoning="Midlertidigt højere indkomst i juni og juli.",
        legal_basis="Lov om individuel boligstøtte § 8"))
    assert r.approved_automatically
    assert r.decision.effective_to == _date(2026, 7, 31)
    run(backoffice, "2026-09")
    paid = {p: o.amount_oere for p, o in by_period(orders(backoffice, case.case_id)).items()}
    assert paid == {"2026-04": 100_000, "2026-05": 100_000, "2026-06": 60_000, "2026-07": 60_000,
                    "2026-08": 100_000, "2026-09": 100_000}
    # The first grant is not superseded as a whole: it still governs August on.
    shown = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id))
    assert [d.superseded_by_decision_id for d in shown.decisions] == [r.decision.decision_id, ""]

    drops = tmp_path / "drops"
    dispatcher(hub.engine, clock, file_adapters(drops)).drain()
    [text] = [t for t in letters(drops) if "Midlertidigt" in t]
    assert "Afgørelsen gælder til og med 31. juli 2026. Derefter gælder den afgørelse, du havde før, igen." in text
    posted = economy_lines(drops)
    lines = [p for p in posted if p["kind"] == "decision_posting" and p["decision_id"] == r.decision.decision_id]
    assert {(p["effective_from"], p["effective_to"], p["replaces_grant"]) for p in lines} == \
        {("2026-06-01", "2026-07-31", True)}
    assert all(p["effective_to"] is None for p in posted
               if p["kind"] == "decision_posting" and p["decision_id"] == first.decision_id)


def test_a_bounded_decision_for_months_already_paid_claims_only_those_months(hub, backoffice):
    case, _ = granted(backoffice, 100_000)
    run(backoffice, "2026-06")
    pay_all(hub.as_("t-provider-a"))                                 # April to June paid
    r = backoffice.SubmitDraftDecision(draft_req(
        case.case_id, amounts=[period(70_000, (2026, 4, 1), (2026, 5, 31))], effective_to=_date(2026, 5, 31),
        decisive_fact_ids=_told(backoffice, case.case_id), offset_repayment=True,
        reasoning="Højere indkomst i april og maj.", legal_basis="Lov om individuel boligstøtte § 47"))
    assert r.approved_automatically
    got = claims(backoffice, case.case_id)
    assert sorted((c.period, c.amount_oere) for c in got) == [("2026-04", 30_000), ("2026-05", 30_000)]
    decision = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).decisions[-1]
    assert (decision.repayment.amount_oere, decision.repayment.period_end) == (60_000, _date(2026, 5, 31))
    # June on is still the first grant's: the next run withholds the claims from it.
    run(backoffice, "2026-07")
    july = by_period(orders(backoffice, case.case_id))["2026-07"]
    assert (july.amount_oere, july.offset_oere) == (100_000, 60_000)


def test_a_temporary_stop_pays_nothing_for_its_months_only(hub, backoffice):
    case, _ = granted(backoffice, 100_000)
    r = backoffice.SubmitDraftDecision(draft_req(
        case.case_id, outcome=D.OUTCOME_REFUSED, amounts=[], effective_from=_date(2026, 6, 1),
        effective_to=_date(2026, 6, 30), decisive_fact_ids=_told(backoffice, case.case_id),
        reasoning="Ophold i udlandet i juni.", legal_basis="Lov om individuel boligstøtte § 1"))
    assert r.approved_automatically
    run(backoffice, "2026-08")
    assert sorted(by_period(orders(backoffice, case.case_id))) == ["2026-04", "2026-05", "2026-07", "2026-08"]


def test_a_bounded_decision_that_does_not_fit_is_invalid_argument_and_changes_nothing(hub, backoffice):
    case, _ = granted(backoffice, 100_000)
    counts = table_counts(hub.engine)

    def fields(**kw) -> set[str]:
        err = rpc_error(backoffice.SubmitDraftDecision, draft_req(case.case_id, **kw))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        return set(details(err)[0])

    june = [period(60_000, (2026, 6, 1), (2026, 6, 30))]
    assert "effective_to" in fields(amounts=june, effective_to=_date(2026, 6, 15))        # not a month's end
    assert "amounts[0].period_end" in fields(amounts=[period(60_000, (2026, 6, 1), (2026, 8, 31))],
                                             effective_to=_date(2026, 7, 31))
    assert "effective_to" in fields(amounts=june, effective_from=_date(2026, 6, 1), effective_to=_date(2026, 5, 31))
    assert "effective_to" in fields(amounts=june, effective_to=_date(2026, 2, 30))        # no such day
    assert "effective_from" in fields(outcome=D.OUTCOME_REFUSED, amounts=[], effective_to=_date(2026, 6, 30))
    assert table_counts(hub.engine) == counts
