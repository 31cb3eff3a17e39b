"""The adapters on their own: idempotency, torn writes, and how failures are classified."""
from __future__ import annotations

import datetime as dt
import json
import socket
from dataclasses import replace

import pytest

from adapters.economy.file_drop import EconomyFileDrop
from adapters.income_register.client import IncomeRegisterClient
from adapters.income_register.simulator import Simulator, income_records
from hub.ports import messages as msg
from hub.ports import Delivery, DeliveryFailed
from tests.dispatch_support import Webhook, letter, posting

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def _posting(mid: str, periods: int = 2) -> Delivery:
    amounts = tuple(msg.PostedAmount(1000 * (i + 1), dt.date(2026, 1, 1), dt.date(2026, 1, 31)) for i in range(periods))
    return Delivery(mid, "economy", "case-1", replace(posting("case-1"), amounts=amounts), 1, NOW, NOW)


def _ids(path) -> list[str]:
    return [json.loads(x)["posting_id"] for x in path.read_text().splitlines()]


def test_file_drop_is_idempotent_across_instances_and_repairs_a_torn_write(tmp_path):
    a, b = EconomyFileDrop(tmp_path), EconomyFileDrop(tmp_path)  # as two processes would
    a.deliver(_posting("m1"))
    b.deliver(_posting("m1"))
    path = a.path_for(_posting("m1"))
    assert _ids(path) == ["m1#1", "m1#2"]
    # A crash in the middle of appending m2: one whole line and half of the next.
    line = json.dumps(dict(message_id="m2", posting_id="m2#1", line=1, lines=2)) + "\n"
    with open(path, "a") as f:
        f.write(line + '{"message_id": "m2", "posting')
    b.deliver(_posting("m2"))
    assert _ids(path) == ["m1#1", "m1#2", "m2#1", "m2#2"]
    a.deliver(_posting("m2"))  # a saw none of this happen
    assert _ids(path) == ["m1#1", "m1#2", "m2#1", "m2#2"]


def test_file_drop_refuses_a_message_it_cannot_render(tmp_path):
    with pytest.raises(DeliveryFailed) as e:
        EconomyFileDrop(tmp_path).deliver(Delivery("m", "economy", None, letter("case-1"), 1, NOW, NOW))
    assert e.value.permanent and "cannot render a letter" in str(e.value)
    assert not list(tmp_path.rglob("*.jsonl"))


@pytest.mark.parametrize("status,permanent", [(400, True), (404, True), (429, False), (503, False)])
def test_webhook_classifies_answers(status, permanent):
    hook = Webhook()
    try:
        hook.mode = str(status)
        with pytest.raises(DeliveryFailed) as e:
            hook.adapter().deliver(_posting("m"))
        assert e.value.permanent is permanent and f"HTTP {status}" in str(e.value)
    finally:
        hook.stop()


def test_webhook_unreachable_and_slow_are_transient():
    hook = Webhook()
    hook.mode, hook.slow_seconds = "slow", 0.5
    with pytest.raises(DeliveryFailed) as e:
        hook.adapter(timeout=0.1).deliver(_posting("m"))
    assert not e.value.permanent and "timed out" in str(e.value)
    hook.stop()
    with pytest.raises(DeliveryFailed) as e:
        hook.adapter().deliver(_posting("m"))
    assert not e.value.permanent and "unreachable" in str(e.value)


def _register_request(cpr: str, *months: str) -> msg.RegisterRequest:
    return msg.RegisterRequest(register="income_register", case_id="c", municipality_code="101", cpr=cpr,
                               months=months)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_income_register_client_down_then_up():
    port = _free_port()
    client = IncomeRegisterClient(f"http://127.0.0.1:{port}", timeout=1)
    d = Delivery("r1", "income_register", "c", _register_request("0101701234", "2026-01", "2026-03"), 1, NOW, NOW)
    with pytest.raises(DeliveryFailed) as e:
        client.deliver(d)
    assert not e.value.permanent
    sim = Simulator(port=port).start_in_thread()
    try:
        receipt = client.deliver(d)
        months = {r["income_period_start"][:7] for r in receipt.data["records"]}
        assert months <= {"2026-01", "2026-03"}  # February was not asked for
        assert receipt.reference.startswith("EI-")
        bad = Delivery("r2", "income_register", "c", _register_request("12", "2026-01"), 1, NOW, NOW)
        with pytest.raises(DeliveryFailed) as e:
            client.deliver(bad)
        assert e.value.permanent
    finally:
        sim.shutdown()
        sim.server_close()


def test_the_simulated_population_is_deterministic():
    assert income_records("0101701234", ["2026-01", "2026-02"]) == income_records("0101701234", ["2026-01", "2026-02"])
    for r in income_records("0101701234", ["2026-01"]):
        assert r["fields"]["16"] == r["a_income_with_am_oere"] * 8 // 100


def test_file_drops_and_the_database_stay_put_when_the_working_directory_changes(tmp_path, monkeypatch):
    """bagit.make_bag changes the process's working directory while it builds an
    archive bag, and the dispatcher delivers to several destinations at once: a posting
    or a letter written meanwhile, or a database connection opened meanwhile, must still
    go where the hub was configured (relative paths, as `make run` uses), not into the
    bag being built."""
    import sqlalchemy as sa

    from hub import bootstrap
    from hub.ports import ECONOMY
    from hub.settings import Settings
    from hub.store.db import create_engine
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(home)
    economy = bootstrap.adapters(Settings(var_dir="var"))[ECONOMY]
    engine = create_engine("sqlite:///var/hub.db")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        monkeypatch.chdir(elsewhere)  # as make_bag does, in another thread
        economy.deliver(_posting("m1"))
        engine.dispose()  # the next connection is a new one
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()
    assert _ids(home / "var" / "economy" / "101" / "2026-03-02.jsonl") == ["m1#1", "m1#2"]
    assert list(elsewhere.iterdir()) == []


def test_a_file_drop_that_cannot_be_completed_leaves_no_temporary_file(tmp_path):
    from adapters.files import atomic_write
    target = tmp_path / "letter.xml"
    (target / "in-the-way").mkdir(parents=True)  # a directory where the file should go: the rename fails
    with pytest.raises(OSError):
        atomic_write(target, b"<letter/>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letter.xml"]
    assert target.is_dir()
    atomic_write(tmp_path / "next.xml", b"<letter/>")  # and the next write is whole
    assert (tmp_path / "next.xml").read_bytes() == b"<letter/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letter.xml", "next.xml"]


def test_income_register_money_is_integer_oere_and_anything_else_is_refused(monkeypatch):
    sim = Simulator().start_in_thread()
    client = IncomeRegisterClient(sim.url, timeout=5)
    d = Delivery("r1", "income_register", "c", _register_request("0101701234", "2025-10", "2026-03"), 1, NOW, NOW)
    try:
        records = client.deliver(d).data["records"]
        assert records
        for r in records:
            money = [v for k, v in r.items() if k.endswith("_oere")] + list(r["fields"].values())
            assert len(money) == 8 and all(type(v) is int for v in money), r
        # The register answers an amount as a decimal: the whole answer is refused, naming the field.
        real = income_records

        def decimals(cpr, months):
            out = real(cpr, months)
            out[-1] = dict(out[-1], a_tax_oere=float(out[-1]["a_tax_oere"]))
            return out
        monkeypatch.setattr("adapters.income_register.simulator.income_records", decimals)
        with pytest.raises(DeliveryFailed) as e:
            client.deliver(d)
        assert e.value.permanent and "a_tax_oere is not a whole number of øre (a float)" in str(e.value)
        assert "0101701234" not in str(e.value)
    finally:
        client.close()
        sim.shutdown()
        sim.server_close()
