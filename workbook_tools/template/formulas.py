"""The formulas of a template: totals, live checks and defined names, compiled once per spec,
and a worksheet class that prepares each formula text once per process."""

from __future__ import annotations

import functools
from collections import namedtuple
from pathlib import Path

from .. import layout, patterns, rules
from ..normalise import excel_readable
from ..safe_text import LiteralStrings
from ..spec import Spec

# The functions our formulas call, none of which xlsxwriter rewrites (it prefixes functions newer
# than Excel 2007 with _xlfn.; tests/test_template.py holds this set against its list). A formula
# calling only these is what xlsxwriter would make of it without its ~150 regular expressions,
# which take longer than the rest of writing a template: ``wbtools import`` writes one.
PLAIN_FUNCTIONS = frozenset(
    (
        "",  # a parenthesis that calls nothing: (a+b)
        "AND",
        "ASC",
        "COUNTIF",
        "COUNTIFS",
        "IF",
        "IFERROR",
        "INT",
        "ISNUMBER",
        "ISTEXT",
        "LEN",
        "NOT",
        "OR",
        "SUBSTITUTE",
        "SUM",
        "SUMPRODUCT",
        "TRIM",
        "VALUE",
    )
)
# The whole run of name characters before each parenthesis (text in quotes included: a string
# that looks like a call makes the formula go the long way, never the wrong way).
_CALLED = patterns.compile(r"([A-Za-z0-9_.]+)\(")


# Formula text -> what xlsxwriter writes for it, seeded from the compiled formulas (see compiled).
_PREPARED: dict[str, str] = {}


@functools.lru_cache(maxsize=8192)
def _prepared(formula: str, expand_future: bool) -> str:
    if not expand_future and formula in _PREPARED:
        return _PREPARED[formula]
    if (
        not formula.startswith("{")
        and not formula.endswith("}")
        and "_xlfn." not in formula
        and PLAIN_FUNCTIONS.issuperset(_CALLED.findall(formula))
    ):
        return formula[1:] if formula.startswith("=") else formula  # what xlsxwriter strips
    from xlsxwriter.worksheet import Worksheet

    return Worksheet._prepare_formula(_plain(), formula, expand_future)


@functools.cache
def worksheet_class() -> type:
    """``CachedFormulas``: made on first use, so that importing the template does not import
    xlsxwriter (a prepared workbook is filled without it: ``template.prepared``)."""
    from xlsxwriter.worksheet import Worksheet

    class CachedFormulas(LiteralStrings, Worksheet):
        """A worksheet that remembers prepared formulas across workbooks.

        xlsxwriter runs some thirty regular expressions over every formula to add ``_xlfn.``
        prefixes; our formulas are the same for every unit of a roster, so preparing each once
        per process roughly halves the time to write a template (see benchmarks/).
        """

        def _prepare_formula(self, formula, expand_future_functions=False):
            return _prepared(formula, bool(expand_future_functions or self.use_future_functions))

    CachedFormulas.__module__ = __name__
    CachedFormulas.__qualname__ = "CachedFormulas"
    return CachedFormulas


@functools.cache
def _plain():
    from xlsxwriter.worksheet import Worksheet

    return Worksheet()


def __getattr__(name: str):
    if name == "CachedFormulas":
        return worksheet_class()
    raise AttributeError(name)


class Formulas(
    namedtuple(
        "Formulas",
        (
            "totals",  # dict[str, str]: computed datapoint id -> =SUM(...)
            "checks",  # dict[str, str]: rule instance key -> =IF(...,"✓","✗")
            "names",  # dict[str, str]: defined name -> ='Sheet'!$A$1
            "prepared",  # dict[str, str]: each total and check formula as xlsxwriter writes it
        ),
    )
):
    """Everything in a template that depends on the spec alone, compiled once per spec."""

    __slots__ = ()


_FORMULAS: dict[str, Formulas] = {}


def compiled(spec: Spec) -> Formulas:
    """The spec's formulas, kept compiled in the user's cache folder (``spec.cached``) across
    processes: compiling and preparing them (some 136,000 characters for the bundled spec) took
    longer than the rest of a one-file ``wbtools import`` outside xlsxwriter. The key holds the
    spec's hash (as the in-process cache) and the code that compiles them, xlsxwriter's
    version included (it prepares formulas that call other functions)."""
    if spec.hash not in _FORMULAS:
        from .. import spec as spec_module

        parts = [spec.hash.encode(), xlsxwriter_version()]
        parts += spec_module.code_parts(
            "template/formulas.py", "layout.py", "rules.py", "normalise.py", "spec.py"
        )
        found = spec_module.cached(
            "formulas", parts, lambda: _compile(spec), lambda f: isinstance(f, Formulas)
        )
        _PREPARED.update(found.prepared)
        _FORMULAS[spec.hash] = found
    return _FORMULAS[spec.hash]


@functools.cache
def xlsxwriter_version() -> bytes:
    """The installed xlsxwriter's ``__init__.py`` (its version line), read without importing it:
    a cache key part for what xlsxwriter wrote or prepared."""
    import importlib.util

    found = importlib.util.find_spec("xlsxwriter")
    try:
        return Path(found.origin).read_bytes() if found and found.origin else b"?"
    except OSError:
        return b"?"


def _compile(spec: Spec) -> Formulas:
    lay = layout.build(spec)
    totals = {}
    for target, sources in spec.totals:
        sheet = lay.place(target).sheet
        totals[target] = "=" + rules.excel_sum(sources, 0, lambda ids, s=sheet: lay.refs(ids, s))
    checks = {}
    for _, inst in spec.instances():
        sheet = lay.place(f"check.{inst.key}").sheet
        kind_ref = lay.place("info.kind").ref(sheet, absolute=True)
        checks[inst.key] = rules.excel_check(
            inst, lambda ids, s=sheet: lay.refs(ids, s), spec.kinds, kind_ref, excel_readable
        )
    names = {defined_name(k): "=" + p.ref(absolute=True) for k, p in lay.places.items()}
    prepared = {f: _prepared(f, False) for f in (*totals.values(), *checks.values())}
    return Formulas(totals, checks, names, prepared)


def defined_name(key: str) -> str:
    """The workbook name of a datapoint, field or check: ``t3.new.natural`` -> ``dp_t3_new_natural``."""
    safe = key.replace(".", "_").replace("[", "_").replace("]", "").replace(",", "_")
    if key.startswith("info."):
        return "info_" + safe[5:]
    if key.startswith("check."):
        return "chk_" + safe[6:]
    if "." in key and key.split(".")[0].startswith("s"):
        return "txt_" + safe
    return "dp_" + safe
