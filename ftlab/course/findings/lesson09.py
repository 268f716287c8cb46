"""Lesson 09's computed sentences: score differences with their intervals, what SFT changed in the model's
behaviour, what packing cost, what DPO's β did, how the length reward was gamed, the choice made on validation with
the test's verdict, forgetting, and the cost at a larger scale."""

from __future__ import annotations

from typing import Mapping

import pandas as pd


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _interval(result: Mapping[str, float], items: str) -> str:
    return (f"{result['confidence']:.0%} interval {result['low']:+.3f} to {result['high']:+.3f}, "
            f"{result['n_items']:,} {items}")


def score_difference(result: Mapping[str, float], a: str, b: str, items: str = "requests") -> str:
    """One sentence for a `paired_bootstrap_mean` result of `a`'s scores minus `b`'s (scores in [0, 1])."""
    interval = _interval(result, items)
    if result["low"] > 0:
        return _sentence(f"{a} scores {result['difference']:+.3f} above {b} on average ({interval}).")
    if result["high"] < 0:
        return _sentence(f"{a} scores {-result['difference']:.3f} *below* {b} on average ({interval}).")
    return _sentence(f"{a} and {b} differ by {result['difference']:+.3f} on average, within noise: the interval "
                     f"contains zero ({interval}).")


def ends_turn(shares: pd.Series) -> str:
    """What SFT did to the share of answers that end their turn (`shares`: base, SFT)."""
    before, after = shares.iloc[0], shares.iloc[1]
    return (f"Before SFT **{before:.0%}** of the answers ended with `<|end|>`, after it **{after:.0%}**: the model "
            f"learnt where its turn stops.")


def packing(results: pd.DataFrame, shapes: pd.DataFrame) -> str:
    """Padded against packed SFT (`results`: rows padded/packed with tokens per second and the loss; `shapes`: their
    mean batch shapes with padding share and attention pairs)."""
    ratio = results.loc["packed", "tokens per second"] / results.loc["padded", "tokens per second"]
    pairs = shapes.loc["packed", "attention pairs"] / shapes.loc["padded", "attention pairs"]
    speed = (f"packing ran **{ratio:.2f}×** the padded layout's speed in real tokens per second"
             if abs(ratio - 1) >= 0.05 else "packing and padding ran at about the same speed")
    return (f"Padding took **{shapes.loc['padded', 'padding share']:.0%}** of the padded batches' positions; "
            f"{speed}, while its rows asked the attention for **{pairs:.1f}×** as many pairs of positions. Loss "
            f"after the same steps: padded {results.loc['padded', 'loss, last quarter of the steps']:.3f}, packed "
            f"{results.loc['packed', 'loss, last quarter of the steps']:.3f}.")


def dpo_beta(table: pd.DataFrame) -> str:
    """What the two DPO runs did on held-out pairs (`table`: a column per β with reward accuracy and how far the
    chosen and rejected answers moved, in nats)."""
    small, large = table.columns[0], table.columns[-1]
    moves = table.loc[["chosen moved (nats)", "rejected moved (nats)"]].abs().mean()
    if moves[large] < 0.9 * moves[small]:
        closer = "stayed closer to the reference"
    elif moves[large] > 1.1 * moves[small]:
        closer = "moved further from the reference"
    else:
        closer = "moved about as far from the reference"
    return (f"With {small}, DPO ranks **{table.loc['reward accuracy', small]:.0%}** of the held-out pairs the right "
            f"way round; their chosen answers moved {table.loc['chosen moved (nats)', small]:+.2f} nats, the "
            f"rejected {table.loc['rejected moved (nats)', small]:+.2f}. With {large} it ranks "
            f"{table.loc['reward accuracy', large]:.0%} and {closer} (mean move {moves[large]:.2f} nats against "
            f"{moves[small]:.2f}).")


def gamed(table: pd.DataFrame) -> str:
    """The length-rewarded model against SFT (`table`: columns SFT, gamed; rows from `assistant.behaviour` and the
    mean answer length)."""
    sft, hacked = table.columns[0], table.columns[1]
    return (f"Rewarded for length, the answers grew from **{table.loc['mean answer length (tokens)', sft]:.1f}** to "
            f"**{table.loc['mean answer length (tokens)', hacked]:.1f}** tokens, and the score the reward was meant "
            f"to stand for fell from {table.loc['mean score', sft]:.3f} to **{table.loc['mean score', hacked]:.3f}**; "
            f"out-of-scope requests refused: {table.loc['refuses out-of-scope requests', sft]:.0%} → "
            f"{table.loc['refuses out-of-scope requests', hacked]:.0%} (the refusal is short, so it earns little). "
            f"The policy did what it was paid for.")


def test_choice(chosen: str, validation_gains: Mapping[str, Mapping[str, float]],
                gains: Mapping[str, Mapping[str, float]]) -> str:
    """The assistant chosen on validation (`validation_gains`: each later stage against SFT there) and what the test
    says about it (`gains`: each stage against the one before it on the test)."""
    seen = "; ".join(f"{name} {g['difference']:+.3f} ({g['low']:+.3f} to {g['high']:+.3f})"
                     for name, g in validation_gains.items())
    text = f"On validation, against SFT alone: {seen}. Kept: **{chosen}**"
    text += (". " if chosen != "SFT" else ", since no later stage beat it beyond noise. ")
    text += (f"On the test, SFT beats the base model by {gains['SFT']['difference']:+.3f} "
             f"({gains['SFT']['low']:+.3f} to {gains['SFT']['high']:+.3f}).")
    if chosen != "SFT":
        g = gains[chosen]
        verdict = "a gain" if g["low"] > 0 else "a loss" if g["high"] < 0 else "no difference beyond noise"
        text += (f" {chosen} against SFT alone on the test: {g['difference']:+.3f} ({g['low']:+.3f} to "
                 f"{g['high']:+.3f}), {verdict}.")
    return text


def forgetting(perplexity: pd.Series) -> str:
    """Prose perplexity after each stage against the base model (`perplexity`: base, then SFT, then the stages
    that started from SFT)."""
    base, sft = perplexity.iloc[0], perplexity.iloc[1]
    rest = ", ".join(f"{name} {value:.1f} ({value / base:.2f}×)" for name, value in perplexity.iloc[1:].items())
    text = f"Held-out Austen: the base model's perplexity is **{base:.1f}**; after {rest}. "
    text += (f"SFT on chats alone cost general English: perplexity {sft / base:.2f}× the base model's. "
             if sft > base * 1.05 else "SFT left general English about where it was. ")
    later = perplexity.iloc[2:] / sft
    if len(later) and (later - 1).abs().max() < 0.05:
        text += "The stages that started from SFT changed it by less than a twentieth."
    elif len(later):
        text += ("After SFT: " + ", ".join(f"{name} {ratio:.2f}× SFT's" for name, ratio in later.items()) + ".")
    return text


def at_scale(scaled: pd.DataFrame, factor: float) -> str:
    """The cost of the stages with a model `factor` times as large (`assistant.at_scale`'s table)."""
    hours = scaled["hours on this machine"]
    memory = scaled["weights, gradients and AdamW (GB)"]
    return (f"At {factor:,.0f}× the parameters ({scaled['parameters'].iloc[0] / 1e9:.1f} billion), SFT on the same "
            f"tokens would take about **{hours['SFT']:,.0f} hours** on this machine and DPO {hours['DPO']:,.0f}; "
            f"training would need **{memory['SFT']:,.0f} GB** for weights, gradients and AdamW (DPO "
            f"{memory['DPO']:,.0f} GB) before any activation. Runs of that size go to GPUs, in lower precision, "
            f"often with adapters (lesson 08's LoRA) that train a small share of the weights.")
