"""Where wbtools keeps what it computes once and reads back on later calls (compiled specs,
prepared workbooks, compiled patterns): the user's cache folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir() -> Path | None:
    """The cache folder: $WBTOOLS_CACHE_DIR (empty: no cache), else the platform's
    user cache folder (XDG_CACHE_HOME or ~/.cache, %LOCALAPPDATA%, ~/Library/Caches)."""
    if "WBTOOLS_CACHE_DIR" in os.environ:
        given = os.environ["WBTOOLS_CACHE_DIR"]
        return Path(given) if given else None
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "wbtools" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "wbtools"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wbtools"
