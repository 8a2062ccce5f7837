"""Benchmarks, printed as ratios against a reference measured in the same run.

    python benchmarks/run.py [--units 1000]      (or: make bench)

template: generating the locked template for every unit of an N-unit roster, on one core and
through the roster command's process pool. The reference is bare xlsxwriter writing a workbook
with the same sheets and the same number of cells (plain values: no formats, merges, formulas,
validation or protection), so the ratio says what the template's features cost over the library's
own floor. Absolute times on shared machines are noise; the ratio and the per-core rate are what
to compare between commits. Aim: at least 40 templates per second per core.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
import xlsxwriter

from workbook_tools import spec as spec_module
from workbook_tools import template
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    args = parser.parse_args()
    spec = spec_module.load()
    units = roster(args.units)
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
    target = 40
    verdict = "meets" if n / serial_s >= target else "BELOW"
    print(f"  per-core rate {n / serial_s:.1f}/s {verdict} the aim of {target}/s per core")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
