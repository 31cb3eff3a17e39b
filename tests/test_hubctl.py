"""hubctl walks a case end to end against a running hub."""
from __future__ import annotations

import json

from clients.cli.hubctl import main
from tests.conftest import new_cpr


def _run(capsys, hub, token, *args) -> tuple[int, dict | str]:
    code = main(["--address", hub.address, "--token", token, *args])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 else out.err)


def test_hubctl_walks_a_case(hub, capsys):
    cpr = new_cpr()
    code, case = _run(capsys, hub, "t-backoffice", "case", "create", "--municipality", "101",
                      "--cpr", f"{cpr[:6]}-{cpr[6:]}", "--benefit", "FOLKEPENSION", "--channel", "letter",
                      "--statement", "civil_status=single")
    assert code == 0 and case["status"] == "CASE_STATUS_CREATED"
    cid = case["case_id"]
    code, _ = _run(capsys, hub, "t-backoffice", "case", "add-info", cid, "--source", "register",
                   "--kind", "income.annual", "--value", "250000")
    assert code == 0
    code, sub = _run(capsys, hub, "t-backoffice", "decision", "submit", cid, "--outcome", "granted",
                     "--amount", "1450000:2026-04-01:2026-12-31", "--reasoning", "Age and residence met.",
                     "--legal-basis", "Lov om social pension § 2")
    assert code == 0 and sub["case_status"] == "CASE_STATUS_DRAFT_PENDING_APPROVAL"
    code, inbox = _run(capsys, hub, "t-cw-101", "inbox")
    assert [i["case_id"] for i in inbox["items"]] == [cid]
    code, approved = _run(capsys, hub, "t-cw-101", "decision", "approve", sub["decision"]["decision_id"])
    assert code == 0 and approved["status"] == "DECISION_STATUS_APPROVED"
    code, shown = _run(capsys, hub, "t-backoffice", "case", "show", cid)
    assert shown["status"] == "CASE_STATUS_DECIDED" and len(shown["status_history"]) == 4


def test_hubctl_shows_field_violations(hub, capsys):
    code, err = _run(capsys, hub, "t-backoffice", "case", "create", "--municipality", "999", "--cpr", "1",
                     "--benefit", "FOLKEPENSION", "--channel", "phone")
    assert code == 1
    assert "INVALID_ARGUMENT" in err and "municipality_code:" in err and "cpr:" in err


def test_hubctl_operator_commands(hub, capsys, clock):
    from tests.dispatch_support import enqueue_postings
    enqueue_postings(hub.engine, clock, cases=1, per_case=2)
    code, state = _run(capsys, hub, "t-operator", "ops", "pause", "economy")
    assert code == 0 and state == {"destination": "economy", "paused": True}
    code, backlog = _run(capsys, hub, "t-operator", "ops", "backlog")
    [economy] = backlog["destinations"]
    assert economy["pending"] == "2" and economy["paused"]
    code, listed = _run(capsys, hub, "t-operator", "ops", "list", "--status", "pending")
    assert len(listed["messages"]) == 2
    code, replayed = _run(capsys, hub, "t-operator", "ops", "replay", "--all")
    assert code == 0 and replayed == {}  # nothing was dead
    code, err = _run(capsys, hub, "t-operator", "ops", "replay")
    assert code == 2 and "MESSAGE_ID or --all" in err
    code, _ = _run(capsys, hub, "t-operator", "ops", "resume", "economy")
    assert code == 0


def test_hubctl_register_data(hub, capsys):
    cpr = new_cpr()
    _, case = _run(capsys, hub, "t-backoffice", "case", "create", "--municipality", "101", "--cpr", cpr,
                   "--benefit", "BOLIGSTOETTE", "--channel", "self-service")
    code, r = _run(capsys, hub, "t-backoffice", "case", "register-data", case["case_id"], "--from", "2026-01",
                   "--to", "2026-02")
    assert code == 0 and r["requested_months"] == ["2026-01", "2026-02"]


def test_hubctl_payment_run_shows_progress_and_a_summary(hub, backoffice, capsys, clock):
    from tests.test_payments import granted, reach
    cases = [granted(backoffice)[0] for _ in range(2)]
    reach(clock, "2026-05")
    code = main(["--address", hub.address, "--token", "t-backoffice", "payments", "run", "--period", "2026-05"])
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert code == 0 and summary["done"] and summary["orders_created"] == "4" and summary["period"] == "2026-05"
    assert "payments 2026-05" in out.err and "100%" in out.err       # the progress bar
    code, listed = _run(capsys, hub, "t-economy-101", "payments", "list", "--due-month", "2026-05")
    assert code == 0 and {o["case_id"] for o in listed["orders"]} == {c.case_id for c in cases}
    code, claim = _run(capsys, hub, "t-backoffice", "claims", "create", cases[0].case_id, "--amount", "5000",
                       "--reason", "final income", "--origin", "recalculation", "--offset")
    assert code == 0 and claim["offset_allowed"] and claim["status"] == "CLAIM_STATUS_OPEN"
    code, written = _run(capsys, hub, "t-backoffice", "claims", "write-off", claim["claim_id"], "--reason", "small")
    assert code == 0 and written["status"] == "CLAIM_STATUS_WRITTEN_OFF"


def test_hubctl_hearing_complaint_and_overdue(hub, capsys, tmp_path):
    from tests.dispatch_support import dispatcher, file_adapters
    bo, cw = "t-backoffice", "t-cw-101"
    cpr = new_cpr()
    _, case = _run(capsys, hub, bo, "case", "create", "--municipality", "101", "--cpr", cpr,
                   "--benefit", "BOLIGSTOETTE", "--channel", "letter")
    cid = case["case_id"]
    _, info = _run(capsys, hub, bo, "case", "add-info", cid, "--source", "register", "--kind", "income.annual",
                   "--value", "420000")
    code, sub = _run(capsys, hub, bo, "decision", "submit", cid, "--outcome", "refused", "--reasoning", "Over grænsen.",
                     "--legal-basis", "Lov om individuel boligstøtte § 8", "--fact", info["item"]["item_id"])
    assert code == 0 and sub["hearing_required"]
    did = sub["decision"]["decision_id"]
    code, hearing = _run(capsys, hub, bo, "hearing", "start", did, "--note", "Send lønsedler.")
    assert code == 0 and hearing["status"] == "HEARING_STATUS_OPEN"
    code, answered = _run(capsys, hub, "t-bs-101", "hearing", "respond", hearing["hearing_id"],
                          "--comments", "Indkomsten er faldet.", "--channel", "in-person")
    assert code == 0 and answered["status"] == "HEARING_STATUS_ANSWERED"
    code, approved = _run(capsys, hub, cw, "decision", "approve", did)
    assert code == 0 and approved["status"] == "DECISION_STATUS_APPROVED"
    dispatcher(hub.engine, hub.clock, file_adapters(tmp_path)).drain()  # the letter is sent

    code, complaint = _run(capsys, hub, "t-bs-101", "complaint", "file", did, "--channel", "in-person",
                           "--grounds", "Jeg er uenig.")
    assert code == 0 and complaint["status"] == "COMPLAINT_STATUS_RECEIVED"
    kid = complaint["complaint_id"]
    assert _run(capsys, hub, bo, "complaint", "statement", kid, "--text", "Redegørelse.")[0] == 0
    _, inbox = _run(capsys, hub, cw, "complaint", "list", "--awaiting")
    assert [c["complaint_id"] for c in inbox["complaints"]] == [kid]
    code, upheld = _run(capsys, hub, cw, "complaint", "reconsider", kid, "--upheld", "--note", "fastholdt")
    assert code == 0 and upheld["status"] == "COMPLAINT_STATUS_FORWARDED"
    code, remitted = _run(capsys, hub, bo, "complaint", "appeal", kid, "--outcome", "remitted",
                          "--reference", "25-1", "--decided-on", "2026-04-01")
    assert code == 0 and remitted["appeal"]["outcome"] == "APPEAL_OUTCOME_REMITTED"
    _, shown = _run(capsys, hub, bo, "case", "show", cid)
    assert shown["status"] == "CASE_STATUS_INFORMING" and shown["complaints"][0]["complaint_id"] == kid
    code, overdue = _run(capsys, hub, cw, "overdue", "--kind", "reconsideration")
    assert code == 0 and not overdue.get("items")
