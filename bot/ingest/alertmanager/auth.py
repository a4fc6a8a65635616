"""``ALERTMANAGER_TOKEN``: a bearer token, or the password of HTTP basic auth.

Alertmanager's ``http_config`` offers both (``authorization`` and ``basic_auth``); either
carries the same shared secret. Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hmac


def authorised(header: str | None, token: str | None) -> bool:
    """True when no token is configured, or the Authorization header carries it."""
    if not token:
        return True
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
