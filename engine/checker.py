"""Name resolution and type checking of parsed expressions, done once when rules load.

A bare name is a fact of the record type, a definition, or — where the other side of a comparison,
a list or a parameter key says which enumeration is expected — a value of that enumeration
(``skill_level >= senior``). Anything else is an error naming the name and what was in scope.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from engine.errors import ExpressionError
from engine.expression import (
    ARITHMETIC,
    COMPARISONS,
    Binary,
    Call,
    DefinitionRef,
    FactRef,
    ListOf,
    Literal,
    Name,
    Node,
    ParamRef,
    Unary,
)
from engine.types import BOOL, DATE, INTEGER, NUMBER, TEXT, FactType, LabelledEnum, enum_type


@dataclass(frozen=True)
class ParameterSignature:
    type: FactType
    keyed_by: type[LabelledEnum] | None


@dataclass
class Scope:
    """What an expression may name: the record's facts, definitions and parameters."""

    facts: dict[str, FactType]
    definitions: dict[str, FactType] = field(default_factory=dict)
    parameters: dict[str, ParameterSignature] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)  # defined, but refused for problems of their own


# Function name → (min args, max args); max None = any number.
FUNCTIONS = {
    "min": (1, None),
    "max": (1, None),
    "years_between": (2, 2),
    "months_between": (2, 2),
    "days_between": (2, 2),
    "add_years": (2, 2),
    "add_months": (2, 2),
    "add_days": (2, 2),
    "has": (2, 2),
    "has_any": (2, 2),
    "count": (1, 1),
    "known": (1, 1),
    "if": (3, 3),
    "param": (1, 2),
}


class Checker:
    def __init__(self, scope: Scope, text: str) -> None:
        self.scope = scope
        self.text = text

    def fail(self, message: str, node: Node) -> None:
        raise ExpressionError(message, self.text, node.pos)

    # -- entry
    def check(self, node: Node, expected: FactType | None = None) -> tuple[Node, FactType]:
        method = getattr(self, "check_" + type(node).__name__)
        return method(node, expected)

    def expect(self, node: Node, wanted: FactType, what: str) -> Node:
        resolved, actual = self.check(node, wanted)
        if not compatible(actual, wanted):
            self.fail(f"{what} must be {wanted.describe()}, not {actual.describe()}", node)
        return resolved

    # -- leaves
    def check_Literal(self, node: Literal, expected: FactType | None):
        value = node.value
        if isinstance(value, bool):
            return node, BOOL
        if isinstance(value, Decimal):
            return node, INTEGER if value == value.to_integral_value() else NUMBER
        if isinstance(value, date):
            return node, DATE
        if expected is not None and expected.enum is not None:  # a quoted enum value: 'senior'
            return self.enum_literal(node, value, expected.enum), enum_type(expected.enum)
        return node, TEXT

    def check_Name(self, node: Name, expected: FactType | None):
        name = node.name
        if name in self.scope.facts:
            return FactRef(node.pos, name), self.scope.facts[name]
        if name in self.scope.definitions:
            return DefinitionRef(node.pos, name), self.scope.definitions[name]
        if expected is not None and expected.enum is not None:
            return self.enum_literal(node, name, expected.enum), enum_type(expected.enum)
        if name in self.scope.broken:
            self.fail(f"'{name}' cannot be used until the problems in its definition are fixed", node)
        known = list(self.scope.facts) + list(self.scope.definitions)
        hint = difflib.get_close_matches(name, known, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        self.fail(f"unknown name '{name}' (not a fact of this record type or a definition){suggestion}", node)

    def enum_literal(self, node: Node, text: str, enum: type[LabelledEnum]) -> Literal:
        try:
            return Literal(node.pos, enum.parse(text))
        except ValueError:
            self.fail(f"'{text}' is not a fact, a definition or a value of {enum.__name__} "
                      f"({', '.join(m.value for m in enum)})", node)

    def check_ListOf(self, node: ListOf, expected: FactType | None):
        item_type = FactType("enum", expected.enum) if expected and expected.enum else None
        items = []
        for item in node.items:
            resolved, actual = self.check(item, item_type)
            if item_type is None:
                item_type = actual
            elif not compatible(actual, item_type):
                self.fail(f"list items must all be {item_type.describe()}", item)
            items.append(resolved)
        if item_type is None:
            self.fail("an empty list compares with nothing", node)
        # A list of enum values has the same type as a list fact; other literal lists only serve `in`.
        kind = FactType("list", item_type.enum) if item_type.kind == "enum" else FactType("valuelist")
        return ListOf(node.pos, tuple(items)), kind

    # -- operators
    def check_Unary(self, node: Unary, expected: FactType | None):
        if node.op == "not":
            return Unary(node.pos, "not", self.expect(node.operand, BOOL, "the operand of 'not'")), BOOL
        operand, actual = self.check(node.operand, NUMBER)
        if actual.kind != "number":
            self.fail(f"'-' needs a number, not {actual.describe()}", node)
        return Unary(node.pos, "-", operand), actual

    def check_Binary(self, node: Binary, expected: FactType | None):
        op = node.op
        if op in ("and", "or"):
            left = self.expect(node.left, BOOL, f"the left side of '{op}'")
            right = self.expect(node.right, BOOL, f"the right side of '{op}'")
            return Binary(node.pos, op, left, right), BOOL
        if op in ARITHMETIC:
            left, lt = self.check(node.left, NUMBER)
            right, rt = self.check(node.right, NUMBER)
            for side, t in ((node.left, lt), (node.right, rt)):
                if t.kind != "number":
                    self.fail(f"'{op}' needs numbers, not {t.describe()} (use years_between/add_days for dates)", side)
            integer = lt.integer and rt.integer and op != "/"
            return Binary(node.pos, op, left, right), INTEGER if integer else NUMBER
        if op in ("in", "not in"):
            return self.check_membership(node)
        if op in COMPARISONS:
            return self.check_comparison(node)
        self.fail(f"unknown operator {op!r}", node)

    def resolve_pair(self, left: Node, right: Node) -> tuple[Node, FactType, Node, FactType]:
        """Check both sides, resolving a bare enum value on one side from the other side's type."""
        if isinstance(left, (Name, Literal)) and not self.is_bound(left):
            r, rt = self.check(right)
            l, lt = self.check(left, rt)
        else:
            l, lt = self.check(left)
            r, rt = self.check(right, lt)
        return l, lt, r, rt

    def is_bound(self, node: Node) -> bool:
        if isinstance(node, Name):
            return node.name in self.scope.facts or node.name in self.scope.definitions
        return not isinstance(node.value, str)  # a quoted string takes its type from the other side

    def check_comparison(self, node: Binary):
        left, lt, right, rt = self.resolve_pair(node.left, node.right)
        if not (compatible(lt, rt) or compatible(rt, lt)):
            self.fail(f"cannot compare {lt.describe()} with {rt.describe()}", node)
        if node.op not in ("==", "!=") and lt.kind not in ("number", "date"):
            if not (lt.kind == "enum" and any(m.rank is not None for m in lt.enum)):
                self.fail(f"'{node.op}' needs numbers, dates or ranked values such as skill levels, "
                          f"not {lt.describe()}", node)
        if lt.kind == "list":
            self.fail("compare lists with has(list, value) or has_any(list, [values])", node)
        return Binary(node.pos, node.op, left, right), BOOL

    def check_membership(self, node: Binary):
        if isinstance(node.right, ListOf):
            item, item_type = self.check(node.left)
            if isinstance(node.left, Name) and not self.is_bound(node.left):
                self.fail(f"unknown name '{node.left.name}'", node.left)
            container, container_type = self.check(node.right, item_type)
            ok = (container_type.kind == "list" and item_type.kind == "enum" and container_type.enum is item_type.enum) \
                or (container_type.kind == "valuelist" and item_type.kind in ("number", "text", "date"))
            if not ok:
                self.fail(f"cannot look for {item_type.describe()} in this list", node)
            return Binary(node.pos, node.op, item, container), BOOL
        container, container_type = self.check(node.right)
        if container_type.kind != "list":
            self.fail(f"'in' needs a list on the right, not {container_type.describe()}", node.right)
        item = self.expect(node.left, FactType("enum", container_type.enum), "the value looked for")
        return Binary(node.pos, node.op, item, container), BOOL

    # -- functions
    def check_Call(self, node: Call, expected: FactType | None):
        name = node.function
        if name not in FUNCTIONS:
            hint = difflib.get_close_matches(name, FUNCTIONS, n=1)
            self.fail(f"unknown function '{name}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
                      + f" (functions: {', '.join(FUNCTIONS)})", node)
        low, high = FUNCTIONS[name]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            count = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
            self.fail(f"{name}() takes {count} argument(s), got {len(node.args)}", node)
        return getattr(self, "call_" + name)(node, expected)

    def numbers(self, node: Call) -> tuple[tuple[Node, ...], FactType]:
        args, integer = [], True
        for arg in node.args:
            resolved, t = self.check(arg, NUMBER)
            if t.kind != "number":
                self.fail(f"{node.function}() needs numbers, not {t.describe()}", arg)
            integer = integer and t.integer
            args.append(resolved)
        return tuple(args), INTEGER if integer else NUMBER

    def call_min(self, node, expected):
        args, t = self.numbers(node)
        return Call(node.pos, node.function, args), t

    call_max = call_min

    def call_years_between(self, node, expected):
        args = tuple(self.expect(a, DATE, f"each argument of {node.function}()") for a in node.args)
        return Call(node.pos, node.function, args), INTEGER

    call_months_between = call_days_between = call_years_between

    def call_add_years(self, node, expected):
        when = self.expect(node.args[0], DATE, f"the first argument of {node.function}()")
        count = self.expect(node.args[1], INTEGER, f"the second argument of {node.function}()")
        return Call(node.pos, node.function, (when, count)), DATE

    call_add_months = call_add_days = call_add_years

    def list_arg(self, node: Node, function: str) -> tuple[Node, FactType]:
        resolved, t = self.check(node)
        if t.kind != "list":
            self.fail(f"the first argument of {function}() must be a list fact, not {t.describe()}", node)
        return resolved, t

    def call_has(self, node, expected):
        container, t = self.list_arg(node.args[0], "has")
        item = self.expect(node.args[1], FactType("enum", t.enum), "the value looked for")
        return Call(node.pos, "has", (container, item)), BOOL

    def call_has_any(self, node, expected):
        container, t = self.list_arg(node.args[0], "has_any")
        if not isinstance(node.args[1], ListOf):
            self.fail("the second argument of has_any() must be a list of values in [ ]", node.args[1])
        options = self.expect(node.args[1], t, "the values looked for")
        return Call(node.pos, "has_any", (container, options)), BOOL

    def call_count(self, node, expected):
        container, _ = self.list_arg(node.args[0], "count")
        return Call(node.pos, "count", (container,)), INTEGER

    def call_known(self, node, expected):
        arg, _ = self.check(node.args[0])
        if not isinstance(arg, (FactRef, DefinitionRef)):
            self.fail("known() takes a fact or definition name", node.args[0])
        return Call(node.pos, "known", (arg,)), BOOL

    def call_if(self, node, expected):
        condition = self.expect(node.args[0], BOOL, "the condition of if()")
        then, tt = self.check(node.args[1], expected)
        otherwise = self.expect(node.args[2], tt, "the else-branch of if()")
        return Call(node.pos, "if", (condition, then, otherwise)), tt

    def call_param(self, node, expected):
        target = node.args[0]
        if not isinstance(target, Name):
            self.fail("param() takes a parameter name first, such as param(apprenticeship.min_contract_months)", target)
        signature = self.scope.parameters.get(target.name)
        if signature is None and target.name in self.scope.broken:
            self.fail(f"parameter '{target.name}' cannot be used until the problems in its file are fixed", target)
        if signature is None:
            hint = difflib.get_close_matches(target.name, self.scope.parameters, n=1)
            self.fail(f"unknown parameter '{target.name}'" + (f"; did you mean '{hint[0]}'?" if hint else ""), target)
        key = None
        if signature.keyed_by is not None:
            if len(node.args) != 2:
                example = next((n for n, t in self.scope.facts.items()
                                if t.kind == "enum" and t.enum is signature.keyed_by),
                               next(iter(signature.keyed_by)).value)
                self.fail(f"parameter '{target.name}' is a table by {signature.keyed_by.__name__}: "
                          f"give the key, as in param({target.name}, {example})", node)
            key = self.expect(node.args[1], enum_type(signature.keyed_by), f"the key of '{target.name}'")
        elif len(node.args) == 2:
            self.fail(f"parameter '{target.name}' is a single value; it takes no key", node.args[1])
        return ParamRef(node.pos, target.name, key), signature.type


def compatible(actual: FactType, wanted: FactType) -> bool:
    if actual.kind != wanted.kind:
        return False
    if actual.kind in ("enum", "list"):
        return wanted.enum is None or actual.enum is wanted.enum
    if actual.kind == "number" and wanted.integer:
        return actual.integer
    return True


def check_expression(tree: Node, scope: Scope, text: str, expected: FactType | None = None) -> tuple[Node, FactType]:
    """Resolve and type-check a parsed tree; raises ExpressionError naming the column."""
    checker = Checker(scope, text)
    if expected is not None:
        return checker.expect(tree, expected, "the expression"), expected
    return checker.check(tree)
