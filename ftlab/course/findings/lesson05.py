"""Lesson 05's sentences built from its measurements: what batching and many clients do to the service's speed,
what running the same model on ONNX Runtime changes, and what 8-bit weights change.

Each function takes numbers the notebook measured and returns Markdown, so the notebook's cells show the
measurement and one call, and the wording can be tested here. Timings on a shared machine are noisy: the sentences
report them as measured and draw no conclusion that a busy neighbour could reverse.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ftlab.evaluate import describe_difference


def predicted_int8_ratio(linear_weights: int, all_parameters: int) -> float:
    """The size of a dynamically quantized model relative to float32, if only its Linear weights become 1 byte.

    Every other number (embeddings, LayerNorms, biases) stays 4 bytes; the per-matrix scales are negligible.
    """
    if not 0 <= linear_weights <= all_parameters or all_parameters <= 0:
        raise ValueError(f"linear_weights must be between 0 and all_parameters (> 0), got {linear_weights} and "
                         f"{all_parameters}")
    return 1 - 3 * linear_weights / (4 * all_parameters)


def describe_service_speed(speed, batch: int, clients: int, cpu_count: int | None) -> str:
    """Latency and throughput of the three ways of calling the service (rows in the order: one text per request,
    `batch` texts per request, `clients` clients at once; columns p50 ms, p95 ms, texts/s)."""
    single, batched, crowd = (speed.iloc[i] for i in range(3))
    gain = batched["texts/s"] / single["texts/s"]
    cost_ratio = batched["p50 ms"] / single["p50 ms"]
    crowd_gain = crowd["texts/s"] / single["texts/s"]
    text = (f"One text per request takes **{single['p50 ms']:.0f} ms** (p50; p95 {single['p95 ms']:.0f} ms). A "
            f"request with {batch} texts takes {cost_ratio:.1f}× as long as a request with one")
    if gain > 1:
        text += (f": much of a request's time is a fixed cost (HTTP, the Python code around the model, starting each "
                 f"layer's computation) that a batch pays once. So batching classifies **{gain:.1f}×** as many "
                 f"texts per second. ")
    else:
        text += f", so batching did not raise the throughput in this run ({gain:.2f}×). "
    if crowd_gain > 1.1:
        text += (f"With {clients} clients at once, the service's micro-batching lifts throughput to "
                 f"{crowd['texts/s']:.0f} texts/s ({crowd_gain:.1f}× one client) without the clients doing anything, "
                 f"at the price of a higher latency per request ({crowd['p50 ms']:.0f} ms p50).")
    else:
        cores = f"the same {cpu_count} CPU cores" if cpu_count else "the same CPU cores"
        text += (f"With {clients} clients at once it handles {crowd['texts/s']:.0f} texts/s ({crowd_gain:.1f}× one "
                 f"client): here the clients run on {cores} as the server and take their share of them, so "
                 f"micro-batching does not make up for the competition.")
    return text


def describe_runtime(relative: Mapping[str, float], agreement: float, largest_change: float, n_items: int) -> str:
    """ONNX Runtime against PyTorch, both float32 with the same weights.

    `relative`: ONNX Runtime ÷ PyTorch for "ms per single text" and "texts/s in batches"; `agreement`: the share of
    test items with the same label; `largest_change`: the largest difference of a probability between the two.
    """
    single, batched = relative["ms per single text"], relative["texts/s in batches"]
    if single < 1:
        text = (f"The same weights on ONNX Runtime answer a single text in **{single:.2f}×** the time PyTorch takes "
                f"({1 / single:.1f}× as fast)")
    else:
        text = f"On ONNX Runtime a single text took {single:.2f}× PyTorch's time in this run, no faster"
    text += (f", and classify batches at {batched:.2f}× PyTorch's rate. Most of a single text's time in PyTorch is "
             f"Python between the layers, which ONNX Runtime does not have; in a batch the matrix products "
             f"dominate, and both runtimes compute them with similar kernels. " if single < 1 else
             f", and batches at {batched:.2f}× its rate. ")
    text += (f"It is the same computation: the same label for **{agreement:.1%}** of the {n_items:,} test tweets, "
             f"probabilities at most {largest_change:.1e} apart (rounding in another order of operations).")
    return text


def describe_int8(relative: Mapping[str, float], predicted_ratio: float, agreement: float, largest_change: float,
                  int8_vs_float: Mapping[str, float], embedding_shape: Sequence[int], embedding_share: float) -> str:
    """Size, speed and accuracy of the int8 variant against the float32 original on the same runtime.

    `relative`: int8 ÷ original for "weights MB", "ms per single text" and "texts/s in batches";
    `int8_vs_float`: `evaluate.paired_bootstrap` of int8 minus original on the same test tweets (macro-F1).
    """
    size = relative["weights MB"]
    single, batched = relative["ms per single text"], relative["texts/s in batches"]
    rows, width = embedding_shape
    text = (f"The int8 weights take **{size:.2f}×** the space of the original; if only the weights of the matrix "
            f"products shrink to a quarter, the expected figure is {predicted_ratio:.2f}×. They do not shrink further because the "
            f"word embeddings ({rows:,} × {width} numbers, {embedding_share:.0%} of the weights) stay in float32. ")
    faster = single < 1 and batched > 1
    slower = single > 1 and batched < 1
    text += (f"In this run the int8 model needs {single:.2f}× the time for a single text and classifies batches at "
             f"{batched:.2f}× the rate: "
             + ("faster both ways" if faster else "slower both ways" if slower else "faster one way, slower the other")
             + " (timings move from run to run on a shared machine; measure on the machine you deploy to). ")
    text += (f"It gives the same label for **{agreement:.1%}** of the {int8_vs_float['n_items']:,} test tweets "
             f"(largest change of a probability: {largest_change:.3f}). "
             + describe_difference(dict(int8_vs_float), "int8", "float32"))
    return text
