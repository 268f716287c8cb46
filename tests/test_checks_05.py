"""The lesson-05 exercise checks accept right answers and explain wrong ones."""

import math

import httpx
import numpy as np
import pytest
from fastapi import Request
from fastapi.responses import JSONResponse

from ftlab import data, serving
from ftlab.course.checks import lesson05 as checks
from ftlab.course.checks.core import ExerciseCheckError


def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered) / 100), 1) - 1]


def test_percentile_check():
    checks.check_percentile(nearest_rank)
    with pytest.raises(ExerciseCheckError, match="interpolated"):
        checks.check_percentile(lambda values, q: float(np.percentile(values, q)))
    with pytest.raises(ExerciseCheckError, match="sort the values"):
        checks.check_percentile(lambda values, q: values[max(math.ceil(q * len(values) / 100), 1) - 1])
    with pytest.raises(ExerciseCheckError, match="not written yet"):
        checks.check_percentile(lambda values, q: (_ for _ in ()).throw(NotImplementedError()))


def _clean_endpoint(clean: bool):
    def add(app):
        @app.post("/predict_clean")
        async def predict_clean(request: Request):
            try:
                texts, is_batch = serving.parse_request(await request.json())
            except serving.BadRequest as err:
                return JSONResponse(status_code=err.status, content={"error": str(err)})
            if clean:
                texts = [data.clean_text(t) for t in texts]
            answers = await app.state.batcher.predict(texts)
            return {"predictions": answers} if is_batch else answers[0]
    return add


def test_clean_endpoint_check():
    checks.check_clean_endpoint(_clean_endpoint(clean=True))
    with pytest.raises(ExerciseCheckError, match="apply ftlab.data.clean_text first"):
        checks.check_clean_endpoint(_clean_endpoint(clean=False))
    with pytest.raises(ExerciseCheckError, match="no route /predict_clean"):
        checks.check_clean_endpoint(lambda app: None)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("check05") / "model"
    checks._check_model_folder(folder)
    with serving.BackgroundServer(folder, extra_args=("--max-batch", "4")) as running:
        yield running


def _predict_all(split: bool, drop_last_chunk: bool = False):
    def predict_all(url, texts, max_batch):
        if not texts:
            return []
        size = max_batch if split else len(texts)
        chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
        if drop_last_chunk:
            chunks = chunks[:-1]
        labels = []
        for chunk in chunks:
            answer = httpx.post(f"{url}/predict", json={"texts": chunk}, timeout=60)
            answer.raise_for_status()
            labels += [p["label"] for p in answer.json()["predictions"]]
        return labels
    return predict_all


def test_predict_all_check(server):
    checks.check_predict_all(_predict_all(split=True), server.url, 4)
    with pytest.raises(ExerciseCheckError, match="413"):
        checks.check_predict_all(_predict_all(split=False), server.url, 4)
    with pytest.raises(ExerciseCheckError, match="last, shorter request"):
        checks.check_predict_all(_predict_all(split=True, drop_last_chunk=True), server.url, 4)
