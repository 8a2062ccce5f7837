"""The ``wbtools`` command: parse options, make one library call, render, exit.

Exit codes: 0 done, 1 problems found in the data, 2 could not run (bad input, spec or roster).
Heavy libraries are imported inside the commands that need them, so every call starts fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from . import __version__, commands, typer_params
from .findings import Failure, all_codes, fail
from .safe_text import terminal

typer_params.install()  # plain conversions for our option types: no pydantic at start-up

app = typer.Typer(
    name="wbtools",
    # Click's plain help: rich's tables cut Chinese help text short with “…”.
    rich_markup_mode=None,
    help="政府信息公开工作年度报告工具：生成填报模板、校验、汇总、生成报告。"
    " / Tools for the government information disclosure annual report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Lang(StrEnum):
    zh = "zh"
    en = "en"


LangOption = Annotated[
    Lang,
    typer.Option(
        "--lang", envvar="WBTOOLS_LANG", help="界面语言 zh（默认）或 en / Message language."
    ),
]
SpecOption = Annotated[
    str | None,
    typer.Option(
        "--spec",
        "--format",
        help="报告格式：内置格式名或格式定义文件（YAML）路径；默认 2021 年格式。"
        " / Bundled format name or path to a spec file.",
    ),
]
CheckSpecOption = Annotated[
    str | None,
    typer.Option(
        "--spec",
        help="报告格式：内置格式名或格式定义文件（YAML）路径。 / Bundled format name or spec file.",
    ),
]


JobsOption = Annotated[
    int, typer.Option("--jobs", "-j", help="并行进程数，0 为自动 / Worker processes, 0 = auto.")
]
PreviousOption = Annotated[
    Path | None,
    typer.Option(
        "--previous",
        "-p",
        help="上年度的工作簿或已公开的年报，或按单位匹配的文件夹（跨年校验） / Last year's files or a folder.",
    ),
]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


MESSAGES = {
    "zh": {
        "wrote_one": "已生成模板：{path}",
        "wrote_many": "已为 {n} 个单位生成模板，保存在 {path}",
        "cannot_run": "无法执行：",
        "spec_ok": "格式定义有效：{name} {version}（{basis}），{tables} 张表、{dps} 个数据项（{inputs} 个填报项、{totals} 个合计）、{rules} 条规则、{checks} 个校验项；校验码 {hash}",
        "codes_head": "代码\t级别\t名称\t说明",
        "need_unit": "请用 --unit 指定单位，或用 --roster 指定单位名册。",
        "annotated": "已生成 {n} 个反馈工作簿，保存在 {path}",
        "same_name": "  {path} 与先前的文件同名，其反馈工作簿另存为 {name}，以免覆盖。",
        "merged": "已生成汇总工作簿：{path}",
        "reported": "已生成报告：{path}",
        "same_report": "  同一单位、同一年度的报告本次已由 {first} 生成，{path} 的报告另存为 {name}，以免覆盖。",
        "imported": "已导入为工作簿：{path}",
        "refused": "未生成报告：{path} 有错误，请先改正（或用 --allow-errors 生成标注“未经校验”的稿）。",
        "unreadable": "未生成报告：无法读取 {path}（原因见上）。",
        "partial": "未生成报告：{path} 的汇总没有包括名册中的全部单位（见上）。请补齐后重新汇总，或用 --allow-partial 生成写明覆盖范围的报告。",
        "no_office": "未找到 LibreOffice，无法转为 PDF。请安装 LibreOffice（Debian：apt-get install libreoffice-writer-nogui）。",
        "pdf_docx_only": "--pdf 只适用于 Word（.docx）输出。",
        "pdf_failed": "转为 PDF 失败：",
        "needs": "缺少所需的软件包：{what}（例如 pip install pyarrow）",
        "both_unit": "--unit 与 --roster 只能二选一。",
        "nothing_merged": "没有可以汇总的单位（见上），未生成汇总工作簿。",
    },
    "en": {
        "wrote_one": "Wrote template: {path}",
        "wrote_many": "Wrote templates for {n} units to {path}",
        "cannot_run": "Cannot run:",
        "spec_ok": "Valid spec: {name} {version} ({basis}), {tables} tables, {dps} datapoints ({inputs} inputs, {totals} totals), {rules} rules, {checks} checks; checksum {hash}",
        "codes_head": "code\tseverity\tname\tmessage",
        "need_unit": "Give a unit with --unit, or a roster with --roster.",
        "annotated": "Wrote {n} feedback workbooks to {path}",
        "same_name": "  {path} has the same name as an earlier file: its feedback workbook is saved as {name} so that neither is overwritten.",
        "merged": "Wrote the county workbook: {path}",
        "reported": "Wrote the report: {path}",
        "same_report": "  {first} already gave the report of the same unit and year in this run; the report of {path} is saved as {name} so that neither is overwritten.",
        "imported": "Imported into the workbook: {path}",
        "refused": "No report for {path}: it has errors. Fix them first (or use --allow-errors for a draft marked unverified).",
        "unreadable": "No report: {path} cannot be read (see above).",
        "partial": "No report for {path}: its total does not cover every unit of the roster (see above). Complete it and merge again, or use --allow-partial for a report that states its coverage.",
        "no_office": "LibreOffice was not found, so no PDF. Install LibreOffice (Debian: apt-get install libreoffice-writer-nogui).",
        "pdf_docx_only": "--pdf works with Word (.docx) output only.",
        "pdf_failed": "PDF conversion failed: ",
        "needs": "A package is missing: {what} (e.g. pip install pyarrow)",
        "both_unit": "Use either --unit or --roster, not both.",
        "nothing_merged": "No unit can be merged (see above); no county workbook was written.",
    },
}


def _say(lang: Lang, key: str, **kw: object) -> str:
    """A message, its values (paths and names from the files) each kept on its line."""
    return MESSAGES[lang.value][key].format(**{k: terminal(v) for k, v in kw.items()})


def _print(text: str, err: bool = False) -> None:
    """Every line through the terminal filter: unit names, file names and reasons come from files
    anyone can make (click strips escape sequences only when the output is not a terminal)."""
    typer.echo("\n".join(map(terminal, text.split("\n"))), err=err)


def _exit_failure(exc: Failure, lang: Lang, spec=None) -> None:
    _print(_say(lang, "cannot_run"), err=True)
    for f in exc.findings:
        where = f.location(lang.value)
        _print(
            f"  [{f.code}] {where + '：' if where else ''}{f.message(lang.value, spec)}", err=True
        )
    raise typer.Exit(2)


# What is wrong with an output path, and what to do (O103), in both languages.
_O103 = commands.O103

# Names that are files, never folders: an output folder named like this is a mistyped file.
FILE_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".parquet", ".docx", ".doc", ".html"}
FILE_SUFFIXES |= {".htm", ".md", ".pdf", ".txt", ".json"}


def _load_spec(format_: str | None):
    from . import spec

    return spec.load(format_)


@app.command()
def template(
    year: Annotated[int, typer.Option("--year", "-y", help="报告年度，如 2025 / Report year.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="输出文件（单个单位）或目录（名册） / Output file, or folder with --roster.",
        ),
    ],
    unit: Annotated[str | None, typer.Option("--unit", "-u", help="单位名称 / Unit name.")] = None,
    roster: Annotated[
        Path | None,
        typer.Option(
            "--roster", "-r", help="单位名册 CSV/XLSX（单位名称、代码、类型） / Unit roster."
        ),
    ] = None,
    code: Annotated[str, typer.Option("--code", help="单位代码 / Unit code.")] = "",
    kind: Annotated[
        str, typer.Option("--kind", help="单位类型：乡镇、街道、部门、政府、其他 / Unit kind.")
    ] = "",
    password: Annotated[
        str,
        typer.Option("--password", help="工作表保护密码（可选） / Optional protection password."),
    ] = "",
    jobs: JobsOption = 0,
    force: Annotated[
        bool,
        typer.Option("--force", help="覆盖已存在的工作簿 / Replace an existing workbook."),
    ] = False,
    format_: SpecOption = None,
    lang: LangOption = Lang.zh,
) -> None:
    """生成加锁的 Excel 填报模板（单个单位或按名册批量）。 / Generate the locked Excel template(s)."""
    from . import roster as roster_module
    from . import template as template_module
    from .files import guard_output, vet_output

    spec = None
    try:
        if (unit is None) == (roster is None):
            _print(_say(lang, "both_unit" if unit else "need_unit"), err=True)
            raise typer.Exit(2)
        if not 2000 <= year <= 2100:
            raise fail("U109", detail=f"年度 {year} 不在 2000–2100 之间", detail_en=f"year {year}")
        vet_output(output)
        if roster is not None:
            if output.exists() and not output.is_dir():
                raise fail("O103", path=str(output), **_O103["roster_file"])
            if not output.exists() and output.suffix.lower() in FILE_SUFFIXES:
                raise fail("O103", path=str(output), **_O103["roster_name"])
        spec = _load_spec(format_)
        options = {"lang": lang.value, "password": password}
        if roster is not None:
            units = roster_module.read(roster)
            planned = [output / roster_module.file_name(u, year) for u in units]
            for path in planned:
                guard_output(path, [roster])
            written = template_module.write_roster(
                spec, units, year, output, jobs=jobs or None, **options
            )
            _print(_say(lang, "wrote_many", n=len(written), path=output))
        else:
            one = roster_module.make_unit(unit or "", code, kind)
            target = output / roster_module.file_name(one, year) if output.is_dir() else output
            if target.suffix.lower() != ".xlsx":
                raise fail("O103", path=str(output), **_O103["unit_xlsx"])
            if target.exists() and not force:  # often a returned workbook in the same folder
                raise fail("O104", path=str(target))
            template_module.write(target, spec, one, year, **options)
            _print(_say(lang, "wrote_one", path=target))
    except Failure as exc:
        _exit_failure(exc, lang, spec)


@app.command()
def codes(format_: SpecOption = None, lang: LangOption = Lang.zh) -> None:
    """列出全部问题代码及说明。 / List every finding code with its message."""
    try:
        spec = _load_spec(format_)
    except Failure as exc:
        _exit_failure(exc, lang)
    _print(_say(lang, "codes_head"))
    for entry in all_codes(spec).values():
        message = entry.zh if lang is Lang.zh else entry.en
        _print(f"{entry.code}\t{entry.severity.label(lang.value)}\t{entry.name}\t{message}")


@app.command("spec")
def spec_command(format_: SpecOption = None, lang: LangOption = Lang.zh) -> None:
    """校验格式定义文件并显示摘要。 / Validate a format spec and summarise it."""
    try:
        spec = _load_spec(format_)
    except Failure as exc:
        _exit_failure(exc, lang)
    checks = sum(len(r.instances) for r in spec.rules)
    _print(
        _say(
            lang,
            "spec_ok",
            name=spec.name,
            version=spec.version,
            basis=spec.basis,
            tables=len(spec.tables),
            dps=len(spec.datapoints),
            inputs=len(spec.inputs),
            totals=len(spec.totals),
            rules=len(spec.rules),
            checks=checks,
            hash=spec.hash[:12],
        )
    )


@app.command()
def check(
    paths: Annotated[
        list[Path],
        typer.Argument(help="要检查的工作簿或文件夹（可多个） / Workbooks or folders to check."),
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="输出格式 text 或 json / Output format.")
    ] = OutputFormat.text,
    previous: PreviousOption = None,
    annotate: Annotated[
        Path | None,
        typer.Option(
            "--annotate",
            "-a",
            help="为每个文件生成反馈工作簿的目录 / Folder for feedback workbooks.",
        ),
    ] = None,
    jobs: JobsOption = 0,
    spec_: CheckSpecOption = None,
    lang: LangOption = Lang.zh,
) -> None:
    """校验报送的工作簿：类型、篡改、全部勾稽规则、文字与表格一致性。 / Check returned workbooks."""
    from . import commands  # the command's body, shared with the entry point's fast path

    code = commands.run_check(
        paths,
        output_format.value,
        previous,
        annotate,
        jobs,
        spec_,
        lang.value,
        style=typer.style if sys.stdout.isatty() else None,
        echo=_print,
        # With --annotate each feedback workbook is written as its file is checked, so one bar
        # covers both (no silent phase after the checking bar reaches 100 %).
        progress_for=(lambda n: _progress(n, lang, "check" if annotate is None else "feedback"))
        if sys.stderr.isatty()  # (no bar: the files are taken one at a time, never counted)
        else None,
    )
    raise typer.Exit(code)


class ReportFormat(StrEnum):
    docx = "docx"
    html = "html"
    md = "md"


@app.command()
def report(
    workbooks: Annotated[
        list[Path],
        typer.Argument(
            help="填好的工作簿、文件夹或汇总工作簿 / Filled or merged workbooks, or folders."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="输出文件（.docx/.html/.md）或目录 / Output file, or folder."
        ),
    ],
    to: Annotated[
        ReportFormat,
        typer.Option("--to", help="输出到目录时的格式 / Format when writing to a folder."),
    ] = ReportFormat.docx,
    pdf: Annotated[
        bool,
        typer.Option(
            "--pdf", help="同时用 LibreOffice 转为 PDF / Also convert the Word file to PDF."
        ),
    ] = False,
    allow_errors: Annotated[
        bool,
        typer.Option(
            "--allow-errors",
            help="数据有错误时仍生成，并标注“未经校验” / Write anyway, marked unverified.",
        ),
    ] = False,
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial",
            help="汇总工作簿有单位未报送、未通过或未纳入时仍生成（报告中写明） / Write a county report that does not cover every unit (it says so).",
        ),
    ] = False,
    preamble: Annotated[
        bool, typer.Option("--preamble/--no-preamble", help="是否写引言 / Write the preamble.")
    ] = True,
    portal: Annotated[
        str,
        typer.Option(
            "--portal", help="引言中注明的电子版查阅网址 / Where the report is published."
        ),
    ] = "",
    spec_: CheckSpecOption = None,
    lang: LangOption = Lang.zh,
) -> None:
    """按官方格式生成年度报告（Word、HTML、Markdown）。 / Write the annual report in the official layout."""
    from . import check as check_module
    from . import output as output_module
    from . import report as report_module
    from .files import InputSet, atomic_write, free_name, guard_output, make_folder, vet_output

    spec = None
    code = 0
    try:
        spec = _load_spec(spec_)
        vet_output(output)
        files = check_module.expand(workbooks)
        known = InputSet(files)
        to_folder = len(files) > 1 or output.is_dir() or output.suffix == ""
        if to_folder and not output.is_dir() and output.suffix.lower() in FILE_SUFFIXES:
            raise fail(
                "O103",
                path=str(output),
                detail=f"是文件名，而输入有 {len(files)} 个文件。请用 -o 指定一个目录，每个单位一份报告",
                detail_en=f"names a file, but there are {len(files)} inputs. Give a folder with -o "
                "(one report per unit)",
            )
        fmt = to.value if to_folder else output.suffix.lower().lstrip(".")
        if fmt not in report_module.FORMATS:
            raise fail(
                "O103",
                path=str(output),
                detail="不是 .docx、.html 或 .md 文件。请改用其中一种扩展名",
                detail_en="is not a .docx, .html or .md file. Use one of these extensions",
            )
        if to_folder:
            make_folder(output)
        written: dict[Path, Path] = {}  # report written in this run -> its input
        for path in files:
            result = check_module.check_file(path, spec)
            if not result.readable or (result.errors and not allow_errors):
                _print(output_module.text([result], spec, lang.value), err=True)
                # --allow-errors helps with errors in the data, not with a file it cannot read
                why = "refused" if result.readable else "unreadable"
                _print(_say(lang, why, path=path), err=True)
                code = max(code, 1 if result.readable else 2)
                continue
            doc = report_module.build(
                result.filing,
                lang.value,
                preamble=preamble,
                portal=portal,
                unverified=bool(result.errors),
            )
            for line in doc.coverage:  # a county total: whom it covers, on the terminal too
                _print(terminal(line), err=doc.partial)
            if doc.partial and not allow_partial:
                _print(_say(lang, "partial", path=path), err=True)
                code = max(code, 1)
                continue
            target = output / report_module.file_name(doc, fmt) if to_folder else output
            if to_folder and target in written:  # a file and its corrected copy: both kept
                free = free_name(target, written)
                _print(
                    _say(lang, "same_report", first=written[target], path=path, name=free.name),
                    err=True,
                )
                target = free
            written[target] = path
            guard_output(target, known)
            make_folder(target.parent)
            atomic_write(target, report_module.render(doc, fmt))
            for warning in doc.warnings:
                _print(f"  {warning}", err=True)
            _print(_say(lang, "reported", path=target))
            if pdf:
                code = max(code, _to_pdf(target, fmt, lang))
    except Failure as exc:
        _exit_failure(exc, lang, spec)
    raise typer.Exit(code)


def _to_pdf(target: Path, fmt: str, lang: Lang) -> int:
    from . import office

    if fmt != "docx":
        _print(_say(lang, "pdf_docx_only"), err=True)
        return 1
    if office.find_soffice() is None:
        _print(_say(lang, "no_office"), err=True)
        return 1
    import shutil
    import tempfile

    from .files import unwritable

    final = target.with_suffix(".pdf")
    scratch = None
    try:
        # A folder of its own beside the output (LibreOffice keeps the file name), removed
        # whatever happens: a failed conversion leaves no .pdf-tmp behind.
        scratch = Path(tempfile.mkdtemp(prefix=".pdf-tmp.", dir=target.parent))
        office.convert(target, "pdf", scratch).replace(final)
    except office.OfficeError as exc:
        _print(f"{_say(lang, 'pdf_failed')}{exc}", err=True)
        return 1
    except OSError as exc:
        raise unwritable(final, exc) from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    _print(_say(lang, "reported", path=final))
    return 0


@app.command("import")
def import_command(
    published: Annotated[
        Path, typer.Argument(help="已公开的年报：文本、网页、Word 或 PDF / A published report.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="输出的工作簿 .xlsx / The workbook to write.")
    ],
    unit: Annotated[
        str,
        typer.Option("--unit", "-u", help="单位名称（文中无标题时） / Unit, if the text lacks it."),
    ] = "",
    year: Annotated[
        int | None,
        typer.Option("--year", "-y", help="报告年度（文中无标题时） / Year, if missing."),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="单位类型：乡镇、街道、部门（默认从名称或文字判断） / Unit kind."
        ),
    ] = "",
    force: Annotated[
        bool,
        typer.Option("--force", help="覆盖已存在的工作簿 / Replace an existing workbook."),
    ] = False,
    spec_: CheckSpecOption = None,
    lang: LangOption = Lang.zh,
) -> None:
    """把已公开的年报（文本、网页、Word、PDF）转为填报工作簿，并报告缺失和无法识别之处。 / Turn a published report into a workbook."""
    code = commands.run_import(
        published, output, unit, year, kind, force, spec_, lang.value, echo=_print
    )
    raise typer.Exit(code)


class Prefer(StrEnum):
    newest = "newest"
    none = "none"


@app.command()
def merge(
    paths: Annotated[
        list[Path], typer.Argument(help="报送的工作簿或文件夹 / Returned workbooks or folders.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="汇总工作簿 .xlsx / County workbook.")
    ],
    roster: Annotated[
        Path | None,
        typer.Option("--roster", "-r", help="单位名册（应报送的单位） / Roster of units expected."),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option("--year", "-y", help="报告年度，默认取多数文件的年度 / Report year."),
    ] = None,
    name: Annotated[
        str, typer.Option("--name", help="汇总单位名称，如 青禾县 / Name for the total.")
    ] = "",
    include_failing: Annotated[
        bool,
        typer.Option(
            "--include-failing",
            help="未通过校验的单位也计入（汇总数标为临时） / Count failing units too.",
        ),
    ] = False,
    prefer: Annotated[
        Prefer,
        typer.Option(
            "--prefer",
            help="同一单位有多个文件时：newest（默认）选用最后保存的，较早的列为“已被替换”；"
            "none 全部列为“重复”、都不计入 / A unit's several files: newest (default) uses the "
            "last saved and lists the older as superseded; none holds them all out as duplicates.",
        ),
    ] = Prefer.newest,
    long: Annotated[
        Path | None,
        typer.Option(
            "--long", help="长表输出 .csv 或 .parquet / Tidy long form (.csv or .parquet)."
        ),
    ] = None,
    previous: PreviousOption = None,
    jobs: JobsOption = 0,
    spec_: CheckSpecOption = None,
    lang: LangOption = Lang.zh,
) -> None:
    """汇总各单位报送的工作簿，列出未报送、重复、未通过校验等情况。 / Merge returned workbooks county-wide."""
    from . import check as check_module
    from . import county
    from . import merge as merge_module
    from . import roster as roster_module
    from .files import guard_output

    spec = None
    try:
        spec = _load_spec(spec_)
        units = roster_module.read(roster) if roster else None
        files = check_module.expand(paths)
        for out in [output] + ([long] if long else []):
            guard_output(
                out,
                [*files, *([roster] if roster else []), *check_module.previous_files(previous)],
            )
        if output.suffix.lower() != ".xlsx":
            raise fail("O103", path=str(output), **_O103["xlsx"])
        if long is not None and long.suffix.lower() not in (".csv", ".parquet"):
            raise fail(
                "O103",
                path=str(long),
                detail="不是 .csv 或 .parquet 文件。请改用其中一种扩展名",
                detail_en="is not a .csv or .parquet file. Use one of these extensions",
            )
        progress = _progress(len(files), lang)
        result = merge_module.merge(
            files,
            spec,
            units,
            year=year,
            name=name,
            include_failing=include_failing,
            prefer=prefer.value,
            previous=previous,
            jobs=jobs or None,
            progress=progress,
            render=county.prepare,  # the workbook's rows of each file made where it is read
        )
        if progress:
            progress(None)
        try:
            if result.exit_code() == 2:  # nothing to merge: say why, write nothing
                _print(_merge_summary(result, lang), err=True)
                _print(_say(lang, "nothing_merged"), err=True)
                raise typer.Exit(2)
            county.write(result, output, lang.value, sources=paths, previous=previous)
            if long is not None:
                merge_module.write_long(result, long)
            _print(_merge_summary(result, lang))
            _print(_say(lang, "merged", path=output))
            code = result.exit_code()
        finally:
            result.close()
    except Failure as exc:
        _exit_failure(exc, lang, spec)
    except ImportError as exc:  # .parquet without pyarrow
        _print(_say(lang, "needs", what=str(exc.name or exc)), err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def _merge_summary(result, lang: Lang) -> str:
    from .merge import STATUS_TEXT

    zh = lang is Lang.zh
    parts = [f"{STATUS_TEXT[s][0 if zh else 1]} {result.count(s)}" for s in STATUS_TEXT]
    lines = [("报送情况：" if zh else "Status: ") + ("，" if zh else ", ").join(parts)]
    if not result.roster_given:
        lines.append(
            "未提供名册：每个可读取的文件各算一个单位。"
            if zh
            else "No roster: every readable file counts as one unit."
        )
    if result.provisional:
        lines.append(
            "汇总数含未通过校验的单位，为临时数。"
            if zh
            else "Totals include failing units: provisional."
        )
    lines += _unit_lines(result, lang)
    for f in result.total_findings + result.similar[:10]:
        lines.append(f"  [{f.code}] {f.message(lang.value, result.spec)}")
    if len(result.similar) > 10:
        more = len(result.similar) - 10
        lines.append(
            f"  …… 另有 {more} 处雷同，见汇总工作簿“问题清单”"
            if zh
            else f"  … {more} more, see 问题清单 in the workbook"
        )
    return "\n".join(lines)


def _unit_lines(result, lang: Lang) -> list[str]:
    """One line per file that needs attention, but one per unit for a unit's several files
    (300 copies are one line with the count and the file used, not 300 lines of 300 names)."""
    from .merge import file_names

    zh = lang is Lang.zh
    lines = []
    several: dict[str, list] = {}
    for e in result.entries:
        if e.status in ("duplicate", "superseded") or e.replaced[0]:
            several.setdefault(e.key, []).append(e)
        elif e.status != "passed":
            lines.append(f"  {e.status_text(lang.value)}  {e.unit}  {e.reason[0 if zh else 1]}")
    for group in several.values():
        used = next((e for e in group if e.replaced[0]), None)
        if used is not None:
            older = [e for e in group if e is not used]
            name, state = Path(used.path).name, used.status_text(lang.value)
            lines.append(
                f"  {group[0].unit}：共 {len(group)} 个文件，选用最新的“{name}”（{state}），"
                f"已被替换 {len(older)} 个：{file_names(older)}"
                if zh
                else f"  {group[0].unit}: {len(group)} files, using the newest “{name}” "
                f"({state}); {len(older)} superseded: {file_names(older, 'en')}"
            )
        else:
            lines.append(
                f"  {group[0].status_text(lang.value)}  {group[0].unit}  {group[0].reason[0]}"
                if zh
                else f"  {group[0].status_text(lang.value)}  {group[0].unit}  {group[0].reason[1]}"
            )
    return [terminal(line) for line in lines]  # a newline in a name stays inside its line


PROGRESS_LABELS = {
    "check": ("校验中", "Checking"),
    "feedback": ("校验并生成反馈工作簿", "Checking and writing feedback workbooks"),
}


def _progress(total: int, lang: Lang, what: str = "check"):
    """A progress bar on the terminal for long runs; None when not useful."""
    if total < 20 or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(transient=True, console=Console(stderr=True))  # stdout may be a pipe
    label = PROGRESS_LABELS[what][0 if lang is Lang.zh else 1]
    task = bar.add_task(label, total=total)
    bar.start()

    def step(report) -> None:
        if report is None:
            bar.stop()
        else:
            bar.advance(task)

    return step


# --- wbtools portal -----------------------------------------------------------------------------

portal_app = typer.Typer(
    name="portal",
    rich_markup_mode=None,
    help="收集平台：各单位在网页上报送并即时得到校验结果，主管部门查看报送情况。"
    " / The collection portal: units upload and get the verdict at once.",
    no_args_is_help=True,
)
app.add_typer(portal_app, name="portal")

PortalDir = Annotated[Path, typer.Argument(help="收集平台的数据文件夹 / The portal's data folder.")]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="WBTOOLS_PORTAL_DB",
        help="数据库地址，如 postgresql://用户:密码@主机/库；默认用数据文件夹中的 SQLite。"
        " / Database URL; SQLite in the data folder by default.",
    ),
]
TzOption = Annotated[
    str,
    typer.Option(
        "--tz",
        help="页面和导出中时间所用的时区（IANA 名称） / Time zone for the times shown (IANA name).",
    ),
]

PORTAL_MESSAGES = {
    "zh": {
        "created": "已创建收集平台：{path}（{name}{year}年度，{n} 个单位）",
        "secret_new": "主管部门登录密钥（只显示这一次，请妥善保存）：",
        "secret_env": "登录密钥取自环境变量 WBTOOLS_PORTAL_SECRET。",
        "links_hint": "各单位的专用链接：wbtools portal links {path}",
        "serving": "收集平台已启动：http://{host}:{port}/ （按 Ctrl+C 停止）",
    },
    "en": {
        "created": "Created the portal in {path} ({name}, year {year}, {n} units)",
        "secret_new": "The office's sign-in secret (shown this once; keep it safe):",
        "secret_env": "The sign-in secret is the one in WBTOOLS_PORTAL_SECRET.",
        "links_hint": "Each unit's link: wbtools portal links {path}",
        "serving": "Portal running at http://{host}:{port}/ (Ctrl+C stops it)",
    },
}


def _portal_say(lang: Lang, key: str, **kw: object) -> str:
    return PORTAL_MESSAGES[lang.value][key].format(**{k: terminal(v) for k, v in kw.items()})


@portal_app.command("init")
def portal_init(
    folder: PortalDir,
    roster: Annotated[
        Path, typer.Option("--roster", "-r", help="单位名册 CSV/XLSX / Unit roster.")
    ],
    year: Annotated[int, typer.Option("--year", "-y", help="报告年度 / Report year.")],
    name: Annotated[
        str, typer.Option("--name", help="县（汇总单位）名称，如 青禾县 / County name.")
    ],
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url",
            help="各单位访问平台的地址，用于生成链接 / The address units reach the portal at.",
        ),
    ] = "http://127.0.0.1:8000",
    tz: TzOption = "Asia/Shanghai",
    db: DbOption = None,
    spec_: CheckSpecOption = None,
    lang: LangOption = Lang.zh,
) -> None:
    """创建收集平台的数据文件夹和各单位的专用链接。 / Create a portal data folder and unit links."""
    import os
    import secrets

    from . import roster as roster_module
    from .portal.store import Portal

    try:
        if not 2000 <= year <= 2100:
            raise fail("U109", detail=f"年度 {year} 不在 2000–2100 之间", detail_en=f"year {year}")
        units = roster_module.read(roster)
        given = os.environ.get("WBTOOLS_PORTAL_SECRET", "")
        secret = given or secrets.token_urlsafe(24)
        portal = Portal.create(
            folder,
            units,
            year=year,
            name=name,
            base_url=base_url,
            spec_source=spec_,
            db_url=db,
            secret=secret,
            timezone=tz,
        )
        portal.close()
    except Failure as exc:
        _exit_failure(exc, lang)
    _print(_portal_say(lang, "created", path=folder, name=name, year=year, n=len(units)))
    if given:
        _print(_portal_say(lang, "secret_env"))
    else:
        _print(_portal_say(lang, "secret_new"))
        _print(f"  {secret}")
    _print(_portal_say(lang, "links_hint", path=folder))


@portal_app.command("links")
def portal_links(
    folder: PortalDir,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text 或 json / Output format.")
    ] = OutputFormat.text,
    db: DbOption = None,
    lang: LangOption = Lang.zh,
) -> None:
    """列出各单位的专用链接。 / Print each unit's upload link."""
    import json

    from .portal.store import Portal

    try:
        portal = Portal(folder, db)
        entries = portal.links()
        portal.close()
    except Failure as exc:
        _exit_failure(exc, lang)
    if output_format is OutputFormat.json:
        _print(json.dumps(entries, ensure_ascii=False, indent=2))
    else:
        for e in entries:
            _print("\t".join(x for x in (e["unit"], e["code"], e["url"])))


@portal_app.command("serve")
def portal_serve(
    folder: PortalDir,
    host: Annotated[
        str, typer.Option("--host", help="监听地址 / Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口 / Port.")] = 8000,
    max_upload_mb: Annotated[
        float,
        typer.Option(
            "--max-upload-mb",
            min=0.01,
            max=50,  # intake refuses anything larger (F106) in any case
            help="单个上传文件的上限（MB） / Upload size limit in MB.",
        ),
    ] = 20,
    body_timeout: Annotated[
        float,
        typer.Option(
            "--body-timeout",
            min=1,
            max=3600,
            help="一次上传（请求体）须在多少秒内传完，中途停顿不得超过 60 秒；超过即断开（P109） / "
            "Seconds a request's body may take to arrive, with no pause over 60 s; past "
            "that the connection is cut (P109).",
        ),
    ] = 300,
    min_free_mb: Annotated[
        float,
        typer.Option(
            "--min-free-mb",
            min=0,
            help="磁盘剩余空间少于此数（MB，再加上传上限）时不再接收上传（P110），为数据库和导出留出空间 / "
            "Uploads are refused (P110) while less than this many MB (plus the upload limit) "
            "is free, keeping room for the database and exports.",
        ),
    ] = 256,
    header_timeout: Annotated[
        float,
        typer.Option(
            "--header-timeout",
            min=1,
            max=600,
            help="一次请求的请求头须在多少秒内传完，超过即断开（408） / Seconds a request's "
            "headers may take to arrive; past that the connection is closed (408).",
        ),
    ] = 20,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections",
            min=1,
            max=100_000,
            help="同时保持的连接数上限；满时先断开等待请求头最久的连接 / Connections held at "
            "once; when full, the one waiting longest for its headers is closed.",
        ),
    ] = 1000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            max=64,
            help="校验进程数（默认每核一个；0 = 在服务进程内校验） / Checking processes "
            "(default: one per core; 0: check inside the server process).",
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            help="页面和导出中时间所用的时区（默认用 init 时设定的，通常为 Asia/Shanghai） / "
            "Time zone for the times shown (default: the one set at init, normally Asia/Shanghai).",
        ),
    ] = None,
    db: DbOption = None,
    lang: LangOption = Lang.zh,
) -> None:
    """启动收集平台。 / Run the portal."""
    from .portal.connections import serve
    from .portal.store import Portal
    from .portal.web import Config, create_app

    try:
        portal = Portal(folder, db)
        if tz:
            portal.use_timezone(tz)
    except Failure as exc:
        _exit_failure(exc, lang)
    portal.clean_tmp()
    config = Config(
        max_bytes=int(max_upload_mb * 1024 * 1024),
        body_seconds=body_timeout,
        min_free_bytes=int(min_free_mb * 1024 * 1024),
        workers=workers,
        freeze_heap=True,
    )
    app_ = create_app(portal, config)
    _print(_portal_say(lang, "serving", host=host, port=port), err=True)
    serve(app_, host, port, header_timeout, max_connections)


def _version(value: bool) -> None:
    if value:
        _print(f"wbtools {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="显示版本 / Show version."
        ),
    ] = False,
) -> None:
    pass


def main() -> None:
    from .commands import safe_streams

    safe_streams()
    app()
