"""The portal under load: N uploads sent at once (200 in the full run) to `wbtools portal serve`
on 127.0.0.1, each timed from sending to its verdict, against `wbtools check` of the same files
in one process (``check.check_file`` on each, timed one by one).

2N units each have their own workbook (different bytes). The first N are sent one at a time,
then the other N all at once (the burst: every upload new bytes, as when the units of a round
send their reports), then the first N again all at once (``again_*``: bytes the portal keeps
already, as when a unit sends the same file twice).

Reported: throughput (uploads per second against files checked per second) and the time to a
verdict at p50 and p95 under the burst; then what the portal itself costs beside the check, by
CPU time (wall times on a shared machine follow the load):

- the check: ``check.check_file`` of the same files in this process, CPU per file, measured in
  three slices (the first N before the uploads, the other N between the one-at-a-time uploads
  and the burst and again after it) so that it sees the same load as the portal does
  (``check_cpu_ms``).
- the portal: the CPU of the server's whole process tree per upload, each process's CPU clock
  (the kernel's run time of every thread, those ended included, to the nanosecond; /proc's
  10 ms ticks where there is no such clock), read once the server has gone quiet after the
  last answer, so work it does after answering is counted): the server process (HTTP, form,
  hashing, storage, database, answer) and the checking processes it feeds
  (the check itself plus a message each way; ``checking_cpu_ms_per_upload``).
- **the portal's own CPU** = the server process's CPU per upload: its HTTP, form, hashing,
  storage and database work, and feeding the checking processes and reading their answers
  (``portal_cpu_ms_per_upload``). Aim: at most half the check's CPU (``portal_cpu_to_check``
  <= 0.5) in the burst, the load this measures; one upload at a time too
  (``single_portal_cpu_to_check``), where no work is shared between uploads, and for the
  burst of bytes already kept (``again_portal_cpu_to_check``).
- stricter, the whole tree less the check (``tree_less_check_to_check``): this also charges the
  portal with what checking in a separate process costs beyond checking in one hot loop (a
  message each way, and caches gone cold between uploads: a bare loop feeding the same worker
  processes shows the same excess, so it is the checking processes', not the server's).
- the kernel threads: every kernel thread's CPU over the burst, per upload
  (``kernel_threads_cpu_ms_per_upload``, the floor's too): the server makes its uploads durable
  with one ``syncfs`` per step of a batch, whose writing the kernel's write-back workers do
  while the server waits, so that work is shown here rather than hidden (it also holds whatever
  else the machine writes meanwhile: an upper bound).
- the client is not counted: it is this process (its CPU is reported, ``client_cpu_ms_per_upload``);
  it sends requests built beforehand over plain sockets and reads each answer whole.
- the floor: a bare ASGI endpoint under the same uvicorn (httptools, uvloop) receiving the same
  bodies and making each upload durable on its own, nothing else: the body written into a file
  while hashed, the file flushed, linked under its digest, its folder flushed, a row committed
  to SQLite (WAL, synchronous=FULL), a small JSON answer (``floor_cpu_ms_per_upload``, one at a
  time and in the burst). The portal no longer flushes each upload on its own (one syncfs per
  step of a batch), so in a burst it may cost less than this floor; what it costs beyond HTTP
  is its form parsing, checking hand-off, verdict, record and pages' framework.
- HTTP alone: the same endpoint storing nothing (each body read and hashed, a small JSON
  answer), in the burst (``http_cpu_ms_per_upload``): the part of an upload's cost no storage
  scheme can remove.

All traffic goes to the loopback address; the number of requests and their timeouts are
bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

WBTOOLS = [sys.executable, "-m", "workbook_tools"]
HOST = "127.0.0.1"  # never anything but this machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _clock(pid: int) -> float | None:
    """CPU seconds of process ``pid`` (every thread, those ended included) to the nanosecond:
    its process CPU clock, as ``clock_getcpuclockid`` makes it (the kernel's sum of the run
    time of all its threads); None where there is no such clock (then /proc's 10 ms ticks)."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2) / 1e9  # CPUCLOCK_SCHED of the process
    except (OSError, AttributeError):
        return None


def _cpu(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system, every thread) of ``pid`` itself and of every process under
    it: each process's CPU clock (ns), or /proc's ticks where it has none."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))

    def of(p: int) -> float:
        precise = _clock(p)
        if precise is not None:
            return precise
        return (int(stats[p][11]) + int(stats[p][12])) / _TICK if p in stats else 0.0

    below, todo = 0.0, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        below += of(p)
        todo.extend(children.get(p, []))
    return of(pid), below


def _kernel_threads() -> float:
    """CPU seconds of every kernel thread on the machine (those under kthreadd: the write-back
    workers among them), from /proc's per-thread run time in ns; 0.0 without it. What the
    kernel does for the server's flushes outside its own process (a syncfs waits while
    workers write) shows here, with whatever else the machine writes meanwhile."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[1] == "2":
                    total += int((entry / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _request(url: str, body_file: Path) -> bytes:
    """One upload as the bytes on the wire: a multipart POST of ``body_file`` asking for JSON.
    Built before anything is timed, so the client's own work while timing is sending and
    reading bytes (on a real network the clients' work is on their own machines, not on the
    server's cores)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    boundary = os.urandom(12).hex()
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="file"; filename="{body_file.name}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            body_file.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _answered(raw: bytes) -> None:
    """The answer is a 200 whose JSON names the upload's id (or this raises)."""
    import json

    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    if not json.loads(body)["upload_id"]:
        raise RuntimeError("no upload id")


def _send(port: int, request: bytes, timeout: float) -> None:
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    _answered(b"".join(chunks))


async def _burst(port: int, requests: list[bytes], timeout: float) -> tuple[float, list[float]]:
    async def one(request: bytes) -> float:
        start = time.perf_counter()
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        writer.write(request)
        raw = await asyncio.wait_for(reader.read(), timeout)  # to EOF: Connection: close
        writer.close()
        _answered(raw)
        return time.perf_counter() - start

    start = time.perf_counter()
    times = await asyncio.gather(*(one(r) for r in requests))
    return time.perf_counter() - start, list(times)


def _start(cmd: list[str], base: str, log_path: Path) -> subprocess.Popen:
    import httpx2 as httpx

    log = open(log_path, "wb")  # noqa: SIM115 (closed by the caller through _stop)
    server = subprocess.Popen(cmd, stdout=log, stderr=log)
    server.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/", timeout=1)
            return server
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                _stop(server)
                raise RuntimeError(f"{cmd[1:4]} did not start") from None
            time.sleep(0.1)


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)
    server.log.close()  # type: ignore[attr-defined]


def _settled(pid: int) -> tuple[float, float]:
    """``_cpu(pid)`` once the server has finished what it does after its last answer (removing
    staged names, ...): read again until it stops growing (by less than 0.2 ms in 0.1 s: an
    idle server's timers), so no work is left uncounted."""
    last = _cpu(pid)
    for _ in range(40):
        time.sleep(0.1)
        now = _cpu(pid)
        if sum(now) - sum(last) < 0.0002:
            break
        last = now
    return last


def _phases(port: int, pid: int, requests: list[bytes]) -> dict:
    """The uploads one at a time: times, and CPU seconds per upload of the server process, of
    the processes under it, and of this client."""
    k = len(requests)
    out: dict = {}
    single = []
    own, below = _cpu(pid)
    client = time.process_time()
    for request in requests:
        t = time.perf_counter()
        _send(port, request, 60)
        single.append(time.perf_counter() - t)
    client = time.process_time() - client
    own2, below2 = _settled(pid)
    out["single"] = single
    out["single_cpu"] = ((own2 - own) / k, (below2 - below) / k, client / k)
    return out


def _burst_phase(port: int, pid: int, requests: list[bytes]) -> tuple[float, list[float], tuple]:
    n = len(requests)
    kernel = _kernel_threads()
    own, below = _cpu(pid)
    client = time.process_time()
    wall, times = asyncio.run(_burst(port, requests, timeout=600))
    client = time.process_time() - client
    own2, below2 = _settled(pid)
    kernel = _kernel_threads() - kernel
    return wall, times, ((own2 - own) / n, (below2 - below) / n, client / n, kernel / n)


def _bare(kind: str, b, warm: bytes, requests: list[bytes]) -> tuple[dict, list[float], tuple]:
    """A bare endpoint of this file (``floor`` or ``http``) as the portal was measured: warmed,
    the first half of ``requests`` one at a time, then the other half at once; (the one at a
    time phase, the burst's times, the burst's CPU)."""
    n = len(requests) // 2
    port = _free_port()
    server = _start(
        [sys.executable, str(Path(__file__).resolve()), kind, str(b.folder / kind), str(port)],
        f"http://{HOST}:{port}",
        b.folder / f"{kind}-server.log",
    )
    try:
        _send(port, warm, 60)
        phases = _phases(port, server.pid, requests[:n])
        _, times, burst_cpu = _burst_phase(port, server.pid, requests[n:])
    finally:
        _stop(server)
    return phases, times, burst_cpu


AIM = 0.5  # the portal's own CPU per upload, at most this times the check's, in the burst


def run(b, n: int | None = None) -> dict:
    """The measure: ``b`` is the harness's Bench (a temporary folder and generated workbooks)."""
    from workbook_tools import check
    from workbook_tools.portal.store import Portal
    from workbook_tools.roster import Unit

    n = n or b.size(40, 200)
    # 2n units, each with its own workbook: the first n are sent one at a time, the other n
    # all at once; then the first n again at once (bytes already kept: a unit sending the same
    # file again).
    files = sorted(b.workbooks(2 * n, distinct_units=True).iterdir())[: 2 * n]
    units = [Unit(f"测试单位{i:05d}", f"{i:05d}") for i in range(2 * n)]
    first, second = files[:n], files[n:]

    # The reference: wbtools check of the same files in one process, file by file; its CPU per
    # file is taken in three slices around the portal's runs (the same load as they see).
    for p in files[:5]:
        check.check_file(p, b.spec)  # warm
    reference_cpu: list[float] = []

    def reference(group: list[Path]) -> tuple[float, list[float]]:
        times = []
        start, cpu = time.perf_counter(), time.thread_time()
        for p in group:
            t = time.perf_counter()
            check.check_file(p, b.spec)
            times.append(time.perf_counter() - t)
        reference_cpu.append(time.thread_time() - cpu)
        return time.perf_counter() - start, times

    reference(first)

    folder = b.folder / f"portal-{n}"
    port = _free_port()
    base = f"http://{HOST}:{port}"
    portal = Portal.create(
        folder, units, year=2025, name="基准县", base_url=base, secret=os.urandom(16).hex()
    )
    links = [e["url"] for e in portal.links()]
    portal.close()
    requests = [_request(u, p) for u, p in zip(links, files, strict=True)]
    scrap = b.folder / "warm-up.xlsx"
    scrap.write_bytes(b"not a workbook")  # checked (and refused) like any upload: warms all
    warm = _request(links[0], scrap)
    server = _start(
        [*WBTOOLS, "portal", "serve", str(folder), "--host", HOST, "--port", str(port)],
        base,
        b.folder / "portal-server.log",
    )
    try:
        _send(port, warm, 60)  # the checking processes are up before anything is timed
        time.sleep(1)
        phases = _phases(port, server.pid, requests[:n])
        check_wall, check_times = reference(second)  # the burst's files, just before it
        # The burst: the other n units' workbooks, all at once.
        wall, times, burst_cpu = _burst_phase(port, server.pid, requests[n:])
        # Again, the first n, at once: bytes the portal keeps already.
        _, again_times, again_cpu = _burst_phase(port, server.pid, requests[:n])
    finally:
        _stop(server)
    reference(second)

    # The floor: a bare endpoint doing the same durable work per upload, nothing else; and less
    # still, the same endpoint storing nothing (the body read and hashed, a small answer): what
    # HTTP itself costs an upload here.
    floor_phases, floor_times, floor_burst_cpu = _bare("floor", b, warm, requests)
    _, _, http_burst_cpu = _bare("http", b, warm, requests)

    check_cpu = sum(reference_cpu) / (len(reference_cpu) * n)
    single = phases["single"]
    s_own, s_below, s_client = phases["single_cpu"]
    b_own, b_below, b_client, b_kernel = burst_cpu
    tree_single = s_own + s_below - check_cpu
    tree_burst = b_own + b_below - check_cpu
    ms = 1000
    return {
        "throughput": wall / check_wall,
        "cpu": b_own / check_cpu,
        "numbers": dict(
            uploads=n,
            uploads_per_second=n / wall,
            checks_per_second=n / check_wall,
            verdict_p50_s=_percentile(times, 0.5),
            verdict_p95_s=_percentile(times, 0.95),
            check_p50_ms=statistics.median(check_times) * ms,
            check_p95_ms=_percentile(check_times, 0.95) * ms,
            single_upload_p50_ms=statistics.median(single) * ms,
            check_cpu_ms=check_cpu * ms,
            check_cpu_ms_slices=[round(c / n * ms, 3) for c in reference_cpu],
            portal_cpu_ms_per_upload=b_own * ms,
            portal_cpu_to_check=b_own / check_cpu,
            checking_cpu_ms_per_upload=b_below * ms,
            tree_less_check_to_check=tree_burst / check_cpu,
            single_portal_cpu_ms_per_upload=s_own * ms,
            single_portal_cpu_to_check=s_own / check_cpu,
            single_checking_cpu_ms_per_upload=s_below * ms,
            single_tree_less_check_to_check=tree_single / check_cpu,
            again_portal_cpu_ms_per_upload=again_cpu[0] * ms,
            again_portal_cpu_to_check=again_cpu[0] / check_cpu,
            again_verdict_p50_s=_percentile(again_times, 0.5),
            floor_cpu_ms_per_upload=floor_burst_cpu[0] * ms,
            floor_single_cpu_ms_per_upload=floor_phases["single_cpu"][0] * ms,
            floor_single_p50_ms=statistics.median(floor_phases["single"]) * ms,
            floor_verdict_p50_s=_percentile(floor_times, 0.5),
            kernel_threads_cpu_ms_per_upload=b_kernel * ms,
            floor_kernel_threads_cpu_ms_per_upload=floor_burst_cpu[3] * ms,
            http_cpu_ms_per_upload=http_burst_cpu[0] * ms,
            http_cpu_to_check=http_burst_cpu[0] / check_cpu,
            client_cpu_ms_per_upload=b_client * ms,
            single_client_cpu_ms_per_upload=s_client * ms,
            load_average=os.getloadavg()[0],
        ),
    }


# --- the floor: a bare ASGI endpoint doing an upload's durable work and nothing else -----------


def floor_app(folder: Path, durable: bool = True):
    """An ASGI app that stores each request's body as the portal stores an upload (written into
    tmp/ while hashed; flushed; linked under its digest; folder flushed; a row committed to
    SQLite in WAL with synchronous=FULL, one writer at a time) and answers a small JSON. No form
    parsing, no check, no pages: the least an upload that is durable when answered can cost."""
    import hashlib
    import secrets
    import sqlite3
    import threading

    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    (folder / "blobs").mkdir(exist_ok=True)
    db = sqlite3.connect(folder / "floor.db", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS uploads (id INTEGER PRIMARY KEY, sha256 TEXT, size INT)")
    lock = threading.Lock()

    def flush(path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def durable(tmp: str, sha: str, size: int) -> int:
        flush(tmp)
        sub = folder / "blobs" / sha[:2]
        if not sub.is_dir():
            sub.mkdir(exist_ok=True)
            flush(str(folder / "blobs"))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, sub / sha)
        flush(str(sub))
        with lock:
            cursor = db.execute("INSERT INTO uploads (sha256, size) VALUES (?, ?)", (sha, size))
            upload_id = cursor.lastrowid
        os.unlink(tmp)
        return upload_id

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                done = message["type"].replace(".startup", ".startup.complete")
                done = done.replace(".shutdown", ".shutdown.complete")
                await send({"type": done})
                if message["type"] == "lifespan.shutdown":
                    return
        digest, size = hashlib.sha256(), 0
        if not durable:  # HTTP alone: the body read and hashed, nothing kept
            more = True
            while more:
                message = await receive()
                digest.update(message.get("body", b""))
                more = message.get("more_body", False)
            answer = b'{"sha256": "%s"}' % digest.hexdigest().encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": answer})
            return
        tmp = str(folder / "tmp" / f"{secrets.token_hex(12)}.part")
        with open(tmp, "wb") as fh:
            more = True
            while more:
                message = await receive()
                body = message.get("body", b"")
                more = message.get("more_body", False)
                digest.update(body)
                size += len(body)
                fh.write(body)
        loop = asyncio.get_running_loop()
        upload_id = await loop.run_in_executor(None, durable, tmp, digest.hexdigest(), size)
        answer = b'{"upload_id": %d}' % upload_id
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


if __name__ == "__main__" and sys.argv[1:2] in (["floor"], ["http"]):
    import uvicorn

    app = floor_app(Path(sys.argv[2]), durable=sys.argv[1] == "floor")
    uvicorn.run(app, host=HOST, port=int(sys.argv[3]), log_level="warning")
