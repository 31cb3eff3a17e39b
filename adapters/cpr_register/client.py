"""The CPR register client: asks for a citizen (hub.ports.messages.PersonRequest) and
hands back the person and the household at the address as the delivery's receipt:

    Receipt(reference="CPR-...", data={"fetched_at": "<ISO time>", "person": {...}, "household": {...} | null})

with exactly the fields of the register's format (adapters/cpr_register/simulator.py),
each checked: dates ISO, the status, civil status and relations from their lists, the
municipality one of the 98, the person the one asked for and, in the household, once
as "self" at the person's address. Anything else refuses the whole answer for good,
naming the field (adapters/register_client.py); a number the register does not know is
a permanent failure marked `not_found`."""
from __future__ import annotations

from typing import Any

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


class CprRegisterClient(RegisterClient):
    NAME = "CPR register"
    PATH = "/v1/person"

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
