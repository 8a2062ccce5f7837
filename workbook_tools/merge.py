"""Combine returned workbooks county-wide, and know who is missing.

Every file is read and checked with the same code as ``wbtools check``. What each file
contributes (its input values, narrative, findings) is spooled to a temporary file as soon as it is
checked, and the filing is dropped: memory stays flat in the number of files. Once every file is
in, each roster unit gets one status (passed, failing, missing, duplicate) and every file one too
(outside the roster, wrong year or version); the included units are then summed cell by cell from
the spool, and the sum is checked with the rules again.
"""

from __future__ import annotations

import functools
import json
import os
import re
import struct
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import check, layout, rules, safe_text
from .files import replacing, unwritable
from .findings import Finding
from .output import Count
from .roster import Unit, identity
from .spec import Spec

STATUS_TEXT = {
    "passed": ("已报送通过", "passed"),
    "failing": ("未通过校验", "failed checks"),
    "missing": ("未报送", "not returned"),
    "duplicate": ("重复", "duplicate"),
    "superseded": ("已被替换", "superseded"),
    "outside": ("名册外", "not on the roster"),
    "mismatch": ("年份或版本不符", "wrong year or version"),
}
NAMES_SHOWN = 3  # file names a reason lists; a unit with 300 copies says “… 等 300 个”
SIMILARITY = 0.85  # N5: narrative sections this alike (character 3-gram Jaccard) are flagged
MIN_CHARS = 40  # N5, N6: shorter texts are not compared (one-sentence statements are alike)


@dataclass
class Entry:
    """One line of the status sheet: a file, or a roster unit that sent none."""

    unit: str
    code: str = ""
    kind: str = ""
    path: str | None = None
    year: int | None = None
    status: str = "missing"
    reason: tuple[str, str] = ("", "")  # zh, en
    errors: int = 0
    warnings: int = 0
    included: bool = False
    offset: int | None = None  # its record in the spool
    mtime: float = 0.0
    saved_at: str = ""
    key: str = ""  # the unit identity it was matched on
    conflict: str = ""  # the roster unit whose code the file bears under another name
    readable: bool = False
    version: str = ""
    unreadable_codes: str = ""
    # The file used for a unit: how many older ones it replaced, and some of their names (zh, en).
    replaced: tuple[int, str, str] = (0, "", "")
    figures: int | None = None  # a readable file's row in Result.figures
    signed: bool = False  # its record holds N5 signatures (a text long enough to compare)
    seq: int | None = None  # a file's place in the order the files were read (Result.rendered)

    @property
    def newness(self) -> tuple[str, float]:
        """What --prefer newest compares: the workbook's own saved time (Excel, WPS and
        LibreOffice set it on every save; file times change with copying), then the file time."""
        return (self.saved_at, self.mtime)

    def status_text(self, lang: str = "zh") -> str:
        return STATUS_TEXT[self.status][0 if lang == "zh" else 1]


def _reopened(fh: Any) -> Any:
    """A handle of this process's own on the (deleted) temporary file ``fh`` is open on
    (Linux): a forked child reads through it without moving its parent's offset, which the
    inherited handle shares."""
    return open(f"/proc/self/fd/{fh.fileno()}", "r+b")  # (closed with the merge)


_VALUES_FIRST = '{"values": '  # how a record made by _record starts (json.dumps' separators)
_DECODER = json.JSONDecoder()


class Spool:
    """Records (JSON lines) in a temporary file, read back by offset or in order."""

    def __init__(self) -> None:
        # Open for the life of the merge (closed by Result.close); deleted by the OS on close.
        self.fh = tempfile.TemporaryFile(mode="w+b", prefix="wbtools-merge-")  # noqa: SIM115

    def append(self, record: dict[str, Any]) -> int:
        return self.append_line(_line(record))

    def append_line(self, line: bytes) -> int:
        """Append a record already encoded (by ``_line``, in the worker that read the file)."""
        self.fh.seek(0, os.SEEK_END)
        offset = self.fh.tell()
        try:
            self.fh.write(line)
        except OSError as exc:  # the temporary folder is full
            raise unwritable(Path(tempfile.gettempdir()), exc) from None
        return offset

    def read(self, offset: int) -> dict[str, Any]:
        self.fh.seek(offset)
        return json.loads(self.fh.readline().decode("utf-8", "surrogatepass"))

    def values(self, offset: int) -> list[Any]:
        """A record's input values only (``_record`` writes them first): the rest of the
        record -- texts, findings, places -- is not parsed (the county sum reads every file)."""
        self.fh.seek(offset)
        line = self.fh.readline().decode("utf-8", "surrogatepass")
        if not line.startswith(_VALUES_FIRST):
            return json.loads(line)["values"]
        return _DECODER.raw_decode(line, len(_VALUES_FIRST))[0]

    def close(self) -> None:
        self.fh.close()


_PLAIN_NUMBERS = frozenset((int, float, bool))


class Figures:
    """Each readable file's figures (totals included) as a fixed-size row of doubles in a
    temporary file (NaN where a cell is empty or not a number), read back by row index: what
    分单位明细 and the charts show, made where the file was read (``_spooled``)."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.index = {dp_id: j for j, dp_id in enumerate(ids)}
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.size = 8 * len(ids)
        self.count = 0

    @staticmethod
    def make(ids: list[str], values: dict[str, Any]) -> array:
        """A row of figures in the order of ``ids`` (NaN where there is no number)."""
        row = list(map(values.get, ids))
        if _PLAIN_NUMBERS.issuperset(map(type, row)):  # the usual row: numbers only
            return array("d", row)
        nan = float("nan")
        return array("d", (v if isinstance(v, int | float) else nan for v in row))

    @staticmethod
    def pack(ids: list[str], values: dict[str, Any]) -> bytes:
        return Figures.make(ids, values).tobytes()

    def append(self, row: bytes) -> int:
        """Add a row made by ``pack``; its index."""
        if len(row) != self.size:
            raise ValueError("a row of figures of another spec")
        self.file.seek(self.count * self.size)
        try:
            self.file.write(row)
        except OSError as exc:  # the temporary folder is full
            raise unwritable(Path(tempfile.gettempdir()), exc) from None
        self.count += 1
        return self.count - 1

    def row(self, k: int) -> array:
        """Row ``k``'s figures in the order of ``ids`` (NaN where there is none)."""
        self.file.seek(k * self.size)
        row = array("d")
        row.frombytes(self.file.read(self.size))
        return row

    def close(self) -> None:
        self.file.close()


class Rendered:
    """What a caller made of each file where it was read (``merge(render=...)``): a fixed
    number of texts per file, each kept in a temporary file of its own (a stream), in the order
    the files were read, so that a writer can take one stream at a time in that order (the
    county workbook takes each block of 分单位明细 over every file in turn) with memory flat."""

    _HEAD = struct.Struct("<II")  # the file's seq, the text's length in bytes

    def __init__(self) -> None:
        self.streams: list[Any] = []  # made with the first file's texts
        self.count = 0

    def append(self, texts: list[str]) -> int:
        """Add one file's texts (one per stream); its seq."""
        if not self.streams:
            self.streams = [
                tempfile.TemporaryFile(prefix="wbtools-rendered-")  # noqa: SIM115 (close())
                for _ in texts
            ]
        if len(texts) != len(self.streams):
            raise ValueError("rendered texts of another count")
        seq = self.count
        try:
            for fh, text in zip(self.streams, texts, strict=True):
                data = text.encode("utf-8", "surrogatepass")
                fh.write(self._HEAD.pack(seq, len(data)) + data)
        except OSError as exc:  # the temporary folder is full
            raise unwritable(Path(tempfile.gettempdir()), exc) from None
        self.count += 1
        return seq

    def read(self, stream: int, entries: Iterable[Entry]) -> Iterator[tuple[Entry, str]]:
        """Stream ``stream``'s text of each of ``entries`` (files, in the order they were
        read), skipping the files between them."""
        fh = self.streams[stream]
        fh.seek(0)
        head = self._HEAD
        for e in entries:
            while True:
                seq, size = head.unpack(fh.read(head.size))
                if seq == e.seq:
                    yield e, fh.read(size).decode("utf-8", "surrogatepass")
                    break
                if seq > e.seq:
                    raise ValueError("entries out of the order their files were read in")
                fh.seek(size, os.SEEK_CUR)

    def close(self) -> None:
        for fh in self.streams:
            fh.close()


@dataclass
class Result:
    spec: Spec
    name: str  # the county (or whoever merges)
    year: int | None
    roster_given: bool
    entries: list[Entry]
    totals: dict[str, Any]
    provisional: bool
    total_findings: list[Finding]  # rules over the sum
    similar: list[Finding]  # N5
    spool: Spool
    figures: Figures | None = None
    rendered: Rendered | None = None  # what merge(render=...) made of each file, or None
    jobs: int = 1  # the processes the files were read with (the county workbook may use two)

    def count(self, status: str) -> int:
        return sum(1 for e in self.entries if e.status == status)

    @property
    def included(self) -> list[Entry]:
        return [e for e in self.entries if e.included]

    def records(self, entries: Iterable[Entry]) -> Iterator[tuple[Entry, dict[str, Any]]]:
        for e in entries:
            if e.offset is not None:
                yield e, self.spool.read(e.offset)

    def values_of(self, record: dict[str, Any]) -> dict[str, Any]:
        """A spooled record's values by datapoint id, totals recomputed."""
        return record_values(self.spec, record)

    def exit_code(self) -> int:
        if not self.included:
            return 2
        return 0 if all(e.status == "passed" for e in self.entries) else 1

    def _handles(self) -> list[Any]:
        handles = [self.spool.fh]
        if self.figures is not None:
            handles.append(self.figures.file)
        if self.rendered is not None:
            handles += self.rendered.streams
        return handles

    def before_fork(self) -> None:
        """Every write to the temporary files out of this process's buffers (a child's copy
        of a buffer must hold nothing to write), and the pool's ending threads waited for (a
        process forking must have no other thread)."""
        for fh in self._handles():
            fh.flush()
        if self.jobs > 1:
            from . import workers

            workers.settle()

    def reopen(self) -> None:
        """In a forked child (after ``before_fork`` in the parent): handles of its own on the
        temporary files (``_reopened``). The inherited ones stay open, unused."""
        self._inherited = self._handles()
        self.spool.fh = _reopened(self.spool.fh)
        if self.figures is not None:
            self.figures.file = _reopened(self.figures.file)
        if self.rendered is not None:
            self.rendered.streams = [_reopened(fh) for fh in self.rendered.streams]

    def close(self) -> None:
        self.spool.close()
        if self.figures is not None:
            self.figures.close()
        if self.rendered is not None:
            self.rendered.close()


def _line(record: dict[str, Any]) -> bytes:
    # surrogatepass: a file name that is not UTF-8 (GBK from a Windows zip) is kept as
    # surrogates and must come back as the same name (Spool.read decodes the same way)
    return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"


def record_values(spec: Spec, record: dict[str, Any]) -> dict[str, Any]:
    """A spool record's values by datapoint id, totals recomputed (in the worker that read the
    file, for ``Figures``, and in the parent, for ``Result.values_of``)."""
    return spec.compute(dict(zip(spec.inputs, record["values"], strict=True)))


# What a caller makes of each file where it is read (``merge(render=...)``), from the file's
# report and its figures (``Figures.make``; None for an unreadable file): a module-level function
# (it is sent to the worker processes), returning the same number of texts for every file.
Render = Callable[[check.Report, Spec, array | None], list[str]]


def _spooled(
    report: check.Report, spec: Spec, render: Render | None = None
) -> tuple[dict[str, Any], bytes, bytes | None, list[str] | None]:
    """What the merge keeps of one file, made where the file was read (a worker): the fields of
    its status line, its spool record already encoded, a readable file's figures (totals
    computed, packed for ``Figures``) and what ``render`` makes of it -- work done in the pool
    that the parent, which writes the county workbook after it, then need not do. Only these
    cross to the parent."""
    f = report.filing
    entry = {
        "unit": f.unit or Path(report.path).stem,
        "code": f.code,
        "kind": f.kind,
        "path": report.path,
        "year": f.year,
        "errors": report.errors,
        "warnings": report.warnings,
        "mtime": f.mtime,
        "saved_at": f.saved_at,
        "readable": f.readable,
        "version": f.meta.get("format_version", ""),
        "unreadable_codes": ""
        if f.readable
        else "、".join(sorted({x.code for x in report.findings})),
    }
    record = _record(report, spec)
    entry["signed"] = bool(record["minhash"])
    figures = None
    if f.readable:
        figures = Figures.make(list(spec.datapoints), record_values(spec, record))
    rendered = render(report, spec, figures) if render is not None else None
    return entry, _line(record), None if figures is None else figures.tobytes(), rendered


def _record(report: check.Report, spec: Spec) -> dict[str, Any]:
    f = report.filing
    homes = _homes(spec)
    return {
        # first: the county sum reads only these of every file (Spool.values)
        "values": [f.values.get(i) for i in spec.inputs] if f.readable else [],
        "path": report.path,
        "unit": f.unit,
        "code": f.code,
        "kind": f.kind,
        "year": f.year,
        "readable": f.readable,
        "version": f.meta.get("format_version", ""),
        "texts": f.texts,
        # Where each value came from, where that differs from the template's place (most files:
        # nowhere), so the spool stays small.
        "sources": {
            k: list(v)
            for k, v in f.sources.items()
            if (home := homes.get(k)) and home != v and home != tuple(v)
        },
        "findings": [
            [
                x.code,
                x.level(spec).value,
                x.sheet,
                x.cell,
                x.datapoint,
                x.message("zh", spec),
                x.message("en", spec),
            ]
            for x in report.findings
        ],
        "errors": report.errors,
        "warnings": report.warnings,
        "mtime": f.mtime,
        # N5's signature of each text long enough to be compared, made here in the pool rather
        # than by the parent after it (similar_narratives)
        "minhash": {
            k: _signature(shingles).tobytes().hex()
            for k, text in f.texts.items()
            if len(text) >= MIN_CHARS and (shingles := _shingles(text))
        },
    }


_HOMES: dict[str, dict[str, tuple[str, str]]] = {}


def _homes(spec: Spec) -> dict[str, tuple[str, str]]:
    """Each datapoint's place in the template, (sheet, A1), computed once per spec: every file's
    record compares its ~200 sources with them."""
    if spec.hash not in _HOMES:
        places = layout.build(spec).places
        _HOMES[spec.hash] = {k: (places[k].sheet, places[k].a1) for k in spec.datapoints}
    return _HOMES[spec.hash]


def source_of(spec: Spec, record: dict[str, Any], dp_id: str) -> tuple[str, str]:
    if dp_id in record["sources"]:
        return tuple(record["sources"][dp_id])
    place = layout.build(spec).place(dp_id)
    return place.sheet, place.a1


def merge(
    paths: list[Path],
    spec: Spec,
    roster: list[Unit] | None = None,
    *,
    year: int | None = None,
    name: str = "",
    include_failing: bool = False,
    prefer: str = "newest",
    previous: Path | None = None,
    jobs: int | None = None,
    progress=None,
    render: Render | None = None,
) -> Result:
    """Merge ``paths`` for ``roster``. A unit with several files (a resubmission) is counted
    once: ``prefer="newest"`` uses its newest file (the workbook's saved time, then the file
    time) and lists the older ones as superseded; ``prefer="none"`` holds them all out as
    duplicates for the office to sort out. ``render`` is run on every file where it is read, in
    the worker processes: the county workbook's rows of each file are made there
    (``county.prepare``), so that writing the workbook after the pool only puts them together
    (``Result.rendered``)."""
    files = check.expand(paths)
    jobs = jobs or check.default_jobs()
    spool = Spool()
    by_key = {}
    if roster:
        for u in roster:
            by_key["name:" + identity(u.name)] = u
            if u.code:
                by_key["code:" + identity(u.code)] = u
    entries: list[Entry] = []
    names = tuple(u.name for u in roster) if roster else ()
    figures = Figures(list(spec.datapoints))
    rendered = Rendered() if render is not None else None
    shape = _spooled if render is None else functools.partial(_spooled, render=render)
    if jobs > 1:
        _warm(spec, render is not None)
    for fields, line, row, texts in check.iter_reports(
        files, spec, previous=previous, jobs=jobs, shape=shape, names=names
    ):
        entry = Entry(**fields, offset=spool.append_line(line))
        if row is not None:
            entry.figures = figures.append(row)
        if rendered is not None:
            entry.seq = rendered.append(texts)
        entry.status = "passed" if entry.readable else "failing"
        entries.append(entry)
        if progress:
            progress(entry)
    expected_year = year or _common_year(entries)
    _match(entries, roster, by_key)
    _statuses(entries, spec, roster, expected_year, include_failing, prefer)
    if roster:
        present = {e.key for e in entries if e.key}
        for u in roster:
            if _unit_key(u) not in present:
                entries.append(
                    Entry(
                        u.name,
                        u.code,
                        u.kind,
                        key=_unit_key(u),
                        status="missing",
                        reason=("没有收到该单位的文件", "no file from this unit"),
                    )
                )
    result = Result(
        spec,
        name,
        expected_year,
        roster is not None,
        entries,
        {},
        False,
        [],
        [],
        spool,
        figures,
        rendered,
        jobs if len(files) >= check.BATCH else 1,  # (iter_reports reads fewer in one process)
    )
    _sum(result, include_failing)
    result.similar = similar_narratives(result) + same_as_last_year(result, previous)
    return result


def _warm(spec: Spec, packing: bool) -> None:
    """Before the pool's workers fork from this process: what each would otherwise make with
    its first file (~4 ms) and this process needs later anyway -- the spec's layout (the
    reader's and the county workbook's), the datapoints' homes (sums, sources), and ISA-L where
    the county workbook is packed (intake inflates with it) -- made once here, inherited."""
    layout.build(spec)
    _homes(spec)
    if packing:
        from isal import isal_zlib  # noqa: F401


def _common_year(entries: list[Entry]) -> int | None:
    years = Counter(e.year for e in entries if e.year)
    return years.most_common(1)[0][0] if years else None


def _unit_key(u: Unit) -> str:
    return "code:" + identity(u.code) if u.code else "name:" + identity(u.name)


def _match(entries: list[Entry], roster: list[Unit] | None, by_key: dict[str, Unit]) -> None:
    """Attach each file to its roster unit: by code, then by name; an unreadable file by a roster
    name or code found in its file name."""
    for e in entries:
        if roster is None:
            e.key = "name:" + identity(e.unit)
            continue
        unit = None
        if e.code:
            unit = by_key.get("code:" + identity(e.code))
            if unit is not None and e.unit and identity(e.unit) != identity(unit.name):
                # Another unit's file with the right code (or a code typed wrong): code and name
                # must agree, or the file does not count for either unit.
                e.conflict, unit = unit.name, None
                continue
        unit = unit or by_key.get("name:" + identity(e.unit))
        if unit is None and e.status == "failing" and e.path:
            stem = identity(Path(e.path).stem)
            hits = [
                u
                for u in roster
                if identity(u.name) in stem
                or (u.code and re.search(rf"(^|\D){re.escape(u.code)}(\D|$)", stem))
            ]
            unit = max(hits, key=lambda u: len(u.name), default=None)
        if unit is not None:
            e.key = _unit_key(unit)
            e.unit, e.code = unit.name, unit.code or e.code
            e.kind = unit.kind or e.kind


def _statuses(entries, spec, roster, year, include_failing, prefer) -> None:
    for e in entries:  # what the record says of readability and version, the entry says too
        if not e.readable:
            codes = e.unreadable_codes
            e.reason = (f"无法读取（{codes}）", f"unreadable ({codes})")
            continue
        if e.version and e.version != spec.version:
            e.status = "mismatch"
            e.reason = (
                f"报告格式版本为 {e.version}，应为 {spec.version}",
                f"format version {e.version}, expected {spec.version}",
            )
        elif year and e.year != year:
            e.status = "mismatch"
            e.reason = (
                f"报告年度为 {e.year}，应为 {year}",
                f"report year {e.year}, expected {year}",
            )
        elif roster is not None and e.conflict:
            e.status = "outside"
            e.reason = (
                f"单位代码 {e.code} 在名册中属于“{e.conflict}”，与文件中的单位“{e.unit}”不符",
                f"code {e.code} belongs to “{e.conflict}” on the roster, not to “{e.unit}”",
            )
        elif roster is not None and not e.key:
            e.status = "outside"
            e.reason = (
                "名册中没有该单位（单位名称或代码不符，或报错了县）",
                "not on the roster (name or code differs, or sent to the wrong county)",
            )
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        if e.key and e.status in ("passed", "failing"):
            groups.setdefault(e.key, []).append(e)
    for group in groups.values():
        if len(group) < 2:
            continue
        if prefer == "newest":
            keep = max(group, key=lambda e: e.newness)
            kept = Path(keep.path).name
            older = [e for e in group if e is not keep]
            keep.replaced = (len(older), file_names(older), file_names(older, "en"))
            for e in older:
                e.status = "superseded"
                e.reason = (f"已由较新的文件“{kept}”替换", f"replaced by the newer “{kept}”")
        else:
            names, names_en = file_names(group), file_names(group, "en")
            for e in group:
                e.status = "duplicate"
                e.reason = (
                    f"同一单位有 {len(group)} 个文件（{names}），均未计入。"
                    "请确认后只保留一个，或用 --prefer newest 选用最新的",
                    f"{len(group)} files for one unit ({names_en}), none counted. Keep one, "
                    "or use --prefer newest to take the newest",
                )
    for e in entries:
        if e.status == "passed" and e.errors:
            e.status = "failing"
            e.reason = (f"校验发现 {e.errors} 个错误", f"{e.errors} error{Count(e.errors):s} found")
        if e.status == "passed":
            e.included = True
            if e.warnings:
                e.reason = (f"{e.warnings} 个警告", f"{e.warnings} warning{Count(e.warnings):s}")
        elif e.status == "failing" and include_failing and e.readable:
            e.included = True
        if e.replaced[0]:
            n, names, names_en = e.replaced
            zh, en = e.reason
            e.reason = (
                (zh + "；" if zh else "") + f"选用此最新文件，替换了较早的 {n} 个（{names}）",
                (en + "; " if en else "")
                + f"the newest file, used instead of {n} older ({names_en})",
            )


def file_names(entries: list[Entry], lang: str = "zh", shown: int = NAMES_SHOWN) -> str:
    """Some of the files' names, and how many there are in all: a reason stays one short line
    however many copies a unit sent."""
    names = [Path(e.path).name for e in entries[:shown] if e.path]
    if len(entries) <= len(names):
        return ("、" if lang == "zh" else ", ").join(names)
    if lang == "zh":
        return "、".join(names) + f" 等共 {len(entries)} 个"
    return ", ".join(names) + f" and others, {len(entries)} in all"


def _sum(result: Result, include_failing: bool) -> None:
    spec = result.spec
    sums = [0] * len(spec.inputs)
    numeric = (int, float)  # rules.number: exact types, bool is not a number
    for e in result.included:
        if e.offset is not None:
            values = result.spool.values(e.offset)
            if len(values) == len(sums):
                sums = [
                    a + (v if type(v) in numeric else 0) for a, v in zip(sums, values, strict=True)
                ]
            else:  # (a record of another spec: none in a merge)
                for i, v in enumerate(values):
                    sums[i] += rules.number(v)
    result.totals = spec.compute(dict(zip(spec.inputs, sums, strict=True)))
    result.provisional = any(e.included and e.status == "failing" for e in result.entries)
    result.total_findings = [
        Finding(
            inst.code, {"where": spec.where(inst), "left": left, "right": right}, datapoint=inst.at
        )
        for _, inst in spec.failures(result.totals)
        if inst.op != "type"
        for left, right in [rules.side_values(inst, result.totals)]
    ]


# --- N5: copied narrative --------------------------------------------------------------------

_PERMUTATIONS = 16  # MinHash signature length: 4 bands of 4 rows for the candidate search
_BANDS = 4
_SEEDS = None


def _shingles(text: str) -> set[str]:
    t = re.sub(r"[\s\d，。；、：“”（）,.;:()]+", "", text)
    return {t[i : i + 3] for i in range(max(len(t) - 2, 0))}


def _signature(shingles: set[str]):
    """MinHash of a set of 3-grams: the same for equal sets, equal in a fraction of places that
    estimates the Jaccard similarity. Hashes are crc32, so results do not vary between runs."""
    import zlib

    import numpy as np

    global _SEEDS
    if _SEEDS is None:
        rng = np.random.default_rng(20241231)
        _SEEDS = (
            rng.integers(1, 2**63, _PERMUTATIONS, dtype=np.uint64) | np.uint64(1),
            rng.integers(0, 2**63, _PERMUTATIONS, dtype=np.uint64),
        )
    hashes = np.fromiter(
        (zlib.crc32(s.encode()) for s in shingles), dtype=np.uint64, count=len(shingles)
    )
    a, b = _SEEDS
    with np.errstate(over="ignore"):  # multiply-add modulo 2**64 is the hash family
        return (hashes[:, None] * a + b).min(axis=0)


def similar_narratives(result: Result, min_chars: int = MIN_CHARS) -> list[Finding]:
    """N5: pairs of units whose narrative fields are nearly identical (内容雷同).

    One pass over the spool keeps, per unit and field, a 16-number MinHash signature (so memory
    stays small however many units). Units whose signatures agree on a whole band are candidates;
    identical texts are grouped first and each copy paired with the group's first, then distinct
    candidates are measured exactly (Jaccard similarity of character 3-grams, texts re-read).
    Texts shorter than ``min_chars`` are left out: one-sentence statements (no fee was charged)
    are alike by nature, not by copying.
    """
    spec = result.spec
    readable = [
        e
        for e in result.entries
        if e.offset is not None and e.readable and e.status not in ("mismatch", "superseded")
    ]
    signatures: dict[str, list[tuple[int, bytes]]] = {f.id: [] for f in spec.fields}
    for i, e in enumerate(readable):
        if min_chars == MIN_CHARS and not e.signed:
            continue  # no text long enough to compare: its record need not be read
        record = result.spool.read(e.offset)
        made = record.get("minhash") if min_chars == MIN_CHARS else None
        for field_def in spec.fields:
            if made is not None:  # made where the file was read, for the texts this long
                if field_def.id in made:
                    signatures[field_def.id].append((i, bytes.fromhex(made[field_def.id])))
                continue
            text = record["texts"].get(field_def.id, "")
            if len(text) >= min_chars and (shingles := _shingles(text)):
                signatures[field_def.id].append((i, _signature(shingles).tobytes()))
    pairs: dict[tuple[int, int], tuple[list[str], list[float]]] = {}
    for field_def in spec.fields:
        for a, b, score in _similar(result, readable, field_def.id, signatures[field_def.id]):
            if readable[a].key and readable[a].key == readable[b].key:
                continue  # a unit's own files (duplicates) are not copying
            labels, scores = pairs.setdefault((a, b), ([], []))
            labels.append(field_def.label)
            scores.append(score)
    seen: set[tuple] = set()  # one finding per pair of units, however many copies each sent
    unique = {}
    for (a, b), (labels, scores) in pairs.items():
        units = (readable[a].key or a, readable[b].key or b, tuple(labels))
        if units not in seen:
            seen.add(units)
            unique[(a, b)] = (labels, scores)
    pairs = unique
    return [
        Finding(
            "N5",
            {
                "field": "、".join(labels),
                "a": readable[a].unit,
                "b": readable[b].unit,
                "score": f"{min(scores):.0%}",
            },
            file=readable[a].path,
        )
        for (a, b), (labels, scores) in pairs.items()
    ]


def same_as_last_year(
    result: Result, previous: Path | None, min_chars: int = MIN_CHARS
) -> list[Finding]:
    """N6 against the unit's own report of the year before (--previous): its own text carried
    over unchanged (沿用上年文字) is worth a look, but it is no copying from a neighbour (N5)."""
    if previous is None:
        return []
    from .filing import Filing

    finder = check.previous_finder(result.spec, previous)
    out = []
    for entry, record in result.records(e for e in result.entries if e.included):
        last = finder(Filing(entry.path or "", unit=entry.unit, code=entry.code, year=entry.year))
        if last is None or not last.readable or (entry.year and last.year != entry.year - 1):
            continue
        labels, scores = [], []
        for field_def in result.spec.fields:
            now, then = record["texts"].get(field_def.id, ""), last.texts.get(field_def.id, "")
            if len(now) < min_chars or len(then) < min_chars:
                continue
            a, b = _shingles(now), _shingles(then)
            score = len(a & b) / len(a | b) if a | b else 0.0
            if score >= SIMILARITY:
                labels.append(field_def.label)
                scores.append(score)
        if labels:
            args = {
                "field": "、".join(labels),
                "a": entry.unit,
                "year": last.year,
                "score": f"{min(scores):.0%}",
            }
            out.append(Finding("N6", args, file=entry.path))
    return out


def _similar(result: Result, owners: list[Entry], field_id: str, signed: list[tuple[int, bytes]]):
    groups: dict[bytes, list[int]] = {}
    for i, sig in signed:
        groups.setdefault(sig, []).append(i)
    for members in groups.values():  # equal signatures: equal 3-gram sets, as good as identical
        for other in members[1:]:
            yield members[0], other, 1.0
    width = _PERMUTATIONS * 8 // _BANDS
    buckets: dict[tuple[int, bytes], list[int]] = {}
    for sig, members in groups.items():
        for band in range(_BANDS):
            buckets.setdefault((band, sig[band * width : (band + 1) * width]), []).append(
                members[0]
            )
    seen: set[tuple[int, int]] = set()

    @functools.lru_cache(maxsize=128)  # a bucket's members meet each other: read each once
    def shingled(i: int) -> set[str]:
        return _shingles(result.spool.read(owners[i].offset)["texts"][field_id])

    for members in buckets.values():
        if len(members) > 50:
            continue  # shared by that many distinct texts: common phrasing, not copying
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pair = (min(members[x], members[y]), max(members[x], members[y]))
                if pair in seen:
                    continue
                seen.add(pair)
                ta, tb = shingled(pair[0]), shingled(pair[1])
                score = len(ta & tb) / len(ta | tb)
                if score >= SIMILARITY:
                    yield pair[0], pair[1], score


# --- tidy long form -------------------------------------------------------------------------

LONG_COLUMNS = [
    "unit",
    "code",
    "kind",
    "year",
    "status",
    "datapoint",
    "table",
    "row",
    "column",
    "value",
    "source_file",
    "cell",
]


def long_rows(result: Result, chunk: int = 200) -> Iterator[list[dict[str, Any]]]:
    """The readable units' values in tidy long form, a chunk of units at a time."""
    spec = result.spec
    batch: list[dict[str, Any]] = []
    units = 0
    for entry, record in result.records(e for e in result.entries if e.offset is not None):
        if not record["readable"]:
            continue
        values = result.values_of(record)
        for dp_id, dp in spec.datapoints.items():
            sheet, cell = source_of(spec, record, dp_id)
            batch.append(
                {
                    "unit": entry.unit,
                    "code": entry.code,
                    "kind": entry.kind,
                    "year": entry.year,
                    "status": entry.status,
                    "datapoint": dp_id,
                    "table": spec.table(dp.table).heading,
                    "row": " / ".join(lab for _, lab in dp.row_labels),
                    "column": " / ".join(lab for _, lab in dp.col_labels),
                    "value": values.get(dp_id),
                    "source_file": Path(entry.path).name,
                    "cell": f"{sheet}!{cell}" if cell else "",
                }
            )
        units += 1
        if units % chunk == 0:
            yield batch
            batch = []
    if batch:
        yield batch


_TEXT_COLUMNS = ("unit", "code", "kind", "status", "table", "row", "column", "source_file", "cell")


def write_long(result: Result, out: Path) -> Path:
    """Write the long form through pandas: .csv (UTF-8 with BOM, so Excel opens it right) or
    .parquet (needs pyarrow). Written to a temporary file and renamed into place."""
    import pandas as pd

    suffix = out.suffix.lower()
    with replacing(out) as tmp:
        if suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = None
            for rows in long_rows(result):
                table = pa.Table.from_pandas(
                    pd.DataFrame(rows, columns=LONG_COLUMNS), preserve_index=False
                )
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
            if writer is None:
                pq.write_table(pa.Table.from_pandas(pd.DataFrame(columns=LONG_COLUMNS)), tmp)
            else:
                writer.close()
        else:
            first = True
            for rows in long_rows(result):
                frame = pd.DataFrame(rows, columns=LONG_COLUMNS, dtype=object)  # a count 3 stays 3
                # Opened in Excel on purpose: a unit or file name like "=1+1" must stay text.
                for column in _TEXT_COLUMNS:
                    frame[column] = frame[column].map(
                        lambda v: safe_text.csv_cell(
                            safe_text.undecoded(v) if isinstance(v, str) else v
                        )
                    )
                frame.to_csv(
                    tmp,
                    mode="w" if first else "a",
                    header=first,
                    index=False,
                    encoding="utf-8-sig" if first else "utf-8",
                )
                first = False
            if first:
                pd.DataFrame(columns=LONG_COLUMNS).to_csv(tmp, index=False, encoding="utf-8-sig")
    return out
