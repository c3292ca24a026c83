"""Tests for the speed work (issue #5): the write-once built-ins, ``maskoracle.bench``, the speed report, and
the ``bench`` / ``report`` commands. Sizes are tiny: these tests check behaviour, never a timing."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from maskoracle.adapters import UsageError
from maskoracle.cli import main
from maskoracle.implementations import _rows
from maskoracle.implementations import numpy as numpy_impl
from maskoracle.oracle import fast_reference_mask, reference_mask
from maskoracle.reports.speed import _short, compare, from_pytest_benchmark, load_bench_file, write_report
from maskoracle.speed.bench import (
    BenchReport,
    BenchTarget,
    SizeTiming,
    TargetBench,
    bench,
    loglog_slope,
    parse_sizes,
    time_size,
    workload_inputs,
)

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs PyTorch")
NUMPY_BUILTIN = "maskoracle.implementations.numpy:block_causal@numpy"


def all_inputs(L: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.array(list(itertools.product([False, True], repeat=L)), dtype=bool)
    pad = np.repeat(rows, len(rows), axis=0)
    att = np.tile(rows, (len(rows), 1))
    return pad, att


# ------------------------------------------------------------------------------------ the write-once writer
# The three ways write_block_causal can write: the native C writer (where a compiler is available: see
# tests/test_native.py), NumPy segment copies, one NumPy comparison.
WRITERS = {"segment-copies": {"native": False, "min_bytes_per_segment": 0},
           "comparison": {"native": False, "min_bytes_per_segment": 10**9},
           "native": {"native": True}}


@pytest.mark.parametrize("L", range(1, 7))
@pytest.mark.parametrize("writer", WRITERS)
def test_writer_equals_the_loop_oracle_on_every_small_input(L: int, writer: str) -> None:
    pad, att = all_inputs(L)
    expected = reference_mask(pad, att)
    out = np.empty(expected.shape, dtype=bool)
    _rows.write_block_causal(pad, att, out, True, False, **WRITERS[writer])
    np.testing.assert_array_equal(out, expected)
    floats = np.empty(expected.shape, dtype=np.float32)
    _rows.write_block_causal(pad, att, floats, 0.0, -2.3819763e38, **WRITERS[writer])
    np.testing.assert_array_equal(floats == 0, expected)
    assert set(np.unique(floats)) <= {0.0, np.float32(-2.3819763e38)}


@pytest.mark.parametrize("workload", ["pi05_subtask", "causal", "bidirectional", "random"])
def test_writer_equals_the_oracle_on_long_inputs(workload: str) -> None:
    rng = np.random.default_rng(1)
    for B, L in [(3, 257), (2, 1031)]:
        pad, att = workload_inputs(B, L, workload, seed=int(rng.integers(100)))
        expected = fast_reference_mask(pad, att)
        for writer, options in WRITERS.items():
            out = np.empty((B, L, L), dtype=bool)
            _rows.write_block_causal(pad, att, out, True, False, **options)
            np.testing.assert_array_equal(out, expected, err_msg=f"{workload} {B}x{L} {writer}")


def test_segments_are_blocks_and_staircases() -> None:
    # prefix block {0,1,2}, causal {3,4}, block {5,6}, padded 7
    pad = np.array([[1, 1, 1, 1, 1, 1, 1, 0]], dtype=bool)
    att = np.array([[0, 0, 0, 1, 1, 1, 0, 0]], dtype=bool)
    keys = _rows.segment_keys(_rows.block_ends(pad, att))
    assert _rows.segments(keys) == [[(0, 3, 3), (3, 5, -1), (5, 7, 8), (7, 8, 0)]]


@pytest.mark.parametrize("function", [numpy_impl.block_causal, numpy_impl.block_causal_baseline])
def test_numpy_builtins_read_any_att_dtype(function) -> None:
    pad, att = workload_inputs(2, 600, "pi05_subtask")
    expected = fast_reference_mask(pad, att)
    for dtype in (np.int8, np.float16, np.float32):
        np.testing.assert_array_equal(function(pad.astype(dtype), att.astype(dtype)), expected)


def test_numpy_baseline_equals_the_loop_oracle_on_every_small_input() -> None:
    for L in range(1, 6):
        pad, att = all_inputs(L)
        np.testing.assert_array_equal(numpy_impl.block_causal_baseline(pad, att), reference_mask(pad, att))


@needs_torch
def test_torch_builtins_agree_with_the_oracle_and_with_each_other() -> None:
    import torch

    from maskoracle.implementations import torch as torch_impl

    pad, att = workload_inputs(3, 300, "pi05_subtask")
    expected = fast_reference_mask(pad, att)
    pad_t, att_t = torch.from_numpy(pad), torch.from_numpy(att).to(torch.bfloat16)
    mask = torch_impl.block_causal(pad_t, att_t)
    assert mask.dtype == torch.bool and mask.device.type == "cpu"
    np.testing.assert_array_equal(mask.numpy(), expected)
    np.testing.assert_array_equal(torch_impl._block_causal_by_comparison(pad_t, att_t).numpy(), expected)
    baseline_mask = torch_impl.block_causal_baseline(pad_t, att_t)
    for dtype in (torch.float32, torch.float16, torch.float64, torch.bfloat16):
        by_where = torch_impl._to_additive_4d_by_where(baseline_mask, dtype)  # the independent formulation
        for converted in (torch_impl.block_causal_additive(pad_t, att_t, dtype=dtype),
                          torch_impl.to_additive_4d(baseline_mask, dtype),
                          torch_impl.to_additive_4d(baseline_mask.transpose(1, 2).contiguous().transpose(1, 2),
                                                    dtype)):
            assert converted.dtype == dtype and converted.shape == (3, 1, 300, 300)
            assert torch.equal(converted, by_where), dtype
    for pipeline in (torch_impl.block_causal_additive_baseline, torch_impl.block_causal_additive_unfused):
        assert torch.equal(pipeline(pad_t, att_t), torch_impl.block_causal_additive(pad_t, att_t))


# --------------------------------------------------------------------------------------------- bench()
def test_bench_gates_times_and_records_context() -> None:
    report = bench([BenchTarget("np", numpy_impl.block_causal, "numpy")], sizes=[(2, 16), (2, 32)],
                   min_time=0.001, gate_examples=5)
    target = report.targets[0]
    assert target.gate_passed and [size.status for size in target.sizes] == ["timed", "timed"]
    size = target.sizes[1]
    assert size.bytes_written == 2 * 32 * 32 and size.output == "bool [2, 32, 32]"
    assert size.rounds >= 5 and size.best_s and size.bound_best_s and size.ratio_to_bound
    assert size.best_s <= size.median_s
    assert size.peak_memory_bytes and size.peak_memory_bytes >= size.bytes_written
    assert size.memory_method == "tracemalloc"
    assert {"python", "numpy", "processor", "cpu_count", "maskoracle"} <= set(report.machine)
    assert report.passed
    again = BenchReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again.targets[0].sizes[1] == size


def test_a_wrong_implementation_is_not_timed() -> None:
    def strict_less(pad, att):
        blocks = np.cumsum(att, axis=-1)
        return pad[:, None, :] & pad[:, :, None] & (blocks[:, None, :] < blocks[:, :, None])

    report = bench([BenchTarget("wrong", strict_less, "numpy")], sizes=[(1, 8)], min_time=0.001, gate_examples=5)
    target = report.targets[0]
    assert not target.gate_passed and target.sizes == [] and "spec_examples" in target.gate_message
    assert not report.passed


def test_a_result_wrong_only_at_the_timed_size_is_not_timed() -> None:
    def wrong_when_long(pad, att):
        mask = numpy_impl.block_causal(pad, att)
        if pad.shape[1] >= 40:
            mask[0, 0, 0] = not mask[0, 0, 0]
        return mask

    timing = time_size(BenchTarget("late", wrong_when_long, "numpy"), 1, 40, min_time=0.001)
    assert timing.status == "wrong" and timing.best_s is None
    assert "not timed" in timing.message and "cell (b=0, query=0, key=0)" in timing.message


def test_an_implementation_that_raises_is_reported_not_raised() -> None:
    def broken(pad, att):
        raise RuntimeError("kaputt")

    timing = time_size(BenchTarget("broken", broken, "numpy"), 1, 8, min_time=0.001)
    assert timing.status == "error" and "kaputt" in timing.message


def test_loglog_slope_and_sizes() -> None:
    lengths = [256, 512, 1024, 2048]
    assert loglog_slope(lengths, [3e-9 * L**2 for L in lengths]) == pytest.approx(2.0)
    assert loglog_slope(lengths, [1e-12 * L**3 for L in lengths]) == pytest.approx(3.0)
    assert parse_sizes("8x1024, 2X4096") == [(8, 1024), (2, 4096)]
    for bad in ("8x", "0x16", "8-1024"):
        with pytest.raises(UsageError, match="--sizes"):
            parse_sizes(bad)


def test_workloads_are_deterministic_and_shaped_like_their_names() -> None:
    pad, att = workload_inputs(4, 64)
    pad2, att2 = workload_inputs(4, 64)
    assert np.array_equal(pad, pad2) and np.array_equal(att, att2)
    assert not att[:, :48].any() and att[:, 48:52].all() and att[:, 52].all() and not att[:, 53:].any()
    assert pad[:, :32].all() and pad[:, 48:].all() and not pad.all()  # only the language is padded
    causal_pad, causal_att = workload_inputs(2, 8, "causal")
    assert causal_att.all() and causal_pad.all()
    with pytest.raises(UsageError, match="workload"):
        workload_inputs(1, 4, "nope")


# --------------------------------------------------------------------------------------- comparison, report
def timing(B: int, L: int, best: float, bound: float, spread: float = 0.02) -> SizeTiming:
    return SizeTiming(B, L, "timed", output="bool", bytes_written=B * L * L, rounds=20, best_s=best,
                      median_s=best * 1.01, q1_s=best * (1 - spread / 2), q3_s=best * (1 + spread / 2),
                      bound_best_s=bound, bound_median_s=bound, peak_memory_bytes=B * L * L)


def report_of(*sizes: SizeTiming, target: str = "m:fast") -> BenchReport:
    return BenchReport({"python": "3"}, "pi05_subtask", "cpu", [TargetBench(target, "numpy", True, "ok", list(sizes))])


def test_compare_flags_regressions_beyond_the_noise_only() -> None:
    old = report_of(timing(8, 1024, 1.0e-3, 0.5e-3), timing(2, 4096, 10e-3, 5e-3))
    new = report_of(timing(8, 1024, 2.0e-3, 0.5e-3), timing(2, 4096, 10.3e-3, 5e-3))
    verdicts = {(c.B, c.L): c.verdict for c in compare(new, old)}
    assert verdicts == {(8, 1024): "regression", (2, 4096): "same"}
    # Twice as slow on a machine twice as slow (the bound doubled too) is no regression.
    slower_machine = report_of(timing(8, 1024, 2.0e-3, 1.0e-3))
    assert compare(slower_machine, old)[0].verdict == "same"
    # A 40 % change within very noisy rounds is not flagged.
    noisy_old = report_of(timing(8, 1024, 1.0e-3, 0.5e-3, spread=0.5))
    noisy_new = report_of(timing(8, 1024, 1.4e-3, 0.5e-3, spread=0.5))
    assert compare(noisy_new, noisy_old)[0].verdict == "same"


def test_write_report_makes_markdown_pngs_and_a_self_contained_page(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = report_of(timing(8, 256, 0.2e-3, 0.1e-3), timing(8, 512, 0.8e-3, 0.3e-3), timing(8, 1024, 3e-3, 1e-3))
    report.targets.append(TargetBench("m:fast_baseline", "numpy", True, "ok",
                                      [timing(8, 256, 1e-3, 0.1e-3), timing(8, 512, 4e-3, 0.3e-3),
                                       timing(8, 1024, 30e-3, 1e-3)]))
    report.targets.append(TargetBench("m:fast_unfused", "numpy", True, "ok", [timing(8, 1024, 6e-3, 1e-3)]))
    report.targets.append(TargetBench("m:wrong", "numpy", False, "failed spec_examples: cell (b=0, ...)"))
    written = write_report(report, str(tmp_path / "out"), comparison=compare(report, report))
    names = {Path(path).name for path in written}
    assert {"README.md", "report.html", "time_vs_length.png", "ratio_to_bound.png", "memory.png"} <= names
    markdown = (tmp_path / "out" / "README.md").read_text()
    for png in ("time_vs_length.png", "ratio_to_bound.png", "memory.png"):
        assert f"]({png})" in markdown and (tmp_path / "out" / png).read_bytes().startswith(b"\x89PNG")
    assert "| `m:fast` | 8x1024 | 3.00 ms | 1.00 ms | 3.00x | 10.0x |" in markdown  # 30 ms / 3 ms baseline
    assert "| `m:fast_unfused` | 8x1024 | 6.00 ms | 1.00 ms | 6.00x | 5.0x |" in markdown  # PREFIX_baseline
    assert "| `m:fast_baseline` | 8x1024 | 30.00 ms | 1.00 ms | 30.00x | - |" in markdown  # not its own
    assert "Not timed" in markdown and "m:wrong" in markdown
    slope = loglog_slope([256, 512, 1024], [0.2e-3, 0.8e-3, 3e-3])
    assert "Growth with L" in markdown and f"| `m:fast` | B=8 | {slope:.2f} | " in markdown
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "src=\"http" not in page and "<table>" in page


def test_pytest_benchmark_json_is_accepted() -> None:
    size = timing(8, 1024, 1e-3, 0.5e-3).to_json()
    data = {"machine_info": {"python_version": "3.11"}, "datetime": "2026-01-01", "benchmarks": [
        {"name": "test_speed[8x1024-m:fast]", "stats": {"min": 2e-3, "median": 2.1e-3, "q1": 2e-3, "q3": 2.2e-3,
                                                         "rounds": 7},
         "extra_info": {"maskoracle": {"target": "m:fast", "framework": "torch", "workload": "causal",
                                       "size": size}}},
        {"name": "test_other", "fullname": "benchmarks/x.py::test_other",
         "stats": {"min": 0.5, "median": 0.6, "rounds": 3}, "extra_info": {}},
    ]}
    report = from_pytest_benchmark(data)
    fast, other = report.targets
    assert fast.target == "m:fast" and fast.sizes[0].best_s == 2e-3 and fast.sizes[0].ratio_to_bound == 4.0
    assert report.workload == "causal"
    assert other.target == "benchmarks/x.py::test_other" and other.sizes[0].best_s == 0.5
    assert _short(other.target) == "benchmarks/x.py::test_other" and _short("a.b.torch:f") == "torch:f"


def test_load_rejects_missing_corrupt_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_bench_file(str(tmp_path / "nope.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_bench_file(str(tmp_path / "bad.json"))
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(UsageError, match="neither"):
        load_bench_file(str(tmp_path / "other.json"))
    (tmp_path / "broken.json").write_text('{"kind": "maskoracle-bench", "targets": [{"target": "x"}]}')
    with pytest.raises(UsageError, match="malformed"):
        load_bench_file(str(tmp_path / "broken.json"))


# ------------------------------------------------------------------------------------------------- CLI
WRONG_NUMPY = """\
import numpy as np


def block_causal(pad_masks, att_masks):
    blocks = np.cumsum(att_masks, axis=-1)
    return pad_masks[:, None, :] & pad_masks[:, :, None] & (blocks[:, None, :] < blocks[:, :, None])
"""


def test_cli_bench_then_report_with_a_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert main(["bench", NUMPY_BUILTIN, "--sizes", "2x16,2x32", "--min-time", "0.001", "--gate-examples", "5",
                 "--json", str(first), "--plain"]) == 0
    out = capsys.readouterr().out
    assert "gate passed" in out and "x bound" in out and "2x32" in out and "all targets timed" in out
    data = json.loads(first.read_text())
    assert data["kind"] == "maskoracle-bench" and data["passed"] and len(data["targets"][0]["sizes"]) == 2
    assert main(["report", str(first), "-o", str(tmp_path / "report"), "--json", str(tmp_path / "r.json")]) == 0
    assert (tmp_path / "report" / "README.md").is_file() and (tmp_path / "report" / "report.html").is_file()
    # The same run made to look twice as slow against an unchanged bound: flagged, exit 1.
    for size in data["targets"][0]["sizes"]:
        size["best_s"] *= 3
        size["median_s"] *= 3
    second.write_text(json.dumps(data))
    assert main(["report", str(second), "-o", str(tmp_path / "again"), "--baseline", str(first), "--plain"]) == 1
    assert "REGRESSION" in capsys.readouterr().out
    assert "REGRESSION" in (tmp_path / "again" / "README.md").read_text()


def test_cli_bench_a_wrong_target_is_not_timed_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wrong.py"
    path.write_text(WRONG_NUMPY)
    code = main(["bench", f"{path}:block_causal@numpy", NUMPY_BUILTIN, "--sizes", "1x8", "--min-time", "0.001",
                 "--gate-examples", "5", "--plain", "--json", str(tmp_path / "b.json")])
    out = capsys.readouterr().out
    assert code == 1 and "NOT TIMED: failed spec_examples" in out and "some targets NOT timed" in out
    data = json.loads((tmp_path / "b.json").read_text())
    assert [t["gate_passed"] for t in data["targets"]] == [False, True]


@pytest.mark.parametrize("argv, message", [
    (["bench", NUMPY_BUILTIN, "--sizes", "8by16"], "--sizes: '8by16' is not BxL"),
    (["bench"], "name at least one TARGET"),
    (["bench", "maskoracle.implementations.numpy:block_causal@jax"], "unknown framework 'jax'"),
    (["bench", "nope_module_xyz:fn"], "cannot be imported"),
    (["report", "missing.json", "-o", "out"], "missing.json: no such file"),
])
def test_cli_usage_errors_are_one_line_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_report_on_corrupt_json_is_one_line_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "bench.json").write_text('{"kind": "maskoracle-bench", "targets": ')
    result = subprocess.run([sys.executable, "-m", "maskoracle", "report", "bench.json", "-o", "out"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("maskoracle report: error: bench.json: not valid JSON (Expecting value at "
                                     "line 1)")


@pytest.mark.parametrize("command", ["bench", "report"])
def test_cli_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and "--json" in capsys.readouterr().out


@needs_torch
def test_bench_on_cuda_synchronises_and_records_device_memory() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the GPU path (synchronised timings, device memory) is not exercised here")
    from maskoracle.implementations import torch as torch_impl

    report = bench([BenchTarget("t", torch_impl.block_causal)], sizes=[(2, 64)], device="cuda", min_time=0.001,
                   gate_examples=5)
    size = report.targets[0].sizes[0]
    assert size.status == "timed" and size.memory_method == "torch.cuda.max_memory_allocated"
    assert "cuda" in size.output


def test_report_readme_section_is_replaced_between_markers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    report = report_of(timing(8, 1024, 1e-3, 0.5e-3), timing(2, 4096, 10e-3, 8e-3))
    bench_json = tmp_path / "bench.json"
    bench_json.write_text(json.dumps(report.to_json()))
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- speed:start -->\nold\n<!-- speed:end -->\n\nafter\n")
    assert main(["report", str(bench_json), "-o", str(tmp_path / "reports"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- speed:end -->\n\nafter\n")
    assert "![time against L per implementation](reports/time_vs_length.png)" in text
    assert "| `m:fast` | 8x1024 | 1.00 ms | 500 µs | 2.00x | - |" in text
    readme.write_text("no markers here\n")
    capsys.readouterr()
    assert main(["report", str(bench_json), "-o", str(tmp_path / "reports"), "--readme", str(readme)]) == 2
    assert "no <!-- speed:start -->" in capsys.readouterr().err


@needs_torch
def test_torch_builtins_trace_and_compile_through_the_comparison_path() -> None:
    import torch

    from maskoracle.implementations import torch as torch_impl

    pad, att = workload_inputs(2, 40, "pi05_subtask")
    pad_t, att_t = torch.from_numpy(pad), torch.from_numpy(att)
    expected = fast_reference_mask(pad, att)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # jit.trace is deprecated in recent PyTorch
        traced = torch.jit.trace(torch_impl.block_causal, (pad_t, att_t), check_trace=False)
    np.testing.assert_array_equal(traced(pad_t, att_t).numpy(), expected)
    compiled = torch.compile(torch_impl.block_causal_additive, backend="eager", fullgraph=True)
    np.testing.assert_array_equal((compiled(pad_t, att_t)[:, 0] == 0).numpy(), expected)
