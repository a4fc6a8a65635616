"""Free loopback ports for servers a test starts (fakes, ``firebreak`` processes, PostgreSQL)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    The port is released before the caller binds it, so another process could take it in
    between; on a test machine that window is small enough, and a server that fails to bind
    fails its test loudly rather than hanging.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
