"""Latency and throughput of `ftlab serve` on PyTorch and on ONNX Runtime (float32 and int8), in one run.

Usage:  python benchmarks/serve_latency.py [--model DIR] [--requests 300] [--batch 32]

Each variant is served by a real `ftlab serve` process on localhost and called over HTTP with test tweets: one text
per request (sequential), batches of `--batch` texts per request (sequential; a quarter as many requests, at least
20), and one text per request from 8 concurrent clients, after a warm-up of both kinds of request. Beside them runs
the service as it was before ONNX Runtime: PyTorch's deprecated dynamic int8 quantization (`torch.ao`) behind a 5 ms
batching window, started by this script and warmed up as `ftlab serve` warms up, the baseline of the batched ratio.

For every variant it prints the model's own time for one text in this process (no HTTP), the HTTP p50/p95, the
service's own share (HTTP p50 minus the model's time), requests/s and texts/s, the size of the weights, macro-F1 on
the profile's test split and the labels that differ from PyTorch float32's. `GET /health` measures the bare HTTP
round trip. The ratios at the end are the goals: the fastest single-text p50 against PyTorch float32's, batched
throughput against the baseline's, macro-F1 against float32's.
Without --model it uses the model lesson 03 saved for the current profile (training it first if there is none).
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from ftlab import config, data, evaluate, serving, training
from ftlab.models import set_cpu_threads

CLIENTS = 8
BASELINE = "before: torch.ao int8, 5 ms window"
VARIANTS = {"PyTorch float32": dict(runtime="torch", precision="fp32"), "ONNX Runtime float32": dict(runtime="onnx"),
            "ONNX Runtime int8": dict(runtime="onnx", int8=True)}


def batched_requests(n_requests: int) -> int:
    """How many batched requests go with `n_requests` single ones: a quarter as many, at least 20."""
    return max(20, n_requests // 4)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def timed_requests(url: str, bodies: list[dict | None]) -> tuple[list[float], float]:
    """Send the bodies one after another (None: GET /health); per-request latencies (ms) and the total seconds."""
    latencies = []
    with httpx.Client(base_url=url, timeout=120) as http:
        start = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            answer = http.get("/health") if body is None else http.post("/predict", json=body)
            latencies.append((time.perf_counter() - t0) * 1000)
            answer.raise_for_status()
        return latencies, time.perf_counter() - start


def concurrent_requests(url: str, texts: list[str]) -> tuple[list[float], float]:
    """One text per request from CLIENTS threads at once, each thread with its own connection."""
    local = threading.local()

    def ask(text):
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=120)
        t0 = time.perf_counter()
        local.http.post("/predict", json={"text": text}).raise_for_status()
        return (time.perf_counter() - t0) * 1000

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        latencies = list(pool.map(ask, texts))
    return latencies, time.perf_counter() - start


def legacy_classifier(model_dir: Path) -> serving.Classifier:
    """The service's int8 variant before ONNX Runtime: PyTorch's dynamic quantization of the Linear layers."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    classifier = serving.Classifier(model_dir, precision="fp32")  # int8 kernels take float32, not bfloat16 autocast
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier.model = quantize_dynamic(classifier.model, {torch.nn.Linear}, dtype=torch.qint8)
    return classifier


class LegacyServer:
    """The baseline service in its own process (this script with --legacy-port), like `BackgroundServer`."""

    def __init__(self, model_dir: Path):
        self.port = serving.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen([sys.executable, __file__, "--model", str(model_dir), "--legacy-port",
                                         str(self.port)], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._log.seek(0)
                raise RuntimeError("the baseline service did not start:\n" + self._log.read()[-2000:])
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()


def serve_legacy(model_dir: Path, port: int) -> None:
    import uvicorn

    set_cpu_threads()
    classifier = legacy_classifier(model_dir)
    classifier.warm_up()  # as `ftlab serve` does before it answers
    app = serving.create_app(classifier, max_wait_ms=5.0)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def model_time(classifier: serving.Classifier, texts: list[str], n: int) -> float:
    """p50 in ms of the classifier alone on one text at a time, in this process."""
    for text in texts[:10]:
        classifier.predict_proba([text])
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        classifier.predict_proba([texts[i % len(texts)]])
        times.append((time.perf_counter() - t0) * 1000)
    return percentile(times, 50)


def measure(name: str, model_dir: Path, texts: list[str], labels: np.ndarray, reference: np.ndarray | None,
            n_requests: int, batch: int) -> tuple[dict, np.ndarray]:
    options = VARIANTS.get(name, {})
    classifier = legacy_classifier(model_dir) if name == BASELINE else serving.Classifier(model_dir, **options)
    probabilities = classifier.predict_proba(texts)
    predicted = probabilities.argmax(1)
    row = {"weights MB": classifier.weights_mb if name != BASELINE else serving.model_size_mb(classifier.model),
           "test macro-F1": evaluate.scores(labels, predicted)["macro_f1"],
           "labels unlike float32": int((predicted != reference).sum()) if reference is not None else 0,
           "model alone, 1 text p50 ms": model_time(classifier, texts, n_requests)}
    del classifier
    singles = [{"text": texts[i % len(texts)]} for i in range(n_requests)]
    batches = [{"texts": [texts[(i * batch + j) % len(texts)] for j in range(batch)]}
               for i in range(batched_requests(n_requests))]
    server = LegacyServer(model_dir) if name == BASELINE else serving.BackgroundServer(model_dir, **options)
    with server:
        timed_requests(server.url, singles[:20] + batches[:3])  # warm-up, both kinds of request
        lat, _ = timed_requests(server.url, [None] * n_requests)
        row["GET /health p50 ms"] = percentile(lat, 50)
        lat, seconds = timed_requests(server.url, singles)
        row.update({"1 text p50 ms": percentile(lat, 50), "1 text p95 ms": percentile(lat, 95),
                    "1 text req/s": len(lat) / seconds})
        row["service's share of p50 ms"] = row["1 text p50 ms"] - row["model alone, 1 text p50 ms"]
        lat, seconds = timed_requests(server.url, batches)
        row.update({f"{batch} texts p50 ms": percentile(lat, 50), f"{batch} texts, texts/s": len(lat) * batch / seconds})
        lat, seconds = concurrent_requests(server.url, [b["text"] for b in singles])
        row.update({f"{CLIENTS} clients p95 ms": percentile(lat, 95), f"{CLIENTS} clients req/s": len(lat) / seconds})
    return row, predicted


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model folder (default: lesson 03's model for the profile)")
    parser.add_argument("--requests", type=int, default=300, help="single-text requests per variant")
    parser.add_argument("--batch", type=int, default=32, help="texts per batched request")
    parser.add_argument("--legacy-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.legacy_port:
        return serve_legacy(args.model, args.legacy_port)
    if args.requests < 20 or args.batch < 2:
        parser.error("use at least 20 requests and batches of at least 2 texts")
    set_cpu_threads()
    profile = config.get_profile()
    model_dir = args.model or training.runs_dir(profile) / training.FINETUNED
    if args.model is None and not (model_dir / "model.safetensors").is_file():
        print(f"No model in {model_dir}: training lesson 03's model for profile {profile.name} first.", flush=True)
        training.finetuned_model(profile)
    serving.check_model_folder(model_dir)
    test = data.load_tweets(profile)["test"]
    texts, labels = list(test["text"]), np.array(test["label"])

    import pandas as pd
    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, torch threads {torch.get_num_threads()}, python "
          f"{sys.version.split()[0]}, torch {torch.__version__}")
    print(f"model: {model_dir} | profile {profile.name} | {len(texts):,} test tweets | "
          f"{args.requests} single requests, {batched_requests(args.requests)} batches of {args.batch}, "
          f"{CLIENTS} concurrent clients")
    rows, reference = {}, None
    for name in [*VARIANTS, BASELINE]:
        rows[name], predicted = measure(name, model_dir, texts, labels, reference, args.requests, args.batch)
        reference = predicted if reference is None else reference
        print(f"  measured {name}", flush=True)
    table = pd.DataFrame(rows)
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 160):
        print(table.to_string())
    p50 = table.loc["1 text p50 ms", list(VARIANTS)]
    fastest = p50.idxmin()
    batched = table.loc[f"{args.batch} texts, texts/s"]
    best_batched = batched[list(VARIANTS)].idxmax()
    f1 = table.loc["test macro-F1"]
    print(f"fastest single text: {fastest}, p50 {p50[fastest]:.2f} ms over HTTP = "
          f"{p50['PyTorch float32'] / p50[fastest]:.2f}× faster than PyTorch float32 "
          f"({table.loc['service' + chr(39) + 's share of p50 ms', fastest]:.2f} ms of it outside the model)")
    print(f"batched throughput: {best_batched} {batched[best_batched]:,.0f} texts/s = "
          f"{batched[best_batched] / batched[BASELINE]:.2f}× the baseline ({BASELINE})")
    print("macro-F1 against PyTorch float32: " + ", ".join(
        f"{name} {f1[name] - f1['PyTorch float32']:+.4f}" for name in [*list(VARIANTS)[1:], BASELINE]))


if __name__ == "__main__":
    main()
