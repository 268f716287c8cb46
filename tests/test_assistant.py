import math

import pytest
import torch

from ftlab.labs import assistant, chat_measures, instructions
from ftlab.labs.assistant import END, ROLE_TOKENS
from ftlab.labs.instructions import REFUSAL

CHAT = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Translate into French: I would like a coffee."},
        {"role": "assistant", "content": "Je voudrais un café."}]
TWO_TURNS = CHAT + [{"role": "user", "content": 'Write "gâteau" with un or une.'},
                    {"role": "assistant", "content": "un gâteau"}]


@pytest.fixture(scope="module")
def chat_lm():
    return assistant.load_chat_model("tiny-gpt2", device="cpu")


@pytest.fixture(scope="module")
def chats():
    return instructions.instructions(max_per_task=24)


def test_the_chat_tokens_are_added_and_the_embeddings_resized(chat_lm):
    model, tokenizer = chat_lm
    new = [*ROLE_TOKENS.values(), END]
    ids = tokenizer.convert_tokens_to_ids(new)
    assert len(set(ids)) == 4 and min(ids) >= 8192, "four new tokens after the pretrained vocabulary"
    assert model.get_input_embeddings().num_embeddings == len(tokenizer) == 8196
    assert model.get_output_embeddings().weight.shape[0] == len(tokenizer)
    assert tokenizer.eos_token == END and tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.convert_tokens_to_ids(END) in model.generation_config.eos_token_id
    for token in new:
        assert tokenizer(f"a{token}b")["input_ids"][1] == tokenizer.convert_tokens_to_ids(token), "never split"
    assistant.add_chat_template(model, tokenizer)
    assert len(tokenizer) == 8196 == model.get_input_embeddings().num_embeddings, "a second call changes nothing"


def test_prose_losses_compare_the_chat_model_with_the_base_on_the_same_tokens(chat_lm):
    from ftlab.labs import generative

    model, _ = chat_lm
    base, base_tokenizer = generative.load_causal_lm("tiny-gpt2", device="cpu")
    chat_losses = assistant.prose_losses(model, max_tokens=512)
    base_losses = generative.window_losses(base, base_tokenizer, generative.held_out_prose("austen"), max_tokens=512)
    assert chat_losses.shape == base_losses.shape == (4,)
    assert abs(chat_losses.mean() - base_losses.mean()) < 0.05, "new rows in the embeddings barely change old text"


def test_the_template_renders_and_round_trips(chat_lm):
    _, tokenizer = chat_lm
    text = tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert text == ("<|system|>\nBe brief.<|end|>\n<|user|>\nTranslate into French: I would like a coffee.<|end|>\n"
                    "<|assistant|>\nJe voudrais un café.<|end|>\n")
    ids = tokenizer.apply_chat_template(CHAT, tokenize=True, return_dict=True)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == list(ids)


def test_the_generation_prompt_is_appended_and_is_a_prefix_of_the_answered_chat(chat_lm):
    _, tokenizer = chat_lm
    prompt = tokenizer.apply_chat_template(CHAT[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|end|>\n<|assistant|>\n")
    assert tokenizer.apply_chat_template(CHAT[:2], tokenize=False).endswith("<|end|>\n")
    prompt_ids = tokenizer.apply_chat_template(CHAT[:2], add_generation_prompt=True, return_dict=True)["input_ids"]
    full_ids = tokenizer.apply_chat_template(CHAT, return_dict=True)["input_ids"]
    assert list(full_ids[:len(prompt_ids)]) == list(prompt_ids), "TRL finds the answer where the prompt ends"


def test_an_unknown_role_is_refused(chat_lm):
    _, tokenizer = chat_lm
    with pytest.raises(Exception, match="unknown role tool"):
        tokenizer.apply_chat_template([{"role": "tool", "content": "42"}], tokenize=False)


@pytest.mark.parametrize("messages", [CHAT, TWO_TURNS])
def test_the_loss_mask_is_exactly_the_assistants_answers_and_their_end(chat_lm, messages):
    _, tokenizer = chat_lm
    spans = assistant.check_assistant_mask(tokenizer, messages)
    assert spans == [m["content"] + END for m in messages if m["role"] == "assistant"]
    table = assistant.assistant_mask_table(tokenizer, messages)
    assert list(table.columns) == ["id", "token", "is_assistant"]
    masked = table[table["is_assistant"]]
    assert masked["token"].iloc[-1] == END
    assert tokenizer.decode(list(masked["id"])) == "".join(spans)
    assert not table.loc[table["token"].isin(ROLE_TOKENS.values()), "is_assistant"].any()


def test_a_template_without_generation_markers_fails_the_check(chat_lm):
    _, tokenizer = chat_lm
    saved = tokenizer.chat_template
    try:
        tokenizer.chat_template = saved.replace("{% generation %}", "").replace("{% endgeneration %}", "")
        with pytest.raises(ValueError, match="generation"):
            assistant.check_assistant_mask(tokenizer, CHAT)
    finally:
        tokenizer.chat_template = saved


def test_batched_chat_answers_match_one_by_one_and_stop_at_the_end_of_the_turn(chat_lm):
    model, tokenizer = chat_lm
    prompts = [CHAT[:2], [{"role": "user", "content": "Write a poem about the sea."}]]
    together = assistant.chat(model, tokenizer, prompts, max_new_tokens=6)
    alone = [assistant.chat(model, tokenizer, [p], max_new_tokens=6)[0] for p in prompts]
    assert together == alone
    assert tokenizer.padding_side == "right"
    stop = assistant._stop_ids(tokenizer)
    ids = tokenizer(" un café" + END + " et" + "<|user|>")["input_ids"]
    assert assistant._answer(tokenizer, ids, stop) == ("un café", True, ids.index(tokenizer.convert_tokens_to_ids(END)))
    role_first = tokenizer(" un café" + "<|user|>")["input_ids"]
    assert assistant._answer(tokenizer, role_first, stop)[:2] == ("un café", False), "a role token is no END"
    sampled = assistant.sample_chats(model, tokenizer, prompts, n=3, max_new_tokens=6, seed=1)
    assert [len(s) for s in sampled] == [3, 3]
    assert sampled == assistant.sample_chats(model, tokenizer, prompts, n=3, max_new_tokens=6, seed=1)
    with pytest.raises(ValueError, match="sample=True"):
        assistant.sample_chats(model, tokenizer, prompts, n=2, sample=False)


def test_configs_follow_the_profile_and_save_nothing(tmp_path):
    pytest.importorskip("trl")
    from ftlab.config import ASSISTANT_GRPO, ASSISTANT_SFT

    sft = assistant.sft_config("quick", tmp_path)
    assert sft.max_steps == ASSISTANT_SFT["quick"]["steps"]
    assert sft.per_device_train_batch_size == ASSISTANT_SFT["quick"]["batch_size"]
    assert sft.assistant_only_loss and not sft.bf16 and not sft.gradient_checkpointing
    assert sft.save_strategy == "no" and sft.report_to in ([], "none", ["none"])
    assert assistant.sft_config("quick", tmp_path, save=True).save_strategy == "steps"
    grpo = assistant.grpo_config("quick", tmp_path)
    quick = ASSISTANT_GRPO["quick"]
    assert grpo.per_device_train_batch_size == quick["prompts"] * quick["num_generations"]
    assert grpo.num_generations == quick["num_generations"]
    small = assistant.dpo_config("standard", tmp_path, steps=3, batch_size=2, learning_rate=1e-4)
    assert (small.max_steps, small.per_device_train_batch_size, small.learning_rate) == (3, 2, 1e-4)
    with pytest.raises(ValueError, match="num_generations must be at least 2"):
        assistant.grpo_config("quick", tmp_path, num_generations=1)
    with pytest.raises(ValueError, match="steps and batch_size"):
        assistant.sft_config("quick", tmp_path, steps=0)
    with pytest.raises(ValueError, match="pass output_dir"):
        assistant.sft_config("quick", save=True)
    assert assistant.sft_config("quick").output_dir == assistant.grpo_config("quick").output_dir, "one scratch folder"
    with pytest.raises(TypeError, match="no field 'learning_rat'"):
        assistant.sft_config("quick", tmp_path, learning_rat=1e-3)


@pytest.fixture(scope="module")
def tuned(chats, tmp_path_factory):
    """A few SFT steps with TRL on refusals and plurals: the model learns the fixed refusal and to stop."""
    pytest.importorskip("trl")
    from trl import SFTTrainer

    model, tokenizer = assistant.load_chat_model("tiny-gpt2", device="cpu")
    train = chats["train"].filter(lambda row: row["task"] in ("refusal", "plural"))
    args = assistant.sft_config("quick", tmp_path_factory.mktemp("sft"), steps=24, batch_size=8,
                                learning_rate=3e-3, logging_steps=1, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.train()
    return model.eval(), tokenizer, trainer, batch


def test_trl_trains_on_the_assistants_tokens_only(tuned):
    _, tokenizer, _, batch = tuned
    for ids, labels in zip(batch["input_ids"], batch["labels"]):
        trained = tokenizer.decode([int(i) for i, label in zip(ids, labels) if label != -100])
        assert trained.endswith(END) and trained.count(END) == 1
        assert "<|user|>" not in trained and "<|assistant|>" not in trained


def test_a_short_sft_lowers_the_loss_and_teaches_the_refusal_and_the_stop(tuned, chats):
    model, tokenizer, trainer, _ = tuned
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 1.0
    requests = chats["test"].filter(lambda row: row["task"] == "refusal").select(range(3))
    answers = assistant.chat(model, tokenizer, [m[:-1] for m in requests["messages"]])
    assert answers == [REFUSAL] * 3, "an unseen out-of-scope request is refused, and the answer stops there"


def test_saved_chat_model_reloads_with_its_template(tuned, tmp_path):
    model, tokenizer, _, _ = tuned
    folder = assistant.save_chat_model(model, tokenizer, tmp_path / "chat")
    again, tokenizer_again = assistant.load_chat_model(str(folder), device="cpu")
    assert tokenizer_again.chat_template == tokenizer.chat_template and len(tokenizer_again) == len(tokenizer)
    ids = torch.tensor([tokenizer.apply_chat_template(CHAT, return_dict=True)["input_ids"]])
    with torch.inference_mode():
        assert torch.allclose(model(ids).logits, again.eval()(ids).logits, atol=1e-5)


def test_preference_pairs_rank_the_models_own_answers(tuned, chats):
    model, tokenizer, _, _ = tuned
    pairs = assistant.preference_pairs(model, tokenizer, chats["validation"].select(range(12)), n_samples=4,
                                       seed=3, max_new_tokens=12)
    assert 0 < len(pairs) <= 12
    assert set(pairs.column_names) >= {"prompt", "chosen", "rejected", "task", "reference"}
    for row in pairs:
        assert row["chosen_score"] > row["rejected_score"], "ties are dropped, the better answer is chosen"
        assert row["prompt"][-1]["role"] == "user" and row["chosen"][0]["role"] == "assistant"
        assert row["chosen_score"] == instructions.score_answer(row["task"], row["chosen"][0]["content"],
                                                                row["reference"])


def test_dpo_runs_with_the_reference_loaded_from_the_saved_model(tuned, chats, tmp_path):
    pytest.importorskip("trl")
    from trl import DPOTrainer

    model, tokenizer, _, _ = tuned
    folder = assistant.save_chat_model(model, tokenizer, tmp_path / "sft")
    policy, tokenizer = assistant.load_chat_model(str(folder), device="cpu")
    reference, _ = assistant.load_chat_model(str(folder), device="cpu")
    before = reference.get_input_embeddings().weight.clone()
    pairs = assistant.preference_pairs(policy, tokenizer, chats["train"].select(range(16)), n_samples=3, seed=4,
                                       max_new_tokens=12)
    args = assistant.dpo_config("quick", tmp_path / "dpo", steps=3, batch_size=4, learning_rate=1e-4,
                                logging_steps=1, disable_tqdm=True)
    trainer = DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=pairs,
                         processing_class=tokenizer)
    trainer.train()
    log = [row for row in trainer.state.log_history if "loss" in row]
    assert len(log) == 3 and all(math.isfinite(row["loss"]) for row in log)
    assert log[0]["loss"] == pytest.approx(math.log(2), abs=1e-3), "policy = reference at the start"
    assert torch.equal(reference.get_input_embeddings().weight, before), "the reference does not move"


def test_the_reward_reads_trls_columns_and_spreads_within_a_group():
    group = [[{"role": "assistant", "content": text}] for text in
             ("les gâteaux", "les gâteau", "le gâteaux", "des chapeaux", REFUSAL)]
    rewards = assistant.reward(group, task=["plural"] * 5, reference=["les gâteaux"] * 5, trainer_state=None)
    assert rewards[0] == 1.0 and rewards[-1] == 0.0
    assert len(set(rewards)) == 5, "partial credit: every answer of the group earns a different reward"
    assert assistant.reward(["les gâteaux"], task=["plural"], reference=["les gâteaux"]) == [1.0]
    assert assistant.exact_reward(group, reference=["les gâteaux"] * 5) == [1.0, 0.0, 0.0, 0.0, 0.0]
    lengths = assistant.length_reward(["a", "a" * 50, "a" * 500])
    assert lengths[0] < lengths[1] < lengths[2] == 1.0


def test_grpo_runs_and_the_rewards_of_a_group_differ(tuned, chats, tmp_path):
    pytest.importorskip("trl")
    from trl import GRPOTrainer

    model, tokenizer, _, _ = tuned
    prompts = instructions.prompts_only(chats["train"].filter(lambda row: row["task"] == "plural"))
    args = assistant.grpo_config("quick", tmp_path, steps=2, prompts=2, num_generations=4, learning_rate=1e-5,
                                 max_completion_length=8, logging_steps=1, disable_tqdm=True)
    trainer = GRPOTrainer(model=model, reward_funcs=assistant.reward, args=args, train_dataset=prompts,
                          processing_class=tokenizer)
    trainer.train()
    log = [row for row in trainer.state.log_history if "reward" in row]
    assert len(log) == 2
    assert all(row["frac_reward_zero_std"] < 1 for row in log), "some group's answers earned different rewards"


def test_every_profile_has_sizes_for_every_stage():
    from ftlab.config import ASSISTANT_CHATS, ASSISTANT_DPO, ASSISTANT_GRPO, ASSISTANT_SFT, PROFILES

    for table, keys in ((ASSISTANT_SFT, {"steps", "batch_size", "learning_rate"}),
                        (ASSISTANT_DPO, {"steps", "batch_size", "learning_rate"}),
                        (ASSISTANT_GRPO, {"steps", "prompts", "num_generations", "learning_rate"}),
                        (ASSISTANT_CHATS, {"max_per_task", "eval_per_task", "dpo_prompts", "dpo_samples",
                                           "spread_prompts"})):
        assert set(table) == set(PROFILES)
        assert all(set(sizes) == keys for sizes in table.values())
    assert ASSISTANT_SFT["quick"]["steps"] <= ASSISTANT_SFT["standard"]["steps"] <= ASSISTANT_SFT["full"]["steps"]


def test_answer_chats_scores_and_records_the_end_of_the_turn_and_refusals(tuned, chats):
    model, tokenizer, _, _ = tuned
    requests = chats["test"].filter(lambda row: row["task"] in ("refusal", "plural")).select(range(8))
    table = chat_measures.answer_chats(model, tokenizer, requests, max_new_tokens=16)
    assert list(table["task"]) == list(requests["task"]) and len(table) == 8
    assert set(table.columns) >= {"answer", "score", "exact", "ended", "tokens", "refused"}
    assert table["refused"].equals(table["answer"] == REFUSAL)
    assert (table.loc[~table["ended"], "tokens"] == 16).all(), "an answer that did not end ran to the limit"
    assert (table.loc[table["ended"], "tokens"] < 16).all()
    shares = chat_measures.behaviour(table)
    assert shares["refuses out-of-scope requests"] == table.loc[table["task"] == "refusal", "refused"].mean()
    assert shares["mean score"] == pytest.approx(table["score"].mean())


def test_the_base_model_never_ends_its_turn(chat_lm, chats):
    model, tokenizer = chat_lm
    table = chat_measures.answer_chats(model, tokenizer, chats["validation"].select(range(4)), max_new_tokens=12)
    assert not table["ended"].any() and (table["tokens"] == 12).all()


def test_zero_spread_share_counts_groups_whose_rewards_are_all_equal():
    samples = [["les chats", "les chats"], ["le chat", "les chats"], ["x", "yy"]]
    tasks = ["plural"] * 3
    references = ["les chats"] * 3
    assert chat_measures.zero_spread_share(samples, tasks, references, assistant.exact_reward) == pytest.approx(2 / 3)
    assert chat_measures.zero_spread_share(samples, tasks, references, assistant.length_reward) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="one task and one reference per group"):
        chat_measures.zero_spread_share(samples, tasks[:2], references, assistant.reward)


def test_packed_chats_are_kept_apart_only_when_positions_restart(chat_lm):
    model, tokenizer = chat_lm
    difference = chat_measures.packed_difference(model, tokenizer, [CHAT, TWO_TURNS, CHAT[1:]])
    assert difference["restarted"] < 1e-3, "each chat of a pack is computed as if alone"
    assert difference["running"] > 0.1, "without restarting positions a chat reads the ones before it"


def test_batch_shapes_of_padded_and_packed_trainers(chats, tmp_path):
    pytest.importorskip("trl")
    from trl import SFTTrainer

    shapes = {}
    for name, layout in {"padded": dict(batch_size=8), "packed": dict(batch_size=2, packing=True)}.items():
        model, tokenizer = assistant.load_chat_model("tiny-gpt2", device="cpu")
        trainer = SFTTrainer(model=model, args=assistant.sft_config("quick", tmp_path, steps=1, **layout),
                             train_dataset=chats["train"], processing_class=tokenizer)
        shapes[name] = chat_measures.batch_shapes(trainer, n_batches=3)
    padded, packed = shapes["padded"], shapes["packed"]
    assert len(padded) == len(packed) == 3
    assert (padded["rows"] == 8).all() and (padded["tokens"] < padded["positions"]).all(), "padding is there"
    assert (packed["rows"] == 1).all() and (packed["tokens"] == packed["positions"]).all(), "one row, no padding"
    assert (packed["length"] <= 2 * 128).all()


def test_at_scale_grows_time_with_the_parameters_and_counts_training_memory():
    import pandas as pd

    costs = pd.DataFrame({"seconds": [10.0, 5.0], "tokens": [1000, 500]}, index=["SFT", "DPO"])
    scaled = chat_measures.at_scale(costs, 5_000_000, factor=1000)
    assert scaled.loc["SFT", "hours on this machine"] == pytest.approx(10 * 1000 / 3600)
    assert scaled.loc["SFT", "weights, gradients and AdamW (GB)"] == pytest.approx(16 * 5e9 / 1e9)
    assert scaled.loc["DPO", "weights, gradients and AdamW (GB)"] == pytest.approx(20 * 5e9 / 1e9)
    assert scaled.iloc[0, 0] == pytest.approx(6 * 5e6 * 1000 / 10 / 1e9)
    with pytest.raises(ValueError, match="unknown stages"):
        chat_measures.at_scale(costs.rename(index={"DPO": "PPO"}), 5_000_000)


def test_training_log_holds_the_logged_steps(tuned):
    _, _, trainer, _ = tuned
    log = chat_measures.training_log(trainer)
    assert list(log.index) == list(range(1, trainer.state.global_step + 1))
    assert {"loss", "mean_token_accuracy", "num_tokens"} <= set(log.columns)


def test_paired_by_task_compares_stages_on_the_same_requests():
    import pandas as pd

    tasks = ["plural"] * 4 + ["refusal"] * 4
    base = pd.DataFrame({"task": tasks, "reference": list("abcdefgh"), "score": [0.0] * 8})
    tuned = base.assign(score=[1.0] * 4 + [0.0] * 4)
    table = chat_measures.paired_by_task({"base": base, "SFT": tuned}, {"SFT": "base"})
    assert list(table.index) == ["plural", "refusal", "all"] and list(table.columns) == ["SFT − base"]
    assert table.loc["plural", "SFT − base"] == "+1.000 (+1.000 to +1.000)"
    assert table.loc["refusal", "SFT − base"] == "+0.000 (+0.000 to +0.000)"
    assert table.loc["all", "SFT − base"].startswith("+0.500 (")
    with pytest.raises(ValueError, match="same requests in the same order"):
        chat_measures.paired_by_task({"base": base, "SFT": tuned.iloc[::-1]}, {"SFT": "base"})
