"""Synthetic applicants (engine.synth): reproducible, lazy, valid unless told otherwise, and mixed
enough that every programme sees more than one outcome."""
from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from itertools import islice

import pytest

from engine.decide import decide
from engine.loader import load_rules
from engine.records import FIELD_LABELS_ZH, RecordError, parse_record
from engine.synth import ERROR_HEADER, synthesise, write_synthetic
from engine.tabular import Table

AS_OF = dt.date(2024, 6, 1)
OUTCOMES = ("eligible", "ineligible", "undetermined")


def records(header, rows):
    for row in rows:
        yield dict(zip(header, row))


@pytest.fixture(scope="module")
def ruleset():
    return load_rules()


def test_same_seed_same_rows_other_seed_other_rows():
    first = list(synthesise(200, seed=7, bad_share=0.1, chinese=True)[1])
    again = list(synthesise(200, seed=7, bad_share=0.1, chinese=True)[1])
    other = list(synthesise(200, seed=8, bad_share=0.1, chinese=True)[1])
    assert first == again
    assert first != other


def test_rows_are_lazy():
    started = time.perf_counter()
    header, rows = synthesise(10**9, seed=1)
    first = next(rows)
    assert time.perf_counter() - started < 1.0
    assert len(first) == len(header) and first[0] == "P-0000001"
    assert next(rows)[0] == "P-0000002"


def test_header_and_ids():
    header, rows = synthesise(3, record_type="enterprise")
    assert header[:2] == ["applicant_id", "record_type"]
    assert [row[0] for row in rows] == ["E-0000001", "E-0000002", "E-0000003"]
    header_zh, _ = synthesise(1, chinese=True)
    assert header_zh[0] == "申请编号" and set(header_zh) <= set(FIELD_LABELS_ZH.values())


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        synthesise(1, record_type="robot")
    with pytest.raises(ValueError):
        synthesise(1, bad_share=1.5)


@pytest.mark.parametrize("record_type", ["person", "enterprise"])
@pytest.mark.parametrize("chinese", [False, True], ids=["en", "zh"])
def test_every_row_is_valid_without_bad_share(record_type, chinese):
    header, rows = synthesise(2000, seed=3, record_type=record_type, chinese=chinese)
    for record in records(header, rows):
        parsed = parse_record(record, default_as_of=dt.date(2030, 1, 1))  # as_of is always given
        assert parsed.record_type == record_type


def test_unknown_share_leaves_cells_blank():
    header, rows = synthesise(500, seed=4, unknown_share=0.0)
    full = sum(cell is not None for row in rows for cell in row)
    header, rows = synthesise(500, seed=4, unknown_share=0.3)
    sparse = sum(cell is not None for row in rows for cell in row)
    assert 0.6 * full < sparse < 0.8 * full


@pytest.mark.parametrize("record_type", ["person", "enterprise"])
@pytest.mark.parametrize("chinese", [False, True], ids=["en", "zh"])
def test_bad_rows_fail_on_exactly_one_field(record_type, chinese):
    header, rows = synthesise(2000, seed=5, record_type=record_type, chinese=chinese, bad_share=0.1)
    failed, fields = 0, Counter()
    for record in records(header, rows):
        try:
            parse_record(record, default_as_of=AS_OF)
        except RecordError as error:
            failed += 1
            assert len(error.problems) == 1, error.lines()
            fields[error.problems[0].field] += 1
    assert 150 <= failed <= 250  # about 10% of 2,000
    assert len(fields) > 5  # the bad values are spread over many columns


def test_every_person_programme_reaches_two_outcomes(ruleset):
    seen: dict[str, Counter] = defaultdict(Counter)
    header, rows = synthesise(3000, seed=11)
    for record in records(header, rows):
        for decision in decide(ruleset, parse_record(record, default_as_of=AS_OF)).decisions:
            seen[decision.programme.id][decision.outcome] += 1
    programmes = {p.id for p in ruleset.programmes_for("person")}
    assert set(seen) == programmes
    few = {p: dict(c) for p, c in seen.items() if len(c) < 2}
    assert not few, few
    all_three = [p for p, c in seen.items() if len(c) == 3]
    assert len(all_three) > len(programmes) / 2, {p: dict(c) for p, c in seen.items()}


def test_every_enterprise_programme_reaches_all_outcomes(ruleset):
    seen: dict[str, Counter] = defaultdict(Counter)
    header, rows = synthesise(1000, seed=12, record_type="enterprise", chinese=True)
    for record in records(header, rows):
        for decision in decide(ruleset, parse_record(record, default_as_of=AS_OF)).decisions:
            seen[decision.programme.id][decision.outcome] += 1
    assert all(set(counts) == set(OUTCOMES) for counts in seen.values()), dict(seen)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_write_synthetic_reads_back(tmp_path, suffix):
    path = tmp_path / f"roster{suffix}"
    assert write_synthetic(path, 200, seed=2, chinese=True, bad_share=0.05) == 200
    table = Table(path)
    header, expected = synthesise(200, seed=2, chinese=True, bad_share=0.05)
    assert table.header == header
    read = list(table.rows())
    assert len(read) == 200
    assert [cells[0] for _, cells in read] == [row[0] for row in expected]
    failures = 0
    for _, cells in read:
        try:
            parse_record(dict(zip(table.header, cells)), default_as_of=AS_OF)
        except RecordError as error:
            failures += 1
            assert len(error.problems) == 1
    assert 0 < failures < 40
    errors = tmp_path / f"roster.errors{suffix}"
    if suffix == ".csv":
        assert Table(errors).header == ERROR_HEADER and list(Table(errors).rows()) == []


def test_write_synthetic_leaves_nothing_when_interrupted(tmp_path, monkeypatch):
    import engine.synth as synth

    def broken(*args, **kwargs):
        header, rows = synthesise(10, seed=1)
        def failing():
            yield from islice(rows, 5)
            raise KeyboardInterrupt
        return header, failing()

    monkeypatch.setattr(synth, "synthesise", broken)
    with pytest.raises(KeyboardInterrupt):
        synth.write_synthetic(tmp_path / "out.csv", 10)
    assert list(tmp_path.iterdir()) == []

