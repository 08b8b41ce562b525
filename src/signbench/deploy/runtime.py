"""Run TFLite models with the LiteRT interpreter (``ai_edge_litert``), thread count configurable.

``LiteModel`` wraps one interpreter: it takes float inputs in the model's float domain (for the
course models, images scaled to [0, 1]), quantizes them when the model has an integer input,
resizes the batch dimension on demand, and returns float outputs (dequantized when the output is
an integer tensor).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["LiteModel", "interpreter", "quantize", "dequantize"]


def interpreter(
    model: bytes | str | os.PathLike, *, num_threads: int | None = None, delegates=None, op_resolver_type=None
):
    """A LiteRT ``Interpreter`` for a flatbuffer (bytes) or a .tflite path, tensors allocated.

    ``num_threads=None`` lets LiteRT choose; ``op_resolver_type`` (an ``OpResolverType``) can turn off
    the default XNNPACK delegate.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kwargs = {
        "num_threads": num_threads,
        "experimental_delegates": delegates,
        "experimental_op_resolver_type": op_resolver_type or OpResolverType.AUTO,
    }
    if isinstance(model, bytes | bytearray):
        interp = Interpreter(model_content=bytes(model), **kwargs)
    else:
        interp = Interpreter(model_path=str(Path(model)), **kwargs)
    interp.allocate_tensors()
    return interp


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float values to the integer type of the tensor described by ``detail`` (its scale/zero point)."""
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return np.asarray(x, dtype=dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, dtype=np.float32) / np.float32(scale)) + zero
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    """Integer tensor values back to float32 (identity cast for float tensors)."""
    if not np.issubdtype(detail["dtype"], np.integer):
        return np.asarray(q, dtype=np.float32)
    scale, zero = detail["quantization"]
    return (q.astype(np.float32) - np.float32(zero)) * np.float32(scale)


class LiteModel:
    """One loaded TFLite model: ``run(x)`` maps float inputs to float outputs, any batch size."""

    def __init__(self, model: bytes | str | os.PathLike, *, num_threads: int | None = None, delegates=None):
        self.num_threads = num_threads
        self.interpreter = interpreter(model, num_threads=num_threads, delegates=delegates)
        self._refresh()

    def _refresh(self) -> None:
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input["shape"])

    @property
    def input_dtype(self):
        return self.input["dtype"]

    def resize(self, batch_size: int) -> None:
        """Make the interpreter take ``batch_size`` inputs at once (no-op when it already does)."""
        if self.input_shape[0] == batch_size:
            return
        shape = [batch_size, *self.input_shape[1:]]
        self.interpreter.resize_tensor_input(self.input["index"], shape, strict=False)
        self.interpreter.allocate_tensors()
        self._refresh()

    def set_raw(self, x: np.ndarray) -> None:
        """Put already-typed input (the model's own input dtype) in place, resizing if needed."""
        self.resize(len(x))
        self.interpreter.set_tensor(self.input["index"], x)

    def invoke(self) -> None:
        self.interpreter.invoke()

    def raw_output(self) -> np.ndarray:
        return self.interpreter.get_tensor(self.output["index"])

    def run(self, x: np.ndarray) -> np.ndarray:
        """Float inputs (N x ...) -> float outputs (N x ...)."""
        x = np.asarray(x)
        self.set_raw(quantize(x, self.input))
        self.invoke()
        return dequantize(self.raw_output(), self.output)
