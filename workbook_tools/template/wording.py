"""Every word a template or feedback workbook shows, in Chinese and English."""

from __future__ import annotations

TEXT = {
    "zh": {
        "template_title": "{unit}{year}年政府信息公开工作年度报告 填报模板",
        "format_line": "报告格式：{name}（{basis}），模板版本 {version}-{revision}，校验码 {hash}",
        "unit_line": "填报单位：{unit}　　报告年度：{year}年",
        "table_note": "黄色单元格为填报项，灰色为自动合计（已锁定）；右侧和下方的 ✓/✗ 为实时校验。",
        "check_row": "{code} {name}",
        "status_label": "校验状态",
        "status_ok": "全部通过",
        "status_bad": "有 {e} 项错误、{w} 项警告，请查看“校验结果”",
        "status_blank": "未完成：还有 {b} 处未填写（数字无则填0）",
        "status_joiner": "；",
        "legend": ["图例", "填报项", "自动合计", "✓ 通过", "✗ 未通过"],
        "steps": [
            "本模板由政府信息公开工作主管部门统一下发，单位名称和报告年度已预填并锁定，请勿修改。",
            "只需填写黄色单元格；灰色单元格为公式自动合计，已锁定。",
            "表二、表三、表四按《中华人民共和国政府信息公开工作年度报告格式》设置。"
            "数字一律填阿拉伯数字，无则填0；不要填“/”“无”“-”，也不要带单位（如“12件”）。",
            "表二“行政事业性收费”的单位为万元，可带小数；其余均为件数（整数）。",
            "各表右侧和下方的 ✓/✗ 为实时校验：红色 ✗ 为错误，必须改正；橙色 ✗ 为警告，请核实。"
            "全部校验项见“校验结果”工作表。",
            "在“文字部分”填写总体情况、存在的主要问题及改进情况、其他需要报告的事项；"
            "第六部分须写明信息处理费的收取情况。文字中的数字须与表格一致。",
            "请勿增删行列、改动标签或整表复制粘贴到新文件，否则无法汇总。"
            "可用 Excel、WPS 或 LibreOffice 填写，保存为 .xlsx 格式报送。",
            "报送前请确认本页“校验状态”显示“全部通过”，并在“基本信息”中填写填报人和联系电话。",
        ],
        "info_title": "基本信息",
        "narrative_title": "文字部分",
        "narrative_note": "在黄色单元格内填写，单元格内换行按 Alt+Enter（WPS 同）。",
        "narrative_cols": ["项目", "内容", "字数", "状态"],
        "narrative_missing": "未填写",
        "missing_cell": "缺失：导入的原文中没有这一项（被截断或是图片），不是0。请按原文核对后填写。",
        "narrative_optional": "选填",
        "checks_title": "校验结果",
        "checks_summary": ["未通过的错误", "未通过的警告", "未填写", "结论"],
        "checks_cols": ["代码", "级别", "规则", "检查项", "位置", "状态"],
        "text_hint_title": "填写说明",
        "number_hint_title": "填写说明",
        "number_error_title": "输入有误",
        "date_hint": "请填写日期，如 2025-01-15。",
        "date_error": "请填写有效日期。",
        "footer": "&C第 &P 页 共 &N 页",
    },
    "en": {
        "template_title": "{unit} {year} government information disclosure annual report: form",
        "format_line": "Format: {name} ({basis}), template version {version}-{revision}, checksum {hash}",
        "unit_line": "Unit: {unit}    Report year: {year}",
        "table_note": "Fill the yellow cells; grey cells are totals (locked). ✓/✗ at the right and below are live checks.",
        "check_row": "{code} {name}",
        "status_label": "Check status",
        "status_ok": "All checks pass",
        "status_bad": "{e} errors and {w} warnings: see the 校验结果 sheet",
        "status_blank": "Not finished: {b} cells still empty (enter 0 for none)",
        "status_joiner": "; ",
        "legend": ["Legend", "to fill", "computed total", "✓ passes", "✗ fails"],
        "steps": [
            "This form comes from the disclosure office; unit name and year are prefilled and locked.",
            "Fill only the yellow cells; grey cells are formulas and locked.",
            "Tables 二, 三 and 四 follow the national format. Enter plain numbers, 0 for none; "
            "do not type “/”, “无”, “-” or units such as “12件”.",
            "行政事业性收费 in table 二 is in 万元 and may have decimals; all else are whole counts.",
            "The ✓/✗ cells beside and below each table are live checks: a red ✗ is an error to fix, "
            "an orange ✗ a warning to verify. The 校验结果 sheet lists them all.",
            "Write the narrative on the 文字部分 sheet; section 六 must state the 信息处理费 position. "
            "Figures in the text must agree with the tables.",
            "Do not insert or delete rows or columns, change labels, or paste the tables into a new "
            "file. Excel, WPS and LibreOffice all work; save as .xlsx.",
            "Before returning the file, make sure the check status on this sheet says all checks "
            "pass, and fill in the contact on 基本信息.",
        ],
        "info_title": "Basic information",
        "narrative_title": "Narrative",
        "narrative_note": "Write in the yellow cells; Alt+Enter starts a new line inside a cell.",
        "narrative_cols": ["Item", "Text", "Chars", "Status"],
        "narrative_missing": "empty",
        "missing_cell": "Missing: the imported text did not have this cell (cut off, or an image); it is not 0. Fill it in from the source.",
        "narrative_optional": "optional",
        "checks_title": "Checks",
        "checks_summary": ["Errors failing", "Warnings failing", "Still empty", "Result"],
        "checks_cols": ["Code", "Severity", "Rule", "What", "Where", "Status"],
        "text_hint_title": "How to fill",
        "number_hint_title": "How to fill",
        "number_error_title": "Invalid entry",
        "date_hint": "Enter a date, e.g. 2025-01-15.",
        "date_error": "Enter a valid date.",
        "footer": "&CPage &P of &N",
    },
}
SEVERITY_TEXT = {
    "zh": {"error": "错误", "warning": "警告", "note": "提示"},
    "en": {"error": "error", "warning": "warning", "note": "note"},
}
FEEDBACK_SHEET = {"zh": "问题清单", "en": "问题清单 Findings"}
FEEDBACK_TEXT = {
    "zh": {
        "title": "{unit}{year}年度报告 校验问题清单",
        "intro": "以下是对本单位报送文件的校验结果。标色的单元格有问题，鼠标移到单元格上可看批注。"
        "请在本工作簿中直接修改后保存并重新报送；“校验结果”工作表显示“全部通过”即可。",
        "columns": ["序号", "级别", "代码", "位置", "问题及修改方法"],
        "none": "没有发现问题。",
    },
    "en": {
        "title": "{unit} {year} annual report: findings",
        "intro": "The check of your returned file. Coloured cells have problems; hover for the comment. "
        "Correct them in this workbook, save and return it; the 校验结果 sheet should say all pass.",
        "columns": ["No.", "Severity", "Code", "Where", "Problem and how to fix it"],
        "none": "No problems found.",
    },
}
