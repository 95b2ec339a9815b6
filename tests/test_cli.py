"""The command line as a user runs it: contract JSON, exit codes, and no traceback on user errors."""
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "cases" / "examples" / "new-hire-apprentice.yaml"


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_check_prints_the_contract_json():
    result = run("check", EXAMPLE, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["applicant_id"] == "EX-APPRENTICE-01" and data["as_of"] == "2020-05-01"
    assert data["ruleset"]["digest"].startswith("sha256:") and data["ruleset"]["version"]
    by_id = {d["programme"]: d for d in data["decisions"]}
    apprenticeship = by_id["apprenticeship-training-subsidy"]
    assert apprenticeship["outcome"] == "eligible" and apprenticeship["force"] == "entitlement"
    assert apprenticeship["amount"] == {"value": "6000.00", "currency": "CNY", "status": "computed"}
    assert {"id", "holds", "text", "facts"} <= set(apprenticeship["reasons"][0])
    assert apprenticeship["reasons"][1]["facts"] == {"contract_months": 36}
    rate = next(p for p in apprenticeship["parameters"] if p["name"] == "apprenticeship.new_hire_rate")
    assert rate == {"name": "apprenticeship.new_hire_rate", "key": "intermediate", "value": "6000",
                    "valid_from": "2019-01-01", "provenance": "public", "source": rate["source"]}
    assert any(c["doc"] == "SH-SKILLS-PLAN-2018" and c["clause"] == "三（二）" and "学徒" in c["quote"]
               for c in apprenticeship["citations"])
    # every person programme of the catalogue appears, and only those
    from engine.loader import load_rules

    person = {p.id for p in load_rules().programmes_for("person")}
    assert set(by_id) == person and len(person) == 21


def test_a_fact_with_a_fraction_is_a_json_number_whose_text_is_exact(tmp_path):
    # 24 and 23.5 alike: a number is a number in the JSON, whole or not (it was "23.5", a string)
    record = tmp_path / "r.yaml"
    record.write_text("applicant_id: X\nas_of: 2024-06-01\ntraining_hours: 23.5\nemployer_skilled_ratio: 0.6\n"
                      "contract_months: 24\n", encoding="utf-8")
    result = run("check", record, "--format", "json")
    assert result.exit_code == 0, result.output
    facts = {}
    for decision in json.loads(result.output, parse_float=Decimal)["decisions"]:
        for reason in decision["reasons"]:
            facts.update(reason["facts"])
    assert facts["training_hours"] == Decimal("23.5") and facts["employer_skilled_ratio"] == Decimal("0.6")
    assert facts["contract_months"] == 24
    assert '"training_hours": 23.5' in result.output and '"employer_skilled_ratio": 0.6' in result.output


def test_same_input_gives_byte_identical_json():
    first = run("check", EXAMPLE, "--format", "json").output
    second = run("check", EXAMPLE, "--format", "json").output
    assert first == second


def test_stdin_and_json_input_agree_with_the_file():
    from_file = json.loads(run("check", EXAMPLE, "--format", "json").output)
    from_stdin = json.loads(run("check", "-", "--format", "json", input=EXAMPLE.read_text()).output)
    assert from_file == from_stdin


@pytest.mark.parametrize("given", ["2020-01-02", "2020/1/2", "2020年1月2日", " 2020.01.02 "])
def test_as_of_applies_to_a_record_without_its_own_date(tmp_path, given):
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"applicant_id": "X", "contract_months": 6}))
    data = json.loads(run("check", record, "--format", "json", "--as-of", given).output)
    assert data["as_of"] == "2020-01-02"  # the forms a cell may take, not ISO alone


def test_as_of_given_beside_a_record_with_its_own_date_is_reported_not_silently_ignored(tmp_path):
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"applicant_id": "X", "as_of": "2024-06-01"}))
    result = CliRunner().invoke(main, ["check", str(record), "--format", "json", "--as-of", "2019-01-01"])
    assert json.loads(result.stdout)["as_of"] == "2024-06-01"
    assert "the record gives as_of 2024-06-01, which is used; --as-of 2019-01-01" in result.stderr
    replaced = CliRunner().invoke(main, ["check", str(record), "--format", "json", "--set", "as_of=2019-01-01"])
    assert json.loads(replaced.stdout)["as_of"] == "2019-01-01" and not replaced.stderr


@pytest.mark.parametrize("lang, content, message", [
    ("en", "applicant_id: X\nskill_level: expert\n", "field 'skill_level': value 'expert'"),
    ("en", "applicant_id: X\ntrainning_hours: 3\n", "did you mean 'training_hours'"),
    ("en", "applicant_id: [1\n", "not valid YAML"),
    ("en", "- a\n- b\n", "expected one applicant record"),
    ("en", "name: 张三\n", "applicant_id"),
    # a key given twice: the second would silently win (here, another applicant and date)
    ("en", "applicant_id: D\nas_of: 2024-01-01\napplicant_id: E\n", "bad.yaml:3: duplicate key 'applicant_id' (first on line 1)"),
    # in Chinese, the default
    (None, "applicant_id: X\nskill_level: expert\n", "字段“技能等级”（skill_level）：值 'expert' 无效：应为以下之一：none (无)"),
    (None, "applicant_id: X\ntrainning_hours: 3\n", "字段“trainning_hours”不是已知字段；是否指“training_hours”？"),
    (None, "applicant_id: X\ntraining_fee: '-5'\n", "字段“培训费用”（training_fee）：值 '-5' 不能为负数"),
    (None, "name: 张三\n", "字段“申请编号”（applicant_id）：必须填写"),
    # a field's problem names the line that gives it, as every other error of a file does
    ("en", "applicant_id: X\nname: Li\nskill_level: expert\n", "bad.yaml:3: field 'skill_level': value 'expert'"),
    (None, "applicant_id: X\n培训费用: -5\n", "bad.yaml:2: 字段“培训费用”（training_fee）：值 -5 不能为负数"),
    # an unquoted date that is no day: the record's own message, by field, not the YAML parser's
    ("en", "applicant_id: X\nas_of: 2024-02-30\n", "bad.yaml:2: field 'as_of': value '2024-02-30' is not a real calendar date"),
    (None, "applicant_id: X\nas_of: 2024-02-30\n", "bad.yaml:2: 字段“评估日期”（as_of）：值 '2024-02-30' 不是真实存在的日期"),
    # a file that is not one record, said in Chinese too
    (None, "applicant_id: [1\n", "bad.yaml:2: 不是有效的 YAML：did not find expected"),
    (None, "- a\n- b\n", "bad.yaml: 应为一条申请人记录（“字段: 值”的映射）"),
    (None, "applicant_id: D\napplicant_id: E\n", "bad.yaml:2: 键“applicant_id”重复（首次出现在第 1 行）：每个字段只填一次"),
])
def test_bad_record_exits_2_with_a_message_not_a_traceback(tmp_path, lang, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    result = run("check", path, *(["--lang", lang] if lang else []))
    assert result.exit_code == 2
    assert message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_json_key_given_twice_is_refused(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"applicant_id": "D", "as_of": "2024-01-01", "as_of": "2019-01-01"}', encoding="utf-8")
    result = run("check", path, "--lang", "en")
    assert result.exit_code == 2
    assert "duplicate key 'as_of'" in result.output and "Traceback" not in result.output
    said = run("check", path)  # Chinese, the default
    assert said.exit_code == 2 and "dup.json: 键“as_of”重复：每个字段只填一次" in said.output


def test_each_problem_of_a_record_is_its_own_error_line_and_set_values_have_no_file_line(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("applicant_id: X\ntraining_hours: -3\ntraining_fee: -5\n", encoding="utf-8")
    result = run("check", path, "--lang", "en", "--set", "training_fee=abc")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0] == f"error: {path}:2: field 'training_hours': value -3 must not be negative"
    # the file's line 3 no longer gives training_fee: --set does, so no line is named
    assert lines[1].startswith("error: field 'training_fee': value 'abc' is not valid"), lines


def test_missing_file_and_bad_options_exit_2():
    assert run("check", "no-such-file.yaml").exit_code == 2
    assert run("check", EXAMPLE, "--as-of", "2020-13-01").exit_code == 2
    assert run("check", EXAMPLE, "--programme", "no-such-programme").exit_code == 2


def test_programme_filter_and_text_explanation_in_english():
    result = run("check", EXAMPLE, "--programme", "skill-to-title-bridging", "--lang", "en")
    assert result.exit_code == 0
    assert "skill_level junior → at least technician" in result.output
    assert "apprenticeship-training-subsidy" not in result.output


def test_rules_test_runs_the_cases_and_exits_0():
    result = run("rules", "test")
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def test_rules_test_fails_with_a_readable_difference(tmp_path):
    case = tmp_path / "wrong.yaml"
    case.write_text("""programme: apprenticeship-training-subsidy
cases:
  - id: wrong-amount
    as_of: 2020-05-01
    record: {applicant_id: W, employer_has_training_system: true, employer_skilled_ratio: 0.7,
             contract_months: 24, apprentice_kind: new_hire, apprentice_year: 1, apprentice_target_level: junior}
    expect: {outcome: eligible, amount: "6000.00"}
""", encoding="utf-8")
    result = run("rules", "test", case)
    assert result.exit_code == 1
    assert "amount expected '6000.00', got '4000.00'" in result.output


def test_python_cli_py_runs_from_a_checkout():
    completed = subprocess.run([sys.executable, "cli.py", "check", str(EXAMPLE), "--format", "json"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["decisions"]


def _text(tmp_path, record: dict, *args: str) -> str:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"applicant_id": "T", **record}), encoding="utf-8")
    result = run("check", path, *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_an_effect_waiting_only_on_an_unpublished_figure_reads_not_set(tmp_path):
    # a principal technician before 2023: the parity pairing is unset; no fact would settle it
    text = _text(tmp_path, {"as_of": "2022-06-01", "skill_level": "principal_technician",
                            "employment_status": "employed", "employer_ownership": "private"},
                 "--programme", "treatment-parity")
    assert "鼓励企业比照该层级专业技术人员给予同等待遇（不授予职称）：未设定" in text  # the effect's sentence, in Chinese
    assert "未知" not in text.split("参数")[0]


def test_an_amount_waiting_on_a_fact_does_not_show_one_case_formula(tmp_path):
    # employed (80%) unless a 100% group applies, and groups is unknown: which rate is not known
    text = _text(tmp_path, {"as_of": "2024-06-01", "training_route": "individual", "training_cert_level": "senior",
                            "training_fee": 5000, "hukou": "shanghai", "employment_status": "employed",
                            "shortage_occupation": False}, "--programme", "individual-skill-subsidy")
    assert "金额 = 未知  (待定：取决于尚不知道的信息)" in text
    assert "×100%" not in text.split("说明")[0]


def test_the_closing_count_does_not_ask_for_facts_when_a_figure_is_what_is_missing(tmp_path):
    text = _text(tmp_path, {"as_of": "2024-06-01"}, "--lang", "zh")
    assert text.splitlines()[-1].startswith("结果: 符合条件 ") and "尚无法确定 " in text.splitlines()[-1]
    assert "需补充信息" not in text.splitlines()[-1]


def test_effects_read_in_chinese_and_money_effects_to_the_fen(tmp_path):
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"applicant_id": "E", "record_type": "enterprise", "as_of": "2024-06-01",
                                "staff_education_spend": 100000, "payroll_total": 1000000}), encoding="utf-8")
    zh = run("check", path, "--programme", "staff-education-pretax-deduction").output
    assert "超过限额部分结转以后纳税年度扣除：20000.00 元" in zh and "carry_forward" not in zh
    en = run("check", path, "--programme", "staff-education-pretax-deduction", "--lang", "en").output
    assert "carry_forward = 20000.00 CNY" in en


def test_a_programme_of_the_other_record_type_is_bad_usage_not_an_empty_answer():
    enterprise = ROOT / "cases" / "examples" / "enterprise-surcharge-offset.yaml"
    result = run("check", enterprise, "--programme", "individual-skill-subsidy")
    assert result.exit_code == 2  # it printed no decision and exited 0
    assert "individual-skill-subsidy decides person records; this record's record_type is enterprise" in result.output


def test_an_interview_for_a_programme_of_the_other_record_type_is_refused_before_anything_is_saved(tmp_path):
    saved = tmp_path / "saved.yaml"  # it interviewed, saved a person record, then said --programme was bad
    result = run("check", "--ask", "--programme", "staff-education-pretax-deduction", "--save", saved, input="E-1\n")
    assert result.exit_code == 2 and "decides enterprise records; this record's record_type is person" in result.output
    assert not saved.exists()


def test_set_by_chinese_label_overrides_the_file_s_field(tmp_path):
    record = tmp_path / "r.yaml"
    record.write_text("applicant_id: X\nas_of: 2024-05-01\ntraining_hours: 30\n", encoding="utf-8")
    result = run("check", record, "--set", "培训课时=23", "--format", "json", "--programme", "enterprise-training-subsidy")
    assert result.exit_code == 0, result.output  # it said the field was given twice
    facts = {}
    for reason in json.loads(result.output)["decisions"][0]["reasons"]:
        facts.update(reason["facts"])
    assert facts["training_hours"] == 23


def test_a_json_file_with_a_byte_order_mark_is_read(tmp_path):
    record = tmp_path / "bom.json"
    record.write_bytes(b'\xef\xbb\xbf{"applicant_id": "Y", "as_of": "2024-05-01"}')
    result = run("check", record, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["applicant_id"] == "Y"


def test_save_without_an_interview_is_bad_usage(tmp_path):
    result = run("check", EXAMPLE, "--save", tmp_path / "saved.yaml")
    assert result.exit_code == 2 and "--save writes the record an interview completes" in result.output
    assert not (tmp_path / "saved.yaml").exists()

