"""Training: THE loop (:func:`fit`) and its options, the course's callbacks, tuning, saving and
loading, and the transfer-learning lesson.

- :mod:`signbench.train.fit`: ``fit(model, data, ...) -> RunResult`` (Keras 3 only);
- :mod:`signbench.train.options`: :class:`FitOptions` (speed options, schedule, early stopping,
  augmentation) and the recommended :data:`FAST`;
- :mod:`signbench.train.tf_speed`: the TensorFlow-specific pieces the options plug in;
- :mod:`signbench.train.callbacks`, :mod:`signbench.train.tune`, :mod:`signbench.train.persist`,
  :mod:`signbench.train.transfer`.
"""

from signbench.train.fit import RunResult, TrainInput, as_arrays, evaluate, fit
from signbench.train.options import FAST, EarlyStop, FitOptions, Schedule

__all__ = ["FAST", "EarlyStop", "FitOptions", "RunResult", "Schedule", "TrainInput", "as_arrays", "evaluate", "fit"]
