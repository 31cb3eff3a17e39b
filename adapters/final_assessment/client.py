"""The final assessment client: asks the tax authority's register of final assessments
("slutligning", adapters/final_assessment/simulator.py for the format and why these
components) for one citizen's income year (hub.ports.messages.FinalIncomeRequest), or
for many citizens' at once (`lookup_many`), and hands back what it answered:

    Receipt(reference="FA-...",                  # the look-up's reference
            data={"cpr": "DDMMYYSSSS", "income_year": 2025, "fetched_at": "<ISO time>",
                  "status": "assessed" | "not_assessed" | "not_found",   # not_found: lookup_many only
                  "assessment": None | {
                      "reference": "AO-...",      # the assessment's own (provenance)
                      "assessed_on": "YYYY-MM-DD",
                      "personal_income_oere": int, "personal_work_income_oere": int,
                      "capital_income_oere": int, "share_income_oere": int,
                      "share_dividends_oere": int (>= 0), "deductions_oere": int (>= 0),
                      "taxable_income_oere": int}})

`assessment` is there exactly when the status is "assessed". Every amount is an integer
number of øre within int64; anything else (a decimal, a string, a negative deduction) refuses
the whole answer for good, naming the field and never its value (adapters/register_client.py).

A year not yet assessed is an answer, not a failure: status "not_assessed", delivered.
The assessments of a year come out over months (the self-employed's months after the
rest), far beyond the dispatcher's retries (about a day and a half), and a run of
retries would mark the register as failing for every other message; so the hub records
the answer and asks again when it chooses. A number the register does not know: to
`deliver`, a 404, a permanent failure marked `not_found`; in `lookup_many`, that
person's status "not_found" (the batch answers per person).

`lookup_many(income_year, cprs)` asks for up to 1,000 numbers per request (several
requests for more) and returns {cpr: Receipt} in the order asked, each number once;
any failure of any request fails the call as `deliver` would (DeliveryFailed: a look-up
changes nothing, so asking again is harmless). A number that is not one is the
caller's mistake: ValueError, naming its place in the list, never the number."""
from __future__ import annotations

from typing import Any, Iterable

from adapters.register_client import Fields, RegisterClient, Refused
from hub.domain import cpr as cprs
from hub.ports import Delivery, DeliveryFailed, Receipt
from hub.ports import messages as m

NAME = "final assessment register"
MAX_BATCH = 1000
FIRST_YEAR, LAST_YEAR = 1970, 2099
STATUSES = ("assessed", "not_assessed")
BATCH_STATUSES = ("assessed", "not_assessed", "not_found")
MONEY = ("personal_income_oere", "personal_work_income_oere", "capital_income_oere", "share_income_oere",
         "share_dividends_oere", "deductions_oere", "taxable_income_oere")
NOT_NEGATIVE = ("share_dividends_oere", "deductions_oere")  # the others may be negative
INT64 = 1 << 63


def read_assessment(value: Any, where: str, year: int) -> dict[str, Any]:
    """One assessment, strictly: its reference and date (after the income year), and
    every amount a whole number of øre within int64."""
    f = Fields(value, where)
    out: dict[str, Any] = dict(reference=f.text("reference"), assessed_on=f.date("assessed_on"))
    if out["assessed_on"] <= f"{year}-12-31":
        raise Refused(f"{where}.assessed_on is not after the income year")
    for name in MONEY:
        v = f.whole(name, low=0 if name in NOT_NEGATIVE else -INT64 + 1, unit="øre")
        if v >= INT64:
            raise Refused(f"{where}.{name} is not within int64")
        out[name] = v
    return out


def read_answer(f: Fields, where: str, year: int, statuses: tuple[str, ...]) -> tuple[str, dict[str, Any] | None]:
    """A person's status and assessment (present exactly when assessed)."""
    status = f.choice("status", statuses)
    raw = f.get("assessment", nullable=True)
    if status != "assessed":
        if raw is not None:
            raise Refused(f"{where}.assessment is not null for a person who is {status}")
        return status, None
    if raw is None:
        raise Refused(f"{where}.assessment is null for an assessed person")
    return status, read_assessment(raw, f"{where}.assessment", year)


def _cpr(value: Any) -> str | None:
    """The number when it is a normalised CPR number with a real date, else None."""
    if not isinstance(value, str) or cprs.normalise(value) != value:
        return None
    try:
        cprs.birth_date(value)
    except ValueError:
        return None
    return value


def _year(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and FIRST_YEAR <= value <= LAST_YEAR


class _Batch(RegisterClient):
    """The batch look-up: the same register at another path, with a longer timeout."""
    NAME = NAME
    PATH = "/v1/final-income/batch"


class FinalAssessmentClient(RegisterClient):
    NAME = NAME
    PATH = "/v1/final-income"

    def __init__(self, base_url: str, *, timeout: float = 10.0, batch_timeout: float = 60.0):
        super().__init__(base_url, timeout=timeout)
        self._batch = _Batch(base_url, timeout=batch_timeout)

    def deliver(self, d: Delivery) -> Receipt:
        if not isinstance(d.message, m.FinalIncomeRequest):
            raise m.cannot_render("the final assessment client", d.message)
        asked, year = _cpr(d.message.cpr), d.message.income_year
        if asked is None:
            raise DeliveryFailed(f"{self.NAME}: the number asked for is not a CPR number", permanent=True)
        if not _year(year):
            raise DeliveryFailed(f"{self.NAME}: the income year asked for is not a year from {FIRST_YEAR} to "
                                 f"{LAST_YEAR}", permanent=True)
        data = self.ask(dict(cpr=asked, income_year=year))
        try:
            answer = Fields(data, "answer")
            fetched_at = answer.time("fetched_at")
            if answer.cpr("cpr") != asked:
                raise Refused("answer.cpr is not the number asked for")
            if answer.get("income_year") != year or not _year(answer.get("income_year")):
                raise Refused("answer.income_year is not the year asked for")
            status, assessment = read_answer(answer, "answer", year, STATUSES)
        except Refused as exc:
            raise self.refused(data, exc) from None
        return Receipt(reference=data["reference"], data=dict(cpr=asked, income_year=year, fetched_at=fetched_at,
                                                              status=status, assessment=assessment))

    def lookup_many(self, income_year: int, numbers: Iterable[str]) -> dict[str, Receipt]:
        """Every number's answer for the year, {cpr: Receipt} in the order asked (each
        number once), the receipts shaped as `deliver`'s with status "not_found" for a
        number the register does not know. See the module's docstring."""
        if not _year(income_year):
            raise ValueError(f"income_year must be a year from {FIRST_YEAR} to {LAST_YEAR}")
        wanted: dict[str, None] = {}
        for n, number in enumerate(numbers):
            if _cpr(number) is None:
                raise ValueError(f"cprs[{n}] is not a CPR number (10 digits, a real date)")
            wanted[number] = None
        out: dict[str, Receipt] = {}
        order = list(wanted)
        for start in range(0, len(order), MAX_BATCH):
            out.update(self._ask_batch(income_year, order[start:start + MAX_BATCH]))
        return {number: out[number] for number in order}

    def _ask_batch(self, year: int, chunk: list[str]) -> dict[str, Receipt]:
        data = self._batch.ask(dict(income_year=year, cprs=chunk))
        asked, out = set(chunk), {}
        try:
            answer = Fields(data, "answer")
            fetched_at = answer.time("fetched_at")
            if answer.get("income_year") != year or not _year(answer.get("income_year")):
                raise Refused("answer.income_year is not the year asked for")
            for n, entry in enumerate(answer.items("results")):
                where = f"results[{n}]"
                f = Fields(entry, where)
                number = f.cpr("cpr")
                if number not in asked:
                    raise Refused(f"{where}.cpr is not a number asked for")
                if number in out:
                    raise Refused(f"{where}.cpr is answered twice")
                status, assessment = read_answer(f, where, year, BATCH_STATUSES)
                out[number] = Receipt(reference=data["reference"],
                                      data=dict(cpr=number, income_year=year, fetched_at=fetched_at, status=status,
                                                assessment=assessment))
            if len(out) != len(asked):
                raise Refused(f"results does not answer for {len(asked) - len(out)} of the {len(asked)} numbers "
                              f"asked for")
        except Refused as exc:
            raise self._batch.refused(data, exc) from None
        return out

    def close(self) -> None:
        super().close()
        self._batch.close()
