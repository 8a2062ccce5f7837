"""The report's structure: its title (unit and year) and its six sections, found by their headings."""

from __future__ import annotations

import itertools
import re

from .. import patterns
from ..record import Record
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

# (…信息公开工作年度报告, …年报, …情况的报告, …工作的年度报告, …年度工作报告, …重点工作年度报告)
_REPORT = r"(?:政府)?信息公开(?:重点)?(?:工作)?(?:情况)?的?(?:年度)?(?:工作)?(?:报告|年报)"
_TITLES = (  # the title forms seen on real reports, tried on one to three joined lines
    patterns.compile(r"^(.*?)关于(\d{4})年度?" + _REPORT),  # …关于2022年度政府信息公开情况的报告
    patterns.compile(
        r"^(.*?)(\d{4})年度?" + _REPORT
    ),  # <unit>2023年(度)(政府)信息公开(工作)年度报告
    # <unit>2022 / 政府信息公开工作年度报告: broken right after the year, its 年 lost
    patterns.compile(r"^(.*?\D)(\d{4})" + _REPORT),
    patterns.compile(r"^()(\d{4})年度?(.+?)" + _REPORT),  # 2023年度<unit>政府信息公开工作年度报告
    # …特向社会公布2024年<unit>政府信息公开工作情况报告: the unit after the year, in a sentence
    patterns.compile(r"^(.*?)(\d{4})年度?(.{2,30}?)" + _REPORT),
    # <unit>政府信息公开工作2022年度报告: the year after the words
    patterns.compile(r"^(.*?)(?:政府)?信息公开(?:工作)?(\d{4})年度?(?:工作)?(?:报告|年报)"),
    # <unit>2021—2022学年信息公开年度报告: an academic year, reported in the year it ends
    patterns.compile(r"^(.*?\D)\d{4}[—–\-－~～至](\d{4})学?年度?" + _REPORT),
)
_NAMED = "信息公开"  # what every title form says (in _REPORT or in so many words)
# A title that names no year (“某市农业农村局 / 政府信息公开工作年度报告”), the year then comes
# from the statistics period or the body.
_NO_YEAR = patterns.compile(r"^(.{2,30}?)" + _REPORT + "$")
# (before a title: a page number, a label, a site's tag in brackets (【图文】, [置顶]), Markdown's
# # and > marks, a breadcrumb's arrows)
_NOT_UNIT = patterns.compile(
    r"^(?:Page\d+-|标题[:：]|题目[:：]|【[^【】]{1,6}】|\[[^\[\]]{1,6}\]|[#《》“”>»›\s])+"
    r"|[《》“”\s]+$"
)
_HEADING = patterns.compile(r"^\s*[一二三四五六七八九十]+、")
# What stands before 信息公开 in a report's own name, not a unit's name.
_NOT_NAMES = ("政府", "人民政府", "政务")
_PERIOD = patterns.compile(r"统计期限(?:为|是)?(?:自|从)?(\d{4})年1月1日")
_BODY_YEAR = patterns.compile(r"^(\d{4})年(?:度|以来)?[，,、]")
_FILE_YEAR = patterns.compile(r"(?<!\d)(20\d{2})(?!\d)")
# The verb of the sentence that publishes or compiles the report (“现公布区统计局2023年…”,
# “…特编制2023年度<unit>…报告”, “编制了…”); 编制 in a name (机构编制委员会办公室) is no verb. The
# last verb before the name counts: a notice cited earlier in the sentence (“《关于做好2024年…报告
# 编制发布工作的通知》”) has verbs of its own.
_VERB = (
    r"现公布|现予公布|特发布|现发布|现将|向社会公布|公布|现公开|现予公开|特公开"
    r"|(?<!机构)编制(?!委员会|办公室)(?:形成)?了?"
)
_INTRO = patterns.compile(rf"^(.*)(?:{_VERB})(?!的)")
# The unit that compiles the report, named before the verb: “由<unit>编制的2024年度…报告”, and
# “<unit>编制了县某局2020年…报告” whose name after the verb is a shorter form of the same.
# (“某街道特编制…”: the words before 特编制 are left alone, as the sentence may go on.)
_BY = patterns.compile(
    r"(?:^|[,;:，；：。])由?([^,;:，；：。、]{1,29}[^,;:，；：。、特现])(?:负责)?编制(?:了|的)?$"
)
# The report said to be compiled by a unit, with no name of the report after it.
_COMPILED_BY = patterns.compile(
    r"(?:本年度报告|本报告|本年报)[^。]*?由([^,;:，；：。、由]{2,30}?)编制(?![的了])"
)
# Where a report names no title, its unit may still be named: in the line for questions
# (“如本报告有疑问，请联系：某区某街道办事处，地址…”, “…请与某局联系”) — an office inside a
# township or street (党政综合办公室) answers for it — or as the subject of the body's first
# sentence (“2025年度，某街道全面贯彻落实…”).
_CONTACT = patterns.compile(
    r"(?:疑问|意见|建议)[^。]{0,12}?请(?:与|联系|致电)[:：]?\s*"
    r"([^,;:，；：。、()（）\s]{2,40}?)(?:联系|咨询|反映|[,;，；。(（]|$)"
)
# A division inside a general office (“…办公厅政务公开处”, “…办公室政府信息公开处”): where to
# write, not who reports — a government's report and its general office's own both name it.
_DIVISION = patterns.compile(r"(?:办公厅|办公室)[\u4e00-\u9fff]{1,12}处$")
_INNER_OFFICE = patterns.compile(  # (a government's 办公室 is a unit of its own: left whole)
    r"^(.+?(?:(?:街道|镇|乡)(?:办事处|人民政府|政府)?|局|委员会))[\u4e00-\u9fff]{0,6}?办(?:公室)?$"
)
_SUBJECT = patterns.compile(
    r"^\d{4}年(?:度|以来)?[，,、]\s*"
    r"([^\s，,。；;、：:“”《》()（）]{2,20}?(?:街道办事处|街道|人民政府|镇|乡|局|委员会|办公室|中心))"
    r"(?=全面|深入|认真|坚持|持续|紧紧|紧密|扎实|进一步|严格|高度|始终|积极|围绕|按照|根据|"
    r"依托|结合|聚焦|着力|不断|切实|以)"
)
_LEVELS = "省市县区州盟旗镇乡"  # a name that starts with its level has lost its place
_QUALIFIER = patterns.compile(
    r"[(（][^()（）]{1,4}[)）]$"
)  # “某镇政府（机关）”: not part of the name
# How an agency's name ends. A name read out of a sentence must end so: after a verb a sentence
# may go on with words (“…关于编制发布2021年…报告的函”), not a name.
_NAME_END = "局委办室府镇乡街道处厅部署院所队站心会区县市旗馆社场园关司校团州村居组省盟"
KINDS_BY_WORD = (  # how a report speaks of its own unit: 我镇 … (苏木: Inner Mongolia's townships)
    ("乡镇", ("我镇", "我乡", "全镇", "全乡", "我苏木", "全苏木")),
    ("街道", ("我街道", "全街道", "本街道")),
    ("部门", ("我局", "我委", "我办", "本局", "本委", "我中心", "我院", "我队")),
)


class Title(Record):
    """What a report says of its unit and year, and where. (A record written out, not a dataclass: see ``record``.)"""

    _fields = ("unit", "year", "line", "year_from", "unit_from")

    def __init__(
        self,
        unit: str = "",
        year: int | None = None,
        line: int | None = None,  # where the title (or the sentence naming the unit) is
        year_from: str = "",  # title, period, body, file name
        unit_from: str = "",  # title, first sentence
    ) -> None:
        self.unit = unit
        self.year = year
        self.line = line
        self.year_from = year_from
        self.unit_from = unit_from


def _plausible(year: int) -> bool:
    return 2000 <= year <= 2100


# How a report speaks of itself (“现公布我局2022年…报告”): no name to take as the unit.
# (and of a whole level, “全省”, “各市”: no name either)
_SELF = patterns.compile(
    r"^[我本全各该](?:局|委|办|镇|乡|街道|街|区|县|市|省|州|盟|旗|厅|单位|机关|部门|中心|院|队|所|处|级)$"
)


_LETTERS = patterns.compile(r"[^\W\d_]{2}")  # a name has words: not “>>” or “--” alone
# What no name holds: a breadcrumb's marks (首页 > 政务公开 > …), a page title's separator
# (…年度报告_某县人民政府网), and the symbols of spam that mirrors put into names.
# (and Latin letters: no Chinese organ's name has them, a spam mirror's “VIP”/“APP” and a
# template's “xx县” do)
_NOT_IN_NAME = patterns.compile(r"[<>«»‹›|_¥$@#=*A-Za-z]")
_YEAR_OR_STOP = patterns.compile(r"\d{4}|[,.;:，。；：|]")  # (no unit name holds these)
_STOP_OR_YEAR = patterns.compile(r"[，。；：,;:《》]|\d{4}年")
_YEAR_OR_LEVELS = patterns.compile(r"\d{4}年|各级")
_SITE_SEPARATOR = patterns.compile(r"[_|—–-]")  # between a page title and the site's name


def _unit(text: str) -> str:
    unit = _QUALIFIER.sub("", _NOT_UNIT.sub("", text))
    return "" if _SELF.match(unit) or not _LETTERS.search(unit) else unit


MAX_YEARS = 6  # years tried per title form on one line: a sentence cites a few documents first


def _matches(form: re.Pattern[str], text: str):
    """The matches of a title form, one per year it can take: a form finds the first year that
    fits, and a sentence may cite another report's or notice's year before its own. Each year
    tried is masked for the next search; the groups are read from ``text``. At most MAX_YEARS,
    so a long line full of years costs a few searches, not one per year."""
    masked = text
    for _ in range(MAX_YEARS):
        if not (m := form.search(masked)):
            return
        yield m
        start, end = m.span(2)
        masked = masked[:start] + "#" * (end - start) + masked[end:]


def _title_at(part: list[Line]) -> Title | None:
    if len(part) > 1 and any(len(fold(p.text)) > 40 or _HEADING.match(p.text) for p in part):
        return None  # a title is split over short lines, never over paragraphs or headings
    text = fold("".join(p.text for p in part))
    if _NAMED not in text:  # (every title form, and _NO_YEAR, holds it: one search, not eight)
        return None
    for n, form in enumerate(_TITLES):
        for m in _matches(form, text):
            title = _title_from(n, text, m, part[0].no)
            if title is not None:
                return title
    if (
        (m := _NO_YEAR.match(text))
        and not _YEAR_OR_STOP.search(m.group(1))
        and not _NOT_IN_NAME.search(_unit(m.group(1)))
        and _unit(m.group(1)) not in ("政府", "人民政府")
    ):
        return Title(_unit(m.group(1)), None, part[0].no, "", "title")
    return None


def _title_from(n: int, text: str, m: re.Match[str], line: int) -> Title | None:
    """The unit and year of title form ``n``'s match (its groups' spans read in ``text``), or
    None when what stands in the unit's place is no name."""
    year = int(text[m.start(2) : m.end(2)])
    before = text[: m.end(1)]  # the text before the year (before 关于 in form 0)
    if not _plausible(year):
        return None
    if n == 4:  # only after the verb that publishes (or compiles) the report
        if by := _BY.search(before):  # “由某局编制的2024年度政府信息公开年度报告”
            unit = _unit(by.group(1))
        else:
            intro = _INTRO.match(before)
            if not intro or intro.end() != len(before):
                return None
            unit = _unit(text[m.start(3) : m.end(3)])
        if unit in _NOT_NAMES:  # “X特编制2023年政府信息公开…”: the unit is before
            return None
        source = "first sentence"
    else:
        unit, source = _unit(text[m.start(3) : m.end(3)] if n == 3 else before), "title"
    if intro := _INTRO.match(unit):  # “现公布区统计局2023年…”: the unit follows the verb
        named, unit, source = unit[: intro.end()], _unit(unit[intro.end() :]), "first sentence"
        # “某县某局编制了县某局2023年…”: the compiling unit, named more fully before the verb
        if (by := _BY.search(named)) and (subject := _unit(by.group(1))).endswith(unit):
            unit = subject
    if (
        len(unit) > 30
        or _STOP_OR_YEAR.search(unit)
        or _NOT_IN_NAME.search(unit)
        or unit in _NOT_NAMES
    ):
        # a sentence (citing a document by its title), or “现将2024年政务信息公开…” (no name)
        return None
    if source == "first sentence" and unit and unit[-1] not in _NAME_END:
        return None
    return Title(unit, year, line, "title", source if unit else "")


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
        titles.extend(_named_under_title(head))
    if not any(t.unit for t in titles):
        for page_title in page_titles:  # “某局2024年…年度报告_某县人民政府网”
            name = _SITE_SEPARATOR.split(page_title.text)[0]
            if t := _title_at([Line(page_title.no, name)]):
                titles.append(t)
    if not any(t.unit for t in titles):
        # “本年度报告根据…要求，由某街道办事处编制，全文包括…”: the unit that compiles it
        for line in head:
            m = _COMPILED_BY.search(fold(line.text))
            # (not an office inside the unit: “由某镇人民政府党政办公室编制” is the town's report)
            name = m.group(1) if m else ""
            if (
                name
                and name[-1] in _NAME_END
                and not name.endswith("办公室")
                and not _SELF.match(name)
            ):
                titles.append(Title(name, None, line.no, "", "first sentence"))
                break
    if not any(t.unit for t in titles):
        titles.extend(_cut_title(head))
    if not any(t.unit for t in titles):
        titles.extend(_named_elsewhere(lines))
    found = next(
        (t for t in titles if t.unit and t.year),
        next((t for t in titles if t.unit), titles[0] if titles else Title()),
    )
    # A site's list of its own reports drops its place from the title (“市人民政府办公室2025年…”
    # on the city's site): the sentence that publishes it names the unit in full.
    # (and a sentence may drop the place its title gives: “特向社会公布2025年林业社区管委会…”
    # under the title “2025年某县林业社区管委会…”)
    if found.unit[:1] in _LEVELS or found.unit_from != "title":
        fuller = next(
            (
                t.unit
                for t in titles
                if t.year == found.year
                and t.unit.endswith(found.unit)
                and 2 <= len(t.unit) - len(found.unit) <= 8
                and t.unit[0] not in "我本全该各"
            ),
            None,
        )
        if fuller:
            found = Title(fuller, found.year, found.line, found.year_from, found.unit_from)
    if full := _defined_short_form(head, found.unit):
        found = Title(full, found.year, found.line, found.year_from, found.unit_from)
    period = next(
        (
            int(m.group(1))
            for line in lines
            if (m := _PERIOD.search(fold(line.text))) and _plausible(int(m.group(1)))
        ),
        None,
    )
    # A sentence naming the report (“我镇编制了《某镇2020年…报告》”) may quote last year's
    # name: the year of the figures is the statistics period's.
    if period and (
        not found.year or (found.unit_from == "first sentence" and found.year != period)
    ):
        found.year, found.year_from = period, "period"
    if not found.year:
        for line in lines:
            m = _BODY_YEAR.match(fold(line.text))
            if m and _plausible(int(m.group(1))):
                found.year, found.year_from = int(m.group(1)), "body"
                break
    if not found.year and (m := _FILE_YEAR.search(file_name)):
        found.year, found.year_from = int(m.group(1)), "file name"
    return found


# A title naming no unit (“政府信息公开工作年度报告”, “2020年度信息公开工作年度报告”), the
# unit's name alone on the line under it, as a signature (then often the date).
_UNITLESS_TITLE = patterns.compile(r"^(?:(\d{4})年度?)?" + _REPORT + "$")
_TRAILING_NOTE = patterns.compile(r"[(（][^()（）]{1,20}[)）]$")  # “某管委会（某商务区管委会）”


def _named_under_title(head: list[Line]) -> list[Title]:
    for line, under in itertools.pairwise(head):
        if not (m := _UNITLESS_TITLE.match(fold(line.text))):
            continue
        name = _unit(fold(under.text))
        bare = _TRAILING_NOTE.sub("", name)
        # (a university signs so too: 大学 ends no name read out of a sentence)
        if len(name) <= 40 and _plain_name(bare[:-1] + "校" if bare.endswith("大学") else bare):
            year = int(m.group(1)) if m.group(1) and _plausible(int(m.group(1))) else None
            return [Title(name, year, line.no, "title" if year else "", "title")]
    return []


# A title whose words after 信息公开 were lost — garbled by the site (“…政府信息公开 工作告年度
# 报”) or cut short by a portal's list (“某局2023年政府信息公开工作年…”): what is left of them is
# made of the title's own characters (not “…工作要点”, “…工作的通知”: other documents).
_CUT_TITLE = patterns.compile(
    r"^(.{2,30}?)(\d{4})年度?(?:政府)?信息公开([工作年度报告情况.]{0,8})$"
)


def _cut_title(head: list[Line]) -> list[Title]:
    for line in head:
        text = fold(line.text)
        if len(text) <= 40 and (m := _CUT_TITLE.match(text)) and _plausible(int(m.group(2))):
            unit = _unit(m.group(1))
            if _plain_name(unit) and not unit.startswith("关于"):
                return [Title(unit, int(m.group(2)), line.no, "title", "title")]
    return []


# “国家税务总局某市某区税务局(以下简称“某区税务局”)”: the report defines a short form of its
# name and speaks of itself by it. (The words before the name that begin the sentence go.)
_SHORT_FORM = patterns.compile(
    r"([^\s，,。；;：:“”‘’\"《》()（）]{4,40}?)[(（]以下简称[:：]?[“\"‘「]?"
    r"([^\s”\"’」()（）]{2,20}?)[”\"’」]?[)）]"
)
_LEAD_IN = patterns.compile(r"^(?:结合|根据|依据|按照|现将|经|由|在|对|是|为|将)+")


def _defined_short_form(head: list[Line], unit: str) -> str:
    """The full name a report defines ``unit`` as the short form of, or ""."""
    if not unit:
        return ""
    for line in head:
        text = fold(line.text)
        if (
            "以下简称" not in text
        ):  # (what every match holds: the search costs 40 steps a character)
            continue
        for m in _SHORT_FORM.finditer(text):
            full = _LEAD_IN.sub("", m.group(1))
            if m.group(2) == unit and full != unit and full[-1:] in _NAME_END:
                return full
    return ""


def _named_elsewhere(lines: list[Line]) -> list[Title]:
    """The unit of a report without a title: from the line for questions, else the subject of
    the body's first sentence that has one (under 一、总体情况)."""
    for line in lines[:_HEAD_CELLS]:
        if m := _CONTACT.search(fold(line.text)):
            name = m.group(1)
            if _DIVISION.search(name):
                break
            if inner := _INNER_OFFICE.match(name):
                name = inner.group(1)
            if _plain_name(name):
                return [Title(name, None, line.no, "", "contact")]
    for line in lines[:_HEAD_CELLS]:
        if (m := _SUBJECT.match(fold(line.text))) and _plain_name(m.group(1)):
            return [Title(m.group(1), None, line.no, "", "body")]
    return []


def _plain_name(name: str) -> bool:
    """A name read out of a sentence: ends as an agency's does, is no way of speaking of oneself
    (我街, 本局) or of everyone (全市各级…), has its place (not 区发改局: the user is asked, I101)
    and holds no year."""
    return (
        name[-1:] in _NAME_END
        and not _SELF.match(name)
        and name[:1] not in "我本全各该" + _LEVELS  # (区发改局: a name that lost its place)
        and name not in _NOT_NAMES
        and not _YEAR_OR_LEVELS.search(name)
        and not _NOT_IN_NAME.search(name)
    )


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
    "s2": patterns.compile(r"^[*#|\s]*第二十条第\(一\)项"),
    "s3": patterns.compile(r"^[*#|\s(]*本列数据的勾稽关系"),
    "s4": patterns.compile(r"^[*#|\s]*行政复议[|·\s]*(?:行政诉讼|结果维持)"),
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


# What tells the two formats' table 二 apart. The 2019 trial format's own rows and columns
# (其他对外管理服务事项, 上一年项目数量, 第（九）项's 政府集中采购) decide it; the header of its first
# block (本年新制作数量 …) only when nothing after that block says otherwise: a 2021 report whose
# template kept that old header over the 2021 rows (本年处理决定数量, 本年收费金额) is a 2021 report.
_2019_ROWS = (
    "其他对外管理服务事项",
    "政府集中采购",
    "上一年项目数量",
    "采购项目数量",
    "采购总金额",
)
_2019_HEADER = ("本年新制作数量", "本年新公开数量", "对外公开总数量")
_2021_ROWS = ("本年处理决定数量", "本年收费金额")


def table2_format(lines: list[Line]) -> str:
    """“2019”, “2021”, or “mixed” (the 2021 format with the 2019 header over its first block)."""
    text = fold("".join(line.text for line in lines))
    if any(w in text for w in _2019_ROWS):
        return "2019"
    if any(w in text for w in _2019_HEADER):
        return "mixed" if any(w in text for w in _2021_ROWS) else "2019"
    return "2021"


def guess_kind(unit: str) -> str:
    if unit.endswith(("镇", "乡", "镇人民政府", "乡人民政府", "镇政府", "乡政府")):
        return "乡镇"
    if unit.endswith(("苏木", "苏木人民政府", "苏木政府")):  # Inner Mongolia's townships
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
