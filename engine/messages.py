"""The record contract's problem messages in Chinese, for the offices that read them, and those of
a record file that cannot be read as one (engine.cli.read_record_file).

engine.records words each problem once, in English, and the column-wise batch reproduces those words
exactly. Here a message is matched against the shapes the parsers give it and said again in
Chinese. A message of no known shape comes back as it is; a test feeds every field's parser bad
values, and every problem parse_record reports, and checks that none does.
"""
from __future__ import annotations

import re

_SHAPES = [(re.compile(f"^{pattern}$", re.DOTALL), zh) for pattern, zh in [
    (r"is not valid; expected yes or no \(true/false, 是/否, 1/0\)", "无效：应为是或否（true/false、是/否、1/0）"),
    (r"is not a real calendar date", "不是真实存在的日期"),
    (r"is not valid; expected a date like 2024-05-01 \(also 2024/5/1, 2024\.5\.1, 2024年5月1日\)",
     "无效：应为日期，如 2024-05-01（也可写作 2024/5/1、2024.5.1、2024年5月1日）"),
    (r"is not valid; expected a number, not true/false", "无效：应为数字，而非是/否"),
    (r"is not valid; expected a number like 1200 or 1,200\.50", "无效：应为数字，如 1200 或 1,200.50"),
    (r"is not valid; expected a number", "无效：应为数字"),
    (r"is not valid; expected a finite number", "无效：应为有限的数字"),
    (r"is too large", "数值过大"),
    (r"must not be negative", "不能为负数"),
    (r"must be a whole number", "应为整数"),
    (r"must be 1 or more \(the first year is 1\)", "应不小于 1（第 1 年为 1）"),
    (r"must be between 0 and 1 \(for example 0\.75 or 75%\)", "应在 0 与 1 之间（如 0.75 或 75%）"),
    (r"is not valid; expected text", "无效：应为文字"),
    (r"is not valid; expected an ISO country code such as CN", "无效：应为 ISO 国家代码，如 CN"),
    (r"is not valid; expected one of (.+)", r"无效：应为以下之一：\1"),
    (r"is not valid; items? (.+) (?:is|are) not one of (.+)", r"无效：\1 不在可选值中（\2）"),
    (r"is not valid; it should be '(.+)'", r"无效：应为“\1”"),
    (r"is required", "必须填写"),
    (r"is given twice, with different values", "填写了两次，且取值不同"),
    (r"is given twice \(as '(.*)' and '(.*)'\)", r"填写了两次（“\1”与“\2”）"),
    (r"is in a column with no header", "所在列没有表头"),
    (r"unknown field", "不是已知字段"),
    (r"unknown field: it is a field of person records \(record_type: person\)", "不是本类记录的字段：它属于个人记录（record_type: person）"),
    (r"unknown field: it is a field of enterprise records \(record_type: enterprise\)",
     "不是本类记录的字段：它属于企业记录（record_type: enterprise）"),
    (r"unknown field; did you mean '(.+?)'\?", r"不是已知字段；是否指“\1”？"),
    (r"unknown field; did you mean '(.+?)' \((.+)\)\?", r"不是已知字段；是否指“\1”（\2）？"),
    (r"is a formula error in the spreadsheet: correct the formula, or type the value",
     "是表格中的公式错误：请修正公式，或直接填写数值"),
    (r"is a formula the spreadsheet has not calculated \(the file was written by a program\): open and save it in "
     r"Excel, or type the value", "是表格尚未计算的公式（文件由程序生成）：请在 Excel 中打开并保存，或直接填写数值"),
    (r"must be a mapping of field → value, not (\w+)", r"应为“字段: 值”的映射，而非 \1"),
    (r"the row has cells past the header's (\d+) columns, which no field names \(an unquoted comma, or a column "
     r"without a header\?\): the row is not decided",
     r"该行有超出表头 \1 列的单元格，没有字段与之对应（未加引号的逗号，或没有表头的列？）：该行不作判断"),
    # a record file (the parser's own detail, from PyYAML or json, stays as it gave it)
    (r"cannot read: (.+)", r"无法读取：\1"),
    (r"not valid YAML: (.+)", r"不是有效的 YAML：\1"),
    (r"not valid JSON: (.+)", r"不是有效的 JSON：\1"),
    (r"bad value: (.+)", r"取值无效：\1"),
    (r"a key must be a plain value", "键应为单个值，不能是映射或列表"),
    (r"duplicate key '(.+)' \(first on line (\d+)\)", r"键“\1”重复（首次出现在第 \2 行）：每个字段只填一次"),
    (r"duplicate key '(.+)' in an object: give each field once", r"键“\1”重复：每个字段只填一次"),
    (r"expected one applicant record \(a mapping of field: value\)", "应为一条申请人记录（“字段: 值”的映射）"),
]]


def in_chinese(message: str) -> str:
    """A problem message (the part after "field 'x': value 'v'") in Chinese; as it is if unknown."""
    for pattern, zh in _SHAPES:
        found = pattern.match(message)
        if found:
            return found.expand(zh)
    return message
