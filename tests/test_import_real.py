"""wbtools import on what real published reports do (issue 11): each test reproduces one layout or
defect seen on real reports, written here in our own words with the real layout."""

from __future__ import annotations

import json
import random

import openpyxl
import pytest

from workbook_tools import check, importer, intake, report, synth, template
from workbook_tools.roster import Unit

from . import corpus
from . import workbooks as wb
from .conftest import run

PUBLISHED = "examples/published"
TEXTS = "本年度我镇依法公开各类信息。"


def codes(filing) -> set[str]:
    return {f.code for f in filing.findings}


def _values(spec, seed=7):
    return synth.consistent_values(spec, random.Random(seed))


def published(spec, tmp_path, values=None, fmt="md", unit="测试镇", year=2025) -> str:
    """A report rendered by wbtools report, as text, to be bent into a real report's shape."""
    return rendered(spec, tmp_path, values, fmt, unit, year).decode("utf-8")


def rendered(spec, tmp_path, values=None, fmt="md", unit="测试镇", year=2025) -> bytes:
    values = values or _values(spec)
    book = tmp_path / "unit.xlsx"
    texts = {f.id: TEXTS for f in spec.fields}
    texts["s6.fees"] = "本年度未收取信息处理费。"
    book.write_bytes(
        template.render(spec, Unit(unit, "9", "乡镇"), year, values=values, texts=texts)
    )
    filing = check.check_file(book, spec).filing
    return report.render(report.build(filing), fmt)


def _no_period(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "统计期限" not in line)


# --- 1. the year ---------------------------------------------------------------------------


def test_no_year_anywhere_is_a_finding_not_a_traceback(spec21, tmp_path):
    text = _no_period(published(spec21, tmp_path)).replace(
        "测试镇2025年政府信息公开工作年度报告", ""
    )
    src = wb.write(tmp_path, text.encode(), "report.md")
    filing = importer.read(src, spec21)
    assert filing.year is None and "I106" in codes(filing)
    result = run("import", src, "-o", tmp_path / "out.xlsx")
    assert result.exit_code == 2, result.output
    assert "I106" in result.output and "--year" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out.xlsx").exists()
    given = run("import", src, "-o", tmp_path / "out.xlsx", "--year", "2025", "--unit", "测试镇")
    assert given.exit_code in (0, 1), given.output
    assert (tmp_path / "out.xlsx").exists()


@pytest.mark.parametrize(
    "change, year, source",
    [
        (lambda t: t.replace("测试镇2025年政府信息", "测试镇\n2025年政府信息"), 2025, "title"),
        (lambda t: t.replace("测试镇2025年政府信息公开工作年度报告", "年报"), 2025, "period"),
        (
            lambda t: _no_period(t.replace("测试镇2025年政府信息公开工作年度报告", "年报")).replace(
                "## 一、总体情况\n\n", "## 一、总体情况\n\n2024年，我镇认真贯彻《条例》。\n", 1
            ),
            2024,
            "body",
        ),
    ],
)
def test_year_found_and_says_where(spec21, tmp_path, change, year, source):
    text = change(published(spec21, tmp_path))
    filing = importer.read(wb.write(tmp_path, text.encode(), "r.md"), spec21)
    assert filing.year == year
    assert filing.meta["year_from"] == source


def test_year_from_the_file_name_as_a_last_resort(spec21, tmp_path):
    text = _no_period(published(spec21, tmp_path)).replace(
        "测试镇2025年政府信息公开工作年度报告", ""
    )
    filing = importer.read(wb.write(tmp_path, text.encode(), "某镇2023年报.md"), spec21)
    assert filing.year == 2023 and filing.meta["year_from"] == "file name"
    assert any(f.code == "I108" and f.args["source"] for f in filing.findings)


# --- 2. titles, units, kinds ----------------------------------------------------------------


@pytest.mark.parametrize(
    "title, unit, year",
    [
        ("会仪镇人民政府2021年信息公开年度报告", "会仪镇人民政府", 2021),
        ("某县交通运输局\n2022年度政府信息公开\n工作年度报告", "某县交通运输局", 2022),
        ("某县司法局关于2022年度政府信息公开情况的报告", "某县司法局", 2022),
        ("标题: 某区2023年度政府信息公开工作年度报告", "某区", 2023),
    ],
)
def test_title_forms(spec21, tmp_path, title, unit, year):
    text = published(spec21, tmp_path).replace("测试镇2025年政府信息公开工作年度报告", title)
    filing = importer.read(wb.write(tmp_path, _no_period(text).encode(), "r.md"), spec21)
    assert (filing.unit, filing.year) == (unit, year)


def test_unit_only_in_the_first_sentence(spec21, tmp_path):
    text = published(spec21, tmp_path).replace(
        "# 测试镇2025年政府信息公开工作年度报告",
        "现公布区统计局2025年政府信息公开工作年度报告。",
    )
    filing = importer.read(wb.write(tmp_path, text.encode(), "r.md"), spec21)
    assert (filing.unit, filing.year, filing.kind) == ("区统计局", 2025, "部门")


def test_kind_from_text_drives_w2_and_kind_option(spec21, tmp_path):
    values = _values(spec21)
    values["t2.rules.issued"] = 2
    values = spec21.compute(values)
    text = published(spec21, tmp_path, values).replace("# 测试镇2025年政府信息公开工作年度报告", "")
    src = wb.write(tmp_path, text.encode(), "r.md")
    filing = importer.read(src, spec21)
    assert filing.kind == "乡镇"  # “我镇” in the text
    assert "W2" in {f.code for f in check.check_filing(filing)}
    assert "W2" in run("import", src, "-o", tmp_path / "a.xlsx", "--year", "2025").output
    as_government = run("import", src, "-o", tmp_path / "b.xlsx", "--kind", "政府")
    assert as_government.exit_code in (0, 1) and "W2" not in as_government.output


# --- 3. blank cells kept by position ---------------------------------------------------------


def test_a_line_holding_only_a_bar_is_an_empty_cell(spec21, shared_dir, tmp_path):
    text = (shared_dir / PUBLISHED / "xuying-2024.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if line.strip().startswith("一、本年新收"))
    # the first row of 表三 as a real portal printed it: 商业企业 blank, 总计 56
    row = ["\t56", "\t|", "\t0", "\t0", "\t0", "\t0", "\t56"]
    j = i + 1
    while not lines[j].strip():
        j += 1
    lines[j : j + 7] = row
    filing = importer.read(wb.write(tmp_path, "\n".join(lines).encode(), "x.txt"), spec21)
    v = filing.values
    assert v["t3.new.natural"] == 56 and v.get("t3.new.commercial") is None
    assert v["t3.new.total"] == 56 and v["t3.new.other"] == 0


# --- 4. cells with no separator ----------------------------------------------------------------


def test_pingtan_concatenated_cells_split_by_the_rows_sums(spec21, shared_dir):
    truth = json.loads((shared_dir / PUBLISHED / "expected_t3_t4.json").read_text("utf-8"))
    for name in ("pingtan_2021.txt", "pingtan_2023.txt", "pingtan_2025.txt"):
        case = corpus.Case(
            name, shared_dir / PUBLISHED / name, corpus.expected_values(truth[name], spec21)
        )
        score = corpus.score(case, spec21)
        assert not score.crash and not score.wrong and not score.invented, corpus.render([score])
        assert score.correct >= 180, corpus.render([score])
        assert score.unit == "平潭综合实验区" and score.year == int(name[8:12])
    filing = importer.read(shared_dir / PUBLISHED / "pingtan_2023.txt", spec21)
    assert "I109" in codes(filing)  # the split is said to be inferred
    assert [filing.values[f"t2.rules.{c}"] for c in ("issued", "repealed", "in_force")] == [0] * 3


def test_ambiguous_concatenation_is_unreadable_with_candidates(spec21, tmp_path):
    text = published(spec21, tmp_path)
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("| 行政规范性文件"))
    lines[i] = "| 行政规范性文件 | 77132470 |"  # three columns, no sum: many splits fit
    filing = importer.read(wb.write(tmp_path, "\n".join(lines).encode(), "r.md"), spec21)
    bad = [f for f in filing.findings if f.code == "I110"]
    assert bad and "7|713|2470" in bad[0].args["candidates"] and bad[0].line
    assert all(filing.values.get(f"t2.normative.{c}") is None for c in ("issued", "in_force"))
    assert "t2.normative.issued" in filing.missing


# --- 5. traditional characters and glosses -----------------------------------------------------


def test_traditional_characters_and_pinyin_glosses(spec21, tmp_path):
    import opencc

    values = _values(spec21, 3)
    text = published(spec21, tmp_path, values)
    converted = opencc.OpenCC("s2t").convert(text).replace("規章", "規(guī)章")
    filing = importer.read(wb.write(tmp_path, converted.encode(), "r.md"), spec21)
    assert not filing.missing, codes(filing)
    assert {d: filing.values[d] for d in spec21.inputs if d[:3] in ("t2.", "t3.", "t4.")} == {
        d: values[d] for d in spec21.inputs if d[:3] in ("t2.", "t3.", "t4.")
    }


@pytest.mark.parametrize(
    "encoding", ["cp950", "big5hkscs", "gb18030", "gbk"], ids=["big5", "hkscs", "gb18030", "gbk"]
)
def test_a_report_saved_in_a_legacy_chinese_encoding(spec21, shared_dir, tmp_path, encoding):
    """Traditional-character mirrors are saved in Big5 as often as simplified pages are in GBK;
    either decodes without error as the other (as garbage), so the choice is made by what the
    text reads like, not by which codec accepts the bytes. Read as the UTF-8 original is."""
    import opencc

    original = shared_dir / PUBLISHED / "pingtan_2023.txt"
    text = original.read_text("utf-8")
    if encoding in ("cp950", "big5hkscs"):
        text = opencc.OpenCC("s2t").convert(text)
    raw = text.encode(encoding, errors="replace")
    assert intake.decode_text(raw) == raw.decode(encoding, errors="replace")
    want = importer.read(original, spec21)
    got = importer.read(wb.write(tmp_path, raw, original.name), spec21)
    assert (got.unit, got.year) == (want.unit, want.year) == ("平潭综合实验区", 2023)
    assert got.values == want.values and len(got.values) > 150


def test_legacy_decoding_strict_refuses_what_neither_encoding_reads():
    assert intake.decode_text("平潭綜合實驗區政府資訊公開".encode("cp950"), strict=True) == (
        "平潭綜合實驗區政府資訊公開"
    )
    with pytest.raises(UnicodeDecodeError):
        intake.decode_text(b"\x81\x20\xff\xff\x80", strict=True)


def test_traditional_units_and_none_marks_in_cells(spec21, tmp_path):
    """A traditional mirror writes its units and its “none” in traditional characters too:
    “12.5萬元”, “11項”, “無” read as 12.5, 11 and 0, as “12.5万元”, “11项” and “无” are."""
    import opencc

    values = dict(_values(spec21, 3))
    values.update({"t2.fees.amount": 12.5, "t2.licensing.decisions": 11})
    values["t2.coercion.decisions"] = 0
    text = published(spec21, tmp_path, spec21.compute(values))
    cells = {"行政事业性收费": "12.5萬元", "行政许可": "11項", "行政强制": "無"}
    lines = [
        f"| {label} | {cells[label]} |" if (label := line[2:].split(" |")[0]) in cells else line
        for line in text.splitlines()
    ]
    converted = opencc.OpenCC("s2t").convert("\n".join(lines))
    filing = importer.read(wb.write(tmp_path, converted.encode(), "r.md"), spec21)
    assert filing.values["t2.fees.amount"] == 12.5
    assert filing.values["t2.licensing.decisions"] == 11
    assert filing.values["t2.coercion.decisions"] == 0
    assert {"t2.fees.amount", "t2.licensing.decisions", "t2.coercion.decisions"}.isdisjoint(
        filing.missing
    )


# --- the corpus ------------------------------------------------------------------------------


def test_corpus_no_wrong_no_invented_no_traceback(spec21, shared_dir):
    scores = corpus.run_all(spec21)
    print(corpus.render(scores))
    assert not [s.case.name for s in scores if s.crash]
    assert not [(s.case.name, s.wrong) for s in scores if s.wrong]
    assert not [(s.case.name, s.invented) for s in scores if s.invented]
    assert not [(s.case.name, s.misnamed) for s in scores if s.misnamed]
    assert not [s.case.name for s in scores if s.case.path.parent == corpus.CASES and s.missed]


# --- 6. a lost or damaged label ----------------------------------------------------------------


@pytest.mark.parametrize("damaged", ["第二十条第", ""])
def test_row_with_a_lost_label_is_taken_by_its_position(spec21, tmp_path, damaged):
    values = _values(spec21, 5)
    values["t2.licensing.decisions"] = 17
    text = published(spec21, tmp_path, values).replace("| 行政许可 | 17 |", f"| {damaged} | 17 |")
    filing = importer.read(wb.write(tmp_path, text.encode(), "r.md"), spec21)
    assert filing.values["t2.licensing.decisions"] == 17
    assert "t2.licensing.decisions" not in filing.missing
    assert [f.args["row"] for f in filing.findings if f.code == "I111"] == ["行政许可"]


# --- 7. variants real agencies print -----------------------------------------------------------


def _one_other_row(spec, tmp_path, values, shift=0) -> str:
    text = published(spec, tmp_path, values)
    cols = corpus.T3_COLUMNS
    group = [
        sum(values[f"t3.{r}.{c}"] for r in ("other_no_correction", "other_unpaid", "other_other"))
        for c in cols
    ]
    group[0] += shift
    group[-1] += shift
    lines = [line for line in text.splitlines() if "（六）其他处理" not in line]
    i = next(n for n, line in enumerate(lines) if "（七）总计" in line)
    lines.insert(i, "| （六）其他处理 | " + " | ".join(map(str, group)) + " |")
    return "\n".join(lines)


def test_other_handling_printed_as_one_row(spec21, tmp_path):
    values = _values(spec21, 11)
    text = _one_other_row(spec21, tmp_path, values)
    filing = importer.read(wb.write(tmp_path, text.encode(), "r.md"), spec21)
    assert "I113" in codes(filing)
    subrows = [d for d in spec21.datapoints if d.startswith("t3.other_")]
    assert all(d in filing.missing and filing.values.get(d) is None for d in subrows)
    assert filing.values["t3.total.natural"] == values["t3.total.natural"]
    assert not {f.code for f in check.check_filing(filing)} & {"R1", "R2", "R3", "R4"}
    # the group's figure still takes part in the rules that need only the group: a wrong one shows
    wrong = _one_other_row(spec21, tmp_path, values, shift=1)
    filing = importer.read(wb.write(tmp_path, wrong.encode(), "w.md"), spec21)
    assert "R3" in {f.code for f in check.check_filing(filing)}


def test_heading_variants_and_typos(spec21, tmp_path):
    values = _values(spec21, 13)
    text = (
        published(spec21, tmp_path, values)
        .replace("五、存在的主要问题及改进情况", "五、存在的主要问题及整改措施")
        .replace(
            "四、政府信息公开行政复议、行政诉讼情况", "四、政府信息公开行政法复议、行政诉讼情况"
        )
        .replace("| 本年制发件数 |", "| 本年(2025)制发件数 |")
        .replace("| 现行有效件数 |", "| 现行有效件数(历史累计) |")
    )
    filing = importer.read(wb.write(tmp_path, text.encode(), "r.md"), spec21)
    assert not filing.missing and not codes(filing) & {"I102", "I103", "I104"}
    assert {d: filing.values[d] for d in spec21.inputs if d[:2] in ("t2", "t4")} == {
        d: values[d] for d in spec21.inputs if d[:2] in ("t2", "t4")
    }
    assert filing.texts["s5.problems"] == TEXTS


# --- new inputs ----------------------------------------------------------------------------


def test_table_published_as_an_image(spec21, tmp_path):
    html = published(spec21, tmp_path, fmt="html")
    start = html.index("<table", html.index("三、收到和处理"))
    end = html.index("</table>", start) + len("</table>")
    html = html[:start] + '<p><img src="/uploads/2025/biao3.png" alt="表三"></p>' + html[end:]
    filing = importer.read(wb.write(tmp_path, html.encode(), "r.html"), spec21)
    found = [f for f in filing.findings if f.code == "I114"]
    assert found and "biao3.png" in found[0].args["images"]
    assert all(d in filing.missing for d in spec21.datapoints if d.startswith("t3."))


def test_gbk_portal_page_with_menus_and_word_markup(spec21, tmp_path):
    values = _values(spec21, 17)
    body = published(spec21, tmp_path, values, fmt="html")
    body = body[body.index("<body") : body.index("</body>")]
    body = body[body.index(">") + 1 :]
    body = body.replace("<td>", '<td class=MsoNormal style="mso-yfti-irow:1"><p class=MsoNormal>')
    body = body.replace("</td>", "<o:p></o:p></p></td>").replace(
        '<td class=MsoNormal style="mso-yfti-irow:1"><p class=MsoNormal><o:p></o:p></p></td>',
        "<td>&nbsp;</td>",
    )
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        "<title>某县人民政府门户网站</title></head><body>"
        '<div class="menu"><a href="/">首页</a> <a href="/zwgk">政务公开</a> 一、总体要求</div>'
        f'<div class="article">{body}</div>'
        '<div class="foot">主办单位：某县人民政府办公室 网站标识码 1234 ICP备案号</div>'
        "</body></html>"
    )
    src = wb.write(tmp_path, page.encode("gb18030"), "page.htm")
    filing = importer.read(src, spec21)
    assert (filing.unit, filing.year) == ("测试镇", 2025)
    assert {d: filing.values.get(d) for d in spec21.inputs if d[:2] in ("t2", "t3", "t4")} == {
        d: values[d] for d in spec21.inputs if d[:2] in ("t2", "t3", "t4")
    }
    assert "主办单位" not in filing.texts["s6.other"] + filing.texts["s6.fees"]


def test_doc_without_libreoffice_names_what_to_install(tmp_path, monkeypatch):
    from workbook_tools import office

    monkeypatch.setattr(office, "find_soffice", lambda: None)
    src = wb.write(tmp_path, b"\xd0\xcf\x11\xe0 not really", "old.doc")
    filing = importer.read(src)
    found = [f for f in filing.findings if f.code == "I112"]
    assert found and "LibreOffice" in found[0].args["program"]
    result = run("import", src, "-o", tmp_path / "out.xlsx")
    assert result.exit_code == 2 and "I112" in result.output


def test_old_word_doc_through_libreoffice(spec21, tmp_path, soffice):
    from workbook_tools import office

    values = _values(spec21, 19)
    docx = tmp_path / "src" / "report.docx"
    docx.parent.mkdir()
    docx.write_bytes(rendered(spec21, tmp_path, values, fmt="docx"))
    doc = office.convert(docx, "doc", tmp_path / "doc")
    filing = importer.read(doc, spec21)
    assert (filing.unit, filing.year) == ("测试镇", 2025) and not filing.missing
    assert {d: filing.values[d] for d in spec21.inputs if d[:2] in ("t2", "t3", "t4")} == {
        d: values[d] for d in spec21.inputs if d[:2] in ("t2", "t3", "t4")
    }


# --- 8. what the text said survives in the workbook --------------------------------------------


def _rule_codes(findings) -> set[str]:
    return {f.code for f in findings if f.code[0] in "RW" and f.code[1:].isdigit()}


def test_a_wrong_printed_total_is_kept_in_the_workbook(spec21, tmp_path):
    values = _values(spec21, 23)
    text = published(spec21, tmp_path, values)
    total = values["t3.new.total"]
    row = next(line for line in text.splitlines() if line.startswith("| 一、本年新收"))
    wrong = row[: row.rindex(f"| {total} |")] + f"| {total + 10} |"
    text = text.replace(row, wrong)
    src = wb.write(tmp_path, text.encode(), "r.md")
    direct = check.check_file(src, spec21).findings
    assert "R2" in _rule_codes(direct)
    out = tmp_path / "r.xlsx"
    assert run("import", src, "-o", out).exit_code == 1
    book = check.check_file(out, spec21)
    assert _rule_codes(book.findings) == _rule_codes(direct)
    assert book.filing.values["t3.new.total"] == total + 10


def test_missing_rows_stay_missing_in_the_workbook(spec21, shared_dir, tmp_path):
    src = shared_dir / PUBLISHED / "longgang_qzfgzbm_2024.txt"
    out = tmp_path / "longgang.xlsx"
    result = run("import", src, "-o", out, "--unit", "某区某部门")
    assert result.exit_code == 1, result.output
    book = check.check_file(out, spec21)
    found = {f.code for f in book.findings}
    assert "I104" in found and "V101" not in found and "V102" not in found
    assert "t3.deny_inquiry.natural" in book.filing.missing
    assert book.filing.values["t3.new.natural"] == 58
    ws = openpyxl.load_workbook(out)["表三 依申请公开"]
    marked = [c for row in ws.iter_rows() for c in row if c.comment and "缺失" in c.comment.text]
    assert marked  # visible in the sheet, not just in the metadata
    assert _rule_codes(book.findings) == _rule_codes(check.check_file(src, spec21).findings)


# --- 9. no narrative claim against a table that is not in the text ------------------------------


def test_no_narrative_check_against_a_missing_table(spec21, tmp_path):
    values = _values(spec21, 29)
    text = published(spec21, tmp_path, values)
    start = text.index("## 三、收到和处理")
    end = text.index("## 四、")
    text = text[:start] + text[end:]  # 表三 cut out, as on a page that lost it
    text = text.replace(TEXTS, "本年度共收到政府信息公开申请5件，均已按时答复。", 1)
    filing = importer.read(wb.write(tmp_path, text.encode(), "r.md"), spec21)
    assert "I103" in codes(filing) or "I102" in codes(filing)
    found = {f.code for f in check.check_filing(filing)}
    assert not found & {"N1", "N2"}


def test_a_city_merges_its_counties_published_reports(spec21, tmp_path):
    folder = tmp_path / "published"
    folder.mkdir()
    expected = {}
    for seed, unit, fmt in ((31, "甲县", "htm"), (37, "乙县", "html"), (41, "丙县", "docx")):
        values = _values(spec21, seed)
        expected[unit] = values["t3.new.total"]
        (folder / f"{unit}2025年报.{fmt}").write_bytes(
            rendered(spec21, tmp_path, values, {"htm": "html"}.get(fmt, fmt), unit=unit)
        )
    (folder / "README.html").write_text("<p>说明文件，不是年报。</p>", encoding="utf-8")
    (folder / "notes.txt").write_text("一个说明，不是年报。", encoding="utf-8")
    out = tmp_path / "city.xlsx"
    result = run("merge", folder, "-o", out, "--name", "某市", "--year", "2025")
    assert result.exit_code in (0, 1), result.output
    book = check.check_file(out, spec21)
    assert book.filing.values["t3.new.total"] == sum(expected.values())
    assert "I116" not in result.output  # the README was not taken for a report


def test_intake_bounds_apply_to_published_reports(tmp_path):
    import zipfile

    from workbook_tools import intake

    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"\0" * (intake.MAX_RATIO * 2 * (1 << 20)))
    filing = importer.read(bomb)
    assert codes(filing) == {"F106"} and not filing.readable
    folder = tmp_path / "a folder.txt"
    folder.mkdir()
    assert codes(importer.read(folder)) == {"F113"}
