"""The course's three Sign Language MNIST models and its KerasTuner hypermodel.

For 28x28x1 input and 24 classes the parameter counts are the course's: baseline 236,952,
regularized 236,952 (L2 and dropout add none), CNN 3,281,798. Every builder takes ``num_classes``
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
#: Course regularization strengths for the "regularized" model.
L2 = 1e-3
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


def dense_tail(num_classes: int) -> list:
    """The layers the course's baseline and CNN end with: Flatten, Dense 256 relu, Dense 128 relu, output."""
    return [layers.Flatten(), layers.Dense(256, activation="relu"), layers.Dense(128, activation="relu"),
            head(num_classes)]


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
    """The baseline with L2 weight decay on both hidden layers and dropout after each."""
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Flatten(),
            layers.Dense(256, activation="relu", kernel_regularizer=regularizers.L2(l2)),
            layers.Dropout(dropout),
            layers.Dense(128, activation="relu", kernel_regularizer=regularizers.L2(l2)),
            layers.Dropout(dropout),
            head(num_classes),
        ],
        name="regularized",
    )
    return compile_for(model, num_classes, learning_rate)


def cnn(num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE, *, learning_rate: float = 1e-3):
    """Conv2D 75 3x3 relu, MaxPool 2x2, Flatten, Dense 256 relu, Dense 128 relu, output."""
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Conv2D(75, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            *dense_tail(num_classes),
        ],
        name="cnn",
    )
    return compile_for(model, num_classes, learning_rate)


def hypermodel(hp, num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE):
    """KerasTuner hypermodel: Conv2D(75) + MaxPool + Flatten, Dense units 32..512 step 32,
    Dropout 0.2, Dense 128, output; learning rate one of 1e-2, 1e-3, 1e-4."""
    units = hp.Int("units", min_value=32, max_value=512, step=32)
    lr = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Conv2D(75, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(units, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(128, activation="relu"),
            head(num_classes),
        ],
        name="hypermodel",
    )
    return compile_for(model, num_classes, lr)


_BUILDERS = {"baseline": baseline, "regularized": regularized, "cnn": cnn}
MODEL_NAMES = tuple(_BUILDERS)


def build(name: str, num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE, **kwargs) -> keras.Model:
    """Build a course model by name ("baseline", "regularized", "cnn")."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") from None
    return builder(num_classes, input_shape, **kwargs)
