"""The first stage for a returned file: decide whether it is safe and sensible to parse at all.

No Python workbook reader bounds what it unpacks, so this stage looks at the bytes first: empty,
not a workbook, an encrypted (password-to-open) package, a Word file renamed .xlsx, a truncated
zip, a zip bomb (too many entries, too large unpacked, implausible compression). Each is a coded
finding and the file is not parsed.

Each sheet is vetted again just before it is parsed (``Package.sheet``), in one pass over its
XML: a DOCTYPE (how entity-expansion bombs are declared), a claimed range beyond any real report,
or a real extent (the last cell with content) that would make python-calamine allocate a huge
dense grid is refused -- calamine sizes a sheet from its corner cells and allocates the whole
rectangle, so one cell at XFD1048576 would ask for 512 GiB and abort the process. All sheets read
from one workbook share a cell budget, and only the sheets the tables need are read. The same
pass keeps the facts python-calamine cannot give: which cells hold formulas and whether the sheet
is protected. For .ods the extents come from content.xml (repeated rows and cells counted).

Each sheet a report is read from is inflated here once: python-calamine is handed a package in
which those parts are stored as vetted (``Package.calamine_bytes``), so it parses exactly the bytes
that were bounded, without inflating them again; workbook.xml goes without its defined names when
they are written plainly (nothing reads them).

Files of one template share many parts byte for byte as packed: a part's packed beginning found
free of a DTD, and the sheet map read from workbook.xml and its rels, are remembered by those bytes
(bounded), so each is worked out once per template -- with exactly the result it would have anew.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import io
import os
import re
import stat as stat_module
import struct
import zlib
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path

from . import patterns
from .findings import Finding
from .record import Record

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:  # (zipfile is loaded by the functions that open a package: see open_package)
    import zipfile

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 2_000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_PART_BYTES = 50 * 1024 * 1024
MAX_RATIO = 200  # unpacked/packed for a part over 1 MiB: real sheets stay far below
MAX_ROWS = 100_000
MAX_COLS = 1_000
MAX_CELLS = 2_000_000  # a sheet's real (not claimed) range, checked before it is converted
MAX_BOOK_CELLS = 4_000_000  # all sheets read from one workbook together (many sparse sheets)
MAX_SHEETS = 200  # a report has about ten sheets; each one read costs a dense grid

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: .xls, or an encrypted .xlsx
ZIP_MAGIC = b"PK\x03\x04"

_DIMENSION = patterns.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_SHEET_PROTECTION = patterns.compile(rb'<(?:\w+:)?sheetProtection\b[^>]*\bsheet="(1|true)"')
# Excel drops the element when a user unprotects the structure; LibreOffice (7.x) keeps an empty
# one and loses the attribute on every save, so the element's presence is what counts.
_WORKBOOK_PROTECTION = patterns.compile(rb"<(?:\w+:)?workbookProtection\b")
_SHEET_ENTRY = patterns.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_PLAIN_SHEET_ENTRY = patterns.compile(rb"<sheet\b[^>]*>")
_ATTR = patterns.compile(rb'([\w:]+)="([^"]*)"')
_RELATIONSHIP = patterns.compile(rb"<Relationship\b[^>]*>")
_UNIQUE_COUNT = patterns.compile(rb"<(?:\w+:)?sst\b[^>]*\buniqueCount=\"(\d{1,20})\"")
_MODIFIED = patterns.compile(rb"<dcterms:modified[^>]*>([^<]+)<")
_FORMULA_START = patterns.compile(rb"\s*<(?:\w+:)?f[\s>/]")


MAX_REPORT_BYTES = 10 * 1024 * 1024  # a published report as text or HTML: a few hundred KB
MAX_DOCX_BYTES = 30 * 1024 * 1024  # a Word report, pictures included
MAX_DOCX_XML = 20 * 1024 * 1024  # any XML part of it unpacked (a 100-page report: ~2 MB)
MAX_DEPTH = 400  # element nesting in a published HTML report (real pages: under 40)
# Elements of a published HTML report and paragraphs and table cells of a Word one (a long
# Word export: tens of thousands; a 100-page Word report: a few thousand blocks).
MAX_ELEMENTS = 300_000
MAX_BLOCKS = 100_000
# Lines of a published report, whatever its kind (the longest real ones: a few hundred; each
# line costs the section finder a dozen heading tests, and 10 MB of blank lines is 10 million).
MAX_LINES = 100_000
# Attributes of one element of a published HTML page (real pages: a few). The HTML parser looks
# each new attribute up among the element's others: 300,000 on one element ran for minutes.
MAX_ATTRIBUTES = 1_000


class InputRefused(Exception):
    """A path that must not be read as an input. ``str()`` is the English reason, ``zh`` the
    Chinese one (used by each reader's own finding code); ``code`` the file-level code when the
    input is a returned or published report (F113: not a file, F106: beyond a bound)."""

    def __init__(self, en: str, zh: str, code: str = "F106", **args: object):
        super().__init__(en)
        self.en, self.zh, self.code, self.details = en, zh, code, args

    def finding(self, path: Path | str) -> Finding:
        if self.code == "F113":
            return Finding("F113", {"zh": self.zh, "en": self.en}, file=str(path))
        return Finding(self.code, self.details or {"detail": self.en}, file=str(path))


_NOT_A_FILE = (
    (stat_module.S_ISDIR, "a folder", "文件夹"),
    (stat_module.S_ISFIFO, "a named pipe (FIFO)", "命名管道（FIFO）"),
    (stat_module.S_ISCHR, "a character device", "字符设备"),
    (stat_module.S_ISBLK, "a block device", "块设备"),
    (stat_module.S_ISSOCK, "a socket", "套接字"),
)


def vet_input(path: Path) -> os.stat_result:
    """Every input path goes through here before it is opened: it must be a regular file (a
    named pipe or /dev/zero would block or read forever). Raises InputRefused saying what it is."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputRefused("no such file", "文件不存在", "F101") from None
    except OSError as exc:
        raise InputRefused(exc.strerror or str(exc), exc.strerror or str(exc), "F110") from None
    for test, en, zh in _NOT_A_FILE:
        if test(st.st_mode):
            raise InputRefused(f"{en}, not a regular file", f"是{zh}，不是普通文件", "F113")
    if not stat_module.S_ISREG(st.st_mode):
        raise InputRefused("not a regular file", "不是普通文件", "F113")
    return st


def read_input(path: Path, max_bytes: int) -> bytes:
    """A whole input file, at most ``max_bytes`` (else InputRefused): the shared bound for
    rosters, specs and published reports. Opened without blocking, and checked again on the
    open descriptor, so a path swapped for a pipe between the checks cannot hang the reader."""
    vet_input(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputRefused(exc.strerror or str(exc), exc.strerror or str(exc), "F110") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat_module.S_ISREG(st.st_mode):
            raise InputRefused("not a regular file", "不是普通文件", "F113")
        if st.st_size > max_bytes:
            raise too_large(st.st_size, max_bytes)
        data = _read_up_to(fh, st.st_size, max_bytes + 1)
    if len(data) > max_bytes:
        raise too_large(len(data), max_bytes)
    return data


_SNIFF_HEAD = 1 << 16
_SNIFF_CFB = 1 << 20  # a compound file's stream names sit in its directory sectors
_HTML_START = patterns.compile(
    rb"<(?:!doctype\s+html|html|head|body|meta|table|div|p|title)[\s>/]", re.I
)


def sniff(path: Path) -> str:
    """What a file's bytes are, whatever its name says: "workbook" (.xlsx/.xlsm/.ods, or a
    legacy .xls), "docx", "doc" (an old Word compound file), "pdf", "html", or "" (text, or
    nothing known). Readers are chosen by this before the name, so a workbook saved as .pdf or
    a PDF named .txt is read as what it is. Never raises and never blocks: a path that is not a
    regular file, or cannot be read, is "" (the reader chosen by the name then says why)."""
    try:
        vet_input(path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat_module.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return ""
            head = fh.read(_SNIFF_HEAD)
            if head.startswith(ZIP_MAGIC):  # entry names: the central directory, at the end
                size = os.fstat(fh.fileno()).st_size
                fh.seek(max(0, size - _SNIFF_HEAD))
                tail = fh.read(_SNIFF_HEAD)
            elif head.startswith(CFB_MAGIC):
                head += fh.read(_SNIFF_CFB - len(head))
    except (InputRefused, OSError):
        return ""
    if head.startswith(ZIP_MAGIC):
        names = head[:4096] + tail
        if b"xl/workbook.xml" in names or b"opendocument.spreadsheet" in head[:200]:
            return "workbook"
        return "docx" if b"word/document.xml" in names else ""
    if head.startswith(CFB_MAGIC):
        if "WordDocument".encode("utf-16-le") in head:
            return "doc"
        if "Workbook".encode("utf-16-le") in head or "Book".encode("utf-16-le") in head:
            return "workbook"
        return ""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    text = head[:4096].replace(b"\x00", b"").lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n")
    if text.startswith(b"<") and _HTML_START.search(text):  # markup from the first character
        return "html"
    return ""


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def text_encoding(raw: bytes) -> str | None:
    """The encoding a byte order mark, or the NUL bytes of UTF-16 without one, says ``raw`` is
    in (None when neither does). Notepad's “Unicode” and Excel's “Unicode text” are UTF-16; UTF-8
    and GBK text never hold a NUL byte, while UTF-16 has one in every ASCII character (digits,
    punctuation, line ends), on the odd bytes (little-endian) or the even ones (big-endian)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding + ("-sig" if encoding == "utf-8" else "")
    sample = raw[:8192]
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if odd >= 4 and odd > 4 * even:
        return "utf-16-le"
    if even >= 4 and even > 4 * odd:
        return "utf-16-be"
    return None


def decode_text(raw: bytes, strict: bool = False) -> str:
    """Text as Chinese offices save it: UTF-8 or UTF-16 (with or without a byte order mark), else
    GB18030 (a superset of GBK and GB2312). ``strict``: raise UnicodeDecodeError when it is none
    of them, else undecodable bytes become U+FFFD."""
    encoding = text_encoding(raw)
    if encoding is not None:
        if encoding.startswith("utf-16") and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raw = raw[2:]
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            if encoding.startswith("utf-8") or strict:
                raise
            return raw.decode(encoding, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _legacy_chinese(raw, strict)


def _legacy_chinese(raw: bytes, strict: bool) -> str:
    """GBK/GB18030 (simplified) or Big5 (traditional mirrors, Hong Kong and Taiwan pages): each
    decodes the other's bytes without error -- as rare characters -- so the text taken is the one
    whose characters are the frequent ones (measured on every real report we hold: ≥ 0.98 of the
    characters for the right encoding, ≤ 0.55 for the wrong one). GB18030 unless Big5 reads
    clearly better; of Big5, Windows' cp950 unless Hong Kong's HKSCS leaves fewer bytes unread."""
    errors = "strict" if strict else "replace"
    texts = {}
    for encoding in ("gb18030", "cp950", "big5hkscs"):
        try:
            texts[encoding] = raw.decode(encoding, errors=errors)
        except UnicodeDecodeError:
            continue
    big5 = min(
        (texts[e] for e in ("cp950", "big5hkscs") if e in texts),
        key=lambda t: t.count("\ufffd"),
        default=None,
    )
    gb = texts.get("gb18030")
    if big5 is not None and (gb is None or _frequent_share(big5) > _frequent_share(gb) + 0.05):
        return big5
    if gb is None:
        return raw.decode("gb18030")  # raises the error strict asks for
    return gb


def _frequent_share(text: str, sample: int = 4000) -> float:
    """The share of ``text``'s non-ASCII letters that are frequent Chinese characters: GB2312's
    first level (its 3,755 most used simplified characters) or Big5's (5,401 most used traditional
    ones). Undecodable bytes count as rare."""
    seen = frequent = 0
    for ch in text:
        if ch < "\u3400" and ch != "\ufffd":
            continue  # ASCII, punctuation, full-width forms are in every encoding
        if "\uff00" <= ch <= "\uffef":
            continue
        seen += 1
        frequent += _is_frequent(ch)
        if seen >= sample:
            break
    return frequent / seen if seen else 0.0


def _is_frequent(ch: str) -> bool:
    try:
        b = ch.encode("gb2312")
        if 0xB0 <= b[0] <= 0xD7:
            return True
    except UnicodeEncodeError:
        pass
    try:
        b = ch.encode("cp950")
    except UnicodeEncodeError:
        return False
    return len(b) == 2 and 0xA440 <= (b[0] << 8 | b[1]) <= 0xC67E


def too_large(size: int, limit: int) -> InputRefused:
    mib = f"{size / 1048576:.1f} MiB > {limit / 1048576:.0f} MiB"
    return InputRefused(f"too large ({mib})", f"文件过大（{mib}）")


def vet_size(path: Path, max_bytes: int) -> None:
    """A regular file of at most ``max_bytes`` (else InputRefused), for readers that open the
    path themselves."""
    st = vet_input(path)
    if st.st_size > max_bytes:
        raise too_large(st.st_size, max_bytes)


def vet_docx(path: Path) -> bytes:
    """Bound a Word file before python-docx unpacks and parses it (it loads every part and
    parses the XML whole): file size, entries, unpacked size, each XML part's size, and the
    compression ratio. Raises InputRefused; returns the bytes vetted, for the parser to read
    (the path may name another file by then)."""
    import zipfile  # (loaded with the first package: an import of a text needs none)

    data = read_input(path, MAX_DOCX_BYTES)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            problem = zip_bounds(zf, MAX_UNPACKED_BYTES // 2) or zip_names(zf) or zip_dtd(zf)
            if problem is None and "[Content_Types].xml" not in zf.NameToInfo:
                problem = InputRefused(
                    "not a Word file: no [Content_Types].xml",
                    "不是 Word 文件：缺少 [Content_Types].xml",
                    "F103",
                )
            if problem is None:
                for info in zf.infolist():
                    if info.filename.endswith((".xml", ".rels")) and info.file_size > MAX_DOCX_XML:
                        problem = too_large(info.file_size, MAX_DOCX_XML)
                        break
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        raise InputRefused(f"not a Word file: {exc}", f"不是 Word 文件：{exc}", "F103") from None
    except (RuntimeError, NotImplementedError) as exc:  # zip-level encryption, odd compression
        raise InputRefused(str(exc), str(exc), "F104") from None
    if problem is not None:
        raise problem
    return data


def zip_bounds(zf: zipfile.ZipFile, max_unpacked: int = 0) -> InputRefused | None:
    """What makes a zip package (a workbook, a .docx) unsafe to unpack, or None: too many entries,
    too large unpacked, an implausible compression ratio (a zip bomb)."""
    infos = zf.infolist()
    max_unpacked = max_unpacked or MAX_UNPACKED_BYTES
    if len(infos) > MAX_ENTRIES:
        return InputRefused(f"{len(infos)} zip entries", f"压缩包内有 {len(infos)} 个条目")
    total = sum(i.file_size for i in infos)
    if total > max_unpacked:
        return InputRefused(f"{total // 1048576} MiB unpacked", f"解压后 {total // 1048576} MiB")
    for info in infos:
        if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            what = f"{info.filename}: compression ratio over {MAX_RATIO}"
            return InputRefused(what, f"{info.filename}：压缩比超过 {MAX_RATIO}")
    return None


def zip_names(zf: zipfile.ZipFile) -> InputRefused | None:
    """Entry names no Office file has (F103): the same name twice, also in another case (part
    names compare without case, ECMA-376 part 2; readers disagree on which one counts, so the
    file checked would not be the file the leader opens), or a name that leaves the package
    (absolute, a drive letter, "..", a backslash)."""
    infos = zf.infolist()
    if len(zf.NameToInfo) != len(infos) or len({n.lower() for n in zf.NameToInfo}) != len(infos):
        seen: set[str] = set()
        twice = next(
            i.filename for i in infos if i.filename.lower() in seen or seen.add(i.filename.lower())
        )
        return InputRefused(
            f"{twice}: entry twice in the zip", f"{twice}：压缩包内重复出现", "F103"
        )
    for info in infos:
        name = info.filename
        if name.startswith("/") or "\\" in name or ".." in name.split("/") or _DRIVE.match(name):
            return InputRefused(f"{name}: unsafe entry name", f"{name}：条目名称不安全", "F103")
    return None


_DRIVE = patterns.compile(r"[A-Za-z]:")
_XML_PARTS = (".xml", ".rels", ".vml")
_PROLOG_LIMIT = 1 << 20  # a prolog (declaration, comments) longer than this is not an Office file


def zip_dtd(zf: zipfile.ZipFile, data: bytes = b"") -> InputRefused | None:
    """The first XML part that declares a DTD (F107): how entity-expansion bombs and external
    entities are declared, and forbidden in Office packages (ECMA-376 Part 2, OPC). Every part
    is looked at, not only those a reader is known to parse, and past any comments before the
    root element (a scan of the first KB alone misses a DTD after a long comment). ``data``, the
    package's bytes when the caller has them, lets the usual case skip zipfile's per-part
    set-up: the first bytes of each part are inflated straight from the archive."""
    for info in zf.infolist():
        if not info.filename.lower().endswith(_XML_PARTS) or not info.file_size:
            continue
        if data and _plain_head(data, info):
            continue
        with zf.open(info) as fh:
            if _declares_dtd(fh):
                return InputRefused(
                    f"{info.filename}: DTD", f"{info.filename}：DTD", "F107", part=info.filename
                )
    return None


def _part_head(data: bytes, info: zipfile.ZipInfo, size: int = 256) -> bytes | None:
    """The first ``size`` bytes of a stored or deflated part, read from the archive's bytes
    (None when the local header is not what the central directory says: zipfile then opens
    the part and says what is wrong)."""
    import zipfile  # (loaded with the first package: an import of a text needs none)

    start = _part_start(data, info)
    if start is None:
        return None
    raw = data[start : start + min(info.compress_size, 4096)]
    if info.compress_type == zipfile.ZIP_STORED:
        return raw[:size]
    try:
        return zlib.decompressobj(-15).decompress(raw, size)
    except zlib.error:
        return None


def _part_start(data: bytes, info: zipfile.ZipInfo) -> int | None:
    """Where a stored or deflated part's bytes start in the archive, or None when its local
    header is not what the central directory says."""
    off = info.header_offset
    if data[off : off + 4] != ZIP_MAGIC or info.compress_type not in (0, 8):
        return None
    name_len, extra_len = struct.unpack_from("<HH", data, off + 26)
    if name_len != len(_stored_name(info)):
        return None
    return off + 30 + name_len + extra_len


# Packed beginnings of parts whose first 256 bytes were inflated and found a plain prolog:
# part name -> those beginnings. The parts of one template are packed alike in every file.
_PLAIN_STARTS: dict[str, list[bytes]] = {}
_PLAIN_STARTS_MOST = 512  # beginnings kept (each at most 4 KB): forgotten all at once beyond


def _plain_head(data: bytes, info: zipfile.ZipInfo) -> bool:
    """Whether ``_part_head`` of the part is a plain prolog (``_plain_prolog``), without
    inflating it when the part begins with packed bytes already found to: inflating is a
    function of the packed bytes, and the bytes zlib consumed to give the first 256 (all it
    decided anything from) are kept, only when it stopped for the output's size or at the
    stream's end (not for want of input), so any part that begins with them inflates to the
    same first 256 bytes, without an error, whatever follows. (Asked for 256 bytes, zlib never
    takes its fast path, which wants room for 258: it takes each byte when it needs it.)"""
    import zipfile  # (loaded with the first package: an import of a text needs none)

    start = _part_start(data, info)
    if start is None:
        return False
    if info.compress_type == zipfile.ZIP_STORED:
        return _plain_prolog(data[start : start + min(info.compress_size, 256)])
    size = min(info.compress_size, 4096)
    known = _PLAIN_STARTS.get(info.filename, ())
    for begin in known:
        if len(begin) <= size and data.startswith(begin, start):
            return True
    raw = data[start : start + size]
    inflater = zlib.decompressobj(-15)
    try:
        head = inflater.decompress(raw, 256)
    except zlib.error:
        return False
    if not _plain_prolog(head):
        return False
    used = len(raw) - len(inflater.unconsumed_tail)
    if (inflater.eof or used < len(raw)) and len(known) < 4:
        if sum(map(len, _PLAIN_STARTS.values())) >= _PLAIN_STARTS_MOST:
            _PLAIN_STARTS.clear()
        _PLAIN_STARTS.setdefault(info.filename, []).append(raw[:used])
    return True


def _stored_name(info: zipfile.ZipInfo) -> bytes:
    """An entry's name as the archive stores it (cp437 has no C codec: ASCII names first)."""
    name = info.orig_filename
    if name.isascii():
        return name.encode("ascii")
    return name.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")


def _plain_prolog(head: bytes) -> bool:
    """Whether UTF-8 XML starts, after at most its XML declaration, with the root element: the
    case of every part Office writes, settled without decoding."""
    if head.startswith(b"<?xml"):
        end = head.find(b"?>")
        if end < 0:
            return False
        head = head[end + 2 :]
    head = head.lstrip(b" \t\r\n")
    return head[:1] == b"<" and head[1:2] not in (b"!", b"?", b"")


def _declares_dtd(fh) -> bool:
    """Whether the XML read from ``fh`` has a declaration (``<!DOCTYPE``, ``<!ENTITY``) before its
    root element: the XML declaration, processing instructions, comments and whitespace are
    skipped, in UTF-8 or UTF-16 (with or without a byte order mark)."""
    import codecs

    raw = fh.read(4096)
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    elif raw[:2] == b"<\x00":
        encoding = "utf-16-le"
    elif raw[:2] == b"\x00<":
        encoding = "utf-16-be"
    else:
        encoding = "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    text, total, done = decoder.decode(raw), len(raw), not raw
    while True:
        text = text.lstrip(" \t\r\n\ufeff")
        if text.startswith("<?"):
            end = text.find("?>")
        elif text.startswith("<!--"):
            end = text.find("-->")
        elif text.startswith("<!"):
            return True
        elif len(text) >= 4 or done:
            return False  # the root element (or not XML at all: the reader will say so)
        else:
            end = -1
        if end >= 0:
            text = text[end + 2 + text.startswith("<!--") :]
            continue
        if done or total > _PROLOG_LIMIT:
            return total > _PROLOG_LIMIT
        raw = fh.read(64 * 1024)
        total += len(raw)
        done = not raw
        text += decoder.decode(raw, final=done)


class Refused(Exception):
    """A sheet must not be parsed; carries the finding that says why."""

    def __init__(self, finding: Finding):
        super().__init__(finding.code)
        self.finding = finding


class SheetFacts(Record):
    """What intake learned about a sheet: the XML itself (for formula look-ups) and protection.
    The real extent (last row and column, 1-based, holding a cell with content) is worked out
    when asked for: vetting usually needs only a bound (``Package.sheet``). (A record written
    out, not a dataclass: see ``record``.)"""

    _fields = ("xml", "protected")

    def __init__(self, xml: bytes, protected: bool) -> None:
        self.xml = xml
        self.protected = protected

    @cached_property
    def extent(self) -> tuple[int, int]:
        return _xlsx_extent(self.xml)

    @property
    def rows(self) -> int:
        return self.extent[0]

    @property
    def cols(self) -> int:
        return self.extent[1]


class Package(Record):
    """What intake learned about a file. ``ok`` is False when it must not be parsed. (A record
    written out, not a dataclass: see ``record``.)"""

    _fields = (
        "path",
        "kind",
        "findings",
        "sheet_parts",
        "structure_locked",
        "mtime",
        "saved_at",
        "zip",
        "data",
        "_prepared",
        "_facts",
        "_cells",
        "_bounded",
        "_ods",
        "_legacy_formulas",
        "_calamine_workbook",
    )

    def __init__(self, path: Path, kind: str = "") -> None:
        self.path = path
        self.kind = kind  # xlsx | xls | ods
        self.findings: list[Finding] = []
        self.sheet_parts: dict[str, str] = {}  # sheet name -> zip part
        self.structure_locked = False
        self.mtime = 0.0
        # dcterms:modified of docProps/core.xml: when the workbook was last saved
        self.saved_at = ""
        self.zip: zipfile.ZipFile | None = None  # open while the reader works; see close()
        # The file's bytes, read once: intake and the value reader see the same content even if
        # the file is replaced or rewritten while it is being read (see calamine_book).
        self.data = b""
        # Sheet parts inflated once for both intake and calamine (see ``calamine_bytes``): part
        # -> (the first bytes as stored, for the prolog checks; the XML with formula text
        # emptied).
        self._prepared: dict[str, tuple[bytes, bytes]] = {}
        self._facts: dict[str, SheetFacts | None] = {}
        self._cells = 0  # dense cells of the sheets vetted so far (bounds for those in _bounded)
        self._bounded: dict[str, int] = {}  # sheet -> cells charged as its bound
        self._ods: dict[str, tuple[int, int]] | None = None
        # .ods/.xls: each sheet's formula cells (row, column, 1-based), found from the file's
        # own records (calamine gives values only); a sheet missing here is unknown.
        self._legacy_formulas: dict[str, set[tuple[int, int]]] | None = None
        # workbook.xml as calamine is handed it (``_without_defined_names``) and its CRC, or None
        self._calamine_workbook: tuple[bytes, int] | None = None

    @property
    def ok(self) -> bool:
        return not any(f.code.startswith("F") for f in self.findings)

    def refuse(self, code: str, **args: object) -> Refused:
        finding = Finding(code, dict(args), file=str(self.path))
        self.findings.append(finding)
        return Refused(finding)

    def sheet(self, sheet: str) -> SheetFacts | None:
        """Vet a sheet before any dense read, in one pass over its XML: a DOCTYPE (how
        entity-expansion bombs are declared), a claimed or real range far beyond any report, or
        more cells than a workbook may cost in all, are refused (raises Refused). The facts kept
        are those python-calamine cannot give: formulas and protection. None for a sheet not in
        an .xlsx package (calamine reads .xls itself; .ods is bounded by ``vet_ods``)."""
        import zipfile  # (loaded with the first package: an import of a text needs none)

        if sheet in self._facts:
            return self._facts[sheet]
        if self.kind == "ods":  # bounded (all tables) when the package was opened
            return None
        if self.kind != "xlsx" or self.zip is None:
            return None
        part = self.sheet_parts.get(sheet)
        if part is None or part not in self.zip.NameToInfo:
            self._facts[sheet] = None
            return None
        if part in self._prepared:
            head, xml = self._prepared[part]
        else:
            try:
                xml = _part_bytes(self.data, self.zip, part)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
                raise self.refuse("F103", detail=f"{part}: {exc}") from None
            head = xml[:4096]
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            raise self.refuse("F107", part=part)
        if m := _DIMENSION.search(head):
            last_col, last_row = (
                (m.group(3), m.group(4)) if m.group(3) else (m.group(1), m.group(2))
            )
            if int(last_row) > MAX_ROWS or _col_number(last_col) > MAX_COLS:
                ref = m.group(0).decode(errors="replace").split('"')[1]
                raise self.refuse("F108", sheet=sheet, ref=ref)
        facts = SheetFacts(xml, _protected(xml))
        bound = _plain_bound(xml)
        if bound is not None and self._cells + bound[0] * bound[1] <= MAX_BOOK_CELLS:
            # Within the bound, the sheet passes every check its real extent would: charge the
            # bound, and the real extent only if the budget comes near (``_charge_exactly``).
            self._cells += bound[0] * bound[1]
            self._bounded[sheet] = bound[0] * bound[1]
        else:
            self._charge_exactly()
            self._charge(sheet, *facts.extent)
        self._facts[sheet] = facts
        return facts

    def calamine_bytes(self, sheets: Iterable[str]) -> bytes:
        """The package python-calamine is to read: the bytes intake vetted, with the parts of
        ``sheets`` (those the reader expects to need) inflated here once and stored uncompressed.

        Each of those parts is inflated here anyway for ``sheet``'s vetting; calamine would
        inflate it twice more (once for its cells, once for its merged ranges). So the package is
        rewritten: every entry in its order, the prepared parts stored as inflated (the same
        bytes ``sheet`` vets, so what calamine parses is what was bounded), every other part
        copied as packed. Formula text is emptied in the prepared parts (``_empty_formulas``):
        neither reader needs it (intake asks only whether a cell has a formula) and it is most
        of a template sheet's bytes. Anything unusual about an entry (a local header that
        disagrees with the directory, a CRC or size that does not match, another compression)
        leaves the package as it was, and ``sheet`` reads the part as before (and says what is
        wrong with it). workbook.xml is handed over without its defined names when they are
        written plainly (``_without_defined_names``): calamine parses them into a list no
        reader here asks for, and they are most of the part."""
        if self.kind != "xlsx" or self.zip is None:
            return self.data
        data, wanted = self.data, {self.sheet_parts.get(name) for name in sheets}
        entries, budget = [], _PREPARE_BYTES
        for info in self.zip.infolist():
            raw = _packed(data, info)
            if raw is None:
                self._prepared.clear()
                return data
            if info.filename in wanted and info.file_size <= budget and not info.flag_bits & 1:
                xml = _inflated(raw, info)
                if xml is not None:
                    budget -= info.file_size
                    body = _empty_formulas(xml)
                    self._prepared[info.filename] = (xml[:4096], body)
                    entries.append((info, body, 0, _crc32(body), len(body)))
                    continue
            elif info.filename == "xl/workbook.xml" and self._calamine_workbook is not None:
                body, crc = self._calamine_workbook
                entries.append((info, body, 0, crc, len(body)))
                continue
            entries.append((info, raw, info.compress_type, info.CRC, info.file_size))
        return _zip_bytes(entries)

    def _charge_exactly(self) -> None:
        """Replace the bounds charged so far by the real extents of those sheets: what the budget
        then holds is what it would hold had every sheet been charged its real extent."""
        for name, charged in self._bounded.items():
            rows, cols = self._facts[name].extent
            self._cells += rows * cols - charged
        self._bounded.clear()

    def _charge(self, sheet: str, rows: int, cols: int) -> None:
        """Count a sheet's dense range against the bounds before calamine allocates it."""
        if rows > MAX_ROWS or cols > MAX_COLS or rows * cols > MAX_CELLS:
            raise self.refuse("F108", sheet=sheet, ref=_a1(rows, cols))
        self._cells += rows * cols
        if self._cells > MAX_BOOK_CELLS:
            raise self.refuse("F108", sheet=sheet, ref=_a1(rows, cols))

    def _ods_extents(self) -> dict[str, tuple[int, int]]:
        import zipfile  # (loaded with the first package: an import of a text needs none)

        if self._ods is None:
            self._ods = {}
            with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
                if "content.xml" in zf.NameToInfo:
                    xml = _read_bounded(zf, "content.xml")
                    if b"<!DOCTYPE" in xml[:4096] or b"<!ENTITY" in xml[:4096]:
                        raise self.refuse("F107", part="content.xml")
                    self._ods = _ods_extents(xml)
        return self._ods

    def formulas(
        self, sheet: str, cells: Iterable[str], in_order: bool = False
    ) -> dict[str, bool | None]:
        """For each A1 cell: True if it holds a formula, False if not, None when unknown.
        ``in_order``: the cells are already in reading order (``row_col``)."""
        facts = self.sheet(sheet)
        if facts is None:
            # An .ods or .xls: from their own formula records, so a total whose formula shows
            # 0 (numbers typed as text beside it) is recomputed as in an .xlsx, not trusted.
            found = self._legacy_formula_cells().get(sheet)
            if found is None:
                return {c: None for c in cells}
            return {c: row_col(c) in found for c in cells}
        xml = facts.xml
        # Cells are stored row by row, left to right: look them up in that order, each search
        # starting where the previous one ended, so the sheet is scanned once.
        out, pos = {}, 0
        for cell in cells if in_order else sorted(cells, key=row_col):
            found, pos = _has_formula(xml, cell, pos)
            out[cell] = found
        return out

    def _legacy_formula_cells(self) -> dict[str, set[tuple[int, int]]]:
        import zipfile  # (loaded with the first package: an import of a text needs none)

        if self._legacy_formulas is None:
            self._legacy_formulas = {}
            try:
                if self.kind == "xls":
                    self._legacy_formulas = _xls_formulas(self.data)
                elif self.kind == "ods":
                    with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
                        self._legacy_formulas = _ods_formulas(_read_bounded(zf, "content.xml"))
            except Exception:  # damaged past what intake vetted: formulas stay unknown
                self._legacy_formulas = {}
        return self._legacy_formulas

    def protected(self, sheet: str) -> bool | None:
        facts = self.sheet(sheet)
        return None if facts is None else facts.protected

    def explain(self, error: Exception) -> Finding:
        """The finding for a file the value reader failed on: an entity declaration somewhere, a
        password, or plainly unreadable."""
        import zipfile  # (loaded with the first package: an import of a text needs none)

        name, text = type(error).__name__, str(error)
        if isinstance(error, ReaderPanic):
            return self.refuse("F103", detail=f"reader stopped: {text}").finding
        if name == "PasswordError" or "password" in text.lower():
            return self.refuse("F104", detail="password-to-open").finding
        if self.zip is not None:
            for info in self.zip.infolist():
                if info.filename.endswith((".xml", ".rels")):
                    try:
                        with self.zip.open(info) as fh:
                            head = fh.read(4096)
                    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error):
                        continue  # a damaged part: what calamine said stands
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        return self.refuse("F107", part=info.filename).finding
        return self.refuse("F110", detail=f"{name}: {text[:200]}").finding

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()
            self.zip = None
        self._facts.clear()
        self._bounded.clear()
        self._prepared.clear()
        self.data = b""


_PREPARE_BYTES = 32 * 1024 * 1024  # inflated sheets kept for calamine: real reports hold < 1 MB
# A formula element as spreadsheet writers write it: ``<f>`` (Excel, WPS, xlsxwriter) or ``<f``
# with plain attributes (Excel's shared and array formulas ``t="shared" ref=".." si=".."``,
# LibreOffice's ``aca="false"``): each a space, a name, "=", a double-quoted value without "<",
# ">" or a quote -- so the tag ends at its first ">" -- then text and the end tag.
# A formula element with its text, as spreadsheet writers write it: ``<f>`` (xlsxwriter, Excel,
# WPS) or ``<f`` with plain attributes (LibreOffice's ``aca="false"``, Excel's shared and array
# formulas ``t="shared" ref=".." si=".."``): each a space, a name, "=", a double-quoted value
# without "<" or ">" or a quote -- so the tag ends at its first ">" -- then text and the end tag.
_FORMULA_TEXT = patterns.compile(rb"<f>[^<]*</f>")
_ANY_FORMULA_TEXT = patterns.compile(rb'<f((?: [A-Za-z_:]++="[^"<>]*+")*+)>[^<]*+</f>')
_FORMULA_ATTRIBUTES = patterns.compile(rb'(?: [A-Za-z_:]++="[^"<>]*+")++>')


def _empty_formulas(xml: bytes) -> bytes:
    """``xml`` with formula text emptied: each ``<f>text</f>`` written ``<f/>`` or, in a part
    with none (LibreOffice writes every formula with attributes), each ``<f ...>text</f>`` written
    ``<f .../>``, its attributes kept. The same cells, values and formula presence for calamine
    and intake, without the formula text (any subset of formulas could be emptied alike; these
    are the two a part is written with, each found by a search of its own). Text cannot hold a
    raw "<", so a match is a whole formula element -- except inside a comment, a CDATA section or
    a processing instruction, where the text could be anything: a part with any of those after
    its XML declaration is left as it is."""
    if _markup_inside(xml, b"!", 0) or _markup_inside(xml, b"?", 6):
        return xml
    # ``_FORMULA_TEXT.sub(b"<f/>", xml)``, with each formula's text skipped to its first "<"
    # (memchr) instead of matched byte by byte: formula text is most of a template sheet. No
    # "<f>" can start before that "<", so the search for the next one goes on from there.
    find, out, done = xml.find, [], 0
    at = find(b"<f>")
    while at >= 0:
        end = find(b"<", at + 3)
        if end < 0:
            break
        if xml.startswith(b"</f>", end):
            out += (xml[done:at], b"<f/>")
            done = end + 4
        at = find(b"<f>", end)
    if not out:
        return _empty_formulas_with_attributes(xml)
    out.append(xml[done:])
    return b"".join(out)


def _empty_formulas_with_attributes(xml: bytes) -> bytes:
    """``_ANY_FORMULA_TEXT.sub(rb"<f\1/>", xml)`` for a part with no ``<f>text</f>``, searched as
    ``_empty_formulas`` searches: no formula starts before the first "<" after a tag's ">" (the
    attributes hold none)."""
    find, out, done = xml.find, [], 0
    at = find(b"<f ")
    while at >= 0:
        tag = _FORMULA_ATTRIBUTES.match(xml, at + 2)
        if tag is None:
            at = find(b"<f ", at + 2)
            continue
        end = find(b"<", tag.end())
        if end < 0:
            break
        if xml.startswith(b"</f>", end):
            out += (xml[done : tag.end() - 1], b"/>")
            done = end + 4
        at = find(b"<f ", end)
    if not out:
        return xml
    out.append(xml[done:])
    return b"".join(out)


def _markup_inside(xml: bytes, char: bytes, start: int) -> bool:
    """Whether ``"<" + char`` occurs in ``xml`` from ``start``. Searched by the rare second
    character: bytes.find on "<!" stops at every "<" of the XML."""
    i = xml.find(char, start)
    while i >= 0:
        if xml[i - 1 : i] == b"<" and i > start:
            return True
        i = xml.find(char, i + 1)
    return False


def _packed(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A part's bytes as packed in the archive, or None when its local header is not what the
    central directory says."""
    off = info.header_offset
    if data[off : off + 4] != ZIP_MAGIC or len(data) < off + 30:
        return None
    name_len, extra_len = struct.unpack_from("<HH", data, off + 26)
    start = off + 30 + name_len + extra_len
    raw = data[start : start + info.compress_size]
    return raw if len(raw) == info.compress_size else None


@functools.cache
def _isal():
    """ISA-L's zlib, imported on first use: not every command inflates a sheet."""
    from isal import isal_zlib

    return isal_zlib


def _crc32(data: bytes) -> int:
    """zlib's CRC-32 of ``data``, computed by ISA-L (about four times as fast) when it is long."""
    if len(data) < 4096:
        return zlib.crc32(data)
    return _isal().crc32(data)


def _inflated(raw: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A stored or deflated part unpacked, never beyond its declared size, or None when it is
    not exactly what the directory says (size, CRC) or not readable here (zipfile then reads it
    and says what is wrong). Inflated by ISA-L: the same bytes as zlib, in about half the time on
    a table sheet (and no more on a small part)."""
    import zipfile  # (loaded with the first package: an import of a text needs none)

    if info.compress_type == zipfile.ZIP_STORED:
        xml = raw
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = _isal().decompressobj(-15)
        try:
            xml = inflater.decompress(raw, info.file_size + 1)
        except (_isal().error, zlib.error):
            return None
        if not inflater.eof:
            return None
    else:
        return None
    if len(xml) != info.file_size or _crc32(xml) != info.CRC:
        return None
    return xml


def _zip_bytes(entries: list[tuple[zipfile.ZipInfo, bytes, int, int, int]]) -> bytes:
    """A zip archive of (entry, body, method, CRC, unpacked size), in that order."""
    out, central, offset = [], [], 0
    for info, body, method, crc, size in entries:
        utf8 = info.flag_bits & 0x800
        name = _stored_name(info)
        fixed = (20, utf8, method, 0, 0x21, crc, len(body), size, len(name))
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, *fixed, 0) + name
        central.append(
            struct.pack("<IH", 0x02014B50, 20)
            + struct.pack("<HHHHHIIIHHHHHII", *fixed, 0, 0, 0, 0, 0, offset)
            + name
        )
        out += (local, body)
        offset += len(local) + len(body)
    directory = b"".join(central)
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0
    )
    return b"".join([*out, directory, end])  # (one copy of the whole archive, not three)


class ReaderPanic(Exception):
    """python-calamine (Rust) panicked on a file: pyo3 raises that as PanicException, a
    BaseException, which every ``except Exception`` lets through; ``rust_reader`` turns it into
    this, which the readers report as a damaged file (F103)."""


class _Quiet:
    """File descriptor 2 pointed at /dev/null while any thread is inside ``rust_reader``: the
    first to enter saves and redirects it, the last to leave restores it (threads that overlap
    would otherwise restore each other's /dev/null and leave stderr lost for good)."""

    lock = _thread.allocate_lock()  # (threading.Lock itself: threading is not loaded for it)
    depth = 0
    saved = -1
    devnull = -1

    @classmethod
    def enter(cls) -> None:
        with cls.lock:
            if cls.depth == 0:
                try:
                    if cls.devnull < 0:
                        cls.devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
                    cls.saved = os.dup(2)
                    os.dup2(cls.devnull, 2)
                except OSError:  # no stderr (a daemon): nothing to keep quiet
                    cls.saved = -1
            cls.depth += 1

    @classmethod
    def leave(cls) -> None:
        with cls.lock:
            cls.depth -= 1
            if cls.depth == 0 and cls.saved >= 0:
                os.dup2(cls.saved, 2)
                os.close(cls.saved)
                cls.saved = -1


@contextlib.contextmanager
def rust_reader():
    """Around every call into python-calamine: a panic becomes ReaderPanic, and the panic
    hook's own message (Rust writes it straight to file descriptor 2, before pyo3 sees the
    panic) is kept off the terminal -- the finding says what happened. Only calamine runs in
    here, and it writes nothing else to stderr (another thread writing to stderr meanwhile is
    not shown either: checks run in worker processes, so that is rare and brief). The reader
    reads a whole workbook inside one block (its own Python writes nothing to stderr), so its
    calls into calamine nest without a system call each."""
    _Quiet.enter()
    try:
        yield
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":
            raise ReaderPanic(str(exc)[:200]) from None
        raise
    finally:
        _Quiet.leave()


def calamine_book(path: Path, data: bytes = b""):
    """python-calamine's workbook for ``path``, from ``data`` when given: the bytes intake
    vetted (``Package.data``), so a file replaced or rewritten after intake cannot slip past
    the bounds. Its ``from_path`` turns the name into UTF-8 and a name that is not (GBK bytes
    from a Windows zip, kept as surrogates) then names no file; such a file is opened here."""
    import io

    from python_calamine import CalamineWorkbook

    with rust_reader():
        if data:
            return CalamineWorkbook.from_filelike(io.BytesIO(data))
        name = str(path)
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            with open(path, "rb") as fh:
                return CalamineWorkbook.from_filelike(fh)
        return CalamineWorkbook.from_path(name)


def open_package(path: Path) -> Package:
    """Vet ``path``; never raises for a bad file (the findings say what is wrong). The caller
    closes the package when done with it."""
    import zipfile  # (loaded with the first package: an import of a text needs none)

    pkg = Package(path)

    def bad(code: str, **args: object) -> Package:
        pkg.refuse(code, **args)
        return pkg

    try:
        stat = vet_input(path)
    except InputRefused as refused:
        if not os.path.lexists(path):
            return bad("F101")
        return bad("F113", zh=refused.zh, en=refused.en)
    try:
        pkg.mtime = stat.st_mtime
        if stat.st_size == 0:
            return bad("F109")
        if stat.st_size > MAX_FILE_BYTES:
            return bad("F106", detail=f"{stat.st_size // 1024 // 1024} MiB")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat_module.S_ISREG(st.st_mode):  # swapped since the stat
                return bad("F113", zh="不是普通文件", en="not a regular file")
            pkg.data = _read_up_to(fh, st.st_size, MAX_FILE_BYTES + 1)
        head = pkg.data[:8]
        if not pkg.data:
            return bad("F109")
        if len(pkg.data) > MAX_FILE_BYTES:
            return bad("F106", detail=f"{len(pkg.data) // 1024 // 1024} MiB")
    except FileNotFoundError:
        return bad("F101")
    except OSError as exc:
        return bad("F110", detail=exc.strerror or str(exc))

    if head.startswith(CFB_MAGIC):
        return _vet_cfb(pkg, bad)
    if kind := next((k for magic, k in _ARCHIVE_MAGIC if head.startswith(magic)), None):
        return bad("F114", found=kind)
    if not head.startswith(ZIP_MAGIC):
        return bad("F102", suffix=path.suffix or "(none)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(pkg.data))
    # ValueError: an entry name flagged UTF-8 that is not (UnicodeDecodeError); struct.error:
    # a header field cut short; NotImplementedError: an entry needing a zip version beyond any
    # (a damaged directory, not a password: F103)
    except (
        zipfile.BadZipFile,
        EOFError,
        zipfile.LargeZipFile,
        ValueError,
        struct.error,
        NotImplementedError,
    ) as exc:
        return bad("F103", detail=str(exc) or "bad zip")
    except OSError as exc:
        return bad("F103", detail=exc.strerror or str(exc))
    try:
        _vet_zip(pkg, zf, bad)
    except (zipfile.BadZipFile, EOFError, KeyError, OSError, ValueError, zlib.error) as exc:
        bad("F103", detail=str(exc) or type(exc).__name__)
    except (RuntimeError, NotImplementedError) as exc:  # zip-level encryption, odd compression
        bad("F104", detail=str(exc))
    if pkg.ok and pkg.kind == "xlsx":
        pkg.zip = zf
    else:
        zf.close()
    return pkg


# Archives units send their workbooks in (F114), by their first bytes; zip is told apart from an
# Office package by its entries.
_ARCHIVE_MAGIC = (
    (b"Rar!\x1a\x07", ".rar"),
    (b"7z\xbc\xaf\x27\x1c", ".7z"),
    (b"\x1f\x8b", ".gz"),
)


# Entries an Office package has (one is enough): a zip with none of them is a plain archive.
_OFFICE_MARKERS = frozenset(
    {
        "[Content_Types].xml",
        "mimetype",
        "xl/workbook.xml",
        "word/document.xml",
        "ppt/presentation.xml",
    }
)


def _listing(infos: list[zipfile.ZipInfo], most: int = 5) -> str:
    """The files in a zip archive, as its maker named them: names without the UTF-8 flag are
    UTF-8 all the same (Info-ZIP) or in the maker's code page (GBK on Chinese Windows), not the
    CP437 zipfile decodes them as."""
    names = []
    for info in infos:
        if info.is_dir():
            continue
        name = info.filename
        if not info.flag_bits & 0x800:  # UTF-8 without the flag (Info-ZIP), else GBK
            raw = name.encode("cp437", errors="replace")
            for encoding in ("utf-8", "gb18030"):
                with contextlib.suppress(UnicodeDecodeError):
                    name = raw.decode(encoding)
                    break
        names.append(name.rsplit("/", 1)[-1][:80])
    shown = ", ".join(names[:most]) or "(empty)"
    return shown + (f" … (+{len(names) - most})" if len(names) > most else "")


def _read_up_to(fh, size: int, limit: int) -> bytes:
    """At most ``limit`` bytes of ``fh``, whose size was ``size`` when opened. Asked for the size
    (plus one, to see a file that grew) rather than the limit: a read of 50 MB reserves 50 MB."""
    data = fh.read(min(size, limit - 1) + 1)
    if len(data) > size and len(data) < limit:
        data += fh.read(limit - len(data))  # it grew since: read on, as far as the limit
    return data


def _vet_cfb(pkg: Package, bad) -> Package:
    """An OLE compound file: a legacy .xls, or an OOXML package encrypted with a password."""
    head = pkg.data[: 1 << 20]
    if (
        "EncryptedPackage".encode("utf-16-le") in head
        or "EncryptionInfo".encode("utf-16-le") in head
    ):
        return bad("F104", detail="password-to-open")
    if "WordDocument".encode("utf-16-le") in head:
        return bad("F105", found=".doc")
    if "Workbook".encode("utf-16-le") in head or "Book".encode("utf-16-le") in head:
        pkg.kind = "xls"
        # calamine sizes each sheet from its corner cells and allocates the rectangle (256 x
        # 65,536 cells cost 1 GB): bound every sheet from its cell records first.
        try:
            for name, (rows, cols) in _xls_extents(pkg.data).items():
                pkg._charge(name, rows, cols)
        except Refused:
            pass  # the finding is recorded
        except Exception as exc:  # a damaged compound file: calamine would fail on it too
            bad("F103", detail=f"{type(exc).__name__}: {str(exc)[:200]}")
        return pkg
    return bad("F102", suffix=pkg.path.suffix or "(none)")


def _vet_zip(pkg: Package, zf: zipfile.ZipFile, bad) -> None:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        bad("F106", detail=f"{len(infos)} entries")
        return
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED_BYTES:
        bad("F106", detail=f"{total // 1024 // 1024} MiB unpacked")
        return
    for info in infos:
        if info.flag_bits & 0x1:
            bad("F104", detail="encrypted zip entry")
            return
        if info.file_size > MAX_PART_BYTES:
            bad("F106", detail=f"{info.filename}: {info.file_size // 1024 // 1024} MiB")
            return
        if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            bad("F106", detail=f"{info.filename}: compression ratio over {MAX_RATIO}")
            return
    names = zf.NameToInfo
    if not _OFFICE_MARKERS & names.keys():
        bad("F114", found=f"{pkg.path.suffix or '.zip'}: {_listing(infos)}")
        return  # a plain zip archive (a unit's files sent zipped): no Office package
    if problem := zip_names(zf) or zip_dtd(zf, pkg.data):
        pkg.findings.append(problem.finding(pkg.path))
        return
    if "word/document.xml" in names:
        bad("F105", found=".docx")
        return
    if "ppt/presentation.xml" in names:
        bad("F105", found=".pptx")
        return
    if "mimetype" in names and zf.read("mimetype").startswith(
        b"application/vnd.oasis.opendocument.spreadsheet"
    ):
        pkg.kind = "ods"
        # calamine parses every table of content.xml when it opens the file, each into a dense
        # grid: all of them are bounded here, before it does.
        try:
            pkg._ods_extents()
            for name, (rows, cols) in pkg._ods.items():
                pkg._charge(name, rows, cols)
        except Refused:
            pass  # the finding is recorded
        return
    if "xl/workbook.xml" not in names:
        bad("F102", suffix=pkg.path.suffix or "(none)")
        return
    pkg.kind = "xlsx"
    data = pkg.data
    key = _sheet_map_key(data, names)
    known = _SHEET_MAPS.get(key) if key is not None else None
    if known is not None:
        pkg.structure_locked, parts, pkg._calamine_workbook = known
        pkg.sheet_parts = dict(parts)
    elif not _read_sheet_map(pkg, zf, bad, key):
        return
    for part in names:  # python-calamine reserves room for every string the table declares
        if part.lower().endswith("sharedstrings.xml"):
            head = _part_head(data, names[part], 4096)
            if head is None or len(head) < min(4096, names[part].file_size):
                head = _read_head(zf, part)
            m = _UNIQUE_COUNT.search(head)
            if m and int(m.group(1)) > names[part].file_size // 5 + 1:  # <si/> is 5 bytes
                bad(
                    "F103",
                    detail=f"{part}: declares {int(m.group(1))} strings in {names[part].file_size} bytes",
                )
                return
    if "docProps/core.xml" in names:
        m = _MODIFIED.search(_part_bytes(data, zf, "docProps/core.xml")[:8192])
        pkg.saved_at = m.group(1).decode(errors="replace").strip() if m else ""


_MAP_PARTS = ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")
# The sheet map of workbook.xml and its rels as packed (bytes, CRC, size, method) -> what
# ``_read_sheet_map`` found in them when they are in order: (structure locked, sheet -> part,
# workbook.xml as calamine is handed it).
# The same for every file of a template, and a function of those bytes alone.
_SHEET_MAPS: dict[tuple, tuple[bool, dict[str, str], tuple[bytes, int] | None]] = {}
_SHEET_MAPS_MOST = 16
_MAP_KEY_BYTES = 1 << 16  # packed parts larger than this are read, not remembered


def _sheet_map_key(data: bytes, names: dict[str, zipfile.ZipInfo]) -> tuple | None:
    """The two parts of the sheet map as packed, or None when either is not one that
    ``_part_bytes`` inflates straight from the archive (or is too large to remember)."""
    key = []
    for part in _MAP_PARTS:
        info = names.get(part)
        if info is None:
            key.append(None)
            continue
        if (
            info.flag_bits & 1
            or info.file_size > MAX_PART_BYTES
            or info.compress_size > _MAP_KEY_BYTES
        ):
            return None
        raw = _packed(data, info)
        if raw is None:
            return None
        key.append((raw, info.CRC, info.file_size, info.compress_type))
    return tuple(key)


def _read_sheet_map(pkg: Package, zf: zipfile.ZipFile, bad, key: tuple | None) -> bool:
    """Read the sheet map (workbook.xml and its rels) into ``pkg``; False when the file is
    refused for it. With ``key``, a map in order is remembered (``_SHEET_MAPS``) when both
    parts were inflated from those packed bytes alone."""
    data, names = pkg.data, zf.NameToInfo
    workbook = _inflated(key[0][0], names[_MAP_PARTS[0]]) if key is not None else None
    alone = workbook is not None
    if workbook is None:
        workbook = _part_bytes(data, zf, "xl/workbook.xml")
    if b"<!DOCTYPE" in workbook[:4096]:
        bad("F107", part="xl/workbook.xml")
        return False
    pkg.structure_locked = _found_from_name(workbook, b"workbookProtection", _WORKBOOK_PROTECTION)
    # Without a prefixed sheet tag the unprefixed pattern finds the same tags: it starts with a
    # literal, which the regex engine skips to (the prefixed pattern tries every "<").
    sheets = (_SHEET_ENTRY if b":sheet" in workbook else _PLAIN_SHEET_ENTRY).findall(workbook)
    rels = b""
    if "xl/_rels/workbook.xml.rels" in names:
        rels = _inflated(key[1][0], names[_MAP_PARTS[1]]) if alone else None
        if rels is None:
            alone = False
            rels = _part_bytes(data, zf, "xl/_rels/workbook.xml.rels")
    if problem := _unusual_sheet_map(workbook, rels, sheets):
        bad("F103", detail=problem)
        return False
    pkg.sheet_parts = dict(_sheet_map(rels, tuple(sheets))) if rels else {}
    if len(sheets) > MAX_SHEETS:
        bad("F106", detail=f"{len(sheets)} sheets")
        return False
    if (cut := _without_defined_names(workbook)) is not None:
        pkg._calamine_workbook = (cut, _crc32(cut))
    if alone:
        if len(_SHEET_MAPS) >= _SHEET_MAPS_MOST:
            _SHEET_MAPS.clear()
        _SHEET_MAPS[key] = (pkg.structure_locked, dict(pkg.sheet_parts), pkg._calamine_workbook)
    return True


_UTF8_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
# Markup before the defined names that an XML reader tokenizes as these patterns do: text, and
# tags whose attribute values are double-quoted and hold no "<" or ">" (so each tag ends at its
# first ">"). Comments, CDATA and other processing instructions are refused already.
_PLAIN_MARKUP = patterns.compile(rb"""(?:[^<>]++|<[^<>"']*+(?:"[^"<>]*+"[^<>"']*+)*+>)*+""")
# Defined names as Excel, WPS, LibreOffice and the Python writers write them: no markup inside,
# no entity but the five XML predefines (LibreOffice writes a quoted sheet name &apos;...&apos;),
# which an XML reader unescapes without fail.
_VALUE_TEXT = rb'[^<>&"]*+(?:&(?:amp|lt|gt|quot|apos);[^<>&"]*+)*+'  # (in double quotes)
_ELEMENT_TEXT = rb"[^<>&]*+(?:&(?:amp|lt|gt|quot|apos);[^<>&]*+)*+"
_DEFINED_NAMES = patterns.compile(
    rb'<definedNames>(?:<definedName(?: [A-Za-z_:]++="'
    + _VALUE_TEXT
    + rb'")++>'
    + _ELEMENT_TEXT
    + rb"</definedName>)*+</definedNames>"
)


def _without_defined_names(workbook: bytes) -> bytes | None:
    """workbook.xml without its ``<definedNames>`` element when calamine's reading of the rest is
    then the same, else None. calamine reads a defined name as its name attribute and the text
    up to its end tag, into a list the readers here never ask for; it takes sheets from
    ``<sheet>`` tags and the date system from ``<workbookPr>`` (neither is in the element cut).
    The element is cut only when it is written plainly (``_DEFINED_NAMES``: text and attribute
    values without markup or an entity other than the five predefined ones, valid UTF-8 --
    nothing calamine could fail on) and starts
    where an XML reader is between tags (``_PLAIN_MARKUP`` before it, UTF-8 declared): every
    event outside it is then the same, and so is every error."""
    if not workbook.startswith(_UTF8_DECLARATION) or len(workbook) > 1 << 20:
        return None
    start = workbook.find(b"<definedNames>")
    if start < 0:
        return None
    names = _DEFINED_NAMES.match(workbook, start)
    if names is None or not _PLAIN_MARKUP.fullmatch(workbook, 0, start):
        return None
    try:
        names.group(0).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return workbook[:start] + workbook[names.end() :]


def _read_head(zf: zipfile.ZipFile, part: str, size: int = 4096) -> bytes:
    with zf.open(part) as fh:
        return fh.read(size)


def _part_bytes(data: bytes, zf: zipfile.ZipFile, part: str) -> bytes:
    """A whole part, inflated straight from the package's bytes (zipfile's per-part set-up
    costs more than inflating a small part): the same bytes ``_read_bounded`` gives, size and
    CRC checked. Anything unusual goes through zipfile, which says what is wrong with it."""
    info = zf.NameToInfo.get(part)
    if info is not None and info.file_size <= MAX_PART_BYTES and not info.flag_bits & 1:
        raw = _packed(data, info)
        xml = _inflated(raw, info) if raw is not None else None
        if xml is not None:
            return xml
    return _read_bounded(zf, part)


def _read_bounded(zf: zipfile.ZipFile, part: str) -> bytes:
    """Read a part, never more than its declared size (which intake already bounded)."""
    info = zf.getinfo(part)
    with zf.open(info) as fh:
        return fh.read(min(info.file_size, MAX_PART_BYTES))


def _protected(xml: bytes) -> bool:
    """Whether the sheet is protected (``_SHEET_PROTECTION`` anywhere)."""
    return _found_from_name(xml, b"sheetProtection", _SHEET_PROTECTION)


def _found_from_name(xml: bytes, name: bytes, pattern: re.Pattern) -> bool:
    """Whether ``pattern`` (an element ``name``, prefixed or not) matches anywhere in ``xml``.
    The pattern tries every "<" from where it starts, and the element comes late in the part:
    so find the literal name first and search from the "<" before it (no earlier "<" can
    begin a match: a prefix holds no "<")."""
    i = xml.find(name)
    if i < 0:
        return False
    return bool(pattern.search(xml, max(0, xml.rfind(b"<", 0, i))))


# --- a sheet's extent: the grid python-calamine will allocate ----------------------------------
#
# calamine reads a sheet with quick-xml and allocates the rectangle up to the last place holding
# a value. A cell is a start tag whose local name (after a first "prefix:") is "c"; its place is
# its attribute named exactly r -- quoted either way, spaces allowed around "=", letters in either
# case, any number of digits, the last r when there are several -- else the row of the enclosing
# <row r=...> (or one past the last </row>) and the column after the previous cell. A start tag
# ends at the first ">" outside quotes; comments, CDATA and processing instructions are skipped.
# A scan that misses any of these (a single-quoted r, a ">" inside another attribute's value, a
# lowercase or zero-padded reference) lets a few bytes ask for 512 GiB and abort the process.
#
# _ODD_CELL finds a cell start tag that is not in the form spreadsheet writers use: the literal
# `<c r="`, a reference of one letter and at most four digits, then only attributes of one to
# three lowercase letters other than r (s, t, cm, vm, ph), double-quoted. When there is none (and no prefixed cell), every cell calamine can
# read lies within _PLAIN_BOUND: one search, no match object per cell. Otherwise the sheet is
# walked tag by tag (``_xlsx_extent``), as it is when the bound would not fit the budget.
_ODD_CELL = patterns.compile(  # (possessive: no part of a plain cell can be given back to match)
    rb'<c(?:[\t\n\r/>]| (?!r="[A-Z][1-9][0-9]{0,3}+"(?: (?:[a-qs-z]|[a-z]{2,3}+)="[^"]*+")*+/?>))'
)
_PREFIXED_CELL = patterns.compile(rb":c[\s/>]")
_PLAIN_BOUND = (9999, 26)
_TOKEN = patterns.compile(  # (one "<" in front: the engine skips straight to each "<")
    rb"<(?:!--.*?-->|!\[CDATA\[.*?\]\]>|\?.*?\?>|![^>]*>"  # skipped as quick-xml skips them
    rb"|/([^\s>]*)[^>]*>"  # an end tag: its name
    # a whole cell holding a plain value, as one token (its attributes): the usual cell
    rb"|c((?:\s(?:[^>\"'/]|\"[^\"]*\"|'[^']*')*)?)>"
    rb"(?:<v>[^<]*</v>|<f>[^<]*</f>|<f/>|<is><t>[^<]*</t></is>)*</c>"
    rb"|([^\s/>]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>)",  # a start tag: its name and the rest
    re.S,
)
_R_ATTRIBUTE = patterns.compile(rb"""r(?<=[\s"']r)\s*=\s*("[^"]*"|'[^']*')""")
_CELL_PLACE = patterns.compile(rb"([A-Za-z]+)([0-9]+)")
_ROW_PLACE = patterns.compile(rb"[A-Za-z]*([0-9]+)")


def _plain_bound(xml: bytes) -> tuple[int, int] | None:
    """An upper bound of the sheet's extent when every cell is written the plain way, else None."""
    if _PREFIXED_CELL.search(xml) or _ODD_CELL.search(xml):
        return None
    return _PLAIN_BOUND


def _local(name: bytes) -> bytes:
    """quick-xml's local name: what follows the first colon."""
    return name.partition(b":")[2] if b":" in name else name


@functools.lru_cache(maxsize=8192)
def _r_values(attrs: bytes) -> tuple[bytes, ...]:
    """The values of the attributes named exactly r (and of anything that looks like one inside
    another attribute's value: a place too many only makes the extent larger). Cached: the same
    cells recur in every file of a template."""
    if b"r" not in attrs:
        return ()
    return tuple(quoted[1:-1] for quoted in _R_ATTRIBUTE.findall(attrs))


@functools.lru_cache(maxsize=4096)
def _cell_place(value: bytes) -> tuple[int, int] | None:
    """(row, col), 0-based, of an r= value as calamine reads it (letters in either case, any
    number of digits), or None when calamine would not take it."""
    found = _CELL_PLACE.fullmatch(value)
    if found is None or not int(found.group(2)):
        return None
    return int(found.group(2)) - 1, _col_number(found.group(1).upper()) - 1


def _xlsx_extent(xml: bytes) -> tuple[int, int]:
    """The last row and column (1-based) of a cell with content, placed as python-calamine places
    cells (see above), walked tag by tag from the first sheetData start tag. A cell that names its
    place is put there. One that does not is put where calamine puts it when the sheet data is
    well formed (tags nested and closed, no row or cell inside a cell); otherwise calamine's value
    readers may skip tags this walk sees, so such a cell is put as far as it could be: the largest
    row named so far plus every row closed so far, the largest column named so far plus every
    cell so far."""
    rows = cols = loose_rows = loose_cols = 0
    row = col = 0  # calamine's row_index and col_index (0-based)
    top_row = top_col = row_ends = cells = 0
    stack: list[bytes] = []  # open elements, from sheetData down
    started = in_cell = False
    well_formed = True
    for m in _TOKEN.finditer(xml):
        end, whole, name, rest = m.groups()
        if whole is not None:  # a cell and its end at once
            name, rest, empty = b"c", whole, False
        elif name is not None:
            empty = rest.endswith(b"/")
        elif end is None:
            continue  # a comment, CDATA, a processing instruction or a declaration
        if not started:
            started = name is not None and _local(name) == b"sheetData"
            if started and not empty:
                stack.append(name)
            continue
        if end is not None:  # (the walk goes on past sheetData: a later cell still counts)
            local = end if b":" not in end else _local(end)
            if stack:
                well_formed = well_formed and stack.pop() == end
            if local == b"c":
                well_formed = well_formed and in_cell
                in_cell = False
                col += 1
            elif local == b"row":
                well_formed = well_formed and not in_cell
                row, col, row_ends = row + 1, 0, row_ends + 1
            continue
        local = name if b":" not in name else _local(name)
        if local == b"row":
            well_formed = well_formed and not in_cell
            for value in _r_values(rest):
                found = _ROW_PLACE.fullmatch(value)
                if found and int(found.group(1)):
                    row = int(found.group(1)) - 1
                    top_row = max(top_row, row)
            if empty:
                row, col, row_ends = row + 1, 0, row_ends + 1
            else:
                stack.append(name)
            continue
        if local != b"c":
            if not empty:
                stack.append(name)
            continue
        well_formed = well_formed and not in_cell
        named = None
        for value in _r_values(rest):
            place = _cell_place(value)
            if place is not None:
                named = place if named is None else max(named, place)
                top_col = max(top_col, place[1])
        if named is not None:
            col = named[1]
            if not empty:
                rows, cols = max(rows, named[0] + 1), max(cols, named[1] + 1)
        elif not empty:
            rows, cols = max(rows, row + 1), max(cols, col + 1)
            loose_rows = max(loose_rows, top_row + row_ends + 1)
            loose_cols = max(loose_cols, top_col + cells + 1)
        cells += 1
        if empty or whole is not None:  # (an empty cell: calamine places none) the next column
            col += 1
        else:
            stack.append(name)
            in_cell = True
    if well_formed:
        return rows, cols
    return max(rows, loose_rows), max(cols, loose_cols)


_ODS_TAG = patterns.compile(
    rb"<table:(table|table-row|table-cell|covered-table-cell)(?=[\s/>])([^>]*?)(/?)>|</table:table>"
)
_ODS_REPEAT = patterns.compile(rb'number-(?:rows|columns)-repeated="(\d{1,12})"')
_ODS_NAME = patterns.compile(rb'table:name="([^"]*)"')


def _ods_runs(xml: bytes) -> Iterator[tuple[str, str, int, int, int, int, bytes, bool]]:
    """A walk of an OpenDocument spreadsheet's tables as readers place their cells: repeated
    rows and cells count as many as they repeat. Yields ``("table", name, …)`` where a table
    starts, ``("end", name, …)`` where it ends, and for each run of cells ``("cells", table,
    first row, rows, first column (0-based), columns, its attributes, whether it is empty
    (self-closing))``."""
    name, row, col, repeat_rows = "", 0, 0, 1
    for m in _ODS_TAG.finditer(xml):
        tag = m.group(1)
        if tag is None:  # </table:table>
            yield "end", name, 0, 0, 0, 0, b"", True
            continue
        rep = _ODS_REPEAT.search(m.group(2))
        n = int(rep.group(1)) if rep else 1
        if tag == b"table":
            found = _ODS_NAME.search(m.group(2))
            name = _unescape(found.group(1).decode("utf-8", errors="replace")) if found else ""
            row, col, repeat_rows = 0, 0, 1
            yield "table", name, 0, 0, 0, 0, b"", True
        elif tag == b"table-row":
            row += repeat_rows
            repeat_rows, col = n, 0
        else:
            yield "cells", name, row, repeat_rows, col, n, m.group(2), bool(m.group(3))
            col += n


def _ods_extents(xml: bytes) -> dict[str, tuple[int, int]]:
    """Each table's real extent in an OpenDocument spreadsheet: repeated rows and cells count
    as many as they repeat, but only cells with content extend the range."""
    out: dict[str, tuple[int, int]] = {}
    rows = cols = 0
    for kind, name, row, repeat_rows, col, n, attrs, empty in _ods_runs(xml):
        if kind == "table":
            rows = cols = 0
        elif kind == "end":
            out[name] = (rows, cols)
        elif not empty or b"value-type" in attrs:  # content fills the repeated run
            rows, cols = max(rows, row + repeat_rows - 1), max(cols, col + n)
    return out


_ODS_FORMULA = patterns.compile(rb"\stable:formula=")
_MAX_FORMULA_CELLS = 200_000  # beyond this, formulas of a sheet are left unknown


def _ods_formulas(xml: bytes) -> dict[str, set[tuple[int, int]]]:
    """Each table's formula cells (row, column, 1-based) in an OpenDocument spreadsheet's
    content.xml, placed as ``_ods_extents`` places cells (repeats and covered cells count). A
    table with more formula cells than the bound is left out (unknown)."""
    out: dict[str, set[tuple[int, int]]] = {}
    cells: set[tuple[int, int]] | None = None
    for kind, name, row, repeat_rows, col, n, attrs, _ in _ods_runs(xml):
        if kind == "table":
            cells = set()
        elif kind == "end":
            if cells is not None:
                out[name] = cells
        elif cells is not None and _ODS_FORMULA.search(attrs):
            if len(cells) + n * repeat_rows > _MAX_FORMULA_CELLS:
                cells = None
            else:
                cells.update(
                    (r, c)
                    for r in range(row, row + repeat_rows)
                    for c in range(col + 1, col + n + 1)
                )
    return out


def _xls_formulas(data: bytes) -> dict[str, set[tuple[int, int]]]:
    """Each sheet's formula cells (row, column, 1-based) in a legacy .xls: its FORMULA records,
    walked as ``_xls_extents`` walks the cell records."""
    import struct

    import olefile

    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        stream = "Workbook" if ole.exists("Workbook") else "Book"
        data = ole.openstream(stream).read(MAX_PART_BYTES)
    names: dict[int, str] = {}
    found: dict[int, set[tuple[int, int]]] = {}
    pos, current, n, total = 0, -1, len(data), 0
    while pos + 4 <= n:
        rtype, size = struct.unpack_from("<HH", data, pos)
        body = pos + 4
        if rtype == 0x0809:  # BOF: a new substream starts here
            current = pos
            found.setdefault(current, set())
        elif rtype == 0x0085 and size >= 8:  # BOUNDSHEET: a sheet's name and its BOF offset
            offset, cch, high = struct.unpack_from("<I2xBB", data, body)
            raw = data[body + 8 : body + 8 + cch * (2 if high & 1 else 1)]
            names[offset] = raw.decode("utf-16-le" if high & 1 else "latin-1", errors="replace")
        elif rtype == 0x0006 and size >= 4:  # FORMULA: row, column, ...
            row, col = struct.unpack_from("<HH", data, body)
            total += 1
            if total > _MAX_FORMULA_CELLS:
                return {}
            found.setdefault(current, set()).add((row + 1, col + 1))
        pos = body + size
    return {names[k]: cells for k, cells in found.items() if k in names}


# BIFF record types that hold a cell: row (u16) and column (u16) lead their data. MULRK and
# MULBLANK hold a run of cells whose last column is the u16 before the end.
_XLS_CELLS = {0x0006, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6, 0x0201}
_XLS_RUNS = {0x00BD, 0x00BE}


def _xls_extents(data: bytes) -> dict[str, tuple[int, int]]:
    """Each sheet's extent in a legacy .xls (BIFF8): the last row and column of its cell
    records, found by walking the records of the Workbook stream (no values are decoded)."""
    import struct

    import olefile

    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        stream = "Workbook" if ole.exists("Workbook") else "Book"
        data = ole.openstream(stream).read(MAX_PART_BYTES)
    names: dict[int, str] = {}
    extents: dict[int, list[int]] = {}
    pos, current, n = 0, -1, len(data)
    while pos + 4 <= n:
        rtype, size = struct.unpack_from("<HH", data, pos)
        body = pos + 4
        if rtype == 0x0809:  # BOF: a new substream starts here
            current = pos
        elif rtype == 0x0085 and size >= 8:  # BOUNDSHEET: a sheet's name and its BOF offset
            offset, cch, high = struct.unpack_from("<I2xBB", data, body)
            raw = data[body + 8 : body + 8 + cch * (2 if high & 1 else 1)]
            names[offset] = raw.decode("utf-16-le" if high & 1 else "latin-1", errors="replace")
        elif (rtype in _XLS_CELLS or rtype in _XLS_RUNS) and size >= 4:
            row, col = struct.unpack_from("<HH", data, body)
            if rtype in _XLS_RUNS and size >= 6:
                col = max(col, struct.unpack_from("<H", data, body + size - 2)[0])
            ext = extents.setdefault(current, [0, 0])
            ext[0], ext[1] = max(ext[0], row + 1), max(ext[1], col + 1)
        pos = body + size
    return {names.get(k, str(k)): (r, c) for k, (r, c) in extents.items()}


def _a1(rows: int, cols: int) -> str:
    letters = ""
    c = cols
    while c > 0:
        c, rem = divmod(c - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters or 'A'}{max(rows, 1)}"


def _has_formula(xml: bytes, cell: str, start: int = 0) -> tuple[bool, int]:
    """Whether the ``<c r="cell">`` element holds an ``<f>`` (found by its reference: a byte
    search, not a parse), and where to search for the next cell."""
    i = xml.find(b' r="' + cell.encode() + b'"', start)
    if i < 0:
        return False, start
    end = xml.find(b">", i)
    if end < 0 or xml[end - 1 : end] == b"/":
        return False, i  # <c r="A1" .../>: an empty cell
    return bool(_FORMULA_START.match(xml, end + 1)), end


_A1 = patterns.compile(r"([A-Z]+)(\d+)")


def row_col(cell: str) -> tuple[int, int]:
    m = _A1.match(cell)
    return int(m.group(2)), _col_number(m.group(1).encode())


def _attrs(tag: bytes) -> dict[bytes, bytes]:
    """A tag's attributes (local names, r:id kept whole). Not to be changed: the same tags recur
    in every file of a template, so a short tag's are remembered and shared."""
    if len(tag) > 512:
        return _read_attrs(tag)
    return _short_attrs(tag)


def _read_attrs(tag: bytes) -> dict[bytes, bytes]:
    return {k.split(b":")[-1] if k != b"r:id" else k: v for k, v in _ATTR.findall(tag)}


_short_attrs = functools.lru_cache(maxsize=1024)(_read_attrs)


# Any tag whose local name is sheet or Relationship, in any case (what a looser reader of the
# XML could take for one), and an attribute value in single quotes.
_ANY_SHEET_TAG = patterns.compile(rb"<(?:[\w.-]+:)?sheet\b", re.IGNORECASE)
_ANY_RELATIONSHIP_TAG = patterns.compile(rb"<(?:[\w.-]+:)?Relationship\b", re.IGNORECASE)
_SINGLE_QUOTED = patterns.compile(rb"=\s*'")


def _unusual_sheet_map(workbook: bytes, rels: bytes, sheets: list[bytes]) -> str | None:
    """Why the sheet map in workbook.xml and its rels may not be read alike by intake (regular
    expressions) and python-calamine (an XML tokenizer), or None. Each sheet intake bounds is
    found through this map: read differently, calamine would open a part intake never bounded
    (a far cell in it aborted the process). Excel, WPS, LibreOffice and the Python writers write
    these two parts plainly; comments, CDATA, processing instructions, single-quoted or broken
    attributes, tags in another case or prefix, duplicate names or ids and targets that climb
    out of their folder are refused as a damaged file."""
    relationships = _RELATIONSHIP.findall(rels)
    for part, xml, tags, loose, key in (
        ("xl/workbook.xml", workbook, sheets, _ANY_SHEET_TAG, b"name"),
        ("xl/_rels/workbook.xml.rels", rels, relationships, _ANY_RELATIONSHIP_TAG, b"Id"),
    ):
        if (
            _occurrences(xml, b"<!--", 2)
            or _occurrences(xml, b"<![CDATA[", 2)
            or _occurrences(xml, b"<?", 1) > 1
        ):
            return f"{part}: comments, CDATA or processing instructions"
        if len(loose.findall(xml)) != len(tags):
            return f"{part}: tags written unusually"
        seen = set()
        for tag in tags:
            if _SINGLE_QUOTED.search(tag) or tag.count(b'"') % 2:
                return f"{part}: a tag's attributes written unusually"
            if (value := _attrs(tag).get(key)) in seen:
                return f"{part}: two entries of one {key.decode()}"
            seen.add(value)
    used = {a.get(b"r:id") or a.get(b"id") for a in map(_attrs, sheets)}
    for a in map(_attrs, relationships):  # (only a sheet's target: others, e.g. ../customXml/)
        target = a.get(b"Target", b"")
        if a.get(b"Id") in used and (b"\\" in target or b"./" in target or b"%" in target):
            return "xl/_rels/workbook.xml.rels: a sheet's target outside its folder"
    return None


def _occurrences(xml: bytes, needle: bytes, at: int, most: int = 16) -> int:
    """``xml.count(needle)`` for a needle that cannot overlap itself, found through its byte at
    ``at``, one rare in these parts: the search skips to each such byte (memchr) instead of
    stopping at every "<". Beyond ``most`` of those bytes, counted directly."""
    char, found, seen = needle[at : at + 1], 0, 0
    i = xml.find(char, at)
    while i >= 0:
        seen += 1
        if seen > most:
            return xml.count(needle)
        found += xml.startswith(needle, i - at)
        i = xml.find(char, i + 1)
    return found


def _sheet_parts(data: bytes, zf: zipfile.ZipFile, sheets: list[bytes]) -> dict[str, str]:
    """Sheet name -> its part, from the ``<sheet>`` tags of workbook.xml and its rels."""
    if "xl/_rels/workbook.xml.rels" not in zf.NameToInfo:
        return {}
    rels = _part_bytes(data, zf, "xl/_rels/workbook.xml.rels")
    return dict(_sheet_map(rels, tuple(sheets)))


@functools.lru_cache(maxsize=64)
def _sheet_map(rels: bytes, sheets: tuple[bytes, ...]) -> dict[str, str]:
    """``_sheet_parts`` from the rels and the sheet tags: the same for every file of a template,
    so worked out once (a pure function of its arguments; callers get a copy)."""
    targets = {}
    for tag in _RELATIONSHIP.findall(rels):
        a = _attrs(tag)
        if b"Id" in a and b"Target" in a:
            targets[a[b"Id"]] = a[b"Target"].decode()
    out = {}
    for tag in sheets:
        a = _attrs(tag)
        rid = a.get(b"r:id") or a.get(b"id")
        target = targets.get(rid) if rid else None
        if not target or b"name" not in a:
            continue
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        out[_unescape(a[b"name"].decode("utf-8", errors="replace"))] = part
    return out


_CHARACTER_REFERENCE = patterns.compile(r"&#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}));")


def _unescape(text: str) -> str:
    if "&#" in text:  # a character by its number, as an XML reader decodes it
        text = _CHARACTER_REFERENCE.sub(_character, text)
    for entity, char in (
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", '"'),
        ("&apos;", "'"),
        ("&amp;", "&"),
    ):
        text = text.replace(entity, char)
    return text


def _character(m: re.Match) -> str:
    number = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    return chr(number) if number <= 0x10FFFF else m.group(0)


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n
