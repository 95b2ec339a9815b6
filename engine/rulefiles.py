"""The rule file formats, as pydantic models: what policy staff may write in rules/.

These models check the shape of each file (keys, types, required fields). What the text *means* —
expressions, names, citations, dates — is checked by engine.loader once every file is read.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_expression_text(value: Any) -> Any:
    """`value: 50000` and `value: 0.3` in YAML are expressions too; keep them as text, exactly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return value


ExpressionText = Annotated[str, BeforeValidator(_as_expression_text), Field(min_length=1)]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
FactName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]


class Text(Strict):
    """A sentence in both languages; `{name}` placeholders show facts, definitions or `{param}`."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Citation(Strict):
    doc: str
    clause: str | None = None  # as the text writes it: 三（二）, （十三）; omitted for unlabelled documents
    quote: str | None = None  # an excerpt that must appear in the clause (whitespace-insensitive)

    @model_validator(mode="after")
    def _clause_or_quote(self):
        if self.clause is None and self.quote is None:
            raise ValueError("a citation needs a clause, a quote, or both")
        return self


class Effective(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    valid_from: date = Field(alias="from")
    valid_to: date | None = Field(default=None, alias="to")  # last day in force

    @model_validator(mode="after")
    def _in_order(self):
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"`to: {self.valid_to}` (the last day in force) is before `from: {self.valid_from}`")
        return self


class ConditionSpec(Strict):
    id: RuleId
    when: ExpressionText
    says: Text
    interpretation: Text | None = None  # set when the condition is our reading, not the text's words
    cites: list[Citation] = []


class GroupSpec(Strict):
    id: RuleId | None = None
    says: Text | None = None
    all: list["ItemSpec"] | None = None
    any: list["ItemSpec"] | None = None

    @model_validator(mode="after")
    def _one_mode(self):
        if (self.all is None) == (self.any is None):
            raise ValueError("a group has exactly one of `all:` or `any:`")
        if not (self.all or self.any):
            raise ValueError("a group needs at least one condition")
        return self


def item_kind(value: Any) -> str:
    """A group has `all:` or `any:`; anything else is a condition (so a missing `when:` is named as such)."""
    is_group = isinstance(value, dict) and "when" not in value and ("all" in value or "any" in value)
    return "group" if is_group else "condition"


ItemSpec = Annotated[
    Union[Annotated[ConditionSpec, Tag("condition")], Annotated[GroupSpec, Tag("group")]],
    Discriminator(item_kind),
]
GroupSpec.model_rebuild()


class CaseSpec(Strict):
    when: ExpressionText
    value: ExpressionText
    says: Text | None = None


class ValueSpec(Strict):
    """An amount or an effect: one expression, or cases taken in order (the first that holds)."""

    value: ExpressionText | None = None
    cases: list[CaseSpec] | None = None
    otherwise: ExpressionText | None = None  # when no case holds; without it, no case → no value
    type: str | None = None  # enumeration name for bare values such as `engineer` (e.g. Title), or `money`
    says: Text | None = None
    # Outcomes for which the value is given. Default: only when eligible. A compliance check gives
    # its shortfall when it fails: `for_outcomes: [eligible, ineligible]`.
    for_outcomes: list[Literal["eligible", "ineligible", "undetermined"]] = ["eligible"]
    # Money is rounded to the fen: half up by default; a shortfall rounds up so paying it is enough.
    rounding: Literal["half_up", "up", "down"] = "half_up"

    @model_validator(mode="after")
    def _one_form(self):
        if (self.value is None) == (self.cases is None):
            raise ValueError("give either `value:` or `cases:`")
        if self.otherwise is not None and self.cases is None:
            raise ValueError("`otherwise:` belongs with `cases:`")
        return self


class DefinitionSpec(Strict):
    value: ExpressionText
    says: Text
    type: str | None = None  # enumeration name when the value is a bare enum literal
    interpretation: Text | None = None
    cites: list[Citation] = []


Force = Literal["entitlement", "may_apply", "encouraged", "obligation"]
RecordTypeName = Literal["person", "enterprise"]


class ProgrammeFile(Strict):
    programme: RuleId
    title: Text
    summary: Text | None = None
    record_type: RecordTypeName
    force: Force
    beneficiary: str = Field(min_length=1)
    beneficiary_from: FactName | None = None  # a fact naming who is paid, when it varies (paid_to)
    effective: Effective
    cites: list[Citation] = Field(min_length=1)
    interpretations: list[Text] = []
    definitions: dict[FactName, DefinitionSpec] = {}
    eligible_when: GroupSpec
    amount: ValueSpec | None = None
    effect: dict[FactName, ValueSpec] = {}


class ParameterValueSpec(Strict):
    value: Any = None  # a number, true/false, a table {key: number-or-null}, or null when unset
    provenance: Literal["seed", "public", "unset"]
    source: str = Field(min_length=1)
    note: Text | None = None

    @model_validator(mode="after")
    def _unset_means_null(self):
        if (self.provenance == "unset") != (self.value is None):
            raise ValueError("provenance `unset` goes with `value: null`, and only with it")
        return self


class ParameterFile(Strict):
    parameter: str | None = None  # optional: the name comes from the path (apprenticeship/rate.yaml)
    description: Text
    type: Literal["money", "rate", "number", "integer", "bool"]
    unit: str | None = None
    keyed_by: str | None = None  # enumeration name: the value is a table by, e.g., SkillLevel
    cites: list[Citation] = Field(min_length=1)
    values: dict[date, ParameterValueSpec] = Field(min_length=1)


class DefinitionsFile(Strict):
    record_type: RecordTypeName
    definitions: dict[FactName, DefinitionSpec] = Field(min_length=1)


class RulesetFile(Strict):
    name: str
    version: str
    title: Text | None = None
