"""A collection round as a county office runs it (issue 10): outputs that behave like the
user's own files, wrong output kinds refused before any work."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import openpyxl
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


# --- equations name every cell ------------------------------------------------------------

T3 = "表三 依申请公开"


def _check_json(path, *more):
    import json

    done = run("check", path, *more, "--format", "json")
    return json.loads(done.stdout)["files"][0]["findings"]


def test_an_equation_finding_lists_every_cell_and_the_feedback_marks_them(tmp_path, spec21):
    import openpyxl

    from workbook_tools.template import COLORS

    values = wb.base_values(spec21)
    values["t3.new.natural"] += 1  # the mistake is in 本年新收 (D7), not in 结转下年度 (D31)
    path = wb.write(tmp_path, wb.render(spec21, spec21.compute(values)))
    (r1,) = [f for f in _check_json(path) if f["code"] == "R1"]
    assert r1["cell"] == "D31"
    assert r1["cells"] == [f"{T3}!D31", f"{T3}!D7", f"{T3}!D8", f"{T3}!D30"]
    text = run("check", path).stdout
    assert f"{T3}!D31（及 D7、D8、D30）" in text
    feedback = tmp_path / "feedback"
    run("check", path, "--annotate", feedback)
    (out,) = feedback.iterdir()
    ws = openpyxl.load_workbook(out)[T3]
    fill = "FF" + COLORS["error_fill"].lstrip("#")
    for a1 in ("D7", "D8", "D30", "D31"):
        assert ws[a1].fill.fgColor.rgb == fill, a1
        assert "[R1]" in ws[a1].comment.text
    assert ws["E7"].fill.fgColor.rgb != fill  # the next column is not part of it


@pytest.mark.parametrize("code", ["R2", "R3", "R4", "W1"])
def test_every_equation_rule_names_all_its_cells(tmp_path, spec21, code):
    """Each equation broken (a total typed over, or W1's inputs out of line): the finding lists
    every cell of the equation, anchor first."""
    from workbook_tools import layout

    values = wb.base_values(spec21)
    inst = spec21.rule(code).instances[0]
    if code == "W1":
        issued = next(c for c in inst.cells if c.endswith(".issued"))
        values[issued] = sum(values[c] for c in inst.cells) + 1
        data = wb.render(spec21, spec21.compute(values))
    else:
        total = next(c for c in inst.cells if spec21.datapoints[c].computed)
        place = layout.build(spec21).place(total)
        data = wb.type_over_formula(wb.render(spec21, values), place.sheet, place.a1, 999)
    path = wb.write(tmp_path, data)
    found = [f for f in _check_json(path) if f["code"] == code]
    assert found, code
    f = found[0]
    assert f["cells"][0] == f"{f['sheet']}!{f['cell']}"
    assert len(f["cells"]) == len(set(inst.cells) | {inst.at}) > 2


def test_cross_year_equation_names_this_years_cells(tmp_path, spec21):
    now = wb.base_values(spec21)
    then = dict(now)
    then["t2.normative.in_force"] += 3  # in force now ≠ last year's + issued − repealed
    prev = wb.write(tmp_path, wb.render(spec21, spec21.compute(then), year=2023), "prev.xlsx")
    path = wb.write(tmp_path, wb.render(spec21, spec21.compute(now)))
    (x2,) = [f for f in _check_json(path, "--previous", prev) if f["code"] == "X2"]
    assert len(x2["cells"]) == 3 and x2["cells"][0] == f"{x2['sheet']}!{x2['cell']}"


# --- merge: the newest resubmission wins ------------------------------------------------------


def _saved(data: bytes, when: str) -> bytes:
    """The workbook as saved at ``when`` (docProps/core.xml's dcterms:modified)."""
    import re

    def change(xml: bytes) -> bytes:
        return re.sub(
            rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
            rb"\g<1>" + when.encode() + rb"\g<2>",
            xml,
        )

    return wb.edit_part(data, "docProps/core.xml", change)


def _roster(tmp_path) -> object:
    path = tmp_path / "名册.csv"
    path.write_text("单位名称,单位代码,单位类型\n徐营镇,101,乡镇\n城关镇,102,乡镇\n", "utf-8")
    return path


def _unit_file(folder, spec21, name: str, saved: str, mtime: float, unit=None, **changes):
    values = wb.base_values(spec21)
    values.update(changes)
    data = wb.render(spec21, spec21.compute(values), unit=unit or wb.UNIT)
    path = folder / name
    path.write_bytes(_saved(data, saved))
    os.utime(path, (mtime, mtime))
    return path


def _status_rows(path):
    import openpyxl

    from workbook_tools import county

    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book[county.STATUS_SHEET].iter_rows(min_row=2, values_only=True))
    return {r[6]: (r[4], r[5]) for r in rows if r[6]}


def _used_files(path) -> dict[str, str]:
    """File -> the 汇总所用文件 column of the status sheet, found by its header."""
    import openpyxl

    from workbook_tools import county

    rows = list(
        openpyxl.load_workbook(path, read_only=True)[county.STATUS_SHEET].iter_rows(
            values_only=True
        )
    )
    col = rows[0].index("汇总所用文件")
    return {r[6]: r[col] or "" for r in rows[1:] if r[6]}


def test_newest_resubmission_is_used_by_default(tmp_path, spec21):
    folder = tmp_path / "收回 2025"
    folder.mkdir()
    # The first file was saved first but copied later (a newer file time): the workbook's own
    # saved time decides.
    _unit_file(folder, spec21, "徐营镇.xlsx", "2026-01-05T09:00:00Z", 2_000_000_000)
    _unit_file(
        folder,
        spec21,
        "徐营镇（修改后）.xlsx",
        "2026-01-09T16:30:00Z",
        1_900_000_000,
        **{"t2.licensing.decisions": 40},
    )
    other = wb.Unit("城关镇", "102", "乡镇")
    _unit_file(folder, spec21, "城关镇.xlsx", "2026-01-06T00:00:00Z", 1_900_000_000, unit=other)
    out = tmp_path / "汇总.xlsx"
    done = run("merge", folder, "-r", _roster(tmp_path), "-o", out)
    assert done.exit_code == 1, done.output  # a superseded file needs no action, but is listed
    rows = _status_rows(out)
    assert rows["徐营镇（修改后）.xlsx"][0] == "已报送通过"
    assert "替换了较早的 1 个（徐营镇.xlsx）" in rows["徐营镇（修改后）.xlsx"][1]
    assert rows["徐营镇.xlsx"] == ("已被替换", "已由较新的文件“徐营镇（修改后）.xlsx”替换")
    # which of the unit's files the total used, in a column of its own on every row of the unit
    used = _used_files(out)
    assert used["徐营镇.xlsx"] == used["徐营镇（修改后）.xlsx"] == "徐营镇（修改后）.xlsx"
    assert used["城关镇.xlsx"] == "城关镇.xlsx"
    assert (
        "选用最新的“徐营镇（修改后）.xlsx”" in done.output
        and "已被替换 1 个：徐营镇.xlsx" in done.output
    )
    from workbook_tools import check

    total = check.check_file(out, spec21).filing.values["t2.licensing.decisions"]
    assert total == 40 + wb.base_values(spec21)["t2.licensing.decisions"]  # the newer one's

    none = tmp_path / "none.xlsx"
    done = run("merge", folder, "-r", _roster(tmp_path), "-o", none, "--prefer", "none")
    rows = _status_rows(none)
    assert rows["徐营镇.xlsx"][0] == rows["徐营镇（修改后）.xlsx"][0] == "重复"
    assert _used_files(none)["徐营镇.xlsx"] == ""  # none of a duplicate's files is used
    assert done.output.count("徐营镇（修改后）.xlsx") == 1  # one line for the unit


def test_three_hundred_copies_make_one_line(tmp_path, spec21):
    """300 copies of one unit: one line with the count and the file used, not 300 × 300 names;
    every reason on the status sheet stays short."""
    folder = tmp_path / "副本 文件夹"
    folder.mkdir()
    data = _saved(wb.render(spec21), "2026-01-05T09:00:00Z")
    for i in range(300):
        path = folder / f"徐营镇 副本{i:03d}.xlsx"
        path.write_bytes(data)
        os.utime(path, (1_900_000_000 + i, 1_900_000_000 + i))
    for prefer in ("newest", "none"):
        out = tmp_path / f"{prefer}.xlsx"
        done = run("merge", folder, "-r", _roster(tmp_path), "-o", out, "--prefer", prefer, "-j", 1)
        lines = done.output.splitlines()
        assert len(lines) < 12 and len(done.output) < 2000, done.output[:3000]
        assert "300 个" in done.output
        if prefer == "newest":
            assert done.exit_code == 1, done.output  # 城关镇 sent nothing
            assert "选用最新的“徐营镇 副本299.xlsx”" in done.output
            rows = _status_rows(out)
            assert len(rows) == 300 and max(len(r[1]) for r in rows.values()) < 200
        else:  # every copy held out: nothing to merge, nothing written
            assert done.exit_code == 2 and not out.exists()


# --- fewer false alarms: N4 names, N6 one's own last-year text --------------------------------


def _n4(tmp_path, spec21, sentence, unit=None, name="a.xlsx"):
    from workbook_tools import check

    texts = {**wb.TEXTS, "s1.proactive": sentence}
    path = wb.write(tmp_path, wb.render(spec21, texts=texts, unit=unit or wb.UNIT), name)
    return [f.args["found"] for f in check.check_file(path, spec21).findings if f.code == "N4"]


@pytest.mark.parametrize(
    "sentence",
    [
        "依托门户网站镇政府专栏及时发布各类政府信息。",
        "组织的乡镇干部参加政务公开业务培训。",
        "充分利用镇村两级公开栏公开惠民政策。",
        "成立了镇政务公开工作领导小组，明确专人负责。",
        "各乡镇街道和县直部门按要求公开。",
        "今年镇政府新建了便民服务大厅。",
    ],
)
def test_ordinary_phrases_give_no_n4(tmp_path, spec21, sentence):
    assert _n4(tmp_path, spec21, sentence) == []


@pytest.mark.parametrize(
    "sentence, unit, found",
    [
        ("柳河镇依法主动公开各类政府信息。", None, "柳河镇"),
        ("参照柳河镇的做法，规范依申请公开办理流程。", None, "柳河镇"),
        (
            "2024年，青禾县东关街道（我街道）围绕中心工作推进政务公开。",
            wb.Unit("青禾县西湖街道", "106", "街道"),
            "青禾县东关街道",
        ),
    ],
)
def test_another_units_name_gives_n4_quoting_the_whole_name(
    tmp_path, spec21, sentence, unit, found
):
    assert _n4(tmp_path, spec21, sentence, unit) == [found]


def test_with_a_roster_only_its_names_count(tmp_path, spec21):
    """In merge the roster knows every unit: a real name (even one the pattern would not take)
    is found, a phrase that only looks like a name is not."""
    from workbook_tools import merge
    from workbook_tools.roster import Unit

    folder = tmp_path / "收回"
    folder.mkdir()
    units = [Unit("徐营镇", "101", "乡镇"), Unit("青禾县王家集乡", "102", "乡镇")]
    texts = {**wb.TEXTS, "s1.proactive": "学习借鉴王家集乡经验，依托门户网站镇政府专栏公开信息。"}
    (folder / "a.xlsx").write_bytes(wb.render(spec21, texts=texts))
    result = merge.merge([folder], spec21, units, jobs=1)
    try:
        record = result.spool.read(result.entries[0].offset)
        n4 = [x[5] for x in record["findings"] if x[0] == "N4"]
        assert len(n4) == 1 and "“王家集乡”" in n4[0]
    finally:
        result.close()


def test_reusing_ones_own_text_is_a_milder_finding_than_copying(tmp_path, spec21):
    from workbook_tools import findings, merge, synth, template
    from workbook_tools.roster import Unit

    this_year, last_year = tmp_path / "2025 年", tmp_path / "2024 年"
    this_year.mkdir()
    last_year.mkdir()
    values = wb.base_values(spec21)
    reused = "本年度我镇通过政府网站和政务公开栏主动公开财政预决算、惠民政策和重点项目信息，并及时更新机构职能。"
    copied = "我镇依托便民服务中心设立查阅点，全年接待群众查阅政策文件，并通过微信公众号推送涉农补贴政策解读。"
    for folder, year in ((last_year, 2024), (this_year, 2025)):
        for code, name in (("01", "甲镇"), ("02", "乙镇"), ("03", "丙镇")):
            own = reused if code == "01" else copied if year == 2025 else f"{name}{year}年的文字。"
            texts = {**wb.TEXTS, "s1.proactive": own}
            v = synth.previous_year(spec21, values) if year == 2024 else values
            data = template.render(spec21, Unit(name, code, "乡镇"), year, values=v, texts=texts)
            (folder / f"{code}.xlsx").write_bytes(data)
    result = merge.merge([this_year], spec21, None, previous=last_year, jobs=1)
    try:
        codes = sorted((f.code, f.args["a"]) for f in result.similar)
        assert codes == [("N5", "乙镇"), ("N6", "甲镇")]
        (n6,) = [f for f in result.similar if f.code == "N6"]
        assert "沿用上年文字" in n6.message("zh") and "照抄" not in n6.message("zh")
        assert n6.level() == findings.Severity.NOTE  # milder than N5, a warning
    finally:
        result.close()


# --- check --annotate shows progress while writing feedback -----------------------------------


def test_writing_feedback_workbooks_has_its_own_progress(tmp_path, spec21):
    """On a terminal, the writing of feedback workbooks shows progress (600 files took ~45 s of
    silence after the checking bar before): each workbook is written as its file is checked, under
    a bar that says so."""
    import subprocess
    import sys

    folder = tmp_path / "报送 文件"
    folder.mkdir()
    data = wb.render(spec21)
    for i in range(21):
        (folder / f"单位{i:02d}.xlsx").write_bytes(data)
    parent, child = os.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    done = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbook_tools",
            "check",
            str(folder),
            "-a",
            str(tmp_path / "反馈"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=child,
        env=env,
    )
    os.close(child)
    # The terminal is read while the command runs: the bar redraws ten times a second, and a
    # slow run (a loaded machine) filled the pty's buffer and blocked the command until the
    # timeout when it was read only at the end.
    seen = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(parent)
    assert done.wait(timeout=300) == 0
    text = seen.decode("utf-8", "replace")
    assert "校验并生成反馈工作簿" in text  # one bar over checking and writing, no silent phase
    assert len(list((tmp_path / "反馈").iterdir())) == 21


# --- Windows and macOS start worker processes with spawn ------------------------------------

SPAWN_SCRIPT = """
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    from workbook_tools.cli import main

    sys.argv = ["wbtools", *sys.argv[1:]]
    main()
"""


def test_check_and_merge_run_their_pools_under_spawn(tmp_path, spec21):
    """The pool under the spawn start method (the default on Windows and macOS), with Chinese
    characters and spaces in every path: the same results as one process."""
    import json
    import subprocess
    import sys

    from workbook_tools import check
    from workbook_tools.roster import Unit

    base = tmp_path / "县 政务公开办"
    folder, last = base / "2025 年 报送", base / "2024 年 报送"
    folder.mkdir(parents=True)
    last.mkdir()
    roster = base / "单位 名册.csv"
    lines = ["单位名称,单位代码,单位类型"]
    values = wb.base_values(spec21)
    from workbook_tools import synth

    for i in range(18):
        unit = Unit(f"测试{i:02d}镇", f"{i:02d}", "乡镇")
        lines.append(f"{unit.name},{unit.code},乡镇")
        data = wb.render(spec21, values, unit=unit, year=2025)
        (folder / f"{unit.code} {unit.name}.xlsx").write_bytes(data)
        prev = wb.render(spec21, synth.previous_year(spec21, values), unit=unit, year=2024)
        (last / f"{unit.code} {unit.name}.xlsx").write_bytes(prev)
    roster.write_text("\n".join(lines) + "\n", "utf-8")
    script = base / "启动 脚本.py"
    script.write_text(SPAWN_SCRIPT, "utf-8")

    def wbtools(*args):
        return subprocess.run(
            [sys.executable, str(script), *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )

    spawned = wbtools("check", folder, "-p", last, "-f", "json", "-j", 2, "-a", base / "反馈 文件")
    assert spawned.returncode == 0, spawned.stderr[-3000:]
    serial = run("check", folder, "-p", last, "-f", "json", "-j", 1)
    assert json.loads(spawned.stdout)["files"] == json.loads(serial.stdout)["files"]
    assert len(list((base / "反馈 文件").iterdir())) == 18

    out = base / "汇总 结果" / "全县 汇总.xlsx"
    out.parent.mkdir()
    merged = wbtools("merge", folder, "-r", roster, "-p", last, "-o", out, "-j", 2)
    assert merged.returncode == 0, merged.stderr[-3000:] + merged.stdout[-3000:]
    total = check.check_file(out, spec21).filing.values
    assert total["t3.new.total"] == 18 * values["t3.new.total"]
    assert "已报送通过 18" in merged.stdout


# --- messages: Chinese without English identifiers, hints that fit, complete --help ----------

_LATIN_WORD = __import__("re").compile(r"[A-Za-z]{3,}")


def test_chinese_messages_carry_no_english_identifiers(tmp_path, spec21):
    import xlsxwriter

    from workbook_tools import check

    t102 = wb.write(tmp_path, wb.set_meta(wb.render(spec21), "year", "2023"), "t102.xlsx")
    empty = tmp_path / "空白.xlsx"
    book = xlsxwriter.Workbook(empty)
    book.add_worksheet().write("A1", "别的表格")
    book.close()
    seen = {}
    for path in (t102, empty):
        for f in check.check_file(path, spec21).findings:
            seen[f.code] = (f.message("zh", spec21), f.message("en", spec21))
    assert {"T102", "F111"} <= set(seen)
    for code in ("T102", "F111"):
        zh, en = seen[code]
        assert not _LATIN_WORD.search(zh), zh
        assert _LATIN_WORD.search(en), en
    assert "报告年度" in seen["T102"][0] and "Report year" in seen["T102"][1]
    done = run("template", "-u", "徐营镇", "-y", 1999, "-o", tmp_path / "x.xlsx")
    assert done.exit_code == 2 and "U109" in done.output
    assert not _LATIN_WORD.search(done.output.split("U109")[1]), done.output


def test_output_kind_hints_fit_their_case(tmp_path, spec21):
    path = wb.write(tmp_path, wb.render(spec21))
    cases = {
        ("report", path, "-o", tmp_path / "r.pdf"): ".docx、.html 或 .md",
        ("merge", path, "-o", tmp_path / "c.csv"): ".xlsx",
        ("template", "-u", "徐营镇", "-y", 2025, "-o", tmp_path / "x.csv"): "单个单位",
        (
            "template",
            "-r",
            ROOT / "samples/roster.csv",
            "-y",
            2025,
            "-o",
            tmp_path / "y.xlsx",
        ): "名册",
    }
    for args, hint in cases.items():
        done = run(*args)
        assert done.exit_code == 2 and "O103" in done.output, done.output
        message = done.output.split("O103")[1]
        assert hint in message, (args[0], message)
        words = __import__("re").sub(r"\.[a-z]+|-o\b", "", message.split("”", 1)[1])
        assert " / " not in message and not _LATIN_WORD.search(words), message
    assert "按名册" not in run(*list(cases)[1]).output  # a merge is told nothing of rosters


def test_no_allow_errors_hint_for_a_file_that_cannot_be_read(tmp_path):
    done = run("report", tmp_path / "不存在.xlsx", "-o", tmp_path / "r.docx")
    assert done.exit_code == 2
    assert "F101" in done.output and "--allow-errors" not in done.output


def test_help_texts_are_complete(tmp_path):
    """Every option's help is shown whole (rich's tables cut Chinese text with “…”)."""
    import typer

    from workbook_tools.cli import app

    group = typer.main.get_command(app)

    def commands(group, prefix=()):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from commands(command, (*prefix, name))
            else:
                yield (*prefix, name), command

    checked = 0
    for path, command in commands(group):
        shown = "".join(run(*path, "--help").output.split())
        assert "…" not in shown, path
        for param in command.params:
            text = getattr(param, "help", None)
            if text:
                assert "".join(text.split()) in shown, (path, param.name)
                checked += 1
    assert checked > 40


def test_files_sent_zipped_or_in_another_form_are_reported_not_skipped(tmp_path, spec21):
    """A folder of returned files holds what units really send: a workbook zipped (by Windows'
    “send to compressed folder”: GBK names without the UTF-8 flag), a RAR, WPS's .et. None may
    pass unnoticed, or merge counts a unit missing that did send its file."""
    import io
    import json
    import zipfile

    from workbook_tools.roster import Unit

    units = [Unit("甲镇", "1", "乡镇"), Unit("乙镇", "2", "乡镇"), Unit("丙镇", "3", "乡镇")]
    returned = tmp_path / "returned"
    returned.mkdir()
    (returned / "甲镇.xlsx").write_bytes(wb.render(spec21, unit=units[0]))
    packed = io.BytesIO()
    gbk_name = "乙镇年报.xlsx".encode("gbk")
    placeholder = b"X" * (len(gbk_name) - 5) + b".xlsx"  # ASCII: written without the flag
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(placeholder.decode(), wb.render(spec21, unit=units[1]))
    archive = packed.getvalue()
    assert archive.count(placeholder) == 2  # local header and central directory
    (returned / "乙镇.zip").write_bytes(archive.replace(placeholder, gbk_name))
    (returned / "乙镇旧.rar").write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(64))
    (returned / "丙镇.et").write_bytes(wb.render(spec21, unit=units[2]))  # an .xlsx named .et
    (returned / "notes.docx.tmp").write_bytes(b"x")  # not a report in any form: still skipped

    result = run("check", returned, "--format", "json")
    files = {Path(f["path"]).name: f for f in json.loads(result.stdout)["files"]}
    assert set(files) == {"甲镇.xlsx", "乙镇.zip", "乙镇旧.rar", "丙镇.et"}
    zipped = [f for f in files["乙镇.zip"]["findings"] if f["code"] == "F114"]
    assert zipped and "乙镇年报.xlsx" in zipped[0]["message"]
    assert [f["code"] for f in files["乙镇旧.rar"]["findings"]] == ["F114"]
    assert files["丙镇.et"]["unit"] == "丙镇" and files["丙镇.et"]["status"] == "passed"

    roster = tmp_path / "roster.csv"
    roster.write_text(
        "单位名称,单位代码,单位类型\n甲镇,1,乡镇\n乙镇,2,乡镇\n丙镇,3,乡镇\n", "utf-8"
    )
    county = tmp_path / "county.xlsx"
    run("merge", returned, "--roster", roster, "-o", county)
    sheet = openpyxl.load_workbook(county, read_only=True)["报送情况"]
    rows = [[str(v or "") for v in row] for row in sheet.iter_rows(values_only=True)]
    sent = [" ".join(r) for r in rows if "乙镇" in r]
    assert sent and any("F114" in r for r in sent)  # said unreadable as an archive
    assert not any("未报送" in r for r in sent)  # not counted as sending nothing
    assert any("丙镇" in r and "丙镇.et" in " ".join(r) for r in rows)


def test_a_temporary_output_is_new_exclusive_and_gets_the_umask(tmp_path, monkeypatch):
    """``files.temp_beside`` (mkstemp's guarantees without loading tempfile): a name of its own
    beside the output, never one that exists (tried again), the mode a new file gets."""
    from workbook_tools import files

    out = tmp_path / "out.xlsx"
    taken = tmp_path / f".out.xlsx.{b'AAAAAA'.hex()}.part"
    taken.write_bytes(b"someone else's")
    draws = iter([b"AAAAAA", b"BBBBBB"])
    monkeypatch.setattr(files.os, "urandom", lambda n: next(draws))
    old = os.umask(0o027)
    try:
        fd, name = files.temp_beside(out)
    finally:
        os.umask(old)
    os.close(fd)
    assert Path(name) == tmp_path / f".out.xlsx.{b'BBBBBB'.hex()}.part"
    assert taken.read_bytes() == b"someone else's"
    assert _mode(Path(name)) == 0o640
    monkeypatch.undo()
    fd2, other = files.temp_beside(out)
    os.close(fd2)
    assert other != name and Path(other).parent == tmp_path
