"""Local certificates to try mTLS in a minute: a CA, a server certificate for
localhost/127.0.0.1, and one client certificate per name (the name is the
certificate's common name, which the clients file maps with `certificate = "..."`).

Run again on the same folder, it adds clients under the CA it made the first time and
keeps what is still good (the server certificate, earlier clients), so certificates
handed out before go on working. Only what has expired, expires within a week, or was
not issued by that CA is made anew. For development only: the keys are written
unencrypted, each readable by its owner alone (mode 0600)."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

RENEW_BEFORE = dt.timedelta(days=7)  # a certificate this close to its end is made anew


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write `data` whole or not at all, with `mode` from the first byte on (a key is
    never readable by others, not even for a moment, and an existing file's wider mode
    does not carry over): a temporary file beside it, renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates it 0600
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cert(subject_cn: str, key, issuer_cert, issuer_key, *, ca: bool = False, server: bool = False,
          days: int = 365) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sagshub dev"),
                      x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                            critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject_cn)]), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def fingerprint(cert_pem: bytes) -> str:
    """sha256 over the DER certificate, hex: what `revoked_certificates` lists."""
    return x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()


def _public(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _valid(cert: x509.Certificate) -> bool:
    now = dt.datetime.now(dt.timezone.utc)
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def issued_by(cert_pem: Path, ca_pem: Path) -> bool:
    """Whether the certificate in `cert_pem` was signed by the CA in `ca_pem`."""
    try:
        x509.load_pem_x509_certificate(cert_pem.read_bytes()).verify_directly_issued_by(
            x509.load_pem_x509_certificate(ca_pem.read_bytes()))
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def _reusable(out: Path, name: str, ca_pem: Path, *, common_name: str) -> bool:
    """<name>.pem and <name>.key are there, belong together, are still valid, were issued
    by the CA, and name `common_name`: then they stay as they are."""
    pem, key = out / f"{name}.pem", out / f"{name}.key"
    if not (pem.exists() and key.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        private = serialization.load_pem_private_key(key.read_bytes(), None)
    except (ValueError, TypeError):
        return False
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return (_public(cert.public_key()) == _public(private.public_key()) and _valid(cert)
            and issued_by(pem, ca_pem) and cns == [common_name])


def _load_ca(out: Path):
    """The CA of an earlier run, if the folder has one: (certificate, key), or None.
    A CA certificate without its key, or with a key that is not its own, is an error:
    making a new CA would silently invalidate every certificate handed out under the old one."""
    pem, key = out / "ca.pem", out / "ca.key"
    if not pem.exists() and not key.exists():
        return None
    if not (pem.exists() and key.exists()):
        raise ValueError(f"{out} has {'ca.pem' if pem.exists() else 'ca.key'} without "
                         f"{'ca.key' if pem.exists() else 'ca.pem'}: restore it, or use a new --out folder")
    ca = x509.load_pem_x509_certificate(pem.read_bytes())
    ca_key = serialization.load_pem_private_key(key.read_bytes(), None)
    if _public(ca.public_key()) != _public(ca_key.public_key()):
        raise ValueError(f"{key} is not the key of {pem}: restore it, or use a new --out folder")
    if not _valid(ca):
        raise ValueError(f"the CA in {pem} has expired (or expires within {RENEW_BEFORE.days} days): "
                         f"use a new --out folder, and hand out its certificates")
    return ca, ca_key


def make(out: str | Path, clients: list[str], *, ca_name: str = "sagshub dev CA") -> dict[str, Path]:
    """Ensures ca.pem/ca.key, server.pem/server.key and <client>.pem/.key in `out`,
    reusing the CA (and the server's and the clients' certificates while they are good)
    of an earlier run; returns the certificates' paths by name ("ca", "server", each client)."""
    out = Path(out)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = {"ca": out / "ca.pem"}
    existing = _load_ca(out)
    if existing is None:
        ca_key = _key()
        ca = _cert(ca_name, ca_key, None, None, ca=True, days=3650)
        _write(out / "ca.key", _pem_key(ca_key), 0o600)  # the key first: a ca.pem alone would be an error
        _write(paths["ca"], ca.public_bytes(serialization.Encoding.PEM), 0o644)
    else:
        ca, ca_key = existing
    for name, server in [("server", True)] + [(c, False) for c in clients]:
        cn = "localhost" if server else name
        paths[name] = out / f"{name}.pem"
        if _reusable(out, name, paths["ca"], common_name=cn):
            continue
        key = _key()
        cert = _cert(cn, key, ca, ca_key, server=server)
        _write(out / f"{name}.key", _pem_key(key), 0o600)
        _write(paths[name], cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return paths
