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
