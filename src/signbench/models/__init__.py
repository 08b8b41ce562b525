"""Model builders (Keras 3 APIs only, so they run under any Keras backend): the course's models
(:mod:`~signbench.models.course`), the fused CNN (:mod:`~signbench.models.fused`), ``cnn_plus``
(:mod:`~signbench.models.plus`), transfer backbones (:mod:`~signbench.models.backbones`) and, TensorFlow
only, Hub modules (:mod:`~signbench.models.hub`, imported on first use)."""

from signbench.models.backbones import inception_mixed7
from signbench.models.course import MODEL_NAMES, baseline, build, cnn, hypermodel, regularized
from signbench.models.fused import ConvReluPool2D, cnn_fused
from signbench.models.plus import cnn_plus

__all__ = [
    "ConvReluPool2D", "MODEL_NAMES", "baseline", "build", "cnn", "cnn_fused", "cnn_plus", "hub_classifier", "hypermodel", "inception_mixed7",
    "regularized",
]


def __getattr__(name):
    # hub_classifier needs TensorFlow Hub (TF-only): imported on first use, not with this package.
    if name == "hub_classifier":
        from signbench.models.hub import hub_classifier

        return hub_classifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
