"""Batch evaluation of spreadsheets as back-office staff run it."""
import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.batch import run_batch
from engine.cli import main
from engine.decide import decide
from engine.loader import DEFAULT_RULES, load_rules
from engine.records import parse_record
from engine.render import decision_set_json
from engine.tabular import Table
from tests.strategies import records

SAMPLE = Path("/work/shared/samples/training-roster.xlsx")
if not SAMPLE.exists():
    SAMPLE = Path(__file__).resolve().parent.parent.parent / "shared" / "samples" / "training-roster.xlsx"
RULESET = load_rules()


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return list(csv.reader(stream))


def write_csv(path, header, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.mark.skipif(not SAMPLE.exists(), reason="the office sample roster is in ../shared/samples")
def test_office_roster_goes_through_as_it_is(tmp_path):
    out = tmp_path / "out.xlsx"
    result = run("batch", SAMPLE, "-o", out, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert result.output.count("序号") == 1  # an unrecognised header is reported once, not per row
    sheet = openpyxl.load_workbook(out, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    source = list(openpyxl.load_workbook(SAMPLE, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == len(source)
    assert [r[1] for r in rows[1:]] == [r[1] for r in source[1:]]  # every row, in order
    header = rows[0]
    assert "enterprise-training-subsidy.outcome" in header and "enterprise-training-subsidy.amount" in header
    first = dict(zip(header, rows[1]))
    # S-001 did not complete the training: the reason names the failed condition
    assert first["enterprise-training-subsidy.outcome"] == "ineligible"
    assert "training-completed" in first["enterprise-training-subsidy.reason"] or \
        "completed" in first["enterprise-training-subsidy.reason"]
    second = dict(zip(header, rows[2]))
    assert second["申请编号"] == "S-002"


def test_row_errors_go_to_their_own_file_and_the_rest_go_through(tmp_path):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_csv(source, ["申请编号", "技能等级", " training_hours ", "备注"], [
        ["A-1", "高级工", " 24 ", "ok"],
        ["A-2", "expert", "24", "bad level"],
        ["A-3", "技师", "many", "bad hours"],
        ["A-4", "", "", "all unknown"],
    ])
    result = run("batch", source, "-o", out, "--as-of", "2024-06-01", "--workers", "1")
    assert result.exit_code == 1
    assert "rows with errors: 2" in result.output
    rows = read_csv(out)
    assert [r[0] for r in rows[1:]] == ["A-1", "A-2", "A-3", "A-4"]
    errors = read_csv(tmp_path / "out.errors.csv")
    assert errors[0] == ["row", "applicant_id", "field", "value", "message", "message_zh"]
    assert errors[1][:4] == ["3", "A-2", "skill_level", "expert"] and "junior" in errors[1][4]
    assert errors[2][:4] == ["4", "A-3", "training_hours", "many"]
    assert errors[2][4:] == ["is not valid; expected a number like 1200 or 1,200.50", "无效：应为数字，如 1200 或 1,200.50"]


def test_no_output_after_an_interrupted_run(tmp_path):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_csv(source, ["applicant_id"], [[f"A-{i}"] for i in range(3000)])

    def interrupt(rows_done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(RULESET, DEFAULT_RULES, source, out, date(2024, 6, 1), tmp_path / "x.jsonl", progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.fixture(scope="module")
def big_roster(tmp_path_factory):
    """200,000 rows (a synthetic 2,000 repeated): a few seconds column-wise, minutes per record."""
    folder = tmp_path_factory.mktemp("big")
    assert run("synth", "--rows", "2000", "-o", folder / "small.csv").exit_code == 0
    header, *rows = (folder / "small.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    (folder / "big.csv").write_text(header + "".join(rows) * 100, encoding="utf-8")
    return folder / "big.csv"


@pytest.mark.parametrize("signal_name, code", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
@pytest.mark.parametrize("per_record", [False, True])
@pytest.mark.parametrize("twice", [False, True])  # a second signal during the clean-up must not cut it short
def test_a_stopped_batch_leaves_no_files_and_no_traceback(tmp_path, big_roster, signal_name, code, per_record, twice):
    import signal
    import time

    out = tmp_path / "out"
    out.mkdir()
    # per record with two workers, to stop as well
    batch = subprocess.Popen([sys.executable, "cli.py", "batch", str(big_roster), "-o", str(out / "o.csv"),
                              *(["--per-record", "--workers", "2"] if per_record else [])],
                             cwd=Path(__file__).resolve().parent.parent,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any(out.iterdir()) and time.monotonic() < deadline:  # its partial files are being written
        time.sleep(0.02)
    time.sleep(0.3)
    os.killpg(batch.pid, getattr(signal, signal_name))  # as a terminal or `timeout` sends it: to the group
    if twice:
        time.sleep(0.05)
        os.killpg(batch.pid, getattr(signal, signal_name))
    stdout, stderr = batch.communicate(timeout=60)
    assert batch.returncode == code, stderr
    assert "interrupted: no output was written" in stderr and "Traceback" not in stderr + stdout
    assert list(out.iterdir()) == []


def test_a_clean_up_that_hangs_is_cut_short_and_the_partial_files_still_go(tmp_path):
    # a worker killed inside the pool's queue lock can hang the pool's shutdown: after a few seconds
    # the stop gives up on it, removes the partial files itself and exits
    script = (
        "import os, signal, sys, time; from pathlib import Path\n"
        "import engine.cli as cli; from engine.tabular import temporary_beside\n"
        "cli.CLEAN_UP_SECONDS = 0.5\n"
        "cli._stop_on_termination()\n"
        f"part = temporary_beside(Path({str(tmp_path / 'out.csv')!r}))\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)\n"
        "except KeyboardInterrupt:\n"
        "    time.sleep(30)  # the clean-up hangs\n")
    started = __import__("time").monotonic()
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 143 and __import__("time").monotonic() - started < 20
    assert "the clean-up was cut short" in done.stderr and list(tmp_path.iterdir()) == []


def test_a_batch_run_in_process_leaves_the_signal_handling_as_it_was(tmp_path):
    # the stop handlers are the batch's own: left behind, they made later processes ignore SIGTERM
    import signal

    before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
    write_csv(tmp_path / "in.csv", ["applicant_id"], [["A-1"]])
    assert run("batch", tmp_path / "in.csv", "-o", tmp_path / "out.csv").exit_code == 0
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)] == before


def test_a_stop_signal_the_caller_ignores_stays_ignored(tmp_path, big_roster):
    import signal
    import time

    out = tmp_path / "out"
    out.mkdir()

    def ignore_hang_up():  # as nohup starts it
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    batch = subprocess.Popen([sys.executable, "cli.py", "batch", str(big_roster), "-o", str(out / "o.csv")],
                             cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True, preexec_fn=ignore_hang_up)
    deadline = time.monotonic() + 60
    while not any(out.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(batch.pid, signal.SIGHUP)  # the terminal closes
    stdout, stderr = batch.communicate(timeout=120)
    assert batch.returncode in (0, 1), stderr  # it ran to the end
    assert (out / "o.csv").exists() and "interrupted" not in stderr


def test_cells_that_look_like_formulas_cannot_run(tmp_path):
    source = tmp_path / "in.csv"
    write_csv(source, ["applicant_id", "name"], [["A-1", "=HYPERLINK(\"http://x\",\"y\")"], ["A-2", "@SUM(1)"]])
    run("batch", source, "-o", tmp_path / "out.csv", "--workers", "1")
    names = [r[1] for r in read_csv(tmp_path / "out.csv")[1:]]
    assert names == ["'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(1)"]
    # an xlsx text cell or a Parquet string is never a formula: the text is kept as given
    for per_record in ([], ["--per-record"]):
        run("batch", source, "-o", tmp_path / "out.xlsx", "--workers", "1", *per_record)
        sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").worksheets[0]
        assert sheet["B2"].data_type == "s" and sheet["B2"].value == "=HYPERLINK(\"http://x\",\"y\")"
        assert sheet["B3"].value == "@SUM(1)"
        run("batch", source, "-o", tmp_path / "out.parquet", "--workers", "1", *per_record)
        import pyarrow.parquet as pq

        assert pq.read_table(tmp_path / "out.parquet").column("name").to_pylist() == [
            "=HYPERLINK(\"http://x\",\"y\")", "@SUM(1)"]


def test_parquet_in_and_out(tmp_path):
    source = tmp_path / "in.csv"
    write_csv(source, ["applicant_id", "skill_level", "as_of"], [["A-1", "senior", "2024-06-01"], ["A-2", "", ""]])
    assert run("batch", source, "-o", tmp_path / "mid.parquet", "--workers", "1").exit_code == 0
    assert run("batch", tmp_path / "mid.parquet", "-o", tmp_path / "out.csv", "--workers", "1").exit_code == 0
    rows = read_csv(tmp_path / "out.csv")
    assert [r[0] for r in rows[1:]] == ["A-1", "A-2"]


def test_gb18030_csv_from_excel_is_read(tmp_path):
    source = tmp_path / "in.csv"
    write_csv(source, ["申请编号", "户籍"], [["A-1", "本市"]], encoding="gb18030")
    result = run("batch", source, "-o", tmp_path / "out.csv", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "out.csv")[1][1] == "本市"


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8"])
def test_the_encoding_is_told_from_the_first_text_that_is_not_ascii_however_late(tmp_path, encoding):
    # 6,000 ASCII rows (more than the first 64 KiB), then the first Chinese
    source = tmp_path / "in.csv"
    write_csv(source, ["applicant_id", "name", "hukou"], [[f"A{i}", "Li", "other"] for i in range(6000)]
              + [["Z1", "张伟", "本市"]], encoding=encoding)
    assert Table(source).encoding == ("gb18030" if encoding == "gb18030" else "utf-8-sig")
    result = run("batch", source, "-o", tmp_path / "out.csv", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "out.csv")[-1][:3] == ["Z1", "张伟", "本市"]


def test_utf8_csv_with_a_character_cut_at_the_sniffing_edge_stays_utf8(tmp_path):
    source = tmp_path / "edge.csv"
    source.write_bytes(b"\xef\xbb\xbf" + ("applicant_id\n" + "x" * 65517 + "\n松\n").encode())
    table = Table(source)
    assert table.encoding == "utf-8-sig" and table.header == ["applicant_id"]
    assert [cells[0] for _, cells in table.rows()][-1] == "松"


@pytest.mark.parametrize("per_record", [False, True])
def test_a_small_utf8_file_with_one_gbk_cell_names_that_line_and_byte(tmp_path, per_record):
    # it was taken for GB18030 and refused at the header's "byte 0x80 in position 29"
    source = tmp_path / "mixed.csv"
    source.write_bytes("申请编号,姓名,户籍\nU1,张三,本市\nU2,".encode() + "李四".encode("gbk") + ",本市\n".encode())
    result = run("batch", source, "-o", tmp_path / "out.csv", *(["--per-record"] if per_record else []))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "mixed.csv: line 3 is not utf-8 (byte 0xc0)" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.csv"]


@pytest.mark.parametrize("per_record", [False, True])
def test_a_column_with_no_header_is_named_in_the_summary(tmp_path, per_record):
    # a value typed one column too far went unread without a word
    source = tmp_path / "in.csv"
    write_csv(source, ["applicant_id", "training_hours", "", "备注"], [["V1", "24", "senior", "x"]])
    result = run("batch", source, "-o", tmp_path / "out.csv", *(["--per-record"] if per_record else []))
    assert result.exit_code == 0, result.output
    assert "columns that are not record fields (kept in OUT, not read): column 3 (no header), 备注" in result.output
    assert read_csv(tmp_path / "out.csv")[1][:4] == ["V1", "24", "senior", "x"]


@pytest.mark.parametrize("per_record", [False, True])
def test_the_summary_counts_eligible_rows_whose_amount_is_not_known_beside_the_total(tmp_path, per_record):
    # the total left them out without a word: T2's fee and T3's groups are unknown
    source = tmp_path / "in.csv"
    header = ["applicant_id", "training_route", "training_cert_level", "employment_status", "hukou",
              "registered_unemployed", "groups", "shortage_occupation", "training_fee", "as_of"]
    base = ["individual", "senior", "employed", "本市", "否", "无", "否", "3000", "2024-06-01"]
    write_csv(source, header, [["T1", *base], ["T2", *base[:7], "", base[8]], ["T3", *base[:5], "", *base[6:]]])
    result = run("batch", source, "-o", tmp_path / "out.csv", *(["--per-record"] if per_record else []))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.endswith("eligible, no amount yet") for line in lines), result.output
    row = next(line for line in lines if line.startswith("individual-skill-subsidy")).split()
    assert row[1:] == ["3", "0", "0", "2,000.00", "2"], row


@pytest.mark.parametrize("per_record", [False, True])
def test_out_carries_each_programme_s_effect_beside_its_outcome(tmp_path, per_record):
    # the points, the title one may apply for and a compliance shortfall were in check's answer only:
    # OUT said "eligible" for residence points and no more
    people = tmp_path / "people.csv"
    write_csv(people, ["applicant_id", "skill_level", "cert_matches_post", "hukou", "as_of", "frontline",
                       "employer_ownership", "field", "appraisals_passed_3y", "continuing_education_done",
                       "skill_cert_date", "employment_status"],
              [["R1", "技师", "是", "外省市", "2024-06-01", "是", "民营", "engineering", "是", "是", "2015-01-01", "在职"],
               ["R2", "大师", "是", "外省市", "2024-06-01", "是", "民营", "engineering", "是", "是", "2015-01-01", "在职"]])
    firms = tmp_path / "firms.csv"
    flags = ["--per-record"] if per_record else []
    assert run("batch", people, "-o", tmp_path / "people-out.csv", *flags).exit_code == 1  # R2's level is refused
    header, r1, r2 = read_csv(tmp_path / "people-out.csv")
    decided, refused = dict(zip(header, r1)), dict(zip(header, r2))
    assert decided["residence-points-skill.outcome"] == "eligible" and decided["residence-points-skill.points"] == "100"
    assert decided["skill-to-title-bridging.title"] == "engineer" and decided["treatment-parity.parity_title"] == "engineer"
    assert decided["engineer-to-skill-assessment.may_sit_from"] == ""  # not eligible: no title held
    assert header.index("residence-points-skill.points") == header.index("residence-points-skill.reason") + 1
    assert refused["residence-points-skill.outcome"] == "error" and refused["residence-points-skill.points"] == ""
    write_csv(firms, ["applicant_id", "record_type", "staff_education_spend", "frontline_education_spend", "as_of",
                      "payroll_total"],
              [["E1", "enterprise", "900000", "500000", "2024-06-01", ""], ["E2", "enterprise", "100000", "50000", "2017-12-31", ""],
               ["E3", "enterprise", "900000", "500000", "2024-06-01", "x"]])  # E3 refused: its money effects empty
    assert run("batch", firms, "-o", tmp_path / "firms-out.csv", *flags).exit_code == 1
    header, e1, e2, e3 = read_csv(tmp_path / "firms-out.csv")
    assert dict(zip(header, e3))["staff-education-fund-frontline-share.shortfall"] == ""
    firm, early = dict(zip(header, e1)), dict(zip(header, e2))
    assert firm["staff-education-fund-frontline-share.outcome"] == "ineligible"
    assert firm["staff-education-fund-frontline-share.shortfall"] == "40000.00"  # given when it fails, too
    assert firm["residence-points-skill.points"] == ""  # a person's programme, on an enterprise row
    # before the programme is in force it decides nothing, no shortfall either (column-wise gave 10000.00)
    assert early["staff-education-fund-frontline-share.reason"] == "fail:not-in-force"
    assert early["staff-education-fund-frontline-share.shortfall"] == ""


@pytest.mark.parametrize("per_record", [False, True])
def test_out_read_back_as_in_is_decided_again_to_the_same_out(tmp_path, per_record):
    # fix-and-rerun: OUT's '+24 was refused as a number, and its decision columns came twice
    source = tmp_path / "in.csv"
    write_csv(source, ["applicant_id", "contract_months", "training_fee", "name", "training_hours"],
              [["R1", "+24", "+1200", "=A1", "24"], ["R2", "12", "800", "Li", "abc"]])
    flags = ["--per-record"] if per_record else []
    assert run("batch", source, "-o", tmp_path / "out.csv", *flags).exit_code == 1  # R2's hours are refused
    first = read_csv(tmp_path / "out.csv")
    assert first[1][1:4] == ["'+24", "'+1200", "'=A1"]
    first[2][4] = "16"  # R2 mended in OUT, which is then decided again
    write_csv(tmp_path / "mended.csv", first[0], first[1:])
    result = run("batch", tmp_path / "mended.csv", "-o", tmp_path / "again.csv", *flags)
    assert result.exit_code == 0, result.output
    assert "columns of an earlier run's decisions, replaced in OUT by this run's: " in result.output
    again = read_csv(tmp_path / "again.csv")
    assert again[0] == first[0] and again[1] == first[1]  # the same columns, once; R1 decided as before
    r2 = dict(zip(again[0], again[2]))
    assert r2["training_hours"] == "16" and r2["enterprise-training-subsidy.outcome"] != "error"


@pytest.mark.parametrize("per_record", [False, True])
def test_cells_merged_down_a_column_are_read_as_the_sheet_shows_them(tmp_path, per_record):
    # the rows under a merged 本市 read as hukou unknown, without a word
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["申请编号", "户籍", "备注", "x"])
    for row in (["M1", "本市", "a", None], ["M2", None, None, None], ["M3", None, "c", None], ["M4", "外省市", "d", "e"]):
        sheet.append(row)
    sheet.merge_cells("B2:B4")
    sheet.merge_cells("C5:D5")
    book.save(tmp_path / "in.xlsx")
    result = run("batch", tmp_path / "in.xlsx", "-o", tmp_path / "out.csv", *(["--per-record"] if per_record else []))
    assert result.exit_code == 0, result.output
    assert "merged cells filled down from their first cell, as the sheet shows them: B2:B4" in result.output
    assert "merged cells across columns, read from their first cell only: C5:D5" in result.output
    assert [row[:2] for row in read_csv(tmp_path / "out.csv")[1:]] == [
        ["M1", "本市"], ["M2", "本市"], ["M3", "本市"], ["M4", "外省市"]]
    # a merge running over rows with no data of their own leaves them blank rows (they became refused rows)
    for row in ([None] * 4, [None] * 4, ["M5", "外省市", None, None]):
        sheet.append(row)
    sheet.merge_cells("B5:B7")
    book.save(tmp_path / "in.xlsx")
    result = run("batch", tmp_path / "in.xlsx", "-o", tmp_path / "out2.csv", *(["--per-record"] if per_record else []))
    assert result.exit_code == 0, result.output
    assert "rows with no data, left out of OUT: 2 (row 6, 7)" in result.output


def _formula_workbook(path: Path, calculated: bool) -> None:
    """A roster whose hours and fee are formulas: as openpyxl saves them (no value, calculated when
    opened), or as Excel saves them (the value stored, no recalculation asked for)."""
    import zipfile

    book = openpyxl.Workbook()
    book.active.append(["申请编号", "培训课时", "培训费用"])
    book.active.append(["F1", "=20*2", "=1000+200"])
    book.save(path)
    if calculated:
        with zipfile.ZipFile(path) as source:
            parts = {name: source.read(name) for name in source.namelist()}
        parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b' fullCalcOnLoad="1"', b"")
        parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
            b"<f>20*2</f><v />", b"<f>20*2</f><v>40</v>").replace(b"<f>1000+200</f><v />", b"<f>1000+200</f><v>1200</v>")
        with zipfile.ZipFile(path, "w") as target:
            for name, data in parts.items():
                target.writestr(name, data)


@pytest.mark.parametrize("per_record", [False, True])
def test_a_formula_the_sheet_has_not_calculated_is_a_row_error_not_a_missing_fact(tmp_path, per_record):
    # a workbook written by a program (openpyxl, pandas) holds its formulas without their values: read
    # as empty cells, the hours and fee were unknown facts; XlsxWriter stores 0 as the value
    flags = ["--per-record"] if per_record else []
    _formula_workbook(tmp_path / "program.xlsx", calculated=False)
    result = run("batch", tmp_path / "program.xlsx", "-o", tmp_path / "out.csv", *flags)
    assert result.exit_code == 1, result.output
    errors = read_csv(tmp_path / "out.errors.csv")
    assert [row[:4] for row in errors[1:]] == [["2", "F1", "training_hours", "'=20*2"], ["2", "F1", "training_fee", "'=1000+200"]]
    assert "has not calculated" in errors[1][4] and "尚未计算的公式" in errors[1][5]
    # saved by Excel: the stored values are the results, and are read
    _formula_workbook(tmp_path / "excel.xlsx", calculated=True)
    result = run("batch", tmp_path / "excel.xlsx", "-o", tmp_path / "excel-out.csv", *flags)
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "excel-out.csv")[1][:3] == ["F1", "40", "1200"]
    # a sheet whose name holds an apostrophe is found too (its stored 0 was read as 0 hours)
    import xlsxwriter

    book = xlsxwriter.Workbook(tmp_path / "named.xlsx")
    sheet = book.add_worksheet("Tom's")
    sheet.write_row(0, 0, ["applicant_id", "training_hours"])
    sheet.write_row(1, 0, ["P1"])
    sheet.write_formula(1, 1, "=20+10")
    book.close()
    assert run("batch", tmp_path / "named.xlsx", "-o", tmp_path / "named-out.csv", *flags).exit_code == 1
    assert read_csv(tmp_path / "named-out.errors.csv")[1][2:4] == ["training_hours", "'=20+10"]


def test_an_excel_formula_whose_result_is_empty_text_is_read_as_blank(tmp_path):
    # Excel stores =IF(…,"",…) with an empty value: that is its result, not a formula left uncalculated
    import zipfile

    _formula_workbook(tmp_path / "in.xlsx", calculated=True)
    with zipfile.ZipFile(tmp_path / "in.xlsx") as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b'<c r="B2"><f>20*2</f><v>40</v></c>', b'<c r="B2" t="str"><f>IF(A2="x","24","")</f><v></v></c>')
    with zipfile.ZipFile(tmp_path / "in.xlsx", "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    result = run("batch", tmp_path / "in.xlsx", "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "out.csv")[1][:3] == ["F1", "", "1200"]


def test_bad_files_are_refused_with_a_message(tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip file")
    result = run("batch", broken, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2 and "cannot read as XLSX" in result.output and "Traceback" not in result.output
    assert run("batch", tmp_path / "in.txt", "-o", tmp_path / "out.csv").exit_code == 2
    no_id = tmp_path / "noid.csv"
    write_csv(no_id, ["name"], [["x"]])
    result = run("batch", no_id, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2 and "applicant_id" in result.output
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("args, option, message", [
    (["-o", "in.csv"], "-o", "in.csv would overwrite the input file"),
    (["-o", "out.csv", "--explain", "in.csv"], "--explain", "in.csv would overwrite the input file"),
    (["-o", "out.csv", "--explain", "out.csv"], "--explain", "out.csv would overwrite the file -o writes"),
    (["-o", "out.csv", "--explain", "out.errors.csv"], "--explain", "would overwrite the file -o writes (out.errors.csv)"),
    (["-o", "in.csv.xlsx", "--explain", "./in.csv"], "--explain", "would overwrite the input file"),
    (["-o", "missing/out.csv"], "-o", "/missing does not exist"),
    (["-o", "out.xlsx", "--explain", "missing/e.jsonl"], "--explain", "/missing does not exist"),
    (["-o", "out.csv"], "-o", "out.errors.csv is a directory"),  # OUT would have come without its errors
    (["-o", "名" * 90 + ".csv"], "-o", "longer than 255 bytes"),
])
def test_outputs_that_would_overwrite_the_input_or_each_other_are_refused_before_any_work(
        tmp_path, monkeypatch, args, option, message):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "in.csv", ["applicant_id"], [["A-1"]])
    made = [tmp_path / "out.errors.csv"] if message.startswith("out.errors.csv is") else []
    for directory in made:
        directory.mkdir()
    before = (tmp_path / "in.csv").read_bytes()
    result = run("batch", "in.csv", *args)
    assert result.exit_code == 2 and f"Invalid value for {option}" in result.output and message in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "in.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.csv"] + [d.name for d in made])


def test_a_long_output_name_is_written_its_temporary_name_kept_within_the_limit(tmp_path):
    write_csv(tmp_path / "in.csv", ["applicant_id"], [["A-1"]])
    out = tmp_path / ("名" * 80 + ".csv")  # 244 bytes: a name the file system takes, once, not with marks added
    result = run("batch", tmp_path / "in.csv", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.exists() and out.with_suffix(".errors.csv").exists()


def _renaming_onto_fails(monkeypatch, name: str, error: OSError) -> None:
    """Putting a finished file in place as `name` fails with `error` (a full disk, an immutable file)."""
    from engine import tabular

    real = tabular.finished

    def failing(temporary, target):
        if target is not None and target.name == name:
            raise error
        real(temporary, target)

    monkeypatch.setattr(tabular, "finished", failing)


def test_out_is_put_in_place_last_and_taken_back_if_a_file_cannot_be(tmp_path, monkeypatch):
    write_csv(tmp_path / "in.csv", ["applicant_id", "training_hours"], [["A-1", "24"], ["A-2", "abc"]])
    _renaming_onto_fails(monkeypatch, "out.csv", OSError(28, "No space left on device", "out.csv"))
    result = run("batch", tmp_path / "in.csv", "-o", tmp_path / "out.csv")
    assert result.exit_code == 2 and "cannot write" in result.output and "no output was written" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # the errors file, placed first, taken back
    # an earlier run's OUT and errors file are put back as they were (the errors file was lost)
    (tmp_path / "out.csv").write_text("OLD OUT\n")
    (tmp_path / "out.errors.csv").write_text("OLD ERRORS\n")
    assert run("batch", tmp_path / "in.csv", "-o", tmp_path / "out.csv").exit_code == 2
    assert (tmp_path / "out.csv").read_text() == "OLD OUT\n" and (tmp_path / "out.errors.csv").read_text() == "OLD ERRORS\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv", "out.errors.csv"]


def test_outputs_with_explain_are_all_put_in_place_or_none(tmp_path, monkeypatch):
    write_csv(tmp_path / "in.csv", ["applicant_id", "training_hours"], [["A-1", "24"], ["A-2", "abc"]])
    _renaming_onto_fails(monkeypatch, "e.jsonl", OSError(1, "Operation not permitted", "e.jsonl"))
    result = run("batch", tmp_path / "in.csv", "-o", tmp_path / "out.csv", "--explain", tmp_path / "e.jsonl")
    assert result.exit_code == 2 and "no output was written" in result.output  # OUT had been left in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("per_record", [False, True])
def test_parquet_out_is_put_in_place_after_its_errors_file(tmp_path, monkeypatch, per_record):
    # its errors buffer could fill first: OUT was then placed first, whatever the order meant
    from engine import tabular

    write_csv(tmp_path / "in.csv", ["applicant_id", "training_hours", "training_fee", "contract_months"],
              [[f"A-{i}", "abc", "x", "y"] for i in range(4_500)])  # 13,500 errors: their buffer fills first
    order, real = [], tabular.finished
    monkeypatch.setattr(tabular, "finished", lambda temporary, target: (order.append(target and target.name),
                                                                         real(temporary, target)))
    assert run("batch", tmp_path / "in.csv", "-o", tmp_path / "out.parquet", *(["--per-record"] if per_record else [])
               ).exit_code == 1
    assert [name for name in order if name] == ["out.errors.parquet", "out.parquet"]


@pytest.mark.parametrize("per_record", [False, True])
@pytest.mark.parametrize("text, row, detail", [
    ('applicant_id,name,training_hours\nA1,张三,24\nA2,"李四,24\nA3,王五,24\nA4,赵六,16\n', 3, "unexpected end of data"),
    ('applicant_id,name,training_hours\nA1,张三,24\nA2,"Li"Yong,16\nA3,王五,24\n', 3, "',' expected after"),
])
def test_broken_quoting_is_refused_not_read_on_into_later_rows(tmp_path, per_record, text, row, detail):
    # a quote left open took every later row into one cell: A3 and A4 were lost, exit 0
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    result = run("batch", source, "-o", tmp_path / "out.csv", *(["--per-record"] if per_record else []))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"row {row}: the quoting is broken ({detail}" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_csv_whose_lines_end_in_cr_alone_is_decided_as_the_per_record_path_decides_it(tmp_path):
    # the column-wise path read the whole file as its header: an empty OUT, exit 0
    source = tmp_path / "cr.csv"
    source.write_bytes("申请编号,姓名,培训课时\rS1,张三,24\rS2,李四,abc\rS3,王五,8\r".encode())
    result = run("batch", source, "-o", tmp_path / "col.csv", "--as-of", "2024-06-01")
    assert result.exit_code == 1 and "rows: 3  decided: 2  rows with errors: 1" in result.output, result.output
    assert run("batch", source, "-o", tmp_path / "rec.csv", "--as-of", "2024-06-01", "--per-record").exit_code == 1
    assert read_csv(tmp_path / "col.csv") == read_csv(tmp_path / "rec.csv") and len(read_csv(tmp_path / "col.csv")) == 4
    assert read_csv(tmp_path / "col.errors.csv") == read_csv(tmp_path / "rec.errors.csv")


RAGGED = [["applicant_id", "skill_level", "备注"], ["R1", "高级工", "a"], ["R2", "高级工", "b", "EXTRA"],
          ["R3", "技师", "c", None, ""]]


@pytest.mark.parametrize("per_record", [False, True])
def test_a_csv_row_with_cells_past_the_header_is_an_error_not_shifted_into_the_decisions(tmp_path, per_record):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("\n".join(",".join(c or "" for c in row) for row in RAGGED) + "\n", encoding="utf-8")
    result = run("batch", source, "-o", out, "--as-of", "2024-06-01", "--workers", "1",
                 *(["--per-record"] if per_record else []))
    assert result.exit_code == 1, result.output
    written = read_csv(out)
    assert {len(row) for row in written} == {len(written[0])}  # every row as wide as the header
    by_id = {row[0]: dict(zip(written[0], row)) for row in written[1:]}
    assert by_id["R2"]["apprenticeship-mentor-allowance.outcome"] == "error"
    assert by_id["R3"]["apprenticeship-mentor-allowance.outcome"] == "undetermined"  # empty cells past it: fine
    errors = read_csv(tmp_path / "out.errors.csv")
    assert errors[1][:4] == ["3", "R2", "", "EXTRA"] and "past the header's 3 columns" in errors[1][4]


def test_an_xlsx_cell_past_the_header_keeps_its_own_column(tmp_path):
    source, out = tmp_path / "in.xlsx", tmp_path / "out.csv"
    book = openpyxl.Workbook()
    for row in RAGGED:
        book.active.append(row)
    book.save(source)
    result = run("batch", source, "-o", out, "--as-of", "2024-06-01", "--workers", "1")
    assert result.exit_code == 0, result.output
    written = read_csv(out)
    assert written[0][:5] == ["applicant_id", "skill_level", "备注", "", "apprenticeship-mentor-allowance.outcome"]
    assert written[2][3:5] == ["EXTRA", "undetermined"]  # the sheet's own column: nothing shifted


@pytest.mark.parametrize("with_error_cell", [False, True])  # calamine reads it, or openpyxl (a formula error)
def test_a_workbook_s_other_sheets_are_named_and_one_can_be_chosen(tmp_path, with_error_cell):
    book = openpyxl.Workbook()
    book.active.title = "填表说明"
    book.active.append(["请按要求填写"])
    for name, ids in (("名册", ["A-1", "A-2"]), ("名册2", ["B-1"])):
        sheet = book.create_sheet(name)
        sheet.append(["申请编号", "培训课时"])
        for applicant in ids:
            sheet.append([applicant, 24])
    if with_error_cell:
        book["名册2"].append(["B-2", "#DIV/0!"])
    source = tmp_path / "book.xlsx"
    book.save(source)
    first = run("batch", source, "-o", tmp_path / "out.csv")
    assert first.exit_code == 2 and "Traceback" not in first.output
    assert "(sheet '填表说明'): no applicant_id (申请编号) column in the first row" in first.output
    assert "the workbook's other sheets: 名册, 名册2 (--sheet NAME reads one)" in first.output
    chosen = run("batch", source, "-o", tmp_path / "out.csv", "--sheet", "名册2")
    assert chosen.exit_code == (1 if with_error_cell else 0), chosen.output
    assert "read sheet '名册2' only; not read: 填表说明, 名册" in chosen.output
    assert [row[0] for row in read_csv(tmp_path / "out.csv")[1:]] == ["B-1"] + (["B-2"] if with_error_cell else [])
    missing = run("batch", source, "-o", tmp_path / "out.csv", "--sheet", "名单")
    assert missing.exit_code == 2 and "no worksheet '名单'; its worksheets are: 填表说明, 名册, 名册2" in missing.output


@pytest.mark.parametrize("per_record", [False, True])
def test_an_xlsx_output_past_excel_s_row_limit_is_refused_and_not_written(tmp_path, monkeypatch, per_record):
    import engine.xlsxstream

    monkeypatch.setattr(engine.xlsxstream, "EXCEL_MAX_ROWS", 6)  # as 1,048,576 is for a real sheet
    source, path = tmp_path / "in.csv", ["--per-record"] if per_record else []
    write_csv(source, ["applicant_id"], [[f"A-{i}"] for i in range(5)])
    fits = run("batch", source, "-o", tmp_path / "ok.xlsx", "--workers", "1", *path)
    assert fits.exit_code == 0, fits.output  # a header and 5 rows: 6
    write_csv(source, ["applicant_id"], [[f"A-{i}"] for i in range(6)])
    result = run("batch", source, "-o", tmp_path / "out.xlsx", "--workers", "1", *path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "the 'results' sheet would need more than Excel's 6 rows" in result.output and ".csv or .parquet" in result.output
    assert not (tmp_path / "out.xlsx").exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())


@pytest.mark.parametrize("per_record", [False, True])
def test_an_xlsx_output_cell_longer_than_excel_holds_is_refused_and_not_written(tmp_path, per_record):
    # a 40,000-character name from a CSV went into the workbook as it was
    source = tmp_path / "in.csv"
    write_csv(source, ["applicant_id", "name"], [["L1", "长" * 32_767], ["L2", "长" * 32_768]])
    result = run("batch", source, "-o", tmp_path / "out.xlsx", "--workers", "1", *(["--per-record"] if per_record else []))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "a cell of 32,768 characters is longer than an Excel cell holds (32,767)" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
@pytest.mark.parametrize("per_record", [False, True])
def test_rows_with_no_data_are_left_out_and_said_so(tmp_path, suffix, per_record):
    rows = [["applicant_id", "skill_level"], ["R1", "高级工"], [None, None], [" ", None], ["R4", "技师"]]
    source = tmp_path / f"in{suffix}"
    if suffix == ".csv":
        write_csv(source, rows[0], [[c or "" for c in row] for row in rows[1:]])
    elif suffix == ".xlsx":
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(source)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}), source)
    result = run("batch", source, "-o", tmp_path / "out.csv", "--workers", "1", *(["--per-record"] if per_record else []))
    assert result.exit_code == 0, result.output
    assert "rows: 2 " in result.output and "rows with no data, left out of OUT: 2 (row 3, 4)" in result.output
    assert [row[0] for row in read_csv(tmp_path / "out.csv")[1:]] == ["R1", "R4"]


def test_a_row_after_a_cell_spanning_lines_is_numbered_as_the_spreadsheet_shows_it(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('applicant_id,备注,技能等级\nN1,"line1\nline2",高级工\nN2,x,大师\n', encoding="utf-8")
    result = run("batch", source, "-o", tmp_path / "out.csv", "--workers", "1")
    assert result.exit_code == 1, result.output
    errors = read_csv(tmp_path / "out.errors.csv")
    assert errors[1][:4] == ["3", "N2", "skill_level", "大师"]  # row 3 in Excel; the file's line 4
    written = read_csv(tmp_path / "out.csv")
    assert dict(zip(written[0], written[2]))["treatment-parity.reason"] == "row-error: listed with the errors"


def test_explain_jsonl_equals_check_json(tmp_path):
    source = tmp_path / "in.csv"
    write_csv(source, ["applicant_id", "contract_months", "apprentice_kind", "as_of"],
              [["A-1", "24", "新招用", "2020-05-01"], ["A-2", "6", "transfer", "2020-05-01"],
               ["A-3", "many", "transfer", "2020-05-01"]])
    result = run("batch", source, "-o", tmp_path / "out.csv", "--explain", tmp_path / "e.jsonl", "--workers", "1")
    assert result.exit_code == 1, result.output  # A-3 is refused
    lines = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["row"] for line in lines] == [2, 3, 4]  # every row, with the row it came from
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"applicant_id": "A-2", "contract_months": "6", "apprentice_kind": "transfer",
                                  "as_of": "2020-05-01"}))
    assert {k: v for k, v in lines[1].items() if k != "row"} == json.loads(run("check", single, "--format", "json").output)
    assert lines[2] == {"row": 4, "applicant_id": "A-3", "errors": [
        {"field": "contract_months", "value": "many", "message": "is not valid; expected a number like 1200 or 1,200.50"}]}


def cell(value):
    """A value as an office types it: lists ';'-separated or 无, booleans 是/否, absent as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(value) if value else "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(records(record_type="person"), min_size=1, max_size=8))
def test_batch_and_single_evaluation_agree(tmp_path, people):
    header = sorted({k for p in people for k in p})
    source = tmp_path / "agree.csv"
    write_csv(source, header, [[cell(p.get(h)) for h in header] for p in people])
    out = tmp_path / "agree.out.csv"
    run_batch(RULESET, DEFAULT_RULES, source, out, date(2024, 6, 1), workers=1)
    rows = read_csv(out)
    columns = rows[0]
    for person, row in zip(people, rows[1:]):
        single = decision_set_json(decide(RULESET, parse_record(person, default_as_of=date(2024, 6, 1))))
        cells = dict(zip(columns, row))
        for decision in single["decisions"]:
            assert cells[f"{decision['programme']}.outcome"] == decision["outcome"]
            assert (cells[f"{decision['programme']}.amount"] or None) == decision["amount"]["value"]


def test_two_workers_give_the_same_output_as_one(tmp_path):
    source = tmp_path / "in.csv"
    write_csv(source, ["applicant_id", "contract_months", "apprentice_kind", "employer_has_training_system",
                       "employer_skilled_ratio", "apprentice_year", "apprentice_target_level", "as_of"],
              [[f"A-{i}", str(i % 40), "new_hire", "是", "0.7", str(i % 5), "junior", "2020-05-01"]
               for i in range(2500)])
    run_batch(RULESET, DEFAULT_RULES, source, tmp_path / "one.csv", date(2024, 6, 1), workers=1)
    run_batch(RULESET, DEFAULT_RULES, source, tmp_path / "two.csv", date(2024, 6, 1), workers=2)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()


ALLOCATOR_PROBE = ("import os, sys; from engine.allocator import keep_freed_memory; keep_freed_memory(); "
                   "import polars; print(os.environ.get('_RJEM_MALLOC_CONF'))")


@pytest.mark.parametrize("given, kept", [(None, "narenas:1,dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false"),
                                         ("dirty_decay_ms:1000", "dirty_decay_ms:1000")])
def test_a_batch_keeps_freed_memory_unless_the_user_set_the_allocator(given, kept):
    """The batch's allocator setting reaches polars (set before it starts: polars appends it to its
    own, and jemalloc takes the last value of each option); a user's own wins."""
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if given is not None:
        env["_RJEM_MALLOC_CONF"] = given
    probe = subprocess.run([sys.executable, "-c", ALLOCATOR_PROBE], capture_output=True, text=True, env=env,
                           cwd=Path(__file__).resolve().parent.parent, check=True)
    conf = probe.stdout.strip()
    assert conf.endswith("," + kept) and (given is None or "narenas" not in conf)


def test_the_allocator_is_left_alone_once_polars_has_started(monkeypatch):
    import polars

    from engine.allocator import keep_freed_memory

    assert polars.__name__ in sys.modules  # started, as in this test process
    monkeypatch.delenv("_RJEM_MALLOC_CONF", raising=False)
    keep_freed_memory()
    assert "_RJEM_MALLOC_CONF" not in os.environ  # too late to reach polars: not pretended
