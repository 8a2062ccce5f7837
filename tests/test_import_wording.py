"""How a check of an imported workbook names what the text did not have (I104): the rows by
their labels, one row without “from … to”, and a table whose row has no label of its own (表四)
by the table alone, not “from 表四 to 表四”."""

from __future__ import annotations

import json

from workbook_tools.findings import Finding, row_span

from .conftest import run

PUBLISHED = "examples/published"


def test_a_table_missing_whole_is_not_named_as_its_own_row(shared_dir, tmp_path):
    text = (shared_dir / PUBLISHED / "xuying-2024.txt").read_text("utf-8")
    cut = tmp_path / "xuying_cut.txt"
    cut.write_text(text[: text.index("四、政府信息公开行政复议")], "utf-8")
    out = tmp_path / "cut.xlsx"
    imported = run("import", cut, "-o", out)
    assert out.exists(), imported.output
    for lang in ("zh", "en"):
        checked = run("check", out, "--format", "json", "--lang", lang)
        findings = json.loads(checked.output)["files"][0]["findings"]
        i104 = [f for f in findings if f["code"] == "I104"]
        assert len(i104) == 1 and i104[0]["args"]["table"].startswith("表四"), findings
        message = i104[0]["message"]
        assert message.count("表四") == 1, message  # the table, not its own row twice
        assert "至" not in message and " to " not in message, message


def test_rows_missing_are_named_by_their_labels():
    def message(rows, lang="zh"):
        args = {"table": "表三", "count": len(rows), "first": rows[0], "last": rows[-1]}
        return Finding("I104", {**args, **row_span(rows, "表三")}).message(lang)

    one = message(["（三）不予公开"])
    assert "“（三）不予公开”" in one and "至" not in one
    several = message(["1.属于国家秘密", "8.属于行政查询事项"])
    assert "“1.属于国家秘密”至“8.属于行政查询事项”" in several
    assert "“1.属于国家秘密” to “8.属于行政查询事项”" in message(
        ["1.属于国家秘密", "8.属于行政查询事项"], "en"
    )
    assert "“" not in message(["表三"]) and "“" not in message(["表三"], "en")
