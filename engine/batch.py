"""Batch evaluation of a spreadsheet: every input row out, in order, with decision columns.

Rows are decided by exactly the code `check` uses (parse_record → decide), so a record gives the
same decision alone or in a batch. Rows go through in chunks; with several workers, chunks are
decided in parallel but written in input order, and only a few chunks are in flight at once, so
memory does not grow with the file. A row that fails validation goes to the error sheet with its
row number, field, value and message, and the batch goes on.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

from engine.decide import decide
from engine.explain import format_decimal
from engine.messages import in_chinese
from engine.records import RecordError, field_for_header, is_blank, parse_record
from engine.render import amount_status, decision_set_json
from engine.ruleset import Ruleset
from engine.tabular import RowTally
from engine.types import UNKNOWN, is_missing

CHUNK = 1000
ERROR_HEADER = ["row", "applicant_id", "field", "value", "message", "message_zh"]  # the message, and in Chinese
ROW_ERROR = ("error", None, "row-error: listed with the errors")  # outcome, amount, reason of a refused row


def unknown_columns(header: list[str], earlier: list[int] = ()) -> list[str]:
    """Headers that name no record field (序号, notes …), and columns with no header at all (a value
    typed one column too far lands there): reported once, kept in OUT, not read. `earlier`: the
    columns of an earlier run's decisions (earlier_decisions), reported on their own."""
    return [h if h else f"column {i} (no header)" for i, h in enumerate(header, start=1)
            if i - 1 not in earlier and (not h or field_for_header(h) is None)]


def earlier_decisions(header: list[str], ruleset: Ruleset) -> list[int]:
    """The columns of IN that are an earlier run's decisions (an OUT read back as IN, to decide it
    again once its refused rows are mended): this run's decisions replace them in OUT, where they
    would otherwise come twice."""
    names = set(decision_header(ruleset))
    return [i for i, h in enumerate(header) if h in names]


@dataclass
class Summary:
    rows: int = 0
    decided: int = 0
    errors: int = 0  # rows with at least one error
    unknown_columns: list[str] = field(default_factory=list)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    # eligible rows with no amount (a fact it needs unknown, or its figure not set): the total leaves them out
    unpriced: dict[str, int] = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)  # files written, for the closing message
    notes: list[str] = field(default_factory=list)  # what the user should know about the input (sheets not read)
    blank_rows: RowTally = field(default_factory=RowTally)  # rows with no data, left out of OUT
    path: str = "per-record"  # how the rows were decided: "column-wise", or why per record

    def add(self, other: "Summary") -> None:
        self.rows += other.rows
        self.decided += other.decided
        self.errors += other.errors
        for programme, counts in other.outcomes.items():
            mine = self.outcomes.setdefault(programme, {})
            for outcome, count in counts.items():
                mine[outcome] = mine.get(outcome, 0) + count
        for programme, amount in other.amounts.items():
            self.amounts[programme] = self.amounts.get(programme, Decimal(0)) + amount
        for programme, count in other.unpriced.items():
            self.unpriced[programme] = self.unpriced.get(programme, 0) + count
        self.blank_rows.merge(other.blank_rows)


@dataclass
class Chunk:
    rows: list[list[Any]]
    errors: list[list[Any]]
    explanations: list[str]
    summary: Summary


class RowDecider:
    """Decides rows of one input layout; built once per worker."""

    def __init__(self, ruleset: Ruleset, header: list[str], default_as_of: date, explain: bool) -> None:
        self.ruleset = ruleset
        self.header = header
        self.default_as_of = default_as_of
        self.explain = explain
        self.columns = [(index, name) for index, name in enumerate(header) if field_for_header(name)]
        self.id_column = next((i for i, name in self.columns if field_for_header(name) == "applicant_id"), None)
        self.programmes = sorted(ruleset.programmes)  # output columns for every programme, stable order
        self.effects = {p: list(ruleset.programmes[p].effect) for p in self.programmes}
        earlier = set(earlier_decisions(header, ruleset))  # replaced by this run's decisions
        self.kept = [i for i in range(len(header)) if i not in earlier] if earlier else None

    def decide_chunk(self, rows: list[tuple[int, list[Any]]]) -> Chunk:
        chunk = Chunk([], [], [], Summary())
        width = len(self.header)
        for number, cells in rows:
            chunk.summary.rows += 1
            record, problems = read_row(self.columns, width, cells, self.default_as_of)
            cells = cells[:width]
            if record is None:
                self.refuse(chunk, number, cells, problems)
                continue
            decisions = decide(self.ruleset, record)
            by_id = {d.programme.id: d for d in decisions.decisions}
            chunk.rows.append(self.input_cells(cells) + self.decision_columns(by_id, chunk.summary))
            chunk.summary.decided += 1
            if self.explain:  # the decision JSON of `check`, with the row it came from
                chunk.explanations.append(_json_line({"row": number, **decision_set_json(decisions)}))
        return chunk

    def refuse(self, chunk: Chunk, number: int, cells: list[Any], problems: list[tuple[Any, Any, str]]) -> None:
        """A row not decided: its problems (field, value, message) to the errors, "error" in its decision
        columns, and with --explain a line saying so (every row is accounted for there too)."""
        chunk.summary.errors += 1
        applicant = cells[self.id_column] if self.id_column is not None else None
        chunk.errors.extend(error_rows(number, applicant, problems))
        chunk.rows.append(self.input_cells(cells) + self.error_columns())
        if self.explain:
            chunk.explanations.append(_json_line({"row": number, "applicant_id": applicant, "errors": [
                {"field": field, "value": None if value is None else str(value), "message": message}
                for field, value, message in problems]}))

    def input_cells(self, cells: list[Any]) -> list[Any]:
        """A row's cells as OUT keeps them: all of them, but an earlier run's decisions."""
        return list(cells) if self.kept is None else [cells[i] for i in self.kept]

    def error_columns(self) -> list[Any]:
        return [cell for p in self.programmes for cell in [*ROW_ERROR, *[None] * len(self.effects[p])]]

    def decision_columns(self, by_id: dict, summary: Summary) -> list[Any]:
        columns: list[Any] = []
        for programme in self.programmes:
            decision = by_id.get(programme)
            if decision is None:  # a programme for the other record type
                columns += [None] * (3 + len(self.effects[programme]))
                continue
            amount = decision.amount.value if decision.amount and isinstance(decision.amount.value, Decimal) else None
            columns += [decision.outcome, amount, reason_code(decision)]
            columns += [effect_cell(decision, name) for name in self.effects[programme]]
            counts = summary.outcomes.setdefault(programme, {})
            counts[decision.outcome] = counts.get(decision.outcome, 0) + 1
            if amount is not None:
                summary.amounts[programme] = summary.amounts.get(programme, Decimal(0)) + amount
            elif decision.outcome == "eligible":
                summary.unpriced[programme] = summary.unpriced.get(programme, 0) + 1
        return columns

    def output_header(self, header: list[str]) -> list[str]:
        return self.input_cells(header) + decision_header(self.ruleset)


def decision_header(ruleset: Ruleset) -> list[str]:
    """OUT's decision columns, per programme in id order: outcome, amount, reason, and a column for
    each of its effects — the result that is not money (residence points, the title one may apply
    for, a carry-forward) — named after it."""
    return [f"{p}.{c}" for p in sorted(ruleset.programmes)
            for c in ("outcome", "amount", "reason", *ruleset.programmes[p].effect)]


def effect_cell(decision, name: str) -> Any:
    """An effect's value as OUT's cell: an enumeration's code, money to the fen (a Decimal, as an
    amount), a whole number as an integer, another number as text without trailing zeros, a date in
    ISO form; empty where the outcome gives no such effect or its value is not known. (Column-wise,
    columnar._effect_cells; a rule whose numbers have a fraction only sometimes would write a whole
    one as text there, as an integer here: no rule has one.)"""
    result = (decision.effect or {}).get(name)
    value = result.value if result is not None else None
    if value is None or is_missing(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if decision.programme.effect[name].money:
            return value.quantize(Decimal("0.01"))
        return int(value) if value == value.to_integral_value() else format_decimal(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):  # a list of members
        return ";".join(member.value for member in value)
    return value.value if hasattr(value, "value") else str(value)  # a LabelledEnum member, or text


def read_row(columns: list[tuple[int, str]], width: int, cells: list[Any],
             default_as_of: date) -> tuple[Any, list[tuple[Any, Any, str]]]:
    """One row's record, or None and its problems (field, value, message): how batch and impact read
    a row. `columns` are the (index, header) of the cells that name fields; `width` the header's."""
    beyond = [c for c in cells[width:] if not is_blank(c)]
    if beyond:  # cells with no header (a stray comma shifts every cell after it): not read as facts
        return None, [(None, ", ".join(str(c) for c in beyond),
                       f"the row has cells past the header's {width} columns, which no field names "
                       "(an unquoted comma, or a column without a header?): the row is not decided")]
    # a blank cell is an absent fact: in a mixed roster the other record type's columns are blank,
    # and must not count as fields given to this record; pairs, as a header may repeat
    data = [(name, cells[index]) for index, name in columns if index < len(cells) and not is_blank(cells[index])]
    try:
        return parse_record(data, default_as_of=default_as_of), []
    except RecordError as error:
        return None, [(p.field, None if p.value is UNKNOWN else p.value, p.message) for p in error.problems]


def error_rows(number: int, applicant: Any, problems: list[tuple[Any, Any, str]]) -> list[list[Any]]:
    """A refused row's problems as rows of the errors sheet (ERROR_HEADER)."""
    return [[number, applicant, field, value, message, in_chinese(message)] for field, value, message in problems]


def _json_line(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def reason_code(decision) -> str:
    """A short, stable code for a spreadsheet cell; the full explanation is in --explain."""
    if decision.outcome == "ineligible":
        failed = [r.condition.id for r in decision.results if r.holds is False]
        return "fail:" + (";".join(failed) if failed else "not-in-force")
    if decision.outcome == "undetermined":
        if decision.missing:
            return "missing:" + ";".join(decision.missing)
        return "unset:" + ";".join(u.name for u in decision.parameters if u.provenance == "unset")
    status = amount_status(decision)
    if status == "not_set":
        return "amount-not-set"
    if status == "unknown":
        return "amount-missing:" + ";".join(decision.missing)
    return "ok"


# ------------------------------------------------------------------------------------- the run

_worker: RowDecider | None = None


def _start_worker(rules_dir: str, header: list[str], default_as_of: date, explain: bool) -> None:
    global _worker
    import signal

    # Ctrl-C and a hang-up reach the whole process group: the parent stops the run and ends the pool,
    # so a worker ignores them (no traceback of its own); the pool ends it with a plain SIGTERM
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # blocked while the pool forked it (decided_chunks): a stop
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _stop_signals())  # that came meanwhile lands here, handled
    from engine.loader import load_rules

    _worker = RowDecider(load_rules(rules_dir), header, default_as_of, explain)


def _stop_signals() -> set:
    import signal

    return {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}


def _decide_in_worker(rows: list[tuple[int, list[Any]]]) -> Chunk:
    return _worker.decide_chunk(rows)


def chunks(rows: Iterator[tuple[int, list[Any]]], size: int = CHUNK) -> Iterator[list[tuple[int, list[Any]]]]:
    batch: list[tuple[int, list[Any]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def decided_chunks(decider: RowDecider, rows, workers: int, rules_dir: Path,
                   header: list[str], default_as_of: date, explain: bool) -> Iterator[Chunk]:
    """Chunks decided in input order; with workers, a bounded number in flight at once."""
    if workers <= 1:
        for batch in chunks(rows):
            yield decider.decide_chunk(batch)
        return
    import multiprocessing
    from collections import deque

    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    # A forked worker starts with the batch's own stop handler, until _start_worker sets its own; a stop
    # (the pool's SIGTERM, when the run ends early) in between printed a worker's traceback. So the stop
    # signals are blocked while the pool forks: the workers start with them blocked (and unblock them
    # once their handling is set), and the parent takes any that came meanwhile once the pool is made.
    import signal

    masked = signal.pthread_sigmask(signal.SIG_BLOCK, _stop_signals()) if hasattr(signal, "pthread_sigmask") else None
    try:
        pool = context.Pool(workers, _start_worker, (str(rules_dir), header, default_as_of, explain))
    finally:
        if masked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, masked)
    with pool:
        pending: deque = deque()
        for batch in chunks(rows):
            pending.append(pool.apply_async(_decide_in_worker, (batch,)))
            if len(pending) >= workers * 3:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _shortened(text: str, limit: int = 40) -> str:
    """A header cell for a message: a long one (a title row, a JSON line) cut, not printed whole."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def run_batch(ruleset: Ruleset, rules_dir: Path, in_path: Path, out_path: Path, default_as_of: date,
              explain_path: Path | None = None, workers: int = 1,
              progress: Callable[[int], None] | None = None, on_start: Callable[[Any], None] | None = None,
              column_wise: bool = True, sheet: str | None = None) -> Summary:
    """Decide every row of IN into OUT. Column-wise (engine.columnbatch) unless --explain is asked for,
    `column_wise` is False, or the file is one the column-wise path leaves to this one."""
    from engine.tabular import Table, TableWriter, finished, temporary_beside

    table = Table(in_path, sheet)
    if on_start:
        on_start(table)
    decider = RowDecider(ruleset, table.header, default_as_of, explain_path is not None)
    where = f"{in_path} (sheet '{table.sheet}')" if table.sheet is not None else str(in_path)
    if not any(field_for_header(n) == "applicant_id" for n in table.header):
        from engine.errors import UserError

        others = f"; the workbook's other sheets: {', '.join(table.other_sheets)} (--sheet NAME reads one)" \
            if table.other_sheets else ""
        raise UserError(f"{where}: no applicant_id (申请编号) column in the first row; its columns are: "
                        f"{', '.join(_shortened(h) for h in table.header)}{others}")
    notes = [f"read sheet '{table.sheet}' only; not read: {', '.join(table.other_sheets)} (--sheet NAME reads another)"] \
        if table.other_sheets else []
    for cells, how in ((getattr(table, "merged_filled", []), "filled down from their first cell, as the sheet shows them"),
                       (getattr(table, "merged_not_filled", []), "across columns, read from their first cell only")):
        if cells:
            notes.append(f"merged cells {how}: {', '.join(cells[:5])}{' …' if len(cells) > 5 else ''}")
    earlier = earlier_decisions(table.header, ruleset)
    if earlier:
        notes.append(f"columns of an earlier run's decisions, replaced in OUT by this run's: {len(earlier)}")
    if explain_path is None and column_wise:
        from engine.columnbatch import Refused, run_column_batch

        try:
            summary = run_column_batch(ruleset, table, out_path, default_as_of, progress)
            summary.path = "column-wise"
            summary.notes = notes
            return summary
        except Refused as why:
            refused = f"per-record ({why})"
    else:
        refused = "per-record" if explain_path is None else "per-record (--explain writes each row's full decision)"
    summary = Summary(unknown_columns=unknown_columns(table.header, earlier), path=refused, notes=notes)
    writer = TableWriter(out_path, decider.output_header(table.header), ERROR_HEADER)
    explain_stream = explain_temp = None
    try:
        if explain_path is not None:
            explain_temp = temporary_beside(explain_path)
            explain_stream = explain_temp.open("w", encoding="utf-8")
        for chunk in decided_chunks(decider, table.rows(), workers, rules_dir, table.header, default_as_of,
                                    explain_path is not None):
            for row in chunk.rows:
                writer.write(row)
            for error in chunk.errors:
                writer.write_error(error)
            for line in chunk.explanations:
                explain_stream.write(line + "\n")
            summary.add(chunk.summary)
            if progress:
                progress(chunk.summary.rows)
        summary.blank_rows.merge(table.blank_rows)
        if explain_stream is not None:
            explain_stream.close()
        writer.commit([(explain_temp, explain_path)] if explain_stream is not None else [])  # all in place, or none
    except BaseException:
        writer.abort()
        if explain_stream is not None:
            if not explain_stream.closed:
                explain_stream.close()
            finished(explain_temp, None)
        raise
    summary.outputs = writer.outputs + ([explain_path] if explain_path else [])
    return summary
