"""Command line (click). Exit codes: 0 success; 1 ran but found failures; 2 bad usage or input."""
from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, Callable

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
    """A date as a cell may give it (2024-06-01, 2024/6/1, 2024年6月1日): the record contract's parser."""
    if value is None:
        return None
    from engine.records import parse_date

    try:
        return parse_date(value)
    except ValueError as error:
        raise click.BadParameter(f"'{value}' {error}") from None


rules_option = click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                            help="Rules directory (default: the project's rules/).")


def _load_rules(rules_dir: Path | None):
    """The checked ruleset, from the cache when the rules and the engine are unchanged (`rules lint`
    and `rules test` always load afresh)."""
    from engine.rulecache import load_cached

    return load_cached(rules_dir)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Shanghai skills-training subsidy and skilled-talent eligibility rules."""


@main.command()
@click.argument("file", type=str, required=False)
@click.option("--as-of", callback=_iso_date, help="Assessment date (YYYY-MM-DD) for a record without its own as_of; default today.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--programme", "programmes", multiple=True, help="Only this programme (repeatable); text output then explains it.")
@click.option("--explain", is_flag=True, help="Text output: every condition with the facts it read, parameters, clauses.")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
              help="Set or override a field on top of FILE (repeatable), e.g. --set training_hours=24.")
@click.option("--ask", is_flag=True, help="Interview: ask for the facts that can still settle an undetermined outcome.")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="With --ask: save the completed record (YAML).")
@rules_option
def check(file: str | None, as_of: date | None, fmt: str, lang: str, programmes: tuple[str, ...], explain: bool,
          assignments: tuple[str, ...], ask: bool, save: Path | None, rules_dir: Path | None) -> None:
    """Decide every programme for one applicant.

    FILE is YAML or JSON (- reads stdin). Without FILE, the record is built from --set and, with
    --ask, from the interview.
    """
    from engine.decide import decide
    from engine.records import RecordError, parse_record
    from engine.render import to_json, to_text

    if file is None and not (assignments or ask):
        raise click.UsageError("give an applicant FILE, or --set FIELD=VALUE, or --ask for an interview")
    if save is not None and not ask:
        raise click.UsageError("--save writes the record an interview completes: give it with --ask")
    data = read_record_file(file, lang) if file is not None else {}
    given = _assignments(assignments)
    _override(data, given)
    ruleset = _load_rules(rules_dir)
    unknown = [p for p in programmes if p not in ruleset.programmes]
    if unknown:
        raise click.BadParameter(f"unknown programme {', '.join(unknown)}; `python cli.py programmes` lists them",
                                 param_hint="--programme")
    default_as_of = as_of or date.today()
    _programmes_of_the_record_type(ruleset, programmes, _record_type_given(data))  # before an interview is saved
    if ask:
        data = _interview(ruleset, data, default_as_of, lang, save, list(programmes) or None)
    try:
        record = parse_record(data, default_as_of=default_as_of)
    except RecordError as error:  # said in the language asked for, where the file gives the field
        raise UserError("\n".join(_located(error, data, file, given, lang))) from None
    _programmes_of_the_record_type(ruleset, programmes, record.record_type)
    if as_of is not None and record.as_of != as_of:  # the record's own date wins: say so, not silently
        click.echo(f"note: the record gives as_of {record.as_of}, which is used; --as-of {as_of} is for a record "
                   f"without one (--set as_of={as_of} replaces the record's)", err=True)
    decisions = decide(ruleset, record, list(programmes) or None)
    if fmt == "json":
        click.echo(to_json(decisions))
    else:
        click.echo(to_text(decisions, lang, explain or bool(programmes)), nl=False)


def _record_type_given(data: dict) -> str | None:
    """The record type the record gives (person unless it says otherwise); None if it gives a bad one."""
    from engine.records import field_for_header, is_blank, record_type_of

    for key, value in data.items():
        if field_for_header(key) == "record_type" and not is_blank(value):
            try:
                return record_type_of(value)
            except ValueError:
                return None  # parse_record says what is wrong with it
    return "person"


def _programmes_of_the_record_type(ruleset, programmes: tuple[str, ...], record_type: str | None) -> None:
    """--programme of the other record type would give no decision at all, and exit 0: bad usage."""
    other_type = [p for p in programmes if record_type is not None and ruleset.programmes[p].record_type != record_type]
    if other_type:
        raise click.BadParameter(f"{', '.join(other_type)} decides {ruleset.programmes[other_type[0]].record_type} "
                                 f"records; this record's record_type is {record_type}", param_hint="--programme")


def _located(error, data: dict, file: str | None, given: dict[str, str], lang: str) -> list[str]:
    """Each problem of the record, led by FILE:LINE where the file gives that field (a YAML file
    knows its lines; JSON, stdin's JSON and --set values have none)."""
    from engine.records import field_for_header

    overridden = {field_for_header(key) or key for key in given}
    lines: dict[str, int] = {}
    for key, line in getattr(data, "key_lines", {}).items():  # a key as written: a field or its label
        field = field_for_header(key) or str(key)
        if field not in overridden:
            lines.setdefault(field, line)
    name = "stdin" if file == "-" else file
    return [f"{name}:{lines[p.field]}: {p.describe(lang)}" if p.field in lines else p.describe(lang)
            for p in error.problems]


def _override(data: dict, given: dict[str, str]) -> None:
    """--set values into the record: one names a field as the file may (the field or its Chinese
    label), and replaces the file's value under either name."""
    from engine.records import field_for_header

    for key, value in given.items():
        field = field_for_header(key)
        if field is not None:
            for written in [k for k in data if k != key and field_for_header(k) == field]:
                del data[written]
        data[key] = value


def _assignments(assignments: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"'{item}' is not FIELD=VALUE", param_hint="--set")
        values[name.strip()] = value.strip()
    return values


def _interview(ruleset, data: dict, default_as_of: date, lang: str, save: Path | None,
               only: list[str] | None) -> dict:
    from engine import interview
    from engine.records import record_to_dict, parse_record

    if "applicant_id" not in data and "申请编号" not in data:
        data["applicant_id"] = click.prompt("申请编号（applicant_id）" if lang == "zh" else "applicant_id").strip()
    parse_record(data, default_as_of=default_as_of)  # a bad starting record is refused before any question
    try:
        data = interview.run(ruleset, data, default_as_of, lang, ask=lambda q: click.prompt(q, default="",
                             show_default=False), say=click.echo, only=only)
    except click.Abort:
        click.echo("\n" + ("（输入结束，按已知信息判断）" if lang == "zh" else "(input ended; deciding on what is known)"))
    click.echo("\n" + ("没有其他问题会改变结果。" if lang == "zh" else "No other answer could change an outcome."))
    if save is not None:
        import yaml

        from engine.atomic import write_atomically

        record = record_to_dict(parse_record(data, default_as_of=default_as_of))
        write_atomically(save, yaml.safe_dump(record, allow_unicode=True, sort_keys=False))
        click.echo(("已保存：" if lang == "zh" else "saved: ") + str(save))
    return data


@main.command("programmes")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@rules_option
def list_programmes(lang: str, rules_dir: Path | None) -> None:
    """List the programme catalogue: id, record type, force, period and title."""
    from engine.render import FORCE_TEXT

    ruleset = _load_rules(rules_dir)
    for programme in sorted(ruleset.programmes.values(), key=lambda p: (p.record_type, p.id)):
        period = f"{programme.valid_from}–{programme.valid_to or ''}"
        click.echo(f"{programme.id:<40} {programme.record_type:<10} {programme.force:<11} {period:<23} "
                   f"{programme.title.get(lang)}")
    click.echo(f"{len(ruleset.programmes)} programmes. " + "; ".join(
        f"{force}: {text.get(lang)}" for force, text in FORCE_TEXT.items()))


@main.command("explain")
@click.argument("programme_id")
@click.option("--as-of", callback=_iso_date, help="Show the parameters in force on this day (default today).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@rules_option
def explain_programme(programme_id: str, as_of: date | None, lang: str, rules_dir: Path | None) -> None:
    """A programme in plain language: conditions, parameters in force (with history), clause text."""
    from engine.describe import describe_programme

    ruleset = _load_rules(rules_dir)
    if programme_id not in ruleset.programmes:
        import difflib

        hint = difflib.get_close_matches(programme_id, ruleset.programmes, n=1)
        raise click.BadParameter(f"unknown programme '{programme_id}'" + (f"; did you mean '{hint[0]}'?" if hint else ""),
                                 param_hint="PROGRAMME_ID")
    click.echo(describe_programme(ruleset, ruleset.programmes[programme_id], as_of or date.today(), lang))


@main.command("fields")
@click.option("--record-type", type=click.Choice(["person", "enterprise"]), default="person", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True,
              help="markdown: the reference page of both record types (docs/fields.md).")
def list_fields(record_type: str, lang: str, fmt: str) -> None:
    """The record fields and every accepted value: headers, what a cell may hold, labels and synonyms."""
    from engine.fieldguide import as_markdown, as_text

    click.echo(as_markdown() if fmt == "markdown" else as_text(record_type, lang))


def read_record_file(file: str, lang: str = "en") -> dict[str, Any]:
    """A record from YAML or JSON; UserError naming the file (and line) on any problem, said in
    `lang`. A key given twice is refused: the second would silently win. A date that is no day
    (2024-02-30, unquoted) is left as text, for parse_record to refuse by field."""
    from engine.errors import Problem, RuleError
    from engine.messages import in_chinese
    from engine.yamlsource import parse_yaml

    def refuse(line: int | None, message: str) -> UserError:
        return UserError(str(Problem(name, line, in_chinese(message) if lang == "zh" else message)))

    name = "stdin" if file == "-" else file
    try:
        # utf-8-sig: Windows Notepad starts its UTF-8 files with a byte-order mark, which json refuses
        text = sys.stdin.read().removeprefix("\ufeff") if file == "-" else Path(file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise refuse(None, f"cannot read: {error}") from None
    try:
        data = (json.loads(text, object_pairs_hook=_unique_keys) if name.endswith(".json")
                else parse_yaml(text, name, bad_dates_as_text=True))
    except RuleError as error:  # parse_yaml's, with the file and line
        raise UserError("\n".join(str(refuse(p.line, p.message)) for p in error.problems)) from None
    except json.JSONDecodeError as error:
        raise refuse(error.lineno, f"not valid JSON: {error.msg}") from None
    except ValueError as error:  # _unique_keys
        raise refuse(None, str(error)) from None
    if not isinstance(data, dict):
        raise refuse(None, "expected one applicant record (a mapping of field: value)")
    return data


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key comes twice (json.loads keeps the last silently)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key '{key}' in an object: give each field once")
        data[key] = value
    return data


@main.command()
@click.argument("in_path", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="OUT: .csv, .xlsx or .parquet; written only when complete.")
@click.option("--as-of", callback=_iso_date, help="Assessment date for rows without their own as_of; default today.")
@click.option("--explain", "explain_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the full decision JSON of every row to this .jsonl file, for audit.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes deciding rows in parallel on the per-record path (default: the number of cores).")
@rules_option
@click.option("--per-record", is_flag=True,
              help="Decide each row with the per-record evaluator (as check does) instead of column-wise; "
                   "the output is the same, only slower.")
@click.option("--sheet", metavar="NAME", help="The worksheet of an xlsx IN to read (default: the first).")
def batch(in_path: Path, out_path: Path, as_of: date | None, explain_path: Path | None, workers: int | None,
          per_record: bool, rules_dir: Path | None, sheet: str | None) -> None:
    """Decide every row of a roster (.csv, .xlsx or .parquet) into OUT with decision columns.

    Every input row is kept, in order, with <programme>.outcome, .amount and .reason columns.
    Rows with errors go to the error sheet (xlsx) or OUT's .errors file (csv, parquet); the others
    still go through. Exit 1 when any row failed.
    """
    from engine.allocator import keep_freed_memory
    from engine.batch import run_batch
    from engine.loader import DEFAULT_RULES

    from engine.tabular import table_format

    keep_freed_memory()  # before polars starts

    table_format(in_path), table_format(out_path)
    if not in_path.is_file():
        raise UserError(f"{in_path}: no such file")
    _check_outputs(in_path, out_path, explain_path)
    ruleset = _load_rules(rules_dir)
    bar = None
    on_terminal = sys.stderr.isatty()

    def start(table):
        nonlocal bar
        if on_terminal:
            from tqdm import tqdm

            bar = tqdm(total=table.total, unit="rows", unit_scale=True, file=sys.stderr, dynamic_ncols=True)

    workers = workers or (os.cpu_count() or 1)
    stopped_by, restore = _stop_on_termination()
    try:
        try:
            summary = run_batch(ruleset, rules_dir or DEFAULT_RULES, in_path, out_path, as_of or date.today(),
                                explain_path, workers, progress=lambda n: bar.update(n) if bar else None,
                                on_start=start, column_wise=not per_record, sheet=sheet)
            _ignore_stops()  # the outputs are in place: a late signal must not report "nothing written"
        except KeyboardInterrupt:
            click.echo("interrupted: no output was written", err=True)
            sys.exit(128 + (stopped_by[0] if stopped_by else 2))
        except OSError as error:  # writing failed past the checks (a full disk, a file system's own limits)
            raise UserError(f"{error.filename or out_path}: cannot write: {error.strerror or error}; "
                            "no output was written") from None
        finally:
            if bar is not None:
                bar.close()
        _print_summary(summary, ruleset)
    finally:
        if not stopped_by:  # the process's own handling again (it may go on: a test, a caller in Python);
            restore()       # a stopped run keeps ignoring further stops until it has exited
    if summary.errors:
        sys.exit(EXIT_FAILURES)


_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # what stops a batch (SIGHUP: not on every platform)


def _stop_on_termination() -> tuple[list[int], Callable[[], None]]:
    """SIGTERM and SIGHUP stop a batch as Ctrl-C does, so its partial files are removed (they were
    left behind); the list returned gets the signal's number, and the function returned puts the
    handling back as it was. Once stopping, further stop signals are ignored: a second one during
    the clean-up would cut it short and leave the files."""
    import signal
    import threading

    received: list[int] = []
    # a signal the caller set to be ignored (nohup, a script's `cmd &`) stays ignored
    names = [name for name in _STOP_SIGNALS
             if hasattr(signal, name) and signal.getsignal(getattr(signal, name)) is not signal.SIG_IGN]

    def stop(signum, frame):
        _ignore_stops()
        received.append(signum)
        watchdog = threading.Timer(CLEAN_UP_SECONDS, _give_up, (signum,))
        watchdog.daemon = True
        watchdog.start()
        raise KeyboardInterrupt

    before = {name: signal.getsignal(getattr(signal, name)) for name in names}
    for name in names:
        signal.signal(getattr(signal, name), stop)
    return received, lambda: [signal.signal(getattr(signal, name), handler) for name, handler in before.items()]


CLEAN_UP_SECONDS = 10  # a stopped run's clean-up; a worker killed in a queue's lock can hang the pool's


def _give_up(signum: int) -> None:
    """The clean-up did not finish: remove the partial files and exit anyway."""
    from engine.tabular import UNFINISHED

    for part in list(UNFINISHED):
        part.unlink(missing_ok=True)
    sys.stderr.write("interrupted: no output was written (the clean-up was cut short)\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def _ignore_stops() -> None:
    import signal

    for name in _STOP_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def _check_outputs(in_path: Path, out_path: Path, explain_path: Path | None) -> None:
    """Refuse, before any work, outputs that would overwrite the input or each other, or go to a
    directory that is not there."""
    from engine.tabular import output_files

    written = [("-o", path) for path in output_files(out_path)] + ([("--explain", explain_path)] if explain_path else [])
    seen: dict[Path, str] = {in_path.resolve(): "the input file"}
    for option, path in written:
        if len(path.name.encode()) > 255:  # first: asking the file system about it fails too
            raise click.BadParameter(f"{path}: the file name is longer than 255 bytes", param_hint=option)
        directory = path.resolve().parent
        if not directory.is_dir():
            raise click.BadParameter(f"{path}: the directory {directory} does not exist", param_hint=option)
        if path.is_dir():
            raise click.BadParameter(f"{path} is a directory; a file is written there", param_hint=option)
        if not os.access(directory, os.W_OK):
            raise click.BadParameter(f"{path}: cannot write in the directory {directory}", param_hint=option)
        if path.resolve() in seen:
            raise click.BadParameter(f"{path} would overwrite {seen[path.resolve()]}", param_hint=option)
        seen[path.resolve()] = f"the file -o writes ({path})" if option == "-o" else str(path)


def _print_summary(summary, ruleset) -> None:
    click.echo(f"rows: {summary.rows}  decided: {summary.decided}  rows with errors: {summary.errors}"
               f"  ({summary.path})")
    for note in summary.notes:
        click.echo(note)
    if summary.blank_rows.count:
        blank = summary.blank_rows
        click.echo(f"rows with no data, left out of OUT: {blank.count} (row {', '.join(map(str, blank.first))}"
                   f"{' …' if blank.count > len(blank.first) else ''})")
    if summary.unknown_columns:
        click.echo("columns that are not record fields (kept in OUT, not read): " + ", ".join(summary.unknown_columns))
    width = max(len(p) for p in ruleset.programmes)
    # eligible for a payment whose amount is not known (a fact missing, a figure not set): not in the total
    unpriced = {p: n for p, n in summary.unpriced.items() if ruleset.programmes[p].amount is not None and n}
    click.echo(f"{'programme':<{width}}  {'eligible':>9} {'ineligible':>10} {'undetermined':>12}  {'total amount':>16}"
               + ("  eligible, no amount yet" if unpriced else ""))
    for programme in sorted(summary.outcomes):
        counts = summary.outcomes[programme]
        amount = summary.amounts.get(programme)
        click.echo(f"{programme:<{width}}  {counts.get('eligible', 0):>9} {counts.get('ineligible', 0):>10} "
                   f"{counts.get('undetermined', 0):>12}  {format(amount, ',.2f') if amount is not None else '':>16}"
                   + (f"  {unpriced.get(programme, ''):>24}" if unpriced else ""))
    click.echo("written: " + ", ".join(str(p) for p in summary.outputs))


@main.command()
@click.option("--rows", type=click.IntRange(1), required=True, help="How many applicants.")
@click.option("-o", "--output", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=".csv, .xlsx or .parquet; written only when complete.")
@click.option("--record-type", type=click.Choice(["person", "enterprise"]), default="person", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives the same file.")
@click.option("--bad-share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of rows with one bad value, to exercise error handling.")
@click.option("--unknown-share", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Share of optional cells left blank (unknown).")
@click.option("--chinese", is_flag=True, help="Chinese headers and labels, office-style dates and numbers.")
@click.option("--as-of", callback=_iso_date, help="Assessment date most rows carry (default 2024-06-01).")
def synth(rows: int, out_path: Path, record_type: str, seed: int, bad_share: float, unknown_share: float,
          chinese: bool, as_of: date | None) -> None:
    """Write realistic synthetic applicants, for demos, tests and benchmarks."""
    from engine.synth import write_synthetic
    from engine.tabular import table_format

    table_format(out_path)
    written = write_synthetic(out_path, rows, seed=seed, record_type=record_type, bad_share=bad_share,
                              unknown_share=unknown_share, chinese=chinese, as_of=as_of)
    click.echo(f"wrote {written} {record_type} rows to {out_path}")


@main.group()
def rules() -> None:
    """Policy-staff tools: lint the rule files, run the cases."""


@rules.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--as-of", callback=_iso_date, help="Day for the summary of provisional figures (default today).")
def lint(directory: Path | None, as_of: date | None) -> None:
    """Load and check every rule file; print file:line for each problem; summarise provisional figures."""
    from engine.errors import RuleError
    from engine.lint import lint as lint_rules
    from engine.loader import DEFAULT_RULES, load_rules

    try:
        ruleset = load_rules(directory or DEFAULT_RULES)  # afresh: lint is the check, not a cache of it
    except RuleError as error:
        for line in error.lines():
            click.echo(line)
        click.echo(f"{len(error.problems)} problem(s)", err=True)
        sys.exit(EXIT_FAILURES)
    report = lint_rules(ruleset, as_of or date.today())
    for problem in report.errors:
        click.echo(str(problem))
    counts = {kind: sum(p[1] == kind for p in report.provisional) for kind in ("public", "unset")}
    click.echo(f"figures in force that are provisional: {counts['public']} public (to be confirmed by policy staff), "
               f"{counts['unset']} unset (no published figure)")
    for name, provenance, since, file in report.provisional:
        click.echo(f"  {provenance:<6} {name} (since {since}; {file})")
    unbatchable = _column_wise_refusals(ruleset)
    for problem in unbatchable:
        click.echo(problem)
    if report.errors or unbatchable:
        click.echo(f"{len(report.errors) + len(unbatchable)} problem(s)", err=True)
        sys.exit(EXIT_FAILURES)
    click.echo(f"ok: {len(ruleset.programmes)} programmes, {len(ruleset.parameters)} parameters, "
               f"{sum(len(d) for d in ruleset.definitions.values())} definitions ({ruleset.digest[:19]})")


def _column_wise_refusals(ruleset) -> list[str]:
    """What the batch's column-wise compiler cannot express exactly: such a rule loads and decides
    one record, yet stops every batch, so lint says so (a rule file's first refusal per record type)."""
    from engine.columnar import ColumnarError, CompiledRuleset

    refusals = []
    for record_type in sorted({p.record_type for p in ruleset.programmes.values()}):
        try:
            CompiledRuleset(ruleset, record_type)
        except ColumnarError as error:
            refusals.append(str(error))
    return refusals


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Also report, per condition, whether the cases made it true, false and unknown, and list the gaps.")
@rules_option
def test_cases(paths: tuple[Path, ...], show_coverage: bool, rules_dir: Path | None) -> None:
    """Run the YAML cases (default: cases/*.yaml); print a summary per programme and every difference."""
    from engine.cases import case_files, coverage, load_cases, run_case, summary

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
    if show_coverage:
        report = coverage(ruleset, results)
        full = sum(len(seen) == 3 for seen in report.conditions.values())
        click.echo(f"coverage: {full} of {len(report.conditions)} conditions made true, false and unknown by the "
                   f"cases; {sum(len(o) == 3 for o in report.outcomes.values())} of {len(report.outcomes)} "
                   "programmes reach all three outcomes")
        for gap in report.gaps():
            click.echo(f"  gap: {gap}")
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(EXIT_FAILURES)


@rules.command()
@click.option("--base", required=True, metavar="REV_OR_DIR",
              help="The rules to compare with: a git revision of this project (HEAD, a commit, a tag) or a rules folder.")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Applicants to evaluate: .csv, .xlsx or .parquet.")
@click.option("--as-of", callback=_iso_date, help="Assessment date for rows without their own as_of; default today.")
@click.option("--at", callback=_iso_date,
              help="Assess every row on this date, whatever its own as_of (e.g. the day a new rate starts).")
@click.option("-o", "--output", "changed_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the changed rows with both decisions here (default: impact-changes.csv).")
@rules_option
def impact(base: str, data_path: Path, as_of: date | None, at: date | None, changed_path: Path | None,
           rules_dir: Path | None) -> None:
    """Which applicants a rule change flips: decide DATA under the base and the working rules."""
    from engine.impact import impact as measure_impact
    from engine.loader import DEFAULT_RULES
    from engine.rulediff import load_base
    from engine.tabular import table_format

    table_format(data_path)
    changed_path = changed_path or Path("impact-changes.csv")
    table_format(changed_path)
    base_rules = load_base(base, (rules_dir or DEFAULT_RULES).resolve().parent)
    work_rules = _load_rules(rules_dir)
    report = measure_impact(base_rules, work_rules, data_path, as_of or date.today(), changed_path, at)
    click.echo(f"base {base_rules.version} ({base_rules.digest[:19]}) → working {work_rules.version} "
               f"({work_rules.digest[:19]})")
    click.echo(f"rows: {report.rows}  invalid: {report.invalid_rows}  changed: {report.changed_rows}")
    for line in report.lines():
        click.echo(f"  {line}")
    click.echo(f"changed rows with both decisions: {changed_path}")


@rules.command()
@click.option("--base", required=True, metavar="REV_OR_DIR",
              help="The rules to compare with: a git revision of this project or a rules folder.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True)
@rules_option
def diff(base: str, lang: str, rules_dir: Path | None) -> None:
    """What changed in the rules themselves: programmes, conditions, parameter values and dates."""
    from engine.loader import DEFAULT_RULES
    from engine.rulediff import diff_rulesets, load_base, render_changes

    work_root = rules_dir or DEFAULT_RULES
    base_rules = load_base(base, work_root.resolve().parent)
    changes = diff_rulesets(base_rules, _load_rules(rules_dir), work_root=work_root)
    click.echo(render_changes(changes, lang, base_label=base, work_label=str(work_root)))


if __name__ == "__main__":
    main()
