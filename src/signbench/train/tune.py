"""Hyperband search over the course's hypermodel (KerasTuner), then retrain the best model.

``tune(train, validation, seed=..., directory=...)`` runs ``keras_tuner.Hyperband`` (objective
``val_accuracy``, factor 3, seeded oracle and seeded weights) with its project folder under
``directory``, checks that **every trial COMPLETED** (KerasTuner records a trial whose build or fit
raised as FAILED and carries on, so a broken environment otherwise looks like a finished search), then
rebuilds the best hyperparameters and retrains with early stopping via :func:`signbench.train.fit`.

KerasTuner needs the ``tensorboard`` package, which TensorFlow 2.21 no longer installs; without it
every trial fails. :func:`require_tensorboard` checks this before any trial starts.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signbench.seeds import seed_everything
from signbench.train.fit import RunResult, as_arrays, fit

__all__ = ["TuneResult", "TuningError", "require_tensorboard", "tune"]


class TuningError(RuntimeError):
    """The search could not run or some trials did not complete."""


def require_tensorboard() -> None:
    if importlib.util.find_spec("tensorboard") is None:
        raise TuningError(
            "KerasTuner needs the 'tensorboard' package (TensorFlow 2.21 no longer installs it) and "
            "otherwise fails every trial; install it with: python3 -m pip install tensorboard"
        )


@dataclass
class TuneResult:
    best_hyperparameters: dict[str, Any]
    best_score: float
    trials: list[dict[str, Any]]  # trial_id, status, score, hyperparameters
    directory: str
    run: RunResult  # the retrained best model (``run.model``)
    extra: dict[str, Any] = field(default_factory=dict)


def tune(
    train,
    validation,
    *,
    seed: int,
    directory: str | os.PathLike,
    max_epochs: int = 10,
    factor: int = 3,
    hyperband_iterations: int = 1,
    batch_size: int = 128,
    retrain_epochs: int = 20,
    patience: int = 3,
    project_name: str = "hyperband",
    test=None,
    verbose: int = 0,
) -> TuneResult:
    """Search ``hypermodel``'s units and learning rate with Hyperband and retrain the best model."""
    require_tensorboard()
    import keras_tuner as kt

    from signbench.models import hypermodel
    from signbench.train.callbacks import early_stopping

    x, y = as_arrays(train)
    val = as_arrays(validation)
    num_classes = train.num_classes if hasattr(train, "num_classes") else max(int(y.max()) + 1, 2)
    build = functools.partial(hypermodel, num_classes=num_classes, input_shape=x.shape[1:])
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    tuner = kt.Hyperband(
        build,
        objective="val_accuracy",
        max_epochs=max_epochs,
        factor=factor,
        hyperband_iterations=hyperband_iterations,
        seed=seed,
        directory=str(directory),
        project_name=project_name,
        overwrite=True,
    )
    tuner.search(x, y, validation_data=val, batch_size=batch_size, verbose=verbose)
    trials = [
        {
            "trial_id": t.trial_id,
            "status": str(t.status),
            "score": None if t.score is None else float(t.score),
            "hyperparameters": dict(t.hyperparameters.values),
        }
        for t in tuner.oracle.trials.values()
    ]
    bad = [t for t in trials if t["status"] != "COMPLETED"]
    if not trials or bad:
        raise TuningError(
            f"{len(bad)} of {len(trials)} Hyperband trials did not complete: "
            + "; ".join(f"{t['trial_id']}={t['status']}" for t in bad)
            + f" (see {directory / project_name})"
        )
    best_hp = tuner.get_best_hyperparameters(1)[0]
    best_score = max(t["score"] for t in trials if t["score"] is not None)
    seed_everything(seed)  # retraining starts from the same seeded state, independent of the search
    model = tuner.hypermodel.build(best_hp)
    run = fit(
        model, (x, y), seed=seed, epochs=retrain_epochs, batch_size=batch_size, validation=val,
        test=test, callbacks=[early_stopping(patience=patience)], verbose=verbose,
    )
    run.metadata.update(best_hyperparameters=dict(best_hp.values), tuner="Hyperband", factor=factor)
    return TuneResult(dict(best_hp.values), best_score, trials, str(directory / project_name), run)
