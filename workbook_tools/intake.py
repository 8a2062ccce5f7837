"""The first stage for a returned file: decide whether it is safe and sensible to parse at all.

No Python workbook reader bounds what it unpacks, so this stage looks at the bytes first: empty,
not a workbook, an encrypted (password-to-open) package, a Word file renamed .xlsx, a truncated
zip, a zip bomb (too many entries, too large unpacked, implausible compression). Each is a coded
finding and the file is not parsed.

Each sheet is vetted again just before it is parsed (``Package.sheet_xml``): a DOCTYPE (how
entity-expansion bombs are declared) or a claimed range beyond any real report is refused. The
sheet's XML is kept for the facts python-calamine cannot give: which cells hold formulas and
whether the sheet is protected. (python-calamine itself refuses undefined entities and sizes a
sheet from its real cells, so these checks are about telling the user clearly, at no risk.)
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .findings import Finding

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 2_000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_PART_BYTES = 50 * 1024 * 1024
MAX_RATIO = 200  # unpacked/packed for a part over 1 MiB: real sheets stay far below
MAX_ROWS = 100_000
MAX_COLS = 1_000
MAX_CELLS = 2_000_000  # a sheet's real (not claimed) range, checked before it is converted

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: .xls, or an encrypted .xlsx
ZIP_MAGIC = b"PK\x03\x04"

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_SHEET_PROTECTION = re.compile(rb'<(?:\w+:)?sheetProtection\b[^>]*\bsheet="(1|true)"')
# Excel drops the element when a user unprotects the structure; LibreOffice (7.x) keeps an empty
# one and loses the attribute on every save, so the element's presence is what counts.
_WORKBOOK_PROTECTION = re.compile(rb"<(?:\w+:)?workbookProtection\b")
_SHEET_ENTRY = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_RELATIONSHIP = re.compile(rb"<Relationship\b[^>]*>")
_MODIFIED = re.compile(rb"<dcterms:modified[^>]*>([^<]+)<")
_FORMULA_START = re.compile(rb"\s*<(?:\w+:)?f[\s>/]")


class Refused(Exception):
    """A sheet must not be parsed; carries the finding that says why."""

    def __init__(self, finding: Finding):
        super().__init__(finding.code)
        self.finding = finding


@dataclass
class Package:
    """What intake learned about a file. ``ok`` is False when it must not be parsed."""

    path: Path
    kind: str = ""  # xlsx | xls | ods
    findings: list[Finding] = field(default_factory=list)
    sheet_parts: dict[str, str] = field(default_factory=dict)  # sheet name -> zip part
    structure_locked: bool = False
    mtime: float = 0.0
    saved_at: str = ""  # dcterms:modified of docProps/core.xml: when the workbook was last saved
    zip: zipfile.ZipFile | None = None  # open while the reader works; see close()
    _xml: dict[str, bytes] = field(default_factory=dict)
    _vetted: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not any(f.code.startswith("F") for f in self.findings)

    def refuse(self, code: str, **args: object) -> Refused:
        finding = Finding(code, dict(args), file=str(self.path))
        self.findings.append(finding)
        return Refused(finding)

    def vet_sheet(self, sheet: str) -> None:
        """Refuse (raise Refused) a sheet not to be parsed: a DOCTYPE, or a claimed range far
        beyond any report. Both sit at the head of the sheet's XML, so only that is read."""
        if self.kind != "xlsx" or self.zip is None or sheet in self._vetted:
            return
        part = self.sheet_parts.get(sheet)
        if part is None or part not in self.zip.NameToInfo:
            return
        with self.zip.open(part) as fh:
            head = fh.read(4096)
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            raise self.refuse("F107", part=part)
        if m := _DIMENSION.search(head):
            last_col, last_row = (
                (m.group(3), m.group(4)) if m.group(3) else (m.group(1), m.group(2))
            )
            if int(last_row) > MAX_ROWS or _col_number(last_col) > MAX_COLS:
                ref = m.group(0).decode(errors="replace").split('"')[1]
                raise self.refuse("F108", sheet=sheet, ref=ref)
        self._vetted.add(sheet)

    def sheet_xml(self, sheet: str) -> bytes | None:
        """A vetted sheet's whole XML (None for .xls/.ods, where calamine reads the binary or ODF
        itself, or when the sheet is not in the package)."""
        if self.kind != "xlsx" or self.zip is None:
            return None
        if sheet not in self._xml:
            self.vet_sheet(sheet)
            part = self.sheet_parts.get(sheet)
            if part is None or part not in self.zip.NameToInfo:
                return None
            self._xml[sheet] = _read_bounded(self.zip, part)
        return self._xml[sheet]

    def formulas(self, sheet: str, cells: Iterable[str]) -> dict[str, bool | None]:
        """For each A1 cell: True if it holds a formula, False if not, None when unknown."""
        xml = self.sheet_xml(sheet)
        if xml is None:
            return {c: None for c in cells}
        # Cells are stored row by row, left to right: look them up in that order, each search
        # starting where the previous one ended, so the sheet is scanned once.
        out, pos = {}, 0
        for cell in sorted(cells, key=_row_col):
            found, pos = _has_formula(xml, cell, pos)
            out[cell] = found
        return out

    def protected(self, sheet: str) -> bool | None:
        xml = self.sheet_xml(sheet)
        return None if xml is None else bool(_SHEET_PROTECTION.search(xml))

    def explain(self, error: Exception) -> Finding:
        """The finding for a file the value reader failed on: an entity declaration somewhere, a
        password, or plainly unreadable."""
        name, text = type(error).__name__, str(error)
        if name == "PasswordError" or "password" in text.lower():
            return self.refuse("F104", detail="password-to-open").finding
        if self.zip is not None:
            for info in self.zip.infolist():
                if info.filename.endswith((".xml", ".rels")):
                    with self.zip.open(info) as fh:
                        head = fh.read(4096)
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        return self.refuse("F107", part=info.filename).finding
        return self.refuse("F110", detail=f"{name}: {text[:200]}").finding

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()
            self.zip = None
        self._xml.clear()


def open_package(path: Path) -> Package:
    """Vet ``path``; never raises for a bad file (the findings say what is wrong). The caller
    closes the package when done with it."""
    pkg = Package(path)

    def bad(code: str, **args: object) -> Package:
        pkg.refuse(code, **args)
        return pkg

    try:
        stat = path.stat()
        pkg.mtime = stat.st_mtime
        if not path.is_file():
            return bad("F101")
        if stat.st_size == 0:
            return bad("F109")
        if stat.st_size > MAX_FILE_BYTES:
            return bad("F106", detail=f"{stat.st_size // 1024 // 1024} MiB")
        with path.open("rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        return bad("F101")
    except OSError as exc:
        return bad("F110", detail=exc.strerror or str(exc))

    if head.startswith(CFB_MAGIC):
        return _vet_cfb(pkg, bad)
    if not head.startswith(ZIP_MAGIC):
        return bad("F102", suffix=path.suffix or "(none)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        return bad("F103", detail=str(exc) or "bad zip")
    except OSError as exc:
        return bad("F103", detail=exc.strerror or str(exc))
    try:
        _vet_zip(pkg, zf, bad)
    except (zipfile.BadZipFile, EOFError, KeyError, OSError, ValueError) as exc:
        bad("F103", detail=str(exc) or type(exc).__name__)
    except (RuntimeError, NotImplementedError) as exc:  # zip-level encryption, odd compression
        bad("F104", detail=str(exc))
    if pkg.ok and pkg.kind == "xlsx":
        pkg.zip = zf
    else:
        zf.close()
    return pkg


def _vet_cfb(pkg: Package, bad) -> Package:
    """An OLE compound file: a legacy .xls, or an OOXML package encrypted with a password."""
    with pkg.path.open("rb") as fh:
        head = fh.read(1 << 20)
    if (
        "EncryptedPackage".encode("utf-16-le") in head
        or "EncryptionInfo".encode("utf-16-le") in head
    ):
        return bad("F104", detail="password-to-open")
    if "WordDocument".encode("utf-16-le") in head:
        return bad("F105", found=".doc")
    if "Workbook".encode("utf-16-le") in head or "Book".encode("utf-16-le") in head:
        pkg.kind = "xls"
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
        return
    if "xl/workbook.xml" not in names:
        bad("F102", suffix=pkg.path.suffix or "(none)")
        return
    pkg.kind = "xlsx"
    workbook = _read_bounded(zf, "xl/workbook.xml")
    if b"<!DOCTYPE" in workbook[:4096]:
        bad("F107", part="xl/workbook.xml")
        return
    pkg.structure_locked = bool(_WORKBOOK_PROTECTION.search(workbook))
    pkg.sheet_parts = _sheet_parts(zf, workbook)
    if "docProps/core.xml" in names:
        m = _MODIFIED.search(_read_bounded(zf, "docProps/core.xml")[:8192])
        pkg.saved_at = m.group(1).decode(errors="replace").strip() if m else ""


def _read_bounded(zf: zipfile.ZipFile, part: str) -> bytes:
    """Read a part, never more than its declared size (which intake already bounded)."""
    info = zf.getinfo(part)
    with zf.open(info) as fh:
        return fh.read(min(info.file_size, MAX_PART_BYTES))


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


_A1 = re.compile(r"([A-Z]+)(\d+)")


def _row_col(cell: str) -> tuple[int, int]:
    m = _A1.match(cell)
    return int(m.group(2)), _col_number(m.group(1).encode())


def _attrs(tag: bytes) -> dict[bytes, bytes]:
    return {k.split(b":")[-1] if k != b"r:id" else k: v for k, v in _ATTR.findall(tag)}


def _sheet_parts(zf: zipfile.ZipFile, workbook: bytes) -> dict[str, str]:
    try:
        rels = zf.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return {}
    targets = {}
    for tag in _RELATIONSHIP.findall(rels):
        a = _attrs(tag)
        if b"Id" in a and b"Target" in a:
            targets[a[b"Id"]] = a[b"Target"].decode()
    out = {}
    for tag in _SHEET_ENTRY.findall(workbook):
        a = _attrs(tag)
        rid = a.get(b"r:id") or a.get(b"id")
        target = targets.get(rid) if rid else None
        if not target or b"name" not in a:
            continue
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        out[_unescape(a[b"name"].decode("utf-8", errors="replace"))] = part
    return out


def _unescape(text: str) -> str:
    for entity, char in (
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", '"'),
        ("&apos;", "'"),
        ("&amp;", "&"),
    ):
        text = text.replace(entity, char)
    return text


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n
