"""Who may do what to which case: the permission table and the data limits applied to
a call (hub.domain.identity holds both), and the look-ups every use case starts with."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from hub.domain import municipalities
from hub.domain.errors import NotFound, PermissionDenied, Unauthenticated
from hub.domain.identity import CITIZEN_ACTIONS, Identity, Role
from hub.domain.model import Authority, AuthorityKind, Case, Event, Sensitivity, authority_from_key
from hub.store.uow import UnitOfWork


def authorize(identity: Identity, action: str) -> None:
    if not identity.may(action):
        raise PermissionDenied(f"role {identity.role.value} may not call {action}",
                               reason="ROLE_NOT_PERMITTED", metadata={"action": action})
    if identity.role is Role.CITIZEN_PORTAL and identity.citizen is None and action in CITIZEN_ACTIONS:
        raise Unauthenticated(f"{action} from the citizen portal needs the logged-in citizen's signed assertion "
                              f"(metadata x-citizen-assertion)", reason="CITIZEN_ASSERTION_MISSING")


def check_limits(identity: Identity, benefit_code: str, sensitivity: Sensitivity | None) -> None:
    """A case the client makes or changes stays within its data limits."""
    if not identity.scope.covers_benefit(benefit_code):
        raise PermissionDenied("this client does not act for that benefit", reason="BENEFIT_OUT_OF_SCOPE",
                               metadata={"benefit_code": benefit_code})
    if sensitivity is not None and sensitivity not in identity.scope.sensitivities:
        raise PermissionDenied("the sensitivity is above this client's limit", reason="SENSITIVITY_ABOVE_LIMIT",
                               metadata={"sensitivity": sensitivity.value, "limit": identity.max_sensitivity.value})


def case_in_scope(uow: UnitOfWork, identity: Identity, case_id: str, *, for_update: bool = False) -> Case:
    case = uow.cases.get(case_id, for_update=for_update) if case_id else None
    if case is None or not identity.scope.sees(case) or not _the_citizens(identity, case):
        # Out of scope looks exactly like absent: existence is not revealed.
        raise NotFound("case not found", reason="CASE_NOT_FOUND", metadata={"case_id": case_id})
    return case


def _the_citizens(identity: Identity, case: Case) -> bool:
    """The citizen portal sees and acts on the cases of the citizen it acts for, no other."""
    return identity.role is not Role.CITIZEN_PORTAL or (identity.citizen is not None and case.cpr == identity.citizen)


def require_authority(identity: Identity, case: Case, what: str) -> None:
    if not identity.covers_authority(case.authority_key):
        raise PermissionDenied(f"only the case's authority {what}", reason="NOT_THE_AUTHORITY")


def authority_of(uow: UnitOfWork, case: Case) -> Authority:
    """The case's authority, named as its letters name it."""
    authority = authority_from_key(case.authority_key)
    benefit = uow.catalogue.get(case.benefit_code)
    if authority.kind is AuthorityKind.CENTRAL and benefit.central_authority_name:
        authority = replace(authority, name=benefit.central_authority_name)
    return authority


def event(case: Case, type_: str, now: dt.datetime, client_id: str, **payload: Any) -> Event:
    return Event(type_, case.case_id, case.municipality_code, case.benefit_code, now, client_id, payload)


def run_municipalities(identity: Identity, code: str) -> tuple[str, ...]:
    """The municipalities a run over many cases (a settlement, a control) covers: the one
    asked for (which the caller must act for), else all the caller acts for (() meaning
    every one)."""
    mine = identity.scope.municipalities
    if code:
        if code not in mine:
            raise PermissionDenied("this client does not act for that municipality",
                                   reason="MUNICIPALITY_OUT_OF_SCOPE", metadata={"municipality_code": code})
        return (code,)
    return () if len(mine) >= len(municipalities.all_municipalities()) else tuple(sorted(mine))
