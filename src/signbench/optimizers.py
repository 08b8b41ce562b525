"""Adam whose update runs as TensorFlow's single fused kernel (TensorFlow-specific).

Keras 3's :class:`keras.optimizers.Adam` updates each variable with about ten separate elementwise
operations (the two moment updates, a square, a square root, a divide, ...), each one a full pass over
the variable's memory. For the course CNN (3.28 M parameters, 13 MB in its big Dense kernel) a
profile on this 2-core machine showed that as about a fifth of a training step at batch 128.
:class:`FusedAdam` computes exactly the same update with TensorFlow's ``ResourceApplyAdam`` kernel,
which does it in one pass::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    var -= alpha * m / (sqrt(v) + epsilon)

(``keras.optimizers.Adam.update_step`` is this same formula, so the two differ only by float32
rounding; ``tests/test_optimizers.py`` checks it). It is a subclass of ``keras.optimizers.Adam``
with the same config, so it serializes and loads like one (registered as ``signbench>FusedAdam``).
Under another backend, or with ``amsgrad=True``, it falls back to Keras' own update.
"""

from __future__ import annotations

import keras

__all__ = ["FusedAdam"]


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
