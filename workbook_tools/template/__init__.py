"""Write the locked Excel template (and every workbook we send: feedback copies) fresh from the
spec.

Everything placed comes from ``layout`` (where) and ``spec``/``rules`` (what). One module per
thing written: ``cover`` (填报说明), ``info`` (基本信息), ``tables`` (表二–表四 with totals, data
validation and live checks), ``narrative`` (文字部分), ``checks`` (校验结果), ``feedback``
(问题清单), ``meta`` (the hidden metadata sheet); ``book`` holds one workbook's inputs and what
the rules say about them, ``styles`` the formats, ``formulas`` the compiled formulas, ``ranges``
the grouped ranges and conditional formats, ``wording`` the words, ``writer`` the whole,
``locked`` xlsxwriter's workbook with its structure locked, ``prepared`` an import's workbook
filled into one written once (without loading xlsxwriter), ``recorder`` what it is filled from.
"""

from .book import Feedback, FeedbackRow
from .formulas import defined_name
from .meta import META_KEYS, creation_time, metadata
from .styles import COLORS, FONT
from .wording import FEEDBACK_SHEET, SEVERITY_TEXT, TEXT
from .writer import render, write, write_roster

__all__ = [
    "COLORS",
    "FEEDBACK_SHEET",
    "FONT",
    "META_KEYS",
    "SEVERITY_TEXT",
    "TEXT",
    "Feedback",
    "FeedbackRow",
    "creation_time",
    "defined_name",
    "metadata",
    "render",
    "write",
    "write_roster",
]
