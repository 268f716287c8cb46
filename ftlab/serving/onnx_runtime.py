"""The fine-tuned classifier on ONNX Runtime: exported once, checked against PyTorch, optionally with int8 weights.

`prepare(folder, model, tokenizer, int8=...)` returns the ONNX file for a loaded model folder, exporting it first
when it is missing or was made from other weights: `torch.onnx.export` writes `onnx/model.onnx` next to the
weights, and `onnxruntime.quantization.quantize_dynamic` writes `onnx/model.int8.onnx` from it (8-bit weights for
the matrix products, activations quantized on the fly). Each file is written under a temporary name and renamed
into place only after ONNX Runtime's logits matched PyTorch's on probe texts of several lengths, within
`FLOAT_TOLERANCE` (float32) or `INT8_TOLERANCE` (int8); `onnx/export.json` records the weights' fingerprint and the
differences measured. A folder that cannot be written to gets its export in the course's cache instead.
`OnnxLogits(path, tokenizer, max_length=...)` runs a file: `logits(texts)`, as the PyTorch model would give them.
A few texts run in one session that uses every core for each matrix product; many texts are split into chunks that
run at the same time in one single-threaded session per core, which keeps the cores busier on a small model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ftlab.config import cache_dir

ONNX_DIR = "onnx"
RECORD = "export.json"
FILES = {False: "model.onnx", True: "model.int8.onnx"}
OPSET = 17
FLOAT_TOLERANCE = 1e-3  # largest |logit difference| allowed between ONNX Runtime float32 and PyTorch
INT8_TOLERANCE = 0.5  # the same for the int8 file, whose weights are rounded to 256 levels per tensor
# Texts per ONNX Runtime call: a request's texts sorted by length and run a few at a time pad little. Chunks of a
# larger request run side by side, one single-threaded session per core: 307 and 273 texts/s against 247 and 219 for
# one 2-thread session in two runs (requests of 32 tweets, int8, chunks of 8, 2-core AMD EPYC with AVX2). Chunks of
# 4 against 8, three runs each on a 2-core AMD EPYC with AVX-512: 516-555 against 482-497 texts/s (lesson 03's
# standard model), 485-570 against 465-555 (its quick model); chunks of 2: 473-560; chunks of 16: 366-439.
ONNX_BATCH = 4
PROBES = [
    "ok",
    "the flight was late again",
    "great crew, friendly and fast, thank you",
    "lost my bag in Chicago and nobody at the desk could tell me where it went, three days now",
    "why is the wifi always broken on the long flights? I paid for it and it never works, not once this year",
    "Merci beaucoup ! Le vol était parfait.",
    "@united 👍👍 #happy",
    "cancelled. cancelled. cancelled. " * 8,
]


class ExportError(RuntimeError):
    """The ONNX export does not reproduce the PyTorch model's logits; nothing was written."""


def fingerprint(folder: Path) -> str:
    """A hash of the folder's config and safetensors weights: an export made from other weights is stale."""
    digest = hashlib.sha256()
    for path in [folder / "config.json", *sorted(folder.glob("*.safetensors"))]:
        digest.update(path.name.encode())
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def export_dir(folder: Path, key: str) -> Path:
    """`folder/onnx` where the folder can be written to; else a folder of the course's cache named by the weights."""
    if os.access(folder, os.W_OK):
        return folder / ONNX_DIR
    return cache_dir() / ONNX_DIR / key[:20]


def _read_record(where: Path) -> dict:
    try:
        record = json.loads((where / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_atomically(target: Path, write) -> None:
    """Call `write(temporary_path)`, then rename the file into place: a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _torch_logits(model, tokenizer, texts: list[str], max_length: int) -> np.ndarray:
    import torch

    with torch.inference_mode():
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return model(**batch).logits.float().numpy()


def _export_float(model, tokenizer, target: Path, max_length: int) -> None:
    import torch

    sample = tokenizer(PROBES[1:3], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class Logits(torch.nn.Module):
        def __init__(self, classifier):
            super().__init__()
            self.classifier = classifier

        def forward(self, *tensors):
            return self.classifier(**dict(zip(names, tensors))).logits

    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    # The tracer warns where the model's Python code reads a shape; _check runs the file on other shapes instead.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Logits(model).eval(), tuple(sample[n] for n in names), str(target), input_names=names,
                          output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Only the matrix products, as PyTorch's dynamic quantization of Linear layers: the embeddings stay float32.
    logging.disable(logging.WARNING)  # its advice to pre-process applies to static quantization of images
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    finally:
        logging.disable(logging.NOTSET)


def _check(path: Path, model, tokenizer, max_length: int, tolerance: float) -> dict:
    """Logits of ONNX Runtime vs PyTorch on the probes, one text at a time and as one padded batch."""
    runner = OnnxLogits(path, tokenizer, max_length=max_length)
    expected = _torch_logits(model, tokenizer, PROBES, max_length)
    single = np.concatenate([runner.logits([text]) for text in PROBES])
    batched = runner.logits(PROBES, batch_size=len(PROBES))
    largest = float(max(np.abs(single - expected).max(), np.abs(batched - expected).max()))
    same = float((single.argmax(1) == expected.argmax(1)).mean())
    if not np.isfinite(largest) or largest > tolerance:
        raise ExportError(f"ONNX Runtime's logits differ from PyTorch's by up to {largest:.3g} on the probe texts, "
                          f"over the tolerance of {tolerance:g}: the export was not kept. Serve with the PyTorch "
                          f"runtime (--runtime torch) and report the model's architecture")
    return {"largest_logit_difference": largest, "same_label": same, "tolerance": tolerance, "probes": len(PROBES)}


def prepare(folder: Path, model, tokenizer, *, int8: bool, max_length: int) -> Path:
    """The ONNX file for the model loaded from `folder` (float32, or int8 weights), exported and checked if needed."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export and the quantizer write through it)
        import onnxruntime
    except ImportError as err:
        raise ExportError(f"the ONNX runtime needs the packages onnx and onnxruntime ({err}): pip install onnx "
                          f"onnxruntime, or install the course with its lab extra") from err
    import torch

    key = fingerprint(folder)
    where = export_dir(folder, key)
    record = _read_record(where)
    target = where / FILES[int8]
    if record.get("weights") == key and FILES[int8] in record.get("files", {}) and target.is_file():
        return target
    where.mkdir(parents=True, exist_ok=True)
    files = record.get("files", {}) if record.get("weights") == key else {}
    source = where / FILES[False]
    if FILES[False] not in files or not source.is_file():
        def write_float(path: Path) -> None:
            _export_float(model, tokenizer, path, max_length)
            files[FILES[False]] = _check(path, model, tokenizer, max_length, FLOAT_TOLERANCE)

        _write_atomically(source, write_float)
    if int8:
        def write_int8(path: Path) -> None:
            _quantize(source, path)
            files[FILES[True]] = _check(path, model, tokenizer, max_length, INT8_TOLERANCE)

        _write_atomically(target, write_int8)
    new = {"weights": key, "files": files, "opset": OPSET, "torch": torch.__version__,
           "onnxruntime": onnxruntime.__version__}
    _write_atomically(where / RECORD, lambda path: path.write_text(json.dumps(new, indent=2), encoding="utf-8"))
    return target


class OnnxLogits:
    """An exported classifier run by ONNX Runtime on the CPU: `logits(texts)` as PyTorch's model would give them."""

    def __init__(self, path: str | Path, tokenizer, *, max_length: int, threads: int | None = None):
        import torch

        self.path = Path(path)
        self.threads = threads or torch.get_num_threads()  # set_cpu_threads: one per core
        self.session = self._session(self.threads)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.tokenizer = tokenizer
        self.max_length = max_length
        self._workers = None  # a queue of single-threaded sessions, one per core, made when first needed
        self._pool = None

    def _session(self, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        return onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def _feed(self, texts: list[str]) -> dict[str, np.ndarray]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        return {name: np.asarray(batch[name], dtype=np.int64) for name in self.inputs}

    def _run_on_a_worker(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        session = self._workers.get()  # each single-threaded session runs one chunk at a time
        try:
            return session.run(["logits"], feed)[0]
        finally:
            self._workers.put(session)

    def logits(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """One row of logits per text, in order; texts of similar length are run together, `batch_size` at a time,
        and several such chunks side by side (one single-threaded session per core)."""
        texts = list(texts)
        order = np.argsort([len(text) for text in texts], kind="stable")
        chunks = [order[start:start + batch_size] for start in range(0, len(texts), batch_size)]
        # Tokenized here, in one thread: a fast tokenizer must not be called from two threads at once.
        feeds = [self._feed([texts[int(i)] for i in idx]) for idx in chunks]
        if len(chunks) < 2 or self.threads < 2:
            rows = [(idx, self.session.run(["logits"], feed)[0]) for idx, feed in zip(chunks, feeds)]
        else:
            if self._workers is None:
                import queue
                from concurrent.futures import ThreadPoolExecutor

                self._workers = queue.Queue()
                for _ in range(self.threads):
                    self._workers.put(self._session(1))
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx")
            # ONNX Runtime releases the GIL while it computes: each worker thread keeps one core busy.
            futures = [(idx, self._pool.submit(self._run_on_a_worker, feed)) for idx, feed in zip(chunks, feeds)]
            rows = [(idx, future.result()) for idx, future in futures]
        out = np.zeros((len(texts), rows[0][1].shape[1] if rows else 0), dtype=np.float32)
        for idx, logits in rows:
            out[idx] = logits
        return out

