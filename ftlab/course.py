"""The course itself: its lessons, their measured run times, and the setup line each notebook starts with."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from pathlib import Path

from ftlab.config import SEED, Profile, get_profile

LESSONS: dict[str, str] = {
    "00_setup": "Setup: versions, device, offline assets, profile",
    "01_pretrained_model": "The pretrained model: tokens, embeddings, similarity, a zero-shot baseline",
    "02_dataset": "The task dataset: inspect, clean, de-duplicate and split crowd-labelled tweets",
    "03_fine_tuning": "Fine-tuning: the Trainer and a plain PyTorch loop, live curves, what the weights did",
    "04_evaluation": "Evaluation: metrics, errors, calibration, baselines, a search on the validation split",
    "05_deployment": "Deployment: a safe model folder, a model card, an HTTP service, latency, an int8 variant",
}

# Written by scripts/time_lessons.py: seconds per notebook and profile, measured on one machine.
TIMES_FILE = Path(__file__).with_name("lesson_times.json")

VERSIONED_PACKAGES = ("torch", "transformers", "datasets", "accelerate", "peft", "scikit-learn", "numpy",
                      "pandas", "ipywidgets")


def package_versions() -> dict[str, str]:
    """Python and the installed versions of the packages the course relies on."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def lesson_times() -> dict:
    """The measured run times: {'machine': ..., 'seconds': {notebook: {profile: s}}} (empty if unmeasured)."""
    if not TIMES_FILE.exists():
        return {"machine": "", "seconds": {}}
    return json.loads(TIMES_FILE.read_text(encoding="utf-8"))


def time_estimate(notebook: str, profile: str) -> str:
    """A sentence saying how long `notebook` took under `profile` when it was last measured."""
    times = lesson_times()
    seconds = times["seconds"].get(notebook, {}).get(profile)
    if seconds is None:
        return f"{notebook} has not been timed under the {profile!r} profile yet."
    return f"{notebook} took {seconds / 60:.1f} min under the {profile!r} profile on {times['machine']}."


def start_lesson(notebook: str, profile: str | None = None, seed: int = SEED) -> Profile:
    """Print versions, device, profile and time estimate; fix the random seeds; return the profile."""
    import torch
    from transformers import set_seed

    from ftlab.models import pick_device, set_cpu_threads

    chosen = get_profile(profile)
    set_seed(seed)
    threads = set_cpu_threads()
    print(" | ".join(f"{k} {v}" for k, v in package_versions().items()))
    print(f"device: {pick_device()} (torch threads: {threads}) | profile: {chosen.name} — {chosen.description}")
    print(time_estimate(notebook, chosen.name))
    torch.manual_seed(seed)
    return chosen
