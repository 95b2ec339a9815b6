"""The rules' own regression suite: applicant cases with expected decisions, in YAML.

A case file (cases/*.yaml) names a default programme and lists cases:

    programme: apprenticeship-training-subsidy
    cases:
      - id: new-hire-intermediate
        as_of: 2020-05-01
        record: {applicant_id: C-1, apprentice_kind: new_hire, ...}
        expect: {outcome: eligible, amount: "6000.00"}
        also:                                   # expectations on other programmes, optional
          skill-to-title-bridging: {outcome: ineligible}

Expectation fields: outcome, amount (decimal or null), amount_status, effect (the keys given),
missing (the exact set of fields), to_qualify (the exact set of fields named), beneficiary.
In the spirit of OpenFisca's YAML tests and the DMN TCK: labelled inputs, expected columns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import Problem, RuleError, UserError
from engine.yamlsource import line_at, load_yaml

DEFAULT_CASES = Path(__file__).resolve().parent.parent / "cases"


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["eligible", "ineligible", "undetermined"] | None = None
    amount: Decimal | None | Literal["any"] = "any"  # "any": not checked; null: no value
    amount_status: Literal["computed", "not_set", "unknown", "none"] | None = None
    effect: dict[str, Any] | None = None
    missing: list[str] | None = None
    to_qualify: list[str] | None = None
    beneficiary: str | None = None


class CaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str | None = None
    note: str | None = None  # why the case exists: the boundary or interpretation it pins
    as_of: date | None = None
    record: dict[str, Any]
    expect: Expectation
    also: dict[str, Expectation] = {}


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    programme: str
    base: dict[str, Any] | None = None  # a shared record, anchored (&name) for cases to merge (<<: *name)
    cases: list[CaseSpec] = Field(min_length=1)


@dataclass
class Case:
    file: str
    line: int
    spec: CaseSpec
    programme: str

    @property
    def name(self) -> str:
        return f"{Path(self.file).stem}::{self.spec.id}"

    def expectations(self) -> dict[str, Expectation]:
        return {self.programme: self.spec.expect, **self.spec.also}


@dataclass
class CaseResult:
    case: Case
    differences: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    # (programme, condition id) → the truth values the case gave it: True, False, None (unknown)
    reached: dict[tuple[str, str], set] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.differences


def case_files(paths: list[Path] | None = None) -> list[Path]:
    """The case files to run: the given files or folders, else cases/*.yaml (examples are records, not cases)."""
    if not paths:
        return sorted(DEFAULT_CASES.glob("*.yaml"))
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.glob("*.yaml")))
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: no such case file or folder")
    return found


def load_cases(paths: list[Path], programme_ids: set[str]) -> list[Case]:
    cases: list[Case] = []
    problems: list[Problem] = []
    for path in paths:
        name = str(path)
        raw = load_yaml(path, name)
        try:
            model = CaseFile.model_validate(raw)
        except ValidationError as error:
            for item in error.errors():
                loc = ".".join(str(p) for p in item["loc"])
                problems.append(Problem(name, line_at(raw, item["loc"]), f"{loc}: {item['msg']}"))
            continue
        seen: set[str] = set()
        for index, spec in enumerate(model.cases):
            line = line_at(raw, ["cases", index]) or 0
            if spec.id in seen:
                problems.append(Problem(name, line, f"case id '{spec.id}' is used twice in this file"))
            seen.add(spec.id)
            case = Case(name, line, spec, model.programme)
            for programme in case.expectations():
                if programme not in programme_ids:
                    problems.append(Problem(name, line, f"case '{spec.id}' expects unknown programme '{programme}'"))
            if spec.as_of is None and "as_of" not in spec.record and "评估日期" not in spec.record:
                problems.append(Problem(name, line, f"case '{spec.id}' needs an as_of date, so it gives the same "
                                        "answer on any day"))
            cases.append(case)
    if problems:
        raise RuleError(problems)
    return cases


def run_case(ruleset, case: Case) -> CaseResult:
    from engine.decide import decide
    from engine.records import RecordError, parse_record
    from engine.render import decision_json

    result = CaseResult(case)
    try:
        record = parse_record(case.spec.record, default_as_of=case.spec.as_of or date(1900, 1, 1))
    except RecordError as error:
        result.differences = [f"record is invalid: {line}" for line in error.lines()]
        return result
    expectations = case.expectations()
    decisions = {d.programme.id: d for d in decide(ruleset, record, list(expectations)).decisions}
    for programme, expected in expectations.items():
        decision = decisions.get(programme)
        if decision is None:
            result.differences.append(f"{programme}: not decided for a {record.record_type} record")
            continue
        result.outcomes[programme] = decision.outcome
        for condition in decision.results:
            holds = condition.holds if condition.holds in (True, False) else None
            result.reached.setdefault((programme, condition.condition.id), set()).add(holds)
        actual = decision_json(decision)
        result.differences += [f"{programme}: {d}" for d in compare(expected, actual)]
    return result


def compare(expected: Expectation, actual: dict[str, Any]) -> list[str]:
    """Readable differences between an expectation and a decision JSON object."""
    differences = []

    def differ(what: str, want: Any, got: Any) -> None:
        differences.append(f"{what} expected {want!r}, got {got!r}")

    if expected.outcome is not None and expected.outcome != actual["outcome"]:
        why = [r["id"] for r in actual["reasons"] if r["holds"] is not True]
        differ("outcome", expected.outcome, actual["outcome"] + (f" (not holding: {', '.join(why)})" if why else ""))
    if expected.amount != "any":
        got = actual["amount"]["value"]
        if not _same_amount(expected.amount, got):
            differ("amount", None if expected.amount is None else str(expected.amount), got)
    if expected.amount_status is not None and expected.amount_status != actual["amount"]["status"]:
        differ("amount status", expected.amount_status, actual["amount"]["status"])
    if expected.effect is not None:
        effect = actual["effect"] or {}
        for key, want in expected.effect.items():
            got = effect.get(key)
            if not _same_value(want, got):
                differ(f"effect.{key}", want, got)
    if expected.missing is not None and set(expected.missing) != set(actual["missing"]):
        differ("missing", sorted(expected.missing), sorted(actual["missing"]))
    if expected.to_qualify is not None:
        fields = {h["field"] or h["condition"] for h in actual["to_qualify"]}
        if set(expected.to_qualify) != fields:
            differ("to_qualify", sorted(expected.to_qualify), sorted(fields))
    if expected.beneficiary is not None and expected.beneficiary != actual["beneficiary"]:
        differ("beneficiary", expected.beneficiary, actual["beneficiary"])
    return differences


def _same_amount(want: Decimal | None, got: str | None) -> bool:
    if want is None or got is None:
        return want is None and got is None
    return Decimal(got) == want


def _same_value(want: Any, got: Any) -> bool:
    if isinstance(want, (int, float, Decimal)) and not isinstance(want, bool) and got is not None:
        try:
            return Decimal(str(want)) == Decimal(str(got))
        except InvalidOperation:
            return False
    return want == got


def summary(results: list[CaseResult]) -> list[tuple[str, int, int, dict[str, int]]]:
    """Per programme: (programme, cases, failures, outcome counts) from the cases' own programme."""
    rows: dict[str, list] = {}
    for result in results:
        row = rows.setdefault(result.case.programme, [0, 0, {}])
        row[0] += 1
        row[1] += 0 if result.passed else 1
        outcome = result.outcomes.get(result.case.programme)
        if outcome:
            row[2][outcome] = row[2].get(outcome, 0) + 1
    return [(programme, n, failed, outcomes) for programme, (n, failed, outcomes) in sorted(rows.items())]


@dataclass
class Coverage:
    """Which truth values the cases gave each condition, and which outcomes each programme reached."""

    conditions: dict[tuple[str, str], set]
    outcomes: dict[str, set[str]]

    def gaps(self) -> list[str]:
        names = {True: "true", False: "false", None: "unknown"}
        found = []
        for (programme, condition), seen in self.conditions.items():
            lacking = [names[v] for v in (True, False, None) if v not in seen]
            if lacking:
                found.append(f"{programme} / {condition}: never {', '.join(lacking)}")
        for programme, seen in self.outcomes.items():
            lacking = sorted({"eligible", "ineligible", "undetermined"} - seen)
            if lacking:
                found.append(f"{programme}: outcome never {', '.join(lacking)}")
        return found


def coverage(ruleset, results: list[CaseResult]) -> Coverage:
    conditions = {(p.id, c.id): set() for p in ruleset.programmes.values() for c in p.eligible_when.conditions()}
    outcomes: dict[str, set[str]] = {p: set() for p in ruleset.programmes}
    for result in results:
        for key, seen in result.reached.items():
            conditions.setdefault(key, set()).update(seen)
        for programme, outcome in result.outcomes.items():
            outcomes[programme].add(outcome)
    return Coverage(conditions, outcomes)
