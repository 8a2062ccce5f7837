"""Real pages of the fifth round (2025 reports, published in 2026): what lost the report's unit.
Each test bends a report written by ``wbtools report`` into the real shape, in our own words."""

from __future__ import annotations

import pytest

from .test_import_layouts import read
from .test_import_real import published


def _retitled(spec21, tmp_path, title: str, sentence: str) -> str:
    text = published(spec21, tmp_path, unit="青禾县农业农村局", year=2025)
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if "年度报告" in line)
    return "\n".join([title, "", sentence, *lines[head + 1 :]])


@pytest.mark.parametrize(
    ("title", "sentence", "unit"),
    [
        # the city's own site lists the report without the place: the sentence names it in full
        (
            "县农业农村局2025年政府信息公开工作年度报告",
            "依照《条例》规定，现公开青禾县农业农村局2025年政府信息公开工作年度报告。",
            "青禾县农业农村局",
        ),
        (
            "县农业农村局2025年政府信息公开工作年度报告",
            "依照《条例》规定，现公布青禾县农业农村局2025年政府信息公开工作年度报告如下。",
            "青禾县农业农村局",
        ),
        # no title line: the publishing sentence alone, with 现公开
        (
            "",
            "依照《条例》规定，现公开青禾县农业农村局2025年政府信息公开工作年度报告。",
            "青禾县农业农村局",
        ),
        # how a report speaks of itself is no fuller name
        (
            "县农业农村局2025年政府信息公开工作年度报告",
            "依照《条例》规定，现公开我县农业农村局2025年政府信息公开工作年度报告。",
            "县农业农村局",
        ),
        # a full title stays as it is whatever the sentence says
        (
            "柳河镇2025年政府信息公开工作年度报告",
            "依照《条例》规定，现公开青禾县柳河镇2025年政府信息公开工作年度报告。",
            "柳河镇",
        ),
    ],
    ids=["xian-gongkai", "xian-gongbu", "no-title", "wo-xian", "full-title"],
)
def test_a_title_without_its_place_takes_the_full_name_from_the_publishing_sentence(
    spec21, tmp_path, title, sentence, unit
):
    """A site listing its own reports drops its place from the title (“市人民政府办公室2025年…”
    on the city's site); the sentence that publishes it (“现公开某市人民政府办公室2025年…”, a
    verb the importer did not know) names the unit in full, and that name is the unit's."""
    filing = read(spec21, tmp_path, _retitled(spec21, tmp_path, title, sentence))
    assert (filing.unit, filing.year) == (unit, 2025)


def _untitled(spec21, tmp_path, contact: str, opening: str) -> str:
    """The report without its title, with a line for questions after the opening paragraph and
    the body's first sentence under 一、总体情况 replaced."""
    text = published(spec21, tmp_path, unit="青禾县农业农村局", year=2025)
    lines = [line for line in text.splitlines() if "年度报告" not in line]
    at = next(i for i, line in enumerate(lines) if "统计期限" in line)
    lines.insert(at + 1, contact)
    first = next(i for i, line in enumerate(lines) if "总体情况" in line)
    body = next(i for i in range(first + 1, len(lines)) if lines[i].strip())
    lines[body] = opening
    return "\n".join(lines)


_PLAIN = "2025年度，本单位依法公开各类信息。"


@pytest.mark.parametrize(
    ("contact", "opening", "unit"),
    [
        # the line for questions, with the office of a township answering for it
        (
            "如对本报告有任何疑问，请与青禾县柳河镇人民政府党政办公室联系（电话：0000-1234567）。",
            _PLAIN,
            "青禾县柳河镇人民政府",
        ),
        (
            "如本报告有疑问，请联系：青禾县农业农村局，地址：青禾县某路1号。",
            _PLAIN,
            "青禾县农业农村局",
        ),
        ("如对本年度报告有疑问，请与青禾县农业农村局办公室联系。", _PLAIN, "青禾县农业农村局"),
        # a government's office is a unit of its own
        ("如对本报告有疑问，请与青禾县人民政府办公室联系。", _PLAIN, "青禾县人民政府办公室"),
        # the subject of the body's first sentence
        ("", "2025年，柳河镇认真贯彻落实《条例》，扎实推进政务公开。", "柳河镇"),
        ("", "2025年以来，青禾县石桥街道深入学习贯彻政务公开要求。", "青禾县石桥街道"),
        # no name: one without its place, everyone, oneself
        ("", "2025年，县农业农村局认真贯彻落实《条例》。", ""),
        ("", "2025年，全县各级行政机关扎实推进政务公开工作。", ""),
        ("如有疑问，请与本局联系。", "2025年，我局认真贯彻落实《条例》。", ""),
    ],
    ids=[
        "township-office",
        "contact-colon",
        "bureau-office",
        "gov-office",
        "subject",
        "subject-since",
        "no-place",
        "everyone",
        "oneself",
    ],
)
def test_a_report_without_a_title_is_named_by_its_contact_line_or_first_sentence(
    spec21, tmp_path, contact, opening, unit
):
    """Pages that lost the title still name their unit: in the line for questions (“如对本报告有
    疑问，请与某镇人民政府党政办公室联系”: the township, not its office) or as the subject of the
    body's first sentence (“2025年度，某街道全面贯彻落实…”). A name without its place (“县某局”),
    everyone (全县各级…) or oneself (本局, 我局) is no name: I101 asks the user."""
    filing = read(spec21, tmp_path, _untitled(spec21, tmp_path, contact, opening))
    assert (filing.unit, filing.year) == (unit, 2025)
    assert ("I101" in {f.code for f in filing.findings}) == (not unit)
