"""Generated templates read back with openpyxl: layout, locking, validation, names, formulas."""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, range_boundaries

from workbook_tools import layout, normalise, rules, template
from workbook_tools.roster import Unit

from .conftest import TOWNSHIP


@pytest.fixture(scope="module")
def lay(spec21):
    return layout.build(spec21)


@pytest.fixture(scope="module")
def cached_book(template_bytes):
    return openpyxl.load_workbook(io.BytesIO(template_bytes), data_only=True)


def _rc(coord: str) -> tuple[int, int]:
    col, row = coordinate_from_string(coord)
    return row - 1, column_index_from_string(col) - 1


def test_sheets_and_metadata(template_book, spec21):
    assert template_book.sheetnames == [
        "填报说明",
        "基本信息",
        "表二 主动公开",
        "表三 依申请公开",
        "表四 复议诉讼",
        "文字部分",
        "校验结果",
        "_meta",
    ]
    meta = template_book["_meta"]
    assert meta.sheet_state == "veryHidden"
    assert all(ws.sheet_state == "visible" for ws in template_book if ws.title != "_meta")
    recorded = {r[0].value: r[1].value for r in meta.iter_rows()}
    assert recorded["format_id"] == spec21.format_id
    assert recorded["format_version"] == "2021"
    assert recorded["spec_hash"] == spec21.hash
    assert (recorded["unit"], recorded["code"], recorded["kind"], recorded["year"]) == (
        "徐营镇",
        "101",
        "乡镇",
        "2024",
    )


@pytest.mark.parametrize("table_id", ["t2", "t3", "t4"])
def test_labels_and_merges_equal_the_spec(template_book, lay, table_id):
    tl = lay.tables[table_id]
    ws = template_book[tl.sheet]
    expected_merges = set()
    for label in tl.labels:
        assert ws.cell(label.row + 1, label.col + 1).value == label.text
        if label.merged:
            expected_merges.add((label.row, label.col, label.last_row, label.last_col))
    for place in tl.cells.values():
        if place.last_col is not None:
            expected_merges.add((place.row, place.col, place.row, place.last_col))
    in_table = set()
    for rng in ws.merged_cells.ranges:
        c1, r1, c2, r2 = range_boundaries(str(rng))
        if layout.TABLE_TOP <= r1 - 1 <= tl.bottom and c2 - 1 < tl.width:
            in_table.add((r1 - 1, c1 - 1, r2 - 1, c2 - 1))
    assert in_table == expected_merges


def _merge_at(ws, coord):
    for rng in ws.merged_cells.ranges:
        if rng.coord.startswith(coord + ":"):
            return rng.coord
    return None


def test_table3_header_is_the_official_one(template_book):
    """FORMAT.md §3: a 3x3 corner with the 勾稽 note, 申请人情况 over 7 columns, and so on."""
    ws = template_book["表三 依申请公开"]
    assert ws["A4"].value.startswith("（本列数据的勾稽关系为")
    assert _merge_at(ws, "A4") == "A4:C6"
    assert (ws["D4"].value, _merge_at(ws, "D4")) == ("申请人情况", "D4:J4")
    assert (ws["D5"].value, _merge_at(ws, "D5")) == ("自然人", "D5:D6")
    assert (ws["E5"].value, _merge_at(ws, "E5")) == ("法人或其他组织", "E5:I5")
    assert [ws.cell(6, c).value for c in range(5, 10)] == [
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
    ]
    assert (ws["J5"].value, _merge_at(ws, "J5")) == ("总计", "J5:J6")
    assert (ws["A9"].value, _merge_at(ws, "A9")) == ("三、本年度办理结果", "A9:A30")
    assert (ws["B11"].value, _merge_at(ws, "B11")) == ("（三）不予公开", "B11:B18")
    assert (ws["B30"].value, _merge_at(ws, "B30")) == ("（七）总计", "B30:C30")
    assert (ws["A31"].value, _merge_at(ws, "A31")) == ("四、结转下年度继续办理", "A31:C31")


def test_table4_header_is_the_official_one(template_book):
    ws = template_book["表四 复议诉讼"]
    assert (ws["A4"].value, _merge_at(ws, "A4")) == ("行政复议", "A4:E4")
    assert (ws["F4"].value, _merge_at(ws, "F4")) == ("行政诉讼", "F4:O4")
    assert (ws["A5"].value, _merge_at(ws, "A5")) == ("结果维持", "A5:A6")
    assert (ws["F5"].value, _merge_at(ws, "F5")) == ("未经复议直接起诉", "F5:J5")
    assert (ws["K5"].value, _merge_at(ws, "K5")) == ("复议后起诉", "K5:O5")
    assert [ws.cell(6, c).value for c in range(6, 16)] == [
        "结果维持",
        "结果纠正",
        "其他结果",
        "尚未审结",
        "总计",
    ] * 2


def _input_places(spec21, lay):
    places = {lay.place(i) for i in spec21.inputs}
    places |= {lay.place(f"info.{f.id}") for f in spec21.info if not f.prefilled}
    places |= {lay.place(f.id) for f in spec21.fields}
    # A merged input (table 二's value cells span 3 columns) is one input over its whole span.
    return {(p.sheet, p.row, c) for p in places for c in range(p.col, (p.last_col or p.col) + 1)}


def test_inputs_unlocked_everything_else_locked(template_book, spec21, lay):
    inputs = _input_places(spec21, lay)
    assert (
        len(inputs) == 166 + 4 * 2 + 4 + 10
    )  # table inputs (4 span 3 columns), contact, narrative
    unlocked = set()
    for ws in template_book:
        for row in ws.iter_rows():
            for cell in row:
                if not cell.protection.locked:
                    unlocked.add((ws.title, cell.row - 1, cell.column - 1))
    assert unlocked == inputs


def test_sheets_and_workbook_structure_protected(template_book, template_bytes):
    assert template_book.security.lockStructure
    for ws in template_book:
        assert ws.protection.sheet, ws.title
        assert not ws.protection.formatRows  # False means "allowed": rows may be resized
    with zipfile.ZipFile(io.BytesIO(template_bytes)) as z:
        assert b'<workbookProtection lockStructure="1"/>' in z.read("xl/workbook.xml")


def test_password_protects_sheets_and_structure(spec21):
    data = template.render(spec21, TOWNSHIP, 2024, password="qh2025")
    book = openpyxl.load_workbook(io.BytesIO(data))
    from workbook_tools.files import legacy_password_hash

    expected = legacy_password_hash("qh2025")
    assert book.security.workbookPassword == expected
    assert book["表三 依申请公开"].protection.password == expected  # same hash xlsxwriter writes


def test_validation_on_every_numeric_input(template_book, spec21, lay):
    for dp_id in spec21.inputs:
        place = lay.place(dp_id)
        ws = template_book[place.sheet]
        matches = [dv for dv in ws.data_validations.dataValidation if place.a1 in dv.sqref]
        assert len(matches) == 1, dp_id
        dv = matches[0]
        kind = spec21.kinds[dp_id]
        assert dv.type == ("whole" if kind == "integer" else "decimal"), dp_id
        assert (dv.operator, dv.formula1) == ("greaterThanOrEqual", "0")
        assert dv.showErrorMessage and "0" in dv.error
        assert "请填写" in dv.prompt


def test_defined_names_resolve_to_the_right_cells(template_book, lay, spec21):
    names = template_book.defined_names
    assert len(names) == len(lay.places)
    for key, place in lay.places.items():
        (sheet, ref), *_ = list(names[template.defined_name(key)].destinations)
        assert sheet == place.sheet and _rc(ref.replace("$", "")) == (place.row, place.col), key
    assert "dp_t3_new_natural" in names and "chk_R1_natural" in names and "info_unit" in names


def _refs_in(formula: str, lay, sheet: str) -> set[str]:
    """Datapoint ids referenced by a formula (ranges expanded)."""
    by_cell = {(p.sheet, p.row, p.col): k for k, p in lay.places.items()}
    found = set()
    for ref in re.findall(r"\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?", formula):
        c1, r1, c2, r2 = ref
        c2, r2 = c2 or c1, r2 or r1
        for r in range(int(r1), int(r2) + 1):
            for c in range(column_index_from_string(c1), column_index_from_string(c2) + 1):
                found.add(by_cell[(sheet, r - 1, c - 1)])
    return found


def test_total_formulas_sum_exactly_the_declared_cells(template_book, spec21, lay):
    for target, sources in spec21.totals:
        place = lay.place(target)
        formula = template_book[place.sheet].cell(place.row + 1, place.col + 1).value
        assert formula.startswith("=SUM("), target
        assert _refs_in(formula, lay, place.sheet) == set(sources), target


def test_live_checks_are_compiled_from_the_rules(template_book, spec21, lay):
    count = 0
    for _, inst in spec21.instances():
        place = lay.place(f"check.{inst.key}")
        ws = template_book[place.sheet]
        kind_ref = lay.place("info.kind").ref(place.sheet, absolute=True)
        expected = rules.excel_check(
            inst,
            lambda ids, s=place.sheet: lay.refs(ids, s),
            spec21.kinds,
            kind_ref,
            normalise.excel_readable,  # text the checker reads with a warning is no R5
        )
        assert ws.cell(place.row + 1, place.col + 1).value == expected, inst.key
        count += 1
    assert count == 76


def test_blank_template_caches_zero_totals_and_passing_checks(cached_book, spec21, lay):
    for target, _ in spec21.totals:
        p = lay.place(target)
        assert cached_book[p.sheet].cell(p.row + 1, p.col + 1).value == 0
    for _, inst in spec21.instances():
        p = lay.place(f"check.{inst.key}")
        assert cached_book[p.sheet].cell(p.row + 1, p.col + 1).value == rules.PASS
    # Blank is unfinished, not passing: the cached status counts what is empty.
    empty = len(spec21.inputs) + sum(1 for f in spec21.fields if f.required)
    assert cached_book["校验结果"]["C5"].value == empty
    assert cached_book["校验结果"]["C6"].value == f"未完成：还有 {empty} 处未填写（数字无则填0）"


def test_prefilled_values_cache_their_totals_and_failures(spec21, lay):
    values = {"t3.new.natural": 3, "t3.granted.natural": 2}  # 3 new, 2 handled: R1 fails
    data = template.render(spec21, TOWNSHIP, 2024, values=values)
    book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    ws = book["表三 依申请公开"]
    assert ws[lay.place("t3.new.total").a1].value == 3
    assert ws[lay.place("t3.total.natural").a1].value == 2
    assert ws[lay.place("check.R1[natural]").a1].value == rules.FAIL
    assert ws[lay.place("check.R1[commercial]").a1].value == rules.PASS
    assert book["校验结果"]["C3"].value == 2  # R1[natural] and R1[total]


def test_narrative_starting_with_equals_stays_text(spec21, lay):
    hostile = '=HYPERLINK("http://example.invalid","x")'
    data = template.render(spec21, TOWNSHIP, 2024, texts={"s6.fees": hostile})
    book = openpyxl.load_workbook(io.BytesIO(data))
    cell = book["文字部分"][lay.place("s6.fees").a1]
    assert cell.value == hostile and cell.data_type == "s"


def test_same_inputs_give_identical_bytes(spec21, template_bytes):
    assert template.render(spec21, TOWNSHIP, 2024) == template_bytes
    assert template.render(spec21, Unit("徐营镇", "101", "街道"), 2024) != template_bytes
    with zipfile.ZipFile(io.BytesIO(template_bytes)) as z:
        core = z.read("docProps/core.xml").decode()
    assert "2025-01-01T00:00:00Z" in core


def test_formula_cache_writes_what_xlsxwriter_would(spec21, template_bytes, monkeypatch):
    """The prepared-formula cache is an optimisation only: without it the bytes are the same."""
    from xlsxwriter.worksheet import Worksheet

    monkeypatch.setattr(
        template.formulas.CachedFormulas, "_prepare_formula", Worksheet._prepare_formula
    )
    assert template.render(spec21, TOWNSHIP, 2024) == template_bytes


def _without_formula_shortcut(monkeypatch) -> None:
    """xlsxwriter's own formula preparation for every formula (no cache, no shortcut)."""
    from xlsxwriter.worksheet import Worksheet

    monkeypatch.setattr(
        template.formulas.CachedFormulas, "_prepare_formula", Worksheet._prepare_formula
    )


@pytest.mark.parametrize("name", ["gov_disclosure_2021", "gov_disclosure_2019"])
def test_filled_templates_of_every_format_are_what_xlsxwriter_writes(name, monkeypatch):
    from workbook_tools import spec as spec_module

    spec = spec_module.load(name)
    values = {d: i % 7 for i, d in enumerate(spec.inputs)}
    texts = {f.id: "本年度收到申请5件，MAP(1) 与 LAMBDA(x) 照写。" for f in spec.fields}
    outputs = []
    for _ in range(2):
        outputs.append(
            [
                template.render(spec, Unit("徐营镇", "101", kind), 2024, values=values, texts=texts)
                for kind in ("乡镇", "部门")
            ]
        )
        _without_formula_shortcut(monkeypatch)
    assert outputs[0] == outputs[1]


def test_a_formula_calling_a_newer_function_is_still_prefixed():
    from xlsxwriter.worksheet import Worksheet

    plain = Worksheet()
    for formula in (
        '=IF(A1="乡镇",SUM(B1:B3),0)',
        "=SUM(A1)+XLOOKUP(1,A1:A2,B1:B2)",
        '=IF(A1="MAP(",1,0)',
        "=ISNUMBER(A1)*_xlfn.SINGLE(B1)",
        "{=SUM(A1:A3)}",
        "=SUM(A1)+Z.SUM(B1)",
        '"全部通过"',
        "SUM(A1:A3)",
        "=(A1+B1)*2",
    ):
        for future in (False, True):
            expected = Worksheet._prepare_formula(plain, formula, future)
            assert template.formulas._prepared(formula, future) == expected


def _xlsxwriter_rewrites() -> list[tuple[bool, list[str]]]:
    """Every rewrite in xlsxwriter's formula preparation, as (starts at a word boundary, the
    name's characters: a letter, or '.' / '\\S' for any one character)."""
    import inspect

    from xlsxwriter.worksheet import Worksheet

    source = inspect.getsource(Worksheet._prepare_formula)
    patterns = re.findall(r're\.sub\(\s*r"([^"]*)"', source)
    assert len(patterns) > 100, "xlsxwriter's formula preparation changed: review formulas.py"
    out = []
    for pattern in patterns:
        assert pattern.endswith("\\("), pattern
        body = pattern[:-2]
        boundary = body.startswith("\\b")
        body = body[2:] if boundary else body
        elements = re.findall(r"\\S|[A-Z0-9.]", body)
        assert "".join(elements) == body, f"a rewrite of a form not reasoned about: {pattern}"
        out.append((boundary, elements))
    return out


def test_the_functions_formulas_leave_alone_are_never_rewritten_by_xlsxwriter():
    """A formula whose calls are all PLAIN_FUNCTIONS skips xlsxwriter's ~150 regexes. Sound if
    no rewrite can match text ending in ``c + name + "("``, where ``name`` is the whole run of
    name characters before the parenthesis and ``c`` is anything else (or nothing)."""

    def fits(element: str, char: str) -> bool:
        return element in (".", "\\S") or element == char

    for name in template.formulas.PLAIN_FUNCTIONS:
        for boundary, elements in _xlsxwriter_rewrites():
            n, k = len(name), len(elements)
            tail = elements[k - min(n, k) :]
            if not all(map(fits, tail, name[n - len(tail) :])):
                continue  # the name's last characters are not the rewrite's
            if k < n:
                # inside the name: a word boundary cannot fall between two name characters
                assert boundary, (name, elements)
            elif k > n:
                # the character before the name is no name character: only "any" fits it
                assert elements[k - n - 1] not in (".", "\\S"), (name, elements)
            else:
                raise AssertionError(f"xlsxwriter rewrites {name}(")


def test_print_setup(template_book):
    for name, landscape in (
        ("表二 主动公开", False),
        ("表三 依申请公开", True),
        ("表四 复议诉讼", True),
    ):
        ws = template_book[name]
        assert ws.page_setup.paperSize == 9
        assert (ws.page_setup.orientation == "landscape") == landscape
        # One page wide, as many tall as needed (fitToWidth 1 is the default, so it is omitted).
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
        assert ws.print_area
    assert template_book["表三 依申请公开"].print_title_rows == "$4:$6"


def test_english_template_keeps_official_labels(spec21):
    book = openpyxl.load_workbook(io.BytesIO(template.render(spec21, TOWNSHIP, 2024, lang="en")))
    assert "Fill only the yellow cells" in " ".join(str(c.value) for c in book["填报说明"]["B"])
    assert book["表三 依申请公开"]["D4"].value == "申请人情况"
    assert book["_meta"]["B9"].value == "en"
