"""Traditional to simplified characters (importer.simplify): OpenCC loads only for a text it can
change, and every text reads exactly as OpenCC converts it."""

from __future__ import annotations

import os
import subprocess
import sys

import opencc
import pytest

from workbook_tools.importer import simplify, sources

from .conftest import ROOT, SHARED

REPORTS = sorted(
    [p for p in (ROOT / "tests" / "import_cases").iterdir() if p.is_file()]
    + [p for p in (SHARED / "examples" / "published").glob("*") if p.suffix in (".txt", ".pdf")]
)


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A cache folder of the test's own and nothing remembered in this process."""
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path / "cache"))
    simplify._keys.cache_clear()
    yield tmp_path / "cache"
    simplify._keys.cache_clear()


def _texts() -> list[str]:
    """Every line of every report the tests import, and each in traditional characters."""
    lines = []
    for path in REPORTS:
        try:
            lines += [line.text for line in sources.load_lines(path)]
        except Exception:  # (a case made to be refused) nothing to read
            continue
    to_traditional = opencc.OpenCC("s2t")
    return lines + [to_traditional.convert(t) for t in lines]


def test_every_line_reads_as_opencc_converts_it(fresh):
    t2s = opencc.OpenCC("t2s")
    texts = _texts()
    assert len(texts) > 2000
    skipped = [t for t in texts if simplify._keys()[0].isdisjoint(t)]
    assert 500 < len(skipped) < len(texts)  # both ways are taken
    assert [simplify.simplified(t) for t in texts] == [t2s.convert(t) for t in texts]


def test_every_character_outside_the_keys_is_left_as_it_is_by_opencc(fresh):
    chars, longer = simplify._keys()
    assert "體" in chars and "説" in chars and "总" not in chars
    assert all(len(k) > 1 and chars.isdisjoint(k) for k in longer)
    others = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000 and chr(c) not in chars]
    converter = simplify.converter()
    for at in range(0, len(others), 8192):
        text = "".join(others[at : at + 8192])
        assert not any(k in text for k in longer)
        assert converter.convert(text) == text == simplify.simplified(text)
    # a longer key whose characters are no key alone still goes through OpenCC
    assert all(simplify.simplified(f"a{k}b") == converter.convert(f"a{k}b") for k in longer)
    with pytest.raises(UnicodeEncodeError):  # as OpenCC's binding refuses it
        simplify.simplified("abc\udc80")


def test_the_keys_are_cached_and_a_broken_entry_rebuilt(fresh):
    want = simplify._keys()
    (entry,) = fresh.glob("t2s-keys-*.pickle")
    for broken in (b"", b"garbage", entry.read_bytes()[:100]):
        entry.write_bytes(broken)
        simplify._keys.cache_clear()
        assert simplify._keys() == want
        assert entry.read_bytes() != broken  # rewritten


def test_no_cache_or_an_unwritable_one_gives_the_same_keys(fresh, monkeypatch, tmp_path):
    want = simplify._keys()
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", "")
    simplify._keys.cache_clear()
    assert simplify._keys() == want
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(blocker / "cache"))  # cannot be a folder
    simplify._keys.cache_clear()
    assert simplify._keys() == want


def test_without_the_dictionary_tool_every_text_goes_through_opencc(fresh, monkeypatch):
    share = simplify._share()
    assert simplify.derive(share) is not None
    monkeypatch.setattr(simplify, "TOOL", "no-such-tool")
    assert simplify.derive(share) is None
    simplify._keys.cache_clear()
    assert simplify._keys() is None
    assert simplify.simplified("一、總體情況") == "一、总体情况"
    assert simplify.simplified("一、总体情况") == "一、总体情况"


def test_a_configuration_with_another_dictionary_type_is_not_derived():
    assert simplify._dictionaries({"dict": {"type": "ocd2", "file": "a.ocd2"}}) == {"a.ocd2"}
    assert simplify._dictionaries([{"type": "text", "file": "a.txt"}]) is None


def test_importing_a_simplified_report_loads_no_opencc(tmp_path):
    env = {**os.environ, "WBTOOLS_CACHE_DIR": str(tmp_path / "cache")}
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from workbook_tools import importer, spec\n"
        "importer.read(Path(sys.argv[1]), spec.load())\n"
        "print('opencc' in sys.modules)\n"
    )
    report = ROOT / "tests" / "import_cases" / "bureau_pipes_blank_cells.md"
    for _ in range(2):  # (the first run derives the keys into the cache)
        done = subprocess.run(
            [sys.executable, "-c", code, str(report)], capture_output=True, text=True, env=env
        )
        assert done.stdout.split() == ["False"], done.stderr
