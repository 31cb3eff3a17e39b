"""The income register client: asks for a citizen's income for a range of months and
hands the records back as the delivery's receipt (the hub attaches them to the case as
an information item with provenance). A short in-call retry (tenacity) smooths over a
dropped connection; longer outages are the dispatcher's retries with backoff.

Money in the register's records is an integer number of øre: every `*_oere` field and
every amount in `fields` (13-16). An answer with any other money value (a decimal such
as 927555.0, a string) is refused whole, a permanent failure naming the field: the hub
never guesses at an amount. The hours paid (`hours`, hundredths of an hour) are a
whole number too. HTTP and its failures: adapters/register_client.py."""
from __future__ import annotations

from adapters.register_client import Fields, RegisterClient, Refused
from hub.ports import messages as m
from hub.ports import Delivery, Receipt


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
        amounts = [(k, v) for k, v in rec.items() if k.endswith("_oere")]
        fields = rec.get("fields", {})
        if not isinstance(fields, dict):
            return f"record {n}: fields is not an object"
        amounts += [(f"fields.{k}", v) for k, v in fields.items()]
        for name, v in amounts:
            if not _whole(v):
                return f"record {n}: {name} is not a whole number of øre (a {type(v).__name__})"
        if "hours" in rec and not (_whole(rec["hours"]) and rec["hours"] >= 0):
            what = type(rec["hours"]).__name__
            return f"record {n}: hours is not a whole number (≥ 0) of hundredths of an hour (a {what})"
    return ""


class IncomeRegisterClient(RegisterClient):
    NAME = "income register"
    PATH = "/v1/income"

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
