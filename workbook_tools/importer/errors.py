"""What a reader of an input kind raises when its file cannot be read as a report (here, not in
``pdf``: the importer catches it without loading the PDF reader for other kinds)."""

from __future__ import annotations


class PdfError(Exception):
    """The PDF cannot be read as a report: ``code`` and ``args`` make its finding."""

    def __init__(self, code: str, **args: object) -> None:
        super().__init__(f"{code} {args}")
        self.code = code
        self.args_ = args
