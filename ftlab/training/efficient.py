"""Fine-tuning at lower cost (lesson 08): which weights train, and what a run costs in memory.

`prepare` turns a classifier into one of four ways of fine-tuning it: every weight (`full`), the classification
head only (`head`), the upper half of the encoder and the head (`lower_frozen`), or LoRA adapters from `peft`
(`lora`). `peak_memory` measures the most memory a block of code held, on a CPU or a GPU, and
`memory_estimate` says how much of it the weights, gradients and optimizer state explain.
"""

from __future__ import annotations

import copy
import ctypes
import gc
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Sequence

from ftlab.models import pick_device
from ftlab.training.loop import check_autocast

METHODS = ("full", "head", "lower_frozen", "lora")
MB = 1024 ** 2


def _encoder_parts(model):
    body = getattr(model, "base_model", None)
    layers = getattr(getattr(body, "encoder", None), "layer", None)
    if body is None or layers is None or not hasattr(body, "embeddings"):
        raise TypeError(f"{type(model).__name__} is not a BERT-style classifier (base_model.embeddings and "
                        "base_model.encoder.layer): freeze its parts by hand with parameter.requires_grad_(False)")
    return body, list(layers)


def prepare(model, method: str, *, lora_r: int = 8, lora_alpha: int | None = None,
            lora_targets: Sequence[str] = ("query", "value"), lora_dropout: float = 0.0):
    """Set `model` (a freshly loaded classifier) up for one way of fine-tuning and return it.

    These are the course's one definition of each method (lessons 03, 06 and 08 and `ftlab train` use them):

    full: every weight trains.
    head: the embeddings and every encoder layer are frozen; the head (the pooler and the classifier) trains.
    lower_frozen: the embeddings and the lower half of the encoder layers (3 of MiniLM's 6) are frozen; the upper
        layers and the head train.
    lora: every pretrained weight of the encoder is frozen; `peft` adds trainable rank-`lora_r` matrices beside the
        `lora_targets` projections (scaled by lora_alpha / lora_r, default alpha 2·r); the head (the pooler and the
        classifier) trains in full, as in `head`.
    `trained_parts` lists which weights train after it.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "lora":
        from peft import LoraConfig, TaskType, get_peft_model

        if lora_r < 1:
            raise ValueError(f"lora_r is the rank of the adapters, a whole number ≥ 1 (got {lora_r})")
        config = LoraConfig(task_type=TaskType.SEQ_CLS, r=lora_r, lora_alpha=lora_alpha or 2 * lora_r,
                            target_modules=list(lora_targets), lora_dropout=lora_dropout,
                            modules_to_save=["classifier", "pooler"])
        return get_peft_model(model, config)
    if method == "full":
        return model
    body, layers = _encoder_parts(model)
    frozen = [body.embeddings] + (layers if method == "head" else layers[: len(layers) // 2])
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    return model


def trained_parts(model) -> dict[str, int]:
    """How many weights train in each part of a classifier, in model order (parts with none are left out).

    Parts: `embeddings`, `layer 0` … (the encoder layers, without their LoRA adapters), `LoRA adapters`, `pooler`
    and `classifier`; anything else under its own first name.
    """
    parts: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        pieces = name.split(".")
        if "lora_A" in pieces or "lora_B" in pieces:
            part = "LoRA adapters"
        elif "layer" in pieces and pieces.index("layer") + 1 < len(pieces):
            part = f"layer {pieces[pieces.index('layer') + 1]}"
        else:
            known = [p for p in ("embeddings", "pooler", "classifier") if p in pieces]
            part = known[0] if known else next(p for p in pieces if p not in {"base_model", "model", "bert"})
        parts[part] = parts.get(part, 0) + parameter.numel()
    return parts


def merge_lora(model):
    """A plain classifier with the LoRA adapters added into its weights (a copy; `model` keeps its adapters).

    The result has no `peft` parts: it saves, loads and serves like any fine-tuned model.
    """
    if not hasattr(model, "merge_and_unload"):
        raise TypeError(f"{type(model).__name__} has no LoRA adapters to merge (it is not a peft model)")
    return copy.deepcopy(model).merge_and_unload()


def memory_estimate(model, optimizer_states: int = 2) -> dict[str, float]:
    """MB the weights, their gradients and the optimizer state take (AdamW keeps 2 numbers per trainable weight).

    Activations, the other big part of training memory, depend on batch size and text length and are not in it.
    """
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    parts = {"weights": weights / MB, "gradients": trainable / MB, "optimizer state": optimizer_states * trainable / MB}
    parts["total"] = sum(parts.values())
    return parts


# ---------------------------------------------------------------------------------------------------
# Peak memory


def _rss_bytes() -> int:
    """The resident memory of this process now."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:  # pragma: no cover - psutil comes with Jupyter
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _max_rss_bytes() -> int:
    """The highest resident memory this process has ever had (the kernel's own record)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def release_free_memory() -> None:
    """Collect garbage and hand memory the allocator keeps for reuse back to the system (Linux, glibc)."""
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


@dataclass
class MemoryReading:
    """What `peak_memory` measured: memory in use when the block began and the most it reached (MB)."""

    device: str
    start_mb: float = 0.0
    peak_mb: float = 0.0
    how: str = ""

    @property
    def rise_mb(self) -> float:
        """How much more memory the block needed than was in use before it."""
        return self.peak_mb - self.start_mb


class peak_memory:  # noqa: N801 - used like a function: `with peak_memory() as memory:`
    """Measure the most memory a block of code held: ``with peak_memory() as m: ...`` then ``m.rise_mb``.

    On a CUDA GPU it reads PyTorch's own counters (memory held by tensors). On a CPU it follows the process's
    resident memory: a background thread samples it every `interval_s` seconds and the kernel's high-water mark
    catches any peak between two samples. Before the block starts, memory freed earlier is handed back to the
    system, so that what a previous experiment left behind does not hide this one's needs.
    """

    def __init__(self, device: str | None = None, interval_s: float = 0.002):
        if device is None:

            device = pick_device()
        self.reading = MemoryReading(device=str(device))
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MemoryReading:
        reading = self.reading
        release_free_memory()
        if reading.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            reading.start_mb = reading.peak_mb = torch.cuda.memory_allocated() / MB
            reading.how = "PyTorch's CUDA counters (memory held by tensors)"
            return reading
        reading.how = "the process's resident memory (RSS), sampled, with the kernel's high-water mark"
        self._max_before = _max_rss_bytes()
        reading.start_mb = reading.peak_mb = _rss_bytes() / MB
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return reading

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.reading.peak_mb = max(self.reading.peak_mb, _rss_bytes() / MB)
            time.sleep(self.interval_s)

    def __exit__(self, *exc) -> None:
        reading = self.reading
        if reading.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            reading.peak_mb = torch.cuda.max_memory_allocated() / MB
            return
        self._stop.set()
        self._thread.join()
        reading.peak_mb = max(reading.peak_mb, _rss_bytes() / MB)
        max_after = _max_rss_bytes()
        if max_after > self._max_before:  # the block set a new record for the process: the kernel knows its peak
            reading.peak_mb = max(reading.peak_mb, max_after / MB)


# The x86 CPU flags (as /proc/cpuinfo names them) of instructions that compute in bfloat16 directly.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bfloat16_flags(cpuinfo: str | None = None) -> tuple[str, ...] | None:
    """Which of BF16_CPU_FLAGS this processor has, from /proc/cpuinfo (or the `cpuinfo` text given).

    An empty tuple: a processor without bfloat16 instructions, where bfloat16 autocast converts to and from float32
    around each operation. None: unknown (no /proc/cpuinfo, e.g. macOS or Windows).
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            return None
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    if not flags:
        return None
    return tuple(flag for flag in BF16_CPU_FLAGS if flag in flags)


def step_cost(model, *, batch_size: int, length: int, autocast: str | None = None, repeats: int = 3,
              seed: int = 0) -> dict[str, float]:
    """Seconds and peak memory of one training pass (forward and backward) on a batch of random tokens.

    Random token ids cost what real text of the same shape costs, so batch size and length can be varied
    freely. The optimizer step is left out: its memory is `memory_estimate`'s. The first pass is a warm-up and
    not timed; the time is the median of `repeats` passes, the memory the peak over all of them.
    """
    import torch

    precision = check_autocast(autocast) or torch.float32
    if batch_size < 1 or length < 2 or repeats < 1:
        raise ValueError(f"batch_size ≥ 1, length ≥ 2 and repeats ≥ 1 please (got {batch_size}, {length}, {repeats})")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, model.config.vocab_size, (batch_size, length), generator=generator).to(device)
    labels = torch.randint(0, model.config.num_labels, (batch_size,), generator=generator).to(device)
    was_training = model.training
    model.train()

    def one_pass() -> float:
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=precision, enabled=autocast is not None):
            loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    one_pass()
    with peak_memory(str(device)) as memory:
        seconds = sorted(one_pass() for _ in range(repeats))
    model.train(was_training)
    return {"seconds": seconds[len(seconds) // 2], "memory_mb": memory.rise_mb}
