"""Synthetic applicants for demos, tests and benchmarks: plausible rosters, streamed, reproducible.

Rows are drawn from coherent personas (an SME trainee on the centralised route, a registered
unemployed Shanghai resident on a self-paid course, a second-year apprentice, a technician with an
eight-year-old certificate, a studio leader with matching funds near the 100,000 threshold …), so
every programme sees eligible, ineligible and undetermined applicants, and the numbers sit where
the rules draw their lines (23/24 class hours, a 0.6 skilled ratio, 50,000 matching funds, a
frontline share near 60%).

`synthesise` returns a header and a lazy iterator: a million rows stream in constant memory, and
the same seed always gives the same rows. With ``chinese=True`` the rows look like an office
roster (Chinese headers and labels, 是/否, dates typed as 2024/5/1, numbers with stray spaces);
``unknown_share`` of the optional cells are left blank (unknown); ``bad_share`` of the rows carry
exactly one bad value, so batch error handling has something to catch.
"""
from __future__ import annotations

import random
from bisect import bisect
from datetime import date
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from engine import vocabulary as V
from engine.records import FACT_TYPES, FIELD_LABELS_ZH
from engine.tabular import TableWriter
from engine.types import FactType, LabelledEnum, normalise_label

__all__ = ["synthesise", "write_synthetic", "DEFAULT_AS_OF", "ERROR_HEADER", "PERSON_PERSONAS",
           "ENTERPRISE_PERSONAS"]

DEFAULT_AS_OF = date(2024, 6, 1)
from engine.batch import ERROR_HEADER  # noqa: E402  the error sheet the batch writes
_ALWAYS_KNOWN = {"applicant_id", "record_type", "as_of"}  # never blanked, never made bad
_NEVER_BAD_KINDS = {"text"}  # a name or a district cannot be "wrong"

L = V.SkillLevel
A = V.Award


# ------------------------------------------------------------------------------------ drawing


class _Draw:
    """Fast draws on one random.Random: `random()` is C; choice/randint are slow Python."""

    __slots__ = ("rnd",)

    def __init__(self, rng: random.Random) -> None:
        self.rnd = rng.random

    def chance(self, p: float) -> bool:
        return self.rnd() < p

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.rnd() * len(seq))]

    def between(self, lo: int, hi: int) -> int:
        """A whole number in [lo, hi]."""
        return lo + int(self.rnd() * (hi - lo + 1))


class _Weighted:
    """A weighted choice, drawn by bisecting cumulative weights."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.items = [item for item, _ in pairs]
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def __call__(self, d: _Draw) -> Any:
        return self.items[bisect(self.cum, d.rnd() * self.total)]


def W(*pairs: tuple[Any, float]) -> _Weighted:
    return _Weighted(pairs)


# ------------------------------------------------------------------------------------ vocabulary

_SURNAMES = [("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
             ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"), ("徐", "Xu"), ("孙", "Sun"),
             ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"), ("郭", "Guo"), ("何", "He"), ("林", "Lin"),
             ("高", "Gao"), ("罗", "Luo"), ("郑", "Zheng"), ("梁", "Liang"), ("谢", "Xie"), ("宋", "Song"),
             ("唐", "Tang"), ("许", "Xu"), ("韩", "Han"), ("沈", "Shen"), ("顾", "Gu"), ("陆", "Lu")]
_GIVEN = [("伟", "Wei"), ("芳", "Fang"), ("敏", "Min"), ("静", "Jing"), ("磊", "Lei"), ("洋", "Yang"),
          ("艳", "Yan"), ("勇", "Yong"), ("军", "Jun"), ("杰", "Jie"), ("娟", "Juan"), ("涛", "Tao"),
          ("明", "Ming"), ("超", "Chao"), ("秀", "Xiu"), ("霞", "Xia"), ("平", "Ping"), ("刚", "Gang"),
          ("建", "Jian"), ("华", "Hua"), ("文", "Wen"), ("斌", "Bin"), ("琳", "Lin"), ("晨", "Chen"),
          ("浩", "Hao"), ("宇", "Yu"), ("佳", "Jia"), ("欣", "Xin"), ("婷", "Ting"), ("慧", "Hui")]
_DISTRICTS = [("黄浦区", "Huangpu", "01"), ("徐汇区", "Xuhui", "04"), ("长宁区", "Changning", "05"),
              ("静安区", "Jing'an", "06"), ("普陀区", "Putuo", "07"), ("虹口区", "Hongkou", "09"),
              ("杨浦区", "Yangpu", "10"), ("闵行区", "Minhang", "12"), ("宝山区", "Baoshan", "13"),
              ("嘉定区", "Jiading", "14"), ("浦东新区", "Pudong", "15"), ("金山区", "Jinshan", "16"),
              ("松江区", "Songjiang", "17"), ("青浦区", "Qingpu", "18"), ("奉贤区", "Fengxian", "20"),
              ("崇明区", "Chongming", "51")]
_DISTRICT_WEIGHTS = W(*((i, w) for i, w in enumerate(
    [3, 5, 3, 4, 4, 3, 5, 9, 7, 8, 18, 4, 7, 4, 5, 2])))
_FIRM_WORDS = [("精工", "Precision"), ("智造", "Smart Manufacturing"), ("电气", "Electric"),
               ("汽车零部件", "Auto Parts"), ("船舶", "Shipbuilding"), ("生物医药", "Biopharma"),
               ("数控", "CNC"), ("新材料", "New Materials"), ("物流", "Logistics"), ("集成电路", "IC"),
               ("建设工程", "Construction"), ("食品", "Foods"), ("航空", "Aviation"), ("化工", "Chemicals")]
_FIRM_PREFIX = [("申", "Shen"), ("浦", "Pu"), ("华", "Hua"), ("金", "Jin"), ("宏", "Hong"), ("联", "Lian"),
                ("达", "Da"), ("恒", "Heng"), ("信", "Xin"), ("嘉", "Jia"), ("沪", "Hu"), ("东", "Dong")]
_CHECK_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the unified social credit code alphabet


# ------------------------------------------------------------------------------------ distributions

_SIZE = W((V.EmployerSize.micro, 20), (V.EmployerSize.small, 35), (V.EmployerSize.medium, 25),
          (V.EmployerSize.large, 20))
_OWNERSHIP = W((V.EmployerOwnership.private, 58), (V.EmployerOwnership.foreign, 12),
               (V.EmployerOwnership.municipal_soe, 15), (V.EmployerOwnership.central_soe, 8),
               (V.EmployerOwnership.public_institution, 7))
_CONTRACT = W((12, 15), (24, 20), (36, 35), (60, 15), (120, 5), (6, 5), (3, 5))
_POST = W((V.PostCategory.skill, 75), (V.PostCategory.technical, 15), (V.PostCategory.management, 10))
_FIELD = W((V.Field.engineering, 68), (V.Field.other, 20), (V.Field.arts_crafts, 6), (V.Field.agriculture, 6))
_TRAINEE_LEVEL = W((None, 18), (L.junior, 20), (L.intermediate, 30), (L.senior, 20), (L.technician, 10),
                   (L.senior_technician, 2))
_CLASS_HOURS = W((8, 4), (16, 14), (23, 6), (24, 26), (32, 22), (40, 20), (48, 6), (64, 2))
_ROUND_FEES = [800, 1200, 1200, 1600, 2400, 2400, 3000]
_PROJECTS = W((0, 55), (1, 24), (2, 13), (3, 8))
_SELF_PROVIDER = W((V.ProviderType.enterprise, 60), (V.ProviderType.accredited_institution, 30),
                   (V.ProviderType.vocational_school, 10))
_SME_PROVIDER = W((V.ProviderType.accredited_institution, 40), (V.ProviderType.sme_platform, 25),
                  (V.ProviderType.vocational_school, 13), (V.ProviderType.high_skill_base, 10),
                  (V.ProviderType.enterprise, 12))
_SME_SIZE = W((V.EmployerSize.micro, 30), (V.EmployerSize.small, 40), (V.EmployerSize.medium, 22),
              (V.EmployerSize.large, 8))
_INDIVIDUAL_PROVIDER = W((V.ProviderType.accredited_institution, 70), (V.ProviderType.vocational_school, 20),
                         (V.ProviderType.high_skill_base, 10))
_COURSE_HOURS = W((40, 10), (60, 20), (80, 25), (120, 25), (160, 15), (240, 5))
_LEARNER_KIND = W(("unemployed", 30), ("veteran", 15), ("student", 20), ("employed", 20), ("priority", 10),
                  ("other", 5))
_ADULT_CERT = W((V.TrainingCertLevel.junior, 18), (V.TrainingCertLevel.intermediate, 32),
                (V.TrainingCertLevel.senior, 25), (V.TrainingCertLevel.technician, 8),
                (V.TrainingCertLevel.senior_technician, 2), (V.TrainingCertLevel.special_ability, 15))
_STUDENT_CERT = W((V.TrainingCertLevel.junior, 30), (V.TrainingCertLevel.intermediate, 45),
                  (V.TrainingCertLevel.senior, 10), (V.TrainingCertLevel.special_ability, 15))
_CERT_BASE = {"junior": 1500, "intermediate": 2000, "senior": 2500, "technician": 3000,
              "senior_technician": 3500, "special_ability": 1000}
_APPRENTICE_YEAR = W((1, 35), (2, 30), (3, 22), (4, 13))
_APPRENTICE_TARGET = W((L.junior, 20), (L.intermediate, 40), (L.senior, 30), (L.technician, 10))
_APPRENTICE_CONTRACT = W((6, 8), (12, 25), (24, 30), (36, 37))
_MENTOR_LEVEL = W((L.intermediate, 10), (L.senior, 40), (L.technician, 33), (L.senior_technician, 15),
                  (L.principal_technician, 2))
_SKILLED_LEVEL = W((L.intermediate, 15), (L.senior, 35), (L.technician, 30), (L.senior_technician, 15),
                   (L.principal_technician, 3), (L.chief_technician, 2))
_WORKER_TITLE = W((V.Title.none, 72), (V.Title.assistant_engineer, 18), (V.Title.engineer, 8),
                  (V.Title.senior_engineer, 2))
_ENGINEER_TITLE = W((V.Title.assistant_engineer, 35), (V.Title.engineer, 40), (V.Title.senior_engineer, 20),
                    (V.Title.professor_engineer, 5))
_ENGINEER_LEVEL = W((None, 60), (L.senior, 20), (L.technician, 15), (L.senior_technician, 5))
_WORKER_AWARD = W((None, 80), (A.shanghai_technical_expert, 8), (A.provincial_competition_first, 3),
                  (A.provincial_skill_honour, 3), (A.national_skill_honour, 2), (A.shanghai_craftsman, 1),
                  (A.national_competition_excellence, 2), (A.national_technical_expert, 1))
_TOP_AWARD = W((A.china_skills_award, 7), (A.national_technical_expert, 26),
               (A.shanghai_outstanding_technical_expert, 18), (A.shanghai_craftsman, 18),
               (A.worldskills_gold, 3), (A.worldskills_silver, 3), (A.worldskills_bronze, 3),
               (A.worldskills_excellence, 5), (A.national_competition_medal, 14),
               (A.national_competition_excellence, 8), (A.provincial_competition_first, 8),
               (A.national_skill_honour, 8), (A.shanghai_technical_expert, 10))
_TOP_LEVEL = W((L.senior, 10), (L.technician, 30), (L.senior_technician, 40), (L.principal_technician, 12),
               (L.chief_technician, 8))
_YOUNG_WINNER_LEVEL = W((L.intermediate, 25), (L.senior, 50), (L.technician, 25))
_COMPETITION_AWARDS = {A.worldskills_gold, A.worldskills_silver, A.worldskills_bronze, A.worldskills_excellence,
                       A.national_competition_medal, A.national_competition_excellence}
_CHIEF_FUNDS = [30000, 40000, 45000, 49999, 50000, 50000, 50000, 60000, 80000, 100000]
_STUDIO_FUNDS = [50000, 80000, 90000, 99999, 100000, 100000, 100000, 120000, 150000, 200000]
_PRIORITY = [V.Group.xiebao, V.Group.rural_surplus_labour, V.Group.disabled]
_FOREIGN_NATIONALITY = ["HK", "TW", "MO", "KR", "JP", "SG"]

#: the person personas and how often each appears (share of rows)
PERSON_PERSONAS = {
    "enterprise_trainee": 20, "sme_trainee": 15, "individual_learner": 22, "apprentice": 13,
    "mentor": 6, "skilled_worker": 14, "top_talent": 5, "engineer": 5,
}
#: the enterprise personas
ENTERPRISE_PERSONAS = {"manufacturer": 45, "soe_group": 15, "high_tech": 20, "industry_education": 15,
                       "small_service": 5}


# ------------------------------------------------------------------------------------ bad values

def _bogus_labels(enum: type[LabelledEnum]) -> list[str]:
    """Labels an office might type that the enumeration does not accept (checked, not assumed)."""
    tries = [m.value[:-1] for m in enum] + [m.zh + "类" for m in enum]
    tries += ["待定", "不详", "其他类型", "n/a", "TBD"]
    if issubclass(enum, (V.SkillLevel,)) or enum.__name__ == "TrainingCertLevel":
        tries += ["0", "6", "七级", "高級工", "技术员"]
    accepted = enum.labels()
    return [t for t in tries if normalise_label(t) not in accepted]


_BOGUS_ITEMS = {V.Group: ["低保户", "失地农民", "军属"], V.Award: ["劳动模范", "区技术能手", "优秀员工"]}
_BAD_BOOL = ["待定", "不详", "maybe", "有", "?"]
_BAD_NUMBER = ["约1200", "1200元", "n/a", "待补", "1,5", "二十四", "12.5.1"]
_BAD_COUNT = ["12.5", "三", "n/a", "1-2", -1]
_BAD_RATIO = [1.7, "170%", "1.2", "约六成", -0.3]


# ------------------------------------------------------------------------------------ the generator


class _Synth:
    """Makes one canonical row (field → value) per call; formatting and blanking happen after."""

    def __init__(self, rng: random.Random, record_type: str, as_of: date, chinese: bool,
                 unknown_share: float, bad_share: float) -> None:
        self.rng, self.d = rng, _Draw(rng)
        self.record_type, self.as_of, self.chinese = record_type, as_of, chinese
        self.unknown_share, self.bad_share = unknown_share, bad_share
        types = FACT_TYPES[record_type]
        self.fields = ["applicant_id"] + [name for name in types if name != "applicant_id"]
        self.types: dict[str, FactType] = {name: types[name] for name in self.fields}
        self.format = [self._formatter(name, self.types[name]) for name in self.fields]
        self.spec = {name: (i, name not in _ALWAYS_KNOWN, self.format[i]) for i, name in enumerate(self.fields)}
        self.blank_row: list[Any] = [None] * len(self.fields)
        self.can_be_bad = [i for i, name in enumerate(self.fields)
                           if name not in _ALWAYS_KNOWN and self.types[name].kind not in _NEVER_BAD_KINDS]
        self.bogus = {name: _bogus_labels(t.enum) for name, t in self.types.items() if t.kind == "enum"}
        self.employers = [self._employer() for _ in range(2000)] if record_type == "person" else []
        self.persona = W(*(PERSON_PERSONAS if record_type == "person" else ENTERPRISE_PERSONAS).items())
        self.prefix = "P" if record_type == "person" else "E"

    # -------------------------------------------------------------------------------- shared parts

    def _employer(self) -> tuple:
        d = self.d
        district = _DISTRICT_WEIGHTS(d)
        code = "9131" + "01" + _DISTRICTS[district][2] + "MA" + "".join(d.pick(_CHECK_CHARS) for _ in range(8))
        size, ownership = _SIZE(d), _OWNERSHIP(d)
        big = size is V.EmployerSize.large or ownership in (V.EmployerOwnership.central_soe,
                                                            V.EmployerOwnership.municipal_soe)
        ratio = 0.6 if d.chance(0.06) else round(0.42 + d.rnd() * 0.43, 2)  # around 0.5–0.8
        return (code, size, ownership, d.chance(0.04), d.chance(0.93), d.chance(0.9 if big else 0.62), ratio,
                district)

    def _day(self, lo_days: int, hi_days: int) -> date:
        """A date between lo and hi days before the row's as_of."""
        return date.fromordinal(self.day0 - self.d.between(lo_days, hi_days))

    def _name(self) -> str:
        d = self.d
        surname, given = d.pick(_SURNAMES), d.pick(_GIVEN)
        two = d.chance(0.6)
        second = d.pick(_GIVEN) if two else None
        if self.chinese:
            return surname[0] + given[0] + (second[0] if two else "")
        return f"{given[1]}{second[1].lower() if two else ''} {surname[1]}"

    def _base(self, r: dict) -> None:
        d = self.d
        district = _DISTRICT_WEIGHTS(d)
        r["name"] = self._name()
        r["district"] = _DISTRICTS[district][0 if self.chinese else 1]
        r["hukou"] = V.Hukou.shanghai if d.chance(0.55) else V.Hukou.other
        r["nationality"] = "CN" if r["hukou"] is V.Hukou.shanghai or d.chance(0.96) else d.pick(_FOREIGN_NATIONALITY)
        r["registered_unemployed"] = False
        r["groups"] = ()
        r["awards"] = ()
        r["title"] = V.Title.none
        r["major_contribution"] = False
        r["is_mentor"] = False
        r["chief_technician_project"] = False
        r["studio_leader"] = False

    def _employ(self, r: dict, *, sizes: _Weighted | None = None) -> tuple:
        d = self.d
        employer = d.pick(self.employers)
        if sizes is not None:  # a roster of one route draws from the firms that use it
            wanted = sizes(d)
            for _ in range(6):
                if employer[1] is wanted:
                    break
                employer = d.pick(self.employers)
        code, size, ownership, dispatch, surcharge, system, ratio, _ = employer
        r["employment_status"] = V.EmploymentStatus.employed
        r["employer_id"] = code
        r["employer_size"] = size
        r["employer_ownership"] = ownership
        r["employer_dispatch_only"] = dispatch
        r["employer_pays_education_surcharge"] = surcharge
        r["employer_has_training_system"] = system
        r["employer_skilled_ratio"] = ratio
        r["hire_date"] = self._day(30, 5400)
        r["contract_months"] = _CONTRACT(d)
        post = _POST(d)
        r["post_category"] = post
        r["frontline"] = d.chance(0.88 if post is V.PostCategory.skill else 0.2)
        r["field"] = _FIELD(d)
        r["appraisals_passed_3y"] = d.chance(0.9)
        r["continuing_education_done"] = d.chance(0.8)
        return employer

    def _certificate(self, r: dict, level: L | None, lo_days: int = 0, hi_days: int = 3650) -> None:
        if level is None:
            return
        d = self.d
        r["skill_level"] = level
        when = self._day(lo_days, hi_days)
        r["skill_cert_date"] = when
        # 职业技能等级证书 replaced 职业资格证书 for most trades from 2020
        newer = when.year >= 2020
        r["skill_cert_kind"] = (V.CertKind.level_certificate if d.chance(0.8 if newer else 0.1)
                                else V.CertKind.qualification)
        r["cert_matches_post"] = d.chance(0.82)

    def _fee(self) -> int:
        d = self.d
        if d.chance(0.35):
            return d.pick(_ROUND_FEES)
        return 800 + 50 * d.between(0, 44)  # 800–3000 in steps of 50

    def _employer_training(self, r: dict, route: V.TrainingRoute, provider: _Weighted) -> None:
        d = self.d
        r["training_route"] = route
        r["provider_type"] = provider(d)
        r["training_hours"] = _CLASS_HOURS(d)
        r["training_fee"] = self._fee()
        r["training_completed"] = d.chance(0.88)
        r["repeat_project"] = d.chance(0.06)
        r["subsidised_projects_this_year"] = _PROJECTS(d)
        r["shortage_occupation"] = d.chance(0.15)
        if d.chance(0.3):
            r["training_cert_level"] = V.TrainingCertLevel(_TRAINEE_LEVEL(d) or "special_ability")

    # -------------------------------------------------------------------------------- personas

    def enterprise_trainee(self, r: dict) -> None:
        self._employ(r)
        self._certificate(r, _TRAINEE_LEVEL(self.d))
        self._employer_training(r, V.TrainingRoute.enterprise_self, _SELF_PROVIDER)

    def sme_trainee(self, r: dict) -> None:
        self._employ(r, sizes=_SME_SIZE)
        self._certificate(r, _TRAINEE_LEVEL(self.d))
        self._employer_training(r, V.TrainingRoute.sme_centralized, _SME_PROVIDER)
        r["paid_to"] = V.PaidTo.employer if self.d.chance(0.6) else V.PaidTo.provider

    def individual_learner(self, r: dict) -> None:
        d = self.d
        kind = _LEARNER_KIND(d)
        cert = _ADULT_CERT
        if kind == "unemployed":
            r["employment_status"] = V.EmploymentStatus.unemployed
            r["hukou"] = V.Hukou.shanghai if d.chance(0.7) else V.Hukou.other
            r["registered_unemployed"] = d.chance(0.8)
        elif kind == "veteran":
            r["groups"] = (V.Group.veteran,)
            r["discharge_date"] = self._day(365, 8 * 365)  # 1–8 years ago: some past the 5-year window
            r["hukou"] = V.Hukou.shanghai if d.chance(0.75) else V.Hukou.other
            status = d.rnd()
            if status < 0.5:
                r["employment_status"] = V.EmploymentStatus.unemployed
                r["registered_unemployed"] = d.chance(0.5)
            elif status < 0.9:
                self._employ(r)
            else:
                r["employment_status"] = V.EmploymentStatus.self_employed
        elif kind == "student":
            r["employment_status"] = V.EmploymentStatus.student
            r["student_stage"] = (V.StudentStage.college_final_year if d.chance(0.55)
                                  else V.StudentStage.vocational_final_year)
            cert = _STUDENT_CERT
        elif kind == "employed":
            self._employ(r)
            self._certificate(r, _TRAINEE_LEVEL(d))
        elif kind == "priority":
            r["groups"] = (d.pick(_PRIORITY),)
            r["hukou"] = V.Hukou.shanghai
            if d.chance(0.6):
                r["employment_status"] = V.EmploymentStatus.unemployed
                r["registered_unemployed"] = d.chance(0.7)
            else:
                self._employ(r)
        else:  # self-employed or retired: outside every rate group unless in a group
            r["employment_status"] = (V.EmploymentStatus.self_employed if d.chance(0.7)
                                      else V.EmploymentStatus.retired)
        r["training_route"] = V.TrainingRoute.individual
        r["provider_type"] = _INDIVIDUAL_PROVIDER(d)
        r["training_hours"] = _COURSE_HOURS(d)
        r["training_completed"] = d.chance(0.92)
        r["shortage_occupation"] = d.chance(0.2)
        if d.chance(0.9):  # otherwise the certificate is still pending: unknown
            level = cert(d)
            r["training_cert_level"] = level
            # fees mostly cover the standard; some courses cost less than the subsidy would pay
            base = _CERT_BASE.get(level.value, 2000)
            r["training_fee"] = int(base * (0.7 + d.rnd() * 0.9)) // 10 * 10
        else:
            r["training_fee"] = 1000 + 100 * d.between(0, 40)

    def apprentice(self, r: dict) -> None:
        d = self.d
        self._employ(r)
        r["post_category"] = V.PostCategory.skill
        r["frontline"] = True
        kind = V.ApprenticeKind.new_hire if d.chance(0.7) else V.ApprenticeKind.transfer
        year = _APPRENTICE_YEAR(d)
        r["apprentice_kind"] = kind
        r["apprentice_year"] = year
        r["apprentice_target_level"] = _APPRENTICE_TARGET(d)
        r["contract_months"] = _APPRENTICE_CONTRACT(d)
        start = (year - 1) * 365
        if kind is V.ApprenticeKind.new_hire:
            r["hire_date"] = self._day(start + 10, start + 330)
        else:  # in the firm for years, moved to a new post when the apprenticeship began
            r["hire_date"] = self._day(start + 400, start + 4000)
            self._certificate(r, L.junior if d.chance(0.4) else None, start, start + 2000)
        r["apprentice_evaluation_passed"] = d.chance(0.82)
        r["apprentice_cert_obtained"] = d.chance(0.6)

    def mentor(self, r: dict) -> None:
        d = self.d
        self._employ(r)
        r["post_category"] = V.PostCategory.skill
        r["frontline"] = True
        self._certificate(r, _MENTOR_LEVEL(d), 365, 7300)
        r["is_mentor"] = d.chance(0.95)
        if r["is_mentor"]:
            r["mentee_count"] = 0 if d.chance(0.08) else d.between(1, 4)
            r["mentor_same_employer"] = d.chance(0.9)
        r["title"] = _WORKER_TITLE(d)

    def skilled_worker(self, r: dict) -> None:
        d = self.d
        self._employ(r)
        if d.chance(0.8):
            r["post_category"] = V.PostCategory.skill
            r["frontline"] = d.chance(0.92)
        level = _SKILLED_LEVEL(d)
        self._certificate(r, level, 0, 3650)
        r["title"] = _WORKER_TITLE(d)
        award = _WORKER_AWARD(d)
        if award is not None:
            r["awards"] = (award,)
        r["major_contribution"] = d.chance(0.05)
        route = d.rnd()
        if route < 0.3:
            r["training_route"] = V.TrainingRoute.technician_update
            r["provider_type"] = W((V.ProviderType.enterprise, 45), (V.ProviderType.high_skill_base, 35),
                                   (V.ProviderType.accredited_institution, 20))(d)
            r["training_hours"] = d.pick([24, 32, 40, 48, 60, 80])
            r["training_fee"] = 1500 + 100 * d.between(0, 45)
            r["training_completed"] = d.chance(0.87)
        elif route < 0.45:
            self._employer_training(r, V.TrainingRoute.enterprise_self, _SELF_PROVIDER)

    def top_talent(self, r: dict) -> None:
        d = self.d
        self._employ(r)
        r["post_category"] = V.PostCategory.skill
        r["frontline"] = d.chance(0.85)
        r["hukou"] = V.Hukou.shanghai if d.chance(0.6) else V.Hukou.other
        awards = {_TOP_AWARD(d)}
        if d.chance(0.35):
            awards.add(_TOP_AWARD(d))
        r["awards"] = tuple(sorted(awards, key=list(V.Award).index))
        if awards & _COMPETITION_AWARDS and d.chance(0.7):  # a young winner: promoted recently
            self._certificate(r, _YOUNG_WINNER_LEVEL(d), 60, 1500)
        else:
            self._certificate(r, _TOP_LEVEL(d), 365, 3650)
        r["title"] = _WORKER_TITLE(d)
        r["major_contribution"] = d.chance(0.4)
        role = d.rnd()
        if role < 0.35:  # a selected chief-technician project, matching funds near 50,000
            r["chief_technician_project"] = d.chance(0.85)
            r["matching_funds"] = d.pick(_CHIEF_FUNDS)
        elif role < 0.7:  # a master studio, matching funds near 100,000
            r["studio_leader"] = True
            r["studio_funded_before"] = d.chance(0.2)
            r["prior_chief_technician_funding"] = d.chance(0.3)
            r["matching_funds"] = d.pick(_STUDIO_FUNDS)
        if d.chance(0.3):
            r["is_mentor"] = True
            r["mentee_count"] = d.between(1, 6)
            r["mentor_same_employer"] = d.chance(0.9)

    def engineer(self, r: dict) -> None:
        d = self.d
        self._employ(r)
        r["post_category"] = V.PostCategory.technical
        r["frontline"] = d.chance(0.25)
        r["field"] = V.Field.engineering if d.chance(0.85) else V.Field.other
        r["title"] = _ENGINEER_TITLE(d)
        self._certificate(r, _ENGINEER_LEVEL(d), 180, 3650)

    # enterprise personas

    def _enterprise(self, r: dict, *, payroll: tuple[float, float], high_tech: float, ie: float,
                    spend_share: tuple[float, float], frontline_share: float) -> None:
        d = self.d
        words, prefix = d.pick(_FIRM_WORDS), d.pick(_FIRM_PREFIX)
        district = _DISTRICT_WEIGHTS(d)
        if self.chinese:
            r["name"] = f"上海{prefix[0]}{d.pick(_FIRM_PREFIX)[0]}{words[0]}有限公司"
            r["district"] = _DISTRICTS[district][0]
        else:
            r["name"] = f"Shanghai {prefix[1]}{d.pick(_FIRM_PREFIX)[1].lower()} {words[1]} Co., Ltd."
            r["district"] = _DISTRICTS[district][1]
        lo, hi = payroll
        pay = int(lo * (hi / lo) ** d.rnd())  # log-uniform: many small firms, a few large
        pay_cents = pay // 100 * 10000
        r["payroll_total"] = _money(pay_cents)
        r["high_tech_enterprise"] = d.chance(high_tech)
        is_ie = d.chance(ie)
        r["industry_education_enterprise"] = is_ie
        if is_ie:
            invest = 0 if d.chance(0.3) else 1000 * d.between(20, 3000)
        else:
            invest = 1000 * d.between(5, 200) if d.chance(0.08) else 0
        r["vocational_education_investment"] = invest
        r["education_surcharges_due"] = _money(int(pay_cents * (0.004 + d.rnd() * 0.02)))
        if d.chance(0.06):
            spend_cents = 0
        else:
            lo_s, hi_s = spend_share
            spend_cents = int(pay_cents * (lo_s + d.rnd() * (hi_s - lo_s)))
        r["staff_education_spend"] = _money(spend_cents)
        if d.chance(0.07):
            share = 0.6  # exactly on the line
        else:
            share = min(1.0, max(0.0, self.rng.gauss(frontline_share, 0.12)))
        r["frontline_education_spend"] = _money(int(spend_cents * share))

    def manufacturer(self, r: dict) -> None:
        self._enterprise(r, payroll=(2e6, 3e8), high_tech=0.2, ie=0.08, spend_share=(0.005, 0.09),
                         frontline_share=0.66)

    def soe_group(self, r: dict) -> None:
        self._enterprise(r, payroll=(5e7, 3e9), high_tech=0.25, ie=0.3, spend_share=(0.015, 0.06),
                         frontline_share=0.6)

    def high_tech(self, r: dict) -> None:
        self._enterprise(r, payroll=(5e6, 1e9), high_tech=0.9, ie=0.15, spend_share=(0.01, 0.12),
                         frontline_share=0.52)

    def industry_education(self, r: dict) -> None:
        self._enterprise(r, payroll=(2e7, 1e9), high_tech=0.35, ie=0.85, spend_share=(0.02, 0.1),
                         frontline_share=0.65)

    def small_service(self, r: dict) -> None:
        self._enterprise(r, payroll=(5e5, 2e7), high_tech=0.02, ie=0.01, spend_share=(0.0, 0.03),
                         frontline_share=0.58)

    # -------------------------------------------------------------------------------- one row

    def row(self, number: int) -> list[Any]:
        d = self.d
        as_of = self.as_of
        if d.chance(0.08):  # mostly the campaign date; some rows assessed earlier
            as_of = date.fromordinal(as_of.toordinal() - d.between(1, 400))
        self.day0 = as_of.toordinal()
        r: dict[str, Any] = {"applicant_id": f"{self.prefix}-{number:07d}", "record_type": self.record_type,
                             "as_of": as_of}
        if self.record_type == "person":
            self._base(r)
        getattr(self, self.persona(d))(r)

        # only the cells this persona fills are visited: the rest stay blank (unknown)
        out = self.blank_row[:]
        unknown, rnd, spec = self.unknown_share, d.rnd, self.spec
        for name, value in r.items():
            if value is None:
                continue
            i, optional, fmt = spec[name]
            if optional and rnd() < unknown:
                continue
            out[i] = value if fmt is None else fmt(value)
        if self.bad_share and d.chance(self.bad_share):
            i = d.pick(self.can_be_bad)
            out[i] = self._bad(self.fields[i])
        return out

    # -------------------------------------------------------------------------------- cells

    def _formatter(self, name: str, fact_type: FactType) -> Callable[[Any], Any] | None:
        kind, chinese, d = fact_type.kind, self.chinese, self.d
        if name == "record_type":
            return (lambda v: V.RecordType(v).zh) if chinese else None
        if kind == "enum":
            if not chinese:
                return str.__str__  # the member's code as a plain str, at C speed
            def label(member: LabelledEnum) -> str:
                if member.synonyms and d.rnd() < 0.12:
                    return d.pick(member.synonyms)
                return member.zh
            return label
        if kind == "list":
            if not chinese:
                return lambda items: ";".join(items) if items else "none"  # members are their codes
            def labels(items: tuple) -> str:
                if not items:
                    return "无"
                return d.pick(("、", "、", "；", ";")).join(m.zh for m in items)
            return labels
        if not chinese:
            return None  # bool, date, int, Decimal, float, text: the value itself
        if kind == "bool":
            def yes_no(value: bool) -> Any:
                if d.rnd() < 0.05:
                    return int(value)
                return "是" if value else "否"
            return yes_no
        if kind == "date":
            def day(value: date) -> Any:
                x = d.rnd()
                if x < 0.45:
                    return value  # a real date cell
                if x < 0.8:
                    return f"{value.year}/{value.month}/{value.day}"
                if x < 0.92:
                    return value.isoformat()
                return f"{value.year}年{value.month}月{value.day}日"
            return day
        if kind == "number":
            def number(value: Any) -> Any:
                x = d.rnd()
                if isinstance(value, float):  # a ratio
                    return f"{round(value * 100)}%" if x < 0.2 else value
                if x < 0.22:
                    return f" {value} "
                if x < 0.3 and value >= 1000:
                    return f"{value:,}"
                return value
            return number
        return None

    def _bad(self, name: str) -> Any:
        """One value the record contract rejects, of the kind offices produce."""
        d, fact_type = self.d, self.types[name]
        kind = fact_type.kind
        if kind == "enum":
            return d.pick(self.bogus[name])
        if kind == "list":
            good = d.pick(list(fact_type.enum))
            good = good.zh if self.chinese else good.value
            return f"{good}、{d.pick(_BOGUS_ITEMS[fact_type.enum])}"
        if kind == "bool":
            return d.pick(_BAD_BOOL)
        if kind == "date":
            year = self.as_of.year - d.between(0, 5)
            return d.pick((f"{year}-02-30", f"{year}/13/1", f"{year}-04-31", f"{year}.6", "去年", f"{year}-6"))
        if name == "employer_skilled_ratio":
            return d.pick(_BAD_RATIO)
        if fact_type.integer:
            return d.pick(_BAD_COUNT)
        return d.pick(_BAD_NUMBER) if d.chance(0.7) else -100 * d.between(1, 30)  # a negative amount


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


# ------------------------------------------------------------------------------------ public API


def synthesise(rows: int, *, seed: int = 0, record_type: str = "person", bad_share: float = 0.0,
               unknown_share: float = 0.1, chinese: bool = False,
               as_of: date | None = None) -> tuple[list[str], Iterator[list[Any]]]:
    """(header, rows): `rows` synthetic applicants of `record_type`, generated lazily.

    The header holds the English field names (applicant_id first), or with ``chinese=True`` the
    Chinese labels. Each row is a list of cells in header order; None is a blank (unknown) cell.
    The same arguments always give the same rows.
    """
    if record_type not in FACT_TYPES:
        raise ValueError(f"record_type must be one of {', '.join(sorted(FACT_TYPES))}, not {record_type!r}")
    if not isinstance(rows, int) or rows < 0:
        raise ValueError(f"rows must be a whole number ≥ 0, not {rows!r}")
    for label, share in (("bad_share", bad_share), ("unknown_share", unknown_share)):
        if not 0 <= share <= 1:
            raise ValueError(f"{label} must be between 0 and 1, not {share!r}")
    synth = _Synth(random.Random(seed), record_type, as_of or DEFAULT_AS_OF, chinese, unknown_share, bad_share)
    header = [FIELD_LABELS_ZH[name] for name in synth.fields] if chinese else list(synth.fields)

    def generate() -> Iterator[list[Any]]:
        make = synth.row
        for number in range(1, rows + 1):
            yield make(number)

    return header, generate()


def write_synthetic(path: Path, rows: int, **options: Any) -> int:
    """Write `rows` synthetic applicants to a CSV, XLSX or Parquet file; returns the row count.

    The file appears only when complete (TableWriter); its error sheet is present and empty.
    """
    header, generated = synthesise(rows, **options)
    writer = TableWriter(Path(path), header, ERROR_HEADER)
    written = 0
    try:
        for row in generated:
            writer.write(row)
            written += 1
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    return written
