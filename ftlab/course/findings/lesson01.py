"""Lesson 01's readings and sentences: what the model card says the encoder was trained on, how the zero-shot
baseline compares with guessing.

The functions take text or numbers the notebook computed and return a table or Markdown, so the notebook shows
the step and one call, and the wording can be tested here.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

from ftlab.evaluate import describe_difference

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_COUNT = re.compile(r"^\*{0,2}(\d{1,3}(?:,\d{3})+|\d+)\*{0,2}$")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _count(cell: str) -> int | None:
    match = _COUNT.match(cell.strip())
    return int(match.group(1).replace(",", "")) if match else None


def training_sources(card: str):
    """The rows of a model card's table of training data: source, pairs (its last column), share of all pairs.

    A row is a Markdown table line whose last cell is a whole number (thousands commas allowed); links are reduced
    to their text and a bold **Total** row is left out. Sorted by pairs, largest first; empty when the card has no
    such table.
    """
    import pandas as pd

    rows = []
    for line in card.splitlines():
        if not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        count = _count(cells[-1])
        name = _LINK.sub(r"\1", cells[0]).strip()
        if count is None or len(cells) < 2 or name.strip("*").lower() == "total":
            continue
        rows.append((name, count))
    frame = pd.DataFrame(rows, columns=["source", "pairs"])
    frame["share"] = frame["pairs"] / frame["pairs"].sum() if rows else []
    return frame.sort_values("pairs", ascending=False, kind="stable").reset_index(drop=True)


def stated_total(card: str) -> int | None:
    """The number in the table row whose first cell is Total (bold or not), or None when there is no such row."""
    for line in card.splitlines():
        if line.lstrip().startswith("|"):
            cells = _cells(line)
            if cells[0].strip("*").strip().lower() == "total":
                return _count(cells[-1])
    return None


def describe_training_sources(sources, header_datasets: Iterable[str], top: int = 3,
                              watch: Sequence[str] = ("twitter", "tweet")) -> str:
    """What the card's table says about the training data, next to what its header lists."""
    header = [str(name) for name in header_datasets]
    if len(sources) == 0:
        return (f"The card lists {len(header)} data sets in its header but has no table of sources with their "
                f"sizes, so it does not say which kind of text dominated training.")
    largest = sources.iloc[0]
    first_word = re.split(r"[\s(]", str(largest["source"]))[0].lower()
    in_header = any(first_word and first_word in name.lower() for name in header)
    top_rows = sources.head(top)
    listed = "; ".join(f"{row.source} {row.share:.0%}" for row in top_rows.itertuples())
    watched = [str(s) for s in sources["source"] if any(word in str(s).lower() for word in watch)]
    text = (f"The card's table lists {len(sources)} sources with {int(sources['pairs'].sum()):,} training pairs in "
            f"all. The {len(top_rows)} largest: {listed}. ")
    if in_header:
        text += f"The largest, *{largest['source']}*, is also named in the header. "
    else:
        text += (f"The largest, *{largest['source']}*, is not among the {len(header)} data sets of the header, so "
                 f"reading the header alone misses {largest['share']:.0%} of the training pairs. ")
    if watched:
        text += f"Sources that name {' or '.join(watch)}: {', '.join(watched)}."
    else:
        text += f"No source names {' or '.join(watch)}: going by its card, the model never saw tweets like ours."
    return text


def describe_baselines(zero_shot: Mapping[str, float], majority: Mapping[str, float], chance: Mapping[str, float],
                       majority_label: str, vs_majority: Mapping[str, float], n_items: int) -> str:
    """The zero-shot baseline against the majority answer and against random guessing, on the validation split.

    `zero_shot`, `majority`: {"accuracy", "macro-F1"}; `chance`: `evaluate.seed_spread` of the random draws'
    macro-F1; `vs_majority`: `evaluate.paired_bootstrap` of zero-shot minus majority on macro-F1.
    """
    lead = zero_shot["accuracy"] - majority["accuracy"]
    on_accuracy = (f"{100 * lead:.1f} percentage points ahead of" if lead >= 0.005 else
                   "no better than" if lead > -0.005 else f"{-100 * lead:.1f} percentage points behind")
    text = (f"Without seeing a single labelled tweet, the zero-shot baseline labels **{zero_shot['accuracy']:.1%}** "
            f"of the {n_items:,} validation tweets correctly, with a macro-F1 of **{zero_shot['macro-F1']:.3f}**. "
            f"Always answering *{majority_label}* gets {majority['accuracy']:.1%} right but a macro-F1 of only "
            f"{majority['macro-F1']:.3f}: on accuracy the zero-shot model is {on_accuracy} the majority answer. "
            + describe_difference(dict(vs_majority), "Zero-shot", "the majority answer",
                                items="validation tweets") + " ")
    spread = f"{chance['n_seeds']} random draws score from {chance['min']:.3f} to {chance['max']:.3f}"
    if zero_shot["macro-F1"] > chance["max"]:
        text += f"Random guessing does worse every time ({spread}): the model does tell the labels apart, if not well."
    elif zero_shot["macro-F1"] > chance["mean"]:
        text += (f"Against random guessing ({spread}, mean {chance['mean']:.3f}) the lead is small: some lucky "
                 f"draws match it on this many tweets.")
    else:
        text += (f"It is no better than random guessing ({spread}, mean {chance['mean']:.3f}) on these tweets.")
    return text
