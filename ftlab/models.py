"""Load the pretrained encoder, run it over many texts in batches, count and compare weights, the zero-shot baseline.

`predict_logits` is the course's one batched inference path: lessons, the training loops, the exercise checks and
the HTTP service all call it (or `embed`, which shares its batching), so every prediction is made the same way.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from ftlab.assets import resolve_model
from ftlab.config import LABELS, ZERO_SHOT_PROMPTS
from ftlab.evaluate import softmax

if TYPE_CHECKING:
    import torch


def pick_device() -> str:
    """The best device here: 'cuda', then Apple's 'mps', then 'cpu'."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def set_cpu_threads(n: int | None = None) -> int:
    """Use one torch thread per core this process may run on (more threads than cores slows a small model down).

    Where OMP_NUM_THREADS holds a whole number, that many instead: the usual way to share a machine's cores between
    processes (the test suite's parallel workers set it, so their notebooks do not fight over the same cores)."""
    import torch

    if n is None:
        n = _threads_from_environment() or (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


def _threads_from_environment() -> int | None:
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def load_tokenizer(name: str = "minilm"):
    """The tokenizer of the model `name` (course name or hub name), loaded offline when possible."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(name))


def load_encoder(name: str = "minilm", device: str | None = None):
    """The pretrained encoder `name` without any task head, in evaluation mode."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(resolve_model(name))
    return model.to(device or pick_device()).eval()


def load_classifier(name: str = "minilm", labels: Sequence[str] = LABELS, device: str | None = None,
                    **config_overrides):
    """The pretrained encoder `name` with a new, randomly initialised classification head for `labels`.

    `config_overrides` change the model's configuration, e.g. ``hidden_dropout_prob=0.3``.
    transformers reports the head's weights as MISSING from the checkpoint, which is the point here: that report
    is kept out of the notebook (where it would show as a red warning in every lesson that trains).
    """
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    labels = list(labels)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            resolve_model(name),
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            **config_overrides,
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    return model.to(device or pick_device())


def from_scratch(model, seed: int):
    """The same network as `model` (same configuration, same head) with freshly initialised random weights."""
    from transformers import AutoModelForSequenceClassification, set_seed

    set_seed(seed)
    return AutoModelForSequenceClassification.from_config(model.config).to(model.device)


def count_parameters(model) -> dict[str, int]:
    """Total and trainable parameter counts of a torch model (transformers' `num_parameters` where it has one)."""
    if hasattr(model, "num_parameters"):
        return {"total": model.num_parameters(), "trainable": model.num_parameters(only_trainable=True)}
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


def weight_change(before: dict[str, Any], model) -> pd.DataFrame:
    """Relative change ‖W_after − W_before‖ / ‖W_before‖ of every weight matrix, grouped by block.

    `before` is a copy of the state dict taken before training: {k: v.clone() for k, v in model.state_dict().items()}.
    """
    rows = []
    for name, after in model.state_dict().items():
        if name not in before or after.ndim < 2 or not after.is_floating_point():
            continue
        start = before[name].float()
        change = (after.float().cpu() - start.cpu()).norm() / start.norm().clamp(min=1e-12)
        rows.append({"parameter": name, "block": _block_of(name), "relative_change": float(change)})
    return pd.DataFrame(rows)


def _block_of(name: str) -> str:
    parts = name.split(".")
    if "layer" in parts:
        return f"layer {parts[parts.index('layer') + 1]}"
    for key in ("embeddings", "pooler", "classifier"):
        if key in parts:
            return key
    return parts[0]


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each text, ignoring padding (how all-MiniLM-L6-v2 was trained)."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def run_batches(model, inputs: Sequence, encode: Callable[[list], Any], read: Callable[[Any, Any], Any], *,
                lengths: Sequence[int], width: int, batch_size: int = 64, progress: bool = False,
                desc: str = "predicting") -> np.ndarray:
    """Run `model` over `inputs` in batches of similar length; one output row of `width` numbers per input, in order.

    encode: turns a list of inputs into the model's keyword arguments (tokenizing texts, or padding token ids).
    read: turns the model's output and the batch into a (batch, width) tensor (logits, pooled vectors, ...).
    Sorting by `lengths` puts similar lengths in one batch, so little padding is computed; the rows come back in
    the order of `inputs`. No gradients are kept, and dropout is off (`model.eval()`). It runs in float32 on every
    machine (a `torch.autocast` around the call still applies): see `take_off_training_autocast`.
    """
    import torch
    from tqdm.auto import tqdm

    take_off_training_autocast(model)
    device = next(model.parameters()).device
    order = np.argsort(np.asarray(lengths), kind="stable")
    out = np.zeros((len(inputs), width), dtype=np.float32)
    starts = range(0, len(inputs), batch_size)
    model.eval()
    with torch.inference_mode():
        for start in tqdm(starts, desc=desc, disable=not progress or len(starts) < 2):
            idx = order[start:start + batch_size]
            batch = {k: v.to(device) for k, v in encode([inputs[int(i)] for i in idx]).items()}
            out[idx] = read(model(**batch), batch).float().cpu().numpy()
    return out


def take_off_training_autocast(model) -> None:
    """Give back `model` its own forward if the `Trainer` left it running in bfloat16 autocast.

    On a machine where the course trains in bfloat16 (`ftlab.training.precision`), the `Trainer` (through accelerate)
    wraps the model's forward in autocast, and the wrapper stays after training: the trained model would predict in
    bfloat16 while a copy loaded from its saved weights predicts in float32. accelerate's own
    `extract_model_from_parallel(model, keep_fp32_wrapper=False)` takes it off, in place; training the model again
    wraps it again (so predict after `trainer.train()`, not from a callback during it, or the rest of that run
    trains in float32).
    """
    if "_original_forward" in vars(model):
        from accelerate.utils import extract_model_from_parallel

        extract_model_from_parallel(model, keep_fp32_wrapper=False)


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string: wrap it as [text]")
    return list(texts)


def _tokenize_texts(tokenizer, max_length: int) -> Callable[[list], Any]:
    return lambda texts: tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def embed(texts: Sequence[str], model, tokenizer, batch_size: int = 64, max_length: int = 64,
          normalize: bool = True, progress: bool = True) -> np.ndarray:
    """One vector per text: the encoder's mean-pooled output, unit length if `normalize`."""
    import torch

    texts = _texts(texts)

    def read(output, batch):
        vectors = mean_pool(output.last_hidden_state, batch["attention_mask"])
        return torch.nn.functional.normalize(vectors, dim=-1) if normalize else vectors

    return run_batches(model, texts, _tokenize_texts(tokenizer, max_length), read, lengths=[len(t) for t in texts],
                       width=model.config.hidden_size, batch_size=batch_size, progress=progress, desc="embedding")


def predict_logits(model, inputs, tokenizer, batch_size: int = 64, max_length: int = 64,
                   progress: bool = True) -> np.ndarray:
    """A classifier's logits, one row per input, in input order.

    inputs: raw texts (tokenized here, truncated at `max_length` tokens), or a tokenized dataset with an
    `input_ids` column (from `ftlab.data.tokenize`), whose rows are padded per batch.
    """
    from transformers import DataCollatorWithPadding

    if not hasattr(inputs, "column_names"):
        texts = _texts(inputs)
        encode, lengths = _tokenize_texts(tokenizer, max_length), [len(t) for t in texts]
    else:
        keep = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in inputs.column_names]
        rows = inputs.select_columns(keep)
        texts, encode = rows, DataCollatorWithPadding(tokenizer)
        lengths = [len(ids) for ids in rows["input_ids"]]
    return run_batches(model, texts, encode, lambda output, batch: output.logits, lengths=lengths,
                       width=model.config.num_labels, batch_size=batch_size, progress=progress)


def zero_shot_scores(text_vectors: np.ndarray, prompt_vectors: dict[str, np.ndarray]) -> np.ndarray:
    """Cosine similarity of each text to each label's mean prompt vector: shape (texts, labels)."""
    centroids = np.stack([v.mean(axis=0) for v in prompt_vectors.values()])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return text_vectors @ centroids.T


def zero_shot_cosines(texts: Sequence[str], model, tokenizer, prompts: dict[str, Sequence[str]] | None = None,
                      max_length: int = 64, progress: bool = True,
                      labels: Sequence[str] | None = None) -> np.ndarray:
    """Cosine similarity of each text to each label's prompt sentences (their mean vector): shape (texts, labels).

    `prompts` holds a few sentences (or label descriptions) per label; column i is the i-th label of `labels`
    (a data set's label names in id order: `dataset.features["label"].names`). Without `prompts`, the course's
    sentences for its three sentiment labels.
    """
    if prompts is None:
        prompts = ZERO_SHOT_PROMPTS
        labels = labels or LABELS
    labels = list(labels or (LABELS if set(prompts) == set(LABELS) else prompts))
    if list(prompts) != labels:
        raise ValueError(f"prompts must have one entry per label in this order: {labels}; got {list(prompts)}")
    empty = [label for label, sentences in prompts.items() if isinstance(sentences, str) or not sentences]
    if empty:
        raise ValueError(f"give each label a list of one or more sentences; not so for {empty}")
    prompt_vectors = {label: embed(list(p), model, tokenizer, progress=False) for label, p in prompts.items()}
    vectors = embed(texts, model, tokenizer, max_length=max_length, progress=progress)
    return zero_shot_scores(vectors, prompt_vectors)


def zero_shot_predict(texts: Sequence[str], model, tokenizer, prompts: dict[str, Sequence[str]] | None = None,
                      max_length: int = 64, progress: bool = True,
                      labels: Sequence[str] | None = None) -> np.ndarray:
    """Label ids predicted without any training: the label whose prompt sentences are most similar."""
    return zero_shot_cosines(texts, model, tokenizer, prompts, max_length, progress, labels).argmax(axis=1)


def zero_shot_proba(texts: Sequence[str], model, tokenizer, temperature: float,
                    prompts: dict[str, Sequence[str]] | None = None, max_length: int = 64,
                    progress: bool = False, labels: Sequence[str] | None = None) -> np.ndarray:
    """Zero-shot probabilities: a softmax of the cosines divided by `temperature` (`evaluate.fit_temperature`).

    Cosines of sentence vectors differ by a few hundredths between labels; a small temperature spreads them into
    probabilities. Fitted on labelled held-out texts, the temperature makes them as honest as cosines can be.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    return softmax(zero_shot_cosines(texts, model, tokenizer, prompts, max_length, progress, labels) / temperature)


def classify_proba(texts: Sequence[str], model, tokenizer, max_length: int = 64, batch_size: int = 32) -> np.ndarray:
    """A sequence classifier's probabilities for raw texts: shape (texts, labels)."""
    return softmax(predict_logits(model, _texts(texts), tokenizer, batch_size=batch_size, max_length=max_length,
                                  progress=False))
