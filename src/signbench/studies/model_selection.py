"""The course's "precision vs complexity" table on the transfer target task (letters N-Y, few shots).

Every candidate trains on the same ``per_class`` samples per class and is scored on the same
validation rows: the course CNN from scratch; the small backbone pretrained here on letters A-M,
frozen; MobileNetV2 alpha 0.35 at 32x32x3 pretrained here on the source letters then frozen (random
init, all layers trained on the few samples, when no source is given); InceptionV3 cut at mixed7 at
150x150x3 from a local weights file holding seeded random initial values (no ImageNet file can be
downloaded here), frozen. Writes ``model_selection.csv`` / ``.md`` (``signbench transfer select``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signbench.data.types import LabeledImages
from signbench.seeds import derive, seed_everything

__all__ = ["MOBILENET_BN_MOMENTUM", "model_selection", "pretrain_mobilenet", "resize_and_repeat_np", "write"]

MOBILENET_BN_MOMENTUM = 0.9
#: Direct calls on one image behind each latency figure (their median).
LATENCY_RUNS = 30


def model_selection(weights: str | Path, target_train: LabeledImages, target_val: LabeledImages, *,
                    source: LabeledImages | None, work_dir: str | Path, seed: int = 0, per_class: int = 5,
                    epochs: int = 100, batch_size: int = 16, big_epochs: int = 10, pretrain_epochs: int = 3,
                    inception: bool = True) -> list[dict]:
    """The table's rows (see the module docstring); ``weights`` is the pretrained small backbone."""
    import keras

    from signbench.deploy.latency import median_ms
    from signbench.meta import run_metadata
    from signbench.models import course
    from signbench.models.backbones import inception_mixed7, mobilenet_v2_small, small_classifier
    from signbench.train.fit import evaluate, fit
    from signbench.train.transfer import few_shot, load_backbone, trainable_params

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    few = few_shot(target_train, per_class, seed=seed)
    n = few.num_classes
    rows: list[dict] = []

    def train_and_row(name, model, input_shape, note, size=None, n_epochs=epochs):
        xt = (few.as_float() if size is None else resize_and_repeat_np(few.images, size), few.labels)
        xv = (target_val.as_float() if size is None else resize_and_repeat_np(target_val.images, size),
              target_val.labels)
        run = fit(model, xt, seed=derive(seed, "fit"), epochs=n_epochs, batch_size=batch_size, eval_train=True)
        val = evaluate(model, xv)[1]
        x1 = keras.ops.convert_to_tensor(np.zeros((1, *input_shape), np.float32))
        rows.append({
            "model": name, "input": "x".join(map(str, input_shape)), "params": int(model.count_params()),
            "trainable_params": trainable_params(model), "train_accuracy": round(run.train_eval_accuracy, 4),
            "val_accuracy": round(val, 4),
            "latency_ms_p50": round(median_ms(lambda: np.asarray(model(x1, training=False)), LATENCY_RUNS), 3),
            "per_class": per_class, "val_size": len(target_val), "note": note,
            **run_metadata(seed),
        })
        keras.backend.clear_session(free_memory=True)

    seed_everything(derive(seed, "init/cnn"))
    train_and_row("course_cnn", course.cnn(n, few.image_shape), few.image_shape,
                  "course CNN, random init, all layers trained on the few samples")

    seed_everything(derive(seed, "init/transfer"))
    train_and_row("small_backbone_transfer", small_classifier(n, load_backbone(weights, few.image_shape), frozen=True),
                  few.image_shape, "small backbone pretrained here on letters A-M, frozen; head trained")

    mb_shape = (32, 32, 3)
    seed_everything(derive(seed, "init/mobilenet"))
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
    train_and_row("mobilenet_v2_alpha0.35", m, mb_shape, note, size=mb_shape[:2])

    if inception:
        seed_everything(derive(seed, "init/inception_weights"))
        local = work_dir / "inception_v3_notop_random_init.weights.h5"
        base = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(150, 150, 3))
        base.save_weights(str(local))
        keras.backend.clear_session(free_memory=True)
        train_and_row("inception_v3_mixed7", inception_mixed7(n, (150, 150, 3), weights=local), (150, 150, 3),
                      "InceptionV3 cut at mixed7 from a LOCAL weights file holding seeded random initial values "
                      "(no ImageNet weights can be downloaded here), frozen; head trained",
                      size=(150, 150), n_epochs=big_epochs)
    return rows


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
    from signbench.models.backbones import mobilenet_v2_base, reestimate_bn_statistics, transfer_head
    from signbench.train.fit import evaluate, fit

    parts = {}

    def build():
        parts["base"] = base = mobilenet_v2_base(tuple(x.shape[1:]), alpha=alpha, bn_momentum=bn_momentum)
        return course.compile_for(keras.Model(base.input, transfer_head(base.output, num_classes)), num_classes)

    run = fit(build, (x, labels), seed=derive(seed, "pretrain/mobilenet"), epochs=epochs, batch_size=batch_size)
    reestimate_bn_statistics(parts["base"], x, batch_size=256)
    return parts["base"], evaluate(run.model, (x, labels))[1]


def resize_and_repeat_np(images: np.ndarray, size, batch: int = 256) -> np.ndarray:
    """:func:`signbench.models.backbones.resize_and_repeat` over a large array in batches."""
    from signbench.models.backbones import resize_and_repeat

    return np.concatenate([np.asarray(resize_and_repeat(images[i:i + batch], size))
                           for i in range(0, len(images), batch)])


#: The columns of the Markdown page (the CSV has every column, run metadata included).
SHOWN = ["model", "input", "params", "trainable_params", "train_accuracy", "val_accuracy", "latency_ms_p50", "note"]


def write(rows: list[dict], out_dir: str | Path, stem: str = "model_selection", *, command: str = "") -> list[Path]:
    """``<stem>.csv`` (all columns) and ``<stem>.md`` (the comparison columns) under ``out_dir``."""
    from signbench.results import write_table

    meta = rows[0] if rows else {}
    cells = [[f"{r[c]:,}" if isinstance(r.get(c), int) and c.endswith("params") else str(r.get(c, "")) for c in SHOWN]
             for r in rows]
    footer = [f"seed {meta.get('seed')}, {meta.get('per_class')} samples per class, val rows "
              f"{meta.get('val_size')}, git {meta.get('git_commit')}, TF {meta.get('tensorflow')}, "
              f"Keras {meta.get('keras')}, {meta.get('device')} ({meta.get('cpu_flags')}), "
              f"{meta.get('threads')} threads, {meta.get('date')}. "
              f"Latency: median of {LATENCY_RUNS} direct calls on one image."]
    return write_table(out_dir, stem, rows, shown=SHOWN, md_rows=cells, footer=footer, command=command,
                       title="Model selection on the transfer target task (letters N-Y, few samples per class)")
