"""Decisions as the contract JSON (BRIEF §5) and as text for people."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from engine.decide import ELIGIBLE, INELIGIBLE, Decision, DecisionSet, ValueResult
from engine.explain import format_value, json_value, render, sentence_values
from engine.ruleset import Citation, Text
from engine.types import UNKNOWN, UNSET

FORCE_TEXT = {
    "entitlement": Text("符合条件即予享受的补贴、抵免或扣除", "a subsidy, offset or deduction granted when the conditions hold"),
    "may_apply": Text("可以申请或纳入评选范围，由其他程序最终决定", "may apply, or is within a selection's scope; another process decides"),
    "encouraged": Text("政策鼓励用人单位给予，并非法定应得", "the text encourages employers to give it; nothing is owed"),
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


def outcome_text(decision: Decision) -> Text:
    force = decision.programme.force
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
        **({"any_of": hint.alternative_of} if hint.alternative_of else {}),
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


def to_text(decisions: DecisionSet, lang: str = "zh", explain: bool = False) -> str:
    """Plain text: a line per programme, and with `explain` the reasons, parameters and clauses."""
    lines = [f"{decisions.applicant_id}  ({'评估日期' if lang == 'zh' else 'as of'} {decisions.as_of})"]
    for decision in decisions.decisions:
        lines.append(summary_line(decision, lang))
        if explain:
            lines.extend("    " + line for line in explanation_lines(decision, lang))
    return "\n".join(lines) + "\n"


def summary_line(decision: Decision, lang: str) -> str:
    mark = {"eligible": "✓", "ineligible": "✗", "undetermined": "?"}[decision.outcome]
    parts = [f"{mark} {decision.programme.id}  {decision.programme.title.get(lang)}: {outcome_text(decision).get(lang)}"]
    if decision.outcome == ELIGIBLE:
        status = amount_status(decision)
        if status == "computed":
            parts.append(f"{decision.amount.value} CNY")
        elif status == "not_set":
            parts.append("金额未设定" if lang == "zh" else "amount not set")
        elif status == "unknown":
            parts.append("金额待定" if lang == "zh" else "amount pending")
        for name, result in (decision.effect or {}).items():
            parts.append(f"{name}={format_value(result.value, lang)}")
    elif decision.missing:
        parts.append(("缺少：" if lang == "zh" else "missing: ") + ", ".join(decision.missing))
    return " · ".join(parts)


def explanation_lines(decision: Decision, lang: str) -> list[str]:
    lines = []
    for result in decision.results:
        mark = {True: "✓", False: "✗"}.get(result.holds, "?")
        text = render(result.condition.says.get(lang), sentence_values(result.trace), lang)
        lines.append(f"{mark} {text}")
    if decision.outcome == INELIGIBLE and decision.to_qualify:
        lines.append("要符合条件：" if lang == "zh" else "to qualify:")
        lines.extend(f"  → {hint.describe(lang)}" for hint in decision.to_qualify)
    for use in decision.parameters:
        value = format_value(use.value, lang)
        lines.append(f"◆ {use.name}{'[' + use.key.value + ']' if use.key else ''} = {value} "
                     f"({use.provenance}, {use.valid_from}; {use.source})")
    for note in decision.notes:
        lines.append(f"※ {note.get(lang)}")
    for citation in decision.programme.cites:
        lines.append(f"§ {citation.doc} {citation.clause or ''}")
    return lines
