"""The tax authority's final assessments (slutligning): the client against its simulator
over a real socket: generated figures, a year's assessments becoming known from a date,
fixtures, the batch look-up, a person the register does not know, a register that is
down, answers the client must refuse, the message it renders, and how the hub and
`make run` reach it."""
from __future__ import annotations

import datetime as dt
import json
import socket

import httpx
import pytest

from adapters.cpr_register.client import CprRegisterClient
from adapters.cpr_register.simulator import Population
from adapters.final_assessment.client import MONEY, FinalAssessmentClient
from adapters.final_assessment.simulator import Simulator, generated
from hub.ports import CPR_REGISTER, DESTINATIONS, FINAL_ASSESSMENT, Delivery, DeliveryFailed
from hub.ports import messages as msg
from tests.conftest import USED_CPRS, new_cpr
from tests.dispatch_support import ScriptedRegister

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)
YEAR = 2025


def _cpr(number: str) -> str:
    USED_CPRS.add(number)  # the test run fails if it shows up in a log line
    return number


def request(cpr: str, year: int = YEAR) -> Delivery:
    m = msg.FinalIncomeRequest(case_id="c-1", municipality_code="101", cpr=cpr, income_year=year)
    return Delivery(f"final/c-1/{year}", FINAL_ASSESSMENT, "c-1", m, 1, NOW, NOW)


def _refusal(call) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as e:
        call()
    return e.value


# One simulator for the module (stopping one takes a while), on a day the test sets,
# back to its generated data and up for every test.
@pytest.fixture(scope="module")
def _sim():
    day = {"today": NOW.date()}
    sim = Simulator(today=lambda: day["today"]).start_in_thread()
    sim.day = day
    yield sim
    sim.stop()


@pytest.fixture
def sim(_sim):
    _sim.clear_fixtures()
    _sim.day["today"] = NOW.date()
    return _sim


@pytest.fixture
def client(sim):
    c = FinalAssessmentClient(sim.url, timeout=5)
    yield c
    c.close()


def _adults(n: int, born: dt.date = dt.date(1975, 4, 2)) -> list[str]:
    return [new_cpr(born + dt.timedelta(days=7 * i)) for i in range(n)]


def _extended(cpr: str) -> bool:
    return generated(cpr, YEAR)[1]


# ---- the answers ----------------------------------------------------------------------------

def test_an_assessed_year_gives_the_components_in_oere_with_provenance(client):
    citizen = new_cpr(dt.date(1975, 4, 2))
    receipt = client.deliver(request(citizen))
    assert receipt.reference.startswith("FA-") and citizen not in receipt.reference
    assert set(receipt.data) == {"cpr", "income_year", "fetched_at", "status", "assessment"}
    assert (receipt.data["cpr"], receipt.data["income_year"], receipt.data["status"]) == (citizen, YEAR, "assessed")
    assert dt.datetime.fromisoformat(receipt.data["fetched_at"]).tzinfo is not None
    a = receipt.data["assessment"]
    assert list(a) == ["reference", "assessed_on", *MONEY]
    assert a["reference"].startswith(f"AO-{YEAR}-") and citizen not in a["reference"]
    amounts, extended = generated(citizen, YEAR)
    assert {k: a[k] for k in MONEY} == amounts
    assert a["assessed_on"] == "2026-03-15" if not extended else "2026-06-23" <= a["assessed_on"] <= "2026-09-06"
    assert all(type(a[k]) is int and a[k] % 100 == 0 for k in MONEY)  # whole kroner, in øre
    assert a["taxable_income_oere"] == a["personal_income_oere"] + a["capital_income_oere"] - a["deductions_oere"]
    # The same person and year: the same assessment, whoever asks and when.
    again = client.deliver(request(citizen))
    assert again.data["assessment"] == a and again.reference != receipt.reference


def test_the_generated_population_is_stable_and_varied(client):
    people = _adults(300) + [new_cpr(dt.date(1950, 1, 1) + dt.timedelta(days=41 * i)) for i in range(100)]
    seen = {name: set() for name in ("negative_capital", "positive_capital", "shares", "no_shares",
                                     "work", "no_work")}
    for citizen in people:
        amounts, _ = generated(citizen, YEAR)
        assert generated(citizen, YEAR)[0] == amounts  # fixed by the number and the year
        assert amounts["deductions_oere"] >= 0 and amounts["share_dividends_oere"] >= 0
        seen["negative_capital" if amounts["capital_income_oere"] < 0 else "positive_capital"].add(citizen)
        seen["shares" if amounts["share_income_oere"] else "no_shares"].add(citizen)
        seen["work" if amounts["personal_work_income_oere"] else "no_work"].add(citizen)
    assert all(seen.values()), {k: len(v) for k, v in seen.items()}
    assert generated(people[0], YEAR) != generated(people[0], YEAR - 1)
    extended = [c for c in people if _extended(c)]
    assert 0 < len(extended) < 0.2 * len(people)  # the self-employed: a later assessment
    # A child has an assessment with nothing in it.
    population = Population(NOW.date())
    child = next(c for c in (f"0203154{n:03d}" for n in range(1000)) if population.known(c))
    a = client.deliver(request(_cpr(child))).data["assessment"]
    assert {k: a[k] for k in MONEY} == dict.fromkeys(MONEY, 0) and a["assessed_on"] == "2026-03-15"


def test_a_year_is_assessed_from_its_date_and_can_be_held_back(sim, client):
    ordinary = next(c for c in _adults(50) if not _extended(c))
    self_employed = next(c for c in _adults(400, dt.date(1960, 1, 1)) if _extended(c))
    # The year not yet ended, and the year before its assessments are out: answers, not failures.
    for today, year in [(NOW.date(), 2026), (dt.date(2026, 3, 14), YEAR)]:
        sim.day["today"] = today
        got = client.deliver(request(ordinary, year))
        assert (got.data["status"], got.data["assessment"]) == ("not_assessed", None) and got.reference
    sim.day["today"] = dt.date(2026, 3, 15)
    first = client.deliver(request(ordinary)).data["assessment"]
    assert first["assessed_on"] == "2026-03-15"
    assert client.deliver(request(self_employed)).data["status"] == "not_assessed"  # an extended return: later
    sim.day["today"] = dt.date(2026, 10, 1)
    later = client.deliver(request(self_employed)).data["assessment"]["assessed_on"]
    assert "2026-06-23" <= later <= "2026-09-06"

    # Told that the year is not assessed yet, then from another day, over HTTP as a
    # `make run` user would.
    assert httpx.put(f"{sim.url}/v1/fixtures/year", json=dict(income_year=YEAR, assessed_from=None)).status_code == 204
    assert client.deliver(request(ordinary)).data["status"] == "not_assessed"
    assert client.deliver(request(self_employed)).data["status"] == "not_assessed"
    put = httpx.put(f"{sim.url}/v1/fixtures/year", json=dict(income_year=YEAR, assessed_from="2026-05-01"))
    assert put.status_code == 204
    a = client.deliver(request(ordinary)).data["assessment"]
    assert a["assessed_on"] == "2026-05-01" and a["reference"] != first["reference"]
    assert {k: a[k] for k in MONEY} == {k: first[k] for k in MONEY}
    for body in (dict(income_year=YEAR, assessed_from="1 May"), dict(income_year="2025", assessed_from=None),
                 dict(income_year=YEAR)):
        bad = httpx.put(f"{sim.url}/v1/fixtures/year", json=body)
        assert bad.status_code == 400, body


# ---- fixtures ----------------------------------------------------------------------------------

def test_fixtures_win_over_the_generated_data_in_process_and_over_http(sim, client):
    citizen = next(c for c in _adults(50, dt.date(1980, 2, 3)) if not _extended(c))
    generated_answer = client.deliver(request(citizen)).data["assessment"]
    sim.put_final_income(citizen, YEAR, dict(personal_income_oere=31_250_000, capital_income_oere=-1_520_000,
                                             deductions_oere=2_000_000))
    a = client.deliver(request(citizen)).data["assessment"]
    assert (a["personal_income_oere"], a["capital_income_oere"], a["deductions_oere"]) == (31_250_000, -1_520_000,
                                                                                          2_000_000)
    assert a["taxable_income_oere"] == 31_250_000 - 1_520_000 - 2_000_000  # recomputed from the others
    assert a["share_income_oere"] == generated_answer["share_income_oere"]  # the rest as generated
    assert a["assessed_on"] == generated_answer["assessed_on"]

    # Over HTTP, as a `make run` user stages a settlement: a reassessment with its own
    # reference and day, a year not yet assessed, a person not in the register.
    staged = dict(reference="AO-2025-STAGED-2", assessed_on="2026-05-20", personal_income_oere=28_000_000,
                  personal_work_income_oere=28_000_000, capital_income_oere=0, share_income_oere=1_000_000,
                  share_dividends_oere=500_000, deductions_oere=0, taxable_income_oere=28_000_000)
    put = httpx.put(f"{sim.url}/v1/fixtures/final-income", json=dict(cpr=citizen, income_year=YEAR, assessment=staged))
    assert put.status_code == 204
    assert client.deliver(request(citizen)).data["assessment"] == staged
    put = httpx.put(f"{sim.url}/v1/fixtures/final-income",
                    json=dict(cpr=citizen, income_year=YEAR, status="not_assessed"))
    assert put.status_code == 204
    assert client.deliver(request(citizen)).data["status"] == "not_assessed"
    assert client.deliver(request(citizen, 2024)).data["status"] == "assessed"  # per year
    put = httpx.put(f"{sim.url}/v1/fixtures/final-income", json=dict(cpr=citizen, income_year=YEAR, status="not_found"))
    assert put.status_code == 204
    assert _refusal(lambda: client.deliver(request(citizen))).not_found

    # A fixture that is not one is refused, naming what is wrong and never the number.
    for body in (dict(cpr=citizen[:9], income_year=YEAR), dict(cpr=citizen, income_year=1800),
                 dict(cpr=citizen, income_year=YEAR, status="gone"),
                 dict(cpr=citizen, income_year=YEAR, assessment=dict(salary_oere=1)),
                 dict(cpr=citizen, income_year=YEAR, assessment=[])):
        bad = httpx.put(f"{sim.url}/v1/fixtures/final-income", json=body)
        assert bad.status_code == 400 and citizen[:9] not in bad.text, body
    assert "no field salary_oere" in httpx.put(f"{sim.url}/v1/fixtures/final-income", json=dict(
        cpr=citizen, income_year=YEAR, assessment=dict(salary_oere=1))).text
    # Clearing them brings back the generated data.
    assert httpx.delete(f"{sim.url}/v1/fixtures").status_code == 204
    assert client.deliver(request(citizen)).data["assessment"] == generated_answer


# ---- the batch ----------------------------------------------------------------------------------

def test_the_batch_answers_per_person_in_one_request(sim, client):
    sim.day["today"] = dt.date(2026, 10, 1)  # the self-employed's assessments are out too
    people = _adults(995)
    held, gone = people[3], people[7]
    sim.put_final_income(held, YEAR, status="not_assessed")
    sim.put_final_income(gone, YEAR, status="not_found")
    unknown = _cpr("0101709995")                     # not in the CPR register
    unborn = _cpr("0501264123")                      # born 5 January 2026, after the income year
    staged = people[0]
    sim.put_final_income(staged, YEAR, dict(personal_income_oere=12_345_600))
    asked = people + [unknown, unborn, people[0], people[5]]  # 997 numbers, two asked twice
    before = sim.requests
    answers = client.lookup_many(YEAR, asked)
    assert sim.requests == before + 1                # one round trip for all of them
    assert list(answers) == people + [unknown, unborn]  # in the order asked, each once
    status = {c: r.data["status"] for c, r in answers.items()}
    assert (status[held], status[gone], status[unknown], status[unborn]) == ("not_assessed", "not_found",
                                                                            "not_found", "not_found")
    assert {status[c] for c in people if c not in (held, gone)} == {"assessed"}
    for c in (held, gone, unknown, unborn):
        assert answers[c].data["assessment"] is None
    assert answers[staged].data["assessment"]["personal_income_oere"] == 12_345_600
    # Each answer has the shape and the figures a single look-up gives, and the batch's reference.
    references = {r.reference for r in answers.values()}
    assert len(references) == 1 and references.pop().startswith("FA-")
    for c in [c for c in people[:40] if c != gone]:
        one = client.deliver(request(c)).data
        assert answers[c].data == dict(one, fetched_at=answers[c].data["fetched_at"])
    assert _refusal(lambda: client.deliver(request(unborn))).not_found  # one at a time: a 404


def test_more_than_a_thousand_numbers_go_in_requests_of_a_thousand(sim, client):
    people = _adults(1500, dt.date(1955, 1, 1))
    before = sim.requests
    answers = client.lookup_many(YEAR, people)
    assert sim.requests == before + 2 and list(answers) == people
    assert len({r.reference for r in answers.values()}) == 2
    assert client.lookup_many(YEAR, []) == {} and sim.requests == before + 2


def test_what_the_register_receives_for_a_batch_and_what_the_client_refuses_to_send(recorder):
    people = _adults(3, dt.date(1990, 5, 5))
    recorder.answer = dict(reference="FA-1", fetched_at=NOW.isoformat(), income_year=YEAR,
                           results=[dict(cpr=c, status="not_assessed", assessment=None) for c in people])
    client = FinalAssessmentClient(recorder.url, timeout=5)
    assert {c: r.data["status"] for c, r in client.lookup_many(YEAR, people).items()} == dict.fromkeys(
        people, "not_assessed")
    assert recorder.seen == [("/v1/final-income/batch", dict(income_year=YEAR, cprs=people))]
    for year, numbers, named in [(YEAR, [people[0], people[1][:9]], "cprs[1] is not a CPR number"),
                                 (YEAR, ["3102901234"], "cprs[0] is not a CPR number"),
                                 (2025.0, people, "income_year must be a year"), ("2025", people, "income_year")]:
        with pytest.raises(ValueError) as e:
            client.lookup_many(year, numbers)
        assert named in str(e.value) and all(n[:9] not in str(e.value) for n in numbers if isinstance(n, str))
    assert len(recorder.seen) == 1  # nothing sent for them


def test_the_simulator_refuses_a_batch_it_cannot_read(sim):
    people = _adults(2)
    for body, named in [(dict(income_year=YEAR, cprs=[]), "cprs must be a list of 1 to 1000"),
                        (dict(income_year=YEAR, cprs=[people[0]] * 2), "cprs holds a number more than once"),
                        (dict(income_year=YEAR, cprs=[people[0], people[1][:9]]), "cprs[1] must be 10 digits"),
                        (dict(income_year=YEAR, cprs=people * 501), "cprs must be a list of 1 to 1000"),
                        (dict(cprs=people), "income_year is required"),
                        (dict(income_year=True, cprs=people), "income_year must be a year")]:
        r = httpx.post(f"{sim.url}/v1/final-income/batch", json=body)
        assert r.status_code == 400 and named in r.json()["error"] and people[0] not in r.text, body


# ---- not found, down, unreachable -------------------------------------------------------------------

def test_a_person_the_register_does_not_know_is_a_permanent_not_found(client, sim):
    for number in (_cpr("0101709995"), _cpr("0501264123")):
        e = _refusal(lambda: client.deliver(request(number)))
        assert e.permanent and e.not_found and "not in the register" in str(e) and number not in str(e)
    # A 404 from a wrong address is permanent too, but says nothing about the citizen.
    wrong = FinalAssessmentClient(sim.url + "/elsewhere", timeout=5)
    e = _refusal(lambda: wrong.deliver(request(new_cpr())))
    assert e.permanent and not e.not_found and "HTTP 404" in str(e)
    e = _refusal(lambda: wrong.lookup_many(YEAR, [new_cpr()]))
    assert e.permanent and not e.not_found and "HTTP 404" in str(e)


def test_a_register_that_is_down_is_retried_and_fine_once_it_is_up(sim, client):
    citizen = new_cpr(dt.date(1971, 7, 7))
    asks = [lambda: client.deliver(request(citizen)), lambda: client.lookup_many(YEAR, [citizen])[citizen]]
    for ask in asks:
        sim.down()
        e = _refusal(ask)
        assert not e.permanent and not e.not_found and "HTTP 503" in str(e) and citizen not in str(e)
        sim.up()
        assert ask().reference
    assert httpx.put(f"{sim.url}/v1/fixtures/outage", json=dict(down=True, seconds=3600)).status_code == 204
    assert not _refusal(asks[0]).permanent and not _refusal(asks[1]).permanent
    assert httpx.put(f"{sim.url}/v1/fixtures/outage", json=dict(down=False)).status_code == 204
    assert asks[0]().reference


def test_a_register_that_does_not_answer_or_cannot_be_reached_is_retried():
    silent = socket.create_server(("127.0.0.1", 0))  # listens, never answers
    try:
        client = FinalAssessmentClient(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2,
                                       batch_timeout=0.2)
        assert "timed out" in str(_refusal(lambda: client.deliver(request(new_cpr()))))
        e = _refusal(lambda: client.lookup_many(YEAR, [new_cpr()]))
        assert not e.permanent and "timed out" in str(e)
    finally:
        silent.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    e = _refusal(lambda: FinalAssessmentClient(f"http://127.0.0.1:{port}", timeout=1).deliver(request(new_cpr())))
    assert not e.permanent and "unreachable" in str(e)


# ---- answers the client refuses ------------------------------------------------------------------

@pytest.fixture(scope="module")
def _recorder():
    reg = ScriptedRegister()
    yield reg
    reg.stop()


@pytest.fixture
def recorder(_recorder):
    return _recorder.reset()


def _set(answer: dict, path: str, value) -> dict:
    """A deep copy of `answer` with the field at `path` ("assessment.reference",
    "results.1.status") set to `value`, or removed when value is ...)."""
    out = json.loads(json.dumps(answer))
    *parents, last = path.split(".")
    node = out
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    key = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return out


CITIZEN = "1204781234"
OTHER = "0311652345"
USED_CPRS.update({CITIZEN, OTHER})
ASSESSMENT = dict(reference="AO-2025-1", assessed_on="2026-03-15", personal_income_oere=31_250_000,
                  personal_work_income_oere=30_000_000, capital_income_oere=-1_520_000, share_income_oere=900_000,
                  share_dividends_oere=400_000, deductions_oere=2_000_000, taxable_income_oere=27_730_000)
ANSWER = dict(reference="FA-1", fetched_at=NOW.isoformat(), cpr=CITIZEN, income_year=YEAR, status="assessed",
              assessment=ASSESSMENT)


@pytest.mark.parametrize("path,value,named", [
    ("assessment.personal_income_oere", 312_500.5, "answer.assessment.personal_income_oere is not a whole number of "
                                                   "øre (a float)"),
    ("assessment.capital_income_oere", "-1520000", "answer.assessment.capital_income_oere is not a whole number of "
                                                   "øre (a str)"),
    ("assessment.share_income_oere", True, "answer.assessment.share_income_oere is not a whole number of øre (a bool)"),
    ("assessment.deductions_oere", -1, "answer.assessment.deductions_oere is not at least 0"),
    ("assessment.share_dividends_oere", None, "answer.assessment.share_dividends_oere is null"),
    ("assessment.personal_work_income_oere", ..., "answer.assessment.personal_work_income_oere is missing"),
    ("assessment.taxable_income_oere", 1 << 63, "answer.assessment.taxable_income_oere is not within int64"),
    ("assessment.taxable_income_oere", -(1 << 63), "answer.assessment.taxable_income_oere is not at least"),
    ("assessment.assessed_on", "15-03-2026", "answer.assessment.assessed_on is not an ISO date"),
    ("assessment.assessed_on", "2025-12-31", "answer.assessment.assessed_on is not after the income year"),
    ("assessment.reference", "", "answer.assessment.reference is not text"),
    ("assessment", [], "answer.assessment is not an object"),
    ("assessment", None, "answer.assessment is null for an assessed person"),
    ("status", "final", "answer.status is not one of assessed, not_assessed"),
    ("status", "not_found", "answer.status is not one of assessed, not_assessed"),
    ("status", "not_assessed", "answer.assessment is not null for a person who is not_assessed"),
    ("cpr", OTHER, "answer.cpr is not the number asked for"),
    ("cpr", 1204781234, "answer.cpr is not a CPR number"),
    ("income_year", 2024, "answer.income_year is not the year asked for"),
    ("income_year", 2025.0, "answer.income_year is not the year asked for"),
    ("fetched_at", "2026-06-01T09:00:00", "answer.fetched_at is not an ISO time with its offset"),
    ("fetched_at", ..., "answer.fetched_at is missing"),
])
def test_a_malformed_answer_is_refused_naming_the_field(recorder, path, value, named):
    client = FinalAssessmentClient(recorder.url, timeout=5)
    recorder.answer = _set(ANSWER, path, value)
    e = _refusal(lambda: client.deliver(request(CITIZEN)))
    assert e.permanent and not e.not_found and named in str(e), str(e)
    assert str(e).startswith("final assessment register answer FA-1 refused: ")
    assert CITIZEN not in str(e) and OTHER not in str(e)
    recorder.answer = ANSWER  # and the answer as it should be is taken
    assert client.deliver(request(CITIZEN)).data == dict(
        cpr=CITIZEN, income_year=YEAR, fetched_at=NOW.isoformat(), status="assessed", assessment=ASSESSMENT)
    assert recorder.seen[0] == ("/v1/final-income", dict(cpr=CITIZEN, income_year=YEAR))


def _batch_answer() -> dict:
    return dict(reference="FA-2", fetched_at=NOW.isoformat(), income_year=YEAR,
                results=[dict(cpr=CITIZEN, status="assessed", assessment=ASSESSMENT),
                         dict(cpr=OTHER, status="not_found", assessment=None)])


@pytest.mark.parametrize("path,value,named", [
    ("results.0.assessment.capital_income_oere", 1.5, "results[0].assessment.capital_income_oere is not a whole "
                                                      "number of øre (a float)"),
    ("results.1.status", "gone", "results[1].status is not one of assessed, not_assessed, not_found"),
    ("results.1.assessment", ASSESSMENT, "results[1].assessment is not null for a person who is not_found"),
    ("results.1.cpr", "0101701234", "results[1].cpr is not a number asked for"),
    ("results.1.cpr", CITIZEN, "results[1].cpr is answered twice"),
    ("results.1", ..., "results does not answer for 1 of the 2 numbers asked for"),
    ("results", {}, "answer.results is not a list"),
    ("results.0", "?", "results[0] is not an object"),
    ("income_year", 2024, "answer.income_year is not the year asked for"),
])
def test_a_malformed_batch_is_refused_whole_naming_the_field(recorder, path, value, named):
    USED_CPRS.add("0101701234")
    client = FinalAssessmentClient(recorder.url, timeout=5)
    recorder.answer = _set(_batch_answer(), path, value)
    e = _refusal(lambda: client.lookup_many(YEAR, [CITIZEN, OTHER]))
    assert e.permanent and not e.not_found and named in str(e), str(e)
    assert str(e).startswith("final assessment register answer FA-2 refused: ")
    assert CITIZEN not in str(e) and OTHER not in str(e) and "0101701234" not in str(e)
    recorder.answer = _batch_answer()
    got = client.lookup_many(YEAR, [CITIZEN, OTHER])
    assert got[CITIZEN].data["assessment"] == ASSESSMENT and got[OTHER].data["status"] == "not_found"


def test_a_value_that_is_a_cpr_number_is_never_echoed(recorder):
    client = FinalAssessmentClient(recorder.url, timeout=5)
    for path in ("status", "assessment.assessed_on", "assessment.deductions_oere", "income_year", "cpr"):
        recorder.answer = _set(ANSWER, path, OTHER)
        e = _refusal(lambda: client.deliver(request(CITIZEN)))
        assert e.permanent and OTHER not in str(e) and CITIZEN not in str(e)
    recorder.answer = _set(_batch_answer(), "results.1.status", OTHER)
    e = _refusal(lambda: client.lookup_many(YEAR, [CITIZEN, OTHER]))
    assert OTHER not in str(e) and f"{OTHER[:6]}-{OTHER[6:]}" not in str(e)
    recorder.answer = dict(ANSWER, reference=f"FA-{CITIZEN}", assessment="?")
    e = _refusal(lambda: client.deliver(request(CITIZEN)))
    assert "FA-[CPR] refused: answer.assessment is not an object" in str(e)


def test_other_answers_are_classified(recorder):
    client = FinalAssessmentClient(recorder.url, timeout=5)
    recorder.answer = b"<html>oops</html>"
    assert not _refusal(lambda: client.deliver(request(CITIZEN))).permanent  # not JSON: try again later
    recorder.answer = {k: v for k, v in ANSWER.items() if k != "reference"}
    assert _refusal(lambda: client.deliver(request(CITIZEN))).permanent  # no reference
    for status, permanent in [(400, True), (404, True), (408, False), (429, False), (500, False), (503, False)]:
        recorder.status, recorder.answer = status, {"error": "something"}
        for ask in (lambda: client.deliver(request(CITIZEN)), lambda: client.lookup_many(YEAR, [CITIZEN])):
            e = _refusal(ask)
            assert e.permanent is permanent and not e.not_found and f"HTTP {status}" in str(e)


# ---- the message --------------------------------------------------------------------------------

def test_the_request_goes_to_the_final_assessment_register_and_reads_back():
    m = msg.FinalIncomeRequest(case_id="c", municipality_code="101", cpr=CITIZEN, income_year=YEAR,
                               requested_by="settlement")
    assert (m.DESTINATION, FINAL_ASSESSMENT) == ("final_assessment", "final_assessment")
    assert FINAL_ASSESSMENT in DESTINATIONS and msg.KINDS["final_income_request"] is msg.FinalIncomeRequest
    assert not isinstance(m, msg.REGISTER_KINDS)  # its answer is not register data put on the case
    row = m.outbox("id-1", "c")
    assert row.destination == FINAL_ASSESSMENT and msg.decode(row.destination, row.payload) == m
    assert m.to_payload() == dict(kind="final_income_request", case_id="c", municipality_code="101", cpr=CITIZEN,
                                  income_year=YEAR, register="final_assessment", requested_by="settlement")
    with pytest.raises(msg.UnreadableMessage):
        msg.decode(CPR_REGISTER, m.to_payload())
    for broken in (dict(m.to_payload(), income_year="2025"), dict(m.to_payload(), income_year=2025.0),
                   {k: v for k, v in m.to_payload().items() if k != "income_year"}):
        with pytest.raises(msg.UnreadableMessage) as e:
            msg.decode(FINAL_ASSESSMENT, broken)
        assert "income_year" in str(e.value) and CITIZEN not in str(e.value)


def test_the_client_renders_only_its_own_message_and_only_a_real_request(client, sim):
    person = msg.PersonRequest(case_id="c", municipality_code="101", cpr=CITIZEN)
    e = _refusal(lambda: client.deliver(Delivery("p", CPR_REGISTER, "c", person, 1, NOW, NOW)))
    assert e.permanent and "cannot render a person_request" in str(e)
    cpr_client = CprRegisterClient(sim.url, timeout=5)
    e = _refusal(lambda: cpr_client.deliver(request(CITIZEN)))
    assert e.permanent and "cannot render a final_income_request" in str(e)
    before = sim.requests
    for number, year, named in [("3102901234", YEAR, "not a CPR number"), ("120478-1234", YEAR, "not a CPR number"),
                                (CITIZEN, 1969, "not a year from 1970 to 2099")]:
        e = _refusal(lambda: client.deliver(request(number, year)))
        assert e.permanent and not e.not_found and named in str(e) and number not in str(e)
    assert sim.requests == before  # nothing asked


# ---- how the hub reaches it ------------------------------------------------------------------------

def test_the_hub_is_wired_to_the_final_assessment_register_by_its_settings(tmp_path):
    from hub import bootstrap
    from hub.settings import Settings
    assert Settings.from_env({}).final_assessment_url == "http://127.0.0.1:8092"
    s = Settings.from_env({"HUB_FINAL_ASSESSMENT_URL": "http://skat.example:3/", "HUB_VAR_DIR": str(tmp_path)})
    adapter = bootstrap.adapters(s)[FINAL_ASSESSMENT]
    assert isinstance(adapter, FinalAssessmentClient) and adapter.base_url == "http://skat.example:3"
    s = Settings.from_env({"HUB_DISPATCH_TIMEOUT_FINAL_ASSESSMENT_SECONDS": "7"})
    assert s.dispatcher.timeout(FINAL_ASSESSMENT) == 7
