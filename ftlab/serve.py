"""Serve a fine-tuned text classifier over HTTP.

`ftlab serve MODEL_DIR` on the command line, or `create_app(model_dir)` for a FastAPI app:

- `POST /predict` with `{"text": "..."}` or `{"texts": ["...", ...]}` returns the label, its probability and the
  probability of every label, for one text or for each text of the batch;
- `GET /health` says whether the service is up;
- `GET /model` describes the model: labels, base model, the scores recorded when it was trained and evaluated.

The model folder must be a standard Hugging Face folder with safetensors weights. Pickled weights (`.bin`,
`.pt`) are refused and no code from the folder is ever run. Requests that arrive while the model is busy are
collected into one batch (micro-batching), which serves many concurrent clients faster than one by one.
"""

import asyncio
import atexit
import copy
import io
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAX_BATCH = 64  # texts per request
MAX_CHARS = 2_000  # characters per text
MAX_LENGTH = 128  # tokens the model reads per text; longer texts are truncated
MAX_WAIT_MS = 5.0  # how long a request may wait for others to join its batch
RUN_INFO = "ftlab_run.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


class ModelFolderError(ValueError):
    """The folder given to the service is not a usable model folder."""


def check_model_folder(model_dir: str | Path) -> Path:
    """Return the folder as a Path if it holds a safetensors classifier and its tokenizer; else say what is wrong."""
    path = Path(model_dir).expanduser()
    if not path.exists():
        raise ModelFolderError(f"{path} does not exist: pass the folder that save_pretrained (or "
                               f"ftlab.train.save_atomically) wrote, e.g. ~/.cache/ftlab/runs/quick/03_finetuned")
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


def read_run_info(model_dir: str | Path) -> dict:
    """The record ftlab keeps next to a model it trained (recipe, scores); empty if there is none."""
    file = Path(model_dir) / RUN_INFO
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def quantize_int8(model):
    """A copy of `model` whose Linear layers use 8-bit integer weights (dynamic quantization, CPU only)."""
    import torch

    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # PyTorch announces that its quantized tensor types move to the torchao package; they still work here.
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear}, dtype=torch.qint8)


def model_size_mb(model) -> float:
    """Size of the model's weights in MB (10^6 bytes), as PyTorch serialises them (quantized weights included)."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 1e6


class Classifier:
    """A model folder loaded for inference: `predict_proba(texts)` and `predict(texts)`.

    With `int8=True` the Linear layers are quantized to 8-bit integers after loading: smaller and usually faster
    on a CPU, slightly less accurate.
    """

    def __init__(self, model_dir: str | Path, *, int8: bool = False, max_length: int = MAX_LENGTH,
                 batch_size: int = 32):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.path = check_model_folder(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True, trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            self.path, local_files_only=True, trust_remote_code=False, use_safetensors=True)
        self.int8 = int8
        self.model = quantize_int8(model) if int8 else model.eval()
        self.device = torch.device("cpu") if int8 else next(self.model.parameters()).device
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.max_length = max_length
        self.batch_size = batch_size
        self.info = read_run_info(self.path)
        self._lock = threading.Lock()  # one forward pass at a time; torch already uses every core for it

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities, one row per text and one column per label."""
        import torch

        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                out[idx] = torch.softmax(self.model(**batch).logits.float(), dim=-1).cpu().numpy()
        return out

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
            "int8": self.int8,
            "max_length": self.max_length,
            "metrics": {split: self.info[split] for split in ("validation", "test") if split in self.info},
            "recipe": self.info.get("recipe"),
        }


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future


class MicroBatcher:
    """Collects the texts of requests that arrive close together and runs them through the model at once."""

    def __init__(self, classifier: Classifier, max_batch: int = MAX_BATCH, max_wait_ms: float = MAX_WAIT_MS):
        self.classifier = classifier
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task | None = None
        self.batches_run = 0

    async def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """Queue the texts and wait for their answers."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._work())
        job = _Job(texts, loop.create_future())
        await self._queue.put(job)
        return await job.future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            size = len(jobs[0].texts)
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                size += len(job.texts)
            texts = [text for job in jobs for text in job.texts]
            try:
                answers = await asyncio.to_thread(self.classifier.predict, texts)
            except Exception as err:  # every waiting request learns of the failure
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(err)
                continue
            self.batches_run += 1
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(answers[start:start + len(job.texts)])
                start += len(job.texts)

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None


class BadRequest(ValueError):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


EXAMPLE = '{"text": "the flight was late again"}  or  {"texts": ["great service", "lost my bag"]}'


def parse_request(body: Any, max_batch: int = MAX_BATCH, max_chars: int = MAX_CHARS) -> tuple[list[str], bool]:
    """Check a decoded JSON body; return (texts, is_batch) or raise BadRequest saying what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest(422, f"the body must be a JSON object, not {type(body).__name__}: send {EXAMPLE}")
    keys = set(body) & {"text", "texts"}
    if len(keys) != 1:
        raise BadRequest(422, f"give exactly one of the fields 'text' (one string) or 'texts' (a list of strings), "
                              f"got {sorted(body) or 'no fields'}: send {EXAMPLE}")
    extra = set(body) - keys
    if extra:
        raise BadRequest(422, f"unknown field(s) {sorted(extra)}: the service reads only 'text' or 'texts'")
    is_batch = "texts" in body
    texts = body["texts"] if is_batch else [body["text"]]
    if is_batch:
        if not isinstance(texts, list):
            raise BadRequest(422, f"'texts' must be a list of strings, not {type(texts).__name__}")
        if not texts:
            raise BadRequest(422, "'texts' is an empty list: send at least one text")
        if len(texts) > max_batch:
            raise BadRequest(413, f"'texts' holds {len(texts)} texts, over the limit of {max_batch} per request: "
                                  f"split the batch into several requests")
    for i, text in enumerate(texts):
        where = f"texts[{i}]" if is_batch else "'text'"
        if not isinstance(text, str):
            raise BadRequest(422, f"{where} must be a string, not {type(text).__name__} ({json.dumps(text)[:40]})")
        if not text.strip():
            raise BadRequest(422, f"{where} is empty: send some text to classify")
        if len(text) > max_chars:
            raise BadRequest(413, f"{where} has {len(text):,} characters, over the limit of {max_chars:,}: "
                                  f"shorten it (the model reads only the first {MAX_LENGTH} tokens anyway)")
    return texts, is_batch


def create_app(model_dir: str | Path | Classifier, *, int8: bool = False, max_batch: int = MAX_BATCH,
               max_chars: int = MAX_CHARS, max_wait_ms: float = MAX_WAIT_MS):
    """A FastAPI app that serves the classifier in `model_dir` (or an already loaded `Classifier`)."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    classifier = model_dir if isinstance(model_dir, Classifier) else Classifier(model_dir, int8=int8)
    batcher = MicroBatcher(classifier, max_batch=max_batch, max_wait_ms=max_wait_ms)
    max_body = max_batch * (max_chars * 4 + 16) + 1024  # a UTF-8 character takes at most 4 bytes

    @asynccontextmanager
    async def lifespan(app):
        yield
        await batcher.stop()

    app = FastAPI(title="ftlab text classifier", lifespan=lifespan,
                  description=f"Labels: {', '.join(classifier.labels)}. Model folder: {classifier.path.name}")
    app.state.classifier = classifier
    app.state.batcher = batcher

    def refuse(status: int, message: str) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": message})

    @app.get("/health")
    async def health() -> dict:
        """Is the service up? Answers as soon as the model is loaded."""
        return {"status": "ok", "labels": classifier.labels}

    @app.get("/model")
    async def model_info() -> dict:
        """Labels, base model, and the scores recorded when the model was trained and evaluated."""
        return {**classifier.describe(), "max_batch": max_batch, "max_chars": max_chars}

    @app.post("/predict", openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "properties": {
            "text": {"type": "string", "maxLength": max_chars},
            "texts": {"type": "array", "items": {"type": "string", "maxLength": max_chars}, "maxItems": max_batch},
        }}, "examples": {"one": {"value": {"text": "the flight was late again"}},
                         "batch": {"value": {"texts": ["great service", "lost my bag"]}}}}}}})
    async def predict(request: Request):
        """Classify one text (`{"text": ...}`) or a batch (`{"texts": [...]}`)."""
        raw = await request.body()
        if len(raw) > max_body:
            return refuse(413, f"the request body has {len(raw):,} bytes, over the limit of {max_body:,}")
        if not raw.strip():
            return refuse(400, f"the request body is empty: send {EXAMPLE}")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return refuse(400, f"the body is not valid JSON ({err}): send {EXAMPLE}")
        try:
            texts, is_batch = parse_request(body, max_batch=max_batch, max_chars=max_chars)
        except BadRequest as err:
            return refuse(err.status, str(err))
        answers = await batcher.predict(texts)
        return {"predictions": answers} if is_batch else answers[0]

    return app


def serve(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, int8: bool = False,
          max_batch: int = MAX_BATCH, max_chars: int = MAX_CHARS, log_level: str = "info") -> None:
    """Load the model and serve it until interrupted (Ctrl-C)."""
    import uvicorn

    from ftlab.models import set_cpu_threads

    set_cpu_threads()
    app = create_app(model_dir, int8=int8, max_batch=max_batch, max_chars=max_chars)
    print(f"Serving {app.state.classifier.path} on http://{host}:{port}  (labels: "
          f"{', '.join(app.state.classifier.labels)}{', int8' if int8 else ''}); Ctrl-C stops it.", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class BackgroundServer:
    """`ftlab serve` in a separate process, for notebooks and tests: started, used over HTTP, stopped.

    Use it as a context manager (`with BackgroundServer(folder) as server: ...`) or call `stop()`; the process is
    stopped either way, so no server is left behind.
    """

    def __init__(self, model_dir: str | Path, *, port: int | None = None, host: str = "127.0.0.1",
                 int8: bool = False, startup_timeout: float = 120.0, extra_args: tuple[str, ...] = ()):
        import httpx

        self.path = check_model_folder(model_dir)
        self.host, self.port = host, port or free_port(host)
        self.url = f"http://{self.host}:{self.port}"
        command = [sys.executable, "-m", "ftlab.cli", "serve", str(self.path), "--host", host,
                   "--port", str(self.port), "--log-level", "warning", *(["--int8"] if int8 else []), *extra_args]
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8")  # the server's output; closed in stop()
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, text=True)
        atexit.register(self.stop)  # a notebook kernel that exits takes its server with it
        deadline = time.monotonic() + startup_timeout
        while True:
            if self.process.poll() is not None:
                message = self.output().strip().splitlines()[-6:]
                self.stop()
                raise RuntimeError("the server stopped during start-up:\n" + "\n".join(message))
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the server did not answer on {self.url} within {startup_timeout:.0f} s")
            time.sleep(0.2)

    def output(self) -> str:
        """What the server process has printed so far."""
        if self._log.closed:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Ask the server to shut down (SIGINT, like Ctrl-C), kill it if it does not; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.close()
        atexit.unregister(self.stop)
        return self.process.returncode

    def __enter__(self) -> "BackgroundServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
