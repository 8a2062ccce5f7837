"""The importer's text parse skips work that cannot change what it reads: each shortcut reads
exactly what its rule, written out here, reads — on random lines built from the characters that
matter to the rule (brackets in every width and form that NFKC turns into one, combining marks,
compatibility characters, headings, invisible characters)."""

from __future__ import annotations

import random
import unicodedata

from workbook_tools.importer import narrative, sections, sources

# Characters whose NFKC opens a bracket (full-width, parenthesized numbers and ideographs, small
# and vertical forms), ones that only look like one, combining marks and text.
_PIECES = [
    "（",
    "(",
    "㈠",
    "㈡",
    "⑴",
    "﹙",
    "︵",
    "〔",
    "【",
    "\u0301",
    "\u0308",
    "\u200b",
    "\ufeff",
    "一",
    "二",
    "九",
    "十",
    "）",
    ")",
    "、",
    "，",
    "。",
    "Ａ",
    "A",
    "⼀",
    " ",
    "\u3000",
    "主动公开",
    "一、总体情况",
    "五、存在问题及改进情况",
    "二、主动公开政府信息情况",
]


def _random_text(pick: random.Random) -> str:
    return "".join(pick.choice(_PIECES) for _ in range(pick.randint(0, 8)))


def test_a_line_is_normalised_for_its_sub_heading_only_when_it_can_open_one():
    pick = random.Random(29)
    for _ in range(20000):
        text = _random_text(pick)
        rule = unicodedata.normalize("NFKC", text).replace("(", "（").replace(")", "）")
        got = narrative._SUB.match(narrative._opening(text))
        want = narrative._SUB.match(rule)
        assert (got and got.group(1)) == (want and want.group(1)), text


def _cut_by_pattern(pattern, text):
    """sources._cut as its rule reads: the pattern's split, else the split of the line's
    simplified view (traditional characters), cut at the same places."""
    from workbook_tools.importer.labels import simplified

    parts = pattern.split(text)
    if len(parts) > 1 or "、" not in text:
        return parts
    view = simplified(text)
    if view == text:
        return parts
    if len(view) != len(text):
        return pattern.split(view)
    out, at = [], 0
    for m in pattern.finditer(view):
        out += [text[at : m.start()], text[m.start() : m.end()]]
        at = m.end()
    return [*out, text[at:]]


def test_a_line_is_cut_at_headings_as_the_pattern_cuts_it():
    pick = random.Random(31)
    pieces = [*_PIECES, "一、總體情況", "五、存在問題及改進情況", "四、", "六、其他需要報告的事項"]
    for _ in range(5000):
        text = "".join(pick.choice(pieces) for _ in range(pick.randint(0, 8)))
        for pattern in (sources._HEADING_AFTER_GAP, sources._HEADING_IN_LINE):
            assert sources._cut(pattern, text) == _cut_by_pattern(pattern, text), text


def test_a_short_form_is_looked_for_only_where_its_words_are():
    pick = random.Random(41)
    pieces = [*_PIECES, "以下简称", "以下簡稱", "某某县人民政府办公室", "（", "“县政府办”", "）"]
    for _ in range(5000):
        text = "".join(pick.choice(pieces) for _ in range(pick.randint(0, 12)))
        if "以下简称" not in text:
            assert not list(sections._SHORT_FORM.finditer(text)), text


def test_invisible_characters_are_dropped_as_translate_drops_them():
    pick = random.Random(37)
    extra = ["\u00a0", "\u2007", "\u202f", "\u00ad", "\u2060", "\u200c", "\u200d"]
    for _ in range(5000):
        text = "".join(pick.choice(_PIECES + extra) for _ in range(pick.randint(0, 8)))
        shortcut = (
            text.translate(sources._INVISIBLE) if sources._ANY_INVISIBLE.search(text) else text
        )
        assert shortcut == text.translate(sources._INVISIBLE), text


def test_full_width_forms_put_as_their_decomposition_leave_nfkc_as_it_is():
    """labels.fold hands NFKC the text with each full-width form (and the ideographic space) as
    its compatibility decomposition: every such character, and random lines of them among
    combining marks (Latin, kana voicing, enclosing), Hangul jamo, compatibility ideographs and
    text, come out of NFKC as they did."""
    from workbook_tools.importer import labels

    assert set(labels.WIDE) == {0x3000, *range(0xFF01, 0xFF5F)}
    marks = ["\u0300", "\u0301", "\u0308", "\u0327", "\u3099", "\u309a", "\u20dd", "\u0338"]
    others = ["\u1100", "\u1161", "\u11a8", "\uf900", "\u2460", "\u00bd", "ﾊ", "か", "ｶ", "e"]
    pieces = [*map(chr, labels.WIDE), *marks, *others, *_PIECES]
    for cp in labels.WIDE:
        assert unicodedata.normalize("NFKC", labels.WIDE[cp]) == unicodedata.normalize(
            "NFKC", chr(cp)
        )
    pick = random.Random(43)
    for _ in range(20000):
        text = "".join(pick.choice(pieces) for _ in range(pick.randint(0, 8)))
        got = unicodedata.normalize("NFKC", text.translate(labels.WIDE))
        assert got == unicodedata.normalize("NFKC", text), ascii(text)


def test_a_title_form_matches_only_a_text_that_says_its_words():
    """sections._title_at searches the title forms only where the text says 信息公开: no form
    (nor _NO_YEAR) matches random lines without it, built from the forms' own words."""
    words = ["政府", "信息", "公开", "信息公", "开", "工作", "年度", "报告", "年报", "关于", "情况"]
    words += ["的", "2023", "2024年", "年", "度", "学年", "—", "某某县人民政府", "特编制", "现公布"]
    forms = [*sections._TITLES, sections._NO_YEAR]
    pick = random.Random(47)
    for _ in range(20000):
        text = "".join(pick.choice(words) for _ in range(pick.randint(0, 10)))
        if sections._NAMED not in text:
            assert not any(form.search(text) for form in forms), text
    assert forms[1].search("某某县2024年政府信息公开工作年度报告")  # (the words do match)
    assert forms[-1].search("某某县农业农村局政府信息公开工作年度报告")
