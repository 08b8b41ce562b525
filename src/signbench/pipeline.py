"""Input pipelines (TensorFlow-specific): tf.data from arrays or folders, and the course's
``ImageDataGenerator.flow_from_directory`` path kept for parity.

tf.data path: uint8 images are cached as uint8 (4x smaller than float), normalized to [0, 1] float32
on the fly, shuffled with a seed, batched, optionally augmented with Keras preprocessing layers
(small rotations, shifts, zoom; no flips: handedness changes letters) and prefetched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from signbench.data.types import LabeledImages
from signbench.seeds import derive

__all__ = ["augmenter", "course_generators", "from_arrays", "from_folder", "COURSE_GENERATOR"]

AUTOTUNE = tf.data.AUTOTUNE

#: The course's ImageDataGenerator settings
COURSE_GENERATOR = dict(rescale=1.0 / 255, validation_split=0.2)
COURSE_FLOW = dict(target_size=(28, 28), color_mode="grayscale", batch_size=128, class_mode="sparse")


def augmenter(*, seed: int, rotation: float = 0.05, shift: float = 0.1, zoom: float = 0.1):
    """Keras preprocessing layers for augmentation, each seeded from ``seed``."""
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomRotation(rotation, fill_mode="nearest", seed=derive(seed, "aug-rotation")),
            keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=derive(seed, "aug-shift")),
            keras.layers.RandomZoom(zoom, fill_mode="nearest", seed=derive(seed, "aug-zoom")),
        ],
        name="augment",
    )


def _finish(ds: tf.data.Dataset, *, n: int, batch_size: int, shuffle: bool, seed: int, cache: bool,
            augment, drop_remainder: bool) -> tf.data.Dataset:
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(max(n, 1), seed=derive(seed, "shuffle"), reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y), num_parallel_calls=AUTOTUNE)
    if augment is not None:
        layer = augment if callable(augment) and not isinstance(augment, bool) else augmenter(seed=seed)
        ds = ds.map(lambda x, y: (layer(x, training=True), y), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def from_arrays(
    data: LabeledImages | tuple[np.ndarray, np.ndarray],
    *,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int,
    cache: bool = True,
    augment=None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """(images float32 in [0, 1], int64 labels) batches from uint8 arrays. ``augment``: True for
    :func:`augmenter`, or any callable layer."""
    images, labels = (data.images, data.labels) if isinstance(data, LabeledImages) else data
    images = np.asarray(images, np.uint8)
    ds = tf.data.Dataset.from_tensor_slices((images, np.asarray(labels, np.int64)))
    return _finish(ds, n=len(images), batch_size=batch_size, shuffle=shuffle, seed=seed, cache=cache,
                   augment=augment, drop_remainder=drop_remainder)


def from_folder(
    directory: str | Path,
    *,
    image_size: tuple[int, int] = (28, 28),
    color_mode: str = "grayscale",
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int,
    cache: bool = True,
    augment=None,
    validation_split: float | None = None,
    subset: str | None = None,
) -> tuple[tf.data.Dataset, list[str]]:
    """(dataset, class names) from ``directory/<class>/<image>`` via tf.data (decoding in parallel)."""
    directory = Path(directory)
    class_names = sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, labels = [], []
    for i, c in enumerate(class_names):
        for f in sorted((directory / c).iterdir()):
            if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif"):
                files.append(str(f))
                labels.append(i)
    files_a, labels_a = np.array(files), np.array(labels, np.int64)
    if validation_split:
        order = np.random.default_rng(derive(seed, "folder-split")).permutation(len(files_a))
        n_val = int(round(validation_split * len(files_a)))
        pick = order[-n_val:] if subset == "validation" else order[:-n_val] if n_val else order
        files_a, labels_a = files_a[np.sort(pick)], labels_a[np.sort(pick)]
    channels = 1 if color_mode == "grayscale" else 3

    def decode(path, label):
        img = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        img = tf.image.resize(img, image_size, method="nearest")
        return tf.cast(img, tf.uint8), label

    ds = tf.data.Dataset.from_tensor_slices((files_a, labels_a)).map(decode, num_parallel_calls=AUTOTUNE)
    ds = _finish(ds, n=len(files_a), batch_size=batch_size, shuffle=shuffle, seed=seed, cache=cache,
                 augment=augment, drop_remainder=False)
    return ds, class_names


def course_generators(directory: str | Path, *, seed: int, batch_size: int = 128, shuffle: bool = True):
    """The course's (train, validation) ``flow_from_directory`` iterators over ``directory`` (its
    ``Test`` folder in the course): rescale 1/255, validation_split 0.2, grayscale 28x28, batch 128."""
    gen = tf.keras.preprocessing.image.ImageDataGenerator(**COURSE_GENERATOR)  # deprecated; for parity
    flow = dict(COURSE_FLOW, batch_size=batch_size)
    kw = dict(seed=derive(seed, "flow"), shuffle=shuffle)
    train = gen.flow_from_directory(str(directory), subset="training", **flow, **kw)
    val = gen.flow_from_directory(str(directory), subset="validation", **flow, **kw)
    return train, val
