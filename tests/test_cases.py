"""Every YAML case in cases/ runs as a pytest test, so one runner serves rule authors and developers."""
import pytest

from engine.cases import case_files, load_cases, run_case
from engine.loader import load_rules

RULESET = load_rules()
CASES = load_cases(case_files(), set(RULESET.programmes))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case):
    result = run_case(RULESET, case)
    assert result.passed, f"{case.file}:{case.line}\n" + "\n".join(result.differences)


def test_every_programme_has_eligible_ineligible_and_undetermined_cases():
    reached: dict[str, set[str]] = {p: set() for p in RULESET.programmes}
    for case in CASES:
        for programme, expected in case.expectations().items():
            if expected.outcome:
                reached[programme].add(expected.outcome)
    short = {p: sorted({"eligible", "ineligible", "undetermined"} - seen) for p, seen in reached.items()
             if len(seen) < 3}
    assert not short, f"programmes lacking an outcome in cases/: {short}"
