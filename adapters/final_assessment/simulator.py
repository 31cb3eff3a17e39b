"""A stand-in for the tax authority's (Skattestyrelsen's) final assessment of a year's
income ("slutligning", the årsopgørelse), which cannot be reached from here: per person
and income year, whether the assessment is made yet and the income components the
benefit acts settle against once it is ("efterregulering"). It serves a deterministic
generated population over HTTP: the same CPR number and year always give the same
figures.

    POST /v1/final-income        {"cpr": "DDMMYYSSSS", "income_year": 2025}
    -> 200 {"reference": "FA-...", "fetched_at": "<ISO time>", "cpr": "...", "income_year": 2025,
            "status": "assessed" | "not_assessed",
            "assessment": {...} | null}          (null when not assessed)
    -> 404 {"error": "not found"}               (no assessment of that person for any year: see below)
    POST /v1/final-income/batch  {"income_year": 2025, "cprs": ["...", ...]}   (1 to 1,000 numbers, each once)
    -> 200 {"reference": "FA-...", "fetched_at": "<ISO time>", "income_year": 2025,
            "results": [{"cpr": "...", "status": "assessed" | "not_assessed" | "not_found",
                         "assessment": {...} | null}, ...]}        (one per number, in the order asked)
    PUT  /v1/fixtures/final-income  {"cpr": "...", "income_year": 2025,
                                     "status": "assessed" (default) | "not_assessed" | "not_found",
                                     "assessment": {<fields to replace>}}   (or `put_final_income`)
    PUT  /v1/fixtures/year          {"income_year": 2025, "assessed_from": "2026-03-15" | null}
                                     (or `put_year`; null: nobody's assessment of that year is made)
    the rest: adapters/simulation.py (stats, outages, clearing the fixtures).

The assessment, every amount an integer number of øre (whole kroner, as the årsopgørelse):

    reference                   the assessment's own reference (changes when it is reassessed)
    assessed_on                 the date the assessment was made (ISO)
    personal_income_oere        personlig indkomst (may be negative: a loss of self-employment)
    personal_work_income_oere   the part of it that is "indtægt ved personligt arbejde" (wages,
                                self-employment's result; may be negative)
    capital_income_oere         kapitalindkomst, net (often negative: interest paid)
    share_income_oere           aktieindkomst (may be negative: losses)
    share_dividends_oere        the dividends in it on which final dividend tax was withheld (≥ 0)
    deductions_oere             ligningsmæssige fradrag (≥ 0)
    taxable_income_oere         skattepligtig indkomst = personal + capital income − deductions
                                (aktieindkomst is taxed apart, personskatteloven § 8 a)

What the benefit acts count, and so why these components:
- boligstøtte: the household income is each adult's personlig indkomst plus positive
  kapitalindkomst (before the grundbeløb and bundfradrag of personskatteloven § 7) plus
  aktieindkomst taxed under personskatteloven § 8 a, stk. 1 and 2, except dividends up to
  5.000 kr on which final dividend tax was withheld; children's income is not counted
  (lov om individuel boligstøtte § 8, stk. 1 and 4; https://elov.dk/boligstotteloven/8/,
  the dividend wording from lov nr. 1588 af 20. december 2006 § 2,
  https://www.retsinformation.dk/eli/lta/2006/1588).
- folkepension, pensionstillæg: the same sum of the pensioner's and a spouse's or
  cohabitant's income (lov om social pension § 29, stk. 1, nr. 1,
  https://danskelove.dk/pensionsloven/29), disregarding a spouse's or cohabitant's
  positive "indtægt ved personligt arbejde" since 2023 (§ 29, stk. 1, nr. 10, lov nr. 875
  af 21. juni 2022, https://ft.dk/samling/20211/lovforslag/l170/20211_l170_som_fremsat.htm)
  and the pensioner's own (lov nr. 726 af 13. juni 2023, "nr. 8-12",
  https://www.ft.dk/samling/20222/lovforslag/l117/20222_l117_som_fremsat.htm): hence
  `personal_work_income_oere`. § 32 a, stk. 1 is built the same way (both acts amend it in
  step with § 29); what § 32 a governs, and the text of § 32 b, were not found. What counts
  as indtægt ved personligt arbejde follows the definition by order (for førtidspension:
  AM-bidragspligtig income, the AM-bidragspligtigt result of self-employment and its loss,
  bekendtgørelse nr. 1195 af 21. november 2024 § 35); the folkepension order was not found.
- økonomisk friplads: the household income of the parent with the right to the place and a
  spouse or cohabitant (dagtilbudsloven § 43, stk. 1, nr. 2; dagtilbudsbekendtgørelsen,
  BEK nr. 2058 af 15. november 2021, § 27, stk. 1-2, https://www.elov.dk/dagtilbudsbekendtgorelsen/paragraf/27/),
  computed by § 28, whose stk. 1 text was not found in the sources searched; a secondary
  source gives personlig indkomst plus positive net kapitalindkomst plus aktieindkomst
  (https://www.landbosyd.dk/nyheder/kan-du-fa-okonomisk-friplads), and § 28, stk. 4 lets
  the municipality judge a self-employed parent's special tax deductions
  (https://www.elov.dk/dagtilbudsbekendtgorelsen/paragraf/28/).
None of these sums subtracts the ligningsmæssige fradrag (they start from personlig
indkomst); `deductions_oere` and `taxable_income_oere` are served because the årsopgørelse
has them and an act or a later rule may use them.

When an assessment is made (the simulator's choices, not the authority's published
dates): a year's assessments are known from 15 March of the following year (`put_year`
moves that date, or makes the year not assessed for anyone); the self-employed (about
8 % of adults under 67 and 5 % over: an extended return) from 100 to 175 days later. A
year that has not ended is not assessed. Before its date a person's answer is
"not_assessed" (200), never 404.

Who is not found (404; "not_found" in a batch): a number the CPR register simulator
does not know (adapters/cpr_register/simulator.py: the last four digits 9990-9999,
impossible dates) and anyone born after the income year. Everyone else has an
assessment, children under 15 with every amount 0.

Fixtures win over the generated data: `put_final_income(cpr, year, assessment)` makes
that person's year assessed with the fields given in place of the generated ones (the
taxable income recomputed from the others unless given; `assessed_on` the generated day,
or today if that is later); `status="not_assessed"` or `"not_found"` answers so
whatever the year's date. Values are served as given (to stage a malformed answer).

    python -m adapters.final_assessment.simulator --port 8092"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import uuid
from typing import Any, Callable

from adapters.cpr_register.simulator import Population
from adapters.simulation import BadRequest, RegisterSimulator, cpr_shaped, required, rng, serve
from hub.domain import cpr as cprs

MAX_BATCH = 1000
FIRST_YEAR, LAST_YEAR = 1970, 2099
STATUSES = ("assessed", "not_assessed", "not_found")
MONEY = ("personal_income_oere", "personal_work_income_oere", "capital_income_oere", "share_income_oere",
         "share_dividends_oere", "deductions_oere", "taxable_income_oere")
FIELDS = ("reference", "assessed_on") + MONEY
PENSION_AGE = 67  # the generated population's: older people mostly live on pensions


def default_assessed_from(year: int) -> dt.date:
    """The day a year's ordinary assessments are made, unless `put_year` says otherwise."""
    return dt.date(year + 1, 3, 15)


def _kr(amount: int) -> int:
    return amount * 100


def generated(cpr: str, year: int) -> tuple[dict[str, int], bool]:
    """The generated amounts (øre) of this person's year, and whether they filed an
    extended return (self-employed: assessed later)."""
    born = cprs.birth_date(cpr)
    age = year - born.year  # the age reached in the year
    if age < 15:
        return {name: 0 for name in MONEY}, False
    r = rng(cpr, str(year), "final assessment")
    if age >= PENSION_AGE:
        profile = r.choices(["pensioner", "worker", "self_employed"], weights=[85, 10, 5])[0]
    else:
        profile = r.choices(["worker", "benefits", "self_employed", "student", "none"],
                            weights=[70, 15, 8, 5 if age < 30 else 0, 2])[0]
    if profile == "worker":
        work, other = r.randrange(220_000, 700_000), r.choice([0, 0, 0, r.randrange(5_000, 40_000)])
    elif profile == "benefits":
        work, other = r.choice([0, 0, r.randrange(10_000, 80_000)]), r.randrange(120_000, 260_000)
    elif profile == "self_employed":
        work, other = r.randrange(-150_000, 900_000), r.choice([0, r.randrange(10_000, 60_000)])
    elif profile == "student":
        work, other = r.randrange(20_000, 120_000), r.randrange(60_000, 80_000)
    elif profile == "pensioner":
        work, other = r.choice([0] * 8 + [r.randrange(10_000, 150_000)]), r.randrange(110_000, 420_000)
    else:
        work, other = 0, 0
    owner = r.random() < 0.5
    capital = -r.randrange(5_000, 70_000) + r.randrange(0, 3_000) if owner else r.randrange(-5_000, 15_000)
    share = 0 if r.random() < 0.55 else r.randrange(-10_000, 80_000)
    dividends = min(share, r.randrange(0, 40_000)) if share > 0 else 0
    deductions = r.randrange(5_000, 60_000) if work > 0 else r.choice([0, r.randrange(1_000, 15_000)])
    personal = work + other
    amounts = dict(personal_income_oere=personal, personal_work_income_oere=work, capital_income_oere=capital,
                   share_income_oere=share, share_dividends_oere=dividends, deductions_oere=deductions,
                   taxable_income_oere=personal + capital - deductions)
    return {k: _kr(v) for k, v in amounts.items()}, profile == "self_employed"


def assessment_reference(cpr: str, year: int, assessed_on: str) -> str:
    """An assessment's reference: fixed by the person, year and day, no CPR number in it."""
    return f"AO-{year}-" + hashlib.sha256(f"{cpr}|{year}|{assessed_on}".encode()).hexdigest()[:12]


def income_year(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not FIRST_YEAR <= value <= LAST_YEAR:
        raise BadRequest(f"income_year must be a year from {FIRST_YEAR} to {LAST_YEAR}")
    return value


class Simulator(RegisterSimulator):
    name = "final assessment register"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, today: Callable[[], dt.date] = dt.date.today):
        super().__init__(host, port)
        self.today = today
        self._years: dict[int, dt.date | None] = {}                        # year -> assessed from (None: not)
        self._people: dict[tuple[str, int], tuple[str, dict[str, Any]]] = {}  # (cpr, year) -> (status, fields)

    # ---- the register -------------------------------------------------------------------

    def known(self, cpr: str, year: int) -> bool:
        """Whether the register has this person for this year at all."""
        try:
            born = cprs.birth_date(cpr)
        except ValueError:
            return False
        return born.year <= year and Population(self.today()).known(cpr)

    def assessed_on(self, cpr: str, year: int, extended: bool) -> dt.date | None:
        """The day this person's assessment of the year is (or will be) made; None: not
        while the year's assessments are held back."""
        with self.lock:
            base = self._years.get(year, default_assessed_from(year))
        if base is None:
            return None
        if extended:
            base += dt.timedelta(days=rng(cpr, str(year), "extended return").randrange(100, 176))
        return base

    def generated_assessment(self, cpr: str, year: int) -> tuple[str, dict[str, Any] | None]:
        """The generated answer as of today: (status, assessment or None)."""
        if not self.known(cpr, year):
            return "not_found", None
        amounts, extended = generated(cpr, year)
        day = self.assessed_on(cpr, year, extended)
        if year >= self.today().year or day is None or day > self.today():
            return "not_assessed", None
        return "assessed", dict(reference=assessment_reference(cpr, year, day.isoformat()),
                                assessed_on=day.isoformat(), **amounts)

    def answer(self, cpr: str, year: int) -> tuple[str, dict[str, Any] | None]:
        """What the register answers for this person and year: fixtures first."""
        with self.lock:
            fixed = self._people.get((cpr, year))
        if fixed is None:
            return self.generated_assessment(cpr, year)
        status, fields = fixed
        return status, (dict(fields) if status == "assessed" else None)

    # ---- fixtures ---------------------------------------------------------------------------

    def put_final_income(self, cpr: str, year: int, assessment: dict[str, Any] | None = None, *,
                         status: str = "assessed") -> None:
        """What the register answers for this person and year from now on: assessed with
        the fields of `assessment` in place of the generated ones, or not_assessed or
        not_found."""
        if status not in STATUSES:
            raise ValueError("status must be one of " + ", ".join(STATUSES))
        given = dict(assessment or {})
        unknown = sorted(set(given) - set(FIELDS))
        if unknown:
            raise ValueError(f"assessment has no field {unknown[0]}")
        fields: dict[str, Any] = {}
        if status == "assessed":
            amounts, extended = generated(cpr, year) if _real(cpr) else ({n: 0 for n in MONEY}, False)
            day = self.assessed_on(cpr, year, extended) or self.today()
            day = min(day, self.today()).isoformat()
            fields = dict(reference=assessment_reference(cpr, year, day), assessed_on=day, **amounts)
            fields.update(given)
            if "taxable_income_oere" not in given and all(
                    isinstance(fields[n], int) for n in ("personal_income_oere", "capital_income_oere",
                                                        "deductions_oere")):
                fields["taxable_income_oere"] = (fields["personal_income_oere"] + fields["capital_income_oere"]
                                                 - fields["deductions_oere"])
        with self.lock:
            self._people[(cpr, year)] = (status, fields)

    def put_year(self, year: int, assessed_from: dt.date | None) -> None:
        """A year's ordinary assessments are made on `assessed_from` (None: not yet, for
        anyone without a fixture of their own)."""
        with self.lock:
            self._years[year] = assessed_from

    def fixture_handlers(self):
        return dict(super().fixture_handlers(), **{"final-income": self._put_final_income, "year": self._put_year})

    def _put_final_income(self, body) -> None:
        cpr, year = required(body, "cpr", "income_year")
        assessment = body.get("assessment")
        if assessment is not None and not isinstance(assessment, dict):
            raise BadRequest("assessment must be an object")
        try:
            self.put_final_income(cpr_shaped(cpr), income_year(year), assessment,
                                  status=body.get("status", "assessed"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def _put_year(self, body) -> None:
        year, day = required(body, "income_year", "assessed_from")
        try:
            when = None if day is None else dt.date.fromisoformat(day)
        except (TypeError, ValueError):
            raise BadRequest("assessed_from must be an ISO date (YYYY-MM-DD) or null") from None
        self.put_year(income_year(year), when)

    def clear_fixtures(self) -> None:
        with self.lock:
            self._people.clear()
            self._years.clear()
        super().clear_fixtures()

    # ---- look-ups ------------------------------------------------------------------------------

    def lookups(self):
        return {"/v1/final-income": self._lookup, "/v1/final-income/batch": self._lookup_batch}

    def _lookup(self, body) -> tuple[int, dict]:
        cpr, year = required(body, "cpr", "income_year")
        cpr, year = cpr_shaped(cpr), income_year(year)
        status, assessment = self.answer(cpr, year)
        if status == "not_found":
            return 404, dict(error="not found")
        return 200, dict(_head(), cpr=cpr, income_year=year, status=status, assessment=assessment)

    def _lookup_batch(self, body) -> tuple[int, dict]:
        year, numbers = required(body, "income_year", "cprs")
        year = income_year(year)
        if not isinstance(numbers, list) or not 1 <= len(numbers) <= MAX_BATCH:
            raise BadRequest(f"cprs must be a list of 1 to {MAX_BATCH} CPR numbers")
        for n, number in enumerate(numbers):
            try:
                cpr_shaped(number)
            except BadRequest:
                raise BadRequest(f"cprs[{n}] must be 10 digits") from None
        if len(set(numbers)) != len(numbers):
            raise BadRequest("cprs holds a number more than once")
        results = []
        for cpr in numbers:
            status, assessment = self.answer(cpr, year)
            results.append(dict(cpr=cpr, status=status, assessment=assessment))
        return 200, dict(_head(), income_year=year, results=results)


def _head() -> dict[str, str]:
    return dict(reference=f"FA-{uuid.uuid4().hex[:16]}", fetched_at=dt.datetime.now(dt.timezone.utc).isoformat())


def _real(number: str) -> bool:
    try:
        cprs.birth_date(number)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8092)
    args = ap.parse_args(argv)
    return serve(Simulator(args.host, args.port))


if __name__ == "__main__":
    raise SystemExit(main())
