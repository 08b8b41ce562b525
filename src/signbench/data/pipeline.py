"""Input pipelines (TensorFlow-specific): tf.data from arrays or folders, the 28x28 -> RGB resize for
transfer models, and the course's ``ImageDataGenerator.flow_from_directory`` path kept for parity.

tf.data path (:func:`make_dataset`): uint8 images are cached as uint8 (4x smaller than float),
shuffled with a seed, batched, scaled to [0, 1] float32 on the fly, optionally augmented with Keras
preprocessing layers (small rotations, shifts, zoom; no flips: handedness changes letters) and
prefetched with a fixed, small buffer and no tf.data autotuning: on a 2-core machine the autotuning
thread competes with training and can hold up the end of an epoch by seconds (the speed study's
``fit_call_overhead`` rows). ``FitOptions(pipeline="uint8")`` trains through it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from signbench.data.types import LabeledImages
from signbench.seeds import derive

__all__ = ["COURSE_GENERATOR", "course_generators", "from_folder", "make_dataset", "resized_dataset"]

AUTOTUNE = tf.data.AUTOTUNE

#: The course's ImageDataGenerator settings
COURSE_GENERATOR = dict(rescale=1.0 / 255, validation_split=0.2)
COURSE_FLOW = dict(target_size=(28, 28), color_mode="grayscale", batch_size=128, class_mode="sparse")


def _finish(ds: tf.data.Dataset, *, n: int, batch_size: int, shuffle: bool, seed: int, cache: bool,
            augment, drop_remainder: bool) -> tf.data.Dataset:
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(max(n, 1), seed=derive(seed, "shuffle"), reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    scale = tf.constant(1.0 / 255.0, tf.float32)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32) * scale, y), num_parallel_calls=1)
    if augment is not None and augment is not False:
        from signbench.models.plus import augmentation

        layer = augment if callable(augment) else augmentation(seed=derive(seed, "augment"))
        ds = ds.map(lambda x, y: (layer(x, training=True), y), num_parallel_calls=1)
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


def make_dataset(
    data: LabeledImages | tuple[np.ndarray, np.ndarray],
    *,
    batch_size: int = 128,
    seed: int,
    shuffle: bool = True,
    cache: bool = True,
    augment=None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """(images float32 in [0, 1], int64 labels) batches from uint8 images. ``augment``: True for
    :func:`signbench.models.plus.augmentation`, or any callable layer."""
    images, labels = (data.images, data.labels) if isinstance(data, LabeledImages) else data
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"make_dataset wants uint8 images, got {images.dtype}")
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
        from signbench.data.split import holdout

        kept, held = holdout(labels_a, validation_split, seed=derive(seed, "folder-split"), stratify=False)
        pick = held if subset == "validation" else kept
        files_a, labels_a = files_a[pick], labels_a[pick]
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


def resized_dataset(images: np.ndarray, labels: np.ndarray | None, size=(150, 150), *, batch_size: int = 32,
                    shuffle_seed: int | None = None):
    """tf.data pipeline feeding 28x28x1 uint8 images to an RGB model: batch, resize, repeat channel."""
    from signbench.models.backbones import resize_and_repeat

    ds = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if labels is None:
        ds = ds.map(lambda x: resize_and_repeat(x, size), num_parallel_calls=AUTOTUNE)
    else:
        ds = ds.map(lambda x, y: (resize_and_repeat(x, size), y), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)
