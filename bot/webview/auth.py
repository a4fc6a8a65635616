"""Who is asking: a user named by the trusted sign-in proxy, or a signed-in session.

The proxy header is believed only when the connection itself comes from one of
FIREBREAK_WEB_TRUSTED_PROXIES (the peer address, never a forwarded one: uvicorn's
proxy-header rewriting is off, see bot/http/server.py), so nobody can name themselves by
sending the header directly. A session counts only while the token sign-in is configured.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request

from bot.webview import sessions
from bot.webview.sessions import Session

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Longest user name taken from the proxy header (longer is cut, not refused).
MAX_USER = 120


@dataclass(frozen=True)
class AuthConfig:
    token: str | None
    user_header: str | None
    trusted: tuple[Network, ...]
    key: bytes
    #: Mark cookies ``Secure`` (the public address is https).
    secure_cookies: bool = False

    @classmethod
    def build(
        cls,
        *,
        token: str | None,
        user_header: str | None,
        trusted: Sequence[str],
        secret: str | None,
        public_url: str | None,
    ) -> AuthConfig:
        return cls(
            token=token,
            user_header=user_header,
            trusted=tuple(ipaddress.ip_network(network, strict=False) for network in trusted),
            key=sessions.derive_key(secret=secret, token=token),
            secure_cookies=bool(public_url and public_url.startswith("https://")),
        )

    @property
    def enabled(self) -> bool:
        """Some way to sign in is configured; otherwise the web view is closed to all."""
        return bool(self.token or (self.user_header and self.trusted))

    def token_matches(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), str(self.token).encode())


def from_trusted_proxy(request: Request, config: AuthConfig) -> bool:
    client = request.client
    if client is None or not config.trusted:
        return False
    try:
        peer = ipaddress.ip_address(client.host)
    except ValueError:
        return False
    return any(peer in network for network in config.trusted)


def proxy_user(request: Request, config: AuthConfig) -> str | None:
    if not config.user_header or not from_trusted_proxy(request, config):
        return None
    value = " ".join(request.headers.get(config.user_header, "").split())
    return value[:MAX_USER] or None


def session_of(request: Request, config: AuthConfig) -> Session | None:
    return sessions.decode(request.cookies.get(sessions.COOKIE), config.key)


def user_of(request: Request, config: AuthConfig) -> str | None:
    """The signed-in user, or None (then nothing but the sign-in page is served)."""
    user = proxy_user(request, config)
    if user is not None:
        return user
    session = session_of(request, config)
    if config.token and session is not None and session.user:
        return session.user
    return None
