"""signbench.train.tune: seeded Hyperband over the course hypermodel, every trial COMPLETED, best model retrained."""

import pytest

from signbench.testing.fixtures import band_images
from signbench.train import tune as tune_mod
from signbench.train.tune import TuningError, require_tensorboard, tune

pytestmark = pytest.mark.untraced  # tiny models, few steps: tracing would cost more than the steps (signbench.testing)

SHAPE, CLASSES = (8, 8, 1), 3


def _data(n, seed):
    return band_images(n, seed, CLASSES, SHAPE)


def test_hyperband_tiny_budget_completes_and_retrains(tmp_path):
    train, val = _data(60, 0), _data(30, 1)
    res = tune(train, val, seed=0, directory=tmp_path / "run", max_epochs=2, retrain_epochs=3, batch_size=16)
    assert res.trials and all(t["status"] == "COMPLETED" for t in res.trials)
    assert res.directory.startswith(str(tmp_path / "run"))
    assert (tmp_path / "run" / "hyperband" / "oracle.json").is_file()
    hp = res.best_hyperparameters
    assert hp["units"] in range(32, 513, 32) and hp["learning_rate"] in (1e-2, 1e-3, 1e-4)
    assert res.best_score == max(t["score"] for t in res.trials)
    run = res.run
    assert 1 <= run.epochs_run <= 3 and run.val_accuracy is not None
    assert run.model.layers[3].units == hp["units"]
    assert float(run.model.optimizer.learning_rate) == pytest.approx(hp["learning_rate"])
    assert run.metadata["best_hyperparameters"] == hp and run.metadata["seed"] == 0
    again = tune(train, val, seed=0, directory=tmp_path / "run2", max_epochs=2, retrain_epochs=1, batch_size=16)
    assert [t["hyperparameters"] for t in again.trials] == [t["hyperparameters"] for t in res.trials]


def test_failed_trials_are_reported(tmp_path, monkeypatch):
    import signbench.models as models

    real = models.hypermodel
    calls = []

    def flaky(hp, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("broken build")
        return real(hp, **kw)

    monkeypatch.setattr(models, "hypermodel", flaky)
    train, val = _data(30, 0), _data(15, 1)
    with pytest.raises(TuningError, match="did not complete"):
        tune(train, val, seed=0, directory=tmp_path, max_epochs=2, retrain_epochs=1, batch_size=16)


def test_missing_tensorboard_is_caught_up_front(monkeypatch):
    real_find_spec = tune_mod.importlib.util.find_spec
    monkeypatch.setattr(
        tune_mod.importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a)
    )
    with pytest.raises(TuningError, match="pip install tensorboard"):
        require_tensorboard()
