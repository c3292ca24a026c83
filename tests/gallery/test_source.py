"""``installed_function``: one function of an installed package, compiled alone, with no package code run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from maskoracle.gallery.source import installed_function, module_file

HEAVY_INIT = "raise ImportError('heavy: needs datasets, pandas, pyarrow')\n"
MODELING = '''\
import numpy as np
import pandas  # never imported: only the function below runs

SCALE = 2


def make_att_2d_masks(pad_masks, att_masks):
    if att_masks.ndim != 2:
        raise ValueError(att_masks.ndim)
    cumsum = np.cumsum(att_masks, axis=1)
    allowed = cumsum[:, None, :] <= cumsum[:, :, None]
    return allowed & (pad_masks[:, None, :] * pad_masks[:, :, None])


def scaled(x):
    return x * SCALE


def make_att_2d_masks(pad_masks, att_masks):  # the later definition wins, as at import
    cumsum = np.cumsum(att_masks, axis=1)
    return (cumsum[:, None, :] <= cumsum[:, :, None]) & pad_masks[:, None, :] & pad_masks[:, :, None]
'''


@pytest.fixture
def heavy_package(tmp_path: Path) -> Iterator[Path]:
    """``heavypkg`` whose package ``__init__`` cannot be imported, and its ``policies/modeling.py``."""
    package = tmp_path / "site" / "heavypkg"
    (package / "policies").mkdir(parents=True)
    (package / "__init__.py").write_text(HEAVY_INIT, encoding="utf-8")
    (package / "policies" / "__init__.py").write_text(HEAVY_INIT, encoding="utf-8")
    (package / "policies" / "modeling.py").write_text(MODELING, encoding="utf-8")
    sys.path.insert(0, str(tmp_path / "site"))
    try:
        yield package
    finally:
        sys.path.remove(str(tmp_path / "site"))


def test_the_function_runs_alone_and_no_package_code_runs(heavy_package: Path) -> None:
    fn = installed_function("heavypkg.policies.modeling", "make_att_2d_masks", np=np)
    pad = np.array([[True, False, True]])
    att = np.array([[0, 1, 0]])
    assert fn(pad, att).astype(int).tolist() == [[[1, 0, 0], [0, 0, 0], [1, 0, 1]]]  # SPEC §2's padded block
    assert fn.__code__.co_filename == str(heavy_package / "policies" / "modeling.py")
    later = [number for number, line in enumerate(MODELING.splitlines(), 1) if line.startswith("def make_att")][-1]
    assert fn.__code__.co_firstlineno == later  # the later definition, as the module itself would keep
    assert not [name for name in sys.modules if name.startswith("heavypkg") or name == "pandas"]


def test_a_missing_module_function_or_global_is_an_import_error(heavy_package: Path) -> None:
    with pytest.raises(ImportError, match="uses names of its module that are not given: SCALE"):
        installed_function("heavypkg.policies.modeling", "scaled")
    with pytest.raises(ImportError, match="uses names of its module that are not given: np"):
        installed_function("heavypkg.policies.modeling", "make_att_2d_masks")
    with pytest.raises(ImportError, match="has no top-level function 'absent'"):
        installed_function("heavypkg.policies.modeling", "absent", np=np)
    with pytest.raises(ImportError, match=r"No module named 'heavypkg.policies.other'"):
        module_file("heavypkg.policies.other")
    with pytest.raises(ImportError, match="No module named 'not_a_package_anywhere'"):
        module_file("not_a_package_anywhere.modeling")
    assert module_file("heavypkg.policies") == heavy_package / "policies" / "__init__.py"
