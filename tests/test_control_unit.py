"""What the municipality's local control unit receives: a finding of the IT control
(and its closing) through the real file drop and the real webhook, with every field
the message has and nothing else; idempotent on the message id; refusals and
outages classified as the dispatcher needs them; no CPR number in an error or a log
line, while the unit gets it in the document."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket

import pytest

from adapters.control_unit.file_drop import ControlUnitFileDrop
from adapters.control_unit.webhook import ControlUnitWebhook
from hub import bootstrap
from hub.ports import messages as msg
from hub.ports import CONTROL_UNIT, DESTINATIONS, Delivery, DeliveryFailed
from hub.settings import SettingError, Settings
from hub.v1 import operations_pb2
from tests.conftest import LOG_FILE, new_cpr
from tests.dispatch_support import Webhook, control_finding, dispatcher, posting

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)
CAUSED = dt.datetime(2026, 3, 2, 9, 30, 5, tzinfo=dt.timezone.utc)


def closed(finding_id: str = "f-1", case_id: str = "case-1") -> msg.ControlFindingClosed:
    return msg.ControlFindingClosed(finding_id=finding_id, case_id=case_id, municipality_code="101",
                                    benefit_code="BOLIGSTOETTE",
                                    closed_at=dt.datetime(2026, 4, 7, 12, 0, tzinfo=dt.timezone.utc),
                                    outcome="DISMISSED", reason="Indkomsten var en engangsindtægt.")


def delivery(message: msg.Message, mid: str = "control/f-1/finding", attempt: int = 1) -> Delivery:
    return Delivery(mid, CONTROL_UNIT, getattr(message, "case_id", None), message, attempt, NOW, CAUSED)


def expected_finding(mid: str, cpr: str, case_id: str, caused_at: dt.datetime) -> dict:
    """The document of tests.dispatch_support.control_finding, field by field."""
    return {
        "message_id": mid,
        "kind": "control_finding",
        "caused_at": caused_at.isoformat(),
        "finding_id": "f-1",
        "case_id": case_id,
        "municipality_code": "101",
        "benefit_code": "BOLIGSTOETTE",
        "cpr": cpr,
        "rule_code": "INCOME_DEVIATION",
        "rule_title": "Indkomst afviger fra bevillingens forudsætning",
        "found_at": "2026-03-02T09:30:00+00:00",
        "period_start": "2026-01-01",
        "period_end": "2026-02-28",
        "observations": [
            {"name": "income.annual", "label": "Husstandens årsindkomst", "register_value": 32_000_000,
             "assumed_value": 25_000_000, "unit": "øre/år", "source": "income_register",
             "source_reference": "EI-3f2a9c81d0b4-1"},
            {"name": "household.adults", "label": "Voksne i husstanden", "register_value": 2, "assumed_value": 1,
             "unit": "personer", "source": "cpr_register", "source_reference": "CPR-7d41e0a9b2c35f68"},
        ],
        "amount_at_stake_oere_per_month": 112_500,
    }


def _every_field_is_there(doc: dict, message: msg.Message) -> None:
    """A field added to the message must be rendered (or the message would carry what
    the unit never sees); with the literal above, nothing else is there either."""
    assert {f.name for f in dataclasses.fields(message)} <= set(doc)
    for o in doc.get("observations", ()):
        assert set(o) == {f.name for f in dataclasses.fields(msg.Observation)}


def _enqueue(hub, clock, *messages: tuple[str, msg.Message]) -> None:
    with hub.store.unit() as uow:
        for mid, m in messages:
            uow.outbox.add(m.outbox(mid, m.case_id), clock.now())
        uow.commit()


def _dead_errors(hub) -> dict[str, str]:
    dead = hub.as_("t-operator").ListOutboxMessages(operations_pb2.ListOutboxMessagesRequest(
        status=operations_pb2.OUTBOX_STATUS_DEAD)).messages
    return {m.message_id: m.last_error for m in dead}


# ---- the file drop ------------------------------------------------------------------------------

def test_the_file_drop_writes_a_finding_with_every_field_and_its_closing(hub, clock, tmp_path):
    cpr = new_cpr()
    finding, end = control_finding(case_id="case-9", cpr=cpr), closed(case_id="case-9")
    _enqueue(hub, clock, ("control/f-1/finding", finding), ("control/f-1/closed", end))
    caused = clock.now()
    assert dispatcher(hub.engine, clock, {CONTROL_UNIT: ControlUnitFileDrop(tmp_path)}).drain() == 2
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["101/f-1.closed.json", "101/f-1.json"]
    doc = json.loads((tmp_path / "101" / "f-1.json").read_text(encoding="utf-8"))
    assert doc == expected_finding("control/f-1/finding", cpr, "case-9", caused)
    _every_field_is_there(doc, finding)
    end_doc = json.loads((tmp_path / "101" / "f-1.closed.json").read_text(encoding="utf-8"))
    assert end_doc == {"message_id": "control/f-1/closed", "kind": "control_finding_closed",
                       "caused_at": caused.isoformat(), "finding_id": "f-1", "case_id": "case-9",
                       "municipality_code": "101", "benefit_code": "BOLIGSTOETTE",
                       "closed_at": "2026-04-07T12:00:00+00:00", "outcome": "DISMISSED",
                       "reason": "Indkomsten var en engangsindtægt."}
    _every_field_is_there(end_doc, end)
    assert "Indkomst afviger" in (tmp_path / "101" / "f-1.json").read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_an_open_period_and_an_unknown_amount_are_null_and_values_keep_their_json_type(tmp_path):
    finding = control_finding(period_end=None, amount_at_stake_oere_per_month=None, observations=(
        msg.Observation(name="person.status", label="Status i CPR", register_value="dead", assumed_value="alive",
                        source="cpr_register", source_reference="CPR-1"),
        msg.Observation(name="person.resident", register_value=False, assumed_value=True),
        msg.Observation(name="rent.annual", register_value=None, assumed_value=7_200_000, unit="øre/år")))
    ControlUnitFileDrop(tmp_path).deliver(delivery(finding))
    doc = json.loads((tmp_path / "101" / "f-1.json").read_text(encoding="utf-8"))
    assert doc["period_end"] is None and doc["amount_at_stake_oere_per_month"] is None
    assert [(o["register_value"], o["assumed_value"]) for o in doc["observations"]] == [
        ("dead", "alive"), (False, True), (None, 7_200_000)]
    assert doc["observations"][1]["unit"] == "" and doc["observations"][1]["label"] == ""


def test_the_file_drop_is_idempotent_on_the_message_id(tmp_path):
    a, b = ControlUnitFileDrop(tmp_path), ControlUnitFileDrop(tmp_path)  # as two dispatchers would
    first = a.deliver(delivery(control_finding()))
    path = tmp_path / "101" / "f-1.json"
    before = (path.read_bytes(), path.stat().st_ino)
    again = b.deliver(delivery(control_finding(), attempt=2))
    assert first.reference == again.reference == "101/f-1.json"
    assert (path.read_bytes(), path.stat().st_ino) == before  # not written again (a rewrite is a new inode)
    assert sorted(p.name for p in (tmp_path / "101").iterdir()) == ["f-1.json"]  # no temporary file left
    # Another message for the same finding is refused for good; the file stays as it was.
    with pytest.raises(DeliveryFailed) as e:
        a.deliver(delivery(control_finding(rule_code="OTHER"), mid="control/f-1/finding-2"))
    assert e.value.permanent and "101/f-1.json" in str(e.value) and "control/f-1/finding" in str(e.value)
    assert (path.read_bytes(), path.stat().st_ino) == before


@pytest.mark.parametrize("finding_id", ["../f-1", "a/b", ".hidden", "", "f..1"])
def test_a_finding_id_that_is_no_safe_file_name_is_refused_for_good(tmp_path, finding_id):
    with pytest.raises(DeliveryFailed) as e:
        ControlUnitFileDrop(tmp_path / "drop").deliver(delivery(control_finding(finding_id=finding_id)))
    assert e.value.permanent and "not a safe file name" in str(e.value)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


# ---- the webhook ----------------------------------------------------------------------------------

def test_the_webhook_posts_every_field_with_the_message_id_as_idempotency_key(hub, clock, tmp_path):
    hook = Webhook()
    try:
        cpr = new_cpr()
        finding = control_finding(case_id="case-9", cpr=cpr)
        _enqueue(hub, clock, ("control/f-1/finding", finding), ("control/f-1/closed", closed(case_id="case-9")))
        caused = clock.now()
        assert dispatcher(hub.engine, clock, {CONTROL_UNIT: hook.adapter_for_control()}).drain() == 2
        assert hook.order == ["control/f-1/finding", "control/f-1/closed"]  # keyed by the Idempotency-Key header
        body = hook.accepted["control/f-1/finding"]
        assert body == expected_finding("control/f-1/finding", cpr, "case-9", caused)
        _every_field_is_there(body, finding)
        assert hook.accepted["control/f-1/closed"]["outcome"] == "DISMISSED"
        # The same document as the file drop writes.
        ControlUnitFileDrop(tmp_path).deliver(Delivery("control/f-1/finding", CONTROL_UNIT, "case-9", finding, 1,
                                                       NOW, caused))
        assert json.loads((tmp_path / "101" / "f-1.json").read_text(encoding="utf-8")) == body
    finally:
        hook.stop()


def test_a_redelivery_sends_the_same_key_and_body_and_the_receiver_keeps_one():
    hook = Webhook()
    try:
        adapter = hook.adapter_for_control()
        adapter.deliver(delivery(control_finding()))
        adapter.deliver(delivery(control_finding(), attempt=2))
        assert hook.requests == 2 and hook.order == ["control/f-1/finding"]
        assert hook.accepted["control/f-1/finding"]["rule_code"] == "INCOME_DEVIATION"
    finally:
        hook.stop()


@pytest.mark.parametrize("status,permanent", [(400, True), (404, True), (409, True), (422, True), (408, False),
                                              (425, False), (429, False), (500, False), (502, False), (503, False)])
def test_the_webhook_classifies_answers(status, permanent):
    hook = Webhook()
    try:
        hook.mode = str(status)
        with pytest.raises(DeliveryFailed) as e:
            hook.adapter_for_control().deliver(delivery(control_finding()))
        assert e.value.permanent is permanent and f"HTTP {status}" in str(e.value)
        assert not hook.accepted
    finally:
        hook.stop()


def test_a_receiver_that_never_answers_or_is_not_there_is_retried():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the connection is made, and nothing is ever answered
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/findings"
        with pytest.raises(DeliveryFailed) as e:
            ControlUnitWebhook(url, timeout=0.2).deliver(delivery(control_finding()))
        assert not e.value.permanent and "timed out" in str(e.value)
    finally:
        silent.close()
    hook = Webhook()
    hook.stop()
    with pytest.raises(DeliveryFailed) as e:
        hook.adapter_for_control().deliver(delivery(control_finding()))
    assert not e.value.permanent and "unreachable" in str(e.value)


# ---- what neither adapter renders ------------------------------------------------------------------

def test_a_kind_neither_adapter_renders_is_refused_for_good_and_nothing_is_sent(tmp_path):
    hook = Webhook()
    try:
        for adapter in (ControlUnitFileDrop(tmp_path), hook.adapter_for_control()):
            with pytest.raises(DeliveryFailed) as e:
                adapter.deliver(delivery(posting("case-1", cpr=new_cpr()), mid="decision/d-0/economy"))
            assert e.value.permanent and "cannot render a decision_posting" in str(e.value)
        assert hook.requests == 0
        assert not list(tmp_path.rglob("*"))
    finally:
        hook.stop()


def test_a_finding_in_another_destinations_queue_is_a_dead_letter(hub, clock, tmp_path):
    with hub.store.unit() as uow:
        row = control_finding().outbox("control/f-1/finding", "case-1")
        uow.outbox.add(dataclasses.replace(row, destination="economy"), clock.now())
        uow.commit()
    from adapters.economy.file_drop import EconomyFileDrop
    dispatcher(hub.engine, clock, {"economy": EconomyFileDrop(tmp_path)}).drain()
    assert "a control_finding message does not go to economy" in _dead_errors(hub)["control/f-1/finding"]
    assert not list(tmp_path.rglob("*.jsonl"))


# ---- CPR numbers stay in the document ------------------------------------------------------------

@pytest.mark.parametrize("status", [400, 503])
def test_a_receiver_echoing_the_cpr_number_leaves_it_out_of_the_error(status):
    cpr = new_cpr()
    hook = Webhook()
    try:
        hook.mode, hook.echo = str(status), True
        with pytest.raises(DeliveryFailed) as e:
            hook.adapter_for_control().deliver(delivery(control_finding(cpr=cpr)))
        text = str(e.value)
        assert "no such person: [CPR]" in text, "the receiver's answer is in the error, without the number"
        assert cpr not in text and f"{cpr[:6]}-{cpr[6:]}" not in text and "[CPR]" in text
    finally:
        hook.stop()


def test_a_refused_finding_leaves_no_cpr_number_in_the_dead_letter_or_the_log(hub, clock, tmp_path):
    cpr = new_cpr()
    hook = Webhook()
    try:
        hook.mode, hook.echo = "400", True
        start = len(LOG_FILE.read_text(encoding="utf-8"))
        _enqueue(hub, clock, ("control/f-7/finding", control_finding(cpr=cpr, finding_id="f-7")))
        dispatcher(hub.engine, clock, {CONTROL_UNIT: hook.adapter_for_control()}).drain()
        error = _dead_errors(hub)["control/f-7/finding"]
        assert "HTTP 400" in error and "[CPR]" in error and cpr not in error
        log = LOG_FILE.read_text(encoding="utf-8")[start:]
        assert "control/f-7/finding" in log and "delivery failed" in log, "the refusal is logged"
        assert cpr not in log and f"{cpr[:6]}-{cpr[6:]}" not in log
        # The file drop names its files by the finding, never by the person.
        ControlUnitFileDrop(tmp_path).deliver(delivery(control_finding(cpr=cpr, finding_id="f-7")))
        assert [p.name for p in tmp_path.rglob("*.json")] == ["f-7.json"]
    finally:
        hook.stop()


# ---- the message and the settings ----------------------------------------------------------------

def test_a_fact_value_is_a_whole_number_a_text_true_false_or_null():
    payload = json.loads(json.dumps(control_finding().to_payload()))
    observation = payload["observations"][0]
    for value in (1, "dead", False, None):
        again = dict(payload, observations=[dict(observation, register_value=value)])
        assert msg.decode(CONTROL_UNIT, again).observations[0].register_value == value
    with pytest.raises(msg.UnreadableMessage, match=r"observations\[0\].register_value must be one of"):
        msg.decode(CONTROL_UNIT, dict(payload, observations=[dict(observation, register_value=1.5)]))
    with pytest.raises(msg.UnreadableMessage, match="amount_at_stake_oere_per_month must be a whole number"):
        msg.decode(CONTROL_UNIT, dict(payload, amount_at_stake_oere_per_month="112500"))
    with pytest.raises(msg.UnreadableMessage, match="observations is missing"):
        msg.decode(CONTROL_UNIT, {k: v for k, v in payload.items() if k != "observations"})


def test_the_settings_choose_the_control_units_adapter(tmp_path):
    assert CONTROL_UNIT in DESTINATIONS and control_finding().DESTINATION == CONTROL_UNIT
    settings = Settings.from_env({"HUB_VAR_DIR": str(tmp_path)})
    assert settings.control_adapter == "file"
    files = bootstrap.adapters(settings)[CONTROL_UNIT]
    assert isinstance(files, ControlUnitFileDrop)
    files.deliver(delivery(control_finding()))
    assert json.loads((tmp_path / "control" / "101" / "f-1.json").read_text(encoding="utf-8"))["finding_id"] == "f-1"

    hook = Webhook()
    try:
        settings = Settings.from_env({"HUB_VAR_DIR": str(tmp_path / "other"), "HUB_CONTROL_ADAPTER": "webhook",
                                      "HUB_CONTROL_WEBHOOK_URL": hook.url})
        web = bootstrap.adapters(settings)[CONTROL_UNIT]
        assert isinstance(web, ControlUnitWebhook)
        web.deliver(delivery(control_finding()))
        assert hook.order == ["control/f-1/finding"]
        assert not (tmp_path / "other" / "control").exists()
    finally:
        hook.stop()
    with pytest.raises(SettingError, match="HUB_CONTROL_ADAPTER must be one of file, webhook"):
        Settings.from_env({"HUB_CONTROL_ADAPTER": "ftp"})
    with pytest.raises(ValueError, match="HUB_CONTROL_ADAPTER=webhook needs HUB_CONTROL_WEBHOOK_URL"):
        bootstrap.adapters(Settings.from_env({"HUB_CONTROL_ADAPTER": "webhook"}))
    timed = Settings.from_env({"HUB_DISPATCH_TIMEOUT_CONTROL_UNIT_SECONDS": "7"})
    assert timed.dispatcher.timeout(CONTROL_UNIT) == 7
