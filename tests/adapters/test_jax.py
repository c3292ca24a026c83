"""Tests for ``--framework jax``: the adapter (inputs, devices, results), the built-in, and openpi-style masks.

JAX compiles once per input shape, so these tests run chosen checks (``check(..., checks=[...])``) rather than
the whole default run; ``maskoracle check ... --framework jax`` runs them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="needs JAX: pip install 'maskoracle[jax]'")
jnp = pytest.importorskip("jax.numpy")

from maskoracle import check  # noqa: E402
from maskoracle.adapters import UsageError, get_adapter  # noqa: E402
from maskoracle.adapters.jax_adapter import JaxAdapter  # noqa: E402
from maskoracle.implementations.jax import block_causal  # noqa: E402
from maskoracle.oracle import reference_mask  # noqa: E402
from maskoracle.reports.terminal import reproduce_snippet  # noqa: E402
from maskoracle.targets import load_target  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "fixtures" / "openpi_style_jax.py"
HAS_GPU = any(device.platform == "gpu" for device in jax.devices()) if jax.devices() else False
QUICK = ["output_format", "spec_examples", "exhaustive_small"]


@pytest.fixture(scope="module")
def adapter() -> JaxAdapter:
    built = get_adapter("jax")
    assert isinstance(built, JaxAdapter)
    return built


@pytest.mark.parametrize("att_dtype", ["bool", "int32", "float32", "bfloat16", "float16"])
def test_inputs_are_jax_arrays_in_the_dtype_asked_for(adapter, att_dtype):
    pad = np.array([[1, 1, 0]], dtype=bool)
    att = np.array([[0, 1, 1]], dtype=bool)
    pad_j, att_j = adapter.inputs(pad, att, att_dtype)
    assert isinstance(pad_j, jax.Array) and isinstance(att_j, jax.Array)
    assert pad_j.dtype == jnp.bool_
    assert att_j.dtype == jnp.dtype(att_dtype)
    np.testing.assert_array_equal(np.asarray(att_j).astype(np.float32), att.astype(np.float32))


def test_int64_without_x64_is_a_usage_error_that_says_how(adapter):
    with pytest.raises(UsageError, match="JAX_ENABLE_X64=1"):
        adapter.inputs(np.ones((1, 2), bool), np.ones((1, 2), bool), "int64")
    with pytest.raises(UsageError, match="JAX_ENABLE_X64"):
        check(block_causal, framework="jax", att_dtype="int64", checks=["output_format"], seed=0)


def test_to_numpy_widens_bfloat16(adapter):
    array = adapter.to_numpy(jnp.array([[-1.5, 0.0]], dtype=jnp.bfloat16))
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, [[-1.5, 0.0]])


def test_jax_arrays_never_share_memory_with_inputs(adapter):
    # Immutable: even the input itself handed back cannot change under the caller.
    pad, _ = adapter.inputs(np.ones((1, 2), bool), np.ones((1, 2), bool), "bool")
    assert not adapter.shares_memory(pad, pad)


@pytest.mark.parametrize("device", ["cpu", "cpu:0", "CPU"])
def test_cpu_device_strings(device):
    built = get_adapter("jax", device)
    result = block_causal(*built.inputs(np.ones((1, 2), bool), np.ones((1, 2), bool), "bool"))
    assert built.device_of(result) == built.device_name()


@pytest.mark.parametrize("device", ["cpu:7", "warp-drive", "cpu:x"])
def test_unusable_device_is_a_one_line_usage_error(device):
    with pytest.raises(UsageError) as info:
        get_adapter("jax", device)
    assert "--device" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.skipif(HAS_GPU, reason="a GPU is present here, so --device gpu is usable")
@pytest.mark.parametrize("device", ["gpu", "cuda"])
def test_gpu_without_gpu_is_a_usage_error(device):
    with pytest.raises(UsageError, match=f"--device {device}"):
        get_adapter("jax", device)


@pytest.mark.skipif(not HAS_GPU, reason="needs a GPU visible to JAX; none on this machine")
def test_builtin_on_gpu_keeps_the_result_there():
    report = check(block_causal, framework="jax", device="gpu", checks=[*QUICK, "result_device"], seed=0)
    assert report.passed, [(c.name, c.message) for c in report.failed]


def test_builtin_passes(adapter):
    report = check(block_causal, framework="jax", max_examples=8, seed=0,
                   checks=[*QUICK, "results_stay_valid", "no_input_aliasing", "result_device", "att_dtypes"])
    assert report.passed, [(c.name, c.message) for c in report.failed]
    exhaustive = next(c for c in report.checks if c.name == "exhaustive_small")
    assert "lengths 1-8" in exhaustive.message  # the warm-up call keeps compilation out of the budget


def test_openpi_style_passes_jitted_and_eager():
    # Eager JAX compiles every operation for every new shape: the eager form gets the fixed examples only.
    for name, checks in (("make_attn_mask_jit", ["output_format", "spec_examples", "equivalence"]),
                         ("make_attn_mask", ["output_format", "spec_examples"])):
        fn = load_target(f"{FIXTURE}:{name}")
        report = check(fn, framework="jax", max_examples=6, seed=0, checks=checks)
        assert report.passed, (name, [(c.name, c.message) for c in report.failed])


def test_bfloat16_cumsum_fails_past_256_blocks():
    fn = load_target(f"{FIXTURE}:make_attn_mask_bfloat16")
    report = check(fn, framework="jax", seed=0, checks=["spec_examples", "size_boundaries"])
    assert [c.status for c in report.checks] == ["passed", "failed"]
    counterexample = report.checks[1].counterexample
    assert counterexample is not None and counterexample.shape[1] >= 257
    assert counterexample.differing_cells(limit=1)


def test_a_wrong_jax_mask_fails_with_a_snippet_that_reproduces_it(tmp_path):
    def strict_less(pad, att):
        blocks = jnp.cumsum(att.astype(jnp.int32), axis=1)
        return (blocks[:, None, :] < blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]

    module = tmp_path / "strict.py"
    module.write_text(textwrap.dedent("""
        import jax.numpy as jnp
        def strict_less(pad, att):
            blocks = jnp.cumsum(att.astype(jnp.int32), axis=1)
            return (blocks[:, None, :] < blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]
    """))
    report = check(strict_less, framework="jax", seed=0, checks=["spec_examples"], target=f"{module}:strict_less")
    failed = report.checks[0]
    assert failed.status == "failed" and failed.counterexample is not None
    snippet = reproduce_snippet(report, failed.counterexample)
    assert "jnp.asarray" in snippet
    namespace: dict = {}
    exec(snippet.replace("print(expected.astype(int)); print(actual)", ""), namespace)
    assert not np.array_equal(np.asarray(namespace["actual"]), namespace["expected"])


def test_timeout_interrupts_a_jax_implementation():
    calls = []

    def slow(pad, att):
        calls.append(1)
        time.sleep(5)
        return block_causal(pad, att)

    jnp.zeros((1, 3), dtype=bool).block_until_ready()  # JAX's first use (backend start) is not the subject
    report = check(slow, framework="jax", timeout=0.3, seed=0, checks=["output_format", "spec_examples"])
    # Stopped at once: one call; the check's time is the 0.3 s limit plus half a second of scheduling.
    assert calls == [1]
    assert report.checks[0].seconds < 0.3 + 0.5, report.checks[0].seconds
    assert report.checks[0].message.startswith("timed out")
    assert report.checks[1].status == "skipped"


def test_result_on_another_device_fails_result_device():
    # Two host devices stand in for two accelerators: XLA must be told before JAX starts, so in a subprocess.
    code = textwrap.dedent("""
        import jax, jax.numpy as jnp
        from maskoracle import check
        from maskoracle.implementations.jax import block_causal
        def to_first_device(pad, att):
            return jax.device_put(block_causal(pad, att), jax.devices("cpu")[0])
        right = check(block_causal, framework="jax", device="cpu:1", checks=["spec_examples", "result_device"],
                      seed=0)
        wrong = check(to_first_device, framework="jax", device="cpu:1", checks=["spec_examples", "result_device"],
                      seed=0)
        print([c.status for c in right.checks], [c.status for c in wrong.checks])
        print(wrong.checks[1].message)
    """)
    environment = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "['passed', 'passed'] ['passed', 'failed']"
    assert lines[1] == "the result is on cpu:0, the inputs on cpu:1"


def test_builtin_matches_the_oracle_on_a_jitted_batch():
    pad = np.array([[1, 1, 1, 1, 1, 0], [1, 0, 1, 1, 1, 1]], dtype=bool)
    att = np.array([[0, 0, 0, 1, 1, 1], [0, 1, 0, 1, 0, 0]], dtype=bool)
    result = block_causal(jnp.asarray(pad), jnp.asarray(att, jnp.bfloat16))
    np.testing.assert_array_equal(np.asarray(result), reference_mask(pad, att))
