"""What the municipality's local control unit receives: one JSON document per message,
the same in the file drop and in the webhook's body.

Every field is named here, one by one, rather than the message dumped whole: the unit
gets what the control needs and nothing else (data minimisation). A kind this module
has no rendering for is a permanent failure (a dead letter), never an empty document.

A redelivery renders the same document (nothing in it depends on when it is sent)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

from hub.domain.cpr import redact
from hub.ports import messages as m
from hub.ports import Delivery


def _observation(o: m.Observation) -> dict[str, Any]:
    return dict(name=o.name, label=o.label, register_value=o.register_value, assumed_value=o.assumed_value,
                unit=o.unit, source=o.source, source_reference=o.source_reference)


def _finding(p: m.ControlFinding) -> dict[str, Any]:
    return dict(finding_id=p.finding_id, case_id=p.case_id, municipality_code=p.municipality_code,
                benefit_code=p.benefit_code, cpr=p.cpr, rule_code=p.rule_code, rule_title=p.rule_title,
                found_at=_utc(p.found_at), period_start=p.period_start.isoformat(), period_end=_iso(p.period_end),
                observations=[_observation(o) for o in p.observations],
                amount_at_stake_oere_per_month=p.amount_at_stake_oere_per_month)


def _closed(p: m.ControlFindingClosed) -> dict[str, Any]:
    return dict(finding_id=p.finding_id, case_id=p.case_id, municipality_code=p.municipality_code,
                benefit_code=p.benefit_code, closed_at=_utc(p.closed_at), outcome=p.outcome, reason=p.reason)


RENDER: dict[type, Callable[[Any], dict[str, Any]]] = {
    m.ControlFinding: _finding,
    m.ControlFindingClosed: _closed,
}

# A finding id becomes a file name: letters, digits, '.', '_' and '-', not starting with '.'.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MUNICIPALITY = re.compile(r"\d{3}")


def document(d: Delivery, adapter: str) -> dict[str, Any]:
    """The document the unit gets for one message. Raises a permanent DeliveryFailed
    for a kind it has no rendering for."""
    p = d.message
    render = RENDER.get(type(p))
    if render is None:
        raise m.cannot_render(adapter, p)
    return dict(message_id=d.message_id, kind=p.KIND, caused_at=_utc(d.created_at), **render(p))


def file_name(d: Delivery) -> str:
    """The file a message becomes in the unit's folder: <finding id>.json for the
    finding, <finding id>.closed.json for its closing. ValueError for an id that is not
    a safe file name (the id is not echoed: it is not ours to show)."""
    p = d.message
    if not _SAFE_ID.fullmatch(p.finding_id) or ".." in p.finding_id:
        raise ValueError("the finding id is not a safe file name (letters, digits, '.', '_', '-')")
    if not _MUNICIPALITY.fullmatch(p.municipality_code):
        raise ValueError("the municipality code is not 3 digits")
    suffix = ".closed.json" if isinstance(p, m.ControlFindingClosed) else ".json"
    return f"{p.finding_id}{suffix}"


def scrub(d: Delivery, text: str) -> str:
    """Text from the unit's answer, fit for an error message: without the citizen's CPR
    number, however the receiver wrote it back (and any other CPR-shaped text)."""
    cpr = getattr(d.message, "cpr", "")
    if cpr:
        for form in {cpr, f"{cpr[:6]}-{cpr[6:]}"}:
            text = text.replace(form, "[CPR]")
    return redact(text)


def _utc(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat()


def _iso(v: dt.date | None) -> str | None:
    return v.isoformat() if v is not None else None
