"""Save and load every way the course does, in Keras 3 form.

=====================  ======================================  ==========================================
course form            here                                    reload gives
=====================  ======================================  ==========================================
architecture only      :func:`architecture_to_json` /          same layers, fresh weights
(``to_json``/config)   :func:`architecture_from_json`
weights checkpoint     :func:`save_weights` (``*.weights.h5``)  :func:`load_weights` into a fresh model
(per epoch)            or :func:`signbench.train.callbacks.best_checkpoint`
full model             :func:`save_model` (``*.keras``)         :func:`load_model`
legacy HDF5            :func:`save_model` (``*.h5``)            :func:`load_model`
SavedModel             :func:`export_saved_model` (a folder)   :func:`load_saved_model_layer` (inference)
=====================  ======================================  ==========================================

**Extension-less course paths fail with guidance; they are not mapped.** The course saves to
``model_checkpoints/checkpoint`` (weights) and ``saved_model_complete/mymodel`` (a TF2 SavedModel
folder). Keras 3 needs a suffix, and for the second path the right Keras 3 call is ambiguous: a
``.keras`` file (reloadable, trainable) or ``model.export(folder)`` (a SavedModel for serving, reloadable
only as a layer). Silently renaming would also break the course's later cell that loads the old name.
So :func:`require_suffix` (used by every save/load here and by ``best_checkpoint``) raises
:class:`CoursePathError` (a ``ValueError``) whose message gives the exact call to use instead.

**Loading keeps ``safe_mode=True``.** A model with a ``Lambda`` layer (arbitrary Python) is refused
with :class:`UnsafeModelError`; pass ``allow_lambda=True`` only for files you trust.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

__all__ = [
    "CoursePathError",
    "UnsafeModelError",
    "architecture_from_json",
    "architecture_to_json",
    "export_saved_model",
    "load_model",
    "load_saved_model_layer",
    "load_weights",
    "require_suffix",
    "save_model",
    "save_weights",
]

WEIGHTS_SUFFIX = ".weights.h5"
MODEL_SUFFIXES = (".keras", ".h5")


class CoursePathError(ValueError):
    """A course-era path Keras 3 cannot use as given; the message says what to call instead."""


class UnsafeModelError(ValueError):
    """A saved model needs unsafe deserialization (a Lambda layer) and the caller did not opt in."""


def require_suffix(path: str | os.PathLike, kind: str) -> Path:
    """Return ``path`` if it has the Keras 3 suffix for ``kind`` ("weights" or "model"), else raise
    :class:`CoursePathError` naming the right file name and call."""
    p = Path(path)
    name = p.name
    if kind == "weights":
        if name.endswith(WEIGHTS_SUFFIX):
            return p
        stem = name.removesuffix(".h5").removesuffix(".weights")
        right = p.with_name(stem + WEIGHTS_SUFFIX)
        raise CoursePathError(
            f"Keras 3 saves weights only to a '{WEIGHTS_SUFFIX}' file; '{p}' has no such suffix. Use "
            f"model.save_weights('{right}') / ModelCheckpoint('{right}', save_weights_only=True) and "
            f"load with model.load_weights('{right}')."
        )
    if kind == "model":
        if name.endswith(WEIGHTS_SUFFIX):
            raise CoursePathError(f"'{p}' names a weights file; a full model needs '.keras' (or legacy '.h5')")
        if p.suffix in MODEL_SUFFIXES:
            return p
        raise CoursePathError(
            f"Keras 3 saves a full model only to a '.keras' file (or legacy '.h5'); '{p}' has neither. "
            f"Use model.save('{p.with_name(p.name + '.keras')}') and keras.saving.load_model(...) for a "
            f"model you can keep training, or model.export('{p}') for a SavedModel folder (serving, "
            f"TFLite), reloaded with keras.layers.TFSMLayer('{p}', call_endpoint='serve')."
        )
    raise ValueError(f"kind must be 'weights' or 'model', got {kind!r}")


# -- architecture only ---------------------------------------------------------------------------

def architecture_to_json(model: keras.Model) -> str:
    """The model's architecture (no weights, no optimizer state) as JSON."""
    return model.to_json()


def architecture_from_json(text: str) -> keras.Model:
    """A new, uncompiled model with the same architecture and freshly initialized weights."""
    json.loads(text)  # fail early with a JSON error on garbage
    return keras.models.model_from_json(text)


# -- weights -------------------------------------------------------------------------------------

def save_weights(model: keras.Model, path: str | os.PathLike) -> Path:
    p = require_suffix(path, "weights")
    p.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(p)
    return p


def load_weights(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """Load a ``*.weights.h5`` file into ``model`` (same architecture) and return it."""
    p = require_suffix(path, "weights")
    if not p.is_file():
        raise FileNotFoundError(f"no weights file at {p}")
    model.load_weights(p)
    return model


# -- full model ----------------------------------------------------------------------------------

def save_model(model: keras.Model, path: str | os.PathLike) -> Path:
    """Save architecture, weights and optimizer state: ``.keras`` (native) or ``.h5`` (legacy)."""
    p = require_suffix(path, "model")
    p.parent.mkdir(parents=True, exist_ok=True)
    model.save(p)
    return p


def load_model(
    path: str | os.PathLike, *, allow_lambda: bool = False, custom_objects=None, compile: bool = True
) -> keras.Model:
    """Load a ``.keras`` / ``.h5`` model with Keras's ``safe_mode`` on unless ``allow_lambda``."""
    p = require_suffix(path, "model")
    if not p.is_file():
        raise FileNotFoundError(f"no saved model at {p}")
    try:
        return keras.saving.load_model(
            p, custom_objects=custom_objects, compile=compile, safe_mode=not allow_lambda
        )
    except ValueError as exc:
        if "safe_mode" in str(exc) and not allow_lambda:
            raise UnsafeModelError(
                f"{p}: refused to load, it contains a Lambda layer (arbitrary Python code). If you "
                f"trust this file, call load_model(..., allow_lambda=True)."
            ) from exc
        raise


# -- SavedModel (TensorFlow backend) -------------------------------------------------------------

def export_saved_model(model: keras.Model, folder: str | os.PathLike) -> Path:
    """Export a SavedModel folder (the course's ``saved_model_complete/...``) for serving/TFLite."""
    p = Path(folder)
    if p.suffix in MODEL_SUFFIXES or p.name.endswith(WEIGHTS_SUFFIX):
        raise CoursePathError(f"'{p}' looks like a file name; model.export() writes a folder")
    model.export(str(p), format="tf_saved_model", verbose=False)
    return p


def load_saved_model_layer(folder: str | os.PathLike, endpoint: str = "serve") -> keras.layers.Layer:
    """Reload an exported SavedModel as an inference-only Keras layer (``keras.layers.TFSMLayer``)."""
    p = Path(folder)
    if not (p / "saved_model.pb").is_file():
        raise FileNotFoundError(f"no SavedModel (saved_model.pb) in {p}")
    return keras.layers.TFSMLayer(str(p), call_endpoint=endpoint)
