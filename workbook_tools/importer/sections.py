"""The report's structure: its title (unit and year) and its six sections, found by their headings."""

from __future__ import annotations

import re

from .labels import fold
from .sources import Line

NUMERALS = "一二三四五六"
SECTION_WORDS = {  # besides its numeral, a heading has one of these words
    "s1": ("总体情况",),
    "s2": ("主动公开",),
    "s3": ("申请",),
    "s4": ("复议", "诉讼"),
    "s5": ("问题",),
    "s6": ("其他",),
}

_TITLE = re.compile(
    r"^(?:Page\s*\d+\s*-\s*)?(.+?)(\d{4})\s*年\s*度?\s*政府信息公开(?:工作)?年度报告"
)
_PERIOD = re.compile(r"统计期限(?:为|是)?(?:自)?(\d{4})年1月1日")


def find_title(lines: list[Line]) -> tuple[str, int | None, int | None]:
    for line in lines[:40]:
        m = _TITLE.search(fold(line.text))
        if m and len(m.group(1)) <= 30:
            return m.group(1).strip("#《》 "), int(m.group(2)), line.no
    for line in lines:
        if m := _PERIOD.search(fold(line.text)):
            return "", int(m.group(1)), None
    return "", None, None


def find_sections(lines: list[Line]) -> dict[str, tuple[int, int]]:
    """Section id -> (first, last) index into lines, found in order."""
    found: dict[str, int] = {}
    start = 0
    for n, sid in enumerate(SECTION_WORDS):
        for i in range(start, len(lines)):
            text = fold(lines[i].text)
            if (
                len(text) <= 40
                and text.startswith(NUMERALS[n] + "、")
                and any(w in text for w in SECTION_WORDS[sid])
            ):
                found[sid] = i
                start = i + 1
                break
    bounds: dict[str, tuple[int, int]] = {}
    ordered = sorted(found.items(), key=lambda kv: kv[1])
    for k, (sid, i) in enumerate(ordered):
        end = ordered[k + 1][1] if k + 1 < len(ordered) else len(lines)
        bounds[sid] = (i + 1, end)
    return bounds


def is_2019(lines: list[Line]) -> bool:
    text = fold("".join(line.text for line in lines))
    return any(
        w in text
        for w in ("本年新制作数量", "对外公开总数量", "其他对外管理服务事项", "政府集中采购")
    )


def guess_kind(unit: str) -> str:
    if unit.endswith(("镇", "乡", "镇人民政府", "乡人民政府")):
        return "乡镇"
    if unit.endswith(("街道", "街道办事处")):
        return "街道"
    if unit.endswith(("局", "委", "办", "办公室", "委员会", "中心", "院", "所", "队")):
        return "部门"
    return ""
