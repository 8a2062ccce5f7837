"""Checking many files streams: each report is printed as it arrives and then dropped, workers
send back only what is printed, only a few batches are in flight, and the output is the same
(byte for byte) as printing everything at the end."""

from __future__ import annotations

import itertools
import json
import os
import pickle

from workbook_tools import check, output, workers
from workbook_tools.roster import Unit

from . import workbooks as wb
from .conftest import run


def _folder(tmp_path, spec, n: int, bad_every: int = 3):
    """``n`` workbooks of distinct units; every ``bad_every``-th one with an error."""
    folder = tmp_path / "returned"
    folder.mkdir()
    good = wb.render(spec)
    values = wb.base_values(spec)
    values["t3.new.natural"] += 1
    bad = wb.render(spec, values, unit=Unit("柳河镇", "102", "乡镇"))
    for i in range(n):
        (folder / f"u{i:03d}.xlsx").write_bytes(bad if i % bad_every == 0 else good)
    return folder


def test_text_and_json_are_written_as_reports_arrive(tmp_path, spec21):
    paths = sorted(_folder(tmp_path, spec21, 4).iterdir())
    written: list[str] = []
    seen = []

    def reports():
        for report in check.iter_reports(paths, spec21, jobs=1, shape=check.brief):
            # Everything about the previous file is out before the next one is checked.
            seen.append(len(written))
            yield report

    code = output.stream_text(reports(), spec21, "zh", None, written.append)
    assert code == 1
    assert seen[0] == 0 and all(b > a for a, b in itertools.pairwise(seen))
    assert written[-1].startswith("共检查 4 个文件")
    written.clear(), seen.clear()
    assert output.stream_json(reports(), spec21, "en", written.append) == 1
    assert seen[0] == 1 and all(b > a for a, b in itertools.pairwise(seen))


def test_streamed_json_is_the_document_json_dumps_would_write(tmp_path, spec21):
    paths = sorted(_folder(tmp_path, spec21, 3).iterdir())
    reports = list(check.iter_reports(paths, spec21, jobs=1))
    for subset in (reports, reports[:1], []):
        text = output.as_json(subset, spec21, "zh")
        document = json.loads(text)
        assert text == json.dumps(document, ensure_ascii=False, indent=2, default=str)
        assert len(document["files"]) == len(subset)
        assert document["exit_code"] == (2 if not subset else 1)
        assert document["summary"]["n"] == len(subset)


def test_the_one_line_json_is_the_same_document(tmp_path, spec21):
    paths = sorted(_folder(tmp_path, spec21, 3).iterdir())
    reports = list(check.iter_reports(paths, spec21, jobs=1))
    for subset in (reports, reports[:1], []):
        for lang in ("zh", "en"):
            line = output.compact_json(output.document(subset, spec21, lang))
            assert "\n" not in line
            assert json.loads(line) == json.loads(output.as_json(subset, spec21, lang))
    # Escaped as the indented document is: DEL, C1 and direction overrides never go out raw.
    assert output.compact_json({"a": "x\u202ey\x7f"}) == '{"a":"x\\u202ey\\u007f"}'


def test_brief_reports_carry_what_is_printed_and_little_else(tmp_path, spec21):
    paths = sorted(_folder(tmp_path, spec21, 3).iterdir())
    full = list(check.iter_reports(paths, spec21, jobs=1))
    brief = list(check.iter_reports(paths, spec21, jobs=1, shape=check.brief))
    assert output.text(full, spec21) == output.text(brief, spec21)
    assert output.as_json(full, spec21, "en") == output.as_json(brief, spec21, "en")
    for f, b in zip(full, brief, strict=True):
        f.filing.spec = b.filing.spec = None  # as a worker sends it
        assert len(pickle.dumps(b)) * 4 < len(pickle.dumps(f))


def test_the_pool_keeps_only_a_few_batches_in_flight(tmp_path, spec21, monkeypatch):
    from concurrent.futures import ProcessPoolExecutor

    n = check.BATCH * 12
    folder = tmp_path / "many"
    folder.mkdir()
    one = wb.write(tmp_path, wb.render(spec21))
    for i in range(n):
        os.link(one, folder / f"u{i:04d}.xlsx")
    submitted = []
    real_submit = ProcessPoolExecutor.submit

    def counting(self, fn, *args, **kwargs):
        submitted.append(fn)
        return real_submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counting)
    stream = check.iter_reports(sorted(folder.iterdir()), spec21, jobs=2, shape=check.brief)
    first = next(stream)
    assert first.readable and first.filing.spec is spec21
    assert len(submitted) <= 2 * check.AHEAD + 1 < n // check.BATCH
    rest = list(stream)
    # whole batches, then smaller ones at the end (the list's length is known: chunk_sizes)
    sizes, left = [], n
    for size in workers.chunk_sizes(check.BATCH, 2, n):
        if not left:
            break
        sizes.append(size)
        left -= size
    assert sizes[: n // check.BATCH - 2] == [check.BATCH] * (n // check.BATCH - 2)
    assert len(rest) == n - 1 and len(submitted) == len(sizes)
    assert all(r.errors == 0 and r.filing.unit == "徐营镇" for r in rest)


def test_a_pool_ends_without_its_caller_waiting_and_settles(tmp_path, spec21, monkeypatch):
    """The pool's end does not wait for its workers to exit (the merge goes on with its sums
    meanwhile); ``workers.settle`` then leaves no worker and no thread of the pool behind (a
    process about to fork must have no other thread)."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    waits: list[bool] = []
    real_shutdown = ProcessPoolExecutor.shutdown

    def shutdown(self, wait=True, **kwargs):
        waits.append(wait)
        return real_shutdown(self, wait, **kwargs)

    monkeypatch.setattr(ProcessPoolExecutor, "shutdown", shutdown)
    folder = _folder(tmp_path, spec21, check.BATCH + 5)
    reports = list(check.iter_reports(sorted(folder.iterdir()), spec21, jobs=2, shape=check.brief))
    assert len(reports) == check.BATCH + 5
    assert waits == [False]
    ending = list(workers._ENDING)
    assert ending  # the pool's thread, waiting for its workers to exit
    workers.settle()
    assert multiprocessing.active_children() == []
    assert not [t for t in ending if t.is_alive() or t in threading.enumerate()]


def test_pool_and_one_process_print_the_same(tmp_path, spec21):
    folder = _folder(tmp_path, spec21, check.BATCH + 5)
    one = run("check", folder, "--jobs", 1, "--format", "json")
    two = run("check", folder, "--jobs", 2, "--format", "json")
    assert one.exit_code == two.exit_code == 1
    assert one.output == two.output
    feedback = tmp_path / "feedback"
    three = run("check", folder, "--jobs", 2, "--annotate", feedback)
    assert three.exit_code == 1
    assert len(list(feedback.iterdir())) == check.BATCH + 5


def test_default_jobs_follow_the_idle_cores():
    jobs = check.default_jobs()
    cores = len(os.sched_getaffinity(0))
    assert 1 <= jobs <= min(8, cores)
    if os.getloadavg()[0] >= cores:
        assert jobs == 1  # a busy machine: a second process would not help


# --- files taken one at a time ------------------------------------------------------------------


def _expand_as_before(paths, suffixes):
    """The reference: ``check.expand`` as it was (the whole list, one sort, Path.rglob)."""
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(
                q
                for q in p.rglob("*")
                if q.is_file()
                and q.suffix.lower() in suffixes
                and not q.name.startswith("~$")
                and not q.stem.lower().startswith("readme")
            )
        else:
            out.append(p)
    return list(dict.fromkeys(out))


def test_files_are_listed_one_at_a_time_in_the_order_and_set_of_before(tmp_path):
    """iter_files walks folders lazily (a 50,000-file run held every Path, its task tuple and,
    in each forked worker, a copy of both): same files, same order as one sort of the whole
    list -- names where string order and path order differ ("a-c" < "a/b" as strings, not as
    paths), nested folders beside files of the same stem, case, hidden files, Excel's ~$ lock
    files, README, other suffixes, a symbolic link to a file (taken) and to a folder (not
    entered), an empty folder."""
    root = tmp_path / "in"
    names = [
        "a/b.xlsx",
        "a-c.xlsx",
        "a.xlsx",
        "a/z/deep.XLSX",
        "a/z.xlsx",
        "b/.hidden.xlsx",
        "b/~$open.xlsx",
        "b/README.xlsx",
        "b/readme_first.pdf",
        "b/notes.txt",
        "b/report.PDF",
        "B.xlsx",
        "b.xls",
        "c d/空格 单位.ods",
        "c d/单位10.xlsx",
        "c d/单位2.xlsx",
        "x.xlsx.bak",
        ".xlsx",
    ]
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (root / "empty").mkdir()
    (root / "link.xlsx").symlink_to(root / "a.xlsx")
    (root / "linked-folder").symlink_to(root / "a", target_is_directory=True)
    (root / "dangling.xlsx").symlink_to(root / "nowhere.xlsx")
    suffixes = (*check.CHECKED_SUFFIXES, ".pdf")
    for given in ([root], [root / "a", root / "a.xlsx", root / "a"], [root / "b", root]):
        expected = _expand_as_before(given, suffixes)
        assert check.expand(given, suffixes) == expected
        assert list(check.iter_files(given, suffixes)) == expected
    assert check.expand([root]) == _expand_as_before(
        [root], (*check.CHECKED_SUFFIXES, ".html", ".htm", ".docx", ".doc", ".wps", ".pdf")
    )
    walk = check.iter_files([root], suffixes)
    assert next(walk) == root / "B.xlsx"  # (upper case sorts first)


def test_reports_take_their_files_a_few_batches_at_a_time(tmp_path, spec21):
    """iter_reports made a task tuple for every file before the first was checked; it now takes
    its paths lazily, so the first report comes after only the batches in flight were read."""
    one = wb.write(tmp_path, wb.render(spec21))
    n = check.BATCH * 12
    taken = []

    def paths():
        for i in range(n):
            taken.append(i)
            yield one

    stream = check.iter_reports(paths(), spec21, jobs=2, shape=check.brief)
    assert next(stream).readable
    assert len(taken) <= (2 * check.AHEAD + 1) * check.BATCH < n
    assert sum(1 for _ in stream) == n - 1 and len(taken) == n
    taken.clear()
    serial = check.iter_reports(paths(), spec21, jobs=1, shape=check.brief)
    assert next(serial).readable and len(taken) <= check.BATCH


def test_names_in_a_folder_are_ordered_as_paths_are():
    """_walk sorts a folder's names as strings (case-folded on Windows) instead of making a
    Path per name: that must be the order Path gives, on either kind of system."""
    from pathlib import PurePosixPath, PureWindowsPath

    names = [
        "a-c",
        "a",
        "A",
        "a.b",
        "a b",
        "Ab",
        "aB",
        "_x",
        "~$a",
        "10",
        "9",
        "单位2",
        "单位10",
        ".h",
    ]
    assert sorted(names) == sorted(names, key=PurePosixPath)
    assert sorted(names, key=str.lower) == sorted(names, key=PureWindowsPath)
