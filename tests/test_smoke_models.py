import pytest

from signbench.models import build


@pytest.mark.parametrize("name,count", [("baseline", 236_952), ("regularized", 236_952), ("cnn", 3_281_798)])
def test_course_param_counts(name, count):
    assert build(name).count_params() == count
