"""The options of a check, defined once: ``maskoracle check``, the pytest ``--mask-*`` options, ``check()``'s
keywords, the JSON report's ``options`` and the reproduce command are all derived from ``CHECK_OPTIONS``.

Adding an option is one ``Option`` row here plus the code that uses its value (``checking/``). Each row says
how the command line reads it (``parse``), how the Python API checks it (``normalize``), its default and help,
and which kinds use it. As pytest-benchmark does with its ``add_*_options(addoption, prefix)``, the CLI and the
pytest plugin both call ``add_check_options`` with their own prefix (``--`` and ``--mask-``).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .adapters.base import FRAMEWORKS
from .adapters.conventions import INPUT_CONVENTIONS
from .errors import UsageError
from .kinds import KINDS, MASK_LIKE_KINDS
from .layouts import BUILTIN_LAYOUTS, Layout
from .oracle import PAD_QUERY_POLICIES, SPECS
from .profiles import PROFILES
from .strategies import ATT_DTYPES, LAYOUTS, PADDINGS

MAX_TIMEOUT_S = 86_400.0  # a day: beyond it the timer cannot be armed on every platform
MODEL_DTYPES = ("float32", "bfloat16", "float16")
NONE_MEANINGS = ("fail", "causal", "unmasked")


def resolved_default(name: str, options: Mapping[str, Any]) -> Any:
    """What an option whose default is ``None`` resolves to when not given: ``--pad-queries`` follows the
    ``--inputs`` convention (``masked`` for ``pad_att``, ``free`` for the transformers conventions)."""
    if name == "pad_queries":
        return INPUT_CONVENTIONS[options.get("inputs") or "pad_att"].pad_queries
    return None


# --- reading values: `parse` for command-line text (argparse's type=), `normalize` for the Python API -------

def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds, got {text!r}")
    return value


def memory_size(text: str) -> int | None:
    """``--memory-limit``: ``8G``, ``512M``, a number of bytes, or ``none``."""
    value = text.strip().lower()
    if value == "none":
        return None
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    scale = units.get(value[-1:], 1)
    number = value[:-1] if value[-1:] in units else value
    try:
        size = int(float(number.removesuffix("i").removesuffix("b")) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 8G or 512M, or none; got {text!r}") from None
    if size <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return size


def _memory(value: Any, flag: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return memory_size(value)
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"{flag}: {error}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{flag}: expected a number of bytes, got {value!r}")
    return value


def default_memory_limit() -> int:
    """Half the machine's memory, at most 16 GiB: a leaking implementation cannot take the machine down."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    return int(min(total // 2, 16 * 2**30))


def profile_name(text: str) -> str:
    """``--profile``: one of ``PROFILES``."""
    if text in PROFILES:
        return text
    raise argparse.ArgumentTypeError(f"unknown profile {text!r} (choose from {', '.join(PROFILES)})")


def spec_argument(text: str) -> str:
    """``--spec``: a spec name, a built-in layout, or ``path/file.py:LAYOUT`` (loaded by ``resolve_spec``)."""
    if text in SPECS or text in BUILTIN_LAYOUTS or ":" in text:
        return text
    raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from {', '.join(SPECS)}, a built-in layout "
                                     f"({', '.join(BUILTIN_LAYOUTS)}) or path/file.py:LAYOUT)")


def layout_argument(text: str) -> str:
    """``--layout``: an att family of the strategies, or ``path/file.py:LAYOUT``."""
    if text in LAYOUTS or ":" in text:
        return text
    raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from {', '.join(LAYOUTS)} or "
                                     "path/file.py:LAYOUT)")


def _spec_value(value: Any, flag: str) -> Any:
    if isinstance(value, Layout):
        return value
    if not isinstance(value, str):
        raise UsageError(f"{flag}: expected a name or a Layout, got {type(value).__name__}")
    return value  # names are checked where they are resolved (checking/resolve.py), files loaded there


def _max_examples(value: Any, flag: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{flag} must be at least 1, got {value}")
    return value


def _seconds(value: Any, flag: str) -> float:
    if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value)
                                       and 0 < value <= MAX_TIMEOUT_S):
        raise UsageError(f"{flag} must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds, got {value}")
    return float(value) if isinstance(value, float) else value


def _optional_seconds(value: Any, flag: str) -> float | None:
    return None if value is None else _seconds(value, flag)


def _seed(value: Any, flag: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{flag}: expected an integer, got {value!r}")
    return value


def _dtypes(value: Any, flag: str) -> tuple[str, ...]:
    """``"float32,bfloat16"`` or ``["float32", "bfloat16"]`` -> ``("float32", "bfloat16")``."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    dtypes = tuple(str(part).strip() for part in parts if str(part).strip())
    for dtype in dtypes:
        if dtype not in MODEL_DTYPES:
            raise UsageError(f"{flag}: invalid dtype {dtype!r} (choose from {', '.join(MODEL_DTYPES)})")
    return dtypes


def _flag(value: Any, flag: str) -> bool:
    return bool(value)


def _text(value: Any, flag: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{flag}: expected a string, got {type(value).__name__}")
    return value


# --- the table -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    """One option of a check, as every front end spells it."""

    name: str  # the keyword of check(); the flag is --name-with-dashes
    help: str
    default: Any = None
    choices: tuple[str, ...] | None = None
    parse: Callable[[str], Any] | None = None  # command-line text -> value (raises ArgumentTypeError)
    normalize: Callable[[Any, str], Any] | None = None  # API value -> value (raises UsageError)
    metavar: str | None = None
    is_flag: bool = False
    kinds: tuple[str, ...] = KINDS  # the kinds whose checks read it
    in_report: bool = True  # listed in the JSON report's "options" (and so in the reproduce command)

    def flag(self, prefix: str = "--") -> str:
        return prefix + self.name.replace("_", "-")

    def argument_keywords(self) -> dict[str, Any]:
        """The keywords of ``add_argument`` / ``addoption`` for this (not a flag) option."""
        keywords: dict[str, Any] = {"default": self.default, "help": self.help}
        if self.choices is not None:
            keywords["choices"] = self.choices
        if self.parse is not None:
            keywords["type"] = self.parse
        if self.metavar is not None:
            keywords["metavar"] = self.metavar
        return keywords

    def check_value(self, value: Any, prefix: str = "--") -> Any:
        """The value as the checks use it; ``UsageError`` with a one-line message if it is not allowed."""
        if self.choices is not None:
            if value is None and self.default is None:  # resolved later (--pad-queries: the convention's)
                return value
            if value not in self.choices:
                raise UsageError(f"{self.flag(prefix)}: invalid value {value!r} (choose from {', '.join(self.choices)})")
            return value
        return self.normalize(value, self.flag(prefix)) if self.normalize else value

    def as_argument(self, value: Any) -> list[str]:
        """The command-line words that give ``value`` (for the reproduce command)."""
        if self.is_flag:
            return [self.flag()] if value else []
        if isinstance(value, list | tuple):
            return [self.flag(), ",".join(str(item) for item in value)]
        return [self.flag(), str(value)]


CHECK_OPTIONS: tuple[Option, ...] = (
    Option("spec", "block_causal, rowwise, or a grouped layout's rule: a built-in layout name or path/file.py:LAYOUT",
           "block_causal", parse=spec_argument, normalize=_spec_value, metavar="SPEC", in_report=False),
    Option("framework", "the framework of the inputs", "torch", choices=FRAMEWORKS),
    Option("device", "device for the inputs (cpu, cuda, cuda:1, ...)", "cpu", normalize=_text),
    Option("layout", f"att family to generate ({', '.join(LAYOUTS)}) or a grouped layout, path/file.py:LAYOUT",
           "any", parse=layout_argument, normalize=_spec_value, metavar="LAYOUT"),
    Option("padding", "padding family to generate", "any", choices=PADDINGS),
    Option("pad_queries", "masked: padded query rows must be empty; free: they are not compared (default: masked, "
           "or the --inputs convention's: free for paligemma and gemma3)", None, choices=PAD_QUERY_POLICIES),
    Option("inputs", "how the implementation takes its inputs: pad_att (fn(pad_masks, att_masks)), paligemma "
           "(fn(attention_mask, token_type_ids), 0 = prefix, 1 = suffix), gemma3 (fn(attention_mask, "
           "token_type_ids), 1 = image token: each run of them bidirectional, text causal), transformers "
           "(fn(attention_mask, cache_position): keys' padding and the queries' positions, causal; also "
           "--kind kv_cache and incremental)", "pad_att",
           choices=tuple(INPUT_CONVENTIONS), kinds=("mask", "kv_cache", "incremental")),
    Option("att_dtype", "dtype att masks are given in", "bool", choices=ATT_DTYPES),
    Option("max_examples", "Hypothesis examples for the equivalence check (default: the active profile's)",
           parse=positive_int, normalize=_max_examples),
    Option("timeout", "seconds allowed for one call of the implementation (default 10)", 10.0, parse=seconds,
           normalize=_seconds),
    Option("seed", "seed for a reproducible run (default random)", parse=integer, normalize=_seed),
    Option("max_shrink_seconds", "seconds a failing property may spend shrinking its counterexample, the smallest "
           "failure seen so far reported after that (default: the profile's, 4; nightly 60)", parse=seconds,
           normalize=_optional_seconds, metavar="SECONDS"),
    Option("profile", "dev, ci (derandomised) or nightly (long campaigns); default $MASKORACLE_PROFILE",
           parse=profile_name, normalize=_text, metavar="PROFILE"),  # checked by resolve_profile, $MASKORACLE_PROFILE too
    Option("db", "example database: a directory, redis://HOST:PORT/N, several comma-separated, or 'none' "
                 "(default $MASKORACLE_DB, else .hypothesis/)", normalize=_text, metavar="DB", in_report=False),
    Option("kind", "mask: fn(pad, att) -> [B, L, L]; kv_cache: fn(prefix_pad, suffix_pad, suffix_att) -> "
                   "[B, S, P+S]; incremental: fn(pad, att) -> [B, 1, T], the last token's row; mask_mod: a "
                   "FlexAttention mask_mod factory; block_mask: a BlockMask factory", "mask", choices=KINDS),
    Option("none_means", "what a None result stands for: fail (a failed check, the default), causal (SDPA's "
           "is_causal: each query sees the keys up to its position, no padding, as transformers' create_causal_mask "
           "means it) or unmasked (every cell allowed)", "fail", choices=NONE_MEANINGS),
    Option("model_dtypes", "dtypes the model runs in, comma separated (float32,bfloat16,float16): an additive "
                           "masked value must survive each; attention_outputs runs in each", (),
           parse=str, normalize=_dtypes, metavar="DTYPES", kinds=MASK_LIKE_KINDS),
    Option("nan_free", "fail attention_outputs on NaN in padded query rows too (they feed losses)", False,
           normalize=_flag, is_flag=True, kinds=MASK_LIKE_KINDS),
    Option("exitfirst", "stop at the first failed check: the later ones are reported as not run (a faster red "
           "gate; the selftest's mode, whose verdict is the first failed check)", False, normalize=_flag,
           is_flag=True, in_report=False),
    Option("isolation", "process: the implementation runs in a worker process that cannot end, hang or flood "
           "the run (the default for a TARGET); in-process: in maskoracle's own process, for pdb (the default for "
           "a Python callable given to check())", "auto", choices=("auto", "process", "in-process")),
    Option("memory_limit", "with process isolation: kill the worker when its resident memory passes this (8G, "
           "512M, none; default half the machine's memory, at most 16G)", default_memory_limit(),
           parse=memory_size, normalize=_memory, metavar="SIZE"),
)
OPTIONS_BY_NAME = {option.name: option for option in CHECK_OPTIONS}


def add_check_options(addoption: Callable[..., Any], prefix: str = "--") -> None:
    """Declare every option of ``CHECK_OPTIONS`` through ``addoption`` (argparse's ``add_argument`` or pytest's
    ``group.addoption``), each flag spelled ``prefix + name``."""
    for option in CHECK_OPTIONS:
        if option.is_flag:
            addoption(option.flag(prefix), action="store_true", help=option.help)
            continue
        addoption(option.flag(prefix), **option.argument_keywords())


def options_from(get: Callable[[str], Any], prefix: str = "--") -> dict[str, Any]:
    """The ``check()`` keywords from parsed options: ``get(flag)`` reads one (``config.getoption``, or
    ``vars(namespace)`` by attribute name for argparse)."""
    return {option.name: get(option.flag(prefix)) for option in CHECK_OPTIONS}


def namespace_getter(namespace: argparse.Namespace) -> Callable[[str], Any]:
    """``get(flag)`` for an argparse namespace: ``--pad-queries`` is ``namespace.pad_queries``."""
    return lambda flag: getattr(namespace, flag.lstrip("-").replace("-", "_"))


def check_options(values: Mapping[str, Any], prefix: str = "--") -> dict[str, Any]:
    """Every option of the table with its value checked (defaults filled in); ``UsageError`` for an unknown
    name or a value that is not allowed, naming the option as the front end spells it (``prefix``)."""
    unknown = sorted(set(values) - set(OPTIONS_BY_NAME))
    if unknown:
        raise UsageError(f"unknown option {unknown[0]!r}; the options are {', '.join(OPTIONS_BY_NAME)}")
    checked = {}
    for option in CHECK_OPTIONS:
        checked[option.name] = option.check_value(values.get(option.name, option.default), prefix)
    return checked


def report_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON report's ``options``: every option marked ``in_report``, as plain JSON values."""
    return {option.name: list(values[option.name]) if isinstance(values[option.name], tuple) else values[option.name]
            for option in CHECK_OPTIONS if option.in_report and option.name in values}


def reproduce_arguments(options: Mapping[str, Any]) -> list[str]:
    """Command-line words that repeat a run from its report ``options``: every option that differs from its
    default (the resolved seed and example budget always do)."""
    words: list[str] = []
    for option in CHECK_OPTIONS:
        if option.name not in options:
            continue
        value = options[option.name]
        default = list(option.default) if isinstance(option.default, tuple) else option.default
        if value is None or value == default or (default is None and value == resolved_default(option.name, options)):
            continue
        words += option.as_argument(value)
    return words

