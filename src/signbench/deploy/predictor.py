"""``Predictor``: load a TFLite model once, then predict letters and probabilities, fast.

One image costs little more than the interpreter's own ``invoke``: the input is written straight
into the interpreter's input buffer (for an int8 model whose input scale is 1/255 and zero point
-128, a uint8 pixel ``p`` is exactly the int8 value ``p - 128``, i.e. ``p ^ 0x80``), the predicted
class is the argmax of the raw int8 output (dequantization is monotonic), and probabilities come
from a 256-entry lookup table. Batches resize the interpreter once per new batch size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from signbench.data.types import SIGN_LETTERS
from signbench.deploy.runtime import LiteModel, dequantize
from signbench.meta import available_cores

__all__ = ["Prediction", "Predictor", "predicted_classes"]


def predicted_classes(probabilities: np.ndarray) -> np.ndarray:
    """The class index each row of model outputs (N x C) predicts: the argmax, or for a one-output
    (sigmoid) model class 1 where its output is above 0.5. Any model's outputs: Keras or TFLite."""
    prob = np.asarray(probabilities)
    if prob.ndim == 2 and prob.shape[1] == 1:
        return (prob[:, 0] > 0.5).astype(np.int64)
    return prob.argmax(axis=1).astype(np.int64)


@dataclass(frozen=True)
class Prediction:
    """``letters``: one letter (a str) for one image, else a list; ``probabilities``: C or N x C."""

    letters: str | list[str]
    probabilities: np.ndarray

    @property
    def letter(self) -> str:
        if not isinstance(self.letters, str):
            raise ValueError("this prediction holds a batch; use .letters")
        return self.letters


class Predictor:
    """Load once, predict many: ``Predictor(path_or_bytes).predict(image_or_batch)``.

    Images are uint8 pixels (0-255) or floats already scaled to [0, 1], shaped H x W (grayscale),
    H x W x C, or a batch N x H x W (x C). One image gives a ``Prediction`` with one letter and a
    1-D probability vector; a batch gives a list of letters and an N x C array.
    """

    def __init__(
        self,
        model: bytes | str | os.PathLike,
        *,
        class_names: list[str] | None = None,
        num_threads: int | None = None,
    ):
        # Default: every core this process may use. The course CNN's one-image invoke reads its
        # weights (13 MB float32, 3.3 MB int8) once per image and is memory-bound; on the 2-core
        # reference machine 2 threads cut the int8 p50 from about 300 us to 155 us (p99 400 -> 220).
        if num_threads is None:
            num_threads = available_cores()
        self.model = LiteModel(model, num_threads=num_threads)
        self._interp = self.model.interpreter
        shape = self.model.input_shape
        self.image_shape = tuple(shape[1:])
        out = self.model.output
        num_classes = int(out["shape"][-1])
        self.class_names = list(class_names if class_names is not None else SIGN_LETTERS[:num_classes])
        if len(self.class_names) != num_classes:
            raise ValueError(f"model has {num_classes} outputs but {len(self.class_names)} class names")
        self._names = np.array(self.class_names, dtype=object)
        self._in_index = self.model.input["index"]
        self._out_index = out["index"]
        self._in_dtype = self.model.input_dtype
        scale, zero = self.model.input["quantization"]
        # uint8 pixels map to int8 input exactly by flipping the top bit when scale=1/255, zp=-128.
        self._xor_ok = self._in_dtype == np.int8 and zero == -128 and abs(scale * 255.0 - 1.0) < 1e-6
        self._int_out = np.issubdtype(out["dtype"], np.integer)
        if self._int_out:
            if np.dtype(out["dtype"]).itemsize != 1:
                raise ValueError(f"integer output must be 8-bit, got {out['dtype']}")
            # Probability of every possible output byte, indexed by the byte's uint8 view.
            codes = np.arange(256, dtype=np.uint8).view(out["dtype"])
            self._lut = dequantize(codes, out)
        self._batch = shape[0]
        if self._batch != 1:
            self._resize(1)

    @classmethod
    def from_keras(cls, model, mode: str = "int8", *, representative=None, **kwargs) -> Predictor:
        """Convert a Keras model (see ``signbench.deploy.convert``) and load it."""
        from signbench.deploy.convert import convert

        return cls(convert(model, mode, representative=representative), **kwargs)

    def _resize(self, n: int) -> None:
        self.model.resize(n)
        self._batch = n

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        """Input array in the model's dtype, N x image_shape."""
        if x.dtype == np.uint8:
            if self._xor_ok:
                return np.bitwise_xor(x, np.uint8(0x80)).view(np.int8)
            x = x.astype(np.float32) * np.float32(1.0 / 255.0)
        elif np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"integer images must be uint8 pixels, got {x.dtype}")
        if np.issubdtype(self._in_dtype, np.integer):
            scale, zero = self.model.input["quantization"]
            info = np.iinfo(self._in_dtype)
            x = np.clip(np.round(x / np.float32(scale)) + zero, info.min, info.max)
        return x.astype(self._in_dtype, copy=False)

    def _as_batch(self, images) -> tuple[np.ndarray, bool]:
        x = np.asarray(images)
        full = self.image_shape
        if x.shape == full:
            return x[None], True
        if full[-1] == 1 and x.shape == full[:-1]:
            return x.reshape((1, *full)), True
        if x.shape[1:] == full:
            return x, False
        if full[-1] == 1 and x.ndim == len(full) and x.shape[1:] == full[:-1]:
            return x.reshape((len(x), *full)), False
        raise ValueError(f"expected an image {full} (or a batch N x {full}), got shape {x.shape}")

    def predict(self, images) -> Prediction:
        """Letters and probabilities for one image or a batch (see the class docstring)."""
        x, single = self._as_batch(images)
        if single and self._batch == 1 and self._xor_ok and x.dtype == np.uint8:
            # The one-image fast path: no dtype dispatch, no float round trip.
            self._interp.set_tensor(self._in_index, np.bitwise_xor(x, np.uint8(0x80)).view(np.int8))
            return self._finish(True)
        n = len(x)
        if n == 0:
            return Prediction([], np.zeros((0, len(self.class_names)), np.float32))
        if n != self._batch:
            self._resize(n)
        self._interp.set_tensor(self._in_index, self._prepare(x))
        return self._finish(single)

    def _finish(self, single: bool) -> Prediction:
        self._interp.invoke()
        raw = self._interp.get_tensor(self._out_index)
        if single:
            row = raw[0]
            probs = self._lut.take(row.view(np.uint8)) if self._int_out else row
            return Prediction(self.class_names[int(row.argmax())], probs)
        probs = self._lut.take(raw.view(np.uint8)) if self._int_out else raw
        return Prediction(list(self._names[raw.argmax(axis=-1)]), probs)

    __call__ = predict

    def accuracy(self, images, labels, *, batch_size: int = 512) -> float:
        """The share of ``images`` (a batch, as for :meth:`predict`) whose predicted class is ``labels``
        (class indices), predicted ``batch_size`` at a time (:func:`predicted_classes`): THE accuracy of a
        TFLite model in signbench."""
        x, _ = self._as_batch(images)
        y = np.asarray(labels)
        if len(x) == 0 or len(x) != len(y):
            raise ValueError(f"need one label per image and at least one image, got {len(y)} labels "
                             f"for {len(x)} images")
        hits = 0
        for i in range(0, len(x), batch_size):
            pred = predicted_classes(self.predict(x[i:i + batch_size]).probabilities)
            hits += int(np.sum(pred == y[i:i + batch_size]))
        return hits / len(x)

    def invoke_only(self) -> None:
        """The raw interpreter ``invoke`` on whatever input is in place: the latency floor."""
        self._interp.invoke()
