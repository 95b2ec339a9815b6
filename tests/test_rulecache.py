"""The ruleset cache gives what a fresh load gives, and any edit to the rules is a miss."""
import shutil

from engine.loader import DEFAULT_RULES, load_rules
from engine.rulecache import load_cached


def test_a_cached_ruleset_is_the_loaded_one_and_an_edit_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SKILLS_RULES_NO_CACHE", raising=False)
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, rules)
    first = load_cached(rules)  # a miss: loaded, checked and written
    assert len(list((tmp_path / "cache" / "skills-rules").glob("*.pickle"))) == 1
    second = load_cached(rules)  # a hit
    assert second.digest == first.digest == load_rules(rules).digest
    assert sorted(second.programmes) == sorted(first.programmes)

    path = rules / "ruleset.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("2026.11.0", "2026.11.1"), encoding="utf-8")
    edited = load_cached(rules)
    assert edited.version == "2026.11.1"
    assert len(list((tmp_path / "cache" / "skills-rules").glob("*.pickle"))) == 2


def test_a_broken_cache_file_is_a_miss_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SKILLS_RULES_NO_CACHE", raising=False)
    load_cached(DEFAULT_RULES)
    for cached in (tmp_path / "cache" / "skills-rules").glob("*.pickle"):
        cached.write_bytes(b"not a pickle")
    assert load_cached(DEFAULT_RULES).digest == load_rules(DEFAULT_RULES).digest
