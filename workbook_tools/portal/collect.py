"""One upload, from bytes to verdict, and each unit's status from its newest upload.

An upload is received while its sha256 is computed (held in memory while small, else written
into the data folder's tmp/ as it comes), flushed to disk, then linked into blobs/ under its
digest (a link never replaces an existing file, and the same bytes under the same name need no
second copy: bytes already kept are not written again at all), and only then recorded in the
database. So a
server killed at any moment leaves either a complete recorded upload, or a stored original that
no record points to, or a tmp/ file that the next start removes: never a record without its file
and never half a file under a digest's name.

The verdict is ``check.check_file`` on the stored original, exactly as ``wbtools check`` runs it
(intake first, so nothing unsafe is parsed), plus what only the portal knows: whether the workbook
is this unit's and this year's (P104, P105).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
import unicodedata
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import insert, select

from .. import check, output
from ..findings import Finding, Severity
from ..merge import STATUS_TEXT
from ..roster import identity
from . import db
from .store import Portal, UnitRow

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
CHUNK = 1 << 16

# A unit's status: the checker's word on its newest upload, then the office's review of it.
STATES = {
    "missing": STATUS_TEXT["missing"],
    "failing": STATUS_TEXT["failing"],
    "passed": STATUS_TEXT["passed"],
    "approved": ("已审核", "approved"),
    "returned": ("退回修改", "returned for changes"),
}


@dataclass
class Review:
    state: str  # approved | returned
    reason: str
    at_ns: int


@dataclass
class Upload:
    id: int
    unit_id: int
    received_ns: int
    sha256: str
    size: int
    filename: str
    status: str  # passed | failing
    errors: int
    warnings: int
    file_unit: str
    file_year: int | None
    format_version: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    review: Review | None = None

    @property
    def state(self) -> str:
        """The office's review if there is one, else the checker's word."""
        return self.review.state if self.review else self.status

    def finding_objects(self) -> list[Finding]:
        return [
            Finding(
                f["code"],
                f.get("args") or {},
                sheet=f.get("sheet"),
                cell=f.get("cell"),
                datapoint=f.get("datapoint"),
                line=f.get("line"),
                severity=Severity(f["severity"]) if f.get("severity") else None,
            )
            for f in self.findings
        ]


@dataclass
class UnitState:
    unit: UnitRow
    newest: Upload | None
    uploads: int

    @property
    def status(self) -> str:
        if self.newest is None:
            return "missing"
        return self.newest.state

    def status_text(self, lang: str) -> str:
        return STATES[self.status][0 if lang == "zh" else 1]


def display_name(name: str | None) -> str:
    """The uploaded file's name as something to show: the last path part, no control
    characters, at most 200 characters. It is never used as a path."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    return text[:200] or "upload"


class TooLarge(Exception):
    """The upload went over the size limit while it was being received."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


def too_large_finding(limit: int) -> Finding:
    mb = limit / 1024 / 1024
    size = f"{mb:g} MB"
    return Finding("F106", {"detail": f"超过上传上限 {size} / over the {size} upload limit"})


DEFAULT_MIN_FREE = 256 * 1024 * 1024  # kept free for the database and the office's exports


def free_bytes(folder: Path) -> int | None:
    """Bytes free for this user on the file system of ``folder`` (None: not known)."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs (not a Unix): the write itself will tell
        return None
    return st.f_bavail * st.f_frsize


_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full"
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full


def out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it, or the database driver's error under it) says the
    disk, a quota or the database is full."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return True
        if getattr(e, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if _PG_DISK_FULL in (getattr(e, "sqlstate", None), getattr(e, "pgcode", None)):
            return True
        stack += [e.__cause__, e.__context__, getattr(e, "orig", None)]
    return False


@dataclass
class Staged:
    """An upload received: its bytes readable at ``path`` (not yet durable, not yet under its
    digest's name), or, when the same bytes are already kept (``stored``), ``path`` is that
    original itself and nothing of this upload is in tmp/."""

    path: Path
    sha256: str
    size: int
    stored: bool = False

    @property
    def tmp(self) -> Path | None:
        """This upload's own name in tmp/ (removed once it is settled or has failed); None
        when it has none (its bytes are an original already kept, which is never removed)."""
        return None if self.stored else self.path


# An upload up to this size is held in memory while it streams in, so that bytes already kept
# (the same workbook sent again) cost no file at all: on this file system every file made and
# removed again makes the next ones dearer to make (ext4 skips recently freed inodes). Larger
# uploads, and any beyond the budget of all uploads held at once, go to tmp/ as they come.
MEMORY_BYTES = 256 * 1024
MEMORY_BUDGET = 64 * 1024 * 1024


class Stager:
    """An upload being received: each piece hashed as it comes and the size limit enforced
    while it streams (TooLarge past it, nothing kept); held in memory while small, else written
    into the data folder's tmp/ as it comes. ``done`` gives what can be checked at once, while
    ``settle`` makes it durable."""

    held = 0  # bytes held in memory by every upload being received (MEMORY_BUDGET)
    _held_lock = threading.Lock()

    def __init__(self, portal: Portal, limit: int):
        self.portal = portal
        self.path: Path | None = None
        self.limit = limit
        self.size = 0
        self._fd: int | None = None  # the tmp/ file, written without a buffer object
        self._memory: bytearray | None = bytearray()
        self._digest = hashlib.sha256()

    def _open(self) -> None:
        # A fresh random name of our own, created exclusively (never one that exists), private
        # to this user: what mkstemp does, without its per-call set-up.
        tmp_dir = self.portal.folder / "tmp"
        name = f"{tmp_dir}/upload-{secrets.token_hex(12)}.part"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(name, flags, 0o600)
        except FileNotFoundError:  # made once
            tmp_dir.mkdir(exist_ok=True)
            fd = os.open(name, flags, 0o600)
        self.path = Path(name)
        self._fd = fd

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        # os.write straight from the chunk: a file object would add its own system calls
        # (fstat, ioctl, lseek: each one a moment without the GIL, so a hand-off between
        # threads under load) and a copy.
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    @classmethod
    def _hold(cls, n: int) -> bool:
        with cls._held_lock:
            if cls.held + n > MEMORY_BUDGET:
                return False
            cls.held += n
            return True

    def _release(self) -> None:
        if self._memory is not None:
            with Stager._held_lock:
                Stager.held -= len(self._memory)
            self._memory = None

    def write(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise TooLarge(self.limit)
        self._digest.update(chunk)
        memory = self._memory
        if memory is not None:
            if self.size <= MEMORY_BYTES and self._hold(len(chunk)):
                memory += chunk
                return
            self._open()  # too big to hold: to tmp/, with what came so far
            self._write(memory)
            self._release()
        self._write(chunk)

    def done(self) -> Staged:
        sha = self._digest.hexdigest()
        if self._memory is not None:
            memory = self._memory
            self._release()
            final = self.portal.blob_path(sha)
            if final.is_file():  # the same bytes are kept already: no file of its own
                return Staged(final, sha, self.size, stored=True)
            self._open()
            self._write(memory)
        os.close(self._fd)
        self._fd = None
        return Staged(self.path, sha, self.size)

    def discard(self) -> None:
        """Nothing of this upload is kept."""
        self._release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.path.unlink(missing_ok=True)


def stage(portal: Portal, chunks: Iterable[bytes], limit: int) -> Staged:
    """Receive ``chunks`` into the data folder's tmp/, hashing as they come. Raises TooLarge
    (and keeps nothing) past ``limit`` bytes."""
    stager = Stager(portal, limit)
    try:
        for chunk in chunks:
            stager.write(chunk)
    except BaseException:
        stager.discard()
        raise
    return stager.done()


def settle(portal: Portal, staged: Staged) -> Path:
    """Put a staged upload under its digest's name, durably (``settle_many`` of one)."""
    (error,) = settle_many(portal, [staged])
    if error is not None:
        raise error
    return portal.blob_path(staged.sha256)


def settle_many(
    portal: Portal, uploads: list[Staged], flush_with: Executor | None = None
) -> list[Exception | None]:
    """Put staged uploads under their digests' names: their bytes are on disk first, so a name
    never stands for half a file even after a power cut; a link never replaces, and the same
    bytes under the same name need no second copy (another upload of them may still be on its
    way to disk: the name is made durable in any case); then the names are made durable. An
    upload whose bytes were already kept (``stored``) is that original: its bytes were on disk
    before it was named, so only its name is made durable, once per process. What went wrong
    for each upload, or None.

    Where the system has it (Linux), both steps are one ``syncfs`` of the data folder's file
    system each, for the whole batch (``flush_handle``): the kernel writes every file and
    folder of the batch together, with one cache flush of the disk, where a flush of each file
    and each folder costs their own writes, waits and flushes (measured: about half the
    server's and the kernel threads' CPU per upload in batches, no more for one). Elsewhere
    each file is flushed (``flush_with``: threads to flush several at once), then each folder
    once for all its files."""
    errors: list[Exception | None] = [None] * len(uploads)
    # Bytes this process has already made durable under their name need nothing more.
    wanted = [i for i, s in enumerate(uploads) if s.sha256 not in portal.durable_blobs]
    fresh = [i for i in wanted if not uploads[i].stored]
    whole = flush_handle(portal)
    if whole is not None:
        if fresh:
            error = _syncfs(whole)
            for i in fresh:
                errors[i] = error
    elif flush_with is not None and len(fresh) > 1:
        # Each flush waits for the disk, hardly for the CPU: several at once let the file
        # system write them together (one after another, a batch of 200 waits ~200 disk
        # round trips). Each thread takes its share of the batch as one job: a job per file
        # would cost a hand-off between threads per file.
        share = min(FLUSHERS, len(fresh))
        for group, flushed in zip(
            (fresh[k::share] for k in range(share)),
            flush_with.map(
                _flush_all, ([uploads[i].path for i in fresh[k::share]] for k in range(share))
            ),
            strict=True,
        ):
            for i, error in zip(group, flushed, strict=True):
                errors[i] = error
    else:
        for i in fresh:
            errors[i] = _flush(uploads[i].path)
    finals: dict[int, Path] = {}
    for i in wanted:
        if errors[i] is None:
            try:
                finals[i] = portal.blob_path(uploads[i].sha256)
            except ValueError as exc:
                errors[i] = exc
    # A new sub-folder is itself an entry of blobs/: made durable too (once for all made
    # here), or a power cut could take the folder, and every original in it, from under
    # records already written. Made durable by whoever has not seen it so (another process
    # may have just made it).
    new = {f.parent for f in finals.values()} - portal.durable_dirs
    if new:
        try:
            for folder in new:
                folder.mkdir(parents=True, exist_ok=True)
            if whole is None:  # (else the syncfs below takes blobs/ too)
                _fsync_dir(portal.folder / "blobs")
        except Exception as exc:
            for i, final in list(finals.items()):
                if final.parent in new:
                    errors[i] = exc
                    del finals[i]
            new = set()
    folders: dict[Path, list[int]] = {}
    for i, final in finals.items():
        if not uploads[i].stored:
            try:
                with contextlib.suppress(FileExistsError):
                    os.link(uploads[i].path, final)
            except Exception as exc:  # this upload fails; the others go on
                errors[i] = exc
                continue
        folders.setdefault(final.parent, []).append(i)
    if whole is not None:
        if folders:
            error = _syncfs(whole)
            for members in folders.values():
                for i in members:
                    errors[i] = error
            if error is None:
                portal.durable_dirs.update(new)
                portal.durable_blobs.update(
                    uploads[i].sha256 for members in folders.values() for i in members
                )
        return errors
    portal.durable_dirs.update(new)
    for folder, members in folders.items():
        try:
            _fsync_dir(folder)
        except Exception as exc:
            for i in members:
                errors[i] = exc
        else:
            portal.durable_blobs.update(uploads[i].sha256 for i in members)
    return errors


def store_original(portal: Portal, chunks: Iterable[bytes], limit: int) -> tuple[str, int]:
    """Receive ``chunks`` into the data folder; return (sha256, size) once the original is safely
    under its digest's name. Raises TooLarge (and keeps nothing) past ``limit`` bytes."""
    staged = stage(portal, chunks, limit)
    try:
        settle(portal, staged)
    finally:
        if staged.tmp is not None:
            staged.tmp.unlink(missing_ok=True)
    return staged.sha256, staged.size


FLUSHERS = 4  # threads flushing a batch's files at once (``settle_many``)


def _flush(path: Path) -> Exception | None:
    """Flush a file's bytes to disk; what went wrong, or None. (No file object: its own
    system calls would each be a moment without the GIL, a hand-off between threads.)"""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except Exception as exc:
        return exc
    return None


def _flush_all(paths: list[Path]) -> list[Exception | None]:
    return [_flush(p) for p in paths]


def _libc_syncfs():
    """The C library's ``syncfs`` (Linux: flush one file system, everything on it, in one
    call; since Linux 5.8 it reports a write that failed since the descriptor was opened), or
    None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int]
    call.restype = ctypes.c_int
    return call


SYNCFS = _libc_syncfs()  # None: each file and folder is flushed on its own


def flush_handle(portal: Portal) -> int | None:
    """A descriptor of the data folder's blobs/ for ``syncfs`` (held open by the portal, so a
    failed write-back anywhere on that file system since it was opened fails the next batch
    instead of going unseen), or None where there is no syncfs. Opened when the portal starts
    receiving (``Recorder``), before any upload is written."""
    if SYNCFS is None:
        return None
    return portal.folder_handle("blobs")


def _syncfs(fd: int) -> Exception | None:
    """Everything written on ``fd``'s file system is on disk (files, names, folders); what went
    wrong, or None."""
    if SYNCFS(fd) == 0:
        return None
    import ctypes

    code = ctypes.get_errno()
    return OSError(code, f"syncfs: {os.strerror(code)}")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def verdict(portal: Portal, unit: UnitRow, sha: str, filename: str) -> check.Report:
    """The checker's report on a stored original, as the unit sees it: the file is named by the
    name it was sent under (never the server's path), plus P104/P105 when it is another unit's or
    another year's workbook."""
    return as_seen(portal, unit, check.check_file(portal.blob_path(sha), portal.spec), filename)


def as_seen(portal: Portal, unit: UnitRow, report: check.Report, filename: str) -> check.Report:
    """``report`` (of this upload's bytes, wherever they were read) as the unit sees it: named
    by the name it was sent under, plus P104/P105."""
    return _as_seen(report, unit, portal.year, filename)


def _as_seen(report: check.Report, unit: UnitRow | Seen, year: int, filename: str) -> check.Report:
    findings = [f.replace(file=filename) for f in report.findings]
    filing = report.filing
    if filing.readable:
        if filing.unit and not _same_unit(filing, unit):
            findings.append(
                Finding("P104", {"found": filing.unit, "expected": unit.name}, file=filename)
            )
        if filing.year and filing.year != year:
            findings.append(
                Finding("P105", {"found": filing.year, "expected": year}, file=filename)
            )
        findings = check.sort_findings(findings, filing.spec)
    filing.path = filename
    return check.Report(filename, filing, findings)


def _same_unit(filing, unit: UnitRow | Seen) -> bool:
    if filing.code and unit.code:
        return identity(filing.code) == identity(unit.code)
    return identity(filing.unit) == identity(unit.name)


def _finding_record(f: Finding, spec) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.level(spec).value,
        "args": f.args,
        "sheet": f.sheet,
        "cell": f.cell,
        "datapoint": f.datapoint,
        "line": f.line,
    }


def record_row(
    portal: Portal,
    unit: UnitRow,
    report: check.Report,
    sha: str,
    size: int,
    filename: str,
    received_ns: int,
) -> dict[str, Any]:
    """The database row of a checked upload."""
    return {
        "unit_id": unit.id,
        "received_ns": received_ns,
        "sha256": sha,
        "size": size,
        "filename": filename,
        **_checked_columns(report, report.filing.spec or portal.spec),
    }


def _checked_columns(report: check.Report, spec) -> dict[str, Any]:
    """What the check decides of an upload's row (the rest is who sent which bytes when)."""
    errors = report.errors
    return {
        "status": "passed" if report.readable and not errors else "failing",
        "errors": errors if report.readable else max(1, errors),
        "warnings": report.warnings,
        "file_unit": (report.filing.unit or "")[:200],
        "file_year": report.filing.year,
        "format_version": (report.filing.meta.get("format_version") or "")[:50],
        "findings": json.dumps(
            [_finding_record(f, spec) for f in report.findings], ensure_ascii=False, default=str
        ),
    }


class Seen(NamedTuple):
    """Whom an upload is checked for, and how it is answered: what the checking process needs
    besides the bytes to give the verdict as the unit sees it (``judge``). A tuple: it crosses
    to the checking process as plain values."""

    name: str  # the unit's, as on the roster (P104)
    code: str
    year: int  # the portal's (P105)
    filename: str  # the name it was sent under, as shown
    lang: str | None  # the JSON answer's language; None when no JSON answer is wanted


@dataclass
class Checked:
    """An upload's verdict, ready for its record and its answer: the row's columns the check
    decides, and ``wbtools check --format json``'s document for the file (one line, UTF-8)
    without the upload's id and sha256, which only the record gives."""

    columns: dict[str, Any]
    answer: bytes | None  # None when no JSON answer was asked for

    def answer_with(self, upload_id: int, sha: str) -> bytes:
        """The JSON answer: the document with the upload's id and sha256 at its end (what
        ``as_json`` gives, byte for byte)."""
        assert self.answer is not None and self.answer.endswith(b"}")
        return b'%s,"upload_id":%d,"sha256":"%s"}' % (self.answer[:-1], upload_id, sha.encode())


def judge(report: check.Report, seen: Seen, spec) -> Checked:
    """``report`` of an upload's bytes (as ``check.check_file`` gives it) made its verdict as
    ``seen`` sees it: P104/P105 added, the record's columns and the JSON answer made. Run where
    the check ran (a checking process), so the server gets bytes and a few numbers back."""
    report.filing.spec = spec if report.filing.readable else None
    report = _as_seen(report, seen, seen.year, seen.filename)
    spec_of = report.filing.spec or spec
    answer = None
    if seen.lang is not None:
        answer = output.compact_json(output.document([report], spec_of, seen.lang)).encode()
    return Checked(_checked_columns(report, spec_of), answer)


def record(
    portal: Portal,
    unit: UnitRow,
    report: check.Report,
    sha: str,
    size: int,
    filename: str,
    received_ns: int,
) -> int:
    """Record a checked upload (its original is already stored); returns the upload id."""
    row = record_row(portal, unit, report, sha, size, filename, received_ns)
    with portal.engine.begin() as conn:
        return conn.execute(insert(db.uploads).values(**row)).inserted_primary_key[0]


def receive(
    portal: Portal,
    unit: UnitRow,
    chunks: Iterable[bytes],
    filename: str,
    *,
    limit: int = DEFAULT_MAX_BYTES,
    received_ns: int | None = None,
) -> tuple[int, str, check.Report]:
    """Store, check and record one upload: (upload id, sha256, report)."""
    received_ns = received_ns or time.time_ns()
    name = display_name(filename)
    sha, size = store_original(portal, chunks, limit)
    report = verdict(portal, unit, sha, name)
    upload_id = record(portal, unit, report, sha, size, name, received_ns)
    return upload_id, sha, report


def as_json(
    portal: Portal, report: check.Report, upload_id: int | None, sha: str | None, lang: str
) -> bytes:
    """What ``wbtools check --format json`` prints for this file, plus the upload's id and
    sha256 (the same document, on one line)."""
    document = output.document([report], report.filing.spec or portal.spec, lang)
    document["upload_id"] = upload_id
    document["sha256"] = sha
    return output.compact_json(document).encode()


def refused_report(filename: str, finding: Finding) -> check.Report:
    """A report for an upload that was refused before it was stored (over the size limit)."""
    from ..filing import Filing

    name = display_name(filename)
    return check.Report(name, Filing(name), [finding.replace(file=name)])


# --- reading back -----------------------------------------------------------------------------

_LIST_COLUMNS = [c for c in db.uploads.c if c.name != "findings"]


def _upload(row: Any, with_findings: bool) -> Upload:
    return Upload(
        id=row.id,
        unit_id=row.unit_id,
        received_ns=row.received_ns,
        sha256=row.sha256,
        size=row.size,
        filename=row.filename,
        status=row.status,
        errors=row.errors,
        warnings=row.warnings,
        file_unit=row.file_unit,
        file_year=row.file_year,
        format_version=row.format_version,
        findings=json.loads(row.findings) if with_findings else [],
    )


def _attach_reviews(conn, uploads: list[Upload]) -> None:
    by_id = {u.id: u for u in uploads}
    if not by_id:
        return
    query = (
        select(db.reviews)
        .where(db.reviews.c.upload_id.in_(list(by_id)))
        .order_by(db.reviews.c.at_ns, db.reviews.c.id)
    )
    for r in conn.execute(query):
        by_id[r.upload_id].review = Review(r.state, r.reason, r.at_ns)  # the latest review wins


def history(portal: Portal, unit_id: int) -> list[Upload]:
    """A unit's uploads, newest first."""
    query = (
        select(*_LIST_COLUMNS)
        .where(db.uploads.c.unit_id == unit_id)
        .order_by(db.uploads.c.received_ns.desc(), db.uploads.c.id.desc())
    )
    with portal.engine.connect() as conn:
        out = [_upload(r, False) for r in conn.execute(query)]
        _attach_reviews(conn, out)
    return out


def upload(portal: Portal, upload_id: int, unit_id: int | None = None) -> Upload | None:
    """One upload with its findings (only if it belongs to ``unit_id``, when given)."""
    query = select(db.uploads).where(db.uploads.c.id == upload_id)
    if unit_id is not None:
        query = query.where(db.uploads.c.unit_id == unit_id)
    with portal.engine.connect() as conn:
        row = conn.execute(query).first()
        if row is None:
            return None
        out = _upload(row, True)
        _attach_reviews(conn, [out])
    return out


def states(portal: Portal) -> list[UnitState]:
    """Every roster unit with its newest upload (and that upload's review) and upload count."""
    units = portal.units()
    query = select(*_LIST_COLUMNS).order_by(
        db.uploads.c.unit_id, db.uploads.c.received_ns.desc(), db.uploads.c.id.desc()
    )
    newest: dict[int, Upload] = {}
    counts: dict[int, int] = {}
    with portal.engine.connect() as conn:
        for r in conn.execute(query):
            counts[r.unit_id] = counts.get(r.unit_id, 0) + 1
            if r.unit_id not in newest:
                newest[r.unit_id] = _upload(r, False)
        _attach_reviews(conn, list(newest.values()))
    return [UnitState(u, newest.get(u.id), counts.get(u.id, 0)) for u in units]


def newest(portal: Portal, unit_id: int) -> Upload | None:
    found = history(portal, unit_id)
    return found[0] if found else None


def review(portal: Portal, unit_id: int, upload_id: int, state: str, reason: str) -> bool:
    """The office's word on a unit's newest upload: approved (only a passed one) or returned
    with a reason the unit sees. False when the upload is not the unit's newest."""
    current = newest(portal, unit_id)
    if current is None or current.id != upload_id or state not in ("approved", "returned"):
        return False
    if state == "approved" and current.status != "passed":
        return False
    with portal.engine.begin() as conn:
        conn.execute(
            insert(db.reviews).values(
                upload_id=upload_id, state=state, reason=reason.strip()[:2000], at_ns=time.time_ns()
            )
        )
    return True
