"""No CPR number in the logs, whatever happens (the session hook also checks the
whole run's log)."""
from __future__ import annotations


from hub.v1 import cases_pb2
from tests.conftest import LOG_FILE, new_cpr
from tests.helpers import create_req, draft_req, info_req, rpc_error


def test_a_walk_with_errors_leaves_no_cpr_in_the_log(hub, backoffice, borgerservice):
    cpr = new_cpr()
    case = backoffice.CreateCase(create_req(cpr=cpr))
    backoffice.AddInformation(info_req(case.case_id, kind="citizen.statement", value=0))
    backoffice.ListCases(cases_pb2.ListCasesRequest(cpr=cpr))
    rpc_error(backoffice.CreateCase, create_req(cpr=cpr[:6] + "-" + cpr[6:], municipality="999"))
    rpc_error(backoffice.ListCases, cases_pb2.ListCasesRequest(cpr=cpr[:9]))
    backoffice.SubmitDraftDecision(draft_req(case.case_id))
    import structlog
    structlog.get_logger("test").info("a line that mentions " + cpr)  # redacted by the processors
    text = LOG_FILE.read_text(encoding="utf-8")
    assert "CreateCase" in text, "the hub does log"
    assert cpr not in text and cpr[:6] + "-" + cpr[6:] not in text
    assert "[CPR]" in text


def test_every_rpc_line_names_the_call_the_request_and_the_client(hub, backoffice, borgerservice):
    """Refused calls included, and nothing of one call's binding leaks into the next."""
    import json
    from hub.domain.cpr import redact
    start = len(LOG_FILE.read_text(encoding="utf-8"))
    ok = create_req()
    backoffice.CreateCase(ok)
    refused = create_req(municipality="999")
    rpc_error(borgerservice.CreateCase, refused)
    backoffice.ListCases(cases_pb2.ListCasesRequest())
    lines = [json.loads(line) for line in LOG_FILE.read_text(encoding="utf-8")[start:].splitlines() if line.strip()]
    rpc_lines = [(x["rpc"], x.get("request_id"), x.get("client_id"), x["code"]) for x in lines if x.get("event") == "rpc"]
    # (A request id can hold a digit run shaped like a CPR number; it is redacted too.)
    assert rpc_lines == [("CreateCase", redact(ok.request_id), "backoffice", "OK"),
                         ("CreateCase", redact(refused.request_id), "bs-101", "INVALID_ARGUMENT"),
                         ("ListCases", None, "backoffice", "OK")]
