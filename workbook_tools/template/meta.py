"""The hidden metadata sheet: format, version, spec hash, unit and year, which the reader uses
to identify a returned filing; and the pinned document date."""

from __future__ import annotations

from datetime import datetime

from .. import __version__, layout
from ..roster import Unit
from ..spec import Spec
from .book import Book

META_KEYS = (
    "format_id",
    "format_version",
    "format_revision",
    "spec_hash",
    "unit",
    "code",
    "kind",
    "year",
    "lang",
    "tool",
    "tool_version",
)


def creation_time(year: int) -> datetime:
    """Pinned document date, so the same inputs give the same bytes: the January the reports
    for ``year`` are collected."""
    return datetime(year + 1, 1, 1)


def metadata(spec: Spec, unit: Unit, year: int, lang: str = "zh") -> dict[str, str]:
    """What the hidden metadata sheet records: the reader uses it to identify the filing."""
    return {
        "format_id": spec.format_id,
        "format_version": spec.version,
        "format_revision": str(spec.revision),
        "spec_hash": spec.hash,
        "unit": unit.name,
        "code": unit.code,
        "kind": unit.kind,
        "year": str(year),
        "lang": lang,
        "tool": "wbtools",
        "tool_version": __version__,
    }


def write(b: Book, ws) -> None:
    spec = b.spec
    meta = metadata(spec, b.unit, b.year, b.lang)
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 70)
    for row, key in enumerate(META_KEYS):
        ws.write_string(row, 0, key)
        ws.write_string(row, 1, str(meta[key]))
    if b.missing:  # an imported report's cells that its text did not have
        ws.write_string(len(META_KEYS), 0, layout.MISSING_KEY)
        ws.write_string(len(META_KEYS), 1, " ".join(sorted(b.missing)))
    ws.very_hidden()
