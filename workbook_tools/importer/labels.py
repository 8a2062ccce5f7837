"""How labels are compared: folding (width, traditional characters by OpenCC, whitespace) and tail matching
that tolerates small typos."""

from __future__ import annotations

import difflib
import functools
import unicodedata

from .. import patterns
from .simplify import simplified

LABEL_VARIANTS = {  # known variants in published reports (FORMAT.md §7)
    # 规范性档案: mirrors that convert a page to Taiwan phrasing write 文件 as 檔案
    "行政规范性文件": ("规范性文件", "规范性档案"),
    "规范性文件": ("规范性档案",),
    "现行有效件数": ("现行有效件",),
}
MATCH = 0.85  # similarity a label must reach to count as the official one (typos pass)


_ITEM_MARK = patterns.compile(r"(?<=\d)、")  # “3、其他” is how many reports number “3.其他”


# The full-width forms (，：（）１２ …) and the ideographic space, each as its compatibility
# decomposition (what NFKC makes of it): a text holding one is not NFKC, and unicodedata then
# decomposes and recomposes all of it (~40 times the quick check that passes a text already NFKC).
# NFKC is the canonical composition of the full compatibility decomposition, and putting a
# character's decomposition in its place leaves that decomposition as it was: the same result.
WIDE = {cp: unicodedata.normalize("NFKD", chr(cp)) for cp in (0x3000, *range(0xFF01, 0xFF5F))}


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """How labels are compared: NFKC, traditional to simplified (OpenCC), no whitespace, “3、” as
    “3.”."""
    plain = "".join(unicodedata.normalize("NFKC", text.translate(WIDE)).split())
    folded = simplified(plain) if not plain.isascii() else plain
    return _ITEM_MARK.sub(".", folded)


def tail_score(label: str, text: str) -> float:
    if text.endswith(label):
        return 1.0
    best = 0.0
    for size in range(max(1, len(label) - 2), len(label) + 3):
        best = max(best, difflib.SequenceMatcher(None, label, text[-size:]).ratio())
    return best


_NUMBERING = patterns.compile(r"^(?:[(][一二三四五六七八九十]+[)]|\d+[.、])")


# A note in brackets after a row's label (“规范性文件（指…的文件）”, “行政许可(含变更)”), up to the
# format's own filling notes that some pages print in full (80 characters and more).
_NOTE = patterns.compile(r"[(（][^()（）]{1,160}[)）]$")


def match(label: str, text: str) -> float:
    names = (label, *LABEL_VARIANTS.get(label, ()))
    best = max(tail_score(fold(n), text) for n in names)
    if best < 1.0 and (bare_text := _NOTE.sub("", text)) != text:
        best = max(best, *(tail_score(fold(n), bare_text) for n in names))
    # A row printed without its numbering (“予以公开” under a heading “（一）予以公开”): the bare
    # label, when it is long enough to mean one row only, must end the text exactly.
    bare = _NUMBERING.sub("", fold(label))
    if best < 1.0 and bare != fold(label) and len(bare) >= 4 and text.endswith(bare):
        return 1.0
    return best
