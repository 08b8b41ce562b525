"""Every model builder passes the shared contract checklist (signbench.testing.contracts), and is built as the course defines it."""

import keras
import keras_tuner as kt
import pytest

from signbench.models import MODEL_NAMES, build, hypermodel
from signbench.testing.contracts import check_model_contract, expected_cnn_params, expected_dense_params

pytestmark = pytest.mark.untraced  # tiny models, few steps: tracing would cost more than the steps (signbench.testing)

COURSE_PARAMS = {"baseline": 236_952, "regularized": 236_952, "cnn": 3_281_798}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_course_models_meet_contract_with_course_param_counts(name):
    check_model_contract(build(name), (28, 28, 1), 24, COURSE_PARAMS[name])


def test_hand_formulas_match_course_counts():
    # guards the formulas used below for the other datasets' shapes
    assert expected_dense_params((28, 28, 1), 24) == COURSE_PARAMS["baseline"]
    assert expected_cnn_params((28, 28, 1), 24) == COURSE_PARAMS["cnn"]


@pytest.mark.parametrize(
    "name,shape,classes",
    [  # binary RGB (Malaria/Tumor-like) for every builder, multiclass RGB (Tom&Jerry-like) for the CNN
        ("baseline", (12, 12, 3), 2),
        ("regularized", (12, 12, 3), 2),
        ("cnn", (12, 12, 3), 2),
        ("cnn", (10, 10, 3), 4),
    ],
    ids=["baseline-binary-rgb", "regularized-binary-rgb", "cnn-binary-rgb", "cnn-multiclass-rgb"],
)
def test_other_dataset_variants_meet_contract(name, shape, classes):
    model = build(name, classes, shape)
    expected = expected_cnn_params(shape, classes) if name == "cnn" else expected_dense_params(shape, classes)
    check_model_contract(model, shape, classes, expected)
    want_loss = "binary_crossentropy" if classes == 2 else "sparse_categorical_crossentropy"
    assert model.loss == want_loss


def test_hypermodel_meets_contract_for_chosen_hyperparameters():
    hp = kt.HyperParameters()
    hp.Fixed("units", 64)
    hp.Fixed("learning_rate", 1e-3)
    model = hypermodel(hp)
    conv = 3 * 3 * 1 * 75 + 75
    flat = 13 * 13 * 75
    expected = conv + flat * 64 + 64 + 64 * 128 + 128 + 128 * 24 + 24
    check_model_contract(model, (28, 28, 1), 24, expected)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)


def test_hypermodel_search_space_is_the_courses():
    hp = kt.HyperParameters()
    hypermodel(hp)
    units, lr = hp.space[0], hp.space[1]
    assert (units.name, units.min_value, units.max_value, units.step) == ("units", 32, 512, 32)
    assert (lr.name, sorted(lr.values)) == ("learning_rate", [1e-4, 1e-3, 1e-2])


def test_contract_catches_a_wrong_param_count():
    with pytest.raises(AssertionError, match="parameters"):
        check_model_contract(build("baseline"), (28, 28, 1), 24, COURSE_PARAMS["baseline"] + 1)


def test_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        build("resnet")


@pytest.mark.parametrize("name", ["regularized", "cnn", "hypermodel"])
def test_regularized_layers_are_the_courses(name):
    """The course puts L2(1e-5) on every hidden Dense layer and a Dropout(0.2) after each, in the
    regularized model, the CNN and the tuner's hypermodel; the baseline has neither."""
    import keras_tuner as kt

    model = hypermodel(kt.HyperParameters()) if name == "hypermodel" else build(name)
    hidden = [la for la in model.layers if isinstance(la, keras.layers.Dense) and la.name != "output"]
    assert len(hidden) == 2
    for la in hidden:
        assert isinstance(la.kernel_regularizer, keras.regularizers.L2)
        assert la.kernel_regularizer.l2 == pytest.approx(1e-5)
        following = model.layers[model.layers.index(la) + 1]
        assert isinstance(following, keras.layers.Dropout) and following.rate == pytest.approx(0.2)
    base = build("baseline")
    assert not any(isinstance(la, keras.layers.Dropout) for la in base.layers)
    assert all(getattr(la, "kernel_regularizer", None) is None for la in base.layers)
