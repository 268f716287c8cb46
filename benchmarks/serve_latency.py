"""Latency and throughput of `ftlab serve`: the fine-tuned model vs its int8 variant, measured in one run.

Usage:  python benchmarks/serve_latency.py [--model DIR] [--requests 200] [--batch 32]

Each variant is served by a real `ftlab serve` process on localhost and called over HTTP with test tweets:
one text per request (sequential), batches of `--batch` texts per request (sequential), and one text per request
from 8 concurrent clients. It prints p50/p95 latency and requests/s (texts/s for batches), the size of the
weights, and macro-F1 on the profile's test split, so speed and quality are seen side by side.
Without --model it uses the model lesson 03 saved for the current profile (training it first if there is none).
"""

import argparse
import platform
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from ftlab import config, data, evaluate, serving, training
from ftlab.models import set_cpu_threads

CLIENTS = 8


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def timed_requests(url: str, bodies: list[dict]) -> tuple[list[float], float]:
    """Send the bodies one after another; return per-request latencies (ms) and the total seconds."""
    latencies = []
    with httpx.Client(base_url=url, timeout=120) as http:
        start = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            answer = http.post("/predict", json=body)
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


def measure(model_dir: Path, int8: bool, texts: list[str], labels: np.ndarray, n_requests: int, batch: int) -> dict:
    classifier = serving.Classifier(model_dir, int8=int8)
    predicted = classifier.predict_proba(texts).argmax(1)
    row = {"weights MB": serving.model_size_mb(classifier.model),
           "test macro-F1": evaluate.scores(labels, predicted)["macro_f1"]}
    del classifier
    singles = [{"text": texts[i % len(texts)]} for i in range(n_requests)]
    batches = [{"texts": [texts[(i * batch + j) % len(texts)] for j in range(batch)]}
               for i in range(max(5, n_requests // batch))]
    with serving.BackgroundServer(model_dir, int8=int8) as server:
        timed_requests(server.url, singles[:10])  # warm-up
        lat, seconds = timed_requests(server.url, singles)
        row.update({"1 text p50 ms": percentile(lat, 50), "1 text p95 ms": percentile(lat, 95),
                    "1 text req/s": len(lat) / seconds})
        lat, seconds = timed_requests(server.url, batches)
        row.update({f"{batch} texts p50 ms": percentile(lat, 50), f"{batch} texts p95 ms": percentile(lat, 95),
                    f"{batch} texts, texts/s": len(lat) * batch / seconds})
        lat, seconds = concurrent_requests(server.url, [b["text"] for b in singles])
        row.update({f"{CLIENTS} clients p95 ms": percentile(lat, 95), f"{CLIENTS} clients req/s": len(lat) / seconds})
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model folder (default: lesson 03's model for the profile)")
    parser.add_argument("--requests", type=int, default=200, help="single-text requests per variant")
    parser.add_argument("--batch", type=int, default=32, help="texts per batched request")
    args = parser.parse_args(argv)
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

    import torch

    print(f"machine: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, "
          f"python {sys.version.split()[0]}, torch {torch.__version__}")
    print(f"model: {model_dir} | profile {profile.name} | {len(texts):,} test tweets | "
          f"{args.requests} single requests, batches of {args.batch}, {CLIENTS} concurrent clients")
    rows = {}
    for name, int8 in (("original (float32)", False), ("int8 (dynamic quantization)", True)):
        rows[name] = measure(model_dir, int8, texts, labels, args.requests, args.batch)
        print(f"  measured {name}", flush=True)

    import pandas as pd

    table = pd.DataFrame(rows)
    ratio = table.iloc[:, 1] / table.iloc[:, 0]
    table["int8 / original"] = ratio
    with pd.option_context("display.float_format", "{:,.3f}".format, "display.width", 120):
        print(table.to_string())
    speedups = [f"{r:.2f}×" for r in (ratio["1 text req/s"], ratio[f"{args.batch} texts, texts/s"])]
    print(f"int8: {ratio['weights MB']:.2f}× the size, single-text throughput {speedups[0]}, batched {speedups[1]}, "
          f"macro-F1 {table.loc['test macro-F1'].iloc[1] - table.loc['test macro-F1'].iloc[0]:+.3f}")


if __name__ == "__main__":
    main()
