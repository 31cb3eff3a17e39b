"""Several hub processes on one PostgreSQL: three `hub serve` and two `hub dispatch`, each
a process of its own as in production, and `hub cluster`, which runs servers on one
port (SO_REUSEPORT) and starts again one that dies. What must hold with more than one
process: the same request_id sent to two servers at once makes one case; subscribers
on any server see the event sequence with no gap and no duplicate; a payment run
started on two servers at once makes each order once; every outbox message is
delivered once in effect (two dispatchers); a server killed mid-load loses no
acknowledged call (its callers retry on another server with the same request_id).

PostgreSQL only (make test's PostgreSQL pass): SQLite is one process's database."""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from hub.store import tables
from hub.v1 import (benefits_pb2, benefits_pb2_grpc, cases_pb2, cases_pb2_grpc, common_pb2, decisions_pb2,
                    decisions_pb2_grpc, events_pb2, events_pb2_grpc, payments_pb2, payments_pb2_grpc)
from tests.conftest import new_cpr

pytestmark = pytest.mark.skipif(os.environ.get("HUB_TEST_DATABASE", "sqlite") != "postgres",
                                reason="several hub processes share one PostgreSQL (make test's PostgreSQL pass)")

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "t-cluster-backoffice"
MD = (("authorization", f"Bearer {TOKEN}"),)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """The processes of a cluster, started by the test."""

    def __init__(self, url: str, tmp: Path):
        self.url, self.tmp = url, tmp
        self.clients = tmp / "clients.toml"
        self.clients.write_text(f'[[client]]\nid = "cluster-backoffice"\ntoken = "{TOKEN}"\nrole = "back_office"\n'
                                f'municipalities = ["*"]\n', encoding="utf-8")
        self.env = dict(os.environ, HUB_VAR_DIR=str(tmp / "var"), HUB_LOG_FORMAT="json",
                        HUB_DISPATCH_IDLE_SECONDS="0.05", HUB_DISPATCH_LEASE_SECONDS="60")
        self.procs: list[subprocess.Popen] = []

    def hub(self, *args: str, log: str, **env: str) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", "hub.cli", "--database", self.url, *args], cwd=ROOT,
                             env=dict(self.env, HUB_LOG_FILE=str(self.tmp / log), **env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def server(self, port: int) -> subprocess.Popen:
        return self.hub("serve", "--listen", f"127.0.0.1:{port}", "--clients", str(self.clients), "--dispatch", "off",
                        log=f"server-{port}.log")

    def dispatcher(self, n: int) -> subprocess.Popen:
        return self.hub("dispatch", log=f"dispatcher-{n}.log")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def ready(port: int, timeout: float = 60) -> grpc.Channel:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = benefits_pb2_grpc.BenefitCatalogueServiceStub(channel)
    end = time.monotonic() + timeout
    while True:
        try:
            stub.ListBenefits(benefits_pb2.ListBenefitsRequest(), metadata=MD, timeout=2)
            return channel
        except grpc.RpcError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def create_req(request_id: str) -> cases_pb2.CreateCaseRequest:
    # By phone: a person processes it (the registers are not asked, none runs here).
    return cases_pb2.CreateCaseRequest(request_id=request_id, municipality_code="101", cpr=new_cpr(),
                                       benefit_code="BOLIGSTOETTE", channel=common_pb2.CHANNEL_PHONE)


def count(engine, table, *where) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


@pytest.fixture
def cluster(clean_db, database_url, tmp_path):
    c = Cluster(database_url, tmp_path)
    yield c
    c.stop()


def test_three_servers_and_two_dispatchers_on_one_database(cluster, clean_db):
    engine = clean_db
    ports = [free_port() for _ in range(3)]
    for port in ports:
        cluster.server(port)
    for n in (1, 2):
        cluster.dispatcher(n)
    channels = [ready(p) for p in ports]
    assert all(p.poll() is None for p in cluster.procs), [p.stderr.read() for p in cluster.procs if p.poll()]
    cases_ = [cases_pb2_grpc.CaseServiceStub(ch) for ch in channels]

    # Subscribers on every server, from the start of the log.
    seen: list[list[int]] = [[] for _ in channels]
    streams = []

    def follow(i: int) -> None:
        stream = events_pb2_grpc.EventServiceStub(channels[i]).Subscribe(
            events_pb2.SubscribeRequest(after_sequence=0, heartbeat_seconds=1), metadata=MD)
        streams.append(stream)
        try:
            for message in stream:
                if message.HasField("event"):
                    seen[i].append(message.event.sequence)
        except grpc.RpcError:
            pass  # cancelled at the end, or its server was killed
    followers = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(3)]
    for t in followers:
        t.start()

    # 1. The same request_id to two servers at once: one case.
    before = count(engine, tables.cases)
    twin = create_req(str(uuid.uuid4()))
    with cf.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda stub: stub.CreateCase(twin, metadata=MD, timeout=30), cases_[:2]))
    assert answers[0].case_id == answers[1].case_id
    assert count(engine, tables.cases) == before + 1

    # 2. Load over all three; server 2 is killed a third of the way; its callers retry
    # on the next server with the same request_id. No acknowledged call is lost.
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    killed = threading.Event()

    def call(n: int) -> None:
        req = create_req(str(uuid.uuid4()))
        for attempt in range(6):
            stub = cases_[(n + attempt) % 3]
            try:
                case = stub.CreateCase(req, metadata=MD, timeout=10)
                with lock:
                    acknowledged[req.request_id] = case.case_id
                return
            except grpc.RpcError as err:
                assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                      grpc.StatusCode.CANCELLED), err
        raise AssertionError("no server answered")

    calls = 300
    with cf.ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(call, n) for n in range(calls)]
        while sum(f.done() for f in futures) < calls // 3:
            time.sleep(0.01)
        cluster.procs[1].send_signal(signal.SIGKILL)
        killed.set()
        for f in futures:
            f.result()
    assert len(acknowledged) == calls
    with engine.connect() as c:
        stored = dict(c.execute(sa.select(tables.cases.c.case_id, tables.cases.c.id)).all())
    assert set(acknowledged.values()) <= set(stored), "an acknowledged case is missing"
    assert len(stored) == before + 1 + calls, "a request made two cases"

    # 3. Grants decided through the live servers; a payment run started on servers 1
    # and 3 at once orders each once.
    decisions_ = decisions_pb2_grpc.DecisionServiceStub(channels[0])
    granted = list(acknowledged.values())[:40]
    for case_id in granted:
        cases_[2].AddInformation(cases_pb2.AddInformationRequest(
            request_id=str(uuid.uuid4()), case_id=case_id, source=cases_pb2.INFORMATION_SOURCE_REGISTER,
            kind="income.annual", value={"number_value": 300000}), metadata=MD, timeout=10)
        r = decisions_.SubmitDraftDecision(decisions_pb2.SubmitDraftDecisionRequest(
            request_id=str(uuid.uuid4()), case_id=case_id, outcome=decisions_pb2.OUTCOME_GRANTED,
            amounts=[common_pb2.PeriodAmount(amount_oere=125_000, period_start={"year": 2026, "month": 12, "day": 1},
                                             period_end={"year": 2027, "month": 3, "day": 31})],
            reasoning="Indkomsten er under grænsen.", legal_basis="Lov om individuel boligstøtte § 1"),
            metadata=MD, timeout=10)
        assert r.approved_automatically
    month = time.strftime("%Y-%m")

    def run(i: int):
        stream = payments_pb2_grpc.PaymentServiceStub(channels[i]).RunPayments(
            payments_pb2.RunPaymentsRequest(request_id=str(uuid.uuid4()), period=month), metadata=MD, timeout=120)
        return list(stream)[-1]
    with cf.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, (0, 2)))
    assert sum(r.orders_created for r in runs) == len(granted)
    o = tables.payment_orders.c
    with engine.connect() as c:
        per_line = c.execute(sa.select(o.case_id, o.period_key, sa.func.count()).group_by(o.case_id, o.period_key)
                             ).all()
    assert len(per_line) == len(granted) and all(n == 1 for _, _, n in per_line)

    # 4. The two dispatchers deliver every message once in effect: the economy system's
    # files hold each posting once.
    out = tables.outbox.c
    end = time.monotonic() + 120
    while count(engine, tables.outbox, out.status != "DELIVERED") and time.monotonic() < end:
        time.sleep(0.2)
    assert count(engine, tables.outbox, out.status != "DELIVERED") == 0
    economy = [json.loads(line) for f in (cluster.tmp / "var" / "economy").rglob("*.jsonl")
               for line in f.read_text(encoding="utf-8").splitlines()]
    posted = {(p["message_id"], p["line"]) for p in economy}
    assert len(posted) == len(economy), "a posting line was written twice"
    with engine.connect() as c:
        economy_messages = c.execute(sa.select(sa.func.count()).select_from(tables.outbox)
                                     .where(out.destination == "economy")).scalar_one()
    assert len({m for m, _ in posted}) == economy_messages
    letters = list((cluster.tmp / "var" / "digital_post").rglob("*.xml"))
    assert len(letters) == len(granted)

    # 5. Every subscriber (the killed server's until it died) saw the sequence in order,
    # with no gap and no duplicate.
    last = count(engine, tables.events)
    end = time.monotonic() + 60
    while any(len(seen[i]) < last for i in (0, 2)) and time.monotonic() < end:
        time.sleep(0.1)
    for s in streams:
        s.cancel()
    for i in (0, 2):
        assert len(seen[i]) >= last and seen[i] == list(range(1, len(seen[i]) + 1)), f"subscriber on server {i + 1}"
    assert seen[1] == list(range(1, len(seen[1]) + 1)) and killed.is_set()
    for ch in channels:
        ch.close()


def test_hub_cluster_serves_one_port_from_several_processes_and_replaces_one_that_dies(cluster, clean_db):
    port = free_port()
    proc = cluster.hub("cluster", "--servers", "2", "--dispatchers", "1", "--listen", f"127.0.0.1:{port}",
                       "--clients", str(cluster.clients), log="cluster.log")
    ready(port).close()
    pids: dict[str, int] = {}
    while len(pids) < 3:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        name, _, rest = line.removeprefix("hub cluster: ").partition(" pid ")
        pids[name] = int(rest.split()[0])
    assert set(pids) == {"server-1", "server-2", "dispatcher-1"}

    def calls_answered(n: int) -> int:
        """n new connections, each one call (the kernel spreads connections, not calls)."""
        ok = 0
        for _ in range(n):
            req = create_req(str(uuid.uuid4()))
            for attempt in range(3):  # a connection the dying server had accepted is reset: retried
                with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
                    try:
                        cases_pb2_grpc.CaseServiceStub(ch).CreateCase(req, metadata=MD, timeout=10)
                        ok += 1
                        break
                    except grpc.RpcError as err:
                        assert err.code() == grpc.StatusCode.UNAVAILABLE and attempt < 2, err
        return ok
    assert calls_answered(10) == 10
    # Both servers bound the one port (each logged that it serves it).
    logs = (cluster.tmp / "cluster.log").read_text(encoding="utf-8")
    assert sum(1 for line in logs.splitlines() if '"serving"' in line and f'"port": {port}' in line) == 2
    # One server dies: the other answers meanwhile, and the cluster starts it again.
    os.kill(pids["server-1"], signal.SIGKILL)
    assert calls_answered(10) == 10
    line = proc.stdout.readline()
    assert line.startswith("hub cluster: server-1 pid ") and int(line.split()[4]) != pids["server-1"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
