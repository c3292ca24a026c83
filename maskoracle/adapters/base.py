"""One adapter per framework: numpy arrays in, the framework's arrays out, and back to numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError

FRAMEWORKS = ("torch", "numpy", "jax")


class Adapter:
    """Converts numpy ``[B, L]`` bool inputs to a framework's arrays and results back to numpy."""

    framework = "numpy"
    # True where every new input shape costs a compilation (JAX): time budgets then skip the first call.
    compiles_per_shape = False

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def inputs(self, pad: np.ndarray, att: np.ndarray, att_dtype: str) -> tuple[Any, Any]:
        raise NotImplementedError

    def to_numpy(self, result: Any) -> np.ndarray:
        """The result as a numpy array (bfloat16 widened to float32, which holds it exactly)."""
        return np.asarray(result)

    def is_array(self, result: Any) -> bool:
        return isinstance(result, np.ndarray)

    def shares_memory(self, result: Any, given: Any) -> bool:
        """Whether ``result`` is (a view of) the same memory as the input ``given``."""
        if isinstance(result, np.ndarray) and isinstance(given, np.ndarray):
            return bool(np.may_share_memory(result, given))
        return False

    def device_name(self) -> str | None:
        """The inputs' device, or ``None`` for frameworks without devices."""
        return None

    def device_of(self, result: Any) -> str | None:
        return None


class NumpyAdapter(Adapter):
    framework = "numpy"

    def __init__(self, device: str = "cpu") -> None:
        if device != "cpu":
            raise UsageError(f"--framework numpy runs on the CPU only, got --device {device}")
        super().__init__(device)

    def inputs(self, pad: np.ndarray, att: np.ndarray, att_dtype: str) -> tuple[Any, Any]:
        return pad.copy(), att.astype(_numpy_dtype(att_dtype))

    def to_numpy(self, result: Any) -> np.ndarray:
        array = np.asarray(result)
        if array.dtype.name == "bfloat16":
            array = array.astype(np.float32)
        return array


def _numpy_dtype(name: str) -> Any:
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise UsageError("--att-dtype bfloat16 with --framework numpy needs ml_dtypes: pip install ml_dtypes") \
                from None
        return ml_dtypes.bfloat16
    return np.dtype(name)


class TorchAdapter(Adapter):
    framework = "torch"

    def __init__(self, device: str = "cpu") -> None:
        try:
            import torch
        except ImportError:
            raise UsageError("--framework torch needs PyTorch: pip install 'maskoracle[torch]'") from None
        self.torch = torch
        try:
            self.torch_device = torch.device(device)
            torch.zeros(1, device=self.torch_device)
        except Exception as error:  # an unknown device string, or CUDA absent
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise UsageError(f"--device {device} is not usable with torch: {message}") from None
        if self.torch_device.type == "meta":
            raise UsageError("--device meta holds no data: a mask there cannot be read; use cpu or cuda")
        super().__init__(device)

    def inputs(self, pad: np.ndarray, att: np.ndarray, att_dtype: str) -> tuple[Any, Any]:
        torch = self.torch
        dtype = getattr(torch, att_dtype)
        pad_t = torch.from_numpy(pad.copy()).to(self.torch_device)
        att_t = torch.from_numpy(att.copy()).to(device=self.torch_device, dtype=dtype)
        return pad_t, att_t

    def is_array(self, result: Any) -> bool:
        return isinstance(result, self.torch.Tensor | np.ndarray)

    def shares_memory(self, result: Any, given: Any) -> bool:
        torch = self.torch
        if isinstance(result, torch.Tensor) and isinstance(given, torch.Tensor):
            if result.numel() == 0 or given.numel() == 0 or result.device != given.device:
                return False
            return bool(result.untyped_storage().data_ptr() == given.untyped_storage().data_ptr())
        if isinstance(result, np.ndarray) and isinstance(given, torch.Tensor) and given.device.type == "cpu":
            return bool(np.may_share_memory(result, given.numpy()))
        return False

    def device_name(self) -> str | None:
        return str(self.torch_device)

    def device_of(self, result: Any) -> str | None:
        """``str(tensor.device)``, ``cpu`` for a numpy array, ``None`` for anything else."""
        if isinstance(result, self.torch.Tensor):
            device = result.device
            # "cuda" and "cuda:0" name the same device, and torch reports a tensor built on "cpu:0" as on
            # "cpu" (the CPU has no index): compare as the inputs' device was given.
            if device.type == self.torch_device.type and (
                    self.torch_device.index is None or device.index in (None, self.torch_device.index)):
                return str(self.torch_device)
            return str(device)
        if isinstance(result, np.ndarray):
            return "cpu"
        return None

    def to_numpy(self, result: Any) -> np.ndarray:
        torch = self.torch
        if isinstance(result, torch.Tensor):
            result = result.detach()
            if result.dtype == torch.bfloat16:
                result = result.float()
            return result.cpu().numpy()
        return np.asarray(result)
