"""ListCases: filters, data limits, and pages that are stable while cases are added."""
from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2

from hub.v1 import cases_pb2, common_pb2
from tests.conftest import new_cpr
from tests.helpers import create_req, info_req


def _all_pages(client, **filters):
    pages, token = [], ""
    while True:
        r = client.ListCases(cases_pb2.ListCasesRequest(page_size=4, page_token=token, **filters))
        pages.append([c.case_id for c in r.cases])
        token = r.next_page_token
        if not token:
            return pages


def test_pages_cover_every_case_once_even_while_cases_are_added(hub, backoffice):
    created = [backoffice.CreateCase(create_req()).case_id for _ in range(10)]
    r = backoffice.ListCases(cases_pb2.ListCasesRequest(page_size=4))
    seen = [c.case_id for c in r.cases]
    token = r.next_page_token
    added = backoffice.CreateCase(create_req()).case_id  # arrives mid-listing
    while token:
        r = backoffice.ListCases(cases_pb2.ListCasesRequest(page_size=4, page_token=token))
        seen += [c.case_id for c in r.cases]
        token = r.next_page_token
    assert seen == created + [added]
    assert all(not c.information and not c.status_history for c in r.cases), "lists are summaries"


def test_filters_combine(hub, backoffice, clock):
    cpr = new_cpr()
    a = backoffice.CreateCase(create_req(cpr=cpr, benefit="BOLIGSTOETTE"))
    b = backoffice.CreateCase(create_req(cpr=cpr, benefit="FOLKEPENSION"))
    backoffice.CreateCase(create_req(benefit="BOLIGSTOETTE", municipality="751"))
    backoffice.AddInformation(info_req(b.case_id))
    ids = lambda **f: [c.case_id for c in backoffice.ListCases(cases_pb2.ListCasesRequest(**f)).cases]  # noqa: E731
    assert ids(cpr=cpr) == [a.case_id, b.case_id]
    assert ids(cpr=f"{cpr[:6]}-{cpr[6:]}") == [a.case_id, b.case_id]
    assert ids(cpr=cpr, benefit_code="FOLKEPENSION") == [b.case_id]
    assert ids(status=common_pb2.CASE_STATUS_INFORMING) == [b.case_id]
    assert len(ids(benefit_code="BOLIGSTOETTE")) == 2
    assert len(ids(municipality_code="751")) == 1
    after = timestamp_pb2.Timestamp()
    after.FromDatetime(clock.now() + dt.timedelta(seconds=1))
    assert ids(received_after=after) == []


def test_lists_never_show_another_municipalitys_cases(hub, backoffice):
    mine = backoffice.CreateCase(create_req(municipality="101")).case_id
    for m in ("147", "751", "851"):
        backoffice.CreateCase(create_req(municipality=m))
    caseworker = hub.as_("t-cw-101")
    assert sum(_all_pages(caseworker), []) == [mine]
    assert sum(_all_pages(caseworker, municipality_code="751"), []) == []
    vendor = hub.as_("t-vendor")
    assert len(sum(_all_pages(vendor), [])) == 2


def test_a_page_token_belongs_to_its_query(hub, backoffice):
    for _ in range(3):
        backoffice.CreateCase(create_req())
    r = backoffice.ListCases(cases_pb2.ListCasesRequest(page_size=1))
    from tests.helpers import details, rpc_error
    err = rpc_error(backoffice.ListCases, cases_pb2.ListCasesRequest(page_size=1, page_token=r.next_page_token,
                                                                     benefit_code="FOLKEPENSION"))
    assert "page_token" in details(err)[0]
