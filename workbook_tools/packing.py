"""Pack a constant-memory xlsxwriter workbook with its big sheets put together and deflated in a
thread.

xlsxwriter makes every part of the .xlsx zip only in ``close()``: each sheet's XML is put together
from the rows kept in its temporary file (read and written again as text), then deflated by
``zipfile``, one part after another, in the calling thread. The county workbook's sheets with a
row per file are most of that work (分单位明细 is ~12 KB of XML per file), done by the merge's
parent alone after the pool while the other core idles. ``Book.finish(sheet)``, as soon as a
sheet's last row is written, makes the XML before and after its rows, and a thread copies the
rows between them and deflates the whole (file I/O and zlib let go of the GIL) while the caller
writes the next sheets; ``close()`` then puts the bytes deflated ahead into the zip.
``Book.finish_elsewhere(sheet, write)`` goes further where a second core is free (a merge read
by two processes): a forked child writes the sheet, puts it together and deflates it while this
process writes the others, and ``adopt`` takes its part in as one made ahead.

xlsxwriter's packager also writes every other part (the other sheets, styles, charts, the
workbook's lists: 26 in the county workbook) to a temporary file, sets its time, reads it back
into the zip and removes it: on this project's ext4 disk (mounted with discard) that cost ~20 ms
of CPU and 0.1-0.3 s of waiting per workbook, under load. ``Book`` has the packager make them in memory instead (xlsxwriter's ``in_memory``
packing, kept from turning constant memory off) and gives each zip entry the time and mode the
temporary file would have given it.

The file holds what xlsxwriter writes on its own, part for part: the same XML (xlsxwriter's
own ``_assemble_xml_file``, earlier, with the rows copied as bytes) in the same zip entries (the
packager's file's time and mode; the checksum and size counted as the rows were copied). Only the
deflated bytes of the parts made ahead differ: they are deflated with ISA-L (``isal``, already
what intake inflates with) at its default level, ~20 times faster than zlib's level 6, which
zipfile uses, for parts ~20% bigger (2.4 MB of 分单位明细's XML at 200 files: 2 ms instead of
40, on the path the merge waits for). A test compares the two files part for part.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from io import StringIO
from typing import Any

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

_CHUNK = 1 << 18  # bytes read, copied and deflated at a time (256 KiB: memory stays small)

# Parts deflated ahead, by the name of the (empty) file the packager made for the part, or by the
# mark written in its place when the packager works in memory: the part's token and the future
# of its deflated bytes (their file, checksum and size). Keys are fresh temporary file names and
# tokens, so workbooks closed at once in several threads never meet here.
_AHEAD: dict[str, tuple[str, Future]] = {}
_PACKED: set[str] = set()  # tokens of the parts put into a zip (Book.close checks its own)
_TOKENS = itertools.count()
_MARK = "\x00wbtools-ahead:"  # (no XML part holds a NUL: it cannot be taken for one)
_LOCAL = threading.local()  # the zip entries' mode while a Book packs in memory, in this thread


def _pack(pieces: list[str], tmpdir: str | None) -> tuple[str, int, int]:
    """A part's XML put together from ``pieces`` (files, removed once read) and deflated (raw
    deflate, as a zip entry holds it; by ISA-L) into a temporary file: that file's path, and the
    XML's CRC-32 and size (what the zip entry records). Run in the thread: reading, writing,
    deflating and the checksum let go of the GIL."""
    from isal import isal_zlib

    fd, path = tempfile.mkstemp(dir=tmpdir, prefix="wbtools-part-")
    crc = size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            z = isal_zlib.compressobj(isal_zlib.ISAL_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            for piece in pieces:
                with open(piece, "rb") as src:
                    while data := src.read(_CHUNK):
                        crc = zlib.crc32(data, crc)
                        size += len(data)
                        out.write(z.compress(data))
            out.write(z.flush())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        for piece in pieces:
            with contextlib.suppress(OSError):
                os.unlink(piece)
    return path, crc, size


class _Deflated:
    """Stands in for zipfile's compressor of one part whose deflated bytes are written directly
    (``_ZipFile._write_ahead``): nothing is left to flush."""

    @staticmethod
    def flush() -> bytes:
        return b""


# What xlsxwriter's packing through temporary files gives each zip entry: the time it sets on the
# file (31 January 1980, local time, read back as a local time) and, for the mode, mkstemp's
# 0o600 (less the umask, which keeps the owner's bits in any usual setting).
_PART_TIME = time.localtime(time.mktime((1980, 1, 31, 0, 0, 0, 0, 0, -1)))[0:6]
_PART_ATTR = (stat.S_IFREG | 0o600) << 16


class _ZipFile(zipfile.ZipFile):
    """zipfile's ZipFile, but a part deflated ahead (``_AHEAD``) is written from its deflated
    bytes, and while a ``Book`` packs in memory each part gets the entry a temporary file would
    have given it. Every other part, and every other workbook's, is written exactly as by
    ZipFile."""

    raw = True  # False: a part made ahead is inflated and written as any part (a test compares)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_memory = getattr(_LOCAL, "packing", False)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        ahead = _AHEAD.pop(os.fspath(filename), None)
        if ahead is None:
            return super().write(filename, arcname, compress_type, compresslevel)
        # the entry as ZipFile.write makes it for the packager's (empty) file: its time and mode
        zinfo = zipfile.ZipInfo.from_file(
            filename, arcname, strict_timestamps=self._strict_timestamps
        )
        zinfo.compress_type = self.compression if compress_type is None else compress_type
        zinfo._compresslevel = self.compresslevel if compresslevel is None else compresslevel
        return self._write_ahead(zinfo, ahead)

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if not (self._in_memory and isinstance(zinfo_or_arcname, zipfile.ZipInfo)):
            return super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)
        zinfo = zinfo_or_arcname  # xlsxwriter's in-memory part: the temporary file's entry
        zinfo.date_time, zinfo.external_attr = _PART_TIME, _PART_ATTR
        ahead = _AHEAD.pop(data.decode("utf-8", "replace"), None) if data[:1] == b"\0" else None
        if ahead is None:
            return super().writestr(zinfo, data, compress_type, compresslevel)
        if compress_type is not None:
            zinfo.compress_type = compress_type
        if compresslevel is not None:
            zinfo._compresslevel = compresslevel
        return self._write_ahead(zinfo, ahead)

    def _write_ahead(self, zinfo: zipfile.ZipInfo, ahead: tuple[str, Future]) -> None:
        token, future = ahead
        path, crc, size = future.result()
        try:
            zinfo.file_size = size
            with open(path, "rb") as made, self._lock, self.open(zinfo, mode="w") as dest:
                raw = (
                    self.raw
                    and zinfo.compress_type == zipfile.ZIP_DEFLATED
                    and zinfo._compresslevel is None
                    and all(
                        hasattr(dest, a)
                        for a in ("_compressor", "_crc", "_file_size", "_compress_size")
                    )
                )
                if raw:  # the bytes deflated ahead as they are, with their checksum and size
                    dest._compressor = _Deflated()
                    while chunk := made.read(_CHUNK):
                        dest._fileobj.write(chunk)
                        dest._compress_size += len(chunk)
                    dest._crc, dest._file_size = crc, size
                else:  # another compression asked for (or another zipfile): the XML itself
                    z = zlib.decompressobj(-15)
                    while chunk := made.read(_CHUNK):
                        dest.write(z.decompress(chunk))
                    dest.write(z.flush())
            _PACKED.add(token)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)


# xlsxwriter's packing calls ZipFile by the name it imported; the subclass writes every part not
# deflated ahead exactly as ZipFile does, so all other workbooks are unaffected.
xlsxwriter.workbook.ZipFile = _ZipFile


class Ahead(Worksheet):
    """A worksheet that ``Book.finish`` can put together before the workbook is closed: the
    packager then takes the XML made and deflated ahead instead of making it again."""

    ahead: tuple[str, Future] | None = None  # (its token, the future of its deflated bytes)
    _pieces: list[str] | None = None  # while finish() puts its XML together: the files of it

    def _write_optimized_sheet_data(self) -> None:
        if self._pieces is None or self.dim_rowmin is None:
            super()._write_optimized_sheet_data()
            return
        # The rows stay in their file, copied into the XML by the thread as bytes: the bytes
        # xlsxwriter's copy writes (through text, which only decodes and encodes them again;
        # the rows hold no bare "\r" a text read would turn into "\n": it is written _x000D_)
        self._xml_start_tag("sheetData")
        self.fh.close()
        self.row_data_fh.close()
        fd, tail = tempfile.mkstemp(dir=self.tmpdir)
        os.close(fd)
        self._pieces += [self.row_data_filename, tail]
        self.fh = open(tail, "w", encoding="utf-8")  # noqa: SIM115 (as _set_xml_writer opens it)
        self._xml_end_tag("sheetData")

    def _opt_reopen(self) -> None:
        if self.ahead is None:
            super()._opt_reopen()

    def _write_single_row(self, current_row_num: int = 0) -> None:
        if self.ahead is None:  # (all its rows went out when it was finished)
            super()._write_single_row(current_row_num)

    def _set_xml_writer(self, filename) -> None:
        if self.ahead is None:
            super()._set_xml_writer(filename)
        elif isinstance(filename, StringIO):  # in memory: a mark the zip takes the part for
            filename.write(_MARK + self.ahead[0])
            _AHEAD[_MARK + self.ahead[0]] = self.ahead
        elif isinstance(filename, str | os.PathLike):  # the packager's file for this part
            _AHEAD[os.fspath(filename)] = self.ahead
        else:
            super()._set_xml_writer(filename)

    def _assemble_xml_file(self) -> None:
        if self.ahead is None:
            super()._assemble_xml_file()


class Book(xlsxwriter.Workbook):
    """A workbook whose finished sheets (``finish``) are deflated in a thread meanwhile."""

    enabled = True  # False: every part made in close(), as xlsxwriter does (a test compares)

    def __init__(self, filename: Any, options: dict | None = None) -> None:
        super().__init__(filename, options)
        self._pool: ThreadPoolExecutor | None = None
        self._finished: list[Ahead] = []
        self._children: list[_Elsewhere] = []  # finish_elsewhere's, not yet adopted

    def _can_finish(self, ws: Worksheet) -> bool:
        """Whether ``ws`` can be put together before close(): a constant-memory sheet that is
        not the first or active one, without drawings, comments, tables or images (what close()
        adds to a sheet's XML)."""
        return bool(
            self.enabled
            and isinstance(ws, Ahead)
            and ws.ahead is None
            and ws.constant_memory
            and not self.in_memory
            # close() marks the first or active sheet selected in its XML
            and ws.index not in (0, self.worksheet_meta.activesheet)
            and not (ws.selected or ws.active)
            and not (ws.charts or ws.images or ws.shapes or ws.tables or ws.comments)
            and not (ws.buttons_list or ws.header_images or ws.footer_images)
            and not ws.background_image
        )

    def _put_together(self, ws: Ahead) -> list[str]:
        """``ws``'s XML as files to be copied one after another: the XML before its rows, its
        rows' file, the XML after them."""
        ws._opt_reopen()
        ws._write_single_row()  # the last row out, as the packager does
        fd, head = tempfile.mkstemp(dir=self.tmpdir)
        os.close(fd)
        ws._pieces = pieces = [head]  # then its rows' file and the XML after them
        try:
            ws._set_xml_writer(head)
            ws._assemble_xml_file()
        except BaseException:
            for path in pieces:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        finally:
            ws._pieces = None
        return pieces

    def finish(self, ws: Worksheet) -> None:
        """Put ``ws``'s XML together now and deflate it in a thread: nothing may be written to
        it, nor may it be activated, after this. Only a sheet ``_can_finish``; any other is
        left to close()."""
        if not self._can_finish(ws):
            return
        pieces = self._put_together(ws)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="wbtools-deflate")
        token = f"{os.getpid()}.{next(_TOKENS)}"
        ws.ahead = (token, self._pool.submit(_pack, pieces, self.tmpdir))
        self._finished.append(ws)

    def finish_elsewhere(
        self,
        ws: Worksheet,
        write: Callable[[Worksheet], None],
        setup: Callable[[], None],
        first: Sequence[Format] = (),
    ) -> _Elsewhere | None:
        """Write ``ws`` by ``write(ws)``, put it together and deflate it (as ``finish``) in a
        forked child process, while this one writes the other sheets: a merge's second core,
        idle once its pool is done. ``setup()`` runs first in the child (files it reads get
        handles of their own: a handle shared with this process shares its offset). ``first``
        are the formats this process numbers meanwhile, in the order it numbers them (the
        sheets before ``ws``, written after the fork): the child numbers them so before its
        own, and ``adopt`` checks that this process did exactly that. ``adopt`` takes the
        part in; until then nothing but ``adopt`` and ``discard`` may touch ``ws``.
        None, having done nothing, where no child can be forked safely (not Linux, or threads
        running: a fork copies only the calling thread, and a lock another one holds stays held
        in the child), or ``ws`` could not be finished: the caller writes it itself."""
        if not (
            sys.platform.startswith("linux")
            and hasattr(os, "fork")
            and threading.active_count() == 1
            and self._can_finish(ws)
            and ws.dim_rowmin is None  # nothing written to it yet
        ):
            return None
        from . import bounded

        before = _Formats(self)
        # the child's files in a folder of their own, removed by this process however the child
        # ends (killed, it cleans up nothing)
        folder = tempfile.mkdtemp(dir=self.tmpdir, prefix="wbtools-sheet-")
        work = functools.partial(
            _write_elsewhere, self, ws, write, setup, tuple(first), before, folder
        )
        child = _Elsewhere(bounded.start(work), before, folder)
        self._children.append(child)
        return child

    def adopt(self, child: _Elsewhere, ws: Worksheet) -> bool:
        """Wait for ``child`` (``finish_elsewhere``) and take its part in as a part made ahead
        of ``ws``: the formats the child numbered numbered the same here, the settings of the
        sheet the workbook's other parts read (print titles, filters) copied. False where it
        failed, or this process numbered formats meanwhile other than the child's ``first``
        in their order (the numbers would clash): the part is dropped and the caller writes
        ``ws`` itself, as if never sent."""
        made = child.made()
        if made is None or not child.formats.unchanged(self, made[5]):
            self._children.remove(child)
            child.clean()
            return False
        path, crc, size, numbered, state, _ = made
        for key, index in numbered[0]:
            self.xf_format_indices[key] = index
        for i, index in numbered[1]:
            self.formats[i].xf_index = index
        for name, value in state.items():
            setattr(ws, name, value)
        # this process's row file of the sheet, never written to: closed and removed
        ws.row_data_fh.close()
        ws.row_data_fh_closed = True
        with contextlib.suppress(OSError):
            os.unlink(ws.row_data_filename)
        done: Future = Future()
        done.set_result((path, crc, size))
        ws.ahead = (f"{os.getpid()}.{next(_TOKENS)}", done)
        self._finished.append(ws)
        return True

    def _store_workbook(self) -> None:
        # The packager's parts in memory rather than in ~26 temporary files (each entry given
        # the temporary file's time and mode: _ZipFile.writestr); constant memory stays as it
        # is for the sheets' rows. Images and VBA are copied with their own file modes: a
        # workbook with them is packed through files, as xlsxwriter does.
        plain = not (
            self.images
            or self.embedded_images.images
            or self.vba_project
            or self.vba_project_signature
        )
        if not (self.enabled and plain) or self.in_memory:
            super()._store_workbook()
            return
        self.in_memory, _LOCAL.packing = True, True
        try:
            super()._store_workbook()
        finally:
            self.in_memory, _LOCAL.packing = False, False

    def close(self) -> None:
        try:
            super().close()
            # each part made ahead is counted once it is in the zip (_ZipFile._write_ahead); one
            # not counted went in as the packager's empty file or mark (should xlsxwriter stop
            # calling ZipFile by the name patched above): fail rather than leave a sheet empty
            packed = [ws.ahead[0] in _PACKED for ws in self._finished]
            for ws in self._finished:
                _PACKED.discard(ws.ahead[0])
            if not all(packed):
                raise RuntimeError("a sheet made ahead was not packed")
            if any(ws.selected or ws.active for ws in self._finished):
                raise RuntimeError("a sheet made ahead was made the active sheet after")
        finally:
            self.discard()

    def discard(self) -> None:
        """Drop what ``finish`` made that close() did not take (a failed write)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for child in self._children:  # (its folder, with the part if it was not packed)
            child.made()
            child.clean()
        self._children = []
        for ws in self._finished:
            token, future = ws.ahead
            for key in [k for k, v in _AHEAD.items() if v is ws.ahead]:
                _AHEAD.pop(key, None)
            _PACKED.discard(token)
            if future.done() and future.exception() is None:
                with contextlib.suppress(OSError):
                    os.unlink(future.result()[0])
        self._finished = []


# What the workbook's other parts (its list of sheets, defined names, metadata) read of a sheet:
# a sheet made in a child (finish_elsewhere) has them set there; the parent's copy takes them.
_SHEET_STATE = (
    "autofilter_area",
    "print_area_range",
    "repeat_row_range",
    "repeat_col_range",
    "hidden",
    "has_dynamic_arrays",
)


class _Formats:
    """How far a workbook has numbered its formats (xlsxwriter numbers a format when a cell
    first uses it, in that order): what a child numbered after it is numbered the same in the
    parent, provided the parent numbered none meanwhile."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.count = len(book.xf_format_indices)
        self.dxf = len(book.dxf_format_indices)
        self.unnumbered = [i for i, f in enumerate(book.formats) if f.xf_index is None]
        self.formats = len(book.formats)

    def numbered_since(self, book: xlsxwriter.Workbook) -> tuple[list, list]:
        keys = list(book.xf_format_indices.items())[self.count :]
        formats = [(i, book.formats[i].xf_index) for i in self.unnumbered]
        return keys, [(i, x) for i, x in formats if x is not None]

    def unchanged(self, book: xlsxwriter.Workbook, expected: tuple[list, list]) -> bool:
        """Whether ``book`` numbered exactly ``expected`` since (``numbered_since``: the
        child's ``first``), in that order, and nothing else."""
        return (
            len(book.dxf_format_indices) == self.dxf
            and len(book.formats) == self.formats
            and self.numbered_since(book) == expected
        )


class _Elsewhere:
    """A sheet being made in a forked child (``Book.finish_elsewhere``)."""

    def __init__(self, child: Any, formats: _Formats, folder: str) -> None:
        self.child, self.formats, self.folder = child, formats, folder

    def made(self) -> tuple | None:
        """The child's part (file, checksum, size), the formats it numbered and the sheet's
        settings (waiting for it); None where it failed."""
        from . import bounded

        try:
            # not waiting for the child to exit: the parent goes on packing meanwhile
            return self.child.result(reap=False)
        except (bounded.Exhausted, Exception):  # killed, out of its bounds, or raised
            return None

    def clean(self) -> None:
        self.child.reap()  # (it may still be writing in its folder until it exits)
        shutil.rmtree(self.folder, ignore_errors=True)


def _write_elsewhere(
    book: Book,
    ws: Ahead,
    write: Callable[[Worksheet], None],
    setup: Callable[[], None],
    first: tuple[Format, ...],
    before: _Formats,
    folder: str,
) -> tuple:
    """In the child of ``finish_elsewhere``: the sheet written, put together and deflated in
    the child's folder; what the parent needs of it. The sheet gets a row file of its own: the
    parent's stays untouched."""
    book.tmpdir = folder
    setup()
    for fmt in first:  # numbered as the parent numbers them meanwhile (adopt checks it did)
        fmt._get_xf_index()
    expected = before.numbered_since(book)
    fd, rows = tempfile.mkstemp(dir=folder)
    os.close(fd)
    ws.row_data_filename = rows
    ws.row_data_fh = ws.fh = open(rows, mode="w+", encoding="utf-8")  # noqa: SIM115
    write(ws)
    if not book._can_finish(ws):
        raise RuntimeError("the sheet cannot be made ahead")
    path, crc, size = _pack(book._put_together(ws), folder)
    state = {a: getattr(ws, a) for a in _SHEET_STATE}
    return path, crc, size, before.numbered_since(book), state, expected
