import math

import numpy as np
import pytest
import torch

from ftlab.labs import generative
from ftlab.labs.generative import IGNORE


@pytest.fixture(scope="module")
def lm():
    return generative.load_causal_lm("tiny-gpt2", device="cpu")


def test_the_course_model_loads_from_the_package(lm):
    model, tokenizer = lm
    assert model.config.model_type == "gpt2"
    assert 4e6 < sum(p.numel() for p in model.parameters()) < 7e6
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.decode(tokenizer("Où est l'hôtel ?")["input_ids"]) == "Où est l'hôtel ?", "byte-level: any text"


def test_encode_pair_masks_exactly_the_prompt(lm):
    _, tokenizer = lm
    prompt_ids = tokenizer(generative.format_prompt("I would like a coffee."))["input_ids"]
    pair = generative.encode_pair(tokenizer, "I would like a coffee.", "Je voudrais un café.")
    n = len(prompt_ids)
    assert pair["input_ids"][:n] == prompt_ids
    assert pair["labels"][:n] == [IGNORE] * n
    assert pair["labels"][n:] == pair["input_ids"][n:]
    assert pair["input_ids"][-1] == tokenizer.eos_token_id, "the answer ends with end-of-text"
    assert tokenizer.decode(pair["input_ids"][n:-1]) == " Je voudrais un café."
    full = generative.encode_pair(tokenizer, "I would like a coffee.", "Je voudrais un café.", mask_prompt=False)
    assert full["labels"] == full["input_ids"] == pair["input_ids"]


def test_template_must_have_a_slot():
    with pytest.raises(ValueError, match=r"\{source\}"):
        generative.format_prompt("hello", template="English: ... French:")


def test_encode_pairs_names_a_missing_column(lm):
    from datasets import Dataset

    _, tokenizer = lm
    with pytest.raises(ValueError, match=r"no column 'english'.*\['en', 'fr'\]"):
        generative.encode_pairs(Dataset.from_dict({"en": ["a"], "fr": ["b"]}), tokenizer)


def test_collator_pads_labels_with_ignore(lm):
    _, tokenizer = lm
    short = generative.encode_pair(tokenizer, "Hi.", "Salut.")
    long = generative.encode_pair(tokenizer, "Where is the station?", "Où est la gare ?")
    batch = generative.collator(tokenizer)([short, long])
    assert batch["input_ids"].shape == batch["labels"].shape == (2, len(long["input_ids"]))
    pad = len(long["input_ids"]) - len(short["input_ids"])
    assert (batch["labels"][0, -pad:] == IGNORE).all() and (batch["attention_mask"][0, -pad:] == 0).all()


def test_batched_greedy_generation_matches_one_by_one(lm):
    model, tokenizer = lm
    prompts = ["It is a truth", "In the beginning God created the heavens and", "She said"]
    together = generative.generate(model, tokenizer, prompts, max_new_tokens=8, stop_at_newline=False)
    alone = [generative.generate(model, tokenizer, [p], max_new_tokens=8, stop_at_newline=False)[0] for p in prompts]
    assert together == alone, "left padding must not change what the model writes"
    assert tokenizer.padding_side == "right", "generate restores the tokenizer's padding side"


def test_sampling_is_seeded(lm):
    model, tokenizer = lm
    one = generative.generate(model, tokenizer, ["It is"], sample=True, seed=1, max_new_tokens=10)
    assert one == generative.generate(model, tokenizer, ["It is"], sample=True, seed=1, max_new_tokens=10)
    with pytest.raises(ValueError, match="temperature"):
        generative.generate(model, tokenizer, ["It is"], sample=True, temperature=0)


def test_scores():
    assert generative.chrf(["Où est la gare ?"], ["Où est la gare ?"]) == pytest.approx(100)
    assert generative.chrf(["Où est la plage ?"], ["Où est la gare ?"]) < 80
    assert generative.bleu(["la gare est ici"], ["la gare est ici"]) == pytest.approx(100)
    assert generative.sentence_chrf("abc", "xyz") == 0
    with pytest.raises(ValueError, match="pair up"):
        generative.chrf(["a", "b"], ["a"])


def test_label_loss_is_the_models_loss_on_the_answer(lm):
    from datasets import Dataset

    model, tokenizer = lm
    pair = generative.encode_pair(tokenizer, "Where is the bank?", "Où est la banque ?")
    encoded = Dataset.from_list([pair])
    with torch.inference_mode():
        expected = model(input_ids=torch.tensor([pair["input_ids"]]), labels=torch.tensor([pair["labels"]])).loss
    assert generative.label_loss(model, encoded, tokenizer) == pytest.approx(expected.item(), rel=1e-4)


def test_prose_perplexity(lm):
    model, tokenizer = lm
    austen = generative.held_out_prose("austen")
    assert len(austen) > 100_000
    english = generative.text_perplexity(model, tokenizer, austen, max_tokens=1024)
    assert 5 < english < 400, "the pretrained model knows English"
    shuffled = " ".join(sorted(austen[:20_000].split()))
    assert generative.text_perplexity(model, tokenizer, shuffled, max_tokens=1024) > english * 2
    with pytest.raises(ValueError, match="fewer than one window"):
        generative.text_perplexity(model, tokenizer, "Too short.")
    with pytest.raises(ValueError, match="austen"):
        generative.held_out_prose("shakespeare")


def test_a_few_steps_of_fine_tuning_lower_the_answer_loss(lm):
    from ftlab.labs.phrasebook import phrasebook

    _, tokenizer = lm
    model, _ = generative.load_causal_lm("tiny-gpt2", device="cpu")
    torch.manual_seed(0)
    pairs = phrasebook()["train"].select(range(16))
    encoded = generative.encode_pairs(pairs, tokenizer)
    batch = generative.collator(tokenizer)([encoded[i] for i in range(16)])
    before = generative.label_loss(model, encoded, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(10):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = generative.label_loss(model, encoded, tokenizer)
    assert after < before - 1 and math.isfinite(after)


def test_window_losses_are_the_items_of_the_prose_perplexity(lm):
    model, tokenizer = lm
    austen = generative.held_out_prose("austen")
    losses = generative.window_losses(model, tokenizer, austen, max_tokens=1024)
    assert losses.shape == (1024 // 128,) and (losses > 0).all()
    assert math.exp(losses.mean()) == pytest.approx(generative.text_perplexity(model, tokenizer, austen,
                                                                                max_tokens=1024), rel=1e-5)


REFERENCES = ["Où est la gare ?", "Je voudrais un café.", "Les hôtels sont vieux.", "J'ai trois billets.",
              "La voiture est petite.", "Nous allons au marché.", "Je cherche le musée.", "Combien coûte la carte ?"]


def test_paired_bootstrap_chrf_brackets_a_real_difference():
    good = [r.replace("la", "le") for r in REFERENCES]
    bad = [r.split()[0] for r in REFERENCES]
    result = generative.paired_bootstrap_chrf(good, bad, REFERENCES)
    assert result["difference"] == pytest.approx(generative.chrf(good, REFERENCES) - generative.chrf(bad, REFERENCES))
    assert 0 < result["low"] <= result["difference"] <= result["high"] and result["n_items"] == len(REFERENCES)
    same = generative.paired_bootstrap_chrf(good, good, REFERENCES)
    assert same["low"] == same["high"] == same["difference"] == 0
    flipped = generative.paired_bootstrap_chrf(bad, good, REFERENCES)
    assert flipped["high"] < 0


def test_paired_bootstrap_chrf_pools_several_runs():
    good = [r.replace("la", "le") for r in REFERENCES]
    bad = [r.split()[0] for r in REFERENCES]
    pooled = generative.paired_bootstrap_chrf([good, bad], bad, REFERENCES)
    expected = generative.chrf(good + bad, REFERENCES * 2) - generative.chrf(bad, REFERENCES)
    assert pooled["difference"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="pair up"):
        generative.paired_bootstrap_chrf(good[:-1], bad, REFERENCES)
    with pytest.raises(ValueError, match="at least one run"):
        generative.paired_bootstrap_chrf([], bad, REFERENCES)


def test_paired_bootstrap_mean():
    rng = np.random.default_rng(0)
    b = rng.normal(4.0, 0.5, size=40)
    a = b + 0.3 + rng.normal(0, 0.05, size=40)
    result = generative.paired_bootstrap_mean(a, b)
    assert result["difference"] == pytest.approx(float((a - b).mean()))
    assert 0.25 < result["low"] < result["difference"] < result["high"] < 0.35
    noise = generative.paired_bootstrap_mean(b + rng.normal(0, 0.5, size=40), b)
    assert noise["low"] < 0 < noise["high"]
    with pytest.raises(ValueError, match="same length"):
        generative.paired_bootstrap_mean(a[:-1], b)
    with pytest.raises(ValueError, match="n_resamples"):
        generative.paired_bootstrap_mean(a, b, n_resamples=10)


def test_the_loss_is_named_so_transformers_has_nothing_to_warn(lm, capfd):
    """GPT2LMHeadModel's class name matches none of transformers' losses; without the course's loss_type it warns
    on the first loss (a red line in lessons 07 and 09) and uses the causal-LM loss anyway."""
    model, tokenizer = lm
    assert model.loss_type == "ForCausalLM"
    ids = tokenizer("A short sentence.", return_tensors="pt")["input_ids"].to(model.device)
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    assert torch.isfinite(loss)
    assert "loss_type" not in capfd.readouterr().err
