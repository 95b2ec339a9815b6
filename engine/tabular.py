"""Reading and writing tables — CSV, XLSX, Parquet — as streams of rows, in bounded memory.

Readers yield (row number as the user sees it, cells). Writers write to a temporary file beside
the target and rename it into place only when complete, so an interrupted run leaves no partial
output. A text cell that a spreadsheet would read as a formula is written so it cannot run as one.
"""
from __future__ import annotations

import codecs
import csv
import functools
import os
import re
import tempfile
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from engine.errors import UserError
from engine.types import FormulaError

FORMATS = (".csv", ".xlsx", ".parquet")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UMASK = os.umask(0)
os.umask(_UMASK)


def table_format(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{path}: unsupported file type '{suffix or '(none)'}'; expected one of {', '.join(FORMATS)}")
    return suffix


# ------------------------------------------------------------------------------------------ reading


@dataclass
class RowTally:
    """Rows left out (having no data): how many, and the lowest few row numbers — what a summary
    says of them, in memory that does not grow with the file."""

    count: int = 0
    first: list[int] = field(default_factory=list)

    def add(self, numbers: list[int], count: int | None = None) -> None:
        self.count += len(numbers) if count is None else count
        self.first = sorted(self.first + numbers[:5])[:5]

    def merge(self, other: "RowTally") -> None:
        self.add(other.first, other.count)


class Table:
    """An input table: its header, an estimate of its data rows, and its rows as a stream."""

    def __init__(self, path: Path, sheet: str | None = None) -> None:
        self.path = Path(path)
        self.format = table_format(self.path)
        if not self.path.is_file():
            raise UserError(f"{self.path}: no such file")
        if sheet is not None and self.format != ".xlsx":
            raise UserError(f"{self.path}: a sheet is chosen only in an xlsx workbook")
        self.sheet = sheet  # xlsx: the worksheet read (the first, unless one is named)
        self.other_sheets: list[str] = []  # xlsx: the worksheets not read
        self.blank_rows = RowTally()  # the rows rows() left out, having no data
        self.header: list[str] = []
        self._total: int | None = None
        self._open()

    @property
    def total(self) -> int | None:
        """Data rows, an estimate for the progress bar; a CSV is counted only when this is asked for."""
        if self._total is None and self.format == ".csv":
            with self.path.open("rb") as stream:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
            self._total = max(0, lines - 1)
        return self._total

    def _open(self) -> None:
        reader = getattr(self, "_open_" + self.format[1:])
        try:
            reader()
        except UserError:
            raise
        except Exception as error:  # a broken file must be a message, not a traceback
            raise UserError(f"{self.path}: cannot read as {self.format[1:].upper()}: {error}") from None

    # CSV: UTF-8 (with or without BOM); GB18030 as Excel in Chinese locales saves it.
    def _open_csv(self) -> None:
        raw = _first_non_ascii(self.path, 1 << 16)
        self.encoding = "utf-8-sig"
        try:  # incremental: a character cut at the sample's end is held back, not taken for an error
            codecs.getincrementaldecoder("utf-8-sig")().decode(raw, final=False)
        except UnicodeDecodeError as error:
            # text that is UTF-8 for a while (a few characters: GB18030 bytes can pass for one) makes a
            # UTF-8 file with a bad cell further on, which the rows then name by line and byte
            before = raw[:error.start].decode("utf-8-sig")
            if sum(1 for ch in before if ord(ch) > 127) < 4:
                self.encoding = "gb18030"
        with self.path.open("r", encoding=self.encoding, newline="") as stream:
            try:
                self.header = [h.strip() for h in next(csv.reader(stream, strict=True), [])]
            except csv.Error as error:
                raise UserError(_bad_quoting(self.path, 1, error)) from None
            except UnicodeDecodeError:  # text is decoded ahead of the header: a bad byte a few rows on
                raise UserError(self._undecodable_message()) from None

    def _undecodable_message(self) -> str:
        line, byte = _undecodable(self.path, self.encoding)
        return (f"{self.path}: line {line} is not {self.encoding.replace('-sig', '')} (byte 0x{byte:02x}); "
                "save the file as UTF-8 (or GB18030) throughout")

    def _rows_csv(self) -> Iterator[tuple[int, list[Any]]]:
        with self.path.open("r", encoding=self.encoding, newline="") as stream:
            # strict: a quote left open would take every later row into one cell, and text after a
            # closing quote would be joined to it; either is refused, never read on
            reader = csv.reader(stream, strict=True)
            next(reader, None)
            # the row as a spreadsheet shows it (a cell spanning lines is one row), not the file's line
            for number, cells in enumerate(reader, start=2):
                yield number, [unescaped(cell) for cell in cells]

    # xlsx: python-calamine (Rust) reads ~9× faster than openpyxl, with the same cell values once
    # _as_openpyxl_reads has evened out the representation. It reads a formula's error (#DIV/0!)
    # as an empty cell, though, which would turn a broken cell into a missing fact: a sheet with
    # any error cell is read by openpyxl, which reports it as the error text it shows.
    def _open_xlsx(self) -> None:
        from python_calamine import CalamineWorkbook, SheetTypeEnum

        book = CalamineWorkbook.from_path(str(self.path))
        names = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        if not names:
            raise UserError(f"{self.path}: the workbook has no worksheet")
        if self.sheet is not None and self.sheet not in names:
            raise UserError(f"{self.path}: no worksheet '{self.sheet}'; its worksheets are: {', '.join(names)}")
        self.sheet = self.sheet if self.sheet is not None else names[0]
        self.other_sheets = [name for name in names if name != self.sheet]
        self._merges(book.get_sheet_by_name(self.sheet).merged_cell_ranges or [])
        self._uncalculated = _uncalculated_formulas(self.path, self.sheet)
        self._openpyxl = _has_error_cells(self.path)
        if self._openpyxl:
            import openpyxl

            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
            self._total = max(0, (book[self.sheet].max_row or 1) - 1)
            book.close()
        else:
            self._sheet = book.get_sheet_by_name(self.sheet)
            self._total = max(0, self._sheet.total_height - 1)
        self.header = ["" if h is None else str(h).strip() for h in next(self._xlsx_rows(), [])]

    def _xlsx_rows(self) -> Iterator[list[Any]]:
        """Every row from row 1 and column A, afresh on each call (a refused column-wise batch
        hands the sheet to the per-record path, which reads it again)."""
        if self._openpyxl:
            import openpyxl

            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
            try:
                for cells in book[self.sheet].iter_rows(min_row=1):  # not values only: an error is told apart
                    yield [FormulaError(c.value) if c.data_type == "e" else c.value for c in cells]
            finally:
                book.close()
            return
        # calamine starts its rows at row 1 but at the first used column: leading empty columns are
        # put back to keep every cell in its position
        indent = [None] * (self._sheet.start[1] if self._sheet.start else 0)
        for cells in self._sheet.iter_rows():
            yield indent + [_as_openpyxl_reads(value) for value in cells]

    def _merges(self, ranges: list) -> None:
        """The sheet's merged cells: a range down one column of data rows shows its first cell's value
        on every row it spans (rows of one employer, one date), and is read so (filled down, said in
        the summary); another (across columns, or from the header) is read as stored, its first cell
        only, and said too."""
        from xlsxwriter.utility import xl_rowcol_to_cell

        self._fill_down = {}  # first row (0-based) → [(column, last row)]
        self.merged_filled, self.merged_not_filled = [], []
        for (first_row, first_col), (last_row, last_col) in sorted(ranges):
            name = f"{xl_rowcol_to_cell(first_row, first_col)}:{xl_rowcol_to_cell(last_row, last_col)}"
            if first_row >= 1 and first_col == last_col and last_row > first_row:
                self._fill_down.setdefault(first_row, []).append((first_col, last_row))
                self.merged_filled.append(name)
            elif last_row >= 1:
                self.merged_not_filled.append(name)

    def _rows_xlsx(self) -> Iterator[tuple[int, list[Any]]]:
        rows = self._xlsx_rows()
        next(rows, None)  # the header
        filling: dict[int, tuple[Any, int]] = {}  # column → (the merged value, its last row)
        for index, cells in enumerate(rows, start=1):
            if index in self._uncalculated:  # a formula whose stored value is no result: not a fact
                cells = list(cells) + [None] * (max(self._uncalculated[index]) + 1 - len(cells))
                for column, formula in self._uncalculated[index].items():
                    cells[column] = FormulaError(formula)
            if self._fill_down or filling:
                filling = {c: kept for c, kept in filling.items() if kept[1] >= index}
                for column, last in self._fill_down.get(index, ()):
                    filling[column] = (cells[column] if column < len(cells) else None, last)
                # a row with no data of its own stays blank: a merge running over empty rows fills none
                if filling and any(c is not None and c != "" for i, c in enumerate(cells) if i not in filling):
                    cells = list(cells) + [None] * (max(filling) + 1 - len(cells))
                    for column, (value, _) in filling.items():
                        if cells[column] is None:
                            cells[column] = value
            yield index + 1, cells

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq

        self._file = pq.ParquetFile(self.path)
        self.header = [name.strip() for name in self._file.schema_arrow.names]
        self._total = self._file.metadata.num_rows

    def record_batches(self, size: int) -> Iterator[Any]:
        """A Parquet file's rows as Arrow record batches of `size` rows, every row included."""
        return self._file.iter_batches(batch_size=size)

    def _rows_parquet(self) -> Iterator[tuple[int, list[Any]]]:
        number = 1
        for batch in self.record_batches(8192):
            columns = [column.to_pylist() for column in batch.columns]
            for cells in zip(*columns):
                number += 1
                yield number, list(cells)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cells), skipping rows with no data at all (tallied in blank_rows, for the
        summary); cells padded to the header."""
        width = len(self.header)
        self.blank_rows = RowTally()  # afresh: a refused column-wise run hands the file to the per-record path
        number = 1
        try:
            for number, cells in getattr(self, "_rows_" + self.format[1:])():
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    self.blank_rows.add([number])
                    continue
                if len(cells) < width:
                    cells = list(cells) + [None] * (width - len(cells))
                yield number, cells
        except UserError:
            raise
        except Exception as error:
            if self.format == ".csv" and isinstance(error, UnicodeDecodeError):  # text is decoded ahead of the rows
                raise UserError(self._undecodable_message()) from None
            if isinstance(error, csv.Error):
                raise UserError(_bad_quoting(self.path, number + 1, error)) from None
            raise UserError(f"{self.path}: cannot read past row {number}: {error}") from None


def _undecodable(path: Path, encoding: str) -> tuple[int, int]:
    """The line, and the byte, where `path` stops decoding as `encoding` (it is known not to)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                # the decoder may hold back a few bytes from the block before: where it failed, at most that far
                start = max(0, error.start - len(error.object) + len(block))
                return line + block.count(b"\n", 0, start), error.object[error.start]
            line += block.count(b"\n")
    return line, 0


def _first_non_ascii(path: Path, size: int) -> bytes:
    """The bytes the encoding is told from: the file's first `size` bytes, or, where those are all
    ASCII (which reads the same in UTF-8 and GB18030), `size` bytes from the line holding the first
    byte that is not — a roster whose Chinese starts at row 3,000 is still told right."""
    with path.open("rb") as stream:
        head = stream.read(size)
        if not head.isascii():
            return head
        offset = len(head)
        while block := stream.read(1 << 20):
            if not block.isascii():
                line = block.rfind(b"\n", 0, _NON_ASCII.search(block).start()) + 1
                stream.seek(offset + line)
                return stream.read(size)
            offset += len(block)
        return head


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _as_openpyxl_reads(value: Any) -> Any:
    """A calamine cell as openpyxl gives it: an empty cell is None, a number written without a
    decimal point an int (Excel writes whole numbers so; below 1e16 no exponent is used), a date
    cell a datetime at midnight."""
    if value == "" and isinstance(value, str):
        return None
    if type(value) is float and value.is_integer() and abs(value) < 1e16:
        return int(value)
    if type(value) is date:
        return datetime(value.year, value.month, value.day)
    return value


_ERROR_CELL = re.compile(rb"""<c\b[^>]*\st\s*=\s*["']e["']""")


_FORMULA_CELL = re.compile(rb"""<c\s+r=["']([A-Z]+)([0-9]+)["']([^>]*)>\s*<f\b[^>]*?(?:/>|>(.*?)</f>)\s*"""
                           rb"""(?:(<v\s*/>|<v>\s*</v>)|<v>[^<]*</v>)?\s*(?:<is>.*?</is>\s*)?</c>""", re.S)


def _uncalculated_formulas(path: Path, sheet: str) -> dict[int, dict[int, str]]:
    """The formula cells of worksheet `sheet` whose stored value is no result, by row and column
    (0-based) → the formula: one stored with no value, and every formula of a workbook that asks to be
    calculated when it is opened (fullCalcOnLoad: openpyxl and XlsxWriter write their formulas so,
    XlsxWriter with 0 as the value). calamine would read the first as an empty cell and the second as
    0: a missing or wrong fact where the sheet, once opened, shows another."""
    import html
    import zipfile

    with zipfile.ZipFile(path) as book:
        workbook = book.read("xl/workbook.xml")
        part = _sheet_part(book, workbook, sheet)
        if part is None:
            return {}
        if part not in _scan_sheets(path)[1]:  # no formula in it: not read again
            return {}
        data = book.read(part)
    recalculated = re.search(rb"""<calcPr\b[^>]*\bfullCalcOnLoad\s*=\s*["'](?:1|true)["']""", workbook) is not None
    found: dict[int, dict[int, str]] = {}
    for match in _FORMULA_CELL.finditer(data):
        letters, row, attributes, formula, no_value = match.groups()
        if _ERROR_TYPE.search(attributes):  # its error (#DIV/0!) is what the sheet shows: a FormulaError already
            continue
        if not recalculated and _TEXT_TYPE.search(attributes):  # a text result, "" included (=IF(…,"",…)):
            continue                                             # Excel stores that as an empty <v>
        if not (recalculated or no_value is not None or match.group(0).find(b"<v") < 0):
            continue
        column = 0
        for letter in letters.decode():
            column = column * 26 + ord(letter) - 64
        text = html.unescape(formula.decode()) if formula else "(shared formula)"
        found.setdefault(int(row) - 1, {})[column - 1] = "=" + text
    return found


_ERROR_TYPE = re.compile(rb"""\bt\s*=\s*["']e["']""")
_TEXT_TYPE = re.compile(rb"""\bt\s*=\s*["']str["']""")
_ATTRIBUTE = rb"""\b%s\s*=\s*(?:"([^"]*)"|'([^']*)')"""  # either quote, the other one allowed inside


def _attribute(tag: bytes, name: bytes) -> str | None:
    import html

    found = re.search(_ATTRIBUTE % name, tag)
    return html.unescape((found.group(1) if found.group(1) is not None else found.group(2)).decode()) if found else None


def _sheet_part(book, workbook: bytes, sheet: str) -> str | None:
    """The zip member holding worksheet `sheet`: its r:id in workbook.xml, its target in the rels."""
    for tag in re.findall(rb"<sheet\b[^>]*>", workbook):
        rid = _attribute(tag, rb"r:id")
        if rid is not None and _attribute(tag, rb"name") == sheet:
            rels = book.read("xl/_rels/workbook.xml.rels")
            for relation in re.findall(rb"<Relationship\b[^>]*>", rels):
                target = _attribute(relation, rb"Target")
                if _attribute(relation, rb"Id") == rid and target is not None:
                    return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


def _has_error_cells(path: Path) -> bool:
    """Whether any worksheet of the workbook holds a formula error cell (<c … t="e">)."""
    return _scan_sheets(path)[0]


def _scan_sheets(path: Path) -> tuple[bool, frozenset[str]]:
    """One pass over every worksheet's XML: whether any holds a formula error cell (<c … t="e">),
    and which parts hold a formula at all (<f) — remembered for the file as it is, so that opening a
    workbook decompresses its sheets once for both questions."""
    stat = path.stat()
    return _scanned(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _scanned(path: str, mtime: int, size: int) -> tuple[bool, frozenset[str]]:
    import zipfile

    errors, formulas = False, set()
    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            with book.open(name) as part:
                tail = b""
                for block in iter(lambda: part.read(1 << 22), b""):
                    # the regex only where an error's type value ("e") is in the text at all: a
                    # literal search is some 20× faster than the regex over a whole sheet
                    text = tail + block
                    if not errors and (b'"e"' in text or b"'e'" in text) and _ERROR_CELL.search(text):
                        errors = True
                    if b"<f" in text:
                        formulas.add(name)
                    tail = block[-200:]  # a tag cut between blocks
    return errors, frozenset(formulas)


# A cell that is not text (a number, date, boolean… of an xlsx sheet or a Parquet file), held in a
# text column by the column-wise batch: NUL, a type letter and the value. xlsx text can never hold
# NUL (XML forbids it); Parquet text can, and such text is encoded too (type "s"), so an encoded cell
# is never taken for text, and every cell decodes to exactly what was read.
TYPED = "\x00"
_ENCODE = {str: ("s", str), FormulaError: ("e", str), Decimal: ("N", str), int: ("i", str), float: ("f", repr),
           bool: ("b", lambda v: "1" if v else "0"),
           datetime: ("D", datetime.isoformat), date: ("d", date.isoformat), time: ("t", time.isoformat),
           timedelta: ("T", lambda v: f"{v.days},{v.seconds},{v.microseconds}")}
_DECODE = {"s": str, "e": FormulaError, "N": Decimal, "i": int, "f": float, "b": lambda text: text == "1", "D": datetime.fromisoformat,
           "d": date.fromisoformat, "t": time.fromisoformat,
           "T": lambda text: timedelta(*map(int, text.split(",")))}


def encode_cell(value: Any) -> str | None:
    if value is None or (type(value) is str and value[:1] != TYPED):
        return value
    tag, text = _ENCODE[type(value)]  # a KeyError names a type no reader gives; the caller refuses it
    return TYPED + tag + text(value)


def decode_cell(cell: Any) -> Any:
    if type(cell) is str and cell[:1] == TYPED:
        return _DECODE[cell[1]](cell[2:])
    return cell


# ------------------------------------------------------------------------------------------ writing


def safe_text(value: str) -> str:
    """A cell a spreadsheet would take for a formula gets a leading apostrophe (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def unescaped(value: str) -> str:
    """A CSV cell as safe_text found it: the apostrophe before formula-like text is a spreadsheet's
    mark that the cell is text, not part of it (Excel never exports it), so an OUT read back as IN
    gives '+24 as +24."""
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA_START and len(value) > 1 else value



# Temporaries not yet renamed onto their targets or removed: what a stopped run whose clean-up
# hangs must still remove (engine.cli gives the clean-up a few seconds, then removes these and exits).
UNFINISHED: set[Path] = set()


def temporary_beside(target: Path) -> Path:
    """A new empty hidden file beside `target`, to be renamed onto it when complete (finished())
    — an ordinary file's permissions: mkstemp makes 0600."""
    name = _name_beside(target, ".part")
    os.chmod(name, 0o666 & ~_UMASK)
    UNFINISHED.add(name)
    return name


def _name_beside(target: Path, suffix: str) -> Path:
    """A new empty hidden file beside `target`, its name shortened: a long target name (80 Chinese
    characters is 240 bytes) plus mkstemp's marks would pass the 255 bytes a file name may have."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=suffix, dir=target.parent or ".")
    os.close(handle)
    return Path(name)


def finished(temporary: Path, target: Path | None) -> None:
    """The temporary renamed onto `target` (complete), or removed (target None)."""
    if target is not None:
        os.replace(temporary, target)
    else:
        temporary.unlink(missing_ok=True)
    UNFINISHED.discard(temporary)


def output_files(path: Path) -> list[Path]:
    """The files a TableWriter for `path` writes: it, and for CSV and Parquet its errors sibling."""
    path = Path(path)
    fmt = table_format(path)
    return [path] if fmt == ".xlsx" else [path, path.with_name(f"{path.stem}.errors{fmt}")]


class TableWriter:
    """Writes a main sheet and an error sheet; both appear only when `commit()` is reached.

    CSV and Parquet write errors to a sibling file `<name>.errors.<ext>`; XLSX to a second sheet.
    """

    def __init__(self, path: Path, header: list[str], error_header: list[str]) -> None:
        self.path = Path(path)
        self.format = table_format(self.path)
        self.header, self.error_header = header, error_header
        self._temporaries: list[tuple[Path, Path]] = []
        self._errors_path = output_files(self.path)[-1]
        getattr(self, "_start_" + self.format[1:])()

    def _temporary(self, target: Path) -> Path:
        part = temporary_beside(target)
        self._temporaries.append((part, target))
        return part

    # CSV
    def _start_csv(self) -> None:
        from engine.directfile import open_text

        self._streams = []
        self._writers = []
        for target, header in ((self.path, self.header), (self._errors_path, self.error_header)):
            stream = open_text(self._temporary(target), "utf-8-sig")  # gigabytes written once: engine.directfile
            writer = csv.writer(stream)
            writer.writerow([safe_text(h) for h in header])
            self._streams.append(stream)
            self._writers.append(writer)

    @staticmethod
    def _cell_text(value: Any) -> str:
        """A cell's value as text, as given (a date in ISO form)."""
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
        if isinstance(value, date):
            return value.isoformat()
        return value if isinstance(value, str) else str(value)

    @staticmethod
    def _csv_cell(value: Any) -> str:
        """As _cell_text, text that a spreadsheet opening the CSV would run as a formula made safe
        (safe_text). Only CSV needs it: an xlsx text cell or a Parquet string is never a formula."""
        text = TableWriter._cell_text(value)
        return safe_text(text) if isinstance(value, str) else text

    def _write_csv(self, which: int, row: list[Any]) -> None:
        self._writers[which].writerow([self._csv_cell(v) for v in row])

    # XLSX: a results sheet and an errors sheet, streamed (engine.xlsxstream)
    def _start_xlsx(self) -> None:
        from engine.xlsxstream import XlsxStream

        self._book = XlsxStream(self._temporary(self.path), ["results", "errors"])
        self._book.write_row(0, self.header)
        self._book.write_row(1, self.error_header)

    def _write_xlsx(self, which: int, row: list[Any]) -> None:
        self._book.write_row(which, row)

    # Parquet: text columns, so any input survives the round trip; batched.
    def _start_parquet(self) -> None:
        self._buffers: list[list[list[Any]]] = [[], []]
        self._parquet_writers: list[Any] = [None, None]

    def _write_parquet(self, which: int, row: list[Any]) -> None:
        self._buffers[which].append([None if v is None or v == "" else self._cell_text(v) for v in row])
        if len(self._buffers[which]) >= 8192:
            self._flush_parquet(which)

    def _flush_parquet(self, which: int) -> None:
        import pyarrow as pa

        rows, self._buffers[which] = self._buffers[which], []
        self._parquet_columns(which, [pa.array([r[i] for r in rows], pa.string()) for i in range(len(self._names(which)))])

    def _write_parquet_frame(self, which: int, frame) -> None:
        """A frame's cells as _write_parquet writes them, a column at a time: `frame` already holds
        each cell's text (_cell_texts); an empty cell is null."""
        import polars as pl
        import pyarrow as pa

        if self._buffers[which]:
            self._flush_parquet(which)  # rows written one by one go first
        texts = frame.select(pl.when(text != "").then(text).alias(c) for c, text in
                             ((c, pl.col(c).cast(pl.String)) for c in frame.columns))
        self._parquet_columns(which, [column.to_arrow().cast(pa.string()) for column in texts.get_columns()])

    def _parquet_columns(self, which: int, columns: list) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(dict(zip(self._names(which), columns)))
        if self._parquet_writers[which] is None:
            target = self.path if which == 0 else self._errors_path
            self._parquet_writers[which] = pq.ParquetWriter(str(self._temporary(target)), table.schema)
        self._parquet_writers[which].write_table(table)

    def _names(self, which: int) -> list[str]:
        return _unique(self.header if which == 0 else self.error_header)

    # whole frames (the column-wise batch): CSV, Parquet and xlsx a column at a time;
    # every cell comes out exactly as `write` makes it
    def write_frame(self, frame, which: int = 0, typed: bool = False, lines=None, line_cells: int = 0) -> None:
        """Write a polars frame of rows (text input cells, decision columns) to the main or error
        sheet; `typed`: its text columns may hold typed cells (encode_cell), written as they were read.
        `lines` (CSV only): the line of a CSV file each row's first `line_cells` columns were parsed
        from by polars (without its line end; null where not known): a line those cells would be
        written as is copied, not written again cell by cell."""
        import polars as pl

        if self.format == ".parquet":
            self._write_parquet_frame(which, _cell_texts(frame, typed, formulas_escaped=False))
            return
        if self.format == ".xlsx":  # the rows as write() would write them one by one, built column-wise
            self._book.write_frame(which, frame, typed=typed)
            return

        if lines is not None:
            frame = pl.concat([_line_texts(frame.select(frame.columns[:line_cells]), lines).to_frame("__line"),
                               _csv_fields(frame.select(frame.columns[line_cells:]), typed)], how="horizontal")
        else:
            frame = _csv_fields(frame, typed)
        stream = self._streams[which]
        stream.flush()
        # every field is already as polars would quote it (_csv_fields), and the copied lines must not be quoted
        frame.write_csv(stream.buffer, include_header=False, line_terminator="\r\n", quote_style="never")
        stream.buffer.flush()

    # common
    def write(self, row: list[Any]) -> None:
        getattr(self, "_write_" + self.format[1:])(0, row)

    def write_error(self, row: list[Any]) -> None:
        getattr(self, "_write_" + self.format[1:])(1, row)

    def _close(self) -> None:
        if self.format == ".csv":
            for stream in self._streams:
                stream.close()
        elif self.format == ".xlsx":
            self._book.close()
        else:
            for which in (0, 1):
                if self._buffers[which] or self._parquet_writers[which] is None:
                    self._flush_parquet(which)
                self._parquet_writers[which].close()

    def commit(self, also: list[tuple[Path, Path]] = ()) -> None:
        """Put every file in place — its errors file and `also` ((temporary, target): the --explain
        file), then OUT last — as one step: a file already at a target is set aside first, and if any
        rename fails, what was placed is removed, what was set aside is put back, and the error is
        raised. Either every output is the new one, or none is."""
        self._close()
        steps = [pair for pair in self._temporaries if pair[1] != self.path] + list(also) \
            + [pair for pair in self._temporaries if pair[1] == self.path]
        placed: list[Path] = []
        set_aside: list[tuple[Path, Path]] = []
        try:
            for temporary, target in steps:
                if target.exists():  # not among UNFINISHED: a clean-up cut short must not remove it
                    old = _name_beside(target, ".old")
                    os.replace(target, old)
                    set_aside.append((old, target))
                finished(temporary, target)
                placed.append(target)
        except BaseException:
            for target in placed:
                target.unlink(missing_ok=True)
            for old, target in set_aside:
                os.replace(old, target)
            for temporary, _ in also:
                finished(temporary, None)
            self.abort()
            raise
        for old, _ in set_aside:
            old.unlink(missing_ok=True)
        self._temporaries = []

    def abort(self) -> None:
        try:
            self._close()
        except Exception:
            pass  # the files are being thrown away
        for temporary, _ in self._temporaries:
            finished(temporary, None)
        self._temporaries = []

    @property
    def outputs(self) -> list[Path]:
        return [self.path] if self.format == ".xlsx" else [self.path, self._errors_path]


_FORMULA = "^[" + "".join("\\" + c if c in "-^]\\" else c for c in _FORMULA_START) + "]"
ESCAPED_CELL = "^'" + _FORMULA[1:]  # safe_text's apostrophe before such text, for polars (unescaped)
_QUOTED = (",", '"', "\r", "\n")  # what makes polars quote a field (quote_style "necessary")


def _bad_quoting(path: Path, row: int, error: Exception) -> str:
    """A CSV row the csv module cannot split: where, what, and how to mend it."""
    return (f"{path}: row {row}: the quoting is broken ({error}): a cell that starts with a quote (\") must end "
            "with one, with any quote inside it doubled (\"\"); nothing was read past this row")


def _csv_fields(frame, typed: bool):
    """`frame` with each text column as the CSV field it is written as, to be written unquoted: its
    text (_cell_texts), quoted as polars quotes (in ", with " doubled) where a comma, quote or line
    break needs it. An empty string stays empty, as the csv module writes it. Other columns
    (numbers, dates) need none of it."""
    import polars as pl

    return _fix_fields(_cell_texts(frame, typed), lambda text: text.str.contains_any(_QUOTED), lambda text: pl.concat_str(
        pl.lit('"'), text.str.replace_all('"', '""', literal=True), pl.lit('"')))


def _cell_texts(frame, typed: bool, formulas_escaped: bool = True):
    """`frame` with each text cell as TableWriter._csv_cell writes it — safe_text, unless not
    `formulas_escaped` (Parquet: _cell_text) — and a typed cell (typed: an xlsx sheet's or a Parquet
    file's) as the per-record path writes its value."""
    import polars as pl

    if formulas_escaped:
        frame = _fix_fields(frame, lambda text: text.str.contains(_FORMULA), lambda text: pl.concat_str(pl.lit("'"), text))
    if typed:  # each typed cell as the per-record path writes it (after safe_text, which is for text)
        frame = frame.with_columns(_csv_cells(frame.get_column(name), formulas_escaped)
                                   for name, dtype in frame.schema.items() if dtype == pl.String)
    return frame


def _fix_fields(frame, test, change):
    """`frame` with change(cell) for each text cell that passes test(cells). Most columns hold no
    such cell: one pass finds the few that do, over a categorical column's distinct values only."""
    import polars as pl

    text = {name: pl.col(name) if dtype == pl.String else pl.col(name).unique().cast(pl.String)
            for name, dtype in frame.schema.items()
            if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))}
    found = frame.select(test(cells).any().alias(name) for name, cells in text.items()).row(0) if text else ()
    return frame.with_columns(
        pl.when(test(cells)).then(change(cells)).otherwise(cells).alias(name)
        for name, cells in ((name, pl.col(name).cast(pl.String)) for name, hit in zip(text, found) if hit))


def _line_texts(cells, lines):
    """The CSV text of each row of `cells` (the text cells polars parsed from `lines`): its line
    where writing them would give it back — no quote in it (so polars split it at every comma, and
    the cells are its pieces), a cell per column (so as many commas as the frame has columns, less
    one: a shorter line was filled up with empty cells), and none safe_text changes — else the
    cells written (_csv_fields) and joined."""
    import polars as pl

    line = pl.col("__line")
    copied = lines.to_frame("__line").select(
        line.is_not_null() & ~line.str.contains('"', literal=True)
        & ~pl.any_horizontal([line.str.starts_with(c) | line.str.contains("," + c, literal=True) for c in _FORMULA_START])
        & (line.str.count_matches(",", literal=True) == cells.width - 1)).to_series()
    written = copied.not_().arg_true()
    if len(written) == 0:
        return lines
    texts = _csv_fields(cells.select(pl.all().gather(written)), typed=False).select(
        pl.concat_str(pl.all().fill_null(""), separator=",")).to_series()
    return lines.clone().scatter(written, texts)


def _csv_cells(column, formulas_escaped: bool = True):
    """A text column with typed cells replaced by the text TableWriter._csv_cell makes of them (or,
    not `formulas_escaped`, _cell_text): a typed cell that is text (a formula not calculated, =20*2)
    is made safe as text is."""
    tokens = column.filter(column.str.starts_with(TYPED)).unique().to_list()
    if not tokens:
        return column
    text_of = TableWriter._csv_cell if formulas_escaped else TableWriter._cell_text
    return column.replace(tokens, [text_of(decode_cell(t)) for t in tokens])


def _unique(names: list[str]) -> list[str]:
    """Parquet needs distinct column names; a repeated header gets a suffix."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        result.append(name if count == 0 else f"{name}.{count}")
    return result
