"""Unit tests of ftlab.data: topic rules, cleaning steps, de-duplication, splits and loading your own file."""

import json

import numpy as np
import pandas as pd
import pytest

from ftlab import data
from ftlab.config import LABELS, PROFILES, SPLIT_FRACTIONS

# ---------------------------------------------------------------------------------------------------
# Topics


@pytest.mark.parametrize("text, topic", [
    ("@united lost my bag again", "airline"),
    ("@AmericanAir two hours on the tarmac", "airline"),
    ("@DeltaAssist please rebook me", "airline"),
    ("@VirginAmerica the seats are great", "airline"),
    ("Tom Brady and the deflated footballs", "deflategate"),
    ("#Deflategate is the dumbest story of the year", "deflategate"),
    ("#Coachella lineup is out!", "coachella"),
    ("Claritin saved my morning", "claritin"),
    ("I would never ride in a driverless car", "self_driving"),
    ("Self-driving cars are coming to California", "self_driving"),
    ("my new iPhone battery dies by noon", "apple"),
    ("$AAPL is up again", "apple"),
    ("what a beautiful morning", "other"),
])
def test_each_topic_rule_recognises_its_tweets(text, topic):
    assert data.assign_topic(text) == topic


@pytest.mark.parametrize("text, topic", [
    ("@united my iPhone died on the plane", "airline"),
    ("@JetBlue flying to Coachella tomorrow", "airline"),
    ("Brady should have used an iPhone", "deflategate"),
])
def test_the_first_matching_rule_wins(text, topic):
    assert data.assign_topic(text) == topic


def test_topic_rules_do_not_match_inside_other_words():
    assert data.assign_topic("pineapple juice and a macaroon") == "other"
    assert data.TOPICS[-1] == data.OTHER_TOPIC


# ---------------------------------------------------------------------------------------------------
# Cleaning steps


def test_mojibake_between_letters_becomes_an_apostrophe():
    assert data.remove_mojibake("donÕ¢_Î_¢t") == "don't"
    assert data.has_mojibake("donÕ¢_Î_¢t")


def test_mojibake_elsewhere_is_removed():
    assert data.normalize_spaces(data.remove_mojibake("great flight!Õ\x8d\x81ô_\x86¢")) == "great flight!"
    assert data.normalize_spaces(data.remove_mojibake("cars_Ñ_.no thanks")) == "cars .no thanks"


def test_a_lone_accented_letter_is_kept():
    assert data.remove_mojibake("a café in Zürich") == "a café in Zürich"
    assert not data.has_mojibake("a café in Zürich")
    assert not data.has_mojibake("plain ascii text")


def test_unescape_html():
    assert data.unescape_html("fish &amp; chips &lt;3 &gt;:(") == "fish & chips <3 >:("


@pytest.mark.parametrize("text", [
    "delayed again http://t.co/AbC123 thanks",
    "delayed again https://t.co/AbC123 thanks",
    "delayed again www.example.com/page thanks",
])
def test_remove_urls(text):
    assert data.normalize_spaces(data.remove_urls(text)) == "delayed again thanks"


def test_mask_mentions():
    assert data.mask_mentions("@united and @Bob_99: hi") == "@user and @user: hi"
    assert data.mask_mentions("mail me at home") == "mail me at home"


@pytest.mark.parametrize("text, expected", [
    ("RT @bob: the news", "the news"),
    ("  rt @bob the news", "the news"),
    ("MT @news: the news", "the news"),
    ("RT: the news", "the news"),
    ("RTX cards are out", "RTX cards are out"),
    ("so true RT @bob: hi", "so true RT @bob: hi"),
])
def test_strip_retweet_prefix(text, expected):
    assert data.strip_retweet_prefix(text) == expected


def test_normalize_spaces():
    assert data.normalize_spaces("  a \r\n b\t c  ") == "a b c"


def test_clean_text_runs_every_step_in_order():
    raw = "RT @JetBlue: Our fleet's on fleek. http://t.co/NfjAuW16vZ&lt;--...._\x99\x85«"
    assert data.clean_text(raw) == "Our fleet's on fleek."
    assert data.clean_text("MTäóì@HuffingtonPost: big news") == "big news"


def test_dedup_key_ignores_case_punctuation_and_spaces():
    assert data.dedup_key("Thanks @user!!") == data.dedup_key("thanks   @user") == "thanks @user"
    assert data.dedup_key("don't") != data.dedup_key("dont")


# ---------------------------------------------------------------------------------------------------
# Cleaning a table


def tiny_raw() -> pd.DataFrame:
    return pd.DataFrame({
        "sentiment": ["negative", "negative", "positive", "negative", "neutral", "neutral", "neutral"],
        "confidence": [0.9, 1.0, 0.7, 0.6, np.nan, 0.5, np.nan],
        "text": [
            "@united lost my bag http://t.co/a",  # 0: same as row 1 once cleaned, lower confidence
            "@delta lost my bag http://t.co/b",  # 1: kept
            "Love it",  # 2: conflicts with row 3
            "love it!",  # 3: conflicts with row 2
            "http://t.co/only",  # 4: empty once cleaned
            "RT @x: The news",  # 5: kept (its copy has no confidence)
            "The news",  # 6: copy of row 5
        ],
    })


def test_clean_tweets_removes_empty_texts_conflicts_and_copies():
    clean, report = data.clean_tweets(tiny_raw())
    assert clean["row"].tolist() == [1, 5]
    assert clean["text"].tolist() == ["@user lost my bag", "The news"]
    assert clean["label"].tolist() == [LABELS.index("negative"), LABELS.index("neutral")]
    assert clean["topic"].tolist() == ["airline", "other"]
    assert clean["is_retweet"].tolist() == [False, True]
    assert report.rows_in == 7 and report.rows_out == 2
    assert report.removed == {"empty after cleaning": 1, "duplicates with conflicting labels": 2,
                              "duplicate copies": 2}
    assert report.changed["remove_urls"] == 3 and report.changed["strip_retweet_prefix"] == 1
    table = report.to_frame()
    assert list(table.columns) == ["step", "rows changed", "rows removed"]
    assert table["rows removed"].sum() == report.rows_in - report.rows_out


def test_clean_tweets_refuses_unknown_labels():
    raw = tiny_raw()
    raw.loc[0, "sentiment"] = "angry"
    with pytest.raises(ValueError, match="unexpected sentiment values \\['angry'\\]"):
        data.clean_tweets(raw)


# ---------------------------------------------------------------------------------------------------
# Splits and samples


@pytest.fixture
def labelled() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "text": [f"tweet {i}" for i in range(2000)],
        "label": rng.choice(3, size=2000, p=[0.5, 0.3, 0.2]),
        "topic": rng.choice(["a", "b", "c"], size=2000),
    })


def test_split_frame_follows_the_fractions(labelled):
    split = data.split_frame(labelled)
    assert set(split) == set(SPLIT_FRACTIONS)
    n_strata = labelled.groupby(["label", "topic"]).ngroups
    for name, fraction in SPLIT_FRACTIONS.items():
        assert abs((split == name).sum() - fraction * len(labelled)) <= n_strata


def test_split_frame_is_stratified(labelled):
    split = data.split_frame(labelled)
    for column in ("label", "topic"):
        overall = labelled[column].value_counts(normalize=True)
        for name in SPLIT_FRACTIONS:
            share = labelled.loc[split == name, column].value_counts(normalize=True)
            assert (share - overall).abs().max() < 0.02, (column, name)


def test_split_frame_is_reproducible_and_depends_on_the_seed(labelled):
    first = data.split_frame(labelled, seed=1)
    assert first.equals(data.split_frame(labelled, seed=1))
    assert not first.equals(data.split_frame(labelled, seed=2))


def test_split_frame_rejects_bad_arguments(labelled):
    with pytest.raises(ValueError, match="add up to 1"):
        data.split_frame(labelled, fractions={"train": 0.8, "test": 0.1})
    with pytest.raises(ValueError, match="strata columns \\['source'\\] not found"):
        data.split_frame(labelled, strata=("label", "source"))


def test_sample_stratified_keeps_the_label_shares(labelled):
    sample = data.sample_stratified(labelled, 100, seed=3)
    assert len(sample) == 100
    expected = labelled["label"].value_counts(normalize=True) * 100
    assert (sample["label"].value_counts() - expected).abs().max() <= 1
    assert sample.equals(data.sample_stratified(labelled, 100, seed=3))
    assert not sample.index.equals(data.sample_stratified(labelled, 100, seed=4).index)


def test_sample_stratified_edge_cases(labelled):
    assert data.sample_stratified(labelled, None) is labelled
    assert len(data.sample_stratified(labelled, 10_000)) == len(labelled)
    with pytest.raises(ValueError, match="n must be positive"):
        data.sample_stratified(labelled, 0)


# ---------------------------------------------------------------------------------------------------
# Your own file


def write_csv(path, n_per_label=10, text_column="text", label_column="label"):
    rows = [{text_column: f"{label} example number {i}", label_column: label}
            for label in ("bad", "good") for i in range(n_per_label)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_load_text_file_reads_a_csv(tmp_path):
    dataset = data.load_text_file(write_csv(tmp_path / "own.csv"), labels=["good", "bad"])
    assert set(dataset) == set(SPLIT_FRACTIONS)
    assert sum(len(split) for split in dataset.values()) == 20
    assert dataset["train"].features["label"].names == ["good", "bad"]
    for split in dataset.values():
        for text, label in zip(split["text"], split["label"]):
            assert text.startswith(["good", "bad"][label])


def test_load_text_file_reads_a_jsonl_file(tmp_path):
    path = tmp_path / "own.jsonl"
    lines = [json.dumps({"message": f"{mood} {i}", "mood": mood}) for mood in ("sad", "happy") for i in range(10)]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    dataset = data.load_text_file(path, text_column="message", label_column="mood")
    assert dataset["test"].features["label"].names == ["happy", "sad"]
    assert sum(len(split) for split in dataset.values()) == 20


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at"):
        data.load_text_file(tmp_path / "nothing.csv")


def test_wrong_extension(tmp_path):
    path = tmp_path / "own.txt"
    path.write_text("text,label\nhi,good\n")
    with pytest.raises(ValueError, match="extension '.txt'; use a .csv or a .jsonl file"):
        data.load_text_file(path)


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        data.load_text_file(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("text,label\n")
    with pytest.raises(ValueError, match="has no rows"):
        data.load_text_file(header_only)


def test_missing_column_names_the_argument_to_pass(tmp_path):
    path = write_csv(tmp_path / "own.csv", text_column="review", label_column="rating")
    with pytest.raises(ValueError, match="column 'text' not found .* pass text_column='review'"):
        data.load_text_file(path, label_column="rating")
    with pytest.raises(ValueError, match="column 'label' not found .* pass label_column='rating'"):
        data.load_text_file(path, text_column="review")


def test_unknown_labels(tmp_path):
    with pytest.raises(ValueError, match="labels \\['good'\\] that are not in labels=\\['bad', 'neutral'\\]"):
        data.load_text_file(write_csv(tmp_path / "own.csv"), labels=["bad", "neutral"])


def test_a_single_label_is_not_a_classification_task(tmp_path):
    path = tmp_path / "own.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(10)], "label": ["good"] * 10}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="at least two"):
        data.load_text_file(path)


def test_empty_texts_are_reported_not_dropped(tmp_path):
    path = write_csv(tmp_path / "own.csv")
    lines = path.read_text().splitlines()
    lines[3] = ",good"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="1 row of own.csv has an empty 'text' \\(data rows \\[3\\]\\)"):
        data.load_text_file(path)


def test_missing_labels_are_reported(tmp_path):
    path = write_csv(tmp_path / "own.csv")
    lines = path.read_text().splitlines()
    lines[2] = "an unlabelled example,"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="1 row of own.csv has no 'label' \\(data rows \\[2\\]\\)"):
        data.load_text_file(path)


def test_too_few_rows_per_label(tmp_path):
    with pytest.raises(ValueError, match="fewer than 3 rows"):
        data.load_text_file(write_csv(tmp_path / "own.csv", n_per_label=2))


def test_too_few_rows_to_fill_every_split(tmp_path):
    with pytest.raises(ValueError, match="too few to fill the \\['validation'\\] split"):
        data.load_text_file(write_csv(tmp_path / "own.csv", n_per_label=5))


def test_invalid_jsonl_lines(tmp_path):
    path = tmp_path / "own.jsonl"
    path.write_text('{"text": "fine", "label": "good"}\n{"text": "broken", "label": }\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        data.load_text_file(path)
    path.write_text('{"text": "fine", "label": "good"}\n["a list", "good"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is a JSON list, not an object"):
        data.load_text_file(path)


# ---------------------------------------------------------------------------------------------------
# The real tweets (one load for the whole module)


@pytest.fixture(scope="module")
def real_tweets():
    return {
        "quick": data.load_tweets("quick"),
        "quick again": data.load_tweets("quick"),
        "full": data.load_tweets("quick", full=True),
    }


def test_quick_splits_have_the_profile_sizes(real_tweets):
    quick, profile = real_tweets["quick"], PROFILES["quick"]
    assert {name: len(split) for name, split in quick.items()} == {
        "train": profile.n_train, "validation": profile.n_eval, "test": profile.n_eval}


def test_tweets_have_class_labels_and_topics(real_tweets):
    for split in real_tweets["quick"].values():
        assert split.features["label"].names == list(LABELS)
        assert set(split.unique("topic")) <= set(data.TOPICS)


def test_full_splits_share_no_text(real_tweets):
    full = real_tweets["full"]
    sizes = {name: len(split) for name, split in full.items()}
    total = sum(sizes.values())
    for name, fraction in SPLIT_FRACTIONS.items():
        assert abs(sizes[name] / total - fraction) < 0.01
    for column, key in (("text", str), ("text", data.dedup_key)):
        seen = [set(map(key, split[column])) for split in full.values()]
        assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])


def test_splits_are_identical_when_loaded_twice(real_tweets):
    for name in SPLIT_FRACTIONS:
        assert real_tweets["quick"][name]["row"] == real_tweets["quick again"][name]["row"]
        assert real_tweets["quick"][name]["text"] == real_tweets["quick again"][name]["text"]


def test_splits_come_shuffled_so_that_a_head_is_a_fair_sample():
    tweets = data.load_tweets("standard")
    for name, split in tweets.items():
        head = split.select(range(100))
        assert len(set(head["label"])) == 3, f"the first 100 {name} tweets should hold all three labels"
        assert len(set(head["topic"])) >= 4, f"the first 100 {name} tweets should mix the topics"
    again = data.load_tweets("standard")
    assert tweets["train"]["text"][:20] == again["train"]["text"][:20], "the order must be the same every time"
