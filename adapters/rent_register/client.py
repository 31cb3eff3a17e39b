"""The rent register client: asks the shared municipal rent register for the dwelling at
an address (hub.ports.messages.DwellingRequest) and hands it back as the receipt:

    Receipt(reference="HLR-...", data={"fetched_at": "<ISO time>", "dwelling": {...}})

with exactly the fields of the register's format (adapters/rent_register/simulator.py),
each checked: the rent a whole number of øre (null only for an owner-occupied
dwelling), area and rooms whole numbers, the five flags true or false, the tenure from
its list, the dwelling the one asked for. Anything else refuses the whole answer for
good, naming the field (adapters/register_client.py); an address without a dwelling in
the register is a permanent failure marked `not_found`.

`lookup_many(address_ids)` asks for up to 1,000 addresses per request and returns
{address id: Receipt} in the order asked, each once, `data` as above with "status":
"found" | "not_found" (no dwelling there: dwelling None). Any failure of any request
fails the call as `deliver` would."""
from __future__ import annotations

from typing import Any, Iterable

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


MAX_BATCH = 1000


class _Batch(RegisterClient):
    NAME = "rent register"
    PATH = "/v1/dwelling/batch"


class RentRegisterClient(RegisterClient):
    NAME = "rent register"
    PATH = "/v1/dwelling"

    def __init__(self, base_url: str, *, timeout: float = 10.0, batch_timeout: float = 60.0):
        super().__init__(base_url, timeout=timeout)
        self._batch = _Batch(base_url, timeout=batch_timeout)

    def close(self) -> None:
        super().close()
        self._batch.close()

    def lookup_many(self, address_ids: Iterable[str]) -> dict[str, Receipt]:
        """Every address's dwelling (see the module's docstring)."""
        wanted: dict[str, None] = {}
        for n, address in enumerate(address_ids):
            if not isinstance(address, str) or not address:
                raise ValueError(f"address_ids[{n}] is not an address id")
            wanted[address] = None
        order, out = list(wanted), {}
        for start in range(0, len(order), MAX_BATCH):
            out.update(self._ask_batch(order[start:start + MAX_BATCH]))
        return {a: out[a] for a in order}

    def _ask_batch(self, chunk: list[str]) -> dict[str, Receipt]:
        data = self._batch.ask(dict(address_ids=chunk))
        asked, out = set(chunk), {}
        try:
            answer = Fields(data, "answer")
            fetched_at = answer.time("fetched_at")
            for n, entry in enumerate(answer.items("results")):
                where = f"results[{n}]"
                f = Fields(entry, where)
                address = f.text("address_id")
                if address not in asked:
                    raise Refused(f"{where}.address_id is not an address asked for")
                if address in out:
                    raise Refused(f"{where}.address_id is answered twice")
                dwelling = None
                if f.choice("status", ("found", "not_found")) == "not_found":
                    if f.get("dwelling", nullable=True) is not None:
                        raise Refused(f"{where}.dwelling is not null for an address without one")
                else:
                    try:
                        dwelling = read_dwelling(f.get("dwelling"), address)
                    except Refused as exc:
                        raise Refused(f"{where}.{exc}") from None
                out[address] = Receipt(reference=data["reference"], data=dict(
                    status="found" if dwelling else "not_found", fetched_at=fetched_at, dwelling=dwelling))
            if len(out) != len(asked):
                raise Refused(f"results does not answer for {len(asked) - len(out)} of the {len(asked)} addresses "
                              f"asked for")
        except Refused as exc:
            raise self._batch.refused(data, exc) from None
        return out

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
