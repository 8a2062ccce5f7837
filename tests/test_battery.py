"""The hostile-input battery: every attack file (tests/attacks.py) through every command that reads
its kind, in child processes under memory and CPU limits (tests/hostile.py).

For each cell of the table: a non-zero exit (or a portal answer that is not a pass and not a
5xx), a coded finding naming the file, no traceback, bounded memory and time, inputs byte-identical,
nothing half-written left, and the good files of the same run still processed. Commands that take
a folder get all attacks of a kind in one run; commands that take one file run many times in one
child (tests/battery_runner.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import attacks, hostile
from tests import workbooks as wb
from workbook_tools import importer, roster
from workbook_tools.importer import FOLDER_REPORTS

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "examples" / "published"
# The county workbook's attacks: the ones a county file is most likely to meet, not all of them.
COUNTY_ATTACKS = (
    "far-cell",
    "sst-unique-count",
    "duplicate-first",
    "doctype-after-comment",
    "dtd-xl-sharedStrings-xml",
    "dtd-xl-workbook-xml",
    "bomb-xl-sharedStrings-xml",
    "bomb-xl-styles-xml",
    "truncated-half",
    "encrypted",
    "dot-dot-names",
)


class Corpus:
    """The battery's folders, made once per module."""

    def __init__(self, root: Path, spec):
        self.root = root
        self.base = root / "base"
        self.base.mkdir()
        unit = wb.render(spec)
        self.good = wb.write(self.base, unit, "good.xlsx")
        self.unit = self._write(
            "unit", "u-", attacks.workbook_attacks(unit, self._sheet(unit, spec))
        )
        merged = hostile.wbtools("merge", self.good, "-o", root / "county.xlsx", "--name", "青禾县")
        hostile.assert_clean(merged, (0, 1))
        county_bytes = (root / "county.xlsx").read_bytes()
        self.county_file = wb.write(self.base, county_bytes, "county.xlsx")
        (root / "county.xlsx").unlink()
        chosen = attacks.workbook_attacks(
            county_bytes, self._sheet(county_bytes, spec), COUNTY_ATTACKS
        )
        self.county = self._write("county", "c-", chosen)
        self.text = (SHARED / "xuying-2024.txt").read_text(encoding="utf-8")
        self.published = self._write("published", "p-", attacks.report_attacks(self.text))
        self.roster_xlsx = _roster_workbook()
        self.rosters = self._write("rosters", "r-", attacks.roster_attacks(self.roster_xlsx))

    @staticmethod
    def _sheet(data: bytes, spec) -> str:
        return wb.sheet_part(data, spec.tables[0].sheet)

    def _write(
        self, folder: str, prefix: str, items: list[attacks.Attack]
    ) -> dict[str, attacks.Attack]:
        out = self.root / folder
        out.mkdir()
        named = {}
        for a in items:  # the suffix in the stem too: merge groups unknown files by stem
            stem, suffix = a.name.rsplit(".", 1)
            named[f"{prefix}{stem}-{suffix}.{suffix}"] = a
        for name, a in named.items():
            (out / name).write_bytes(a.data)
        return named

    def folder(self, name: str) -> Path:
        return self.root / name

    def digest(self) -> dict[str, str]:
        return hostile.digest(
            [self.root / n for n in ("base", "unit", "county", "published", "rosters")]
        )


def _roster_workbook() -> bytes:
    import io

    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("名册")
    for i, line in enumerate(attacks.ROSTER.splitlines()):
        sheet.write_row(i, 0, line.split(","))
    book.close()
    return out.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, spec21):
    c = Corpus(tmp_path_factory.mktemp("battery"), spec21)
    before = c.digest()
    yield c
    assert c.digest() == before, "an input was modified"


def _json_files(result) -> dict[str, dict]:
    return {Path(f["path"]).name: f for f in json.loads(result.out)["files"]}


def _assert_answered(files: dict[str, dict], expected: dict[str, attacks.Attack]) -> None:
    """Every attack file has a coded finding from its expected set and did not pass."""
    wrong = {}
    for name, attack in expected.items():
        entry = files.get(name)
        found = {f["code"] for f in entry["findings"]} if entry else set()
        if entry is None or entry["status"] == "passed" or not found & set(attack.codes):
            wrong[name] = (entry or {}).get("status"), sorted(found), attack.codes
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())


def _blocks(text: str) -> dict[str, set[str]]:
    """The codes printed under each file's heading line in check's text output."""
    out: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        if line and not line[0].isspace():
            m = re.match(r"^\S+\s+(\S+)", line)
            current = Path(m.group(1)).name if m else None
            if current:
                out.setdefault(current, set())
        elif current:
            out[current] |= hostile.codes_in(line)
    return out


def _leftovers(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name.startswith(".") or ".part" in p.name or "tmp" in p.name
    )


# --- check ---------------------------------------------------------------------------------------


def test_check_every_workbook_and_report_attack(corpus, tmp_path):
    """check FOLDERS --format json: every attack answered with its code, the good file passes."""
    result = hostile.wbtools(
        "check",
        corpus.folder("unit"),
        corpus.folder("county"),
        corpus.folder("published"),
        corpus.good,
        "--format",
        "json",
    )
    hostile.assert_clean(result, (1,))
    files = _json_files(result)
    # text and Markdown are read from a folder only as last year's (see test_check_previous)
    published = {n: a for n, a in corpus.published.items() if Path(n).suffix in FOLDER_REPORTS}
    _assert_answered(files, {**corpus.unit, **corpus.county, **published})
    assert files["good.xlsx"]["status"] == "passed"


def test_check_annotate_writes_feedback_for_the_good_file_only(corpus, tmp_path):
    out = tmp_path / "feedback"
    result = hostile.wbtools("check", corpus.folder("unit"), corpus.good, "--annotate", out)
    hostile.assert_clean(result, (1,))
    blocks = _blocks(result.out)
    for name, attack in corpus.unit.items():
        assert blocks.get(name, set()) & set(attack.codes), (name, blocks.get(name))
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 1 and written[0].startswith("good"), written
    assert not _leftovers(out)


def test_check_previous_from_attacks(corpus, tmp_path):
    """Last year's folder full of attacks: this year's good file is still checked; each attack as
    the one previous file, too."""
    runs = [
        ["check", corpus.good, "--previous", corpus.folder(kind)]
        for kind in ("unit", "county", "published")
    ]
    runs += [["check", corpus.good, "--previous", corpus.folder("unit") / n] for n in corpus.unit]
    runs += [
        ["check", corpus.good, "--previous", corpus.folder("published") / n]
        for n in corpus.published
    ]
    for r in hostile.many(runs, tmp_path):
        _assert_run(r, (0, 1))
        assert "good.xlsx" in r["out"], r


def _assert_run(r: dict, codes: tuple[int, ...], expected: tuple[str, ...] = ()) -> None:
    text = r["out"] + r["err"]
    assert r["code"] != "raised", r["err"][-3000:]
    assert "Traceback" not in text and "panicked" not in text, (r["argv"], text[-3000:])
    assert r["code"] in codes, (r["argv"], r["code"], text[-2000:])
    if expected:
        assert hostile.codes_in(text) & set(expected), (r["argv"], text[-2000:])


# --- merge ---------------------------------------------------------------------------------------


def test_merge_every_attack(corpus, tmp_path):
    out = tmp_path / "merged"
    out.mkdir()
    result = hostile.wbtools(
        "merge",
        corpus.folder("unit"),
        corpus.folder("county"),
        corpus.folder("published"),
        corpus.good,
        "-o",
        out / "county.xlsx",
        "--long",
        out / "long.csv",
        "--name",
        "青禾县",
    )
    hostile.assert_clean(result, (1,))
    lines = result.text.splitlines()
    published = {n: a for n, a in corpus.published.items() if Path(n).suffix in FOLDER_REPORTS}
    for name, attack in {**corpus.unit, **corpus.county, **published}.items():
        stem = name.rsplit(".", 1)[0]
        hits = [ln for ln in lines if re.search(rf"\s{re.escape(stem)}\s", ln)]
        assert any(hostile.codes_in(ln) & set(attack.codes) for ln in hits), (name, hits)
    assert sorted(p.name for p in out.iterdir()) == ["county.xlsx", "long.csv"]


def test_rosters_through_every_command_that_reads_them(corpus, tmp_path):
    """template --roster, merge --roster and portal init --roster: every roster attack is a
    U-finding, exit 2, nothing written."""
    runs = []
    for i, name in enumerate(corpus.rosters):
        path = corpus.folder("rosters") / name
        runs += [
            ["template", "--roster", path, "-y", 2025, "-o", tmp_path / f"t{i}"],
            ["merge", corpus.good, "--roster", path, "-o", tmp_path / f"m{i}.xlsx"],
            [
                "portal",
                "init",
                tmp_path / f"p{i}",
                "--roster",
                path,
                "-y",
                2025,
                "--name",
                "青禾县",
            ],
        ]
    results = hostile.many(runs, tmp_path)
    for r in results:
        attack = corpus.rosters[Path(r["argv"][r["argv"].index("--roster") + 1]).name]
        _assert_run(r, (2,), attack.codes)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a refused roster left output"


def test_rosters_in_every_encoding_excel_and_notepad_write(corpus, tmp_path):
    """UTF-16 (Excel's “Unicode text”, Notepad's “Unicode”), with and without a byte order mark,
    GBK and UTF-8 with a BOM: the same three units as the plain UTF-8 roster."""
    plain = wb.write(tmp_path, attacks.ROSTER.encode(), "plain.csv")
    want = roster.read(plain)
    runs = []
    for i, (name, data) in enumerate(attacks.roster_encodings()):
        path = wb.write(tmp_path, data, name)
        assert roster.read(path) == want, name
        runs.append(["template", "--roster", path, "-y", 2025, "-o", tmp_path / f"t{i}"])
    for r in hostile.many(runs, tmp_path):
        _assert_run(r, (0,))
        assert len(list(Path(r["argv"][-1]).iterdir())) == 3


# --- report --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["docx", "html", "md"])
def test_report_from_every_workbook_attack(corpus, tmp_path, fmt):
    out = tmp_path / "reports"
    result = hostile.wbtools(
        "report",
        corpus.folder("unit"),
        corpus.folder("county"),
        corpus.good,
        "-o",
        out,
        "--to",
        fmt,
    )
    hostile.assert_clean(result, (2,))  # 2: some input could not be read
    blocks = _blocks(result.err)
    for name, attack in {**corpus.unit, **corpus.county}.items():
        assert blocks.get(name, set()) & set(attack.codes), (name, blocks.get(name))
    assert [p.suffix for p in out.iterdir()] == [f".{fmt}"]  # the good file's report only
    assert not _leftovers(out)


def test_report_pdf_and_single_files(corpus, tmp_path):
    """report FILE -o OUT for each attack (unit and county), and --pdf: refused with the code,
    nothing written (no .part, no .pdf-tmp)."""
    runs = []
    for kind, items in (("unit", corpus.unit), ("county", corpus.county)):
        for name in items:
            runs.append(
                ["report", corpus.folder(kind) / name, "-o", tmp_path / f"{name}.docx", "--pdf"]
            )
    for r in hostile.many(runs, tmp_path):
        name = Path(r["argv"][1]).name
        _assert_run(r, (2,), (corpus.unit | corpus.county)[name].codes)
    assert not list(tmp_path.iterdir())


# --- import --------------------------------------------------------------------------------------


def test_import_every_report_attack(corpus, tmp_path):
    runs = [
        ["import", corpus.folder("published") / n, "-o", tmp_path / f"{n}.xlsx"]
        for n in corpus.published
    ]
    # a workbook attack given to import: refused by its suffix or its content (a workbook is
    # F115 whatever its name), never a traceback
    runs += [
        ["import", corpus.folder("unit") / n, "-o", tmp_path / f"{n}-w.xlsx"]
        for n in list(corpus.unit)[:5]
    ]
    for r in hostile.many(runs, tmp_path):
        name = Path(r["argv"][1]).name
        attack = corpus.published.get(name) or corpus.unit[name]
        _assert_run(r, (2,), (*attack.codes, "F102", "F110", "F115", "I101"))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", [".txt", ".html"])
def test_reports_in_odd_encodings_read_as_the_original(corpus, tmp_path, spec21, suffix):
    """A report saved as UTF-16 (with or without a byte order mark), GB18030 or UTF-8 with a BOM
    gives the values of the UTF-8 original."""
    text = corpus.text
    if suffix == ".html":
        text = (
            "<html><body>"
            + "".join(f"<p>{line}</p>" for line in text.splitlines())
            + "</body></html>"
        )
    original = importer.read(wb.write(tmp_path, text.encode(), "original" + suffix), spec21)
    assert original.readable and original.values
    for name, data in attacks.odd_encodings(text, suffix):
        filing = importer.read(wb.write(tmp_path, data, name), spec21)
        assert filing.readable, (name, [f.code for f in filing.findings])
        assert filing.values == original.values, name
        assert filing.unit == original.unit, name


# --- the portal ----------------------------------------------------------------------------------

PORTAL_SCRIPT = """
import json, sys
from pathlib import Path
from starlette.testclient import TestClient
from tests.portal_support import make_portal
from workbook_tools.portal.web import Config, create_app


# The portal checks in worker processes (forkserver): they import this script as __main__,
# so its work must sit under the guard.
def main():
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    portal = make_portal(folder / "portal")
    url = "/" + portal.links("")[0]["url"].split("/", 1)[1]
    answers = {}
    with TestClient(create_app(portal, Config(max_bytes=8 * 1024 * 1024))) as client:
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            r = client.post(url, files={"file": (path.name, path.read_bytes())},
                            headers={"accept": "application/json"})
            try:
                doc = r.json()
            except ValueError:
                doc = {"text": r.text[-2000:]}
            answers[path.name] = {"status": r.status_code, "doc": doc}
    portal.close()
    out.write_text(json.dumps(answers, ensure_ascii=False))


if __name__ == "__main__":
    main()
"""


def test_portal_upload_of_every_workbook_attack(corpus, tmp_path):
    """Each attack uploaded to a unit's link (the Starlette app in-process, in a child under the
    memory and CPU limits): a 4xx, or the check's answer with the attack's code and not passed."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    chosen = {**corpus.unit, **corpus.county}
    for name in chosen:
        kind = "unit" if name in corpus.unit else "county"
        (folder / name).write_bytes((corpus.folder(kind) / name).read_bytes())
    script = tmp_path / "portal_battery.py"
    script.write_text(PORTAL_SCRIPT)
    answers_file = tmp_path / "answers.json"
    proc = subprocess.run(
        [sys.executable, script, folder, answers_file],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=hostile._limits,
        cwd=hostile.ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(hostile.ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    answers = json.loads(answers_file.read_text())
    wrong = {}
    for name, attack in chosen.items():
        a = answers[name]
        if a["status"] >= 500:
            wrong[name] = a
            continue
        if 400 <= a["status"] < 500:
            continue
        files = a["doc"].get("files", [])
        found = {f["code"] for entry in files for f in entry["findings"]}
        if not files or files[0]["status"] == "passed" or not found & set(attack.codes):
            wrong[name] = (a["status"], sorted(found), attack.codes)
    assert not wrong, wrong


# --- folders that are not what they seem -----------------------------------------------------------


def test_folder_with_pipes_devices_loops_and_odd_names(corpus, tmp_path):
    """A named pipe, a link to /dev/zero, a symbolic-link loop, a dangling link, a folder linking
    to its parent and names with a newline or an escape sequence inside an input folder: nothing
    hangs or reads forever, the good file is checked, odd names are shown without control
    characters."""
    folder = tmp_path / "returned"
    folder.mkdir()
    os.mkfifo(folder / "pipe.xlsx")
    (folder / "zero.xlsx").symlink_to("/dev/zero")
    (folder / "loop.xlsx").symlink_to(folder / "loop.xlsx")
    (folder / "dangling.xlsx").symlink_to(folder / "nowhere.xlsx")
    (folder / "up").symlink_to(folder)
    odd = "bad\nname\x1b[31m.xlsx"
    (folder / odd).write_bytes((corpus.folder("unit") / "u-far-cell-xlsx.xlsx").read_bytes())
    (folder / "good.xlsx").write_bytes(corpus.good.read_bytes())
    for command in (
        ["check"],
        ["merge", "-o", tmp_path / "c.xlsx"],
        ["report", "-o", tmp_path / "r"],
    ):
        result = hostile.wbtools(*command, folder, timeout=120)
        hostile.assert_clean(result, (1, 2), "F108")
        assert "\x1b" not in result.text
        # the newline is shown as ls -b shows it: no line of the output starts inside the name
        assert not [line for line in result.out.splitlines() if line.startswith("name")]
    assert "bad\\nname" in hostile.wbtools("check", folder, timeout=120).out
    # named one by one, each is said to be what it is
    result = hostile.wbtools(
        "check",
        *(folder / n for n in ("pipe.xlsx", "zero.xlsx", "loop.xlsx", "dangling.xlsx")),
        timeout=60,
    )
    hostile.assert_clean(result, (2,))
    blocks = _blocks(result.out)
    assert blocks["pipe.xlsx"] == {"F113"} and blocks["zero.xlsx"] == {"F113"}
    assert blocks["loop.xlsx"] == {"F113"} and blocks["dangling.xlsx"] == {"F113"}, blocks
    assert "文件不存在" in result.out  # the dangling link: “not a file: no such file”


def test_ten_thousand_junk_files(tmp_path):
    """A folder of 10,000 tiny junk files: each is one finding, memory stays bounded (the child's
    limit), and no file costs a traceback."""
    folder = tmp_path / "junk"
    folder.mkdir()
    for i in range(10_000):
        # (random bytes after a fixed start: two random bytes are a gzip's magic 1 time in
        # 65,536, and an archive is F114)
        (folder / f"j{i:05}.xlsx").write_bytes(b"junk" + os.urandom(12))
    result = hostile.wbtools("check", folder, "--format", "json", timeout=240)
    hostile.assert_clean(result, (2,))
    files = json.loads(result.out)["files"]
    assert len(files) == 10_000
    assert all([f["code"] for f in e["findings"]] == ["F102"] for e in files)


def test_output_closed_early_is_not_a_traceback(corpus):
    """wbtools check … | head: the reader goes away; the command ends quietly."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbook_tools",
            "check",
            corpus.folder("unit"),
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=hostile.ROOT,
    )
    proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode(errors="replace")
    proc.wait(timeout=120)
    assert "Traceback" not in err, err[-2000:]
    assert proc.returncode != 0


# --- a file replaced while it is being read ---------------------------------------------------------

RACE_SCRIPT = """
import shutil, sys
from pathlib import Path
from workbook_tools import intake, reader, spec, importer
from workbook_tools.importer import sources

kind, good, bad, target = sys.argv[1], *map(Path, sys.argv[2:5])
shutil.copy(good, target)

def swap():  # the file is replaced after intake vetted it, before the parser reads it
    shutil.copy(bad, target)

if kind == "workbook":
    original = intake.calamine_book
    def hooked(path, data=b""):
        swap()
        return original(path, data)
    intake.calamine_book = hooked
    filing = reader.read(target, spec.load())
else:
    original = intake.vet_docx
    def hooked(*args, **kw):
        result = original(*args, **kw)
        swap()
        return result
    intake.vet_docx = hooked
    filing = importer.read(target, spec.load())
print(filing.readable, sorted({f.code for f in filing.findings}))
"""


@pytest.mark.parametrize("kind", ["workbook", "docx"])
def test_a_file_replaced_while_it_is_read(corpus, tmp_path, kind):
    """A returned workbook swapped for the far-cell one (or a Word report for a bomb) between
    intake's bounds and the parser: the parser reads what intake vetted, so the process neither
    aborts nor blows up; what it reports is the vetted file."""
    if kind == "workbook":
        good, bad = corpus.good, corpus.folder("unit") / "u-far-cell-xlsx.xlsx"
        target = tmp_path / "returned.xlsx"
    else:
        good = tmp_path / "good.docx"
        good.write_bytes(attacks.docx(attacks.word_document(attacks.para(corpus.text[:500]))))
        bad, target = corpus.folder("published") / "p-nested-tables-docx.docx", tmp_path / "r.docx"
    script = tmp_path / "race.py"
    script.write_text(RACE_SCRIPT)
    proc = subprocess.run(
        [sys.executable, script, kind, good, bad, target],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=hostile._limits,
        cwd=hostile.ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(hostile.ROOT), "RUST_BACKTRACE": "0"},
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if kind == "workbook":
        assert proc.stdout.startswith("True"), proc.stdout
    else:
        assert "F103" not in proc.stdout and "F106" not in proc.stdout, proc.stdout
