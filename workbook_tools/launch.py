"""The ``wbtools`` entry point: ``check`` run by a script starts without the CLI framework.

``wbtools check FILE`` is what a portal or a script calls once per uploaded file, so its start-up
is most of its cost: loading typer and building its command tree takes longer than checking the
workbook. When ``check`` is called with options this module knows, in their plain forms, and no
terminal is attached (nothing to colour, no progress bar), the options are read here and the same
``commands.run_check`` runs that the typer command runs. Anything else (help, other commands, a value to
reject, an option this parser does not know) goes to typer in ``cli``, so every message, help
text and error stays typer's. tests/test_startup.py holds the two to the same options and output.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# The check command's options as cli.py declares them: flag -> (parameter, allowed values).
CHECK_OPTIONS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "--format": ("output_format", ("text", "json")),
    "-f": ("output_format", ("text", "json")),
    "--previous": ("previous", None),
    "-p": ("previous", None),
    "--annotate": ("annotate", None),
    "-a": ("annotate", None),
    "--jobs": ("jobs", None),
    "-j": ("jobs", None),
    "--spec": ("spec_name", None),
    "--lang": ("lang", ("zh", "en")),
}
LANG_ENV = "WBTOOLS_LANG"


def parse_check(args: list[str]) -> dict[str, Any] | None:
    """The check command's arguments, or None when typer should read them."""
    out: dict[str, Any] = {"paths": [], "lang": os.environ.get(LANG_ENV) or "zh"}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("-") or token == "-":
            out["paths"].append(Path(token))
            i += 1
            continue
        name, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name not in CHECK_OPTIONS or (not eq and i + 1 >= len(args)):
            return None  # --help, --, an unknown option or a missing value: typer says what
        if not eq:
            value = args[i + 1]
            i += 1
        i += 1
        param, allowed = CHECK_OPTIONS[name]
        if allowed is not None and value not in allowed:
            return None
        if param == "jobs":
            try:
                out[param] = int(value)
            except ValueError:
                return None
        elif param in ("previous", "annotate"):
            out[param] = Path(value)
        else:
            out[param] = value
    if not out["paths"] or out["lang"] not in ("zh", "en"):
        return None
    return out


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["check"] and not sys.stdout.isatty() and not sys.stderr.isatty():
        parsed = parse_check(args[1:])
        if parsed is not None:
            from .commands import run_check, safe_streams

            safe_streams()
            code = run_check(**parsed)
            sys.stdout.flush()
            sys.exit(code)
    from .cli import main as typer_main

    typer_main()
