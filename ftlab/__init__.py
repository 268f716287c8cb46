"""ftlab: the helper package of the ftlab course on fine-tuning pretrained models.

Grouped by role, in layers; a module imports only from the layers below its own (docs/architecture.md):

- the library every notebook imports: `config` (every setting), `assets` (models and data offline),
  `data` (the tweets and your own files), `audit` (look at a labelled file: duplicates, leaks,
  lengths), `models` (load, batched inference, zero-shot), `evaluate` (scores);
- `training/`: the plain loop, the `Trainer` set-up, runs saved atomically, cheaper ways to fine-tune, the measured
  training precision, `ftlab train`;
- `serving/`: a model folder loaded safely, the HTTP service, the model card;
- `labs/`: code for one lesson's experiments (lesson 06's pitfalls, lesson 07's generative tools and phrasebook, lesson 09's chats and chat tools,
  lesson 10's project data and baselines);
- `course/`: the lesson start, the exercise generator and self-checks, the Colab cells, the widgets;
- `cli` on top: `ftlab doctor`, `ftlab train`, `ftlab serve`.
"""

import warnings as _warnings

__version__ = "0.1.0"

# peft 0.21 and TRL 1.16 read `is_gradient_checkpointing`, an alias transformers 5 deprecates in favour of
# `is_activation_checkpointing`. The FutureWarning is about their code, not the learner's, and would show in red in
# every lesson that trains LoRA or with TRL: this one message is hidden, every other warning still shows.
_warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
