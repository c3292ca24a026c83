"""The named examples of SPEC.md §2-§3, as data: every implementation is checked on each of them."""

from __future__ import annotations

from typing import NamedTuple


class SpecCase(NamedTuple):
    name: str
    section: str
    pad: str  # one character per token, "1" real / "0" padding
    att: str  # "1" starts a new block
    note: str


SPEC_CASES: tuple[SpecCase, ...] = (
    SpecCase("pure_causal", "§2", "111111", "111111", "att all 1: the lower triangle"),
    SpecCase("prefix_lm", "§2", "111111", "000111", "tokens 0-2 see each other and nothing after them"),
    SpecCase("four_blocks", "§2", "1111111111", "1010100100", "blocks {0,1} {2,3} {4,5,6} {7,8,9}"),
    SpecCase("first_bit_set", "§2", "111111", "100111", "the first att entry never matters"),
    SpecCase("one_is_not_causal", "§2", "11111", "00100", "token 2 sees tokens 3 and 4 (same block)"),
    SpecCase("pi0_action_suffix", "§2", "11111111", "00011000", "[1, 0, 0, ...] is one bidirectional block"),
    SpecCase("padded_block", "§2", "101", "010", "a padded position still counts in the block id"),
    SpecCase("all_zero_att", "§2", "110111", "000000", "full bidirectional attention among real tokens"),
    SpecCase("user_example", "§3", "111110", "000111", "IMG IMG LANG SUB0 SUB1 PAD: the user's explanation"),
)

# SPEC §3: the user's worked example, with its token names.
USER_EXAMPLE = SPEC_CASES[-1]
USER_EXAMPLE_LABELS = ("IMG", "IMG", "LANG", "SUB0", "SUB1", "PAD")
