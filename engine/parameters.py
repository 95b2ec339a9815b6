"""Dated parameters: a policy figure with the values it has taken, each from a start date.

A value's provenance says where it comes from (`seed`: a source document states it; `public`: a
public implementing document, to be confirmed; `unset`: nothing is published). An unset figure is
UNSET, never zero. Looking a parameter up before its first start date is impossible by
construction: the loader refuses rules that could do it.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.types import UNSET, FactType, LabelledEnum


@dataclass(frozen=True)
class ParameterValue:
    valid_from: date
    value: Any  # Decimal | bool | dict[LabelledEnum, Decimal | UNSET] | UNSET
    provenance: str  # seed | public | unset
    source: str
    note: Any = None  # Text | None


@dataclass(frozen=True)
class ParameterUse:
    """What a decision reports about one parameter it read."""

    name: str
    key: LabelledEnum | None
    value: Any
    valid_from: date
    provenance: str
    source: str


@dataclass
class DatedParameter:
    name: str
    description: Any  # Text
    type: FactType
    kind: str  # money | rate | number | integer | bool
    unit: str | None
    keyed_by: type[LabelledEnum] | None
    cites: list
    values: list[ParameterValue]  # sorted by valid_from
    file: str
    line: int

    def __post_init__(self) -> None:
        self._starts = [v.valid_from for v in self.values]

    @property
    def first_date(self) -> date:
        return self.values[0].valid_from

    def in_force(self, when: date) -> ParameterValue | None:
        index = bisect.bisect_right(self._starts, when) - 1
        return self.values[index] if index >= 0 else None

    def lookup(self, when: date, key: LabelledEnum | None = None) -> ParameterUse:
        entry = self.in_force(when)
        if entry is None:  # the loader prevents this for rules; a direct caller gets a clear error
            raise LookupError(f"parameter {self.name} has no value before {self.first_date}")
        value = entry.value
        if key is not None and value is not UNSET:
            value = value.get(key, UNSET)
        provenance = "unset" if value is UNSET else entry.provenance
        return ParameterUse(self.name, key, value, entry.valid_from, provenance, entry.source)
