"""Read a returned workbook into a filing: values by datapoint id, with their cells and findings.

Tables are always found by their labels (whitespace and full/half-width differences ignored), so a
file whose rows were shifted, or whose tables were pasted into a fresh workbook, still reads. When
the hidden metadata says the file is our current template, the found positions are compared with
the template's layout: a difference means rows or columns were inserted or labels edited, and is
reported as tampering; a label that cannot be found falls back to its template position.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from . import intake, layout
from . import spec as spec_module
from .filing import Filing, Source
from .findings import Finding, row_span
from .normalise import label_key as key
from .normalise import normalise, shown
from .spec import Block, Spec, Table

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

NON_TABLE_SHEETS = {layout.CHECKS_SHEET, layout.META_SHEET, layout.INSTRUCTIONS_SHEET}


@functools.lru_cache(maxsize=1 << 14)
def _source(sheet: str, row: int, col: int) -> Source:
    return Source(sheet, layout.cell_name(row, col))


_STATIC: dict[str, dict[str, tuple[bool, str, str]]] = {}


def _static(spec: Spec) -> dict[str, tuple[bool, str, str]]:
    """Datapoint id -> (computed, type kind, table), once per spec."""
    if spec.hash not in _STATIC:
        kinds = spec.kinds
        _STATIC[spec.hash] = {
            d.id: (d.computed, kinds[d.id], d.table) for d in spec.datapoints.values()
        }
    return _STATIC[spec.hash]


# A trusted workbook whose labels are where the template put them is read from the template's
# places: those, and what follows from them, are the same for every such file of a spec.
_TEMPLATE_PLACES: dict[tuple[str, str], dict[str, tuple[str, int, int]]] = {}
# A trusted workbook whose labels are where the template put them is read from the template's
# places: those, and what follows from them, are the same for every such file of a spec.
_TEMPLATE_PLACES: dict[tuple[str, str], dict[str, tuple[str, int, int]]] = {}
_TEMPLATE_CELLS: dict[str, _Cells] = {}


def _template_places(spec: Spec, table: Table, tl: layout.TableLayout) -> dict:
    """Datapoint id -> (sheet, row, col) of a table at its template places, once per spec."""
    k = (spec.hash, table.id)
    if k not in _TEMPLATE_PLACES:
        _TEMPLATE_PLACES[k] = {dp: (table.sheet, p.row, p.col) for dp, p in tl.cells.items()}
    return _TEMPLATE_PLACES[k]


class _Cells:
    """Where a filing's values are read from, worked out once per set of positions: datapoint id
    -> its Source (one shared Source per cell: the same cells in every file); sheet -> the cells
    of its totals in reading order (where intake looks for formulas); the sheets read; and one
    row per datapoint, in the positions' order: (id, sheet index, row, col, computed, kind)."""

    __slots__ = ("plan", "sheets", "sources", "totals")

    def __init__(self, spec: Spec, positions: dict[str, tuple[str, int, int]]):
        static = _static(spec)
        self.sources = {dp_id: _source(*where) for dp_id, where in positions.items()}
        totals: dict[str, list[str]] = {}
        for dp_id, src in self.sources.items():
            if static[dp_id][0]:
                totals.setdefault(src.sheet, []).append(src.cell)
        self.totals = {s: sorted(refs, key=intake.row_col) for s, refs in totals.items()}
        self.sheets = list(dict.fromkeys(sheet for sheet, _, _ in positions.values()))
        index = {sheet: i for i, sheet in enumerate(self.sheets)}
        self.plan = tuple(
            (dp_id, index[sheet], r, c, static[dp_id][0], static[dp_id][1])
            for dp_id, (sheet, r, c) in positions.items()
        )


def sheets_read(spec: Spec) -> list[str]:
    """The sheets a report is read from: intake inflates them once for itself and calamine."""
    return [layout.META_SHEET, layout.INFO_SHEET, layout.NARRATIVE_SHEET] + [
        t.sheet for t in spec.tables
    ]


class _Book:
    """Sheets of a workbook as grids of values, loaded on first use, each vetted first."""

    def __init__(self, path: Path, pkg: intake.Package, spec: Spec):
        self.pkg = pkg
        self.wb = intake.calamine_book(path, pkg.calamine_bytes(sheets_read(spec)))
        self.names: list[str] = list(self.wb.sheet_names)
        self._grids: dict[str, list[list[Any]]] = {}
        self._index: dict[str, dict[str, list[tuple[int, int]]]] = {}

    def grid(self, name: str) -> list[list[Any]]:
        if name not in self._grids:
            # Bounded from the XML before calamine allocates the sheet's range densely (one cell
            # at XFD1048576 would ask for 512 GiB); raises intake.Refused.
            self.pkg.sheet(name)
            with intake.rust_reader():
                sheet = self.wb.get_sheet_by_name(name)
                end = sheet.end or (0, 0)
                if (end[0] + 1) * (end[1] + 1) > intake.MAX_CELLS:
                    raise self.pkg.refuse("F108", sheet=name, ref=layout.cell_name(*end))
                self._grids[name] = sheet.to_python(skip_empty_area=False)
        return self._grids[name]

    def index(self, name: str) -> dict[str, list[tuple[int, int]]]:
        if name not in self._index:
            idx: dict[str, list[tuple[int, int]]] = {}
            for r, row in enumerate(self.grid(name)):
                for c, value in enumerate(row):
                    if isinstance(value, str) and value:
                        idx.setdefault(key(value), []).append((r, c))
            self._index[name] = idx
        return self._index[name]

    def cell(self, name: str, r: int, c: int) -> Any:
        grid = self.grid(name)
        if r < len(grid) and c < len(grid[r]):
            return grid[r][c]
        return ""


def read(path: Path | str, spec: Spec) -> Filing:
    """Read ``path`` as a filing of ``spec``. Never raises for a bad file: a filing that could not
    be read has ``readable`` False and findings that say why."""
    path = Path(path)
    filing = Filing(str(path))
    pkg = intake.open_package(path)
    filing.mtime = pkg.mtime
    filing.saved_at = pkg.saved_at
    filing.findings += pkg.findings
    if not pkg.ok:
        return filing
    try:
        with intake.rust_reader():  # one block for the whole workbook: see rust_reader
            return _Reader(filing, pkg, _Book(path, pkg, spec), spec).run()
    except intake.Refused as refused:
        filing.findings.append(refused.finding)
    except Exception as exc:  # python-calamine's own errors: password, zip, XML, format
        filing.findings.append(pkg.explain(exc))
    finally:
        pkg.close()
    filing.spec, filing.readable = None, False
    return filing


class _Reader:
    def __init__(self, filing: Filing, pkg: intake.Package, book: _Book, spec: Spec):
        self.f, self.pkg, self.book, self.spec = filing, pkg, book, spec
        self.layout = layout.build(spec)
        self.trusted = False

    def note(self, code: str, where: dict | None = None, **args: Any) -> None:
        self.f.findings.append(Finding(code, args, **(where or {"file": self.f.path})))

    def run(self) -> Filing:
        f, spec = self.f, self.spec
        f.meta = self._meta()
        version = f.meta.get("format_version")
        if f.meta.get("format_id") == spec.format_id and version and version != spec.version:
            # A workbook of another format version (a 2019-format import, say): read it with
            # that version's spec when one is bundled.
            other = spec_module.for_version(version)
            if other is not None:
                spec = self.spec = other
                self.layout = layout.build(other)
        if not f.meta:
            self.note("T101")
        elif f.meta.get("format_id") != spec.format_id:
            found = f"{f.meta.get('format_id')} {f.meta.get('format_version')}"
            self.note("F111", detail=f"其报告格式为 {found}", detail_en=f"format {found}")
            return f
        elif f.meta.get("spec_hash") != spec.hash:
            self.note(
                "T103",
                found=f"{f.meta.get('format_version')}-{f.meta.get('format_revision')} {f.meta.get('spec_hash', '')[:12]}",
                current=f"{spec.version}-{spec.revision} {spec.hash[:12]}",
            )
        else:
            self.trusted = True
        placed = [self._locate_table(table) for table in spec.tables]
        positions: dict[str, tuple[str, int, int]] = {}
        for found in placed:
            positions.update(found)
        template = all(
            found is _TEMPLATE_PLACES.get((spec.hash, table.id))
            for found, table in zip(placed, spec.tables, strict=True)
        )
        if not positions:
            # Not this report at all: that one finding says it (drop "found by labels" notes).
            f.findings = [x for x in f.findings if x.code not in ("T101", "T103", "T112")]
            self.note(
                "F111",
                detail="找不到年报的任何一张表",
                detail_en="no table of the report was found",
            )
            return f
        f.spec = spec
        f.readable = True
        self._values(positions, template)
        self._info()
        self._texts()
        self._protection()
        return f

    # -- metadata ---------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        if layout.META_SHEET not in self.book.names:
            return {}
        out = {}
        for row in self.book.grid(layout.META_SHEET):
            if len(row) >= 2 and isinstance(row[0], str) and row[0]:
                out[row[0]] = shown(row[1]) if row[1] != "" else ""
        return out

    # -- finding the tables ---------------------------------------------------------------

    def _table_sheet(self, table: Table) -> str | None:
        if table.sheet in self.book.names:
            return table.sheet
        wanted = {
            key(leaf.label)
            for b in table.blocks
            for _, leaf in b.row_leaves() + b.column_leaves()
            if leaf.label
        }
        best, score = None, 0
        for name in self.book.names:
            if name in NON_TABLE_SHEETS:
                continue
            hits = len(wanted & self.book.index(name).keys())
            if hits > score:
                best, score = name, hits
        return best if score >= max(1, len(wanted) // 2) else None

    def _locate_table(self, table: Table) -> dict[str, tuple[str, int, int]]:
        f, tl = self.f, self.layout.tables[table.id]
        sheet = self._table_sheet(table)
        if sheet is None:
            self.note("T112", table=table.name)
            f.missing.update(tl.cells)
            return {}
        if self.trusted and sheet == table.sheet and self._labels_in_place(sheet, tl):
            # Every label where the template put it: the layout is intact, no search needed.
            return _template_places(self.spec, table, tl)
        ids = list(tl.cells)
        expected = {dp: (p.row, p.col) for dp, p in tl.cells.items()}
        found = _search_table(table, self.book.index(sheet), self.spec)
        positions: dict[str, tuple[str, int, int]] = {}
        if self.trusted and sheet == table.sheet:
            moved = [dp for dp, pos in found.items() if pos != expected[dp]]
            if moved:
                r, c = found[moved[0]]
                er, ec = expected[moved[0]]
                self.note(
                    "T105",
                    {
                        "file": f.path,
                        "sheet": sheet,
                        "cell": layout.cell_name(r, c),
                        "datapoint": moved[0],
                    },
                    table=table.name,
                    expected=layout.cell_name(er, ec),
                )
            index = self.book.index(sheet)
            for label in tl.labels:
                here = self.book.cell(sheet, label.row, label.col)
                if key(here) != key(label.text) and key(label.text) not in index:
                    cell = layout.cell_name(label.row, label.col)
                    self.note(
                        "T104",
                        {"file": f.path, "sheet": sheet, "cell": cell},
                        expected=label.text,
                        found=shown(here) or "（空）",
                    )
            for dp in ids:
                r, c = found.get(dp, expected[dp])
                positions[dp] = (sheet, r, c)
            return positions
        lost = [dp for dp in ids if dp not in found]
        if len(lost) == len(ids):
            self.note("T112", table=table.name)
        elif lost:
            labels = sorted({self.spec.datapoints[dp].label() for dp in lost})
            self.note(
                "T113",
                {"file": f.path, "sheet": sheet},
                table=table.name,
                labels="；".join(labels[:6]),
            )
        f.missing.update(lost)
        return {dp: (sheet, r, c) for dp, (r, c) in found.items()}

    def _labels_in_place(self, sheet: str, tl: layout.TableLayout) -> bool:
        grid = self.book.grid(sheet)
        for r, c, wanted in tl.label_keys:
            row = grid[r] if r < len(grid) else ()
            here = row[c] if c < len(row) else ""
            if here != wanted and key(here) != wanted:
                return False
        return True

    # -- values ---------------------------------------------------------------------------

    def _values(self, positions: dict[str, tuple[str, int, int]], template: bool) -> None:
        f, spec = self.f, self.spec
        dps = spec.datapoints
        if not template:
            where = _Cells(spec, positions)
        elif spec.hash in _TEMPLATE_CELLS:
            where = _TEMPLATE_CELLS[spec.hash]
        else:
            where = _TEMPLATE_CELLS[spec.hash] = _Cells(spec, positions)
        cells = where.sources
        formulas = {
            s: self.pkg.formulas(s, refs, in_order=True) for s, refs in where.totals.items()
        }
        blank_tables: dict[str, list[str]] = {}
        pending: list[Finding] = []
        no_cache = 0
        grids = [self.book.grid(sheet) for sheet in where.sheets]
        raws, values, has_formulas = f.raw, f.values, f.formula
        f.sources.update(cells)
        # An imported report's cells that its text did not have: missing, not left blank.
        absent = set(f.meta.get(layout.MISSING_KEY, "").split())
        for dp_id, g, r, c, computed, kind in where.plan:
            try:
                raw = grids[g][r][c]
            except IndexError:  # beyond the sheet's last row or column (r and c are >= 0)
                raw = ""
            raws[dp_id] = raw
            if computed:
                has_formula = formulas[where.sheets[g]][cells[dp_id].cell]
                has_formulas[dp_id] = has_formula
                if has_formula and raw == "":
                    no_cache += 1
                values[dp_id] = raw if type(raw) in (int, float) else None
                continue
            if type(raw) is float and raw >= 0 and (kind == "decimal" or raw.is_integer()):
                values[dp_id] = raw if kind == "decimal" else int(raw)  # the usual case, inline
                continue
            if dp_id in absent and raw == "":
                f.missing.add(dp_id)
                values[dp_id] = None
                continue
            value = normalise(raw, kind)
            values[dp_id] = value.number
            if value.code:
                if value.code == "V101":
                    blank_tables.setdefault(dps[dp_id].table, []).append(dp_id)
                args = {"where": dps[dp_id].label(), "value": value.raw}
                pending.append(Finding(value.code, args, **f.at(dp_id)))
        self._absent_rows(absent & f.missing)
        if not pending and not no_cache:
            return  # the usual case: every value a number
        inputs_per_table: dict[str, int] = {}
        for dp_id in positions:
            if not dps[dp_id].computed:
                inputs_per_table[dps[dp_id].table] = inputs_per_table.get(dps[dp_id].table, 0) + 1
        whole_blank = {
            t for t, blanks in blank_tables.items() if len(blanks) == inputs_per_table[t]
        }
        for table_id in whole_blank:
            where = {"file": f.path, "sheet": positions[blank_tables[table_id][0]][0]}
            self.note("V102", where, table=spec.table(table_id).name)
        f.findings += [
            p for p in pending if not (p.code == "V101" and dps[p.datapoint].table in whole_blank)
        ]
        if no_cache:
            self.note("T109", count=no_cache)

    def _absent_rows(self, absent: set[str]) -> None:
        """I104 per table for an imported report's missing rows, as the import itself said."""
        if not absent:
            return
        by_table: dict[str, list[str]] = {}
        for dp_id, dp in self.spec.datapoints.items():  # in the spec's order
            if dp_id in absent:
                table = self.spec.table(dp.table)
                leaf = table.blocks[dp.block].row_leaves()[dp.row][1]
                row = leaf.label or table.name
                rows = by_table.setdefault(dp.table, [])
                if row not in rows:
                    rows.append(row)
        for table_id, rows in by_table.items():
            table = self.spec.table(table_id).name
            span = row_span(rows, table)
            self.note("I104", table=table, count=len(rows), first=rows[0], last=rows[-1], **span)

    # -- basic information and narrative --------------------------------------------------------

    def _field_value(self, key_id: str, label: str, prefer: str) -> tuple[Any, Source | None]:
        """A field's value: at its template place when trusted, else right of its label."""
        if self.trusted:
            place = self.layout.place(key_id)
            if place.sheet in self.book.names and key(
                self.book.cell(place.sheet, place.row, 0)
            ) == key(label):
                return self.book.cell(place.sheet, place.row, place.col), _source(
                    place.sheet, place.row, place.col
                )
        sheets = [prefer] + [n for n in self.book.names if n != prefer]
        for name in sheets:
            if name not in self.book.names or name in NON_TABLE_SHEETS:
                continue
            for r, c in self.book.index(name).get(key(label), []):
                # The value sits right of its label, as in the template (cells further right
                # hold counts and status, not the value).
                return self.book.cell(name, r, c + 1), _source(name, r, c + 1)
        return "", None

    def _info(self) -> None:
        f, meta = self.f, self.f.meta
        for field in self.spec.info:
            value, src = self._field_value(f"info.{field.id}", field.label, layout.INFO_SHEET)
            f.info[field.id] = value
            if src:
                f.sources[f"info.{field.id}"] = src
        info_unit = shown(f.info.get("unit", "")).strip()
        info_year = shown(f.info.get("year", "")).strip()
        f.unit = meta.get("unit") or info_unit
        f.code = meta.get("code") or shown(f.info.get("code", "")).strip()
        f.kind = meta.get("kind") or shown(f.info.get("kind", "")).strip()
        year = meta.get("year") or info_year
        f.year = int(year) if year.isdigit() else None
        if meta:
            for name, in_meta, in_info in (
                ("unit", meta.get("unit", ""), info_unit),
                ("year", meta.get("year", ""), info_year),
            ):
                if in_info and key(in_meta) != key(in_info):
                    label = next((x for x in self.spec.info if x.id == name), None)
                    self.note(
                        "T102",
                        f.at(f"info.{name}"),
                        field=label.label if label else name,
                        field_en=label.label_en if label else name,
                        meta=in_meta,
                        found=in_info,
                    )

    def _texts(self) -> None:
        f = self.f
        for field in self.spec.fields:
            value, src = self._field_value(field.id, field.label, layout.NARRATIVE_SHEET)
            f.texts[field.id] = shown(value).strip() if value not in (None, "") else ""
            if src:
                f.sources[field.id] = src

    def _protection(self) -> None:
        if not self.f.meta or self.pkg.kind != "xlsx" or self.f.meta.get("merged_units"):
            return  # a merged county workbook is an output for analysis, not a locked template
        present = [t.sheet for t in self.spec.tables if t.sheet in self.book.names]
        open_sheets = [s for s in present if not self.pkg.protected(s)]
        if open_sheets or not self.pkg.structure_locked:
            what = "、".join(open_sheets) if open_sheets else "工作簿结构 / workbook structure"
            self.note("T106", sheets=what)


# --- searching a sheet for a table's labels ---------------------------------------------------


def _search_table(
    table: Table, index: dict[str, list[tuple[int, int]]], spec: Spec
) -> dict[str, tuple[int, int]]:
    """Datapoint id -> (row, col) for every datapoint whose row and column labels were found.

    Blocks are searched in order, each below the previous one. Within a block, column leaves are
    matched left to right (so repeated labels such as 表四's 结果维持 go to their own group) and row
    leaves top to bottom.
    """
    by_pos = {
        (d.block, d.row, d.col): d.id for d in spec.datapoints.values() if d.table == table.id
    }
    out: dict[str, tuple[int, int]] = {}
    start = 0
    for bi, block in enumerate(table.blocks):
        rows, cols, end = _search_block(block, index, start)
        for ri, r in rows.items():
            for ci, c in cols.items():
                out[by_pos[(bi, ri, ci)]] = (r, c)
        start = max(start, end + 1)
    return out


def _first_after(
    cands: Iterable[tuple[int, int]],
    row_min: int,
    row_max: int,
    col_min: int,
    col_max: int,
    by_col: bool,
):
    best = None
    for r, c in cands:
        if row_min <= r < row_max and col_min <= c < col_max:
            k = (c, r) if by_col else (r, c)
            if best is None or k < best[0]:
                best = (k, (r, c))
    return best[1] if best else None


def _search_block(block: Block, index, start: int) -> tuple[dict[int, int], dict[int, int], int]:
    huge = 1 << 30
    # The block starts below its caption, or (表三, 表四 have none) at its first header label.
    anchor = key(block.caption) if block.caption else key(block.columns[0].label)
    hit = _first_after(index.get(anchor, ()), start, huge, 0, huge, by_col=False)
    if hit is None:
        return {}, {}, start
    region = hit[0] + 1 if block.caption else hit[0]
    header_rows = region + block.header_depth + 4
    cols: dict[int, int] = {}
    last_col, header_bottom = -1, region
    for ci, (_, leaf) in enumerate(block.column_leaves()):
        hit = _first_after(
            index.get(key(leaf.label), ()), region, header_rows, last_col + 1, huge, by_col=True
        )
        if hit is None:
            continue
        cols[ci] = hit[1]
        last_col = hit[1]
        header_bottom = max(header_bottom, hit[0])
    if not cols:
        return {}, {}, start
    rows: dict[int, int] = {}
    first_data_col = min(cols.values())
    leaves = block.row_leaves()
    if len(leaves) == 1 and leaves[0][1].label is None:
        rows[0] = header_bottom + 1
        return rows, cols, header_bottom + 1
    last_row = header_bottom
    limit = header_bottom + len(leaves) + 40  # room for a few inserted rows, not the next table
    for ri, (_, leaf) in enumerate(leaves):
        hit = _first_after(
            index.get(key(leaf.label), ()), last_row + 1, limit, 0, first_data_col, by_col=False
        )
        if hit is None:
            continue
        rows[ri] = hit[0]
        last_row = hit[0]
    return rows, cols, last_row
