"""Cell values normalised loudly: certain meanings become numbers with a warning code, anything
uncertain is an error with no value; nothing unreadable becomes 0 silently."""

from __future__ import annotations

import datetime as dt

import pytest

from workbook_tools.normalise import normalise


@pytest.mark.parametrize(
    "raw, kind, number, code",
    [
        (3.0, "integer", 3, None),
        (0.0, "integer", 0, None),
        (12.5, "decimal", 12.5, None),
        (None, "integer", None, "V101"),
        ("", "integer", None, "V101"),
        ("   ", "integer", None, "V101"),
        ("/", "integer", 0, "V103"),
        ("无", "integer", 0, "V103"),
        ("－", "integer", 0, "V103"),
        ("12", "integer", 12, "V104"),
        (" 12 ", "integer", 12, "V104"),
        ("3.0", "integer", 3, "V104"),
        ("１２", "integer", 12, "V105"),
        ("１２件", "integer", 12, "V105"),
        ("12件", "integer", 12, "V106"),
        ("12 件", "integer", 12, "V106"),
        ("1.5万元", "decimal", 1.5, "V106"),
        ("1,234", "integer", 1234, "V107"),
        ("１，２３４", "integer", 1234, "V105"),
        (3.5, "integer", None, "R5"),
        ("3.5", "integer", None, "R5"),
        (-1.0, "integer", None, "R5"),
        ("-2", "integer", None, "R5"),
        (-0.5, "decimal", None, "R5"),
        ("若干", "integer", None, "R5"),
        ("12件", "decimal", None, "R5"),  # a count where 万元 belong: not certain
        ("1.5万元", "integer", None, "R5"),
        (True, "integer", None, "R5"),
        (dt.date(2024, 1, 2), "integer", None, "R5"),
        (dt.datetime(2024, 1, 2, 3, 4), "integer", None, "R5"),
    ],
)
def test_normalise(raw, kind, number, code):
    value = normalise(raw, kind)
    assert (value.number, value.code) == (number, code)
    assert type(value.number) is (int if kind == "integer" and number is not None else type(number))


def test_raw_text_is_kept_for_messages():
    assert normalise("１２件", "integer").raw == "１２件"
    assert normalise(dt.date(2024, 1, 2), "integer").raw == "2024-01-02"
    assert normalise(7.0, "integer").raw == ""
