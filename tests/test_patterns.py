"""Compiled patterns kept across calls (workbook_tools.patterns): every pattern made from the cache
is the one re.compile makes, and a missing, broken or unwritable cache gives the same results."""

from __future__ import annotations

import _sre
import os
import re
import subprocess
import sys
import zlib

import pytest

from workbook_tools import patterns

from .conftest import ROOT
from .workbooks import same_parts

REPORT = ROOT / "tests" / "import_cases" / "township_bars_on_own_lines.txt"

# a run of ``wbtools import`` in a fresh process that also says how many patterns it compiled
_RUN = """
import re, sys
from re import _compiler
made = []
compile_ = _compiler.compile
_compiler.compile = lambda p, flags=0: made.append(p) or compile_(p, flags)
from workbook_tools import launch
sys.argv = ["wbtools", "import", sys.argv[1], "-o", sys.argv[2], "--force"]
try:
    launch.main()
except SystemExit:
    pass
print("COMPILED", len(made), file=sys.stderr)
"""


def _import(tmp_path, cache: str, name: str = "out.xlsx") -> tuple[bytes, str, str, int]:
    """(the workbook, stdout, stderr less the count, patterns compiled by re) of one import."""
    env = {**os.environ, "WBTOOLS_CACHE_DIR": cache}
    out = tmp_path / name
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(REPORT), str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    *err, count = done.stderr.splitlines()
    return out.read_bytes(), done.stdout, "\n".join(err), int(count.split()[1])


def _entry(folder) -> object:
    (entry,) = folder.glob("patterns-*.marshal")
    return entry


def test_patterns_from_the_cache_are_the_ones_re_compiles(tmp_path):
    cache = tmp_path / "cache"
    first = _import(tmp_path, str(cache))
    again = _import(tmp_path, str(cache))
    alone = _import(tmp_path, "")  # no cache at all (xlsxwriter writes the workbook)
    assert first[:3] == again[:3]
    assert same_parts(alone[0], first[0]) and alone[1:3] == first[1:3]
    assert not again[2]
    # the second call compiled (almost) nothing: its patterns came from the cache
    assert again[3] < first[3] // 4, (first[3], again[3])
    known = patterns._read(_entry(cache))
    assert len(known) > 50
    for (pattern, flags), parts in known.items():
        made, want = _sre.compile(pattern, *parts), re.compile(pattern, flags)
        assert made == want, pattern
        assert (made.groups, made.groupindex, made.flags) == (
            want.groups,
            want.groupindex,
            want.flags,
        )


@pytest.mark.parametrize(
    "broken",
    ["empty", "garbage", "truncated", "checksum", "a list", "odd entries"],
)
def test_a_broken_cache_file_gives_the_same_result_and_is_rewritten(tmp_path, broken):
    cache = tmp_path / "cache"
    want = _import(tmp_path, str(cache))
    entry = _entry(cache)
    raw = entry.read_bytes()
    body = {
        "empty": b"",
        "garbage": b"\x00garbage" * 50,
        "truncated": raw[: len(raw) // 2],
        "checksum": raw[:4] + raw[5:],
        "a list": None,
        "odd entries": None,
    }[broken]
    if body is None:
        import marshal

        data = marshal.dumps(
            [1, 2] if broken == "a list" else {k: ("x", [1], 0) for k in patterns._read(entry)}
        )
        body = zlib.crc32(data).to_bytes(4, "little") + data
    entry.write_bytes(body)
    got = _import(tmp_path, str(cache))
    assert got[:3] == want[:3]
    assert not got[2]
    assert patterns._read(entry)  # rewritten whole
    assert entry.read_bytes() != body


def test_an_unwritable_cache_is_no_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    want = _import(tmp_path, "")
    got = _import(tmp_path, str(blocker / "cache"))  # cannot be a folder
    assert same_parts(got[0], want[0]) and got[1:3] == want[1:3]
    assert not got[2]  # nothing said at exit


def test_the_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(patterns, "LIMIT", 3)
    path = tmp_path / "patterns.marshal"
    monkeypatch.setattr(patterns, "_new", [("a+", 0), ("b+", 0)])
    patterns._write(path)
    assert set(patterns._read(path)) == {("a+", 0), ("b+", 0)}
    monkeypatch.setattr(patterns, "_new", [("c+", 0), ("d+", re.IGNORECASE)])
    patterns._write(path)  # over the bound: this process's patterns only
    assert set(patterns._read(path)) == {("c+", 0), ("d+", int(re.IGNORECASE))}


def test_a_pattern_is_what_re_compile_makes(monkeypatch):
    for pattern, flags in [
        (r"(?P<year>\d{4})年(?:度)?", 0),
        ("[\u4e00-\u9fff]{2,}", re.IGNORECASE),
        (rb"<c r=\"([A-Z]+)(\d+)\"", 0),
        (r"(?i)abc", 0),
    ]:
        parts = patterns.parts(pattern, int(flags))
        assert parts is not None
        assert _sre.compile(pattern, *parts) == re.compile(pattern, flags)
    monkeypatch.setattr(patterns, "_known", {("a+", 0): ("not", "parts")})
    assert patterns.compile("a+") == re.compile("a+")  # an odd entry: compiled
