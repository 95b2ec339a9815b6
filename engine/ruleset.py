"""The loaded, checked rules: what the evaluator and every renderer read.

Built only by engine.loader from the files in rules/. Expressions here are resolved, typed trees.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.expression import Node
from engine.parameters import DatedParameter
from engine.types import FactType


@dataclass(frozen=True)
class Text:
    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True)
class Citation:
    doc: str
    clause: str | None
    quote: str  # the excerpt given in the rule, or the whole clause text from rules/sources/


@dataclass
class Condition:
    id: str
    source: str  # the expression as written
    tree: Node
    says: Text
    interpretation: Text | None
    cites: list[Citation]
    file: str
    line: int


@dataclass
class Group:
    id: str | None
    mode: str  # all | any
    items: list["Condition | Group"]
    says: Text | None
    line: int

    def conditions(self):
        """Every leaf condition, in order."""
        for item in self.items:
            if isinstance(item, Group):
                yield from item.conditions()
            else:
                yield item


@dataclass
class Case:
    when: Node | None  # None: the single `value:` form
    when_source: str | None
    value: Node
    value_source: str
    says: Text | None
    line: int


@dataclass
class ValueRule:
    """An amount or one named effect: cases in order, the first that holds gives the value."""

    name: str
    type: FactType
    cases: list[Case]
    otherwise: Case | None
    says: Text | None
    money: bool = False  # exact to the fen: rounded half-up to 2 places
    for_outcomes: tuple[str, ...] = ("eligible",)
    rounding: str = "half_up"


@dataclass
class Definition:
    name: str
    source: str
    tree: Node
    type: FactType
    says: Text
    interpretation: Text | None
    cites: list[Citation]
    file: str
    line: int


@dataclass
class Programme:
    id: str
    title: Text
    summary: Text | None
    record_type: str
    force: str
    beneficiary: str
    beneficiary_from: str | None
    valid_from: date
    valid_to: date | None
    cites: list[Citation]
    interpretations: list[Text]
    definitions: dict[str, Definition]  # local to this programme
    eligible_when: Group
    amount: ValueRule | None
    effect: dict[str, ValueRule]
    parameters: list[str]  # every parameter the programme can read, directly or through definitions
    file: str
    line: int

    def in_force(self, when: date) -> bool:
        return self.valid_from <= when and (self.valid_to is None or when <= self.valid_to)

    def expressions(self):
        """Every expression tree the programme evaluates: conditions, then amount and effect cases."""
        for condition in self.eligible_when.conditions():
            yield condition.tree
        for rule in filter(None, [self.amount, *self.effect.values()]):
            for case in rule.cases + ([rule.otherwise] if rule.otherwise else []):
                if case.when is not None:
                    yield case.when
                yield case.value


@dataclass
class Ruleset:
    name: str
    version: str
    digest: str
    programmes: dict[str, Programme]
    parameters: dict[str, DatedParameter]
    definitions: dict[str, dict[str, Definition]]  # record type → name → shared definition
    sources: Any  # engine.sources.SourceLibrary
    files: list[str] = field(default_factory=list)

    def programmes_for(self, record_type: str) -> list[Programme]:
        return [p for p in self.programmes.values() if p.record_type == record_type]
