"""The report format as data: load a spec file from ``templates/`` into frozen objects.

The loader validates everything it can before anything uses the spec (structure, unique ids,
rule expressions, that every computed total is defined by exactly one rule and that totals do not
depend on themselves) and raises a ``Failure`` whose finding names the problem and its place in
the file, so a province editing its own spec gets told what to fix.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import sys
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from pathlib import Path

from . import rules
from .cache import cache_dir
from .findings import Failure, Finding, Severity, fail
from .record import Record

try:  # pickle's C half, which pickle.loads and dumps are: pickle.py itself costs ~5 M instructions
    from _pickle import dumps as _dumps
    from _pickle import loads as _loads
except ImportError:  # (a Python without it)
    from pickle import dumps as _dumps
    from pickle import loads as _loads

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

DEFAULT_FORMAT = "gov_disclosure_2021"
TYPE_KINDS = ("integer", "decimal", "signed")  # signed: whole numbers of any sign (本年增/减)
SHOW = ("row", "column")
UNIT_KINDS = ("乡镇", "街道", "部门", "政府", "其他")


class Text(
    namedtuple(
        "Text",
        (
            "zh",  # str
            "en",  # str
        ),
    )
):
    """A text in both languages."""

    __slots__ = ()

    def get(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


class ValueType(
    namedtuple(
        "ValueType",
        (
            "id",  # str
            "kind",  # str: integer | decimal
            "unit",  # str
            "hint",  # Text
            "error",  # Text
        ),
    )
):
    """A type of datapoint value (integer or decimal) and its unit."""

    __slots__ = ()


class Header(
    namedtuple(
        "Header",
        (
            "label",  # str | None
            "key",  # str | None
            "children",  # tuple[Header, ...]
            "span",  # int
            "computed",  # bool
            "type",  # str | None: a column leaf's own value type, where it differs from its block's
        ),
        defaults=((), 1, False, None),
    )
):
    """A node of a row or column header tree. Leaves carry data; ``span`` is a leaf's width."""

    __slots__ = ()

    def leaves(self) -> Iterator[tuple[tuple[Header, ...], Header]]:
        """Yield (path from this node down, leaf) for every leaf under this node."""
        if not self.children:
            yield (self,), self
            return
        for child in self.children:
            for path, leaf in child.leaves():
                yield (self, *path), leaf

    @property
    def depth(self) -> int:
        return 1 + max((c.depth for c in self.children), default=0)


class Block(
    namedtuple(
        "Block",
        (
            "caption",  # str | None
            "corner",  # str | None
            "type",  # str
            "columns",  # tuple[Header, ...]
            "rows",  # tuple[Header, ...]
        ),
    )
):
    """One block of a table: its caption, corner label, value type and header trees."""

    __slots__ = ()

    def column_leaves(self) -> list[tuple[tuple[Header, ...], Header]]:
        return [item for top in self.columns for item in top.leaves()]

    def row_leaves(self) -> list[tuple[tuple[Header, ...], Header]]:
        return [item for top in self.rows for item in top.leaves()]

    @property
    def header_depth(self) -> int:
        return max(c.depth for c in self.columns)

    @property
    def stub_width(self) -> int:
        """Columns taken by row labels (0 for a table with one unlabelled row, like 表四)."""
        if all(leaf.label is None for _, leaf in self.row_leaves()):
            return 0
        return max(r.depth for r in self.rows)

    @property
    def width(self) -> int:
        return self.stub_width + sum(leaf.span for _, leaf in self.column_leaves())


class Table(
    namedtuple(
        "Table",
        (
            "id",  # str
            "sheet",  # str
            "title",  # str
            "heading",  # str: the section heading the table belongs to, e.g. 三、收到和处理…
            "landscape",  # bool
            "blocks",  # tuple[Block, ...]
        ),
    )
):
    """One of the official tables (表二–表四): its sheet, title and blocks."""

    __slots__ = ()

    @property
    def width(self) -> int:
        return self.blocks[0].width

    @property
    def name(self) -> str:
        """How messages name the table: 表三“收到和处理政府信息公开申请情况”."""
        return f"表{self.heading[0]}“{self.title}”"


class Datapoint(
    namedtuple(
        "Datapoint",
        (
            "id",  # str
            "table",  # str
            "block",  # int
            "row",  # int: index among the block's row leaves
            "col",  # int: index among the block's column leaves
            "type",  # str
            "computed",  # bool
            "row_key",  # str: keys along the row header path, joined by "." ("" for an unlabelled row)
            "col_key",  # str
            "row_labels",  # tuple[tuple[str | None, str], ...]: (key, label) along the row header path
            "col_labels",  # tuple[tuple[str | None, str], ...]
        ),
    )
):
    """One table cell a unit reports (or a computed total), with its labels and place."""

    __slots__ = ()

    def label(self, sep: str = " / ") -> str:
        parts = [lab for _, lab in self.row_labels] + [lab for _, lab in self.col_labels]
        return sep.join(parts)


class Field(
    namedtuple(
        "Field",
        (
            "id",  # str
            "label",  # str
            "label_en",  # str
            "required",  # bool
            "hint",  # Text
            "prefilled",  # bool
            "type",  # str
        ),
        defaults=(False, "text"),
    )
):
    """A narrative field (text a unit writes) or a basic-information field."""

    __slots__ = ()


class Section(
    namedtuple(
        "Section",
        (
            "id",  # str
            "heading",  # str
            "fields",  # tuple[Field, ...]
            "table",  # str | None
        ),
    )
):
    """A section of the report: its heading, narrative fields and table, if any."""

    __slots__ = ()


class Rule(
    namedtuple(
        "Rule",
        (
            "code",  # str
            "severity",  # Severity
            "name",  # Text
            "message",  # Text
            "show",  # str
            "defines",  # bool
            "instances",  # tuple[rules.Instance, ...]
        ),
    )
):
    """A rule of the spec (R1, W1, …): its code, severity, words and concrete instances."""

    __slots__ = ()


class Spec(Record):
    """A report format, validated and compiled from its YAML file (see ``load``). Immutable.
    (A record written out, not a frozen dataclass: see ``record``.)"""

    _fields = (
        "format_id",
        "version",
        "revision",
        "name",
        "basis",
        "title",
        "types",
        "info",
        "sections",
        "tables",
        "datapoints",
        "sets",
        "rules",
        "totals",
        "hash",
        "source",
    )
    format_id: str
    version: str
    revision: int
    name: str
    basis: str
    title: str
    types: Mapping[str, ValueType]
    info: tuple[Field, ...]
    sections: tuple[Section, ...]
    tables: tuple[Table, ...]
    datapoints: Mapping[str, Datapoint]
    sets: Mapping[str, tuple[str, ...]]
    rules: tuple[Rule, ...]
    totals: tuple[tuple[str, tuple[str, ...]], ...]  # (total id, summed ids), dependency order
    hash: str
    source: str

    def __init__(self, **fields: Any) -> None:
        if fields.keys() != set(self._fields):
            raise TypeError(f"Spec needs exactly the fields {', '.join(self._fields)}")
        self.__dict__.update(fields)  # (frozen: see __setattr__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    @cached_property
    def kinds(self) -> dict[str, str]:
        """Datapoint id -> type kind (integer/decimal)."""
        return {d.id: self.types[d.type].kind for d in self.datapoints.values()}

    @cached_property
    def inputs(self) -> tuple[str, ...]:
        return tuple(i for i, d in self.datapoints.items() if not d.computed)

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        return tuple(f for s in self.sections for f in s.fields)

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)

    def rule(self, code: str) -> Rule:
        return next(r for r in self.rules if r.code == code)

    def instances(self) -> Iterator[tuple[Rule, rules.Instance]]:
        for rule in self.rules:
            for inst in rule.instances:
                yield rule, inst

    def compute(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """All datapoint values with every total recomputed from the inputs."""
        return self._totals(values)

    @cached_property
    def _totals(self) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        return rules.compile_totals(self.inputs, self.totals)

    @cached_property
    def total_ids(self) -> tuple[str, ...]:
        """The computed totals, in dependency order (as ``totals``)."""
        return tuple(target for target, _ in self.totals)

    @cached_property
    def comparisons(self) -> tuple[tuple[Rule, rules.Instance], ...]:
        """The rule instances that compare sums (all but the type rule), in the spec's order."""
        return tuple((rule, inst) for rule, inst in self.instances() if inst.op != "type")

    @cached_property
    def _failing(self) -> Callable:
        return rules.compile_failing([(inst, rule.defines) for rule, inst in self.comparisons])

    def failing(
        self, defined: Mapping[str, Any], other: Mapping[str, Any], unit_kind: str | None
    ) -> list[tuple[Rule, rules.Instance]]:
        """The comparisons that do not hold, in order: the defining rules' (R2-R4: a total is
        the sum of ...) over ``defined``, the others over ``other``; the same answer as
        ``rules.holds`` gives one by one."""
        comparisons = self.comparisons
        return [comparisons[i] for i in self._failing(defined, other, unit_kind)]

    def __getstate__(self) -> dict[str, Any]:
        # The planned evaluators (closures) are not pickled (a compiled spec is cached as a pickle).
        return {k: v for k, v in self.__dict__.items() if k not in ("_totals", "_failing")}

    def failures(
        self, values: Mapping[str, Any], unit_kind: str | None = None
    ) -> list[tuple[Rule, rules.Instance]]:
        """Rule instances that do not hold over ``values`` (totals as given, not recomputed)."""
        return [
            (rule, inst)
            for rule, inst in self.instances()
            if not rules.holds(inst, values, self.kinds, unit_kind)
        ]

    def where(self, inst: rules.Instance, lang: str = "zh") -> str:
        """Human label of what an instance concerns, e.g. 自然人 for R1[natural]."""
        dp = self.datapoints[inst.at]
        if inst.op == "type" or not inst.binding:
            labels = [lab for _, lab in dp.row_labels] or [self.table(dp.table).title]
            return " ".join(labels)
        path = dp.row_labels + dp.col_labels
        bound = {v for _, v in inst.binding}
        return " ".join(lab for key, lab in path if key in bound)


# --- loading -----------------------------------------------------------------------------


def _bundled_folder() -> Path:
    # The package's own folder, as importlib.resources.files would give for a package on disk
    # (importing importlib.resources costs more than a one-file check's whole reading).
    from . import templates

    return Path(templates.__file__).parent


def bundled_path(name: str = DEFAULT_FORMAT) -> Path:
    return _bundled_folder() / f"{name}.yaml"


def bundled_names() -> list[str]:
    return sorted(p.name[:-5] for p in _bundled_folder().iterdir() if p.name.endswith(".yaml"))


def resolve(format_arg: str | Path | None) -> Path:
    """``--format``: a bundled format name (e.g. gov_disclosure_2021) or a path to a spec file."""
    if format_arg is None:
        return bundled_path()
    text = str(format_arg)
    if text in bundled_names():
        return bundled_path(text)
    return Path(text)


def for_version(version: str | None) -> Spec | None:
    """The bundled spec of a format version (a workbook's metadata names it), if there is one."""
    for name in bundled_names():
        candidate = load(name)
        if candidate.version == version:
            return candidate
    return None


_CACHE: dict[tuple[str, float, int], Spec] = {}


MAX_SPEC_BYTES = 2 * 1024 * 1024  # the bundled spec is ~30 KB
MAX_SPEC_NODES = 200_000  # YAML nodes with every alias expanded (the bundled spec: ~5,000)
MAX_RULE_INSTANCES = 100_000  # one rule's 'each' combinations (the bundled spec: at most 49)
MAX_FORMAT_WIDTH = 200  # {x:>200} is the widest padding a message or title may ask for


def load(format_arg: str | Path | None = None) -> Spec:
    """Load and validate a spec (cached per file and modification time, and compiled once per
    content in the user's cache folder, see ``compiled``)."""
    from . import intake

    path = resolve(format_arg)
    try:
        stat = intake.vet_input(path)
        raw_bytes = intake.read_input(path, MAX_SPEC_BYTES)
    except intake.InputRefused as exc:
        raise fail("S101", detail=f"{path}: {exc}") from None
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    if key not in _CACHE:
        _CACHE[key] = compiled(raw_bytes, source=str(path))
    return _CACHE[key]


def code_parts(*names: str) -> list[bytes]:
    """The source of the package's modules ``names`` (paths under the package): a cache key part,
    so that an entry built by other code is never used."""
    here = Path(__file__).parent
    return [(here / n).read_bytes() for n in names]


def cached(prefix: str, parts: list[bytes], build: Callable[[], Any], valid: Callable) -> Any:
    """``build()``, kept pickled in ``cache_dir()`` as ``<prefix>-<key>.pickle``, the key a
    checksum of ``parts`` and the Python version (give the inputs and the code that builds the
    value: a change to either makes a new key). CRC-32 and Adler-32, not hashlib: loading OpenSSL's
    hashes costs more start-up time than the rest of this; the key only tells the user's own
    entries apart. An entry that cannot be read, or that ``valid`` refuses, is rebuilt; one
    that cannot be written is skipped: the cache is never an error."""
    folder = cache_dir()
    if folder is None:
        return build()
    data = b"\0".join([sys.version.encode(), *parts])
    # (ISA-L's CRC-32 and Adler-32: zlib's values, ~7 times faster over the ~400 KB of source
    # an import's keys hold)
    from isal.isal_zlib import adler32, crc32

    entry = folder / f"{prefix}-{crc32(data):08x}{adler32(data):08x}{len(data):x}.pickle"
    try:
        value = _loads(entry.read_bytes())
        if valid(value):
            return value
    except Exception:  # missing, truncated or from another version: rebuild below
        pass
    value = build()
    import tempfile  # only when an entry is written

    temp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{prefix}-", delete=False) as fh:
            temp = Path(fh.name)
            fh.write(_dumps(value, protocol=5))  # (pickle.HIGHEST_PROTOCOL)
        os.replace(temp, entry)  # atomic: a concurrent reader sees the whole entry or none
    except OSError:  # a read-only home: no cache, same result
        with contextlib.suppress(OSError):
            if temp is not None:
                temp.unlink(missing_ok=True)
    return value


def compiled(raw_bytes: bytes, source: str = "<spec>") -> Spec:
    """``loads``, kept compiled (pickled) in ``cache_dir()`` under a hash of the spec's bytes, its
    path and the builder's code: parsing and validating the YAML takes longer than checking a
    file, and wbtools is called once per file."""
    return cached(
        "spec",
        [source.encode(), raw_bytes, *code_parts("spec.py", "rules.py", "findings.py")],
        lambda: loads(raw_bytes, source),
        lambda spec: isinstance(spec, Spec) and spec.source == source,
    )


def loads(raw_bytes: bytes, source: str = "<spec>") -> Spec:
    import yaml  # only when a spec is compiled, not on every call (see compiled)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = raw_bytes.decode("utf-8-sig")
        # Aliases make a small file a huge (or endless) document: its size with every alias
        # expanded is counted on the node graph before anything is built or hashed from it.
        _bounded(yaml.compose(text, Loader=loader), source)
        data = yaml.load(text, Loader=loader)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise fail("S101", detail=f"{source}: {exc}") from None
    except RecursionError:
        raise fail("S101", detail=f"{source}: nested too deeply") from None
    try:
        _texts_are_safe(data, "")
        return _Builder(data, source).build()
    except _Invalid as exc:
        raise Failure([Finding("S102", {"detail": f"{source}: {exc}"})]) from None


# The template's own sheets, and the one name Excel reserves.
_RESERVED_SHEETS = (
    "填报说明",
    "基本信息",
    "文字部分",
    "校验结果",
    "_meta",
    "问题清单",
    "问题清单 findings",
    "history",
)


def _bounded(root: Any, source: str) -> None:
    """Refuse a YAML node graph that refers to itself or expands beyond MAX_SPEC_NODES."""
    if root is None:
        return
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # post-order without recursion: children's expanded sizes first
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[key] > MAX_SPEC_NODES:
                raise fail(
                    "S101", detail=f"{source}: over {MAX_SPEC_NODES} nodes with aliases expanded"
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise fail("S101", detail=f"{source}: an alias refers to itself (recursive)")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)


def _children(node: Any) -> list[Any]:
    import yaml  # loaded by loads already; imported here, not at the top (see compiled)

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return []


@functools.cache
def _formatter():
    import string  # (only when a spec is built: its Template class compiles a pattern on import)

    return string.Formatter()


def _texts_are_safe(value: Any, where: str) -> None:
    """Every text with a placeholder is a template something will format: its placeholders
    must be plain names, with at most a short format (no padding to 900 million characters, no
    attribute or index access), and its braces must pair."""
    if isinstance(value, dict):
        for k, v in value.items():
            _texts_are_safe(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _texts_are_safe(v, f"{where}[{i}]")
    elif isinstance(value, str) and ("{" in value or "}" in value):
        try:
            fields = list(_formatter().parse(value))
        except ValueError as exc:
            raise _Invalid(f"{where}: {exc} in {value[:80]!r}") from None
        for _, name, spec, conversion in fields:
            if name is None:
                continue
            _need(name.isidentifier(), where, f"placeholder {{{name}}} is not a plain name")
            _need(conversion is None, where, f"placeholder {{{name}!{conversion}}}: no conversions")
            good = re.fullmatch(r"[<>^=]?[+\- ]?,?\d{0,3}(?:\.\d{1,2})?[dfgs%]?", spec or "")
            width = re.search(r"\d+", spec or "")
            _need(
                bool(good) and (not width or int(width.group()) <= MAX_FORMAT_WIDTH),
                where,
                f"placeholder {{{name}:{spec}}}: format not allowed",
            )


class _Invalid(Exception):
    pass


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise _Invalid(f"{where}: {what}")


def _get(d: Any, key: str, where: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    _need(isinstance(d, dict), where, "expected a mapping")
    if key not in d or d[key] is None:
        _need(default is not ..., where, f"missing '{key}'")
        return default
    value = d[key]
    _need(isinstance(value, kind), f"{where}.{key}", f"expected {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "text",
        int: "a whole number",
        bool: "true/false",
        list: "a list",
        dict: "a mapping",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _text(value: Any, where: str) -> Text:
    if isinstance(value, str):
        return Text(value, value)
    _need(isinstance(value, dict), where, "expected text or {zh: …, en: …}")
    return Text(_get(value, "zh", where, str), _get(value, "en", where, str))


class _Builder:
    def __init__(self, data: Any, source: str):
        _need(isinstance(data, dict), "top level", "expected a mapping")
        self.data = data
        self.source = source

    def build(self) -> Spec:
        d = self.data
        fmt = _get(d, "format", "format", dict)
        types = self._types()
        tables, datapoints = self._tables(types)
        sections = self._sections(tables)
        sets = self._sets(tables)
        rule_list, totals = self._rules(datapoints, sets)
        import json  # (only when a spec is built, not when its compiled form is loaded)

        canonical = json.dumps(_structure(d), sort_keys=True, ensure_ascii=False, default=str)
        return Spec(
            format_id=_get(fmt, "id", "format", str),
            version=str(_get(fmt, "version", "format", (str, int))),
            revision=_get(fmt, "revision", "format", int, 1),
            name=_get(fmt, "name", "format", str),
            basis=_get(fmt, "basis", "format", str, ""),
            title=_get(fmt, "title", "format", str),
            types=types,
            info=self._info(),
            sections=sections,
            tables=tables,
            datapoints=datapoints,
            sets=sets,
            rules=rule_list,
            totals=totals,
            hash=_sha256(canonical.encode()),
            source=self.source,
        )

    def _types(self) -> dict[str, ValueType]:
        raw = _get(self.data, "types", "top level", dict)
        out = {}
        for tid, t in raw.items():
            where = f"types.{tid}"
            kind = _get(t, "kind", where, str)
            _need(kind in TYPE_KINDS, f"{where}.kind", f"must be one of {', '.join(TYPE_KINDS)}")
            out[tid] = ValueType(
                id=tid,
                kind=kind,
                unit=_get(t, "unit", where, str, ""),
                hint=_text(_get(t, "hint", where, (str, dict)), f"{where}.hint"),
                error=_text(_get(t, "error", where, (str, dict)), f"{where}.error"),
            )
        _need(bool(out), "types", "declare at least one type")
        return out

    def _field(self, f: Any, where: str, section: bool) -> Field:
        fid = _get(f, "id", where, str)
        label = _get(f, "label", where, str)
        return Field(
            id=fid,
            label=label,
            label_en=_get(f, "label_en", where, str, label),
            required=_get(f, "required", where, bool, section),
            hint=_text(_get(f, "hint", where, (str, dict), ""), f"{where}.hint"),
            prefilled=_get(f, "prefilled", where, bool, False),
            type=_get(f, "type", where, str, "text"),
        )

    def _info(self) -> tuple[Field, ...]:
        raw = _get(self.data, "info", "top level", list)
        fields = tuple(self._field(f, f"info[{i}]", False) for i, f in enumerate(raw))
        ids = [f.id for f in fields]
        for needed in ("unit", "year", "kind"):
            _need(needed in ids, "info", f"must declare the '{needed}' field")
        return fields

    def _header(self, node: Any, where: str, needs_key: bool) -> Header:
        _need(isinstance(node, dict), where, "expected a mapping")
        children_raw = _get(node, "children", where, list, [])
        label = _get(node, "label", where, str, None)
        key = _get(node, "key", where, str, None)
        if key is not None:
            _need(key.isidentifier() and key.isascii(), f"{where}.key", "use letters, digits, _")
        children = tuple(
            self._header(c, f"{where}.children[{i}]", needs_key) for i, c in enumerate(children_raw)
        )
        if not children and needs_key:
            _need(key is not None, where, "a leaf needs a 'key'")
        if children:
            _need(label is not None, where, "a header with children needs a 'label'")
        span = _get(node, "span", where, int, 1)
        _need(span >= 1, f"{where}.span", "must be 1 or more")
        kind = _get(node, "type", where, str, None)
        _need(kind is None or not children, f"{where}.type", "only a leaf has its own 'type'")
        return Header(label, key, children, span, _get(node, "computed", where, bool, False), kind)

    def _tables(self, types: Mapping[str, ValueType]) -> tuple[tuple[Table, ...], dict]:
        raw = _get(self.data, "tables", "top level", list)
        headings = {
            s.get("table"): s.get("heading")
            for s in _get(self.data, "sections", "top level", list)
            if isinstance(s, dict)
        }
        tables, datapoints = [], {}
        for ti, t in enumerate(raw):
            where = f"tables[{ti}]"
            tid = _get(t, "id", where, str)
            blocks = []
            for bi, b in enumerate(_get(t, "blocks", where, list)):
                bw = f"{where}.blocks[{bi}]"
                btype = _get(b, "type", bw, str)
                _need(btype in types, f"{bw}.type", f"unknown type '{btype}'")
                cols = tuple(
                    self._header(c, f"{bw}.columns[{i}]", True)
                    for i, c in enumerate(_get(b, "columns", bw, list))
                )
                for i, column in enumerate(cols):
                    for _, leaf in column.leaves():
                        _need(
                            leaf.type is None or leaf.type in types,
                            f"{bw}.columns[{i}]",
                            f"unknown type '{leaf.type}'",
                        )
                rows_raw = _get(b, "rows", bw, list)
                unlabelled = len(rows_raw) == 1 and not rows_raw[0]
                rows = tuple(
                    self._header(r, f"{bw}.rows[{i}]", not unlabelled)
                    for i, r in enumerate(rows_raw)
                )
                _need(bool(cols) and bool(rows), bw, "needs columns and rows")
                for _, leaf in (x for r in rows for x in r.leaves()):
                    _need(leaf.type is None, bw, f"row '{leaf.key}': only a column has a 'type'")
                    if not unlabelled:
                        _need(leaf.label is not None, bw, f"row '{leaf.key}' needs a 'label'")
                block = Block(
                    caption=_get(b, "caption", bw, str, None),
                    corner=_get(b, "corner", bw, str, None),
                    type=btype,
                    columns=cols,
                    rows=rows,
                )
                if blocks:
                    _need(block.width == blocks[0].width, bw, "width differs from the first block")
                blocks.append(block)
                self._datapoints(tid, len(blocks) - 1, block, datapoints, bw)
            _need(bool(blocks), where, "needs at least one block")
            _need(tid in headings, where, f"no section has 'table: {tid}'")
            sheet = _get(t, "sheet", where, str)
            _need(
                len(sheet) <= 31 and not set(sheet) & set("[]:*?/\\"),
                f"{where}.sheet",
                "a sheet name has at most 31 characters and none of []:*?/\\",
            )
            _need(
                sheet.strip()
                and sheet.casefold() not in _RESERVED_SHEETS
                and not sheet.startswith("'")
                and not sheet.endswith("'"),
                f"{where}.sheet",
                "a sheet name must not be blank, quoted, or one of " + "、".join(_RESERVED_SHEETS),
            )
            tables.append(
                Table(
                    id=tid,
                    sheet=sheet,
                    title=_get(t, "title", where, str),
                    heading=headings[tid],
                    landscape=_get(t, "landscape", where, bool, False),
                    blocks=tuple(blocks),
                )
            )
        _need(len({t.id for t in tables}) == len(tables), "tables", "table ids must be unique")
        _need(len({t.sheet for t in tables}) == len(tables), "tables", "sheet names must be unique")
        return tuple(tables), datapoints

    def _datapoints(self, tid: str, bi: int, block: Block, out: dict, where: str) -> None:
        skip_root = 1 if len(block.columns) == 1 and block.columns[0].children else 0
        for ri, (rpath, rleaf) in enumerate(block.row_leaves()):
            for ci, (cpath, cleaf) in enumerate(block.column_leaves()):
                row_key = ".".join(h.key for h in rpath if h.key)
                col_key = ".".join(h.key for h in cpath if h.key)
                dp_id = ".".join(k for k in (tid, row_key, col_key) if k)
                _need(dp_id not in out, where, f"datapoint id '{dp_id}' is declared twice")
                out[dp_id] = Datapoint(
                    id=dp_id,
                    table=tid,
                    block=bi,
                    row=ri,
                    col=ci,
                    type=cleaf.type or block.type,
                    computed=rleaf.computed or cleaf.computed,
                    row_key=row_key,
                    col_key=col_key,
                    row_labels=tuple((h.key, h.label) for h in rpath if h.label),
                    # A lone root over every column (表三's 申请人情况) says nothing about a cell.
                    col_labels=tuple((h.key, h.label) for h in cpath[skip_root:] if h.label),
                )

    def _sections(self, tables: tuple[Table, ...]) -> tuple[Section, ...]:
        raw = _get(self.data, "sections", "top level", list)
        out, table_ids = [], {t.id for t in tables}
        for si, s in enumerate(raw):
            where = f"sections[{si}]"
            table = _get(s, "table", where, str, None)
            if table is not None:
                _need(table in table_ids, f"{where}.table", f"unknown table '{table}'")
            fields = tuple(
                self._field(f, f"{where}.fields[{i}]", True)
                for i, f in enumerate(_get(s, "fields", where, list, []))
            )
            _need(bool(fields) or table is not None, where, "needs 'fields' or a 'table'")
            out.append(
                Section(_get(s, "id", where, str), _get(s, "heading", where, str), fields, table)
            )
        ids = [f.id for s in out for f in s.fields]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        _need(not dupes, "sections", f"field ids declared twice: {', '.join(dupes)}")
        return tuple(out)

    def _sets(self, tables: tuple[Table, ...]) -> dict[str, tuple[str, ...]]:
        raw = _get(self.data, "sets", "top level", dict, {})
        by_id = {t.id: t for t in tables}
        out = {}
        for name, value in raw.items():
            where = f"sets.{name}"
            if isinstance(value, dict):
                (how, tid), *rest = value.items() or [(None, None)]
                _need(
                    not rest and how in ("columns_of", "rows_of"),
                    where,
                    "use {columns_of: T} or {rows_of: T}",
                )
                _need(tid in by_id, where, f"unknown table '{tid}'")
                attr = "column_leaves" if how == "columns_of" else "row_leaves"
                keys = [leaf.key for b in by_id[tid].blocks for _, leaf in getattr(b, attr)()]
                out[name] = tuple(dict.fromkeys(k for k in keys if k))
            else:
                _need(
                    isinstance(value, list) and all(isinstance(k, str) for k in value),
                    where,
                    "expected a list of keys",
                )
                out[name] = tuple(value)
            _need(bool(out[name]), where, "is empty")
        return out

    def _rules(self, datapoints: Mapping[str, Datapoint], sets: Mapping[str, tuple[str, ...]]):
        raw = _get(self.data, "rules", "top level", list)
        out: list[Rule] = []
        defined: dict[str, tuple[str, ...]] = {}
        for i, r in enumerate(raw):
            code = _get(r, "code", f"rules[{i}]", str)
            where = f"rules[{i}] ({code})"
            _need(code not in {x.code for x in out}, where, "code declared twice")
            severity = _get(r, "severity", where, str)
            _need(severity in ("error", "warning"), f"{where}.severity", "must be error or warning")
            show = _get(r, "show", where, str)
            _need(show in SHOW, f"{where}.show", "must be row or column")
            check = _get(r, "check", where, str)
            defines = _get(r, "defines", where, bool, False)
            if check == "type":
                instances = self._type_instances(code, datapoints)
            else:
                instances = self._compare_instances(code, r, check, where, datapoints, sets)
            if defines:
                for inst in instances:
                    _need(
                        len(inst.left) == 1 and not inst.left_constant and inst.op == "==",
                        where,
                        "a defining rule needs one cell on the left and ==",
                    )
                    target = inst.left[0]
                    _need(
                        datapoints[target].computed,
                        where,
                        f"defines '{target}', which is an input cell (mark it computed)",
                    )
                    defined.setdefault(target, inst.right)
            out.append(
                Rule(
                    code=code,
                    severity=Severity(severity),
                    name=_text(_get(r, "name", where, (str, dict)), f"{where}.name"),
                    message=_text(_get(r, "message", where, (str, dict)), f"{where}.message"),
                    show=show,
                    defines=defines,
                    instances=tuple(instances),
                )
            )
        missing = [d for d, dp in datapoints.items() if dp.computed and d not in defined]
        _need(not missing, "rules", f"computed cells with no defining rule: {', '.join(missing)}")
        return tuple(out), _dependency_order(defined)

    def _type_instances(self, code: str, datapoints: Mapping[str, Datapoint]):
        rows: dict[str, list[str]] = {}
        for dp in datapoints.values():
            if not dp.computed:
                row = ".".join(k for k in (dp.table, dp.row_key) if k)
                rows.setdefault(row, []).append(dp.id)
        return [rules.type_instance(code, f"{code}[{row}]", cells) for row, cells in rows.items()]

    def _compare_instances(self, code, r, check, where, datapoints, sets):
        try:
            expr = rules.parse(check)
        except rules.RuleSyntaxError as exc:
            raise _Invalid(f"{where}.check: {exc}") from None
        each = _get(r, "each", where, dict, {})
        for var, set_name in each.items():
            _need(set_name in sets, f"{where}.each", f"unknown set '{set_name}' for '{var}'")
        for term in expr.left.terms + expr.right.terms:
            if term.over_set is not None:
                _need(term.over_set in sets, f"{where}.check", f"unknown set '{term.over_set}'")
        unbound = expr.variables() - set(each)
        _need(
            not unbound,
            f"{where}.check",
            f"placeholders not bound by 'each': {', '.join(sorted(unbound))}",
        )
        at = _get(r, "at", where, str)
        unbound_at = set(re.findall(rules.VAR, at)) - set(each)
        _need(
            not unbound_at,
            f"{where}.at",
            f"placeholders not bound by 'each': {', '.join(sorted(unbound_at))}",
        )
        when = _get(r, "when", where, dict, {})
        kinds = tuple(_get(when, "unit_kind", f"{where}.when", list, []))
        for k in kinds:
            _need(
                k in UNIT_KINDS,
                f"{where}.when",
                f"unknown unit kind '{k}' (known: {', '.join(UNIT_KINDS)})",
            )
        count = math.prod(len(sets.get(each[n], ())) for n in each)
        _need(
            count <= MAX_RULE_INSTANCES,
            f"{where}.each",
            f"{count} combinations (at most {MAX_RULE_INSTANCES})",
        )
        instances = rules.expand(code, expr, each, at, sets, kinds)
        for inst in instances:
            for dp in (*inst.cells, inst.at):
                _need(dp in datapoints, f"{where}", f"'{dp}' ({inst.key}) is not a datapoint id")
        return instances


# Wording only: editing these must not make every template in circulation "old" (T103).
_COSMETIC = {"message", "name", "hint", "error", "label_en", "basis", "title"}


def _sha256(data: bytes) -> str:
    import hashlib  # only when a spec is built (see cached)

    return hashlib.sha256(data).hexdigest()


def _structure(data: Any) -> Any:
    """The part of a spec that decides layout, datapoints and rules: what the hash covers."""
    if isinstance(data, dict):
        return {k: _structure(v) for k, v in data.items() if k not in _COSMETIC}
    if isinstance(data, list):
        return [_structure(v) for v in data]
    return data


def _dependency_order(defined: Mapping[str, tuple[str, ...]]) -> tuple:
    """Order totals so each is computed after the totals it sums; reject cycles."""
    order: list[tuple[str, tuple[str, ...]]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        _need(
            state.get(node) != 1,
            "rules",
            f"totals depend on themselves: {' -> '.join((*trail, node))}",
        )
        state[node] = 1
        for src in defined[node]:
            if src in defined:
                visit(src, (*trail, node))
        state[node] = 2
        order.append((node, defined[node]))

    for target in defined:
        visit(target, ())
    return tuple(order)
