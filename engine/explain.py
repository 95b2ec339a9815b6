"""Explanations in words: filling condition sentences, and what would make a failed condition hold.

`to_qualify` reads the failed condition's tree. Where it compares a fact with a threshold (also
through whole years since a date), it names the nearest value that satisfies it:
"training_hours 16 → at least 24", "skill_cert_date 2023-05-01 → on or before 2022-11-21".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from engine.expression import Binary, Call, DefinitionRef, FactRef, Node, Unary
from engine.types import UNKNOWN, UNSET, LabelledEnum, is_missing

if TYPE_CHECKING:  # decide imports us; only for annotations
    from engine.ruleset import Group

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_WORDS = {
    ">=": ("至少", "at least"), ">": ("大于", "more than"), "<=": ("至多", "at most"), "<": ("小于", "less than"),
    "==": ("等于", "equal to"), "!=": ("不等于", "other than"),
}


def format_value(value: Any, lang: str = "en") -> str:
    if value is UNKNOWN:
        return "未知" if lang == "zh" else "unknown"
    if value is UNSET:
        return "未设定" if lang == "zh" else "not set"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, LabelledEnum):
        return value.zh if lang == "zh" else value.value
    if isinstance(value, tuple):
        if not value:
            return "无" if lang == "zh" else "none"
        return ("、" if lang == "zh" else ", ").join(format_value(v, lang) for v in value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    return str(value)


def format_decimal(value: Decimal) -> str:
    """Plain notation without exponent or trailing zeros: 24, 0.6, 6000.5."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def render(template: str, values: dict[str, Any], lang: str) -> str:
    """Fill `{name}` placeholders; `{param}` is the first parameter the condition read."""
    return _PLACEHOLDER.sub(lambda m: format_value(values.get(m.group(1), UNKNOWN), lang), template)


def json_value(value: Any) -> Any:
    """A fact or parameter value for the decision JSON: exact, unknown as null."""
    if is_missing(value) or value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, LabelledEnum):
        return value.value
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, Decimal):  # a JSON number whose text is the exact value; text only past a double's digits
        if value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        number = float(value)
        return number if Decimal(repr(number)) == value else format_decimal(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# ------------------------------------------------------------------------------------ to_qualify


@dataclass(frozen=True)
class Hint:
    """One thing that would make a failed condition hold."""

    condition: str
    field: str | None
    value: Any  # the current value
    op: str | None  # the relation the field must have to `needed`: >= <= == in …
    needed: Any
    text: dict[str, str]  # the condition's sentence
    alternative_of: str | None = None  # set when any one of several alternatives would do: this one's id
    way: tuple[int, int] | None = None  # (n, of): the condition can be met in `of` ways; this is way n
    among: str | None = None  # with alternative_of: the id of the any-group it is one alternative of

    def describe(self, lang: str) -> str:
        if self.field is None:
            return self.text[lang]
        from engine.records import field_name

        field = field_name(self.field, lang)
        current = format_value(self.value, lang)
        if self.op == "==" and isinstance(self.needed, (bool, LabelledEnum)):  # "is_mentor no → yes"
            return f"{field} {current} → {format_value(self.needed, lang)}"
        if self.op in _WORDS:
            zh, en = _WORDS[self.op]
            if isinstance(self.needed, date):
                zh, en = {">=": ("不早于", "on or after"), "<=": ("不晚于", "on or before"),
                          ">": ("晚于", "after"), "<": ("早于", "before")}.get(self.op, (zh, en))
            word = zh if lang == "zh" else en
            return f"{field} {current} → {word} {format_value(self.needed, lang)}"
        if self.op in ("in", "not in"):
            options = ", ".join(format_value(v, lang) for v in self.needed)
            word = ("为其中之一：" if lang == "zh" else "one of ") if self.op == "in" else (
                "不为：" if lang == "zh" else "none of ")
            return f"{field} {current} → {word}{options}"
        if self.op in ("has", "has_any"):
            word = {"has": ("包含：", "including "), "has_any": ("包含其一：", "including one of ")}[self.op]
            return f"{field} {current} → " + word[lang != "zh"] + \
                ("、" if lang == "zh" else ", ").join(format_value(v, lang) for v in self.needed)
        return f"{field} {current} → {format_value(self.needed, lang)}"


def hints_for(evaluation, group: "Group", results) -> list[Hint]:
    """Hints for the failed conditions that make the group fail (all of an `all`, each of a failed `any`)."""
    from engine.decide import truth_of

    by_condition = {id(r.condition): r for r in results}
    holds = {key: r.holds for key, r in by_condition.items()}
    met = [r for r in results if r.holds is True]  # a way to meet a failed condition must not undo these
    hints: list[Hint] = []

    def walk(g, alternative: str | None, among: str | None) -> None:
        for item in g.items:
            if truth_of(item, holds) is not False:
                continue
            # an item of an any-group is one alternative (with all it holds); else it keeps its group's
            here = (item.id or "any", g.id or "any") if g.mode == "any" else (alternative, among)
            if hasattr(item, "items"):
                walk(item, *here)
            else:
                hints.extend(hint_list(evaluation, item, by_condition[id(item)], *here, met))

    walk(group, None, None)
    return hints


def hint_list(evaluation, condition, result, alternative: str | None, among: str | None, met: list) -> list[Hint]:
    """One hint per fact that would have to change; the bare sentence when no shape is recognised.
    Where the condition can be met in several ways (`a or b`), each way's hints carry its number
    (n of all the ways, of which the first few are shown). Each way is tried: one that would not meet
    the condition after all (it flips an if()'s guard) is dropped, and one that would undo a
    condition already met (`met`: lower the skill level it asks for, change the apprentice's kind)
    is left out unless every way would."""
    sentence = {lang: render(condition.says.get(lang), sentence_values(result.trace), lang) for lang in ("zh", "en")}
    tried = [(way, _try(evaluation, condition, way, met)) for way in _minimal(_solve(evaluation, condition.tree, True))]
    ways = [way for way, (meets, _) in tried if meets]
    if len(ways) > 1:
        ways = [way for way, (meets, clean) in tried if meets and clean] or ways
    if not ways:
        return [Hint(condition.id, None, None, None, None, sentence, alternative, among=among)]
    return [Hint(condition.id, field, evaluation.facts.get(field, UNKNOWN), op, needed, sentence, alternative,
                 (number, len(ways)) if len(ways) > 1 else None, among)
            for number, way in enumerate(ways[:_SHOWN_WAYS], start=1) for field, op, needed in way]


def _minimal(ways: list[list[tuple[str, str, Any]]]) -> list[list[tuple[str, str, Any]]]:
    """The ways without repeats: a change named twice once, two bounds on one field as the tighter
    one (a level by its rank), and no way that holds every change of another (it asks for more
    than it needs)."""
    def order(value: Any) -> Any:
        return value.rank if isinstance(value, LabelledEnum) else value

    cleaned = []
    for way in ways:
        tightest: dict[tuple, Any] = {}
        for field, op, needed in way:
            key = (field, op) if op in (">=", "<=") else (field, op, needed)
            if key in tightest and op in (">=", "<="):
                needed = (max if op == ">=" else min)(needed, tightest[key], key=order)
            tightest[key] = needed
        cleaned.append([(key[0], key[1], needed) for key, needed in tightest.items()])
    sets = [set(way) for way in cleaned]
    return [way for i, way in enumerate(cleaned)
            if not any(other < sets[i] or (other == sets[i] and j < i) for j, other in enumerate(sets) if j != i)]


_TRIED_EXAMPLES = 8  # value combinations tried for one way (its `in` changes' options)


def _try(evaluation, condition, way: list[tuple[str, str, Any]], met: list) -> tuple[bool, bool]:
    """(meets, clean): whether some example of `way` — its bounds, each option of an `in` — makes
    `condition` hold (decided again with those values), and whether some such example also keeps
    every met condition met. A change with no one value (`!=`, `not in`) cannot be tried: the way
    is taken to meet the condition, and to undo any met condition that reads its field."""
    from itertools import islice, product

    from engine.evaluator import Evaluation, as_truth

    options, vague = {}, set()
    for field, op, needed in way:
        if op in ("==", ">=", "<="):
            options[field] = [needed]
        elif op == "in" and needed:
            options[field] = list(needed)
        elif op in ("has", "has_any"):  # the list as held, with all the members (has) or one of them
            held = evaluation.facts.get(field)
            held = held if isinstance(held, tuple) else ()
            added = [tuple(needed)] if op == "has" else [(member,) for member in needed]
            options[field] = [tuple(dict.fromkeys(held + more)) for more in added]
        else:
            vague.add(field)
    undone_by_vague = any(field in r.trace.facts for r in met for field in vague)
    if not options:
        return True, not undone_by_vague
    meets = False
    for values in islice(product(*options.values()), _TRIED_EXAMPLES):
        changed = dict(zip(options, values))
        trial = Evaluation(evaluation.ruleset, {**evaluation.facts, **changed}, evaluation.as_of, evaluation.record_type)
        trial.local = evaluation.local
        if not vague and as_truth(trial.evaluate(condition.tree)[0]) is not True:
            continue  # this example does not meet the condition after all
        meets = True
        touched = [r for r in met if any(field in r.trace.facts for field in changed)]
        if not undone_by_vague and all(as_truth(trial.evaluate(r.condition.tree)[0]) is True for r in touched):
            return True, True
    return meets, False


def sentence_values(trace) -> dict[str, Any]:
    values = dict(trace.facts)
    values.update(trace.derived)
    for (name, _key), use in trace.parameters.items():
        values.setdefault("param", use.value)
        values.setdefault(name, use.value)
    return values


def _truth(evaluation, node: Node) -> Any:
    return evaluation.evaluate(node)[0]


_SHOWN_WAYS = 4  # more ways than this to meet one condition would bury the reader
_MAX_WAYS = 16  # ways worked out for one condition (an `and` of `or`s multiplies them)


def _solve(evaluation, node: Node, want: bool) -> list[list[tuple[str, str, Any]]]:
    """The ways to give the node the truth value `want`, for simple shapes: each way a list of
    (field, op, value) changes needed together.

    Looks through definitions and through `and`/`or`: to make `a and b` hold, every part that
    does not hold yet must change (a part of no recognised shape adds nothing); to make `a or b`
    hold, any one part will do — each is a way of its own.
    """
    if isinstance(node, DefinitionRef):
        return _solve(evaluation, evaluation.inline(node), want)
    if isinstance(node, FactRef):
        return [[(node.name, "==", want)]]
    if isinstance(node, Unary) and node.op == "not":
        return _solve(evaluation, node.operand, not want)
    if isinstance(node, Call) and node.function == "if":  # a known guard: the branch it chose
        guard = _truth(evaluation, node.args[0])
        return _solve(evaluation, node.args[1] if guard else node.args[2], want) if guard in (True, False) else []
    if isinstance(node, Binary) and node.op in ("and", "or"):
        parts = [p for p in (node.left, node.right) if _truth(evaluation, p) is not want]
        if (node.op == "and") == want:  # every part must reach `want`: one way from each, together
            ways: list[list[tuple[str, str, Any]]] = [[]]
            for part in parts:
                ways = [way + more for way in ways for more in _solve(evaluation, part, want) or [[]]]
            ways = [way for way in ways if way]
        else:  # any one part will do
            ways = [way for part in parts for way in _solve(evaluation, part, want)]
        distinct = list({tuple(way): way for way in ways}.values())
        return distinct[:_MAX_WAYS]
    if isinstance(node, Binary) and node.op in _FLIP:
        op = node.op if want else _negate(node.op)
        node = Binary(node.pos, node.op, evaluation.inline(node.left), evaluation.inline(node.right))
        if isinstance(node.left, FactRef) or _is_years_since(node.left):
            return _threshold(evaluation, node.left, op, node.right)
        if isinstance(node.right, FactRef) or _is_years_since(node.right):
            return _threshold(evaluation, node.right, _FLIP[op], node.left)
    if isinstance(node, Binary) and node.op in ("in", "not in") and isinstance(node.left, FactRef):
        options = evaluation.value(node.right)
        if is_missing(options):
            return []
        positive = (node.op == "in") == want
        return [[(node.left.name, "in" if positive else "not in", tuple(options))]]
    if isinstance(node, Call) and node.function in ("has", "has_any") and want and isinstance(node.args[0], FactRef):
        needed = evaluation.value(node.args[1])
        needed = needed if isinstance(needed, tuple) else (needed,)
        if node.function == "has_any" and len(needed) > 1:  # any one member will do: one change, every member named
            return [[(node.args[0].name, "has_any", needed)]]
        return [[(node.args[0].name, "has", needed)]]
    return []


def _negate(op: str) -> str:
    return {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}[op]


def _is_years_since(node: Node) -> bool:
    return isinstance(node, Call) and node.function in ("years_between", "months_between", "days_between") \
        and isinstance(node.args[0], FactRef)


def _threshold(evaluation, side: Node, op: str, other: Node):
    limit = evaluation.value(other)
    if is_missing(limit):
        return []
    if isinstance(side, FactRef):
        step = _step(evaluation, side.name, limit)
        if step is not None and op in (">", "<"):  # strict bound → the nearest value that passes it
            op, limit = op + "=", limit + step if op == ">" else limit - step
        if isinstance(step, Decimal) and isinstance(limit, Decimal):
            # a computed bound such as 60% of 100,000.01: the nearest value a person can enter that passes
            limit = limit.quantize(step, rounding=ROUND_CEILING if op == ">=" else ROUND_FLOOR)
        return [[(side.name, op, limit)]]
    # elapsed time since a date fact: years_between(cert_date, as_of) >= n  ⇔  cert_date <= as_of − n years
    end = evaluation.value(side.args[1])
    if is_missing(end) or op not in (">=", ">"):
        return []
    from engine.evaluator import add_months

    count = int(limit) + (1 if op == ">" else 0)
    if side.function == "days_between":
        boundary = end - timedelta(days=count)
    else:
        boundary = add_months(end, -count * (12 if side.function == "years_between" else 1))
    return [[(side.args[0].name, "<=", boundary)]]


def _step(evaluation, name: str, limit: Any):
    """Smallest change of a fact: a day for dates, 1 for whole numbers, a fen for money; none for levels."""
    if isinstance(limit, date):
        return timedelta(days=1)
    if isinstance(limit, Decimal):
        from engine.records import FACT_TYPES

        kind = FACT_TYPES[evaluation.record_type].get(name)
        return Decimal(1) if kind is not None and kind.integer else Decimal("0.01")
    return None
