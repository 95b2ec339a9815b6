"""Decide every programme for one applicant record: outcome, amount, effect and the reasons why.

Outcome follows BRIEF §5: a condition that definitely fails makes the programme ineligible even
when other facts are unknown; if none fails but one is unknown, it is undetermined and `missing`
lists the facts that would settle it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Callable

from engine.evaluator import Evaluation, Trace, as_truth
from engine.explain import Hint, hints_for
from engine.parameters import ParameterUse
from engine.records import facts as record_facts
from engine.ruleset import Condition, Group, Programme, Ruleset, Text, ValueRule
from engine.types import UNKNOWN, UNSET, is_missing

ELIGIBLE, INELIGIBLE, UNDETERMINED = "eligible", "ineligible", "undetermined"
CENT = Decimal("0.01")
ROUNDING = {"half_up": ROUND_HALF_UP, "up": ROUND_CEILING, "down": ROUND_FLOOR}


@dataclass
class ConditionResult:
    condition: Condition
    holds: Any  # True | False | UNKNOWN
    trace: Trace
    any_of: str | None = None  # id of the enclosing `any:` group, if the condition is one alternative


@dataclass
class ValueResult:
    value: Any  # Decimal / enum / bool, or UNKNOWN / UNSET, or None when no case applies
    trace: Trace
    says: Text | None


@dataclass
class Decision:
    programme: Programme
    outcome: str
    results: list[ConditionResult]
    missing: list[str]
    hints: Callable[[], list[Hint]] | list[Hint]  # computed on first use: batch reason codes never need them
    amount: ValueResult | None
    effect: dict[str, ValueResult] | None
    beneficiary: str
    parameters: list[ParameterUse]
    notes: list[Text] = field(default_factory=list)
    in_force: bool = True

    @property
    def to_qualify(self) -> list[Hint]:
        if callable(self.hints):
            self.hints = self.hints()
        return self.hints


@dataclass
class DecisionSet:
    applicant_id: str
    as_of: date
    record_type: str
    ruleset: Ruleset
    decisions: list[Decision]


def decide(ruleset: Ruleset, record: Any, only: list[str] | None = None) -> DecisionSet:
    """Decide every programme of the record's type (or just `only`) at the record's as_of date."""
    facts = record_facts(record)
    evaluation = Evaluation(ruleset, facts, record.as_of, record.record_type)
    programmes = [p for p in ruleset.programmes_for(record.record_type) if only is None or p.id in only]
    decisions = [decide_programme(evaluation, programme) for programme in programmes]
    return DecisionSet(record.applicant_id, record.as_of, record.record_type, ruleset, decisions)


def decide_programme(evaluation: Evaluation, programme: Programme) -> Decision:
    evaluation.for_programme(programme)
    if not programme.in_force(evaluation.as_of):
        # Outside its period a programme decides nothing: its parameters may not even exist yet.
        return _not_in_force(programme, evaluation.as_of)
    results: list[ConditionResult] = []
    holds = _group(evaluation, programme.eligible_when, results, None)
    notes = list(programme.interpretations)
    notes += [r.condition.interpretation for r in results if r.condition.interpretation]
    notes += [d.interpretation for d in _definitions_read(evaluation, results) if d.interpretation]
    outcome = ELIGIBLE if holds is True else INELIGIBLE if holds is False else UNDETERMINED
    missing = _missing(programme.eligible_when, results) if outcome == UNDETERMINED else []
    hints = _deferred_hints(evaluation, programme, results) if outcome == INELIGIBLE else []

    amount = effect = None
    if outcome == ELIGIBLE and programme.amount is not None:
        amount = _value(evaluation, programme.amount)
    given = {name: rule for name, rule in programme.effect.items() if outcome in rule.for_outcomes}
    if given:
        effect = {name: _unset_if_no_fact_missing(_value(evaluation, rule)) for name, rule in given.items()}
    if outcome == ELIGIBLE:
        for produced in [amount, *(effect or {}).values()]:
            if produced is not None and produced.value is UNKNOWN:
                missing += [f for f in produced.trace.unknown_facts() if f not in missing]

    traces = [r.trace for r in results] + [v.trace for v in [amount, *(effect or {}).values()] if v is not None]
    parameters = list({key: use for t in traces for key, use in t.parameters.items()}.values())
    notes += [_unset_note(use) for use in parameters if use.value is UNSET]
    beneficiary = programme.beneficiary
    if programme.beneficiary_from is not None:
        chosen = evaluation.facts.get(programme.beneficiary_from, UNKNOWN)
        beneficiary = programme.beneficiary if is_missing(chosen) else str(chosen)
    return Decision(programme, outcome, results, missing, hints, amount, effect, beneficiary, parameters,
                    _unique(notes))


def _deferred_hints(evaluation: Evaluation, programme: Programme,
                    results: list[ConditionResult]) -> Callable[[], list[Hint]]:
    def hints() -> list[Hint]:
        evaluation.for_programme(programme)  # the hint solver reads this programme's own definitions
        return hints_for(evaluation, programme.eligible_when, results)
    return hints


def _group(evaluation: Evaluation, group: Group, results: list[ConditionResult], any_of: str | None) -> Any:
    """Kleene all/any over the group. Every condition is evaluated so the explanation shows all of them."""
    values = []
    for item in group.items:
        if isinstance(item, Group):
            values.append(_group(evaluation, item, results, item.id if item.mode == "any" else any_of))
        else:
            value, trace = evaluation.evaluate(item.tree)
            truth = as_truth(value)
            results.append(ConditionResult(item, truth, trace, group.id if group.mode == "any" else any_of))
            values.append(truth)
    return combine(group.mode, values)


def combine(mode: str, values: list) -> Any:
    """Kleene `all` (False decides) or `any` (True decides); otherwise UNKNOWN if any value is."""
    decisive = mode == "any"
    if decisive in values:
        return decisive
    return UNKNOWN if UNKNOWN in values else not decisive


def truth_of(item: Condition | Group, holds: dict[int, Any]) -> Any:
    """A condition's or group's truth from the per-condition results (keyed by id(condition))."""
    if isinstance(item, Group):
        return combine(item.mode, [truth_of(child, holds) for child in item.items])
    return holds[id(item)]


def _missing(group: Group, results: list[ConditionResult]) -> list[str]:
    """Unknown facts of the conditions that leave the outcome open, in rule order, once each."""
    by_condition = {id(r.condition): r for r in results}
    holds = {key: r.holds for key, r in by_condition.items()}
    found: list[str] = []

    def collect(g: Group) -> None:
        for item in g.items:
            if truth_of(item, holds) is not UNKNOWN:
                continue  # a settled branch needs nothing more
            if isinstance(item, Group):
                collect(item)
            else:
                found.extend(f for f in by_condition[id(item)].trace.unknown_facts() if f not in found)

    collect(group)
    return found


def _definitions_read(evaluation: Evaluation, results: list[ConditionResult]) -> list:
    """The definitions the conditions read, so their interpretations are said with the decision."""
    names = dict.fromkeys(name for r in results for name in r.trace.derived)
    return [evaluation.definition_of(n) for n in names]


def _value(evaluation: Evaluation, rule: ValueRule) -> ValueResult:
    """First case whose condition holds; an unknown condition before any match leaves the value unknown."""
    trace = Trace()
    for case in rule.cases + ([rule.otherwise] if rule.otherwise else []):
        if case.when is not None:
            truth, when_trace = evaluation.evaluate(case.when)
            trace.merge(when_trace)
            truth = as_truth(truth)
            if truth is UNKNOWN:  # not this case's sentence: which case applies is what is unknown
                return ValueResult(UNKNOWN, trace, rule.says or PENDING)
            if truth is False:
                continue
        value, value_trace = evaluation.evaluate(case.value)
        trace.merge(value_trace)
        if rule.money and isinstance(value, Decimal):
            value = value.quantize(CENT, rounding=ROUNDING[rule.rounding])
        return ValueResult(value, trace, case.says or rule.says)
    return ValueResult(None, trace, rule.says)


PENDING = Text("待定：取决于尚不知道的信息", "pending: depends on facts not yet known")


def _unset_if_no_fact_missing(result: ValueResult) -> ValueResult:
    """An effect unknown only because a figure it reads is unset is not set, not unknown: no fact
    the applicant could give would settle it. (Effects only: an amount's status is in the batch's
    reason codes, which the column-wise path reproduces as they are.)"""
    if result.value is UNKNOWN and not result.trace.unknown_facts() and any(
            use.value is UNSET for use in result.trace.parameters.values()):
        return ValueResult(UNSET, result.trace, result.says)
    return result


def _not_in_force(programme: Programme, as_of: date) -> Decision:
    """Ineligible on this date, saying the programme's period and the date it would need."""
    until = f"–{programme.valid_to}" if programme.valid_to else " onwards"
    until_zh = f"至{programme.valid_to}" if programme.valid_to else "起"
    note = Text(f"评估日期{as_of}不在本项目有效期内（{programme.valid_from}{until_zh}）",
                f"the assessment date {as_of} is outside the programme's period ({programme.valid_from}{until})")
    early = as_of < programme.valid_from
    needed = programme.valid_from if early else programme.valid_to
    hint = Hint("in-force", "as_of", as_of, ">=" if early else "<=", needed, note.as_dict())
    return Decision(programme, INELIGIBLE, [], [], [hint], None, None, programme.beneficiary, [],
                    [note], in_force=False)


def _unset_note(use: ParameterUse) -> Text:
    key = f"（{use.key.zh}）" if use.key is not None else ""
    key_en = f" ({use.key.value})" if use.key is not None else ""
    return Text(f"参数 {use.name}{key} 在 {use.valid_from} 起无公开数值（unset），不作推定：{use.source}",
                f"parameter {use.name}{key_en} has no published figure from {use.valid_from} (unset); "
                f"none is assumed: {use.source}")


def _unique(notes: list[Text]) -> list[Text]:
    return list(dict.fromkeys(notes))
