"""The enumerations of the record contract (BRIEF §4), with their fixed Chinese labels.

Each member is ``code = ("code", "中文标签", (synonyms…), rank)``. The code is what JSON and the
rules use; the label and synonyms are what offices type into spreadsheets. ``rank`` orders the
ladders (skill levels, titles, employer sizes); it is None where an order means nothing.
"""
from __future__ import annotations

from engine.types import LabelledEnum


class RecordType(LabelledEnum):
    """Who the applicant is: a person (the default) or an enterprise."""

    person = ("person", "个人", ("自然人", "劳动者"))
    enterprise = ("enterprise", "企业", ("单位", "用人单位"))


class Hukou(LabelledEnum):
    """Household registration (户籍)."""

    shanghai = ("shanghai", "本市", ("上海", "沪籍", "本市户籍", "上海户籍"))
    other = ("other", "外省市", ("外地", "非沪籍", "外省市户籍", "非本市户籍"))


class EmploymentStatus(LabelledEnum):
    """Employment status (就业状态); `student` brings `student_stage` into play."""

    employed = ("employed", "在职", ("就业", "在岗", "在职职工"))
    unemployed = ("unemployed", "失业", ("无业", "失业人员"))
    self_employed = ("self_employed", "灵活就业", ("个体", "自由职业"))
    student = ("student", "学生", ("在校生", "在校学生"))
    retired = ("retired", "退休", ("退休人员",))


class Group(LabelledEnum):
    """Rate groups of the individual skill subsidy (人员类别); a person may be in several."""

    xiebao = ("xiebao", "协保人员", ("协保",))
    rural_surplus_labour = ("rural_surplus_labour", "原农村富余劳动力", ("农村富余劳动力",))
    disabled = ("disabled", "残疾人", ("残疾", "残疾人员"))
    veteran = ("veteran", "退役军人", ("退役士兵", "退伍军人"))


class StudentStage(LabelledEnum):
    """Which graduating cohort a student belongs to (applies when employment_status is student).
    `not_final_year`: known not to be in a graduating year, so in neither cohort."""

    college_final_year = ("college_final_year", "高校毕业年度学生", ("高校毕业生", "毕业年度高校学生", "高校应届生"))
    vocational_final_year = (
        "vocational_final_year", "中职毕业年度学生", ("中职毕业生", "毕业年度中职学生", "中职应届生"))
    not_final_year = ("not_final_year", "非毕业年度学生", ("非毕业年度", "非毕业学年", "非应届"))


class EmployerSize(LabelledEnum):
    """Employer size class (企业规模), ranked micro < small < medium < large."""

    micro = ("micro", "微型", ("微型企业", "微"), 1)
    small = ("small", "小型", ("小型企业", "小"), 2)
    medium = ("medium", "中型", ("中型企业", "中"), 3)
    large = ("large", "大型", ("大型企业", "大"), 4)


class EmployerOwnership(LabelledEnum):
    """Employer ownership (企业性质); `public_institution` is not an enterprise."""

    central_soe = ("central_soe", "央企", ("中央企业", "央属国企"))
    municipal_soe = ("municipal_soe", "市属国企", ("市国企", "地方国企", "市属国有企业"))
    private = ("private", "民营", ("民营企业", "私营", "私营企业"))
    foreign = ("foreign", "外资", ("外资企业", "外商投资企业"))
    public_institution = ("public_institution", "事业单位", ())


class PostCategory(LabelledEnum):
    """Kind of post held (岗位类别)."""

    skill = ("skill", "技能岗位", ("技能", "技能岗", "技能类"))
    technical = ("technical", "专业技术岗位", ("技术", "专技", "专业技术岗", "技术岗"))
    management = ("management", "管理岗位", ("管理", "管理岗"))


class Field(LabelledEnum):
    """Professional field of the work (专业领域); 贯通 is open in engineering."""

    engineering = ("engineering", "工程技术", ("工程", "工程技术领域"))
    agriculture = ("agriculture", "农业", ("农业技术",))
    arts_crafts = ("arts_crafts", "工艺美术", ("工艺",))
    other = ("other", "其他", ("其它",))


class SkillLevel(LabelledEnum):
    """Skill level: the national five levels plus the new eight-level ladder, ranked 1..7; none 0.

    The national number counts down (五级 = junior … 一级 = senior technician), so it is a synonym,
    never the rank. `none` (rank 0, below every level) says the person is known to hold no level,
    which settles a condition such as "senior or above" where a blank cell leaves it unknown.
    """

    none = ("none", "无", ("无等级", "无技能等级", "未取得"), 0)
    junior = ("junior", "初级工", ("五级", "初级", "5"), 1)
    intermediate = ("intermediate", "中级工", ("四级", "中级", "4"), 2)
    senior = ("senior", "高级工", ("三级", "高级", "3"), 3)
    technician = ("technician", "技师", ("二级", "2"), 4)
    senior_technician = ("senior_technician", "高级技师", ("一级", "1"), 5)
    principal_technician = ("principal_technician", "特级技师", (), 6)
    chief_technician = ("chief_technician", "首席技师", (), 7)


class CertKind(LabelledEnum):
    """Kind of skill certificate held (证书类型); a level certificate counts as a qualification."""

    qualification = ("qualification", "职业资格证书", ("职业资格",))
    level_certificate = ("level_certificate", "职业技能等级证书", ("职业技能等级", "技能等级证书", "等级证书"))
    special_ability = ("special_ability", "专项职业能力证书", ("专项职业能力", "专项"))


class Title(LabelledEnum):
    """Engineering-series professional title (职称), ranked none 0 … professor_engineer 4."""

    none = ("none", "无", ("无职称",), 0)
    assistant_engineer = ("assistant_engineer", "助理工程师", ("助工", "初级职称"), 1)
    engineer = ("engineer", "工程师", ("中级职称",), 2)
    senior_engineer = ("senior_engineer", "高级工程师", ("高工", "副高级工程师", "副高级职称"), 3)
    professor_engineer = ("professor_engineer", "正高级工程师", ("教授级高级工程师", "教授级高工", "正高级职称"), 4)


class Award(LabelledEnum):
    """Skill awards and honours (获奖情况), in the order of the contract."""

    china_skills_award = ("china_skills_award", "中华技能大奖", ())
    national_technical_expert = ("national_technical_expert", "全国技术能手", ())
    shanghai_outstanding_technical_expert = (
        "shanghai_outstanding_technical_expert", "上海市杰出技术能手", ("上海杰出技术能手",))
    shanghai_technical_expert = ("shanghai_technical_expert", "上海市技术能手", ("上海技术能手",))
    shanghai_craftsman = ("shanghai_craftsman", "上海工匠", ())
    worldskills_gold = ("worldskills_gold", "世界技能大赛金牌", ("世赛金牌",))
    worldskills_silver = ("worldskills_silver", "世界技能大赛银牌", ("世赛银牌",))
    worldskills_bronze = ("worldskills_bronze", "世界技能大赛铜牌", ("世赛铜牌",))
    worldskills_excellence = ("worldskills_excellence", "世界技能大赛优胜奖", ("世赛优胜奖",))
    national_competition_medal = ("national_competition_medal", "全国技能大赛获奖", ("全国技能大赛奖牌",))
    national_competition_excellence = ("national_competition_excellence", "全国技能大赛优胜奖", ())
    provincial_competition_first = ("provincial_competition_first", "省级技能大赛一等奖", ("省级一类大赛一等奖",))
    provincial_skill_honour = ("provincial_skill_honour", "省级技能人才荣誉", ("省级荣誉",))
    national_skill_honour = ("national_skill_honour", "国家级技能人才荣誉", ("国家级荣誉",))


class TrainingRoute(LabelledEnum):
    """How the training was organised (培训方式); decides which fee subsidy applies. `none`: known to
    have taken no training."""

    enterprise_self = ("enterprise_self", "企业自主培训", ("企业自主",))
    sme_centralized = ("sme_centralized", "中小微企业集中培训", ("集中培训", "中小企业集中培训"))
    individual = ("individual", "个人自主参加培训", ("个人自主培训", "个人培训", "社会化培训"))
    technician_update = ("technician_update", "技师技术更新培训", ("技术更新培训",))
    none = ("none", "未参加培训", ("无", "无培训"))


class ProviderType(LabelledEnum):
    """Who delivered the training (培训机构类型)."""

    enterprise = ("enterprise", "企业", ("企业内部",))
    accredited_institution = ("accredited_institution", "职业培训机构", ("培训机构", "定点培训机构"))
    high_skill_base = ("high_skill_base", "高技能人才培养基地", ("培养基地", "高技能人才基地"))
    vocational_school = ("vocational_school", "职业院校", ("职业学校", "技工院校", "技工学校"))
    sme_platform = ("sme_platform", "中小企业培训平台", ("培训平台", "中小微企业培训平台"))


class PaidTo(LabelledEnum):
    """Who receives an SME centralised-training subsidy (补贴拨付对象)."""

    employer = ("employer", "企业", ("用人单位", "单位"))
    provider = ("provider", "培训机构", ("培训实施机构",))


class ApprenticeKind(LabelledEnum):
    """How the apprentice came to the scheme (学徒类型). `none`: known not to be an apprentice."""

    new_hire = ("new_hire", "新招用", ("新招用职工", "新招"))
    transfer = ("transfer", "转岗", ("转岗职工",))
    none = ("none", "非学徒", ("无", "不是学徒"))


def _skill_levels_plus(name: str, doc: str, *extra: tuple[str, str, tuple[str, ...], int | None]):
    """An enum holding every SkillLevel member (same code, label, synonyms, rank) plus `extra`.

    Generated rather than copied so the two ladders can never drift apart.
    """
    members = [(m.value, (m.value, m.zh, m.synonyms, m.rank)) for m in SkillLevel]
    members += [(spec[0], spec) for spec in extra]
    enum = LabelledEnum(name, members, module=__name__, qualname=name)
    enum.__doc__ = doc
    return enum


TrainingCertLevel = _skill_levels_plus(
    "TrainingCertLevel",
    "Certificate obtained through the training: a skill level, or a 专项职业能力 certificate (no level); "
    "`none`: known to have obtained none.",
    ("special_ability", "专项职业能力", ("专项职业能力证书", "专项"), None),
)

#: every enumeration of the record contract, for documentation and consistency checks
ALL_ENUMS: tuple[type[LabelledEnum], ...] = (
    RecordType, Hukou, EmploymentStatus, Group, StudentStage, EmployerSize, EmployerOwnership,
    PostCategory, Field, SkillLevel, CertKind, Title, Award, TrainingRoute, ProviderType, PaidTo,
    TrainingCertLevel, ApprenticeKind,
)

# Enumerations by class name, as rule files name them (`keyed_by: SkillLevel`, `type: Title`).
ENUMS: dict[str, type[LabelledEnum]] = {enum.__name__: enum for enum in ALL_ENUMS}
