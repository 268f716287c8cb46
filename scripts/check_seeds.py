"""Run the lessons and the solved exercises under other seeds, and print which notebooks pass at which seed.

Usage:  python scripts/check_seeds.py [--seeds 42 7 2024] [--profile quick] [--only 03 04] [--no-solutions]

Each seed runs in its own pytest process with FTLAB_SEED set and its own folder of trained models (lesson 04 then
evaluates the model lesson 03 trained at that seed, as it would for a learner). The course promises that every
notebook passes at any seed; this is the check, too long for the test suite (it runs every notebook once per
seed). Exits non-zero when any notebook fails at any seed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def notebooks(only: list[str] | None, solutions: bool) -> list[Path]:
    folders = ["lessons"] + (["solutions"] if solutions else [])
    found = sorted(p for folder in folders for p in (ROOT / folder).glob("*.ipynb"))
    if only:
        found = [p for p in found if p.name[:2] in only]
    return sorted(found, key=lambda p: (p.name, p.parent.name != "lessons"))  # a lesson before its solution


def run_seed(seed: int, profile: str, paths: list[Path]) -> tuple[dict[str, str], float]:
    """Run `paths` under FTLAB_SEED=seed; return each notebook's outcome ('passed' or the first failing cell)."""
    env = {**os.environ, "FTLAB_SEED": str(seed), "FTLAB_PROFILE": profile, "HF_HUB_OFFLINE": "1",
           "FTLAB_RUNS_DIR": tempfile.mkdtemp(prefix=f"ftlab-test-runs-seed{seed}-")}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "slow or not slow", "-p", "no:cacheprovider",
                             "-rf", *map(str, paths)], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    outcome = {f"{p.parent.name}/{p.stem}": "passed" for p in paths}
    for line in result.stdout.splitlines():
        failed = re.match(r"FAILED (\S+?\.ipynb)::Cell (\d+)", line)
        if failed:
            key = str(Path(failed.group(1)).with_suffix(""))
            outcome[key] = f"failed at cell {failed.group(2)}"
    if result.returncode not in (0, 1):
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        raise SystemExit(f"pytest could not run at seed {seed} (exit {result.returncode})")
    return outcome, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 2024])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--only", nargs="+", help="two-digit lesson numbers, e.g. 03 04")
    parser.add_argument("--no-solutions", action="store_true", help="run the lessons only")
    args = parser.parse_args(argv)
    paths = notebooks(args.only, not args.no_solutions)
    table: dict[str, dict[int, str]] = {f"{p.parent.name}/{p.stem}": {} for p in paths}
    for seed in args.seeds:
        outcome, seconds = run_seed(seed, args.profile, paths)
        for name, result in outcome.items():
            table[name][seed] = result
        print(f"seed {seed}: {sum(r == 'passed' for r in outcome.values())}/{len(outcome)} notebooks passed "
              f"in {seconds / 60:.1f} min ({args.profile})", flush=True)
    width = max(map(len, table))
    print("\n" + "notebook".ljust(width) + "".join(f" | seed {s}".ljust(22) for s in args.seeds))
    for name, results in table.items():
        print(name.ljust(width) + "".join(f" | {results[s]}".ljust(22) for s in args.seeds))
    return 0 if all(r == "passed" for results in table.values() for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
