"""``to_additive_4d`` alone (issue: speed): the built-in against the write bound and two straightforward
conversions, in one pytest-benchmark group per size so that the table's ratios come from one run.

    pytest benchmarks/test_conversion_speed.py --benchmark-only --benchmark-group-by=param:size

- ``bound``: a fresh float32 ``[B, 1, L, L]`` allocated and written once (``numpy.empty().fill()``);
- ``to_additive_4d``: the built-in (on the CPU, one pass of the native writer);
- ``where``: openpi's formulation, ``torch.where(mask, 0, masked_value)``;
- ``one_minus_times_min``: the textbook one, ``(1 - mask.float()) * finfo.min``.

Each benchmark checks its output against the ``where`` formulation before it is timed. PyTorch runs on one
thread, as ``maskoracle bench --threads 1`` does: every contender then has one core, like the native writer.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from maskoracle.implementations import torch as torch_impl  # noqa: E402
from maskoracle.speed.bench import workload_inputs  # noqa: E402

SIZES = {"8x1024": (8, 1024), "2x4096": (2, 4096)}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _one_minus_times_min(mask: torch.Tensor) -> torch.Tensor:
    return (1.0 - mask[:, None].float()) * torch_impl.MASKED_VALUE


CONVERSIONS = {
    "to_additive_4d": torch_impl.to_additive_4d,
    "where": torch_impl._to_additive_4d_by_where,
    "one_minus_times_min": _one_minus_times_min,
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("conversion", ["bound", *CONVERSIONS])
def test_to_additive_4d_speed(benchmark, conversion: str, size: str) -> None:
    B, L = SIZES[size]
    pad, att = workload_inputs(B, L, "pi05_subtask")
    mask = torch_impl.block_causal(torch.from_numpy(pad), torch.from_numpy(att))
    if conversion == "bound":
        benchmark(lambda: np.empty((B, 1, L, L), dtype=np.float32).fill(1))
    else:
        convert = CONVERSIONS[conversion]
        expected = torch_impl._to_additive_4d_by_where(mask)
        assert torch.equal(convert(mask) == 0, expected == 0)  # same allowed cells, whatever the masked value
        benchmark(convert, mask)
    benchmark.extra_info["bytes_written"] = B * L * L * 4
