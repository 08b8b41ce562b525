"""Transfer-learning builders and pipeline on synthetic data: InceptionV3 cut at mixed7 (weights files
this test writes, loaded back value for value; "imagenet" via a local HTTP server), MobileNetV2 small
alpha, the small backbone, the resize pipeline, the pretrain/save/compare/table steps, the command."""

from __future__ import annotations

import hashlib
import time

import h5py
import keras
import numpy as np
import pytest

from signbench.data.types import SIGN_LETTERS, LabeledImages
from signbench.errors import DataError
from signbench.models import backbones as mt
from signbench.models import inception_mixed7
from signbench.testing.contracts import check_model_contract
from signbench.testing.local_http import closed_port_url, serve

pytestmark = pytest.mark.untraced  # tiny models, few steps: tracing would cost more than the steps (signbench.testing)

INCEPTION_PARAMS = 13_795_384
INCEPTION_TRAINABLE = 4_820_120
INCEPTION_BASE_CUT = 8_975_264  # InceptionV3 up to mixed7 at 150x150x3 (the course's frozen part)


def trainable_count(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


# ----------------------------------------------------------------------------- local HTTP server

@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    """Serve a folder on 127.0.0.1 (a random free port); yields (folder, base URL)."""
    root = tmp_path_factory.mktemp("www")
    with serve(root) as base:
        yield root, base


# ----------------------------------------------------------------------------- InceptionV3 (built once)

@pytest.fixture(scope="module")
def inception_files(tmp_path_factory):
    """A full no-top InceptionV3 (150x150x3) with seeded random weights, written by this test as a
    Keras 3 ``.weights.h5`` and as the legacy ``.h5`` layout Keras Applications publishes; plus the
    written values of the part up to mixed7, in layer order."""
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    d = tmp_path_factory.mktemp("inception")
    keras.utils.set_random_seed(123)
    base = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(150, 150, 3))
    # Make every value recognisable (BN moving stats too), not just Keras's default initial values.
    rng = np.random.default_rng(7)
    base.set_weights([rng.normal(0.0, 0.05, w.shape).astype("float32") + (1.0 if "variance" in w.path else 0.0)
                      for w in base.weights])
    keras3 = d / "inception.weights.h5"
    base.save_weights(str(keras3))
    legacy = d / "inception_v3_notop.h5"
    with h5py.File(legacy, "w") as f:
        save_weights_to_hdf5_group(f, base)
    cut = keras.Model(base.input, base.get_layer("mixed7").output)
    written = [np.asarray(w) for w in cut.weights]
    keras.backend.clear_session(free_memory=True)
    return {"keras3": keras3, "legacy": legacy, "written": written}


def assert_backbone_equals(model, written):
    got = [np.asarray(w) for w in model.weights[: len(written)]]
    assert len(written) == 280  # 70 conv layers up to mixed7: kernel + BN beta, moving mean, moving variance
    for i, (g, w) in enumerate(zip(got, written, strict=True)):
        np.testing.assert_array_equal(g, w, err_msg=f"weight {i} ({model.weights[i].path}) differs")


@pytest.fixture(scope="module")
def inception_model(inception_files):
    return inception_mixed7(24, (150, 150, 3), weights=inception_files["keras3"])


def test_inception_mixed7_counts_and_structure(inception_model):
    m = inception_model
    assert m.count_params() == INCEPTION_PARAMS
    assert trainable_count(m) == INCEPTION_TRAINABLE
    assert m.count_params() - trainable_count(m) == INCEPTION_BASE_CUT
    assert isinstance(m, keras.Model) and not isinstance(m, keras.Sequential)  # functional API
    names = [layer.name for layer in m.layers]
    assert names[-5] == "mixed7" and "mixed8" not in names
    assert [type(layer).__name__ for layer in m.layers[-4:]] == ["Flatten", "Dense", "Dropout", "Dense"]
    assert m.layers[-3].units == 128 and m.layers[-2].rate == pytest.approx(0.2)
    assert m.layers[-1].units == 24 and m.layers[-1].activation.__name__ == "softmax"
    assert all(not layer.trainable for layer in m.layers[: names.index("mixed7") + 1])
    assert m.output.shape == (None, 24)


def test_inception_loads_the_values_written(inception_model, inception_files):
    assert_backbone_equals(inception_model, inception_files["written"])


def test_inception_contract(inception_model, inception_files):
    x = np.random.default_rng(0).random((4, 150, 150, 3), dtype=np.float32)
    y = np.arange(4)
    check_model_contract(inception_model, (150, 150, 3), 24, INCEPTION_PARAMS, x=x, y=y)
    # Training the head moved no frozen weight.
    assert_backbone_equals(inception_model, inception_files["written"])


def test_inception_imagenet_downloads_and_verifies(inception_files, http_root, tmp_path, monkeypatch):
    """weights="imagenet": the legacy .h5 comes over HTTP (127.0.0.1), is SHA-256-checked, cached and
    loaded value for value; the second build uses the cache without the network."""
    root, base_url = http_root
    data = inception_files["legacy"].read_bytes()
    (root / "inception_v3_notop.h5").write_bytes(data)
    entry = {**mt.IMAGENET_WEIGHTS["inception_v3"], "url": f"{base_url}/inception_v3_notop.h5",
             "sha256": hashlib.sha256(data).hexdigest()}
    monkeypatch.setitem(mt.IMAGENET_WEIGHTS, "inception_v3", entry)
    monkeypatch.setenv("SIGNBENCH_CACHE", str(tmp_path / "cache"))
    m = inception_mixed7(24, (150, 150, 3), weights="imagenet")
    assert_backbone_equals(m, inception_files["written"])
    cached = tmp_path / "cache" / "weights" / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert cached.read_bytes() == data
    # Offline now: the cached, verified file is used.
    monkeypatch.setitem(mt.IMAGENET_WEIGHTS, "inception_v3", {**entry, "url": closed_port_url("/w.h5")})
    assert mt.fetch_imagenet() == cached


def test_imagenet_offline_fails_fast_with_a_clear_message(tmp_path, monkeypatch):
    entry = {**mt.IMAGENET_WEIGHTS["inception_v3"], "url": closed_port_url("/w.h5")}
    monkeypatch.setitem(mt.IMAGENET_WEIGHTS, "inception_v3", entry)
    monkeypatch.setenv("SIGNBENCH_CACHE", str(tmp_path))
    t = time.monotonic()
    with pytest.raises(DataError, match=r"cannot download the ImageNet weights.*weights=<local"):
        inception_mixed7(24, weights="imagenet")
    assert time.monotonic() - t < 30  # refused at once, never a hang (the socket timeout is 15 s)
    assert not any(tmp_path.rglob("*.h5"))


def test_fetch_imagenet_hash_checks(http_root, tmp_path):
    root, base_url = http_root
    payload = b"not really weights" * 100
    (root / "w.h5").write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    md5 = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    url = f"{base_url}/w.h5"
    # Wrong pinned SHA-256: nothing lands in the cache.
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        mt.fetch_imagenet(url=url, sha256="0" * 64, cache=tmp_path / "a")
    assert not list(tmp_path.glob("a/*.h5"))
    # Unpinned: checked against the published MD5 (wrong here), file removed.
    with pytest.raises(DataError, match="MD5 mismatch"):
        mt.fetch_imagenet(url=url, cache=tmp_path / "b")
    assert not (tmp_path / "b" / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5").exists()
    # Unpinned with the right MD5: its SHA-256 is recorded and checked on every later use.
    got = mt.fetch_imagenet(url=url, md5=md5, cache=tmp_path / "c")
    assert got.read_bytes() == payload
    assert got.with_name(got.name + ".sha256").read_text().strip() == sha
    got.write_bytes(payload + b"tampered")
    with pytest.raises(DataError, match="does not match SHA-256"):
        mt.fetch_imagenet(url=url, md5=md5, cache=tmp_path / "c")


def test_missing_or_bad_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        inception_mixed7(24, weights=tmp_path / "nope.weights.h5")
    bad = tmp_path / "bad.weights.h5"
    small = mt.small_backbone()
    small.save_weights(str(bad))
    with pytest.raises(ValueError, match="bad.weights.h5"):
        mt.mobilenet_v2_small(5, (32, 32, 3), weights=bad)


# ----------------------------------------------------------------------------- MobileNetV2, small backbone

def test_mobilenet_v2_small_alpha_contract():
    m = mt.mobilenet_v2_small(5, (32, 32, 3), alpha=0.35)
    base = 410_208  # keras.applications MobileNetV2(alpha=0.35) without top
    head = 1280 * 128 + 128 + 128 * 5 + 5  # 1x1x1280 features at 32x32 input
    assert trainable_count(m) == head
    check_model_contract(m, (32, 32, 3), 5, base + head)
    unfrozen = mt.mobilenet_v2_small(5, (32, 32, 3), alpha=0.35, frozen=False)
    assert trainable_count(unfrozen) > head
    with pytest.raises(ValueError, match="imagenet"):
        mt.mobilenet_v2_small(5, weights="imagenet")


@pytest.mark.parametrize("num_classes,frozen", [(12, False), (2, True)])
def test_small_classifier_contract(num_classes, frozen):
    backbone = 320 + 18_496 + 73_856  # Conv 3x3 32, 64, 128 (with biases) on 28x28x1 -> 1x1x128
    out = 1 if num_classes == 2 else num_classes
    head = 128 * 128 + 128 + 128 * out + out
    m = mt.small_classifier(num_classes, mt.small_backbone() if frozen else None, frozen=frozen)
    assert trainable_count(m) == (head if frozen else backbone + head)
    check_model_contract(m, (28, 28, 1), num_classes, backbone + head)


def test_frozen_backbone_does_not_move_when_the_head_trains():
    bb = mt.small_backbone(seed=3)
    before = [np.asarray(w).copy() for w in bb.weights]
    m = mt.small_classifier(4, bb, frozen=True)
    x = np.random.default_rng(0).random((32, 28, 28, 1), dtype=np.float32)
    head_before = np.asarray(m.layers[-1].kernel).copy()
    m.fit(x, np.arange(32) % 4, epochs=2, verbose=0)
    for b, w in zip(before, bb.weights, strict=True):
        np.testing.assert_array_equal(b, np.asarray(w))
    assert not np.array_equal(head_before, np.asarray(m.layers[-1].kernel))


# ----------------------------------------------------------------------------- resize pipeline

def test_resize_and_repeat():
    img = np.zeros((2, 28, 28, 1), np.uint8)
    img[0] = 255
    img[1, :, 14:] = 255
    out = np.asarray(mt.resize_and_repeat(img, (150, 150)))
    assert out.shape == (2, 150, 150, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    np.testing.assert_allclose(out[0], 1.0)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out[1, :, :70].max() == 0.0 and out[1, :, 80:].min() == pytest.approx(1.0)
    floats = np.asarray(mt.resize_and_repeat(img.astype(np.float32) / 255, (150, 150)))
    np.testing.assert_allclose(floats, out, atol=1e-6)
    with pytest.raises(ValueError, match="N x H x W x 1"):
        mt.resize_and_repeat(np.zeros((28, 28, 1), np.uint8))


def test_tf_data_pipeline_matches_resize():
    from signbench.data.pipeline import resized_dataset
    from signbench.studies.model_selection import resize_and_repeat_np

    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (10, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(10)
    batches = list(resized_dataset(imgs, labels, (75, 75), batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    x = np.concatenate([np.asarray(b[0]) for b in batches])
    np.testing.assert_allclose(x, resize_and_repeat_np(imgs, (75, 75), batch=3), atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([np.asarray(b[1]) for b in batches]), labels)


# ----------------------------------------------------------------------------- pipeline on synthetic data

def synthetic(n_per_class: int, letters=SIGN_LETTERS, seed: int = 0) -> LabeledImages:
    """Each class a bright square at its own position, plus noise: learnable from few samples."""
    rng = np.random.default_rng(seed)
    k = len(letters)
    labels = np.repeat(np.arange(k), n_per_class)
    imgs = rng.integers(0, 60, (len(labels), 28, 28, 1)).astype(np.uint8)
    for i, lab in enumerate(labels):
        r, c = divmod(int(lab), 5)
        imgs[i, 2 + 5 * r: 6 + 5 * r, 2 + 5 * c: 6 + 5 * c] = 255
    return LabeledImages(imgs, labels, list(letters), "synthetic")


def test_letters_subset_and_few_shot():
    from signbench.train.transfer import SOURCE_LETTERS, TARGET_LETTERS, few_shot, letters_subset

    assert SOURCE_LETTERS == list("ABCDEFGHIKLM") and TARGET_LETTERS == list("NOPQRSTUVWXY")
    ds = synthetic(4)
    tgt = letters_subset(ds, TARGET_LETTERS)
    assert tgt.class_names == TARGET_LETTERS and len(tgt) == 12 * 4
    # Relabelled: N (index 12 of 24) is now 0, and the pixels came along.
    np.testing.assert_array_equal(tgt.images[tgt.labels == 0], ds.images[ds.labels == SIGN_LETTERS.index("N")])
    few = few_shot(tgt, 3, seed=5)
    assert few.class_counts() == dict.fromkeys(TARGET_LETTERS, 3)
    np.testing.assert_array_equal(few.images, few_shot(tgt, 3, seed=5).images)
    assert not np.array_equal(few.labels, few_shot(tgt, 3, seed=6).labels)
    with pytest.raises(ValueError, match="fewer than per_class"):
        few_shot(tgt, 5, seed=0)
    with pytest.raises(ValueError, match="not classes"):
        letters_subset(tgt, ["A"])


def test_pretrain_save_export_and_compare(tmp_path):
    import tensorflow as tf  # noqa: F401 - imported before tensorflow_hub (circular import otherwise)
    import tensorflow_hub as hub

    from signbench.train.transfer import (
        SOURCE_LETTERS,
        TARGET_LETTERS,
        compare,
        letters_subset,
        load_backbone,
        pretrain_backbone,
        save_backbone,
    )

    ds = synthetic(6)
    pre = pretrain_backbone(letters_subset(ds, SOURCE_LETTERS), seed=0, epochs=2, heldout=letters_subset(synthetic(1, seed=9), SOURCE_LETTERS))
    bb, acc = pre.backbone, pre.train_accuracy
    assert 0.0 <= pre.heldout_accuracy <= 1.0
    assert 0.0 <= acc <= 1.0
    paths = save_backbone(bb, tmp_path / "pre")
    assert paths["weights"].name == "backbone.weights.h5" and (paths["savedmodel"] / "saved_model.pb").is_file()
    x = synthetic(1).as_float()
    want = np.asarray(bb(x, training=False))
    # The weights file reloads value for value; the SavedModel serves the same features, callable
    # like a TF2 Hub module and via model.export's "serve" endpoint.
    np.testing.assert_array_equal(np.asarray(load_backbone(paths["weights"])(x)), want)
    module = hub.load(str(paths["savedmodel"]))
    np.testing.assert_allclose(module(x).numpy(), want, atol=1e-6)
    np.testing.assert_allclose(module.serve(x).numpy(), want, atol=1e-6)

    target = letters_subset(ds, TARGET_LETTERS)
    rows = compare(paths["weights"], target, target, seeds=(0, 1), per_class=2, epochs=2, batch_size=8)
    assert [(r["seed"], r["model"]) for r in rows] == [(0, "transfer"), (0, "scratch"), (1, "transfer"), (1, "scratch")]
    for r in rows:
        assert 0 <= r["val_accuracy"] <= 1 and r["gap"] == pytest.approx(r["train_accuracy"] - r["val_accuracy"])
    t, s = rows[0], rows[1]
    assert t["params"] == s["params"] and t["trainable_params"] < s["trainable_params"]


def test_model_selection_table(tmp_path):
    from signbench.studies.model_selection import write

    rows = [
        {"model": "a", "input": "28x28x1", "params": 1234567, "trainable_params": 10, "train_accuracy": 1.0,
         "val_accuracy": 0.5, "latency_ms_p50": 1.5, "note": "n", "seed": 0, "per_class": 5, "val_size": 9},
        {"model": "b", "input": "32x32x3", "params": 7, "trainable_params": 7, "train_accuracy": 0.9,
         "val_accuracy": 0.8, "latency_ms_p50": 2.5, "note": "m", "seed": 0, "per_class": 5, "val_size": 9},
    ]
    csv_path, md_path = write(rows, tmp_path)
    import csv

    with csv_path.open() as f:
        back = list(csv.DictReader(f))
    assert [r["model"] for r in back] == ["a", "b"] and back[0]["params"] == "1234567"
    md = md_path.read_text()
    assert "| a | 28x28x1 | 1,234,567 | 10 | 1.0 | 0.5 | 1.5 | n |" in md
    assert "5 samples per class" in md


def test_cli_needs_a_pretrained_backbone(tmp_path, capsys):
    from signbench.cli import main

    assert main(["transfer", "compare", "--work", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "backbone.weights.h5 not found" in err and "transfer pretrain" in err


@pytest.mark.slow
def test_model_selection_rows_on_synthetic_data(tmp_path):
    """The table producer end to end on tiny synthetic data (InceptionV3 left out: its builder is
    covered above; the committed command includes it). Slow: three MobileNetV2 builds, fits and 90
    timed calls (about 1 minute on an idle 2-core machine); passed here, 2026-11-26."""
    from signbench.studies.model_selection import model_selection, write
    from signbench.train.transfer import (
        SOURCE_LETTERS,
        TARGET_LETTERS,
        letters_subset,
        pretrain_backbone,
        save_backbone,
    )

    ds = synthetic(3)
    source = letters_subset(ds, SOURCE_LETTERS)
    bb = pretrain_backbone(source, seed=0, epochs=1).backbone
    weights = save_backbone(bb, tmp_path / "pre")["weights"]
    target = letters_subset(ds, TARGET_LETTERS)
    rows = model_selection(weights, target, target, source=source, work_dir=tmp_path / "work", seed=0,
                           per_class=2, epochs=1, batch_size=8, big_epochs=1, pretrain_epochs=1, inception=False)
    assert [r["model"] for r in rows] == ["course_cnn", "small_backbone_transfer", "mobilenet_v2_alpha0.35"]
    cnn, small, mobile = rows
    assert cnn["params"] == 3_281_798 - (128 * 24 + 24) + (128 * 12 + 12)  # course CNN, 12 classes
    assert small["trainable_params"] == 128 * 128 + 128 + 128 * 12 + 12
    assert mobile["trainable_params"] == 1280 * 128 + 128 + 128 * 12 + 12 and mobile["input"] == "32x32x3"
    assert (tmp_path / "work" / "mobilenet_v2_0.35_source.weights.h5").is_file()
    for r in rows:
        assert 0 <= r["val_accuracy"] <= 1 and r["latency_ms_p50"] > 0 and r["git_commit"] and r["seed"] == 0
    assert "mobilenet_v2_alpha0.35" in write(rows, tmp_path)[1].read_text()


def test_mobilenet_pretraining_leaves_settled_batchnorm_statistics(monkeypatch):
    """Regression: keras.applications MobileNetV2's BN momentum 0.999 left the moving statistics at
    their initial values after a short pretraining, so the frozen base (inference mode) ran on
    statistics its training never saw and the transfer row sat at chance. After
    ``pretrain_mobilenet`` every BN layer has momentum 0.9 and the moving statistics are those of the
    pretraining data for the weights it returns: inference mode reproduces the training-mode (batch
    statistics) forward pass.

    Training is a stand-in here (``fit`` replaced by one that builds the model and moves every weight
    by seeded noise, as training would): tracing MobileNetV2's train step took 43 s of this test's
    58 s (cProfile, stop 29) and training is not what is checked. The real ``fit`` of this path runs
    in ``test_model_selection_rows_on_synthetic_data`` and in ``signbench transfer``'s table."""
    import importlib
    from types import SimpleNamespace

    from signbench.studies.model_selection import pretrain_mobilenet

    fit_module = importlib.import_module("signbench.train.fit")  # the module (the package exports the function)

    def trained_stand_in(build, data, **kwargs):
        model = build()
        rng = np.random.default_rng(0)
        for w in model.trainable_weights:  # weights move, so statistics estimated before "training" go stale
            w.assign(w.numpy() * (1 + 0.2 * rng.standard_normal(w.shape)).astype("float32"))
        return SimpleNamespace(model=model)  # what pretrain_mobilenet reads of fit's RunResult

    monkeypatch.setattr(fit_module, "fit", trained_stand_in)
    monkeypatch.setattr(fit_module, "evaluate", lambda model, data, **kw: (0.0, 0.5))
    r = np.random.default_rng(0)
    x = (r.random((48, 32, 32, 3)) * 0.5 + 0.25).astype("float32")
    y = np.arange(48) % 3
    base, accuracy = pretrain_mobilenet(x, y, 3, epochs=1, seed=0, batch_size=16)
    assert accuracy == 0.5  # pretrain_mobilenet reports evaluate's accuracy on x
    bns = mt.batchnorm_layers(base)
    assert len(bns) == 52 and {b.momentum for b in bns} == {0.9}
    # First BN: its moving mean/variance are the statistics of its input (Conv1's output) over x.
    conv = keras.Model(base.input, base.get_layer("Conv1").output)(x).numpy()
    first = base.get_layer("bn_Conv1")
    np.testing.assert_allclose(first.moving_mean.numpy(), conv.mean(axis=(0, 1, 2)), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(first.moving_variance.numpy(), conv.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-4)
    # Every BN (x fits in one re-estimation batch): inference output == training-mode output.
    infer = base(x, training=False).numpy()
    train = base(x, training=True).numpy()
    np.testing.assert_allclose(infer, train, rtol=1e-3, atol=1e-3 * float(np.abs(train).max()))
    # The momenta are kept after re-estimation, and re-estimating changes only BN moving statistics.
    before = [w.numpy().copy() for w in base.trainable_weights]
    assert mt.reestimate_bn_statistics(base, x, batch_size=16) == 3
    assert {b.momentum for b in bns} == {0.9}
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, base.trainable_weights, strict=True))
