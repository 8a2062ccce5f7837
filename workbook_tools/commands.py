"""Command bodies shared by the typer CLI (``cli``) and the entry point's fast path (``launch``):
no CLI framework here, so a script's ``wbtools check`` does not load one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

# The words run_check says itself (the same as cli.MESSAGES; a test keeps them equal).
WORDS = {
    "zh": {"cannot_run": "无法执行：", "annotated": "已生成 {n} 个反馈工作簿，保存在 {path}"},
    "en": {"cannot_run": "Cannot run:", "annotated": "Wrote {n} feedback workbooks to {path}"},
}


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
        if annotate is None and progress_for is None:
            # Taken one at a time: a run over 50,000 files never holds their list.
            files = check_module.iter_files(paths)
            progress = None
        else:
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
