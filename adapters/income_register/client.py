"""The income register client: asks for a citizen's income for a range of months and
hands the records back as the delivery's receipt (the hub attaches them to the case as
an information item with provenance). A short in-call retry (tenacity) smooths over a
dropped connection; longer outages are the dispatcher's retries with backoff.

Money in the register's records is an integer number of øre: every `*_oere` field and
every amount in `fields` (13-16). An answer with any other money value (a decimal such
as 927555.0, a string) is refused whole, a permanent failure naming the field: the hub
never guesses at an amount. The hours paid (`hours`, hundredths of an hour) are a
whole number too. HTTP and its failures: adapters/register_client.py.

`lookup_many(cprs, months)` asks for up to 1,000 citizens' records of the same months
(consecutive, YYYY-MM) per request and returns {cpr: Receipt} in the order asked, each
number once, `data` {"fetched_at", "records"} (the months' records only); any failure of
any request, or any record's money that is not whole øre, fails the whole call."""
from __future__ import annotations

from typing import Iterable, Sequence

from adapters.cpr_register.client import wanted_numbers
from adapters.register_client import Fields, RegisterClient, Refused
from hub.domain import months as month_rules
from hub.ports import messages as m
from hub.ports import Delivery, Receipt

MAX_BATCH = 1000


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def money_problem(records) -> str:
    """What is wrong with the money in the records ("" when nothing): each must be an
    object whose `*_oere` fields and `fields` amounts are integers (øre), and whose
    `hours` (field 200, when there) is a whole number of hundredths of an hour."""
    if not isinstance(records, list):
        return "its records are not a list"
    for n, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("income_period_start"), str):
            return f"record {n} is not an income record"
        fields = rec.get("fields", {})
        if not isinstance(fields, dict):
            return f"record {n}: fields is not an object"
        # (type() is int: a whole number, and not a bool; checked first for all, named after)
        if not (all(type(v) is int for k, v in rec.items() if k.endswith("_oere"))
                and all(type(v) is int for v in fields.values())):
            amounts = [(k, v) for k, v in rec.items() if k.endswith("_oere")]
            amounts += [(f"fields.{k}", v) for k, v in fields.items()]
            for name, v in amounts:
                if not _whole(v):
                    return f"record {n}: {name} is not a whole number of øre (a {type(v).__name__})"
        if "hours" in rec and not (_whole(rec["hours"]) and rec["hours"] >= 0):
            what = type(rec["hours"]).__name__
            return f"record {n}: hours is not a whole number (≥ 0) of hundredths of an hour (a {what})"
    return ""


class _Batch(RegisterClient):
    NAME = "income register"
    PATH = "/v1/income/batch"


class IncomeRegisterClient(RegisterClient):
    NAME = "income register"
    PATH = "/v1/income"

    def __init__(self, base_url: str, *, timeout: float = 10.0, batch_timeout: float = 60.0):
        super().__init__(base_url, timeout=timeout)
        self._batch = _Batch(base_url, timeout=batch_timeout)

    def close(self) -> None:
        super().close()
        self._batch.close()

    def lookup_many(self, numbers: Iterable[str], months: Sequence[str]) -> dict[str, Receipt]:
        """Every number's records of `months` (see the module's docstring)."""
        months = list(months)
        if not months or any(month_rules.parse(x) is None for x in months) or \
                months != month_rules.between(months[0], months[-1]):
            raise ValueError("months must be consecutive months, YYYY-MM")
        order, out = wanted_numbers(numbers), {}
        for start in range(0, len(order), MAX_BATCH):
            out.update(self._ask_batch(order[start:start + MAX_BATCH], months))
        return {number: out[number] for number in order}

    def _ask_batch(self, chunk: list[str], months: list[str]) -> dict[str, Receipt]:
        data = self._batch.ask(dict(cprs=chunk, from_month=months[0], to_month=months[-1]))
        asked, wanted, out = set(chunk), set(months), {}
        try:
            answer = Fields(data, "answer")
            fetched_at = answer.time("fetched_at")
            for n, entry in enumerate(answer.items("results")):
                where = f"results[{n}]"
                f = Fields(entry, where)
                number = f.cpr("cpr")
                if number not in asked:
                    raise Refused(f"{where}.cpr is not a number asked for")
                if number in out:
                    raise Refused(f"{where}.cpr is answered twice")
                records = f.items("records")
                problem = money_problem(records)
                if problem:
                    raise Refused(f"{where}: {problem}")
                out[number] = Receipt(reference=data["reference"], data=dict(
                    fetched_at=fetched_at,
                    records=[r for r in records if r["income_period_start"][:7] in wanted]))
            if len(out) != len(asked):
                raise Refused(f"results does not answer for {len(asked) - len(out)} of the {len(asked)} numbers "
                              f"asked for")
        except Refused as exc:
            raise self._batch.refused(data, exc) from None
        return out

    def deliver(self, d: Delivery) -> Receipt:
        if not isinstance(d.message, m.RegisterRequest) or not d.message.months:
            raise m.cannot_render("the income register client", d.message)
        months = d.message.months
        data = self.ask(dict(cpr=d.message.cpr, from_month=months[0], to_month=months[-1]))
        try:
            fetched_at = Fields(data, "answer").time("fetched_at")
        except Refused as exc:
            raise self.refused(data, exc) from None
        problem = money_problem(data.get("records", []))
        if problem:
            raise self.refused(data, problem)
        wanted = set(months)
        records = [rec for rec in data.get("records", []) if rec["income_period_start"][:7] in wanted]
        return Receipt(reference=data["reference"], data=dict(fetched_at=fetched_at, records=records))
