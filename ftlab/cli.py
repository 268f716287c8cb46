"""The `ftlab` command line: `ftlab doctor` checks that this machine can run the course offline; `ftlab train`
fine-tunes from a config file (resumable, on one or several processes); `ftlab serve` serves a fine-tuned model
over HTTP."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ftlab import __version__, serving
from ftlab.assets import ASSETS, check_asset, hub_offline
from ftlab.config import LABELS, PROFILES, SERVE_MAX_BATCH, SERVE_MAX_CHARS, get_profile
from ftlab.course.lesson import package_versions
from ftlab.data import clean_text, load_raw_tweets
from ftlab.labs.generative import generate, load_causal_lm
from ftlab.labs.pitfalls import lee_corpus
from ftlab.labs.project import sms_spam_frame
from ftlab.models import embed, load_classifier, load_encoder, load_tokenizer, pick_device
from ftlab.training import job
from ftlab.training.precision import choose_precision
from ftlab.training.loop import train_classifier

MINIMUM_PYTHON = (3, 10)


def doctor_report(load_model: bool = True) -> dict:
    """Everything `ftlab doctor` checks, as a dictionary; `ok` is False if the course cannot run offline."""
    problems: list[str] = []
    report: dict = {"ftlab": __version__, "versions": package_versions()}
    if sys.version_info[:2] < MINIMUM_PYTHON:
        problems.append(f"Python {sys.version_info[0]}.{sys.version_info[1]} is too old: the course needs "
                        f"{MINIMUM_PYTHON[0]}.{MINIMUM_PYTHON[1]} or newer")
    for name in ("torch", "transformers", "datasets"):
        if report["versions"].get(name) == "not installed":
            problems.append(f"{name} is not installed: run  pip install -e .  in the course folder")
    try:
        profile = get_profile()
        report["profile"] = profile.name
    except ValueError as err:
        problems.append(str(err))
        report["profile"] = None
    report["hub"] = "off (HF_HUB_OFFLINE=1)" if hub_offline() else "on (used only for hub names you ask for)"
    try:

        report["device"] = pick_device()
    except ImportError as err:
        report["device"] = f"unknown ({err})"
    try:
        choice = choose_precision(measure=load_model)
        report["precision"] = {"autocast": choice.autocast, "name": choice.name, "reason": choice.reason,
                               "source": choice.source, "figures": choice.figures}
    except Exception as err:  # the choice must never stop the doctor: float32 is always safe
        report["precision"] = {"autocast": None, "name": "float32", "reason": f"probe failed ({err})",
                               "source": "error", "figures": {}}
    report["assets"] = {}
    for name, asset in ASSETS.items():
        status = check_asset(name)
        report["assets"][name] = {"ok": status.ok, "path": status.path, "detail": status.detail}
        if asset.required and not status.ok:
            problems.append(f"asset {name!r}: {status.detail}")
    if load_model:
        report["loads"] = {}
        for name, attempt in LOADERS.items():
            if report["assets"].get(name, {}).get("ok"):
                report["loads"][name] = _attempt(attempt)
                if not report["loads"][name]["ok"]:
                    problems.append(f"asset {name!r} is installed but does not load: {report['loads'][name]['detail']}")
        if "minilm" in report["loads"]:
            report["model_load"] = report["loads"]["minilm"]
        if report["loads"].get("minilm", {}).get("ok") and report["loads"].get("tweets", {}).get("ok"):
            report["smoke"] = _attempt(_smoke_fine_tune)
            if not report["smoke"]["ok"]:
                problems.append(f"a short fine-tuning run fails: {report['smoke']['detail']}")
    report["problems"] = problems
    report["ok"] = not problems
    return report


def _attempt(check) -> dict:
    """Run one load check; a crash becomes a failed status with the error, never a traceback."""
    start = time.perf_counter()
    try:
        ok, detail = check()
    except Exception as err:
        return {"ok": False, "detail": f"{type(err).__name__}: {err}"}
    return {"ok": bool(ok), "detail": f"{detail} ({time.perf_counter() - start:.1f} s)"}


def _load_minilm() -> tuple[bool, str]:
    """Lessons 01-06 and 08: load the encoder and embed one sentence."""

    model, tokenizer = load_encoder("minilm", device="cpu"), load_tokenizer("minilm")
    vector = embed(["The course runs offline."], model, tokenizer, progress=False)
    return vector.shape == (1, 384), f"embedded a sentence into {vector.shape[1]} numbers"


def _load_tweets() -> tuple[bool, str]:
    """Lessons 02-08: read the labelled tweets."""

    raw = load_raw_tweets()
    return len(raw) > 30_000, f"read {len(raw):,} labelled tweets"


def _load_lee() -> tuple[bool, str]:
    """Lesson 06: the Lee corpus and its similarity ratings."""

    docs, ratings = lee_corpus()
    return len(docs) == 50, f"read {len(docs)} documents and a {ratings.shape[0]}×{ratings.shape[1]} rating matrix"


def _load_tiny_gpt2() -> tuple[bool, str]:
    """Lesson 07: load the tiny GPT-2 and let it write a few tokens."""

    model, tokenizer = load_causal_lm("tiny-gpt2", device="cpu")
    text = generate(model, tokenizer, ["It is a truth"], max_new_tokens=5)[0]
    return bool(text.strip()), f"wrote {text.strip()!r}"


def _load_sms_spam() -> tuple[bool, str]:
    """Lesson 10: the SMS Spam Collection, repaired to its published 5,574 messages."""
    frame, _ = sms_spam_frame()
    counts = frame["label"].value_counts()
    return len(frame) == 5574, f"read {len(frame):,} messages ({', '.join(f'{k} {v:,}' for k, v in counts.items())})"


LOADERS = {"minilm": _load_minilm, "tweets": _load_tweets, "lee": _load_lee, "tiny-gpt2": _load_tiny_gpt2,
           "sms-spam": _load_sms_spam}


def _smoke_fine_tune(n_tweets: int = 64, batch_size: int = 16) -> tuple[bool, str]:
    """A few optimizer steps of full fine-tuning on a few cleaned tweets: the loss is finite and weights moved."""
    import numpy as np
    from datasets import Dataset

    raw = load_raw_tweets()
    raw = raw[raw["sentiment"].isin(LABELS)].sample(n_tweets, random_state=0)
    tokenizer = load_tokenizer("minilm")
    encoded = tokenizer([clean_text(t) for t in raw["text"]], truncation=True, max_length=64)
    labels = [LABELS.index(label) for label in raw["sentiment"]]
    dataset = Dataset.from_dict({**encoded, "label": labels})
    model = load_classifier("minilm", device="cpu")
    before = model.classifier.weight.detach().clone()
    run = train_classifier(dataset, tokenizer, model=model, epochs=1, batch_size=batch_size, learning_rate=1e-4,
                           progress=False)
    moved = not np.allclose(before.numpy(), model.classifier.weight.detach().numpy())
    finite = bool(np.isfinite(run.step_losses).all())
    return finite and moved, (f"{len(run.step_losses)} training steps on {n_tweets} tweets, "
                              f"loss {run.step_losses[0]:.3f} → {run.step_losses[-1]:.3f}")


def _print_report(report: dict) -> None:
    mark = {True: "ok  ", False: "FAIL"}
    print(f"ftlab {report['ftlab']} doctor")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    print(f"device:   {report['device']}")
    profile = report["profile"]
    print(f"profile:  {profile}  (set FTLAB_PROFILE to one of {', '.join(PROFILES)})")
    print(f"hub:      {report['hub']}")
    precision = report.get("precision")
    if precision:
        print(f"training precision: {precision['name']} ({precision['source']}): {precision['reason']}")
    for name, status in report["assets"].items():
        print(f"[{mark[status['ok']]}] asset {name}: {status['detail']}")
        if status["path"]:
            print(f"         {status['path']}")
    for name, status in report.get("loads", {}).items():
        print(f"[{mark[status['ok']]}] load {name}: {status['detail']}")
    if "smoke" in report:
        print(f"[{mark[report['smoke']['ok']]}] fine-tuning smoke run: {report['smoke']['detail']}")
    if report["ok"]:
        print("Everything the course needs is here: it can run offline.")
    else:
        print("The course cannot run offline yet:")
        for problem in report["problems"]:
            print(f"  - {problem}")


def _serve(args, parser) -> int:

    for name in ("max_batch", "max_chars"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, not {value}")
    if not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, not {args.port}")
    try:
        serving.check_model_folder(args.model_dir)
    except serving.ModelFolderError as err:
        print(f"ftlab serve: {err}", file=sys.stderr)
        return 2
    if args.int8 and args.runtime == "torch":
        parser.error("--int8 runs on ONNX Runtime: use --runtime onnx --int8 (or leave --runtime out)")
    if args.precision == "bf16" and (args.int8 or args.runtime == "onnx"):
        parser.error("--precision bf16 is PyTorch's bfloat16 autocast: leave out --runtime onnx and --int8")
    try:
        serving.serve(args.model_dir, host=args.host, port=args.port, runtime=args.runtime, int8=args.int8,
                      precision=args.precision, max_batch=args.max_batch or SERVE_MAX_BATCH,
                      max_chars=args.max_chars or SERVE_MAX_CHARS, log_level=args.log_level)
    except KeyboardInterrupt:
        pass
    return 0


def _train(args) -> int:

    config = job.load_config(args.config, args.set)
    record = job.run(config, resume=not args.restart, stop_after_steps=args.stop_after_steps)
    if not record["main_process"]:
        return 0
    if "stopped_at_step" in record:
        print(f"stopped after step {record['stopped_at_step']}; resume with the same command "
              f"(checkpoint {record['checkpoint']})")
    else:
        print(f"done: {record['steps']} steps in {record['seconds']:.0f} s on {record['processes']} process(es); "
              f"validation macro-F1 {record['validation']['macro_f1']:.3f}, test macro-F1 "
              f"{record['test']['macro_f1']:.3f}; model in {Path(config.output_dir) / 'model'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ftlab` console script."""
    parser = argparse.ArgumentParser(prog="ftlab", description="The ftlab course's command line.")
    parser.add_argument("--version", action="version", version=f"ftlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check that this machine can run the course offline")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("--no-model", action="store_true",
                        help="only check that the assets are installed: load nothing, train nothing (faster)")
    train = commands.add_parser("train", help="fine-tune from a YAML config; resumes from the last checkpoint")
    train.add_argument("--config", help="a YAML file of settings (see configs/); without it, the defaults")
    train.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="override one setting, e.g. --set epochs=3 (repeatable)")
    train.add_argument("--restart", action="store_true", help="ignore existing checkpoints and start afresh")
    train.add_argument("--stop-after-steps", type=int, default=None, metavar="N",
                       help="stop after N optimizer steps with a checkpoint (to try resuming)")
    serve = commands.add_parser("serve", help="serve a fine-tuned model folder over HTTP (POST /predict)")
    serve.add_argument("model_dir", help="a folder written by save_pretrained: config.json, *.safetensors, tokenizer")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--runtime", choices=serving.RUNTIMES, default=None,
                       help="torch (default) or onnx: the model exported once to ONNX and run by ONNX Runtime")
    serve.add_argument("--int8", action="store_true",
                       help="8-bit integer weights for the matrix products, on ONNX Runtime (implies --runtime onnx)")
    serve.add_argument("--precision", choices=serving.PRECISIONS, default="auto",
                       help="PyTorch only: auto (bfloat16 autocast where this machine measured it worth it, see "
                            "ftlab doctor), fp32 or bf16")
    serve.add_argument("--max-batch", type=int, default=None, help=f"texts per request (default {SERVE_MAX_BATCH})")
    serve.add_argument("--max-chars", type=int, default=None, help=f"characters per text (default {SERVE_MAX_CHARS})")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    for command in (doctor, train, serve):
        command.add_argument("--debug", action="store_true", help="show the full Python traceback of an error")
    args = parser.parse_args(argv)
    try:
        return _run(args, parser)
    except USER_ERRORS as err:
        if args.debug:
            raise
        print(f"ftlab {args.command}: {one_line(err)} (--debug shows the traceback)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ftlab {args.command}: interrupted", file=sys.stderr)
        return 130


# What a command-line user sees as one line (what is wrong, how to fix it) rather than a traceback: bad settings,
# files that are missing or unreadable, data that cannot be trained on, a model that cannot be loaded.
USER_ERRORS = (ValueError, OSError, LookupError, ImportError, RuntimeError)


def one_line(err: BaseException) -> str:
    """An error's message on one line: a message of several lines (a list of problems) joined with semicolons."""
    parts = [part.strip(" -") for part in str(err).splitlines() if part.strip(" -")]
    return "; ".join(parts).replace(":;", ":") or type(err).__name__


def _run(args, parser) -> int:
    if args.command == "serve":
        return _serve(args, parser)
    if args.command == "train":
        return _train(args)
    if args.command == "doctor":
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the report's lines only: no bar for each model the checks load
        report = doctor_report(load_model=not args.no_model)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            _print_report(report)
        return 0 if report["ok"] else 1
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
