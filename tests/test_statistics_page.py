"""The statistics page for a municipality's managers: its JSON (/api/statistics) is what
hub.v1.StatisticsService.GetStatistics answers the same viewer over gRPC, with the same
data limits; and in a real headless Chromium (Debian's chromium, driven by Playwright)
the numbers on the page are those figures, another municipality is not offered, and no
CPR number is on it. A population built through the gRPC API, in March and April 2026."""
from __future__ import annotations

import os
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal

import grpc
import httpx
import pytest
from google.protobuf import json_format

from hub.v1 import statistics_pb2 as ST
from tests.conftest import RunningHub
from tests.helpers import create_req, draft_req, info_req, period, rpc_error, ts, utc

MANAGER = "t-manager-101"
CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FIELDS = ("applications_received", "decided", "backlog_total", "share_within_deadline", "processing_days_median",
          "processing_days_p90", "share_automatic")
SHARES = ("share_within_deadline", "share_automatic")


@pytest.fixture
def web_hub(clean_db, clock):
    h = RunningHub(clean_db, clock, http_listen="127.0.0.1:0")
    yield h
    h.stop()


def _granted(bo, cprs, **kw):
    case = bo.CreateCase(create_req(**kw))
    cprs.append(case.cpr)
    bo.AddInformation(info_req(case.case_id))
    r = bo.SubmitDraftDecision(draft_req(case.case_id, amounts=[period(125_000)]))
    assert r.approved_automatically
    return case


@pytest.fixture
def population(web_hub, clock) -> list[str]:
    """Copenhagen (101) and Aarhus (751) housing benefit and state pension cases over
    March and April 2026; the CPR numbers used."""
    bo, cprs = web_hub.as_("t-backoffice"), []
    # March (the clock starts on 2 March): 101 decides one received 20 February (10 days)
    # and one received today (0 days), and has two open; 751 decides one, has none open.
    _granted(bo, cprs, received_time=ts(utc(2026, 2, 20, 9)))
    _granted(bo, cprs)
    for benefit in ("BOLIGSTOETTE", "FOLKEPENSION"):
        open_ = bo.CreateCase(create_req(benefit=benefit))
        cprs.append(open_.cpr)
        bo.AddInformation(info_req(open_.case_id))
    _granted(bo, cprs, municipality="751", received_time=ts(utc(2026, 2, 25, 9)))
    # April: 101 decides one received on 1 February (68 days, past the deadline); 751 gets
    # three applications it leaves open.
    clock.advance(seconds=(utc(2026, 4, 10, 8) - clock.now()).total_seconds())
    _granted(bo, cprs, received_time=ts(utc(2026, 2, 1, 9)))
    for _ in range(3):
        cprs.append(bo.CreateCase(create_req(municipality="751")).cpr)
    return cprs


def grpc_answer(hub, token=MANAGER, **request) -> ST.GetStatisticsResponse:
    return hub.as_(token).GetStatistics(ST.GetStatisticsRequest(**request))


def http_answer(hub, token=MANAGER, **params) -> httpx.Response:
    return httpx.get(f"{hub.http_url}/api/statistics", params=params,
                     headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)


def as_json(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


MARCH_APRIL = dict(from_month="2026-03", to_month="2026-04")


# ---- the JSON endpoint ----------------------------------------------------------------------------

def test_the_json_is_what_statistics_service_answers_the_same_viewer(web_hub, population):
    for params in (dict(MARCH_APRIL, municipality_code="101"), dict(MARCH_APRIL),
                   dict(MARCH_APRIL, municipality_code="101", benefit_code="BOLIGSTOETTE")):
        r = http_answer(web_hub, **params)
        assert r.status_code == 200, r.text
        assert r.json() == as_json(grpc_answer(web_hub, **params))
    copenhagen = http_answer(web_hub, **MARCH_APRIL, municipality_code="101").json()
    assert [m["month"] for m in copenhagen["months"]] == ["2026-03", "2026-04"]
    assert [m["backlog_total"] for m in copenhagen["months"]] == ["2", "2"]   # (int64 as JSON strings)
    assert copenhagen["total"]["decided"] == "3"
    national = http_answer(web_hub, **MARCH_APRIL).json()
    assert national["total"]["decided"] == "4" and national["months"][1]["backlog_total"] == "5"


def test_the_json_keeps_the_grpc_data_limits(web_hub, population):
    err = rpc_error(lambda: grpc_answer(web_hub, MANAGER, municipality_code="751", **MARCH_APRIL))
    r = http_answer(web_hub, municipality_code="751", **MARCH_APRIL)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert r.status_code == 403 and r.json()["code"] == "PERMISSION_DENIED"
    assert r.json()["message"] == err.details()
    # Aarhus's caseworker sees Aarhus; a citizen portal sees no statistics at all.
    assert http_answer(web_hub, "t-cw-751", municipality_code="751", **MARCH_APRIL).status_code == 200
    assert http_answer(web_hub, "t-portal", **MARCH_APRIL).status_code == 403
    assert http_answer(web_hub, None, **MARCH_APRIL).status_code == 401
    assert http_answer(web_hub, "t-wrong", **MARCH_APRIL).status_code == 401


def test_bad_input_is_400_with_the_field_violations(web_hub):
    r = http_answer(web_hub, from_month="2026-13", to_month="2026-04")
    assert r.status_code == 400 and r.json()["code"] == "INVALID_ARGUMENT"
    assert any(v["field"] == "from_month" for v in r.json()["field_violations"])
    r = http_answer(web_hub, cpr="0101701234", **MARCH_APRIL)
    assert r.status_code == 400 and r.json()["field_violations"] == [
        {"field": "cpr", "description": "is not a GetStatisticsRequest field"}]
    assert "0101701234" not in r.text.replace('"cpr"', "")


def test_the_viewer_is_offered_their_own_municipality_only(web_hub):
    r = httpx.get(f"{web_hub.http_url}/api/viewer", headers={"Authorization": f"Bearer {MANAGER}"}, timeout=10)
    assert r.status_code == 200
    assert r.json()["municipalities"] == [{"code": "101", "name": "København"}]
    assert r.json()["role"] == "manager"
    assert {b["code"] for b in r.json()["benefits"]} >= {"BOLIGSTOETTE", "FOLKEPENSION"}
    limited = httpx.get(f"{web_hub.http_url}/api/viewer", headers={"Authorization": "Bearer t-cw-101-bolig"},
                        timeout=10).json()
    assert [b["code"] for b in limited["benefits"]] == ["BOLIGSTOETTE"]


# ---- the page in a browser --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
                              args=CHROMIUM_ARGS)
        yield b
        b.close()


def shown(value: float | int, field: str, figures=None) -> str:
    """A figure as the page writes it: a share in per cent with one decimal (Danish comma);
    a share or processing time of a month with nothing decided: "–"."""
    if figures is not None and figures.decided == 0 and (field in SHARES or field.startswith("processing_days")):
        return "–"
    if field in SHARES:
        return f"{Decimal(repr(value * 100)).quantize(Decimal('0.1'), ROUND_HALF_UP)}".replace(".", ",") + " %"
    return str(int(value))


def page_row(page, testid: str) -> dict[str, tuple[str, str]]:
    """A table row's figures: field -> (data-value, text)."""
    return page.eval_on_selector_all(f'[data-testid="{testid}"] td',
                                     "cells => Object.fromEntries(cells.map(c => [c.dataset.field, "
                                     "[c.dataset.value, c.textContent]]))")


def check_figures(page, answer: ST.GetStatisticsResponse) -> None:
    for m in answer.months:
        row = page_row(page, f"month-{m.month}")
        for f in FIELDS:
            value = getattr(m, f)
            assert float(row[f][0]) == value, (m.month, f)
            assert row[f][1] == shown(value, f, m), (m.month, f)
    assert page.locator('[data-testid="months"] tbody tr').count() == len(answer.months)
    for f in ("backlog_total", "decided", "share_within_deadline", "processing_days_median", "processing_days_p90",
              "share_automatic"):
        assert page.text_content(f'[data-testid="total-{f}"]') == shown(getattr(answer.total, f), f, answer.total), f


def loaded(page, params: str) -> None:
    page.wait_for_function("want => document.body.dataset.loaded === want", arg=params, timeout=30_000)


def test_a_managers_page_shows_the_statistics_service_figures(web_hub, population, browser):
    context = browser.new_context()
    page = context.new_page()
    fetched: list[str] = []
    page.on("response", lambda r: fetched.append(r.text()) if "/api/" in r.url else None)
    page.goto(f"{web_hub.http_url}/?from_month=2026-03&to_month=2026-04")
    page.fill("#token", MANAGER)
    page.click("#login-form button")
    loaded(page, "municipality_code=101&from_month=2026-03&to_month=2026-04")

    # Offered: the national totals and Copenhagen; never Aarhus.
    options = page.eval_on_selector_all("#municipality option", "os => os.map(o => o.value)")
    assert options == ["", "101"]
    assert page.get_attribute('[data-testid="title"]', "data-municipality") == "101"
    assert page.text_content('[data-testid="viewer"]') == "manager-101 (manager)"

    # Copenhagen, every benefit, March and April: the figures GetStatistics gives.
    copenhagen = grpc_answer(web_hub, municipality_code="101", **MARCH_APRIL)
    assert [m.backlog_total for m in copenhagen.months] == [2, 2]  # (the population is what it says)
    assert copenhagen.months[1].processing_days_median == 68 and copenhagen.months[1].share_within_deadline == 0
    check_figures(page, copenhagen)
    assert page.text_content('[data-testid="as-of"]') == copenhagen.as_of_date == "2026-04-10"
    # The charts: a bar per month for the backlog, its value the month's.
    bars = page.eval_on_selector_all("#chart-backlog rect", "rs => rs.map(r => [r.dataset.month, r.dataset.value])")
    assert bars == [["2026-03", "2"], ["2026-04", "2"]]
    points = page.eval_on_selector_all("#chart-deadline circle", "cs => cs.map(c => [c.dataset.month, c.dataset.value])")
    assert points == [["2026-03", "100"], ["2026-04", "0"]]
    # Per benefit: each benefit's total, as GetStatistics gives it for that benefit.
    for code in ("BOLIGSTOETTE", "FOLKEPENSION"):
        one = grpc_answer(web_hub, municipality_code="101", benefit_code=code, **MARCH_APRIL)
        row = page_row(page, f"benefit-{code}")
        assert {f: float(v[0]) for f, v in row.items()} == {f: float(getattr(one.total, f)) for f in FIELDS}

    # The national totals, then housing benefit alone.
    page.select_option("#municipality", "")
    page.click("#query button")
    loaded(page, "from_month=2026-03&to_month=2026-04")
    check_figures(page, grpc_answer(web_hub, **MARCH_APRIL))
    page.select_option("#municipality", "101")
    page.select_option("#benefit", "BOLIGSTOETTE")
    page.click("#query button")
    loaded(page, "municipality_code=101&benefit_code=BOLIGSTOETTE&from_month=2026-03&to_month=2026-04")
    check_figures(page, grpc_answer(web_hub, municipality_code="101", benefit_code="BOLIGSTOETTE", **MARCH_APRIL))
    # State pension: nothing decided, so no share or processing time to show; a month
    # with none is a gap in the charts' lines, not a 0.
    page.select_option("#benefit", "FOLKEPENSION")
    page.click("#query button")
    loaded(page, "municipality_code=101&benefit_code=FOLKEPENSION&from_month=2026-03&to_month=2026-04")
    pension = grpc_answer(web_hub, municipality_code="101", benefit_code="FOLKEPENSION", **MARCH_APRIL)
    check_figures(page, pension)
    assert page.text_content('[data-testid="total-share_within_deadline"]') == "–"
    assert page.locator("#chart-deadline circle").count() == 0

    # Aarhus cannot be chosen; asked for with the viewer's token, the hub refuses it.
    status = page.evaluate("""async () => (await fetch('/api/statistics?municipality_code=751&from_month=2026-03&to_month=2026-04', {headers:
        {Authorization: 'Bearer ' + sessionStorage.getItem('sagshub.token')}})).status""")
    assert status == 403
    # No CPR number on the page, nor in anything it fetched.
    everything = page.content() + page.inner_text("body") + "".join(fetched)
    for cpr in population:
        assert cpr not in everything and f"{cpr[:6]}-{cpr[6:]}" not in everything
    assert not re.search(r"\b\d{6}-?\d{4}\b", page.inner_text("body"))
    # The token is kept in this tab only, and a reload keeps the viewer logged in.
    assert page.evaluate("localStorage.length") == 0
    page.reload()
    loaded(page, "municipality_code=101&from_month=2026-03&to_month=2026-04")
    context.close()


def test_an_unknown_token_is_refused_on_the_page(web_hub, browser):
    page = browser.new_page()
    page.goto(web_hub.http_url + "/")
    page.fill("#token", "not-a-token")
    page.click("#login-form button")
    page.wait_for_selector('[data-testid="login-error"]')
    assert page.text_content('[data-testid="login-error"]') == "Ukendt adgangstoken."
    assert page.is_hidden("#view")
    assert page.evaluate("sessionStorage.length") == 0
    page.close()
