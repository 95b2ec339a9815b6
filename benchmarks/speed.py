"""Evaluation speed, in one run on the same synthetic data: our per-record path, our column-wise path,
the plain read + write of the same data as CSV (the I/O floor), and two peers on the rules they can
express.

    python benchmarks/speed.py [--rows 1000000] [--sample 20000] [--seed 1] [--dir /tmp/speed]

- per-record: engine.decide.decide + engine.batch.reason_code over `--sample` parsed records, all
  programmes of the record type (parsing is not timed: it is the same for both paths);
- column-wise: engine.columnar.CompiledRuleset.decide over a typed frame of `--rows` rows —
  evaluation only (typed columns in, outcome/amount/reason columns out), cold (the first table the
  compiled rules see) and warm (best of `--repeat`), and without reason codes to show what they cost;
  its output is checked equal to the per-record path on the sample;
- I/O floor: polars read_csv + write_csv of the same rows as a CSV file, and engine.tabular's streamed
  read + write (what the batch command does around evaluation);
- peers: GoRules ZEN (zen-engine) and durable-rules on the conditions of
  apprenticeship-training-subsidy (two-valued: they have no "unknown"), against our paths on that
  programme alone. A peer that does not import is skipped with the reason.

The frame of `--rows` rows is built from the synthetic cells by vectorised conversions (the cells are
canonical codes, ISO dates and plain numbers), and checked equal to engine.records.parse_record +
engine.columnar.records_to_frame on the sample, so both paths read the same records.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APPRENTICESHIP = "apprenticeship-training-subsidy"


# ----------------------------------------------------------------------------------------- helpers


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import polars as pl

    return {"cores": f"{usable} usable ({os.cpu_count()} online)", "cpu": model,
            "python": platform.python_version(), "polars": f"{pl.__version__} ({pl.thread_pool_size()} threads)",
            "platform": platform.platform(), "load average": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def synthetic(rows: int, seed: int, record_type: str) -> tuple[list[str], list[list]]:
    from engine.synth import synthesise

    header, generated = synthesise(rows, seed=seed, record_type=record_type)
    return header, list(generated)


def parsed(header: list[str], rows: list[list], as_of: date) -> list:
    from engine.records import parse_record

    return [parse_record(dict(zip(header, row)), default_as_of=as_of) for row in rows]


def typed_frame(header: list[str], rows: list[list], record_type: str):
    """The typed frame of engine.columnar.frame_schema, from canonical synthetic cells, vectorised."""
    import polars as pl

    from engine.columnar import frame_schema
    from engine.records import FACT_TYPES, RECORD_MODELS

    columns = dict(zip(header, zip(*rows))) if rows else {name: () for name in header}
    types = FACT_TYPES[record_type]
    schema = frame_schema(record_type)
    data = {}
    for name, fact_type in types.items():
        values = columns.get(name, (None,) * len(rows))
        kind = fact_type.kind
        if kind == "number":
            text = pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)
            decimals = text.str.split(".").list.get(1, null_on_oob=True).str.len_chars().max() or 0
            data[name] = text.cast(pl.Decimal(38, max(schema[name].scale, decimals)))
        elif kind == "enum":
            data[name] = pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String) \
                .cast(schema[name])
        elif kind == "list":
            text = pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)
            items = text.str.split(";")
            mask = pl.Series(name, [0] * len(rows), dtype=pl.UInt64)
            for index, member in enumerate(fact_type.enum):
                mask = mask + items.list.contains(member.value).cast(pl.UInt64) * (1 << index)
            data[name] = pl.select(pl.when(text.is_null()).then(None).otherwise(mask)).to_series().alias(name)
        elif kind == "date":
            data[name] = pl.Series(name, list(values), dtype=pl.Date)
        elif kind == "bool":
            data[name] = pl.Series(name, list(values), dtype=pl.Boolean)
        else:
            data[name] = pl.Series(name, [None if v is None else str(v).strip() for v in values], dtype=pl.String)
        default = RECORD_MODELS[record_type].FIELDS[name].default  # e.g. nationality CN
        if isinstance(default, str) and kind == "text":
            data[name] = data[name].fill_null(default)
        del values
    return pl.DataFrame(data)


def raw_frame(header: list[str], rows: list[list]):
    """The synthetic cells as text, as a CSV file holds them."""
    import polars as pl

    columns = list(zip(*rows)) if rows else [()] * len(header)
    return pl.DataFrame({name: pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)
                         for name, values in zip(header, columns)})


def same_frames(left, right) -> bool:
    """Equal values and kinds (decimal scales may differ: a sample may need fewer decimals)."""
    import polars as pl

    if left.columns != right.columns or left.height != right.height:
        return False
    for name in left.columns:
        a, b = left.get_column(name), right.get_column(name)
        if isinstance(a.dtype, pl.Decimal):
            a, b = a.cast(pl.Decimal(38, 8)), b.cast(pl.Decimal(38, 8))
        if not a.equals(b, check_names=False, check_dtypes=False) and a.to_list() != b.to_list():
            return False
    return True


def per_record(ruleset, records: list, only: list[str] | None = None) -> list[dict]:
    from engine.batch import reason_code
    from engine.decide import decide

    out = []
    for record in records:
        row = {}
        for d in decide(ruleset, record, only).decisions:
            amount = d.amount.value if d.amount and isinstance(d.amount.value, Decimal) else None
            row[d.programme.id] = (d.outcome, amount, reason_code(d))
        out.append(row)
    return out


def mismatches(expected: list[dict], decided) -> int:
    rows = decided.rows(named=True)
    bad = 0
    for want, got in zip(expected, rows):
        for programme, triple in want.items():
            if (got[f"{programme}.outcome"], got[f"{programme}.amount"], got[f"{programme}.reason"]) != triple:
                bad += 1
    return bad


# -------------------------------------------------------------------------------------------- peers

APPRENTICESHIP_FACTS = ("apprentice_kind", "contract_months", "employer_has_training_system",
                        "employer_skilled_ratio", "apprentice_year", "apprentice_evaluation_passed")


def peer_context(record) -> dict:
    """The facts the peers read, as JSON values (the ratio as a float: the peers have no exact decimals)."""
    context = {}
    for name in APPRENTICESHIP_FACTS:
        value = getattr(record, name)
        if isinstance(value, Decimal):
            value = float(value)
        elif hasattr(value, "value"):
            value = value.value
        context[name] = value
    return context


def peer_rules(ruleset, as_of: date) -> dict:
    """The parameters the conditions read, on the sample's assessment date."""
    parameters = ruleset.parameters
    from engine import vocabulary as V

    max_year = parameters["apprenticeship.max_year"].lookup(as_of, V.ApprenticeKind.new_hire).value
    transfer_year = parameters["apprenticeship.max_year"].lookup(as_of, V.ApprenticeKind.transfer).value
    return {"min_contract": int(parameters["apprenticeship.min_contract_months"].lookup(as_of).value),
            "min_ratio": float(parameters["apprenticeship.min_skilled_ratio"].lookup(as_of).value),
            "new_hire_years": int(max_year), "transfer_years": int(transfer_year)}


def zen_peer(contexts: list[dict], p: dict) -> tuple[dict, list[bool]]:
    import zen

    # ZEN cannot compare null with a number (it raises), so each comparison is guarded; a missing
    # fact then makes the condition false — it has no "unknown".
    condition = (
        "(apprentice_kind == 'new_hire' or apprentice_kind == 'transfer')"
        f" and contract_months != null and contract_months >= {p['min_contract']}"
        " and employer_has_training_system == true"
        f" and employer_skilled_ratio != null and employer_skilled_ratio >= {p['min_ratio']}"
        " and apprentice_year != null"
        f" and apprentice_year <= (apprentice_kind == 'new_hire' ? {p['new_hire_years']} : {p['transfer_years']})"
        " and (apprentice_kind != 'transfer' or apprentice_evaluation_passed == true)")
    graph = json.dumps({
        "nodes": [{"id": "in", "type": "inputNode", "name": "in", "position": {"x": 0, "y": 0}},
                  {"id": "x", "type": "expressionNode", "name": "x", "position": {"x": 1, "y": 0},
                   "content": {"expressions": [{"id": "e", "key": "eligible", "value": condition}]}},
                  {"id": "out", "type": "outputNode", "name": "out", "position": {"x": 2, "y": 0}}],
        "edges": [{"id": "a", "sourceId": "in", "targetId": "x", "type": "edge"},
                  {"id": "b", "sourceId": "x", "targetId": "out", "type": "edge"}]})
    engine = zen.ZenEngine({"loader": lambda key: graph})
    decision = engine.create_decision(graph)
    seconds, results = timed(lambda: [decision.evaluate(c)["result"]["eligible"] for c in contexts])
    batch_seconds, batch = timed(lambda: engine.evaluate_batch([{"key": "g", "context": c} for c in contexts]))
    assert [r["data"]["result"]["eligible"] for r in batch] == results
    return {"zen-engine, evaluate() per row": seconds, "zen-engine, evaluate_batch()": batch_seconds}, results


def durable_peer(contexts: list[dict], p: dict) -> tuple[dict, list[bool]]:
    from durable import engine as durable_engine
    from durable.lang import m, post, ruleset, when_all

    hits: set[int] = set()
    name = f"apprenticeship_{os.getpid()}"
    common = ((m.contract_months >= p["min_contract"]) & (m.employer_has_training_system == True)  # noqa: E712
              & (m.employer_skilled_ratio >= p["min_ratio"]))
    with ruleset(name):
        @when_all(common & (m.apprentice_kind == "new_hire") & (m.apprentice_year <= p["new_hire_years"]))
        def new_hire(c):
            hits.add(c.m.row)

        @when_all(common & (m.apprentice_kind == "transfer") & (m.apprentice_year <= p["transfer_years"])
                  & (m.apprentice_evaluation_passed == True))  # noqa: E712
        def transfer(c):
            hits.add(c.m.row)

    def run():
        for row, context in enumerate(contexts):
            event = {k: v for k, v in context.items() if v is not None}  # it cannot hold a null
            try:
                post(name, {**event, "row": row})
            except durable_engine.MessageNotHandledException:
                pass  # no rule matched: not eligible

    seconds, _ = timed(run)
    return {"durable-rules, post() per row": seconds}, [row in hits for row in range(len(contexts))]


# --------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the column-wise path and the I/O floor")
    parser.add_argument("--sample", type=int, default=20_000, help="rows for the per-record path and the peers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="warm runs of the column-wise path (best is shown)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/speed"), help="where the CSV files go")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)

    from engine.loader import load_rules

    info = machine()
    print("machine:", "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    ruleset = load_rules()
    results: list[tuple[str, str, int, float]] = []  # (what, record type, rows, seconds)
    notes: list[str] = []

    for record_type in ("person", "enterprise"):
        measure(ruleset, record_type, args, results, notes)
        gc.collect()

    report(results, notes, info)
    return 0


def measure(ruleset, record_type: str, args, results: list, notes: list[str]) -> None:
    """Every measurement of one record type, on the same synthetic rows."""
    import polars as pl

    from engine.columnar import CompiledRuleset, records_to_frame
    from engine.synth import DEFAULT_AS_OF

    programmes = len(ruleset.programmes_for(record_type))
    print(f"\n[{record_type}: {programmes} programmes] synthesising {args.rows:,} rows …", flush=True)
    header, rows = synthetic(args.rows, args.seed, record_type)
    frame = typed_frame(header, rows, record_type)
    sample_rows = rows[:args.sample]
    records = parsed(header, sample_rows, DEFAULT_AS_OF)
    reference = records_to_frame(records, record_type)
    if not same_frames(frame.head(len(records)), reference):
        raise SystemExit("the vectorised frame differs from parse_record + records_to_frame on the sample")

    # (a) per-record: decide + reason_code
    seconds, expected = timed(lambda: per_record(ruleset, records))
    results.append(("per-record (decide + reason_code)", record_type, len(records), seconds))

    # (b) column-wise: compile, then evaluation only
    compile_seconds, compiled = timed(lambda: CompiledRuleset(ruleset, record_type))
    notes.append(f"{record_type}: compiling {programmes} programmes to column expressions took "
                 f"{compile_seconds * 1000:.0f} ms")
    cold, decided = timed(lambda: compiled.decide(frame))
    results.append(("column-wise, first table (cold)", record_type, frame.height, cold))
    warm, decided = timed(lambda: compiled.decide(frame), args.repeat)
    results.append(("column-wise (warm, best of %d)" % args.repeat, record_type, frame.height, warm))
    bare, _ = timed(lambda: compiled.decide(frame, reasons=False), args.repeat)
    results.append(("column-wise without reason codes", record_type, frame.height, bare))
    bad = mismatches(expected, decided.head(len(records)))
    notes.append(f"{record_type}: column-wise vs per-record on the {len(records):,}-row sample: "
                 f"{bad} differing cells of {len(records) * programmes * 3:,}")
    if bad:
        print(f"!! {bad} cells differ between the paths", file=sys.stderr)

    # (c) the I/O floor: the same rows as CSV, read and written
    if record_type == "person":
        source, target = args.dir / "speed-input.csv", args.dir / "speed-output.csv"
        frame_for_csv = raw_frame(header, rows)
        frame_for_csv.write_csv(source)
        seconds, _ = timed(lambda: pl.read_csv(source, infer_schema_length=10_000).write_csv(target))
        results.append(("I/O floor: polars read_csv + write_csv", record_type, frame.height, seconds))
        limit = min(args.rows, 200_000)
        small = args.dir / "speed-input-small.csv"
        frame_for_csv.head(limit).write_csv(small)
        seconds, _ = timed(lambda: _tabular_copy(small, args.dir / "speed-output-small.csv"))
        results.append(("I/O floor: engine.tabular read + write", record_type, limit, seconds))

        # (d) peers on apprenticeship-training-subsidy
        as_of = records[0].as_of
        contexts = [peer_context(r) for r in records]
        known = [all(c[n] is not None for n in APPRENTICESHIP_FACTS if n != "apprentice_evaluation_passed")
                 and (c["apprentice_kind"] != "transfer" or c["apprentice_evaluation_passed"] is not None)
                 for c in contexts]
        ours = [e[APPRENTICESHIP][0] == "eligible" for e in expected]
        seconds, _ = timed(lambda: per_record(ruleset, records, [APPRENTICESHIP]))
        results.append((f"per-record, {APPRENTICESHIP} only", record_type, len(records), seconds))
        alone = CompiledRuleset(ruleset, record_type, [APPRENTICESHIP])
        alone.decide(frame)
        seconds, _ = timed(lambda: alone.decide(frame), args.repeat)
        results.append((f"column-wise, {APPRENTICESHIP} only", record_type, frame.height, seconds))
        parameters = peer_rules(ruleset, as_of)
        for label, peer in (("zen-engine", zen_peer), ("durable-rules", durable_peer)):
            try:
                timings, answers = peer(contexts, parameters)
            except ImportError as error:
                notes.append(f"{label}: skipped — it does not import here ({error})")
                continue
            except Exception as error:  # a peer that breaks is reported, not fatal
                notes.append(f"{label}: skipped — it failed: {type(error).__name__}: {error}")
                continue
            for what, seconds in timings.items():
                results.append((what + f" ({APPRENTICESHIP})", record_type, len(contexts), seconds))
            agree = sum(1 for k, a, b in zip(known, answers, ours) if k and bool(a) == b)
            notes.append(f"{label}: agrees with our outcome on {agree:,} of {sum(known):,} sample rows whose "
                         "facts are all known (it has no 'unknown'; on the others it answers false)")


def _tabular_copy(source: Path, target: Path) -> None:
    from engine.tabular import Table, TableWriter

    table = Table(source)
    writer = TableWriter(target, table.header, ["row"])
    for _, cells in table.rows():
        writer.write(cells)
    writer.commit()


def report(results: list, notes: list[str], info: dict) -> None:
    baseline = {rt: rows / seconds for what, rt, rows, seconds in results if what.startswith("per-record (")}
    width = max(len(r[0]) for r in results)
    line = "-" * (width + 60)
    print("\n" + line)
    print(f"{'path':{width}s} {'records':>10s} {'rows':>10s} {'seconds':>9s} {'rows/s':>12s} {'vs per-record':>14s}")
    print(line)
    for what, record_type, rows, seconds in results:
        rate = rows / seconds
        print(f"{what:{width}s} {record_type:>10s} {rows:>10,d} {seconds:>9.3f} {rate:>12,.0f} "
              f"{rate / baseline[record_type]:>13,.1f}×")
    print(line)
    for note in notes:
        print("·", note)
    print("machine:", "; ".join(f"{k} {v}" for k, v in info.items()))


if __name__ == "__main__":
    raise SystemExit(main())
