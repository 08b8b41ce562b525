"""Model builders (Keras 3 APIs only, so they run under any Keras backend)."""

from signbench.models.course import baseline, build, cnn, hypermodel, regularized, MODEL_NAMES
from signbench.models.plus import cnn_plus

__all__ = ["MODEL_NAMES", "baseline", "build", "cnn", "cnn_plus", "hypermodel", "regularized"]
