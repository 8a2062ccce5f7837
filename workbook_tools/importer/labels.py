"""How labels are compared: folding (width, traditional characters by OpenCC, whitespace) and tail matching
that tolerates small typos."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata

LABEL_VARIANTS = {  # known variants in published reports (FORMAT.md §7)
    "行政规范性文件": ("规范性文件",),
    "现行有效件数": ("现行有效件",),
}
MATCH = 0.85  # similarity a label must reach to count as the official one (typos pass)


@functools.cache
def _to_simplified():
    import opencc  # a maintained converter: every traditional form, not a hand-made table

    return opencc.OpenCC("t2s")


_ITEM_MARK = re.compile(r"(?<=\d)、")  # “3、其他” is how many reports number “3.其他”


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """How labels are compared: NFKC, traditional to simplified (OpenCC), no whitespace, “3、” as
    “3.”."""
    plain = "".join(unicodedata.normalize("NFKC", text).split())
    folded = _to_simplified().convert(plain) if not plain.isascii() else plain
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
