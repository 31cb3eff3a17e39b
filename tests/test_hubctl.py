"""hubctl walks a case end to end against a running hub, and behaves as a command-line
tool should: help on everything, its own output accepted back as input, one clear line
for a mistake, Danish letters as themselves, quiet in a pipe, words for an empty answer."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clients.cli.hubctl import main, parser
from hub.v1 import cases_pb2, common_pb2, complaints_pb2, control_pb2, decisions_pb2, operations_pb2, payments_pb2
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
    assert code == 0 and replayed == {"replayed": "0"}  # nothing was dead
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


def test_hubctl_shows_register_money_as_whole_oere(hub, capsys, clock, tmp_path):
    """The register's money is integer øre; it travels in a google.protobuf.Value (a
    double), and hubctl prints it as the whole number it is."""
    from adapters.income_register.simulator import income_records
    from tests.dispatch_support import dispatcher, file_adapters, simulator
    cpr = next(c for c in iter(new_cpr, None) if income_records(c, ["2026-01", "2026-02"]))  # one with income
    sim = simulator()
    try:
        _, case = _run(capsys, hub, "t-backoffice", "case", "create", "--municipality", "101", "--cpr", cpr,
                       "--benefit", "BOLIGSTOETTE", "--channel", "self-service")
        _run(capsys, hub, "t-backoffice", "case", "register-data", case["case_id"], "--from", "2026-01",
             "--to", "2026-02")
        url = f"http://127.0.0.1:{sim.server_address[1]}"
        dispatcher(hub.engine, clock, file_adapters(tmp_path, register_url=url)).drain()
    finally:
        sim.shutdown()
        sim.server_close()
    assert main(["--address", hub.address, "--token", "t-backoffice", "case", "show", case["case_id"]]) == 0
    out = capsys.readouterr().out
    money = re.findall(r'"(a_\w+_oere)": ([0-9.]+)', out)
    assert money and all("." not in v for _, v in money), money[:3]


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
    # A claim comes from a repayment decision (resting on what the citizen told us: no hearing).
    from tests.test_payments import pay_all
    pay_all(hub.as_("t-provider-a"))
    cid = cases[0].case_id
    code, told = _run(capsys, hub, "t-backoffice", "case", "add-info", cid, "--source", "citizen",
                      "--kind", "income.annual", "--value", "420000")
    code, sub = _run(capsys, hub, "t-backoffice", "decision", "submit", cid, "--repayment", "5000:2026-04-01:2026-04-30",
                     "--offset", "--reasoning", "Højere indkomst.", "--legal-basis", "Lov om individuel boligstøtte § 47",
                     "--fact", told["item"]["item_id"])
    assert code == 0 and sub["approved_automatically"] and sub["decision"]["outcome"] == "OUTCOME_REPAYMENT"
    code, shown = _run(capsys, hub, "t-backoffice", "case", "show", cid)
    [claim] = shown["payments"]["claims"]
    assert claim["offset_allowed"] and claim["status"] == "CLAIM_STATUS_OPEN" and claim["amount_oere"] == "5000"
    assert claim["decision_id"] == sub["decision"]["decision_id"]
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
    assert _raw(capsys, hub, cw, "overdue", "--kind", "reconsideration") == (0, "0 overdue items\n", "")


def _raw(capsys, hub, token, *args) -> tuple[int, str, str]:
    code = main(["--address", hub.address, "--token", token, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _parsers(p: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every parser of the tree, with its path of subcommands."""
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_every_subcommand_and_argument_has_help():
    missing, commands = [], 0
    for path, p in _parsers(parser()):
        where = " ".join(("hubctl",) + path)
        if path and not (p.description or "").strip():
            missing.append(f"{where}: no description")
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {a.dest: a.help for a in action._choices_actions}  # only those added with help=
                missing += [f"{where} {name}: no help" for name in action.choices
                            if not (helped.get(name) or "").strip()]
                commands += len(action.choices)
            elif not (action.help or "").strip():
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}: no help")
    assert commands > 40 and not missing, "\n".join(missing)


# Every option that takes an enum: (the command line up to the value, the option's dest, the
# enum, the values it takes if not all).
ENUM_OPTIONS = [
    (["case", "create", "--municipality", "101", "--cpr", "x", "--benefit", "B", "--channel"], "channel",
     common_pb2.Channel, None),
    (["case", "list", "--status"], "status", common_pb2.CaseStatus, None),
    (["case", "add-info", "C", "--kind", "k", "--value", "1", "--source"], "source", cases_pb2.InformationSource, None),
    (["case", "register-data", "C", "--from", "2026-01", "--to", "2026-02", "--register"], "register",
     cases_pb2.Register, None),
    (["decision", "submit", "C", "--outcome"], "outcome", decisions_pb2.Outcome, None),
    (["decision", "submit", "C", "--outcome", "refused", "--hearing-exception"], "hearing_exception",
     decisions_pb2.HearingException, None),
    (["hearing", "respond", "H", "--comments", "c", "--channel"], "channel", common_pb2.Channel, None),
    (["complaint", "file", "D", "--grounds", "g", "--channel"], "channel", common_pb2.Channel, None),
    (["complaint", "list", "--status"], "status", complaints_pb2.ComplaintStatus, None),
    (["complaint", "appeal", "K", "--reference", "r", "--outcome"], "outcome", complaints_pb2.AppealOutcome, None),
    (["complaint", "appeal", "K", "--reference", "r", "--outcome", "changed", "--new-outcome"], "new_outcome",
     decisions_pb2.Outcome, None),
    (["ops", "list", "--status"], "status", operations_pb2.OutboxStatus, None),
    (["payments", "list", "--status"], "status", payments_pb2.PaymentStatus, None),
    (["overdue", "--kind"], "kind", cases_pb2.OverdueKind, None),
    (["control", "findings", "--rule"], "rule", control_pb2.ControlRule, None),
    (["control", "findings", "--status"], "status", control_pb2.ControlFindingStatus, None),
    (["control", "findings", "--follow-up"], "follow_up", control_pb2.ControlFollowUp, None),
    (["control", "outcome", "F", "--outcome"], "outcome", control_pb2.ControlOutcome, None),
]


@pytest.mark.parametrize("argv,dest,enum,only", ENUM_OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_an_enum_as_hubctl_prints_it_is_accepted_back(argv, dest, enum, only):
    """CASE_STATUS_DECIDED (as printed), decided and DECIDED (short) all mean the same."""
    names = only or [n for n in enum.keys() if not n.endswith("_UNSPECIFIED")]
    prefix = next(n for n in enum.keys() if n.endswith("_UNSPECIFIED"))[:-len("UNSPECIFIED")]
    for name in names:
        short = name[len(prefix):]
        for spelling in (name, short, short.lower().replace("_", "-")):
            assert getattr(parser().parse_args(argv + [spelling]), dest) == enum.Value(name), spelling


def test_enums_round_trip_against_the_hub(hub, capsys):
    code, case = _run(capsys, hub, "t-backoffice", "case", "create", "--municipality", "101", "--cpr", new_cpr(),
                      "--benefit", "FOLKEPENSION", "--channel", "CHANNEL_LETTER")
    assert code == 0 and case["channel"] == "CHANNEL_LETTER"
    code, listed = _run(capsys, hub, "t-backoffice", "case", "list", "--status", case["status"])
    assert code == 0 and [c["case_id"] for c in listed["cases"]] == [case["case_id"]]
    code, out, _ = _raw(capsys, hub, "t-backoffice", "case", "list", "--status", "CASE_STATUS_DECIDED")
    assert code == 0 and out == "0 cases\n"


INTERNALS = re.compile(r"Traceback|[A-Za-z]+(Error|Exception)\b|File \"|<lambda>|invalid _|_pb2|NoneType|\bself\b")


@pytest.mark.parametrize("argv,says", [
    ([], "COMMAND"),
    (["frobnicate"], "frobnicate"),
    (["case"], "required"),
    (["case", "create", "--municipality", "101"], "--cpr"),
    (["case", "show", "C", "--bogus"], "--bogus"),
    (["case", "list", "--status", "CASE_STATUS_NOPE"], "decided"),  # says what it takes
    (["case", "list", "--page-size", "many"], "--page-size"),
    (["case", "create", "--municipality", "101", "--cpr", "x", "--benefit", "B", "--channel", "letter",
      "--statement", "novalue"], "KEY=VALUE"),
    (["decision", "submit", "C", "--outcome", "granted", "--amount", "abc"], "OERE:START:END"),
    (["decision", "submit", "C", "--outcome", "granted", "--amount", "1450000:2026-13-01:2026-12-31"], "2026-13-01"),
    (["decision", "submit", "C", "--outcome", "granted", "--amount", "14,50:2026-04-01:2026-12-31"], "øre"),
    (["decision", "submit", "C", "--outcome", "granted", "--point", "nopoint"], "TOPIC=ASSESSMENT"),
    (["decision", "submit", "C", "--repayment", "1.5:2026-04-01:2026-04-30"], "øre"),
    (["complaint", "appeal", "K", "--outcome", "remitted", "--reference", "r", "--decided-on", "2026-02-30"],
     "2026-02-30"),
    (["complaint", "file", "D", "--channel", "letter", "--grounds", "g", "--received", "yesterday"], "RFC 3339"),
    (["payments", "run", "--period", "May"], "YYYY-MM"),
    (["ops", "replay"], "MESSAGE_ID or --all"),
])
def test_a_usage_mistake_is_one_clear_line_and_exit_2(hub, capsys, argv, says):
    code, out, err = _raw(capsys, hub, "t-backoffice", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("hubctl") and says in err, err
    assert not INTERNALS.search(err), err


def test_a_file_that_cannot_be_read_is_one_line(hub, capsys, tmp_path):
    code = main(["--address", hub.address, "--ca", str(tmp_path / "none.pem"), "--cert", str(tmp_path / "c.pem"),
                 "--key", str(tmp_path / "c.key"), "benefits"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "none.pem" in err and not INTERNALS.search(err), err


def test_a_hub_error_is_a_clear_message_not_a_traceback(hub, capsys):
    code, out, err = _raw(capsys, hub, "t-backoffice", "case", "show", "no-such-case")
    assert code == 1 and out == "" and err.startswith("hubctl: NOT_FOUND: ") and not INTERNALS.search(err), err
    _, case = _run(capsys, hub, "t-backoffice", "case", "create", "--municipality", "101", "--cpr", new_cpr(),
                   "--benefit", "BOLIGSTOETTE", "--channel", "letter")
    assert _run(capsys, hub, "t-backoffice", "case", "withdraw", case["case_id"], "--reason", "r")[0] == 0
    code, out, err = _raw(capsys, hub, "t-backoffice", "case", "withdraw", case["case_id"], "--reason", "r")
    first, *rest = err.splitlines()
    assert code == 1 and first.startswith("hubctl: FAILED_PRECONDITION: ") and "WITHDRAWN" in first, err
    assert rest == ["  reason: ILLEGAL_CASE_TRANSITION (current_status=WITHDRAWN, requested_status=WITHDRAWN)"], err
    code, out, err = _raw(capsys, hub, "t-backoffice", "decision", "submit", case["case_id"], "--outcome", "granted",
                          "--amount", "100:2026-05-01:2026-04-01")  # ends before it starts: a field violation
    assert code == 1 and err.startswith("hubctl: INVALID_ARGUMENT: ") and re.search(r"^  amounts.*: ", err, re.M), err


def test_an_unreachable_hub_is_one_line(capsys):
    code = main(["--address", "127.0.0.1:1", "--token", "t", "benefits"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("hubctl: UNAVAILABLE: ") and not INTERNALS.search(err), err


def test_danish_letters_print_as_themselves(hub, capsys):
    code, out, _ = _raw(capsys, hub, "t-backoffice", "benefits")
    assert code == 0 and "Boligstøtte" in out and "\\u00f8" not in out
    assert json.loads(out)["benefits"]


def test_empty_answers_say_so_in_words(hub, capsys):
    for token, argv, words in [
        ("t-operator", ["ops", "list", "--status", "dead"], "0 messages"),
        ("t-operator", ["ops", "backlog"], "0 destinations with messages"),
        ("t-backoffice", ["case", "list"], "0 cases"),
        ("t-cw-101", ["inbox"], "0 drafts waiting for approval"),
        ("t-cw-101", ["overdue"], "0 overdue items"),
        ("t-backoffice", ["complaint", "list"], "0 complaints"),
        ("t-backoffice", ["payments", "list"], "0 payment orders"),
    ]:
        assert _raw(capsys, hub, token, *argv) == (0, words + "\n", ""), argv
    # --json: always JSON, for scripts, the empty lists included.
    code, out, _ = _raw(capsys, hub, "t-backoffice", "--json", "case", "list")
    assert code == 0 and json.loads(out) == {"cases": [], "next_page_token": ""}


def test_piped_into_head_it_stops_quietly(hub):
    """`hubctl ... | head -1`: the reader leaves after one line; hubctl stops without a
    word (no traceback, no 'Exception ignored'), with the status of a tool SIGPIPE ends."""
    from tests.dispatch_support import enqueue_postings
    enqueue_postings(hub.engine, hub.clock, cases=100, per_case=5)  # ~150 kB of JSON: more than a pipe holds
    env = {**os.environ, "HUBCTL_TOKEN": "t-operator"}
    cmd = (f"set -o pipefail; {sys.executable} -m clients.cli.hubctl --address {hub.address} "
           f"ops list --page-size 500 | head -1; echo \"status=${{PIPESTATUS[0]}}\"")
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout == "{\nstatus=141\n" and done.stderr == "", done.stderr


def test_hubctl_rules_publish_show_calculate_and_the_work_list(hub, capsys, tmp_path, clock):
    """A rule administrator publishes next year's rates from a JSON file; the back office
    sees them, calculates a case and finds the cases that fell out to it."""
    from hub.store.seeds import RULE_SETS
    seed = json.loads((RULE_SETS / "BOERNEBIDRAG-2026.json").read_text(encoding="utf-8"))
    seed.update(effective_from="2027-01-01", note="2027 rates (test figures)")
    seed["parameters"]["normal_basic_per_month"]["value"] = 150_000
    path = tmp_path / "boernebidrag-2027.json"
    path.write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    code, err = _run(capsys, hub, "t-backoffice", "rules", "publish", str(path))
    assert code == 1 and "PERMISSION_DENIED" in err
    code, published = _run(capsys, hub, "t-rules-admin", "rules", "publish", str(path))
    assert code == 0 and published["version"] == 3 and published["effective_from"]["year"] == 2027
    code, shown = _run(capsys, hub, "t-backoffice", "rules", "show", "BOERNEBIDRAG", "--on", "2027-02-01")
    assert code == 0 and {p["name"]: p.get("value") for p in shown["parameters"]}["normal_basic_per_month"] \
        == "150000"
    code, listed = _run(capsys, hub, "t-backoffice", "rules", "list", "--benefit", "BOERNEBIDRAG")
    assert [s["version"] for s in listed["rule_sets"]] == [3, 2, 1]

    # A case to calculate: an application by phone (processed by a person) with the bidrag in it.
    code, case = _run(capsys, hub, "t-backoffice", "case", "create", "--municipality", "101", "--cpr", new_cpr(),
                      "--benefit", "BOERNEBIDRAG", "--channel", "phone", "--statement",
                      "child_support_fixed_oere_per_month=315800", "--statement", "child_support_children=1")
    code, calc = _run(capsys, hub, "t-backoffice", "rules", "calculate", case["case_id"])
    assert code == 0 and [a["amount_oere"] for a in calc["amounts"]] == ["167500"]
    _run(capsys, hub, "t-backoffice", "case", "add-info", case["case_id"], "--source", "citizen",
         "--kind", "child_support.document", "--value", "Familieretshuset 2026-123")
    code, sub = _run(capsys, hub, "t-backoffice", "decision", "submit", case["case_id"], "--use-calculation")
    assert code == 0 and sub["approved_automatically"] and sub["decision"]["calculation"]["periods"]
    code, work = _run(capsys, hub, "t-backoffice", "--json", "case", "list", "--automation", "fell-out")
    assert code == 0 and work["cases"] == []
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    code, err = _run(capsys, hub, "t-rules-admin", "rules", "publish", str(bad))
    assert code == 2 and "not a rule set" in err


def test_hubctl_knows_every_destination_the_hub_delivers_to():
    """hubctl uses only the contract, so it names the destinations itself: as many as the hub has."""
    from hub.ports import DESTINATIONS
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["ops"]
    pause = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)).choices["pause"]
    [destination] = [a for a in pause._actions if a.dest == "destination"]
    assert set(destination.choices) == set(DESTINATIONS)
