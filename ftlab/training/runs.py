"""Runs kept on disk: model folders saved atomically, the run record beside them, lesson 03's model cache.

Every write here goes to a temporary name next to its target first and is renamed into place when complete, so a
reader (or a crash half-way) only ever sees the old file or folder or the new one, never a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ftlab import data
from ftlab.config import Profile, RUNS_ENV, RUN_INFO, SEED, WARMUP, WEIGHT_DECAY, cache_dir, get_profile
from ftlab.models import load_tokenizer, pick_device
from ftlab.training.trainer import fine_tune

FINETUNED = "03_finetuned"


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_run_info(model_dir: str | Path) -> dict:
    """The record ftlab keeps next to a model it trained (recipe, scores); empty if there is none or it is unreadable."""
    file = Path(model_dir) / RUN_INFO
    if not file.is_file():
        return {}
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return info if isinstance(info, dict) else {}


def save_atomically(model, tokenizer, path: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Save model and tokenizer (safetensors) into `path` so that `path` is always either the old or the new model.

    Everything is written into a temporary folder next to `path` first; only a complete folder is renamed
    into place. If anything fails on the way, the previous folder at `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.saving-", dir=path.parent))
    try:
        model.save_pretrained(staging)  # safetensors, the default of transformers 5 and peft
        if tokenizer is not None:
            tokenizer.save_pretrained(staging)
        for filename, text in (extra_files or {}).items():
            (staging / filename).write_text(text, encoding="utf-8")
        if not any(staging.glob("*.safetensors")):
            raise RuntimeError(f"saving produced no .safetensors file in {staging} (the folder at {path} is left as it was): "
                               f"save a transformers or peft model, whose save_pretrained writes safetensors")
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{os.getpid()}"
            os.replace(path, old)
        try:
            os.replace(staging, path)
        except BaseException:
            if old is not None:  # put the previous model back where it was
                os.replace(old, path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def runs_dir(profile: Profile | str | None = None) -> Path:
    """The folder where lessons keep trained models for this profile ($FTLAB_RUNS_DIR or ~/.cache/ftlab/runs)."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    return Path(os.environ.get(RUNS_ENV, cache_dir() / "runs")).expanduser() / profile.name


def finetuned_model(profile: Profile | str | None = None, retrain: bool = False):
    """The model lesson 03 fine-tunes for this profile: loaded from the runs folder, or trained and saved there.

    Returns (model, tokenizer, info) where info records the recipe and the validation scores. A saved model
    whose recipe differs from the current one (another profile size, learning rate, …) is trained again.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    folder = runs_dir(profile) / FINETUNED
    info = read_run_info(folder)
    if not retrain and info:
        if info.get("recipe") == _recipe(profile):
            model = AutoModelForSequenceClassification.from_pretrained(folder).to(pick_device())
            return model, AutoTokenizer.from_pretrained(folder), info
    tokenizer = load_tokenizer(profile.model)
    encoded = data.tokenize(data.load_tweets(profile), tokenizer, profile.max_length)
    trainer = fine_tune(encoded, tokenizer, profile.model, epochs=profile.epochs, batch_size=profile.batch_size,
                        learning_rate=profile.learning_rate, output_dir=runs_dir(profile) / "trainer-output")
    path = save_finetuned(trainer.model, tokenizer, profile, trainer.evaluate())
    return trainer.model, tokenizer, read_run_info(path)


def _recipe(profile: Profile) -> dict:
    return {"profile": profile.as_dict(), "weight_decay": WEIGHT_DECAY, "warmup": WARMUP, "seed": SEED}


def save_finetuned(model, tokenizer, profile: Profile, validation_scores: dict[str, float]) -> Path:
    """Save a model trained with the lesson-03 recipe where `finetuned_model` finds it, with its recipe and scores."""
    info = {"recipe": _recipe(profile), "base_model": profile.model,
            "validation": {k: float(v) for k, v in validation_scores.items() if k.startswith("eval_")}}
    return save_atomically(model, tokenizer, runs_dir(profile) / FINETUNED,
                           extra_files={RUN_INFO: json.dumps(info, indent=1)})
