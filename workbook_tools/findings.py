"""The one registry of finding codes, and the finding record itself.

Every problem wbtools reports, in data or in its own inputs (spec, roster, paths), is a coded
finding. The tool's own codes are declared here; the consistency rules (R1, W1, ...) are declared
in the format spec and joined to this registry at run time (see ``all_codes``), so a province's
spec with extra rules gets codes without code changes.

Code letters: S = format spec, U = unit roster, O = output paths, F = the file itself (cannot be
read), T = tampering and template versions, V = values normalised while reading, D and N = narrative,
X = against last year, I = importing published reports, P = the collection portal. The rule codes
(R, W) come from the spec.
"""

from __future__ import annotations

from collections import namedtuple
from enum import StrEnum

from .record import Record
from .safe_text import terminal

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Spec(Protocol):
        """What the registry needs of a format spec: its rules, each with code, name, severity
        and message. (A protocol, not the spec module's class: the spec imports this registry.)"""

        @property
        def rules(self) -> Any: ...


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


class Code(
    namedtuple(
        "Code",
        (
            "code",  # str
            "name",  # str
            "severity",  # Severity
            "zh",  # str
            "en",  # str
        ),
    )
):
    """One entry of the registry. Messages end with what the user should do."""

    __slots__ = ()


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
    _c("U110", "roster-formula-name", E,
       "单位名称或代码“{name}”以公式符号（= + - @）开头，在 Excel 中会被当作公式。请更正。",
       "Unit name or code “{name}” starts with a formula character (= + - @) and would be a formula in Excel. Correct it."),
    _c("U111", "roster-invisible-character", E,
       "单位名称或代码“{name}”含不可见或改变文字方向的字符（{char}），会使两个单位看起来相同。请删除后重试。",
       "Unit name or code “{name}” contains an invisible or direction-changing character ({char}) that makes two units look alike. Remove it."),
    _c("U112", "roster-stray-quote", E,
       "名册第{line}行有未配对的引号，后面的行被合并进了同一格。请删除或配对引号后重试。",
       "An unpaired quote on line {line} of the roster merges the following lines into one cell. Remove or pair it."),
    # F: the file itself (nothing in it can be checked)
    _c("F101", "file-missing", E,
       "文件不存在。请检查路径。",
       "The file does not exist. Check the path."),
    _c("F102", "not-a-workbook", E,
       "不是 Excel 工作簿（扩展名 {suffix}，内容不是 .xlsx/.xls/.ods）。请用 Excel 或 WPS 打开后“另存为”.xlsx 格式再报送。",
       "Not an Excel workbook (suffix {suffix}, content is not .xlsx/.xls/.ods). Open it in Excel or WPS and save it as .xlsx."),
    _c("F103", "corrupt", E,
       "文件已损坏或不完整（{detail}）。请重新保存或重新发送完整的文件。",
       "The file is damaged or truncated ({detail}). Save it again or send the complete file."),
    _c("F104", "encrypted", E,
       "文件设置了打开密码（{detail}），无法读取。请取消密码后重新报送。",
       "The file is protected with a password to open ({detail}) and cannot be read. Remove the password and send it again."),
    _c("F105", "wrong-document", E,
       "这是 {found} 文档而不是 Excel 工作簿（可能改了扩展名）。请报送填好的 Excel 模板。",
       "This is a {found} document, not an Excel workbook (the extension was changed). Send the filled Excel template."),
    _c("F106", "too-large", E,
       "文件异常巨大或压缩异常（{detail}），为安全起见未读取。请检查是否发错文件。",
       "The file is implausibly large or compressed ({detail}) and was not read, for safety. Check that it is the right file."),
    _c("F107", "xml-entities", E,
       "文件内部含有实体声明（{part}），可能是恶意构造的文件，未读取。请用 Excel 重新保存后报送。",
       "The file declares XML entities ({part}), which can be an attack; it was not read. Save it again with Excel."),
    _c("F108", "sheet-too-large", E,
       "工作表“{sheet}”声明的范围过大（{ref}），未读取。请删除多余的行列后重新保存。",
       "Sheet “{sheet}” claims a huge range ({ref}) and was not read. Delete the extra rows and columns and save again."),
    _c("F109", "empty-file", E,
       "文件是空的（0 字节）。请重新发送。",
       "The file is empty (0 bytes). Send it again."),
    _c("F110", "unreadable", E,
       "文件无法读取（{detail}）。请用 Excel 或 WPS 打开检查后另存为 .xlsx 再报送。",
       "The file cannot be read ({detail}). Open it in Excel or WPS, check it, and save it as .xlsx."),
    _c("F111", "not-this-report", E,
       "这不是本年报的填报模板（{detail}）。请使用下发的模板填报。",
       "This is not the annual report template ({detail}). Use the template that was sent out."),
    _c("F112", "reader-died", E,
       "读取此文件的进程异常终止（{detail}），未能检查；其余文件已照常检查。请用 Excel 或 WPS 打开检查后另存为 .xlsx 再报送。",
       "The process reading this file died ({detail}); it was not checked, the other files were. Open it in Excel or WPS, check it, and save it as .xlsx."),
    _c("F113", "not-a-file", E,
       "这不是可读取的文件：{zh}。请指定报送的工作簿文件。",
       "This is not a file that can be read: {en}. Name the returned workbook file."),
    _c("F114", "archive", E,
       "这是压缩包（{found}），不是工作簿。请解压后报送（或检查）其中的工作簿。",
       "This is an archive ({found}), not a workbook. Unpack it and send (or check) the workbook inside."),
    _c("F115", "workbook-not-report", E,
       "这是工作簿（电子表格），不是已公开的年报（可能改了扩展名）。报送的工作簿请直接用 wbtools check 校验，无需导入。",
       "This is a workbook (a spreadsheet), not a published report (the extension may have been changed). Check a returned workbook with wbtools check directly; it needs no import."),
    # T: tampering and template versions
    _c("T101", "metadata-missing", W,
       "文件中没有模板元数据（可能复制到了新文件中），已按标签查找表格。请使用下发的模板填报。",
       "The template's metadata is missing (the content was probably copied into a new file); the tables were found by their labels. Use the template that was sent out."),
    _c("T102", "metadata-mismatch", E,
       "“基本信息”中的{field}为“{found}”，与模板预填的“{meta}”不一致。请勿修改预填内容，或使用本单位的模板。",
       "The basic information says {field} “{found}” but the template was made for “{meta}”. Do not change prefilled fields; use your own unit's template."),
    _c("T103", "old-template", W,
       "模板版本（{found}）不是当前版本（{current}），已按标签查找表格。请改用最新下发的模板。",
       "The template version ({found}) is not the current one ({current}); the tables were found by their labels. Use the latest template."),
    _c("T104", "label-changed", E,
       "标签被修改：应为“{expected}”，实际为“{found}”。请勿修改表格标签，恢复原文字。",
       "A label was changed: expected “{expected}”, found “{found}”. Do not edit labels; restore the original text."),
    _c("T105", "layout-changed", E,
       "{table}的表格位置被改动（应在 {expected}，实际在此处）：可能插入或删除了行列。请使用原模板重新填写。",
       "The layout of {table} was changed (expected at {expected}, found here): rows or columns were inserted or deleted. Refill the original template."),
    _c("T106", "protection-removed", W,
       "工作表保护已被取消（{sheets}）。请使用原模板填报，不要取消保护。",
       "Sheet protection was removed ({sheets}). Use the original template without removing protection."),
    _c("T107", "formula-overwritten", W,
       "“{where}”应为自动合计公式，但被手工填写为 {value}。请恢复公式（使用原模板），不要手工填写合计。",
       "“{where}” should be a total formula but a number ({value}) was typed over it. Restore the formula (use the original template)."),
    _c("T108", "stale-total", W,
       "“{where}”保存的合计为 {value}，按各项重新计算应为 {expected}：文件保存时未重新计算。请在 Excel/WPS 中打开后按 F9 重新计算并保存。",
       "“{where}” holds the total {value}, but the items add up to {expected}: the file was saved without recalculating. Open it, recalculate (F9) and save."),
    _c("T109", "no-cached-values", Severity.NOTE,
       "有 {count} 个合计公式没有保存计算结果（文件由不计算公式的程序保存），已按各项重新计算。无需处理。",
       "{count} total formulas have no saved result (the file was saved by a program that does not calculate); they were recomputed. Nothing to do."),
    _c("T112", "table-missing", E,
       "文件中找不到{table}。请使用下发的模板完整填报该表，不要删除工作表。",
       "{table} was not found in the file. Fill that table in the template; do not delete sheets."),
    _c("T113", "rows-missing", E,
       "{table}中找不到以下行或列：{labels}。请使用下发的模板，不要删除行列或修改标签。",
       "{table} lacks these rows or columns: {labels}. Use the template; do not delete rows or columns or edit labels."),
    # V: values normalised (warnings where the meaning is certain)
    _c("V101", "blank", E,
       "“{where}”未填写。无则填0，不要留空。",
       "“{where}” is blank. Enter 0 for none; do not leave it empty."),
    _c("V102", "table-blank", E,
       "{table}全部未填写。请填写该表，无则填0。",
       "{table} is entirely blank. Fill it in; enter 0 for none."),
    _c("V103", "none-mark", W,
       "“{where}”填的是“{value}”，已按0计。请直接填0。",
       "“{where}” holds “{value}”, taken as 0. Enter 0 instead."),
    _c("V104", "number-as-text", W,
       "“{where}”的“{value}”是文本格式的数字，已按数字读取。请改为纯数字（如 12）。",
       "“{where}”: “{value}” is a number stored as text; it was read as a number. Enter a plain number (such as 12)."),
    _c("V105", "full-width-digits", W,
       "“{where}”的“{value}”使用了全角数字，已按半角数字读取。请改为纯数字（如 12）。",
       "“{where}”: “{value}” uses full-width digits; they were read as ordinary digits. Enter a plain number (such as 12)."),
    _c("V106", "number-with-unit", W,
       "“{where}”的“{value}”带有单位，已只取数字。请改为纯数字（如 12）。",
       "“{where}”: “{value}” includes a unit; only the number was taken. Enter a plain number (such as 12)."),
    _c("V107", "thousands-separator", W,
       "“{where}”的“{value}”带有千位分隔符，已按数字读取。请改为纯数字（如 12）。",
       "“{where}”: “{value}” has thousands separators; it was read as a number. Enter a plain number (such as 12)."),
    # D, N: the narrative (N1–N4 as in FORMAT.md; warnings that quote the sentence)
    _c("D101", "narrative-empty", W,
       "“{field}”未填写。请在“文字部分”如实填写该部分内容。",
       "“{field}” is empty. Write this part on the 文字部分 sheet."),
    _c("N1", "narrative-number", W,
       "文字中“{what}”为{stated}件，与表格不一致（{tables}）：“{sentence}”。请核对文字或表格。",
       "The text states {stated} for “{what}”, which disagrees with the tables ({tables}): “{sentence}”. Check the text or the tables."),
    _c("N2", "narrative-no-applications", W,
       "文字与表三矛盾（表三本年新收加上年结转为{count}件）：“{sentence}”。请核对。",
       "The text contradicts table 三 (new plus carried-over applications: {count}): “{sentence}”. Please check."),
    _c("N3", "fee-statement", W,
       "第六部分的信息处理费说明有问题：{detail}（“{sentence}”）。请写明是否收取信息处理费及收费通知、金额情况。",
       "Section 六's statement on 信息处理费 needs attention: {detail} (“{sentence}”). State whether fees were charged, with notices and amounts."),
    _c("N4", "narrative-name-year", W,
       "文字中出现“{found}”，与本报告（{expected}）不符，可能沿用了其他单位或往年的文字：“{sentence}”。请核对。",
       "The text mentions “{found}”, which is not this report's ({expected}); it may be copied from another unit or year: “{sentence}”. Please check."),
    _c("N5", "narrative-copied", W,
       "“{a}”与“{b}”的“{field}”内容高度雷同（相似度 {score}）。请各自如实撰写本单位的情况，避免照抄。",
       "“{field}” of “{a}” and “{b}” are nearly identical (similarity {score}). Each unit should describe its own work, not copy."),
    _c("N6", "narrative-reused", Severity.NOTE,
       "“{a}”的“{field}”与本单位{year}年报告的文字基本相同（沿用上年文字，相似度 {score}）。如本年情况有变化，请据实更新。",
       "“{field}” of “{a}” is nearly the same as the unit's own {year} report (text reused from last year, similarity {score}). Update it where this year differs."),
    # X: against last year's filing of the same unit (--previous)
    _c("X1", "carry-over-mismatch", W,
       "“{where}”为{now}，但上年报告的结转下年度继续办理为{then}，两者应相等。请核对。",
       "“{where}” is {now} but last year's report carried {then} forward; they should be equal. Please check."),
    _c("X2", "in-force-mismatch", W,
       "“{where}”为{now}，按上年现行有效{then}加本年制发减本年废止应为{expected}。请核对。",
       "“{where}” is {now}; last year's {then} in force plus issued minus repealed gives {expected}. Please check."),
    _c("X3", "year-on-year-jump", W,
       "“{where}”由上年的{then}变为{now}，变化超过5倍。请确认数字无误。",
       "“{where}” went from {then} last year to {now}, a change of more than 5 times. Please confirm the figure."),
    # I: importing a published report (text, HTML, Word)
    _c("I101", "title-not-found", W,
       "文中找不到“××单位××年政府信息公开工作年度报告”式的标题，单位或年度未能识别。请在导入后的工作簿中补填。",
       "No title like “<unit><year>年政府信息公开工作年度报告” was found; the unit or year is unknown. Fill them in the imported workbook."),
    _c("I102", "section-missing", W,
       "文中找不到“{heading}”部分（可能被截断或标题写法不同）。该部分的内容未导入。",
       "The section “{heading}” is not in the text (cut off, or headed differently); it was not imported."),
    _c("I103", "table-missing", E,
       "文中找不到{table}（可能是图片或被截断）。该表作缺失处理，不按0计。",
       "{table} is not in the text (an image, or cut off); it is treated as missing, not as zeros."),
    _c("I104", "rows-missing", E,
       "{table}中有 {count} 行在文中找不到（{rows}可能被截断），作缺失处理，不按0计。请核对原文。",
       "{table}: {count} row(s) not in the text ({rows}perhaps cut off); treated as missing, not as zeros. Check the source."),
    _c("I105", "values-missing", E,
       "“{row}”一行只有 {found} 个数，应为 {expected} 个；缺少的作缺失处理。请核对原文。",
       "Row “{row}” has {found} values where {expected} belong; the missing ones are treated as missing. Check the source."),
    _c("I107", "format-2019", Severity.NOTE,
       "表二使用的是2019年试行格式（本年新制作数量等），已按试行格式导入。",
       "Table 二 uses the 2019 trial format (本年新制作数量 …); it was imported in that format."),
    _c("I106", "year-not-found", E,
       "文中找不到报告年度（标题、统计期限、正文和文件名中都没有）。请用 --year 指定年度后重新导入。",
       "The report's year is not in the text (not in the title, the statistics period, the text or the file name). Give it with --year and import again."),
    _c("I108", "year-inferred", Severity.NOTE,
       "标题中没有年度，报告年度 {year} 取自{source}。请核对。",
       "The title has no year; the year {year} was taken from {source_en}. Please check."),
    _c("I109", "cells-split", Severity.NOTE,
       "“{row}”一行的数字连在一起（“{text}”），已按列数和合计关系拆分为 {split}。请核对原文。",
       "Row “{row}” has its figures run together (“{text}”); they were split by the column count and the row's sums as {split}. Check the source."),
    _c("I110", "cells-ambiguous", E,
       "“{row}”一行的数字连在一起（“{text}”），有多种拆分方式（{candidates}），无法确定，作缺失处理。请核对原文后手工填写。",
       "Row “{row}” has its figures run together (“{text}”) and more than one split fits ({candidates}); it is treated as missing. Fill it in by hand from the source."),
    _c("I111", "row-by-position", Severity.NOTE,
       "“{row}”一行的标签缺失或残缺（“{found}”），按其在前后两行之间的位置导入。请核对原文。",
       "Row “{row}” has a lost or damaged label (“{found}”); it was taken by its position between the rows found. Check the source."),
    _c("I112", "needs-program", E,
       "读取这种文件需要 {program}，本机未安装。请安装 LibreOffice（如 apt install libreoffice-writer-nogui），或用 Word/WPS 另存为 .docx 后导入。",
       "Reading this kind of file needs {program}, which is not installed. Install LibreOffice (e.g. apt install libreoffice-writer-nogui) or save it as .docx in Word/WPS and import that."),
    _c("I113", "other-as-one-row", Severity.NOTE,
       "表三的“{row}”印为一行，已按该组的合计导入；其下各项未知，作缺失处理，不作拆分。",
       "Table 三 prints “{row}” as one row; its figures were kept for the group, and its sub-rows are unknown (missing), not split."),
    _c("I114", "table-is-image", E,
       "{table}在文中是图片（{images}），无法读取数字，作缺失处理，不按0计。请按图片内容手工填写。",
       "{table} is an image in the text ({images}); its figures cannot be read and are treated as missing, not as zeros. Fill them in from the image."),
    _c("I115", "amount-in-yuan", Severity.NOTE,
       "“{where}”印的是“{value}”（元），已折算为 {number} 万元。请核对。",
       "“{where}” is printed as “{value}” (yuan); it was converted to {number} 万元 (10,000 yuan). Check it."),
    _c("I116", "report-headings-not-found", E,
       "文中找不到年报的任何一部分标题（“一、总体情况”至“六、其他需要报告的事项”），不像是政府信息公开工作年度报告的全文，未导入。请核对文件。",
       "No section heading of the annual report (“一、总体情况” to “六、其他需要报告的事项”) was found: this does not look like the full text of a government information disclosure annual report, and nothing was imported. Check the file."),
    _c("I117", "cells-merged", E,
       "“{row}”一行只印出 {found} 个数（{values}），应为 {expected} 个，其余单元格是合并的，无法确定各数属于哪一列，作缺失处理，不按位置猜测。请核对原文后手工填写。",
       "Row “{row}” prints {found} values ({values}) where {expected} belong, the other cells being merged: which column each value belongs to cannot be told, so the row is treated as missing rather than guessed by position. Fill it in by hand from the source."),
    _c("I118", "format-mixed", Severity.NOTE,
       "表二第（一）项的表头是2019年试行格式的（本年新制作数量、本年新公开数量、对外公开总数量），其余各项是2021年格式：已按2021年格式导入，该项的数字按列的顺序作为本年制发件数、本年废止件数、现行有效件数。请核对原文。",
       "Table 二's first block has the 2019 trial format's header (本年新制作数量, 本年新公开数量, 对外公开总数量) over the 2021 format's rows: the report was imported in the 2021 format, that block's figures taken in column order as 本年制发件数, 本年废止件数, 现行有效件数. Check the source."),
    # P: the collection portal (wbtools portal)
    _c("I120", "pdf-without-text", E,
       "PDF 没有文字层（共 {pages} 页，可能是扫描件或字体无法映射为文字），其中的文字和数字无法读取，未导入。请提供带文字层的 PDF、Word 或网页版本，或先用 OCR 识别。",
       "The PDF has no text layer ({pages} pages: a scan, or fonts that map to no characters); its text and figures cannot be read and nothing was imported. Use a PDF with a text layer, the Word or web version, or run OCR first."),
    _c("P101", "portal-exists", E,
       "“{path}”已经是一个收集平台的数据文件夹（或数据库中已有收集任务）。请换一个文件夹，或用 wbtools portal serve 启动它。",
       "“{path}” already holds a collection portal (or the database already holds a round). Choose another folder, or start it with wbtools portal serve."),
    _c("P102", "portal-missing", E,
       "“{path}”不是收集平台的数据文件夹（{detail}）。请先用 wbtools portal init 创建。",
       "“{path}” is not a portal data folder ({detail}). Create it first with wbtools portal init."),
    _c("P103", "database-unreachable", E,
       "无法使用数据库（{detail}）。请检查 --db 地址、用户名和密码，以及数据库服务是否已启动。",
       "The database cannot be used ({detail}). Check the --db URL, user and password, and that the database server is running."),
    _c("P104", "other-unit", E,
       "上传的是“{found}”的工作簿，不是本单位（{expected}）的。请下载本单位的模板填写后重新上传。",
       "This is the workbook of “{found}”, not of this unit ({expected}). Download your own unit's template, fill it in and upload it."),
    _c("P105", "other-year", E,
       "上传的是{found}年度的工作簿，本次收集的是{expected}年度。请下载本年度的模板填写后重新上传。",
       "This workbook is for {found}; this round collects {expected}. Download this year's template, fill it in and upload it."),
    _c("P106", "no-file", E,
       "没有收到文件。请选择要上传的工作簿后再提交。",
       "No file was received. Choose the workbook to upload, then send it."),
    _c("P107", "unknown-time-zone", E,
       "不认识时区“{zone}”。请使用 IANA 时区名，例如 Asia/Shanghai（北京时间）。",
       "Unknown time zone “{zone}”. Use an IANA time zone name such as Asia/Shanghai (China time)."),
    _c("P108", "too-many-attempts", E,
       "失败的尝试太多，已暂时锁定。请在 {minutes} 分钟后再试。",
       "Too many failed attempts: locked for now. Try again in {minutes} minutes."),
    _c("P109", "upload-too-slow", E,
       "上传没有在 {seconds} 秒内传完（或中途停顿太久），连接已断开，文件没有保存。请检查网络后重新上传；网络很慢而文件很大时，请平台管理员调大 --body-timeout。",
       "The upload did not arrive within {seconds} seconds (or stalled too long) and was cut off; nothing was kept. Check the connection and upload again; for a large file over a very slow line, ask the office to raise --body-timeout."),
    _c("P110", "portal-disk-full", E,
       "收集平台的磁盘空间不足，这次上传没有保存。请稍后重新上传，并告知主管部门：平台管理员需要清理磁盘（或把数据文件夹移到更大的磁盘）。",
       "The portal's disk is (nearly) full: this upload was not kept. Upload again later and tell the office: the administrator must free disk space (or move the data folder to a larger disk)."),
    _c("O101", "output-is-input", E,
       "输出路径“{path}”就是输入文件，wbtools 从不覆盖输入。请换一个输出路径。",
       "The output path “{path}” is one of the inputs; wbtools never overwrites an input. Choose another output path."),
    _c("O102", "output-unwritable", E,
       "无法写入“{path}”：{detail}。请检查目录是否存在以及写入权限。",
       "Cannot write “{path}”: {detail}. Check that the folder exists and is writable."),
    _c("O103", "output-kind-mismatch", E,
       "输出路径“{path}”{detail}。",
       "The output path “{path}” {detail}."),
    _c("O104", "output-exists", E,
       "“{path}”已存在，未覆盖（可能是单位交回的工作簿）。请换一个输出路径，或加 --force 覆盖。",
       "“{path}” already exists and was not replaced (it may be a returned workbook). Choose another output path, or add --force to replace it."),
]}
# fmt: on

# The remedy every “read with a warning” value code (V104–V107) ends with; the template's data
# validation says the same words, at the same severity (LENIENT), for a value typed that way.
PLAIN_NUMBER = {"zh": "请改为纯数字（如 12）。", "en": "Enter a plain number (such as 12)."}
LENIENT = max(
    (CODES[c].severity for c in ("V103", "V104", "V105", "V106", "V107")),
    key=[Severity.NOTE, Severity.WARNING, Severity.ERROR].index,
)


class Finding(Record):
    """One problem, with where it is. Immutable; messages are rendered on demand. (Written out
    rather than a frozen dataclass: see ``record``. Equal and hashed as that was: by its fields,
    ``args`` left out of the hash.)"""

    _fields = (
        "code",
        "args",
        "file",
        "sheet",
        "cell",
        "datapoint",
        "line",
        "severity",
        "cells",
        "datapoints",
    )
    __slots__ = _fields
    code: str
    args: dict[str, Any]
    file: str | None
    sheet: str | None
    cell: str | None
    datapoint: str | None
    line: int | None  # a line of a text input (roster row, published report line)
    severity: Severity | None  # None: the registry's severity for the code
    # Every cell of an equation (R1–R4, W1, X1, X2), the anchor first: ``sheet!A1`` addresses
    # and the datapoints they hold, so a clerk sees the whole row or column to look at.
    cells: tuple[str, ...]
    datapoints: tuple[str, ...]

    def __init__(
        self,
        code: str,
        args: dict[str, Any] | None = None,
        file: str | None = None,
        sheet: str | None = None,
        cell: str | None = None,
        datapoint: str | None = None,
        line: int | None = None,
        severity: Severity | None = None,
        cells: tuple[str, ...] = (),
        datapoints: tuple[str, ...] = (),
    ) -> None:
        put = object.__setattr__
        put(self, "code", code)
        put(self, "args", {} if args is None else args)
        put(self, "file", file)
        put(self, "sheet", sheet)
        put(self, "cell", cell)
        put(self, "datapoint", datapoint)
        put(self, "line", line)
        put(self, "severity", severity)
        put(self, "cells", cells)
        put(self, "datapoints", datapoints)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self._fields if n != "args"))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Finding, self._values())

    def replace(self, **changes: Any) -> Finding:
        """A copy with ``changes`` (as ``dataclasses.replace``)."""
        return Finding(**{**{n: getattr(self, n) for n in self._fields}, **changes})

    def entry(self, spec: Spec | None = None) -> Code:
        return all_codes(spec)[self.code]

    def level(self, spec: Spec | None = None) -> Severity:
        return self.severity or self.entry(spec).severity

    def message(self, lang: str = "zh", spec: Spec | None = None) -> str:
        entry = self.entry(spec)
        template = entry.zh if lang == "zh" else entry.en
        args = self.args
        if lang != "zh":  # an argument may come in two languages: ``detail`` and ``detail_en``
            args = {**args, **{k[:-3]: v for k, v in args.items() if k.endswith("_en")}}
        # Arguments carry cell values and names from the file: no control characters in what
        # is shown (an escape sequence in a cell must not reach the terminal).
        try:
            text = template.format_map(_Lenient(args))
        except (ValueError, TypeError, IndexError, AttributeError):
            # A spec message whose format does not fit the value (the spec is checked for
            # safe formats, not for every value's type): the message with its values after it.
            text = template + " (" + ", ".join(f"{k}={v}" for k, v in args.items()) + ")"
        return terminal(text)

    def location(self, lang: str = "zh") -> str:
        """Where the problem is, for people: file, then line or sheet and cell."""
        parts = [self.file] if self.file else []
        if self.line is not None:
            parts.append(f"第{self.line}行" if lang == "zh" else f"line {self.line}")
        if self.sheet:
            parts.append(f"{self.sheet}!{self.cell}" if self.cell else self.sheet)
        elif self.cell:
            parts.append(self.cell)
        return terminal(" ".join(parts))


def row_span(rows: list[str], table: str) -> dict[str, str]:
    """The ``rows`` argument of I104 in both languages: the rows not found, by their labels
    (the first and the last of a run, or the one); nothing where the only row is the table's
    own (a table of one unlabelled row, 表四: the table names it)."""
    named = [r for r in rows if r != table]
    if not named:
        return {"rows": "", "rows_en": ""}
    if len(named) == 1:
        return {"rows": f"“{named[0]}”，", "rows_en": f"“{named[0]}”, "}
    first, last = named[0], named[-1]
    return {"rows": f"“{first}”至“{last}”，", "rows_en": f"“{first}” to “{last}”, "}


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


# Merged registries by spec (the spec object itself is kept, so its id is never reused while
# cached): every finding's level and message look their code up here, several times per finding,
# and building the merged dict each time was a large part of reporting a file. A few specs at most.
_MERGED: dict[int, tuple[Spec, dict[str, Code]]] = {}


def all_codes(spec: Spec | None = None) -> dict[str, Code]:
    """The registry: the tool's own codes plus the rule codes of ``spec`` (if given). Shared:
    callers read it, never change it."""
    if spec is None:
        return CODES
    cached = _MERGED.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    merged = dict(CODES)
    for rule in spec.rules:
        merged[rule.code] = Code(
            rule.code, rule.name.en, rule.severity, rule.message.zh, rule.message.en
        )
    if len(_MERGED) >= 16:
        _MERGED.clear()
    _MERGED[id(spec)] = (spec, merged)
    return merged
