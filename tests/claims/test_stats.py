"""The statistics behind the verdicts: known inputs give known intervals and verdicts; the verdict does
not depend on the order of the seeds; swapping the arms turns holds into fails."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signbench.claims.stats import effect_verdict, event_verdict, t_interval


def test_t_interval_by_hand():
    mean, low, high = t_interval([0.02, 0.04, 0.06])
    # mean 0.04, sd 0.02, t(0.975, 2) = 4.302653, half width = 4.302653 * 0.02 / sqrt(3)
    half = 4.302652729911275 * 0.02 / math.sqrt(3)
    assert mean == pytest.approx(0.04) and low == pytest.approx(0.04 - half) and high == pytest.approx(0.04 + half)
    with pytest.raises(ValueError):
        t_interval([0.1])


@pytest.mark.parametrize("effects,kind,m,want", [
    ([0.05, 0.06, 0.07, 0.05, 0.06], "superiority", 0.01, "holds"),
    ([-0.05, -0.06, -0.07, -0.05, -0.06], "superiority", 0.01, "fails"),
    ([0.03, -0.02, 0.01, 0.0, 0.02], "superiority", 0.01, "inconclusive"),
    ([0.011, 0.012, 0.013], "superiority", 0.01, "inconclusive"),  # beyond zero but not beyond the smallest effect
    ([0.2, 0.18, 0.22], "presence", 0.01, "holds"),
    ([0.0, -0.002, 0.001, 0.001], "non-inferiority", 0.01, "holds"),
    ([-0.03, -0.04, -0.035], "non-inferiority", 0.01, "fails"),
    ([-0.02, 0.01, -0.005], "non-inferiority", 0.01, "inconclusive"),
])
def test_known_verdicts(effects, kind, m, want):
    assert effect_verdict(effects, kind, m).verdict == want


def test_event_verdicts_and_exact_interval():
    v = event_verdict([True, True, True])
    assert v.verdict == "holds" and v.effect_mean == 1.0
    assert v.ci_low == pytest.approx(0.025 ** (1 / 3)) and v.ci_high == 1.0  # Clopper-Pearson, all fired
    assert event_verdict([False] * 4).verdict == "fails"
    mixed = event_verdict([True, False, True, True, False])
    assert mixed.verdict == "inconclusive" and mixed.ci_low < 0.6 < mixed.ci_high


@given(st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=2, max_size=12), st.randoms())
def test_order_of_seeds_does_not_matter(values, rnd):
    shuffled = list(values)
    rnd.shuffle(shuffled)
    a, b = effect_verdict(values, "superiority", 0.01), effect_verdict(shuffled, "superiority", 0.01)
    assert a.verdict == b.verdict
    assert np.allclose([a.effect_mean, a.ci_low, a.ci_high], [b.effect_mean, b.ci_low, b.ci_high], equal_nan=True)


@given(st.lists(st.floats(0.02, 0.3), min_size=3, max_size=10), st.lists(st.floats(-0.005, 0.005), min_size=3,
                                                                          max_size=10))
def test_swapping_the_arms_turns_holds_into_fails(gains, noise):
    n = min(len(gains), len(noise))
    a = np.array(gains[:n]) + 0.5
    b = a - np.array(gains[:n]) - np.array(noise[:n])  # a beats b by gain (+ noise) in every seed
    forward = effect_verdict(list(a - b), "superiority", 0.01)
    backward = effect_verdict(list(b - a), "superiority", 0.01)
    if forward.verdict == "holds":
        assert backward.verdict == "fails"
    assert forward.effect_mean == pytest.approx(-backward.effect_mean)
