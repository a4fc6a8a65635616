"""Who may post to ``/webhooks/alertmanager``: a shared secret per source, and none means no one.

``ALERTMANAGER_TOKEN`` covers URLs without ``?source=`` (and sources without their own
token); ``ALERTMANAGER_TOKENS=prod:…,staging:…`` gives a source its own token, which then is
the only one accepted for it, so a staging cluster holding its token cannot write into prod.

Alertmanager's ``http_config`` offers a bearer token (``authorization``) and ``basic_auth``;
either carries the secret (as the password for basic auth). Comparisons are constant-time.
With no token for the request's source the endpoint refuses with 403: an open webhook on a
public interface would let anyone open incidents and page people.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.ingest.webhook import WebhookRejected

TOKEN_VARIABLE = "ALERTMANAGER_TOKEN"
TOKENS_VARIABLE = "ALERTMANAGER_TOKENS"


@dataclass(frozen=True)
class SourceTokens:
    """The configured secrets: a default and one per named source."""

    default: str | None = None
    by_source: Mapping[str, str] = field(default_factory=dict)

    def for_source(self, source: str | None) -> str | None:
        if source is not None and source in self.by_source:
            return self.by_source[source]
        return self.default or None


def require_token(header: str | None, source: str | None, tokens: SourceTokens) -> None:
    """Return if ``header`` carries the source's token; else raise 403 (none set) or 401."""
    token = tokens.for_source(source)
    if token is None:
        if source is None:
            message = f"no token configured for this endpoint: set {TOKEN_VARIABLE} (and send it as Authorization: Bearer <token>)"
        else:
            message = f"no token configured for source {source!r}: set {TOKENS_VARIABLE}={source}:<token> or {TOKEN_VARIABLE}"
        raise WebhookRejected(403, message, outcome="forbidden")
    if not carries(header, token):
        variable = f"{TOKENS_VARIABLE} ({source})" if source in tokens.by_source else TOKEN_VARIABLE
        raise WebhookRejected(401, f"missing or wrong credentials (Authorization: Bearer <{variable}>)", outcome="unauthorized")


def carries(header: str | None, token: str) -> bool:
    """True when the Authorization header carries ``token`` (bearer, or basic-auth password)."""
    if not header:
        return False
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(credentials.encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _user, _, password = decoded.partition(":")
        return hmac.compare_digest(password.encode(), token.encode())
    return False
