"""The registers' batch look-ups, as an IT control run asks them (hub.ports.RegisterLookups,
adapters/register_lookups.py): the CPR, rent and income register simulators answer many
keys in one request over a real socket, each answer the same as a single look-up's; the
clients read a batch as strictly as a single answer, refuse a malformed one whole naming
the field (never a value), never send what is not a key, and split more than 1,000 keys
into several requests."""
from __future__ import annotations

import datetime as dt

import httpx
import pytest

from adapters.cpr_register.client import CprRegisterClient
from adapters.cpr_register.simulator import Simulator as CprSimulator
from adapters.income_register.client import IncomeRegisterClient
from adapters.income_register.simulator import Simulator as IncomeSimulator
from adapters.register_lookups import RegisterBatches
from adapters.rent_register.client import RentRegisterClient
from adapters.rent_register.simulator import Simulator as RentSimulator
from hub.ports import Delivery, DeliveryFailed
from hub.ports import messages as m
from tests.conftest import new_cpr
from tests.dispatch_support import ScriptedRegister
from tests.test_straight_through import income_month

TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc)
MONTHS = ["2026-01", "2026-02"]


@pytest.fixture
def sims():
    cpr, rent, income = CprSimulator(today=lambda: TODAY), RentSimulator(), IncomeSimulator()
    for s in (cpr, rent, income):
        s.start_in_thread()
    yield cpr, rent, income
    for s in (cpr, rent, income):
        s.stop()


@pytest.fixture
def recorder():
    r = ScriptedRegister()
    yield r
    r.stop()


def _delivery(message) -> Delivery:
    return Delivery("x", message.DESTINATION, "case", message, 1, NOW, NOW)


def _refusal(fn) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as e:
        fn()
    return e.value


def test_a_batch_of_persons_answers_each_as_a_single_look_up_does(sims):
    cpr_sim, _, _ = sims
    client = CprRegisterClient(cpr_sim.url, timeout=5)
    people = [new_cpr(), new_cpr(dt.date(1950, 2, 2)), new_cpr(dt.date(1988, 3, 3))]
    unknown = "0101709995"   # (the register knows no number ending in 9990-9999)
    staged = new_cpr()
    cpr_sim.put_person(staged, dict(status="dead", status_date="2026-01-05"), None)
    before = cpr_sim.requests
    got = client.lookup_many(people + [unknown, staged, people[0]])
    assert cpr_sim.requests == before + 1 and list(got) == people + [unknown, staged]
    for number in people:
        single = client.deliver(_delivery(m.PersonRequest(case_id="c", municipality_code="101", cpr=number)))
        assert got[number].data == dict(status="found", fetched_at=got[number].data["fetched_at"],
                                        person=single.data["person"], household=single.data["household"])
        assert got[number].reference.startswith("CPR-") and got[number].reference != single.reference
    assert got[unknown].data["status"] == "not_found" and got[unknown].data["person"] is None
    assert (got[staged].data["person"]["status"], got[staged].data["household"]) == ("dead", None)
    before = cpr_sim.requests
    assert client.lookup_many([]) == {} and cpr_sim.requests == before   # nothing to ask: no request


def test_a_batch_of_dwellings_and_of_incomes(sims):
    cpr_sim, rent_sim, income_sim = sims
    cpr = new_cpr()
    address = CprRegisterClient(cpr_sim.url).lookup_many([cpr])[cpr].data["person"]["address_id"]
    rent = RentRegisterClient(rent_sim.url, timeout=5)
    got = rent.lookup_many([address, "no-such-address"])
    single = rent.deliver(_delivery(m.DwellingRequest(case_id="c", municipality_code="101", address_id=address)))
    assert got[address].data["dwelling"] == single.data["dwelling"] and got[address].data["status"] == "found"
    assert got["no-such-address"].data == dict(status="not_found", fetched_at=got["no-such-address"].data[
        "fetched_at"], dwelling=None)
    income = IncomeRegisterClient(income_sim.url, timeout=5)
    staged = new_cpr()
    income_sim.put_income(staged, "2026-02", income_month("2026-02", 2_000_000))
    before = income_sim.requests
    got = income.lookup_many([cpr, staged], MONTHS)
    assert income_sim.requests == before + 1
    single = income.deliver(_delivery(m.RegisterRequest(register="INCOME", case_id="c", municipality_code="101",
                                                        cpr=cpr, months=tuple(MONTHS))))
    assert got[cpr].data["records"] == single.data["records"]
    assert [r["a_income_with_am_oere"] for r in got[staged].data["records"] if r["income_period_start"] ==
            "2026-02-01"] == [income_month("2026-02", 2_000_000)[0]["a_income_with_am_oere"]]
    with pytest.raises(ValueError):
        income.lookup_many([cpr], ["2026-01", "2026-03"])   # not consecutive


def test_more_than_a_thousand_keys_go_in_several_requests(sims):
    cpr_sim, _, _ = sims
    numbers = [f"0101{60 + i % 30:02d}{i // 30:04d}" for i in range(1_001)]
    before = cpr_sim.requests
    got = RegisterBatches(cpr_sim.url, "http://127.0.0.1:9", "http://127.0.0.1:9").persons(numbers)
    assert cpr_sim.requests == before + 2 and list(got) == numbers


def test_what_the_registers_receive_and_what_the_clients_refuse_to_send(recorder):
    people = [new_cpr(), new_cpr()]
    recorder.answer = dict(reference="CPR-1", fetched_at=NOW.isoformat(),
                           results=[dict(cpr=c, status="not_found", person=None, household=None) for c in people])
    client = CprRegisterClient(recorder.url, timeout=5)
    assert {c: r.data["status"] for c, r in client.lookup_many(people).items()} == dict.fromkeys(people, "not_found")
    recorder.answer = dict(reference="EI-1", fetched_at=NOW.isoformat(),
                           results=[dict(cpr=c, records=[]) for c in people])
    IncomeRegisterClient(recorder.url).lookup_many(people, MONTHS)
    recorder.answer = dict(reference="HLR-1", fetched_at=NOW.isoformat(),
                           results=[dict(address_id="a-1", status="not_found", dwelling=None)])
    RentRegisterClient(recorder.url).lookup_many(["a-1"])
    assert recorder.seen == [("/v1/person/batch", dict(cprs=people)),
                             ("/v1/income/batch", dict(cprs=people, from_month="2026-01", to_month="2026-02")),
                             ("/v1/dwelling/batch", dict(address_ids=["a-1"]))]
    for numbers, named in [([people[0], people[1][:9]], "cprs[1] is not a CPR number"),
                           (["3102901234"], "cprs[0] is not a CPR number")]:
        with pytest.raises(ValueError) as e:
            client.lookup_many(numbers)
        assert named in str(e.value) and all(n[:9] not in str(e.value) for n in numbers)
    assert len(recorder.seen) == 3   # nothing sent for them


@pytest.mark.parametrize("results,named", [
    (lambda a, b: [dict(cpr=a, status="not_found", person=None, household=None)], "does not answer for 1 of the 2"),
    (lambda a, b: [dict(cpr=a, status="not_found", person=None, household=None)] * 2, "results[1].cpr is answered twice"),
    (lambda a, b: [dict(cpr=a, status="gone", person=None, household=None),
                   dict(cpr=b, status="not_found", person=None, household=None)], "results[0].status is not one of"),
    (lambda a, b: [dict(cpr=a, status="found", person=dict(cpr=b), household=None),
                   dict(cpr=b, status="not_found", person=None, household=None)],
     "results[0].person.cpr is not the number asked for"),
    (lambda a, b: [dict(cpr="0101709990", status="not_found", person=None, household=None),
                   dict(cpr=b, status="not_found", person=None, household=None)], "results[0].cpr is not a number"),
])
def test_a_malformed_batch_is_refused_whole_naming_the_field_never_a_value(recorder, results, named):
    a, b = new_cpr(), new_cpr()
    recorder.answer = dict(reference="CPR-1", fetched_at=NOW.isoformat(), results=results(a, b))
    e = _refusal(lambda: CprRegisterClient(recorder.url, timeout=5).lookup_many([a, b]))
    assert e.permanent and named in str(e) and a not in str(e) and b not in str(e), str(e)


def test_a_batch_with_money_that_is_not_whole_oere_is_refused(recorder):
    a = new_cpr()
    records = income_month("2026-01", 1_000_000)
    records[0]["a_income_with_am_oere"] = 1234.5
    recorder.answer = dict(reference="EI-1", fetched_at=NOW.isoformat(), results=[dict(cpr=a, records=records)])
    e = _refusal(lambda: IncomeRegisterClient(recorder.url).lookup_many([a], MONTHS))
    assert e.permanent and "results[0]: record 0: a_income_with_am_oere is not a whole number" in str(e)


def test_the_simulators_refuse_a_batch_they_cannot_read(sims):
    cpr_sim, rent_sim, income_sim = sims
    a = new_cpr()
    for url, body, named in [
        (f"{cpr_sim.url}/v1/person/batch", dict(cprs=[]), "cprs must be a list of 1 to 1000"),
        (f"{cpr_sim.url}/v1/person/batch", dict(cprs=[a, a]), "cprs holds a key more than once"),
        (f"{cpr_sim.url}/v1/person/batch", dict(cprs=[a, a[:9]]), "cprs[1] is not one"),
        (f"{cpr_sim.url}/v1/person/batch", dict(cprs=[a] * 1001), "cprs must be a list of 1 to 1000"),
        (f"{rent_sim.url}/v1/dwelling/batch", dict(address_ids=[""]), "address_ids[0] is not one"),
        (f"{income_sim.url}/v1/income/batch", dict(cprs=[a], from_month="2026-02"), "to_month is required"),
        (f"{income_sim.url}/v1/income/batch", dict(cprs=[a], from_month="2026-02", to_month="2026-01"),
         "between 1 and 36 months"),
    ]:
        r = httpx.post(url, json=body)
        assert r.status_code == 400 and named in r.json()["error"] and a not in r.text, (url, body, r.text)


def test_a_register_that_is_down_fails_the_batch_for_a_retry(sims):
    cpr_sim, rent_sim, income_sim = sims
    batches = RegisterBatches(cpr_sim.url, rent_sim.url, income_sim.url, timeout=5)
    citizen = new_cpr()
    for sim, ask in [(cpr_sim, lambda: batches.persons([citizen])),
                     (income_sim, lambda: batches.incomes([citizen], MONTHS)),
                     (rent_sim, lambda: batches.dwellings(["adr"]))]:
        sim.down()
        e = _refusal(ask)
        assert not e.permanent and "HTTP 503" in str(e) and citizen not in str(e)
        sim.up()
        assert ask()
    batches.close()
