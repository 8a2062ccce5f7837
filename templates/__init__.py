"""Bundled report-format specs (YAML), shipped inside the package as workbook_tools.templates."""
