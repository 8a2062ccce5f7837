"""Traditional characters to simplified ones with OpenCC, whose dictionaries load only for a text
that OpenCC can change.

Loading OpenCC and its t2s dictionaries costs more than reading a whole report, and most reports
are written in simplified characters throughout. OpenCC changes a text only where one of its
dictionaries' keys occurs in it (what no key matches is copied as it is), so a text holding no
key is returned unchanged without OpenCC. Which texts can hold a key is derived from OpenCC's own
data, once per OpenCC install (kept by ``spec.cached``): every one-character key, and each longer
key none of whose characters is a one-character key (the rest contain one). Where that cannot be
derived (no ``opencc_dict`` tool, an unknown dictionary type) every text goes through OpenCC.
"""

from __future__ import annotations

import functools
import os
from importlib.util import find_spec
from pathlib import Path

CONFIG = "t2s.json"
TOOL = "opencc_dict.exe" if os.name == "nt" else "opencc_dict"  # OpenCC's own dictionary tool


@functools.cache
def _share() -> Path | None:
    """The folder holding OpenCC's configurations and dictionaries, found without importing it."""
    spec = find_spec("opencc")
    if spec is None or not spec.submodule_search_locations:
        return None
    share = Path(next(iter(spec.submodule_search_locations))) / "clib" / "share" / "opencc"
    return share if (share / CONFIG).is_file() else None


@functools.cache
def converter():
    import opencc  # a maintained converter: every traditional form, not a hand-made table

    share = _share()  # (by its full path: a t2s.json in the working folder is not OpenCC's)
    return opencc.OpenCC(str(share / CONFIG) if share else "t2s")


def simplified(text: str) -> str:
    """``text`` with traditional characters as simplified ones (OpenCC), nothing else changed."""
    keys = _keys()
    if keys is not None and keys[0].isdisjoint(text) and not any(k in text for k in keys[1]):
        # no key of OpenCC's dictionaries occurs in it: OpenCC would return it as it is (after
        # encoding it as UTF-8, which refuses a lone surrogate: so does this)
        text.encode("utf-8")
        return text
    return converter().convert(text)


@functools.cache
def _keys() -> tuple[frozenset[str], tuple[str, ...]] | None:
    """(characters, longer keys): a text holding none of either is one OpenCC leaves as it is;
    None when that is not known."""
    share = _share()
    if share is None:
        return None
    from .. import spec

    try:  # the install's dictionaries and library, as they are now: a change makes a new entry
        listed = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(share))
        library = sorted(
            (e.name, e.stat().st_size, e.stat().st_mtime_ns)
            for e in os.scandir(share.parent.parent)
            if e.is_file()
        )
        parts = [
            (share / CONFIG).read_bytes(),
            repr((listed, library)).encode(),
            *spec.code_parts("importer/simplify.py"),
        ]
    except OSError:
        return None
    found = spec.cached("t2s-keys", parts, lambda: derive(share), _valid)
    if found is None:
        return None
    return frozenset(found[0]), found[1]


def _valid(value) -> bool:
    return value is None or (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], tuple)
        and all(isinstance(k, str) and len(k) > 1 for k in value[1])
    )


def derive(share: Path) -> tuple[str, tuple[str, ...]] | None:
    """Every key of the dictionaries ``t2s.json`` names, read with OpenCC's own ``opencc_dict``
    tool, as (the one-character keys, the longer keys holding none of them); None if a
    dictionary cannot be read so."""
    import json
    import subprocess
    import tempfile

    tool = share.parent.parent / "bin" / TOOL
    files = _dictionaries(json.loads((share / CONFIG).read_text("utf-8")))
    if not tool.is_file() or not files:
        return None
    keys: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="wbtools-t2s-") as folder:
        for n, name in enumerate(sorted(files)):
            out = Path(folder) / f"{n}.txt"
            args = [tool, "-i", share / name, "-o", out, "-f", "ocd2", "-t", "text"]
            try:
                done = subprocess.run(args, capture_output=True, timeout=60)
                text = out.read_text("utf-8") if done.returncode == 0 else ""
            except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
                return None
            found = {line.split("\t", 1)[0] for line in text.splitlines() if line}
            if not found or "" in found:
                return None
            keys |= found
    single = {k for k in keys if len(k) == 1}
    longer = tuple(sorted(k for k in keys if len(k) > 1 and single.isdisjoint(k)))
    return "".join(sorted(single)), longer


def _dictionaries(node) -> set[str] | None:
    """The ``file`` of every dictionary in a configuration (normalisation, segmentation,
    conversion chain, groups), or None if one is of a type other than ocd2."""
    found: set[str] = set()
    if isinstance(node, dict):
        if "file" in node:
            if node.get("type") != "ocd2" or not isinstance(node["file"], str):
                return None
            found.add(node["file"])
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return found
    for child in children:
        more = _dictionaries(child)
        if more is None:
            return None
        found |= more
    return found
