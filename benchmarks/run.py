"""Benchmarks, printed as ratios against references measured in the same run.

    python benchmarks/run.py [template|check|all] [--units 1000] [--files 1000]   (make bench)

template: generating the locked template for every unit of an N-unit roster, on one core and
through the roster command's process pool. The reference is bare xlsxwriter writing a workbook
with the same sheets and the same number of cells (plain values: no formats, merges, formulas,
validation or protection), so the ratio says what the template's features cost over the library's
own floor. Aim: at least 40 templates per second per core.

check: `wbtools check` over N filled workbooks (one in ten with a mistake), on one core, against
a raw python-calamine read of the same files (every sheet to Python values) and an openpyxl read
(read-only, cached values, every cell). Aims: at most 2x the raw calamine read, at least 8x faster
than openpyxl; a single-file `wbtools check` well under half a second.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", choices=["template", "check", "all"], default="all")
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    if args.which in ("template", "all"):
        bench_template(args.units)
    if args.which in ("check", "all"):
        bench_check(args.files)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
