"""What changed in the rules themselves: a readable list of changes, not a text diff.

Policy staff review a rule change before it goes live. A text diff shows lines; this shows what the
lines mean: a programme's force, a condition's expression or sentence, a dated parameter value that
starts on a new day, a citation dropped. Two loaded rule sets are compared object by object:

- programmes added or removed; per programme its title, summary, force, beneficiary, effective
  period, citations, interpretations; its conditions by id (expression compared in canonical form,
  so a change of spacing or line breaks is no change), their sentences, interpretations and
  citations; the all/any structure of its groups; the cases of its amount and effect rules; its
  local definitions;
- shared definitions (rules/definitions/);
- parameters added or removed; their dated values added, removed or changed — the value (a table
  key by key), provenance, source, note and start date;
- the policy source texts (a clause whose text changed) and the rule set's name and version.

``diff_rulesets(base, work)`` gives the changes; ``render_changes(changes, lang)`` the text (zh or en);
``load_base(spec, project_root)`` loads the base from a rules folder or a git revision of the project.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from engine.errors import Problem, RuleError, UserError
from engine.expression import DefinitionRef, Literal, Node, children, to_text
from engine.parameters import DatedParameter, ParameterValue
from engine.ruleset import Case, Citation, Condition, Definition, Group, Programme, Ruleset, Text, ValueRule
from engine.types import UNSET, LabelledEnum

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
AREAS = ("ruleset", "programme", "definition", "parameter", "source")


@dataclass(frozen=True)
class Change:
    """One change in the rules.

    kind: added | removed | changed.
    area: ruleset | programme | definition | parameter | source.
    subject: the programme id, parameter name, shared definition name or source document id.
    what: the aspect that changed —
      ruleset: ``name``, ``version``;
      programme: ``programme`` (added/removed whole), ``title``, ``summary``, ``record_type``, ``force``,
        ``beneficiary``, ``beneficiary_from``, ``effective``, ``citation``, ``interpretation``,
        ``condition`` (added/removed), ``condition.when|says|interpretation|citation``, ``group.structure``,
        ``group.says``, ``rule`` (an amount/effect added/removed), ``rule.type|money|rounding|for_outcomes|says``,
        ``case`` (added/removed), ``case.when|value|says``, ``otherwise``, and local ``definition…``;
      definition: ``definition`` (added/removed), ``definition.value|type|says|interpretation|citation``;
      parameter: ``parameter`` (added/removed), ``description``, ``kind``, ``unit``, ``keyed_by``, ``citation``,
        ``value`` (a dated value added/removed), ``value.value``, ``value.key`` (one table entry),
        ``value.provenance|source|note``, ``value.start`` (a start date moved);
      source: ``document``, ``document.title``, ``document.text``, ``clause``.
    item: which one within the subject: a condition id, a dated value's start date, ``amount case 2``…
    key: a table key (LabelledEnum) of a parameter value; ``zh``/``en`` for a sentence; for an added
      condition, the group that holds it (``any(contribution)``) when it is not the top-level group.
    before / after: the old and new value (None when absent). For an added dated value, ``before`` is
      the base value that was in force on its start day; for a removed one, ``after`` the working
      value in force from that day instead.
    where: file:line in the working rules (None when nothing is left there); was: file:line in the base.
    """

    kind: str
    area: str
    subject: str
    what: str
    item: str | None = None
    key: Any = None
    before: Any = None
    after: Any = None
    where: str | None = None
    was: str | None = None
    title: Text | None = None  # the subject's title or description, for headings
    used_by: tuple[str, ...] = ()  # programmes that read this parameter or definition

    def __str__(self) -> str:
        return _one_line(self, "en")


class Period(NamedTuple):
    valid_from: date
    valid_to: date | None


# =========================================================================================== diff


def diff_rulesets(base: Ruleset, work: Ruleset, work_root: Path | str | None = None) -> list[Change]:
    """Every change from ``base`` to ``work``, ordered by area, then programme / parameter name.

    ``work_root`` is the working rules folder, used to give precise file:line for items the loaded
    rules do not locate (citations, dated values, table keys). Without it, the project's own rules/
    is used when ``work`` was loaded from there; otherwise items are located to their file.
    """
    differ = _Differ(base, work, _Locator(_resolve_root(work, work_root)))
    differ.run()
    order = {area: i for i, area in enumerate(AREAS)}
    return sorted(differ.changes, key=lambda c: (order[c.area], c.subject))  # sorted() is stable


def canonical(tree: Node) -> str:
    """The expression's canonical text: spacing, line breaks, redundant parentheses, `60%` vs `0.6`
    and enumeration spellings (`'高级工'` vs `senior`) do not matter."""
    return to_text(_normalise(tree))


def _normalise(node: Node) -> Node:
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, LabelledEnum):
            return Literal(0, "enum:" + value.value)
        if isinstance(value, Decimal):
            return Literal(0, Decimal(_decimal(value)))
        return node
    updates = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Node):
            updates[f.name] = _normalise(value)
        elif isinstance(value, tuple) and value and all(isinstance(v, Node) for v in value):
            updates[f.name] = tuple(_normalise(v) for v in value)
    return dataclasses.replace(node, **updates) if updates else node


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _same_text(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return " ".join(a.split()) == " ".join(b.split())


def _flat(text: str) -> str:
    return " ".join(text.split())


class _Differ:
    def __init__(self, base: Ruleset, work: Ruleset, locator: "_Locator") -> None:
        self.base, self.work, self.loc = base, work, locator
        self.changes: list[Change] = []
        self.parameter_users = _parameter_users(work, base)
        self.definition_users = _definition_users(work, base)

    def add(self, kind, area, subject, what, **fields) -> None:
        self.changes.append(Change(kind, area, subject, what, **fields))

    def run(self) -> None:
        self.ruleset()
        for pid in sorted(set(self.base.programmes) | set(self.work.programmes)):
            self.programme(self.base.programmes.get(pid), self.work.programmes.get(pid), pid)
        for record_type in sorted(set(self.base.definitions) | set(self.work.definitions)):
            old = self.base.definitions.get(record_type, {})
            new = self.work.definitions.get(record_type, {})
            for name in sorted(set(old) | set(new)):
                subject = name
                users = self.definition_users.get((record_type, name), ())
                self.definition(old.get(name), new.get(name), "definition", subject, None, users)
        for name in sorted(set(self.base.parameters) | set(self.work.parameters)):
            self.parameter(self.base.parameters.get(name), self.work.parameters.get(name), name)
        self.sources()

    # -- rule set
    def ruleset(self) -> None:
        for what in ("name", "version"):
            old, new = getattr(self.base, what), getattr(self.work, what)
            if old != new:
                self.add(CHANGED, "ruleset", "ruleset", what, before=old, after=new,
                         where=self.loc.at(f"{self.loc.prefix}ruleset.yaml", what))

    # -- programmes
    def programme(self, old: Programme | None, new: Programme | None, pid: str) -> None:
        if old is None or new is None:
            kind = ADDED if old is None else REMOVED
            self.add(kind, "programme", pid, "programme", before=old, after=new, title=(new or old).title,
                     where=_at(new.file, new.line) if new else None, was=_at(old.file, old.line) if old else None)
            return
        ctx = dict(title=new.title)
        here = lambda *path: self.loc.at(new.file, *path)  # noqa: E731

        def changed(what, before, after, *path, **extra):
            self.add(CHANGED, "programme", pid, what, before=before, after=after, where=here(*path), **ctx, **extra)

        self.texts(old.title, new.title, lambda k, b, a: changed("title", b, a, "title", k, key=k))
        self.texts(old.summary, new.summary, lambda k, b, a: changed("summary", b, a, "summary", k, key=k))
        for what in ("record_type", "force", "beneficiary", "beneficiary_from"):
            if getattr(old, what) != getattr(new, what):
                changed(what, getattr(old, what), getattr(new, what), what)
        if (old.valid_from, old.valid_to) != (new.valid_from, new.valid_to):
            changed("effective", Period(old.valid_from, old.valid_to), Period(new.valid_from, new.valid_to),
                    "effective")
        self.citations(old.cites, new.cites, "programme", pid, None, lambda i: here("cites", i), ctx, old.file)
        self.interpretations(old, new, pid, here, ctx)
        self.conditions(old, new, pid, ctx)
        names = list(new.definitions) + [n for n in old.definitions if n not in new.definitions]
        for name in names:
            self.definition(old.definitions.get(name), new.definitions.get(name), "programme", pid, ctx["title"], (),
                            item=name)
        self.value_rule(old.amount, new.amount, pid, "amount", ("amount",), new.file, ctx)
        for name in list(new.effect) + [n for n in old.effect if n not in new.effect]:
            self.value_rule(old.effect.get(name), new.effect.get(name), pid, f"effect {name}", ("effect", name),
                            new.file, ctx)

    def texts(self, old: Text | None, new: Text | None, report) -> None:
        """A bilingual text: one change per language that changed (whitespace does not count)."""
        for lang in ("zh", "en"):
            a = old.get(lang) if old else None
            b = new.get(lang) if new else None
            if not _same_text(a, b):
                report(lang, a, b)

    def interpretations(self, old: Programme, new: Programme, pid: str, here, ctx) -> None:
        before = [(t.zh, t.en) for t in old.interpretations]
        after = [(t.zh, t.en) for t in new.interpretations]
        norm = lambda items: [tuple(_flat(x) for x in item) for item in items]  # noqa: E731
        matcher = SequenceMatcher(a=norm(before), b=norm(after), autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
            for k in range(pairs):
                self.texts(old.interpretations[i1 + k], new.interpretations[j1 + k],
                           lambda lang, b, a, j=j1 + k: self.add(
                               CHANGED, "programme", pid, "interpretation", item=str(j + 1), key=lang, before=b,
                               after=a, where=here("interpretations", j), **ctx))
            for i in range(i1 + pairs, i2):
                self.add(REMOVED, "programme", pid, "interpretation", item=str(i + 1), before=old.interpretations[i],
                         was=_at(old.file, None), **ctx)
            for j in range(j1 + pairs, j2):
                self.add(ADDED, "programme", pid, "interpretation", item=str(j + 1), after=new.interpretations[j],
                         where=here("interpretations", j), **ctx)

    def citations(self, old: list[Citation], new: list[Citation], area: str, subject: str, item: str | None,
                  where_of, ctx: dict, was: str | None, prefix: str = "") -> None:
        """Citations by document and clause; the same clause with another quote is a change."""
        exact = lambda c: (c.doc, c.clause or "", _fold(c.quote))  # noqa: E731
        unmatched_old = list(old)
        unmatched_new: list[tuple[int, Citation]] = []
        for index, c in enumerate(new):
            twin = next((o for o in unmatched_old if exact(o) == exact(c)), None)
            if twin is None:
                unmatched_new.append((index, c))
            else:
                unmatched_old.remove(twin)
        for index, c in unmatched_new:  # the same clause with another quote: a change of that citation
            before = next((o for o in unmatched_old if (o.doc, o.clause) == (c.doc, c.clause)), None)
            if before is None:
                self.add(ADDED, area, subject, prefix + "citation", item=item, after=c, where=where_of(index), **ctx)
            else:
                unmatched_old.remove(before)
                self.add(CHANGED, area, subject, prefix + "citation", item=item, before=before, after=c,
                         where=where_of(index), **ctx)
        for c in unmatched_old:
            self.add(REMOVED, area, subject, prefix + "citation", item=item, before=c, was=was, **ctx)

    # -- conditions and groups
    def conditions(self, old: Programme, new: Programme, pid: str, ctx) -> None:
        old_conditions = {c.id: c for c in old.eligible_when.conditions()}
        new_conditions = {c.id: c for c in new.eligible_when.conditions()}
        parents = _parents(new.eligible_when)
        for cid, cond in new_conditions.items():
            before = old_conditions.get(cid)
            where = _at(cond.file, cond.line)
            if before is None:
                self.add(ADDED, "programme", pid, "condition", item=cid, after=cond, where=where,
                         key=parents.get(cid), **ctx)
                continue
            if canonical(before.tree) != canonical(cond.tree):
                self.add(CHANGED, "programme", pid, "condition.when", item=cid, before=_flat(before.source),
                         after=_flat(cond.source), where=where, **ctx)
            self.texts(before.says, cond.says, lambda lang, b, a: self.add(
                CHANGED, "programme", pid, "condition.says", item=cid, key=lang, before=b, after=a, where=where, **ctx))
            self.texts(before.interpretation, cond.interpretation, lambda lang, b, a: self.add(
                CHANGED if b and a else ADDED if a else REMOVED, "programme", pid, "condition.interpretation",
                item=cid, key=lang, before=b, after=a, where=where, **ctx))
            self.citations(before.cites, cond.cites, "programme", pid, cid, lambda i: where, ctx,
                           _at(before.file, before.line), prefix="condition.")
        for cid, cond in old_conditions.items():
            if cid not in new_conditions:
                self.add(REMOVED, "programme", pid, "condition", item=cid, before=cond,
                         was=_at(cond.file, cond.line), **ctx)
        common = set(old_conditions) & set(new_conditions)
        if _outline(old.eligible_when, common) != _outline(new.eligible_when, common):
            self.add(CHANGED, "programme", pid, "group.structure", before=_outline(old.eligible_when),
                     after=_outline(new.eligible_when), where=_at(new.file, new.eligible_when.line), **ctx)
        old_groups, new_groups = _named_groups(old.eligible_when), _named_groups(new.eligible_when)
        for gid, group in new_groups.items():
            if gid in old_groups:
                self.texts(old_groups[gid].says, group.says, lambda lang, b, a: self.add(
                    CHANGED, "programme", pid, "group.says", item=gid, key=lang, before=b, after=a,
                    where=_at(new.file, group.line), **ctx))

    # -- amount and effect rules
    def value_rule(self, old: ValueRule | None, new: ValueRule | None, pid: str, name: str, path: tuple,
                   file: str, ctx) -> None:
        if old is None and new is None:
            return
        if old is None or new is None:
            self.add(ADDED if old is None else REMOVED, "programme", pid, "rule", item=name, before=old, after=new,
                     where=self.loc.at(file, *path) if new else None, **ctx)
            return
        where = self.loc.at(file, *path)
        for what in ("type", "money", "rounding", "for_outcomes"):
            a, b = getattr(old, what), getattr(new, what)
            if what == "type":
                a, b = a.describe(), b.describe()
            if a != b:
                self.add(CHANGED, "programme", pid, "rule." + what, item=name, before=a, after=b, where=where, **ctx)
        self.texts(old.says, new.says, lambda lang, b, a: self.add(
            CHANGED, "programme", pid, "rule.says", item=name, key=lang, before=b, after=a, where=where, **ctx))
        key = lambda case: (canonical(case.when) if case.when is not None else "", canonical(case.value))  # noqa
        matcher = SequenceMatcher(a=[key(c) for c in old.cases], b=[key(c) for c in new.cases], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            pairs = [(i1 + k, j1 + k) for k in range(min(i2 - i1, j2 - j1))] if op in ("equal", "replace") else []
            for i, j in pairs:
                self.case(old.cases[i], new.cases[j], pid, f"{name} case {j + 1}", _at(file, new.cases[j].line), ctx)
            for i in range(i1 + len(pairs), i2):
                self.add(REMOVED, "programme", pid, "case", item=f"{name} case {i + 1}", before=old.cases[i],
                         was=_at(file, old.cases[i].line), **ctx)
            for j in range(j1 + len(pairs), j2):
                self.add(ADDED, "programme", pid, "case", item=f"{name} case {j + 1}", after=new.cases[j],
                         where=_at(file, new.cases[j].line), **ctx)
        a = canonical(old.otherwise.value) if old.otherwise else None
        b = canonical(new.otherwise.value) if new.otherwise else None
        if a != b:
            self.add(CHANGED if a and b else ADDED if b else REMOVED, "programme", pid, "otherwise", item=name,
                     before=_flat(old.otherwise.value_source) if old.otherwise else None,
                     after=_flat(new.otherwise.value_source) if new.otherwise else None,
                     where=self.loc.at(file, *path, "otherwise") if new.otherwise else where, **ctx)

    def case(self, old: Case, new: Case, pid: str, item: str, where: str, ctx) -> None:
        if (canonical(old.when) if old.when else None) != (canonical(new.when) if new.when else None):
            self.add(CHANGED, "programme", pid, "case.when", item=item, before=_flat(old.when_source or ""),
                     after=_flat(new.when_source or ""), where=where, **ctx)
        if canonical(old.value) != canonical(new.value):
            self.add(CHANGED, "programme", pid, "case.value", item=item, before=_flat(old.value_source),
                     after=_flat(new.value_source), where=where, **ctx)
        self.texts(old.says, new.says, lambda lang, b, a: self.add(
            CHANGED, "programme", pid, "case.says", item=item, key=lang, before=b, after=a, where=where, **ctx))

    # -- definitions (shared: area "definition"; local: within the programme, item = its name)
    def definition(self, old: Definition | None, new: Definition | None, area: str, subject: str,
                   title: Text | None, users: tuple[str, ...], item: str | None = None) -> None:
        ctx = dict(title=title if area == "programme" else (new or old).says, used_by=users)
        if old is None or new is None:
            self.add(ADDED if old is None else REMOVED, area, subject, "definition", item=item, before=old, after=new,
                     where=_at(new.file, new.line) if new else None, was=_at(old.file, old.line) if old else None,
                     **ctx)
            return
        where = _at(new.file, new.line)
        if canonical(old.tree) != canonical(new.tree):
            self.add(CHANGED, area, subject, "definition.value", item=item, before=_flat(old.source),
                     after=_flat(new.source), where=where, **ctx)
        if old.type != new.type:
            self.add(CHANGED, area, subject, "definition.type", item=item, before=old.type.describe(),
                     after=new.type.describe(), where=where, **ctx)
        self.texts(old.says, new.says, lambda lang, b, a: self.add(
            CHANGED, area, subject, "definition.says", item=item, key=lang, before=b, after=a, where=where, **ctx))
        self.texts(old.interpretation, new.interpretation, lambda lang, b, a: self.add(
            CHANGED if b and a else ADDED if a else REMOVED, area, subject, "definition.interpretation", item=item,
            key=lang, before=b, after=a, where=where, **ctx))
        self.citations(old.cites, new.cites, area, subject, item, lambda i: where, ctx, _at(old.file, old.line),
                       prefix="definition.")

    # -- parameters
    def parameter(self, old: DatedParameter | None, new: DatedParameter | None, name: str) -> None:
        users = self.parameter_users.get(name, ())
        ctx = dict(title=(new or old).description, used_by=users)
        if old is None or new is None:
            self.add(ADDED if old is None else REMOVED, "parameter", name, "parameter", before=old, after=new,
                     where=_at(new.file, new.line) if new else None, was=_at(old.file, old.line) if old else None,
                     **ctx)
            return
        file = new.file
        here = lambda *path: self.loc.at(file, *path)  # noqa: E731
        self.texts(old.description, new.description, lambda lang, b, a: self.add(
            CHANGED, "parameter", name, "description", key=lang, before=b, after=a, where=here("description", lang),
            **ctx))
        for what, a, b in (("kind", old.kind, new.kind), ("unit", old.unit, new.unit),
                           ("keyed_by", _enum_name(old.keyed_by), _enum_name(new.keyed_by))):
            if a != b:
                self.add(CHANGED, "parameter", name, what, before=a, after=b,
                         where=here("type" if what == "kind" else what), **ctx)
        self.citations(old.cites, new.cites, "parameter", name, None, lambda i: here("cites", i), ctx, old.file)

        old_values = {v.valid_from: v for v in old.values}
        new_values = {v.valid_from: v for v in new.values}
        added = [d for d in new_values if d not in old_values]
        removed = [d for d in old_values if d not in new_values]
        # A start date moved: an entry removed and one added with the same value and provenance.
        for d in list(removed):
            twin = next((a for a in added if _same_value(old_values[d].value, new_values[a].value)
                         and old_values[d].provenance == new_values[a].provenance), None)
            if twin is None:
                continue
            removed.remove(d)
            added.remove(twin)
            self.add(CHANGED, "parameter", name, "value.start", item=str(twin), before=d, after=twin,
                     where=here("values", twin), **ctx)
            self.entry(old_values[d], new_values[twin], name, here, ctx, compare_value=False)
        for d in sorted(set(old_values) & set(new_values)):
            self.entry(old_values[d], new_values[d], name, here, ctx)
        for d in sorted(added):
            self.add(ADDED, "parameter", name, "value", item=str(d), before=old.in_force(d), after=new_values[d],
                     where=here("values", d), **ctx)
        for d in sorted(removed):
            self.add(REMOVED, "parameter", name, "value", item=str(d), before=old_values[d], after=new.in_force(d),
                     was=_at(old.file, None), where=_at(file, None), **ctx)

    def entry(self, old: ParameterValue, new: ParameterValue, name: str, here, ctx, compare_value=True) -> None:
        day = new.valid_from
        item = str(day)
        if compare_value and not _same_value(old.value, new.value):
            if isinstance(old.value, dict) and isinstance(new.value, dict):
                for key in _keys(old.value, new.value):
                    a, b = old.value.get(key), new.value.get(key)
                    if not _same_value(a, b):
                        kind = CHANGED if a is not None and b is not None else ADDED if b is not None else REMOVED
                        self.add(kind, "parameter", name, "value.key", item=item, key=key, before=a, after=b,
                                 where=here("values", day, "value", key), **ctx)
            else:
                self.add(CHANGED, "parameter", name, "value.value", item=item, before=old.value, after=new.value,
                         where=here("values", day, "value"), **ctx)
        for what in ("provenance", "source"):
            a, b = getattr(old, what), getattr(new, what)
            if not _same_text(a, b):
                self.add(CHANGED, "parameter", name, "value." + what, item=item, before=a, after=b,
                         where=here("values", day, what), **ctx)
        self.texts(old.note, new.note, lambda lang, b, a: self.add(
            CHANGED if a and b else ADDED if a else REMOVED, "parameter", name, "value.note", item=item, key=lang,
            before=b, after=a, where=here("values", day, "note"), **ctx))

    # -- policy source texts
    def sources(self) -> None:
        old, new = self.base.sources, self.work.sources
        for doc in sorted(set(old.docs) | set(new.docs)):
            if not new.has_doc(doc) or not old.has_doc(doc):
                kind = ADDED if not old.has_doc(doc) else REMOVED
                lib = new if kind == ADDED else old
                self.add(kind, "source", doc, "document", before=lib.title(doc) if kind == REMOVED else None,
                         after=lib.title(doc) if kind == ADDED else None,
                         where=self.loc.source_file(lib.document(doc)) if kind == ADDED else None)
                continue
            if old.title(doc) != new.title(doc):
                self.add(CHANGED, "source", doc, "document.title", before=old.title(doc), after=new.title(doc),
                         where=self.loc.at(f"{self.loc.prefix}sources/index.yaml"))
            file = self.loc.source_file(new.document(doc))
            labels_old, labels_new = old.labels(doc), new.labels(doc)
            if not labels_old and not labels_new:
                if _fold(old.document(doc).text) != _fold(new.document(doc).text):
                    self.add(CHANGED, "source", doc, "document.text", where=file)
                continue
            changed_labels = [label for label in labels_new if label in labels_old
                              and _fold(old.clause(doc, label).text) != _fold(new.clause(doc, label).text)]
            for label in labels_new:
                after = new.clause(doc, label)
                where = f"{file}:{after.line}"
                if label not in labels_old:
                    self.add(ADDED, "source", doc, "clause", item=label, after=_short(_fold(after.text), 80),
                             where=where)
                elif label in changed_labels and not any(other != label and other.startswith(label)
                                                         for other in changed_labels):
                    # a section's text holds its items': the change is reported at the item that has it
                    before_text, after_text = _excerpts(_fold(old.clause(doc, label).text), _fold(after.text))
                    self.add(CHANGED, "source", doc, "clause", item=label, before=before_text, after=after_text,
                             where=where)
            for label in labels_old:
                if label not in labels_new:
                    self.add(REMOVED, "source", doc, "clause", item=label,
                             before=_short(_fold(old.clause(doc, label).text), 80))


def _fold(text: str) -> str:
    return "".join(text.split())


def _excerpts(before: str, after: str, context: int = 12) -> tuple[str, str]:
    """The part of a long text that changed, with a little context either side: …前文【旧】后文…"""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1

    def show(text: str) -> str:
        head = max(start - context, 0)
        tail = min(len(text) - end + context, len(text))
        middle = text[start:len(text) - end]
        return ("…" if head else "") + text[head:start] + f"【{middle}】" + text[len(text) - end:tail] \
            + ("…" if tail < len(text) else "")

    return show(before), show(after)


def _at(file: str, line: int | None) -> str:
    return f"{file}:{line}" if line else file


def _enum_name(enum) -> str | None:
    return enum.__name__ if enum is not None else None


def _same_value(a: Any, b: Any) -> bool:
    if a is UNSET or b is UNSET:
        return a is b
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or set(a) != set(b):
            return False
        return all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _keys(a: dict, b: dict) -> list:
    """Table keys in enumeration order (junior before senior), whatever order the files wrote them."""
    keys = list(dict.fromkeys(list(a) + list(b)))
    members = list(type(keys[0])) if keys else []
    return sorted(keys, key=lambda k: members.index(k) if k in members else len(members))


def _parents(group: Group, path: tuple[str, ...] = ()) -> dict[str, str | None]:
    """condition id → a description of the group that holds it (None for the top-level group)."""
    result = {}
    label = None if not path else path[-1]
    for item in group.items:
        if isinstance(item, Group):
            result.update(_parents(item, path + (f"{item.mode}({item.id})" if item.id else item.mode,)))
        else:
            result[item.id] = label
    return result


def _outline(group: Group, keep: set[str] | None = None) -> str:
    """The all/any structure: ``all(a, b, contribution=any(c, d))``, restricted to ``keep`` if given."""
    parts = []
    for item in group.items:
        if isinstance(item, Group):
            inner = _outline(item, keep)
            if inner:
                parts.append(f"{item.id}={inner}" if item.id else inner)
        elif keep is None or item.id in keep:
            parts.append(item.id)
    if keep is not None and not parts:
        return ""
    return f"{group.mode}({', '.join(parts)})"


def _named_groups(group: Group) -> dict[str, Group]:
    found = {group.id: group} if group.id else {}
    for item in group.items:
        if isinstance(item, Group):
            found.update(_named_groups(item))
    return found


def _walk(node: Node | None) -> Iterable[Node]:
    if node is None:
        return
    yield node
    for child in children(node):
        yield from _walk(child)


def _programme_trees(programme: Programme) -> Iterable[Node]:
    yield from programme.expressions()
    for definition in programme.definitions.values():
        yield definition.tree


def _parameter_users(*rulesets: Ruleset) -> dict[str, tuple[str, ...]]:
    users: dict[str, set[str]] = {}
    for ruleset in rulesets:
        for programme in ruleset.programmes.values():
            for name in programme.parameters:
                users.setdefault(name, set()).add(programme.id)
    return {name: tuple(sorted(ids)) for name, ids in users.items()}


def _definition_users(*rulesets: Ruleset) -> dict[tuple[str, str], tuple[str, ...]]:
    """(record type, shared definition) → the programmes that read it, directly or through definitions."""
    users: dict[tuple[str, str], set[str]] = {}
    for ruleset in rulesets:
        for programme in ruleset.programmes.values():
            shared = ruleset.definitions.get(programme.record_type, {})
            seen: set[str] = set()
            todo = list(_programme_trees(programme))
            while todo:
                for node in _walk(todo.pop()):
                    if isinstance(node, DefinitionRef) and node.name not in seen:
                        seen.add(node.name)
                        if node.name in shared and node.name not in programme.definitions:
                            users.setdefault((programme.record_type, node.name), set()).add(programme.id)
                            todo.append(shared[node.name].tree)
    return {key: tuple(sorted(ids)) for key, ids in users.items()}


# ======================================================================================= locating


def _digest(root: Path) -> str:
    """The loader's digest of a rules folder (engine.loader._Loader.digest), to recognise it."""
    hasher = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".yaml", ".txt"):
            hasher.update(path.relative_to(root).as_posix().encode() + b"\0")
            hasher.update(path.read_bytes() + b"\0")
    return "sha256:" + hasher.hexdigest()


def _resolve_root(work: Ruleset, work_root: Path | str | None) -> Path | None:
    if work_root is not None:
        return Path(work_root)
    from engine.loader import DEFAULT_RULES

    try:
        return DEFAULT_RULES if DEFAULT_RULES.is_dir() and _digest(DEFAULT_RULES) == work.digest else None
    except OSError:
        return None


class _Locator:
    """file:line of a key path in a working rule file, from the file's located YAML."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.prefix = f"{root.name}/" if root is not None else "rules/"
        self.cache: dict[str, Any] = {}

    def raw(self, file: str) -> Any:
        if file not in self.cache:
            from engine.yamlsource import load_yaml

            data = None
            if self.root is not None:
                path = Path(file) if Path(file).is_absolute() else self.root.parent / file
                try:
                    data = load_yaml(path, file)
                except RuleError:
                    data = None
            self.cache[file] = data
        return self.cache[file]

    def at(self, file: str, *path: Any) -> str:
        from engine.yamlsource import line_at

        data = self.raw(file)
        if data is None:
            return file
        return _at(file, line_at(data, path, _find_key))

    def source_file(self, doc) -> str:
        path = Path(doc.path)
        if self.root is not None:
            try:
                return str(path.resolve().relative_to(self.root.resolve().parent))
            except ValueError:
                pass
        return f"{self.prefix}sources/{path.name}"


def _find_key(data: dict, step: Any) -> Any:
    """The key of ``data`` that ``step`` means: itself, or a table key written as a label (初级工)."""
    if step in data:
        return step
    if isinstance(step, LabelledEnum):
        for key in data:
            try:
                if type(step).parse(key) is step:
                    return key
            except ValueError:
                continue
    return None


# ====================================================================================== rendering

_KIND = {ADDED: ("+", "新增", "added"), REMOVED: ("-", "删除", "removed"), CHANGED: ("~", "修改", "changed")}
_AREA = {"ruleset": ("规则集", "Rule set"), "programme": ("项目", "Programme"), "definition": ("共用定义", "Definition"),
         "parameter": ("参数", "Parameter"), "source": ("政策原文", "Source")}
_PROVENANCE = {"seed": ("seed（政策原文数值）", "seed (stated in the source text)"),
               "public": ("public（公开实施文件数值，待政策处室确认）", "public (from a public implementing document, to be confirmed)"),
               "unset": ("unset（未公布数值）", "unset (no published figure)")}
_FORCE = {"entitlement": "应享待遇", "may_apply": "可申请", "encouraged": "鼓励给予", "obligation": "企业义务"}
_WORDS = {
    "name": ("名称", "name"), "version": ("版本", "version"),
    "title": ("名称", "title"), "summary": ("摘要", "summary"), "record_type": ("申请人类型", "record type"),
    "force": ("性质", "force"), "beneficiary": ("受益方", "beneficiary"),
    "beneficiary_from": ("受益方取自字段", "beneficiary from"), "effective": ("有效期", "effective period"),
    "citation": ("政策依据", "citation"), "interpretation": ("解释说明", "interpretation"),
    "condition": ("条件", "condition"), "expression": ("表达式", "expression"), "says": ("说明句", "sentence"),
    "structure": ("条件结构（all 全部满足 / any 任一满足）", "condition structure (all / any)"),
    "group": ("条件组", "condition group"), "definition": ("定义", "definition"), "value": ("取值", "value"),
    "type": ("类型", "type"), "rule": ("规则", "rule"), "case": ("分支", "case"), "when": ("条件", "when"),
    "otherwise": ("否则", "otherwise"), "money": ("按金额取整", "money"), "rounding": ("取整方式", "rounding"),
    "for_outcomes": ("适用结果", "given for outcomes"), "description": ("说明", "description"),
    "kind": ("类型", "type"), "unit": ("单位", "unit"), "keyed_by": ("分档依据", "keyed by"),
    "provenance": ("数值来源类别", "provenance"), "source": ("出处", "source"), "note": ("备注", "note"),
    "start": ("起始日期", "start date"), "document": ("文件", "document"), "clause": ("条款", "clause"),
    "text": ("全文", "text"), "before": ("原为", "before"), "after": ("改为", "after"), "at": ("位置", "at"),
    "was_at": ("原位置（基准）", "was at (base)"), "read_by": ("使用它的项目", "read by"),
    "no_changes": ("规则无变化。", "No changes."),
    "from_day": ("自", "from"),
    "none_before": ("（此前该日无取值）", "(no value on that day before)"),
    "in_group": ("所在条件组", "in group"), "conditions": ("条件", "conditions"), "amount": ("金额", "amount"),
    "effect": ("效果", "effect"), "cites": ("政策依据", "cites"), "values": ("取值", "values"),
}


def _w(key: str, lang: str) -> str:
    zh, en = _WORDS[key]
    return zh if lang == "zh" else en


def render_changes(changes: list[Change], lang: str = "zh", base_label: str | None = None,
                   work_label: str | None = None) -> str:
    """The changes as text for a reviewer: a heading per programme / parameter, a line (or a few) per change."""
    zh = lang == "zh"
    out: list[str] = []
    if base_label or work_label:
        out.append((f"规则变化：{base_label or '基准'} → {work_label or '工作区'}" if zh
                    else f"Rule changes: {base_label or 'base'} → {work_label or 'working rules'}"))
    if not changes:
        out.append(_w("no_changes", lang))
        return "\n".join(out)
    subjects = list(dict.fromkeys((c.area, c.subject) for c in changes))
    counts = {}
    for area, _ in subjects:
        counts[area] = counts.get(area, 0) + 1
    summary = ("、" if zh else ", ").join(f"{_AREA[a][0 if zh else 1].lower()} {n}" if zh else
                                         f"{n} {_AREA[a][1].lower()}{'s' if n > 1 else ''}"
                                         for a, n in counts.items())
    out.append(f"共 {len(changes)} 处变化（{summary}）" if zh else
               f"{len(changes)} change{'s' if len(changes) != 1 else ''} ({summary})")
    for area, subject in subjects:
        group = [c for c in changes if (c.area, c.subject) == (area, subject)]
        first = group[0]
        heading = f"{_AREA[area][0 if zh else 1]} {subject}" if area != "ruleset" else _AREA[area][0 if zh else 1]
        if first.title is not None:
            heading += f" — {first.title.get(lang)}"
        out += ["", heading]
        if first.used_by:
            out.append(f"  ({_w('read_by', lang)}: {', '.join(first.used_by)})")
        for change in group:
            out += _change_lines(change, lang)
    return "\n".join(out)


def _one_line(change: Change, lang: str) -> str:
    lines = _change_lines(change, lang)
    return " ".join(line.strip() for line in lines)


def _change_lines(c: Change, lang: str) -> list[str]:
    zh = lang == "zh"
    symbol, word_zh, word_en = _KIND[c.kind]
    head, details = _describe(c, lang)
    lines = [f"  {symbol} {word_zh if zh else word_en} {head}" if zh else f"  {symbol} {head}"]
    lines += [f"      {d}" for d in details]
    if c.where and c.kind != REMOVED:
        lines.append(f"      {_w('at', lang)}: {c.where}")
    if c.was and c.kind == REMOVED:
        lines.append(f"      {_w('was_at', lang)}: {c.was}")
    return lines


def _lang_tag(key: Any) -> str:
    return f" ({key})" if key in ("zh", "en") else ""


def _before_after(c: Change, lang: str, label: str, fmt=None) -> tuple[str, list[str]]:
    """A change of one value: inline when short, else on two lines."""
    show = fmt or (lambda v: _value(v, lang))
    if c.kind == ADDED:
        return f"{label}: {show(c.after)}", []
    if c.kind == REMOVED:
        return f"{label}: {show(c.before)}", []
    before, after = show(c.before), show(c.after)
    if len(before) + len(after) <= 70 and "\n" not in before + after:
        return f"{label}: {before} → {after}", []
    return label, [f"{_w('before', lang)}: {before}", f"{_w('after', lang)}:  {after}" if lang == "en"
                   else f"{_w('after', lang)}: {after}"]


def _describe(c: Change, lang: str) -> tuple[str, list[str]]:
    zh = lang == "zh"
    w = lambda key: _w(key, lang)  # noqa: E731
    what = c.what
    if what == "programme":
        return _programme_block(c.after or c.before, lang, full=c.kind == ADDED)
    if what == "parameter":
        return _parameter_block(c.after or c.before, lang, full=c.kind == ADDED)
    if what in ("name", "version"):
        return _before_after(c, lang, w(what))
    if what in ("title", "summary", "description"):
        return _before_after(c, lang, w(what) + _lang_tag(c.key))
    if what == "force":
        return _before_after(c, lang, w("force"), lambda v: f"{v}（{_FORCE.get(v, v)}）" if zh else str(v))
    if what in ("record_type", "beneficiary", "beneficiary_from", "kind", "unit", "keyed_by"):
        return _before_after(c, lang, w(what))
    if what == "effective":
        return _before_after(c, lang, w("effective"))
    if what in ("citation", "condition.citation", "definition.citation"):
        owner = _owner(c, lang, what.split(".")[0] if "." in what else None)
        return _before_after(c, lang, owner + w("citation"))
    if what == "interpretation":
        return _before_after(c, lang, f"{w('interpretation')} {c.item}{_lang_tag(c.key)}")
    if what == "condition":
        cond: Condition = c.after or c.before
        head = f"{w('condition')} {cond.id}: {_flat(cond.source)}"
        details = [f"{w('says')}: {cond.says.get(lang)}"]
        if cond.interpretation:
            details.append(f"※ {w('interpretation')}: {cond.interpretation.get(lang)}")
        if cond.cites:
            details.append(f"{w('cites')}: " + "; ".join(_citation(x) for x in cond.cites))
        if c.kind == ADDED and c.key:
            details.append(f"{w('in_group')}: {c.key}")
        return head, details
    if what.startswith("condition."):
        aspect = {"when": "expression", "says": "says", "interpretation": "interpretation"}[what.split(".")[1]]
        return _before_after(c, lang, f"{w('condition')} {c.item} — {w(aspect)}{_lang_tag(c.key)}")
    if what == "group.structure":
        return _before_after(c, lang, w("structure"))
    if what == "group.says":
        return _before_after(c, lang, f"{w('group')} {c.item} — {w('says')}{_lang_tag(c.key)}")
    if what == "definition":
        d: Definition = c.after or c.before
        name = c.item or c.subject
        details = [f"{w('says')}: {d.says.get(lang)}"] if c.area == "programme" else []  # else the heading says it
        if d.interpretation:
            details.append(f"※ {w('interpretation')}: {d.interpretation.get(lang)}")
        return f"{w('definition')} {name} = {_flat(d.source)}", details
    if what.startswith("definition."):
        aspect = {"value": "value", "type": "type", "says": "says", "interpretation": "interpretation"}[
            what.split(".")[1]]
        prefix = f"{w('definition')} {c.item} — " if c.item else ""
        return _before_after(c, lang, f"{prefix}{w(aspect)}{_lang_tag(c.key)}")
    if what == "rule":
        rule: ValueRule = c.after or c.before
        return _rule_name(c.item, lang), _rule_lines(rule, lang)
    if what.startswith("rule."):
        return _before_after(c, lang, f"{_rule_name(c.item, lang)} — {w(what.split('.')[1])}{_lang_tag(c.key)}")
    if what == "case":
        case: Case = c.after or c.before
        return _case_name(c.item, lang), [_case_line(case, lang)]
    if what.startswith("case."):
        aspect = {"when": "when", "value": "value", "says": "says"}[what.split(".")[1]]
        return _before_after(c, lang, f"{_case_name(c.item, lang)} — {w(aspect)}{_lang_tag(c.key)}")
    if what == "otherwise":
        return _before_after(c, lang, f"{_rule_name(c.item, lang)} — {w('otherwise')}")
    if what == "value":
        return _dated_value(c, lang)
    if what == "value.start":
        return _before_after(c, lang, f"{w('value')}{w('start')}" if zh else "start date of a value")
    if what == "value.key":
        key = _key(c.key, lang)
        label = (f"{c.item} 起的取值，{key}" if zh else f"value from {c.item}, {key}")
        return _before_after(c, lang, label)
    if what in ("value.value", "value.provenance", "value.source", "value.note"):
        aspect = what.split(".")[1]
        label = (f"{c.item} 起的{w(aspect)}" if zh else f"{w(aspect) if aspect != 'value' else 'value'} from {c.item}")
        if aspect == "provenance":
            return _before_after(c, lang, label, lambda v: str(v))
        return _before_after(c, lang, label + _lang_tag(c.key))
    if what == "document":
        return _before_after(c, lang, w("document"))
    if what == "document.title":
        return _before_after(c, lang, w("title"))
    if what == "document.text":
        return w("text"), []
    if what == "clause":
        return _before_after(c, lang, f"{w('clause')} {c.item}")
    return _before_after(c, lang, what)


def _owner(c: Change, lang: str, kind: str | None) -> str:
    if kind == "condition":
        return f"{_w('condition', lang)} {c.item} — "
    if kind == "definition" and c.item:
        return f"{_w('definition', lang)} {c.item} — "
    return ""


def _rule_name(item: str, lang: str) -> str:
    if lang != "zh":
        return item
    return "金额" if item == "amount" else item.replace("effect", "效果", 1)


def _case_name(item: str, lang: str) -> str:
    if lang != "zh":
        return item
    name, _, number = item.rpartition(" case ")
    return f"{_rule_name(name, lang)} 第{number}个分支"


def _case_line(case: Case, lang: str) -> str:
    when = f"{'当' if lang == 'zh' else 'when'} {_flat(case.when_source)}: " if case.when_source else ""
    says = f"  — {case.says.get(lang)}" if case.says else ""
    return f"{when}{_flat(case.value_source)}{says}"


def _rule_lines(rule: ValueRule, lang: str) -> list[str]:
    lines = [rule.says.get(lang)] if rule.says else []
    lines += [f"• {_case_line(case, lang)}" for case in rule.cases]
    if rule.otherwise is not None:
        lines.append(f"• {_w('otherwise', lang)}: {_flat(rule.otherwise.value_source)}")
    return lines


def _programme_block(p: Programme, lang: str, full: bool) -> tuple[str, list[str]]:
    zh = lang == "zh"
    head = (f"项目 {p.id}（{p.title.get(lang)}）" if zh else f"programme {p.id} ({p.title.get(lang)})")
    if not full:
        return head, []
    w = lambda key: _w(key, lang)  # noqa: E731
    details = [f"{w('force')}: {p.force}" + (f"（{_FORCE.get(p.force, p.force)}）" if zh else ""),
               f"{w('beneficiary')}: {p.beneficiary}",
               f"{w('effective')}: {_value(Period(p.valid_from, p.valid_to), lang)}",
               f"{w('cites')}: " + "; ".join(_citation(x) for x in p.cites),
               f"{w('conditions')}: {_outline(p.eligible_when)}"]
    for cond in p.eligible_when.conditions():
        details.append(f"  [{cond.id}] {_flat(cond.source)} — {cond.says.get(lang)}")
    if p.amount is not None:
        details.append(f"{w('amount')}:")
        details += ["  " + line for line in _rule_lines(p.amount, lang)]
    for name, rule in p.effect.items():
        details.append(f"{w('effect')} {name}:")
        details += ["  " + line for line in _rule_lines(rule, lang)]
    return head, details


def _parameter_block(p: DatedParameter, lang: str, full: bool) -> tuple[str, list[str]]:
    zh = lang == "zh"
    head = (f"参数 {p.name}（{p.description.get(lang)}）" if zh else f"parameter {p.name} ({p.description.get(lang)})")
    if not full:
        return head, []
    details = [f"{_w('kind', lang)}: {p.kind}" + (f", {_w('unit', lang)}: {p.unit}" if p.unit else "")
               + (f", {_w('keyed_by', lang)}: {p.keyed_by.__name__}" if p.keyed_by else "")]
    for entry in p.values:
        details.append(f"{_w('from_day', lang)} {entry.valid_from}: {_entry(entry, lang)}")
    return head, details


def _dated_value(c: Change, lang: str) -> tuple[str, list[str]]:
    zh = lang == "zh"
    if c.kind == ADDED:
        entry: ParameterValue = c.after
        head = (f"新取值，自 {entry.valid_from} 起：{_value(entry.value, lang)}" if zh else
                f"new value from {entry.valid_from}: {_value(entry.value, lang)}")
        details = [_provenance_source(entry, lang)]
        previous: ParameterValue | None = c.before
        if previous is not None:
            shown = _entry(previous, lang, short=True)
            details.append(f"替代（自 {entry.valid_from} 起）：{shown}，即 {previous.valid_from} 起的取值" if zh else
                           f"replaces (from {entry.valid_from}): {shown}, the value in force since {previous.valid_from}")
        else:
            details.append(_w("none_before", lang))
        return head, details
    entry = c.before
    head = (f"取值，自 {entry.valid_from} 起：{_value(entry.value, lang)}" if zh else
            f"value from {entry.valid_from}: {_value(entry.value, lang)}")
    details = [_provenance_source(entry, lang)]
    instead: ParameterValue | None = c.after
    if instead is not None:
        shown = _entry(instead, lang, short=True)
        details.append(f"删除后自 {entry.valid_from} 起适用：{shown}，即 {instead.valid_from} 起的取值" if zh else
                       f"from {entry.valid_from} now applies: {shown}, the value in force since {instead.valid_from}")
    else:
        details.append("删除后该日起无取值" if zh else "no value from that day any more")
    return head, details


def _provenance_source(entry: ParameterValue, lang: str) -> str:
    text = f"{_w('provenance', lang)}: {_PROVENANCE.get(entry.provenance, (entry.provenance,) * 2)[0 if lang == 'zh' else 1]}"
    text += f"; {_w('source', lang)}: {_flat(entry.source)}"
    if entry.note is not None:
        text += f"; {_w('note', lang)}: {entry.note.get(lang)}"
    return text


def _entry(entry: ParameterValue, lang: str, short: bool = False) -> str:
    value = _value(entry.value, lang)
    if entry.value is UNSET:
        return value if short else f"{value} ({_short(_flat(entry.source), 60)})"
    if short:
        return f"{value} ({entry.provenance})"
    return f"{value} ({entry.provenance}; {_short(_flat(entry.source), 60)})"


def _key(key: Any, lang: str) -> str:
    if isinstance(key, LabelledEnum):
        return key.zh if lang == "zh" else key.value
    return str(key)


def _value(value: Any, lang: str) -> str:
    zh = lang == "zh"
    if value is None:
        return "—"
    if value is UNSET:
        return "未设定（unset）" if zh else "not set (unset)"
    if isinstance(value, bool):
        return ("是" if value else "否") if zh else ("true" if value else "false")
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, dict):
        keys = _keys(value, {})
        parts = [f"{_key(k, lang)}: {_value(value[k], lang) if value[k] is not UNSET else ('未设定' if zh else 'not set')}"
                 for k in keys]
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, Period):
        if zh:
            return f"{value.valid_from} 起" + (f"，至 {value.valid_to}" if value.valid_to else "（长期）")
        return f"from {value.valid_from}" + (f" to {value.valid_to}" if value.valid_to else " (open)")
    if isinstance(value, Citation):
        return _citation(value)
    if isinstance(value, Text):
        return value.get(lang)
    if isinstance(value, ParameterValue):
        return _entry(value, lang)
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return _flat(str(value))


def _citation(citation: Citation) -> str:
    clause = f" {citation.clause}" if citation.clause else ""
    return f"{citation.doc}{clause}「{_short(_fold(citation.quote), 40)}」"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ======================================================================================== the base


def load_base(spec: str, project_root: Path | str) -> Ruleset:
    """The base rules to compare with: a rules folder, or a git revision of the project.

    ``spec`` is a folder (a rules folder, or a checkout that has one in rules/) or anything git can
    resolve to a commit (HEAD, HEAD~1, a hash, a tag, a branch). For a revision, the rules/ tree of
    that commit is read with ``git archive`` into a temporary folder, loaded, and the folder removed.
    """
    from engine.loader import load_rules

    project_root = Path(project_root)
    if not spec or not spec.strip():
        raise UserError("--base needs a rules folder or a git revision (e.g. HEAD)")
    candidate = Path(spec)
    if candidate.is_dir():
        if not (candidate / "ruleset.yaml").is_file() and (candidate / "rules" / "ruleset.yaml").is_file():
            candidate = candidate / "rules"
        if not (candidate / "ruleset.yaml").is_file():
            raise UserError(f"{spec}: not a rules folder (it has no ruleset.yaml)")
        return load_rules(candidate)
    if candidate.exists():
        raise UserError(f"{spec}: is a file; --base takes a rules folder or a git revision")
    return _load_revision(spec, project_root)


def _git(project_root: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    git = shutil.which("git")
    if git is None:
        raise UserError("git is not installed, so a revision cannot be read; give --base a rules folder instead")
    return subprocess.run([git, "-C", str(project_root), *args], capture_output=True, text=not binary,
                          env=_git_env(), check=False)


def _git_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    return env


def _load_revision(spec: str, project_root: Path) -> Ruleset:
    from engine.loader import load_rules

    if spec.startswith("-"):
        raise UserError(f"'{spec}' is neither a folder nor a git revision")
    top = _git(project_root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise UserError(f"'{spec}' is not a folder, and {project_root} is not a git repository, so it cannot be "
                        "read as a revision either")
    commit = _git(project_root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}")
    if commit.returncode != 0:
        raise UserError(f"'{spec}' is neither a rules folder nor a revision of the git repository at "
                        f"{top.stdout.strip()} (give a folder, or a revision such as HEAD, HEAD~1, a commit hash "
                        "or a tag)")
    sha = commit.stdout.strip()
    prefix = _git(project_root, "rev-parse", "--show-prefix").stdout.strip()
    tree = f"{sha}:{prefix}rules"
    kind = _git(project_root, "cat-file", "-t", tree)
    if kind.returncode != 0 or kind.stdout.strip() != "tree":
        raise UserError(f"revision '{spec}' ({sha[:10]}) has no {prefix}rules/ folder")
    archive = _git(project_root, "archive", "--format=tar", tree, binary=True)
    if archive.returncode != 0:
        message = archive.stderr.decode("utf-8", "replace").strip()
        raise UserError(f"cannot read the rules of revision '{spec}' from git: {message}")
    with tempfile.TemporaryDirectory(prefix="rules-base-") as folder:
        target = Path(folder) / "rules"
        target.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(target, filter="data")
        try:
            return load_rules(target)
        except RuleError as error:
            raise RuleError([Problem(f"{spec}:{p.file}", p.line, p.message) for p in error.problems]) from None
