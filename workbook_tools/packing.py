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

The file is byte for byte what xlsxwriter writes on its own: the same XML (xlsxwriter's own
``_assemble_xml_file``, earlier, with the rows copied as bytes), deflated with zipfile's own
settings (deflate's output does not depend on how its input is cut into calls), in the same zip
entry (``ZipFile.write`` of a file with the packager's file's time and mode). A test compares
the two files byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.worksheet import Worksheet

_CHUNK = 1 << 18  # bytes read, copied and deflated at a time (256 KiB: memory stays small)

# Parts deflated ahead, by the name of the (empty) file the packager made for the part: the
# part's XML and the future of its deflated bytes' file. Keys are fresh temporary file names,
# so workbooks closed at once in several threads never meet here.
_AHEAD: dict[str, tuple[str, Future]] = {}


def _pack(pieces: list[str], xml: str, tmpdir: str | None) -> str:
    """A part's XML put together from ``pieces`` (files, removed once read) into ``xml``, and
    deflated as zipfile deflates a part (raw deflate, zlib's default level) into a temporary
    file; that file's path. Run in the thread: reading, writing and deflating let go of the
    GIL."""
    fd, path = tempfile.mkstemp(dir=tmpdir, prefix="wbtools-part-")
    try:
        with open(xml, "wb") as whole, os.fdopen(fd, "wb") as out:
            z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            for piece in pieces:
                with open(piece, "rb") as src:
                    while data := src.read(_CHUNK):
                        whole.write(data)
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
    return path


class _Deflated:
    """Stands in for zipfile's compressor of one part: hands out the bytes deflated ahead (as
    many as it is given, the rest at the end) instead of deflating what it is given."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh

    def compress(self, data: bytes) -> bytes:
        return self.fh.read(len(data))

    def flush(self) -> bytes:
        return self.fh.read()


class _ZipFile(zipfile.ZipFile):
    """zipfile's ZipFile, but a part deflated ahead (``_AHEAD``) is written from its deflated
    bytes. Every other part, and every other workbook's, is written exactly as by ZipFile."""

    _ahead = None  # the deflated bytes of the part being written, while it is

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        ahead = _AHEAD.pop(os.fspath(filename), None)
        if ahead is None:
            return super().write(filename, arcname, compress_type, compresslevel)
        xml, future = ahead
        deflated = future.result()
        try:
            # The entry takes its time and mode from the file written: the packager's own
            st = os.stat(filename)
            os.chmod(xml, stat.S_IMODE(st.st_mode))
            os.utime(xml, ns=(st.st_atime_ns, st.st_mtime_ns))
            with open(deflated, "rb") as made:
                # only with zipfile's default deflate, the one made ahead
                same = compresslevel is None and self.compresslevel is None
                self._ahead = made if same and self.compression == zipfile.ZIP_DEFLATED else None
                try:
                    # reads the XML again for its CRC and size (cheap: it is in the page cache)
                    return super().write(xml, arcname, compress_type, compresslevel)
                finally:
                    self._ahead = None
        finally:
            for path in (xml, deflated):
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def _open_to_write(self, zinfo, force_zip64=False):
        dest = super()._open_to_write(zinfo, force_zip64)
        if (
            self._ahead is not None
            and zinfo.compress_type == zipfile.ZIP_DEFLATED
            and getattr(dest, "_compressor", None) is not None
        ):
            dest._compressor = _Deflated(self._ahead)
        return dest


# xlsxwriter's packing calls ZipFile by the name it imported; the subclass writes every part not
# deflated ahead exactly as ZipFile does, so all other workbooks are unaffected.
xlsxwriter.workbook.ZipFile = _ZipFile


class Ahead(Worksheet):
    """A worksheet that ``Book.finish`` can put together before the workbook is closed: the
    packager then takes the XML made and deflated ahead instead of making it again."""

    ahead: tuple[str, Future] | None = None  # (its XML, the future of its deflated bytes)
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
        if self.ahead is None or not isinstance(filename, str | os.PathLike):
            super()._set_xml_writer(filename)
        else:  # the packager's file for this part: ZipFile.write takes the part made ahead
            _AHEAD[os.fspath(filename)] = self.ahead

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

    def finish(self, ws: Worksheet) -> None:
        """Put ``ws``'s XML together now and deflate it in a thread: nothing may be written to
        it, nor may it be activated, after this. Only a constant-memory sheet that is not the
        first or active one, without drawings, comments, tables or images (what close() adds to
        a sheet's XML); any other is left to close()."""
        if not (
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
        ):
            return
        ws._opt_reopen()
        ws._write_single_row()  # the last row out, as the packager does
        fd, head = tempfile.mkstemp(dir=self.tmpdir)
        os.close(fd)
        ws._pieces = pieces = [head]  # then its rows' file and the XML after them
        try:
            ws._set_xml_writer(head)
            ws._assemble_xml_file()
            fd, xml = tempfile.mkstemp(dir=self.tmpdir)
            os.close(fd)
        except BaseException:
            for path in pieces:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        finally:
            ws._pieces = None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="wbtools-deflate")
        ws.ahead = (xml, self._pool.submit(_pack, pieces, xml, self.tmpdir))
        self._finished.append(ws)

    def close(self) -> None:
        try:
            super().close()
            # each part made ahead is removed once it is in the zip (_ZipFile.write); one still
            # here went in as the packager's empty file (should xlsxwriter stop calling ZipFile
            # by the name patched above): fail rather than leave a sheet empty
            if any(os.path.exists(ws.ahead[0]) for ws in self._finished):
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
        for ws in self._finished:
            xml, future = ws.ahead
            for key in [k for k, v in _AHEAD.items() if v is ws.ahead]:
                _AHEAD.pop(key, None)
            paths = [xml]
            if future.done() and future.exception() is None:
                paths.append(future.result())
            for path in paths:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        self._finished = []
