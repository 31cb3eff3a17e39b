"""The CPR register and the rent register (and the income register's fixtures), each
client against its simulator over a real socket: what the hub receives, fixtures,
a register that does not know the citizen, a register that is down, answers the
clients must refuse, and the simulators as `make run` starts them."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from adapters.cpr_register.client import CprRegisterClient
from adapters.cpr_register.simulator import Population, Simulator as CprSimulator, partner
from adapters.income_register.client import IncomeRegisterClient
from adapters.income_register.simulator import Simulator as IncomeSimulator, income_records
from adapters.rent_register.client import RentRegisterClient
from adapters.rent_register.simulator import Simulator as RentSimulator, dwelling
from hub.domain.municipalities import all_municipalities
from hub.ports import CPR_REGISTER, DESTINATIONS, FINAL_ASSESSMENT, RENT_REGISTER, Delivery, DeliveryFailed
from hub.ports import messages as msg
from tests.conftest import USED_CPRS, new_cpr
from tests.dispatch_support import ScriptedRegister

USED_CPRS.add("0101701234")

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
TODAY = NOW.date()
POP = Population(TODAY)


def _cpr(number: str) -> str:
    USED_CPRS.add(number)  # the test run fails if it shows up in a log line
    return number


def person_request(cpr: str) -> Delivery:
    m = msg.PersonRequest(case_id="c-1", municipality_code="101", cpr=cpr)
    return Delivery(f"person/c-1/{cpr[:4]}", CPR_REGISTER, "c-1", m, 1, NOW, NOW)


def dwelling_request(address_id: str) -> Delivery:
    m = msg.DwellingRequest(case_id="c-1", municipality_code="101", address_id=address_id)
    return Delivery("dwelling/c-1", RENT_REGISTER, "c-1", m, 1, NOW, NOW)


def income_request(cpr: str, *months: str) -> Delivery:
    m = msg.RegisterRequest(register="income_register", case_id="c-1", municipality_code="101", cpr=cpr,
                            months=months)
    return Delivery("income/c-1", "income_register", "c-1", m, 1, NOW, NOW)


def _find(born: dt.date, wanted) -> str:
    """A test citizen (new_cpr, born on `born`) whose generated record is as wanted."""
    for _ in range(4000):
        c = new_cpr(born)
        record = POP.record(c)
        if record and wanted(record):
            return c
    raise AssertionError("no such citizen in the generated population")


def _family(record) -> bool:
    h = record["household"]
    return bool(h) and [m["relation"] for m in h["members"]].count("child") >= 2 and any(
        m["relation"] in ("spouse", "cohabitant") for m in h["members"])


# One simulator of each kind for the module (stopping one takes a while), back to its
# generated data and up for every test.
@pytest.fixture(scope="module")
def _sims():
    sims = dict(cpr=CprSimulator(today=lambda: TODAY).start_in_thread(), rent=RentSimulator().start_in_thread(),
                income=IncomeSimulator().start_in_thread())
    yield sims
    for sim in sims.values():
        sim.stop()


@pytest.fixture
def cpr_sim(_sims):
    _sims["cpr"].clear_fixtures()
    return _sims["cpr"]


@pytest.fixture
def rent_sim(_sims):
    _sims["rent"].clear_fixtures()
    return _sims["rent"]


@pytest.fixture
def income_sim(_sims):
    _sims["income"].clear_fixtures()
    return _sims["income"]


@pytest.fixture
def cpr_client(cpr_sim):
    client = CprRegisterClient(cpr_sim.url, timeout=5)
    yield client
    client.close()


@pytest.fixture
def rent_client(rent_sim):
    client = RentRegisterClient(rent_sim.url, timeout=5)
    yield client
    client.close()


def _refusal(call) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as e:
        call()
    return e.value


# ---- the answers ---------------------------------------------------------------------------------

def test_a_household_is_the_same_whichever_member_is_asked_for(cpr_client, rent_client):
    citizen = _find(dt.date(1985, 6, 15), _family)
    receipt = cpr_client.deliver(person_request(citizen))
    assert receipt.reference.startswith("CPR-") and citizen not in receipt.reference
    assert set(receipt.data) == {"fetched_at", "person", "household"}
    assert dt.datetime.fromisoformat(receipt.data["fetched_at"]).tzinfo is not None
    person, household = receipt.data["person"], receipt.data["household"]
    assert person["cpr"] == citizen and person["birth_date"] == "1985-06-15" and person["status"] == "alive"
    assert person["status_date"] is None and person["municipality_code"] in all_municipalities()
    assert household["address_id"] == person["address_id"]
    relations = {m["cpr"]: m["relation"] for m in household["members"]}
    assert relations[citizen] == "self" and list(relations.values()).count("self") == 1
    mate = next(c for c, r in relations.items() if r in ("spouse", "cohabitant"))
    USED_CPRS.update(relations)
    children = [c for c, r in relations.items() if r == "child"]
    assert 2 <= len(children) <= 4 and len(relations) <= 6
    if relations[mate] == "spouse":
        assert person["civil_status"] in ("married", "registered_partnership") and person["spouse_cpr"] == mate
    else:
        assert person["civil_status"] in ("unmarried", "divorced", "widowed") and person["spouse_cpr"] is None
    members = [m["cpr"] for m in household["members"]]

    # The partner: the same household at the same address, seen from the other side.
    theirs = cpr_client.deliver(person_request(mate)).data
    assert theirs["person"]["address_id"] == person["address_id"]
    assert theirs["person"]["municipality_code"] == person["municipality_code"]
    if relations[mate] == "spouse":  # (cohabitants each have their own: one may be divorced, the other not)
        assert theirs["person"]["civil_status"] == person["civil_status"]
        assert theirs["person"]["spouse_cpr"] == citizen
    else:
        assert theirs["person"]["civil_status"] in ("unmarried", "divorced", "widowed")
        assert theirs["person"]["spouse_cpr"] is None
    assert [m["cpr"] for m in theirs["household"]["members"]] == members
    assert {m["cpr"]: m["relation"] for m in theirs["household"]["members"]}[citizen] == relations[mate]

    # A child: under 18, the same household; its parents and siblings are "other" to it.
    child = cpr_client.deliver(person_request(children[0])).data
    born = dt.date.fromisoformat(child["person"]["birth_date"])
    assert (TODAY - born).days < 18 * 366 and child["person"]["civil_status"] == "unmarried"
    assert [m["cpr"] for m in child["household"]["members"]] == members
    assert {m["relation"] for m in child["household"]["members"] if m["cpr"] != children[0]} == {"other"}

    # The rent register knows the dwelling at that address.
    d = rent_client.deliver(dwelling_request(person["address_id"]))
    assert d.reference.startswith("HLR-") and set(d.data) == {"fetched_at", "dwelling"}
    flat = d.data["dwelling"]
    assert flat == dwelling(person["address_id"])
    assert flat["tenure"] in ("rental", "owner", "cooperative") and type(flat["area_m2"]) is int
    assert type(flat["rooms"]) is int and flat["rooms"] >= 1
    assert flat["rent_oere_per_year"] is None if flat["tenure"] == "owner" else type(flat["rent_oere_per_year"]) is int
    for name in ("heating_included", "hot_water_included", "electricity_included", "heating_separate",
                 "maintenance_duty", "water_separate"):
        assert type(flat[name]) is bool


def test_the_generated_population_follows_the_numbers():
    # The birth date comes from the date and the century digit (7th): 4 with 05 is 2005,
    # 4 with 12 is 2012, 5 with 96 is 1896 (and that one is dead, with the date of death).
    for number, born in [("0101054000", "2005-01-01"), ("1503124512", "2012-03-15"), ("2902965000", "1896-02-29")]:
        assert POP.record(_cpr(number))["person"]["birth_date"] == born
    old = POP.record("2902965000")["person"]
    assert old["status"] == "dead" and "1956-02-28" <= old["status_date"] <= TODAY.isoformat()
    assert POP.record("2902965000")["household"] is None
    # Not in the register: the last four digits 9990-9999, and impossible or future dates.
    for number in ["0101709990", "3112999999", "3002701234", "0101304234"]:
        assert POP.record(_cpr(number)) is None
    # Every number has one possible partner, and its partner is this number.
    for n in range(300):
        c = new_cpr(dt.date(1960 + n % 40, 1 + n % 12, 1 + n % 28))
        p = partner(c)
        assert p is None or (partner(p) == c and p != c)
    # Households: 1-2 adults and 0-4 children under 18, the same from every member, and
    # nearly everyone is alive.
    statuses, sizes = {}, set()
    for n in range(400):
        c = new_cpr(dt.date(1950 + n % 50, 1 + n % 12, 1 + n % 28))
        rec = POP.record(c)
        assert rec is not None  # new_cpr's numbers are all in the register
        statuses[rec["person"]["status"]] = statuses.get(rec["person"]["status"], 0) + 1
        if rec["household"] is None:
            assert rec["person"]["status"] != "alive"
            continue
        members = rec["household"]["members"]
        kids = [m for m in members if POP.young(m["cpr"])]
        sizes.add((len(members) - len(kids), len(kids)))
        for m in members:
            again = POP.record(m["cpr"])
            assert again["household"] == dict(rec["household"], members=again["household"]["members"])
            assert [x["cpr"] for x in again["household"]["members"]] == [x["cpr"] for x in members]
    assert statuses["alive"] > 0.9 * sum(statuses.values())
    assert {a for a, _ in sizes} == {1, 2} and {k for _, k in sizes} <= {0, 1, 2, 3, 4} and (2, 2) in sizes


def test_a_number_the_register_does_not_know_is_a_permanent_not_found(cpr_client, rent_client):
    unknown = _cpr("0101709995")  # the documented subset: last four digits 9990-9999
    e = _refusal(lambda: cpr_client.deliver(person_request(unknown)))
    assert e.permanent and e.not_found and "not in the register" in str(e) and unknown not in str(e)
    e = _refusal(lambda: rent_client.deliver(dwelling_request("5b0e3c1e-0000-4000-8000-000000000000")))
    assert e.permanent and e.not_found and "not in the register" in str(e)


def test_a_404_from_a_wrong_address_is_permanent_but_says_nothing_about_the_citizen(income_sim):
    citizen = new_cpr()
    client = CprRegisterClient(income_sim.url, timeout=5)  # pointed at the income register
    e = _refusal(lambda: client.deliver(person_request(citizen)))
    assert e.permanent and not e.not_found and "HTTP 404" in str(e)


def test_the_clients_render_only_their_own_messages(cpr_client, rent_client):
    e = _refusal(lambda: cpr_client.deliver(dwelling_request("x")))
    assert e.permanent and "cannot render a dwelling_request" in str(e)
    e = _refusal(lambda: rent_client.deliver(person_request(new_cpr())))
    assert e.permanent and "cannot render a person_request" in str(e)


def test_the_request_messages_go_to_their_registers_and_read_back():
    p = msg.PersonRequest(case_id="c", municipality_code="101", cpr="0101701234", requested_by="backoffice")
    d = msg.DwellingRequest(case_id="c", municipality_code="101", address_id="a-1")
    assert (p.DESTINATION, d.DESTINATION) == ("cpr_register", "rent_register")
    assert {"cpr_register", "rent_register"} <= set(DESTINATIONS)
    for m in (p, d):
        row = m.outbox("id-1", "c")
        assert row.destination == m.DESTINATION and msg.decode(row.destination, row.payload) == m
    assert p.to_payload() == dict(kind="person_request", case_id="c", municipality_code="101", cpr="0101701234",
                                  register="cpr_register", requested_by="backoffice")
    with pytest.raises(msg.UnreadableMessage):
        msg.decode("income_register", p.to_payload())


# ---- fixtures ---------------------------------------------------------------------------------------

def test_fixtures_win_over_the_generated_data_in_process_and_over_http(cpr_sim, cpr_client, rent_sim, rent_client):
    citizen = _find(dt.date(1985, 6, 15), lambda r: r["person"]["status"] == "alive")
    child = _cpr("0203154002")
    address = "9f3c1a2e-6b7d-4e8f-9a0b-1c2d3e4f5a6b"
    household = dict(address_id=address, members=[dict(cpr=citizen, birth_date="1985-06-15", relation="self"),
                                                  dict(cpr=child, birth_date="2015-03-02", relation="child")])
    cpr_sim.put_person(citizen, dict(civil_status="widowed", municipality_code="751"), household)
    got = cpr_client.deliver(person_request(citizen)).data
    assert got["person"]["civil_status"] == "widowed" and got["person"]["municipality_code"] == "751"
    assert got["person"]["address_id"] == address and got["household"] == household
    assert got["person"]["birth_date"] == "1985-06-15"  # the rest stays as generated

    # The address is not in the rent register until a fixture puts a dwelling there.
    assert _refusal(lambda: rent_client.deliver(dwelling_request(address))).not_found
    flat = dict(tenure="rental", rent_oere_per_year=7_200_000, area_m2=64, rooms=2, heating_included=False,
                hot_water_included=False, electricity_included=False, heating_separate=True, maintenance_duty=True,
                water_separate=False)
    rent_sim.put_dwelling(address, flat)
    assert rent_client.deliver(dwelling_request(address)).data["dwelling"] == dict(flat, address_id=address)

    # Over HTTP, as a `make run` user stages a case: a dead citizen, and one not in the register.
    put = httpx.put(f"{cpr_sim.url}/v1/fixtures/person",
                    json=dict(cpr=citizen, person=dict(status="dead", status_date="2026-02-01"), household=None))
    assert put.status_code == 204
    got = cpr_client.deliver(person_request(citizen)).data
    assert got["person"]["status"] == "dead" and got["household"] is None
    assert httpx.put(f"{cpr_sim.url}/v1/fixtures/person", json=dict(cpr=citizen, person=None)).status_code == 204
    assert _refusal(lambda: cpr_client.deliver(person_request(citizen))).not_found
    generated = dwelling(POP.record(citizen)["person"]["address_id"])
    put = httpx.put(f"{rent_sim.url}/v1/fixtures/dwelling",
                    json=dict(address_id=generated["address_id"], dwelling=dict(rooms=7)))
    assert put.status_code == 204
    got = rent_client.deliver(dwelling_request(generated["address_id"])).data["dwelling"]
    assert got == dict(generated, rooms=7)

    # A fixture that is not one is refused, naming what is wrong and never the number.
    bad = httpx.put(f"{cpr_sim.url}/v1/fixtures/person", json=dict(cpr=citizen[:9], person={}))
    assert bad.status_code == 400 and citizen[:9] not in bad.text
    # Clearing them brings back the generated data.
    assert httpx.delete(f"{cpr_sim.url}/v1/fixtures").status_code == 204
    assert httpx.delete(f"{rent_sim.url}/v1/fixtures").status_code == 204
    assert cpr_client.deliver(person_request(citizen)).data["person"] == POP.record(citizen)["person"]
    assert rent_client.deliver(dwelling_request(generated["address_id"])).data["dwelling"] == generated


def test_income_fixtures_and_hours(income_sim):
    citizen = new_cpr()
    client = IncomeRegisterClient(income_sim.url, timeout=5)
    try:
        generated = client.deliver(income_request(citizen, "2026-01", "2026-02")).data["records"]
        assert generated == income_records(citizen, ["2026-01", "2026-02"])
        for r in income_records(citizen, ["2025-01", "2025-02", "2025-03"]) + income_records("0101701234", ["2026-01"]):
            assert type(r["hours"]) is int and 0 < r["hours"] <= 20000  # hundredths of an hour
        record = dict(payer_cvr="12345678", payer_se="12345678", income_period_start="2026-01-01",
                      income_period_end="2026-01-31", income_type_code="00", a_income_with_am_oere=2_500_000,
                      a_income_without_am_oere=0, a_tax_oere=850_000, am_contribution_oere=200_000, hours=16033,
                      fields={"13": 2_500_000, "14": 0, "15": 850_000, "16": 200_000})
        income_sim.put_income(citizen, "2026-01", [record])
        got = client.deliver(income_request(citizen, "2026-01", "2026-02")).data["records"]
        assert got == [record] + income_records(citizen, ["2026-02"])
        # Over HTTP: no income in February.
        put = httpx.put(f"{income_sim.url}/v1/fixtures/income", json=dict(cpr=citizen, month="2026-02", records=[]))
        assert put.status_code == 204
        assert client.deliver(income_request(citizen, "2026-01", "2026-02")).data["records"] == [record]
        assert httpx.put(f"{income_sim.url}/v1/fixtures/income",
                         json=dict(cpr=citizen, month="2026-13", records=[])).status_code == 400
        # Hours that are not whole hundredths refuse the answer, naming the field.
        income_sim.put_income(citizen, "2026-01", [dict(record, hours=160.33)])
        e = _refusal(lambda: client.deliver(income_request(citizen, "2026-01")))
        assert e.permanent and "record 0: hours is not a whole number" in str(e) and citizen not in str(e)
    finally:
        client.close()


# ---- a register that is down --------------------------------------------------------------------------

def test_a_register_that_is_down_is_retried_and_fine_once_it_is_up(cpr_sim, cpr_client, rent_sim, rent_client,
                                                                      income_sim):
    citizen = _find(dt.date(1985, 6, 15), lambda r: r["household"] is not None)
    address = POP.record(citizen)["person"]["address_id"]
    income = IncomeRegisterClient(income_sim.url, timeout=5)
    asks = [(cpr_sim, lambda: cpr_client.deliver(person_request(citizen))),
            (rent_sim, lambda: rent_client.deliver(dwelling_request(address))),
            (income_sim, lambda: income.deliver(income_request(citizen, "2026-01")))]
    try:
        for sim, ask in asks:
            sim.down()
            e = _refusal(ask)
            assert not e.permanent and not e.not_found and "HTTP 503" in str(e) and citizen not in str(e)
            sim.up()
            assert ask().reference
        # The same over HTTP, for a `make run` user.
        for sim, ask in asks:
            assert httpx.put(f"{sim.url}/v1/fixtures/outage", json=dict(down=True, seconds=3600)).status_code == 204
            assert not _refusal(ask).permanent
            assert httpx.put(f"{sim.url}/v1/fixtures/outage", json=dict(down=False)).status_code == 204
            assert ask().reference
    finally:
        income.close()


def test_a_register_that_does_not_answer_or_cannot_be_reached_is_retried():
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    held: list[socket.socket] = []

    def accept():
        try:
            while True:
                held.append(silent.accept()[0])
        except OSError:
            pass
    threading.Thread(target=accept, daemon=True).start()
    try:
        client = CprRegisterClient(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2)
        e = _refusal(lambda: client.deliver(person_request(new_cpr())))
        assert not e.permanent and "timed out" in str(e)
        # Asked once: a register that does not answer is the dispatcher's to retry (three
        # waits here could outlast its timeout for the delivery).
        assert len(held) == 1
    finally:
        silent.close()
        for s in held:
            s.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    e = _refusal(lambda: RentRegisterClient(f"http://127.0.0.1:{port}", timeout=1).deliver(dwelling_request("a")))
    assert not e.permanent and "unreachable" in str(e)


# ---- answers the clients refuse ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def _bad_register():
    reg = ScriptedRegister()
    yield reg
    reg.stop()


@pytest.fixture
def bad_register(_bad_register):
    return _bad_register.reset()


def _set(answer: dict, path: str, value) -> dict:
    """A deep copy of `answer` with the field at `path` ("person.status", "household.members.0.cpr")
    set to `value`, or removed when value is ...)."""
    out = json.loads(json.dumps(answer))
    *parents, last = path.split(".")
    node = out
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is ...:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return out


def _person_answer() -> tuple[str, dict]:
    citizen = _find(dt.date(1985, 6, 15), _family)
    USED_CPRS.update(m["cpr"] for m in POP.record(citizen)["household"]["members"])
    return citizen, dict(reference="CPR-1", fetched_at=NOW.isoformat(), **POP.record(citizen))


@pytest.mark.parametrize("path,value,named", [
    ("person.birth_date", "15-06-1985", "person.birth_date is not an ISO date"),
    ("person.birth_date", "1985-06-16", "person.birth_date is not the date of the CPR number"),
    ("person.status", "living", "person.status is not one of alive, dead, emigrated"),
    ("person.status", "dead", "person.status_date is missing for a person who is dead"),
    ("person.status_date", 20260101, "person.status_date is not an ISO date"),
    ("person.municipality_code", 101, "person.municipality_code is not text"),
    ("person.municipality_code", "999", "person.municipality_code is not one of the 98"),
    ("person.civil_status", "single", "person.civil_status is not one of"),
    ("person.spouse_cpr", 101701234, "person.spouse_cpr is not a CPR number"),
    ("person.address_id", ..., "person.address_id is missing"),
    ("person.cpr", "0101701234", "person.cpr is not the number asked for"),
    ("household.address_id", "elsewhere", "household.address_id is not the person's address"),
    ("household.members", {}, "household.members is not a list"),
    ("household.members.1.relation", "self", "household.members[1].relation is not \"self\""),
    ("household.members.1.relation", "parent", "household.members[1].relation is not one of"),
    ("household.members.1.birth_date", None, "household.members[1].birth_date is null"),
    ("household.members.0.cpr", 101701234, "household.members[0].cpr is not a CPR number"),
    ("fetched_at", "yesterday", "answer.fetched_at is not an ISO time"),
    ("fetched_at", "2026-03-02T09:00:00", "answer.fetched_at is not an ISO time with its offset"),
])
def test_a_malformed_cpr_answer_is_refused_naming_the_field(bad_register, path, value, named):
    citizen, answer = _person_answer()
    # "members.1": a member other than the citizen, wherever the household lists them.
    other = next(i for i, m in enumerate(answer["household"]["members"]) if m["cpr"] != citizen)
    path, named = path.replace("members.1.", f"members.{other}."), named.replace("members[1]", f"members[{other}]")
    client = CprRegisterClient(bad_register.url, timeout=5)
    bad_register.answer = _set(answer, path, value)
    e = _refusal(lambda: client.deliver(person_request(citizen)))
    assert e.permanent and not e.not_found and named in str(e), str(e)
    assert str(e).startswith("CPR register answer CPR-1 refused: ")
    for number in [citizen, "0101701234"] + [m["cpr"] for m in answer["household"]["members"]]:
        assert number not in str(e)
    bad_register.answer = answer  # and the answer as it should be is taken
    assert client.deliver(person_request(citizen)).data["person"] == answer["person"]


def test_a_value_that_is_a_cpr_number_is_never_echoed(bad_register):
    citizen, answer = _person_answer()
    client = CprRegisterClient(bad_register.url, timeout=5)
    for path in ("person.municipality_code", "person.status", "person.civil_status", "household.members.1.relation",
                 "household.members.0.relation", "person.birth_date", "household.address_id"):
        bad_register.answer = _set(answer, path, citizen)
        e = _refusal(lambda: client.deliver(person_request(citizen)))
        assert e.permanent and citizen not in str(e) and f"{citizen[:6]}-{citizen[6:]}" not in str(e)
    bad_register.answer = dict(answer, reference=f"CPR-{citizen}", person="?")
    e = _refusal(lambda: client.deliver(person_request(citizen)))
    assert "CPR-[CPR] refused: person is not an object" in str(e)


def _dwelling_answer() -> dict:
    address = POP.record(_find(dt.date(1985, 6, 15), lambda r: True))["person"]["address_id"]
    flat = dict(dwelling(address), tenure="rental", rent_oere_per_year=6_000_000)
    return dict(reference="HLR-1", fetched_at=NOW.isoformat(), dwelling=flat)


@pytest.mark.parametrize("path,value,named", [
    ("dwelling.rent_oere_per_year", 6_000_000.0, "dwelling.rent_oere_per_year is not a whole number of øre (a float)"),
    ("dwelling.rent_oere_per_year", "6000000", "dwelling.rent_oere_per_year is not a whole number of øre (a str)"),
    ("dwelling.rent_oere_per_year", None, "dwelling.rent_oere_per_year is null"),
    ("dwelling.rent_oere_per_year", -1, "dwelling.rent_oere_per_year is not at least 0"),
    ("dwelling.area_m2", 64.5, "dwelling.area_m2 is not a whole number (a float)"),
    ("dwelling.area_m2", 0, "dwelling.area_m2 is not at least 1"),
    ("dwelling.rooms", True, "dwelling.rooms is not a whole number (a bool)"),
    ("dwelling.heating_included", 1, "dwelling.heating_included is not true or false (an int)"),
    ("dwelling.maintenance_duty", "yes", "dwelling.maintenance_duty is not true or false (a str)"),
    ("dwelling.hot_water_included", ..., "dwelling.hot_water_included is missing"),
    ("dwelling.tenure", "lease", "dwelling.tenure is not one of rental, owner, cooperative"),
    ("dwelling.address_id", "elsewhere", "dwelling.address_id is not the address asked for"),
    ("dwelling", [], "dwelling is not an object"),
    ("fetched_at", ..., "answer.fetched_at is missing"),
])
def test_a_malformed_dwelling_answer_is_refused_naming_the_field(bad_register, path, value, named):
    answer = _dwelling_answer()
    address = answer["dwelling"]["address_id"]
    client = RentRegisterClient(bad_register.url, timeout=5)
    bad_register.answer = _set(answer, path, value)
    e = _refusal(lambda: client.deliver(dwelling_request(address)))
    assert e.permanent and named in str(e), str(e)
    bad_register.answer = answer
    assert client.deliver(dwelling_request(address)).data["dwelling"] == answer["dwelling"]


def test_an_owner_dwelling_has_no_rent_and_other_answers_are_classified(bad_register):
    answer = _dwelling_answer()
    address = answer["dwelling"]["address_id"]
    client = RentRegisterClient(bad_register.url, timeout=5)
    bad_register.answer = _set(_set(answer, "dwelling.tenure", "owner"), "dwelling.rent_oere_per_year", None)
    assert client.deliver(dwelling_request(address)).data["dwelling"]["rent_oere_per_year"] is None
    bad_register.answer = b"<html>oops</html>"
    assert not _refusal(lambda: client.deliver(dwelling_request(address))).permanent  # not JSON: try again later
    bad_register.answer = dict(fetched_at=NOW.isoformat(), dwelling=answer["dwelling"])
    assert _refusal(lambda: client.deliver(dwelling_request(address))).permanent  # no reference
    for status, permanent in [(400, True), (404, True), (408, False), (429, False), (500, False), (503, False)]:
        bad_register.status, bad_register.answer = status, {"error": "something"}
        e = _refusal(lambda: client.deliver(dwelling_request(address)))
        assert e.permanent is permanent and not e.not_found and f"HTTP {status}" in str(e)


# ---- how `make run` starts them ----------------------------------------------------------------------

def _free_ports(n: int) -> list[int]:
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(n)]
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_make_starts_the_four_simulators_on_the_hubs_ports(tmp_path):
    """`make run` starts the simulators as `make simulators` does (the Makefile's
    SIMULATORS), on the ports whose URLs it gives the hub."""
    income, cpr, rent, final = _free_ports(4)
    proc = subprocess.Popen(
        ["make", "-s", "-o", ".venv/.installed", "simulators", f"PY={sys.executable}",
         f"HUB_INCOME_REGISTER_PORT={income}", f"HUB_CPR_REGISTER_PORT={cpr}", f"HUB_RENT_REGISTER_PORT={rent}",
         f"HUB_FINAL_ASSESSMENT_PORT={final}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert [line.split(" simulator on ")[0] for line in lines] == ["income register", "CPR register",
                                                                       "rent register",
                                                                       "final assessment register"], lines
        assert lines[3].strip().endswith(f"127.0.0.1:{final}")
        citizen = _find(dt.date(1985, 6, 15), lambda r: r["household"] is not None)
        from hub import bootstrap
        from hub.settings import Settings
        adapters = bootstrap.adapters(Settings.from_env({
            "HUB_INCOME_REGISTER_URL": f"http://127.0.0.1:{income}", "HUB_CPR_REGISTER_URL": f"http://127.0.0.1:{cpr}",
            "HUB_RENT_REGISTER_URL": f"http://127.0.0.1:{rent}",
            "HUB_FINAL_ASSESSMENT_URL": f"http://127.0.0.1:{final}", "HUB_VAR_DIR": str(tmp_path)}))
        person = adapters[CPR_REGISTER].deliver(person_request(citizen)).data["person"]
        assert adapters[RENT_REGISTER].deliver(dwelling_request(person["address_id"])).data["dwelling"]
        assert adapters["income_register"].deliver(income_request(citizen, "2026-01")).reference.startswith("EI-")
        final_income = msg.FinalIncomeRequest(case_id="c-1", municipality_code="101", cpr=citizen, income_year=2024)
        receipt = adapters[FINAL_ASSESSMENT].deliver(Delivery("final/c-1", FINAL_ASSESSMENT, "c-1", final_income, 1,
                                                              NOW, NOW))
        assert receipt.data["status"] == "assessed" and receipt.data["assessment"]["reference"].startswith("AO-2024-")
        many = adapters[FINAL_ASSESSMENT].lookup_many(2024, [citizen, "0101709995"])
        assert [r.data["status"] for r in many.values()] == ["assessed", "not_found"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    assert citizen not in out and "Traceback" not in out


def test_the_hub_is_wired_to_the_registers_by_its_settings(tmp_path):
    from hub import bootstrap
    from hub.settings import Settings
    s = Settings.from_env({})
    assert (s.cpr_register_url, s.rent_register_url) == ("http://127.0.0.1:8090", "http://127.0.0.1:8091")
    s = Settings.from_env({"HUB_CPR_REGISTER_URL": "http://cpr.example:1/", "HUB_RENT_REGISTER_URL": "http://hlr:2",
                           "HUB_VAR_DIR": str(tmp_path)})
    adapters = bootstrap.adapters(s)
    assert isinstance(adapters[CPR_REGISTER], CprRegisterClient) and adapters[CPR_REGISTER].base_url == \
        "http://cpr.example:1"
    assert isinstance(adapters[RENT_REGISTER], RentRegisterClient)
    assert adapters[RENT_REGISTER].base_url == "http://hlr:2"
