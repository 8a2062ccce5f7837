"""Benchmarks, printed as ratios against references measured in the same run.

    python benchmarks/run.py [template|check|merge|all] [--units 1000] [--files 1000]
                             [--merge-files 10000]                              (make bench)

template: generating the locked template for every unit of an N-unit roster, on one core and
through the roster command's process pool. The reference is bare xlsxwriter writing a workbook
with the same sheets and the same number of cells (plain values: no formats, merges, formulas,
validation or protection), so the ratio says what the template's features cost over the library's
own floor. Aim: at least 40 templates per second per core.

check: `wbtools check` over N filled workbooks (one in ten with a mistake), on one core, against
a raw python-calamine read of the same files (every sheet to Python values) and an openpyxl read
(read-only, cached values, every cell). Aims: at most 2x the raw calamine read, at least 8x faster
than openpyxl; a single-file `wbtools check` well under half a second.

merge: `wbtools merge` of N unit workbooks (default 10,000) into a county workbook, in a fresh
process each time, on one core at N/10 and at N files (peak memory must stay flat: files are
streamed, not held) and with every core at N, beside a raw python-calamine read of the same files.
Aim: about 2.5x the raw read at most.

Absolute times on shared machines are noise; compare the ratios between commits.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import openpyxl
import xlsxwriter

from workbook_tools import check, synth, template
from workbook_tools import spec as spec_module
from workbook_tools.roster import Unit


def roster(n: int) -> list[Unit]:
    kinds = ["乡镇", "街道", "部门"]
    return [Unit(f"测试单位{i:05d}", f"{i:05d}", kinds[i % 3]) for i in range(n)]


def bare_reference(cells_per_sheet: list[tuple[str, int]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, cells in cells_per_sheet:
        ws = book.add_worksheet(name)
        for i in range(cells):
            ws.write_number(i // 10, i % 10, i)
    book.close()
    return buffer.getvalue()


def shape_of(data: bytes) -> list[tuple[str, int]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [
        (ws.title, sum(1 for row in ws.iter_rows() for c in row if c.value is not None))
        for ws in book
    ]


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def bench_template(n_units: int) -> None:
    spec = spec_module.load()
    units = roster(n_units)
    sample = template.render(spec, units[0], 2025)
    shape = shape_of(sample)
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def reference() -> None:
            for i, _ in enumerate(units):
                (folder / f"ref{i}.xlsx").write_bytes(bare_reference(shape))

        ref_s = timed(reference)
        serial_s = timed(template.write_roster, spec, units, 2025, folder / "serial", jobs=1)
        pool_s = timed(template.write_roster, spec, units, 2025, folder / "pool", jobs=cores)

    n = len(units)
    cells = sum(c for _, c in shape)
    print(
        f"template benchmark: {n} units, {len(shape)} sheets, {cells} filled cells per workbook, {cores} cores"
    )
    print(f"  reference (bare xlsxwriter, same cells): {n / ref_s:7.1f} workbooks/s")
    print(
        f"  wbtools template, 1 core:                {n / serial_s:7.1f} templates/s  ratio to reference {serial_s / ref_s:4.2f}x"
    )
    print(
        f"  wbtools template --roster, {cores} processes:  {n / pool_s:7.1f} templates/s  speed-up {serial_s / pool_s:4.2f}x"
    )
    verdict = "meets" if n / serial_s >= 40 else "BELOW"
    print(f"  per-core rate {n / serial_s:.1f}/s {verdict} the aim of 40/s per core")


def _filled(args: tuple) -> None:
    path, seed = args
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


def calamine_read(paths: list[Path]) -> None:
    from python_calamine import CalamineWorkbook

    for p in paths:
        book = CalamineWorkbook.from_path(str(p))
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python()


def openpyxl_read(paths: list[Path]) -> None:
    for p in paths:
        book = openpyxl.load_workbook(p, read_only=True, data_only=True)
        for ws in book.worksheets:
            for _ in ws.iter_rows(values_only=True):
                pass
        book.close()


def bench_check(n_files: int) -> None:
    spec = spec_module.load()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = [folder / f"u{i:05d}.xlsx" for i in range(n_files)]
        with ProcessPoolExecutor(max_workers=cores) as pool:
            list(pool.map(_filled, [(str(p), i) for i, p in enumerate(paths)], chunksize=16))
        calamine_read(paths[:20])  # warm the page cache and the imports for every contender
        cal_s = timed(calamine_read, paths)
        opx_s = timed(openpyxl_read, paths[: max(1, n_files // 5)]) * (
            n_files / max(1, n_files // 5)
        )
        check_s = timed(check.check_paths, paths, spec, jobs=1)
        pool_s = timed(check.check_paths, paths, spec, jobs=cores)
        one = [paths[1]]
        cli = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "workbook_tools", "check", str(one[0])],
                capture_output=True,
                check=False,
            )
            cli.append(time.perf_counter() - start)
    n = n_files
    print(f"check benchmark: {n} filled workbooks, {cores} cores")
    print(f"  raw python-calamine read (all sheets): {n / cal_s:7.1f} files/s")
    print(f"  openpyxl read (read-only, 1/5 sampled): {n / opx_s:7.1f} files/s")
    print(
        f"  wbtools check, 1 core:                  {n / check_s:7.1f} files/s  {check_s / cal_s:4.2f}x the calamine read (aim <= 2x), {opx_s / check_s:4.1f}x faster than openpyxl (aim >= 8x)"
    )
    print(
        f"  wbtools check, {cores} processes:           {n / pool_s:7.1f} files/s  speed-up {check_s / pool_s:4.2f}x"
    )
    print(
        f"  one file through the CLI (median of 5): {statistics.median(cli) * 1000:5.0f} ms (aim well under 500 ms)"
    )


_MERGE_CHILD = """
import resource, sys, time
from pathlib import Path
from workbook_tools import county, merge, spec
folder, out, jobs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
files = sorted(folder.iterdir())[: int(sys.argv[4])]
start = time.perf_counter()
result = merge.merge(files, spec.load(), None, name="bench", jobs=jobs)
county.write(result, out)
result.close()
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _merge_run(folder: Path, out: Path, jobs: int, n: int) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", _MERGE_CHILD, str(folder), str(out), str(jobs), str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak_mb = done.stdout.split()
    return float(seconds), float(peak_mb)


def bench_merge(n_files: int) -> None:
    cores = os.cpu_count() or 1
    small = max(1, n_files // 10)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "returned"
        folder.mkdir()
        paths = [folder / f"u{i:05d}.xlsx" for i in range(n_files)]
        with ProcessPoolExecutor(max_workers=cores) as pool:
            list(pool.map(_filled, [(str(p), i) for i, p in enumerate(paths)], chunksize=32))
        calamine_read(paths[:20])
        cal_s = timed(calamine_read, paths)
        small_s, small_mb = _merge_run(folder, Path(tmp) / "small.xlsx", 1, small)
        big_s, big_mb = _merge_run(folder, Path(tmp) / "big.xlsx", 1, n_files)
        pool_s, pool_mb = _merge_run(folder, Path(tmp) / "pool.xlsx", cores, n_files)
        size_mb = (Path(tmp) / "big.xlsx").stat().st_size / 1e6
    print(f"merge benchmark: {n_files} unit workbooks, {cores} cores")
    print(
        f"  raw python-calamine read (all sheets): {n_files / cal_s:7.1f} files/s  {cal_s:6.1f} s"
    )
    print(
        f"  wbtools merge, 1 core, {small} files:   {small / small_s:7.1f} files/s  peak {small_mb:5.0f} MB"
    )
    print(
        f"  wbtools merge, 1 core, {n_files} files:  {n_files / big_s:7.1f} files/s  peak {big_mb:5.0f} MB  {big_s / cal_s:4.2f}x the calamine read (aim <= 2.5x)"
    )
    print(
        f"  wbtools merge, {cores} processes, {n_files} files: {n_files / pool_s:7.1f} files/s  {pool_s:6.1f} s wall  {pool_s / cal_s:4.2f}x the calamine read; parent peak {pool_mb:5.0f} MB"
    )
    print(
        f"  memory from {small} to {n_files} files: {small_mb:.0f} -> {big_mb:.0f} MB (county workbook {size_mb:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "which", nargs="?", choices=["template", "check", "merge", "all"], default="all"
    )
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--merge-files", type=int, default=10_000)
    args = parser.parse_args()
    if args.which in ("template", "all"):
        bench_template(args.units)
    if args.which in ("check", "all"):
        bench_check(args.files)
    if args.which in ("merge", "all"):
        bench_merge(args.merge_files)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
