"""wbtools check, proven both ways: a consistent workbook gives no finding, and each single change a
unit makes gives exactly the expected findings at exactly the expected cells.

The golden cases are one table (name -> how the file is made -> the findings expected, as
``CODE@sheet!cell``); one parametrised test runs them all, and a completeness test checks that
every check-related code in the registry is expected by some case.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from workbook_tools import check, reader, synth
from workbook_tools.findings import CODES

from . import workbooks as wb

T2, T3, T4 = "表二 主动公开", "表三 依申请公开", "表四 复议诉讼"
INFO, TEXT = "基本信息", "文字部分"


def located(finding) -> str:
    out = finding.code
    if finding.sheet:
        out += "@" + finding.sheet + (f"!{finding.cell}" if finding.cell else "")
    return out


def _values(spec, **changes):
    values = wb.base_values(spec)
    values.update(changes)
    return spec.compute(values)


def _remove_sheet(name):
    def change(book):
        del book[name]

    return change


def _insert_rows(book):
    book[T3].insert_rows(12, 2)


def _docx(tmp_path: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _zipped(workbook: bytes) -> bytes:
    """A unit's workbook inside a zip archive, as Windows' “send to compressed folder” makes it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("徐营镇年报.xlsx", workbook)
    return out.getvalue()


def _bomb(spec) -> bytes:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    payload = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY l0 "lol">{laughs}]><sst><si><t>&l9;</t></si></sst>'
    return wb.edit_part(wb.render(spec), "xl/sharedStrings.xml", lambda _: payload.encode())


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (3 << 20))
    return out.getvalue()


def _huge_dimension(spec) -> bytes:
    data = wb.render(spec)
    part = wb.sheet_part(data, "_meta")
    import re

    return wb.edit_part(
        data,
        part,
        lambda xml: re.sub(rb'<dimension ref="[^"]+"/>', b'<dimension ref="A1:XFD1048576"/>', xml),
    )


def _encrypted(spec, tmp_path: Path) -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(wb.render(spec))
    out = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", out)
    return out.getvalue()


def _other_template(tmp_path: Path) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["会议签到表"])
    book.active.append(["姓名", "单位", "电话"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _type_over_d30(spec) -> bytes:
    """999 typed over 表三 （七）总计/自然人; Excel then recalculates J30, which sums that row."""
    base = wb.base_values(spec)
    data = wb.type_over_formula(wb.render(spec), T3, "D30", 999)
    return wb.stale_cached_value(
        data, T3, "J30", base["t3.total.total"] - base["t3.total.natural"] + 999
    )


# name -> (build(spec, tmp_path) -> bytes, expected findings)
CASES = {
    "clean": (lambda s, t: wb.render(s), set()),
    # rules
    "R1 one count changed": (
        lambda s, t: wb.render(
            s, _values(s, **{"t3.new.natural": wb.base_values(s)["t3.new.natural"] + 1})
        ),
        {f"R1@{T3}!D31"},
    ),
    "R2 row total typed over": (
        lambda s, t: wb.type_over_formula(wb.render(s), T3, "J9", 999),
        {f"R2@{T3}!J9", f"T107@{T3}!J9"},
    ),
    "R3 column total typed over": (
        lambda s, t: _type_over_d30(s),
        {f"R3@{T3}!D30", f"T107@{T3}!D30"},
    ),
    "R4 group total typed over": (
        lambda s, t: wb.type_over_formula(wb.render(s), T4, "E7", 77),
        {f"R4@{T4}!E7", f"T107@{T4}!E7"},
    ),
    "R5 unreadable text": (
        lambda s, t: wb.render(s, _values(s, **{"t3.deny_law.other": "若干"})),
        {f"R5@{T3}!I12"},
    ),
    "R5 negative": (
        lambda s, t: wb.render(s, _values(s, **{"t2.licensing.decisions": -3})),
        {f"R5@{T2}!B10"},
    ),
    "R5 fraction in a count": (
        lambda s, t: wb.render(s, _values(s, **{"t2.licensing.decisions": 2.5})),
        {f"R5@{T2}!B10"},
    ),
    "W1 issued exceeds in force": (
        lambda s, t: wb.render(s, _values(s, **{"t2.normative.issued": 10**6})),
        {f"W1@{T2}!B7"},
    ),
    "W2 rules in a township": (
        lambda s, t: wb.render(s, _values(s, **{"t2.rules.issued": 1, "t2.rules.in_force": 1})),
        {f"W2@{T2}!B6"},
    ),
    # values
    "V101 blank cell": (
        lambda s, t: wb.render(s, _values(s, **{"t3.deny_law.other": None})),
        {f"V101@{T3}!I12"},
    ),
    "V102 blank table": (
        lambda s, t: wb.render(s, _values(s, **{d: None for d in s.inputs if d.startswith("t4.")})),
        {f"V102@{T4}"},
    ),
    "V103 slash for none": (
        lambda s, t: wb.render(s, _values(s, **{"t3.deny_law.other": "/"})),
        {f"V103@{T3}!I12"},
    ),
    "V104 number as text": (
        lambda s, t: wb.render(s, _values(s, **{"t2.licensing.decisions": "12"})),
        {f"V104@{T2}!B10"},
    ),
    "V105 full-width digits": (
        lambda s, t: wb.render(s, _values(s, **{"t2.licensing.decisions": "１２"})),
        {f"V105@{T2}!B10"},
    ),
    "V106 number with unit": (
        lambda s, t: wb.render(s, _values(s, **{"t2.licensing.decisions": "12件"})),
        {f"V106@{T2}!B10"},
    ),
    "V107 thousands separator": (
        lambda s, t: wb.render(s, _values(s, **{"t2.licensing.decisions": "1,234"})),
        {f"V107@{T2}!B10"},
    ),
    # tampering
    "T101 metadata removed": (
        lambda s, t: wb.with_openpyxl(wb.render(s), _remove_sheet("_meta")),
        {"T101", "T109"},
    ),
    "T102 unit name edited": (
        lambda s, t: wb.retype_text(wb.render(s), INFO, "B3", "别的镇"),
        {f"T102@{INFO}!B3"},
    ),
    "T103 old template": (lambda s, t: wb.set_meta(wb.render(s), "spec_hash", "0" * 64), {"T103"}),
    "T104 label retyped": (
        lambda s, t: wb.retype_text(wb.render(s), T3, "D5", "个人"),
        {f"T104@{T3}!D5"},
    ),
    "T105 rows inserted": (
        lambda s, t: wb.with_openpyxl(wb.render(s), _insert_rows),
        {f"T105@{T3}!D14", "T109"},
    ),
    "T106 protection removed": (lambda s, t: wb.unprotect(wb.render(s), T3), {"T106"}),
    "T106 structure unprotected": (
        lambda s, t: wb.edit_part(
            wb.render(s),
            "xl/workbook.xml",
            lambda x: x.replace(b'<workbookProtection lockStructure="1"/>', b""),
        ),
        {"T106"},
    ),
    "T107 total typed over, same value": (
        lambda s, t: wb.type_over_formula(
            wb.render(s), T3, "J9", wb.base_values(s)["t3.granted.total"]
        ),
        {f"T107@{T3}!J9"},
    ),
    "T108 stale cached total": (
        lambda s, t: wb.stale_cached_value(wb.render(s), T3, "J9", 4321),
        {f"T108@{T3}!J9"},
    ),
    "T109 saved without results": (
        lambda s, t: wb.with_openpyxl(wb.render(s), lambda book: None),
        {"T109"},
    ),
    "T112 table deleted": (
        lambda s, t: wb.with_openpyxl(wb.render(s), _remove_sheet(T4)),
        {"T112", "T109"},
    ),
    "T113 row label lost without metadata": (
        lambda s, t: wb.with_openpyxl(
            wb.retype_text(wb.render(s), T3, "C22", "2.重复"), _remove_sheet("_meta")
        ),
        {"T101", "T109", f"T113@{T3}"},
    ),
    # files
    "F102 text renamed": (lambda s, t: "单位名称,数量\n徐营镇,1\n".encode(), {"F102"}),
    "F103 truncated": (lambda s, t: wb.render(s)[:5000], {"F103"}),
    "F104 password to open": (lambda s, t: _encrypted(s, t), {"F104"}),
    "F105 Word file renamed": (lambda s, t: _docx(t), {"F105"}),
    "F106 zip bomb": (lambda s, t: _zip_bomb(), {"F106"}),
    "F107 entity bomb": (lambda s, t: _bomb(s), {"F107"}),
    "F108 claims a million rows": (lambda s, t: _huge_dimension(s), {"F108"}),
    "F109 empty file": (lambda s, t: b"", {"F109"}),
    "F110 unreadable workbook": (
        lambda s, t: wb.edit_part(
            wb.render(s), "xl/sharedStrings.xml", lambda x: b"<sst><si><t>broken"
        ),
        {"F110"},
    ),
    "F111 another template": (lambda s, t: _other_template(t), {"F111"}),
    "F114 workbook sent zipped": (lambda s, t: _zipped(wb.render(s)), {"F114"}),
    # narrative
    "D101 fee statement empty": (
        lambda s, t: wb.render(s, texts={**wb.TEXTS, "s6.fees": ""}),
        {f"D101@{TEXT}!B14"},
    ),
    "N1 number disagrees": (
        lambda s, t: wb.render(
            s,
            texts={
                **wb.TEXTS,
                "s1.on_request": "本年度共收到政府信息公开申请9999件，均已按时办结。",
            },
        ),
        {f"N1@{TEXT}!B6"},
    ),
    "N2 says none received": (
        lambda s, t: wb.render(
            s, texts={**wb.TEXTS, "s1.on_request": "本年度未收到政府信息公开申请。"}
        ),
        {f"N2@{TEXT}!B6"},
    ),
    "N3 no fee statement": (
        lambda s, t: wb.render(s, texts={**wb.TEXTS, "s6.fees": "无其他需要报告的事项。"}),
        {f"N3@{TEXT}!B14"},
    ),
    "N4 last year's opening": (
        lambda s, t: wb.render(
            s, texts={**wb.TEXTS, "s1.overview": "2023年，我镇认真贯彻落实政府信息公开条例。"}
        ),
        {f"N4@{TEXT}!B4"},
    ),
    "N4 another township's name": (
        lambda s, t: wb.render(
            s, texts={**wb.TEXTS, "s1.proactive": "柳河镇依法主动公开各类政府信息。"}
        ),
        {f"N4@{TEXT}!B5"},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_golden_case(spec21, tmp_path, name):
    build, expected = CASES[name]
    path = wb.write(tmp_path, build(spec21, tmp_path))
    report = check.check_file(path, spec21)
    assert {located(f) for f in report.findings} == expected
    for f in report.findings:  # every message renders in both languages, placeholders filled
        for lang in ("zh", "en"):
            text = f.message(lang, spec21)
            assert "{" not in text and text.rstrip().endswith((".", "。", "）", ")", "”")), text


def test_missing_file(spec21, tmp_path):
    report = check.check_file(tmp_path / "nope.xlsx", spec21)
    assert [f.code for f in report.findings] == ["F101"] and not report.readable


def _previous(spec, tmp_path, **changes) -> tuple[Path, Path]:
    this = wb.base_values(spec)
    last = synth.previous_year(spec, this)
    assert spec.failures(last, "乡镇") == [] and min(last[i] for i in spec.inputs) >= 0
    last.update(changes)
    last = spec.compute(last)
    now = wb.write(tmp_path, wb.render(spec, this), "2024.xlsx")
    before = wb.write(tmp_path, wb.render(spec, last, year=2023), "2023.xlsx")
    return now, before


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({}, set()),
        ("carry", {f"X1@{T3}!D8"}),
        ("in_force", {f"X2@{T2}!D7"}),
        ("jump", {f"X3@{T2}!B10"}),
    ],
)
def test_cross_year(spec21, tmp_path, changes, expected):
    last = synth.previous_year(spec21, wb.base_values(spec21))
    if changes == "carry":  # last year carried one more forward than this year says came over
        changes = {
            "t3.carry_next.natural": last["t3.carry_next.natural"] + 1,
            "t3.new.natural": last["t3.new.natural"] + 1,
        }
    elif changes == "in_force":
        changes = {"t2.normative.in_force": last["t2.normative.in_force"] + 3}
    elif changes == "jump":
        changes = {"t2.licensing.decisions": 100}  # 12 this year
    now, before = _previous(spec21, tmp_path, **changes)
    finder = check.previous_finder(spec21, before)
    report = check.check_file(now, spec21, finder)
    assert {located(f) for f in report.findings} == expected
    # the same through a folder of last year's files matched by unit
    folder = tmp_path / "last"
    folder.mkdir()
    before.rename(folder / before.name)
    report = check.check_file(now, spec21, check.previous_finder(spec21, folder))
    assert {located(f) for f in report.findings} == expected


def test_every_check_code_is_expected_by_some_case():
    expected = {e.split("@")[0] for _, cases in CASES.values() for e in cases} | {
        "F101",
        "X1",
        "X2",
        "X3",
    }
    # N5 and N6 compare units and years (test_merge); F112 and F113 need a dying process and a pipe (test_hostile)
    # F115 is import's answer to a workbook (check reads it; test_battery3)
    others = {"N5", "N6", "F112", "F113", "F115"}
    check_codes = {c for c in CODES if c[0] in "FTVDNX"} - others
    assert check_codes <= expected, sorted(check_codes - expected)


def test_inputs_are_never_modified(spec21, tmp_path):
    path = wb.write(tmp_path, wb.type_over_formula(wb.render(spec21), T3, "J9", 999))
    before = path.read_bytes()
    check.check_file(path, spec21)
    assert path.read_bytes() == before


def test_values_come_back_exactly(spec21, tmp_path):
    values = wb.base_values(spec21)
    filing = reader.read(wb.write(tmp_path, wb.render(spec21, values)), spec21)
    assert (
        filing.readable
        and filing.unit == "徐营镇"
        and filing.year == 2024
        and filing.kind == "乡镇"
    )
    assert {d: filing.values[d] for d in spec21.inputs} == {d: values[d] for d in spec21.inputs}
    assert filing.texts["s1.proactive"] == wb.TEXTS["s1.proactive"]
    assert filing.sources["t3.new.natural"].cell == "D7"
