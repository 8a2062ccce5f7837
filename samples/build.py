"""Build the sample returned workbooks of the fictional 青禾县 (deterministic: same bytes each run).

    python samples/build.py          (or: make samples)

returned/2025/  this year's files, as units send them back: most clean, some with the mistakes
                county offices see every year (see CASES); 市场监督管理局 has not reported.
returned/2024/  last year's files of the same units, for the cross-year checks (--previous).
published/      获嘉县徐营镇 2024, built from the figures of the published report in
                shared/examples/published/xuying-2024.txt (every figure in its tables is 0).
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from workbook_tools import spec as spec_module  # noqa: E402
from workbook_tools import synth, template  # noqa: E402
from workbook_tools.files import atomic_write  # noqa: E402
from workbook_tools.roster import Unit, file_name, normalise_kind  # noqa: E402

YEAR = 2025
SELF = {"乡镇": "我镇", "街道": "我街道", "部门": "我局"}


def texts(unit: Unit) -> dict[str, str]:
    we = SELF.get(unit.kind, "我单位")
    return {
        "s1.overview": f"{YEAR}年，{we}认真贯彻《中华人民共和国政府信息公开条例》，扎实推进政务公开各项工作。",
        "s1.proactive": f"{we}通过县政府门户网站和政务公开栏，及时公开财政预决算、惠民政策、重点项目等信息。",
        "s1.on_request": f"{we}严格按照规定的程序和时限办理政府信息公开申请，做到依法答复、规范答复。",
        "s1.management": "严格落实公开前保密审查，动态更新政府信息公开目录。",
        "s1.platform": "加强政府网站信息公开专栏维护，确保内容准确、更新及时。",
        "s1.oversight": "将政务公开纳入年度考核，组织业务培训两次。",
        "s5.problems": "公开内容的解读还不够深入，群众参与互动的渠道偏少。",
        "s5.improvements": "下一步将加强政策解读，丰富公开形式，拓展互动渠道。",
        "s6.fees": f"{YEAR}年度{we}未向申请人收取信息处理费。",
        "s6.other": "",
    }


def values_for(spec, unit: Unit) -> dict:
    values = synth.consistent_values(spec, random.Random(f"{unit.code}-{YEAR}"), unit.kind)
    for col in spec.sets["applicants"]:  # no applications closed for unpaid fees: none charged
        values[f"t3.granted.{col}"] += values[f"t3.other_unpaid.{col}"]
        values[f"t3.other_unpaid.{col}"] = 0
    return spec.compute(values)


def _r1_broken(spec, unit, values, data):
    changed = dict(values, **{"t3.new.natural": values["t3.new.natural"] + 3})
    return template.render(spec, unit, YEAR, values=spec.compute(changed), texts=texts(unit))


def _total_typed_over(spec, unit, values, data):
    return synth.type_over_formula(data, "表三 依申请公开", "J9", values["t3.granted.total"] + 5)


def _text_in_counts(spec, unit, values, data):
    changed = dict(
        values,
        **{
            "t2.licensing.decisions": f"{values['t2.licensing.decisions']}件",
            "t4.review.upheld": "若干",
        },
    )
    return template.render(spec, unit, YEAR, values=changed, texts=texts(unit))


def _old_template(spec, unit, values, data):
    data = synth.set_meta(data, "format_revision", "0")
    return synth.set_meta(
        data, "spec_hash", "5e0b7c35e3a1d5f0c2b6a7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f901234"
    )


def _section_six_empty(spec, unit, values, data):
    return template.render(spec, unit, YEAR, values=values, texts={**texts(unit), "s6.fees": ""})


# unit code -> how this year's file goes wrong
CASES = {
    "102": _r1_broken,
    "103": _total_typed_over,
    "104": _text_in_counts,
    "105": _old_template,
    "106": _section_six_empty,
}
MISSING = {"207"}  # has not reported this year


def last_year(spec, unit: Unit, this: dict) -> dict:
    last = synth.previous_year(spec, this)
    if unit.code == "202":  # last year's report carried one more application forward
        last["t3.carry_next.natural"] += 1
        last["t3.new.natural"] += 1
    if unit.code == "204":  # licensing decisions jumped from 12 to far more this year
        last["t2.licensing.decisions"] = 12
    return spec.compute(last)


def roster() -> list[Unit]:
    with (HERE / "roster.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [Unit(r["单位名称"], r["单位代码"], normalise_kind(r["单位类型"]) or "") for r in rows]


def build(out: Path = HERE) -> list[Path]:
    spec = spec_module.load()
    written = []
    for folder in ("returned/2025", "returned/2024", "published"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for unit in roster():
        values = values_for(spec, unit)
        if unit.code == "204":
            values = spec.compute(dict(values, **{"t2.licensing.decisions": 300}))
        last = last_year(spec, unit, values)
        path = out / "returned/2024" / file_name(unit, YEAR - 1)
        atomic_write(
            path, template.render(spec, unit, YEAR - 1, values=last, texts=_last_texts(unit))
        )
        written.append(path)
        if unit.code in MISSING:
            continue
        data = template.render(spec, unit, YEAR, values=values, texts=texts(unit))
        if unit.code in CASES:
            data = CASES[unit.code](spec, unit, values, data)
        path = out / "returned/2025" / file_name(unit, YEAR)
        atomic_write(path, data)
        written.append(path)
    xuying = Unit("获嘉县徐营镇", "", "乡镇")
    zeros = spec.compute({i: 0 for i in spec.inputs})
    path = out / "published" / file_name(xuying, 2024)
    atomic_write(path, template.render(spec, xuying, 2024, values=zeros, texts=_xuying_texts()))
    written.append(path)
    return written


def _last_texts(unit: Unit) -> dict[str, str]:
    return {k: v.replace(str(YEAR), str(YEAR - 1)) for k, v in texts(unit).items()}


def _xuying_texts() -> dict[str, str]:
    """Short texts of our own wording: the figures come from the published report, its prose
    stays there."""
    return {
        "s1.proactive": "依法通过门户网站和统一平台主动公开政府信息。",
        "s1.on_request": "2024年我镇未收到政府信息公开申请。",
        "s1.management": "规范政府信息管理，做好重点领域信息公开。",
        "s1.platform": "用好政府信息公开平台和政务公开栏。",
        "s1.oversight": "明确领导责任，加强培训和监督。",
        "s5.problems": "公开渠道和形式有待拓展。",
        "s5.improvements": "拓展公开渠道，加强宣传培训。",
        "s6.fees": "2024年度未向申请人收取信息处理费。",
    }


if __name__ == "__main__":
    for p in build():
        print(p.relative_to(HERE))
