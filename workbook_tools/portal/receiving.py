"""Many uploads at once, each answered only once it is durable, at a small cost beside the check.

One upload goes: received into tmp/ while hashed (``collect.stage``) → checked in a worker
process, while in the same moment its bytes are flushed to disk and linked under their digest's
name, durably (``collect.settle``) → recorded by the one writer thread, which takes every upload
waiting and writes them in one transaction (group commit: one fsync of the database per batch
instead of one per upload) → answered.

Checking in worker processes keeps the server's own process free for HTTP, hashing and the
database while the cores check, so a burst of uploads finishes sooner than one process checking
the same files one after another; and a file that kills the process reading it costs that one
upload (F112), never the server. Workers are forked from a clean fork server that has the
checker loaded (never a copy of the server's threads), and end when the server does, even when
it is killed.
"""

from __future__ import annotations

import asyncio
import codecs
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import python_multipart
from python_multipart.multipart import parse_options_header
from sqlalchemy import insert
from starlette.concurrency import run_in_threadpool

from .. import check
from ..filing import Filing
from ..findings import Finding
from . import collect, db
from .store import Portal, UnitRow

MAX_BATCH = 256  # uploads written in one transaction at most
# Loaded once in the fork server, so a new worker checks its first file at full speed (the
# readers of imported text and calamine are otherwise loaded by the first check).
PRELOAD = [
    "workbook_tools.check",
    "workbook_tools.importer.tables",
    "workbook_tools.importer.narrative",
    "python_calamine",
    "workbook_tools.portal.receiving",
]


def default_workers() -> int:
    """Checking processes when the office does not say: one per core, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:  # Windows
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


# --- in the worker processes --------------------------------------------------------------------

_SPECS: dict[str | None, Any] = {}


def _spec(source: str | None):
    if source not in _SPECS:
        from .. import spec as spec_module

        _SPECS[source] = spec_module.load(source)
    return _SPECS[source]


def _tie_to_server(server: int) -> None:
    """End this worker when the server process is gone (pool initializer). A worker's parent is
    the fork server, which lives on while any worker holds its pipe, so the worker watches the
    server itself; once the workers are gone, the fork server and resource tracker end too."""

    def gone() -> bool:
        try:
            state = Path(f"/proc/{server}/stat").read_text().rsplit(")", 1)[1].split()[0]
            return state in ("Z", "X")  # killed, not yet reaped
        except FileNotFoundError:
            return True
        except (OSError, IndexError):  # no /proc: ask the kernel
            try:
                os.kill(server, 0)
            except ProcessLookupError:
                return True
            except OSError:
                pass
            return False

    def watch() -> None:
        while True:
            if gone():
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="server-watch").start()


def _warm(spec_source: str | None) -> None:
    _spec(spec_source)


def _check_in_worker(path: str, spec_source: str | None) -> check.Report:
    """``check.check_file`` on ``path``; what the portal keeps of the report goes back (the
    findings and who/which year the file says it is), not the cells read."""
    report = check.check_file(Path(path), _spec(spec_source))
    f = report.filing
    slim = Filing(f.path, None, f.unit, f.code, f.kind, f.year, meta=dict(f.meta))
    slim.readable = f.readable
    return check.Report(report.path, slim, report.findings)


def _died(path: str, reason: str) -> check.Report:
    finding = Finding("F112", {"detail": reason}, file=path)
    return check.Report(path, Filing(path, findings=[finding]), [finding])


# --- in the server ------------------------------------------------------------------------------


def _forget(path: Path) -> None:
    path.unlink(missing_ok=True)


class Checker:
    """``check.check_file`` in a pool of worker processes (or in a thread when ``jobs`` is 0)."""

    def __init__(self, portal: Portal, jobs: int):
        self.portal = portal
        self.jobs = jobs
        self.spec_source = portal.spec_source
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _new_pool(self, jobs: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            jobs, mp_context=_context(), initializer=_tie_to_server, initargs=(os.getpid(),)
        )

    def start(self) -> None:
        """Start the workers now (without waiting), so the first upload does not wait for them."""
        if self.jobs > 0:
            pool = self._current()
            for _ in range(self.jobs):
                pool.submit(_warm, self.spec_source)

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = self._new_pool(self.jobs)
            return self._pool

    async def check(self, path: Path) -> check.Report:
        spec = self.portal.spec
        if self.jobs <= 0:
            return await run_in_threadpool(check.check_file, path, spec)
        pool = self._current()
        try:
            report = await asyncio.wrap_future(
                pool.submit(_check_in_worker, str(path), self.spec_source)
            )
        except BrokenProcessPool:
            # A worker died (a file that kills its reader, the out-of-memory killer): every
            # upload in flight is checked again alone, so only the one that kills gets F112.
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False)
            report = await run_in_threadpool(self._alone, path)
        report.filing.spec = spec if report.filing.readable else None
        return report

    def _alone(self, path: Path) -> check.Report:
        pool = self._new_pool(1)
        try:
            return pool.submit(_check_in_worker, str(path), self.spec_source).result()
        except BrokenProcessPool:
            return _died(str(path), "the checking process died")
        finally:
            pool.shutdown(wait=False)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Pending:
    row: dict[str, Any]
    future: Future
    forget: Path | None = None  # the upload's staged name, removed once its batch is written


class Recorder:
    """The one writer of upload records: each batch of waiting uploads (their originals already
    durable) is written in one transaction; each upload's future is set once its batch is
    committed (durable: SQLite's synchronous=FULL, PostgreSQL's commit)."""

    def __init__(self, portal: Portal):
        self.portal = portal
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches: list[int] = []  # sizes of the batches written (for the benchmark)

    def _ensure(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="portal-recorder", daemon=True
                )
                self._thread.start()

    async def record(self, row: dict[str, Any], forget: Path | None = None) -> int:
        """Write ``row`` (with whatever else is waiting); its id once committed. ``forget``, the
        upload's name in tmp/ (its original is under its digest's name by now), is removed in
        the same thread afterwards, without the answer waiting for it."""
        future: Future = Future()
        self._ensure()
        self._queue.put(_Pending(row, future, forget))
        return await asyncio.wrap_future(future)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch, stop = [item], False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._write(batch)
            for p in batch:
                if p.forget is not None:
                    _forget(p.forget)
            if stop:
                return

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with self.portal.engine.begin() as conn:
                ids = [
                    conn.execute(insert(db.uploads).values(**p.row)).inserted_primary_key[0]
                    for p in batch
                ]
        except Exception as exc:
            if len(batch) > 1:  # one bad row must not cost the others their record
                for p in batch:
                    self._write([p])
                return
            batch[0].future.set_exception(exc)
            return
        self.batches.append(len(batch))
        for p, upload_id in zip(batch, ids, strict=True):
            p.future.set_result(upload_id)

    def close(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(60)


class BadForm(Exception):
    """The body is not a multipart form this portal takes (no boundary, malformed, too many
    parts or fields, a field too long)."""


FIELDS = 10  # form fields besides the file, at most
FIELD_BYTES = 16 * 1024  # all of them together, at most


class UploadForm:
    """A multipart form whose one file part is written straight into tmp/ while it streams in
    (``collect.Stager``: hashed, the size limit enforced as it comes), with python-multipart's
    streaming parser; the other fields (the CSRF token) are kept, small, in memory. No copy of
    the file is spooled anywhere else first."""

    def __init__(self, portal: Portal, limit: int, boundary: bytes, charset: str):
        self.portal = portal
        self.limit = limit
        self.charset = charset
        self.fields: dict[str, str] = {}
        self.filename = ""
        self.staged: collect.Staged | None = None  # the file part, once it has ended
        self._stager: collect.Stager | None = None
        self._files = 0
        self._field_bytes = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._kind = ""  # "file" (into tmp/) or "field" (into memory)
        self._data = bytearray()
        self._parser = python_multipart.MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_part,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
            },
        )

    def _text(self, raw: bytes) -> str:
        try:
            return raw.decode(self.charset)
        except (UnicodeDecodeError, LookupError):
            return raw.decode("latin-1")

    def _part_begin(self) -> None:
        self._disposition, self._name, self._kind = b"", "", ""
        self._data = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise BadForm("a part without a name")
        self._name = self._text(options[b"name"])
        if b"filename" in options:
            self._files += 1
            if self._files > 1 or self._name != "file":
                raise BadForm("one file, in the field 'file'")
            self.filename = self._text(options[b"filename"])
            self._kind = "file"
            self._stager = collect.Stager(self.portal, self.limit)
        else:
            if len(self.fields) >= FIELDS:
                raise BadForm("too many fields")
            self._kind = "field"

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._kind == "file":
            self._stager.write(memoryview(data)[start:end])
        elif self._kind == "field":
            self._field_bytes += end - start
            if self._field_bytes > FIELD_BYTES:
                raise BadForm("fields too long")
            self._data += data[start:end]

    def _part_end(self) -> None:
        if self._kind == "file":
            self.staged, self._stager = self._stager.done(), None
        elif self._kind == "field":
            self.fields.setdefault(self._name, self._text(bytes(self._data)))
        self._kind = ""

    def feed(self, chunk: bytes) -> None:
        self._parser.write(chunk)

    def discard(self) -> None:
        """Nothing of this form is kept (refused, failed or cut off)."""
        if self._stager is not None:
            self._stager.discard()
            self._stager = None
        if self.staged is not None:
            self.staged.path.unlink(missing_ok=True)
            self.staged = None


async def read_form(
    portal: Portal,
    content_type: str,
    content_length: str | None,
    body: AsyncIterator[bytes],
    limit: int,
    overhead: int,
) -> UploadForm:
    """Read an upload form off the request body as it streams in: the file into tmp/ (hashed),
    the rest in memory. Raises collect.TooLarge as soon as the file passes ``limit`` or the
    body ``limit + overhead`` (at once when Content-Length already says so; nothing kept), or
    BadForm. The caller owns the result: ``discard`` it unless its file is taken."""
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise BadForm("not a multipart form")
    if content_length and content_length.isdigit() and int(content_length) > limit + overhead:
        raise collect.TooLarge(limit)
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "latin-1"
    form = UploadForm(portal, limit, params[b"boundary"], charset)
    seen = 0
    try:
        async for chunk in body:
            seen += len(chunk)
            if seen > limit + overhead:
                raise collect.TooLarge(limit)
            form.feed(chunk)
    except python_multipart.exceptions.FormParserError as exc:
        form.discard()
        raise BadForm(str(exc)) from exc
    except BaseException:
        form.discard()
        raise
    if form._stager is not None:  # the file part never ended: the body was cut short
        form.discard()
        raise BadForm("the file part is incomplete")
    return form


class Intake:
    """Receives uploads for the web app: stage, check alongside settle, record, answer."""

    def __init__(self, portal: Portal, jobs: int | None = None):
        self.portal = portal
        self.checker = Checker(portal, default_workers() if jobs is None else jobs)
        self.recorder = Recorder(portal)
        # fsyncs wait on the disk, not the CPU: a few at once let the file system's journal
        # take them together.
        self._settlers = ThreadPoolExecutor(16, thread_name_prefix="portal-settle")

    def start(self) -> None:
        self.checker.start()

    def close(self) -> None:
        self.recorder.close()
        self.checker.close()
        self._settlers.shutdown(wait=True)

    async def receive(
        self,
        unit: UnitRow,
        staged: collect.Staged,
        filename: str,
        *,
        received_ns: int,
    ) -> tuple[int, str, check.Report]:
        """Check and record one staged upload (taking its staged file): (upload id, sha256,
        report), returned once the original and its record are durable."""
        portal = self.portal
        name = collect.display_name(filename)
        loop = asyncio.get_running_loop()
        try:
            settled, checked = await asyncio.gather(
                loop.run_in_executor(self._settlers, collect.settle, portal, staged),
                self.checker.check(staged.path),
                return_exceptions=True,
            )
            for outcome in (settled, checked):
                if isinstance(outcome, BaseException):
                    raise outcome
            report = collect.as_seen(portal, unit, checked, name)
            row = collect.record_row(
                portal, unit, report, staged.sha256, staged.size, name, received_ns
            )
        except BaseException:
            # The upload failed: its staged name goes (off the event loop).
            loop.run_in_executor(self._settlers, _forget, staged.path)
            raise
        upload_id = await self.recorder.record(row, forget=staged.path)
        return upload_id, staged.sha256, report
