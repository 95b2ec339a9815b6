"""A cache of the loaded, checked ruleset, so `check` does not re-read and re-validate the rule tree
on every start (the YAML parse and the rule-file schemas are about a third of a cold start).

The cache key is a hash of the content of every file under the rules folder and of the size and
time of each engine module: any edit to a rule, a source text or the engine is a miss, and the rules are loaded and
checked as usual. The cache lives in the user's cache folder (XDG_CACHE_HOME or ~/.cache), written
atomically and readable by the user only; SKILLS_RULES_NO_CACHE=1 turns it off. It stores the
ruleset our own loader built (pickle), never rule text to be run: rules are still parsed only by
engine.expression.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

ENGINE = Path(__file__).resolve().parent
DEFAULT_RULES = ENGINE.parent / "rules"


def _digest(rules_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in rules_dir.rglob("*") if p.is_file()):
        digest.update(f"rules/{path.relative_to(rules_dir).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    for path in sorted(ENGINE.glob("*.py")):  # the engine by size and time: it changes with installs
        stat = path.stat()
        digest.update(f"engine/{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skills-rules"


def load_cached(rules_dir: Path | None = None):
    """The ruleset of `rules_dir` (default: the shipped rules), from the cache when nothing has
    changed since it was written. The loader is imported only on a miss: it is the expensive part."""
    rules_dir = Path(rules_dir or DEFAULT_RULES)
    if os.environ.get("SKILLS_RULES_NO_CACHE"):
        return _load(rules_dir)
    try:
        path = _folder() / f"{_digest(rules_dir)}.pickle"
    except OSError:
        return _load(rules_dir)  # the loader names what is wrong with the folder
    try:
        with path.open("rb") as stream:
            return pickle.load(stream)
    except Exception:  # a miss, or a file from another layout: load and check the rules
        pass
    ruleset = _load(rules_dir)  # a RuleError propagates: nothing is cached for broken rules
    try:
        folder = _folder()
        folder.mkdir(parents=True, exist_ok=True)
        import tempfile

        handle, name = tempfile.mkstemp(dir=folder, prefix=".part.")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(ruleset, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(name, path)
    except OSError:
        pass  # no cache folder: every start loads the rules, which is correct, only slower
    return ruleset


def _load(rules_dir: Path):
    from engine.loader import load_rules

    return load_rules(rules_dir)
