"""A throw-away certificate authority so fakes can serve HTTPS on loopback.

The official ``pagerduty`` client refuses any base URL that is not ``https://``. Rather than
patch the client, the PagerDuty fake serves real TLS with a certificate for ``127.0.0.1``
issued by a CA created per process (``trustme``). Clients trust it through
:meth:`LoopbackCA.client_context` or, without code changes, ``SSL_CERT_FILE=ca.ca_file``
(honoured by httpx/httpx2, aiohttp's default context and ``requests``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import ssl
import tempfile
import threading

import trustme

_HOSTS = ("127.0.0.1", "localhost", "::1")


class LoopbackCA:
    """A CA plus one server certificate for the loopback names."""

    def __init__(self) -> None:
        self._ca = trustme.CA(organization_name="Firebreak test fakes")
        self._cert = self._ca.issue_cert(*_HOSTS)
        self._dir = tempfile.mkdtemp(prefix="firebreak-ca-")
        self.ca_file = os.path.join(self._dir, "ca.pem")
        """PEM file of the CA certificate: point ``SSL_CERT_FILE`` at it."""
        self._ca.cert_pem.write_to_path(self.ca_file)
        atexit.register(shutil.rmtree, self._dir, True)

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for a loopback server presenting the issued certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts only this CA (hostname checking on)."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        return ctx


_shared: LoopbackCA | None = None
_lock = threading.Lock()


def loopback_ca() -> LoopbackCA:
    """The process-wide CA (created on first use; key generation takes a moment)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = LoopbackCA()
        return _shared
