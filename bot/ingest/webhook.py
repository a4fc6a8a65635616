"""What every webhook endpoint shares: reading JSON safely, status codes, and metrics.

Senders retry 5xx and drop 4xx for good (Alertmanager even drops 429), so the rule here is:
a 4xx only for input that can never succeed, a 503 with Retry-After for anything that might
succeed later (database away, pool exhausted, a bug we have not met yet), never a 500.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from bot.http.limits import BodyTooLarge
from bot.http.responses import json_error
from bot.ingest.inbox_writer import InboxFull
from bot.ingest.pressure import WebhookPressure
from bot.metrics import Metrics
from bot.text_safety import storable
from bot.text_safety import unstorable as text_unstorable

log = logging.getLogger(__name__)

#: Deepest nesting a webhook body may have. Real Alertmanager and PagerDuty bodies are under
#: ten levels; a deeper body is an attack on recursive code further down (the JSON decoder,
#: validators, the encoder that stores timeline data), refused here once and for all.
MAX_JSON_DEPTH = 64

#: Errors that mean "the database could not do it now"; the sender should retry.
DATABASE_UNAVAILABLE = (OperationalError, DBAPIError, PoolTimeout, TimeoutError, ConnectionError)


class WebhookRejected(Exception):
    """Input that can never succeed: answered with ``status`` (4xx) and a JSON error."""

    def __init__(self, status: int, message: str, *, outcome: str = "invalid", **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.outcome = outcome
        self.details = details


@dataclass
class Accepted:
    """A queued (202) or deliberately ignored (200) delivery; ``outcome`` labels the metric."""

    body: dict[str, Any] = field(default_factory=dict)
    outcome: str = "accepted"
    status_code: int = 200


Handler = Callable[[Request], Awaitable[Accepted]]


def webhook_endpoint(
    source: str, metrics: Metrics, handler: Handler, pressure: WebhookPressure | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with the status-code policy, metrics and latency measurement."""

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        outcome = "error"
        if pressure is not None:
            pressure.enter()
        try:
            accepted = await handler(request)
            outcome = accepted.outcome
            return JSONResponse({"status": accepted.outcome, **accepted.body}, status_code=accepted.status_code)
        except WebhookRejected as rejected:
            outcome = rejected.outcome
            headers = {"WWW-Authenticate": "Bearer"} if rejected.status == 401 else None
            response = json_error(rejected.status, rejected.message, **rejected.details)
            if headers:
                response.headers.update(headers)
            return response
        except BodyTooLarge:
            outcome = "too_large"
            raise  # the body-limit middleware answers 413
        except InboxFull as full:
            outcome = "inbox_full"
            log.warning("webhook refused: the inbox is full", extra={"source": source, "max_rows": full.max_rows})
            response = json_error(503, f"{full}; retry later", max_rows=full.max_rows)
            response.headers["Retry-After"] = str(full.retry_after)
            return response
        except ClientDisconnect:
            # Gone before its body was whole (or cut off by the body timeout): nothing was
            # read, so nothing was stored; no one is left to answer.
            outcome = "disconnected"
            log.warning("webhook sender went away before its body was read; nothing stored", extra={"source": source})
            return json_error(400, "the request body did not arrive")
        except DATABASE_UNAVAILABLE as error:
            outcome = "unavailable"
            log.warning("webhook deferred: database unavailable", extra={"source": source, "error": type(error).__name__})
            return json_error(503, "database unavailable, retry later")
        except Exception:  # a 500 would be retried too, but say so explicitly and log it
            log.exception("webhook failed unexpectedly; asking the sender to retry", extra={"source": source})
            return json_error(503, "temporary failure, retry later")
        finally:
            if pressure is not None:
                pressure.exit()
            metrics.webhooks.labels(source=source, outcome=outcome).inc()
            metrics.webhook_latency.labels(source=source).observe(time.perf_counter() - started)

    return endpoint


async def read_json(request: Request) -> tuple[bytes, Any]:
    """The body to queue and its JSON value, or a 4xx explaining why not.

    The body is the raw one, unless strings in it had to be made storable (see
    ``_storable``): then it is the value written out again, so the ingester reads what was
    checked here.
    """
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise WebhookRejected(415, f"unsupported content type {content_type!r}: send application/json")
    raw = await request.body()
    value, unstorable = parse_json(raw)
    if unstorable:
        value = _storable(value)
        log.warning("webhook strings held NUL characters or lone surrogates; each was replaced by U+FFFD")
        return json.dumps(value, ensure_ascii=False).encode("utf-8"), value
    return raw, value


def parse_json(raw: bytes) -> tuple[Any, bool]:
    """The JSON value, and whether a string in it holds what no database stores."""
    if not raw.strip():
        raise WebhookRejected(400, "empty body: expected a JSON object")
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body is not UTF-8") from None
    except RecursionError:
        raise WebhookRejected(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:
        raise WebhookRejected(400, f"malformed JSON: {str(error)[:200]}") from None
    too_deep, unstorable = _scan(value)
    if too_deep:
        raise WebhookRejected(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value, unstorable


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _scan(value: Any) -> tuple[bool, bool]:
    """(nested past ``MAX_JSON_DEPTH``, a string holds NUL or a lone surrogate), in one walk:
    every webhook pays for it before it is answered."""
    unstorable = False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            unstorable = unstorable or text_unstorable(item)
        elif isinstance(item, dict):
            if depth > MAX_JSON_DEPTH:
                return True, unstorable
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                return True, unstorable
            stack.extend((child, depth + 1) for child in item)
    return False, unstorable


def _storable(value: Any) -> Any:
    """A copy with each NUL and lone surrogate replaced by U+FFFD. An alert whose annotation
    carries a stray byte must still open its incident: Alertmanager does not retry a 4xx, so
    refusing it would lose the alert. (Depth is bounded by ``_scan`` already.)"""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {_storable(key): _storable(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_storable(child) for child in value]
    return value


def validation_details(error: Any) -> list[dict[str, str]]:
    """pydantic's errors, trimmed to where and what (no echo of possibly huge input)."""
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "(body)", "problem": item["msg"]}
        for item in error.errors()[:20]
    ]
