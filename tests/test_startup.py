"""What a single-file command loads, the compiled-spec cache, and the CLI's option conversions.

Speed itself is shown by ``make bench`` (ratios in one run), never timed here: these tests pin
the causes (a heavy library imported on the check path, the spec rebuilt on every call).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest
from xlsxwriter.worksheet import Worksheet

from workbook_tools import spec as spec_module

from .conftest import ROOT, run
from .workbooks import base_values, render, write

HEAVY = (
    "pydantic",
    "typer",
    "xlsxwriter",
    "openpyxl",
    "pandas",
    "yaml",
    "rich",
    "numpy",
    "_hashlib",
)


def _modules_after(args: list[str], env: dict[str, str], full: bool = False) -> set[str]:
    """The top-level modules (``full``: every module) loaded by the ``wbtools`` entry point for
    ``args`` (no terminal)."""
    code = (
        "import sys\n"
        "from workbook_tools import launch\n"
        f"sys.argv = ['wbtools', *{args!r}]\n"
        "try:\n    launch.main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return {m if full else m.split(".")[0] for m in line.split()[1:]}


def test_checking_one_file_loads_no_heavy_library(tmp_path, spec21):
    path = write(tmp_path, render(spec21, base_values(spec21)))
    env = {**os.environ, "WBTOOLS_CACHE_DIR": str(tmp_path / "cache")}
    first = _modules_after(["check", str(path)], env)  # compiles the spec into the cache
    assert "yaml" in first
    again = _modules_after(["check", str(path), "--format", "json"], env)
    assert not again & set(HEAVY), again & set(HEAVY)


# Loaded only for what needs them: the importer for published reports (and folders, whose
# published reports are checked too), importlib.resources (costs more than a one-file check's
# reading; the bundled specs are found beside the package), the process pool for several files;
# typing and dataclasses for none (see record.py).
NOT_FOR_ONE_WORKBOOK = (
    "workbook_tools.importer",
    "typing",
    "dataclasses",
    "importlib.resources",
    "multiprocessing",
    "concurrent.futures",
)


def test_checking_one_workbook_loads_only_what_it_needs(tmp_path, spec21):
    path = write(tmp_path, render(spec21, base_values(spec21)))
    env = {**os.environ, "WBTOOLS_CACHE_DIR": str(tmp_path / "cache")}
    _modules_after(["check", str(path)], env)  # compiles the spec into the cache
    loaded = _modules_after(["check", str(path)], env, full=True)
    assert not loaded & set(NOT_FOR_ONE_WORKBOOK), loaded & set(NOT_FOR_ONE_WORKBOOK)


def test_compiled_spec_is_cached_and_equal(tmp_path, monkeypatch):
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    raw = spec_module.bundled_path().read_bytes()
    built = spec_module.compiled(raw, "x.yaml")
    (entry,) = tmp_path.glob("spec-*.pickle")
    monkeypatch.setattr(spec_module, "loads", lambda *a: pytest.fail("rebuilt, not cached"))
    cached = spec_module.compiled(raw, "x.yaml")
    assert cached == built and cached.hash == built.hash and cached is not built
    # Another source path or other bytes are other entries.
    monkeypatch.undo()
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    spec_module.compiled(raw, "y.yaml")
    spec_module.compiled(raw + b"\n", "x.yaml")
    assert len(list(tmp_path.glob("spec-*.pickle"))) == 3
    assert pickle.loads(entry.read_bytes()) == built


def test_a_broken_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    raw = spec_module.bundled_path().read_bytes()
    built = spec_module.compiled(raw, "x.yaml")
    (entry,) = tmp_path.glob("spec-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert spec_module.compiled(raw, "x.yaml") == built
    assert pickle.loads(entry.read_bytes()) == built  # and written again


def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(blocker / "cache"))  # cannot be a folder
    raw = spec_module.bundled_path().read_bytes()
    assert spec_module.compiled(raw, "x.yaml") == spec_module.loads(raw, "x.yaml")
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", "")  # no cache at all
    assert spec_module.compiled(raw, "x.yaml") == spec_module.loads(raw, "x.yaml")


def _said(result) -> str:
    """The output without the error box's frame and line breaks."""
    return " ".join(result.output.replace("│", " ").split())


def test_invalid_option_values_are_told_as_before(tmp_path):
    result = run("template", "-y", "abc", "-u", "甲", "-o", tmp_path / "a.xlsx")
    assert result.exit_code == 2
    assert "Input should be a valid integer" in _said(result)
    result = run("codes", "--lang", "xx")
    assert result.exit_code == 2 and "'xx' is not one of 'zh', 'en'" in _said(result)
    result = run("check", "-f", "xml", tmp_path)
    assert result.exit_code == 2 and "'xml' is not one of 'text', 'json'" in _said(result)
    result = run("codes", "--lang", "en")
    assert result.exit_code == 0 and "code\tseverity" in result.output


ENTRY = "from workbook_tools.launch import main"
TYPER = "from workbook_tools.cli import main"


def _one(entry: str, args: list, tmp_path) -> tuple:
    """(exit code, stdout, stderr) of ``entry`` run with ``args``, no terminal."""
    done = subprocess.run(
        [sys.executable, "-c", f"{entry}; main()", *map(str, args)],
        capture_output=True,
        cwd=tmp_path,
    )
    return done.returncode, done.stdout, done.stderr


def _both(args: list, tmp_path) -> tuple:
    """(exit code, stdout, stderr) of the entry point and of the typer command, no terminal."""
    return _one(ENTRY, args, tmp_path), _one(TYPER, args, tmp_path)


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--format", "json", "--lang", "en"],
        ["-f=json", "-j", "1"],
        ["--format=json", "-j", "1"],
        ["--spec", "gov_disclosure_2021", "-p", "previous.xlsx"],
        ["--spec", "no-such-format"],
        ["--annotate", "feedback"],
        ["--help"],
        ["--jobs", "x"],
        ["--unknown"],
    ],
)
def test_the_entry_point_checks_exactly_as_the_typer_command(tmp_path, spec21, extra):
    write(tmp_path, render(spec21, base_values(spec21)), "a.xlsx")
    values = base_values(spec21)
    values["t3.new.natural"] += 1
    write(tmp_path, render(spec21, values), "b.xlsx")
    write(tmp_path, render(spec21, base_values(spec21), year=2023), "previous.xlsx")
    fast, typed = _both(["check", "a.xlsx", "b.xlsx", *extra], tmp_path)
    assert fast == typed
    if "--annotate" in extra:
        assert len(list((tmp_path / "feedback").iterdir())) == 2


def _published_report(spec, folder) -> None:
    """report.md: a published report as ``wbtools report`` writes it; notes.txt: no report."""
    from workbook_tools import check, report

    book = write(folder, render(spec, base_values(spec)), "unit.xlsx")
    filing = check.check_file(book, spec).filing
    (folder / "report.md").write_bytes(report.render(report.build(filing), "md"))
    (folder / "notes.txt").write_text("会议纪要\n", encoding="utf-8")


@pytest.mark.parametrize(
    "extra",
    [
        ["report.md", "-o", "{out}"],
        ["report.md", "--output={out}", "--lang", "en", "--force"],
        ["report.md", "-o", "{out}", "-u", "某某镇", "-y", "2024", "--kind", "乡镇"],
        ["report.md", "-o", "{out}", "--spec", "gov_disclosure_2021", "--force"],
        ["report.md", "-o", "existing.xlsx"],  # O104: no --force
        ["report.md", "-o", "book.csv"],  # O103
        ["notes.txt", "-o", "{out}"],  # no report: exit 2
        ["missing.md", "-o", "{out}"],
        ["report.md", "-o", "{out}", "--spec", "no-such-format"],
        ["report.md", "-o", "{out}", "-y", "x"],
        ["report.md", "-o", "{out}", "--lang", "xx"],
        ["report.md"],
        ["report.md", "other.md", "-o", "{out}"],
        ["--help"],
        ["report.md", "-o", "{out}", "--force=yes"],
    ],
)
def test_the_entry_point_imports_exactly_as_the_typer_command(tmp_path, spec21, extra):
    _published_report(spec21, tmp_path)
    (tmp_path / "existing.xlsx").write_bytes(b"kept")
    fast, typed = (
        _one(entry, ["import", *(a.replace("{out}", f"out{n}.xlsx") for a in extra)], tmp_path)
        for n, entry in ((1, ENTRY), (2, TYPER))
    )
    assert fast[0] == typed[0]
    assert fast[1:] == tuple(x.replace(b"out2.xlsx", b"out1.xlsx") for x in typed[1:])
    written = [tmp_path / f"out{n}.xlsx" for n in (1, 2)]
    assert (
        written[0].exists() == written[1].exists() == (fast[0] in (0, 1) and "--help" not in extra)
    )
    if written[0].exists():
        assert written[0].read_bytes() == written[1].read_bytes()
    assert (tmp_path / "existing.xlsx").read_bytes() == b"kept"


def test_importing_one_report_loads_no_cli_framework(tmp_path, spec21):
    _published_report(spec21, tmp_path)
    env = {**os.environ, "WBTOOLS_CACHE_DIR": str(tmp_path / "cache")}
    args = ["import", str(tmp_path / "report.md"), "-o", str(tmp_path / "out.xlsx"), "--force"]
    _modules_after(args, env)  # compiles the spec and prepares the workbook into the cache
    loaded = _modules_after(args, env)
    # xlsxwriter neither: the workbook is the prepared one, filled (template.prepared); nor
    # typing and dataclasses (their classes cost more than a report's reading: see record.py);
    # nor zipfile, tempfile and what they load (prepared.archive, files.temp_beside), pickle.py
    heavy = {"typer", "click", "pydantic", "yaml", "xlsxwriter", "typing", "dataclasses"}
    heavy |= {"zipfile", "tempfile", "shutil", "threading", "random", "bz2", "lzma", "pickle"}
    assert not loaded & heavy, loaded & heavy


def test_the_entry_point_knows_the_check_options_typer_declares():
    import typer.main

    from workbook_tools import launch
    from workbook_tools.cli import app

    command = typer.main.get_command(app).commands["check"]
    declared = {o for p in command.params for o in p.opts if o.startswith("-")}
    assert declared == set(launch.CHECK_OPTIONS)
    names = {p.name.rstrip("_") for p in command.params}
    assert {v[0] for v in launch.CHECK_OPTIONS.values()} - {"output_format", "spec_name"} <= names


def test_the_entry_point_knows_the_import_options_typer_declares():
    import typer.main

    from workbook_tools import launch
    from workbook_tools.cli import app

    command = typer.main.get_command(app).commands["import"]
    declared = {o for p in command.params for o in p.opts if o.startswith("-")}
    assert declared == set(launch.IMPORT_OPTIONS)
    names = {p.name.rstrip("_") for p in command.params}
    assert {v[0] for v in launch.IMPORT_OPTIONS.values()} - {"spec_name"} <= names
    flags = {o for p in command.params if getattr(p, "is_flag", False) for o in p.opts}
    assert flags == {o for o, (_, kind) in launch.IMPORT_OPTIONS.items() if kind == "flag"}


def test_the_entry_point_says_what_the_cli_says():
    from workbook_tools import cli, commands

    for lang in ("zh", "en"):
        for key, words in commands.WORDS[lang].items():
            assert cli.MESSAGES[lang][key] == words


# --- the compiled formulas of a template, cached across processes ------------------------------

_WRITE_ONE = (
    "import sys\n"
    "from workbook_tools import spec, template\n"
    "from workbook_tools.roster import Unit\n"
    "data = template.render(spec.load(), Unit('甲镇', '1', '乡镇'), 2024, values={'t3.new.natural': 3})\n"
    "sys.stdout.buffer.write(data)\n"
)


PLAIN = Worksheet()


def test_compiled_formulas_are_cached_and_equal(tmp_path, monkeypatch, spec21):
    from workbook_tools.template import formulas

    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(formulas, "_FORMULAS", {})
    built = formulas.compiled(spec21)
    (entry,) = tmp_path.glob("formulas-*.pickle")
    # what xlsxwriter writes for each total and check formula, as its own preparation gives it
    every = [*built.totals.values(), *built.checks.values()]
    assert built.prepared == {f: Worksheet._prepare_formula(PLAIN, f) for f in every}
    monkeypatch.setattr(formulas, "_FORMULAS", {})
    monkeypatch.setattr(formulas, "_compile", lambda *a: pytest.fail("rebuilt, not cached"))
    cached = formulas.compiled(spec21)
    assert cached == built and cached is not built
    assert pickle.loads(entry.read_bytes()) == built
    # other code that compiles them (or another xlsxwriter) is another entry
    monkeypatch.undo()
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(formulas, "_FORMULAS", {})
    code = spec_module.code_parts
    monkeypatch.setattr(spec_module, "code_parts", lambda *n: [*code(*n), b"changed"])
    assert formulas.compiled(spec21) == built
    assert len(list(tmp_path.glob("formulas-*.pickle"))) == 2
    # a broken entry is rebuilt and written again
    monkeypatch.undo()
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(formulas, "_FORMULAS", {})
    entry.write_bytes(b"not a pickle")
    assert formulas.compiled(spec21) == built
    assert pickle.loads(entry.read_bytes()) == built


def test_a_template_from_cached_formulas_is_the_same_file(tmp_path):
    """Byte for byte: written with no cache, with a new entry, and from that entry."""

    def written(cache: str) -> bytes:
        env = {**os.environ, "WBTOOLS_CACHE_DIR": cache}
        done = subprocess.run(
            [sys.executable, "-c", _WRITE_ONE], capture_output=True, cwd=ROOT, env=env, check=True
        )
        return done.stdout

    plain = written("")
    assert plain[:2] == b"PK"
    assert written(str(tmp_path)) == plain  # compiles, writes the entry
    assert list(tmp_path.glob("formulas-*.pickle"))
    assert written(str(tmp_path)) == plain  # from the entry


def test_the_fast_path_works_with_the_collector_on(tmp_path, spec21):
    """The entry point stops the cyclic collector only while a command's modules load: the
    files are checked (and the report imported) with it running, past the frozen start-up (an
    import's young generation collected less often)."""
    _published_report(spec21, tmp_path)
    book = tmp_path / "unit.xlsx"
    code = (
        "import gc, sys\n"
        "from workbook_tools import commands, launch\n"
        "seen = []\n"
        "for name in ('run_check', 'run_import'):\n"
        "    def spy(*a, _run=getattr(commands, name), **k):\n"
        "        seen.append(gc.isenabled())\n"
        "        code = _run(*a, **k)\n"
        "        seen.append(gc.isenabled())\n"
        "        return code\n"
        "    setattr(commands, name, spy)\n"
        "import workbook_tools.check as check\n"
        "read = check.check_file\n"
        "check.check_file = lambda *a, **k: seen.append(gc.isenabled()) or read(*a, **k)\n"
        "sys.argv = ['wbtools', *sys.argv[1:]]\n"
        "try:\n    launch.main()\nexcept SystemExit:\n    pass\n"
        "print(seen, gc.get_freeze_count() > 0, gc.get_threshold()[0], file=sys.stderr)\n"
    )
    env = {**os.environ, "WBTOOLS_CACHE_DIR": str(tmp_path / "cache")}
    for args, want in [
        (["check", str(book)], "[False, True, True] True 700"),
        (
            ["import", str(tmp_path / "report.md"), "-o", str(tmp_path / "o.xlsx")],
            "[False, True] True 20000",  # (launch.IMPORT_YOUNG)
        ),
    ]:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
        )
        assert done.stderr.splitlines()[-1] == want, done.stderr


def test_the_layout_is_cached_and_equal(tmp_path, monkeypatch, spec21):
    """The workbook's layout (every label, cell and check placed) is kept in the cache folder:
    read back equal, the spec's own tables in it; other code is another entry; a broken entry
    is rebuilt."""
    from workbook_tools import layout

    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(layout, "_LAYOUTS", {})
    built = layout.build(spec21)
    (entry,) = tmp_path.glob("layout-*.pickle")
    monkeypatch.setattr(layout, "_LAYOUTS", {})
    monkeypatch.setattr(layout, "_placed", lambda *a: pytest.fail("placed again, not cached"))
    cached = layout.build(spec21)
    assert cached == built and cached is not built
    assert all(cached.tables[t.id].table is t for t in spec21.tables)
    assert pickle.loads(entry.read_bytes()) == (built.tables, built.places)
    monkeypatch.undo()
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(layout, "_LAYOUTS", {})
    code = spec_module.code_parts
    monkeypatch.setattr(spec_module, "code_parts", lambda *n: [*code(*n), b"changed"])
    assert layout.build(spec21) == built
    assert len(list(tmp_path.glob("layout-*.pickle"))) == 2
    monkeypatch.undo()
    monkeypatch.setenv("WBTOOLS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(layout, "_LAYOUTS", {})
    entry.write_bytes(b"not a pickle")
    assert layout.build(spec21) == built
    assert pickle.loads(entry.read_bytes()) == (built.tables, built.places)


def test_every_use_of_zipfile_in_intake_loads_it():
    """intake loads zipfile in the functions that open a package (an import of a text loads
    none): a function naming zipfile outside its annotations imports it itself (the module's
    own import is for type checkers only, so a linter would not see one missing)."""
    import ast
    from pathlib import Path

    from workbook_tools import intake

    tree = ast.parse(Path(intake.__file__).read_text("utf-8"))
    missing = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        annotations = {
            id(n)
            for a in ast.walk(node)
            if isinstance(a, ast.AnnAssign)
            for n in ast.walk(a.annotation)
        }
        named = any(
            isinstance(n, ast.Name) and n.id == "zipfile" and id(n) not in annotations
            for stmt in node.body
            for n in ast.walk(stmt)
        )
        imports = any(
            isinstance(n, ast.Import) and any(a.name == "zipfile" for a in n.names)
            for n in node.body
        )
        if named and not imports:
            missing.append(node.name)
    assert missing == [], missing
