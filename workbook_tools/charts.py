"""Charts of a county total, where people would rather look than read: the status of the units,
applications received per unit (表三 一), the outcome mix of the county total (表三 （一）–（六）),
and with last year's files this year against last for the headline figures.

The data is computed once here (``county`` writes it as native Excel charts on the 图表 sheet
and keeps it in the workbook's metadata); ``svg`` draws the same charts for the HTML report.

SVG is drawn by pygal: pure Python, about 1.3 MB installed and 0.15 s to import (only when a
county report is written as HTML), its output real ``<text>`` that a page's search and a screen
reader see and that prints sharply. matplotlib would do the same at about 40 MB with its
dependencies and draw text as paths unless told otherwise, for four simple charts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .spec import Spec

PER_UNIT_LIMIT = 40  # bars in the per-unit chart; more would not be readable

TEXT = {
    "zh": {
        "status": "各单位报送情况（单位数）",
        "per_unit": "各单位本年新收政府信息公开申请数量",
        "per_unit_top": "本年新收政府信息公开申请数量最多的 {n} 个单位",
        "outcomes": "全县申请办理结果构成（表三 三、本年度办理结果）",
        "year_on_year": "主要数字与上年比较",
        "units": "单位数",
        "received": "新收申请",
        "count": "件数",
        "this_year": "{year}年",
        "last_year": "{year}年",
        "last_year_partial": "{year}年（{n} 个单位）",
    },
    "en": {
        "status": "Status of the units (units)",
        "per_unit": "Applications received per unit (table 三, item 一)",
        "per_unit_top": "The {n} units with the most applications received",
        "outcomes": "Outcomes of the county's applications (table 三, item 三)",
        "year_on_year": "Headline figures against last year",
        "units": "units",
        "received": "received",
        "count": "count",
        "this_year": "{year}",
        "last_year": "{year}",
        "last_year_partial": "{year} ({n} units)",
    },
}

# Headline figures for the year-on-year chart: label (zh, en) and the datapoints summed.
HEADLINES = [
    ("本年新收申请", "Applications received", ["t3.new.total"]),
    ("本年办结", "Applications decided", ["t3.total.total"]),
    ("结转下年度", "Carried to next year", ["t3.carry_next.total"]),
    ("行政复议", "Administrative reviews", ["t4.review.total"]),
    ("行政诉讼", "Lawsuits", ["t4.direct.total", "t4.after_review.total"]),
    ("制发行政规范性文件", "Normative documents issued", ["t2.normative.issued"]),
    ("行政许可决定", "Licensing decisions", ["t2.licensing.decisions"]),
    ("行政处罚决定", "Penalty decisions", ["t2.penalty.decisions"]),
]
RECEIVED = "t3.new.total"


@dataclass
class Chart:
    id: str  # status | per_unit | outcomes | year_on_year
    title: str
    kind: str  # bar (horizontal) | column | pie
    categories: list[str]
    series: list[tuple[str, list[float]]] = field(default_factory=list)


def status_chart(counts: dict[str, int], labels: dict[str, str], lang: str) -> Chart:
    t = TEXT[lang]
    cats = [labels.get(s, s) for s, n in counts.items() if n]
    return Chart(
        "status", t["status"], "bar", cats, [(t["units"], [n for n in counts.values() if n])]
    )


def per_unit_chart(received: list[tuple[str, float]], lang: str) -> Chart:
    t = TEXT[lang]
    ranked = sorted(received, key=lambda kv: (-kv[1], kv[0]))
    title = t["per_unit"]
    if len(ranked) > PER_UNIT_LIMIT:
        ranked = ranked[:PER_UNIT_LIMIT]
        title = t["per_unit_top"].format(n=PER_UNIT_LIMIT)
    return Chart(
        "per_unit", title, "bar", [u for u, _ in ranked], [(t["received"], [v for _, v in ranked])]
    )


def outcome_groups(spec: Spec) -> list[tuple[str, list[str]]]:
    """表三's outcome rows （一）…（六）: each second-level row label of 三、本年度办理结果 with the
    ids of its 总计-column cells; the （七）总计 row is left out (it is their sum)."""
    groups: dict[str, list[str]] = {}
    for dp in spec.datapoints.values():
        if dp.table != "t3" or len(dp.row_labels) < 2 or not dp.col_labels:
            continue
        if dp.col_labels[-1][0] != "total":
            continue
        groups.setdefault(dp.row_labels[1][1], []).append(dp.id)
    return [(label, ids) for label, ids in groups.items() if "总计" not in label]


def outcomes_chart(spec: Spec, totals: dict[str, Any], lang: str) -> Chart:
    t = TEXT[lang]
    groups = outcome_groups(spec)
    values = [float(sum(_num(totals.get(i)) for i in ids)) for _, ids in groups]
    cats = [_short(label) for label, _ in groups]
    return Chart("outcomes", t["outcomes"], "pie", cats, [(t["count"], values)])


def year_on_year_chart(
    spec: Spec,
    totals: dict[str, Any],
    last: dict[str, Any],
    year: int | None,
    lang: str,
    matched: int | None = None,
    units: int | None = None,
) -> Chart:
    t = TEXT[lang]
    zh = lang == "zh"
    rows = [(zh_en[0 if zh else 1], ids) for *zh_en, ids in HEADLINES]
    rows = [(label, ids) for label, ids in rows if all(i in spec.datapoints for i in ids)]
    this = [float(sum(_num(totals.get(i)) for i in ids)) for _, ids in rows]
    then = [float(sum(_num(last.get(i)) for i in ids)) for _, ids in rows]
    prev = (year - 1) if year else ""
    last_name = (
        t["last_year_partial"].format(year=prev, n=matched)
        if matched is not None and units is not None and matched < units
        else t["last_year"].format(year=prev)
    )
    return Chart(
        "year_on_year",
        t["year_on_year"],
        "bar",
        [label for label, _ in rows],
        [(last_name, then), (t["this_year"].format(year=year or ""), this)],
    )


def _num(v: Any) -> float:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else 0


def _short(label: str) -> str:
    """（二）部分公开（区分处理的，…） -> （二）部分公开: the heading without its note."""
    head, sep, _ = label[3:].partition("（")
    return label[:3] + head if sep else label


def to_json(charts: list[Chart]) -> str:
    return json.dumps([asdict(c) for c in charts], ensure_ascii=False)


def from_json(text: str | None) -> list[Chart]:
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return []
    out = []
    for c in data if isinstance(data, list) else []:
        try:
            series = [(str(n), [float(v) for v in vs]) for n, vs in c["series"]]
            out.append(
                Chart(
                    str(c["id"]),
                    str(c["title"]),
                    str(c["kind"]),
                    list(map(str, c["categories"])),
                    series,
                )
            )
        except (KeyError, TypeError, ValueError):
            continue  # a damaged entry: no chart rather than a wrong one
    return out


# --- SVG for the HTML report -----------------------------------------------------------------

FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimHei", sans-serif'


def svg(chart: Chart, index: int = 0) -> str:
    """The chart as an inline ``<svg>`` element: no script, no external reference, a stable id
    (the same report gives the same bytes), labels escaped by the XML writer."""
    import pygal
    from pygal.style import Style

    style = Style(
        font_family=FONT,
        background="white",
        plot_background="white",
        foreground="#333",
        foreground_strong="#000",
        foreground_subtle="#888",
        colors=("#4472c4", "#ed7d31", "#a5a5a5", "#ffc000", "#5b9bd5", "#70ad47"),
        title_font_size=16,
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=12,
        value_font_size=11,
    )
    bars = len(chart.categories)
    common = {
        "style": style,
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 800,
        "print_values": True,
        "title": chart.title,
        "truncate_label": -1,
        "truncate_legend": -1,
    }
    if chart.kind == "pie":
        c = pygal.Pie(height=420, legend_at_bottom=True, legend_at_bottom_columns=3, **common)
        for label, value in zip(chart.categories, chart.series[0][1], strict=True):
            c.add(label, [value])
    else:
        cls = pygal.HorizontalBar if chart.kind == "bar" else pygal.Bar
        # each bar as thick as its printed value is tall, so the values of a pair never meet
        per_bar = 28 if len(chart.series) == 1 else 20 * len(chart.series) + 8
        height = max(260, per_bar * bars + 120) if chart.kind == "bar" else 420
        if chart.kind == "bar":
            # pygal sizes the label margin for Latin text (0.6 em a character); a Chinese
            # character is a whole em, so long category names were cut at the left edge
            common["margin_left"] = 20 + int(
                max((_label_em(x) - 0.6 * len(x)) * 12 for x in chart.categories)
            )
        c = cls(
            height=height,
            show_legend=len(chart.series) > 1,
            legend_at_bottom=True,
            x_label_rotation=0,
            **common,
        )
        # pygal draws a horizontal bar chart's first category at the bottom; the table and the
        # Excel chart have it on top
        flip = (lambda xs: list(reversed(xs))) if chart.kind == "bar" else list
        c.x_labels = flip(chart.categories)
        for name, values in chart.series:
            c.add(name, flip(values))
    from lxml import etree  # pygal builds its tree with lxml (python-docx's dependency too)

    tree = c.render_tree()
    # pygal always embeds its tooltip configuration as a script; the report needs none.
    for script in list(tree.iter("{http://www.w3.org/2000/svg}script", "script")):
        script.getparent().remove(script)
    old = tree.get("id")
    new = f"chart-{chart.id}-{index}"
    tree.set("id", new)
    tree.set("role", "img")
    tree.set("aria-label", chart.title)
    text = etree.tostring(tree, encoding="unicode")
    # pygal scopes its style sheet by the element id; keep it scoped to the stable id, and drop
    # its comments (they carry the render date).
    text = text.replace(f"#{old}", f"#{new}")
    return _strip_comments(text)


def _label_em(text: str) -> float:
    """A label's width in ems: Chinese (and other full-width) characters one, others 0.6."""
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.6 for ch in text)


def _strip_comments(text: str) -> str:
    import re

    return re.sub(r"<!--.*?-->", "", text, flags=re.S)
