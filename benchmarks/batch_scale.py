"""Batch at scale, end to end through the command line (process start included): time, rows/s,
peak memory, and a check that sampled rows equal single evaluation. For CSV, in the same run: the
per-record path on the first rows of the same file (the baseline), and polars alone reading the
input and writing the output bytes, the ordinary way and around the page cache as the batch does
(engine.directfile) (the I/O floor), the same rows with only the columns of an office's training
roster (ROSTER_FIELDS), and the same rows as a Parquet file, into CSV and into Parquet (against the per-record path, Parquet in and out, on the first rows). For xlsx: the
per-record path on the same sheet, and reading + writing the sheet with our reader (calamine) and
writer (engine.xlsxstream, column-wise as the batch writes), no deciding.

    python benchmarks/batch_scale.py [--rows-csv 1000000] [--rows-xlsx 100000] [--dir /tmp/bench]
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The fields of the training roster an office fills in (../shared/samples/training-roster.xlsx,
# less its row number). The synthetic file has every person field, 57 columns; a roster has these 19:
# a narrower input, and more programmes undetermined, with longer lists of missing facts.
ROSTER_FIELDS = ["applicant_id", "name", "as_of", "hukou", "employment_status", "employer_size", "employer_ownership",
                 "employer_dispatch_only", "employer_pays_education_surcharge", "skill_level", "skill_cert_kind",
                 "skill_cert_date", "training_route", "provider_type", "training_hours", "training_fee",
                 "training_completed", "repeat_project", "subsidised_projects_this_year"]


def run_measured(args: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB of the process and its workers, exit code) of a fresh process."""
    script = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
              "code = subprocess.call(sys.argv[1:]); "
              "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
              "print(json.dumps([time.perf_counter() - t, peak / 1024, code]))")
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT)
    seconds, peak, code = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, peak, code


def io_floor(source: Path, target: Path) -> float:
    """Seconds to read the sheet and write its cells back as the batch does, no deciding: calamine's
    rows in chunks of typed text columns (engine.columnbatch), written column-wise (XlsxStream.write_frame)."""
    from engine.columnbatch import _typed_chunks
    from engine.tabular import Table, TableWriter

    start = time.perf_counter()
    table = Table(source)
    writer = TableWriter(target, table.header, ["row"])
    chunks, cleanup = _typed_chunks(table, len(table.header))
    for chunk in chunks:
        writer.write_frame(chunk.drop("__row"), typed=True)
    cleanup()
    writer.commit()
    return time.perf_counter() - start


def spot_check(source: Path, out: Path, samples: int) -> int:
    """Rows whose batch outcome/amount differ from single evaluation (expected 0)."""
    from engine.decide import decide
    from engine.loader import load_rules
    from engine.records import RecordError, parse_record
    from engine.tabular import Table

    ruleset = load_rules()
    table = Table(source)
    chosen = set(random.Random(1).sample(range(table.total), min(samples, table.total)))
    inputs = {}
    for index, (_, cells) in enumerate(table.rows()):
        if index in chosen:
            inputs[index] = dict(zip(table.header, cells))
    output = Table(out)
    differences = 0
    for index, (_, cells) in enumerate(output.rows()):
        if index not in inputs:
            continue
        row = dict(zip(output.header, cells))
        try:
            record = parse_record(inputs[index], default_as_of=date(2024, 6, 1))
        except RecordError:
            differences += row[f"{sorted(ruleset.programmes)[0]}.outcome"] != "error"
            continue
        for decision in decide(ruleset, record).decisions:
            got = row[f"{decision.programme.id}.outcome"]
            amount = decision.amount.value if decision.amount else None
            got_amount = row[f"{decision.programme.id}.amount"]
            same_amount = (got_amount in (None, "") and not hasattr(amount, "quantize")) or (
                hasattr(amount, "quantize") and got_amount not in (None, "") and float(got_amount) == float(amount))
            differences += got != decision.outcome or not same_amount
    return differences


def main() -> None:
    import polars as pl

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-csv", type=int, default=1_000_000)
    parser.add_argument("--rows-xlsx", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench"))
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--per-record-rows", type=int, default=20_000)
    options = parser.parse_args()
    options.dir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
          f"Python {platform.python_version()}")
    for rows, suffix, chinese in ((options.rows_xlsx, ".xlsx", True), (options.rows_csv, ".csv", False)):
        if not rows:
            continue
        source = options.dir / f"synth-{rows}{suffix}"
        out = options.dir / f"decided-{rows}{suffix}"
        if not source.exists():
            args = [str(ROOT / "cli.py"), "synth", "--rows", str(rows), "-o", str(source), "--bad-share", "0.01"]
            seconds, _, _ = run_measured([sys.executable, *args] + (["--chinese"] if chinese else []))
            print(f"synth {rows} rows {suffix}: {seconds:.1f} s")
        batch = [sys.executable, str(ROOT / "cli.py"), "batch", "--as-of", "2024-06-01"]
        seconds, peak, code = run_measured(batch + [str(source), "-o", str(out)])
        wrong = spot_check(source, out, options.samples)
        result = {"file": source.name, "rows": rows, "batch_seconds": round(seconds, 1),
                  "rows_per_second": round(rows / seconds), "peak_rss_mib": round(peak), "exit": code,
                  "sampled_rows": options.samples, "sampled_rows_differing": wrong}
        if suffix == ".csv":
            # the same rows as a roster: the training roster's columns only
            roster, roster_out = options.dir / f"roster-{rows}.csv", options.dir / f"decided-roster-{rows}.csv"
            pl.read_csv(source, infer_schema=False, columns=ROSTER_FIELDS).write_csv(roster)
            roster_s, roster_peak, roster_code = run_measured(batch + [str(roster), "-o", str(roster_out)])
            result.update(roster_columns=len(ROSTER_FIELDS), roster_batch_seconds=round(roster_s, 1),
                          roster_rows_per_second=round(rows / roster_s), roster_peak_rss_mib=round(roster_peak),
                          roster_exit=roster_code, roster_output_mib=round(roster_out.stat().st_size / 2**20),
                          roster_sampled_rows_differing=spot_check(roster, roster_out, options.samples))
            # the baseline: the per-record path (as check decides) on the first rows of the same file
            head = options.dir / f"head-{options.per_record_rows}.csv"
            with source.open("rb") as whole, head.open("wb") as part:
                for _, line in zip(range(options.per_record_rows + 1), whole):
                    part.write(line)
            slow, _, _ = run_measured(batch + ["--per-record", str(head), "-o", str(options.dir / "head-out.csv")])
            result["per_record_rows_per_second"] = round(options.per_record_rows / slow)
            result["column_wise_over_per_record"] = round(rows / seconds / (options.per_record_rows / slow), 1)
            # the floors: polars reading the input and writing the output bytes, no deciding
            read_s, write_s, direct_s = polars_floor(source, out, options.dir / "rewrite.csv")
            result.update(polars_read_input_seconds=round(read_s, 1), polars_write_output_seconds=round(write_s, 1),
                          polars_write_output_direct_seconds=round(direct_s, 1),
                          output_mib=round(out.stat().st_size / 2**20))
            # the same rows as Parquet (text columns, as a system export gives them), into CSV
            parquet, parquet_out = options.dir / f"synth-{rows}.parquet", options.dir / f"decided-{rows}-parquet.csv"
            pl.read_csv(source, infer_schema=False).write_parquet(parquet)
            parquet_s, parquet_peak, _ = run_measured(batch + [str(parquet), "-o", str(parquet_out)])
            result.update(parquet_batch_seconds=round(parquet_s, 1), parquet_rows_per_second=round(rows / parquet_s),
                          parquet_peak_rss_mib=round(parquet_peak),
                          parquet_output_same_as_csv_run=parquet_out.read_bytes() == out.read_bytes())
            # Parquet in and out; its cells against the CSV run's output (CSV's empty cell is Parquet's null,
            # and CSV's apostrophe before text a spreadsheet would run, '-5, is CSV's alone: Parquet keeps -5)
            parquet_pq = options.dir / f"decided-{rows}.parquet"
            pq_s, pq_peak, _ = run_measured(batch + [str(parquet), "-o", str(parquet_pq)])
            written, expected = pl.read_parquet(parquet_pq), pl.read_csv(out, infer_schema=False)
            expected = expected.with_columns(pl.when(pl.col(c).str.contains("^'[=+\\-@\t\r]")).then(pl.col(c).str.slice(1))
                                             .otherwise(pl.col(c)) for c in expected.columns)
            result.update(parquet_to_parquet_seconds=round(pq_s, 1), parquet_to_parquet_rows_per_second=round(rows / pq_s),
                          parquet_to_parquet_peak_rss_mib=round(pq_peak),
                          parquet_to_parquet_cells_same_as_csv_run=written.equals(
                              expected.rename(dict(zip(expected.columns, written.columns)))))
            # its baseline: the per-record path, Parquet in and out, on the first rows
            head_parquet = options.dir / f"head-{options.per_record_rows}.parquet"
            pl.read_csv(head, infer_schema=False).write_parquet(head_parquet)
            slow_pq, _, _ = run_measured(batch + ["--per-record", str(head_parquet), "-o",
                                                  str(options.dir / "head-out.parquet")])
            result["parquet_to_parquet_over_per_record"] = round(rows / pq_s / (options.per_record_rows / slow_pq), 1)
        else:
            # the baseline: the per-record path on the whole sheet; the floor: read + write, no deciding
            slow, _, _ = run_measured(batch + ["--per-record", str(source), "-o", str(options.dir / "rec-out.xlsx")])
            result["per_record_seconds"] = round(slow, 1)
            result["column_wise_over_per_record"] = round(slow / seconds, 1)
            result["read_write_floor_seconds"] = round(io_floor(source, options.dir / f"copy{suffix}"), 1)
        print(json.dumps(result))


def polars_floor(source: Path, out: Path, target: Path) -> tuple[float, float, float]:
    """Seconds for polars to read the input, to write the output's cells to a file the ordinary way,
    and to write them through engine.directfile, as the batch writes its CSV."""
    import polars as pl

    from engine.directfile import DirectFile

    start = time.perf_counter()
    pl.read_csv(source, infer_schema=False)
    read = time.perf_counter() - start
    frame = pl.read_csv(out, infer_schema=False)
    start = time.perf_counter()
    frame.write_csv(target)
    write = time.perf_counter() - start
    target.unlink()
    start = time.perf_counter()
    with DirectFile(target) as stream:
        frame.write_csv(stream)
    direct = time.perf_counter() - start
    target.unlink()
    return read, write, direct


if __name__ == "__main__":
    main()
