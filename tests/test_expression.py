"""The expression language: parsing, checking, and three-valued evaluation."""
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.checker import ParameterSignature, Scope, check_expression
from engine.errors import ExpressionError
from engine.evaluator import Evaluation, add_months, whole_months
from engine.expression import Binary, Literal, Name, parse, to_text
from engine.types import BOOL, DATE, INTEGER, NUMBER, UNKNOWN, UNSET, LabelledEnum, enum_type, list_type


class Level(LabelledEnum):
    junior = ("junior", "初级工", ("5",), 1)
    senior = ("senior", "高级工", ("3",), 3)
    technician = ("technician", "技师", ("2",), 4)


class Prize(LabelledEnum):
    gold = ("gold", "金牌")
    silver = ("silver", "银牌")


SCOPE = Scope(
    facts={"hours": INTEGER, "fee": NUMBER, "done": BOOL, "level": enum_type(Level), "prizes": list_type(Prize),
           "cert_date": DATE, "as_of": DATE, "other": BOOL},
    parameters={"rate": ParameterSignature(NUMBER, None), "by_level": ParameterSignature(NUMBER, Level)},
)


def checked(text):
    return check_expression(parse(text), SCOPE, text)


class FakeRuleset:
    """Just enough of a Ruleset for the evaluator: parameters and no definitions."""

    def __init__(self):
        from engine.parameters import DatedParameter, ParameterValue

        self.definitions = {"person": {}}
        self.parameters = {
            "rate": DatedParameter("rate", None, NUMBER, "rate", None, None, [], [
                ParameterValue(date(2020, 1, 1), Decimal("0.5"), "public", "s1"),
                ParameterValue(date(2021, 7, 1), UNSET, "unset", "s2")], "f", 1),
            "by_level": DatedParameter("by_level", None, NUMBER, "money", None, Level, [], [
                ParameterValue(date(2020, 1, 1), {Level.junior: Decimal(1500), Level.senior: UNSET},
                               "public", "s")], "f", 1),
        }


def run(text, as_of=date(2021, 1, 1), **facts):
    tree, _ = checked(text)
    evaluation = Evaluation(FakeRuleset(), {"as_of": as_of, **facts}, as_of, "person")
    return evaluation.evaluate(tree)[0]


# ------------------------------------------------------------------------------------ parsing

def test_precedence_and_binds_tighter_than_or():
    tree = parse("a or b and c")
    assert isinstance(tree, Binary) and tree.op == "or" and tree.right.op == "and"


def test_arithmetic_precedence():
    assert to_text(parse("1 + 2 * 3")) == "(1 + (2 * 3))"


def test_literals():
    assert parse("2021-07-01") == Literal(1, date(2021, 7, 1))
    assert parse("60%").value == Decimal("0.6")
    assert parse("'senior'").value == "senior"
    assert parse("0.3").value == Decimal("0.3")


def test_not_in_is_one_operator():
    tree = parse("x not in [a, b]")
    assert tree.op == "not in" and isinstance(tree.left, Name)


@pytest.mark.parametrize("text, column", [
    ("hours >=", 9), ("hours >= 24)", 12), ("__import__('os')", 1), ("a.__class__", None),
    ("hours ; 1", 7), ("2021-13-01", 1), ("", 1), ("(1", 3), ("f(1,", 5), ("x = 1", 3),
])
def test_bad_text_is_an_expression_error_with_a_column(text, column):
    with pytest.raises(ExpressionError) as error:
        checked(text)
    if column is not None:
        assert error.value.column == column


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_parser_raises_only_its_own_error_on_any_text(text):
    try:
        parse(text)
    except ExpressionError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["hours", "done", "not", "and", "or", "(", ")", ">=", "24", "+", "-", "*", "/",
                                 "[", "]", ",", "in", "level", "senior", "min(", "param(", "rate", "'x'", "%"]),
                max_size=14))
def test_parser_and_checker_raise_only_expression_errors_on_token_soup(tokens):
    try:
        checked(" ".join(tokens))
    except ExpressionError:
        pass


def test_deep_nesting_is_refused_not_a_crash():
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("(" * 500 + "1" + ")" * 500)


def test_round_trip_through_canonical_text():
    for text in ["hours >= 24 and not done", "level in [junior, senior]", "min(fee, 2 * rate)",
                 "param(by_level, level) > 0"]:
        assert parse(to_text(parse(text))) == parse(text)


# ----------------------------------------------------------------------------------- checking

@pytest.mark.parametrize("text, message", [
    ("hourz >= 24", "unknown name 'hourz'.*did you mean 'hours'"),
    ("hours >= '24'", "cannot compare"),
    ("level >= expert", "'expert' is not a fact, a definition or a value of Level"),
    ("done + 1", "needs numbers"),
    ("hours", "must be bool"),
    ("param(nope)", "unknown parameter 'nope'"),
    ("param(by_level) > 1", "table by Level"),
    ("param(rate, level) > 1", "single value"),
    ("open('x')", "unknown function 'open'"),
    ("prizes == gold", "cannot compare"),
    ("cert_date + 1 > as_of", "use years_between"),
    ("min(done) > 1", "needs numbers"),
])
def test_checker_refuses_with_a_reason(text, message):
    with pytest.raises(ExpressionError, match=message):
        check_expression(parse(text), SCOPE, text, BOOL)


def test_enum_literal_resolves_from_the_other_side():
    tree, kind = checked("senior <= level")
    assert kind == BOOL and tree.left.value is Level.senior


def test_national_level_number_is_accepted_as_a_literal():
    assert checked("level >= '3'")[0].right.value is Level.senior


# --------------------------------------------------------------------------------- evaluation

T, F, U = True, False, UNKNOWN
KLEENE_AND = [(T, T, T), (T, F, F), (T, U, U), (F, T, F), (F, F, F), (F, U, F), (U, T, U), (U, F, F), (U, U, U)]
KLEENE_OR = [(T, T, T), (T, F, T), (T, U, T), (F, T, T), (F, F, F), (F, U, U), (U, T, T), (U, F, U), (U, U, U)]


def fact(v):
    return {} if v is UNKNOWN else {"done": v}


def fact2(v):
    return {} if v is UNKNOWN else {"other": v}


@pytest.mark.parametrize("a, b, expected", KLEENE_AND)
def test_kleene_and(a, b, expected):
    assert run("done and other", **fact(a), **fact2(b)) is expected


@pytest.mark.parametrize("a, b, expected", KLEENE_OR)
def test_kleene_or(a, b, expected):
    assert run("done or other", **fact(a), **fact2(b)) is expected


@pytest.mark.parametrize("a, expected", [(T, F), (F, T), (U, U)])
def test_kleene_not(a, expected):
    assert run("not done", **fact(a)) is expected


def test_unknown_fact_makes_comparison_unknown_not_false():
    assert run("hours >= 24") is UNKNOWN
    assert run("hours >= 24", hours=Decimal(24)) is True
    assert run("hours >= 24", hours=Decimal(23)) is False


def test_ordered_skill_levels():
    assert run("level >= senior", level=Level.technician) is True
    assert run("level >= senior", level=Level.junior) is False


def test_membership_and_lists():
    assert run("has(prizes, gold)", prizes=(Prize.gold,)) is True
    assert run("has(prizes, gold)", prizes=()) is False  # known: none of them
    assert run("has(prizes, gold)") is UNKNOWN  # absent: unknown
    assert run("has_any(prizes, [gold, silver])", prizes=(Prize.silver,)) is True
    assert run("level in [junior, senior]", level=Level.technician) is False


def test_min_max_and_decimal_arithmetic_are_exact():
    assert run("min(fee, 1000) * 0.1 == 33.3", fee=Decimal("333")) is True
    assert run("0.1 + 0.2 == 0.3") is True


def test_parameter_value_switches_on_the_day():
    assert run("param(rate) == 0.5", as_of=date(2021, 6, 30)) is True
    assert run("param(rate) == 0.5", as_of=date(2021, 7, 1)) is UNSET  # no figure from that day


def test_keyed_parameter_and_unset_entry():
    assert run("param(by_level, level) == 1500", level=Level.junior) is True
    assert run("param(by_level, level) == 1500", level=Level.senior) is UNSET
    assert run("param(by_level, level) == 1500") is UNKNOWN


def test_if_with_unknown_condition_is_known_when_branches_agree():
    assert run("if(done, 1, 1) == 1") is True
    assert run("if(done, 1, 2) == 1") is UNKNOWN


@pytest.mark.parametrize("start, end, years", [
    (date(2020, 3, 1), date(2023, 3, 1), 3),   # exactly three years
    (date(2020, 3, 1), date(2023, 2, 28), 2),  # one day short
    (date(2020, 2, 29), date(2023, 2, 28), 3),  # leap day: anniversary on the month's last day
    (date(2023, 1, 1), date(2020, 1, 1), -3),
])
def test_whole_years_between_dates(start, end, years):
    assert whole_months(start, end) // 12 == years
    assert run(f"years_between(cert_date, as_of) == {abs(years)}", as_of=end, cert_date=start) is (years >= 0)


def test_add_months_clamps_to_month_end():
    assert add_months(date(2020, 1, 31), 1) == date(2020, 2, 29)
