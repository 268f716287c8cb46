"""Lesson 05's sentences (ftlab.course.findings.lesson05)."""

import pandas as pd
import pytest

from ftlab.course.findings import lesson05 as findings


def test_predicted_int8_ratio():
    assert findings.predicted_int8_ratio(0, 100) == 1
    assert findings.predicted_int8_ratio(100, 100) == 0.25
    assert findings.predicted_int8_ratio(50, 100) == pytest.approx(0.625)
    with pytest.raises(ValueError, match="linear_weights"):
        findings.predicted_int8_ratio(101, 100)


def _speed(single_rate: float, batch_rate: float, crowd_rate: float) -> pd.DataFrame:
    return pd.DataFrame({"p50 ms": [10.0, 40.0, 30.0], "p95 ms": [20.0, 50.0, 60.0],
                         "texts/s": [single_rate, batch_rate, crowd_rate]})


def test_describe_service_speed_follows_the_measurements():
    fast = findings.describe_service_speed(_speed(100, 800, 300), batch=32, clients=8, cpu_count=2)
    assert "**10 ms** (p50; p95 20 ms)" in fast and "4.0× as long" in fast and "**8.0×**" in fast
    assert "micro-batching lifts throughput to 300 texts/s (3.0× one client)" in fast
    crowded = findings.describe_service_speed(_speed(100, 800, 105), batch=32, clients=8, cpu_count=2)
    assert "the same 2 CPU cores" in crowded and "lifts" not in crowded
    flat = findings.describe_service_speed(_speed(100, 90, 100), batch=32, clients=8, cpu_count=None)
    assert "did not raise the throughput in this run (0.90×)" in flat and "fixed cost" not in flat


def _int8(single: float, batched: float, low: float, high: float) -> str:
    relative = {"weights MB": 0.65, "ms per single text": single, "texts/s in batches": batched}
    result = {"difference": (low + high) / 2, "low": low, "high": high, "confidence": 0.95, "n_items": 200}
    return findings.describe_int8(relative, 0.644, 0.985, 0.04, result, (30522, 384), 0.516)


def test_describe_int8_reports_size_speed_and_the_interval():
    within = _int8(0.7, 1.4, -0.02, 0.01)
    assert "**0.65×** the space" in within and "expected figure is 0.64×" in within
    assert "30,522 × 384 numbers, 52% of the weights" in within and "faster both ways" in within
    assert "**98.5%** of the 200 test tweets" in within and "within noise" in within
    worse = _int8(1.2, 0.8, -0.05, -0.01)
    assert "slower both ways" in worse and "float32 beats int8 by 3.0 points" in worse
    mixed = _int8(0.9, 0.9, -0.01, 0.02)
    assert "faster one way, slower the other" in mixed


def test_describe_runtime_says_how_much_faster_and_that_the_labels_agree():
    faster = findings.describe_runtime({"ms per single text": 0.4, "texts/s in batches": 1.3}, 1.0, 2e-6, 300)
    assert "**0.40×** the time" in faster and "2.5× as fast" in faster and "1.30× PyTorch's rate" in faster
    assert "**100.0%** of the 300 test tweets" in faster and "2.0e-06 apart" in faster
    slower = findings.describe_runtime({"ms per single text": 1.1, "texts/s in batches": 0.9}, 0.995, 1e-5, 300)
    assert "1.10× PyTorch's time in this run, no faster" in slower and "Python between" not in slower
