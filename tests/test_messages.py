"""Every problem the record contract reports can be said in Chinese (engine.messages)."""
from datetime import date

import pytest

from engine.batch import read_row
from engine.messages import in_chinese
from engine.records import FACT_TYPES, RecordError, cell_validator, parse_record
from engine.types import FormulaError

BAD_CELLS = ["x", "-5", "12.5", "0", "1e999", "nan", True, "2024-02-30", "2024-13-45", "abc", ["bad", "worse"],
             ["bad"], 10 ** 20, "200%", "1,2,3", "甲", FormulaError("#DIV/0!"), "ZZZZ9"]


def _messages_of_validators() -> set[str]:
    found = set()
    for kind, fields in FACT_TYPES.items():
        for name in fields:
            validate = cell_validator(kind, name)
            for cell in BAD_CELLS:
                try:
                    validate(cell)
                except ValueError as error:
                    found.add(str(error))
    return found


def _messages_of_records() -> set[str]:
    records = [
        {"applicant_id": "X", "bogus": 1}, {"applicant_id": "X", "trainning_hours": 3},
        {"applicant_id": "X", "payroll_total": 1}, {}, [("申请编号", "X"), ("hukou", "shanghai"), ("户籍", "other")],
        [("", "v"), ("applicant_id", "X")], [("applicant_id", "X"), ("record_type", "person"), ("记录类型", "企业")],
        {"applicant_id": "X", "record_type": "robot"}, 5,
    ]
    found = set()
    for record in records:
        with pytest.raises(RecordError) as refused:
            parse_record(record, default_as_of=date(2024, 6, 1))
        found.update(problem.message for problem in refused.value.problems)
    _, problems = read_row([(0, "applicant_id")], 1, ["X", "extra"], date(2024, 6, 1))
    found.update(message for _, _, message in problems)
    return found


@pytest.mark.parametrize("message", sorted(_messages_of_validators() | _messages_of_records()))
def test_every_problem_message_has_a_chinese_sentence(message):
    said = in_chinese(message)
    assert said != message and any("\u4e00" <= ch <= "\u9fff" for ch in said.split("（")[0].split("：")[0]), said


def test_enough_kinds_of_problem_are_tried():
    # the shapes the parsers give: a new parser's message without a Chinese sentence shows up above
    assert len(_messages_of_validators() | _messages_of_records()) >= 25


def test_a_message_of_no_known_shape_comes_back_as_it_is():
    assert in_chinese("something new went wrong") == "something new went wrong"


def test_a_field_of_the_other_record_type_names_it_in_chinese():
    with pytest.raises(RecordError) as refused:
        parse_record({"applicant_id": "X", "record_type": "enterprise", "training_hours": 4},
                     default_as_of=date(2024, 6, 1))
    assert refused.value.lines("zh") == ["字段“training_hours”不是本类记录的字段：它属于个人记录（record_type: person）"]
