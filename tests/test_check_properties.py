"""Properties of the checker over random consistent filings (hypothesis)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from workbook_tools import check, layout, synth
from workbook_tools.filing import Filing, Source

from . import workbooks as wb


def filing_from(spec, values, typed_over=()):
    """A filing as the reader would produce it from a template filled with ``values``."""
    lay = layout.build(spec)
    f = Filing(
        "memory.xlsx", spec, unit=wb.UNIT.name, code=wb.UNIT.code, kind=wb.UNIT.kind, year=wb.YEAR
    )
    f.readable = True
    f.values = dict(values)
    f.raw = dict(values)
    f.formula = {t: t not in typed_over for t, _ in spec.totals}
    f.texts = dict(wb.TEXTS)
    f.sources = {k: Source(p.sheet, p.a1) for k, p in lay.places.items()}
    return f


def consistent(spec, seed):
    values = synth.consistent_values(spec, random.Random(seed))
    for col in spec.sets["applicants"]:  # “未收取信息处理费” in the base text must stay true
        values[f"t3.granted.{col}"] += values[f"t3.other_unpaid.{col}"]
        values[f"t3.other_unpaid.{col}"] = 0
    return spec.compute(values)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_consistent_filings_are_always_clean(spec21, seed):
    assert check.check_filing(filing_from(spec21, consistent(spec21, seed))) == []


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32), pick=st.integers(0, 10**6), delta=st.integers(-40, 40).filter(bool)
)
def test_any_change_to_a_table_three_count_is_caught_at_its_column(spec21, seed, pick, delta):
    values = consistent(spec21, seed)
    inputs = [i for i in spec21.inputs if i.startswith("t3.")]
    target = inputs[pick % len(inputs)]
    values[target] = max(0, values[target] + delta)
    if values[target] == consistent(spec21, seed)[target]:
        return  # clipped at zero: nothing changed
    found = check.check_filing(filing_from(spec21, spec21.compute(values)))
    column = spec21.datapoints[target].col_key
    expected = [("R1", f"t3.carry_next.{column}")]
    if spec21.datapoints[target].row_key == "other_unpaid" and values[target] > 0:
        expected.append(("N3", "s6.fees"))  # closed for unpaid fees, yet the text says no fees
    assert [(f.code, f.datapoint) for f in found] == expected


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), pick=st.integers(0, 10**6), delta=st.integers(1, 40))
def test_any_total_typed_over_is_caught_at_that_total(spec21, seed, pick, delta):
    values = consistent(spec21, seed)
    # totals nothing else sums (R2's row totals, R4's group totals): a typed value stands alone
    leaves = [t for t, _ in spec21.totals if not any(t in src for _, src in spec21.totals)]
    target = leaves[pick % len(leaves)]
    values[target] += delta
    found = check.check_filing(filing_from(spec21, values, typed_over={target}))
    codes = {(f.code, f.datapoint) for f in found}
    defining = {r.code for r, i in spec21.instances() if r.defines and i.left == (target,)}
    assert codes == {("T107", target)} | {(code, target) for code in defining}


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32), pick=st.integers(0, 10**6))
def test_through_real_files(spec21, tmp_path_factory, seed, pick):
    values = consistent(spec21, seed)
    folder = tmp_path_factory.mktemp("prop")
    clean = wb.write(folder, wb.render(spec21, values), "clean.xlsx")
    assert check.check_file(clean, spec21).findings == []
    inputs = [i for i in spec21.inputs if i.startswith("t3.") and ".other_unpaid." not in i]
    target = inputs[pick % len(inputs)]
    values[target] += 1
    broken = wb.write(folder, wb.render(spec21, spec21.compute(values)), "broken.xlsx")
    found = check.check_file(broken, spec21).findings
    column = spec21.datapoints[target].col_key
    assert [(f.code, f.datapoint) for f in found] == [("R1", f"t3.carry_next.{column}")]
