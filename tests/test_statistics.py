"""Management information over gRPC: a population built through the API over two months
with a controlled clock, each figure checked against the answer known from how it was
built; the figures as they stood at a past day; the same answer whether the totals
were folded yet or not, and after a rebuild from the event log; data limits."""
from __future__ import annotations


import grpc
import pytest

from hub.service import statistics as service
from hub.service.clock import SystemClock
from hub.store.uow import Store
from hub.v1 import cases_pb2 as C
from hub.v1 import common_pb2 as S
from hub.v1 import complaints_pb2 as K
from hub.v1 import decisions_pb2 as D
from hub.v1 import statistics_pb2 as ST
from tests.helpers import create_req, details, draft_req, info_req, period, repay, rid, rpc_error, ts, utc
from tests.test_payments import pay_all, run
from tests.test_straight_through import apply, disp, drops, sims, stage  # noqa: F401 (fixtures)

BOLIG = "BOLIGSTOETTE"
REFUSAL = dict(outcome=D.OUTCOME_REFUSED, amounts=[], reasoning="Husstandens indkomst er over grænsen.",
               legal_basis="Lov om individuel boligstøtte § 8")


def granted(backoffice, *, amount=125_000, **kw):
    case = backoffice.CreateCase(create_req(**kw))
    backoffice.AddInformation(info_req(case.case_id))
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(amount)]))
    assert r.approved_automatically
    return case, r.decision


def ask(client, municipality="101", benefit=BOLIG, first="2026-03", last="2026-04", as_of=""):
    return client.GetStatistics(ST.GetStatisticsRequest(municipality_code=municipality, benefit_code=benefit,
                                                        from_month=first, to_month=last, as_of_date=as_of))


def counts(m: ST.MonthStatistics) -> dict:
    """Every figure but the shares, by name (a month with nothing in it gives zeros)."""
    out = {f.name: v for f, v in m.ListFields() if f.name not in ("month", "backlog", "share_within_deadline",
                                                                  "share_automatic")}
    out["backlog"] = {S.CaseStatus.Name(p.status).removeprefix("CASE_STATUS_"): p.cases for p in m.backlog}
    return out


def zero_backlog(**kw):
    return {"CREATED": 0, "INFORMING": 0, "DRAFT_PENDING_APPROVAL": 0, **kw}


@pytest.fixture
def population(hub, backoffice, caseworker, disp, sims, clock):  # noqa: F811
    """Two months of Copenhagen's (and one Aarhus) housing benefit cases; the clock starts
    on 2 March 2026, 10:00 in Copenhagen."""
    p = {}
    # -- March ----------------------------------------------------------------------------
    # A: received on 20 February, granted by the back office's draft today (10 days).
    p["A"] = granted(backoffice, received_time=ts(utc(2026, 2, 20, 9)))
    # B: straight through: the registers answer, the hub calculates and approves (0 days).
    p["B"] = apply(backoffice, stage(sims))
    # C: withdrawn; D: being informed; E: a refusal on register data, heard first.
    c = backoffice.CreateCase(create_req())
    backoffice.WithdrawCase(C.WithdrawCaseRequest(request_id=rid(), case_id=c.case_id,
                                                  reason="Ansøgningen trækkes tilbage."))
    d = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(d.case_id))
    e = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(e.case_id, value=420000.0))
    refusal = backoffice.SubmitDraftDecision(draft_req(e.case_id, **REFUSAL))
    assert refusal.hearing_required
    backoffice.StartHearing(D.StartHearingRequest(request_id=rid(), decision_id=refusal.decision.decision_id))
    # Aarhus: one granted; state pension in Copenhagen: one received, open.
    p["F"] = granted(backoffice, municipality="751")
    backoffice.CreateCase(create_req(benefit="FOLKEPENSION"))
    disp.drain()   # registers, letters, postings, archive
    # A complaint on A (its letter was sent): in April upheld at reconsideration, then
    # upheld by the appeals body.
    complaint = backoffice.FileComplaint(K.FileComplaintRequest(
        request_id=rid(), decision_id=p["A"][1].decision_id, channel=S.CHANNEL_LETTER, grounds="Huslejen er højere."))
    # -- April ----------------------------------------------------------------------------
    clock.advance(seconds=(utc(2026, 4, 10, 8) - clock.now()).total_seconds())
    # H: received on 1 February, decided on 10 April: 68 days, past its 42-day deadline.
    p["H"] = granted(backoffice, received_time=ts(utc(2026, 2, 1, 9)))
    backoffice.SubmitStatement(K.SubmitStatementRequest(request_id=rid(), complaint_id=complaint.complaint_id,
                                                        text="Afgørelsen bygger på årsopgørelsen."))
    caseworker.Reconsider(K.ReconsiderRequest(request_id=rid(), complaint_id=complaint.complaint_id,
                                              outcome=K.RECONSIDERATION_OUTCOME_UPHELD))
    backoffice.RecordAppealOutcome(K.RecordAppealOutcomeRequest(request_id=rid(), complaint_id=complaint.complaint_id,
                                                                outcome=K.APPEAL_OUTCOME_UPHELD, appeal_reference="26-1"))
    # April's payments: Copenhagen's provider pays A, B and H; Aarhus's is not paid yet.
    run(backoffice, "2026-04")
    pay_all(hub.as_("t-provider-a"))
    # A repayment decision on A claims 30.000 øre back.
    repay(backoffice, p["A"][0].case_id, 30_000, approver=caseworker)
    disp.drain()
    return p


# (A figure that is 0 is left out: the median of 0 and 10 days is 0.)
MARCH_101 = dict(applications_received=5, decided=2, granted=2, withdrawn=1, processing_days_p90=10, decided_within_deadline=2, decided_automatically=1, hearings_held=1,
                 complaints_received=1,
                 backlog_total=2, backlog=zero_backlog(INFORMING=1, DRAFT_PENDING_APPROVAL=1))
# B's grant is the official calculator's 560 kr a month (tests/test_straight_through.py).
APRIL_101 = dict(applications_received=1, decided=1, granted=1, processing_days_median=68, processing_days_p90=68,
                 complaints_reconsidered=1, appeals_decided=1, appeals_upheld=1,
                 paid_ore=125_000 + 56_000 + 125_000, claims_raised_ore=30_000, backlog_total=2,
                 backlog=zero_backlog(INFORMING=1, DRAFT_PENDING_APPROVAL=1))


def test_each_figure_is_what_the_population_gives(hub, population):
    manager = hub.as_("t-manager-101")
    got = ask(manager)
    assert (got.municipality_code, got.benefit_code, got.as_of_date) == ("101", BOLIG, "2026-04-10")
    march, april = got.months
    assert (march.month, april.month) == ("2026-03", "2026-04")
    assert counts(march) == MARCH_101
    assert (march.share_within_deadline, march.share_automatic) == (1.0, 0.5)
    assert counts(april) == APRIL_101
    assert (april.share_within_deadline, april.share_automatic) == (0.0, 0.0)
    # The range: sums, processing days over all three decisions (0, 10, 68), the backlog at its end.
    total = counts(got.total)
    assert total["applications_received"] == 6 and total["decided"] == 3 and total["decided_within_deadline"] == 2
    assert (total["processing_days_median"], total["processing_days_p90"]) == (10, 68)
    assert total["paid_ore"] == 306_000 and total["backlog_total"] == 2
    assert got.total.share_within_deadline == pytest.approx(2 / 3)


def test_national_and_all_benefit_figures(hub, population):
    manager = hub.as_("t-manager-101")
    national = ask(manager, municipality="")
    march = counts(national.months[0])
    # Aarhus's grant joins Copenhagen's in the national figures; its April was not paid.
    assert (march["applications_received"], march["decided"], march["granted"]) == (6, 3, 3)
    assert counts(national.months[1])["paid_ore"] == 306_000
    every = counts(ask(manager, benefit="").months[0])
    assert every["applications_received"] == 6 and every["backlog"] == zero_backlog(
        CREATED=1, INFORMING=1, DRAFT_PENDING_APPROVAL=1)
    pension = counts(ask(manager, benefit="FOLKEPENSION").months[0])
    assert pension["applications_received"] == 1 and pension["backlog_total"] == 1 and "decided" not in pension


def test_figures_as_they_stood_at_a_past_day(hub, population):
    manager = hub.as_("t-manager-101")
    end_of_march = ask(manager, as_of="2026-03-31")
    assert end_of_march.as_of_date == "2026-03-31" and [m.month for m in end_of_march.months] == ["2026-03"]
    assert counts(end_of_march.months[0]) == MARCH_101
    assert end_of_march.total.paid_ore == 0 and end_of_march.total.appeals_decided == 0
    before = ask(manager, as_of="2026-03-01")
    assert counts(before.months[0]) == {"backlog": zero_backlog()}


def test_the_same_answer_folded_or_not_and_after_a_rebuild_from_the_event_log(hub, population):
    manager = hub.as_("t-manager-101")
    questions = [dict(), dict(municipality=""), dict(benefit=""), dict(as_of="2026-03-31")]
    unfolded = [ask(manager, **q) for q in questions]
    store = Store(hub.engine, hub.engine)
    assert service.fold_all(store.unit, SystemClock()) > 0
    assert [ask(manager, **q) for q in questions] == unfolded
    # Folded in small pieces, and again from the whole log.
    service.rebuild(store.unit, SystemClock(), limit=7)
    assert [ask(manager, **q) for q in questions] == unfolded


def test_a_fold_halfway_and_events_after_it_add_up(hub, backoffice, caseworker):
    """The totals hold part of the log, the answer folds the rest itself."""
    manager = hub.as_("t-manager-101")
    store = Store(hub.engine, hub.engine)
    granted(backoffice)
    service.fold_all(store.unit, SystemClock())
    granted(backoffice)
    backoffice.CreateCase(create_req())
    march = ask(manager, last="2026-03").months[0]
    assert (march.applications_received, march.decided, march.backlog_total) == (3, 2, 1)


def test_each_municipality_sees_its_own_and_the_national_figures_never_anothers(hub, backoffice, population):
    aarhus = hub.as_("t-cw-751")
    err = rpc_error(ask, aarhus, "101")
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and details(err)[1].reason == "MUNICIPALITY_OUT_OF_SCOPE"
    assert counts(ask(aarhus, "751").months[0])["decided"] == 1
    assert counts(ask(aarhus, "").months[0])["decided"] == 3
    # A client limited to housing benefit sees it alone, also under "every benefit".
    limited = hub.as_("t-cw-101-bolig")
    assert counts(ask(limited, benefit="").months[0])["applications_received"] == 5
    err = rpc_error(ask, limited, "101", "FOLKEPENSION")
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    # Operators and the back office see every municipality; other roles none.
    assert counts(ask(hub.as_("t-operator"), "751").months[0])["decided"] == 1
    for token in ("t-economy-101", "t-bs-101", "t-portal", "t-vendor"):
        assert rpc_error(ask, hub.as_(token)).code() == grpc.StatusCode.PERMISSION_DENIED


def test_bad_questions_are_refused_with_the_field(hub, backoffice):
    manager = hub.as_("t-manager-101")
    cases = [(dict(first="2026-13"), "from_month"), (dict(last="april"), "to_month"),
             (dict(first="2026-05", last="2026-04"), "to_month"), (dict(first="2010-01", last="2026-04"), "to_month"),
             (dict(as_of="2026-02-30"), "as_of_date"), (dict(as_of="2027-01-01"), "as_of_date"),
             (dict(municipality="1O1"), "municipality_code")]
    for q, field in cases:
        err = rpc_error(lambda: ask(manager, **q))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in details(err)[0], (q, details(err))
    err = rpc_error(lambda: ask(manager, benefit="NO_SUCH"))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_hubctl_prints_the_figures_as_json_and_as_a_table(hub, population, capsys):
    import json

    from clients.cli.hubctl import main
    base = ["--address", hub.address, "--token", "t-manager-101", "stats", "--municipality", "101",
            "--benefit", BOLIG, "--from", "2026-03", "--to", "2026-04"]
    assert main(base) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [m["applications_received"] for m in shown["months"]] == ["5", "1"]
    assert main(base + ["--table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "101, BOLIGSTOETTE, as of 2026-04-10"
    assert lines[1].split()[:3] == ["month", "received", "decided"]
    assert lines[2].split()[:3] == ["2026-03", "5", "2"] and "50 %" in lines[2]
    assert lines[-1].split()[:3] == ["total", "6", "3"] and "3.060" in lines[-1]
    assert main(["--address", hub.address, "--token", "t-cw-751", "stats", "--municipality", "101",
                 "--from", "2026-03", "--to", "2026-04"]) != 0
    assert "PERMISSION_DENIED" in capsys.readouterr().err
