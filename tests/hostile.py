"""Running wbtools on hostile input in a child process under memory and CPU limits, and the
generated attack files (small on disk, made at test time)."""

from __future__ import annotations

import hashlib
import re
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests import workbooks as wb

MEMORY = 1536 * 1024 * 1024  # address space: the CLI with pandas and calamine needs ~700 MB
CPU_SECONDS = 60
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def _limits(file_size: int | None = None) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    if file_size is not None:  # a full disk: writes past this size fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # (else the signal kills the process)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))


def wbtools(
    *args, cwd: Path | None = None, timeout: float = 90, stdin=None, file_size: int | None = None
) -> Outcome:
    """The real command line in a child process with bounded memory and CPU time. An abort or a
    hang fails the caller's test (a negative return code or a timeout)."""
    proc = subprocess.run(
        [sys.executable, "-m", "workbook_tools", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        preexec_fn=lambda: _limits(file_size),
        cwd=cwd,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        env={
            "PATH": "/usr/bin:/bin",
            "WBTOOLS_LANG": "zh",
            "RUST_BACKTRACE": "0",
            # under a file size limit a .pyc would be written cut short and break later runs
            **({"PYTHONDONTWRITEBYTECODE": "1"} if file_size is not None else {}),
        },
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def assert_clean(result: Outcome, codes: tuple[int, ...], finding: str | None = None) -> None:
    """No abort (signal), no traceback, a documented exit code, and the finding expected."""
    assert result.code >= 0, f"killed by signal {-result.code}: {result.err[-2000:]}"
    assert "Traceback" not in result.text, result.text[-3000:]
    assert "panicked" not in result.text, result.text[-3000:]
    assert result.code in codes, (result.code, result.text[-3000:])
    if finding:
        assert re.search(rf"\b{finding}\b", result.text), result.text[-3000:]


def digest(paths) -> dict[str, str]:
    """Every input's bytes, to show afterwards that nothing was modified."""
    out = {}
    for p in paths:
        p = Path(p)
        for q in [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()):
            out[str(q)] = hashlib.sha256(q.read_bytes()).hexdigest()
    return out


def far_cell(spec, ref: str = "XFD1048576", sheet: str | None = None) -> bytes:
    """A real template whose table sheet has one extra cell at ``ref`` and no <dimension>: a few
    KB on disk, a dense range of up to 17 billion cells for a reader that trusts corners."""
    data = wb.render(spec)
    sheet = sheet or spec.tables[0].sheet
    row = re.match(r"[A-Z]+(\d+)", ref).group(1)

    def change(xml: bytes) -> bytes:
        xml = re.sub(rb"<dimension[^>]*/>", b"", xml)
        cell = f'<row r="{row}"><c r="{ref}"><v>1</v></c></row></sheetData>'.encode()
        return xml.replace(b"</sheetData>", cell, 1)

    return wb.edit_part(data, wb.sheet_part(data, sheet), change)


def sparse_sheets(spec, count: int = 40, ref: str = "ALL2000") -> bytes:
    """A template plus ``count`` extra sheets, each with one cell at ``ref``: small on disk, each
    sheet under the one-sheet bound, together far over any report."""
    import io
    import zipfile

    data = wb.render(spec)
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    row = re.match(r"[A-Z]+(\d+)", ref).group(1)
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
        f'<row r="{row}"><c r="{ref}"><v>1</v></c></row></sheetData></worksheet>'
    ).encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/workbook.xml":
                extra = "".join(
                    f'<sheet name="extra{i}" sheetId="{900 + i}" r:id="rIdX{i}"/>'
                    for i in range(count)
                )
                body = body.replace(b"</sheets>", extra.encode() + b"</sheets>")
            elif info.filename == "xl/_rels/workbook.xml.rels":
                extra = "".join(
                    f'<Relationship Id="rIdX{i}" Type="http://schemas.openxmlformats.org/'
                    f'officeDocument/2006/relationships/worksheet" Target="worksheets/x{i}.xml"/>'
                    for i in range(count)
                )
                body = body.replace(b"</Relationships>", extra.encode() + b"</Relationships>")
            elif info.filename == "[Content_Types].xml":
                extra = "".join(
                    f'<Override PartName="/xl/worksheets/x{i}.xml" ContentType="application/'
                    f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    for i in range(count)
                )
                body = body.replace(b"</Types>", extra.encode() + b"</Types>")
            dst.writestr(info, body)
        for i in range(count):
            dst.writestr(f"xl/worksheets/x{i}.xml", sheet)
    return out.getvalue()


def far_roster(ref: str = "XFD1048576") -> bytes:
    """A roster workbook (header and one unit) with one cell at ``ref`` and no <dimension>."""
    import io

    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("名册")
    sheet.write_row(0, 0, ["单位名称", "单位代码", "单位类型"])
    sheet.write_row(1, 0, ["徐营镇", "101", "乡镇"])
    sheet.write(ref, "x")
    book.close()
    data = out.getvalue()
    return wb.edit_part(
        data, "xl/worksheets/sheet1.xml", lambda x: re.sub(rb"<dimension[^>]*/>", b"", x)
    )


def docx_bomb(unpacked_mb: int = 40) -> bytes:
    """A Word file whose document.xml inflates to ``unpacked_mb`` MB (of one repeated
    paragraph): tens of KB on disk."""
    import io
    import zipfile

    out = io.BytesIO()
    para = b"<w:p><w:r><w:t>" + "本年度依法公开。".encode() * 50 + b"</w:t></w:r></w:p>"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Override PartName="/word/document.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(
                b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                b'wordprocessingml/2006/main"><w:body>'
            )
            block = para * 1000
            for _ in range(unpacked_mb * 1024 * 1024 // len(block)):
                fh.write(block)
            fh.write(b"</w:body></w:document>")
    return out.getvalue()


def nested_html(depth: int = 100_000) -> bytes:
    return b"<html><body>" + b"<div>" * depth + b"x" + b"</div>" * depth + b"</body></html>"


ROOT = Path(__file__).resolve().parent.parent


def many(runs: list[list], folder: Path, timeout: float = 300) -> list[dict]:
    """Many command lines in one child under the same limits (tests/battery_runner.py): each
    result has ``argv``, ``code`` (an int, or "raised" when an exception escaped), ``out``,
    ``err`` and ``seconds``. The child must itself end cleanly (no signal, no hang)."""
    import json

    spec_file, result_file = folder / "runs.json", folder / "results.json"
    spec_file.write_text(json.dumps([[str(a) for a in argv] for argv in runs], ensure_ascii=False))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.battery_runner", spec_file, result_file],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        preexec_fn=_limits,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "WBTOOLS_LANG": "zh", "RUST_BACKTRACE": "0"},
    )
    assert proc.returncode == 0, f"runner ended {proc.returncode}: {proc.stderr[-3000:]}"
    results = json.loads(result_file.read_text())
    spec_file.unlink()
    result_file.unlink()
    return results


def codes_in(text: str) -> set[str]:
    """The finding codes a command printed."""
    return set(re.findall(r"\b([A-Z]\d{3}|[A-Z]\d)\b", text))
