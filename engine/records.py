"""The applicant record contract (BRIEF §4): models, lenient cell parsing and the fact view.

Offices fill records in by hand, in YAML, JSON or spreadsheets, so every field accepts the
spellings a person would type (是/否, 2024/5/1, " 1,000 ", 高级工/三级/3) and turns them into one
canonical Python value. Absent means unknown — never zero, false or empty — and every problem is
reported as a RecordError naming the field, the value and what is allowed.

Each field is declared once, with its Python type, its cell parser, its FactType and its Chinese
header label; FACT_TYPES and FIELD_LABELS_ZH are read off the models.
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Callable, Literal, Mapping, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticUndefined

from engine import vocabulary as V
from engine.errors import UserError
from engine.types import (
    BOOL, DATE, INTEGER, NUMBER, TEXT, UNKNOWN, FactType, LabelledEnum, enum_type, list_type,
    normalise_label,
)

__all__ = [
    "PersonRecord", "EnterpriseRecord", "Record", "RecordError", "FieldProblem", "UnknownField",
    "parse_record", "is_blank", "facts", "record_to_dict", "FACT_TYPES", "FIELD_LABELS_ZH", "RECORD_MODELS",
]


# ---------------------------------------------------------------------------------------------
# Cell parsers. Each takes a non-blank value and returns the canonical value or raises ValueError
# with a message that completes "field 'x': value 'v' …". Only ValueError: pydantic turns that
# into a validation error, anything else would escape as a traceback.

def is_blank(value: Any) -> bool:
    """An empty cell: None, or text of spaces only. Blank means absent, never zero or no."""
    return value is None or (isinstance(value, str) and not value.strip())


def _nfkc(text: str) -> str:
    # 全角 digits and punctuation (２４, １，０００, ７５％) are what Chinese IMEs produce
    return unicodedata.normalize("NFKC", text).strip()


_TRUE = frozenset({"true", "yes", "y", "1", "是", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "否", "f"})


def _whole(value: Any) -> int | None:
    """A number cell holding a whole value (3, 3.0, Decimal("3")) as int; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if _whole(value) in (0, 1):  # a 1/0 spreadsheet cell
        return _whole(value) == 1
    if isinstance(value, str):
        key = normalise_label(value)
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    raise ValueError("is not valid; expected yes or no (true/false, 是/否, 1/0)")


_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]0{1,2}:00(?::00(?:\.0+)?)?)?",  # a midnight time, as spreadsheet exports add
    re.ASCII,
)


def _to_date(value: Any) -> _dt.date:
    if isinstance(value, _dt.datetime):  # before date: datetime is a date subclass
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        match = _DATE.fullmatch(_nfkc(value))
        if match:
            try:
                return _dt.date(*map(int, match.groups()))
            except ValueError:
                raise ValueError("is not a real calendar date") from None
    raise ValueError("is not valid; expected a date like 2024-05-01 (also 2024/5/1, 2024.5.1, 2024年5月1日)")


# Plain decimal notation only: no exponents, and commas only as thousands separators, so that
# "1,5" (a European decimal comma) is an error rather than 15.
_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)?(?:\.\d+)?", re.ASCII)
_MAX_DIGITS_BEFORE_POINT = 15  # beyond any real amount; keeps int/str conversions cheap


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("is not valid; expected a number, not true/false")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))  # the shortest repr, never the binary expansion
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = "".join(_nfkc(value).split())  # also drops spaces used as thousands separators
        if not text or not any(c.isdigit() for c in text) or not _NUMBER.fullmatch(text):
            raise ValueError("is not valid; expected a number like 1200 or 1,200.50")
        number = Decimal(text.replace(",", ""))
    else:
        raise ValueError("is not valid; expected a number")
    if not number.is_finite():
        raise ValueError("is not valid; expected a finite number")
    if number.adjusted() >= _MAX_DIGITS_BEFORE_POINT:
        raise ValueError("is too large")
    return number


def _non_negative(number: Decimal) -> Decimal:
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _to_amount(value: Any) -> Decimal:
    """Money, hours: an exact non-negative Decimal."""
    return _non_negative(_to_decimal(value))


def _to_count(value: Any) -> int:
    """Counts and years: a non-negative whole number (12.0 is 12, 12.5 is an error)."""
    number = _non_negative(_to_decimal(value))
    if number != number.to_integral_value():
        raise ValueError("must be a whole number")
    return int(number)


def _to_ratio(value: Any) -> Decimal:
    """A share between 0 and 1; "75%" is 0.75."""
    if isinstance(value, str) and _nfkc(value).endswith("%"):
        number = _to_decimal(_nfkc(value)[:-1]).scaleb(-2)
    else:
        number = _to_decimal(value)
    if not 0 <= number <= 1:
        raise ValueError("must be between 0 and 1 (for example 0.75 or 75%)")
    return number


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if _whole(value) is not None:  # an id typed into a number cell
        return str(_whole(value))
    raise ValueError("is not valid; expected text")


def _to_country(value: Any) -> str:
    code = _nfkc(_to_text(value)).upper()
    if not re.fullmatch(r"[A-Z]{2,3}", code):
        raise ValueError("is not valid; expected an ISO country code such as CN")
    return code


def _member_parser(enum: type[LabelledEnum]) -> Callable[[Any], LabelledEnum]:
    def parse(value: Any) -> LabelledEnum:
        if _whole(value) is not None:
            value = _whole(value)  # a level typed as the number 3 may arrive as 3.0
        try:
            return enum.parse(value)
        except ValueError as exc:
            raise ValueError(f"is not valid; {exc}") from None
    return parse


_LIST_SEPARATORS = re.compile(r"[;；、,，]")
_NONE_WORDS = frozenset({"none", "无", "[]"})


def _list_parser(enum: type[LabelledEnum]) -> Callable[[Any], tuple]:
    member = _member_parser(enum)

    def parse(value: Any) -> tuple:
        if isinstance(value, str):
            if normalise_label(value) in _NONE_WORDS:
                return ()  # known: none of them
            items = [part for part in _LIST_SEPARATORS.split(value) if part.strip()]
        elif isinstance(value, (list, tuple, set, frozenset)):
            items = [item for item in value if not is_blank(item)]
        else:
            items = [value]
        found, bad = set(), []
        for item in items:
            try:
                found.add(member(item))
            except ValueError:
                bad.append(item.strip() if isinstance(item, str) else item)
        if bad:
            shown = ", ".join(repr(b) for b in bad)
            which = f"item {shown} is" if len(bad) == 1 else f"items {shown} are"
            raise ValueError(f"is not valid; {which} not one of {enum.allowed_text()}")
        return tuple(m for m in enum if m in found)  # declaration order, duplicates gone
    return parse


# ---------------------------------------------------------------------------------------------
# Field kinds: Python type + cell parser + FactType, declared once and reused by every field.

@dataclass(frozen=True)
class CellKind:
    """Annotation metadata naming a field's cell parser, so column-wise readers can tell kinds apart."""

    parse: Callable[[Any], Any]


def _kind(py_type: Any, parse: Callable[[Any], Any], fact_type: FactType, *, required: bool = False):
    def validate(value: Any) -> Any:
        if is_blank(value):
            if required:
                raise ValueError("is required and must not be empty")
            return None  # absent: unknown
        return parse(value)

    return Annotated[py_type if required else Optional[py_type], BeforeValidator(validate), fact_type,
                     CellKind(parse)]


Bool = _kind(bool, _to_bool, BOOL)
Day = _kind(_dt.date, _to_date, DATE)
Amount = _kind(Decimal, _to_amount, NUMBER)
Ratio = _kind(Decimal, _to_ratio, NUMBER)
Count = _kind(int, _to_count, INTEGER)
Text = _kind(str, _to_text, TEXT)
Country = _kind(str, _to_country, TEXT)
RequiredText = _kind(str, _to_text, TEXT, required=True)


def Choice(enum: type[LabelledEnum]):
    return _kind(enum, _member_parser(enum), enum_type(enum))


def Choices(enum: type[LabelledEnum]):
    return _kind(tuple[enum, ...], _list_parser(enum), list_type(enum))


def _record_type(*codes: str):
    """The discriminator: a Literal, but typed as a RecordType fact and accepting 个人/企业."""
    return Annotated[Literal[codes], BeforeValidator(lambda v: V.RecordType.parse(v).value),
                     enum_type(V.RecordType)]


_RECORD_TYPE_ZH = "申请人类型"


def _zh(label: str, default: Any = None, **kw: Any):
    """A field with its Chinese header label (the label doubles as the JSON-schema title)."""
    return Field(default, title=label, **kw)


# ---------------------------------------------------------------------------------------------
# The models, in the order of BRIEF §4.

class _RecordBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    # declared here so it comes first in every view; each subclass narrows it to its own code
    record_type: _record_type("person", "enterprise") = _zh(_RECORD_TYPE_ZH, "person")
    applicant_id: RequiredText = Field(title="申请编号")
    name: Text = _zh("姓名")
    # default today so a record built directly is still dated; parse_record passes its own default
    as_of: Day = Field(default_factory=_dt.date.today, title="评估日期")
    district: Text = _zh("所在区")


class PersonRecord(_RecordBase):
    """One person applying (or being assessed) for the person programmes."""

    record_type: _record_type("person") = _zh(_RECORD_TYPE_ZH, "person")
    hukou: Choice(V.Hukou) = _zh("户籍")
    nationality: Country = _zh("国籍", "CN")
    employment_status: Choice(V.EmploymentStatus) = _zh("就业状态")
    registered_unemployed: Bool = _zh("是否登记失业")
    groups: Choices(V.Group) = _zh("人员类别")
    discharge_date: Day = _zh("退役日期")
    student_stage: Choice(V.StudentStage) = _zh("在校阶段")
    employer_id: Text = _zh("用人单位编号")
    employer_size: Choice(V.EmployerSize) = _zh("企业规模")
    employer_ownership: Choice(V.EmployerOwnership) = _zh("企业性质")
    employer_dispatch_only: Bool = _zh("是否纯劳务派遣企业")
    employer_pays_education_surcharge: Bool = _zh("企业是否缴纳地方教育附加")
    employer_has_training_system: Bool = _zh("企业是否建立职工培训制度")
    employer_skilled_ratio: Ratio = _zh("企业技能人才占比")
    hire_date: Day = _zh("入职日期")
    contract_months: Count = _zh("劳动合同期限（月）")
    post_category: Choice(V.PostCategory) = _zh("岗位类别")
    frontline: Bool = _zh("是否生产一线岗位")
    field: Choice(V.Field) = _zh("专业领域")
    appraisals_passed_3y: Bool = _zh("近三年考核是否合格")
    continuing_education_done: Bool = _zh("是否完成继续教育")
    skill_level: Choice(V.SkillLevel) = _zh("技能等级")
    skill_cert_kind: Choice(V.CertKind) = _zh("证书类型")
    skill_cert_date: Day = _zh("发证日期")
    cert_matches_post: Bool = _zh("证书职业是否与岗位相符")
    title: Choice(V.Title) = _zh("职称")
    awards: Choices(V.Award) = _zh("获奖情况")
    major_contribution: Bool = _zh("是否贡献重大业绩突出")
    training_route: Choice(V.TrainingRoute) = _zh("培训方式")
    provider_type: Choice(V.ProviderType) = _zh("培训机构类型")
    paid_to: Choice(V.PaidTo) = _zh("补贴拨付对象")
    training_hours: Amount = _zh("培训课时")
    training_fee: Amount = _zh("培训费用")
    training_completed: Bool = _zh("是否完成培训")
    training_cert_level: Choice(V.TrainingCertLevel) = _zh("取得证书等级")
    shortage_occupation: Bool = _zh("是否急需紧缺职业")
    repeat_project: Bool = _zh("是否重复培训项目")
    subsidised_projects_this_year: Count = _zh("本年度已获补贴项目数")
    apprentice_kind: Choice(V.ApprenticeKind) = _zh("学徒类型")
    apprentice_year: Count = _zh("学徒年度")
    apprentice_target_level: Choice(V.SkillLevel) = _zh("目标等级")
    apprentice_evaluation_passed: Bool = _zh("学徒考核是否合格")
    apprentice_cert_obtained: Bool = _zh("学徒是否取得证书")
    is_mentor: Bool = _zh("是否带教师傅")
    mentee_count: Count = _zh("带教学徒人数")
    mentor_same_employer: Bool = _zh("是否与学徒同一单位")
    chief_technician_project: Bool = _zh("是否首席技师资助项目")
    studio_leader: Bool = _zh("是否技能大师工作室领衔人")
    studio_funded_before: Bool = _zh("工作室是否曾获资助")
    prior_chief_technician_funding: Bool = _zh("是否曾获首席技师资助")
    matching_funds: Amount = _zh("配套资金")


class EnterpriseRecord(_RecordBase):
    """One enterprise applying for the enterprise schemes (§3.5)."""

    record_type: _record_type("enterprise") = _zh(_RECORD_TYPE_ZH, "enterprise")
    high_tech_enterprise: Bool = _zh("是否高新技术企业")
    industry_education_enterprise: Bool = _zh("是否产教融合型企业")
    vocational_education_investment: Amount = _zh("职业教育投资额")
    education_surcharges_due: Amount = _zh("本年应缴教育费附加")
    staff_education_spend: Amount = _zh("职工教育经费支出")
    frontline_education_spend: Amount = _zh("一线职工教育经费支出")
    payroll_total: Amount = _zh("工资薪金总额")


Record = Union[PersonRecord, EnterpriseRecord]
RECORD_MODELS: dict[str, type[BaseModel]] = {"person": PersonRecord, "enterprise": EnterpriseRecord}


def _fact_type(model: type[BaseModel], name: str) -> FactType:
    found = [m for m in model.model_fields[name].metadata if isinstance(m, FactType)]
    if len(found) != 1:  # a field declared without a kind: a programming error, caught at import
        raise TypeError(f"{model.__name__}.{name} has no FactType in its annotation")
    return found[0]


FACT_TYPES: dict[str, dict[str, FactType]] = {
    kind: {name: _fact_type(model, name) for name in model.model_fields}
    for kind, model in RECORD_MODELS.items()
}

FIELD_LABELS_ZH: dict[str, str] = {
    name: info.title for model in RECORD_MODELS.values() for name, info in model.model_fields.items()
}


# ---------------------------------------------------------------------------------------------
# Errors

def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = [str(v) if isinstance(v, LabelledEnum) else v for v in value]
    text = repr(value) if isinstance(value, (str, list)) else str(value)
    return text if len(text) <= 80 else text[:77] + "…"


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of a record. ``value`` is UNKNOWN when the field was not given.

    ``message`` completes the sentence "field 'x': value 'v' …", so it also reads well on its own
    in an error sheet beside the field and value columns.
    """

    field: str
    value: Any
    message: str

    def __str__(self) -> str:
        if self.value is UNKNOWN:
            return f"field '{self.field}': {self.message}"
        return f"field '{self.field}': value {_show(self.value)} {self.message}"


@dataclass(frozen=True)
class UnknownField(FieldProblem):
    """A key that is no field of the record type; ``field`` is the key as given.

    ``message`` is "unknown field" plus a hint (a near spelling, or the record type it belongs to).
    """

    def __str__(self) -> str:
        return f"unknown field '{self.field}'{self.message.removeprefix('unknown field')}"


class RecordError(UserError):
    """An applicant record failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]

    def __reduce__(self):  # rebuild from the problems, not the joined text (multiprocessing)
        return (type(self), (self.problems,))


def _from_pydantic(error: Mapping[str, Any]) -> FieldProblem:
    field = ".".join(str(part) for part in error["loc"]) or "record"
    if error["type"] == "missing":
        return FieldProblem(field, UNKNOWN, "is required")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError):
        message = str(cause)  # our parsers' messages are finished sentences
    else:  # pydantic's own ("Input should be 'person'"), made to read on after "value 'x'"
        message = "is not valid; " + error["msg"].replace("Input should", "it should", 1)
    return FieldProblem(field, error.get("input", UNKNOWN), message)


# ---------------------------------------------------------------------------------------------
# Parsing a record from a mapping (YAML, JSON, a spreadsheet row)

def _key_index(model: type[BaseModel]) -> dict[str, str]:
    """Every accepted header (field name or Chinese label), normalised → field name."""
    index = {}
    for name, info in model.model_fields.items():
        index[normalise_label(name)] = name
        index[normalise_label(info.title)] = name
    return index


_KEYS = {kind: _key_index(model) for kind, model in RECORD_MODELS.items()}
_RECORD_TYPE_KEYS = {normalise_label("record_type"), normalise_label(FIELD_LABELS_ZH["record_type"])}


def _suggest(key: str, kind: str) -> str:
    """The tail of an unknown-field message: a near spelling, or the record type it belongs to."""
    norm = normalise_label(key)
    for other, index in _KEYS.items():
        if other != kind and norm in index:
            return f": it is a field of {other} records (record_type: {other})"
    import difflib  # only on this error path: keeps `check` start-up lean

    model = RECORD_MODELS[kind]
    candidates = list(model.model_fields) + [info.title for info in model.model_fields.values()]
    close = difflib.get_close_matches(key.strip(), candidates, n=1, cutoff=0.6)
    if not close:
        return ""
    name = _KEYS[kind][normalise_label(close[0])]
    return f"; did you mean '{close[0]}'?" if close[0] == name else f"; did you mean '{close[0]}' ({name})?"


def parse_record(data: Mapping[str, Any] | list[tuple[str, Any]], *, default_as_of: _dt.date) -> Record:
    """Validate one applicant record; RecordError lists every problem.

    Keys may be field names or Chinese header labels (surrounding spaces ignored). A blank value is
    the same as an absent key: the field takes its default (as_of: ``default_as_of``; nationality:
    CN) or stays unknown.
    """
    if isinstance(data, Mapping):
        pairs = list(data.items())
    elif isinstance(data, list) and all(isinstance(pair, tuple) and len(pair) == 2 for pair in data):
        pairs = data  # a spreadsheet row: (header, cell) pairs, where a header may repeat
    else:
        raise RecordError([FieldProblem("record", UNKNOWN,
                                        f"must be a mapping of field → value, not {type(data).__name__}")])

    # the record type picks the model, so it is settled first and alone
    kinds = set()
    for key, value in pairs:
        if normalise_label(str(key)) in _RECORD_TYPE_KEYS and not is_blank(value):
            try:
                kinds.add(V.RecordType.parse(value).value)
            except ValueError as exc:
                raise RecordError([FieldProblem("record_type", value, f"is not valid; {exc}")]) from None
    if len(kinds) > 1:
        raise RecordError([FieldProblem("record_type", UNKNOWN, "is given twice, with different values")])
    kind, problems = (kinds.pop() if kinds else "person"), []

    index, values, given_as = _KEYS[kind], {}, {}
    for key, value in pairs:
        key_text = "" if key is None else str(key)
        if not key_text.strip():
            if not is_blank(value):  # a filled column with no header: data we cannot place
                problems.append(FieldProblem("(no header)", value, "is in a column with no header"))
            continue
        name = index.get(normalise_label(key_text))
        if name is None:
            problems.append(UnknownField(key_text.strip(), value, "unknown field" + _suggest(key_text, kind)))
        elif name == "record_type" or is_blank(value):
            continue  # record_type is settled above; blank means absent
        elif name in values:
            problems.append(FieldProblem(
                name, value, f"is given twice (as '{given_as[name]}' and '{key_text.strip()}')"))
        else:
            values[name], given_as[name] = value, key_text.strip()
    values.setdefault("as_of", default_as_of)

    try:
        record = RECORD_MODELS[kind].model_validate(values)
    except ValidationError as exc:
        problems.extend(_from_pydantic(error) for error in exc.errors())
        record = None
    if problems:
        raise RecordError(problems)
    return record


# ---------------------------------------------------------------------------------------------
# One cell at a time, for column-wise readers (engine.cellframe): the very validation parse_record
# applies to a field, so a column converted value by value gets exactly the record's values and
# messages.

def field_of(kind: str, header: Any) -> str | None:
    """The field of `kind` records that a header names (field name or Chinese label), or None."""
    return _KEYS[kind].get(normalise_label(str(header)))


def record_type_of(value: Any) -> str:
    """The record type a non-blank record_type cell names; ValueError with parse_record's message."""
    try:
        return V.RecordType.parse(value).value
    except ValueError as exc:
        raise ValueError(f"is not valid; {exc}") from None


def unknown_field_message(header: str, kind: str) -> str:
    """parse_record's message for a header that is no field of `kind` records."""
    return "unknown field" + _suggest(header, kind)


def cell_kind(kind: str, name: str) -> CellKind:
    return next(m for m in RECORD_MODELS[kind].model_fields[name].metadata if isinstance(m, CellKind))


def cell_validator(kind: str, name: str) -> Callable[[Any], Any]:
    """Validate one non-blank cell of a field exactly as parse_record does: the canonical value, or
    ValueError whose text is the FieldProblem message parse_record would give."""
    from pydantic import TypeAdapter

    info = RECORD_MODELS[kind].model_fields[name]
    adapter = TypeAdapter(Annotated[(info.annotation, *info.metadata)])

    def validate(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise ValueError(_from_pydantic(exc.errors()[0]).message) from None
    return validate


def field_default(kind: str, name: str, default_as_of: _dt.date) -> Any:
    """The value a field takes when its cell is blank (as_of: the run's date; nationality: CN), or None."""
    if name == "as_of":
        return default_as_of
    default = RECORD_MODELS[kind].model_fields[name].default
    return None if default is PydanticUndefined else default


# ---------------------------------------------------------------------------------------------
# Views of a record

def facts(record: Record) -> dict[str, Any]:
    """Every field of the record's type → its value, UNKNOWN where the record does not say."""
    types = FACT_TYPES[record.record_type]
    out = {}
    for name, fact_type in types.items():
        value = getattr(record, name)
        if value is None:
            out[name] = UNKNOWN
        elif fact_type.kind == "enum" and not isinstance(value, fact_type.enum):
            out[name] = fact_type.enum(value)  # record_type is stored as its code
        else:
            out[name] = value
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, LabelledEnum):
        return value.value
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")  # never 1E+3: the number parser accepts plain notation only
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def record_to_dict(record: Record) -> dict[str, Any]:
    """JSON-friendly dict of the fields that are set; parse_record reads it back to an equal record."""
    return {name: _plain(value) for name, value in record if value is not None}


def field_for_header(header: Any) -> str | None:
    """The record field a spreadsheet header names (English field or Chinese label, any record type)."""
    if header is None:
        return None
    key = normalise_label(str(header))
    return next((index[key] for index in _KEYS.values() if key in index), None)
