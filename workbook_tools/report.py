"""The annual report as a document: title, optional preamble, the six sections with the unit's
narrative, and tables 二, 三, 四 in the official layout. One model is built from the spec and a
checked filing; renderers turn it into HTML and Markdown (Jinja2 templates in ``templates/``, so
an office can restyle them) and Word (python-docx, in ``docx_report``).

Nothing is invented: an empty narrative field becomes a visible placeholder and a warning.
"""

from __future__ import annotations

import functools

from . import layout, safe_text

# The model lives in ``document`` (shared with docx_report); re-exported for the report's users.
from .document import (  # noqa: F401
    TITLE_CAPACITY,
    Block,
    Document,
    Grid,
    GridCell,
    Part,
    Section,
    text_width,
    title_lines,
)
from .filing import Filing
from .normalise import number_text
from .spec import Spec

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

TEXT = {
    "zh": {
        "placeholder": "【待填写：{label}】",
        "unverified": "【未经校验：本报告所用数据存在校验错误，仅供核对，不得公开发布】",
        "preamble": [
            "本报告根据《中华人民共和国政府信息公开条例》（以下简称《条例》）第五十条的规定和《中华人民共和国"
            "政府信息公开工作年度报告格式》的要求编制，内容包括总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、"
            "政府信息公开行政复议和行政诉讼情况、存在的主要问题及改进情况、其他需要报告的事项，共六个部分。",
            "本报告所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。",
        ],
        "portal": "本报告电子版可在{portal}查阅。",
        "empty_warning": "“{label}”未填写，报告中以占位文字代替，请补充后重新生成。",
        "coverage_roster": "说明：本报告由{unit}所属单位报送的年度报告数据汇总而成。单位名册共 {roster} 个单位，纳入汇总 {included} 个。",
        "coverage_files": "说明：本报告由{unit}所属单位报送的年度报告数据汇总而成。未提供单位名册，报送文件中共有 {roster} 个单位，纳入汇总 {included} 个。",
        "coverage_complete": "各单位均已报送并通过校验。",
        "coverage_left_out": {
            "missing": "未报送（{n} 个）：{names}。",
            "failing": "未通过校验、未纳入汇总（{n} 个）：{names}。",
            "duplicate": "报送了多个文件、未能确定采用哪一个，未纳入汇总（{n} 个）：{names}。",
            "mismatch": "报送的年度或报告格式版本不符、未纳入汇总（{n} 个）：{names}。",
            "other": "{status}、未纳入汇总（{n} 个）：{names}。",
        },
        "coverage_provisional": "未通过校验、按临时数纳入汇总（{n} 个）：{names}。",
        "coverage_outside": "另有 {n} 个文件不属于名册所列单位，未纳入汇总。",
        "more": "等 {n} 个",
        "charts": "附：图表",
        "sep": "、",
    },
    "en": {
        "placeholder": "[To be written: {label}]",
        "unverified": "[UNVERIFIED: the figures in this report failed the consistency checks; for review only, not for publication]",
        "preamble": [
            "This report is prepared under Article 50 of the Regulations on the Disclosure of Government Information and the national "
            "format; it has six parts.",
            "The figures cover 1 January to 31 December {year}.",
        ],
        "portal": "An electronic copy is available at {portal}.",
        "empty_warning": "“{label}” is empty; the report shows a placeholder. Fill it in and generate again.",
        "coverage_roster": "Note: this report sums the annual reports returned by the units of {unit}. The roster has {roster} units; {included} are in the total.",
        "coverage_files": "Note: this report sums the annual reports returned by the units of {unit}. No roster was given; the files name {roster} units; {included} are in the total.",
        "coverage_complete": "Every unit returned its report and passed the checks.",
        "coverage_left_out": {
            "missing": "Not returned ({n}): {names}.",
            "failing": "Failed the checks, left out ({n}): {names}.",
            "duplicate": "Sent several files, none chosen, left out ({n}): {names}.",
            "mismatch": "Wrong year or format version, left out ({n}): {names}.",
            "other": "{status}, left out ({n}): {names}.",
        },
        "coverage_provisional": "Failed the checks, included as provisional figures ({n}): {names}.",
        "coverage_outside": "{n} further files belong to no roster unit and are left out.",
        "more": "and {n} more",
        "charts": "Appendix: charts",
        "sep": ", ",
    },
}


def grid(spec: Spec, table_id: str, values: dict[str, Any]) -> Grid:
    """The official table with ``values`` filled in, from the same layout the template uses."""
    tl = layout.build(spec).tables[table_id]
    top, height, width = layout.TABLE_TOP, tl.bottom - layout.TABLE_TOP + 1, tl.width
    rows: list[list[GridCell | None]] = [
        [GridCell("") for _ in range(width)] for _ in range(height)
    ]

    def place(r: int, c: int, last_r: int, last_c: int, cell: GridCell) -> None:
        cell.rowspan, cell.colspan = last_r - r + 1, last_c - c + 1
        for rr in range(r, last_r + 1):
            for cc in range(c, last_c + 1):
                rows[rr - top][cc] = None
        rows[r - top][c] = cell

    for label in tl.labels:
        place(
            label.row,
            label.col,
            label.last_row,
            label.last_col,
            GridCell(label.text, role=label.role),
        )
    for dp_id, p in tl.cells.items():
        place(
            p.row,
            p.col,
            p.row,
            p.last_col or p.col,
            GridCell(number_text(values.get(dp_id)), kind="value"),
        )
    header = tl.header_rows[1] - top + 1
    return Grid(
        table_id, tl.table.title, rows, header, tl.table.landscape, width, list(tl.col_widths)
    )


def coverage(meta: dict[str, str], unit: str, lang: str = "zh") -> tuple[list[str], bool]:
    """Whom a county workbook's total covers, as sentences, from its metadata (``county``
    writes it); and whether anyone is missing, left out or provisional. ([], False) for a unit's
    own workbook."""
    import json

    try:
        data = json.loads(meta.get("coverage") or "null")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return [], False
    t = TEXT[lang]
    counts = data.get("counts", {})

    def names(key: str, listed: list[str], n: int | None = None) -> str:
        n = len(listed) if n is None else n
        text = t["sep"].join(str(x) for x in listed)
        return text + (t["more"].format(n=n) if n > len(listed) else "")

    included = counts.get("included", len(data.get("included", [])))
    head = t["coverage_roster" if data.get("roster_given", True) else "coverage_files"]
    lines = [head.format(unit=unit, roster=data.get("roster", 0), included=included)]
    left_out = {k: v for k, v in (data.get("left_out") or {}).items() if v}
    provisional = data.get("provisional") or []
    outside = counts.get("outside", len(data.get("outside") or []))
    partial = bool(left_out or provisional)
    if not partial:
        lines[0] += t["coverage_complete"]
    from .merge import STATUS_TEXT

    for status, listed in left_out.items():
        n = counts.get("left_out", {}).get(status, len(listed))
        template = t["coverage_left_out"].get(status, t["coverage_left_out"]["other"])
        label = STATUS_TEXT.get(status, (status, status))[0 if lang == "zh" else 1]
        lines.append(template.format(status=label, n=n, names=names(status, listed, n)))
    if provisional:
        n = counts.get("provisional", len(provisional))
        lines.append(t["coverage_provisional"].format(n=n, names=names("", provisional, n)))
    if outside:
        lines.append(t["coverage_outside"].format(n=outside))
    return lines, partial


def charts_of(meta: dict[str, str]) -> list:
    if not meta.get("charts"):
        return []
    from . import charts

    return charts.from_json(meta["charts"])


def build(
    filing: Filing,
    lang: str = "zh",
    preamble: bool = True,
    portal: str = "",
    unverified: bool = False,
) -> Document:
    """The report document for a checked, readable filing."""
    spec = filing.spec
    assert spec is not None and filing.readable
    t = TEXT[lang]
    values = spec.compute({i: filing.values.get(i) for i in spec.inputs})
    warnings: list[str] = []
    sections = []
    for section in spec.sections:
        out = Section(section.heading)
        if section.table:
            out.parts.append(
                Part(
                    "table",
                    grid=grid(spec, section.table, values),
                    blocks=blocks(spec, section.table, values),
                )
            )
        for f in section.fields:
            text = (filing.texts.get(f.id) or "").strip()
            official = f.label.startswith("（")  # （一）主动公开 …: the customary sub-headings
            if not text:
                if f.required:
                    if official:
                        out.parts.append(Part("subheading", f.label))
                    out.parts.append(Part("placeholder", t["placeholder"].format(label=f.label)))
                    warnings.append(t["empty_warning"].format(label=f.label))
                continue
            if official and not text.startswith(f.label[:3]):
                out.parts.append(Part("subheading", f.label))
            out.parts.extend(Part("paragraph", p.strip()) for p in text.splitlines() if p.strip())
        sections.append(out)
    covered, partial = coverage(filing.meta, filing.unit, lang)
    lines = [p.format(year=filing.year) for p in t["preamble"]] if preamble else []
    if preamble and portal:
        lines.append(t["portal"].format(portal=portal))
    return Document(
        title=spec.title.format(unit=filing.unit, year=filing.year),
        unit=filing.unit,
        year=filing.year,
        preamble=lines,
        sections=sections,
        unverified=unverified,
        warnings=warnings,
        lang=lang,
        notice=t["unverified"] if unverified else "",
        coverage=covered,
        partial=partial,
        charts=charts_of(filing.meta),
        charts_heading=t["charts"],
    )


FORMATS = ("docx", "html", "md")


def render(doc: Document, fmt: str) -> bytes:
    # Control characters from a narrative or a unit name: XML (Word) cannot hold them and no
    # format should carry them; dropped in every format alike.
    doc = safe_text.scrub(doc)
    if fmt == "docx":
        from . import docx_report

        return docx_report.render(doc)
    if fmt == "html":
        return html(doc).encode("utf-8")
    if fmt == "md":
        return markdown(doc).encode("utf-8")
    raise ValueError(f"unknown report format {fmt!r}")


def file_name(doc: Document, fmt: str) -> str:
    from .files import fit_name
    from .roster import unsafe_part

    stem = doc.title if not unsafe_part(doc.title) else f"report_{doc.year}"
    return fit_name(f"{stem}.{fmt}")


@functools.cache
def _environment(fmt: str):
    """One Jinja environment per output format for the life of the process: it keeps the
    compiled template, so a folder of reports compiles each template once."""
    from importlib import resources

    import jinja2

    folder = resources.files("workbook_tools.templates")
    loader = jinja2.FunctionLoader(lambda name: folder.joinpath(name).read_text(encoding="utf-8"))
    env = jinja2.Environment(
        loader=loader,
        # Autoescape HTML: a narrative containing <script> must show as text. In Markdown every
        # value is escaped the same way (HTML and Markdown syntax shown literally).
        autoescape=fmt == "html",
        finalize=safe_text.markdown if fmt == "md" else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = lambda s: str(s).replace("\n", " ")  # pipes: escaped by finalize
    return env


def html(doc: Document) -> str:
    svgs = []
    if doc.charts:
        from markupsafe import Markup

        from . import charts

        # pygal's XML writer escaped every label; the SVG goes into the page as markup.
        svgs = [Markup(charts.svg(c, i)) for i, c in enumerate(doc.charts)]
    return _environment("html").get_template("report.html.j2").render(doc=doc, charts=svgs)


def markdown(doc: Document) -> str:
    return _environment("md").get_template("report.md.j2").render(doc=doc)


def blocks(spec: Spec, table_id: str, values: dict[str, Any]) -> list[Block]:
    """Each block of a table with column headings as label paths (行政诉讼·复议后起诉·结果维持) and
    rows headed by their label path, for formats that cannot merge cells."""
    table = spec.table(table_id)
    out = []
    by_pos = {(d.block, d.row, d.col): d for d in spec.datapoints.values() if d.table == table_id}
    for bi, block in enumerate(table.blocks):
        cols = block.column_leaves()
        lone_root = len(block.columns) == 1 and bool(block.columns[0].children)
        header = [
            "·".join(h.label for h in path[1 if lone_root else 0 :] if h.label) for path, _ in cols
        ]
        rows = []
        for ri, (path, _) in enumerate(block.row_leaves()):
            label = " ".join(h.label for h in path if h.label)
            cells = [number_text(values.get(by_pos[(bi, ri, ci)].id)) for ci in range(len(cols))]
            rows.append(([label] if block.stub_width else []) + cells)
        if block.stub_width:
            header = [block.corner if block.caption else "", *header]
        note = block.corner if block.corner and not block.caption else ""
        out.append(Block(block.caption or "", note, header, rows))
    return out
