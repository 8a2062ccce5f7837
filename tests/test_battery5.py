"""Hostile inputs found by the session-9 red team that the earlier batteries did not cover: each
made small at test time and run through the real command line in a child under memory and CPU
limits (tests/hostile.py), so a hang, an abort or a traceback fails the test."""

from __future__ import annotations

import pytest

from tests import hostile
from tests import workbooks as wb


def _report_html(shared_dir) -> str:
    text = (shared_dir / "examples" / "published" / "xuying-2024.txt").read_text(encoding="utf-8")
    return "".join(f"<p>{line}</p>" for line in text.splitlines())


@pytest.mark.parametrize(
    "value",
    [
        "1",  # plain: one tag of 50,000 attributes
        '">"',  # each value holds a ">": a scan to the first ">" sees a short tag
    ],
)
def test_a_page_element_with_very_many_attributes_is_refused(tmp_path, spec21, shared_dir, value):
    """The HTML parser (Lexbor) looks up each new attribute among the element's attributes so far:
    50,000 on one element took seconds, 300,000 over a minute of CPU (killed). The page is now
    refused (F106) before its tree is built, counting attributes as the parser's tokenizer does
    (a ">" inside a quoted value does not end the tag). As a previous year's report the
    check goes on without it."""
    attributes = " ".join(f"a{i}={value}" for i in range(50_000))
    page = tmp_path / "attributes.html"
    page.write_text(
        f"<html><body {attributes}>{_report_html(shared_dir)}</body></html>", encoding="utf-8"
    )
    before = hostile.digest([page])
    result = hostile.wbtools("import", page, "-o", tmp_path / "out.xlsx", timeout=60)
    hostile.assert_clean(result, (2,), "F106")
    assert "1,000" in result.text, result.text[-2000:]  # the bound is named
    assert not (tmp_path / "out.xlsx").exists()
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    result = hostile.wbtools("check", good, "--previous", page, timeout=60)
    hostile.assert_clean(result, (0, 1))
    assert hostile.digest([page]) == before


def test_a_page_with_ordinary_attributes_and_quoted_brackets_still_reads(
    tmp_path, spec21, shared_dir
):
    """The bound counts real attributes only: a page whose tags carry a few attributes each, some
    values holding ">" and "<p>", and one long data: address, reads as the plain page."""
    html = _report_html(shared_dir)
    plain = tmp_path / "plain.html"
    plain.write_text(f"<html><body>{html}</body></html>", encoding="utf-8")
    decorated = tmp_path / "decorated.html"
    image = "data:image/png;base64," + "A" * 200_000
    decorated.write_text(
        f'<html><body class="a b" data-x="1 > 0" title=\'<p>x</p>\'><img src="{image}" alt="">'
        + html.replace("<p>", '<p style="margin:0" class="MsoNormal" data-a=">">')
        + "</body></html>",
        encoding="utf-8",
    )
    from workbook_tools import reader

    results = []
    for page in (plain, decorated):
        out = tmp_path / f"{page.stem}.xlsx"
        result = hostile.wbtools("import", page, "-o", out, timeout=60)
        hostile.assert_clean(result, (0, 1))
        assert "F106" not in result.text
        results.append(reader.read(out, spec21))
    assert results[0].values and results[1].values == results[0].values
    assert results[1].unit == results[0].unit


@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_a_text_report_of_millions_of_lines_is_refused(tmp_path, spec21, suffix):
    """A 10 MB text of blank lines (10 million lines) took 1.5 GB and a MemoryError that was
    reported as an unreadable workbook, and 5 million one-character lines ran for 40 s of CPU:
    each line costs the section finder a dozen heading tests. A report runs to a few hundred
    lines; over intake.MAX_LINES the file is refused (F106), in `import` and as last year's
    report for `check --previous`."""
    from workbook_tools import intake

    page = tmp_path / f"lines{suffix}"
    page.write_bytes(b"|\n" * (intake.MAX_LINES + 1))
    result = hostile.wbtools("import", page, "-o", tmp_path / "out.xlsx", timeout=60)
    hostile.assert_clean(result, (2,), "F106")
    assert f"{intake.MAX_LINES:,}" in result.text, result.text[-2000:]
    assert not (tmp_path / "out.xlsx").exists()
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    result = hostile.wbtools("check", good, "--previous", page, timeout=60)
    hostile.assert_clean(result, (0, 1))
