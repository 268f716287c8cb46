"""ftlab.course.widgets: the printouts, the charts, and the widgets reacting to input (ipywidgets 7 and 8)."""

import numpy as np
import pandas as pd
import pytest

from ftlab.course import widgets
from ftlab.config import LABELS
from ftlab.training.loop import Run

PNG = b"\x89PNG"


def keyword_model(texts):
    """A stand-in classifier: 'great' → positive, 'late' → negative, anything else mostly neutral."""
    rows = []
    for text in texts:
        if "great" in text:
            rows.append([0.1, 0.2, 0.7])
        elif "late" in text:
            rows.append([0.8, 0.15, 0.05])
        else:
            rows.append([0.2, 0.6, 0.2])
    return np.array(rows)


def unsure_model(texts):
    return np.full((len(texts), 3), 1 / 3)


PREDICTORS = {"zero-shot": unsure_model, "fine-tuned": keyword_model}


@pytest.fixture
def shown(monkeypatch):
    """Pretend a kernel with a widget frontend is running; collect what would be displayed."""
    displayed = []
    monkeypatch.setattr(widgets, "widgets_enabled", lambda: True)
    monkeypatch.setattr(widgets, "_display", displayed.append)
    return displayed


@pytest.fixture
def no_widgets(monkeypatch):
    monkeypatch.setattr(widgets, "widgets_enabled", lambda: False)


def test_probability_table_has_a_row_per_text_and_model():
    table = widgets.probability_table(PREDICTORS, ["a great flight", "late again"])
    assert table.shape == (4, len(LABELS) + 1)
    assert table.loc[("a great flight", "fine-tuned"), "predicted"] == "positive"
    assert table.loc[("late again", "fine-tuned"), "predicted"] == "negative"
    assert table.loc[("late again", "zero-shot"), "neutral"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("texts, error, match", [
    ("one string", TypeError, "wrap it"),
    ([], ValueError, "non-empty"),
    (["ok", "  "], ValueError, "non-blank"),
])
def test_probability_table_refuses_bad_texts(texts, error, match):
    with pytest.raises(error, match=match):
        widgets.probability_table(PREDICTORS, texts)


def test_probability_table_refuses_a_predictor_that_returns_the_wrong_thing():
    with pytest.raises(ValueError, match=r"'two columns' returned shape \(1, 2\)"):
        widgets.probability_table({"two columns": lambda t: np.ones((len(t), 2)) / 2}, ["hi"])
    with pytest.raises(ValueError, match="softmax"):
        widgets.probability_table({"logits": lambda t: np.array([[2.0, -1.0, 0.5]] * len(t))}, ["hi"])
    with pytest.raises(ValueError, match="at least one"):
        widgets.probability_table({}, ["hi"])


def test_playground_prints_the_examples_and_shows_nothing_without_widgets(no_widgets, capsys):
    assert widgets.prediction_playground(PREDICTORS, examples=["a great crew", "late and rude"]) is None
    printed = capsys.readouterr().out
    assert "a great crew" in printed and "late and rude" in printed and "fine-tuned" in printed
    assert "positive" in printed and "negative" in printed


def test_playground_redraws_when_a_sentence_is_typed(shown, capsys):
    view = widgets.prediction_playground(PREDICTORS, examples=["a great crew"])
    assert shown == [view]
    box, chart, verdicts = view.children
    assert bytes(chart.value).startswith(PNG)
    assert "<b>fine-tuned</b>: positive" in verdicts.value
    first = bytes(chart.value)
    box.value = "late by three hours"
    assert bytes(chart.value).startswith(PNG) and bytes(chart.value) != first
    assert "<b>fine-tuned</b>: negative" in verdicts.value and "<b>zero-shot</b>" in verdicts.value
    box.value = "   "
    assert "empty" in verdicts.value


def test_playground_escapes_html_in_model_names(shown):
    view = widgets.prediction_playground({"<script>": keyword_model}, examples=["great"])
    assert "&lt;script&gt;" in view.children[2].value and "<script>" not in view.children[2].value


def test_widgets_are_off_outside_a_kernel_and_when_asked(monkeypatch):
    assert not widgets.widgets_enabled()  # pytest runs no IPython kernel
    monkeypatch.setenv("FTLAB_WIDGETS", "0")
    assert not widgets.widgets_enabled()


def fake_run(n: int, score: float, losses) -> Run:
    return Run(model=None, history=pd.DataFrame({"epoch": [1]}), seconds=float(n) / 10, examples_seen=n,
               stopped_epoch=2, settings={"n_train": n}, step_losses=list(losses), name=f"pretrained, {n}",
               test_scores={"accuracy": score + 0.1, "macro_f1": score})


RUNS = {
    160: fake_run(160, 0.55, np.linspace(1.1, 0.6, 20)),
    40: fake_run(40, 0.35, np.linspace(1.1, 0.9, 20)),
    80: fake_run(80, 0.45, np.linspace(1.1, 0.8, 20)),
}


def test_run_table_sorts_nothing_and_sums_up_each_run():
    table = widgets.run_table(RUNS)
    assert list(table.index) == [160, 40, 80]
    assert table.loc[40, "test macro_f1"] == 0.35 and table.loc[160, "steps"] == 20
    assert table.loc[160, "final training loss"] == pytest.approx(np.linspace(1.1, 0.6, 20)[-10:].mean())


def test_run_table_refuses_runs_without_scores():
    with pytest.raises(ValueError, match="Lab.fit"):
        widgets.run_table({1: fake_run(1, 0.1, [1.0])} | {2: Run(None, pd.DataFrame(), 1.0, 1)})
    with pytest.raises(ValueError, match="empty"):
        widgets.run_table({})


def test_run_explorer_prints_in_order_without_widgets(no_widgets, capsys):
    assert widgets.run_explorer(RUNS, "training tweets") is None
    printed = capsys.readouterr().out
    assert printed.index("\n40 ") < printed.index("\n80 ") < printed.index("\n160 ")


def test_run_explorer_slider_switches_the_chart_and_caption(shown, capsys):
    view = widgets.run_explorer(RUNS, "training tweets", log_x=True, baseline=0.2)
    slider, chart, caption = view.children
    assert list(slider.options) == [40, 80, 160] and slider.value == 160
    assert bytes(chart.value).startswith(PNG) and "0.550" in caption.value
    first = bytes(chart.value)
    slider.value = 40
    assert bytes(chart.value) != first and "0.350" in caption.value and "training tweets = 40" in caption.value


def test_plot_run_marks_the_selected_run():
    fig = widgets.plot_run(RUNS, 80, "training tweets")
    left, right = fig.axes
    ringed = left.lines[1]
    assert list(ringed.get_xdata()) == [80] and list(ringed.get_ydata()) == [0.45]
    red = [line for line in right.lines if line.get_color() == "tab:red"]
    assert len(red) == 1 and red[0].get_label() == "training tweets = 80"
    widgets.figure_png(fig)


def test_probability_table_keeps_each_texts_models_together():
    table = widgets.probability_table(PREDICTORS, ["late", "great"])
    assert list(table.index) == [("late", "zero-shot"), ("late", "fine-tuned"),
                                 ("great", "zero-shot"), ("great", "fine-tuned")]
