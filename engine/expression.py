"""The rule expression language: tokens, syntax tree and parser.

Rule text is data. It is tokenised and parsed here into a small tree of frozen nodes; nothing in
rule text can reach Python's eval/exec, attributes or imports, because the grammar has no such
things. Names are resolved and types checked afterwards by engine.checker.

Grammar (lowest precedence first):
    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum ((== | != | < | <= | > | >=) sum | "not"? "in" sum)?
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | PERCENT | DATE | STRING | true | false
                | NAME | NAME "(" [expr ("," expr)*] ")" | "(" expr ")" | "[" [expr ("," expr)*] "]"
NAME may contain dots (parameter names such as ``apprenticeship.new_hire_rate``); a dot is part of
the name, never attribute access.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from engine.errors import ExpressionError

# ---------------------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class Node:
    pos: int = field(compare=False)  # 1-based column in the source text, for error messages


@dataclass(frozen=True)
class Literal(Node):
    value: Any  # Decimal, bool, date or str


@dataclass(frozen=True)
class Name(Node):
    """A bare name before resolution: a fact, a definition or an enumeration value."""

    name: str


@dataclass(frozen=True)
class ListOf(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "not" | "-"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # and or + - * / == != < <= > >= in "not in"
    left: Node
    right: Node


# Resolved nodes, produced by the checker from Name / Call.


@dataclass(frozen=True)
class FactRef(Node):
    name: str


@dataclass(frozen=True)
class DefinitionRef(Node):
    name: str


@dataclass(frozen=True)
class ParamRef(Node):
    name: str
    key: Node | None


COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
ARITHMETIC = ("+", "-", "*", "/")

# ------------------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\d.]))
  | (?P<percent>\d+(?:\.\d+)?%)
  | (?P<number>\d+(?:\.\d+)?(?![\w.]))
  | (?P<string>'[^'\n]*'|"[^"\n]*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|<=|>=|[<>+\-*/(),\[\]])
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "true", "false"}


@dataclass(frozen=True)
class Token:
    kind: str  # number percent date string name keyword op end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if match is None:
            raise ExpressionError(f"unexpected character {text[index]!r}", text, index + 1)
        kind = match.lastgroup
        if kind != "space":
            word = match.group()
            if kind == "name" and word in KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, word, index + 1))
        index = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# ------------------------------------------------------------------------------------- parser

MAX_DEPTH = 64  # deep nesting is never policy; refusing it keeps the parser from exhausting the stack


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # -- helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.current
        return token.kind == kind and (text is None or token.text == text)

    def expect(self, kind: str, text: str) -> Token:
        if not self.at(kind, text):
            self.fail(f"expected {text!r}")
        return self.advance()

    def fail(self, message: str) -> None:
        token = self.current
        found = "end of text" if token.kind == "end" else repr(token.text)
        raise ExpressionError(f"{message}, found {found}", self.text, token.pos)

    def nested(self):
        parser = self

        class _Depth:
            def __enter__(self_inner):
                parser.depth += 1
                if parser.depth > MAX_DEPTH:
                    raise ExpressionError("expression nested too deeply", parser.text, parser.current.pos)

            def __exit__(self_inner, *exc):
                parser.depth -= 1

        return _Depth()

    # -- grammar
    def parse(self) -> Node:
        if self.at("end"):
            raise ExpressionError("empty expression", self.text, 1)
        node = self.expression()
        if not self.at("end"):
            self.fail("expected an operator or the end of the expression")
        return node

    def expression(self) -> Node:
        with self.nested():
            return self.disjunction()

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.at("keyword", "or"):
            token = self.advance()
            node = Binary(token.pos, "or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.at("keyword", "and"):
            token = self.advance()
            node = Binary(token.pos, "and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.at("keyword", "not"):
            token = self.advance()
            with self.nested():
                return Unary(token.pos, "not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.sum()
        token = self.current
        if token.kind == "op" and token.text in COMPARISONS:
            self.advance()
            return Binary(token.pos, token.text, node, self.sum())
        if self.at("keyword", "in"):
            self.advance()
            return Binary(token.pos, "in", node, self.sum())
        if self.at("keyword", "not") and self.tokens[self.index + 1].text == "in":
            self.advance()
            self.advance()
            return Binary(token.pos, "not in", node, self.sum())
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.current.kind == "op" and self.current.text in ("+", "-"):
            token = self.advance()
            node = Binary(token.pos, token.text, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.current.kind == "op" and self.current.text in ("*", "/"):
            token = self.advance()
            node = Binary(token.pos, token.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("op", "-"):
            token = self.advance()
            with self.nested():
                return Unary(token.pos, "-", self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Literal(token.pos, Decimal(token.text))
        if token.kind == "percent":
            self.advance()
            return Literal(token.pos, Decimal(token.text[:-1]) / 100)
        if token.kind == "date":
            self.advance()
            try:
                return Literal(token.pos, date.fromisoformat(token.text))
            except ValueError:
                raise ExpressionError(f"{token.text} is not a real date", self.text, token.pos) from None
        if token.kind == "string":
            self.advance()
            return Literal(token.pos, token.text[1:-1])
        if token.kind == "keyword" and token.text in ("true", "false"):
            self.advance()
            return Literal(token.pos, token.text == "true")
        if token.kind == "name":
            self.advance()
            if self.at("op", "("):
                self.advance()
                return Call(token.pos, token.text, self.items(")"))
            return Name(token.pos, token.text)
        if self.at("op", "("):
            self.advance()
            node = self.expression()
            self.expect("op", ")")
            return node
        if self.at("op", "["):
            self.advance()
            return ListOf(token.pos, self.items("]"))
        self.fail("expected a value, a name or '('")
        raise AssertionError  # unreachable: fail() raises

    def items(self, closer: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if self.at("op", closer):
            self.advance()
            return ()
        while True:
            items.append(self.expression())
            if self.at("op", ","):
                self.advance()
                continue
            self.expect("op", closer)
            return tuple(items)


def parse(text: str) -> Node:
    """Parse rule text into a syntax tree; raises ExpressionError (and nothing else) on bad text."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected expression text, got {type(text).__name__}")
    return _Parser(text).parse()


def names_in(node: Node) -> set[str]:
    """Fact and definition names a resolved tree reads (for dependency and cycle checks)."""
    found: set[str] = set()

    def walk(n: Node) -> None:
        if isinstance(n, (FactRef, DefinitionRef, Name)):
            found.add(n.name)
        for child in children(n):
            walk(child)

    walk(node)
    return found


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, (Call, ListOf)):
        return node.args if isinstance(node, Call) else node.items
    if isinstance(node, ParamRef):
        return (node.key,) if node.key is not None else ()
    return ()


def to_text(node: Node) -> str:
    """Canonical text of a tree (for rule diffs and messages); parse(to_text(t)) == t."""
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return repr(value) if "'" not in value else f'"{value}"'
        return str(value)
    if isinstance(node, (Name, FactRef, DefinitionRef)):
        return node.name
    if isinstance(node, ListOf):
        return "[" + ", ".join(to_text(i) for i in node.items) + "]"
    if isinstance(node, Call):
        return f"{node.function}(" + ", ".join(to_text(a) for a in node.args) + ")"
    if isinstance(node, ParamRef):
        key = f", {to_text(node.key)}" if node.key is not None else ""
        return f"param({node.name}{key})"
    if isinstance(node, Unary):
        inner = to_text(node.operand)
        return f"not ({inner})" if node.op == "not" else f"-({inner})"
    if isinstance(node, Binary):
        return f"({to_text(node.left)} {node.op} {to_text(node.right)})"
    raise TypeError(node)
