"""Self-checks for lesson 05's exercises (deployment): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ftlab.config import LABELS, RUN_INFO
from ftlab.course.checks.core import ExerciseCheckError, as_array, call_safely, passed, require
from ftlab.data import clean_text
from ftlab.models import load_tokenizer
from ftlab.serving.app import create_app
from ftlab.training.runs import save_atomically


def check_predict_all(predict_all: Callable, url: str, max_batch: int) -> None:
    """Exercise 05.1: `predict_all(url, texts, max_batch)` sends requests of at most max_batch texts."""
    import httpx

    texts = [f"test tweet number {i}, {'great' if i % 3 == 0 else 'awful' if i % 3 == 1 else 'ok'} flight"
             for i in range(2 * max_batch + 3)]
    expected = [httpx.post(f"{url}/predict", json={"text": t}, timeout=60).json()["label"] for t in texts]
    call = f"predict_all(url, {len(texts)} texts, max_batch={max_batch})"
    result = call_safely(predict_all, url, list(texts), max_batch, what=call)
    require(result is not None, f"{call} returned None: return the list of labels, one per text")
    result = list(result)
    require(len(result) == len(texts), f"{call} should return {len(texts)} labels, one per text, got {len(result)}: "
                                       f"did the last, shorter request get lost?")
    require(all(isinstance(label, str) for label in result),
            f"return the label names (strings such as 'negative'), not {type(result[0]).__name__}")
    wrong = [i for i, (a, b) in enumerate(zip(result, expected)) if a != b]
    require(not wrong, f"the labels of texts {wrong[:5]} differ from the service's answer for each text alone: "
                       f"keep the texts in their order when you split and join the batches")
    empty = call_safely(predict_all, url, [], max_batch, what="predict_all(url, [], max_batch)")
    require(list(empty) == [], "with no texts, return an empty list without calling the service "
                               "(it refuses an empty batch)")
    passed(f"predict_all split {len(texts)} texts into requests of at most {max_batch} and kept their order")


def _check_model_folder(folder) -> None:
    import json

    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, num_labels=3, id2label=dict(enumerate(LABELS)),
                     label2id={label: i for i, label in enumerate(LABELS)})
    save_atomically(BertForSequenceClassification(cfg).eval(), load_tokenizer("minilm"), folder,
                    extra_files={RUN_INFO: json.dumps({"base_model": "minilm"})})


def check_clean_endpoint(add_clean_endpoint: Callable) -> None:
    """Exercise 05.2: `add_clean_endpoint(app)` adds POST /predict_clean, which cleans texts before predicting."""
    import tempfile
    from pathlib import Path

    from fastapi.testclient import TestClient

    raw = ["RT @united: my bag is lost AGAIN http://t.co/abc123", "@apple the new update &amp; battery... ugh"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        _check_model_folder(folder)
        app = create_app(folder)
        call_safely(add_clean_endpoint, app, what="add_clean_endpoint(app)")
        with TestClient(app) as client:
            routes = {getattr(r, "path", None) for r in app.routes}
            require("/predict_clean" in routes, "the app has no route /predict_clean: register it with "
                                                "@app.post(\"/predict_clean\") inside add_clean_endpoint")
            for text in raw:
                answer = client.post("/predict_clean", json={"text": text})
                require(answer.status_code == 200, f"POST /predict_clean with {{'text': {text!r}}} answered "
                                                   f"{answer.status_code}: {answer.text[:200]}")
                got = answer.json()
                want = client.post("/predict", json={"text": clean_text(text)}).json()
                unclean = client.post("/predict", json={"text": text}).json()
                require(isinstance(got, dict) and "probabilities" in got,
                        f"answer like /predict does (label, score, probabilities), got {str(got)[:120]}")
                if got["probabilities"] != want["probabilities"]:
                    hint = (" — that is the prediction for the raw text: apply ftlab.data.clean_text first"
                            if got["probabilities"] == unclean["probabilities"] else "")
                    raise ExerciseCheckError(f"for {text!r} the answer should be /predict's answer for the cleaned "
                                             f"text {clean_text(text)!r}{hint}")
            bad = client.post("/predict_clean", json={"text": ""})
            require(400 <= bad.status_code < 500,
                    f"an empty text should get a 4xx answer with a message, got {bad.status_code}: check the body "
                    f"with serve.parse_request, as /predict does")
            batch = client.post("/predict_clean", json={"texts": raw})
            require(batch.status_code == 200 and len(batch.json().get("predictions", [])) == len(raw),
                    "a batch {'texts': [...]} should get {'predictions': [one answer per text]}, like /predict")
    passed("/predict_clean cleans each text like the training data was cleaned, and refuses bad input")


def check_percentile(percentile: Callable) -> None:
    """Exercise 05.3: `percentile(values, q)` by the nearest-rank method."""
    cases = [([5.0], 50, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([1.0, 2.0, 3.0, 4.0], 95, 4.0),
             ([10.0, 1.0, 7.0, 3.0, 5.0], 50, 5.0), (list(range(1, 101)), 95, 95.0), (list(range(1, 101)), 100, 100.0),
             ([3.0, 1.0, 2.0], 1, 1.0)]
    for values, q, want in cases:
        got = call_safely(percentile, list(values), q, what=f"percentile({values if len(values) < 8 else '1..100'}, {q})")
        require(got is not None, "percentile returned None: return a number")
        got = float(as_array(got, "the percentile").reshape(-1)[0])
        if not np.isclose(got, want):
            hint = ""
            if np.isclose(got, np.percentile(values, q)):
                hint = " (that is numpy's interpolated percentile: take the value at rank ceil(q/100 × n) instead)"
            elif values != sorted(values):
                hint = " (sort the values first)"
            raise ExerciseCheckError(f"the {q}th percentile of {values if len(values) < 8 else '1..100'} by "
                                     f"nearest rank is {want}, got {got}{hint}")
    random = np.random.default_rng(0).exponential(20, 999)
    require(np.isclose(float(percentile(list(random), 95)), np.percentile(random, 95, method="inverted_cdf")),
            "on 999 random latencies the answer differs from numpy's percentile(..., method='inverted_cdf')")
    passed("percentile picks the value at rank ceil(q/100 × n) of the sorted values, as the nearest-rank method does")
