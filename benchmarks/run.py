"""Benchmarks: each aim of issue 13 as a ratio against a reference measured in the same run.

    python benchmarks/run.py [MEASURE ...] [--quick] [--json out/bench.json] [--list]   (make bench)

Every measure is one function registered with ``@measure``; it times wbtools and a reference
(python-calamine reading the same files, bare xlsxwriter writing the same cells, a python script
reading one file) in the same run and returns a ratio and its aim. Absolute times on a shared
machine are noise: compare the ratios. Memory is the peak of the whole process tree (the command
and every worker it starts), its RSS summed from /proc (shared pages counted once per process: an
upper bound; the summed PSS is reported beside it), sampled every 50 ms.

To add a measure, write one function taking the ``Bench`` (it holds the temporary folder, the
spec, generated workbooks and the timing helpers) and returning ``Bench.result(...)``:

    @measure("report-docx", aim="<= 0.2 s per report")
    def report_docx(b: Bench) -> dict:
        ...
        return b.result(seconds, at_most=0.2, unit="s", reference=..., note=...)

``--quick`` runs every measure on smaller inputs (for development); the full run keeps its
inputs so a 2-core machine finishes in a few minutes. The JSON result (default out/bench.json)
holds every measure's numbers, the machine's load average and the mode.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import replay  # noqa: E402  (benchmarks/replay.py)

WBTOOLS = [sys.executable, "-m", "workbook_tools"]
# The installed command, as scripts call it (its entry point, not ``python -m``).
WBTOOLS_SCRIPT = str(Path(sys.executable).parent / "wbtools")


# --- the registry ------------------------------------------------------------------------------


@dataclass
class Measure:
    name: str
    aim: str
    fn: Callable[[Bench], dict]


MEASURES: dict[str, Measure] = {}


def measure(name: str, aim: str):
    """Register a benchmark function under ``name`` (run in registration order)."""

    def register(fn: Callable[[Bench], dict]) -> Callable[[Bench], dict]:
        MEASURES[name] = Measure(name, aim, fn)
        return fn

    return register


# --- helpers -----------------------------------------------------------------------------------


def _mem_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        out.setdefault(ppid, []).append(int(entry))
    return out


def _tree_mb(root: int) -> tuple[float, float]:
    """(summed RSS, summed PSS) of a process and all its descendants, in MB."""
    kids = _children()
    rss = pss = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        r, p = _mem_kb(pid)
        rss, pss = rss + r, pss + p
        todo += kids.get(pid, [])
    return rss / 1024, pss / 1024


def run_tree(
    cmd: list[str], stdout=subprocess.DEVNULL, interval: float = 0.05
) -> tuple[float, float, float]:
    """(wall seconds, peak summed RSS, peak summed PSS of the whole process tree in MB) of a
    command. Summed RSS counts shared pages (the interpreter, libraries) once per process: the
    upper bound, and what the aims are held to; PSS shares them out."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, cwd=ROOT)
    peak_rss = peak_pss = 0.0
    while proc.poll() is None:
        rss, pss = _tree_mb(proc.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(interval)
    return time.perf_counter() - start, peak_rss, peak_pss


def wall(cmd: list[str]) -> float:
    return timed(cmd)[0]


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a command; CPU time (user + system, from the kernel's
    accounting of the finished child) is steadier than wall time on a shared machine."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, used


def cpu(fn: Callable, *args, **kwargs) -> float:
    """CPU seconds of this process, and of the children it waited for, for one call (steadier
    than wall time on a shared machine; the PDF reader works in a forked child)."""
    start = _cpu_with_children()
    fn(*args, **kwargs)
    return _cpu_with_children() - start


def _cpu_with_children() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def calamine_read(paths: list[Path]) -> None:
    """The reference: python-calamine reading every sheet of every file to Python values."""
    from python_calamine import CalamineWorkbook

    for p in paths:
        book = CalamineWorkbook.from_path(str(p))
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python()


CALAMINE_SCRIPT = """
import sys
from python_calamine import CalamineWorkbook
book = CalamineWorkbook.from_path(sys.argv[1])
for name in book.sheet_names:
    book.get_sheet_by_name(name).to_python()
"""


def load_average() -> float:
    return os.getloadavg()[0]


# --- workbooks ---------------------------------------------------------------------------------


def _filled(args: tuple) -> None:
    path, seed = args
    from workbook_tools import spec as spec_module
    from workbook_tools import synth, template
    from workbook_tools.roster import Unit

    spec = spec_module.load()
    rng = random.Random(seed)
    unit = Unit(f"测试单位{seed:05d}", f"{seed:05d}", rng.choice(["乡镇", "街道", "部门"]))
    values = synth.consistent_values(spec, rng, unit.kind)
    if seed % 10 == 0:
        values["t3.new.natural"] += 1  # one file in ten with a mistake
    texts = {f.id: "本年度依法做好政府信息公开工作。" for f in spec.fields}
    Path(path).write_bytes(
        template.render(spec, unit, 2025, values=spec.compute(values), texts=texts)
    )


def _renamed(source: Path, target: Path, old: int, new: int) -> None:
    """A copy of a generated workbook for another unit: the unit's name and code are swapped in
    the shared strings (same length), every other part copied as it is."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/sharedStrings.xml":
                data = data.replace(f"测试单位{old:05d}".encode(), f"测试单位{new:05d}".encode())
                data = data.replace(f">{old:05d}<".encode(), f">{new:05d}<".encode())
            out.writestr(info, data, compress_type=info.compress_type)


_WINDOW = re.compile(rb'(xWindow|yWindow|windowWidth|windowHeight|activeTab)="[0-9]*"')
_SELECTION = re.compile(rb'(activeCell|sqref)="[A-Z]+[0-9]+"')


def _saved_by_user(source: Path, target: Path, k: int) -> None:
    """A copy of ``source`` as another user's save of it would differ: the window's place and
    size and the active sheet in workbook.xml, the selected cell of each sheet; every part
    packed anew. (Office suites write these as the user left them: no two returns share a
    workbook.xml or a sheet's packed bytes.)"""
    values = {b"xWindow": 40 * k, b"yWindow": 30 * k, b"windowWidth": 16000 + 37 * k}
    values |= {b"windowHeight": 8000 + 23 * k, b"activeTab": k % 6}
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/workbook.xml":
                data = _WINDOW.sub(lambda m: b'%s="%d"' % (m[1], values[m[1]]), data)
            elif info.filename.startswith("xl/worksheets/sheet"):
                data = _SELECTION.sub(lambda m: b'%s="C%d"' % (m[1], k + 1), data)
            out.writestr(info.filename, data)


class Bench:
    """What measures share: a temporary folder, the spec, generated workbooks, the mode."""

    def __init__(self, folder: Path, quick: bool):
        import compileall

        from workbook_tools import spec as spec_module

        # As installed from a wheel: byte-compiled (an editable checkout may not be).
        compileall.compile_dir(ROOT / "workbook_tools", quiet=1)
        self.folder = folder
        self.quick = quick
        self.spec = spec_module.load()
        self.cores = os.cpu_count() or 1
        self._sets: dict[tuple[int, bool], Path] = {}
        self._base: list[Path] = []

    def size(self, quick: int, full: int) -> int:
        return quick if self.quick else full

    def _distinct(self, n: int) -> list[Path]:
        """``n`` generated workbooks of distinct units (written once, reused by every measure)."""
        base = self.folder / "base"
        base.mkdir(exist_ok=True)
        missing = [(str(base / f"u{i:05d}.xlsx"), i) for i in range(len(self._base), n)]
        if missing:
            with ProcessPoolExecutor(max_workers=self.cores) as pool:
                list(pool.map(_filled, missing, chunksize=8))
            self._base += [Path(p) for p, _ in missing]
        return self._base[:n]

    def workbooks(self, n: int, distinct_units: bool = True) -> Path:
        """A folder of ``n`` filled workbooks (one in ten with a mistake). 200 are generated; the
        rest are copies renamed to other units (``distinct_units``, as merge needs) or hard
        links (check reads each file on its own, so a link costs what a file costs)."""
        k = (n, distinct_units)
        if k in self._sets:
            return self._sets[k]
        base = self._distinct(min(n, 200))
        folder = self.folder / f"set{n}{'u' if distinct_units else 'l'}"
        folder.mkdir()
        for i in range(n):
            source = base[i % len(base)]
            target = folder / f"u{i:05d}.xlsx"
            if i < len(base):
                os.link(source, target)
            elif distinct_units:
                _renamed(source, target, i % len(base), i)
            else:
                os.link(source, target)
        self._sets[k] = folder
        return folder

    def resaved(self, n: int) -> list[Path] | None:
        """``n`` workbooks as re-saved returns are: 20 generated ones round-tripped through
        LibreOffice headless (each file's sheets and workbook.xml as an office suite writes them;
        cached in the user's cache folder by content, the same generated files every run), each
        copied ``n / 20`` times as different users' saves differ (``_saved_by_user``). No two
        share a workbook.xml or a sheet's packed bytes, so what intake remembers of parts it has
        seen misses as it does on real returns. None without LibreOffice."""
        from workbook_tools import office
        from workbook_tools import spec as spec_module

        if office.find_soffice() is None:
            return None
        sources = self._distinct(20)
        cache = (spec_module.cache_dir() or self.folder) / "bench-resaved"
        cache.mkdir(parents=True, exist_ok=True)
        digests = [hashlib.sha256(p.read_bytes()).hexdigest()[:24] for p in sources]
        kept = [cache / f"{d}.xlsx" for d in digests]
        missing = [(p, k) for p, k in zip(sources, kept, strict=True) if not k.exists()]
        if missing:
            work = self.folder / "resave"
            work.mkdir(exist_ok=True)
            for p, k in missing:  # named by digest, so LibreOffice writes <digest>.xlsx
                shutil.copyfile(p, work / k.name)
            done = office.convert_many([work / k.name for _, k in missing], "xlsx", work / "out")
            for out in done:
                tmp = cache / (out.name + ".tmp")
                shutil.copyfile(out, tmp)
                os.replace(tmp, cache / out.name)
        folder = self.folder / f"resaved{n}"
        if not folder.exists():
            folder.mkdir()
            for i in range(n):
                _saved_by_user(kept[i % len(kept)], folder / f"r{i:05d}.xlsx", i // len(kept) + 1)
        return sorted(folder.iterdir())

    @staticmethod
    def result(
        value: float,
        *,
        at_most: float | None = None,
        at_least: float | None = None,
        unit: str = "x",
        **numbers,
    ) -> dict:
        met = (at_most is None or value <= at_most) and (at_least is None or value >= at_least)
        return {
            "value": round(value, 3),
            "unit": unit,
            "at_most": at_most,
            "at_least": at_least,
            "met": met,
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in numbers.items()},
        }


# --- the measures ------------------------------------------------------------------------------


@measure("check-cpu", aim="check <= 1.4x a raw python-calamine read of all sheets (CPU, 1 process)")
def check_cpu(b: Bench) -> dict:
    """check against the reference, and the floor under check measured in the same run: what
    it cannot do without -- python-calamine parsing the bytes check hands it (the sheets read,
    as intake prepares them) plus intake's safety vetting of the same files -- with no reading
    of tables, no rules."""
    from workbook_tools import check, intake, reader

    n = b.size(100, 400)
    paths = sorted(b.workbooks(200, distinct_units=True).iterdir())
    paths = (paths * (n // len(paths) + 1))[:n]
    wanted = reader.sheets_read(b.spec)
    prepared = []
    for p in paths:
        pkg = intake.open_package(p)
        prepared.append(pkg.calamine_bytes(wanted))
        pkg.close()

    def calamine_on_prepared() -> None:
        for p, data in zip(paths, prepared, strict=True):
            book = intake.calamine_book(p, data)
            for name in wanted:
                book.get_sheet_by_name(name).to_python(skip_empty_area=False)

    def floor() -> None:
        for p in paths:
            pkg = intake.open_package(p)
            book = intake.calamine_book(p, pkg.calamine_bytes(wanted))
            for name in wanted:
                pkg.sheet(name)
                book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            pkg.close()

    # Returns re-saved by an office suite, each unlike any other (see Bench.resaved): what
    # intake remembers of parts it has seen never helps here, as on real returns.
    resaved = b.resaved(n) or []
    calamine_read(paths[:20])  # warm the page cache and the imports for all
    list(check.iter_reports(paths[:20], b.spec, jobs=1))
    floor()
    calamine_read(resaved[:5])
    ref, ours, low, parse, ref_r, ours_r = [], [], [], [], [], []
    for _ in range(3):  # interleaved, best of three: the machine is shared
        ref.append(cpu(calamine_read, paths))
        ours.append(cpu(lambda: list(check.iter_reports(paths, b.spec, jobs=1))))
        low.append(cpu(floor))
        parse.append(cpu(calamine_on_prepared))
        if resaved:
            ref_r.append(cpu(calamine_read, resaved))
            ours_r.append(cpu(lambda: list(check.iter_reports(resaved, b.spec, jobs=1))))
    r, o, f, c = min(ref), min(ours), min(low), min(parse)
    resaved_ratio = min(ours_r) / min(ref_r) if resaved else float("nan")
    return b.result(
        max(o / r, resaved_ratio) if resaved else o / r,
        at_most=1.4,
        files=n,
        template_ratio=o / r,
        resaved_ratio=resaved_ratio,
        resaved_files=len(resaved),
        resaved_check_ms_per_file=min(ours_r) / n * 1000 if resaved else float("nan"),
        resaved_calamine_ms_per_file=min(ref_r) / n * 1000 if resaved else float("nan"),
        check_ms_per_file=o / n * 1000,
        calamine_ms_per_file=r / n * 1000,
        floor_ratio=f / r,
        floor_ms_per_file=f / n * 1000,
        floor_calamine_ms_per_file=c / n * 1000,
        floor_vetting_ms_per_file=(f - c) / n * 1000,
        check_over_floor_ms_per_file=(o - f) / n * 1000,
        floor="calamine parsing the sheets check reads, as intake hands them over, plus "
        "intake's vetting of the same files (opening, DTD, bounds, inflating, extents)",
        ratio="the larger of template_ratio (files as the template writes them) and "
        "resaved_ratio (round-tripped through LibreOffice, each saved as another user would: "
        "no part alike; none without LibreOffice)",
    )


def _check_memory(b: Bench, fmt: str) -> dict:
    """Two worker processes (whatever the load), so the tree is as large as on an idle
    2-core machine; memory is the summed RSS of the tree (shared pages counted per process).
    The full run measures 50,000 files for real (hard links: cheap on disk); --quick measures
    200 and 2,000 and extrapolates."""
    n = b.size(200, 5000)
    runs = {}
    for size in (n, 10 * n):
        folder = b.workbooks(size, distinct_units=False)
        with open(b.folder / "check-out", "wb") as out:
            runs[size] = run_tree(
                [WBTOOLS_SCRIPT, "check", str(folder), "--format", fmt, "--jobs", "2"], stdout=out
            )
    (_, m1, p1), (s10, m10, p10) = runs[n], runs[10 * n]
    per_file = max(0.0, (m10 - m1) / (9 * n))
    at_50k = m10 + per_file * (50_000 - 10 * n) if 10 * n < 50_000 else m10
    return b.result(
        at_50k,
        at_most=80,
        unit="MB at 50,000 (extrapolated)" if 10 * n < 50_000 else "MB at 50,000",
        files=n,
        rss_mb_at_n=m1,
        rss_mb_at_10n=m10,
        pss_mb_at_n=p1,
        pss_mb_at_10n=p10,
        kb_per_file=per_file * 1024,
        seconds_at_10n=s10,
        files_per_second=10 * n / s10,
        memory="peak summed RSS of the whole process tree (parent and 2 workers)",
    )


@measure("check-memory-json", aim="wbtools check --format json: <= 80 MB at 50,000 files")
def check_memory_json(b: Bench) -> dict:
    return _check_memory(b, "json")


@measure("check-memory-text", aim="wbtools check (text): <= 80 MB at 50,000 files")
def check_memory_text(b: Bench) -> dict:
    return _check_memory(b, "text")


def _against_script(b: Bench, cmd: list[str], one: Path) -> tuple[float, float, float, float]:
    """Median wall and least CPU seconds of ``cmd`` and of a python script reading ``one`` with
    calamine, interleaved: (script wall, ours wall, script CPU, ours CPU). The command must work:
    a refusal (exit 2) would be timed as if it were the job."""
    script = b.folder / "calamine_one.py"
    script.write_text(CALAMINE_SCRIPT)
    done = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
    if done.returncode > 1:
        raise RuntimeError(f"{cmd[1]} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    wall(cmd)  # warm: byte-compiled modules, the spec cache, the page cache
    ref, ours = [], []
    for _ in range(b.size(5, 11)):
        ref.append(timed([sys.executable, str(script), str(one)]))
        ours.append(timed(cmd))
    return (
        statistics.median(x[0] for x in ref),
        statistics.median(x[0] for x in ours),
        min(x[1] for x in ref),
        min(x[1] for x in ours),
    )


@measure(
    "cli-check-one",
    aim="wbtools check one.xlsx <= 120 ms wall and <= 4x a python script reading it",
)
def cli_check_one(b: Bench) -> dict:
    one = sorted(b.workbooks(200).iterdir())[1]
    r, o, rc, oc = _against_script(b, [WBTOOLS_SCRIPT, "check", str(one)], one)
    return b.result(
        o / r,
        at_most=4.0,
        wbtools_ms=o * 1000,
        script_ms=r * 1000,
        wall_aim_ms=120,
        wall_met=o <= 0.120,
        cpu_ratio=oc / rc,
        wbtools_cpu_ms=oc * 1000,
        script_cpu_ms=rc * 1000,
        load_average=load_average(),
    )


@measure("cli-import-one", aim="wbtools import of one published report <= 120 ms wall")
def cli_import_one(b: Bench) -> dict:
    one = sorted(b.workbooks(200).iterdir())[1]  # a clean one: a report is written from it
    published = b.folder / "published.md"
    subprocess.run(
        [*WBTOOLS, "report", str(one), "-o", str(published)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    out = b.folder / "imported.xlsx"
    # --force: every timed run replaces the previous run's workbook (without it the second run
    # would time a refusal, O104)
    cmd = [WBTOOLS_SCRIPT, "import", str(published), "-o", str(out), "--force"]
    r, o, rc, oc = _against_script(b, cmd, one)
    # The floor: a process that does nothing but write the same workbook with bare xlsxwriter
    # (the calls this import makes, recorded in process and replayed; no reading, no rules).
    import pickle

    from workbook_tools import commands, template
    from workbook_tools.template import prepared

    recorded, fitted = [], []
    render = prepared.render

    def recording(*args, **kwargs):
        # the import fills a prepared workbook; the floor replays what xlsxwriter would write
        recorded.append(replay.record(lambda: template.render(*args, **kwargs)))
        fitted.append(prepared.prepared(*args, **kwargs) is not None)
        return render(*args, **kwargs)

    prepared.render = recording
    try:
        commands.run_import(
            published, b.folder / "recorded.xlsx", force=True, echo=lambda *a, **k: None
        )
    finally:
        prepared.render = render
    planned = b.folder / "import.plan"
    planned.write_bytes(pickle.dumps(replay.plan(recorded[0])))
    floor_cmd = [
        sys.executable,
        str(Path(replay.__file__)),
        str(planned),
        str(b.folder / "floor.xlsx"),
    ]
    wall(floor_cmd)
    floor = [timed(floor_cmd) for _ in range(b.size(5, 11))]
    # Python itself: starting the interpreter with its site (the venv's), importing nothing
    bare = [timed([sys.executable, "-c", "pass"]) for _ in range(b.size(5, 11))]
    return b.result(
        o * 1000,
        at_most=120,
        unit="ms",
        ratio_to_script=o / r,
        script_ms=r * 1000,
        cpu_ms=oc * 1000,
        cpu_ratio_to_script=oc / rc,
        floor_ms=statistics.median(x[0] for x in floor) * 1000,
        floor_cpu_ms=min(x[1] for x in floor) * 1000,
        floor="a python process writing the same workbook with bare xlsxwriter, nothing else",
        prepared_workbook=fitted == [True],
        python_ms=statistics.median(x[0] for x in bare) * 1000,
        python_cpu_ms=min(x[1] for x in bare) * 1000,
        load_average=load_average(),
    )


_MERGE_CHILD = """
import resource, sys, time
from pathlib import Path
from workbook_tools import county, merge, packing, spec
folder, out, jobs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) or None
elsewhere = []  # the sheets made by a forked child (two processes): the child's CPU
made_elsewhere = packing.Book.finish_elsewhere
def counted(self, *args):
    child = made_elsewhere(self, *args)
    elsewhere.append(child)
    return child
packing.Book.finish_elsewhere = counted
# the phases' wall times: the files read (the last one in: merge matches them to the roster
# next), and the wait for the child's sheet
marks = {}
match = merge._match
def matching(*args):
    marks["pool"] = time.perf_counter()
    return match(*args)
merge._match = matching
adopt = packing.Book.adopt
def adopting(self, child, ws):
    at = time.perf_counter()
    taken = adopt(self, child, ws)
    marks["wait"] = time.perf_counter() - at
    return taken
packing.Book.adopt = adopting
start = time.perf_counter()
cpu, main = time.process_time(), time.thread_time()
result = merge.merge(
    sorted(folder.iterdir()), spec.load(), None, name="bench", jobs=jobs, render=county.prepare
)
read, read_main = time.process_time(), time.thread_time()
merged = time.perf_counter()
county.write(result, out)
result.close()
written = time.perf_counter()
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
now, now_main = time.process_time(), time.thread_time()
child = sum(c.child.cpu for c in elsewhere if c is not None)
pool = marks["pool"]
print(written - start, now - cpu, now - read, kids.ru_utime + kids.ru_stime - child,
      now_main - main, now_main - read_main, child, pool - start, merged - pool,
      written - merged, marks.get("wait", 0.0))
"""

# (folder, jobs) -> (write, workers, parent's main thread, its write, the write's child): the
# parent's other threads deflate the county workbook's big sheets (packing) beside its main
# thread; with two processes a forked child makes 分单位明细 beside it too
_MERGE_PARTS: dict[tuple[str, int], tuple[float, float, float, float, float]] = {}
# (folder, jobs) -> wall seconds of (the pool: files read; after it, until merge returns: statuses,
# sums, N5; the county workbook written; of which waiting for the child's sheet)
_MERGE_PHASES: dict[tuple[str, int], tuple[float, ...]] = {}


def _merge(b: Bench, folder: Path, jobs: int) -> tuple[float, float, float]:
    """(wall, parent CPU, peak tree RSS MB) of a merge in a fresh process; the parent's CPU for
    writing the county workbook and the workers' CPU are kept in _MERGE_PARTS."""
    out = b.folder / "merge-out.txt"
    with open(out, "w") as fh:
        _, peak, _ = run_tree(
            [
                sys.executable,
                "-c",
                _MERGE_CHILD,
                str(folder),
                str(b.folder / "county.xlsx"),
                str(jobs),
            ],
            stdout=fh,
        )
    seconds, parent_cpu, write_cpu, workers_cpu, main_cpu, main_write, child, *phases = map(
        float, out.read_text().split()
    )
    _MERGE_PARTS[(str(folder), jobs)] = (write_cpu, workers_cpu, main_cpu, main_write, child)
    _MERGE_PHASES[(str(folder), jobs)] = tuple(phases)
    return seconds, parent_cpu, peak


# What two cores give a job that shares nothing: python-calamine reading every sheet of the files
# in one forked process, or in two each reading every other file, started together (the merge
# cannot do better than the machine does for this; on a shared host it varies from run to run).
_TWO_CORES = """
import os, sys, time
from pathlib import Path
from python_calamine import CalamineWorkbook
paths, jobs = sorted(Path(sys.argv[1]).iterdir()), int(sys.argv[2])
start = time.perf_counter()
pids = []
for k in range(jobs):
    pid = os.fork()
    if pid == 0:
        for p in paths[k::jobs]:
            book = CalamineWorkbook.from_path(str(p))
            for name in book.sheet_names:
                book.get_sheet_by_name(name).to_python()
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
print(time.perf_counter() - start)
"""


def _calamine_wall(folder: Path, jobs: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _TWO_CORES, str(folder), str(jobs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def _bare_cells(path: Path, cells: int, width: int = 23) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet, fmt = book.add_worksheet("s"), book.add_format({"border": 1, "align": "center"})
    for k in range(cells):
        sheet.write_number(k // width, k % width, k % 97, fmt)
    book.close()


@measure("merge-cpu", aim="merge <= 2x a raw python-calamine read, 1 process")
def merge_cpu(b: Bench) -> dict:
    n = b.size(200, 2000)
    folder = b.workbooks(n)
    paths = sorted(folder.iterdir())
    # What merge cannot go below: check of the same files in this process (merge reads each file
    # with check), and what of merge is its own (the spool, the county workbook written).
    from workbook_tools import check

    calamine_read(paths[:20])
    list(check.iter_reports(paths[:20], b.spec, jobs=1))
    refs, runs, checks = [], [], []
    for _ in range(3):  # interleaved, best of three: the machine is shared
        refs.append(cpu(calamine_read, paths))
        _, parent_cpu, peak = _merge(b, folder, 1)
        runs.append((parent_cpu, peak, _MERGE_PARTS[(str(folder), 1)][0]))
        checks.append(cpu(lambda: list(check.iter_reports(paths, b.spec, jobs=1))))
    ref, checked = min(refs), min(checks)
    parent_cpu, peak, write_cpu = min(runs)
    # And what bare xlsxwriter costs to write as many cells as the county workbook has (numbers,
    # one format, constant memory, a call per cell): the floor of writing it cell by cell.
    with zipfile.ZipFile(b.folder / "county.xlsx") as zf:
        cells = sum(
            zf.read(name).count(b"<c ")
            for name in zf.namelist()
            if name.startswith("xl/worksheets/sheet")
        )
    bare = min(cpu(_bare_cells, b.folder / "bare-cells.xlsx", cells) for _ in range(2))
    return b.result(
        parent_cpu / ref,
        at_most=2.0,
        files=n,
        merge_ms_per_file=parent_cpu / n * 1000,
        calamine_ms_per_file=ref / n * 1000,
        check_ms_per_file=checked / n * 1000,
        check_ratio=checked / ref,
        county_write_ms_per_file=write_cpu / n * 1000,
        merge_over_check=parent_cpu / checked,
        county_cells=cells,
        bare_xlsxwriter_ms_per_file=bare / n * 1000,
        county_write_over_bare=write_cpu / bare,
        # merge's own part on top of check (check_ratio is its floor): the spool, the rows
        # made for the county workbook, statuses, sums, the workbook written
        merge_own_ms_per_file=(parent_cpu - checked) / n * 1000,
        peak_mb=peak,
        load_average=load_average(),
    )


@measure(
    "merge-pool",
    aim="merge with 2 processes >= 1.6x faster than 1 (idle machine); default never slower",
)
def merge_pool(b: Bench) -> dict:
    n = b.size(200, 2000)
    folder = b.workbooks(n)
    load = load_average()
    ones, runs, bare = [], [], []
    for _ in range(3):  # alternated; the faster run's parts: the parent's and the workers' CPU
        bare.append((_calamine_wall(folder, 1), _calamine_wall(folder, 2)))
        ones.append(
            (*_merge(b, folder, 1)[:2], _MERGE_PARTS[(str(folder), 1)][0])
            + _MERGE_PHASES[(str(folder), 1)]
        )
        runs.append(
            (*_merge(b, folder, 2), *_MERGE_PARTS[(str(folder), 2)])
            + _MERGE_PHASES[(str(folder), 2)]
        )
    one, _, _, one_read_s, one_sums_s, one_write_s, _ = min(ones)
    one_cpu, one_write = min((x[1], x[2]) for x in ones)  # the same runs' CPU, not another's
    best = min(runs)
    two, parent_two, _, two_write, two_workers, main_two, main_write, child = best[:8]
    pool_s, sums_s, write_s, wait_s = best[8:]
    default = min(_merge(b, folder, 0)[0] for _ in range(2))
    machine = min(x[0] for x in bare) / min(x[1] for x in bare)
    # Where the time goes with 2 workers: the parent's main thread (the spool while the pool
    # runs; statuses and the county workbook put together after it) is serial; the workers' CPU
    # is shared out, and so is the parent's deflating thread (packing: it runs on the core the
    # finished pool left free, beside the main thread). What one process spends reading (its
    # CPU less its write) against what the workers spend on the same files is the pool's own
    # cost (starting, sending, two processes sharing caches).
    # (at best: the child that makes 分单位明细 runs beside the main thread's writing)
    serial = main_two - main_write + max(main_write, child)
    model = one_cpu / (two_workers / 2 + serial)
    return b.result(
        one / two,
        at_least=1.6,
        files=n,
        one_process_s=one,
        two_processes_s=two,
        default_jobs_s=default,
        default_not_slower=default <= one * 1.05,
        one_process_cpu_s=one_cpu,
        one_process_write_cpu_s=one_write,
        parent_cpu_s=parent_two,
        parent_write_cpu_s=two_write,
        parent_main_thread_cpu_s=main_two,
        parent_main_thread_write_cpu_s=main_write,
        parent_deflate_thread_cpu_s=parent_two - main_two,
        write_child_cpu_s=child,
        parent_serial_share=serial / (two_workers / 2 + serial),
        workers_cpu_s=two_workers,
        workers_over_one_process_read=two_workers / max(one_cpu - one_write, 1e-9),
        # The best 2 idle cores could do with these CPU times: the workers' share halved, the
        # parent's part whole; and with a parent that cost nothing (the pool's own limit).
        cpu_model_ratio=model,
        cpu_model_meets=model >= 1.6,
        # the same, were the parent's every thread serial (the model before packing)
        cpu_model_all_parent_serial=one_cpu / (two_workers / 2 + parent_two),
        limit_without_parent=one_cpu / (two_workers / 2),
        # The faster runs' wall by phase: the files read (the pool, or one process alone), the
        # statuses, sums and N5 after it, the county workbook written (with two processes: of
        # which waiting for the child that makes 分单位明细); what is left after the pool is
        # the tail no second worker shortens.
        one_process_read_s=one_read_s,
        one_process_after_read_s=one_sums_s + one_write_s,
        pool_s=pool_s,
        after_pool_s=sums_s + write_s,
        after_pool_sums_s=sums_s,
        after_pool_write_s=write_s,
        waiting_for_child_s=wait_s,
        pool_speedup=one_read_s / pool_s,
        # What the machine gives two processes sharing nothing, in the same minutes (python-
        # calamine reading the same files in one process, or two each reading half): the
        # merge's ratio against it
        calamine_one_process_s=min(x[0] for x in bare),
        calamine_two_processes_s=min(x[1] for x in bare),
        machine_two_core_speedup=machine,
        of_machine_speedup=one / two / machine,
        load_average_before=load,
        load_average_after=load_average(),
    )


@measure("merge-memory", aim="merge: memory flat from N to 10N files")
def merge_memory(b: Bench) -> dict:
    n = b.size(200, 1000)
    small = _merge(b, b.workbooks(n), 0)
    big = _merge(b, b.workbooks(10 * n), 0)
    return b.result(
        big[2] / small[2],
        at_most=1.25,
        unit="x (peak at 10N / peak at N)",
        files=n,
        peak_mb_at_n=small[2],
        peak_mb_at_10n=big[2],
        memory="peak summed RSS of the whole process tree (parent and workers)",
    )


def _bare_reference(cells_per_sheet: list[tuple[str, int]]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, cells in cells_per_sheet:
        ws = book.add_worksheet(name)
        for i in range(cells):
            ws.write_number(i // 10, i % 10, i)
    book.close()
    return buffer.getvalue()


@measure(
    "template-roster",
    aim="template --roster <= 2.5x bare xlsxwriter writing the same cells (1 core)",
)
def template_roster(b: Bench) -> dict:
    import openpyxl

    from workbook_tools import template
    from workbook_tools.roster import Unit

    n = b.size(20, 200)
    kinds = ["乡镇", "街道", "部门"]
    units = [Unit(f"测试单位{i:05d}", f"{i:05d}", kinds[i % 3]) for i in range(n)]
    first = template.render(b.spec, units[0], 2025)
    sample = openpyxl.load_workbook(io.BytesIO(first))
    shape = [
        (ws.title, sum(1 for row in ws.iter_rows() for c in row if c.value is not None))
        for ws in sample
    ]
    # The reference: bare xlsxwriter making exactly the calls a template makes (every cell with
    # its value or formula and format, merges, validation, conditional formats, defined names,
    # protection, print set-up), recorded per unit before timing. Its worksheets keep the
    # per-process cache of prepared formulas our templates use (xlsxwriter's ~30 regexes per
    # formula would otherwise make the reference slower and the ratio look better than it is).
    recorded = [
        replay.plan(replay.record(lambda u=u: template.render(b.spec, u, 2025))) for u in units
    ]
    same = replay.replay(recorded[0])
    with zipfile.ZipFile(io.BytesIO(first)) as a, zipfile.ZipFile(io.BytesIO(same)) as z:
        # the only part allowed to differ: workbook.xml (the structure lock xlsxwriter lacks)
        differing = sorted(n for n in a.namelist() if a.read(n) != z.read(n))
    out = b.folder / "templates"

    def reference() -> None:
        for i, calls in enumerate(recorded):
            (out / f"ref{i}.xlsx").write_bytes(replay.replay(calls))

    def numbers_only() -> None:
        for i in range(n):
            (out / f"num{i}.xlsx").write_bytes(_bare_reference(shape))

    out.mkdir(exist_ok=True)
    ref, ours, nums = [], [], []
    for _ in range(2):
        ref.append(cpu(reference))
        nums.append(cpu(numbers_only))
        ours.append(cpu(template.write_roster, b.spec, units, 2025, out / "serial", jobs=1))
    r, o, m = min(ref), min(ours), min(nums)
    return b.result(
        o / r,
        at_most=2.5,
        units=n,
        templates_per_second=n / o,
        reference_per_second=n / r,
        reference="the same xlsxwriter calls replayed",
        parts_differing_from_reference=",".join(differing),
        calls_per_template=len(recorded[0][0]),
        cells=sum(c for _, c in shape),
        ratio_to_numbers_only=o / m,
        numbers_only_note="bare xlsxwriter writing as many plain numbers as the template has cells",
    )


def _portal(b: Bench) -> dict:
    """One run of benchmarks/portal_load.py (the portal helper's) for both portal measures."""
    if not hasattr(b, "_portal_run"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import portal_load as portal_bench

        b._portal_run = portal_bench.run(b)
    return b._portal_run


@measure(
    "portal-load",
    aim="200 uploads at once to wbtools portal (127.0.0.1): wall <= 2x wbtools check of the same files in one process",
)
def portal_load(b: Bench) -> dict:
    run = _portal(b)
    numbers = run["numbers"]
    keep = ("uploads", "uploads_per_second", "checks_per_second", "verdict_p50_s",
            "verdict_p95_s", "check_p50_ms", "check_p95_ms", "single_upload_p50_ms",
            "floor_single_p50_ms", "floor_verdict_p50_s", "load_average")  # fmt: skip
    return b.result(
        run["throughput"],
        at_most=2.0,
        **{k: numbers[k] for k in keep},
        note="value = burst wall time / the same files checked in one process",
    )


@measure(
    "portal-cpu",
    aim="the portal's own CPU per upload (its server process) <= 0.5x the check's, in the burst",
)
def portal_cpu(b: Bench) -> dict:
    run = _portal(b)
    return b.result(
        run["cpu"],
        at_most=0.5,
        **run["numbers"],
        note="check = check_file in this process, CPU per file (3 slices around the portal's"
        " runs); portal = the server process's CPU per upload (its CPU clock in ns, all threads,"
        " ended ones too: HTTP, form,"
        " hashing, storage, database, feeding the checking processes); tree_less_check = server"
        " + checking processes less the check; client (this process) not counted; floor = a"
        " bare uvicorn endpoint, same bodies, each upload flushed and committed on its own"
        " (http = the same endpoint storing nothing: body read and hashed, small answer);"
        " kernel_threads = every kernel thread's CPU over the burst (the write-back a syncfs"
        " waits for, and anything else written meanwhile); see benchmarks/portal_load.py",
    )


# --- the report (issue 12's owner) ---------------------------------------------------------------


def _report_document(b: Bench):
    from workbook_tools import check, report

    one = sorted(b.workbooks(200).iterdir())[0]
    result = check.check_file(one, b.spec)
    return report.build(result.filing, unverified=bool(result.errors))


def _plain_docx(grids) -> bytes:
    """The reference: python-docx writing the report's tables as plain tables of the same size
    (every cell's text, no merges, fonts or widths), each cell taken once by row."""
    import docx

    doc = docx.Document()
    for grid in grids:
        table = doc.add_table(rows=len(grid.rows), cols=grid.width)
        for row, cells in zip(table.rows, grid.rows, strict=True):
            for target, cell in zip(row.cells, cells, strict=True):
                target.text = cell.text if cell else ""
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


@measure(
    "report-docx",
    aim="report --to docx <= 0.2 s per report; ratio to python-docx writing the same-size plain tables",
)
def report_docx(b: Bench) -> dict:
    from workbook_tools import report

    doc = _report_document(b)
    grids = [p.grid for s in doc.sections for p in s.parts if p.kind == "table"]
    report.render(doc, "docx")  # warm: imports, the style template
    ref, ours = [], []
    for _ in range(b.size(3, 7)):
        ref.append(cpu(_plain_docx, grids))
        ours.append(cpu(report.render, doc, "docx"))
    r, o = statistics.median(ref), statistics.median(ours)
    return b.result(
        o / r,
        at_most=3.0,  # merges, widths, fonts and header flags on top of the bare cells
        seconds_per_report=o,
        reference_seconds=r,
        seconds_aim=0.2,
        seconds_met=o <= 0.2,
        cells=sum(len(g.rows) * g.width for g in grids),
    )


@measure(
    "report-html",
    aim="report --to html/md: the cached Jinja environment <= 0.2x building one per report",
)
def report_html(b: Bench) -> dict:
    from importlib import resources

    import jinja2

    from workbook_tools import report

    doc = _report_document(b)
    folder = resources.files("workbook_tools.templates")

    def fresh(name: str, escape: bool) -> str:  # what every render did before the cache
        env = jinja2.Environment(
            loader=jinja2.FunctionLoader(lambda n: folder.joinpath(n).read_text("utf-8")),
            autoescape=escape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters["cell"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
        return env.get_template(name).render(doc=doc, charts=[])

    same = fresh("report.html.j2", True) == report.html(doc) and fresh(
        "report.md.j2", False
    ) == report.markdown(doc)
    n = b.size(10, 50)

    def reference() -> None:
        for _ in range(n):
            fresh("report.html.j2", True)
            fresh("report.md.j2", False)

    def ours() -> None:
        for _ in range(n):
            report.html(doc)
            report.markdown(doc)

    r = min(cpu(reference) for _ in range(3))
    o = min(cpu(ours) for _ in range(3))
    return b.result(
        o / r,
        at_most=0.2,
        ms_per_report=o / n * 1000,
        reference_ms=r / n * 1000,
        identical_output=same,
    )


# --- running -----------------------------------------------------------------------------------


_PDF_PAGES = 20


def _report_pdf(b: Bench, pages: int) -> Path:
    """A report PDF of about ``pages`` pages printed by LibreOffice from a Word layout with ruled
    tables, the group label down a narrow cell, wrapped labels and page footers (the test
    corpus's layout, tests/pdf_corpus.py), its narrative lengthened to fill the pages."""
    from workbook_tools import office

    sys.path.insert(0, str(ROOT))
    from tests import pdf_corpus

    layout = pdf_corpus.Layout(
        "bench", values={**pdf_corpus.T2_FIGURES}, filler=max(0, 12 * (pages - 2))
    )
    docx = pdf_corpus.build_docx(layout, b.folder / "bench_report.docx")
    return office.convert(docx, "pdf", b.folder / "pdf")


_PDF_CHILD = """
import resource, sys, time
from pathlib import Path
import pymupdf
from workbook_tools import importer
path, rounds = Path(sys.argv[1]), int(sys.argv[2])
def cpu(fn, *args):  # this process and the children it waited for (the reader's forked child)
    def now():
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime
    start = now()
    fn(*args)
    return now() - start
def bare():  # the library's floor: open and plain text of every page
    with pymupdf.open(path) as doc:
        for page in doc:
            page.get_text()
bare(), importer.read(path)  # warm: imports, the spec cache
ref, ours = [], []
for _ in range(rounds):  # alternated: both meet the same moments of a shared machine
    ref.append(cpu(bare))
    ours.append(cpu(importer.read, path))
print(min(ref), min(ours))
"""


@measure(
    "import-pdf-20",
    aim="wbtools import of a 20-page PDF report well under 1 s (<= 0.5 s CPU) and <= 5x "
    "PyMuPDF's bare text extraction of the same file",
)
def import_pdf(b: Bench) -> dict:
    import pymupdf

    path = _report_pdf(b, _PDF_PAGES)
    with pymupdf.open(path) as doc:
        pages = doc.page_count
    # In a fresh process: the reader forks a bounded child, whose cost grows with the parent's
    # heap, and this process holds every earlier measure's leftovers; a real import's does not.
    done = subprocess.run(
        [sys.executable, "-c", _PDF_CHILD, str(path), str(b.size(5, 9))],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    ref, ours = map(float, done.stdout.split())
    out = b.folder / "imported_pdf.xlsx"
    wall([*WBTOOLS, "import", str(path), "-o", str(out)])
    cli = statistics.median(
        wall([*WBTOOLS, "import", str(path), "-o", str(out)]) for _ in range(b.size(3, 5))
    )
    res = b.result(
        ours / ref,
        at_most=5.0,
        pages=pages,
        import_cpu_ms=ours * 1000,
        bare_text_cpu_ms=ref * 1000,
        cli_wall_ms=cli * 1000,
    )
    res["met"] = res["met"] and ours <= 0.5
    return res


def _verdict(res: dict) -> str:
    if "error" in res:
        return "ERROR"
    return "meets" if res["met"] else "MISSES"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("measures", nargs="*", help="names (default: all); see --list")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for development")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "bench.json")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for m in MEASURES.values():
            print(f"{m.name:20} {m.aim}")
        return
    unknown = [m for m in args.measures if m not in MEASURES]
    if unknown:
        parser.error(f"unknown measure(s): {', '.join(unknown)}; see --list")
    chosen = [MEASURES[m] for m in args.measures] if args.measures else list(MEASURES.values())
    document = {
        "mode": "quick" if args.quick else "full",
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_start": load_average(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "measures": {},
    }
    with tempfile.TemporaryDirectory(prefix="wbtools-bench-") as tmp:
        bench = Bench(Path(tmp), args.quick)
        for m in chosen:
            start = time.perf_counter()
            try:
                res = m.fn(bench)
            except Exception as exc:  # one broken measure must not hide the others
                res = {"error": f"{type(exc).__name__}: {exc}"}
            res["aim"] = m.aim
            res["seconds"] = round(time.perf_counter() - start, 1)
            document["measures"][m.name] = res
            shown = {k: v for k, v in res.items() if k not in ("aim", "met", "at_most", "at_least")}
            print(
                f"{m.name:18} {_verdict(res):6} {res.get('value', '')} {res.get('unit', '')}"
                f"   aim: {m.aim}",
                flush=True,
            )
            print(
                "    "
                + ", ".join(f"{k}={v}" for k, v in shown.items() if k not in ("value", "unit")),
                flush=True,
            )
    document["load_average_end"] = load_average()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
