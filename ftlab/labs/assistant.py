"""Lesson 09's tools for turning the tiny GPT-2 into a chat assistant with TRL: the chat template, its loss mask,
chat generation, TRL configurations per profile, preference pairs for DPO and rewards for GRPO.

The chat template marks each turn with a role token (`<|system|>`, `<|user|>`, `<|assistant|>`) and ends it with
`<|end|>`, four tokens the tokenizer did not have: they are added and the embeddings resized. The assistant's words
and its `<|end|>` sit inside Jinja's `{% generation %}…{% endgeneration %}`, which is how `apply_chat_template(...,
return_assistant_tokens_mask=True)`, and so TRL's `assistant_only_loss=True`, know which tokens to train on.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ftlab.assets import resolve_model
from ftlab.config import (ASSISTANT_DPO, ASSISTANT_DPO_BETA, ASSISTANT_GRPO, ASSISTANT_MAX_ANSWER,
                          ASSISTANT_MAX_LENGTH, ASSISTANT_SFT, GENERATIVE_SCHEDULE, GENERATIVE_WARMUP,
                          GENERATIVE_WEIGHT_DECAY, SEED, Profile, get_profile)
from ftlab.labs.generative import held_out_prose, load_causal_lm, window_losses
from ftlab.labs.instructions import exact_match, score_answer
from ftlab.models import pick_device
from ftlab.training import save_atomically

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from datasets import Dataset
    from trl import DPOConfig, GRPOConfig, SFTConfig

ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
END = "<|end|>"  # ends every turn; the assistant learns to write it, and generation stops there
SCRATCH = "ftlab-assistant-scratch"  # the Trainer's output folder (in the system's temporary folder) when none is given

# Each message: its role token, a newline, the content, <|end|>, a newline. The assistant's content and its <|end|>
# are the generation block: what the model is trained to write, and what a generation prompt leaves it to write.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
    "{{ raise_exception('unknown role ' + message['role'] + ': roles are system, user and assistant') }}"
    "{%- endif -%}"
    "{{ '<|' + message['role'] + '|>\n' }}"
    "{%- if message['role'] == 'assistant' -%}"
    "{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}"
    "{%- else -%}"
    "{{ message['content'] + '<|end|>' }}"
    "{%- endif -%}"
    "{{ '\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- endif -%}"
)


def add_chat_template(model, tokenizer, seed: int = SEED):
    """Give a causal LM and its tokenizer the course's chat format; returns (model, tokenizer), both changed in place.

    Adds the role tokens and END as special tokens, resizes the embeddings (new rows drawn around the mean of the
    old ones, seeded), stores CHAT_TEMPLATE, and makes END the end-of-sequence token of tokenizer and model, so that
    generation stops at the end of the assistant's turn. The padding token stays the old end-of-text token.
    Calling it again on a model that has the format changes nothing.
    """
    from transformers import set_seed

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    new = [token for token in (*ROLE_TOKENS.values(), END) if token not in tokenizer.get_vocab()]
    if new:
        tokenizer.add_special_tokens({"extra_special_tokens": new}, replace_extra_special_tokens=False)
    if model.get_input_embeddings().num_embeddings < len(tokenizer):
        set_seed(seed)
        model.resize_token_embeddings(len(tokenizer))
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.eos_token = END
    end_id = tokenizer.convert_tokens_to_ids(END)
    model.config.eos_token_id = end_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = [end_id, tokenizer.pad_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_chat_model(name: str = "tiny-gpt2", device: str | None = None):
    """A causal LM (course asset, hub name or folder) and its tokenizer, with the course's chat format added."""
    model, tokenizer = load_causal_lm(name, device=device)
    return add_chat_template(model, tokenizer)


def save_chat_model(model, tokenizer, folder: str | Path) -> Path:
    """Save the model (resized embeddings included) and tokenizer (chat template included) into `folder`, atomically.

    TRL's DPOTrainer without `ref_model` rebuilds the reference from the model's original name, whose embeddings
    are not resized (an IndexError on the new tokens): load the reference from this folder instead.
    """
    return save_atomically(model, tokenizer, folder)


def prose_losses(model, source: str = "austen", name: str = "tiny-gpt2", max_tokens: int | None = None) -> np.ndarray:
    """Loss of each window of the held-out prose of `name` (lesson 07's measure of forgetting), tokenized with the
    *pretrained* tokenizer: a chat tokenizer would join the paragraphs with END, which the base model never saw."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(name))
    return window_losses(model, tokenizer, held_out_prose(source, name), max_tokens=max_tokens)


def _check_messages(messages: Sequence[dict]) -> None:
    if not messages or not all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages):
        raise ValueError("a chat is a non-empty list of messages, each a dict with 'role' and 'content', e.g. "
                         "[{'role': 'user', 'content': 'Translate into French: I would like a coffee.'}]")


def assistant_mask_table(tokenizer, messages: Sequence[dict]) -> pd.DataFrame:
    """The chat's tokens, one row each (the index is the position): id, token (decoded; a newline shows as '\\n')
    and is_assistant (whether TRL's `assistant_only_loss` trains on it)."""
    import pandas as pd

    _check_messages(messages)
    out = tokenizer.apply_chat_template(list(messages), tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    ids = list(out["input_ids"])
    return pd.DataFrame({"id": ids,
                         "token": [tokenizer.decode([i]).replace("\n", "\\n") for i in ids],
                         "is_assistant": [bool(m) for m in out["assistant_masks"]]})


def check_assistant_mask(tokenizer, messages: Sequence[dict]) -> list[str]:
    """The texts the loss is on, one per run of masked tokens; raises ValueError unless they are exactly the
    assistant's messages, each followed by END (and nothing of the system's or user's)."""
    table = assistant_mask_table(tokenizer, messages)
    spans, current = [], []
    for token_id, masked in zip(table["id"], table["is_assistant"]):
        if masked:
            current.append(int(token_id))
        elif current:
            spans.append(tokenizer.decode(current))
            current = []
    if current:
        spans.append(tokenizer.decode(current))
    expected = [m["content"] + END for m in messages if m["role"] == "assistant"]
    if spans != expected:
        raise ValueError(f"the loss mask covers {spans}, but it should cover exactly the assistant's answers and "
                         f"their end-of-turn token, {expected}: check the chat template's {{% generation %}} block")
    return spans


def _stop_ids(tokenizer) -> set[int]:
    """Tokens that end the assistant's turn: END, and any role token or padding it writes instead."""
    return {tokenizer.convert_tokens_to_ids(t) for t in (END, *ROLE_TOKENS.values())} | {tokenizer.pad_token_id}


def _answer(tokenizer, ids, stop: set[int]) -> tuple[str, bool, int]:
    """The text of generated `ids` up to the first token that ends the turn, whether the model wrote END there, and
    how many tokens it wrote before it."""
    ids = [int(i) for i in ids]
    end = next((k for k, i in enumerate(ids) if i in stop), len(ids))
    ended = end < len(ids) and ids[end] == tokenizer.convert_tokens_to_ids(END)
    return tokenizer.decode(ids[:end], skip_special_tokens=True).strip(), ended, end


def sample_chats(model, tokenizer, chats: Sequence[Sequence[dict]], *, n: int = 1, sample: bool = True,
                 temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = ASSISTANT_MAX_ANSWER,
                 batch_size: int = 64, seed: int = SEED, details: bool = False) -> list[list]:
    """`n` answers of the model to each chat (its messages so far, ending with the user's), sampled or greedy.

    Each chat is rendered with the generation prompt (`<|assistant|>`), padded on the left, and an answer ends at
    END (or a role token, should the model write one). With `details`, each answer is a tuple (text, ended, tokens):
    whether the model closed its turn with END within `max_new_tokens`, and how many tokens it wrote.
    """
    import torch
    from transformers import set_seed

    if n < 1 or (sample and temperature <= 0):
        raise ValueError(f"n must be at least 1 and temperature above 0 when sampling; got n={n}, "
                         f"temperature={temperature} (use sample=False for greedy answers)")
    if not sample and n > 1:
        raise ValueError(f"greedy decoding gives one answer per chat, not n={n}: pass sample=True for several")
    for chat in chats:
        _check_messages(chat)
    set_seed(seed)
    texts = [tokenizer.apply_chat_template(list(chat), tokenize=False, add_generation_prompt=True) for chat in chats]
    stop, side = _stop_ids(tokenizer), tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    model.eval()
    answers: list[list[str]] = []
    try:
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(device)
            options = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0) if sample \
                else dict(do_sample=False)
            with torch.inference_mode():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, num_return_sequences=n,
                                     eos_token_id=sorted(stop), pad_token_id=tokenizer.pad_token_id, **options)
            rows = [_answer(tokenizer, row, stop) for row in out[:, batch["input_ids"].shape[1]:]]
            rows = rows if details else [row[0] for row in rows]
            answers += [rows[k:k + n] for k in range(0, len(rows), n)]
    finally:
        tokenizer.padding_side = side
    return answers


def chat(model, tokenizer, chats: Sequence[Sequence[dict]], **options) -> list[str]:
    """The model's greedy answer to each chat (options go to `sample_chats`: max_new_tokens, batch_size...)."""
    return [answers[0] for answers in sample_chats(model, tokenizer, chats, sample=False, **options)]


def _sizes(table: dict[str, dict], profile: Profile | str | None, overrides: dict) -> dict:
    """The profile's sizes from `table`, with any of them given in `overrides` taken out of it and used instead."""
    name = profile.name if isinstance(profile, Profile) else get_profile(profile).name
    sizes = dict(table[name])
    return sizes | {key: overrides.pop(key) for key in list(sizes) if key in overrides}


def _common(output_dir, save: bool, steps: int, batch_size: int, learning_rate: float, seed: int) -> dict:
    """The TrainingArguments every stage shares: CPU unless a GPU is there, float32, no reports, nothing saved.

    Without `output_dir` the Trainer is pointed at one shared scratch folder (it creates the folder, but writes
    nothing there when nothing is saved), rather than leaving a new empty folder behind at every call.
    """
    if steps < 1 or batch_size < 1 or learning_rate <= 0:
        raise ValueError(f"steps and batch_size must be at least 1 and learning_rate above 0; got steps={steps}, "
                         f"batch_size={batch_size}, learning_rate={learning_rate}")
    if save and output_dir is None:
        raise ValueError("save=True writes a checkpoint: pass output_dir, the folder it should go to")
    return dict(
        output_dir=str(output_dir or Path(tempfile.gettempdir()) / SCRATCH), max_steps=steps,
        per_device_train_batch_size=batch_size, learning_rate=learning_rate, lr_scheduler_type=GENERATIVE_SCHEDULE,
        warmup_steps=GENERATIVE_WARMUP, weight_decay=GENERATIVE_WEIGHT_DECAY, logging_steps=max(steps // 20, 1),
        save_strategy="steps" if save else "no", save_steps=steps, save_total_limit=1 if save else None,
        report_to="none", seed=seed, use_cpu=pick_device() == "cpu",
        # TRL turns bf16 on by default: on a CPU without bfloat16 instructions it is many times slower.
        bf16=False)


def _make(config_class, arguments: dict):
    """`config_class(**arguments)` without recomputing activations (TRL's default; a model this small needs no
    memory saved that way), under the name this transformers version uses for it."""
    from dataclasses import fields

    names = {field.name for field in fields(config_class)}
    unknown = sorted(set(arguments) - names)
    if unknown:
        raise TypeError(f"{config_class.__name__} has no field {unknown[0]!r}; check the spelling of the override")
    switch = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return config_class(**{switch: False} | arguments)


def sft_config(profile: Profile | str | None = None, output_dir: str | Path | None = None, *, save: bool = False,
               seed: int = SEED, **overrides) -> SFTConfig:
    """TRL's SFTConfig for the profile's sizes (ASSISTANT_SFT: steps, batch_size, learning_rate), with the loss on
    the assistant's tokens only; `overrides` replace any of those sizes or SFTConfig's fields."""
    from trl import SFTConfig

    sizes = _sizes(ASSISTANT_SFT, profile, overrides)
    args = _common(output_dir, save, sizes["steps"], sizes["batch_size"], sizes["learning_rate"], seed)
    return _make(SFTConfig, args | dict(assistant_only_loss=True, max_length=ASSISTANT_MAX_LENGTH) | overrides)


def dpo_config(profile: Profile | str | None = None, output_dir: str | Path | None = None, *, save: bool = False,
               seed: int = SEED, **overrides) -> DPOConfig:
    """TRL's DPOConfig for the profile's sizes (ASSISTANT_DPO) and ASSISTANT_DPO_BETA; `overrides` as in
    `sft_config`. Pass DPOTrainer a `ref_model` loaded from `save_chat_model`'s folder."""
    from trl import DPOConfig

    sizes = _sizes(ASSISTANT_DPO, profile, overrides)
    args = _common(output_dir, save, sizes["steps"], sizes["batch_size"], sizes["learning_rate"], seed)
    return _make(DPOConfig, args | dict(beta=ASSISTANT_DPO_BETA, max_length=ASSISTANT_MAX_LENGTH) | overrides)


def grpo_config(profile: Profile | str | None = None, output_dir: str | Path | None = None, *, save: bool = False,
                seed: int = SEED, **overrides) -> GRPOConfig:
    """TRL's GRPOConfig for the profile's sizes (ASSISTANT_GRPO: steps, prompts per step, num_generations answers
    sampled per prompt, learning_rate); `overrides` as in `sft_config`. A step's batch is prompts × num_generations."""
    from trl import GRPOConfig

    sizes = _sizes(ASSISTANT_GRPO, profile, overrides)
    if sizes["num_generations"] < 2:
        raise ValueError(f"num_generations must be at least 2 (got {sizes['num_generations']}): GRPO compares "
                         f"each answer with the others sampled for the same prompt")
    args = _common(output_dir, save, sizes["steps"], sizes["prompts"] * sizes["num_generations"],
                   sizes["learning_rate"], seed)
    sampling = dict(num_generations=sizes["num_generations"], max_completion_length=ASSISTANT_MAX_ANSWER,
                    temperature=1.0, top_k=0, log_completions=False)
    return _make(GRPOConfig, args | sampling | overrides)


def _text(completion) -> str:
    """A completion as TRL hands it to a reward: a string, or (conversational) a list of messages."""
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion if m.get("role") == "assistant")


def reward(completions: list, task: list[str], reference: list[str], **kwargs) -> list[float]:
    """GRPO reward (TRL's signature): `score_answer` of each completion, with partial credit, so that the answers
    sampled for one prompt earn different rewards (a 0/1 reward that all of them miss teaches nothing)."""
    return [score_answer(t, _text(c).strip(), r) for c, t, r in zip(completions, task, reference)]


def exact_reward(completions: list, reference: list[str], **kwargs) -> list[float]:
    """A 0/1 reward (exact match), to show GRPO's trap: when every answer to a prompt misses, all earn 0, the
    advantages are 0 and that prompt teaches nothing."""
    return [float(exact_match(_text(c), r)) for c, r in zip(completions, reference)]


def length_reward(completions: list, **kwargs) -> list[float]:
    """A reward that is easy to game, for the failure-mode demo: it pays for length (characters / 100, at most 1),
    whatever the answer says."""
    return [min(len(_text(c).strip()) / 100, 1.0) for c in completions]


def preference_pairs(model, tokenizer, dataset, *, n_samples: int = 4, temperature: float = 1.0, seed: int = SEED,
                     max_new_tokens: int = ASSISTANT_MAX_ANSWER, batch_size: int = 64) -> Dataset:
    """DPO pairs from the model's own answers: `n_samples` sampled per chat of `dataset` (columns `messages`,
    `task`, `reference`), scored with `score_answer`; chosen = the best, rejected = the worst, ties dropped.

    Returns a `datasets.Dataset` in TRL's conversational preference format (`prompt`, `chosen`, `rejected`) with
    `task`, `reference`, `chosen_score` and `rejected_score`.
    """
    from datasets import Dataset

    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2 to rank answers against each other, got {n_samples}")
    prompts = [[m for m in chat if m["role"] != "assistant"] for chat in dataset["messages"]]
    samples = sample_chats(model, tokenizer, prompts, n=n_samples, temperature=temperature, seed=seed,
                           max_new_tokens=max_new_tokens, batch_size=batch_size)
    rows: dict[str, list] = {k: [] for k in ("prompt", "chosen", "rejected", "task", "reference", "chosen_score",
                                             "rejected_score")}
    for prompt, answers, task, reference in zip(prompts, samples, dataset["task"], dataset["reference"]):
        scored = sorted(((score_answer(task, a, reference), a) for a in answers), key=lambda pair: -pair[0])
        (best, chosen), (worst, rejected) = scored[0], scored[-1]
        if best == worst:
            continue
        rows["prompt"].append(prompt)
        rows["chosen"].append([{"role": "assistant", "content": chosen}])
        rows["rejected"].append([{"role": "assistant", "content": rejected}])
        rows["task"].append(task)
        rows["reference"].append(reference)
        rows["chosen_score"].append(best)
        rows["rejected_score"].append(worst)
    return Dataset.from_dict(rows)

