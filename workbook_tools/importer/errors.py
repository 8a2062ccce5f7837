"""What a reader of an input kind raises when its file cannot be read as a report (here, not in
``pdf``: the importer catches it without loading the PDF reader for other kinds)."""

from __future__ import annotations


class PdfError(Exception):
    """The PDF cannot be read as a report: ``code`` and ``args`` make its finding."""

    def __init__(self, code: str, **args: object) -> None:
        super().__init__(f"{code} {args}")
        self.code = code
        self.args_ = args

    def __reduce__(self):  # pickled whole (the reader runs in a child: bounded.run)
        return _rebuilt, (type(self), self.args, self.code, self.args_)


def _rebuilt(cls: type[PdfError], args: tuple, code: str, args_: dict) -> PdfError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.code, exc.args_ = code, args_
    return exc
