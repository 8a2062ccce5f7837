"""Regular expressions compiled once per Python build, not once per call of wbtools.

wbtools is called once per file, and compiling the patterns of its readers and rules (long
alternations, classes of CJK characters) took more time than reading a report. Python's ``re``
turns a pattern into a list of codes for its matching engine (``_sre``); the codes of every
pattern compiled here are kept in the user's cache folder and handed to the engine directly on
later calls. An entry is stored only after the pattern made from it compared equal to
``re.compile``'s (a pattern compares its text, flags and codes; its groups are compared too),
in a file named by the exact Python build and checked by a checksum: anything missing,
unreadable or refused is compiled by ``re.compile``, the same pattern.
"""

from __future__ import annotations

import _sre
import atexit
import contextlib
import marshal
import os
import re
import sys
import zlib
from pathlib import Path

from .cache import cache_dir

FORMAT = "1"  # of the stored entries: a change makes another file
LIMIT = 600  # entries kept (~0.7 KB each, ~120 in use): old patterns must not pile up

_known: dict | None = None  # (pattern, flags) -> the engine's arguments, read at the first use
_new: list[tuple[str | bytes, int]] = []  # compiled by re.compile in this process


def compile(pattern: str | bytes, flags: int = 0) -> re.Pattern:
    """``re.compile(pattern, flags)``, from the cached codes when they are known."""
    global _known
    if _known is None:
        _known = _read(_path())
    parts = _known.get((pattern, int(flags)))
    if parts is not None:
        try:
            return _sre.compile(pattern, *parts)
        except Exception:  # (an entry of another shape) compiled below
            pass
    if not _new:
        atexit.register(_save)
    _new.append((pattern, int(flags)))
    return re.compile(pattern, flags)


def _path() -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    build = "\0".join([sys.version, str(_sre.MAGIC), str(_sre.CODESIZE), FORMAT]).encode()
    return folder / f"patterns-{zlib.crc32(build):08x}{zlib.adler32(build):08x}.marshal"


def _read(path: Path | None) -> dict:
    try:
        raw = path.read_bytes() if path is not None else b""
        if len(raw) > 4 and zlib.crc32(raw[4:]).to_bytes(4, "little") == raw[:4]:
            known = marshal.loads(raw[4:])
            if type(known) is dict:
                return known
    except Exception:  # missing, unreadable or not ours: every pattern is compiled
        pass
    return {}


def parts(pattern: str | bytes, flags: int) -> tuple | None:
    """What ``re.compile`` hands the engine for ``pattern`` (as its compiler makes it), or None
    if that is not what this Python does (the pattern made from it differs from re.compile's)."""
    from re import _compiler, _parser

    try:
        parsed = _parser.parse(pattern, flags)
        code = [int(c) for c in _compiler._code(parsed, flags)]
        groupindex = dict(parsed.state.groupdict)
        indexgroup = [None] * parsed.state.groups
        for name, i in groupindex.items():
            indexgroup[i] = name
        found = (int(flags | parsed.state.flags), code, parsed.state.groups - 1)
        found += (groupindex, tuple(indexgroup))
        made, want = _sre.compile(pattern, *found), re.compile(pattern, flags)
    except Exception:
        return None
    same = made == want and (made.groups, made.groupindex) == (want.groups, want.groupindex)
    return found if same else None


def _save() -> None:
    """Add this process's new patterns to the cache file (at exit: once per process at most)."""
    with contextlib.suppress(Exception):  # (never an error at exit: the cache is only a cache)
        _write(_path())


def _write(path: Path | None) -> None:
    if path is None or not _new:
        return
    known = _read(path)
    if len(known) + len(_new) > LIMIT:
        known = {}
    for pattern, flags in _new:
        if (found := parts(pattern, flags)) is not None:
            known[(pattern, int(flags))] = found
    data = marshal.dumps(known)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(OSError):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(zlib.crc32(data).to_bytes(4, "little") + data)
            os.replace(temp, path)  # atomic: a concurrent reader sees the whole file or none
        finally:
            temp.unlink(missing_ok=True)
