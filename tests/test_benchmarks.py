"""The rough float32 peak that benchmarks/train_speed.py reports a share of."""

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
