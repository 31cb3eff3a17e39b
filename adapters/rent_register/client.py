"""The rent register client: asks the shared municipal rent register for the dwelling at
an address (hub.ports.messages.DwellingRequest) and hands it back as the receipt:

    Receipt(reference="HLR-...", data={"fetched_at": "<ISO time>", "dwelling": {...}})

with exactly the fields of the register's format (adapters/rent_register/simulator.py),
each checked: the rent a whole number of øre (null only for an owner-occupied
dwelling), area and rooms whole numbers, the five flags true or false, the tenure from
its list, the dwelling the one asked for. Anything else refuses the whole answer for
good, naming the field (adapters/register_client.py); an address without a dwelling in
the register is a permanent failure marked `not_found`."""
from __future__ import annotations

from typing import Any

from adapters.register_client import Fields, RegisterClient, Refused
from hub.ports import Delivery, DeliveryFailed, Receipt
from hub.ports import messages as m

TENURES = ("rental", "owner", "cooperative")
FLAGS = ("heating_included", "hot_water_included", "electricity_included", "heating_separate", "maintenance_duty",
         "water_separate")


def read_dwelling(value: Any, asked: str) -> dict[str, Any]:
    f = Fields(value, "dwelling")
    if f.text("address_id") != asked:
        raise Refused("dwelling.address_id is not the address asked for")
    tenure = f.choice("tenure", TENURES)
    rent = f.whole("rent_oere_per_year", nullable=tenure == "owner", unit="øre")
    return dict(address_id=asked, tenure=tenure, rent_oere_per_year=rent, area_m2=f.whole("area_m2", low=1),
                rooms=f.whole("rooms", low=1), **{name: f.flag(name) for name in FLAGS})


class RentRegisterClient(RegisterClient):
    NAME = "rent register"
    PATH = "/v1/dwelling"

    def deliver(self, d: Delivery) -> Receipt:
        if not isinstance(d.message, m.DwellingRequest):
            raise m.cannot_render("the rent register client", d.message)
        asked = d.message.address_id
        if not asked:
            raise DeliveryFailed(f"{self.NAME}: the request names no address", permanent=True)
        data = self.ask(dict(address_id=asked))
        try:
            answer = Fields(data, "answer")
            fetched_at = answer.time("fetched_at")
            dwelling = read_dwelling(answer.get("dwelling"), asked)
        except Refused as exc:
            raise self.refused(data, exc) from None
        return Receipt(reference=data["reference"], data=dict(fetched_at=fetched_at, dwelling=dwelling))
