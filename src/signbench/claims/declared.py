"""Every claim signbench checks, declared as data before anything was measured.

A :class:`Claim` names the course's sentence (Spanish, with a translation and the section of
``../shared/course/course.md`` it comes from; signbench's own claims say so), the metric, the two arms it
compares (or one), the kind of test, which way the effect goes and the smallest effect that counts.
Claims that share their runs form a *family* (:data:`FAMILIES`); each family has a *ladder* of protocols
of growing power (data, epochs, seeds), lowest first, and its ``full`` protocol.

Rules written down before any run (they are the reason no threshold below may change after a result):

- smallest effect: one point (0.01) for accuracy and train-val gap effects; 5% (0.05) for relative
  effects (the L2 weight-norm claim); int8's non-inferiority margin is one point (0.01);
- the gap is inference-mode accuracy on the training images (a fixed stratified sample of at most 5,000)
  minus validation accuracy; the course's training-mode history gap is reported beside it;
- arms of one seed share the data subset, the validation split and the initial-weight seed names;
- a ``ci`` verdict is *stable* when the same protocol gives the same verdict with 1 and 2 TensorFlow
  intra-op threads and with oneDNN on and off; a family climbs its ladder (one rung at a time) while any
  of its claims is unstable or inconclusive, up to the top rung, and every rung's result is kept in
  ``results/`` (``claims_<rung>.*``);
- the ``ci`` size (the one the README's test command runs) is, per family, the highest rung reached by
  that climb whose cost keeps the claims part of the test command within 10 minutes on 2 quiet cores;
  rungs above it are measured and committed, not run by the tests.

History: the r0 rungs were first declared with 5 seeds; timing one seed of each family with a throwaway
script (2026-12-01, on a loaded machine, before any verdict was computed) showed that 5 seeds of all
three could not fit the 10 minutes, so r0 has 3 seeds (the issue's minimum); r1 and r2 are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CALLBACK_EVENTS", "CI_RUNGS", "CLAIMS", "FAMILIES", "NOT_TESTABLE", "Claim", "Family", "Protocol", "claim"]


@dataclass(frozen=True)
class Protocol:
    """One protocol of a family: sizes and seeds. ``train_size`` None: the whole train CSV."""

    name: str
    seeds: int
    epochs: int
    train_size: int | None = None
    per_class: int | None = None  # transfer: target-task images per class
    pretrain_epochs: int | None = None  # transfer: source-task epochs

    def describe(self) -> str:
        parts = [f"{self.seeds} seeds", f"{self.epochs} epochs"]
        if self.train_size is not None or self.per_class is None:
            parts.insert(0, f"{self.train_size or 27455} train images")
        if self.per_class is not None:
            parts.insert(0, f"{self.per_class} images per target letter, pretraining {self.pretrain_epochs} epochs")
        return ", ".join(parts)


@dataclass(frozen=True)
class Family:
    """Claims measured on the same runs: the ladder of ``ci`` protocols (lowest first) and ``full``."""

    name: str
    ladder: tuple[Protocol, ...]
    full: Protocol
    description: str


@dataclass(frozen=True)
class Claim:
    """One claim about one metric (a sentence with two metrics is two claims)."""

    name: str
    family: str
    statement: str  # the course's sentence in Spanish, or signbench's own wording
    translation: str
    section: str  # where in course.md, or "signbench's own"
    metric: str
    arm_a: str
    arm_b: str | None  # None: a claim about arm_a alone (presence, event)
    kind: str  # superiority | presence | non-inferiority | event
    direction: int = 1  # +1: arm_a's metric is larger (or the value > 0); -1: smaller
    min_effect: float = 0.01

    @property
    def source(self) -> str:
        return "signbench" if self.section == "signbench's own" else "course"


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family(
        "course_models",
        ladder=(Protocol("r0", seeds=3, epochs=10, train_size=4800),
                Protocol("r1", seeds=5, epochs=10, train_size=9600),
                Protocol("r2", seeds=8, epochs=15, train_size=9600)),
        full=Protocol("full", seeds=5, epochs=20),
        description="the course's baseline, regularized (L2 + dropout) and CNN models, plus dropout alone and "
                    "L2 alone; validation = a seeded stratified 20% of the test CSV (the course's protocol)",
    ),
    Family(
        "augmentation",
        ladder=(Protocol("r0", seeds=3, epochs=20, train_size=1200),
                Protocol("r1", seeds=8, epochs=30, train_size=1200),
                Protocol("r2", seeds=10, epochs=40, train_size=2400)),
        full=Protocol("full", seeds=10, epochs=40, train_size=2400),
        description="the course CNN on a small stratified subset of the train CSV, with and without random "
                    "rotation / shift / zoom (no flips)",
    ),
    Family(
        "transfer",
        ladder=(Protocol("r0", seeds=3, epochs=60, per_class=5, pretrain_epochs=3),
                Protocol("r1", seeds=8, epochs=60, per_class=10, pretrain_epochs=3),
                Protocol("r2", seeds=10, epochs=100, per_class=20, pretrain_epochs=5)),
        full=Protocol("full", seeds=10, epochs=100, per_class=20, pretrain_epochs=5),
        description="a small backbone pretrained per seed on letters A-M (scored on held-out A-M images), frozen "
                    "and transferred to a few images per letter N-Y, against the same network from scratch",
    ),
)}

#: The callback claims' events (read from the CNN's epoch history), each confirmed by one run of seed 0's CNN
#: with that real callback alone.
CALLBACK_EVENTS = ("threshold_stop", "early_stop_loss", "early_stop_val_loss")

#: The rung each family's ``ci`` size runs at: where climbing its ladder stopped (the rule above). Every
#: family starts at r0; a change here is a climb, recorded with its reason in results/claims_ci_ladder.csv.
CI_RUNGS: dict[str, str] = {"course_models": "r0", "augmentation": "r0", "transfer": "r0"}

_REG = "Métodos de regularización: overfitting y underfitting > Regularizadores en código"
_CNN = "Recomendaciones prácticas para ajustar un modelo > Ajustando el modelo"
_REG_TRAIN_VAL = ("Podemos notar en la etapa final que si bien la precisión de entrenamiento bajó un poco, la "
                  "precisión de validación ha aumentado.")
_REG_TRAIN_VAL_EN = "In the final epoch, although training accuracy went down a little, validation accuracy went up."
_REG_OVERFIT = ("Podemos notar como las gráficas de train y validation ahora tienden a ser más uniformes, esto "
                "denota una importante reducción en el overfitting y un incremento en el rendimiento final de la red.")
_REG_OVERFIT_EN = ("The train and validation curves now tend to be more alike: an important reduction in "
                   "overfitting and an increase in the network's final performance.")
_CNN_SAYS = ("Podemos notar una importante reducción en el overfitting (aunque aún está vigente) junto a una mejora "
             "general del rendimiento de la red tanto en entrenamiento como en validación.")
_CNN_SAYS_EN = ("An important reduction in overfitting (though still present), with a general improvement of the "
                "network's performance in both training and validation.")
_AUG = ("Si tienes un conjunto de datos pequeño, puedes aumentar los datos para enriquecer el conjunto de "
        "entrenamiento y mejorar el rendimiento del modelo.")
_AUG_EN = "If your dataset is small, you can augment the data to enrich the training set and improve the model."
_TL = ("El aprendizaje por transferencia será especialmente útil cuando tengas muy pocos datos, dado que no "
       "tendrás que enseñar al modelo desde 0 las abstracciones")
_TL_EN = "Transfer learning is especially useful when you have very little data: the model need not learn its abstractions from scratch."
_TL_FAST = "Estos modelos ya han generalizado las features, por lo que se podrán adaptar a tus necesidades en pocas iteraciones."
_TL_FAST_EN = "These models have already generalized their features, so they adapt to your needs in few iterations."
_TL_SECTION = "Cuándo utilizar aprendizaje por transferencia > ¿Por qué usar aprendizaje por transferencia?"
_ES = ("Si la condición se cumple y rompe la paciencia definida, entonces el modelo dejará de entrenar "
       "prematuramente")
_ES_EN = "If the condition holds and the patience runs out, the model stops training early."
_ES_SECTION = "Monitoreo del entrenamiento en tiempo real: early stopping y patience > Early stopping y patience en el código"

CLAIMS: tuple[Claim, ...] = (
    # (1) regularization (L2 + dropout) against the dense baseline
    Claim("regularization_smaller_gap", "course_models", _REG_OVERFIT, _REG_OVERFIT_EN, _REG, "gap",
          "regularized", "baseline", "superiority", direction=-1),
    Claim("regularization_higher_val", "course_models", _REG_TRAIN_VAL, _REG_TRAIN_VAL_EN, _REG, "val_accuracy",
          "regularized", "baseline", "superiority"),
    Claim("regularization_lower_train", "course_models", _REG_TRAIN_VAL, _REG_TRAIN_VAL_EN, _REG,
          "train_accuracy", "regularized", "baseline", "superiority", direction=-1),
    # (2) the CNN against the regularized model (as the course compares them) and against the baseline
    Claim("cnn_smaller_gap_than_regularized", "course_models", _CNN_SAYS, _CNN_SAYS_EN, _CNN, "gap", "cnn",
          "regularized", "superiority", direction=-1),
    Claim("cnn_higher_train_than_regularized", "course_models", _CNN_SAYS, _CNN_SAYS_EN, _CNN, "train_accuracy",
          "cnn", "regularized", "superiority"),
    Claim("cnn_higher_val_than_regularized", "course_models", _CNN_SAYS, _CNN_SAYS_EN, _CNN, "val_accuracy", "cnn",
          "regularized", "superiority"),
    Claim("cnn_smaller_gap_than_baseline", "course_models", _CNN_SAYS, _CNN_SAYS_EN, _CNN, "gap", "cnn", "baseline",
          "superiority", direction=-1),
    Claim("cnn_higher_val_than_baseline", "course_models", _CNN_SAYS, _CNN_SAYS_EN, _CNN, "val_accuracy", "cnn",
          "baseline", "superiority"),
    # (3) the CNN's gap is still present
    Claim("cnn_gap_still_present", "course_models", _CNN_SAYS, _CNN_SAYS_EN, _CNN, "gap", "cnn", None, "presence"),
    # dropout alone, L2 alone (the course's regularization lesson)
    Claim("dropout_smaller_gap", "course_models",
          "El primer método es el dropout, una técnica que apaga un porcentaje aleatorio de neuronas por cada "
          "iteración obligando a aquellas activas a comprender un patrón general en vez de memorizar la estructura "
          "de los datos.",
          "Dropout switches off a random share of neurons each iteration, forcing the active ones to learn a "
          "general pattern instead of memorizing the data.",
          "Métodos de regularización: overfitting y underfitting > Dropout", "gap", "dropout", "baseline",
          "superiority", direction=-1),
    Claim("l2_shrinks_weights", "course_models",
          "Su uso reducirá uniformemente la magnitud de los features armonizando el crecimiento de la red.",
          "(L2) will reduce the magnitude of the features uniformly, harmonizing the network's growth.",
          "Métodos de regularización: overfitting y underfitting > Regularizadores L1 y L2", "kernel_norm",
          "l2", "baseline", "superiority", direction=-1, min_effect=0.05),
    # (6) EarlyStopping as the course configures it, and signbench's val_loss variant
    Claim("early_stopping_loss_stops", "course_models", _ES, _ES_EN, _ES_SECTION, "early_stop_loss", "cnn", None,
          "event"),
    Claim("early_stopping_val_loss_stops", "course_models",
          "signbench's own: EarlyStopping(monitor='val_loss', patience=3) ends the CNN's training before its "
          "last epoch.", "", "signbench's own", "early_stop_val_loss", "cnn", None, "event"),
    # (7) the threshold callback
    Claim("threshold_callback_stops", "course_models",
          "El entrenamiento empezará, y al cumplirse la condición el entrenamiento se detendrá prematuramente.",
          "Training starts and, once the condition (training accuracy > 0.95) holds, it stops early.",
          "Métricas para medir la eficiencia de un modelo: callback > Aplicando callbacks a nuestro modelo",
          "threshold_stop", "cnn", None, "event"),
    # (8) the best-only checkpoint
    Claim("checkpoint_keeps_best_epoch", "course_models",
          "Si durante el entrenamiento la red mejora en su val_accuracy, entonces se guardará en disco, si por el "
          "contrario no detecta una mejora, entonces ignorará esa iteración.",
          "When val_accuracy improves the model is saved; otherwise that epoch is ignored (so the saved model is "
          "the best epoch's).",
          "Criterios para almacenar los modelos > Mejorando el guardado de pesos", "checkpoint_best_epoch", "cnn",
          None, "event"),
    Claim("checkpoint_reload_scores_the_same", "course_models",
          "signbench's own: the reloaded best checkpoint scores exactly the validation accuracy it was saved with.",
          "", "signbench's own", "checkpoint_reload_exact", "cnn", None, "event"),
    # (9) int8 conversion
    Claim("int8_costs_at_most_one_point", "course_models",
          "signbench's own: converting the course CNN to full-integer int8 TFLite costs at most 1 point of test "
          "accuracy.", "", "signbench's own", "test_accuracy", "cnn_int8", "cnn", "non-inferiority"),
    # (4) augmentation with little data
    Claim("augmentation_higher_val", "augmentation", _AUG, _AUG_EN,
          "Cómo distribuir los datos > 4. Data Augmentation para Conjuntos de Entrenamiento Limitados",
          "val_accuracy", "cnn_augmented", "cnn_small", "superiority"),
    Claim("augmentation_smaller_gap", "augmentation", _AUG, _AUG_EN,
          "Cómo distribuir los datos > 4. Data Augmentation para Conjuntos de Entrenamiento Limitados",
          "gap", "cnn_augmented", "cnn_small", "superiority", direction=-1),
    # (5) a frozen pretrained backbone against the same network from scratch, with very few samples
    Claim("transfer_higher_val", "transfer", _TL, _TL_EN, _TL_SECTION, "val_accuracy", "transfer", "scratch",
          "superiority"),
    Claim("transfer_smaller_gap", "transfer", _TL, _TL_EN, _TL_SECTION, "gap", "transfer", "scratch",
          "superiority", direction=-1),
    Claim("transfer_gets_there_in_few_epochs", "transfer", _TL_FAST, _TL_FAST_EN, _TL_SECTION,
          "val_accuracy_early", "transfer", "scratch", "superiority"),
)

#: The course's claims that cannot be tested offline, and why.
NOT_TESTABLE: tuple[tuple[str, str], ...] = (
    ("Introducción al aprendizaje por transferencia > Usando una red ya entrenada: InceptionV3 with ImageNet "
     "weights as a frozen feature extractor", "needs the ImageNet weights file, which cannot be downloaded here"),
    ("Uso sistemas pre-entrenados de TensorFlow Hub: a Hub module as the frozen feature extractor",
     "needs tfhub.dev / Kaggle Models; no Hub module can be downloaded here"),
    ("Cuándo utilizar aprendizaje por transferencia > ¿Cómo saber cuál modelo seleccionar?: pretrained "
     "models trade accuracy for operations", "needs pretrained ImageNet models; the offline stand-in is "
     "results/model_selection.md"),
)


def claim(name: str) -> Claim:
    """The declared claim called ``name``."""
    for c in CLAIMS:
        if c.name == name:
            return c
    raise KeyError(f"no claim {name!r}; known: {', '.join(c.name for c in CLAIMS)}")
