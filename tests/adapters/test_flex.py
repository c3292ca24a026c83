"""FlexAttention kinds (``--kind mask_mod`` / ``--kind block_mask``): materialising, block masks, failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.nn.attention.flex_attention")

from torch.nn.attention.flex_attention import BlockMask  # noqa: E402

from maskoracle import UsageError, check, reference_mask  # noqa: E402
from maskoracle.adapters.flex import block_mask_to_dense, materialise_mask_mod  # noqa: E402
from maskoracle.cli import main  # noqa: E402
from maskoracle.implementations.flex import block_causal_block_mask, block_causal_mask_mod  # noqa: E402
from tests.fixtures import attention_fixtures as fixtures  # noqa: E402

FIXTURES = Path(__file__).parents[1] / "fixtures" / "attention_fixtures.py"
FAST = {"max_examples": 15, "seed": 3, "db": "none"}
CORE = ["output_format", "spec_examples", "exhaustive_small", "size_boundaries"]


def _status(report) -> dict[str, str]:
    return {result.name: result.status for result in report.checks}


def _failed(report) -> dict[str, str]:
    return {result.name: result.message for result in report.failed}


def test_builtin_mask_mod_passes_and_its_block_masks_at_ragged_lengths_too() -> None:
    report = check(block_causal_mask_mod, kind="mask_mod",
                   checks=["output_format", "spec_examples", "exhaustive_small", "equivalence", "block_mask_ragged"],
                   **FAST)
    assert report.passed, _failed(report)
    assert _status(report)["block_mask_ragged"] == "passed"
    ragged = next(result for result in report.checks if result.name == "block_mask_ragged")
    assert ragged.examples >= 5  # 129, 130, 200, 257, 258 ... (RAGGED_LENGTHS and the boundary inputs)


def test_builtin_block_mask_passes_at_lengths_that_are_not_block_multiples() -> None:
    report = check(block_causal_block_mask, kind="block_mask", checks=["output_format", "spec_examples",
                                                                       "size_boundaries"], **FAST)
    assert report.passed, _failed(report)
    assert _status(report)["size_boundaries"] == "passed"  # L = 128 ... 2100, most of them ragged


@pytest.mark.parametrize("L", [130, 200, 257])
def test_block_mask_decodes_to_the_oracle_at_ragged_lengths(L: int) -> None:
    pad = np.ones((2, L), dtype=bool)
    pad[1, L - 70:] = False
    att = np.zeros((2, L), dtype=bool)
    att[:, L // 3:] = True
    block_mask = block_causal_block_mask(torch.from_numpy(pad), torch.from_numpy(att))
    dense = block_mask_to_dense(block_mask, 2, L)[:, 0].numpy()
    assert np.array_equal(dense, reference_mask(pad, att))


def test_a_block_listed_full_skips_the_mask_mod_and_an_unlisted_block_masks_everything() -> None:
    """What FlexAttention applies, not what the mask_mod says: the decoding follows the block lists."""
    L = 200  # two 128-blocks per axis, the second ragged
    nothing = lambda b, h, q_idx, kv_idx: q_idx < 0  # noqa: E731 - masks every cell
    everything = lambda b, h, q_idx, kv_idx: q_idx >= 0  # noqa: E731
    # Row block 0: kv block 0 full; row block 1: kv block 1 partial. Blocks (0, 1) and (1, 0) are not listed.
    full_indices = torch.tensor([[[[0, 1], [1, 0]]]], dtype=torch.int32)
    block_mask = BlockMask.from_kv_blocks(torch.tensor([[[0, 1]]], dtype=torch.int32), full_indices,
                                          torch.tensor([[[1, 0]]], dtype=torch.int32), full_indices,
                                          mask_mod=nothing, seq_lengths=(L, L))
    dense = block_mask_to_dense(block_mask, 1, L)[0, 0]
    assert dense[:128, :128].all()  # listed full: allowed although the mask_mod allows nothing
    assert not dense[128:, 128:].any()  # partial: the mask_mod decides
    assert not dense[:128, 128:].any() and not dense[128:, :128].any()  # not listed
    unlisted = BlockMask.from_kv_blocks(torch.tensor([[[1, 0]]], dtype=torch.int32), full_indices,
                                        mask_mod=everything, seq_lengths=(L, L))
    dense = block_mask_to_dense(unlisted, 1, L)[0, 0]
    assert dense[:128, :128].all() and not dense[128:].any()


@pytest.mark.parametrize("factory, failed_check, words", [
    (fixtures.strict_less_mask_mod, "spec_examples", ["cell (b=0, query=0, key=0)", "expected ✓, got ✗"]),
    (fixtures.ignores_padding_mask_mod, "spec_examples", ["expected ✗, got ✓"]),
    (fixtures.python_if_mask_mod, "output_format", ["vmap", "control flow", "torch.where"]),
    (fixtures.integer_mask_mod, "output_format", ["torch.int32", "returns bool"]),
], ids=lambda value: getattr(value, "__name__", str(value)))
def test_buggy_mask_mods_fail_with_a_clear_message(factory, failed_check: str, words: list[str]) -> None:
    report = check(factory, kind="mask_mod", checks=[*CORE, "block_mask_ragged"], **FAST)
    failed = _failed(report)
    assert failed_check in failed, failed
    for word in words:
        assert word in failed[failed_check]


def test_block_mask_ragged_names_the_block_a_wrong_mask_mod_leaves_out() -> None:
    report = check(fixtures.strict_less_mask_mod, kind="mask_mod", checks=["block_mask_ragged"], **FAST)
    message = _failed(report)["block_mask_ragged"]
    assert "BLOCK_SIZE 128x128" in message and "is not listed" in message and "[B, L] = [" in message


def test_block_mask_built_with_batch_none_fails_on_the_second_row() -> None:
    report = check(fixtures.batch_none_block_mask, kind="block_mask", checks=CORE, **FAST)
    failed = _failed(report)
    assert "cell (b=1," in failed["exhaustive_small"]
    assert "size_boundaries" in failed


def test_block_mask_built_for_a_rounded_length_is_refused_with_the_lengths() -> None:
    report = check(fixtures.rounded_length_block_mask, kind="block_mask", checks=CORE, **FAST)
    assert "(Q_LEN, KV_LEN) = (128, 128)" in _failed(report)["output_format"]


def test_a_mask_mod_factory_checked_as_a_mask_fails_output_format() -> None:
    report = check(block_causal_mask_mod, checks=["output_format"], **FAST)
    assert "returned function" in _failed(report)["output_format"]


def test_materialise_mask_mod_matches_the_oracle() -> None:
    pad = np.array([[1, 1, 1, 1, 1, 0], [1, 0, 1, 1, 1, 1]], dtype=bool)
    att = np.array([[0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 0, 1]], dtype=bool)
    mask_mod = block_causal_mask_mod(torch.from_numpy(pad), torch.from_numpy(att))
    assert np.array_equal(materialise_mask_mod(mask_mod, 2, 6)[:, 0].numpy(), reference_mask(pad, att))


def test_flex_kinds_need_torch_and_unknown_kinds_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--framework torch"):
        check(block_causal_mask_mod, kind="mask_mod", framework="numpy", seed=0)
    with pytest.raises(UsageError, match="--kind: invalid value 'mask-mod'"):
        check(block_causal_mask_mod, kind="mask-mod", seed=0)


def test_cli_kind_mask_mod_writes_the_kind_and_fails_a_buggy_factory(capsys, tmp_path) -> None:
    path = tmp_path / "report.json"
    code = main(["check", f"{FIXTURES}:python_if_mask_mod", "--kind", "mask_mod", "--seed", "0",
                 "--db", "none", "--json", str(path), "--plain"])
    out = capsys.readouterr().out
    assert code == 1
    assert "--kind mask_mod" in out  # the reproduce command repeats the kind
    report = json.loads(path.read_text())
    assert report["options"]["kind"] == "mask_mod"
    assert report["checks"][0]["name"] == "output_format" and not report["checks"][0]["passed"]


@pytest.mark.parametrize("arguments, words", [
    (["--kind", "mask_mod", "--framework", "numpy"], "--framework torch"),
    (["--kind", "flex"], "invalid choice"),
])
def test_cli_kind_usage_errors_exit_2_with_one_line(capsys, arguments: list[str], words: str) -> None:
    try:
        code = main(["check", "maskoracle.implementations.flex:block_causal_mask_mod", "--seed", "0", *arguments])
    except SystemExit as exit_:  # argparse's own choices check exits
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: the FlexAttention kinds on --device cuda")
@pytest.mark.parametrize("factory, kind", [(block_causal_mask_mod, "mask_mod"), (block_causal_block_mask, "block_mask")])
def test_flex_kinds_on_cuda(factory, kind: str) -> None:
    report = check(factory, kind=kind, device="cuda", checks=["output_format", "spec_examples", "result_device"],
                   **FAST)
    assert report.passed, _failed(report)
