"""The template writer's output, byte for byte, against digests recorded from a known-good writer.

The writer is refactored and optimised independently of what it writes; these digests show that a
change to how it writes leaves every byte of every kind of workbook the same. When a change is
meant to alter the output, look at the difference (the failing message names the parts that
changed), then record the new digests with ``python -m tests.test_template_golden``.

The digests depend on xlsxwriter's own output, so they are recorded with its version; another
version is a skip with the reason, never a silent pass.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest
import xlsxwriter

from workbook_tools import spec as spec_module
from workbook_tools import template
from workbook_tools.roster import Unit

from . import workbooks

GOLDEN = Path(__file__).parent / "data" / "template_golden.json"


def _cases() -> dict[str, bytes]:
    """Every kind of workbook the writer makes: blank and filled, zh and en, both formats, a
    feedback workbook with marks and comments, a password."""
    s21 = spec_module.load()
    s19 = spec_module.load("gov_disclosure_2019")
    values = workbooks.base_values(s21)
    broken = dict(values, **{"t3.new.natural": values["t3.new.natural"] + 3})
    feedback = template.Feedback(
        marks={
            "t3.new.natural": ("error", "[R1] 第一项加第二项不等于总计加第四项"),
            "t2.licensing.decisions": ("warning", "[V106] 数字带单位"),
            "s6.fees": ("warning", "[N3] 第六部分未说明信息处理费"),
            "info.phone": ("error", "[V101] 未填写"),
        },
        rows=[
            template.FeedbackRow("error", "R1", "t3.new.natural", "表三!D7", "总计不平"),
            template.FeedbackRow("warning", "N3", "s6.fees", "文字部分!B20", "未说明信息处理费"),
            template.FeedbackRow("error", "F103", None, "a.xlsx", "文件损坏"),
        ],
    )
    return {
        "blank_zh": template.render(s21, Unit("徐营镇", "101", "乡镇"), 2024),
        "blank_en_department": template.render(
            s21, Unit("县财政局", "", "部门"), 2025, lang="en", password="secret"
        ),
        "blank_no_kind": template.render(s21, Unit("某单位"), 2025),
        "blank_2019": template.render(s19, Unit("城关镇", "102", "乡镇"), 2019),
        "filled": template.render(
            s21,
            workbooks.UNIT,
            workbooks.YEAR,
            values=values,
            texts=workbooks.TEXTS,
            info={"contact": "张三", "phone": "0371-1234567", "date": date(2025, 1, 15)},
        ),
        "feedback": template.render(
            s21,
            workbooks.UNIT,
            workbooks.YEAR,
            values=dict(broken, **{"t2.licensing.decisions": "12件"}),
            texts=dict(workbooks.TEXTS, **{"s6.fees": ""}),
            feedback=feedback,
        ),
        "feedback_en_empty": template.render(
            s21,
            workbooks.UNIT,
            workbooks.YEAR,
            lang="en",
            values=values,
            feedback=template.Feedback({}, []),
        ),
    }


def _digest(data: bytes) -> dict[str, str]:
    parts = {"": hashlib.sha256(data).hexdigest()}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in sorted(z.namelist()):
            parts[name] = hashlib.sha256(z.read(name)).hexdigest()[:16]
    return parts


def _record() -> dict:
    return {
        "xlsxwriter": xlsxwriter.__version__,
        "cases": {name: _digest(data) for name, data in _cases().items()},
    }


def test_writer_output_is_byte_for_byte_the_recorded_one():
    golden = json.loads(GOLDEN.read_text("utf-8"))
    if golden["xlsxwriter"] != xlsxwriter.__version__:
        pytest.skip(
            f"digests recorded with xlsxwriter {golden['xlsxwriter']}, "
            f"installed {xlsxwriter.__version__}: record them again"
        )
    now = _record()["cases"]
    assert set(now) == set(golden["cases"])
    changed = {
        case: sorted(p for p in parts if p and golden["cases"][case].get(p) != parts[p])
        for case, parts in now.items()
        if parts[""] != golden["cases"][case][""]
    }
    assert not changed, f"workbook bytes changed (case: parts): {changed}"


def test_the_cases_differ_from_each_other():
    """Each case exercises something the others do not (else a case could hide a change)."""
    golden = json.loads(GOLDEN.read_text("utf-8"))
    whole = [parts[""] for parts in golden["cases"].values()]
    assert len(set(whole)) == len(whole)


if __name__ == "__main__":  # record the digests
    GOLDEN.write_text(json.dumps(_record(), indent=1, sort_keys=True) + "\n", "utf-8")
    sys.stdout.write(f"recorded {GOLDEN}\n")
