"""The one model in the middle: a filing is one unit's report for one year.

The reader and (later) the importer produce filings; check, merge, annotate and report consume
them. Values are keyed by datapoint id and carry where they came from; nothing downstream looks
at cell addresses except to tell a person where to look.
"""

from __future__ import annotations

from collections import namedtuple

from .findings import Finding
from .record import Record
from .spec import Spec

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any


class Source(
    namedtuple(
        "Source",
        (
            "sheet",  # str
            "cell",  # str: A1
        ),
    )
):
    __slots__ = ()


class Filing(Record):
    """One unit's report as read from a workbook or a published text: values, texts, places.
    (A record written out, not a dataclass: see ``record``.)"""

    _fields = (
        "path",
        "spec",
        "unit",
        "code",
        "kind",
        "year",
        "values",
        "raw",
        "formula",
        "texts",
        "info",
        "sources",
        "meta",
        "findings",
        "missing",
        "lines",
        "group_sums",
        "mtime",
        "saved_at",
        "readable",
    )

    def __init__(
        self,
        path: str,
        spec: Spec | None = None,
        unit: str = "",
        code: str = "",
        kind: str = "",
        year: int | None = None,
        values: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = None,
        formula: dict[str, bool | None] | None = None,
        texts: dict[str, str] | None = None,
        info: dict[str, Any] | None = None,
        sources: dict[str, Source] | None = None,
        meta: dict[str, str] | None = None,
        findings: list[Finding] | None = None,
        missing: set[str] | None = None,
        lines: dict[str, int] | None = None,
        group_sums: dict[tuple[str, ...], Any] | None = None,
        mtime: float = 0.0,
        saved_at: str = "",
        readable: bool = False,
    ) -> None:
        self.path = path
        self.spec = spec
        self.unit = unit
        self.code = code
        self.kind = kind
        self.year = year
        self.values = {} if values is None else values  # normalised inputs, stored totals
        self.raw = {} if raw is None else raw  # cells as read
        self.formula = {} if formula is None else formula  # total cell holds a formula?
        self.texts = {} if texts is None else texts  # narrative field id -> text
        self.info = {} if info is None else info
        self.sources = {} if sources is None else sources  # datapoint or field id -> cell
        self.meta = {} if meta is None else meta
        self.findings = [] if findings is None else findings  # what reading found
        self.missing = set() if missing is None else missing  # datapoints not in the file
        self.lines = {} if lines is None else lines  # imported text: the line each came from
        # A group printed as one row (“（六）其他处理” without its sub-rows): each sub-row is
        # missing, but the sum of the sub-rows' ids in one column is known, for the rules that
        # need only that.
        self.group_sums = {} if group_sums is None else group_sums
        self.mtime = mtime
        self.saved_at = saved_at  # when the workbook says it was last saved (ISO 8601), if it says
        self.readable = readable  # read as a filing of ``spec`` (else see findings)

    def at_all(self, keys: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """Location keywords for a finding over several cells: the first key is the anchor;
        ``cells`` and ``datapoints`` list all of them (those this file holds), anchor first."""
        keys = list(dict.fromkeys(keys))
        here = [k for k in keys if k in self.sources and k not in self.lines]
        return {
            **self.at(keys[0]),
            "cells": tuple(f"{self.sources[k].sheet}!{self.sources[k].cell}" for k in here),
            "datapoints": tuple(here),
        }

    def at(self, key: str) -> dict[str, str | None]:
        """Finding location keywords for a datapoint or field id."""
        src = self.sources.get(key)
        if key in self.lines:  # imported from text: a line, not a cell
            return {"file": self.path, "line": self.lines[key], "datapoint": key}
        return {
            "file": self.path,
            "sheet": src.sheet if src else None,
            "cell": src.cell if src else None,
            "datapoint": key,
        }
