"""The IT control over the real parts: grants made by straight-through processing (the
CPR, rent and income register simulators on real sockets, the real clients), a control
run over a real gRPC channel that asks the registers a chunk of grants at a time,
findings for exactly the deviations planted and none for the clean grants, what the
municipality's control unit receives in its file drop, and the outcome of the physical
control: recorded once, closed for the unit, and a new draft decision (or the back
office) when the entitlement changed."""
from __future__ import annotations

import json
import types

import grpc
import pytest
import sqlalchemy as sa

from adapters.control_unit.file_drop import ControlUnitFileDrop
from adapters.cpr_register.client import CprRegisterClient
from adapters.cpr_register.simulator import Simulator as CprSimulator
from adapters.income_register.simulator import Simulator as IncomeSimulator
from adapters.rent_register.client import RentRegisterClient
from adapters.rent_register.simulator import Simulator as RentSimulator
from hub.domain import months
from hub.ports import CONTROL_UNIT, CPR_REGISTER, RENT_REGISTER
from hub.settings import Settings
from hub.store import tables
from hub.v1 import cases_pb2, common_pb2, control_pb2 as K, decisions_pb2, payments_pb2
from tests.conftest import RunningHub, new_cpr
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import details, rid, rpc_error
from tests.test_straight_through import STATEMENT, apply, income_month, stage

PERIOD = "2026-05"
WINDOW = ("2026-03", "2026-04", "2026-05")   # the income rule's three months up to the one controlled
NET = 2_500_000                               # 25.000 kr a month: the income the grants assumed


@pytest.fixture
def sims(clock):
    s = types.SimpleNamespace(cpr=CprSimulator(today=lambda: clock.now().date()).start_in_thread(),
                              rent=RentSimulator().start_in_thread(), income=IncomeSimulator().start_in_thread())
    yield s
    for sim in (s.cpr, s.rent, s.income):
        sim.stop()


@pytest.fixture
def chub(clean_db, clock, sims):
    """A hub whose control runs ask these simulators (as HUB_CPR_REGISTER_URL etc. say)."""
    settings = Settings(cpr_register_url=sims.cpr.url, rent_register_url=sims.rent.url,
                        income_register_url=sims.income.url)
    h = RunningHub(clean_db, clock, settings=settings)
    yield h
    h.stop()


@pytest.fixture
def drops(tmp_path):
    return tmp_path / "drops"


@pytest.fixture
def disp(chub, clock, drops, sims):
    adapters = file_adapters(drops, sims.income.url)
    adapters[CPR_REGISTER] = CprRegisterClient(sims.cpr.url, timeout=5)
    adapters[RENT_REGISTER] = RentRegisterClient(sims.rent.url, timeout=5)
    adapters[CONTROL_UNIT] = ControlUnitFileDrop(drops / "control")
    return dispatcher(chub.engine, clock, adapters)


def granted(chub, disp, sims, n: int) -> list[types.SimpleNamespace]:
    """`n` boligstøtte grants from April 2026, each decided on its registers' facts by
    straight-through processing (a tenant alone: 25.000 kr a month, rent 4.000 kr a
    month: 560 kr a month), and the registers saying the same for the months controlled."""
    bo = chub.as_("t-backoffice")
    out = []
    for _ in range(n):
        cpr = stage(sims)
        case = apply(bo, cpr)
        out.append(types.SimpleNamespace(cpr=cpr, case_id=case.case_id))
    disp.drain()
    for g in out:
        full = bo.GetCase(cases_pb2.GetCaseRequest(case_id=g.case_id))
        assert full.status == common_pb2.CASE_STATUS_DECIDED, full.fallout_detail
        [d] = full.decisions
        assert [(a.amount_oere, a.period_start.month) for a in d.amounts] == [(56_000, 4)]
        g.decision_id, g.address = d.decision_id, sims.cpr.person(g.cpr)["person"]["address_id"]
        for month in WINDOW:
            sims.income.put_income(g.cpr, month, income_month(month, NET))
    return out


def run(client, period: str = PERIOD, **kw) -> list:
    return list(client.RunControl(K.RunControlRequest(request_id=kw.pop("request_id", rid()), period=period, **kw)))


def findings(client, **kw) -> list:
    return list(client.ListControlFindings(K.ListControlFindingsRequest(page_size=500, **kw)).findings)


def plant(sims, clock, population):
    """The deviations, one grant each: more income, a new adult at the address, a lower
    rent (6,25 %), a death and an emigration in April (May paid all the same)."""
    income, household, rent, dead, gone = population[:5]
    for month in WINDOW:
        sims.income.put_income(income.cpr, month, income_month(month, 3_500_000))
    partner = new_cpr()
    me = sims.cpr.person(household.cpr)
    members = me["household"]["members"] + [dict(cpr=partner, birth_date="1970-01-01", relation="cohabitant")]
    sims.cpr.put_person(household.cpr, dict(me["person"]), dict(me["household"], members=members))
    for month in WINDOW:
        sims.income.put_income(partner, month, [])   # no income: the household's income is as assumed
    sims.rent.put_dwelling(rent.address, dict(sims.rent.dwelling(rent.address), rent_oere_per_year=4_500_000))
    sims.cpr.put_person(dead.cpr, dict(status="dead", status_date="2026-04-10"), None)
    sims.cpr.put_person(gone.cpr, dict(status="emigrated", status_date="2026-04-20"), None)
    return {(income.case_id, "INCOME_DEVIATION"), (household.case_id, "HOUSEHOLD_CHANGE"),
            (rent.case_id, "RENT_CHANGE"), (dead.case_id, "PAYMENT_AFTER_DEATH"),
            (gone.case_id, "PAYMENT_AFTER_EMIGRATION")}


def pay(client, *periods):
    for p in periods:
        list(client.RunPayments(payments_pb2.RunPaymentsRequest(request_id=rid(), period=p)))


def rule_name(f) -> str:
    return K.ControlRule.Name(f.rule).removeprefix("CONTROL_RULE_")


@pytest.fixture
def controlled(chub, clock, disp, sims, drops):
    """Twelve grants, five with a planted deviation, May paid, and a control run of May."""
    population = granted(chub, disp, sims, 12)
    clock.advance(days=70)   # 11 May 2026
    bo = chub.as_("t-backoffice")
    pay(bo, "2026-04", "2026-05")
    planted = plant(sims, clock, population)
    before = (sims.cpr.requests, sims.income.requests, sims.rent.requests)
    steps = run(bo)
    asked = (sims.cpr.requests - before[0], sims.income.requests - before[1], sims.rent.requests - before[2])
    return types.SimpleNamespace(population=population, planted=planted, steps=steps, asked=asked, bo=bo)


def test_a_run_finds_exactly_the_planted_deviations_and_the_unit_receives_each(chub, controlled, disp, drops):
    steps, bo = controlled.steps, controlled.bo
    last = steps[-1]
    assert last.done and last.examined == last.total == 12 and last.findings == 5
    assert dict(last.findings_by_rule) == {rule: 1 for _, rule in controlled.planted}
    assert (last.already_found, last.not_in_register, last.failed) == (0, 0, 0)
    # The registers were asked a chunk at a time, not once per grant: one batch each.
    assert controlled.asked == (1, 1, 1)
    found = findings(bo)
    assert {(f.case_id, rule_name(f)) for f in found} == controlled.planted
    assert all(f.status == K.CONTROL_FINDING_STATUS_OPEN and f.run_id == last.run_id for f in found)

    disp.drain()
    by_rule = {rule_name(f): f for f in found}
    cpr_of = {g.case_id: g.cpr for g in controlled.population}
    files = sorted(p.relative_to(drops / "control").as_posix() for p in (drops / "control").rglob("*.json"))
    assert files == sorted(f"101/{f.finding_id}.json" for f in found)

    def doc(rule: str) -> dict:
        f = by_rule[rule]
        d = json.loads((drops / "control" / "101" / f"{f.finding_id}.json").read_text(encoding="utf-8"))
        assert (d["kind"], d["finding_id"], d["case_id"], d["cpr"], d["rule_code"], d["municipality_code"]) == (
            "control_finding", f.finding_id, f.case_id, cpr_of[f.case_id], rule, "101")
        assert set(d) == {"message_id", "kind", "caused_at", "finding_id", "case_id", "municipality_code",
                          "benefit_code", "cpr", "rule_code", "rule_title", "found_at", "period_start", "period_end",
                          "observations", "amount_at_stake_oere_per_month"}   # and nothing else of the case
        return d

    income = doc("INCOME_DEVIATION")
    assert (income["period_start"], income["period_end"]) == ("2026-03-01", "2026-05-31")
    [o] = income["observations"]
    assert (o["name"], o["register_value"], o["assumed_value"], o["source"]) == (
        "household.income_per_year", 42_000_000, 30_000_000, "income_register")
    assert o["source_reference"].startswith("EI-")
    # 35.000 kr a month is above boligsikring's income limit: the whole 560 kr a month is at stake.
    assert income["amount_at_stake_oere_per_month"] == 56_000
    household = doc("HOUSEHOLD_CHANGE")
    assert [(o["name"], o["register_value"], o["assumed_value"]) for o in household["observations"]] == [
        ("household.adults", 2, 1), ("household.children", 0, 0)]
    assert household["period_start"] == "2026-05-01" and household["period_end"] is None
    rent = doc("RENT_CHANGE")
    [o] = rent["observations"]
    assert (o["register_value"], o["assumed_value"], o["source"]) == (4_500_000, 4_800_000, "rent_register")
    # Boligsikring is 60 % of the rent above the income's share (§ 22): 250 kr a month less rent, 150 kr less support.
    assert rent["amount_at_stake_oere_per_month"] == 15_000
    dead = doc("PAYMENT_AFTER_DEATH")
    assert {o["name"]: o["register_value"] for o in dead["observations"]} == {
        "person.status": "dead", "person.status_date": "2026-04-10", "payments.months_after": 1,
        "payments.amount_after": 56_000}
    assert (dead["period_start"], dead["period_end"], dead["amount_at_stake_oere_per_month"]) == (
        "2026-05-01", "2026-05-31", 56_000)
    gone = doc("PAYMENT_AFTER_EMIGRATION")
    assert {o["name"]: o["register_value"] for o in gone["observations"]}["person.status"] == "emigrated"

    # The findings are on their cases: events, and audited as changes on them.
    with chub.engine.connect() as c:
        made = c.execute(sa.select(tables.events.c.case_id, tables.events.c.payload)
                         .where(tables.events.c.type == "control.finding_made")).all()
        audited = c.execute(sa.select(tables.audit_log.c.case_id, tables.audit_log.c.cpr)
                            .where(tables.audit_log.c.rpc == "RunControl",
                                   tables.audit_log.c.case_id.is_not(None))).all()
    assert {(r.case_id, r.payload["rule_code"]) for r in made} == controlled.planted
    assert {(r.case_id, r.cpr) for r in audited} == {(c, cpr_of[c]) for c, _ in controlled.planted}


def test_a_rerun_makes_no_finding_twice(chub, controlled):
    bo = controlled.bo
    again = run(bo)[-1]     # another request id, the same month and rules: nothing left to check
    assert again.done and (again.examined, again.findings) == (0, 0)
    # Another set of rules checks the month again: what was found is not found twice.
    income_only = run(bo, rules=[K.CONTROL_RULE_INCOME_DEVIATION, K.CONTROL_RULE_RENT_CHANGE])[-1]
    assert (income_only.examined, income_only.findings, income_only.already_found) == (12, 0, 2)
    # The same request id replays the finished run's summary.
    first = controlled.steps[-1]
    replay = list(bo.RunControl(K.RunControlRequest(request_id="same", period=PERIOD)))
    assert list(bo.RunControl(K.RunControlRequest(request_id="same", period=PERIOD))) == replay[-1:]
    err = rpc_error(lambda: run(bo, request_id="same", period="2026-04"))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert len(findings(bo)) == 5 and first.findings == 5


def test_the_outcome_is_recorded_once_by_the_municipality_and_closes_the_finding(chub, controlled, disp, drops):
    cw, bo = chub.as_("t-cw-101"), controlled.bo
    [rent] = findings(bo, rule=K.CONTROL_RULE_RENT_CHANGE)
    req = K.RecordControlOutcomeRequest(request_id=rid(), finding_id=rent.finding_id,
                                        outcome=K.CONTROL_OUTCOME_NO_CHANGE, note="Lejen er nedsat midlertidigt.")
    closed = cw.RecordControlOutcome(req)
    assert (closed.status, closed.outcome, closed.follow_up, closed.closed_by_client, closed.note) == (
        K.CONTROL_FINDING_STATUS_CLOSED, K.CONTROL_OUTCOME_NO_CHANGE, K.CONTROL_FOLLOW_UP_NONE, "cw-101",
        "Lejen er nedsat midlertidigt.")
    assert cw.RecordControlOutcome(req) == closed   # a retry: the same answer, nothing twice
    # Another outcome on a closed finding is a wrong state.
    err = rpc_error(cw.RecordControlOutcome, K.RecordControlOutcomeRequest(
        request_id=rid(), finding_id=rent.finding_id, outcome=K.CONTROL_OUTCOME_ENTITLEMENT_CHANGED))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and details(err)[1].reason == "FINDING_CLOSED"
    # Another municipality's caseworker: as if there were no such finding; the back office may not.
    [income] = findings(bo, rule=K.CONTROL_RULE_INCOME_DEVIATION)
    other = K.RecordControlOutcomeRequest(request_id=rid(), finding_id=income.finding_id,
                                          outcome=K.CONTROL_OUTCOME_NO_CHANGE)
    assert rpc_error(chub.as_("t-cw-751").RecordControlOutcome, other).code() == grpc.StatusCode.NOT_FOUND
    assert rpc_error(bo.RecordControlOutcome, other).code() == grpc.StatusCode.PERMISSION_DENIED
    with chub.engine.connect() as c:   # the attempts are audited with the case the finding is on, and its citizen
        a = tables.audit_log.c
        refused = c.execute(sa.select(a.client_id, a.outcome, a.case_id, a.cpr).where(
            a.rpc == "RecordControlOutcome", a.outcome != "OK")).all()
    assert {tuple(r) for r in refused} == {("cw-101", "FAILED_PRECONDITION", rent.case_id, rent.cpr),
                                           ("cw-751", "NOT_FOUND", income.case_id, income.cpr),
                                           ("backoffice", "PERMISSION_DENIED", income.case_id, income.cpr)}
    assert findings(bo, rule=K.CONTROL_RULE_INCOME_DEVIATION)[0].status == K.CONTROL_FINDING_STATUS_OPEN
    bad = rpc_error(cw.RecordControlOutcome, K.RecordControlOutcomeRequest(request_id=rid(),
                                                                             finding_id=income.finding_id))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "outcome" in details(bad)[0]

    disp.drain()
    closing = json.loads((drops / "control" / "101" / f"{rent.finding_id}.closed.json").read_text(encoding="utf-8"))
    assert {k: closing[k] for k in ("kind", "finding_id", "case_id", "outcome", "reason")} == {
        "kind": "control_finding_closed", "finding_id": rent.finding_id, "case_id": rent.case_id,
        "outcome": "NO_CHANGE", "reason": "Kontrollen gav ingen ændring."}
    assert "cpr" not in closing and rent.cpr not in json.dumps(closing)
    with chub.engine.connect() as c:
        [payload] = c.execute(sa.select(tables.events.c.payload).where(
            tables.events.c.type == "control.finding_closed")).scalars()
    assert payload["finding_id"] == rent.finding_id and payload["outcome"] == "NO_CHANGE"


def test_a_changed_entitlement_leads_to_a_new_draft_decision_visible_on_the_case(chub, controlled, disp, drops):
    cw, bo = chub.as_("t-cw-101"), controlled.bo
    [income] = findings(bo, rule=K.CONTROL_RULE_INCOME_DEVIATION)
    closed = cw.RecordControlOutcome(K.RecordControlOutcomeRequest(
        request_id=rid(), finding_id=income.finding_id, outcome=K.CONTROL_OUTCOME_ENTITLEMENT_CHANGED))
    assert closed.follow_up == K.CONTROL_FOLLOW_UP_DRAFT_DECISION and closed.decision_id
    case = bo.GetCase(cases_pb2.GetCaseRequest(case_id=income.case_id))
    assert case.status == common_pb2.CASE_STATUS_DRAFT_PENDING_APPROVAL
    draft = next(d for d in case.decisions if d.decision_id == closed.decision_id)
    # Calculated on the register's income (420.000 kr a year): no boligsikring from June.
    assert draft.outcome == decisions_pb2.OUTCOME_REFUSED and draft.status == decisions_pb2.DECISION_STATUS_PENDING_APPROVAL
    assert (draft.effective_from.year, draft.effective_from.month, draft.effective_from.day) == (2026, 6, 1)
    facts = {f.name: f for f in draft.calculation.facts}
    assert facts["household.income_per_year"].shown == "420.000 kr om året"
    [item] = [i for i in case.information if i.kind == "income.control"]
    assert item.item_id in facts["household.income_per_year"].information_ids
    # Adverse on register data: the hub started the hearing; the authority decides after it.
    assert [h.decision_id for h in case.hearings] == [draft.decision_id]

    # A grant whose new facts the rules cannot calculate goes to the back office, with why.
    [household] = findings(bo, rule=K.CONTROL_RULE_HOUSEHOLD_CHANGE)
    closed = cw.RecordControlOutcome(K.RecordControlOutcomeRequest(
        request_id=rid(), finding_id=household.finding_id, outcome=K.CONTROL_OUTCOME_FRAUD_SUSPECTED))
    assert closed.follow_up == K.CONTROL_FOLLOW_UP_BACK_OFFICE and not closed.decision_id
    assert "household.income_per_year" in closed.follow_up_reason
    assert [f.finding_id for f in findings(bo, follow_up=K.CONTROL_FOLLOW_UP_BACK_OFFICE)] == [household.finding_id]
    assert bo.GetCase(cases_pb2.GetCaseRequest(case_id=household.case_id)).status == common_pb2.CASE_STATUS_DECIDED

    # After a death: the grant stops from the month after it (a draft departing from the calculation).
    [dead] = findings(bo, rule=K.CONTROL_RULE_PAYMENT_AFTER_DEATH)
    closed = cw.RecordControlOutcome(K.RecordControlOutcomeRequest(
        request_id=rid(), finding_id=dead.finding_id, outcome=K.CONTROL_OUTCOME_ENTITLEMENT_CHANGED))
    assert closed.follow_up == K.CONTROL_FOLLOW_UP_DRAFT_DECISION
    stop = next(d for d in bo.GetCase(cases_pb2.GetCaseRequest(case_id=dead.case_id)).decisions
                if d.decision_id == closed.decision_id)
    assert stop.outcome == decisions_pb2.OUTCOME_REFUSED and not stop.amounts
    assert (stop.effective_from.month, stop.effective_from.day) == (5, 1) and "2026-04-10" in stop.reasoning

    disp.drain()
    reasons = {json.loads(p.read_text(encoding="utf-8"))["finding_id"]: json.loads(p.read_text())["reason"]
               for p in (drops / "control" / "101").glob("*.closed.json")}
    assert reasons == {
        income.finding_id: "Kontrollen ændrede retten til ydelsen. Et nyt udkast til afgørelse er lavet.",
        household.finding_id: "Kontrollen ændrede retten til ydelsen; mistanke om svig. Sagen er sendt til back office.",
        dead.finding_id: "Kontrollen ændrede retten til ydelsen. Et nyt udkast til afgørelse er lavet."}


def test_findings_obey_the_data_limits_and_every_read_is_audited(chub, controlled):
    cw101, cw751, operator = chub.as_("t-cw-101"), chub.as_("t-cw-751"), chub.as_("t-operator")
    mine = findings(cw101, status=K.CONTROL_FINDING_STATUS_OPEN)
    assert len(mine) == 5 and not findings(cw751)
    assert {f.finding_id for f in findings(operator)} == {f.finding_id for f in mine}
    assert not findings(chub.as_("t-cw-101-bolig"), benefit_code="FOLKEPENSION")
    page = cw101.ListControlFindings(K.ListControlFindingsRequest(page_size=2))
    rest = cw101.ListControlFindings(K.ListControlFindingsRequest(page_size=500, page_token=page.next_page_token))
    assert len(page.findings) == 2 and len(rest.findings) == 3 and not rest.next_page_token
    err = rpc_error(cw101.ListControlFindings, K.ListControlFindingsRequest(page_token=page.next_page_token,
                                                                           rule=K.CONTROL_RULE_RENT_CHANGE))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    with chub.engine.connect() as c:
        seen = c.execute(sa.select(tables.audit_log.c.client_id, tables.audit_log.c.case_id, tables.audit_log.c.cpr)
                         .where(tables.audit_log.c.rpc == "ListControlFindings")).all()
    assert {(r.case_id, r.cpr) for r in seen if r.client_id == "cw-101"} == {(f.case_id, f.cpr) for f in mine}
    assert not [r for r in seen if r.client_id == "cw-751"]


def test_a_register_that_is_down_stops_the_run_and_the_same_request_goes_on(chub, clock, disp, sims):
    population = granted(chub, disp, sims, 3)
    clock.advance(days=70)
    bo = chub.as_("t-backoffice")
    for month in WINDOW:
        sims.income.put_income(population[0].cpr, month, income_month(month, 4_000_000))
    sims.income.down()
    err = rpc_error(lambda: run(bo, request_id="cut-off"))
    assert err.code() == grpc.StatusCode.UNAVAILABLE and details(err)[1].reason == "UNAVAILABLE"
    assert not findings(bo)
    sims.income.up()
    last = run(bo, request_id="cut-off")[-1]
    assert last.done and (last.examined, last.findings) == (3, 1)
    assert [f.case_id for f in findings(bo)] == [population[0].case_id]


def test_bad_requests_are_refused_naming_the_field(chub, clock):
    bo = chub.as_("t-backoffice")
    for req, field in [
        (K.RunControlRequest(request_id=rid(), period="2026-04"), "period"),      # the clock is in March
        (K.RunControlRequest(request_id=rid(), period="26-3"), "period"),
        (K.RunControlRequest(request_id=rid(), period="2026-02", rules=[K.CONTROL_RULE_UNSPECIFIED]), "rules[0]"),
        (K.RunControlRequest(request_id=rid(), period="2026-02", rules=[99]), "rules[0]"),
        (K.RunControlRequest(request_id="", period="2026-02"), "request_id"),
        (K.RunControlRequest(request_id=rid(), period="2026-02", benefit_code="SU"), "benefit_code"),
    ]:
        err = rpc_error(lambda: list(bo.RunControl(req)))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in details(err)[0], (req, details(err))
    err = rpc_error(lambda: run(chub.as_("t-operator"), period="2026-02", municipality_code="101", request_id=""))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    mine_only = chub.as_("t-vendor")   # a vendor system may not run control at all
    assert rpc_error(lambda: run(mine_only, period="2026-02")).code() == grpc.StatusCode.PERMISSION_DENIED
    err = rpc_error(bo.ListControlFindings, K.ListControlFindingsRequest(period="2026-13", case_id="x" * 40))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and set(details(err)[0]) == {"period", "case_id"}
    err = rpc_error(chub.as_("t-cw-101").RecordControlOutcome, K.RecordControlOutcomeRequest(
        request_id=rid(), finding_id="no-such-finding", outcome=K.CONTROL_OUTCOME_NO_CHANGE))
    assert err.code() == grpc.StatusCode.NOT_FOUND and details(err)[1].reason == "FINDING_NOT_FOUND"


def test_hubctl_runs_control_lists_findings_and_records_an_outcome(chub, clock, disp, sims, capsys):
    from clients.cli.hubctl import main
    population = granted(chub, disp, sims, 2)
    clock.advance(days=70)
    sims.rent.put_dwelling(population[1].address, dict(sims.rent.dwelling(population[1].address),
                                                       rent_oere_per_year=6_000_000))

    def hubctl(token, *args):
        code = main(["--address", chub.address, "--token", token, *args])
        out = capsys.readouterr()
        return code, (json.loads(out.out) if code == 0 else out.err), out.err

    code, summary, progress = hubctl("t-backoffice", "control", "run", "--period", PERIOD, "--rule", "rent-change",
                                     "--rule", "CONTROL_RULE_INCOME_DEVIATION")
    assert code == 0 and summary["done"] and summary["examined"] == "2" and summary["findings"] == "1"
    assert summary["findings_by_rule"] == {"RENT_CHANGE": "1"} and f"control {PERIOD}" in progress
    code, listed, _ = hubctl("t-cw-101", "control", "findings", "--status", "open", "--rule", "rent-change")
    [f] = listed["findings"]
    assert code == 0 and f["case_id"] == population[1].case_id and f["rule"] == "CONTROL_RULE_RENT_CHANGE"
    code, closed, _ = hubctl("t-cw-101", "control", "outcome", f["finding_id"], "--outcome", "no-change",
                             "--note", "Ny lejekontrakt fra juni.")
    assert code == 0 and closed["status"] == "CONTROL_FINDING_STATUS_CLOSED" and closed["note"].startswith("Ny")
    code, err, _ = hubctl("t-cw-101", "control", "outcome", f["finding_id"], "--outcome", "no-change")
    assert code == 1 and "FAILED_PRECONDITION" in err and "FINDING_CLOSED" in err
    assert main(["--address", chub.address, "--token", "t-cw-751", "control", "findings"]) == 0
    assert capsys.readouterr().out.strip() == "0 control findings"


def test_two_runs_at_once_share_the_work_and_find_each_deviation_once(chub, clean_db, clock, disp, sims):
    import threading

    from hub.service.control import ControlSettings
    population = granted(chub, disp, sims, 12)
    clock.advance(days=70)
    pay(chub.as_("t-backoffice"), "2026-04", "2026-05")
    planted = plant(sims, clock, population)
    settings = Settings(cpr_register_url=sims.cpr.url, rent_register_url=sims.rent.url,
                        income_register_url=sims.income.url, control=ControlSettings(chunk=2))
    small = RunningHub(clean_db, clock, settings=settings)   # a second hub process, two grants a chunk
    try:
        results: dict[str, list] = {}

        def go(name, client):
            results[name] = run(client)
        threads = [threading.Thread(target=go, args=(n, c)) for n, c in
                   (("a", chub.as_("t-backoffice")), ("b", small.as_("t-operator")), ("c", small.as_("t-backoffice")))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        last = [results[n][-1] for n in "abc"]
        assert all(x.done for x in last)
        assert sum(x.examined for x in last) == 12 and sum(x.findings for x in last) == 5
        assert sum(x.already_found for x in last) == 0
    finally:
        small.stop()
    assert {(f.case_id, rule_name(f)) for f in findings(chub.as_("t-backoffice"))} == planted


def test_a_grant_calculated_by_an_older_hub_is_checked_on_the_facts_of_its_information(chub, clock, disp, sims):
    """A calculation stored without its facts' values (before the control) is read again
    from the case's information as it was when the draft was made."""
    old, new = granted(chub, disp, sims, 2)
    with chub.engine.begin() as c:
        d = tables.decisions.c
        calc = c.execute(sa.select(d.calculation).where(d.decision_id == old.decision_id)).scalar_one()
        assert all("value" in f for f in calc["facts"])
        stripped = dict(calc, facts=[{k: v for k, v in f.items() if k != "value"} for f in calc["facts"]])
        c.execute(sa.update(tables.decisions).where(d.decision_id == old.decision_id).values(calculation=stripped))
    clock.advance(days=70)
    for g in (old, new):
        for month in WINDOW:
            sims.income.put_income(g.cpr, month, income_month(month, 3_500_000))
    last = run(chub.as_("t-backoffice"), rules=[K.CONTROL_RULE_INCOME_DEVIATION])[-1]
    assert (last.examined, last.findings, last.failed) == (2, 2, 0)
    found = {f.case_id: f for f in findings(chub.as_("t-backoffice"))}
    assert [o.assumed_value.whole for o in found[old.case_id].observations] == [30_000_000]
    assert found[old.case_id].amount_at_stake_oere_per_month == found[new.case_id].amount_at_stake_oere_per_month


def test_a_run_stays_within_the_callers_municipalities_and_benefits(clean_db, clock, chub, disp, sims):
    from hub.api.auth import ClientRegistry
    from tests.conftest import CLIENTS
    from tests.helpers import create_req, draft_req, info_req, period
    bolig = granted(chub, disp, sims, 2)
    bo, cw = chub.as_("t-backoffice"), chub.as_("t-cw-101")
    pension = bo.CreateCase(create_req(benefit="FOLKEPENSION"))
    bo.AddInformation(info_req(pension.case_id))
    draft = bo.SubmitDraftDecision(draft_req(pension.case_id, amounts=[period(1_450_000)])).decision
    cw.ApproveDecision(decisions_pb2.ApproveDecisionRequest(request_id=rid(), decision_id=draft.decision_id))
    clock.advance(days=70)
    limited = [dict(id="bo-bolig", token="t-bo-bolig", role="back_office", municipalities=["101"],
                    benefits=["BOLIGSTOETTE"]),
               dict(id="bo-751", token="t-bo-751", role="back_office", municipalities=["751"])]
    settings = Settings(cpr_register_url=sims.cpr.url, rent_register_url=sims.rent.url,
                        income_register_url=sims.income.url)
    other = RunningHub(clean_db, clock, settings=settings, registry=ClientRegistry.from_entries(CLIENTS + limited))
    try:
        client = other.as_("t-bo-bolig")
        for kw, code in [(dict(benefit_code="FOLKEPENSION"), grpc.StatusCode.PERMISSION_DENIED),
                         (dict(municipality_code="751"), grpc.StatusCode.PERMISSION_DENIED)]:
            err = rpc_error(lambda: run(client, **kw))
            assert err.code() == code and details(err)[1].reason in ("BENEFIT_OUT_OF_SCOPE",
                                                                     "MUNICIPALITY_OUT_OF_SCOPE")
        assert run(other.as_("t-bo-751"))[-1].examined == 0           # no grant in Aarhus
        assert run(client)[-1].examined == len(bolig)                  # the housing benefit's only
        assert run(chub.as_("t-backoffice"))[-1].examined == 1         # the pension is left for another
    finally:
        other.stop()
