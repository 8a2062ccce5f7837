"""The report's structure: its title (unit and year) and its six sections, found by their headings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .labels import fold
from .sources import HEADING_FORMS, PAGE_TITLE, Line

NUMERALS = "一二三四五六"
SECTION_WORDS = {  # besides its numeral, a heading has one of these words
    "s1": ("总体情况",),
    "s2": ("主动公开",),
    "s3": ("申请",),
    "s4": ("复议", "诉讼"),
    "s5": ("问题",),
    "s6": ("其他",),
}

_REPORT = r"(?:政府)?信息公开(?:工作)?(?:年度)?(?:报告|年报|情况的?报告)"
_TITLES = (  # the title forms seen on real reports, tried on one to three joined lines
    re.compile(r"^(.*?)关于(\d{4})年度?" + _REPORT),  # …关于2022年度政府信息公开情况的报告
    re.compile(r"^(.*?)(\d{4})年度?" + _REPORT),  # <unit>2023年(度)(政府)信息公开(工作)年度报告
    # <unit>2022 / 政府信息公开工作年度报告: broken right after the year, its 年 lost
    re.compile(r"^(.*?\D)(\d{4})" + _REPORT),
    re.compile(r"^()(\d{4})年度?(.+?)" + _REPORT),  # 2023年度<unit>政府信息公开工作年度报告
    # …特向社会公布2024年<unit>政府信息公开工作情况报告: the unit after the year, in a sentence
    re.compile(r"^(.*?)(\d{4})年度?(.{2,30}?)" + _REPORT),
    # <unit>政府信息公开工作2022年度报告: the year after the words
    re.compile(r"^(.*?)(?:政府)?信息公开(?:工作)?(\d{4})年度?(?:工作)?(?:报告|年报)"),
)
# A title that names no year (“某市农业农村局 / 政府信息公开工作年度报告”), the year then comes
# from the statistics period or the body.
_NO_YEAR = re.compile(r"^(.{2,30}?)" + _REPORT + "$")
_NOT_UNIT = re.compile(r"^(?:Page\d+-|标题[:：]|题目[:：]|[#《》“”\s])+|[《》“”\s]+$")
_HEADING = re.compile(r"^\s*[一二三四五六七八九十]+、")
# What stands before 信息公开 in a report's own name, not a unit's name.
_NOT_NAMES = ("政府", "人民政府", "政务")
_PERIOD = re.compile(r"统计期限(?:为|是)?(?:自|从)?(\d{4})年1月1日")
_BODY_YEAR = re.compile(r"^(\d{4})年(?:度|以来)?[，,、]")
_FILE_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
_INTRO = re.compile(r"^.*?(?:现公布|现予公布|特发布|现发布|现将|向社会公布|公布)(?!的)")
# The sentence that names the report after the year (“…特编制2023年度<unit>信息公开年度报告”)
_INTRO_YEAR = re.compile(_INTRO.pattern.replace("|公布)", "|公布|编制)"))
KINDS_BY_WORD = (  # how a report speaks of its own unit: 我镇 …
    ("乡镇", ("我镇", "我乡", "全镇", "全乡")),
    ("街道", ("我街道", "全街道", "本街道")),
    ("部门", ("我局", "我委", "我办", "本局", "本委", "我中心", "我院", "我队")),
)


@dataclass
class Title:
    unit: str = ""
    year: int | None = None
    line: int | None = None  # where the title (or the sentence naming the unit) is
    year_from: str = ""  # title, period, body, file name
    unit_from: str = ""  # title, first sentence


def _plausible(year: int) -> bool:
    return 2000 <= year <= 2100


# How a report speaks of itself (“现公布我局2022年…报告”): no name to take as the unit.
_SELF = re.compile(
    r"^[我本](?:局|委|办|镇|乡|街道|街|区|县|市|厅|单位|机关|部门|中心|院|队|所|处|级)$"
)


def _unit(text: str) -> str:
    unit = _NOT_UNIT.sub("", text)
    return "" if _SELF.match(unit) else unit


def _title_at(part: list[Line]) -> Title | None:
    if len(part) > 1 and any(len(fold(p.text)) > 40 or _HEADING.match(p.text) for p in part):
        return None  # a title is split over short lines, never over paragraphs or headings
    text = fold("".join(p.text for p in part))
    for n, form in enumerate(_TITLES):
        m = form.search(text)
        if not m or not _plausible(int(m.group(2))):
            continue
        if n == 4:  # only after the verb that publishes (or compiles) the report
            intro = _INTRO_YEAR.match(m.group(1))
            if not intro or intro.end() != len(m.group(1)):
                continue
            unit, source = _unit(m.group(3)), "first sentence"
            if unit in _NOT_NAMES:  # “X特编制2023年政府信息公开…”: the unit is before
                continue
        else:
            unit = _unit(m.group(3) if n == 3 else m.group(1))
            source = "title"
        if intro := _INTRO.match(unit):  # “现公布区统计局2023年…”: the unit follows the verb
            unit, source = _unit(unit[intro.end() :]), "first sentence"
        if len(unit) > 30 or re.search(r"[，。；：,;:]|\d{4}年", unit) or unit in _NOT_NAMES:
            continue  # a sentence or “现将2024年政务信息公开…” (no name), not a name
        return Title(unit, int(m.group(2)), part[0].no, "title", source if unit else "")
    if (
        (m := _NO_YEAR.match(text))
        and not re.search(r"\d{4}年|[,.;:，。；：|]", m.group(1))
        and _unit(m.group(1)) not in ("政府", "人民政府")
    ):
        return Title(_unit(m.group(1)), None, part[0].no, "", "title")
    return None


_HEAD_CELLS = 120  # lines and metadata cells searched for a title (real heads: under 40)


def find_title(lines: list[Line], file_name: str = "") -> Title:
    """The unit and year, and where each came from: the title (on one line or split over two
    or three), the sentence that names the report, the statistics period, the body's first
    “2023年，…”, and the file name as a last resort."""
    head: list[Line] = []
    page_titles: list[Line] = []
    for line in lines[:40]:
        if m := PAGE_TITLE.match(line.text):
            page_titles.append(Line(line.no, m.group(1)))
        elif "|" in line.text:  # a metadata table before the report: each cell on its own
            cells = (
                Line(line.no, c.strip()) for c in line.text.split("|", _HEAD_CELLS)[:_HEAD_CELLS]
            )
            head.extend(c for c in cells if c.text)
        elif line.text.strip():
            head.append(line)
    # A title is among the first few lines, or cells of a metadata table: a line of hundreds
    # of thousands of cells is not a header to search three spans at a time.
    head = head[:_HEAD_CELLS]
    # A title on one line first, then split over two or three lines; one naming its unit and
    # year first; the saved page's own <title> only when the text names no unit.
    titles = [
        t
        for span in (1, 2, 3)
        for i in range(len(head) - span + 1)
        if (t := _title_at(head[i : i + span]))
    ]
    if not any(t.unit for t in titles):
        for page_title in page_titles:  # “某局2024年…年度报告_某县人民政府网”
            name = re.split(r"[_|—–-]", page_title.text)[0]
            if t := _title_at([Line(page_title.no, name)]):
                titles.append(t)
    found = next(
        (t for t in titles if t.unit and t.year),
        next((t for t in titles if t.unit), titles[0] if titles else Title()),
    )
    if not found.year:
        for line in lines:
            m = _PERIOD.search(fold(line.text))
            if m and _plausible(int(m.group(1))):
                found.year, found.year_from = int(m.group(1)), "period"
                break
    if not found.year:
        for line in lines:
            m = _BODY_YEAR.match(fold(line.text))
            if m and _plausible(int(m.group(1))):
                found.year, found.year_from = int(m.group(1)), "body"
                break
    if not found.year and (m := _FILE_YEAR.search(file_name)):
        found.year, found.year_from = int(m.group(1)), "file name"
    return found


def kind_from_text(lines: list[Line]) -> str:
    """The unit kind from how the report speaks of itself (我镇, 我局 …), by the most used word."""
    text = "".join(line.text for line in lines[:200])
    counts = {kind: sum(text.count(w) for w in words) for kind, words in KINDS_BY_WORD}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else ""


# The headings as some portals print them, without their numeral (“总体情况”): only the known
# wordings, whole, count.
_BARE = {fold(h.split("、", 1)[1]) for h in HEADING_FORMS}


def _heading(text: str, n: int, sid: str, arabic: bool = False) -> bool:
    """Whether a (folded) line is section ``n``'s heading: its numeral and “、” — or “.”, “，”,
    “：” as some reports number them — and one of its words; or a known wording without numeral.
    With ``arabic``, “1、总体情况” too, but only with a known wording after the number: reports
    that number their headings so also number the narrative's items (“2、主动公开。…”)."""
    if len(text) > 40:
        return False
    if text in _BARE:
        return any(w in text for w in SECTION_WORDS[sid])
    if len(text) < 3 or text[1] not in "、.,:":
        return False
    if text[0] == NUMERALS[n]:
        return any(w in text for w in SECTION_WORDS[sid])
    return arabic and text[0] == str(n + 1) and text[2:] in _BARE


# The rows that open each table, for a copy of a report that lost its section headings (a mirror
# that kept the page's paragraphs and tables but not its own headings): 表二's first item, 表三's
# note on its sums, 表四's two group headings.
_TABLE_OPENS = {
    "s2": re.compile(r"^[*#|\s]*第二十条第\(一\)项"),
    "s3": re.compile(r"^[*#|\s(]*本列数据的勾稽关系"),
    "s4": re.compile(r"^[*#|\s]*行政复议[|·\s]*(?:行政诉讼|结果维持)"),
}


def find_sections(lines: list[Line]) -> dict[str, tuple[int, int]]:
    """Section id -> (first, last) index into lines, found in order; headings numbered 1、2、…
    only when that finds more of them than the official numerals do. A table section whose
    heading is not in the text starts at the row that opens its table."""
    folded = [fold(line.text) for line in lines]
    found = _find(folded, arabic=False)
    if len(found) < len(SECTION_WORDS):
        found = max(found, _find(folded, arabic=True), key=len)
    starts = {sid: i + 1 for sid, i in found.items()}  # the section's text follows its heading
    order = list(SECTION_WORDS)
    for sid, opens in _TABLE_OPENS.items():
        if sid in found:
            continue
        k = order.index(sid)
        after = max((found[s] for s in order[:k] if s in found), default=-1)
        before = min((found[s] for s in order[k + 1 :] if s in found), default=len(lines))
        i = next((i for i in range(after + 1, before) if opens.match(folded[i])), None)
        if i is not None:
            found[sid], starts[sid] = i, i  # the opening row is the table's own
    bounds: dict[str, tuple[int, int]] = {}
    ordered = sorted(found.items(), key=lambda kv: kv[1])
    for k, (sid, _) in enumerate(ordered):
        end = ordered[k + 1][1] if k + 1 < len(ordered) else len(lines)
        bounds[sid] = (starts[sid], end)
    return bounds


def _find(folded: list[str], arabic: bool) -> dict[str, int]:
    found: dict[str, int] = {}
    start = 0
    for n, sid in enumerate(SECTION_WORDS):
        for i in range(start, len(folded)):
            if _heading(folded[i], n, sid, arabic):
                found[sid] = i
                start = i + 1
                break
    return found


def is_2019(lines: list[Line]) -> bool:
    text = fold("".join(line.text for line in lines))
    return any(
        w in text
        for w in ("本年新制作数量", "对外公开总数量", "其他对外管理服务事项", "政府集中采购")
    )


def guess_kind(unit: str) -> str:
    if unit.endswith(("镇", "乡", "镇人民政府", "乡人民政府", "镇政府", "乡政府")):
        return "乡镇"
    if unit.endswith(("街道", "街道办事处", "街", "街道办")):
        return "街道"
    if unit.endswith(
        ("局", "委", "办", "办公室", "办公厅", "厅", "委员会", "中心", "院", "所", "队")
    ):
        return "部门"
    if unit.endswith("政府"):  # a county's, district's or city's own report
        return "政府"
    return ""
