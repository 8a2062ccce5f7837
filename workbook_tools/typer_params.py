"""Cheap option parsing for the CLI: plain conversions for the parameter types wbtools uses.

Typer (0.2x) converts every command-line value through a pydantic ``TypeAdapter`` it builds on
first use; importing pydantic and building the adapters costs more than checking a workbook
(about 100 ms of a ~40 ms job), and wbtools is called once per file from scripts and portals.
The types wbtools declares (str, int, bool, Path, a list of paths, a StrEnum of choices) need
no schema: this converts them directly, with typer's own path and choice helpers and the same
error messages, and leaves every other annotation to typer. Typer's interface, help texts and
behaviour stay as they are. If typer's internals change, ``install`` does nothing and typer
works as before (only slower).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

# What pydantic accepts as a boolean (lax mode), for a flag given through an environment variable.
_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def install() -> bool:
    """Route wbtools' simple parameter types around pydantic; False if typer has no such hook."""
    try:
        from typer import core
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
        from typer._param_types import coerce_cli_choice, coerce_cli_path
    except ImportError:
        return False
    original = getattr(core, "build_runtime_param", None)
    if original is None or getattr(original, "_wbtools", False):
        return original is not None

    def convert(annotation: Any, value: Any, info: Any, param: Any, ctx: Any) -> Any:
        if annotation is str:
            return value if isinstance(value, str) else str(value)
        if annotation is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            try:
                return int(str(value).strip())
            except ValueError:
                raise BadParameter(
                    "Input should be a valid integer, unable to parse string as an integer",
                    ctx=ctx,
                    param=param,
                ) from None
        if annotation is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise BadParameter(
                "Input should be a valid boolean, unable to interpret input", ctx=ctx, param=param
            )
        if annotation is Path:
            path = value if isinstance(value, Path) else Path(value)
            return coerce_cli_path(path, info, path_type=Path, param=param, ctx=ctx)
        # An Enum of choices (checked by simple() below).
        try:
            return coerce_cli_choice(
                value, choices=tuple(annotation), case_sensitive=info.case_sensitive, ctx=ctx
            )
        except ValueError as exc:
            raise BadParameter(f"Value error, {exc}", ctx=ctx, param=param) from None

    def simple(annotation: Any) -> bool:
        if annotation in (str, int, bool, Path):
            return True
        return isinstance(annotation, type) and issubclass(annotation, Enum)

    class Plain(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            annotation, info = self.annotation, self.parameter_info
            if get_origin(annotation) is list:
                (item,) = get_args(annotation)
                return [convert(item, v, info, param, ctx) for v in value]
            return convert(annotation, value, info, param, ctx)

    def build(descriptor: Any) -> Any:
        annotation, info = descriptor.annotation, descriptor.parameter_info
        plain = descriptor.file_annotation is None and (
            getattr(info, "parser", None) is None and getattr(info, "click_type", None) is None
        )
        if plain and get_origin(annotation) is list:
            args = get_args(annotation)
            plain = len(args) == 1 and simple(args[0])
        elif plain:
            plain = simple(annotation) and info.min is None and info.max is None
        if plain:
            return Plain(parameter_info=info, annotation=annotation)
        return original(descriptor)

    build._wbtools = True  # type: ignore[attr-defined]
    core.build_runtime_param = build
    return True
