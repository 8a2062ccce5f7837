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
import itertools
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


# Phrases each unit's text is made of: units pick differently, so their texts differ as real ones
# do; 西湖街道 copies 东关街道's problems section word for word (N5 in the merge).
PHRASES = {
    "s1.overview": [
        "认真贯彻《中华人民共和国政府信息公开条例》",
        "坚持以公开为常态、不公开为例外",
        "围绕中心工作推进政务公开",
        "把政务公开纳入重要议事日程",
        "健全政务公开工作机制",
    ],
    "s1.proactive": [
        "及时公开财政预决算信息",
        "重点公开惠民惠农政策落实情况",
        "主动公开重大建设项目进展",
        "做好规范性文件的集中公开",
        "公开行政许可和行政处罚结果",
        "更新机构职能和办事指南",
    ],
    "s1.on_request": [
        "严格按照法定时限办理申请",
        "完善依申请公开的登记、审核和答复流程",
        "对申请人提出的疑问耐心解答",
        "规范答复文书的格式和用语",
        "建立申请办理台账",
    ],
    "s1.management": [
        "落实公开前保密审查",
        "动态更新政府信息公开目录",
        "开展规范性文件清理",
        "做好公开属性源头认定",
        "规范信息发布审核流程",
    ],
    "s1.platform": [
        "维护政府网站信息公开专栏",
        "用好政务新媒体发布信息",
        "在便民服务大厅设置查阅点",
        "更新村务公开栏内容",
        "完善公开平台检索功能",
    ],
    "s1.oversight": [
        "将政务公开纳入年度考核",
        "组织业务培训",
        "开展社会评议",
        "落实责任追究制度",
        "定期通报工作进展",
    ],
    "s5.problems": [
        "政策解读不够深入",
        "群众参与互动渠道偏少",
        "部分信息更新不够及时",
        "工作人员业务水平有待提高",
        "公开形式较为单一",
    ],
    "s5.improvements": [
        "加强政策解读",
        "丰富公开形式",
        "拓展互动渠道",
        "加强业务培训",
        "建立更新提醒机制",
    ],
}


def texts(unit: Unit) -> dict[str, str]:
    we = SELF.get(unit.kind, "我单位")
    index = int(unit.code) % 97
    out = {}
    for k, pool in PHRASES.items():
        combos = list(itertools.combinations(pool, 3))
        picked = combos[(index * 7 + len(k)) % len(combos)]  # units get different combinations
        out[k] = f"{YEAR}年，{unit.name}（{we}）" + "；".join(picked) + "，取得了较好成效。"
    out["s6.fees"] = f"{YEAR}年度{we}未向申请人收取信息处理费。"
    out["s6.other"] = ""
    if unit.code == "106":  # copied from 东关街道
        out["s5.problems"] = texts(Unit("青禾县东关街道", "105", "街道"))["s5.problems"]
    return out


def values_for(spec, unit: Unit) -> dict:
    values = synth.consistent_values(
        spec, random.Random(f"{unit.code or unit.name}-{YEAR}"), unit.kind
    )
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
RESUBMITTED = "201"  # sent again after a correction: two files for one unit
SAVED_LATER = "2026-01-20T09:30:00Z"


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
        if unit.code == RESUBMITTED:
            fixed = template.render(
                spec,
                unit,
                YEAR,
                values=values,
                texts={**texts(unit), "s6.other": "已按县政府办要求修改后重新报送。"},
            )
            fixed = synth.edit_part(
                fixed,
                "docProps/core.xml",
                lambda xml: xml.replace(
                    b"2026-01-01T00:00:00Z</dcterms:modified>",
                    SAVED_LATER.encode() + b"</dcterms:modified>",
                ),
            )
            path = out / "returned/2025" / (Path(file_name(unit, YEAR)).stem + "（修改后）.xlsx")
            atomic_write(path, fixed)
            written.append(path)
        if unit.code == "203":  # last year's file sent again by mistake
            path = out / "returned/2025" / file_name(unit, YEAR - 1)
            atomic_write(
                path, template.render(spec, unit, YEAR - 1, values=last, texts=_last_texts(unit))
            )
            written.append(path)
    # A file from a unit not on the roster (its name mistyped on a template made by hand).
    stray = Unit("青禾县城关真", "", "乡镇")
    path = out / "returned/2025" / file_name(stray, YEAR)
    atomic_write(
        path,
        template.render(
            spec,
            stray,
            YEAR,
            values=values_for(spec, stray),
            texts=texts(Unit(stray.name, "108", "乡镇")),
        ),
    )
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
