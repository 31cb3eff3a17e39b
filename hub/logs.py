"""Structured logs: one JSON object a line in production, readable lines in a
terminal. A CPR number (hub.domain.cpr.CPR_PATTERN) is redacted from every line, including
exception texts and the logs of libraries (SQLAlchemy errors carry parameters)."""
from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from hub.domain.cpr import redact


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


_settings: dict = {}


def settings() -> dict:
    """How this process logs, for a child process to log the same way
    (`configure(**settings())`): the same file, or the standard error it inherits."""
    return dict(_settings)


def configure(stream: TextIO | None = None, *, json: bool | None = None, level: str | None = None,
              path: str | None = None) -> None:
    """Log to `path` (appended), or `stream` (standard error); as JSON lines unless `json`
    is False (None: JSON unless a terminal); from `level` up (INFO). The settings come
    from hub.settings (HUB_LOG_FILE, HUB_LOG_FORMAT, HUB_LOG_LEVEL) through the bootstrap."""
    stream = stream or sys.stderr
    if path:
        stream = open(path, "a", buffering=1, encoding="utf-8")
    if json is None:
        json = not stream.isatty()
    lvl = getattr(logging, (level or "INFO").upper(), logging.INFO)
    name = getattr(stream, "name", None)
    _settings.update(json=json, level=logging.getLevelName(lvl),
                     path=name if isinstance(name, str) and not name.startswith("<") else None)
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
            lambda _logger, _name, line: redact(line),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(lvl, logging.INFO))
    # Chatty libraries: bagit logs every checksum, httpx every request, pika every frame.
    for name in ("bagit", "httpx", "httpcore", "pika"):
        logging.getLogger(name).setLevel(logging.WARNING)
