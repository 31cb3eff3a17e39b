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
from tests.helpers import create_req, draft_req, info_req, rid, rpc_error


def _verify(engine):
    with engine.connect() as c:
        return verify(c)


def _cli(database_url, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.cli", "--database", database_url, "audit", *args],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, HUB_LOG_FORMAT="json"))


def _cli_verify(database_url, *args) -> subprocess.CompletedProcess:
    return _cli(database_url, "verify", *args)


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


def test_an_unreadable_entry_is_a_broken_link_named_by_the_cli(hub, backoffice, database_url):
    for _ in range(2):
        _walk(backoffice)
    # A time the store cannot read: any text on SQLite; on PostgreSQL 'infinity', which
    # a timestamp column takes and the driver cannot load.
    bad = "'infinity'" if hub.engine.dialect.name == "postgresql" else "'the third of March'"
    with audit_unprotected(hub.engine) as c:
        c.exec_driver_sql(f"UPDATE audit_log SET at = {bad} WHERE seq = 3")
    result = _verify(hub.engine)
    assert not result.ok and result.seq == 3 and result.entries == 2
    assert result.problem == "entry 3 cannot be read: at is not a value the hub writes (changed outside the hub?)"
    done = _cli_verify(database_url)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("audit log BROKEN at entry 3: entry 3 cannot be read: at is not a value the hub "
                                   "writes (changed outside the hub?) (2 entries verified before it)")


def test_the_hub_cannot_change_or_delete_an_entry_nor_move_the_head_back(hub, backoffice):
    """The database refuses it (migration 0010's triggers), through the hub's own engine."""
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


def _rewrite_tail(engine, seq: int, **change) -> None:
    """What someone who owns the database can do: change entry `seq`, compute its hash
    and every later one again, and move the head to the new last hash."""
    from hub.domain.audit import entry_hash
    a = tables.audit_log
    with audit_unprotected(engine) as c:
        rows = [dict(r) for r in c.execute(sa.select(a).where(a.c.seq >= seq).order_by(a.c.seq)).mappings()]
        rows[0].update(change)
        prev = rows[0]["prev_hash"]
        for r in rows:
            r["prev_hash"], r["hash"] = prev, entry_hash(prev, r)
            prev = r["hash"]
            c.execute(sa.update(a).where(a.c.seq == r["seq"]).values(prev_hash=r["prev_hash"], hash=r["hash"],
                                                                      **change if r["seq"] == seq else {}))
        c.execute(sa.update(tables.audit_chain).values(hash=prev))


def test_a_rewritten_tail_is_found_only_against_a_kept_head(hub, backoffice, database_url, tmp_path):
    for _ in range(2):
        _walk(backoffice)
    head = _cli(database_url, "head")
    assert head.returncode == 0 and head.stdout.startswith("8:")
    kept = tmp_path / "heads"
    kept.write_text("# kept by the operator\n" + head.stdout)
    _walk(backoffice)
    assert _cli_verify(database_url, "--against-file", str(kept)).returncode == 0
    _rewrite_tail(hub.engine, 6, client_id="someone else")  # who looked at entries 6 on, hidden
    # The chain alone cannot tell: every link holds.
    assert _verify(hub.engine).ok
    assert _cli_verify(database_url).returncode == 0
    # The head kept before does.
    done = _cli_verify(database_url, "--against-file", str(kept))
    assert done.returncode == 1
    assert done.stderr.strip() == ("audit log BROKEN at entry 8: entry 8 is not the one kept as the head then: the "
                                   "log was rewritten at or before it (7 entries verified before it)")
    seq, hash_ = head.stdout.split()[0].split(":")
    done = _cli_verify(database_url, "--against", f"5:{_hash_at(hub.engine, 5)}", "--against", f"{seq}:{hash_}")
    assert done.returncode == 1 and "at or before it (after entry 5, the last kept head it still has)" in done.stderr


def _hash_at(engine, seq: int) -> str:
    with engine.connect() as c:
        return c.execute(sa.select(tables.audit_log.c.hash).where(tables.audit_log.c.seq == seq)).scalar_one()


def test_a_tail_cut_off_with_the_head_moved_back_is_found_against_a_kept_head(hub, backoffice, database_url):
    for _ in range(3):
        _walk(backoffice)
    kept = f"12:{_hash_at(hub.engine, 12)}"
    with audit_unprotected(hub.engine) as c:
        c.execute(sa.delete(tables.audit_log).where(tables.audit_log.c.seq > 9))
        c.execute(sa.update(tables.audit_chain).values(seq=9, hash=sa.select(tables.audit_log.c.hash).where(
            tables.audit_log.c.seq == 9).scalar_subquery()))
    assert _cli_verify(database_url).returncode == 0
    done = _cli_verify(database_url, "--against", kept)
    assert done.returncode == 1 and "the log ends at entry 9, before the head kept at entry 12" in done.stderr


def test_kept_heads_that_are_not_heads_are_refused(hub, database_url, tmp_path):
    bad = tmp_path / "heads"
    bad.write_text("3:" + "a" * 64 + "\nnot a head\n")
    done = _cli_verify(database_url, "--against-file", str(bad))
    assert done.returncode == 2 and done.stderr.strip() == (
        f"hub audit verify: {bad}: line 2: a kept head is SEQ:HASH (an entry number, a colon and 64 hex digits)")
    done = _cli_verify(database_url, "--against", "3:" + "b" * 64, "--against-file", str(bad).replace("heads", "no"))
    assert done.returncode == 2 and "No such file" in done.stderr


def test_the_hub_appends_its_head_to_the_file_the_operator_keeps(hub, backoffice, database_url, tmp_path):
    """hub serve with HUB_AUDIT_HEAD_FILE: a line when it starts, when the head moved, and when it stops."""
    import asyncio

    from hub.cli import publish_heads
    from hub.store.audit import publish_head
    from hub.store.db import create_engine
    path = tmp_path / "heads"
    reader = create_engine(database_url, read_only=True)
    _walk(backoffice)

    async def serve() -> None:
        stopped = asyncio.Event()
        publisher = asyncio.create_task(publish_heads(reader, str(path), 3600, stopped))
        while not path.exists():  # the line it writes as it starts
            await asyncio.sleep(0.01)
        await asyncio.to_thread(_walk, backoffice)
        stopped.set()
        await publisher

    asyncio.run(serve())
    lines = path.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["4", "8"]
    assert publish_head(reader, str(path), lines[-1]) == lines[-1]  # the head has not moved: no line
    reader.dispose()
    assert path.read_text().splitlines() == lines
    assert lines[-1].split(" ")[1] == _entry_time(hub.engine, 8)
    assert _cli_verify(database_url, "--against-file", str(path)).returncode == 0


def test_hub_serve_keeps_its_head_in_the_file_it_is_given(clean_db, database_url, tmp_path):
    import json
    import signal
    import time

    import grpc

    from hub.v1 import cases_pb2_grpc
    heads, log = tmp_path / "heads", tmp_path / "hub.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "--database", database_url, "serve", "--listen", "127.0.0.1:0",
         "--clients", "etc/clients.demo.toml", "--dispatch", "off"],
        env=dict(os.environ, HUB_AUDIT_HEAD_FILE=str(heads), HUB_LOG_FILE=str(log), HUB_LOG_FORMAT="json"))
    try:
        port, waited = None, 0.0
        while port is None and waited < 60 and server.poll() is None:
            time.sleep(0.05)
            waited += 0.05
            lines = log.read_text().splitlines() if log.exists() else []
            port = next((json.loads(x)["port"] for x in lines if '"serving"' in x), None)
        assert port, "hub serve did not start"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            cases_pb2_grpc.CaseServiceStub(channel).CreateCase(
                create_req(), metadata=[("authorization", "Bearer demo-backoffice")], timeout=30)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
    assert heads.read_text().splitlines() == [f"1:{_hash_at(clean_db, 1)} {_entry_time(clean_db, 1)}"]


def _entry_time(engine, seq: int) -> str:
    with engine.connect() as c:
        at = c.execute(sa.select(tables.audit_log.c.at).where(tables.audit_log.c.seq == seq)).scalar_one()
    return at.isoformat(timespec="microseconds")


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

    seen = hub.as_citizen(cpr).ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(cpr=f"{cpr[:6]}-{cpr[6:]}")).entries
    assert [(e.client_id, e.rpc, e.purpose) for e in seen] == [("backoffice", "CreateCase", ""),
                                                               ("bs-101", "GetCase", "henvendelse")]
    assert all(e.case_id == mine.case_id for e in seen)
    # Only the portal asks on a citizen's behalf; only operators search the log.
    assert rpc_error(lambda r: _audit_stub(hub).ListCitizenAccess(r, metadata=operator),
                     audit_pb2.ListCitizenAccessRequest(cpr=cpr)).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(lambda r: _audit_stub(hub).ListAuditEntries(r, metadata=portal),
                     audit_pb2.ListAuditEntriesRequest()).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(hub.as_citizen(cpr).ListCitizenAccess,
                     audit_pb2.ListCitizenAccessRequest(cpr="12")).code() == grpc.StatusCode.INVALID_ARGUMENT
    # Reading the log is itself in the log, and the chain still holds.
    with hub.engine.connect() as c:
        rpcs = [r for (r,) in c.execute(sa.select(tables.audit_log.c.rpc).order_by(tables.audit_log.c.seq))]
    assert rpcs[-2:] == ["ListAuditEntries", "ListCitizenAccess"]
    assert _verify(hub.engine).ok


# ---- refused calls ------------------------------------------------------------------------------

OPERATOR = [("authorization", "Bearer t-operator")]


def _refused(hub, rpc: str, *, case_id: str = "", client_id: str = "") -> list:
    """The entries of refused `rpc` calls, as an operator lists them."""
    from hub.v1 import audit_pb2
    entries = _audit_stub(hub).ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
        case_id=case_id, client_id=client_id, page_size=500), metadata=OPERATOR).entries
    return [e for e in entries if e.rpc == rpc and e.outcome != "OK"]


def _citizen_sees(hub, cpr: str) -> set[int]:
    """The entries the citizen portal shows the citizen (who looked at their cases)."""
    from hub.v1 import audit_pb2
    return {e.sequence for e in hub.as_citizen(cpr).ListCitizenAccess(audit_pb2.ListCitizenAccessRequest(
        page_size=500)).entries}


def assert_refusal_audited(hub, call, request, case, rpc: str, outcome: str, client_id: str, reason: str = ""):
    """`call(request)` is refused with `outcome` (and ErrorInfo `reason`), and the refusal
    is in the audit log: one entry, on the case, seen by its citizen."""
    from tests.helpers import details
    err = rpc_error(call, request)
    assert err.code().name == outcome, err.details()
    if reason:
        assert details(err)[1].reason == reason
    [entry] = [e for e in _refused(hub, rpc, case_id=case.case_id, client_id=client_id)
               if e.request_id == getattr(request, "request_id", "")]
    assert (entry.rpc, entry.outcome, entry.case_id, entry.client_id) == (rpc, outcome, case.case_id, client_id)
    assert entry.sequence in _citizen_sees(hub, case.cpr)


def test_refused_complaint_calls_are_audited_with_the_case_and_citizen(hub, backoffice, caseworker, clock,
                                                                       tmp_path):
    from hub.v1 import complaints_pb2 as K
    from tests.dispatch_support import dispatcher, file_adapters
    from tests.test_complaints import file, sent_decision
    disp = dispatcher(hub.engine, clock, file_adapters(tmp_path), watch_deadlines=True)
    case, decision = sent_decision(backoffice, disp)
    complaint = file(backoffice, decision.decision_id)
    upheld = K.RECONSIDERATION_OUTCOME_UPHELD
    # The back office may not reconsider; the authority may not before the statement.
    assert_refusal_audited(hub, backoffice.Reconsider, K.ReconsiderRequest(
        request_id=rid(), complaint_id=complaint.complaint_id, outcome=upheld), case, "Reconsider",
        "PERMISSION_DENIED", "backoffice", "ROLE_NOT_PERMITTED")
    assert_refusal_audited(hub, caseworker.Reconsider, K.ReconsiderRequest(
        request_id=rid(), complaint_id=complaint.complaint_id, outcome=upheld), case, "Reconsider",
        "FAILED_PRECONDITION", "cw-101", "STATEMENT_MISSING")
    # A client of another municipality: not found for it, and recorded as tried.
    assert_refusal_audited(hub, hub.as_("t-cw-751").GetComplaint, K.GetComplaintRequest(
        complaint_id=complaint.complaint_id), case, "GetComplaint", "NOT_FOUND", "cw-751")


def test_refused_payment_calls_are_audited_with_the_case_and_citizen(hub, backoffice):
    from hub.v1 import operations_pb2, payments_pb2 as P
    from tests.helpers import repay
    from tests.test_payments import granted, pay_all, report, run
    case, _ = granted(backoffice)
    run(backoffice, "2026-04")
    [order] = backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).payments.orders
    # A payment the bank has not refused is not reissued.
    assert_refusal_audited(hub, backoffice.ReissuePayment, P.ReissuePaymentRequest(
        request_id=rid(), end_to_end_id=order.end_to_end_id), case, "ReissuePayment", "FAILED_PRECONDITION",
        "backoffice", "NOT_REISSUABLE")
    # A claim written off is no longer offset.
    pay_all(hub.as_("t-provider-a"))
    _, claim = repay(backoffice, case.case_id, 10_000)
    backoffice.WriteOffClaim(P.WriteOffClaimRequest(request_id=rid(), claim_id=claim.claim_id, reason="too small"))
    assert_refusal_audited(hub, backoffice.SetClaimOffset, P.SetClaimOffsetRequest(
        request_id=rid(), claim_id=claim.claim_id, offset_allowed=True), case, "SetClaimOffset",
        "FAILED_PRECONDITION", "backoffice", "CLAIM_NOT_OPEN")
    # Another provider reports on the order (named inside the request's settlements).
    assert_refusal_audited(hub, hub.as_("t-provider-b").ReportSettlement, P.ReportSettlementRequest(
        request_id=rid(), settlements=[report(order)]), case, "ReportSettlement", "NOT_FOUND", "provider-b")
    # An outbox message of the case that is no dead letter.
    [message] = [m for m in backoffice_outbox(hub) if m.case_id == case.case_id][:1]
    assert_refusal_audited(hub, hub.as_("t-operator").ReplayDeadLetters, operations_pb2.ReplayDeadLettersRequest(
        request_id=rid(), message_id=message.message_id), case, "ReplayDeadLetters", "FAILED_PRECONDITION",
        "operator", "NOT_A_DEAD_LETTER")


def backoffice_outbox(hub) -> list:
    from hub.v1 import operations_pb2
    return list(hub.as_("t-operator").ListOutboxMessages(operations_pb2.ListOutboxMessagesRequest(
        page_size=500)).messages)


def test_refused_hearing_and_decision_calls_are_audited_with_the_case_and_citizen(hub, backoffice):
    from hub.v1 import common_pb2 as S, decisions_pb2 as D
    from tests.test_complaints import refusal_pending
    case, _, r = refusal_pending(backoffice)
    hearing = backoffice.StartHearing(D.StartHearingRequest(request_id=rid(), decision_id=r.decision.decision_id))
    outsider = hub.as_("t-cw-751")
    assert_refusal_audited(hub, outsider.RecordHearingResponse, D.RecordHearingResponseRequest(
        request_id=rid(), hearing_id=hearing.hearing_id, comments="Jeg er uenig.", channel=S.CHANNEL_LETTER), case,
        "RecordHearingResponse",
        "NOT_FOUND", "cw-751")
    assert_refusal_audited(hub, outsider.ApproveDecision, D.ApproveDecisionRequest(
        request_id=rid(), decision_id=r.decision.decision_id), case, "ApproveDecision", "NOT_FOUND", "cw-751")


def test_a_refused_call_on_something_that_does_not_exist_is_audited_without_a_case(hub, backoffice):
    from hub.v1 import complaints_pb2 as K, payments_pb2 as P
    for call, request, rpc in [
            (backoffice.GetComplaint, K.GetComplaintRequest(complaint_id="0190a1b2-0000-7000-8000-000000000000"),
             "GetComplaint"),
            (backoffice.SetClaimOffset, P.SetClaimOffsetRequest(request_id=rid(), claim_id="no such claim"),
             "SetClaimOffset")]:
        assert rpc_error(call, request).code().name == "NOT_FOUND"
        [entry] = _refused(hub, rpc)
        assert (entry.client_id, entry.role, entry.outcome, entry.case_id) == ("backoffice", "back_office",
                                                                              "NOT_FOUND", "")


def test_a_call_without_identity_is_audited_as_an_attempt_that_learns_nothing(hub, backoffice):
    """No token or an unknown one: the attempt is recorded (client `unauthenticated`, no
    role), with the case id it named but no citizen, and the answer is the same whether
    that case exists or not."""
    from hub.v1 import complaints_pb2 as K
    case = backoffice.CreateCase(create_req())
    unknown_case = "0190a1b2-0000-7000-8000-000000000000"
    answers = []
    for token in ("t-nobody", None):
        for case_id in (case.case_id, unknown_case):
            err = rpc_error(hub.as_(token).GetCase, cases_pb2.GetCaseRequest(case_id=case_id))
            answers.append((err.code(), err.details(), err.trailing_metadata()))
    assert all(code.name == "UNAUTHENTICATED" for code, _, _ in answers)
    assert answers[0] == answers[1] and answers[2] == answers[3]  # the case's existence changes nothing
    rpc_error(hub.as_("t-nobody").GetComplaint, K.GetComplaintRequest(complaint_id=unknown_case))
    entries = _refused(hub, "GetCase", client_id="unauthenticated") + _refused(hub, "GetComplaint",
                                                                              client_id="unauthenticated")
    assert [(e.rpc, e.case_id, e.role, e.outcome) for e in entries] == [
        ("GetCase", case.case_id, "", "UNAUTHENTICATED"), ("GetCase", unknown_case, "", "UNAUTHENTICATED"),
        ("GetCase", case.case_id, "", "UNAUTHENTICATED"), ("GetCase", unknown_case, "", "UNAUTHENTICATED"),
        ("GetComplaint", "", "", "UNAUTHENTICATED")]
    assert not {e.sequence for e in entries} & _citizen_sees(hub, case.cpr)
    assert _verify(hub.engine).ok


def test_every_id_a_request_names_is_one_the_audit_resolves_or_knowingly_not():
    """A new request field naming something of a case must be in CASE_OBJECTS (its
    refusals are then audited with the case); a new *_id that names no case goes below."""
    from hub.api.servicers import CASE_OBJECTS
    from hub.api.services import request_class, unary_methods
    from hub.store.audit import _OWNERS
    no_case = {"request_id", "batch_id", "provider_id", "client_id"}  # a call, a batch of many cases, clients

    def ids(descriptor, seen=()):
        for f in descriptor.fields:
            if f.message_type is not None and f.message_type.file.package == "hub.v1" and f.message_type not in seen:
                yield from ids(f.message_type, (*seen, descriptor))
            elif f.name.endswith("_id") and f.type == f.TYPE_STRING:
                yield f.name
    named = {name for _, _, m in unary_methods() for name in ids(request_class(m).DESCRIPTOR)}
    assert named - no_case == CASE_OBJECTS
    assert set(CASE_OBJECTS) - {"case_id"} == set(_OWNERS)


def test_a_long_purpose_or_request_id_is_audited_as_far_as_the_log_keeps_it(hub, backoffice):
    """A purpose over 200 characters failed the read on PostgreSQL (INTERNAL, unaudited):
    it is refused (INVALID_ARGUMENT) and the attempt audited without it; a refused call's
    request id may be longer than any the hub accepts."""
    case = backoffice.CreateCase(create_req())
    purpose = "klagesag " * 40
    err = rpc_error(lambda: backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id),
                                               metadata=[("x-purpose", purpose)]))
    assert err.code().name == "INVALID_ARGUMENT"
    long_id = "r" * 300
    err = rpc_error(backoffice.AddInformation, info_req(case.case_id, request_id=long_id))
    assert err.code().name == "INVALID_ARGUMENT"
    with hub.engine.connect() as c:
        rows = c.execute(sa.select(tables.audit_log.c.rpc, tables.audit_log.c.purpose, tables.audit_log.c.request_id)
                         .where(tables.audit_log.c.case_id == case.case_id).order_by(tables.audit_log.c.seq)).all()
    assert [tuple(r) for r in rows] == [("CreateCase", None, rows[0][2]), ("GetCase", None, None),
                                        ("AddInformation", None, long_id[:128])]
