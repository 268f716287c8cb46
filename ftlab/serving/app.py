"""Serve a fine-tuned text classifier over HTTP.

`ftlab serve MODEL_DIR` on the command line, or `create_app(model_dir)` for a FastAPI app:

- `POST /predict` with `{"text": "..."}` or `{"texts": ["...", ...]}` returns the label, its probability and the
  probability of every label, for one text or for each text of the batch;
- `GET /health` says whether the service is up;
- `GET /model` describes the model: labels, base model, the scores recorded when it was trained and evaluated.

The model folder must be a standard Hugging Face folder with safetensors weights (`ftlab.serving.classifier`).
Requests that arrive while the model is busy are collected into one batch (micro-batching), which serves many
concurrent clients faster than one by one. (No `from __future__ import annotations` here: FastAPI reads the
endpoints' annotations at run time.)
"""

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftlab.config import SERVE_MAX_BATCH as MAX_BATCH, SERVE_MAX_CHARS as MAX_CHARS, SERVE_MAX_WAIT_MS as MAX_WAIT_MS
from ftlab.models import set_cpu_threads
from ftlab.serving.classifier import Classifier


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
                                  f"shorten it or split it into several texts")
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

    set_cpu_threads()
    app = create_app(model_dir, int8=int8, max_batch=max_batch, max_chars=max_chars)
    print(f"Serving {app.state.classifier.path} on http://{host}:{port}  (labels: "
          f"{', '.join(app.state.classifier.labels)}{', int8' if int8 else ''}); Ctrl-C stops it.", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
