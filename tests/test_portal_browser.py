"""The portal in a real headless Chromium (Debian's chromium and chromium-driver, through
Selenium; no browser is downloaded): a unit opens its link, downloads its template, uploads a
workbook with a mistake (by the file chooser, and by drag and drop), sees the finding and
downloads the feedback workbook; the same without JavaScript; the office signs in, sees the
statuses change and downloads the county workbook.

Set WBTOOLS_SCREENSHOTS=DIR to keep screenshots of the pages at desktop and 390-px phone width.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import openpyxl
import pytest

from workbook_tools import check, template
from workbook_tools.portal import collect

from .portal_support import SECRET, UNITS, YEAR, Server, chromium_paths, make_portal, workbook

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--lang=zh-CN",
]


@pytest.fixture(scope="module")
def chromium():
    return chromium_paths()


class Browser:
    def __init__(self, paths, downloads: Path, javascript: bool = True):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.downloads = downloads
        self.profile = tempfile.mkdtemp(prefix="wbtools-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = paths[0]
        for flag in [*FLAGS, f"--user-data-dir={self.profile}", "--window-size=1280,900"]:
            options.add_argument(flag)
        prefs = {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "intl.accept_languages": "zh-CN,zh",
        }
        if not javascript:
            prefs["profile.managed_default_content_settings.javascript"] = 2
        options.add_experimental_option("prefs", prefs)
        self.driver = webdriver.Chrome(service=Service(executable_path=paths[1]), options=options)
        self.driver.set_page_load_timeout(60)
        self.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, condition, timeout: float = 60):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(lambda d: condition())

    def download(self, css: str, suffix: str) -> bytes:
        before = set(self.downloads.iterdir())
        self.find(css).click()

        def arrived():
            # Chromium reserves the final name with an empty file and writes the bytes to a
            # .crdownload beside it, renamed over the final name when complete: the download is
            # there once the file has bytes and no partial file is left.
            now = set(self.downloads.iterdir())
            if any(p.suffix == ".crdownload" for p in now):
                return None
            new = [p for p in now - before if p.suffix == suffix]
            if not new:
                return None
            data = new[0].read_bytes()
            return data or None

        return self.wait(arrived)

    def shot(self, name: str, width: int = 1280) -> None:
        folder = os.environ.get("WBTOOLS_SCREENSHOTS")
        if not folder:
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        d = self.driver
        d.set_window_size(width, 900)
        height = d.execute_script("return document.documentElement.scrollHeight")
        d.set_window_size(width, min(max(height + 120, 600), 4000))
        time.sleep(0.2)
        d.save_screenshot(str(Path(folder) / f"{name}-{width}.png"))
        d.set_window_size(1280, 900)

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One server for this file's tests (they use different units: the statuses the office
    test sees are of units 0 and 1, the no-JavaScript test uploads for unit 2, after it)."""
    portal = make_portal(tmp_path_factory.mktemp("browser") / "portal")
    server = Server(portal.folder).start()
    yield portal, server
    server.stop()
    portal.close()


def test_unit_and_office_in_chromium(chromium, served, spec21, tmp_path):
    portal, server = served
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    mistake = tmp_path / "徐营镇_填好的.xlsx"
    mistake.write_bytes(workbook(spec21, mistake=True))
    browser = Browser(chromium, downloads)
    try:
        b = browser
        # A unit opens its link and downloads its template.
        b.driver.get(server.url(portal, 0))
        assert b.find("h1").text == "徐营镇" and "2024年度" in b.find(".subtitle").text
        b.shot("unit-empty")
        b.shot("unit-empty", 390)
        assert b.download("#template-link", ".xlsx") == template.render(spec21, UNITS[0], YEAR)
        # It uploads a filled workbook with a mistake, over a slow line: progress shows.
        b.driver.execute_cdp_cmd("Network.enable", {})
        b.driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 40_000},
        )
        b.find("#file-input").send_keys(str(mistake))
        assert b.find("#file-name").text == mistake.name
        b.find("#upload-form button[type=submit]").click()
        b.wait(lambda: b.find("#upload-progress").is_displayed())
        b.wait(lambda: b.find("#upload-progress").get_attribute("value") not in (None, "0"))
        b.wait(lambda: "/uploads/" in b.driver.current_url)
        b.driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        # The finding, its cell and its fix, as `wbtools check` gives them.
        report = check.check_file(mistake, spec21)
        finding = report.findings[0]
        shown = b.find(".finding").text
        assert finding.code in shown and f"{finding.sheet}!{finding.cell}" in shown
        assert finding.message("zh", spec21) in shown
        assert "未通过校验" in b.find(".verdict-head").text
        b.shot("unit-verdict")
        b.shot("unit-verdict", 390)
        feedback = b.download("#feedback-link", ".xlsx")
        book = openpyxl.load_workbook(io.BytesIO(feedback))
        assert any(
            c.comment and "R1" in c.comment.text
            for ws in book
            for row in ws.iter_rows()
            for c in row
        )
        # Drag and drop the corrected workbook onto the box.
        b.driver.get(server.url(portal, 0))
        good = list(workbook(spec21))
        b.driver.execute_script(
            """
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(arguments[0])], '徐营镇_改好的.xlsx'));
            document.getElementById('drop-zone').dispatchEvent(
                new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
            """,
            good,
        )
        assert b.find("#file-name").text == "徐营镇_改好的.xlsx"
        b.find("#upload-form button[type=submit]").click()
        b.wait(lambda: "/uploads/" in b.driver.current_url)
        assert "已报送通过" in b.find(".verdict-head").text
        b.driver.get(server.url(portal, 0))
        assert len(b.finds("table.history tbody tr")) == 2
        b.shot("unit-history")
        b.shot("unit-history", 390)

        # The office signs in and sees every unit's status.
        b.driver.get(server.base + "/office")
        assert "/office/login" in b.driver.current_url
        b.shot("office-login", 390)
        b.find("#secret").send_keys(SECRET)
        b.find("form button[type=submit]").click()
        b.wait(lambda: b.finds("#status-table"))

        def statuses():
            return [r.get_attribute("data-status") for r in b.finds("#status-table tbody tr")]

        assert statuses() == ["passed", "missing", "missing"]
        # Another unit uploads (through the API); the office sees the status change.
        other = server.url(portal, 1)
        answer = httpx.post(
            other,
            files={"file": ("a.xlsx", workbook(spec21, unit=UNITS[1]))},
            headers={"accept": "application/json"},
            timeout=60,
        )
        assert answer.json()["files"][0]["status"] == "passed"
        b.driver.refresh()
        assert statuses() == ["passed", "passed", "missing"]
        b.shot("office-status")
        b.shot("office-status", 390)
        county = b.download("#county-xlsx", ".xlsx")
        path = tmp_path / "county.xlsx"
        path.write_bytes(county)
        filing = check.check_file(path, spec21).filing
        assert filing.readable and filing.unit == "青禾县"
        b.find("#status-table tbody tr a").click()
        b.wait(lambda: b.finds(".review-form"))
        b.shot("office-unit")
        b.shot("office-unit", 390)
        # The office returns the upload with a reason; the unit sees it on its page.
        b.find("#reason").send_keys("第五部分请写具体问题")
        b.find(".review-form button[value=returned]").click()
        b.wait(lambda: b.finds(".review.returned"))
        b.driver.get(server.url(portal, 0))
        assert "第五部分请写具体问题" in b.find(".review.returned").text
        b.shot("unit-returned", 390)
        b.driver.get(server.base + "/office?lang=en")
        assert [r.get_attribute("data-status") for r in b.finds("#status-table tbody tr")] == [
            "returned",
            "passed",
            "missing",
        ]
        b.shot("office-status-en")
        b.driver.get(server.base + "/office/roster")
        assert len(b.finds("table.links tbody tr")) == 3
        b.shot("office-roster")
        b.shot("office-roster", 390)
        # Someone at this address guesses the secret: after five wrong ones, sign-in is locked
        # (the right secret too) and the page says for how long.
        b.driver.delete_all_cookies()
        with httpx.Client(base_url=server.base, timeout=60) as guesser:
            page = guesser.get("/office/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

            def guess(i: int) -> int:
                data = {"csrf": token, "secret": f"guess{i}"}
                return guesser.post("/office/login", data=data).status_code

            with ThreadPoolExecutor(5) as pool:  # at once: each wrong answer waits 1 s
                codes = list(pool.map(guess, range(5)))
        # (each answer comes after the 1-s delay, when the others may already have locked it)
        assert set(codes) <= {401, 429}
        b.driver.get(server.base + "/office/login")
        b.find("#secret").send_keys(SECRET)
        b.find("form button[type=submit]").click()
        b.wait(lambda: b.finds(".notice"))
        assert "失败的尝试太多，已暂时锁定。请在 15 分钟后再试。" in b.find(".notice").text
        b.shot("office-locked", 390)
    finally:
        browser.close()


def test_upload_without_javascript(chromium, served, spec21, tmp_path):
    portal, server = served
    path = tmp_path / "教育局.xlsx"
    path.write_bytes(workbook(spec21, unit=UNITS[2], mistake=True))
    browser = Browser(chromium, tmp_path, javascript=False)
    try:
        b = browser
        b.driver.get(server.url(portal, 2) + "?lang=en")
        assert b.find("h1").text == "县教育局" and "Step 1" in b.driver.page_source
        b.find("#file-input").send_keys(str(path))
        b.find("#upload-form button[type=submit]").click()
        b.wait(lambda: "/uploads/" in b.driver.current_url)
        assert "R1" in b.find(".finding").text and "failed checks" in b.find(".verdict-head").text
        assert "lang=en" in b.driver.current_url
        b.shot("unit-verdict-nojs-en", 390)
    finally:
        browser.close()


@pytest.mark.parametrize("javascript", [True, False])
def test_a_full_disk_is_said_plainly_in_the_browser(chromium, spec21, tmp_path, javascript):
    """The portal's disk short of space: the clerk's upload is refused with P110 in plain words,
    under the upload form (with the script) or on the unit's page (without it)."""
    portal = make_portal(tmp_path / "portal")
    server = Server(portal.folder, "--workers", "0", "--min-free-mb", "1000000000").start()
    path = tmp_path / "县财政局.xlsx"
    path.write_bytes(workbook(spec21))
    browser = Browser(chromium, tmp_path, javascript=javascript)
    try:
        b = browser
        b.driver.get(server.url(portal, 0))
        b.find("#file-input").send_keys(str(path))
        b.find("#upload-form button[type=submit]").click()
        if javascript:
            b.wait(lambda: "P110" in b.find("#upload-status").text)
            assert "磁盘空间不足" in b.find("#upload-status").text
        else:
            b.wait(lambda: "P110" in b.driver.page_source)
            assert "磁盘空间不足" in b.find("main").text
        b.shot(f"unit-disk-full-{'js' if javascript else 'nojs'}", 390)
        assert collect.states(portal)[0].uploads == 0
    finally:
        browser.close()
        server.stop()
        portal.close()
