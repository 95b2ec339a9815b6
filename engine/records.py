"""The applicant record contract (BRIEF §4): models, lenient cell parsing and the fact view.

Offices fill records in by hand, in YAML, JSON or spreadsheets, so every field accepts the
spellings a person would type (是/否, 2024/5/1, " 1,000 ", 高级工/三级/3) and turns them into one
canonical Python value. Absent means unknown — never zero, false or empty — and every problem is
reported as a RecordError naming the field, the value and what is allowed.

Each field is declared once, with its kind (cell parser and FactType), its Chinese header label
and its value when absent; FACT_TYPES and FIELD_LABELS_ZH are read off the models.
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping, Union


from engine import vocabulary as V
from engine.errors import UserError
from engine.types import (
    BOOL, DATE, INTEGER, NUMBER, TEXT, UNKNOWN, FactType, FormulaError, LabelledEnum, enum_type, list_type,
    normalise_label,
)

__all__ = [
    "PersonRecord", "EnterpriseRecord", "Record", "RecordError", "FieldProblem", "UnknownField",
    "parse_record", "is_blank", "facts", "record_to_dict", "FACT_TYPES", "FIELD_LABELS_ZH", "RECORD_MODELS",
]


# ---------------------------------------------------------------------------------------------
# Cell parsers. Each takes a non-blank value and returns the canonical value or raises ValueError
# with a message that completes "field 'x': value 'v' …". Only ValueError: the models turn that
# into a FieldProblem, anything else would escape as a traceback.

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
        # spaces around it go; a space inside it may only separate thousands, as a comma does
        # ("1 200"): "12 00" or "2 4" is a typing slip to refuse, not 1200 or 24
        text = ",".join(re.sub(r"\s*,\s*", ",", _nfkc(value).strip()).split())  # "1, 200" is 1,200
        if not text or not any(c.isdigit() for c in text) or not _NUMBER.fullmatch(text):
            raise ValueError("is not valid; expected a number like 1200 or 1,200.50")
        number = Decimal(text.replace(",", ""))
    else:
        raise ValueError("is not valid; expected a number")
    if not number.is_finite():
        raise ValueError("is not valid; expected a finite number")
    if number.adjusted() >= _MAX_DIGITS_BEFORE_POINT:
        raise ValueError("is too large")
    return number.copy_abs() if number.is_zero() else number  # "-0" is 0: never an amount of -0.00


def _non_negative(number: Decimal) -> Decimal:
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _to_amount(value: Any) -> Decimal:
    """Money, hours: an exact non-negative Decimal."""
    return _non_negative(_to_decimal(value))


def field_name(name: str, lang: str) -> str:
    """A field as people read it: its Chinese header in Chinese, its code otherwise."""
    return FIELD_LABELS_ZH.get(name, name) if lang == "zh" else name


def parse_date(value: Any) -> _dt.date:
    """A date in any form a cell may give it (2024-06-01, 2024/6/1, 2024年6月1日 …): for command options."""
    return _to_date(value)


def _to_count(value: Any) -> int:
    """Counts and years: a non-negative whole number (12.0 is 12, 12.5 is an error)."""
    number = _non_negative(_to_decimal(value))
    if number != number.to_integral_value():
        raise ValueError("must be a whole number")
    return int(number)


def _to_ordinal(value: Any) -> int:
    """Which year of something (an apprenticeship's 1st, 2nd …): a whole number from 1."""
    number = _to_count(value)
    if number < 1:
        raise ValueError("must be 1 or more (the first year is 1)")
    return number


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
    return _CHINA.get(code, code)


_CHINA = {"CHN": "CN"}  # China's three-letter code (as passports write it) is the two-letter one the rules read


def _member_parser(enum: type[LabelledEnum], without: tuple[LabelledEnum, ...] = ()) -> Callable[[Any], LabelledEnum]:
    """A member of `enum` by code, label or synonym; the members `without` are refused (a target level
    of none means nothing), and left out of the values the message lists."""
    allowed = "expected one of " + ", ".join(f"{m.value} ({m.zh})" for m in enum if m not in without) if without else ""

    def parse(value: Any) -> LabelledEnum:
        if _whole(value) is not None:
            value = _whole(value)  # a level typed as the number 3 may arrive as 3.0
        try:
            member = enum.parse(value)
        except ValueError as exc:
            raise ValueError(f"is not valid; {allowed or exc}") from None
        if member in without:
            raise ValueError(f"is not valid; {allowed}")
        return member
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
# Field kinds: cell parser + FactType, declared once and reused by every field.
#
# The models are plain classes rather than pydantic models: all the parsing is our own cell parsers
# above, and `check` starts about 0.1 s sooner without importing and building pydantic.

@dataclass(frozen=True)
class CellKind:
    """How a field's cells are read: its parser, its FactType, and whether it may be left blank."""

    parse: Callable[[Any], Any]
    fact_type: FactType
    required: bool = False
    members: tuple[LabelledEnum, ...] | None = None  # an enumeration's members a cell may name (None: all)

    def __call__(self, label: str, default: Any = None, *, default_factory: Callable[[], Any] | None = None):
        return FieldSpec(self, label, default, default_factory)


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record type: its kind, Chinese header label and value when absent."""

    kind: CellKind
    label: str
    default: Any = None
    default_factory: Callable[[], Any] | None = None

    @property
    def required(self) -> bool:
        return self.kind.required

    def absent_value(self) -> Any:
        return self.default_factory() if self.default_factory else self.default


Bool = CellKind(_to_bool, BOOL)
Day = CellKind(_to_date, DATE)
Amount = CellKind(_to_amount, NUMBER)
Ratio = CellKind(_to_ratio, NUMBER)
Count = CellKind(_to_count, INTEGER)
Ordinal = CellKind(_to_ordinal, INTEGER)
Text = CellKind(_to_text, TEXT)
Country = CellKind(_to_country, TEXT)
RequiredText = CellKind(_to_text, TEXT, required=True)


def Choice(enum: type[LabelledEnum], without: tuple[LabelledEnum, ...] = ()) -> CellKind:
    return CellKind(_member_parser(enum, without), enum_type(enum), members=tuple(m for m in enum if m not in without))


def Choices(enum: type[LabelledEnum]) -> CellKind:
    return CellKind(_list_parser(enum), list_type(enum))


def _record_type(code: str) -> CellKind:
    """The discriminator: a record type's own code (stored as text), accepting 个人/企业."""
    def parse(value: Any) -> str:
        given = record_type_of(value)
        if given != code:
            raise ValueError(f"is not valid; it should be '{code}'")
        return given
    return CellKind(parse, enum_type(V.RecordType))


_RECORD_TYPE_ZH = "申请人类型"


# ---------------------------------------------------------------------------------------------
# The models, in the order of BRIEF §4.

class _RecordBase:
    """A validated applicant record: immutable, one attribute per field (None: unknown).

    Built from field values, which are validated as parse_record does (a blank value is absent);
    RecordError lists every problem. Subclasses declare their fields as class attributes
    (FieldSpec); FIELDS gathers them in declaration order, base fields first.
    """

    FIELDS: dict[str, FieldSpec] = {}
    record_type: str

    def __init_subclass__(cls) -> None:
        own = {name: spec for name, spec in vars(cls).items() if isinstance(spec, FieldSpec)}
        cls.FIELDS = {**cls.FIELDS, **own}  # a redeclared field keeps its place

    def __init__(self, **values: Any) -> None:
        problems: list[FieldProblem] = [UnknownField(key, value, unknown_field_message(key, self.record_kind))
                                        for key, value in values.items() if key not in self.FIELDS]
        for name, spec in self.FIELDS.items():
            value = values.get(name)
            if is_blank(value):
                if spec.required:
                    problems.append(FieldProblem(name, UNKNOWN, "is required"))
                parsed = spec.absent_value()
            else:
                try:
                    parsed = _parse_cell(spec.kind, value)
                except ValueError as exc:  # our parsers' messages are finished sentences
                    problems.append(FieldProblem(name, value, str(exc)))
                    continue
            self.__dict__[name] = parsed
        if problems:
            raise RecordError(problems)

    @property
    def record_kind(self) -> str:
        return self.FIELDS["record_type"].default

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a record is immutable; cannot set '{name}'")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a record is immutable; cannot delete '{name}'")

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        """(field, value) pairs in declaration order."""
        return iter(self.__dict__.items())

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.__dict__.values())))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self if value is not None)
        return f"{type(self).__name__}({shown})"


class _Common(_RecordBase):
    # declared here so they come first in every view; record_type is narrowed by each record type
    record_type = _record_type("person")(_RECORD_TYPE_ZH, "person")
    applicant_id = RequiredText("申请编号")
    name = Text("姓名")
    # default today so a record built directly is still dated; parse_record passes its own default
    as_of = Day("评估日期", default_factory=_dt.date.today)
    district = Text("所在区")


class PersonRecord(_Common):
    """One person applying (or being assessed) for the person programmes."""

    record_type = _record_type("person")(_RECORD_TYPE_ZH, "person")
    hukou = Choice(V.Hukou)("户籍")
    nationality = Country("国籍", "CN")
    employment_status = Choice(V.EmploymentStatus)("就业状态")
    registered_unemployed = Bool("是否登记失业")
    groups = Choices(V.Group)("人员类别")
    discharge_date = Day("退役日期")
    student_stage = Choice(V.StudentStage)("在校阶段")
    employer_id = Text("用人单位编号")
    employer_size = Choice(V.EmployerSize)("企业规模")
    employer_ownership = Choice(V.EmployerOwnership)("企业性质")
    employer_dispatch_only = Bool("是否纯劳务派遣企业")
    employer_pays_education_surcharge = Bool("企业是否缴纳地方教育附加")
    employer_has_training_system = Bool("企业是否建立职工培训制度")
    employer_skilled_ratio = Ratio("企业技能人才占比")
    hire_date = Day("入职日期")
    contract_months = Count("劳动合同期限（月）")
    post_category = Choice(V.PostCategory)("岗位类别")
    frontline = Bool("是否生产一线岗位")
    field = Choice(V.Field)("专业领域")
    appraisals_passed_3y = Bool("近三年考核是否合格")
    continuing_education_done = Bool("是否完成继续教育")
    skill_level = Choice(V.SkillLevel)("技能等级")
    skill_cert_kind = Choice(V.CertKind)("证书类型")
    skill_cert_date = Day("发证日期")
    cert_matches_post = Bool("证书职业是否与岗位相符")
    title = Choice(V.Title)("职称")
    awards = Choices(V.Award)("获奖情况")
    major_contribution = Bool("是否贡献重大业绩突出")
    training_route = Choice(V.TrainingRoute)("培训方式")
    provider_type = Choice(V.ProviderType)("培训机构类型")
    paid_to = Choice(V.PaidTo)("补贴拨付对象")
    training_hours = Amount("培训课时")
    training_fee = Amount("培训费用")
    training_completed = Bool("是否完成培训")
    training_cert_level = Choice(V.TrainingCertLevel)("取得证书等级")
    shortage_occupation = Bool("是否急需紧缺职业")
    repeat_project = Bool("是否重复培训项目")
    subsidised_projects_this_year = Count("本年度已获补贴项目数")
    apprentice_kind = Choice(V.ApprenticeKind)("学徒类型")
    apprentice_year = Ordinal("学徒年度")
    apprentice_target_level = Choice(V.SkillLevel, without=(V.SkillLevel.none,))("目标等级")
    apprentice_evaluation_passed = Bool("学徒考核是否合格")
    apprentice_cert_obtained = Bool("学徒是否取得证书")
    is_mentor = Bool("是否带教师傅")
    mentee_count = Count("带教学徒人数")
    mentor_same_employer = Bool("是否与学徒同一单位")
    chief_technician_project = Bool("是否首席技师资助项目")
    studio_leader = Bool("是否技能大师工作室领衔人")
    studio_funded_before = Bool("工作室是否曾获资助")
    prior_chief_technician_funding = Bool("是否曾获首席技师资助")
    matching_funds = Amount("配套资金")


class EnterpriseRecord(_Common):
    """One enterprise applying for the enterprise schemes (§3.5)."""

    record_type = _record_type("enterprise")(_RECORD_TYPE_ZH, "enterprise")
    high_tech_enterprise = Bool("是否高新技术企业")
    industry_education_enterprise = Bool("是否产教融合型企业")
    vocational_education_investment = Amount("职业教育投资额")
    education_surcharges_due = Amount("本年应缴教育费附加和地方教育附加")  # both surcharges: HRSS-2023-345（六）
    staff_education_spend = Amount("职工教育经费支出")
    frontline_education_spend = Amount("一线职工教育经费支出")
    payroll_total = Amount("工资薪金总额")


Record = Union[PersonRecord, EnterpriseRecord]
RECORD_MODELS: dict[str, type[_RecordBase]] = {"person": PersonRecord, "enterprise": EnterpriseRecord}

FACT_TYPES: dict[str, dict[str, FactType]] = {
    kind: {name: spec.kind.fact_type for name, spec in model.FIELDS.items()}
    for kind, model in RECORD_MODELS.items()
}

FIELD_LABELS_ZH: dict[str, str] = {
    name: spec.label for model in RECORD_MODELS.values() for name, spec in model.FIELDS.items()
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
        return self.describe("en")

    def describe(self, lang: str) -> str:
        """The problem as a sentence: in English, or in Chinese (engine.messages) with the field's header."""
        if lang == "zh":
            from engine.messages import in_chinese

            where = f"字段“{field_name(self.field, 'zh')}”（{self.field}）" if self.field in FIELD_LABELS_ZH \
                else "无表头的列" if self.field == "(no header)" else f"字段“{self.field}”"
            shown = "" if self.value is UNKNOWN else f"值 {_show(self.value)} "
            return f"{where}：{shown}{in_chinese(self.message)}"
        if self.value is UNKNOWN:
            return f"field '{self.field}': {self.message}"
        return f"field '{self.field}': value {_show(self.value)} {self.message}"


@dataclass(frozen=True)
class UnknownField(FieldProblem):
    """A key that is no field of the record type; ``field`` is the key as given.

    ``message`` is "unknown field" plus a hint (a near spelling, or the record type it belongs to).
    """

    def describe(self, lang: str) -> str:
        if lang == "zh":
            from engine.messages import in_chinese

            return f"字段“{self.field}”{in_chinese(self.message)}"
        return f"unknown field '{self.field}'{self.message.removeprefix('unknown field')}"


class RecordError(UserError):
    """An applicant record failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self, lang: str = "en") -> list[str]:
        return [p.describe(lang) for p in self.problems]

    def __reduce__(self):  # rebuild from the problems, not the joined text (multiprocessing)
        return (type(self), (self.problems,))


# ---------------------------------------------------------------------------------------------
# Parsing a record from a mapping (YAML, JSON, a spreadsheet row)

# Chinese labels a field had before, still read as it: a roster made with the old template goes on working
_FORMER_LABELS = {"education_surcharges_due": ("本年应缴教育费附加",)}  # now names both surcharges


def _key_index(model: type[_RecordBase]) -> dict[str, str]:
    """Every accepted header (field name, Chinese label or a former label), normalised → field name."""
    index = {}
    for name, spec in model.FIELDS.items():
        index[normalise_label(name)] = name
        index[normalise_label(spec.label)] = name
        for former in _FORMER_LABELS.get(name, ()):
            index[normalise_label(former)] = name
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
    candidates = list(model.FIELDS) + [spec.label for spec in model.FIELDS.values()]
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
        record = RECORD_MODELS[kind](**values)
    except RecordError as error:
        problems.extend(error.problems)
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


def field_spec(kind: str, name: str) -> FieldSpec:
    return RECORD_MODELS[kind].FIELDS[name]


def cell_kind(kind: str, name: str) -> CellKind:
    return field_spec(kind, name).kind


def cell_validator(kind: str, name: str) -> Callable[[Any], Any]:
    """Validate one non-blank cell of a field exactly as parse_record does: the canonical value, or
    ValueError whose text is the FieldProblem message parse_record would give."""
    cell_kind = field_spec(kind, name).kind
    return lambda value: _parse_cell(cell_kind, value)


def _parse_cell(kind: CellKind, value: Any) -> Any:
    """A cell's value by its field's parser; a formula's error is no value of any field."""
    if isinstance(value, FormulaError):
        if value.startswith("="):  # engine.tabular._uncalculated_formulas: its stored value is no result
            raise ValueError("is a formula the spreadsheet has not calculated (the file was written by a program): "
                             "open and save it in Excel, or type the value")
        raise ValueError("is a formula error in the spreadsheet: correct the formula, or type the value")
    return kind.parse(value)


def field_default(kind: str, name: str, default_as_of: _dt.date) -> Any:
    """The value a field takes when its cell is blank (as_of: the run's date; nationality: CN), or None."""
    return default_as_of if name == "as_of" else field_spec(kind, name).absent_value()


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
