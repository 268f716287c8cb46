"""Everything the course can be tuned by, in one place: profiles, labels, seeds, recipes, folders, limits.

It also reads the course's environment settings (`env_flag`) and tells where the code runs (`in_notebook`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

PROFILE_ENV = "FTLAB_PROFILE"
DEFAULT_PROFILE = "standard"  # without FTLAB_PROFILE: this on a CPU, GPU_PROFILE where a CUDA GPU is present
GPU_PROFILE = "full"

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
SEED_ENV = "FTLAB_SEED"
DEFAULT_SEED = 42


def _seed_from_environment() -> int:
    value = os.environ.get(SEED_ENV, "").strip()
    if not value:
        return DEFAULT_SEED
    try:
        seed = int(value)
    except ValueError:
        raise ValueError(f"{SEED_ENV}={value!r} is not a whole number: set it to e.g. {SEED_ENV}=7, "
                         f"or unset it for the default seed {DEFAULT_SEED}") from None
    if not 0 <= seed < 2 ** 32:
        raise ValueError(f"{SEED_ENV}={seed} is out of range: use a whole number from 0 to {2 ** 32 - 1}")
    return seed


# The seed every random choice of the course starts from (sampling, initialisation, data order); FTLAB_SEED sets it.
SEED = _seed_from_environment()


def seeds(n: int) -> tuple[int, ...]:
    """`n` different seeds for a lesson that compares runs over seeds, starting from SEED (so FTLAB_SEED moves them)."""
    if n < 1:
        raise ValueError(f"ask for at least one seed, got {n}")
    return tuple((SEED + 1009 * i) % 2 ** 32 for i in range(n))

# Share of the cleaned tweets in each fixed split (stratified by label and topic).
SPLIT_FRACTIONS = {"train": 0.7, "validation": 0.1, "test": 0.2}

# The tweets' topic, derived from the text (the file merges separate data sets and has no topic column). Rules are
# tried in order and the first match wins (a tweet to @united that mentions an iPhone is an airline tweet). Airline
# tweets are recognised by the airlines' handles, the others by keywords and hashtags.
TOPIC_RULES: tuple[tuple[str, str], ...] = (
    ("airline", r"@(?:united|usairways|americanair|southwestair|jetblue|virginamerica|delta\w*)\b"),
    (
        "deflategate",
        r"deflate|brady|belichick|patriots|#pats\b|\bpsi\b|\bnfl|goodell|super ?bowl|seahawks|footballs?\b",
    ),
    ("coachella", r"coachella"),
    ("claritin", r"claritin"),
    (
        "self_driving",
        r"driver ?-? ?less|self[- #]*driving|autonomous|automous|automated (?:car|vehicle)|google car|robot car",
    ),
    ("apple", r"@apple\b|#apple\b|\bapple\b|iphone|ipad|\bios\b|\bmac\b|itunes|macbook|aapl"),
)
OTHER_TOPIC = "other"
TOPICS: tuple[str, ...] = tuple(name for name, _ in TOPIC_RULES) + (OTHER_TOPIC,)

# Annotator agreement at or above this counts as a "high-confidence" label.
HIGH_CONFIDENCE = 0.8

# The rest of the fine-tuning recipe of lesson 03 (the learning rate is in the profile); warmup is a share
# of the training steps. Gradients are clipped to this norm before every optimizer step.
WEIGHT_DECAY = 0.01
WARMUP = 0.1
MAX_GRAD_NORM = 1.0

# Lesson 07's recipe for the causal language model: cosine schedule, warm-up share, weight decay.
GENERATIVE_SCHEDULE = "cosine"
GENERATIVE_WARMUP = 0.1
GENERATIVE_WEIGHT_DECAY = 0.01

# Lesson 09: the tiny GPT-2 made a chat assistant with TRL, in three stages, per profile: optimizer steps, chats
# (SFT) or preference pairs (DPO) per step, learning rate; GRPO samples `num_generations` answers to each of
# `prompts` prompts per step. The schedule and weight decay are lesson 07's (GENERATIVE_*). Measured with
# scripts/measure_assistant.py on 2 CPU cores: quick SFT 28 s, held-out score +0.28 over the base model (95 %
# interval 0.22 to 0.34; 50 steps gave +0.21, 150 steps +0.29 with the small tasks' chats memorised); DPO pairs 6 s,
# DPO 6 s, GRPO 6 s. Standard SFT 240 s, +0.50 (0.48 to 0.52); DPO pairs 20 s, DPO 46 s, GRPO 2 s a step. At these
# learning rates DPO and GRPO leave the held-out score within ±0.02; at 5e-4 (DPO past 2 epochs of its pairs, GRPO)
# they lowered it. The standard sizes were cut for a 2-core AMD EPYC with AVX2 only, where the earlier ones (SFT
# 400 × 32, DPO 60, GRPO 30 steps, every held-out chat scored) took 21 minutes with a validation score of 0.69 after
# SFT; with DPO at 50 steps and the spread counted on 384 chats these took 10.9 minutes there (SFT 160 s, 0.37
# after SFT, +0.32 over the base model), with DPO at 40 steps and the spread on 128 chats 8.2 minutes (DPO still
# ranks 59 % of the held-out pairs the right way round). The quick sizes were cut on that machine from SFT 80, DPO 20
# and GRPO 10 steps (lesson 09 under quick: 164 s in the test suite) to 50, 12 and 8 (143 s alone: SFT 33 s with
# +0.20 over the base model, 95 % interval 0.14 to 0.27; DPO ranks 75 % of the held-out pairs the right way round).
# Then, on a 2-core AMD EPYC with AVX-512 (Zen 4), to SFT 40 steps at 3e-3, DPO 6 at 1e-4, GRPO 5, 16 held-out chats
# per task and 40 DPO prompts: 74-80 s at six seeds against 97 s for the sizes before in the same session; SFT
# +0.17 to +0.23 over the base model (every interval above 0), DPO ranks 62-79 % of the held-out pairs right.
ASSISTANT_SFT: dict[str, dict] = {
    "quick": dict(steps=40, batch_size=16, learning_rate=3e-3),
    "standard": dict(steps=300, batch_size=16, learning_rate=1e-3),
    "full": dict(steps=1500, batch_size=32, learning_rate=5e-4),
}
ASSISTANT_DPO: dict[str, dict] = {
    "quick": dict(steps=6, batch_size=8, learning_rate=1e-4),
    "standard": dict(steps=40, batch_size=16, learning_rate=5e-5),
    "full": dict(steps=200, batch_size=32, learning_rate=5e-5),
}
ASSISTANT_GRPO: dict[str, dict] = {
    "quick": dict(steps=5, prompts=4, num_generations=4, learning_rate=5e-5),
    "standard": dict(steps=12, prompts=8, num_generations=8, learning_rate=5e-5),
    "full": dict(steps=200, prompts=16, num_generations=8, learning_rate=5e-5),
}
# The chats per profile: at most `max_per_task` training chats of each task (None: all; the translations are most
# of them), `eval_per_task` held-out chats of each task scored before and after (None: all), `dpo_prompts`
# training chats the SFT model answers `dpo_samples` times each to make DPO's preference pairs, and `spread_prompts`
# training chats answered once per GRPO group member to count groups whose rewards do not differ.
ASSISTANT_CHATS: dict[str, dict] = {
    "quick": dict(max_per_task=200, eval_per_task=16, dpo_prompts=40, dpo_samples=4, spread_prompts=24),
    "standard": dict(max_per_task=None, eval_per_task=60, dpo_prompts=384, dpo_samples=4, spread_prompts=128),
    "full": dict(max_per_task=None, eval_per_task=None, dpo_prompts=2000, dpo_samples=8, spread_prompts=512),
}
ASSISTANT_MAX_LENGTH = 128  # tokens per chat in SFT and DPO (the longest, with the system prompt, has 72)
ASSISTANT_MAX_ANSWER = 48  # tokens the assistant may write when answering (generation, GRPO's samples)
ASSISTANT_DPO_BETA = 0.1  # how far DPO may pull the model from its reference (larger: stay closer)

# Where lessons save the models they train, one folder per profile: $FTLAB_RUNS_DIR, else cache_dir()/runs.
RUNS_ENV = "FTLAB_RUNS_DIR"
# The record ftlab writes next to every model it trains (recipe, base model, scores), read by the card and service.
RUN_INFO = "ftlab_run.json"

# The HTTP service's limits: texts per request, characters per text, and how long a request may wait (ms) for
# others to join its batch. 0: none; requests that queue while the model is busy still share the next batch, and a
# lone request no longer pays a window (benchmarks/serve_latency.py measures both). The number of tokens it reads
# per text is the one the model was trained with.
SERVE_MAX_BATCH = 64
SERVE_MAX_CHARS = 2_000
SERVE_MAX_WAIT_MS = 0.0

# Environment switches: FTLAB_LIVE_PLOT=0 prints training progress instead of redrawing a plot, FTLAB_WIDGETS=0
# keeps only the printouts of the interactive views.
LIVE_PLOT_ENV = "FTLAB_LIVE_PLOT"
WIDGETS_ENV = "FTLAB_WIDGETS"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def cache_dir() -> Path:
    """The course's folder for what it keeps between runs: ~/.cache/ftlab (assets you add, models lessons train)."""
    return Path.home() / ".cache" / "ftlab"


def env_choice(name: str, choices: tuple[str, ...], default: str, what: str, hint: str) -> str:
    """The value of environment variable `name`, one of `choices` (`default` when unset or empty); anything else is
    a ValueError that names it as not a `what` and says `hint` (which values to use)."""
    value = os.environ.get(name, default).strip().lower() or default
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not a {what}: use {hint}")
    return value


def env_flag(name: str, default: bool) -> bool:
    """The on/off setting in environment variable `name` (1/true/yes/on or 0/false/no/off); `default` if unset."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return default


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, VS Code, Colab), where plots can redraw and widgets can show."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


@dataclass(frozen=True)
class Profile:
    """The sizes one run of the course uses; pick one with FTLAB_PROFILE."""

    name: str
    n_train: int | None  # training examples sampled from the train split (None: all of it)
    n_eval: int | None  # examples sampled from validation and from test (None: all of them)
    epochs: int
    max_length: int  # tokens per example; 64 keeps 99.5 % of the raw tweets whole (99.99 % once cleaned)
    batch_size: int
    learning_rate: float  # for fine-tuning the whole model; fewer steps (quick) need a larger one
    model: str  # a course asset name or a Hugging Face hub name
    description: str

    def as_dict(self) -> dict:
        """The profile as a plain dictionary (for tables and JSON)."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        n_train=400,
        n_eval=200,
        epochs=2,
        max_length=64,
        batch_size=16,
        learning_rate=2e-4,
        model="minilm",
        description="tests and a first look: each notebook in about a minute on 2 CPU cores",
    ),
    "standard": Profile(
        name="standard",
        # 6,000 tweets × 2 epochs cost what 4,000 × 3 did on the reference machine (about 4.5 minutes of training)
        # and scored higher on the test split: macro-F1 0.763 vs 0.748, against 0.694-0.703 for the best TF-IDF
        # baseline. More distinct examples help this model more than another pass over the same ones.
        n_train=6000,
        n_eval=1500,
        epochs=2,
        max_length=64,
        batch_size=32,
        learning_rate=1e-4,
        model="minilm",
        description="a laptop CPU: each lesson's hands-on part in at most 10 minutes",
    ),
    "full": Profile(
        name="full",
        n_train=None,
        n_eval=None,
        epochs=4,
        max_length=128,
        batch_size=32,
        learning_rate=5e-5,
        model="minilm",
        description="a GPU (e.g. Colab): all the data, more epochs; set model to a hub name to go bigger",
    ),
}


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def default_profile() -> str:
    """The profile used when FTLAB_PROFILE is not set: 'full' on a CUDA GPU (e.g. Colab's), else 'standard'."""
    return GPU_PROFILE if _has_cuda() else DEFAULT_PROFILE


def get_profile(name: str | None = None) -> Profile:
    """Return the profile called `name`, or the one named by $FTLAB_PROFILE (default: `default_profile()`)."""
    chosen = name if name is not None else os.environ.get(PROFILE_ENV) or default_profile()
    key = chosen.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown profile {chosen!r}; profiles are {sorted(PROFILES)}: "
            f"set {PROFILE_ENV} to one of them (e.g. {PROFILE_ENV}=quick) or pass name='quick'"
        )
    return PROFILES[key]


# Sentences that describe each label, for the zero-shot baseline: a tweet is given the label whose
# descriptions its embedding is closest to. Nothing is trained on the task.
ZERO_SHOT_PROMPTS: dict[str, tuple[str, ...]] = {
    "negative": (
        "This is terrible, I am angry and disappointed.",
        "Worst service ever, I hate this.",
        "A complaint about a bad experience.",
    ),
    "neutral": (
        "Here is some news and information.",
        "A factual question or statement.",
        "Does anyone know what time it starts?",
    ),
    "positive": (
        "This is great, I love it, thank you!",
        "Amazing experience, I am so happy.",
        "Praise for excellent service.",
    ),
}
