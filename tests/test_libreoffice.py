"""Round trips through LibreOffice headless: its formulas compute what the checker computes.

Filling is done with openpyxl, as a third-party program would; openpyxl stores no cached formula
results, and ``office.convert`` forces recalculation on load besides (proven by the first test),
so every total and ✓/✗ read back was computed by LibreOffice itself.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from workbook_tools import check, layout, office, rules, synth
from workbook_tools.template import defined_name

from . import workbooks as wb

pytestmark = pytest.mark.libreoffice
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def test_conversion_really_recalculates(tmp_path, soffice):
    src = tmp_path / "in" / "stale.xlsx"
    src.parent.mkdir()
    book = xlsxwriter.Workbook(src)
    ws = book.add_worksheet()
    ws.write_number("A1", 21)
    ws.write_formula("A2", "=A1*2", None, 999)  # a wrong cached value, as a stale file has
    book.close()
    out = office.convert(src, "xlsx", tmp_path / "out")
    assert openpyxl.load_workbook(out, data_only=True).active["A2"].value == 42


def _fill(template_bytes: bytes, lay, values: dict, path: Path) -> Path:
    book = openpyxl.load_workbook(io.BytesIO(template_bytes))
    for dp_id, value in values.items():
        place = lay.place(dp_id)
        book[place.sheet].cell(place.row + 1, place.col + 1).value = value
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _shown(book, spec21, lay) -> tuple[dict, set]:
    """Totals as LibreOffice computed them, and the keys of the checks showing ✗."""
    totals = {}
    for target, _ in spec21.totals:
        p = lay.place(target)
        totals[target] = book[p.sheet].cell(p.row + 1, p.col + 1).value
    failed = set()
    for _, inst in spec21.instances():
        p = lay.place(f"check.{inst.key}")
        shown = book[p.sheet].cell(p.row + 1, p.col + 1).value
        assert shown in (rules.PASS, rules.FAIL), (inst.key, shown)
        if shown == rules.FAIL:
            failed.add(inst.key)
    return totals, failed


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory, spec21, template_bytes, soffice):
    """One LibreOffice run over: the blank template, a consistent filling, and broken fillings."""
    lay = layout.build(spec21)
    base = tmp_path_factory.mktemp("lo")
    values = synth.consistent_values(spec21, random.Random(2024))
    values["t3.deny_law.other"] = 0
    for col in spec21.sets["applicants"]:  # keeps “未收取信息处理费” in the text true
        values[f"t3.granted.{col}"] += values[f"t3.other_unpaid.{col}"]
        values[f"t3.other_unpaid.{col}"] = 0
    values = spec21.compute(values)
    assert spec21.failures(values, "乡镇") == []
    inputs = {i: values[i] for i in spec21.inputs}

    breaks = {
        "r1": {"t3.new.natural": inputs["t3.new.natural"] + 1},
        "r4": {"t4.review.total": values["t4.review.total"] + 5},  # typed over the formula
        "r5": {"t3.deny_law.other": "若干"},
        # Read by the checker with a warning (V106, V105): no ✗ in the template either.
        "lenient": {
            "t3.deny_law.other": f"{inputs['t3.deny_law.other']}件",
            "t3.deny_law.natural": str(inputs["t3.deny_law.natural"]).translate(_FULL_WIDTH),
        },
        "w1": {
            "t2.normative.issued": values["t2.normative.in_force"]
            + values["t2.normative.repealed"]
            + 1
        },
        "w2": {"t2.rules.issued": 2, "t2.rules.in_force": 2},
    }
    blank = base / "in" / "blank.xlsx"
    blank.parent.mkdir()
    blank.write_bytes(template_bytes)
    texts = {k: v for k, v in wb.TEXTS.items() if v}
    files = {
        "blank": blank,
        "filled": _fill(template_bytes, lay, {**inputs, **texts}, base / "in" / "filled.xlsx"),
    }
    partly = {**inputs, **texts, "t3.new.natural": inputs["t3.new.natural"] + 1}
    partly["t2.licensing.decisions"] = "  "  # spaces are empty too
    del partly["s5.problems"]
    files["partly"] = _fill(template_bytes, lay, partly, base / "in" / "partly.xlsx")
    for name, change in breaks.items():
        files[name] = _fill(
            template_bytes, lay, {**inputs, **texts, **change}, base / "in" / f"{name}.xlsx"
        )
    outs = office.convert_many(list(files.values()), "xlsx", base / "out")
    books = {
        name: openpyxl.load_workbook(out, data_only=True)
        for name, out in zip(files, outs, strict=True)
    }
    formulas = openpyxl.load_workbook(outs[0])
    paths = dict(zip(files, outs, strict=True))
    paths["filled.ods"] = office.convert(paths["filled"], "ods", base / "ods")
    paths["filled.xls"] = office.convert(paths["filled"], "xls", base / "xls")
    return {
        "lay": lay,
        "values": values,
        "inputs": inputs,
        "breaks": breaks,
        "books": books,
        "formulas": formulas,
        "paths": paths,
    }


def test_consistent_filling_computes_python_totals_and_passes(round_trip, spec21):
    lay, values = round_trip["lay"], round_trip["values"]
    totals, failed = _shown(round_trip["books"]["filled"], spec21, lay)
    assert totals == {t: values[t] for t, _ in spec21.totals}
    assert any(totals.values())
    assert failed == set()
    assert round_trip["books"]["filled"]["校验结果"]["C6"].value == "全部通过"
    assert _cover_status(round_trip["books"]["filled"]) == "全部通过"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("r1", {"R1[natural]", "R1[total]"}),
        ("r4", {"R4[review]"}),
        ("r5", {"R5[t3.deny_law]"}),
        ("w1", {"W1[normative]"}),
        ("w2", {"W2"}),
        ("lenient", set()),
    ],
)
def test_one_broken_input_shows_exactly_the_matching_cross(round_trip, spec21, name, expected):
    lay = round_trip["lay"]
    changed = {**round_trip["inputs"], **round_trip["breaks"][name]}
    if name != "r4":  # a typed-over total stays as typed; others are recomputed by the sheet
        changed = spec21.compute(changed)
    else:
        changed = {**spec21.compute(round_trip["inputs"]), **round_trip["breaks"][name]}
    python_says = {inst.key for _, inst in spec21.failures(changed, "乡镇")}
    if name == "lenient":  # the checker reads these as numbers (with V105/V106 warnings)
        python_says = set()
    _, failed = _shown(round_trip["books"][name], spec21, lay)
    assert failed == python_says == expected
    summary = round_trip["books"][name]["校验结果"]["C6"].value
    failing = [inst.key for rule, inst in spec21.instances() if inst.key in expected]
    errors = sum(1 for r, i in spec21.instances() if i.key in expected and r.severity == "error")
    if failing:
        assert summary == f"有 {errors} 项错误、{len(failing) - errors} 项警告，请查看“校验结果”"
    else:
        assert summary == "全部通过"
    assert _cover_status(round_trip["books"][name]) == summary


def _cover_status(book) -> str:
    """The check status line of the cover (填报说明), as LibreOffice computed it."""
    ws = book["填报说明"]
    (row,) = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "校验状态"]
    return ws.cell(row, 2).value


def test_blank_template_is_not_passed_and_says_how_much_is_empty(round_trip, spec21):
    """The cover invites the clerk to send the file when it says 全部通过: a blank template
    must not, and must count what is still empty (as the checker's V101 and D101 would)."""
    empty = len(spec21.inputs) + sum(1 for f in spec21.fields if f.required)
    expected = f"未完成：还有 {empty} 处未填写（数字无则填0）"
    assert round_trip["books"]["blank"]["校验结果"]["C5"].value == empty
    assert round_trip["books"]["blank"]["校验结果"]["C6"].value == expected
    assert _cover_status(round_trip["books"]["blank"]) == expected
    assert _cover_status(round_trip["books"]["partly"]) == (
        "未完成：还有 2 处未填写（数字无则填0）；有 2 项错误、0 项警告，请查看“校验结果”"
    )


def test_blank_template_survives_libreoffice(round_trip, spec21, template_book):
    """Opened and saved by LibreOffice, the template still has its layout, names and locks."""
    lay = round_trip["lay"]
    saved = round_trip["formulas"]
    assert saved.sheetnames == template_book.sheetnames
    for tl in lay.tables.values():
        ws, orig = saved[tl.sheet], template_book[tl.sheet]
        for label in tl.labels:
            assert ws.cell(label.row + 1, label.col + 1).value == label.text
        assert {str(r) for r in ws.merged_cells.ranges} == {
            str(r) for r in orig.merged_cells.ranges
        }
        assert ws.protection.sheet
    for dp_id in spec21.inputs:
        p = lay.place(dp_id)
        cell = saved[p.sheet].cell(p.row + 1, p.col + 1)
        assert not cell.protection.locked
    for key in ("t3.new.natural", "t4.after_review.total", "info.unit"):
        (sheet, _), *_ = saved.defined_names[defined_name(key)].destinations
        assert sheet == lay.place(key).sheet
    assert saved["_meta"].sheet_state in ("hidden", "veryHidden")
    _, failed = _shown(round_trip["books"]["blank"], spec21, lay)
    assert failed == set()


@pytest.mark.parametrize("name", ["filled", "filled.ods", "filled.xls"])
def test_a_template_filled_and_saved_by_libreoffice_checks_clean(round_trip, spec21, name):
    report = check.check_file(round_trip["paths"][name], spec21)
    assert report.readable
    assert [f.code for f in report.findings] == []
    values = round_trip["values"]
    assert {i: report.filing.values[i] for i in spec21.inputs} == {
        i: values[i] for i in spec21.inputs
    }


def test_a_broken_file_saved_by_libreoffice_gives_the_same_finding(round_trip, spec21):
    report = check.check_file(round_trip["paths"]["r1"], spec21)
    assert [(f.code, f.cell) for f in report.findings] == [("R1", "D31")]


def test_values_the_checker_reads_with_a_warning_are_warnings_in_the_template(round_trip, spec21):
    """“12件” and “１２”: the checker reads them with V106/V105 warnings; the template's live
    check shows no ✗ for them (above), and its data validation warns in the registry's words."""
    from workbook_tools.findings import PLAIN_NUMBER

    report = check.check_file(round_trip["paths"]["lenient"], spec21)
    codes = sorted({f.code for f in report.findings})
    # (Excel's SUM skips text, so a saved total may differ from the checker's: T108, a warning.)
    assert set(codes) - {"T108"} == {"V105", "V106"} and not report.errors
    read = [f for f in report.findings if f.code in ("V105", "V106")]
    assert len(read) == 2 and all(f.message("zh").endswith(PLAIN_NUMBER["zh"]) for f in read)
    ws = round_trip["formulas"]["表三 依申请公开"]
    rules_seen = {
        (dv.errorStyle, dv.errorTitle, dv.error) for dv in ws.data_validations.dataValidation
    }
    assert rules_seen == {
        ("warning", "警告", "此处只能填写大于或等于0的整数。" + PLAIN_NUMBER["zh"])
    }
    invalid = check.check_file(round_trip["paths"]["r5"], spec21)
    assert [f.code for f in invalid.findings] == ["R5"]


def test_a_timed_out_conversion_leaves_no_office_process_behind(tmp_path, monkeypatch):
    """soffice is a launcher whose child does the work: a timeout must end both."""
    import time

    pidfile = tmp_path / "child.pid"
    fake = tmp_path / "soffice"
    # Like the real launcher: start the worker as a child, then wait for it.
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nwait\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setattr(office, "find_soffice", lambda: str(fake))
    src = tmp_path / "in" / "a.xlsx"
    src.parent.mkdir()
    src.write_bytes(b"x")
    with pytest.raises(office.OfficeError, match="did not finish"):
        office.convert(src, "pdf", tmp_path / "out", timeout=1)
    child = int(pidfile.read_text())
    for _ in range(50):  # the kill is asynchronous; give the kernel a moment
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break
        if state == "Z":  # killed, waiting for its new parent to reap it
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the office worker {child} is still running after the timeout")
