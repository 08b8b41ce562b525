"""The course's three Sign Language MNIST models and its KerasTuner hypermodel, as the course defines them.

The course's regularized model, CNN and hypermodel put an L2 regularizer of 1e-5 on their hidden Dense
layers and a Dropout of 0.2 after each (course.md: "Regularizadores en código", "Ajustando el modelo",
"Implementando el autotuner"); the baseline has neither. For 28x28x1 input and 24 classes the parameter
counts are the course's: baseline 236,952, regularized 236,952 (L2 and dropout add none), CNN 3,281,798. Every builder takes ``num_classes``
and ``input_shape`` so the course's other datasets (binary Malaria/Tumor, RGB Tom&Jerry) work too:
two classes get one sigmoid unit and binary cross-entropy, more get softmax and sparse categorical
cross-entropy. Models come back compiled with Adam and an ``accuracy`` metric.
"""

from __future__ import annotations

import keras
from keras import layers, regularizers

__all__ = [
    "COURSE_PUBLISHED", "MODEL_NAMES", "baseline", "build", "cnn", "compile_for", "dense_tail", "head", "hypermodel",
    "regularized",
]

SIGN_SHAPE = (28, 28, 1)
SIGN_CLASSES = 24
#: The accuracies the course printed for its models (None where it printed none).
COURSE_PUBLISHED: dict[str, dict[str, float | None]] = {
    "baseline": {"train": 0.9999, "val": 0.7572, "test": 0.7616},
    "regularized": {"train": 0.9251, "val": 0.7937, "test": None},
    "cnn": {"train": 0.9972, "val": 0.8575, "test": None},
    "cnn (best checkpoint)": {"train": None, "val": None, "test": 0.8826},
}
#: The course's regularization strengths (every regularized Dense layer of the course).
L2 = 1e-5
DROPOUT = 0.2


def head(num_classes: int) -> layers.Layer:
    """The output layer: one sigmoid unit for two classes, else a softmax over the classes."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="output")
    return layers.Dense(num_classes, activation="softmax", name="output")


def compile_for(model: keras.Model, num_classes: int, learning_rate: float = 1e-3) -> keras.Model:
    """Compile with Adam and the loss that matches ``head(num_classes)``."""
    loss = "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    return model


def dense_tail(num_classes: int, *, units: int = 256, l2: float = 0.0, dropout: float = 0.0) -> list:
    """Flatten, Dense ``units`` relu, Dense 128 relu, output; with ``l2`` > 0 an L2 kernel regularizer on
    both hidden layers and with ``dropout`` > 0 a Dropout after each (the course's regularized tail)."""
    def hidden(n: int) -> list:
        reg = regularizers.L2(l2) if l2 else None
        return [layers.Dense(n, activation="relu", kernel_regularizer=reg)] + ([layers.Dropout(dropout)] if dropout else [])

    return [layers.Flatten(), *hidden(units), *hidden(128), head(num_classes)]


def baseline(num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE, *, learning_rate: float = 1e-3):
    """Dense baseline: Flatten, Dense 256 relu, Dense 128 relu, output."""
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            *dense_tail(num_classes),
        ],
        name="baseline",
    )
    return compile_for(model, num_classes, learning_rate)


def regularized(
    num_classes: int = SIGN_CLASSES,
    input_shape=SIGN_SHAPE,
    *,
    l2: float = L2,
    dropout: float = DROPOUT,
    learning_rate: float = 1e-3,
):
    """The baseline with an L2 regularizer on both hidden layers and dropout after each (the course's)."""
    model = keras.Sequential(
        [keras.Input(shape=tuple(input_shape)), *dense_tail(num_classes, l2=l2, dropout=dropout)],
        name="regularized",
    )
    return compile_for(model, num_classes, learning_rate)


def cnn(num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE, *, l2: float = L2, dropout: float = DROPOUT,
        learning_rate: float = 1e-3):
    """Conv2D 75 3x3 relu, MaxPool 2x2, then the regularized tail: Flatten, Dense 256 relu (L2), Dropout,
    Dense 128 relu (L2), Dropout, output (the course's "Ajustando el modelo")."""
    return compile_for(_conv_on_tail("cnn", num_classes, input_shape, l2=l2, dropout=dropout), num_classes,
                       learning_rate)


def hypermodel(hp, num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE):
    """KerasTuner hypermodel (the course's ``constructor_modelos``): Conv2D(75) + MaxPool, then the
    regularized tail with its first Dense layer's units searched in 32..512 step 32; learning rate one
    of 1e-2, 1e-3, 1e-4."""
    units = hp.Int("units", min_value=32, max_value=512, step=32)
    lr = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    return compile_for(_conv_on_tail("hypermodel", num_classes, input_shape, units=units, l2=L2, dropout=DROPOUT),
                       num_classes, lr)


def _conv_on_tail(name: str, num_classes: int, input_shape, **tail) -> keras.Sequential:
    """The course's convolutional block (Conv2D 75 3x3 relu, MaxPool 2x2) on :func:`dense_tail` (``tail``:
    its keyword arguments): the CNN and the hypermodel."""
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Conv2D(75, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            *dense_tail(num_classes, **tail),
        ],
        name=name,
    )


_BUILDERS = {"baseline": baseline, "regularized": regularized, "cnn": cnn}
MODEL_NAMES = tuple(_BUILDERS)


def build(name: str, num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE, **kwargs) -> keras.Model:
    """Build a course model by name ("baseline", "regularized", "cnn")."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") from None
    return builder(num_classes, input_shape, **kwargs)
