"""The prepared workbook of ``wbtools import`` (template.prepared): the workbook xlsxwriter writes,
byte for byte, for every import it takes; xlsxwriter for every other."""

from __future__ import annotations

import io
import os
import random
import zipfile
import zlib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xlsxwriter.utility import quote_sheetname as xlsxwriter_quote

from workbook_tools import importer, layout, synth
from workbook_tools import spec as spec_module
from workbook_tools.roster import Unit
from workbook_tools.template import prepared, writer, zipped

from .conftest import ROOT, SHARED
from .workbooks import same_parts

CASES = ROOT / "tests" / "import_cases"
REPORTS = sorted(
    [p for p in CASES.iterdir() if p.suffix in (".txt", ".md", ".html", ".pdf")]
    + [p for p in (SHARED / "examples" / "published").glob("*") if p.suffix in (".txt", ".pdf")]
)


def _both(spec, unit, year, **options) -> tuple[bytes | None, bytes]:
    """(the prepared workbook or None, xlsxwriter's) for the same arguments."""
    missing = options.pop("missing", set())
    return (
        prepared.prepared(spec, unit, year, missing=missing, **options),
        writer.render(spec, unit, year, missing=missing, **options),
    )


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_imported_report_is_the_workbook_xlsxwriter_writes(path, lang, spec21):
    filing = importer.read(path, spec21)
    if not filing.year:  # the text names no year: given, as I106 asks (`--year`)
        filing = importer.read(path, spec21, year=2025)
    assert filing.readable
    spec, unit, year, options = importer.workbook_arguments(filing, path.stem)
    fast, slow = _both(spec, unit, year, lang=lang, **options)
    rendered = prepared.render(spec, unit, year, lang=lang, **options)
    if options["missing"]:
        assert fast is None  # a comment and the hatched format on each missing cell: xlsxwriter
        assert rendered == slow
    else:
        assert same_parts(fast, slow) and rendered == fast


def _published(spec, seed: int) -> tuple[dict, dict]:
    rng = random.Random(seed)
    values = synth.consistent_values(spec, rng, rng.choice(["乡镇", "街道", "部门"]))
    texts = {f.id: f"第{seed}号：依法公开。" for f in spec.fields}
    return spec.compute(values), texts


@pytest.mark.parametrize("seed", range(6))
def test_generated_filings_in_both_formats_and_languages(seed, spec21):
    spec = spec21 if seed % 2 else spec_module.load("gov_disclosure_2019")
    values, texts = _published(spec, seed)
    values = {i: values[i] for i in spec.inputs}
    lang = ("zh", "en")[seed % 3 == 0]
    year = 2019 + seed
    unit = Unit(f"测试单位{seed}", "", ["乡镇", "街道", "部门"][seed % 3])
    fast, slow = _both(spec, unit, year, lang=lang, values=values, texts=texts)
    assert same_parts(fast, slow)


def test_odd_cells_texts_and_names_are_written_as_xlsxwriter_writes_them(spec21):
    """Text in number cells, a wrong printed total, blanks, narrative with markup, escapes,
    control characters and surrounding spaces, a unit named with &, < and >."""
    values, texts = _published(spec21, 7)
    values = {i: values[i] for i in spec21.inputs}
    inputs = list(spec21.inputs)
    values[inputs[0]] = "12件"
    values[inputs[1]] = "１２"
    values[inputs[2]] = 2.5
    values[inputs[3]] = -4
    values[inputs[4]] = 10**15 + 1
    del values[inputs[5]]
    values[inputs[6]] = " 3 "
    fields = [f.id for f in spec21.fields]
    texts[fields[0]] = "  开头有空格，&<>\"' 与 _x0041_ 与 \x01 控制字符\n第二行  "
    texts[fields[1]] = "<b>不是标记</b>"
    texts[fields[2]] = ""
    texts[fields[3]] = "\t"
    total = spec21.totals[0][0]
    unit = Unit("A&B <县> 某某局", "", "部门")
    info = {"contact": "张三 & 李四", "phone": "0123-4567"}
    fast, slow = _both(
        spec21, unit, 2025, values=values, texts=texts, info=info, printed={total: 999999}
    )
    assert same_parts(fast, slow)


def test_what_the_recorder_does_not_model_goes_to_xlsxwriter(spec21):
    values, texts = _published(spec21, 3)
    values = {i: values[i] for i in spec21.inputs}
    unit = Unit("某某镇", "", "乡镇")
    first = next(iter(spec21.inputs))
    rich = {**texts, spec21.fields[0].id: "<r>原文如此</r>"}
    cases = [
        {"texts": rich},  # xlsxwriter's rich-string markup: written in runs (safe_text)
        {"texts": texts, "missing": {first}},  # a comment and the hatched format
        {"texts": {**texts, spec21.fields[0].id: "长" * 20000}},  # past xlsxwriter's limit
        {"texts": texts, "info": {"filled_on": date(2025, 1, 2)}},  # a date
    ]
    for case in cases:
        fast = prepared.prepared(spec21, unit, 2024, values=values, **case)
        assert fast is None
        assert prepared.render(spec21, unit, 2024, values=values, **case) == writer.render(
            spec21, unit, 2024, values=values, **case
        )


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("prepared-*.pickle"))


def test_the_prepared_workbook_is_cached_and_a_broken_entry_rebuilt(tmp_path, monkeypatch, spec21):
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    values, texts = _published(spec21, 5)
    values = {i: values[i] for i in spec21.inputs}
    unit = Unit("某某镇", "", "乡镇")
    expected = writer.render(spec21, unit, 2024, values=values, texts=texts)
    first = prepared.prepared(spec21, unit, 2024, values=values, texts=texts)
    assert same_parts(first, expected)
    assert prepared.prepared(spec21, unit, 2024, values=values, texts=texts) == first  # cached
    (entry,) = _entries(tmp_path)
    for broken in (b"", b"not a pickle", entry.read_bytes()[:100]):
        entry.write_bytes(broken)
        assert prepared.prepared(spec21, unit, 2024, values=values, texts=texts) == first
    assert _entries(tmp_path) == [entry] and entry.stat().st_size > 1000
    # another year or language is another prepared workbook
    prepared.prepared(spec21, unit, 2023, values=values, texts=texts, lang="en")
    assert len(_entries(tmp_path)) == 2


def test_no_cache_folder_means_xlsxwriter(tmp_path, monkeypatch, spec21):
    values, texts = _published(spec21, 2)
    unit = Unit("某某镇", "", "乡镇")
    expected = writer.render(spec21, unit, 2024, values=values, texts=texts)
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", "")
    assert prepared.prepared(spec21, unit, 2024, values=values, texts=texts) is None
    assert prepared.render(spec21, unit, 2024, values=values, texts=texts) == expected
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(blocker / "cache"))  # cannot be a folder
    # (built each time, not kept: the same workbook)
    assert same_parts(prepared.render(spec21, unit, 2024, values=values, texts=texts), expected)
    if os.geteuid() != 0:  # root writes into a read-only folder anyway
        readonly = tmp_path / "ro"
        readonly.mkdir(mode=0o555)
        monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(readonly))
        assert same_parts(prepared.render(spec21, unit, 2024, values=values, texts=texts), expected)


def test_sheet_names_are_quoted_as_xlsxwriter_quotes_them(spec21):
    names = [t.sheet for t in spec21.tables]
    names += [t.sheet for t in spec_module.load("gov_disclosure_2019").tables]
    names += [layout.INSTRUCTIONS_SHEET, layout.INFO_SHEET, layout.NARRATIVE_SHEET]
    names += [layout.CHECKS_SHEET, layout.META_SHEET, "Sheet1", "A1", "表 二's", "R1C1", "1表"]
    for name in names:
        assert layout.quote_sheetname(name) == xlsxwriter_quote(name), name


_NAMES = st.text(st.sampled_from("abcXYZ019/._-[]表二文字部分"), min_size=1, max_size=24)
_PARTS = st.lists(
    st.tuples(_NAMES, st.one_of(st.binary(max_size=3000), st.text(max_size=3000).map(str.encode))),
    max_size=8,
    unique_by=lambda entry: entry[0],
)


def _zlib_deflated(data: bytes) -> tuple[int, int, bytes]:
    """A part as zipfile deflates it (zlib's default level)."""
    packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return zlib.crc32(data), len(data), packer.compress(data) + packer.flush()


@settings(max_examples=60, deadline=None)
@given(entries=_PARTS)
def test_the_archive_is_what_zipfile_writes_for_xlsxwriter(entries):
    """``zipped.archive`` writes the bytes zipfile writes for xlsxwriter's in-memory entries
    (ZIP_DEFLATED, no zip64, each part a ZipInfo of 1 January 1980), names in ASCII or not,
    given the same deflated bytes; its own deflated parts inflate to the part, CRC and all."""
    buffer = io.BytesIO()
    archive = zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=False)
    for name, data in entries:
        info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
        info.compress_type = archive.compression
        archive.writestr(info, data)
    archive.close()
    assert zipped.archive([(n, _zlib_deflated(d)) for n, d in entries]) == buffer.getvalue()
    for _, data in entries:
        crc, size, body = zipped.deflated(data)
        assert (zlib.decompress(body, -15), crc, size) == (data, zlib.crc32(data), len(data))


def _xlsxwriters_shared_strings(strings: list[str]) -> str:
    from xlsxwriter.sharedstrings import SharedStrings, SharedStringTable

    table = SharedStringTable()
    for string in strings:
        table._get_shared_string_index(string)
    table._sort_string_data()
    writer_ = SharedStrings()
    writer_.string_table = table
    writer_._set_filehandle(io.StringIO())
    writer_._assemble_xml_file()
    return writer_.fh.getvalue()


_TEXTS = st.text(
    st.sampled_from("甲 \t\n\u3000\u00a0\x01\x1f_x0041_&<>\ufffe\uffffAz"), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(strings=st.lists(_TEXTS, max_size=6))
def test_shared_strings_are_written_as_xlsxwriter_writes_them(strings):
    """``recorder.shared_strings`` (escapes looked for once in all the strings, leading and
    trailing whitespace by str.isspace) writes what xlsxwriter's SharedStrings writes."""
    from workbook_tools.template.recorder import Recorder, shared_strings

    recorded = Recorder()
    for string in strings:
        recorded.shared(string)
    assert shared_strings(recorded) == _xlsxwriters_shared_strings(strings)


def test_whitespace_is_what_xlsxwriter_preserves_in_every_character():
    from xlsxwriter.utility import _preserve_whitespace

    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        assert bool(_preserve_whitespace(f"{c}a")) == c.isspace(), hex(cp)
        assert bool(_preserve_whitespace(f"a{c}")) == c.isspace(), hex(cp)
