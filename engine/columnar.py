"""Column-wise evaluation: the parsed rules compiled into polars expressions that decide a whole table.

The per-record evaluator (engine.evaluator, engine.decide) gives full explanations; this module gives
the batch columns — `<programme>.outcome`, `.amount`, `.reason` — for a million rows at a time, from
the *same* parsed, type-checked trees. Nothing here re-reads rule text: every node type of
engine.expression is translated by `_Compiler`, and anything it cannot translate exactly is refused
when the rules are compiled (`ColumnarError`, naming the programme and the condition), never
evaluated differently.

Only this module imports polars, so `check` and rule loading never pay for it.

Representation of values (one column per compiled value; null means *missing*):

| kind   | column                                                                                 |
|--------|----------------------------------------------------------------------------------------|
| bool   | Boolean; Kleene `&`/`|` of polars are exactly the evaluator's three-valued and/or       |
| number | Int64 or Int128 holding the value × 10**scale: exact decimals, scale tracked statically |
| date   | Date                                                                                   |
| text   | String                                                                                 |
| enum   | UInt32 member index in declaration order (the physical code of a polars Enum column)  |
| list   | UInt64 bit mask over the enumeration's members (bit i = member i present)              |

UNSET versus UNKNOWN. The evaluator has two missing values: UNKNOWN (a fact the record does not
give) and UNSET (a parameter with no published figure); `missing_of` lets UNKNOWN dominate, and
`as_truth` turns both into UNKNOWN in a yes/no position. A compiled value therefore carries, beside
its value column, an optional parallel Boolean *unset* column: true where the value is missing
*because of* an UNSET figure (and no UNKNOWN fact). It is None when the value can never be unset
(the common case: no unset parameter reaches it), so it costs nothing there. It decides the amount
status (`not_set` versus `unknown`) and so the reason codes `amount-not-set` / `amount-missing:`.

Reason codes. `engine.batch.reason_code` needs, per row, which conditions failed, which unknown
facts the open conditions read (in trace order, deduplicated — and the trace depends on which branch
of an `if()` ran), and which unset parameters were read. Building strings per row would dominate the
run time, so each programme packs what determines its reason into an integer *key* per row: the
state (out of force / ineligible / undetermined / eligible); for an ineligible row, which conditions
are false; for an undetermined row, each condition's truth, the truth of each `if()` condition that
guards an unknown fact, each unknown fact read by an open condition, and one bit per lookup of a
parameter that can be unset; for an eligible row, the amount status and — where the amount is
unknown — the same detail for the amount rule. Rows with the same reason mostly share a key, so the
distinct keys of a million-row table are a few thousand: the key column is dictionary-encoded in
one hash pass (Arrow), the reason of each distinct key is built once in Python by walking the rule
structure exactly as engine.decide does (memoised across tables), and the dictionary is swapped for
those strings — a Categorical column.

Execution. The compiler materialises every value that is read more than once (definitions,
parameter lookups, condition truths, date parts …) as its own column, in stages: polars does not
reliably share a repeated subexpression, and recomputing one is the main way such a plan gets slow.
Parameters by date are when/then chains on `as_of`; tables keyed by a row's value are `is_in` chains
(one branch per distinct figure); dates are decomposed into year/month/day with integer arithmetic
(Hinnant's civil-from-days), much cheaper than calendar accessors.

Money is exact: amounts are quantized to the fen with the rule's rounding (half-up, ceiling,
floor) on scaled integers, and returned as Decimal(38, 2). Arithmetic is refused at compile time if
its result could exceed the 28 significant digits of Python's default Decimal context (where the
per-record path would round) or 38 digits (Int128).

Refused at compile time, naming the programme and condition (ColumnarError), because a column
cannot reproduce them exactly: division by anything but a constant with an exact decimal reciprocal
(the per-record path rounds other quotients to 28 digits); arithmetic whose result may exceed 28
significant digits; a local definition that shadows a shared one (the per-record path memoises
definitions by name, so which one a condition reads depends on evaluation order); a programme whose
reason key would need more than 64 bits. The one behaviour not reproduced is a crash: where
add_months/add_years/add_days would leave years 1–9999 the per-record path raises, and here the date
is unknown.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

import polars as pl

from engine.errors import UserError
from engine.expression import (
    Binary, Call, DefinitionRef, FactRef, ListOf, Literal, Node, ParamRef, Unary, names_in, to_text,
)
from engine.records import FACT_TYPES
from engine.ruleset import Condition, Group, Programme, Ruleset, ValueRule
from engine.types import UNSET, LabelledEnum

__all__ = ["CompiledRuleset", "ColumnarError", "records_to_frame", "frame_schema", "evaluate_expression", "OUTCOMES"]

OUTCOMES = ("eligible", "ineligible", "undetermined")
# "error" is never decided here: it is the batch's outcome for a row refused before deciding
# (engine.batch.ROW_ERROR), set in place in the decided columns (engine.columnbatch)
OUTCOME_DTYPE = pl.Enum([*OUTCOMES, "error"])
AMOUNT_DTYPE = pl.Decimal(38, 2)

PYTHON_DIGITS = 28  # decimal.getcontext().prec: the per-record path rounds beyond this
INT64_DIGITS = 18
INT128_DIGITS = 38
FACT_DIGITS = 15  # engine.records refuses numbers of 10**15 and more (_MAX_DIGITS_BEFORE_POINT)
DEFAULT_SCALE = {"integer": 0, "ratio": 4, "number": 2}

_NO = object()  # "not a constant"


class ColumnarError(UserError):
    """A rule the column-wise compiler cannot express exactly; names the programme and condition."""


# ------------------------------------------------------------------------------------------ values


@dataclass(frozen=True, eq=False)
class _FactRead:
    """A fact read, as the evaluator's trace records it; `guard` = the if()-branches it sits in."""

    name: str
    guard: frozenset  # of (slot index, branch: True = then, False = else)


@dataclass(frozen=True, eq=False)
class _ParamRead:
    """A lookup of a parameter that can be unset, for the `unset:` reason list."""

    name: str
    guard: frozenset
    key_sig: Any  # None (a single value) | ("lit", code) | ("expr", text)
    key: pl.Expr | None  # the key's code column
    unset: pl.Expr  # the looked-up entry has provenance `unset` (meaningful where the key is known)
    extra: pl.Expr | None = None  # a further guard (the case of a value rule that was reached)


@dataclass(eq=False)
class _Val:
    kind: str  # bool | number | date | text | enum | list
    expr: pl.Expr  # null = missing
    level: int  # the stage whose columns the expression reads
    unset: pl.Expr | None = None  # True where missing because of an UNSET figure; None = never
    reads: tuple = ()  # _FactRead / _ParamRead in evaluation order
    scale: int = 0  # number: value × 10**scale is held
    digits: int = 0  # number: |value| < 10**digits
    enum: Any = None  # enum / list: the LabelledEnum class
    const: Any = _NO  # the internal value when it is a literal constant
    nullable: bool = True


def _int_dtype(digits: int, scale: int, where: str = "") -> pl.DataType:
    total = digits + scale
    if total <= INT64_DIGITS:
        return pl.Int64
    if total <= INT128_DIGITS:
        return pl.Int128
    raise ColumnarError(f"{where}a number of {total} digits cannot be held exactly in a column")


def _decimal_parts(value: Decimal) -> tuple[int, int, int]:
    """(value × 10**scale as int, scale, integer digits) of an exact decimal."""
    sign, digits, exponent = value.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    scale = max(0, -exponent)
    scaled = coefficient * 10 ** (exponent + scale)
    whole = abs(int(value))
    return (-scaled if sign else scaled), scale, (len(str(whole)) if whole else 0)


def _members(enum: type[LabelledEnum]) -> list[LabelledEnum]:
    return list(enum)


def _code(member: LabelledEnum) -> int:
    return _members(type(member)).index(member)


def _guard_of(atoms: frozenset, slots: list[str]) -> pl.Expr | None:
    """The Boolean (never null) of a guard: every if()-branch it names was taken (or both were)."""
    expr = None
    for slot, branch in sorted(atoms):
        truth = pl.col(slots[slot])
        atom = truth.fill_null(True) if branch else truth.not_().fill_null(True)
        expr = atom if expr is None else expr & atom
    return expr


def _and(*exprs: pl.Expr | None) -> pl.Expr | None:
    present = [e for e in exprs if e is not None]
    if not present:
        return None
    result = present[0]
    for e in present[1:]:
        result = result & e
    return result


# --------------------------------------------------------------------------------------- compiler


@dataclass
class _FactSpec:
    name: str
    kind: str
    enum: Any
    scale: int = 0
    digits: int = 0
    column: str = ""

    @property
    def dtype(self) -> pl.DataType:
        if self.kind == "number":
            return _int_dtype(self.digits, self.scale)
        return {"bool": pl.Boolean, "date": pl.Date, "text": pl.String, "enum": pl.UInt32,
                "list": pl.UInt64}[self.kind]


@dataclass
class _ValueRuleCode:
    """A compiled amount or effect: its value, status and, per case, what the trace reads."""

    value: _Val  # quantized when money
    status: str  # column: 0 computed, 1 none (no case applies), 2 unset, 3 unknown
    cases: list  # (when slot index | None | True/False constant, when reads, value reads)
    level: int


@dataclass
class _Plan:
    """One programme, compiled."""

    programme: Programme
    conditions: list[Condition]
    in_force: str
    truths: list[str]  # condition truth columns, in result order
    root: str
    amount: _ValueRuleCode | None
    effects: list[tuple[str, _ValueRuleCode]]  # effects given for `eligible` (their unknown facts)
    cond_reads: list[tuple]  # per condition: its reads
    unset_reads: list[_ParamRead]  # parameter reads that may be unset, for `unset:` (in trace order)
    given_effects: list[tuple[str, Any, _ValueRuleCode]] = field(default_factory=list)  # (name, rule, code): OUT's
    key_fields: list[tuple[str, Any, int, int]] = field(default_factory=list)  # (what, which, offset, bits)
    unset_bits: list[_ParamRead] = field(default_factory=list)  # the unset reads given a key bit, in order
    key_word: str = ""


class _Compiler:
    def __init__(self, ruleset: Ruleset, record_type: str, specs: dict[str, _FactSpec]) -> None:
        self.ruleset = ruleset
        self.record_type = record_type
        self.specs = specs
        self.stages: list[dict[str, pl.Expr]] = []
        self.count = 0
        self.slots: list[str] = []  # if()-condition and case truth columns used as guards
        self.slot_of: dict[str, int] = {}
        self.shared: dict[str, _Val] = {}
        self.local: dict[str, _Val] = {}
        self.local_defs: dict = {}
        self.params: dict[tuple, _Val] = {}
        self.civil_cache: dict[str, tuple] = {}
        self.where: list[str] = []
        self.facts_used: set[str] = set()

    # -- bookkeeping
    def fail(self, message: str, node: Node | None = None) -> None:
        where = ", ".join(self.where)
        at = f" (in `{to_text(node)}`)" if node is not None else ""
        raise ColumnarError(f"cannot compile {where} column-wise: {message}{at}")

    def put(self, expr: pl.Expr, level: int, dtype: pl.DataType | None = None) -> tuple[pl.Expr, int]:
        """Materialise `expr` as a column computed at stage `level`; returns (column, level + 1)."""
        while len(self.stages) <= level:
            self.stages.append({})
        self.count += 1
        name = f"_c{self.count}"
        self.stages[level][name] = expr if dtype is None else expr.cast(dtype)
        return pl.col(name), level + 1

    def keep(self, val: _Val) -> _Val:
        """The value as materialised columns (definitions, parameters, truths are computed once)."""
        if val.const is not _NO:
            return val
        expr, level = (val.expr, val.level) if val.expr.meta.is_column() else self.put(val.expr, val.level)
        unset = val.unset
        if unset is not None and not unset.meta.is_column():
            unset, level2 = self.put(unset, val.level)
            level = max(level, level2)
        return _Val(val.kind, expr, level, unset, val.reads, val.scale, val.digits, val.enum, _NO, val.nullable)

    def once(self, val: _Val) -> _Val:
        """The value ready to be referenced more than once: polars recomputes a repeated subtree,
        so anything but a column or a constant is materialised first."""
        return self.keep(val)

    def slot(self, truth: _Val) -> tuple[int, _Val]:
        kept = self.keep(truth) if truth.const is _NO else truth
        name = kept.expr.meta.output_name()
        if name not in self.slot_of:
            self.slot_of[name] = len(self.slots)
            self.slots.append(name)
        return self.slot_of[name], kept

    # -- numbers
    def dtype(self, digits: int, scale: int) -> pl.DataType:
        try:
            return _int_dtype(digits, scale)
        except ColumnarError as error:
            self.fail(str(error))

    def at_scale(self, val: _Val, scale: int, dtype: pl.DataType) -> pl.Expr:
        factor = 10 ** (scale - val.scale)
        if val.const is not _NO:
            return pl.lit(val.const * factor, dtype)
        expr = val.expr.cast(dtype)
        return expr * pl.lit(factor, dtype) if factor != 1 else expr

    def number(self, value: Decimal) -> _Val:
        scaled, scale, digits = _decimal_parts(value)
        return _Val("number", pl.lit(scaled, self.dtype(digits, scale)), 0, scale=scale, digits=digits,
                    const=scaled, nullable=False)

    def arithmetic_result(self, digits: int, scale: int, node: Node) -> pl.DataType:
        if digits + scale > PYTHON_DIGITS:
            self.fail(f"the result may need {digits + scale} significant digits, beyond the {PYTHON_DIGITS} "
                      "of the per-record path's Decimal context, which would round it", node)
        return self.dtype(digits, scale)

    # -- missing values
    def missing_of(self, vals: Iterable[_Val]) -> pl.Expr | None:
        """The unset column of a result that is missing when any operand is (missing_of)."""
        vals = [v for v in vals if v.nullable]
        if not any(v.unset is not None for v in vals):
            return None
        any_unset = _or_all([v.unset for v in vals if v.unset is not None])
        unknown = _or_all([v.expr.is_null() & v.unset.not_() if v.unset is not None else v.expr.is_null()
                           for v in vals])
        return any_unset & unknown.not_()

    @staticmethod
    def any_null(vals: Iterable[_Val]) -> pl.Expr | None:
        nullable = [v.expr.is_null() for v in vals if v.nullable]
        return _or_all(nullable) if nullable else None

    def truth(self, val: _Val, node: Node) -> _Val:
        """as_truth: a value in a yes/no position (UNSET counts as UNKNOWN)."""
        if val.kind != "bool":
            self.fail(f"a {val.kind} in a yes/no position", node)
        return _Val("bool", val.expr, val.level, None, val.reads, const=val.const, nullable=val.nullable)

    # -- nodes
    def value(self, node: Node) -> _Val:
        method = getattr(self, "node_" + type(node).__name__, None)
        if method is None:
            self.fail(f"unresolved node {type(node).__name__}", node)
        return method(node)

    def node_Literal(self, node: Literal) -> _Val:
        value = node.value
        if isinstance(value, bool):
            return _Val("bool", pl.lit(value), 0, const=value, nullable=False)
        if isinstance(value, Decimal):
            return self.number(value)
        if isinstance(value, _dt.date):
            return _Val("date", pl.lit(value, pl.Date), 0, const=value, nullable=False)
        if isinstance(value, LabelledEnum):
            code = _code(value)
            return _Val("enum", pl.lit(code, pl.UInt32), 0, enum=type(value), const=code, nullable=False)
        if isinstance(value, str):
            return _Val("text", pl.lit(value, pl.String), 0, const=value, nullable=False)
        self.fail(f"a literal of type {type(value).__name__}", node)

    def node_FactRef(self, node: FactRef) -> _Val:
        spec = self.specs.get(node.name)
        if spec is None:
            self.fail(f"'{node.name}' is not a fact of a {self.record_type} record", node)
        self.facts_used.add(node.name)
        always = node.name == "as_of"
        reads = () if always else (_FactRead(node.name, frozenset()),)
        return _Val(spec.kind, pl.col(spec.column), 0, None, reads, spec.scale, spec.digits, spec.enum,
                    nullable=not always)

    def node_DefinitionRef(self, node: DefinitionRef) -> _Val:
        name = node.name
        if name in self.local_defs:
            cache, definition = self.local, self.local_defs[name]
        else:
            cache, definition = self.shared, self.ruleset.definitions[self.record_type][name]
        if name not in cache:
            self.where.append(f"definition '{name}'")
            try:
                cache[name] = self.keep(self.value(definition.tree))
            finally:
                self.where.pop()
        return cache[name]

    def node_ListOf(self, node: ListOf) -> _Val:
        self.fail("a list outside `in`/has_any()", node)

    def node_Unary(self, node: Unary) -> _Val:
        operand = self.value(node.operand)
        if node.op == "not":
            truth = self.truth(operand, node)
            if truth.const is not _NO:
                return _Val("bool", pl.lit(not truth.const), 0, None, truth.reads, const=not truth.const,
                            nullable=False)
            return _Val("bool", truth.expr.not_(), truth.level, None, truth.reads, nullable=truth.nullable)
        if operand.kind != "number":
            self.fail("'-' on a non-number", node)
        dtype = self.arithmetic_result(operand.digits, operand.scale, node)
        if operand.const is not _NO:
            return _Val("number", pl.lit(-operand.const, dtype), 0, None, operand.reads, operand.scale,
                        operand.digits, const=-operand.const, nullable=False)
        return _Val("number", _neg(operand.expr.cast(dtype), dtype), operand.level, operand.unset, operand.reads,
                    operand.scale, operand.digits, nullable=operand.nullable)

    def node_Binary(self, node: Binary) -> _Val:
        op = node.op
        if op in ("and", "or"):
            left = self.truth(self.value(node.left), node)
            right = self.truth(self.value(node.right), node)
            expr = left.expr & right.expr if op == "and" else left.expr | right.expr
            return _Val("bool", expr, max(left.level, right.level), None, left.reads + right.reads,
                        nullable=left.nullable or right.nullable)
        left = self.value(node.left)
        if op in ("in", "not in"):
            return self.membership(node, left)
        right = self.value(node.right)
        if op in ("+", "-", "*", "/"):
            return self.arithmetic(node, left, right)
        return self.compare(node, op, left, right)

    def arithmetic(self, node: Binary, left: _Val, right: _Val) -> _Val:
        if left.kind != "number" or right.kind != "number":
            self.fail("arithmetic on a non-number", node)
        if left.unset is not None or right.unset is not None:
            left, right = self.once(left), self.once(right)
        op = node.op
        reads = left.reads + right.reads
        level = max(left.level, right.level)
        unset = self.missing_of([left, right])
        nullable = left.nullable or right.nullable
        if op == "/":
            if right.const is _NO:
                self.fail("division by a value that is not a constant (the per-record path rounds such "
                          "quotients to 28 digits, which a column cannot reproduce)", node)
            divisor = Decimal(right.const).scaleb(-right.scale)
            if divisor == 0:  # Decimal division by zero → UNKNOWN
                null = pl.lit(None, pl.Int64)
                return _Val("number", null, level, self.missing_of([left]), reads, 0, 0)
            reciprocal = _exact_reciprocal(divisor)
            if reciprocal is None:
                self.fail(f"division by {divisor}, whose reciprocal is not an exact decimal", node)
            right = self.number(reciprocal)
            op = "*"
        if op == "*":
            scale, digits = left.scale + right.scale, left.digits + right.digits
        else:
            scale, digits = max(left.scale, right.scale), max(left.digits, right.digits) + 1
        dtype = self.arithmetic_result(digits, scale, node)
        if op == "*":
            a, b = self.at_scale(left, left.scale, dtype), self.at_scale(right, right.scale, dtype)
            expr = a * b
        else:
            a, b = self.at_scale(left, scale, dtype), self.at_scale(right, scale, dtype)
            expr = a + b if op == "+" else a - b
        return _Val("number", expr, level, unset, reads, scale, digits, nullable=nullable)

    def aligned(self, vals: list[_Val], node: Node) -> tuple[list[pl.Expr], int, int, pl.DataType]:
        scale = max(v.scale for v in vals)
        digits = max(v.digits for v in vals)
        dtype = self.dtype(digits, scale)
        return [self.at_scale(v, scale, dtype) for v in vals], scale, digits, dtype

    def equal(self, left: _Val, right: _Val, node: Node) -> pl.Expr:
        """Python == between two present values of the same kind (null where either is missing)."""
        if left.kind != right.kind:
            self.fail(f"comparing a {left.kind} with a {right.kind}", node)
        if left.kind == "enum" and left.enum is not right.enum:
            self.fail(f"comparing {left.enum.__name__} with {right.enum.__name__}", node)
        if left.kind == "number":
            (a, b), *_ = self.aligned([left, right], node)
            return a == b
        return left.expr == right.expr

    def compare(self, node: Binary, op: str, left: _Val, right: _Val) -> _Val:
        if left.unset is not None or right.unset is not None:
            left, right = self.once(left), self.once(right)
        reads = left.reads + right.reads
        level = max(left.level, right.level)
        unset = self.missing_of([left, right])
        nullable = left.nullable or right.nullable
        if left.kind == "list" or right.kind == "list":
            self.fail("comparing lists", node)
        if op in ("==", "!="):
            expr = self.equal(left, right, node)
            expr = expr if op == "==" else expr.not_()
        elif left.kind == "enum":
            expr = self.ranked(node, op, left, right)
        elif left.kind in ("number", "date"):
            if left.kind != right.kind:
                self.fail(f"comparing a {left.kind} with a {right.kind}", node)
            if left.kind == "number":
                (a, b), *_ = self.aligned([left, right], node)
            else:
                a, b = left.expr, right.expr
            expr = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        else:
            self.fail(f"'{op}' on a {left.kind}", node)
        return _Val("bool", expr, level, unset, reads, nullable=nullable)

    def ranked(self, node: Binary, op: str, left: _Val, right: _Val) -> pl.Expr:
        """compare() on ranked enumerations: by rank; a member without a rank compares False."""
        if left.enum is not right.enum:
            self.fail(f"comparing {left.enum.__name__} with {right.enum.__name__}", node)
        members = _members(left.enum)
        test = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
                ">=": lambda a, b: a >= b}[op]
        if right.const is not _NO or left.const is not _NO:
            flip = right.const is _NO
            fixed = members[left.const if flip else right.const]
            other = right if flip else left
            if fixed.rank is None:
                return pl.when(other.expr.is_not_null()).then(pl.lit(False))
            codes = [i for i, m in enumerate(members) if m.rank is not None
                     and (test(fixed.rank, m.rank) if flip else test(m.rank, fixed.rank))]
            return _is_in(other.expr, codes, pl.UInt32)
        left, right = self.once(left), self.once(right)
        ranks = [m.rank for m in members if m.rank is not None]
        unranked = [i for i, m in enumerate(members) if m.rank is None]
        if ranks == sorted(set(ranks)):  # ranks rise with the declaration order: compare the codes
            a, b = left.expr, right.expr
        else:
            a, b = self.rank_of(left), self.rank_of(right)
        result = test(a, b)
        if unranked:
            either = _is_in(left.expr, unranked, pl.UInt32) | _is_in(right.expr, unranked, pl.UInt32)
            result = (pl.when(left.expr.is_null() | right.expr.is_null()).then(pl.lit(None, pl.Boolean))
                      .when(either).then(pl.lit(False)).otherwise(result))
        return result

    def rank_of(self, val: _Val) -> pl.Expr:
        chain = None
        for code, member in enumerate(_members(val.enum)):
            if member.rank is not None:
                chain = _chain(chain, val.expr == code, pl.lit(member.rank, pl.Int32))
        return chain

    def membership(self, node: Binary, left: _Val) -> _Val:
        if isinstance(node.right, ListOf):
            items = [self.value(item) for item in node.right.items]
            reads = left.reads + sum((i.reads for i in items), ())
            level = max([left.level] + [i.level for i in items])
            if all(i.const is not _NO for i in items):
                expr = self.in_constants(node, left, items)
            else:
                left = self.once(left)
                items = [self.once(i) for i in items]
                hits = [self.equal(left, item, node).fill_null(False) for item in items]
                expr = pl.when(left.expr.is_null()).then(None).otherwise(_or_all(hits))
            unset = self.missing_of([left])
            nullable = left.nullable
        else:
            container = self.value(node.right)
            if container.kind != "list":
                self.fail("'in' needs a list", node)
            expr = self.has_bit(container, left, node)
            reads = left.reads + container.reads
            level = max(left.level, container.level)
            unset = self.missing_of([left, container])
            nullable = left.nullable or container.nullable
        if node.op == "not in":
            expr = expr.not_()
        return _Val("bool", expr, level, unset, reads, nullable=nullable)

    def in_constants(self, node: Node, left: _Val, items: list[_Val]) -> pl.Expr:
        if left.kind == "enum":
            codes = sorted({i.const for i in items if i.kind == "enum" and i.enum is left.enum})
            return _is_in(left.expr, codes, pl.UInt32)
        if left.kind == "number":
            values = []
            for item in items:
                if item.kind != "number":
                    self.fail("a list mixing kinds", node)
                if item.scale <= left.scale:
                    values.append(item.const * 10 ** (left.scale - item.scale))
                elif item.const % 10 ** (item.scale - left.scale) == 0:
                    values.append(item.const // 10 ** (item.scale - left.scale))
                # else: more decimals than the column holds: never equal
            dtype = self.dtype(left.digits, left.scale)
            return _is_in(left.expr, values, dtype)
        if left.kind in ("text", "date", "bool"):
            dtype = {"text": pl.String, "date": pl.Date, "bool": pl.Boolean}[left.kind]
            return _is_in(left.expr, [i.const for i in items], dtype)
        self.fail(f"'in' on a {left.kind}", node)

    def has_bit(self, container: _Val, item: _Val, node: Node) -> pl.Expr:
        """item in container (a list mask); null where either is missing."""
        if item.kind != "enum" or item.enum is not container.enum:
            self.fail("looking for a value of another kind in a list", node)
        if item.const is not _NO:
            return (container.expr & pl.lit(1 << item.const, pl.UInt64)) != 0
        item, container = self.once(item), self.once(container)
        hits = [(item.expr == i) & ((container.expr & pl.lit(1 << i, pl.UInt64)) != 0)
                for i in range(len(_members(item.enum)))]
        return pl.when(item.expr.is_null() | container.expr.is_null()).then(None).otherwise(_or_all(hits))

    # -- parameters
    def node_ParamRef(self, node: ParamRef) -> _Val:
        parameter = self.ruleset.parameters[node.name]
        key = self.value(node.key) if node.key is not None else None
        if key is not None and (key.kind != "enum" or key.enum is not parameter.keyed_by):
            self.fail(f"the key of '{node.name}' is not a {parameter.keyed_by}", node)
        if key is None:
            sig = None
        elif key.const is not _NO:
            sig = ("lit", key.const)
        else:
            sig = ("expr", to_text(node.key))
        # a key naming a local definition means something else in another programme
        local = node.key is not None and any(n in self.local_defs for n in names_in(node.key))
        cache_key = (node.name, sig, id(self.local_defs) if local else None)
        if cache_key not in self.params:
            self.params[cache_key] = self.parameter_columns(parameter, key)
        val, prov, prov_unset = self.params[cache_key]
        reads = key.reads if key is not None else ()
        if prov_unset:
            reads = reads + (_ParamRead(node.name, frozenset(), sig, None if key is None or key.const is not _NO
                                        else key.expr, prov),)
        return _Val(val.kind, val.expr, val.level, val.unset, reads, val.scale, val.digits, None, val.const,
                    val.nullable)

    def lookup_table(self, parameter) -> list[list[tuple[Any, bool]]]:
        """For each dated value (segment), for each key code: the per-record lookup's value and
        whether its provenance is `unset` — computed by DatedParameter.lookup itself."""
        table = []
        for entry in parameter.values:
            keys = [None] if parameter.keyed_by is None else _members(parameter.keyed_by)
            row = []
            for key in keys:
                use = parameter.lookup(entry.valid_from, key)
                row.append((use.value, use.provenance == "unset"))
            table.append(row)
        return table

    def parameter_columns(self, parameter, key: _Val | None) -> tuple[_Val, pl.Expr, bool]:
        """(value, provenance-unset flag, whether that flag can ever be true) of a lookup by as_of and key.

        Dated values become a when/then chain on as_of; a table keyed by a row's value becomes, per
        dated value, a chain of `key in [codes with this value]` — one branch per distinct figure."""
        entries = self.lookup_table(parameter)
        kind = "bool" if parameter.type.kind == "bool" else "number"
        if kind == "number":
            present = [_decimal_parts(v) for seg in entries for v, _ in seg if v is not UNSET]
            scale = max([p[1] for p in present], default=0)
            digits = max([p[2] for p in present], default=0)
            dtype = self.dtype(digits, scale)
        else:
            scale = digits = 0
            dtype = pl.Boolean

        def internal(value):
            if value is UNSET:
                return None
            if kind == "bool":
                return bool(value)
            scaled, s, _ = _decimal_parts(value)
            return scaled * 10 ** (scale - s)

        dynamic = key is not None and key.const is _NO
        if key is not None and not dynamic:  # a literal key: one column of the table
            entries = [[seg[key.const]] for seg in entries]
        table = [[(internal(v), v is UNSET, p) for v, p in seg] for seg in entries]
        starts = [v.valid_from for v in parameter.values]
        # consecutive dated values that give the same entries are one segment
        segments = []
        for start, row in zip(starts, table):
            if segments and segments[-1][1] == row:
                continue
            segments.append((start, row))
        prov_unset = any(p for _, row in segments for _, _, p in row)
        can_unset = any(u for _, row in segments for _, u, _ in row)
        code = None
        level = 0
        if dynamic:
            key = self.once(key)
            code, level = key.expr, key.level

        def by_key(row, pick, dtype_):
            """One dated value's entries as an expression of the key (a constant without a key)."""
            if not dynamic:
                return pl.lit(pick(row[0]), dtype_)
            groups: dict[Any, list[int]] = {}
            for index, entry in enumerate(row):
                groups.setdefault(pick(entry), []).append(index)
            chain = None
            for value, codes in groups.items():
                if value is None:
                    continue
                chain = _chain(chain, _is_in(code, codes, pl.UInt32), pl.lit(value, dtype_))
            return pl.lit(None, dtype_) if chain is None else chain.otherwise(pl.lit(None, dtype_))

        def by_date(pick, dtype_):
            exprs = [(start, by_key(row, pick, dtype_)) for start, row in segments]
            if len(exprs) == 1:
                return exprs[0][1]
            as_of = pl.col(self.specs["as_of"].column)
            chain = None
            for start, expr in reversed(exprs[1:]):
                chain = _chain(chain, as_of >= pl.lit(start, pl.Date), expr)
            return chain.otherwise(exprs[0][1])

        if len(segments) == 1 and not dynamic:  # the same entry on every date: a constant
            value, is_unset, prov = segments[0][1][0]
            if is_unset:
                val = _Val(kind, pl.lit(None, dtype), 0, pl.lit(True), scale=scale, digits=digits)
            else:
                val = _Val(kind, pl.lit(value, dtype), 0, None, scale=scale, digits=digits, const=value,
                           nullable=False)
            return val, pl.lit(prov), prov_unset
        value = by_date(lambda e: e[0], dtype)
        unset = by_date(lambda e: e[1], pl.Boolean) if can_unset else None
        if dynamic:
            # a missing key: the lookup returns the key itself (UNKNOWN, or UNSET if it is unset)
            unset = _key_missing_unset(key, unset)
        nullable = can_unset or dynamic
        kept = self.keep(_Val(kind, value, level, unset, (), scale, digits, nullable=nullable))
        prov = pl.lit(False)
        if prov_unset:
            prov, _ = self.put(by_date(lambda e: e[2], pl.Boolean).fill_null(False), level)
        return kept, prov, prov_unset

    # -- functions
    def node_Call(self, node: Call) -> _Val:
        method = getattr(self, "call_" + node.function, None)
        if method is None:
            self.fail(f"the function {node.function}()", node)
        return method(node)

    def args(self, node: Call) -> list[_Val]:
        return [self.value(a) for a in node.args]

    def call_min(self, node: Call, pick=pl.min_horizontal) -> _Val:
        vals = self.args(node)
        if any(v.kind != "number" for v in vals):
            self.fail(f"{node.function}() of a non-number", node)
        if len(vals) > 1 and any(v.nullable for v in vals):
            vals = [self.once(v) for v in vals]  # read twice: for the value and for missing_of
        exprs, scale, digits, dtype = self.aligned(vals, node)
        expr = pick(exprs) if len(exprs) > 1 else exprs[0]
        null = self.any_null(vals) if len(vals) > 1 else None
        if null is not None:  # polars' min/max skip nulls; the evaluator's are missing
            expr = pl.when(null).then(pl.lit(None, dtype)).otherwise(expr)
        return _Val("number", expr, max(v.level for v in vals), self.missing_of(vals), sum((v.reads for v in vals), ()),
                    scale, digits, nullable=any(v.nullable for v in vals))

    def call_max(self, node: Call) -> _Val:
        return self.call_min(node, pl.max_horizontal)

    def dates(self, node: Call) -> tuple[_Val, _Val]:
        start, end = self.args(node)
        if start.kind != "date" or end.kind != "date":
            self.fail(f"{node.function}() of a non-date", node)
        return self.once(start), self.once(end)

    def period(self, expr: pl.Expr, level: int, digits: int, vals: list[_Val]) -> _Val:
        # null wherever a date is (arithmetic on nulls gives null)
        return _Val("number", expr, level, self.missing_of(vals), sum((v.reads for v in vals), ()), 0, digits,
                    nullable=any(v.nullable for v in vals))

    def step(self, expr: pl.Expr, *levels: int) -> tuple[pl.Expr, int]:
        return self.put(expr, max(levels))

    def civil(self, val: _Val) -> tuple[pl.Expr, pl.Expr, pl.Expr, int]:
        """(year, month, day) of a date value as Int32 columns: integer arithmetic on the day number
        (H. Hinnant's civil_from_days), staged so that no subexpression is computed twice — much
        cheaper than polars' calendar accessors."""
        if val.const is not _NO:
            when = val.const
            return pl.lit(when.year, pl.Int32), pl.lit(when.month, pl.Int32), pl.lit(when.day, pl.Int32), 0
        name = val.expr.meta.output_name()
        if name in self.civil_cache:
            return self.civil_cache[name]
        z, lv = self.step(val.expr.cast(pl.Int32) + 719468, val.level)
        era, lv = self.step(z // 146097, lv)
        doe, lv = self.step(z - era * 146097, lv)
        yoe, lv = self.step((doe - doe // 1460 + doe // 36524 - doe // 146096) // 365, lv)
        doy, lv = self.step(doe - (365 * yoe + yoe // 4 - yoe // 100), lv)
        mp, lv = self.step((5 * doy + 2) // 153, lv)
        day, _ = self.step(doy - (153 * mp + 2) // 5 + 1, lv)
        month, lv = self.step(pl.when(mp < 10).then(mp + 3).otherwise(mp - 9), lv)
        year, lv = self.step(yoe + era * 400 + (month <= 2).cast(pl.Int32), lv)
        self.civil_cache[name] = (year, month, day, lv)
        return self.civil_cache[name]

    def whole_months(self, start: _Val, end: _Val) -> tuple[pl.Expr, pl.Expr, pl.Expr, int]:
        """engine.evaluator.whole_months as columns: (months from start to end when end is not
        earlier, months from end to start when it is, end < start). A month is complete on the same
        day of the month, or on the last day of a shorter month."""
        ys, ms, ds, l1 = self.civil(start)
        ye, me, de, l2 = self.civil(end)
        level = max(l1, l2)
        forward, _ = self.step((ye - ys) * 12 + (me - ms)
                               - ((ds > de) & (de < _days_in_month(ye, me))).cast(pl.Int32), level)
        backward, _ = self.step((ys - ye) * 12 + (ms - me)
                                - ((de > ds) & (ds < _days_in_month(ys, ms))).cast(pl.Int32), level)
        back, lv = self.step(end.expr < start.expr, level)
        return forward, backward, back, lv

    def call_months_between(self, node: Call) -> _Val:
        start, end = self.dates(node)
        forward, backward, back, level = self.whole_months(start, end)
        months = pl.when(back).then(-backward).otherwise(forward).cast(pl.Int64)
        return self.period(months, level, 6, [start, end])

    def call_years_between(self, node: Call) -> _Val:
        start, end = self.dates(node)
        forward, backward, back, level = self.whole_months(start, end)
        # whole_months(...) // 12 on a Decimal truncates toward zero
        years = pl.when(back).then(-(backward // 12)).otherwise(forward // 12).cast(pl.Int64)
        return self.period(years, level, 4, [start, end])

    def call_days_between(self, node: Call) -> _Val:
        start, end = self.dates(node)
        days = end.expr.cast(pl.Int32).cast(pl.Int64) - start.expr.cast(pl.Int32).cast(pl.Int64)
        return self.period(days, max(start.level, end.level), 7, [start, end])

    def shift(self, node: Call, months_per_unit: int | None) -> _Val:
        when, count = self.args(node)
        if when.kind != "date" or count.kind != "number":
            self.fail(f"{node.function}() needs a date and a whole number", node)
        if when.unset is not None or count.unset is not None:
            when, count = self.once(when), self.once(count)
        if count.const is not _NO:
            whole = int(Decimal(count.const).scaleb(-count.scale))  # int(Decimal): toward zero
            n = pl.lit(whole * (months_per_unit or 1), pl.Int64)
        else:
            n = _truncate(count)
            if months_per_unit not in (None, 1):
                n = n * months_per_unit
        level = max(when.level, count.level)
        if months_per_unit is None:
            expr = (when.expr.cast(pl.Int32).cast(pl.Int64) + n).cast(pl.Int32, strict=False).cast(pl.Date)
        else:
            expr, level = self.add_months(self.once(when), n, level)
        return _Val("date", expr, level, self.missing_of([when, count]), when.reads + count.reads,
                    nullable=when.nullable or count.nullable)

    def add_months(self, when: _Val, months: pl.Expr, level: int) -> tuple[pl.Expr, int]:
        """engine.evaluator.add_months: the same day n months on, or the last day of a shorter month;
        the date rebuilt by days_from_civil, staged."""
        year, month, day, lv = self.civil(when)
        index, lv = self.step(year.cast(pl.Int64) * 12 + month - 1 + months, lv, level)
        # beyond year 9999 the per-record path cannot build the date (it raises): unknown here
        index = pl.when((index >= 12) & (index < 120000)).then(index)
        y, lv = self.step(index.cast(pl.Int32) // 12, lv)
        m, _ = self.step(index.cast(pl.Int32) % 12 + 1, lv)
        dim = _days_in_month(y, m)
        d, lv = self.step(pl.when(day > dim).then(dim).otherwise(day), lv + 1)
        yy, _ = self.step(y - (m <= 2).cast(pl.Int32), lv)
        mp, lv = self.step(pl.when(m > 2).then(m - 3).otherwise(m + 9), lv)
        era, lv = self.step(yy // 400, lv)
        yoe, lv = self.step(yy - era * 400, lv)
        doy, _ = self.step((153 * mp + 2) // 5 + d - 1, lv)
        z = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
        return z.cast(pl.Int32).cast(pl.Date), lv + 1

    def call_add_years(self, node: Call) -> _Val:
        return self.shift(node, 12)

    def call_add_months(self, node: Call) -> _Val:
        return self.shift(node, 1)

    def call_add_days(self, node: Call) -> _Val:
        return self.shift(node, None)

    def call_has(self, node: Call) -> _Val:
        container, item = self.args(node)
        if container.kind != "list":
            self.fail("has() of a non-list", node)
        return _Val("bool", self.has_bit(container, item, node), max(container.level, item.level),
                    self.missing_of([container, item]), container.reads + item.reads,
                    nullable=container.nullable or item.nullable)

    def call_has_any(self, node: Call) -> _Val:
        container = self.value(node.args[0])
        if container.kind != "list" or not isinstance(node.args[1], ListOf):
            self.fail("has_any() needs a list fact and a list of values", node)
        items = [self.value(i) for i in node.args[1].items]
        reads = container.reads + sum((i.reads for i in items), ())
        if all(i.const is not _NO for i in items):
            mask = 0
            for item in items:
                mask |= 1 << item.const
            expr = (container.expr & pl.lit(mask, pl.UInt64)) != 0
        else:
            container = self.once(container)
            hits = [self.has_bit(container, item, node).fill_null(False) for item in items]
            expr = pl.when(container.expr.is_null()).then(None).otherwise(_or_all(hits))
        # has_any of a missing container is UNKNOWN (never UNSET)
        return _Val("bool", expr, max([container.level] + [i.level for i in items]), None, reads,
                    nullable=container.nullable)

    def call_count(self, node: Call) -> _Val:
        (container,) = self.args(node)
        if container.kind != "list":
            self.fail("count() of a non-list", node)
        return _Val("number", container.expr.bitwise_count_ones().cast(pl.Int64), container.level, container.unset,
                    container.reads, 0, 2, nullable=container.nullable)

    def call_known(self, node: Call) -> _Val:
        (arg,) = self.args(node)
        expr = arg.expr.is_not_null() if arg.nullable else pl.lit(True)
        return _Val("bool", expr, arg.level, None, arg.reads, nullable=False)

    def call_if(self, node: Call) -> _Val:
        condition = self.truth(self.value(node.args[0]), node)
        if condition.const is not _NO:  # a constant condition: only one branch is ever evaluated
            chosen = self.value(node.args[1] if condition.const else node.args[2])
            return _Val(chosen.kind, chosen.expr, chosen.level, chosen.unset, condition.reads + chosen.reads,
                        chosen.scale, chosen.digits, chosen.enum, chosen.const, chosen.nullable)
        slot, condition = self.slot(condition)
        then, otherwise = self.once(self.value(node.args[1])), self.once(self.value(node.args[2]))
        if then.kind != otherwise.kind:
            self.fail("if() branches of different kinds", node)
        kind = then.kind
        t = condition.expr
        if kind == "number":
            (a, b), scale, digits, dtype = self.aligned([then, otherwise], node)
        else:
            a, b, scale, digits = then.expr, otherwise.expr, 0, 0
            if kind in ("enum", "list") and then.enum is not otherwise.enum:
                self.fail("if() branches of different enumerations", node)
        agree = self.equal(then, otherwise, node).fill_null(False)
        expr = pl.when(t.is_null()).then(pl.when(agree).then(a)).when(t).then(a).otherwise(b)
        unset = None
        if then.unset is not None or otherwise.unset is not None:
            unset = (pl.when(t.is_null()).then(pl.lit(False))
                     .when(t).then(then.unset if then.unset is not None else pl.lit(False))
                     .otherwise(otherwise.unset if otherwise.unset is not None else pl.lit(False)))
        reads = condition.reads + _guarded(then.reads, (slot, True)) + _guarded(otherwise.reads, (slot, False))
        return _Val(kind, expr, max(condition.level, then.level, otherwise.level), unset, reads, scale, digits,
                    then.enum, nullable=True)

    # -- value rules (amount, effects)
    def value_rule(self, rule: ValueRule, programme: Programme) -> _ValueRuleCode:
        cases = list(rule.cases) + ([rule.otherwise] if rule.otherwise else [])
        compiled = []
        for index, case in enumerate(cases):
            when = None
            if case.when is not None:
                self.where.append(f"{rule.name} case {index + 1} (when)")
                try:
                    when = self.truth(self.value(case.when), case.when)
                finally:
                    self.where.pop()
            self.where.append(f"{rule.name} case {index + 1}" if len(cases) > 1 else rule.name)
            try:
                value = self.value(case.value)
            finally:
                self.where.pop()
            compiled.append((when, self.once(value)))
        kinds = {v.kind for _, v in compiled}
        if len(kinds) > 1:
            self.fail(f"{rule.name}: cases of different kinds")
        kind = kinds.pop() if kinds else "number"
        values = [v for _, v in compiled]
        if kind == "number" and values:
            exprs, scale, digits, dtype = self.aligned(values, cases[0].value)
        else:
            exprs, scale, digits, dtype = [v.expr for v in values], 0, 0, None
        # Walk the cases as engine.decide._value does: an unknown `when` before any match → UNKNOWN.
        value_chain = status_chain = None
        layout = []
        reached = pl.lit(True)
        done = False
        level = 0
        param_reads: list[_ParamRead] = []
        for (when, value), expr in zip(compiled, exprs):
            level = max(level, value.level, when.level if when is not None else 0)
            value_unset = value.unset if value.unset is not None else pl.lit(False)
            value_status = (pl.when(expr.is_not_null()).then(pl.lit(0, pl.UInt8))
                            .when(value_unset).then(pl.lit(2, pl.UInt8)).otherwise(pl.lit(3, pl.UInt8)))
            if when is None or when.const is True:
                condition_reads = when.reads if when is not None else ()
                param_reads += _with_extra(condition_reads, reached) + _with_extra(value.reads, reached)
                layout.append((True if when is not None else None, condition_reads, value.reads))
                value_chain = _chain(value_chain, None, expr)
                status_chain = _chain(status_chain, None, value_status)
                done = True
                break
            if when.const is False:
                layout.append((False, when.reads, ()))
                param_reads += _with_extra(when.reads, reached)
                continue
            slot, kept = self.slot(when)
            level = max(level, kept.level)
            t = kept.expr
            layout.append((slot, when.reads, value.reads))
            param_reads += _with_extra(when.reads, reached) + _with_extra(value.reads, reached & t.fill_null(False))
            reached = reached & t.not_().fill_null(False)
            value_chain = _chain(value_chain, t.is_null(), pl.lit(None, dtype))
            value_chain = _chain(value_chain, t, expr)
            status_chain = _chain(status_chain, t.is_null(), pl.lit(3, pl.UInt8))
            status_chain = _chain(status_chain, t, value_status)
        if not done:
            value_chain = _chain(value_chain, None, pl.lit(None, dtype))
            status_chain = _chain(status_chain, None, pl.lit(1, pl.UInt8))
        kept_value, lv = self.put(value_chain, level)
        if rule.money and kind == "number":  # Decimal.quantize(Decimal("0.01"), rule's rounding)
            if scale < 2:
                dtype = self.dtype(digits, 2)
            kept_value, lv = self.put(_quantize(kept_value.cast(dtype), scale, rule.rounding, dtype), lv)
            scale = 2
        status, lv2 = self.put(status_chain, level)
        enum = next((v.enum for v in values if v.enum is not None), None)  # an effect's enumeration, for OUT
        code = _ValueRuleCode(_Val(kind, kept_value, lv, None, tuple(param_reads), scale, digits, enum),
                              status.meta.output_name(), layout, max(lv, lv2))
        return code

    # -- programmes
    def programme(self, programme: Programme) -> _Plan:
        self.where = [f"programme '{programme.id}' ({programme.file}:{programme.line})"]
        shadowed = set(programme.definitions) & set(self.ruleset.definitions.get(self.record_type, {}))
        if shadowed:
            self.fail(f"local definition(s) {', '.join(sorted(shadowed))} shadow shared ones; the per-record "
                      "path memoises definitions by name, so which one a condition reads depends on order")
        self._check_parameter_dates(programme)
        self.local_defs = programme.definitions
        self.local = {}
        conditions: list[Condition] = []
        truths: list[str] = []
        cond_reads: list[tuple] = []

        def group(g: Group) -> tuple[pl.Expr, int]:
            parts, level = [], 0
            for item in g.items:
                if isinstance(item, Group):
                    expr, lv = group(item)
                else:
                    self.where.append(f"condition '{item.id}' ({item.file}:{item.line})")
                    try:
                        truth = self.truth(self.value(item.tree), item.tree)
                    finally:
                        self.where.pop()
                    col, lv = self.put(truth.expr, truth.level, pl.Boolean)
                    conditions.append(item)
                    truths.append(col.meta.output_name())
                    cond_reads.append(truth.reads)
                    expr = col
                parts.append(expr)
                level = max(level, lv)
            if not parts:
                return pl.lit(g.mode == "all"), level  # combine() of nothing
            combined = parts[0]
            for p in parts[1:]:
                combined = combined & p if g.mode == "all" else combined | p
            return combined, level

        root_expr, level = group(programme.eligible_when)
        root, _ = self.put(root_expr, level, pl.Boolean)
        as_of = pl.col(self.specs["as_of"].column)
        in_force_expr = as_of >= pl.lit(programme.valid_from, pl.Date)
        if programme.valid_to is not None:
            in_force_expr = in_force_expr & (as_of <= pl.lit(programme.valid_to, pl.Date))
        in_force, _ = self.put(in_force_expr, 0)
        amount = None
        effects = []
        undetermined_effects = []
        given_effects = []
        if programme.amount is not None:
            self.where.append("amount")
            try:
                amount = self.value_rule(programme.amount, programme)
            finally:
                self.where.pop()
        for name, rule in programme.effect.items():
            self.where.append(f"effect '{name}'")
            try:
                code = self.value_rule(rule, programme)
            finally:
                self.where.pop()
            given_effects.append((name, rule, code))
            if "eligible" in rule.for_outcomes:
                effects.append((name, code))
            if "undetermined" in rule.for_outcomes:
                undetermined_effects.append(code)
        unset_reads = [r for reads in cond_reads for r in reads if isinstance(r, _ParamRead)]
        unset_reads += [r for code in undetermined_effects for r in code.value.reads if isinstance(r, _ParamRead)]
        return _Plan(programme, conditions, in_force.meta.output_name(), truths, root.meta.output_name(), amount,
                     effects if amount is not None else [], cond_reads, unset_reads, given_effects)

    def _check_parameter_dates(self, programme: Programme) -> None:
        for name in programme.parameters:
            first = self.ruleset.parameters[name].first_date
            if first > programme.valid_from:
                self.fail(f"it reads parameter '{name}' from {first} but is in force from {programme.valid_from}")


def _is_in(expr: pl.Expr, values: list, dtype: pl.DataType) -> pl.Expr:
    return expr.is_in(pl.Series(values, dtype=dtype).implode())


def _neg(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """-expr (polars has no negation for Int128)."""
    return pl.lit(0, dtype) - expr


def _or_all(exprs: list[pl.Expr]) -> pl.Expr:
    result = exprs[0]
    for e in exprs[1:]:
        result = result | e
    return result


def _chain(chain, condition, value):
    """Append a branch to a when/then chain; condition None ends it with `otherwise`."""
    if condition is None:
        return value if chain is None else chain.otherwise(value)
    return pl.when(condition).then(value) if chain is None else chain.when(condition).then(value)


def _guarded(reads: tuple, atom: tuple) -> tuple:
    out = []
    for r in reads:
        if isinstance(r, _FactRead):
            out.append(_FactRead(r.name, r.guard | {atom}))
        else:
            out.append(_ParamRead(r.name, r.guard | {atom}, r.key_sig, r.key, r.unset, r.extra))
    return tuple(out)


def _with_extra(reads: tuple, extra: pl.Expr) -> list:
    return [_ParamRead(r.name, r.guard, r.key_sig, r.key, r.unset, _and(r.extra, extra))
            for r in reads if isinstance(r, _ParamRead)]


def _key_missing_unset(key: _Val, unset: pl.Expr | None) -> pl.Expr | None:
    if not key.nullable:
        return unset
    key_unset = key.unset if key.unset is not None else pl.lit(False)
    if unset is None and key.unset is None:
        return None
    return pl.when(key.expr.is_null()).then(key_unset).otherwise(unset if unset is not None else pl.lit(False))


def _exact_reciprocal(divisor: Decimal) -> Decimal | None:
    from decimal import Inexact, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[Inexact] = True
        try:
            return Decimal(1) / divisor
        except Inexact:
            return None


def _truncate(count: _Val) -> pl.Expr:
    """int(Decimal): the whole part, toward zero."""
    if count.scale == 0:
        return count.expr.cast(pl.Int64)
    factor = 10 ** count.scale
    x = count.expr.cast(pl.Int128)
    return pl.when(x < 0).then(_neg(_neg(x, pl.Int128) // factor, pl.Int128)).otherwise(x // factor).cast(pl.Int64)


def _days_in_month(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    leap = ((year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))).cast(pl.Int32)
    return (pl.when(month == 2).then(28 + leap).when(_is_in(month, [4, 6, 9, 11], pl.Int32)).then(pl.lit(30, pl.Int32))
            .otherwise(pl.lit(31, pl.Int32)))


def _quantize(expr: pl.Expr, scale: int, rounding: str, dtype: pl.DataType = pl.Int64) -> pl.Expr:
    """Decimal.quantize(Decimal('0.01'), rounding) on value × 10**scale, giving fen (× 100)."""
    if scale <= 2:
        return expr * (10 ** (2 - scale)) if scale < 2 else expr
    k = 10 ** (scale - 2)
    if rounding == "half_up":  # ROUND_HALF_UP: halves away from zero
        half = k // 2
        return pl.when(expr < 0).then(_neg((_neg(expr, dtype) + half) // k, dtype)).otherwise((expr + half) // k)
    if rounding == "up":  # ROUND_CEILING
        return _neg(_neg(expr, dtype) // k, dtype)
    if rounding == "down":  # ROUND_FLOOR
        return expr // k
    raise ColumnarError(f"unknown rounding '{rounding}'")


# ------------------------------------------------------------------------------------ fact schema


def _is_ratio(record_type: str, name: str) -> bool:
    """A 0–1 share (employer_skilled_ratio): its cell parser in engine.records says so."""
    from engine import records

    return records.cell_kind(record_type, name).parse is records._to_ratio


def frame_schema(record_type: str = "person", scales: dict[str, int] | None = None) -> dict[str, pl.DataType]:
    """The typed input frame for a record type: one column per field.

    bool → Boolean, date → Date, number → Decimal(38, scale) (scale 0 for whole numbers, 4 for a
    0–1 ratio, 2 otherwise, unless `scales` says more), text → String, an enumeration → Enum of its
    codes in declaration order, a list of enumeration values → UInt64 bit mask (bit i = member i).
    """
    schema = {}
    for name, spec in _fact_specs(record_type, scales).items():
        if spec.kind == "number":
            schema[name] = pl.Decimal(38, spec.scale)
        elif spec.kind == "enum":
            schema[name] = pl.Enum([m.value for m in spec.enum])
        else:
            schema[name] = spec.dtype
    return schema


def _fact_specs(record_type: str, scales: dict[str, int] | None = None) -> dict[str, _FactSpec]:
    specs = {}
    for name, fact_type in FACT_TYPES[record_type].items():
        kind = fact_type.kind
        spec = _FactSpec(name, kind, fact_type.enum, column=f"f.{name}")
        if kind == "number":
            ratio = _is_ratio(record_type, name)
            default = DEFAULT_SCALE["integer" if fact_type.integer else "ratio" if ratio else "number"]
            spec.scale = max(default, (scales or {}).get(name, 0))
            spec.digits = 1 if ratio else FACT_DIGITS
        if kind == "list" and len(_members(fact_type.enum)) > 64:
            raise ColumnarError(f"fact '{name}': a list of more than 64 values does not fit a bit mask")
        specs[name] = spec
    return specs


# ---------------------------------------------------------------------------------- the ruleset


class CompiledRuleset:
    """Every programme of one record type, compiled to column expressions.

    `decide(frame)` takes a typed frame (see `frame_schema`; `records_to_frame` builds one from
    parsed records) and returns, for each programme of the record type in id order, the columns
    `<programme>.outcome`, `<programme>.amount` and `<programme>.reason`, one row per input row, with
    exactly the values of engine.decide.decide + engine.batch.reason_code.
    """

    def __init__(self, ruleset: Ruleset, record_type: str = "person", programmes: Iterable[str] | None = None) -> None:
        if record_type not in FACT_TYPES:
            raise ValueError(f"record_type must be one of {', '.join(sorted(FACT_TYPES))}")
        self.ruleset = ruleset
        self.record_type = record_type
        available = {p.id for p in ruleset.programmes_for(record_type)}
        wanted = available if programmes is None else set(programmes)
        if wanted - available:
            raise ValueError(f"not {record_type} programmes: {', '.join(sorted(wanted - available))}")
        self.programmes = sorted(wanted)
        self._compiled: dict[tuple, _Compiled] = {}
        self._compile(_fact_specs(record_type))  # refusals surface here, not on the first table

    def _compile(self, specs: dict[str, _FactSpec]) -> "_Compiled":
        signature = tuple((n, s.scale) for n, s in specs.items() if s.kind == "number")
        compiled = self._compiled.get(signature)
        if compiled is None:
            compiled = self._compiled[signature] = _Compiled(self.ruleset, self.record_type, specs, self.programmes)
        return compiled

    def columns(self) -> list[str]:
        return [f"{p}.{c}" for p in self.programmes
                for c in ("outcome", "amount", "reason", *self.ruleset.programmes[p].effect)]

    @property
    def facts_read(self) -> list[str]:
        """The record fields the programmes read (as_of always): decide() needs no other column."""
        return next(iter(self._compiled.values())).facts_used

    def decide(self, frame: pl.DataFrame | pl.LazyFrame, *, reasons: bool = True) -> pl.DataFrame:
        """Decision columns for every row of `frame` (with `reasons=False`, no reason columns)."""
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        compiled = self._compile(_fact_specs(self.record_type, _scales(frame)))
        return compiled.decide(frame, reasons)


class _Compiled:
    """The stages of column expressions for one input layout, and what turns keys into reasons."""

    def __init__(self, ruleset: Ruleset, record_type: str, specs: dict[str, _FactSpec], programmes: list[str]):
        self.specs = specs
        compiler = _Compiler(ruleset, record_type, specs)
        self.plans = [compiler.programme(ruleset.programmes[p]) for p in programmes]
        self.slots = compiler.slots
        self.facts_used = sorted(compiler.facts_used | {"as_of"})
        self.stages = compiler.stages
        self.fen: set[str] = set()
        self.enum_effects: dict[str, pl.Series] = {}  # an enumerated effect's codes, by output column
        self.outputs: dict[str, pl.Expr] = {}
        self.keys: dict[str, pl.Expr] = {}
        for plan in self.plans:
            self._outputs(plan)
        self.reasons = {plan.programme.id: _Reasons(plan) for plan in self.plans}

    # -- the columns per programme
    def _outputs(self, plan: _Plan) -> None:
        pid = plan.programme.id
        in_force, root = pl.col(plan.in_force), pl.col(plan.root)
        self.outputs[f"{pid}.outcome"] = (
            pl.when(in_force.not_()).then(pl.lit("ineligible", OUTCOME_DTYPE))
            .when(root).then(pl.lit("eligible", OUTCOME_DTYPE))
            .when(root.not_()).then(pl.lit("ineligible", OUTCOME_DTYPE))
            .otherwise(pl.lit("undetermined", OUTCOME_DTYPE)))
        if plan.amount is not None and plan.amount.value.kind == "number":
            paid = in_force & root & (pl.col(plan.amount.status) == 0)
            # whole fen, as Decimal(38, 0): reinterpreted as Decimal(38, 2) after the query
            self.outputs[f"{pid}.amount"] = pl.when(paid).then(plan.amount.value.expr).cast(pl.Decimal(38, 0))
            self.fen.add(f"{pid}.amount")
        else:
            self.outputs[f"{pid}.amount"] = pl.lit(None, AMOUNT_DTYPE)
        # OUT's effect columns, as engine.batch.effect_cell writes them: given for the outcomes the rule
        # names, where its value is computed (status 0)
        # out of force, decide gives no effect at all (_not_in_force): only a decided outcome has one
        outcomes = {"eligible": (in_force & root), "ineligible": (in_force & root.not_()),
                    "undetermined": (in_force & root.is_null())}
        for name, rule, code in plan.given_effects:
            given = _or_all([outcomes[o].fill_null(False) for o in rule.for_outcomes])
            try:
                cell = _effect_cells(code.value, rule.money)
            except ColumnarError as error:  # named where the rule is, as the compiler's own refusals are
                raise ColumnarError(f"cannot compile programme '{pid}' ({plan.programme.file}:{plan.programme.line}), "
                                    f"effect '{name}', column-wise: {error}") from None
            self.outputs[f"{pid}.{name}"] = pl.when(given & (pl.col(code.status) == 0)).then(cell)
            if rule.money and code.value.kind == "number":  # whole fen, as the amount: a view after the query
                self.outputs[f"{pid}.{name}"] = self.outputs[f"{pid}.{name}"].cast(pl.Decimal(38, 0))
                self.fen.add(f"{pid}.{name}")
            if code.value.kind == "enum":  # the member index: its code is looked up after the query
                codes = [m.value for m in _members(code.value.enum)]
                self.enum_effects[f"{pid}.{name}"] = pl.Series(codes, dtype=pl.Enum(codes))

        # The reason key: what reason_code depends on, packed into one integer (see the module doc).
        # Bits 0–1: the state (0 out of force, 1 ineligible, 2 undetermined, 3 eligible). Then, by
        # state: ineligible — one "not false" bit per condition; undetermined — each condition's
        # truth, and the detail (if()-branch truths, unknown facts, unset lookups); eligible — the
        # amount status, and the detail where the amount is unknown. Nothing else is kept, so rows
        # with the same reason mostly share one key and the distinct keys stay few.
        state = (pl.when(in_force.not_()).then(pl.lit(0, pl.UInt8)).when(root.not_()).then(pl.lit(1, pl.UInt8))
                 .when(root).then(pl.lit(3, pl.UInt8)).otherwise(pl.lit(2, pl.UInt8)))
        fields: list[tuple[str, Any, str, pl.Expr]] = [("state", None, "status", state)]
        fields += [("cond", i, "truth", pl.col(c)) for i, c in enumerate(plan.truths)]
        # An if() truth matters only where a fact it guards is unknown (else the read adds nothing),
        # and a case truth of a value rule only where that value is unknown: gated likewise.
        guarded: dict[int, set[str]] = {}
        for read in _all_fact_reads(plan):
            for slot, _ in read.guard:
                guarded.setdefault(slot, set()).add(read.name)
        case_slots = {when for code in _value_rules(plan) for when, _, _ in code.cases if type(when) is int}
        for slot in _slots_read(plan):
            truth = pl.col(self.slots[slot])
            if slot not in case_slots:
                unknown = _or_all([pl.col(self.specs[name].column).is_null() for name in sorted(guarded[slot])])
                truth = pl.when(unknown).then(truth).otherwise(pl.lit(False))
            fields.append(("slot", slot, "truth", truth))
        if plan.amount is not None:
            fields.append(("amount", None, "status", pl.col(plan.amount.status)))
            fields += [("effect", i, "flag", pl.col(code.status) == 3) for i, (_, code) in enumerate(plan.effects)]
        emits = _unset_emits(plan.unset_reads, self.slots)
        plan.unset_bits = [read for read, _ in emits]
        fields += [("unset", i, "flag", emit) for i, (_, emit) in enumerate(emits)]
        # A fact's unknown-ness matters only where something that reads it is open: a condition of
        # unknown truth, or an amount / effect whose value is unknown. Gating the bit keeps keys few.
        open_readers: dict[str, list[pl.Expr]] = {}
        for column, reads in zip(plan.truths, plan.cond_reads):
            for name in {r.name for r in reads if isinstance(r, _FactRead)}:
                open_readers.setdefault(name, []).append(pl.col(column).is_null())
        for code in _value_rules(plan):
            value_open = pl.col(code.status) == 3
            for _, when_reads, value_reads in code.cases:
                for name in {r.name for r in when_reads + value_reads if isinstance(r, _FactRead)}:
                    open_readers.setdefault(name, []).append(value_open)
        for name in sorted(open_readers):
            gate = _or_all(open_readers[name])
            fields.append(("null", name, "flag", pl.col(self.specs[name].column).is_null() & gate))
        width = sum(2 if kind in ("truth", "status") else 1 for _, _, kind, _ in fields)
        if width > 64:
            raise ColumnarError(f"cannot compile programme '{pid}' column-wise: its reason key needs {width} "
                                "bits; at most 64 are supported")
        dtype = pl.UInt32 if width <= 32 else pl.UInt64
        zero = pl.lit(0, dtype)
        offset = 0
        parts: dict[str, pl.Expr | None] = {"state": None, "cond": None, "amount": None, "detail": None}
        not_false = 0  # the low bit of every condition's field
        for what, which, kind, expr in fields:
            if kind == "truth":  # 01 true, 11 unknown, 00 false
                term = (pl.when(expr).then(pl.lit(1 << offset, dtype))
                        .when(expr.is_null()).then(pl.lit(3 << offset, dtype)).otherwise(zero))
                if what == "cond":
                    not_false |= 1 << offset
            elif kind == "status":
                term = expr.cast(dtype) * pl.lit(1 << offset, dtype) if offset else expr.cast(dtype)
            else:
                term = pl.when(expr).then(pl.lit(1 << offset, dtype)).otherwise(zero)
            plan.key_fields.append((what, which, offset, 2 if kind in ("truth", "status") else 1))
            offset += 2 if kind in ("truth", "status") else 1
            part = what if what in parts else "detail"
            parts[part] = term if parts[part] is None else parts[part] + term
        conds = parts["cond"] if parts["cond"] is not None else zero
        detail = parts["detail"] if parts["detail"] is not None else zero
        eligible = zero
        if parts["amount"] is not None:
            eligible = parts["amount"] + pl.when(pl.col(plan.amount.status) == 3).then(detail).otherwise(zero)
        word = parts["state"] + (pl.when(root.not_()).then(conds & pl.lit(not_false, dtype))
                                 .when(root.is_null()).then(conds + detail)
                                 .otherwise(eligible))
        word = pl.when(in_force).then(word).otherwise(zero)
        plan.key_word = f"{pid}.__key"
        self.keys[plan.key_word] = word

    # -- running
    def prepare(self, frame: pl.DataFrame) -> list[pl.Expr]:
        return _prepare(frame, self.specs, self.facts_used)

    def decide(self, frame: pl.DataFrame, reasons: bool) -> pl.DataFrame:
        lf = frame.lazy().select(self.prepare(frame))
        for stage in self.stages:
            if stage:
                lf = lf.with_columns(**stage)
        final = dict(self.outputs)
        if reasons:
            final.update(self.keys)
        out = lf.select(**final).collect()
        columns = []
        for plan in self.plans:
            pid = plan.programme.id
            columns.append(out.get_column(f"{pid}.outcome"))
            amount = out.get_column(f"{pid}.amount")
            columns.append(_fen_to_decimal(amount) if f"{pid}.amount" in self.fen else amount)
            if reasons:
                columns.append(self.reason_column(plan, out.get_column(plan.key_word)))
            for name, _, _ in plan.given_effects:
                effect = out.get_column(f"{pid}.{name}")
                if f"{pid}.{name}" in self.fen:
                    effect = _fen_to_decimal(effect)
                elif f"{pid}.{name}" in self.enum_effects:  # one gather from the codes, null where none
                    effect = self.enum_effects[f"{pid}.{name}"].gather(effect).alias(effect.name)
                columns.append(effect)
        return pl.DataFrame(columns, height=out.height) if columns else pl.DataFrame(height=out.height)

    def reason_column(self, plan: _Plan, keys: pl.Series) -> pl.Series:
        """The reason of every row: the keys dictionary-encoded (one hash pass, in Arrow), the reason
        of each distinct key built once, and the dictionary swapped for those strings."""
        import pyarrow as pa
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(keys.to_arrow())
        builder = self.reasons[plan.programme.id]
        texts = pa.array([builder.reason(word) for word in encoded.dictionary.to_pylist()], pa.string())
        reasons = pl.from_arrow(pa.DictionaryArray.from_arrays(encoded.indices, texts))
        return reasons.alias(f"{plan.programme.id}.reason")


def _effect_cells(value: _Val, money: bool) -> pl.Expr:
    """An effect's column, its cells as engine.batch.effect_cell gives them: an enumeration's code (an
    Enum), money as whole fen (Decimal once viewed), a whole number as an integer, another number as
    text in plain notation without trailing zeros (its held integer is value × 10**scale), a date in
    ISO form. No text is made where a number will do: text a row costs tenfold."""
    if value.kind == "enum":  # the member index; _Compiled.decide gathers its code (an Enum) after the query
        return value.expr
    if value.kind == "bool":
        return pl.when(value.expr).then(pl.lit("true")).otherwise(pl.lit("false"))
    if value.kind == "date":
        return value.expr.dt.to_string("%Y-%m-%d")
    if value.kind == "text":
        return value.expr
    if value.kind != "number":
        raise ColumnarError(f"an effect of kind {value.kind} cannot be written column-wise")
    held, scale = value.expr, value.scale
    if money:
        return held  # whole fen (value_rule quantizes money to scale 2)
    if scale == 0:
        return held.cast(pl.Int64)
    unit = 10 ** scale  # a fraction held: as text, for the per-record path writes such a number as text
    whole = (held.abs() // unit).cast(pl.String)
    fraction = (held.abs() % unit).cast(pl.String).str.zfill(scale).str.strip_chars_end("0")  # 6000.50 → 6000.5
    text = pl.when(fraction == "").then(whole).otherwise(pl.concat_str(whole, pl.lit("."), fraction))
    return pl.when(held < 0).then(pl.concat_str(pl.lit("-"), text)).otherwise(text)


def _fen_to_decimal(fen: pl.Series) -> pl.Series:
    """Whole fen (as Decimal(38, 0)) as Decimal(38, 2), without decimal arithmetic: the fen are
    already the unscaled integer of a scale-2 decimal, so the Arrow buffer is reinterpreted (a view)."""
    import pyarrow as pa

    whole = fen.to_arrow()  # Decimal(38, 0): the fen
    return pl.Series(fen.name, pl.from_arrow(whole.view(pa.decimal128(38, 2))), dtype=AMOUNT_DTYPE)


def _prepare(frame: pl.DataFrame, specs: dict[str, _FactSpec], facts_used: list[str]) -> list[pl.Expr]:
    """The input columns the rules read, as internal columns; checks the frame keeps the contract
    (an assessment date on every row, numbers within the record contract's bounds)."""
    if "as_of" not in frame.columns:
        raise UserError("the frame has no as_of column: every row needs its assessment date")
    exprs, checks = [], {}
    for name in facts_used:
        spec = specs[name]
        if name not in frame.columns:  # a column the table does not have: unknown in every row
            exprs.append(pl.lit(None, spec.dtype).alias(spec.column))
            continue
        dtype = frame.schema[name]
        exprs.append(_convert(dtype, spec).alias(spec.column))
        if spec.kind == "enum" and not isinstance(dtype, pl.Enum) and not dtype.is_integer():
            members = [m.value for m in spec.enum]
            checks[f"enum:{name}"] = (pl.col(name).cast(pl.String).is_in(pl.Series(members).implode()).not_()
                                      .fill_null(False).any())
        if spec.kind == "number":
            scale = (dtype.scale or 0) if isinstance(dtype, pl.Decimal) else 0
            physical = pl.col(name).to_physical() if isinstance(dtype, pl.Decimal) else pl.col(name)
            checks[name] = (physical.abs().max() >= 10 ** (spec.digits + scale)).fill_null(False)
    if frame.height:
        checks["as_of"] = pl.col("as_of").null_count() > 0
        found = frame.select(**checks).row(0, named=True)  # one parallel pass
        if found.pop("as_of"):
            raise UserError("as_of is empty in some rows: every row needs its assessment date")
        for name, beyond in found.items():
            if beyond and name.startswith("enum:"):
                spec = specs[name[5:]]
                raise UserError(f"{spec.name}: a value is not one of {', '.join(m.value for m in spec.enum)} "
                                "(give the codes; engine.records parses labels)")
            if beyond:
                raise UserError(f"{name}: values of {10 ** specs[name].digits} and more are outside the "
                                "record contract")
    return exprs


def _scales(frame: pl.DataFrame) -> dict[str, int]:
    return {name: dtype.scale or 0 for name, dtype in frame.schema.items() if isinstance(dtype, pl.Decimal)}


def evaluate_expression(ruleset: Ruleset, record_type: str, tree: Node, frame: pl.DataFrame) -> list[Any]:
    """One resolved, checked expression evaluated column-wise over a typed frame, returned as the
    per-record evaluator's values (Decimal, bool, date, enum members, tuples; UNKNOWN / UNSET for
    missing). For tests and tools: it shows the compiled semantics of a single expression."""
    from engine.types import UNKNOWN

    specs = _fact_specs(record_type, _scales(frame))
    compiler = _Compiler(ruleset, record_type, specs)
    compiler.where = ["an expression"]
    val = compiler.value(tree)
    lf = frame.lazy().select(_prepare(frame, specs, sorted(compiler.facts_used | {"as_of"})))
    for stage in compiler.stages:
        if stage:
            lf = lf.with_columns(**stage)
    unset = val.unset if val.unset is not None else pl.lit(False)
    out = lf.select(val.expr.alias("value"), unset.alias("unset")).collect()
    if out.height != frame.height:  # a constant
        out = pl.DataFrame({"value": [out["value"][0]] * frame.height, "unset": [out["unset"][0]] * frame.height},
                           schema=out.schema)
    members = _members(val.enum) if val.enum is not None else None
    results = []
    for value, is_unset in zip(out["value"].to_list(), out["unset"].to_list()):
        if value is None:
            results.append(UNSET if is_unset else UNKNOWN)
        elif val.kind == "number":
            results.append(Decimal(value).scaleb(-val.scale))
        elif val.kind == "enum":
            results.append(members[value])
        elif val.kind == "list":
            results.append(tuple(m for i, m in enumerate(members) if value >> i & 1))
        else:
            results.append(value)
    return results


def _value_rules(plan: _Plan) -> list[_ValueRuleCode]:
    """The value rules whose unknown facts can appear in the reason (amount-missing:)."""
    return [] if plan.amount is None else [plan.amount] + [code for _, code in plan.effects]


def _all_fact_reads(plan: _Plan) -> list[_FactRead]:
    reads = [r for rs in plan.cond_reads for r in rs if isinstance(r, _FactRead)]
    for code in _value_rules(plan):
        for _, when_reads, value_reads in code.cases:
            reads += [r for r in when_reads + value_reads if isinstance(r, _FactRead)]
    return reads


def _slots_read(plan: _Plan) -> list[int]:
    """The slots the reason needs: if()-guards of fact reads, and the case truths of value rules."""
    slots = {s for r in _all_fact_reads(plan) for s, _ in r.guard}
    for code in _value_rules(plan):
        slots |= {when for when, _, _ in code.cases if type(when) is int}
    return sorted(slots)


def _happened(read: _ParamRead, slots: list[str]) -> pl.Expr | None:
    """Whether the evaluator performed this lookup (None: always)."""
    key_known = read.key.is_not_null() if read.key is not None else None
    return _and(_guard_of(read.guard, slots), key_known, read.extra)


def _unset_emits(reads: list[_ParamRead], slots: list[str]) -> list[tuple[_ParamRead, pl.Expr]]:
    """For each lookup of a parameter that can be unset, in trace order: whether it adds a name to
    `unset:` — it happened, its entry is unset, and no earlier lookup of the same (name, key) happened
    (decision.parameters keeps one use per (name, key)). A lookup that an earlier, always-performed
    lookup of the same entry covers gets no bit at all."""
    emits = []
    for i, read in enumerate(reads):
        happened = _happened(read, slots)
        covered = False
        earlier = []
        for prior in reads[:i]:
            if prior.name != read.name:
                continue
            if prior.key_sig is not None and read.key_sig is not None and "lit" == prior.key_sig[0] == read.key_sig[0] \
                    and prior.key_sig != read.key_sig:
                continue  # two different literal keys: two entries
            prior_happened = _happened(prior, slots)
            if prior.key_sig == read.key_sig:
                if prior_happened is None or (prior.guard <= read.guard and prior.extra is None):
                    covered = True  # whenever this lookup happens, the earlier one did
                    break
                earlier.append(prior_happened)
            else:
                # a key known only per row on one side: the same entry where the keys are equal
                left = prior.key if prior.key is not None else pl.lit(prior.key_sig[1], pl.UInt32)
                right = read.key if read.key is not None else pl.lit(read.key_sig[1], pl.UInt32)
                earlier.append(_and(prior_happened, (left == right).fill_null(False)))
        if covered:
            continue
        emit = read.unset if happened is None else happened & read.unset
        if earlier:
            emit = emit & _or_all(earlier).not_()
        emits.append((read, emit.fill_null(False)))
    return emits


class _Reasons:
    """The reason code of a key, found by walking the rule structure as engine.decide does.

    Everything is decoded through precomputed bit offsets, and each distinct key is built once
    (the memo persists across tables, so a file decided in chunks builds each reason once)."""

    MEMO_LIMIT = 200_000

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        fields = {(what, which): offset for what, which, offset, _ in plan.key_fields}
        self.cond_offsets = [fields[("cond", i)] for i in range(len(plan.conditions))]
        self.cond_ids = [c.id for c in plan.conditions]
        index = {id(c): i for i, c in enumerate(plan.conditions)}

        def tree(item):  # a condition → its index; a group → (decisive value, children)
            if isinstance(item, Group):
                return (item.mode == "any", [tree(child) for child in item.items])
            return index[id(item)]

        self.root = tree(plan.programme.eligible_when)

        def reads(rs):  # (name, null bit, guard as ((slot offset, branch), ...))
            return [(r.name, 1 << fields[("null", r.name)], tuple((fields[("slot", s)], b) for s, b in r.guard))
                    for r in rs if isinstance(r, _FactRead)]

        self.cond_reads = [reads(rs) for rs in plan.cond_reads]
        self.unset_bits = [(1 << fields[("unset", i)], read.name) for i, read in enumerate(plan.unset_bits)]
        self.amount = None
        if plan.amount is not None:
            def cases(code):
                return [(when if when is None or type(when) is bool else fields[("slot", when)],
                         reads(when_reads), reads(value_reads)) for when, when_reads, value_reads in code.cases]

            self.amount = (fields[("amount", None)], cases(plan.amount),
                           [(1 << fields[("effect", i)], cases(code)) for i, (_, code) in enumerate(plan.effects)])
        self.memo: dict[int, str] = {}

    def reason(self, word: int) -> str:
        text = self.memo.get(word)
        if text is None:
            text = self.build(word)
            if len(self.memo) < self.MEMO_LIMIT:
                self.memo[word] = text
        return text

    @staticmethod
    def truth(word: int, offset: int) -> bool | None:
        code = (word >> offset) & 3
        return None if code == 3 else code == 1

    def unknown_facts(self, reads: list, word: int, found: list[str]) -> None:
        """Trace.unknown_facts over the reads that happened, appended to `found` once each."""
        for name, null, guard in reads:
            if word & null and name not in found:
                for offset, branch in guard:
                    code = (word >> offset) & 3
                    if code != 3 and (code == 1) != branch:
                        break  # the other branch of that if() ran: this read did not happen
                else:
                    found.append(name)

    def build(self, word: int) -> str:
        state = word & 3
        if state == 0:
            return "fail:not-in-force"
        if state == 1:  # ineligible: the conditions whose "not false" bit is clear
            return "fail:" + ";".join(i for i, o in zip(self.cond_ids, self.cond_offsets) if not word >> o & 1)
        if state == 2:
            holds = [self.truth(word, o) for o in self.cond_offsets]

            def truth_of(node):  # engine.decide.truth_of / combine, None for unknown
                if type(node) is int:
                    return holds[node]
                decisive, children = node
                values = [truth_of(child) for child in children]
                if decisive in values:
                    return decisive
                return None if None in values else not decisive

            found: list[str] = []

            def collect(node) -> None:  # engine.decide._missing
                for child in node[1]:
                    if truth_of(child) is not None:
                        continue
                    if type(child) is int:
                        self.unknown_facts(self.cond_reads[child], word, found)
                    else:
                        collect(child)

            collect(self.root)
            if found:
                return "missing:" + ";".join(found)
            return "unset:" + ";".join(name for bit, name in self.unset_bits if word & bit)
        if self.amount is None:
            return "ok"
        offset, amount_cases, effects = self.amount
        status = (word >> offset) & 3
        if status in (0, 1):  # computed, or no case applies
            return "ok"
        if status == 2:
            return "amount-not-set"
        found = []
        self.value_rule_facts(amount_cases, word, found)
        for bit, effect_cases in effects:
            if word & bit:
                self.value_rule_facts(effect_cases, word, found)
        return "amount-missing:" + ";".join(found)

    def value_rule_facts(self, cases: list, word: int, found: list[str]) -> None:
        """The unknown facts of a value rule's trace (engine.decide._value), in order."""
        for when, when_reads, value_reads in cases:
            self.unknown_facts(when_reads, word, found)
            if when is False:
                continue
            truth = True if when is None or when is True else self.truth(word, when)
            if truth is None:
                return
            if truth:
                self.unknown_facts(value_reads, word, found)
                return


def _convert(dtype: pl.DataType, spec: _FactSpec) -> pl.Expr:
    """An input column as the compiler's internal column."""
    column = pl.col(spec.name)
    kind = spec.kind
    if kind == "number":
        target = spec.dtype
        if isinstance(dtype, pl.Decimal):
            physical = column.to_physical()
            factor = 10 ** (spec.scale - (dtype.scale or 0))
            return (physical * factor if factor != 1 else physical).cast(target)
        if dtype.is_integer():
            return (column.cast(target) * 10 ** spec.scale) if spec.scale else column.cast(target)
        raise UserError(f"{spec.name}: expected a Decimal or integer column, not {dtype}")
    if kind == "enum":
        members = [m.value for m in spec.enum]
        if isinstance(dtype, pl.Enum):
            if list(dtype.categories) != members:
                raise UserError(f"{spec.name}: the Enum's categories must be {members}")
            return column.to_physical().cast(pl.UInt32)
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Categorical):
            return column.cast(pl.String).cast(pl.Enum(members)).to_physical().cast(pl.UInt32)
        if dtype.is_integer():
            return column.cast(pl.UInt32)
        raise UserError(f"{spec.name}: expected an Enum of {spec.enum.__name__}, not {dtype}")
    if kind == "list":
        if dtype.is_integer():
            return column.cast(pl.UInt64)
        if isinstance(dtype, pl.List):
            members = [m.value for m in spec.enum]
            bits = [column.list.contains(pl.lit(m)).cast(pl.UInt64) * (1 << i) for i, m in enumerate(members)]
            total = bits[0]
            for b in bits[1:]:
                total = total + b
            return total
        raise UserError(f"{spec.name}: expected a UInt64 bit mask or a list of {spec.enum.__name__}, not {dtype}")
    if kind == "date":
        return column.cast(pl.Date)
    if kind == "bool":
        return column.cast(pl.Boolean)
    return column.cast(pl.String)


# ------------------------------------------------------------------------------ building frames


def records_to_frame(records: Iterable[Any], record_type: str | None = None) -> pl.DataFrame:
    """The typed frame (frame_schema) of parsed records (engine.records.parse_record), in order.

    Numbers keep every decimal they were given: a column's scale is the default of its kind, or
    more where a value has more decimals.
    """
    records = list(records)
    if record_type is None:
        record_type = records[0].record_type if records else "person"
    names = list(FACT_TYPES[record_type])
    columns: dict[str, list] = {name: [] for name in names}
    for record in records:
        if record.record_type != record_type:
            raise ValueError(f"record {record.applicant_id} is a {record.record_type} record, not {record_type}")
        for name in names:
            columns[name].append(getattr(record, name))
    scales = {}
    for name, fact_type in FACT_TYPES[record_type].items():
        if fact_type.kind == "number":
            scales[name] = max([max(0, -Decimal(v).as_tuple().exponent) for v in columns[name] if v is not None],
                               default=0)
    schema = frame_schema(record_type, scales)
    data = {}
    for name, fact_type in FACT_TYPES[record_type].items():
        values = columns[name]
        kind = fact_type.kind
        if kind == "enum":
            values = [None if v is None else fact_type.enum(v).value for v in values]
        elif kind == "list":
            members = _members(fact_type.enum)
            values = [None if v is None else sum(1 << members.index(m) for m in v) for v in values]
        elif kind == "number":
            values = [None if v is None else Decimal(v) for v in values]
        data[name] = pl.Series(name, values, dtype=schema[name])
    return pl.DataFrame(data)
