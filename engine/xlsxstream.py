"""A streamed xlsx writer: each row goes straight into its sheet's XML, deflated as it comes.

XlsxWriter in constant-memory mode spends about 6 µs a cell in Python on this machine: 78 s for
a result sheet of 100,000 rows and 128 columns, more than the decisions take. Writing the cell XML
directly takes about 8 s. The cells are the ones engine.tabular wrote with XlsxWriter: text as
inline strings (never a formula), numbers as XlsxWriter formats them (%.16G), booleans, dates as
serial numbers shown yyyy-mm-dd, amounts shown 0.00. Tests read the files back with openpyxl and
calamine and compare every cell with what XlsxWriter wrote.

The first sheet streams into the zip file; the others (the error sheet, usually short) are kept in
temporary files and added when the book is closed, as a zip holds one member being written at a time.
"""
from __future__ import annotations

import math
import re
import tempfile
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_col_to_name

from engine.errors import UserError

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
_DATE_STYLE, _MONEY_STYLE = 1, 2  # cellXfs in _STYLES
_STYLES = (
    f'<styleSheet xmlns="{_MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_START = f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"

# As XlsxWriter escapes text: control characters become _xHHHH_, and text that already reads like
# such an escape has its underscore escaped, so every string reads back as written.
_ESCAPE_LIKE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_NEEDS_ESCAPE = re.compile("[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_EPOCH = datetime(1899, 12, 31)


def _escape(text: str) -> str:
    if not _NEEDS_ESCAPE.search(text):
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", _ESCAPE_LIKE.sub(r"_x005F\1", text))
    return text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")


def excel_serial(value: date) -> float:
    """A date or datetime as Excel's serial number (1900 system). Excel counts a 29 February 1900
    that never was, so serials from 1 March 1900 on are one more than the days since 1899-12-31."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    value = value.replace(tzinfo=None)  # a spreadsheet has no time zones: the wall-clock time
    delta: timedelta = value - _EPOCH
    serial = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    return serial + 1 if value >= datetime(1900, 3, 1) else serial


def cell_rest(value: Any) -> str | None:
    """The XML of a cell holding `value`, after its opening `<c r="A1` (the reference is the
    caller's); None for no cell (None, an empty string). Text is an inline string, as given: a cell
    with no <f> is never a formula, so no leading apostrophe is needed (CSV needs one)."""
    kind = type(value)
    if kind is str:
        if not value:
            return None  # an empty cell, not an empty string
        if len(value) > EXCEL_MAX_CELL_CHARACTERS:  # Excel would cut it, or not open the workbook
            raise UserError(f"a cell of {len(value):,} characters is longer than an Excel cell holds "
                            f"({EXCEL_MAX_CELL_CHARACTERS:,}): write the output as .csv or .parquet")
        if _NEEDS_ESCAPE.search(value):
            value = _escape(value)
        return f'" t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>'
    if value is None:
        return None
    if kind is bool:
        return f'" t="b"><v>{int(value)}</v></c>'
    if kind is Decimal:
        return f'" s="{_MONEY_STYLE}"><v>{float(value):.16G}</v></c>'
    if (kind is int and -1e300 < value < 1e300) or (kind is float and math.isfinite(value)):
        return f'"><v>{value:.16G}</v></c>'
    if isinstance(value, date):
        return f'" s="{_DATE_STYLE}"><v>{excel_serial(value):.16G}</v></c>'
    # anything else (a time of day, a duration) as the text it reads as
    return f'" t="inlineStr"><is><t xml:space="preserve">{_escape(str(value))}</t></is></c>'


EXCEL_MAX_ROWS = 1_048_576  # rows in a worksheet, the header row included
EXCEL_MAX_CELL_CHARACTERS = 32_767  # characters in a cell


class XlsxStream:
    """A workbook of `sheets` (names), written a row at a time with `write_row`; `close` finishes it.
    Text is written as text cells, never as formulas."""

    def __init__(self, path: Path, sheets: list[str]) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._names = sheets
        self._letters: list[str] = []
        self._rows = [0] * len(sheets)
        first = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self._parts: list[Any] = [first] + [tempfile.TemporaryFile() for _ in sheets[1:]]
        for part in self._parts:
            part.write(_SHEET_START.encode())

    def _take_rows(self, sheet: int, count: int) -> int:
        """The number of the first of `count` more rows of `sheet`; a sheet past Excel's limit is refused
        (Excel would not open the workbook, or would cut the rows off)."""
        if self._rows[sheet] + count > EXCEL_MAX_ROWS:
            raise UserError(f"the '{self._names[sheet]}' sheet would need more than Excel's {EXCEL_MAX_ROWS:,} rows "
                            "(the header included): write the output as .csv or .parquet")
        self._rows[sheet] += count
        return self._rows[sheet] - count + 1

    def write_row(self, sheet: int, values: list[Any]) -> None:
        self._take_rows(sheet, 1)
        number = str(self._rows[sheet])
        letters = self._column_letters(len(values))
        cells = [f'<c r="{letter}{number}{rest}' for letter, value in zip(letters, values)
                 if (rest := cell_rest(value)) is not None]
        self._parts[sheet].write(f'<row r="{number}">{"".join(cells)}</row>'.encode())

    def write_frame(self, sheet: int, frame, typed: bool = False, rows_at_a_time: int = 10_000) -> None:
        """The rows of a polars frame, exactly as write_row writes each row (its cells decoded first
        where `typed`: engine.tabular.encode_cell), built column-wise: each column's distinct values
        are turned into cell XML once (cell_rest) and spread over its rows, and polars joins a row's
        cells — about a third of write_row's time for a result sheet. A few thousand rows at a time,
        so the XML of a large frame is never all in memory."""
        import io

        import polars as pl

        from engine.tabular import decode_cell

        if not all(dtype.is_numeric() or (dtype.is_temporal() and dtype != pl.Duration)
                   or isinstance(dtype, (pl.String, pl.Categorical, pl.Enum, pl.Boolean, pl.Null))
                   for dtype in frame.dtypes):  # a type with no text to key its values by: row by row
            text = [typed and dtype == pl.String for dtype in frame.dtypes]
            for row in frame.iter_rows():
                self.write_row(sheet, [decode_cell(v) if is_text else v for v, is_text in zip(row, text)])
            return
        letters = self._column_letters(frame.width)
        columns = []  # per column: each distinct value's cell XML after `<c r="A1`, and each row's code
        for name, dtype in frame.schema.items():
            # a value's key is its text (0.0 and -0.0 are one value to unique() but two cells); an
            # Enum of the keys codes the rows
            column = frame.get_column(name)
            text = column.cast(pl.String)
            keyed = pl.DataFrame({"key": text, "value": column}).drop_nulls("key").unique(
                "key", keep="first", maintain_order=True)
            bodies = pl.Series([cell_rest(decode_cell(v) if typed and dtype == pl.String else v)
                                for v in keyed.get_column("value").to_list()], dtype=pl.String)
            keys = keyed.get_column("key").to_list()
            codes = text.cast(pl.Enum(keys)).to_physical() if keys else None
            columns.append((bodies, codes))
        for offset in range(0, frame.height, rows_at_a_time):
            height = min(rows_at_a_time, frame.height - offset)
            start = self._take_rows(sheet, height)
            cells = pl.DataFrame(
                [pl.int_range(start, start + height, eager=True).cast(pl.String).alias("n")]
                + [(bodies.gather(codes.slice(offset, height)) if codes is not None
                    else pl.Series([None] * height, dtype=pl.String)).alias(f"x{i}")
                   for i, (bodies, codes) in enumerate(columns)])
            xml = cells.select(pl.concat_str(
                [pl.lit('<row r="'), pl.col("n"), pl.lit('">'),
                 *[pl.concat_str(pl.lit(f'<c r="{letter}'), pl.col("n"), pl.col(f"x{i}")) for i, letter in enumerate(letters)],
                 pl.lit("</row>")], ignore_nulls=True))  # a cell with no XML (null) is left out
            buffer = io.BytesIO()
            xml.write_csv(buffer, include_header=False, quote_style="never", line_terminator="")
            self._parts[sheet].write(buffer.getbuffer())

    def _column_letters(self, count: int) -> list[str]:
        letters = self._letters
        if count > len(letters):
            letters.extend(xl_col_to_name(i) for i in range(len(letters), count))
        return letters[:count]

    def close(self) -> None:
        for part in self._parts:
            part.write(_SHEET_END.encode())
        self._parts[0].close()
        for index, part in enumerate(self._parts[1:], start=2):
            part.seek(0)
            with self._zip.open(f"xl/worksheets/sheet{index}.xml", "w", force_zip64=True) as member:
                for block in iter(lambda: part.read(1 << 20), b""):
                    member.write(block)
            part.close()
        self._write_package()
        self._zip.close()

    def _write_package(self) -> None:
        count = len(self._names)
        sheets = "".join(f'<sheet name="{_escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
                         for i, name in enumerate(self._names, start=1))
        self._zip.writestr("xl/workbook.xml", f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
                                              f"<sheets>{sheets}</sheets></workbook>")
        sheet_type = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
        links = "".join(f'<Relationship Id="rId{i}" Type="{sheet_type}" Target="worksheets/sheet{i}.xml"/>'
                        for i in range(1, count + 1))
        styles_type = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
        self._zip.writestr("xl/_rels/workbook.xml.rels",
                           f'{_XML}<Relationships xmlns="{_PACKAGE}">{links}'
                           f'<Relationship Id="rId{count + 1}" Type="{styles_type}" Target="styles.xml"/></Relationships>')
        self._zip.writestr("xl/styles.xml", _XML + _STYLES)
        document = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
        self._zip.writestr("_rels/.rels", f'{_XML}<Relationships xmlns="{_PACKAGE}">'
                                          f'<Relationship Id="rId1" Type="{document}" Target="xl/workbook.xml"/>'
                                          "</Relationships>")
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{kind}.worksheet+xml"/>'
                            for i in range(1, count + 1))
        self._zip.writestr("[Content_Types].xml", (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{kind}.sheet.main+xml"/>{overrides}'
            f'<Override PartName="/xl/styles.xml" ContentType="{kind}.styles+xml"/></Types>'))
