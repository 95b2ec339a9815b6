"""The value domain shared by records, rules and the evaluator.

Facts are plain Python values (bool, Decimal, int, date, str enums, tuples of enums) or one of two
sentinels: UNKNOWN (the applicant record does not say) and UNSET (the policy sources publish no
figure). They are different things: learning a fact can settle UNKNOWN, only a policy edit settles
UNSET.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:  # a sentinel must never pass for a truth value by accident
        raise TypeError(f"{self._name} has no truth value; use the three-valued operators")

    def __reduce__(self):  # keep identity across pickling (multiprocessing, caches)
        return self._name


UNKNOWN = _Sentinel("UNKNOWN")
UNSET = _Sentinel("UNSET")


def is_missing(value: Any) -> bool:
    return value is UNKNOWN or value is UNSET


class LabelledEnum(str, Enum):
    """An enumeration whose members carry a Chinese label, accepted synonyms and an optional rank.

    Members are declared as ``code = ("code", "中文标签", ("synonym", ...), rank_or_None)``.
    The member's value (and str) is the English code, so it serialises as the contract says.
    """

    def __new__(cls, code: str, zh: str, synonyms: tuple[str, ...] = (), rank: int | None = None):
        member = str.__new__(cls, code)
        member._value_ = code
        member.zh = zh
        member.synonyms = synonyms
        member.rank = rank
        return member

    def __str__(self) -> str:
        return self.value

    @classmethod
    def labels(cls) -> dict[str, "LabelledEnum"]:
        """Every accepted spelling (code, Chinese label, synonyms), normalised, → member."""
        cached = cls.__dict__.get("_label_index")
        if cached is None:
            cached = {}
            for member in cls:
                for spelling in (member.value, member.zh, *member.synonyms):
                    cached[normalise_label(spelling)] = member
            setattr(cls, "_label_index", cached)
        return cached

    @classmethod
    def parse(cls, text: Any) -> "LabelledEnum":
        """Member for a code, label or synonym; ValueError naming the allowed values otherwise."""
        if isinstance(text, cls):
            return text
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise ValueError(f"expected one of {cls.allowed_text()}")
        member = cls.labels().get(normalise_label(str(text)))
        if member is None:
            raise ValueError(f"expected one of {cls.allowed_text()}")
        return member

    @classmethod
    def allowed_text(cls) -> str:
        return ", ".join(f"{m.value} ({m.zh})" for m in cls)


def normalise_label(text: str) -> str:
    """Case-, width- and space-insensitive form of a label (全角 → 半角, NFKC)."""
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


@dataclass(frozen=True)
class FactType:
    """The static type of a fact, definition, parameter or expression.

    kind: bool | number | date | text | enum | list (a list of enum members).
    integer: a number that only takes whole values (to_qualify steps by 1, not 0.01).
    """

    kind: str
    enum: type[LabelledEnum] | None = None
    integer: bool = False

    def describe(self) -> str:
        if self.kind == "enum":
            return f"one of {self.enum.__name__}"
        if self.kind == "list":
            return f"list of {self.enum.__name__}"
        return "whole number" if self.integer else self.kind


BOOL = FactType("bool")
NUMBER = FactType("number")
INTEGER = FactType("number", integer=True)
DATE = FactType("date")
TEXT = FactType("text")


def enum_type(enum: type[LabelledEnum]) -> FactType:
    return FactType("enum", enum)


def list_type(enum: type[LabelledEnum]) -> FactType:
    return FactType("list", enum)


class FormulaError(str):
    """A spreadsheet cell holding a formula's error (#DIV/0!, #N/A …): written back as the text it
    shows, never read as a fact — the record contract refuses it in every field."""

    __slots__ = ()
