"""Many wbtools command lines in one child process (the hostile-input battery's runner).

``python -m tests.battery_runner RUNS.json`` reads a list of argument lists and runs each through
the real entry point (``workbook_tools.launch.main``, as the ``wbtools`` script does), capturing
its output and exit code; an exception that escapes the command is recorded with its traceback.
One child for many command lines keeps the battery fast: starting Python and loading the CLI
costs more than most refusals. The parent (tests/hostile.py) puts the child under the same memory
and CPU limits as single runs, so a reader that allocates without bound still fails the test.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import traceback


def run(argv: list[str]) -> dict:
    from workbook_tools import launch

    out, err = io.StringIO(), io.StringIO()
    code: int | str = 0
    start = time.monotonic()
    saved = sys.argv
    sys.argv = ["wbtools", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            launch.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        err.write(traceback.format_exc())
        code = "raised"
    finally:
        sys.argv = saved
    return {
        "argv": argv,
        "code": code,
        "out": out.getvalue(),
        "err": err.getvalue(),
        "seconds": round(time.monotonic() - start, 3),
    }


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        runs = json.load(fh)
    results = [run(argv) for argv in runs]
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(results, fh, ensure_ascii=False)


if __name__ == "__main__":
    main()
