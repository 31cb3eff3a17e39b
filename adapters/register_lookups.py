"""The registers' batch look-ups as one port (hub.ports.RegisterLookups), for the IT
control: the CPR register's persons, the rent register's dwellings and the income
register's records, many at a time over each register's own client (its batch
endpoint, up to 1,000 keys a request, read as strictly as a single answer)."""
from __future__ import annotations

from adapters.cpr_register.client import CprRegisterClient
from adapters.income_register.client import IncomeRegisterClient
from adapters.rent_register.client import RentRegisterClient
from hub.ports import Receipt


class RegisterBatches:
    def __init__(self, cpr_url: str, rent_url: str, income_url: str, *, timeout: float = 60.0):
        self.cpr = CprRegisterClient(cpr_url, batch_timeout=timeout)
        self.rent = RentRegisterClient(rent_url, batch_timeout=timeout)
        self.income = IncomeRegisterClient(income_url, batch_timeout=timeout)

    def persons(self, cprs: list[str]) -> dict[str, Receipt]:
        return self.cpr.lookup_many(cprs) if cprs else {}

    def dwellings(self, address_ids: list[str]) -> dict[str, Receipt]:
        return self.rent.lookup_many(address_ids) if address_ids else {}

    def incomes(self, cprs: list[str], months: list[str]) -> dict[str, Receipt]:
        return self.income.lookup_many(cprs, months) if cprs else {}

    def close(self) -> None:
        for client in (self.cpr, self.rent, self.income):
            client.close()
