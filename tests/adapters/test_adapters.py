"""Tests for ``maskoracle.adapters``: decoding results (SPEC §6, INTERFACE), building inputs, and time limits.

- ``decode_mask`` reads every result INTERFACE allows (bool or additive, ``[B, L, L]`` or ``[B, 1, L, L]``,
  numpy or torch) and refuses everything else with a ``BadResult`` that names the value, the cell or the
  expected shape;
- the adapters hand the implementation copies of the inputs, in the att dtype asked for;
- ``call_with_timeout`` interrupts sleeping, spinning and exception-swallowing implementations, on the main
  thread and off it, and leaves the process's signal state as it found it;
- end to end, ``check()`` turns a hanging, a ``None``-returning and a raising implementation into failed checks.
"""

from __future__ import annotations

import importlib.util
import signal
import threading
import time

import numpy as np
import pytest

from maskoracle import check
from maskoracle.adapters import UsageError, get_adapter
from maskoracle.adapters.base import NumpyAdapter, TorchAdapter
from maskoracle.checking.calling import CallTimeout, call_with_timeout
from maskoracle.checking.decode import BadResult, decode_mask
from maskoracle.implementations.numpy import block_causal as numpy_block_causal

try:  # the core works with numpy only (STYLE); torch tests skip without it
    import torch
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

HAS_ML_DTYPES = importlib.util.find_spec("ml_dtypes") is not None
HAS_CUDA = torch is not None and torch.cuda.is_available()
requires_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch: pip install 'maskoracle[torch]'")
TORCH = pytest.param("torch", marks=requires_torch)

B, L = 2, 3
# A fixed bool pattern [B, L, L] with both values in every batch row, so decoding errors show up.
PATTERN = np.array(
    [
        [[1, 0, 0], [1, 1, 0], [0, 0, 0]],
        [[1, 1, 0], [1, 1, 0], [1, 1, 1]],
    ],
    dtype=bool,
)
# The value of openpi's and LeRobot's pi0/pi0.5 masks (SPEC §6).
OPENPI_MASKED = -2.3819763e38


@pytest.fixture(scope="module")
def torch_adapter() -> TorchAdapter:
    if torch is None:
        pytest.skip("needs PyTorch: pip install 'maskoracle[torch]'")
    adapter = get_adapter("torch")
    assert isinstance(adapter, TorchAdapter)
    return adapter


@pytest.fixture(scope="module")
def numpy_adapter() -> NumpyAdapter:
    adapter = get_adapter("numpy")
    assert isinstance(adapter, NumpyAdapter)
    return adapter


def _additive(pattern: np.ndarray, masked_value: float, dtype: torch.dtype) -> torch.Tensor:
    """``pattern`` as an additive torch mask: 0 where allowed, ``masked_value`` (cast to ``dtype``) elsewhere."""
    allowed = torch.from_numpy(pattern)
    return torch.where(allowed, torch.zeros((), dtype=dtype), torch.tensor(masked_value, dtype=dtype))


# --- decode_mask: accepted results (INTERFACE "The plugged-in callable", SPEC §6) ---------------------------


@pytest.mark.parametrize("four_d", [False, True], ids=["BLL", "B1LL"])
def test_decode_bool_numpy(numpy_adapter, four_d):
    result = PATTERN[:, None] if four_d else PATTERN.copy()
    decoded = decode_mask(result, numpy_adapter, B, L)
    assert decoded.dtype == bool and decoded.shape == (B, L, L)
    np.testing.assert_array_equal(decoded, PATTERN)


@pytest.mark.parametrize("four_d", [False, True], ids=["BLL", "B1LL"])
def test_decode_bool_torch(torch_adapter, four_d):
    result = torch.from_numpy(PATTERN.copy())
    if four_d:
        result = result[:, None]
    decoded = decode_mask(result, torch_adapter, B, L)
    assert isinstance(decoded, np.ndarray) and decoded.dtype == bool and decoded.shape == (B, L, L)
    np.testing.assert_array_equal(decoded, PATTERN)


def test_decode_numpy_result_through_torch_adapter(torch_adapter):
    """A torch user's implementation may hand back a numpy array; that is still a mask."""
    np.testing.assert_array_equal(decode_mask(PATTERN.copy(), torch_adapter, B, L), PATTERN)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
@pytest.mark.parametrize("four_d", [False, True], ids=["BLL", "B1LL"])
def test_decode_additive_finfo_min(torch_adapter, dtype, four_d):
    """Hugging Face eager masks: 0 allowed, ``torch.finfo(dtype).min`` masked (SPEC §6)."""
    torch_dtype = getattr(torch, dtype)
    result = _additive(PATTERN, torch.finfo(torch_dtype).min, torch_dtype)
    if four_d:
        result = result[:, None]
    assert result.dtype == torch_dtype
    np.testing.assert_array_equal(decode_mask(result, torch_adapter, B, L), PATTERN)


@pytest.mark.parametrize(
    ("masked_value", "dtype"),
    [
        (float("-inf"), "float32"),
        (float("-inf"), "bfloat16"),
        (float("-inf"), "float16"),
        (float("-inf"), "float64"),
        (OPENPI_MASKED, "float32"),  # openpi / LeRobot pi0 (SPEC §6)
        (OPENPI_MASKED, "bfloat16"),  # rounds to -2.3793181e38
        (OPENPI_MASKED, "float16"),  # becomes -inf
        (OPENPI_MASKED, "float64"),
        (-1e4, "float32"),  # the threshold itself is masked
        (-1e4, "float64"),
        (-1e4, "float16"),  # exactly representable in float16
        (-1e5, "float32"),
    ],
)
def test_decode_additive_masked_values(torch_adapter, masked_value, dtype):
    result = _additive(PATTERN, masked_value, getattr(torch, dtype))[:, None]
    np.testing.assert_array_equal(decode_mask(result, torch_adapter, B, L), PATTERN)


@requires_torch
def test_openpi_value_casts_as_spec_says():
    """SPEC §6: -2.3819763e38 rounds to -2.3793181e38 in bfloat16 and overflows to -inf in float16."""
    value = torch.tensor(OPENPI_MASKED, dtype=torch.float32)
    assert value.to(torch.bfloat16).item() == pytest.approx(-2.3793181e38, rel=1e-7)
    assert value.to(torch.float16).item() == float("-inf")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_decode_additive_numpy(numpy_adapter, dtype):
    result = np.where(PATTERN, 0.0, -np.inf).astype(dtype)[:, None]
    np.testing.assert_array_equal(decode_mask(result, numpy_adapter, B, L), PATTERN)


def test_decode_additive_negative_zero_is_allowed(torch_adapter):
    """``-0.0 == 0``: a mask built as ``(1 - allowed) * -big`` writes -0.0 where allowed."""
    result = _additive(PATTERN, -1e9, torch.float32) * 1.0
    result[result == 0] = -0.0
    np.testing.assert_array_equal(decode_mask(result, torch_adapter, B, L), PATTERN)


def test_decode_result_that_requires_grad(torch_adapter):
    result = _additive(PATTERN, float("-inf"), torch.float32).requires_grad_(True) + 0.0
    np.testing.assert_array_equal(decode_mask(result, torch_adapter, B, L), PATTERN)


# --- decode_mask: rejected values (SPEC §6 "Anything else ... is a failure, reported with its position") -----


@pytest.mark.parametrize(
    "bad_value",
    [-1.0, -9990.0, float("nan"), 1.0, float("inf")],
    ids=["small_negative", "just_above_threshold", "nan", "positive", "plus_inf"],
)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16", "float64"])
def test_decode_rejects_bad_additive_value(torch_adapter, bad_value, dtype):
    torch_dtype = getattr(torch, dtype)
    result = _additive(PATTERN, float("-inf"), torch_dtype)[:, None].clone()
    cell = (1, 2, 1)  # (b, query, key), an allowed cell overwritten with the bad value
    result[cell[0], 0, cell[1], cell[2]] = bad_value
    # The value as the dtype holds it, printed as a plain float (-9990.0 is -9984.0 in bfloat16, -9992.0 in
    # float16), never as a numpy repr such as np.float16(-9.99e+03).
    shown = repr(float(torch_adapter.to_numpy(result)[cell[0], 0, cell[1], cell[2]]))
    with pytest.raises(BadResult) as info:
        decode_mask(result, torch_adapter, B, L)
    message = str(info.value)
    assert shown in message and "np." not in message
    assert "(b=1, query=2, key=1)" in message
    assert info.value.cell == cell


def test_decode_reports_first_bad_cell_and_count(numpy_adapter):
    result = np.where(PATTERN, 0.0, -np.inf).astype(np.float32)
    result[0, 1, 2] = 0.5
    result[1, 0, 2] = -3.0
    with pytest.raises(BadResult) as info:
        decode_mask(result, numpy_adapter, B, L)
    assert info.value.cell == (0, 1, 2)
    assert "0.5" in str(info.value) and "2 cells" in str(info.value)


@pytest.mark.parametrize("dtype", ["int64", "uint8", "int32"])
def test_decode_rejects_integer_torch(torch_adapter, dtype):
    result = torch.from_numpy(PATTERN.astype(dtype))
    with pytest.raises(BadResult) as info:
        decode_mask(result, torch_adapter, B, L)
    message = str(info.value)
    assert dtype in message and "bool" in message and "additive" in message


@pytest.mark.parametrize("dtype", ["int64", "uint8", "int32"])
def test_decode_rejects_integer_numpy(numpy_adapter, dtype):
    with pytest.raises(BadResult, match=r"bool.*additive"):
        decode_mask(PATTERN.astype(dtype), numpy_adapter, B, L)


NON_ARRAYS = {
    "None": lambda: None,
    "list": lambda: PATTERN.tolist(),
    "tuple_of_tensors": lambda: (torch.from_numpy(PATTERN[0].copy()), torch.from_numpy(PATTERN[1].copy())),
}


@pytest.mark.parametrize("kind", NON_ARRAYS)
def test_decode_rejects_non_arrays(torch_adapter, kind):
    result = NON_ARRAYS[kind]()
    with pytest.raises(BadResult) as info:
        decode_mask(result, torch_adapter, B, L)
    message = str(info.value)
    assert "[B, L, L]" in message and "[B, 1, L, L]" in message
    if result is None:
        assert "None" in message
    else:
        assert type(result).__name__ in message


@requires_torch
def test_decode_rejects_torch_tensor_for_numpy_framework(numpy_adapter):
    with pytest.raises(BadResult, match="not a numpy array"):
        decode_mask(torch.from_numpy(PATTERN.copy()), numpy_adapter, B, L)


@pytest.mark.parametrize(
    "shape",
    [(L, L), (B, L, L + 1), (1, L, L), (B, L), (B, 1, 1, L, L), (L, B, L), (B, 2, L, L + 1), (B + 1, 1, L, L)],
    ids=["LL", "BL(L+1)", "1LL_for_B2", "BL", "B11LL", "LBL", "B2L(L+1)", "(B+1)1LL"],
)
@pytest.mark.parametrize("framework", ["numpy", TORCH])
def test_decode_rejects_wrong_shapes(framework, shape):
    adapter = get_adapter(framework)
    result = np.zeros(shape, dtype=bool)
    if framework == "torch":
        result = torch.from_numpy(result)
    with pytest.raises(BadResult) as info:
        decode_mask(result, adapter, B, L)
    message = str(info.value)
    assert str(list(shape)) in message
    assert str([B, L, L]) in message and str([B, 1, L, L]) in message


@pytest.mark.parametrize("framework", ["numpy", TORCH])
def test_decode_reads_a_head_axis_of_any_size(framework):
    # Issue 16: [B, H, L, L] was refused for its shape (the "B2LL" case above until then); every head is read.
    adapter = get_adapter(framework)
    result = np.zeros((B, 2, L, L), dtype=bool)
    decoded = decode_mask(torch.from_numpy(result) if framework == "torch" else result, adapter, B, L)
    assert decoded.shape == (B, L, L) and not decoded.any()


# --- adapters: inputs in the framework and dtype asked for ---------------------------------------------------

PAD = np.array([[1, 1, 1, 0], [0, 1, 1, 1]], dtype=bool)
ATT = np.array([[0, 0, 1, 1], [1, 0, 1, 0]], dtype=bool)


@pytest.mark.parametrize("att_dtype", ["bool", "int32", "int64", "float32", "bfloat16", "float16"])
def test_torch_inputs(torch_adapter, att_dtype):
    pad, att = torch_adapter.inputs(PAD, ATT, att_dtype)
    assert isinstance(pad, torch.Tensor) and isinstance(att, torch.Tensor)
    assert pad.dtype == torch.bool and tuple(pad.shape) == PAD.shape
    assert att.dtype == getattr(torch, att_dtype) and tuple(att.shape) == ATT.shape
    assert pad.device.type == "cpu" and att.device.type == "cpu"
    np.testing.assert_array_equal(pad.numpy(), PAD)
    np.testing.assert_array_equal(att.float().numpy(), ATT.astype(np.float32))


@pytest.mark.parametrize("att_dtype", ["bool", "int32", "int64", "float32", "float16"])
def test_numpy_inputs(numpy_adapter, att_dtype):
    pad, att = numpy_adapter.inputs(PAD, ATT, att_dtype)
    assert isinstance(pad, np.ndarray) and isinstance(att, np.ndarray)
    assert pad.dtype == bool and att.dtype == np.dtype(att_dtype)
    np.testing.assert_array_equal(pad, PAD)
    np.testing.assert_array_equal(att.astype(np.float32), ATT.astype(np.float32))


@pytest.mark.skipif(HAS_ML_DTYPES, reason="ml_dtypes is installed, so numpy bfloat16 works")
def test_numpy_bfloat16_needs_ml_dtypes(numpy_adapter):
    with pytest.raises(UsageError, match="ml_dtypes"):
        numpy_adapter.inputs(PAD, ATT, "bfloat16")


@pytest.mark.skipif(not HAS_ML_DTYPES, reason="ml_dtypes is not installed")
def test_numpy_bfloat16_with_ml_dtypes(numpy_adapter):
    _, att = numpy_adapter.inputs(PAD, ATT, "bfloat16")
    assert att.dtype.name == "bfloat16"
    np.testing.assert_array_equal(att.astype(np.float32), ATT.astype(np.float32))


@pytest.mark.parametrize("framework", ["numpy", TORCH])
@pytest.mark.parametrize("att_dtype", ["bool", "int64", "float32"])
def test_inputs_are_copies(framework, att_dtype):
    """An implementation that writes into its inputs must not change the suite's copy (or the next call's)."""
    adapter = get_adapter(framework)
    pad_before, att_before = PAD.copy(), ATT.copy()
    pad, att = adapter.inputs(PAD, ATT, att_dtype)
    pad[...] = False
    att[...] = 1
    np.testing.assert_array_equal(PAD, pad_before)
    np.testing.assert_array_equal(ATT, att_before)


def test_to_numpy_widens_bfloat16(torch_adapter):
    result = torch.tensor([[-1.5, 0.0]], dtype=torch.bfloat16)
    array = torch_adapter.to_numpy(result)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, [[-1.5, 0.0]])


@pytest.mark.parametrize("framework", ["tensorflow", "Torch", ""])
def test_get_adapter_unsupported_framework(framework):
    with pytest.raises(UsageError) as info:
        get_adapter(framework)
    message = str(info.value)
    assert "torch" in message and "numpy" in message


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX: pip install 'maskoracle[jax]'")
def test_get_adapter_jax():
    assert get_adapter("jax").framework == "jax"  # the adapter itself: tests/test_jax.py


@requires_torch
@pytest.mark.skipif(HAS_CUDA, reason="CUDA is available here, so --device cuda is usable")
def test_get_adapter_torch_cuda_without_cuda():
    with pytest.raises(UsageError, match="--device cuda"):
        get_adapter("torch", "cuda")


@requires_torch
def test_get_adapter_torch_bad_device_string():
    with pytest.raises(UsageError, match="--device"):
        get_adapter("torch", "no-such-device")


def test_get_adapter_numpy_cuda():
    with pytest.raises(UsageError, match="CPU only"):
        get_adapter("numpy", "cuda")


def test_usage_error_is_a_value_error():
    assert issubclass(UsageError, ValueError)


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
@pytest.mark.parametrize("att_dtype", ["bool", "bfloat16"])
def test_cuda_inputs_and_result(att_dtype):
    adapter = get_adapter("torch", "cuda")
    pad, att = adapter.inputs(PAD, ATT, att_dtype)
    assert pad.device.type == "cuda" and att.device.type == "cuda"
    assert pad.dtype == torch.bool and att.dtype == getattr(torch, att_dtype)
    expected = numpy_block_causal(PAD, ATT)
    bool_result = torch.from_numpy(expected.copy()).cuda()
    np.testing.assert_array_equal(decode_mask(bool_result, adapter, *PAD.shape), expected)
    additive = _additive(expected, OPENPI_MASKED, torch.bfloat16).cuda()[:, None]
    np.testing.assert_array_equal(decode_mask(additive, adapter, *PAD.shape), expected)


# --- call_with_timeout -------------------------------------------------------------------------------------
# A 0.2 s limit must stop a 5 s call by 0.7 s: the limit plus half a second for the scheduling delay of a loaded
# machine, so that a timer armed at several times the limit fails. tests/test_timeouts.py measures the accuracy
# tightly, and that no thread is left behind.
TIMEOUT_BOUND_S = 0.2 + 0.5


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke up"


def _spin() -> None:
    count = 0
    while True:
        count += 1


def _swallow_exceptions() -> None:
    """An implementation whose ``except Exception`` would swallow an ``Exception``-based timeout."""
    while True:
        try:
            time.sleep(5)
        except Exception:
            pass


def test_call_returns_value():
    assert call_with_timeout(lambda a, b: a + b, (2, 3), 1.0) == 5


@pytest.mark.parametrize("timeout", [None, 0, -1.0])
def test_call_without_limit(timeout):
    assert call_with_timeout(lambda a, b: a * b, (2, 3), timeout) == 6


def test_call_reraises_the_functions_exception():
    def fails(x):
        raise ValueError(f"bad {x}")

    with pytest.raises(ValueError, match="bad 7"):
        call_with_timeout(fails, (7,), 1.0)


@pytest.mark.parametrize("fn", [lambda: _sleep(5), _spin, _swallow_exceptions], ids=["sleep", "busy_loop",
                                                                                       "except_exception"])
def test_call_times_out(fn):
    started = time.perf_counter()
    with pytest.raises(CallTimeout) as info:
        call_with_timeout(fn, (), 0.2)
    elapsed = time.perf_counter() - started
    assert elapsed < TIMEOUT_BOUND_S, f"a 0.2 s limit took {elapsed:.2f} s to stop the call"
    assert info.value.seconds == 0.2
    assert "0.2 s" in str(info.value)


def test_call_timeout_is_a_base_exception():
    assert issubclass(CallTimeout, BaseException) and not issubclass(CallTimeout, Exception)


def test_call_restores_previous_sigalrm_handler():
    seen = []

    def handler(signum, frame):
        seen.append(signum)

    original = signal.signal(signal.SIGALRM, handler)
    try:
        assert call_with_timeout(lambda: 1, (), 1.0) == 1
        assert signal.getsignal(signal.SIGALRM) is handler
        with pytest.raises(CallTimeout):
            call_with_timeout(_sleep, (5,), 0.1)
        assert signal.getsignal(signal.SIGALRM) is handler
        with pytest.raises(ZeroDivisionError):
            call_with_timeout(lambda: 1 / 0, (), 1.0)
        assert signal.getsignal(signal.SIGALRM) is handler
        # The one-shot timer is disarmed afterwards: no stray alarm reaches the caller's handler.
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        time.sleep(0.15)
        assert seen == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, original)


def test_call_preserves_an_outer_timer():
    fired = []
    original = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        call_with_timeout(lambda: None, (), 1.0)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25.0 < remaining <= 30.0, f"the caller's 30 s timer has {remaining} s left"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, original)


def _in_thread(fn, args, timeout):
    """Run ``call_with_timeout`` in a non-main thread; return (value, error, seconds)."""
    outcome = {}

    def target():
        started = time.perf_counter()
        try:
            outcome["value"] = call_with_timeout(fn, args, timeout)
        except BaseException as error:
            outcome["error"] = error
        outcome["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "call_with_timeout did not return in its thread"
    return outcome.get("value"), outcome.get("error"), outcome["seconds"]


def test_call_off_main_thread_times_out():
    release = threading.Event()
    try:
        value, error, seconds = _in_thread(release.wait, (5,), 0.2)
    finally:
        release.set()  # let the abandoned worker finish
    assert isinstance(error, CallTimeout), (value, error)
    assert seconds < TIMEOUT_BOUND_S


def test_call_off_main_thread_value_and_exception():
    value, error, _ = _in_thread(lambda x: x + 1, (1,), 1.0)
    assert value == 2 and error is None
    value, error, _ = _in_thread(lambda: [][0], (), 1.0)
    assert isinstance(error, IndexError)


def test_call_overhead(monkeypatch):
    """The cheap path on the main thread: many limited calls return their values, start no thread and leave
    the timer disarmed and the handler as it was. Their cost is printed, not asserted (STYLE: timings belong
    to benchmarks)."""

    def trivial(x):
        return x

    started_threads = []
    original_start = threading.Thread.start

    def spy_start(self):
        started_threads.append(self.name)
        original_start(self)

    handler = signal.getsignal(signal.SIGALRM)
    calls = 10_000
    started = time.perf_counter()
    for i in range(calls):
        trivial(i)
    direct = time.perf_counter() - started
    monkeypatch.setattr(threading.Thread, "start", spy_start)
    started = time.perf_counter()
    results = [call_with_timeout(trivial, (i,), 10.0) for i in range(calls)]
    limited = time.perf_counter() - started
    monkeypatch.undo()
    assert results == list(range(calls))
    assert started_threads == [], "the main thread's time limit should start no thread"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler
    print(f"\ncall_with_timeout overhead: {(limited - direct) / calls * 1e6:.2f} us per call "
          f"({limited / calls * 1e6:.2f} us vs {direct / calls * 1e6:.3f} us direct, {calls} calls)")


# --- end to end through check() ----------------------------------------------------------------------------


def test_check_hanging_implementation_times_out():
    calls = []

    def hangs(pad_masks, att_masks):
        calls.append(1)
        while True:
            time.sleep(60)

    report = check(hangs, framework="numpy", timeout=0.5, max_examples=10, seed=0)
    assert not report.passed
    first, *rest = report.checks
    # Stopped at once: one call, the check's time the limit plus scheduling (TIMEOUT_BOUND_S's half second).
    assert calls == [1]
    assert first.seconds < 0.5 + 0.5, f"output_format took {first.seconds:.2f} s on a hanging implementation"
    assert first.name == "output_format" and first.status == "failed"
    assert first.message.startswith("timed out"), first.message
    assert rest and all(result.status == "skipped" for result in rest)
    assert all(result.message.startswith("not run") for result in rest)


def test_check_implementation_returning_none():
    report = check(lambda pad_masks, att_masks: None, framework="numpy", max_examples=10, seed=0)
    assert not report.passed
    first, *rest = report.checks
    assert first.name == "output_format" and first.status == "failed"
    assert "None" in first.message
    assert rest and all(result.status == "skipped" and "not run" in result.message for result in rest)


@requires_torch
def test_check_implementation_raising_for_batches():
    def single_row_only(pad_masks, att_masks):
        if pad_masks.shape[0] > 1:
            raise ValueError("batches are not supported")
        return numpy_block_causal(pad_masks.numpy(), att_masks.numpy())

    report = check(single_row_only, framework="torch", max_examples=10, seed=0)
    assert not report.passed
    by_name = {result.name: result for result in report.checks}
    # One batch entry is readable, so output_format passes; the batched checks name the exception.
    assert by_name["output_format"].status == "passed"
    for name in ("exhaustive_small", "equivalence"):
        assert by_name[name].status == "failed"
        assert "ValueError: batches are not supported" in by_name[name].message
    assert by_name["equivalence"].counterexample.shape[0] == 2
