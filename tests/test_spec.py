"""The 2021 format spec: counts, labels against FORMAT.md and a published report, loader errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from workbook_tools import spec as spec_module
from workbook_tools.findings import Failure

from .conftest import HEADINGS


def test_counts_match_the_official_format(spec21):
    by_table = {t.id: 0 for t in spec21.tables}
    for dp in spec21.datapoints.values():
        by_table[dp.table] += 1
    assert by_table == {"t2": 10, "t3": 175, "t4": 15}
    computed = {d.id for d in spec21.datapoints.values() if d.computed}
    assert len([c for c in computed if c.startswith("t3.")]) == 25 + 7 - 1
    assert {c for c in computed if c.startswith("t4.")} == {
        "t4.review.total",
        "t4.direct.total",
        "t4.after_review.total",
    }
    assert [r.code for r in spec21.rules] == ["R1", "R2", "R3", "R4", "R5", "W1", "W2"]
    assert spec21.types["amount_wan"].kind == "decimal"
    assert spec21.datapoints["t2.fees.amount"].type == "amount_wan"


def test_six_sections_with_exact_headings(spec21):
    assert [s.heading for s in spec21.sections] == HEADINGS
    s1 = spec21.sections[0]
    assert [f.label for f in s1.fields if f.required] == [
        "（一）主动公开",
        "（二）依申请公开",
        "（三）政府信息管理",
        "（四）政府信息公开平台建设",
        "（五）监督保障",
    ]
    assert [f.label for f in spec21.sections[4].fields] == [
        "（一）存在的主要问题",
        "（二）改进情况",
    ]
    assert any("信息处理费" in f.label for f in spec21.sections[5].fields if f.required)


def _table3_rows_from_format_md(text: str) -> list[str]:
    """The level-3 row labels of table 三 as FORMAT.md lists them (joined by ' · ')."""
    labels = []
    for line in text.splitlines():
        if line.startswith("| ") and "1." in line and " · " in line:
            cell = line.split("|")[4].strip()
            labels += [part.strip() for part in cell.split(" · ")]
    return labels


def test_table3_leaf_labels_equal_format_md(spec21, shared_dir):
    text = (shared_dir / "FORMAT.md").read_text(encoding="utf-8")
    expected = _table3_rows_from_format_md(text)
    block = spec21.table("t3").blocks[0]
    leaves = [leaf.label for path, leaf in block.row_leaves() if len(path) == 3]
    assert leaves == expected and len(leaves) == 19


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_table_label_appears_in_order_in_a_published_report(spec21, shared_dir):
    """Labels, read in layout order, occur in the same order in xuying-2024.txt."""
    from workbook_tools import layout

    published = _squash((shared_dir / "examples/published/xuying-2024.txt").read_text("utf-8"))
    lay = layout.build(spec21)
    position = 0
    for table in spec21.tables:
        for label in sorted(lay.tables[table.id].labels, key=lambda lab: (lab.row, lab.col)):
            found = published.find(_squash(label.text), position)
            assert found >= 0, f"{table.id}: {label.text!r} not found after offset {position}"
            position = found


def test_labels_use_official_punctuation(spec21):
    labels = [lab for dp in spec21.datapoints.values() for _, lab in dp.row_labels + dp.col_labels]
    assert "3.危及“三安全一稳定”" in labels
    assert all("(" not in lab and ")" not in lab for lab in labels)
    assert "本年收费金额（单位：万元）" in labels


def test_rule_instances_cover_every_column_row_and_group(spec21):
    assert len(spec21.rule("R1").instances) == 7
    assert len(spec21.rule("R2").instances) == 25
    assert len(spec21.rule("R3").instances) == 7
    assert len(spec21.rule("R4").instances) == 3
    r5_cells = [c for i in spec21.rule("R5").instances for c in i.cells]
    assert sorted(r5_cells) == sorted(spec21.inputs)
    assert spec21.rule("W2").instances[0].when_kinds == ("乡镇", "街道", "部门")


def test_totals_are_ordered_by_dependency(spec21):
    seen = set()
    for target, sources in spec21.totals:
        for s in sources:
            if spec21.datapoints[s].computed:
                assert s in seen, f"{target} is computed before {s}"
        seen.add(target)
    assert len(seen) == 34


def test_bundled_spec_is_found_through_the_package(spec21):
    path = spec_module.bundled_path()
    assert path.is_file() and path.name == "gov_disclosure_2021.yaml"
    assert "gov_disclosure_2021" in spec_module.bundled_names()
    assert spec_module.load("gov_disclosure_2021").hash == spec21.hash


def _bundled_data() -> dict:
    return yaml.safe_load(spec_module.bundled_path().read_text(encoding="utf-8"))


def _dump(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _break(data: dict, how: str) -> None:
    t3 = data["tables"][1]
    rules = {r["code"]: r for r in data["rules"]}
    if how == "duplicate-key":
        t3["blocks"][0]["rows"][1]["key"] = "new"
    elif how == "unknown-set":
        rules["R1"]["each"] = {"c": "no_such_set"}
    elif how == "bad-expression":
        rules["R1"]["check"] = "t3.new.{c} = t3.carried.{c}"
    elif how == "unknown-datapoint":
        rules["R1"]["check"] = "t3.nwe.{c} == t3.carried.{c}"
    elif how == "unbound-placeholder":
        rules["R1"]["check"] = "t3.new.{q} == t3.carried.{c}"
    elif how == "undefined-total":
        data["rules"].remove(rules["R4"])
    elif how == "defines-input":
        rules["W1"]["defines"] = True
        rules["W1"]["check"] = "t2.{r}.issued == t2.{r}.in_force"
    elif how == "missing-label":
        del t3["blocks"][0]["rows"][0]["label"]
    elif how == "bad-type":
        t3["blocks"][0]["type"] = "money"
    elif how == "bad-column-type":
        data["tables"][0]["blocks"][0]["columns"][0]["type"] = "money"
    elif how == "row-type":
        t3["blocks"][0]["rows"][0]["type"] = "count"
    elif how == "bad-severity":
        rules["W2"]["severity"] = "fatal"
    elif how == "unknown-kind":
        rules["W2"]["when"] = {"unit_kind": ["村"]}
    elif how == "width-mismatch":
        data["tables"][0]["blocks"][1]["columns"][0]["span"] = 2
    elif how == "bad-sheet-name":
        data["tables"][0]["sheet"] = "表二/主动公开"
    elif how == "not-a-mapping":
        data.clear()
    else:
        raise AssertionError(how)


BREAKS = {
    "duplicate-key": "declared twice",
    "unknown-set": "unknown set 'no_such_set'",
    "bad-expression": "expected exactly one of",
    "unknown-datapoint": "'t3.nwe.natural'",
    "unbound-placeholder": "not bound by 'each': q",
    "undefined-total": "computed cells with no defining rule: t4.review.total",
    "defines-input": "which is an input cell",
    "missing-label": "needs a 'label'",
    "bad-type": "unknown type 'money'",
    "bad-column-type": "unknown type 'money'",
    "row-type": "only a column has a 'type'",
    "bad-severity": "must be error or warning",
    "unknown-kind": "unknown unit kind '村'",
    "width-mismatch": "width differs",
    "bad-sheet-name": "sheet name",
    "not-a-mapping": "missing 'format'",
}


@pytest.mark.parametrize("how", sorted(BREAKS))
def test_malformed_spec_is_rejected_with_the_problem_named(tmp_path, how):
    data = _bundled_data()
    _break(data, how)
    with pytest.raises(Failure) as caught:
        spec_module.load(_dump(tmp_path, data))
    (finding,) = caught.value.findings
    assert finding.code == "S102"
    assert BREAKS[how] in finding.message("en"), finding.message("en")


def test_a_column_has_its_own_type_where_it_differs_from_its_block():
    """The 2019 format's 第二十条第（九）项 counts procurement projects (a whole number) beside
    their amount in 万元: one block, two types. A number of projects is no amount."""
    s19 = spec_module.load("gov_disclosure_2019")
    projects, amount = "t2.procurement.projects", "t2.procurement.amount"
    assert (s19.datapoints[projects].type, s19.kinds[projects]) == ("count", "integer")
    assert (s19.datapoints[amount].type, s19.kinds[amount]) == ("amount_wan", "decimal")
    from workbook_tools import rules

    (rule,) = [inst for _, inst in s19.instances() if inst.op == "type" and projects in str(inst)]

    def passes(values):
        return rules.holds(rule, values, s19.kinds, None)

    assert passes({projects: 3, amount: 2.5})
    assert not passes({projects: 2.5, amount: 3})  # half a project


def test_cyclic_totals_are_rejected(tmp_path):
    data = _bundled_data()
    rules = {r["code"]: r for r in data["rules"]}
    # R3 also defines the total row from itself through the total column.
    rules["R3"]["check"] = "t3.total.{c} == t3.total.{c} + sum(t3.{x}.{c} for x in results)"
    with pytest.raises(Failure) as caught:
        spec_module.load(_dump(tmp_path, data))
    assert "depend on themselves" in caught.value.findings[0].message("en")


def test_unreadable_spec_files(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(Failure) as caught:
        spec_module.load(missing)
    assert caught.value.findings[0].code == "S101"
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: [unclosed\n", encoding="utf-8")
    with pytest.raises(Failure) as caught:
        spec_module.load(broken)
    assert caught.value.findings[0].code == "S101"


def test_a_users_own_spec_file_loads(tmp_path):
    data = _bundled_data()
    data["format"]["name"] = "某省政府信息公开工作年度报告"
    loaded = spec_module.load(_dump(tmp_path, data))
    assert loaded.name == "某省政府信息公开工作年度报告"


def test_hash_covers_structure_not_wording(tmp_path):
    """Rewording a message must not make templates in circulation 'old'; changing a label must."""
    current = spec_module.load().hash
    data = _bundled_data()
    data["rules"][0]["message"]["zh"] = "改写后的说明。"
    data["types"]["count"]["hint"]["zh"] = "改写后的提示。"
    assert spec_module.load(_dump(tmp_path, data)).hash == current
    data["tables"][1]["blocks"][0]["rows"][0]["label"] = "一、本年新收申请数量"
    (tmp_path / "spec.yaml").unlink()
    assert spec_module.load(_dump(tmp_path, data)).hash != current
