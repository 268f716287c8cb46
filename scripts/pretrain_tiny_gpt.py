"""Pretrain the course's tiny GPT-2 on public-domain English prose, on a CPU, reproducibly.

No small pretrained causal language model installs from the package registries, so the course makes one and says
how: this script is the whole recipe. It reads two public-domain texts from Debian packages: Jane Austen's six
novels (`r-cran-janeaustenr`, MIT package; the texts from Project Gutenberg) and the World English Bible
(`sword-text-web`, public domain). It holds out the last 5 % of the paragraphs of every novel and every book,
trains a byte-level BPE tokenizer on the rest, pretrains a small `GPT2LMHeadModel` for a fixed time or number of
steps, and writes a model folder (safetensors, tokenizer, a model card with the recipe, the corpus checksums, the
loss curve and the held-out perplexity) atomically.

Usage:  python scripts/pretrain_tiny_gpt.py --out DIR [--austen-deb FILE.deb] [--bible-deb FILE.deb] [--minutes 45]
Needs `pip install rdata` (to read the R data files) and, without the --*-deb files, `apt-get download` to fetch
the packages. --max-steps N replaces the time budget by a fixed number of steps (the model card records both).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import re
import struct
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion")
HELD_OUT = 0.05
EOT = "<|endoftext|>"


def fetch_deb(package: str, folder: Path) -> Path:
    """Download a Debian package into `folder` (needs apt-get and the Debian mirrors)."""
    subprocess.run(["apt-get", "download", package], cwd=folder, check=True)
    return next(folder.glob(f"{package}_*.deb"))


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


def _sword_verses(folder: Path, testament: str):
    """The verses of one testament of a SWORD zText module, as OSIS markup strings.

    A zText module stores blocks of zlib-compressed text (`.bzz`), an index of the blocks (`.bzs`: offset, size,
    uncompressed size as three little-endian uint32) and an index of the verses (`.bzv`: block, offset in the
    uncompressed block, size as uint32, uint32, uint16).
    """
    blocks, verses = (folder / f"{testament}.bzz").read_bytes(), (folder / f"{testament}.bzv").read_bytes()
    block_index = (folder / f"{testament}.bzs").read_bytes()
    cache: dict[int, bytes] = {}
    for i in range(len(verses) // 10):
        block, offset, size = struct.unpack("<IIH", verses[i * 10:i * 10 + 10])
        if size == 0:
            continue
        if block not in cache:
            start, length, _ = struct.unpack("<III", block_index[block * 12:block * 12 + 12])
            cache[block] = zlib.decompress(blocks[start:start + length])
        yield cache[block][offset:offset + size].decode("utf-8")


def _osis_text(markup: str) -> str:
    """Plain text of OSIS markup: footnotes and headings dropped, tags removed, spacing tidied."""
    markup = re.sub(r"<note\b.*?</note>|<title\b.*?</title>", " ", markup, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", markup)).strip()
    return re.sub(r" ([,.;:!?’”)])", r"\1", text)


def read_bible(deb: Path) -> dict[str, list[str]]:
    """The canonical books of the World English Bible as lists of paragraphs, read from the SWORD module."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        module = next(Path(tmp).glob("usr/share/sword/modules/texts/ztext/*/"))
        stream = " ".join(v for testament in ("ot", "nt") for v in _sword_verses(module, testament))
    books = {}
    for start in re.finditer(r'<div [^>]*type="book"[^>]*/>', stream):
        tag = start.group(0)
        if ' sID="' not in tag or 'canonical="true"' not in tag:
            continue
        name = re.search(r'osisID="([^"]+)"', tag).group(1)
        book_id = re.search(r' sID="([^"]+)"', tag).group(1)
        closing = stream.find(f'eID="{book_id}"', start.end())
        following = stream.find('type="book"', start.end())
        end = stream.rfind("<", 0, closing if closing >= 0 else following if following >= 0 else len(stream))
        # Paragraphs start at prose paragraph marks and at chapters (poetry such as the Psalms has no such marks).
        pieces = re.split(r'<div sID="[^"]+" type="x-p"/>|<chapter [^>]*sID="[^"]+"/>', stream[start.end():end])
        books[name] = [text for text in map(_osis_text, pieces) if text]
    return books


def split(documents: dict[str, list[str]]) -> tuple[str, str]:
    """Training text and held-out text: the last 5 % of the paragraphs of every document are held out."""
    train, held = [], []
    for paragraphs in documents.values():
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

    from ftlab.training.runs import save_atomically

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--austen-deb", type=Path, help="r-cran-janeaustenr .deb (downloaded with apt-get if absent)")
    parser.add_argument("--bible-deb", type=Path, help="sword-text-web .deb (downloaded with apt-get if absent)")
    parser.add_argument("--minutes", type=float, default=45.0, help="training time budget")
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
        austen_deb = args.austen_deb or fetch_deb("r-cran-janeaustenr", Path(tmp))
        bible_deb = args.bible_deb or fetch_deb("sword-text-web", Path(tmp))
        deb_sha = {deb.name: hashlib.sha256(deb.read_bytes()).hexdigest() for deb in (austen_deb, bible_deb)}
        novels, books = read_novels(austen_deb), read_bible(bible_deb)
    austen_train, austen_held = split(novels)
    bible_train, bible_held = split(books)
    train_text, held_text = austen_train + "\n\n" + bible_train, austen_held + "\n\n" + bible_held
    corpus_sha = hashlib.sha256(train_text.encode("utf-8") + held_text.encode("utf-8")).hexdigest()
    tokenizer = train_tokenizer(train_text, args.vocab)
    train_ids, held_ids = encode(tokenizer, train_text), encode(tokenizer, held_text)
    sizes = {"austen": [len(encode(tokenizer, austen_train)), len(encode(tokenizer, austen_held))],
             "bible": [len(encode(tokenizer, bible_train)), len(encode(tokenizer, bible_held))]}
    print(f"corpus: {len(train_text):,} + {len(held_text):,} characters; {len(train_ids):,} training tokens, "
          f"{len(held_ids):,} held-out tokens; tokens (training, held out) by source: {sizes}", flush=True)

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
    every = max(budget_steps // 10, 1)
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
    by_source = {"austen": perplexity(model, encode(tokenizer, austen_held), args.block),
                 "bible": perplexity(model, encode(tokenizer, bible_held), args.block)}
    print(f"held-out perplexity by source: {by_source}", flush=True)
    recipe = {k: v for k, v in vars(args).items() if k not in {"out", "austen_deb", "bible_deb"}}
    recipe.update(parameters=parameters, steps=budget_steps, tokens_per_step=tokens_per_step,
                  training_tokens=int(len(train_ids)), held_out_tokens=int(len(held_ids)), held_out_share=HELD_OUT,
                  tokens_by_source=sizes, novels=list(NOVELS), bible_books=len(books), deb_sha256=deb_sha,
                  corpus_sha256=corpus_sha,
                  seconds=round(log["seconds"][-1], 1), torch=torch.__version__)
    recipe["held_out_perplexity_by_source"] = by_source
    card = model_card(recipe, first, final)
    model.eval()
    save_atomically(model, tokenizer, args.out,
                    extra_files={"README.md": card, "training_log.json": json.dumps(log, indent=1),
                                 "recipe.json": json.dumps(recipe, indent=1),
                                 "held_out_austen.txt": austen_held, "held_out_bible.txt": bible_held})
    print(f"saved {args.out}: held-out perplexity {first:.1f} → {final:.2f}", flush=True)


def model_card(recipe: dict, before: float, after: float) -> str:
    """The README.md of the model folder: what it is, how it was made, how good it is."""
    tokens = recipe["tokens_by_source"]
    by_source = recipe["held_out_perplexity_by_source"]
    debs = "; ".join(f"`{name}` SHA-256 `{sha}`" for name, sha in recipe["deb_sha256"].items())
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
on Jane Austen's six novels and the World English Bible. It exists so that the course's generative-model lesson
runs offline on a laptop; it writes English in the style of those two books and knows little else.

## Data
- Jane Austen's novels {', '.join(recipe['novels'])}, from Debian's `r-cran-janeaustenr` package (MIT; the
  texts are public domain, from Project Gutenberg): {tokens['austen'][0]:,} training tokens, {tokens['austen'][1]:,}
  held out (`held_out_austen.txt`).
- The {recipe['bible_books']} canonical books of the World English Bible (public domain), from Debian's
  `sword-text-web` package, footnotes and headings removed: {tokens['bible'][0]:,} training tokens,
  {tokens['bible'][1]:,} held out (`held_out_bible.txt`).

Paragraphs are the unit; the last {recipe['held_out_share']:.0%} of the paragraphs of every novel and every book
are held out. Packages: {debs}. Corpus SHA-256 `{recipe['corpus_sha256']}`.

## Training
Seed {recipe['seed']}; {recipe['steps']:,} steps of {recipe['batch']} random windows of {recipe['block']} tokens
({recipe['steps'] * recipe['tokens_per_step'] / recipe['training_tokens']:.1f} passes over the training text);
AdamW (lr {recipe['lr']:g}, betas 0.9/0.95, weight decay 0.1), cosine schedule with warm-up, gradient clipping at
1.0; {recipe['seconds'] / 60:.0f} minutes on a 2-core CPU (torch {recipe['torch']}). The loss curve is in
`training_log.json`, the full recipe in `recipe.json`.

## Evaluation
Perplexity on the held-out paragraphs: **{before:.0f}** before training (random weights), **{after:.2f}** after
(Austen {by_source['austen']:.2f}, Bible {by_source['bible']:.2f}).

## Limits
Tiny and trained on two books' worth of old English prose: no facts, no other languages, no instructions. For
teaching only.
"""


if __name__ == "__main__":
    main()
