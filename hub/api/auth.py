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

    # The citizen portal (role citizen_portal) signs an assertion of the logged-in
    # citizen per call (CitizenAssertions): its public key, a PEM text or a file (a
    # relative path is read from the clients file's folder); Ed25519 or EC P-256.
    assertion_public_key = "portal-key.pub.pem"
    assertion_audience = "sagshub"      # top level: the `aud` the assertions name (default)

The transport (token today, mTLS certificates later) only yields a client id; what the
client may do is the file's mapping, so adding mTLS changes this module alone."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import tomllib
from pathlib import Path
from typing import Callable, Iterable

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from hub.domain import cpr as cpr_rules
from hub.domain import municipalities
from hub.domain.audit import UNAUTHENTICATED
from hub.domain.errors import PermissionDenied, Unauthenticated
from hub.domain.identity import Identity, Role
from hub.domain.model import Sensitivity


class ClientRegistry:
    def __init__(self, identities_by_token_hash: dict[str, Identity],
                 identities_by_certificate: dict[str, Identity] | None = None, revoked: Iterable[str] = (),
                 assertions: "CitizenAssertions | None" = None):
        self._by_hash = identities_by_token_hash
        self._by_cert = identities_by_certificate or {}
        self._revoked = {r.lower().replace(":", "") for r in revoked}
        self.assertions = assertions or CitizenAssertions({})

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
        return cls.from_entries(data.get("client", []), revoked=data.get("revoked_certificates", []),
                                audience=data.get("assertion_audience", DEFAULT_AUDIENCE), base=Path(path).parent)

    @classmethod
    def from_entries(cls, entries: Iterable[dict], *, revoked: Iterable[str] = (), audience: str = "",
                     base: Path | None = None) -> "ClientRegistry":
        by_hash: dict[str, Identity] = {}
        by_cert: dict[str, Identity] = {}
        keys: dict[str, bytes] = {}
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
            if e.get("assertion_public_key"):
                if identity.role is not Role.CITIZEN_PORTAL:
                    raise ValueError(f"client {e['id']}: only a citizen_portal client signs citizen assertions")
                keys[identity.client_id] = _pem(e["assertion_public_key"], base)
                CitizenAssertions.load(keys[identity.client_id], identity.client_id)  # (refused now if unusable)
            if e.get("certificate"):
                by_cert[e["certificate"]] = identity
            if e.get("token") or e.get("token_sha256"):
                digest = e.get("token_sha256") or hashlib.sha256(e["token"].encode()).hexdigest()
                by_hash[digest.lower()] = identity
        return cls(by_hash, by_cert, revoked, CitizenAssertions(keys, audience or DEFAULT_AUDIENCE))

    def citizen_of(self, identity: Identity, metadata: Iterable[tuple[str, str | bytes]] | None,
                   clock: Callable[[], dt.datetime]) -> str | None:
        """The CPR of the citizen the call's signed assertion (metadata
        x-citizen-assertion) names, verified at `clock()`; None when the call carries
        none. Only a citizen portal acts for a citizen."""
        token = next((v for k, v in metadata or () if k == ASSERTION_HEADER), None)
        if token is None:
            return None
        if identity.role is not Role.CITIZEN_PORTAL:
            raise PermissionDenied("only a citizen portal acts for a citizen (x-citizen-assertion)",
                                   reason="CITIZEN_ASSERTION_NOT_ALLOWED")
        return self.assertions.verify(identity.client_id, token, clock())

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


# ---- the citizen portal's signed assertion of the logged-in citizen -------------------

ASSERTION_HEADER = "x-citizen-assertion"
DEFAULT_AUDIENCE = "sagshub"
MAX_LIFETIME = dt.timedelta(minutes=10)   # exp - iat: a short-lived login, never a standing token
CLOCK_SKEW = dt.timedelta(seconds=60)     # between the portal's clock and the hub's
MAX_ASSERTION = 4096                      # characters


def _pem(value: str, base: Path | None) -> bytes:
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    path = Path(value)
    return (path if path.is_absolute() or base is None else base / path).read_bytes()


def _refused(message: str, reason: str) -> Unauthenticated:
    # (The texts name no claim's value: an assertion holds a CPR number.)
    return Unauthenticated(f"the citizen assertion is refused: {message}", reason=reason)


class CitizenAssertions:
    """Verifies the citizen portal's assertion of the logged-in citizen, as a login
    broker (MitID / NemLog-in) would issue it: a JWT signed with the portal's own
    private key, whose public key the clients file holds (client id -> PEM).

    The algorithm follows from the key (Ed25519: EdDSA, EC P-256: ES256): `none`, HS*
    and any other are refused. Required claims: `iss` the portal's client id, `aud`
    the hub (`assertion_audience`, default "sagshub"), `iat` and `exp` at most 10
    minutes apart, `sub` (or `cpr`) the citizen's CPR number; `nbf` is honoured. Times
    are checked against the hub's clock with 60 s of skew. Every refusal is
    UNAUTHENTICATED with a CITIZEN_ASSERTION_* reason."""

    def __init__(self, keys: dict[str, bytes], audience: str = DEFAULT_AUDIENCE):
        self.keys, self.audience = dict(keys), audience
        self._loaded: dict[str, tuple[object, str]] = {}

    def __getstate__(self):  # (a writer process gets a copy; key objects do not pickle)
        return {"keys": self.keys, "audience": self.audience}

    def __setstate__(self, state) -> None:
        self.keys, self.audience, self._loaded = state["keys"], state["audience"], {}

    @staticmethod
    def load(pem: bytes, client_id: str) -> tuple[object, str]:
        """The public key and the one algorithm it verifies; ValueError if unusable."""
        try:
            key = load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"client {client_id}: assertion_public_key is not a PEM public key ({exc})") from None
        if isinstance(key, ed25519.Ed25519PublicKey):
            return key, "EdDSA"
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            return key, "ES256"
        raise ValueError(f"client {client_id}: assertion_public_key must be an Ed25519 or EC P-256 key")

    def verify(self, client_id: str, token: str | bytes, now: dt.datetime) -> str:
        """The CPR number (10 digits) of the citizen the assertion names."""
        if client_id not in self.keys:
            raise _refused("no assertion key is configured for this portal (assertion_public_key in the clients "
                           "file)", "CITIZEN_ASSERTION_KEY_NOT_CONFIGURED")
        if client_id not in self._loaded:
            self._loaded[client_id] = self.load(self.keys[client_id], client_id)
        key, algorithm = self._loaded[client_id]
        if isinstance(token, bytes) or not token or len(token) > MAX_ASSERTION:
            raise _refused(f"it must be a JWT of at most {MAX_ASSERTION} characters", "CITIZEN_ASSERTION_MALFORMED")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("it is not a JWT", "CITIZEN_ASSERTION_MALFORMED") from None
        if header.get("alg") != algorithm:
            raise _refused(f"it must be signed with {algorithm} (the portal's key)", "CITIZEN_ASSERTION_ALGORITHM")
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm], audience=self.audience, issuer=client_id,
                                options={"require": ["iss", "aud", "iat", "exp"], "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False, "verify_sub": False})
        except jwt.InvalidSignatureError:
            raise _refused("its signature is not the portal's", "CITIZEN_ASSERTION_SIGNATURE") from None
        except jwt.InvalidAudienceError:
            raise _refused(f"its audience (aud) must be {self.audience!r}", "CITIZEN_ASSERTION_AUDIENCE") from None
        except jwt.InvalidIssuerError:
            raise _refused("its issuer (iss) must be the portal's client id", "CITIZEN_ASSERTION_ISSUER") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _refused(f"it lacks the claim {exc.claim!r}", "CITIZEN_ASSERTION_CLAIMS") from None
        except jwt.PyJWTError:
            raise _refused("it is not a valid signed JWT", "CITIZEN_ASSERTION_MALFORMED") from None
        return self._check(claims, now)

    def _check(self, claims: dict, now: dt.datetime) -> str:
        times = {}
        for name in ("iat", "exp", "nbf"):
            value = claims.get(name)
            if value is None and name == "nbf":
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise _refused(f"its {name} must be a number (seconds since 1970)", "CITIZEN_ASSERTION_CLAIMS")
            try:
                times[name] = dt.datetime.fromtimestamp(value, dt.timezone.utc)
            except (OverflowError, OSError, ValueError):
                raise _refused(f"its {name} is out of range", "CITIZEN_ASSERTION_CLAIMS") from None
        if times["exp"] <= times["iat"] or times["exp"] - times["iat"] > MAX_LIFETIME:
            raise _refused(f"it must expire (exp) within {int(MAX_LIFETIME.total_seconds())} s of being issued (iat)",
                           "CITIZEN_ASSERTION_LIFETIME")
        if now >= times["exp"] + CLOCK_SKEW:
            raise _refused("it has expired", "CITIZEN_ASSERTION_EXPIRED")
        if times["iat"] > now + CLOCK_SKEW or times.get("nbf", times["iat"]) > now + CLOCK_SKEW:
            raise _refused("it is not valid yet (iat or nbf in the future)", "CITIZEN_ASSERTION_NOT_YET_VALID")
        cpr = claims.get("cpr", claims.get("sub"))
        if not isinstance(cpr, str) or cpr_rules.problem(cpr, now.date()):
            raise _refused("its sub (or cpr) must be the citizen's CPR number", "CITIZEN_ASSERTION_CPR")
        return cpr_rules.normalise(cpr) or ""
