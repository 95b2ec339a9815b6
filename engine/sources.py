"""The policy texts the rules cite: find a clause by its label, check a quotation against the text.

``rules/sources/index.yaml`` lists the documents; each text is kept byte-for-byte as published, so
the library reads labels the way each document writes them (see the comments in index.yaml):

- a section is a line ``三、…``; an item is a line starting ``（二）`` or ``(二)``, optionally spaced;
- labels count only at the start of a line, because ``(R字签证)`` and ``购(租)房`` occur mid-line;
- items either run straight through the document (``（十七）``) or restart in every section, where a
  citation names both (``三（二）``; a bare ``三`` is the whole section).

Labels are checked to run in sequence as they are read, so a stray line that merely looks like a
label fails the load instead of silently cutting a clause short.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.errors import Problem, RuleError, UserError

INDEX_FILE = "index.yaml"

_NUMERAL = "一二三四五六七八九十"
_DIGIT = {ch: n for n, ch in enumerate(_NUMERAL[:9], start=1)}

# Labels in the texts, as written: both bracket widths, optional spaces inside, at line start only.
_SECTION_LINE = re.compile(rf"[ \t\u3000]*([{_NUMERAL}]+)、")
_ITEM_LINE = re.compile(rf"[ \t\u3000]*[（(][ \t\u3000]*([{_NUMERAL}]+)[ \t\u3000]*[）)]")

# A citation after _fold(): NFKC has turned （） into (), ，；into ,; and whitespace is gone.
_CITATION_TOKEN = re.compile(rf"(?P<section>[{_NUMERAL}]+)、?|\((?P<item>[{_NUMERAL}]+)\)|(?P<sep>[,;、]+)")

# A clause ends at its last line holding a sentence end, which leaves out trailing blank lines and
# the sign-off after a document's final clause (signatories, dates, 印发).
_SENTENCE_END = re.compile(r"[。；;！!？?]")

# Punctuation NFKC leaves alone but a person typing a quotation may write either way.
_QUOTE_PUNCTUATION = str.maketrans({"。": ".", "“": '"', "”": '"', "‘": "'", "’": "'"})

Numbering = Literal["continuous", "by-section"]
HeadingStyle = Literal["line", "sentence"]

_INDEX_KEYS = {"id", "title", "title_en", "issued", "file", "labelled", "numbering", "heading"}


def _numeral_value(numeral: str) -> int | None:
    """一 … 九十九 → 1 … 99; None for anything else (e.g. 十十, 二二)."""
    tens, sep, units = numeral.partition("十")
    if not sep:
        return _DIGIT.get(numeral) if len(numeral) == 1 else None
    if len(tens) > 1 or len(units) > 1:
        return None
    t = _DIGIT.get(tens, 0 if tens == "" else -1)
    u = _DIGIT.get(units, 0 if units == "" else -1)
    if t < 0 or u < 0:
        return None
    return (t or 1) * 10 + u


def _numeral(n: int) -> str:
    tens, units = divmod(n, 10)
    if not tens:
        return _NUMERAL[units - 1]
    return ("" if tens == 1 else _NUMERAL[tens - 1]) + "十" + (_NUMERAL[units - 1] if units else "")


def _canonical(section: str | None, item: str | None) -> str:
    return (section or "") + (f"（{item}）" if item else "")


def _fold(text: str) -> str:
    """Compare texts the way a reader does: width, punctuation style and line wraps don't matter."""
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTE_PUNCTUATION)
    return "".join(folded.split())


@dataclass(frozen=True)
class Clause:
    """One labelled provision: its label in canonical form and its text exactly as in the file."""

    doc: str
    label: str
    text: str
    line: int  # 1-based line of the label in the file
    heading_style: HeadingStyle = field(default="line", repr=False, compare=False)

    @property
    def heading(self) -> str:
        if self.heading_style == "sentence":
            # An inline heading may wrap (FTU-2023-18 （十二）), so join the lines before cutting.
            joined = "".join(line.strip() for line in self.text.split("\n"))
            end = joined.find("。")
            if end >= 0:
                return joined[: end + 1]
        return self.text.split("\n", 1)[0].strip()


@dataclass(frozen=True)
class SourceDoc:
    """One entry of index.yaml with its text."""

    id: str
    title: str
    title_en: str
    issued: str
    path: Path
    labelled: bool
    numbering: Numbering
    heading_style: HeadingStyle
    text: str  # exactly as in the file


class SourceLibrary:
    """The documents of ``index.yaml`` and their clauses, indexed by canonical label."""

    def __init__(self, documents: list[SourceDoc], clauses: dict[str, dict[str, Clause]]):
        self._documents = {d.id: d for d in documents}
        self._clauses = clauses
        self._folded: dict[str, str] = {}  # filled on the first quotation check of each doc

    @classmethod
    def load(cls, directory: Path) -> SourceLibrary:
        directory = Path(directory)
        problems: list[Problem] = []
        documents = _read_index(directory, problems)
        clauses: dict[str, dict[str, Clause]] = {}
        for doc in documents:
            clauses[doc.id] = _index_clauses(doc, problems) if doc.labelled else {}
        if problems:
            raise RuleError(problems)
        return cls(documents, clauses)

    @property
    def docs(self) -> list[str]:
        return list(self._documents)

    def has_doc(self, doc: str) -> bool:
        return doc in self._documents

    def title(self, doc: str) -> str:
        """The Chinese title; KeyError for an unknown doc (ask has_doc first)."""
        return self._document(doc).title

    def document(self, doc: str) -> SourceDoc:
        return self._document(doc)

    def labels(self, doc: str) -> list[str]:
        """Canonical labels in document order; empty for a text cited by quotation only."""
        self._document(doc)
        return list(self._clauses[doc])

    def clause(self, doc: str, label: str) -> Clause | None:
        """The clause a single label names, or None (unknown doc or label, or not one label)."""
        try:
            parts = self.split_citation(label)
        except UserError:
            return None
        if len(parts) != 1:
            return None
        return self._clauses.get(doc, {}).get(parts[0])

    def contains_quote(self, doc: str, quote: str, within: str | None = None) -> bool:
        """Whether the text says this, ignoring line wraps, spacing and full-/half-width punctuation.

        ``within`` narrows the search to an excerpt of the document, e.g. the cited clauses' text.
        """
        if doc not in self._documents:
            return False
        needle = _fold(quote)
        if not needle:  # an empty quotation proves nothing
            return False
        if within is not None:
            return needle in _fold(within)
        if doc not in self._folded:
            self._folded[doc] = _fold(self._documents[doc].text)
        return needle in self._folded[doc]

    @staticmethod
    def split_citation(label: str) -> list[str]:
        """Canonical labels a citation names: ``（十）（十七）`` is two, ``三（二）`` one.

        A section carries over to the items after it (``三（二）（三）`` → 三（二）, 三（三）).
        """
        text = _fold(label)
        error = UserError(f"not a clause label: {label!r} (expected e.g. 三（二） or （十七）)")
        labels: list[str] = []
        section: str | None = None
        bare_section = False  # a section with no item after it names the whole section
        pos = 0
        while pos < len(text):
            m = _CITATION_TOKEN.match(text, pos)
            numeral = m and (m["section"] or m["item"])
            if m is None or (numeral and _numeral_value(numeral) is None):
                raise error
            if m["section"]:
                if bare_section:
                    labels.append(_canonical(section, None))
                section, bare_section = m["section"], True
            elif m["item"]:
                labels.append(_canonical(section, m["item"]))
                bare_section = False
            pos = m.end()
        if bare_section:
            labels.append(_canonical(section, None))
        if not labels:
            raise error
        return labels

    def _document(self, doc: str) -> SourceDoc:
        try:
            return self._documents[doc]
        except KeyError:
            raise KeyError(f"unknown source document {doc!r}; known: {', '.join(self._documents)}") from None


def _read_index(directory: Path, problems: list[Problem]) -> list[SourceDoc]:
    index_path = directory / INDEX_FILE
    from engine.yamlsource import LocatedList, load_yaml  # only when reading rules, not from the cache

    entries = load_yaml(index_path)  # RuleError naming the file when it is missing or not YAML
    if not isinstance(entries, LocatedList):
        problems.append(Problem(str(index_path), getattr(entries, "line", None), "expected a list of documents"))
        return []
    documents: list[SourceDoc] = []
    for n, entry in enumerate(entries):
        if doc := _read_entry(entry, entries.line_of(n), index_path, {d.id for d in documents}, problems):
            documents.append(doc)
    return documents


def _read_entry(entry: object, line: int, index_path: Path, seen: set[str], problems: list[Problem]) -> SourceDoc | None:
    """One document of the index and its text, or None after reporting what is wrong with it."""
    from engine.yamlsource import LocatedDict

    if not isinstance(entry, LocatedDict):
        problems.append(Problem(str(index_path), line, "expected a mapping with id, title, file, …"))
        return None
    found = len(problems)

    doc_id = entry.get("id")
    prefix = f"document {doc_id}: " if isinstance(doc_id, str) else ""

    def complain(key: str, message: str) -> None:
        problems.append(Problem(str(index_path), entry.line_of(key), prefix + message))

    for key in sorted(entry.keys() - _INDEX_KEYS, key=str):
        complain(key, f"unknown key {key!r}")
    for key in ("id", "title", "title_en", "issued", "file"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            complain(key, f"{key} must be a non-empty quoted string, got {entry.get(key)!r}")
    if not isinstance(entry.get("labelled"), bool):
        complain("labelled", "labelled must be true or false")
    numbering = entry.get("numbering", "continuous")
    if numbering not in ("continuous", "by-section"):
        complain("numbering", f"numbering must be continuous or by-section, got {numbering!r}")
    heading = entry.get("heading", "line")
    if heading not in ("line", "sentence"):
        complain("heading", f"heading must be line or sentence, got {heading!r}")
    if isinstance(entry.get("file"), str) and Path(entry["file"]).name != entry["file"]:
        complain("file", "file must be a bare file name beside index.yaml")
    if doc_id in seen:
        complain("id", "listed twice")
    if len(problems) > found:
        return None

    path = index_path.parent / entry["file"]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(str(path), None, f"cannot read the text of {entry['id']}: {exc.strerror}"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), None, f"the text of {entry['id']} is not UTF-8: {exc.reason}"))
        return None
    return SourceDoc(
        id=entry["id"], title=entry["title"], title_en=entry["title_en"], issued=entry["issued"],
        path=path, labelled=entry["labelled"], numbering=numbering, heading_style=heading, text=text)


@dataclass
class _Marker:
    line: int  # 0-based index into the document's lines
    level: int  # 1 section, 2 item
    label: str


def _index_clauses(doc: SourceDoc, problems: list[Problem]) -> dict[str, Clause]:
    lines = doc.text.split("\n")  # not splitlines(): it also splits at \x0c, \u2028…, shifting line numbers
    markers = _find_markers(doc, lines, problems)

    clauses: dict[str, Clause] = {}
    for i, marker in enumerate(markers):
        # A clause runs to the next label of the same or a higher level (a section ends an item).
        end = next((m.line for m in markers[i + 1:] if m.level <= marker.level), len(lines))
        while end - 1 > marker.line and not _SENTENCE_END.search(lines[end - 1]):
            end -= 1
        # In a continuously numbered text the sections are only dividers: citations name items.
        if marker.level == 2 or doc.numbering == "by-section":
            clauses[marker.label] = Clause(
                doc.id, marker.label, "\n".join(lines[marker.line:end]), marker.line + 1, doc.heading_style)
    if not clauses:
        problems.append(Problem(str(doc.path), None, f"{doc.id} is marked labelled but has no clause labels"))
    return clauses


def _find_markers(doc: SourceDoc, lines: list[str], problems: list[Problem]) -> list[_Marker]:
    """Section and item labels at line starts, checked to count 一, 二, 三… without gaps."""
    markers: list[_Marker] = []
    section: str | None = None
    sections_seen = items_seen = 0
    for index, line in enumerate(lines):
        if m := _SECTION_LINE.match(line):
            level, numeral, expected = 1, m[1], sections_seen + 1
            sections_seen, section = expected, m[1]
            if doc.numbering == "by-section":
                items_seen = 0
        elif m := _ITEM_LINE.match(line):
            level, numeral, expected = 2, m[1], items_seen + 1
            items_seen = expected
            if doc.numbering == "by-section" and section is None:
                problems.append(Problem(str(doc.path), index + 1, f"item {m[1]} comes before any section"))
        else:
            continue
        if _numeral_value(numeral) != expected:
            written = "{}、" if level == 1 else "（{}）"
            problems.append(Problem(str(doc.path), index + 1, f"label {written.format(numeral)} out of sequence: "
                                                              f"expected {written.format(_numeral(expected))}"))
            continue
        if level == 1:
            label = _canonical(section, None)
        else:
            label = _canonical(section if doc.numbering == "by-section" else None, numeral)
        markers.append(_Marker(index, level, label))
    return markers
