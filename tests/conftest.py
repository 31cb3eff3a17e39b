"""Fixtures: a migrated database (SQLite or PostgreSQL, by HUB_TEST_DATABASE), a hub
served in-process by grpc.aio on an ephemeral port, and clients that talk to it over a
real gRPC channel. Every log line of the run goes to one file, checked for CPR numbers."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import mmap
import os
import struct
import weakref
import tempfile
import threading
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from hub import logs
from hub.api.auth import ClientRegistry
from hub.runtime.writer import Linger
from hub.store import tables
from hub.store.db import create_engine
from hub.store.migrate import recreate_postgres_schema, upgrade
from hub.v1 import benefits_pb2_grpc, cases_pb2_grpc, decisions_pb2_grpc

LOG_FILE = Path(tempfile.gettempdir()) / f"sagshub-test-{os.getpid()}.log"
USED_CPRS: set[str] = set()

CLIENTS = [
    dict(id="backoffice", token="t-backoffice", role="back_office", municipalities=["*"]),
    dict(id="bs-101", token="t-bs-101", role="borgerservice", municipalities=["101"]),
    dict(id="cw-101", token="t-cw-101", role="caseworker", municipalities=["101"]),
    dict(id="cw-751", token="t-cw-751", role="caseworker", municipalities=["751"]),
    dict(id="economy-101", token="t-economy-101", role="economy_system", municipalities=["101"]),
    dict(id="operator", token="t-operator", role="operator", municipalities=["*"]),
    dict(id="vendor-101-147", token="t-vendor", role="vendor_system", municipalities=["101", "147"]),
    dict(id="borger.dk", token="t-portal", role="citizen_portal", municipalities=["*"]),
    # Narrower data limits: one benefit and confidential at most; protected persons.
    dict(id="cw-101-bolig", token="t-cw-101-bolig", role="caseworker", municipalities=["101"],
         benefits=["BOLIGSTOETTE"], max_sensitivity="confidential"),
    dict(id="bs-101-protected", token="t-bs-101-protected", role="borgerservice", municipalities=["101"],
         max_sensitivity="protected_person"),
    # Payment providers: 101 and 147 outsourced to one, 751 to another.
    dict(id="provider-a", token="t-provider-a", role="payment_provider", municipalities=["101", "147"]),
    dict(id="provider-b", token="t-provider-b", role="payment_provider", municipalities=["751"]),
    dict(id="rules-admin", token="t-rules-admin", role="rule_administrator", municipalities=[]),
    # A municipality's management (statistics, billing), and an economy system of another.
    dict(id="manager-101", token="t-manager-101", role="manager", municipalities=["101"]),
    dict(id="manager-751", token="t-manager-751", role="manager", municipalities=["751"]),
    dict(id="economy-751", token="t-economy-751", role="economy_system", municipalities=["751"]),
    # A back office that acts for some municipalities only (billing covers all of them).
    dict(id="backoffice-101", token="t-backoffice-101", role="back_office", municipalities=["101", "147"]),
]


def pytest_configure(config):
    # metrics: a `hub serve` a test starts as a process opens no HTTP port unless the test
    # asks for one (the default 127.0.0.1:8080 may be taken on a shared machine).
    os.environ.setdefault("HUB_HTTP_LISTEN", "off")
    LOG_FILE.write_text("")
    logs.configure(open(LOG_FILE, "a", buffering=1, encoding="utf-8"), json=True, level="DEBUG")


def pytest_sessionfinish(session, exitstatus):
    text = LOG_FILE.read_text(encoding="utf-8") if LOG_FILE.exists() else ""
    leaked = sorted(c for c in USED_CPRS if c in text or f"{c[:6]}-{c[6:]}" in text)
    if leaked:
        print(f"\nCPR numbers found in the log of the test run ({len(leaked)}); see {LOG_FILE}")
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _every_pain001_file_is_valid():
    """Every pain.001 file a test writes through tests.dispatch_support's file drop
    validates against the ISO 20022 XSD (tests/xsd.py)."""
    from tests import xsd
    xsd.INVALID.clear()
    yield
    invalid, xsd.INVALID[:] = list(xsd.INVALID), []
    assert not invalid, "pain.001 files that fail the pain.001.001.09 schema:\n" + "\n".join(invalid)


_serial = itertools.count(1000)


def new_cpr(born: dt.date = dt.date(1970, 1, 1)) -> str:
    """A valid, unique CPR number (7th digit 0-3: born in the 1900s)."""
    assert 1900 <= born.year <= 1999
    n = next(_serial)
    cpr = born.strftime("%d%m%y") + f"{n % 4000:04d}"
    USED_CPRS.add(cpr)
    return cpr


class FakeClock:
    """A clock the tests move. Its time lives in a small shared file, so that a copy
    in a writer process (the clock is pickled to it) reads the same time."""

    def __init__(self, start: dt.datetime | None = None):
        fd, self._path = tempfile.mkstemp(prefix="sagshub-clock-")
        os.write(fd, b"\0" * 8)
        os.close(fd)
        weakref.finalize(self, os.unlink, self._path)  # (by the test process's clock, not a copy)
        self._open()
        self._set(start or dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))

    def _open(self) -> None:
        with open(self._path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), 8)
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"path": self._path}

    def __setstate__(self, state) -> None:
        self._path = state["path"]
        self._open()

    def _set(self, when: dt.datetime) -> None:
        self._map[:8] = struct.pack("<q", (when - _EPOCH) // dt.timedelta(microseconds=1))

    def now(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(microseconds=struct.unpack("<q", self._map[:8])[0])

    def advance(self, **kw) -> None:
        with self._lock:
            self._set(self.now() + dt.timedelta(**kw))


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _database_url(tmp_root: Path) -> str:
    if os.environ.get("HUB_TEST_DATABASE", "sqlite") == "postgres":
        return os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    return f"sqlite:///{tmp_root / 'hub.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = _database_url(tmp_path_factory.mktemp("db"))
    if url.startswith("postgresql"):
        recreate_postgres_schema(url)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    e = create_engine(database_url)
    yield e
    e.dispose()


_KEEP = {"benefits", "sequences", "audit_chain", "rule_sets", "control_rules", "billing_price_models"}  # (the seed's rule data are kept)


@contextlib.contextmanager
def audit_unprotected(engine):
    """A transaction in which the audit log's protection (migration 0010's triggers) is
    lifted, as whoever owns the database can lift it: for the reset between tests, and
    for the tests that play someone who rewrites the log. The hub's own connections
    never do this. PostgreSQL: session_replication_role (a superuser's setting, for
    this transaction only); SQLite: the triggers are dropped and created again."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
            return
        triggers = conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                                        "('audit_log', 'audit_chain')")).all()
        for name, _ in triggers:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        yield conn
        for _, sql in triggers:
            conn.exec_driver_sql(sql)


@pytest.fixture
def clean_db(engine):
    """Empty every table the tests write, so that each test starts from the seed."""
    with audit_unprotected(engine) as conn:
        names = [t.name for t in reversed(tables.metadata.sorted_tables) if t.name not in _KEEP]
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
        else:
            for n in names:
                conn.exec_driver_sql(f"DELETE FROM {n}")
        conn.execute(sa.delete(tables.rule_sets).where(tables.rule_sets.c.published_by != "hub-seed"))
        conn.execute(sa.delete(tables.control_rules).where(tables.control_rules.c.published_by != "hub-seed"))
        conn.execute(sa.delete(tables.billing_price_models)
                     .where(tables.billing_price_models.c.published_by != "hub-seed"))
        conn.execute(sa.update(tables.sequences).values(value=0))
        conn.execute(sa.update(tables.audit_chain).values(seq=0, hash="0" * 64))
    return engine


# HUB_TEST_WRITER=process: every hub of the run serves with a writer process, as
# `hub serve` does on SQLite (make test runs the suite both ways on SQLite).
WRITER_PROCESS = os.environ.get("HUB_TEST_WRITER", "inline") == "process"


class RunningHub:
    def __init__(self, engine, clock: FakeClock, *, tls=None, registry: ClientRegistry | None = None,
                 writer_process: bool = WRITER_PROCESS, writer_linger: Linger = Linger(),
                 relay: tuple[str, ...] = (), settings=None, http_listen: str | None = None):
        """A hub as hub.bootstrap starts one, on the test's engine; `relay`: the
        destinations every event also goes to (as HUB_AMQP_URL makes it);
        `http_listen` (e.g. 127.0.0.1:0): its HTTP port (/metrics, the statistics page)
        at `http_url`."""
        from dataclasses import replace

        from hub import bootstrap
        from hub.settings import Settings
        self.engine = engine
        self.clock = clock
        settings = settings or Settings()
        self.store = replace(bootstrap.store(settings, engine), relay=relay)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        registry = registry or ClientRegistry.from_entries(CLIENTS)
        self.running = asyncio.run_coroutine_threadsafe(
            bootstrap.start(self.store, registry, "127.0.0.1:0", settings=settings, clock=clock, tls=tls,
                            writer_process=writer_process, writer_linger=writer_linger, http_listen=http_listen),
            self._loop).result(30)
        self.port = self.running.port
        self.http_url = f"http://127.0.0.1:{self.running.http_port}" if self.running.http_port else None
        self.address = f"127.0.0.1:{self.port}"
        self.channel = grpc.insecure_channel(self.address)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return  # stopped already (a test restarting the hub)
        self.channel.close()
        asyncio.run_coroutine_threadsafe(self.running.stop(None), self._loop).result(30)
        if self.store.reader is not self.store.engine:
            self.store.reader.dispose()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def as_(self, token: str | None) -> "Client":
        return Client(self.channel, token)

    def as_citizen(self, cpr: str, token: str = "t-portal", **assertion) -> "PortalClient":
        """The citizen portal (`token`) acting for the citizen `cpr`: a fresh assertion
        per call, made by mint_assertion(**assertion)."""
        return PortalClient(self.channel, cpr, self.clock, token, **assertion)


class Client:
    """Stubs that send one client's token on every call."""
    def __init__(self, channel, token: str | None):
        self.metadata = [("authorization", f"Bearer {token}")] if token else []
        from hub.v1 import (audit_pb2_grpc, citizen_pb2_grpc, complaints_pb2_grpc, control_pb2_grpc, events_pb2_grpc,
                            operations_pb2_grpc, payments_pb2_grpc, rules_pb2_grpc, settlement_pb2_grpc,
                            statistics_pb2_grpc)
        self._stubs = dict(cases=cases_pb2_grpc.CaseServiceStub(channel),
                           decisions=decisions_pb2_grpc.DecisionServiceStub(channel),
                           benefits=benefits_pb2_grpc.BenefitCatalogueServiceStub(channel),
                           operations=operations_pb2_grpc.OperationsServiceStub(channel),
                           events=events_pb2_grpc.EventServiceStub(channel),
                           audit=audit_pb2_grpc.AuditServiceStub(channel),
                           payments=payments_pb2_grpc.PaymentServiceStub(channel),
                           complaints=complaints_pb2_grpc.ComplaintServiceStub(channel),
                           rules=rules_pb2_grpc.RulesServiceStub(channel),
                           settlement=settlement_pb2_grpc.SettlementServiceStub(channel),
                           control=control_pb2_grpc.ControlServiceStub(channel),
                           statistics=statistics_pb2_grpc.StatisticsServiceStub(channel),
                           citizen=citizen_pb2_grpc.CitizenServiceStub(channel))
        from hub.v1 import billing_pb2_grpc
        self._stubs["billing"] = billing_pb2_grpc.BillingServiceStub(channel)

    def __getattr__(self, name):
        for stub in self._stubs.values():
            method = getattr(stub, name, None)
            if method is not None:
                return lambda request, metadata=(), _m=method: _m(request, metadata=self.metadata + list(metadata),
                                                                  timeout=10)
        raise AttributeError(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hub(clean_db, clock):
    h = RunningHub(clean_db, clock)
    yield h
    h.stop()


@pytest.fixture
def inline_hub(clean_db, clock):
    """A hub in this process whatever HUB_TEST_WRITER says: for tests that reach into
    the server (its lanes, a patched unit of work)."""
    h = RunningHub(clean_db, clock, writer_process=False)
    yield h
    h.stop()


@pytest.fixture
def backoffice(hub):
    return hub.as_("t-backoffice")


@pytest.fixture
def caseworker(hub):
    return hub.as_("t-cw-101")


@pytest.fixture
def borgerservice(hub):
    return hub.as_("t-bs-101")


# ---- the citizen portal (issue 28): its signing key and the citizen it acts for --------

from cryptography.hazmat.primitives import serialization as _serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

# The test portal's key pair; the hub knows its public half (the clients file's
# assertion_public_key of borger.dk).
PORTAL_KEY = Ed25519PrivateKey.generate()
for _c in CLIENTS:
    if _c["id"] == "borger.dk":
        _c["assertion_public_key"] = PORTAL_KEY.public_key().public_bytes(
            _serialization.Encoding.PEM, _serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def mint_assertion(cpr: str, now: dt.datetime, *, key=None, algorithm: str = "EdDSA", issuer: str = "borger.dk",
                   audience: str = "sagshub", lifetime: dt.timedelta = dt.timedelta(minutes=5),
                   issued: dt.datetime | None = None, **claims) -> str:
    """A signed assertion of the logged-in citizen, as the portal (a login broker) makes it."""
    import jwt
    issued = issued or now
    body = dict(iss=issuer, aud=audience, sub=cpr, iat=int(issued.timestamp()),
                exp=int((issued + lifetime).timestamp()))
    body.update(claims)  # (a claim None: left out)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key or PORTAL_KEY, algorithm=algorithm)


class PortalClient(Client):
    """The citizen portal (`token`) with a fresh assertion of `cpr` on every call,
    minted at the hub's (test) clock's time; `assertion`: mint_assertion's options."""

    def __init__(self, channel, cpr: str, clock, token: str = "t-portal", **assertion):
        self.cpr, self.clock, self.assertion = cpr, clock, assertion
        super().__init__(channel, token)

    @property
    def metadata(self):
        return self._token_metadata + [("x-citizen-assertion", mint_assertion(self.cpr, self.clock.now(),
                                                                              **self.assertion))]

    @metadata.setter
    def metadata(self, value) -> None:  # (Client.__init__: the token)
        self._token_metadata = value
