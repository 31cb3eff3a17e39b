"""Straight-through processing over the real parts: a self-service application of
boligstøtte goes from CreateCase through the CPR, rent and income registers (simulators
on real sockets, the real clients) to a calculated draft, automatic approval, the
posting, the letter, the archive package and payment lines, with no call after
CreateCase; and every way out of the automatic path says why."""
from __future__ import annotations

import base64
import datetime as dt
import json
import types
import xml.etree.ElementTree as ET

import bagit
import pytest
import sqlalchemy as sa

from adapters.cpr_register.client import CprRegisterClient
from adapters.cpr_register.simulator import Simulator as CprSimulator
from adapters.digital_post.memo import MEMO_NS
from adapters.income_register.simulator import Simulator as IncomeSimulator
from adapters.rent_register.client import RentRegisterClient
from adapters.rent_register.simulator import Simulator as RentSimulator
from hub.domain import months
from hub.ports import CPR_REGISTER, RENT_REGISTER
from hub.store import tables
from hub.v1 import cases_pb2, common_pb2, decisions_pb2, payments_pb2, rules_pb2
from tests.conftest import new_cpr
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import create_req, draft_req, period, rid

C = cases_pb2
TODAY = dt.date(2026, 3, 2)  # the test clock's day
STATEMENT = {"receives_folkepension": False, "wealth_oere": 0}


@pytest.fixture
def sims():
    s = types.SimpleNamespace(cpr=CprSimulator(today=lambda: TODAY).start_in_thread(),
                              rent=RentSimulator().start_in_thread(), income=IncomeSimulator().start_in_thread())
    yield s
    for sim in (s.cpr, s.rent, s.income):
        sim.stop()


@pytest.fixture
def drops(tmp_path):
    return tmp_path / "drops"


@pytest.fixture
def disp(hub, clock, drops, sims):
    adapters = file_adapters(drops, sims.income.url)
    adapters[CPR_REGISTER] = CprRegisterClient(sims.cpr.url, timeout=5)
    adapters[RENT_REGISTER] = RentRegisterClient(sims.rent.url, timeout=5)
    return dispatcher(hub.engine, clock, adapters)


def income_month(month: str, net_oere: int) -> list[dict]:
    """One employer's pay for a month: `net_oere` A-income after AM-bidrag."""
    y, m = map(int, month.split("-"))
    start = dt.date(y, m, 1)
    with_am = net_oere * 100 // 92
    am = with_am - net_oere
    tax = net_oere * 37 // 100
    return [dict(payer_cvr="12345678", payer_se="12345678", income_period_start=start.isoformat(),
                 income_period_end=months.last_day(start).isoformat(), income_type_code="00",
                 a_income_with_am_oere=with_am, a_income_without_am_oere=0, a_tax_oere=tax, am_contribution_oere=am,
                 fields={"13": with_am, "14": 0, "15": tax, "16": am}, hours=16_000)]


def stage(sims, *, cpr: str | None = None, net_month_oere: int = 2_500_000, rent_month_oere: int | None = 400_000,
          area: int = 60, heating_separate: bool = True, tenure: str = "rental") -> str:
    """A citizen alone at an address, a tenant with this rent and area and this monthly
    pay (the 12 months before the application), as the registers will answer. The
    defaults are Udbetaling Danmark's own calculator's case (income 25.000 kr a month,
    rent 4.000 kr, 60 m², heating paid separately: boligsikring 560 kr a month in 2026;
    rules-research case B1, tests/test_rules_formulas.py)."""
    cpr = cpr or new_cpr()
    address = f"adr-{cpr[-4:]}-{rid()[:8]}"
    sims.cpr.put_person(cpr, dict(status="alive", civil_status="unmarried", municipality_code="101",
                                  address_id=address, spouse_cpr=None),
                        dict(address_id=address, members=[dict(cpr=cpr, birth_date="1970-01-01", relation="self")]))
    rent = None if rent_month_oere is None else rent_month_oere * 12   # (the register gives an owner none)
    sims.rent.put_dwelling(address, dict(tenure=tenure, rent_oere_per_year=rent, area_m2=area, rooms=2,
                                         heating_included=False, hot_water_included=False, electricity_included=False,
                                         heating_separate=heating_separate, maintenance_duty=False,
                                         water_separate=False))
    for month in months.between("2025-03", "2026-02"):
        sims.income.put_income(cpr, month, income_month(month, net_month_oere))
    return cpr


def apply(client, cpr: str, statement=None, **kw) -> cases_pb2.Case:
    req = create_req(cpr=cpr, **kw)
    req.applicant_statement.update(STATEMENT if statement is None else statement)
    return client.CreateCase(req)


def shown(client, case_id: str) -> cases_pb2.Case:
    return client.GetCase(C.GetCaseRequest(case_id=case_id))


def events_of(hub, case_id: str) -> list[tuple[str, dict]]:
    with hub.engine.connect() as c:
        return [(r.type, r.payload) for r in c.execute(
            sa.select(tables.events.c.type, tables.events.c.payload).where(tables.events.c.case_id == case_id)
            .order_by(tables.events.c.seq))]


def letters(drops) -> list[str]:
    out = []
    for f in sorted((drops / "digital_post").glob("*.xml")):
        root = ET.parse(f).getroot()
        out.append(base64.b64decode(root.findtext("memo:MessageBody/memo:MainDocument/memo:File/memo:content",
                                                  namespaces={"memo": MEMO_NS})).decode())
    return out


def test_a_self_service_application_is_decided_sent_posted_archived_and_scheduled_with_no_call_after_create_case(
        hub, backoffice, disp, drops, sims):
    cpr = stage(sims)
    case = apply(backoffice, cpr)
    assert case.automation == C.AUTOMATION_IN_PROGRESS

    disp.drain()   # the registers answer, one after the other; then the letter, posting and archive

    full = shown(backoffice, case.case_id)
    assert full.status == common_pb2.CASE_STATUS_DECIDED and full.automation == C.AUTOMATION_DECIDED
    [d] = full.decisions
    assert d.approval.mode == decisions_pb2.APPROVAL_MODE_AUTOMATIC and d.submitted_by_client == "hub-automation"
    # Udbetaling Danmark's calculator gives 560 kr a month for these facts in 2026.
    assert [(a.amount_oere, a.period_start.month, a.period_end.month) for a in d.amounts] == [(56_000, 4, 12)]
    [p] = d.calculation.periods
    assert p.amount_oere == 56_000 and p.scheme and p.steps and p.rule_set_version >= 1
    facts = {f.name: f for f in d.calculation.facts}
    assert {"dwelling.rent_per_year", "dwelling.area_m2", "household.income_per_year", "household.adults"} <= set(facts)
    assert facts["dwelling.rent_per_year"].source == "Huslejeregisteret" and facts["household.income_per_year"].shown
    registers = {i.item_id: i.kind for i in full.information}
    assert set(registers.values()) == {"cpr.person", "rent.dwelling", "income.register_records"}
    assert set(d.decisive_fact_ids) == set(registers)

    # What the other systems received: the posting, the letter explaining the
    # calculation, the archive package; each register asked once.
    [posting] = [json.loads(x) for f in (drops / "economy" / "101").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert posting["amount_oere"] == 56_000 and posting["decision_id"] == d.decision_id
    [letter] = letters(drops)
    assert "Du får boligstøtte" in letter and "560,00 kr." in letter
    assert "Huslejeregisteret" in letter and "Boligudgift" in letter, "the letter explains the calculation"
    bagit.Bag(str(drops / "archive" / full.archive_reference)).validate()
    assert (sims.cpr.requests, sims.rent.requests, sims.income.requests) == (1, 1, 1)

    # Scheduled for payment: the month's run orders it.
    run = list(backoffice.RunPayments(payments_pb2.RunPaymentsRequest(request_id=rid(), period="2026-04")))
    assert run[-1].orders_created == 1 and run[-1].amount_oere == 56_000

    types_ = [t for t, _ in events_of(hub, case.case_id)]
    assert types_[:4] == ["case.created", "case.receipt", "case.automatic_processing_started",
                          "case.register_data_requested"]
    assert types_.count("case.register_data_requested") == 3 and "decision.approved" in types_
    # The hub's own steps are audited as its own.
    audit = backoffice_audit(hub, case.case_id)
    assert ("hub-automation", "SubmitDraftDecision") in audit and ("hub-automation", "ApproveDecision") in audit


def backoffice_audit(hub, case_id: str) -> list[tuple[str, str]]:
    with hub.engine.connect() as c:
        return [(r.client_id, r.rpc) for r in c.execute(
            sa.select(tables.audit_log.c.client_id, tables.audit_log.c.rpc).where(tables.audit_log.c.case_id == case_id))]


def fell_out(client, case_id: str, reason) -> cases_pb2.Case:
    full = shown(client, case_id)
    assert full.automation == C.AUTOMATION_FELL_OUT, full
    assert full.fallout_reason == reason, C.FalloutReason.Name(full.fallout_reason)
    assert full.fallout_detail
    return full


def test_a_person_the_cpr_register_does_not_know_goes_to_the_back_office(hub, backoffice, disp, sims):
    cpr = new_cpr()
    sims.cpr.put_person(cpr, None)
    case = apply(backoffice, cpr)
    disp.drain()
    full = fell_out(backoffice, case.case_id, C.FALLOUT_REASON_MISSING_REGISTER_DATA)
    assert full.status == common_pb2.CASE_STATUS_CREATED and not full.decisions
    assert cpr not in full.fallout_detail
    listed = backoffice.ListCases(C.ListCasesRequest(automation=C.AUTOMATION_FELL_OUT,
                                                     fallout_reason=C.FALLOUT_REASON_MISSING_REGISTER_DATA))
    assert [c.case_id for c in listed.cases] == [case.case_id]
    [payload] = [p for t, p in events_of(hub, case.case_id) if t == "case.fell_out"]
    assert payload["reason"] == "MISSING_REGISTER_DATA"


@pytest.mark.parametrize("setup,statement,reason", [
    # The application says the rent is 6.000 kr; the register says 4.000.
    ("", dict(STATEMENT, rent_oere_per_month=600_000), C.FALLOUT_REASON_STATEMENT_CONTRADICTS_REGISTER),
    # Only the citizen can say whether they have wealth.
    ("", {"receives_folkepension": False}, C.FALLOUT_REASON_APPLICATION_INCOMPLETE),
    ("dead", STATEMENT, C.FALLOUT_REASON_PERSON_STATUS),
    ("owner", STATEMENT, C.FALLOUT_REASON_DISCRETION_NEEDED),
    ("owner without rent", STATEMENT, C.FALLOUT_REASON_DISCRETION_NEEDED),
    ("owner without rent", {"receives_folkepension": True, "wealth_oere": 0}, C.FALLOUT_REASON_DISCRETION_NEEDED),
])
def test_a_case_that_cannot_go_on_falls_out_with_its_reason(hub, backoffice, disp, sims, setup, statement, reason):
    cpr = stage(sims, tenure="owner" if setup.startswith("owner") else "rental",
                rent_month_oere=None if setup == "owner without rent" else 400_000)
    if setup == "dead":
        sims.cpr.put_person(cpr, dict(status="dead", status_date="2026-03-01", municipality_code="101"), None)
    case = apply(backoffice, cpr, statement)
    disp.drain()
    full = fell_out(backoffice, case.case_id, reason)
    assert not full.decisions and full.status != common_pb2.CASE_STATUS_DECIDED


def test_another_open_case_at_the_municipality_stops_automatic_processing(hub, backoffice, disp, sims):
    cpr = stage(sims)
    backoffice.CreateCase(create_req(cpr=cpr, benefit="FOLKEPENSION", channel=common_pb2.CHANNEL_PHONE))
    case = apply(backoffice, cpr)
    disp.drain()
    fell_out(backoffice, case.case_id, C.FALLOUT_REASON_OTHER_OPEN_CASE)


def test_an_adverse_calculation_on_register_data_is_heard_first_and_the_hub_starts_the_hearing(
        hub, backoffice, disp, drops, sims):
    cpr = stage(sims, net_month_oere=6_000_000)  # 720.000 kr a year: no boligsikring
    case = apply(backoffice, cpr)
    disp.drain()
    full = fell_out(backoffice, case.case_id, C.FALLOUT_REASON_HEARING_NEEDED)
    [d] = full.decisions
    assert d.outcome == decisions_pb2.OUTCOME_REFUSED and d.status == decisions_pb2.DECISION_STATUS_PENDING_APPROVAL
    [hearing] = full.hearings
    assert hearing.decision_id == d.decision_id and hearing.started_by_client == "hub-automation"
    [letter] = letters(drops)   # the hearing letter went to the citizen; no decision letter yet
    assert "partshøring" in letter.lower() or "høring" in letter.lower()


def test_a_register_that_is_down_delays_the_case_and_blocks_no_other(hub, backoffice, disp, sims, clock):
    waiting, other = stage(sims), stage(sims)
    sims.rent.down()
    first = apply(backoffice, waiting)
    disp.drain()
    assert shown(backoffice, first.case_id).automation == C.AUTOMATION_IN_PROGRESS   # delayed, not failed
    sims.rent.up()
    second = apply(backoffice, other)
    disp.drain()
    assert shown(backoffice, second.case_id).automation == C.AUTOMATION_DECIDED      # not held up by the first
    clock.advance(hours=2)   # past the first's backoff
    disp.drain()
    assert shown(backoffice, first.case_id).automation == C.AUTOMATION_DECIDED


def test_a_person_who_submits_a_draft_first_takes_the_case_over(hub, backoffice, disp, sims):
    cpr = stage(sims)
    case = apply(backoffice, cpr)
    backoffice.AddInformation(C.AddInformationRequest(
        request_id=rid(), case_id=case.case_id, source=C.INFORMATION_SOURCE_CITIZEN, kind="rent.monthly",
        value={"number_value": 4000}))
    backoffice.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(50_000)]))
    disp.drain()   # the registers answer after the person's draft: the hub adds no draft of its own
    full = fell_out(backoffice, case.case_id, C.FALLOUT_REASON_TAKEN_OVER)
    assert len(full.decisions) == 1 and full.decisions[0].submitted_by_client == "backoffice"


def test_advance_child_support_is_decided_from_the_application_and_the_cpr_register(hub, backoffice, disp, sims):
    cpr = stage(sims)
    statement = {"child_support_fixed_oere_per_month": 315_800, "child_support_children": 2}
    case = apply(backoffice, cpr, statement, benefit="BOERNEBIDRAG")
    disp.drain()
    full = shown(backoffice, case.case_id)
    assert full.automation == C.AUTOMATION_DECIDED, C.FalloutReason.Name(full.fallout_reason)
    # At most the normalbidrag (1.675 kr a child a month in 2026), for two children.
    [d] = full.decisions
    assert [a.amount_oere for a in d.amounts] == [2 * 167_500]
    assert sims.rent.requests == 0 and sims.income.requests == 0   # the rules need neither


def test_the_share_decided_without_a_person_is_reported_per_benefit_and_municipality(hub, backoffice, disp, sims):
    decided = [apply(backoffice, stage(sims)) for _ in range(3)]
    unknown = new_cpr()
    sims.cpr.put_person(unknown, None)
    out = apply(backoffice, unknown)
    by_hand = backoffice.CreateCase(create_req(channel=common_pb2.CHANNEL_PHONE))
    disp.drain()
    report = backoffice.GetAutomationReport(rules_pb2.GetAutomationReportRequest(benefit_code="BOLIGSTOETTE"))
    [row] = report.figures
    assert (row.municipality_code, row.applications, row.processed_automatically, row.decided_automatically,
            row.fell_out) == ("101", 5, 4, 3, 1)
    assert dict(row.fell_out_by_reason) == {"MISSING_REGISTER_DATA": 1}
    assert row.decided_without_a_person_basis_points == 6000
    assert report.total.applications == 5 and len(decided) == 3 and out.case_id and by_hand.case_id
    # Within the caller's data limits: a caseworker of Aarhus sees none of Copenhagen's.
    other = hub.as_("t-cw-751").GetAutomationReport(rules_pb2.GetAutomationReportRequest())
    assert not other.figures and other.total.applications == 0


def test_a_failing_automatic_step_sends_the_case_to_the_back_office_and_the_answers_are_kept(
        hub, backoffice, disp, sims, monkeypatch):
    """A bug or an unforeseen fact in the automatic step must not make the register
    answers be delivered again and again (each retry failing the same way): they are
    recorded without it, and the case falls out, saying so."""
    from hub.service import automation

    def broken(uow, case, now):
        raise RuntimeError("a bug in the rules")
    monkeypatch.setattr(automation, "decide", broken)
    case = apply(backoffice, stage(sims))
    disp.drain()
    full = fell_out(backoffice, case.case_id, C.FALLOUT_REASON_NOT_CALCULABLE)
    assert "automatic processing failed (RuntimeError)" in full.fallout_detail
    assert {i.kind for i in full.information} == {"cpr.person", "rent.dwelling", "income.register_records"}
    assert (sims.cpr.requests, sims.rent.requests, sims.income.requests) == (1, 1, 1)   # each asked once
    with hub.engine.connect() as c:
        states = set(c.execute(sa.select(tables.outbox.c.status).where(
            tables.outbox.c.case_id == case.case_id)).scalars())
    assert states == {"DELIVERED"}
