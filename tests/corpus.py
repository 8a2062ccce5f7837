"""The import scorer: every case of the corpus imported and compared with its hand-typed truth.

A case is an input file and its expected result. Two sources of cases:

* ``../shared/examples/published/expected_t3_t4.json``: real published reports (表三 and 表四), one
  entry per file; a file whose kind cannot be imported yet is listed as skipped.
* ``tests/import_cases/*.json``: fixtures in our own words reproducing real layouts with their real
  figures. Adding a case is one file: ``{"file": "<input beside it>", "unit": …, "year": …,
  "kind": …, "t2": {"<row>": [..]}, "t3": {"<row>": [7 values]}, "t4": [15 values]}``. Row keys of
  表三 are the official order's keys (``一``, ``(三)1`` …, see ``T3_ROWS``); 表二's are the row ids
  of the spec (``rules``, ``normative``, ``licensing`` …). ``null`` is a cell that is blank in the
  text (not 0); a row or table that is not in the text (cut off) is simply absent. A case in the
  2019 trial format says ``"format": "gov_disclosure_2019"`` (its 表二 rows are that spec's, and
  its one （六）其他处理 row is ``(六)``).

Scoring, per value: expected number and the same number imported → correct; another number →
wrong; nothing → missed. Expected blank or absent and a number imported → invented. A traceback is
counted per case. ``python -m tests.corpus`` prints the table and the totals.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WBTOOLS_SHARED") or ROOT.parent / "shared")
PUBLISHED = SHARED / "examples" / "published"
CASES = ROOT / "tests" / "import_cases"

T3_ROWS = {  # the official order of 表三's rows → the spec's row ids
    "一": "new",
    "二": "carried",
    "(一)": "granted",
    "(二)": "partial",
    "(三)1": "deny_secret",
    "(三)2": "deny_law",
    "(三)3": "deny_safety",
    "(三)4": "deny_third_party",
    "(三)5": "deny_internal",
    "(三)6": "deny_process",
    "(三)7": "deny_enforcement",
    "(三)8": "deny_inquiry",
    "(四)1": "unable_absent",
    "(四)2": "unable_create",
    "(四)3": "unable_unclear",
    "(五)1": "reject_complaint",
    "(五)2": "reject_repeat",
    "(五)3": "reject_publication",
    "(五)4": "reject_mass",
    "(五)5": "reject_confirm",
    "(六)1": "other_no_correction",
    "(六)2": "other_unpaid",
    "(六)3": "other_other",
    "(六)": "other",  # the 2019 trial format's one row
    "(七)": "total",
    "四": "carry_next",
}
T3_COLUMNS = ("natural", "commercial", "research", "nonprofit", "legal", "other", "total")
T4 = [
    f"t4.{group}.{col}"
    for group in ("review", "direct", "after_review")
    for col in ("upheld", "corrected", "other", "pending", "total")
]


@dataclass
class Case:
    name: str
    path: Path
    expected: dict[str, float | None]  # datapoint id → number, or None for a blank cell
    unit: str | None = None
    year: int | None = None
    kind: str | None = None
    spec: object = None  # the format the case is in, when not the default (``"format"`` key)


@dataclass
class Score:
    case: Case
    correct: int = 0
    wrong: list[tuple[str, object, object]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    invented: list[tuple[str, object]] = field(default_factory=list)
    unit: str = ""
    year: int | None = None
    kind: str = ""
    crash: str = ""
    skipped: str = ""
    misnamed: list[str] = field(default_factory=list)  # unit or year not as the truth says


def expected_values(entry: dict, spec) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, row in (entry.get("t3") or {}).items():
        rid = T3_ROWS.get(key, key)
        for col, v in zip(T3_COLUMNS, row, strict=True):
            out[f"t3.{rid}.{col}"] = v
    if entry.get("t4") is not None:
        out.update(zip(T4, entry["t4"], strict=True))
    for rid, row in (entry.get("t2") or {}).items():
        ids = [d for d in spec.datapoints if d.startswith(f"t2.{rid}.")]
        out.update(zip(ids, row, strict=True))
    return out


def cases(spec) -> list[Case]:
    from workbook_tools import spec as spec_module

    found: list[Case] = []
    truth = PUBLISHED / "expected_t3_t4.json"
    if truth.is_file():
        for name, entry in json.loads(truth.read_text(encoding="utf-8")).items():
            if not name.startswith("_"):
                found.append(Case(name, PUBLISHED / name, expected_values(entry, spec)))
    for path in sorted(CASES.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        own = spec_module.load(entry["format"]) if entry.get("format") else None
        found.append(
            Case(
                path.stem,
                path.parent / entry["file"],
                expected_values(entry, own or spec),
                entry.get("unit"),
                entry.get("year"),
                entry.get("kind"),
                own,
            )
        )
    return found


def score(case: Case, spec) -> Score:
    from workbook_tools import importer

    spec = case.spec or spec
    result = Score(case)
    if case.path.suffix.lower() not in importer.IMPORTABLE:
        result.skipped = f"{case.path.suffix} not importable"
        return result
    try:
        filing = importer.read(case.path, spec)
    except Exception:
        result.crash = traceback.format_exc(limit=-3)
        return result
    result.unit, result.year, result.kind = filing.unit, filing.year, filing.kind
    for what, want, got in (
        ("unit", case.unit, filing.unit or None),
        ("year", case.year, filing.year),
    ):
        if case.path.parent != PUBLISHED and want != got:
            result.misnamed.append(f"{what} {got!r} (expected {want!r})")
    got = {d: v for d, v in filing.values.items() if d not in filing.missing}
    for dp_id in spec.datapoints:
        if not dp_id.startswith(("t2.", "t3.", "t4.")):
            continue
        value = got.get(dp_id)
        if dp_id in case.expected and case.expected[dp_id] is not None:
            want = case.expected[dp_id]
            if value is None:
                result.missed.append(dp_id)
            elif value == want:
                result.correct += 1
            else:
                result.wrong.append((dp_id, want, value))
        elif value is not None and _checked(case, dp_id):
            result.invented.append((dp_id, value))
    return result


def _checked(case: Case, dp_id: str) -> bool:
    """A value is invented when the truth says the cell is blank or the row is absent; a shared
    file's truth covers only 表三 and 表四."""
    if dp_id in case.expected:
        return True
    if case.path.parent == PUBLISHED:
        return not dp_id.startswith("t2.")
    return True


def run_all(spec) -> list[Score]:
    return [score(c, spec) for c in cases(spec)]


def render(scores: list[Score]) -> str:
    lines = [
        f"{'case':34} {'ok':>4} {'wrong':>5} {'missed':>6} {'invented':>8}  unit / year / kind",
    ]
    for s in scores:
        if s.skipped or s.crash:
            lines.append(
                f"{s.case.name:34} {'SKIPPED: ' + s.skipped if s.skipped else 'TRACEBACK'}"
            )
            continue
        lines.append(
            f"{s.case.name:34} {s.correct:>4} {len(s.wrong):>5} {len(s.missed):>6} "
            f"{len(s.invented):>8}  {s.unit or '-'} / {s.year or '-'} / {s.kind or '-'}"
        )
        for dp_id, want, got in s.wrong:
            lines.append(f"    wrong    {dp_id}: {got} (expected {want})")
        for dp_id, got in s.invented:
            lines.append(f"    invented {dp_id}: {got}")
        for text in s.misnamed:
            lines.append(f"    wrong    {text}")
    done = [s for s in scores if not s.skipped]
    total = (
        f"TOTAL {len(done)} cases: correct {sum(s.correct for s in done)}, "
        f"wrong {sum(len(s.wrong) for s in done)}, missed {sum(len(s.missed) for s in done)}, "
        f"invented {sum(len(s.invented) for s in done)}, "
        f"unit/year wrong {sum(len(s.misnamed) for s in done)}, tracebacks "
        f"{sum(1 for s in done if s.crash)}; unit found {sum(1 for s in done if s.unit)}, "
        f"year found {sum(1 for s in done if s.year)}; skipped {len(scores) - len(done)}"
    )
    return "\n".join([*lines, total])


if __name__ == "__main__":
    from workbook_tools import spec as spec_module

    print(render(run_all(spec_module.load())))
    sys.exit(0)
