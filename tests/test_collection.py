"""A collection round as a county office runs it (issue 10): outputs that behave like the
user's own files, wrong output kinds refused before any work."""

from __future__ import annotations

import os
import stat

import pytest

from . import workbooks as wb
from .conftest import ROOT, run


@pytest.fixture()
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_output_gets_the_users_umask(tmp_path, spec21, umask_022):
    returned = tmp_path / "returned"
    returned.mkdir()
    (returned / "a.xlsx").write_bytes(wb.render(spec21))
    outputs = []
    one = tmp_path / "one.xlsx"
    assert run("template", "-u", "徐营镇", "-y", 2024, "-o", one).exit_code == 0
    outputs.append(one)
    folder = tmp_path / "templates"
    assert (
        run("template", "-r", ROOT / "samples/roster.csv", "-y", 2025, "-o", folder).exit_code == 0
    )
    outputs += sorted(folder.iterdir())[:2]
    feedback = tmp_path / "feedback"
    assert run("check", returned, "--annotate", feedback).exit_code == 0
    outputs += list(feedback.iterdir())
    county, long = tmp_path / "county.xlsx", tmp_path / "long.csv"
    done = run("merge", returned, "-o", county, "--long", long)
    assert done.exit_code in (0, 1), done.output
    outputs += [county, long]
    docx = tmp_path / "report.docx"
    assert run("report", returned / "a.xlsx", "-o", docx).exit_code == 0
    outputs.append(docx)
    imported = tmp_path / "imported.xlsx"
    md = tmp_path / "report.md"
    assert run("report", returned / "a.xlsx", "-o", md).exit_code == 0
    assert run("import", md, "-o", imported).exit_code in (0, 1)
    outputs += [md, imported]
    assert {p.name: oct(_mode(p)) for p in outputs} == {p.name: oct(0o644) for p in outputs}
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]
    assert leftovers == []


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_template_roster_into_a_file_name_is_refused_before_any_work(tmp_path):
    done = run(
        "template", "--roster", ROOT / "samples/roster.csv", "-y", 2025, "-o", tmp_path / "one.xlsx"
    )
    assert done.exit_code == 2 and "O103" in done.output
    assert _tree(tmp_path) == []


def test_report_of_a_folder_into_a_file_name_is_refused(tmp_path, spec21):
    folder = tmp_path / "returned"
    folder.mkdir()
    (folder / "a.xlsx").write_bytes(wb.render(spec21))
    (folder / "b.xlsx").write_bytes(wb.render(spec21, unit=wb.Unit("城关镇", "102", "乡镇")))
    before = _tree(tmp_path)
    done = run("report", folder, "-o", tmp_path / "x.docx")
    assert done.exit_code == 2 and "O103" in done.output
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    "args",
    [
        ["-o", "county.txt"],
        ["-o", "county.xlsx"],
        ["-o", "county.xlsx", "--long", "long.txt"],
        ["-o", "county.xlsx", "--roster", "missing.csv"],
    ],
)
def test_merge_that_cannot_run_writes_nothing(tmp_path, spec21, args):
    folder = tmp_path / "returned"
    folder.mkdir()
    (folder / "a.xlsx").write_bytes(wb.render(spec21))
    if args == ["-o", "county.xlsx"]:  # nothing readable to merge
        (folder / "a.xlsx").write_text("not a workbook", "utf-8")
    before = _tree(tmp_path)
    args = [tmp_path / a if a.endswith((".txt", ".xlsx", ".csv")) else a for a in args]
    done = run("merge", folder, *args)
    assert done.exit_code == 2, done.output
    assert _tree(tmp_path) == before
