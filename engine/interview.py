"""Interview mode: ask only for facts that can still change an undetermined outcome, most decisive first.

A fact is worth asking when some value of it settles at least one undetermined programme. That is
checked, not assumed: the fact is tried at probe values — every value of a yes/no or enumerated
fact, and for numbers and dates the thresholds the rules compare it with (and either side of
them). The fact that settles the most programmes is asked first. A fact answered "don't know" is
not asked again. When no single answer settles anything but facts are still missing, those are
asked too (`jointly`): two answers together can settle what neither does alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable

from engine.decide import UNDETERMINED, decide
from engine.evaluator import Evaluation, add_months
from engine.expression import COMPARISONS, Binary, Call, FactRef, Node, children
from engine.records import FACT_TYPES, RecordError, parse_record
from engine.ruleset import Programme, Ruleset
from engine.types import FactType, is_missing

BIG = Decimal("1000000000")


@dataclass(frozen=True)
class Question:
    field: str
    type: FactType
    settles: tuple[str, ...]  # programmes some answer would decide (jointly: that wait for this fact)
    jointly: bool = False  # no answer alone settles one: with other answers it may


def next_questions(ruleset: Ruleset, data: dict[str, Any], default_as_of: date,
                   skipped: Iterable[str] = (), only: list[str] | None = None) -> list[Question]:
    """Askable facts, most decisive first; empty when no answer could change any outcome."""
    decisions = decide(ruleset, parse_record(data, default_as_of=default_as_of), only)
    open_ids = [d.programme.id for d in decisions.decisions if d.outcome == UNDETERMINED]
    if not open_ids:
        return []
    record_type = decisions.record_type
    candidates: list[str] = []
    for decision in decisions.decisions:
        if decision.outcome == UNDETERMINED:
            candidates += [f for f in decision.missing if f not in candidates and f not in skipped]
    record = parse_record(data, default_as_of=default_as_of)
    programmes = [ruleset.programmes[p] for p in open_ids]
    questions = []
    for field in candidates:
        kind = FACT_TYPES[record_type][field]
        settled: set[str] = set()
        for value in probe_values(ruleset, programmes, record, field, kind):
            try:
                trial = parse_record({**data, field: value}, default_as_of=default_as_of)
            except RecordError:
                continue  # not a value the record contract accepts for this field (a ratio above 1)
            for decision in decide(ruleset, trial, [p for p in open_ids if p not in settled]).decisions:
                if decision.outcome != UNDETERMINED:
                    settled.add(decision.programme.id)
            if len(settled) == len(open_ids):
                break
        if settled:
            questions.append(Question(field, kind, tuple(p for p in open_ids if p in settled)))
    order = {field: index for index, field in enumerate(candidates)}
    if not questions:  # no one answer settles a programme; answers together still may
        return [Question(field, FACT_TYPES[record_type][field],
                         tuple(d.programme.id for d in decisions.decisions
                               if d.outcome == UNDETERMINED and field in d.missing), jointly=True)
                for field in candidates]
    return sorted(questions, key=lambda q: (-len(q.settles), order[q.field]))


def probe_values(ruleset: Ruleset, programmes: list[Programme], record, field: str, kind: FactType) -> list[Any]:
    if kind.kind == "bool":
        return [True, False]
    if kind.kind == "enum":
        return list(kind.enum)
    if kind.kind == "list":
        return [()] + [(member,) for member in kind.enum]
    thresholds = _thresholds(ruleset, programmes, record, field)
    if kind.kind == "date":
        probes = {record.as_of, record.as_of + timedelta(days=1)}
        for limit in thresholds:
            probes |= {limit - timedelta(days=1), limit, limit + timedelta(days=1)}
        return sorted(probes)
    step = Decimal(1) if kind.integer else Decimal("0.01")
    probes = {Decimal(0), BIG}
    for limit in thresholds:
        probes |= {v for v in (limit - step, limit, limit + step) if v >= 0}
    return sorted(probes)


def _thresholds(ruleset: Ruleset, programmes: list[Programme], record, field: str) -> set[Any]:
    """Values the rules compare `field` with (for dates: the day a years_between test flips)."""
    from engine.records import facts

    found: set[Any] = set()
    evaluation = Evaluation(ruleset, facts(record), record.as_of, record.record_type)

    def side_value(node: Node) -> Any:
        value, _ = evaluation.evaluate(node)
        return None if is_missing(value) else value

    def walk(node: Node) -> None:
        node = evaluation.inline(node)
        if isinstance(node, Binary) and node.op in COMPARISONS:
            for mine, other in ((evaluation.inline(node.left), node.right),
                                (evaluation.inline(node.right), node.left)):
                if isinstance(mine, FactRef) and mine.name == field:
                    value = side_value(other)
                    if isinstance(value, (Decimal, date)):
                        found.add(value)
                elif isinstance(mine, Call) and mine.function in ("years_between", "months_between") \
                        and isinstance(mine.args[0], FactRef) and mine.args[0].name == field:
                    count, end = side_value(other), side_value(mine.args[1])
                    if isinstance(count, Decimal) and isinstance(end, date):
                        months = int(count) * (12 if mine.function == "years_between" else 1)
                        found.add(add_months(end, -months))
        for child in children(node):
            walk(child)

    for programme in programmes:
        evaluation.for_programme(programme)
        for tree in programme.expressions():
            walk(tree)
    return found


# ------------------------------------------------------------------------------ asking at a terminal


def check_answer(data: dict[str, Any], field: str, answer: str, default_as_of: date, lang: str = "en") -> Any:
    """The parsed value of an answer, or ValueError with the record contract's own message, in `lang`
    (naming the field and the answer, as check names them)."""
    try:
        record = parse_record({**data, field: answer}, default_as_of=default_as_of)
    except RecordError as error:
        mine = [p for p in error.problems if p.field == field] or error.problems
        raise ValueError("; ".join(p.describe(lang) for p in mine)) from None
    value = getattr(record, field)
    if value is None:
        raise ValueError("需要回答（不知道请输入 ?）" if lang == "zh" else "an answer is needed (or ? for don't know)")
    return value


def run(ruleset: Ruleset, data: dict[str, Any], default_as_of: date, lang: str,
        ask: Callable[[str], str], say: Callable[[str], None], only: list[str] | None = None) -> dict[str, Any]:
    """Ask until no answer can change an outcome; returns the completed record data."""
    from engine.records import FIELD_LABELS_ZH

    data = dict(data)
    skipped: set[str] = set()
    while True:
        questions = next_questions(ruleset, data, default_as_of, skipped, only)
        if not questions:
            return data
        question = questions[0]
        titles = ", ".join(ruleset.programmes[p].title.get(lang) for p in question.settles)
        label = f"{FIELD_LABELS_ZH.get(question.field, question.field)}（{question.field}）" if lang == "zh" \
            else question.field
        if question.jointly:
            say(("\n与其他回答一起可确定：" if lang == "zh" else "\nwith other answers, may settle: ") + titles)
        else:
            say(("\n可确定：" if lang == "zh" else "\nwould settle: ") + titles)
        options = _options(question.type, lang)
        if options:
            say(options)
        while True:
            answer = ask(f"{label}{_hint(question.type, lang)}").strip()
            if answer in ("?", "？", ""):
                skipped.add(question.field)
                break
            if question.type.enum is not None:
                answer = _by_number(answer, question.type)
            try:
                check_answer(data, question.field, answer, default_as_of, lang)
            except ValueError as error:
                say("  ✗ " + str(error))
                continue
            data[question.field] = answer
            break


_LEVELS = ("SkillLevel", "TrainingCertLevel")  # these take national numbers (3 = 三级), so no option numbers


def _options(kind: FactType, lang: str) -> str:
    if kind.enum is None:
        return ""
    if kind.enum.__name__ in _LEVELS:
        return "  " + "  ".join(f"{m.zh}/{m.value}" for m in kind.enum)
    return "  " + "  ".join(f"{i}) {m.zh} {m.value}" for i, m in enumerate(kind.enum, 1))


def _by_number(answer: str, kind: FactType) -> str:
    """Enumerations may be answered by their option numbers ("2", or "1,3" for a list)."""
    if kind.enum.__name__ in _LEVELS:
        return answer
    members = list(kind.enum)
    parts = [p.strip() for p in answer.replace("，", ",").split(",")]
    if parts and all(p.isdigit() and 1 <= int(p) <= len(members) for p in parts):
        return ",".join(members[int(p) - 1].value for p in parts)
    return answer


def _hint(kind: FactType, lang: str) -> str:
    zh = {"bool": "（是/否）", "date": "（YYYY-MM-DD）", "list": "（序号或名称，逗号分隔；无＝none）", "enum": "（序号或名称）",
          "number": "（数字）"}
    en = {"bool": " (yes/no)", "date": " (YYYY-MM-DD)", "list": " (numbers or names, comma-separated; none)",
          "enum": " (number or name)", "number": " (number)"}
    text = (zh if lang == "zh" else en).get(kind.kind, "")
    return text + (" ? 不知道" if lang == "zh" else " ? = don't know")
