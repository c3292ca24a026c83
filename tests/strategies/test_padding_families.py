"""``padding="any"`` draws each of its families by construction, the corner cases included.

A row of all padding (a padded query attends to nothing) and a lone real token among padding are the rows where
real implementations break (SPEC §2, §7). At a few tokens random bits give them by chance, so a test at small
lengths cannot tell whether the strategy still has a branch for them; at 40 tokens chance gives them rarely
(about 2 % of rows, from right or left padding with 0 or 1 real tokens), the branches about 17 % each.
"""

from __future__ import annotations

import re

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from maskoracle.strategies import mask_examples
from maskoracle.strategies._internal import ANY_PADDING_FAMILIES

# What each family's rows look like, as a regular expression over "1" (real) and "0" (padding).
FAMILY_ROWS = {
    "all_real": r"1*",
    "right": r"1*0*",
    "left": r"0*1*",
    "scattered": r"[01]*",
    "all_padding": r"0*",
    "lone_real": r"0*10*",
}


def test_the_corner_cases_are_families_of_their_own() -> None:
    assert [name for name, _ in ANY_PADDING_FAMILIES] == list(FAMILY_ROWS)


@settings(max_examples=60)
@given(st.data(), st.integers(1, 40))
def test_each_family_draws_its_rows(data: st.DataObject, length: int) -> None:
    for name, family in ANY_PADDING_FAMILIES:
        row = "".join("1" if real else "0" for real in family(data.draw, length))
        assert len(row) == length and re.fullmatch(FAMILY_ROWS[name], row), f"{name} gave {row}"


LENGTH, BATCH, EXAMPLES = 40, 4, 100


def test_padding_any_draws_all_padding_and_lone_real_rows_by_construction() -> None:
    counts = {"rows": 0, "all padding": 0, "lone real token": 0, "lone real token inside": 0}

    @seed(0)
    @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
    @given(mask_examples(padding="any", length=LENGTH, batch_size=BATCH))
    def collect(example) -> None:
        for row in example.pad_masks:
            counts["rows"] += 1
            real = np.flatnonzero(row)
            counts["all padding"] += len(real) == 0
            counts["lone real token"] += len(real) == 1
            # Right or left padding gives a lone real token only at an end; inside, only the branch does.
            counts["lone real token inside"] += len(real) == 1 and 0 < real[0] < LENGTH - 1

    collect()
    assert counts["rows"] == EXAMPLES * BATCH
    # One row in six from each branch; without them, about one in fifty (and no lone token inside).
    for kind, least in (("all padding", 0.08), ("lone real token", 0.08), ("lone real token inside", 0.05)):
        assert counts[kind] >= least * counts["rows"], f"{kind}: {counts}"
