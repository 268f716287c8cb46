"""Runs you can look back at: every training the course runs, written to TensorBoard's files and read back.

The lessons' `Trainer` (`fine_tune`), the plain loop (`train_classifier`) and `ftlab train` write their training
loss, learning rate and validation scores as TensorBoard event files, one folder per run: the lessons under
`logs_dir()` (the runs folder of the profile, `logs/<run name>/<date and time>`), `ftlab train` under
`<output_dir>/logs`. Nothing leaves the machine. Look at them with TensorBoard's own viewer,

    tensorboard --logdir ~/.cache/ftlab/runs/standard/logs      (then open http://localhost:6006)

or, in a notebook, `%load_ext tensorboard` and `%tensorboard --logdir <folder>`; `find_runs` and `read_scalars` read
them back into tables without a server (lesson 03 compares two runs that way). The scalars carry the `Trainer`'s
names: `train/loss`, `train/learning_rate`, `eval/loss`, `eval/macro_f1`, `eval/accuracy` (and `test/...` for
`ftlab train`). `FTLAB_TRACKER=none` turns the writing off.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from ftlab.config import RUNS_ENV, Profile, cache_dir, env_choice, get_profile

TRACKER_ENV = "FTLAB_TRACKER"
TRACKERS = ("tensorboard", "none")
LOGS = "logs"
EVENTS_GLOB = "events.out.tfevents.*"


def tracker() -> str:
    """The tracker in use: FTLAB_TRACKER (tensorboard, the default, or none); a clear error for anything else."""
    return env_choice(TRACKER_ENV, TRACKERS, "tensorboard", "tracker", "tensorboard (the default) or none")


def enabled() -> bool:
    """Whether training runs are written down: the tracker is on and TensorBoard's writer can be imported."""
    if tracker() == "none":
        return False
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (needs the tensorboard package)
    except ImportError:
        return False
    return True


def logs_dir(profile: Profile | str | None = None) -> Path:
    """Where the lessons' runs are written for this profile: <runs folder>/logs (`ftlab.training.runs_dir`)."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    return Path(os.environ.get(RUNS_ENV, cache_dir() / "runs")).expanduser() / profile.name / LOGS


def slug(name: str) -> str:
    """A run name as a folder name: letters, digits, '.', '-' and '_' kept, anything else made '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("_.")
    return cleaned[:80] or "run"


def stamp() -> str:
    """The date and time a run starts, as a folder name (2026-12-06_14-05-09)."""
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


def new_run_dir(name: str, root: str | Path | None = None) -> Path:
    """A fresh folder for one run: <root>/<name>/<date and time>; a run never writes into an earlier one's."""
    base = Path(root) if root is not None else logs_dir()
    started = stamp()
    folder = base / slug(name) / started
    count = 1
    while folder.exists():
        count += 1
        folder = base / slug(name) / f"{started}_{count}"
    return folder


def writer(name: str, root: str | Path | None = None):
    """A TensorBoard `SummaryWriter` for a new run called `name` (None when tracking is off)."""
    if not enabled():
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(new_run_dir(name, root)))


def find_runs(root: str | Path | None = None) -> pd.DataFrame:
    """Every run under `root` (by default this profile's logs): its name, when it started and its folder,
    oldest first."""
    base = Path(root) if root is not None else logs_dir()
    folders = sorted({path.parent for path in base.rglob(EVENTS_GLOB)}) if base.is_dir() else []
    rows = [{"run": folder.relative_to(base).as_posix(), "name": folder.relative_to(base).parts[0],
             "started": datetime.fromtimestamp(min(p.stat().st_mtime for p in folder.glob(EVENTS_GLOB))),
             "folder": folder} for folder in folders]
    return pd.DataFrame(rows, columns=["run", "name", "started", "folder"]).sort_values("started",
                                                                                        ignore_index=True)


def latest_run(name: str, root: str | Path | None = None) -> Path:
    """The folder of the newest run called `name` under `root`; a clear error if there is none."""
    runs = find_runs(root)
    runs = runs[runs["name"] == slug(name)]
    if runs.empty:
        where = Path(root) if root is not None else logs_dir()
        raise FileNotFoundError(f"no run called {name!r} under {where}: train it first, and check that "
                                f"{TRACKER_ENV} is not 'none'")
    return runs["folder"].iloc[-1]


def read_scalars(run: str | Path) -> pd.DataFrame:
    """One run's scalars as a table: tag, step, value (and wall time), in the order they were written."""
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    folder = Path(run)
    if not folder.is_dir() or not any(folder.glob(EVENTS_GLOB)):
        raise FileNotFoundError(f"{folder} holds no TensorBoard event files: pass a run's folder (see find_runs)")
    events = EventAccumulator(str(folder), size_guidance={SCALARS: 0})  # 0: keep every point, not a sample
    events.Reload()
    rows = [{"tag": tag, "step": point.step, "value": point.value, "wall_time": point.wall_time}
            for tag in events.Tags()[SCALARS] for point in events.Scalars(tag)]
    return pd.DataFrame(rows, columns=["tag", "step", "value", "wall_time"])


def scalar(run: str | Path, tag: str) -> pd.Series:
    """One scalar of one run against the step (the last value written at a step wins)."""
    table = read_scalars(run)
    part = table[table["tag"] == tag]
    if part.empty:
        raise KeyError(f"{Path(run)} has no scalar {tag!r}; it has {sorted(set(table['tag']))}")
    return part.groupby("step")["value"].last().rename(tag)


class LoopLogger:
    """Writes a plain training loop's figures with the Trainer's names (train/loss, eval/macro_f1, ...)."""

    def __init__(self, name: str, root: str | Path | None = None):
        self.writer = writer(name, root)

    @property
    def folder(self) -> Path | None:
        return Path(self.writer.log_dir) if self.writer is not None else None

    def log(self, step: int, values: dict[str, float]) -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            self.writer.add_scalar(key, float(value), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
