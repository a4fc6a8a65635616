"""Structured logging: JSON lines in production, readable lines in a terminal.

Stdlib ``logging`` calls (ours and our libraries') go through structlog's formatter, and a
redaction step masks every configured secret and anything that looks like a token, so a
stack trace or a debug line can never leak credentials into a log pipeline.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import structlog

_TOKEN_PATTERNS = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|Token token=[^\s\"']+|Bearer [^\s\"']+)")
_SECRET_KEYS = ("token", "secret", "password", "authorization", "signature", "routing_key")

_STANDARD_RECORD_FIELDS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _redactor(secrets: Iterable[str]) -> structlog.types.Processor:
    known = sorted({secret for secret in secrets if secret and len(secret) >= 4}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in known:
            text = text.replace(secret, "***")
        return _TOKEN_PATTERNS.sub("***", text)

    def redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        for key, value in list(event.items()):
            if any(marker in key.lower() for marker in _SECRET_KEYS) and value:
                event[key] = "***"
            elif isinstance(value, str):
                event[key] = scrub(value)
        return event

    return redact


def _extra_fields(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    record = event.get("_record")
    if record is not None:
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_FIELDS and not key.startswith("_") and key not in event:
                event[key] = value
    return event


def configure_logging(*, level: str = "INFO", fmt: str = "auto", secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """Route every log record to ``stream`` (stderr by default; the console passes a file)."""
    stream = stream if stream is not None else sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    redact = _redactor(secrets)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _extra_fields,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "apscheduler.executors.default", "apscheduler.scheduler", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
