"""The audit log: an entry for every case read and write, chained by hashes so that
`hub audit verify` finds a changed byte or a deleted entry."""
from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys

import sqlalchemy as sa

from hub.store import tables
from hub.store.audit import verify
from hub.v1 import cases_pb2
from tests.conftest import audit_unprotected
from tests.helpers import create_req, draft_req, info_req


def _verify(engine):
    with engine.connect() as c:
        return verify(c)


def _cli_verify(database_url) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.cli", "--database", database_url, "audit", "verify"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, HUB_LOG_FORMAT="json"))


def _walk(backoffice):
    case = backoffice.CreateCase(create_req())
    backoffice.AddInformation(info_req(case.case_id))
    backoffice.SubmitDraftDecision(draft_req(case.case_id))
    backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id), metadata=[("x-purpose", "klagesag")])
    return case


def test_every_case_read_and_write_is_audited_and_the_chain_verifies(hub, backoffice, database_url):
    case = _walk(backoffice)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # concurrent writers chain in commit order
        list(pool.map(lambda _: _walk(backoffice), range(16)))
    with hub.engine.connect() as c:
        rows = c.execute(sa.select(tables.audit_log).where(tables.audit_log.c.case_id == case.case_id)
                         .order_by(tables.audit_log.c.seq)).mappings().all()
    assert [r["rpc"] for r in rows] == ["CreateCase", "AddInformation", "SubmitDraftDecision", "GetCase"]
    assert all(r["cpr"] == case.cpr and r["client_id"] == "backoffice" and r["outcome"] == "OK" for r in rows)
    assert rows[-1]["purpose"] == "klagesag"
    result = _verify(hub.engine)
    assert result.ok and result.entries == 17 * 4
    done = _cli_verify(database_url)
    assert done.returncode == 0 and "68 entries" in done.stdout


def test_a_one_byte_edit_is_found(hub, backoffice, database_url):
    for _ in range(3):
        _walk(backoffice)
    with audit_unprotected(hub.engine) as c:  # someone who owns the database hides who looked
        c.execute(sa.update(tables.audit_log).where(tables.audit_log.c.seq == 7).values(client_id="backofficf"))
    result = _verify(hub.engine)
    assert not result.ok and result.seq == 7 and "does not match its hash" in result.problem
    done = _cli_verify(database_url)
    assert done.returncode == 1 and "entry 7" in done.stderr


def test_a_rehashed_edit_breaks_the_next_link(hub, backoffice):
    from hub.domain.audit import entry_hash
    _walk(backoffice)
    with audit_unprotected(hub.engine) as c:
        row = dict(c.execute(sa.select(tables.audit_log).where(tables.audit_log.c.seq == 2)).mappings().one())
        row["purpose"] = "routine"
        c.execute(sa.update(tables.audit_log).where(tables.audit_log.c.seq == 2)
                  .values(purpose="routine", hash=entry_hash(row["prev_hash"], row)))
    result = _verify(hub.engine)
    assert not result.ok and result.seq == 3 and "not linked" in result.problem


def test_a_deleted_entry_is_found_in_the_middle_and_at_the_end(hub, backoffice):
    for _ in range(3):
        _walk(backoffice)
    with audit_unprotected(hub.engine) as c:
        c.execute(sa.delete(tables.audit_log).where(tables.audit_log.c.seq == 5))
    result = _verify(hub.engine)
    assert not result.ok and "entry 5 is missing" in result.problem
    with audit_unprotected(hub.engine) as c:  # all from there to the end: no gap left to see, but the head knows
        c.execute(sa.delete(tables.audit_log).where(tables.audit_log.c.seq >= 5))
    result = _verify(hub.engine)
    assert not result.ok and "log ends at entry 4 but its head is at entry 12" in result.problem


def test_the_hub_cannot_change_or_delete_an_entry_nor_move_the_head_back(hub, backoffice):
    """The database refuses it (migration 0009's triggers), through the hub's own engine."""
    import pytest
    _walk(backoffice)
    a, head = tables.audit_log, tables.audit_chain
    refused = [sa.update(a).where(a.c.seq == 2).values(client_id="someone else"), sa.delete(a).where(a.c.seq == 4),
               sa.delete(a), sa.delete(head), sa.update(head).values(seq=3, hash=sa.select(a.c.hash).where(
                   a.c.seq == 3).scalar_subquery()), sa.update(head).values(seq=5, hash="0" * 64)]
    if hub.engine.dialect.name == "postgresql":
        refused += [sa.text("TRUNCATE audit_log"), sa.text("TRUNCATE audit_chain")]
    for statement in refused:
        with pytest.raises(sa.exc.DatabaseError, match="append-only|only moves forward"):
            with hub.engine.begin() as c:
                c.execute(statement)
    with hub.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(a)).scalar_one() == 4
    assert _verify(hub.engine).ok
    _walk(backoffice)  # and the hub goes on appending
    assert _verify(hub.engine).entries == 8


def _audit_stub(hub):
    from hub.v1 import audit_pb2_grpc
    return audit_pb2_grpc.AuditServiceStub(hub.channel)


def test_operators_list_entries_and_the_citizen_sees_who_looked(hub, backoffice, borgerservice):
    import grpc

    from hub.v1 import audit_pb2
    from tests.conftest import new_cpr
    from tests.helpers import rpc_error
    operator = [("authorization", "Bearer t-operator")]
    portal = [("authorization", "Bearer t-portal")]
    cpr = new_cpr()
    mine = backoffice.CreateCase(create_req(cpr=cpr))
    other = backoffice.CreateCase(create_req(municipality="751"))
    borgerservice.GetCase(cases_pb2.GetCaseRequest(case_id=mine.case_id), metadata=[("x-purpose", "henvendelse")])
    # borgerservice of 101 tries a case of 751: refused, and recorded as tried.
    err = rpc_error(borgerservice.GetCase, cases_pb2.GetCaseRequest(case_id=other.case_id))
    assert err.code() == grpc.StatusCode.NOT_FOUND

    listed = _audit_stub(hub).ListAuditEntries(audit_pb2.ListAuditEntriesRequest(case_id=other.case_id),
                                               metadata=operator).entries
    assert [(e.rpc, e.client_id, e.outcome) for e in listed] == [("CreateCase", "backoffice", "OK"),
                                                                 ("GetCase", "bs-101", "NOT_FOUND")]
    page = _audit_stub(hub).ListAuditEntries(audit_pb2.ListAuditEntriesRequest(client_id="bs-101", page_size=1),
                                             metadata=operator)
    assert len(page.entries) == 1 and page.next_page_token
    rest = _audit_stub(hub).ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
        client_id="bs-101", page_size=1, page_token=page.next_page_token), metadata=operator)
    assert rest.entries[0].sequence > page.entries[0].sequence

    seen = _audit_stub(hub).ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(cpr=f"{cpr[:6]}-{cpr[6:]}"),
                                              metadata=portal).entries
    assert [(e.client_id, e.rpc, e.purpose) for e in seen] == [("backoffice", "CreateCase", ""),
                                                               ("bs-101", "GetCase", "henvendelse")]
    assert all(e.case_id == mine.case_id for e in seen)
    # Only the portal asks on a citizen's behalf; only operators search the log.
    assert rpc_error(lambda r: _audit_stub(hub).ListCitizenAccess(r, metadata=operator),
                     audit_pb2.ListCitizenAccessRequest(cpr=cpr)).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(lambda r: _audit_stub(hub).ListAuditEntries(r, metadata=portal),
                     audit_pb2.ListAuditEntriesRequest()).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(lambda r: _audit_stub(hub).ListCitizenAccess(r, metadata=portal),
                     audit_pb2.ListCitizenAccessRequest(cpr="12")).code() == grpc.StatusCode.INVALID_ARGUMENT
    # Reading the log is itself in the log, and the chain still holds.
    with hub.engine.connect() as c:
        rpcs = [r for (r,) in c.execute(sa.select(tables.audit_log.c.rpc).order_by(tables.audit_log.c.seq))]
    assert rpcs[-2:] == ["ListAuditEntries", "ListCitizenAccess"]
    assert _verify(hub.engine).ok
