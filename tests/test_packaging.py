"""The installed package finds its format spec without the source tree (package data)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from .conftest import ROOT


def test_wheel_ships_the_spec_and_loads_it_from_site_packages(tmp_path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            str(ROOT),
            "-w",
            str(tmp_path / "dist"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("wbtools-*.whl")
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        assert "workbook_tools/templates/gov_disclosure_2021.yaml" in z.namelist()
        # The portal's pages, stylesheet and script ship too: nothing is loaded from outside.
        for name in ("static/portal.css", "static/portal.js", "templates/unit.html"):
            assert f"workbook_tools/portal/{name}" in z.namelist(), name
        z.extractall(target)
    # The wheel's copy comes first on the path, and the check runs outside the source tree.
    code = (
        "import workbook_tools, workbook_tools.spec as s; "
        "sp = s.load(); print(workbook_tools.__file__); print(sp.source); print(len(sp.datapoints))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    module_file, source, count = done.stdout.split()
    assert module_file.startswith(str(target)) and source.startswith(str(target))
    assert count == "200"
