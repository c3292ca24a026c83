"""The pytest plugin: ``--mask-impl`` and the ``--mask-*`` options, and the fixtures the suites use."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest

from ..checking import check, check_names
from ..checking.isolation import Worker, check_isolated
from ..checking.run import prepare
from ..database import chosen_database, open_database
from ..errors import UsageError
from ..options import add_check_options, options_from
from ..reports.terminal import Output, render_failure
from ..speed.bench import WORKLOADS
from ..targets import load_target

WORKER_SEED_KEY = "maskoracle_seed"
PREFIX = "--mask-"  # the CLI's options, spelled --mask-NAME


@dataclass
class MaskImpl:
    """A ``--mask-impl`` target; ``fn`` imports it into this process (only the speed suite and
    ``--mask-isolation in-process`` do: the checks otherwise run it in a worker process)."""

    target: str
    worker: Worker | None = None

    @property
    def fn(self) -> Any:
        return load_target(self.target)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("maskoracle", "maskoracle: check attention-mask implementations")
    group.addoption("--mask-impl", action="append", default=[], metavar="TARGET",
                    help="implementation to check, package.module:function or path/file.py:function (repeatable)")
    add_check_options(group.addoption, prefix=PREFIX)
    group.addoption("--mask-bench-sizes", default="8x256,8x1024,2x4096", metavar="BxL,...",
                    help="size grid of the speed suite (pytest-benchmark), e.g. 8x1024,64x1024,2x4096")
    group.addoption("--mask-bench-workload", default="pi05_subtask",
                    help="(pad, att) layout the speed suite times: pi05_subtask, causal, bidirectional, random")


def _seed(config: pytest.Config) -> int:
    """``--mask-seed``, else one random seed per session: drawn by the xdist controller and handed to every
    worker (``pytest_configure_node``), so that a parallel run checks exactly what a serial one would.
    """
    seed = config.getoption("--mask-seed")
    if seed is None:
        seed = getattr(config, "workerinput", {}).get(WORKER_SEED_KEY)
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


class _XdistController:
    """Registered on the xdist controller only: every worker gets the controller's session seed."""

    @staticmethod
    def pytest_configure_node(node: Any) -> None:
        node.workerinput[WORKER_SEED_KEY] = _seed(node.config)


def pytest_configure(config: pytest.Config) -> None:
    """With ``--mask-impl`` given, load the targets and validate every ``--mask-*`` value before collection."""
    targets = config.getoption("--mask-impl", default=[])
    if not targets:
        return
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_XdistController(), "maskoracle-xdist-controller")
    options = _options(config)
    try:
        # Every --mask-* value checked as check() checks it (a --mask-device that is not there included),
        # before any implementation is imported.
        grouped = prepare({name: value for name, value in options.items() if name not in ("seed", "db")}).spec.grouped
        workload = config.getoption("--mask-bench-workload")
        if workload not in WORKLOADS:
            raise UsageError(f"--mask-bench-workload: unknown workload {workload!r}; choose from "
                             f"{', '.join(WORKLOADS)}")
    except UsageError as error:
        raise pytest.UsageError(str(error).replace("--", PREFIX, 1) if str(error).startswith("--") and
                                not str(error).startswith(PREFIX) else str(error)) from None
    impls = [_impl(target, options) for target in targets]
    if options["db"] is not None:
        try:
            open_database(options["db"], "--mask-db")  # a database that cannot be opened stops the run here
        except UsageError as error:
            raise pytest.UsageError(str(error)) from None
    config._maskoracle_grouped = grouped is not None  # type: ignore[attr-defined]
    config._maskoracle_impls = impls  # type: ignore[attr-defined]


def _impl(target: str, options: dict[str, Any]) -> MaskImpl:
    """The ``--mask-impl`` target, imported where its checks will run: a worker process (kept warm for the
    session) or, with ``--mask-isolation in-process``, this one. A target that cannot be imported, or whose
    import ends its process, stops the run with a usage error."""
    try:
        if options["isolation"] == "in-process":
            load_target(target)
            return MaskImpl(target)
        worker = Worker(options["memory_limit"])
        problem = worker.probe(target, options)
    except UsageError as error:
        raise pytest.UsageError(f"--mask-impl: {error}") from None
    if problem is not None:
        worker.close()
        raise pytest.UsageError(f"--mask-impl: {problem}")
    return MaskImpl(target, worker)


def pytest_unconfigure(config: pytest.Config) -> None:
    for impl in getattr(config, "_maskoracle_impls", []):
        if impl.worker is not None:
            impl.worker.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mask_impl" not in metafunc.fixturenames:
        return
    impls = getattr(metafunc.config, "_maskoracle_impls", None)
    if not impls:
        raise pytest.UsageError("maskoracle.suites needs an implementation: pass --mask-impl package.module:function")
    metafunc.parametrize("mask_impl", impls, ids=[impl.target for impl in impls], scope="session")
    # A suite module whose checks depend on --mask-kind says which through checks_for(kind).
    checks_for = getattr(metafunc.module, "checks_for", None)
    if checks_for is not None and "check_name" in metafunc.fixturenames:
        metafunc.parametrize("check_name", checks_for(metafunc.config.getoption("--mask-kind")))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (rather than skip) the suites that do not apply: the layout suite (``test_layouts``) without a
    grouped layout, and ``test_attention`` items unless their options ask for them."""
    wanted: set[str] = set()
    if config.getoption("--mask-kind", default="mask") == "mask_mod":
        wanted.add("block_mask_ragged")
    if config.getoption("--mask-model-dtypes", default=None) or config.getoption("--mask-nan-free", default=False):
        wanted |= {"masked_values", "attention_outputs"}
    drop_layout_suite = not getattr(config, "_maskoracle_grouped", True)
    # The speed suite times fn(pad, att) -> mask: not other calling conventions, not group-rule layouts.
    drop_speed_suite = (config.getoption("--mask-kind", default="mask") != "mask"
                        or getattr(config, "_maskoracle_grouped", False))
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("check_name") if callspec is not None else None
        is_attention = getattr(item, "originalname", "") == "test_attention"
        is_layout = getattr(getattr(item, "module", None), "__name__", "") == "maskoracle.suites.test_layouts"
        is_speed = getattr(getattr(item, "module", None), "__name__", "") == "maskoracle.suites.test_speed"
        drop = (is_attention and name not in wanted) or (is_layout and drop_layout_suite) \
            or (is_speed and drop_speed_suite)
        (dropped if drop else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def mask_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """The ``check()`` keyword arguments that the ``--mask-*`` options select."""
    return _options(pytestconfig)


def _options(config: pytest.Config) -> dict[str, Any]:
    get = config.getoption
    options = options_from(get, PREFIX)
    # The session's seed is drawn here when --mask-seed is absent; that is no reason to go without the example
    # database, which check() otherwise drops for an explicit seed.
    options["seed"] = _seed(config)
    options["db"] = chosen_database(get("--mask-db")) or (None if get("--mask-seed") is not None else "default")
    return options


@pytest.fixture
def run_mask_check(mask_impl: MaskImpl, mask_options: dict[str, Any], pytestconfig: pytest.Config,
                   request: pytest.FixtureRequest) -> Any:
    """``run_mask_check(name)``: run one named check on the implementation; fail or skip the test with its report.
    Each test runs one check, so ``--mask-exitfirst`` stops the session after a failed one (pytest's ``-x`` for
    the mask tests alone)."""
    grouped = getattr(pytestconfig, "_maskoracle_grouped", False)
    kind = mask_options.get("kind", "mask")
    names = check_names(mask_options["spec"], kind, mask_options["layout"])

    def run(name: str) -> None:
        if name not in names:
            pytest.skip(f"{name}: not a check of grouped layouts (checking/plans/layout.py)" if grouped
                        else f"{name} is not a check of --mask-kind {kind}")
        try:
            if mask_impl.worker is None:
                report = check(mask_impl.fn, target=mask_impl.target, checks=[name], **mask_options)
            else:
                report = check_isolated(mask_impl.target, checks=[name], worker=mask_impl.worker, **mask_options)
        except UsageError as error:
            raise pytest.UsageError(f"maskoracle: {error}") from None
        result = report.checks[0]
        if result.status == "skipped":
            pytest.skip(f"{name}: {result.message}")
        if result.status == "failed":
            import io

            if mask_options.get("exitfirst"):
                request.session.shouldstop = f"--mask-exitfirst: {name} failed on {mask_impl.target}"
            stream = io.StringIO()
            render_failure(report, result, Output(stream, plain=True))
            pytest.fail(stream.getvalue().strip(), pytrace=False)

    return run
