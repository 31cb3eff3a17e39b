"""Every setting of the hub, read from the environment (HUB_*) in this one place; the
`hub` command's options override them (`Settings.replace`). hub.bootstrap builds the
hub from a Settings, and a writer process gets a copy of its front's.

| variable | default |
| --- | --- |
| HUB_DATABASE_URL | sqlite:///var/hub.db |
| HUB_CLIENTS_FILE, HUB_LISTEN | -, 127.0.0.1:50051 |
| HUB_TLS_CERT, HUB_TLS_KEY, HUB_TLS_CLIENT_CA, HUB_INSECURE | mTLS files; 1: plaintext off loopback |
| HUB_REUSE_PORT | 0; 1: several `hub serve` share the listen port (SO_REUSEPORT; `hub cluster`) |
| HUB_WRITER, HUB_WRITER_HANG_SECONDS, HUB_WRITER_LINGER_MS | auto, 300, 1 |
| HUB_DISPATCH | embedded (or off) |
| HUB_DISPATCH_BATCH, _PARALLEL, _LEASE_SECONDS, _MAX_ATTEMPTS, _IDLE_SECONDS, _PROBE_SECONDS, _TIMEOUT_SECONDS, _TIMEOUT_<DESTINATION>_SECONDS | see DispatchSettings |
| HUB_VAR_DIR, HUB_ECONOMY_ADAPTER, HUB_ECONOMY_WEBHOOK_URL, HUB_INCOME_REGISTER_URL | var, file, -, http://127.0.0.1:8089 |
| HUB_CPR_REGISTER_URL, HUB_RENT_REGISTER_URL | http://127.0.0.1:8090, http://127.0.0.1:8091 |
| HUB_CONTROL_ADAPTER, HUB_CONTROL_WEBHOOK_URL | file, - |
| HUB_FINAL_ASSESSMENT_URL | http://127.0.0.1:8092 |
| HUB_AMQP_URL, HUB_AMQP_EXCHANGE, HUB_PAYMENT_DEBTOR_ACCOUNTS | -, sagshub.events, - |
| HUB_PAYMENT_RUN_CHUNK, HUB_PAYMENT_BATCH_LEASE_SECONDS | 2000, 600 |
| HUB_CONTROL_RUN_CHUNK, HUB_CONTROL_LEASE_SECONDS | 1000, 600 |
| HUB_AUDIT_HEAD_FILE, HUB_AUDIT_HEAD_SECONDS | -, 60 |
| HUB_LOG_FILE, HUB_LOG_FORMAT, HUB_LOG_LEVEL | stderr, json unless a terminal, INFO |
| HUB_HTTP_LISTEN | 127.0.0.1:8080 (/metrics and the statistics page; "" or off: none) |
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Mapping

from hub.dispatch.dispatcher import DispatchSettings
from hub.ports import DESTINATIONS
from hub.service.control import ControlSettings
from hub.service.payments import PaymentSettings

DEFAULT_DATABASE_URL = "sqlite:///var/hub.db"
DEFAULT_INCOME_REGISTER_URL = "http://127.0.0.1:8089"
DEFAULT_CPR_REGISTER_URL = "http://127.0.0.1:8090"
DEFAULT_RENT_REGISTER_URL = "http://127.0.0.1:8091"
DEFAULT_FINAL_ASSESSMENT_URL = "http://127.0.0.1:8092"


class SettingError(ValueError):
    """A setting that is not valid: its message names the setting."""


# ---- the HTTP port (metrics and the statistics page) ---------------------------------------------
DEFAULT_HTTP_LISTEN = "127.0.0.1:8080"


def _http_listen(env: Mapping[str, str]) -> str | None:
    """HUB_HTTP_LISTEN: host:port of /metrics and the statistics page; unset: the
    default; empty or "off": no HTTP port."""
    text = env.get("HUB_HTTP_LISTEN")
    if text is None:
        return DEFAULT_HTTP_LISTEN
    text = text.strip()
    if text in ("", "off"):
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingError(f"HUB_HTTP_LISTEN must be host:port (or off), not {text!r}")
    return text
# ---- (end of the HTTP port) ----------------------------------------------------------------------


def _number(env: Mapping[str, str], name: str, default: float, *, low: float = 0, high: float = float("inf"),
            whole: bool = False) -> float:
    text = env.get(name, "")
    if text == "":
        return default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise SettingError(f"{name} must be a {'whole ' if whole else ''}number, not {text!r}") from None
    if not low <= value <= high:
        raise SettingError(f"{name} must be from {low:g} to {high:g}, not {text!r}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise SettingError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    clients_file: str | None = None
    listen: str = "127.0.0.1:50051"
    tls_cert: str | None = None
    tls_key: str | None = None
    client_ca: str | None = None
    insecure: bool = False
    reuse_port: bool = False               # several `hub serve` on one port (SO_REUSEPORT): a cluster
    writer: str = "auto"                   # auto (a writer process: hub.bootstrap.writer_wanted), process, inline
    writer_hang_seconds: float = 300.0
    writer_linger_ms: float | None = None  # None: the writer's own default (hub.runtime.writer.Linger)
    dispatch: str = "embedded"             # embedded in `hub serve`, or off (run `hub dispatch`)
    dispatcher: DispatchSettings = field(default_factory=DispatchSettings)
    payments: PaymentSettings = field(default_factory=PaymentSettings)
    control: ControlSettings = field(default_factory=ControlSettings)
    var_dir: str = "var"
    economy_adapter: str = "file"          # file or webhook
    economy_webhook_url: str | None = None
    control_adapter: str = "file"          # the local control unit: file or webhook
    control_webhook_url: str | None = None
    income_register_url: str = DEFAULT_INCOME_REGISTER_URL
    cpr_register_url: str = DEFAULT_CPR_REGISTER_URL
    rent_register_url: str = DEFAULT_RENT_REGISTER_URL
    final_assessment_url: str = DEFAULT_FINAL_ASSESSMENT_URL  # the tax authority's final assessments
    amqp_url: str | None = None
    amqp_exchange: str = "sagshub.events"
    payment_debtor_accounts: str | None = None
    audit_head_file: str | None = None
    audit_head_seconds: float = 60.0
    log_file: str | None = None
    log_format: str = ""                   # json, console, or "" (json unless a terminal)
    log_level: str = "INFO"
    http_listen: str | None = DEFAULT_HTTP_LISTEN  # /metrics and the statistics page; None: none

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        """The settings the environment gives. SettingError names one that is not valid."""
        d = DispatchSettings()
        d.batch_size = int(_number(env, "HUB_DISPATCH_BATCH", d.batch_size, low=1, whole=True))
        d.parallel = int(_number(env, "HUB_DISPATCH_PARALLEL", d.parallel, low=1, whole=True))
        d.lease = dt.timedelta(seconds=_number(env, "HUB_DISPATCH_LEASE_SECONDS", d.lease.total_seconds(), low=1))
        d.max_attempts = int(_number(env, "HUB_DISPATCH_MAX_ATTEMPTS", d.max_attempts, low=1, whole=True))
        d.idle_sleep = _number(env, "HUB_DISPATCH_IDLE_SECONDS", d.idle_sleep)
        d.probe_interval = _number(env, "HUB_DISPATCH_PROBE_SECONDS", d.probe_interval)
        d.default_timeout = _number(env, "HUB_DISPATCH_TIMEOUT_SECONDS", d.default_timeout, low=0.001)
        for dest in DESTINATIONS:  # e.g. HUB_DISPATCH_TIMEOUT_ECONOMY_SECONDS
            key = f"HUB_DISPATCH_TIMEOUT_{dest.upper()}_SECONDS"
            if env.get(key):
                d.timeouts[dest] = _number(env, key, d.default_timeout, low=0.001)
        linger = env.get("HUB_WRITER_LINGER_MS", "")
        return cls(
            database_url=env.get("HUB_DATABASE_URL") or DEFAULT_DATABASE_URL,
            clients_file=env.get("HUB_CLIENTS_FILE") or None,
            listen=env.get("HUB_LISTEN") or "127.0.0.1:50051",
            tls_cert=env.get("HUB_TLS_CERT") or None, tls_key=env.get("HUB_TLS_KEY") or None,
            client_ca=env.get("HUB_TLS_CLIENT_CA") or None, insecure=env.get("HUB_INSECURE") == "1",
            reuse_port=env.get("HUB_REUSE_PORT") == "1",
            writer=_choice(env, "HUB_WRITER", "auto", ("auto", "process", "inline")),
            writer_hang_seconds=_number(env, "HUB_WRITER_HANG_SECONDS", 300.0, low=0.001),
            writer_linger_ms=None if linger == "" else _number(env, "HUB_WRITER_LINGER_MS", 1.0, high=100),
            dispatch=_choice(env, "HUB_DISPATCH", "embedded", ("embedded", "off")),
            dispatcher=d,
            payments=PaymentSettings(
                run_chunk=int(_number(env, "HUB_PAYMENT_RUN_CHUNK", 2000, low=1, whole=True)),
                batch_lease=dt.timedelta(seconds=_number(env, "HUB_PAYMENT_BATCH_LEASE_SECONDS", 600, low=1))),
            control=ControlSettings(
                chunk=int(_number(env, "HUB_CONTROL_RUN_CHUNK", 1000, low=1, high=10_000, whole=True)),
                lease=dt.timedelta(seconds=_number(env, "HUB_CONTROL_LEASE_SECONDS", 600, low=1))),
            var_dir=env.get("HUB_VAR_DIR") or "var",
            economy_adapter=_choice(env, "HUB_ECONOMY_ADAPTER", "file", ("file", "webhook")),
            economy_webhook_url=env.get("HUB_ECONOMY_WEBHOOK_URL") or None,
            control_adapter=_choice(env, "HUB_CONTROL_ADAPTER", "file", ("file", "webhook")),
            control_webhook_url=env.get("HUB_CONTROL_WEBHOOK_URL") or None,
            income_register_url=env.get("HUB_INCOME_REGISTER_URL") or DEFAULT_INCOME_REGISTER_URL,
            cpr_register_url=env.get("HUB_CPR_REGISTER_URL") or DEFAULT_CPR_REGISTER_URL,
            rent_register_url=env.get("HUB_RENT_REGISTER_URL") or DEFAULT_RENT_REGISTER_URL,
            final_assessment_url=env.get("HUB_FINAL_ASSESSMENT_URL") or DEFAULT_FINAL_ASSESSMENT_URL,
            amqp_url=env.get("HUB_AMQP_URL") or None,
            amqp_exchange=env.get("HUB_AMQP_EXCHANGE") or "sagshub.events",
            payment_debtor_accounts=env.get("HUB_PAYMENT_DEBTOR_ACCOUNTS") or None,
            audit_head_file=env.get("HUB_AUDIT_HEAD_FILE") or None,
            audit_head_seconds=_number(env, "HUB_AUDIT_HEAD_SECONDS", 60.0, low=0.001),
            log_file=env.get("HUB_LOG_FILE") or None,
            log_format=env.get("HUB_LOG_FORMAT", ""),
            log_level=env.get("HUB_LOG_LEVEL") or "INFO",
            http_listen=_http_listen(env),
        )

    def replace(self, **changes) -> "Settings":
        """These settings with some changed (the `hub` command's options); None leaves one as it is."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def relay(self) -> tuple[str, ...]:
        """The destinations every event also goes to through the outbox."""
        return ("amqp",) if self.amqp_url else ()
