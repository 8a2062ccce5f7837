"""The bundled samples: up to date with the code, and checked exactly as documented."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from workbook_tools import check

from .conftest import SAMPLES


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("samples_build", SAMPLES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_samples_are_what_build_py_makes(builder, tmp_path):
    written = builder.build(tmp_path)
    assert len(written) == 13 + 15 + 1
    for path in written:
        committed = SAMPLES / path.relative_to(tmp_path)
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} is stale: run make samples"
        )


EXPECTED = {  # file -> codes found by wbtools check (with last year's files)
    "101_青禾县城关镇_2025.xlsx": set(),
    "102_青禾县柳河镇_2025.xlsx": {"R1"},
    "103_青禾县石桥镇_2025.xlsx": {"R2", "T107"},
    "104_青禾县白杨乡_2025.xlsx": {"R5", "V106"},
    "105_青禾县东关街道_2025.xlsx": {"T103"},
    "106_青禾县西湖街道_2025.xlsx": {"D101", "N4"},  # copied 东关街道's text, name and all
    "201_青禾县人民政府办公室_2025.xlsx": set(),
    "201_青禾县人民政府办公室_2025（修改后）.xlsx": set(),
    "202_青禾县发展和改革委员会_2025.xlsx": {"X1"},
    "203_青禾县教育局_2025.xlsx": set(),
    "203_青禾县教育局_2024.xlsx": set(),  # last year's file: no cross-year check against itself
    "204_青禾县公安局_2025.xlsx": {"X3"},
    "205_青禾县财政局_2025.xlsx": set(),
    "206_青禾县自然资源局_2025.xlsx": set(),
    "青禾县城关真_2025.xlsx": set(),
}


def test_this_years_returned_files(spec21):
    files = check.expand([SAMPLES / "returned/2025"])
    reports = check.check_paths(files, spec21, previous=SAMPLES / "returned/2024", jobs=1)
    found = {Path(r.path).name: {f.code for f in r.findings} for r in reports}
    assert found == EXPECTED


def _published_figures(text: str) -> list[str]:
    start = text.index("二、主动公开政府信息情况")
    end = text.index("五、存在的主要问题")
    return [
        line.strip()
        for line in text[start:end].splitlines()
        if re.fullmatch(r"\s*\d+(\.\d+)?\s*", line)
    ]


def test_xuying_sample_carries_the_published_figures(spec21, shared_dir):
    figures = _published_figures(
        (shared_dir / "examples/published/xuying-2024.txt").read_text("utf-8")
    )
    assert len(figures) == len(spec21.datapoints) == 200
    report = check.check_file(SAMPLES / "published/获嘉县徐营镇_2024.xlsx", spec21)
    filing = report.filing
    assert (filing.unit, filing.year, filing.kind) == ("获嘉县徐营镇", 2024, "乡镇")
    in_layout_order = [filing.values[d] for d in spec21.datapoints]
    assert [float(x) for x in figures] == in_layout_order
    assert report.findings == []
