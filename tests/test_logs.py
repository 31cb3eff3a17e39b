"""No CPR number in the logs, whatever happens (the session hook also checks the
whole run's log), and every other identifier whole."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.cpr import redact
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
    start = len(LOG_FILE.read_text(encoding="utf-8"))
    ok = create_req()
    backoffice.CreateCase(ok)
    refused = create_req(municipality="999")
    rpc_error(borgerservice.CreateCase, refused)
    backoffice.ListCases(cases_pb2.ListCasesRequest())
    lines = [json.loads(line) for line in LOG_FILE.read_text(encoding="utf-8")[start:].splitlines() if line.strip()]
    rpc_lines = [(x["rpc"], x.get("request_id"), x.get("client_id"), x["code"]) for x in lines if x.get("event") == "rpc"]
    assert rpc_lines == [("CreateCase", ok.request_id, "backoffice", "OK"),
                         ("CreateCase", refused.request_id, "bs-101", "INVALID_ARGUMENT"),
                         ("ListCases", None, "backoffice", "OK")]


def test_a_request_id_with_a_cpr_shaped_run_stays_whole_in_the_log(hub, backoffice):
    """A UUID may hold six digits, a dash and four digits: the call is still found by its id."""
    start = len(LOG_FILE.read_text(encoding="utf-8"))
    request = create_req(request_id="fd123456-7890-449c-8a2b-0123456789ab")
    backoffice.CreateCase(request)
    lines = [json.loads(line) for line in LOG_FILE.read_text(encoding="utf-8")[start:].splitlines() if line.strip()]
    assert [x["request_id"] for x in lines if x.get("event") == "rpc"] == [request.request_id]


# A CPR number in the places a log line holds one: a JSON value, a key=value pair, a
# sentence, SQL parameters in an exception text, a traceback's next line.
CONTEXTS = ['{{"cpr": "{}"}}', "cpr={}", "cpr={},municipality=101", "The citizen {} applied.", "CPR: {}",
            "[parameters: ('{}', 'BOLIGSTOETTE')]", "({})", "{}", "line one\n{}\nline two", "id_{}_x", "a/{}/b",
            "<cpr>{}</cpr>", "x-{}"]


@st.composite
def cprs(draw) -> str:
    born = draw(st.dates(min_value=dt.date(1858, 1, 1), max_value=dt.date(2026, 11, 23)))
    serial = draw(st.integers(0, 9999))
    number = born.strftime("%d%m%y") + f"{serial:04d}"
    return number[:6] + "-" + number[6:] if draw(st.booleans()) else number


@given(cprs(), st.sampled_from(CONTEXTS), st.booleans())
def test_a_cpr_number_is_redacted_wherever_it_is_written(number, context, as_json):
    text = context.format(number)
    if as_json:  # as the JSON renderer writes the line: quotes and line breaks escaped
        text = json.dumps({"event": text})
    redacted = redact(text)
    assert number not in redacted and number.replace("-", "") not in redacted.replace("-", "")
    assert "[CPR]" in redacted


# UUIDs, mostly of digits (a random one seldom holds a CPR-shaped run), and any at all.
_DIGIT_HEAVY = st.text(alphabet=st.sampled_from("0123456789" * 6 + "abcdef"), min_size=32, max_size=32)
UUIDS = st.one_of(_DIGIT_HEAVY.map(lambda h: str(uuid.UUID(hex=h))), st.uuids().map(str))


@given(UUIDS, st.sampled_from(["{}", '"request_id": "{}"', "request_id={}", "{} and more", "[{}]"]), st.booleans())
def test_every_uuid_survives_redaction(value: str, context, upper):
    text = context.format(value.upper() if upper else value)
    assert redact(text) == text


@pytest.mark.parametrize("text", ["fd123456-7890-449c-8a2b-0123456789ab", "0101701234abcdef", "c0ffee0101701234",
                                  "01017012345", "HUB101-20260301", "20260301101", "1234567890", "2026-03-02"])
def test_identifiers_and_long_runs_keep_their_digits(text):
    assert redact(text) == text

