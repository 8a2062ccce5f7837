"""A time-boxed mutation fuzzer over every reader (not part of the test suite).

``python -m tests.fuzz SEEDS_DIR [--cases N] [--seed S] [--minutes M] [--work DIR]``

Each seed file (a workbook .xlsx/.xlsm/.xls/.ods, a published report .pdf/.docx/.doc/.html/.txt/.md,
a roster .csv) is mutated with a fixed random seed: cut short at an offset, bits flipped, a run of
bytes overwritten, and for zip packages (xlsx, ods, docx) one XML part edited *inside* the package
(a slice deleted, duplicated or replaced by hostile text, numbers replaced by odd ones) and the
package rebuilt with right CRCs, so the mutation reaches the XML parsers rather than stopping at
the zip layer. Workbooks and reports go through ``check --format json --jobs 1``; rosters through
``template --roster``. Batches of command lines run in one child (tests/battery_runner.py) under
RLIMIT_AS 1.5 GB, RLIMIT_CPU and a wall timeout; a batch that dies is re-run one case at a time to
name the culprit. A case fails when it raises, prints a traceback or "panicked", exits with a
code other than 0/1/2 or by a signal, takes longer than the case limit, or changes its input.
Each failure is copied to ``WORK/failures/`` with a line in ``WORK/failures.txt``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from tests.hostile import _limits

WORKBOOK = {".xlsx", ".xlsm", ".xls", ".ods"}
REPORT = {".pdf", ".docx", ".doc", ".html", ".htm", ".txt", ".md"}
ROSTER = {".csv"}
HOSTILE_TEXT = [
    b"",
    b"\x00",
    b"<",
    b"&",
    b"&#0;",
    b"&#xD800;",
    b"&#99999999;",
    b"]]>",
    b"<![CDATA[",
    b"1E+309",
    b"-1",
    b"NaN",
    b"99999999999999999999999999999",
    b"\xef\xbf\xbf",
    b"\xff\xfe",
    b'"',
    b"'",
    b'r="A0"',
    b'r="XFD1048576"',
    b'r="A1048577"',
    b't="e"',
    b't="d"',
    b't="b"',
    b't="inlineStr"',
    b't="s"',
    b"<v>4294967296</v>",
    b"<v>-1</v>",
    b"<v></v>",
    b's="99999"',
    b'ref="A1:XFD1048576"',
    b'<c r="B2" t="s"><v>999999</v></c>',
    b'<mergeCell ref="A1:ZZ99999"/>',
    b'table:number-columns-repeated="16384"',
    b'table:number-rows-repeated="1048576"',
    b'office:value-type="date" office:date-value="99999-01-01"',
    b'office:value="1e400"',
    b"\xe5\xb9\xb4",  # 年
]


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(["cut", "flip", "overwrite", "insert", "delete"])
    n = len(data)
    if kind == "cut":
        at = rng.randrange(0, n)
        return f"cut@{at}", data[:at]
    if kind == "flip":
        b = bytearray(data)
        k = rng.choice([1, 2, 8, 64])
        for _ in range(k):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        return f"flip{k}", bytes(b)
    at = rng.randrange(0, n)
    if kind == "overwrite":
        size = rng.choice([1, 4, 16, 256])
        junk = bytes(rng.randrange(256) for _ in range(size))
        return f"overwrite@{at}+{size}", data[:at] + junk + data[at + size :]
    if kind == "insert":
        junk = rng.choice(HOSTILE_TEXT)
        return f"insert@{at}", data[:at] + junk + data[at:]
    size = rng.choice([1, 16, 256, 4096])
    return f"delete@{at}+{size}", data[:at] + data[at + size :]


def mutate_xml(xml: bytes, rng: random.Random) -> tuple[str, bytes]:
    """An edit of one XML part's text: structure-aware enough to reach the parsers."""
    kind = rng.choice(["slice", "dup", "hostile", "number", "attr", "tag"])
    n = max(len(xml), 1)
    at = rng.randrange(n)
    if kind == "slice":
        size = rng.choice([1, 10, 100, 1000])
        return f"slice@{at}+{size}", xml[:at] + xml[at + size :]
    if kind == "dup":
        size = rng.choice([10, 100, 1000])
        times = rng.choice([2, 10, 100])
        return f"dup@{at}+{size}x{times}", xml[:at] + xml[at : at + size] * times + xml[at:]
    if kind == "hostile":
        return f"hostile@{at}", xml[:at] + rng.choice(HOSTILE_TEXT) + xml[at:]
    if kind == "number":
        nums = list(re.finditer(rb">(-?\d+(?:\.\d+)?)<", xml))
        if not nums:
            return "number-none", xml
        m = rng.choice(nums)
        new = rng.choice(
            [
                b"1E+309",
                b"-0",
                b"NaN",
                b"inf",
                b"1e-400",
                b"9" * 40,
                b"",
                b"0x10",
                b"1,000",
                b"\xef\xbc\x91\xef\xbc\x92",
                b"12\xe4\xb8\x87\xe5\x85\x83",
                b"-5",
                b"3.5",
                b"#REF!",
            ]
        )
        return f"number@{m.start(1)}", xml[: m.start(1)] + new + xml[m.end(1) :]
    if kind == "attr":
        attrs = list(re.finditer(rb'(\w[\w:.-]*)="([^"]*)"', xml))
        if not attrs:
            return "attr-none", xml
        m = rng.choice(attrs)
        new = rng.choice(
            [
                b"",
                b"-1",
                b"0",
                b"99999999999",
                b"A0",
                b"XFD1048576",
                b"ZZZZ1",
                b"e",
                b"s",
                b"inlineStr",
                b"str",
                b"d",
                b"1E+309",
                b"true",
                b"../../x",
                b"/xl/x.xml",
            ]
        )
        return f"attr@{m.start(2)}", xml[: m.start(2)] + new + xml[m.end(2) :]
    tags = list(re.finditer(rb"<(/?)([\w:]+)", xml))
    if not tags:
        return "tag-none", xml
    m = rng.choice(tags)
    new = rng.choice(
        [b"c", b"row", b"v", b"is", b"t", b"f", b"sheetData", b"x:c", b"table:table-cell"]
    )
    return f"tag@{m.start(2)}", xml[: m.start(2)] + new + xml[m.end(2) :]


def mutate_zip(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        items = [(i, zf.read(i)) for i in zf.infolist()]
    xmlish = [k for k, (i, b) in enumerate(items) if i.filename.endswith((".xml", ".rels"))]
    k = rng.choice(xmlish)
    info, body = items[k]
    how, new = mutate_xml(body, rng)
    items[k] = (info, new)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i, b in items:
            zf.writestr(i.filename, b, compress_type=i.compress_type)
    return f"zip:{info.filename}:{how}", out.getvalue()


def mutate_text(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """Text inputs: line ends, encodings, separators, long lines as well as byte edits."""
    kind = rng.choice(
        ["bytes", "bytes", "crlf", "cr", "utf16", "gb18030", "longline", "sep", "bom"]
    )
    if kind == "bytes":
        return mutate_bytes(data, rng)
    text = data.decode("utf-8", "replace")
    if kind == "crlf":
        return kind, text.replace("\n", "\r\n").encode()
    if kind == "cr":
        return kind, text.replace("\n", "\r").encode()
    if kind == "utf16":
        return kind, text.encode(rng.choice(["utf-16", "utf-16-le", "utf-16-be"]))
    if kind == "gb18030":
        return kind, text.encode("gb18030", "replace")
    if kind == "longline":
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        lines[i] = lines[i] * rng.choice([100, 1000, 10000])
        return kind, "\n".join(lines).encode()
    if kind == "sep":
        return kind, text.replace(",", rng.choice([";", "\t", "|", "，", "\x00", '"'])).encode()
    return kind, b"\xef\xbb\xbf" + data


def mutant(path: Path, rng: random.Random) -> tuple[str, bytes]:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if data[:2] == b"PK" and rng.random() < 0.6:
        try:
            return mutate_zip(data, rng)
        except (zipfile.BadZipFile, IndexError, ValueError):
            pass
    if suffix in {".csv", ".txt", ".md", ".html", ".htm"} and rng.random() < 0.6:
        return mutate_text(data, rng)
    return mutate_bytes(data, rng)


def command(path: Path, out: Path) -> list[str]:
    if path.suffix.lower() in ROSTER:
        return ["template", "--roster", str(path), "--year", "2025", "-o", str(out)]
    return ["check", str(path), "--format", "json", "--jobs", "1"]


def run_batch(argvs: list[list[str]], timeout: float) -> list[dict] | None:
    with tempfile.TemporaryDirectory() as tmp:
        runs, results = Path(tmp, "runs.json"), Path(tmp, "results.json")
        runs.write_text(json.dumps(argvs), encoding="utf-8")
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "tests.battery_runner", str(runs), str(results)],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                preexec_fn=_limits,
                env={"PATH": "/usr/bin:/bin", "WBTOOLS_LANG": "en", "RUST_BACKTRACE": "0"},
            )
        except subprocess.TimeoutExpired:
            return None
        if proc.returncode != 0 or not results.exists():
            return None
        return json.loads(results.read_text(encoding="utf-8"))


def problem(result: dict | None, case_seconds: float) -> str | None:
    if result is None:
        return "died or hung (signal, abort, memory or timeout)"
    text = result["out"] + result["err"]
    if result["code"] == "raised" or "Traceback" in text:
        return "traceback: " + text[-600:]
    if "panicked" in text:
        return "panic: " + text[-600:]
    if result["code"] not in (0, 1, 2):
        return f"exit code {result['code']}: " + text[-300:]
    if result["seconds"] > case_seconds:
        return f"slow: {result['seconds']} s"
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("seeds", type=Path)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--batch", type=int, default=40)
    ap.add_argument("--case-seconds", type=float, default=10)
    ap.add_argument("--work", type=Path, default=Path("out/fuzz"))
    args = ap.parse_args()
    seeds = sorted(
        p for p in args.seeds.iterdir() if p.suffix.lower() in WORKBOOK | REPORT | ROSTER
    )
    rng = random.Random(args.seed)
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    (work / "failures").mkdir(parents=True)
    log = (work / "failures.txt").open("w", encoding="utf-8")
    deadline = time.monotonic() + args.minutes * 60
    done = failures = 0
    while done < args.cases and time.monotonic() < deadline:
        batch_dir = work / "batch"
        shutil.rmtree(batch_dir, ignore_errors=True)
        batch_dir.mkdir()
        cases = []
        for i in range(min(args.batch, args.cases - done)):
            seed_file = rng.choice(seeds)
            how, data = mutant(seed_file, rng)
            path = batch_dir / f"{done + i:05d}-{seed_file.stem}{seed_file.suffix}"
            path.write_bytes(data)
            out = batch_dir / f"{done + i:05d}-out"
            cases.append((path, how, command(path, out), hashlib.sha256(data).hexdigest()))
        results = run_batch([c[2] for c in cases], timeout=args.case_seconds * len(cases) + 60)
        if results is None:
            results = [
                (r[0] if (r := run_batch([c[2]], timeout=args.case_seconds + 30)) else None)
                for c in cases
            ]
        for (path, how, argv, sha), result in zip(cases, results, strict=True):
            why = problem(result, args.case_seconds)
            if why is None and hashlib.sha256(path.read_bytes()).hexdigest() != sha:
                why = "input modified"
            if why:
                failures += 1
                shutil.copy(path, work / "failures" / path.name)
                log.write(f"{path.name}\t{how}\t{' '.join(argv[:1])}\t{why!r}\n")
                log.flush()
                print(f"FAIL {path.name} {how}: {why[:200]}", flush=True)
        done += len(cases)
        print(f"{done} cases, {failures} failures", flush=True)
    log.close()
    print(f"done: {done} cases, {failures} failures; see {work / 'failures.txt'}")


if __name__ == "__main__":
    main()
