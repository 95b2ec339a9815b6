"""Start-up costs, measured from the shell as a caseworker meets them: `check` of one applicant (cold
process, ruleset cache warm and — the baseline — disabled), `rules lint` of the whole tree, and the
rules load + lint in process. Each is run N times; min and median wall seconds are printed.

    python benchmarks/startup.py [--runs 15]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXAMPLE = ROOT / "cases" / "examples" / "new-hire-apprentice.yaml"


def wall(args: list[str], runs: int, env: dict | None = None) -> dict:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return {"min_s": round(min(times), 3), "median_s": round(statistics.median(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    python, cli = sys.executable, str(ROOT / "cli.py")
    check = [python, cli, "check", str(EXAMPLE), "--format", "json"]
    # as on a user's machine, Python keeps the compiled modules it writes on the first run (some
    # sandboxes set PYTHONDONTWRITEBYTECODE, which would recompile every module on every run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(check, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)  # fills the caches
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "python -c pass (the floor)": wall([python, "-c", "pass"], runs, env),
        "check, ruleset cache warm": wall(check, runs, env),
        "check, no cache (baseline)": wall(check, runs, env={**env, "SKILLS_RULES_NO_CACHE": "1"}),
        "rules lint (process)": wall([python, cli, "rules", "lint"], runs, env),
    }
    from engine.lint import lint
    from engine.loader import load_rules

    loads, lints = [], []
    for _ in range(runs):
        start = time.perf_counter()
        ruleset = load_rules()
        middle = time.perf_counter()
        lint(ruleset, __import__("datetime").date.today())
        loads.append(middle - start)
        lints.append(time.perf_counter() - middle)
    results["rules load in process"] = {"min_s": round(min(loads), 3), "median_s": round(statistics.median(loads), 3)}
    results["lint in process"] = {"min_s": round(min(lints), 4), "median_s": round(statistics.median(lints), 4)}
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
