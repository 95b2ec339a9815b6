"""Load rules/ into a checked Ruleset, or refuse with every problem found, each at file:line.

Order matters: sources (citations are checked against them), parameters, shared definitions (in
dependency order, refusing cycles), then programmes with their local definitions. Every expression
is parsed and type-checked here, once; evaluation never parses text.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ValidationError

from engine import rulefiles as spec
from engine.checker import ParameterSignature, Scope, check_expression
from engine.errors import ExpressionError, Problem, RuleError, UserError
from engine.expression import Name, Node, ParamRef, children, parse
from engine.parameters import DatedParameter, ParameterValue
from engine.records import FACT_TYPES
from engine.ruleset import Case, Citation, Condition, Definition, Group, Programme, Ruleset, Text, ValueRule
from engine.sources import SourceLibrary
from engine.types import BOOL, INTEGER, NUMBER, UNSET, FactType, LabelledEnum, enum_type
from engine.vocabulary import ENUMS
from engine.yamlsource import LocatedDict, line_at, load_yaml

from engine.rulecache import DEFAULT_RULES  # noqa: E402  (defined where check can read it cheaply)
PARAMETER_TYPES = {"money": NUMBER, "rate": NUMBER, "number": NUMBER, "integer": INTEGER, "bool": BOOL}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def load_rules(root: Path | str = DEFAULT_RULES) -> Ruleset:
    return _Loader(Path(root)).load()


@dataclass
class _Located:
    """A validated file model with its raw located data and display name."""

    model: Any
    raw: LocatedDict
    file: str

    def line(self, *path: Any) -> int | None:
        return line_at(self.raw, path)


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.sources: SourceLibrary | None = None
        # Names that exist but whose file or definition failed: later uses say so, not "unknown name".
        self.broken_parameters: set[str] = set()
        self.broken_definitions: dict[str, set[str]] = {t: set() for t in FACT_TYPES}

    # -- plumbing
    def problem(self, file: str, line: int | None, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def read(self, path: Path, model: type[BaseModel]) -> _Located | None:
        name = self.display(path)
        try:
            raw = load_yaml(path, name)
        except RuleError as error:
            self.problems.extend(error.problems)
            return None
        if not isinstance(raw, LocatedDict):
            self.problem(name, getattr(raw, "line", 1), f"expected a mapping of keys ({model.__name__})")
            return None
        try:
            return _Located(model.model_validate(raw), raw, name)
        except ValidationError as error:
            for item in error.errors():
                loc = _real_keys(raw, item["loc"])
                self.problem(name, line_at(raw, loc), _pydantic_message({**item, "loc": loc}, raw))
            return None

    def files(self, folder: str) -> list[Path]:
        base = self.root / folder
        return sorted(base.rglob("*.yaml")) if base.is_dir() else []

    # -- the whole tree
    def load(self) -> Ruleset:
        if not self.root.is_dir():
            raise UserError(f"{self.root}: no such rules directory")
        meta = self.read(self.root / "ruleset.yaml", spec.RulesetFile)
        try:
            self.sources = SourceLibrary.load(self.root / "sources")
        except UserError as error:
            self.problem(self.display(self.root / "sources"), None, str(error))
        if self.sources is None or meta is None:
            raise RuleError(self.problems or [Problem(self.display(self.root), None, "cannot load")])

        parameters = self.load_parameters()
        signatures = {name: ParameterSignature(p.type, p.keyed_by) for name, p in parameters.items()}
        shared = self.load_shared_definitions(signatures)
        programmes = self.load_programmes(signatures, shared, parameters)
        if self.problems:
            raise RuleError(self.problems)
        files = [self.display(p) for p in sorted(self.root.rglob("*")) if p.is_file()]
        return Ruleset(meta.model.name, meta.model.version, self.digest(), programmes, parameters, shared,
                       self.sources, files)

    def digest(self) -> str:
        hasher = hashlib.sha256()
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.suffix in (".yaml", ".txt"):
                hasher.update(path.relative_to(self.root).as_posix().encode() + b"\0")
                hasher.update(path.read_bytes() + b"\0")
        return "sha256:" + hasher.hexdigest()

    # -- citations
    def citations(self, items: list[spec.Citation], located: _Located, *path: Any) -> list[Citation]:
        result = []
        for index, item in enumerate(items):
            line = located.line(*path, index)
            citation = self.citation(item, located.file, line)
            if citation is not None:
                result.append(citation)
        return result

    def citation(self, item: spec.Citation, file: str, line: int | None) -> Citation | None:
        sources = self.sources
        if not sources.has_doc(item.doc):
            self.problem(file, line, f"citation of unknown document '{item.doc}' (known: {', '.join(sources.docs)})")
            return None
        texts = []
        if item.clause is not None:
            try:
                labels = sources.split_citation(item.clause)
            except UserError as error:
                self.problem(file, line, f"citation of {item.doc}: {error}")
                return None
            for label in labels:
                clause = sources.clause(item.doc, label)
                if clause is None:
                    self.problem(file, line, f"{item.doc} has no clause '{label}' in rules/sources/")
                    return None
                texts.append(clause.text)
        if item.quote is not None:
            where = "\n".join(texts) if texts else None
            if not sources.contains_quote(item.doc, item.quote, within=where):
                place = f"clause {item.clause}" if texts else "the document"
                self.problem(file, line, f"quote not found in {item.doc} {place}: '{item.quote[:40]}'")
                return None
        return Citation(item.doc, item.clause, item.quote or "\n".join(t.strip() for t in texts))

    # -- parameters
    def load_parameters(self) -> dict[str, DatedParameter]:
        parameters: dict[str, DatedParameter] = {}
        base = self.root / "parameters"
        for path in self.files("parameters"):
            name = ".".join(path.relative_to(base).with_suffix("").parts)
            located = self.read(path, spec.ParameterFile)
            if located is None:
                self.broken_parameters.add(name)
                continue
            model, file = located.model, located.file
            if model.parameter is not None and model.parameter != name:
                self.problem(file, located.line("parameter"), f"parameter is named '{model.parameter}' but its "
                             f"path makes it '{name}'; the folder tree is the parameter tree")
            keyed_by = self.enum_named(model.keyed_by, located, "keyed_by") if model.keyed_by else None
            values = []
            for valid_from, entry in sorted(model.values.items()):
                value = self.parameter_value(entry.value, model.type, keyed_by, located, valid_from)
                values.append(ParameterValue(valid_from, value, entry.provenance, entry.source,
                                             _text(entry.note)))
            cites = self.citations(model.cites, located, "cites")
            parameters[name] = DatedParameter(name, _text(model.description), PARAMETER_TYPES[model.type],
                                              model.type, model.unit, keyed_by, cites, values, file,
                                              located.raw.line)
        return parameters

    def parameter_value(self, value: Any, kind: str, keyed_by, located: _Located, valid_from) -> Any:
        line = located.line("values", valid_from, "value")
        if value is None:
            return UNSET
        if keyed_by is not None:
            if not isinstance(value, dict):
                self.problem(located.file, line, f"expected a table by {keyed_by.__name__} (key: value lines)")
                return UNSET
            table = {}
            for key, item in value.items():
                try:
                    member = keyed_by.parse(key)
                except ValueError as error:
                    self.problem(located.file, value.line_of(key), f"table key '{key}': {error}")
                    continue
                table[member] = UNSET if item is None else self.scalar(item, kind, located.file, value.line_of(key))
            return table
        return self.scalar(value, kind, located.file, line)

    def scalar(self, value: Any, kind: str, file: str, line: int | None) -> Any:
        if kind == "bool":
            if not isinstance(value, bool):
                self.problem(file, line, f"expected true or false, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.problem(file, line, f"expected a number, got {value!r}")
            return UNSET
        text = str(value).replace(",", "").strip()  # via str: a float never leaks binary error
        percent = kind == "rate" and text.endswith("%")  # a rate may be written as policy writes it: 60%
        try:
            number = Decimal(text[:-1] if percent else text)
        except InvalidOperation:
            self.problem(file, line, f"expected a number, got {value!r}")
            return UNSET
        if not number.is_finite():
            self.problem(file, line, f"expected a finite number, got {value!r}")
            return UNSET
        number = number / 100 if percent else number
        if kind == "integer" and number != number.to_integral_value():
            self.problem(file, line, f"expected a whole number, got {value!r}")
        if kind in ("money", "rate", "integer") and number < 0:  # a figure a decision would pay or count with
            what = {"money": "an amount of money", "rate": "a rate", "integer": "a count"}[kind]
            self.problem(file, line, f"{what} cannot be negative, got {value!r}")
        if kind == "rate" and number > 1:
            self.problem(file, line, f"a rate is a share from 0 to 1 (60% is 0.6, or '60%'), got {value!r}")
        return number

    def enum_named(self, name: str, located: _Located, *path: Any) -> type[LabelledEnum] | None:
        enum = ENUMS.get(name)
        if enum is None:
            self.problem(located.file, located.line(*path), f"unknown enumeration '{name}' "
                         f"(known: {', '.join(sorted(ENUMS))})")
        return enum

    # -- expressions
    def expression(self, text: str, scope: Scope, located: _Located, path: tuple, what: str,
                   expected: FactType | None = None) -> tuple[Node, FactType] | None:
        try:
            return check_expression(parse(text), scope, text, expected)
        except ExpressionError as error:
            self.problem(located.file, located.line(*path), f"{what}: {error}")
            return None

    def check_placeholders(self, text: spec.Text | None, scope: Scope, located: _Located, path: tuple) -> None:
        if text is None:
            return
        for name in dict.fromkeys(_PLACEHOLDER.findall(text.zh) + _PLACEHOLDER.findall(text.en)):  # once each
            if name != "param" and name not in scope.facts and name not in scope.definitions \
                    and name not in scope.parameters and name not in scope.broken:
                self.problem(located.file, located.line(*path), f"placeholder {{{name}}} names no fact, "
                             "definition or parameter")

    # -- definitions, shared and local
    def load_shared_definitions(self, signatures) -> dict[str, dict[str, Definition]]:
        gathered: dict[str, list[tuple[str, spec.DefinitionSpec, _Located]]] = {t: [] for t in FACT_TYPES}
        for path in self.files("definitions"):
            located = self.read(path, spec.DefinitionsFile)
            if located is None:
                self.declared_definitions(path)
            else:
                for name, item in located.model.definitions.items():
                    gathered[located.model.record_type].append((name, item, located))
        shared: dict[str, dict[str, Definition]] = {}
        for record_type, items in gathered.items():
            scope = Scope(dict(FACT_TYPES[record_type]), {}, signatures,
                          self.broken_parameters | self.broken_definitions[record_type])
            shared[record_type] = self.definitions(items, scope, {})
            self.broken_definitions[record_type] = scope.broken - self.broken_parameters
        return shared

    def declared_definitions(self, path: Path) -> None:
        """The names a definitions file that failed its checks still declares: their users are told why."""
        try:
            raw = load_yaml(path)
        except RuleError:
            return
        names = raw.get("definitions") if isinstance(raw, dict) else None
        if isinstance(names, dict):
            declared = raw.get("record_type")
            kinds = [declared] if isinstance(declared, str) and declared in FACT_TYPES else list(FACT_TYPES)
            for record_type in kinds:
                self.broken_definitions[record_type] |= {str(name) for name in names}

    def definitions(self, items, scope: Scope, outer: dict[str, Definition]) -> dict[str, Definition]:
        """Check definitions in dependency order; a cycle is named and refused."""
        specs: dict[str, tuple[spec.DefinitionSpec, _Located]] = {}
        for name, item, located in items:
            line = located.line("definitions", name)
            if name in scope.facts or name in scope.definitions or name in specs:
                self.problem(located.file, line, f"definition '{name}' is already a fact or a definition")
                continue
            clash = next((e.__name__ for e in ENUMS.values() if name in e._value2member_map_), None)
            if clash:  # the name would shadow that value wherever a rule writes it
                self.problem(located.file, line, f"definition '{name}' has the name of a value of {clash}; "
                             "choose another name")
                continue
            specs[name] = (item, located)
        scope.broken |= set(specs)  # until checked; a checked definition resolves before this is looked at
        trees: dict[str, Node] = {}
        for name, (item, located) in specs.items():
            try:
                trees[name] = parse(item.value)
            except ExpressionError as error:
                self.problem(located.file, located.line("definitions", name, "value"), f"definition '{name}': {error}")
        depends = {name: {n for n in _bare_names(tree) if n in trees} for name, tree in trees.items()}
        checked: dict[str, Definition] = {}
        for name in _dependency_order(depends, lambda cycle: self.cycle(cycle, specs)):
            item, located = specs[name]
            expected = enum_type(ENUMS[item.type]) if item.type in ENUMS else None
            if item.type and expected is None:
                self.enum_named(item.type, located, "definitions", name, "type")
                continue
            result = self.expression(item.value, scope, located, ("definitions", name, "value"),
                                     f"definition '{name}'", expected)
            if result is None:
                continue
            tree, kind = result
            scope.definitions[name] = kind
            self.check_placeholders(item.says, scope, located, ("definitions", name, "says"))
            checked[name] = Definition(name, item.value, tree, kind, _text(item.says), _text(item.interpretation),
                                       self.citations(item.cites, located, "definitions", name, "cites"),
                                       located.file, located.line("definitions", name))
        scope.broken -= set(checked)
        return checked

    def cycle(self, cycle: list[str], specs) -> None:
        _, located = specs[cycle[0]]
        self.problem(located.file, located.line("definitions", cycle[0]),
                     "circular definitions: " + " → ".join(cycle + [cycle[0]]))

    # -- programmes
    def load_programmes(self, signatures, shared, parameters) -> dict[str, Programme]:
        programmes: dict[str, Programme] = {}
        for path in self.files("programmes"):
            located = self.read(path, spec.ProgrammeFile)
            if located is None:
                continue
            model = located.model
            if model.programme in programmes:
                self.problem(located.file, located.line("programme"), f"programme '{model.programme}' is also "
                             f"defined in {programmes[model.programme].file}")
                continue
            if path.stem != model.programme:
                self.problem(located.file, located.line("programme"),
                             f"file name should be {model.programme}.yaml, the programme id")
            programme = self.programme(located, signatures, shared[model.record_type], parameters)
            if programme is not None:
                programmes[model.programme] = programme
        return programmes

    def programme(self, located: _Located, signatures, shared: dict[str, Definition], parameters) -> Programme | None:
        model: spec.ProgrammeFile = located.model
        facts = FACT_TYPES[model.record_type]
        scope = Scope(dict(facts), {n: d.type for n, d in shared.items()}, signatures,
                      self.broken_parameters | self.broken_definitions[model.record_type])
        before = len(self.problems)
        local = self.definitions([(n, d, located) for n, d in model.definitions.items()], scope, shared)
        if model.beneficiary_from is not None and model.beneficiary_from not in facts:
            self.problem(located.file, located.line("beneficiary_from"), f"'{model.beneficiary_from}' is not a fact")
        seen_ids: set[str] = set()
        group = self.group(model.eligible_when, scope, located, ("eligible_when",), seen_ids)
        amount = None
        if model.amount is not None:
            amount = self.value_rule("amount", model.amount, scope, located, ("amount",), NUMBER)
            amount.money = True
        effect = {}
        for name, item in model.effect.items():
            expected = None
            if item.type == "money":
                expected = NUMBER
            elif item.type is not None:
                enum = self.enum_named(item.type, located, "effect", name, "type")
                expected = enum_type(enum) if enum else None
            effect[name] = self.value_rule(name, item, scope, located, ("effect", name), expected)
        for index, text in enumerate(model.interpretations):
            self.check_placeholders(text, scope, located, ("interpretations", index))
        cites = self.citations(model.cites, located, "cites")
        if len(self.problems) > before:
            return None
        programme = Programme(
            model.programme, _text(model.title), _text(model.summary), model.record_type, model.force,
            model.beneficiary, model.beneficiary_from, model.effective.valid_from, model.effective.valid_to,
            cites, [_text(t) for t in model.interpretations], local, group, amount, effect, [],
            located.file, located.raw.line)
        programme.parameters = self.parameters_read(programme, shared)
        for name in programme.parameters:
            first = parameters[name].first_date
            if first > programme.valid_from:
                self.problem(located.file, located.line("effective"),
                             f"programme is in force from {programme.valid_from} but reads parameter '{name}', "
                             f"whose first dated value starts {first} ({parameters[name].file})")
        return programme

    def group(self, item: spec.GroupSpec, scope: Scope, located: _Located, path: tuple, seen: set[str]) -> Group | None:
        mode = "all" if item.all is not None else "any"
        members = []
        for index, child in enumerate(getattr(item, mode)):
            child_path = path + (mode, index)
            if isinstance(child, spec.GroupSpec):
                built = self.group(child, scope, located, child_path, seen)
            else:
                built = self.condition(child, scope, located, child_path, seen)
            if built is not None:
                members.append(built)
        self.check_placeholders(item.says, scope, located, path + ("says",))
        return Group(item.id, mode, members, _text(item.says), located.line(*path) or 0)

    def condition(self, item: spec.ConditionSpec, scope, located: _Located, path: tuple, seen: set[str]):
        line = located.line(*path)
        if item.id in seen:
            self.problem(located.file, line, f"condition id '{item.id}' is used twice in this programme")
        seen.add(item.id)
        result = self.expression(item.when, scope, located, path + ("when",), f"condition '{item.id}'", BOOL)
        self.check_placeholders(item.says, scope, located, path + ("says",))
        self.check_placeholders(item.interpretation, scope, located, path + ("interpretation",))
        if result is None:
            return None
        return Condition(item.id, item.when, result[0], _text(item.says), _text(item.interpretation),
                         self.citations(item.cites, located, *path, "cites"), located.file, line or 0)

    def value_rule(self, name: str, item: spec.ValueSpec, scope, located: _Located, path: tuple,
                   expected: FactType | None) -> ValueRule | None:
        cases: list[Case] = []
        kind = expected
        entries = [(None, item.value, None, path + ("value",))] if item.cases is None else [
            (c.when, c.value, c.says, path + ("cases", i)) for i, c in enumerate(item.cases)]
        for when, value, says, where in entries:
            when_tree = None
            if when is not None:
                checked = self.expression(when, scope, located, where + ("when",), f"{name} case", BOOL)
                when_tree = checked[0] if checked else None
            checked_value = self.expression(value, scope, located, where + (("value",) if when else ()),
                                            f"{name} value", kind)
            if checked_value is None:
                continue
            kind = kind or checked_value[1]
            self.check_placeholders(says, scope, located, where)
            cases.append(Case(when_tree, when, checked_value[0], value, _text(says), located.line(*where) or 0))
        otherwise = None
        if item.otherwise is not None:
            checked = self.expression(item.otherwise, scope, located, path + ("otherwise",), f"{name} otherwise", kind)
            if checked:
                otherwise = Case(None, None, checked[0], item.otherwise, None, located.line(*path, "otherwise") or 0)
        self.check_placeholders(item.says, scope, located, path + ("says",))
        return ValueRule(name, kind or NUMBER, cases, otherwise, _text(item.says), money=item.type == "money",
                         for_outcomes=tuple(item.for_outcomes), rounding=item.rounding)

    def parameters_read(self, programme: Programme, shared: dict[str, Definition]) -> list[str]:
        found: list[str] = []
        seen_defs: set[str] = set()

        def walk(node: Node) -> None:
            if isinstance(node, ParamRef) and node.name not in found:
                found.append(node.name)
            name = getattr(node, "name", None)
            if type(node).__name__ == "DefinitionRef" and name not in seen_defs:
                seen_defs.add(name)
                definition = programme.definitions.get(name) or shared.get(name)
                walk(definition.tree)
            for child in children(node):
                walk(child)

        for tree in programme.expressions():
            walk(tree)
        return found


def _bare_names(tree: Node) -> set[str]:
    names: set[str] = set()

    def walk(node: Node) -> None:
        if isinstance(node, Name):
            names.add(node.name)
        for child in children(node):
            walk(child)

    walk(tree)
    return names


def _dependency_order(depends: dict[str, set[str]], on_cycle: Callable[[list[str]], None]) -> Iterable[str]:
    """Depth-first topological order; each cycle is reported once and its members skipped."""
    state: dict[str, str] = {}
    order: list[str] = []

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            cycle = trail[trail.index(name):]
            on_cycle(cycle)
            for member in cycle:
                state[member] = "done"
            return
        state[name] = "open"
        for dependency in sorted(depends[name]):
            visit(dependency, trail + [name])
        if state[name] == "open":
            state[name] = "done"
            order.append(name)

    for name in depends:
        visit(name, [])
    return order


def _text(item: spec.Text | None) -> Text | None:
    return Text(item.zh, item.en) if item is not None else None


def _real_keys(raw: Any, loc: tuple) -> tuple:
    """Pydantic's error path, as keys of the file: drop the item-kind tags it inserts ('condition',
    'group') and put back a non-string key it wrote as a repr ('datetime.date(2019, 1, 1)')."""
    result, data = [], raw
    for step in loc:
        if isinstance(data, dict) and step not in data:
            if step in ("condition", "group"):  # the tag of a list item's kind, not a key in the file
                continue
            step = next((key for key in data if repr(key) == step), step)
        result.append(step)
        data = data.get(step) if isinstance(data, dict) else \
            data[step] if isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data) else None
    return tuple(result)


def _pydantic_message(item: dict, raw: Any) -> str:
    """One readable line from a pydantic error: where in the file (the condition or group by its id,
    as a reviewer knows it, rather than its index in a list), what was wrong, what was expected."""
    named, loc = _where(raw, item["loc"])
    kind = item["type"]
    if kind == "extra_forbidden":
        text = f"unknown key '{item['loc'][-1]}'"
    elif kind == "missing":
        text = f"missing required key '{loc}'"
    else:
        message = item["msg"].removeprefix("Value error, ")
        value = item.get("input")
        shown = f" (got {value!r})" if value is not None and not isinstance(value, (dict, list)) else ""
        text = f"{loc}: {message}{shown}" if loc else f"{message}{shown}"
    return f"{named}: {text}" if named else text


def _where(raw: Any, loc: tuple) -> tuple[str, str]:
    """An error path of the file's keys (_real_keys) as (the innermost condition or group on it with
    an id, e.g. "condition 'training-system'" — empty if none — and the path from there, e.g.
    "says.en"; a list item without an id is shown by its index: "amount.cases[1].value")."""
    named, steps, data = "", [], raw
    for step in loc:
        item = data[step] if isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data) else \
            data.get(step) if isinstance(data, dict) else None
        if isinstance(step, int):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                named = f"{spec.item_kind(item)} '{item['id']}'"
                steps = []
            elif steps:
                steps[-1] += f"[{step}]"
            else:
                steps.append(f"[{step}]")
        else:
            steps.append(str(step))
        data = item
    return named, ".".join(steps)
