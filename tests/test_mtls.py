"""mTLS: the hub requires a client certificate from its CA, and the certificate (mapped
in the clients file) is the caller's identity. No certificate, another CA, an unlisted
or a revoked certificate: refused. Plaintext only on loopback unless allowed."""
from __future__ import annotations

import grpc
import pytest

from clients.cli import devcerts
from clients.sdk import connect
from hub.api.auth import ClientRegistry
from hub.bootstrap import TlsFiles, check_listen
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


def test_dev_certs_a_second_time_keeps_the_ca_and_earlier_clients_work(clean_db, clock, tmp_path, capsys):
    """A second `hubctl dev-certs` adds clients under the CA it made the first time: the
    first client's certificate still works against a hub serving with that CA."""
    from clients.cli.hubctl import main
    out = tmp_path / "certs"
    assert main(["dev-certs", "--out", str(out), "--client", "first.example"]) == 0
    ca_before, server_before = (out / "ca.pem").read_bytes(), (out / "server.pem").read_bytes()
    assert main(["dev-certs", "--out", str(out), "--client", "second.example"]) == 0
    capsys.readouterr()
    assert (out / "ca.pem").read_bytes() == ca_before and (out / "server.pem").read_bytes() == server_before
    for f in sorted(out.glob("*.key")):  # every private key, the CA's first
        assert f.stat().st_mode & 0o777 == 0o600, f.name
    assert {f.name for f in out.glob("*.key")} == {"ca.key", "server.key", "first.example.key", "second.example.key"}

    entries = [dict(c) for c in CLIENTS] + [
        dict(id="first", role="back_office", municipalities=["*"], certificate="first.example"),
        dict(id="second", role="back_office", municipalities=["*"], certificate="second.example")]
    h = RunningHub(clean_db, clock, tls=TlsFiles(out / "server.pem", out / "server.key", out / "ca.pem"),
                   registry=ClientRegistry.from_entries(entries))
    try:
        for name in ("first.example", "second.example"):
            sdk = connect(f"localhost:{h.port}", ca=str(out / "ca.pem"), cert=str(out / f"{name}.pem"),
                          key=str(out / f"{name}.key"))
            try:
                assert sdk.cases.CreateCase(create_req(), timeout=10).created_by_client == name.split(".")[0]
            finally:
                sdk.close()
    finally:
        h.stop()


def test_dev_certs_replaces_only_what_is_no_longer_valid(tmp_path):
    """A client certificate that was not issued by the CA in the folder (or has expired)
    is issued again; a CA key that does not match its certificate is an error, not a new CA."""
    out = tmp_path / "certs"
    devcerts.make(out, ["a"])
    devcerts.make(tmp_path / "other", ["a"])
    (out / "a.pem").write_bytes((tmp_path / "other" / "a.pem").read_bytes())
    (out / "a.key").write_bytes((tmp_path / "other" / "a.key").read_bytes())
    before = (out / "a.pem").read_bytes()
    devcerts.make(out, ["a"])
    assert (out / "a.pem").read_bytes() != before and devcerts.issued_by(out / "a.pem", out / "ca.pem")
    (out / "ca.key").write_bytes((tmp_path / "other" / "ca.key").read_bytes())
    with pytest.raises(ValueError, match="ca.key"):
        devcerts.make(out, ["b"])
