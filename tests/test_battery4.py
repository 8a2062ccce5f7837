"""Published reports a stranger can send that made a reader's work grow faster than the file: each
probed at growing sizes, then turned into a small case run through the real command line in a child
under memory and CPU limits (an abort or a hang fails the test)."""

from __future__ import annotations

import random

import pymupdf
import pytest

from tests import hostile

A4 = pymupdf.Rect(0, 0, 595, 842)
BODY = pymupdf.Rect(30, 50, 565, 792)


def _ruled(rows: int, columns: int, box: pymupdf.Rect = BODY) -> pymupdf.Document:
    """One page ruled into a grid of rows x columns cells inside ``box``, with a line of text."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    shape = page.new_shape()
    for i in range(rows + 1):
        y = box.y0 + i * box.height / rows
        shape.draw_line((box.x0, y), (box.x1, y))
    for j in range(columns + 1):
        x = box.x0 + j * box.width / columns
        shape.draw_line((x, box.y0), (x, box.y1))
    shape.finish(color=(0, 0, 0), width=0.3)
    shape.commit()
    page.insert_text((box.x0 + 2, box.y0 + 3), "1 2 3", fontsize=3)
    return doc


def _shown_on(source: pymupdf.Document, pages: int) -> bytes:
    """A PDF whose pages all show ``source``'s first page: one copy of its drawing, so the
    file grows by a few hundred bytes a page however much the page holds."""
    doc = pymupdf.open()
    for _ in range(pages):
        doc.new_page(width=A4.width, height=A4.height).show_pdf_page(A4, source, 0)
    return doc.tobytes(deflate=True, garbage=3)


def test_a_cell_s_rules_are_looked_up_not_searched():
    """Whether a rule is drawn between two grid cells was a pass over every rule of the grid, for
    each cell: a page ruled 200 by 200 (40,000 cells, 400 rules) took 1.3 s. Now each line's
    drawn stretches are merged once and a cell is one bisection — the same answer as the pass
    over every rule (tested here against it on random rules, on a grid of quarter points so that
    the arithmetic is exact)."""
    from workbook_tools.importer import pdf

    def passes_every_rule(segs, at, lo, hi):  # the rule as it was written before
        mid = (lo + hi) / 2
        return any(abs(p - at) <= pdf.TOL and a - pdf.TOL <= mid <= b + pdf.TOL for p, a, b in segs)

    pick = random.Random(11)
    for _ in range(300):
        segs = []
        for _ in range(pick.randint(0, 12)):
            a = pick.randint(0, 160) / 4
            segs.append((pick.randint(0, 40) / 4, a, a + pick.randint(0, 60) / 4))
        positions = sorted({pick.randint(0, 40) / 4 for _ in range(6)})
        rules = pdf._Rules(segs, positions)
        for at in positions:
            for _ in range(20):
                lo = pick.randint(-20, 240) / 4
                hi = lo + pick.randint(0, 40) / 4
                assert rules.has(at, lo, hi) == passes_every_rule(segs, at, lo, hi)


def test_a_small_pdf_ruled_finely_on_every_page_is_refused_in_time(tmp_path):
    """A small PDF can show one finely ruled page on 300 pages: 60 such pages (36 KB) took 148 s to
    import (each page's grid of 40,000 cells read in full). The work of reading ruled tables has
    one budget for the whole document (some 20 times what the largest real report spends): past
    it the PDF is refused as too large, F106, in a second or two."""
    path = tmp_path / "ruled.pdf"
    path.write_bytes(_shown_on(_ruled(199, 199), 300))
    assert path.stat().st_size < 200_000  # 300 pages of a few hundred bytes each
    run = hostile.wbtools("import", path, "-o", tmp_path / "ruled.xlsx", timeout=60)
    hostile.assert_clean(run, (2,), "F106")


def test_characters_placed_in_grids_count_towards_the_budget(tmp_path):
    """Each grid took every character of its page and kept those inside it: sixty narrow tables
    side by side, each as tall as the page, cost sixty passes over every character of every page.
    A grid now looks only at the characters level with it (one sorted pass per page), and what it
    looks at counts towards the same budget as the crossings and cells: such pages are refused
    (F106) once the budget is spent, instead of reading on."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    shape = page.new_shape()
    for k in range(60):  # 60 grids of 2 x 1 cells, 4 points wide, 5 points apart: not joined
        x = 30 + k * 9
        for y in (50, 420, 790):
            shape.draw_line((x, y), (x + 4, y))
        shape.draw_line((x, 50), (x, 790))
        shape.draw_line((x + 4, 50), (x + 4, 790))
    shape.finish(color=(0, 0, 0), width=0.2)
    shape.commit()
    writer = pymupdf.TextWriter(page.rect)
    font = pymupdf.Font("helv")
    for row in range(60):
        writer.append((30, 52 + row * 12), "7 " * 50, font=font, fontsize=4)
    writer.write_text(page)
    path = tmp_path / "columns.pdf"
    path.write_bytes(_shown_on(doc, 20))
    run = hostile.wbtools("import", path, "-o", tmp_path / "columns.xlsx", timeout=60)
    hostile.assert_clean(run, (2,), "F106")


def _form_bomb(depth: int, inherited: bool) -> bytes:
    """A page that draws a form that draws the next form ten times, ``depth`` levels down to a
    line of text: under 3 KB of PDF, 10**(depth-1) lines of text to run. ``inherited``: the forms
    have no resources of their own and draw by the page's names."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    page.insert_text((50, 100), "2024 1 2 3", fontsize=12)
    resources = int(doc.xref_get_key(page.xref, "Resources")[1].split()[0])
    names: list[tuple[str, int]] = []
    for level in range(depth):
        xref = doc.get_new_xref()
        if names:
            below, below_xref = names[-1]
            body = b" ".join(b"q 1 0 0 1 %d 0 cm /%s Do Q" % (i, below.encode()) for i in range(10))
            own = "" if inherited else f"/Resources << /XObject << /{below} {below_xref} 0 R >> >>"
        else:
            body = b"BT /helv 1 Tf 1 0 0 1 10 10 Tm (12) Tj ET 0 0 m 5 0 l S"
            own = "" if inherited else "/Resources << /Font << /helv << /Type /Font "
            own += "" if inherited else "/Subtype /Type1 /BaseFont /Helvetica >> >> >>"
        doc.update_object(xref, f"<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] {own} >>")
        doc.update_stream(xref, body)
        names.append((f"L{level}", xref))
    shown = names if inherited else names[-1:]
    doc.xref_set_key(
        resources, "XObject", "<< " + " ".join(f"/{n} {x} 0 R" for n, x in shown) + " >>"
    )
    contents = page.get_contents()[0]
    doc.update_stream(contents, doc.xref_stream(contents) + f"\nq /{names[-1][0]} Do Q".encode())
    return doc.tobytes()


@pytest.mark.parametrize("inherited", [False, True], ids=["own-resources", "page-resources"])
def test_a_pdf_content_bomb_is_refused_before_it_is_drawn(tmp_path, inherited):
    """Forms drawing forms ten times over, nine levels deep: a PDF of under 3 KB that has MuPDF
    draw 10**8 lines of text (six levels took 7 s; nine, hours and all memory). The content a page
    runs is reckoned first from its forms' sizes and draw operators (a form without resources of
    its own draws from the page's): past 4 MB a page (real ones run under 100 KB) is F106 at once.
    Five levels, 0.8 MB, still reads."""
    from workbook_tools.importer import pdf

    path = tmp_path / "bomb.pdf"
    path.write_bytes(_form_bomb(9, inherited))
    assert path.stat().st_size < 4000
    run = hostile.wbtools("import", path, "-o", tmp_path / "bomb.xlsx", timeout=60)
    hostile.assert_clean(run, (2,), "F106")
    small = tmp_path / "small.pdf"
    small.write_bytes(_form_bomb(5, inherited))
    assert "2024 1 2 3" in pdf.pdf_lines(small)


def test_the_reader_runs_in_a_child_bounded_in_cpu_and_memory(tmp_path, monkeypatch):
    """Whatever shape MuPDF meets that no bound foresaw, it meets it in a forked child with a CPU
    limit and a memory limit: out of either is F106, a crash is F103, for that file only. Here the
    bounds are lowered so that a finely ruled PDF runs out of CPU time, and the child's own
    outcomes are shown one by one: a value, a reader's finding, memory, CPU, a crash."""
    import gc
    import os
    import signal

    from workbook_tools import bounded
    from workbook_tools.importer import PdfError, pdf

    assert bounded.run(lambda: os.getpid()) != os.getpid()
    # the parent's objects are frozen in the child: no collection copies the parent's heap
    assert bounded.run(gc.get_freeze_count) > 0
    with pytest.raises(PdfError) as raised:
        bounded.run(lambda: pdf._Work(0).spend(1))
    assert raised.value.code == "F106" and "ruled" in raised.value.args_["detail"]
    with pytest.raises(bounded.Exhausted) as out:
        bounded.run(lambda: bytearray(1 << 30), memory=256 << 20)
    assert out.value.what == "memory"
    with pytest.raises(bounded.Exhausted) as out:
        bounded.run(lambda: sum(range(10**10)), cpu_seconds=1)
    assert out.value.what == "cpu"
    with pytest.raises(bounded.Exhausted) as out:
        bounded.run(lambda: os.kill(os.getpid(), signal.SIGSEGV))
    assert (out.value.what, out.value.detail) == ("crash", "SIGSEGV")

    path = tmp_path / "ruled.pdf"
    path.write_bytes(_shown_on(_ruled(199, 199), 60))
    monkeypatch.setattr(pdf, "MAX_TABLE_WORK", 10**9)
    monkeypatch.setattr(bounded, "CPU_SECONDS", 1)
    with pytest.raises(PdfError) as raised:
        pdf.pdf_lines(path)
    assert raised.value.code == "F106" and "CPU" in raised.value.args_["detail"]


def test_a_child_leaves_what_it_keeps_to_its_exit():
    """The reader's child hands a document's characters to its exit (bounded.keep) instead of
    freeing them one by one: there they stay alive, out of the collector's sight, until the exit;
    without a fork (the work in this process) keep holds nothing."""
    import gc
    import weakref

    from workbook_tools import bounded

    class Thing:
        pass

    def work():
        thing = Thing()
        ref = weakref.ref(thing)
        frozen = gc.get_freeze_count()
        bounded.keep([thing])
        del thing
        gc.collect()
        return ref() is not None, gc.get_freeze_count() > frozen

    held, frozen = bounded.run(work)
    assert held and frozen
    assert bounded._kept is None  # (the parent keeps nothing)
    thing = Thing()
    ref = weakref.ref(thing)
    bounded.keep([thing])
    del thing
    assert ref() is None


# --- what reaches a real terminal ---------------------------------------------------------------

# An operating-system command (set the window title) and a blink: never from our own colouring.
_INJECTED = ("\x1b]0;pwned\x07", "\x1b[5m")


def _on_a_terminal(*args, timeout: float = 120) -> str:
    """The command line run on a pseudo-terminal, as an operator sees it: click strips escape
    sequences only from output that is not a terminal, so a pipe hides what a terminal gets."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbook_tools", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={"PATH": "/usr/bin:/bin", "WBTOOLS_LANG": "zh", "TERM": "xterm", "COLUMNS": "200"},
    )
    os.close(follower)
    out, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(leader)
    return out.decode("utf-8", "replace")


def test_names_from_files_do_not_drive_the_terminal(tmp_path, spec21):
    """A returned file named with escape sequences and a newline: check, merge (its summary names
    the unit it could not read by the file's name) and report print it on a real terminal without
    the sequences, and the newline does not start a line that could pass for a verdict."""
    from workbook_tools import template
    from workbook_tools.roster import Unit

    folder = tmp_path / "returned"
    folder.mkdir()
    good = template.render(spec21, Unit("测试镇", "1", "乡镇"), 2025)
    (folder / f"甲{_INJECTED[0]}镇\n✓ 乙镇 通过{_INJECTED[1]}.xlsx").write_bytes(b"not a workbook")
    (folder / "测试镇.xlsx").write_bytes(good)
    for command in (
        ["check", folder],
        ["merge", folder, "-o", tmp_path / "county.xlsx"],
        ["report", folder, "-o", tmp_path / "reports", "--allow-errors"],
    ):
        shown = _on_a_terminal(*command)
        assert "Traceback" not in shown, shown
        assert "甲" in shown, (command, shown)  # the file is named…
        for sequence in _INJECTED:  # …without what would drive the terminal
            assert sequence not in shown, (command, shown)
        assert not [line for line in shown.splitlines() if line.lstrip().startswith("✓ 乙镇")]
