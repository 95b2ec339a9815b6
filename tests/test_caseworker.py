"""The caseworker's command line: text in both languages, --set, interview mode, programmes, explain."""
import json
from datetime import date
from pathlib import Path

import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.interview import next_questions
from engine.loader import load_rules

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "cases" / "examples").glob("*.yaml"))
APPRENTICE = ROOT / "cases" / "examples" / "new-hire-apprentice.yaml"
RULESET = load_rules()


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_every_example_checks_in_both_languages():
    assert len(EXAMPLES) >= 2
    for example in EXAMPLES:
        for lang in ("zh", "en"):
            result = run("check", example, "--lang", lang, "--explain")
            assert result.exit_code == 0, (example, result.output)
            assert "Traceback" not in result.output
        data = yaml.safe_load(example.read_text(encoding="utf-8"))
        record_type = data.get("record_type", "person")
        wanted = {p.id for p in RULESET.programmes_for("enterprise" if record_type in ("enterprise", "企业")
                                                        else "person")}
        shown = {d["programme"] for d in json.loads(run("check", example, "--format", "json").output)["decisions"]}
        assert shown == wanted


def test_text_is_chinese_by_default_and_english_on_request():
    zh = run("check", APPRENTICE).output
    en = run("check", APPRENTICE, "--lang", "en").output
    assert "符合条件" in zh and "企业新型学徒制" in zh
    assert "eligible" in en and "New-type enterprise apprenticeship" in en
    assert "6000.00" in zh and "6000.00" in en


def test_piped_text_has_no_colour_codes():
    assert "\x1b[" not in run("check", APPRENTICE, "--explain").output


def test_explain_shows_marks_facts_provenance_clause_and_hints():
    out = run("check", APPRENTICE, "--programme", "skill-to-title-bridging", "--lang", "en").output
    assert "✓ works on a production frontline" in out
    assert "? not known: appraisals passed in the last 3 years" in out and "appraisals_passed_3y=unknown" in out
    assert "✗ not met: senior or above (junior)" in out
    assert "skill_level junior → at least senior" in out           # to qualify
    assert "⚠ public figure, to be confirmed" in out              # provenance flagged
    assert "§ SH-SKILLS-PLAN-2018 三（三）" in out and "职称评审" in out  # the clause quoted


def test_set_overrides_a_field_and_can_build_a_record_alone():
    out = run("check", APPRENTICE, "--set", "contract_months=6", "--format", "json").output
    decision = next(d for d in json.loads(out)["decisions"] if d["programme"] == "apprenticeship-training-subsidy")
    assert decision["outcome"] == "ineligible"
    assert decision["to_qualify"][0]["text"]["en"] == "contract_months 6 → at least 12"
    alone = run("check", "--set", "applicant_id=S-1", "--set", "as_of=2020-05-01", "--format", "json")
    assert alone.exit_code == 0 and json.loads(alone.output)["applicant_id"] == "S-1"


def test_bad_set_value_is_refused_naming_the_field():
    result = run("check", APPRENTICE, "--set", "contract_months=many")
    assert result.exit_code == 2 and "contract_months" in result.output and "Traceback" not in result.output
    assert run("check", APPRENTICE, "--set", "no-equals-sign").exit_code == 2
    assert run("check").exit_code == 2  # nothing to check


# ------------------------------------------------------------------------------------ interview

BRIDGING = "skill-to-title-bridging"


def test_interview_asks_only_facts_that_can_change_an_outcome():
    # bridging already fails on the skill level, so appraisals and continuing education cannot matter
    settled = {"applicant_id": "I-1", "as_of": "2020-05-01", "skill_level": "intermediate",
               "skill_cert_date": "2010-01-01", "frontline": True}
    assert next_questions(RULESET, settled, date(2020, 5, 1), only=[BRIDGING]) == []
    # with a technician, they do
    open_case = {**settled, "skill_level": "technician"}
    asked = [q.field for q in next_questions(RULESET, open_case, date(2020, 5, 1), only=[BRIDGING])]
    assert set(asked) == {"employer_ownership", "field", "appraisals_passed_3y", "continuing_education_done"}


def test_interview_asks_the_most_decisive_fact_first():
    questions = next_questions(RULESET, {"applicant_id": "I-2", "as_of": "2020-05-01"}, date(2020, 5, 1))
    assert questions, "an empty record has questions"
    counts = [len(q.settles) for q in questions]
    assert counts == sorted(counts, reverse=True)


def test_interview_from_empty_record_to_a_decision_and_save(tmp_path):
    saved = tmp_path / "completed.yaml"
    # applicant id, then: frontline, ownership (option 3 = private), field (1 = engineering),
    # appraisals, continuing education, skill level, certificate date; a bad date first, re-asked.
    answers = "\n".join(["I-3", "yes", "3", "1", "是", "yes", "技师", "2015-13-01", "2015-03-01"] + [""] * 10) + "\n"
    result = run("check", "--ask", "--programme", BRIDGING, "--as-of", "2020-05-01", "--lang", "en",
                 "--save", saved, input=answers)
    assert result.exit_code == 0, result.output
    assert "✗" in result.output  # the bad date was refused and asked again
    assert "engineer" in result.output and "may apply" in result.output
    record = yaml.safe_load(saved.read_text(encoding="utf-8"))
    assert record["skill_level"] == "technician" and record["skill_cert_date"] == "2015-03-01"
    rerun = json.loads(run("check", saved, "--format", "json", "--programme", BRIDGING).output)
    assert rerun["decisions"][0]["effect"] == {"title": "engineer"}


def test_an_interview_refuses_a_bad_answer_in_the_reader_s_language_naming_the_field():
    # the Chinese interview said an English sentence with no field in it
    answers = "\n".join(["I-5", "yes", "3", "1", "是", "yes", "技师", "2015-13-01", "2015-03-01"] + [""] * 10) + "\n"
    result = run("check", "--ask", "--programme", BRIDGING, "--as-of", "2020-05-01", input=answers)
    assert result.exit_code == 0, result.output
    assert "✗ 字段“发证日期”（skill_cert_date）：值 '2015-13-01' 不是真实存在的日期" in result.output


def test_interview_asks_on_when_two_answers_together_would_settle_it():
    # after "don't know" for the route and the certificate, no single answer settles the subsidy, yet
    # employment status and groups together do (retired, none: ineligible); it said no answer could
    individual = "individual-skill-subsidy"
    data = {"applicant_id": "A-1", "as_of": "2024-06-01"}
    asked = next_questions(RULESET, data, date(2024, 6, 1), {"training_route", "training_cert_level"}, [individual])
    assert asked and all(q.jointly and q.settles == (individual,) for q in asked)
    assert {"employment_status", "groups"} <= {q.field for q in asked}
    answers = "A-1\n?\n?\n退休\n无\n" + "\n" * 10
    result = run("check", "--ask", "--programme", individual, "--as-of", "2024-06-01", input=answers)
    assert result.exit_code == 0 and "与其他回答一起可确定" in result.output
    assert "✗ 不符合条件 · 职业技能提升补贴" in result.output, result.output


def test_interview_dont_know_is_not_asked_again():
    answers = "I-4\n" + "?\n" * 40
    result = run("check", "--ask", "--programme", BRIDGING, "--as-of", "2020-05-01", "--lang", "en", input=answers)
    assert result.exit_code == 0
    prompts = [line for line in result.output.splitlines() if "don't know" in line]
    fields = [p.split(" (")[0] for p in prompts]
    assert len(fields) == len(set(fields)) and fields


# ------------------------------------------------------------------------------ catalogue and explain

def test_programmes_lists_the_whole_catalogue():
    out = run("programmes", "--lang", "en").output
    for programme in RULESET.programmes:
        assert programme in out
    assert f"{len(RULESET.programmes)} programmes" in out


def test_explain_a_programme_with_parameter_history_and_clause_text():
    out = run("explain", "apprenticeship-training-subsidy", "--as-of", "2020-05-01", "--lang", "en").output
    assert "labour contract of 〈contract_months〉 months, at least 12" in out
    assert "2019-01-01  {junior: 4000, intermediate: 6000" in out and "← in force" in out
    assert "2021-07-01  not set  [unset]" in out
    assert "全面推广企业新型学徒制" in "".join(out.split())  # the clause text itself
    later = run("explain", "apprenticeship-training-subsidy", "--as-of", "2022-01-01", "--lang", "en").output
    rate_lines = [line for line in later.splitlines() if line.strip().startswith(("2019-01-01  {junior", "2021-07-01"))]
    assert "← in force" not in rate_lines[0] and all("← in force" in line for line in rate_lines[1:])


def test_explain_unknown_programme_suggests_and_exits_2():
    result = run("explain", "apprenticeship-training-subsidi")
    assert result.exit_code == 2 and "did you mean 'apprenticeship-training-subsidy'" in result.output


def test_an_encouraged_scheme_does_not_say_the_employer_gives_what_the_person_is_encouraged_to_do():
    # engineers are encouraged to sit skill assessment (SH-SKILLS-PLAN-2018 三（三）); no employer gives anything
    example = Path(__file__).resolve().parent.parent / "cases" / "examples" / "technician-after-engineer-title.yaml"
    result = run("check", example, "--programme", "engineer-to-skill-assessment")
    assert result.exit_code == 0, result.output
    assert "政策予以鼓励，并非法定应得" in result.output and "用人单位给予" not in result.output
    assert "：高级技师" in result.output  # a technician sits the level above the one held

