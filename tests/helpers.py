"""Request builders and assertions shared by the tests."""
from __future__ import annotations

import datetime as dt
import uuid

import grpc
from google.protobuf import struct_pb2, timestamp_pb2
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_status import rpc_status

from hub.v1 import cases_pb2, common_pb2, decisions_pb2
from tests.conftest import new_cpr


def ts(when: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def rid() -> str:
    return str(uuid.uuid4())


def create_req(municipality="101", benefit="BOLIGSTOETTE", channel=common_pb2.CHANNEL_SELF_SERVICE, cpr=None,
               **kw) -> cases_pb2.CreateCaseRequest:
    return cases_pb2.CreateCaseRequest(request_id=kw.pop("request_id", rid()), municipality_code=municipality,
                                       cpr=new_cpr() if cpr is None else cpr, benefit_code=benefit, channel=channel, **kw)


def info_req(case_id, kind="income.annual", value=300000.0, source=cases_pb2.INFORMATION_SOURCE_REGISTER,
             **kw) -> cases_pb2.AddInformationRequest:
    return cases_pb2.AddInformationRequest(request_id=kw.pop("request_id", rid()), case_id=case_id, source=source,
                                           kind=kind, value=struct_pb2.Value(number_value=value), **kw)


def period(amount, start=(2026, 4, 1), end=(2026, 12, 31)) -> common_pb2.PeriodAmount:
    return common_pb2.PeriodAmount(amount_oere=amount, period_start=date_pb2.Date(year=start[0], month=start[1],
                                                                                  day=start[2]),
                                   period_end=date_pb2.Date(year=end[0], month=end[1], day=end[2]))


def draft_req(case_id, outcome=decisions_pb2.OUTCOME_GRANTED, amounts=None, points=(), **kw):
    return decisions_pb2.SubmitDraftDecisionRequest(
        request_id=kw.pop("request_id", rid()), case_id=case_id, outcome=outcome,
        amounts=[period(125_000)] if amounts is None else amounts,
        reasoning=kw.pop("reasoning", "Income below the limit."),
        legal_basis=kw.pop("legal_basis", "Lov om individuel boligstøtte § 1"),
        discretionary_points=[decisions_pb2.DiscretionaryPoint(topic=t, assessment=a) for t, a in points], **kw)


def repayment_req(case_id, amount, start=(2026, 4, 1), end=(2026, 4, 30), *, offset=False, **kw):
    """A repayment decision's draft: the citizen must pay back `amount` øre for those months."""
    return decisions_pb2.SubmitDraftDecisionRequest(
        request_id=kw.pop("request_id", rid()), case_id=case_id, outcome=kw.pop("outcome", decisions_pb2.OUTCOME_REPAYMENT),
        repayment=decisions_pb2.Repayment(amount_oere=amount, period_start=period(0, start, end).period_start,
                                          period_end=period(0, start, end).period_end, offset_allowed=offset),
        reasoning=kw.pop("reasoning", "Din indtægt var højere end den, boligstøtten blev beregnet af."),
        legal_basis=kw.pop("legal_basis", "Lov om individuel boligstøtte § 47"), **kw)


def repay(backoffice, case_id, amount, start=(2026, 4, 1), end=(2026, 4, 30), *, offset=False, approver=None):
    """A repayment decision resting on what the citizen told us (no hearing is needed for
    it), approved automatically (or, where the citizen has another open case, by
    `approver`); returns the decision and the claim it made."""
    told = backoffice.AddInformation(info_req(case_id, source=cases_pb2.INFORMATION_SOURCE_CITIZEN)).item
    r = backoffice.SubmitDraftDecision(repayment_req(case_id, amount, start, end, offset=offset,
                                                     decisive_fact_ids=[told.item_id]))
    if approver is not None and not r.approved_automatically:
        approver.ApproveDecision(decisions_pb2.ApproveDecisionRequest(request_id=rid(),
                                                                      decision_id=r.decision.decision_id))
    else:
        assert r.approved_automatically, r
    claim = [c for c in backoffice.GetCase(cases_pb2.GetCaseRequest(case_id=case_id)).payments.claims
             if c.decision_id == r.decision.decision_id]
    assert len(claim) == 1
    return r.decision, claim[0]


def rpc_error(fn, *args) -> grpc.RpcError:
    try:
        fn(*args)
    except grpc.RpcError as e:
        return e
    raise AssertionError("the call succeeded; an error was expected")


def details(err: grpc.RpcError):
    """(field violations as {field: description}, ErrorInfo) from a rich status."""
    status = rpc_status.from_call(err)
    fields, info = {}, None
    for d in status.details if status else ():
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            d.Unpack(br)
            fields.update({v.field: v.description for v in br.field_violations})
        elif d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
    return fields, info


# A refused call on a case changes nothing but the audit log, which records the attempt.
AUDIT_TABLES = {"audit_log", "audit_chain"}


def table_counts(engine) -> dict[str, int]:
    """Rows per table, but for the audit log (see audit_counts)."""
    import sqlalchemy as sa
    from hub.store import tables
    with engine.connect() as c:
        return {t.name: c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in tables.metadata.sorted_tables if t.name not in AUDIT_TABLES}


def ago(clock, **kw) -> dt.datetime:
    return clock.now() - dt.timedelta(**kw)


def cases_until_heartbeat(call) -> set[str]:
    """Read a Subscribe stream until its first heartbeat (it has caught up), then hang
    up; the case ids of the events seen."""
    seen = set()
    for item in call:
        if item.HasField("heartbeat"):
            break
        seen.add(item.event.case_id)
    call.cancel()
    return seen


class MixedCalls:
    """Calls of every kind to run as one batch: a request and its twin, new cases,
    information on an open case, information refused on a withdrawn one, a read.
    `check` asserts that each got the answer it would have got alone."""

    def __init__(self, client, engine):
        self.client, self.engine = client, engine
        self.open_case = client.CreateCase(create_req())
        withdrawn = client.CreateCase(create_req())
        client.WithdrawCase(cases_pb2.WithdrawCaseRequest(request_id=rid(), case_id=withdrawn.case_id))
        self.before = table_counts(engine)
        twice = create_req()
        self.calls = [lambda: client.CreateCase(twice), lambda: client.CreateCase(twice)]
        self.calls += [lambda: client.CreateCase(create_req()) for _ in range(10)]
        self.calls += [lambda: client.AddInformation(info_req(self.open_case.case_id)) for _ in range(3)]
        self.calls += [lambda: rpc_error(client.AddInformation, info_req(withdrawn.case_id)) for _ in range(3)]
        self.calls += [lambda: client.GetCase(cases_pb2.GetCaseRequest(case_id=self.open_case.case_id))]
        # A twin of a call that writes before its commit (its own savepoint in the batch).
        twice_info = info_req(self.open_case.case_id)
        self.calls += [lambda: client.AddInformation(twice_info), lambda: client.AddInformation(twice_info)]

    def check(self, results: list) -> None:
        import sqlalchemy as sa
        from hub.store import tables
        assert results[0] == results[1]  # the twin in the same batch got the first answer
        assert len({r.case_id for r in results[:12]}) == 11
        for err in results[15:18]:
            assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        after = table_counts(self.engine)
        assert after["cases"] == self.before["cases"] + 11
        assert results[-1] == results[-2]  # the twin got the first answer, and added nothing
        assert after["information_items"] == self.before["information_items"] + 4  # none on the withdrawn case
        shown = self.client.GetCase(cases_pb2.GetCaseRequest(case_id=self.open_case.case_id))
        assert len(shown.information) == 4 and shown.status == results[12].case_status
        with self.engine.connect() as c:
            seqs = [r[0] for r in c.execute(sa.select(tables.events.c.seq).order_by(tables.events.c.seq))]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gaps from the failed calls


def publish_req(benefit: str = "BOLIGSTOETTE", year: int = 2026, *, effective_from: str | None = None,
                note: str = "a new version", change: dict | None = None, request_id: str | None = None):
    """A PublishRuleSetRequest with the seed rule set of `benefit` and `year`, its
    figures changed as `change` says (name -> value)."""
    from hub.store.seeds import rule_set_files
    from hub.v1 import calculation_pb2, rules_pb2
    [seed] = [d for d in rule_set_files() if d["benefit_code"] == benefit and d["effective_from"].startswith(str(year))]
    y, m, d = map(int, (effective_from or seed["effective_from"]).split("-"))
    req = rules_pb2.PublishRuleSetRequest(request_id=request_id or rid(), benefit_code=benefit,
                                          effective_from={"year": y, "month": m, "day": d},
                                          legal_basis=seed["legal_basis"], source=seed["source"], note=note)
    for name, p in seed["parameters"].items():
        value = (change or {}).get(name, p["value"])
        item = req.parameters.add(name=name, unit=calculation_pb2.RuleUnit.Value(f"RULE_UNIT_{p['unit']}"),
                                  section=p["section"], source=p["source"], note=p.get("note", ""))
        if value is not None:
            item.value = value
    return req


def finding_on(hub, case_id: str, rule: str = "RENT_CHANGE") -> str:
    """A control finding on the case, written as a control run writes one (for the
    tests of the calls on findings that need no registers): its id."""
    from hub.domain import control as ctl
    from hub.domain.ids import new_id
    with hub.store.unit() as uow:
        case = uow.cases.get(case_id)
        f = ctl.Finding(new_id(), case.case_id, case.municipality_code, case.benefit_code, case.cpr,
                        ctl.RuleCode(rule), f"{rule}/1", "Huslejen er ændret", "rent=1", "2026-02", dt.date(2026, 2, 1),
                        None, (), None, {}, ctl.Status.OPEN, "run", hub.clock.now(), "decision")
        uow.control.add([f])
        uow.commit()
    return f.finding_id
