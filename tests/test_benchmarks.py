"""The rough float32 peak that benchmarks/train_speed.py reports a share of, and its breakdown of a training step."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_speed.py"


def _train_speed():
    spec = importlib.util.spec_from_file_location("train_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cpuinfo(vendor: str, family: int, flags: str) -> str:
    return f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nflags\t\t: fpu sse2 {flags}\n"


@pytest.mark.parametrize("vendor, family, flags, expected", [
    ("GenuineIntel", 6, "avx2 fma avx512f avx512_bf16 amx_bf16", 64),  # Sapphire Rapids: two 512-bit FMA units
    ("AuthenticAMD", 25, "avx2 fma avx512f avx512_bf16", 32),  # Zen 4: AVX-512 on two 256-bit units
    ("AuthenticAMD", 26, "avx2 fma avx512f avx512_bf16", 64),  # Zen 5
    ("AuthenticAMD", 25, "avx2 fma", 32),  # Zen 3
    ("GenuineIntel", 6, "sse4_2 avx", 8),  # no FMA
    ("", 0, "", 8),  # no /proc/cpuinfo
])
def test_fp32_flops_per_cycle(vendor, family, flags, expected):
    info = _cpuinfo(vendor, family, flags) if vendor else ""
    assert _train_speed().fp32_flops_per_cycle(info) == expected


def test_step_breakdown_puts_a_float32_step_mostly_in_its_matrix_products():
    step_ms, parts = _train_speed().step_breakdown(bf16=False, steps=2)
    assert set(parts) == set(_train_speed().PARTS)
    assert parts["matrix products"] == max(parts.values()), parts
    assert parts["dropout's random numbers"] > 0 and parts["optimizer and clipping"] > 0, parts
    assert parts["everything else"] >= 0, parts
    assert 0.5 * step_ms < sum(parts.values()) < 3 * step_ms, (step_ms, parts)
