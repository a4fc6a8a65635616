"""Structured logging: JSON lines in production, readable lines in a terminal.

Stdlib ``logging`` calls (ours and our libraries') go through structlog's formatter, and a
redaction step masks every configured secret and anything that looks like a token, so a
stack trace or a debug line can never leak credentials into a log pipeline.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, MutableMapping
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

    def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if any(marker in key.lower() for marker in _SECRET_KEYS) and value:
                event[key] = "***"
            elif isinstance(value, str):
                event[key] = scrub(value)
        return event

    return redact


def _extra_fields(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    record = event.get("_record")
    if record is not None:
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_FIELDS and not key.startswith("_") and key not in event:
                event[key] = value
    return event


#: ``extra`` for a line that reports a change of state, which the throttle never holds back.
STATE_CHANGE: dict[str, bool] = {"state_change": True}


class RepeatThrottle(logging.Filter):
    """Lets one of a run of identical lines through per ``window`` seconds.

    When descriptors run out, the event loop logs "socket.accept() out of system resource"
    with a traceback every second per listener; a stuck dependency can do the same from
    our own code. The first line of a run is kept, the rest are counted, and the next line
    let through carries ``repeated``: how many were held back. Identical means same logger,
    level, text and exception type. At most ``max_keys`` distinct lines are remembered.

    For the loggers in ``BY_TEMPLATE`` the text is the message before its arguments are
    filled in: APScheduler's "Execution of job … skipped: maximum number of running instances
    reached" names the job's next run time, so while the database hangs (a frozen or
    partitioned server, connections exhausted) a stuck escalation tick wrote one or two such
    lines a second, none identical, for as long as it lasted.

    Lines logged with ``extra=STATE_CHANGE`` always pass: they say that something changed
    (this replica leads again, notifications are back) and come at most once per change.
    Held back, the recovery from a second outage within a minute went missing and the last
    word in the log was the failure ("stepping down") while the process had recovered.
    """

    BY_TEMPLATE = ("apscheduler",)

    def __init__(self, *, window: float = 60.0, max_keys: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._window = window
        self._max_keys = max_keys
        self._clock = clock
        self._runs: OrderedDict[tuple[str, int, str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "state_change", False):
            return True
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        text = str(record.msg) if record.name.split(".", 1)[0] in self.BY_TEMPLATE else record.getMessage()
        key = (record.name, record.levelno, text, error)
        now = self._clock()
        with self._lock:
            run = self._runs.get(key)
            if run is not None and now - run[0] < self._window:
                run[1] += 1
                return False
            self._runs[key] = [now, 0]
            self._runs.move_to_end(key)
            while len(self._runs) > self._max_keys:
                self._runs.popitem(last=False)
        if run is not None and run[1]:
            record.repeated = int(run[1])
        return True


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
    handler.addFilter(RepeatThrottle())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "apscheduler.executors.default", "apscheduler.scheduler", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
