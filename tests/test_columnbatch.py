"""The column-wise batch (engine.columnbatch + engine.cellframe) writes exactly what the per-record
path writes: the same file, byte for byte, the same error rows and the same summary."""
import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.batch import run_batch
from engine.loader import DEFAULT_RULES, load_rules
from engine.records import FACT_TYPES, FIELD_LABELS_ZH

RULES = load_rules(DEFAULT_RULES)
AS_OF = date(2024, 6, 1)


def both_paths(tmp_path: Path, source: Path):
    """Run the file through both paths; return (column-wise summary, per-record summary)."""
    fast = run_batch(RULES, DEFAULT_RULES, source, tmp_path / "col.csv", AS_OF)
    slow = run_batch(RULES, DEFAULT_RULES, source, tmp_path / "rec.csv", AS_OF, workers=1, column_wise=False)
    return fast, slow


def assert_same(tmp_path: Path, fast, slow) -> None:
    assert fast.path == "column-wise"
    assert slow.path == "per-record"
    assert (tmp_path / "col.csv").read_bytes() == (tmp_path / "rec.csv").read_bytes()
    assert (tmp_path / "col.errors.csv").read_bytes() == (tmp_path / "rec.errors.csv").read_bytes()
    assert (fast.rows, fast.decided, fast.errors) == (slow.rows, slow.decided, slow.errors)
    assert fast.outcomes == slow.outcomes
    assert fast.amounts == slow.amounts
    assert fast.unpriced == slow.unpriced
    assert fast.unknown_columns == slow.unknown_columns


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# Cells as offices type them — codes, Chinese labels, odd spacing, 全角 digits — and as they get
# them wrong: unknown labels, impossible dates, European decimal commas, negative counts, formulas.
def _pool(name: str, fact_type) -> list[str]:
    kind = fact_type.kind
    noise = ["", " ", "  ", "?", "=1+1", "-"]
    if kind == "bool":
        return noise + ["是", "否", "true", "False", " 1 ", "0", "yes", "maybe", "2"]
    if kind == "date":
        return noise + ["2024-05-01", "2024/5/1", "2024年5月1日", "2019.7.1", "2021-06-30", "2021-07-01",
                        "2024-02-30", "2024-5-1 00:00:00", "01/05/2024", "2016-11-22", "２０２０/１/２"]
    if kind == "number":
        if fact_type.integer:
            return noise + ["0", "3", "12", " 24 ", "12.0", "12.5", "-1", "３６", "1,000"]
        if name == "employer_skilled_ratio":
            return noise + ["0.6", "0.59", "60%", "75 %", "1.2", "0.6000"]
        return noise + ["0", "24", "23", " 1,200 ", "1,5", "49999.99", "50000", "1e3", "１２００", "12.345"]
    if kind == "enum":
        members = list(fact_type.enum)
        return noise + [m.value for m in members] + [m.zh for m in members] + ["unknown-label"]
    if kind == "list":
        members = list(fact_type.enum)
        return noise + ["无", "none", members[0].zh, f"{members[0].value};{members[-1].zh}",
                        f"{members[-1].zh}、{members[0].zh}", "not-a-member"]
    return noise + ["abc", " padded ", "张三", "91310000MA1"]


PERSON = list(FACT_TYPES["person"].items())
ENTERPRISE = list(FACT_TYPES["enterprise"].items())


@st.composite
def rosters(draw):
    """A roster: some fields by name or Chinese label (sometimes both), an extra column, and rows
    of person and enterprise records with cells drawn from the pools above."""
    fields = draw(st.lists(st.sampled_from(PERSON + ENTERPRISE), min_size=1, max_size=14, unique_by=lambda f: f[0]))
    header = ["applicant_id"]
    pools = [["P-1", "P-2", " ", "", "=HYPERLINK()"]]
    for name, fact_type in fields:
        if name == "applicant_id":
            continue
        header.append(draw(st.sampled_from([name, FIELD_LABELS_ZH[name], f" {name} "])))
        pools.append(["person", "enterprise", "个人", "企业", "robot", "", " "] if name == "record_type"
                     else _pool(name, fact_type))
    if draw(st.booleans()):  # the same field twice, as hukou and 户籍
        header.append(FIELD_LABELS_ZH["hukou"])
        pools.append(_pool("hukou", FACT_TYPES["person"]["hukou"]))
    if draw(st.booleans()):
        header.append("序号")
        pools.append(["1", "", "备注"])
    rows = draw(st.lists(st.tuples(*[st.sampled_from(pool) for pool in pools]).map(list), min_size=1, max_size=12))
    return header, rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(roster=rosters())
def test_column_wise_batch_writes_exactly_what_the_per_record_path_writes(tmp_path_factory, roster):
    tmp_path = tmp_path_factory.mktemp("roster")
    header, rows = roster
    source = write_csv(tmp_path / "in.csv", header, rows)
    fast, slow = both_paths(tmp_path, source)
    assert_same(tmp_path, fast, slow)


def test_synthetic_office_rosters_agree_in_both_paths(tmp_path):
    from engine.synth import write_synthetic

    for options in ({"chinese": False}, {"chinese": True}):
        source = tmp_path / f"synth-{options['chinese']}.csv"
        write_synthetic(source, 2500, chinese=options["chinese"], bad_share=0.05, unknown_share=0.2, seed=11)
        fast, slow = both_paths(tmp_path, source)
        assert fast.errors > 0 and fast.decided > 2000
        assert_same(tmp_path, fast, slow)


def test_a_mixed_roster_does_not_count_the_other_types_blank_columns_as_fields(tmp_path):
    source = write_csv(tmp_path / "mixed.csv", ["applicant_id", "record_type", "hukou", "payroll_total"],
                       [["P1", "person", "shanghai", ""], ["E1", "enterprise", "", "100"],
                        ["E2", "enterprise", "shanghai", "100"]])
    fast, slow = both_paths(tmp_path, source)
    assert_same(tmp_path, fast, slow)
    assert fast.errors == 1  # E2 fills a person field: that is an error, a blank cell is not
    errors = (tmp_path / "col.errors.csv").read_text(encoding="utf-8-sig")
    assert "E2,hukou,shanghai,unknown field: it is a field of person records" in errors


def test_a_cell_spanning_lines_is_left_to_the_per_record_path(tmp_path):
    source = write_csv(tmp_path / "multiline.csv", ["applicant_id", "name", "hukou"],
                       [["P1", "first\nsecond", "shanghai"], ["P2", "x", "nowhere"]])
    summary = run_batch(RULES, DEFAULT_RULES, source, tmp_path / "out.csv", AS_OF, workers=1)
    assert summary.path.startswith("per-record (a cell spans lines")
    errors = (tmp_path / "out.errors.csv").read_text(encoding="utf-8-sig").splitlines()
    assert errors[1].startswith("3,P2,hukou,nowhere,")  # row 3 as a spreadsheet shows it (it ends on line 4)


@pytest.mark.parametrize("block", [7, 64, 1000])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_file_read_in_small_blocks_gives_the_same_result(tmp_path, monkeypatch, block, ending):
    """Blocks cut at line ends: lines longer than a block, blank lines at a cut, no final line end."""
    import engine.columnbatch

    monkeypatch.setattr(engine.columnbatch, "BLOCK_BYTES", block)
    rows = ["P1,shanghai,24", "", "P2,mars,x", '"P3","other","1,000"', " , , ", "P4," + "x" * 150 + ",3"] * 3
    source = tmp_path / "blocks.csv"
    source.write_bytes(ending.join(["applicant_id,hukou,training_hours"] + rows).encode())  # no final line end
    fast, slow = both_paths(tmp_path, source)
    assert_same(tmp_path, fast, slow)
    assert fast.rows == 12 and fast.errors == 6  # four rows with data a repeat; P2 and P4 refused


@pytest.mark.parametrize("unit_separator", [False, True])
def test_lines_copied_whole_or_written_cell_by_cell_give_the_same_file(tmp_path, unit_separator):
    """The writer copies an input line whose cells it would write the same; lines with quotes, short
    rows, cells safe_text changes, or a block holding the byte the lines are split at are written cell by cell."""
    rows = ["P1,shanghai,24,plain", '"P2",shanghai,24,quoted without need', 'P3,"",24,""', 'P4,"a ""b"" c",1,x',
            "P5,shanghai", "=P6,shanghai,1,x", "P7,-1,+2,@3", "P8,\tx,1, spaced ", "P9,shanghai,24,é 中文",
            'P10,"1,5",3,"line ""x"""', "P11,,,", " ,shanghai,1,x"]
    if unit_separator:
        rows.append("P12,\x1f,1,x")
    source = tmp_path / "lines.csv"
    source.write_bytes("\r\n".join(["applicant_id,hukou,training_hours,name"] + rows + [""]).encode())
    fast, slow = both_paths(tmp_path, source)
    assert_same(tmp_path, fast, slow)


def test_a_bare_carriage_return_is_left_to_the_per_record_path(tmp_path):
    """A carriage return that ends no line (old Mac line ends, or one in a cell) would make polars and the csv
    module see different rows: such a file is decided row by row, as the per-record path reads it."""
    source = tmp_path / "cr.csv"
    source.write_bytes(b"applicant_id,hukou\r\nP1,shanghai\r\nP2,sh\ranghai\r\n")
    summary = run_batch(RULES, DEFAULT_RULES, source, tmp_path / "out.csv", AS_OF, workers=1)
    assert summary.path == "per-record (the file has line ends other than \\n and \\r\\n)"
    assert summary.rows == 3  # the csv module ends a row at the bare \r: "P2,sh" and "anghai"


def test_a_cell_spanning_lines_across_a_block_cut_is_left_to_the_per_record_path(tmp_path, monkeypatch):
    import engine.columnbatch

    monkeypatch.setattr(engine.columnbatch, "BLOCK_BYTES", 32)
    source = write_csv(tmp_path / "multiline.csv", ["applicant_id", "name", "hukou"],
                       [["P1", "a", "shanghai"]] * 5 + [["P2", "first\nsecond", "shanghai"], ["P3", "x", "nowhere"]])
    summary = run_batch(RULES, DEFAULT_RULES, source, tmp_path / "out.csv", AS_OF, workers=1)
    assert summary.path.startswith("per-record (")
    errors = (tmp_path / "out.errors.csv").read_text(encoding="utf-8-sig").splitlines()
    assert errors[1].startswith("8,P3,hukou,nowhere,")  # the spreadsheet row, not the line (9)


def test_gb18030_roster_goes_column_wise_with_the_same_result(tmp_path):
    source = write_csv(tmp_path / "gbk.csv", ["申请编号", "户籍", "技能等级", "发证日期"],
                       [["S-1", "本市", "技师", "2015/9/7"], ["S-2", "外省市", "高级", "2015/13/1"]],
                       encoding="gb18030")
    fast, slow = both_paths(tmp_path, source)
    assert_same(tmp_path, fast, slow)
    assert fast.errors == 1


def test_rows_with_no_data_are_skipped_and_row_numbers_stay_lines(tmp_path):
    source = tmp_path / "gaps.csv"
    source.write_text("applicant_id,hukou\nP1,shanghai\n\n , \nP2,mars\n", encoding="utf-8")
    fast, slow = both_paths(tmp_path, source)
    assert_same(tmp_path, fast, slow)
    assert fast.rows == 2
    assert (tmp_path / "col.errors.csv").read_text(encoding="utf-8-sig").splitlines()[1].startswith("5,P2,hukou,mars,")


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_other_output_formats_hold_the_same_cells(tmp_path, suffix):
    source = write_csv(tmp_path / "in.csv", ["applicant_id", "hukou", "training_fee"],
                       [["P1", "本市", "1,200"], ["P2", "mars", "5"], ["=1+1", "", ""]])
    fast = run_batch(RULES, DEFAULT_RULES, source, tmp_path / f"col{suffix}", AS_OF)
    run_batch(RULES, DEFAULT_RULES, source, tmp_path / f"rec{suffix}", AS_OF, workers=1, column_wise=False)
    assert fast.path == "column-wise"
    assert_same_output(tmp_path / f"col{suffix}", tmp_path / f"rec{suffix}")


def assert_same_output(column_wise: Path, per_record: Path) -> None:
    """The two paths' xlsx or Parquet outputs hold the same cells; Parquet files (results and errors)
    the same tables, schema and nulls included."""
    from engine.tabular import Table

    assert list(Table(column_wise).rows()) == list(Table(per_record).rows())
    if column_wise.suffix == ".parquet":
        import pyarrow.parquet as pq

        def errors(path: Path) -> Path:
            return path.with_name(f"{path.stem}.errors.parquet")

        for ours, theirs in ((column_wise, per_record), (errors(column_wise), errors(per_record))):
            assert pq.read_table(ours).equals(pq.read_table(theirs)), ours.name


TYPED_ROSTERS = settings(max_examples=40, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# xlsx input: the sheet's cells keep their types (numbers, dates, booleans) through the column path
TYPED_CELLS = [0, 1, 3, 24, -1, 2000, 12.5, 0.6, 0.59, 1e16, True, False, date(2024, 5, 1),
               __import__("datetime").datetime(2021, 6, 30), __import__("datetime").datetime(2021, 6, 30, 13, 0),
               __import__("datetime").time(8, 0), 91310000]


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> Path:
    import datetime as dt

    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                           "strings_to_urls": False})
    sheet, day = book.add_worksheet(), book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, (dt.date, dt.time)):
                sheet.write_datetime(r, c, value, day)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            elif value:
                sheet.write_string(r, c, value)
    book.close()
    return path


@TYPED_ROSTERS
@given(roster=rosters(), typed=st.data())
def test_an_xlsx_roster_with_typed_cells_gives_the_same_result_in_both_paths(tmp_path_factory, roster, typed):
    tmp_path = tmp_path_factory.mktemp("xlsx")
    header, rows = roster
    rows = [[typed.draw(st.sampled_from(TYPED_CELLS)) if typed.draw(st.booleans()) else cell for cell in row]
            for row in rows]
    assert_same_typed(tmp_path, write_xlsx(tmp_path / "in.xlsx", header, rows))


def assert_same_typed(tmp_path: Path, source: Path) -> None:
    """Both paths give the same CSV files and summaries, and the same cells in an output of the
    source's own format (typed as they came)."""
    fast, slow = both_paths(tmp_path, source)
    assert_same(tmp_path, fast, slow)
    run_batch(RULES, DEFAULT_RULES, source, tmp_path / f"col{source.suffix}", AS_OF)
    run_batch(RULES, DEFAULT_RULES, source, tmp_path / f"rec{source.suffix}", AS_OF, workers=1, column_wise=False)
    assert_same_output(tmp_path / f"col{source.suffix}", tmp_path / f"rec{source.suffix}")


def test_a_cell_type_the_encoding_does_not_know_sends_the_sheet_to_the_per_record_path(tmp_path, monkeypatch):
    import engine.tabular

    source = write_xlsx(tmp_path / "in.xlsx", ["applicant_id", "contract_months"], [["P1", 24], ["P2", 12.5]])
    monkeypatch.delitem(engine.tabular._ENCODE, int)  # as if a reader gave a type the encoding lacks
    summary = run_batch(RULES, DEFAULT_RULES, source, tmp_path / "out.csv", AS_OF, workers=1)
    assert summary.path.startswith("per-record (a cell of type <class 'int'>")
    assert summary.rows == 2 and summary.errors == 1  # 12.5 months is refused, 24 is not


# Parquet input: each column has one type — text, or numbers, dates, booleans, decimals — and its
# cells keep that type through the column path, as through the per-record path
PARQUET_COLUMNS = {
    "int": ([0, 1, 3, 24, -1, 2000, 91310000], "int64"),
    "float": ([12.5, 0.6, 0.59, 24.0, 1e16, float("nan")], "float64"),
    "bool": ([True, False], "bool"),
    "date": ([date(2024, 5, 1), date(2021, 6, 30), date(2016, 11, 22)], "date32"),
    "timestamp": ([datetime(2021, 6, 30), datetime(2021, 6, 30, 13)], "timestamp[us]"),
    "decimal": ([Decimal(v) for v in ("1200.00", "0.60", "-3", "24")], None),
    "text with NUL": (["\x00i24", "\x00abc", "P-1"], "string"),
}


@TYPED_ROSTERS
@given(roster=rosters(), typed=st.data())
def test_a_parquet_roster_with_typed_columns_gives_the_same_result_in_both_paths(tmp_path_factory, roster, typed):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp_path = tmp_path_factory.mktemp("parquet")
    header, rows = roster
    header = [f"{name}{'.' * i}" if name in header[:i] else name for i, name in enumerate(header)]  # distinct
    columns = {}
    for i, name in enumerate(header):
        kind = typed.draw(st.sampled_from([None, *PARQUET_COLUMNS]))
        if kind is None:
            columns[name] = pa.array([row[i] or None for row in rows], pa.string())
        else:
            pool, arrow_type = PARQUET_COLUMNS[kind]
            cells = [typed.draw(st.none() | st.sampled_from(pool)) for _ in rows]
            columns[name] = pa.array(cells, pa.decimal128(12, 2) if kind == "decimal" else pa.type_for_alias(arrow_type))
    pq.write_table(pa.table(columns), tmp_path / "in.parquet")
    assert_same_typed(tmp_path, tmp_path / "in.parquet")


def test_an_empty_text_cell_of_a_parquet_file_comes_out_null_as_the_per_record_path_writes_it(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"applicant_id": ["P1", "P2"], "hukou": ["", "shanghai"], "姓名": ["", "王"]}), source)
    assert_same_typed(tmp_path, source)
    assert pq.read_table(tmp_path / "col.parquet").column("hukou").to_pylist() == [None, "shanghai"]


def test_a_parquet_list_column_is_left_to_the_per_record_path(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"applicant_id": ["P1", "P2"], "groups": [["veteran"], None]}), source)
    summary = run_batch(RULES, DEFAULT_RULES, source, tmp_path / "out.csv", AS_OF, workers=1)
    assert summary.path.startswith("per-record (a cell of type <class 'list'>")
    assert summary.rows == 2


def test_the_typed_frame_holds_the_fields_the_rules_read_and_every_field_is_still_validated():
    import polars as pl

    from engine.cellframe import CellConverter
    from engine.columnar import CompiledRuleset

    compiled = CompiledRuleset(RULES, "person")
    read = set(compiled.facts_read)
    assert "as_of" in read and "hukou" in read and "name" not in read and "hire_date" not in read
    header = ["applicant_id", "name", "hire_date", "hukou", "training_hours"]
    raw = pl.DataFrame({f"c{i}": column for i, column in enumerate(
        [["P1", "P2"], ["张三", " 李四 "], ["2020-01-02", "2024-02-30"], ["shanghai", "上海"], ["24", "-1"]])})
    converter = CellConverter(header, AS_OF, reads=lambda kind: compiled.facts_read)
    converted = converter.convert(raw)
    positions, typed = converted.frames["person"]
    # and a field read that has a default (nationality: CN) is there without a column, as parse_record fills it
    assert set(typed.columns) == read & {"as_of", "hukou", "training_hours"} | {"as_of", "nationality"}
    assert typed.get_column("nationality").to_list() == ["CN", "CN"]
    # hire_date is not read, yet a date that is not one is refused, as per record
    assert sorted(converted.problems.select("position", "field").rows()) == [(1, "hire_date"), (1, "training_hours")]
    everything = CellConverter(header, AS_OF).convert(raw).frames["person"][1]
    assert {"name", "hire_date", "applicant_id"} <= set(everything.columns)


@pytest.mark.parametrize("block", [40, 32 << 20])
def test_a_byte_order_mark_that_starts_a_line_is_kept_as_per_record(tmp_path, monkeypatch, block):
    """polars drops a BOM that starts the bytes it is given: the line that begins a block must not
    be copied without it (the cells keep it, as the csv module does)."""
    import engine.columnbatch

    monkeypatch.setattr(engine.columnbatch, "BLOCK_BYTES", block)
    bom = "\ufeff"
    source = tmp_path / "bom.csv"
    source.write_bytes((bom + "applicant_id,name,hukou\r\n" + bom + "P1,Zhang,shanghai\r\nP2,Li,other\r\n"
                        + bom + "P3,Wang,shanghai\r\n").encode())
    fast, slow = both_paths(tmp_path, source)
    assert_same(tmp_path, fast, slow)
    assert (tmp_path / "col.csv").read_bytes().count(bom.encode()) == 3  # the file's own and two in cells


def test_text_that_is_not_utf8_past_the_sniffed_start_gives_the_per_record_paths_message(tmp_path):
    from engine.errors import UserError

    source = tmp_path / "late.csv"
    source.write_bytes(b"applicant_id,name,hukou\n" + b"".join(b"P%d,Name%d,shanghai\n" % (i, i) for i in range(5000))
                       + b"PX,\xff\xfe,shanghai\n")
    messages = []
    for column_wise in (True, False):
        with pytest.raises(UserError) as refused:
            run_batch(RULES, DEFAULT_RULES, source, tmp_path / f"out-{column_wise}.csv", AS_OF, workers=1,
                      column_wise=column_wise)
        messages.append(str(refused.value))
    # the line of the bad bytes, though the text is decoded ahead of the rows (5,000 rows, then PX)
    assert messages[0] == messages[1] and "late.csv: line 5002 is not gb18030 (byte 0xff)" in messages[0]
    assert not list(tmp_path.glob("out-*"))  # nothing half-written
