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

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .filing import Filing
from .findings import Finding
from .normalise import number_text

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
_SENTENCE_END = re.compile(r"(?<=[。；;！!？?\n])")


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


@dataclass(frozen=True)
class Claim:
    """A number the text states about a table quantity."""

    pattern: re.Pattern
    what: str
    bases: tuple[tuple[str, tuple[str, ...]], ...]  # (base name, datapoints summed)


def _p(text: str) -> re.Pattern:
    return re.compile(text)


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
    ),
    Claim(
        _p(r"上年结转" + _GAP + NUM + r"\s*[件个份]"),
        "上年结转",
        (("上年结转", ("t3.carried.total",)),),
    ),
    Claim(
        _p(r"结转(?:至)?下(?:一)?年(?:度)?" + _GAP + NUM + r"\s*[件个份]"),
        "结转下年度",
        (("结转下年度", ("t3.carry_next.total",)),),
    ),
    Claim(
        _p(r"行政复议" + _GAP + NUM + r"\s*[件起宗次]"),
        "行政复议",
        (("行政复议总计", ("t4.review.total",)),),
    ),
    Claim(
        _p(r"行政诉讼" + _GAP + NUM + r"\s*[件起宗次]"),
        "行政诉讼",
        (("行政诉讼总计", ("t4.direct.total", "t4.after_review.total")),),
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
    ),
)

_NONE_RECEIVED = re.compile(
    r"(?:未|没有|无)(?:收到|受理|接到|发生|有)?[^。；;，,]{0,10}?(?:依申请|公开申请|信息公开申请)"
)
_FEE_WORDS = re.compile(r"信息处理费|收费|收取费用|费用")
_NO_FEE = re.compile(r"(?:未|没有|不|无)(?:向申请人)?(?:收取|收费|产生)")
_FEE_NOTICE = re.compile(r"收费通知|缴费通知|通知.{0,6}缴纳")
_YEAR_OPENING = re.compile(r"^(\d{4})\s*年")
_YEAR_REPORT = re.compile(r"(\d{4})\s*年(?:度)?(?:政府信息公开|政务公开)")
_PLACE = re.compile(r"([\u4e00-\u9fa5]{2,3}(?:镇|乡|街道))")
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


def check(filing: Filing, values: Mapping[str, Any]) -> list[Finding]:
    """N1–N4 over ``filing``'s texts; ``values`` are the table values (totals recomputed)."""
    out: list[Finding] = []
    received = _sum(values, ("t3.new.total", "t3.carried.total"))
    for field_id, text in filing.texts.items():
        if not text:
            continue
        where = filing.at(field_id)
        for sentence in sentences(text):
            out += _numbers(sentence, values, where)
            if received and _NONE_RECEIVED.search(sentence) and not re.search(r"\d", sentence):
                out.append(Finding("N2", {"sentence": sentence, "count": received}, **where))
            out += _names(filing, sentence, where)
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


def _names(filing: Filing, sentence: str, where: dict) -> list[Finding]:
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
    if filing.kind in ("乡镇", "街道") and filing.unit:
        for m in _PLACE.finditer(sentence):
            name = m.group(1)
            if name in filing.unit or any(g in name for g in _GENERIC_PLACES):
                continue
            out.append(
                Finding(
                    "N4", {"sentence": sentence, "found": name, "expected": filing.unit}, **where
                )
            )
            break
    return out
