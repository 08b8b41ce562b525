"""Deployment: TFLite conversion, LiteRT runtime, Edge TPU readiness and a fast ``Predictor``.

TensorFlow-specific (TFLite converter, LiteRT interpreter); imported only by code that deploys.
"""

from signbench.deploy.convert import MODES, convert, representative_sample, save
from signbench.deploy.runtime import LiteModel, interpreter

__all__ = ["MODES", "LiteModel", "Predictor", "convert", "interpreter", "representative_sample", "save"]


def __getattr__(name):  # Predictor imports lazily so `signbench.deploy` stays light
    if name == "Predictor":
        from signbench.deploy.predictor import Predictor

        return Predictor
    raise AttributeError(name)
