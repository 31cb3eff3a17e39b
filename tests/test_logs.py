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
