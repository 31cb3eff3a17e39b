"""A stand-in for the shared municipal rent register ("fælleskommunalt huslejeregister"),
which cannot be reached from here: the dwelling at an address. It serves a
deterministic generated dwelling for every address the CPR register simulator's
population lives at (adapters/cpr_register/simulator.py:address_id): the same address
always gives the same dwelling.

    POST /v1/dwelling  {"address_id": "<UUID>"}
    -> 200 {"reference": "HLR-...", "fetched_at": "<ISO time>",
            "dwelling": {"address_id", "tenure": "rental" | "owner" | "cooperative",
                         "rent_oere_per_year": int | null, "area_m2": int, "rooms": int,
                         "heating_included", "hot_water_included", "electricity_included",
                         "heating_separate", "maintenance_duty", "water_separate": bool}}
    -> 404 {"error": "not found"}   (an address with no dwelling in the register: any
                                     address the CPR simulator does not generate)
    POST /v1/dwelling/batch  {"address_ids": ["<UUID>", ...]}   (1 to 1,000 addresses, each once)
    -> 200 {"reference": "HLR-...", "fetched_at": "<ISO time>",
            "results": [{"address_id", "status": "found" | "not_found", "dwelling": {...} | null}, ...]}
    PUT  /v1/fixtures/dwelling  {"address_id": "...", "dwelling": {...} | null}
         (or `put_dwelling` in-process); the rest: adapters/simulation.py (stats, outages).

The fields: `rent_oere_per_year`, the yearly rent (for a cooperative dwelling the
housing charge, "boligafgift") without consumption (heating, water, electricity), in
øre; null for an owner-occupied dwelling, which pays none. `area_m2` and `rooms` whole
numbers. `heating_included`, `hot_water_included`, `electricity_included`: the rent
includes them; `heating_separate`: heating is paid to the landlord on account beside
the rent (its own heating account); `maintenance_duty`: the occupant has the duty of
interior maintenance; `water_separate`: water and drainage are paid beside the rent
(boligstøtteloven § 10, stk. 3).

Fixtures win: `put_dwelling(address_id, dwelling)` sets the answer for that address
(the fields of `dwelling` replace the generated ones; an address the register does not
know gets exactly what is given), `put_dwelling(address_id, None)` makes it unknown.

    python -m adapters.rent_register.simulator --port 8091"""
from __future__ import annotations

import argparse
import datetime as dt
import uuid
from typing import Any

from adapters.cpr_register.simulator import is_generated_address
from adapters.simulation import BadRequest, RegisterSimulator, batch, required, rng, serve


def dwelling(address_id: str) -> dict[str, Any] | None:
    """The register's dwelling at this address, None when it has none."""
    if not is_generated_address(address_id):
        return None
    r = rng(address_id, "dwelling")
    tenure = r.choices(["rental", "owner", "cooperative"], weights=[60, 28, 12])[0]
    rooms = r.choices([1, 2, 3, 4, 5], weights=[15, 30, 30, 17, 8])[0]
    area = 22 + 18 * rooms + r.randrange(26)
    rent = None
    if tenure != "owner":  # kroner per m² a year: rents 700-1500, a cooperative's charge 400-900
        rent = area * (r.randrange(700, 1501) if tenure == "rental" else r.randrange(400, 901)) * 100
    heating = tenure != "owner" and r.random() < (0.15 if tenure == "rental" else 0.25)
    return dict(address_id=address_id, tenure=tenure, rent_oere_per_year=rent, area_m2=area, rooms=rooms,
                heating_included=heating,
                hot_water_included=tenure != "owner" and r.random() < (0.8 if heating else 0.1),
                electricity_included=tenure != "owner" and r.random() < 0.03,
                heating_separate=tenure != "owner" and not heating and r.random() < 0.7,
                maintenance_duty=tenure != "rental" or r.random() < 0.5,
                water_separate=tenure != "owner" and r.random() < 0.4)


class Simulator(RegisterSimulator):
    name = "rent register"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self._dwellings: dict[str, dict[str, Any] | None] = {}

    def put_dwelling(self, address_id: str, fields: dict[str, Any] | None) -> None:
        """What the register answers for `address_id` from now on: the generated dwelling
        with the given fields in their place (or just those, at an address it does not
        know); None: no dwelling there."""
        answer = None if fields is None else {**(dwelling(address_id) or {}), **fields, "address_id": address_id}
        with self.lock:
            self._dwellings[address_id] = answer

    def dwelling(self, address_id: str) -> dict[str, Any] | None:
        with self.lock:
            if address_id in self._dwellings:
                return self._dwellings[address_id]
        return dwelling(address_id)

    def lookups(self):
        return {"/v1/dwelling": self._lookup, "/v1/dwelling/batch": self._lookup_batch}

    def _lookup_batch(self, body) -> tuple[int, dict]:
        results = []
        for address in batch(body, "address_ids", _address):
            found = self.dwelling(address)
            results.append(dict(address_id=address, status="found" if found else "not_found", dwelling=found))
        return 200, dict(reference=f"HLR-{uuid.uuid4().hex[:16]}",
                         fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(), results=results)

    def _lookup(self, body) -> tuple[int, dict]:
        (address,) = required(body, "address_id")
        if not isinstance(address, str) or not address:
            raise BadRequest("address_id must be text")
        found = self.dwelling(address)
        if found is None:
            return 404, dict(error="not found")
        return 200, dict(reference=f"HLR-{uuid.uuid4().hex[:16]}",
                         fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(), dwelling=found)

    def fixture_handlers(self):
        return dict(super().fixture_handlers(), dwelling=self._put_dwelling)

    def _put_dwelling(self, body) -> None:
        address, fields = required(body, "address_id", "dwelling")
        if not isinstance(address, str) or not address or fields is not None and not isinstance(fields, dict):
            raise BadRequest("address_id must be text and dwelling an object (or null)")
        self.put_dwelling(address, fields)

    def clear_fixtures(self) -> None:
        with self.lock:
            self._dwellings.clear()
        super().clear_fixtures()


def _address(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest("an address id is text")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8091)
    args = ap.parse_args(argv)
    return serve(Simulator(args.host, args.port))


if __name__ == "__main__":
    raise SystemExit(main())
