"""The one registry of finding codes, and the finding record itself.

Every problem wbtools reports, in data or in its own inputs (spec, roster, paths), is a coded
finding. The tool's own codes are declared here; the consistency rules (R1, W1, ...) are declared
in the format spec and joined to this registry at run time (see ``all_codes``), so a province's
spec with extra rules gets codes without code changes.

Code letters: S = format spec, U = unit roster, O = output paths. Later stages add their own
letters here, in this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spec import Spec


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    def label(self, lang: str = "zh") -> str:
        return _SEVERITY_LABELS[self][0 if lang == "zh" else 1]


_SEVERITY_LABELS = {
    Severity.ERROR: ("错误", "error"),
    Severity.WARNING: ("警告", "warning"),
    Severity.NOTE: ("提示", "note"),
}


@dataclass(frozen=True, slots=True)
class Code:
    """One entry of the registry. Messages end with what the user should do."""

    code: str
    name: str
    severity: Severity
    zh: str
    en: str


def _c(code: str, name: str, severity: Severity, zh: str, en: str) -> Code:
    return Code(code, name, severity, zh, en)


E, W = Severity.ERROR, Severity.WARNING

# fmt: off
CODES: dict[str, Code] = {c.code: c for c in [
    _c("S101", "spec-unreadable", E,
       "格式定义文件无法读取：{detail}。请检查路径和文件内容（UTF-8 编码的 YAML）。",
       "The format spec cannot be read: {detail}. Check the path and that it is UTF-8 YAML."),
    _c("S102", "spec-invalid", E,
       "格式定义文件有误：{detail}。请按提示修改该文件后重试。",
       "The format spec is malformed: {detail}. Fix the file as indicated and try again."),
    _c("U101", "roster-unreadable", E,
       "单位名册无法读取：{detail}。请提供带表头行的 CSV 或 Excel（.xlsx）名册。",
       "The unit roster cannot be read: {detail}. Provide a CSV or Excel (.xlsx) roster with a header row."),
    _c("U102", "roster-no-name-column", E,
       "单位名册缺少单位名称列（表头应为“单位名称”或“name”），现有表头：{headers}。请在第一行加上表头。",
       "The roster has no unit-name column (header “单位名称” or “name”); its headers are: {headers}. Add the header row."),
    _c("U103", "roster-empty-name", E,
       "单位名称为空。请填写名称或删除该行。",
       "The unit name is empty. Fill it in or delete the row."),
    _c("U104", "roster-duplicate-unit", E,
       "单位“{name}”在名册中出现多次（第{rows}行）。每个单位只能出现一次，请删除重复行。",
       "Unit “{name}” appears more than once in the roster (rows {rows}). List each unit once."),
    _c("U105", "roster-unsafe-name", E,
       "“{name}”含有不能用于文件名的字符或片段（{bad}）。请改用规范的单位全称或代码。",
       "“{name}” contains characters that cannot be used in a file name ({bad}). Use the unit's proper name or code."),
    _c("U106", "roster-unknown-kind", E,
       "单位类型“{kind}”无法识别。请填写以下之一：{accepted}，或留空。",
       "Unit kind “{kind}” is not recognised. Use one of: {accepted}, or leave it empty."),
    _c("U107", "roster-empty", E,
       "单位名册中没有任何单位。请在表头行下逐行填写单位。",
       "The roster lists no units. Add one unit per row below the header row."),
    _c("U108", "roster-duplicate-code", E,
       "单位代码“{code}”在名册中出现多次（第{rows}行）。每个单位的代码应唯一，请更正。",
       "Unit code “{code}” appears more than once in the roster (rows {rows}). Codes must be unique."),
    _c("U109", "unit-invalid", E,
       "单位或年度不合规：{detail}。请更正后重试。",
       "Invalid unit or year: {detail}. Correct it and try again."),
    _c("O101", "output-is-input", E,
       "输出路径“{path}”就是输入文件，wbtools 从不覆盖输入。请换一个输出路径。",
       "The output path “{path}” is one of the inputs; wbtools never overwrites an input. Choose another output path."),
    _c("O102", "output-unwritable", E,
       "无法写入“{path}”：{detail}。请检查目录是否存在以及写入权限。",
       "Cannot write “{path}”: {detail}. Check that the folder exists and is writable."),
    _c("O103", "output-kind-mismatch", E,
       "输出路径“{path}”{detail}。按名册生成时 -o 应为目录；单个单位时 -o 应为 .xlsx 文件。",
       "The output path “{path}” {detail}. With --roster, -o is a folder; for one unit, -o is an .xlsx file."),
]}
# fmt: on


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, with where it is. Immutable; messages are rendered on demand."""

    code: str
    args: dict[str, Any] = field(default_factory=dict, hash=False)
    file: str | None = None
    sheet: str | None = None
    cell: str | None = None
    datapoint: str | None = None
    line: int | None = None  # a line of a text input (roster row, published report line)
    severity: Severity | None = None  # None: the registry's severity for the code

    def entry(self, spec: Spec | None = None) -> Code:
        return all_codes(spec)[self.code]

    def level(self, spec: Spec | None = None) -> Severity:
        return self.severity or self.entry(spec).severity

    def message(self, lang: str = "zh", spec: Spec | None = None) -> str:
        entry = self.entry(spec)
        template = entry.zh if lang == "zh" else entry.en
        return template.format_map(_Lenient(self.args))

    def location(self, lang: str = "zh") -> str:
        """Where the problem is, for people: file, then line or sheet and cell."""
        parts = [self.file] if self.file else []
        if self.line is not None:
            parts.append(f"第{self.line}行" if lang == "zh" else f"line {self.line}")
        if self.sheet:
            parts.append(f"{self.sheet}!{self.cell}" if self.cell else self.sheet)
        elif self.cell:
            parts.append(self.cell)
        return " ".join(parts)


class _Lenient(dict):
    """Format mapping that leaves an unknown placeholder visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Failure(Exception):
    """Raised when a command cannot proceed at all (exit code 2); carries every finding."""

    def __init__(self, findings: list[Finding]):
        super().__init__("; ".join(f.message("en") for f in findings))
        self.findings = findings


def fail(code: str, **args: Any) -> Failure:
    return Failure([Finding(code, args)])


def all_codes(spec: Spec | None = None) -> dict[str, Code]:
    """The registry: the tool's own codes plus the rule codes of ``spec`` (if given)."""
    if spec is None:
        return CODES
    merged = dict(CODES)
    for rule in spec.rules:
        merged[rule.code] = Code(
            rule.code, rule.name.en, rule.severity, rule.message.zh, rule.message.en
        )
    return merged
