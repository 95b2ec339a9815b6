"""The applicant record contract (BRIEF §4): vocabulary, lenient parsing, errors, facts, round trip."""
from __future__ import annotations

import datetime as dt
import json
import pickle
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from engine import vocabulary as V
from engine.errors import UserError
from engine.records import (
    FACT_TYPES, FIELD_LABELS_ZH, EnterpriseRecord, PersonRecord, RecordError, facts, parse_record,
    record_to_dict,
)
from engine.types import BOOL, DATE, INTEGER, NUMBER, TEXT, UNKNOWN, enum_type, list_type, normalise_label
from tests.strategies import ORDINALS

AS_OF = dt.date(2024, 6, 30)


def parse(**fields):
    return parse_record({"applicant_id": "P-1", **fields}, default_as_of=AS_OF)


def problems_of(data):
    with pytest.raises(RecordError) as caught:
        parse_record(data, default_as_of=AS_OF)
    return caught.value


# --- vocabulary ------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["高级工", "三级", "3", 3, "senior", " SENIOR ", "高级 工", "３"])
def test_skill_level_code_label_and_national_number_are_the_same(spelling):
    assert parse(skill_level=spelling).skill_level is V.SkillLevel.senior


def test_skill_levels_are_ranked_in_ladder_order_and_numbers_count_down():
    # none (no level, known) ranks below junior, so "senior or above" is settled false by it
    assert [m.rank for m in V.SkillLevel] == list(range(0, 8))
    assert V.SkillLevel.parse("无") is V.SkillLevel.none
    assert V.SkillLevel.parse("5") is V.SkillLevel.junior
    assert V.SkillLevel.parse("一级") is V.SkillLevel.senior_technician
    assert V.SkillLevel.parse("首席技师") is V.SkillLevel.chief_technician


def test_a_target_level_of_none_is_refused_naming_the_levels_it_may_be():
    # none says a person holds no level; as an apprentice's target it would mean nothing
    assert parse(skill_level="无").skill_level is V.SkillLevel.none
    with pytest.raises(RecordError) as caught:
        parse(apprentice_target_level="无")
    (line,) = caught.value.lines()
    assert line.startswith("field 'apprentice_target_level': value '无' is not valid; expected one of junior (初级工), ")
    assert "none" not in line


def test_training_cert_level_is_the_skill_ladder_plus_special_ability():
    ladder = [(m.value, m.zh, m.synonyms, m.rank) for m in V.SkillLevel]
    derived = [(m.value, m.zh, m.synonyms, m.rank) for m in V.TrainingCertLevel]
    assert derived[:-1] == ladder
    special = V.TrainingCertLevel.special_ability
    assert (special.zh, special.rank) == ("专项职业能力", None)
    assert V.TrainingCertLevel.parse("三级") is V.TrainingCertLevel.senior
    assert V.TrainingCertLevel.__doc__


def test_no_spelling_is_ambiguous_within_an_enum():
    for enum in V.ALL_ENUMS:
        seen = {}
        for member in enum:
            for spelling in (member.value, member.zh, *member.synonyms):
                assert seen.setdefault(normalise_label(spelling), member) is member, (enum, spelling)
        assert enum.__doc__, enum


def test_fixed_value_labels():
    assert [m.zh for m in V.Award] == [
        "中华技能大奖", "全国技术能手", "上海市杰出技术能手", "上海市技术能手", "上海工匠", "世界技能大赛金牌",
        "世界技能大赛银牌", "世界技能大赛铜牌", "世界技能大赛优胜奖", "全国技能大赛获奖", "全国技能大赛优胜奖",
        "省级技能大赛一等奖", "省级技能人才荣誉", "国家级技能人才荣誉"]
    assert [m.value for m in V.Award][-4:] == [
        "national_competition_excellence", "provincial_competition_first", "provincial_skill_honour",
        "national_skill_honour"]
    assert {m.value: m.zh for m in V.EmployerOwnership} == {
        "central_soe": "央企", "municipal_soe": "市属国企", "private": "民营", "foreign": "外资",
        "public_institution": "事业单位"}
    assert [(m.value, m.rank) for m in V.Title] == [
        ("none", 0), ("assistant_engineer", 1), ("engineer", 2), ("senior_engineer", 3), ("professor_engineer", 4)]
    assert V.Group.parse("协保人员") is V.Group.xiebao
    assert V.TrainingRoute.parse("中小微企业集中培训") is V.TrainingRoute.sme_centralized
    assert V.ProviderType.parse("高技能人才培养基地") is V.ProviderType.high_skill_base


# --- keys and headers ------------------------------------------------------------------------

FIXED_HEADERS = {
    "applicant_id": "申请编号", "name": "姓名", "as_of": "评估日期", "hukou": "户籍",
    "employment_status": "就业状态", "employer_size": "企业规模", "employer_ownership": "企业性质",
    "skill_level": "技能等级", "skill_cert_kind": "证书类型", "skill_cert_date": "发证日期", "title": "职称",
    "awards": "获奖情况", "training_route": "培训方式", "provider_type": "培训机构类型", "training_hours": "培训课时",
    "training_fee": "培训费用", "training_completed": "是否完成培训", "training_cert_level": "取得证书等级",
    "apprentice_kind": "学徒类型", "apprentice_year": "学徒年度", "apprentice_target_level": "目标等级",
    "contract_months": "劳动合同期限（月）",
}


def test_field_labels_cover_every_field_once_and_keep_the_fixed_ones():
    all_fields = set(FACT_TYPES["person"]) | set(FACT_TYPES["enterprise"])
    assert set(FIELD_LABELS_ZH) == all_fields
    assert len(set(FIELD_LABELS_ZH.values())) == len(FIELD_LABELS_ZH)
    assert {k: FIELD_LABELS_ZH[k] for k in FIXED_HEADERS} == FIXED_HEADERS


def test_chinese_headers_with_spaces_are_accepted_as_keys():
    record = parse_record({" 申请编号 ": "P-9", "技能等级": "技师", "劳动合同期限（月）": "24", "户籍": "本市",
                           "获奖情况": "上海工匠", "评估日期": "2023/1/2"}, default_as_of=AS_OF)
    assert (record.applicant_id, record.skill_level, record.contract_months, record.hukou, record.awards,
            record.as_of) == ("P-9", V.SkillLevel.technician, 24, V.Hukou.shanghai,
                              (V.Award.shanghai_craftsman,), dt.date(2023, 1, 2))


def test_every_label_is_a_key_of_its_record_type():
    for kind in ("person", "enterprise"):
        for name in FACT_TYPES[kind]:
            if FACT_TYPES[kind][name] == TEXT and name != "nationality":
                data = {"record_type": kind, "申请编号": "X", FIELD_LABELS_ZH[name]: "abc"}
                assert getattr(parse_record(data, default_as_of=AS_OF), name) == "abc"


def test_same_field_given_twice_is_a_problem():
    error = problems_of({"applicant_id": "P", "name": "张三", "姓名": "李四"})
    assert error.lines() == ["field 'name': value '李四' is given twice (as 'name' and '姓名')"]


# --- cell conventions ------------------------------------------------------------------------

@pytest.mark.parametrize("cell, value", [
    ("是", True), ("否", False), ("yes", True), ("No", False), ("TRUE", True), ("false", False),
    ("1", True), ("0", False), ("y", True), ("N", False), (1, True), (0, False), (True, True), ("  是 ", True),
])
def test_booleans(cell, value):
    assert parse(training_completed=cell).training_completed is value


@pytest.mark.parametrize("cell", [2, -1, "maybe", "对不对", 0.5])
def test_bad_booleans_are_rejected(cell):
    (line,) = problems_of({"applicant_id": "P", "frontline": cell}).lines()
    assert line.startswith("field 'frontline': value") and "expected yes or no" in line


@pytest.mark.parametrize("cell", [
    "2024-05-01", "2024/5/1", "2024.5.1", "2024年5月1日", " 2024/05/01 ", "2024-05-01 00:00:00",
    dt.date(2024, 5, 1), dt.datetime(2024, 5, 1, 13, 30)])
def test_dates(cell):
    value = parse(skill_cert_date=cell).skill_cert_date
    assert value == dt.date(2024, 5, 1) and type(value) is dt.date


@pytest.mark.parametrize("cell, message", [
    ("2024-02-30", "is not a real calendar date"), ("5/1/2024", "expected a date"), (20240501, "expected a date"),
    ("2024-05-01 13:00", "expected a date")])
def test_bad_dates(cell, message):
    (line,) = problems_of({"applicant_id": "P", "hire_date": cell}).lines()
    assert line.startswith("field 'hire_date'") and message in line


@pytest.mark.parametrize("cell, value", [
    (" 24 ", Decimal("24")), ("1,000", Decimal("1000")), ("1,234,567.50", Decimal("1234567.50")),
    ("１，０００", Decimal("1000")), ("1 000", Decimal("1000")), ("1, 200", Decimal("1200")), ("1 ,200", Decimal("1200")),
    (0.1, Decimal("0.1")), (24, Decimal("24")),
    (Decimal("2.5"), Decimal("2.5")), ("0", Decimal("0"))])
def test_money_and_hours_are_exact_decimals(cell, value):
    record = parse(training_hours=cell, training_fee=cell)
    assert record.training_hours == value and type(record.training_hours) is Decimal
    assert str(record.training_fee) == str(value)  # no binary-float digits sneak in


@pytest.mark.parametrize("cell, message", [
    ("-5", "must not be negative"), (-1, "must not be negative"), ("1,5", "expected a number"),
    ("1e3", "expected a number"), ("abc", "expected a number"), (True, "not true/false"),
    (float("nan"), "finite"), ("1" * 20, "too large"), ([1], "expected a number"),
    # a space inside a number separates thousands or nothing: these were read as 1200 and 24
    ("12 00", "expected a number"), ("1 2 0 0", "expected a number"), ("2 4", "expected a number")])
def test_bad_numbers(cell, message):
    (line,) = problems_of({"applicant_id": "P", "training_fee": cell}).lines()
    assert line.startswith("field 'training_fee'") and message in line


@pytest.mark.parametrize("cell", [" 12 ", "12.0", 12, 12.0, Decimal("12.00")])
def test_counts_are_ints(cell):
    value = parse(contract_months=cell).contract_months
    assert value == 12 and type(value) is int


@pytest.mark.parametrize("field", ["contract_months", "apprentice_year", "subsidised_projects_this_year",
                                   "mentee_count"])
def test_fractional_counts_are_rejected(field):
    (line,) = problems_of({"applicant_id": "P", field: "12.5"}).lines()
    assert line == f"field '{field}': value '12.5' must be a whole number"


@pytest.mark.parametrize("cell", ["-0", "-0.00", -0.0, " -0 "])
def test_minus_zero_is_zero(cell):
    # it was kept as -0, so the per-record path paid "-0.00" where the column-wise path wrote "0.00"
    assert str(parse(training_fee=cell).training_fee) in ("0", "0.0", "0.00")


@pytest.mark.parametrize("cell", ["0", 0, "0.0"])
def test_an_apprenticeship_year_starts_at_1(cell):
    (line,) = problems_of({"applicant_id": "P", "apprentice_year": cell}).lines()
    assert line.startswith("field 'apprentice_year': value ") and line.endswith(" must be 1 or more (the first year is 1)")
    assert parse(apprentice_year="1").apprentice_year == 1


@pytest.mark.parametrize("cell, value", [("75%", Decimal("0.75")), (" 60 % ", Decimal("0.6")),
                                         ("0.6", Decimal("0.6")), (1, Decimal("1")), ("0", Decimal("0"))])
def test_ratio(cell, value):
    assert parse(employer_skilled_ratio=cell).employer_skilled_ratio == value


@pytest.mark.parametrize("cell", ["75", "120%", "-0.1", 2])
def test_ratio_out_of_range(cell):
    (line,) = problems_of({"applicant_id": "P", "employer_skilled_ratio": cell}).lines()
    assert "between 0 and 1" in line


@pytest.mark.parametrize("separator", [";", "；", "、", ",", "，", " ; "])
def test_list_separators(separator):
    record = parse(groups=separator.join(["退役军人", "xiebao", "残疾人"]))
    assert record.groups == (V.Group.xiebao, V.Group.disabled, V.Group.veteran)  # declaration order


def test_lists_from_yaml_are_deduplicated_in_declaration_order():
    record = parse(awards=["上海工匠", "china_skills_award", "shanghai_craftsman", " 世赛金牌 "])
    assert record.awards == (V.Award.china_skills_award, V.Award.shanghai_craftsman, V.Award.worldskills_gold)
    assert parse(groups="协保人员").groups == (V.Group.xiebao,)


@pytest.mark.parametrize("cell", ["无", "none", "None", "[]", []])
def test_empty_list_is_known_none_and_absent_is_unknown(cell):
    known_none = facts(parse(groups=cell))
    absent = facts(parse())
    blank = facts(parse(groups="  "))
    assert known_none["groups"] == () and known_none["groups"] is not UNKNOWN
    assert absent["groups"] is UNKNOWN and blank["groups"] is UNKNOWN


def test_bad_list_item_names_the_item_and_the_allowed_values():
    (line,) = problems_of({"applicant_id": "P", "groups": "xiebao;foo;bar"}).lines()
    assert line.startswith("field 'groups': value 'xiebao;foo;bar' is not valid; items 'foo', 'bar' are not one of")
    assert "veteran (退役军人)" in line


# --- errors ----------------------------------------------------------------------------------

def test_wrong_enum_value_names_field_value_and_allowed_values():
    error = problems_of({"applicant_id": "P", "skill_level": "expert"})
    assert isinstance(error, UserError) and error.exit_code == 2
    (problem,) = error.problems
    assert (problem.field, problem.value) == ("skill_level", "expert")
    assert error.lines() == ["field 'skill_level': value 'expert' is not valid; expected one of none (无), junior (初级工), "
                             "intermediate (中级工), senior (高级工), technician (技师), senior_technician (高级技师), "
                             "principal_technician (特级技师), chief_technician (首席技师)"]


def test_unknown_field_suggests_the_nearest_name():
    error = problems_of({"applicant_id": "P", "trainning_hours": 24})
    assert error.lines() == ["unknown field 'trainning_hours'; did you mean 'training_hours'?"]
    assert error.problems[0].field == "trainning_hours"
    error = problems_of({"applicant_id": "P", "培训课时数": 24})
    assert error.lines() == ["unknown field '培训课时数'; did you mean '培训课时' (training_hours)?"]
    error = problems_of({"applicant_id": "P", "zzzz": 1})
    assert error.lines() == ["unknown field 'zzzz'"]


def test_field_of_the_other_record_type_says_so():
    error = problems_of({"applicant_id": "P", "payroll_total": 1})
    assert error.lines() == ["unknown field 'payroll_total': it is a field of enterprise records "
                             "(record_type: enterprise)"]


@pytest.mark.parametrize("data", [{}, {"applicant_id": ""}, {"applicant_id": "  "}, {"申请编号": None}])
def test_missing_applicant_id_names_the_field(data):
    assert problems_of(data).lines() == ["field 'applicant_id': is required"]


def test_every_problem_is_reported_and_reads_well():
    error = problems_of({"skill_level": "expert", "frontline": "maybe", "hire_date": "soon", "typo": 1,
                         "training_fee": "-3", "title": 12})
    assert error.problems[0].field == "typo"  # key problems first, then fields
    assert {p.field for p in error.problems} == {
        "typo", "applicant_id", "frontline", "skill_level", "title", "training_fee", "hire_date"}
    text = str(error)
    for junk in ("pydantic", "http", "Value error", "Traceback", "Input should"):
        assert junk not in text


def test_record_error_survives_pickling():
    error = problems_of({"skill_level": "expert", "typo": 1})
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == error.problems and again.lines() == error.lines()
    assert "field 'applicant_id': is required" in again.lines()


def test_a_model_built_directly_checks_its_own_record_type():
    with pytest.raises(RecordError) as caught:
        PersonRecord(applicant_id="P", record_type="enterprise")
    assert caught.value.lines() == ["field 'record_type': value 'enterprise' is not valid; it should be 'person'"]
    assert PersonRecord(applicant_id="P", record_type="个人").record_type == "person"


def test_non_mapping_record_is_a_record_error():
    assert "must be a mapping" in problems_of(["applicant_id", "P"]).lines()[0]


# --- record types and defaults ---------------------------------------------------------------

@pytest.mark.parametrize("label", ["enterprise", "企业", " Enterprise "])
def test_record_type_picks_the_model(label):
    record = parse_record({"record_type": label, "applicant_id": "E-1", "工资薪金总额": "1,000,000"},
                          default_as_of=AS_OF)
    assert isinstance(record, EnterpriseRecord) and record.payroll_total == Decimal("1000000")
    assert facts(record)["record_type"] is V.RecordType.enterprise


def test_person_is_the_default_and_accepts_its_label():
    assert isinstance(parse(), PersonRecord)
    assert isinstance(parse_record({"申请人类型": "个人", "applicant_id": "P"}, default_as_of=AS_OF), PersonRecord)
    assert "expected one of person (个人)" in problems_of({"record_type": "robot", "applicant_id": "P"}).lines()[0]


def test_defaults_as_of_and_nationality():
    record = parse()
    assert (record.as_of, record.nationality) == (AS_OF, "CN")
    record = parse(as_of="", nationality=" hk ")
    assert (record.as_of, record.nationality) == (AS_OF, "HK")
    assert parse(as_of="2020-05-01").as_of == dt.date(2020, 5, 1)


def test_models_are_frozen_and_closed():
    record = parse()
    with pytest.raises(AttributeError):
        record.name = "x"
    with pytest.raises(AttributeError):
        del record.name
    assert record.name is None
    with pytest.raises(RecordError) as caught:
        PersonRecord(applicant_id="P", bogus=1, payroll_total=5, training_fee="x")
    assert caught.value.lines() == [
        "unknown field 'bogus'", "unknown field 'payroll_total': it is a field of enterprise records "
        "(record_type: enterprise)", "field 'training_fee': value 'x' is not valid; expected a number like "
        "1200 or 1,200.50"]
    assert PersonRecord(applicant_id="P", skill_level="三级", groups="无").groups == ()


def test_records_compare_hash_and_pickle_by_their_values():
    one, two = parse(training_fee="1,200"), parse(training_fee="1200")
    assert one == two and hash(one) == hash(two) and one != parse(training_fee="1201")
    assert pickle.loads(pickle.dumps(one)) == one
    assert dict(one)["training_fee"] == Decimal("1200") and list(dict(one))[:2] == ["record_type", "applicant_id"]
    assert "training_fee=Decimal('1200')" in repr(one)


# --- fact view -------------------------------------------------------------------------------

def test_fact_types():
    person = FACT_TYPES["person"]
    assert set(person) == set(PersonRecord.FIELDS)
    assert set(FACT_TYPES["enterprise"]) == set(EnterpriseRecord.FIELDS)
    assert person["training_hours"] == NUMBER and person["employer_skilled_ratio"] == NUMBER
    assert person["contract_months"] == INTEGER and person["mentee_count"] == INTEGER
    assert person["frontline"] == BOOL and person["hire_date"] == DATE and person["as_of"] == DATE
    assert all(person[f] == TEXT for f in ("applicant_id", "name", "district", "nationality", "employer_id"))
    assert person["skill_level"] == enum_type(V.SkillLevel)
    assert person["training_cert_level"] == enum_type(V.TrainingCertLevel)
    assert person["groups"] == list_type(V.Group) and person["awards"] == list_type(V.Award)
    assert FACT_TYPES["enterprise"]["payroll_total"] == NUMBER


def test_facts_mark_absent_fields_unknown():
    values = facts(parse(hukou="外省市", training_completed="否"))
    assert set(values) == set(FACT_TYPES["person"])
    assert values["hukou"] is V.Hukou.other and values["training_completed"] is False
    assert values["applicant_id"] == "P-1" and values["as_of"] == AS_OF
    assert values["skill_level"] is UNKNOWN and values["training_fee"] is UNKNOWN


def test_record_to_dict_is_json_with_codes():
    record = parse(skill_level="三级", awards="上海工匠", training_fee="1,000.50", hire_date="2024/5/1",
                   frontline="是")
    data = record_to_dict(record)
    assert json.loads(json.dumps(data)) == data
    assert data == {"record_type": "person", "applicant_id": "P-1", "as_of": "2024-06-30", "nationality": "CN",
                    "hire_date": "2024-05-01", "frontline": True, "skill_level": "senior",
                    "awards": ["shanghai_craftsman"], "training_fee": "1000.50"}


# --- properties ------------------------------------------------------------------------------

_text = st.text(min_size=1, max_size=12).map(str.strip).filter(bool)


def _values(name, fact_type, members=None):
    """A value of a field; an enumeration's from `members`, those a cell may name, where given."""
    if name == "employer_skilled_ratio":
        return st.decimals(min_value=0, max_value=1, places=4)
    if name == "nationality":
        return st.sampled_from(["CN", "HK", "USA"])
    if fact_type.kind == "list":
        return st.sets(st.sampled_from(list(fact_type.enum))).map(
            lambda found, enum=fact_type.enum: tuple(m for m in enum if m in found))
    return {
        "bool": st.booleans(),
        "number": st.integers(1 if name in ORDINALS else 0, 10**6) if fact_type.integer else st.decimals(0, 10**12, places=2),
        "date": st.dates(),
        "text": _text,
        "enum": st.sampled_from(list(members or fact_type.enum)) if fact_type.enum else None,
    }[fact_type.kind]


def _records(kind):
    model = PersonRecord if kind == "person" else EnterpriseRecord
    optional = {name: st.none() | _values(name, ft, model.FIELDS[name].kind.members) for name, ft in FACT_TYPES[kind].items()
                if name not in ("record_type", "applicant_id", "as_of", "nationality")}
    required = {"applicant_id": _text, "as_of": st.dates()}
    if kind == "person":
        optional["nationality"] = _values("nationality", TEXT)
    return st.fixed_dictionaries(required, optional=optional).map(lambda d: model(**d))


@settings(max_examples=300, deadline=None)
@given(st.one_of(_records("person"), _records("enterprise")))
def test_record_to_dict_round_trips_through_json_and_parse_record(record):
    again = parse_record(json.loads(json.dumps(record_to_dict(record))), default_as_of=dt.date(1999, 1, 1))
    assert type(again) is type(record) and again == record
    assert record_to_dict(again) == record_to_dict(record)


_keys = st.one_of(
    st.sampled_from(sorted(set(FIELD_LABELS_ZH) | set(FIELD_LABELS_ZH.values()))),
    st.text(max_size=10))
_cells = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["是", "否", "2024/5/1", "1,000", "75%", "三级", "无", "企业", "xiebao;veteran", " 12 ", "-1"]),
    st.integers(), st.floats(), st.booleans(), st.none(), st.dates(), st.decimals(),
    st.lists(st.text(max_size=6), max_size=3))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_keys, _cells, max_size=8), st.booleans())
def test_arbitrary_input_gives_a_record_or_a_record_error(data, with_id):
    if with_id:
        data = {"applicant_id": "P", **data}
    try:
        record = parse_record(data, default_as_of=AS_OF)
    except RecordError as error:
        assert error.problems and all(isinstance(line, str) and line for line in error.lines())
        assert "pydantic" not in str(error)
    else:
        assert isinstance(record, (PersonRecord, EnterpriseRecord))
        assert set(facts(record)) == set(FACT_TYPES[record.record_type])
        json.dumps(record_to_dict(record))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(FACT_TYPES["person"])), st.text(max_size=15), max_size=10))
def test_arbitrary_text_cells_give_a_record_or_a_record_error(data):
    try:
        parse_record({"applicant_id": "P", **data}, default_as_of=AS_OF)
    except RecordError as error:
        assert {p.field for p in error.problems} <= set(FACT_TYPES["person"])


@pytest.mark.parametrize("cell", ["CHN", "chn", "CN", " cn "])
def test_china_s_three_letter_code_is_its_two_letter_one(cell):
    # the hukou programmes read nationality == "CN": CHN, as a passport writes it, made a citizen foreign
    assert parse(nationality=cell).nationality == "CN"


def test_a_former_chinese_label_is_still_read_as_its_field():
    # the label now names both surcharges; a roster made with the old template keeps working
    from engine.records import field_for_header

    assert field_for_header("本年应缴教育费附加") == field_for_header("本年应缴教育费附加和地方教育附加") \
        == "education_surcharges_due"

