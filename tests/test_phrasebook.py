import pytest

from ftlab.labs import phrasebook
from ftlab.labs.phrasebook import NOUNS, PATTERNS, held_out_pairings


def noun(en):
    return next(n for n in NOUNS if n.en == en)


def pairs(pattern, en):
    return dict(phrasebook._pattern_pairs(pattern, noun(en)))


def test_articles_follow_gender_and_elision():
    assert pairs("where_is", "station") == {"Where is the station?": "Où est la gare ?"}
    assert pairs("where_is", "museum") == {"Where is the museum?": "Où est le musée ?"}
    assert pairs("where_is", "hotel") == {"Where is the hotel?": "Où est l'hôtel ?"}
    assert pairs("would_like", "apple") == {"I would like an apple.": "Je voudrais une pomme."}
    assert pairs("would_like", "cake") == {"I would like a cake.": "Je voudrais un gâteau."}


def test_contractions_with_a_and_de():
    assert pairs("going_to", "market")["We are going to the market."] == "Nous allons au marché."
    assert pairs("going_to", "beach")["We are going to the beach."] == "Nous allons à la plage."
    assert pairs("going_to", "airport")["We are going to the airport."] == "Nous allons à l'aéroport."
    near = pairs("near", "bank")
    assert near["The bank is near the park."] == "La banque est près du parc."
    assert near["The bank is near the school."] == "La banque est près de l'école."
    assert near["The bank is near the station."] == "La banque est près de la gare."


def test_adjectives_agree_in_gender_and_number():
    assert pairs("is_adjective", "car")["The car is small."] == "La voiture est petite."
    assert pairs("is_adjective", "hotel")["The hotel is old."] == "L'hôtel est vieux."
    assert pairs("are_adjective", "church")["The churches are beautiful."] == "Les églises sont belles."
    assert pairs("are_adjective", "castle")["The castles are new."] == "Les châteaux sont nouveaux."
    assert pairs("colour", "car")["Do you have a white car?"] == "Avez-vous une voiture blanche ?"
    assert pairs("have_number", "newspaper")["I have three newspapers."] == "J'ai trois journaux."


def test_held_out_pairings_are_fair():
    held = held_out_pairings()
    everything = {(p, n.en) for p, nouns in PATTERNS.items() for n in nouns}
    assert held < everything
    assert abs(len(held) - 0.2 * len(everything)) <= 1
    trained = everything - held
    assert {n for _, n in held} <= {n for _, n in trained}, "every held-out noun is trained in another pattern"
    for pattern, nouns in PATTERNS.items():
        assert sum((pattern, n.en) in trained for n in nouns) >= len(nouns) / 2
    assert held_out_pairings() == held, "same seed, same pairings"
    assert held_out_pairings(seed=1) != held


def test_phrasebook_splits_by_pairing():
    book = phrasebook.phrasebook()
    assert set(book) == {"train", "test"}
    assert book["train"].column_names == ["english", "french", "pattern", "noun"]
    train = set(zip(book["train"]["pattern"], book["train"]["noun"]))
    test = set(zip(book["test"]["pattern"], book["test"]["noun"]))
    assert not train & test
    assert test == held_out_pairings()
    assert not set(book["train"]["english"]) & set(book["test"]["english"])
    total = len(book["train"]) + len(book["test"])
    assert total == len(set(book["train"]["english"]) | set(book["test"]["english"])), "no duplicate sentences"
    assert 0.1 < len(book["test"]) / total < 0.3


def test_bad_share_is_refused():
    with pytest.raises(ValueError, match="between 0 and 0.5"):
        held_out_pairings(share=0.7)
    with pytest.raises(ValueError, match="unknown pattern"):
        phrasebook._pattern_pairs("sing", NOUNS[0])


@pytest.mark.parametrize("seed", [0, 7, 42, 2024])
def test_validation_pairings_are_apart_from_test_and_keep_training_fair(seed):
    test = held_out_pairings(seed=seed)
    validation = phrasebook.validation_pairings(seed=seed)
    everything = {(p, n.en) for p, nouns in PATTERNS.items() for n in nouns}
    assert validation < everything and not validation & test
    assert abs(len(validation) - phrasebook.VALIDATION_SHARE * len(everything)) <= 1
    trained = everything - test - validation
    assert {n for _, n in validation | test} <= {n for _, n in trained}, "every held-out noun is trained elsewhere"
    for pattern, nouns in PATTERNS.items():
        assert sum((pattern, n.en) in trained for n in nouns) >= len(nouns) / 2
    assert phrasebook.validation_pairings(seed=seed) == validation, "same seed, same pairings"


def test_a_validation_split_leaves_the_test_as_it_was():
    plain = phrasebook.phrasebook()
    book = phrasebook.phrasebook(validation_share=phrasebook.VALIDATION_SHARE)
    assert set(book) == {"train", "validation", "test"}
    assert sorted(book["test"]["english"]) == sorted(plain["test"]["english"])
    assert set(zip(book["validation"]["pattern"], book["validation"]["noun"])) == phrasebook.validation_pairings()
    held_for_validation = list(book["train"]["english"]) + list(book["validation"]["english"])
    assert sorted(held_for_validation) == sorted(plain["train"]["english"])
    with pytest.raises(ValueError, match="validation share"):
        phrasebook.phrasebook(validation_share=0.4)
