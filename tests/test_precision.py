"""The measured choice of training precision: a setting wins, a processor without bfloat16 instructions gets float32
without a probe, a probe's figures decide elsewhere and are kept per machine."""

from __future__ import annotations

import json
import math

import pytest

from ftlab.training import job, precision

FAST_AND_CLOSE = {"fp32_step_s": 1.0, "bf16_step_s": 0.55, "speedup": 1.0 / 0.55, "loss_change": 0.004,
                  "same_labels": 1.0, "batch": "32 texts × 48 tokens"}


@pytest.fixture()
def machine(monkeypatch, tmp_path):
    """Auto mode on a CPU with bfloat16 instructions, a private cache, and a probe that counts its calls."""
    monkeypatch.setenv(precision.PRECISION_ENV, "auto")
    monkeypatch.setattr(precision, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(precision, "cpu_bfloat16_flags", lambda: ("avx512_bf16",))
    calls = []

    def probe():
        calls.append(1)
        return dict(FAST_AND_CLOSE)

    monkeypatch.setattr(precision, "probe", probe)
    return calls


def test_the_setting_wins_and_a_wrong_one_is_refused(monkeypatch):
    monkeypatch.setenv(precision.PRECISION_ENV, "bf16")
    assert precision.choose_precision(device="cpu").autocast == "bf16"
    monkeypatch.setenv(precision.PRECISION_ENV, "FP32")
    choice = precision.choose_precision(device="cpu")
    assert choice.autocast is None and choice.source == "setting" and "FTLAB_PRECISION=fp32" in choice.reason
    monkeypatch.setenv(precision.PRECISION_ENV, "half")
    with pytest.raises(ValueError, match="FTLAB_PRECISION='half' is not a precision: use auto"):
        precision.choose_precision(device="cpu")


@pytest.mark.parametrize("flags, words", [((), "has none of"), (None, "unknown")])
def test_no_bfloat16_instructions_means_float32_without_a_probe(machine, monkeypatch, flags, words):
    monkeypatch.setattr(precision, "cpu_bfloat16_flags", lambda: flags)
    choice = precision.choose_precision(device="cpu")
    assert choice.autocast is None and choice.source == "capability" and words in choice.reason
    assert machine == [], "no probe where bfloat16 would be emulated"


def test_a_gpu_is_not_probed(machine):
    choice = precision.choose_precision(device="cuda")
    assert choice.autocast is None and "FTLAB_PRECISION=bf16" in choice.reason and machine == []


def test_the_probe_decides_once_per_machine(machine, tmp_path, monkeypatch):
    first = precision.choose_precision(device="cpu")
    assert first.autocast == "bf16" and first.source == "probe" and "(1.82×)" in first.reason
    assert json.loads((tmp_path / precision.PROBE_FILE).read_text())["machine"] == precision.machine_key()
    again = precision.choose_precision(device="cpu")
    assert again.autocast == "bf16" and again.source == "cache" and len(machine) == 1
    monkeypatch.setattr(precision, "machine_key", lambda: "another processor")
    assert precision.choose_precision(device="cpu").source == "probe" and len(machine) == 2
    assert precision.choose_precision(device="cpu", refresh=True).source == "probe" and len(machine) == 3


def test_without_measuring_an_unprobed_machine_stays_float32(machine):
    choice = precision.choose_precision(device="cpu", measure=False)
    assert choice.autocast is None and choice.source == "unmeasured" and machine == []


@pytest.mark.parametrize("change, words", [
    ({"bf16_step_s": 0.95, "speedup": 1 / 0.95}, "not the 1.2× faster needed"),
    ({"loss_change": 0.05}, "outside the tolerance"),
    ({"same_labels": 0.5}, "outside the tolerance"),
])
def test_bfloat16_must_be_faster_and_close(change, words):
    autocast, reason = precision.decide({**FAST_AND_CLOSE, **change})
    assert autocast is None and words in reason
    assert precision.decide(FAST_AND_CLOSE)[0] == "bf16"


def test_the_probe_measures_a_real_model():
    from test_serving import small_classifier

    figures = precision.probe(small_classifier(0))
    assert figures["fp32_step_s"] > 0 and figures["bf16_step_s"] > 0
    assert math.isclose(figures["speedup"], figures["fp32_step_s"] / figures["bf16_step_s"])
    assert 0 <= figures["loss_change"] < 0.1 and 0 <= figures["same_labels"] <= 1


def test_ftlab_train_takes_its_precision_from_the_config_or_the_machine(machine):
    config = job.JobConfig(precision="bf16")
    assert job.job_precision(config).autocast == "bf16"
    assert job.job_precision(job.JobConfig(precision="fp32")).autocast is None
    assert job.job_precision(job.JobConfig()).source == "probe"
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        job.JobConfig(precision="fp16").check()


def test_doctor_reports_the_choice(monkeypatch):
    from ftlab import cli

    monkeypatch.setenv(precision.PRECISION_ENV, "fp32")
    report = cli.doctor_report(load_model=False)
    assert report["precision"]["name"] == "float32" and report["precision"]["source"] == "setting"
