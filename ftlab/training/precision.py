"""The precision the course trains in, chosen by measuring this machine, not by habit.

On a CPU with bfloat16 instructions (avx512_bf16 or amx_bf16), bfloat16 autocast can run a training step much
faster than float32; on one without them it converts to and from float32 around every operation and is many times
slower. `choose_precision()` decides:

1. the setting `FTLAB_PRECISION` (`fp32` or `bf16`) wins when it is set (`auto`, the default, measures);
2. a processor without bfloat16 instructions, or a GPU, gets float32 without a probe (on a GPU set the variable);
3. otherwise a probe times a training step of the course's encoder (`PROBE_BATCH` texts × `PROBE_LENGTH` tokens) in
   both precisions and compares their losses and logits on the same batch: bfloat16 is chosen only if it is at
   least `SPEEDUP_NEEDED`× as fast *and* the loss stays within `LOSS_TOLERANCE` (relative) and the labels agree.

The probe's figures are kept in the course's cache, keyed by the processor, the threads and torch's version, so it
runs once per machine; `ftlab doctor` prints the choice and its evidence.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import asdict, dataclass, field

from ftlab.config import cache_dir, env_choice
from ftlab.models import load_classifier, pick_device
from ftlab.training.efficient import BF16_CPU_FLAGS, cpu_bfloat16_flags, step_cost

PRECISION_ENV = "FTLAB_PRECISION"
SETTINGS = ("auto", "fp32", "bf16")
PROBE_FILE = "precision.json"
PROBE_BATCH, PROBE_LENGTH = 32, 48
SPEEDUP_NEEDED = 1.2  # bfloat16 must train at least this much faster than float32 to be chosen
LOSS_TOLERANCE = 0.02  # |bfloat16 loss − float32 loss| ÷ float32 loss on the probe's batch
NAMES = {None: "float32", "bf16": "bfloat16 autocast"}


@dataclass
class PrecisionChoice:
    """The precision chosen (`autocast`: None for float32, or "bf16"), why, and the figures measured for it."""

    autocast: str | None
    reason: str
    source: str  # "setting", "capability", "probe" or "cache"
    figures: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return NAMES[self.autocast]

    def describe(self) -> str:
        return f"{self.name}: {self.reason}"


def setting() -> str:
    """The value of FTLAB_PRECISION ("auto" when unset); a clear error for anything else."""
    return env_choice(PRECISION_ENV, SETTINGS, "auto", "precision", "auto (measure this machine), fp32 or bf16")


def machine_key() -> str:
    """What the probe's result depends on: processor, bfloat16 flags, threads and torch's version."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    except OSError:
        pass
    flags = ",".join(cpu_bfloat16_flags() or ()) or "none"
    return f"{model} | bf16 flags {flags} | {torch.get_num_threads()} threads | torch {torch.__version__}"


def probe(model=None) -> dict:
    """Time a training step in float32 and in bfloat16 autocast, and compare their losses and labels on one batch."""
    import torch

    model = model if model is not None else load_classifier("minilm", device="cpu")
    fp32 = step_cost(model, batch_size=PROBE_BATCH, length=PROBE_LENGTH, repeats=2)
    bf16 = step_cost(model, batch_size=PROBE_BATCH, length=PROBE_LENGTH, autocast="bf16", repeats=2)
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, model.config.vocab_size, (PROBE_BATCH, PROBE_LENGTH), generator=generator)
    labels = torch.randint(0, model.config.num_labels, (PROBE_BATCH,), generator=generator)
    model.eval()
    with torch.no_grad():
        exact = model(input_ids=ids, labels=labels)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rounded = model(input_ids=ids, labels=labels)
    return {"fp32_step_s": fp32["seconds"], "bf16_step_s": bf16["seconds"],
            "speedup": fp32["seconds"] / bf16["seconds"],
            "loss_change": abs(float(rounded.loss) - float(exact.loss)) / float(exact.loss),
            "same_labels": float((rounded.logits.argmax(1) == exact.logits.argmax(1)).float().mean()),
            "batch": f"{PROBE_BATCH} texts × {PROBE_LENGTH} tokens"}


def decide(figures: dict) -> tuple[str | None, str]:
    """bfloat16 if the probe's figures show it faster enough and close enough to float32; else float32, and why."""
    measured = (f"a training step took {figures['bf16_step_s']:.2f} s in bfloat16 against {figures['fp32_step_s']:.2f} s "
                f"in float32 ({figures['speedup']:.2f}×), loss {figures['loss_change']:.1%} apart, "
                f"{figures['same_labels']:.0%} of labels the same")
    if figures["speedup"] < SPEEDUP_NEEDED:
        return None, f"{measured}: not the {SPEEDUP_NEEDED}× faster needed"
    if figures["loss_change"] > LOSS_TOLERANCE or figures["same_labels"] < 0.9:
        return None, f"{measured}: outside the tolerance (loss within {LOSS_TOLERANCE:.0%}, labels 90 % the same)"
    return "bf16", measured


def choose_precision(*, refresh: bool = False, device: str | None = None, measure: bool = True) -> PrecisionChoice:
    """The precision to train in on this machine (see the module's description); `refresh` probes again, and
    `measure=False` never probes (float32 until a probe has run)."""
    value = setting()
    if value != "auto":
        return PrecisionChoice(None if value == "fp32" else "bf16", f"set by {PRECISION_ENV}={value}", "setting")
    if device is None:
        device = pick_device()
    if device != "cpu":
        return PrecisionChoice(None, f"the probe measures CPUs; on this {device} set {PRECISION_ENV}=bf16 to use "
                                     f"bfloat16", "capability")
    flags = cpu_bfloat16_flags()
    if not flags:
        known = "has none of" if flags == () else "may lack (unknown: no /proc/cpuinfo)"
        return PrecisionChoice(None, f"this processor {known} the bfloat16 instructions {', '.join(BF16_CPU_FLAGS)}; "
                                     f"bfloat16 would be emulated and slower", "capability")
    key, path = machine_key(), cache_dir() / PROBE_FILE
    if not refresh:
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if cached.get("machine") == key:
                autocast, reason = decide(cached["figures"])
                return PrecisionChoice(autocast, reason, "cache", cached["figures"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if not measure:
        return PrecisionChoice(None, "not measured on this machine yet (ftlab doctor measures it)", "unmeasured")
    figures = probe()
    autocast, reason = decide(figures)
    choice = PrecisionChoice(autocast, reason, "probe", figures)
    _remember(path, {"machine": key, **asdict(choice)})
    return choice


def _remember(path, record: dict) -> None:
    """Write the probe's record through a temporary file, so that a reader never sees half of it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(record, indent=2))
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only cache only means probing again next time
