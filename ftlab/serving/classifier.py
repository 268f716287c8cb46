"""A model folder loaded for inference: checked first, never unpickled, run by PyTorch or by ONNX Runtime.

`Classifier(model_dir)` refuses a folder without safetensors weights or a tokenizer (with a message that says what
to do), and predicts through `ftlab.models.predict_logits`, the same batched path the lessons use.
`Classifier(model_dir, runtime="onnx")` exports the model to ONNX once (checked against PyTorch, see
`ftlab.serving.onnx_runtime`) and runs it with ONNX Runtime; `int8=True` runs the export with 8-bit weights.
On PyTorch it predicts in the precision `ftlab.training.precision` chose for this machine (bfloat16 autocast only
where it measured faster and close enough), unless `precision="fp32"` or `"bf16"` says otherwise.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ftlab.config import PROFILES
from ftlab.evaluate import softmax
from ftlab.models import predict_logits
from ftlab.serving.onnx_runtime import ONNX_BATCH, PROBES, ExportError, OnnxLogits, prepare
from ftlab.training.precision import NAMES, choose_precision
from ftlab.training.runs import read_run_info

RUNTIMES = ("torch", "onnx")
PRECISIONS = ("auto", "fp32", "bf16")

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


class ModelFolderError(ValueError):
    """The folder given to the service is not a usable model folder."""


def check_model_folder(model_dir: str | Path) -> Path:
    """Return the folder as a Path if it holds a safetensors classifier and its tokenizer; else say what is wrong."""
    path = Path(model_dir).expanduser()
    if not path.exists():
        raise ModelFolderError(f"{path} does not exist: pass the folder that save_pretrained (or "
                               f"ftlab.training.save_atomically) wrote, e.g. ~/.cache/ftlab/runs/quick/03_finetuned")
    if not path.is_dir():
        raise ModelFolderError(f"{path} is a file, not a folder: pass the folder that contains config.json")
    if not (path / "config.json").is_file():
        raise ModelFolderError(f"{path} has no config.json, so it is not a Hugging Face model folder")
    if not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise ModelFolderError(
                f"{path} holds pickled weights ({', '.join(pickles)}) and no .safetensors file. The service does "
                f"not load pickles, which can run arbitrary code. Load the model once in Python from a source you "
                f"trust and save it again with model.save_pretrained(folder) (safetensors is the default).")
        raise ModelFolderError(f"{path} has no .safetensors weights file")
    if not any((path / name).is_file() for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
        raise ModelFolderError(f"{path} has no tokenizer files: save the tokenizer into the same folder "
                               f"(tokenizer.save_pretrained(folder))")
    return path


def model_size_mb(model) -> float:
    """Size of the model's weights in MB (10^6 bytes), as PyTorch serialises them (quantized weights included)."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 1e6


def trained_max_length(info: dict) -> int:
    """The tokens per text a model was trained with, from its run record; the course's profiles' length if unknown."""
    recipe = info.get("recipe") if isinstance(info.get("recipe"), dict) else {}
    profile = recipe.get("profile") if isinstance(recipe.get("profile"), dict) else {}
    for value in (recipe.get("max_length"), profile.get("max_length")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return PROFILES["standard"].max_length


class Classifier:
    """A model folder loaded for inference: `predict_proba(texts)` and `predict(texts)`.

    `runtime="torch"` (the default) runs the model with PyTorch; `runtime="onnx"` runs its ONNX export with ONNX
    Runtime, usually faster on a CPU, with the same labels (the export is checked when it is made). `int8=True`
    (ONNX Runtime only) uses 8-bit integer weights for the matrix products: smaller and faster, slightly less exact.
    Texts are truncated at `max_length` tokens: by default the length the model was trained with (its run record
    says), so the service reads a text the way training did. `precision` (PyTorch only): "auto" (the default) uses
    bfloat16 autocast where `ftlab.training.precision` measured it worth it on this machine, "fp32" or "bf16" fix it.
    """

    def __init__(self, model_dir: str | Path, *, runtime: str | None = None, int8: bool = False,
                 max_length: int | None = None, batch_size: int | None = None, precision: str = "auto"):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        runtime = runtime or ("onnx" if int8 else "torch")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if int8 and runtime != "onnx":
            raise ValueError("int8 weights run on ONNX Runtime: use runtime='onnx' (ftlab serve --runtime onnx --int8)")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision == "bf16" and runtime != "torch":
            raise ValueError("bfloat16 autocast is PyTorch's: use runtime='torch' with precision='bf16'")
        self.path = check_model_folder(model_dir)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True, trust_remote_code=False)
        except Exception as err:
            raise ModelFolderError(f"the tokenizer in {self.path} cannot be loaded ({type(err).__name__}: {err}): "
                                   f"save it again with tokenizer.save_pretrained(folder)") from err
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                self.path, local_files_only=True, trust_remote_code=False, use_safetensors=True)
        except Exception as err:
            raise ModelFolderError(f"the model in {self.path} cannot be loaded ({type(err).__name__}: {err}): "
                                   f"save it again with model.save_pretrained(folder)") from err
        self.runtime, self.int8 = runtime, int8
        # None: float32; "bf16": bfloat16 autocast (PyTorch on the CPU only).
        self.autocast = None if runtime != "torch" or precision == "fp32" else (
            "bf16" if precision == "bf16" else choose_precision(device="cpu").autocast)
        self.model = model.eval()
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.info = read_run_info(self.path)
        # Never more tokens than the model has positions for, whatever the run record says.
        positions = getattr(config, "max_position_embeddings", None) or 512
        self.max_length = min(max_length or trained_max_length(self.info), positions)
        self.batch_size = batch_size or (ONNX_BATCH if runtime == "onnx" else 32)
        self.onnx: OnnxLogits | None = None
        if runtime == "onnx":
            try:
                exported = prepare(self.path, self.model, self.tokenizer, int8=int8, max_length=self.max_length)
            except ExportError as err:
                raise ModelFolderError(str(err)) from err
            self.onnx = OnnxLogits(exported, self.tokenizer, max_length=self.max_length)
        self._lock = threading.Lock()  # one forward pass at a time; each runtime already uses every core for it

    @property
    def precision(self) -> str:
        """What the model computes in: "float32", "bfloat16 autocast", or "int8 weights" (ONNX Runtime)."""
        return "int8 weights" if self.int8 else NAMES[self.autocast]

    @property
    def weights_mb(self) -> float:
        """The size of the weights this classifier runs, in MB: the ONNX file, or PyTorch's serialised state."""
        return self.onnx.path.stat().st_size / 1e6 if self.onnx else model_size_mb(self.model)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities, one row per text and one column per label."""
        with self._lock:
            if self.onnx is not None:
                logits = self.onnx.logits(list(texts), batch_size=self.batch_size)
            else:
                import torch

                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast == "bf16"):
                    logits = predict_logits(self.model, list(texts), self.tokenizer, batch_size=self.batch_size,
                                            max_length=self.max_length, progress=False)
        return softmax(logits)

    def warm_up(self) -> None:
        """Classify the probe texts once alone and once as a batch, so the first request meets a ready model: the
        first batch of several chunks makes ONNX Runtime's per-core sessions, and PyTorch's first calls pick kernels."""
        self.predict(PROBES[:1])
        self.predict(PROBES * (self.batch_size // len(PROBES) + 2))

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """For each text: the label, its probability, and the probability of every label."""
        probabilities = self.predict_proba(texts)
        return [self._answer(row) for row in probabilities]

    def _answer(self, row: np.ndarray) -> dict[str, Any]:
        best = int(row.argmax())
        return {"label": self.labels[best], "score": round(float(row[best]), 6),
                "probabilities": {label: round(float(p), 6) for label, p in zip(self.labels, row)}}

    def describe(self) -> dict[str, Any]:
        """What `GET /model` returns."""
        return {
            "path": str(self.path),
            "labels": self.labels,
            "base_model": self.info.get("base_model") or getattr(self.model.config, "_name_or_path", None),
            "architecture": (self.model.config.architectures or ["unknown"])[0],
            "runtime": self.runtime,
            "int8": self.int8,
            "precision": self.precision,
            "max_length": self.max_length,
            "metrics": {split: self.info[split] for split in ("validation", "test") if split in self.info},
            "recipe": self.info.get("recipe"),
        }
