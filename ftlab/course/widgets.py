"""Interactive views for the lessons (ipywidgets 7 or 8), each with a plain printout where widgets cannot render.

Every view first prints what it shows for a fixed set of inputs (what a terminal, nbval or a notebook viewer without
a kernel shows), then, where ipywidgets is installed and a kernel is running, displays the interactive widget below
it. Charts inside the widgets are PNG images drawn by matplotlib, so they look the same in JupyterLab, classic
Jupyter, VS Code and Colab. `FTLAB_WIDGETS=0` turns the widgets off (printouts only).
"""

from __future__ import annotations

import html
import io
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ftlab.config import LABELS, WIDGETS_ENV, env_flag, in_notebook
from ftlab.training.loop import Run

Predictor = Callable[[list[str]], np.ndarray]
"""A model as the playground sees it: a list of texts → probabilities, shape (texts, labels), rows summing to 1."""

EXAMPLES = (
    "The crew were wonderful, thank you!",
    "Two hours on the tarmac and not a word from anyone.",
    "Flight 22 boards at gate 5.",
)
MAX_CHARS = 500


# ---------------------------------------------------------------------------------------------------
# Shared parts


def widgets_enabled() -> bool:
    """True where a widget can be shown: ipywidgets importable, an IPython kernel running, FTLAB_WIDGETS not 0."""
    if not env_flag(WIDGETS_ENV, True):
        return False
    try:
        import ipywidgets  # noqa: F401 - only whether it imports matters here
    except ImportError:
        return False
    return in_notebook()


def _display(view) -> None:
    from IPython.display import display

    display(view)


def figure_png(fig) -> bytes:
    """The figure as PNG bytes (for an ipywidgets.Image); the figure is closed, so it is not also shown inline."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------------------------------------------
# Prediction playground: type a sentence, see every model's class probabilities


def probability_table(predictors: Mapping[str, Predictor], texts: Sequence[str],
                      labels: Sequence[str] = LABELS) -> pd.DataFrame:
    """One row per (text, model): the probability of each label and the predicted label."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string: wrap it as [text]")
    if not predictors:
        raise ValueError("predictors is empty: give at least one {name: function(texts) -> probabilities}")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError("texts must be a non-empty list of non-blank strings")
    answers = {}
    for name, predict in predictors.items():
        probs = np.asarray(predict(texts), dtype=float)
        if probs.shape != (len(texts), len(labels)):
            raise ValueError(f"predictor {name!r} returned shape {probs.shape}; expected ({len(texts)}, "
                             f"{len(labels)}): one probability per label for every text")
        if not np.allclose(probs.sum(axis=1), 1, atol=1e-3) or (probs < 0).any():
            raise ValueError(f"predictor {name!r} must return probabilities (each row ≥ 0 and summing to 1); "
                             f"apply a softmax to logits or scores first")
        answers[name] = probs
    rows = [{"text": text, "model": name, **dict(zip(labels, probs[i])), "predicted": labels[int(probs[i].argmax())]}
            for i, text in enumerate(texts) for name, probs in answers.items()]
    return pd.DataFrame(rows).set_index(["text", "model"])


def plot_probabilities(table: pd.DataFrame, text: str, labels: Sequence[str] = LABELS, ax=None):
    """Grouped bars for one text of a `probability_table`: each model's probability of each label."""
    import matplotlib.pyplot as plt

    part = table.xs(text, level="text")[list(labels)]
    ax = ax or plt.subplots(figsize=(6.4, 2.8))[1]
    width = 0.8 / len(part)
    x = np.arange(len(labels))
    for i, (model, row) in enumerate(part.iterrows()):
        bars = ax.bar(x - 0.4 + (i + 0.5) * width, row.values, width=width, label=model)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_xticks(x, list(labels))
    ax.set(ylim=(0, 1.12), ylabel="probability", title=f"“{_short(text)}”")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def _playground_chart(predictors, text: str, labels) -> tuple[bytes, pd.DataFrame]:
    import matplotlib.pyplot as plt

    table = probability_table(predictors, [text], labels)
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    plot_probabilities(table, text, labels, ax=ax)
    return figure_png(fig), table


def _verdicts_html(table: pd.DataFrame) -> str:
    items = [f"<b>{html.escape(str(model))}</b>: {html.escape(str(row['predicted']))}"
             for (_, model), row in table.iterrows()]
    return "Predicted: " + " · ".join(items)


def prediction_playground(predictors: Mapping[str, Predictor], labels: Sequence[str] = LABELS,
                          examples: Sequence[str] = EXAMPLES):
    """Type a sentence, see each model's class probabilities side by side.

    Prints the probability table of `examples` first; then, where widgets can be shown, displays a text box (press
    Enter to predict) above a bar chart and each model's predicted label. Returns the widget, or None where only
    the printout was shown.
    """
    table = probability_table(predictors, examples, labels)
    print(table.round(3).to_string())
    if not widgets_enabled():
        return None
    import ipywidgets as w

    box = w.Text(value=examples[0], placeholder="Type a sentence and press Enter",
                 description="Sentence:", continuous_update=False, layout=w.Layout(width="95%"))
    image, table_one = _playground_chart(predictors, examples[0], labels)
    chart = w.Image(value=image, format="png", layout=w.Layout(max_width="720px"))
    verdicts = w.HTML(value=_verdicts_html(table_one))

    def update(change=None) -> None:
        text = box.value.strip()[:MAX_CHARS]
        if not text:
            verdicts.value = "Type a sentence first: the box is empty."
            return
        chart.value, one = _playground_chart(predictors, text, labels)
        verdicts.value = _verdicts_html(one)

    box.observe(update, names="value")
    view = w.VBox([box, chart, verdicts])
    _display(view)
    return view


# ---------------------------------------------------------------------------------------------------
# Run explorer: a slider over recorded runs (one setting changed) and what each run did


def run_table(runs: Mapping[float, Run], score: str = "macro_f1") -> pd.DataFrame:
    """One row per setting: training size, epochs, steps, seconds, the last steps' loss and the test score."""
    if not runs:
        raise ValueError("runs is empty: give {setting: run} for the runs to compare")
    rows = {}
    for setting, run in runs.items():
        if score not in (run.test_scores or {}):
            raise ValueError(f"the run for {setting!r} has no test score {score!r}: train it with Lab.fit, "
                             f"which scores every run on the test tweets")
        losses = np.asarray(run.step_losses, dtype=float)
        rows[setting] = {"training examples": run.settings.get("n_train"), "epochs": run.stopped_epoch,
                         "steps": len(losses), "seconds": round(run.seconds, 1),
                         "final training loss": float(losses[-10:].mean()) if len(losses) else float("nan"),
                         f"test {score}": run.test_scores[score]}
    return pd.DataFrame.from_dict(rows, orient="index")


def _pretty(score: str) -> str:
    return {"macro_f1": "macro-F1", "accuracy": "accuracy"}.get(score, score)


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window < 2:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot_run(runs: Mapping[float, Run], selected, parameter: str, score: str = "macro_f1",
             log_x: bool = False, baseline: float | None = None, window: int = 5):
    """Two panels: the test score against the setting (the selected run ringed) and the runs' training losses.

    The losses are averaged over `window` consecutive steps: one step's loss depends on its batch and jumps about.
    """
    import matplotlib.pyplot as plt

    settings = sorted(runs)
    values = [runs[s].test_scores[score] for s in settings]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.3))
    left.plot(settings, values, "o-", color="tab:blue")
    left.plot([selected], [runs[selected].test_scores[score]], "o", ms=16, mfc="none", mec="tab:red", mew=2)
    if baseline is not None:
        left.axhline(baseline, color="grey", ls=":", label="always the most common label")
        left.legend(fontsize=8, loc="lower right")
    if log_x:
        left.set_xscale("log")
    left.set_xticks(settings, [f"{s:g}" if isinstance(s, (int, float)) else str(s) for s in settings])
    left.minorticks_off()
    left.set(xlabel=parameter, ylabel=f"test {_pretty(score)}", title=f"Test score by {parameter}")
    for setting in settings:
        losses = _smooth(np.asarray(runs[setting].step_losses, dtype=float), window)
        steps = np.arange(len(losses)) + (window + 1) / 2 if len(losses) else losses
        chosen = setting == selected
        right.plot(steps, losses, color="tab:red" if chosen else "grey", alpha=1 if chosen else 0.35,
                   lw=1.6 if chosen else 1, label=f"{parameter} = {setting}" if chosen else None,
                   zorder=3 if chosen else 1)
    right.axhline(np.log(len(LABELS)), color="black", ls="--", lw=0.8, label=f"ln {len(LABELS)} (guessing)")
    right.set(xlabel="training step", ylabel=f"training loss ({window}-step mean)",
              title="Training loss of each run (selected in red)")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run_explorer(runs: Mapping[float, Run], parameter: str, score: str = "macro_f1", log_x: bool = False,
                 baseline: float | None = None):
    """A slider over `runs` ({setting: run}, e.g. {training size: run}) showing each run's score and loss curve.

    Prints `run_table(runs)` first; then, where widgets can be shown, displays a slider above the two-panel chart
    of `plot_run` and a line about the selected run. Returns the widget, or None where only the printout was shown.
    """
    runs = dict(sorted(runs.items()))
    table = run_table(runs, score)
    print(table.round(3).rename_axis(parameter).to_string())
    if not widgets_enabled():
        return None
    import ipywidgets as w

    slider = w.SelectionSlider(options=list(runs), value=list(runs)[-1], description=f"{parameter}:",
                               continuous_update=False, style={"description_width": "initial"},
                               layout=w.Layout(width="60%"))
    chart = w.Image(format="png", layout=w.Layout(max_width="1000px"))
    caption = w.HTML()

    def update(change=None) -> None:
        setting = slider.value
        chart.value = figure_png(plot_run(runs, setting, parameter, score, log_x, baseline))
        row = table.loc[setting]
        caption.value = (f"<b>{html.escape(parameter)} = {html.escape(str(setting))}</b>: {int(row['steps'])} "
                         f"training steps ({int(row['epochs'])} epochs) in {row['seconds']:.0f} s, training loss at "
                         f"the end {row['final training loss']:.2f}, test {html.escape(_pretty(score))} "
                         f"<b>{row[f'test {score}']:.3f}</b>")

    slider.observe(update, names="value")
    update()
    view = w.VBox([slider, chart, caption])
    _display(view)
    return view
