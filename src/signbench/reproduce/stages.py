"""The course's stages, in order: :data:`STAGES`, one :class:`~signbench.reproduce.runner.Stage` each
(name, run function, title, time estimate, report section).

Each stage calls the library module that implements it and writes its outputs into its own folder of
the run (``ctx.out``); later stages read earlier outputs through ``ctx.path(name)`` /
``ctx.result(name)``. Sizes come from the run's :class:`~signbench.reproduce.config.Profile`
(``--quick`` or full, ``--full-tune``), part of the run's settings, so a resumed run never mixes
sizes. Nothing heavy is imported at module import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from signbench import seeds
from signbench.atomic import atomic_write_json
from signbench.deploy.predictor import predicted_classes
from signbench.errors import UserError
from signbench.reproduce import report
from signbench.reproduce.runner import Stage, StageContext

__all__ = ["MODELS", "STAGES", "STAGE_NAMES", "build_stages"]

#: The course's three models (``signbench.models.course.MODEL_NAMES``) in training order; named here so
#: that importing the stage list (``signbench reproduce --help``) does not import Keras.
MODELS = ("baseline", "regularized", "cnn")


# -- helpers -------------------------------------------------------------------------------------
def _verbose(ctx: StageContext) -> int:
    return 0 if ctx.quiet else 1


def _subset(labels: np.ndarray, n: int | None, seed: int, name: str) -> np.ndarray:
    """Sorted indices of a seeded stratified subset of about ``n`` rows (all when ``n`` is None)."""
    from signbench.data.split import stratified_subset

    return stratified_subset(labels, n, seed=seeds.derive(seed, name))


def _images(ctx: StageContext) -> dict[str, np.ndarray]:
    """Clean train images/labels and test images/labels (uint8) plus the split indices."""
    arrays = ctx.load_arrays("clean", "clean")
    arrays.update(ctx.load_arrays("split", "split"))
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


# -- 1. data -------------------------------------------------------------------------------------
def _sha256_uncompressed(path: str) -> str:
    import hashlib

    from signbench.data.formats.raw import read_bytes

    return hashlib.sha256(read_bytes(path)).hexdigest()


def _load_one(path: str):
    from signbench.data.load import load
    from signbench.errors import DataError

    try:
        return load(path)
    except DataError:
        raise
    except (ValueError, KeyError, OSError) as exc:
        raise DataError(str(exc), path=path) from None


def _unzip(spec, out: Path):
    """Extract a ``--data`` zip (safely) into the stage folder and resolve what it holds."""
    from signbench.data.formats.zip import extract_zip
    from signbench.reproduce.source import NoDataError, from_path

    root = extract_zip(spec.train, out / "extracted")
    entries = [p for p in root.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        root = entries[0]
    try:
        return from_path(root, origin=spec.origin, verify=spec.verify)
    except NoDataError as exc:
        raise UserError(f"{spec.train}: {exc}") from None


def stage_data(ctx: StageContext) -> dict:
    """Load the train and test sets and verify them (published SHA-256 for the real CSVs).
    ``--quick`` keeps a seeded, stratified subsample of the train set from here on."""
    from signbench.errors import DataError

    spec = ctx.config.data
    if spec.kind == "zip":
        archive = spec.train
        spec = _unzip(spec, ctx.out)
        ctx.log(f"extracted {archive}: {spec.kind} {Path(spec.train).name}")
        try:
            return _stage_data(ctx, spec)
        except DataError as exc:  # name the archive, not the stage's temporary folder
            inside = str(ctx.out / "extracted")
            raise DataError(str(exc).replace(inside, archive + "!")) from None
    return _stage_data(ctx, spec)


def _stage_data(ctx: StageContext, spec) -> dict:
    from signbench.errors import DataError
    from signbench.reproduce.source import known_sha256

    result: dict[str, Any] = {"kind": spec.kind, "origin": spec.origin, "sha256": {}}
    files = [spec.train] + ([spec.test] if spec.test else [])
    if spec.kind == "csv-pair":
        published = known_sha256()
        for f in files:
            digest = _sha256_uncompressed(f)
            name = Path(f).name.removesuffix(".gz")
            result["sha256"][name] = digest
            if spec.verify:
                want = published.get(name)
                if want is None or digest != want:
                    raise DataError(
                        f"SHA-256 of the uncompressed CSV is {digest}, not the published "
                        f"{want or '(no published hash for this name)'}", path=f,
                    )
    result["verified"] = bool(spec.verify) and spec.kind == "csv-pair"
    train = _load_one(spec.train)
    ctx.log(f"loaded {len(train)} images from {spec.train}")
    if spec.test:
        test = _load_one(spec.test)
        ctx.log(f"loaded {len(test)} images from {spec.test}")
        if list(test.class_names) != list(train.class_names):
            raise DataError(
                f"test classes {test.class_names} differ from the train classes {train.class_names}",
                path=spec.test,
            )
        if test.image_shape != train.image_shape:
            raise DataError(
                f"test images are {test.image_shape}, train images {train.image_shape}", path=spec.test
            )
    else:  # one set: hold out a seeded, stratified 20% as the test split
        keep = _subset(train.labels, int(round(0.8 * len(train))), ctx.config.seed, "holdout")
        mask = np.zeros(len(train), bool)
        mask[keep] = True
        train, test = train.subset(mask), train.subset(~mask)
        ctx.log(f"no separate test set: held out {len(test)} images (seeded, stratified 20%)")
    if len(train) == 0 or len(test) == 0:
        raise DataError("no images to train or test on", path=spec.train)
    result["train_full"] = len(train)
    limit = ctx.config.profile.train_limit
    if limit is not None and len(train) > limit:
        train = train.subset(_subset(train.labels, limit, ctx.config.seed, "quick-subset"))
        ctx.log(f"quick: kept a stratified {len(train)} of {result['train_full']} train images")
    ctx.save_arrays(
        "data",
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
    """The course's cleaning lesson (signbench.data.clean) on the train set as a label,pixel... table:
    nulls, non-numeric and out-of-range values, bad labels and exact duplicate rows are dropped."""
    import pandas as pd

    from signbench.data.clean import clean_frame

    arrays = ctx.load_arrays("data", "data")
    images, labels = arrays["train_images"], arrays["train_labels"]
    n = len(labels)
    frame = pd.DataFrame(images.reshape(n, -1), columns=[f"pixel{i + 1}" for i in range(images[0].size)])
    frame.insert(0, "label", labels)
    kept, cleaned = clean_frame(frame)
    keep = kept.index.to_numpy()
    ctx.save_arrays(
        "clean",
        train_images=images[keep], train_labels=labels[keep],
        test_images=arrays["test_images"], test_labels=arrays["test_labels"],
    )
    ctx.log(f"kept {cleaned.rows_out} of {cleaned.rows_in} train rows; dropped {cleaned.counts}")
    return {"rows_in": cleaned.rows_in, "rows_out": cleaned.rows_out, "dropped": dict(cleaned.counts)}


# -- 3. explore ----------------------------------------------------------------------------------
def stage_explore(ctx: StageContext) -> dict:
    """Class balance of both splits and the exact-image leakage check between them (signbench.data.explore)."""
    from signbench.data import explore
    from signbench.data.types import LabeledImages
    from signbench.plots import class_balance_chart

    arrays = ctx.load_arrays("clean", "clean")
    names = _class_names(ctx)
    train = LabeledImages(arrays["train_images"], arrays["train_labels"], names)
    test = LabeledImages(arrays["test_images"], arrays["test_labels"], names)
    balance = {"train": explore.class_balance(train), "test": explore.class_balance(test)}
    leak = explore.leakage(train, test)
    leak.pop("pairs", None)  # every (test, train) index pair: too long for the result; counts stay
    class_balance_chart(balance["train"]["counts"], ctx.out / "class_balance.png", title="Train class balance")
    ctx.log(
        f"train imbalance ratio {balance['train']['imbalance_ratio']:.2f}; {leak['leaked_test_images']} test "
        f"images also in train, {leak['train_duplicates']} duplicates within train"
    )
    return {"balance": balance, "imbalance_ratio": balance["train"]["imbalance_ratio"], "leakage": leak}


# -- 4. split ------------------------------------------------------------------------------------
def stage_split(ctx: StageContext) -> dict:
    """The course's protocol: validation = a seeded, stratified 20% of the test set; test = all of it."""
    arrays = ctx.load_arrays("clean", "clean")
    p = ctx.config.profile
    train_index = np.arange(len(arrays["train_labels"]))
    n_test = len(arrays["test_labels"])
    n_val = max(int(round(p.val_fraction * n_test)), 1)
    val_index = _subset(arrays["test_labels"], n_val, ctx.config.seed, "validation")
    ctx.save_arrays("split", train_index=train_index, val_index=val_index)
    return {"train": int(len(train_index)), "val": int(len(val_index)), "test": int(n_test)}


# -- 5. train ------------------------------------------------------------------------------------
def _predict(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=512, verbose=0))


def make_train_stage(name: str):
    def stage_train(ctx: StageContext) -> dict:
        """Train one course model with the course's callbacks; save it and its test predictions."""
        from signbench import plots
        from signbench.train import callbacks as cb
        from signbench.train import persist
        from signbench.train.fit import evaluate, fit

        arrays = _images(ctx)
        p = ctx.config.profile
        train, val, test = _xy(arrays, "train"), _xy(arrays, "val"), _xy(arrays, "test")
        ckpt = ctx.out / "best.weights.h5"
        callbacks = [
            cb.early_stopping(),  # the course's EarlyStopping(monitor="loss", patience=3)
            cb.best_checkpoint(ckpt),  # best-only on val_accuracy, Keras 3 file name
            cb.tensorboard(ctx.out / "logs"),
        ]
        run = fit(
            name, train, seed=seeds.derive(ctx.config.seed, f"train/{name}"), epochs=p.epochs,
            batch_size=p.batch_size, validation=val, test=test, callbacks=callbacks, verbose=_verbose(ctx),
        )
        model = run.model
        persist.save_model(model, ctx.out / "model.keras")
        np.save(ctx.out / "test_pred.npy", predicted_classes(_predict(model, test[0])))
        plots.learning_curves(run.history, ctx.out / "learning_curves.png", title=f"{name}: learning curves")
        # The best-only checkpoint reloaded into the same architecture, evaluated on the test set.
        persist.load_weights(model, ckpt)
        best = {
            "val_accuracy": run.best_val_accuracy, "epoch": run.best_val_epoch,
            "test_accuracy": evaluate(model, test, batch_size=512)[1],
        }
        np.save(ctx.out / "best_test_pred.npy", predicted_classes(_predict(model, test[0])))
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
    from signbench import plots
    from signbench.train import persist
    from signbench.train.tune import tune

    arrays = _images(ctx)
    p = ctx.config.profile
    seed = seeds.derive(ctx.config.seed, "tune")
    x, y = _xy(arrays, "train")
    keep = _subset(y, p.tune_limit, ctx.config.seed, "tune-subset")
    test = _xy(arrays, "test")
    res = tune(
        (x[keep], y[keep]), _xy(arrays, "val"), seed=seed, directory=ctx.out / "tuner",
        max_epochs=p.tune_max_epochs, factor=3, batch_size=p.batch_size,
        retrain_epochs=p.tune_retrain_epochs, test=test, verbose=_verbose(ctx),
    )
    run = res.run
    persist.save_model(run.model, ctx.out / "model.keras")
    np.save(ctx.out / "test_pred.npy", predicted_classes(_predict(run.model, test[0])))
    plots.learning_curves(run.history, ctx.out / "learning_curves.png", title="tuned: learning curves (retrain)")
    atomic_write_json(ctx.out / "run.json", run.to_dict())
    best_hp = {k: v for k, v in res.best_hyperparameters.items() if not k.startswith("tuner/")}
    ctx.log(f"{len(res.trials)} trials, best {best_hp} (val {res.best_score:.4f})")
    return {
        "name": "tuned",
        "best_hyperparameters": best_hp,
        "best_score": res.best_score,
        "trials": res.trials,
        "budget": {"max_epochs": p.tune_max_epochs, "factor": 3, "train_images": int(len(keep)),
                   "full": ctx.config.full_tune},
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

    from signbench.train import persist

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
    from signbench.data.types import LabeledImages
    from signbench.train import transfer

    arrays = _images(ctx)
    p = ctx.config.profile
    names = _class_names(ctx)
    seed = seeds.derive(ctx.config.seed, "transfer")
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
    if p.transfer_pretrain_limit:
        source = source.subset(_subset(source.labels, p.transfer_pretrain_limit, seed, "source"))
    pre = transfer.pretrain_backbone(source, seed=seed, epochs=p.transfer_pretrain_epochs)
    source_acc = pre.train_accuracy
    saved = transfer.save_backbone(pre.backbone, ctx.out / "backbone")
    target_train = transfer.letters_subset(train, target_names)
    target_val = transfer.letters_subset(val, target_names)
    per_class = int(min(p.transfer_shots, np.bincount(target_train.labels).min()))
    rows = transfer.compare(saved["weights"], target_train, target_val, seeds=(seed,), per_class=per_class,
                            epochs=p.transfer_epochs)
    by = {r["model"]: r for r in rows}
    t, s = by["transfer"], by["scratch"]
    summary = (
        f"Backbone pretrained on {len(source)} images of {source_names[0]}-{source_names[-1]} "
        f"({p.transfer_pretrain_epochs} epochs, train accuracy {source_acc:.4f}); target task "
        f"{target_names[0]}-{target_names[-1]} with {per_class} images per class, {p.transfer_epochs} "
        f"epochs, validated on {len(target_val)} images. Frozen pretrained features: val "
        f"{t['val_accuracy']:.4f} (gap {t['gap']:.4f}); same network from scratch: val "
        f"{s['val_accuracy']:.4f} (gap {s['gap']:.4f})."
    )
    ctx.log(summary)
    return {"summary": summary, "source_accuracy": source_acc, "per_class": per_class,
            "rows": [{k: r[k] for k in ("model", "per_class", "epochs", "train_accuracy", "val_accuracy",
                                        "gap", "params", "trainable_params")} for r in rows]}


# -- 9. deploy -----------------------------------------------------------------------------------
def stage_deploy(ctx: StageContext) -> dict:
    """TFLite conversion of every trained model and its accuracy and one-image latency per runtime."""
    import keras

    from signbench import deploy
    from signbench.deploy.latency import median_ms
    from signbench.train import persist

    arrays = _images(ctx)
    p = ctx.config.profile
    x_test, y_test = _xy(arrays, "test")
    calib = deploy.representative_sample(
        arrays["train_images"][arrays["train_index"]], p.calibration_size,
        seed=seeds.derive(ctx.config.seed, "calibration"),
    )
    quick = ctx.config.quick
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
            "latency_ms": median_ms(lambda m=model, c=call: m(c, training=False), p.latency_runs),
            "bytes": _model_path(ctx, name).stat().st_size,
        })
        if name == best:  # every conversion for the best model; quick mode skips float16
            modes = ("float32", "dynamic", "int8") if quick else ("float32", "float16", "dynamic", "int8")
        else:
            modes = ("float32",) if quick else ("float32", "int8")
        for mode in modes:
            flat = deploy.convert(model, mode, representative=calib if mode == "int8" else None)
            path = deploy.save(flat, ctx.out / f"{name}-{mode}.tflite")
            acc = deploy.Predictor(flat).accuracy(x_test, y_test, batch_size=256)
            lite = deploy.LiteModel(flat)
            lite.resize(1)
            raw = deploy.runtime.quantize(one, lite.input)
            lite.set_raw(raw)
            rows.append({
                "model": name, "runtime": f"tflite {mode}", "accuracy": acc,
                "latency_ms": median_ms(lite.invoke, p.latency_runs), "bytes": path.stat().st_size,
            })
            ctx.log(f"{name} tflite {mode}: accuracy {acc:.4f}, p50 {rows[-1]['latency_ms']:.3f} ms")
    from signbench.meta import thread_count

    return {"best_model": best, "rows": rows, "latency_runs": p.latency_runs, "threads": thread_count(),
            "note": "Latencies come from this machine under whatever else ran on it: compare runtimes within "
                    "one run, and rerun the deploy stage on a quiet machine for numbers to publish"}


# -- 10. claims ------------------------------------------------------------------------------------
def stage_claims(ctx: StageContext) -> dict:
    """The course's claims as verdicts (signbench.claims) at the ci size, on the real data only."""
    from signbench.claims.measure import Data
    from signbench.claims.run import run_claims, write
    from signbench.data.load import load

    spec = ctx.config.data
    if not (spec.kind == "csv-pair" and spec.verify):
        return {"skipped": "the claims are declared on the real Sign Language MNIST CSVs (hash-verified); "
                           "this run's data is something else"}
    if ctx.config.quick:
        return {"skipped": "--quick leaves the claims out (each needs several seeds); run without --quick, "
                           "or `signbench claims --size ci`"}
    data = Data(load(spec.train, format="csv", label_map="sign_mnist"),
                load(spec.test, format="csv", label_map="sign_mnist"))
    rows = run_claims("ci", data, ctx.out / "work", progress=ctx.progress)
    write(rows, ctx.out, "ci", command="signbench reproduce (claims stage)")
    return {"rows": rows}


# -- the list ------------------------------------------------------------------------------------
def _train(name: str, estimate: tuple[float, float]) -> Stage:
    return Stage(f"train-{name}", make_train_stage(name), f"train {name} (course callbacks)", estimate,
                 report.section_model)


#: (quick, full) estimates: seconds on a quiet 2-core CPU, measured by the README's runs at 5d4a18d
#: (the ETA rescales them by how fast this run's stages actually go; --full-tune's is a guess).
STAGES: list[Stage] = [
    Stage("data", stage_data, "load and verify the data", (4, 2), report.section_data),
    Stage("clean", stage_clean, "clean (duplicates, bad values, scaling)", (5, 23), report.section_clean),
    Stage("explore", stage_explore, "explore (class balance, leakage)", (1, 1), report.section_explore),
    Stage("split", stage_split, "split (validation from test, seeded)", (0.5, 2), report.section_split),
    *(_train(name, est) for name, est in zip(MODELS, ((11, 45), (6, 45), (26, 593)), strict=True)),
    Stage("tune", stage_tune, "tune (Hyperband)", (42, 227), report.section_tune, estimate_full_tune=1500),
    Stage("save-reload", stage_save_reload, "save and reload (every format)", (3, 2), report.section_save_reload),
    Stage("transfer", stage_transfer, "transfer (pretrained backbone vs scratch)", (15, 90),
          report.section_transfer),
    Stage("deploy", stage_deploy, "convert to TFLite and benchmark inference", (12, 41), report.section_deploy),
    Stage("claims", stage_claims, "the course's claims as verdicts (ci size)", (1, 600), report.section_claims),
]
STAGES.append(Stage("report", report.stage_report(STAGES), "write the report", (3, 2)))
STAGE_NAMES = tuple(s.name for s in STAGES)


def build_stages(until: str | None = None) -> list[Stage]:
    """The stages in order (up to and including ``until``)."""
    if until is not None and until not in STAGE_NAMES:
        raise ValueError(f"unknown stage {until!r}; choose one of {', '.join(STAGE_NAMES)}")
    return list(STAGES[: STAGE_NAMES.index(until) + 1]) if until else list(STAGES)
