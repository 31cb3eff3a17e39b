"""The CPR register client: asks for a citizen (hub.ports.messages.PersonRequest) and
hands back the person and the household at the address as the delivery's receipt:

    Receipt(reference="CPR-...", data={"fetched_at": "<ISO time>", "person": {...}, "household": {...} | null})

with exactly the fields of the register's format (adapters/cpr_register/simulator.py),
each checked: dates ISO, the status, civil status and relations from their lists, the
municipality one of the 98, the person the one asked for and, in the household, once
as "self" at the person's address. Anything else refuses the whole answer for good,
naming the field (adapters/register_client.py); a number the register does not know is
a permanent failure marked `not_found`.

`lookup_many(cprs)` asks for up to 1,000 numbers per request (several requests for more:
an IT control run asks for a chunk of citizens at once) and returns {cpr: Receipt} in the
order asked, each number once, `data` as above with "status": "found" | "not_found" (a
number the register does not know: person and household None). Any failure of any
request fails the call as `deliver` would; a number that is not one is the caller's
mistake: ValueError naming its place in the list, never the number."""
from __future__ import annotations

from typing import Any, Iterable

from adapters.register_client import Fields, RegisterClient, Refused
from hub.domain import cpr as cprs
from hub.domain.municipalities import get as municipality
from hub.ports import Delivery, DeliveryFailed, Receipt
from hub.ports import messages as m

STATUSES = ("alive", "dead", "emigrated")
CIVIL_STATUSES = ("unmarried", "married", "divorced", "widowed", "registered_partnership")
RELATIONS = ("self", "spouse", "cohabitant", "child", "other")


def read_person(value: Any, asked: str) -> dict[str, Any]:
    f = Fields(value, "person")
    if f.cpr("cpr") != asked:
        raise Refused("person.cpr is not the number asked for")
    born = f.date("birth_date")
    if born != cprs.birth_date(asked).isoformat():
        raise Refused("person.birth_date is not the date of the CPR number")
    status = f.choice("status", STATUSES)
    since = f.date("status_date", nullable=True)
    if status != "alive" and since is None:
        raise Refused(f"person.status_date is missing for a person who is {status}")
    code = f.text("municipality_code")
    if municipality(code) is None:
        raise Refused("person.municipality_code is not one of the 98 municipality codes")
    return dict(cpr=asked, birth_date=born, status=status, status_date=since, municipality_code=code,
                address_id=f.text("address_id"), civil_status=f.choice("civil_status", CIVIL_STATUSES),
                spouse_cpr=f.cpr("spouse_cpr", nullable=True))


def read_household(value: Any, person: dict[str, Any]) -> dict[str, Any] | None:
    if value is None:
        return None
    f = Fields(value, "household")
    address = f.text("address_id")
    if address != person["address_id"]:
        raise Refused("household.address_id is not the person's address")
    out, seen = [], set()
    for n, member in enumerate(f.items("members")):
        g = Fields(member, f"household.members[{n}]")
        number = g.cpr("cpr")
        if number in seen:
            raise Refused(f"household.members[{n}].cpr is there twice")
        seen.add(number)
        born = g.date("birth_date")
        if born != _birth_date(number):
            raise Refused(f"household.members[{n}].birth_date is not the date of the CPR number")
        relation = g.choice("relation", RELATIONS)
        if (relation == "self") != (number == person["cpr"]):
            raise Refused(f"household.members[{n}].relation is not \"self\" for the person asked for alone")
        out.append(dict(cpr=number, birth_date=born, relation=relation))
    if person["cpr"] not in seen:
        raise Refused("household.members does not hold the person asked for")
    return dict(address_id=address, members=out)


def _birth_date(number: str) -> str | None:
    try:
        return cprs.birth_date(number).isoformat()
    except ValueError:
        return None


MAX_BATCH = 1000
BATCH_STATUSES = ("found", "not_found")


def wanted_numbers(numbers: Iterable[str], name: str = "cprs") -> list[str]:
    """The numbers asked for, each once, in the order first asked; ValueError for one
    that is not a CPR number (naming its place, never the number)."""
    wanted: dict[str, None] = {}
    for n, number in enumerate(numbers):
        if not isinstance(number, str) or cprs.normalise(number) != number or _birth_date(number) is None:
            raise ValueError(f"{name}[{n}] is not a CPR number (10 digits, a real date)")
        wanted[number] = None
    return list(wanted)


class _Batch(RegisterClient):
    """The batch look-up: the same register at another path, with a longer timeout."""
    NAME = "CPR register"
    PATH = "/v1/person/batch"


class CprRegisterClient(RegisterClient):
    NAME = "CPR register"
    PATH = "/v1/person"

    def __init__(self, base_url: str, *, timeout: float = 10.0, batch_timeout: float = 60.0):
        super().__init__(base_url, timeout=timeout)
        self._batch = _Batch(base_url, timeout=batch_timeout)

    def close(self) -> None:
        super().close()
        self._batch.close()

    def lookup_many(self, numbers: Iterable[str]) -> dict[str, Receipt]:
        """Every number's person and household (see the module's docstring)."""
        order = wanted_numbers(numbers)
        out: dict[str, Receipt] = {}
        for start in range(0, len(order), MAX_BATCH):
            out.update(self._ask_batch(order[start:start + MAX_BATCH]))
        return {number: out[number] for number in order}

    def _ask_batch(self, chunk: list[str]) -> dict[str, Receipt]:
        data = self._batch.ask(dict(cprs=chunk))
        asked, out = set(chunk), {}
        try:
            answer = Fields(data, "answer")
            fetched_at = answer.time("fetched_at")
            for n, entry in enumerate(answer.items("results")):
                where = f"results[{n}]"
                f = Fields(entry, where)
                number = f.cpr("cpr")
                if number not in asked:
                    raise Refused(f"{where}.cpr is not a number asked for")
                if number in out:
                    raise Refused(f"{where}.cpr is answered twice")
                person = household = None
                if f.choice("status", BATCH_STATUSES) == "not_found":
                    if f.get("person", nullable=True) is not None or f.get("household", nullable=True) is not None:
                        raise Refused(f"{where}.person is not null for a number the register does not know")
                else:
                    try:
                        person = read_person(f.get("person"), number)
                        household = read_household(f.get("household", nullable=True), person)
                    except Refused as exc:
                        raise Refused(f"{where}.{exc}") from None
                out[number] = Receipt(reference=data["reference"], data=dict(
                    status="found" if person else "not_found", fetched_at=fetched_at, person=person,
                    household=household))
            if len(out) != len(asked):
                raise Refused(f"results does not answer for {len(asked) - len(out)} of the {len(asked)} numbers "
                              f"asked for")
        except Refused as exc:
            raise self._batch.refused(data, exc) from None
        return out

    def deliver(self, d: Delivery) -> Receipt:
        if not isinstance(d.message, m.PersonRequest):
            raise m.cannot_render("the CPR register client", d.message)
        asked = d.message.cpr
        if cprs.normalise(asked) != asked or _birth_date(asked) is None:
            raise DeliveryFailed(f"{self.NAME}: the number asked for is not a CPR number", permanent=True)
        data = self.ask(dict(cpr=asked))
        try:
            answer = Fields(data, "answer")
            fetched_at = answer.time("fetched_at")
            person = read_person(answer.get("person"), asked)
            household = read_household(answer.get("household", nullable=True), person)
        except Refused as exc:
            raise self.refused(data, exc) from None
        return Receipt(reference=data["reference"], data=dict(fetched_at=fetched_at, person=person,
                                                              household=household))

