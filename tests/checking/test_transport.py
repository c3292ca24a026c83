"""Values between maskoracle's process and the worker (``checking/transport.py``), and what a call in the worker
does besides returning, as maskoracle's process sees it (``isolation.RemoteFunction``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from maskoracle.checking.calling import WorkerEnded
from maskoracle.checking.isolation import RemoteFunction, Worker, check_isolated
from maskoracle.checking.transport import Encoder, Opaque, decode, frame, parse
from maskoracle.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def round_trip(value):
    encoder = Encoder()
    meta = encoder.value(value)
    data = bytearray(b"".join(bytes(piece) for piece in frame({"value": meta}, encoder)))
    header, buffers = parse(memoryview(data))
    return decode(header["value"], buffers)


def test_numpy_arrays_keep_dtype_values_and_memory_layout() -> None:
    wide = np.arange(40, dtype=np.int64).reshape(4, 10)
    for array in (wide, wide[:, :5], wide[:, ::2], np.asfortranarray(wide), np.ones((2, 3), dtype=bool),
                  np.zeros((0, 3), dtype=np.float32), np.float16(1.5) * np.ones(3, dtype=np.float16)):
        back = round_trip(array)
        assert back.dtype == array.dtype and back.shape == array.shape
        assert np.array_equal(back, array)
        assert back.flags.c_contiguous == array.flags.c_contiguous
        assert back.flags.f_contiguous == array.flags.f_contiguous
        assert back.flags.writeable


def test_torch_tensors_keep_dtype_strides_and_views() -> None:
    wide = torch.arange(40).reshape(4, 10)
    for tensor in (wide, wide[:, :5], wide[:, ::2], wide.t(), torch.ones(2, 3, dtype=torch.bool),
                   torch.full((2, 2), float("-inf"), dtype=torch.bfloat16), torch.zeros(0, 4)):
        back = round_trip(tensor)
        assert back.dtype == tensor.dtype and back.shape == tensor.shape
        assert back.stride() == tensor.stride() and back.is_contiguous() == tensor.is_contiguous()
        assert torch.equal(back, tensor)


def test_other_values_travel_as_data_or_as_a_named_opaque() -> None:
    assert round_trip(None) is None
    assert round_trip((1, "two", [3.0, None])) == (1, "two", [3.0, None])
    assert round_trip({"a": np.ones(2, dtype=bool)})["a"].tolist() == [True, True]

    class BlockThing:
        def __repr__(self) -> str:
            return "BlockThing(42)"

    back = round_trip(BlockThing())
    assert isinstance(back, Opaque) and type(back).__name__ == "BlockThing" and repr(back) == "BlockThing(42)"
    assert type(round_trip(lambda: 1)).__name__ == "function"  # code never travels


def test_an_array_this_process_cannot_rebuild_arrives_as_a_named_opaque() -> None:
    back = decode({"kind": "numpy", "dtype": "no_such_dtype", "shape": [2], "strides": [1], "offset": 0,
                   "buffer": 0}, [memoryview(bytearray(2))])
    assert isinstance(back, Opaque) and type(back).__name__ == "ndarray" and type(back).__module__ == "numpy"
    assert "cannot rebuild" in repr(back) and "no_such_dtype" in repr(back)


def test_a_malformed_frame_is_a_value_error_not_a_crash() -> None:
    with pytest.raises(ValueError):
        parse(memoryview(bytearray(b"\x02\x00\x00\x00\x00\x00\x00\x00{}extra")))
    with pytest.raises(ValueError):
        decode({"kind": "nonsense"}, [])


@pytest.fixture(scope="module")
def worker():
    worker = Worker(None)
    yield worker
    worker.close()


def remote(worker: Worker, name: str, framework: str = "torch") -> RemoteFunction:
    return RemoteFunction(worker, f"{FIXTURES / 'call_effects.py'}:{name}",
                          {"kind": "mask", "framework": framework, "device": "cpu", "timeout": 10.0})


def test_in_place_edits_in_the_worker_reach_this_process_arguments(worker) -> None:
    pad, att = torch.ones(2, 4, dtype=torch.bool), torch.zeros(2, 4, dtype=torch.bool)
    fn = remote(worker, "clears_first_pad_bit")
    fn(pad, att)
    assert not pad[:, 0].any() and pad[:, 1:].all()  # as if it had run here
    assert fn.last_aliases == (False, False)


def test_a_result_that_is_a_view_of_an_input_is_reported_as_such(worker) -> None:
    fn = remote(worker, "returns_pad")
    pad = torch.ones(1, 3, dtype=torch.bool)
    result = fn(pad, pad.clone())
    assert torch.equal(result, pad) and fn.last_aliases == (True, False)


def test_a_reused_output_buffer_changes_the_previous_result_here_too(worker) -> None:
    fn = remote(worker, "reused_buffer")
    first = fn(torch.ones(1, 2, dtype=torch.bool), torch.zeros(1, 2, dtype=torch.bool))
    kept = first.clone()
    fn(torch.zeros(1, 2, dtype=torch.bool), torch.zeros(1, 2, dtype=torch.bool))
    assert not torch.equal(first, kept)  # the worker's buffer was overwritten, and so was our copy


def test_a_worker_death_is_worker_ended_and_the_next_call_starts_a_fresh_one(worker) -> None:
    fn = remote(worker, "exits_on_three_tokens", "numpy")
    with pytest.raises(WorkerEnded, match="exited with code 7"):
        fn(np.ones((1, 3), dtype=bool), np.ones((1, 3), dtype=bool))
    starts = worker.starts
    assert fn(np.ones((1, 2), dtype=bool), np.ones((1, 2), dtype=bool)).shape == (1, 2, 2)
    assert worker.starts == starts + 1


def test_garbage_written_on_the_reply_pipe_is_a_named_failure_not_a_crash(tmp_path) -> None:
    out = tmp_path / "report.json"
    code = main(["check", f"{FIXTURES / 'call_effects.py'}:writes_on_the_reply_pipe", "--framework", "numpy",
                 "--seed", "1", "--db", "none", "--plain", "--json", str(out)])
    report = json.loads(out.read_text())
    assert code == 1 and not report["passed"]
    assert "sent a reply maskoracle cannot read" in report["checks"][0]["message"]


BEHAVIOUR_CHECKS = ["output_format", "spec_examples", "inputs_unchanged", "deterministic", "results_stay_valid",
                    "no_input_aliasing", "input_forms"]


def test_the_behaviour_checks_give_the_same_verdicts_in_a_worker_as_in_process() -> None:
    """Zoo entries whose bugs live in what a call does besides its result: in place, views, buffers, caches."""
    from maskoracle.zoo import zoo_entries

    names = {"clears_first_att_bit_in_place", "unsqueezes_pad_in_place", "bidirectional_fast_path_view",
             "reused_output_buffer", "assumes_contiguous_inputs", "correct_contiguous_first"}
    entries = [entry for entry in zoo_entries() if entry.name in names]
    assert len(entries) == len(names)
    shared = Worker(None)
    try:
        for entry in entries:
            options = {"framework": entry.framework, "seed": 3, "max_examples": 30, "db": "none", **entry.options,
                       "checks": BEHAVIOUR_CHECKS}
            isolated = check_isolated(entry.target, worker=shared, **options)
            from maskoracle import check

            here = check(entry.fn, isolation="in-process", **options)
            assert [r.status for r in isolated.checks] == [r.status for r in here.checks], entry.name
            assert isolated.passed == entry.equivalent, entry.name
    finally:
        shared.close()


def test_a_call_that_raises_shows_what_it_printed_first_and_last_lines(tmp_path) -> None:
    out = tmp_path / "report.json"
    code = main(["check", f"{FIXTURES / 'call_effects.py'}:prints_then_raises", "--framework", "numpy",
                 "--seed", "1", "--db", "none", "--plain", "--json", str(out)])
    message = json.loads(out.read_text())["checks"][0]["message"]
    assert code == 1 and message.startswith("raised ValueError: nothing fits on input")
    assert "line 0 of the implementation's log" in message and "line 29 of" in message
    assert "line 15 of" not in message and "(20 lines)" in message  # bounded: first and last lines only


def test_a_big_result_travels_through_shared_memory_and_leaves_no_file(worker) -> None:
    fn = remote(worker, "returns_pad")
    pad = torch.ones(64, 2**15, dtype=torch.bool)  # 2 MiB: past the pipe's share
    pad[:, ::3] = False
    result = fn(pad, pad)
    assert torch.equal(result, pad) and result.stride() == pad.stride()
    result[0, 0] = True  # a mapped buffer is this process's own copy: writable
    if worker.spill_folder is not None:
        assert os.listdir(worker.spill_folder) == []  # mapped, then removed at once
