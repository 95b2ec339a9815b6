"""Safe YAML loading that remembers where every value came from, so errors can say file:line.

Mappings become LocatedDict and sequences LocatedList; both carry the line of the node and the
lines of their keys/items. Scalars are built by PyYAML's SafeConstructor (never the full loader),
through the C parser when available. Duplicate keys are refused rather than silently overwritten.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from engine.errors import Problem, RuleError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocatedDict(dict):
    line: int = 0
    key_lines: dict

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LocatedList(list):
    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


def load_yaml(path: Path, display: str | None = None) -> Any:
    """Parse one YAML file into located data; RuleError with file:line on any syntax problem."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RuleError([Problem(name, None, f"cannot read: {error}")]) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str, bad_dates_as_text: bool = False) -> Any:
    """The YAML document in `text` (`name` for messages), its mappings and lists knowing their lines.
    `bad_dates_as_text`: a plain scalar shaped like a date that is no day (2024-02-30) is kept as its
    text, for a record's own validator to refuse by field (and in the reader's language)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(error, "problem", None) or str(error)
        context, started = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and started and mark and started.line != mark.line:  # e.g. an unclosed [ or " further up
            problem += f" ({context} that starts on line {started.line + 1})"
        if isinstance(error, yaml.reader.ReaderError):  # no mark, and the C parser counts bytes; find the character
            line = text.count("\n", 0, max(text.find(chr(error.character)), 0)) + 1
            problem = f"character #x{error.character:04x}: {error.reason}"
        raise RuleError([Problem(name, line, f"not valid YAML: {problem}")]) from None
    if node is None:
        return None
    return _Builder(name, bad_dates_as_text).build(node)


class _Builder:
    def __init__(self, name: str, bad_dates_as_text: bool = False) -> None:
        self.name = name
        self.bad_dates_as_text = bad_dates_as_text
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
            self.constructor.flatten_mapping(node)  # resolve `<<: *base` merge keys as YAML defines them
            merged = len(node.value) - own  # merged pairs come first; the mapping's own keys override them
            result = LocatedDict()
            result.line = node.start_mark.line + 1
            result.key_lines = {}
            own_keys: set = set()
            for index, (key_node, value_node) in enumerate(node.value):
                key = self.build(key_node)
                if isinstance(key, (dict, list)):
                    raise RuleError([Problem(self.name, key_node.start_mark.line + 1, "a key must be a plain value")])
                if index >= merged and key in own_keys:
                    raise RuleError([Problem(self.name, key_node.start_mark.line + 1,
                                             f"duplicate key '{key}' (first on line {result.key_lines[key]})")])
                if index >= merged:
                    own_keys.add(key)
                result[key] = self.build(value_node)
                result.key_lines[key] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            result = LocatedList(self.build(item) for item in node.value)
            result.line = node.start_mark.line + 1
            result.item_lines = [item.start_mark.line + 1 for item in node.value]
            return result
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as error:  # ValueError: a date that is no day (2019-02-30)
            if self.bad_dates_as_text and isinstance(error, ValueError) and node.tag == "tag:yaml.org,2002:timestamp":
                return node.value
            message = getattr(error, "problem", None) or str(error)  # str() of a YAMLError adds a 2nd line
            raise RuleError([Problem(self.name, node.start_mark.line + 1, f"bad value: {message}")]) from None


def line_at(data: Any, path: Sequence[Any], find_key: Callable[[dict, Any], Any] | None = None) -> int | None:
    """The line of the deepest value along ``path`` (a pydantic error's loc) that can be found.

    ``find_key(mapping, step)`` may name the key a step means when it is written differently (a table
    key written as a label); it returns None when there is none.
    """
    line = getattr(data, "line", None)
    for step in path:
        if isinstance(data, LocatedDict) and find_key is not None:
            step = find_key(data, step)
        if isinstance(data, LocatedDict) and step is not None and step in data:
            line = data.line_of(step)
            data = data[step]
        elif isinstance(data, LocatedList) and isinstance(step, int) and 0 <= step < len(data):
            line = data.line_of(step)
            data = data[step]
        else:
            break
    return line
