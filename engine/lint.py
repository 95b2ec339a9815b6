"""`rules lint`: everything the loader checks, plus what a careful reviewer checks before a release.

Errors (exit 1): unused parameters and definitions, and anything the loader refuses. The loader
already refuses citations to clauses not in rules/sources/, conditions without both sentences, and
a parameter with two values on one date. Then a summary of the figures still `public` (to be
confirmed) or `unset` (no published figure) on the day, so policy staff see what is provisional.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.errors import Problem
from engine.expression import DefinitionRef, Node, children
from engine.ruleset import Ruleset


@dataclass
class LintReport:
    errors: list[Problem]
    provisional: list[tuple[str, str, str, str]]  # (parameter, provenance, since, file)


def lint(ruleset: Ruleset, today: date) -> LintReport:
    errors: list[Problem] = []
    used_parameters: set[str] = set()
    used_shared: set[str] = set()
    for programme in ruleset.programmes.values():
        used_parameters.update(programme.parameters)
        local_used = _definitions_named(list(programme.expressions()), programme.definitions, ruleset.definitions[programme.record_type])
        for name, definition in programme.definitions.items():
            if name not in local_used:
                errors.append(Problem(definition.file, definition.line,
                                      f"definition '{name}' of {programme.id} is never used"))
        used_shared.update(n for n in local_used if n not in programme.definitions)
    for record_type, definitions in ruleset.definitions.items():
        for name, definition in definitions.items():
            if name not in used_shared:
                errors.append(Problem(definition.file, definition.line,
                                      f"definition '{name}' ({record_type}) is never used by any programme"))
    for name, parameter in sorted(ruleset.parameters.items()):
        if name not in used_parameters:
            errors.append(Problem(parameter.file, parameter.line, f"parameter '{name}' is never read by any programme"))
    provisional = []
    for name, parameter in sorted(ruleset.parameters.items()):
        current = parameter.in_force(today) or parameter.values[-1]
        if current.provenance != "seed":
            provisional.append((name, current.provenance, current.valid_from.isoformat(), parameter.file))
    return LintReport(errors, provisional)


def _definitions_named(trees: list[Node], local: dict, shared: dict) -> set[str]:
    """Definitions reached from the trees, following definitions that read definitions."""
    found: set[str] = set()
    stack = list(trees)
    while stack:
        node = stack.pop()
        if isinstance(node, DefinitionRef) and node.name not in found:
            found.add(node.name)
            definition = local.get(node.name) or shared.get(node.name)
            stack.append(definition.tree)
        stack.extend(children(node))
    return found

