"""Measure lesson 09's three TRL stages on the tiny GPT-2 under one profile: seconds per stage, held-out scores.

With the profile's sizes from ftlab.config (ASSISTANT_SFT, ASSISTANT_DPO, ASSISTANT_GRPO, ASSISTANT_CHATS), unless
overridden on the command line:

- **SFT** from the pretrained model, loss on the assistant's tokens only;
- **DPO** from the SFT model, on pairs of its own sampled answers ranked by the verifiable score, against a reference
  loaded from the saved SFT folder;
- **GRPO** from the SFT model, rewarded with the partial-credit score (or `--grpo-reward length|exact`).

After each stage the held-out test chats are answered greedily and scored per task; the gain over the base model
(SFT) or over the SFT model (DPO, GRPO) comes with a 95 % paired bootstrap interval. Use it to set the ASSISTANT_*
sizes. Run:  FTLAB_PROFILE=quick python scripts/measure_assistant.py [--threads 1] [--sft-steps 50 ...]
(on a machine shared with another busy process, --threads 1 is several times faster than two threads).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    for stage, keys in (("sft", ("steps", "batch_size", "learning_rate")), ("dpo", ("steps", "batch_size",
                        "learning_rate")), ("grpo", ("steps", "prompts", "num_generations", "learning_rate"))):
        for key in keys:
            parser.add_argument(f"--{stage}-{key.replace('_', '-')}", type=float if key == "learning_rate" else int)
    parser.add_argument("--grpo-reward", choices=("score", "length", "exact"), default="score")
    parser.add_argument("--stages", default="sft,dpo,grpo", help="which stages to run after SFT (comma-separated)")
    options = parser.parse_args()

    import torch
    import transformers
    from datasets.utils.logging import disable_progress_bar
    from trl import DPOTrainer, GRPOTrainer, SFTTrainer

    from ftlab.config import ASSISTANT_CHATS, get_profile
    from ftlab.labs import assistant, instructions
    from ftlab.labs.generative import paired_bootstrap_mean

    if options.threads:
        torch.set_num_threads(options.threads)
    transformers.logging.set_verbosity_error()
    disable_progress_bar()
    profile = get_profile()
    sizes = ASSISTANT_CHATS[profile.name]
    chats = instructions.instructions(max_per_task=sizes["max_per_task"])
    test = instructions.instructions(max_per_task=sizes["eval_per_task"])["test"]
    prompts = [messages[:-1] for messages in test["messages"]]
    print(f"profile {profile.name}: {len(chats['train']):,} training chats, {len(test)} test chats, "
          f"{torch.get_num_threads()} torch threads")

    def overrides(stage: str) -> dict:
        return {key.split("_", 1)[1]: value for key, value in vars(options).items()
                if key.startswith(stage + "_") and value is not None and key != "grpo_reward"}

    def score(model, tokenizer, label: str, against=None):
        started = time.perf_counter()
        scored = instructions.score_answers(test["task"], assistant.chat(model, tokenizer, prompts),
                                            test["reference"])
        table = instructions.scores_by_task(scored)
        line = " ".join(f"{task} {value:.3f}" for task, value in table["score"].items())
        print(f"  {label}: score {line} | exact {table.loc['all', 'exact']:.2f} | "
              f"answered in {time.perf_counter() - started:.1f} s")
        if against is not None:
            gain = paired_bootstrap_mean(scored["score"], against["score"])
            print(f"  {label}: gain {gain['difference']:+.3f} "
                  f"(95 % interval {gain['low']:+.3f} to {gain['high']:+.3f})")
        return scored

    def train(trainer, label: str, steps: int) -> None:
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        log = [row for row in trainer.state.log_history if "loss" in row]
        first, last = log[: max(len(log) // 4, 1)], log[-max(len(log) // 4, 1):]
        extra = {key: sum(row[key] for row in last) / len(last) for key in
                 ("rewards/accuracies", "rewards/margins", "reward", "completions/mean_length",
                  "frac_reward_zero_std") if key in last[0]}
        print(f"{label}: {steps} steps in {seconds:.1f} s ({seconds / steps:.2f} s/step); loss "
              f"{sum(r['loss'] for r in first) / len(first):.3f} -> {sum(r['loss'] for r in last) / len(last):.3f}; "
              + ", ".join(f"{key} {value:.3f}" for key, value in extra.items()))

    base, tokenizer = assistant.load_chat_model(device="cpu")
    base_scores = score(base, tokenizer, "base")
    model, tokenizer = assistant.load_chat_model(device="cpu")
    args = assistant.sft_config(profile, disable_tqdm=True, **overrides("sft"))
    train(SFTTrainer(model=model, args=args, train_dataset=chats["train"], processing_class=tokenizer), "SFT",
          args.max_steps)
    sft_scores = score(model.eval(), tokenizer, "SFT", base_scores)
    scratch = tempfile.TemporaryDirectory(prefix="ftlab-measure-")
    folder = assistant.save_chat_model(model, tokenizer, scratch.name + "/sft")

    stages = options.stages.split(",")
    if "dpo" in stages:
        policy, tokenizer = assistant.load_chat_model(str(folder), device="cpu")
        reference, _ = assistant.load_chat_model(str(folder), device="cpu")
        started = time.perf_counter()
        source = chats["train"].shuffle(seed=1).select(range(min(sizes["dpo_prompts"], len(chats["train"]))))
        pairs = assistant.preference_pairs(policy, tokenizer, source, n_samples=sizes["dpo_samples"])
        print(f"DPO pairs: {len(pairs)} of {len(source)} prompts (ties dropped) in "
              f"{time.perf_counter() - started:.1f} s")
        args = assistant.dpo_config(profile, disable_tqdm=True, **overrides("dpo"))
        train(DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=pairs,
                         processing_class=tokenizer), "DPO", args.max_steps)
        score(policy.eval(), tokenizer, "DPO", sft_scores)
    if "grpo" in stages:
        policy, tokenizer = assistant.load_chat_model(str(folder), device="cpu")
        reward = {"score": assistant.reward, "length": assistant.length_reward,
                  "exact": assistant.exact_reward}[options.grpo_reward]
        args = assistant.grpo_config(profile, disable_tqdm=True, **overrides("grpo"))
        train(GRPOTrainer(model=policy, reward_funcs=reward, args=args,
                          train_dataset=instructions.prompts_only(chats["train"]), processing_class=tokenizer),
              f"GRPO ({options.grpo_reward} reward)", args.max_steps)
        score(policy.eval(), tokenizer, "GRPO", sft_scores)
    scratch.cleanup()


if __name__ == "__main__":
    main()
