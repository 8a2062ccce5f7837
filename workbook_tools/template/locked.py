"""The workbook class every template is written with: xlsxwriter's, its structure locked."""

from __future__ import annotations

import xlsxwriter

from ..files import legacy_password_hash


class LockedWorkbook(xlsxwriter.Workbook):
    """A workbook with its structure locked (``<workbookProtection lockStructure="1"/>``, and the
    password's verifier when there is one): sheets cannot be added, removed or renamed.

    xlsxwriter protects sheets but not the workbook structure (its author declines to add it), so
    the element is written where the schema puts it, just before ``<bookViews>``. Adding it to
    the finished file instead meant unzipping and recompressing every part (some 8 % of writing a
    roster's templates)."""

    structure_password = ""

    def _write_book_views(self) -> None:
        attributes = [("lockStructure", 1)]
        if self.structure_password:
            attributes.insert(
                0, ("workbookPassword", legacy_password_hash(self.structure_password))
            )
        self._xml_empty_tag("workbookProtection", attributes)
        super()._write_book_views()
