from collections import Counter

import pytest

from ftlab.labs import instructions, phrasebook
from ftlab.labs.instructions import REFUSAL, SYSTEM, TASKS, exact_match, score_answer


@pytest.fixture(scope="module")
def chats():
    return instructions.instructions(seed=42)


def test_every_task_is_in_every_split(chats):
    assert set(chats) == {"train", "validation", "test"}
    for split in chats:
        assert set(chats[split]["task"]) == set(TASKS), split
    assert len(chats["train"]) > len(chats["test"]) > len(chats["validation"]) > 100


def test_no_pairing_is_in_two_splits(chats):
    pairings = {split: set(chats[split]["pairing"]) for split in chats}
    assert not pairings["train"] & pairings["test"]
    assert not pairings["train"] & pairings["validation"]
    assert not pairings["validation"] & pairings["test"]


def test_translations_keep_lesson_07s_held_out_pairings_in_both_directions(chats):
    test = {p for p, t in zip(chats["test"]["pairing"], chats["test"]["task"]) if t.startswith("translate")}
    assert test == {f"translate/{pattern}/{noun}" for pattern, noun in phrasebook.held_out_pairings(seed=42)}
    for split in chats:
        by_direction = Counter(t for t in chats[split]["task"] if t.startswith("translate"))
        assert by_direction["translate_en_fr"] == by_direction["translate_fr_en"], "each pair in both directions"


def test_a_chat_is_system_user_assistant_and_the_answer_is_the_reference(chats):
    for row in chats["train"].select(range(50)):
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert row["messages"][-1]["content"] == row["reference"]
    with_system = instructions.instructions(seed=42, max_per_task=5, system=True)
    assert [m["role"] for m in with_system["test"][0]["messages"]] == ["system", "user", "assistant"]
    assert with_system["test"][0]["messages"][0]["content"] == SYSTEM


def test_the_generated_answers_are_right(chats):
    rows = {(row["task"], row["messages"][0]["content"]): row["reference"] for split in chats for row in chats[split]}
    assert rows[("plural", 'Write "le gâteau" in the plural.')] == "les gâteaux"
    assert rows[("plural", 'Write "un hôpital" in the plural.')] == "des hôpitaux"
    assert rows[("article", 'Write "hôtel" with le, la or l\'.')] == "l'hôtel"
    assert rows[("article", 'Write "voiture" with un or une.')] == "une voiture"
    assert rows[("refusal", "Tell me a joke about an apple.")] == REFUSAL
    contexts = [(user, answer) for (task, user), answer in rows.items() if task == "context"]
    for user, answer in contexts:
        noun = user.rsplit("the ", 1)[1].rstrip("?")
        colour = answer.rsplit(" ", 1)[1].rstrip(".")
        assert f"The {noun} is {colour}." in user, "the answer is stated in the context"


def test_the_chats_are_seeded_and_capped():
    a, b = instructions.instructions(seed=1, max_per_task=30), instructions.instructions(seed=1, max_per_task=30)
    assert a["test"]["messages"] == b["test"]["messages"]
    other = instructions.instructions(seed=2, max_per_task=30)
    assert set(a["test"]["pairing"]) != set(other["test"]["pairing"])
    assert max(Counter(a["train"]["task"]).values()) == 30
    with pytest.raises(ValueError, match="max_per_task"):
        instructions.instructions(max_per_task=0)


def test_exact_match_ignores_only_spacing():
    assert exact_match("  Je voudrais  un café. ", "Je voudrais un café.")
    assert not exact_match("je voudrais un café.", "Je voudrais un café.")
    assert not exact_match("Je voudrais un cafe.", "Je voudrais un café.")


def test_score_answer_gives_partial_credit_in_the_right_order():
    reference = "une voiture"
    exact = score_answer("article", "une voiture", reference)
    near = score_answer("article", "un voiture", reference)
    far = score_answer("article", "le gâteau", reference)
    assert exact == 1.0
    assert 1.0 > instructions.PARTIAL_CREDIT >= near > far > 0
    assert score_answer("context", "The car is red.", "The car is red.") == 1.0
    assert score_answer("context", "The car is blue.", "The car is red.") < instructions.PARTIAL_CREDIT


def test_refusing_what_should_be_answered_earns_nothing():
    assert score_answer("translate_en_fr", REFUSAL, "Je voudrais un café.") == 0.0
    assert score_answer("refusal", REFUSAL, REFUSAL) == 1.0
    assert score_answer("refusal", "Je voudrais un café.", REFUSAL) < 0.2
    assert score_answer("plural", "   ", "les gâteaux") == 0.0
    with pytest.raises(ValueError, match="unknown task 'poetry'"):
        score_answer("poetry", "a", "b")


def test_scores_by_task():
    scored = instructions.score_answers(["plural", "plural", "refusal"], ["les gâteaux", "les gâteau", REFUSAL],
                                        ["les gâteaux", "les gâteaux", REFUSAL])
    assert list(scored["exact"]) == [1.0, 0.0, 1.0]
    table = instructions.scores_by_task(scored)
    assert list(table.index) == ["plural", "refusal", "all"]
    assert table.loc["plural", "exact"] == 0.5 and table.loc["plural", "n"] == 2
    assert table.loc["all", "n"] == 3 and table.loc["all", "exact"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="one task and one reference per answer"):
        instructions.score_answers(["plural"], ["a", "b"], ["c"])


def test_prompts_only_is_trls_prompt_format_with_the_reference_columns(chats):
    prompts = instructions.prompts_only(chats["test"].select(range(10)))
    assert set(prompts.column_names) == {"prompt", "task", "pairing", "reference"}
    for row, full in zip(prompts, chats["test"].select(range(10))):
        assert row["prompt"] == full["messages"][:-1]
        assert row["prompt"][-1]["role"] == "user"
    with pytest.raises(ValueError, match="no column 'messages'"):
        instructions.prompts_only(prompts)


def test_data_sources_states_the_chats_the_code_makes(chats):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "DATA_SOURCES.md").read_text(encoding="utf-8").replace("\n", " ")
    assert (f"{len(chats['train']):,} training chats, {len(chats['validation']):,} validation chats and "
            f"{len(chats['test']):,} test chats") in text
    assert f"refuse {len(instructions.OUT_OF_SCOPE)} kinds of request" in text
    assert f"({instructions.CONTEXTS_PER_NOUN} per noun" in text
