"""Load the pretrained encoder, embed texts, count parameters, and the zero-shot baseline."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ftlab.assets import resolve_model
from ftlab.config import LABELS, ZERO_SHOT_PROMPTS

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
    """Use one torch thread per physical core (more threads than cores slows a small model down)."""
    import torch

    if n is None:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


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


def count_parameters(model) -> dict[str, int]:
    """Total and trainable parameter counts of a torch model."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each text, ignoring padding (how all-MiniLM-L6-v2 was trained)."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def embed(texts: Sequence[str], model, tokenizer, batch_size: int = 64, max_length: int = 64,
          normalize: bool = True, progress: bool = True) -> np.ndarray:
    """One vector per text: the encoder's mean-pooled output, unit length if `normalize`."""
    import torch
    from tqdm.auto import tqdm

    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string: wrap it as [text]")
    texts = list(texts)
    device = next(model.parameters()).device
    model.eval()  # no dropout: the same text always gives the same vector
    # Sorting by length puts similar lengths in one batch, so little padding is computed.
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    batches = range(0, len(texts), batch_size)
    with torch.inference_mode():
        for start in tqdm(batches, desc="embedding", disable=not progress or len(batches) < 2):
            idx = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt").to(device)
            hidden = model(**enc).last_hidden_state
            vectors = mean_pool(hidden, enc["attention_mask"])
            if normalize:
                vectors = torch.nn.functional.normalize(vectors, dim=-1)
            out[idx] = vectors.float().cpu().numpy()
    return out


def zero_shot_scores(text_vectors: np.ndarray, prompt_vectors: dict[str, np.ndarray]) -> np.ndarray:
    """Cosine similarity of each text to each label's mean prompt vector: shape (texts, labels)."""
    centroids = np.stack([v.mean(axis=0) for v in prompt_vectors.values()])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return text_vectors @ centroids.T


def zero_shot_cosines(texts: Sequence[str], model, tokenizer, prompts: dict[str, Sequence[str]] | None = None,
                      max_length: int = 64, progress: bool = True) -> np.ndarray:
    """Cosine similarity of each text to each label's prompt sentences (their mean vector): shape (texts, labels)."""
    prompts = prompts or ZERO_SHOT_PROMPTS
    if list(prompts) != list(LABELS):
        raise ValueError(f"prompts must have one entry per label in this order: {list(LABELS)}; got {list(prompts)}")
    prompt_vectors = {label: embed(list(p), model, tokenizer, progress=False) for label, p in prompts.items()}
    vectors = embed(texts, model, tokenizer, max_length=max_length, progress=progress)
    return zero_shot_scores(vectors, prompt_vectors)


def zero_shot_predict(texts: Sequence[str], model, tokenizer, prompts: dict[str, Sequence[str]] | None = None,
                      max_length: int = 64, progress: bool = True) -> np.ndarray:
    """Label ids predicted without any training: the label whose prompt sentences are most similar."""
    return zero_shot_cosines(texts, model, tokenizer, prompts, max_length, progress).argmax(axis=1)


def zero_shot_proba(texts: Sequence[str], model, tokenizer, temperature: float,
                    prompts: dict[str, Sequence[str]] | None = None, max_length: int = 64,
                    progress: bool = False) -> np.ndarray:
    """Zero-shot probabilities: a softmax of the cosines divided by `temperature` (`evaluate.fit_temperature`).

    Cosines of sentence vectors differ by a few hundredths between labels; a small temperature spreads them into
    probabilities. Fitted on labelled held-out texts, the temperature makes them as honest as cosines can be.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    from ftlab.evaluate import softmax

    return softmax(zero_shot_cosines(texts, model, tokenizer, prompts, max_length, progress) / temperature)


def classify_proba(texts: Sequence[str], model, tokenizer, max_length: int = 64, batch_size: int = 32) -> np.ndarray:
    """A sequence classifier's probabilities for raw texts: shape (texts, labels)."""
    import torch

    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string: wrap it as [text]")
    texts = list(texts)
    device = next(model.parameters()).device
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            out.append(torch.softmax(model(**enc).logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels), dtype=np.float32)
