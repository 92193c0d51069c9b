"""Unit tests for the 1-d Kalman filter of the adaptive allocations scaler (ES KalmanFilter1d)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elsercheck.scaler.kalman import DYNAMICS_CHANGE_THRESHOLD, KalmanFilter1d, java_div


def test_empty_filter_has_no_value() -> None:
    f = KalmanFilter1d("f", 100, False)
    assert not f.has_value
    assert math.isnan(f.estimate)
    assert math.isnan(f.variance)
    assert math.isnan(f.lower) and math.isnan(f.upper)


def test_first_measurement_is_taken_as_is() -> None:
    f = KalmanFilter1d("f", 100, False)
    f.add(42.0, 9.0)
    assert f.has_value
    assert f.estimate == 42.0
    assert f.variance == 9.0
    assert f.error == 3.0
    assert (f.lower, f.upper) == (39.0, 45.0)


def test_equal_values_keep_estimate_and_shrink_error() -> None:
    f = KalmanFilter1d("f", 100, False)
    f.add(42.0, 9.0)
    previous = f.error
    for _ in range(20):
        f.add(42.0, 9.0)
        assert f.estimate == 42.0
        assert f.error < previous
        previous = f.error


def test_first_measurement_counts_as_change_for_the_next_step() -> None:
    # Step 2 uses Q = z² because step 1 (initialisation) counts as a dynamics change.
    f = KalmanFilter1d("f", 100, False)
    f.add(10.0, 1.0)
    f.add(12.0, 1.0)
    gain = (1.0 + 144.0) / (1.0 + 144.0 + 1.0)
    assert f.estimate == pytest.approx(10.0 + gain * 2.0, rel=1e-12)
    assert f.variance == pytest.approx((1 - gain) * 145.0, rel=1e-12)


def test_steady_step_uses_process_noise_r_over_smoothing_factor() -> None:
    f = KalmanFilter1d("f", 100, False)
    f.add(10.0, 1.0)
    f.add(10.0, 1.0)  # Q = 100 (change last time); V = (1 - 101/102) * 101
    v = (1 - 101.0 / 102.0) * 101.0
    assert f.variance == pytest.approx(v, rel=1e-12)
    f.add(11.0, 2.0)  # no change now or last time: Q = 2 / 100
    gain = (v + 0.02) / (v + 0.02 + 2.0)
    assert f.estimate == pytest.approx(10.0 + gain * 1.0, rel=1e-12)
    assert f.variance == pytest.approx((1 - gain) * (v + 0.02), rel=1e-12)


def _settled(auto_detect: bool) -> KalmanFilter1d:
    """A filter at x = 0, V = 0.5 whose last step was not a change."""
    f = KalmanFilter1d("f", 100, auto_detect)
    f.add(0.0, 1.0)
    f.add(0.0, 1.0)  # Q = 0² = 0, gain 0.5 -> V = 0.5, no change detected
    assert (f.estimate, f.variance) == (0.0, 0.5)
    return f


def test_change_threshold_is_strictly_greater_than_100() -> None:
    # (z - x)² / (R + V) with R + V = 1: z = 10 gives exactly 100 -> no change, Q = R / 100.
    at_threshold = _settled(True)
    at_threshold.add(10.0, 0.5)
    gain = (0.5 + 0.005) / (0.5 + 0.005 + 0.5)
    assert at_threshold.estimate == pytest.approx(10.0 * gain, rel=1e-12)
    assert DYNAMICS_CHANGE_THRESHOLD == 100.0

    # Just above: a change is detected and Q = z².
    above = _settled(True)
    above.add(10.01, 0.5)
    q = 10.01**2
    gain = (0.5 + q) / (0.5 + q + 0.5)
    assert above.estimate == pytest.approx(10.01 * gain, rel=1e-12)


def test_change_keeps_extra_noise_on_the_following_step() -> None:
    f = _settled(True)
    f.add(100.0, 0.5)  # detected change
    x, v = f.estimate, f.variance
    f.add(100.0, 0.5)  # not a change itself, but one was detected last time: Q = 100²
    gain = (v + 1e4) / (v + 1e4 + 0.5)
    assert f.estimate == pytest.approx(x + gain * (100.0 - x), rel=1e-12)
    f_v = f.variance
    f.add(100.0, 0.5)  # now back to Q = R / 100
    gain = (f_v + 0.005) / (f_v + 0.005 + 0.5)
    assert f.variance == pytest.approx((1 - gain) * (f_v + 0.005), rel=1e-12)


def test_increasing_values_are_followed_with_lag() -> None:
    f = KalmanFilter1d("f", 100, False)
    f.add(10.0, 1.0)
    previous = f.estimate
    for value in range(11, 20):
        f.add(float(value), 1.0)
        assert previous < f.estimate < value
        previous = f.estimate
    for _ in range(20):
        f.add(20.0, 1.0)
    assert 19.0 < f.estimate < 20.0


def test_big_jump_without_auto_detection_lands_halfway() -> None:
    f = KalmanFilter1d("f", 100, False)
    f.add(0.0, 100.0)
    f.add(0.0, 1.0)
    f.add(100.0, 1.0)
    assert 49.0 < f.estimate < 51.0


def test_big_jump_with_auto_detection_follows_at_once() -> None:
    f = KalmanFilter1d("f", 100, True)
    f.add(0.0, 100.0)
    f.add(0.0, 1.0)
    f.add(100.0, 1.0)
    assert 99.0 < f.estimate < 100.0


def test_big_jump_with_external_change_follows_at_once() -> None:
    f = KalmanFilter1d("f", 100, False)
    f.add(0.0, 100.0)
    f.add(0.0, 1.0)
    f.add(100.0, 1.0, dynamics_changed=True)
    assert 99.0 < f.estimate < 100.0


def test_smoothing_factor_sets_responsiveness() -> None:
    quick = KalmanFilter1d("quick", 1e-3, False)
    slow = KalmanFilter1d("slow", 1e3, False)
    for f in (quick, slow):
        for _ in range(100):
            f.add(42.0, 1.0)
        f.add(77.0, 1.0)
    assert 75.0 < quick.estimate < 77.0
    assert 42.0 < slow.estimate < 44.0


def test_java_division_semantics() -> None:
    assert math.isnan(java_div(0.0, 0.0))
    assert java_div(1.0, 0.0) == math.inf
    assert java_div(-1.0, 0.0) == -math.inf
    assert java_div(3.0, 2.0) == 1.5


def test_degenerate_zero_variance_resets_like_java() -> None:
    # 0 / 0 gain makes the Java filter's state nan, i.e. "no value"; the next add re-initialises.
    f = KalmanFilter1d("f", 100, False)
    f.add(0.0, 0.0)
    f.add(0.0, 0.0)
    assert not f.has_value
    f.add(5.0, 1.0)
    assert f.has_value and f.estimate == 5.0


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=1e6),
            st.floats(min_value=1e-6, max_value=1e6),
            st.booleans(),
        ),
        min_size=1,
        max_size=50,
    ),
    st.booleans(),
)
def test_estimate_stays_within_measured_range(
    measurements: list[tuple[float, float, bool]], auto_detect: bool
) -> None:
    f = KalmanFilter1d("f", 100, auto_detect)
    for value, variance, changed in measurements:
        f.add(value, variance, changed)
    values = [m[0] for m in measurements]
    tolerance = 1e-9 * max(1.0, max(values))
    assert min(values) - tolerance <= f.estimate <= max(values) + tolerance
    assert f.variance >= 0.0
    assert f.lower <= f.estimate <= f.upper
