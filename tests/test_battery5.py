"""Hostile inputs found by the session-9 red team that the earlier batteries did not cover: each
made small at test time and run through the real command line in a child under memory and CPU
limits (tests/hostile.py), so a hang, an abort or a traceback fails the test."""

from __future__ import annotations

import os
from pathlib import Path

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


@pytest.mark.parametrize("filler", ["/", " ", "\n/ "])
def test_a_tag_padded_with_separators_is_read_in_linear_time(tmp_path, spec21, shared_dir, filler):
    """A tag padded with 300,000 separators and no attribute after them: counting its attributes
    retried the search from each separator (quadratic: a 1 MB tag ran for minutes). It has none,
    so the page reads as the plain page."""
    from workbook_tools import reader

    html = _report_html(shared_dir)
    results = []
    for name, pad in (("plain", ""), ("padded", filler * (300_000 // len(filler)))):
        page = tmp_path / f"{name}.html"
        page.write_text(f"<html><body{pad}>{html}</body></html>", encoding="utf-8")
        out = tmp_path / f"{name}.xlsx"
        result = hostile.wbtools("import", page, "-o", out, timeout=60)
        hostile.assert_clean(result, (0, 1))
        results.append(reader.read(out, spec21))
    assert results[0].values and results[1].values == results[0].values


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


# --- file names longer than a file system allows ------------------------------------------------

LONG = "镇" * 82  # 246 bytes in UTF-8: a name that fits, whose derived names do not


def _fits(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir())
    assert all(len(os.fsencode(n)) <= 255 for n in names), names
    return names


def test_outputs_named_after_long_inputs_and_units_fit_a_file_name(tmp_path, spec21):
    """File systems take 255 bytes a name; a Chinese character is 3. A returned file named with 82
    characters is a legal name, but its feedback workbook's (“…_反馈.xlsx”) is not; a unit named
    with the 100 characters a roster allows names a template and a report that are not either.
    Each ended in a traceback (ENAMETOOLONG). Now a derived name too long is shortened and tagged
    with a checksum of the whole name (two names differing only at the end stay two files), and
    the outputs are written."""
    from workbook_tools import template
    from workbook_tools.roster import Unit

    returned = tmp_path / "returned"
    returned.mkdir()
    data = wb.render(spec21)
    (returned / f"{LONG}.xlsx").write_bytes(data)
    (returned / "good.xlsx").write_bytes(data)
    before = hostile.digest([returned])
    result = hostile.wbtools("check", returned, "-a", tmp_path / "feedback", timeout=60)
    hostile.assert_clean(result, (0, 1))
    names = _fits(tmp_path / "feedback")
    assert len(names) == 2 and names[1].startswith(LONG[:60]), names

    roster = tmp_path / "roster.csv"
    twins = ["甲" * 99 + "镇", "甲" * 99 + "乡"]
    roster.write_text(
        "单位名称,单位代码,单位类型\n" + "".join(f"{n},{i},乡镇\n" for i, n in enumerate(twins)),
        encoding="utf-8",
    )
    result = hostile.wbtools("template", "-y", 2025, "--roster", roster, "-o", tmp_path / "t")
    hostile.assert_clean(result, (0,))
    assert len(_fits(tmp_path / "t")) == 2
    result = hostile.wbtools("template", "-y", 2025, "-u", twins[0], "-o", tmp_path / "t")
    hostile.assert_clean(result, (0,))

    unit = Unit(twins[0], "1", "乡镇")
    book = tmp_path / "long-unit.xlsx"
    book.write_bytes(template.render(spec21, unit, 2024))
    result = hostile.wbtools(
        "report", book, "-o", tmp_path / "reports", "--to", "md", "--allow-errors"
    )
    hostile.assert_clean(result, (0, 1))
    assert len(_fits(tmp_path / "reports")) == 1
    assert hostile.digest([returned]) == before


def test_an_output_path_too_long_for_the_file_system_is_o102(tmp_path, spec21, shared_dir):
    """An output name the user typed longer than a file name may be: O102 with the system's
    reason, not a traceback, for every command that writes."""
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    report = shared_dir / "examples" / "published" / "xuying-2024.txt"
    too_long = tmp_path / (LONG * 2)
    for command in (
        ["template", "-y", 2025, "-u", "徐营镇", "-o", f"{too_long}.xlsx"],
        ["check", good, "-a", too_long],
        ["merge", good, "-o", f"{too_long}.xlsx"],
        ["report", good, "-o", f"{too_long}.md"],
        ["import", report, "-o", f"{too_long}.xlsx"],
    ):
        result = hostile.wbtools(*command, timeout=60)
        hostile.assert_clean(result, (2,), "O102")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.xlsx"]


# --- part names that differ only in case ---------------------------------------------------------


def test_parts_named_alike_but_for_case_are_a_damaged_package(tmp_path, spec21, shared_dir):
    """A package's part names are compared without case (ECMA-376 part 2: a package holding two
    that differ only in case is invalid). A workbook with its table sheet twice, “sheet3.xml” and
    “Sheet3.xml” with other numbers, passed the check on one copy while another reader could show
    the other; a Word report likewise. Both are now a damaged file (F103), as an entry named twice
    already was."""
    from tests import attacks

    data = wb.render(spec21)
    sheet = wb.sheet_part(data, spec21.tables[0].sheet)
    parts = dict(attacks.entries(data))
    other = parts[sheet].replace(b"<v>", b"<v>9", 1)
    folder = tmp_path / "returned"
    folder.mkdir()
    shadow = sheet.rsplit("/", 1)[0] + "/" + sheet.rsplit("/", 1)[1].capitalize()
    (folder / "case-first.xlsx").write_bytes(
        attacks.build([(shadow, other), *attacks.entries(data)])
    )
    (folder / "case-last.xlsx").write_bytes(
        attacks.build([*attacks.entries(data), (sheet.upper(), other)])
    )
    (folder / "good.xlsx").write_bytes(data)
    text = (shared_dir / "examples" / "published" / "xuying-2024.txt").read_text(encoding="utf-8")
    document = attacks.word_document(b"".join(attacks.para(t) for t in text.splitlines()[:40]))
    word = tmp_path / "case.docx"
    word.write_bytes(
        attacks.build([*attacks.entries(attacks.docx(document)), ("Word/Document.xml", document)])
    )
    before = hostile.digest([folder, word])
    import json

    result = hostile.wbtools("check", "-f", "json", folder, timeout=60)
    hostile.assert_clean(result, (1, 2))
    files = {Path(f["path"]).name: f for f in json.loads(result.out)["files"]}
    for name in ("case-first.xlsx", "case-last.xlsx"):
        assert files[name]["status"] == "unreadable", files[name]
        assert [f["code"] for f in files[name]["findings"]] == ["F103"], files[name]
    assert files["good.xlsx"]["status"] == "passed"
    result = hostile.wbtools("import", word, "-o", tmp_path / "out.xlsx", timeout=60)
    hostile.assert_clean(result, (2,), "F103")
    assert hostile.digest([folder, word]) == before


# --- documents that link to the network ----------------------------------------------------------


def _odt_linking(url: str, text: str) -> bytes:
    """An OpenDocument text whose picture is linked (not embedded) from ``url``."""
    import html
    import io
    import zipfile

    paras = "".join(f"<text:p>{html.escape(line)}</text:p>" for line in text.splitlines())
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
        'office:version="1.2"><office:body><office:text><text:p><draw:frame draw:name="i" '
        f'svg:width="1cm" svg:height="1cm"><draw:image xlink:href="{url}" xlink:type="simple" '
        'xlink:show="embed" xlink:actuate="onLoad"/></draw:frame></text:p>'
        f"{paras}</office:text></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
        'names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry '
        'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", manifest)
    return out.getvalue()


def test_a_document_s_linked_picture_is_not_fetched(tmp_path, shared_dir, soffice):
    """An .odt (or .doc, .rtf) is converted by LibreOffice, which loaded a picture linked from the
    network while converting: a report sent by a stranger made the office's machine call an
    address of the sender's choosing. LibreOffice's profile now blocks links from documents
    outside trusted locations and never updates links; the report still imports."""
    import http.server
    import threading

    asked: list[str] = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # (the name http.server calls)
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/picture.png"
        text = (shared_dir / "examples" / "published" / "xuying-2024.txt").read_text("utf-8")
        odt = tmp_path / "linked.odt"
        odt.write_bytes(_odt_linking(url, text))
        result = hostile.wbtools("import", odt, "-o", tmp_path / "out.xlsx", timeout=180)
        hostile.assert_clean(result, (0, 1))
        assert (tmp_path / "out.xlsx").exists()
    finally:
        server.shutdown()
        server.server_close()
    assert asked == []


# --- feedback beside the returned files ----------------------------------------------------------


def test_feedback_whose_name_is_taken_by_an_input_gets_a_free_name(tmp_path, spec21):
    """``check -a folder folder`` writes feedback beside the returned files. Run twice (the first
    run's “a_反馈.xlsx” is now an input too), or with a unit's file so named, the feedback for
    “a.xlsx” was named like an input: the whole run stopped on O101 and no file was reported.
    Now that feedback takes a free name, every file is checked and no input is touched."""
    import json

    folder = tmp_path / "returned"
    folder.mkdir()
    data = wb.render(spec21)
    for name in ("a.xlsx", "a_反馈.xlsx", "b.xlsx"):
        (folder / name).write_bytes(data)
    before = hostile.digest([folder])
    result = hostile.wbtools("check", "-f", "json", "-a", folder, folder, timeout=60)
    hostile.assert_clean(result, (0,))
    files = json.loads(result.out)["files"]
    assert sorted(Path(f["path"]).name for f in files) == ["a.xlsx", "a_反馈.xlsx", "b.xlsx"]
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(
        ["a.xlsx", "a_反馈.xlsx", "b.xlsx", "a_反馈 (2).xlsx", "a_反馈_反馈.xlsx", "b_反馈.xlsx"]
    ), written
    for name in before:
        assert hostile.digest([Path(name)]) == {name: before[name]}


def test_an_output_is_told_from_the_inputs_in_one_look_up(tmp_path, monkeypatch):
    """Each feedback workbook (and each report of a folder) was compared with every input, two
    path resolutions each: 1,000 files with --annotate took 3 minutes instead of 6 s. The inputs
    are now known by their identity once, and each output is one look-up."""
    from workbook_tools import files

    inputs = []
    for i in range(300):
        p = tmp_path / f"u{i}.xlsx"
        p.write_bytes(b"x")
        inputs.append(p)
    (tmp_path / "link.xlsx").symlink_to(inputs[7])
    os.link(inputs[9], tmp_path / "hard.xlsx")
    known = files.InputSet(inputs)
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: calls.append(a) or real_stat(*a, **k))
    assert not known.holds(tmp_path / "new.xlsx")
    assert known.holds(tmp_path / "link.xlsx") and known.holds(tmp_path / "hard.xlsx")
    assert known.holds(inputs[0])
    assert len(calls) <= 4 * 2, len(calls)
    with pytest.raises(files.Failure):
        files.guard_output(tmp_path / "hard.xlsx", known)
    files.guard_output(tmp_path / "new.xlsx", known)
