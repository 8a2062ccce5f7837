"""The portal as it runs: `wbtools portal serve` in its own process, on SQLite and on a real
PostgreSQL server; two uploads of one unit at once; and the server killed in the middle of
uploads, after which nothing is half-stored and every answered upload is recorded."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import select

from workbook_tools.portal import collect, db
from workbook_tools.portal.store import Portal

from .conftest import run
from .portal_support import (  # noqa: F401  (fixtures)
    ROSTER_CSV,
    SECRET,
    UNITS,
    YEAR,
    Server,
    make_portal,
    pg_server_url,
    pg_url,
    workbook,
)


def post(url: str, data: bytes, name: str = "a.xlsx", timeout: float = 60) -> httpx.Response:
    return httpx.post(
        url, files={"file": (name, data)}, headers={"accept": "application/json"}, timeout=timeout
    )


def status(server: Server) -> dict:
    answer = httpx.get(
        server.base + "/api/status", headers={"authorization": f"Bearer {SECRET}"}, timeout=30
    )
    assert answer.status_code == 200
    return {u["unit"]: u for u in answer.json()["units"]}


def sign_in(server: Server) -> httpx.Client:
    client = httpx.Client(base_url=server.base, timeout=60, follow_redirects=True)
    page = client.get("/office/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert client.post("/office/login", data={"csrf": token, "secret": SECRET}).status_code == 200
    return client


def descendants(pid: int) -> set[int]:
    """The processes under ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """None for SQLite in the data folder, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_url")


def test_cli_round_on_postgresql(tmp_path, pg_url, spec21, monkeypatch):  # noqa: F811
    """init, links and serve with --db against a real PostgreSQL server; the records are there."""
    roster = tmp_path / "units.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    folder = tmp_path / "round"
    monkeypatch.setenv("WBTOOLS_PORTAL_SECRET", SECRET)
    result = run("portal", "init", folder, "-r", roster, "-y", YEAR, "--name", "青禾县",
                 "--db", pg_url)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (folder / "portal.db").exists()
    entries = json.loads(run("portal", "links", folder, "--format", "json").output)
    assert len(entries) == 3
    server = Server(folder).start()
    try:
        token = entries[0]["url"].rsplit("/", 1)[1]
        answer = post(f"{server.base}/u/{token}", workbook(spec21, mistake=True))
        assert [f["code"] for f in answer.json()["files"][0]["findings"]] == ["R1"]
        token = entries[1]["url"].rsplit("/", 1)[1]
        assert post(f"{server.base}/u/{token}", workbook(spec21, unit=UNITS[1])).status_code == 200
        states = status(server)
        assert [states[u.name]["status"] for u in UNITS] == ["failing", "passed", "missing"]
        client = sign_in(server)
        county = client.get("/office/county.xlsx")
        client.close()
        assert county.status_code == 200 and county.content[:2] == b"PK"
    finally:
        server.stop()
    portal = Portal(folder)
    assert portal.db_url.startswith("postgresql")
    with portal.engine.connect() as conn:
        rows = conn.execute(select(db.uploads.c.sha256, db.uploads.c.status)).all()
    assert sorted(r.status for r in rows) == ["failing", "passed"]
    portal.close()
    # A second round in the same database is refused.
    again = run("portal", "init", tmp_path / "other", "-r", roster, "-y", YEAR, "--name", "x",
                "--db", pg_url)  # fmt: skip
    assert again.exit_code == 2 and "[P101]" in again.output


def two_uploads_of_one_unit_at_once(server: Server, portal: Portal, spec21, unit: int) -> None:
    """Both end up in the unit's history; the one received last counts."""
    url = server.url(portal, unit)
    bodies = [workbook(spec21, unit=UNITS[unit]), workbook(spec21, unit=UNITS[unit], mistake=True)]
    answers: list = [None, None]
    start = threading.Barrier(2)

    def send(i: int) -> None:
        start.wait()
        answers[i] = post(url, bodies[i], name=f"{i}.xlsx")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [a.status_code for a in answers] == [200, 200]
    ids = {a.json()["upload_id"] for a in answers}
    assert len(ids) == 2
    state = status(server)[UNITS[unit].name]
    assert state["uploads"] == 2
    with portal.engine.connect() as conn:
        rows = conn.execute(
            select(db.uploads)
            .where(db.uploads.c.unit_id == portal.units()[unit].id)
            .order_by(db.uploads.c.received_ns.desc(), db.uploads.c.id.desc())
        ).all()
    assert {r.id for r in rows} == ids  # both in the history
    assert state["latest_upload"]["id"] == rows[0].id  # the one received last counts
    assert state["status"] == rows[0].status


def test_two_at_once_then_killed_in_the_middle_of_uploads_loses_nothing(tmp_path, database, spec21):
    portal = make_portal(tmp_path / "portal", database)
    server = Server(portal.folder).start()
    # First, on the running server: two uploads of one unit at once.
    two_uploads_of_one_unit_at_once(server, portal, spec21, unit=1)
    url = server.url(portal)
    good = workbook(spec21)
    noise = os.urandom(1024 * 1024)  # a large file that is not a workbook: slower to store
    answered: list[dict] = []
    failed: list[Exception] = []
    stop = threading.Event()

    def keep_uploading(i: int) -> None:
        n = 0
        while not stop.is_set() and n < 40:
            n += 1
            body = good if (i + n) % 2 else noise + str((i, n)).encode()
            try:
                answer = post(url, body, name=f"{i}-{n}.xlsx", timeout=30)
            except httpx.HTTPError as exc:
                failed.append(exc)
                return
            if answer.status_code == 200:
                answered.append(answer.json())

    threads = [threading.Thread(target=keep_uploading, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(answered) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    checkers = descendants(server.proc.pid)  # the fork server and its checking processes
    assert len(checkers) >= 2
    server.kill()  # SIGKILL: no cleanup of any kind
    stop.set()
    for t in threads:
        t.join(60)
    assert answered and failed  # some uploads finished, some were cut off by the kill
    deadline = time.monotonic() + 10  # the checking processes die with the server
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in checkers):
        time.sleep(0.1)
    assert not [p for p in checkers if Path(f"/proc/{p}").exists() and not _zombie(p)]

    # Every stored original is whole: its name is the sha256 of its bytes.
    blobs = [p for p in (portal.folder / "blobs").rglob("*") if p.is_file()]
    for p in blobs:
        assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name
    # The database is consistent, and every record has its file.
    if database is None:
        conn = sqlite3.connect(portal.folder / "portal.db")
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        conn.close()
    portal.close()  # a fresh connection: nothing cached from before the kill
    portal = Portal(portal.folder)
    with portal.engine.connect() as conn:
        rows = conn.execute(select(db.uploads.c.id, db.uploads.c.sha256, db.uploads.c.size)).all()
    for _id, sha, size in rows:
        path = portal.blob_path(sha)
        assert path.is_file() and path.stat().st_size == size
    # Every upload that was answered is recorded.
    assert {a["upload_id"] for a in answered} <= {r[0] for r in rows}

    # Restarted, the portal removes what was half received and goes on.
    again = Server(portal.folder, "--workers", "0").start()  # (checking in-process: quick)
    try:
        assert list((portal.folder / "tmp").glob("*.part")) == []
        assert sum(u["uploads"] for u in status(again).values()) == len(rows)
        assert post(url.replace(server.base, again.base), good).status_code == 200
    finally:
        again.stop()
        portal.close()


def test_a_batch_of_records_is_one_statement_and_each_row_gets_its_own_id(tmp_path, database):
    """The recorder writes a batch's rows in one INSERT ... RETURNING (on both databases): each
    upload is answered with the id of its own row, in order."""
    from workbook_tools.portal import collect, receiving

    portal = make_portal(tmp_path / "portal", database)
    unit = portal.units()[0]
    sha, size = collect.store_original(portal, [b"x"], 10)
    report = collect.verdict(portal, unit, sha, "a")
    rows = [
        collect.record_row(portal, unit, report, sha, size, f"{i}.xlsx", time.time_ns())
        for i in range(12)
    ]
    recorder = receiving.Recorder(portal)
    try:
        ids = recorder._insert_rows(rows)
    finally:
        recorder.close()
    with portal.engine.connect() as conn:
        names = dict(conn.execute(select(db.uploads.c.id, db.uploads.c.filename)).all())
    portal.close()
    assert len(set(ids)) == 12 and [names[i] for i in ids] == [f"{i}.xlsx" for i in range(12)]


# A process that receives one upload through the portal's own intake (stage, check, settle,
# record) and is killed (SIGKILL, from inside) at a given point of making it durable.
_KILLED_AT = r"""
import asyncio, os, signal, sys, time
from pathlib import Path
from workbook_tools.portal import collect, receiving
from workbook_tools.portal.store import Portal

folder, db_url, point, body = Path(sys.argv[1]), sys.argv[2] or None, sys.argv[3], sys.argv[4]
portal = Portal(folder, db_url)
unit = portal.units()[0]
intake = receiving.Intake(portal, jobs=0)
real_syncfs, real_insert = collect.SYNCFS, intake.recorder._insert_rows
calls = []

def syncfs(fd):
    calls.append(fd)
    if point == f"syncfs{len(calls)}":
        os.kill(os.getpid(), signal.SIGKILL)
    return real_syncfs(fd)

def insert_rows(rows):
    ids = real_insert(rows)
    if point == "committed":
        os.kill(os.getpid(), signal.SIGKILL)
    return ids

collect.SYNCFS = syncfs
intake.recorder._insert_rows = insert_rows
staged = collect.stage(portal, [Path(body).read_bytes()], 10**7)
asyncio.run(intake.receive(unit, staged, "a.xlsx", received_ns=time.time_ns()))
print("not killed")
"""


@pytest.mark.skipif(collect.SYNCFS is None, reason="no syncfs on this system")
@pytest.mark.parametrize("point", ["syncfs1", "syncfs2", "committed"])
def test_killed_at_each_step_of_making_an_upload_durable(tmp_path, database, spec21, point):
    """Killed while its bytes are written but not yet on disk (the first syncfs), while they
    have their name but it is not yet on disk (the second), or right after its record is
    committed: never a record without its whole file, never a name for half a file; the next
    start removes what was half received, and the same bytes sent again are kept and
    recorded."""
    import subprocess
    import sys

    portal = make_portal(tmp_path / "portal", database)
    data = workbook(spec21)
    body = tmp_path / "body.xlsx"
    body.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_AT, str(portal.folder), database or "", point, str(body)],
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    blob = portal.blob_path(sha)
    staged = list((portal.folder / "tmp").glob("*.part"))
    with portal.engine.connect() as conn:
        rows = conn.execute(select(db.uploads.c.sha256, db.uploads.c.size)).all()
    if point == "syncfs1":  # its bytes written into tmp/, nothing named, nothing recorded
        assert not blob.exists() and len(staged) == 1 and staged[0].read_bytes() == data
        assert rows == []
    elif point == "syncfs2":  # named (its bytes on disk), not recorded
        assert blob.read_bytes() == data and rows == []
    else:  # recorded, and its file whole
        assert blob.read_bytes() == data and rows == [(sha, len(data))]
    for p in (portal.folder / "blobs").rglob("*"):
        assert p.is_dir() or hashlib.sha256(p.read_bytes()).hexdigest() == p.name

    again = Server(portal.folder, "--workers", "0").start()
    try:
        assert list((portal.folder / "tmp").glob("*.part")) == []  # removed at start
        answer = post(again.url(portal), data)
        assert answer.status_code == 200 and answer.json()["sha256"] == sha
        assert status(again)[UNITS[0].name]["uploads"] == len(rows) + 1
    finally:
        again.stop()
    portal = Portal(portal.folder)
    assert portal.blob_path(sha).read_bytes() == data
    portal.close()


def _slow_request(port: int, path: str, head: bytes, body: bytes, pace: float | None):
    """Send ``head`` and the first half of ``body`` to the server, then one byte every
    ``pace`` seconds (None: nothing more), never the rest; return (seconds until the server
    answered, the answer read to its end: the server closes the connection)."""
    import socket

    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head + body[: len(body) // 2])
        s.settimeout(pace or 30)
        answer, sent = b"", len(body) // 2
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:  # nothing yet: one more byte (a slowloris keeps it alive)
                if pace is None or sent >= len(body) - 1:
                    raise
                s.sendall(body[sent : sent + 1])
                sent += 1
                continue
            if not chunk:
                return time.monotonic() - start, answer
            answer += chunk


def _multipart(name: str, data: bytes) -> tuple[bytes, bytes]:
    boundary = "slowloris-boundary"
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return f"multipart/form-data; boundary={boundary}".encode(), body


def test_a_client_sending_its_upload_too_slowly_is_cut_off_with_p109(tmp_path, spec21):
    """A slowloris client (the body trickling in a byte at a time, or stopping half-way) no
    longer holds its connection for ever: past --body-timeout the server answers 408 with P109
    (the check's JSON, or the unit's page) and closes the connection; nothing of the upload is
    kept, and other uploads go on."""
    from urllib.parse import urlsplit

    portal = make_portal(tmp_path / "portal", None)
    server = Server(portal.folder, "--workers", "0", "--body-timeout", "2").start()
    try:
        path = urlsplit(server.url(portal)).path
        content_type, body = _multipart("slow.xlsx", workbook(spec21))

        def head(accept: str) -> bytes:
            return (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n"
                f"Content-Type: {content_type.decode()}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()

        took, answer = _slow_request(server.port, path, head("application/json"), body, 0.3)
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 408"), answer[:300]
        assert 1.5 < took < 15
        document = json.loads(rest.partition(b"\r\n\r\n")[2])
        finding = document["files"][0]["findings"][0]
        assert finding["code"] == "P109" and "2 秒" in finding["message"]
        # Stopped half-way (no more bytes at all): the same, on the unit's page.
        took, answer = _slow_request(server.port, path, head("text/html"), body, None)
        assert answer.startswith(b"HTTP/1.1 408") and 1.5 < took < 15
        assert "没有在 2 秒内传完".encode() in answer and b"connection: close" in answer.lower()
        # The sign-in form is bounded too (through the app's handler).
        login = (
            b"POST /office/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\n"
        )
        took, answer = _slow_request(server.port, "/office/login", login, b"x" * 400, 0.3)
        assert answer.startswith(b"HTTP/1.1 408") and 1.5 < took < 15
        assert "没有在 2 秒内传完".encode() in answer
        # Nothing of them kept; an upload at a normal pace goes through.
        assert list((portal.folder / "tmp").iterdir()) == []
        assert [p for p in (portal.folder / "blobs").rglob("*") if p.is_file()] == []
        answer = post(server.url(portal), workbook(spec21))
        assert answer.status_code == 200 and answer.json()["upload_id"]
    finally:
        server.stop()
        portal.close()


def test_a_slow_but_steady_upload_passes_and_a_stalled_one_is_cut_at_the_pause_bound(
    tmp_path, spec21
):
    """The pause bound is separate from the total: with 30 s for the body and at most 1 s
    between its pieces, a body trickling in for ~3 s is taken, one that stops half-way is cut
    after about a second (a real uvicorn server on a loopback port, raw sockets)."""
    import uvicorn

    from workbook_tools.portal.web import Config, create_app

    from .portal_support import free_port

    portal = make_portal(tmp_path / "portal", None)
    port = free_port()
    app = create_app(portal, Config(workers=0, body_seconds=30, body_idle=1))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        path = "/u/" + portal.links()[0]["url"].rsplit("/", 1)[1]
        content_type, body = _multipart("steady.xlsx", workbook(spec21))
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            f"Content-Type: {content_type.decode()}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(head)
            pieces = [
                body[i : i + len(body) // 10 + 1] for i in range(0, len(body), len(body) // 10 + 1)
            ]
            for piece in pieces:  # ~3 s in all, never a pause of a second
                s.sendall(piece)
                time.sleep(0.3)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["upload_id"]
        took, answer = _slow_request(port, path, head, body, None)
        assert answer.startswith(b"HTTP/1.1 408") and 0.8 < took < 10
        assert b'"P109"' in answer
    finally:
        server.should_exit = True
        thread.join(30)
        portal.close()
