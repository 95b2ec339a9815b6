"""`rules impact`: which applicants a rule change would flip, before it goes live.

Every row of a data file is decided under the base rules and the working rules (the record is
parsed once; only the rules differ). Changes of outcome or amount are grouped by programme and kind
("ineligible → eligible") with counts and the amount difference, and the changed rows are written
with both decisions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.batch import ERROR_HEADER, error_rows, read_row, reason_code
from engine.decide import decide
from engine.records import field_for_header
from engine.ruleset import Ruleset

CHANGED_HEADER = ["row", "applicant_id", "programme", "change", "base.outcome", "base.amount", "base.reason",
                  "work.outcome", "work.amount", "work.reason", "amount_change"]
ABSENT = "absent"  # the programme is not in that rule set


@dataclass
class Group:
    count: int = 0
    amount_change: Decimal = Decimal(0)


@dataclass
class ImpactReport:
    rows: int = 0
    invalid_rows: int = 0
    changed_rows: int = 0
    groups: dict[tuple[str, str], Group] = field(default_factory=dict)  # (programme, kind) → totals

    def lines(self) -> list[str]:
        if not self.groups:
            return ["no applicant changes outcome or amount"]
        out = []
        for (programme, kind), group in sorted(self.groups.items()):
            sign = "+" if group.amount_change >= 0 else "−"
            out.append(f"{programme}: {group.count} {kind}, {sign}{abs(group.amount_change):,.2f} CNY")
        return out


def _amount(decision) -> Decimal | None:
    value = decision.amount.value if decision is not None and decision.amount is not None else None
    return value if isinstance(value, Decimal) else None


def _change_kind(before, after) -> str | None:
    outcome_before = before.outcome if before is not None else ABSENT
    outcome_after = after.outcome if after is not None else ABSENT
    if outcome_before != outcome_after:
        return f"{outcome_before} → {outcome_after}"
    if _amount(before) != _amount(after):
        return f"{outcome_after}, amount changed"
    return None


def impact(base: Ruleset, work: Ruleset, data_path: Path, default_as_of: date,
           changed_path: Path | None = None, at: date | None = None) -> ImpactReport:
    """`at`, when given, is the date every row is assessed on, whatever its own as_of says."""
    from engine.tabular import Table, TableWriter

    table = Table(data_path)
    columns = [(i, name) for i, name in enumerate(table.header) if field_for_header(name)
               and not (at is not None and field_for_header(name) == "as_of")]
    report = ImpactReport()
    writer = TableWriter(changed_path, CHANGED_HEADER, ERROR_HEADER) if changed_path is not None else None
    id_column = next((i for i, name in columns if field_for_header(name) == "applicant_id"), None)
    try:
        for number, cells in table.rows():
            report.rows += 1
            record, problems = read_row(columns, len(table.header), cells, at or default_as_of)  # as batch reads it
            if record is None:
                report.invalid_rows += 1
                if writer is not None:  # as the batch's errors sheet lists them
                    applicant = cells[id_column] if id_column is not None and id_column < len(cells) else None
                    for row in error_rows(number, applicant, problems):
                        writer.write_error(row)
                continue
            before = {d.programme.id: d for d in decide(base, record).decisions}
            after = {d.programme.id: d for d in decide(work, record).decisions}
            changed = False
            for programme in sorted(set(before) | set(after)):
                old, new = before.get(programme), after.get(programme)
                kind = _change_kind(old, new)
                if kind is None:
                    continue
                changed = True
                delta = (_amount(new) or Decimal(0)) - (_amount(old) or Decimal(0))
                group = report.groups.setdefault((programme, kind), Group())
                group.count += 1
                group.amount_change += delta
                if writer is not None:
                    writer.write([number, record.applicant_id, programme, kind, *_cells(old), *_cells(new), delta])
            report.changed_rows += changed
        if writer is not None:
            writer.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return report


def _cells(decision) -> list[Any]:
    if decision is None:
        return [ABSENT, None, None]
    return [decision.outcome, _amount(decision), reason_code(decision)]
