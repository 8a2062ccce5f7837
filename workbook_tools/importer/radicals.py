"""Radicals, strokes and compatibility ideographs as the ideographs they stand for.

A PDF whose fonts map glyphs to radical code points gives text that looks right and matches
nothing: ``⼀、总体情况`` (U+2F00, KANGXI RADICAL ONE) is not ``一、总体情况``, ``⻓`` (U+2ED3) is
not ``长``. PDFs written by macOS and by some WPS and Word exports do this for common characters
(⼯作, ⼈民, ⾏政, ⻓沙), so a report's headings and labels vanish. Pages copied from such PDFs carry
the same characters. Read as what they stand for:
- the Kangxi radicals (U+2F00–U+2FD5) by NFKC, which maps each to its ideograph;
- CJK compatibility ideographs (U+F900–U+FAFF, U+2F800–U+2FA1F) by NFC;
- the CJK radicals supplement and CJK strokes by the table below: Unicode's
  EquivalentUnifiedIdeograph.txt (15.0), the entries NFKC does not give.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from .. import patterns

# EquivalentUnifiedIdeograph.txt (Unicode 15.0) less what NFKC gives; two strings of one length.
_FROM = "⺁⺂⺃⺄⺅⺆⺇⺈⺉⺊⺋⺌⺍⺎⺏⺐⺑⺒⺓⺔⺕⺖⺗⺘⺙⺛⺜⺝⺞⺠⺡⺢⺣⺤⺥⺦⺧⺨⺩⺪⺫⺬⺭⺮⺯⺰⺱⺲⺳⺴⺵⺶⺷⺸⺹⺺⺻⺼⺽⺾⺿⻀⻁⻂⻃⻄⻅⻆⻇⻈⻉⻊⻋⻌⻍⻎⻏⻐⻑⻒⻓⻔⻕⻖⻗⻘⻙⻚⻛⻜⻝⻞⻟⻠⻡⻢⻣⻤⻥⻦⻧⻨⻩⻪⻫⻬⻭⻮⻯⻰⻱⻲㇆㇏㇐㇑㇒㇓㇔㇕㇖㇗㇘㇙㇚㇛㇜㇝㇞㇟㇠㇡"
_TO = "厂乛乚乙亻冂𠘨刀刂卜㔾小小兀尣尢𡯂巳幺彑𫜹忄心扌攵旡日月歺民氵氺灬爫爫丬牛犭王𤴔目示礻𥫗糹纟罓罒㓁冗𦉫羊𦍌𦍋耂肀聿肉𦥑艹艹艹虎衤覀西见角𧢲讠贝𧾷车辶辶辶邑钅長镸长门𨸏阝雨青韦页风飞食𩙿飠饣𩠐马骨鬼鱼鸟卤麦黄黾斉齐歯齿竜龙龜亀𠃌乀一丨丿丿丶𠃍乛𠃊𠃎𠄌亅𡿨𠃋乀𠃑乚乙𠄎"

_ANY = patterns.compile("[\u2e80-\u2fdf\u31c0-\u31ef\uf900-\ufaff\U0002f800-\U0002fa1f]")


@cache
def _table() -> dict[int, str]:
    table = dict(zip(map(ord, _FROM), _TO, strict=True))
    for low, high, form in (
        (0x2F00, 0x2FD5, "NFKC"),
        (0xF900, 0xFAFF, "NFC"),
        (0x2F800, 0x2FA1F, "NFC"),
    ):
        for cp in range(low, high + 1):
            unified = unicodedata.normalize(form, chr(cp))
            if unified != chr(cp):
                table[cp] = unified
    return table


def unify(text: str) -> str:
    """``text`` with every radical, stroke or compatibility ideograph as its unified ideograph."""
    return text.translate(_table()) if _ANY.search(text) else text
