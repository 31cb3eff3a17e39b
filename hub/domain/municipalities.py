"""The 98 municipalities, from the project's copy of the official list, with the CVR
number that identifies each as a sender (Digital Post) and a debtor (payments); and
the central authorities a catalogue row may name. Sources: hub/data/README.md."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).resolve().parent.parent / "data"


def valid_cvr(cvr: str) -> bool:
    """Eight digits whose modulus-11 check holds (weights 2,7,6,5,4,3,2,1)."""
    return (len(cvr) == 8 and cvr.isascii() and cvr.isdigit()
            and sum(int(d) * w for d, w in zip(cvr, (2, 7, 6, 5, 4, 3, 2, 1))) % 11 == 0)


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    region: str
    cvr: str
    official_name: str = ""  # when it is not "<name> Kommune" (Københavns Kommune, Bornholms Regionskommune)

    @property
    def authority_name(self) -> str:
        """The authority's name as it signs its letters."""
        return self.official_name or f"{self.name} Kommune"


@dataclass(frozen=True)
class CentralAuthority:
    code: str
    name: str
    cvr: str      # "" when not known: nothing is sent in its name


def _rows(name: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader((_DATA / name).read_text(encoding="utf-8").splitlines()))
    bad = [r["code"] for r in rows if r["cvr"] and not valid_cvr(r["cvr"])]
    if bad:
        raise ValueError(f"hub/data/{name}: not a valid CVR number for {', '.join(bad)}")
    return rows


@lru_cache(maxsize=1)
def all_municipalities() -> dict[str, Municipality]:
    return {r["code"]: Municipality(r["code"], r["name"], r["region"], r["cvr"], r.get("authority_name") or "")
            for r in _rows("municipalities.csv")}


@lru_cache(maxsize=1)
def central_authorities() -> dict[str, CentralAuthority]:
    return {r["code"]: CentralAuthority(r["code"], r["name"], r["cvr"]) for r in _rows("central_authorities.csv")}


def get(code: str) -> Municipality | None:
    return all_municipalities().get(code)


def sender_cvr(authority_key: str) -> str:
    """The CVR number of an authority by its key (municipality:<code>, central:<code>),
    "" when the reference data has none."""
    kind, _, code = authority_key.partition(":")
    if kind == "municipality":
        m = get(code)
        return m.cvr if m else ""
    if kind == "central":
        c = central_authorities().get(code)
        return c.cvr if c else ""
    return ""
