"""The native (C, compiled on first use) ``block_causal`` writer: equal to the oracle for every element size
it handles, and never a requirement: without a compiler, switched off, or failing to build, the built-ins
fall back to NumPy and say why."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maskoracle.implementations import _native, _rows
from maskoracle.implementations import numpy as numpy_impl
from maskoracle.oracle import fast_reference_mask, reference_mask
from maskoracle.speed.bench import machine_info, workload_inputs
from maskoracle.strategies import mask_examples

HAS_COMPILER = _native._compiler() is not None
needs_compiler = pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler here: the NumPy writer is used")


@pytest.fixture
def fresh_native(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty library cache and no writer loaded; the module is reset again afterwards."""
    monkeypatch.setenv("MASKORACLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MASKORACLE_NATIVE", raising=False)
    _native.reset()
    yield tmp_path
    _native.reset()


@needs_compiler
def test_the_writer_is_compiled_and_used_where_a_compiler_exists() -> None:
    assert _native.native() is not None, _native.native_status()
    assert _native.native_status().startswith("C (compiled with ")
    pad, att = workload_inputs(2, 70, "pi05_subtask")
    out = np.empty((2, 70, 70), dtype=bool)
    assert _native.write(pad, att, out, True, False)
    np.testing.assert_array_equal(out, reference_mask(pad, att))


# Every element size the C code has a typed path for (1, 2, 4, 8) and one it copies bytewise (16).
ELEMENTS = [(np.bool_, True, False), (np.uint16, 7, 65535), (np.float32, 0.0, -2.3819763e38),
            (np.float64, 0.0, -np.inf), (np.int64, 1, -(2**62)), (np.complex128, 1 + 2j, -3 - 4j)]


@needs_compiler
@pytest.mark.parametrize("dtype, allowed, masked", ELEMENTS, ids=[np.dtype(e[0]).name for e in ELEMENTS])
@settings(max_examples=60, deadline=None)
@given(example=mask_examples(length=st.integers(1, 40)))
def test_native_writer_equals_the_oracle_for_every_element_size(example, dtype, allowed, masked) -> None:
    pad, att = example.pad_masks, example.att_masks
    expected = fast_reference_mask(pad, att)
    out = np.zeros(expected.shape, dtype=dtype)
    assert _native.write(pad, att, out, allowed, masked)
    np.testing.assert_array_equal(out, np.where(expected, np.asarray(allowed, dtype), np.asarray(masked, dtype)))


@needs_compiler
@pytest.mark.parametrize("L", range(1, 7))
def test_native_writer_equals_the_loop_oracle_on_every_small_input(L: int) -> None:
    rows = np.array(np.meshgrid(*[[False, True]] * L, indexing="ij")).reshape(L, -1).T
    pad = np.repeat(rows, len(rows), axis=0)
    att = np.tile(rows, (len(rows), 1))
    out = np.empty((len(pad), L, L), dtype=bool)
    assert _native.write(pad, att, out, True, False)
    np.testing.assert_array_equal(out, reference_mask(pad, att))


@needs_compiler
def test_native_and_numpy_writers_agree_on_long_layouts() -> None:
    for workload in ("pi05_subtask", "causal", "bidirectional", "random"):
        pad, att = workload_inputs(3, 1031, workload, seed=5)
        native_out = np.empty((3, 1031, 1031), dtype=np.float32)
        numpy_out = np.empty_like(native_out)
        assert _native.write(pad, att, native_out, 0.0, -1.0)
        _rows.write_block_causal(pad, att, numpy_out, 0.0, -1.0, native=False)
        np.testing.assert_array_equal(native_out, numpy_out, err_msg=workload)


@needs_compiler
def test_values_that_compare_equal_but_differ_are_written_as_given() -> None:
    pad, att = np.ones((1, 3), bool), np.zeros((1, 3), bool)
    cached = len(_native._VALUES)
    for allowed in (0.0, -0.0, 0.0, np.nan, np.nan):
        out = np.empty((1, 3, 3), dtype=np.float64)
        assert _native.write(pad, att, out, allowed, 1.0)
        np.testing.assert_array_equal(np.signbit(out), np.signbit(np.float64(allowed)))
        assert np.isnan(out).all() == np.isnan(allowed)
    assert len(_native._VALUES) - cached <= 3, "one entry per distinct value, a NaN included"


def test_empty_shapes_write_nothing() -> None:
    for B, L in [(0, 5), (3, 0), (0, 0)]:
        out = np.empty((B, L, L), dtype=bool)
        assert _native.write(np.ones((B, L), bool), np.ones((B, L), bool), out, True, False) == HAS_COMPILER
        np.testing.assert_array_equal(numpy_impl.block_causal(np.ones((B, L), bool), np.ones((B, L), bool)), out)


def test_output_the_c_code_cannot_write_is_left_to_numpy() -> None:
    pad, att = workload_inputs(2, 9, "pi05_subtask")
    strided = np.zeros((2, 9, 18), dtype=bool)[:, :, ::2]
    assert not _native.write(pad, att, strided, True, False)
    _rows.write_block_causal(pad, att, strided, True, False)
    np.testing.assert_array_equal(strided, reference_mask(pad, att))
    objects = np.empty((2, 9, 9), dtype=object)
    assert not _native.write(pad, att, objects, True, False)


@needs_compiler
@pytest.mark.parametrize("dtype, allowed, masked", ELEMENTS, ids=[np.dtype(e[0]).name for e in ELEMENTS])
def test_select_writes_one_of_two_values_per_mask_cell(dtype, allowed, masked) -> None:
    mask = np.random.default_rng(3).random((3, 1, 37, 41)) < 0.5
    values = np.array([masked, allowed], dtype=dtype)
    out = np.empty(mask.shape, dtype=dtype)
    assert _native.select(mask, values, out)
    np.testing.assert_array_equal(out, np.where(mask, values[1], values[0]))
    assert not _native.select(mask[:, :, ::2], values, out[:, :, ::2]), "strided: left to the caller"
    if values.itemsize != 1:
        assert not _native.select(mask, np.zeros(2, dtype=np.int8), out), "item sizes differ"


def test_switched_off_by_the_environment(fresh_native: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASKORACLE_NATIVE", "0")
    assert _native.native() is None
    assert _native.native_status() == "off (MASKORACLE_NATIVE=0)"
    pad, att = workload_inputs(2, 50, "pi05_subtask")
    np.testing.assert_array_equal(numpy_impl.block_causal(pad, att), reference_mask(pad, att))
    torch = pytest.importorskip("torch")
    from maskoracle.implementations import torch as torch_impl

    mask = torch.from_numpy(reference_mask(pad, att))
    for dtype in (torch.float32, torch.bfloat16):
        additive = torch_impl.block_causal_additive(torch.from_numpy(pad), torch.from_numpy(att), dtype)
        assert torch.equal(additive, torch_impl._to_additive_4d_by_where(mask, dtype))
        assert torch.equal(torch_impl.to_additive_4d(mask, dtype), additive)


def test_a_missing_compiler_falls_back_to_numpy_and_says_why(fresh_native: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", str(fresh_native / "no-such-cc"))
    assert _native.native() is None
    assert _native.native_status().startswith("unavailable: FileNotFoundError")
    assert machine_info()["cpu_writer"] == _native.native_status()
    pad, att = workload_inputs(2, 50, "pi05_subtask")
    np.testing.assert_array_equal(numpy_impl.block_causal(pad, att), reference_mask(pad, att))


def test_cc_may_carry_a_launcher(fresh_native: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = fresh_native / "launcher"
    launcher.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/launched"\nexit 1\n')
    launcher.chmod(0o755)
    monkeypatch.setenv("CC", f"{launcher} gcc -m64")
    assert _native.native() is None
    assert (fresh_native / "launched").read_text().startswith(" ".join(["gcc", "-m64", *_native.FLAGS]))


def test_a_failing_compiler_is_reported_with_its_first_line(fresh_native: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    broken = fresh_native / "broken-cc"
    broken.write_text("#!/bin/sh\necho 'broken-cc: cannot compile today' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    assert _native.native() is None
    assert _native.native_status() == f"unavailable: {broken} failed: broken-cc: cannot compile today"
    assert not list((fresh_native / "cache").glob("*.so")), "nothing half-built is left in the cache"


@needs_compiler
def test_an_unwritable_cache_falls_back_to_a_private_temporary_folder(fresh_native: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = fresh_native / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("MASKORACLE_CACHE", str(blocked / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(fresh_native / "tmp"))
    assert _native.native() is not None, _native.native_status()
    [library] = (fresh_native / "tmp").glob("maskoracle-*/*.so")
    assert library.parent.stat().st_mode & 0o077 == 0


@needs_compiler
def test_a_folder_others_can_write_to_is_never_loaded_from(fresh_native: Path) -> None:
    shared = fresh_native / "cache"
    shared.mkdir()
    shared.chmod(0o777)
    assert _native.native() is not None  # compiled into the private temporary folder instead
    assert not list(shared.glob("*.so"))


@needs_compiler
def test_concurrent_first_uses_share_one_library(fresh_native: Path) -> None:
    script = textwrap.dedent("""
        import numpy as np
        from maskoracle.implementations import _native
        from maskoracle.oracle import reference_mask
        pad = np.array([[1, 1, 0, 1]], bool); att = np.array([[0, 1, 0, 1]], bool)
        out = np.empty((1, 4, 4), bool)
        assert _native.write(pad, att, out, True, False), _native.native_status()
        assert (out == reference_mask(pad, att)).all()
        print(_native.native_status())
    """)
    environment = {**os.environ, "MASKORACLE_CACHE": str(fresh_native / "cache")}
    workers = [subprocess.Popen([sys.executable, "-c", script], env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [worker.communicate(timeout=180) for worker in workers]
    for (stdout, stderr), worker in zip(results, workers, strict=True):
        assert worker.returncode == 0, stderr
        assert stdout.startswith("C (compiled with ")
    assert len(list((fresh_native / "cache").glob("*.so"))) == 1
    assert not [path for path in (fresh_native / "cache").iterdir() if path.is_dir()], "no scratch left behind"
