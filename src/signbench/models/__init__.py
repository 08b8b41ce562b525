"""Model builders (Keras 3 APIs only, so they run under any Keras backend)."""

from signbench.models.course import MODEL_NAMES, baseline, build, cnn, hypermodel, regularized
from signbench.models.fused import ConvReluPool2D, cnn_fused
from signbench.models.plus import cnn_plus
from signbench.models.transfer import inception_mixed7

__all__ = [
    "ConvReluPool2D", "MODEL_NAMES", "baseline", "build", "cnn", "cnn_fused", "cnn_plus", "hub_classifier", "hypermodel", "inception_mixed7",
    "regularized",
]


def __getattr__(name):
    # hub_classifier needs TensorFlow Hub (TF-only): imported on first use, not with this package.
    if name == "hub_classifier":
        from signbench.hub import hub_classifier

        return hub_classifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
