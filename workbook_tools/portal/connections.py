"""Limits on connections: a request's headers arrive in time, and the server holds a bounded
number of connections.

uvicorn times out a kept-alive connection only between requests: a connection that sends
nothing, or its request line and headers a byte at a time, is held for ever. A single client
could open thousands of them, take every file descriptor the server may have, and leave no room
for a unit's upload. (The request body has its own bound in the app: ``BodyDeadline``, P109.)

So every connection must finish a request's headers within ``header_seconds`` of being opened
(or of its previous answer, when kept alive), or it is answered 408 and closed; and past
``max_connections`` open at once, the connection that has waited longest for its headers is
closed to make room (one that is in the middle of a request is never cut for this; when every
connection is, the new one is answered 503 and closed).
"""

from __future__ import annotations

import asyncio
import contextlib

HEADER_SECONDS = 20.0  # browsers send a request's headers at once; 20 s covers a bad mobile line
MAX_CONNECTIONS = 1000
RESERVED_FILES = 200  # descriptors kept for the database, the checking processes, uploads

TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
FULL = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def protocol(header_seconds: float, max_connections: int, base=None) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``base`` (default: httptools where it is installed, else h11)
    with both limits."""
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol as base

    class Guarded(base):  # type: ignore[misc, valid-type]
        _header_timer: asyncio.TimerHandle | None = None
        _header_cycle: object = None
        _waiting_since = 0.0

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()
            if len(self.connections) > max_connections:
                _make_room(self.connections, self)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # A new request cycle exists once its headers are complete.
            if self._header_timer is not None and self.cycle is not self._header_cycle:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Kept alive and no next request yet: its headers get the same time.
            if (
                not self.transport.is_closing()
                and self._header_timer is None
                and self.cycle is not None
                and self.cycle.response_complete
            ):
                self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_cycle = self.cycle
            self._waiting_since = self.loop.time()
            self._header_timer = self.loop.call_later(header_seconds, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.cycle is self._header_cycle:
                _refuse(self.transport, TIMED_OUT)

    return Guarded


def _make_room(connections, newcomer) -> None:
    """Close the connection that has waited longest for its headers (the newcomer itself when
    every other one is in the middle of a request)."""
    waiting = [
        c
        for c in connections
        if c is not newcomer
        and getattr(c, "_header_timer", None) is not None
        and not c.transport.is_closing()
    ]
    if waiting:
        oldest = min(waiting, key=lambda c: c._waiting_since)
        oldest._disarm()
        _refuse(oldest.transport, TIMED_OUT)
    else:
        newcomer._disarm()
        _refuse(newcomer.transport, FULL)


def _refuse(transport, answer: bytes) -> None:
    if transport.is_closing():
        return
    with contextlib.suppress(OSError, RuntimeError):
        transport.write(answer)
    transport.close()


def usable_connections(wanted: int) -> int:
    """``wanted``, or fewer where the process may not open that many files: the soft limit on
    open files is raised towards the hard one first (a systemd service often starts at 1024)."""
    try:
        import resource
    except ImportError:  # not a Unix: no such limit to read
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < need:
        raised = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_FILES))


def serve(app, host: str, port: int, header_seconds: float, max_connections: int) -> None:
    """Run ``app`` with uvicorn behind both limits."""
    import uvicorn

    limit = usable_connections(max_connections)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        http=protocol(header_seconds, limit),
    )
