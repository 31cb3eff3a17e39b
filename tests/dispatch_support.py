"""Shared by the delivery tests: adapters writing under a temporary folder, the income
register simulator on a real socket, a dispatcher on the test's fake clock, and a
small economy webhook receiver whose behaviour the test controls."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from adapters.archive.bagit_archive import BagItArchive
from adapters.control_unit.webhook import ControlUnitWebhook
from adapters.digital_post.memo import MeMoFileDrop
from adapters.economy.file_drop import EconomyFileDrop
from adapters.economy.webhook import EconomyWebhook
from adapters.income_register.client import IncomeRegisterClient
from adapters.income_register.simulator import Simulator
from hub.ports import messages as msg
from hub.dispatch.dispatcher import Dispatcher, DispatchSettings
from adapters.payment_provider.pain001 import Pain001FileDrop
from adapters.appeals.file_drop import AppealsFileDrop
from hub.ports import APPEALS, ARCHIVE, DIGITAL_POST, ECONOMY, INCOME_REGISTER, PAYMENT_PROVIDER
from hub.domain.documents import Letter, Sender
from hub.store.uow import Store


class CheckedPain001FileDrop(Pain001FileDrop):
    """The pain.001 file drop, and every file it writes validated against the ISO 20022
    XSD; an invalid file is recorded in tests.xsd.INVALID, which fails the test (conftest)."""

    def deliver(self, d):
        receipt = super().deliver(d)
        from tests.xsd import INVALID, pain001_errors
        path = self.root / receipt.reference
        INVALID.extend(f"{path.name}: {e}" for e in pain001_errors(path))
        return receipt


def file_adapters(root, register_url: str = "http://127.0.0.1:9") -> dict:
    return {
        PAYMENT_PROVIDER: CheckedPain001FileDrop(root / "payment_provider"),
        APPEALS: AppealsFileDrop(root / "appeals"),
        ECONOMY: EconomyFileDrop(root / "economy"),
        DIGITAL_POST: MeMoFileDrop(root / "digital_post"),
        ARCHIVE: BagItArchive(root / "archive"),
        INCOME_REGISTER: IncomeRegisterClient(register_url, timeout=5),
    }


def store_of(engine_or_store) -> Store:
    """The store of a test's engine (its own engine reads too)."""
    return engine_or_store if isinstance(engine_or_store, Store) else Store(engine_or_store, engine_or_store)


def dispatcher(engine, clock, adapters, *, watch_deadlines=False, **settings) -> Dispatcher:
    """A dispatcher as hub.bootstrap builds one; `watch_deadlines`: its loop runs the
    deadline watcher too (each minute on the clock)."""
    from hub import bootstrap
    s = DispatchSettings(**{"idle_sleep": 0.05, **settings})
    return bootstrap.dispatcher(store_of(engine), clock, adapters, s, watch_deadlines=watch_deadlines)


class Webhook:
    """An economy system's (or a control unit's) endpoint. `mode` is what it does now:
    "ok", "slow" (accepts after `slow_seconds`), or an HTTP status to answer with ("503",
    "400", ...); with `echo`, an error answer names the CPR number the request carried, as
    some systems do. It keeps what it accepted, by idempotency key, and counts the requests."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.slow_seconds = 2.0
        self.echo = False
        self.accepted: dict[str, dict] = {}
        self.order: list[str] = []
        self.requests = 0
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # an answer goes out at once (no 40 ms delayed-ACK wait)
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                with hook.lock:
                    hook.requests += 1
                    mode = hook.mode
                if mode == "slow":
                    time.sleep(hook.slow_seconds)
                status = {"ok": 201, "slow": 201}.get(mode) or int(mode)
                if status == 201:
                    key = self.headers["Idempotency-Key"]
                    with hook.lock:
                        if key not in hook.accepted:
                            hook.accepted[key] = body
                            hook.order.append(key)
                answer = b""
                if hook.echo and status != 201:  # e.g. {"error": "no such person: 0101701234"}
                    answer = json.dumps(dict(error=f"no such person: {body.get('cpr')}")).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/postings"
        self._thread: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        if self._thread is None:
            if self.server.socket.fileno() == -1:  # closed by stop(): listen again on the same port
                self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.server.RequestHandlerClass)
                self.server.daemon_threads = True
            self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Connection refused from now on, until start()."""
        self.server.shutdown()
        self.server.server_close()
        self._thread = None

    def adapter(self, timeout: float = 1.0) -> EconomyWebhook:
        return EconomyWebhook(self.url, timeout=timeout)

    def adapter_for_control(self, timeout: float = 1.0) -> ControlUnitWebhook:
        """The control unit's webhook, posting here."""
        return ControlUnitWebhook(self.url, timeout=timeout)


def simulator() -> Simulator:
    return Simulator().start_in_thread()


def enqueue_postings(engine, clock, cases: int, per_case: int, destination: str = ECONOMY) -> list[str]:
    """Economy postings straight into the outbox, several per case, as decisions and
    payments will write them. Returns the message ids in the order they were written."""
    import uuid

    make = {ECONOMY: posting, DIGITAL_POST: letter}[destination]
    ids = []
    with store_of(engine).unit() as uow:
        for c in range(cases):
            case_id = str(uuid.uuid4())
            for n in range(per_case):
                mid = f"test/{case_id}/{n}"
                uow.outbox.add(make(case_id, n).outbox(mid, case_id), clock.now())
                ids.append(mid)
        uow.commit()
    return ids


def posting(case_id: str, n: int = 0, cpr: str = "") -> msg.DecisionPosting:
    """A decision's posting, as the hub writes them (one period amount)."""
    return msg.DecisionPosting(municipality_code="101", benefit_code="BOLIGSTOETTE", ledger_account="5.57.76",
                               case_id=case_id, cpr=cpr, decision_id=f"d-{n}", outcome="GRANTED",
                               amounts=(msg.PostedAmount(1000 + n, dt.date(2026, 1, 1), dt.date(2026, 1, 31)),))


def letter(case_id: str, n: int = 0, cpr: str = "0101001000") -> msg.DigitalPostLetter:
    """A short letter to the citizen (not a decision letter: it records no sending time)."""
    return msg.DigitalPostLetter(letter_kind="hearing_letter", case_id=case_id, municipality_code="101",
                                 letter=Letter(title="Brev", sender=Sender("municipality:101", "Københavns Kommune"),
                                               recipient_cpr=cpr, case_id=case_id, document_id=f"l-{n}",
                                               file_prefix="brev", text="Hej.\n"))


def control_finding(case_id: str = "case-1", cpr: str = "0101701234", finding_id: str = "f-1",
                    **changes) -> msg.ControlFinding:
    """A finding of the IT control as the service builds one: the income register's
    annual income against the income the grant assumed, with every field set."""
    fields = dict(
        finding_id=finding_id, case_id=case_id, municipality_code="101", benefit_code="BOLIGSTOETTE", cpr=cpr,
        rule_code="INCOME_DEVIATION", rule_title="Indkomst afviger fra bevillingens forudsætning",
        found_at=dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc),
        period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 2, 28),
        observations=(msg.Observation(name="income.annual", label="Husstandens årsindkomst",
                                      register_value=32_000_000, assumed_value=25_000_000, unit="øre/år",
                                      source="income_register", source_reference="EI-3f2a9c81d0b4-1"),
                      msg.Observation(name="household.adults", label="Voksne i husstanden", register_value=2,
                                      assumed_value=1, unit="personer", source="cpr_register",
                                      source_reference="CPR-7d41e0a9b2c35f68")),
        amount_at_stake_oere_per_month=112_500)
    return msg.ControlFinding(**{**fields, **changes})


def statuses(engine) -> dict[str, str]:
    import sqlalchemy as sa

    from hub.store import tables
    with engine.connect() as c:
        return dict(c.execute(sa.select(tables.outbox.c.message_id, tables.outbox.c.status)).all())


class ScriptedRegister:
    """A register over a real socket that answers whatever the test sets (`answer`: JSON,
    or bytes as they are; `status`) and records what it is sent (`seen`: path and body)."""

    def __init__(self):
        self.answer: object = {}
        self.status = 200
        self.seen: list[tuple[str, object]] = []
        reg = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                reg.seen.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
                body = reg.answer if isinstance(reg.answer, bytes) else json.dumps(reg.answer).encode()
                self.send_response(reg.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> "ScriptedRegister":
        self.answer, self.status, self.seen = {}, 200, []
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
