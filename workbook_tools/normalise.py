"""Turn what a unit typed into a number, loudly.

Every cell value goes through ``normalise``: a clean number passes silently; text whose meaning
is certain (“１２”, “12件”, “1,234”, “/” or “无” for none) becomes the number with a warning code;
anything else (blank, negative, a fraction where a count belongs, a date, “若干”) gets an error
code and no value. Nothing unreadable is ever taken silently as 0.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import unicodedata
from collections import namedtuple

from . import patterns, rules

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

NONE_MARKS = {"/", "-", "—", "–", "－", "——", "无", "没有", "空", "\\"}
_NUMBER = patterns.compile(r"^[+-]?\d+(?:\.\d+)?$")
_THOUSANDS = patterns.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
# The units a number may carry (V106), by the kind of value: a count in 件, an amount in 万元.
UNITS = {"integer": ("件", "个", "项", "次", "条", "宗", "份"), "decimal": ("万元",)}
_UNIT = patterns.compile(
    r"^([+-]?\d+(?:\.\d+)?)\s*(" + "|".join(UNITS["integer"] + UNITS["decimal"]) + ")$"
)


class Value(
    namedtuple(
        "Value",
        (
            "number",  # int | float | None
            "code",  # str | None: V101..V107 (reader codes) or R5 (not a valid value)
            "raw",  # str: the cell as the unit typed it, for messages
        ),
        defaults=(None, ""),
    )
):
    """The outcome for one cell: the number to use (None when unusable) and the code, if any."""

    __slots__ = ()


def shown(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dt.datetime | dt.date):
        return raw.isoformat()
    return str(raw)


def number_text(value: Any) -> str:
    """A number as people write it: 12 not 12.0, at most four decimals (万元 to the yuan)."""
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def normalise(raw: Any, kind: str) -> Value:
    """Normalise a cell for a datapoint of type kind ``integer`` or ``decimal``."""
    if type(raw) is float and 0 <= raw < math.inf:  # the common case: a number as typed, no message
        if kind == "decimal":
            return Value(raw)
        if raw.is_integer():
            return Value(int(raw))
    text = shown(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Value(None, "V101", "")
    if isinstance(raw, bool | dt.date | dt.time | dt.timedelta):
        return Value(None, "R5", text)
    if isinstance(raw, int | float):
        # float() of a 400-digit integer raises; such a number is no count or amount anyway
        return _number(float(raw) if abs(raw) < 1e300 else math.inf, kind, None, text)
    folded = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "")
    full_width = folded != str(raw).strip().replace(" ", "").replace("\u3000", "") and any(
        "０" <= ch <= "９" for ch in str(raw)
    )
    if folded in NONE_MARKS:
        return Value(0, "V103", text)
    code = "V105" if full_width else "V104"
    if _THOUSANDS.match(folded):
        return _number(float(folded.replace(",", "")), kind, "V105" if full_width else "V107", text)
    if m := _UNIT.match(folded):
        unit = m.group(2)
        if (unit == "万元") != (kind == "decimal"):
            return Value(None, "R5", text)  # 万元 in a count cell, or 件 in an amount: not certain
        return _number(float(m.group(1)), kind, "V105" if full_width else "V106", text)
    if _NUMBER.match(folded):
        return _number(float(folded), kind, code, text)
    return Value(None, "R5", text)


def _number(x: float, kind: str, code: str | None, text: str) -> Value:
    if not rules.value_ok(x, kind):
        return Value(None, "R5", text)
    return Value(x if kind == "decimal" else int(x), code, text)


def label_key(text: Any) -> str:
    """How labels are compared: NFKC (full-width = half-width), all whitespace removed."""
    if not isinstance(text, str):
        return ""
    return _key(text)


@functools.lru_cache(maxsize=1 << 14)
def _key(text: str) -> str:
    # Cached: the same labels come back in every file of a county's batch.
    return "".join(unicodedata.normalize("NFKC", text).split())


def excel_readable(ref: str, kind: str) -> str:
    """An Excel formula, true when the text in ``ref`` is what ``normalise`` reads as a number
    with a warning (V103 “/” or “无”, V104 a number as text, V105 full-width digits, V106 with a
    unit, V107 thousands separators), so the template's live check rates a cell as the checker
    does. (Commas are dropped wherever they stand: “1,2” passes here, not in the checker.)"""
    text = f"ASC(TRIM({ref}))"
    marks = ",".join(f'{text}="{m}"' for m in sorted(NONE_MARKS))
    clean = text
    for unit in UNITS["decimal" if kind == "decimal" else "integer"]:
        clean = f'SUBSTITUTE({clean},"{unit}","")'
    number = f'VALUE(SUBSTITUTE({clean},",",""))'
    whole = f",INT({number})={number}" if kind != "decimal" else ""
    sign = f"{number}>=0" if kind != "signed" else "TRUE"
    return f"OR({marks},IFERROR(AND({sign}{whole}),FALSE))"
