"""A stand-in for the CPR register, which cannot be reached from here: the person (alive,
residence, civil status) and the household at the address. It serves a deterministic
generated population over HTTP: the same CPR number on the same day always gives the
same answer, and every member of a household gets the same household.

    POST /v1/person   {"cpr": "DDMMYYSSSS"}
    -> 200 {"reference": "CPR-...", "fetched_at": "<ISO time>",
            "person": {"cpr", "birth_date", "status": "alive" | "dead" | "emigrated",
                       "status_date": "<ISO date>" | null (the date of death or emigration),
                       "municipality_code", "address_id",
                       "civil_status": "unmarried" | "married" | "divorced" | "widowed" | "registered_partnership",
                       "spouse_cpr": "..." | null (married or registered partners)},
            "household": {"address_id", "members": [{"cpr", "birth_date",
                          "relation": "self" | "spouse" | "cohabitant" | "child" | "other"}]} | null}
    -> 404 {"error": "not found"}    (a number the register does not know)
    POST /v1/person/batch  {"cprs": ["DDMMYYSSSS", ...]}   (1 to 1,000 numbers, each once)
    -> 200 {"reference": "CPR-...", "fetched_at": "<ISO time>",
            "results": [{"cpr", "status": "found" | "not_found", "person": {...} | null,
                         "household": {...} | null}, ...]}   (one per number, in the order asked)
    PUT  /v1/fixtures/person  {"cpr": "...", "person": {...} | null, "household": {...} | null}
         (or `put_person` in-process); the rest: adapters/simulation.py (stats, outages).

Which numbers it knows: every CPR number whose date is real and not after today (the
date and century rule of hub/domain/cpr.py), except
- those whose last four digits are 9990-9999 (ask one of these for a 404), and
- someone under 18 whose generated parent is one of those.

The population: `birth_date` comes from the number; `municipality_code` is one of the
98, and `address_id` a UUID, both the household's (a dead or emigrated person keeps
the last ones, and has no household: null). Relations are seen from the person asked
for: their spouse (married or registered partners) or cohabitant, the children of
either of them (under 18), and "other" (a child's parents and siblings). Households
have one or two adults and up to four children under 18; nearly everyone is alive
(4 % of those over 60 are dead, everyone over 105; 2 % of adults emigrated, with their
children). The links are computed from the numbers, not stored:
- partners: every number has one possible partner, the other gender's last digit and
  a birth date up to 11 years apart (`partner`); an alive adult pair lives together in
  55 % of cases (married, registered partners or cohabiting);
- children: someone under 18 has one parent (`parent`), 20 to 40 years older, and
  lives in that parent's household; an adult's children are found the other way
  (`children`), so that asking for a child gives its parents' household.
Age is reckoned on the simulator's day (`today`), so a child grows up and moves out.

Fixtures win over the generated people: `put_person(cpr, person, household)` sets what
the register answers for that number (the person's fields given replace the generated
ones; `household` as given, or null; its address becomes the person's unless `person` names
one), `put_person(cpr, None)` makes it unknown (404).
A fixture is per number: put each member you will ask for.

    python -m adapters.cpr_register.simulator --port 8090"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import uuid
from typing import Any, Callable

from adapters.simulation import BadRequest, RegisterSimulator, batch, cpr_shaped, required, rng, serve
from hub.domain import cpr as cprs
from hub.domain.municipalities import all_municipalities

FIRST_BIRTH = dt.date(1858, 1, 1)  # the century rule's earliest year
UNKNOWN_FROM = 9990                # last four digits from here on: not in the register
_SLOT = ((7, 3), (13, 8))          # a child's last three digits from its parent's: t * a + b (mod 1000)


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _years_after(born: dt.date, years: int) -> dt.date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # 29 February
        return born.replace(year=born.year + years, day=28)


def _sevenths(year: int) -> list[int]:
    """The 7th digits that give a birth in `year` (the century rule)."""
    yy = year % 100
    return [d for d in range(10) if cprs.century(d, yy) + yy == year]


def _parts(number: str) -> tuple[dt.date, int, int]:
    """Birth date, the 7th digit's place among those of its year, and the last three digits."""
    born = cprs.birth_date(number)
    return born, _sevenths(born.year).index(int(number[6])), int(number[7:])


def _number(born: dt.date, place: int, tail: int) -> str | None:
    """The number of someone born on `born` with this 7th-digit place and last three digits
    (None when that year has no such place, or the date is outside the century rule)."""
    if not FIRST_BIRTH <= born <= dt.date(2057, 12, 31):
        return None
    sevenths = _sevenths(born.year)
    return born.strftime("%d%m%y") + f"{sevenths[place]}{tail:03d}" if place < len(sevenths) else None


def _real(number: str) -> bool:
    """A number of 10 digits whose date is a real one."""
    if not (isinstance(number, str) and len(number) == 10 and number.isascii() and number.isdigit()):
        return False
    try:
        cprs.birth_date(number)
    except ValueError:
        return False
    return True


def partner(number: str) -> str | None:
    """The one person this one could live with as a couple: the other gender (last digit)
    and a birth date up to 4095 days apart, fixed by the 8th and 9th digits. Asking for the
    partner's partner gives this number back."""
    born, place, tail = _parts(number)
    apart = 1 + _h(f"{tail // 10:02d}", "partner") % 4095
    day = (born - FIRST_BIRTH).days ^ apart
    return _number(FIRST_BIRTH + dt.timedelta(days=day), place, tail ^ 1)


def _gap(tail: int, slot: int) -> int:
    """Days from a parent's birth to the child's (with these last three digits) in this slot."""
    r = rng(f"{tail:03d}", "gap")
    return 7305 + r.randrange(5844) + slot * (365 + r.randrange(1096))  # 20-36 years, +1-4 years for the second


def _slot(number: str) -> int:
    return _h(number, "slot") % 2


def parent(number: str) -> str | None:
    """The parent a child (under 18) lives with: 20-40 years older."""
    born, place, tail = _parts(number)
    slot = _slot(number)
    a, b = _SLOT[slot]
    return _number(born - dt.timedelta(days=_gap(tail, slot)), place, (tail - b) * pow(a, -1, 1000) % 1000)


class Population:
    """The generated register as of `today`."""

    def __init__(self, today: dt.date):
        self.today = today

    def known(self, number: str) -> bool:
        if not (_real(number) and cprs.birth_date(number) <= self.today and int(number[6:]) < UNKNOWN_FROM):
            return False
        if self.young(number):
            p = parent(number)
            return p is not None and int(p[6:]) < UNKNOWN_FROM
        return True

    def young(self, number: str) -> bool:
        return _age(cprs.birth_date(number), self.today) < 18

    def status(self, number: str) -> tuple[str, dt.date | None]:
        """alive, dead or emigrated, and since when. A child shares its parent's emigration."""
        born = cprs.birth_date(number)
        if self.young(number):
            p = parent(number)
            st, since = self.status(p) if p else ("alive", None)
            return (st, max(since, born)) if st == "emigrated" and since else ("alive", None)
        age, r = _age(born, self.today), rng(number, "status")
        if age >= 105 or (age >= 60 and r.random() < 0.04):
            first, last = _years_after(born, 60), min(self.today, _years_after(born, 105))
            return "dead", first + dt.timedelta(days=r.randrange((last - first).days + 1))
        if r.random() < 0.02:
            first = _years_after(born, 18)
            return "emigrated", first + dt.timedelta(days=r.randrange((self.today - first).days + 1))
        return "alive", None

    def _alive_adult(self, number: str) -> bool:
        return self.known(number) and not self.young(number) and self.status(number)[0] == "alive"

    def couple(self, number: str) -> str | None:
        """The partner this adult lives with, if any."""
        p = partner(number)
        if p is None or not (self._alive_adult(number) and self._alive_adult(p)):
            return None
        return p if rng(*sorted((number, p)), "couple").random() < 0.55 else None

    def union(self, number: str, p: str) -> str:
        """How a couple lives: married, registered_partnership or cohabiting."""
        x = rng(*sorted((number, p)), "union").random()
        return "married" if x < 0.58 else "registered_partnership" if x < 0.60 else "cohabiting"

    def children(self, number: str) -> list[str]:
        """This adult's children under 18 (those whose parent is this number)."""
        born, place, tail = _parts(number)
        out = []
        for slot, (a, b) in enumerate(_SLOT):
            t = (tail * a + b) % 1000
            c = _number(born + dt.timedelta(days=_gap(t, slot)), place, t)
            if c and int(c[6:]) < UNKNOWN_FROM and cprs.birth_date(c) <= self.today and self.young(c) \
                    and _slot(c) == slot:
                out.append(c)
        return out

    def civil_status(self, number: str) -> tuple[str, str | None]:
        """Civil status and the spouse's number (married and registered partners at the address)."""
        p = None if self.young(number) else self.couple(number)
        if p is not None and self.union(number, p) != "cohabiting":
            return self.union(number, p), p
        if self.young(number):
            return "unmarried", None
        x, age = rng(number, "civil").random(), _age(cprs.birth_date(number), self.today)
        if age >= 50 and x < 0.15:
            return "widowed", None
        return ("divorced" if x < 0.40 else "unmarried"), None

    def _home(self, number: str) -> str:
        """Whose household this person's is: the first adult of the couple, or the adult alone."""
        if self.young(number):
            return self._home(parent(number))
        p = self.couple(number)
        return min(number, p) if p else number

    def record(self, number: str) -> dict[str, Any] | None:
        """The register's answer for this number ({person, household}), None when unknown."""
        if not self.known(number):
            return None
        status, since = self.status(number)
        home = self._home(number)
        civil, spouse = self.civil_status(number)
        person = dict(cpr=number, birth_date=cprs.birth_date(number).isoformat(), status=status,
                      status_date=since.isoformat() if since else None, municipality_code=municipality_of(home),
                      address_id=address_id(home), civil_status=civil, spouse_cpr=spouse)
        household = self.household(number, home) if status == "alive" else None
        return dict(person=person, household=household)

    def household(self, number: str, home: str) -> dict[str, Any]:
        p = self.couple(home)
        adults = sorted([home] + ([p] if p else []))
        kids = sorted((c for a in adults for c in self.children(a)), key=lambda c: (cprs.birth_date(c), c))
        mine = set() if self.young(number) else set(self.children(number))
        partner_of_me = self.couple(number) if not self.young(number) else None
        if partner_of_me:
            mine |= set(self.children(partner_of_me))

        def relation(c: str) -> str:
            if c == number:
                return "self"
            if c == partner_of_me:
                return "cohabitant" if self.union(number, c) == "cohabiting" else "spouse"
            return "child" if c in mine else "other"
        return dict(address_id=address_id(home),
                    members=[dict(cpr=c, birth_date=cprs.birth_date(c).isoformat(), relation=relation(c))
                             for c in adults + kids])


# ---- addresses ----------------------------------------------------------------------------------

_ADDRESS_KEY = b"sagshub simulated address"


def address_id(home: str) -> str:
    """The address of a household, as a UUID (the way DAR names addresses); its last four
    bytes check the rest, so the rent register simulator knows its own addresses."""
    body = bytearray(hashlib.sha256(f"address|{home}".encode()).digest()[:12])
    body[6] = (body[6] & 0x0F) | 0x40  # version 4
    body[8] = (body[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(body) + hashlib.sha256(_ADDRESS_KEY + bytes(body)).digest()[:4]))


def is_generated_address(address: str) -> bool:
    """Whether `address` is one this simulated population lives at."""
    try:
        u = uuid.UUID(address)
    except (ValueError, TypeError, AttributeError):
        return False
    return str(u) == address and u.bytes[12:] == hashlib.sha256(_ADDRESS_KEY + u.bytes[:12]).digest()[:4]


def municipality_of(home: str) -> str:
    codes = sorted(all_municipalities())
    return codes[_h(home, "municipality") % len(codes)]


# ---- the simulator --------------------------------------------------------------------------------

class Simulator(RegisterSimulator):
    name = "CPR register"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, today: Callable[[], dt.date] = dt.date.today):
        super().__init__(host, port)
        self.today = today
        self._people: dict[str, dict[str, Any] | None] = {}  # cpr -> the answer ({person, household}), None: unknown

    def put_person(self, cpr: str, person: dict[str, Any] | None, household: dict[str, Any] | None = None) -> None:
        """What the register answers for `cpr` from now on: the generated person with the
        fields of `person` in their place (birth_date from the number when not given) and
        `household` as given (None: none); `person` None: not in the register."""
        if person is None:
            answer = None
        else:
            base = (Population(self.today()).record(cpr) or {}).get("person") if _real(cpr) else None
            if base is None:
                born = cprs.birth_date(cpr).isoformat() if _real(cpr) else None
                base = dict(cpr=cpr, birth_date=born, status="alive", status_date=None, municipality_code=None,
                            address_id=None, civil_status="unmarried", spouse_cpr=None)
            moved = {"address_id": household.get("address_id")} if isinstance(household, dict) else {}
            answer = dict(person={**base, **moved, **person, "cpr": cpr}, household=household)
        with self.lock:
            self._people[cpr] = answer

    def person(self, cpr: str) -> dict[str, Any] | None:
        with self.lock:
            if cpr in self._people:
                return self._people[cpr]
        return Population(self.today()).record(cpr)

    def lookups(self):
        return {"/v1/person": self._lookup, "/v1/person/batch": self._lookup_batch}

    def _lookup_batch(self, body) -> tuple[int, dict]:
        results = []
        for cpr in batch(body, "cprs", cpr_shaped):
            answer = self.person(cpr)
            results.append(dict(cpr=cpr, status="not_found", person=None, household=None) if answer is None
                           else dict(cpr=cpr, status="found", **answer))
        return 200, dict(reference=f"CPR-{uuid.uuid4().hex[:16]}",
                         fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(), results=results)

    def _lookup(self, body) -> tuple[int, dict]:
        (cpr,) = required(body, "cpr")
        answer = self.person(cpr_shaped(cpr))
        if answer is None:
            return 404, dict(error="not found")
        return 200, dict(reference=f"CPR-{uuid.uuid4().hex[:16]}",
                         fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(), **answer)

    def fixture_handlers(self):
        return dict(super().fixture_handlers(), person=self._put_person)

    def _put_person(self, body) -> None:
        cpr, person = required(body, "cpr", "person")
        household = body.get("household")
        if person is not None and not isinstance(person, dict) or household is not None and not isinstance(household,
                                                                                                            dict):
            raise BadRequest("person and household must be objects (or null)")
        self.put_person(cpr_shaped(cpr), person, household)

    def clear_fixtures(self) -> None:
        with self.lock:
            self._people.clear()
        super().clear_fixtures()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    args = ap.parse_args(argv)
    return serve(Simulator(args.host, args.port))


if __name__ == "__main__":
    raise SystemExit(main())
