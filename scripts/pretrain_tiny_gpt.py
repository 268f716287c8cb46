"""Pretrain the course's tiny GPT-2 on Jane Austen's six novels (public domain), on a CPU, reproducibly.

No small pretrained causal language model installs from the package registries, so the course makes one and says
how: this script is the whole recipe. It reads the novels from Debian's `r-cran-janeaustenr` package (MIT; the
texts are public domain, from Project Gutenberg), holds out the last 5 % of every novel, trains a byte-level BPE
tokenizer on the rest, pretrains a small `GPT2LMHeadModel` for a fixed time or number of steps, and writes a
model folder (safetensors, tokenizer, a model card with the recipe, the corpus checksum, the loss curve and the
held-out perplexity) atomically.

Usage:  python scripts/pretrain_tiny_gpt.py --out DIR [--deb r-cran-janeaustenr_1.0.0-1_all.deb] [--minutes 40]
Needs `pip install rdata` (to read the R data files) and, without --deb, `apt-get download` to fetch the package.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion")
HELD_OUT = 0.05
EOT = "<|endoftext|>"


def fetch_deb(folder: Path) -> Path:
    """Download Debian's r-cran-janeaustenr package into `folder` (needs apt-get and the Debian mirrors)."""
    subprocess.run(["apt-get", "download", "r-cran-janeaustenr"], cwd=folder, check=True)
    return next(folder.glob("r-cran-janeaustenr_*.deb"))


def read_novels(deb: Path) -> dict[str, list[str]]:
    """The six novels as lists of paragraphs, read from the package's R data files."""
    import rdata

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        data = Path(tmp) / "usr/lib/R/site-library/janeaustenr/data"
        index = rdata.conversion.convert(rdata.parser.parse_data(gzip.decompress((data / "Rdata.rdx").read_bytes())))
        blob = (data / "Rdata.rdb").read_bytes()
        novels = {}
        for name in NOVELS:
            offset, length = (int(x) for x in index["variables"][name])
            lines = rdata.conversion.convert(rdata.parser.parse_data(zlib.decompress(blob[offset + 4:offset + length])))
            paragraphs, current = [], []
            for line in map(str, lines):
                if line.strip():
                    current.append(line.strip())
                elif current:
                    paragraphs.append(" ".join(current))
                    current = []
            if current:
                paragraphs.append(" ".join(current))
            novels[name] = paragraphs
    return novels


def split(novels: dict[str, list[str]]) -> tuple[str, str]:
    """Training text and held-out text: the last 5 % of the paragraphs of every novel are held out."""
    train, held = [], []
    for paragraphs in novels.values():
        cut = int(len(paragraphs) * (1 - HELD_OUT))
        train += paragraphs[:cut]
        held += paragraphs[cut:]
    return "\n\n".join(train), "\n\n".join(held)


def train_tokenizer(text: str, vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2's kind) trained on `text`, as a transformers tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(text.split("\n\n"), vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT],
                            show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token=EOT, eos_token=EOT, unk_token=EOT,
                                   pad_token=EOT)


def encode(tokenizer, text: str) -> np.ndarray:
    """All paragraphs as one stream of token ids, paragraphs separated by the end-of-text token."""
    ids = []
    for paragraph in text.split("\n\n"):
        ids += tokenizer(paragraph)["input_ids"] + [tokenizer.eos_token_id]
    return np.array(ids, dtype=np.int64)


def perplexity(model, ids: np.ndarray, block: int, batch: int = 32) -> float:
    """exp(mean next-token loss) over non-overlapping blocks of `ids`."""
    import torch

    n = (len(ids) - 1) // block
    x = torch.from_numpy(ids[: n * block].reshape(n, block))
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, n, batch):
            chunk = x[start:start + batch]
            loss = model(input_ids=chunk, labels=chunk).loss
            total += loss.item() * chunk.numel()
            count += chunk.numel()
    model.train()
    return math.exp(total / count)


def main(argv: list[str] | None = None) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, get_cosine_schedule_with_warmup, set_seed

    from ftlab.train import save_atomically

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--deb", type=Path, help="r-cran-janeaustenr .deb (downloaded with apt-get if absent)")
    parser.add_argument("--minutes", type=float, default=40.0, help="training time budget")
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    set_seed(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        deb = args.deb or fetch_deb(Path(tmp))
        deb_sha = hashlib.sha256(deb.read_bytes()).hexdigest()
        novels = read_novels(deb)
    train_text, held_text = split(novels)
    corpus_sha = hashlib.sha256(train_text.encode("utf-8") + held_text.encode("utf-8")).hexdigest()
    tokenizer = train_tokenizer(train_text, args.vocab)
    train_ids, held_ids = encode(tokenizer, train_text), encode(tokenizer, held_text)
    print(f"corpus: {len(train_text):,} + {len(held_text):,} characters; {len(train_ids):,} training tokens, "
          f"{len(held_ids):,} held-out tokens", flush=True)

    config = GPT2Config(vocab_size=len(tokenizer), n_positions=max(256, args.block), n_embd=args.width,
                        n_layer=args.layers, n_head=args.heads, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"model: {parameters / 1e6:.2f}M parameters", flush=True)
    tokens_per_step = args.batch * args.block
    budget_steps = args.max_steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95), fused=True)
    # The schedule is planned from a first timing: measure 20 steps, then fit the rest into the time budget.
    rng = np.random.default_rng(args.seed)
    starts_max = len(train_ids) - args.block - 1

    def batch():
        starts = rng.integers(0, starts_max, args.batch)
        x = np.stack([train_ids[s:s + args.block] for s in starts])
        return torch.from_numpy(x)

    log = {"step": [], "train_loss": [], "held_out_perplexity": [], "seconds": []}
    start = time.perf_counter()
    for _ in range(20):
        x = batch()
        model(input_ids=x, labels=x).loss.backward()
        optimizer.zero_grad()
    per_step = (time.perf_counter() - start) / 20
    budget_steps = min(args.max_steps, int(args.minutes * 60 / per_step))
    print(f"{per_step:.3f} s per step ({tokens_per_step / per_step:,.0f} tokens/s): {budget_steps:,} steps, "
          f"{budget_steps * tokens_per_step / len(train_ids):.1f} passes over the training text", flush=True)
    set_seed(args.seed)
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95), fused=True)
    scheduler = get_cosine_schedule_with_warmup(optimizer, min(500, budget_steps // 10), budget_steps)
    rng = np.random.default_rng(args.seed)
    first = perplexity(model, held_ids, args.block)
    log["step"].append(0), log["train_loss"].append(math.log(config.vocab_size))
    log["held_out_perplexity"].append(first), log["seconds"].append(0.0)
    start = time.perf_counter()
    losses = []
    every = max(budget_steps // 20, 1)
    for step in range(1, budget_steps + 1):
        x = batch()
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if step % every == 0 or step == budget_steps:
            ppl = perplexity(model, held_ids, args.block)
            log["step"].append(step), log["train_loss"].append(float(np.mean(losses[-every:])))
            log["held_out_perplexity"].append(ppl), log["seconds"].append(time.perf_counter() - start)
            print(f"step {step:6d}  train loss {log['train_loss'][-1]:.3f}  held-out perplexity {ppl:8.2f}  "
                  f"{log['seconds'][-1] / 60:5.1f} min", flush=True)
    final = log["held_out_perplexity"][-1]
    recipe = {k: v for k, v in vars(args).items() if k not in {"out", "deb"}}
    recipe.update(parameters=parameters, steps=budget_steps, tokens_per_step=tokens_per_step,
                  training_tokens=int(len(train_ids)), held_out_tokens=int(len(held_ids)), held_out_share=HELD_OUT,
                  novels=list(NOVELS), deb_sha256=deb_sha, corpus_sha256=corpus_sha,
                  seconds=round(log["seconds"][-1], 1), torch=torch.__version__)
    card = model_card(recipe, first, final)
    model.eval()
    save_atomically(model, tokenizer, args.out,
                    extra_files={"README.md": card, "training_log.json": json.dumps(log, indent=1),
                                 "recipe.json": json.dumps(recipe, indent=1),
                                 "held_out.txt": held_text})
    print(f"saved {args.out}: held-out perplexity {first:.1f} → {final:.2f}", flush=True)


def model_card(recipe: dict, before: float, after: float) -> str:
    """The README.md of the model folder: what it is, how it was made, how good it is."""
    return f"""---
license: mit
language: en
library_name: transformers
pipeline_tag: text-generation
---

# tiny-gpt2 (ftlab)

A {recipe['parameters'] / 1e6:.1f}M-parameter GPT-2 (`GPT2LMHeadModel`: {recipe['layers']} layers, width {recipe['width']},
{recipe['heads']} heads, context {recipe['block']} tokens in training) with a byte-level BPE tokenizer of
{recipe['vocab']:,} tokens, pretrained from random weights by `scripts/pretrain_tiny_gpt.py` of the ftlab course
on Jane Austen's six novels. It exists so that the course's generative-model lesson runs offline on a laptop; it
writes Austen-flavoured English and knows little else.

## Data
The novels {', '.join(recipe['novels'])} from Debian's `r-cran-janeaustenr` package (MIT; the texts are public
domain, from Project Gutenberg; .deb SHA-256 `{recipe['deb_sha256']}`). Paragraphs are joined lines; the last
{recipe['held_out_share']:.0%} of the paragraphs of every novel are held out (`held_out.txt`). Training text:
{recipe['training_tokens']:,} tokens; held out: {recipe['held_out_tokens']:,} tokens. Corpus SHA-256
`{recipe['corpus_sha256']}`.

## Training
Seed {recipe['seed']}; {recipe['steps']:,} steps of {recipe['batch']} random windows of {recipe['block']} tokens
({recipe['steps'] * recipe['tokens_per_step'] / recipe['training_tokens']:.1f} passes over the training text);
AdamW (lr {recipe['lr']:g}, betas 0.9/0.95, weight decay 0.1), cosine schedule with warm-up, gradient clipping at
1.0; {recipe['seconds'] / 60:.0f} minutes on a 2-core CPU (torch {recipe['torch']}). The loss curve is in
`training_log.json`, the full recipe in `recipe.json`.

## Evaluation
Perplexity on the held-out paragraphs: **{before:.0f}** before training (random weights), **{after:.2f}** after.

## Limits
Tiny and trained on six novels by one author: no facts, no other languages, no instructions. For teaching only.
"""


if __name__ == "__main__":
    main()
