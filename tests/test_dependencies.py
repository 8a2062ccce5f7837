"""Everything a command needs at run time is a declared runtime dependency: every third-party
import anywhere in workbook_tools (also those inside functions) belongs to [project].dependencies."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata

from .conftest import ROOT

# Imported only for an optional output the README names as optional (merge --long .parquet).
OPTIONAL = {"pyarrow"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = (re.match(r"[A-Za-z0-9_.-]+", d).group(0) for d in project["dependencies"])
    return {n.lower().replace("_", "-") for n in names}


def _imports() -> dict[str, str]:
    found = {}
    for path in sorted((ROOT / "workbook_tools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_runtime_import_is_a_declared_dependency():
    declared = _declared()
    owners = metadata.packages_distributions()
    missing = []
    for top, where in _imports().items():
        if top in sys.stdlib_module_names or top in ("workbook_tools", "__future__"):
            continue
        if top in OPTIONAL:
            continue
        dists = {d.lower().replace("_", "-") for d in owners.get(top, [top])}
        if not dists & declared:
            missing.append(f"{top} ({where}; distribution {sorted(dists)})")
    assert not missing, "imported at run time but not in [project].dependencies: " + ", ".join(
        missing
    )


def test_every_subpackage_ships():
    """workbook_tools.importer was missing from the package list: an installed (not editable)
    wbtools failed `import` with ImportError."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = set(project["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "workbook_tools").rglob("__init__.py")
    }
    assert found <= shipped, sorted(found - shipped)
