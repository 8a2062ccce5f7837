"""Colours, the font and the cell formats every sheet of a template uses."""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any


FONT = "宋体"
COLORS = {
    "input": "#FFF2CC",
    "total": "#E7E6E6",
    "header": "#DDEBF7",
    "stub": "#F2F2F2",
    "error_fill": "#FFC7CE",
    "error_font": "#9C0006",
    "warning_fill": "#FFEB9C",
    "warning_font": "#9C5700",
    "pass_font": "#006100",
}


class Styles:
    """The workbook's named cell formats, and coloured copies of them for feedback marks."""

    def __init__(self, wb):
        self.wb = wb
        self._props: dict[int, dict] = {}
        self._marked: dict[tuple[int, str], Any] = {}
        self.f = self._formats()

    def _fmt(self, **props: Any):
        props = {"font_name": FONT, "font_size": 11, "valign": "vcenter", **props}
        fmt = self.wb.add_format(props)
        self._props[id(fmt)] = props
        return fmt

    def marked(self, base: Any, severity: str) -> Any:
        """A copy of ``base`` filled in the colour of ``severity``."""
        k = (id(base), severity)
        if k not in self._marked:
            fill = COLORS["error_fill" if severity == "error" else "warning_fill"]
            self._marked[k] = self.wb.add_format({**self._props[id(base)], "bg_color": fill})
        return self._marked[k]

    def missing(self) -> Any:
        """An input cell whose value the source did not have (an imported report cut off)."""
        border = {"border": 1, "text_wrap": True}
        return self._fmt(
            align="center", locked=False, bg_color=COLORS["stub"], pattern=14, **border
        )

    def _formats(self) -> dict[str, Any]:
        border = {"border": 1, "text_wrap": True}
        return {
            "title": self._fmt(bold=True, font_size=16, align="center"),
            "subtitle": self._fmt(align="left"),
            "note": self._fmt(font_size=9, italic=True, font_color="#595959", text_wrap=True),
            "caption": self._fmt(bold=True, align="left", bg_color=COLORS["header"], **border),
            "header": self._fmt(bold=True, align="center", bg_color=COLORS["header"], **border),
            "corner": self._fmt(align="center", font_size=10, bg_color=COLORS["header"], **border),
            "stub": self._fmt(align="left", bg_color=COLORS["stub"], **border),
            "input": self._fmt(align="center", locked=False, bg_color=COLORS["input"], **border),
            "total": self._fmt(align="center", bold=True, bg_color=COLORS["total"], **border),
            "check": self._fmt(align="center", font_size=12, border=1),
            "check_head": self._fmt(align="center", font_size=9, text_wrap=True, border=1),
            "check_label": self._fmt(align="left", font_size=9, text_wrap=True, border=1),
            "label": self._fmt(bold=True, align="left", bg_color=COLORS["stub"], **border),
            "value": self._fmt(align="left", bg_color=COLORS["total"], **border),
            "text_input": self._fmt(
                align="left", valign="top", locked=False, bg_color=COLORS["input"], **border
            ),
            "date_input": self._fmt(
                align="left",
                locked=False,
                bg_color=COLORS["input"],
                num_format="yyyy-mm-dd",
                **border,
            ),
            "phone_input": self._fmt(
                align="left", locked=False, bg_color=COLORS["input"], num_format="@", **border
            ),
            "section": self._fmt(bold=True, font_size=12, align="left", bottom=1),
            "plain": self._fmt(text_wrap=True),
            "small": self._fmt(align="center", font_size=9, border=1),
            "link": self._fmt(font_color="blue", underline=1, font_size=10, border=1),
            "legend_input": self._fmt(align="center", bg_color=COLORS["input"], border=1),
            "legend_total": self._fmt(align="center", bg_color=COLORS["total"], border=1),
            "error_cf": self.wb.add_format(
                {"bg_color": COLORS["error_fill"], "font_color": COLORS["error_font"]}
            ),
            "warning_cf": self.wb.add_format(
                {"bg_color": COLORS["warning_fill"], "font_color": COLORS["warning_font"]}
            ),
            "pass_cf": self.wb.add_format({"font_color": COLORS["pass_font"]}),
        }
