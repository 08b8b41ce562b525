"""signbench.deploy.Predictor: load once, predict one image or a batch -> letters and probabilities."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from signbench.data.types import SIGN_LETTERS  # noqa: E402
from signbench.deploy import LiteModel, Predictor, convert, representative_sample  # noqa: E402
from signbench.models import build  # noqa: E402


@pytest.fixture(scope="module")
def model_and_images():
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    model = build("cnn")
    # A few steps so outputs are not near-uniform (ties would make argmax comparisons fragile).
    model.fit(images.astype(np.float32) / 255, np.arange(40) % 24, epochs=3, batch_size=8, verbose=0)
    return model, images


@pytest.fixture(scope="module")
def flat(model_and_images):
    model, images = model_and_images
    rep = representative_sample(images, 40, seed=0)
    return {m: convert(model, m, representative=rep) for m in ("float32", "int8")}


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_one_image_and_batch(flat, model_and_images, mode):
    _, images = model_and_images
    p = Predictor(flat[mode])
    one = p.predict(images[0])
    assert isinstance(one.letters, str) and one.letter == one.letters and one.letters in SIGN_LETTERS
    assert one.probabilities.shape == (24,) and one.probabilities.dtype == np.float32
    assert one.probabilities.sum() == pytest.approx(1.0, abs=0.02)
    assert SIGN_LETTERS[int(one.probabilities.argmax())] == one.letters
    same = p.predict(images[0, :, :, 0])  # H x W grayscale
    assert same.letters == one.letters
    batch = p.predict(images)
    assert isinstance(batch.letters, list) and len(batch.letters) == 40 and batch.probabilities.shape == (40, 24)
    singles = [p.predict(im).letters for im in images]
    assert batch.letters == singles
    assert p.predict(images[:, :, :, 0]).letters == batch.letters  # N x H x W
    assert p.predict(images[:7]).letters == batch.letters[:7]  # another batch size, then back
    assert p.predict(images[3]).letters == batch.letters[3]
    with pytest.raises(ValueError, match="batch"):
        _ = batch.letter


def test_float32_predictor_matches_keras(flat, model_and_images):
    model, images = model_and_images
    ref = keras.ops.convert_to_numpy(model(images.astype(np.float32) / 255, training=False))
    got = Predictor(flat["float32"]).predict(images)
    np.testing.assert_allclose(got.probabilities, ref, rtol=0, atol=1e-5)
    assert got.letters == [SIGN_LETTERS[i] for i in ref.argmax(1)]


def test_int8_predictor_matches_interpreter(flat, model_and_images):
    """The fast path (uint8 ^ 0x80, LUT probabilities) equals quantize -> invoke -> dequantize."""
    _, images = model_and_images
    ref = LiteModel(flat["int8"]).run(images.astype(np.float32) / 255)
    p = Predictor(flat["int8"])
    got = p.predict(images)
    np.testing.assert_allclose(got.probabilities, ref, rtol=0, atol=1e-7)
    for i in range(5):
        np.testing.assert_allclose(p.predict(images[i]).probabilities, ref[i], rtol=0, atol=1e-7)
    # float input in [0, 1] takes the general path and agrees
    assert p.predict(images.astype(np.float32) / 255).letters == got.letters


def test_bad_input_is_rejected(flat, model_and_images):
    _, images = model_and_images
    p = Predictor(flat["int8"])
    with pytest.raises(ValueError, match="expected an image"):
        p.predict(np.zeros((32, 32), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        p.predict(images.astype(np.int16))
    with pytest.raises(ValueError, match="class names"):
        Predictor(flat["int8"], class_names=["a", "b"])
    empty = p.predict(np.zeros((0, 28, 28, 1), np.uint8))
    assert empty.letters == [] and empty.probabilities.shape == (0, 24)


def test_from_keras_and_custom_names(model_and_images):
    model, images = model_and_images
    names = [f"c{i}" for i in range(24)]
    p = Predictor.from_keras(model, "float32", class_names=names, num_threads=2)
    assert p.predict(images[0]).letters in names


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_accuracy_is_the_share_of_predicted_labels_batch_by_batch(flat, model_and_images, mode):
    _, images = model_and_images
    p = Predictor(flat[mode])
    pred = np.array([SIGN_LETTERS.index(x) for x in p.predict(images).letters])
    labels = pred.copy()
    labels[::4] = (labels[::4] + 1) % 24  # every fourth label wrong: 30 of 40 right
    assert p.accuracy(images, labels) == 0.75
    assert p.accuracy(images, labels, batch_size=7) == 0.75  # batches of 7, the last one of 5
    assert p.accuracy(images.astype(np.float32) / 255, labels, batch_size=1) == 0.75  # floats in [0, 1]
    with pytest.raises(ValueError, match="one label per image"):
        p.accuracy(images, labels[:-1])


def test_predicted_classes_argmax_and_one_output_threshold():
    from signbench.deploy.predictor import predicted_classes

    assert predicted_classes(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])).tolist() == [1, 0]
    assert predicted_classes(np.array([[0.2], [0.8], [0.5]])).tolist() == [0, 1, 0]  # sigmoid: above 0.5 is 1
