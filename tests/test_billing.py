"""Subscription billing (BillingService) over gRPC: a population built through the API with
known answers (cases decided in the quarter and outside it, at the quarter's edge in
Copenhagen time, withdrawn, still pending, a second decision on a decided case), the
lines and amounts, what each municipality's economy system receives (the file drop and
the webhook, after the dispatcher delivered), once per quarter, a quarter not ended, bad
input, roles and data limits; and the calculation's properties (hypothesis)."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import grpc
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain import billing as bl
from hub.domain import municipalities
from hub.ports import ECONOMY
from hub.store import tables
from hub.store.seeds import cost_share_example
from hub.v1 import billing_pb2 as B
from hub.v1 import cases_pb2, common_pb2, decisions_pb2
from tests.dispatch_support import Webhook, dispatcher, file_adapters
from tests.helpers import create_req, details, draft_req, info_req, period, rid, rpc_error
from tests.test_payments import change

BASE = 2_500_000                                    # the seeded model's base fee, per quarter
PRICE = {"BOLIGSTOETTE": 45_000, "FOLKEPENSION": 60_000}
EVERYONE = len(municipalities.all_municipalities())  # 98: each pays the base fee


def _to(clock, when: dt.datetime) -> None:
    assert clock.now() <= when
    clock.advance(seconds=(when - clock.now()).total_seconds())


def _utc(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=dt.timezone.utc)


def _case(backoffice, municipality, benefit="BOLIGSTOETTE"):
    case = backoffice.CreateCase(create_req(municipality=municipality, benefit=benefit,
                                            channel=common_pb2.CHANNEL_IN_PERSON))
    backoffice.AddInformation(info_req(case.case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN))
    return case


def _decide(hub, backoffice, case, outcome=decisions_pb2.OUTCOME_GRANTED):
    """The case's draft, approved (automatically, or by the municipality's caseworker)."""
    amounts = [period(125_000)] if outcome == decisions_pb2.OUTCOME_GRANTED else []
    r = backoffice.SubmitDraftDecision(draft_req(case.case_id, outcome=outcome, amounts=amounts))
    if not r.approved_automatically:
        hub.as_(f"t-cw-{case.municipality_code}").ApproveDecision(
            decisions_pb2.ApproveDecisionRequest(request_id=rid(), decision_id=r.decision.decision_id))
    return case


def _decided(hub, backoffice, municipality, benefit="BOLIGSTOETTE", **kw):
    return _decide(hub, backoffice, _case(backoffice, municipality, benefit), **kw)


def _population(hub, backoffice, clock) -> dict:
    """Q1 2026 (the clock starts 2 March 2026) and Q2. Known answers:
    Q1: 101 BOLIGSTOETTE 3 (two, and one at 23:59 on 31 March in Copenhagen), FOLKEPENSION 1;
        751 BOLIGSTOETTE 2 (a grant and a refusal); 147 none (one withdrawn, one pending).
    Q2: 751 BOLIGSTOETTE 2 (one at 00:01 on 1 April in Copenhagen, one received in Q1);
        147 BOLIGSTOETTE 1; 101 none (a second decision on a case decided in Q1 is not counted)."""
    first = _decided(hub, backoffice, "101")
    _decided(hub, backoffice, "101")
    _decided(hub, backoffice, "101", "FOLKEPENSION")
    _decided(hub, backoffice, "751")
    _decided(hub, backoffice, "751", outcome=decisions_pb2.OUTCOME_REFUSED)
    withdrawn = _case(backoffice, "147")
    backoffice.WithdrawCase(cases_pb2.WithdrawCaseRequest(request_id=rid(), case_id=withdrawn.case_id))
    pending = _case(backoffice, "147")
    r = backoffice.SubmitDraftDecision(draft_req(pending.case_id, points=[("rent", "reasonable")]))
    assert not r.approved_automatically
    late = _case(backoffice, "751")                                   # received in Q1, decided in Q2
    # 31 March 2026 is summer time in Copenhagen (UTC+2): Q2 begins at 22:00 UTC.
    _to(clock, _utc(2026, 3, 31, 21, 59))
    _decided(hub, backoffice, "101")                                  # 23:59 in Copenhagen: Q1
    _to(clock, _utc(2026, 3, 31, 22, 1))
    _decided(hub, backoffice, "751")                                  # 00:01 on 1 April: Q2
    _to(clock, _utc(2026, 5, 4, 9))
    change(backoffice, first, 100_000, (2026, 6, 1))                  # a second decision: not counted again
    _decide(hub, backoffice, late)
    _decided(hub, backoffice, "147")
    return dict(first=first.case_id)


def _lines(statement) -> list[tuple]:
    return [(B.BillingLineKind.Name(x.kind).removeprefix("BILLING_LINE_KIND_"), x.benefit_code, x.cases,
             x.unit_price_oere, x.amount_oere) for x in statement.lines]


def _base() -> tuple:
    return ("BASE_FEE", "", 0, BASE, BASE)


def _cases(benefit: str, n: int) -> tuple:
    return ("DECIDED_CASES", benefit, n, PRICE[benefit], n * PRICE[benefit])


def _run(client, quarter, request_id=None) -> B.BillingRun:
    return client.RunBilling(B.RunBillingRequest(request_id=request_id or rid(), quarter=quarter))


def _statement(client, quarter, municipality) -> B.BillingStatement:
    return client.GetBillingStatement(B.GetBillingStatementRequest(quarter=quarter, municipality_code=municipality))


def _invoices(drops) -> dict[str, list[dict]]:
    """What the economy systems received: the invoice lines per municipality (file drop)."""
    out: dict[str, list[dict]] = {}
    for f in sorted((drops / "economy").rglob("*.jsonl")):
        for raw in f.read_text().splitlines():
            line = json.loads(raw)
            if line["kind"] == "billing_invoice":
                out.setdefault(line["municipality_code"], []).append(line)
    return out


def _received(lines: list[dict]) -> list[tuple]:
    return [(x["line_kind"], x["benefit_code"] or "", x["cases"], x["unit_price_oere"], x["amount_oere"])
            for x in lines]


def _outbox_count(engine) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(tables.outbox)
                         .where(tables.outbox.c.destination == ECONOMY)).scalar_one()


def test_a_quarter_is_billed_once_by_its_decided_cases_and_each_economy_system_gets_its_invoice(
        hub, backoffice, clock, tmp_path):
    _population(hub, backoffice, clock)
    operator = hub.as_("t-operator")
    # Before the quarter is billed: a preview of it so far, flagged as not billed.
    preview = _statement(hub.as_("t-manager-751"), "2026-Q2", "751")
    assert (preview.billed, preview.run_id) == (False, "")
    assert _lines(preview) == [_base(), _cases("BOLIGSTOETTE", 2)]
    assert preview.as_of_time.ToDatetime(dt.timezone.utc) == clock.now()
    # Q2 has not ended: not billed.
    err = rpc_error(_run, operator, "2026-Q2")
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and details(err)[1].reason == "QUARTER_NOT_ENDED"

    before = _outbox_count(hub.engine)
    request_id = rid()
    run = _run(backoffice, "2026-Q1", request_id)
    assert (run.quarter, run.model, run.price_model_version, run.ledger_account) == (
        "2026-Q1", B.BILLING_MODEL_PER_CASE, 1, "6.45.53")
    assert run.municipalities == EVERYONE and run.cases == 6
    assert run.total_oere == EVERYONE * BASE + 3 * 45_000 + 60_000 + 2 * 45_000
    totals = {t.municipality_code: (t.cases, t.amount_oere) for t in run.totals}
    assert len(totals) == EVERYONE == len(run.totals)                # each municipality once
    assert totals["101"] == (4, BASE + 3 * 45_000 + 60_000)
    assert totals["751"] == (2, BASE + 2 * 45_000)
    assert totals["147"] == (0, BASE)
    assert _outbox_count(hub.engine) == before + EVERYONE              # one invoice each, in the run's transaction

    # Once per quarter: the same request id answers as the first time; another is refused.
    again = _run(backoffice, "2026-Q1", request_id)
    assert again == run
    for client in (backoffice, operator):
        err = rpc_error(_run, client, "2026-Q1")
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (details(err)[1].reason, details(err)[1].metadata["run_id"]) == ("QUARTER_ALREADY_BILLED", run.run_id)
    assert _outbox_count(hub.engine) == before + EVERYONE

    # The statements, as billed.
    s101 = _statement(hub.as_("t-manager-101"), "2026-Q1", "101")
    assert (s101.billed, s101.run_id, s101.total_oere, s101.cases) == (True, run.run_id, totals["101"][1], 4)
    assert _lines(s101) == [_base(), _cases("BOLIGSTOETTE", 3), _cases("FOLKEPENSION", 1)]
    assert (s101.period_start.month, s101.period_end.month, s101.period_end.day) == (1, 3, 31)
    assert _lines(_statement(hub.as_("t-economy-751"), "2026-Q1", "751")) == [_base(), _cases("BOLIGSTOETTE", 2)]
    assert _lines(_statement(operator, "2026-Q1", "147")) == [_base()]

    # What each economy system receives, after the dispatcher delivered.
    dispatcher(hub.engine, clock, file_adapters(tmp_path)).drain()
    received = _invoices(tmp_path)
    assert set(received) == set(municipalities.all_municipalities())
    mine = received["101"]
    assert _received(mine) == _lines(s101)
    assert {(x["message_id"], x["invoice_id"], x["run_id"], x["quarter"], x["period_start"], x["period_end"],
             x["model"], x["price_model_version"], x["invoice_total_oere"], x["ledger_account"], x["case_id"], x["cpr"],
             x["lines"]) for x in mine} == {
        ("billing/2026-Q1/101/invoice", "2026-Q1/101", run.run_id, "2026-Q1", "2026-01-01", "2026-03-31", "PER_CASE",
         1, totals["101"][1], "6.45.53", None, None, 3)}
    assert _received(received["751"]) == [_base(), _cases("BOLIGSTOETTE", 2)]
    assert _received(received["147"]) == [_base()]
    assert sum(x["amount_oere"] for ls in received.values() for x in ls) == run.total_oere

    # The next quarter, once it has ended: the second decision on a Q1 case counts nowhere.
    _to(clock, _utc(2026, 7, 2, 9))
    q2 = _run(operator, "2026-Q2")
    assert q2.cases == 3
    totals = {t.municipality_code: (t.cases, t.amount_oere) for t in q2.totals}
    assert (totals["101"], totals["751"], totals["147"]) == ((0, BASE), (2, BASE + 90_000), (1, BASE + 45_000))
    dispatcher(hub.engine, clock, file_adapters(tmp_path)).drain()
    q2_lines = [x for x in _invoices(tmp_path)["751"] if x["quarter"] == "2026-Q2"]
    assert _received(q2_lines) == [_base(), _cases("BOLIGSTOETTE", 2)]
    assert Counter(x["message_id"] for ls in _invoices(tmp_path).values() for x in ls if x["line"] == 1).most_common(
        1)[0][1] == 1                                                  # no invoice written twice


def test_the_invoice_reaches_a_webhook_economy_system(hub, backoffice, clock):
    _decided(hub, backoffice, "101")
    _to(clock, _utc(2026, 4, 1, 8))
    run = _run(backoffice, "2026-Q1")
    hook = Webhook()
    try:
        d = dispatcher(hub.engine, clock, {ECONOMY: hook.adapter(timeout=10)})
        d.drain()
        for _ in range(3):   # (a delivery the loaded machine timed out is retried after its backoff)
            if len(hook.order) >= EVERYONE + 1:
                break
            clock.advance(hours=2)
            d.drain()
        bodies = {k: hook.accepted[k] for k in hook.order if k.startswith("billing/")}
    finally:
        hook.stop()
    assert len(bodies) == EVERYONE
    body = bodies["billing/2026-Q1/101/invoice"]
    assert (body["kind"], body["message_id"]) == ("billing_invoice", "billing/2026-Q1/101/invoice")
    assert _received(body["postings"]) == [_base(), _cases("BOLIGSTOETTE", 1)]
    assert {(p["posting_id"], p["invoice_total_oere"], p["run_id"]) for p in body["postings"]} == {
        ("billing/2026-Q1/101/invoice#1", BASE + 45_000, run.run_id),
        ("billing/2026-Q1/101/invoice#2", BASE + 45_000, run.run_id)}


def test_a_cost_share_model_shares_each_benefits_cost_exactly(hub, backoffice, clock, tmp_path):
    """The other model, published as a version in force from Q3 2026: each benefit's cost
    shared by decided cases, in øre that add up to it (1,000 øre over three equal shares:
    334, 333, 333, the lower code first); a benefit with no decided case is not billed."""
    model = cost_share_example()
    model = dict(model, effective_from="2026-07-01",
                 benefits=dict(model["benefits"], BOLIGSTOETTE=dict(model["benefits"]["BOLIGSTOETTE"], value=1_000)))
    with hub.store.unit() as uow:
        uow.billing.add_price_model(model, "test", clock.now())
        uow.commit()
    _to(clock, _utc(2026, 7, 2, 9))
    for m in ("751", "147", "101"):
        _decided(hub, backoffice, m)
    _to(clock, _utc(2026, 10, 1, 8))
    run = _run(backoffice, "2026-Q3")
    assert (run.model, run.price_model_version) == (B.BILLING_MODEL_COST_SHARE, 2)
    fee = model["base_fee"]["value"]
    shares = {m: _statement(backoffice, "2026-Q3", m) for m in ("101", "147", "751")}
    assert {m: [(B.BillingLineKind.Name(x.kind), x.cases, x.amount_oere, x.national_cases, x.cost_pool_oere)
                for x in s.lines] for m, s in shares.items()} == {
        m: [("BILLING_LINE_KIND_BASE_FEE", 0, fee, 0, 0), ("BILLING_LINE_KIND_COST_SHARE", 1, share, 3, 1_000)]
        for m, share in (("101", 334), ("147", 333), ("751", 333))}
    unallocated = {u.benefit_code: u.amount_oere for u in run.unallocated}
    assert unallocated == {b: f["value"] for b, f in model["benefits"].items() if b != "BOLIGSTOETTE"}
    assert run.total_oere == EVERYONE * fee + 1_000
    dispatcher(hub.engine, clock, file_adapters(tmp_path)).drain()
    received = _invoices(tmp_path)
    assert [(x["line_kind"], x["amount_oere"], x["national_cases"], x["cost_pool_oere"], x["model"])
            for x in received["147"]] == [("BASE_FEE", fee, 0, 0, "COST_SHARE"), ("COST_SHARE", 333, 3, 1_000,
                                                                                  "COST_SHARE")]


def test_runs_at_once_bill_the_quarter_once(hub, backoffice, clock):
    """Several runs of one quarter at the same time, by two clients, each with its own
    request id: one bills it, the others are told it is billed; one invoice each."""
    from concurrent.futures import ThreadPoolExecutor
    _decided(hub, backoffice, "101")
    _to(clock, _utc(2026, 4, 1, 8))
    clients = [backoffice, hub.as_("t-operator")] * 3
    before = _outbox_count(hub.engine)

    def attempt(client):
        try:
            return _run(client, "2026-Q1").run_id
        except grpc.RpcError as err:
            return err.code(), details(err)[1].reason

    with ThreadPoolExecutor(len(clients)) as pool:
        outcomes = list(pool.map(attempt, clients))
    billed = [o for o in outcomes if isinstance(o, str)]
    assert len(billed) == 1
    assert [o for o in outcomes if not isinstance(o, str)] == [
        (grpc.StatusCode.FAILED_PRECONDITION, "QUARTER_ALREADY_BILLED")] * (len(clients) - 1)
    assert _outbox_count(hub.engine) == before + EVERYONE
    assert _statement(backoffice, "2026-Q1", "101").run_id == billed[0]


def test_bad_input_is_refused_with_field_violations(hub, backoffice):
    for quarter in ("", "2026-Q5", "2026Q1", "2026-q1", "26-Q1", "0999-Q1", "3000-Q1", "2026-Q1 ", "２０２６-Q1"):
        err = rpc_error(_run, backoffice, quarter)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, quarter
        assert set(details(err)[0]) == {"quarter"}
        err = rpc_error(_statement, backoffice, quarter, "101")
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and set(details(err)[0]) == {"quarter"}
    err = rpc_error(backoffice.RunBilling, B.RunBillingRequest(quarter="2025-Q4"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and set(details(err)[0]) == {"request_id"}
    for code in ("", "999", "10"):
        err = rpc_error(_statement, backoffice, "2025-Q4", code)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and set(details(err)[0]) == {"municipality_code"}
    # A quarter that has not begun has no statement; one before any price model cannot be billed.
    err = rpc_error(_statement, backoffice, "2026-Q2", "101")
    assert (err.code(), details(err)[1].reason) == (grpc.StatusCode.FAILED_PRECONDITION, "QUARTER_NOT_STARTED")
    err = rpc_error(_run, backoffice, "2024-Q4")
    assert (err.code(), details(err)[1].reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PRICE_MODEL_MISSING")


def test_roles_and_data_limits(hub, backoffice, clock):
    _decided(hub, backoffice, "751")
    _to(clock, _utc(2026, 4, 1, 8))
    # Billing covers every municipality: a back office for some of them may not run it.
    err = rpc_error(_run, hub.as_("t-backoffice-101"), "2026-Q1")
    assert (err.code(), details(err)[1].reason) == (grpc.StatusCode.PERMISSION_DENIED, "MUNICIPALITY_OUT_OF_SCOPE")
    for token in ("t-manager-101", "t-economy-101", "t-cw-101", "t-bs-101", "t-vendor", "t-portal", "t-rules-admin",
                  "t-provider-a"):
        err = rpc_error(_run, hub.as_(token), "2026-Q1")
        assert (err.code(), details(err)[1].reason) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_PERMITTED")
    _run(hub.as_("t-operator"), "2026-Q1")
    # A municipality sees its own statement, never another's.
    for token, mine, other in (("t-manager-101", "101", "751"), ("t-manager-751", "751", "101"),
                               ("t-economy-101", "101", "751"), ("t-economy-751", "751", "147")):
        assert _statement(hub.as_(token), "2026-Q1", mine).billed
        err = rpc_error(_statement, hub.as_(token), "2026-Q1", other)
        assert (err.code(), details(err)[1].reason) == (grpc.StatusCode.PERMISSION_DENIED,
                                                        "MUNICIPALITY_OUT_OF_SCOPE")
    assert _lines(_statement(hub.as_("t-manager-751"), "2026-Q1", "751")) == [_base(), _cases("BOLIGSTOETTE", 1)]
    for token in ("t-cw-101", "t-bs-101", "t-vendor", "t-portal", "t-rules-admin", "t-provider-a"):
        err = rpc_error(_statement, hub.as_(token), "2026-Q1", "101")
        assert (err.code(), details(err)[1].reason) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_PERMITTED")
    # A manager acts on no case.
    err = rpc_error(hub.as_("t-manager-101").CreateCase, create_req())
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


# ---- the calculation (hub.domain.billing), by its properties ---------------------------------

CODES = sorted(municipalities.all_municipalities())
BENEFITS = ["BOLIGSTOETTE", "FOLKEPENSION", "BOERNEBIDRAG"]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12), st.dictionaries(st.sampled_from(CODES), st.integers(0, 10**6), min_size=1)
       .filter(lambda w: sum(w.values()) > 0))
def test_largest_remainder_shares_add_up_to_the_total(total, weights):
    shares = bl.largest_remainder(total, weights)
    assert set(shares) == set(weights)
    assert sum(shares.values()) == total
    whole = sum(weights.values())
    for k, w in weights.items():
        assert abs(shares[k] * whole - total * w) < whole   # within 1 øre of the exact share
        assert w > 0 or shares[k] == 0


def _model(kind: bl.ModelKind, base: int, figures: dict[str, int]) -> bl.PriceModel:
    unit = bl.BENEFIT_UNIT[kind]
    return bl.PriceModel(1, dt.date(2026, 1, 1), kind, "", "", "", "6.45.53", "",
                         bl.Figure(base, bl.OERE_PER_QUARTER), {b: bl.Figure(v, unit) for b, v in figures.items()})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(bl.ModelKind)), st.integers(0, 10**7),
       st.fixed_dictionaries({b: st.integers(0, 10**11) for b in BENEFITS}),
       st.dictionaries(st.tuples(st.sampled_from(CODES[:12]), st.sampled_from(BENEFITS)), st.integers(0, 500)),
       st.lists(st.sampled_from(CODES[:20]), unique=True))
def test_every_municipality_is_billed_once_and_the_lines_add_up(kind, base, figures, counts, members):
    billing = bl.bill(_model(kind, base, figures), counts, members)
    codes = [s.municipality_code for s in billing.statements]
    assert len(codes) == len(set(codes))                              # no municipality billed twice
    decided = {m for (m, _), n in counts.items() if n}
    assert set(codes) == ((set(members) | decided) if base else decided)
    for s in billing.statements:
        assert len({(x.kind, x.benefit_code) for x in s.lines}) == len(s.lines)
        assert [x.amount_oere for x in s.lines if x.kind is bl.LineKind.BASE_FEE] == ([base] if base else [])
        assert s.total_oere == sum(x.amount_oere for x in s.lines)
    lines = [(s.municipality_code, x) for s in billing.statements for x in s.lines]
    for b in BENEFITS:
        mine = [x for _, x in lines if x.benefit_code == b]
        cases = sum(n for (_, bb), n in counts.items() if bb == b)
        assert sum(x.cases for x in mine) == cases
        if kind is bl.ModelKind.PER_CASE:
            assert sum(x.amount_oere for x in mine) == cases * figures[b]
        elif cases:                                                   # the cost, shared exactly
            assert sum(x.amount_oere for x in mine) == figures[b] and b not in billing.unallocated
        else:
            assert not mine and billing.unallocated.get(b, 0) == figures[b]
    assert billing.total_oere == sum(x.amount_oere for _, x in lines)


def test_a_benefit_without_a_price_is_not_billed_at_an_invented_one():
    model = _model(bl.ModelKind.PER_CASE, 0, {"BOLIGSTOETTE": 1})
    with pytest.raises(bl.FailedPrecondition) as err:
        bl.bill(model, {("101", "SU"): 2}, ["101"])
    assert err.value.reason == "PRICE_MISSING" and err.value.metadata["benefit_codes"] == "SU"


def test_quarters_follow_copenhagen_time():
    q = bl.Quarter.parse("2026-Q1")
    assert (q.first_day, q.last_day, str(q.following())) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31), "2026-Q2")
    assert q.ends_at == _utc(2026, 3, 31, 22)                         # summer time
    assert q.starts_at == _utc(2025, 12, 31, 23)                      # winter time
    assert bl.Quarter.parse("2026-Q4").last_day == dt.date(2026, 12, 31)
    assert bl.Quarter.parse("2999-Q4").ends_at.year == 3000
    assert [bl.Quarter.parse(t) for t in ("2026-Q0", "2026-Q5", "1899-Q4", "3000-Q1", "2026-Q1\n")] == [None] * 5


def test_the_seeded_price_model_says_where_each_figure_comes_from():
    from hub.store.seeds import price_model_files
    [seeded] = [bl.price_model_from_dict(d, version=1) for d in price_model_files()]
    assert seeded.kind is bl.ModelKind.PER_CASE and seeded.effective_from == dt.date(2025, 1, 1)
    assert seeded.base_fee.source and seeded.base_fee.note and seeded.ledger_account_source
    assert all(f.source and f.note for f in seeded.benefits.values())
    assert set(seeded.benefits) == {"FOLKEPENSION", "BOLIGSTOETTE", "BOERNEBIDRAG", "BARSELSDAGPENGE",
                                    "OEKONOMISK_FRIPLADS"}
    assert bl.price_model_from_dict(cost_share_example()).kind is bl.ModelKind.COST_SHARE
    with pytest.raises(ValueError, match="first day of a quarter"):
        bl.price_model_from_dict(dict(cost_share_example(), effective_from="2027-02-01"))


def test_hubctl_bills_a_quarter_and_shows_a_statement(hub, backoffice, clock, capsys):
    from clients.cli.hubctl import main

    def hubctl(token, *args):
        code = main(["--address", hub.address, "--token", token, *args])
        out = capsys.readouterr()
        return code, (json.loads(out.out) if code == 0 else out.err)

    _decided(hub, backoffice, "101")
    code, preview = hubctl("t-manager-101", "billing", "show", "--quarter", "2026-Q1", "--municipality", "101")
    assert code == 0 and preview["billed"] is False and preview["total_oere"] == str(BASE + 45_000)
    code, err = hubctl("t-operator", "billing", "run", "--quarter", "2026-Q1")
    assert code == 1 and "FAILED_PRECONDITION" in err and "QUARTER_NOT_ENDED" in err
    assert hubctl("t-operator", "billing", "run", "--quarter", "2026-Q5")[0] == 2     # a usage mistake
    _to(clock, _utc(2026, 4, 1, 8))
    code, run = hubctl("t-operator", "--request-id", "q1", "billing", "run", "--quarter", "2026-Q1")
    assert code == 0 and run["quarter"] == "2026-Q1" and run["municipalities"] == EVERYONE
    assert hubctl("t-operator", "--request-id", "q1", "billing", "run", "--quarter", "2026-Q1") == (0, run)
    code, shown = hubctl("t-manager-101", "billing", "show", "--quarter", "2026-Q1", "--municipality", "101")
    assert code == 0 and shown["billed"] is True and shown["run_id"] == run["run_id"]
    assert [(x["kind"], x.get("benefit_code", ""), x["amount_oere"]) for x in shown["lines"]] == [
        ("BILLING_LINE_KIND_BASE_FEE", "", str(BASE)), ("BILLING_LINE_KIND_DECIDED_CASES", "BOLIGSTOETTE", "45000")]
    code, err = hubctl("t-manager-101", "billing", "show", "--quarter", "2026-Q1", "--municipality", "751")
    assert code == 1 and "PERMISSION_DENIED" in err
