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
import reprlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftlab.config import SERVE_MAX_BATCH as MAX_BATCH, SERVE_MAX_CHARS as MAX_CHARS, SERVE_MAX_WAIT_MS as MAX_WAIT_MS
from ftlab.models import set_cpu_threads
from ftlab.serving.classifier import Classifier, ModelFolderError


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future


class MicroBatcher:
    """Collects the texts of requests that arrive close together and runs them through the model at once.

    Requests that arrive while the model is busy wait in a queue and go into the next batch together, so a lone
    request runs at once and a crowd is served in batches. `max_wait_ms` > 0 also holds a request back that long for
    others to join (more batching, more latency).
    """

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
            # Requests that queued while the model was busy join this batch at once; a window (max_wait_ms) can
            # make a request wait for others that have not arrived yet.
            while size < self.max_batch and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
                size += len(jobs[-1].texts)
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
            except Exception:
                # One request's texts may be what broke the batch: run each request alone, so only its own fails.
                await self._one_by_one(jobs)
                continue
            self.batches_run += 1
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(answers[start:start + len(job.texts)])
                start += len(job.texts)

    async def _one_by_one(self, jobs: list[_Job]) -> None:
        for job in jobs:
            try:
                answers = await asyncio.to_thread(self.classifier.predict, job.texts)
            except Exception as err:
                if not job.future.done():
                    job.future.set_exception(err)
            else:
                self.batches_run += 1
                if not job.future.done():
                    job.future.set_result(answers)

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
            raise BadRequest(422, f"{where} must be a string, not {type(text).__name__} ({reprlib.repr(text)[:40]})")
        if not text.strip():
            raise BadRequest(422, f"{where} is empty: send some text to classify")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise BadRequest(422, f"{where} holds a lone surrogate ({text[err.start]!r} at character {err.start}), "
                                  f"which is no character of Unicode: send the text as valid UTF-8") from None
        if len(text) > max_chars:
            raise BadRequest(413, f"{where} has {len(text):,} characters, over the limit of {max_chars:,}: "
                                  f"shorten it or split it into several texts")
    return texts, is_batch


def create_app(model_dir: str | Path | Classifier, *, runtime: str | None = None, int8: bool = False,
               precision: str = "auto", max_batch: int = MAX_BATCH, max_chars: int = MAX_CHARS,
               max_wait_ms: float = MAX_WAIT_MS):
    """A FastAPI app that serves the classifier in `model_dir` (or an already loaded `Classifier`); `runtime`,
    `int8` and `precision` as `Classifier` takes them."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    classifier = (model_dir if isinstance(model_dir, Classifier)
                  else Classifier(model_dir, runtime=runtime, int8=int8, precision=precision))
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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        """A wrong path or method gets the service's own error shape, with what it does serve."""
        routes = "GET /health, GET /model, POST /predict (and GET /docs)"
        response = refuse(err.status_code, f"{request.method} {request.url.path}: {err.detail}; this service answers "
                                           f"{routes}")
        for name, value in (err.headers or {}).items():
            response.headers[name] = value
        return response

    @app.get("/health")
    async def health() -> dict:
        """Is the service up? Answers as soon as the model is loaded."""
        return {"status": "ok", "labels": classifier.labels}

    @app.get("/model")
    async def model_info() -> dict:
        """Labels, base model, and the scores recorded when the model was trained and evaluated."""
        return {**classifier.describe(), "max_batch": max_batch, "max_chars": max_chars}

    text_schema = {"type": "string", "minLength": 1, "maxLength": max_chars, "pattern": r"\S",
                   "description": "a text with at least one character that is not white space"}
    answer_schema = {"type": "object", "required": ["label", "score", "probabilities"], "properties": {
        "label": {"type": "string", "enum": classifier.labels},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "probabilities": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}},
    }}
    error = {"description": "the request was refused; `error` says why and how to fix it", "content": {
        "application/json": {"schema": {"type": "object", "required": ["error"],
                                        "properties": {"error": {"type": "string"}}}}}}

    @app.post("/predict", openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"oneOf": [
                {"type": "object", "required": ["text"], "additionalProperties": False,
                 "properties": {"text": text_schema}},
                {"type": "object", "required": ["texts"], "additionalProperties": False,
                 "properties": {"texts": {"type": "array", "items": text_schema, "minItems": 1,
                                          "maxItems": max_batch}}},
            ]},
            "examples": {"one": {"value": {"text": "the flight was late again"}},
                         "batch": {"value": {"texts": ["great service", "lost my bag"]}}}}}},
        "responses": {
            "200": {"description": "the label of the text, or `predictions`: one answer per text of the batch",
                    "content": {"application/json": {"schema": {"oneOf": [
                        answer_schema,
                        {"type": "object", "required": ["predictions"],
                         "properties": {"predictions": {"type": "array", "items": answer_schema}}}]}}}},
            "400": error, "413": error, "422": error, "500": error}})
    async def predict(request: Request):
        """Classify one text (`{"text": ...}`) or a batch (`{"texts": [...]}`)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            return refuse(413, f"the request body has {int(declared):,} bytes, over the limit of {max_body:,}")
        raw = bytearray()
        async for chunk in request.stream():  # read no more than the limit, whatever the client sends
            raw += chunk
            if len(raw) > max_body:
                return refuse(413, f"the request body is over the limit of {max_body:,} bytes")
        if not raw.strip():
            return refuse(400, f"the request body is empty: send {EXAMPLE}")
        try:
            body = json.loads(bytes(raw))
        except RecursionError:
            return refuse(400, f"the body's JSON is nested too deeply to read: send {EXAMPLE}")
        except ValueError as err:  # invalid JSON, invalid UTF-8, or a number too long to convert
            if "integer string conversion" in str(err):
                return refuse(400, f"the body holds a number with more than {sys.get_int_max_str_digits():,} "
                                   f"digits: send {EXAMPLE}")
            return refuse(400, f"the body is not valid JSON ({str(err)[:120]}): send {EXAMPLE}")
        try:
            texts, is_batch = parse_request(body, max_batch=max_batch, max_chars=max_chars)
        except BadRequest as err:
            return refuse(err.status, str(err))
        try:
            answers = await batcher.predict(texts)
        except Exception as err:
            return refuse(500, f"the model could not classify these texts ({type(err).__name__}: {str(err)[:200]})")
        # The answer is plain JSON already: a JSONResponse skips FastAPI's conversion of arbitrary objects.
        return JSONResponse({"predictions": answers} if is_batch else answers[0])

    return app


def serve(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, runtime: str | None = None,
          int8: bool = False, precision: str = "auto", max_batch: int = MAX_BATCH, max_chars: int = MAX_CHARS,
          log_level: str = "info") -> None:
    """Load the model and serve it until interrupted (Ctrl-C)."""
    import uvicorn

    set_cpu_threads()
    app = create_app(model_dir, runtime=runtime, int8=int8, precision=precision, max_batch=max_batch,
                     max_chars=max_chars)
    classifier = app.state.classifier
    try:
        classifier.warm_up()
    except Exception as err:  # a model that loads but cannot classify would answer every request with a 500
        raise ModelFolderError(f"the model in {classifier.path} loaded but could not classify the probe texts "
                               f"({type(err).__name__}: {str(err)[:200]}): check that its config, weights and "
                               f"tokenizer were saved together by save_pretrained") from err
    how = "ONNX Runtime" if classifier.runtime == "onnx" else "PyTorch"
    print(f"Serving {classifier.path} on http://{host}:{port}  (labels: {', '.join(classifier.labels)}; {how}, "
          f"{classifier.precision}); Ctrl-C stops it.", flush=True)
    # h11, the HTTP parser the hardening tests run against: with httptools installed, uvicorn would answer some
    # malformed requests in plain text instead of the service's JSON error shape.
    uvicorn.run(app, host=host, port=port, log_level=log_level, http="h11")
