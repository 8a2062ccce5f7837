"""Shared pieces of the portal tests: a small roster, filled workbooks (clean, with a mistake,
another unit's, another year's), a real server in a subprocess, and the PostgreSQL server."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from workbook_tools.portal.store import Portal
from workbook_tools.roster import Unit

from . import workbooks as wb

SECRET = "office-secret-for-tests-1234"
YEAR = 2024
UNITS = [
    Unit("徐营镇", "101", "乡镇"),
    Unit("城关镇", "102", "乡镇"),
    Unit("县教育局", "201", "部门"),
]
ROSTER_CSV = "单位名称,单位代码,单位类型\n徐营镇,101,乡镇\n城关镇,102,乡镇\n县教育局,201,部门\n"


def required(variable: str) -> bool:
    """Under CI (or when the variable is set) a missing service fails the test, never skips."""
    return bool(os.environ.get(variable)) or os.environ.get("CI", "").lower() == "true"


def chromium_paths() -> tuple[str, str]:
    """Debian's Chromium and its chromedriver, or a skip (a failure under CI) saying what to install."""
    import shutil

    import pytest

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        reason = "Chromium and chromedriver are needed: apt-get install chromium chromium-driver"
        if required("WBTOOLS_REQUIRE_CHROMIUM"):
            pytest.fail(reason)
        pytest.skip(reason)
    pytest.importorskip("selenium")
    return browser, driver


def workbook(spec, unit: Unit = UNITS[0], year: int = YEAR, mistake: bool = False) -> bytes:
    values = wb.base_values(spec)
    if mistake:
        values = dict(values)
        values["t3.new.natural"] += 3  # R1: new + carried no longer equals total + carried over
    return wb.render(spec, values=values, unit=unit, year=year)


def make_portal(folder: Path, db_url: str | None = None, units=UNITS, **kw) -> Portal:
    return Portal.create(
        folder,
        list(units),
        year=YEAR,
        name="青禾县",
        base_url=kw.pop("base_url", "http://testserver"),
        db_url=db_url,
        secret=SECRET,
        **kw,
    )


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``wbtools portal serve`` in a subprocess on a free loopback port."""

    def __init__(self, folder: Path, *args: str):
        self.folder, self.args = folder, args
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "workbook_tools", "portal", "serve", str(self.folder)]
        cmd += ["--port", str(self.port), *self.args]
        self.log = open(self.folder.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                httpx.get(self.base + "/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def url(self, portal: Portal, unit_index: int = 0) -> str:
        link = portal.links(self.base)[unit_index]["url"]
        return link


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server_url():
    """A PostgreSQL server URL (WBTOOLS_TEST_PG_URL, exported by .ci/run) whose role may create
    databases; skipped when there is none, except under CI where that is a failure."""
    url = os.environ.get("WBTOOLS_TEST_PG_URL")
    reason = "no PostgreSQL server (set WBTOOLS_TEST_PG_URL; .ci/run starts one)"
    if not url:
        if required("WBTOOLS_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    from sqlalchemy import create_engine, text

    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with eng.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # the server is not running or refuses us
        if required("WBTOOLS_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL at WBTOOLS_TEST_PG_URL is not usable: {exc}")
        pytest.skip(f"PostgreSQL not usable: {exc}")
    finally:
        eng.dispose()
    return url


@pytest.fixture()
def pg_url(pg_server_url):
    """A fresh database on the server for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = "wbtools_t_" + secrets.token_hex(6)
    admin = create_engine(
        pg_server_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = pg_server_url.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
