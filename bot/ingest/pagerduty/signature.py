"""``X-PagerDuty-Signature``: ``v1=<hex HMAC-SHA256 of the raw body>``, comma-separated.

During secret rotation PagerDuty signs with every active secret, and operators may list
several secrets too (``PAGERDUTY_WEBHOOK_SECRET=new,old``); any pair matching passes.
Every candidate is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def secrets_from_setting(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def signatures(header: str | None) -> list[str]:
    found = []
    for part in (header or "").split(","):
        version, _, digest = part.strip().partition("=")
        if version == "v1" and digest:
            found.append(digest.strip().lower())
    return found


def verify(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    candidates = signatures(header)
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        for candidate in candidates:
            # no early exit: the time taken does not depend on which candidate matched
            matched |= hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace"))
    return matched
