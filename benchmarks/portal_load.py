"""The portal under load: N uploads sent at once (200 in the full run) to `wbtools portal serve`
on 127.0.0.1, each timed from sending to its verdict, against `wbtools check` of the same files
in one process (``check.check_file`` on each, timed one by one).

Reported: throughput (uploads per second against files checked per second), time to a verdict
at p50 and p95 under the burst, and, one upload at a time, the portal's own cost per upload (HTTP,
database, storage: the median time to a verdict less the median check of the same file). On a
shared machine wall times follow the load, so the CPU the server's whole process tree (the server,
its fork server and checking processes) spends per upload is reported too, against the CPU of
checking the same file in one process: their difference is the portal's own CPU per upload. All
traffic goes to the loopback address; the number of requests and their timeouts are bounded.
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _burst(urls: list[str], files: list[Path], timeout: float) -> tuple[float, list[float]]:
    import httpx

    limits = httpx.Limits(max_connections=len(urls), max_keepalive_connections=len(urls))
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        bodies = [p.read_bytes() for p in files]

        async def one(url: str, body: bytes, name: str) -> float:
            start = time.perf_counter()
            answer = await client.post(
                url, files={"file": (name, body)}, headers={"accept": "application/json"}
            )
            answer.raise_for_status()
            assert answer.json()["upload_id"]
            return time.perf_counter() - start

        start = time.perf_counter()
        times = await asyncio.gather(
            *(one(u, b, p.name) for u, b, p in zip(urls, bodies, files, strict=True))
        )
        return time.perf_counter() - start, list(times)


def run(b, n: int | None = None) -> dict:
    """The measure: ``b`` is the harness's Bench (a temporary folder and generated workbooks)."""
    import httpx

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
        # One at a time: the portal's own cost per upload beside the check itself.
        single = []
        with httpx.Client(timeout=60) as client:  # one client: its set-up is not the portal's
            pairs = list(zip(links, files, strict=True))[: min(40, n)]
            warm = client.post(  # the checking processes are up before anything is timed
                pairs[0][0],
                files={"file": (pairs[0][1].name, pairs[0][1].read_bytes())},
                headers={"accept": "application/json"},
            )
            warm.raise_for_status()
            time.sleep(1)
            cpu = _tree_cpu(server.pid)
            for url, p in pairs:
                body = p.read_bytes()
                t = time.perf_counter()
                answer = client.post(
                    url, files={"file": (p.name, body)}, headers={"accept": "application/json"}
                )
                answer.raise_for_status()
                single.append(time.perf_counter() - t)
            single_cpu = (_tree_cpu(server.pid) - cpu) / len(pairs)
        # The burst: every upload at once.
        cpu = _tree_cpu(server.pid)
        wall, times = asyncio.run(_burst(links, files, timeout=600))
        burst_cpu = (_tree_cpu(server.pid) - cpu) / n
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
        burst_tree_cpu_ms_per_upload=burst_cpu * 1000,
        load_average=os.getloadavg()[0],
        note="value = burst wall time / the same files checked in one process",
    )
