"""Many uploads at once, each answered only once it is durable, at a small cost beside the check.

One upload goes: its multipart body parsed as it streams in, the file hashed as it comes and
held in memory while small, else written into tmp/ (``read_form``, ``collect.Stager``; no other
copy; bytes already kept are read from their original, with no file of their own) → checked in
a worker process fed over a pipe by the event loop (``Workers``), which also makes the verdict
as the unit sees it (P104/P105, the record's columns, the JSON answer: ``collect.judge``), while
in the same moment its bytes are flushed to disk and linked under their digest's name, durably
(``collect.settle``) → recorded by the one writer thread, which takes every upload waiting and
writes them in one transaction (group commit: one fsync of the database per batch instead of
one per upload) → answered.

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
import collections
import contextlib
import itertools
import multiprocessing
import os
import pickle
import queue
import sys
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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

_PROTOCOL = pickle.HIGHEST_PROTOCOL
MAX_BATCH = 256  # uploads written in one transaction at most
# How long the writer holds a commit open for the records of other uploads still on their way
# (being checked), so that a burst, whose checks end one by one, commits them in groups rather
# than one commit (one flush of the database) each. Nothing waits when no other upload is.
COMMIT_WAIT = 0.01
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
    check.worker_spec(spec_source)


def _check_in_worker(path: str, spec_source: str | None) -> check.Report:
    """``check.check_file`` on ``path``; what the portal keeps of the report goes back (the
    findings and who/which year the file says it is), not the cells read."""
    report = check.check_file(Path(path), check.worker_spec(spec_source))
    f = report.filing
    slim = Filing(f.path, None, f.unit, f.code, f.kind, f.year, meta=dict(f.meta))
    slim.readable = f.readable
    return check.Report(report.path, slim, report.findings)


def _judge_in_worker(path: str, spec_source: str | None, seen: collect.Seen) -> collect.Checked:
    """The verdict on ``path`` as ``seen`` sees it, made here: the record's columns and the JSON
    answer go back to the server as a few values and bytes (no report to rebuild there)."""
    return collect.judge(_check_in_worker(path, spec_source), seen, check.worker_spec(spec_source))


def _serve(conn, server: int, spec_source: str | None) -> None:
    """A checking process: takes (task id, path, *seen) from the server over its pipe and
    answers (task id, the record's columns, the JSON answer, None), or (task id, None, None,
    what went wrong): plain values, the cheapest to pickle and unpickle; ends on None, or when
    the pipe or the server is gone."""
    _tie_to_server(server)
    check.worker_spec(spec_source)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task_id, path, *seen = task
        try:
            checked = _judge_in_worker(path, spec_source, collect.Seen(*seen))
            answer = (task_id, checked.columns, checked.answer, None)
        except Exception as exc:  # check_file reports bad files itself: this is a bug
            answer = (task_id, None, None, f"{type(exc).__name__}: {exc}")
        conn.send(answer)


def _died(path: str, reason: str) -> check.Report:
    finding = Finding("F112", {"detail": reason}, file=path)
    return check.Report(path, Filing(path, findings=[finding]), [finding])


# --- in the server ------------------------------------------------------------------------------


def _forget(path: Path) -> None:
    path.unlink(missing_ok=True)


class _Worker:
    """One checking process and the server's end of its pipe."""

    def __init__(self, spec_source: str | None):
        ctx = _context()
        here, there = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(there, os.getpid(), spec_source), daemon=True
        )
        self.process.start()
        there.close()
        self.conn = here
        # sent, not yet answered: (the upload waiting, path, seen)
        self.tasks: dict[int, tuple[asyncio.Future, str, collect.Seen]] = {}


class Workers:
    """Checking processes fed over pipes by the event loop itself: a task goes out as one small
    message and its verdict comes back through the loop's own poll of the pipe, so a check costs
    the server no thread hand-offs (ProcessPoolExecutor's feeder and manager threads were
    several per upload). A process that dies (a file that kills its reader, the out-of-memory
    killer) is replaced; the checks it had are done again alone (``on_died``), so only the file
    that kills gets F112."""

    PIPELINE = 2  # tasks sent to one process at once: the next is there when one ends

    def __init__(self, jobs: int, spec_source: str | None, on_died):
        self.jobs = jobs
        self.spec_source = spec_source
        self.on_died = on_died  # (path, seen, future): check it again alone
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[_Worker] = []
        self._waiting: collections.deque[tuple[int, str, collect.Seen, asyncio.Future]] = (
            collections.deque()
        )
        self._ids = itertools.count()
        self._closing = False

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        while len(self._workers) < self.jobs:
            self._spawn()

    def _spawn(self) -> None:
        worker = _Worker(self.spec_source)
        self._loop.add_reader(worker.conn.fileno(), self._readable, worker)
        self._workers.append(worker)

    def submit(self, path: Path, seen: collect.Seen) -> asyncio.Future:
        if self._loop is None:
            self.start()
        future = self._loop.create_future()
        self._waiting.append((next(self._ids), str(path), seen, future))
        self._dispatch()
        return future

    def _dispatch(self) -> None:
        if self._closing:
            return
        while len(self._workers) < self.jobs:
            self._spawn()
        while self._waiting:
            worker = min(self._workers, key=lambda w: len(w.tasks))
            if len(worker.tasks) >= self.PIPELINE:
                return
            task_id, path, seen, future = self._waiting.popleft()
            if future.done():  # the upload went away
                continue
            worker.tasks[task_id] = (future, path, seen)
            try:
                # (pickled here: Connection.send's ForkingPickler copies the copyreg table
                # for every message; the worker's recv reads either alike)
                worker.conn.send_bytes(pickle.dumps((task_id, path, *seen), _PROTOCOL))
            except OSError:
                self._dead(worker)  # its tasks, this one too, are checked again alone

    def _readable(self, worker: _Worker) -> None:
        # One message per call: the loop calls again while the pipe holds more (recv reads
        # exactly one message and buffers nothing), so no poll of the pipe is needed here
        # (multiprocessing's poll builds a selector each time).
        try:
            task_id, columns, answer, error = worker.conn.recv()
        except (EOFError, OSError):
            self._dead(worker)
        else:
            future, _, _ = worker.tasks.pop(task_id)
            if not future.done():
                if error is None:
                    future.set_result(collect.Checked(columns, answer))
                else:
                    future.set_exception(RuntimeError(error))
        self._dispatch()

    def _dead(self, worker: _Worker) -> None:
        """``worker`` is gone (its pipe ended: killed, or asked to end by ``close``)."""
        if worker.conn.closed:
            return
        self._loop.remove_reader(worker.conn.fileno())
        worker.conn.close()
        if worker in self._workers:
            self._workers.remove(worker)
        worker.process.join(0)
        tasks, worker.tasks = list(worker.tasks.values()), {}
        if not self._closing:
            for future, path, seen in tasks:
                self.on_died(path, seen, future)

    def close(self) -> None:
        """End every process (from any thread, once no upload is in flight)."""
        self._closing = True
        workers, self._workers = list(self._workers), []
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in workers:  # (their pipes end on the loop, or with the loop)
            worker.process.join(10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)


class Checker:
    """``check.check_file`` and the verdict made of it (``collect.judge``) in worker processes
    (or in a thread when ``jobs`` is 0)."""

    def __init__(self, portal: Portal, jobs: int):
        self.portal = portal
        self.jobs = jobs
        self.spec_source = portal.spec_source
        self._pool: ProcessPoolExecutor | None = None  # where the loop cannot poll pipes
        self._workers: Workers | None = None
        self._rechecks: set[asyncio.Task] = set()  # held, so none is collected while running
        self._lock = threading.Lock()

    def _new_pool(self, jobs: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            jobs, mp_context=_context(), initializer=_tie_to_server, initargs=(os.getpid(),)
        )

    def start(self) -> None:
        """Start the workers now (without waiting), so the first upload does not wait for them."""
        if self.jobs <= 0:
            return
        if _pipes_polled(asyncio.get_running_loop()):
            self._workers = Workers(self.jobs, self.spec_source, self._again_alone)
            self._workers.start()
        else:
            pool = self._current()
            for _ in range(self.jobs):
                pool.submit(_warm, self.spec_source)

    def pids(self) -> list[int]:
        """The checking processes' ids (for tests)."""
        if self._workers is not None:
            return self._workers.pids()
        pool = self._pool
        return list(pool._processes or {}) if pool is not None else []

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = self._new_pool(self.jobs)
            return self._pool

    def _again_alone(self, path: str, seen: collect.Seen, future: asyncio.Future) -> None:
        async def again() -> None:
            try:
                checked = await run_in_threadpool(self._alone, Path(path), seen)
            except BaseException as exc:  # handed to the upload waiting
                if not future.done():
                    future.set_exception(exc)
                return
            if not future.done():
                future.set_result(checked)

        task = asyncio.ensure_future(again())
        self._rechecks.add(task)
        task.add_done_callback(self._rechecks.discard)

    async def check(self, path: Path, seen: collect.Seen) -> collect.Checked:
        """The verdict on the upload at ``path`` as ``seen`` sees it."""
        if self.jobs <= 0:
            return await run_in_threadpool(self._here, path, seen)
        if self._workers is None and _pipes_polled(asyncio.get_running_loop()):
            self.start()  # not started by the app's lifespan (a test's bare Intake)
        if self._workers is not None:
            return await self._workers.submit(path, seen)
        pool = self._current()
        try:
            return await asyncio.wrap_future(
                pool.submit(_judge_in_worker, str(path), self.spec_source, seen)
            )
        except BrokenProcessPool:
            # A worker died (a file that kills its reader, the out-of-memory killer): every
            # upload in flight is checked again alone, so only the one that kills gets F112.
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False)
            return await run_in_threadpool(self._alone, path, seen)

    def _here(self, path: Path, seen: collect.Seen) -> collect.Checked:
        spec = self.portal.spec
        return collect.judge(check.check_file(path, spec), seen, spec)

    def _alone(self, path: Path, seen: collect.Seen) -> collect.Checked:
        pool = self._new_pool(1)
        try:
            return pool.submit(_judge_in_worker, str(path), self.spec_source, seen).result()
        except BrokenProcessPool:
            report = _died(str(path), "the checking process died")
            return collect.judge(report, seen, self.portal.spec)
        finally:
            pool.shutdown(wait=False)

    def close(self) -> None:
        if self._workers is not None:
            self._workers.close()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _pipes_polled(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` can watch a pipe (not Windows' proactor loop)."""
    return sys.platform != "win32"


class _Settling:
    """An upload's original on its way under its digest's name (see ``Recorder.settle``)."""

    __slots__ = ("done", "error", "staged")

    def __init__(self, staged: collect.Staged):
        self.staged = staged
        self.done = False
        self.error: Exception | None = None


class _Record:
    """A row to write, and the upload waiting for its id."""

    __slots__ = ("forget", "future", "loop", "row", "settling")

    def __init__(self, row, settling, loop, future, forget):
        self.row = row
        self.settling: _Settling | None = settling
        self.loop: asyncio.AbstractEventLoop = loop
        self.future: asyncio.Future = future
        self.forget: Path | None = forget


class _Forget:
    __slots__ = ("path",)

    def __init__(self, path: Path):
        self.path = path


class Recorder:
    """The one thread that makes uploads durable, in batches: it takes every job waiting, makes
    the originals among them durable and names them (``collect.settle_many``: one syncfs for
    the batch's bytes, then one for their names; where there is no syncfs, each file and then
    each folder once), then writes the waiting records in one transaction (group commit: one flush
    of the database per batch; SQLite's synchronous=FULL, PostgreSQL's commit), and only then
    answers each upload, with one wake-up of the event loop per batch. An upload's original is
    queued for settling as soon as it is received (so the flush runs while it is checked) and
    its record after the check; one queue, one thread, so the record of an upload is never
    written before its original is durable."""

    def __init__(self, portal: Portal):
        self.portal = portal
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._insert = insert(db.uploads)  # compiled once, reused for every row
        # A batch's rows in one statement (SQLAlchemy's "insertmanyvalues": INSERT ... VALUES
        # (...), (...) RETURNING id, the ids in the rows' order), not one statement each.
        self._insert_many = insert(db.uploads).returning(
            db.uploads.c.id, sort_by_parameter_order=True
        )
        self._conn = None  # the thread's own connection, held between batches
        # Flushes of several originals at once, for batches of more than one, where there is no
        # syncfs (see settle_many); its threads start only when used.
        self._flushers = ThreadPoolExecutor(collect.FLUSHERS, thread_name_prefix="portal-flush")
        # Opened before any upload is received: a write-back that fails from now on is seen.
        collect.flush_handle(portal)
        self.batches: list[int] = []  # sizes of the batches written (for the benchmark)
        self.commit_wait = COMMIT_WAIT
        # Uploads settled whose record is not yet written or given up (the event loop's thread
        # counts; the writer only reads): the records a commit may still wait for.
        self.pending = 0

    def _ensure(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="portal-recorder", daemon=True
                )
                self._thread.start()

    def settle(self, staged: collect.Staged) -> _Settling:
        """Queue a received upload's original to be made durable under its digest's name; hand
        what this returns to ``record`` (or ``forget``)."""
        job = _Settling(staged)
        self.pending += 1
        if staged.stored and staged.sha256 in self.portal.durable_blobs:
            job.done = True  # the same bytes, kept and flushed already: nothing to do
            return job
        self._ensure()
        self._queue.put(job)
        return job

    async def record(
        self, row: dict[str, Any], settling: _Settling | None = None, forget: Path | None = None
    ) -> int:
        """Write ``row`` (with whatever else is waiting); its id once committed, and only once
        the original being ``settling`` is durable (if that failed, so does this). The
        upload's name in tmp/ (``settling``'s, or ``forget``) is removed afterwards, without the
        answer waiting for it."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if settling is None:
            self._ensure()
            self._queue.put(_Record(row, settling, loop, future, forget))
            return await future
        self._ensure()
        self._queue.put(_Record(row, settling, loop, future, settling.staged.tmp))
        try:
            return await future
        finally:
            self.pending -= 1

    def forget(self, settling: _Settling) -> None:
        """The upload failed: its name in tmp/ goes (after its settling, off the event loop)."""
        self.pending -= 1
        self._ensure()
        if settling.staged.tmp is not None:
            self._queue.put(_Forget(settling.staged.tmp))

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                batch = [item]
                stop = self._take_waiting(batch)
                if not stop:
                    stop = self._wait_for_records(batch)
                self._batch(batch)
                if stop:
                    return
        finally:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    def _take_waiting(self, batch: list) -> bool:
        """Add every job already waiting to ``batch``; True when the end was among them."""
        while len(batch) < MAX_BATCH:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                return False
            if more is None:
                return True
            batch.append(more)
        return False

    def _wait_for_records(self, batch: list) -> bool:
        """When ``batch`` holds records and other uploads are still on their way to theirs,
        wait for them up to ``commit_wait`` (taking whatever else comes meanwhile): one
        commit for the group. True when the end came."""
        records = sum(isinstance(j, _Record) and j.settling is not None for j in batch)
        if not records or records >= self.pending or self.commit_wait <= 0:
            return False
        deadline = time.monotonic() + self.commit_wait
        while len(batch) < MAX_BATCH and records < self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                more = self._queue.get(timeout=left)
            except queue.Empty:
                return False
            if more is None:
                return True
            batch.append(more)
            records += isinstance(more, _Record) and more.settling is not None
        return False

    def _batch(self, batch: list) -> None:
        settling = [j for j in batch if isinstance(j, _Settling)]
        if settling:
            errors = collect.settle_many(self.portal, [j.staged for j in settling], self._flushers)
            for job, error in zip(settling, errors, strict=True):
                job.error, job.done = error, True
        records = [j for j in batch if isinstance(j, _Record)]
        if records:
            self._answer(self._write(records))
        for j in batch:
            path = j.forget if isinstance(j, _Record) else getattr(j, "path", None)
            if path is not None:
                _forget(path)

    def _write(
        self, records: list[_Record]
    ) -> list[tuple[_Record, int | None, BaseException | None]]:
        outcomes = []
        ready = []
        for r in records:
            s = r.settling
            if s is not None and not s.done:  # cannot happen: one queue, in order
                outcomes.append((r, None, RuntimeError("the original was not settled")))
            elif s is not None and s.error is not None:
                outcomes.append((r, None, s.error))
            else:
                ready.append(r)
        if not ready:
            return outcomes
        try:
            ids = self._insert_rows([r.row for r in ready])
        except Exception as exc:
            if len(ready) > 1:  # one bad row must not cost the others their record
                for r in ready:
                    outcomes += self._write([r])
                return outcomes
            outcomes.append((ready[0], None, exc))
            return outcomes
        self.batches.append(len(ready))
        outcomes += [(r, upload_id, None) for r, upload_id in zip(ready, ids, strict=True)]
        return outcomes

    def _insert_rows(self, rows: list[dict[str, Any]]) -> list[int]:
        """The rows written in one transaction (a connection held from the last batch is tried
        once more on a fresh one when it fails: the database may have been restarted)."""
        for attempt in (0, 1):
            fresh = self._conn is None
            if fresh:
                self._conn = self.portal.engine.connect()
            conn = self._conn
            try:
                with conn.begin():
                    if len(rows) == 1:
                        return [conn.execute(self._insert, rows[0]).inserted_primary_key[0]]
                    return list(conn.execute(self._insert_many, rows).scalars())
            except Exception:
                self._conn = None
                with contextlib.suppress(Exception):
                    conn.close()
                if fresh or attempt:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _answer(outcomes: list[tuple[_Record, int | None, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for r, upload_id, error in outcomes:
            by_loop.setdefault(r.loop, []).append((r.future, upload_id, error))
        for loop, answers in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, answers)

    def close(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(60)
        self._flushers.shutdown(wait=True)


def _resolve(answers: list[tuple[asyncio.Future, int | None, BaseException | None]]) -> None:
    for future, upload_id, error in answers:
        if future.done():  # the upload went away
            continue
        if error is None:
            future.set_result(upload_id)
        else:
            future.set_exception(error)


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
            if self.staged.tmp is not None:  # (never the original of bytes already kept)
                self.staged.tmp.unlink(missing_ok=True)
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
    try:  # python-multipart refuses some boundaries outright (longer than 256 bytes)
        form = UploadForm(portal, limit, params[b"boundary"], charset)
    except python_multipart.exceptions.FormParserError as exc:
        raise BadForm(str(exc)) from exc
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

    def start(self) -> None:
        self.checker.start()

    def close(self) -> None:
        self.recorder.close()
        self.checker.close()

    async def receive(
        self,
        unit: UnitRow,
        staged: collect.Staged,
        filename: str,
        *,
        received_ns: int,
        lang: str | None = None,
    ) -> tuple[int, str, collect.Checked]:
        """Check and record one staged upload (taking its staged file): (upload id, sha256,
        verdict, with the JSON answer in ``lang`` when one is given), returned once the
        original and its record are durable."""
        name = collect.display_name(filename)
        seen = collect.Seen(unit.name, unit.code, self.portal.year, name, lang)
        settling = self.recorder.settle(staged)  # flushed and linked while it is checked
        try:
            checked = await self.checker.check(staged.path, seen)
            row = {
                "unit_id": unit.id,
                "received_ns": received_ns,
                "sha256": staged.sha256,
                "size": staged.size,
                "filename": name,
                **checked.columns,
            }
        except BaseException:
            self.recorder.forget(settling)  # the upload failed: its staged name goes
            raise
        upload_id = await self.recorder.record(row, settling)
        return upload_id, staged.sha256, checked
