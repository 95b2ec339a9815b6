"""The record contract as users look it up (`fields`): for each record type, every field with the
spreadsheet headers it is read from, what a cell may hold and what a blank cell means; for each
enumeration, every spelling accepted — the code, the Chinese label, the synonyms, the national
number of a skill level.

Read off engine.records and engine.vocabulary, the very tables parse_record reads, so the guide
cannot list a spelling the engine refuses or leave out one it takes (a test parses each one).
"""
from __future__ import annotations

from typing import Callable

from engine import records
from engine import vocabulary as V
from engine.records import RECORD_MODELS, CellKind, FieldSpec
from engine.types import LabelledEnum

_LIST_SEPARATORS = "; ； 、 , ，"
# the spellings the parsers take, from their own tables (yes before no, as a person reads them)
_YES_NO = [word for pair in zip(sorted(records._TRUE, key=lambda w: (len(w) == 1, w)),
                                sorted(records._FALSE, key=lambda w: (len(w) == 1, w)), strict=True) for word in pair]
_NONE_LIST = " / ".join(sorted(records._NONE_WORDS))

# What a cell of each kind may hold, by its parser (zh, en). An enumeration's members are listed
# apart (enumerations()); its line here names the enumeration.
_KINDS: dict[Callable, tuple[str, str]] = {
    records._to_bool: ("是/否：" + "、".join(_YES_NO), "yes or no: " + ", ".join(_YES_NO)),
    records._to_date: ("日期：2024-05-01、2024/5/1、2024.5.1、2024年5月1日，或日期单元格",
                       "date: 2024-05-01, 2024/5/1, 2024.5.1, 2024年5月1日, or a date cell"),
    records._to_amount: ("不小于 0 的数：1200、1,200.50、全角数字", "number, 0 or more: 1200, 1,200.50, full-width digits"),
    records._to_count: ("不小于 0 的整数", "whole number, 0 or more"),
    records._to_ordinal: ("从 1 起的整数（第 1 年为 1）", "whole number from 1 (the first year is 1)"),
    records._to_ratio: ("0 到 1 之间的比例：0.75 或 75%", "share between 0 and 1: 0.75 or 75%"),
    records._to_text: ("文字", "text"),
    records._to_country: ("国家代码（ISO，如 CN）", "country code (ISO, such as CN)"),
}


def kind_text(spec: FieldSpec, lang: str) -> str:
    """What a cell of this field may hold, in words."""
    kind: CellKind = spec.kind
    fact_type = kind.fact_type
    zh = lang == "zh"
    if fact_type.kind == "enum" and fact_type.enum is V.RecordType:
        text = "申请人类型：" if zh else "record type: "
        return text + " / ".join(f"{m.value}（{m.zh}）" for m in V.RecordType)
    if fact_type.kind == "enum":
        left_out = [m.value for m in fact_type.enum if kind.members is not None and m not in kind.members]
        if left_out:
            return (f"其一：{fact_type.enum.__name__}（{'、'.join(left_out)} 除外）" if zh else
                    f"one of {fact_type.enum.__name__} except {', '.join(left_out)}")
        return (f"其一：{fact_type.enum.__name__}" if zh else f"one of {fact_type.enum.__name__}")
    if fact_type.kind == "list":
        return (f"{fact_type.enum.__name__} 的列表，以 {_LIST_SEPARATORS} 分隔；{_NONE_LIST} 表示“均不是”（已知）" if zh else
                f"list of {fact_type.enum.__name__}, separated by {_LIST_SEPARATORS}; {_NONE_LIST} means none of them (known)")
    for parser, (text_zh, text_en) in _KINDS.items():
        if kind.parse is parser:
            return text_zh if zh else text_en
    raise KeyError(f"no description for the cell kind of {spec.label}")  # a new kind: describe it above


def blank_text(name: str, spec: FieldSpec, lang: str) -> str:
    """What a blank cell means for this field."""
    zh = lang == "zh"
    if spec.required:
        return "必填" if zh else "required"
    if name == "as_of":
        return "运行日期（batch/check 的 --as-of，默认今天）" if zh else "the run's date (--as-of of batch or check; default today)"
    if name == "record_type":
        return "person（个人）" if zh else "person"
    if spec.default is not None:
        return str(spec.default)
    return "未知" if zh else "unknown"


def field_rows(kind: str, lang: str) -> list[tuple[str, str, str, str]]:
    """(field, Chinese header, cell, blank) for every field of `kind` records, in contract order."""
    return [(name, spec.label, kind_text(spec, lang), blank_text(name, spec, lang))
            for name, spec in RECORD_MODELS[kind].FIELDS.items()]


def enumerations(kind: str | None = None) -> list[type[LabelledEnum]]:
    """The enumerations the fields of `kind` records (or any record type) take, in contract order."""
    found: list[type[LabelledEnum]] = []
    for model_kind, model in RECORD_MODELS.items():
        if kind is not None and model_kind != kind:
            continue
        for spec in model.FIELDS.values():
            enum = spec.kind.fact_type.enum
            if enum is not None and enum is not V.RecordType and enum not in found:
                found.append(enum)
    return found


def spellings(member: LabelledEnum) -> list[str]:
    """Every spelling a cell may use for `member`: code, Chinese label, synonyms."""
    return list(dict.fromkeys([member.value, member.zh, *member.synonyms]))


def as_text(kind: str, lang: str) -> str:
    zh = lang == "zh"
    rows = field_rows(kind, lang)
    width = max(len(name) for name, *_ in rows)
    label_width = max(_display_width(label) for _, label, *_ in rows)
    title = f"{kind} 记录的字段（表头可用英文字段名或中文表头）" if zh else \
        f"{kind} record fields (a header may be the field name or the Chinese header)"
    lines = [title]
    for name, label, cell, blank in rows:
        pad = " " * (label_width - _display_width(label))
        lines.append(f"  {name:<{width}}  {label}{pad}  {cell}; " + ("留空：" if zh else "blank: ") + blank)
    enums = enumerations(kind)
    if enums:
        lines.append("")
        lines.append("取值（不区分大小写与全角/半角）" if zh else "values (case, width and spaces do not matter)")
    for enum in enums:
        lines.append(f"  {enum.__name__}")
        for member in enum:
            rank = f"  [{'等级' if zh else 'rank'} {member.rank}]" if member.rank is not None else ""
            lines.append(f"    {member.value}: " + ", ".join(spellings(member)[1:]) + rank)
    return "\n".join(lines)


def as_markdown() -> str:
    """The reference page (docs/fields.md), both record types and every enumeration, bilingual."""
    out = ["# Record fields and accepted values", "",
           "Generated by `python cli.py fields --format markdown` from the record contract itself "
           "(engine/records.py, engine/vocabulary.py); a test keeps this page equal to it.", "",
           "A spreadsheet header may be the field name or its Chinese header; a blank cell (empty or "
           "spaces) means the fact is unknown, never zero or no. Labels ignore case, full-width/half-width "
           "and spaces.", ""]
    for kind in RECORD_MODELS:
        out += [f"## {kind}", "", "| field | 表头 | cell | 单元格 | blank |", "|---|---|---|---|---|"]
        for (name, label, cell_en, blank_en), (_, _, cell_zh, _) in zip(field_rows(kind, "en"), field_rows(kind, "zh")):
            out.append(f"| `{name}` | {label} | {_linked(cell_en)} | {_linked(cell_zh)} | {_cell(blank_en)} |")
        out.append("")
    out += ["## Enumerations", ""]
    for enum in enumerations():
        out += [f"### {enum.__name__}", "", " ".join((enum.__doc__ or "").strip().split("\n\n")[0].split()), "",
                "| code | 中文 | also accepted | rank |", "|---|---|---|---|"]
        for member in enum:
            also = ", ".join(spellings(member)[2:])
            out.append(f"| `{member.value}` | {member.zh} | {_cell(also)} | {'' if member.rank is None else member.rank} |")
        out.append("")
    return "\n".join(out)


def _linked(text: str) -> str:
    """A table cell naming an enumeration, with a link to its table below."""
    for enum in enumerations():
        if enum.__name__ in text:
            return _cell(text.replace(enum.__name__, f"[{enum.__name__}](#{enum.__name__.lower()})"))
    return _cell(text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _display_width(text: str) -> int:
    """Columns a terminal gives `text`: two for a wide (CJK) character."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
