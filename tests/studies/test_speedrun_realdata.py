"""The speedrun's deployable model on the real data: int8 against float on the real test CSV. A module of its
own because it trains the declared recipe at full size, traced, as users run it (test_speedrun.py's tiny
models run untraced)."""

from __future__ import annotations

import numpy as np
import pytest

from signbench.studies import speedrun


@pytest.mark.realdata
def test_int8_predictions_agree_with_the_float_model_on_the_real_test_csv(realdata):
    """Declared drop: the int8 model's test accuracy is within 0.005 of its float model's (one view), and
    the two agree on at least 99% of the test images.

    Protocol change, kept visible: this test first used a shortened recipe (2 epochs) to stay cheap, and it
    FAILED on the real data (2026-12-01, AVX2, commit a8f8b7e): float 0.8668, int8 0.8575, a drop of 0.0093.
    A half-trained network is not the deployable model, so the test now trains the deployable model itself
    (the recipe as declared, seed 0) and keeps the declared drop; each rung's table (results/speedrun*.csv) holds the same check
    for 5 seeds (test_accuracy_one_view against int8_test_accuracy).

    Since stop 35 it trains the deployable rung (``speedrun.DEPLOYABLE_RUNG``, seed 0), the model whose int8
    TFLite the project calls deployable; before, it trained ``speedrun.train``'s default, rung A, which had
    been the deployable model until rung E was built for that goal (rung F since stop 36: validation round
    4's pick). The declared drop is unchanged."""
    from signbench.data.load import load_sign_mnist
    from signbench.deploy.predictor import Predictor

    train_set = load_sign_mnist("train", realdata)
    recipe = speedrun.rung(speedrun.DEPLOYABLE_RUNG)
    model = speedrun.train(train_set.images, train_set.labels, train_set.num_classes, seed=0, recipe=recipe).model
    flat = speedrun._int8(model, train_set.images, 0)
    test = load_sign_mnist("test", realdata)
    float_pred = np.argmax(model.predict(test.as_float(), batch_size=512, verbose=0), axis=-1)
    int8_pred = np.argmax(Predictor(flat).predict(test.images).probabilities, axis=-1)
    float_acc, int8_acc = np.mean(float_pred == test.labels), np.mean(int8_pred == test.labels)
    assert float_acc > 0.9, "the recipe learned"
    assert int8_acc >= float_acc - 0.005, (float_acc, int8_acc)
    assert np.mean(float_pred == int8_pred) >= 0.99
