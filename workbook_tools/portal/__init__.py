"""The collection portal (``wbtools portal``): units upload their workbooks on their own page and
get the checker's verdict at once; the county office sees every unit's status and gets the county
workbook and report.

A thin layer over the library, in stages:
- ``db``: the database schema (SQLite in the data folder, or PostgreSQL), created on first use;
- ``store``: the data folder: settings, roster, unit links, originals named by their sha256;
- ``collect``: one upload: streamed into the data folder, vetted and checked by the same code as
  ``wbtools check``, recorded; each unit's status from its newest upload;
- ``office``: what the office downloads: the county workbook and report (``merge``/``report`` over
  each unit's newest upload) and the status list as CSV or Excel;
- ``web``: the Starlette application (pages, forms, the JSON API).
"""
