"""The ``wbtools`` entry point: ``check`` and ``import`` run by a script start without the CLI
framework.

``wbtools check FILE`` is what a portal or a script calls once per uploaded file, and ``wbtools
import REPORT -o BOOK`` once per published report, so start-up is most of their cost: loading
typer and building its command tree takes longer than checking a workbook. When one of them is
called with options this module knows, in their plain forms, and no terminal is attached
(nothing to colour, no progress bar), the options are read here and the same function runs
(``commands.run_check``, ``commands.run_import``) that the typer command runs. Anything else
(help, other commands, a value to reject, an option this parser does not know) goes to typer in
``cli``, so every message, help text and error stays typer's. tests/test_startup.py holds the two
to the same options and output.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

# Each command's options as cli.py declares them: flag -> (parameter, kind), where kind is
# "path", "str", "int" (plain digits), "flag" (no value) or a tuple of the allowed values.
CHECK_OPTIONS: dict[str, tuple[str, Any]] = {
    "--format": ("output_format", ("text", "json")),
    "-f": ("output_format", ("text", "json")),
    "--previous": ("previous", "path"),
    "-p": ("previous", "path"),
    "--annotate": ("annotate", "path"),
    "-a": ("annotate", "path"),
    "--jobs": ("jobs", "int"),
    "-j": ("jobs", "int"),
    "--spec": ("spec_name", "str"),
    "--lang": ("lang", ("zh", "en")),
}
IMPORT_OPTIONS: dict[str, tuple[str, Any]] = {
    "--output": ("output", "path"),
    "-o": ("output", "path"),
    "--unit": ("unit", "str"),
    "-u": ("unit", "str"),
    "--year": ("year", "int"),
    "-y": ("year", "int"),
    "--kind": ("kind", "str"),
    "--force": ("force", "flag"),
    "--spec": ("spec_name", "str"),
    "--lang": ("lang", ("zh", "en")),
}
LANG_ENV = "WBTOOLS_LANG"


def _parse(args: list[str], options: dict[str, tuple[str, Any]]) -> dict[str, Any] | None:
    """Positional paths under "paths" and the options by parameter name, or None when typer
    should read them (help, ``--``, an unknown option, a missing or doubtful value)."""
    out: dict[str, Any] = {"paths": [], "lang": os.environ.get(LANG_ENV) or "zh"}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("-") or token == "-":
            out["paths"].append(Path(token))
            i += 1
            continue
        name, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name not in options:
            return None
        param, kind = options[name]
        i += 1
        if kind == "flag":
            if eq:
                return None
            out[param] = True
            continue
        if not eq:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        if isinstance(kind, tuple):
            if value not in kind:
                return None
            out[param] = value
        elif kind == "int":
            if not (value.isascii() and value.isdigit()):
                return None
            out[param] = int(value)
        elif kind == "path":
            if not value:
                return None
            out[param] = Path(value)
        else:
            out[param] = value
    if out["lang"] not in ("zh", "en"):
        return None
    return out


def parse_check(args: list[str]) -> dict[str, Any] | None:
    """The check command's arguments, or None when typer should read them."""
    out = _parse(args, CHECK_OPTIONS)
    if out is None or not out["paths"]:
        return None
    return out


def parse_import(args: list[str]) -> dict[str, Any] | None:
    """The import command's arguments, or None when typer should read them."""
    out = _parse(args, IMPORT_OPTIONS)
    if out is None or len(out["paths"]) != 1 or "output" not in out:
        return None
    out["published"] = out.pop("paths")[0]
    return out


def main() -> None:
    try:
        _run()
    except BrokenPipeError:
        # The reader went away (wbtools check … | head): end quietly with click's exit code for
        # the same case, and keep Python from reporting the failed flush of stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


def settled() -> None:
    """The command's modules are loaded: the collector runs again, past what they made
    (``gc.freeze``: kept out of every later collection, as it is never garbage)."""
    gc.freeze()
    gc.enable()


# A one-file import reads one bounded report and writes one workbook, making its objects in a
# few bursts (the report's lines, the cached spec, layout and prepared workbook, the recorded
# cells): the young generation is collected after this many new objects instead of 700, which
# walked the same young objects again and again (~3 % of an import). Cycles are still collected.
IMPORT_YOUNG = 20_000


def settled_for_import() -> None:
    """``settled``, the young generation collected less often (``IMPORT_YOUNG``)."""
    gc.set_threshold(IMPORT_YOUNG, *gc.get_threshold()[1:])
    settled()


def _run() -> None:
    args = sys.argv[1:]
    if args[:1] in (["check"], ["import"]) and not sys.stdout.isatty() and not sys.stderr.isatty():
        parsed = (parse_check if args[0] == "check" else parse_import)(args[1:])
        if parsed is not None:
            # Loading the command's modules makes some hundred thousand objects that live as
            # long as the process and are never garbage; the cyclic collector would walk them
            # again and again while they are made (~5 % of a one-file command). Off until they
            # are loaded, then they are set aside for good (``settled``).
            gc.disable()
            from . import commands

            commands.safe_streams()
            if args[0] == "check":
                code = commands.run_check(**parsed, settle=settled)
            else:
                code = commands.run_import(**parsed, settle=settled_for_import)
            # Done: what is left goes with the process. Frozen, it is not walked once more by
            # the collections the interpreter makes on its way out (~1 % of a one-file command).
            gc.freeze()
            sys.stdout.flush()
            sys.exit(code)
    from .cli import main as typer_main

    typer_main()
