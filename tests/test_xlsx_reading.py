"""xlsx input is read by python-calamine, and must give every cell exactly as openpyxl (the reader
it replaced, kept for sheets with error cells) gives it: same values, same types, same positions."""
import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.tabular
from engine.batch import run_batch
from engine.loader import DEFAULT_RULES, load_rules
from engine.tabular import Table

cells = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "  x ", "张三", "=1+1", "是", "2024/5/1", "0.5", "#N/A", "a_x0001_b"]),
    # control characters are stored as _xHHHH_ escapes, which calamine decodes (as the format says)
    # and openpyxl's read-only mode leaves as they are: the one known difference, left out here
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=8),
    st.integers(-10**17, 10**17),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda x: abs(x) < 1e300),
    st.sampled_from([0.0, -0.0, 1.0, 24.0, 0.1 + 0.2, 1e15, 1e16, 12.5]),
    st.booleans(),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    st.times().map(lambda t: t.replace(microsecond=0)),
)


def write_sheet(path: Path, rows: list[list], top: int, left: int) -> Path:
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                           "strings_to_urls": False})
    sheet = book.add_worksheet("roster")
    day, clock = book.add_format({"num_format": "yyyy-mm-dd"}), book.add_format({"num_format": "hh:mm:ss"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            at = (top + r, left + c)
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(*at, value)
            elif isinstance(value, (int, float)):
                sheet.write_number(*at, value)
            elif isinstance(value, (dt.date, dt.time)):
                sheet.write_datetime(*at, value, clock if isinstance(value, dt.time) else day)
            else:
                sheet.write_string(*at, value)
    book.close()
    return path


def read_both(path: Path, monkeypatch):
    fast = Table(path)
    fast_rows = list(fast.rows())
    with monkeypatch.context() as patch:
        patch.setattr(engine.tabular, "_has_error_cells", lambda _: True)  # openpyxl, as before
        slow = Table(path)
        slow_rows = list(slow.rows())
    return (fast.header, fast_rows), (slow.header, slow_rows)


def typed(table):
    """Cells with their types. An empty text cell (openpyxl '') counts as an empty cell (None): both
    are blank to parse_record, and every writer writes both as an empty cell."""
    header, rows = table
    return header, [(number, [(type(v).__name__, repr(v)) for v in (None if v == "" else v for v in cells)])
                     for number, cells in rows]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cells, min_size=1, max_size=6), min_size=1, max_size=8),
       top=st.integers(0, 2), left=st.integers(0, 2))
def test_calamine_reads_every_cell_as_openpyxl_does(tmp_path_factory, monkeypatch, rows, top, left):
    path = write_sheet(tmp_path_factory.mktemp("xlsx") / "in.xlsx", rows, top, left)
    fast, slow = read_both(path, monkeypatch)
    assert typed(fast) == typed(slow)


def test_a_sheet_with_a_formula_error_reports_the_error_instead_of_a_blank(tmp_path):
    path = tmp_path / "errors.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["applicant_id", "training_hours"])
    sheet.write_string(1, 0, "P-1")
    sheet.write_formula(1, 1, "=1/0", None, "#DIV/0!")
    book.close()
    assert engine.tabular._has_error_cells(path)
    assert list(Table(path).rows()) == [(2, ["P-1", "#DIV/0!"])]
    summary = run_batch(load_rules(DEFAULT_RULES), DEFAULT_RULES, path, tmp_path / "out.csv", dt.date(2024, 6, 1),
                        workers=1)
    assert summary.errors == 1  # the broken cell is an error, not an unknown fact
    assert "2,P-1,training_hours,#DIV/0!," in (tmp_path / "out.errors.csv").read_text(encoding="utf-8-sig")


@pytest.mark.parametrize("column_wise", [True, False])
def test_a_formula_error_is_refused_in_a_text_field_too_and_written_back_as_shown(tmp_path, column_wise):
    # an id or a name is text, and '#DIV/0!' would pass as one: the cell's type tells it apart
    path = tmp_path / "errors.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["申请编号", "姓名", "培训课时"])
    sheet.write_row(1, 0, ["A-1", "张三", 24])
    sheet.write_formula(2, 0, "=1/0", None, "#DIV/0!")
    sheet.write_row(2, 1, ["李四", 24])
    sheet.write_string(3, 0, "A-3")
    sheet.write_formula(3, 1, "=B9", None, "#REF!")
    sheet.write_string(4, 0, "A-4")
    sheet.write_string(4, 1, "#REF!")  # typed as text: a name, however odd
    book.close()
    summary = run_batch(load_rules(DEFAULT_RULES), DEFAULT_RULES, path, tmp_path / "out.csv", dt.date(2024, 6, 1),
                        workers=1, column_wise=column_wise)
    assert summary.path == ("column-wise" if column_wise else "per-record")
    errors = (tmp_path / "out.errors.csv").read_text(encoding="utf-8-sig").splitlines()
    said = '"is a formula error in the spreadsheet: correct the formula, or type the value",是表格中的公式错误：请修正公式，或直接填写数值'
    assert errors[1:] == [f"3,#DIV/0!,applicant_id,#DIV/0!,{said}", f"4,A-3,name,#REF!,{said}"]
    rows = (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()
    assert [row.split(",")[:2] for row in rows[1:]] == [["A-1", "张三"], ["#DIV/0!", "李四"], ["A-3", "#REF!"], ["A-4", "#REF!"]]
    assert summary.errors == 2 and summary.decided == 2


def test_the_shipped_office_roster_reads_the_same_with_both_readers(monkeypatch):
    sample = Path(__file__).resolve().parents[2] / "shared" / "samples" / "training-roster.xlsx"
    if not sample.exists():
        pytest.skip("the shared sample roster is not beside this checkout")
    fast, slow = read_both(sample, monkeypatch)
    assert typed(fast) == typed(slow)


@pytest.mark.parametrize("cell, has_error", [
    (b'<c r="B2" t="e"><v>#N/A</v></c>', True), (b"<c r='B2' t = 'e'><v>#N/A</v></c>", True),
    (b'<c r="B2" t="s"><v>0</v></c><c r="C2" t="b"><v>1</v></c>', False),
    (b'<c r="B2" t="inlineStr"><is><t>t="e"</t></is></c>', False),  # the words inside a text, not a tag
])
def test_error_cells_are_found_whichever_quotes_the_sheet_uses(tmp_path, cell, has_error):
    import zipfile

    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("xl/worksheets/sheet1.xml", b'<worksheet><sheetData><row r="2">' + b"x" * (1 << 22) + cell
                      + b"</row></sheetData></worksheet>")  # past the first block read
    assert engine.tabular._has_error_cells(path) is has_error


# ------------------------------------------------------------------------------------- writing

def write_with_xlsxwriter(path: Path, rows: list[list]) -> Path:
    """The cells as engine.tabular wrote them with XlsxWriter before engine.xlsxstream: the oracle.
    Text goes in as a string as given (XlsxWriter with strings_to_formulas off: never a formula)."""
    from decimal import Decimal

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False, "strings_to_numbers": False})
    day, money = book.add_format({"num_format": "yyyy-mm-dd"}), book.add_format({"num_format": "0.00"})
    sheet = book.add_worksheet("results")
    book.add_worksheet("errors")
    for number, row in enumerate(rows):
        for column, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                sheet.write_boolean(number, column, value)
            elif isinstance(value, Decimal):
                sheet.write_number(number, column, float(value), money)
            elif isinstance(value, (int, float)):
                sheet.write_number(number, column, value)
            elif isinstance(value, (dt.date, dt.datetime)):
                sheet.write_datetime(number, column, value, day)
            else:
                sheet.write_string(number, column, str(value))
    book.close()
    return path


written = st.one_of(
    cells.filter(lambda v: not isinstance(v, dt.time)),
    st.decimals(min_value=0, max_value=10**9, places=2),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=6),  # control characters too
    st.sampled_from(["_x0041_", "a & b <c>", "-3", "@x", " lead", "trail ", "=SUM(A1)"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(written, min_size=1, max_size=6), min_size=1, max_size=6))
def test_the_streamed_writer_writes_the_cells_xlsxwriter_wrote(tmp_path_factory, rows):
    """Read back by openpyxl and by calamine, every cell (value, type, number format) is the same."""
    import openpyxl

    from engine.xlsxstream import XlsxStream

    folder = tmp_path_factory.mktemp("written")
    oracle = write_with_xlsxwriter(folder / "oracle.xlsx", rows)
    stream = XlsxStream(folder / "ours.xlsx", ["results", "errors"])
    for row in rows:
        stream.write_row(0, row)
    stream.close()

    def cells_of(path):
        sheet = openpyxl.load_workbook(path).worksheets[0]  # full mode: number formats too
        return [[(c.value, c.data_type, c.number_format if c.value is not None else None) for c in row]
                for row in sheet.iter_rows()]

    assert cells_of(folder / "ours.xlsx") == cells_of(oracle)
    ours = CalamineWorkbook.from_path(str(folder / "ours.xlsx"))
    theirs = CalamineWorkbook.from_path(str(oracle))
    assert ours.sheet_names == theirs.sheet_names == ["results", "errors"]
    assert ours.get_sheet_by_index(0).to_python() == theirs.get_sheet_by_index(0).to_python()


def _sheet_xml(path: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as book:
        return book.read("xl/worksheets/sheet1.xml")


@st.composite
def frames(draw):
    """A frame as the column-wise batch hands the writer: text columns (typed cells encoded, or text
    that merely starts with the encoding's mark), outcome Enums, reason Categoricals, Decimal amounts,
    row numbers, columns with no value at all."""
    import polars as pl

    from engine.tabular import encode_cell

    height = draw(st.integers(1, 9))
    typed = draw(st.booleans())
    columns = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["typed", "text", "enum", "categorical", "decimal", "number", "float",
                                     "duration", "empty"]))
        if kind == "typed" and typed:
            values = [encode_cell(v) for v in draw(st.lists(written, min_size=height, max_size=height))]
        elif kind in ("text", "typed", "enum", "categorical"):
            pool = draw(st.lists(st.one_of(st.text(max_size=5), st.sampled_from(["\x00sx", "=1", "ok", "fail:a;b"])),
                                 min_size=1, max_size=4))
            values = draw(st.lists(st.one_of(st.none(), st.sampled_from(pool)), min_size=height, max_size=height))
        if kind == "typed" and typed:  # typed cells, encoded as a reader encodes them
            columns.append(pl.Series(f"c{i}", values, dtype=pl.String))
        elif kind in ("typed", "text"):  # a reader's text: typed, a text that starts with the mark is encoded too
            columns.append(pl.Series(f"c{i}", [encode_cell(v) for v in values] if typed else values, dtype=pl.String))
        elif kind == "enum":
            columns.append(pl.Series(f"c{i}", values, dtype=pl.String).cast(pl.Enum(sorted({v for v in values if v is not None}))))
        elif kind == "categorical":
            columns.append(pl.Series(f"c{i}", values, dtype=pl.Categorical))
        elif kind == "decimal":
            amounts = draw(st.lists(st.one_of(st.none(), st.decimals(0, 10**9, places=2)), min_size=height, max_size=height))
            columns.append(pl.Series(f"c{i}", amounts, dtype=pl.Decimal(38, 2)))
        elif kind == "number":
            columns.append(pl.Series(f"c{i}", draw(st.lists(st.integers(0, 10**6), min_size=height, max_size=height)),
                                     dtype=pl.UInt32))
        elif kind == "float":  # 0.0 and -0.0 are one value to unique() and two texts
            columns.append(pl.Series(f"c{i}", draw(st.lists(st.sampled_from([0.0, -0.0, 1.5, None]), min_size=height,
                                                            max_size=height)), dtype=pl.Float64))
        elif kind == "duration":  # a type with no text of its own to key it by
            columns.append(pl.Series(f"c{i}", draw(st.lists(st.sampled_from([dt.timedelta(0), dt.timedelta(days=1)]),
                                                            min_size=height, max_size=height))))
        else:
            columns.append(pl.Series(f"c{i}", [None] * height, dtype=pl.String))
    return pl.DataFrame(columns), typed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=frames(), slice_rows=st.integers(1, 4))
def test_a_frame_is_written_byte_for_byte_as_its_rows_one_by_one(tmp_path_factory, case, slice_rows):
    """write_frame (column-wise, the batch's path) gives the very XML write_row gives for the same rows,
    typed cells decoded — so everything the test above shows of write_row holds for it."""
    import polars as pl

    from engine.tabular import decode_cell
    from engine.xlsxstream import XlsxStream

    frame, typed = case
    folder = tmp_path_factory.mktemp("frames")
    by_rows, by_frame = XlsxStream(folder / "rows.xlsx", ["results", "errors"]), XlsxStream(folder / "frame.xlsx", ["results", "errors"])
    for book in (by_rows, by_frame):
        book.write_row(0, frame.columns)  # a header first: the frame's rows are numbered after it
    text = [dtype == pl.String for dtype in frame.dtypes]  # typed cells are in text columns only
    for row in frame.iter_rows():
        by_rows.write_row(0, [decode_cell(v) if typed and is_text else v for v, is_text in zip(row, text)])
    by_frame.write_frame(0, frame, typed=typed, rows_at_a_time=slice_rows)
    by_rows.close()
    by_frame.close()
    assert _sheet_xml(folder / "frame.xlsx") == _sheet_xml(folder / "rows.xlsx")
