"""LibreOffice headless, for conversions (xlsx round trips, docx -> pdf).

LibreOffice keeps the cached formula results of files written by other programs instead of
recalculating them, unless told otherwise. Every conversion here runs with a private user
profile whose settings say "always recalculate on load", so what comes back was computed by
LibreOffice itself; the private profile also lets conversions run while a desktop LibreOffice is
open, and keeps runs from sharing state.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

# 0 = always recalculate, for OOXML (.xlsx) and ODF (.ods) files alike. Documents converted
# come from strangers (a published report to import): links in them to other places (a picture
# linked from a web address) are blocked (no document is in a trusted location) and never
# updated, so converting one makes no call to an address of the sender's choosing.
_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
</oor:items>
"""

FILTERS = {
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "ods": "ods",
    "xls": "xls:MS Excel 97",
    "pdf": "pdf",
    "docx": "docx:MS Word 2007 XML",
    "doc": "doc:MS Word 97",
}


class OfficeError(RuntimeError):
    pass


def find_soffice() -> str | None:
    """The LibreOffice executable, or None when it is not installed."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in ("/usr/lib/libreoffice/program/soffice", "/opt/libreoffice/program/soffice"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def convert(src: Path, to: str, outdir: Path, timeout: float = 180) -> Path:
    """Convert ``src`` with LibreOffice (recalculating on load) into ``outdir``; return the path."""
    return convert_many([src], to, outdir, timeout)[0]


def convert_many(srcs: list[Path], to: str, outdir: Path, timeout: float = 300) -> list[Path]:
    """Convert several files in one LibreOffice run (its start-up is most of the cost)."""
    soffice = find_soffice()
    if soffice is None:
        raise OfficeError("LibreOffice (soffice) is not installed")
    outdir.mkdir(parents=True, exist_ok=True)
    if any(Path(src).resolve().parent == outdir.resolve() for src in srcs):
        raise OfficeError("convert into another folder: LibreOffice keeps the file name")
    with tempfile.TemporaryDirectory(prefix="wbtools-lo-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_PROFILE, encoding="utf-8")
        cmd = [
            soffice,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless",
            "--norestore",
            "--nologo",
            "--convert-to",
            FILTERS.get(to, to),
            "--outdir",
            str(outdir),
            *(str(src) for src in srcs),
        ]
        done = _run(cmd, timeout)
    outs = [outdir / (Path(src).stem + "." + to) for src in srcs]
    missing = [o.name for o in outs if not o.exists()]
    if done.returncode != 0 or missing:
        detail = done.stderr.strip()[:500] or f"no output for {', '.join(missing)}"
        raise OfficeError(f"LibreOffice failed ({done.returncode}): {detail}")
    return outs


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run LibreOffice in a session of its own and kill the whole session on a timeout.

    ``soffice`` is a launcher that starts ``soffice.bin`` as its child: ``subprocess.run``'s
    timeout kills only the launcher and would leave the real office process running (and holding
    its profile and output folder) after we report the failure.
    """
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_session(proc)
        raise OfficeError(f"LibreOffice did not finish within {timeout:.0f} s") from exc
    except BaseException:
        _kill_session(proc)
        raise
    # The launcher may exit while a child it started lingers in the session: end it too.
    _kill_session(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _kill_session(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        proc.kill()
        proc.communicate()
