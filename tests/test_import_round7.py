"""Real reports of the seventh round (a corpus of 40 reports gathered from government sites in
session 8): how a report names its unit and year in forms not seen before, and a heading that
runs into its own paragraph. Each text is written here in our own words in the layout the real
report has."""

from __future__ import annotations

import pytest

from workbook_tools import importer

BODY = "\n二、主动公开政府信息情况\n（略）\n三、收到和处理政府信息公开申请情况\n（略）\n"


def _read(tmp_path, text: str, name: str = "report.txt"):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return importer.read(path)


def test_a_breadcrumb_is_not_a_unit(tmp_path):
    """A site's breadcrumb (“>> 政务公开 | >> …”) before a report that calls itself 我局: no unit
    (I101 asks the user), never “>>”."""
    text = (
        ">> 政务公开 | >> 信息公开 | >> 政府信息公开年度报告 |\n"
        "根据条例要求，特向社会公布2023年度我局政府信息公开年度报告。\n"
        "一、总体情况\n2023年，我局主动公开政府信息300条。" + BODY
    )
    filing = _read(tmp_path, text)
    assert filing.unit == "" and filing.year == 2023
    assert "I101" in {f.code for f in filing.findings}


def test_a_quoted_title_line_names_its_unit(tmp_path):
    """A title quoted as Markdown (“> …”) or after a breadcrumb's arrows names its unit."""
    for mark in ("> ", ">> ", "» "):
        text = mark + "青禾县水利局2024年度政府信息公开工作年度报告\n一、总体情况\n（略）" + BODY
        filing = _read(tmp_path, text)
        assert (filing.unit, filing.year) == ("青禾县水利局", 2024), mark


@pytest.mark.parametrize("province", ["辽宁省", "江苏省", "内蒙古自治区", "兴安盟"])
def test_a_province_is_a_unit(tmp_path, province):
    """A province's (or a 盟's) own report, named in the sentence that publishes it."""
    text = f"现发布《{province}2019年度政府信息公开工作报告》。\n一、总体情况\n（略）" + BODY
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == (province, 2019)


def test_a_title_split_before_guanyu(tmp_path):
    """“<unit>” / (blank) / “关于2021年度政府信息公开工作的年度报告”: one title over two lines."""
    text = (
        "青禾县新安镇人民政府\n\n关于2021年度政府信息公开工作的年度报告\n\n"
        "一、总体情况\n新安镇认真贯彻落实条例。" + BODY
    )
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == ("青禾县新安镇人民政府", 2021)


def test_an_academic_year_is_not_part_of_the_unit(tmp_path):
    """A university's report for an academic year: the unit is the university; the year is the
    one the academic year ends in (its figures run from September to August)."""
    for dash in ("—", "-", "～", "至"):
        text = (
            f"青禾大学2021{dash}2022学年信息公开年度报告\n"
            "本年度报告中所列数据的统计期限为2021年9月1日到2022年8月31日止。\n"
            "一、总体情况\n（略）" + BODY
        )
        filing = _read(tmp_path, text)
        assert (filing.unit, filing.year) == ("青禾大学", 2022), dash


def test_a_short_form_defined_by_the_report_is_given_in_full(tmp_path):
    """“国家税务总局青禾县税务局(以下简称“青禾县税务局”)”: the body speaks of the short form,
    the unit is the full name the report defines."""
    text = (
        "本报告依据条例要求，结合国家税务总局青禾市新城区税务局（以下简称“新城区税务局”）"
        "政府信息公开工作有关统计数据撰写。\n"
        "本报告中所列数据统计期限自2022年1月1日起至12月31日止。\n"
        "一、总体情况\n2022年，新城区税务局认真贯彻落实条例。" + BODY
    )
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == ("国家税务总局青禾市新城区税务局", 2022)


def test_the_title_names_the_unit_more_fully_than_the_sentence(tmp_path):
    """A year-first title over two lines (“2025年青禾县林业社区管委会” / “…年度报告”) and a
    publishing sentence that drops the county: the title's fuller name."""
    text = (
        "2025年青禾县林业社区管委会\n政府信息公开工作年度报告\n"
        "按照条例要求，特向社会公布2025年林业社区管委会政府信息公开工作年度报告。\n"
        "一、总体情况\n2025年，林业社区管委会推进工作。" + BODY
    )
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == ("青禾县林业社区管委会", 2025)


@pytest.mark.parametrize("gap", [" ", "", "。", "：", "\u3000"])
def test_a_heading_run_into_its_paragraph(tmp_path, gap):
    """“一、总体情况 2020年，…” on one line: the heading is found and its paragraph is the
    section's text (was: no heading, the whole file refused as not a report, I116)."""
    long = "本局坚持以人民为中心，" * 12
    text = (
        "青禾县海关2020年政府信息公开工作年度报告\n"
        f"一、总体情况{gap}2020年，{long}各项工作取得进展。\n"
        "二、主动公开政府信息情况 第二十条第（一）项 信息内容 本年制发件数 本年废止件数 现行有效件数\n"
        "三、收到和处理政府信息公开申请情况\n（略）\n"
        "五、存在的主要问题及改进情况 本局信息公开工作还存在一些不足。\n"
    )
    filing = _read(tmp_path, text)
    codes = {f.code for f in filing.findings}
    assert "I116" not in codes and filing.readable
    assert filing.texts["s1.overview"].startswith("2020年，本局坚持"), filing.texts["s1.overview"]
    assert "还存在一些不足" in "".join(v for k, v in filing.texts.items() if k.startswith("s5"))


def test_spam_in_a_contact_name_is_no_unit(tmp_path):
    """A mirror site puts its spam into the names it copies (“某某娱乐_在线¥官网市市场监管局”):
    such a string is no unit (I101 asks the user), nor is a page title's “…_某县人民政府网”."""
    text = (
        "特向社会公布2023年度我局政府信息公开年度报告。如对本报告有任何疑问，请与"
        "某某娱乐_在线¥官网市市场监管局联系。\n"
        "一、总体情况\n2023年，我局主动公开政府信息。" + BODY
    )
    filing = _read(tmp_path, text)
    assert filing.unit == "" and "I101" in {f.code for f in filing.findings}


@pytest.mark.parametrize("layout", ["pipes", "cell per line"])
@pytest.mark.parametrize("lost", ["?", "？", "\ufffd"])
def test_a_figure_behind_a_lost_character_keeps_its_column(tmp_path, layout, lost):
    """“规章 | 0 | ? 0 | 0 |”: a character the page's encoding lost stands before a figure (a
    non-breaking space, or a minus sign). The cell is reported as it is (R5), never guessed, and
    the figure after it is read in its own column (was: the row ended at it, both lost, I105)."""
    rows = [("规章", "4", f"{lost} 1", "7"), ("行政规范性文件", "2", "0", "5")]
    head = ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"]
    if layout == "pipes":
        table = "\n".join(" | ".join(r) + " |" for r in [head, *rows])
    else:
        table = "\n".join(c + " |" for r in [head, *rows] for c in r)
    text = (
        "青禾县司法局2021年政府信息公开工作年度报告\n一、总体情况\n（略）\n"
        "二、主动公开政府信息情况\n第二十条第（一）项 | |||\n" + table + "\n"
        "三、收到和处理政府信息公开申请情况\n（略）\n"
    )
    filing = _read(tmp_path, text)
    v = filing.values
    assert (v["t2.rules.issued"], v["t2.rules.in_force"]) == (4, 7)
    assert v.get("t2.rules.repealed") is None
    assert [v["t2.normative.issued"], v["t2.normative.repealed"], v["t2.normative.in_force"]] == [
        2,
        0,
        5,
    ]
    r5 = [f for f in filing.findings if f.code == "R5"]
    assert (
        len(r5) == 1 and r5[0].args["value"].endswith("1") and "本年废止件数" in r5[0].args["where"]
    )
    assert "I105" not in {f.code for f in filing.findings}


@pytest.mark.parametrize("words", ["全省", "本省", "我省", "各省", "全县", "各市"])
def test_a_whole_level_is_no_unit(tmp_path, words):
    """“现发布《全省2019年度…报告》”: a report speaking of a whole level (or of itself) names no
    unit — the other side of a province being one."""
    text = f"现发布《{words}2019年度政府信息公开工作报告》。\n一、总体情况\n（略）" + BODY
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == ("", 2019)
    assert "I101" in {f.code for f in filing.findings}
