"""The JAX adapter: ``jnp`` inputs on a JAX device, ``jax.Array`` results read back on the host.

JAX is imported when the adapter is built, never at import time of ``maskoracle``. Two JAX facts shape it:

- JAX arrays are immutable. An implementation cannot change its inputs in place or hand back a buffer it
  will overwrite later, and a result that *is* an input (``jnp.asarray(x)`` returns ``x``) cannot change
  under the caller. ``shares_memory`` therefore always says no, and ``inputs_unchanged`` passes by
  construction; both still run, so a numpy array returned from a JAX implementation is judged like one.
- Without ``jax_enable_x64`` JAX has no 64-bit integers: ``jnp.asarray(int64 array)`` silently gives int32.
  ``--att-dtype int64`` is then a usage error that says how to enable them, rather than a quiet int32 run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError
from .base import Adapter


def _device_platform_and_index(device: str) -> tuple[str, int | None]:
    platform, _, index = device.partition(":")
    platform = platform.strip().lower()
    if not platform or (index and not index.isdigit()):
        raise UsageError(f"--device {device!r} is not a JAX device; write cpu, gpu, cuda, tpu or gpu:1")
    return platform, int(index) if index else None


class JaxAdapter(Adapter):
    framework = "jax"
    compiles_per_shape = True

    def __init__(self, device: str = "cpu") -> None:
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            raise UsageError("--framework jax needs JAX: pip install 'maskoracle[jax]'") from None
        self.jax, self.jnp = jax, jnp
        platform, index = _device_platform_and_index(device)
        try:
            devices = jax.devices(platform)
        except Exception as error:  # an unknown platform, or no GPU
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UsageError(f"--device {device} is not usable with jax: {message}") from None
        if index is not None and index >= len(devices):
            raise UsageError(f"--device {device} is not usable with jax: only {len(devices)} {platform} "
                             f"device{'s' if len(devices) > 1 else ''} ({', '.join(map(str, devices))})")
        self.jax_device = devices[index or 0]
        self._index_given = index is not None
        super().__init__(device)

    def input_forms(self) -> tuple[str, ...]:
        return ()  # JAX arrays have no strides a user could hand over

    def _dtype(self, att_dtype: str) -> Any:
        if att_dtype == "int64" and not getattr(self.jax.config, "jax_enable_x64", False):
            raise UsageError("--att-dtype int64 with --framework jax needs 64-bit mode (JAX silently makes int32 "
                             "otherwise): set JAX_ENABLE_X64=1")
        return getattr(self.jnp, att_dtype)

    def inputs(self, pad: np.ndarray, att: np.ndarray, att_dtype: str) -> tuple[Any, Any]:
        jax, jnp = self.jax, self.jnp
        dtype = self._dtype(att_dtype)
        pad_j = jax.device_put(jnp.asarray(pad, dtype=jnp.bool_), self.jax_device)
        att_j = jax.device_put(jnp.asarray(att, dtype=dtype), self.jax_device)
        return pad_j, att_j

    def is_array(self, result: Any) -> bool:
        return isinstance(result, self.jax.Array | np.ndarray)

    def shares_memory(self, result: Any, given: Any) -> bool:
        # JAX arrays are immutable: sharing a buffer with an input can never change the mask later.
        if isinstance(result, np.ndarray) and isinstance(given, np.ndarray):
            return bool(np.may_share_memory(result, given))
        return False

    def device_name(self) -> str | None:
        return self.device if not self._index_given else f"{self.jax_device.platform}:{self.jax_device.id}"

    def device_of(self, result: Any) -> str | None:
        """``platform:id`` of the result's device (``cpu`` for a numpy array, ``None`` for anything else).

        As with torch, ``--device cpu`` and a result on ``cpu:0`` name the same device.
        """
        if isinstance(result, self.jax.Array):
            devices = list(result.devices())
            if len(devices) != 1:
                return ", ".join(sorted(f"{d.platform}:{d.id}" for d in devices))
            device = devices[0]
            if not self._index_given and device == self.jax_device:
                return self.device
            return f"{device.platform}:{device.id}"
        if isinstance(result, np.ndarray):
            return "cpu"
        return None

    def to_numpy(self, result: Any) -> np.ndarray:
        array = np.asarray(result)
        if array.dtype.name == "bfloat16":
            array = array.astype(np.float32)
        return array
