"""Bad input on the command line: one line that says what is wrong and how to fix it, exit code 2, no traceback
(unless --debug asks for it); a good two-label file trains and is scored over its own two labels."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ftlab import cli

GOOD_ROWS = [("what a lovely day", "happy"), ("I hate waiting", "sad"), ("best concert ever", "happy"),
             ("my phone broke again", "sad")] * 10


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def csv(rows, header="text,label") -> str:
    return header + "\n" + "\n".join(f'"{t}",{label}' for t, label in rows) + "\n"


CASES = {
    "missing file": (lambda d: d / "nope.csv", "no file at"),
    "empty file": (lambda d: write(d / "empty.csv", ""), "is empty"),
    "header only": (lambda d: write(d / "header.csv", "text,label\n"), "has no rows"),
    "wrong text column": (lambda d: write(d / "cols.csv", csv(GOOD_ROWS, "review,label")),
                          "column 'text' not found"),
    "wrong label column": (lambda d: write(d / "cols2.csv", csv(GOOD_ROWS, "text,sentiment")),
                           "column 'label' not found"),
    "one label": (lambda d: write(d / "one.csv", csv([(t, "happy") for t, _ in GOOD_ROWS])), "only the label"),
    "a rare label": (lambda d: write(d / "rare.csv", csv(GOOD_ROWS + [("meh", "bored")])), "fewer than 3 rows"),
    "empty texts": (lambda d: write(d / "blank.csv", csv(GOOD_ROWS) + ",happy\n"), "has an empty 'text'"),
    "bad JSON line": (lambda d: write(d / "bad.jsonl", '{"text": "a", "label": "x"}\n{"text": \n'),
                      "line 2 is not valid JSON"),
    "wrong extension": (lambda d: write(d / "data.txt", "a\tb\n"), "use a .csv or a .jsonl file"),
    "Latin-1 CSV": (lambda d: write_bytes(d / "latin1.csv", (csv(GOOD_ROWS) + '"caf\xe9",happy\n').encode("latin-1")),
                    "is not UTF-8 text (byte 0xe9)"),
    "Latin-1 JSONL": (lambda d: write_bytes(d / "latin1.jsonl", '{"text": "caf\xe9", "label": "x"}\n'.encode("latin-1")),
                      "is not UTF-8 text"),
    "semicolons": (lambda d: write(d / "semi.csv", csv(GOOD_ROWS).replace('",', '";').replace("text,label", "text;label")),
                   "separate its columns with ';'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_data_gets_one_line_and_exit_code_2(case, tmp_path, capsys):
    make, expected = CASES[case]
    path = make(tmp_path)
    code = cli.main(["train", "--set", f"data={path}", "--set", f"output_dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and err.startswith("ftlab train: ") and expected in err, err
    assert "(--debug shows the traceback)" in err
    assert not (tmp_path / "run" / "model").exists()


@pytest.mark.parametrize("setting, expected", [
    ("epochs=0", "epochs must be a whole number ≥ 1"),
    ("colour=blue", "unknown setting(s) ['colour']"),
    ("method=half", "method must be one of"),
    ("model=/no/such/model", "/no/such/model"),
])
def test_bad_settings_get_one_line(setting, expected, tmp_path, capsys):
    code = cli.main(["train", "--set", setting, "--set", f"output_dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and expected in err, err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at"):
        cli.main(["train", "--debug", "--set", f"data={tmp_path / 'nope.csv'}"])


def test_the_console_script_prints_no_traceback(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ftlab.cli", "train", "--set", f"data={tmp_path / 'nope.csv'}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("ftlab train: no file at")


def test_a_two_label_file_is_scored_over_its_two_labels(tmp_path, capsys):
    path = write(tmp_path / "two.csv", csv(GOOD_ROWS))
    out = tmp_path / "run"
    code = cli.main(["train", "--set", f"data={path}", "--set", f"output_dir={out}", "--set", "epochs=1",
                     "--set", "batch_size=8", "--set", "checkpoint_every=100"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "data: 2 labels (happy, sad)" in printed and "max_length 64 cuts 0 of 40 texts" in printed
    record = json.loads((out / "metrics.json").read_text())
    assert record["labels"] == ["happy", "sad"]
    config = json.loads((out / "model" / "config.json").read_text())
    assert list(config["id2label"].values()) == ["happy", "sad"]
    # The recorded test macro-F1 is sklearn's over the file's two labels (a phantom third class would lower it).
    from sklearn.metrics import f1_score
    from transformers import AutoModelForSequenceClassification

    from ftlab import data, models

    test = data.load_text_file(path, seed=record["recipe"]["seed"])["test"]
    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    logits = models.predict_logits(model, list(test["text"]), models.load_tokenizer(str(out / "model")),
                                   max_length=64, progress=False)
    expected = f1_score(test["label"], logits.argmax(1), average="macro")
    assert record["test"]["macro_f1"] == pytest.approx(expected, abs=1e-6)
