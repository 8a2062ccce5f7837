"""The one model in the middle: a filing is one unit's report for one year.

The reader and (later) the importer produce filings; check, merge, annotate and report consume
them. Values are keyed by datapoint id and carry where they came from; nothing downstream looks
at cell addresses except to tell a person where to look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .findings import Finding
from .spec import Spec


class Source(NamedTuple):
    sheet: str
    cell: str  # A1


@dataclass
class Filing:
    """One unit's report as read from a workbook or a published text: values, texts, places."""

    path: str
    spec: Spec | None = None
    unit: str = ""
    code: str = ""
    kind: str = ""
    year: int | None = None
    values: dict[str, Any] = field(default_factory=dict)  # normalised inputs, stored totals
    raw: dict[str, Any] = field(default_factory=dict)  # cells as read
    formula: dict[str, bool | None] = field(default_factory=dict)  # total cell holds a formula?
    texts: dict[str, str] = field(default_factory=dict)  # narrative field id -> text
    info: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)  # datapoint or field id -> cell
    meta: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)  # what reading found
    missing: set[str] = field(default_factory=set)  # datapoints not present in the file
    lines: dict[str, int] = field(default_factory=dict)  # imported text: the line each came from
    # A group printed as one row (“（六）其他处理” without its sub-rows): each sub-row is missing,
    # but the sum of the sub-rows' ids in one column is known, for the rules that need only that.
    group_sums: dict[tuple[str, ...], Any] = field(default_factory=dict)
    mtime: float = 0.0
    saved_at: str = ""  # when the workbook says it was last saved (ISO 8601), if it says
    readable: bool = False  # the file was read as a filing of ``spec`` (else see findings)

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
