"""Lesson 09's measures of a chat model and its training: answers scored with what the assistant does (ends its
turn, refuses the right requests), the share of GRPO groups that teach nothing, what padded and packed batches hold
and whether packed chats are kept apart, a TRL trainer's log, and what the stages would cost at a larger scale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ftlab.labs.assistant import sample_chats
from ftlab.labs.generative import paired_bootstrap_mean
from ftlab.labs.instructions import REFUSAL, TASKS, exact_match, score_answers

if TYPE_CHECKING:
    import pandas as pd


def answer_chats(model, tokenizer, dataset, **options) -> pd.DataFrame:
    """Greedy answers to the chats of `dataset` (columns `messages`, `task`, `reference`; the assistant's turn is
    left out), scored: one row per chat with `instructions.score_answers`' columns and

    - `ended`: the answer closed its turn with END (a base model rambles until `max_new_tokens`),
    - `tokens`: the tokens it wrote,
    - `refused`: it answered with the refusal sentence (right for the `refusal` task, wrong for every other).
    """
    prompts = [[m for m in chat if m["role"] != "assistant"] for chat in dataset["messages"]]
    rows = [answers[0] for answers in sample_chats(model, tokenizer, prompts, sample=False, details=True,
                                                   **options)]
    table = score_answers(dataset["task"], [text for text, _, _ in rows], dataset["reference"])
    table["ended"] = [ended for _, ended, _ in rows]
    table["tokens"] = [tokens for _, _, tokens in rows]
    table["refused"] = [exact_match(text, REFUSAL) for text, _, _ in rows]
    return table


def behaviour(answered: pd.DataFrame) -> pd.Series:
    """What an assistant does beyond the content of its answers, from `answer_chats`' table: the share of answers
    that end their turn, of out-of-scope requests refused, of answerable requests refused, and of exact answers."""
    import pandas as pd

    out_of_scope = answered["task"] == "refusal"
    return pd.Series({"ends its turn": answered["ended"].mean(),
                      "refuses out-of-scope requests": answered.loc[out_of_scope, "refused"].mean(),
                      "refuses answerable requests": answered.loc[~out_of_scope, "refused"].mean(),
                      "exact answers": answered["exact"].mean(),
                      "mean score": answered["score"].mean()})


def zero_spread_share(samples: Sequence[Sequence[str]], tasks: Sequence[str], references: Sequence[str],
                      reward_function) -> float:
    """The share of prompts whose sampled answers (`samples`, a list of answers per prompt, as `sample_chats`
    returns them) all earn the same reward from `reward_function` (TRL's signature). GRPO scores each answer
    against the others of its group, so such a prompt teaches nothing."""
    if not len(samples) == len(tasks) == len(references) or not samples:
        raise ValueError(f"{len(samples)} groups of samples, {len(tasks)} tasks and {len(references)} references: "
                         f"give one task and one reference per group, and at least one group")
    flat = [answer for group in samples for answer in group]
    sizes = [len(group) for group in samples]
    rewards = reward_function(completions=flat, task=[t for t, k in zip(tasks, sizes) for _ in range(k)],
                              reference=[r for r, k in zip(references, sizes) for _ in range(k)])
    flat_groups, start = [], 0
    for k in sizes:
        flat_groups.append(rewards[start:start + k])
        start += k
    return sum(max(group) == min(group) for group in flat_groups) / len(flat_groups)


def batch_shapes(trainer, n_batches: int = 20):
    """The first `n_batches` training batches of a TRL trainer, one row each: `rows` and `length` (the tensor's
    shape), `positions` (rows × length: what the model computes on) and `tokens` (real tokens, padding left out).

    A padded batch holds one chat per row, each padded to the longest; a packed one (padding-free) holds the chats
    one after the other in a single row, with `position_ids` restarting at each chat.
    """
    import pandas as pd

    rows = []
    for k, batch in enumerate(trainer.get_train_dataloader()):
        if k == n_batches:
            break
        ids = batch["input_ids"]
        real = int(batch["attention_mask"].sum()) if "attention_mask" in batch else ids.numel()
        rows.append({"rows": ids.shape[0], "length": ids.shape[1], "positions": ids.numel(), "tokens": real})
    return pd.DataFrame(rows)


def packed_difference(model, tokenizer, chats: Sequence[Sequence[dict]]) -> dict[str, float]:
    """Whether a chat packed behind others is computed as if it were alone: the largest difference between each
    chat's logits computed alone and inside one packed row of all of them, with position ids that restart at each
    chat (`restarted`, how TRL's padding-free packing calls the model: no attention mask, no cache, so that
    transformers builds a mask that keeps the chats apart) and with positions counted through the row (`running`,
    as if the chats were one text: each then attends to the ones before it)."""
    import torch

    ids = [list(tokenizer.apply_chat_template(list(c), tokenize=True, return_dict=True)["input_ids"]) for c in chats]
    device = next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        alone = [model(torch.tensor([i], device=device), use_cache=False).logits[0] for i in ids]
        row = torch.tensor([sum(ids, [])], device=device)
        restart = torch.tensor([[p for i in ids for p in range(len(i))]], device=device)
        packed = {"restarted": model(row, position_ids=restart, use_cache=False).logits[0],
                  "running": model(row, use_cache=False).logits[0]}
    out = {}
    for name, logits in packed.items():
        start, largest = 0, 0.0
        for i, single in zip(ids, alone):
            largest = max(largest, float((logits[start:start + len(i)] - single).abs().max()))
            start += len(i)
        out[name] = largest
    return out


# Bytes each parameter needs while it is trained with AdamW in float32: the weight, its gradient and the optimiser's
# two moments, four bytes each; DPO also holds a frozen reference copy of the weights.
TRAINING_BYTES = {"SFT": 16, "DPO": 20, "GRPO": 16}


def at_scale(costs: pd.DataFrame, n_parameters: int, factor: float = 1000) -> pd.DataFrame:
    """What each stage of `costs` (index: 'SFT', 'DPO', 'GRPO'; columns `seconds`, `tokens`) would need with a model
    `factor` times as large, trained on the same tokens on the same machine.

    Training costs about 6 floating-point operations per parameter and token (2 forward, 4 backward), so at the
    measured rate the time grows with the parameters: `seconds` × `factor`. Memory for the weights, gradients and
    AdamW's moments in float32 is TRAINING_BYTES per parameter (activations come on top and grow with the batch).
    """
    import pandas as pd

    unknown = sorted(set(costs.index) - set(TRAINING_BYTES))
    if unknown:
        raise ValueError(f"unknown stages {unknown}: at_scale knows {sorted(TRAINING_BYTES)}")
    big = n_parameters * factor
    rate = 6 * n_parameters * costs["tokens"] / costs["seconds"]
    return pd.DataFrame({
        "measured GFLOP/s (6 × parameters × tokens / s)": rate / 1e9,
        "parameters": big,
        "hours on this machine": costs["seconds"] * factor / 3600,
        "weights, gradients and AdamW (GB)": [TRAINING_BYTES[stage] * big / 1e9 for stage in costs.index],
    }, index=costs.index)


def training_log(trainer) -> pd.DataFrame:
    """The rows a TRL trainer logged while training (every `logging_steps`), one per step logged: `step`, `loss`
    and what the trainer adds (SFT: token accuracy; DPO: rewards/margins...; GRPO: reward, completion lengths...)."""
    import pandas as pd

    rows = [row for row in trainer.state.log_history if "loss" in row and "train_runtime" not in row]
    return pd.DataFrame(rows).set_index("step")


def paired_by_task(answered: dict[str, pd.DataFrame], against: dict[str, str], *, confidence: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """Per task (and over all requests, 'all'), the difference in mean score between each stage and the one it is
    compared with (`against`: {'SFT': 'base', ...}) with its paired bootstrap interval, as '+0.120 (+0.080 to
    +0.160)'. `answered` maps each stage to its `answer_chats` table; all of them must score the same requests."""
    import pandas as pd

    columns = {}
    for name, other in against.items():
        a, b = answered[name], answered[other]
        if list(a["task"]) != list(b["task"]) or list(a["reference"]) != list(b["reference"]):
            raise ValueError(f"{name} and {other} did not answer the same requests in the same order: score both "
                             f"with answer_chats on the same data set")
        cells = {}
        for task in [t for t in TASKS if t in set(a["task"])] + ["all"]:
            rows = a["task"] == task if task != "all" else a["task"] == a["task"]
            r = paired_bootstrap_mean(a.loc[rows, "score"], b.loc[rows, "score"], confidence=confidence, seed=seed)
            cells[task] = f"{r['difference']:+.3f} ({r['low']:+.3f} to {r['high']:+.3f})"
        columns[f"{name} − {other}"] = cells
    return pd.DataFrame(columns)
