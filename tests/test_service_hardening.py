"""The service under hostile, random and steady requests: never a 5xx, never a dead server, never a leak.

A small classifier (the real tokenizer, a tiny network) stands in for a fine-tuned model: what is tested is the
HTTP layer, the request checks and the micro-batcher, which are the same for any model.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from ftlab import serving, training
from ftlab.models import load_tokenizer
from ftlab.serving import stress
from ftlab.serving.background import BackgroundServer

from test_serving import small_classifier


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hardened") / "model"
    training.save_atomically(small_classifier(1), load_tokenizer("minilm"), folder)
    return folder


@pytest.fixture(scope="module")
def server(model_dir):
    with BackgroundServer(model_dir) as running:
        yield running


def test_the_two_requests_that_once_answered_500_get_a_400_and_a_422(model_dir):
    with TestClient(serving.create_app(model_dir)) as client:
        nested = client.post("/predict", content=b"[" * 100_000)
        assert nested.status_code == 400 and "nested too deeply" in nested.json()["error"]
        surrogate = client.post("/predict", content=b'{"texts": ["fine", "bad \\ud800"]}')
        assert surrogate.status_code == 422 and "texts[1] holds a lone surrogate" in surrogate.json()["error"]
        number = client.post("/predict", content=b'{"text": 1' + b"0" * 5000 + b"}")
        assert number.status_code == 400 and "digits" in number.json()["error"]
        wrong = client.get("/predict")
        assert wrong.status_code == 405 and "POST /predict" in wrong.json()["error"]
        assert client.post("/predict", json={"text": "still fine"}).status_code == 200


def test_a_body_over_the_limit_is_refused_without_being_read_whole(model_dir):
    with TestClient(serving.create_app(model_dir, max_batch=2, max_chars=10)) as client:
        limit = 2 * (10 * 4 + 16) + 1024
        declared = client.post("/predict", content=b"{}", headers={"Content-Length": str(10 ** 12)})
        assert declared.status_code == 413 and f"{limit:,}" in declared.json()["error"]

        def chunks():  # no Content-Length: the body streams in, and reading stops at the limit
            yield b'{"text": "'
            for _ in range(100):
                yield b"x" * 100
        streamed = client.post("/predict", content=chunks())
        assert streamed.status_code == 413 and "over the limit" in streamed.json()["error"]


def test_a_request_that_breaks_the_model_fails_alone(model_dir):
    classifier = serving.Classifier(model_dir)
    predict = classifier.predict

    def fragile(texts):
        if any("BOOM" in text for text in texts):
            raise RuntimeError("the tokenizer choked")
        return predict(texts)

    classifier.predict = fragile
    app = serving.create_app(classifier, max_wait_ms=50)

    async def together():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            texts = ["good one", "BOOM", "good two", "good three"]
            return await asyncio.gather(*(client.post("/predict", json={"text": t}) for t in texts))

    with TestClient(app):  # runs the app's lifespan
        answers = asyncio.run(together())
    assert [a.status_code for a in answers] == [200, 500, 200, 200]
    assert "the tokenizer choked" in answers[1].json()["error"]
    assert answers[0].json() == predict(["good one"])[0]


def test_thousands_of_hostile_requests_from_16_clients_get_no_5xx(server):
    before = stress.predict_probe(server.url)
    requests = stress.hostile_requests(3000, seed=17)
    report = stress.attack(server.url, requests, clients=16)
    print(report.table())
    assert report.total == 3000 and len(report.statuses) == 12, "every family of requests should have been sent"
    assert report.server_errors == 0, report.table()
    assert report.bad_errors == [], report.bad_errors[:5]
    for kind in ("deep nesting", "lone surrogate", "huge number", "wrong types", "oversized", "not HTTP"):
        refused = sum(n for status, n in report.statuses[kind].items() if 400 <= status < 500)
        assert refused > 0, f"no request of '{kind}' was refused: the generator does not make hostile ones"
    assert server.running and httpx.get(f"{server.url}/health").json()["status"] == "ok"
    assert stress.predict_probe(server.url) == before, "the same text must get the same answer after the attack"
    assert "Traceback" not in server.output()


@pytest.mark.slow
def test_steady_load_does_not_grow_the_servers_memory(server):
    report = stress.soak(server.url, server.process.pid, seconds=15, clients=4, samples=6)
    print(report.summary())
    assert set(report.statuses) == {200} and report.requests > 100
    # Allocator arenas settle during the first seconds; after the warm-up the memory must stay flat.
    assert report.growth_mb < 30, report.summary()
    assert max(report.memory_mb) - report.memory_mb[0] < 60, report.summary()


def test_the_attack_refuses_to_leave_this_machine():
    with pytest.raises(ValueError, match="loopback"):
        stress.attack("http://example.com:80", [])


def test_the_service_keeps_its_own_openapi_schema(server):
    """Schemathesis draws requests from the service's own OpenAPI schema, valid ones and (for the endpoint that
    reads a body) invalid ones, and checks every answer: no 5xx, and a status code, content type and body that
    the schema documents. The real server answers, over loopback."""
    # A request over the service's limits (too many texts, too long a text) is refused with 413, as documented.
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": [400, 413, 422]}}})
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)
    statuses = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if operation.method == "post" else [])
        for mode in modes:
            @given(operation.as_strategy(generation_mode=mode))
            @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                      derandomize=True)
            def check(case):
                response = case.call_and_validate()
                if response.status_code >= 400:
                    assert isinstance(json.loads(response.content)["error"], str)
                statuses[operation.method.upper(), operation.path, mode.value, response.status_code] += 1

            check()
    print(dict(statuses))
    positive = {status for (_, path, mode, status) in statuses if path == "/predict" and mode == "positive"}
    negative = {status for (_, path, mode, status) in statuses if path == "/predict" and mode == "negative"}
    assert positive == {200} and negative and all(400 <= status < 500 for status in negative)
