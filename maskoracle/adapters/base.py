"""One adapter per framework: numpy arrays in, the framework's arrays out, and back to numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError

FRAMEWORKS = ("torch", "numpy", "jax")
# Memory layouts real code hands over besides a fresh contiguous array (the ``input_forms`` check): ``sliced``,
# ``x[:, :L]`` of a wider buffer; ``strided``, ``x[:, ::2]``; ``column_major``, Fortran order. The buffers around
# the values hold their opposites, so a kernel that reads memory as if contiguous reads wrong values.
INPUT_FORMS = ("sliced", "strided", "column_major")


def wide_buffer(array: np.ndarray, form: str) -> np.ndarray:
    """The numpy buffer a ``form`` view is cut from: the values, and their opposites where the view skips."""
    opposite = (array == 0).astype(array.dtype)
    if form == "sliced":
        return np.concatenate([array, opposite], axis=1)
    wide = np.empty((array.shape[0], 2 * array.shape[1]), dtype=array.dtype)
    wide[:, ::2], wide[:, 1::2] = array, opposite
    return wide


def view_in_form(buffer: Any, form: str, length: int) -> Any:
    """The ``[B, L]`` view of ``wide_buffer``'s buffer (numpy or torch: both slice alike)."""
    return buffer[:, :length] if form == "sliced" else buffer[:, ::2]


class Adapter:
    """Converts numpy ``[B, L]`` bool inputs to a framework's arrays and results back to numpy."""

    framework = "numpy"
    # True where every new input shape costs a compilation (JAX): time budgets then skip the first call.
    compiles_per_shape = False

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def inputs(self, pad: np.ndarray, att: np.ndarray, att_dtype: str) -> tuple[Any, Any]:
        raise NotImplementedError

    def input_forms(self) -> tuple[str, ...]:
        """The memory layouts of ``INPUT_FORMS`` this framework's arrays can take."""
        return INPUT_FORMS

    def inputs_in_form(self, pad: np.ndarray, att: np.ndarray, att_dtype: str, form: str) -> tuple[Any, Any]:
        """``inputs`` with the same values, laid out as ``form`` says (views of wider buffers, column-major)."""
        if form == "column_major":
            return tuple(self.column_major(array) for array in self.inputs(pad, att, att_dtype))  # type: ignore
        L = pad.shape[1]
        pad_buffer, att_buffer = self.inputs(wide_buffer(pad, form), wide_buffer(att, form), att_dtype)
        return view_in_form(pad_buffer, form, L), view_in_form(att_buffer, form, L)

    def column_major(self, array: Any) -> Any:
        return np.asfortranarray(array)

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

    def column_major(self, array: Any) -> Any:
        return array.t().contiguous().t()

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
