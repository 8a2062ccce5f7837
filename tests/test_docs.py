"""Completeness: the README documents every finding code and every command, and the two
set-up commands it promises exist in the Makefile and CI."""

from __future__ import annotations

import re

from workbook_tools.cli import app
from workbook_tools.findings import all_codes

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_finding_code_is_documented(spec21):
    documented = set(re.findall(r"^\| ([A-Z]\d+) \|", README, re.M))
    assert documented == set(all_codes(spec21))


def test_every_command_is_documented():
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert commands == {"template", "check", "merge", "report", "import", "codes", "spec"}
    for name in commands:
        assert f"wbtools {name}" in README, name


def test_setup_commands_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make demo" in README and "make test" in README
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert "make test" in ci and "libreoffice-calc-nogui" in ci and "fonts-noto-cjk" in ci


def test_every_finding_code_is_expected_by_some_test(spec21):
    """Each code appears as an expectation in a test (the golden cases for the checker, the
    roster, spec and CLI tests for the rest), so none is documented but never produced."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    missing = [c for c in all_codes(spec21) if not re.search(rf"[\"'\[{{]{c}[\]\"'@}}]", sources)]
    assert missing == []
