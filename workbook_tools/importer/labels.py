"""How labels are compared: folding (width, traditional characters, whitespace) and tail matching
that tolerates small typos."""

from __future__ import annotations

import difflib
import re
import unicodedata

LABEL_VARIANTS = {  # known variants in published reports (FORMAT.md §7)
    "行政规范性文件": ("规范性文件",),
    "现行有效件数": ("现行有效件",),
}
MATCH = 0.85  # similarity a label must reach to count as the official one (typos pass)

# Traditional characters that occur in the official labels and headings, folded to simplified.
_TRADITIONAL = str.maketrans(
    "開請處數結轉審機關體會護權類務資複議訴訟維糾計總規範廢現發許強製國險穩過執檔詢項題況報訪舉購採額費單內資訊條屬與讓這據應辦理劃經濟統歸亂聯營業構組織產業專門義權屆閱覽響儘點億隻",
    "开请处数结转审机关体会护权类务资复议诉讼维纠计总规范废现发许强制国险稳过执档询项题况报访举购采额费单内资讯条属与让这据应办理划经济统归乱联营业构组织产业专门义权届阅览响尽点亿只",
)


_ITEM_MARK = re.compile(r"(?<=\d)、")  # “3、其他” is how many reports number “3.其他”


def fold(text: str) -> str:
    """How labels are compared: NFKC, traditional to simplified, no whitespace, “3、” as “3.”."""
    folded = "".join(unicodedata.normalize("NFKC", text).translate(_TRADITIONAL).split())
    return _ITEM_MARK.sub(".", folded)


def tail_score(label: str, text: str) -> float:
    if text.endswith(label):
        return 1.0
    best = 0.0
    for size in range(max(1, len(label) - 2), len(label) + 3):
        best = max(best, difflib.SequenceMatcher(None, label, text[-size:]).ratio())
    return best


def match(label: str, text: str) -> float:
    names = (label, *LABEL_VARIANTS.get(label, ()))
    return max(tail_score(fold(n), text) for n in names)
