"""One workbook being written: what goes in it (unit, year, values, texts, feedback), what the
spec's rules say about those values, and the helpers every sheet shares.

Every formula is written with its correct cached value, computed here in Python by the same rules,
so the file shows right in suites that do not recalculate on load (LibreOffice keeps xlsxwriter's
cached values).
"""

from __future__ import annotations

import io
import math
from collections import namedtuple
from collections.abc import Iterable, Mapping

from .. import layout, rules
from ..layout import Place, WorkbookLayout
from ..normalise import normalise
from ..roster import Unit
from ..spec import Spec
from . import formulas
from .styles import Styles
from .wording import TEXT

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any


class FeedbackRow(
    namedtuple(
        "FeedbackRow",
        (
            "severity",  # str
            "code",  # str
            "key",  # str | None: the datapoint or field the finding is at (a link target), if any
            "where",  # str
            "message",  # str
        ),
    )
):
    __slots__ = ()


class Feedback(
    namedtuple(
        "Feedback",
        (
            "marks",  # dict[str, tuple[str, str]]
            "rows",  # list[FeedbackRow]
        ),
    )
):
    """What a feedback workbook shows: marked cells (key -> (severity, comment)) and all rows."""

    __slots__ = ()


def status_text(t: Mapping[str, str], blank: int, errors: int, warnings: int) -> str:
    """The check status the cover shows; the checks sheet's formula computes the same text."""
    bad = t["status_bad"].format(e=errors, w=warnings) if errors or warnings else ""
    if not blank:
        return bad or t["status_ok"]
    return t["status_blank"].format(b=blank) + (t["status_joiner"] + bad if bad else "")


class Book:
    def __init__(
        self,
        spec: Spec,
        unit: Unit,
        year: int,
        lang: str,
        password: str,
        values: Mapping[str, Any] | None,
        texts: Mapping[str, str] | None,
        info: Mapping[str, Any] | None,
        feedback: Feedback | None = None,
        printed: Mapping[str, Any] | None = None,
        missing: Iterable[str] = (),
        workbook: Any = None,
    ):
        """``workbook``: what the sheets are written to, by default a new ``LockedWorkbook``
        (``template.prepared`` gives one that records the calls instead)."""
        self.spec = spec
        self.printed = dict(printed or {})
        self.missing = set(missing)
        self._missing_format = None
        self.feedback = feedback
        self.layout: WorkbookLayout = layout.build(spec)
        self.formulas = formulas.compiled(spec)
        self.unit, self.year, self.lang, self.password = unit, year, lang, password
        self.t = TEXT[lang]
        self.values = spec.compute(values or {})
        self.values.update(self.printed)  # what the sheet shows, and the checks' cached results
        self.texts = dict(texts or {})
        self.info = {
            "unit": unit.name,
            "code": unit.code,
            "kind": unit.kind,
            "year": year,
            **(info or {}),
        }
        # Text the checker reads as a number with a warning (“12件”, “１２”) is no R5 in the live
        # check either (see normalise.excel_readable): the type rule sees the number read.
        typed = dict(self.values)
        for k, v in self.values.items():
            if isinstance(v, str) and k in spec.kinds:
                read = normalise(v, spec.kinds[k])
                typed[k] = (
                    None if read.code == "V101" else v if read.number is None else read.number
                )
        self.passes = {
            inst.key: rules.holds(
                inst, typed if inst.op == "type" else self.values, spec.kinds, unit.kind or None
            )
            for _, inst in spec.instances()
        }
        # Cached results of the summary formulas (checks sheet, instructions sheet).
        self.failing = {"error": 0, "warning": 0}
        for rule, inst in spec.instances():
            if not self.passes[inst.key]:
                self.failing[rule.severity.value] += 1
        # Blank inputs are unfinished, not passing: a number cell left empty (the checker's
        # V101) or a required narrative item left empty (D101).
        self.blank = sum(
            1
            for i in spec.inputs
            if self.values.get(i) is None or str(self.values[i]).strip() == ""
        ) + sum(1 for f in spec.fields if f.required and not self.texts.get(f.id, "").strip())
        self.status = status_text(
            self.t, self.blank, self.failing["error"], self.failing["warning"]
        )
        self.buffer = io.BytesIO()
        self.worksheet_class: Any = None  # the class of every sheet (a recorder makes its own)
        if workbook is None:
            from .locked import LockedWorkbook  # (xlsxwriter: only when it writes)

            self.worksheet_class = formulas.worksheet_class()

            workbook = LockedWorkbook(
                self.buffer,
                {
                    "in_memory": True,
                    "strings_to_numbers": False,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                },
            )
        self.wb = workbook
        self.wb.structure_password = password
        self.styles = Styles(self.wb)
        self.f = self.styles.f

    def missing_format(self) -> Any:
        """Hatched grey for a cell the published text did not have; made only when needed, so
        every other workbook stays byte for byte what it was."""
        if self._missing_format is None:
            self._missing_format = self.styles.missing()
        return self._missing_format

    def marked_format(self, key: str, base: Any) -> Any:
        """``base``, or a coloured copy when feedback marks the cell ``key``."""
        if self.feedback is None or key not in self.feedback.marks:
            return base
        return self.styles.marked(base, self.feedback.marks[key][0])

    def comment(self, ws, key: str, place: Place) -> None:
        if self.feedback is not None and key in self.feedback.marks:
            text = self.feedback.marks[key][1]
            options = {"author": "wbtools", "x_scale": 3, "y_scale": 2}
            ws.write_comment(place.row, place.col, text[:32000], options)

    def write_value(self, ws, place: Place, value: Any, fmt) -> None:
        if value is None or value == "":
            ws.write_blank(place.row, place.col, None, fmt)
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            # 1E+309 or NaN typed in a cell: shown as text (it is a finding, not a number)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            ws.write_string(place.row, place.col, str(value), fmt)
        else:
            ws.write_number(place.row, place.col, value, fmt)
