"""Equality and repr by fields, as a dataclass has them, for the record classes ``wbtools check``
loads (findings, filings, reports, packages, layouts, the spec).

Why not dataclasses: ``wbtools check one.xlsx`` is called once per file, and importing
``dataclasses`` (which imports inspect, ast, dis and tokenize) costs about 60 M instructions per
process, each class it builds 2-4 M more (it compiles every generated method separately) -- a
quarter of a one-file check. These classes write their ``__init__`` out instead; this mixin
gives them the rest. (No import here: it is the bottom of the package.)

Why not ``typing.NamedTuple`` for the tuple records (Place, Source, Value, the spec's parts): it
compiles every field's annotation (a string, under ``from __future__ import annotations``) into a
``ForwardRef``, about 1 M instructions per class on top of ``collections.namedtuple``'s own ~0.5
M, and importing ``typing`` is 12 M more. They subclass ``collections.namedtuple`` (same tuple,
fields, defaults, ``_replace``, pickling), their field types written as comments; modules that
name ``typing``'s types in annotations import it only for type checkers (``TYPE_CHECKING``).
A one-file import (tests/test_startup.py keeps it so) loads neither ``typing`` nor ``dataclasses``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is not imported at run time: see above)
if TYPE_CHECKING:
    from typing import Any


class Record:
    """``__eq__`` (same class, fields equal in order) and ``__repr__`` over ``_fields``, as
    ``dataclass(eq=True)`` generates them; unhashable like such a dataclass unless the class
    says otherwise."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({shown})"
