"""Transfer learning, offline and honest: the course's last overfitting step.

With few samples per class, frozen features pretrained on a related task beat the same network trained
from scratch. No pretrained weights can be downloaded here, so this module makes its own:

1. :func:`pretrain_backbone` trains :func:`signbench.models.backbones.small_backbone` (plus a head) on
   a *source* task, the real data's letters A-M;
2. :func:`save_backbone` writes it as a weights file and as a SavedModel (the format a hub serves,
   loadable with ``hub.load`` / ``signbench.models.hub.hub_classifier`` / the course's ``hub.KerasLayer``);
3. :func:`compare` transfers it to the *target* task, letters N-Y it never saw, with ``per_class``
   samples per class, against the same network trained from scratch on the same samples.

The course's "precision vs complexity" table is :mod:`signbench.studies.model_selection`. The
SavedModel export is TensorFlow-specific; everything else is Keras 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signbench.data.types import SIGN_LETTERS, LabeledImages
from signbench.seeds import derive

__all__ = [
    "SOURCE_LETTERS",
    "TARGET_LETTERS",
    "compare",
    "export_backbone",
    "few_shot",
    "letters_subset",
    "load_backbone",
    "Pretrained",
    "pretrain_backbone",
    "save_backbone",
    "target_data",
    "trainable_params",
]

SOURCE_LETTERS = SIGN_LETTERS[: SIGN_LETTERS.index("M") + 1]  # A-M without J: 12 classes
TARGET_LETTERS = SIGN_LETTERS[SIGN_LETTERS.index("N") :]  # N-Y: 12 classes


def letters_subset(ds: LabeledImages, letters: list[str]) -> LabeledImages:
    """The rows of ``ds`` whose class is in ``letters``, relabelled 0..len(letters)-1 in that order."""
    missing = [c for c in letters if c not in ds.class_names]
    if missing:
        raise ValueError(f"letters {missing} are not classes of {ds.source or 'the dataset'}")
    old_to_new = np.full(ds.num_classes, -1, dtype=np.int64)
    for new, c in enumerate(letters):
        old_to_new[ds.class_names.index(c)] = new
    keep = old_to_new[ds.labels] >= 0
    return LabeledImages(ds.images[keep], old_to_new[ds.labels[keep]], list(letters), ds.source)


def few_shot(ds: LabeledImages, per_class: int, *, seed: int) -> LabeledImages:
    """``per_class`` rows of every class, drawn without replacement by ``seed`` (errors if too few)."""
    from signbench.data.split import few_shot as pick

    return ds.subset(pick(ds.labels, per_class, seed=seed, num_classes=ds.num_classes))


@dataclass
class Pretrained:
    """A backbone pretrained on the source task, its last-epoch training accuracy (training mode) and,
    when held-out source images were given, its accuracy on them (inference mode)."""

    backbone: object
    train_accuracy: float
    heldout_accuracy: float | None = None


def pretrain_backbone(source: LabeledImages, *, seed: int = 0, epochs: int = 3, batch_size: int = 128,
                      heldout: LabeledImages | None = None) -> Pretrained:
    """Train ``small_backbone`` with the course head on ``source`` (scored on ``heldout`` when given)."""
    from signbench.models.backbones import small_backbone, small_classifier
    from signbench.train.fit import evaluate, fit

    def build():
        backbone = small_backbone(source.image_shape, seed=derive(seed, "pretrain_init"))
        return small_classifier(source.num_classes, backbone, frozen=False)

    run = fit(build, source, seed=derive(seed, "pretrain"), epochs=epochs, batch_size=batch_size)
    held = evaluate(run.model, heldout)[1] if heldout is not None else None
    return Pretrained(run.model.get_layer("small_backbone"), run.train_accuracy, held)


def export_backbone(backbone, directory: str | Path) -> Path:
    """Write ``backbone`` as a SavedModel (Keras's ``model.export`` machinery, ``ExportArchive``)
    with a ``serve`` endpoint (what ``model.export`` writes) and a ``__call__`` endpoint, so the
    reloaded object is callable like a TF2 Hub module (``hub.load``, the course's ``hub.KerasLayer``)."""
    import keras
    import tensorflow as tf

    directory = Path(directory)
    spec = [tf.TensorSpec((None, *backbone.input.shape[1:]), tf.float32, name="image")]
    archive = keras.export.ExportArchive()
    archive.track(backbone)

    def _call(x):
        return backbone(x, training=False)

    archive.add_endpoint("serve", _call, input_signature=spec)
    archive.add_endpoint("__call__", _call, input_signature=spec)
    archive.add_variable_collection("variables", backbone.variables)
    archive.add_variable_collection("trainable_variables", backbone.trainable_variables)
    archive.write_out(str(directory), verbose=False)
    return directory


def save_backbone(backbone, out_dir: str | Path) -> dict[str, Path]:
    """Save as ``backbone.weights.h5`` and as the SavedModel directory ``savedmodel/``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "backbone.weights.h5"
    backbone.save_weights(str(weights))
    saved = export_backbone(backbone, out / "savedmodel")
    return {"weights": weights, "savedmodel": saved}


def load_backbone(weights: str | Path, input_shape=(28, 28, 1)):
    """A ``small_backbone`` with the weights file written by :func:`save_backbone`."""
    from signbench.models.backbones import small_backbone

    bb = small_backbone(input_shape)
    bb.load_weights(str(weights))
    return bb


def compare(weights: str | Path, target_train: LabeledImages, target_val: LabeledImages, *,
            seeds=(0, 1, 2), per_class: int = 5, epochs: int = 100, batch_size: int = 16) -> list[dict]:
    """For each seed: the same ``per_class`` samples per class train (a) the pretrained backbone,
    frozen, plus a fresh head and (b) the same network from random initial weights, all trainable.
    Rows: seed, model ("transfer" / "scratch"), train accuracy (inference mode), val accuracy, gap."""
    import keras

    from signbench.models.backbones import small_classifier
    from signbench.seeds import seed_everything
    from signbench.train.fit import evaluate, fit

    rows = []
    xv = target_val.as_float()
    for seed in seeds:
        few = few_shot(target_train, per_class, seed=seed)
        for name in ("transfer", "scratch"):
            seed_everything(derive(seed, f"init/{name}"))
            if name == "transfer":
                model = small_classifier(few.num_classes, load_backbone(weights, few.image_shape), frozen=True)
            else:
                model = small_classifier(few.num_classes, input_shape=few.image_shape,
                                         seed=derive(seed, "scratch_init"))
            run = fit(model, few, seed=derive(seed, "fit"), epochs=epochs, batch_size=batch_size, eval_train=True)
            val = evaluate(model, (xv, target_val.labels))[1]
            rows.append({"seed": seed, "model": name, "per_class": per_class, "epochs": epochs,
                         "batch_size": batch_size,
                         "train_accuracy": run.train_eval_accuracy, "val_accuracy": val,
                         "gap": run.train_eval_accuracy - val,
                         "params": int(model.count_params()), "trainable_params": trainable_params(model)})
            keras.backend.clear_session(free_memory=True)
    return rows


def trainable_params(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def target_data(data_dir, val_rows: int | None, seed: int):
    """Target task: letters N-Y of the train CSV (to draw few samples from) and of the test CSV
    (validation; ``val_rows`` of them drawn by ``seed``, all when None or 0)."""
    from signbench.data.load import load_sign_mnist
    from signbench.data.split import random_subset

    train = letters_subset(load_sign_mnist("train", data_dir), TARGET_LETTERS)
    val = letters_subset(load_sign_mnist("test", data_dir), TARGET_LETTERS)
    return train, val.subset(random_subset(len(val), val_rows, seed=seed))
