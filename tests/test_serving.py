"""The HTTP service (`ftlab serve`), its model card, and saving that survives an interruption."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from ftlab import cli, config, serving, training
from ftlab.training import runs
from ftlab.models import load_tokenizer

LABELS = list(config.LABELS)


def small_classifier(seed: int):
    """A small BERT classifier with the course's labels and the real tokenizer's vocabulary (fast to run)."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, num_labels=3, id2label=dict(enumerate(LABELS)),
                     label2id={label: i for i, label in enumerate(LABELS)})
    return BertForSequenceClassification(cfg).eval()


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp("served") / "model"
    info = {"base_model": "minilm", "recipe": {"profile": config.get_profile("quick").as_dict(), "seed": 42},
            "validation": {"eval_accuracy": 0.5, "eval_macro_f1": 0.4}}
    training.save_atomically(small_classifier(0), tokenizer, folder,
                          extra_files={serving.RUN_INFO: json.dumps(info)})
    return folder


@pytest.fixture(scope="module")
def client(model_dir):
    with TestClient(serving.create_app(model_dir, max_batch=8, max_chars=200)) as test_client:
        yield test_client


def direct_probabilities(model_dir, texts):
    """The model's probabilities computed without the service, for comparison."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    out = []
    with torch.inference_mode():
        for text in texts:  # one at a time: no padding at all
            logits = model(**tok(text, return_tensors="pt", truncation=True, max_length=128)).logits
            out.append(torch.softmax(logits, -1)[0].numpy())
    return np.array(out)


TEXTS = ["the flight was delayed three hours and nobody told us", "great service, thank you!",
         "just landed", "@user my bag is lost again", "Coachella line-up is out"]


# --- the model folder -------------------------------------------------------------------------------------


def test_check_model_folder_explains_what_is_wrong(tmp_path, model_dir):
    assert serving.check_model_folder(model_dir) == model_dir
    with pytest.raises(serving.ModelFolderError, match="does not exist"):
        serving.check_model_folder(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(serving.ModelFolderError, match="is a file"):
        serving.check_model_folder(tmp_path / "file.txt")
    with pytest.raises(serving.ModelFolderError, match="no config.json"):
        serving.check_model_folder(tmp_path)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(serving.ModelFolderError, match="pickled weights.*does\\s+not load pickles"):
        serving.check_model_folder(pickled)
    no_tokenizer = tmp_path / "no_tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        (no_tokenizer / name).write_bytes((model_dir / name).read_bytes())
    with pytest.raises(serving.ModelFolderError, match="no tokenizer"):
        serving.check_model_folder(no_tokenizer)


# --- predictions ------------------------------------------------------------------------------------------


def test_health_and_model_description(client):
    health = client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok", "labels": LABELS}
    info = client.get("/model").json()
    assert info["labels"] == LABELS and info["base_model"] == "minilm"
    assert info["metrics"]["validation"]["eval_macro_f1"] == 0.4
    assert info["max_batch"] == 8 and info["max_chars"] == 200 and info["int8"] is False


def test_one_text_gets_the_models_own_prediction(client, model_dir):
    expected = direct_probabilities(model_dir, TEXTS)
    for text, probs in zip(TEXTS, expected):
        answer = client.post("/predict", json={"text": text})
        assert answer.status_code == 200
        body = answer.json()
        assert list(body["probabilities"]) == LABELS
        assert np.allclose([body["probabilities"][label] for label in LABELS], probs, atol=1e-5)
        assert body["label"] == LABELS[int(probs.argmax())]
        assert body["score"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_a_batch_answers_each_text_as_if_alone(client, model_dir):
    expected = direct_probabilities(model_dir, TEXTS)
    answer = client.post("/predict", json={"texts": TEXTS})
    assert answer.status_code == 200
    predictions = answer.json()["predictions"]
    assert len(predictions) == len(TEXTS)
    got = np.array([[p["probabilities"][label] for label in LABELS] for p in predictions])
    assert np.allclose(got, expected, atol=1e-5), "padding a batch must not change a text's prediction"


BAD_REQUESTS = [
    ("not json at all", 400, "not valid JSON"),
    ('{"text": "unterminated', 400, "not valid JSON"),
    ("", 400, "body is empty"),
    ('["a list"]', 422, "must be a JSON object"),
    ("{}", 422, "exactly one of the fields"),
    ('{"text": "a", "texts": ["b"]}', 422, "exactly one of the fields"),
    ('{"text": "a", "lang": "en"}', 422, "unknown field"),
    ('{"text": ""}', 422, "is empty"),
    ('{"text": "   "}', 422, "is empty"),
    ('{"text": 42}', 422, "must be a string, not int"),
    ('{"text": null}', 422, "must be a string, not NoneType"),
    ('{"texts": "one string"}', 422, "must be a list of strings"),
    ('{"texts": []}', 422, "empty list"),
    ('{"texts": ["fine", 7]}', 422, "texts\\[1\\] must be a string"),
    (json.dumps({"texts": ["x"] * 9}), 413, "9 texts, over the limit of 8"),
    (json.dumps({"text": "y" * 201}), 413, "201 characters, over the limit of 200"),
]


@pytest.mark.parametrize("body, status, message", BAD_REQUESTS)
def test_bad_input_gets_a_4xx_that_says_what_is_wrong(client, body, status, message):
    answer = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status
    assert "error" in answer.json()
    assert re.search(message, answer.json()["error"]), answer.json()["error"]


def test_an_oversized_body_is_refused_before_parsing(client):
    answer = client.post("/predict", content=b"x" * 100_000, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "bytes, over the limit" in answer.json()["error"]


@pytest.mark.parametrize("max_wait_ms", [0, 50])
def test_concurrent_requests_are_batched_together(model_dir, max_wait_ms):
    """Requests that queue while the model is busy share a batch, with or without a window that waits for more."""
    app = serving.create_app(model_dir, max_batch=64, max_wait_ms=max_wait_ms)

    async def many():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as session:
            answers = await asyncio.gather(*[session.post("/predict", json={"text": t}) for t in TEXTS * 4])
        await app.state.batcher.stop()
        return answers

    answers = asyncio.run(many())
    assert all(a.status_code == 200 for a in answers)
    assert [a.json()["label"] for a in answers[:5]] == [a.json()["label"] for a in answers[5:10]]
    assert app.state.batcher.batches_run < len(answers), "20 simultaneous requests should share batches"


# --- a real server on localhost ----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_server_answers_500_requests_from_8_clients_without_errors(model_dir):
    texts = [f"{TEXTS[i % len(TEXTS)]} #{i}" for i in range(500)]
    with serving.BackgroundServer(model_dir) as server:
        assert server.running

        def ask(text):
            with httpx.Client(base_url=server.url, timeout=30) as http:
                return http.post("/predict", json={"text": text})

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(ask, texts))
        errors = [a.status_code for a in answers if a.status_code != 200]
        assert not errors, f"{len(errors)} of 500 requests failed: {errors[:5]}"
        assert all(a.json()["label"] in LABELS for a in answers)
        process = server.process
    assert process.poll() is not None, "the server process must be gone after stop()"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health", timeout=2)


def test_background_server_reports_a_bad_folder_at_once(tmp_path):
    with pytest.raises(serving.ModelFolderError, match="does not exist"):
        serving.BackgroundServer(tmp_path / "nothing")


def test_cli_serve_refuses_a_model_that_cannot_classify_in_one_line(model_dir, capsys, monkeypatch):
    def broken(self, texts):
        raise TypeError("forward() got an unexpected keyword argument 'token_type_ids'")

    monkeypatch.setattr(serving.Classifier, "predict_proba", broken)
    assert cli.main(["serve", str(model_dir), "--port", str(serving.free_port())]) != 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith("ftlab serve:")]
    assert "Traceback" not in err and len(said) == 1, err
    assert "could not classify the probe texts" in said[0] and "TypeError" in said[0], said


def test_cli_serve_refuses_a_bad_folder_with_a_message(tmp_path, capsys):
    assert cli.main(["serve", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", str(tmp_path), "--port", "70000"])
    with pytest.raises(SystemExit):
        cli.main(["serve", str(tmp_path), "--max-batch", "0"])


# --- the model card ---------------------------------------------------------------------------------------


def test_model_card_records_the_run_and_the_test_scores(tmp_path, model_dir):
    folder = tmp_path / "carded"
    folder.mkdir()
    (folder / serving.RUN_INFO).write_text((model_dir / serving.RUN_INFO).read_text())
    path = serving.write_model_card(folder, test_scores={"accuracy": 0.61, "macro_f1": 0.55}, test_size=200,
                                 per_label_f1={"negative": 0.7, "neutral": 0.5, "positive": 0.45},
                                 training_topics={"airline": 300, "apple": 100})
    text = path.read_text()
    assert text.startswith("---\n") and "base_model: sentence-transformers/all-MiniLM-L6-v2" in text
    assert "license: apache-2.0" in text and "pipeline_tag: text-classification" in text
    assert "| test (200 tweets) | 0.610 | 0.550 |" in text
    assert "| validation | 0.500 | 0.400 |" in text
    assert "airline 75%, apple 25%" in text and "## Limitations" in text and "## Intended use" in text
    info = json.loads((folder / serving.RUN_INFO).read_text())
    assert info["test"] == {"accuracy": 0.61, "macro_f1": 0.55} and info["test_size"] == 200
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", serving.RUN_INFO], "no temporary file left"


def test_model_card_needs_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="save the model first"):
        serving.write_model_card(tmp_path / "missing", test_scores={"accuracy": 1.0})


# --- saving survives an interruption ----------------------------------------------------------------------

KILL_DURING_SAVE = textwrap.dedent("""
    import os, signal, sys
    from ftlab import training
    from ftlab.models import load_tokenizer
    sys.path.insert(0, {tests!r})
    from test_serving import small_classifier

    class DiesWhileSaving:
        def __init__(self, tokenizer):
            self.tokenizer = tokenizer
        def save_pretrained(self, folder):
            self.tokenizer.save_pretrained(folder)   # half the files are written ...
            os.kill(os.getpid(), signal.SIGKILL)     # ... and the process dies, like a power cut

    training.save_atomically(small_classifier(1), DiesWhileSaving(load_tokenizer("minilm")), {target!r})
""")


def test_a_save_killed_half_way_leaves_the_previous_model_loadable(tmp_path, tokenizer):
    target = tmp_path / "model"
    training.save_atomically(small_classifier(0), tokenizer, target)
    before = serving.Classifier(target).predict_proba(TEXTS)

    script = KILL_DURING_SAVE.format(tests=str(Path(__file__).parent), target=str(target))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == -9, result.stderr[-2000:]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model"]
    assert leftovers and all(name.startswith(".model.saving-") for name in leftovers), leftovers

    after = serving.Classifier(target).predict_proba(TEXTS)
    assert np.array_equal(before, after), "the folder must still hold the previous, complete model"


def test_a_failed_rename_puts_the_previous_model_back(tmp_path, tokenizer, monkeypatch):
    target = tmp_path / "model"
    training.save_atomically(small_classifier(0), tokenizer, target)
    before = serving.Classifier(target).predict_proba(TEXTS)
    real_replace = os.replace

    def replace(src, dst):
        if ".saving-" in str(src):
            raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(runs.os, "replace", replace)
    with pytest.raises(OSError, match="rename failed"):
        training.save_atomically(small_classifier(1), tokenizer, target)
    monkeypatch.undo()
    assert np.array_equal(serving.Classifier(target).predict_proba(TEXTS), before)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_the_service_reads_as_many_tokens_as_training_did(model_dir, tokenizer, tmp_path):
    """The run record says how many tokens the model was trained on; the service truncates there too."""
    assert serving.Classifier(model_dir).max_length == config.get_profile("quick").max_length
    job_folder = tmp_path / "job-model"
    training.save_atomically(small_classifier(0), tokenizer, job_folder,
                             extra_files={serving.RUN_INFO: json.dumps({"recipe": {"max_length": 24}})})
    classifier = serving.Classifier(job_folder)
    assert classifier.max_length == 24
    long_text = " ".join(["the flight was late and the crew was rude"] * 20)
    cut = tokenizer.decode(tokenizer(long_text, truncation=True, max_length=24)["input_ids"], skip_special_tokens=True)
    assert np.allclose(classifier.predict_proba([long_text]), classifier.predict_proba([cut]), atol=1e-5)
    bare = tmp_path / "bare-model"
    training.save_atomically(small_classifier(0), tokenizer, bare)
    assert serving.Classifier(bare).max_length == config.get_profile("standard").max_length
    assert serving.Classifier(bare, max_length=12).max_length == 12


@pytest.mark.parametrize("record", ['[]', '"text"', '{"recipe": [1, 2]}', '{"recipe": {"max_length": true}}',
                                    '{"recipe": {"profile": "quick"}}', '{"recipe": {"max_length": 100000}}'])
def test_a_strange_run_record_does_not_stop_the_service(tokenizer, tmp_path, record):
    folder = tmp_path / "model"
    training.save_atomically(small_classifier(0), tokenizer, folder, extra_files={serving.RUN_INFO: record})
    classifier = serving.Classifier(folder)
    assert 1 <= classifier.max_length <= classifier.model.config.max_position_embeddings
    long_text = " ".join(["delayed again"] * 400)
    assert classifier.predict([long_text])[0]["label"] in LABELS
    assert isinstance(classifier.describe(), dict)


def test_model_card_of_a_file_of_your_own_names_its_labels_and_data(tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"id2label": {"0": "ham", "1": "spam"}}))
    info = {"base_model": "minilm", "recipe": {"data": "/home/me/sms.csv", "text_column": "message",
                                               "label_column": "kind", "n_train": 400, "epochs": 2, "seed": 7},
            "validation": {"accuracy": 0.9, "macro_f1": 0.8}}
    (folder / serving.RUN_INFO).write_text(json.dumps(info))
    text = serving.write_model_card(folder, test_scores={"accuracy": 0.91, "macro_f1": 0.82}, test_size=300).read_text()
    assert "Classifies a text as one of `ham`, `spam`" in text and "the 2 labels" in text
    assert "`sms.csv`, texts from the column `message` and labels from `kind`" in text and "(seed 7)" in text
    assert "| test (300 texts) | 0.910 | 0.820 |" in text and "| training texts | 400 |" in text
    assert "tweets" not in text.lower() and "tags:\n- text-classification" in text
    tweets = serving.model_card({"recipe": {"profile": {"name": "quick"}, "seed": 7}, "validation": {"accuracy": 0.7}})
    assert "stratified by label and topic (seed 7)" in tweets and "the 3 labels" in tweets
