"""Published reports in the other forms people keep them in: a web page saved as one file
(MHTML, by Chromium, or by IE/360 in the page's GBK with quoted-printable), a page downloaded
under its server's name (.shtml), an OpenDocument text (.odt) and RTF made by LibreOffice. Each is
read as the same page or document is read in its usual form: the same figures, unit and year."""

from __future__ import annotations

import random
import shutil
import tempfile
from email import charset as email_charset
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from workbook_tools import importer, office, synth

from . import workbooks as wb
from .portal_support import chromium_paths
from .test_import_real import published


@pytest.fixture(scope="module")
def page(spec21, tmp_path_factory):
    """A report as a web page (wbtools' own HTML report), with the values it holds."""
    tmp = tmp_path_factory.mktemp("page")
    values = synth.consistent_values(spec21, random.Random(23))
    return published(spec21, tmp, values, fmt="html"), values


def figures(filing, spec) -> dict:
    return {d: filing.values.get(d) for d in spec.inputs if d[:3] in ("t2.", "t3.", "t4.")}


def same_as_the_page(got, want, spec) -> None:
    assert (got.unit, got.year) == (want.unit, want.year) and want.unit
    assert figures(got, spec) == figures(want, spec)
    assert sum(v is not None for v in figures(want, spec).values()) > 150


def test_page_downloaded_under_its_servers_name(spec21, tmp_path, page):
    html = page[0].encode()
    want = importer.read(wb.write(tmp_path, html, "r.html"), spec21)
    for name in ("r.shtml", "r.xhtml"):
        same_as_the_page(importer.read(wb.write(tmp_path, html, name), spec21), want, spec21)


def test_page_saved_as_one_file_in_gbk_quoted_printable(spec21, tmp_path, page):
    """As IE and 360 save a GBK portal page: multipart/related, the page quoted-printable in
    gb2312 with its images beside it, and the page's own meta naming its charset."""
    html = page[0].replace("<head>", '<head><meta charset="gb2312">', 1)
    want = importer.read(wb.write(tmp_path, html.encode("gb18030"), "r.html"), spec21)
    qp = email_charset.Charset("gb2312")
    qp.body_encoding = email_charset.QP
    archive = MIMEMultipart("related", type="text/html")
    archive.attach(MIMEText(html, "html", qp))
    image = MIMEImage(b"\x89PNG\r\n\x1a\n" + bytes(64), "png")
    image["Content-Location"] = "http://www.example.gov.cn/images/logo.png"
    archive.attach(image)
    raw = archive.as_bytes()
    assert b"quoted-printable" in raw.lower() and b"gb2312" in raw.lower()
    for name in ("r.mht", "r.mhtml"):
        same_as_the_page(importer.read(wb.write(tmp_path, raw, name), spec21), want, spec21)


def test_page_saved_as_one_file_by_chromium(spec21, tmp_path, page):
    """Chromium's own MHTML (Page.captureSnapshot), of the page opened from a file."""
    browser, driver_path = chromium_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    source = wb.write(tmp_path, page[0].encode(), "r.html")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tempfile.mkdtemp(prefix="wbtools-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(source.as_uri())
        snapshot = driver.execute_cdp_cmd("Page.captureSnapshot", {"format": "mhtml"})["data"]
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert snapshot.startswith("From: <Saved by Blink>")
    archive = wb.write(tmp_path, snapshot.encode("utf-8"), "r.mhtml")
    want = importer.read(source, spec21)
    same_as_the_page(importer.read(archive, spec21), want, spec21)


def test_archive_without_a_page_is_a_finding(spec21, tmp_path):
    archive = MIMEMultipart("related")
    archive.attach(MIMEImage(b"\x89PNG\r\n\x1a\n" + bytes(64), "png"))
    filing = importer.read(wb.write(tmp_path, archive.as_bytes(), "r.mht"), spec21)
    assert "F103" in {f.code for f in filing.findings} and not filing.values


def test_opendocument_text_and_rtf_through_libreoffice(spec21, tmp_path, page, soffice):
    source = wb.write(tmp_path, page[0].encode(), "r.html")
    want = importer.read(source, spec21)
    odt = office.convert(source, "odt", tmp_path / "odt")
    assert odt.read_bytes()[38:77] == b"application/vnd.oasis.opendocument.text"
    rtf = office.convert(odt, "rtf", tmp_path / "rtf")
    assert rtf.read_bytes().startswith(b"{\\rtf")
    for made in (odt, rtf):
        same_as_the_page(importer.read(made, spec21), want, spec21)


def test_a_spreadsheet_named_odt_is_refused_before_libreoffice(spec21, tmp_path, soffice):
    """An OpenDocument spreadsheet (or any zip) under .odt is no text: refused without a start
    of LibreOffice (a spreadsheet is a workbook, F115, whatever its name; see test_battery3);
    a zip bomb under .odt is bounded as a .docx is."""
    sheet = office.convert(wb.write(tmp_path, wb.render(spec21), "t.xlsx"), "ods", tmp_path / "o")
    filing = importer.read(wb.write(tmp_path, sheet.read_bytes(), "sheet.odt"), spec21)
    assert [f.code for f in filing.findings if f.code.startswith("F")] == ["F115"]
    assert "spreadsheet" in str(filing.findings[0].args)
