"""Client identities from bearer tokens, as listed in a clients file (TOML).

    [[client]]
    id = "bs-kbh"
    token = "..."            # or token_sha256 = "<hex>" to keep the token out of the file
    role = "borgerservice"
    municipalities = ["101"] # or ["*"] for all 98
    central_authorities = [] # optional
    certificate = "economy-101.kommune.dk"  # optional: the client certificate's CN or DNS SAN (mTLS)
    benefits = ["BOLIGSTOETTE"]         # optional data limit (default all)
    max_sensitivity = "confidential"    # not_confidential | confidential | sensitive_personal_data
                                        # (default) | protected_person

    revoked_certificates = ["<sha256 hex of the DER certificate>", ...]   # top level

The transport (token today, mTLS certificates later) only yields a client id; what the
client may do is the file's mapping, so adding mTLS changes this module alone."""
from __future__ import annotations

import hashlib
import hmac
import tomllib
from pathlib import Path
from typing import Iterable

from hub.domain import municipalities
from hub.domain.audit import UNAUTHENTICATED
from hub.domain.errors import Unauthenticated
from hub.domain.identity import Identity, Role
from hub.domain.model import Sensitivity


class ClientRegistry:
    def __init__(self, identities_by_token_hash: dict[str, Identity],
                 identities_by_certificate: dict[str, Identity] | None = None, revoked: Iterable[str] = ()):
        self._by_hash = identities_by_token_hash
        self._by_cert = identities_by_certificate or {}
        self._revoked = {r.lower().replace(":", "") for r in revoked}

    def with_role(self, role: Role) -> dict[str, Identity]:
        """The known clients of a role, by client id."""
        return {i.client_id: i for i in (*self._by_hash.values(), *self._by_cert.values()) if i.role is role}

    def identities(self) -> list[Identity]:
        """Every identity once, in the order of the file (the same order in a copy of
        this registry, which is how a writer process numbers them)."""
        return list({id(i): i for i in (*self._by_hash.values(), *self._by_cert.values())}.values())

    @classmethod
    def from_file(cls, path: str | Path) -> "ClientRegistry":
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_entries(data.get("client", []), revoked=data.get("revoked_certificates", []))

    @classmethod
    def from_entries(cls, entries: Iterable[dict], *, revoked: Iterable[str] = ()) -> "ClientRegistry":
        by_hash: dict[str, Identity] = {}
        by_cert: dict[str, Identity] = {}
        for e in entries:
            if e["id"] == UNAUTHENTICATED:  # the audit log's name for a caller without identity
                raise ValueError(f"client {e['id']}: that id is reserved")
            munis = list(e.get("municipalities", []))
            if munis == ["*"]:
                munis = list(municipalities.all_municipalities())
            unknown = [m for m in munis if municipalities.get(m) is None]
            if unknown:
                raise ValueError(f"client {e['id']}: unknown municipality codes {unknown}")
            benefits = e.get("benefits")
            identity = Identity(e["id"], Role(e["role"]), frozenset(munis),
                                frozenset(e.get("central_authorities", [])),
                                None if benefits in (None, ["*"]) else frozenset(benefits),
                                Sensitivity(e.get("max_sensitivity", "sensitive_personal_data").upper()))
            if e.get("certificate"):
                by_cert[e["certificate"]] = identity
            if e.get("token") or e.get("token_sha256"):
                digest = e.get("token_sha256") or hashlib.sha256(e["token"].encode()).hexdigest()
                by_hash[digest.lower()] = identity
        return cls(by_hash, by_cert, revoked)

    def identify(self, metadata: Iterable[tuple[str, str | bytes]] | None,
                 auth_context: dict[str, list[bytes]] | None = None) -> Identity:
        """The certificate's identity on an mTLS connection, else the bearer token's."""
        if auth_context and auth_context.get("x509_pem_cert"):
            return self._from_certificate(auth_context)
        token = ""
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str):
                scheme, _, rest = value.partition(" ")
                if scheme.lower() == "bearer":
                    token = rest.strip()
        if not token:
            raise Unauthenticated("a bearer token is required (metadata 'authorization: Bearer <token>')",
                                  reason="TOKEN_MISSING")
        digest = hashlib.sha256(token.encode()).hexdigest()
        for known, identity in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return identity
        raise Unauthenticated("unknown token", reason="TOKEN_UNKNOWN")

    def _from_certificate(self, ctx: dict[str, list[bytes]]) -> Identity:
        pem = ctx["x509_pem_cert"][0]
        if _fingerprint(pem) in self._revoked:
            raise Unauthenticated("the client certificate is revoked", reason="CERTIFICATE_REVOKED")
        names = [n.decode() for n in ctx.get("x509_common_name", []) + ctx.get("x509_subject_alternative_name", [])]
        for name in names:
            if name in self._by_cert:
                return self._by_cert[name]
        raise Unauthenticated("the client certificate is not in the clients file", reason="CERTIFICATE_NOT_LISTED")


def _fingerprint(pem: bytes) -> str:
    """sha256 of the DER certificate, hex."""
    import base64
    body = b"".join(line for line in pem.strip().splitlines() if not line.startswith(b"-----"))
    return hashlib.sha256(base64.b64decode(body)).hexdigest()
