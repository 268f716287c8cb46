"""The course itself: its lessons, their measured run times, and the setup line each notebook starts with."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from pathlib import Path

from ftlab.config import Profile, SEED, get_profile
from ftlab.models import pick_device, set_cpu_threads

LESSONS: dict[str, str] = {
    "00_setup": "Setup: versions, device, offline assets, profile",
    "01_pretrained_model": "The pretrained model: tokens, embeddings, similarity, a zero-shot baseline",
    "02_dataset": "The task dataset: inspect, clean, de-duplicate and split crowd-labelled tweets",
    "03_fine_tuning": "Fine-tuning: the Trainer and a plain PyTorch loop, live curves, what the weights did",
    "04_evaluation": "Evaluation: metrics, errors, calibration, baselines, a search on the validation split",
    "05_deployment": "Deployment: a safe model folder, a model card, an HTTP service, latency, ONNX Runtime and int8",
    "06_pitfalls": "Pitfalls: seed variance, data efficiency, overfitting, learning rate, label noise, topics, forgetting",
    "07_generative": "A generative model: a tiny GPT-2 fine-tuned to translate a phrasebook, masking, decoding, forgetting",
    "08_efficient": "Efficient fine-tuning: full vs head vs frozen layers vs LoRA, memory, accumulation, precision, processes",
    "09_assistant": "An assistant: chat template and loss mask, SFT, packing, DPO and GRPO with TRL, a gamed reward, cost",
    "10_project": "Your own project: look at your file, clean it, baselines, fine-tune, decide on validation, card, serve",
}

# Written by scripts/time_lessons.py: seconds per notebook and profile, measured on one machine.
TIMES_FILE = Path(__file__).with_name("lesson_times.json")

VERSIONED_PACKAGES = ("torch", "transformers", "datasets", "accelerate", "peft", "scikit-learn", "numpy",
                      "pandas", "ipywidgets", "onnxruntime", "trl")


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
    """The measured run times: {'machine': ..., 'seconds': {notebook: {profile: s}}, 'on': {notebook: {profile:
    machine}}} (empty if unmeasured). A time without an entry in 'on' was measured on 'machine'."""
    if not TIMES_FILE.exists():
        return {"machine": "", "seconds": {}, "on": {}}
    times = json.loads(TIMES_FILE.read_text(encoding="utf-8"))
    times.setdefault("on", {})
    return times


def measured_on(times: dict, notebook: str, profile: str) -> str:
    """The machine `notebook` was timed on under `profile`."""
    return times["on"].get(notebook, {}).get(profile, times["machine"])


def time_estimate(notebook: str, profile: str) -> str:
    """A sentence saying how long `notebook` took under `profile` when it was last measured."""
    times = lesson_times()
    seconds = times["seconds"].get(notebook, {}).get(profile)
    if seconds is None:
        return f"{notebook} has not been timed under the {profile!r} profile yet."
    return f"{notebook} took {seconds / 60:.1f} min under the {profile!r} profile on {measured_on(times, notebook, profile)}."


def times_table(profiles: tuple[str, ...] = ("quick", "standard")) -> str:
    """The measured times as a Markdown table (minutes per notebook and profile), as the README shows it.

    Times measured on another machine than most of their column are marked with *, and the machine is named below.
    """
    times = lesson_times()
    seconds = times["seconds"]
    rows = ["| notebook | " + " | ".join(f"{p} (min)" for p in profiles) + " |",
            "|---|" + "---|" * len(profiles)]
    totals = dict.fromkeys(profiles, 0.0)
    untimed = dict.fromkeys(profiles, False)
    usual = {}
    for profile in profiles:
        machines = [measured_on(times, name, profile) for name in seconds if profile in seconds[name]]
        usual[profile] = max(set(machines), key=machines.count) if machines else times["machine"]
    elsewhere: set[str] = set()
    for name in sorted(seconds):
        cells = []
        for profile in profiles:
            value = seconds[name].get(profile)
            mark = ""
            if value is not None and measured_on(times, name, profile) != usual[profile]:
                mark = "*"
                elsewhere.add(f"{profile} {name}: {measured_on(times, name, profile)}")
            cells.append("–" if value is None else f"{value / 60:.1f}{mark}")
            totals[profile] += value or 0.0
            untimed[profile] |= value is None
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    rows.append("| all notebooks | " + " | ".join(
        f"{totals[p] / 60:.1f}" + (" + the untimed ones" if untimed[p] else "") for p in profiles) + " |")
    lines = ["\n".join(rows), "", "Machines: " + "; ".join(f"{p} on {usual[p]}" for p in profiles) + "."]
    if elsewhere:
        lines.append("\\* measured on another machine: " + "; ".join(sorted(elsewhere)) + ".")
    return "\n".join(lines)


def start_lesson(notebook: str, profile: str | None = None, seed: int = SEED) -> Profile:
    """Print versions, device, profile and time estimate; fix the random seeds; return the profile."""
    import torch
    from transformers import set_seed

    chosen = get_profile(profile)
    set_seed(seed)
    threads = set_cpu_threads()
    print(" | ".join(f"{k} {v}" for k, v in package_versions().items()))
    print(f"device: {pick_device()} (torch threads: {threads}) | profile: {chosen.name} — {chosen.description}")
    print(time_estimate(notebook, chosen.name))
    torch.manual_seed(seed)
    return chosen
