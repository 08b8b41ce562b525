"""TensorFlow Hub on Keras 3 (TensorFlow-specific): a frozen Hub module plus the course head.

``hub.KerasLayer`` cannot go in a Keras 3 model, so :class:`HubModule` is a small Keras 3 layer
around ``hub.load``: it calls the loaded object (TF2 Hub modules are callable; SavedModels written
by :func:`signbench.train.transfer.export_backbone` are too) or its ``serve`` endpoint (``model.export``)
or its ``serving_default`` signature, and tracks the module's variables as the layer's weights, so
``trainable=True`` fine-tunes the module itself.

``handle`` is a local SavedModel directory or an http(s) URL (tfhub.dev / Kaggle Models). A URL is
downloaded once as the compressed archive (``?tf-hub-format=compressed``) with a short timeout,
checked against ``sha256`` when given (recorded on first download and checked on every later use
when not), unpacked safely into the cache, then loaded from there. Offline this fails at once with a
message naming the URL.

The course's exact form (``tf.keras.Sequential([hub.KerasLayer(handle, input_shape=..., trainable=
False), ...])``) only runs under ``tf_keras`` with ``TF_USE_LEGACY_KERAS=1`` set before TensorFlow is
imported; :func:`run_course_keras_layer` runs it in a subprocess and reports what happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import tensorflow as tf  # before tensorflow_hub: importing the hub first is a circular import
import tensorflow_hub as hub
from keras import layers

from signbench.models.backbones import transfer_head
from signbench.models.course import compile_for

__all__ = ["HubModule", "hub_classifier", "resolve_handle", "run_course_keras_layer"]


def _is_url(handle: str) -> bool:
    return str(handle).startswith(("http://", "https://"))


def resolve_handle(handle: str | os.PathLike, *, sha256: str | None = None, timeout: float = 10.0) -> Path:
    """A local SavedModel directory for ``handle`` (downloading and unpacking a URL into the cache)."""
    if _is_url(str(handle)):
        return _download_hub_module(str(handle), sha256=sha256, timeout=timeout)
    path = Path(handle)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{path}: not a SavedModel directory (no saved_model.pb)")
    return path


def _download_hub_module(url: str, *, sha256: str | None, timeout: float) -> Path:
    """Download ``url``'s compressed SavedModel once (the project's verified download helper, SHA-256
    pinned or recorded on first download), unpack it with tarfile's ``data`` filter (no member
    outside the target, no links out, no devices)."""
    import tarfile

    from signbench.data.fetch import fetch_pinned
    from signbench.data.locate import cache_dir
    from signbench.errors import DataError

    root = cache_dir() / "hub" / hashlib.sha256(url.encode()).hexdigest()[:16]
    target = root / "module"
    archive = root / "module.tar.gz"
    sep = "&" if "?" in url else "?"
    try:
        fetch_pinned(f"{url}{sep}tf-hub-format=compressed", archive, sha256=sha256, timeout=timeout)
    except DataError as exc:
        if archive.is_file():
            raise
        raise DataError(f"cannot download the Hub module ({exc}). Without the internet, pass a local "
                        "SavedModel directory as the handle", path=url) from None
    if (target / "saved_model.pb").is_file():
        return target
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"bad Hub archive ({exc})", path=str(archive)) from None
    if not (target / "saved_model.pb").is_file():
        raise DataError("the downloaded archive holds no saved_model.pb", path=url)
    return target


@keras.saving.register_keras_serializable(package="signbench")
class HubModule(layers.Layer):
    """A Keras 3 layer calling a SavedModel loaded with ``hub.load`` (the ``hub.KerasLayer`` role).

    The module's variables are tracked as this layer's weights (the same ``tf.Variable`` objects the
    module's functions read), so ``trainable=True`` fine-tunes it and ``trainable=False`` freezes it.
    """

    def __init__(self, handle, *, trainable: bool = False, sha256: str | None = None, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.handle = str(handle)
        self.sha256 = sha256
        self._module = hub.load(str(resolve_handle(handle, sha256=sha256)))
        self._fn, self._output_key = self._resolve_call(self._module)
        for v in list(getattr(self._module, "variables", [])):
            self._track_variable(
                keras.Variable(initializer=v, trainable=v.trainable, dtype=v.dtype.name, name=v.name.split(":")[0].replace("/", "_"))
            )
        self._build_at_init()

    @staticmethod
    def _resolve_call(module):
        if callable(module):
            return module, None
        if hasattr(module, "serve"):
            return module.serve, None
        if "serving_default" in module.signatures:
            sig = module.signatures["serving_default"]
            keys = list(sig.structured_outputs)
            if len(keys) != 1:
                raise ValueError(f"serving_default has outputs {keys}; expected exactly one")
            return sig, keys[0]
        raise ValueError("the SavedModel is not callable and has no 'serve' or 'serving_default' endpoint")

    def call(self, inputs):
        out = self._fn(inputs)
        return out[self._output_key] if self._output_key is not None else out

    def compute_output_shape(self, input_shape):
        spec = tf.TensorSpec((1, *input_shape[1:]), tf.float32)
        out = self.call(tf.zeros(spec.shape, spec.dtype))
        return (input_shape[0], *out.shape[1:])

    def get_config(self):
        return {**super().get_config(), "handle": self.handle, "sha256": self.sha256}

    @classmethod
    def from_config(cls, config):
        # Like keras.layers.TFSMLayer: rebuilding loads an external SavedModel (graph code), so it is
        # refused in Keras's safe mode; pass safe_mode=False to load_model for a module you trust.
        from keras.src.saving import serialization_lib

        if serialization_lib.in_safe_mode() is not False:
            raise ValueError(
                f"loading HubModule({config.get('handle')!r}) runs an external SavedModel; refused in "
                "safe mode (pass safe_mode=False to keras.saving.load_model if you trust it)"
            )
        return cls(**config)


def hub_classifier(
    handle: str | os.PathLike,
    num_classes: int,
    input_shape,
    trainable: bool = False,
    *,
    sha256: str | None = None,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """A Hub module (frozen unless ``trainable``) plus Flatten, Dense 128 relu, Dropout 0.2, output."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    feats = HubModule(handle, trainable=trainable, sha256=sha256, name="hub_module")(inputs)
    model = keras.Model(inputs, transfer_head(feats, num_classes), name="hub_classifier")
    return compile_for(model, num_classes, learning_rate)


_COURSE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    assert os.environ.get("TF_USE_LEGACY_KERAS") == "1"
    import numpy as np
    import tensorflow as tf
    import tensorflow_hub as hub
    handle, shape, num_classes, seed = sys.argv[1], tuple(json.loads(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4])
    tf.keras.utils.set_random_seed(seed)
    # The course's exact form.
    model = tf.keras.Sequential([
        hub.KerasLayer(handle, input_shape=shape, trainable=False),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    x = rng.random((32, *shape), dtype=np.float32)
    y = rng.integers(0, num_classes, 32)
    before = float(model.evaluate(x, y, verbose=0)[0])
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    after = float(model.evaluate(x, y, verbose=0)[0])
    print("RESULT " + json.dumps({
        "keras_module": type(model).__module__.split(".")[0],
        "keras_version": __import__("tf_keras").__version__,
        "params": int(model.count_params()),
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "hub_trainable_weights": len(model.layers[0].trainable_weights),
        "loss_before": before, "loss_after": after,
        "features": model.layers[0](x[:1]).numpy().ravel()[:8].tolist(),
    }))
    """
)


def run_course_keras_layer(
    handle: str | os.PathLike, input_shape, num_classes: int, *, seed: int = 0, timeout: float = 300
) -> dict:
    """Run the course's ``hub.KerasLayer`` Sequential under tf_keras in a subprocess (with
    ``TF_USE_LEGACY_KERAS=1`` set before TensorFlow loads); train it a few steps on random data and
    return its parameter counts, loss before/after and the first features for ``x[:1]``."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", _COURSE_SCRIPT, str(handle), json.dumps(list(input_shape)), str(num_classes), str(seed)],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"course hub.KerasLayer run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])
