"""DATA_SOURCES.md must state what the code really does: checksums, row counts, split sizes."""

import re
from pathlib import Path

import pytest

from ftlab.assets import ASSETS
from ftlab.config import PROFILES
from ftlab.data import load_raw_tweets, tweets_frame

TEXT = (Path(__file__).resolve().parents[1] / "DATA_SOURCES.md").read_text(encoding="utf-8")


def rows(label: str) -> int:
    match = re.search(rf"^\| {re.escape(label)} \| ([\d,]+) \|$", TEXT, re.MULTILINE)
    assert match, f"DATA_SOURCES.md has no row '{label}'"
    return int(match.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def frame():
    return tweets_frame()


def test_every_asset_and_checksum_is_listed():
    for asset in ASSETS.values():
        assert f"`{asset.name}`" in TEXT and asset.sha256 in TEXT and asset.package in TEXT and asset.version in TEXT


def test_row_counts_match_the_code(frame):
    assert rows("raw file") == len(load_raw_tweets())
    assert rows("after cleaning and de-duplication") == len(frame)
    for split in ("train", "validation", "test"):
        assert rows(split) == int((frame["split"] == split).sum())


def test_profile_sample_sizes_match_the_config():
    for name in ("quick", "standard"):
        p = PROFILES[name]
        assert f"`{name}` {p.n_train:,} train / {p.n_eval:,}" in TEXT.replace("\n", " ")


def test_lesson_07_figures_match_the_model_folder_and_the_phrasebook():
    import json

    from ftlab.labs import phrasebook
    from ftlab.assets import resolve_model

    folder = resolve_model("tiny-gpt2")
    recipe = json.loads((folder / "recipe.json").read_text())
    log = json.loads((folder / "training_log.json").read_text())
    flat = TEXT.replace("\n", " ")
    for source in ("austen", "bible"):
        train, held = recipe["tokens_by_source"][source]
        assert f"| {train:,} | {held:,} |" in TEXT
    assert f"{recipe['steps']:,} steps" in flat and f"--max-steps {recipe['steps']} " in flat
    assert f"**{log['held_out_perplexity'][-1]:.1f}**" in flat
    assert recipe["corpus_sha256"] in flat
    book = phrasebook.phrasebook()
    assert f"{len(book['train']) + len(book['test']):,} sentence pairs" in flat
    assert f"{len(book['train']):,} training pairs, {len(book['test']):,} test pairs" in flat
    held = phrasebook.phrasebook(validation_share=phrasebook.VALIDATION_SHARE)
    assert (f"leaves {len(held['train']):,} training pairs, {len(held['validation']):,} validation pairs and the "
            f"same {len(held['test']):,} test pairs") in flat
    assert held["test"]["english"] == book["test"]["english"]
