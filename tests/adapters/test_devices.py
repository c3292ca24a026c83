"""Tests for ``--device``: inputs built on the device, the result required there (``result_device``), results
compared on the host; a device the framework cannot use is a one-line usage error.

CUDA tests skip with the reason where there is no GPU; JAX devices are tested in ``tests/test_jax.py``
(two host devices stand in for two accelerators there).
"""

from __future__ import annotations

import pytest

from maskoracle import check
from maskoracle.cli import main

torch = pytest.importorskip("torch", reason="needs PyTorch")
from maskoracle.implementations.torch import block_causal, incremental, kv_cache  # noqa: E402

HAS_CUDA = torch.cuda.is_available()
requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU; torch.cuda.is_available() is False here")
QUICK = ["output_format", "spec_examples", "exhaustive_small", "equivalence", "result_device"]


def on_the_host(pad_masks, att_masks):
    return block_causal(pad_masks, att_masks).cpu()


def test_cpu_device_strings_name_the_same_device():
    # torch reports a tensor built on "cpu:0" as on "cpu": that is the same device, not a failure.
    for device in ("cpu", "cpu:0"):
        report = check(block_causal, device=device, checks=["spec_examples", "result_device"], seed=0)
        assert report.passed, (device, [(c.name, c.message) for c in report.failed])
        kv = check(kv_cache, device=device, kind="kv_cache", checks=["result_device"], seed=0)
        assert kv.passed, (device, [(c.name, c.message) for c in kv.failed])


@pytest.mark.skipif(HAS_CUDA, reason="CUDA is available here, so --device cuda is usable")
def test_cuda_without_cuda_is_a_one_line_usage_error(capsys):
    code = main(["check", "maskoracle.implementations.torch:block_causal", "--device", "cuda", "--plain", "--seed", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("maskoracle check: error: --device cuda is not usable with torch")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_device_string_is_a_usage_error(capsys):
    assert main(["check", "maskoracle.implementations.torch:block_causal", "--device", "warp:9", "--seed", "0"]) == 2
    assert "--device warp:9" in capsys.readouterr().err


@requires_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_builtins_on_cuda_pass_and_keep_the_result_there(device):
    report = check(block_causal, device=device, max_examples=30, seed=0, checks=QUICK + ["size_boundaries"])
    assert report.passed, [(c.name, c.message) for c in report.failed]
    for kind, fn in (("kv_cache", kv_cache), ("incremental", incremental)):
        report = check(fn, device=device, kind=kind, max_examples=30, seed=0)
        assert report.passed, (kind, [(c.name, c.message) for c in report.failed])


@requires_cuda
def test_a_result_moved_to_the_host_fails_result_device():
    report = check(on_the_host, device="cuda", seed=0, checks=["spec_examples", "result_device"])
    assert [c.status for c in report.checks] == ["passed", "failed"]  # compared on the host: right values
    assert report.checks[1].message == "the result is on cpu, the inputs on cuda"
