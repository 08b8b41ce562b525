"""Time to accuracy: a fixed recipe against the course CNN, timed in the same run (``signbench speedrun``).

The recipe (:class:`Recipe`) is declared here, in code, before its measured run: the model
(:func:`signbench.models.speednet.speednet`), the schedule (Adam, linear warm-up then cosine decay),
augmentation (inside the model: small rotations, shifts, zoom; no flips), batch, epochs, and test-time
augmentation (the mean softmax over the image and its four one-pixel shifts, edges replicated; no flips).

Protocol, per seed: the train CSV is in memory as uint8; ``train_seconds`` runs from there to a trained
model (scaling to float, building, compiling and every epoch included); then the test CSV is read, once,
and the model is evaluated on it. Nothing is ever selected on the test CSV: the recipe has no validation
split and no early stopping, so there is nothing to select. In the same run the reference is measured
the same way, once: the course CNN, plain ``fit``, 20 epochs, batch 128 (TensorFlow's op determinism off
for both, so neither pays for it). ``ratio`` is ``train_seconds / reference_seconds``.

The deployable model is the recipe's model converted to full-integer int8 TFLite (calibrated on 256
training images): its int8 test accuracy is measured for every seed (one view, no test-time augmentation:
a deployed model sees one image once), and seed 0's one-image latency is timed through
:class:`signbench.deploy.predictor.Predictor` interleaved with the course CNN's int8 model, round by round,
so machine noise hits both alike.

The ladder (declared before measuring; every rung's result is kept): run rung ``A`` with 5 seeds; if it
misses the accuracy goal (:data:`GOAL`), run rung ``B`` (the same recipe trained longer) and report both.
Both missed it (``results/speedrun*.md``), and their recipe had been chosen without any measured accuracy.

The protocol's change after that (stop 33; A's and B's results stay): a next recipe is chosen on a
validation split of the TRAIN CSV alone, :func:`validate` (``signbench speedrun --validate``). A random
split of the train CSV cannot tell recipes apart (each validation image has a near copy in the rest:
median best correlation 0.9999, results/leakage.json), so the split holds out whole groups of near
duplicates (:func:`signbench.data.explore.near_duplicate_groups` at correlation >= :data:`GROUP_MIN_CORR`,
:func:`signbench.data.split.group_holdout` of :data:`VALIDATION_FRACTION` of the groups): photos the
model has seen no view of, as in the test CSV. Round 1's candidates (``ROUNDS[1]``, rungs A and B among them, as
the yardstick) were declared in code before that run, and so was the rule (:func:`choose`): among the
candidates whose mean ratio to the reference (trained on the same validation-train part, same run) is
within the issue's resolved bar (:attr:`Goal.resolved_ratio`), the one with the highest mean validation
accuracy (with test-time augmentation); ties at four decimals go to the lower ratio. If the rule picks A or
B, nothing new is run on the test CSV; otherwise the pick becomes rung ``C`` and runs once, 5 seeds.

Round 1 chose none (every candidate over 0.25x on the machine it ran on). Round 2 (:data:`ROUNDS`, declared
at stop 34 before its run) adds the augmentation as one fused affine transform and, for the deployable
goal, a second rule (:func:`choose_deployable`): every candidate's first-seed int8 model is timed against the
reference's int8 model in the same interleaved rounds; among those with p50 and p99 both within the
goal's fraction, the highest worst-seed int8 validation accuracy. The same protocol follows from it: the
speed pick becomes rung ``C`` and the deployable pick rung ``D`` (one rung if they are the same recipe),
each run once, 5 seeds, on the test CSV; a pick that is A or B runs nothing new. Round 3 (declared after
rungs C and D ran) is for the deployable rule alone (its pick becomes rung ``E``); since then latency is
timed in :data:`LATENCY_BLOCKS` blocks and each percentile is the median of the blocks' (see there why).
Rung E met the deployable goal's int8 accuracy and p50 but missed p99 (0.595x, both models on two
interpreter threads, ``results/speedrun_rung_e_latency.md``). Since stop 35 (declared before its run, that
table kept): every int8 model is timed at each interpreter thread count and read at its fastest
(:data:`LATENCY_THREADS`, see there why), and rung E runs once more on the test CSV, 5 seeds, into
``speedrun_rung_e_threads.*`` on whatever machine runs it; whatever it gives is its result, and nothing else
is tried this round.

Round 4 (declared at stop 36, before its run, after the pareto rerun at d763bee put rung E's int8 model off
the Pareto front, dominated by its own dynamic-range conversion: p50 63.4 against 55.5 us, both 1.0000) is
for the deployable rule alone, with one more condition (:data:`TWIN_RULE_ROUNDS`): a candidate's first-seed
int8 model must also be faster (lower p50 at its best thread count) than the same model's dynamic-range
conversion, timed in the same interleaved rounds, since a model slower than its own twin at no better
accuracy is off the front. Why the candidates: a latency-only probe of UNTRAINED models on stop 36's AMD EPYC
(Zen 4, AVX-512 VNNI; raw ``invoke``, 1 thread, no accuracy measured, not committed) found where int8 loses:
the first convolution (1 input channel, 28x28 outputs) costs 6.6-6.8 us in int8 against 4.0-4.1 us in the
dynamic-range model, whose 108-weight first kernel the converter leaves in float32; every later layer is
cheaper in int8 (rung E's network: 16.8 us int8 against 16.0 dynamic in all). A stride-2 first convolution
(no pool after it) makes a quarter of those outputs: the 12-24-48 network with it, through ``Predictor``, p50
16.2 us int8 against 16.6 dynamic back to back, 26.8 against 29.6 us with a 32 MB memory sweep between calls.
So the candidates are rung E's recipe (T20, the yardstick) and the stride-2-stem network at rung E's widths
and at 16-32-64, 20 epochs each; the pick becomes rung ``F`` and runs once, 5 seeds, on the test CSV
(a pick of T20 runs nothing new), then the pareto is rerun with it as the deployable model.

Keras 3 APIs only on the recipe's path (no tf.data, no TensorFlow-only option), so it runs on the JAX
backend; the int8 part needs TensorFlow's converter and LiteRT and is skipped (``int8=False``) elsewhere.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from signbench.seeds import derive

__all__ = [
    "DEPLOYABLE_RUNG", "GOAL", "GROUP_MIN_CORR", "LATENCY_BLOCKS", "LATENCY_THREADS", "RECIPE", "REFERENCE_EPOCHS", "REFERENCE_INT8",
    "ROUNDS", "RUNGS", "Recipe", "SPEED_RUNG", "Speedrun", "SpeedrunConfig", "TWIN_RULE_ROUNDS", "TWIN_SUFFIX",
    "VALIDATION_FRACTION", "beats_twin", "choose",
    "choose_deployable", "goal_met", "latency_fractions", "predict_tta", "reference", "rung", "run", "shifted_views",
    "summarize", "train", "validate", "validation_parts", "write", "write_validation",
]

#: The course CNN as the reference: plain fit, 20 epochs, batch 128.
REFERENCE_EPOCHS = 20
REFERENCE_BATCH = 128
#: One-pixel shifts (dy, dx) for test-time augmentation, the unshifted image first.
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass(frozen=True)
class Recipe:
    """Everything the recipe chooses."""

    name: str = "A"
    filters: tuple[int, ...] = (16, 32, 64)
    dropout: float = 0.2
    epochs: int = 6
    batch_size: int = 128
    learning_rate: float = 3e-3
    warmup_epochs: int = 1
    min_lr_fraction: float = 0.01
    augment: bool = True
    #: One :class:`signbench.models.plus.RandomAffine` (one resampling) instead of Keras's three layers.
    fused_augment: bool = False
    #: 2: the first block downsamples by its convolution's stride, no pool (``speednet(stem_stride=...)``).
    stem_stride: int = 1
    tta_shifts: tuple[tuple[int, int], ...] = SHIFTS

    def describe(self) -> str:
        tta = f"TTA over {len(self.tta_shifts)} views" if len(self.tta_shifts) > 1 else "no TTA"
        stem = " (stride-2 stem)" if self.stem_stride == 2 else ""
        return (f"rung {self.name}: speednet {'-'.join(map(str, self.filters))}{stem}, dropout {self.dropout}, "
                f"{self._augmentation()}{self.epochs} epochs, batch {self.batch_size}, Adam "
                f"{self.learning_rate:g} (warm-up {self.warmup_epochs} epoch, cosine to "
                f"{self.min_lr_fraction:g}x), {tta}")

    def _augmentation(self) -> str:
        return ("augmented (one fused affine), " if self.fused_augment else "augmented, ") if self.augment else ""


#: The ladder's first two rungs (:data:`RUNGS` is the whole ladder, after the validation rounds).
_A, _B = Recipe("A", epochs=6), Recipe("B", epochs=10)
#: Round 2's candidate that round 3 repeats as its yardstick.
_DF = Recipe("Df", epochs=16, fused_augment=True)


#: The recipes :func:`validate` compares, per validation round, each round declared in code before its run.
#: Round 1 (stop 33; A and B as the yardstick): two lengths between and beyond A's and B's, and a model twice
#: as wide at two lengths. Round 2 (stop 34, declared after round 1 chose none: every candidate over 0.25x
#: on the machine it ran on): the augmentation as one fused affine transform (Keras's three layers resample
#: each image three times; this machine's epoch-time probe, no accuracy measured, put them at about a
#: quarter of rung A's epoch), at A's and B's lengths, a model 1.5x and 2x as wide at fewer epochs, and A's
#: narrow model trained longer for the deployable goal (its int8 latency, not its training time, is what
#: that goal limits); A unfused as the yardstick on this round's machine. Round 3 (stop 34, declared after
#: rungs C and D: C met the accuracy goal at the resolved bar, D and C missed the deployable goal) is for the
#: deployable rule only, its speed pick is not run: narrower models (8-16-32, 12-24-48; a latency-only probe
#: of untrained int8 models put their p50 lower than 16-32-64's) trained longer, and round 2's Df (16-32-64,
#: 16 epochs) as the yardstick; with latency timed in :data:`LATENCY_BLOCKS` blocks. Round 4 (stop 36, declared
#: after the pareto put rung E's int8 model behind its own dynamic-range twin; see the module doc): the
#: stride-2-stem network at rung E's widths and at 16-32-64, rung E's recipe (T20) as the yardstick, under the
#: deployable rule with the twin condition (:data:`TWIN_RULE_ROUNDS`).
ROUNDS: dict[int, tuple[Recipe, ...]] = {
    1: (
        _A,
        _B,
        Recipe("A8", epochs=8),
        Recipe("W6", filters=(32, 64, 128), epochs=6),
        Recipe("W8", filters=(32, 64, 128), epochs=8),
    ),
    2: (
        _A,
        Recipe("Af", epochs=6, fused_augment=True),
        Recipe("Bf", epochs=10, fused_augment=True),
        _DF,
        Recipe("Mf6", filters=(24, 48, 96), epochs=6, fused_augment=True),
        Recipe("Wf4", filters=(32, 64, 128), epochs=4, fused_augment=True),
        Recipe("Wf6", filters=(32, 64, 128), epochs=6, fused_augment=True),
    ),
    3: (
        _DF,
        Recipe("N12", filters=(8, 16, 32), epochs=12, fused_augment=True),
        Recipe("N20", filters=(8, 16, 32), epochs=20, fused_augment=True),
        Recipe("T12", filters=(12, 24, 48), epochs=12, fused_augment=True),
        Recipe("T20", filters=(12, 24, 48), epochs=20, fused_augment=True),
    ),
    4: (
        Recipe("T20", filters=(12, 24, 48), epochs=20, fused_augment=True),
        Recipe("S20", filters=(12, 24, 48), epochs=20, fused_augment=True, stem_stride=2),
        Recipe("SW20", filters=(16, 32, 64), epochs=20, fused_augment=True, stem_stride=2),
    ),
}
#: The rounds whose deployable rule also asks a candidate's int8 model to be faster than its own
#: dynamic-range conversion (:func:`choose_deployable` with ``twins``; see the module doc).
TWIN_RULE_ROUNDS = frozenset({4})
#: How latency rows name a candidate's dynamic-range twin.
TWIN_SUFFIX = " dynamic-range twin"


def _pick(round_: int, candidate: str, name: str) -> Recipe:
    """Round ``round_``'s candidate ``candidate`` as the rung ``name`` (renamed, nothing else changed)."""
    return dataclasses.replace(next(r for r in ROUNDS[round_] if r.name == candidate), name=name)


#: The ladder, in the order it is climbed. A and B were declared before any measured run; C and D are the
#: picks of validation round 2's two rules (results/speedrun_validation_2.md: Wf4 by the speed rule, Af by
#: the deployable rule), E is round 3's deployable pick (T20, results/speedrun_validation_3.md), F round 4's
#: (S20: rung E's network with the stride-2 stem, results/speedrun_validation_4.md).
RUNGS: tuple[Recipe, ...] = (_A, _B, _pick(2, "Wf4", "C"), _pick(2, "Af", "D"), _pick(3, "T20", "E"),
                             _pick(4, "S20", "F"))
RECIPE = RUNGS[0]
#: The rung that met the accuracy goal within the resolved time bar (results/speedrun_rung_c.md) and the
#: rung built for the deployable goal: what ``signbench pareto`` measures as "the speedrun model" and "the
#: deployable model". The deployable rung was E (results/speedrun_rung_e_threads.md) until round 4's pick,
#: F, as declared at a99045a before that round ran (the module doc).
SPEED_RUNG = "C"
DEPLOYABLE_RUNG = "F"


def rung(name: str) -> Recipe:
    """The ladder's rung called ``name``."""
    found = [r for r in RUNGS if r.name == name]
    if not found:
        raise ValueError(f"no rung {name!r}; the rungs are {', '.join(r.name for r in RUNGS)}")
    return found[0]


#: Latency is timed in this many interleaved blocks (of ``latency_rounds`` rounds each) and each percentile is
#: the median of the blocks' (since stop 34, declared before the runs that use it). Why: in validation round 2
#: (one block of 2000 rounds) four candidates with the same int8 graph came out at p99 0.23x-0.87x the
#: reference's, and rung C's model at 3.24x: on a noisy machine a burst inside the one block decides p99.
#: The median over blocks keeps a burst in one block from deciding it; the pooled percentiles stay in the rows.
LATENCY_BLOCKS = 5
#: The interpreter thread counts every int8 model is timed at (None: 1 up to the cores this process may use),
#: all in the same interleaved rounds; a model's latency is its row at the thread count with the lowest p50
#: (``best``: its deployment setting, chosen on latency alone), every count's row kept (since stop 35, declared
#: before the run that uses it). Why: ``Predictor``'s default, every core, is the course CNN's best setting (its
#: memory-bound Dense layer) but not a small model's, whose one-image ops are too small to split: a latency-only
#: probe of untrained int8 models on stop 35's AMD EPYC (2 cores) put rung E's 12-24-48 model at p50 about 26 us
#: on one thread against about 40 us on two, while the course CNN's was about 118 us on one and 87 us on two. A
#: deployment picks each model's thread count; timing both at the reference's best setting measured the
#: small model at a setting no one would deploy it with.
LATENCY_THREADS: tuple[int, ...] | None = None
#: The reference's int8 model, as latency rows name it.
REFERENCE_INT8 = "cnn int8 (course, reference)"
#: The validation split: this fraction of the train CSV's near-duplicate groups held out whole.
VALIDATION_FRACTION = 0.2
#: Two train images are near duplicates (one group) at this Pearson correlation or more.
GROUP_MIN_CORR = 0.99


@dataclass(frozen=True)
class Goal:
    """Issue 19's goal over 5 seeds: mean and worst test accuracy, the time ratio (and the ratio at which
    the issue counts as resolved)."""

    seeds: int = 5
    mean_accuracy: float = 0.996
    min_accuracy: float = 0.995
    ratio: float = 0.10
    resolved_ratio: float = 0.25
    int8_min_accuracy: float = 0.995
    latency_fraction: float = 0.5


GOAL = Goal()


def train(images: np.ndarray, labels: np.ndarray, num_classes: int, *, seed: int, recipe: Recipe = RECIPE,
          verbose: int = 0):
    """Train the recipe's model on (uint8 images, labels); returns :class:`signbench.train.fit.RunResult`.

    The test set is not an argument on purpose.
    """
    from signbench.models.speednet import speednet
    from signbench.train.fit import fit
    from signbench.train.options import FitOptions, Schedule

    def build():
        return speednet(num_classes, tuple(images.shape[1:]), filters=recipe.filters, dropout=recipe.dropout,
                        augment=recipe.augment, fused_augment=recipe.fused_augment, stem_stride=recipe.stem_stride,
                        seed=derive(seed, "augment"))

    options = FitOptions(schedule=Schedule(recipe.learning_rate, recipe.warmup_epochs, recipe.min_lr_fraction),
                         deterministic=False)
    return fit(build, (images, labels), seed=derive(seed, "init"), epochs=recipe.epochs,
               batch_size=recipe.batch_size, options=options, verbose=verbose)


def reference(images: np.ndarray, labels: np.ndarray, num_classes: int, *, seed: int, epochs: int = REFERENCE_EPOCHS,
              verbose: int = 0):
    """The course CNN, plain ``fit`` (op determinism off), ``epochs`` epochs, batch 128."""
    from signbench.train.fit import fit
    from signbench.train.options import FitOptions

    return fit("cnn", (images, labels), seed=derive(seed, "reference"), epochs=epochs, batch_size=REFERENCE_BATCH,
               options=FitOptions(deterministic=False), verbose=verbose)


def shifted_views(x: np.ndarray, shifts=SHIFTS) -> list[np.ndarray]:
    """``x`` (N x H x W x C) shifted by each (dy, dx) in ``shifts``, edges replicated (never flipped)."""
    x = np.asarray(x)
    m = max([1, *(max(abs(dy), abs(dx)) for dy, dx in shifts)])
    padded = np.pad(x, ((0, 0), (m, m), (m, m), (0, 0)), mode="edge")
    h, w = x.shape[1:3]
    return [padded[:, m - dy: m - dy + h, m - dx: m - dx + w] for dy, dx in shifts]


def predict_tta(model, x: np.ndarray, shifts=SHIFTS, *, batch_size: int = 512) -> np.ndarray:
    """Per-view softmax probabilities, V x N x C (view 0 is ``shifts[0]``); average over axis 0 for TTA."""
    return np.stack([np.asarray(model.predict(v, batch_size=batch_size, verbose=0)) for v in shifted_views(x, shifts)])


@dataclass(frozen=True)
class SpeedrunConfig:
    """One ``signbench speedrun`` run."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    recipe: Recipe = RECIPE
    with_reference: bool = True
    reference_epochs: int = REFERENCE_EPOCHS
    int8: bool = True
    latency_rounds: int = 2000
    verbose: int = 0
    #: What ``load("test")`` holds, as the progress lines name it ("validation" in :func:`validate`).
    scored_on: str = "test"
    #: Also convert the first seed's model to dynamic-range TFLite (``Speedrun.dynamic_model``).
    dynamic_twin: bool = False


@dataclass
class Speedrun:
    """What a run produced: one row per seed, the reference row and the latency rows."""

    rows: list[dict] = field(default_factory=list)
    reference: dict | None = None
    latency: list[dict] = field(default_factory=list)
    #: The int8 TFLite flatbuffers of the first seed's model and of the reference (when converted).
    int8_model: bytes | None = None
    reference_int8: bytes | None = None
    #: The first seed's model as dynamic-range TFLite (with ``SpeedrunConfig.dynamic_twin``).
    dynamic_model: bytes | None = None

    def summary(self) -> dict:
        return summarize(self.rows, self.latency)


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probs, axis=-1) == labels))


def _int8(model, train_images: np.ndarray, seed: int) -> bytes:
    from signbench.deploy.convert import convert, representative_sample

    return convert(model, "int8", representative=representative_sample(train_images, seed=derive(seed, "calibration")))


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(load: Callable[[str], object], config: SpeedrunConfig = SpeedrunConfig(),
        progress: Callable[[str], None] = lambda _msg: None, *, reference_row: dict | None = None) -> Speedrun:
    """The whole protocol. ``load("train")`` / ``load("test")`` return ``LabeledImages``; the test split
    is loaded once per seed, after that seed's model is trained (and once for the reference, after it).
    ``reference_row``: an earlier run's reference (same data, same machine) instead of training one."""
    from signbench.deploy.predictor import Predictor
    from signbench.meta import run_metadata

    recipe = config.recipe
    train_set = load("train")
    x, y, k = train_set.images, train_set.labels, train_set.num_classes
    out = Speedrun()
    ref_model = None
    if reference_row is not None:
        out.reference = reference_row
    elif config.with_reference:
        progress(f"reference: course CNN, plain fit, {config.reference_epochs} epochs, batch {REFERENCE_BATCH}")
        ref, seconds = _timed(lambda: reference(x, y, k, seed=0, epochs=config.reference_epochs,
                                                verbose=config.verbose))
        ref_model = ref.model
        test = load("test")
        probs = np.asarray(ref_model.predict(test.as_float(), batch_size=512, verbose=0))
        out.reference = run_metadata(0, model="cnn (course, reference)", epochs=config.reference_epochs,
                                     batch_size=REFERENCE_BATCH, train_seconds=round(seconds, 2),
                                     test_accuracy=_accuracy(probs, test.labels), params=int(ref_model.count_params()))
        progress(f"reference: {seconds:.1f} s, {config.scored_on} accuracy {out.reference['test_accuracy']:.4f}")
    reference_seconds = out.reference["train_seconds"] if out.reference else math.nan
    for seed in config.seeds:
        progress(f"seed {seed}: {recipe.describe()}")
        result, seconds = _timed(lambda s=seed: train(x, y, k, seed=s, recipe=recipe, verbose=config.verbose))
        test = load("test")  # first and only use of the test split for this seed
        views = predict_tta(result.model, test.as_float(), recipe.tta_shifts)
        row = run_metadata(seed, model="speednet", recipe=recipe.name, epochs=recipe.epochs,
                           batch_size=recipe.batch_size, params=int(result.model.count_params()),
                           test_accuracy=_accuracy(views.mean(axis=0), test.labels),
                           test_accuracy_one_view=_accuracy(views[0], test.labels),
                           train_seconds=round(seconds, 2), reference_seconds=reference_seconds,
                           ratio=seconds / reference_seconds if reference_seconds == reference_seconds else math.nan)
        if config.int8:
            flat = _int8(result.model, x, seed)
            row["int8_test_accuracy"] = Predictor(flat).accuracy(test.images, test.labels)
            row["int8_bytes"] = len(flat)
            if out.int8_model is None:
                out.int8_model = flat
                if config.dynamic_twin:
                    from signbench.deploy.convert import convert

                    out.dynamic_model = convert(result.model, "dynamic")
        out.rows.append(row)
        progress(f"seed {seed}: {seconds:.1f} s, {config.scored_on} accuracy {row['test_accuracy']:.4f}"
                 + (f", int8 {row['int8_test_accuracy']:.4f}" if config.int8 else ""))
    if config.int8 and ref_model is not None and out.int8_model is not None:
        out.reference_int8 = _int8(ref_model, x, 0)  # scored on the last seed's read of the test split
        out.reference["int8_test_accuracy"] = Predictor(out.reference_int8).accuracy(test.images, test.labels)
        out.reference["int8_bytes"] = len(out.reference_int8)
        if config.latency_rounds > 0:
            progress(f"latency: {config.latency_rounds} interleaved rounds of one-image Predictor.predict")
            out.latency = _latency({f"speednet int8 (seed {config.seeds[0]})": out.int8_model,
                                    REFERENCE_INT8: out.reference_int8},
                                   test.images[0], config.latency_rounds, config.seeds[0])
    return out


def _latency(models: dict[str, bytes], image: np.ndarray, rounds: int, seed: int,
             blocks: int = LATENCY_BLOCKS, threads: tuple[int, ...] | None = LATENCY_THREADS) -> list[dict]:
    """One row per int8 model and interpreter thread count (``threads``; None: 1 up to the available cores):
    one-image ``Predictor.predict`` in microseconds, every (model, threads) timed in the same interleaved
    rounds so machine noise hits them alike, in ``blocks`` blocks of ``rounds`` rounds each. ``p50_us`` /
    ``p99_us``: the median over the blocks of each block's percentile; ``p50_us_pooled`` / ``p99_us_pooled``:
    over all the rounds together; ``best``: the model's row with the lowest ``p50_us`` (what the goal and the
    deployable rule read, see :data:`LATENCY_THREADS`)."""
    from signbench.deploy.latency import interleaved_us, thread_counts
    from signbench.deploy.predictor import Predictor
    from signbench.meta import run_metadata

    keys = [(name, t) for name in models for t in thread_counts(threads)]
    predictors = {key: Predictor(models[key[0]], num_threads=key[1]) for key in keys}
    fns = {f"{n} ({t})": (lambda p=predictors[(n, t)]: p.predict(image)) for n, t in keys}
    runs = [interleaved_us(fns, rounds=rounds, warmup=max(10, rounds // 20), seed=derive(seed, f"latency-{b}"))
            for b in range(blocks)]
    rows = []
    for name, t in keys:
        per_block = [runs[b][f"{name} ({t})"] for b in range(blocks)]
        pooled = np.concatenate(per_block)
        rows.append(run_metadata(
            seed, model=name, runtime=f"LiteRT {'dynamic-range' if name.endswith(TWIN_SUFFIX) else 'int8'} via Predictor",
            interpreter_threads=t, rounds=rounds * blocks,
            blocks=blocks, p50_us=float(np.median([np.percentile(x, 50) for x in per_block])),
            p99_us=float(np.median([np.percentile(x, 99) for x in per_block])),
            p50_us_pooled=float(np.percentile(pooled, 50)), p99_us_pooled=float(np.percentile(pooled, 99))))
    for name in models:
        mine = [r for r in rows if r["model"] == name]
        fastest = min(mine, key=lambda r: r["p50_us"])
        for r in mine:
            r["best"] = r is fastest
    return rows


def validation_parts(train_set, *, seed: int = 0) -> dict:
    """{"train": kept rows, "test": held-out rows} of the train CSV: :data:`VALIDATION_FRACTION` of its
    near-duplicate groups held out whole (see the module doc)."""
    from signbench.data.explore import near_duplicate_groups
    from signbench.data.split import group_holdout

    groups = near_duplicate_groups(train_set.images, min_corr=GROUP_MIN_CORR)
    kept, held = group_holdout(groups, VALIDATION_FRACTION, seed=seed)
    return {"train": train_set.subset(kept), "test": train_set.subset(held), "groups": int(groups.max()) + 1,
            "held_groups": len(np.unique(groups[held]))}


def validate(train_set, candidates: tuple[Recipe, ...], config: SpeedrunConfig = SpeedrunConfig(),
             progress: Callable[[str], None] = lambda _msg: None, *, split_seed: int = 0, twins: bool = False) -> dict:
    """Every candidate over ``config.seeds`` on :func:`validation_parts` of ``train_set`` (the train CSV:
    the test CSV is not an argument), with one reference trained on the same part in the same run; with
    int8 and ``config.latency_rounds``, every candidate's first-seed int8 model and the reference's timed in
    the same interleaved rounds. Returns {"runs": {name: Speedrun}, "recipes": {name: Recipe}, "parts":
    sizes, "latency": rows, "chosen": :func:`choose`'s pick, "deployable": :func:`choose_deployable`'s}.
    ``twins``: also time every candidate's first-seed dynamic-range conversion (rows named
    ``<candidate>`` + :data:`TWIN_SUFFIX`) and apply the deployable rule's twin condition."""
    parts = validation_parts(train_set, seed=split_seed)
    runs: dict[str, Speedrun] = {}
    ref = None
    for recipe in candidates:
        progress(f"candidate {recipe.describe()}")
        first = config.with_reference and ref is None  # the reference trains once, with the first candidate
        out = run(parts.__getitem__, dataclasses.replace(config, recipe=recipe, with_reference=first, latency_rounds=0,
                                                           scored_on="validation", dynamic_twin=twins),
                  progress, reference_row=ref)
        ref = out.reference
        runs[recipe.name] = out
    sizes = {"train": len(parts["train"]), "validation": len(parts["test"]), "groups": parts["groups"],
             "held_groups": parts["held_groups"]}
    latency = []
    ref_int8 = next(iter(runs.values())).reference_int8 if runs else None
    models = {name: out.int8_model for name, out in runs.items() if out.int8_model is not None}
    if twins:
        models.update({name + TWIN_SUFFIX: out.dynamic_model for name, out in runs.items()
                       if out.dynamic_model is not None})
    if ref_int8 is not None and models and config.latency_rounds > 0:
        progress(f"latency: {config.latency_rounds} interleaved rounds of one-image Predictor.predict, "
                 f"{len(runs)} candidates{' and their dynamic-range twins' if twins else ''} and the reference")
        latency = _latency({**models, REFERENCE_INT8: ref_int8}, parts["test"].images[0], config.latency_rounds,
                           config.seeds[0])
    return {"runs": runs, "recipes": {r.name: r for r in candidates}, "parts": sizes, "latency": latency,
            "chosen": choose(runs), "deployable": choose_deployable(runs, latency, twins=twins), "twins": twins}


def choose(runs: dict[str, Speedrun], goal: Goal = GOAL) -> str | None:
    """The declared rule: among the runs whose mean ratio is <= ``goal.resolved_ratio``, the highest mean
    accuracy (rounded to 4 decimals), ties to the lower mean ratio; None if no run is within the ratio."""
    scored = [(round(s["mean_accuracy"], 4), -s["mean_ratio"], name)
              for name, s in ((n, goal_met(r.rows, goal)) for n, r in runs.items())
              if s["mean_ratio"] <= goal.resolved_ratio]
    return max(scored)[2] if scored else None


def latency_fractions(latency: list[dict]) -> dict[str, tuple[float, float]]:
    """{model: (p50, p99) as fractions of the reference int8 model's}, each model at its ``best`` row (rows
    without that field, from before :data:`LATENCY_THREADS`, are one per model and all count)."""
    best = [r for r in latency if r.get("best", True)]
    ref = next((r for r in best if r["model"] == REFERENCE_INT8), None)
    if ref is None:
        return {}
    return {r["model"]: (r["p50_us"] / ref["p50_us"], r["p99_us"] / ref["p99_us"]) for r in best if r is not ref}


def _fast_enough(fractions: tuple[float, float], goal: Goal) -> bool:
    """Both (p50, p99) fractions of the reference's latency within the goal's."""
    return all(f <= goal.latency_fraction for f in fractions)


def beats_twin(latency: list[dict], name: str) -> bool:
    """Whether ``name``'s int8 model has a lower p50 than its dynamic-range twin (``name`` +
    :data:`TWIN_SUFFIX`), each at its ``best`` row; False if either was not timed."""
    best = {r["model"]: r["p50_us"] for r in latency if r.get("best", True)}
    twin = best.get(name + TWIN_SUFFIX)
    return name in best and twin is not None and best[name] < twin


def choose_deployable(runs: dict[str, Speedrun], latency: list[dict], goal: Goal = GOAL, *,
                      twins: bool = False) -> str | None:
    """The declared rule for the deployable model (round 2 on): among the candidates whose first-seed int8
    model's p50 and p99 are both <= ``goal.latency_fraction`` of the reference int8 model's (timed in the
    same interleaved rounds) and, with ``twins`` (:data:`TWIN_RULE_ROUNDS`), whose int8 model is faster than
    its own dynamic-range twin (:func:`beats_twin`), the highest worst-seed int8 validation accuracy (rounded
    to 4 decimals), ties to the lower mean ratio; None if none qualifies (or nothing was converted or timed)."""
    fractions = latency_fractions(latency)
    scored = []
    for name, out in runs.items():
        int8 = [r["int8_test_accuracy"] for r in out.rows if "int8_test_accuracy" in r]
        if twins and not beats_twin(latency, name):
            continue
        if int8 and _fast_enough(fractions.get(name, (math.inf, math.inf)), goal):
            scored.append((round(min(int8), 4), -goal_met(out.rows, goal)["mean_ratio"], name))
    return max(scored)[2] if scored else None


def goal_met(rows: list[dict], goal: Goal = GOAL) -> dict:
    """Which parts of the goal the rows meet (None where a part was not measured)."""
    acc = [r["test_accuracy"] for r in rows]
    ratios = [r["ratio"] for r in rows if r.get("ratio") == r.get("ratio")]
    int8 = [r["int8_test_accuracy"] for r in rows if "int8_test_accuracy" in r]
    enough = len(rows) >= goal.seeds
    return {
        "seeds": len(rows),
        "mean_accuracy": float(np.mean(acc)) if acc else math.nan,
        "min_accuracy": float(np.min(acc)) if acc else math.nan,
        "mean_ratio": float(np.mean(ratios)) if ratios else math.nan,
        "accuracy_goal": bool(enough and np.mean(acc) >= goal.mean_accuracy and min(acc) >= goal.min_accuracy),
        "ratio_goal": bool(np.mean(ratios) <= goal.ratio) if ratios else None,
        "ratio_resolved": bool(np.mean(ratios) <= goal.resolved_ratio) if ratios else None,
        "int8_goal": bool(enough and min(int8) >= goal.int8_min_accuracy) if int8 else None,
    }


def summarize(rows: list[dict], latency: list[dict], goal: Goal = GOAL) -> dict:
    """``goal_met`` plus the latency ratios (deployable / course CNN int8)."""
    s = goal_met(rows, goal)
    fractions = list(latency_fractions(latency).values())
    if len(fractions) == 1:  # a rung's table: its model and the reference's
        s["p50_fraction"], s["p99_fraction"] = fractions[0]
        s["latency_goal"] = _fast_enough(fractions[0], goal)
    return s


SHOWN = ["seed", "recipe", "epochs", "test_accuracy", "test_accuracy_one_view", "int8_test_accuracy", "train_seconds",
         "reference_seconds", "ratio", "params", "git_commit", "device", "cpu_flags", "threads", "onednn", "backend"]
LATENCY_SHOWN = ["model", "runtime", "interpreter_threads", "best", "rounds", "blocks", "p50_us", "p99_us", "p50_us_pooled", "p99_us_pooled", "git_commit", "device", "cpu_flags", "threads"]


def write(out_dir, result: Speedrun, *, command: str = "", stem: str = "speedrun", recipe: Recipe = RECIPE) -> list:
    """``<stem>.csv`` / ``.md`` (one row per seed, the reference row last), ``<stem>_latency.*`` and
    ``<stem>.json`` (everything, with the goal check) in ``out_dir``."""
    from pathlib import Path

    from signbench.atomic import atomic_write_json
    from signbench.results import write_table

    out_dir = Path(out_dir)
    s = result.summary()
    ref = result.reference
    notes = [
        f"Recipe ({recipe.describe()}), declared in `signbench.studies.speedrun` before this run; the test CSV "
        "is read once per seed, after training. `train_seconds`: from the uint8 training data in memory to a "
        "trained model (scaling, building, compiling, every epoch). `ratio` = train_seconds / reference_seconds.",
        (f"Reference (same run): {ref['model']}, {ref['epochs']} epochs, batch {ref['batch_size']}: "
         f"{ref['train_seconds']} s, test accuracy {ref['test_accuracy']:.4f}"
         + (f", int8 {ref['int8_test_accuracy']:.4f}" if "int8_test_accuracy" in ref else "") + ".")
        if ref else "No reference in this run (ratio is NaN).",
        "`test_accuracy` is with test-time augmentation (mean softmax over the image and its four one-pixel "
        "shifts); `test_accuracy_one_view` without; `int8_test_accuracy` is the int8 TFLite model, one view.",
        (f"Goal (issue 19, over {GOAL.seeds} seeds: mean >= {GOAL.mean_accuracy}, each >= {GOAL.min_accuracy}, "
         f"ratio <= {GOAL.ratio}, resolved at <= {GOAL.resolved_ratio}): mean {s['mean_accuracy']:.4f}, worst "
         f"{s['min_accuracy']:.4f}, mean ratio {s['mean_ratio']:.3f}; accuracy goal met: {s['accuracy_goal']}; "
         f"ratio <= {GOAL.ratio}: {s['ratio_goal']}; ratio <= {GOAL.resolved_ratio}: {s['ratio_resolved']}; "
         f"int8 >= {GOAL.int8_min_accuracy} for every seed: {s['int8_goal']}."),
    ]
    paths = write_table(out_dir, stem, result.rows, shown=SHOWN, notes=notes, command=command,
                        title="Time to accuracy: the speedrun recipe against the course CNN")
    if result.latency:
        lnotes = [f"One-image `Predictor.predict` of seed {result.latency[0]['seed']}'s int8 model and the course "
                  "CNN's int8 model (the reference trained in the same run), timed in interleaved rounds"
                  + (f", in {result.latency[0]['blocks']} blocks: p50_us / p99_us are the medians of the blocks' "
                     "percentiles, the _pooled columns over all rounds." if "blocks" in result.latency[0] else ".")
                  + (" Each model at every interpreter thread count in the same rounds; `best` marks its row with "
                     "the lowest p50, which the goal reads." if "best" in result.latency[0] else "")]
        if "p50_fraction" in s:
            lnotes.append(f"Deployable / course CNN: p50 {s['p50_fraction']:.3f}x, p99 {s['p99_fraction']:.3f}x "
                          f"(goal: both <= {GOAL.latency_fraction}x): met: {s['latency_goal']}.")
        paths += write_table(out_dir, f"{stem}_latency", result.latency, shown=LATENCY_SHOWN, notes=lnotes,
                             command=command, title="The deployable model's one-image latency against the course CNN")
    raw = {"recipe": {k: getattr(recipe, k) for k in recipe.__dataclass_fields__}, "rows": result.rows,
           "reference": ref, "latency": result.latency, "summary": s, "command": command}
    paths.append(atomic_write_json(out_dir / f"{stem}.json", raw))
    return paths


VALIDATION_SHOWN = ["candidate", "filters", "epochs", "seed", "val_accuracy", "val_accuracy_one_view",
                    "int8_val_accuracy", "train_seconds", "reference_seconds", "ratio", "params", "git_commit", "device",
                    "cpu_flags", "threads", "onednn", "backend"]
_AS_VALIDATION = {"test_accuracy": "val_accuracy", "test_accuracy_one_view": "val_accuracy_one_view",
                  "int8_test_accuracy": "int8_val_accuracy"}


def write_validation(out_dir, result: dict, *, command: str = "", stem: str = "speedrun_validation") -> list:
    """``<stem>.csv`` / ``.md`` (one row per candidate and seed) and ``<stem>.json`` (with the summaries and
    the pick) of a :func:`validate` result."""
    from pathlib import Path

    from signbench.atomic import atomic_write_json
    from signbench.results import write_table

    recipes = result["recipes"]
    rows, summaries = [], {}
    for name, out in result["runs"].items():
        for r in out.rows:
            rows.append({"candidate": name, "filters": "-".join(map(str, recipes[name].filters)),
                         **{_AS_VALIDATION.get(k, k): v for k, v in r.items()}})
        s = goal_met(out.rows)
        summaries[name] = {"mean_accuracy": s["mean_accuracy"], "min_accuracy": s["min_accuracy"],
                           "mean_ratio": s["mean_ratio"], "recipe": recipes[name].describe()}
    ref, parts = next(iter(result["runs"].values())).reference, result["parts"]
    notes = [
        f"Validation on the TRAIN CSV only: {parts['held_groups']} of its {parts['groups']} near-duplicate groups "
        f"(Pearson correlation >= {GROUP_MIN_CORR}) held out whole ({VALIDATION_FRACTION:.0%} of the groups: "
        f"{parts['validation']} images); the candidates and the reference train on the other {parts['train']}. "
        "The candidates and the rule were declared in `signbench.studies.speedrun` before this run.",
        (f"Reference (same run, same part): {ref['model']}, {ref['epochs']} epochs, batch {ref['batch_size']}: "
         f"{ref['train_seconds']} s, validation accuracy {ref['test_accuracy']:.4f}.") if ref else "No reference.",
        "",
        *(f"- {n}: mean validation accuracy {s['mean_accuracy']:.4f} (worst {s['min_accuracy']:.4f}), mean ratio "
          f"{s['mean_ratio']:.3f} ({s['recipe']})" for n, s in summaries.items()),
        "",
        f"Rule: the highest mean validation accuracy among mean ratio <= {GOAL.resolved_ratio}; chosen: "
        f"**{result['chosen'] or 'none (no candidate within the ratio)'}**.",
    ]
    latency = result.get("latency") or []
    fractions = {n: f for n, f in latency_fractions(latency).items() if n in summaries}
    twins = bool(result.get("twins"))
    if fractions:
        for name, (p50, p99) in fractions.items():
            summaries[name].update(p50_fraction=p50, p99_fraction=p99)
            if twins:
                summaries[name]["beats_twin"] = beats_twin(latency, name)
        notes += [
            "",
            f"Deployable rule: among the candidates whose first-seed int8 model has p50 and p99 both <= "
            f"{GOAL.latency_fraction}x the reference's int8 model (one-image `Predictor.predict`, all timed in the "
            f"same {latency[0]['rounds']} interleaved rounds"
            + (f" in {latency[0]['blocks']} blocks, each percentile the blocks' median" if "blocks" in latency[0] else "")
            + f": `{stem}_latency.md`)"
            + (", and whose int8 model has a lower p50 than its own dynamic-range twin (each at its fastest thread "
               "count, timed in the same rounds)" if twins else "")
            + ", the highest worst-seed int8 "
            f"validation accuracy; chosen: **{result.get('deployable') or 'none (no candidate qualifies)'}**.",
            "",
            *(f"- {n}: int8 worst {min(r['int8_test_accuracy'] for r in result['runs'][n].rows):.4f}, latency "
              f"p50 {p50:.3f}x, p99 {p99:.3f}x"
              + (f", faster than its dynamic-range twin: {summaries[n]['beats_twin']}" if twins else "")
              for n, (p50, p99) in fractions.items()),
        ]
    paths = write_table(out_dir, stem, rows, shown=VALIDATION_SHOWN, notes=notes, command=command,
                        title="Choosing the next speedrun recipe on a validation split of the train CSV")
    if latency:
        paths += write_table(out_dir, f"{stem}_latency", latency, shown=LATENCY_SHOWN, command=command,
                             notes=["Each candidate's first-seed int8 model"
                                    + (" (and its dynamic-range twin)" if twins else "")
                                    + " and the reference's, one image (the "
                                    "first validation image), timed in the same interleaved rounds"
                                    + ("; each at every interpreter thread count, `best` its row with the lowest "
                                       "p50, which the rule reads." if "best" in latency[0] else ".")],
                             title="The candidates' one-image int8 latency against the course CNN's")
    raw = {"parts": parts, "reference": ref, "summaries": summaries, "chosen": result["chosen"], "rows": rows,
           "deployable": result.get("deployable"), "twins": twins, "latency": latency, "command": command}
    paths.append(atomic_write_json(Path(out_dir) / f"{stem}.json", raw))
    return paths
