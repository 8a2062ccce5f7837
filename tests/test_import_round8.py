"""Real reports of the eighth round (a corpus of reports gathered from government sites in
session 9): layouts not seen before. Each text is written here in our own words in the layout
the real report has."""

from __future__ import annotations

import pytest

from workbook_tools import importer

BODY = "\n二、主动公开政府信息情况\n（略）\n三、收到和处理政府信息公开申请情况\n（略）\n"


def _read(tmp_path, text: str, name: str = "report.txt"):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return importer.read(path)


@pytest.mark.parametrize(
    ("head", "unit", "year"),
    [
        # a title without unit or year; the unit signs under it, then the date of signing
        (
            "政府信息公开工作年度报告\n青禾经开区管委会（滨江商务区管委会）\n2026年1月8日\n",
            "青禾经开区管委会(滨江商务区管委会)",
            2025,
        ),
        # a title with the year only, the unit on the next line, then the date in brackets
        ("2020年度信息公开工作年度报告\n青禾农业大学\n（2020年10月30日）\n", "青禾农业大学", 2020),
        ("2024年政府信息公开工作年度报告\n\n青禾县林业局\n\n", "青禾县林业局", 2024),
    ],
)
def test_the_unit_under_a_title_without_one(tmp_path, head, unit, year):
    """A title that names no unit (“政府信息公开工作年度报告”, “2020年度信息公开工作年度报告”)
    with the unit's name alone on the next line: that name is the unit."""
    text = head + "一、总体情况\n2025年，管委会主动公开政府信息30条。" + BODY
    filing = _read(tmp_path, text.replace("2025年，", f"{year}年，"))
    assert (filing.unit, filing.year) == (unit, year)


@pytest.mark.parametrize(
    "second",
    [
        "发布日期：2024-01-09",  # metadata, no name
        "一、总体情况",  # the first heading
        "市卫生健康委员会",  # a name that lost its place: the user is asked (I101)
        "我局",  # how a report speaks of itself
        "2024年1月9日",  # a date
    ],
)
def test_no_unit_under_a_title_from_other_lines(tmp_path, second):
    """What follows a title without unit and is no full name is not taken as the unit."""
    text = f"2024年政府信息公开工作年度报告\n{second}\n一、总体情况\n2024年，我局主动公开。" + BODY
    filing = _read(tmp_path, text.replace("\n一、总体情况\n一、总体情况", "\n一、总体情况"))
    assert filing.unit == "" and filing.year == 2024


@pytest.mark.parametrize("label", ["【图文】", "【图解】", "【置顶】", "[图文]", "［公告］"])
def test_a_label_before_the_title_is_not_part_of_the_unit(tmp_path, label):
    """A site's label in brackets before the title (“【图文】某局2022年度…报告”) is no part of
    the unit's name."""
    text = (
        f"{label}青禾市市场监督管理局2022年度政府信息公开工作年度报告\n一、总体情况\n（略）" + BODY
    )
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == ("青禾市市场监督管理局", 2022)


def test_a_title_calling_itself_a_report_on_key_work(tmp_path):
    """“<unit>2020年政府信息公开重点工作年度报告”: a title form some units use."""
    text = "青禾县教育和科学技术局2020年政府信息公开重点工作年度报告\n一、总体情况\n（略）" + BODY
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == ("青禾县教育和科学技术局", 2020)


@pytest.mark.parametrize("unit", ["青禾旗宝力苏木人民政府", "青禾旗宝力苏木", "宝力苏木政府"])
def test_a_sumu_is_a_township(tmp_path, unit):
    """A 苏木 (Inner Mongolia's township-level unit) reports as a township does, not as a
    county's government."""
    text = f"{unit}2025年政府信息公开工作年度报告\n一、总体情况\n（略）" + BODY
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year, filing.kind) == (unit, 2025, "乡镇")


def test_a_sumu_speaking_of_itself_is_a_township(tmp_path):
    """“我苏木” tells the kind when no title names the unit."""
    text = "一、总体情况\n2025年，我苏木主动公开政府信息279条。" + BODY
    assert _read(tmp_path, text).kind == "乡镇"


@pytest.mark.parametrize(
    ("contact", "unit"),
    [
        # the office to write to is a division inside a general office: not the reporting unit
        ("请联系青禾省人民政府办公厅政务公开处，地址：青禾路1号", ""),
        ("请与青禾市人民政府办公室政府信息公开处联系", ""),
        # a 管理处 is a unit of its own, and a 办事处 is a street's office
        ("请与青禾县公路管理处联系", "青禾县公路管理处"),
        ("请联系：青禾区人民政府新安街道办事处，电话1234", "青禾区人民政府新安街道办事处"),
    ],
)
def test_a_division_to_write_to_is_not_the_unit(tmp_path, contact, unit):
    """A report without a title whose line for questions names a division of a general office
    (“…办公厅政务公开处”) has no unit from that line (I101 asks), never the division."""
    text = (
        f"本报告根据条例编制。如对报告有疑问，{contact}。\n"
        "一、总体情况\n2020年，全系统深入学习贯彻条例。" + BODY
    )
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == (unit, 2020)


@pytest.mark.parametrize(
    "head",
    [
        # a spam mirror puts its own words where the unit's name was
        "青禾VIP\n2020-2021学年信息公开工作年度报告\n",
        "青禾APP官网人民政府合作交流办公室\n2022年政府信息公开工作年度报告\n",
        # a template's placeholder
        "xx县中医院2022年政府信息公开工作年度报告\n",
    ],
)
def test_latin_letters_are_no_part_of_a_unit_name(tmp_path, head):
    """No Chinese organ's name holds Latin letters: a “unit” with them (spam, a placeholder) is
    none, and the user is asked (I101) instead of being given a wrong one."""
    filing = _read(tmp_path, head + "一、总体情况\n2022年，我局主动公开政府信息。" + BODY)
    assert filing.unit == ""
    assert "I101" in {f.code for f in filing.findings}


def test_an_academic_year_alone_is_no_unit(tmp_path):
    """A title line that starts with its academic year (“2020-2021学年信息公开工作年度报告”)
    names no unit: the years are not taken as one."""
    text = "2020-2021学年信息公开工作年度报告\n一、总体情况\n2021年，我校主动公开信息。" + BODY
    assert _read(tmp_path, text).unit == ""


@pytest.mark.parametrize(
    ("head", "unit"),
    [
        # the title's last words garbled by the site
        ("青禾县七家子镇2023年政府信息公开 工作告年度报\n", "青禾县七家子镇"),
        # the title cut short by a portal's list
        ("青禾县水利局2023年政府信息公开工作年…\n", "青禾县水利局"),
        ("青禾县水利局2023年度政府信息公开...\n", "青禾县水利局"),
    ],
)
def test_a_title_whose_last_words_are_lost(tmp_path, head, unit):
    """A title line whose words after 政府信息公开 are garbled or cut still names its unit and
    year when nothing else does."""
    text = head + "一、总体情况\n2023年，我镇认真贯彻落实条例。" + BODY
    filing = _read(tmp_path, text)
    assert (filing.unit, filing.year) == (unit, 2023)


@pytest.mark.parametrize(
    "head",
    [
        "2023年政府信息公开工作要点\n",  # no unit before the year
        "根据条例，青禾县2023年政府信息公开工作稳步推进\n",  # a sentence
        "关于青禾县2023年政府信息公开工作的通知\n",  # another document's name
    ],
)
def test_no_unit_from_lines_that_are_no_cut_title(tmp_path, head):
    text = head + "一、总体情况\n2023年，我镇认真贯彻落实条例。" + BODY
    assert _read(tmp_path, text).unit == ""
