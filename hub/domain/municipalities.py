"""The 98 municipalities, from the project's copy of the official list."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    region: str

    @property
    def authority_name(self) -> str:
        return f"{self.name} Kommune"


@lru_cache(maxsize=1)
def all_municipalities() -> dict[str, Municipality]:
    text = (Path(__file__).resolve().parent.parent / "data" / "municipalities.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return {r["code"]: Municipality(r["code"], r["name"], r["region"]) for r in rows}


def get(code: str) -> Municipality | None:
    return all_municipalities().get(code)
