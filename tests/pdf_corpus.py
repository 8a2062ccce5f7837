"""PDF reports made the way real ones are: a Word layout (python-docx) printed to PDF by
LibreOffice headless. Each layout reproduces something real published PDFs do — ruled and unruled
tables, the row group label written down a narrow merged cell one character per line, labels
wrapped inside narrow cells, tables running on over a page break, running headers and “— 3 —”
page footers — and carries its own expected values (None = a blank cell, which must stay blank;
ids absent from ``expected`` are cut off and must be reported missing, never read as 0).

The narrative is generic text written for these tests; the figures of ``real_*`` layouts are the
hand-typed figures of real reports (../shared/examples/published/expected_t3_t4.json).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from workbook_tools import report, spec

SHARED = (
    Path(os.environ.get("WBTOOLS_SHARED") or Path(__file__).resolve().parents[2] / "shared")
    / "examples"
    / "published"
)

NARRATIVE = {  # written for these tests
    "s1": [
        "本年度，本单位按照条例要求推进政府信息公开工作，各项任务按期完成。",
        "（一）主动公开情况。全年通过门户网站发布各类信息，及时更新机构职能、政策文件和统计数据等栏目。",
        "（二）依申请公开情况。全年依法受理并答复政府信息公开申请，所有申请均在法定期限内办结。",
        "（三）政府信息管理情况。严格执行发布前审查制度，定期清理已公开信息，确保信息准确有效。",
        "（四）政府信息公开平台建设情况。优化网站栏目设置，加强政务新媒体日常管理。",
        "（五）监督保障情况。将政务公开纳入年度考核，组织业务培训两次。",
    ],
    "s5": [
        "一是公开内容的深度还需拓展，二是解读形式仍较单一。下一步将加强培训，丰富解读形式。",
    ],
    "s6": ["本年度未收取信息处理费。无其他需要报告的事项。"],
}
FILLER = (
    "围绕年度重点工作，持续完善公开目录，细化公开标准，推动决策、执行、管理、服务、结果各环节信息"
    "及时公开，并对照上级要求逐项检查落实情况，对发现的问题建立台账、限期整改、跟踪问效。"
)


@dataclass
class Layout:
    name: str
    unit: str = "青禾县测试局"
    year: int = 2024
    values: dict[str, Any] = field(default_factory=dict)  # datapoint id -> figure (None: blank)
    ruled: bool = True
    title_lines: tuple[str, ...] = ()  # the title as printed, one entry per line
    group_mm: float = 7.0  # the 三、本年度办理结果 column: narrow enough for one character a line
    label_mm: float = 34.0  # the item label column: narrow enough to wrap long labels
    footer: str = "— {page} —"
    header: str = ""  # a running header on every page
    filler: int = 0  # paragraphs of 一、总体情况 before the tables, to push them over page breaks
    cut_t3_after: int | None = None  # 表三 cut off after this many body rows (and no 表四)
    landscape_t3: bool = False

    @property
    def expected(self) -> dict[str, Any]:
        s = spec.load()
        ids = [d.id for d in s.datapoints.values()]
        out = {i: self.values.get(i) for i in ids if i in self.values or _printed(self, s, i)}
        if self.cut_t3_after is not None:
            rows = _t3_rows(s)
            for row in rows[self.cut_t3_after :]:
                for i in row:
                    out.pop(i, None)
            for d in s.datapoints.values():
                if d.table == "t4":
                    out.pop(d.id, None)
        return out


def _printed(layout: Layout, s, dp_id: str) -> bool:
    return s.datapoints[dp_id].table in ("t2", "t3", "t4")


def _t3_rows(s) -> list[list[str]]:
    rows: dict = {}
    for d in s.datapoints.values():
        if d.table == "t3":
            rows.setdefault((d.block, d.row), []).append(d.id)
    return [rows[k] for k in sorted(rows)]


def real_values(name: str) -> dict[str, Any]:
    """表三/表四 of a real report, as typed in by hand in expected_t3_t4.json."""
    s = spec.load()
    data = json.loads((SHARED / "expected_t3_t4.json").read_text(encoding="utf-8"))
    truth = data[name]
    out: dict[str, Any] = {}
    for key, row in zip(data["_rows_t3"], _t3_rows(s), strict=True):
        ids = sorted(row, key=lambda i: s.datapoints[i].col)
        out.update(zip(ids, truth["t3"][key], strict=True))
    t4 = sorted(
        (d for d in s.datapoints.values() if d.table == "t4"),
        key=lambda d: (d.block, d.row, d.col),
    )
    out.update({d.id: v for d, v in zip(t4, truth["t4"], strict=True)})
    return out


T2_FIGURES = {  # 表二 figures typed for these tests
    "t2.rules.issued": 1,
    "t2.rules.repealed": 0,
    "t2.rules.in_force": 11,
    "t2.normative.issued": 8,
    "t2.normative.repealed": 26,
    "t2.normative.in_force": 66,
    "t2.licensing.decisions": 447228,
    "t2.penalty.decisions": 3985758,
    "t2.coercion.decisions": 88283,
    "t2.fees.amount": 96171.6,
}


# --- the Word document ------------------------------------------------------------------------


def _east_asian(run, font: str = "宋体") -> None:
    rpr = run._element.get_or_add_rPr()
    fonts = OxmlElement("w:rFonts")
    fonts.set(qn("w:eastAsia"), font)
    rpr.insert(0, fonts)


def _para(doc, text: str, size: float = 12, indent: bool = True, align=None, bold=False):
    p = doc.add_paragraph()
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)
    if align is not None:
        p.alignment = align
    run = p.add_run(text)
    run.font.size = Pt(size)
    run.bold = bold
    _east_asian(run)
    return p


def _field(paragraph, instr: str) -> None:
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, instr), ("separate", None), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def _no_borders(table) -> None:
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tblpr.append(borders)


def _table(doc, layout: Layout, table_id: str, usable_mm: float, rows_limit: int | None = None):
    s = spec.load()
    values = {k: v for k, v in layout.values.items()}
    grid = report.grid(s, table_id, {})
    cells_by_pos: dict[tuple[int, int], str] = {}
    tl = _value_positions(s, table_id, grid)
    for (r, c), dp_id in tl.items():
        v = values.get(dp_id)
        cells_by_pos[(r, c)] = "" if v is None else _number(v)
    rows = grid.rows
    if rows_limit is not None:
        rows = rows[: grid.header_rows + rows_limit]
    widths = list(grid.widths)
    if table_id == "t3":
        widths[0], widths[1], widths[2] = layout.group_mm, 16.0, layout.label_mm
        rest = (usable_mm - sum(widths[:3])) / (len(widths) - 3)
        widths[3:] = [rest] * (len(widths) - 3)
    else:
        scale = usable_mm / sum(widths)
        widths = [w * scale for w in widths]
    table = doc.add_table(rows=len(rows), cols=grid.width)
    if layout.ruled:
        table.style = "Table Grid"
    else:
        _no_borders(table)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for c, width in enumerate(widths):
        table.columns[c].width = Mm(width)
        for cell in table.columns[c].cells:
            cell.width = Mm(width)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if cell is None:
                continue
            target = table.cell(r, c)
            last_r = min(r + cell.rowspan - 1, len(rows) - 1)
            if last_r > r or cell.colspan > 1:
                target = target.merge(table.cell(last_r, c + cell.colspan - 1))
            target.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            p = target.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER if cell.kind == "value" else None
            text = cells_by_pos.get((r, c), "") if cell.kind == "value" else cell.text
            run = p.add_run(text)
            run.font.size = Pt(9)
            _east_asian(run)
    return table


def _value_positions(s, table_id: str, grid) -> dict[tuple[int, int], str]:
    from workbook_tools import layout as layout_module

    tl = layout_module.build(s).tables[table_id]
    return {(p.row - layout_module.TABLE_TOP, p.col): dp_id for dp_id, p in tl.cells.items()}


def _number(v) -> str:
    return str(int(v)) if isinstance(v, int) or float(v).is_integer() else str(v)


def build_docx(layout: Layout, path: Path) -> Path:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(25)
    section.top_margin = section.bottom_margin = Mm(25)
    if layout.footer:
        p = section.footer.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        before, _, after = layout.footer.partition("{page}")
        p.add_run(before)
        _field(p, "PAGE")
        p.add_run(after)
    if layout.header:
        p = section.header.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(layout.header)
        _east_asian(run)
    title = layout.title_lines or (f"{layout.unit}{layout.year}年政府信息公开工作年度报告",)
    for line in title:
        _para(doc, line, size=20, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    _para(
        doc,
        f"本报告依据《中华人民共和国政府信息公开条例》编制，统计期限为{layout.year}年1月1日至"
        f"{layout.year}年12月31日。",
    )
    s = spec.load()
    usable = 160.0
    for sec in s.sections:
        _para(doc, sec.heading, size=14, bold=True)
        if sec.id in NARRATIVE:
            texts = list(NARRATIVE[sec.id])
            if sec.id == "s1":
                texts[1:1] = [FILLER] * layout.filler
            for text in texts:
                _para(doc, text)
        if sec.table:
            if sec.table == "t4" and layout.cut_t3_after is not None:
                continue  # the report was cut inside 表三
            _table(
                doc,
                layout,
                sec.table,
                usable,
                layout.cut_t3_after if sec.table == "t3" else None,
            )
    doc.save(str(path))
    return path


# --- the layouts ---------------------------------------------------------------------------


def layouts() -> list[Layout]:
    huaian = {**T2_FIGURES, **real_values("huaian_2024.pdf")}
    pingtan = {**T2_FIGURES, **real_values("pingtan_2023.txt")}
    blanks = dict(pingtan)
    for dp_id in ("t3.new.research", "t3.new.legal", "t3.carried.total", "t4.review.upheld"):
        blanks[dp_id] = None  # printed blank: stays blank, never 0
    return [
        # ruled tables, the group label down a narrow cell, wrapped labels, footers “— n —”,
        # 表三 pushed over a page break by the narrative, a title over two lines
        Layout(
            "ruled_real",
            unit="淮安市人民政府",
            values=huaian,
            filler=9,
            title_lines=("淮安市人民政府", "2024年政府信息公开工作年度报告"),
        ),
        # the same without any rules: columns and rows from word positions alone
        Layout("unruled_real", values=pingtan, ruled=False, filler=5, footer="- {page} -"),
        # blank cells among the figures, a running header, page numbers “第 n 页”
        Layout("ruled_blanks", values=blanks, header="青禾县测试局政务公开", footer="第{page}页"),
        # the report cut off inside 表三 (rows after it missing, not zero)
        Layout("ruled_cut", values=pingtan, cut_t3_after=9, group_mm=12.0, label_mm=50.0),
    ]


def build(outdir: Path) -> dict[str, tuple[Path, Layout]]:
    """Write every layout's .docx and print them all to PDF in one LibreOffice run."""
    from workbook_tools import office

    src = outdir / "docx"
    src.mkdir(parents=True, exist_ok=True)
    docs = [build_docx(layout, src / f"{layout.name}.docx") for layout in layouts()]
    pdfs = office.convert_many(docs, "pdf", outdir / "pdf")
    return {lay.name: (pdf, lay) for lay, pdf in zip(layouts(), pdfs, strict=True)}
