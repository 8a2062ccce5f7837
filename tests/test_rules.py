"""The rule engine: parsing, and every rule proven both ways over datapoint values."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook_tools import layout, rules, synth


def failing(spec, values, kind="乡镇"):
    return {inst.key for _, inst in spec.failures(values, kind)}


@pytest.mark.parametrize(
    "text, problem",
    [
        ("a.b", "expected exactly one of"),
        ("a == b == c", "expected exactly one of"),
        ("a + == b", "empty term"),
        ("sum(t3.{r}.x for a in s) == 0", "sum variable 'a' is not used"),
        ("a * 2 == b", "cannot read term"),
    ],
)
def test_parse_errors_name_the_problem(text, problem):
    with pytest.raises(rules.RuleSyntaxError, match=problem):
        rules.parse(text)


def test_parse_sum_terms_and_constants():
    expr = rules.parse("t3.{r}.total == sum(t3.{r}.{a} for a in applicants) + 2")
    assert expr.op == "=="
    assert expr.left.terms == (rules.Term("t3.{r}.total"),)
    assert expr.right.terms == (rules.Term("t3.{r}.{a}", "a", "applicants"),)
    assert expr.right.constant == 2
    assert expr.variables() == {"r"}


@pytest.mark.parametrize("seed", range(25))
def test_consistent_filings_pass_every_rule(spec21, seed):
    values = synth.consistent_values(spec21, random.Random(seed))
    assert failing(spec21, values) == set()
    assert any(values[i] for i in spec21.inputs), "the generator produced an all-zero filing"


def _base(spec21):
    values = synth.consistent_values(spec21, random.Random(7))
    values.update({"t3.deny_secret.research": 0, "t2.rules.issued": 0})
    return spec21.compute(values)


def test_r1_one_input_changed(spec21):
    values = _base(spec21)
    values["t3.new.natural"] += 1
    assert failing(spec21, spec21.compute(values)) == {"R1[natural]", "R1[total]"}


def test_r2_row_total_overwritten(spec21):
    values = _base(spec21)
    values["t3.granted.total"] += 1  # typed over the formula, nothing recomputed
    assert failing(spec21, values) == {"R2[granted]", "R3[total]"}


def test_r3_results_total_overwritten(spec21):
    values = _base(spec21)
    values["t3.total.natural"] += 3
    assert failing(spec21, values) == {"R3[natural]", "R1[natural]", "R2[total]"}


@pytest.mark.parametrize("group", ["review", "direct", "after_review"])
def test_r4_group_total_overwritten(spec21, group):
    values = _base(spec21)
    values[f"t4.{group}.total"] += 1
    assert failing(spec21, values) == {f"R4[{group}]"}


@pytest.mark.parametrize("bad", ["无", "/", "12件", -1, 1.5, True])
def test_r5_bad_value_in_a_count_cell(spec21, bad):
    values = _base(spec21)
    values["t3.deny_secret.research"] = bad  # was 0: sums move only for numeric bad values
    expected = {"R5[t3.deny_secret]"}
    if isinstance(bad, int | float) and not isinstance(bad, bool):
        expected |= {"R1[research]", "R1[total]"}
    assert failing(spec21, spec21.compute(values)) == expected


def test_r5_amount_accepts_decimals_but_not_negatives(spec21):
    values = _base(spec21)
    values["t2.fees.amount"] = 12.345
    assert failing(spec21, values) == set()
    values["t2.fees.amount"] = -0.5
    assert failing(spec21, values) == {"R5[t2.fees]"}


def test_w1_issued_more_than_in_force_plus_repealed(spec21):
    values = _base(spec21)
    values["t2.normative.issued"] = (
        values["t2.normative.in_force"] + values["t2.normative.repealed"] + 1
    )
    assert failing(spec21, values) == {"W1[normative]"}


@pytest.mark.parametrize(
    "kind, expected", [("乡镇", {"W2"}), ("部门", {"W2"}), ("政府", set()), ("", set())]
)
def test_w2_rules_row_depends_on_unit_kind(spec21, kind, expected):
    values = _base(spec21)
    values["t2.rules.issued"] = 1
    values["t2.rules.in_force"] = 1
    assert failing(spec21, values, kind or None) == expected


def test_excel_formulas_are_compiled_from_the_same_terms(spec21):
    lay = layout.build(spec21)
    sheet = spec21.table("t3").sheet

    def refs(ids):
        return lay.refs(ids, sheet)

    r1 = spec21.rule("R1").instances[0]
    assert rules.excel_check(r1, refs, spec21.kinds) == '=IF(SUM(D7:D8)=SUM(D30:D31),"✓","✗")'
    r3 = spec21.rule("R3").instances[0]
    assert rules.excel_sum(r3.right, 0, refs) == "SUM(D9:D29)"
    w2 = spec21.rule("W2").instances[0]
    formula = rules.excel_check(w2, lambda ids: lay.refs(ids, "表二 主动公开"), spec21.kinds, "K")
    assert formula == '=IF(OR(NOT(OR(K="乡镇",K="街道",K="部门")),SUM(B6:D6)=0),"✓","✗")'
    fees = next(i for i in spec21.rule("R5").instances if i.key == "R5[t2.fees]")
    assert "INT(" not in rules.excel_check(fees, refs, spec21.kinds)  # decimals allowed


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**9), pick=st.integers(0, 10**6), delta=st.integers(1, 50))
def test_property_any_t3_input_change_breaks_its_column_balance(spec21, seed, pick, delta):
    values = synth.consistent_values(spec21, random.Random(seed))
    assert failing(spec21, values) == set()
    t3_inputs = [i for i in spec21.inputs if i.startswith("t3.")]
    target = t3_inputs[pick % len(t3_inputs)]
    values[target] += delta
    broken = failing(spec21, spec21.compute(values))
    column = spec21.datapoints[target].col_key
    assert f"R1[{column}]" in broken


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**9), pick=st.integers(0, 10**6), delta=st.integers(1, 50))
def test_property_any_overwritten_total_is_caught(spec21, seed, pick, delta):
    values = synth.consistent_values(spec21, random.Random(seed))
    target = spec21.totals[pick % len(spec21.totals)][0]
    values[target] += delta
    broken = failing(spec21, values)
    defining = [i.key for r, i in spec21.instances() if r.defines and i.left == (target,)]
    assert defining and set(defining) <= broken


# --- the planned evaluators (Spec.compute, Spec.failing) against the term-by-term engine ------

_ODD_VALUES = [
    *(None, "", " ", "12", "无", True, False, 0, 1, 7, -3, 10**6, 10**400, -(10**400)),
    *(0.0, -0.0, 0.1, 0.2, 1.5, 1e16, -1e16, 2.0**53, 1e308, float("inf"), float("-inf")),
    *(float("nan"), 5e-324),
]


def _odd(rng: random.Random):
    """A cell value of any kind the engines may meet: numbers (huge ints that overflow a sum
    with a float, -0.0, nan, inf), text, booleans, nothing."""
    if rng.random() < 0.4:
        return rng.choice(_ODD_VALUES)
    return rng.choice([rng.randint(-50, 50), rng.uniform(-1e3, 1e3), rng.randint(0, 10**20)])


def _totals_term_by_term(inputs, totals, values):
    """What Spec.compute did before it was planned (kept here as the reference)."""
    out = {i: values.get(i) for i in inputs}
    for target, sources in totals:
        out[target] = sum(map(rules.number, map(out.get, sources)))
    return out


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # compared, not hidden: both must raise alike
        return "raised", type(exc).__name__


def _same_values(a, b):
    """Equal key for key, in the same order, each of the same type (-0.0, nan told apart)."""
    assert list(a) == list(b)
    for k in a:
        assert type(a[k]) is type(b[k]), k
        assert repr(a[k]) == repr(b[k]), k


def _bundled():
    from workbook_tools import spec as spec_module

    return [spec_module.load(name) for name in spec_module.bundled_names()]


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), share=st.floats(0, 1))
def test_planned_totals_equal_the_term_by_term_sums(seed, share):
    rng = random.Random(seed)
    for spec in _bundled():
        values = {i: _odd(rng) for i in spec.inputs if rng.random() < share}
        want = _outcome(_totals_term_by_term, spec.inputs, spec.totals, values)
        got = _outcome(spec.compute, values)
        assert got[0] == want[0]
        if want[0] == "ok":
            _same_values(got[1], want[1])
        else:
            assert got == want


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), share=st.floats(0, 1), consistent=st.booleans())
def test_planned_comparisons_fail_exactly_where_holds_says(seed, share, consistent):
    rng = random.Random(seed)
    for spec in _bundled():
        ids = list(spec.datapoints)
        if consistent:  # mostly consistent values, so that most rules hold, a few changed
            first = spec.compute(synth.consistent_values(spec, rng))
            for i in rng.sample(ids, rng.randint(0, 4)):
                first[i] = _odd(rng)
        else:
            first = {i: _odd(rng) for i in ids if rng.random() < share}
        second = dict(first)
        for i in rng.sample(ids, rng.randint(0, 4)):
            second[i] = _odd(rng)
        kind = rng.choice(["乡镇", "街道", "部门", "", None, "其他"])

        def one_by_one(spec=spec, first=first, second=second, kind=kind):
            return [
                (rule, inst)
                for rule, inst in spec.comparisons
                if not rules.holds(inst, first if rule.defines else second, spec.kinds, kind)
            ]

        assert _outcome(spec.failing, first, second, kind) == _outcome(one_by_one)


def test_planned_totals_follow_the_order_of_definition():
    # A total summing a later total (not there yet: 0), one defined twice (the second sees the
    # first), a source that is nothing, a total of one term and of none, an odd id.
    odd = "x'); import os; ('\"\\\n"
    inputs = ("a", "b", odd)
    totals = (
        ("t1", ("a", "t2", "nothing", odd)),
        ("t2", ("t1", "b")),
        ("t1", ("t1", "a", "t2")),
        ("t3", ()),
        ("t4", ("b",)),
        ("t5", ("t1", "t4")),
    )
    compiled = rules.compile_totals(inputs, totals)
    for values in ({"a": 1, "b": 2.5, odd: 4}, {"a": None, "b": "7", odd: -0.0}, {}):
        _same_values(compiled(values), _totals_term_by_term(inputs, totals, values))
    assert list(compiled({})) == ["a", "b", odd, "t1", "t2", "t3", "t4", "t5"]


def test_a_spec_that_has_evaluated_still_pickles(spec21):
    import pickle

    values = synth.consistent_values(spec21, random.Random(3))
    before = spec21.compute(values)
    assert spec21.failing(before, before, "乡镇") == []
    again = pickle.loads(pickle.dumps(spec21))
    assert again.compute(values) == before
    values["t3.new.natural"] += 1
    bad = spec21.compute(values)
    assert {i.key for _, i in again.failing(bad, bad, "乡镇")} == {"R1[natural]", "R1[total]"}
