"""Policy-staff tooling: lint beyond loading, case coverage, and the impact of a rule change."""
import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def rules_copy(tmp_path):
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target)
    return target


def test_lint_of_the_real_tree_is_clean_and_summarises_provisional_figures():
    result = run("rules", "lint", ROOT / "rules", "--as-of", "2024-06-01")
    assert result.exit_code == 0, result.output
    assert "public (to be confirmed by policy staff)" in result.output
    assert "unset  training.technician_update_rate" in result.output
    assert result.output.strip().splitlines()[-1].startswith("ok: 24 programmes")


def test_lint_finds_an_unused_parameter_with_its_file(rules_copy):
    (rules_copy / "parameters" / "training" / "orphan.yaml").write_text(
        "description: {zh: 无人使用, en: nobody reads this}\ntype: money\n"
        "cites: [{doc: SH-SKILLS-PLAN-2018, clause: 三（二）}]\n"
        "values: {2020-01-01: {value: 1, provenance: public, source: test}}\n", encoding="utf-8")
    result = run("rules", "lint", rules_copy)
    assert result.exit_code == 1
    assert "rules/parameters/training/orphan.yaml:1: parameter 'training.orphan' is never read by any programme" \
        in result.output


def test_lint_finds_an_unused_shared_definition(rules_copy):
    path = rules_copy / "definitions" / "person.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  never_used:\n    value: frontline\n"
                    "    says: {zh: 未用, en: unused}\n", encoding="utf-8")
    result = run("rules", "lint", rules_copy)
    assert result.exit_code == 1 and "definition 'never_used' (person) is never used" in result.output


def test_lint_finds_a_rule_the_batch_cannot_compile(rules_copy):
    # it loaded and decided one record, and then stopped every batch with the rule in it
    path = rules_copy / "programmes" / "staff-education-fund-frontline-share.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("value: max(0, frontline_required - frontline_education_spend)",
                                 "value: max(0, frontline_required - frontline_education_spend) / "
                                 "(1 - param(frontline_share.min_share))"), encoding="utf-8")
    result = run("rules", "lint", rules_copy)
    assert result.exit_code == 1, result.output
    assert "cannot compile programme 'staff-education-fund-frontline-share'" in result.output
    assert "division by a value that is not a constant" in result.output


def test_an_effect_that_is_a_date_is_linted_and_written_alike_on_both_batch_paths(rules_copy, tmp_path):
    # a date-valued effect stopped the column-wise batch and gave the per-record one a traceback
    path = rules_copy / "programmes" / "special-allowance-pool.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "effect:\n  certificate_held_since:\n    value: skill_cert_date\n"
                    "    says: {zh: 证书取得日期, en: certificate held since}\n", encoding="utf-8")
    assert run("rules", "lint", rules_copy).exit_code == 0
    source = tmp_path / "in.csv"
    source.write_text("applicant_id,skill_level,skill_cert_date,as_of\nP1,技师,2019-07-01,2024-06-01\n", encoding="utf-8")
    outputs = []
    for flags in ([], ["--per-record"]):
        out = tmp_path / f"out{len(flags)}.csv"
        result = run("batch", source, "-o", out, "--rules", rules_copy, *flags)
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
        header, row = [line.split(",") for line in out.read_text(encoding="utf-8-sig").splitlines()]
        assert dict(zip(header, row))["special-allowance-pool.certificate_held_since"] == "2019-07-01"
    assert outputs[0] == outputs[1]


def test_coverage_reports_every_condition_and_lists_gaps(tmp_path):
    case = tmp_path / "one.yaml"
    case.write_text("""programme: apprenticeship-training-subsidy
cases:
  - id: only-eligible
    as_of: 2020-05-01
    record: {applicant_id: C, employer_has_training_system: true, employer_skilled_ratio: 0.7, contract_months: 24,
             apprentice_kind: new_hire, apprentice_year: 1, apprentice_target_level: junior}
    expect: {outcome: eligible}
""", encoding="utf-8")
    result = run("rules", "test", "--coverage", case)
    assert result.exit_code == 0
    assert "gap: apprenticeship-training-subsidy / contract-length: never false, unknown" in result.output
    assert "gap: apprenticeship-training-subsidy: outcome never ineligible, undetermined" in result.output
    full = run("rules", "test", "--coverage")
    assert full.exit_code == 0 and "coverage:" in full.output
    assert "apprenticeship-training-subsidy / contract-length" not in full.output  # the real cases cover it


def test_impact_of_a_new_dated_rate(tmp_path, rules_copy):
    rate = rules_copy / "parameters" / "apprenticeship" / "new_hire_rate.yaml"
    rate.write_text(rate.read_text(encoding="utf-8") + """  2026-01-01:
    value: {junior: 5000, intermediate: 6000, senior: 8000}
    provenance: public
    source: an illustrative notice for this test
""", encoding="utf-8")
    data = tmp_path / "data.csv"
    with open(data, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["applicant_id", "employer_has_training_system", "employer_skilled_ratio", "contract_months",
                         "apprentice_kind", "apprentice_year", "apprentice_target_level", "as_of"])
        writer.writerow(["A-1", "是", "0.7", "24", "new_hire", "1", "junior", "2026-06-01"])
        writer.writerow(["A-2", "是", "0.7", "24", "new_hire", "1", "senior", "2026-06-01"])
        writer.writerow(["A-3", "是", "0.7", "6", "new_hire", "1", "senior", "2026-06-01"])   # ineligible either way
        writer.writerow(["A-4", "是", "0.7", "24", "new_hire", "1", "junior", "2025-12-31"])  # before the new rate
    changed = tmp_path / "changed.csv"
    result = run("rules", "impact", "--base", ROOT / "rules", "--data", data, "--rules", rules_copy, "-o", changed)
    assert result.exit_code == 0, result.output
    assert "apprenticeship-training-subsidy: 2 eligible, amount changed, +13,000.00 CNY" in result.output
    assert "rows: 4  invalid: 0  changed: 2" in result.output
    with open(changed, encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["applicant_id"], r["base.amount"], r["work.amount"], r["amount_change"]) for r in rows] == [
        ("A-1", "", "5000.00", "5000.00"), ("A-2", "", "8000.00", "8000.00")]
    assert rows[0]["base.reason"] == "amount-not-set" and rows[0]["work.reason"] == "ok"


def test_impact_at_a_date_overrides_each_rows_own_as_of(tmp_path, rules_copy):
    rate = rules_copy / "parameters" / "apprenticeship" / "new_hire_rate.yaml"
    rate.write_text(rate.read_text(encoding="utf-8") + "  2026-01-01:\n    value: {junior: 5000}\n"
                    "    provenance: public\n    source: illustrative\n", encoding="utf-8")
    data = tmp_path / "data.csv"
    data.write_text("applicant_id,employer_has_training_system,employer_skilled_ratio,contract_months,apprentice_kind,"
                    "apprentice_year,apprentice_target_level,as_of\nA-1,是,0.7,24,new_hire,1,junior,2024-06-01\n",
                    encoding="utf-8")
    own_date = run("rules", "impact", "--base", ROOT / "rules", "--data", data, "--rules", rules_copy,
                   "-o", tmp_path / "a.csv")
    assert "no applicant changes" in own_date.output
    at_date = run("rules", "impact", "--base", ROOT / "rules", "--data", data, "--rules", rules_copy,
                  "--at", "2026-01-01", "-o", tmp_path / "b.csv")
    assert "apprenticeship-training-subsidy: 1 eligible, amount changed, +5,000.00 CNY" in at_date.output


def test_impact_with_no_change_says_so(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("applicant_id,as_of\nA-1,2024-06-01\n", encoding="utf-8")
    result = run("rules", "impact", "--base", ROOT / "rules", "--data", data, "-o", tmp_path / "c.csv")
    assert result.exit_code == 0 and "no applicant changes outcome or amount" in result.output


def test_impact_reads_rows_as_batch_does(tmp_path):
    # a row with a cell past the header, and a field given in two columns, are row errors in both
    data = tmp_path / "data.csv"
    data.write_text("applicant_id,hukou,户籍,as_of\nA-1,shanghai,,2024-06-01\nA-2,shanghai,,2024-06-01,extra\n"
                    "A-3,shanghai,other,2024-06-01\n", encoding="utf-8")
    impact = run("rules", "impact", "--base", ROOT / "rules", "--data", data, "-o", tmp_path / "c.csv")
    assert "rows: 3" in impact.output and "invalid: 2" in impact.output, impact.output
    batch = run("batch", data, "-o", tmp_path / "b.csv", "--workers", "1")
    assert "rows with errors: 2" in batch.output
    # and lists them as batch does: the applicant, the message in English and in Chinese
    assert (tmp_path / "c.errors.csv").read_text(encoding="utf-8-sig") == \
        (tmp_path / "b.errors.csv").read_text(encoding="utf-8-sig")
