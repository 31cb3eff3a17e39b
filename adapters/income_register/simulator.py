"""A stand-in for the income register (eIndkomst), which cannot be reached from here.
It serves a deterministic generated population over HTTP: the same CPR number and
month always give the same records.

    POST /v1/income   {"cpr": "...", "from_month": "YYYY-MM", "to_month": "YYYY-MM"}
    -> {"reference": "...", "fetched_at": "...", "records": [...]}
    POST /v1/income/batch  {"cprs": ["...", ...], "from_month": "YYYY-MM", "to_month": "YYYY-MM"}
         (1 to 1,000 numbers, each once)
    -> {"reference": "...", "fetched_at": "...", "results": [{"cpr": "...", "records": [...]}, ...]}
         (one per number, in the order asked)
    PUT  /v1/fixtures/income  {"cpr": "...", "month": "YYYY-MM", "records": [...]}
         (or `put_income` in-process) -> these records for that citizen and month from
         now on, instead of the generated ones; the rest: adapters/simulation.py (stats,
         outages, clearing the fixtures).

Records have the register's shape: payer (CVR and SE number), income period, income
type code, A-income with and without labour-market contribution (fields 13 and 14),
A-tax (15) and labour-market contribution (16), all integers of øre (the client refuses
anything else), and `hours`, the hours paid in the period in hundredths of an hour
(field 200, "antal timer"), an integer too.

    python -m adapters.income_register.simulator --port 8089"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib

from adapters.simulation import BadRequest, RegisterSimulator, batch, cpr_shaped, required, rng, serve
from hub.domain.months import between, parse

MAX_MONTHS = 36


def employers(cpr: str) -> list[dict[str, str]]:
    r = rng(cpr, "employers")
    out = []
    for _ in range(r.choice([0, 1, 1, 1, 2])):
        cvr = f"{r.randrange(10_000_000, 99_999_999)}"
        out.append(dict(cvr=cvr, se=f"{r.randrange(10_000_000, 99_999_999)}"))
    return out


def income_records(cpr: str, months: list[str]) -> list[dict]:
    records = []
    for month in months:
        y, m = map(int, month.split("-"))
        start = dt.date(y, m, 1)
        end = (dt.date(y + (m == 12), 1 if m == 12 else m + 1, 1) - dt.timedelta(days=1))
        for e in employers(cpr):
            r = rng(cpr, e["cvr"], month)
            if r.random() < 0.08:  # no pay this month from this payer
                continue
            with_am = r.randrange(1_500_000, 4_500_000)          # øre
            am = with_am * 8 // 100                              # field 16: 8 %
            without_am = r.choice([0, 0, 0, r.randrange(50_000, 300_000)])
            tax = (with_am - am + without_am) * 37 // 100        # field 15
            hours = r.choice([16033, 16033, 16033, 14800, 12000, 7400])  # field 200, hundredths of an hour
            records.append(dict(
                payer_cvr=e["cvr"], payer_se=e["se"], income_period_start=start.isoformat(),
                income_period_end=end.isoformat(), income_type_code="00",
                a_income_with_am_oere=with_am, a_income_without_am_oere=without_am,
                a_tax_oere=tax, am_contribution_oere=am, hours=hours,
                fields={"13": with_am, "14": without_am, "15": tax, "16": am}))
    return records


class Simulator(RegisterSimulator):
    name = "income register"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self._income: dict[tuple[str, str], list[dict]] = {}  # (cpr, month) -> records

    def put_income(self, cpr: str, month: str, records: list[dict]) -> None:
        """The records the register answers for this citizen and month from now on
        (an empty list: no income that month), instead of the generated ones."""
        if not isinstance(month, str) or parse(month) is None:
            raise ValueError("month must be YYYY-MM")
        with self.lock:
            self._income[(cpr, month)] = [dict(r) for r in records]

    def records(self, cpr: str, months: list[str]) -> list[dict]:
        with self.lock:
            fixed = {m: self._income[(cpr, m)] for m in months if (cpr, m) in self._income}
        if not fixed:
            return income_records(cpr, months)
        return [r for m in months for r in (fixed[m] if m in fixed else income_records(cpr, [m]))]

    def lookups(self):
        return {"/v1/income": self._lookup, "/v1/income/batch": self._lookup_batch}

    def _lookup(self, body) -> tuple[int, dict]:
        cpr, first, last = required(body, "cpr", "from_month", "to_month")
        cpr_shaped(cpr)
        months = _months(first, last)
        with self.lock:
            n = self.requests + 1
        reference = "EI-" + hashlib.sha256(f"{cpr}|{first}|{last}".encode()).hexdigest()[:12] + f"-{n}"
        return 200, dict(reference=reference, fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                         records=self.records(cpr, months))

    def _lookup_batch(self, body) -> tuple[int, dict]:
        first, last = required(body, "from_month", "to_month")
        months = _months(first, last)
        results = [dict(cpr=cpr, records=self.records(cpr, months)) for cpr in batch(body, "cprs", cpr_shaped)]
        with self.lock:
            n = self.requests + 1
        reference = "EI-" + hashlib.sha256(f"batch|{first}|{last}|{n}".encode()).hexdigest()[:12] + f"-{n}"
        return 200, dict(reference=reference, fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                         results=results)

    def fixture_handlers(self):
        return dict(super().fixture_handlers(), income=self._put_income)

    def _put_income(self, body) -> None:
        cpr, month, records = required(body, "cpr", "month", "records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise BadRequest("records must be a list of objects")
        try:
            self.put_income(cpr_shaped(cpr), month, records)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def clear_fixtures(self) -> None:
        with self.lock:
            self._income.clear()
        super().clear_fixtures()


def _months(first, last) -> list[str]:
    if not all(isinstance(x, str) and parse(x) for x in (first, last)):
        raise BadRequest("from_month and to_month must be months (YYYY-MM)")
    months = between(first, last)
    if not months or len(months) > MAX_MONTHS:
        raise BadRequest(f"between 1 and {MAX_MONTHS} months")
    return months


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8089)
    args = ap.parse_args(argv)
    return serve(Simulator(args.host, args.port))


if __name__ == "__main__":
    raise SystemExit(main())
