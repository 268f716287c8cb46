"""Lesson 01's card reading and sentences (ftlab.course.findings.lesson01)."""

from ftlab.assets import resolve_model
from ftlab.course.findings import lesson01 as findings

CARD = """---
datasets:
- s2orc
- ms_marco
---
# a model

| Dataset | Paper | Number of training tuples |
|---------|:-----:|:-------------------------:|
| [Reddit comments (2015-2018)](https://example.org/reddit) | [paper](https://example.org) | 700,000 |
| [S2ORC](https://example.org/s2orc) Citation pairs | - | 200,000 |
| AllNLI ([SNLI](https://a.org) and [MultiNLI](https://b.org) | [p](https://c.org), [q](https://d.org) | 100,000 | 
| **Total** | | **1,000,000** |

| other table | with text only |
|---|---|
| a | b |
"""


def test_training_sources_reads_the_table_largest_first():
    sources = findings.training_sources(CARD)
    assert list(sources["source"]) == ["Reddit comments (2015-2018)", "S2ORC Citation pairs",
                                       "AllNLI (SNLI and MultiNLI"]
    assert list(sources["pairs"]) == [700_000, 200_000, 100_000]
    assert abs(sources["share"].sum() - 1) < 1e-12 and abs(sources["share"].iloc[0] - 0.7) < 1e-12
    assert findings.stated_total(CARD) == 1_000_000


def test_training_sources_of_a_card_without_a_table_is_empty():
    assert len(findings.training_sources("# no table here\n")) == 0
    assert findings.stated_total("# no table here\n") is None
    text = findings.describe_training_sources(findings.training_sources("nothing"), ["a", "b"])
    assert "2 data sets" in text and "no table" in text


def test_the_shipped_card_lists_reddit_as_the_largest_source():
    card = (resolve_model("minilm") / "README.md").read_text(encoding="utf-8")
    sources = findings.training_sources(card)
    assert sources["source"].iloc[0].startswith("Reddit comments") and sources["share"].iloc[0] > 0.5
    assert abs(sources["pairs"].sum() / findings.stated_total(card) - 1) < 0.01


def test_describe_training_sources_says_when_the_header_misses_the_largest():
    sources = findings.training_sources(CARD)
    missed = findings.describe_training_sources(sources, ["s2orc", "ms_marco"], top=2)
    assert "3 sources with 1,000,000 training pairs" in missed
    assert "Reddit comments (2015-2018) 70%; S2ORC Citation pairs 20%." in missed
    assert "not among the 2 data sets of the header" in missed and "misses 70%" in missed
    assert "never saw tweets" in missed
    named = findings.describe_training_sources(sources, ["reddit", "s2orc"])
    assert "also named in the header" in named and "misses" not in named


def test_describe_training_sources_names_watched_sources():
    card = CARD.replace("S2ORC](https://example.org/s2orc) Citation pairs", "Twitter](https://t.org) replies")
    text = findings.describe_training_sources(findings.training_sources(card), ["s2orc"])
    assert "Sources that name twitter or tweet: Twitter replies." in text and "never saw" not in text


def _baselines(zero_shot_f1: float, chance_min: float, chance_max: float, low: float) -> str:
    return findings.describe_baselines(
        {"accuracy": 0.5, "macro-F1": zero_shot_f1}, {"accuracy": 0.45, "macro-F1": 0.2},
        {"mean": (chance_min + chance_max) / 2, "min": chance_min, "max": chance_max, "n_seeds": 20},
        "negative", {"difference": zero_shot_f1 - 0.2, "low": low, "high": zero_shot_f1 - 0.1, "confidence": 0.95,
                     "n_items": 200}, 200)


def test_describe_baselines_compares_with_guessing_by_its_spread():
    clear = _baselines(0.48, 0.28, 0.38, 0.2)
    assert "5.0 percentage points ahead of" in clear and "Zero-shot beats the majority answer by 28.0 points" in clear
    assert "does worse every time (20 random draws score from 0.280 to 0.380)" in clear
    close = _baselines(0.36, 0.28, 0.38, 0.05)
    assert "the lead is small" in close and "every time" not in close
    worse = _baselines(0.30, 0.28, 0.38, -0.01)
    assert "no better than random guessing" in worse and "within noise" in worse
