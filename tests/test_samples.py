"""The bundled samples: up to date with the code, and checked exactly as documented."""

from __future__ import annotations

import importlib.util
import re

import pytest

from workbook_tools import check

from .conftest import ROOT

SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("samples_build", SAMPLES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_samples_are_what_build_py_makes(builder, tmp_path):
    written = builder.build(tmp_path)
    assert len(written) == 13 + 12 + 1
    for path in written:
        committed = SAMPLES / path.relative_to(tmp_path)
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} is stale: run make samples"
        )


EXPECTED = {
    "101": set(),
    "102": {"R1"},
    "103": {"R2", "T107"},
    "104": {"R5", "V106"},
    "105": {"T103"},
    "106": {"D101"},
    "201": set(),
    "202": {"X1"},
    "203": set(),
    "204": {"X3"},
    "205": set(),
    "206": set(),
}


def test_this_years_returned_files(spec21):
    files = check.expand([SAMPLES / "returned/2025"])
    reports = check.check_paths(files, spec21, previous=SAMPLES / "returned/2024", jobs=1)
    found = {r.filing.code: {f.code for f in r.findings} for r in reports}
    assert found == EXPECTED
    assert "207" not in found  # 市场监督管理局 has not reported


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
