"""Decisions as the contract JSON (BRIEF §5) and as text for people."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from engine.decide import ELIGIBLE, Decision, DecisionSet, ValueResult
from engine.explain import format_value, json_value, render, sentence_values
from engine.ruleset import Citation, Text
from engine.types import UNKNOWN, UNSET

FORCE_TEXT = {
    "entitlement": Text("符合条件即予享受的补贴、抵免或扣除", "a subsidy, offset or deduction granted when the conditions hold"),
    "may_apply": Text("可以申请或纳入评选范围，由其他程序最终决定", "may apply, or is within a selection's scope; another process decides"),
    "encouraged": Text("政策予以鼓励，并非法定应得", "the text encourages it; nothing is owed"),  # the employer, or the person
    "obligation": Text("企业应履行的义务，作合规检查", "a duty of the enterprise, checked for compliance"),
}
OUTCOME_TEXT = {
    ("entitlement", "eligible"): Text("符合条件", "eligible"),
    ("may_apply", "eligible"): Text("可以申请", "may apply"),
    ("encouraged", "eligible"): Text("属于鼓励给予的范围", "within what employers are encouraged to give"),
    ("obligation", "eligible"): Text("合规", "compliant"),
    ("obligation", "ineligible"): Text("不合规", "not compliant"),
    ("*", "ineligible"): Text("不符合条件", "ineligible"),
    ("*", "undetermined"): Text("尚无法确定，需补充信息", "undetermined: more facts needed"),
}


# the closing count: "undetermined" alone, since a figure not published leaves some undetermined too
COUNT_TEXT = {"eligible": Text("符合条件", "eligible"), "ineligible": Text("不符合条件", "ineligible"),
              "undetermined": Text("尚无法确定", "undetermined")}
UNDETERMINED_BY_FIGURE = Text("尚无法确定：所需政策数值未公布", "undetermined: a figure it needs is not published")


def outcome_text(decision: Decision) -> Text:
    force = decision.programme.force
    if decision.outcome == "undetermined" and not decision.missing:
        return UNDETERMINED_BY_FIGURE  # nothing to ask the applicant: the policy figure is unset
    return OUTCOME_TEXT.get((force, decision.outcome)) or OUTCOME_TEXT[("*", decision.outcome)]


def amount_status(decision: Decision) -> str:
    """computed | not_set (no published figure) | unknown (a fact is missing) | none (nothing paid)."""
    amount = decision.amount
    if amount is None or amount.value is None:
        return "none"
    if amount.value is UNSET:
        return "not_set"
    if amount.value is UNKNOWN:
        return "unknown"
    return "computed"


# ------------------------------------------------------------------------------------------ JSON


def decision_set_json(decisions: DecisionSet) -> dict[str, Any]:
    ruleset = decisions.ruleset
    return {
        "applicant_id": decisions.applicant_id,
        "as_of": decisions.as_of.isoformat(),
        "record_type": decisions.record_type,
        "ruleset": {"name": ruleset.name, "version": ruleset.version, "digest": ruleset.digest},
        "decisions": [decision_json(d) for d in decisions.decisions],
    }


def to_json(decisions: DecisionSet, indent: int | None = 2) -> str:
    return json.dumps(decision_set_json(decisions), ensure_ascii=False, indent=indent)


def decision_json(decision: Decision) -> dict[str, Any]:
    programme = decision.programme
    amount_value = decision.amount.value if decision.amount else None
    citations = list(programme.cites) + [c for r in decision.results for c in r.condition.cites]
    return {
        "programme": programme.id,
        "title": programme.title.as_dict(),
        "outcome": decision.outcome,
        "outcome_text": outcome_text(decision).as_dict(),
        "force": programme.force,
        "force_text": FORCE_TEXT[programme.force].as_dict(),
        "beneficiary": decision.beneficiary,
        "amount": {
            "value": str(amount_value) if isinstance(amount_value, Decimal) else None,
            "currency": "CNY",
            "status": amount_status(decision),
        },
        "effect": _effect_json(decision.effect),
        "reasons": [_reason_json(r) for r in decision.results] if decision.in_force else [
            {"id": "in-force", "holds": False, "text": decision.notes[0].as_dict(), "facts": {}}],
        "missing": list(decision.missing),
        "to_qualify": [_hint_json(h) for h in decision.to_qualify],
        "parameters": [_parameter_json(u) for u in decision.parameters],
        "citations": [_citation_json(c) for c in dict.fromkeys(citations)],
        "notes": [n.as_dict() for n in decision.notes],
    }


def _effect_json(effect: dict[str, ValueResult] | None) -> dict[str, Any] | None:
    if effect is None:
        return None
    return {name: json_value(result.value) if not isinstance(result.value, Decimal) else str(result.value)
            for name, result in effect.items()}


def _reason_json(result) -> dict[str, Any]:
    condition = result.condition
    values = sentence_values(result.trace)
    reason = {
        "id": condition.id,
        "holds": None if result.holds is UNKNOWN else result.holds,
        "text": {lang: render(condition.says.get(lang), values, lang) for lang in ("zh", "en")},
        "facts": {name: json_value(value) for name, value in result.trace.facts.items()},
        "rule": condition.source,
    }
    if result.trace.derived:
        reason["derived"] = {name: json_value(value) for name, value in result.trace.derived.items()}
    if result.any_of:
        reason["any_of"] = result.any_of
    if condition.interpretation:
        reason["interpretation"] = condition.interpretation.as_dict()
    return reason


def _hint_json(hint) -> dict[str, Any]:
    return {
        "condition": hint.condition,
        "field": hint.field,
        "value": json_value(hint.value),
        "op": hint.op,
        "needed": json_value(hint.needed),
        "text": {lang: hint.describe(lang) for lang in ("zh", "en")},
        **({"any_of": hint.alternative_of, "among": hint.among} if hint.alternative_of else {}),
        **({"way": hint.way[0], "ways": hint.way[1]} if hint.way else {}),
    }


def _parameter_json(use) -> dict[str, Any]:
    return {
        "name": use.name,
        **({"key": use.key.value} if use.key is not None else {}),
        "value": None if use.value is UNSET else (str(use.value) if isinstance(use.value, Decimal) else use.value),
        "valid_from": use.valid_from.isoformat(),
        "provenance": use.provenance,
        "source": use.source,
    }


def _citation_json(citation: Citation) -> dict[str, Any]:
    return {"doc": citation.doc, "clause": citation.clause, "quote": citation.quote}


# ------------------------------------------------------------------------------------------ text
# Text is for people at a counter: a line per programme, then (with explain) why. Colour comes from
# click.style and is dropped by click.echo when the output is not a terminal.

_MARK = {"eligible": ("✓", "green"), "ineligible": ("✗", "red"), "undetermined": ("?", "yellow")}
_HOLDS = {True: ("✓", "green"), False: ("✗", "red")}
_WORDS = {
    "as_of": ("评估日期", "as of"), "conditions": ("条件", "conditions"), "missing": ("尚缺信息", "missing"),
    "to_qualify": ("如何符合条件", "to qualify"), "parameters": ("参数", "parameters"),
    "notes": ("说明", "notes"), "sources": ("政策依据", "sources"), "amount_not_set": ("金额未设定", "amount not set"),
    "amount_pending": ("金额待定", "amount pending"), "beneficiary": ("受益方", "paid to"),
    "duty_of": ("义务主体", "duty of"),
    "public": ("公开实施文件数值，待政策处室确认", "public figure, to be confirmed by policy staff"),
    "unset": ("未公布数值", "no published figure"), "seed": ("政策原文数值", "stated in the source text"),
    "summary": ("结果", "summary"), "amount": ("金额", "amount"),
}


BENEFICIARY_TEXT = {"employer": Text("用人单位", "the employer"), "person": Text("本人", "the person"),
                    "enterprise": Text("企业", "the enterprise"), "provider": Text("培训实施机构", "the training provider"),
                    "mentor": Text("带教师傅", "the mentor"),
                    "employer_or_provider": Text("用人单位或受委托的培训机构（按 paid_to）",
                                                 "the employer or the commissioned provider (per paid_to)")}


def word(key: str, lang: str) -> str:
    zh, en = _WORDS[key]
    return zh if lang == "zh" else en


def field_label(name: str, lang: str) -> str:
    """A field with its code beside its Chinese header, where a caseworker may need to type it."""
    from engine.records import field_name

    return f"{field_name(name, lang)}（{name}）" if lang == "zh" else name


def to_text(decisions: DecisionSet, lang: str = "zh", explain: bool = False) -> str:
    """Plain text (styled when shown on a terminal): a line per programme; with `explain`, the reasons."""
    import click

    lines = [click.style(f"{decisions.applicant_id}", bold=True) + f"  {word('as_of', lang)} {decisions.as_of}"]
    for decision in decisions.decisions:
        lines.append(summary_line(decision, lang))
        if explain:
            lines.extend("    " + line for line in explanation_lines(decision, lang))
            lines.append("")
    counts = {o: sum(d.outcome == o for d in decisions.decisions) for o in COUNT_TEXT}
    lines.append(f"{word('summary', lang)}: " + ", ".join(f"{COUNT_TEXT[o].get(lang)} {n}" for o, n in counts.items()))
    return "\n".join(lines) + "\n"


def money_text(value: Decimal, lang: str) -> str:
    """An amount as people read it: the decimal as computed (to the fen), with its currency."""
    return f"{value} {'元' if lang == 'zh' else 'CNY'}"


def said(result: ValueResult, lang: str) -> str:
    """An amount's or effect's sentence, filled with the values it read."""
    return render(result.says.get(lang), sentence_values(result.trace), lang)


def effect_text(decision: Decision, name: str, result: ValueResult, lang: str) -> str:
    """An effect as people read it: in Chinese its sentence and value (可申报的最高职称层级：工程师),
    in English its name and value; money to the fen, with its currency."""
    value = result.value
    money = decision.programme.effect[name].money and isinstance(value, Decimal)
    shown = money_text(value.quantize(Decimal("0.01")), lang) if money else format_value(value, lang)
    if lang == "zh" and result.says is not None:
        return f"{said(result, lang)}：{shown}"
    return f"{name} = {shown}"


def summary_line(decision: Decision, lang: str) -> str:
    import click

    from engine.records import field_name

    mark, colour = _MARK[decision.outcome]
    programme = decision.programme
    parts = [click.style(f"{mark} {outcome_text(decision).get(lang)}", fg=colour, bold=True),
             f"{programme.title.get(lang)} [{programme.id}]"]
    if decision.outcome == ELIGIBLE:
        status = amount_status(decision)
        if status == "computed":
            parts.append(click.style(money_text(decision.amount.value, lang), bold=True))
        elif status == "not_set":
            parts.append(click.style(word("amount_not_set", lang), fg="yellow"))
        elif status == "unknown":
            parts.append(word("amount_pending", lang))
    for name, result in (decision.effect or {}).items():
        if result.value is not None:
            parts.append(effect_text(decision, name, result, lang))
    if decision.missing:
        parts.append(f"{word('missing', lang)}: " + ("、" if lang == "zh" else ", ").join(
            field_name(name, lang) for name in decision.missing))
    return " · ".join(parts)


def explanation_lines(decision: Decision, lang: str) -> list[str]:
    import click

    programme = decision.programme
    lines = [click.style(FORCE_TEXT[programme.force].get(lang), dim=True)
             + f"; {word('duty_of' if programme.force == 'obligation' else 'beneficiary', lang)}: "
             + beneficiary_text(decision.beneficiary, lang)]
    lines.append(click.style(word("conditions", lang), bold=True))
    if not decision.in_force:
        lines.append(click.style("  ✗ ", fg="red") + decision.notes[0].get(lang))
    for result in decision.results:
        mark, colour = _HOLDS.get(result.holds, ("?", "yellow"))
        # a sentence states the condition; one that fails, or is not known, says so before it
        text = _STANDING.get(result.holds, _STANDING[UNKNOWN])[lang == "en"] + render(result.condition.says.get(lang), sentence_values(result.trace), lang)
        facts = ", ".join(f"{n}={format_value(v, lang)}" for n, v in result.trace.facts.items())
        lines.append(click.style(f"  {mark} ", fg=colour) + text + click.style(f"   [{facts}]" if facts else "", dim=True))
    if decision.amount is not None and decision.amount.says is not None:
        result = decision.amount
        shown = money_text(result.value, lang) if isinstance(result.value, Decimal) else format_value(result.value, lang)
        lines.append(click.style(f"{word('amount', lang)} = {shown}", bold=True)
                     + f"  ({said(result, lang)})")
    for name, result in (decision.effect or {}).items():
        if result.says is not None:
            lines.append(click.style(effect_text(decision, name, result, lang), bold=True)
                         + ("" if lang == "zh" else f"  ({said(result, lang)})"))
    if decision.missing:
        lines.append(click.style(word("missing", lang), bold=True))
        lines.extend(f"  ? {field_label(name, lang)}" for name in decision.missing)
    if decision.to_qualify:
        lines.append(click.style(word("to_qualify", lang), bold=True))
        lines.extend(to_qualify_lines(decision.to_qualify, lang))
    if decision.parameters:
        lines.append(click.style(word("parameters", lang), bold=True))
        for use in decision.parameters:
            flag = "" if use.provenance == "seed" else click.style(f" ⚠ {word(use.provenance, lang)}", fg="yellow")
            key = f"[{use.key.value}]" if use.key is not None else ""
            since = f"{use.valid_from} 起" if lang == "zh" else f"from {use.valid_from}"
            lines.append(f"  {use.name}{key} = {format_value(use.value, lang)} ({use.provenance}, {since}; "
                         f"{use.source}){flag}")
    if decision.notes and decision.in_force:
        lines.append(click.style(word("notes", lang), bold=True))
        lines.extend(f"  ※ {note.get(lang)}" for note in decision.notes)
    lines.append(click.style(word("sources", lang), bold=True))
    for citation in dict.fromkeys(list(programme.cites) + [c for r in decision.results for c in r.condition.cites]):
        lines.append(f"  § {citation.doc} {citation.clause or ''}: 「{_one_line(citation.quote)}」")
    return lines


_STANDING = {True: ("", ""), False: ("未满足：", "not met: "), UNKNOWN: ("待定：", "not known: ")}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"


def to_qualify_lines(hints, lang: str) -> list[str]:
    """The hints grouped as they combine. A condition needing several changes lists them under its
    sentence (all of them); one that can be met in several ways numbers the ways (any one); the
    alternatives of an any-group come under "any one of", numbered, each with its sentence."""
    import click

    zh = lang == "zh"
    groups: dict[Any, dict[Any, dict[str, list]]] = {}  # any-group → alternative → condition → hints
    for hint in hints:
        groups.setdefault(hint.among, {}).setdefault(hint.alternative_of, {}).setdefault(hint.condition, []).append(hint)
    lines: list[str] = []
    for among, alternatives in groups.items():
        if among is None:  # conditions that must all hold
            for unit in alternatives[None].values():
                if len(unit) == 1 and unit[0].way is None:
                    lines.append(f"  → {unit[0].describe(lang)}")
                    continue
                joint = ("任一方式即可" if zh else "any one way") if unit[0].way else ("以下各项都需要" if zh else "all of")
                lines.append(f"  · {unit[0].text[lang]} —— {joint}：" if zh else f"  · {unit[0].text[lang]} — {joint}:")
                lines.extend(_changes(unit, lang, "      "))
            continue
        lines.append("  " + click.style("以下任选其一：" if zh else "any one of:", bold=True))
        for number, conditions in enumerate(alternatives.values(), start=1):
            mark = _CIRCLED[number - 1] if number <= len(_CIRCLED) else f"({number})"
            for index, unit in enumerate(conditions.values()):
                lead = f"    {mark} " if index == 0 else ("      且 " if zh else "      and ")
                lines.append(lead + unit[0].text[lang])
                if unit[0].field is not None:  # else the sentence is all there is to say
                    lines.extend(_changes(unit, lang, "        "))
    return lines


def _changes(unit, lang: str, indent: str) -> list[str]:
    """One condition's changes: a line each (all needed), or a line per way (any one)."""
    ways: dict[Any, list] = {}
    for hint in unit:
        ways.setdefault(hint.way, []).append(hint)
    if None in ways:
        return [f"{indent}→ {hint.describe(lang)}" for hint in ways[None]]
    label = (lambda n, of: f"方式 {n}/{of}：") if lang == "zh" else (lambda n, of: f"way {n} of {of}: ")
    joiner = "，且 " if lang == "zh" else "; and "
    return [indent + label(*way) + joiner.join(h.describe(lang) for h in changes) for way, changes in ways.items()]


def beneficiary_text(code: str, lang: str) -> str:
    text = BENEFICIARY_TEXT.get(code)
    return text.get(lang) if text else code


def _one_line(text: str, limit: int = 160) -> str:
    flat = "".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
