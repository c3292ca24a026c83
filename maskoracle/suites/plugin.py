"""The pytest plugin: ``--mask-impl`` and the ``--mask-*`` options, and the fixtures the suites use."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest

from ..adapters import FRAMEWORKS, UsageError
from ..adapters.flex import KINDS
from ..oracle import PAD_QUERY_POLICIES, SPECS
from ..strategies import ATT_DTYPES, LAYOUTS, PADDINGS


@dataclass(frozen=True)
class MaskImpl:
    """A ``--mask-impl`` target and the callable it names."""

    target: str
    fn: Any


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("maskoracle", "maskoracle: check attention-mask implementations")
    group.addoption("--mask-impl", action="append", default=[], metavar="TARGET",
                    help="implementation to check, package.module:function or path/file.py:function (repeatable)")
    group.addoption("--mask-spec", choices=SPECS, default="block_causal")
    group.addoption("--mask-framework", choices=FRAMEWORKS, default="torch")
    group.addoption("--mask-device", default="cpu")
    group.addoption("--mask-layout", choices=LAYOUTS, default="any")
    group.addoption("--mask-padding", choices=PADDINGS, default="any")
    group.addoption("--mask-pad-queries", choices=PAD_QUERY_POLICIES, default="masked")
    group.addoption("--mask-att-dtype", choices=ATT_DTYPES, default="bool")
    group.addoption("--mask-max-examples", type=int, default=None)
    group.addoption("--mask-timeout", type=float, default=10.0)
    group.addoption("--mask-seed", type=int, default=None,
                    help="seed for a reproducible run (default: random, printed in the header)")
    group.addoption("--mask-profile", choices=("dev", "ci", "nightly"), default=None,
                    help="run profile (default $MASKORACLE_PROFILE)")
    group.addoption("--mask-db", default=None, metavar="DIR",
                    help="example database directory or 'none' (default $MASKORACLE_DB, else .hypothesis/)")
    group.addoption("--mask-kind", choices=KINDS, default="mask",
                    help="what --mask-impl returns: mask, mask_mod (FlexAttention factory) or block_mask")
    group.addoption("--mask-model-dtypes", default=None, metavar="DTYPES",
                    help="dtypes the model runs in, comma separated (float32,bfloat16,float16)")
    group.addoption("--mask-nan-free", action="store_true", help="fail on NaN in padded query rows of attention")


def _seed(config: pytest.Config) -> int:
    seed = config.getoption("--mask-seed")
    if seed is None:
        seed = getattr(config, "_maskoracle_seed", None)
        if seed is None:
            seed = random.SystemRandom().randrange(2**32)
            config._maskoracle_seed = seed  # type: ignore[attr-defined]
    return int(seed)


def pytest_report_header(config: pytest.Config) -> str | None:
    if not config.getoption("--mask-impl"):
        return None
    return f"maskoracle: spec {config.getoption('--mask-spec')}, seed {_seed(config)} (repeat with --mask-seed)"


def pytest_configure(config: pytest.Config) -> None:
    """With ``--mask-impl`` given, load the targets and validate every ``--mask-*`` value before collection."""
    targets = config.getoption("--mask-impl", default=[])
    if not targets:
        return
    from ..checking import CheckOptions
    from ..targets import load_target

    impls = []
    for target in targets:
        try:
            impls.append(MaskImpl(target, load_target(target)))
        except UsageError as error:
            raise pytest.UsageError(f"--mask-impl: {error}") from None
    options = _options(config)
    try:
        from ..checking import model_dtypes_tuple

        fields: dict[str, Any] = {name: value for name, value in options.items() if name not in ("profile", "db")}
        fields["model_dtypes"] = model_dtypes_tuple(fields["model_dtypes"])
        CheckOptions(**fields).validate()
    except UsageError as error:
        raise pytest.UsageError(str(error).replace("--", "--mask-", 1)) from None
    if options["framework"] == "jax":
        raise pytest.UsageError("--mask-framework jax is not supported yet; use torch or numpy")
    config._maskoracle_impls = impls  # type: ignore[attr-defined]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mask_impl" not in metafunc.fixturenames:
        return
    impls = getattr(metafunc.config, "_maskoracle_impls", None)
    if not impls:
        raise pytest.UsageError("maskoracle.suites needs an implementation: pass --mask-impl package.module:function")
    metafunc.parametrize("mask_impl", impls, ids=[impl.target for impl in impls], scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``test_attention`` items unless their options ask for them (suites/test_attention.py)."""
    wanted: set[str] = set()
    if config.getoption("--mask-kind", default="mask") == "mask_mod":
        wanted.add("block_mask_ragged")
    if config.getoption("--mask-model-dtypes", default=None) or config.getoption("--mask-nan-free", default=False):
        wanted |= {"masked_values", "attention_outputs"}
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("check_name") if callspec is not None else None
        is_attention = getattr(item, "originalname", "") == "test_attention"
        (dropped if is_attention and name not in wanted else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def mask_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """The ``check()`` keyword arguments that the ``--mask-*`` options select."""
    return _options(pytestconfig)


def _options(config: pytest.Config) -> dict[str, Any]:
    get = config.getoption
    return {
        "spec": get("--mask-spec"),
        "framework": get("--mask-framework"),
        "device": get("--mask-device"),
        "layout": get("--mask-layout"),
        "padding": get("--mask-padding"),
        "pad_queries": get("--mask-pad-queries"),
        "att_dtype": get("--mask-att-dtype"),
        "max_examples": get("--mask-max-examples"),
        "timeout": get("--mask-timeout"),
        "seed": _seed(config),
        "kind": get("--mask-kind"),
        "model_dtypes": get("--mask-model-dtypes"),
        "nan_free": get("--mask-nan-free"),
        "profile": get("--mask-profile"),
        # The session's seed is drawn here when --mask-seed is absent; that is no reason to go without the
        # example database, which check() otherwise drops for an explicit seed.
        "db": get("--mask-db") or (None if get("--mask-seed") is not None else "default"),
    }


@pytest.fixture
def run_mask_check(mask_impl: MaskImpl, mask_options: dict[str, Any]) -> Any:
    """``run_mask_check(name)``: run one named check on the implementation; fail or skip the test with its report."""
    from ..checking import check
    from ..reports.terminal import Output, render_failure

    def run(name: str) -> None:
        try:
            report = check(mask_impl.fn, target=mask_impl.target, checks=[name], **mask_options)
        except UsageError as error:
            raise pytest.UsageError(f"maskoracle: {error}") from None
        result = report.checks[0]
        if result.status == "skipped":
            pytest.skip(f"{name}: {result.message}")
        if result.status == "failed":
            import io

            stream = io.StringIO()
            render_failure(report, result, Output(stream, plain=True))
            pytest.fail(stream.getvalue().strip(), pytrace=False)

    return run
