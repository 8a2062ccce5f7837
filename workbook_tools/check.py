"""Verify filings: every rule of the spec, totals recomputed, narrative, last year's figures.

Totals are never trusted as stored. Two views of the table are used:
- the *sheet* view: what the workbook's own formulas would show, i.e. totals recomputed from the
  inputs except where a number was typed over a total formula (that number then stands, as it
  does in Excel). The defining rules (R2–R4: "this total is the sum of those cells") are checked
  on this view, so a typed-over total is reported once, at its own cell.
- the *true* view: every total recomputed from the inputs. All other rules (R1, W1, W2) are checked
  on it, so a typed-over total is not reported again by every rule that uses it.
A failing check whose cells are all totals (such as R1 on the 总计 column) only repeats what the
failing checks on the columns themselves say, and is reported only when nothing else fails.
"""

from __future__ import annotations

import itertools
import os
import stat as stat_module
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from pathlib import Path, PurePath, PureWindowsPath

from . import intake, layout, narrative, rules
from .filing import Filing
from .findings import Finding, Severity
from .normalise import number_text, shown
from .record import Record
from .roster import identity
from .spec import Spec

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

CHECKED_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
# Files in a folder that are not read as workbooks but must not pass unnoticed either: a unit's
# workbook zipped, or saved in a form that is not .xlsx (WPS's .et, Excel's binary .xlsb, a
# template file, Numbers). Each is reported (F114 for an archive, F102 otherwise; a workbook
# merely named so is read), so merge never counts a unit missing that did send a file.
NOTICED_SUFFIXES = (".zip", ".rar", ".7z", ".et", ".ett", ".xlsb", ".xltx", ".xltm", ".xlt")
NOTICED_SUFFIXES += (".numbers",)
JUMP = 5.0  # X3: a figure that grows or shrinks more than this factor year on year
JUMP_FLOOR = 10  # ... and is at least this large in one of the years (small counts jump easily)


class Report(Record):
    """The outcome for one file. (A record written out, not a dataclass: see ``record``.)"""

    _fields = ("path", "filing", "findings")

    def __init__(self, path: str, filing: Filing, findings: list[Finding] | None = None) -> None:
        self.path = path
        self.filing = filing
        self.findings = [] if findings is None else findings

    def count(self, severity: Severity) -> int:
        spec = self.filing.spec
        return sum(1 for f in self.findings if f.level(spec) is severity)

    @property
    def readable(self) -> bool:
        return self.filing.readable

    @property
    def errors(self) -> int:
        return self.count(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self.count(Severity.WARNING)


def _number(x: Any) -> float | int | None:
    return x if isinstance(x, int | float) and not isinstance(x, bool) else None


def _identical(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def views(filing: Filing) -> tuple[dict[str, Any], dict[str, Any], list[Finding]]:
    """(sheet view, true view, findings about stored totals) for a readable filing."""
    spec = filing.spec
    assert spec is not None
    true = spec.compute(filing.values)
    found: list[Finding] = []
    targets = spec.total_ids
    if not filing.missing and all(filing.formula.get(t) is True for t in targets):
        # The usual case: every total there and a formula, so the sheet shows the true sums
        # (the last branch of the loop below for each); only stored values that differ are said.
        stored_values = filing.values
        for target in targets:
            stored = _number(stored_values.get(target))
            if stored is not None and round(stored - true[target], 6) != 0:
                found.append(_t108(filing, target, stored, true[target]))
        return dict(true), true, found
    sheet: dict[str, Any] = {i: true[i] for i in spec.inputs}
    # The sheet view equals the true view until a stored total stands in for its sum; until then
    # each total is the true one (the same sum over the same values), not summed again.
    same = True
    number, get = rules.number, sheet.get
    for target, sources in spec.totals:
        recomputed = true[target] if same else sum(map(number, map(get, sources)))
        stored = _number(filing.values.get(target))
        has_formula = filing.formula.get(target)
        if target in filing.missing:
            sheet[target] = recomputed
        elif has_formula is False and filing.raw.get(target) not in ("", None):
            # Typed over the formula: the typed value is what the sheet shows and sums on.
            sheet[target] = stored if stored is not None else recomputed
            same = same and _identical(sheet[target], recomputed)
            value = shown(filing.raw.get(target))
            where = spec.datapoints[target].label()
            found.append(Finding("T107", {"where": where, "value": value}, **filing.at(target)))
        elif has_formula is None and stored is not None:
            sheet[target] = stored  # .xls/.ods: formula or not is unknown; the stored value stands
            same = same and _identical(stored, recomputed)
        else:
            sheet[target] = recomputed
            if stored is not None and round(stored - recomputed, 6) != 0:
                found.append(_t108(filing, target, stored, recomputed))
    return sheet, true, found


def _t108(filing: Filing, target: str, stored: float | int, recomputed: float | int) -> Finding:
    args = {
        "where": filing.spec.datapoints[target].label(),
        "value": number_text(stored),
        "expected": number_text(recomputed),
    }
    return Finding("T108", args, **filing.at(target))


def check_filing(
    filing: Filing, previous: Filing | None = None, names: Sequence[str] = ()
) -> list[Finding]:
    """Every finding on ``filing``; ``previous`` is last year's filing of the unit, ``names``
    the names of the units on the roster (so the text is checked against real names only)."""
    """Every finding for one filing: reading, totals, rules, narrative, cross-year."""
    found = list(filing.findings)
    spec = filing.spec
    if spec is None or not filing.readable:
        return found
    sheet, true, total_findings = views(filing)
    found += total_findings
    found += _rules(filing, spec, sheet, true)
    found += _narrative(filing, spec, true, names)
    if previous is not None and previous.spec is not None:
        found += cross_year(filing, previous, true)
    return sort_findings(found, spec)


def unknown(filing: Filing, spec: Spec) -> set[str]:
    """Datapoints whose value is not known: missing from the file, or totals summing one."""
    out = set(filing.missing)
    if not out:
        return out  # the usual case: nothing missing, so no total sums a missing value
    for target, sources in spec.totals:
        if out.intersection(sources):
            out.add(target)
    return out


def _rules(filing: Filing, spec: Spec, sheet: Mapping, true: Mapping) -> list[Finding]:
    failing: list[tuple[bool, Finding]] = []
    missing = unknown(filing, spec)
    # The type rule is checked cell by cell while reading (normalise), with the value shown; in
    # the usual case (nothing missing) the comparisons are evaluated all at once.
    candidates = spec.comparisons if missing else spec.failing(sheet, true, filing.kind or None)
    for rule, inst in candidates:
        values = sheet if rule.defines else true
        if missing:
            if gaps := missing.intersection(inst.cells):
                known = _group_sums(filing, inst, gaps)
                if known is None:
                    continue  # the missing table or row is its own finding; no guessing around it
                values = {**values, **known}
            if rules.holds(inst, values, spec.kinds, filing.kind or None):
                continue
        left, right = rules.side_values(inst, values)
        args = {"where": spec.where(inst), "left": number_text(left), "right": number_text(right)}
        summary = all(spec.datapoints[c].computed for c in inst.cells)
        where = filing.at_all([inst.at, *inst.cells])
        failing.append((summary, Finding(rule.code, args, **where)))
    plain = [f for summary, f in failing if not summary]
    return plain or [f for _, f in failing]


def _group_sums(filing: Filing, inst: rules.Instance, gaps: set[str]) -> dict[str, Any] | None:
    """Values that let ``inst`` be checked although some of its cells are missing, because
    only their sum enters it and that sum was printed (a group as one row); None otherwise. A
    printed total whose parts are partly missing stands as printed."""
    known: dict[str, Any] = {}
    for ids, total in filing.group_sums.items():
        if not gaps.intersection(ids):
            continue
        if not (set(ids) <= set(inst.left) or set(ids) <= set(inst.right)):
            return None  # the sub-rows enter separately: their split would matter
        known.update(dict.fromkeys(ids, 0))
        known[ids[0]] = total
    spec = filing.spec
    for dp in gaps - known.keys():
        stored = _number(filing.values.get(dp))
        if (
            dp in filing.missing
            or stored is None
            or not spec.datapoints[dp].computed
            or filing.formula.get(dp)  # a formula's cache sums what is missing as 0
        ):
            return None
        known[dp] = stored
    return known


def _narrative(
    filing: Filing, spec: Spec, true: Mapping, names: Sequence[str] = ()
) -> list[Finding]:
    out = []
    for field_def in spec.fields:
        if field_def.required and not filing.texts.get(field_def.id, "").strip():
            out.append(Finding("D101", {"field": field_def.label}, **filing.at(field_def.id)))
    # A claim is checked only against figures that are there: a table or row missing from the
    # file (cut off, an image) says nothing about what the text claims.
    gaps = unknown(filing, spec)
    known = {k: v for k, v in true.items() if k not in gaps} if gaps else true
    return out + narrative.check(filing, known, names)


def cross_year(filing: Filing, previous: Filing, true: Mapping) -> list[Finding]:
    """X1–X3 against last year's filing of the same unit."""
    spec = filing.spec
    _, last, _ = views(previous)
    out: list[Finding] = []

    gaps = unknown(filing, spec) | unknown(previous, spec)

    def both(dp: str) -> bool:
        return dp in spec.datapoints and dp not in gaps

    carried: list[tuple[bool, Finding]] = []
    for col in spec.sets.get("t3_columns", ()):
        now_id, then_id = f"t3.carried.{col}", f"t3.carry_next.{col}"
        if both(now_id) and both(then_id) and true[now_id] != last[then_id]:
            args = {
                "where": spec.datapoints[now_id].label(),
                "now": number_text(true[now_id]),
                "then": number_text(last[then_id]),
            }
            finding = Finding("X1", args, **filing.at_all([now_id]))
            carried.append((spec.datapoints[now_id].computed, finding))
    # The 总计 column only repeats the columns' own mismatch, as with R1 (see _rules).
    plain = [f for total, f in carried if not total]
    out += plain or [f for _, f in carried]
    for row in spec.sets.get("t2_doc_rows", ()):
        ids = [f"t2.{row}.{c}" for c in ("in_force", "issued", "repealed")]
        if all(both(i) for i in ids):
            expected = last[ids[0]] + true[ids[1]] - true[ids[2]]
            if true[ids[0]] != expected:
                args = {
                    "where": spec.datapoints[ids[0]].label(),
                    "now": number_text(true[ids[0]]),
                    "expected": number_text(expected),
                    "then": number_text(last[ids[0]]),
                }
                out.append(Finding("X2", args, **filing.at_all(ids)))
    watched = [
        d
        for d in spec.datapoints.values()
        if d.table == "t2" or (d.computed and d.table in ("t3", "t4"))
    ]
    for dp in watched:
        if not both(dp.id):
            continue
        now, then = true[dp.id] or 0, last[dp.id] or 0
        if (
            now > 0
            and then > 0
            and max(now, then) >= JUMP_FLOOR
            and (now > then * JUMP or now < then / JUMP)
        ):
            args = {"where": dp.label(), "now": number_text(now), "then": number_text(then)}
            out.append(Finding("X3", args, **filing.at(dp.id)))
    return out


_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}


def sort_findings(found: Iterable[Finding], spec: Spec | None) -> list[Finding]:
    """Errors first, then warnings and notes; within each, by sheet and cell (reading order)."""

    def cell_key(f: Finding) -> tuple:
        if f.cell:
            try:
                return layout.cell_position(f.cell)
            except (ValueError, AttributeError):
                pass
        return (-1, -1)

    return sorted(found, key=lambda f: (_ORDER[f.level(spec)], f.sheet or "", cell_key(f)))


# --- files -----------------------------------------------------------------------------------


def expand(paths: Iterable[Path], suffixes: tuple[str, ...] | None = None) -> list[Path]:
    """Files given, and files with ``suffixes`` inside folders given (recursively, sorted): by
    default workbooks and published reports as they are published (PDF, Word, web pages), so a
    folder of the counties' published reports is checked and merged like one of workbooks. Temp
    files Excel leaves while a workbook is open (~$name.xlsx) and a folder's README are skipped.
    The same files, in the same order, as ``iter_files`` gives one at a time."""
    return list(iter_files(paths, suffixes))


def iter_files(paths: Iterable[Path], suffixes: tuple[str, ...] | None = None) -> Iterator[Path]:
    """``expand`` one file at a time, so a run over 50,000 files never holds their list: each
    folder is walked depth first, its entries sorted by name, which is the order ``sorted()``
    gives whole paths (component by component). Folders reached through a symbolic link are not
    entered and folders that cannot be listed are skipped, as ``Path.rglob`` does. A file given
    twice (or also inside a folder given) comes once; only then is a set of the paths kept."""
    paths = list(paths)
    seen: set[Path] | None = set() if len(paths) > 1 else None
    for p in paths:
        is_dir = p.is_dir()
        if is_dir and suffixes is None:  # (the importer is not loaded for files named one by one)
            from .importer import FOLDER_REPORTS

            suffixes = CHECKED_SUFFIXES + NOTICED_SUFFIXES + FOLDER_REPORTS
        for q in _walk(p, suffixes) if is_dir else (p,):
            if seen is not None:
                if q in seen:
                    continue
                seen.add(q)
            yield q


_FOLD = str.lower if isinstance(PurePath(), PureWindowsPath) else None


def _walk(folder: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries]
    except PermissionError:
        return
    # Ordered as Path orders whole paths, part by part: as strings, case-folded on Windows (a
    # key object per name would cost more than the names in a folder of 50,000). Kept as one
    # string while the folder is walked (no name holds NUL): a pool forked meanwhile inherits
    # ~12 bytes a name, not a list of string objects (~70).
    names.sort(key=_FOLD)
    joined = "\0".join(names)
    del names
    for name in _parts(joined):
        q = folder / name
        try:
            is_dir = stat_module.S_ISDIR(os.lstat(q).st_mode)
        except OSError:
            continue  # gone since the folder was listed
        if is_dir:
            yield from _walk(q, suffixes)
        elif (
            q.suffix.lower() in suffixes
            and not name.startswith("~$")
            and not q.stem.lower().startswith("readme")
            and q.is_file()
        ):
            yield q


def _parts(joined: str) -> Iterator[str]:
    """The names in a NUL-joined string, one at a time."""
    start, end = 0, len(joined)
    while start < end:
        stop = joined.find("\0", start)
        if stop < 0:
            stop = end
        yield joined[start:stop]
        start = stop + 1


def previous_files(source: Path | None) -> list[Path]:
    """Last year's files as inputs: outputs must never overwrite them either."""
    if source is None:
        return []
    from .importer import IMPORTABLE

    return expand([source], CHECKED_SUFFIXES + IMPORTABLE)


def previous_finder(spec: Spec, source: Path | None) -> Callable[[Filing], Filing | None]:
    """Last year's filing for a unit: ``source`` is one workbook, or a folder matched by unit."""
    if source is None:
        return lambda filing: None
    from .importer import IMPORTABLE

    if source.is_file():
        last = read_any(source, spec)
        return lambda filing: last if last.readable else None
    by_unit: dict[str, Path] = {}
    for path in expand([source], CHECKED_SUFFIXES + IMPORTABLE):  # last year's may be published
        f = read_any(path, spec)
        if f.readable:
            by_unit.setdefault(identity(f.unit), path)
            if f.code:
                by_unit.setdefault("code:" + f.code, path)
    cache: dict[Path, Filing] = {}

    def find(filing: Filing) -> Filing | None:
        path = by_unit.get("code:" + filing.code) if filing.code else None
        path = path or by_unit.get(identity(filing.unit))
        if path is None:
            return None
        if path not in cache:
            cache[path] = read_any(path, spec)
        return cache[path]

    return find


def read_any(path: Path, spec: Spec) -> Filing:
    """A workbook through the reader; a published report (text, HTML, Word) through the importer.
    A file named as a report whose bytes are a workbook (saved or renamed .pdf, .doc, .txt) is
    read as the workbook it is."""
    from . import reader  # (an import, which checks the filing it read, needs no reader)

    if path.suffix.lower() in CHECKED_SUFFIXES:
        return reader.read(path, spec)  # (the importer is not loaded for a workbook)
    from . import importer

    if path.suffix.lower() in importer.IMPORTABLE and intake.sniff(path) != "workbook":
        return importer.read(path, spec)
    return reader.read(path, spec)


def check_file(
    path: Path,
    spec: Spec,
    previous: Callable[[Filing], Filing | None] | None = None,
    names: Sequence[str] = (),
) -> Report:
    filing = read_any(path, spec)
    last = previous(filing) if previous and filing.readable else None
    if last is not None and filing.year and last.year and last.year != filing.year - 1:
        last = None  # only the year before is "last year" (a file sent for the wrong year is not)
    return Report(str(path), filing, check_filing(filing, last, names))


def brief(report: Report, spec: Spec | None = None) -> Report:
    """The report with only what printing it needs (text or JSON output, the exit code): the
    filing's values, cells and texts are dropped, so a worker sends back a few hundred bytes
    and a long run keeps nothing it will not print."""
    f = report.filing
    slim = Filing(f.path, f.spec, f.unit, f.code, f.kind, f.year, readable=f.readable)
    return Report(report.path, slim, report.findings)


def for_feedback(report: Report, spec: Spec | None = None) -> Report:
    """``brief`` plus what a feedback workbook is written from (cells as read, texts, info)."""
    slim = brief(report)
    slim.filing.raw, slim.filing.texts = report.filing.raw, report.filing.texts
    slim.filing.info = report.filing.info
    return slim


def _check_in_worker(task: tuple) -> Any:
    path, spec_source, previous_source, shape, names = task
    spec = worker_spec(spec_source)
    report = check_file(Path(path), spec, _worker_previous(spec, previous_source), names)
    out = shape(report, spec) if shape else report
    if isinstance(out, Report):
        out.filing.spec = None  # the parent has the spec; do not send it back with every report
    return out


# A worker's spec, loaded with its first file: a pool's worker (merge's, check's, the portal's)
# checks every file against the parent's one spec, and loading it again per file, even from
# spec.load's cache, re-opened and re-read the spec's file (~0.4 ms a file, an eighth of reading
# one). A spec is never changed once loaded, so a copy a forked process inherits serves it too.
_WORKER_SPECS: dict[str | None, Spec] = {}


def worker_spec(source: str | None) -> Spec:
    if source not in _WORKER_SPECS:
        from . import spec as spec_module

        _WORKER_SPECS[source] = spec_module.load(source)
    return _WORKER_SPECS[source]


_PREVIOUS: dict[tuple[str, str | None], Callable] = {}


def _worker_previous(spec: Spec, source: str | None) -> Callable:
    k = (spec.hash, source)
    if k not in _PREVIOUS:
        _PREVIOUS[k] = previous_finder(spec, Path(source) if source else None)
    return _PREVIOUS[k]


def default_jobs() -> int:
    """Worker processes when the user does not say: one per core that is idle now (the load
    average says how many are busy), at most 8. A second process only helps on a free core; on a
    busy machine it would compete with the first and the parent, so the default is then 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # no load average (Windows): assume idle
        busy = 0.0
    return max(1, min(8, cores, int(cores - busy + 0.5)))


BATCH = 16  # files per task sent to a worker
AHEAD = 4  # tasks per worker in flight (workers.ordered_map): workers kept busy, not a whole run


def iter_reports(
    paths: Iterable[Path],
    spec: Spec,
    previous: Path | None = None,
    jobs: int | None = None,
    shape: Callable[[Report, Spec], Any] | None = None,
    names: Sequence[str] = (),
) -> Iterator[Any]:
    """Check many files, yielding each report in input order as it is ready (so a caller can
    stream); uses several processes for large batches. ``shape(report, spec)`` (a module-level
    function, run where the file is checked) turns each report into what the caller keeps, so only that
    crosses between processes. ``paths`` may be an iterator (``iter_files``): it is taken a few
    batches at a time, and only a few batches are in flight, so memory stays flat however many
    files there are."""
    jobs = jobs or default_jobs()
    total = len(paths) if isinstance(paths, Sized) else None  # (a list: the last tasks smaller)
    paths = iter(paths)
    head = list(itertools.islice(paths, BATCH))
    if jobs <= 1 or len(head) < BATCH:
        finder = previous_finder(spec, previous)
        for p in itertools.chain(head, paths):
            report = check_file(p, spec, finder, names)
            yield shape(report, spec) if shape else report
        return
    from . import workers  # (multiprocessing is not loaded for a single file)

    names = tuple(names)
    last_year = str(previous) if previous else None
    tasks = ((str(p), spec.source, last_year, shape, names) for p in itertools.chain(head, paths))
    del head
    for item in workers.ordered_map(_check_in_worker, tasks, jobs, _died, BATCH, total):
        if isinstance(item, Report):
            item.filing.spec = spec if item.filing.readable else None
        yield item


def _died(task: tuple, reason: str) -> Any:
    """The report for a file whose reading process died (the other files are still checked)."""
    finding = Finding("F112", {"detail": reason}, file=task[0])
    report = Report(task[0], Filing(task[0], findings=[finding]), [finding])
    shape = task[3] if len(task) > 3 else None
    if shape is None:
        return report
    from . import spec as spec_module

    return shape(report, spec_module.load(task[1]))


def check_paths(
    paths: list[Path],
    spec: Spec,
    previous: Path | None = None,
    jobs: int | None = None,
    progress: Callable[[Report], None] | None = None,
) -> list[Report]:
    """Check many files, in input order."""
    out = []
    for report in iter_reports(paths, spec, previous, jobs):
        out.append(report)
        if progress:
            progress(report)
    return out
