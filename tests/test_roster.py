"""Rosters: formats, header aliases, kinds, and every malformed case collected at once."""

from __future__ import annotations

import pytest
import xlsxwriter

from workbook_tools import roster
from workbook_tools.findings import Failure


def _csv(tmp_path, text, encoding="utf-8", name="units.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_chinese_headers_utf8_with_bom(tmp_path):
    path = _csv(
        tmp_path,
        "\ufeff单位名称,单位代码,单位类型\n城关镇,101,镇\n东关街道,105,街道办事处\n教育局,203,县直部门\n",
    )
    units = roster.read(path)
    assert [(u.name, u.code, u.kind, u.row) for u in units] == [
        ("城关镇", "101", "乡镇", 2),
        ("东关街道", "105", "街道", 3),
        ("教育局", "203", "部门", 4),
    ]


def test_gbk_csv_as_chinese_excel_saves_it(tmp_path):
    path = _csv(tmp_path, "名称,类型\n柳河镇,乡镇\n", encoding="gbk")
    assert roster.read(path) == [roster.Unit("柳河镇", "", "乡镇", 2)]


def test_english_headers_tabs_and_blank_lines(tmp_path):
    path = _csv(
        tmp_path,
        "Name\tCode\tKind\nTown A\t1\ttownship\n\n \t \t \nDept B\t2\tdepartment\n",
        name="u.tsv",
    )
    assert [(u.name, u.kind) for u in roster.read(path)] == [("Town A", "乡镇"), ("Dept B", "部门")]


def test_name_only_roster(tmp_path):
    path = _csv(tmp_path, "单位名称\n石桥镇\n白杨乡\n")
    assert [u.name for u in roster.read(path)] == ["石桥镇", "白杨乡"]


def test_xlsx_roster_with_numeric_codes(tmp_path):
    path = tmp_path / "units.xlsx"
    book = xlsxwriter.Workbook(path)
    ws = book.add_worksheet()
    ws.write_row(0, 0, ["单位名称", "代码", "类型"])
    ws.write_row(1, 0, ["  城关镇 ", 101, "乡镇"])
    ws.write_row(2, 0, ["财政局", 205, ""])
    book.close()
    assert [(u.name, u.code, u.kind) for u in roster.read(path)] == [
        ("城关镇", "101", "乡镇"),
        ("财政局", "205", ""),
    ]


@pytest.mark.parametrize(
    "text, codes",
    [
        ("代码,类型\n101,乡镇\n", ["U102"]),
        ("单位名称,类型\n甲镇,乡镇\n,乡镇\n", ["U103"]),
        ("单位名称\n甲镇\n乙镇\n甲镇\n", ["U104"]),
        ("单位名称\n甲镇\n  甲镇\n", ["U104"]),
        ("单位名称\nＡ镇\nA镇\n", ["U104"]),  # full-width and half-width letters are the same unit
        ("name\nTown A\ntown a\n", ["U104"]),
        ("单位名称\n发改委/统计局\n", ["U105"]),
        ("单位名称\n..\\etc\n", ["U105"]),
        ("单位名称\n../上级\n", ["U105"]),
        ("单位名称\n甲..镇\n", ["U105"]),
        ("单位名称\nCON\n", ["U105"]),
        ("单位名称,类型\n甲镇,村委\n", ["U106"]),
        ("单位名称\n", ["U107"]),
        ("", ["U107"]),
        ("单位名称,代码\n甲镇,1\n乙镇,1\n", ["U108"]),
        ("单位名称,类型\n,x\n乙/镇,乡镇\n乙/镇,乡镇\n", ["U103", "U106", "U105", "U105", "U104"]),
    ],
)
def test_malformed_rosters_report_every_problem(tmp_path, text, codes):
    with pytest.raises(Failure) as caught:
        roster.read(_csv(tmp_path, text))
    assert [f.code for f in caught.value.findings] == codes
    for f in caught.value.findings:
        assert f.file and f.message("zh") and f.message("en")


def test_located_findings_name_the_row(tmp_path):
    with pytest.raises(Failure) as caught:
        roster.read(_csv(tmp_path, "单位名称\n甲镇\n乙/镇\n"))
    (finding,) = caught.value.findings
    assert finding.line == 3
    assert finding.location("zh").endswith("第3行") and finding.location("en").endswith("line 3")


def test_unreadable_rosters(tmp_path):
    with pytest.raises(Failure) as caught:
        roster.read(tmp_path / "missing.csv")
    assert caught.value.findings[0].code == "U101"
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(Failure) as caught:
        roster.read(bad)
    assert caught.value.findings[0].code == "U101"
    binary = _csv(tmp_path, "", name="bin.csv")
    binary.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(Failure) as caught:
        roster.read(binary)
    assert caught.value.findings[0].code in ("U101", "U102")


def test_file_names():
    assert roster.file_name(roster.Unit("城关镇", "101"), 2025) == "101_城关镇_2025.xlsx"
    assert roster.file_name(roster.Unit("城关镇"), 2025) == "城关镇_2025.xlsx"
