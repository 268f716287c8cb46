"""An English→French phrasebook made for the course: hand-written words and sentence patterns, every pairing of them.

Lesson 07 fine-tunes a small GPT-2 to translate. Real sentence pairs with a licence that allows shipping them do not
install offline, and a tiny model could not learn open-domain translation anyway; a phrasebook can be learned and,
because it is generated, it can measure *generalisation*: some pairings of a pattern with a noun are held out of
training, so the test asks for sentences whose words and pattern the model has seen, but never together.

French grammar the generator gets right (and the model has to learn): the gender of nouns (un/une, le/la), the
article before a vowel (l'hôtel), à + le → au and de + le → du, adjective agreement (petit, petite, petits, petites),
colour adjectives after the noun (a red car → une voiture rouge), and French spacing before ? (Où est la gare ?).

Everything here is original to the course (MIT, like the rest of ftlab); DATA_SOURCES.md describes it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ftlab.config import SEED

# Share of the (pattern, noun) pairings held out of training for the test, and (lesson 07) for validation.
HELD_OUT_SHARE = 0.2
VALIDATION_SHARE = 0.1


@dataclass(frozen=True)
class Noun:
    """An English noun and its French translation with gender and the forms the patterns need."""

    en: str
    fr: str
    gender: str  # "m" or "f"
    en_plural: str
    fr_plural: str
    kind: str  # "thing" or "place"

    @property
    def elided(self) -> bool:
        """True when le/la shorten to l' before the noun (a vowel or a silent h)."""
        return self.fr[0] in "aeéèêiîoôuh"

    def en_a(self) -> str:
        """a/an + the English noun."""
        return ("an " if self.en[0] in "aeiou" else "a ") + self.en

    def the(self) -> str:
        """le/la/l' + noun."""
        if self.elided:
            return "l'" + self.fr
        return ("le " if self.gender == "m" else "la ") + self.fr

    def a(self) -> str:
        """un/une + noun."""
        return ("un " if self.gender == "m" else "une ") + self.fr

    def to_the(self) -> str:
        """à + the noun: au, à la, à l'."""
        if self.elided:
            return "à l'" + self.fr
        return ("au " if self.gender == "m" else "à la ") + self.fr

    def of_the(self) -> str:
        """de + the noun: du, de la, de l'."""
        if self.elided:
            return "de l'" + self.fr
        return ("du " if self.gender == "m" else "de la ") + self.fr


@dataclass(frozen=True)
class Adjective:
    """An English adjective and its four French forms: masculine, feminine, masculine plural, feminine plural."""

    en: str
    m: str
    f: str
    m_plural: str
    f_plural: str

    def agree(self, noun: Noun, plural: bool = False) -> str:
        """The French form that agrees with `noun`."""
        if plural:
            return self.m_plural if noun.gender == "m" else self.f_plural
        return self.m if noun.gender == "m" else self.f


def _noun(en, fr, gender, kind, en_plural=None, fr_plural=None) -> Noun:
    return Noun(en, fr, gender, en_plural or en + "s", fr_plural or fr + "s", kind)


def _adj(en, m, f=None, m_plural=None, f_plural=None) -> Adjective:
    f = f or m + "e"
    return Adjective(en, m, f, m_plural or m + "s", f_plural or f + "s")


NOUNS: tuple[Noun, ...] = (
    _noun("coffee", "café", "m", "thing"),
    _noun("tea", "thé", "m", "thing"),
    _noun("beer", "bière", "f", "thing"),
    _noun("sandwich", "sandwich", "m", "thing", "sandwiches"),
    _noun("apple", "pomme", "f", "thing"),
    _noun("cake", "gâteau", "m", "thing", fr_plural="gâteaux"),
    _noun("ticket", "billet", "m", "thing"),
    _noun("map", "carte", "f", "thing"),
    _noun("newspaper", "journal", "m", "thing", fr_plural="journaux"),
    _noun("room", "chambre", "f", "thing"),
    _noun("table", "table", "f", "thing"),
    _noun("key", "clé", "f", "thing"),
    _noun("bag", "sac", "m", "thing"),
    _noun("book", "livre", "m", "thing"),
    _noun("umbrella", "parapluie", "m", "thing"),
    _noun("towel", "serviette", "f", "thing"),
    _noun("bicycle", "vélo", "m", "thing"),
    _noun("car", "voiture", "f", "thing"),
    _noun("shirt", "chemise", "f", "thing"),
    _noun("hat", "chapeau", "m", "thing", fr_plural="chapeaux"),
    _noun("station", "gare", "f", "place"),
    _noun("museum", "musée", "m", "place"),
    _noun("hotel", "hôtel", "m", "place"),
    _noun("bank", "banque", "f", "place"),
    _noun("church", "église", "f", "place", "churches"),
    _noun("hospital", "hôpital", "m", "place", fr_plural="hôpitaux"),
    _noun("airport", "aéroport", "m", "place"),
    _noun("pharmacy", "pharmacie", "f", "place", "pharmacies"),
    _noun("beach", "plage", "f", "place", "beaches"),
    _noun("market", "marché", "m", "place"),
    _noun("bakery", "boulangerie", "f", "place", "bakeries"),
    _noun("school", "école", "f", "place"),
    _noun("park", "parc", "m", "place"),
    _noun("restaurant", "restaurant", "m", "place"),
    _noun("bridge", "pont", "m", "place"),
    _noun("castle", "château", "m", "place", fr_plural="châteaux"),
)

# Adjectives that describe a state (after "is"/"are"), and colours (after the noun in French).
ADJECTIVES: tuple[Adjective, ...] = (
    _adj("small", "petit"),
    _adj("big", "grand"),
    _adj("new", "nouveau", "nouvelle", "nouveaux", "nouvelles"),
    _adj("old", "vieux", "vieille", "vieux", "vieilles"),
    _adj("clean", "propre", "propre"),
    _adj("dirty", "sale", "sale"),
    _adj("beautiful", "beau", "belle", "beaux", "belles"),
    _adj("expensive", "cher", "chère"),
    _adj("closed", "fermé"),
    _adj("open", "ouvert"),
    _adj("empty", "vide", "vide"),
    _adj("full", "plein"),
)
COLOURS: tuple[Adjective, ...] = (
    _adj("red", "rouge", "rouge"),
    _adj("blue", "bleu"),
    _adj("green", "vert"),
    _adj("black", "noir"),
    _adj("white", "blanc", "blanche"),
    _adj("yellow", "jaune", "jaune"),
    _adj("grey", "gris", "grise", "gris", "grises"),
)
NUMBERS: tuple[tuple[str, str], ...] = (
    ("two", "deux"), ("three", "trois"), ("four", "quatre"), ("five", "cinq"), ("six", "six"),
    ("seven", "sept"), ("eight", "huit"), ("nine", "neuf"), ("ten", "dix"),
)

THINGS = tuple(n for n in NOUNS if n.kind == "thing")
PLACES = tuple(n for n in NOUNS if n.kind == "place")


def _capitalise(text: str) -> str:
    return text[0].upper() + text[1:]


def _pattern_pairs(pattern: str, noun: Noun) -> list[tuple[str, str]]:
    """All (English, French) sentences of one pattern around one noun."""
    if pattern == "would_like":
        return [(f"I would like {noun.en_a()}.", f"Je voudrais {noun.a()}.")]
    if pattern == "where_is":
        return [(f"Where is the {noun.en}?", f"Où est {noun.the()} ?")]
    if pattern == "looking_for":
        return [(f"I am looking for the {noun.en}.", f"Je cherche {noun.the()}.")]
    if pattern == "how_much":
        return [(f"How much is the {noun.en}?", f"Combien coûte {noun.the()} ?")]
    if pattern == "going_to":
        return [(f"We are going to the {noun.en}.", f"Nous allons {noun.to_the()}.")]
    if pattern == "is_adjective":
        return [(f"The {noun.en} is {adj.en}.", f"{_capitalise(noun.the())} est {adj.agree(noun)}.")
                for adj in ADJECTIVES]
    if pattern == "are_adjective":
        return [(f"The {noun.en_plural} are {adj.en}.", f"Les {noun.fr_plural} sont {adj.agree(noun, plural=True)}.")
                for adj in ADJECTIVES]
    if pattern == "have_number":
        return [(f"I have {en} {noun.en_plural}.", f"J'ai {fr} {noun.fr_plural}.") for en, fr in NUMBERS]
    if pattern == "colour":
        return [(f"Do you have a {colour.en} {noun.en}?", f"Avez-vous {noun.a()} {colour.agree(noun)} ?")
                for colour in COLOURS]
    if pattern == "near":
        return [(f"The {noun.en} is near the {other.en}.",
                 f"{_capitalise(noun.the())} est près {other.of_the()}.") for other in PLACES if other != noun]
    raise ValueError(f"unknown pattern {pattern!r}; patterns are {sorted(PATTERNS)}")


# Which nouns each pattern takes.
PATTERNS: dict[str, tuple[Noun, ...]] = {
    "would_like": THINGS,
    "where_is": PLACES,
    "looking_for": NOUNS,
    "how_much": THINGS,
    "going_to": PLACES,
    "is_adjective": NOUNS,
    "are_adjective": NOUNS,
    "have_number": THINGS,
    "colour": THINGS,
    "near": PLACES,
}


def _draw_pairings(share: float, rng: random.Random, kept_out: frozenset = frozenset()) -> set[tuple[str, str]]:
    """`share` of all (pattern, noun) pairings drawn from those not in `kept_out`, training kept fair.

    Every noun keeps at least one pattern in training and every pattern keeps at least half of its nouns, counting
    both `kept_out` and the new draw as out of training.
    """
    pairings = [(pattern, noun.en) for pattern, nouns in PATTERNS.items() for noun in nouns]
    target = round(share * len(pairings))
    rng.shuffle(pairings)
    out = set(kept_out)
    held: set[tuple[str, str]] = set()
    for pattern, noun in pairings:
        if len(held) == target:
            break
        if (pattern, noun) in out:
            continue
        noun_left = sum(1 for p, n in pairings if n == noun and (p, n) not in out) - 1
        pattern_left = sum(1 for p, n in pairings if p == pattern and (p, n) not in out) - 1
        if noun_left >= 1 and pattern_left >= len(PATTERNS[pattern]) / 2:
            held.add((pattern, noun))
            out.add((pattern, noun))
    return held


def held_out_pairings(share: float = HELD_OUT_SHARE, seed: int = SEED) -> set[tuple[str, str]]:
    """The (pattern, English noun) pairings kept out of training for the test.

    Drawn at random, but every noun keeps at least one pattern in training and every pattern keeps at least
    half of its nouns, so each held-out sentence combines a known pattern with a known word.
    """
    if not 0 < share < 0.5:
        raise ValueError(f"share must be between 0 and 0.5 (got {share}): the rest is what the model learns from")
    return _draw_pairings(share, random.Random(seed))


def validation_pairings(share: float = VALIDATION_SHARE, seed: int = SEED,
                        test_share: float = HELD_OUT_SHARE) -> set[tuple[str, str]]:
    """Pairings kept out of training for validation: none of them a test pairing, training kept fair as above."""
    test = held_out_pairings(test_share, seed)
    if not 0 < share < 0.5 - test_share:
        raise ValueError(f"validation share must be between 0 and {0.5 - test_share:g} (got {share}): with the test "
                         f"share {test_share:g}, at least half of the pairings must stay in training")
    return _draw_pairings(share, random.Random(f"validation {seed}"), frozenset(test))


def phrasebook(share: float = HELD_OUT_SHARE, seed: int = SEED, validation_share: float = 0.0):
    """The phrasebook as a `datasets.DatasetDict`: `train` and `test` (the held-out pairings).

    With `validation_share` above 0 there is a `validation` split too: other held-out pairings, drawn from the
    training ones (the test stays the same), for choices made before the test is scored.
    Columns: `english`, `french`, `pattern`, `noun` (the English noun the pairing is about).
    """
    from datasets import Dataset, DatasetDict

    held = held_out_pairings(share, seed)
    validation = validation_pairings(validation_share, seed, share) if validation_share > 0 else set()
    splits = ("train", "validation", "test") if validation_share > 0 else ("train", "test")
    rows: dict[str, dict[str, list[str]]] = {split: {"english": [], "french": [], "pattern": [], "noun": []}
                                             for split in splits}
    for pattern, nouns in PATTERNS.items():
        for noun in nouns:
            pairing = (pattern, noun.en)
            split = "test" if pairing in held else "validation" if pairing in validation else "train"
            for english, french in _pattern_pairs(pattern, noun):
                rows[split]["english"].append(english)
                rows[split]["french"].append(french)
                rows[split]["pattern"].append(pattern)
                rows[split]["noun"].append(noun.en)
    return DatasetDict({split: Dataset.from_dict(columns) for split, columns in rows.items()}).shuffle(seed=seed)
