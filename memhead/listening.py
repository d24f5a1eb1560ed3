"""The sockets ``memhead serve`` listens on, bound before anything else is opened, so that a
port in use or an address of another machine stops it with one line."""

from __future__ import annotations

import errno
import socket

from memhead.errors import ConfigError


def listen(host: str, port: int, *, host_from: str, port_from: str) -> list[socket.socket]:
    """Sockets bound to every address of ``host`` at ``port``, as asyncio (and so uvicorn)
    would bind them, for ``uvicorn.Server.run(sockets=...)``. Bound first, so that a port in
    use stops ``serve`` before anything is opened. ``host_from`` and ``port_from`` name where
    the values came from (a variable or an option), for the message."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"{host_from}={host}: cannot resolve {host!r} ({exc.strerror})") from exc
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ConfigError(_bind_problem(exc, host, port, host_from, port_from)) from exc
    return sockets


def _bind_problem(exc: OSError, host: str, port: int, host_from: str, port_from: str) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{port_from}={port}: {host}:{port} is already in use (another memhead?): stop "
            "that process or choose another port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{host_from}={host}: not an address of this machine; listen on 0.0.0.0 (every "
            "address) or 127.0.0.1 (this machine only)"
        )
    if exc.errno == errno.EACCES:
        return f"{port_from}={port}: not allowed to listen on port {port} ({exc.strerror})"
    return f"{host_from}={host}, {port_from}={port}: cannot listen: {exc.strerror}"
