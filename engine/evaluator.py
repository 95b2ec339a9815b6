"""Per-record evaluation with three-valued (Kleene) logic and a trace of what each condition read.

Truth values are True, False and UNKNOWN. `and` is False as soon as one side is False, `or` is True
as soon as one side is True, whatever the other side is; otherwise an UNKNOWN side makes the
result UNKNOWN. An UNSET parameter (no published figure) in a condition is UNKNOWN too, with a note.

This path gives full explanations; the batch path (column-wise) reads the same parsed trees.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from engine.expression import Binary, Call, DefinitionRef, FactRef, ListOf, Literal, Node, ParamRef, Unary
from engine.parameters import ParameterUse
from engine.ruleset import Definition, Programme, Ruleset
from engine.types import UNKNOWN, UNSET, LabelledEnum, is_missing


@dataclass
class Trace:
    """What one condition (or amount) read: base facts, definitions and parameters, in order."""

    facts: dict[str, Any] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)
    parameters: dict[tuple[str, Any], ParameterUse] = field(default_factory=dict)

    def merge(self, other: "Trace") -> None:
        self.facts.update(other.facts)
        self.derived.update(other.derived)
        self.parameters.update(other.parameters)

    def unknown_facts(self) -> list[str]:
        return [name for name, value in self.facts.items() if value is UNKNOWN]


class Evaluation:
    """Evaluates expressions for one record at one date, memoising definitions with their traces."""

    def __init__(self, ruleset: Ruleset, facts: dict[str, Any], as_of: date, record_type: str) -> None:
        self.ruleset = ruleset
        self.facts = facts
        self.as_of = as_of
        self.record_type = record_type
        self.shared = ruleset.definitions[record_type]
        self.local: dict[str, Definition] = {}
        self._memo: dict[str, tuple[Any, Trace]] = {}
        self.trace = Trace()

    def for_programme(self, programme: Programme) -> None:
        """Local definitions differ per programme; their memo entries must not leak across."""
        for name in self.local:
            self._memo.pop(name, None)
        self.local = programme.definitions

    def evaluate(self, node: Node) -> tuple[Any, Trace]:
        saved, self.trace = self.trace, Trace()
        try:
            value = self.value(node)
            return value, self.trace
        finally:
            self.trace = saved

    # -- the interpreter
    def value(self, node: Node) -> Any:
        kind = type(node)
        if kind is Literal:
            return node.value
        if kind is FactRef:
            value = self.facts.get(node.name, UNKNOWN)
            self.trace.facts[node.name] = value
            return value
        if kind is DefinitionRef:
            return self.definition(node.name)
        if kind is ParamRef:
            return self.parameter(node)
        if kind is Binary:
            return self.binary(node)
        if kind is Unary:
            operand = self.value(node.operand)
            if node.op == "not":
                truth = as_truth(operand)
                return UNKNOWN if truth is UNKNOWN else not truth
            return operand if is_missing(operand) else -operand
        if kind is Call:
            return getattr(self, "call_" + node.function)(node.args)
        if kind is ListOf:
            return tuple(self.value(item) for item in node.items)
        raise TypeError(f"unresolved node {node!r}")

    def definition_of(self, name: str) -> Definition:
        """The definition a name means here: the programme's own before the shared ones."""
        return self.local.get(name) or self.shared[name]

    def inline(self, node: Node) -> Node:
        """A definition reference replaced by the definition's own tree (repeatedly)."""
        while isinstance(node, DefinitionRef):
            node = self.definition_of(node.name).tree
        return node

    def definition(self, name: str) -> Any:
        cached = self._memo.get(name)
        if cached is None:
            cached = self.evaluate(self.definition_of(name).tree)
            self._memo[name] = cached
        value, trace = cached
        self.trace.merge(trace)
        self.trace.derived[name] = value
        return value

    def parameter(self, node: ParamRef) -> Any:
        key = None
        if node.key is not None:
            key = self.value(node.key)
            if is_missing(key):
                return key
        use = self.ruleset.parameters[node.name].lookup(self.as_of, key)
        self.trace.parameters[(node.name, key)] = use
        return use.value

    def binary(self, node: Binary) -> Any:
        op = node.op
        if op in ("and", "or"):
            # Both sides are always evaluated: the result is the same Kleene value, and the trace
            # then shows every fact the condition reads, so explanations never say "unknown"
            # for a value that is known. (The column-wise batch path has no trace to fill.)
            decisive = op == "or"  # True decides `or`, False decides `and`
            left = as_truth(self.value(node.left))
            right = as_truth(self.value(node.right))
            if decisive in (left, right):
                return decisive
            return UNKNOWN if UNKNOWN in (left, right) else (not decisive)
        left, right = self.value(node.left), self.value(node.right)
        if is_missing(left) or is_missing(right):
            return missing_of(left, right)
        if op in ("in", "not in"):
            found = left in right
            return found if op == "in" else not found
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            try:
                return left / right
            except (DivisionByZero, InvalidOperation):
                return UNKNOWN  # undefined ratio: the rule cannot decide from these facts
        return compare(op, left, right)

    # -- functions
    def numbers(self, args) -> list[Any]:
        return [self.value(a) for a in args]

    def call_min(self, args):
        values = self.numbers(args)
        return missing_of(*values) if any(map(is_missing, values)) else min(values)

    def call_max(self, args):
        values = self.numbers(args)
        return missing_of(*values) if any(map(is_missing, values)) else max(values)

    def call_years_between(self, args):
        start, end = self.numbers(args)
        return missing_of(start, end) if is_missing(start) or is_missing(end) else whole_months(start, end) // 12

    def call_months_between(self, args):
        start, end = self.numbers(args)
        return missing_of(start, end) if is_missing(start) or is_missing(end) else whole_months(start, end)

    def call_days_between(self, args):
        start, end = self.numbers(args)
        return missing_of(start, end) if is_missing(start) or is_missing(end) else Decimal((end - start).days)

    def call_add_years(self, args):
        when, count = self.numbers(args)
        return missing_of(when, count) if is_missing(when) or is_missing(count) else add_months(when, int(count) * 12)

    def call_add_months(self, args):
        when, count = self.numbers(args)
        return missing_of(when, count) if is_missing(when) or is_missing(count) else add_months(when, int(count))

    def call_add_days(self, args):
        from datetime import timedelta

        when, count = self.numbers(args)
        return missing_of(when, count) if is_missing(when) or is_missing(count) else when + timedelta(days=int(count))

    def call_has(self, args):
        container, item = self.numbers(args)
        return missing_of(container, item) if is_missing(container) or is_missing(item) else item in container

    def call_has_any(self, args):
        container, options = self.numbers(args)
        return UNKNOWN if is_missing(container) else any(option in container for option in options)

    def call_count(self, args):
        (container,) = self.numbers(args)
        return container if is_missing(container) else Decimal(len(container))

    def call_known(self, args):
        return not is_missing(self.value(args[0]))

    def call_if(self, args):
        truth = as_truth(self.value(args[0]))
        if truth is UNKNOWN:
            # When both branches agree the unknown condition does not matter (e.g. two rates that
            # have become equal from some date); otherwise the result is unknown.
            then, otherwise = self.value(args[1]), self.value(args[2])
            return then if not is_missing(then) and then == otherwise else UNKNOWN
        return self.value(args[1] if truth else args[2])


# ------------------------------------------------------------------------------ value helpers


def as_truth(value: Any) -> Any:
    """A value in a yes/no position: True, False or UNKNOWN (an unset figure decides nothing)."""
    if value is True or value is False:
        return value
    return UNKNOWN


def missing_of(*values: Any) -> Any:
    """Unknown facts dominate: once they are learnt, an unset figure may still block the answer."""
    return UNKNOWN if any(v is UNKNOWN for v in values) else UNSET


def compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, LabelledEnum) and op not in ("==", "!="):
        if left.rank is None or right.rank is None:
            return False  # a certificate with no level is not at or above any level
        left, right = left.rank, right.rank
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def whole_months(start: date, end: date) -> Decimal:
    """Whole calendar months from start to end (negative if end is earlier).

    A month is complete on the same day-of-month, or on the last day of a shorter month
    (2020-01-31 → 2020-02-29 is one month), the usual reading of anniversaries.
    """
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) > end:
        months -= 1
    return Decimal(sign * months)


def add_months(when: date, months: int) -> date:
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(when.day, last))
