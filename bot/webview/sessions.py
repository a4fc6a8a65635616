"""Signed-cookie sessions: the browser keeps the session; the server keeps only sign-outs.

A cookie is ``base64(json) "." base64(hmac-sha256)``; a cookie whose signature does not
match, or whose ``exp`` has passed, is no session at all. Every web replica that shares the
key accepts every other's cookies, and a restart signs nobody out, which is what lets a
live page reconnect after a deploy. Each session has an id (``sid``), so signing out can
refuse that session everywhere (bot/webview/signouts.py), and a signed-in session carries
the fingerprint of the sign-in token it was made with (``fp``), so a new token ends it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "firebreak_session"
#: How long a sign-in lasts (a working day and a half, for an incident that runs long).
LIFETIME_SECONDS = 12 * 3600


def derive_key(*, secret: str | None, token: str | None) -> bytes:
    """The signing key: the configured secret, else one derived from the sign-in token
    (stable across restarts and replicas), else a random one for this process."""
    if secret:
        return hashlib.sha256(b"firebreak-web-session\x00" + secret.encode()).digest()
    if token:
        return hashlib.sha256(b"firebreak-web-session-from-token\x00" + token.encode()).digest()
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class Session:
    """``user`` is None before sign-in; ``csrf`` is the token every form must echo."""

    csrf: str
    user: str | None = None
    expires: int = 0
    #: This session's id: what a sign-out records, so copies of the cookie stop working too.
    sid: str = ""
    #: Fingerprint of the sign-in configuration the session was made under (``AuthConfig.fingerprint``).
    fp: str = ""

    @classmethod
    def anonymous(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(24), expires=int(time.time()) + LIFETIME_SECONDS, sid=secrets.token_urlsafe(16))

    def signed_in(self, user: str, fingerprint: str) -> Session:
        # A fresh CSRF token and id at sign-in: one seen before it cannot be replayed after.
        return Session(
            csrf=secrets.token_urlsafe(24),
            user=user,
            expires=int(time.time()) + LIFETIME_SECONDS,
            sid=secrets.token_urlsafe(16),
            fp=fingerprint,
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(session: Session, key: bytes) -> str:
    body = _b64(json.dumps({"u": session.user, "c": session.csrf, "e": session.expires, "s": session.sid, "f": session.fp}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())
    return f"{body}.{signature}"


def decode(cookie: str | None, key: bytes, *, now: float | None = None) -> Session | None:
    """The session in ``cookie``, or None when it is missing, forged, malformed or expired."""
    if not cookie or len(cookie) > 4096 or cookie.count(".") != 1:
        return None
    body, signature = cookie.split(".")
    expected = _b64(hmac.new(key, body.encode("ascii", "replace"), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode("ascii")):
        return None
    try:
        data = json.loads(_unb64(body))
        user, csrf, expires = data["u"], data["c"], int(data["e"])
        sid, fp = data.get("s", ""), data.get("f", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not all(isinstance(text, str) for text in (csrf, sid, fp)) or not (user is None or isinstance(user, str)):
        return None
    if expires < (time.time() if now is None else now):
        return None
    return Session(csrf=csrf, user=user, expires=expires, sid=sid, fp=fp)
