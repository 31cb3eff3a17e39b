"""Repayment is a decision (issue 27): every claim on a citizen comes from a decision of
the authority, heard and approved like any adverse one, whose letter says what is to be
paid back, for which months and how; what the economy system and the citizen receive."""
from __future__ import annotations

import json

import grpc
from google.type import date_pb2

from hub.v1 import cases_pb2, decisions_pb2 as D, payments_pb2 as P
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import create_req, details, draft_req, info_req, period, repay, repayment_req, rid, rpc_error, table_counts
from tests.test_payments import _payments_clock, by_period, claims, granted, orders, pay_all, run  # noqa: F401 (the clock)
from tests.test_straight_through import letters


def economy_lines(drops) -> list[dict]:
    return [json.loads(x) for f in sorted((drops / "economy").rglob("*.jsonl")) for x in f.read_text().splitlines()]


def _paid(hub, backoffice, months="2026-05", amount=100_000):
    """A granted case whose months up to `months` are paid."""
    case, _ = granted(backoffice, amount)
    run(backoffice, months)
    pay_all(hub.as_("t-provider-a"))
    return case


def test_a_repayment_decision_is_heard_approved_sent_posted_and_becomes_a_claim(hub, backoffice, caseworker, clock,
                                                                                tmp_path):
    case = _paid(hub, backoffice)
    # Resting on register data the citizen has not seen: a hearing first, as for any adverse draft.
    fact = backoffice.AddInformation(info_req(case.case_id, kind="income.annual", value=420_000.0)).item
    r = backoffice.SubmitDraftDecision(repayment_req(case.case_id, 150_000, (2026, 4, 1), (2026, 5, 31), offset=True,
                                                     decisive_fact_ids=[fact.item_id]))
    assert (r.hearing_required, r.approved_automatically) == (True, False)
    assert r.decision.outcome == D.OUTCOME_REPAYMENT and r.decision.status == D.DECISION_STATUS_PENDING_APPROVAL
    assert (r.decision.repayment.amount_oere, r.decision.repayment.offset_allowed) == (150_000, True)
    assert claims(backoffice, case.case_id) == []          # nothing is claimed before the decision is made
    approve = D.ApproveDecisionRequest(request_id=rid(), decision_id=r.decision.decision_id)
    err = rpc_error(caseworker.ApproveDecision, approve)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    backoffice.StartHearing(D.StartHearingRequest(request_id=rid(), decision_id=r.decision.decision_id))
    clock.advance(days=15)                                   # the hearing deadline passes
    decision = caseworker.ApproveDecision(D.ApproveDecisionRequest(request_id=rid(),
                                                                   decision_id=r.decision.decision_id))
    assert decision.status == D.DECISION_STATUS_APPROVED and decision.complaint_guidance
    [claim] = claims(backoffice, case.case_id)
    assert (claim.origin, claim.decision_id, claim.amount_oere, claim.offset_allowed, claim.status) == \
        (P.CLAIM_ORIGIN_REPAYMENT_DECISION, decision.decision_id, 150_000, True, P.CLAIM_STATUS_OPEN)
    # The decision says it will be offset: the next payment withholds it.
    run(backoffice, "2026-06")
    june = by_period(orders(backoffice, case.case_id))["2026-06"]
    assert (june.amount_oere, june.offset_oere, june.net_amount_oere) == (100_000, 100_000, 0)

    drops = tmp_path / "drops"
    dispatcher(hub.engine, clock, file_adapters(drops)).drain()
    [heard] = [t for t in letters(drops) if t.startswith("Partshøring")]
    assert "Du skal betale boligstøtte tilbage.\n\nDet drejer sig om 1.500,00 kr. for perioden 1. april 2026" in heard
    [text] = [t for t in letters(drops) if t.startswith("Afgørelse") and "tilbage" in t]
    assert "Du skal betale boligstøtte tilbage." in text
    assert "Du har fået 1.500,00 kr. for meget udbetalt for perioden 1. april 2026 til 31. maj 2026" in text
    assert "modregnet i dine kommende udbetalinger af boligstøtte" in text
    assert "Lov om individuel boligstøtte § 47" in text and "Klagevejledning" in text
    postings = [p for p in economy_lines(drops) if p["case_id"] == case.case_id]
    [posted] = [p for p in postings if p["kind"] == "decision_posting" and p["decision_id"] == decision.decision_id]
    assert (posted["outcome"], posted["repayment_oere"], posted["repayment_offset_allowed"]) == \
        ("REPAYMENT", 150_000, True)
    [created] = [p for p in postings if p["kind"] == "claim_changed" and p["change"] == "created"]
    assert (created["claim_id"], created["decision_id"], created["origin"], created["amount_oere"]) == \
        (claim.claim_id, decision.decision_id, "REPAYMENT_DECISION", 150_000)


def test_a_lower_grant_for_months_paid_states_the_repayment_and_its_offsetting(hub, backoffice, clock, tmp_path):
    case = _paid(hub, backoffice)                           # April and May paid, 100,000 each
    told = backoffice.AddInformation(info_req(case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN)).item
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(60_000, (2026, 4, 1))],
                                                 decisive_fact_ids=[told.item_id], offset_repayment=True,
                                                 reasoning="Højere indkomst fra april.",
                                                 legal_basis="Lov om individuel boligstøtte § 8"))
    assert r.approved_automatically
    got = claims(backoffice, case.case_id)
    assert sorted(c.period for c in got) == ["2026-04", "2026-05"] and all(c.offset_allowed for c in got)
    assert {c.origin for c in got} == {P.CLAIM_ORIGIN_SUPERSEDING_DECISION}
    # The decision states what its claims add up to.
    decision = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).decisions[-1]
    rep = decision.repayment
    assert rep.amount_oere == sum(c.amount_oere for c in got) == 80_000
    assert (rep.period_start, rep.period_end, rep.offset_allowed) == \
        (date_pb2.Date(year=2026, month=4, day=1), date_pb2.Date(year=2026, month=5, day=31), True)
    drops = tmp_path / "drops"
    dispatcher(hub.engine, clock, file_adapters(drops)).drain()
    [text] = [t for t in letters(drops) if "Højere indkomst" in t]
    assert "Du har fået 800,00 kr. for meget udbetalt for perioden 1. april 2026 til 31. maj 2026" in text
    assert "modregnet" in text


def test_without_offsetting_the_letter_says_the_claim_is_collected(hub, backoffice, clock, tmp_path):
    case = _paid(hub, backoffice)
    repay(backoffice, case.case_id, 40_000)
    drops = tmp_path / "drops"
    dispatcher(hub.engine, clock, file_adapters(drops)).drain()
    [text] = [t for t in letters(drops) if t.startswith("Afgørelse") and "tilbage" in t]
    assert "Du har fået 400,00 kr. for meget udbetalt for perioden 1. april 2026 til 30. april 2026" in text
    assert "Du får en særskilt opkrævning på beløbet." in text and "modregnet" not in text


def test_a_repayment_of_more_than_was_paid_and_not_yet_claimed_is_refused(hub, backoffice):
    case = _paid(hub, backoffice)                           # 200,000 paid for April and May
    counts = table_counts(hub.engine)
    err = rpc_error(backoffice.SubmitDraftDecision, repayment_req(case.case_id, 200_001, (2026, 4, 1), (2026, 5, 31)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = details(err)[1]
    assert (info.reason, info.metadata["repayable_oere"]) == ("REPAYMENT_MORE_THAN_PAID", "200000")
    # Only what was paid for the months named counts: April alone is 100,000.
    err = rpc_error(backoffice.SubmitDraftDecision, repayment_req(case.case_id, 100_001))
    assert details(err)[1].metadata["repayable_oere"] == "100000"
    assert table_counts(hub.engine) == counts
    repay(backoffice, case.case_id, 70_000, (2026, 4, 1), (2026, 5, 31))
    # What is claimed already is not claimed twice.
    err = rpc_error(backoffice.SubmitDraftDecision, repayment_req(case.case_id, 130_001, (2026, 4, 1), (2026, 5, 31)))
    assert details(err)[1].metadata["repayable_oere"] == "130000"


def test_a_repayment_on_a_case_not_decided_is_refused(hub, backoffice):
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    err = rpc_error(backoffice.SubmitDraftDecision, repayment_req(case.case_id, 1_000))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(err)[1].reason == "REPAYMENT_NEEDS_DECIDED_CASE"


def test_a_malformed_repayment_draft_is_invalid_argument_naming_the_field(hub, backoffice):
    case = _paid(hub, backoffice, "2026-04")
    counts = table_counts(hub.engine)

    def fields(req) -> set[str]:
        err = rpc_error(backoffice.SubmitDraftDecision, req)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        return set(details(err)[0])

    assert "repayment.amount_oere" in fields(repayment_req(case.case_id, 0))
    assert "repayment.period_end" in fields(repayment_req(case.case_id, 1_000, (2026, 5, 1), (2026, 4, 30)))
    assert "amounts" in fields(repayment_req(case.case_id, 1_000, amounts=[period(1_000)]))
    assert "repayment" in fields(draft_req(case.case_id, outcome=D.OUTCOME_REPAYMENT, amounts=[]))
    with_grant = draft_req(case.case_id, amounts=[period(1_000)])
    with_grant.repayment.amount_oere = 1_000
    assert "repayment" in fields(with_grant)
    assert "offset_repayment" in fields(repayment_req(case.case_id, 1_000, offset_repayment=True))
    assert "reasoning" in fields(repayment_req(case.case_id, 1_000, reasoning=""))  # adverse: reasons required
    assert table_counts(hub.engine) == counts


def test_a_repayment_is_changed_by_a_new_draft_not_by_amending_its_amounts(hub, backoffice, caseworker):
    case = _paid(hub, backoffice, "2026-04")
    fact = backoffice.AddInformation(info_req(case.case_id, kind="income.annual", value=420_000.0)).item
    r = backoffice.SubmitDraftDecision(repayment_req(case.case_id, 10_000, decisive_fact_ids=[fact.item_id],
                                                     hearing_exception=D.HEARING_EXCEPTION_FACTS_KNOWN_TO_CITIZEN,
                                                     hearing_exception_note="Borgeren har selv oplyst indkomsten."))
    assert not r.approved_automatically
    amend = D.ApproveDecisionRequest(request_id=rid(), decision_id=r.decision.decision_id, note="mere",
                                     amendment=D.Amendment(amounts=[period(5_000)]))
    err = rpc_error(caseworker.ApproveDecision, amend)
    assert (err.code(), details(err)[1].reason) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                    "AMENDMENT_CONTRADICTS_OUTCOME")
    approved = caseworker.ApproveDecision(D.ApproveDecisionRequest(request_id=rid(),
                                                                   decision_id=r.decision.decision_id))
    assert approved.repayment.amount_oere == 10_000


def test_there_is_no_claim_by_hand(hub, backoffice):
    """CreateClaim has left the contract: a call to it is UNIMPLEMENTED."""
    assert "CreateClaim" not in {m.name for m in P.DESCRIPTOR.services_by_name["PaymentService"].methods}
    call = hub.channel.unary_unary("/hub.v1.PaymentService/CreateClaim", request_serializer=lambda b: b,
                                   response_deserializer=lambda b: b)
    try:
        call(b"", metadata=backoffice.metadata, timeout=5)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    else:
        raise AssertionError("CreateClaim answered")


def test_a_repayment_whose_payment_came_back_before_approval_is_refused_at_approval(hub, backoffice, caseworker):
    from tests.test_payments import REJECTED, settle
    provider = hub.as_("t-provider-a")
    case, _ = granted(backoffice, 100_000)
    run(backoffice, "2026-04")
    batch = provider.FetchPaymentBatch(P.FetchPaymentBatchRequest())
    provider.AcknowledgePaymentBatch(P.AcknowledgePaymentBatchRequest(batch_id=batch.batch_id))   # sent: 100,000
    r = backoffice.SubmitDraftDecision(repayment_req(
        case.case_id, 100_000, hearing_exception=D.HEARING_EXCEPTION_FACTS_KNOWN_TO_CITIZEN,
        hearing_exception_note="Borgeren har selv oplyst indkomsten."))
    assert r.decision.status == D.DECISION_STATUS_PENDING_APPROVAL
    settle(provider, batch, REJECTED, reason="closed account")       # the money never reached the citizen
    err = rpc_error(caseworker.ApproveDecision, D.ApproveDecisionRequest(request_id=rid(),
                                                                         decision_id=r.decision.decision_id))
    info = details(err)[1]
    assert (err.code(), info.reason, info.metadata["repayable_oere"]) == \
        (grpc.StatusCode.FAILED_PRECONDITION, "REPAYMENT_MORE_THAN_PAID", "0")
    assert claims(backoffice, case.case_id) == []
