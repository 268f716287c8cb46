import pytest

from ftlab.course.findings import lesson08 as findings


def test_rate_choice_lists_every_rate_and_warns_at_the_edge():
    inside = findings.rate_choice("LoRA", {1: 0.30, 20: 0.61, 40: 0.55}, 20)
    assert "20× the profile's learning rate" in inside and "0.300 at 1×" in inside and "0.550 at 40×" in inside
    assert "edge" not in inside
    top = findings.rate_choice("LoRA", {1: 0.30, 40: 0.61}, 40)
    assert "larger edge" in top and "a larger rate might do better" in top
    bottom = findings.rate_choice("full", {1: 0.60, 2: 0.50}, 1)
    assert "smaller edge" in bottom


def test_rate_choice_with_one_rate_has_no_edge_and_refuses_an_untried_rate():
    assert "edge" not in findings.rate_choice("full", {1: 0.6}, 1)
    with pytest.raises(ValueError, match="not among the multiples tried"):
        findings.rate_choice("full", {1: 0.6, 2: 0.5}, 4)


def test_cost_sentence_compares_with_the_reference():
    costs = {"full": {"trainable": 1000, "s / epoch": 10.0, "peak memory (MB)": 300},
             "head": {"trainable": 10, "s / epoch": 4.0, "peak memory (MB)": 50}}
    text = findings.cost_sentence(costs, "full")
    assert text.startswith("full trains 1,000 weights, takes 10.0 s per epoch and 300 MB")
    assert "head trains 1.00% of its weights in 40% of its time per epoch, with 50 MB." in text
    with pytest.raises(ValueError, match="reference"):
        findings.cost_sentence(costs, "lora")


def test_quality_summary_groups_methods_by_their_interval():
    differences = {"head": {"difference": -0.2, "low": -0.25, "high": -0.15, "confidence": 0.95, "n_items": 100},
                   "lora": {"difference": -0.01, "low": -0.05, "high": 0.03, "confidence": 0.95, "n_items": 100},
                   "big": {"difference": 0.1, "low": 0.02, "high": 0.2, "confidence": 0.95, "n_items": 100}}
    text = findings.quality_summary(differences, "full")
    assert "full beats head by 20.0 points" in text
    assert "lora and full differ by -1.0 points of macro-F1, within noise" in text
    assert "big beats full by 10.0 points" in text
    assert text.endswith("In short: behind full: head; ahead of full: big; "
                         "not told apart from full by these test tweets: lora.")
    only_level = findings.quality_summary({"lora": differences["lora"]}, "full")
    assert only_level.endswith("In short: not told apart from full by these test tweets: lora.")


def test_precision_note_follows_the_measurement_and_the_processor():
    fast = findings.precision_note("cpu", 1.6, ("avx512_bf16",))
    assert fast.startswith("Worth using here.") and "avx512_bf16" in fast and "yet" not in fast
    slow_with = findings.precision_note("cpu", 0.9, ("avx512_bf16", "amx_bf16"))
    assert slow_with.startswith("Not worth it on this cpu") and "avx512_bf16, amx_bf16" in slow_with
    assert "cost as much as they save" in slow_with
    without = findings.precision_note("cpu", 0.5, ())
    assert "no bfloat16 instructions" in without and without.startswith("Not worth it")
    assert "not known" in findings.precision_note("cpu", 0.5, None)
    assert findings.precision_note("cuda", 2.0, None) == "Worth using here."


def test_bfloat16_flags_are_read_from_cpuinfo():
    from ftlab.training.efficient import cpu_bfloat16_flags

    assert cpu_bfloat16_flags("processor : 0\nflags : fpu avx2 avx512f avx512_bf16\n") == ("avx512_bf16",)
    assert cpu_bfloat16_flags("flags : fpu avx2 fma\n") == ()
    assert cpu_bfloat16_flags("Hardware : Apple M2\n") is None
    assert cpu_bfloat16_flags() in (None, (), ("avx512_bf16",), ("amx_bf16",), ("avx512_bf16", "amx_bf16"))
