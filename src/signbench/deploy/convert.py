"""Convert a Keras model to TFLite: float32, float16, dynamic-range and full-integer int8.

TensorFlow-specific (uses ``tf.lite.TFLiteConverter``). The model is traced through a
``tf.function`` with an explicit input signature, which works for any Keras 3 model on the
TensorFlow backend. ``batch_size=None`` keeps the batch dimension dynamic (resizable at run time);
``batch_size=1`` gives the fixed shapes an Edge TPU needs.

Full-integer int8 models take int8 input and give int8 output; they are calibrated on a
representative sample of real (training) images picked with a seed (``representative_sample``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from signbench import seeds
from signbench.atomic import atomic_write

__all__ = ["MODES", "convert", "representative_sample", "save"]

#: The conversion modes, in the order the benchmarks report them.
MODES = ("float32", "float16", "dynamic", "int8")
#: Default number of calibration images for int8.
CALIBRATION_SIZE = 256


def representative_sample(images: np.ndarray, n: int = CALIBRATION_SIZE, *, seed: int) -> np.ndarray:
    """``n`` images drawn without replacement (seeded) from ``images``, scaled to float32 in [0, 1].

    ``images`` are uint8 N x H x W x C (as in ``LabeledImages.images``) or already-float inputs.
    """
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"need a non-empty N x H x W x C array, got shape {images.shape}")
    n = min(int(n), len(images))
    idx = seeds.rng(seed, "calibration").choice(len(images), size=n, replace=False)
    sample = images[np.sort(idx)]
    if sample.dtype == np.uint8:
        return sample.astype(np.float32) / np.float32(255.0)
    return sample.astype(np.float32)


def _concrete_function(model, batch_size: int | None):
    import tensorflow as tf

    shape = (batch_size, *tuple(model.inputs[0].shape[1:]))
    spec = tf.TensorSpec(shape, tf.float32, name="images")

    @tf.function(input_signature=[spec])
    def serve(images):
        return {"probabilities": model(images, training=False)}

    return serve.get_concrete_function(), serve


def convert(
    model,
    mode: str = "float32",
    *,
    representative: np.ndarray | None = None,
    batch_size: int | None = None,
) -> bytes:
    """Return the TFLite flatbuffer of ``model`` converted in ``mode`` (one of ``MODES``).

    ``representative`` (float32 inputs, e.g. from ``representative_sample``) is required for
    ``"int8"`` and ignored otherwise.
    """
    import tensorflow as tf

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "int8":
        if representative is None or len(representative) == 0:
            raise ValueError("int8 conversion needs a representative sample of real inputs")
        representative = np.asarray(representative, dtype=np.float32)
    concrete, trackable = _concrete_function(model, batch_size)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable)
    if mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        step = batch_size or 1

        def gen():
            for i in range(0, len(representative) - step + 1, step):
                yield [representative[i : i + step]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = gen
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        # int8 with int8 I/O: the converter asks for input statistics it does not need when a
        # representative dataset calibrates the input (the model's input scale comes from it).
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        return bytes(converter.convert())


def save(flatbuffer: bytes, path: str | os.PathLike) -> Path:
    """Write ``flatbuffer`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    return atomic_write(path, flatbuffer)
