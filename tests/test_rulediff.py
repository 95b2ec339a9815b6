"""`rules diff`: what changed in the rules themselves, as a list a policy officer can review.

Each test copies the real rules/ tree, makes ONE change to one file (text that must occur exactly once,
so a change to the real rules fails the edit loudly instead of testing nothing), and checks that
exactly that change is reported — kind, subject, aspect, before, after and the working file:line.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.errors import RuleError, UserError
from engine.loader import load_rules
from engine.rulediff import Change, diff_rulesets, load_base, render_changes
from engine.types import UNSET
from engine.vocabulary import SkillLevel

RULES = Path(__file__).resolve().parent.parent / "rules"
BASE = load_rules(RULES)

APPRENTICE = "programmes/apprenticeship-training-subsidy.yaml"
NEW_HIRE_RATE = "parameters/apprenticeship/new_hire_rate.yaml"
MIN_CONTRACT = "parameters/apprenticeship/min_contract_months.yaml"
NEW_RATE_2026 = """  2026-01-01:
    value: {junior: 5000, intermediate: 6000, senior: 8000, technician: null, senior_technician: null}
    provenance: public
    source: 示例数值，非现行政策 (illustrative figure, not policy)
"""


@pytest.fixture
def rules(tmp_path):
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{relative}: expected exactly one {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(root: Path, relative: str, needle: str) -> int:
    lines = (root / relative).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def diff(root: Path) -> list[Change]:
    return diff_rulesets(BASE, load_rules(root), root)


def only(changes: list[Change]) -> Change:
    assert len(changes) == 1, "\n" + render_changes(changes, "en")
    return changes[0]


# ------------------------------------------------------------------------------ no change


def test_identical_rules_have_no_changes(rules):
    assert diff(rules) == []
    assert render_changes([], "en") == "No changes."
    assert render_changes([], "zh") == "规则无变化。"


def test_an_expression_changed_only_in_spacing_and_line_breaks_is_no_change(rules):
    edit(rules, APPRENTICE, "when: contract_months >= param(apprenticeship.min_contract_months)",
         'when: "contract_months   >=\n        (param( apprenticeship.min_contract_months ))"')
    work = load_rules(rules)
    condition = next(c for c in work.programmes["apprenticeship-training-subsidy"].eligible_when.conditions()
                     if c.id == "contract-length")
    assert "   >=" in condition.source  # the text really differs
    assert diff_rulesets(BASE, work, rules) == []


def test_the_same_number_or_enumeration_value_spelled_another_way_is_no_change(rules):
    edit(rules, "programmes/apprenticeship-mentor-allowance.yaml", "when: mentee_count > 0", "when: mentee_count > 0.00")
    edit(rules, APPRENTICE, '"apprentice_kind in [new_hire, transfer]"', "\"apprentice_kind in ['新招用', '转岗']\"")
    assert diff(rules) == []


def test_a_number_that_really_changed_is_a_change(rules):
    edit(rules, "programmes/apprenticeship-mentor-allowance.yaml", "when: mentee_count > 0", "when: mentee_count > 0.5")
    change = only(diff(rules))
    assert (change.what, change.before, change.after) == ("condition.when", "mentee_count > 0", "mentee_count > 0.5")


# --------------------------------------------------------------------------- parameters


def test_a_rate_changed_from_a_date_by_adding_a_dated_value(rules):
    (rules / NEW_HIRE_RATE).write_text((rules / NEW_HIRE_RATE).read_text(encoding="utf-8") + NEW_RATE_2026,
                                       encoding="utf-8")
    change = only(diff(rules))
    assert (change.kind, change.area, change.subject, change.what, change.item) == \
        ("added", "parameter", "apprenticeship.new_hire_rate", "value", "2026-01-01")
    assert change.after.valid_from == date(2026, 1, 1)
    assert change.after.value == {SkillLevel.junior: Decimal(5000), SkillLevel.intermediate: Decimal(6000),
                                  SkillLevel.senior: Decimal(8000), SkillLevel.technician: UNSET,
                                  SkillLevel.senior_technician: UNSET}
    assert change.after.provenance == "public"
    # what it replaces from that day: the unset value of 2021-07-01
    assert (change.before.valid_from, change.before.value) == (date(2021, 7, 1), UNSET)
    assert change.where == f"rules/{NEW_HIRE_RATE}:{line_of(rules, NEW_HIRE_RATE, '2026-01-01:')}"
    assert change.used_by == ("apprenticeship-training-subsidy",)
    text = render_changes([change], "en")
    assert "+ new value from 2026-01-01: {junior: 5000, intermediate: 6000, senior: 8000, technician: not set" in text
    assert "provenance: public" in text and "source: 示例数值，非现行政策 (illustrative figure, not policy)" in text
    assert "replaces (from 2026-01-01): not set (unset), the value in force since 2021-07-01" in text
    zh = render_changes([change], "zh")
    assert "新取值，自 2026-01-01 起：{初级工: 5000, 中级工: 6000, 高级工: 8000, 技师: 未设定" in zh


def test_an_unset_value_given_a_figure_on_its_own_date(rules):
    edit(rules, NEW_HIRE_RATE, "  2021-07-01:\n    value: null\n    provenance: unset",
         "  2021-07-01:\n    value: {junior: 5000, intermediate: 6000, senior: 8000}\n    provenance: public")
    changes = diff(rules)
    assert [(c.what, c.item) for c in changes] == [("value.value", "2021-07-01"), ("value.provenance", "2021-07-01")]
    value, provenance = changes
    assert value.before is UNSET
    assert value.after == {SkillLevel.junior: Decimal(5000), SkillLevel.intermediate: Decimal(6000),
                           SkillLevel.senior: Decimal(8000)}
    assert (provenance.before, provenance.after) == ("unset", "public")
    assert "value from 2021-07-01: not set (unset) → {junior: 5000, intermediate: 6000, senior: 8000}" in \
        render_changes(changes, "en")


def test_a_threshold_changed(rules):
    edit(rules, MIN_CONTRACT, "value: 12", "value: 6")
    change = only(diff(rules))
    assert (change.kind, change.subject, change.what, change.item) == \
        ("changed", "apprenticeship.min_contract_months", "value.value", "2019-01-01")
    assert (change.before, change.after) == (Decimal(12), Decimal(6))
    assert change.where == f"rules/{MIN_CONTRACT}:{line_of(rules, MIN_CONTRACT, 'value: 6')}"
    assert "~ value from 2019-01-01: 12 → 6" in render_changes([change], "en")
    assert "2019-01-01 起的取值: 12 → 6" in render_changes([change], "zh")


def test_one_entry_of_a_rate_table_changed(rules):
    edit(rules, NEW_HIRE_RATE, "{junior: 4000,", "{junior: 4500,")
    change = only(diff(rules))
    assert (change.what, change.item, change.key, change.before, change.after) == \
        ("value.key", "2019-01-01", SkillLevel.junior, Decimal(4000), Decimal(4500))
    assert "value from 2019-01-01, junior: 4000 → 4500" in render_changes([change], "en")


def test_a_start_date_moved(rules):
    edit(rules, "parameters/apprenticeship/transfer_rate.yaml", "2021-07-01:", "2021-09-01:")
    change = only(diff(rules))
    assert (change.what, change.before, change.after) == ("value.start", date(2021, 7, 1), date(2021, 9, 1))


def test_a_dated_value_removed_says_what_applies_instead(rules):
    source = next(line for line in (rules / "parameters/apprenticeship/transfer_rate.yaml").read_text(encoding="utf-8")
                  .splitlines() if "人社部发〔2021〕39号" in line)
    edit(rules, "parameters/apprenticeship/transfer_rate.yaml", "  2021-07-01:\n    value: null\n    provenance: unset\n"
         + source + "\n", "")
    change = only(diff(rules))
    assert (change.kind, change.what, change.item) == ("removed", "value", "2021-07-01")
    assert (change.after.valid_from, change.after.value) == (date(2019, 1, 1), Decimal(4000))
    assert "from 2021-07-01 now applies: 4000 (public), the value in force since 2019-01-01" in \
        render_changes([change], "en")


# --------------------------------------------------------------------------- programmes


def test_a_condition_added(rules):
    edit(rules, APPRENTICE, "    - id: transfer-evaluation\n",
         "    - id: shanghai-hukou\n      when: hukou == shanghai\n"
         "      says: {zh: 本市户籍, en: holds a Shanghai hukou}\n"
         "      cites: [{doc: SH-SKILLS-PLAN-2018, clause: 三（二）}]\n"
         "    - id: transfer-evaluation\n")
    change = only(diff(rules))
    assert (change.kind, change.subject, change.what, change.item) == \
        ("added", "apprenticeship-training-subsidy", "condition", "shanghai-hukou")
    assert change.where == f"rules/{APPRENTICE}:{line_of(rules, APPRENTICE, 'id: shanghai-hukou')}"
    text = render_changes([change], "en")
    assert "+ condition shanghai-hukou: hukou == shanghai" in text
    assert "sentence: holds a Shanghai hukou" in text and "cites: SH-SKILLS-PLAN-2018 三（二）" in text


def test_a_condition_removed(rules):
    edit(rules, APPRENTICE, "    - id: training-system\n      when: employer_has_training_system\n"
         "      says: {zh: \"企业建立了职工培训制度\", en: \"the employer has a staff-training system\"}\n", "")
    change = only(diff(rules))
    assert (change.kind, change.what, change.item) == ("removed", "condition", "training-system")
    assert change.before.source == "employer_has_training_system"
    assert change.was == f"rules/{APPRENTICE}:{line_of(RULES, APPRENTICE, 'id: training-system')}"


def test_a_condition_expression_changed(rules):
    edit(rules, APPRENTICE, "when: contract_months >= param(apprenticeship.min_contract_months)",
         "when: contract_months >= 24")
    change = only(diff(rules))
    assert (change.what, change.item) == ("condition.when", "contract-length")
    assert (change.before, change.after) == ("contract_months >= param(apprenticeship.min_contract_months)",
                                             "contract_months >= 24")


def test_a_sentence_changed_in_one_language(rules):
    edit(rules, APPRENTICE, '{zh: "企业建立了职工培训制度"', '{zh: "企业已建立职工培训制度"')
    change = only(diff(rules))
    assert (change.what, change.item, change.key) == ("condition.says", "training-system", "zh")
    assert (change.before, change.after) == ("企业建立了职工培训制度", "企业已建立职工培训制度")
    assert change.where == f"rules/{APPRENTICE}:{line_of(rules, APPRENTICE, 'id: training-system')}"
    assert "条件 training-system — 说明句 (zh): 企业建立了职工培训制度 → 企业已建立职工培训制度" in \
        render_changes([change], "zh")


def test_a_citation_removed(rules):
    edit(rules, APPRENTICE, "  - doc: HRSS-2023-345\n    clause: （四）\n    quote: 优化企业新型学徒制培训经费补贴政策\n", "")
    change = only(diff(rules))
    assert (change.kind, change.what) == ("removed", "citation")
    assert (change.before.doc, change.before.clause) == ("HRSS-2023-345", "（四）")
    assert "- citation: HRSS-2023-345 （四）「优化企业新型学徒制培训经费补贴政策」" in render_changes([change], "en")


def test_force_changed(rules):
    edit(rules, APPRENTICE, "force: entitlement", "force: may_apply")
    change = only(diff(rules))
    assert (change.kind, change.subject, change.what, change.before, change.after) == \
        ("changed", "apprenticeship-training-subsidy", "force", "entitlement", "may_apply")
    assert change.where == f"rules/{APPRENTICE}:{line_of(rules, APPRENTICE, 'force:')}"
    assert "~ force: entitlement → may_apply" in render_changes([change], "en")


def test_effective_period_given_an_end(rules):
    edit(rules, APPRENTICE, "effective: {from: 2019-01-01}", "effective: {from: 2019-01-01, to: 2030-12-31}")
    change = only(diff(rules))
    assert change.what == "effective"
    assert "effective period: from 2019-01-01 (open) → from 2019-01-01 to 2030-12-31" in render_changes([change], "en")


def test_a_group_changed_from_any_to_all(rules):
    path = "programmes/green-channel-title-review.yaml"
    edit(rules, path, "      any:\n        - id: major-contribution", "      all:\n        - id: major-contribution")
    change = only(diff(rules))
    assert change.what == "group.structure"
    assert "contribution=any(major-contribution, top-honour-or-medal)" in change.before
    assert "contribution=all(major-contribution, top-honour-or-medal)" in change.after


def test_an_amount_case_changed(rules):
    edit(rules, APPRENTICE, "param(apprenticeship.transfer_rate) * param(apprenticeship.transfer_share_without_certificate)",
         "param(apprenticeship.transfer_rate) * 0.5")
    changes = diff(rules)
    case = next(c for c in changes if c.area == "programme")
    assert (case.what, case.item, case.after) == ("case.value", "amount case 3", "param(apprenticeship.transfer_rate) * 0.5")
    # the parameter the case no longer reads is not a rule change: only the case is reported
    assert len(changes) == 1


def test_a_shared_definition_changed_names_the_programmes_that_read_it(rules):
    edit(rules, "definitions/person.yaml", "value: skill_level >= senior", "value: skill_level >= technician")
    change = only(diff(rules))
    assert (change.area, change.subject, change.what) == ("definition", "highly_skilled", "definition.value")
    assert (change.before, change.after) == ("skill_level >= senior", "skill_level >= technician")
    assert {"green-channel-title-review", "special-allowance-pool", "treatment-parity"} <= set(change.used_by)


def test_a_programme_added(rules):
    source = (rules / "programmes/special-allowance-pool.yaml").read_text(encoding="utf-8")
    (rules / "programmes/special-allowance-pool-copy.yaml").write_text(
        source.replace("programme: special-allowance-pool", "programme: special-allowance-pool-copy"), encoding="utf-8")
    change = only(diff(rules))
    assert (change.kind, change.area, change.subject, change.what) == \
        ("added", "programme", "special-allowance-pool-copy", "programme")
    assert change.where == "rules/programmes/special-allowance-pool-copy.yaml:1"
    text = render_changes([change], "en")
    assert "+ programme special-allowance-pool-copy" in text
    assert "force: may_apply" in text and "[highly-skilled] highly_skilled" in text


def test_a_programme_removed(rules):
    (rules / "programmes/special-allowance-pool.yaml").unlink()
    change = only([c for c in diff(rules) if c.area == "programme"])
    assert (change.kind, change.subject) == ("removed", "special-allowance-pool")


def test_changes_are_ordered_by_programme_then_parameter(rules):
    edit(rules, MIN_CONTRACT, "value: 12", "value: 6")
    edit(rules, APPRENTICE, "force: entitlement", "force: may_apply")
    edit(rules, "programmes/treatment-parity.yaml", "force: encouraged", "force: may_apply")
    edit(rules, "ruleset.yaml", "version: 2026.11.0", "version: 2026.12.0")
    changes = diff(rules)
    assert [(c.area, c.subject) for c in changes] == [
        ("ruleset", "ruleset"), ("programme", "apprenticeship-training-subsidy"), ("programme", "treatment-parity"),
        ("parameter", "apprenticeship.min_contract_months")]
    text = render_changes(changes, "en")
    assert text.splitlines()[0] == "4 changes (1 rule set, 2 programmes, 1 parameter)"
    assert text.index("Programme apprenticeship-training-subsidy") < text.index("Programme treatment-parity") \
        < text.index("Parameter apprenticeship.min_contract_months")


# --------------------------------------------------------------------------------- the base


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo)}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = tmp_path / "project"
    shutil.copytree(RULES, project / "rules")
    _git(project, "init", "-q")
    _git(project, "add", "rules")
    _git(project, "commit", "-q", "-m", "rules as released")
    _git(project, "tag", "released")
    return project


def test_load_base_from_a_git_revision_against_the_working_rules(repo):
    (repo / "rules" / NEW_HIRE_RATE).write_text(
        (repo / "rules" / NEW_HIRE_RATE).read_text(encoding="utf-8") + NEW_RATE_2026, encoding="utf-8")
    base = load_base("HEAD", repo)
    work = load_rules(repo / "rules")
    change = only(diff_rulesets(base, work, repo / "rules"))
    assert (change.subject, change.what, change.item) == ("apprenticeship.new_hire_rate", "value", "2026-01-01")
    assert change.where == f"rules/{NEW_HIRE_RATE}:{line_of(repo / 'rules', NEW_HIRE_RATE, '2026-01-01:')}"
    # the revision's rules, not the working tree's: the tag and the commit read the same, the work differs
    assert diff_rulesets(load_base("released", repo), base) == []
    assert base.digest != work.digest


def test_load_base_from_an_older_commit(repo):
    edit(repo / "rules", MIN_CONTRACT, "value: 12", "value: 6")
    _git(repo, "commit", "-q", "-am", "shorter contracts")
    change = only(diff_rulesets(load_base("HEAD~1", repo), load_base("HEAD", repo)))
    assert (change.subject, change.before, change.after) == ("apprenticeship.min_contract_months", 12, 6)


def test_load_base_from_a_folder(rules):
    assert diff_rulesets(load_base(str(rules), Path.cwd()), BASE) == []
    assert diff_rulesets(load_base(str(rules.parent), Path.cwd()), BASE) == []  # a checkout holding rules/


@pytest.mark.parametrize("spec", ["no-such-branch", "HEAD~999", "0123456789abcdef0123", "--output=x"])
def test_a_bad_revision_is_a_user_error(repo, spec):
    with pytest.raises(UserError, match="neither a (rules )?folder nor a (git )?revision"):
        load_base(spec, repo)


def test_a_revision_outside_a_git_repository_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a git repository"):
        load_base("HEAD", tmp_path)


def test_a_revision_without_rules_is_a_user_error(repo):
    (repo / "README").write_text("x")
    _git(repo, "rm", "-rq", "rules")
    _git(repo, "add", "README")
    _git(repo, "commit", "-q", "-m", "no rules")
    with pytest.raises(UserError, match="has no rules/ folder"):
        load_base("HEAD", repo)


def test_a_folder_that_is_not_rules_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a rules folder"):
        load_base(str(tmp_path), tmp_path)


def test_broken_rules_in_a_revision_name_the_revision(repo):
    edit(repo / "rules", MIN_CONTRACT, "value: 12", "value: twelve")
    _git(repo, "commit", "-q", "-am", "broken")
    with pytest.raises(RuleError) as caught:
        load_base("HEAD", repo)
    assert str(caught.value).startswith(f"HEAD:rules/{MIN_CONTRACT}:")


def test_a_clause_of_a_policy_text_reworded_is_reported_once_at_the_item(rules):
    edit(rules, "sources/SH-SKILLS-PLAN-2018.txt", "将高技能人才纳入享受国务院政府特殊津贴人员选拔范围",
         "将优秀高技能人才纳入享受国务院政府特殊津贴人员选拔范围")
    with pytest.raises(RuleError):  # the rule quoting the old words no longer finds them: lint catches it
        load_rules(rules)
    edit(rules, "programmes/special-allowance-pool.yaml", "quote: 将高技能人才纳入", "quote: 将优秀高技能人才纳入")
    changes = diff(rules)
    clause = [c for c in changes if c.area == "source"]
    assert [(c.subject, c.item) for c in clause] == [("SH-SKILLS-PLAN-2018", "三（七）")]  # not also section 三
    assert "【优秀】" in clause[0].after and "【】" in clause[0].before
    assert [c.what for c in changes if c.area == "programme"] == ["citation"]
