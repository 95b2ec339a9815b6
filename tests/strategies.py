"""Hypothesis strategies for applicant records, derived from the record contract itself."""
from datetime import date
from decimal import Decimal

from hypothesis import strategies as st

from engine.records import FACT_TYPES, cell_kind

ALWAYS_KNOWN = {"applicant_id", "as_of", "record_type", "name", "nationality", "district", "employer_id"}
RATIOS = {"employer_skilled_ratio"}
ORDINALS = {"apprentice_year"}
dates = st.dates(min_value=date(2008, 1, 1), max_value=date(2026, 12, 31))


def value_strategy(name: str, kind, members=None):
    """A value of the field `name` of FactType `kind`; an enumeration's from `members` (those a cell
    may name: apprentice_target_level takes no none) where given; a year of an apprenticeship from 1."""
    if kind.kind == "bool":
        return st.booleans()
    if kind.kind == "date":
        return dates.map(date.isoformat)
    if kind.kind == "number":
        if kind.integer:
            return st.integers(min_value=1 if name in ORDINALS else 0, max_value=48)
        if name in RATIOS:
            return st.integers(min_value=0, max_value=100).map(lambda n: str(Decimal(n) / 100))
        # money and hours: round figures and boundary-ish values, exact decimals
        return st.one_of(st.sampled_from(["0", "23", "24", "49999.99", "50000", "100000", "1000000"]),
                         st.decimals(min_value=0, max_value=2_000_000, places=2).map(str))
    if kind.kind == "enum":
        return st.sampled_from([m.value for m in (members or kind.enum)])
    if kind.kind == "list":
        return st.lists(st.sampled_from([m.value for m in kind.enum]), unique=True, max_size=3)
    return st.text(max_size=5)


@st.composite
def records(draw, record_type: str | None = None, known_share: float = 0.7):
    """A record as a caseworker might type it: codes and ISO dates, some facts absent (unknown)."""
    record_type = record_type or draw(st.sampled_from(sorted(FACT_TYPES)))
    record = {"applicant_id": "H-1", "record_type": record_type,
              "as_of": draw(st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31))).isoformat()}
    for name, kind in FACT_TYPES[record_type].items():
        if name in ALWAYS_KNOWN:
            continue
        if draw(st.floats(min_value=0, max_value=1)) < known_share:
            record[name] = draw(value_strategy(name, kind, cell_kind(record_type, name).members))
    return record
