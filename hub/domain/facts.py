"""Information kinds as a citizen reads them: a Danish label and a unit for each known
kind (`income.annual` is "Årsindkomst", in kroner), register records summarised, and
any other kind shown readably rather than as a code. Used by the letters
(hub.domain.documents); data, so a new kind is a new row.

Units. A fact is what its source supplied, in the unit its kind names here. The money
kinds callers add (`income.*`, `rent.*`, `wealth.*`) are whole kroner: that is how
clients send them (the README's `hubctl case add-info --kind income.annual --value
250000` is an annual income of 250.000 kr., as are the tests' 300000 and 420000), and a
letter shows them so ("Årsindkomst: 300.000 kr."). Amounts the hub itself computes,
orders and pays are integer øre everywhere; so are the income register's records
(`*_oere` fields), which the letter sums and shows in kroner and øre."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from hub.domain.model import InformationItem, InformationSource

MONTHS_DA = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
             "november", "december")


def danish_date(d: dt.date) -> str:
    """1. april 2026"""
    return f"{d.day}. {MONTHS_DA[d.month - 1]} {d.year}"


def danish_month(month: str) -> str:
    """2026-04 -> april 2026"""
    y, m = month.split("-")[:2]
    return f"{MONTHS_DA[int(m) - 1]} {int(y)}"


def kroner_oere(oere: int) -> str:
    """An amount in øre as Danish notation: 1.250,00 kr."""
    sign = "-" if oere < 0 else ""
    kr, o = divmod(abs(oere), 100)
    return f"{sign}{kr:,}".replace(",", ".") + f",{o:02d} kr."


def number_da(value: int | float) -> str:
    """Danish notation: 300.000 and 1.234,5 (a whole number has no decimals)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    whole, _, frac = f"{value:,.2f}".rstrip("0").partition(".")
    return whole.replace(",", ".") + ("," + frac if frac else "")


@dataclass(frozen=True)
class FactKind:
    label: str          # Danish, as the letter shows it
    unit: str = ""      # after the number: "kr.", "m²", ...


KR = "kr."
KNOWN: dict[str, FactKind] = {
    "income.annual": FactKind("Årsindkomst", KR),
    "income.monthly": FactKind("Månedlig indkomst", KR),
    "income.household": FactKind("Husstandens årsindkomst", KR),
    "income.partner": FactKind("Ægtefælles eller samlevers årsindkomst", KR),
    "income.expected": FactKind("Forventet årsindkomst", KR),
    "rent.monthly": FactKind("Månedlig husleje", KR),
    "rent.annual": FactKind("Årlig husleje", KR),
    "wealth.total": FactKind("Formue", KR),
    "housing.area": FactKind("Boligens areal", "m²"),
    "housing.rooms": FactKind("Antal værelser", ""),
    "household.persons": FactKind("Antal personer i husstanden", ""),
    "household.children": FactKind("Antal børn i husstanden", ""),
    "residence.years": FactKind("År med bopæl i Danmark", "år"),
    "citizen.statement": FactKind("Din udtalelse"),
    "health.statement": FactKind("Helbredsoplysninger"),
    "assessment.health": FactKind("Vurdering af helbred"),
    "income.register_records": FactKind("Indkomst fra indkomstregistret (eIndkomst)"),
}

SOURCE_DA = {
    InformationSource.CITIZEN: "dig",
    InformationSource.REGISTER: "register",
    InformationSource.AUTHORITY: "en anden myndighed",
    InformationSource.THIRD_PARTY: "en anden part",
    InformationSource.BACK_OFFICE: "sagsbehandlingen",
}

_MONEY_FIELDS = ("a_income_with_am_oere", "a_income_without_am_oere")


def label(kind: str) -> str:
    """The Danish label of a kind; an unknown kind readably (words, not a code)."""
    known = KNOWN.get(kind)
    if known:
        return known.label
    words = re.sub(r"[._]+", " ", kind).strip()
    return f"Oplysning om {words}" if words else "Oplysning"


def show_value(kind: str, value: Any) -> str:
    """The value as a letter shows it: with its unit, Danish numbers, yes/no."""
    if kind == "income.register_records" and isinstance(value, dict):
        return register_summary(value)
    unit = KNOWN[kind].unit if kind in KNOWN else ""
    return _plain(value, unit)


def _plain(value: Any, unit: str = "") -> str:
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, (int, float)):
        return f"{number_da(value)} {unit}".strip()
    if value is None or value == "":
        return "ikke oplyst"
    if isinstance(value, dict):
        return "; ".join(f"{re.sub(r'[._]+', ' ', str(k))}: {_plain(v)}" for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def register_summary(value: dict[str, Any]) -> str:
    """The income register's answer in a sentence: the months, the A-income and A-tax
    summed (øre, shown in kroner) and from how many payers."""
    records = [r for r in value.get("records") or [] if isinstance(r, dict)]
    months = sorted(value.get("months") or {str(r.get("income_period_start", ""))[:7] for r in records} - {""})
    span = ""
    if months:
        first, last = danish_month(months[0]), danish_month(months[-1])
        span = f" for {first}" if first == last else f" for {first} til {last}"
    if not records:
        return f"ingen indberetninger{span}"
    income = sum(int(r.get(f) or 0) for r in records for f in _MONEY_FIELDS)
    tax = sum(int(r.get("a_tax_oere") or 0) for r in records)
    payers = len({r.get("payer_cvr") for r in records})
    return (f"A-indkomst i alt {kroner_oere(income)}{span}, A-skat i alt {kroner_oere(tax)} "
            f"({len(records)} {'indberetning' if len(records) == 1 else 'indberetninger'} fra "
            f"{payers} {'arbejdsgiver' if payers == 1 else 'arbejdsgivere'})")


def fact_line(item: InformationItem) -> str:
    """One line of a hearing letter: label, value with unit, and where it comes from."""
    source = item.source_reference or SOURCE_DA.get(item.source, "")
    where = f" (kilde: {source})" if source else ""
    return f"  {label(item.kind)}: {show_value(item.kind, item.value)}{where}"
