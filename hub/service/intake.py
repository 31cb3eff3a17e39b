"""An application's way in: whether the hub processes it on its own (and, if so, its
first register look-up), the register look-ups a case asks for (the CPR register, the
rent register, the income register: each once per case and month, through the outbox in
the transaction of what asked; the answers come back as information on the case through
hub.service.delivery), and a case falling out of automatic processing to a person. The
steps after the registers' answers are hub.service.automation's."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from hub.domain.automation import SYSTEM_CLIENT, Automation, Fallout, processed_automatically
from hub.domain.model import Benefit, Case
from hub.domain.rules import facts as facts_rules
from hub.ports import CPR_REGISTER
from hub.ports import messages as msg
from hub.service.access import event
from hub.store.uow import UnitOfWork

# Which registers a benefit's rules read, beyond the CPR register (always asked first).
RENT_BENEFITS = frozenset({"BOLIGSTOETTE"})
INCOME_BENEFITS = {  # benefit -> the months of income each adult's look-up covers
    "BOLIGSTOETTE": facts_rules.INCOME_MONTHS, "FOLKEPENSION": facts_rules.INCOME_MONTHS,
    "OEKONOMISK_FRIPLADS": facts_rules.INCOME_MONTHS, "BARSELSDAGPENGE": facts_rules.EARNINGS_MONTHS,
}
WHOLE = "-"   # register_fetches' month for a register asked once per case, not per month


def begin(benefit: Benefit, case: Case) -> None:
    """A new case (before it is added): marked for automatic processing if its benefit
    and channel say so."""
    if processed_automatically(benefit, case):
        case.automation = Automation.IN_PROGRESS.value


def start(uow: UnitOfWork, case: Case, now: dt.datetime) -> None:
    """A new case under automatic processing: ask the CPR register first."""
    if case.automation != Automation.IN_PROGRESS.value:
        return
    uow.events.record(event(case, "case.automatic_processing_started", now, SYSTEM_CLIENT))
    ask(uow, case, CPR_REGISTER, lambda _: msg.PersonRequest(
        case_id=case.case_id, municipality_code=case.municipality_code, cpr=case.cpr, requested_by=SYSTEM_CLIENT), now)


def ask(uow: UnitOfWork, case: Case, register: str, message: Callable[[tuple[str, ...]], msg.Message],
        now: dt.datetime, months: tuple[str, ...] = (WHOLE,), by: str = SYSTEM_CLIENT) -> list[str]:
    """Ask a register once per case and month (WHOLE: once per case): the message for the
    months not asked before, and those months (none: nothing asked)."""
    done = uow.register_fetches.months(case.case_id, register)
    wanted = [m for m in months if m not in done]
    if not wanted:
        return []
    message_id = f"register/{case.case_id}/{register}/{wanted[0]}" + (f"..{wanted[-1]}" if len(wanted) > 1 else "")
    uow.register_fetches.add(case.case_id, register, wanted, message_id, now)
    uow.outbox.add(message(tuple(wanted)).outbox(message_id, case.case_id), now)
    uow.events.record(event(case, "case.register_data_requested", now, by, register=register,
                            months=[m for m in wanted if m != WHOLE]))
    return wanted


def fall_out(uow: UnitOfWork, case: Case, reason: Fallout, detail: str, now: dt.datetime) -> None:
    case.automation, case.fallout_reason, case.fallout_detail = Automation.FELL_OUT.value, reason.value, detail
    case.updated_at = now
    uow.cases.save_automation(case)
    uow.events.record(event(case, "case.fell_out", now, SYSTEM_CLIENT, reason=reason.value, detail=detail))
