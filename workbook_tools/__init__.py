"""wbtools: the 政府信息公开工作年度报告 as data — templates, checks, merging, reports."""

__version__ = "0.1.0"
