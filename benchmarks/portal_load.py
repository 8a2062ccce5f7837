"""The portal under load: N uploads sent at once (200 in the full run) to `wbtools portal serve`
on 127.0.0.1, each timed from sending to its verdict, against `wbtools check` of the same files
in one process (``check.check_file`` on each, timed one by one).

Reported: throughput (uploads per second against files checked per second), time to a verdict
at p50 and p95 under the burst, and, one upload at a time, the portal's own cost per upload (HTTP,
database, storage: the median time to a verdict less the median check of the same file). On a
shared machine wall times follow the load, so the CPU the server's whole process tree (the server,
its fork server and checking processes) spends per upload is reported too, against the CPU of
checking the same file in one process: their difference is the portal's own CPU per upload
(``portal_cpu_ms_per_upload``; ``portal_cpu_to_check`` is it over the check's). The server
process alone (HTTP, form, hashing, database; the checking happens in the others) is
``server_cpu_ms_per_upload``.

The client sends requests built beforehand (multipart bodies as bytes) over plain sockets, one
connection each, and reads each answer whole (a 200 whose JSON has the upload's id, or the run
fails): on a real network the clients' work is on their own machines, so here it should take
as little as possible of the two cores the server shares with it; its CPU per upload is reported
(``client_cpu_ms_per_upload``, ``burst_client_cpu_ms_per_upload``). All traffic goes to the
loopback address; the number of requests and their timeouts are bounded.
"""

from __future__ import annotations

import asyncio
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


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and every process under it, from /proc."""
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
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += (int(stats[p][11]) + int(stats[p][12])) / _TICK
        todo.extend(children.get(p, []))
    return total


def _own_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` alone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


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


def run(b, n: int | None = None) -> dict:
    """The measure: ``b`` is the harness's Bench (a temporary folder and generated workbooks)."""
    import httpx2 as httpx

    from workbook_tools import check
    from workbook_tools.portal.store import Portal
    from workbook_tools.roster import Unit

    n = n or b.size(40, 200)
    files = sorted(b.workbooks(n, distinct_units=True).iterdir())[:n]
    units = [Unit(f"测试单位{i:05d}", f"{i:05d}") for i in range(n)]

    # The reference: wbtools check of the same files in one process, file by file.
    for p in files[:5]:
        check.check_file(p, b.spec)  # warm
    check_times = []
    start, cpu = time.perf_counter(), time.process_time()
    for p in files:
        t = time.perf_counter()
        check.check_file(p, b.spec)
        check_times.append(time.perf_counter() - t)
    check_wall = time.perf_counter() - start
    check_cpu = (time.process_time() - cpu) / n

    folder = b.folder / f"portal-{n}"
    port = _free_port()
    base = f"http://{HOST}:{port}"
    portal = Portal.create(
        folder, units, year=2025, name="基准县", base_url=base, secret=os.urandom(16).hex()
    )
    links = [e["url"] for e in portal.links()]
    portal.close()
    log = open(b.folder / "portal-server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [*WBTOOLS, "portal", "serve", str(folder), "--host", HOST, "--port", str(port)],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the portal did not start") from None
                time.sleep(0.1)
        requests = [_request(u, p) for u, p in zip(links, files, strict=True)]
        _send(port, requests[0], 60)  # the checking processes are up before anything is timed
        time.sleep(1)
        # One at a time: the portal's own cost per upload beside the check itself.
        single = []
        k = min(40, n)
        cpu, client_cpu = _tree_cpu(server.pid), time.process_time()
        own = _own_cpu(server.pid)
        for request in requests[:k]:
            t = time.perf_counter()
            _send(port, request, 60)
            single.append(time.perf_counter() - t)
        single_cpu = (_tree_cpu(server.pid) - cpu) / k
        server_cpu = (_own_cpu(server.pid) - own) / k
        single_client_cpu = (time.process_time() - client_cpu) / k
        # The burst: every upload at once.
        cpu, client_cpu = _tree_cpu(server.pid), time.process_time()
        wall, times = asyncio.run(_burst(port, requests, timeout=600))
        burst_cpu = (_tree_cpu(server.pid) - cpu) / n
        burst_client_cpu = (time.process_time() - client_cpu) / n
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    check_p50 = statistics.median(check_times)
    overhead = statistics.median(single) - statistics.median(check_times[: len(single)])
    return b.result(
        wall / check_wall,
        at_most=2.0,
        uploads=n,
        uploads_per_second=n / wall,
        checks_per_second=n / check_wall,
        verdict_p50_s=_percentile(times, 0.5),
        verdict_p95_s=_percentile(times, 0.95),
        check_p50_ms=check_p50 * 1000,
        check_p95_ms=_percentile(check_times, 0.95) * 1000,
        single_upload_p50_ms=statistics.median(single) * 1000,
        portal_overhead_ms_per_upload=overhead * 1000,
        check_cpu_ms=check_cpu * 1000,
        server_tree_cpu_ms_per_upload=single_cpu * 1000,
        portal_cpu_ms_per_upload=(single_cpu - check_cpu) * 1000,
        portal_cpu_to_check=(single_cpu - check_cpu) / check_cpu,
        server_cpu_ms_per_upload=server_cpu * 1000,
        burst_tree_cpu_ms_per_upload=burst_cpu * 1000,
        client_cpu_ms_per_upload=single_client_cpu * 1000,
        burst_client_cpu_ms_per_upload=burst_client_cpu * 1000,
        load_average=os.getloadavg()[0],
        note="value = burst wall time / the same files checked in one process",
    )
