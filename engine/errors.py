"""Errors a user can cause. Each renders as one line (or a few) naming where, what and what was expected.

The CLI catches UserError and prints it without a traceback; anything else is a bug in the engine.
"""
from __future__ import annotations

from dataclasses import dataclass


class UserError(Exception):
    """Base of every error caused by input: rule files, records, command-line usage."""

    exit_code = 2

    def lines(self) -> list[str]:
        return str(self).splitlines() or [""]  # each problem its own "error:" line


@dataclass(frozen=True)
class Problem:
    """One finding located in a file: ``file:line: message``."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class RuleError(UserError):
    """The rule tree failed to load; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class ExpressionError(UserError):
    """Rule text outside the expression grammar, or ill-typed. ``column`` is 1-based within the text."""

    def __init__(self, message: str, text: str = "", column: int | None = None):
        self.message = message
        self.text = text
        self.column = column
        where = f" at column {column}" if column else ""
        super().__init__(f"{message}{where} in `{text}`" if text else message)
