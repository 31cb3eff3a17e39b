"""Subscription billing ("abonnementsmodel"): the shared back office is financed by each
municipality's share of the objective cases, billed per quarter.

The price model is data (hub/store/seeds/billing/): versions, each in force from the
first day of a quarter, each of one kind:

- PER_CASE ("by cases decided"): a price per decided case per benefit, in øre, and a
  fixed base fee per municipality and quarter;
- COST_SHARE: the back office's cost of the quarter per benefit, split among the
  municipalities in proportion to their decided cases of that benefit (largest-remainder
  rounding, so that the shares add up to the cost exactly), and the base fee.

What counts is the cases decided in the quarter: the statistics' `decided` (the first
approved decision of each application, on its Copenhagen day;
hub.service.statistics.decided_by_place), so a statement and GetStatistics agree. Pure: no
SQL, no gRPC. Money is integer øre."""
from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from hub.domain.errors import FailedPrecondition
from hub.domain.months import COPENHAGEN

QUARTER_YEARS = (1900, 2999)
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1-4

    @classmethod
    def parse(cls, text: str) -> "Quarter | None":
        """'YYYY-Qn' (n 1-4, the year within QUARTER_YEARS), else None."""
        m = _QUARTER.fullmatch(text)
        if not m or not QUARTER_YEARS[0] <= int(m.group(1)) <= QUARTER_YEARS[1]:
            return None
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-Q{self.number}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        return self.following().first_day - dt.timedelta(days=1)

    def following(self) -> "Quarter":
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    @property
    def starts_at(self) -> dt.datetime:
        """Midnight of its first day in Copenhagen, as an aware datetime."""
        return dt.datetime.combine(self.first_day, dt.time(), COPENHAGEN)

    @property
    def ends_at(self) -> dt.datetime:
        """Midnight after its last day in Copenhagen (the next quarter's start)."""
        return self.following().starts_at

    def ended(self, now: dt.datetime) -> bool:
        return now >= self.ends_at

    def started(self, now: dt.datetime) -> bool:
        return now >= self.starts_at


class ModelKind(str, enum.Enum):
    PER_CASE = "PER_CASE"
    COST_SHARE = "COST_SHARE"


class LineKind(str, enum.Enum):
    BASE_FEE = "BASE_FEE"            # the fixed fee of the quarter
    DECIDED_CASES = "DECIDED_CASES"  # PER_CASE: cases x the benefit's price
    COST_SHARE = "COST_SHARE"        # COST_SHARE: the municipality's share of the benefit's cost


# The unit each figure of a model must be in.
OERE_PER_CASE, OERE_PER_QUARTER = "OERE_PER_CASE", "OERE_PER_QUARTER"
BENEFIT_UNIT = {ModelKind.PER_CASE: OERE_PER_CASE, ModelKind.COST_SHARE: OERE_PER_QUARTER}


@dataclass(frozen=True)
class Figure:
    """One figure of the price data, with where it comes from."""
    value: int
    unit: str
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class PriceModel:
    version: int
    effective_from: dt.date      # the first day of a quarter
    kind: ModelKind
    title: str
    source: str
    note: str
    ledger_account: str          # where the municipality books the invoice
    ledger_account_source: str
    base_fee: Figure             # per municipality and quarter (0: none)
    benefits: Mapping[str, Figure]  # per benefit: price per case (PER_CASE) or the quarter's cost (COST_SHARE)
    published_by: str = ""
    published_at: dt.datetime | None = None


def price_model_from_dict(d: Mapping[str, Any], *, version: int = 0) -> PriceModel:
    """A price model from its JSON form (the seed file's versions):

        {"effective_from": "2025-01-01", "model": "PER_CASE", "title": "...", "source": "...",
         "note": "...", "ledger_account": {"value": "6.45.53", "source": "...", "note": "..."},
         "base_fee": {"value": 2500000, "unit": "OERE_PER_QUARTER", "source": "...", "note": "..."},
         "benefits": {"BOLIGSTOETTE": {"value": 45000, "unit": "OERE_PER_CASE", ...}, ...}}

    (ValueError naming what is wrong: check_price_model.)"""
    try:
        kind = ModelKind(d["model"])
    except (KeyError, ValueError):
        raise ValueError(f"model must be one of {', '.join(k.value for k in ModelKind)}") from None
    ledger = d.get("ledger_account") or {}
    m = PriceModel(int(d.get("version", version)), dt.date.fromisoformat(d["effective_from"]), kind,
                   str(d.get("title", "")), str(d.get("source", "")), str(d.get("note", "")),
                   str(ledger.get("value", "")), str(ledger.get("source", "")),
                   _figure(d.get("base_fee") or {"value": 0, "unit": OERE_PER_QUARTER}, "base_fee"),
                   {str(code): _figure(f, f"benefits.{code}") for code, f in (d.get("benefits") or {}).items()})
    problems = check_price_model(m)
    if problems:
        raise ValueError("; ".join(problems))
    return m


def _figure(f: Any, where: str) -> Figure:
    if not isinstance(f, Mapping) or isinstance(f.get("value"), bool) or not isinstance(f.get("value"), int):
        raise ValueError(f"{where} must have a whole number of øre as its value")
    return Figure(f["value"], str(f.get("unit", "")), str(f.get("source", "")), str(f.get("note", "")))


def price_model_to_dict(m: PriceModel) -> dict[str, Any]:
    def fig(f: Figure) -> dict[str, Any]:
        return dict(value=f.value, unit=f.unit, source=f.source, note=f.note)
    return dict(version=m.version, effective_from=m.effective_from.isoformat(), model=m.kind.value, title=m.title,
                source=m.source, note=m.note,
                ledger_account=dict(value=m.ledger_account, source=m.ledger_account_source),
                base_fee=fig(m.base_fee), benefits={k: fig(v) for k, v in sorted(m.benefits.items())})


def check_price_model(m: PriceModel) -> list[str]:
    problems = []
    if m.effective_from != Quarter.of(m.effective_from).first_day:
        problems.append("effective_from must be the first day of a quarter")
    if not m.ledger_account:
        problems.append("ledger_account is required")
    if m.base_fee.unit != OERE_PER_QUARTER:
        problems.append(f"base_fee is in {OERE_PER_QUARTER}")
    if m.base_fee.value < 0:
        problems.append("base_fee must not be negative")
    unit = BENEFIT_UNIT[m.kind]
    for code, f in sorted(m.benefits.items()):
        if f.unit != unit:
            problems.append(f"benefits.{code} is in {unit} in a {m.kind.value} model")
        if f.value < 0:
            problems.append(f"benefits.{code} must not be negative")
    return problems


def in_force(models: Iterable[PriceModel], quarter: Quarter) -> PriceModel | None:
    """The version in force on the quarter's first day: the latest effective then (the
    highest version among equal dates)."""
    found = [m for m in models if m.effective_from <= quarter.first_day]
    return max(found, key=lambda m: (m.effective_from, m.version), default=None)


# ---- the calculation ------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    kind: LineKind
    benefit_code: str        # "" for the base fee
    cases: int               # the municipality's decided cases of the benefit in the quarter
    unit_price_oere: int     # PER_CASE: the price per case; BASE_FEE: the fee; COST_SHARE: 0 (no unit price)
    amount_oere: int
    national_cases: int = 0  # COST_SHARE: every municipality's decided cases of the benefit (the divisor)
    cost_pool_oere: int = 0  # COST_SHARE: the benefit's cost of the quarter that is shared


@dataclass(frozen=True)
class Statement:
    """A municipality's invoice lines for a quarter."""
    municipality_code: str
    lines: tuple[Line, ...]

    @property
    def total_oere(self) -> int:
        return sum(x.amount_oere for x in self.lines)

    @property
    def cases(self) -> int:
        return sum(x.cases for x in self.lines if x.kind is not LineKind.BASE_FEE)


@dataclass(frozen=True)
class Billing:
    """What a quarter's billing comes to: each municipality's statement (none with no
    lines), and the cost of a benefit no municipality had a decided case of (COST_SHARE:
    there is no one to share it among; it is not billed)."""
    statements: tuple[Statement, ...]
    unallocated: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_oere(self) -> int:
        return sum(s.total_oere for s in self.statements)


def largest_remainder(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`total` øre split in proportion to `weights` (whole numbers, not negative, not all
    0), in whole øre that add up to `total` exactly: each gets the whole part of its
    exact share, and the øre left over go one each to the largest remainders (equal
    remainders: the lower key first). Each share is within 1 øre of its exact share, and
    a key of weight 0 gets 0."""
    if total < 0:
        raise ValueError("total must not be negative")
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must not be negative")
    whole = sum(weights.values())
    if whole == 0:
        raise ValueError("the weights are all 0: nothing to share in proportion to")
    shares = {k: total * w // whole for k, w in weights.items()}
    left = total - sum(shares.values())
    by_remainder = sorted(weights, key=lambda k: (-(total * weights[k] % whole), k))
    for k in by_remainder[:left]:
        shares[k] += 1
    return shares


def bill(model: PriceModel, counts: Mapping[tuple[str, str], int], municipalities: Iterable[str]) -> Billing:
    """Each municipality's lines for a quarter under `model`, from the decided cases per
    (municipality, benefit) in `counts`. `municipalities`: those that pay the base fee
    (every municipality the back office serves), besides any with decided cases.
    FailedPrecondition (PRICE_MISSING) when a benefit with decided cases has no figure in
    the model: nothing is billed at an invented price."""
    counts = {k: n for k, n in counts.items() if n > 0}
    missing = sorted({b for _, b in counts} - set(model.benefits))
    if missing:
        raise FailedPrecondition(f"the price model (version {model.version}) has no figure for "
                                 f"{', '.join(missing)}: publish one before billing",
                                 reason="PRICE_MISSING", metadata={"benefit_codes": ",".join(missing),
                                                                   "price_model_version": str(model.version)})
    members = sorted(set(municipalities) | {m for m, _ in counts})
    lines: dict[str, list[Line]] = {m: [] for m in members}
    if model.base_fee.value:
        for m in members:
            lines[m].append(Line(LineKind.BASE_FEE, "", 0, model.base_fee.value, model.base_fee.value))
    unallocated: dict[str, int] = {}
    for benefit in sorted({b for _, b in counts} | (set(model.benefits) if model.kind is ModelKind.COST_SHARE
                                                    else set())):
        of = {m: n for (m, b), n in counts.items() if b == benefit}
        price = model.benefits[benefit].value
        if model.kind is ModelKind.PER_CASE:
            for m, n in sorted(of.items()):
                lines[m].append(Line(LineKind.DECIDED_CASES, benefit, n, price, n * price))
        elif not of:
            if price:
                unallocated[benefit] = price
        else:
            national = sum(of.values())
            for m, share in sorted(largest_remainder(price, of).items()):
                lines[m].append(Line(LineKind.COST_SHARE, benefit, of[m], 0, share, national, price))
    return Billing(tuple(Statement(m, tuple(ls)) for m, ls in lines.items() if ls), unallocated)


@dataclass(frozen=True)
class BillingRun:
    """A quarter billed: by whom, under which price model version."""
    run_id: str
    quarter: Quarter
    client_id: str
    request_id: str
    price_model_version: int
    kind: ModelKind
    ledger_account: str
    run_at: dt.datetime
    unallocated: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementView:
    """A municipality's statement of a quarter as a caller sees it: the lines billed
    (`run` set), or a preview of what the quarter comes to so far (`run` None; `as_of`)."""
    quarter: Quarter
    statement: Statement
    price_model_version: int
    kind: ModelKind
    ledger_account: str
    run: BillingRun | None
    as_of: dt.datetime
