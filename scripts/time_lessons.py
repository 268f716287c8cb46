"""Time every notebook under the given profiles and write the table the course shows (ftlab/course/lesson_times.json).

Usage:  python scripts/time_lessons.py [--profiles quick standard] [--only 03 04] [--keep DIR]
Each notebook runs top to bottom in a fresh kernel of this environment, with the hub switched off. Lessons run in
course order and share the runs folder, as they do for a learner: lesson 04 evaluates the model lesson 03 saved.
With --keep, the executed notebooks (outputs included) are written to DIR/<profile>/ for reading the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "ftlab" / "course" / "lesson_times.json"


def machine() -> str:
    """A short description of this machine: CPU cores, model and torch's CPU capability (AVX2, AVX512, ...: machines
    of one model name differ), GPU if any."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cores} CPU cores ({cpu}, {torch.backends.cpu.get_cpu_capability()}){gpu}"


def run(path: Path, profile: str, keep: Path | None = None) -> float:
    """Execute one notebook under `profile`; return its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    os.environ["FTLAB_PROFILE"] = profile
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["FTLAB_LIVE_PLOT"] = "0"
    start = time.perf_counter()
    NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    if keep is not None:
        target = keep / profile / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["quick", "standard"])
    parser.add_argument("--only", nargs="+", default=[], metavar="PREFIX",
                        help="time only the notebooks whose name starts with one of these, e.g. 03 04")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write the executed notebooks under DIR")
    args = parser.parse_args(argv)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {"machine": "", "seconds": {}}
    # Times measured before keep the machine they were measured on; this run's carry this machine.
    previous = times.get("machine", "")
    for key, by_profile in times["seconds"].items():
        for profile in by_profile:
            times.setdefault("on", {}).setdefault(key, {}).setdefault(profile, previous)
    times["machine"] = machine()
    notebooks = sorted((ROOT / "lessons").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if p.name.startswith(tuple(args.only))]
    if not notebooks:
        sys.exit(f"no notebook matches --only {' '.join(args.only)}")
    for profile in args.profiles:
        for path in notebooks:
            key = path.stem if path.parent.name == "lessons" else f"{path.stem} (exercises)"
            seconds = run(path, profile, args.keep)
            times["seconds"].setdefault(key, {})[profile] = round(seconds, 1)
            times.setdefault("on", {}).setdefault(key, {})[profile] = times["machine"]
            print(f"{profile:9s} {key:40s} {seconds:7.1f} s", flush=True)
            TIMES.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
