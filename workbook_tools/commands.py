"""Command bodies shared by the typer CLI (``cli``) and the entry point's fast path (``launch``):
no CLI framework here, so a script's ``wbtools check`` or ``wbtools import`` does not load one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

# The words run_check says itself (the same as cli.MESSAGES; a test keeps them equal).
WORDS = {
    "zh": {
        "cannot_run": "无法执行：",
        "annotated": "已生成 {n} 个反馈工作簿，保存在 {path}",
        "same_name": "  {path} 与先前的文件同名，其反馈工作簿另存为 {name}，以免覆盖。",
        "imported": "已导入为工作簿：{path}",
    },
    "en": {
        "cannot_run": "Cannot run:",
        "annotated": "Wrote {n} feedback workbooks to {path}",
        "same_name": "  {path} has the same name as an earlier file: its feedback workbook is saved as {name} so that neither is overwritten.",
        "imported": "Imported into the workbook: {path}",
    },
}

# What is wrong with an output path, and what to do (O103), in both languages.
O103 = {
    "roster_file": {
        "detail": "是已有的文件。按名册生成时 -o 应为目录",
        "detail_en": "is an existing file. With --roster, -o is a folder",
    },
    "roster_name": {
        "detail": "像文件名。按名册生成时 -o 应为目录（每个单位一个文件）",
        "detail_en": "looks like a file name. With --roster, -o is a folder (a file per unit)",
    },
    "unit_xlsx": {
        "detail": "不是 .xlsx 文件。单个单位时 -o 应为 .xlsx 文件或已有目录",
        "detail_en": "is not an .xlsx file. For one unit, -o is an .xlsx file or a folder",
    },
    "xlsx": {
        "detail": "不是 .xlsx 文件。请用 .xlsx 作扩展名",
        "detail_en": "is not an .xlsx file. Use the .xlsx extension",
    },
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
    settle: Callable[[], None] | None = None,
) -> int:
    """``wbtools check``: check files and print each report as it arrives; the exit code.
    ``settle``: called once the command's modules are loaded (see ``launch.settled``)."""
    import zipfile  # noqa: F401 (a workbook is a zip: loaded with the modules, before settle)

    from . import check as check_module
    from . import output, reader  # noqa: F401 (reader: loaded by check_file, before settle)
    from . import spec as spec_module
    from .findings import Failure

    if settle is not None:
        settle()

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
        renamed: list[tuple[Path, str]] = []
        if annotate is not None:
            from . import annotate as annotate_module

            inputs = [*files, *check_module.previous_files(previous)]  # never written over
            reports = annotate_module.stream(
                reports, spec, annotate, inputs, lang, written, renamed
            )
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
        return _cannot_run(exc, lang, spec, echo)
    if annotate is not None:
        for path, name in renamed:
            echo(WORDS[lang]["same_name"].format(path=path, name=name), err=True)
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


def _cannot_run(exc, lang: str, spec, echo: Callable[..., None]) -> int:
    """What a command that could not run says (its findings, on stderr); exit code 2."""
    echo(WORDS[lang]["cannot_run"], err=True)
    for f in exc.findings:
        where = f.location(lang)
        echo(f"  [{f.code}] {where + '：' if where else ''}{f.message(lang, spec)}", err=True)
    return 2


def run_import(
    published: Path,
    output: Path,
    unit: str = "",
    year: int | None = None,
    kind: str = "",
    force: bool = False,
    spec_name: str | None = None,
    lang: str = "zh",
    *,
    echo: Callable[..., None] = _write,
    settle: Callable[[], None] | None = None,
) -> int:
    """``wbtools import``: a published report into a workbook, and its check; the exit code.
    ``settle``: called once the command's modules are loaded (see ``launch.settled``)."""
    from . import check as check_module
    from . import importer
    from . import output as output_module
    from . import spec as spec_module
    from .files import atomic_write, guard_output, make_folder, vet_output
    from .findings import Failure, fail

    if settle is not None:
        settle()

    spec = None
    try:
        spec = spec_module.load(spec_name)
        if output.suffix.lower() != ".xlsx":
            raise fail("O103", path=str(output), **O103["xlsx"])
        vet_output(output)
        guard_output(output, [published])
        if output.exists() and not force:
            raise fail("O104", path=str(output))
        filing = importer.read(published, spec, unit=unit, year=year, kind=kind)
        if not filing.readable or not filing.year:  # no year: no workbook (I106 says --year)
            report = check_module.Report(str(published), filing, filing.findings)
            echo(output_module.text([report], spec, lang), err=True)
            return 2
        from .template import prepared  # (xlsxwriter only when the prepared workbook won't do)

        fspec, owner, year, options = importer.workbook_arguments(filing, published.stem)
        data = prepared.render(fspec, owner, year, lang=lang, **options)
        make_folder(output.parent)
        atomic_write(output, data)
        report = check_module.Report(str(published), filing, check_module.check_filing(filing))
        echo(output_module.text([report], fspec, lang))
        echo(WORDS[lang]["imported"].format(path=output))
    except Failure as exc:
        sys.stdout.flush()
        return _cannot_run(exc, lang, spec, echo)
    return output_module.exit_code([report])
