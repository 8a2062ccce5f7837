"""wbtools merge: county totals are the cell-by-cell sum of the included units and pass every rule;
every file and every roster unit gets exactly one status; the county workbook reads back as a filing."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook_tools import check, county, layout, merge, synth, template
from workbook_tools.roster import Unit, read

from . import workbooks as wb
from .conftest import SAMPLES, run


def _unit_files(spec, folder: Path, n: int, seed: int) -> tuple[list[Unit], list[dict]]:
    rng = random.Random(seed)
    units, values = [], []
    for i in range(n):
        unit = Unit(f"测试{i:02d}镇", f"{i:02d}", "乡镇")
        v = synth.consistent_values(spec, rng, "乡镇")
        (folder / f"{unit.code}.xlsx").write_bytes(
            template.render(spec, unit, 2025, values=v, texts=wb.TEXTS)
        )
        units.append(unit)
        values.append(v)
    return units, values


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 6))
def test_property_totals_are_the_sum_and_pass_every_rule(spec21, tmp_path_factory, seed, n):
    folder = tmp_path_factory.mktemp("units")
    units, values = _unit_files(spec21, folder, n, seed)
    result = merge.merge([folder], spec21, units, name="测试县", jobs=1)
    try:
        assert [e.status for e in result.entries] == ["passed"] * n
        for dp in spec21.datapoints:
            expected = sum(v[dp] for v in values)
            assert result.totals[dp] == pytest.approx(expected), dp
        assert result.total_findings == []
        assert spec21.failures(result.totals) == []
        out = folder.parent / f"county{seed}.xlsx"
        county.write(result, out)
        back = check.check_file(out, spec21)
        assert back.readable and back.errors == 0
        assert {d: back.filing.values[d] for d in spec21.inputs} == pytest.approx(
            {d: result.totals[d] for d in spec21.inputs}
        )
    finally:
        result.close()


EXPECTED_STATUS = [  # (unit, file, status) as the status sheet lists them
    ("青禾县城关镇", "101_青禾县城关镇_2025.xlsx", "已报送通过"),
    ("青禾县东关街道", "105_青禾县东关街道_2025.xlsx", "已报送通过"),
    ("青禾县西湖街道", "106_青禾县西湖街道_2025.xlsx", "已报送通过"),
    ("青禾县发展和改革委员会", "202_青禾县发展和改革委员会_2025.xlsx", "已报送通过"),
    ("青禾县教育局", "203_青禾县教育局_2025.xlsx", "已报送通过"),
    ("青禾县公安局", "204_青禾县公安局_2025.xlsx", "已报送通过"),
    ("青禾县财政局", "205_青禾县财政局_2025.xlsx", "已报送通过"),
    ("青禾县自然资源局", "206_青禾县自然资源局_2025.xlsx", "已报送通过"),
    ("青禾县柳河镇", "102_青禾县柳河镇_2025.xlsx", "未通过校验"),
    ("青禾县石桥镇", "103_青禾县石桥镇_2025.xlsx", "未通过校验"),
    ("青禾县白杨乡", "104_青禾县白杨乡_2025.xlsx", "未通过校验"),
    ("青禾县市场监督管理局", "", "未报送"),
    ("青禾县人民政府办公室", "201_青禾县人民政府办公室_2025.xlsx", "已被替换"),
    ("青禾县人民政府办公室", "201_青禾县人民政府办公室_2025（修改后）.xlsx", "已报送通过"),
    ("青禾县城关真", "青禾县城关真_2025.xlsx", "名册外"),
    ("青禾县教育局", "203_青禾县教育局_2024.xlsx", "年份或版本不符"),
]


def _status_sheet(path: Path) -> list[tuple[str, str, str]]:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book[county.STATUS_SHEET].iter_rows(min_row=2, values_only=True))
    return [(r[1], r[6] or "", r[4]) for r in rows]


def test_sample_county_status_sheet(tmp_path, spec21):
    out = tmp_path / "county.xlsx"
    result = run(
        "merge",
        SAMPLES / "returned/2025",
        "--roster",
        SAMPLES / "roster.csv",
        "--name",
        "青禾县",
        "-o",
        out,
    )
    assert result.exit_code == 1, result.output  # some units are not passed
    assert sorted(_status_sheet(out)) == sorted(EXPECTED_STATUS)
    assert "N5" in result.output and "青禾县西湖街道" in result.output


def test_sample_county_totals_sum_the_passed_units_only(tmp_path, spec21):
    units = read(SAMPLES / "roster.csv")
    result = merge.merge([SAMPLES / "returned/2025"], spec21, units, name="青禾县")
    try:
        passed = [Path(e.path) for e in result.entries if e.status == "passed"]
        filings = [check.check_file(p, spec21).filing for p in passed]
        for dp in ("t3.new.total", "t2.licensing.decisions", "t4.review.total", "t2.fees.amount"):
            assert result.totals[dp] == pytest.approx(sum(f.values[dp] or 0 for f in filings))
        assert not result.provisional
    finally:
        result.close()


def test_prefer_newest_and_include_failing(tmp_path, spec21):
    out = tmp_path / "county.xlsx"
    args = ["merge", SAMPLES / "returned/2025", "-r", SAMPLES / "roster.csv", "-o", out]
    result = run(*args, "--prefer", "newest", "--include-failing")
    assert result.exit_code == 1
    rows = {(u, f): s for u, f, s in _status_sheet(out)}
    assert (
        rows[("青禾县人民政府办公室", "201_青禾县人民政府办公室_2025（修改后）.xlsx")]
        == "已报送通过"
    )
    assert rows[("青禾县人民政府办公室", "201_青禾县人民政府办公室_2025.xlsx")] == "已被替换"
    book = openpyxl.load_workbook(out, read_only=True)
    summary = " ".join(
        str(r[0]) for r in book[county.SUMMARY_SHEET].iter_rows(values_only=True) if r[0]
    )
    assert "临时数" in summary
    meta = dict(book["_meta"].iter_rows(values_only=True))
    assert meta["provisional"] == "1" and int(meta["merged_units"]) == 12  # 9 passed + 3 failing


def test_without_roster_every_readable_file_is_a_unit(tmp_path, spec21):
    folder = tmp_path / "in"
    folder.mkdir()
    _unit_files(spec21, folder, 3, 5)
    out = tmp_path / "county.xlsx"
    result = run("merge", folder, "-o", out)
    assert result.exit_code == 0, result.output
    assert "未提供名册" in result.output
    assert [s for _, _, s in _status_sheet(out)] == ["已报送通过"] * 3


def test_county_workbook_layout_and_sheets(tmp_path, spec21, template_book):
    out = tmp_path / "county.xlsx"
    run(
        "merge",
        SAMPLES / "returned/2025",
        "-r",
        SAMPLES / "roster.csv",
        "--name",
        "青禾县",
        "-o",
        out,
    )
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [
        county.SUMMARY_SHEET,
        county.CHARTS_SHEET,
        "基本信息",
        "表二 主动公开",
        "表三 依申请公开",
        "表四 复议诉讼",
        "文字部分",
        county.STATUS_SHEET,
        county.BREAKDOWN_SHEET,
        county.FINDINGS_SHEET,
        county.TEXTS_SHEET,
        "_meta",
    ]
    lay = layout.build(spec21)
    for tl in lay.tables.values():  # the official layout: the template's merges and labels
        ws, tpl = book[tl.sheet], template_book[tl.sheet]

        def table_area(sheet, tl=tl):
            return {
                str(r)
                for r in sheet.merged_cells.ranges
                if r.min_row - 1 >= layout.TABLE_TOP
                and r.max_row - 1 <= tl.bottom
                and r.max_col <= tl.width
            }

        assert table_area(ws) == table_area(tpl) and len(table_area(ws)) >= 4
        for label in tl.labels:
            assert ws.cell(label.row + 1, label.col + 1).value == label.text
    breakdown = wb.breakdown_values(book[county.BREAKDOWN_SHEET])
    # every readable file, failing and duplicates included, with every datapoint by its id
    assert len(breakdown) == 15
    assert all(set(spec21.datapoints) <= set(row) for row in breakdown.values())
    texts = list(book[county.TEXTS_SHEET].iter_rows(values_only=True))
    assert texts[0][2:] == tuple(f.label for f in spec21.fields)
    findings = list(book[county.FINDINGS_SHEET].iter_rows(values_only=True))
    assert {r[3] for r in findings[1:]} >= {"R1", "R2", "R5", "T107", "T103", "D101", "N5"}


def test_long_form_csv(tmp_path, spec21):
    out, long = tmp_path / "county.xlsx", tmp_path / "long.csv"
    result = run(
        "merge", SAMPLES / "returned/2025", "-r", SAMPLES / "roster.csv", "-o", out, "--long", long
    )
    assert result.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(long.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 15 * len(spec21.datapoints)
    row = next(
        r for r in rows if r["unit"] == "青禾县城关镇" and r["datapoint"] == "t3.new.natural"
    )
    assert (
        row["cell"] == "表三 依申请公开!D7" and row["column"] == "自然人" and row["value"].isdigit()
    )
    assert (
        row["table"] == "三、收到和处理政府信息公开申请情况"
        and row["source_file"] == "101_青禾县城关镇_2025.xlsx"
    )


def test_outputs_never_overwrite_inputs(tmp_path, spec21):
    folder = tmp_path / "in"
    folder.mkdir()
    _unit_files(spec21, folder, 2, 9)
    target = folder / "00.xlsx"
    before = target.read_bytes()
    result = run("merge", folder, "-o", target)
    assert result.exit_code == 2 and "O101" in result.output
    assert target.read_bytes() == before


def test_copied_narrative_is_flagged_once_per_pair(tmp_path, spec21):
    folder = tmp_path / "in"
    folder.mkdir()
    own = "本年度我镇通过政府网站和政务公开栏主动公开财政预决算、惠民政策和重点项目信息，并及时更新机构职能。"
    other = "本年度我镇完善了依申请公开登记、审核和答复流程，建立办理台账，对申请人的疑问耐心解答并按时答复。"
    for code, proactive, on_request in (
        ("01", own, other),
        ("02", own, other),
        ("03", other, own + "补充说明"),
    ):
        texts = {**wb.TEXTS, "s1.proactive": proactive, "s1.on_request": on_request}
        unit = Unit(f"测试{code}镇", code, "乡镇")
        (folder / f"{code}.xlsx").write_bytes(
            template.render(spec21, unit, 2025, values=wb.base_values(spec21), texts=texts)
        )
    result = merge.merge([folder], spec21, None, jobs=1)
    try:
        pairs = {(f.args["a"], f.args["b"]): f.args["field"] for f in result.similar}
        assert pairs == {("测试01镇", "测试02镇"): "（一）主动公开、（二）依申请公开"}
        # the signatures were made where each file was read: the same as made from the texts
        records = merge.Result.records

        def without_signatures(self, entries):
            for e, record in records(self, entries):
                assert record["minhash"]
                yield e, {k: v for k, v in record.items() if k != "minhash"}

        made_here = merge.similar_narratives(result)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(merge.Result, "records", without_signatures)
            assert merge.similar_narratives(result) == made_here
    finally:
        result.close()


def test_long_form_parquet(tmp_path, spec21):
    pq = pytest.importorskip("pyarrow.parquet")
    out, long = tmp_path / "county.xlsx", tmp_path / "long.parquet"
    result = run(
        "merge", SAMPLES / "returned/2025", "-r", SAMPLES / "roster.csv", "-o", out, "--long", long
    )
    assert result.exit_code == 1
    table = pq.read_table(long)
    assert table.num_rows == 15 * len(spec21.datapoints)
    assert table.column_names[:6] == ["unit", "code", "kind", "year", "status", "datapoint"]


def test_narrative_unchanged_from_last_year_is_flagged(tmp_path, spec21):
    this_year, last_year = tmp_path / "2025", tmp_path / "2024"
    this_year.mkdir()
    last_year.mkdir()
    values = wb.base_values(spec21)
    reused = "本年度我镇通过政府网站和政务公开栏主动公开财政预决算、惠民政策和重点项目信息，并及时更新机构职能。"
    fresh = "今年我镇重点围绕乡村振兴和民生实事，新开设了惠民资金公开专栏，按月公开补贴发放对象和金额，群众反映良好。"
    other = "我镇依托便民服务中心设立查阅点，全年接待群众查阅政策文件，并通过微信公众号推送涉农补贴政策解读。"
    for folder, year in ((last_year, 2024), (this_year, 2025)):
        for code, name in (("01", "甲镇"), ("02", "乙镇")):
            # 甲镇 reuses last year's text, 乙镇 writes a new one
            own = reused if code == "01" else other if year == 2024 else fresh
            texts = {**wb.TEXTS, "s1.proactive": own}
            v = synth.previous_year(spec21, values) if year == 2024 else values
            data = template.render(spec21, Unit(name, code, "乡镇"), year, values=v, texts=texts)
            (folder / f"{code}.xlsx").write_bytes(data)
    result = merge.merge([this_year], spec21, None, previous=last_year, jobs=1)
    try:
        flagged = [(f.code, f.args["a"], f.args["year"], f.args["field"]) for f in result.similar]
        assert flagged == [("N6", "甲镇", 2024, "（一）主动公开")]
    finally:
        result.close()
