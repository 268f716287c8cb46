"""Training: the plain PyTorch loop, the transformers `Trainer` set-up, runs saved atomically, cheaper ways to
fine-tune, and `ftlab train`.

The modules, each with one job: `batching` (padding and length-grouped batches), `loop` (lesson 03's loop as
`train_classifier`, the optimizer, early stopping), `trainer` (the Trainer's arguments, `fine_tune`, the live
training plot), `runs` (atomic saving, run records, lesson 03's model kept for the later lessons), `efficient`
(full, head-only, frozen layers, LoRA; memory and step cost), `precision` (float32 or bfloat16, measured),
`tracking` (every run written to TensorBoard's files and read back), `job` (`ftlab train`). The names a notebook
uses are importable from here: `from ftlab import training`, then `training.train_classifier(...)`.
"""

from ftlab.training import tracking
from ftlab.training.batching import length_grouped_batches, make_collator, model_inputs, sort_by_length
from ftlab.training.loop import EarlyStopping, Run, early_stopping_epochs, evaluate_classifier, make_optimizer, \
    train_classifier
from ftlab.training.runs import FINETUNED, finetuned_model, read_run_info, runs_dir, save_atomically, \
    save_finetuned, write_text_atomically
from ftlab.training.trainer import TrainingHistory, fine_tune, live_plot_enabled, plot_history, training_arguments

__all__ = [
    "EarlyStopping", "FINETUNED", "Run", "TrainingHistory", "early_stopping_epochs", "evaluate_classifier",
    "fine_tune", "finetuned_model", "length_grouped_batches", "live_plot_enabled", "make_collator",
    "make_optimizer", "model_inputs", "plot_history", "read_run_info", "runs_dir", "save_atomically",
    "save_finetuned", "sort_by_length", "tracking", "train_classifier", "training_arguments",
    "write_text_atomically",
]
