"""A programme in plain language, for `explain ID`: what a caseworker reads to answer
"why does this rule exist": the conditions, the figures in force on a day with their history, and
the clause text the rule encodes.
"""
from __future__ import annotations

import re
from datetime import date

from engine.explain import format_value
from engine.parameters import DatedParameter
from engine.render import FORCE_TEXT, beneficiary_text
from engine.ruleset import Group, Programme, Ruleset, ValueRule

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def describe_programme(ruleset: Ruleset, programme: Programme, as_of: date, lang: str) -> str:
    zh = lang == "zh"
    out: list[str] = [f"{programme.title.get(lang)}  [{programme.id}]"]
    if programme.summary:
        out.append(programme.summary.get(lang))
    period = f"{programme.valid_from} – {programme.valid_to or ('至今' if zh else 'open')}"
    out += [
        ("性质：" if zh else "force: ") + f"{programme.force} — {FORCE_TEXT[programme.force].get(lang)}",
        ("适用对象：" if zh else "record: ") + programme.record_type + ("；受益方：" if zh else "; paid to: ")
        + beneficiary_text(programme.beneficiary, lang) + (f"（或按 {programme.beneficiary_from}）" if zh and
        programme.beneficiary_from else f" (or per {programme.beneficiary_from})" if programme.beneficiary_from else ""),
        ("有效期：" if zh else "in force: ") + period
        + ("" if programme.in_force(as_of) else ("（该日不在有效期内）" if zh else " (not in force on that day)")),
        "",
        ("条件（" if zh else "Conditions (") + (f"{as_of} 的参数值）：" if zh else f"figures of {as_of}):"),
    ]
    out += _group_lines(ruleset, programme.eligible_when, as_of, lang, "  ")
    for name, definition in programme.definitions.items():
        out.append(f"  ≔ {name} = {definition.source}  — {_fill(ruleset, definition.says.get(lang), as_of)}")
    if programme.amount is not None:
        out += ["", "金额：" if zh else "Amount:"] + _value_lines(ruleset, programme.amount, as_of, lang)
    for name, rule in programme.effect.items():
        out += ["", (f"效果 {name}：" if zh else f"Effect {name}:")] + _value_lines(ruleset, rule, as_of, lang)
    if programme.interpretations:
        out += ["", "解释说明（本规则的理解，待确认）：" if zh else "Interpretations (our reading, to be confirmed):"]
        out += [f"  ※ {text.get(lang)}" for text in programme.interpretations]
    out += ["", "参数（及历史）：" if zh else "Parameters (with history):"]
    for name in programme.parameters:
        out += _parameter_lines(ruleset.parameters[name], as_of, lang)
    out += ["", "政策依据：" if zh else "Sources:"]
    for citation in programme.cites:
        title = ruleset.sources.title(citation.doc)
        out.append(f"  § {citation.doc} {citation.clause or ''} 《{title}》")
        out.append(f"    「{''.join(citation.quote.split())}」")
        for label in ruleset.sources.split_citation(citation.clause) if citation.clause else []:
            clause = ruleset.sources.clause(citation.doc, label)
            if clause is not None and citation.quote != clause.text.strip():
                out += _wrap(clause.text, "    │ ")
    return "\n".join(out)


def _group_lines(ruleset: Ruleset, group: Group, as_of: date, lang: str, indent: str) -> list[str]:
    lines = []
    if group.mode == "any":
        lines.append(indent + ("任一满足：" if lang == "zh" else "any one of:"))
        indent += "  "
    for item in group.items:
        if isinstance(item, Group):
            if item.says:
                lines.append(f"{indent}• {_fill(ruleset, item.says.get(lang), as_of)}")
            lines += _group_lines(ruleset, item, as_of, lang, indent + "  ")
            continue
        mark = " ※" if item.interpretation else ""
        lines.append(f"{indent}• {_fill(ruleset, item.says.get(lang), as_of, item.tree)}{mark}")
        lines.append(f"{indent}    [{item.id}] {item.source}")
        if item.interpretation:
            lines.append(f"{indent}    ※ {item.interpretation.get(lang)}")
    return lines


def _value_lines(ruleset: Ruleset, rule: ValueRule, as_of: date, lang: str) -> list[str]:
    lines = [f"  {rule.says.get(lang)}"] if rule.says else []
    for case in rule.cases:
        when = f"{'当' if lang == 'zh' else 'when'} {case.when_source}: " if case.when_source else ""
        says = f"  — {_fill(ruleset, case.says.get(lang), as_of)}" if case.says else ""
        lines.append(f"  • {when}{case.value_source}{says}")
    if rule.otherwise is not None:
        lines.append(f"  • {'否则' if lang == 'zh' else 'otherwise'}: {rule.otherwise.value_source}")
    return lines


def _parameter_lines(parameter: DatedParameter, as_of: date, lang: str) -> list[str]:
    current = parameter.in_force(as_of)
    lines = [f"  {parameter.name} — {parameter.description.get(lang)}" + (f" ({parameter.unit})" if parameter.unit else "")]
    for entry in parameter.values:
        here = ("  ← 该日有效" if lang == "zh" else "  ← in force") if entry is current else ""
        lines.append(f"    {entry.valid_from}  {_show(entry.value, lang)}  [{entry.provenance}] {entry.source}{here}")
    return lines


def _show(value, lang: str) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k.value}: {format_value(v, lang)}" for k, v in value.items()) + "}"
    return format_value(value, lang)


def _fill(ruleset: Ruleset, template: str, as_of: date, tree=None) -> str:
    """Show a rule sentence without an applicant: parameters by their value that day, facts by name."""
    from engine.expression import ParamRef, children

    first_param = None

    def find(node):
        nonlocal first_param
        if first_param is None and isinstance(node, ParamRef):
            first_param = node
        for child in children(node):
            find(child)

    if tree is not None:
        find(tree)

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "param" and first_param is not None and first_param.key is None:
            name = first_param.name
        parameter = ruleset.parameters.get(name)
        if parameter is not None and parameter.in_force(as_of) is not None:
            return _show(parameter.in_force(as_of).value, "zh")
        return f"〈{name}〉"

    return _PLACEHOLDER.sub(value, template)


def _wrap(text: str, prefix: str, width: int = 70) -> list[str]:
    flat = "".join(text.split())
    return [prefix + flat[i:i + width] for i in range(0, len(flat), width)]
