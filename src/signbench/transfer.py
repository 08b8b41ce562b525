"""Transfer learning, offline and honest (TensorFlow-specific parts: tf.data, SavedModel export).

The course's last overfitting step: with few samples per class, frozen features pretrained on a
related task beat the same network trained from scratch. No pretrained weights can be downloaded
here, so this module makes its own:

1. :func:`pretrain_backbone` trains :func:`signbench.models.transfer.small_backbone` (plus a head) on
   a *source* task, the real data's letters A-M;
2. :func:`save_backbone` writes it as a weights file and as a SavedModel (the format a hub serves,
   loadable with ``hub.load`` / ``signbench.hub.hub_classifier`` / the course's ``hub.KerasLayer``);
3. :func:`compare` transfers it to the *target* task, letters N-Y it never saw, with ``per_class``
   samples per class, against the same network trained from scratch on the same samples;
4. :func:`model_selection` fills the course's "precision vs complexity" table.

Command: ``signbench transfer {pretrain,compare,select}`` (see :func:`add_arguments`).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signbench.data.types import SIGN_LETTERS, LabeledImages
from signbench.seeds import derive, rng

__all__ = [
    "SOURCE_LETTERS",
    "TARGET_LETTERS",
    "compare",
    "export_backbone",
    "few_shot",
    "fit_and_score",
    "letters_subset",
    "model_selection",
    "pretrain_backbone",
    "pretrain_mobilenet",
    "resized_dataset",
    "target_data",
    "save_backbone",
    "write_table",
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
    g = rng(seed, "few_shot")
    picks = []
    for k in range(ds.num_classes):
        idx = np.flatnonzero(ds.labels == k)
        if len(idx) < per_class:
            raise ValueError(f"class {ds.class_names[k]} has {len(idx)} rows, fewer than per_class={per_class}")
        picks.append(g.choice(idx, per_class, replace=False))
    order = np.concatenate(picks)
    g.shuffle(order)
    return ds.subset(order)


@dataclass
class Score:
    train_accuracy: float
    val_accuracy: float

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.val_accuracy


def fit_and_score(model, train: LabeledImages, val: LabeledImages, *, epochs: int, batch_size: int = 32,
                  seed: int = 0, x_train=None, x_val=None) -> Score:
    """Fit ``model`` on ``train``; accuracy on ``train`` (inference mode) and ``val``."""
    import keras

    keras.utils.set_random_seed(derive(seed, "fit"))
    xt = train.as_float() if x_train is None else x_train
    xv = val.as_float() if x_val is None else x_val
    model.fit(xt, train.labels, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    tr = model.evaluate(xt, train.labels, batch_size=256, verbose=0, return_dict=True)["accuracy"]
    va = model.evaluate(xv, val.labels, batch_size=256, verbose=0, return_dict=True)["accuracy"]
    return Score(float(tr), float(va))


def pretrain_backbone(source: LabeledImages, *, seed: int = 0, epochs: int = 3, batch_size: int = 128):
    """Train ``small_backbone`` with the course head on ``source``; return (backbone, train accuracy)."""
    import keras

    from signbench.models.transfer import small_backbone, small_classifier

    keras.utils.set_random_seed(derive(seed, "pretrain"))
    backbone = small_backbone(source.image_shape, seed=derive(seed, "pretrain_init"))
    model = small_classifier(source.num_classes, backbone, frozen=False)
    hist = model.fit(source.as_float(), source.labels, epochs=epochs, batch_size=batch_size, verbose=0)
    return backbone, float(hist.history["accuracy"][-1])


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
    from signbench.models.transfer import small_backbone

    bb = small_backbone(input_shape)
    bb.load_weights(str(weights))
    return bb


def compare(weights: str | Path, target_train: LabeledImages, target_val: LabeledImages, *,
            seeds=(0, 1, 2), per_class: int = 5, epochs: int = 100, batch_size: int = 16) -> list[dict]:
    """For each seed: the same ``per_class`` samples per class train (a) the pretrained backbone,
    frozen, plus a fresh head and (b) the same network from random initial weights, all trainable.
    Rows: seed, model ("transfer" / "scratch"), train/val accuracy, gap."""
    import keras

    from signbench.models.transfer import small_classifier

    rows = []
    xv = target_val.as_float()
    for seed in seeds:
        few = few_shot(target_train, per_class, seed=seed)
        for name in ("transfer", "scratch"):
            keras.utils.set_random_seed(derive(seed, f"init/{name}"))
            if name == "transfer":
                model = small_classifier(few.num_classes, load_backbone(weights, few.image_shape), frozen=True)
            else:
                model = small_classifier(few.num_classes, input_shape=few.image_shape,
                                         seed=derive(seed, "scratch_init"))
            s = fit_and_score(model, few, target_val, epochs=epochs, batch_size=batch_size, seed=seed, x_val=xv)
            rows.append({"seed": seed, "model": name, "per_class": per_class, "epochs": epochs,
                         "batch_size": batch_size,
                         "train_accuracy": s.train_accuracy, "val_accuracy": s.val_accuracy, "gap": s.gap,
                         "params": int(model.count_params()), "trainable_params": _trainable(model)})
            keras.backend.clear_session(free_memory=True)
    return rows


def _trainable(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


# ----------------------------------------------------------------------------- tf.data pipeline

def resized_dataset(images: np.ndarray, labels: np.ndarray | None, size=(150, 150), *, batch_size: int = 32,
                    shuffle_seed: int | None = None):
    """tf.data pipeline feeding 28x28x1 uint8 images to an RGB model: batch, resize, repeat channel."""
    import tensorflow as tf

    from signbench.models.transfer import resize_and_repeat

    ds = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if labels is None:
        ds = ds.map(lambda x: resize_and_repeat(x, size), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, y: (resize_and_repeat(x, size), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------- model selection

def _latency_ms(model, x1, *, repeats: int = 30) -> float:
    """Median milliseconds of one direct call ``model(x1, training=False)`` on one image."""
    model(x1, training=False)  # warm-up (tracing, allocation)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.asarray(model(x1, training=False))
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def model_selection(weights: str | Path, target_train: LabeledImages, target_val: LabeledImages, *,
                    source: LabeledImages | None, work_dir: str | Path, seed: int = 0, per_class: int = 5,
                    epochs: int = 100, batch_size: int = 16, big_epochs: int = 10, pretrain_epochs: int = 3,
                    inception: bool = True) -> list[dict]:
    """The course's "precision vs complexity" table on the target task: every candidate trains on the
    same ``per_class`` samples per class and is scored on the same validation rows.

    Candidates: the course CNN from scratch; the small backbone pretrained on the source letters
    (``weights``), frozen; MobileNetV2 alpha 0.35 at 32x32x3 pretrained here on ``source`` then frozen
    (random init, all layers trained on the few samples, when ``source`` is None); InceptionV3 cut at
    mixed7 at 150x150x3 from a local weights file (seeded random initial values: no ImageNet file can
    be downloaded here), frozen.
    """
    import keras

    from signbench.meta import run_metadata
    from signbench.models import course
    from signbench.models.transfer import (
        inception_mixed7,
        mobilenet_v2_small,
        small_classifier,
    )

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    few = few_shot(target_train, per_class, seed=seed)
    n = few.num_classes
    rows: list[dict] = []

    def row(name, model, score, input_shape, note):
        x1 = np.zeros((1, *input_shape), np.float32)
        rows.append({
            "model": name, "input": "x".join(map(str, input_shape)), "params": int(model.count_params()),
            "trainable_params": _trainable(model), "train_accuracy": round(score.train_accuracy, 4),
            "val_accuracy": round(score.val_accuracy, 4), "latency_ms_p50": round(_latency_ms(model, x1), 3),
            "per_class": per_class, "val_size": len(target_val), "note": note,
            **run_metadata(seed),
        })
        keras.backend.clear_session(free_memory=True)

    def fit(model, size=None, n_epochs=epochs):
        xt = xv = None
        if size is not None:
            xt, xv = resize_and_repeat_np(few.images, size), resize_and_repeat_np(target_val.images, size)
        return fit_and_score(model, few, target_val, epochs=n_epochs, batch_size=batch_size, seed=seed,
                             x_train=xt, x_val=xv)

    keras.utils.set_random_seed(derive(seed, "init/cnn"))
    m = course.cnn(n, few.image_shape)
    row("course_cnn", m, fit(m), few.image_shape, "course CNN, random init, all layers trained on the few samples")

    keras.utils.set_random_seed(derive(seed, "init/transfer"))
    m = small_classifier(n, load_backbone(weights, few.image_shape), frozen=True)
    row("small_backbone_transfer", m, fit(m), few.image_shape,
        "small backbone pretrained here on letters A-M, frozen; head trained")

    mb_shape = (32, 32, 3)
    keras.utils.set_random_seed(derive(seed, "init/mobilenet"))
    if source is not None:
        base, src_acc = pretrain_mobilenet(resize_and_repeat_np(source.images, mb_shape[:2]), source.labels,
                                           source.num_classes, epochs=pretrain_epochs, seed=seed)
        mb_weights = work_dir / "mobilenet_v2_0.35_source.weights.h5"
        base.save_weights(str(mb_weights))
        keras.backend.clear_session(free_memory=True)
        m = mobilenet_v2_small(n, mb_shape, alpha=0.35, weights=mb_weights, frozen=True)
        note = (f"MobileNetV2 alpha 0.35 pretrained here on letters A-M ({pretrain_epochs} epochs, BN momentum "
                f"{MOBILENET_BN_MOMENTUM}, BN statistics re-estimated; source acc {src_acc:.3f} in inference "
                "mode), frozen; head trained")
    else:
        m = mobilenet_v2_small(n, mb_shape, alpha=0.35, weights=None, frozen=False)
        note = "MobileNetV2 alpha 0.35, random init, all layers trained on the few samples"
    row("mobilenet_v2_alpha0.35", m, fit(m, mb_shape[:2]), mb_shape, note)

    if inception:
        keras.utils.set_random_seed(derive(seed, "init/inception_weights"))
        local = work_dir / "inception_v3_notop_random_init.weights.h5"
        base = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(150, 150, 3))
        base.save_weights(str(local))
        keras.backend.clear_session(free_memory=True)
        m = inception_mixed7(n, (150, 150, 3), weights=local)
        row("inception_v3_mixed7", m, fit(m, (150, 150), big_epochs), (150, 150, 3),
            "InceptionV3 cut at mixed7 from a LOCAL weights file holding seeded random initial values "
            "(no ImageNet weights can be downloaded here), frozen; head trained")
    return rows


MOBILENET_BN_MOMENTUM = 0.9


def pretrain_mobilenet(x, labels, num_classes: int, *, epochs: int = 3, seed: int = 0, alpha: float = 0.35,
                       batch_size: int = 128, bn_momentum: float = MOBILENET_BN_MOMENTUM):
    """Pretrain a no-top MobileNetV2 (plus the course head) on ``x`` (N x H x W x 3 floats in [0, 1]).

    Returns (base, accuracy on ``x`` in inference mode: the mode the frozen base later runs in).
    keras.applications' BN momentum 0.999 leaves the moving statistics unsettled after a few epochs,
    so the frozen base ran on them and its transfer row sat at chance: here BN momentum is
    ``bn_momentum`` during training, and the moving statistics are then re-estimated over ``x``.
    """
    import keras

    from signbench.models import course
    from signbench.models.transfer import mobilenet_v2_base, reestimate_bn_statistics, transfer_head

    keras.utils.set_random_seed(derive(seed, "pretrain/mobilenet"))
    base = mobilenet_v2_base(tuple(x.shape[1:]), alpha=alpha, bn_momentum=bn_momentum)
    model = course.compile_for(keras.Model(base.input, transfer_head(base.output, num_classes)), num_classes)
    model.fit(x, labels, epochs=epochs, batch_size=batch_size, verbose=0)
    reestimate_bn_statistics(base, x, batch_size=256)
    acc = model.evaluate(x, labels, batch_size=256, verbose=0, return_dict=True)["accuracy"]
    return base, float(acc)


def resize_and_repeat_np(images: np.ndarray, size, batch: int = 256) -> np.ndarray:
    """:func:`signbench.models.transfer.resize_and_repeat` over a large array in batches."""
    from signbench.models.transfer import resize_and_repeat

    return np.concatenate([np.asarray(resize_and_repeat(images[i:i + batch], size))
                           for i in range(0, len(images), batch)])


def write_table(rows: list[dict], out_dir: str | Path, stem: str = "model_selection") -> dict[str, Path]:
    """Write ``rows`` as ``<stem>.csv`` (all columns) and ``<stem>.md`` (the comparison columns)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    csv_path = out / f"{stem}.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    show = ["model", "input", "params", "trainable_params", "train_accuracy", "val_accuracy", "latency_ms_p50", "note"]
    lines = ["| " + " | ".join(show) + " |", "|" + "---|" * len(show)]
    for r in rows:
        cells = [f"{r[c]:,}" if isinstance(r.get(c), int) and c.endswith("params") else str(r.get(c, "")) for c in show]
        lines.append("| " + " | ".join(cells) + " |")
    meta = rows[0] if rows else {}
    lines += ["", f"seed {meta.get('seed')}, {meta.get('per_class')} samples per class, val rows "
              f"{meta.get('val_size')}, git {meta.get('git_commit')}, TF {meta.get('tensorflow')}, "
              f"Keras {meta.get('keras')}, {meta.get('device')}, {meta.get('threads')} threads, {meta.get('date')}. "
              "Latency: median of 30 direct calls on one image."]
    md_path = out / f"{stem}.md"
    md_path.write_text("\n".join(lines) + "\n")
    return {"csv": csv_path, "md": md_path}


# ----------------------------------------------------------------------------- command

def target_data(data_dir, val_rows: int | None, seed: int):
    """Target task: letters N-Y of the train CSV (to draw few samples from) and of the test CSV
    (validation; ``val_rows`` of them drawn by ``seed``, all when None or 0)."""
    from signbench.data import load_sign_mnist

    train = letters_subset(load_sign_mnist("train", data_dir), TARGET_LETTERS)
    val = letters_subset(load_sign_mnist("test", data_dir), TARGET_LETTERS)
    if val_rows and 0 < val_rows < len(val):
        val = val.subset(np.sort(rng(seed, "val_rows").choice(len(val), val_rows, replace=False)))
    return train, val


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["pretrain", "compare", "select"],
                        help="pretrain a backbone on letters A-M; compare transfer vs scratch on N-Y; "
                             "select: write the model-selection table")
    parser.add_argument("--work", type=Path, default=Path("runs/transfer"),
                        help="where the pretrained backbone is written/read (default runs/transfer)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="table folder (select)")
    parser.add_argument("--data-dir", type=Path, default=None, help="real data folder (default: located)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="compare: seeds")
    parser.add_argument("--per-class", type=int, default=5, help="target samples per class")
    parser.add_argument("--epochs", type=int, default=100, help="few-shot epochs (28x28 models)")
    parser.add_argument("--batch-size", type=int, default=16, help="few-shot batch size")
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--big-epochs", type=int, default=10, help="few-shot epochs for the 96/150 px models")
    parser.add_argument("--val-rows", type=int, default=1500,
                        help="target validation rows drawn from the test CSV's letters N-Y (0: all)")
    parser.add_argument("--no-inception", action="store_true", help="select: leave InceptionV3 out")


def run(args) -> int:
    from signbench.cli import UserError
    from signbench.data import load_sign_mnist

    weights = args.work / "backbone.weights.h5"
    if args.action == "pretrain":
        source = letters_subset(load_sign_mnist("train", args.data_dir), SOURCE_LETTERS)
        bb, acc = pretrain_backbone(source, seed=args.seed, epochs=args.pretrain_epochs)
        paths = save_backbone(bb, args.work)
        print(json.dumps({"source_letters": "".join(SOURCE_LETTERS), "source_rows": len(source),
                          "train_accuracy": acc, **{k: str(v) for k, v in paths.items()}}))
        return 0
    if not weights.is_file():
        raise UserError(f"{weights} not found; run `signbench transfer pretrain --work {args.work}` first")
    train, val = target_data(args.data_dir, args.val_rows, args.seed)
    if args.action == "compare":
        rows = compare(weights, train, val, seeds=args.seeds, per_class=args.per_class, epochs=args.epochs,
                       batch_size=args.batch_size)
        for r in rows:
            print(json.dumps(r))
        return 0
    source = letters_subset(load_sign_mnist("train", args.data_dir), SOURCE_LETTERS)
    rows = model_selection(weights, train, val, source=source, work_dir=args.work, seed=args.seed,
                           per_class=args.per_class, epochs=args.epochs, batch_size=args.batch_size,
                           big_epochs=args.big_epochs, pretrain_epochs=args.pretrain_epochs,
                           inception=not args.no_inception)
    paths = write_table(rows, args.out)
    print(Path(paths["md"]).read_text())
    return 0
