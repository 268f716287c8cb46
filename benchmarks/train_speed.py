"""How fast does the course fine-tune on this machine, and how much do its settings buy?

Trains the course's encoder on the same 1,000 training tweets, in one process:

- **naive**: the usual tutorial set-up — every tweet padded to 128 tokens, random order, float32;
- **course fp32**: dynamic padding (each batch padded to its own longest tweet), batches grouped by length,
  one torch thread per core — the settings the lessons use (`ftlab.training`), in float32;
- **course bf16**: the same in bfloat16 autocast, when `ftlab.training.precision` chose it on this machine (or
  with `--bf16`, to measure it anyway).

Each set-up first trains WARMUP_STEPS steps untimed on the same model, then one timed run. It prints samples per
second for each and their ratio to naive, the achieved FLOP/s against a rough estimate of this CPU's float32 peak,
the precision the course chose here and why, and where a training step's time goes in each precision.
Run:  python benchmarks/train_speed.py  [--examples 1000] [--epochs 1] [--bf16]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
WARMUP_STEPS = 2


def fp32_flops_per_cycle(cpuinfo: str) -> int:
    """float32 FLOPs one core can do per cycle, from /proc/cpuinfo's text: two fused multiply-adds per cycle, 16
    float32 lanes wide with AVX-512 (64), 8 with AVX2 (32), else a rough 8. AMD's Zen 4 (family 25) runs AVX-512 on
    its two 256-bit units, so it does 32 like AVX2; Intel's AVX-512 server parts and Zen 5 (family 26) do 64 (Zen 5
    laptop chips use 256-bit units too and are counted high: the peak is rough)."""
    lines = cpuinfo.splitlines()
    flags = set(next((line.split(":", 1)[1] for line in lines if line.startswith("flags")), "").split())
    vendor = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("vendor_id")), "")
    family = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("cpu family")), "")
    if "avx512f" in flags and not (vendor == "AuthenticAMD" and family.isdigit() and int(family) <= 25):
        return 64
    return 32 if {"avx2", "fma"} <= flags else 8


def cpu_peak_flops(threads: int) -> tuple[float, str]:
    """A rough float32 peak: threads × clock × float32 FLOPs per cycle (`fp32_flops_per_cycle`)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    clock = (max(mhz) if mhz else 2500.0) * 1e6
    per_cycle = fp32_flops_per_cycle(info)
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor())
    return threads * clock * per_cycle, f"{name}, {threads} threads × {clock / 1e9:.2f} GHz × {per_cycle} FLOP/cycle"


def training_tweets(examples: int, seed: int):
    """The same stratified sample of training tweets for every set-up, and the course's tokenizer and profile."""
    from ftlab import data, models
    from ftlab.config import get_profile

    profile = get_profile("standard")
    frame = data.tweets_frame()
    rows = data.sample_stratified(frame[frame["split"] == "train"], examples, seed=seed)
    dataset = data.to_dataset_dict({"train": rows.drop(columns=["split", "raw_text"])})["train"]
    return dataset, models.load_tokenizer(profile.model), profile


def run(setup: str, examples: int, epochs: float, seed: int = 42, bf16: bool = False) -> dict:
    """Train once with the `course` or `naive` set-up (bfloat16 autocast if `bf16`); return time, samples/s and
    tokens computed."""
    import numpy as np
    import torch
    from transformers import DataCollatorWithPadding, Trainer, set_seed

    from ftlab import data, models, training

    set_seed(seed)
    dataset, tokenizer, profile = training_tweets(examples, seed)
    if setup == "course":
        encoded = data.tokenize(dataset, tokenizer, profile.max_length)
        collator = training.make_collator(tokenizer)
    else:
        encoded = dataset.map(lambda b: tokenizer(b["text"], truncation=True, padding="max_length", max_length=128),
                              batched=True)
        collator = DataCollatorWithPadding(tokenizer)
    encoded = encoded.select_columns(["input_ids", "attention_mask", "token_type_ids", "label"])
    model = models.load_classifier(profile.model, device="cpu")

    def arguments(**extra):
        return training.training_arguments(
            f"/tmp/ftlab-bench-{setup}", learning_rate=1e-4, epochs=epochs, batch_size=32, seed=seed,
            group_by_length=(setup == "course"), eval_strategy="no", logging_strategy="no", disable_tqdm=True,
            bf16=bf16, **extra)

    computed_tokens = 0

    class CountTokens(Trainer):
        def training_step(self, model, inputs, *rest, **kwargs):
            nonlocal computed_tokens
            computed_tokens += int(inputs["input_ids"].numel())
            return super().training_step(model, inputs, *rest, **kwargs)

    # Not timed: a process's first steps pay one-time costs (kernels chosen for the machine and its shapes, memory).
    CountTokens(model=model, args=arguments(max_steps=WARMUP_STEPS), train_dataset=encoded,
                data_collator=collator).train()
    computed_tokens = 0
    trainer = CountTokens(model=model, args=arguments(), train_dataset=encoded, data_collator=collator)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    n_params = sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)
    flops = 6 * n_params * computed_tokens  # forward + backward of the dense layers; attention is small here
    real_tokens = int(np.sum([len(ids) for ids in data.tokenize(dataset, tokenizer, 128)["input_ids"]])) * epochs
    return {"setup": f"{setup} {'bf16' if bf16 else 'fp32'}", "seconds": seconds, "samples_per_s": examples * epochs / seconds,
            "computed_tokens": computed_tokens, "real_tokens": real_tokens, "flops_per_s": flops / seconds,
            "threads": torch.get_num_threads()}


MATRIX_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::_addmm_activation"}
PARTS = ("matrix products", "dropout's random numbers", "optimizer and clipping", "everything else")


def step_breakdown(bf16: bool, steps: int = 8, seed: int = 42) -> tuple[float, dict[str, float]]:
    """A training step of 32 tweets in a plain loop doing what the Trainer does (length-grouped batches, autocast
    forward, backward, gradient clipping, the course's fused AdamW): its ms timed alone, and the ms spent in each of
    PARTS by PyTorch's profiler (each operation's own time; they add up to about the step, give or take the
    profiler's own cost per operation)."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    from ftlab import data, models, training

    torch.manual_seed(seed)
    dataset, tokenizer, profile_ = training_tweets(32 * (steps + 2), seed)
    encoded = data.tokenize(dataset, tokenizer, profile_.max_length).select_columns(
        ["input_ids", "attention_mask", "token_type_ids", "label"])
    collator = training.make_collator(tokenizer)
    grouped = training.length_grouped_batches([len(ids) for ids in encoded["input_ids"]], 32, seed=seed)
    batches = [collator([encoded[int(i)] for i in indices]) for indices in grouped]
    model = models.load_classifier(profile_.model, device="cpu").train()
    optimizer = training.make_optimizer(model, 1e-4)

    def step(batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        with record_function("optimizer and clipping"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()

    for batch in batches[:2]:  # warm-up: kernels chosen, optimizer state made
        step(batch)
    start = time.perf_counter()
    for batch in batches[2:]:
        step(batch)
    step_ms = (time.perf_counter() - start) * 1000 / steps
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in batches[2:]:
            step(batch)
    parts = dict.fromkeys(PARTS, 0.0)
    for event in prof.key_averages():
        if event.key == "optimizer and clipping":
            parts["optimizer and clipping"] += event.cpu_time_total
            parts["everything else"] -= event.cpu_time_total  # its operations are counted below as well
        elif event.key in MATRIX_OPS:
            parts["matrix products"] += event.self_cpu_time_total
        elif event.key == "aten::bernoulli_":
            parts["dropout's random numbers"] += event.self_cpu_time_total
        else:
            parts["everything else"] += event.self_cpu_time_total
    return step_ms, {name: microseconds / 1000 / steps for name, microseconds in parts.items()}


def print_breakdown() -> None:
    (fp32_ms, fp32), (bf16_ms, bf16) = step_breakdown(False), step_breakdown(True)
    print("where a step's time goes (ms per step of 32 tweets in a plain loop like the Trainer's; the parts from "
          "PyTorch's profiler):")
    print(f"  {'':26s} {'float32':>8s} {'bfloat16':>9s} {'fp32/bf16':>10s}")
    for name, a, b in [*((name, fp32[name], bf16[name]) for name in PARTS), ("whole step, timed alone", fp32_ms,
                                                                             bf16_ms)]:
        print(f"  {name:26s} {a:8.0f} {b:9.0f} {a / b:9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--bf16", action="store_true", help="also measure bfloat16 where the course chose float32")
    args = parser.parse_args()

    import torch

    from ftlab.models import set_cpu_threads
    from ftlab.training.precision import choose_precision

    threads = set_cpu_threads()
    choice = choose_precision(device="cpu")
    results = [run("naive", args.examples, args.epochs), run("course", args.examples, args.epochs)]
    if choice.autocast == "bf16" or args.bf16:
        results.append(run("course", args.examples, args.epochs, bf16=True))
    peak, peak_text = cpu_peak_flops(threads)
    print(f"{args.examples} training tweets × {args.epochs:g} epoch(s), all-MiniLM-L6-v2, batch 32, {threads} threads, "
          f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"{'setup':12s} {'seconds':>8s} {'samples/s':>10s} {'× naive':>8s} {'tokens computed':>16s} {'padding':>8s} "
          f"{'GFLOP/s':>8s} {'% of fp32 peak':>15s}")
    naive = results[0]
    for r in results:
        padding = 1 - r["real_tokens"] / r["computed_tokens"]
        print(f"{r['setup']:12s} {r['seconds']:8.1f} {r['samples_per_s']:10.1f} "
              f"{r['samples_per_s'] / naive['samples_per_s']:8.2f} {r['computed_tokens']:16,d} "
              f"{padding:8.0%} {r['flops_per_s'] / 1e9:8.1f} {r['flops_per_s'] / peak:15.1%}")
    print(f"rough float32 peak: {peak / 1e9:.0f} GFLOP/s ({peak_text})")
    if len(results) == 3:
        print(f"bfloat16 / float32 (course set-up): {results[2]['samples_per_s'] / results[1]['samples_per_s']:.2f}x; "
              f"bfloat16 at {results[2]['flops_per_s'] / (2 * peak):.1%} of a rough bfloat16 peak of "
              f"{2 * peak / 1e9:.0f} GFLOP/s (2× float32: a bfloat16 dot-product instruction multiplies two pairs per "
              f"float32 lane)")
        print_breakdown()
    print(f"the course's precision here: {choice.describe()} [{choice.source}]")


if __name__ == "__main__":
    main()
