"""Synthetic filings: random values that satisfy every rule of a spec.

Used by the tests (property tests, round trips), the benchmarks and the bundled samples. The
generator works from the spec's own declarations only where that is generic (types, totals) and
from the 2021 format's identities for the table-三 balance, which no generic solver needs to know.
"""

from __future__ import annotations

import random
from typing import Any

from .spec import Spec


def consistent_values(
    spec: Spec, rng: random.Random, unit_kind: str = "乡镇", scale: int = 6
) -> dict[str, Any]:
    """Inputs and totals for one unit that pass every rule of ``spec`` (2021 format).

    ``scale`` bounds the typical count in a cell; most cells are small, as in real reports.
    """
    values: dict[str, Any] = {i: 0 for i in spec.inputs}

    def count() -> int:
        return rng.choice([0, 0, 0, rng.randint(0, scale), rng.randint(0, scale * 5)])

    # Table 二: documents in force cover what was issued this year (W1); townships and
    # departments make no 规章 (W2).
    for row in spec.sets.get("t2_doc_rows", ()):
        if row == "rules" and unit_kind in ("乡镇", "街道", "部门"):
            continue
        issued, repealed = count(), count()
        values[f"t2.{row}.issued"] = issued
        values[f"t2.{row}.repealed"] = repealed
        values[f"t2.{row}.in_force"] = max(0, issued - repealed) + count()
    for dp in spec.datapoints.values():
        if dp.table == "t2" and dp.col_key in ("decisions",):
            values[dp.id] = count()
    if "t2.fees.amount" in values:
        values["t2.fees.amount"] = round(rng.choice([0, 0, rng.uniform(0, 500)]), 2)

    # Table 三: pick results and carry-forward per column, then split the sum into new + carried
    # so that 一 + 二 = 三（七） + 四 holds for every column (R1).
    for col in spec.sets.get("applicants", ()):
        handled = 0
        for row in spec.sets.get("results", ()):
            v = count() if rng.random() < 0.4 else 0
            values[f"t3.{row}.{col}"] = v
            handled += v
        carry_next = rng.randint(0, 2) if rng.random() < 0.3 else 0
        values[f"t3.carry_next.{col}"] = carry_next
        total = handled + carry_next
        carried = rng.randint(0, min(total, 3))
        values[f"t3.carried.{col}"] = carried
        values[f"t3.new.{col}"] = total - carried

    # Table 四: any outcomes; totals are computed.
    for dp in spec.datapoints.values():
        if dp.table == "t4" and not dp.computed:
            values[dp.id] = rng.choice([0, 0, 0, 1, 2])

    return spec.compute(values)
