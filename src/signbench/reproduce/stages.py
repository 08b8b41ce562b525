"""The course's stages, in order, as :class:`~signbench.reproduce.runner.Stage` objects.

Each stage calls the library module that implements it and writes its outputs into its own folder
of the run (``ctx.out``); later stages read earlier outputs through ``ctx.path(name)`` /
``ctx.result(name)``. Nothing heavy is imported at module import time.

Sizes come from :func:`profile` (``--quick`` or full, ``--full-tune``), and are part of the run's
settings, so a resumed run never mixes sizes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from signbench import seeds
from signbench.reproduce.runner import Stage, StageContext, atomic_write_json

__all__ = ["STAGE_NAMES", "MODELS", "profile", "build_stages"]

#: The course's three models, trained in this order.
MODELS = ("baseline", "regularized", "cnn")
STAGE_NAMES = (
    "data", "clean", "explore", "split",
    *(f"train-{m}" for m in MODELS),
    "tune", "save-reload", "transfer", "deploy", "report",
)


def profile(*, quick: bool, full_tune: bool) -> dict[str, Any]:
    """Every size the stages use. ``quick`` runs the same stages, small; ``full_tune`` is the course's
    Hyperband budget (max_epochs 10) instead of the small default."""
    p: dict[str, Any] = {
        "epochs": 3 if quick else 20,
        "batch_size": 128,
        "train_limit": 5000 if quick else None,  # stratified subsample of the train set, at load
        "val_fraction": 0.2,  # of the official test set, the course's protocol
        "tune_max_epochs": 10 if full_tune else (2 if quick else 3),
        "tune_limit": None if quick or full_tune else 6000,  # quick: its 5000 images; default: 6000 of all
        "tune_retrain_epochs": 3 if quick else 20,
        "transfer_pretrain_epochs": 3 if quick else 10,
        "transfer_shots": 10 if quick else 20,  # target-task training images per class
        "transfer_epochs": 10 if quick else 30,
        "transfer_pretrain_limit": None,
        "latency_runs": 50 if quick else 500,
        "calibration_size": 64 if quick else 256,
        "misclassified_shown": 32,
    }
    return p


# -- helpers -------------------------------------------------------------------------------------
def _verbose(ctx: StageContext) -> int:
    return 0 if ctx.config.get("quiet") else 1


def _save_arrays(path: Path, **arrays) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _stratified_subset(labels: np.ndarray, n: int | None, seed: int, name: str) -> np.ndarray:
    """Sorted indices of a seeded subset of about ``n`` rows keeping class proportions (signbench.split);
    all indices if ``n`` is None or not smaller than the data."""
    from signbench.split import split_indices

    if n is None or n >= len(labels):
        return np.arange(len(labels))
    frac = n / len(labels)
    return split_indices(labels, (frac, 1.0 - frac, 0.0), stratify=True, seed=seeds.derive(seed, name)).train


def _images(ctx: StageContext) -> dict[str, np.ndarray]:
    """Clean train images/labels and test images/labels (uint8) plus the split indices."""
    arrays = _load_arrays(ctx.path("clean") / "clean.npz")
    arrays.update(_load_arrays(ctx.path("split") / "split.npz"))
    return arrays


def _xy(arrays, which: str):
    """(float32 images in [0, 1], labels) for "train", "val" or "test"."""
    if which == "train":
        i = arrays["train_index"]
        x, y = arrays["train_images"][i], arrays["train_labels"][i]
    elif which == "val":
        i = arrays["val_index"]
        x, y = arrays["test_images"][i], arrays["test_labels"][i]
    else:
        x, y = arrays["test_images"], arrays["test_labels"]
    return x.astype(np.float32) / np.float32(255.0), y


def _class_names(ctx: StageContext) -> list[str]:
    return list(ctx.result("data")["class_names"])


def _user_error(message: str) -> Exception:
    from signbench.cli import UserError

    return UserError(message)


# -- 1. data -------------------------------------------------------------------------------------
def _sha256_uncompressed(path: str) -> str:
    import hashlib

    from signbench.data.rawio import read_bytes

    return hashlib.sha256(read_bytes(path)).hexdigest()


def _load_one(path: str):
    from signbench.data import DataError, load

    try:
        return load(path)
    except DataError:
        raise
    except (ValueError, KeyError, OSError) as exc:
        raise DataError(str(exc), path=path) from None


def _unzip(spec: dict, out: Path) -> dict:
    """Extract a ``--data`` zip (safely) into the stage folder and resolve what it holds."""
    from signbench.data.archive import extract_zip
    from signbench.reproduce.source import NoDataError, from_path

    root = extract_zip(spec["train"], out / "extracted")
    entries = [p for p in root.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        root = entries[0]
    try:
        inner = from_path(root, origin=spec["origin"], verify=spec.get("verify", False)).to_dict()
    except NoDataError as exc:
        raise _user_error(f"{spec['train']}: {exc}") from None
    return inner


def stage_data(ctx: StageContext) -> dict:
    """Load the train and test sets and verify them (published SHA-256 for the real CSVs).
    ``--quick`` keeps a seeded, stratified subsample of the train set from here on."""
    from signbench.data import DataError

    spec = dict(ctx.config["data"])
    if spec["kind"] == "zip":
        archive = spec["train"]
        spec = _unzip(spec, ctx.out)
        ctx.log(f"extracted {archive}: {spec['kind']} {Path(spec['train']).name}")
        try:
            return _stage_data(ctx, spec)
        except DataError as exc:  # name the archive, not the stage's temporary folder
            inside = str(ctx.out / "extracted")
            raise DataError(str(exc).replace(inside, archive + "!")) from None
    return _stage_data(ctx, spec)


def _stage_data(ctx: StageContext, spec: dict) -> dict:
    from signbench.data import DataError
    from signbench.reproduce.source import known_sha256

    result: dict[str, Any] = {"kind": spec["kind"], "origin": spec["origin"], "sha256": {}}
    files = [spec["train"]] + ([spec["test"]] if spec.get("test") else [])
    if spec["kind"] == "csv-pair":
        published = known_sha256()
        for f in files:
            digest = _sha256_uncompressed(f)
            name = Path(f).name.removesuffix(".gz")
            result["sha256"][name] = digest
            if spec.get("verify"):
                want = published.get(name)
                if want is None or digest != want:
                    raise DataError(
                        f"SHA-256 of the uncompressed CSV is {digest}, not the published "
                        f"{want or '(no published hash for this name)'}", path=f,
                    )
    result["verified"] = bool(spec.get("verify")) and spec["kind"] == "csv-pair"
    train = _load_one(spec["train"])
    ctx.log(f"loaded {len(train)} images from {spec['train']}")
    if spec.get("test"):
        test = _load_one(spec["test"])
        ctx.log(f"loaded {len(test)} images from {spec['test']}")
        if list(test.class_names) != list(train.class_names):
            raise DataError(
                f"test classes {test.class_names} differ from the train classes {train.class_names}",
                path=spec["test"],
            )
        if test.image_shape != train.image_shape:
            raise DataError(
                f"test images are {test.image_shape}, train images {train.image_shape}", path=spec["test"]
            )
    else:  # one set: hold out a seeded, stratified 20% as the test split
        keep = _stratified_subset(train.labels, int(round(0.8 * len(train))), ctx.config["seed"], "holdout")
        mask = np.zeros(len(train), bool)
        mask[keep] = True
        train, test = train.subset(mask), train.subset(~mask)
        ctx.log(f"no separate test set: held out {len(test)} images (seeded, stratified 20%)")
    if len(train) == 0 or len(test) == 0:
        raise DataError("no images to train or test on", path=spec["train"])
    result["train_full"] = len(train)
    limit = ctx.config["profile"]["train_limit"]
    if limit is not None and len(train) > limit:
        train = train.subset(_stratified_subset(train.labels, limit, ctx.config["seed"], "quick-subset"))
        ctx.log(f"quick: kept a stratified {len(train)} of {result['train_full']} train images")
    _save_arrays(
        ctx.out / "data.npz",
        train_images=train.images, train_labels=train.labels,
        test_images=test.images, test_labels=test.labels,
    )
    result.update(
        train=len(train), test=len(test), image_shape=list(train.image_shape),
        num_classes=train.num_classes, class_names=list(train.class_names),
    )
    return result


# -- 2. clean ------------------------------------------------------------------------------------
def stage_clean(ctx: StageContext) -> dict:
    """The course's cleaning lesson (signbench.clean) on the train set as a label,pixel... table:
    nulls, non-numeric and out-of-range values, bad labels and exact duplicate rows are dropped."""
    import pandas as pd

    from signbench.clean import clean_frame

    arrays = _load_arrays(ctx.path("data") / "data.npz")
    images, labels = arrays["train_images"], arrays["train_labels"]
    n = len(labels)
    frame = pd.DataFrame(images.reshape(n, -1), columns=[f"pixel{i + 1}" for i in range(images[0].size)])
    frame.insert(0, "label", labels)
    kept, report = clean_frame(frame)
    keep = kept.index.to_numpy()
    _save_arrays(
        ctx.out / "clean.npz",
        train_images=images[keep], train_labels=labels[keep],
        test_images=arrays["test_images"], test_labels=arrays["test_labels"],
    )
    ctx.log(f"kept {report.rows_out} of {report.rows_in} train rows; dropped {report.counts}")
    return {"rows_in": report.rows_in, "rows_out": report.rows_out, "dropped": dict(report.counts)}


# -- 3. explore ----------------------------------------------------------------------------------
def stage_explore(ctx: StageContext) -> dict:
    """Class balance of both splits and the exact-image leakage check between them (signbench.explore)."""
    from signbench import explore
    from signbench.data.types import LabeledImages
    from signbench.reproduce import report as rep

    arrays = _load_arrays(ctx.path("clean") / "clean.npz")
    names = _class_names(ctx)
    train = LabeledImages(arrays["train_images"], arrays["train_labels"], names)
    test = LabeledImages(arrays["test_images"], arrays["test_labels"], names)
    balance = {"train": explore.class_balance(train), "test": explore.class_balance(test)}
    leak = explore.leakage(train, test)
    leak.pop("pairs", None)  # every (test, train) index pair: too long for the result; counts stay
    rep.class_balance_chart(balance["train"]["counts"], ctx.out / "class_balance.png", title="Train class balance")
    ctx.log(
        f"train imbalance ratio {balance['train']['imbalance_ratio']:.2f}; {leak['leaked_test_images']} test "
        f"images also in train, {leak['train_duplicates']} duplicates within train"
    )
    return {"balance": balance, "imbalance_ratio": balance["train"]["imbalance_ratio"], "leakage": leak}


# -- 4. split ------------------------------------------------------------------------------------
def stage_split(ctx: StageContext) -> dict:
    """The course's protocol: validation = a seeded, stratified 20% of the test set; test = all of it."""
    arrays = _load_arrays(ctx.path("clean") / "clean.npz")
    p = ctx.config["profile"]
    seed = ctx.config["seed"]
    train_index = np.arange(len(arrays["train_labels"]))
    n_test = len(arrays["test_labels"])
    n_val = max(int(round(p["val_fraction"] * n_test)), 1)
    val_index = _stratified_subset(arrays["test_labels"], n_val, seed, "validation")
    _save_arrays(ctx.out / "split.npz", train_index=train_index, val_index=val_index)
    return {"train": int(len(train_index)), "val": int(len(val_index)), "test": int(n_test)}


# -- 5. train ------------------------------------------------------------------------------------
def _predict(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=512, verbose=0))


def _labels_from(prob: np.ndarray) -> np.ndarray:
    prob = np.asarray(prob)
    if prob.ndim == 2 and prob.shape[1] == 1:
        return (prob[:, 0] > 0.5).astype(np.int64)
    return prob.argmax(axis=1).astype(np.int64)


def make_train_stage(name: str):
    def stage_train(ctx: StageContext) -> dict:
        """Train one course model with the course's callbacks; save it and its test predictions."""
        from signbench import callbacks as cb
        from signbench import persist, plots
        from signbench.train import fit

        arrays = _images(ctx)
        p = ctx.config["profile"]
        train, val, test = _xy(arrays, "train"), _xy(arrays, "val"), _xy(arrays, "test")
        ckpt = ctx.out / "best.weights.h5"
        callbacks = [
            cb.early_stopping(),  # the course's EarlyStopping(monitor="loss", patience=3)
            cb.best_checkpoint(ckpt),  # best-only on val_accuracy, Keras 3 file name
            cb.tensorboard(ctx.out / "logs"),
        ]
        run = fit(
            name, train, seed=seeds.derive(ctx.config["seed"], f"train/{name}"), epochs=p["epochs"],
            batch_size=p["batch_size"], validation=val, test=test, callbacks=callbacks, verbose=_verbose(ctx),
        )
        model = run.model
        persist.save_model(model, ctx.out / "model.keras")
        np.save(ctx.out / "test_pred.npy", _labels_from(_predict(model, test[0])))
        plots.learning_curves(run.history, ctx.out / "learning_curves.png", title=f"{name}: learning curves")
        # The best-only checkpoint reloaded into the same architecture, evaluated on the test set.
        persist.load_weights(model, ckpt)
        ev = model.evaluate(test[0], test[1], batch_size=512, verbose=0, return_dict=True)
        best = {
            "val_accuracy": run.best_val_accuracy, "epoch": run.best_val_epoch,
            "test_accuracy": float(ev["accuracy"]),
        }
        np.save(ctx.out / "best_test_pred.npy", _labels_from(_predict(model, test[0])))
        atomic_write_json(ctx.out / "run.json", run.to_dict())
        ctx.log(
            f"{name}: train {run.train_accuracy:.4f} val {run.val_accuracy:.4f} test {run.test_accuracy:.4f} "
            f"({run.epochs_run} epochs, {run.wall_time_s:.1f}s); best checkpoint test {best['test_accuracy']:.4f}"
        )
        return {
            "name": name,
            "train_accuracy": run.train_accuracy,
            "val_accuracy": run.val_accuracy,
            "test_accuracy": run.test_accuracy,
            "gap": run.gap,
            "epochs": run.epochs_run,
            "seconds": run.wall_time_s,
            "samples_per_s": run.samples_per_s,
            "params": int(model.count_params()),
            "best_checkpoint": best,
            "history": run.history,
        }

    stage_train.__name__ = f"stage_train_{name}"
    return stage_train


# -- 6. tune -------------------------------------------------------------------------------------
def stage_tune(ctx: StageContext) -> dict:
    """Hyperband over the course's hypermodel (small budget unless --full-tune), best model retrained."""
    from signbench import persist, plots
    from signbench.tune import tune

    arrays = _images(ctx)
    p = ctx.config["profile"]
    seed = seeds.derive(ctx.config["seed"], "tune")
    x, y = _xy(arrays, "train")
    keep = _stratified_subset(y, p["tune_limit"], ctx.config["seed"], "tune-subset")
    test = _xy(arrays, "test")
    res = tune(
        (x[keep], y[keep]), _xy(arrays, "val"), seed=seed, directory=ctx.out / "tuner",
        max_epochs=p["tune_max_epochs"], factor=3, batch_size=p["batch_size"],
        retrain_epochs=p["tune_retrain_epochs"], test=test, verbose=_verbose(ctx),
    )
    run = res.run
    persist.save_model(run.model, ctx.out / "model.keras")
    np.save(ctx.out / "test_pred.npy", _labels_from(_predict(run.model, test[0])))
    plots.learning_curves(run.history, ctx.out / "learning_curves.png", title="tuned: learning curves (retrain)")
    atomic_write_json(ctx.out / "run.json", run.to_dict())
    best_hp = {k: v for k, v in res.best_hyperparameters.items() if not k.startswith("tuner/")}
    ctx.log(f"{len(res.trials)} trials, best {best_hp} (val {res.best_score:.4f})")
    return {
        "name": "tuned",
        "best_hyperparameters": best_hp,
        "best_score": res.best_score,
        "trials": res.trials,
        "budget": {"max_epochs": p["tune_max_epochs"], "factor": 3, "train_images": int(len(keep)),
                   "full": bool(ctx.config["full_tune"])},
        "train_accuracy": run.train_accuracy,
        "val_accuracy": run.val_accuracy,
        "test_accuracy": run.test_accuracy,
        "epochs": run.epochs_run,
        "seconds": run.wall_time_s,
        "params": int(run.model.count_params()),
        "history": run.history,
    }


# -- 7. save and reload --------------------------------------------------------------------------
def _trained(ctx: StageContext) -> list[dict]:
    """Results of the model-training stages (course models and the tuned one)."""
    return [ctx.result(f"train-{m}") for m in MODELS] + [ctx.result("tune")]


def _model_path(ctx: StageContext, name: str) -> Path:
    return ctx.path("tune" if name == "tuned" else f"train-{name}") / "model.keras"


def stage_save_reload(ctx: StageContext) -> dict:
    """Every course save format as a round trip on the CNN: same predictions after reloading."""
    import keras

    from signbench import persist

    arrays = _images(ctx)
    x = _xy(arrays, "test")[0][:256]
    model = persist.load_model(_model_path(ctx, "cnn"))
    ref = _predict(model, x)
    rows = []

    def record(fmt, path, pred, note=""):
        size = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) if Path(path).is_dir() \
            else Path(path).stat().st_size
        diff = float(np.max(np.abs(np.asarray(pred) - ref)))
        rows.append({"format": fmt, "file": str(Path(path).relative_to(ctx.out)), "bytes": int(size),
                     "max_abs_diff": diff, "same_predictions": bool(diff <= 1e-5), "note": note})

    # architecture only: same layers, fresh weights (predictions differ by design)
    arch = persist.architecture_from_json(persist.architecture_to_json(model))
    (ctx.out / "architecture.json").write_text(persist.architecture_to_json(model))
    same_arch = [type(a).__name__ for a in arch.layers] == [type(b).__name__ for b in model.layers]
    rows.append({"format": "architecture (to_json)", "file": "architecture.json",
                 "bytes": (ctx.out / "architecture.json").stat().st_size, "max_abs_diff": None,
                 "same_predictions": None, "note": f"same layers: {same_arch}, fresh weights"})
    w = persist.save_weights(model, ctx.out / "weights.weights.h5")
    fresh = keras.models.clone_model(model)
    record("weights (.weights.h5)", w, _predict(persist.load_weights(fresh, w), x))
    k = persist.save_model(model, ctx.out / "model.keras")
    record("full model (.keras)", k, _predict(persist.load_model(k), x))
    h = persist.save_model(model, ctx.out / "model.h5")
    record("legacy HDF5 (.h5)", h, _predict(persist.load_model(h), x))
    sm = persist.export_saved_model(model, ctx.out / "saved_model")
    layer = persist.load_saved_model_layer(sm)
    out = layer(x)
    out = next(iter(out.values())) if isinstance(out, dict) else out
    record("SavedModel (export)", sm, np.asarray(out), "reloaded as keras.layers.TFSMLayer")
    bad = [r["format"] for r in rows if r["same_predictions"] is False]
    if bad or not same_arch:
        raise RuntimeError(f"save/reload changed predictions for {bad or 'the architecture'}")
    return {"model": "cnn", "rows": rows}


# -- 8. transfer ---------------------------------------------------------------------------------
def stage_transfer(ctx: StageContext) -> dict:
    """Pretrain a backbone on a source task (letters A-M), transfer it frozen to a target task it never
    saw (letters N-Y) with few samples per class, against the same network trained from scratch."""
    from signbench import transfer
    from signbench.data.types import LabeledImages

    arrays = _images(ctx)
    p = ctx.config["profile"]
    names = _class_names(ctx)
    seed = seeds.derive(ctx.config["seed"], "transfer")
    ti = arrays["train_index"]
    train = LabeledImages(arrays["train_images"][ti], arrays["train_labels"][ti], names)
    vi = arrays["val_index"]
    val = LabeledImages(arrays["test_images"][vi], arrays["test_labels"][vi], names)
    if set(transfer.SOURCE_LETTERS + transfer.TARGET_LETTERS) <= set(names):
        source_names, target_names = list(transfer.SOURCE_LETTERS), list(transfer.TARGET_LETTERS)
    else:  # another dataset: the first half of the classes is the source task, the rest the target
        half = len(names) // 2
        source_names, target_names = names[:half], names[half:]
    if len(source_names) < 2 or len(target_names) < 2:
        return {"skipped": f"{len(names)} classes: too few to split into a source and a target task",
                "rows": []}
    source = transfer.letters_subset(train, source_names)
    if p["transfer_pretrain_limit"]:
        source = source.subset(_stratified_subset(source.labels, p["transfer_pretrain_limit"], seed, "source"))
    backbone, source_acc = transfer.pretrain_backbone(source, seed=seed, epochs=p["transfer_pretrain_epochs"])
    saved = transfer.save_backbone(backbone, ctx.out / "backbone")
    target_train = transfer.letters_subset(train, target_names)
    target_val = transfer.letters_subset(val, target_names)
    per_class = int(min(p["transfer_shots"], np.bincount(target_train.labels).min()))
    rows = transfer.compare(saved["weights"], target_train, target_val, seeds=(seed,), per_class=per_class,
                            epochs=p["transfer_epochs"])
    by = {r["model"]: r for r in rows}
    t, s = by["transfer"], by["scratch"]
    summary = (
        f"Backbone pretrained on {len(source)} images of {source_names[0]}-{source_names[-1]} "
        f"({p['transfer_pretrain_epochs']} epochs, train accuracy {source_acc:.4f}); target task "
        f"{target_names[0]}-{target_names[-1]} with {per_class} images per class, {p['transfer_epochs']} "
        f"epochs, validated on {len(target_val)} images. Frozen pretrained features: val "
        f"{t['val_accuracy']:.4f} (gap {t['gap']:.4f}); same network from scratch: val "
        f"{s['val_accuracy']:.4f} (gap {s['gap']:.4f})."
    )
    ctx.log(summary)
    return {"summary": summary, "source_accuracy": source_acc, "per_class": per_class,
            "rows": [{k: r[k] for k in ("model", "per_class", "epochs", "train_accuracy", "val_accuracy",
                                        "gap", "params", "trainable_params")} for r in rows]}


# -- 9. deploy -----------------------------------------------------------------------------------
def _p50_ms(fn, runs: int) -> float:
    fn()  # warm up (tracing, allocation)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def stage_deploy(ctx: StageContext) -> dict:
    """TFLite conversion of every trained model and its accuracy and one-image latency per runtime."""
    import keras

    from signbench import deploy, persist

    arrays = _images(ctx)
    p = ctx.config["profile"]
    x_test, y_test = _xy(arrays, "test")
    calib = deploy.representative_sample(
        arrays["train_images"][arrays["train_index"]], p["calibration_size"],
        seed=seeds.derive(ctx.config["seed"], "calibration"),
    )
    quick = bool(ctx.config.get("quick"))
    trained = _trained(ctx)
    best = max(trained, key=lambda r: r["test_accuracy"] or 0)["name"]
    one = x_test[:1]
    rows = []
    for r in trained:
        name = r["name"]
        model = persist.load_model(_model_path(ctx, name))
        call = keras.ops.convert_to_tensor(one)
        rows.append({
            "model": name, "runtime": "keras (direct call)", "accuracy": r["test_accuracy"],
            "latency_ms": _p50_ms(lambda m=model, c=call: m(c, training=False), p["latency_runs"]),
            "bytes": _model_path(ctx, name).stat().st_size,
        })
        if name == best:  # every conversion for the best model; quick mode skips float16
            modes = ("float32", "dynamic", "int8") if quick else ("float32", "float16", "dynamic", "int8")
        else:
            modes = ("float32",) if quick else ("float32", "int8")
        for mode in modes:
            flat = deploy.convert(model, mode, representative=calib if mode == "int8" else None)
            path = deploy.save(flat, ctx.out / f"{name}-{mode}.tflite")
            lite = deploy.LiteModel(flat)
            pred = np.concatenate([_labels_from(lite.run(x_test[i : i + 256])) for i in range(0, len(x_test), 256)])
            acc = float(np.mean(pred == y_test))
            lite.resize(1)
            raw = deploy.runtime.quantize(one, lite.input)
            lite.set_raw(raw)
            rows.append({
                "model": name, "runtime": f"tflite {mode}", "accuracy": acc,
                "latency_ms": _p50_ms(lite.invoke, p["latency_runs"]), "bytes": path.stat().st_size,
            })
            ctx.log(f"{name} tflite {mode}: accuracy {acc:.4f}, p50 {rows[-1]['latency_ms']:.3f} ms")
    from signbench.meta import thread_count

    return {"best_model": best, "rows": rows, "latency_runs": p["latency_runs"], "threads": thread_count(),
            "note": "Latencies come from this machine under whatever else ran on it: compare runtimes within "
                    "one run, and rerun the deploy stage on a quiet machine for numbers to publish"}


# -- 10. report ----------------------------------------------------------------------------------
def stage_report(ctx: StageContext) -> dict:
    from signbench.reproduce.build import build_report

    return build_report(ctx)


# -- estimates (seconds on 2 CPU cores; priors for the ETA) ----------------------------------------
def _est(quick: float, full: float, *, tune_full: float | None = None):
    def f(config: Mapping[str, Any]) -> float:
        if tune_full is not None and config.get("full_tune"):
            return tune_full * (0.2 if config.get("quick") else 1.0)
        return quick if config.get("quick") else full

    return f


_ESTIMATES = {  # (quick, full) seconds on a quiet 2-core CPU; the ETA rescales them by measured speed
    "data": _est(4, 6), "clean": _est(3, 45), "explore": _est(1, 5), "split": _est(0.5, 1),
    "train-baseline": _est(8, 60), "train-regularized": _est(5, 70), "train-cnn": _est(20, 270),
    "tune": _est(40, 180, tune_full=1500), "save-reload": _est(6, 10), "transfer": _est(20, 90),
    "deploy": _est(20, 60), "report": _est(5, 10),
}

_TITLES = {
    "data": "load and verify the data", "clean": "clean (duplicates, bad values, scaling)",
    "explore": "explore (class balance, leakage)", "split": "split (validation from test, seeded)",
    "tune": "tune (Hyperband)", "save-reload": "save and reload (every format)",
    "transfer": "transfer (pretrained backbone vs scratch)",
    "deploy": "convert to TFLite and benchmark inference", "report": "write the report",
}

_FUNCS = {
    "data": stage_data, "clean": stage_clean, "explore": stage_explore, "split": stage_split,
    **{f"train-{m}": make_train_stage(m) for m in MODELS},
    "tune": stage_tune, "save-reload": stage_save_reload, "transfer": stage_transfer,
    "deploy": stage_deploy, "report": stage_report,
}


def build_stages(until: str | None = None) -> list[Stage]:
    """The stages in order (up to and including ``until``)."""
    out = []
    for name in STAGE_NAMES:
        title = _TITLES.get(name) or f"train {name.removeprefix('train-')} (course callbacks)"
        out.append(Stage(name, _dispatch(name), title, _ESTIMATES[name]))
        if name == until:
            break
    return out


def _dispatch(name: str):
    # Look the function up at call time so tests can replace a stage with monkeypatch.
    def call(ctx: StageContext):
        return _FUNCS[name](ctx)

    return call
