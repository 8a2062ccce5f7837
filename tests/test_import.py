"""wbtools import: published reports (text, HTML, Word) back into data; what is cut off is missing."""

from __future__ import annotations

import random
import re
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook_tools import check, importer, report, synth, template
from workbook_tools.roster import Unit

from . import workbooks as wb
from .conftest import run

PUBLISHED = "examples/published"


def codes(filing) -> set[str]:
    return {f.code for f in filing.findings}


def test_xuying_imports_every_value_and_the_narrative(spec21, shared_dir):
    path = shared_dir / PUBLISHED / "xuying-2024.txt"
    filing = importer.read(path, spec21)
    assert (filing.unit, filing.year, filing.kind, filing.spec.version) == (
        "获嘉县徐营镇",
        2024,
        "乡镇",
        "2021",
    )
    assert filing.missing == set() and codes(filing) == set()
    assert {filing.values[d] for d in spec21.datapoints} == {0} and len(filing.values) == 200
    assert all(filing.lines[d] > 0 for d in spec21.datapoints)  # every value knows its line
    text = path.read_text(encoding="utf-8").splitlines()

    def after(heading: str) -> str:  # the published paragraph that follows a sub-heading
        i = next(n for n, line in enumerate(text) if line.strip().startswith(heading))
        return text[i + 1].strip()

    assert filing.texts["s1.overview"] == text[4].strip()
    assert filing.texts["s1.proactive"] == after("（一）主动公开情况")
    assert filing.texts["s1.oversight"] == after("（五）监督保障情况")
    assert filing.texts["s5.problems"] == after("（一）存在的主要问题")
    assert filing.texts["s5.improvements"] == after("（二）改进情况")
    assert "费用" in filing.texts["s6.fees"] and filing.texts["s6.fees"] == text[-1].strip()


def test_xuying_through_the_cli_gives_a_clean_workbook(shared_dir, tmp_path, spec21):
    out = tmp_path / "xuying.xlsx"
    result = run("import", shared_dir / PUBLISHED / "xuying-2024.txt", "-o", out)
    assert result.exit_code == 0, result.output
    checked = check.check_file(out, spec21)
    assert checked.findings == [] and checked.filing.unit == "获嘉县徐营镇"
    direct = run("check", shared_dir / PUBLISHED / "xuying-2024.txt")  # check works on the text too
    assert direct.exit_code == 0 and "通过" in direct.output


def test_longgang_pipe_rows_cut_off_in_table_three(spec21, shared_dir):
    filing = importer.read(shared_dir / PUBLISHED / "longgang_qzfgzbm_2024.txt", spec21)
    v = filing.values
    assert (v["t2.normative.issued"], v["t2.normative.repealed"], v["t2.normative.in_force"]) == (
        5,
        1,
        25,
    )
    assert [
        v[f"t3.new.{c}"]
        for c in ("natural", "commercial", "research", "nonprofit", "legal", "other", "total")
    ] == [58, 7, 0, 0, 1, 0, 66]
    assert v["t3.partial.natural"] == 16 and v["t3.deny_internal.total"] == 1
    assert "t3.deny_inquiry.natural" in filing.missing and "t3.deny_inquiry.natural" not in v
    assert "t4.review.total" in filing.missing
    assert (
        filing.year == 2024 and filing.unit == ""
    )  # the excerpt has no title: the period gives the year
    assert {"I101", "I102", "I103", "I104", "I105"} <= codes(filing)
    i104 = next(f for f in filing.findings if f.code == "I104")
    assert (
        i104.args["first"] == "8.属于行政查询事项" and i104.args["last"] == "四、结转下年度继续办理"
    )


def test_wendeng_pdf_text_layer_table_four(spec21, shared_dir):
    filing = importer.read(shared_dir / PUBLISHED / "wendeng_xinfangju_2022_pdfpage8.txt", spec21)
    assert (filing.unit, filing.year) == ("威海市文登区信访局", 2022)
    t4 = [d for d in spec21.datapoints if d.startswith("t4.")]
    assert [filing.values[d] for d in t4] == [0] * 15
    assert all(d in filing.missing for d in spec21.datapoints if not d.startswith("t4."))
    assert filing.texts["s5.problems"].startswith("总结我局本年度政府信息公开工作")


def test_changtu_keeps_the_2019_table_two(shared_dir, spec21):
    filing = importer.read(shared_dir / PUBLISHED / "changtu_bumen_2021_oldformat.txt", spec21)
    assert filing.spec.version == "2019" and "I107" in codes(filing)
    v = filing.values
    assert (v["t2.licensing.last_year"], v["t2.licensing.change"], v["t2.licensing.decisions"]) == (
        33,
        0,
        0,
    )
    assert (v["t2.other_services.last_year"], v["t2.other_services.decisions"]) == (4, 16)
    assert (v["t2.penalty.last_year"], v["t2.coercion.last_year"]) == (36, 1)
    assert (v["t2.procurement.projects"], v["t2.procurement.amount"]) == (0, 0)


def test_ningshan_cut_mid_label(spec21, shared_dir):
    filing = importer.read(shared_dir / PUBLISHED / "ningshan_meizi_zhen_2024.txt", spec21)
    assert filing.unit == "宁陕县梅子镇人民政府" and filing.kind == "乡镇"
    assert all(filing.values[d] is not None for d in spec21.datapoints if d.startswith("t2."))
    assert "t3.granted.natural" in filing.values and "t3.partial.natural" in filing.missing


def _filing_texts(spec, rng) -> dict[str, str]:
    words = [
        "依法公开财政预决算信息",
        "规范办理政府信息公开申请",
        "加强政策解读",
        "完善公开平台",
        "开展业务培训",
    ]
    texts = {f.id: "我镇" + "，".join(rng.sample(words, 3)) + "。" for f in spec.fields}
    texts["s6.fees"] = "本年度未收取信息处理费。"
    texts["s6.other"] = "本年度办理人大代表建议两件，已全部公开办理结果。"
    return texts


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32), fmt=st.sampled_from(["md", "html", "docx"]))
def test_round_trip_report_then_import(spec21, tmp_path_factory, seed, fmt):
    rng = random.Random(seed)
    values = synth.consistent_values(spec21, rng)
    texts = _filing_texts(spec21, rng)
    folder = tmp_path_factory.mktemp("rt")
    book = folder / "unit.xlsx"
    book.write_bytes(
        template.render(spec21, Unit("测试镇", "9", "乡镇"), 2025, values=values, texts=texts)
    )
    filing = check.check_file(book, spec21).filing
    published = folder / f"report.{fmt}"
    published.write_bytes(report.render(report.build(filing), fmt))
    back = importer.read(published, spec21)
    assert (back.unit, back.year) == ("测试镇", 2025)
    assert {d: back.values.get(d) for d in spec21.datapoints} == pytest.approx(
        {d: values[d] for d in spec21.datapoints}
    )
    assert {k: v for k, v in back.texts.items() if v} == {k: v for k, v in texts.items() if v}
    assert not codes(back) - {"V104"}


def _messy(shared_dir, change) -> str:
    return change((shared_dir / PUBLISHED / "xuying-2024.txt").read_text(encoding="utf-8"))


def _with_numbers(text: str) -> str:
    """Xuying's figures replaced by 1, 2, 3 … so that a misplaced value shows."""
    counter = iter(range(1, 10_000))
    return re.sub(r"(?m)^(\t)0$", lambda m: f"{m.group(1)}{next(counter)}", text)


@pytest.mark.parametrize(
    "name, change",
    [
        (
            "typo",
            lambda t: t.replace("只计这一情形", "只计这一情况").replace(
                "法律行政法规禁止公开", "法律行政法规禁止公"
            ),
        ),
        (
            "traditional",
            lambda t: (
                t.replace("公开", "公開")
                .replace("处理", "處理")
                .replace("结转", "結轉")
                .replace("申请", "申請")
                .replace("数量", "數量")
            ),
        ),
        (
            "stray spaces",
            lambda t: re.sub(
                r"(?m)^\t(\d)(\d*)$", lambda m: f"\t {m.group(1)} {m.group(2)} ".rstrip() + " ", t
            ).replace("\t", " | "),
        ),
        ("one line", lambda t: " ".join(t.split())),
    ],
)
def test_messy_inputs(spec21, shared_dir, tmp_path, name, change):
    numbered = _with_numbers(
        (shared_dir / PUBLISHED / "xuying-2024.txt").read_text(encoding="utf-8")
    )
    clean = importer.read(wb.write(tmp_path, numbered.encode(), "clean.txt"), spec21)
    assert not clean.missing
    messy = importer.read(wb.write(tmp_path, change(numbered).encode(), f"{name}.txt"), spec21)
    assert messy.year == 2024
    assert {d: messy.values.get(d) for d in spec21.datapoints} == {
        d: clean.values[d] for d in spec21.datapoints
    }, name


def test_import_refuses_to_overwrite_and_reports_unreadable(tmp_path, shared_dir):
    src = tmp_path / "a.txt"
    src.write_text("这不是年报。", encoding="utf-8")
    result = run("import", src, "-o", tmp_path / "a.xlsx")
    # a text that is no report is said to be one, not “another template” (F111)
    assert result.exit_code == 2 and "I116" in result.output and "F111" not in result.output
    result = run("import", shared_dir / PUBLISHED / "xuying-2024.txt", "-o", tmp_path / "x.txt")
    assert result.exit_code == 2 and "O103" in result.output
    assert not list(tmp_path.glob("*.xlsx"))


def test_imported_workbook_keeps_unreadable_text_visible(spec21, shared_dir, tmp_path):
    text = (shared_dir / PUBLISHED / "xuying-2024.txt").read_text(encoding="utf-8")
    text = text.replace("\t行政许可\n\t0", "\t行政许可\n\t若干", 1)
    src = wb.write(tmp_path, text.encode(), "x.txt")
    out = tmp_path / "x.xlsx"
    result = run("import", src, "-o", out)
    assert result.exit_code == 1 and "R5" in result.output and "第" in result.output
    assert openpyxl.load_workbook(out)["表二 主动公开"]["B10"].value == "若干"
    assert Path(out).exists()


def test_last_year_taken_from_published_reports(spec21, tmp_path):
    """--previous may point at last year's published reports: X1 compares with what they say."""
    values = wb.base_values(spec21)
    last = synth.previous_year(spec21, values)
    last["t3.carry_next.natural"] += 1  # last year's report carried one more forward
    last["t3.new.natural"] += 1
    last = spec21.compute(last)
    folder = tmp_path / "published2024"
    folder.mkdir()
    book = tmp_path / "last.xlsx"
    book.write_bytes(template.render(spec21, wb.UNIT, 2023, values=last, texts=wb.TEXTS))
    published = report.build(check.check_file(book, spec21).filing)
    (folder / "徐营镇2023年报.html").write_bytes(report.render(published, "html"))
    now = wb.write(tmp_path, wb.render(spec21, values), "now.xlsx")
    found = check.check_file(now, spec21, check.previous_finder(spec21, folder)).findings
    assert [(f.code, f.cell) for f in found] == [("X1", "D8")]
