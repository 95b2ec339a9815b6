"""`fields`: the record contract as users look it up — every field, every accepted spelling — and the
reference page docs/fields.md, which must stay what the command prints."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import records
from engine.cli import main
from engine.fieldguide import as_markdown, enumerations, spellings
from engine.records import RECORD_MODELS, FIELD_LABELS_ZH, field_for_header

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_reference_page_is_what_the_command_prints():
    # regenerate with: python cli.py fields --format markdown > docs/fields.md
    assert (ROOT / "docs" / "fields.md").read_text(encoding="utf-8") == as_markdown() + "\n"


@pytest.mark.parametrize("kind", sorted(RECORD_MODELS))
def test_every_field_is_listed_with_its_chinese_header_and_each_header_reads_back(kind):
    for lang in ("zh", "en"):
        result = run("fields", "--record-type", kind, "--lang", lang)
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        for name, spec in RECORD_MODELS[kind].FIELDS.items():
            assert any(line.split()[:2] == [name, spec.label] for line in lines), name
            assert field_for_header(spec.label) == name == field_for_header(name)


def test_every_listed_spelling_is_read_as_its_member_by_the_record_parser():
    # a synonym shared by two members, or a label the parser does not take, fails here
    fields_of = {}
    for model in RECORD_MODELS.values():
        for name, spec in model.FIELDS.items():
            enum = spec.kind.fact_type.enum
            if enum is not None and spec.kind.fact_type.kind == "enum":
                fields_of.setdefault(enum, (model.FIELDS["record_type"].default, name))
    for enum in enumerations():
        kind, name = fields_of.get(enum, (None, None))
        for member in enum:
            for spelling in spellings(member):
                if name is not None:
                    assert records.cell_validator(kind, name)(f" {spelling.upper()} ") == member, (enum, spelling)
                else:  # a list-only enumeration (groups, awards): read as a list of one
                    list_field = next(n for m in RECORD_MODELS.values() for n, s in m.FIELDS.items()
                                      if s.kind.fact_type.enum is enum)
                    assert records.cell_validator("person", list_field)(spelling) == (member,), (enum, spelling)


def test_the_text_lists_the_national_number_of_a_skill_level_and_the_list_conventions():
    out = run("fields", "--lang", "en").output
    assert "    senior: 高级工, 三级, 高级, 3  [rank 3]" in out
    assert "[] / none / 无 means none of them (known)" in out
    assert "one of SkillLevel except none" in out  # apprentice_target_level
    assert "yes or no: true, false, yes, no, 1, 0, t, f, y, n, 是, 否" in out
    assert "blank: required" in out and "blank: the run's date" in out
    assert "申请编号" in out and FIELD_LABELS_ZH["training_hours"] in out
