"""The rule engine: consistency rules written over datapoint ids.

A rule in the spec reads like ``t3.{r}.total == sum(t3.{r}.{a} for a in applicants)`` with
``each: {r: t3_rows}``. Loading expands it into one ``Instance`` per binding, over concrete
datapoint ids. Each instance then compiles two ways from the same terms: to a Python check
(``holds``) and to an Excel formula (``excel_check`` / ``excel_sum``), so the live check in the
template and the checker cannot disagree.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

OPS = ("==", "<=", ">=")
PASS, FAIL = "✓", "✗"

# Patterns as text, compiled by the re module on first use: only building a spec parses rules,
# and a check loads its spec compiled (compiling them cost start-up time).
_OP = r"\s*(==|<=|>=)\s*"
_SUM = r"^sum\(\s*(\S+)\s+for\s+(\w+)\s+in\s+(\w+)\s*\)$"
_TERM = r"^[A-Za-z0-9_.{}]+$"
VAR = r"\{(\w+)\}"  # a {placeholder} in a datapoint id pattern


class RuleSyntaxError(ValueError):
    """A rule's check expression cannot be parsed; the message names the problem."""


class Term(
    namedtuple(
        "Term",
        (
            "pattern",  # str
            "over_var",  # str | None
            "over_set",  # str | None
        ),
        defaults=(None, None),
    )
):
    """A datapoint id pattern, summed over ``over_set`` when ``over_var`` is set."""

    __slots__ = ()


class Side(
    namedtuple(
        "Side",
        (
            "terms",  # tuple[Term, ...]
            "constant",  # int
        ),
    )
):
    """One side of a comparison: terms summed, plus a constant."""

    __slots__ = ()


class Expression(
    namedtuple(
        "Expression",
        (
            "left",  # Side
            "op",  # str
            "right",  # Side
        ),
    )
):
    """A parsed check expression: ``left op right``."""

    __slots__ = ()

    def variables(self) -> set[str]:
        """Placeholders that must be bound by ``each`` (summation variables excluded)."""
        found: set[str] = set()
        for term in self.left.terms + self.right.terms:
            found |= set(re.findall(VAR, term.pattern)) - {term.over_var}
        return found


def parse(text: str) -> Expression:
    """Parse ``SIDE OP SIDE``; raise RuleSyntaxError naming what is wrong."""
    parts = re.split(_OP, text.strip())
    if len(parts) != 3:
        raise RuleSyntaxError(f"expected exactly one of {' '.join(OPS)} in {text!r}")
    left, op, right = parts
    return Expression(_parse_side(left, text), op, _parse_side(right, text))


def _parse_side(text: str, whole: str) -> Side:
    terms: list[Term] = []
    constant = 0
    for raw in text.split("+"):
        item = raw.strip()
        if not item:
            raise RuleSyntaxError(f"empty term in {whole!r}")
        if item.isdigit():
            constant += int(item)
        elif m := re.match(_SUM, item):
            pattern, var, set_name = m.groups()
            if "{" + var + "}" not in pattern:
                raise RuleSyntaxError(f"sum variable {var!r} is not used in {pattern!r}")
            terms.append(Term(pattern, var, set_name))
        elif re.match(_TERM, item):
            terms.append(Term(item))
        else:
            raise RuleSyntaxError(f"cannot read term {item!r} in {whole!r}")
    return Side(tuple(terms), constant)


class Instance(
    namedtuple(
        "Instance",
        (
            "code",  # str
            "key",  # str
            "binding",  # tuple[tuple[str, str], ...]
            "op",  # str
            "left",  # tuple[str, ...]
            "left_constant",  # int
            "right",  # tuple[str, ...]
            "right_constant",  # int
            "at",  # str
            "cells",  # tuple[str, ...]
            "when_kinds",  # tuple[str, ...]
        ),
        defaults=((),),
    )
):
    """One concrete check: a rule under one binding of its ``each`` variables.

    For a comparison, ``left``/``right`` hold datapoint ids (summed) plus constants. For the
    type rule (``op == "type"``), ``cells`` are the input datapoints whose values are checked.
    """

    __slots__ = ()


def expand(
    code: str,
    expr: Expression,
    each: Mapping[str, str],
    at_pattern: str,
    sets: Mapping[str, tuple[str, ...]],
    when_kinds: tuple[str, ...] = (),
) -> list[Instance]:
    """One instance per combination of the ``each`` variables, in declaration order."""
    names = list(each)
    combos = itertools.product(*(sets[each[n]] for n in names)) if names else [()]
    out = []
    for combo in combos:
        binding = dict(zip(names, combo, strict=True))
        left = _expand_side(expr.left, binding, sets)
        right = _expand_side(expr.right, binding, sets)
        key = code + ("[" + ",".join(combo) + "]" if combo else "")
        out.append(
            Instance(
                code=code,
                key=key,
                binding=tuple(binding.items()),
                op=expr.op,
                left=left,
                left_constant=expr.left.constant,
                right=right,
                right_constant=expr.right.constant,
                at=at_pattern.format(**binding),
                cells=tuple(dict.fromkeys(left + right)),
                when_kinds=when_kinds,
            )
        )
    return out


def _expand_side(
    side: Side, binding: Mapping[str, str], sets: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    ids: list[str] = []
    for term in side.terms:
        if term.over_var is None:
            ids.append(term.pattern.format(**binding))
        else:
            for value in sets[term.over_set]:
                ids.append(term.pattern.format(**binding, **{term.over_var: value}))
    return tuple(ids)


def type_instance(code: str, key: str, cells: Sequence[str]) -> Instance:
    """The type rule over a group of input cells (one table row, for the live check)."""
    return Instance(code, key, (), "type", (), 0, (), 0, cells[0], tuple(cells))


# --- Python side -------------------------------------------------------------------------


_NUMERIC = (int, float)  # exact types: bool is not a number here


def number(value: Any) -> float | int:
    """The value a sum sees: numbers as they are, anything else as 0 (Excel's SUM does the same;
    the type rule reports the non-number separately)."""
    return value if type(value) in _NUMERIC else 0


def value_ok(value: Any, kind: str) -> bool:
    """Whether a cell value satisfies a type kind; blank is left to the reader to report."""
    if value is None or value == "":
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):  # 1E+309, NaN: no count or amount
        return False
    if kind == "signed":
        return float(value).is_integer()
    if value < 0:
        return False
    return kind != "integer" or float(value).is_integer()


def applies(inst: Instance, unit_kind: str | None) -> bool:
    return not inst.when_kinds or unit_kind in inst.when_kinds


def side_values(inst: Instance, values: Mapping[str, Any]) -> tuple[float, float]:
    get = values.get
    left = sum(map(number, map(get, inst.left))) + inst.left_constant
    right = sum(map(number, map(get, inst.right))) + inst.right_constant
    return left, right


def holds(
    inst: Instance,
    values: Mapping[str, Any],
    kinds: Mapping[str, str],
    unit_kind: str | None = None,
) -> bool:
    """Evaluate one instance over ``values`` (datapoint id -> value, totals included).

    ``kinds`` maps datapoint ids to their type kind (integer/decimal) for the type rule.
    """
    if not applies(inst, unit_kind):
        return True
    if inst.op == "type":
        return all(value_ok(values.get(c), kinds[c]) for c in inst.cells)
    left, right = side_values(inst, values)
    # Decimal sums (万元) are compared at a precision far below what anyone reports.
    left, right = round(left, 6), round(right, 6)
    op = inst.op
    if op == "==":
        return left == right
    if op == "<=":
        return left <= right
    if op == ">=":
        return left >= right
    raise KeyError(op)


# --- many at once: one plan per spec -------------------------------------------------------
#
# Checking a file evaluates the same 34 totals and ~45 comparisons over new values each time;
# done term by term (a dict lookup and a call of ``number`` per term) that is most of the time the
# rules take. So a spec's totals and comparisons are planned once: the values are fetched and
# made numbers in one pass into a list, and each sum takes its terms from that list with an
# ``operator.itemgetter`` built for it -- the same items in the same order as
# ``sum(map(number, ...))``, hence the same result, also for floats (whose sum() may round
# differently from ``a + b + ...``).


def _taker(indexes: Sequence[int]) -> Callable[[list], Any]:
    """The items of a list at ``indexes``, as a sequence sum() takes (a slice for one or none:
    itemgetter of one index gives the item itself)."""
    if len(indexes) >= 2:
        return operator.itemgetter(*indexes)
    if indexes:
        return operator.itemgetter(slice(indexes[0], indexes[0] + 1))
    return operator.itemgetter(slice(0, 0))


def compile_totals(
    inputs: Sequence[str], totals: Sequence[tuple[str, Sequence[str]]]
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function doing what this does, faster::

    out = {i: values.get(i) for i in inputs}
    for target, sources in totals:
        out[target] = sum(map(number, map(out.get, sources)))
    return out
    """
    ids, targets = tuple(inputs), tuple(target for target, _ in totals)
    zero = len(ids)  # the list holds the inputs as numbers, a 0, then each total as summed
    where = {dp: k for k, dp in enumerate(ids)}  # id -> its current place in the list
    plan = []
    for k, (target, sources) in enumerate(totals):
        # A source not in ``out`` yet gives None, which sums as 0: the 0's place.
        plan.append(_taker([where.get(dp, zero) for dp in sources]))
        where[target] = zero + 1 + k

    def compute(values: Mapping[str, Any]) -> dict[str, Any]:
        raw = list(map(values.get, ids))
        numbers = [x if type(x) in _NUMERIC else 0 for x in raw]
        numbers.append(0)
        for take in plan:
            numbers.append(sum(take(numbers)))
        out = dict(zip(ids, raw, strict=True))
        out.update(zip(targets, numbers[zero + 1 :], strict=True))
        return out

    return compute


_COMPARE = {"==": operator.eq, "<=": operator.le, ">=": operator.ge}


def compile_failing(
    checks: Sequence[tuple[Instance, bool]],
) -> Callable[[Mapping[str, Any], Mapping[str, Any], str | None], list[int]]:
    """For comparisons (``op`` not "type") each with whether it reads the first view: a
    function ``(first, second, unit_kind) -> [index, ...]`` of those that do not hold, in order,
    exactly as ``not holds(inst, first if flag else second, kinds, unit_kind)`` says."""
    places: tuple[dict[str, int], dict[str, int]] = ({}, {})  # per view: id -> list index
    plan = []
    for inst, first in checks:
        place = places[0] if first else places[1]
        left = _taker([place.setdefault(dp, len(place)) for dp in inst.left])
        right = _taker([place.setdefault(dp, len(place)) for dp in inst.right])
        compare = _COMPARE[inst.op]  # (KeyError for "type", as holds raises for an unknown op)
        plan.append(
            (first, left, inst.left_constant, right, inst.right_constant, compare, inst.when_kinds)
        )
    first_ids, second_ids = tuple(places[0]), tuple(places[1])

    def failing(first: Mapping, second: Mapping, unit_kind: str | None) -> list[int]:
        a = [x if type(x) in _NUMERIC else 0 for x in map(first.get, first_ids)]
        b = [x if type(x) in _NUMERIC else 0 for x in map(second.get, second_ids)]
        bad = []
        for index, (on_a, left, lc, right, rc, compare, when) in enumerate(plan):
            if when and unit_kind not in when:
                continue  # does not apply to this kind of unit: holds
            numbers = a if on_a else b
            if not compare(round(sum(left(numbers)) + lc, 6), round(sum(right(numbers)) + rc, 6)):
                bad.append(index)
        return bad

    return failing


# --- Excel side --------------------------------------------------------------------------

_EXCEL_OP = {"==": "=", "<=": "<=", ">=": ">="}


def excel_sum(ids: Sequence[str], constant: int, refs: Callable[[Sequence[str]], str]) -> str:
    """An Excel expression for the sum of ``ids`` plus ``constant``."""
    parts = [f"SUM({refs(ids)})"] if ids else []
    if constant or not parts:
        parts.append(str(constant))
    return "+".join(parts)


def excel_check(
    inst: Instance,
    refs: Callable[[Sequence[str]], str],
    kinds: Mapping[str, str],
    kind_ref: str | None = None,
    text_ok: Callable[[str, str], str] | None = None,
) -> str:
    """The live-check formula of an instance: shows ✓ when it holds, ✗ when not.

    ``refs`` turns datapoint ids into a comma-separated reference list (ranges where the cells
    are contiguous); ``kind_ref`` is the reference to the unit-kind cell for ``when`` rules.
    """
    if inst.op == "type":
        preds = [excel_type_predicate(refs([c]), kinds[c], text_ok) for c in inst.cells]
        cond = f"IFERROR(AND({','.join(preds)}),FALSE)"
    else:
        left = excel_sum(inst.left, inst.left_constant, refs)
        right = excel_sum(inst.right, inst.right_constant, refs)
        if any(kinds.get(i) == "decimal" for i in inst.cells):
            cond = f"ROUND({left}-({right}),6){_EXCEL_OP[inst.op]}0"
        else:
            cond = f"{left}{_EXCEL_OP[inst.op]}{right}"
    if inst.when_kinds:
        if kind_ref is None:
            raise ValueError(f"{inst.key} depends on the unit kind but no kind cell was given")
        is_kind = ",".join(f'{kind_ref}="{k}"' for k in inst.when_kinds)
        cond = f"OR(NOT(OR({is_kind})),{cond})"
    return f'=IF({cond},"{PASS}","{FAIL}")'


def excel_type_predicate(
    ref: str, kind: str, text_ok: Callable[[str, str], str] | None = None
) -> str:
    """True when ``ref`` holds a valid value of ``kind`` for R5; ``text_ok(ref, kind)`` is the
    formula for text the checker reads as a number with a warning (so it is no R5 either)."""
    number_ok = "TRUE" if kind == "signed" else f"{ref}>=0"
    if kind in ("integer", "signed"):
        number_ok += f",INT({ref})={ref}"
    text = text_ok(ref, kind) if text_ok else "FALSE"
    # Spaces are blank (V101 in the checker), not a bad value; IF, not OR, so the number tests
    # are not evaluated (and do not error) for text.
    return f'IF(TRIM({ref})="",TRUE,IF(ISNUMBER({ref}),AND({number_ok}),{text}))'
