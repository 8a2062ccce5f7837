"""A narrative section's lines become its fields, split at the （一）（二）… sub-headings."""

from __future__ import annotations

import unicodedata

from .. import patterns
from ..spec import Spec
from .sources import FOOTER, Line

_STOP = patterns.compile(r"[。：:]")

_SUB = patterns.compile(r"^[（(]([一二三四五六七八九])[）)]")
_PLACEHOLDER = patterns.compile(r"^(【待填写：.*】|\[To be written: .*\])$")


def read_narrative(spec: Spec, section_id: str, lines: list[Line]) -> dict[str, str]:
    section = next(s for s in spec.sections if s.id == section_id)
    official = [f for f in section.fields if f.label.startswith("（")]
    plain = [f for f in section.fields if not f.label.startswith("（")]
    texts: dict[str, list[str]] = {f.id: [] for f in section.fields}
    current = plain[0].id if plain else (official[0].id if official else None)
    for line in lines:
        text = line.text.strip()
        if FOOTER.match(text):
            break  # the site's footer: the report has ended
        if not text or text.startswith("#") or _PLACEHOLDER.match(text):
            continue  # blank, a comment line, or a report's placeholder for an empty part
        m = _SUB.match(_opening(text))
        if m and official:
            index = "一二三四五六七八九".index(m.group(1))
            if index < len(official):
                current = official[index].id
                text = _after_subheading(text)
                if not text:
                    continue
        if current is None:
            continue
        texts[current].append(text)
    if section_id == "s6" and len(plain) >= 2:  # 信息处理费 statement first, the rest after
        fees, other = plain[0].id, plain[1].id
        everything = texts[fees] + texts[other]
        texts[fees] = [t for t in everything if "费" in t]
        texts[other] = [t for t in everything if "费" not in t]
    return {k: "\n".join(v) for k, v in texts.items() if v}


def _opening(text: str) -> str:
    """The line as _SUB reads it: NFKC with ASCII brackets as full-width ones. Only a line whose
    first character's NFKC opens a bracket can match (that character's compatibility decomposition
    leads the line's, and a bracket composes with nothing), so any other line is not normalised:
    NFKC of a paragraph of Chinese text with its full-width commas is most of reading it."""
    if not unicodedata.normalize("NFKC", text[:1]).startswith("("):
        return ""
    return unicodedata.normalize("NFKC", text).replace("(", "（").replace(")", "）")


def _after_subheading(text: str) -> str:
    """The text after a sub-heading such as “（一）主动公开情况。”; empty when the line is only that."""
    stop = _STOP.search(text)
    if stop and stop.start() <= 16:
        return text[stop.end() :].strip()
    return "" if len(text) <= 16 else text
