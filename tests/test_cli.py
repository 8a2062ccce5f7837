"""The command line: template for one unit and a roster, errors with exit code 2, help, codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from workbook_tools.cli import app
from workbook_tools.findings import all_codes

from .conftest import ROOT, run

runner = CliRunner()


def test_template_for_one_unit(tmp_path):
    out = tmp_path / "徐营镇.xlsx"
    result = run("template", "--unit", "徐营镇", "--kind", "乡镇", "--year", 2024, "-o", out)
    assert result.exit_code == 0, result.output
    assert "已生成模板" in result.output
    book = openpyxl.load_workbook(out)
    assert book["基本信息"]["B3"].value == "徐营镇"
    assert book["_meta"]["B8"].value == "2024"


def test_template_into_an_existing_folder_uses_the_safe_name(tmp_path):
    result = run(
        "template", "-u", "徐营镇", "--code", "7", "-y", 2024, "-o", tmp_path, "--lang", "en"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "7_徐营镇_2024.xlsx").is_file()
    assert "Wrote template" in result.output


def test_template_for_the_sample_roster(tmp_path):
    out = tmp_path / "templates"
    result = run("template", "--roster", ROOT / "samples/roster.csv", "--year", 2025, "-o", out)
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 13 and files[0] == "101_青禾县城关镇_2025.xlsx"
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


def test_parallel_roster_run_writes_the_same_bytes(tmp_path):
    names = "\n".join(f"测试乡{i:03d},{i},乡镇" for i in range(45))
    roster = tmp_path / "units.csv"
    roster.write_text("单位名称,代码,类型\n" + names + "\n", encoding="utf-8")
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert run("template", "-r", roster, "-y", 2025, "-o", serial, "-j", 1).exit_code == 0
    assert run("template", "-r", roster, "-y", 2025, "-o", parallel, "-j", 2).exit_code == 0
    for path in serial.iterdir():
        assert (parallel / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    "roster_text, code",
    [
        ("代码\n1\n", "U102"),
        ("单位名称\n\n甲镇\n,\n", None),  # blank lines are skipped: this one is fine
        ("单位名称,类型\n甲镇,乡镇\n,乡镇\n", "U103"),
        ("单位名称\n甲镇\n甲镇\n", "U104"),
        ("单位名称\n甲/镇\n", "U105"),
        ("单位名称\n../甲镇\n", "U105"),
    ],
)
def test_malformed_roster_exits_2_and_writes_nothing(tmp_path, roster_text, code):
    roster = tmp_path / "units.csv"
    roster.write_text(roster_text, encoding="utf-8")
    out = tmp_path / "out"
    result = run("template", "--roster", roster, "--year", 2025, "-o", out)
    if code is None:
        assert result.exit_code == 0
        return
    assert result.exit_code == 2
    assert f"[{code}]" in result.output
    assert not out.exists()


def test_malformed_spec_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "spec.yaml"
    bad.write_text("format: {id: x}\n", encoding="utf-8")
    out = tmp_path / "x.xlsx"
    result = run("template", "-u", "甲镇", "-y", 2025, "-o", out, "--format", bad)
    assert result.exit_code == 2 and "[S102]" in result.output
    assert not out.exists()
    assert run("spec", "--format", bad).exit_code == 2
    assert run("spec", "--format", tmp_path / "none.yaml").exit_code == 2


def test_output_over_the_roster_is_refused(tmp_path):
    roster = tmp_path / "甲镇_2025.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["单位名称"])
    book.active.append(["甲镇"])
    book.save(roster)
    before = roster.read_bytes()
    result = run("template", "-r", roster, "-y", 2025, "-o", tmp_path)
    assert result.exit_code == 2 and "[O101]" in result.output
    assert roster.read_bytes() == before


@pytest.mark.parametrize(
    "args, code",
    [
        (["-u", "甲镇", "-y", 2025, "-o", "x.txt"], "O103"),
        (["-u", "甲镇", "-y", 1900, "-o", "x.xlsx"], "U109"),
        (["-u", "甲镇", "--kind", "村", "-y", 2025, "-o", "x.xlsx"], "U106"),
    ],
)
def test_bad_single_unit_options(tmp_path, args, code):
    result = runner.invoke(app, [str(a) for a in ["template", *args]], catch_exceptions=False)
    assert result.exit_code == 2 and f"[{code}]" in result.output


def test_unit_or_roster_is_required(tmp_path):
    assert run("template", "-y", 2025, "-o", tmp_path / "a.xlsx").exit_code == 2
    assert run("template", "-u", "甲", "-r", "x.csv", "-y", 2025, "-o", tmp_path).exit_code == 2


def test_codes_lists_the_whole_registry(spec21):
    result = run("codes")
    assert result.exit_code == 0
    listed = re.findall(r"^([A-Z]\d+)\t", result.output, re.M)
    assert listed == list(all_codes(spec21))
    assert "R1" in listed and "U104" in listed


def test_spec_summary():
    result = run("spec")
    assert result.exit_code == 0
    assert "200 个数据项" in result.output and "76 个校验项" in result.output


@pytest.mark.parametrize("command", [[], ["template"], ["codes"], ["spec"]])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output
    assert len(result.output) > 200


def test_console_script_runs():
    done = subprocess.run(
        [sys.executable, "-m", "workbook_tools", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("wbtools ")


# --- wbtools check ------------------------------------------------------------------------


def _returned(tmp_path, spec21, name="a.xlsx", **changes):
    from . import workbooks as wb

    values = wb.base_values(spec21)
    values.update(changes)
    path = tmp_path / name
    path.write_bytes(wb.render(spec21, spec21.compute(values)))
    return path


def test_check_clean_file_exits_0(tmp_path, spec21):
    path = _returned(tmp_path, spec21)
    result = run("check", path)
    assert result.exit_code == 0, result.output
    assert "通过" in result.output and "共检查 1 个文件" in result.output


def test_check_errors_exit_1_and_name_the_cell(tmp_path, spec21):
    path = _returned(tmp_path, spec21, **{"t3.new.natural": 10**4})
    result = run("check", path)
    assert result.exit_code == 1
    assert "R1" in result.output and "表三 依申请公开!D31" in result.output


def test_check_nothing_readable_exits_2(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    result = run("check", bad, tmp_path / "missing.xlsx")
    assert result.exit_code == 2
    assert "F102" in result.output and "F101" in result.output


def test_check_folder_mixed_keeps_going_and_reports_json(tmp_path, spec21):
    import json

    folder = tmp_path / "returned"
    folder.mkdir()
    _returned(folder, spec21, "a.xlsx")
    _returned(folder, spec21, "b.xlsx", **{"t2.licensing.decisions": "12件"})
    (folder / "c.xlsx").write_bytes(b"PK\x03\x04broken")
    (folder / "~$a.xlsx").write_bytes(b"lock file Excel leaves behind")
    (folder / "notes.txt").write_text("ignored", encoding="utf-8")
    result = run("check", folder, "--format", "json", "--lang", "en")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    states = {Path(f["path"]).name: f["status"] for f in doc["files"]}
    assert states == {"a.xlsx": "passed", "b.xlsx": "warnings", "c.xlsx": "unreadable"}
    b = next(f for f in doc["files"] if f["path"].endswith("b.xlsx"))
    assert [(x["code"], x["cell"], x["severity"]) for x in b["findings"]] == [
        ("V106", "B10", "warning")
    ]
    assert b["findings"][0]["message"].startswith("“")
    assert doc["summary"]["n"] == 3 and doc["exit_code"] == 1


def test_check_parallel_equals_serial(tmp_path, spec21):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(18):
        _returned(
            folder, spec21, f"u{i:02d}.xlsx", **({"t3.new.natural": 999} if i % 5 == 0 else {})
        )
    serial = run("check", folder, "-j", "1", "--format", "json")
    parallel = run("check", folder, "-j", "2", "--format", "json")
    assert serial.exit_code == parallel.exit_code == 1
    assert serial.output == parallel.output


def test_check_annotate_writes_feedback_and_leaves_inputs_alone(tmp_path, spec21):
    path = _returned(tmp_path, spec21, **{"t2.licensing.decisions": "12件", "t3.new.natural": 999})
    before = path.read_bytes()
    out = tmp_path / "feedback"
    result = run("check", path, "--annotate", out)
    assert result.exit_code == 1
    assert path.read_bytes() == before
    (feedback,) = out.iterdir()
    assert feedback.name == "a_反馈.xlsx"
    book = openpyxl.load_workbook(feedback)
    assert book.sheetnames[-1] == "问题清单" and book.active.title == "问题清单"
    listing = [[c.value for c in row] for row in book["问题清单"].iter_rows(min_row=5)]
    assert [row[2] for row in listing] == ["R1", "V106"]
    cell = book["表二 主动公开"]["B10"]
    assert cell.value == "12件" and cell.comment and "V106" in cell.comment.text
    assert cell.fill.fgColor.rgb.endswith("FFEB9C")  # a warning is orange
    assert (
        book["表三 依申请公开"]["D31"].comment
        and "R1" in book["表三 依申请公开"]["D31"].comment.text
    )
    # the feedback workbook is itself a template: checked again, it gives the same findings
    again = run("check", feedback, "--format", "json")
    import json

    assert [x["code"] for x in json.loads(again.output)["files"][0]["findings"]] == ["R1", "V106"]


def test_check_annotate_refuses_to_write_over_an_input(tmp_path, spec21):
    first = _returned(tmp_path, spec21, "a.xlsx")
    path = _returned(tmp_path, spec21, "a_反馈.xlsx")  # last round's feedback, returned as is
    before = path.read_bytes()
    result = run("check", first, path, "--annotate", tmp_path)
    # the feedback for a.xlsx takes a free name; both files are checked
    assert result.exit_code == 0 and "O101" not in result.output, result.output
    assert path.read_bytes() == before
    assert (tmp_path / "a_反馈 (2).xlsx").exists() and (tmp_path / "a_反馈_反馈.xlsx").exists()


def test_check_annotate_keeps_both_feedbacks_of_files_with_one_name(tmp_path, spec21):
    """Two returned files with the same name in two folders (two rounds, two mailboxes) give two
    feedback workbooks; the second must not silently replace the first."""
    (tmp_path / "mail").mkdir()
    (tmp_path / "chat").mkdir()
    first = _returned(tmp_path / "mail", spec21, "a.xlsx", **{"t3.new.natural": 999})
    second = _returned(tmp_path / "chat", spec21, "a.xlsx")
    out = tmp_path / "feedback"
    result = run("check", first, second, "--annotate", out)
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a_反馈 (2).xlsx", "a_反馈.xlsx"]
    import json

    codes = [
        [
            f["code"]
            for f in json.loads(run("check", p, "--format", "json").output)["files"][0]["findings"]
        ]
        for p in (out / "a_反馈.xlsx", out / "a_反馈 (2).xlsx")
    ]
    assert codes == [["R1"], []]  # each feedback is its own file's
    assert "a_反馈 (2).xlsx" in result.output and "同名" in result.output
    result = run("check", first, second, "--annotate", tmp_path / "en", "--lang", "en")
    assert "same name" in result.output


def test_unwritable_output_is_a_coded_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    result = run("template", "-u", "甲镇", "-y", 2025, "-o", blocker / "x.xlsx")
    assert result.exit_code == 2 and "[O102]" in result.output


def test_english_counts_are_singular_for_one(tmp_path):
    """“1 error, 1 warning” and “Checked 1 file”, not “1 errors”; plural otherwise."""
    one = ROOT / "samples" / "returned" / "2025" / "103_青禾县石桥镇_2025.xlsx"
    result = run("check", one, "--lang", "en")
    assert "1 error, 1 warning" in result.stdout and "1 errors" not in result.stdout
    assert "Checked 1 file: " in result.stdout
    result = run("check", ROOT / "samples" / "returned" / "2025", "--lang", "en")
    assert re.search(
        r"Checked \d+ files: .*; [2-9]\d* errors, [2-9]\d* warnings in all", result.stdout
    )
    assert "0 warnings" in result.stdout  # zero is plural too
    assert "1 个错误，1 个警告" in run("check", one).stdout  # Chinese: no plural


def test_english_status_reasons_are_singular_for_one(tmp_path):
    out = tmp_path / "county.xlsx"
    run("merge", ROOT / "samples" / "returned" / "2025", "--roster", ROOT / "samples" / "roster.csv",
        "-o", out, "--lang", "en")  # fmt: skip
    rows = openpyxl.load_workbook(out, read_only=True)["报送情况"].iter_rows(values_only=True)
    reasons = {row[5] for row in rows}
    assert {"1 warning", "2 warnings", "1 error found"} <= reasons
    assert not {"1 warnings", "1 errors found"} & reasons
