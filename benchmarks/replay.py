"""Bare xlsxwriter making the very calls wbtools makes: the reference for writing workbooks.

``record(render)`` runs a render while recording each outermost public call on xlsxwriter's
Workbook, Worksheet and Format objects; ``plan`` turns the record into plain data (picklable:
objects become slots) and ``replay(plan)`` makes the same calls on a plain ``xlsxwriter.Workbook``
writing to memory. Only the standard library and xlsxwriter are imported here, so a process that
replays a plan is the floor of any program writing that workbook with xlsxwriter.

    python benchmarks/replay.py PLAN.pickle OUT.xlsx     (what cli-import-one times as its floor)
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable


def record(render: Callable[[], object]) -> tuple[list[tuple], dict]:
    """Run ``render`` while recording every outermost public call it makes on xlsxwriter's
    Workbook, Worksheet and Format objects (a call xlsxwriter makes inside another is not kept):
    what a bare program must call to write the same workbook. Also returns each formula as
    xlsxwriter prepared it (its ``_xlfn.`` rewriting), so a replay can skip that step: the
    floor is xlsxwriter writing formulas already in their final form."""
    from xlsxwriter.format import Format
    from xlsxwriter.workbook import Workbook
    from xlsxwriter.worksheet import Worksheet

    calls: list[tuple] = []
    prepared: dict = {}
    depth = [0]
    patched = []

    def wrap(name: str, fn: Callable) -> Callable:
        def wrapper(self, *args, **kwargs):
            depth[0] += 1
            try:
                result = fn(self, *args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                calls.append((self, name, args, kwargs, result))
            return result

        return wrapper

    for cls in (Workbook, Worksheet, Format):
        for name, fn in list(vars(cls).items()):
            if callable(fn) and (name == "__init__" or not name.startswith("_")):
                patched.append((cls, name, fn))
                setattr(cls, name, wrap(name, fn))

    original = Worksheet._prepare_formula

    def prepare(self, formula, expand_future_functions=False):
        result = original(self, formula, expand_future_functions)
        prepared[(formula, bool(expand_future_functions or self.use_future_functions))] = result
        return result

    # xlsxwriter's own preparation in every worksheet class (a subclass's cache included)
    patched_types = [
        (cls, vars(cls)["_prepare_formula"])
        for cls in (Worksheet, *Worksheet.__subclasses__())
        if "_prepare_formula" in vars(cls)
    ]
    for cls, _ in patched_types:
        cls._prepare_formula = prepare
    try:
        render()
    finally:
        for cls, name, fn in patched:
            setattr(cls, name, fn)
        for cls, fn in patched_types:
            cls._prepare_formula = fn
    return calls, prepared


class _Slot(int):
    """Where a recorded xlsxwriter object (workbook, worksheet, format) is in a replay."""


def plan(recorded: tuple[list[tuple], dict]) -> tuple[list[tuple], dict]:
    """The recorded calls as plain data: every xlsxwriter object replaced by its ``_Slot``, and
    for each call the argument positions holding one (worked out before timing, so the replay
    does only the calls); with the prepared formulas."""
    from xlsxwriter.format import Format
    from xlsxwriter.workbook import Workbook
    from xlsxwriter.worksheet import Worksheet

    calls, prepared = recorded
    slots: dict[int, _Slot] = {}

    def slotted(x):
        if isinstance(x, Workbook | Worksheet | Format):
            return slots[id(x)]
        if isinstance(x, dict):
            return {k: slotted(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return type(x)(slotted(v) for v in x)
        return x

    steps = []
    for obj, name, args, kwargs, result in calls:
        if name == "__init__":
            if isinstance(obj, Workbook):
                slots[id(obj)] = _Slot(len(slots))
                options = dict(args[1]) if len(args) > 1 else dict(kwargs.get("options") or {})
                steps.append((slots[id(obj)], name, (), options, None, ()))
            continue
        # the replay's own worksheet class, not the caller's
        kwargs = {k: v for k, v in slotted(kwargs).items() if k != "worksheet_class"}
        args = slotted(args)
        fixed = tuple(i for i, v in enumerate(args) if isinstance(v, _Slot))
        deep = any(isinstance(v, dict | list | tuple) for v in (*args, *kwargs.values()))
        made = None
        if isinstance(result, Worksheet | Format):
            made = slots[id(result)] = _Slot(len(slots))
        steps.append((slots[id(obj)], name, args, kwargs, made, "deep" if deep else fixed))
    return steps, prepared


def replay(planned: tuple[list[tuple], dict]) -> bytes:
    """Make the planned calls again on a plain ``xlsxwriter.Workbook`` writing to memory."""
    from xlsxwriter.workbook import Workbook
    from xlsxwriter.worksheet import Worksheet

    steps, prepared = planned

    class Prepared(Worksheet):
        """A worksheet given its formulas in their final form (prepared when recorded)."""

        def _prepare_formula(self, formula, expand_future_functions=False):
            key = (formula, bool(expand_future_functions or self.use_future_functions))
            found = prepared.get(key)
            return found if found is not None else super()._prepare_formula(formula, key[1])

    made: list = [None] * (len(steps) + 1)
    buffer = io.BytesIO()

    def mapped(x):
        if isinstance(x, _Slot):
            return made[x]
        if isinstance(x, dict):
            return {k: mapped(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return type(x)(mapped(v) for v in x)
        return x

    for target, name, args, kwargs, result, fix in steps:
        if name == "__init__":
            made[target] = Workbook(buffer, kwargs)
            continue
        if fix == "deep":
            args, kwargs = mapped(args), mapped(kwargs)
        elif fix:
            args = list(args)
            for i in fix:
                args[i] = made[args[i]]
        if name == "add_worksheet":
            kwargs = {**kwargs, "worksheet_class": Prepared}
        answer = getattr(made[target], name)(*args, **kwargs)
        if result is not None:
            made[result] = answer
    return buffer.getvalue()


def main(plan_path: str, out_path: str) -> None:
    import pickle

    import replay as this  # the plan's slots are this module's _Slot, not __main__'s

    with open(plan_path, "rb") as fh:
        planned = pickle.load(fh)
    with open(out_path, "wb") as fh:
        fh.write(this.replay(planned))


if __name__ == "__main__":
    main(*sys.argv[1:3])
