"""A native row writer for ``block_causal`` masks: a few lines of C compiled once, on first use, with the
system's C compiler, and called through ``ctypes``.

Why: where the output stays in the CPU caches (an 8 MiB ``[8, 1024, 1024]`` bool mask), writing it costs
about as much as ``memset``, and NumPy's per-call and per-row overheads (a broadcast copy is a strided loop
per row) cost as much again. The C loop writes each query's row with one or two ``memcpy`` calls from a
template row in L1 cache, copies the row for the other queries of its block, and never touches a byte twice.

It is an accelerator, never a requirement: without a compiler, or with ``MASKORACLE_NATIVE=0``, ``native()``
returns ``None`` with the reason in ``native_status()``, and the NumPy writer (``_rows``) does the work. The
compiled library is cached under ``$MASKORACLE_CACHE`` (default ``$XDG_CACHE_HOME/maskoracle`` or
``~/.cache/maskoracle``; where that cannot be written, ``maskoracle-UID`` in the temporary directory; never a
folder that others can write to), named by a hash of the source, the compiler, its flags and the platform;
concurrent first uses (pytest-xdist workers) each compile to a private file and rename it into place.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

SOURCE = r"""
#include <stdint.h>
#include <string.h>

/* A template row, an allowed row, a masked row, and room to place a block row anywhere modulo 4096. */
#define SCRATCH_BYTES(L, size) (4 * (L) * (size) + 4096)

/* row[j] = values[choose[j] ? 1 : 0] (choose NULL: always values[0]), for elements of `size` bytes; typed
   loops the compiler vectorises for the common sizes (a memcpy call per element would cost more than the
   whole row's copy). */
static void fill_row(uint8_t *row, const uint8_t *choose, int64_t L, const uint8_t *values, int64_t size) {
#define FILL(T) { T v0, v1; memcpy(&v0, values, sizeof(T)); memcpy(&v1, values + sizeof(T), sizeof(T)); \
                  T *r = (T *)row; \
                  if (choose) for (int64_t j = 0; j < L; j++) r[j] = choose[j] ? v1 : v0; \
                  else for (int64_t j = 0; j < L; j++) r[j] = v0; \
                  return; }
    switch (size) {
    case 1: FILL(uint8_t)
    case 2: FILL(uint16_t)
    case 4: FILL(uint32_t)
    case 8: FILL(uint64_t)
    default:
        for (int64_t j = 0; j < L; j++) memcpy(row + j * size, values + (choose && choose[j] ? size : 0), size);
    }
#undef FILL
}

/* SPEC section 2, written row by row. pad, att: [B, L] bytes, each 0 or 1. values: the masked element then the allowed
   one, `size` bytes each. scratch: SCRATCH_BYTES(L, size), 8-byte aligned. Query i of batch row b sees key j
   iff pad[b, j] and j < end(b, i): end is the first token of a later block (a token j > 0 with att set), or
   L; end is 0 for a padded query. */
void maskoracle_block_causal(const uint8_t *pad, const uint8_t *att, int64_t B, int64_t L,
                             const uint8_t *values, int64_t size, uint8_t *scratch, uint8_t *out) {
    const int64_t width = L * size;
    uint8_t *row = scratch, *allowed_row = row + width, *masked_row = allowed_row + width;
    uint8_t *area = masked_row + width;
    /* A block's rows are copied from block_row, placed 512 bytes off the output rows modulo 4096: a copy
       whose source and destination share their low 12 address bits stalls on 4K aliasing. */
    uint8_t *block_row = area + (((uintptr_t)out + 512 - (uintptr_t)area) & 4095);
    fill_row(masked_row, NULL, L, values, size);
    fill_row(allowed_row, NULL, L, values + size, size);
    for (int64_t b = 0; b < B; b++) {
        const uint8_t *p = pad + b * L, *a = att + b * L;
        uint8_t *rows = out + b * L * width;
        fill_row(row, p, L, values, size);
        /* Keys before the first padded one are all real: a row that sees no further is allowed * end then
           masked * (L - end), one window of allowed_row + masked_row (one memcpy instead of two). */
        const uint8_t *first_padded = memchr(p, 0, L);
        const int64_t all_real = (first_padded ? first_padded - p : L) * size;
        /* Block by block (a block starts at 0 and at every later token with att set: memchr finds the next),
           and within a block by runs of real or padded queries: real ones see pad[:end], padded ones nothing. */
        for (int64_t start = 0, end; start < L; start = end) {
            if (start + 1 < L && a[start + 1]) {
                end = start + 1;  /* a causal step: no search */
            } else {
                const uint8_t *later = start + 2 < L ? memchr(a + start + 2, 1, L - start - 2) : NULL;
                end = later ? later - a : L;
            }
            for (int64_t first = start, stop; first < end; first = stop) {
                const uint8_t real = p[first];
                const uint8_t *change = end - first > 1 ? memchr(p + first + 1, !real, end - first - 1) : NULL;
                stop = change ? change - p : end;
                const int64_t seen = real ? end * size : 0;
                /* A query alone (a causal step) is written in place; a block's shared row once, then copied. */
                uint8_t *o = stop - first == 1 ? rows + first * width : block_row;
                if (seen <= all_real) {
                    memcpy(o, allowed_row + width - seen, width);
                } else {
                    memcpy(o, row, seen);
                    memcpy(o + seen, masked_row + seen, width - seen);
                }
                if (stop - first > 1)
                    for (int64_t query = first; query < stop; query++) memcpy(rows + query * width, o, width);
            }
        }
    }
}

/* out[k] = values[mask[k]] for n elements of `size` bytes, mask bytes 0 or 1: a bool mask to an additive one. */
void maskoracle_select(const uint8_t *mask, int64_t n, const uint8_t *values, int64_t size, uint8_t *out) {
    fill_row(out, mask, n, values, size);
}
"""
FLAGS = ["-O3", "-shared", "-fPIC"]  # no -march: the library may be shared by machines of one platform
_state: dict[str, Any] = {}


def cache_dir() -> Path:
    """Where the compiled library is kept (see the module docstring)."""
    if os.environ.get("MASKORACLE_CACHE"):
        return Path(os.environ["MASKORACLE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "maskoracle"


def _compiler() -> list[str] | None:
    """``$CC`` (which may carry a launcher or flags: ``ccache gcc``), else the first of cc, gcc, clang."""
    if os.environ.get("CC", "").strip():
        return shlex.split(os.environ["CC"])
    found = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    return [found] if found else None


class _CompileError(Exception):
    """The compiler ran and failed (its first line of errors): another folder would not help."""


def _private(directory: Path) -> bool:
    """Only we (or root) can put a library here: ours, and not writable by group or others."""
    status = directory.stat()
    owner = getattr(os, "getuid", lambda: status.st_uid)()
    return status.st_uid == owner and not status.st_mode & 0o022


def _compile(compiler: list[str], directory: Path, library: Path) -> None:
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        source = Path(scratch) / "block_causal.c"
        source.write_text(SOURCE, encoding="utf-8")
        built = Path(scratch) / library.name
        completed = subprocess.run([*compiler, *FLAGS, "-o", str(built), str(source)],
                                   capture_output=True, text=True, timeout=120)
        if completed.returncode != 0:
            raise _CompileError((completed.stderr.strip().splitlines() or ["no message"])[0])
        os.replace(built, library)  # atomic: a concurrent first use sees no half-written file


def _build() -> tuple[Any, str]:
    if os.environ.get("MASKORACLE_NATIVE", "1").strip().lower() in {"0", "false", "no", "off"}:
        return None, "off (MASKORACLE_NATIVE=0)"
    compiler = _compiler()
    if compiler is None:
        return None, "unavailable: no C compiler (cc, gcc or clang; or set $CC)"
    key = hashlib.sha256("\0".join([SOURCE, *compiler, *FLAGS, platform.platform(), platform.machine()]).encode())
    name = f"block_causal-{key.hexdigest()[:16]}.so"
    # The cache, else (read-only home, a sandbox) a private folder under the temporary directory.
    fallback = Path(tempfile.gettempdir()) / f"maskoracle-{getattr(os, 'getuid', lambda: 0)()}"
    problem = ""
    for directory in (cache_dir(), fallback):
        library = directory / name
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _private(directory):
                problem = f"unavailable: {directory} is writable by others or not ours: not loading code from it"
                continue
            if library.exists():
                break
            _compile(compiler, directory, library)
            break
        except _CompileError as error:
            return None, f"unavailable: {' '.join(compiler)} failed: {error}"
        except (OSError, subprocess.SubprocessError) as error:
            problem = f"unavailable: {type(error).__name__}: {error}"
    else:
        return None, problem
    try:
        library_handle = ctypes.CDLL(str(library))
        pointer, integer = ctypes.c_void_p, ctypes.c_int64
        functions = {"block_causal": library_handle.maskoracle_block_causal,
                     "select": library_handle.maskoracle_select}
    except (OSError, AttributeError) as error:
        return None, f"unavailable: cannot load {library}: {error}"
    functions["block_causal"].argtypes = [pointer, pointer, integer, integer, pointer, integer, pointer, pointer]
    functions["select"].argtypes = [pointer, integer, pointer, integer, pointer]
    for function in functions.values():
        function.restype = None
    return functions, f"C (compiled with {' '.join([Path(compiler[0]).name, *compiler[1:]])})"


def native() -> dict[str, Any] | None:
    """The compiled functions by name (``block_causal``, ``select``), or ``None`` when they cannot be had (the
    reason is in ``native_status()``)."""
    if "functions" not in _state:
        _state["functions"], _state["status"] = _build()
    return _state["functions"]


def native_status() -> str:
    """How ``block_causal`` rows are written on the CPU here: ``C (compiled with cc)``, or why NumPy does it."""
    native()
    return str(_state["status"])


def reset() -> None:
    """Forget the loaded writer, so the next use looks again (tests change ``$CC`` and the cache)."""
    _state.clear()


def write(pad: np.ndarray, att: np.ndarray, out: np.ndarray, allowed: Any, masked: Any) -> bool:
    """Fill C-contiguous ``out`` ``[B, L, L]`` natively; ``False`` (nothing written) when that is not possible.

    ``pad`` and ``att`` are bool ``[B, L]``.
    """
    functions = native()
    if functions is None or not out.flags.c_contiguous or out.dtype.hasobject:
        return False
    B, L = pad.shape
    if B == 0 or L == 0:
        return True  # nothing to write (and the C code reads pad[b, L - 1])
    values, values_address = _values(out.dtype, allowed, masked)
    size = values.itemsize
    scratch = np.empty((4 * L * size + 4096 + 7) // 8, dtype=np.int64)  # SCRATCH_BYTES, 8-byte aligned
    pad_bytes = np.ascontiguousarray(pad, dtype=np.bool_)
    att_bytes = np.ascontiguousarray(att, dtype=np.bool_)
    functions["block_causal"](pad_bytes.ctypes.data, att_bytes.ctypes.data, B, L, values_address, size,
                              scratch.ctypes.data, out.ctypes.data)
    return True


def select(mask: np.ndarray, values: np.ndarray, out: np.ndarray) -> bool:
    """``out[...] = values[1]`` where ``mask``, ``values[0]`` elsewhere, natively; ``False`` when not possible.

    ``mask``: C-contiguous bool; ``values``: two elements of ``out``'s item size (any dtype: bytes are copied);
    ``out``: C-contiguous, with as many elements as ``mask``.
    """
    functions = native()
    if (functions is None or mask.dtype != np.bool_ or not mask.flags.c_contiguous or not out.flags.c_contiguous
            or out.size != mask.size or values.size != 2 or values.itemsize != out.itemsize):
        return False
    functions["select"](mask.ctypes.data, mask.size, values.ctypes.data, out.itemsize, out.ctypes.data)
    return True


_VALUES: dict[tuple[str, str, str], tuple[np.ndarray, int]] = {}


def _values(dtype: np.dtype, allowed: Any, masked: Any) -> tuple[np.ndarray, int]:
    """The masked and allowed elements as bytes, kept per (dtype, values): their address costs a microsecond."""
    key = (dtype.str, repr(allowed), repr(masked))  # repr: -0.0 is not 0.0, and a NaN finds itself
    if key not in _VALUES:
        values = np.array([masked, allowed], dtype=dtype)
        _VALUES[key] = (values, values.ctypes.data)
    return _VALUES[key]
