"""The ``wbtools`` entry point: ``check`` run by a script starts without the CLI framework.

``wbtools check FILE`` is what a portal or a script calls once per uploaded file, so its start-up
is most of its cost: loading typer and building its command tree takes longer than checking the
workbook. When ``check`` is called with options this module knows, in their plain forms, and no
terminal is attached (nothing to colour, no progress bar), the options are read here and the same
``run_check`` runs that the typer command runs. Anything else (help, other commands, a value to
reject, an option this parser does not know) goes to typer in ``cli``, so every message, help
text and error stays typer's. tests/test_startup.py holds the two to the same options and output.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The check command's options as cli.py declares them: flag -> (parameter, allowed values).
CHECK_OPTIONS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "--format": ("output_format", ("text", "json")),
    "-f": ("output_format", ("text", "json")),
    "--previous": ("previous", None),
    "-p": ("previous", None),
    "--annotate": ("annotate", None),
    "-a": ("annotate", None),
    "--jobs": ("jobs", None),
    "-j": ("jobs", None),
    "--spec": ("spec_name", None),
    "--lang": ("lang", ("zh", "en")),
}
LANG_ENV = "WBTOOLS_LANG"

# The words run_check says itself (the same as cli.MESSAGES; a test keeps them equal).
WORDS = {
    "zh": {"cannot_run": "无法执行：", "annotated": "已生成 {n} 个反馈工作簿，保存在 {path}"},
    "en": {"cannot_run": "Cannot run:", "annotated": "Wrote {n} feedback workbooks to {path}"},
}


def parse_check(args: list[str]) -> dict[str, Any] | None:
    """The check command's arguments, or None when typer should read them."""
    out: dict[str, Any] = {"paths": [], "lang": os.environ.get(LANG_ENV) or "zh"}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("-") or token == "-":
            out["paths"].append(Path(token))
            i += 1
            continue
        name, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name not in CHECK_OPTIONS or (not eq and i + 1 >= len(args)):
            return None  # --help, --, an unknown option or a missing value: typer says what
        if not eq:
            value = args[i + 1]
            i += 1
        i += 1
        param, allowed = CHECK_OPTIONS[name]
        if allowed is not None and value not in allowed:
            return None
        if param == "jobs":
            try:
                out[param] = int(value)
            except ValueError:
                return None
        elif param in ("previous", "annotate"):
            out[param] = Path(value)
        else:
            out[param] = value
    if not out["paths"] or out["lang"] not in ("zh", "en"):
        return None
    return out


def _write(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")


def run_check(
    paths: list[Path],
    output_format: str = "text",
    previous: Path | None = None,
    annotate: Path | None = None,
    jobs: int = 0,
    spec_name: str | None = None,
    lang: str = "zh",
    *,
    style: Callable | None = None,
    echo: Callable[..., None] = _write,
    progress_for: Callable[[int], Callable | None] | None = None,
) -> int:
    """``wbtools check``: check files and print each report as it arrives; the exit code."""
    from . import check as check_module
    from . import output
    from . import spec as spec_module
    from .findings import Failure

    spec = None
    try:
        spec = spec_module.load(spec_name)
        files = check_module.expand(paths)
        progress = progress_for(len(files)) if progress_for else None
        # Reports are printed as they arrive, in input order, and then dropped: memory stays
        # flat however many files. Workers send back only what is printed (or written back).
        shape = check_module.for_feedback if annotate is not None else check_module.brief
        reports = check_module.iter_reports(
            files, spec, previous=previous, jobs=jobs or None, shape=shape
        )
        if progress:
            reports = _stepped(reports, progress)
        written: list[Path] = []
        if annotate is not None:
            from . import annotate as annotate_module

            inputs = [*files, *check_module.previous_files(previous)]  # never written over
            reports = annotate_module.stream(reports, spec, annotate, inputs, lang, written)
        try:
            if output_format == "json":
                code = output.stream_json(reports, spec, lang, sys.stdout.write)
                sys.stdout.write("\n")
            else:
                code = output.stream_text(reports, spec, lang, style, echo)
        finally:
            if progress:
                progress(None)
    except Failure as exc:
        sys.stdout.flush()
        echo(WORDS[lang]["cannot_run"], err=True)
        for f in exc.findings:
            where = f.location(lang)
            echo(f"  [{f.code}] {where + '：' if where else ''}{f.message(lang, spec)}", err=True)
        return 2
    if annotate is not None:
        echo(WORDS[lang]["annotated"].format(n=len(written), path=annotate), err=True)
    return code


def _stepped(reports, progress):
    for report in reports:
        progress(report)
        yield report


def safe_streams() -> None:
    """Chinese output on a Windows console or a pipe with a legacy encoding must not crash."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and (stream.encoding or "").lower() not in (
            "utf-8",
            "utf8",
        ):
            stream.reconfigure(errors="replace")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["check"] and not sys.stdout.isatty() and not sys.stderr.isatty():
        parsed = parse_check(args[1:])
        if parsed is not None:
            safe_streams()
            code = run_check(**parsed)
            sys.stdout.flush()
            sys.exit(code)
    from .cli import main as typer_main

    typer_main()
