"""The column-wise path (engine.columnar) gives exactly what the per-record path gives.

For every programme and row: outcome, amount (exact, 2 places) and the batch reason code, compared
with engine.decide.decide + engine.batch.reason_code — over generated records (unknowns, boundary
values, assessment dates on the days figures change), over every labelled case in cases/, and in
targeted tests of the corners: Kleene logic, if() with an unknown condition, ranked comparisons
with an unranked member, month-end arithmetic, UNSET versus UNKNOWN, rounding.
"""
from __future__ import annotations

import copy
import subprocess
import sys
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pl = pytest.importorskip("polars")

from engine.batch import reason_code  # noqa: E402
from engine.cases import case_files, load_cases  # noqa: E402
from engine.checker import ParameterSignature, Scope, check_expression  # noqa: E402
from engine.columnar import (  # noqa: E402
    ColumnarError, CompiledRuleset, _quantize, evaluate_expression, records_to_frame,
)
from engine.decide import decide  # noqa: E402
from engine.evaluator import Evaluation  # noqa: E402
from engine.expression import Literal, parse  # noqa: E402
from engine.loader import load_rules  # noqa: E402
from engine.records import FACT_TYPES, RecordError, facts, parse_record  # noqa: E402
from engine.synth import synthesise  # noqa: E402
from engine.types import UNKNOWN, UNSET  # noqa: E402
from tests.strategies import records  # noqa: E402

RULESET = load_rules()
COMPILED = {kind: CompiledRuleset(RULESET, kind) for kind in FACT_TYPES}


# ----------------------------------------------------------------------------------- comparing


def per_record(record) -> dict[str, tuple]:
    """programme → (outcome, amount, reason) from the per-record path, as a batch row has them."""
    out = {}
    for d in decide(RULESET, record).decisions:
        amount = d.amount.value if d.amount and isinstance(d.amount.value, Decimal) else None
        out[d.programme.id] = (d.outcome, amount, reason_code(d))
    return out


def assert_same(parsed: list, record_type: str) -> None:
    if not parsed:
        return
    frame = records_to_frame(parsed, record_type)
    decided = COMPILED[record_type].decide(frame)
    assert decided.height == len(parsed)
    assert decided.columns == COMPILED[record_type].columns()
    rows = decided.rows(named=True)
    for record, row in zip(parsed, rows):
        for programme, expected in per_record(record).items():
            got = (row[f"{programme}.outcome"], row[f"{programme}.amount"], row[f"{programme}.reason"])
            assert got == expected, (programme, record.applicant_id, {k: v for k, v in record if v is not None})
            if got[1] is not None:
                assert got[1].as_tuple().exponent == -2


# --------------------------------------------------------------------------- generated records


def _boundary_dates() -> list[date]:
    """The days a figure or a programme starts or ends, the day before and after, and month ends."""
    days = {v.valid_from for p in RULESET.parameters.values() for v in p.values}
    days |= {p.valid_from for p in RULESET.programmes.values()}
    days |= {p.valid_to for p in RULESET.programmes.values() if p.valid_to}
    near = {d + timedelta(days=k) for d in days for k in (-1, 0, 1)}
    near |= {date(2020, 2, 29), date(2021, 2, 28), date(2024, 2, 29), date(2023, 1, 31), date(2024, 12, 31)}
    return sorted(d for d in near if date(2007, 12, 1) <= d <= date(2026, 12, 31))


def _boundary_numbers() -> list[Decimal]:
    """Every figure in the parameters and the rule text, and its neighbours a fen and a unit away."""
    found: set[Decimal] = set()
    for parameter in RULESET.parameters.values():
        for entry in parameter.values:
            values = entry.value.values() if isinstance(entry.value, dict) else [entry.value]
            found |= {v for v in values if isinstance(v, Decimal)}

    def literals(node) -> None:
        if isinstance(node, Literal) and isinstance(node.value, Decimal):
            found.add(node.value)
        for name in ("left", "right", "operand", "key"):
            child = getattr(node, name, None)
            if child is not None:
                literals(child)
        for child in getattr(node, "args", ()) or getattr(node, "items", ()):
            literals(child)

    for programme in RULESET.programmes.values():
        for condition in programme.eligible_when.conditions():
            literals(condition.tree)
        for definition in programme.definitions.values():
            literals(definition.tree)
    near = {v + d for v in found for d in (Decimal(0), Decimal("0.01"), Decimal("-0.01"), Decimal(1), Decimal(-1))}
    near |= {Decimal(50000), Decimal("49999.99"), Decimal(100000), Decimal("99999.99"), Decimal("1234.565"),
             Decimal("0.005"), Decimal("1000.0625")}
    return sorted(v for v in near if v >= 0)


BOUNDARY_DATES = _boundary_dates()
BOUNDARY_NUMBERS = _boundary_numbers()
as_of_dates = st.one_of(st.sampled_from(BOUNDARY_DATES), st.dates(date(2008, 1, 1), date(2026, 12, 31)))


@st.composite
def anniversaries(draw, as_of: date) -> date:
    """A date a whole number of years or months before as_of, give or take a day (month ends too)."""
    from engine.evaluator import add_months

    months = draw(st.sampled_from([12, 24, 36, 48, 60, 61, 59, 6])) * -1
    return add_months(as_of, months) + timedelta(days=draw(st.sampled_from([-1, 0, 0, 1])))


@st.composite
def boundary_record(draw, record_type: str, persona: dict) -> dict:
    """A record of tests.strategies, or a synthetic persona's row, moved onto boundaries."""
    if draw(st.booleans()):
        record = draw(records(record_type, known_share=draw(st.sampled_from([0.3, 0.7, 0.95]))))
    else:
        record = dict(persona)
    as_of = draw(as_of_dates)
    record["as_of"] = as_of.isoformat()
    for name, kind in FACT_TYPES[record_type].items():
        if name not in record or name in ("as_of", "applicant_id", "record_type"):
            continue
        if kind.kind == "number" and draw(st.integers(0, 3)) == 0:
            choices = [v for v in BOUNDARY_NUMBERS if not kind.integer or v == v.to_integral_value()]
            if name == "employer_skilled_ratio":
                choices = [v for v in choices if v <= 1]
            record[name] = str(draw(st.sampled_from(choices)))
        elif kind.kind == "date" and draw(st.integers(0, 2)) == 0:
            record[name] = draw(anniversaries(as_of)).isoformat()
        elif draw(st.integers(0, 15)) == 0:
            del record[name]  # now unknown
    return record


@st.composite
def tables(draw, record_type: str) -> list[dict]:
    """8–30 records: half drawn field by field, half coherent synthetic personas (engine.synth, so
    that eligible applicants are common), all moved onto boundary dates, figures and anniversaries."""
    size = draw(st.integers(8, 30))
    header, rows = synthesise(size, seed=draw(st.integers(0, 10**6)), record_type=record_type,
                              unknown_share=draw(st.sampled_from([0.0, 0.1, 0.4])))
    personas = [{k: v for k, v in zip(header, row) if v is not None} for row in rows]
    return [draw(boundary_record(record_type, persona)) for persona in personas]


def _parse(raw: list[dict]) -> list:
    parsed = []
    for number, record in enumerate(raw):
        record = {**record, "applicant_id": f"H-{number}"}
        try:
            parsed.append(parse_record(record, default_as_of=date(2020, 1, 1)))
        except RecordError:
            pass  # a boundary number outside a field's range (a ratio above 1): not a record
    return parsed


# Each example is a table of 8–30 records, so about 1,200 people and 900 enterprises per run.
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


@PROPERTY
@given(tables("person"))
def test_columnar_matches_per_record_for_people(raw):
    assert_same(_parse(raw), "person")


@settings(PROPERTY, max_examples=50)
@given(tables("enterprise"))
def test_columnar_matches_per_record_for_enterprises(raw):
    assert_same(_parse(raw), "enterprise")


@pytest.mark.parametrize("record_type", sorted(FACT_TYPES))
def test_columnar_matches_per_record_on_a_synthetic_roster(record_type):
    header, rows = synthesise(1500, seed=11, record_type=record_type, unknown_share=0.15)
    raw = [{k: v for k, v in zip(header, row) if v is not None} for row in rows]
    for index, record in enumerate(raw):  # spread the assessment dates over the dated figures
        record["as_of"] = BOUNDARY_DATES[index % len(BOUNDARY_DATES)].isoformat()
    assert_same(_parse(raw), record_type)


def test_columnar_matches_per_record_on_every_labelled_case():
    cases = load_cases(case_files(), set(RULESET.programmes))
    parsed: dict[str, list] = {kind: [] for kind in FACT_TYPES}
    for case in cases:
        try:
            record = parse_record(case.spec.record, default_as_of=case.spec.as_of or date(1900, 1, 1))
        except RecordError:
            continue  # a case about an invalid record: nothing to decide
        parsed[record.record_type].append(record)
    assert sum(map(len, parsed.values())) > 300
    for kind, records_ in parsed.items():
        assert_same(records_, kind)


# ------------------------------------------------------------------------- single expressions


def _check(text: str, record_type: str = "person"):
    shared = RULESET.definitions[record_type]
    signatures = {n: ParameterSignature(p.type, p.keyed_by) for n, p in RULESET.parameters.items()}
    scope = Scope(dict(FACT_TYPES[record_type]), {n: d.type for n, d in shared.items()}, signatures)
    tree, _ = check_expression(parse(text), scope, text)
    return tree


TRI = [True, False, None]


def _people(rows: list[dict]) -> list:
    return [parse_record({"applicant_id": f"X-{i}", **{k: v for k, v in row.items() if v is not None}},
                         default_as_of=date(2024, 6, 1)) for i, row in enumerate(rows)]


def _same_values(text: str, people: list) -> None:
    tree = _check(text)
    columnar = evaluate_expression(RULESET, "person", tree, records_to_frame(people, "person"))
    for person, got in zip(people, columnar):
        expected = Evaluation(RULESET, facts(person), person.as_of, "person").value(tree)
        if expected is UNKNOWN or expected is UNSET or got is UNKNOWN or got is UNSET:
            assert got is expected, (text, {k: v for k, v in person if v is not None})
        else:
            assert got == expected and type(got) is type(expected), (text, got, expected)


@pytest.mark.parametrize("text", [
    "registered_unemployed and frontline",
    "registered_unemployed or frontline",
    "not registered_unemployed",
    "not (registered_unemployed and not frontline) or major_contribution",
])
def test_kleene_truth_tables(text):
    rows = [{"registered_unemployed": a, "frontline": b, "major_contribution": c}
            for a in TRI for b in TRI for c in TRI]
    _same_values(text, _people(rows))


def test_kleene_tables_are_the_textbook_ones():
    rows = [{"registered_unemployed": a, "frontline": b} for a in TRI for b in TRI]
    tree = _check("registered_unemployed and frontline")
    people = _people(rows)
    got = evaluate_expression(RULESET, "person", tree, records_to_frame(people, "person"))
    table = {(r["registered_unemployed"], r["frontline"]): g for r, g in zip(rows, got)}
    assert table[(False, None)] is False and table[(None, False)] is False  # False decides `and`
    assert table[(True, None)] is UNKNOWN and table[(None, None)] is UNKNOWN
    tree = _check("registered_unemployed or frontline")
    got = evaluate_expression(RULESET, "person", tree, records_to_frame(people, "person"))
    table = {(r["registered_unemployed"], r["frontline"]): g for r, g in zip(rows, got)}
    assert table[(True, None)] is True and table[(None, True)] is True  # True decides `or`
    assert table[(False, None)] is UNKNOWN


DATES = [None, "2020-01-31", "2020-02-29", "2021-02-28", "2021-03-01", "2023-06-01", "2024-05-31", "2024-06-01",
         "2024-06-02", "2019-06-01", "2026-01-01"]


@pytest.mark.parametrize("text", [
    "years_between(skill_cert_date, as_of)", "months_between(skill_cert_date, hire_date)",
    "days_between(hire_date, skill_cert_date)", "add_months(hire_date, contract_months)",
    "add_years(skill_cert_date, 0 - apprentice_year)", "add_days(hire_date, mentee_count)",
    "skill_cert_date >= add_years(as_of, 0 - 3)",
])
def test_dates_and_month_ends(text):
    rows = [{"skill_cert_date": a, "hire_date": b, "contract_months": m, "apprentice_year": y, "mentee_count": m}
            for a in DATES for b in DATES[::2] for m, y in ((None, 1), (1, None), (13, 5), (0, 1))]
    _same_values(text, _people(rows))


LEVELS = [None, "junior", "intermediate", "senior", "technician", "principal_technician"]
CERTS = [None, "junior", "intermediate", "senior", "special_ability"]


@pytest.mark.parametrize("text", [
    "training_cert_level >= intermediate", "training_cert_level < senior", "skill_level < apprentice_target_level",
    "skill_level >= apprentice_target_level", "skill_level == senior", "skill_level != apprentice_target_level",
    "apprentice_target_level in [junior, technician]", "training_cert_level not in [special_ability]",
    "if(skill_level >= senior, training_cert_level, special_ability) == special_ability",
])
def test_ranked_values_and_an_unranked_member(text):
    rows = [{"skill_level": a, "apprentice_target_level": b, "training_cert_level": c}
            for a in LEVELS for b in LEVELS[::2] for c in CERTS]
    _same_values(text, _people(rows))


MONEY = [None, "0", "1234.565", "2500", "0.01", "99999.99"]


@pytest.mark.parametrize("text", [
    "training_fee * 1.3 - 0.01", "min(training_fee, training_hours * 100)", "max(0, training_fee - training_hours)",
    "training_fee / 4", "training_fee / 0", "-training_fee", "training_hours in [32.5, 24.0]",
    "if(frontline, training_fee, training_hours)", "if(frontline, 1, 1)", "if(frontline, training_fee, 2500)",
    "count(awards)", "has(awards, shanghai_craftsman)", "has_any(groups, [xiebao, veteran])", "known(training_fee)",
    "count(if(frontline, awards, awards))",
])
def test_numbers_lists_and_if(text):
    rows = [{"training_fee": f, "training_hours": h, "frontline": b, "awards": a, "groups": g}
            for f in MONEY for h in (None, "24", "32.5") for b in TRI
            for a, g in ((None, None), ("无", "veteran"), ("shanghai_craftsman;worldskills_gold", "无"))]
    _same_values(text, _people(rows))


@pytest.mark.parametrize("text", [
    "param(apprenticeship.new_hire_rate, apprentice_target_level)",
    "param(apprenticeship.transfer_rate) * param(apprenticeship.transfer_share_without_certificate)",
    "min(training_fee, param(apprenticeship.transfer_rate))",
    "if(frontline, param(apprenticeship.transfer_rate), training_fee)",
    "contract_months >= param(apprenticeship.min_contract_months) and training_hours >= param(training.min_class_hours)",
    "param(training.min_class_hours) <= training_hours",
])
def test_unset_stays_apart_from_unknown(text):
    rows = [{"as_of": day, "apprentice_target_level": level, "training_fee": fee, "frontline": b,
             "contract_months": 12, "training_hours": hours}
            for day in ("2021-06-30", "2021-07-01", "2021-12-31", "2022-01-01")
            for level in (None, "junior", "technician") for fee in (None, "100") for b in TRI
            for hours in (None, "24")]
    _same_values(text, _people(rows))


# ---------------------------------------------------------------------------- whole decisions


def _decide_one(record: dict, record_type: str = "person") -> dict[str, tuple]:
    parsed = parse_record({"applicant_id": "T-1", "record_type": record_type, **record}, default_as_of=date(2024, 6, 1))
    row = COMPILED[record_type].decide(records_to_frame([parsed], record_type)).row(0, named=True)
    got = {p: (row[f"{p}.outcome"], row[f"{p}.amount"], row[f"{p}.reason"]) for p in COMPILED[record_type].programmes}
    assert got == per_record(parsed)
    return got


NEW_HIRE = {"employer_has_training_system": True, "employer_skilled_ratio": "0.65", "contract_months": 36,
            "apprentice_kind": "new_hire", "apprentice_year": 2, "apprentice_target_level": "intermediate"}


def test_a_parameter_switches_on_its_date():
    before = _decide_one({**NEW_HIRE, "as_of": "2021-06-30"})["apprenticeship-training-subsidy"]
    on = _decide_one({**NEW_HIRE, "as_of": "2021-07-01"})["apprenticeship-training-subsidy"]
    assert before == ("eligible", Decimal("6000.00"), "ok")
    assert on == ("eligible", None, "amount-not-set")


TRAINEE = {"employment_status": "employed", "employer_dispatch_only": False,
           "employer_pays_education_surcharge": True, "training_route": "enterprise_self",
           "training_completed": True, "training_hours": 32, "repeat_project": False,
           "subsidised_projects_this_year": 1}


def test_unset_figures_and_unknown_facts_give_different_reasons():
    decided = _decide_one({**TRAINEE, "as_of": "2021-05-01"})["enterprise-training-subsidy"]
    assert decided == ("undetermined", None, "unset:training.min_class_hours;training.max_projects_per_year")
    unknown = {k: v for k, v in TRAINEE.items() if k != "training_hours"}
    decided = _decide_one({**unknown, "as_of": "2021-05-01"})["enterprise-training-subsidy"]
    assert decided == ("undetermined", None, "missing:training_hours")
    decided = _decide_one({**unknown, "as_of": "2023-05-01"})["enterprise-training-subsidy"]
    assert decided == ("undetermined", None, "missing:training_hours")
    assert _decide_one({**TRAINEE, "as_of": "2023-05-01"})["enterprise-training-subsidy"] == \
        ("eligible", Decimal("600.00"), "ok")


def test_missing_lists_only_the_facts_the_branches_taken_read():
    # self-employed: the if()s on employment_status skip the unemployment and student questions, so
    # hukou, registration and school stage are not missing; the veteran if() is open, so both read
    course = {"as_of": "2024-06-01", "training_route": "individual", "training_cert_level": "senior"}
    decided = _decide_one({**course, "employment_status": "self_employed"})["individual-skill-subsidy"]
    assert decided == ("undetermined", None, "missing:groups;discharge_date")
    decided = _decide_one(course)["individual-skill-subsidy"]
    assert decided == ("undetermined", None, "missing:employment_status;hukou;registered_unemployed;groups;"
                                             "discharge_date;student_stage")


INDIVIDUAL = {"as_of": "2024-06-01", "training_route": "individual", "employment_status": "employed", "groups": "无",
              "training_cert_level": "senior", "shortage_occupation": True, "training_fee": "5000"}


def test_money_is_exact_and_rounded_as_the_rule_says():
    # 2500 × 80% × 1.3: exactly 2600, however the rates multiply
    assert _decide_one(INDIVIDUAL)["individual-skill-subsidy"] == ("eligible", Decimal("2600.00"), "ok")
    # never more than the fee: the rule rounds down, so 1234.565 pays 1234.56 (half-up gave 1234.57)
    capped = _decide_one({**INDIVIDUAL, "training_fee": "1234.565"})["individual-skill-subsidy"]
    assert capped == ("eligible", Decimal("1234.56"), "ok")
    # the fee unknown: the amount is missing, and says which fact
    unknown = {k: v for k, v in INDIVIDUAL.items() if k != "training_fee"}
    assert _decide_one(unknown)["individual-skill-subsidy"] == ("eligible", None, "amount-missing:training_fee")
    # 8% of 1000.0625 = 80.005 → 80.00: the deduction rounds down, never past its limit (half-up gave 80.01)
    spend = {"as_of": "2024-06-01", "staff_education_spend": "500", "payroll_total": "1000.0625"}
    assert _decide_one(spend, "enterprise")["staff-education-pretax-deduction"] == \
        ("eligible", Decimal("80.00"), "ok")


@pytest.mark.parametrize("rounding, mode", [("half_up", ROUND_HALF_UP), ("up", ROUND_CEILING), ("down", ROUND_FLOOR)])
def test_quantize_matches_decimal(rounding, mode):
    values = [Decimal(v) for v in ("0", "0.005", "-0.005", "0.0049", "-0.0051", "1.125", "-1.125", "2.999",
                                   "-2.999", "80.005", "0.0001", "-0.0001", "12345678.9995")]
    frame = pl.DataFrame({"x": [int(v.scaleb(4)) for v in values]}, schema={"x": pl.Int64})
    got = frame.select(_quantize(pl.col("x"), 4, rounding)).to_series().to_list()
    assert [Decimal(g).scaleb(-2) for g in got] == [v.quantize(Decimal("0.01"), rounding=mode) for v in values]


# ------------------------------------------------------------------------------ the contract


def test_a_rule_it_cannot_express_is_refused_at_compile_time_by_name():
    ruleset = copy.deepcopy(RULESET)
    programme = ruleset.programmes["enterprise-training-subsidy"]
    condition = next(c for c in programme.eligible_when.conditions() if c.id == "class-hours")
    condition.tree = _check("training_hours / subsidised_projects_this_year >= 8")
    with pytest.raises(ColumnarError) as error:
        CompiledRuleset(ruleset, "person")
    message = str(error.value)
    assert "enterprise-training-subsidy" in message and "class-hours" in message and "division" in message


def test_frames_may_leave_columns_out_and_give_lists_and_enums_as_text():
    people = _people([{"as_of": "2024-06-01", "awards": "shanghai_craftsman", "skill_level": "senior",
                       "hukou": "other", "frontline": True}, {"as_of": "2023-01-01"}])
    typed = records_to_frame(people, "person")
    expected = COMPILED["person"].decide(typed)
    # nationality is read (hukou programmes): a column left out is unknown, so it stays; its default CN is the record's
    loose = typed.select("as_of", "frontline", "nationality",
                         pl.Series("awards", [["shanghai_craftsman"], None], dtype=pl.List(pl.String)),
                         pl.col("skill_level").cast(pl.String), pl.col("hukou").cast(pl.String))
    assert COMPILED["person"].decide(loose).equals(expected)


def test_an_empty_frame_gives_empty_columns():
    frame = records_to_frame([], "person")
    decided = COMPILED["person"].decide(frame)
    assert decided.height == 0 and decided.columns == COMPILED["person"].columns()


def test_polars_is_loaded_only_by_the_column_wise_path():
    code = ("import sys, engine.cli, engine.decide, engine.batch, engine.loader, engine.render; "
            "engine.loader.load_rules(); print('polars' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_an_effect_with_a_fraction_is_written_as_the_per_record_path_writes_it():
    from engine.columnar import _effect_cells, _Val
    from engine.explain import format_decimal

    values = [Decimal("6000.50"), Decimal("24.00"), Decimal("-0.05"), Decimal("0.00"), Decimal("1234567.89")]
    frame = pl.DataFrame({"x": [int(v.scaleb(2)) for v in values]}, schema={"x": pl.Int64})
    written = frame.select(_effect_cells(_Val("number", pl.col("x"), 0, scale=2), False)).to_series().to_list()
    assert written == [format_decimal(v) for v in values]

