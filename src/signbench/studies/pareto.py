"""Accuracy against one-image latency for every 24-letter model x runtime, and its Pareto front.

``signbench pareto --out DIR`` trains every model of :data:`MODELS` on the train CSV (seeded), then, in
one run, measures each model under every runtime of :data:`RUNTIMES` and writes ``pareto.csv``,
``pareto.md`` and ``pareto.png``.

The models (all take float32 images in [0, 1], N x 28 x 28 x 1, and answer the 24 letters):

- ``baseline``, ``regularized``, ``cnn``: the course's models with the course's training protocol
  (:func:`signbench.train.fit.fit`, 20 epochs, batch 128, Adam 1e-3), the last epoch's weights. Unlike
  the course (and ``signbench course``), no checkpoint is picked on a validation split of the test CSV:
  nothing here is selected on the test CSV.
- ``cnn_plus``: the beyond-the-course recipe (:func:`signbench.studies.sota.train`; its validation split
  comes from the train CSV). Its network divides by 255 itself, so it is measured behind a
  ``Rescaling(255)`` layer that makes it take [0, 1] like the others.
- ``speedrun``: the time-to-accuracy ladder's rung that met the accuracy goal
  (:func:`signbench.studies.speedrun.train` with the rung ``speedrun.SPEED_RUNG``).
- ``deployable``: the ladder's rung built for the deployable goal (``speedrun.DEPLOYABLE_RUNG``); its int8
  TFLite model is the project's deployable model (the row ``deployable`` x ``tflite int8``, marked
  ``deployable``). Like every model here both are measured on one view of each image: the recipes'
  test-time augmentation (several shifted views) is not applied, as a deployed model sees one image once.

The transfer models solve another task (the letters N-Y) and are not in this study or its front.

The runtimes, each timed on one test image (batch 1):

- ``keras``: the model called directly, ``model(x, training=False)``, on a float32 tensor made once;
- ``tf.function``: the same call traced once into a ``tf.function`` (input batch dimension dynamic);
- ``tflite float32`` / ``float16`` / ``dynamic`` / ``int8``: :func:`signbench.deploy.convert.convert`
  in that mode (int8 calibrated on :func:`~signbench.deploy.convert.representative_sample` of the TRAIN
  images), run by :class:`signbench.deploy.predictor.Predictor` on the image's uint8 pixels (the
  Predictor scales them, or for int8 flips their top bit, inside the timed call), at every interpreter
  thread count of ``Timing.threads`` (1 up to the available cores): each count is a point of its own,
  named ``tflite MODE (N thread[s])`` with ``interpreter_threads`` N, so a model whose one-image ops are too
  small to split is not measured only at a setting no one would deploy it with (since stop 35, declared
  before the run that uses it; the speedrun's latency protocol made the same change, see
  ``signbench.studies.speedrun.LATENCY_THREADS``). The deployable model's mark goes to its runtime's
  fastest-p50 thread count.

Timing: every model x runtime pair is timed interleaved in one loop (:func:`signbench.deploy.latency.
interleaved_us`): ``Timing.warmup`` untimed rounds, then ``Timing.rounds`` rounds, each calling every
pair once in a fresh seeded order, so the machine's noise hits all pairs alike. p50 and p99 are over
the rounds, in microseconds. Accuracy: the whole test CSV through each runtime (Keras ``predict``; the
``tf.function`` on batches; the Predictor on batches). ``params`` is the network's parameter count;
``size_bytes`` is the TFLite flatbuffer's size for TFLite rows and, for ``keras`` and ``tf.function``
rows, the bytes of the model's weight variables (trainable and not, e.g. batch-norm statistics; no
optimizer state, no file format overhead).

The front (:func:`front`) is over test accuracy (higher is better) and p50 latency (lower is better):
a point is dominated when another point is at least as accurate and at least as fast, and strictly
better in one of the two; the front is every point no other point dominates. Two points equal on
both axes do not dominate each other, so both are on the front or both are off it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from signbench.data.types import LabeledImages
from signbench.deploy.convert import MODES
from signbench.seeds import derive

__all__ = [
    "KERAS_RUNTIMES", "MODELS", "RUNTIMES", "SHOWN", "Entry", "Timing", "TrainBudget", "dominates", "front",
    "measure", "run", "runtime_name", "select", "train_models", "write",
]

#: The runtimes that run the Keras model itself (the rest are TFLite conversions).
KERAS_RUNTIMES = ("keras", "tf.function")


#: Every runtime, in the order the table lists them (each TFLite one at every interpreter thread count).
RUNTIMES = (*KERAS_RUNTIMES, *(f"tflite {m}" for m in MODES))


def runtime_name(runtime: str, threads: int | None) -> str:
    """A row's runtime: ``runtime`` itself for the Keras runtimes (``threads`` None), else with its
    interpreter thread count, e.g. ``tflite int8 (1 thread)``."""
    return runtime if threads is None else f"{runtime} ({threads} thread{'s' if threads != 1 else ''})"


# -- the front ---------------------------------------------------------------------------------------
def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether point ``a`` = (accuracy, latency) dominates ``b``: at least as accurate and at least as
    fast, and strictly better in one of the two."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For each (accuracy, latency) point, whether it is on the Pareto front (no point dominates it).

    Higher accuracy and lower latency are better. Points equal on both axes do not dominate each
    other (both are on the front, or both are off it). Every value must be finite.
    """
    pts = [(float(a), float(t)) for a, t in points]
    for a, t in pts:
        if not (math.isfinite(a) and math.isfinite(t)):
            raise ValueError(f"front: every accuracy and latency must be finite, got ({a}, {t})")
    return [not any(dominates(q, p) for q in pts) for p in pts]


# -- configuration -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """How the interleaved latency loop runs (one image per call)."""

    rounds: int = 500
    warmup: int = 30
    #: Interpreter thread counts every TFLite runtime is timed at (None: 1 up to the available cores).
    threads: tuple[int, ...] | None = None
    #: Images per batch when measuring accuracy on the test CSV (not timed).
    accuracy_batch: int = 256
    #: int8 calibration images, drawn (seeded) from the TRAIN images.
    calibration: int = 256

    def __post_init__(self):
        if self.rounds < 1 or self.warmup < 0 or self.accuracy_batch < 1 or self.calibration < 1:
            raise ValueError(f"invalid timing {self}")
        if self.threads is not None:
            from signbench.deploy.latency import thread_counts

            thread_counts(self.threads)  # refuses no counts or a count below 1


@dataclass(frozen=True)
class TrainBudget:
    """Training as each model's protocol says (the defaults), or cut down for a smoke run: ``epochs``
    replaces every model's epoch count; ``train_limit`` trains on a seeded stratified subset."""

    epochs: int | None = None
    train_limit: int | None = None

    @property
    def is_protocol(self) -> bool:
        return self.epochs is None and self.train_limit is None


@dataclass(frozen=True)
class Entry:
    """One model of the study: its name and how to train it. ``train(train_set, seed, epochs)`` returns
    a Keras model that takes float32 images in [0, 1] (``epochs`` None: the model's own protocol).
    ``deployable``: the runtime of this model that is the project's deployable model, if any."""

    name: str
    train: Callable[[LabeledImages, int, int | None], Any]
    description: str = ""
    deployable: str | None = None


#: The course's training protocol (signbench.train.fit.fit defaults to Adam 1e-3).
COURSE_EPOCHS = 20
COURSE_BATCH = 128


def _course(name: str):
    def train(train_set: LabeledImages, seed: int, epochs: int | None):
        from signbench.train.fit import fit

        return fit(name, train_set, seed=seed, epochs=epochs or COURSE_EPOCHS, batch_size=COURSE_BATCH).model

    return train


def from_255(model):
    """``model`` (which takes 0-255 pixels) behind a ``Rescaling(255)`` layer: it takes [0, 1] images."""
    import keras

    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), name="image01")
    x = keras.layers.Rescaling(255.0, name="to_255")(inputs)
    return keras.Model(inputs, model(x, training=False), name=f"{model.name}_01")


def _cnn_plus(train_set: LabeledImages, seed: int, epochs: int | None):
    from signbench.studies.sota import BASE_RECIPE, train

    recipe = BASE_RECIPE if epochs is None else replace(BASE_RECIPE, epochs=epochs)
    run = train(train_set.images, train_set.labels, train_set.num_classes, seed=seed, recipe=recipe)
    return from_255(run.model)


def _speedrun(which: str):
    """A builder training the speedrun ladder's rung named by ``signbench.studies.speedrun.<which>``
    (looked up when it trains)."""

    def build(train_set: LabeledImages, seed: int, epochs: int | None):
        from signbench.studies import speedrun

        recipe = speedrun.rung(getattr(speedrun, which))
        recipe = recipe if epochs is None else replace(recipe, epochs=epochs)
        return speedrun.train(train_set.images, train_set.labels, train_set.num_classes, seed=seed,
                              recipe=recipe).model

    return build


#: Every 24-letter model of the study, in the order the table lists them.
MODELS: tuple[Entry, ...] = (
    Entry("baseline", _course("baseline"), "the course's dense baseline, course protocol"),
    Entry("regularized", _course("regularized"), "the course's dense model with L2 + dropout, course protocol"),
    Entry("cnn", _course("cnn"), "the course's CNN, course protocol"),
    Entry("cnn_plus", _cnn_plus, "the sota recipe (signbench sota), behind Rescaling(255)"),
    Entry("speedrun", _speedrun("SPEED_RUNG"),
          "the speedrun rung that met the accuracy goal (signbench speedrun), one view (no test-time augmentation)"),
    Entry("deployable", _speedrun("DEPLOYABLE_RUNG"), "the speedrun rung built for the deployable goal, one view",
          deployable="tflite int8"),
)


def select(names: Sequence[str] | None, models: Sequence[Entry] | None = None) -> tuple[Entry, ...]:
    """The entries of ``models`` (default :data:`MODELS`) named in ``names`` (all when None), in registry
    order; an unknown name is an error."""
    models = MODELS if models is None else models
    if names is None:
        return tuple(models)
    known = {e.name for e in models}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    return tuple(e for e in models if e.name in set(names))


# -- training and measuring --------------------------------------------------------------------------
@dataclass
class Trained:
    """One trained model and how long training took."""

    entry: Entry
    model: Any
    train_seconds: float


def train_models(train_set: LabeledImages, entries: Sequence[Entry], *, seed: int,
                 budget: TrainBudget = TrainBudget(), log: Callable[[str], None] | None = None) -> list[Trained]:
    """Train every entry on ``train_set`` (cut down as ``budget`` says), each from ``derive(seed, name)``."""
    if budget.train_limit is not None:
        from signbench.data.split import stratified_subset

        train_set = train_set.subset(stratified_subset(train_set.labels, budget.train_limit,
                                                       seed=derive(seed, "pareto-subset")))
    out = []
    for e in entries:
        start = time.perf_counter()
        model = e.train(train_set, derive(seed, f"pareto-{e.name}"), budget.epochs)
        out.append(Trained(e, model, time.perf_counter() - start))
        if log:
            log(f"trained {e.name} in {out[-1].train_seconds:.0f} s")
    return out


def _weight_bytes(model) -> int:
    return int(sum(math.prod(w.shape) * np.dtype(w.dtype).itemsize for w in model.weights))


@dataclass
class _Pair:
    model: str
    runtime: str
    call: Callable[[], object]
    accuracy: float
    params: int
    size_bytes: int
    size_kind: str
    deployable: bool
    threads: int | None = None


def _pairs(trained: Trained, test: LabeledImages, calibration: np.ndarray, timing: Timing) -> list[_Pair]:
    """Every runtime of one model: its one-image call, and its accuracy on the whole test set."""
    import tensorflow as tf

    from signbench.deploy.convert import convert
    from signbench.deploy.latency import thread_counts
    from signbench.deploy.predictor import Predictor

    model, name = trained.model, trained.entry.name
    params = int(model.count_params())
    x8 = test.images
    xf = test.as_float()
    y = test.labels
    one8 = x8[:1]
    one = tf.convert_to_tensor(xf[:1])
    step = timing.accuracy_batch

    def acc(pred: np.ndarray) -> float:
        return float(np.mean(pred == y))

    weights = _weight_bytes(model)
    common = dict(params=params, size_bytes=weights, size_kind="float32 weights")
    deployable = trained.entry.deployable
    pairs = []
    keras_pred = np.argmax(model.predict(xf, batch_size=step, verbose=0), axis=-1)
    pairs.append(_Pair(name, "keras", lambda: model(one, training=False), acc(keras_pred),
                       deployable=deployable == "keras", **common))
    spec = tf.TensorSpec((None, *xf.shape[1:]), tf.float32)
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    fn_pred = np.concatenate([np.argmax(fn(tf.convert_to_tensor(xf[i:i + step])).numpy(), axis=-1)
                              for i in range(0, len(xf), step)])
    pairs.append(_Pair(name, "tf.function", lambda: fn(one), acc(fn_pred), deployable=deployable == "tf.function",
                       **common))
    for mode in MODES:
        flat = convert(model, mode, representative=calibration if mode == "int8" else None)
        accuracy = Predictor(flat).accuracy(x8, y, batch_size=step)
        runtime = f"tflite {mode}"
        for threads in thread_counts(timing.threads):
            p = Predictor(flat, num_threads=threads)  # a fresh one for timing, at batch 1
            pairs.append(_Pair(name, runtime, lambda p=p: p.predict(one8), accuracy, params=params,
                               size_bytes=len(flat), size_kind="tflite flatbuffer", deployable=deployable == runtime,
                               threads=threads))
    return pairs


#: Columns of the CSV, first (the run metadata follows).
COLUMNS = ["model", "runtime", "interpreter_threads", "deployable", "on_front", "params", "size_bytes", "size_kind",
           "test_accuracy",
           "p50_us", "p99_us", "rounds", "warmup", "epochs", "train_limit", "train_seconds", "data"]
#: Columns of the Markdown table.
SHOWN = ["model", "runtime", "on_front", "deployable", "params", "size_bytes", "test_accuracy", "p50_us", "p99_us"]
#: Run metadata said once on top of the Markdown page.
META_SHOWN = ("date", "git_commit", "device", "cpu_flags", "threads", "onednn", "backend", "tensorflow", "keras",
              "litert", "seed")


def measure(trained: Sequence[Trained], train_set: LabeledImages, test: LabeledImages, *, seed: int,
            timing: Timing = Timing(), budget: TrainBudget = TrainBudget(), data: str = "real",
            log: Callable[[str], None] | None = None) -> list[dict]:
    """One row per model x runtime: accuracy on ``test``, one-image p50/p99 from one interleaved loop,
    params, size, whether it is on the front, and the run metadata. ``train_set`` gives the int8
    calibration images (never the test set)."""
    from signbench.deploy.convert import representative_sample
    from signbench.deploy.latency import interleaved_us
    from signbench.meta import run_metadata

    calibration = representative_sample(train_set.images, timing.calibration, seed=derive(seed, "calibration"))
    pairs: list[_Pair] = []
    seconds = {}
    for t in trained:
        pairs += _pairs(t, test, calibration, timing)
        seconds[t.entry.name] = t.train_seconds
        if log:
            log(f"converted {t.entry.name}: {len(RUNTIMES)} runtimes, accuracy measured")
    keys = [f"{p.model} | {runtime_name(p.runtime, p.threads)}" for p in pairs]
    times = interleaved_us(dict(zip(keys, (p.call for p in pairs), strict=True)), rounds=timing.rounds,
                           warmup=timing.warmup, seed=derive(seed, "timing"))
    meta = run_metadata(seed, test_images=len(test), calibration_images=len(calibration))
    p50 = {key: float(np.percentile(times[key], 50)) for key in keys}
    marked = [key for key, p in zip(keys, pairs, strict=True) if p.deployable]
    deployable = {min(marked, key=p50.__getitem__)} if marked else set()  # its fastest thread count
    rows = []
    for key, p in zip(keys, pairs, strict=True):
        rows.append({
            "model": p.model, "runtime": runtime_name(p.runtime, p.threads),
            "interpreter_threads": "" if p.threads is None else p.threads,
            "deployable": "yes" if key in deployable else "",
            "params": p.params, "size_bytes": p.size_bytes, "size_kind": p.size_kind,
            "test_accuracy": p.accuracy, "p50_us": p50[key],
            "p99_us": float(np.percentile(times[key], 99)), "rounds": timing.rounds, "warmup": timing.warmup,
            "epochs": budget.epochs if budget.epochs is not None else "protocol",
            "train_limit": budget.train_limit if budget.train_limit is not None else "",
            "train_seconds": round(seconds[p.model], 1), "data": data, **meta,
        })
    on = front([(r["test_accuracy"], r["p50_us"]) for r in rows])
    for r, flag in zip(rows, on, strict=True):
        r["on_front"] = "yes" if flag else ""
    return [{**{c: r[c] for c in COLUMNS}, **r} for r in rows]


def _fmt_cell(col: str, v) -> str:
    if col == "test_accuracy":
        return f"{v:.4f}"
    if col in ("p50_us", "p99_us"):
        return f"{v:.1f}"
    return str(v)


def write(rows: Sequence[dict], out_dir: str | Path, *, command: str = "", stem: str = "pareto") -> list[Path]:
    """``stem.csv`` (every column), ``stem.md`` (the table, the front named) and ``stem.png`` (the chart)."""
    from signbench import plots
    from signbench.results import write_table

    if not rows:
        raise ValueError("pareto: no rows to write")
    first = rows[0]
    on = [r for r in rows if r["on_front"]]
    on.sort(key=lambda r: r["p50_us"])
    names = ", ".join(f"{r['model']} ({r['runtime']})" for r in on)
    deployable = ", ".join(f"{r['model']} ({r['runtime']})" for r in rows if r["deployable"]) or "none measured"
    notes = [
        "Every 24-letter model under every runtime, measured in one run: test accuracy on the whole test CSV, "
        "one-image latency (batch 1) with every model x runtime pair timed interleaved, round-robin in a "
        f"seeded order each round ({first['warmup']} warm-up rounds, {first['rounds']} timed rounds), p50 "
        "and p99 over the rounds. Each TFLite runtime is timed at every interpreter thread count (the `(N "
        "thread[s])` in its name), each count a point of its own. The transfer models solve another task (the "
        "letters N-Y) and are not here.",
        "",
        f"The Pareto front is over test accuracy (higher is better) and **p50** latency (lower is better); "
        f"`on_front` marks it, fastest first: {names}. The chart is `pareto.png` beside this page.",
        "",
        "`size_bytes`: the TFLite flatbuffer for the `tflite` rows; the bytes of the model's weight variables "
        "(float32, no optimizer state) for `keras` and `tf.function`. `params`: the network's parameters. "
        f"`deployable` marks the project's deployable model, at its fastest thread count: {deployable}.",
    ]
    if first["epochs"] != "protocol" or first["train_limit"] != "":
        epochs = "each model's protocol" if first["epochs"] == "protocol" else first["epochs"]
        notes += ["", f"**Smoke run, not the protocol**: epochs {epochs}; training images "
                      f"{first['train_limit'] or 'all'}."]
    if first.get("data") == "synthetic":
        notes += ["", "**Synthetic data**: accuracies mean nothing here."]
    notes += ["", *(f"- {k}: {first.get(k, '')}" for k in META_SHOWN)]
    md_rows = [[_fmt_cell(c, r[c]) for c in SHOWN] for r in rows]
    paths = write_table(out_dir, stem, rows, shown=SHOWN, md_rows=md_rows, notes=notes, command=command,
                        title="Accuracy against one-image latency: every model x runtime, and the Pareto front")
    title = f"test accuracy vs one-image p50 latency ({first['device']}, {first['threads']} threads)"
    paths.append(plots.pareto_chart(rows, Path(out_dir) / f"{stem}.png", title=title))
    return paths


def run(train_set: LabeledImages, test: LabeledImages, out_dir: str | Path, *, seed: int = 0,
        models: Sequence[str] | None = None, timing: Timing = Timing(), budget: TrainBudget = TrainBudget(),
        data: str = "real", registry: Sequence[Entry] | None = None, command: str = "",
        log: Callable[[str], None] | None = None) -> list[dict]:
    """Train the chosen models of ``registry`` (default :data:`MODELS`), measure every model x runtime,
    write the three files; return the rows."""
    entries = select(models, registry)
    trained = train_models(train_set, entries, seed=seed, budget=budget, log=log)
    rows = measure(trained, train_set, test, seed=seed, timing=timing, budget=budget, data=data, log=log)
    write(rows, out_dir, command=command)
    return rows
