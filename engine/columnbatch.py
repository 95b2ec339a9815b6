"""Batch evaluation column-wise: engine.batch's output, a block of the file at a time.

The per-record path (engine.batch.RowDecider) parses and decides one row at a time, about a thousand
rows a second. Here a chunk of rows is read as text columns (a CSV block parsed by polars, or an
xlsx sheet's or a Parquet file's rows with their typed cells encoded by engine.tabular.encode_cell),
converted to the typed frame by engine.cellframe (the record contract's own validators, once per
distinct cell), decided by engine.columnar (the same parsed rules, compiled to column expressions)
and written in one go. The output is the per-record path's, cell for cell: the same columns,
decisions, reason codes, error rows and messages, row numbers and summary — tests compare the two on
the same files.

A file this path cannot reproduce exactly is left to the per-record path, with the reason
(`Refused`): a CSV with a line break inside a cell (row numbers are lines), ragged rows, text that is
neither UTF-8 nor GB18030, or an xlsx or Parquet cell of a type the encoding does not know (a list,
bytes).
"""
from __future__ import annotations

import codecs
import os
import re
import tempfile
import threading
from concurrent.futures import Future
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

from engine.batch import ERROR_HEADER, ROW_ERROR, Summary, decision_header, earlier_decisions, unknown_columns
from engine.messages import in_chinese
from engine.records import field_for_header
from engine.ruleset import Ruleset

BLOCK_BYTES = 32 << 20  # about 100,000 rows of an office roster
TYPED_CHUNK_ROWS = 50_000  # an xlsx sheet's or Parquet file's rows, read cell by cell


class Refused(Exception):
    """This input cannot take the column-wise path; the message says why."""


def run_column_batch(ruleset: Ruleset, table, out_path: Path, default_as_of: date,
                     progress: Callable[[int], None] | None = None) -> Summary:
    """Decide every row of the opened CSV or xlsx `table` (engine.tabular.Table) into `out_path` (csv, xlsx
    or parquet); Refused if the file needs the per-record path, with nothing written."""
    import polars as pl

    from engine.cellframe import CellConverter
    from engine.columnar import CompiledRuleset
    from engine.tabular import TableWriter

    header = table.header
    typed = table.format != ".csv"  # xlsx and Parquet cells keep their types: engine.tabular.encode_cell
    reader = {".csv": _text_chunks, ".xlsx": _typed_chunks, ".parquet": _parquet_chunks}[table.format]
    chunks, cleanup = reader(table, len(header))
    try:
        programmes = sorted(ruleset.programmes)
        compiled: dict[str, CompiledRuleset] = {}

        def rules(kind: str) -> CompiledRuleset:  # a record type's rules, compiled on first use
            if kind not in compiled:
                compiled[kind] = CompiledRuleset(ruleset, kind)
            return compiled[kind]

        converter = CellConverter(header, default_as_of, typed=typed, reads=lambda kind: rules(kind).facts_read)
        id_column = next((i for i, h in enumerate(header) if field_for_header(h) == "applicant_id"), None)
        earlier = earlier_decisions(header, ruleset)  # replaced by this run's, as RowDecider.input_cells
        summary = Summary(unknown_columns=unknown_columns(header, earlier))
        decided_columns = decision_header(ruleset)
        kept_at = [i for i in range(len(header)) if i not in earlier]
        kept = [f"c{i}" for i in kept_at]
        writer = TableWriter(out_path, [header[i] for i in kept_at] + decided_columns, ERROR_HEADER)
        behind = _Behind()  # polars writes a chunk while the next is read and decided
        try:
            for raw in _ahead(chunks):
                cells = [f"c{i}" for i in range(len(header))]
                converted = converter.convert(raw.select(cells))
                if not converted.kept.all():  # rows with no data at all are skipped, as per record
                    summary.blank_rows.add(raw.get_column("__row").filter(~converted.kept).to_list())
                    raw = raw.filter(converted.kept)
                if raw.height == 0:
                    continue
                decisions = _decisions(converted, rules, programmes, decided_columns, raw.height, summary)
                problems = converted.problems
                refused_rows = problems["position"].n_unique() if problems.height else 0
                errors = None
                if problems.height:
                    rows, ids = raw.get_column("__row"), raw.get_column(f"c{id_column}") if id_column is not None else None
                    messages = problems.get_column("message").unique().to_list()  # few: each said in Chinese once
                    errors = problems.select(
                        rows.gather(problems["position"]).alias("row"),
                        (ids.gather(problems["position"]) if ids is not None else pl.lit(None, pl.String)).alias("id"),
                        "field", "value", "message",
                        pl.col("message").replace_strict(messages, [in_chinese(m) for m in messages]).alias("message_zh"))
                # a line is copied whole only when OUT keeps every cell of it
                lines = raw.get_column("__line") if "__line" in raw.columns and not earlier else None
                behind.run(_write, writer, pl.concat([raw.select(kept), decisions], how="horizontal"), errors, typed,
                           lines, len(kept))
                summary.errors += refused_rows
                summary.rows += raw.height
                summary.decided += raw.height - refused_rows
                if progress:
                    progress(raw.height)
            behind.wait()
            summary.blank_rows.merge(table.blank_rows)  # an xlsx sheet's: Table.rows skips them
            writer.commit()
        except BaseException:
            behind.wait(quiet=True)  # the stream is not closed under a write
            writer.abort()
            raise
        summary.outputs = writer.outputs
        return summary
    finally:
        cleanup()


def _write(writer, frame, errors, typed: bool, lines, line_cells: int) -> None:
    writer.write_frame(frame, typed=typed, lines=lines, line_cells=line_cells)
    if errors is not None:
        writer.write_frame(errors, which=1, typed=typed)


class _Behind:
    """Runs calls in order on a thread of their own, one at a time, while the caller goes on: polars
    writes without holding the GIL, so a chunk is written while the next one is read and decided.
    A call's exception is raised by the next run() or wait()."""

    def __init__(self) -> None:
        self._pending: Future | None = None

    def run(self, call: Callable[..., Any], *args: Any) -> None:
        self.wait()
        self._pending = _in_thread(call, *args)

    def wait(self, quiet: bool = False) -> None:
        pending, self._pending = self._pending, None
        error = pending.exception() if pending is not None else None  # waits for it
        if error is not None and not quiet:
            raise error


def _ahead(iterator: Iterator[Any]) -> Iterator[Any]:
    """The items of `iterator`, the next one made on another thread while the caller works on this
    one (polars parses a block without holding the GIL); an exception comes out where its item would."""
    iterator = iter(iterator)
    upcoming = _in_thread(next, iterator, _END)
    while (item := upcoming.result()) is not _END:
        upcoming = _in_thread(next, iterator, _END)
        yield item


_END = object()


def _in_thread(call: Callable[..., Any], *args: Any) -> Future:
    """call(*args) started on a new thread; its result or exception in the future returned."""
    def settle() -> None:
        try:
            future.set_result(call(*args))
        except BaseException as error:
            future.set_exception(error)

    future: Future = Future()
    threading.Thread(target=settle, daemon=True).start()
    return future


def _decisions(converted, rules: Callable[[str], Any], programmes: list[str], columns: list[str], height: int,
               summary: Summary):
    """The decision columns of a chunk (`columns`: engine.batch.decision_header), in row order; a row
    with problems is marked as an error. Outcomes (an Enum) and reasons (categorical) take few values,
    so the writer checks those alone."""
    import polars as pl

    from engine.columnar import OUTCOME_DTYPE

    bad = converted.problems["position"].unique()
    outcome_error, amount_error, reason_error = ROW_ERROR
    parts, covered = [], []
    for kind, (positions, typed) in converted.frames.items():
        decided = rules(kind).decide(typed)
        parts.append(decided.with_columns(positions.alias("position")))
        covered.append(positions)
    refused = bad.filter(~bad.is_in(pl.concat(covered).implode())) if covered else bad
    if len(refused):  # rows whose record_type itself is refused: in no frame
        parts.append(pl.DataFrame({"position": refused}))
    frame = parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal").sort("position")
    if not frame["position"].equals(pl.int_range(height, dtype=pl.UInt32, eager=True), check_names=False):
        raise AssertionError(f"column-wise batch lost rows: {frame.height} of {height}")  # a bug, not data
    frame = frame.select(pl.col("position"), *[
        pl.col(c) if c in frame.columns else pl.lit(None, pl.Decimal(38, 2) if c.endswith(".amount") else pl.String)
        .alias(c) for c in columns])
    frame = frame.drop("position")  # rows are in position order: a position is a row index
    if len(bad):  # a row with problems: "error" in every programme, as RowDecider.error_columns
        # set in those few rows only (scatter), not chosen row by row over every column
        marked = []
        for column in frame.get_columns():
            if column.name.endswith(".outcome"):  # OUTCOME_DTYPE has "error" (a programme not decided: null text)
                marked.append((column if column.dtype == OUTCOME_DTYPE else column.cast(OUTCOME_DTYPE))
                              .scatter(bad, outcome_error))
            elif column.name.endswith(".amount"):
                marked.append(column.scatter(bad, pl.Series([amount_error], dtype=column.dtype)))
            elif column.name.endswith(".reason"):
                marked.append(column.cast(pl.Categorical).scatter(bad, reason_error))
            else:  # an effect: none for a row not decided (a typed null: money effects are Decimal)
                marked.append(column.scatter(bad, pl.Series([None], dtype=column.dtype)))
        frame = pl.DataFrame(marked)
    _count(frame, programmes, summary)
    return frame


def _count(frame, programmes: list[str], summary: Summary) -> None:
    """Outcome counts and amount totals per programme, as RowDecider.decision_columns adds them:
    over the rows decided (a refused row is "error" and has no amount; a programme of the other
    record type is null), in one query over all programmes."""
    import polars as pl

    if frame.height == 0:
        return
    before = {p: summary.outcomes.get(p, {}).get("eligible", 0) for p in programmes}  # this chunk's are added below
    found = frame.select(
        *[pl.col(f"{p}.outcome").value_counts(name="n").implode().alias(f"{p}.counts") for p in programmes],
        *[pl.col(f"{p}.amount").sum().alias(f"{p}.total") for p in programmes],
        *[pl.col(f"{p}.amount").count().alias(f"{p}.amounts") for p in programmes]).row(0, named=True)
    for programme in programmes:
        for count in found[f"{programme}.counts"]:
            outcome = count[f"{programme}.outcome"]
            if outcome is not None and outcome != ROW_ERROR[0]:
                counts = summary.outcomes.setdefault(programme, {})
                counts[outcome] = counts.get(outcome, 0) + count["n"]
        if found[f"{programme}.amounts"]:
            summary.amounts[programme] = summary.amounts.get(programme, Decimal(0)) + Decimal(found[f"{programme}.total"])
        eligible = summary.outcomes.get(programme, {}).get("eligible", 0) - before.get(programme, 0)
        if eligible > found[f"{programme}.amounts"]:  # an amount is only ever given to an eligible row
            summary.unpriced[programme] = summary.unpriced.get(programme, 0) + eligible - found[f"{programme}.amounts"]


# ------------------------------------------------------------------------------------- reading

def _text_chunks(table, width: int) -> tuple[Iterator[Any], Callable[[], None]]:
    """A CSV's chunks (see _chunks), and what to clean up after them."""
    if table.format != ".csv":
        raise Refused(f"{table.format[1:]} input is read row by row")
    if any("\n" in h or "\r" in h for h in table.header):
        raise Refused("a header cell spans lines")
    source, cleanup = _utf8_source(table)
    return _chunks(source, width), cleanup


def _typed_chunks(table, width: int) -> tuple[Iterator[Any], Callable[[], None]]:
    """An xlsx sheet's rows (engine.tabular.Table.rows: typed cells, rows with no data skipped, each with
    its row number) in chunks of text columns c0…, a typed cell encoded (engine.tabular.encode_cell)."""
    import polars as pl

    def frame(batch: list[tuple[int, list[Any]]]):
        if any(len(cells) > width and any(c is not None and c != "" for c in cells[width:]) for _, cells in batch):
            raise Refused("a row has cells beyond the header")
        columns = {}
        for i, column in enumerate(zip(*(cells[:width] for _, cells in batch))):
            plain = all(value is None or type(value) is str for value in column)
            columns[f"c{i}"] = _encoded(pl.Series(column, dtype=pl.String) if plain else column, i)
        columns["__row"] = pl.Series([number for number, _ in batch], dtype=pl.UInt32)
        return pl.DataFrame(columns)

    def chunks():
        batch = []
        for row in table.rows():
            batch.append(row)
            if len(batch) == TYPED_CHUNK_ROWS:
                yield frame(batch)
                batch = []
        if batch:
            yield frame(batch)

    return chunks(), lambda: None


def _parquet_chunks(table, width: int) -> tuple[Iterator[Any], Callable[[], None]]:
    """A Parquet file's record batches as text columns c0…: a text column straight from Arrow, any
    other column a cell at a time, encoded. Every row is in (the converter drops rows with no data,
    as Table.rows does), numbered from 2 as Table.rows numbers them."""
    import polars as pl
    import pyarrow as pa

    def chunks():
        number = 2
        for batch in table.record_batches(TYPED_CHUNK_ROWS):
            columns = {}
            for i, column in enumerate(batch.columns[:width]):
                text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
                columns[f"c{i}"] = _encoded(pl.Series(column).cast(pl.String) if text else column.to_pylist(), i)
            columns["__row"] = pl.int_range(number, number + batch.num_rows, dtype=pl.UInt32, eager=True)
            number += batch.num_rows
            yield pl.DataFrame(columns)

    return chunks(), lambda: None


def _encoded(cells, index: int):
    """A column of cells as the String column of the column path: a text Series as it is (unless
    some text starts with NUL, as Parquet text may), other cells encoded (engine.tabular.encode_cell)."""
    import polars as pl

    from engine.tabular import TYPED, encode_cell

    if isinstance(cells, pl.Series) and not cells.str.starts_with(TYPED).any():
        return cells
    try:
        return pl.Series([encode_cell(v) for v in cells], dtype=pl.String)
    except KeyError as kind:  # a cell type the encoding does not know: read it row by row
        raise Refused(f"a cell of type {kind} in column {index + 1}") from None


def _utf8_source(table) -> tuple[Path, Callable[[], None]]:
    """The CSV as UTF-8: the file itself, or a temporary UTF-8 copy of a GB18030 file (as Excel
    saves CSV in Chinese locales), decoded as engine.tabular.Table sniffed it."""
    path = table.path
    if table.encoding == "utf-8-sig":
        return path, lambda: None
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".utf8.csv", dir=tempfile.gettempdir())
    try:
        with path.open("rb") as raw, os.fdopen(handle, "wb") as out:
            decoder = codecs.getincrementaldecoder(table.encoding)()
            for block in iter(lambda: raw.read(1 << 20), b""):
                out.write(decoder.decode(block).encode("utf-8"))
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
    except (UnicodeDecodeError, OSError) as error:
        Path(name).unlink(missing_ok=True)
        raise Refused(f"cannot read as {table.encoding}: {error}") from None
    return Path(name), lambda: Path(name).unlink(missing_ok=True)


def _chunks(path: Path, width: int) -> Iterator[Any]:
    """The data rows in chunks of text columns c0…, each row with its line number (__row).

    The file is read a block at a time, cut at the last line end, so memory holds one block
    whatever the file's length. Row numbers count lines, which are the spreadsheet's rows only when
    every row is one line: a block that parses to fewer rows than its lines has a cell spanning
    lines, and the file is refused (the per-record path numbers the rows as a spreadsheet shows them).
    """
    import polars as pl

    names = [f"c{i}" for i in range(width)]
    with path.open("rb") as stream:
        header = stream.readline()
        if _LONE_CR.search(header):  # lines ended by \r alone: the whole file came as one "line"
            raise Refused("the file has line ends other than \\n and \\r\\n")
        if header.startswith(codecs.BOM_UTF8):
            header = header[len(codecs.BOM_UTF8):]
        if not header.endswith(b"\n"):
            header += b"\n"
        line, carry = 2, b""
        while True:
            block = stream.read(BLOCK_BYTES)
            data = carry + block
            if block:
                cut = data.rfind(b"\n") + 1
                data, carry = data[:cut], data[cut:]
            if not data:
                if block:
                    continue  # a line longer than a block: read on
                return
            if _LONE_CR.search(data):
                raise Refused("the file has line ends other than \\n and \\r\\n")
            try:  # each block under the file's own header line: polars takes the width from it
                texts = _block_lines(data)  # a row per line, so it counts them too (a blank line is null)
                frame = pl.read_csv(header + data, has_header=True, new_columns=names, infer_schema=False,
                                    encoding="utf8", truncate_ragged_lines=False, raise_if_empty=False)
            except Exception as error:  # text that is not UTF-8 past what the encoding was sniffed from
                if "more fields than defined" in str(error):  # a row with a cell past the header
                    raise Refused("a row has more cells than the header") from None
                raise Refused(f"polars cannot read it: {error}") from None
            lines = len(texts) if texts is not None else data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            if frame.width != width:
                raise Refused(f"the header has {frame.width} cells for polars and {width} for Python's csv")
            if frame.height != lines:
                raise Refused("a cell spans lines, so rows are not lines")
            frame = _unescaped(frame, names)
            frame = frame.with_columns(pl.int_range(line, line + lines, dtype=pl.UInt32).alias("__row"))
            yield frame.with_columns(texts.alias("__line")) if texts is not None else frame
            line += lines
            if not block:
                return


def _unescaped(frame, names: list[str]):
    """The cells as engine.tabular.unescaped reads them: '+24 is +24. Most columns hold no cell that
    starts with an apostrophe, and a prefix test finds the few that do."""
    import polars as pl

    from engine.tabular import ESCAPED_CELL

    found = frame.select(pl.col(n).str.starts_with("'").any() for n in names).row(0) if names else ()
    marked = [n for n, hit in zip(names, found) if hit]
    return frame.with_columns(pl.when(pl.col(n).str.contains(ESCAPED_CELL)).then(pl.col(n).str.slice(1))
                              .otherwise(pl.col(n)).alias(n) for n in marked) if marked else frame


def _block_lines(data: bytes) -> Any:
    """Each line of a block as text, without its line end (null for a blank line), for the writer
    to copy a line whose cells it would write the same (TableWriter.write_frame; null where not
    known): the block read as one column, split at a byte that is not in it (None if it holds that
    byte)."""
    import polars as pl

    if _UNUSED in data:
        return None
    lines = pl.read_csv(data, has_header=False, separator=_UNUSED.decode(), quote_char=None, new_columns=["line"],
                        infer_schema=False, encoding="utf8", raise_if_empty=False).to_series()
    if data.startswith(codecs.BOM_UTF8) and len(lines):  # polars drops a BOM that starts its input, the
        lines = lines.scatter(0, None)  # block's cells keep it: that line is not known, so not copied
    return lines


_UNUSED = b"\x1f"  # the ASCII unit separator: not in the text of an office roster
_LONE_CR = re.compile(rb"\r(?!\n)")  # a carriage return that does not end a \r\n line
