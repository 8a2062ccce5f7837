"""Checks on the narrative text against the tables (FORMAT.md N1–N4). All are warnings that

quote the sentence concerned: text is free-form, so these ask a person to look, never block.

N1: numbers stated in the text (applications received, carried over or forward, 行政复议 and
行政诉讼 counts, 规范性文件 issued) agree with the tables. Texts mix bases (新收 vs 新收+结转), so a
received count matching either is accepted and a mismatch says which bases were tried.
N2: text says no applications were received while table 三 has some, or the reverse.
N3: section 六 states the 信息处理费 position; if applications were closed for unpaid fees, fee
notices were issued and the text should not say no fee was involved.
N4: the year and the unit named in the text are the report's own.
"""

from __future__ import annotations

import functools
import re
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence

from . import patterns
from .filing import Filing
from .findings import Finding
from .normalise import number_text

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
NUM = r"(\d+|[零〇一二两三四五六七八九十百]+)"
_SENTENCE_END = patterns.compile(r"(?<=[。；;！!？?\n])")


def chinese_number(text: str) -> int | None:
    """'12' -> 12, '十二' -> 12, '二十' -> 20, '一百零五' -> 105; None when not a number."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def sentences(text: str) -> Iterator[str]:
    for part in _SENTENCE_END.split(text):
        part = part.strip()
        if part:
            yield part


class Claim(
    namedtuple(
        "Claim",
        (
            "pattern",  # re.Pattern
            "what",  # str
            "bases",  # tuple[tuple[str, tuple[str, ...]], ...]: (base name, datapoints summed)
            "needle",  # str: text every match holds: a sentence without it is not searched
        ),
    )
):
    """A number the text states about a table quantity."""

    __slots__ = ()


def _p(text: str) -> re.Pattern:
    return patterns.compile(text)


_GAP = r"[^。；;，,\d]{0,12}?"
CLAIMS = (
    Claim(
        _p(
            r"(?:收到|受理|接收|新收|共收)"
            + _GAP
            + r"申请"
            + r"[^。；;，,\d]{0,6}?"
            + NUM
            + r"\s*[件个份]"
        ),
        "收到申请",
        (("本年新收", ("t3.new.total",)), ("新收加上年结转", ("t3.new.total", "t3.carried.total"))),
        "申请",
    ),
    Claim(
        _p(r"上年结转" + _GAP + NUM + r"\s*[件个份]"),
        "上年结转",
        (("上年结转", ("t3.carried.total",)),),
        "上年结转",
    ),
    Claim(
        _p(r"结转(?:至)?下(?:一)?年(?:度)?" + _GAP + NUM + r"\s*[件个份]"),
        "结转下年度",
        (("结转下年度", ("t3.carry_next.total",)),),
        "结转",
    ),
    Claim(
        _p(r"行政复议" + _GAP + NUM + r"\s*[件起宗次]"),
        "行政复议",
        (("行政复议总计", ("t4.review.total",)),),
        "行政复议",
    ),
    Claim(
        _p(r"行政诉讼" + _GAP + NUM + r"\s*[件起宗次]"),
        "行政诉讼",
        (("行政诉讼总计", ("t4.direct.total", "t4.after_review.total")),),
        "行政诉讼",
    ),
    Claim(
        _p(
            r"(?:制发|印发|出台|制定)"
            + _GAP
            + r"(?:行政)?规范性文件"
            + r"[^。；;，,\d]{0,4}?"
            + NUM
            + r"\s*[件个份]"
        ),
        "制发规范性文件",
        (("本年制发件数", ("t2.normative.issued",)),),
        "规范性文件",
    ),
)

_NONE_RECEIVED = patterns.compile(
    r"(?:未|没有|无)(?:收到|受理|接到|发生|有)?[^。；;，,]{0,10}?(?:依申请|公开申请|信息公开申请)"
)
_FEE_WORDS = patterns.compile(r"信息处理费|收费|收取费用|费用")
_DIGIT = patterns.compile(r"\d")
_NO_FEE = patterns.compile(r"(?:未|没有|不|无)(?:向申请人)?(?:收取|收费|产生)")
_FEE_NOTICE = patterns.compile(r"收费通知|缴费通知|通知.{0,6}缴纳")
_YEAR_OPENING = patterns.compile(r"^(\d{4})\s*年")
_YEAR_REPORT = patterns.compile(r"(\d{4})\s*年(?:度)?(?:政府信息公开|政务公开)")
# A unit name in running text, when no roster says which names exist: a two- or three-character
# place name and the suffix of the report's own kind (镇, 乡, 街道), standing as a word — at the
# start, after punctuation or a connecting word, not inside a phrase (门户网站镇政府专栏 has no
# 网站镇) — and made of no function characters (成立了镇, 组织的乡 are no names).
_SUFFIXES = ("街道", "镇", "乡")
_NOT_IN_NAMES = set(
    "了的地得在和与及是为等对把被将到用让使从向于以其之所这那各全本我该此每有无不也都并或已就还再又"
    "个们级内外上下中年月日今去做联抓推促强化"
)
_BEFORE_NAME = set("在与和及同向到赴对、于至从照如据比由经去来，。；：,.;:（(“\"'　 ")
_NOT_AFTER_NAME = set("村级区域内里直属街")  # 镇村两级, 乡镇街道, 镇域: 镇 as a common noun
_COUNTY_ENDS = frozenset("省市州盟县区旗")
_GENERIC_PLACES = (
    "乡镇",
    "城镇",
    "集镇",
    "村镇",
    "各",
    "全",
    "本",
    "我",
    "该",
    "城乡",
    "有关",
    "所辖",
    "辖区",
)


def _sum(values: Mapping[str, Any], ids: tuple[str, ...]) -> int | float | None:
    if any(i not in values for i in ids):
        return None
    return sum(values[i] or 0 for i in ids)


def check(filing: Filing, values: Mapping[str, Any], names: Sequence[str] = ()) -> list[Finding]:
    """N1–N4 over ``filing``'s texts; ``values`` are the table values (totals recomputed)."""
    out: list[Finding] = []
    received = _sum(values, ("t3.new.total", "t3.carried.total"))
    for field_id, text in filing.texts.items():
        if not text:
            continue
        where = filing.at(field_id)
        for sentence in sentences(text):
            out += _numbers(sentence, values, where)
            if (
                received
                and "申请" in sentence  # (in every sentence _NONE_RECEIVED matches)
                and _NONE_RECEIVED.search(sentence)
                and not _DIGIT.search(sentence)
            ):
                out.append(Finding("N2", {"sentence": sentence, "count": received}, **where))
            out += _names(filing, sentence, where, names)
    fee_text = "".join(t for k, t in filing.texts.items() if k.startswith("s6."))
    if fee_text:
        fee_where = filing.at("s6.fees")
        unpaid = values.get("t3.other_unpaid.total") or 0
        if not _FEE_WORDS.search(fee_text):
            out.append(
                Finding(
                    "N3",
                    {"sentence": fee_text[:60], "detail": "未说明信息处理费收取情况"},
                    **fee_where,
                )
            )
        elif unpaid and _NO_FEE.search(fee_text) and not _FEE_NOTICE.search(fee_text):
            detail = f"表三（六）2 为{unpaid}件，说明发出过收费通知"
            out.append(Finding("N3", {"sentence": fee_text[:60], "detail": detail}, **fee_where))
    return out


def _numbers(sentence: str, values: Mapping[str, Any], where: dict) -> list[Finding]:
    out = []
    for claim in CLAIMS:
        if claim.needle not in sentence:
            continue
        for m in claim.pattern.finditer(sentence):
            stated = chinese_number(m.group(1))
            if stated is None:
                continue
            totals = [(name, _sum(values, ids)) for name, ids in claim.bases]
            if any(total is None for _, total in totals):
                continue
            if all(stated != total for _, total in totals):
                if claim is CLAIMS[0] and not any(total for _, total in totals):
                    # Says applications came in, table 三 has none: the N2 contradiction.
                    out.append(Finding("N2", {"sentence": sentence, "count": 0}, **where))
                    continue
                tried = "、".join(f"{name}{number_text(total)}" for name, total in totals)
                args = {
                    "sentence": sentence,
                    "what": claim.what,
                    "stated": stated,
                    "tables": tried,
                }
                out.append(Finding("N1", args, **where))
    return out


def _names(filing: Filing, sentence: str, where: dict, names: Sequence[str] = ()) -> list[Finding]:
    out = []
    if filing.year:
        m = _YEAR_OPENING.match(sentence) or _YEAR_REPORT.search(sentence)
        if m and int(m.group(1)) != filing.year:
            out.append(
                Finding(
                    "N4",
                    {
                        "sentence": sentence,
                        "found": f"{m.group(1)}年",
                        "expected": f"{filing.year}年",
                    },
                    **where,
                )
            )
    found = _other_unit(filing, sentence, names)
    if found:
        out.append(
            Finding("N4", {"sentence": sentence, "found": found, "expected": filing.unit}, **where)
        )
    return out


@functools.lru_cache(maxsize=4096)  # (asked for each sentence of a report, of one name)
def county_of(name: str) -> str:
    """The county a unit's name starts with (青禾县柳河镇 -> 青禾县): up to the first 省 市 州 盟 县
    区 or 旗 followed by two Chinese characters; "" if none. (A loop, not a regular expression:
    compiling ``[\u4e00-\u9fa5]`` costs more start-up time than checking a report's text.)"""
    for at, ch in enumerate(name):
        if ch == "\n":
            return ""
        following = name[at + 1 : at + 3]
        if (
            ch in _COUNTY_ENDS
            and len(following) == 2
            and all("\u4e00" <= c <= "\u9fa5" for c in following)
        ):
            return name[: at + 1]
    return ""


def _short(name: str) -> str:
    """A unit's name without its county (青禾县柳河镇 -> 柳河镇), as texts usually write it."""
    return name[len(county_of(name)) :]


def _other_unit(filing: Filing, sentence: str, names: Sequence[str]) -> str | None:
    """The first other unit named in ``sentence``, in full as written; None if none.

    With a roster (merge) only its names count, in full or without the county. Without one,
    only a name of the report's own kind: a township's or sub-district's text naming another
    township or sub-district (with the county prefix of the unit's own name, or standing alone
    as a word; see ``_SUFFIXES``)."""
    own = filing.unit or ""
    if not own:
        return None
    own_short = _short(own)
    if names:
        candidates = []
        for name in names:
            for variant in {name, _short(name)}:
                if len(variant) >= 3 and variant in sentence:
                    candidates.append(variant)
        for name in sorted(candidates, key=len, reverse=True):
            if name not in (own, own_short) and name not in own:
                return name
        return None
    if filing.kind not in ("乡镇", "街道") or not own_short.endswith(_SUFFIXES):
        return None
    county = county_of(own)
    for suffix in _SUFFIXES:
        start = 0
        while (at := sentence.find(suffix, start)) >= 0:
            start = at + 1
            name = _name_before(sentence, at, suffix, county)
            if name and name not in own and own_short not in name:
                return name
    return None


def _name_before(sentence: str, at: int, suffix: str, county: str) -> str | None:
    """The unit name ending with ``suffix`` at ``at``, if the text there reads as one."""
    if sentence[at + len(suffix) : at + len(suffix) + 1] in _NOT_AFTER_NAME:
        return None
    for size in (2, 3):
        place = sentence[at - size : at] if at >= size else ""
        if len(place) < size or not all("\u4e00" <= ch <= "\u9fa5" for ch in place):
            continue
        if _NOT_IN_NAMES.intersection(place) or any(g in place + suffix for g in _GENERIC_PLACES):
            continue
        if county and sentence[: at - size].endswith(county):
            return county + place + suffix
        before = sentence[at - size - 1] if at - size >= 1 else ""
        if before == "" or before in _BEFORE_NAME:
            return place + suffix
    return None
