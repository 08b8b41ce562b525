"""The TensorFlow-specific speed pieces that :class:`~signbench.train.options.FitOptions` plugs into
``fit``: oneDNN and the thread pools (properties of the process), and :class:`FusedAdam`.

``fit`` imports this module only when an option asks for one of them, so ``fit`` itself runs on any
Keras backend. (The uint8 tf.data pipeline is :func:`signbench.data.pipeline.make_dataset`.)

oneDNN is read once, when TensorFlow is imported, and the thread pools are fixed once TensorFlow has run
its first op: :func:`onednn_env` gives a subprocess the environment an option needs, and
:func:`apply_process_settings` sets the thread pools while that is still possible and refuses options
whose settings differ from the process's.

:class:`FusedAdam`: Keras 3's :class:`keras.optimizers.Adam` updates each variable with about ten
separate elementwise operations, each a full pass over the variable's memory; for the course CNN (3.28 M
parameters, 13 MB in its big Dense kernel) a profile on a 2-core machine showed that as about a fifth
of a training step at batch 128. :class:`FusedAdam` computes the same update with TensorFlow's
``ResourceApplyAdam`` kernel in one pass::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    var -= alpha * m / (sqrt(v) + epsilon)

(``keras.optimizers.Adam.update_step`` is this same formula, so the two differ only by float32
rounding). It is a subclass of ``keras.optimizers.Adam`` with the same config, so it serializes and
loads like one (registered as ``signbench>FusedAdam``). Under another backend, or with
``amsgrad=True``, it falls back to Keras' own update.
"""

from __future__ import annotations

import os

import keras

__all__ = [
    "FusedAdam", "apply_process_settings", "configure_threads", "onednn_enabled", "onednn_env", "thread_settings",
]


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs its oneDNN kernels (fixed when TensorFlow was imported)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def onednn_env(onednn: bool | None, env: dict | None = None) -> dict:
    """A copy of ``env`` (default ``os.environ``) that gives a new process the oneDNN setting ``onednn``
    (``None``: TensorFlow's default)."""
    out = dict(os.environ if env is None else env)
    if onednn is None:
        out.pop("TF_ENABLE_ONEDNN_OPTS", None)
    else:
        out["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn else "0"
    return out


def configure_threads(intra: int | None = None, inter: int | None = None) -> None:
    """Set TensorFlow's thread pools. Call before TensorFlow runs any op (else RuntimeError)."""
    import tensorflow as tf

    try:
        if intra is not None:
            tf.config.threading.set_intra_op_parallelism_threads(int(intra))
        if inter is not None:
            tf.config.threading.set_inter_op_parallelism_threads(int(inter))
    except RuntimeError as exc:
        raise RuntimeError(
            f"cannot set TensorFlow's thread pools to intra={intra}, inter={inter} now ({exc}): they are "
            "fixed once TensorFlow has run an op; set them at process start (a fresh process, as the speed "
            "study's workers do)"
        ) from None


def thread_settings() -> tuple[int | None, int | None]:
    """(intra-op, inter-op) threads of this process's TensorFlow; ``None`` where it uses its default."""
    import tensorflow as tf

    return (tf.config.threading.get_intra_op_parallelism_threads() or None,
            tf.config.threading.get_inter_op_parallelism_threads() or None)


def apply_process_settings(onednn: bool | None, intra: int | None, inter: int | None) -> None:
    """Refuse a oneDNN setting other than the process's; set the thread pools asked for (possible only
    before TensorFlow's first op, else a RuntimeError that says so)."""
    if onednn is not None and onednn != onednn_enabled():
        raise RuntimeError(
            f"options ask for onednn={onednn} but this process's TensorFlow has oneDNN "
            f"{'on' if onednn_enabled() else 'off'}; it is read at import: start Python with "
            f"TF_ENABLE_ONEDNN_OPTS={int(onednn)} (signbench.train.tf_speed.onednn_env gives that environment)"
        )
    if any(a is not None and a != h for a, h in zip((intra, inter), thread_settings(), strict=True)):
        configure_threads(intra, inter)


@keras.saving.register_keras_serializable(package="signbench")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with the per-variable update as one ``ResourceApplyAdam`` kernel."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or keras.backend.backend() != "tensorflow":
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        handle = variable.value.handle if isinstance(variable, keras.Variable) else variable.handle

        def const(x):
            return tf.cast(x, dtype)

        tf.raw_ops.ResourceApplyAdam(
            var=handle, m=m.value.handle, v=v.value.handle,
            beta1_power=tf.pow(const(self.beta_1), step), beta2_power=tf.pow(const(self.beta_2), step),
            lr=const(learning_rate), beta1=const(self.beta_1), beta2=const(self.beta_2),
            epsilon=const(self.epsilon), grad=tf.cast(gradient, dtype),
        )
