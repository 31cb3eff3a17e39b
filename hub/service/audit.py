"""The audit log as a use case reads and adds to it: operators search it, the citizen
portal shows a citizen who looked at their cases, and a refused call is recorded with
the case (and so the citizen) it named."""
from __future__ import annotations

import datetime as dt
from typing import Sequence

from hub.domain import audit as audit_rules
from hub.domain import commands as cmd
from hub.domain import paging
from hub.domain.audit import AuditEntry
from hub.domain.errors import Violations
from hub.domain.identity import Identity
from hub.service.cases import citizen_request
from hub.store.uow import UnitOfWork


def record_refusal(uow: UnitOfWork, identity: Identity | None, action: str, named: Sequence[tuple[str, str]],
                   outcome: str, purpose: str | None, request_id: str | None, now: dt.datetime) -> None:
    """A refused call that named something of a case (`named`: (field, id) pairs): an
    entry for each case it named, with the citizen concerned (also when the caller may
    not see the case), or one without a case when nothing it named exists. `identity`
    None: a caller without identity (UNAUTHENTICATED), recorded as client
    `unauthenticated` with no role; nothing is looked up for it, so nothing it could
    time is done: its entry holds the case id it named (if shaped as one, unverified),
    never a citizen."""
    if identity is None:
        client_id, role = audit_rules.UNAUTHENTICATED, ""
        cases = dict.fromkeys(v for k, v in named if k == "case_id" and audit_rules.is_id(v))
    else:
        client_id, role = identity.client_id, identity.role.value
        cases = uow.audit.cases_named(named)
    for case_id, cpr in cases.items() or [(None, None)]:
        uow.audit.add(AuditEntry(now, client_id, role, action, case_id, cpr, outcome,
                                 audit_rules.clip(request_id, audit_rules.REQUEST_ID_LENGTH), purpose))


def list_audit_entries(uow: UnitOfWork, identity: Identity, case_id: str, client_id: str, since: dt.datetime | None,
                       until: dt.datetime | None, page_size: int, page_token: str,
                       now: dt.datetime) -> tuple[list[dict], str]:
    v = Violations()
    cmd.check_id_filter(v, "case_id", case_id)  # (kept in the audit entry of this search)
    if since and until:
        v.require(since < until, "to_time", "must be after from_time")
    size = cmd.page_size(v, page_size)
    v.raise_if_any()
    qhash = paging.query_hash(identity.client_id, "audit", case_id, client_id, since, until)
    return _page(uow, identity, "ListAuditEntries", qhash, page_token, size, None,
                 dict(case_id=case_id, client_id=client_id, since=since, until=until), now)


def list_citizen_access(uow: UnitOfWork, identity: Identity, cpr: str, page_size: int, page_token: str,
                        now: dt.datetime, *, others_only: bool = False) -> tuple[list[dict], str]:
    """Who looked at the logged-in citizen's cases (the assertion's citizen), their own
    looks through the portal included unless `others_only`."""
    cpr, size = citizen_request(identity, cpr, page_size, now)
    qhash = paging.query_hash(identity.client_id, "citizen-access", cpr, *(("others-only",) if others_only else ()))
    filters = dict(cpr=cpr, others_only=True) if others_only else dict(cpr=cpr)
    return _page(uow, identity, "ListCitizenAccess", qhash, page_token, size, cpr, filters, now)


def _page(uow: UnitOfWork, identity: Identity, action: str, qhash: str, page_token: str, size: int,
          cpr: str | None, filters: dict, now: dt.datetime) -> tuple[list[dict], str]:
    after = paging.decode(page_token, qhash)
    rows = uow.audit.entries(after_seq=after, limit=size + 1, **filters)
    # Reading the audit log is itself recorded (it tells who looked at whom).
    uow.audit.add(AuditEntry(now, identity.client_id, identity.role.value, action, filters.get("case_id") or None,
                             cpr, "OK"))
    page = rows[:size]
    return page, paging.encode(page[-1]["seq"], qhash) if len(rows) > size else ""
