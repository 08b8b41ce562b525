"""Scaling out on engines that already exist: KerasTuner's chief/worker mode and ``tf.distribute``.

- :mod:`signbench.distributed.tuning`: ``signbench tune --workers N`` starts a KerasTuner chief
  (the oracle, a gRPC server) and N worker processes on 127.0.0.1, or prints the environment to
  start them on other hosts. A worker that dies mid-trial does not lose the search: its trial goes
  back to the oracle's retry queue and a surviving worker runs it.
- :mod:`signbench.distributed.data_parallel`: data-parallel training with ``MirroredStrategy``
  across devices and ``MultiWorkerMirroredStrategy`` across processes (``TF_CONFIG``).

Both modules are TensorFlow-specific (KerasTuner's gRPC oracle and ``tf.distribute``); the models
they train are the Keras-only builders of :mod:`signbench.models`.
"""

from signbench.distributed.procs import free_port, reap

__all__ = ["free_port", "reap"]
