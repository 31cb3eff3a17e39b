"""mTLS: the hub requires a client certificate from its CA, and the certificate (mapped
in the clients file) is the caller's identity. No certificate, another CA, an unlisted
or a revoked certificate: refused. Plaintext only on loopback unless allowed."""
from __future__ import annotations

import grpc
import pytest

from clients.cli import devcerts
from clients.sdk import connect
from hub.api.auth import ClientRegistry
from hub.api.server import TlsFiles, check_listen
from hub.v1 import benefits_pb2
from tests.conftest import CLIENTS, RunningHub
from tests.helpers import create_req, rpc_error


@pytest.fixture
def certs(tmp_path):
    good = devcerts.make(tmp_path / "pki", ["backoffice.example", "operator.example", "stranger.example",
                                            "revoked.example"])
    other = devcerts.make(tmp_path / "other", ["backoffice.example"], ca_name="someone else's CA")
    return tmp_path, good, other


@pytest.fixture
def tls_hub(clean_db, clock, certs):
    root, good, _ = certs
    entries = [dict(c) for c in CLIENTS]
    for e in entries:
        if e["id"] == "backoffice":
            e["certificate"] = "backoffice.example"
        if e["id"] == "operator":
            e["certificate"] = "operator.example"
    entries.append(dict(id="revoked-client", role="back_office", municipalities=["*"],
                        certificate="revoked.example"))
    registry = ClientRegistry.from_entries(
        entries, revoked=[devcerts.fingerprint((root / "pki" / "revoked.example.pem").read_bytes())])
    pki = root / "pki"
    h = RunningHub(clean_db, clock, tls=TlsFiles(pki / "server.pem", pki / "server.key", pki / "ca.pem"),
                   registry=registry)
    yield h
    h.stop()


def _client(hub, pki, name=None, ca=None):
    ca = ca or pki / "ca.pem"
    if name is None:
        return connect(f"localhost:{hub.port}", ca=str(ca))
    return connect(f"localhost:{hub.port}", ca=str(ca), cert=str(pki / f"{name}.pem"), key=str(pki / f"{name}.key"))


def test_the_right_certificate_is_the_identity(tls_hub, certs):
    root, _, _ = certs
    sdk = _client(tls_hub, root / "pki", "backoffice.example")
    try:
        case = sdk.cases.CreateCase(create_req(), timeout=10)
        assert case.created_by_client == "backoffice"
        # The role comes with the certificate: an operator's certificate may not create cases.
        op = _client(tls_hub, root / "pki", "operator.example")
        err = rpc_error(lambda r: op.cases.CreateCase(r, timeout=10), create_req())
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        op.close()
    finally:
        sdk.close()


@pytest.mark.parametrize("who,code", [
    ("no certificate", grpc.StatusCode.UNAVAILABLE),
    ("another CA", grpc.StatusCode.UNAVAILABLE),
    ("unlisted", grpc.StatusCode.UNAUTHENTICATED),
    ("revoked", grpc.StatusCode.UNAUTHENTICATED),
])
def test_refused_certificates(tls_hub, certs, who, code):
    root, _, _ = certs
    sdk = {"no certificate": lambda: _client(tls_hub, root / "pki"),
           "another CA": lambda: _client(tls_hub, root / "other", "backoffice.example", ca=root / "pki" / "ca.pem"),
           "unlisted": lambda: _client(tls_hub, root / "pki", "stranger.example"),
           "revoked": lambda: _client(tls_hub, root / "pki", "revoked.example")}[who]()
    try:
        err = rpc_error(lambda r: sdk.benefits.ListBenefits(r, timeout=5), benefits_pb2.ListBenefitsRequest())
        assert err.code() == code
    finally:
        sdk.close()


def test_no_plaintext_off_loopback_unless_allowed(tmp_path):
    check_listen("127.0.0.1:50051", None, False)
    with pytest.raises(ValueError, match="without TLS"):
        check_listen("0.0.0.0:50051", None, False)
    check_listen("0.0.0.0:50051", None, True)
    pki = devcerts.make(tmp_path, [])
    check_listen("0.0.0.0:50051", TlsFiles(pki["server"], tmp_path / "server.key", pki["ca"]), False)


def test_hubctl_dev_certs_and_a_call_over_mtls(tls_hub, certs, capsys, tmp_path):
    from clients.cli.hubctl import main
    assert main(["dev-certs", "--out", str(tmp_path / "dev"), "--client", "x"]) == 0
    assert (tmp_path / "dev" / "x.pem").exists() and (tmp_path / "dev" / "ca.pem").exists()
    capsys.readouterr()
    root, _, _ = certs
    pki = root / "pki"
    code = main(["--address", f"localhost:{tls_hub.port}", "--ca", str(pki / "ca.pem"),
                 "--cert", str(pki / "backoffice.example.pem"), "--key", str(pki / "backoffice.example.key"),
                 "benefits"])
    assert code == 0 and "BOLIGSTOETTE" in capsys.readouterr().out
