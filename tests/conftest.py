"""Shared fixtures: the bundled spec, generated templates, the shared/ examples, LibreOffice."""

from __future__ import annotations

import io
import os
import random
import tempfile
from pathlib import Path

import openpyxl
import pytest

from workbook_tools import office, spec, template
from workbook_tools.roster import Unit

# Compiled specs go to a cache of the test run's own, not the user's (subprocesses inherit it).
os.environ.setdefault("WBTOOLS_CACHE_DIR", tempfile.mkdtemp(prefix="wbtools-test-cache-"))

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the project; a git worktree elsewhere names it in WBTOOLS_SHARED
SHARED = Path(os.environ.get("WBTOOLS_SHARED") or ROOT.parent / "shared")
SAMPLES = ROOT / "samples"
TOWNSHIP = Unit("徐营镇", "101", "乡镇")
HEADINGS = [  # the six section headings of the national format, exactly
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
]


def run(*args):
    """The wbtools command line, in process; arguments may be paths."""
    from typer.testing import CliRunner

    from workbook_tools.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def spec21():
    return spec.load()


@pytest.fixture(scope="session")
def template_bytes(spec21) -> bytes:
    return template.render(spec21, TOWNSHIP, 2024)


@pytest.fixture(scope="session")
def template_book(template_bytes):
    return openpyxl.load_workbook(io.BytesIO(template_bytes))


@pytest.fixture()
def rng():
    return random.Random(20241231)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is not beside the project ({SHARED})")
    return SHARED


@pytest.fixture(scope="session")
def soffice():
    """LibreOffice, or a skip with the reason; under CI it must be there (a failure, not a skip)."""
    found = office.find_soffice()
    if found is None:
        if os.environ.get("WBTOOLS_REQUIRE_LIBREOFFICE"):
            pytest.fail(
                "LibreOffice is required here (WBTOOLS_REQUIRE_LIBREOFFICE) but not installed"
            )
        pytest.skip(
            "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui"
        )
    return found


@pytest.fixture(params=["syncfs", "each"])
def flushing(request, monkeypatch):
    """Both ways the portal makes originals durable: one syncfs of the file system per step of
    a batch (Linux), and each file and folder flushed on its own (where there is no syncfs)."""
    from workbook_tools.portal import collect

    if request.param == "syncfs":
        if collect.SYNCFS is None:
            pytest.skip("no syncfs on this system")
    else:
        monkeypatch.setattr(collect, "SYNCFS", None)
    return request.param
