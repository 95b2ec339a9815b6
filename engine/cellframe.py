"""Spreadsheet cells → the typed frame of engine.columnar, a column at a time, exactly as
engine.records reads one record.

parse_record validates a row cell by cell. A roster column holds few distinct values (a dozen labels,
a few thousand dates), so here each distinct cell is validated once, by the record contract's own
validator (records.cell_validator), and the result is spread over the column. Nothing is
re-implemented: a cell is accepted, converted or refused exactly when parse_record would, with the
same message, and a row's problems come out in parse_record's order (problems with columns in
column order, then problems with values in field order). Plain text fields, the one kind with a
distinct value per row (applicant_id, name), are stripped column-wise with Python's own whitespace.

The raw frame has one String column per input column, named c0, c1, … (headers may repeat or be
empty); a blank cell is null or spaces. From an xlsx sheet or a Parquet file (`typed`), a cell that
is not text is encoded (engine.tabular.encode_cell) and validated decoded. Validation results are memoised per
field across chunks.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Collection

import polars as pl

from engine import records
from engine.columnar import _members
from engine.records import FACT_TYPES, field_for_header
from engine.tabular import TYPED, decode_cell

__all__ = ["CellConverter", "Converted", "WHITESPACE"]

# What str.strip() removes: every code point with isspace(), all below U+3001.
WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())

_BAD = object()
PROBLEM_SCHEMA = {"position": pl.UInt32, "order": pl.UInt32, "field": pl.String, "value": pl.String,
                  "message": pl.String}


class _Column:
    """What one input column of a chunk holds: which cells are present (not blank: parse_record
    treats None and spaces-only text as an absent key), whether some blank cells are spaces rather
    than null, and its distinct cells where they are validated one by one. A column of plain text
    (ids, names: a distinct value per row) or of no field is not: its cells are never looked up."""

    def __init__(self, name: str, distinct: list[str] | None) -> None:
        cells = pl.col(name)
        self.distinct: list[str] | None = None
        self.spaces = True
        if distinct is None:  # cells not looked up
            self.present = cells.is_not_null() & (cells.str.strip_chars(WHITESPACE) != "")
            return
        blank = [cell for cell in distinct if records.is_blank(cell)]
        if blank:
            self.present = cells.is_not_null() & ~cells.is_in(blank)
            return
        self.present, self.distinct, self.spaces = cells.is_not_null(), distinct, False

    @staticmethod
    def survey(raw: pl.DataFrame, looked_up: set[str]) -> tuple[list["_Column"], pl.DataFrame]:
        """Each column of `raw`, with its distinct cells if it is `looked_up`, and the frame of which
        cells are present (p0, p1, …): two queries over all the columns at once, which polars runs
        in parallel."""
        names = [name for name in raw.columns if name in looked_up]
        distinct = dict(zip(names, raw.select(pl.col(name).drop_nulls().unique().implode() for name in names).row(0))
                        if names else ())
        columns = [_Column(name, distinct.get(name)) for name in raw.columns]
        present = raw.select(column.present.alias(f"p{i}") for i, column in enumerate(columns))
        return columns, present


@dataclass
class Converted:
    """One chunk: which input rows have data (`kept`; positions count those rows only); per record
    type, the positions of its rows and their typed frame (rows with problems included, decided
    and then marked as errors); and every problem (position, order, field, value, message), sorted as
    parse_record lists them."""

    kept: pl.Series
    frames: dict[str, tuple[pl.Series, pl.DataFrame]]
    problems: pl.DataFrame


class CellConverter:
    """Converts chunks of one input layout (its header) for a run dated `default_as_of`."""

    def __init__(self, header: list[str], default_as_of: _dt.date, typed: bool = False,
                 reads: Callable[[str], Collection[str]] | None = None) -> None:
        self.header = [str(h) for h in header]
        self.default_as_of = default_as_of
        self.typed = typed  # cells may be typed (engine.tabular.encode_cell): xlsx, Parquet
        # reads(kind): the fields the rules of that record type read; the typed frame has those
        # columns only (every field is still validated). None: every field.
        self.reads = reads
        self.read = [i for i, h in enumerate(self.header) if field_for_header(h) is not None]
        self.type_columns = [i for i in self.read if field_for_header(self.header[i]) == "record_type"]
        # the columns whose distinct cells are validated: every read column but plain text ones,
        # stripped column-wise (a chunk with a typed text cell looks its cells up in _kind)
        self.looked_up = {f"c{i}" for i in self.read if not all(
            records.cell_kind(kind, name).parse is records._to_text for kind in FACT_TYPES
            if (name := records.field_of(kind, self.header[i])) is not None)}
        self.memo: dict[tuple[str, str], dict[Any, Any]] = {}
        self.validators: dict[tuple[str, str], Any] = {}
        self.messages: dict[tuple[str, str], dict[Any, str]] = {}  # refused cell → parse_record's message

    # ------------------------------------------------------------------------------------------
    def convert(self, raw: pl.DataFrame) -> Converted:
        """Rows with no data at all are dropped (`kept`), as engine.tabular.Table.rows drops them."""
        columns, present = _Column.survey(raw, self.looked_up)
        kept = present.select(pl.any_horizontal(pl.all())).to_series() if raw.width else pl.Series([], dtype=pl.Boolean)
        frame = pl.concat([raw, present], how="horizontal")
        if not kept.all():  # the rows dropped hold only null cells where a column kept its distinct cells
            frame = frame.filter(kept)
        frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("position"))
        kinds, problems = self._record_types(frame)
        frames = {}
        for kind in ("person", "enterprise"):
            if kinds is None:  # no record_type column: every row is a person
                rows = frame if kind == "person" else None
            elif kinds.null_count() == 0 and (kinds == kind).all():
                rows = frame
            else:
                rows = frame.filter(kinds == kind)
            if rows is None or rows.height == 0:
                continue
            typed, kind_problems = self._kind(kind, rows, columns)
            problems.append(kind_problems)
            frames[kind] = typed
        problems_frame = pl.concat(problems) if problems else pl.DataFrame(schema=PROBLEM_SCHEMA)
        problems_frame = problems_frame.sort("position", "order", maintain_order=True)
        return Converted(kept, frames, problems_frame)

    # ------------------------------------------------------------------------------------------
    def _record_types(self, frame: pl.DataFrame) -> tuple[pl.Series | None, list[pl.DataFrame]]:
        """Each row's record type (None: all person), and the rows whose record_type is refused —
        for those parse_record reports that one problem and nothing else."""
        if not self.type_columns:
            return None, []
        codes = []
        for i in self.type_columns:
            mapping = self._distinct(frame.get_column(f"c{i}").drop_nulls().unique().to_list(), ("", "record_type"),
                                     records.record_type_of)
            codes.append(pl.col(f"c{i}").replace_strict(list(mapping), [v if v is not _BAD else "!" for v in
                                                                       mapping.values()], default=None))
        typed = frame.select(pl.col("position"), *[c.alias(f"k{n}") for n, c in enumerate(codes)])
        kind_columns = [pl.col(f"k{n}") for n in range(len(codes))]
        # the first refused cell in column order, else two different types, else the one given
        first_bad = pl.coalesce([pl.when(k == "!").then(pl.lit(n, pl.UInt32)) for n, k in enumerate(kind_columns)])
        good = [pl.when(k != "!").then(k) for k in kind_columns]
        conflict = (pl.concat_list(good).list.drop_nulls().list.n_unique() > 1 if len(good) > 1
                    else pl.lit(False))  # one record_type column cannot disagree with itself
        typed = typed.with_columns(first_bad.alias("bad"), conflict.alias("conflict"),
                                   pl.coalesce(good + [pl.lit("person")]).alias("kind"))
        problems = []
        refused = self.messages.get(("", "record_type"), {})
        for n, i in enumerate(self.type_columns):
            rows = frame.filter(typed["bad"] == n)
            if rows.height:
                problems.append(self._problem(rows, pl.lit(True), 0, "record_type", pl.col(f"c{i}"),
                                              pl.col(f"c{i}").replace_strict(list(refused), list(refused.values()),
                                                                             default=None)))
        conflicted = frame.filter(typed["bad"].is_null() & typed["conflict"])
        if conflicted.height:
            problems.append(self._problem(conflicted, pl.lit(True), 0, "record_type", pl.lit(None, pl.String),
                                          pl.lit("is given twice, with different values")))
        kinds = pl.when(typed["bad"].is_null() & ~typed["conflict"]).then(typed["kind"]).otherwise(pl.lit(None))
        return typed.select(kinds.alias("kind"))["kind"], problems

    # ------------------------------------------------------------------------------------------
    def _distinct(self, cells: list[str], key: tuple[str, str], validate) -> dict[Any, Any]:
        """Each of the distinct cells `cells` (not null), if not blank → its validated value (_BAD if
        refused; the message is kept in self.messages[key]); memoised per key across chunks."""
        memo = self.memo.setdefault(key, {})
        messages = self.messages.setdefault(key, {})
        for cell in cells:
            if cell in memo or records.is_blank(cell):
                continue
            try:
                memo[cell] = validate(decode_cell(cell) if self.typed else cell)
            except ValueError as exc:
                memo[cell] = _BAD
                messages[cell] = str(exc)
        return {cell: memo[cell] for cell in cells if cell in memo}

    def _validator(self, kind: str, name: str):
        key = (kind, name)
        if key not in self.validators:
            self.validators[key] = records.cell_validator(kind, name)
        return self.validators[key]

    # ------------------------------------------------------------------------------------------
    def _kind(self, kind: str, rows: pl.DataFrame,
              columns: list[_Column]) -> tuple[tuple[pl.Series, pl.DataFrame], pl.DataFrame]:
        """The typed frame of the rows of one record type, and their problems. `columns` says what
        the chunk's columns hold (the rows of both types)."""
        problems: list[pl.DataFrame] = []
        by_field: dict[str, list[int]] = {}
        for i in self.read:
            name = records.field_of(kind, self.header[i])
            if name is None:  # a field of the other record type, filled in
                message = records.unknown_field_message(self.header[i], kind)
                problems.append(self._problem(rows, pl.col(f"p{i}"), i, self.header[i].strip(), pl.col(f"c{i}"),
                                              pl.lit(message)))
            elif name != "record_type":
                by_field.setdefault(name, []).append(i)

        # a field in two columns (hukou and 户籍): the first filled one counts, a second is a problem
        values = {}
        for name, indexes in by_field.items():
            for n, i in enumerate(indexes[1:], start=1):
                earlier = indexes[:n]
                given_as = pl.coalesce([pl.when(pl.col(f"p{j}")).then(pl.lit(self.header[j].strip()))
                                        for j in earlier])
                message = pl.format("is given twice (as '{}' and '{}')", given_as, pl.lit(self.header[i].strip()))
                problems.append(self._problem(rows, pl.col(f"p{i}") & pl.any_horizontal(
                    [pl.col(f"p{j}") for j in earlier]), i, name, pl.col(f"c{i}"), message))
            if len(indexes) > 1 or columns[indexes[0]].spaces:
                values[name] = pl.coalesce([pl.when(pl.col(f"p{i}")).then(pl.col(f"c{i}")) for i in indexes])
        rows = rows.with_columns(**{f"v.{name}": expr for name, expr in values.items()})
        for name, indexes in by_field.items():
            if name not in values:  # one column, no blank cells that are not null: read it as it is
                values[name] = indexes[0]

        typed_columns: dict[str, pl.Expr] = {}
        wanted = set(self.reads(kind)) if self.reads is not None else set(FACT_TYPES[kind])
        refused: list[tuple[int, str, str, dict[str, str]]] = []  # (order, field, column, bad cell → message)
        order_base = len(self.header)
        for order, (name, fact_type) in enumerate(FACT_TYPES[kind].items(), start=order_base):
            default = records.field_default(kind, name, self.default_as_of)
            if name == "record_type":
                continue  # the compiled rules know which record type they decide
            if name not in values:
                if records.field_spec(kind, name).required:
                    problems.append(self._problem(rows, pl.lit(True), order, name, pl.lit(None, pl.String),
                                                  pl.lit("is required")))
                if default is not None and name in wanted:
                    typed_columns[name] = pl.lit(_physical(default, fact_type), _dtype(fact_type, 0))
                continue
            single = values[name] if type(values[name]) is int else None
            source = pl.col(f"c{single}" if single is not None else f"v.{name}")
            if records.field_spec(kind, name).required:  # a blank applicant_id
                problems.append(self._problem(rows, source.is_null(), order, name, pl.lit(None, pl.String),
                                              pl.lit("is required")))
            if records.cell_kind(kind, name).parse is records._to_text and not (
                    self.typed and rows.select(source.str.starts_with(TYPED).any()).item()):
                # str.strip() column-wise; blank was settled above, so nothing here can be refused
                # (a typed cell — an id typed as a number — goes through the validator below)
                if name in wanted:
                    typed_columns[name] = source.str.strip_chars(WHITESPACE)
                continue
            # the chunk's distinct cells serve for the rows of one record type too: cells only the
            # other type's rows hold are validated in vain, but never refuse a row that lacks them
            cells = columns[single].distinct if single is not None else None
            if cells is None:
                cells = rows.select(source.drop_nulls().unique()).to_series().to_list()
            mapping = self._distinct(cells, (kind, name), self._validator(kind, name))
            good = {cell: value for cell, value in mapping.items() if value is not _BAD}
            bad = {cell: self.messages[(kind, name)][cell] for cell, value in mapping.items() if value is _BAD}
            if bad:
                refused.append((order, name, f"c{single}" if single is not None else f"v.{name}", bad))
            if name not in wanted:
                continue  # validated, not read
            scale = 0
            if fact_type.kind == "number":
                scale = max([max(0, -Decimal(v).as_tuple().exponent) for v in good.values()], default=0)
            dtype = _dtype(fact_type, scale)
            # each row's cell as its index among the distinct cells (an Enum of them: one lookup a row,
            # half the cost of replace_strict's join) picks its typed value; blank and refused: null
            by_index = pl.Series([_physical(good[cell], fact_type) if cell in good else None for cell in cells],
                                 dtype=dtype)
            typed = pl.lit(by_index).gather(source.cast(pl.Enum(cells)).to_physical()) if cells else pl.lit(None, dtype)
            if default is not None:
                typed = typed.fill_null(pl.lit(_physical(default, fact_type), dtype))
            typed_columns[name] = typed

        if refused:  # each refused cell's problem, looked for in the few rows that hold one
            flagged = rows.select("position", *dict.fromkeys(column for _, _, column, _ in refused)).filter(
                pl.any_horizontal([pl.col(column).is_in(list(bad)) for _, _, column, bad in refused]))
            positions = flagged.get_column("position").to_list()
            found = [(position, order, name, cell, bad[cell]) for order, name, column, bad in refused
                     for position, cell in zip(positions, flagged.get_column(column).to_list()) if cell in bad]
            problems.append(pl.DataFrame(found, schema=PROBLEM_SCHEMA, orient="row"))
        typed = rows.select(pl.col("position"), *[expr.alias(name) for name, expr in typed_columns.items()])
        frame_problems = pl.concat(problems) if problems else pl.DataFrame(schema=PROBLEM_SCHEMA)
        return (typed.get_column("position"), typed.drop("position")), frame_problems

    @staticmethod
    def _problem(rows: pl.DataFrame, where: pl.Expr, order: int, field: str, value: pl.Expr,
                 message: pl.Expr) -> pl.DataFrame:
        return rows.lazy().filter(where).select(  # lazily: only the columns it reads are touched
            pl.col("position"), pl.lit(order, pl.UInt32).alias("order"), pl.lit(field).alias("field"),
            value.cast(pl.String).alias("value"), message.cast(pl.String).alias("message")).collect()


def _dtype(fact_type, scale: int) -> pl.DataType:
    """The typed frame's column type: engine.columnar takes an enumeration as its member index."""
    kind = fact_type.kind
    if kind == "number":
        return pl.Decimal(38, scale)
    if kind == "enum":
        return pl.UInt32
    if kind == "list":
        return pl.UInt64
    return {"bool": pl.Boolean, "date": pl.Date}.get(kind, pl.String)


def _physical(value: Any, fact_type) -> Any:
    """A canonical record value as the typed frame holds it (see engine.columnar.frame_schema)."""
    kind = fact_type.kind
    if kind in ("enum", "list"):
        members = _members(fact_type.enum)
        if kind == "enum":
            return members.index(fact_type.enum(value))
        return sum(1 << members.index(m) for m in value)
    if kind == "number":
        return Decimal(value)
    return value
