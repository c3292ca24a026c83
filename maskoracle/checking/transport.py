"""Values between maskoracle's process and the worker process: a JSON header and raw buffers, never pickle.

A frame is an 8-byte length, a JSON header, then the raw buffers the header lists. Arrays travel as their
memory: a numpy array or a torch tensor as the bytes of the buffer it views, with its dtype, shape, strides
and offset, so that a strided view of a wider buffer arrives as a strided view of a wider buffer, and a
CUDA tensor as a tensor on the same device; a JAX array as its values, dtype and device. ``None``, numbers,
strings and tuples/lists of these travel as themselves; anything else as its type's name and ``repr``
(``Opaque``): maskoracle's process never runs code the worker sent, so a hostile implementation's result can
be wrong, but cannot act.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import short_error

HEADER_LIMIT = 64 * 2**20  # a header longer than this is not one the worker meant to send
MAX_DEPTH = 4  # tuples and lists nested deeper travel as Opaque
LENGTH = 8


class Opaque:
    """A value that cannot travel as data: its type's name and module, and its ``repr``, as the worker saw them.
    ``decode`` makes a subclass named like the original type, so that messages name it as they would."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class Encoder:
    """Builds one frame: ``value`` turns a value into a JSON-able description and appends its buffers."""

    def __init__(self) -> None:
        self.buffers: list[memoryview] = []

    def add(self, buffer: Any) -> int:
        self.buffers.append(memoryview(buffer).cast("B"))
        return len(self.buffers) - 1

    def value(self, value: Any, depth: int = 0) -> dict[str, Any]:
        if value is None:
            return {"kind": "none"}
        if isinstance(value, bool | int | float | str) and type(value) in (bool, int, float, str):
            return {"kind": "plain", "value": value} if _json_safe(value) else _opaque(value)
        if isinstance(value, np.ndarray):
            return self.numpy(value)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            return self.torch(value, torch)
        if _is_jax_array(value):
            return self.jax(value)
        if type(value) in (tuple, list) and depth < MAX_DEPTH:
            return {"kind": type(value).__name__, "items": [self.value(item, depth + 1) for item in value]}
        if type(value) is dict and depth < MAX_DEPTH and all(type(key) is str for key in value):
            return {"kind": "dict", "items": {key: self.value(item, depth + 1) for key, item in value.items()}}
        return _opaque(value)

    def numpy(self, array: np.ndarray) -> dict[str, Any]:
        dtype = array.dtype
        if dtype.hasobject or dtype.fields is not None:
            return _opaque(array)
        flags = array.flags
        if flags.c_contiguous:  # the common case, kept cheap: the array's own memory
            return {"kind": "numpy", "dtype": dtype.name, "shape": list(array.shape), "strides": list(array.strides),
                    "offset": 0, "buffer": self.add(_bytes_of(array))}
        base = array
        while isinstance(base.base, np.ndarray):
            base = base.base
        if not base.flags.c_contiguous or base.nbytes > 4 * array.nbytes + 2**20:
            if flags.f_contiguous:  # column-major: its transpose is C-contiguous
                return {"kind": "numpy", "dtype": dtype.name, "shape": list(array.shape),
                        "strides": list(array.strides), "offset": 0, "buffer": self.add(_bytes_of(array.T))}
            return self.numpy(np.ascontiguousarray(array))
        offset = array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        return {"kind": "numpy", "dtype": dtype.name, "shape": list(array.shape), "strides": list(array.strides),
                "offset": int(offset), "buffer": self.add(_bytes_of(base))}

    def torch(self, tensor: Any, torch: Any) -> dict[str, Any]:
        if tensor.layout != torch.strided or tensor.is_nested or tensor.device.type == "meta":
            return _opaque(tensor)
        tensor = tensor.detach()
        nbytes = tensor.numel() * tensor.element_size()
        if tensor.device.type == "cpu" and tensor.storage_offset() == 0 and tensor.is_contiguous() \
                and tensor.untyped_storage().nbytes() == nbytes and tensor.dtype != torch.bfloat16:
            raw = tensor.reshape(-1).view(torch.uint8) if nbytes else torch.empty(0, dtype=torch.uint8)
        else:  # a view (kept a view), a CUDA tensor, bfloat16: the whole storage's bytes
            storage = tensor.untyped_storage()
            if storage.nbytes() > 4 * nbytes + 2**20:  # a small view of a big buffer: its values only
                tensor = tensor.contiguous()
                storage = tensor.untyped_storage()
            raw = torch.empty(0, dtype=torch.uint8).set_(storage.cpu() if storage.device.type != "cpu" else storage)
        return {"kind": "torch", "dtype": str(tensor.dtype).removeprefix("torch."), "shape": list(tensor.shape),
                "strides": list(tensor.stride()), "offset": tensor.storage_offset(), "device": str(tensor.device),
                "buffer": self.add(raw.numpy())}

    def jax(self, array: Any) -> dict[str, Any]:
        values = np.ascontiguousarray(np.asarray(array))
        devices: set[Any] = getattr(array, "devices", set)()
        device = str(next(iter(devices))) if len(devices) == 1 else None
        return {"kind": "jax", "dtype": values.dtype.name, "shape": list(values.shape), "device": device,
                "buffer": self.add(values.reshape(-1))}


def _bytes_of(array: np.ndarray) -> np.ndarray:
    """A C-contiguous array's memory as uint8 (any dtype, bfloat16 included, 0-d arrays too)."""
    return array.reshape(-1).view(np.uint8)


def _json_safe(value: Any) -> bool:
    return not isinstance(value, float) or np.isfinite(value)


def _is_jax_array(value: Any) -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer)


def _opaque(value: Any) -> dict[str, Any]:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} whose repr raised>"
    return {"kind": "opaque", "type": type(value).__name__, "module": type(value).__module__, "repr": text[:300]}


def decode(meta: dict[str, Any], buffers: list[memoryview]) -> Any:
    """The value ``meta`` describes, built in this process from ``buffers`` (``ValueError`` if malformed)."""
    kind = meta.get("kind")
    if kind == "none":
        return None
    if kind == "plain":
        return meta["value"]
    if kind == "dict":
        return {str(key): decode(item, buffers) for key, item in meta["items"].items()}
    if kind in ("tuple", "list"):
        items = [decode(item, buffers) for item in meta["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind in ARRAYS:
        try:
            return ARRAYS[kind](meta, buffers[meta["buffer"]])
        except Exception as error:  # a dtype or framework this process lacks, or a description that lies
            return _opaque_from({"type": ARRAY_TYPES[kind], "module": kind,
                                 "repr": f"<{kind} array of dtype {meta.get('dtype')} and shape {meta.get('shape')}, "
                                         f"which maskoracle's process cannot rebuild: {short_error(error)}>"})
    if kind == "opaque":
        return _opaque_from(meta)
    raise ValueError(f"unknown kind of value {kind!r}")


def _opaque_from(meta: dict[str, Any]) -> Opaque:
    named = type(str(meta["type"]), (Opaque,), {"__module__": str(meta["module"])})
    return named(str(meta["repr"]))


def _numpy_value(meta: dict[str, Any], buffer: memoryview) -> np.ndarray:
    return np.ndarray(tuple(meta["shape"]), dtype=_numpy_dtype(meta["dtype"]), buffer=buffer, offset=meta["offset"],
                      strides=tuple(meta["strides"]))


def _jax_value(meta: dict[str, Any], buffer: memoryview) -> Any:
    import jax  # lazily: only a JAX implementation's values are JAX arrays

    values = np.frombuffer(buffer, dtype=_numpy_dtype(meta["dtype"])).reshape(meta["shape"])
    device = next((d for d in jax.devices() if str(d) == meta.get("device")), None)
    return jax.device_put(values, device)


def _numpy_dtype(name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes  # lazily: present wherever a bfloat16 numpy array was made

        return ml_dtypes.bfloat16
    return np.dtype(name)


def _torch_value(meta: dict[str, Any], buffer: memoryview) -> Any:
    import torch  # lazily: only a PyTorch implementation's values are tensors

    dtype = getattr(torch, meta["dtype"])
    raw = torch.frombuffer(buffer, dtype=torch.uint8) if len(buffer) else torch.empty(0, dtype=torch.uint8)
    typed = raw.view(dtype)
    if meta["device"] != "cpu":
        typed = typed.to(meta["device"])
    return typed.as_strided(tuple(meta["shape"]), tuple(meta["strides"]), meta["offset"])


ARRAYS: dict[str, Callable[[dict[str, Any], memoryview], Any]] = {
    "numpy": _numpy_value, "torch": _torch_value, "jax": _jax_value}
ARRAY_TYPES = {"numpy": "ndarray", "torch": "Tensor", "jax": "ArrayImpl"}


# --- what a call did besides returning ---------------------------------------------------------------------

def snapshot(value: Any) -> Any:
    """A copy of an array's values (to tell later whether a call changed them); ``None`` for a non-array."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.layout != torch.strided or value.device.type == "meta":
            return None
        return value.detach().clone()
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return value.copy()
    return None


def changed(value: Any, before: Any) -> bool:
    """Whether ``value`` no longer holds what ``snapshot`` copied (its shape or any of its values)."""
    if before is None or tuple(value.shape) != tuple(before.shape):
        return before is not None
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return not torch.equal(value.detach(), before)
    return not np.array_equal(value, before)


def write_into(target: Any, value: Any) -> None:
    """Make ``target`` (an array of this process) hold ``value``: what the worker's copy became in a call."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(target, torch.Tensor) and isinstance(value, torch.Tensor):
        with torch.no_grad():
            if tuple(target.shape) == tuple(value.shape):
                target.copy_(value.to(target.device))
            else:
                target.data = value.to(target.device)
    elif isinstance(target, np.ndarray) and isinstance(value, np.ndarray):
        if target.shape == value.shape:
            np.copyto(target, value, casting="unsafe")
        elif target.flags.owndata:
            target.resize(value.shape, refcheck=False)
            np.copyto(target, value, casting="unsafe")


# --- frames ----------------------------------------------------------------------------------------------------

COALESCE_BYTES = 2**16  # buffers up to this size are copied into one write with the header


SPILL_BYTES = 2**20  # buffers past this size go through a shared-memory file when the reader offers a folder


def frame(header: dict[str, Any], encoder: Encoder | None = None,
          spill: Callable[[memoryview], str] | None = None) -> list[memoryview | bytes]:
    """The pieces of one frame, to write in order: the header and the small buffers joined into one piece (one
    system call, one wake-up of the reader), each big buffer a piece of its own (no copy). With ``spill``, a
    buffer of more than ``SPILL_BYTES`` is written to a file instead (``spill`` returns its name; the header's
    ``spilled`` maps its index to ``[name, length]``): one copy into shared memory, none through the pipe."""
    buffers = encoder.buffers if encoder is not None else []
    spilled = {str(index): [spill(buffer), len(buffer)] for index, buffer in enumerate(buffers)
               if spill is not None and len(buffer) > SPILL_BYTES}
    if spilled:
        header = {**header, "spilled": spilled}
        buffers = [memoryview(b"") if str(index) in spilled else buffer for index, buffer in enumerate(buffers)]
    body = json.dumps({**header, "sizes": [len(buffer) for buffer in buffers]}).encode()
    pieces: list[memoryview | bytes] = []
    small: list[bytes | memoryview] = [len(body).to_bytes(LENGTH, "little"), body]
    for buffer in buffers:
        if len(buffer) <= COALESCE_BYTES:
            small.append(buffer)
            continue
        pieces.append(b"".join(small))
        pieces.append(buffer)
        small = []
    if small:
        pieces.append(b"".join(small))
    return pieces


def parse(data: memoryview) -> tuple[dict[str, Any], list[memoryview]]:
    """A complete frame's header and buffers (``ValueError`` if it is not one)."""
    size = int.from_bytes(data[:LENGTH], "little")
    header = _header(bytes(data[LENGTH:LENGTH + size]))
    return header, split(data[LENGTH + size:], header["sizes"])


def _header(body: bytes) -> dict[str, Any]:
    """A frame's header: a JSON object whose ``sizes`` are the lengths of its buffers (``ValueError`` if not)."""
    header = json.loads(body)
    if not isinstance(header, dict):
        raise ValueError("a frame's header is not an object")
    sizes = header.get("sizes")
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes):
        raise ValueError("a frame's header does not list its buffers' sizes")
    return header


def split(data: Any, sizes: list[int]) -> list[memoryview]:
    """The buffers of a frame, cut from the bytes after its header (``ValueError`` if they do not add up)."""
    view, buffers, position = memoryview(data), [], 0
    for length in sizes:
        buffers.append(view[position:position + int(length)])
        position += int(length)
    if position != len(view):
        raise ValueError("a frame's buffers do not add up to its length")
    return buffers


def frame_length(data: bytes | bytearray | memoryview) -> int | None:
    """The whole frame's length once its header has arrived, else ``None``; ``ValueError`` if absurd."""
    if len(data) < LENGTH:
        return None
    size = int.from_bytes(bytes(data[:LENGTH]), "little")
    if size > HEADER_LIMIT:
        raise ValueError(f"a frame header of {size} bytes")
    if len(data) < LENGTH + size:
        return None
    return LENGTH + size + sum(_header(bytes(data[LENGTH:LENGTH + size]))["sizes"])


def read_exactly(readinto: Callable[[memoryview], int | None], count: int) -> bytearray | None:
    """``count`` bytes from a blocking reader into a writable buffer, or ``None`` at end of input."""
    data = bytearray(count)
    view, position = memoryview(data), 0
    while position < count:
        got = readinto(view[position:])
        if not got:
            return None
        position += got
    return data
