"""Client identities from bearer tokens, as listed in a clients file (TOML).

    [[client]]
    id = "bs-kbh"
    token = "..."            # or token_sha256 = "<hex>" to keep the token out of the file
    role = "borgerservice"
    municipalities = ["101"] # or ["*"] for all 98
    central_authorities = [] # optional

The transport (token today, mTLS certificates later) only yields a client id; what the
client may do is the file's mapping, so adding mTLS changes this module alone."""
from __future__ import annotations

import hashlib
import hmac
import tomllib
from pathlib import Path
from typing import Iterable

from hub.domain import municipalities
from hub.domain.errors import Unauthenticated
from hub.domain.identity import Identity, Role


class ClientRegistry:
    def __init__(self, identities_by_token_hash: dict[str, Identity]):
        self._by_hash = identities_by_token_hash

    @classmethod
    def from_file(cls, path: str | Path) -> "ClientRegistry":
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_entries(data.get("client", []))

    @classmethod
    def from_entries(cls, entries: Iterable[dict]) -> "ClientRegistry":
        by_hash: dict[str, Identity] = {}
        for e in entries:
            munis = list(e.get("municipalities", []))
            if munis == ["*"]:
                munis = list(municipalities.all_municipalities())
            unknown = [m for m in munis if municipalities.get(m) is None]
            if unknown:
                raise ValueError(f"client {e['id']}: unknown municipality codes {unknown}")
            identity = Identity(e["id"], Role(e["role"]), frozenset(munis),
                                frozenset(e.get("central_authorities", [])))
            digest = e.get("token_sha256") or hashlib.sha256(e["token"].encode()).hexdigest()
            by_hash[digest.lower()] = identity
        return cls(by_hash)

    def identify(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Identity:
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
