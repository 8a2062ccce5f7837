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
