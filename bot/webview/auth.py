"""Who is asking: a user named by the trusted sign-in proxy, or a signed-in session.

The proxy header is believed only when the connection itself comes from one of
FIREBREAK_WEB_TRUSTED_PROXIES (the peer address, never a forwarded one: uvicorn's
proxy-header rewriting is off, see bot/http/server.py), so nobody can name themselves by
sending the header directly. A session counts only while the token sign-in is configured,
and only under the token it was signed in with (its fingerprint is in the cookie), so
changing FIREBREAK_WEB_TOKEN signs everyone out even when the session secret stays.
"""

from __future__ import annotations

import hashlib
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

    @property
    def fingerprint(self) -> str:
        """Names the current sign-in token without revealing it (keyed by the session key)."""
        if not self.token:
            return ""
        return hmac.new(self.key, b"firebreak-web-token\x00" + self.token.encode(), hashlib.sha256).hexdigest()[:32]

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


def client_address(request: Request, config: AuthConfig) -> str:
    """Who is connecting, for counting sign-in attempts: the peer, or, when the peer is a
    trusted proxy, the address it appended last to ``X-Forwarded-For`` (the one it saw);
    an IPv6 client by its /64 (``counted_as``).

    Every ``X-Forwarded-For`` line counts, in order: some proxies (HAProxy's ``option
    forwardfor``) add a line of their own instead of appending to the client's, and the
    client's line comes first. Reading the first line only would count an address the client
    chose, a new one per guess, and the limit would never be reached.
    """
    peer = request.client.host if request.client else ""
    if from_trusted_proxy(request, config):
        forwarded = ",".join(request.headers.getlist("x-forwarded-for")).split(",")[-1].strip()
        try:
            return counted_as(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    try:
        return counted_as(ipaddress.ip_address(peer))
    except ValueError:
        return peer


#: IPv6 prefix that one client is counted by: a single host is normally given a whole /64.
IPV6_CLIENT_PREFIX = 64


def counted_as(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The name one client's sign-in attempts are counted under.

    An IPv4 address is itself. An IPv6 client is counted by its /64: any host on one
    gets the whole prefix (2^64 addresses) and can pick a fresh address for every guess, so
    counting single addresses would never reach the limit. An IPv4-mapped IPv6 address
    (``::ffff:198.51.100.7``, what a dual-stack socket reports) is the IPv4 client it maps.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


def proxy_user(request: Request, config: AuthConfig) -> str | None:
    """The user the trusted proxy names, or None.

    A request carrying the header twice names nobody: one of the two came from the browser
    (a proxy that adds its header instead of replacing the browser's), and which one the
    proxy meant cannot be told; reading the first would sign in as whoever the browser said.
    """
    if not config.user_header or not from_trusted_proxy(request, config):
        return None
    given = request.headers.getlist(config.user_header)
    if len(given) != 1:
        return None
    value = " ".join(given[0].split())
    return value[:MAX_USER] or None


def session_of(request: Request, config: AuthConfig) -> Session | None:
    return sessions.decode(request.cookies.get(sessions.COOKIE), config.key)


def signed_in_session(request: Request, config: AuthConfig) -> Session | None:
    """The browser's session when it is signed in under the current token (not yet checked
    against the sign-outs: that needs the database, see ``WebContext.signed_in``)."""
    session = session_of(request, config)
    if not config.token or session is None or not session.user or not session.sid:
        return None
    if not hmac.compare_digest(session.fp.encode(), config.fingerprint.encode()):
        return None
    return session
