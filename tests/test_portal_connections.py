"""`wbtools portal serve` holds a bounded number of connections, and each must send a request's
headers in time: a client opening connections that send nothing (or headers a byte at a time)
cannot take the server's file descriptors from the units (a real server process, real sockets)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest

from .portal_support import Server, make_portal, workbook

LATE = 15  # seconds: far past any limit set below, so a slow machine cannot fail a test


def _is_open(s: socket.socket, read: dict | None = None) -> bool:
    """Whether the server still holds ``s`` open; what it sent is kept in ``read``."""
    s.setblocking(False)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return False
            if read is not None:
                read[s] = read.get(s, b"") + chunk
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def _until_closed(s: socket.socket, pace: float | None = None, trickle: bytes = b"") -> tuple:
    """Read ``s`` until the server closes it, sending one byte of ``trickle`` every ``pace``
    seconds meanwhile; (seconds taken, everything read)."""
    start = time.monotonic()
    s.settimeout(pace or LATE)
    answer = b""
    while True:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            if pace is None or not trickle or time.monotonic() - start > LATE:
                raise
            s.sendall(trickle[:1])
            trickle = trickle[1:]
            continue
        except ConnectionResetError:
            return time.monotonic() - start, answer
        if not chunk:
            return time.monotonic() - start, answer
        answer += chunk


@pytest.fixture
def portal(tmp_path):
    return make_portal(tmp_path / "portal")


def test_headers_must_arrive_in_time(portal):
    """A connection sending nothing, one sending its headers a byte at a time, and a kept-alive
    one whose next request trickles in are each answered 408 and closed after --header-timeout;
    normal requests go on."""
    server = Server(portal.folder, "--workers", "0", "--header-timeout", "2").start()
    try:
        port = server.port
        silent = socket.create_connection(("127.0.0.1", port))
        took, answer = _until_closed(silent)
        assert 1.5 < took < LATE and answer.startswith(b"HTTP/1.1 408"), (took, answer)

        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        took, answer = _until_closed(slow, 0.3, b"X-Slow: " + b"a" * 200)
        assert 1.5 < took < LATE and answer.startswith(b"HTTP/1.1 408"), (took, answer)

        kept = socket.create_connection(("127.0.0.1", port), timeout=LATE)
        kept.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first:  # the first answer's head, then its body
            chunk = kept.recv(65536)
            assert chunk, first
            first += chunk
        assert first.startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET / HTTP/1.1\r\n")  # the next request: its headers never end
        took, answer = _until_closed(kept, 0.3, b"X-Slow: " + b"a" * 200)
        assert 1.5 < took < LATE and b"HTTP/1.1 408" in answer, (took, answer[-200:])

        assert httpx.get(server.base + "/", timeout=LATE).status_code == 200
    finally:
        server.stop()


def test_past_the_connection_limit_the_longest_waiting_is_closed(portal):
    """Thirty silent connections against --max-connections 10: the oldest are closed as new ones
    come (408), the newest stay, and a unit's request still gets its answer."""
    server = Server(
        portal.folder, "--workers", "0", "--header-timeout", "120", "--max-connections", "10"
    ).start()
    socks = []
    try:
        for _ in range(30):
            socks.append(socket.create_connection(("127.0.0.1", server.port)))
            time.sleep(0.01)  # one after another: "oldest" is well defined
        assert httpx.get(server.base + "/", timeout=LATE).status_code == 200
        read: dict = {}
        deadline = time.monotonic() + LATE
        while sum(_is_open(s, read) for s in socks) > 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        still = [_is_open(s, read) for s in socks]
        assert sum(still) <= 10, still
        assert not any(still[:15]) and still[-1], still  # the oldest went first
        assert all(
            read[s].startswith(b"HTTP/1.1 408") for s, o in zip(socks, still, strict=True) if not o
        )
    finally:
        for s in socks:
            s.close()
        server.stop()


def test_when_every_connection_is_mid_request_a_new_one_is_refused(portal, spec21):
    """Connections in the middle of an upload are never cut to make room: a new connection past
    the limit is answered 503 and closed; once the uploads are gone, requests are answered."""
    server = Server(
        portal.folder, "--workers", "0", "--max-connections", "3", "--body-timeout", "120"
    ).start()
    path = urlsplit(server.url(portal)).path
    body = workbook(spec21)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {len(body) + 200}\r\n\r\n"
    ).encode()
    busy = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(head + b"--b\r\n")  # the headers whole; the body has begun
            busy.append(s)
        time.sleep(0.5)  # the server has read every head
        newcomer = socket.create_connection(("127.0.0.1", server.port))
        newcomer.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        _, answer = _until_closed(newcomer)
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert all(map(_is_open, busy))
        for s in busy:
            s.close()
        deadline = time.monotonic() + LATE
        while time.monotonic() < deadline:
            try:
                if httpx.get(server.base + "/", timeout=LATE).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("no answer after the uploads were gone")
    finally:
        for s in busy:
            s.close()
        server.stop()


def test_the_limit_fits_the_files_the_process_may_open():
    """The connection limit is lowered to what the open-file limit allows (with room for the
    database and the checking processes), after raising the soft limit as far as the hard one
    lets it (in a child process: a lowered hard limit cannot be raised again)."""
    probe = (
        "import resource, sys\n"
        "from workbook_tools.portal.connections import usable_connections, RESERVED_FILES\n"
        "soft, hard = (int(x) for x in sys.argv[1:3])\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))\n"
        "got = usable_connections(int(sys.argv[3]))\n"
        "print(got, resource.getrlimit(resource.RLIMIT_NOFILE)[0], RESERVED_FILES)\n"
    )

    def usable(soft: int, hard: int, wanted: int) -> tuple[int, int, int]:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(soft), str(hard), str(wanted)],
            capture_output=True,
            text=True,
            check=True,
        )
        return tuple(int(x) for x in done.stdout.split())

    assert usable(300, 300, 1000) == (100, 300, 200)  # 300 less the reserve
    assert usable(300, 300, 50) == (50, 300, 200)
    assert usable(300, 5000, 1000) == (1000, 1200, 200)  # the soft limit raised
    assert usable(300, 1000, 1000) == (800, 1000, 200)  # as far as the hard one lets it


@pytest.mark.parametrize("implementation", ["h11", "httptools"])
def test_both_http_implementations_are_guarded(implementation):
    """The limits hold on either of uvicorn's HTTP parsers (httptools is the one installed with
    wbtools; h11 is uvicorn's fallback): a silent connection and a kept-alive one whose next
    headers trickle are answered 408; a full server makes room."""
    import asyncio
    import threading

    import uvicorn

    from workbook_tools.portal.connections import protocol

    if implementation == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    else:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", http=protocol(2, 4, base)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + LATE
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        silent = socket.create_connection(("127.0.0.1", port))
        took, answer = _until_closed(silent)
        assert 1.5 < took < LATE and answer.startswith(b"HTTP/1.1 408"), (took, answer)
        kept = socket.create_connection(("127.0.0.1", port), timeout=LATE)
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while not first.endswith(b"\r\n\r\nok"):
            chunk = kept.recv(65536)
            assert chunk, first
            first += chunk
        kept.sendall(b"GET / HTTP/1.1\r\n")
        took, answer = _until_closed(kept, 0.3, b"X-Slow: " + b"a" * 200)
        assert 1.5 < took < LATE and answer.startswith(b"HTTP/1.1 408"), (took, answer)
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        read: dict = {}
        while sum(_is_open(s, read) for s in socks) > 4 and time.monotonic() < deadline + LATE:
            time.sleep(0.05)
        assert sum(_is_open(s, read) for s in socks) <= 4 and _is_open(socks[-1])
        for s in socks:
            s.close()
    finally:
        server.should_exit = True
        thread.join(LATE)
