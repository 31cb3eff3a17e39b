"""The hub's HTTP port as `make run` serves it (`hub serve`, HUB_HTTP_LISTEN): /metrics,
the statistics page and its JSON, over HTTP. (The page in a browser, and its figures
against StatisticsService: tests/test_statistics_page.py.)"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.settings import SettingError, Settings
from hub.v1 import cases_pb2_grpc
from tests.conftest import RunningHub
from tests.helpers import create_req


def _serve(database_url, tmp_path, **env):
    log = tmp_path / "hub.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "--database", database_url, "serve", "--listen", "127.0.0.1:0",
         "--clients", "etc/clients.demo.toml", "--dispatch", "off"],
        env=dict(os.environ, HUB_LOG_FILE=str(log), HUB_LOG_FORMAT="json", **env))
    started, waited = None, 0.0
    while started is None and waited < 60 and server.poll() is None:
        time.sleep(0.05)
        waited += 0.05
        lines = log.read_text().splitlines() if log.exists() else []
        started = next((json.loads(x) for x in lines if '"serving"' in x), None)
    if started is None:
        server.kill()
        pytest.fail("hub serve did not start")
    return server, started


def _stop(server) -> None:
    server.send_signal(signal.SIGTERM)
    assert server.wait(60) == 0


def test_hub_serve_serves_metrics_and_the_page(clean_db, database_url, tmp_path):
    server, started = _serve(database_url, tmp_path, HUB_HTTP_LISTEN="127.0.0.1:0")
    try:
        http = f"http://127.0.0.1:{started['http_port']}"
        with grpc.insecure_channel(f"127.0.0.1:{started['port']}") as channel:
            stub = cases_pb2_grpc.CaseServiceStub(channel)
            for _ in range(2):
                stub.CreateCase(create_req(), metadata=[("authorization", "Bearer demo-backoffice")], timeout=30)
        r = httpx.get(f"{http}/metrics", timeout=10)
        assert r.status_code == 200
        samples = {(s.name, frozenset(s.labels.items())): s.value
                   for f in text_string_to_metric_families(r.text) for s in f.samples}
        assert samples[("grpc_server_handled_total", frozenset(dict(
            grpc_type="unary", grpc_service="hub.v1.CaseService", grpc_method="CreateCase",
            grpc_code="OK").items()))] == 2
        assert samples[("hub_outbox_pending", frozenset(dict(destination="economy").items()))] == 0

        page = httpx.get(f"{http}/", timeout=10)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "Ledelsesinformation" in page.text and 'src="/static/statistics.js"' in page.text
        for name in ("statistics.js", "charts.js", "statistics.css"):
            assert httpx.get(f"{http}/static/{name}", timeout=10).status_code == 200
        assert httpx.get(f"{http}/static/../settings.py", timeout=10).status_code == 404

        viewer = httpx.get(f"{http}/api/viewer", headers={"Authorization": "Bearer demo-caseworker-101"}, timeout=10)
        assert viewer.status_code == 200
        assert viewer.json()["municipalities"] == [{"code": "101", "name": "København"}]
        # The demo manager's page: Copenhagen's figures this month, the two cases in them
        # (on SQLite hub serve runs GetStatistics in its writer process).
        month = dt.datetime.now(ZoneInfo("Europe/Copenhagen")).strftime("%Y-%m")
        figures = httpx.get(f"{http}/api/statistics", params=dict(municipality_code="101", from_month=month,
                                                                   to_month=month),
                            headers={"Authorization": "Bearer demo-manager-101"}, timeout=30)
        assert figures.status_code == 200, figures.text
        assert figures.json()["total"]["applications_received"] == "2"
        assert httpx.get(f"{http}/api/statistics", params=dict(municipality_code="751", from_month=month,
                                                               to_month=month),
                         headers={"Authorization": "Bearer demo-manager-101"}, timeout=30).status_code == 403
        refused = httpx.get(f"{http}/api/viewer", headers={"Authorization": "Bearer wrong"}, timeout=10)
        assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHENTICATED"
        assert httpx.get(f"{http}/api/viewer", timeout=10).status_code == 401
    finally:
        _stop(server)


def test_hub_serve_without_the_http_port(clean_db, database_url, tmp_path):
    server, started = _serve(database_url, tmp_path, HUB_HTTP_LISTEN="off")
    try:
        assert started["http_port"] is None
        time.sleep(1)  # (hub serve takes SIGTERM from a moment after its "serving" line)
    finally:
        _stop(server)


def test_the_http_port_setting():
    assert Settings.from_env({}).http_listen == "127.0.0.1:8080"
    assert Settings.from_env({"HUB_HTTP_LISTEN": ""}).http_listen is None
    assert Settings.from_env({"HUB_HTTP_LISTEN": "off"}).http_listen is None
    assert Settings.from_env({"HUB_HTTP_LISTEN": "127.0.0.1:9100"}).http_listen == "127.0.0.1:9100"
    with pytest.raises(SettingError, match="HUB_HTTP_LISTEN"):
        Settings.from_env({"HUB_HTTP_LISTEN": "9100"})


def test_serve_refuses_plain_http_off_loopback(database_url):
    done = subprocess.run([sys.executable, "-m", "hub.cli", "--database", database_url, "serve",
                           "--clients", "etc/clients.demo.toml"],
                          env=dict(os.environ, HUB_HTTP_LISTEN="0.0.0.0:0"), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "refusing to serve 0.0.0.0:0 without TLS" in done.stderr


def test_the_page_keeps_the_token_in_the_tab_and_loads_nothing_from_elsewhere(clean_db, clock):
    hub = RunningHub(clean_db, clock, http_listen="127.0.0.1:0")
    try:
        page = httpx.get(f"{hub.http_url}/statistics", timeout=10)
        assert "default-src 'self'" in page.headers["content-security-policy"]
        script = httpx.get(f"{hub.http_url}/static/statistics.js", timeout=10).text
        assert "sessionStorage" in script and "localStorage" not in script
        assert "http://" not in script.replace("http://www.w3.org", "") and "https://" not in script
        assert httpx.get(f"{hub.http_url}/nothing", timeout=10).status_code == 404
    finally:
        hub.stop()


@pytest.mark.skipif(os.environ.get("HUB_TEST_DATABASE", "sqlite") != "postgres",
                    reason="hub cluster runs on PostgreSQL only")
def test_hub_cluster_gives_each_server_its_own_metrics_port(clean_db, database_url, tmp_path):
    from tests.test_cluster import free_port
    grpc_port, http_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "--database", database_url, "cluster", "--servers", "2",
                             "--dispatchers", "0", "--listen", f"127.0.0.1:{grpc_port}", "--clients",
                             "etc/clients.demo.toml"],
                            env=dict(os.environ, HUB_HTTP_LISTEN=f"127.0.0.1:{http_port}",
                                     HUB_LOG_FILE=str(tmp_path / "cluster.log")),
                            stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert [line.rsplit(" ", 1)[-1].strip() for line in lines] == [f"127.0.0.1:{http_port}",
                                                                        f"127.0.0.1:{http_port + 1}"]
        for port in (http_port, http_port + 1):  # each server's own /metrics
            end = time.monotonic() + 60
            while True:
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < end, f"no /metrics on {port}"
                    time.sleep(0.2)
            assert r.status_code == 200 and "grpc_server_started_total" in r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def test_serve_says_so_when_the_http_port_is_taken(clean_db, database_url):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "hub.cli", "--database", database_url, "serve", "--listen",
                               "127.0.0.1:0", "--clients", "etc/clients.demo.toml", "--dispatch", "off"],
                              env=dict(os.environ, HUB_HTTP_LISTEN=f"127.0.0.1:{port}"), capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 2
    assert f"could not bind 127.0.0.1:{port} for /metrics and the statistics page" in done.stderr
    assert "Traceback" not in done.stderr
