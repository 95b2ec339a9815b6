"""Properties of decisions over generated records, for the whole rule set."""
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decide import decide
from engine.loader import load_rules
from engine.records import FACT_TYPES, cell_kind, parse_record
from engine.render import decision_json, decision_set_json
from tests.strategies import ALWAYS_KNOWN, records, value_strategy

RULESET = load_rules()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcomes(record: dict) -> dict[str, dict]:
    parsed = parse_record(record, default_as_of=date(2020, 1, 1))
    return {d.programme.id: decision_json(d) for d in decide(RULESET, parsed).decisions}


@SETTINGS
@given(data=st.data())
def test_learning_a_fact_never_flips_a_definite_outcome(data):
    record = data.draw(records(known_share=0.6))
    unknown = [n for n in FACT_TYPES[record["record_type"]] if n not in record and n not in ALWAYS_KNOWN]
    if not unknown:
        return
    name = data.draw(st.sampled_from(unknown))
    kind = record["record_type"]
    learnt = {**record, name: data.draw(value_strategy(name, FACT_TYPES[kind][name], cell_kind(kind, name).members))}
    before, after = outcomes(record), outcomes(learnt)
    for programme, decision in before.items():
        if decision["outcome"] != "undetermined":
            assert after[programme]["outcome"] == decision["outcome"], (programme, name, learnt[name])
        if decision["amount"]["status"] == "computed":
            assert after[programme]["amount"] == decision["amount"], (programme, name)


@SETTINGS
@given(records())
def test_every_decision_keeps_the_contract(record):
    parsed = parse_record(record, default_as_of=date(2020, 1, 1))
    data = decision_set_json(decide(RULESET, parsed))
    expected = {p.id for p in RULESET.programmes_for(record["record_type"])}
    assert {d["programme"] for d in data["decisions"]} == expected
    for decision in data["decisions"]:
        assert decision["outcome"] in ("eligible", "ineligible", "undetermined")
        assert decision["force"] in ("entitlement", "may_apply", "encouraged", "obligation")
        value = decision["amount"]["value"]
        if value is not None:
            assert decision["outcome"] == "eligible"
            assert Decimal(value).as_tuple().exponent == -2  # exact, two places
        if decision["outcome"] == "undetermined":
            # something is missing, or a needed figure is unset — never undetermined without a reason
            assert decision["missing"] or any(p["provenance"] == "unset" for p in decision["parameters"])
        else:
            assert decision["missing"] == [] or decision["outcome"] == "eligible"
        if decision["outcome"] == "ineligible":
            assert decision["to_qualify"], decision["programme"]
        assert all(r["holds"] in (True, False, None) for r in decision["reasons"])
        assert decision["citations"] and all(c["quote"] for c in decision["citations"])


@settings(max_examples=60, deadline=None)
@given(records())
def test_one_programme_alone_decides_as_in_the_full_set(record):
    parsed = parse_record(record, default_as_of=date(2020, 1, 1))
    full = {d.programme.id: decision_json(d) for d in decide(RULESET, parsed).decisions}
    for programme in full:
        alone = decide(RULESET, parsed, [programme]).decisions
        assert [decision_json(d) for d in alone] == [full[programme]]
