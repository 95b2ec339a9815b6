"""What would make a failed condition hold (`to_qualify`): every way to meet an `a or b` condition,
numbered, and not the ways that would undo a condition already met."""
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent

TECHNICIAN = {"applicant_id": "H-1", "as_of": "2024-06-01", "training_route": "technician_update",
              "skill_level": "technician", "provider_type": "enterprise", "training_completed": False,
              "training_hours": 16}


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def to_qualify(record: Path, programme: str, *rules: Path) -> list[dict]:
    extra = ["--rules", rules[0]] if rules else []
    result = run("check", record, "--programme", programme, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["decisions"][0]["to_qualify"]


@pytest.fixture
def record(tmp_path):
    path = tmp_path / "applicant.json"
    path.write_text(json.dumps(TECHNICIAN), encoding="utf-8")
    return path


def with_completed_condition(tmp_path, when: str) -> Path:
    """The rules, with technician-update-training-subsidy's `completed` condition read as `when`."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    programme = rules / "programmes" / "technician-update-training-subsidy.yaml"
    text = programme.read_text(encoding="utf-8")
    assert "      when: training_completed\n" in text
    programme.write_text(text.replace("      when: training_completed\n", f"      when: \"{when}\"\n"), encoding="utf-8")
    return rules


def test_a_transferred_apprentice_is_told_to_pass_the_evaluation_not_to_change_kind(tmp_path):
    # `apprentice_kind != transfer or apprentice_evaluation_passed`: changing the kind would undo the
    # conditions on the kind already met, so the one useful way is shown
    path = tmp_path / "apprentice.json"
    path.write_text(json.dumps({"applicant_id": "A-1", "as_of": "2024-06-01", "apprentice_kind": "transfer",
                                "apprentice_year": 1, "apprentice_evaluation_passed": False, "contract_months": 24,
                                "employer_skilled_ratio": 0.7, "employer_has_training_system": True}), encoding="utf-8")
    hints = to_qualify(path, "apprenticeship-training-subsidy")
    assert [(h["condition"], h["field"], h["op"], h["needed"]) for h in hints] == [
        ("transfer-evaluation", "apprentice_evaluation_passed", "==", True)]
    assert "way" not in hints[0]


def test_each_way_to_meet_an_or_condition_is_shown_and_numbered(tmp_path, record):
    rules = with_completed_condition(tmp_path, "training_completed or training_hours >= 40")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    assert [(h["field"], h["op"], h["needed"], h["way"], h["ways"]) for h in hints] == [
        ("training_completed", "==", True, 1, 2), ("training_hours", ">=", 40, 2, 2)]
    text = run("check", record, "--programme", "technician-update-training-subsidy", "--lang", "en",
               "--rules", rules).output
    assert ("· the training was completed — any one way:\n"
            "          way 1 of 2: training_completed no → yes\n"
            "          way 2 of 2: training_hours 16 → at least 40\n") in text
    zh = run("check", record, "--programme", "technician-update-training-subsidy", "--rules", rules).output
    assert "方式 1/2：是否完成培训 否 → 是\n          方式 2/2：培训课时 16 → 至少 40" in zh  # Chinese field names


def test_alternatives_are_numbered_and_an_alternative_needing_two_changes_lists_both_under_it(tmp_path):
    # a senior with a certificate 1 year old: each bridging tier is one alternative; the engineer tier
    # needs both a higher level and older certificate, which are one alternative, not two
    path = tmp_path / "senior.json"
    path.write_text(json.dumps({"applicant_id": "B-1", "as_of": "2024-06-01", "frontline": True,
                                "employer_ownership": "private", "field": "engineering", "appraisals_passed_3y": True,
                                "continuing_education_done": True, "skill_level": "senior",
                                "skill_cert_date": "2023-01-01"}), encoding="utf-8")
    hints = to_qualify(path, "skill-to-title-bridging")
    assert {(h["any_of"], h["among"]) for h in hints} == {
        ("tier-senior-engineer", "level-and-years"), ("tier-engineer", "level-and-years"),
        ("tier-assistant-engineer", "level-and-years")}
    text = run("check", path, "--programme", "skill-to-title-bridging", "--lang", "en").output
    assert ("      any one of:\n"
            "        ① senior technician or above (senior) and at least 4 years since the certificate (1)\n"
            "            → skill_level senior → at least senior_technician\n"
            "            → skill_cert_date 2023-01-01 → on or before 2020-06-01\n"
            "        ② technician or above (senior)") in text
    assert "③ senior or above (senior) and at least 2 years since the certificate (1)\n" \
           "            → skill_cert_date 2023-01-01 → on or before 2022-06-01\n" in text


def test_has_any_names_every_member_as_one_change(tmp_path):
    # `has_any(groups, [xiebao, rural_surplus_labour, disabled])`: any one group will do, not all three,
    # and every one is named (a way per member was cut at 4 of them: award lists lost routes)
    path = tmp_path / "veteran.json"
    path.write_text(json.dumps({"applicant_id": "V-1", "as_of": "2024-06-01", "training_route": "individual",
                                "training_cert_level": "senior", "training_fee": 5000, "employment_status": "self_employed",
                                "groups": ["veteran"], "discharge_date": "2019-05-31"}), encoding="utf-8")
    hints = [h for h in to_qualify(path, "individual-skill-subsidy") if h["field"] == "groups"]
    assert [(h["op"], h["needed"], "way" in h) for h in hints] == [
        ("has_any", ["xiebao", "rural_surplus_labour", "disabled"], False)]
    assert hints[0]["text"]["zh"] == "人员类别 退役军人 → 包含其一：协保人员、原农村富余劳动力、残疾人"
    assert hints[0]["text"]["en"] == "groups veteran → including one of xiebao, rural_surplus_labour, disabled"
    # six awards open the direct-hukou route: all six are offered
    awards = [h for h in to_qualify(ROOT / "cases" / "examples" / "technician-after-engineer-title.yaml",
                                    "direct-hukou-top-skill-talent") if h["field"] == "awards"]
    assert any(len(h["needed"]) == 6 and "national_competition_excellence" in h["needed"] for h in awards)


def test_a_failed_condition_reads_as_not_met(tmp_path, record):
    text = run("check", record, "--programme", "technician-update-training-subsidy", "--lang", "en").output
    assert "✗ not met: the training was completed" in text
    zh = run("check", record, "--programme", "technician-update-training-subsidy").output
    assert "✗ 未满足：培训已完成" in zh


def test_ways_that_would_undo_a_met_condition_are_shown_when_there_is_no_other(tmp_path, record):
    # a senior (below technician) fails technician-or-above, a vocational school fails provider:
    # both ways undo a met condition, so both are shown rather than none
    rules = with_completed_condition(tmp_path, "skill_level == senior or provider_type == vocational_school")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    assert [(h["field"], h["way"]) for h in hints] == [("skill_level", 1), ("provider_type", 2)]


def test_a_way_that_keeps_the_met_conditions_met_is_kept_though_it_changes_their_facts(tmp_path, record):
    # raising the level to senior technician still meets technician-or-above: checked, not assumed
    rules = with_completed_condition(tmp_path, "training_completed and (skill_level >= senior_technician or "
                                               "training_hours >= 400)")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    assert [(h["field"], h["needed"], h["way"]) for h in hints] == [
        ("training_completed", True, 1), ("skill_level", "senior_technician", 1),
        ("training_completed", True, 2), ("training_hours", 400, 2)]


def test_the_one_clean_way_is_found_among_many_that_undo(tmp_path, record):
    # five ways; the first four break provider or technician-or-above, the fifth is the answer
    rules = with_completed_condition(tmp_path, "provider_type == vocational_school or provider_type == sme_platform or "
                                               "provider_type == accredited_institution or skill_level == senior or "
                                               "training_completed")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    assert [(h["field"], h["needed"], h.get("way")) for h in hints] == [("training_completed", True, None)]


def test_a_way_asking_more_than_another_is_left_out(tmp_path, record):
    # (c or hours) and (c or fee): c alone does it, so c+fee and hours+c are not ways of their own
    rules = with_completed_condition(tmp_path, "(training_completed or training_hours >= 40) and "
                                               "(training_completed or training_fee >= 1000)")
    record.write_text(json.dumps({**TECHNICIAN, "training_fee": 500}), encoding="utf-8")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    assert [(h["field"], h["way"], h["ways"]) for h in hints] == [
        ("training_completed", 1, 2), ("training_hours", 2, 2), ("training_fee", 2, 2)]


def test_an_and_of_ors_gives_one_way_per_combination(tmp_path, record):
    rules = with_completed_condition(tmp_path, "(training_completed or training_hours >= 40) and "
                                               "(training_fee >= 1000 or shortage_occupation)")
    record.write_text(json.dumps({**TECHNICIAN, "training_fee": 500, "shortage_occupation": False}), encoding="utf-8")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    ways = {}
    for h in hints:
        ways.setdefault(h["way"], []).append(h["field"])
    assert list(ways.values()) == [["training_completed", "training_fee"], ["training_completed", "shortage_occupation"],
                                   ["training_hours", "training_fee"], ["training_hours", "shortage_occupation"]]
    assert {h["ways"] for h in hints} == {4}


def completed_hints(hints: list[dict]) -> list[tuple]:
    return [(h["field"], h["op"], h["needed"], h.get("way")) for h in hints if h["condition"] == "completed"]


def test_two_bounds_on_a_level_keep_the_higher_rank_not_the_later_name(tmp_path, record):
    rules = with_completed_condition(tmp_path, "(skill_level >= senior_technician and skill_level >= technician) "
                                               "or training_completed")
    record.write_text(json.dumps({**TECHNICIAN, "skill_level": "senior"}), encoding="utf-8")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    assert completed_hints(hints) == [("skill_level", ">=", "senior_technician", 1), ("training_completed", "==", True, 2)]


def test_a_way_that_flips_an_if_guard_and_so_fails_after_all_is_not_offered(tmp_path, record):
    # 100 hours would take the other branch (training_completed), which fails: no sure way, the sentence
    rules = with_completed_condition(tmp_path, "if(training_hours >= 40, training_completed, training_hours >= 100)")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    assert completed_hints(hints) == [(None, None, None, None)]


def test_each_option_of_an_in_is_tried_before_a_way_is_left_out(tmp_path, record):
    # vocational_school would undo the provider condition, high_skill_base keeps it: the way stands
    rules = with_completed_condition(tmp_path, "provider_type in [vocational_school, high_skill_base] or "
                                               "training_hours >= 400")
    hints = to_qualify(record, "technician-update-training-subsidy", rules)
    assert [(f, w) for f, _, _, w in completed_hints(hints)] == [("provider_type", 1), ("training_hours", 2)]
