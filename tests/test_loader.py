"""The rule loader refuses every kind of bad rule file, each at the right file and line.

Each test copies the real rules/ tree (its founding part; see CORE), breaks ONE thing in one file,
and checks that loading is refused with a message saying what is wrong, in that file, on that line.
Edits replace text that must occur exactly once in the real file, so a change to the real rules fails
the edit loudly instead of silently testing nothing. Expected lines are worked out from the edited
file, not hard-coded.
"""
from __future__ import annotations

import os
import re
from decimal import Decimal
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.errors import Problem, RuleError
from engine.loader import load_rules

RULES = Path(__file__).resolve().parent.parent / "rules"

APPRENTICE = "programmes/apprenticeship-training-subsidy.yaml"
BRIDGING = "programmes/skill-to-title-bridging.yaml"
DEDUCTION = "programmes/staff-education-pretax-deduction.yaml"
SHARED = "definitions/person.yaml"
CONTRACT = "parameters/apprenticeship/min_contract_months.yaml"
MAX_YEAR = "parameters/apprenticeship/max_year.yaml"
SKILLED_RATIO = "parameters/apprenticeship/min_skilled_ratio.yaml"
TRANSFER_RATE = "parameters/apprenticeship/transfer_rate.yaml"
MIN_YEARS = "parameters/title_bridging/min_years.yaml"
DEDUCTION_RATE = "parameters/staff_education/deduction_rate.yaml"

# What a rule may say after a name it uses has failed on its own: never "unknown" with a wrong guess.
FOLLOW_ON = r"cannot be used until the problems in its (file|definition) are fixed"


# --- helpers -------------------------------------------------------------------------------------

# The founding part of rules/ these tests break: three programmes with the parameters and shared
# definitions they read, every source text, ruleset.yaml. Other files are left out of the copy, so a
# colleague's new (or half-written) programme neither slows these tests nor shifts the problems they
# expect; the whole real tree, as it is, is what the tests of the real tree below load.
CORE = {
    "programmes": {Path(APPRENTICE).name, Path(BRIDGING).name, Path(DEDUCTION).name},
    "parameters": {"apprenticeship", "staff_education", "title_bridging"},
    "definitions": {Path(SHARED).name},
}


def _outside_core(folder: str, names: list[str]) -> list[str]:
    keep = CORE.get(Path(folder).name) if Path(folder).parent == Path(RULES) else None
    return [] if keep is None else [name for name in names if name not in keep]


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "rules"
    shutil.copytree(RULES, root, ignore=_outside_core)
    return root


@pytest.fixture
def rules(tmp_path: Path, pristine: Path) -> Path:
    """A copy of the real rules/ tree (its CORE part).

    Files are hard links to one pristine copy, for speed; `write` unlinks a file before writing it,
    so a test's edit never reaches the pristine copy, let alone rules/."""
    root = tmp_path / "rules"
    shutil.copytree(pristine, root, copy_function=os.link)
    return root


def write(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)  # break the hard link first
    path.write_text(text, encoding="utf-8")


def edit(root: Path, rel: str, old: str, new: str) -> int:
    """Replace the one `old` in rules/<rel> by `new`; return the line on which `old` started."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{rel}: expected exactly one {old!r} in the real rule file"
    start = text.index(old)
    write(path, text.replace(old, new))
    return text.count("\n", 0, start) + 1


def append(root: Path, rel: str, text: str) -> None:
    path = root / rel
    write(path, path.read_text(encoding="utf-8") + text)


def line_of(root: Path, rel: str, snippet: str) -> int:
    """The line of rules/<rel> holding `snippet` (which must occur on exactly one line)."""
    lines = (root / rel).read_text(encoding="utf-8").splitlines()
    found = [number for number, line in enumerate(lines, start=1) if snippet in line]
    assert len(found) == 1, f"{rel}: {snippet!r} on lines {found}"
    return found[0]


def refusal(root: Path) -> list[Problem]:
    with pytest.raises(RuleError) as caught:
        load_rules(root)
    assert caught.value.problems, "a RuleError must carry its problems"
    return caught.value.problems


def refused(root: Path, rel: str, line: int, pattern: str, follow_ons: int | None = 0) -> Problem:
    """Loading fails with one problem in rules/<rel> at `line` matching `pattern`, and nothing else
    but `follow_ons` (None: some) truthful notes where other rules use the broken name."""
    problems = refusal(root)
    shown = "\n".join(map(str, problems))
    assert len(problems) == 1 + follow_ons if follow_ons is not None else len(problems) > 1, shown
    problem = problems[0]
    assert problem.file == f"rules/{rel}", shown
    assert problem.line == line, shown
    assert re.search(pattern, problem.message), shown
    assert "\n" not in problem.message, "a problem is one line of file:line: message"
    assert str(problem) == f"rules/{rel}:{line}: {problem.message}"
    for other in problems[1:]:
        assert re.search(FOLLOW_ON, other.message), shown
        assert not re.search(r"unknown (name|parameter)|did you mean", other.message), shown
    return problem


# --- the real tree -------------------------------------------------------------------------------

def test_real_rules_load_with_every_programme_parameter_and_definition():
    ruleset = load_rules(RULES)
    assert {"apprenticeship-training-subsidy", "skill-to-title-bridging",
            "staff-education-pretax-deduction"} <= set(ruleset.programmes)
    assert len(ruleset.programmes) == len(list((RULES / "programmes").glob("*.yaml")))
    assert len(ruleset.parameters) == len(list((RULES / "parameters").rglob("*.yaml")))
    assert {"highly_skilled", "years_since_certificate"} <= set(ruleset.definitions["person"])
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", ruleset.digest)


def test_digest_is_stable_and_does_not_depend_on_where_the_tree_lies(tmp_path):
    shutil.copytree(RULES, tmp_path / "rules")
    assert load_rules(RULES).digest == load_rules(RULES).digest == load_rules(tmp_path / "rules").digest


def test_changing_one_byte_of_a_rule_file_changes_the_digest(rules):
    before = load_rules(rules).digest
    edit(rules, APPRENTICE, "# the Shanghai notice", "# The Shanghai notice")  # a comment: still loads
    assert load_rules(rules).digest != before


# --- YAML itself ---------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, pattern", [
    ("beneficiary: employer", "beneficiary: employer: paid", r"not valid YAML: mapping values are not allowed"),
    ("force: entitlement", "\tforce: entitlement", r"not valid YAML: .*tab"),
    ("force: entitlement", "force: entitlement\0", r"not valid YAML: character #x0000"),
])
def test_malformed_yaml_is_refused_at_the_line_of_the_error(rules, old, new, pattern):
    line = edit(rules, APPRENTICE, old, new)
    refused(rules, APPRENTICE, line, pattern)


def test_an_unclosed_bracket_names_the_line_where_it_was_opened(rules):
    line = edit(rules, APPRENTICE, "force: entitlement", "force: [entitlement")
    # The parser only notices on the next line; the message points back to the opening one.
    refused(rules, APPRENTICE, line + 1, rf"not valid YAML: did not find expected ',' or '\]' "
                                         rf"\(while parsing a flow sequence that starts on line {line}\)")


@pytest.mark.parametrize("rel, old, new, key, offset, follow_ons", [
    (APPRENTICE, "force: entitlement\n", "force: entitlement\nforce: may_apply\n", "force", 1, 0),
    (APPRENTICE, "      when: employer_has_training_system\n",
     "      when: employer_has_training_system\n      when: frontline\n", "when", 1, 0),
    (MAX_YEAR, "{new_hire: 3, transfer: 2}", "{new_hire: 3, transfer: 2, new_hire: 4}", "new_hire", 0, 1),
])
def test_a_duplicate_key_is_refused_naming_both_lines(rules, rel, old, new, key, offset, follow_ons):
    first = edit(rules, rel, old, new)
    refused(rules, rel, first + offset, rf"^duplicate key '{key}' \(first on line {first}\)$", follow_ons)


# --- keys: unknown, missing ----------------------------------------------------------------------

@pytest.mark.parametrize("rel, anchor, added, key, where", [
    (APPRENTICE, "beneficiary: employer\n", "benefishiary: employer\n", "benefishiary", ""),  # programme
    (APPRENTICE, "    - id: training-system\n", "      wen: frontline\n", "wen", "condition 'training-system': "),
    (BRIDGING, "    - id: level-and-years\n", "      mode: any\n", "mode", "group 'level-and-years': "),
    # a condition (it has when:) with a stray all: is still named a condition
    (APPRENTICE, "    - id: training-system\n", "      all: []\n", "all", "condition 'training-system': "),
    (BRIDGING, "  may_apply_engineer:\n", "    kind: bool\n", "kind", ""),  # local definition
    (APPRENTICE, "    clause: 三（二）\n", "    clasue: 三（二）\n", "clasue", ""),  # citation
])
def test_an_unknown_key_is_refused_at_its_line(rules, rel, anchor, added, key, where):
    # a condition or group is named by its id, as a reviewer finds it in the file
    line = edit(rules, rel, anchor, anchor + added) + 1
    refused(rules, rel, line, rf"^{where}unknown key '{key}'$")


def test_an_unknown_key_in_a_definitions_file_is_refused_and_its_users_say_why_they_fail(rules):
    line = edit(rules, SHARED, "  highly_skilled:\n", "  highly_skilled:\n    kind: bool\n") + 1
    # Whatever uses years_since_certificate, directly or not, is told it is broken, not that it is unknown.
    refused(rules, SHARED, line, r"^unknown key 'kind'$", follow_ons=None)


def test_an_unknown_key_in_a_parameter_file_is_refused_and_its_users_say_why_they_fail(rules):
    line = edit(rules, CONTRACT, "unit: month\n", "unit: month\nunits: months\n") + 1
    refused(rules, CONTRACT, line, r"^unknown key 'units'$", follow_ons=1)
    follow_on = refusal(rules)[1]
    assert follow_on.file == f"rules/{APPRENTICE}"
    assert follow_on.line == line_of(rules, APPRENTICE, "param(apprenticeship.min_contract_months)")
    assert "parameter 'apprenticeship.min_contract_months' cannot be used" in follow_on.message


def test_a_condition_without_says_is_refused_at_the_condition(rules):
    condition = line_of(rules, APPRENTICE, "- id: training-system")
    edit(rules, APPRENTICE, '      says: {zh: "企业建立了职工培训制度", en: "the employer has a staff-training system"}\n',
         "")
    refused(rules, APPRENTICE, condition, r"^condition 'training-system': missing required key 'says'$")


def test_says_without_en_is_refused_at_the_says_line(rules):
    line = edit(rules, APPRENTICE, 'says: {zh: "企业建立了职工培训制度", en: "the employer has a staff-training system"}',
                'says: {zh: "企业建立了职工培训制度"}')
    refused(rules, APPRENTICE, line, r"^condition 'training-system': missing required key 'says\.en'$")


def test_a_condition_without_when_is_named_as_a_condition_missing_when(rules):
    condition = line_of(rules, APPRENTICE, "- id: training-system")
    edit(rules, APPRENTICE, "      when: employer_has_training_system\n", "")
    refused(rules, APPRENTICE, condition, r"^condition 'training-system': missing required key 'when'$")


def test_a_list_item_without_an_id_is_named_by_its_path_and_index(rules):
    line = edit(rules, APPRENTICE, 'says: {zh: "转岗学徒考核合格并取得证书，全额补贴", en: "transfer with certificate and evaluation passed: paid in full"}',
                'says: {zh: "转岗学徒考核合格并取得证书，全额补贴"}')
    refused(rules, APPRENTICE, line, r"^missing required key 'amount\.cases\[1\]\.says\.en'$")


def test_a_programme_without_cites_is_refused(rules):
    edit(rules, DEDUCTION, "cites:\n  - {doc: HRSS-2023-345, clause: （二十一）, quote: 落实企业职工教育经费税前扣除政策}\n"
         "  - {doc: SH-WORKFORCE-REFORM, clause: （十八）, quote: 允许企业培训费用列入成本并按规定在税前扣除}\n", "")
    refused(rules, DEDUCTION, 1, r"missing required key 'cites'")


# --- wrong types ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rel, old, new, pattern", [
    (APPRENTICE, "force: entitlement", "force: maybe",
     r"^force: Input should be 'entitlement', 'may_apply', 'encouraged' or 'obligation' \(got 'maybe'\)$"),
    (APPRENTICE, "record_type: person", "record_type: persn",
     r"^record_type: .*'person' or 'enterprise' \(got 'persn'\)"),
    (APPRENTICE, "effective: {from: 2019-01-01}", "effective: {from: not-a-date}",
     r"^effective\.from: Input should be a valid date.*\(got 'not-a-date'\)$"),
    (APPRENTICE, "effective: {from: 2019-01-01}", "effective: {from: 2019-02-30}",
     r"^bad value: day is out of range for month$"),
    (APPRENTICE, "effective: {from: 2019-01-01}", "effective: {from: 2019-01-01, to: 2018-12-31}",
     r"^effective: `to: 2018-12-31` \(the last day in force\) is before `from: 2019-01-01`$"),
    (CONTRACT, "value: 12", "value: twelve", r"^expected a number, got 'twelve'$"),
    (CONTRACT, "value: 12", "value: 1.5", r"^expected a whole number, got 1\.5$"),
    (SKILLED_RATIO, "value: 0.6", "value: yes", r"^expected a number, got True$"),
    # figures a decision would use as they stand: a negative payment, 60 meant as 60%
    (SKILLED_RATIO, "value: 0.6", "value: 60", r"^a rate is a share from 0 to 1 \(60% is 0\.6, or '60%'\), got 60$"),
    (SKILLED_RATIO, "value: 0.6", "value: -0.6", r"^a rate cannot be negative, got -0\.6$"),
    (SKILLED_RATIO, "value: 0.6", "value: .nan", r"^expected a finite number, got nan$"),
    (CONTRACT, "value: 12", "value: -12", r"^a count cannot be negative, got -12$"),
    (TRANSFER_RATE, "value: 4000", "value: -4000", r"^an amount of money cannot be negative, got -4000$"),
    (MAX_YEAR, "transfer: 2}", "transfer: 1.5}", r"^expected a whole number, got 1\.5$"),
    (MAX_YEAR, "transfer: 2}", "transferred: 2}", r"^table key 'transferred': expected one of new_hire .*transfer"),
    (MAX_YEAR, "value: {new_hire: 3, transfer: 2}", "value: 3", r"^expected a table by ApprenticeKind"),
])
def test_a_value_of_the_wrong_type_is_refused_at_its_line(rules, rel, old, new, pattern):
    line = edit(rules, rel, old, new)
    refused(rules, rel, line, pattern)


def test_a_rate_may_be_written_as_a_percentage(rules):
    edit(rules, SKILLED_RATIO, "value: 0.6", "value: 60%")
    values = load_rules(rules).parameters["apprenticeship.min_skilled_ratio"].values
    assert values[-1].value == Decimal("0.6")


# --- expressions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, pattern", [
    ("__import__('os')", r"unknown function '__import__'"),
    ("a.b()", r"unknown function 'a\.b'"),
    ("x = 1", r"unexpected character '=' at column 3"),
    ("lambda: 1", r"unexpected character ':'"),
    ("apprentice_kind[0]", r"expected an operator or the end of the expression, found '\['"),
    ("frontline if frontline else frontline", r"expected an operator or the end of the expression, found 'if'"),
    ("open('x').read()", r"unexpected character '\.'"),
])
def test_an_expression_outside_the_grammar_is_refused_at_its_when_line(rules, text, pattern):
    line = edit(rules, APPRENTICE, "when: employer_has_training_system", f'when: "{text}"')
    refused(rules, APPRENTICE, line, rf"^condition 'training-system': {pattern}.* in `{re.escape(text)}`$")


def test_rule_text_never_executes_code(rules, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = edit(rules, APPRENTICE, "when: employer_has_training_system",
                "when: \"__import__('os').system('touch PWNED')\"")
    refused(rules, APPRENTICE, line, r"^condition 'training-system': ")
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("tagged, pattern", [
    ("!!python/object/apply:os.system ['touch PWNED']", r"^force: Input should be"),  # read as a plain list
    ("!!python/name:os.system", r"^bad value: could not determine a constructor for the tag"),
])
def test_yaml_tags_never_execute_code(rules, tmp_path, monkeypatch, tagged, pattern):
    monkeypatch.chdir(tmp_path)
    line = edit(rules, APPRENTICE, "force: entitlement", f"force: {tagged}")
    refused(rules, APPRENTICE, line, pattern)
    assert not (tmp_path / "PWNED").exists()


def test_an_unknown_fact_is_refused_with_a_suggestion(rules):
    line = edit(rules, APPRENTICE, "when: employer_has_training_system", "when: employer_has_trainng_system")
    refused(rules, APPRENTICE, line, r"^condition 'training-system': unknown name 'employer_has_trainng_system' "
                                     r"\(not a fact of this record type or a definition\); "
                                     r"did you mean 'employer_has_training_system'\?")


def test_an_unknown_enumeration_value_is_refused_listing_the_values(rules):
    line = edit(rules, BRIDGING, "value: skill_level >= technician and", "value: skill_level >= expert and")
    # The definition is refused; the two rules that use it say so rather than calling it unknown.
    refused(rules, BRIDGING, line, r"^definition 'may_apply_engineer': 'expert' is not a fact, a definition or a "
                                   r"value of SkillLevel \(none, junior, intermediate, senior, technician, "
                                   r"senior_technician", follow_ons=2)


def test_an_unknown_enumeration_value_in_a_list_is_refused(rules):
    line = edit(rules, APPRENTICE, "[new_hire, transfer]", "[new_hire, tranfer]")
    refused(rules, APPRENTICE, line, r"^condition 'apprentice-kind': 'tranfer' is not .* value of ApprenticeKind "
                                     r"\(new_hire, transfer, none\)")


def test_an_unknown_parameter_is_refused_with_a_suggestion(rules):
    line = edit(rules, APPRENTICE, "param(apprenticeship.min_contract_months)",
                "param(apprenticeship.min_contract_month)")
    refused(rules, APPRENTICE, line, r"^condition 'contract-length': unknown parameter "
                                     r"'apprenticeship\.min_contract_month'; "
                                     r"did you mean 'apprenticeship\.min_contract_months'\?")


def test_a_keyed_parameter_without_its_key_is_refused_with_a_fitting_example(rules):
    line = edit(rules, APPRENTICE, "param(apprenticeship.max_year, apprentice_kind)", "param(apprenticeship.max_year)")
    refused(rules, APPRENTICE, line, r"^condition 'subsidised-year': parameter 'apprenticeship\.max_year' is a table "
                                     r"by ApprenticeKind: give the key, as in "
                                     r"param\(apprenticeship\.max_year, apprentice_kind\)")


def test_a_single_parameter_given_a_key_is_refused(rules):
    line = edit(rules, APPRENTICE, "param(apprenticeship.min_contract_months)",
                "param(apprenticeship.min_contract_months, new_hire)")
    refused(rules, APPRENTICE, line, r"parameter 'apprenticeship\.min_contract_months' is a single value; "
                                     r"it takes no key")


@pytest.mark.parametrize("text, pattern", [
    ("contract_months >= skill_level", r"cannot compare whole number with one of SkillLevel"),
    ("skill_cert_date > 3", r"cannot compare date with whole number"),
    ("contract_months + 1", r"the expression must be bool, not whole number"),
    ("frontline and contract_months", r"the right side of 'and' must be bool, not whole number"),
])
def test_an_ill_typed_expression_is_refused(rules, text, pattern):
    line = edit(rules, APPRENTICE, "when: employer_has_training_system", f"when: {text}")
    refused(rules, APPRENTICE, line, rf"^condition 'training-system': {pattern}")


def test_an_ill_typed_amount_is_refused_at_its_value_line(rules):
    line = edit(rules, DEDUCTION, "value: min(staff_education_spend, deduction_limit)",
                "value: staff_education_spend > deduction_limit")
    refused(rules, DEDUCTION, line, r"^amount value: the expression must be number, not bool")


# --- citations -----------------------------------------------------------------------------------

def test_a_citation_of_an_unknown_document_is_refused(rules):
    line = edit(rules, APPRENTICE, "  - doc: HRSS-2023-345\n", "  - doc: HRSS-2023-999\n")
    refused(rules, APPRENTICE, line, r"^citation of unknown document 'HRSS-2023-999' "
                                     r"\(known: SH-SKILLS-PLAN-2018, .*HRSS-2023-345")


@pytest.mark.parametrize("rel, old, new", [
    (APPRENTICE, "    clause: 三（二）\n", "    clause: 三（十）\n"),
    (CONTRACT, "clause: 三（二）", "clause: 三（十）"),
    (SHARED, "clause: 三（三）", "clause: 三（十）"),
])
def test_a_citation_of_a_clause_not_in_the_text_is_refused(rules, rel, old, new):
    line = edit(rules, rel, old, new)
    cited = line_of(rules, rel, "- doc: SH-SKILLS-PLAN-2018") if rel == APPRENTICE else line
    refused(rules, rel, cited, r"^SH-SKILLS-PLAN-2018 has no clause '三（十）'")


def test_a_quote_not_in_the_cited_clause_is_refused(rules):
    # The words are in SH-SKILLS-PLAN-2018 三（二）, but this citation names HRSS-2023-345 （四）.
    edit(rules, APPRENTICE, "    quote: 优化企业新型学徒制培训经费补贴政策", "    quote: 对带教师傅给予带教津贴")
    refused(rules, APPRENTICE, line_of(rules, APPRENTICE, "- doc: HRSS-2023-345"),
            r"^quote not found in HRSS-2023-345 clause （四）: '对带教师傅给予带教津贴'")


def test_the_same_quote_in_the_clause_that_holds_it_is_accepted(rules):
    edit(rules, APPRENTICE, '    quote: "加大对企业新型学徒制的培训补贴力度,对企业实施培训费补贴"', "    quote: 对带教师傅给予带教津贴")
    load_rules(rules)


def test_a_citation_with_neither_clause_nor_quote_is_refused(rules):
    line = edit(rules, DEDUCTION, "{doc: HRSS-2023-345, clause: （二十一）, quote: 落实企业职工教育经费税前扣除政策}",
                "{doc: HRSS-2023-345}")
    refused(rules, DEDUCTION, line, r"^cites\[0\]: a citation needs a clause, a quote, or both")


# --- dates ---------------------------------------------------------------------------------------

def test_a_programme_reading_a_parameter_before_its_first_value_is_refused(rules):
    edit(rules, CONTRACT, "  2019-01-01:", "  2019-03-01:")
    refused(rules, APPRENTICE, line_of(rules, APPRENTICE, "effective:"),
            r"^programme is in force from 2019-01-01 but reads parameter 'apprenticeship\.min_contract_months', "
            rf"whose first dated value starts 2019-03-01 \(rules/{CONTRACT}\)")


def test_a_programme_in_force_before_the_parameters_it_reads_is_refused_once_per_parameter(rules):
    line = edit(rules, DEDUCTION, "effective: {from: 2008-01-01}", "effective: {from: 2007-01-01}")
    problems = refusal(rules)
    assert [(p.file, p.line) for p in problems] == [(f"rules/{DEDUCTION}", line)] * 2, problems
    assert {re.search(r"reads parameter '([a-z_.]+)', whose first dated value starts 2008-01-01", p.message)[1]
            for p in problems} == {"staff_education.deduction_rate", "staff_education.high_tech_deduction_rate"}


def test_a_parameter_read_through_a_definition_counts_too(rules):
    edit(rules, MIN_YEARS, "  2018-01-01:", "  2018-07-01:")
    refused(rules, BRIDGING, line_of(rules, BRIDGING, "effective:"),
            r"^programme is in force from 2018-01-01 but reads parameter 'title_bridging\.min_years', "
            r"whose first dated value starts 2018-07-01")


# --- definitions ---------------------------------------------------------------------------------

def test_circular_shared_definitions_are_refused_naming_the_cycle(rules):
    append(rules, SHARED, "  loop_a:\n    value: loop_b\n    says: {zh: 甲, en: a}\n"
                          "  loop_b:\n    value: not loop_a\n    says: {zh: 乙, en: b}\n")
    refused(rules, SHARED, line_of(rules, SHARED, "loop_a:"), r"^circular definitions: loop_a → loop_b → loop_a$")


def test_a_definition_that_reads_itself_is_refused_and_its_users_say_why(rules):
    line = edit(rules, DEDUCTION, "  deduction_limit:\n    value: deduction_rate * payroll_total",
                "  deduction_limit:\n    value: deduction_limit * payroll_total")
    refused(rules, DEDUCTION, line, r"^circular definitions: deduction_limit → deduction_limit$", follow_ons=2)


def test_a_definition_may_not_reuse_a_fact_name(rules):
    append(rules, SHARED, "  skill_level:\n    value: 1\n    says: {zh: 甲, en: a}\n")
    refused(rules, SHARED, line_of(rules, SHARED, "  skill_level:"),
            r"^definition 'skill_level' is already a fact or a definition$")


# --- parameters ----------------------------------------------------------------------------------

def test_provenance_unset_with_a_value_is_refused_at_that_dated_entry(rules):
    # transfer_rate has two dated values; the second (2021-07-01) is the one broken.
    edit(rules, TRANSFER_RATE, "    value: null\n    provenance: unset", "    value: 5000\n    provenance: unset")
    refused(rules, TRANSFER_RATE, line_of(rules, TRANSFER_RATE, "2021-07-01:"),
            r"^values\.2021-07-01: provenance `unset` goes with `value: null`, and only with it$", follow_ons=2)


def test_a_null_value_with_real_provenance_is_refused(rules):
    edit(rules, CONTRACT, "value: 12", "value: null")
    refused(rules, CONTRACT, line_of(rules, CONTRACT, "2019-01-01:"),
            r"^values\.2019-01-01: provenance `unset` goes with `value: null`", follow_ons=1)


def test_a_parameter_named_unlike_its_path_is_refused(rules):
    write(rules / CONTRACT, "parameter: apprenticeship.min_contract_month\n" + (rules / CONTRACT).read_text("utf-8"))
    refused(rules, CONTRACT, 1, r"^parameter is named 'apprenticeship\.min_contract_month' but its path makes it "
                                r"'apprenticeship\.min_contract_months'")


def test_a_parameter_named_as_its_path_is_accepted(rules):
    write(rules / CONTRACT, "parameter: apprenticeship.min_contract_months\n" + (rules / CONTRACT).read_text("utf-8"))
    assert "apprenticeship.min_contract_months" in load_rules(rules).parameters


# --- sentences -----------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new", [
    ('en: "the employer has a staff-training system"', 'en: "the employer has a staff-training system {nope}"'),
    ('{zh: "企业建立了职工培训制度",', '{zh: "企业建立了职工培训制度{nope}",'),
])
def test_a_placeholder_that_names_nothing_is_refused(rules, old, new):
    line = edit(rules, APPRENTICE, old, new)
    refused(rules, APPRENTICE, line, r"^placeholder \{nope\} names no fact, definition or parameter$")


def test_a_placeholder_wrong_in_both_languages_is_reported_once(rules):
    line = edit(rules, APPRENTICE, 'says: {zh: "企业建立了职工培训制度", en: "the employer has a staff-training system"}',
                'says: {zh: "企业建立了职工培训制度{nope}", en: "the employer has a staff-training system {nope}"}')
    refused(rules, APPRENTICE, line, r"^placeholder \{nope\} names no fact")


# --- programmes as files -------------------------------------------------------------------------

def test_a_programme_file_named_unlike_its_id_is_refused(rules):
    (rules / APPRENTICE).rename(rules / "programmes" / "apprenticeship.yaml")
    refused(rules, "programmes/apprenticeship.yaml", 1,
            r"^file name should be apprenticeship-training-subsidy\.yaml, the programme id$")


def test_a_programme_id_defined_twice_is_refused(rules):
    shutil.copy(rules / APPRENTICE, rules / "programmes" / "zz-copy.yaml")
    refused(rules, "programmes/zz-copy.yaml", 1,
            rf"^programme 'apprenticeship-training-subsidy' is also defined in rules/{APPRENTICE}$")


# --- all problems at once ------------------------------------------------------------------------

def test_problems_in_several_files_are_all_reported_in_one_error(rules):
    expected = {
        f"rules/{APPRENTICE}": (edit(rules, APPRENTICE, "force: entitlement", "force: maybe"), r"force:"),
        f"rules/{BRIDGING}": (edit(rules, BRIDGING, "when: frontline", "when: frontlin"), r"unknown name 'frontlin'"),
        f"rules/{SHARED}": (edit(rules, SHARED, "{zh: \"高技能人才（", "{zh: \"{nope}高技能人才（"), r"placeholder \{nope\}"),
        f"rules/{DEDUCTION_RATE}": (edit(rules, DEDUCTION_RATE, "value: 0.08", "value: eight"), r"expected a number"),
    }
    problems = refusal(rules)
    assert len(problems) == len(expected), "\n".join(map(str, problems))
    for problem in problems:
        line, pattern = expected[problem.file]
        assert problem.line == line and re.search(pattern, problem.message), str(problem)
    assert {p.file for p in problems} == set(expected)


# --- the command line ----------------------------------------------------------------------------

def test_lint_prints_file_line_message_and_exits_1_for_a_broken_tree(rules):
    force = edit(rules, APPRENTICE, "force: entitlement", "force: maybe")
    value = edit(rules, CONTRACT, "value: 12", "value: 1.5")
    result = CliRunner().invoke(main, ["rules", "lint", str(rules)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines == [f"rules/{CONTRACT}:{value}: expected a whole number, got 1.5",  # parameters load first
                     f"rules/{APPRENTICE}:{force}: force: Input should be 'entitlement', 'may_apply', "
                     f"'encouraged' or 'obligation' (got 'maybe')"]
    assert "2 problem(s)" in result.stderr
    assert "Traceback" not in result.output


def test_lint_exits_0_with_an_ok_line_for_the_real_tree():
    ruleset = load_rules(RULES)
    result = CliRunner().invoke(main, ["rules", "lint", str(RULES)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        f"ok: {len(ruleset.programmes)} programmes, {len(ruleset.parameters)} parameters, "
        f"{sum(map(len, ruleset.definitions.values()))} definitions ({ruleset.digest[:19]})")


def test_every_parameter_source_is_readable_in_chinese():
    # a source is what a Chinese caseworker reads beside an unset figure ("不作推定：…"); two were English only
    import re

    for parameter in load_rules().parameters.values():
        for value in parameter.values:
            words = re.sub(r"\S*〔\d+〕\d+号", "", value.source)  # a document number alone says nothing
            assert len(re.findall(r"[\u4e00-\u9fff]", words)) >= 4 or re.fullmatch(r"[\S]*〔\d+〕\d+号", value.source), \
                (parameter.name, value.valid_from, value.source)

