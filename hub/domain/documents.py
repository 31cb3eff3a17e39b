"""What an approved decision puts on paper: the decision letter to the citizen (with the
authority as sender, reasons, legal basis and complaint guidance) and the case file
that goes to the shared archive. Pure functions over the model; adapters only choose
the format (MeMo XML, BagIt)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain.facts import danish_date, fact_line, kroner_oere
from hub.domain.model import (Authority, Benefit, Case, CaseView, Decision, InformationItem, Outcome, Recurrence,
                              Repayment)

COMPLAINT_WEEKS = 4

_OUTCOME_DA = {
    Outcome.GRANTED: "Du får {benefit}",
    Outcome.PARTLY_GRANTED: "Du får delvist {benefit}",
    Outcome.REFUSED: "Du får ikke {benefit}",
    Outcome.REPAYMENT: "Du skal betale {benefit} tilbage",
}


COPENHAGEN = ZoneInfo("Europe/Copenhagen")
# What a period's amount is per, by the benefit's recurrence.
_PER_DA = {Recurrence.MONTHLY: "pr. måned", Recurrence.PER_PERIOD: "for perioden", Recurrence.ONE_OFF: "i alt"}


def kroner(oere: int) -> str:
    """Danish notation: 1.250,00 kr."""
    return kroner_oere(oere)


def complaint_guidance(authority: Authority, appeals_authority: str) -> str:
    """To whom, how, and by when (forvaltningsloven § 25). Empty when the catalogue
    names no appeals authority: then no decision can be approved (see
    hub.domain.complaints.missing_reasons)."""
    if not appeals_authority.strip() or not authority.name.strip():
        return ""
    return (
        f"Hvis du er uenig i afgørelsen, kan du klage. Klagen skal være modtaget af {authority.name} "
        f"senest {COMPLAINT_WEEKS} uger efter, at du har modtaget dette brev. Du kan klage skriftligt, "
        f"digitalt eller mundtligt og skal ikke bruge en bestemt formular. {authority.name} ser på sagen igen, "
        f"og fastholder {authority.name} afgørelsen, sendes din klage videre til {appeals_authority} "
        f"(retssikkerhedsloven § 66)."
    )


@dataclass(frozen=True)
class Sender:
    key: str    # municipality:<code> or central:<code>
    name: str


@dataclass(frozen=True, kw_only=True)
class Letter:
    """A letter to the citizen with the authority as sender; `text` is the main
    document, `document_id` names it (and the file it travels in, with `file_prefix`).
    `details` holds its structured parts, kept beside the text in the archive."""
    title: str
    sender: Sender
    recipient_cpr: str
    case_id: str
    document_id: str
    file_prefix: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)


def _sender(authority: Authority) -> Sender:
    return Sender(authority.key, authority.name)


def decision_letter(case: Case, decision: Decision, benefit: Benefit, authority: Authority) -> Letter:
    title = f"Afgørelse om {benefit.name_da.lower()}"
    lines = [title, "", _OUTCOME_DA[decision.outcome].format(benefit=benefit.name_da.lower()) + "."]
    if decision.amounts:
        lines += ["", "Beløb:"]
        per = _PER_DA.get(benefit.recurrence, "for perioden")
        lines += [f"  {danish_date(a.period_start)} til {danish_date(a.period_end)}: {kroner(a.amount_oere)} {per}"
                  for a in decision.amounts]
    if decision.effective_to is not None:
        lines += ["", f"Afgørelsen gælder til og med {danish_date(decision.effective_to)}. Derefter gælder den "
                      f"afgørelse, du havde før, igen."]
    if decision.repayment is not None:
        lines += ["", "Tilbagebetaling:"] + repayment_lines(decision.repayment, benefit)
    lines += ["", "Begrundelse:", decision.reasoning or "-", "", f"Lovgrundlag: {decision.legal_basis or '-'}"]
    guidance = decision.complaint_guidance
    lines += ["", "Klagevejledning:", guidance, "", f"Venlig hilsen {authority.name}"]
    return Letter(
        title=title, sender=_sender(authority), recipient_cpr=case.cpr, case_id=case.case_id,
        document_id=decision.decision_id, file_prefix="afgoerelse", text="\n".join(lines) + "\n",
        details=dict(decision_id=decision.decision_id, outcome=decision.outcome.value,
                     amounts=jsonable(decision.amounts), reasoning=decision.reasoning,
                     legal_basis=decision.legal_basis, complaint_guidance=guidance, complaint_weeks=COMPLAINT_WEEKS,
                     repayment=jsonable(decision.repayment)))


def repayment_lines(r: Repayment, benefit: Benefit) -> list[str]:
    """What the citizen must pay back, for which months, and how it is collected."""
    how = (f"Beløbet bliver modregnet i dine kommende udbetalinger af {benefit.name_da.lower()}, indtil det er "
           f"betalt." if r.offset_allowed else "Du får en særskilt opkrævning på beløbet.")
    return [f"  Du har fået {kroner(r.amount_oere)} for meget udbetalt for perioden {danish_date(r.period_start)} "
            f"til {danish_date(r.period_end)} og skal betale beløbet tilbage.", f"  {how}"]


def hearing_letter(case: Case, decision: Decision, facts: list[InformationItem], deadline: dt.datetime,
                   benefit: Benefit, authority: Authority, note: str, *, hearing_id: str) -> Letter:
    """Partshøring: the facts the citizen has not seen, what the authority intends to
    decide, and by when they may comment."""
    title = f"Partshøring om {benefit.name_da.lower()}"
    lines = [title, "",
             "Vi overvejer at træffe denne afgørelse: "
             + _OUTCOME_DA[decision.outcome].format(benefit=benefit.name_da.lower()) + ".", "",
             "Afgørelsen vil bygge på disse oplysninger, som du ikke selv har givet os:"]
    if decision.repayment is not None:
        r = decision.repayment
        lines[4:4] = [f"Det drejer sig om {kroner(r.amount_oere)} for perioden {danish_date(r.period_start)} til "
                      f"{danish_date(r.period_end)}.", ""]
    lines += [fact_line(f) for f in facts]
    if note:
        lines += ["", note]
    lines += ["", f"Du kan komme med bemærkninger til oplysningerne senest {danish_date(local_date(deadline))}. "
                  "Hører vi ikke fra dig inden da, træffer vi afgørelsen på det grundlag, vi har "
                  "(forvaltningsloven § 19).", "", f"Venlig hilsen {authority.name}"]
    return Letter(title=title, sender=_sender(authority), recipient_cpr=case.cpr, case_id=case.case_id,
                  document_id=hearing_id, file_prefix="partshoering", text="\n".join(lines) + "\n",
                  details=dict(decision_id=decision.decision_id, intended_outcome=decision.outcome.value,
                               fact_item_ids=[f.item_id for f in facts], deadline=deadline.isoformat()))


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar date in Denmark of a moment (a naive moment is UTC, as the hub keeps them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(COPENHAGEN).date()


def simple_letter(case: Case, authority: Authority, title: str, body: str, *, document_id: str, file_prefix: str,
                  **details: Any) -> Letter:
    """A short letter with the authority as sender (e.g. a late complaint dismissed)."""
    text = "\n".join([title, "", body, "", f"Venlig hilsen {authority.name}"]) + "\n"
    return Letter(title=title, sender=_sender(authority), recipient_cpr=case.cpr, case_id=case.case_id,
                  document_id=document_id, file_prefix=file_prefix, text=text, details=details)


def archive_action_date(decided: dt.date, retention_years: int) -> dt.date:
    """The date the archive acts on the package (decision date + retention years)."""
    try:
        return decided.replace(year=decided.year + retention_years)
    except ValueError:  # 29 February
        return decided.replace(year=decided.year + retention_years, day=28)


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def case_file(view: CaseView) -> dict[str, Any]:
    """Everything the archive keeps of a case: the case, its information items, status
    history, decisions, hearings and complaints."""
    return dict(case=jsonable(view.case), information=jsonable(view.information),
                status_history=jsonable(view.history), decisions=jsonable(view.decisions),
                hearings=jsonable(view.hearings), complaints=jsonable(view.complaints))
