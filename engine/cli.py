"""Command line (click). Exit codes: 0 success; 1 ran but found failures; 2 bad usage or input."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from engine.errors import UserError

EXIT_FAILURES, EXIT_BAD_INPUT = 1, 2


class _Group(click.Group):
    """Turns any UserError into its message on stderr and exit 2 — never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as error:
            for line in error.lines():
                click.echo(f"error: {line}", err=True)
            ctx.exit(error.exit_code)


def _iso_date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date in YYYY-MM-DD form") from None


rules_option = click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                            help="Rules directory (default: the project's rules/).")


def _load_rules(rules_dir: Path | None):
    from engine.loader import DEFAULT_RULES, load_rules

    return load_rules(rules_dir or DEFAULT_RULES)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Shanghai skills-training subsidy and skilled-talent eligibility rules."""


@main.command()
@click.argument("file", type=str)
@click.option("--as-of", callback=_iso_date, help="Assessment date (YYYY-MM-DD) for a record without its own as_of; default today.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--programme", "programmes", multiple=True, help="Only this programme (repeatable); text output then explains it.")
@click.option("--explain", is_flag=True, help="Text output: show the reasons, parameters and clauses.")
@rules_option
def check(file: str, as_of: date | None, fmt: str, lang: str, programmes: tuple[str, ...], explain: bool,
          rules_dir: Path | None) -> None:
    """Decide every programme for one applicant (YAML or JSON file; - reads stdin)."""
    from engine.decide import decide
    from engine.records import parse_record
    from engine.render import to_json, to_text

    data = read_record_file(file)
    ruleset = _load_rules(rules_dir)
    unknown = [p for p in programmes if p not in ruleset.programmes]
    if unknown:
        raise click.BadParameter(f"unknown programme {', '.join(unknown)}; see the rules/programmes/ folder",
                                 param_hint="--programme")
    record = parse_record(data, default_as_of=as_of or date.today())
    decisions = decide(ruleset, record, list(programmes) or None)
    if fmt == "json":
        click.echo(to_json(decisions))
    else:
        click.echo(to_text(decisions, lang, explain or bool(programmes)), nl=False)


def read_record_file(file: str) -> dict[str, Any]:
    """A record from YAML or JSON (JSON is YAML); UserError naming the file on any problem."""
    import yaml

    name = "stdin" if file == "-" else file
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{name}: cannot read: {error}") from None
    try:
        data = yaml.safe_load(text) if not name.endswith(".json") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else (f":{error.lineno}" if hasattr(error, "lineno") else "")
        raise UserError(f"{name}{line}: not valid {'JSON' if name.endswith('.json') else 'YAML'}: "
                        f"{getattr(error, 'problem', None) or getattr(error, 'msg', error)}") from None
    if not isinstance(data, dict):
        raise UserError(f"{name}: expected one applicant record (a mapping of field: value)")
    return data


@main.group()
def rules() -> None:
    """Policy-staff tools: lint the rule files, run the cases."""


@rules.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def lint(directory: Path | None) -> None:
    """Load and check every rule file; print file:line for each problem."""
    from engine.errors import RuleError

    try:
        ruleset = _load_rules(directory)
    except RuleError as error:
        for line in error.lines():
            click.echo(line)
        click.echo(f"{len(error.problems)} problem(s)", err=True)
        sys.exit(EXIT_FAILURES)
    click.echo(f"ok: {len(ruleset.programmes)} programmes, {len(ruleset.parameters)} parameters, "
               f"{sum(len(d) for d in ruleset.definitions.values())} definitions ({ruleset.digest[:19]})")


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@rules_option
def test_cases(paths: tuple[Path, ...], rules_dir: Path | None) -> None:
    """Run the YAML cases (default: cases/*.yaml); print a summary per programme and every difference."""
    from engine.cases import case_files, load_cases, run_case, summary

    ruleset = _load_rules(rules_dir)
    cases = load_cases(case_files(list(paths)), set(ruleset.programmes))
    results = [run_case(ruleset, case) for case in cases]
    for result in results:
        if not result.passed:
            click.echo(f"FAIL {result.case.file}:{result.case.line} {result.case.spec.id}")
            for difference in result.differences:
                click.echo(f"     {difference}")
    width = max((len(p) for p, *_ in summary(results)), default=10)
    click.echo(f"{'programme':<{width}}  cases  failed  outcomes")
    for programme, count, failed, outcomes in summary(results):
        reached = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        click.echo(f"{programme:<{width}}  {count:>5}  {failed:>6}  {reached}")
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(EXIT_FAILURES)


if __name__ == "__main__":
    main()
